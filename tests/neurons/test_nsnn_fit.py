"""neuromod.neurons.nsnn.fit: teacher forcing, the likelihood's gradient, recovery of
known weights, the sampled rates, and input checks."""
import numpy as np
import pytest
import torch

from neuromod.backends.noise import family, variates
from neuromod.backends.torch_backend import NeuronLayer
from neuromod.errors import ParameterError
from neuromod.neurons.nsnn import noisy_lif
from neuromod.neurons.nsnn.fit import (fit_psth, fit_spikes, log_likelihood, simulate,
                                       teacher_forced_membrane)

BETA, THETA, SIGMA = 0.8, 1.0, 0.3


def _data(T=3000, D=4, N=3, seed=0, scale=0.15, bias=0.1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, D))
    W = rng.normal(0.0, scale, size=(N, D))
    b = np.full(N, bias)
    return x, W, b


def test_teacher_forced_membrane_is_the_models_membrane():
    # the package's layer, run on known variates, against the membrane rebuilt from its spikes
    x, W, b = _data(T=2000)
    B, N, T = 3, W.shape[0], x.shape[0]
    layer = NeuronLayer(noisy_lif("gaussian", "zero", beta=BETA, theta=THETA, sigma=SIGMA), N,
                        dt=1e-3, drive="x", dtype=torch.float64)
    drive = torch.from_numpy(x @ W.T + b).T.unsqueeze(0).expand(B, -1, -1).contiguous()
    R = variates((T, B, N), torch.Generator().manual_seed(3))
    with torch.no_grad():
        s, traces, _ = layer(drive, record=("u",), variates=R)
    s = s.permute(0, 2, 1).numpy()                       # (B, T, N)
    u_after = traces["u"].permute(0, 2, 1).numpy()       # state after each step (post reset)
    assert 0.01 < s.mean() < 0.3
    u = teacher_forced_membrane(x, s, W, b, beta=BETA)
    np.testing.assert_allclose(u * (1 - s), u_after, rtol=0, atol=1e-10)
    p = family("gaussian").cdf((u - THETA) / SIGMA)
    fired = R.permute(1, 0, 2).numpy() < p
    assert np.array_equal(fired, s.astype(bool))


def test_gradient_matches_finite_differences():
    x, W, b = _data(T=1500, N=2)
    s = simulate(x, W, b, beta=BETA, n_trials=2, seed=1)
    for noise in ("gaussian", "logistic"):
        W0, b0 = W + 0.05, b - 0.02
        _, (gW, gb) = log_likelihood(x, s, W0, b0, BETA, THETA, SIGMA, noise, grad=True)
        h = 1e-6
        for n, d in [(0, 0), (1, 3)]:
            Wp, Wm = W0.copy(), W0.copy()
            Wp[n, d] += h
            Wm[n, d] -= h
            fd = (log_likelihood(x, s, Wp, b0, BETA, THETA, SIGMA, noise)
                  - log_likelihood(x, s, Wm, b0, BETA, THETA, SIGMA, noise)) / (2 * h)
            assert fd == pytest.approx(gW[n, d], rel=1e-5, abs=1e-6)
        bp, bm = b0.copy(), b0.copy()
        bp[1] += h
        bm[1] -= h
        fd = (log_likelihood(x, s, W0, bp, BETA, THETA, SIGMA, noise)
              - log_likelihood(x, s, W0, bm, BETA, THETA, SIGMA, noise)) / (2 * h)
        assert fd == pytest.approx(gb[1], rel=1e-5, abs=1e-6)


def test_the_likelihood_is_the_log_of_the_firing_probability():
    x, W, b = _data(T=500, N=2)
    s = simulate(x, W, b, beta=BETA, n_trials=1, seed=2)
    u = teacher_forced_membrane(x, s, W, b, beta=BETA)
    p = family("gaussian").cdf((u - THETA) / SIGMA)
    direct = float(np.sum(s * np.log(p) + (1 - s) * np.log1p(-p)))
    assert log_likelihood(x, s, W, b, BETA, THETA, SIGMA) == pytest.approx(direct, rel=1e-10)


