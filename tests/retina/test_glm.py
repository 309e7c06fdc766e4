"""The GLM: the explicit-design fit against statsmodels (objective and coefficients),
the model's own design against it, gradients, penalties, recovery of a known coupled
GLM, bin-by-bin sampling, instability warnings, memory and saving."""
import tracemalloc
import warnings

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.special import gammaln

import neuromod
from neuromod.errors import ParameterError
from neuromod.retina.base import counts_to_spikes
from neuromod.retina.bases import linear_raised_cosine
from neuromod.retina.glm import (GLM, UnstableGLMWarning, _Linear, _LowRank, _nll,
                                 fit_design, poisson_objective, refractory_bins,
                                 refractory_from_counts)
from neuromod.retina.recording import Recording
from neuromod.spikes import SpikeTrains

sm = pytest.importorskip("statsmodels.api")

#: Small bases shared by the ground truths and the fits.
OPTS = dict(stimulus_window=0.15, n_stimulus_basis=5, history_window=0.05, n_history_basis=6)
#: Coupling signs of the ground truth: SIGN[i, j] is the effect of unit j on unit i.
SIGN = np.array([[0, 1, -1], [-1, 0, 1], [1, -1, 0]])


def truth(U=3, D=4, refractory=-6.0, coupling=0.5, seed=7, **extra):
    """A coupled GLM: separable biphasic stimulus filters, a refractory self-history
    filter, coupling filters of the signs in SIGN, 30 spikes/s at rest."""
    rng = np.random.default_rng(seed)
    temporal = np.array([0.2, 0.9, 0.2, -0.5, -0.15])
    spatial = rng.normal(0, 1, (U, D))
    spatial /= np.linalg.norm(spatial, axis=1, keepdims=True)
    ks = 0.45 * temporal[None, :, None] * spatial[:, None, :]
    hist = np.zeros((U, U, 6))
    for i in range(U):
        hist[i, i] = np.array([refractory, refractory * 0.4, -0.5, 0.3, 0.1, 0.0])
        for j in range(U):
            if i != j:
                hist[i, j] = SIGN[i, j] * coupling * np.array([0.0, 0.8, 1.0, 0.6, 0.2, 0.0])
    return GLM.from_coefficients(np.log(np.full(U, 0.03)), ks, hist, 0.001, 0.01,
                                 **{**OPTS, **extra})


def recording(model, train_s, test_s=2.0, trials=4, seed=0):
    """A Recording simulated from ``model`` on white-noise frames (10 ms)."""
    rng = np.random.default_rng(seed)
    D = model.D
    Str = rng.normal(size=(int(round(train_s / 0.01)), D))
    Ste = rng.normal(size=(int(round(test_s / 0.01)), D))
    ytr = model.sample(Str, 1, seed=seed + 1)
    yte = model.sample(Ste, trials, seed=seed + 2)
    U = ytr.shape[2]
    return Recording(0.01, Str.astype(np.float32), Ste.astype(np.float32),
                     counts_to_spikes(ytr, 0.001, seed=seed + 3),
                     counts_to_spikes(yte, 0.001, seed=seed + 4), U, trials, name="glm-truth")


def _sm_objective(res, y):
    """statsmodels' llf as our objective: mean(lam - y log lam), log y! removed."""
    return -(res.llf + gammaln(y + 1).sum()) / y.size


@pytest.fixture(scope="module")
def recovered():
    tm = truth()
    rec = recording(tm, 150.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnstableGLMWarning)
        m = GLM(alphas=(1e-4, 1e-6), **OPTS).fit(rec)
    return tm, rec, m


# ---------------------------------------------------------------- the oracle
@pytest.mark.parametrize("T,p", [(4000, 6), (20000, 15)])
def test_fit_design_equals_statsmodels(T, p):
    rng = np.random.default_rng(T + p)
    X = rng.normal(size=(T, p))
    X[:, p // 2:] = np.abs(X[:, p // 2:]) * (rng.random((T, p - p // 2)) < 0.2)   # sparse
    beta = rng.normal(0, 0.3, p)
    y = rng.poisson(np.exp(-2.0 + X @ beta))
    f = fit_design(X, y)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson()).fit(tol=1e-13)
    assert f.converged
    assert abs(f.objective - _sm_objective(ref, y)) <= 1e-8 * abs(_sm_objective(ref, y))
    np.testing.assert_allclose(np.r_[f.intercept, f.coef], ref.params, rtol=0, atol=1e-4)
    assert f.objective == pytest.approx(poisson_objective(X, y, f.intercept, f.coef), rel=1e-14)


