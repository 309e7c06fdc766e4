"""The LN-Poisson model: gradients (both filter paths), recovery of a known LN model's
filter and nonlinearity, the STA start, cross-validated ridge, Poisson sampling at the
model bin, saving."""
import numpy as np
import pytest
from scipy.optimize import approx_fprime

import neuromod
from neuromod.errors import ParameterError
from neuromod.retina import ln as ln_module
from neuromod.retina.base import counts_to_spikes
from neuromod.retina.bases import linear_raised_cosine
from neuromod.retina.ln import LNPoisson, _nll, _Stimulus
from neuromod.retina.recording import Recording

L_TRUE, D = 5, 6


def true_filter():
    temporal = np.array([0.3, 1.0, 0.4, -0.4, -0.2])
    spatial = np.array([1.0, 0.6, -0.2, -0.5, 0.0, 0.3])
    return np.outer(temporal, spatial) / np.linalg.norm(np.outer(temporal, spatial))


def ln_recording(frames=4000, test_frames=200, trials=5, gain=0.4, offset=-0.5, scale=2.0,
                 seed=0, bin_size=0.001):
    """White-noise frames (10 ms) and Poisson spikes at ``bin_size`` from
    ``gain * softplus(scale * k.s + offset)`` spikes per frame."""
    rng = np.random.default_rng(seed)
    k = true_filter()
    K = int(round(0.01 / bin_size))

    def counts(S, R):
        x = np.zeros(len(S))
        for j in range(L_TRUE):
            x[j:] += S[:len(S) - j] @ k[j]
        r = gain * np.logaddexp(0, scale * x + offset)
        return rng.poisson(np.repeat(r / K, K)[None, :, None], (R, len(S) * K, 1))
    Str, Ste = rng.normal(size=(frames, D)), rng.normal(size=(test_frames, D))
    return Recording(0.01, Str.astype(np.float32), Ste.astype(np.float32),
                     counts_to_spikes(counts(Str, 1), bin_size, seed=1),
                     counts_to_spikes(counts(Ste, trials), bin_size, seed=2), 1, trials,
                     name="ln-truth")


@pytest.fixture(scope="module")
def fitted():
    rec = ln_recording()
    return rec, LNPoisson(window=0.1, n_basis=None).fit(rec)


@pytest.mark.parametrize("nonlinearity", ["softplus", "exp"])
@pytest.mark.parametrize("matrix", [True, False])               # as a matrix, lag by lag
def test_objective_gradient(nonlinearity, matrix):
    rng = np.random.default_rng(1)
    B = linear_raised_cosine(3, 5)
    S = _Stimulus(rng.normal(size=(300, 3)), B, matrix=matrix)
    assert (S.X is None) == (not matrix)
    n = rng.poisson(0.5, (300, 2)).astype(float)
    w = rng.random(300)
    W = rng.normal(size=(9, 2)) * 0.3
    b, lg = np.array([-0.2, 0.1]), np.array([0.1, -0.3])

    def f(theta):
        val, _, _, _ = _nll(S.apply(theta[:18].reshape(9, 2)), n, w, theta[18:20],
                            theta[20:], nonlinearity)
        return float(val.sum())
    _, gz, gb, glg = _nll(S.apply(W), n, w, b, lg, nonlinearity)
    grad = np.r_[S.adjoint(gz).ravel(), gb, glg]
    np.testing.assert_allclose(grad, approx_fprime(np.r_[W.ravel(), b, lg], f, 1e-7),
                               atol=1e-6)
    # both paths give the filter k = B w applied lag by lag
    k = np.einsum("jb,bdu->jdu", B, W.reshape(3, 3, 2))
    direct = np.zeros((300, 2))
    for j in range(5):
        direct[j:] += S.S[:300 - j] @ k[j]
    np.testing.assert_allclose(S.apply(W), direct, atol=1e-12)


def test_the_matrix_path_is_chosen_by_size(monkeypatch):
    S = np.zeros((100, 4))
    assert _Stimulus(S, np.eye(3)).X is not None
    monkeypatch.setattr(ln_module, "LAGGED_BYTES", 0)
    assert _Stimulus(S, np.eye(3)).X is None


def test_recovers_the_filter_and_the_nonlinearity(fitted):
    rec, m = fitted
    k = m.stimulus_filter()[0]
    assert k.shape == (10, D)
    truth = np.zeros_like(k)
    truth[:L_TRUE] = true_filter()
    assert np.corrcoef(k.ravel(), truth.ravel())[0, 1] > 0.97
    assert np.abs(k[L_TRUE:]).max() < 0.15 * np.abs(k).max()         # nothing past the filter
    # the fitted rate against the true rate on the test frames
    S = rec.test_stimulus.astype(float)
    x = np.zeros(len(S))
    for j in range(L_TRUE):
        x[j:] += S[:len(S) - j] @ true_filter()[j]
    r_true = 0.4 * np.logaddexp(0, 2.0 * x - 0.5)
    r_fit = m.frame_rates(rec.test_stimulus)[:, 0]
    assert np.corrcoef(r_true, r_fit)[0, 1] > 0.97
    assert abs(r_fit.mean() / r_true.mean() - 1) < 0.1
    assert m.score(rec) > 0.2
    assert m.fit_info_[0]["converged"]