@pytest.mark.parametrize("noise", ["gaussian", "logistic"])
def test_recovery_of_known_weights(noise):
    # 40,000 steps of 5 units: the maximum-likelihood weights correlate > 0.95 with the truth
    x, W, b = _data(T=40000, D=6, N=5, seed=4)
    s = simulate(x, W, b, beta=BETA, noise=noise, n_trials=1, seed=5)
    fit = fit_spikes(x, s, beta=BETA, theta=THETA, sigma=SIGMA, noise=noise)
    assert fit.converged
    assert np.corrcoef(fit.weights.ravel(), W.ravel())[0, 1] > 0.95
    np.testing.assert_allclose(fit.bias, b, atol=0.03)
    # the true weights are no more likely than the fitted ones (a global maximum)
    assert fit.log_likelihood(x, s) >= log_likelihood(x, s, W, b, BETA, THETA, SIGMA, noise)


def test_sampled_rate_matches_the_data():
    x, W, b = _data(T=20000, D=4, N=4, seed=6)
    train = simulate(x, W, b, beta=BETA, n_trials=1, seed=7)
    fit = fit_spikes(x, train, beta=BETA)
    x_test = np.random.default_rng(8).normal(size=(5000, 4))
    data = simulate(x_test, W, b, beta=BETA, n_trials=10, seed=9)
    model = fit.sample(x_test, n_trials=10, seed=10)
    assert np.array_equal(model, fit.sample(x_test, n_trials=10, seed=10))   # seeded
    # per unit: rates within 4 standard errors (binomial, from both samples)
    n = data.shape[0] * data.shape[1]
    pd, pm = data.mean(axis=(0, 1)), model.mean(axis=(0, 1))
    se = np.sqrt(pd * (1 - pd) / n + pm * (1 - pm) / n)
    assert np.all(np.abs(pd - pm) <= 4 * se), (pd, pm)


def test_the_deterministic_fit_is_deterministic():
    x, W, b = _data(T=3000, N=2)
    y = simulate(x, W, b, beta=BETA, n_trials=4, seed=11)
    det = fit_psth(x, y, beta=BETA, n_iter=30)
    assert det.deterministic and det.sigma is None
    assert det.history[-1] < det.history[0]
    s = det.sample(x, n_trials=3)
    assert (s == s[0]).all() and s.any()
    with pytest.raises(ParameterError):
        det.log_likelihood(x, y)


def test_bad_inputs_raise_parameter_errors():
    x, W, b = _data(T=200, N=2)
    s = simulate(x, W, b, beta=BETA, n_trials=1, seed=0)
    s[0, 0, :] = 1
    s[0, 1, :] = 0                                   # every unit fires at least once
    bad = [dict(sigma=0.0), dict(sigma=-1), dict(beta=1.5), dict(beta=-0.1),
           dict(noise="uniform"), dict(noise="cauchy"), dict(l2=-1.0)]
    for kw in bad:
        with pytest.raises(ParameterError):
            fit_spikes(x, s, **kw)
    with pytest.raises(ParameterError, match="steps"):
        fit_spikes(x[:-1], s)
    with pytest.raises(ParameterError, match="binary"):
        fit_spikes(x, s * 2)
    with pytest.raises(ParameterError, match="never fires"):
        fit_spikes(x, np.zeros((200, 2)))
    with pytest.raises(ParameterError):
        fit_spikes(np.zeros((200, 2, 2)), s)
    with pytest.raises(ParameterError, match="weights"):
        teacher_forced_membrane(x, s, W[:, :2])
    with pytest.raises(ParameterError):
        simulate(x, W, b, n_trials=0)
    for e in bad[:4]:
        with pytest.raises(ParameterError):
            log_likelihood(x, s, W, b, **e)