def test_ridge_equals_statsmodels_with_an_unpenalised_intercept():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(5000, 5))
    y = rng.poisson(np.exp(-1.5 + X @ [0.4, -0.2, 0.1, 0.0, 0.3]))
    alpha = 0.02
    f = fit_design(X, y, alpha=alpha)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson()).fit_regularized(
        alpha=np.r_[0.0, np.full(5, alpha)], L1_wt=0.0)
    ours = poisson_objective(X, y, f.intercept, f.coef, alpha=alpha)
    theirs = poisson_objective(X, y, ref.params[0], ref.params[1:], alpha=alpha)
    assert f.objective == pytest.approx(ours, rel=1e-13)
    assert ours <= theirs + 1e-12 and abs(ours - theirs) <= 1e-8 * abs(theirs)
    np.testing.assert_allclose(np.r_[f.intercept, f.coef], ref.params, atol=1e-4)
    # statsmodels' default would penalise the intercept as well: a different problem
    assert abs(f.coef).sum() > 0 and f.intercept == pytest.approx(np.log(y.mean()) - 0.1, abs=0.3)


def test_the_models_design_and_fit_match_statsmodels():
    tm = truth(U=2, D=2, refractory=-1.5, coupling=0.5)
    rec = recording(tm, 30.0)
    m = GLM(alpha=0.0, tol=1e-10, stability_seconds=0.0, **OPTS).fit(rec)
    y = rec.train_counts(0.001)
    for u in range(2):
        X = m.design(rec.train_stimulus, y, unit=u)
        assert X.shape == (30000, 5 * 2 + 2 * 6)
        ref = sm.GLM(y[:, u], sm.add_constant(X), family=sm.families.Poisson()).fit(tol=1e-13)
        obj = _sm_objective(ref, y[:, u])
        assert abs(m.fit_info_[u]["objective"] - obj) <= 1e-8 * obj
        np.testing.assert_allclose(np.r_[m.intercept_[u], m.coefficients(u)], ref.params,
                                   atol=1e-4)
        # the design is what the model computes: its intensity is f(b + X coef)
        lam = m.intensity(rec.train_stimulus, y)[0, :, u]
        np.testing.assert_allclose(lam, np.exp(m.intercept_[u] + X @ m.coefficients(u)),
                                   rtol=1e-9)


def test_uncoupled_design_has_own_history_only():
    tm = truth(U=2, D=2, refractory=-1.5)
    rec = recording(tm, 10.0)
    m = GLM(alpha=1e-4, coupling=False, stability_seconds=0.0, **OPTS).fit(rec)
    y = rec.train_counts(0.001)
    X = m.design(rec.train_stimulus, y, unit=1)
    assert X.shape[1] == 10 + 6
    f = fit_design(X, y[:, 1], alpha=1e-4, standardize=True)
    np.testing.assert_allclose(np.r_[f.intercept, f.coef],
                               np.r_[m.intercept_[1], m.coefficients(1)], atol=2e-4)
    assert np.all(m.hist_coef_[1, 0] == 0) and np.any(m.hist_coef_[1, 1] != 0)


