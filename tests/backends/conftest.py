"""Shared settings of the backend tests: one Torch thread (the test machine has two
cores shared with other jobs; more threads only add contention), serial fused kernels."""
import os

import pytest
import torch

torch.set_num_threads(1)
# fused kernels: plain loops compile in half the time; test_fused.py also checks the
# parallel build (the default) against them
os.environ.setdefault("NEUROMOD_FUSED_PARALLEL", "0")

BACKENDS = ("torch", "brian2")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param
