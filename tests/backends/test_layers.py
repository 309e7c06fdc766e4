"""Spiking layers and nets (neuromod.backends.layers) against independent loops."""
import math
import os

import numpy as np
import pytest
import scipy.stats as st
import torch

from neuromod.backends import load, save
from neuromod.backends.layers import (LinearReadout, SpikingConv2d, SpikingDense, SpikingNet,
                                      layer_from_config)
from neuromod.backends.noise import FAMILIES, variates
from neuromod.errors import ParameterError
from neuromod.neurons.nsnn import classifier, discrete_lif, noisy_lif


def _numpy_lif(drive, beta, theta, R=None, p_fn=None, reset_zero=True):
    """Reference loop: u <- beta u + drive_t; spike (u > theta, or R_t < p_fn(u));
    reset to 0 (or subtract theta). drive (B, n, T)."""
    B, n, T = drive.shape
    u = np.zeros((B, n))
    out = np.zeros((B, n, T))
    for t in range(T):
        u = beta * u + drive[:, :, t]
        s = (R[t] < p_fn(u)) if R is not None else (u > theta)
        out[:, :, t] = s
        u = np.where(s, 0.0, u) if reset_zero else u - theta * s
    return out


@pytest.mark.parametrize("fused", [True, False])
def test_dense_deterministic_matches_loop(fused):
    torch.manual_seed(0)
    layer = SpikingDense(5, 7, discrete_lif(beta=0.7), surrogate="gaussian", alpha=3.0,
                         dtype=torch.float64)
    layer.neurons.fused = fused
    x = torch.rand(3, 5, 12, dtype=torch.float64) * 2
    s = layer(x).detach().numpy()
    W, b = layer.synapse.weight.detach().numpy(), layer.synapse.bias.detach().numpy()
    drive = np.einsum("ij,bjt->bit", W, x.numpy()) + b[None, :, None]
    ref = _numpy_lif(drive, 0.7, 1.0)
    assert ref.sum() > 10
    np.testing.assert_array_equal(s, ref)


@pytest.mark.parametrize("noise", sorted(FAMILIES))
@pytest.mark.parametrize("fused", [True, False])
def test_dense_bernoulli_matches_loop_with_same_variates(noise, fused):
    torch.manual_seed(1)
    layer = SpikingDense(4, 6, noisy_lif(noise, beta=0.6, sigma=0.4), dtype=torch.float64)
    layer.neurons.fused = fused
    x = torch.rand(2, 4, 20, dtype=torch.float64) * 3
    s = layer(x, generator=torch.Generator().manual_seed(5)).detach().numpy()
    R = variates((20, 2, 6), torch.Generator().manual_seed(5)).numpy()
    W, b = layer.synapse.weight.detach().numpy(), layer.synapse.bias.detach().numpy()
    drive = np.einsum("ij,bjt->bit", W, x.numpy()) + b[None, :, None]
    fam = getattr(st, FAMILIES[noise].scipy_name)(*FAMILIES[noise].scipy_args)
    ref = _numpy_lif(drive, 0.6, 1.0, R=R, p_fn=lambda u: fam.cdf((u - 1.0) / 0.4))
    assert 5 < ref.sum() < ref.size - 5
    np.testing.assert_array_equal(s, ref)


def test_ndl_gradient_of_dense_weights():
    """One step from rest: s = Bernoulli(F((Wx + b - theta)/sigma)); ds/dW_ij =
    f(z_i)/sigma x_j (straight-through on the CDF)."""
    torch.manual_seed(2)
    sigma = 0.3
    layer = SpikingDense(3, 4, noisy_lif(sigma=sigma), dtype=torch.float64)
    x = torch.rand(1, 3, 1, dtype=torch.float64)
    s = layer(x, generator=torch.Generator().manual_seed(0))
    s.sum().backward()
    W, b = layer.synapse.weight.detach().numpy(), layer.synapse.bias.detach().numpy()
    z = (W @ x[0, :, 0].numpy() + b - 1.0) / sigma
    expect = (st.norm.pdf(z) / sigma)[:, None] * x[0, :, 0].numpy()[None, :]
    np.testing.assert_allclose(layer.synapse.weight.grad.numpy(), expect, rtol=1e-12, atol=1e-15)