# ---------------------------------------------------------------- gradients, penalties
@pytest.mark.parametrize("link", ["exp", "softplus"])
@pytest.mark.parametrize("coupled", [True, False])
def test_gradients_of_both_stimulus_forms(link, coupled):
    rng = np.random.default_rng(0)
    S = rng.normal(size=(40, 3))
    Bs = linear_raised_cosine(3, 6)
    H = rng.normal(size=(200, 4)) * 0.3                      # 2 units x 2 history columns
    y = rng.poisson(0.2, (200, 2)).astype(float)
    Z = np.concatenate([np.swapaxes(np.stack([np.convolve(S[:, d], Bs[:, b])[:40]
                                              for d in range(3)]), 0, 1)
                        for b in range(3)], axis=1)          # (F, nb * D) by np.convolve
    mask = None if coupled else np.kron(np.eye(2), np.ones((2, 1)))
    for problem in (_Linear(Z, 5, H, 200, 2, mask), _LowRank(S, Bs, 2, 5, H, 200, 2, mask)):
        theta = rng.normal(size=problem.n) * 0.3
        theta[~problem.free()] = 0.0

        def f(t):
            return float(_nll(problem.eta(t), y, None, link)[0].sum())
        _, G = _nll(problem.eta(theta), y, None, link)
        num = approx_fprime(theta, f, 1e-7)
        num[~problem.free()] = 0.0
        np.testing.assert_allclose(problem.grad(theta, G), num, atol=2e-6)
    # the low-rank form with C = identity columns is the linear form
    lr = _LowRank(S, Bs, 3, 5, None, 200, 1)
    A = rng.normal(size=(3, 3))
    lin = _Linear(Z, 5, None, 200, 1)
    np.testing.assert_allclose(lr.eta(np.r_[0.1, A.ravel(), np.eye(3).ravel()]),
                               lin.eta(np.r_[0.1, A.ravel()]), atol=1e-12)


def test_group_lasso_zeroes_whole_groups_and_meets_its_optimality_conditions():
    rng = np.random.default_rng(3)
    T = 20000
    X = rng.normal(size=(T, 12))
    beta = np.r_[0.4, -0.3, 0.2, np.zeros(3), 0.1, 0.1, 0.0, np.zeros(3)]
    y = rng.poisson(np.exp(-2 + X @ beta))
    groups = np.repeat(np.arange(4), 3)
    alpha = 0.01
    f = fit_design(X, y, alpha=alpha, penalty="group-lasso", groups=groups, tol=1e-10)
    norms = np.linalg.norm(f.coef.reshape(4, 3), axis=1)
    assert norms[0] > 0.3 and norms[1] == 0.0 and norms[3] == 0.0
    theta = np.r_[f.intercept, f.coef]
    problem = _Linear(X, 1, None, T, 1)
    grad = problem.grad(theta, _nll(problem.eta(theta), y[:, None], None, "exp")[1])
    assert abs(grad[0]) < 1e-9
    for k in range(4):
        m = np.r_[False, groups == k]
        if norms[k] == 0:
            assert np.linalg.norm(grad[m]) <= alpha * np.sqrt(3) + 1e-9
        else:
            w = theta[m]
            assert np.linalg.norm(grad[m] + alpha * np.sqrt(3) * w / np.linalg.norm(w)) < 1e-8


def test_options_are_checked():
    for bad in (dict(link="logit"), dict(penalty="l1"), dict(rank=0), dict(alpha=-1.0),
                dict(alphas=()), dict(n_folds=1), dict(rank=2, penalty="group-lasso"),
                dict(stimulus_basis="cubic")):
        with pytest.raises(ParameterError):
            GLM(**bad)
    with pytest.raises(ParameterError):
        fit_design(np.zeros((3, 2)), np.zeros(4))


# ---------------------------------------------------------------- recovery
def test_recovers_a_coupled_glm(recovered):
    tm, rec, m = recovered
    assert m.stable_ is True and all(f["converged"] for f in m.fit_info_)
    kt, kf = tm.stimulus_filter(), m.stimulus_filter()
    corr = [np.corrcoef(kt[u].ravel(), kf[u].ravel())[0, 1] for u in range(3)]
    assert min(corr) >= 0.95, corr
    hf = m.history_filters()
    for u in range(3):
        assert hf[u, u, 0] < -3 and hf[u, u, 0] < hf[u, u, 10] - 2      # the refractory dip
    off = ~np.eye(3, dtype=bool)
    assert np.array_equal(np.sign(hf.sum(2))[off], SIGN[off])          # coupling signs
    tm.null_rate = m.null_rate                     # the truth, scored with the same null
    assert m.score(rec) > 0.95 * tm.score(rec) > 0


def test_cross_validation_table(recovered):
    _, _, m = recovered
    for table in m.cv_:
        assert table["alphas"] == [1e-4, 1e-6] and len(table["heldout_ll_per_bin"]) == 2
        assert table["alpha"] in table["alphas"]
    assert m.alpha_.shape == (3,)