def test_sta_start_points_along_the_filter():
    rec = ln_recording(frames=3000)
    m = LNPoisson(window=0.05, n_basis=None)
    m.bin_size, m.frame_dt = 0.001, 0.01
    m.stim_mean, m.stim_std = 0.0, 1.0
    S = _Stimulus(m.standardised(rec.train_stimulus), m.basis())
    n = rec.train_counts(0.001).reshape(3000, 10, 1).sum(1).astype(float)
    start = m._start(S, n)
    assert start.shape == (30 + 2,)
    assert np.corrcoef(start[:30], true_filter().ravel())[0, 1] > 0.9


def test_the_basis_filter_recovers_the_time_course():
    rec = ln_recording()
    # 8 raised cosines over 10 lags (1.25 lags apart) follow the sharp 5-lag filter;
    # stretched over 15 lags (1.9 apart) they cannot, and the fit is the worse for it
    m = LNPoisson(window=0.1).fit(rec)
    coarse = LNPoisson(window=0.15).fit(rec)
    assert m.coef_.shape == (1, 8, D) and m.filter_.shape == (1, 10, D)
    np.testing.assert_allclose(m.filter_[0], m.basis() @ m.coef_[0], atol=1e-12)
    truth = np.zeros((10, D))
    truth[:L_TRUE] = true_filter()
    assert np.corrcoef(m.filter_[0].ravel(), truth.ravel())[0, 1] > 0.95
    assert m.score(rec) > 0.7 > coarse.score(rec)


def test_cross_validation_prefers_more_ridge_with_less_data():
    grid = (1e-3, 1e-1, 10.0)
    short = LNPoisson(window=0.3, n_basis=None, alphas=grid).fit(ln_recording(frames=600))
    long_ = LNPoisson(window=0.3, n_basis=None, alphas=grid).fit(ln_recording(frames=6000))
    assert short.alpha_[0] >= long_.alpha_[0]
    table = short.cv_[0]
    assert table["alphas"] == [10.0, 0.1, 0.001] and table["alpha"] == short.alpha_[0]


def test_intensity_and_poisson_samples(fitted):
    rec, m = fitted
    lam = m.intensity(rec.test_stimulus)
    assert lam.shape == (1, 2000, 1)
    # the rate is held over each frame's 10 bins
    assert np.all(lam[0].reshape(200, 10)[:, :1] == lam[0].reshape(200, 10))
    np.testing.assert_allclose(lam[0].reshape(200, 10).sum(1),
                               m.frame_rates(rec.test_stimulus)[:, 0])
    y = m.sample(rec.test_stimulus, 400, seed=2)
    assert y.shape == (400, 2000, 1)
    frames = y.reshape(400, 200, 10).sum(2).mean(0)
    np.testing.assert_allclose(frames, lam[0].reshape(200, 10).sum(1),
                               atol=5 * np.sqrt(lam.max() * 10 / 400))
    assert m.intensity(rec.test_stimulus, rec.test_counts(0.001)).shape == (5, 2000, 1)
    with pytest.raises(ParameterError, match="frame_dt"):
        m.intensity(rec.test_stimulus, frame_dt=0.02)


def test_exp_nonlinearity_fits():
    rec = ln_recording(frames=3000)
    m = LNPoisson(window=0.05, n_basis=None, nonlinearity="exp", alpha=1e-2).fit(rec)
    assert m.gain_[0] == 1.0 and m.score(rec) > 0.1
    assert np.corrcoef(m.stimulus_filter()[0].ravel(), true_filter().ravel())[0, 1] > 0.9


def test_options_are_checked():
    for bad in (dict(nonlinearity="relu"), dict(window=0), dict(alpha=-1.0), dict(alphas=()),
                dict(n_folds=1), dict(n_basis=0)):
        with pytest.raises(ParameterError):
            LNPoisson(**bad)


def test_save_load_and_filters(fitted, tmp_path):
    rec, m = fitted
    m.save(tmp_path / "ln.npz")
    back = neuromod.load(tmp_path / "ln.npz")
    assert isinstance(back, LNPoisson)
    np.testing.assert_array_equal(back.frame_rates(rec.test_stimulus),
                                  m.frame_rates(rec.test_stimulus))
    f = back.filters()
    assert f["spatial"].shape == (1, D) and f["temporal"].shape == (1, 10)
    sp = f["spatial"][0]
    assert sp[np.argmax(np.abs(sp))] > 0
    assert abs(np.corrcoef(sp, true_filter()[1])[0, 1]) > 0.95
