"""TeCoS-LVM: the output likelihood against a direct implementation, its gradient,
the importance-sampled likelihood against the ELBO, fitting, saving."""
import numpy as np
import pytest
import torch

import neuromod
from neuromod.retina.tecos import TeCoS, TeCoSNet


def _direct_loglik(d, Y, beta, theta=1.0, sigma=0.3):
    """The Bernoulli log-likelihood of spikes Y under u <- beta u + d, firing
    probability Phi((u - theta)/sigma), reset to 0 on every recorded spike."""
    B, U, T = d.shape
    u = torch.zeros((B, U), dtype=d.dtype)
    ll = torch.zeros(B, dtype=d.dtype)
    normal = torch.distributions.Normal(0.0, 1.0)
    for k in range(T):
        u = beta * u + d[:, :, k]
        p = normal.cdf((u - theta) / sigma).clamp(1e-7, 1 - 1e-7)
        y = Y[:, k, :]
        ll = ll + (y * torch.log(p) + (1 - y) * torch.log(1 - p)).sum(1)
        u = u * (1 - y)
    return ll


def test_output_likelihood_and_its_gradient_match_a_direct_implementation():
    torch.manual_seed(0)
    net = TeCoSNet(4, 3, 10, n_hidden=5, n_latent=2, beta_out=0.7)
    d = (torch.randn(2, 3, 60, dtype=torch.float64) * 0.4 + 0.3).requires_grad_(True)
    Y = (torch.rand(2, 60, 3) < 0.15).double()
    ll, p, sur = net.output_terms(d, Y)
    d2 = d.detach().clone().requires_grad_(True)
    ref = _direct_loglik(d2, Y, 0.7)
    np.testing.assert_allclose(ll.numpy(), ref.detach().numpy(), rtol=1e-10)
    sur.backward()
    (-ref.sum()).backward()
    np.testing.assert_allclose(d.grad.numpy(), d2.grad.numpy(), rtol=1e-5, atol=1e-9)


def test_importance_estimate_is_above_the_elbo_and_fitting_beats_the_null(toy_recording):
    rec = toy_recording
    m = TeCoS(n_hidden=16, n_latent=4, epochs=6, clip_seconds=1.0, batch_size=8, lr=5e-3)
    m.fit(rec, seed=0)
    assert m.history[-1]["loss"] < m.history[0]["loss"]
    assert m.score(rec) > 0                     # bits per spike over the training rates
    y = rec.test_counts(m.bin_size)[:3]
    ll, elbo = m.importance_log_likelihood(rec.test_stimulus, y, n_samples=8, seed=1)
    assert ll.shape == (3,) and np.all(ll >= elbo - 1e-9)          # Jensen
    s = m.sample(rec.test_stimulus, 4, seed=2)
    assert s.shape == (4,) + y.shape[1:] and set(np.unique(s)) <= {0, 1}
    np.testing.assert_array_equal(s, m.sample(rec.test_stimulus, 4, seed=2))   # seeded
    lam = m.intensity(rec.test_stimulus, y, n_samples=2)
    assert lam.shape == y.shape and lam.min() > 0 and lam.max() < 1


def test_save_and_load_give_the_same_model(toy_recording, tmp_path):
    rec = toy_recording
    m = TeCoS(n_hidden=8, n_latent=3, epochs=1, clip_seconds=1.0).fit(rec, seed=3)
    m.save(tmp_path / "tecos.npz")
    back = neuromod.load(tmp_path / "tecos.npz")
    assert isinstance(back, TeCoS) and back.bin_size == m.bin_size
    np.testing.assert_array_equal(back.sample(rec.test_stimulus, 2, seed=5),
                                  m.sample(rec.test_stimulus, 2, seed=5))


def test_bad_options():
    from neuromod.errors import ParameterError
    with pytest.raises(ParameterError, match="beta_out"):
        TeCoS(beta_out=1.0)
    with pytest.raises(ParameterError, match="n_latent"):
        TeCoS(n_latent=0)


def test_rates_come_with_the_same_spikes_and_average_to_their_rate(toy_recording):
    """sample_with_rates: the spikes of sample for the same seed, and per-bin firing
    probabilities whose mean over trials matches the spikes' (the same expectation);
    on 400 trials the difference per (bin, unit) is within 4 binomial standard errors
    (a few exceedances allowed among the bins)."""
    rec = toy_recording
    m = TeCoS(n_hidden=8, n_latent=3, epochs=1, clip_seconds=1.0).fit(rec, seed=3)
    stim = rec.test_stimulus[:50]
    s, p = m.sample_with_rates(stim, 400, seed=4)
    np.testing.assert_array_equal(s, m.sample(stim, 400, seed=4))
    assert p.shape == s.shape and p.min() > 0 and p.max() < 1
    mean_p, mean_s = p.mean(0), s.mean(0)
    se = np.sqrt(mean_p * (1 - mean_p) / 400)
    z = np.abs(mean_s - mean_p) / se
    assert np.mean(z > 4) < 0.01


def test_hidden_time_constants():
    from neuromod.errors import ParameterError
    from neuromod.retina.tecos import hidden_betas
    b = hidden_betas(5, 0.01, (0.01, 0.16))
    np.testing.assert_allclose(-0.01 / np.log(b), [0.01, 0.02, 0.04, 0.08, 0.16])
    np.testing.assert_array_equal(hidden_betas(4, 0.01), 0.5)
    with pytest.raises(ParameterError, match="hidden_tau"):
        TeCoS(hidden_tau=(0.1, 0.01))
    net = TeCoSNet(4, 3, 10, n_hidden=5, n_latent=2, hidden_tau=(0.01, 0.16))
    np.testing.assert_allclose(net.hidden.p_beta.numpy(), b)