def test_low_rank_fit_recovers_separable_filters():
    tm = truth(U=2, D=6)
    rec = recording(tm, 60.0)
    m = GLM(rank=1, alpha=1e-5, **OPTS).fit(rec)
    kt, kf = tm.stimulus_filter(), m.stimulus_filter()
    for u in range(2):
        assert np.corrcoef(kt[u].ravel(), kf[u].ravel())[0, 1] > 0.95
        assert np.linalg.matrix_rank(kf[u], tol=1e-10) == 1
    A, C = m.stim_factors_
    assert A.shape == (2, 5, 1) and C.shape == (2, 6, 1)


# ---------------------------------------------------------------- simulation
def _assert_inverse_cdf_draws(y, lam, seed):
    """Redo the inverse-CDF draws with the same uniforms (one ``(bins, units)`` array
    per trial from ``default_rng(seed)``) and the intensity's own rates."""
    from scipy.stats import poisson
    rng = np.random.default_rng(seed)
    for k in range(y.shape[0]):
        u = rng.random(y.shape[1:])
        np.testing.assert_array_equal(poisson.ppf(u, lam[k]).astype(int), y[k])


def test_samples_follow_the_intensity_given_their_own_past():
    tm = truth()
    S = np.random.default_rng(1).normal(size=(150, 4))
    y = tm.sample(S, 3, seed=11)
    assert y.shape == (3, 1500, 3) and y.dtype == np.int64
    lam = tm.intensity(S, y)
    _assert_inverse_cdf_draws(y, lam, 11)
    # refractory: hardly an interval of one bin within a unit (two spikes in one bin
    # remain possible: the counts are Poisson within a bin)
    for r in range(3):
        for v in range(3):
            isi = np.diff(np.repeat(np.arange(1500), y[r, :, v]))
            assert (isi == 1).mean() < 0.01 and (isi > 1).mean() > 0.9


def test_runaway_excitation_warns_and_is_capped():
    m = truth(U=2, D=2, refractory=0.0, coupling=0.0)
    m.hist_coef_[:, :, 1:5] += 2.5                           # strong self- and cross-excitation
    S = np.zeros((100, 2))
    with pytest.warns(UnstableGLMWarning, match="runaway"):
        y = m.sample(S, 2, seed=0)
    cap = m.options["max_rate"] * m.bin_size
    assert y[:, -200:].mean() == pytest.approx(cap, rel=0.2)   # held at the cap
    assert m.intensity(S, y).max() == pytest.approx(cap)
    with pytest.warns(UnstableGLMWarning, match="unstable in simulation"):
        m._stability_check(S)
    assert m.stable_ is False
    # a stable model does not warn, although a strong stimulus may touch the cap
    quiet = truth(U=2, D=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnstableGLMWarning)
        quiet.sample(np.random.default_rng(0).normal(size=(500, 2)), 2, seed=0)
        quiet._stability_check(np.random.default_rng(0).normal(size=(500, 2)))
    assert quiet.stable_ is True


def test_intensity_needs_counts_and_the_frame_interval():
    tm = truth(U=2, D=2)
    with pytest.raises(ParameterError, match="past spikes"):
        tm.intensity(np.zeros((10, 2)))
    with pytest.raises(ParameterError, match="frame_dt"):
        tm.sample(np.zeros((10, 2)), 1, frame_dt=0.02)
    with pytest.raises(ParameterError):
        tm.intensity(np.zeros((10, 2)), np.zeros((1, 50, 2)))
    no_history = GLM.from_coefficients([-3.0], np.zeros((1, 5, 2)), np.zeros((1, 1, 0)), 0.001,
                                       0.01, **{**OPTS, "history_window": 0.0})
    assert no_history.intensity(np.zeros((10, 2))).shape == (1, 100, 1)


