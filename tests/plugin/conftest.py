"""pytester runs in-process and forgets modules first imported inside a run; torch registers
operator libraries at import and refuses a second registration, so import them here once."""

from pytest_scaling.models import forward_flops_per_example

forward_flops_per_example(2)
