"""Shared settings of the backend tests: one Torch thread (the test machine has two
cores shared with other jobs; more threads only add contention)."""
import pytest
import torch

torch.set_num_threads(1)

BACKENDS = ("torch", "brian2")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param