# ---------------------------------------------------------------- memory, saving
def test_fit_never_builds_the_bin_by_lag_design():
    rng = np.random.default_rng(4)
    F, D = 5000, 64                                          # 50 s, 64 pixels, 1 ms bins
    tm = GLM.from_coefficients([-3.5], 0.01 * rng.normal(size=(1, 8, D)), np.zeros((1, 1, 8)),
                               0.001, 0.01, n_stimulus_basis=8, stimulus_window=0.4)
    rec = recording(tm, F * 0.01, test_s=0.5, trials=1)
    # at 1 ms, the lagged stimulus (bins, 40 lags * 64) would take 1 GB and the explicit
    # design on the basis (bins, 8 * 64 + 8) 208 MB; the frame-rate projection is 20 MB
    tracemalloc.start()
    GLM(alpha=1e-4, n_stimulus_basis=8, stimulus_window=0.4, maxiter=5,
        stability_seconds=0.0).fit(rec)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 70e6, peak


def test_save_and_load(recovered, tmp_path):
    _, rec, m = recovered
    m.save(tmp_path / "glm.npz")
    back = neuromod.load(tmp_path / "glm.npz")
    assert isinstance(back, GLM) and back.stable_ is True
    y = rec.test_counts(0.001)
    np.testing.assert_array_equal(back.intensity(rec.test_stimulus, y),
                                  m.intensity(rec.test_stimulus, y))
    np.testing.assert_array_equal(back.sample(rec.test_stimulus, 2, seed=3),
                                  m.sample(rec.test_stimulus, 2, seed=3))
    f = back.filters()
    assert f["spatial"].shape == (3, 4) and f["temporal"].shape == (3, 15)
    assert f["history"].shape == (3, 3, 50) and f["lag_dt"] == 0.01


# ---------------------------------------------------------------- absolute refractoriness
def _bin_gaps(y):
    """Distances in bins between successive spike-holding bins of one train."""
    return np.diff(np.flatnonzero(y))


def dead_time_recording(dead=(0.0035, 0.008, 0.0), rate=40.0, train_s=60.0, seed=0):
    """Renewal trains in continuous time: ISI = dead time + exponential (a Poisson
    train for dead time 0), independent of a white-noise stimulus; 2 test trials."""
    rng = np.random.default_rng(seed)
    U = len(dead)

    def trains(T, trials):
        t, ids = [], []
        for k in range(trials * U):
            d = dead[k % U]
            isi = d + rng.exponential(1.0 / rate - d, int(3 * rate * T) + 10)
            st = np.cumsum(isi)
            st = st[st < T]
            t.append(st)
            ids.append(np.full(st.size, k))
        return SpikeTrains(np.concatenate(t), np.concatenate(ids), 0.0, T, n_trains=trials * U,
                           sort=True, annotations={"unit": np.tile(np.arange(U), trials),
                                                   "trial": np.repeat(np.arange(trials), U)})
    Str = rng.normal(size=(int(train_s / 0.01), 2)).astype(np.float32)
    Ste = rng.normal(size=(200, 2)).astype(np.float32)
    return Recording(0.01, Str, Ste, trains(train_s, 1), trains(2.0, 2), U, 2, name="dead")


def test_refractory_bins_rule():
    y = np.zeros((2, 12, 2), dtype=int)
    y[0, [1, 2, 7], 0] = [1, 2, 1]
    y[1, 10, 0] = 1
    y[:, 4, 1] = 1
    dead = refractory_bins(y, [3, 1])
    # by hand: the 3 bins after each spike of unit 0, the 1 bin after unit 1's
    want = np.zeros_like(dead)
    want[0, [2, 3, 4, 5, 8, 9, 10], 0] = True
    want[1, 11, 0] = True
    want[:, 5, 1] = True
    np.testing.assert_array_equal(dead, want)
    assert not refractory_bins(y, [0, 0]).any()


