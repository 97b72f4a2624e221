"""pytest hooks: options, fixtures, header, summary (wiring only)."""