def test_eval_noise_off_fires_at_the_noise_free_threshold():
    torch.manual_seed(3)
    net = classifier((6,), 4, hidden=9, time_steps=7, eval_noise=False)
    twin = classifier((6,), 4, hidden=9, time_steps=7, neuron="lif")
    twin.load_state_dict({k: v for k, v in net.state_dict().items() if k in twin.state_dict()},
                         strict=False)
    for a, b in zip(net.layers, twin.layers):
        b.synapse.load_state_dict(a.synapse.state_dict())
    x = torch.rand(16, 6) * 3
    net.eval(), twin.eval()
    torch.testing.assert_close(net(x), twin(x), rtol=0, atol=0)
    torch.testing.assert_close(net.predict(x, ensemble=5), twin(x), rtol=0, atol=0)
    net.train()     # training mode stays stochastic
    a = net(x, torch.Generator().manual_seed(0))
    b = net(x, torch.Generator().manual_seed(1))
    assert not torch.equal(a, b)


@pytest.mark.parametrize("noise", ["gaussian", "uniform"])
def test_noise_in_state_firing_probability(noise):
    """A fresh neuron with the noise in its state fires with the probability of the
    sum of two independent noises of std sigma: Phi((u - theta)/(sigma sqrt 2)) for
    Gaussian noise; for uniform noise the sum is triangular on [-2a, 2a], a = sigma sqrt 3."""
    sigma, n = 0.3, 200_000
    layer = SpikingDense(1, n, noisy_lif(noise, sigma=sigma), noise_in_state=True,
                         bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.synapse.weight.copy_(torch.linspace(0.4, 1.6, n, dtype=torch.float64)[:, None])
    s = layer(torch.ones(1, 1, 1, dtype=torch.float64),
              generator=torch.Generator().manual_seed(7))[0, :, 0].detach().numpy()
    u = np.linspace(0.4, 1.6, n)
    if noise == "gaussian":
        p = st.norm.cdf((u - 1.0) / (sigma * math.sqrt(2)))
    else:
        a = sigma * math.sqrt(3)
        p = st.triang.cdf(u - 1.0, 0.5, loc=-2 * a, scale=4 * a)
    bins = np.array_split(np.arange(n), 20)
    z = [(s[i].mean() - p[i].mean()) / math.sqrt(max(p[i].mean() * (1 - p[i].mean()), 1e-12)
                                                  / len(i)) for i in bins]
    assert max(abs(v) for v in z) < 4.0
    # the noise-free form would be far off: Phi((u - theta)/sigma) at u = 0.7 is 0.159, vs 0.240
    if noise == "gaussian":
        i = np.argmin(abs(u - 0.7))
        near = slice(max(i - 3000, 0), i + 3000)
        assert abs(s[near].mean() - 0.2398) < 0.02


def test_noise_in_state_persists_through_the_leak():
    """Zero drive for two steps. Step 1: u1 = eps1, fires with probability
    Phi((u1 - theta)/sigma), overall Phi(-theta/(sigma sqrt 2)). Step 2: u2 = eps2 after
    a reset, else beta eps1 + eps2 -- the first step's noise leaks into the second.
    Oracle by numerical integration over eps1."""
    from scipy.integrate import quad
    sigma, beta, theta, n = 0.3, 0.9, 0.3, 400_000
    layer = SpikingDense(1, n, noisy_lif(sigma=sigma, beta=beta, theta=theta),
                         noise_in_state=True, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.synapse.weight.fill_(0.0)
    s = layer(torch.zeros(1, 1, 2, dtype=torch.float64),
              generator=torch.Generator().manual_seed(3))[0].detach().numpy()
    r2 = sigma * math.sqrt(2)
    p1 = st.norm.sf(theta / r2)
    stay = quad(lambda e: st.norm.pdf(e, scale=sigma) * st.norm.sf((e - theta) / sigma)
                * st.norm.cdf((beta * e - theta) / r2), -np.inf, np.inf)[0]
    p2 = p1 * st.norm.sf(theta / r2) + stay
    for got, p in ((s[:, 0].mean(), p1), (s[:, 1].mean(), p2)):
        assert abs(got - p) < 4 * math.sqrt(p * (1 - p) / n), (got, p)
    # without persistence step 2 would fire like step 1
    assert abs(p2 - p1) > 20 * math.sqrt(p1 * (1 - p1) / n), (p1, p2)


def test_noise_in_state_refuses_deterministic_models():
    with pytest.raises(ParameterError, match="Bernoulli"):
        SpikingDense(2, 2, discrete_lif(), surrogate="gaussian", noise_in_state=True)


@pytest.mark.parametrize("pool", [1, 2])
def test_conv_layer_matches_frame_by_frame_loop(pool):
    torch.manual_seed(4)
    layer = SpikingConv2d((2, 6, 6), 3, 3, pool=pool, model=discrete_lif(beta=0.5),
                          surrogate="gaussian", dtype=torch.float64)
    x = torch.rand(2, 2, 6, 6, 5, dtype=torch.float64) * 2
    s = layer(x).detach()
    drive = torch.stack([torch.nn.functional.conv2d(x[..., t], layer.synapse.weight,
                                                    layer.synapse.bias, padding=1)
                         for t in range(5)], -1).detach().numpy()          # (B, C, H, W, T)
    ref = _numpy_lif(drive.reshape(2, -1, 5), 0.5, 1.0).reshape(drive.shape)
    assert ref.sum() > 5
    if pool > 1:
        r = torch.tensor(ref).permute(0, 4, 1, 2, 3).reshape(10, 3, 6, 6)
        ref = torch.nn.functional.avg_pool2d(r, 2).reshape(2, 5, 3, 3, 3).permute(0, 2, 3, 4, 1)
        ref = ref.numpy()
    np.testing.assert_allclose(s.numpy(), ref, atol=1e-15)


def test_net_readouts_and_per_step_input():
    torch.manual_seed(5)
    l1 = SpikingDense(4, 5, discrete_lif(), surrogate="gaussian", dtype=torch.float64)
    net_rate = SpikingNet([l1], readout="rate", time_steps=6)
    net_count = SpikingNet([l1], readout="count", time_steps=6)
    x = torch.rand(3, 4, dtype=torch.float64) * 3
    spikes = l1(x[..., None].expand(3, 4, 6))
    torch.testing.assert_close(net_rate(x), spikes.mean(-1))
    torch.testing.assert_close(net_count(x), spikes.sum(-1))
    per_step = torch.rand(3, 4, 9, dtype=torch.float64) * 3      # given per step: T = 9
    torch.testing.assert_close(net_count(per_step), l1(per_step).sum(-1))
    ro = LinearReadout(5, 2, dtype=torch.float64)
    net_mem = SpikingNet([l1, ro], readout="membrane", time_steps=6)
    expect = (spikes.transpose(1, 2) @ ro.synapse.weight.T + ro.synapse.bias).mean(1)
    torch.testing.assert_close(net_mem(x), expect)


def test_predict_averages_ensemble_passes():
    torch.manual_seed(6)
    net = classifier((5,), 3, hidden=8, time_steps=4).eval()
    x = torch.rand(4, 5) * 2
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    got = net.predict(x, ensemble=3, generator=g1)
    passes = [net(x, g2) for _ in range(3)]
    torch.testing.assert_close(got, sum(passes) / 3)
    assert net.training is False


def test_config_and_file_round_trip(tmp_path):
    torch.manual_seed(7)
    net = classifier((1, 8, 8), 10, arch="conv", noise="logistic", sigma=0.25, readout="count",
                     ensemble=3)
    cfg = net.config()
    assert SpikingNet.from_config(cfg).config() == cfg
    assert layer_from_config(cfg["layers"][0]).config() == cfg["layers"][0]
    path = os.path.join(tmp_path, "net.npz")
    save(net, path)
    back = load(path)
    assert isinstance(back, SpikingNet) and back.config() == cfg and not back.training
    x = torch.rand(2, 1, 8, 8)
    net.eval()
    torch.testing.assert_close(back(x, torch.Generator().manual_seed(1)),
                               net(x, torch.Generator().manual_seed(1)), rtol=0, atol=0)


def test_net_errors():
    d = SpikingDense(3, 4, discrete_lif(), surrogate="gaussian")
    with pytest.raises(ParameterError, match="LinearReadout"):
        SpikingNet([d], readout="membrane")
    with pytest.raises(ParameterError, match="readout"):
        SpikingNet([d], readout="spikes")
    with pytest.raises(ParameterError, match="chain"):
        SpikingNet([d, SpikingDense(5, 2, discrete_lif(), surrogate="gaussian")])
    with pytest.raises(ParameterError, match="no output"):
        SpikingConv2d((1, 2, 2), 3, 5, padding=0, model=discrete_lif(), surrogate="gaussian")
    with pytest.raises(ValueError, match="input must be"):
        SpikingNet([d])(torch.zeros(2, 5))
    with pytest.raises(ParameterError, match="sigma"):
        classifier((4,), 2, sigma=0)
    with pytest.raises(ParameterError, match="unknown noise family"):
        classifier((4,), 2, noise="cauchy")
    with pytest.raises(ParameterError, match="beta"):
        classifier((4,), 2, beta=1.5)
