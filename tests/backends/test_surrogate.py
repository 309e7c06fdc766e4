"""Surrogate gradients: Heaviside forward; backward equals the analytic derivative of
the smooth proxy (checked against autograd of the proxy); proxies pass gradcheck and
are proper steps (0 -> 1, derivative integrates to 1)."""
import numpy as np
import pytest
import torch

from neuromod.backends.surrogate import SURROGATES, Surrogate, get_surrogate


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_forward_is_heaviside(name):
    s = get_surrogate(name)
    x = torch.tensor([-1.0, -1e-12, 0.0, 1e-12, 2.0], dtype=torch.float64)
    assert s(x).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert s(x, strict=False).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_backward_equals_derivative_of_proxy(name):
    s = get_surrogate(name, alpha=3.0)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(200, generator=gen, dtype=torch.float64) - 0.5) * 2.0
    x1 = x.clone().requires_grad_(True)
    up = torch.rand(200, generator=gen, dtype=torch.float64)
    (g_spike,) = torch.autograd.grad((s(x1) * up).sum(), x1)
    x2 = x.clone().requires_grad_(True)
    (g_proxy,) = torch.autograd.grad((s.proxy(x2) * up).sum(), x2)
    # same function evaluated two ways in float64: agreement to rounding
    torch.testing.assert_close(g_spike, g_proxy, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_proxy_gradcheck(name):
    s = get_surrogate(name, alpha=2.0)
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(30, generator=gen, dtype=torch.float64) - 0.5) * 3.0
    if name == "triangle":   # kinks at 0 and +-1/alpha: keep finite differences off them
        x = x[(x.abs() > 0.05) & ((x.abs() - 0.5).abs() > 0.05)]
    assert torch.autograd.gradcheck(s.proxy, (x.requires_grad_(True),))


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_proxy_is_a_unit_step(name):
    s = get_surrogate(name, alpha=4.0)
    x = torch.linspace(-200, 200, 400001, dtype=torch.float64)
    d = s.derivative(x)
    area = torch.trapezoid(d, x).item()
    # heavy-tailed proxies (fast_sigmoid, atan) miss ~1/(alpha L) of their mass beyond +-L
    assert area == pytest.approx(1.0, abs=3e-3)
    p = s.proxy(torch.tensor([-200.0, 0.0, 200.0], dtype=torch.float64)).tolist()
    assert p[0] == pytest.approx(0.0, abs=3e-3) and p[1] == pytest.approx(0.5) \
        and p[2] == pytest.approx(1.0, abs=3e-3)


def test_custom_surrogate_plugs_in():
    class Box(Surrogate):
        name = "box"

        def proxy(self, x):
            return torch.clamp(x + 0.5, 0.0, 1.0)

        def derivative(self, x):
            return ((x > -0.5) & (x < 0.5)).to(x.dtype)

    s = get_surrogate(Box())
    x = torch.tensor([-1.0, 0.2], requires_grad=True)
    s(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0]


def test_unknown_surrogate_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown surrogate"):
        get_surrogate("nope")
