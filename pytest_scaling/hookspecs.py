"""pytest-scaling's hook specifications; see README."""