def test_auto_refractory_finds_a_known_dead_time():
    rec = dead_time_recording()
    y = rec.train_counts(0.001)
    # a 3.5 ms dead time puts successive spikes 3 bins apart at least (and that often):
    # 2 empty bins; 8 ms is capped at 5 ms; a Poisson train has bins of two spikes
    m = GLM(alpha=1e-3, coupling=False, stability_seconds=0.0, maxiter=50, **OPTS).fit(rec)
    assert m.refractory_bins_.tolist() == [2, 5, 0]
    np.testing.assert_allclose(m.refractory_, [0.002, 0.005, 0.0])
    assert _bin_gaps(y[:, 0]).min() == 3 and _bin_gaps(y[:, 1]).min() == 8
    assert y[:, 2].max() > 1
    # a history window of 4 ms caps it at 3 bins (shorter than the window)
    m4 = GLM(alpha=1e-3, coupling=False, stability_seconds=0.0, maxiter=50,
             **{**OPTS, "history_window": 0.004}).fit(rec)
    assert m4.refractory_bins_.tolist() == [2, 3, 0]
    # None, 0 and a number
    for ref, want in ((None, [0, 0, 0]), (0, [0, 0, 0]), (0.0025, [2, 2, 2])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # the Poisson unit's spikes
            m = GLM(alpha=1e-3, coupling=False, stability_seconds=0.0, maxiter=5,
                    refractory=ref, **OPTS).fit(rec)
        assert m.refractory_bins_.tolist() == want


def _refractory_truth(ref, coupling=0.5):
    tm = truth(U=2, D=2, refractory=-1.5, coupling=coupling)
    return GLM.from_coefficients(tm.intercept_, tm.stim_coef_, tm.hist_coef_, 0.001, 0.01,
                                 refractory=ref, **OPTS)


def test_refractory_fit_is_statsmodels_without_the_dead_bins():
    tm = _refractory_truth(0.002)
    rec = recording(tm, 30.0)
    y = rec.train_counts(0.001)
    m = GLM(alpha=0.0, tol=1e-10, stability_seconds=0.0, refractory=0.002, **OPTS).fit(rec)
    assert m.refractory_bins_.tolist() == [2, 2]
    dead = refractory_bins(y, [2, 2])
    assert dead.mean() > 0.04 and not (y * dead).any()        # no spike in a dead bin
    for u in range(2):
        X = m.design(rec.train_stimulus, y, unit=u)
        keep = ~dead[:, u]
        # the unit's own first history function (lag 1) is 0 wherever it is fitted
        # (up to the FFT's rounding): out of the design, its coefficient left near 0
        live = np.abs(X[keep]).max(0) > 1e-9
        assert live.sum() == X.shape[1] - 1 and np.all(abs(m.coefficients(u)[~live]) < 1e-3)
        ref = sm.GLM(y[keep, u], sm.add_constant(X[keep][:, live]),
                     family=sm.families.Poisson()).fit(tol=1e-13)
        obj = _sm_objective(ref, y[keep, u])
        assert abs(m.fit_info_[u]["objective"] - obj) <= 1e-8 * obj
        np.testing.assert_allclose(np.r_[m.intercept_[u], m.coefficients(u)[live]],
                                   ref.params, atol=1e-4)
        # statsmodels with the dead bins weighted 0 instead of dropped: the same fit
        wref = sm.GLM(y[:, u], sm.add_constant(X[:, live]), family=sm.families.Poisson(),
                      freq_weights=keep.astype(float)).fit(tol=1e-13)
        np.testing.assert_allclose(wref.params, ref.params, atol=1e-6)
        # the intensity: f(b + X coef) outside the dead bins, 0 in them
        lam = m.intensity(rec.train_stimulus, y)[0, :, u]
        full = np.exp(m.intercept_[u] + X @ m.coefficients(u))
        np.testing.assert_allclose(lam[keep], full[keep], rtol=1e-9)
        assert np.all(lam[~keep] == 0)


def test_uncoupled_ridge_with_refractoriness_is_fit_design_on_the_live_bins():
    tm = _refractory_truth(0.003)
    rec = recording(tm, 20.0)
    y = rec.train_counts(0.001)
    m = GLM(alpha=1e-4, coupling=False, stability_seconds=0.0, refractory=0.003,
            **OPTS).fit(rec)
    dead = refractory_bins(y, m.refractory_bins_)
    for u in range(2):
        X = m.design(rec.train_stimulus, y, unit=u)
        keep = ~dead[:, u]
        f = fit_design(X[keep], y[keep, u], alpha=1e-4, standardize=True)
        np.testing.assert_allclose(np.r_[f.intercept, f.coef],
                                   np.r_[m.intercept_[u], m.coefficients(u)], atol=2e-4)
        assert m.fit_info_[u]["objective"] == pytest.approx(f.objective, rel=1e-6)


def test_cross_validation_scores_only_the_live_bins():
    tm = _refractory_truth(0.002)
    rec = recording(tm, 20.0)
    y = rec.train_counts(0.001)
    m = GLM(alphas=(1e-3, 1e-5), coupling=False, stability_seconds=0.0, refractory=0.002,
            standardize=False, **OPTS).fit(rec)
    dead = refractory_bins(y, m.refractory_bins_)
    T = y.shape[0]
    edges = np.round(np.linspace(0, T // 10, 4)).astype(int) * 10
    for u in range(2):
        X = m.design(rec.train_stimulus, y, unit=u)
        scores = []
        for a in (1e-3, 1e-5):
            total = 0.0
            for k in range(3):
                held = np.zeros(T, dtype=bool)
                held[edges[k]:edges[k + 1]] = True
                fit = ~held & ~dead[:, u]
                f = fit_design(X[fit], y[fit, u], alpha=a, tol=1e-9)
                ev = held & ~dead[:, u]
                eta = f.intercept + X[ev] @ f.coef
                total += float(np.sum(y[ev, u] * eta - np.exp(eta)))
            scores.append(total / T)
        table = m.cv_[u]["heldout_ll_per_bin"]
        for mine, theirs in zip(scores, table):
            if theirs is not None:
                assert theirs == pytest.approx(mine, rel=1e-5)


@pytest.mark.parametrize("ref", [0.003, [0.001, 0.004]])
def test_samples_respect_the_dead_time_and_follow_the_intensity(ref):
    tm = _refractory_truth(ref)
    r = tm.refractory_bins_
    assert r.tolist() == ([3, 3] if np.isscalar(ref) else [1, 4])
    S = np.random.default_rng(2).normal(size=(300, 2))
    y = tm.sample(S, 3, seed=5)
    lam = tm.intensity(S, y)
    _assert_inverse_cdf_draws(y, lam, 5)
    for v in range(2):
        gaps = np.concatenate([_bin_gaps(y[k, :, v]) for k in range(3)])
        assert gaps.min() == r[v] + 1                           # never shorter; tight
    # without the dead time the same filters give shorter gaps
    free = _refractory_truth(0.0).sample(S, 3, seed=5)
    assert min(_bin_gaps(free[k, :, 1]).min() for k in range(3)) < r[1] + 1


def test_runaway_is_still_detected_through_the_dead_time():
    m = _refractory_truth(0.002, coupling=0.0)
    m.hist_coef_[:, :, 1:5] += 4.0
    with pytest.warns(UnstableGLMWarning, match="runaway"):
        y = m.sample(np.zeros((100, 2)), 1, seed=0)
    assert _bin_gaps(y[0, :, 0]).min() == 3
    assert y[0, -300:].mean() > 0.25                          # firing as fast as it may


def test_refractory_options_are_checked():
    for bad in ("on", -0.001, 0.1, 0.2, [0.001, -1.0], float("nan")):
        with pytest.raises(ParameterError, match="refractory"):
            GLM(refractory=bad)
    with pytest.raises(ParameterError, match="refractory"):
        GLM(history_window=0.0, refractory=0.002)
    GLM(history_window=0.0, refractory=0.0)
    rec = dead_time_recording(train_s=2.0)
    with pytest.raises(ParameterError, match="3 units"):
        GLM(refractory=[0.001, 0.002], stability_seconds=0.0).fit(rec)
    with pytest.raises(ParameterError, match="seconds"):
        _refractory_truth("auto")
    # a fixed period that contradicts the data warns and leaves those spikes out
    with pytest.warns(RuntimeWarning, match="training spikes"):
        m = GLM(alpha=1e-3, refractory=0.004, stability_seconds=0.0, maxiter=20,
                coupling=False, **OPTS).fit(rec)
    assert m.refractory_bins_.tolist() == [4, 4, 4]


def test_refractory_survives_save_and_load(tmp_path):
    rec = dead_time_recording(train_s=20.0)
    m = GLM(alpha=1e-3, stability_seconds=1.0, **OPTS).fit(rec)
    assert m.refractory_bins_.tolist() == [2, 5, 0]
    m.save(tmp_path / "glm.npz")
    back = neuromod.load(tmp_path / "glm.npz")
    assert back.options["refractory"] == "auto" and back.options["history_alpha"] == "stable"
    assert back.history_alpha_ == m.history_alpha_ == 1.0
    np.testing.assert_array_equal(back.refractory_bins_, m.refractory_bins_)
    y = rec.test_counts(0.001)
    lam = back.intensity(rec.test_stimulus, y)
    np.testing.assert_array_equal(lam, m.intensity(rec.test_stimulus, y))
    assert np.all(lam[refractory_bins(y, [2, 5, 0])] == 0)
    np.testing.assert_array_equal(back.sample(rec.test_stimulus, 2, seed=3),
                                  m.sample(rec.test_stimulus, 2, seed=3))
    # a ground truth's per-unit periods too
    tm = _refractory_truth([0.001, 0.004])
    tm.save(tmp_path / "truth.npz")
    assert neuromod.load(tmp_path / "truth.npz").refractory_bins_.tolist() == [1, 4]


def test_refractory_from_counts_matches_spike_times():
    rec = dead_time_recording(dead=(0.0041, 0.0, 0.0015), rate=60.0, train_s=30.0, seed=4)
    y = rec.train_counts(0.001)
    r = refractory_from_counts(y, 100)
    for u in range(3):
        t = rec.train_spikes.times[rec.train_spikes.ids == u]
        b = np.floor(t / 0.001).astype(int)
        d = np.diff(b)
        want = 0 if d.min() == 0 else d.min() - 1
        assert r[u] == want
    assert r[0] == 3 and r[1] == 0


# ---------------------------------------------------------------- the history's ridge
def test_history_alpha_is_a_ridge_on_rescaled_history_columns():
    tm = _refractory_truth(0.002)
    rec = recording(tm, 20.0)
    y = rec.train_counts(0.001)
    m = GLM(alpha=1e-3, history_alpha=10.0, standardize=False, coupling=False, refractory=0.002,
            stability_seconds=0.0, **OPTS).fit(rec)
    assert m.history_alpha_ == 10.0 and m.refractory_bins_.tolist() == [2, 2]
    dead = refractory_bins(y, m.refractory_bins_)
    for u in range(2):
        X = m.design(rec.train_stimulus, y, unit=u)
        keep = ~dead[:, u]
        Xs = X.copy()
        Xs[:, 10:] /= np.sqrt(10.0)        # alpha/2 (|k|^2 + 10 |h|^2) = alpha/2 |(k, h')|^2
        f = fit_design(Xs[keep], y[keep, u], alpha=1e-3)
        coef = np.r_[f.coef[:10], f.coef[10:] / np.sqrt(10.0)]
        np.testing.assert_allclose(np.r_[f.intercept, coef],
                                   np.r_[m.intercept_[u], m.coefficients(u)], atol=2e-4)


def test_stable_history_alpha_raises_the_history_ridge_until_stable(monkeypatch):
    rec = recording(_refractory_truth(0.002), 10.0)
    seen = []

    def fake(self, raw):                    # a runaway below a history factor of 100
        seen.append(self.history_alpha_)
        return self.history_alpha_ >= 100, 0 if self.history_alpha_ >= 100 else 60
    monkeypatch.setattr(GLM, "_runaway_check", fake)
    m = GLM(alpha=1e-3, coupling=False, stability_seconds=1.0, **OPTS).fit(rec)
    assert m.history_alpha_ == 100.0 and m.stable_ is True
    assert [p["history_alpha"] for p in m.stability_path_] == [1.0, 10.0, 100.0]
    assert [p["stable"] for p in m.stability_path_] == [False, False, True]
    ref = GLM(alpha=1e-3, coupling=False, stability_seconds=1.0, history_alpha=100.0,
              **OPTS).fit(rec)
    np.testing.assert_allclose(m.hist_coef_, ref.hist_coef_, atol=1e-5)
    # a stable first fit is kept as it is
    monkeypatch.setattr(GLM, "_runaway_check", lambda self, raw: (True, 0))
    m1 = GLM(alpha=1e-3, coupling=False, stability_seconds=1.0, **OPTS).fit(rec)
    assert m1.history_alpha_ == 1.0 and len(m1.stability_path_) == 1
    for bad in (0, -1.0, "yes", float("inf")):
        with pytest.raises(ParameterError, match="history_alpha"):
            GLM(history_alpha=bad)
