"""Model-evaluation tools: PSTH correlation, split-half noise ceiling, FEV (Cadena et al.
2019) and the discrete time-rescaling KS test (Haslinger, Pipa & Brown 2010).

Oracles: numpy/scipy computed independently (np.histogram binning, np.corrcoef,
scipy.stats.kstest), per-spike loops written from the papers' formulas, closed forms
(noiseless trials, the grand-mean prediction, Poisson reliability) and seeded
simulations whose tolerances are 5 standard deviations measured over 40 seeds.
"""
import neo
import numpy as np
import pytest
import quantities as pq
from scipy import stats

from neuromod.errors import SpikeDataError
from neuromod.spikes import SpikeTrains
from neuromod.stats.evaluation import (fraction_explainable_variance, psth_correlation,
                                       split_half_noise_ceiling, time_rescaling_ks)

DT = 0.001


def bernoulli_trials(rng, lam, dt, R):
    """Exact discrete-time model: a spike in bin k with probability 1 - exp(-lam_k dt),
    placed at the bin centre."""
    p = -np.expm1(-lam * dt)
    spk = rng.random((R, lam.size)) < p
    return SpikeTrains.from_list([(np.flatnonzero(r) + 0.5) * dt for r in spk],
                                 t_start=0.0, t_stop=lam.size * dt)


def rate_profile(T=10.0, dt=DT):
    t = (np.arange(int(round(T / dt))) + 0.5) * dt
    return 20 + 15 * np.sin(2 * np.pi * 1.3 * t)


def hist_rates(trials, bs, t0, t1):
    """Independent binning: np.histogram on whole bins (no spike lies on an edge here)."""
    nb = int(np.floor((t1 - t0) / bs + 1e-9))
    edges = t0 + bs * np.arange(nb + 1)
    return np.array([np.histogram(t[t < edges[-1]], edges)[0] for t in trials]) / bs


# ---------------------------------------------------------------------- PSTH correlation
def test_psth_correlation_matches_numpy():
    rng = np.random.default_rng(0)
    lam = rate_profile(4.0)
    data = bernoulli_trials(rng, lam, DT, 10)
    model = bernoulli_trials(rng, lam[::-1].copy(), DT, 7)
    r = psth_correlation(model, data, 0.05)
    d = hist_rates(data.to_list(), 0.05, 0.0, 4.0).mean(0)
    m = hist_rates(model.to_list(), 0.05, 0.0, 4.0).mean(0)
    assert r == pytest.approx(np.corrcoef(m, d)[0, 1], rel=1e-10)
    assert psth_correlation(data, data, 0.05) == pytest.approx(1.0, rel=1e-12)


def test_psth_correlation_of_a_constant_psth_is_nan():
    data = SpikeTrains.from_list([[0.05, 0.15], [0.25]], t_stop=0.3)
    flat = SpikeTrains.from_list([[0.05, 0.15, 0.25]], t_stop=0.3)
    assert np.isnan(psth_correlation(flat, data, 0.1))


# ---------------------------------------------------------------------- noise ceiling
def test_noise_ceiling_of_noiseless_trials_is_one():
    rng = np.random.default_rng(1)
    train = np.sort(rng.uniform(0, 2, 80))
    assert split_half_noise_ceiling([train] * 6, 0.05, n_splits=20, seed=0) == pytest.approx(1.0, abs=1e-12)
    assert split_half_noise_ceiling([train] * 5, 0.05, n_splits=20, seed=0) == pytest.approx(1.0, abs=1e-12)


def test_noise_ceiling_estimates_the_correlation_with_the_true_rate():
    # 20 Bernoulli trials of a 1.3-Hz modulated rate, 0.05-s bins over 10 s. The ceiling
    # estimates corr(observed PSTH, true rate); the closed form is
    # sqrt(var_s / (var_s + mean_k(noise_k) / R)) with var_s the variance across bins of the
    # expected counts and noise_k = sum of p(1 - p) over the bin's 1-ms steps.
    # Over 40 seeds: sd(ceiling) = 0.0055, sd(ceiling - corr) = 0.0074 -> tolerances 0.03, 0.037.
    rng = np.random.default_rng(2)
    lam = rate_profile()
    R, bs = 20, 0.05
    st = bernoulli_trials(rng, lam, DT, R)
    c = split_half_noise_ceiling(st, bs, n_splits=50, seed=3)
    p = -np.expm1(-lam * DT).reshape(-1, 50)
    mean_counts = p.sum(1)
    noise = (p * (1 - p)).sum(1)
    closed = np.sqrt(mean_counts.var() / (mean_counts.var() + noise.mean() / R))
    assert abs(c - closed) < 0.03
    psth_all = hist_rates(st.to_list(), bs, 0.0, 10.0).mean(0)
    assert abs(c - np.corrcoef(psth_all, mean_counts)[0, 1]) < 0.037
    # seeded: the same seed gives the same value
    assert split_half_noise_ceiling(st, bs, n_splits=50, seed=3) == c


def test_noise_ceiling_of_pure_noise_is_near_zero_and_needs_two_trials():
    rng = np.random.default_rng(4)
    st = bernoulli_trials(rng, np.full(5000, 20.0), DT, 10)
    # no signal: reliabilities scatter around 0 and the ceiling is sqrt(max(0, mean))
    assert split_half_noise_ceiling(st, 0.05, seed=1) < 0.35
    with pytest.raises(SpikeDataError, match="at least 2 trials"):
        split_half_noise_ceiling(st[:1], 0.05)


# ---------------------------------------------------------------------- FEV
def cadena_fev_loop(pred, trials, bs, t0, t1):
    """Cadena et al. (2019) written per stimulus (bin) with lists, as their group's code:
    MSE over single trials, noise = mean over bins of the trial variance (ddof 1),
    total = variance of all single-trial responses (ddof 1)."""
    y = hist_rates(trials, bs, t0, t1)
    per_bin_sq, per_bin_var = [], []
    for k in range(y.shape[1]):
        per_bin_sq.append((y[:, k] - pred[k]) ** 2)
        per_bin_var.append(np.var(y[:, k], ddof=1))
    mse = np.mean(np.concatenate(per_bin_sq))
    noise = np.mean(per_bin_var)
    total = np.var(y.ravel(), ddof=1)
    return 1 - (mse - noise) / (total - noise), (total - noise) / total


def test_fev_matches_the_per_stimulus_definition():
    rng = np.random.default_rng(5)
    lam = rate_profile(4.0)
    st = bernoulli_trials(rng, lam, DT, 8)
    pred = lam.reshape(-1, 50).mean(1) * 0.8 + 3.0
    fev, expl = fraction_explainable_variance(pred, st, 0.05, return_explainable=True)
    ref, ref_expl = cadena_fev_loop(pred, st.to_list(), 0.05, 0.0, 4.0)
    assert fev == pytest.approx(ref, rel=1e-10)
    assert expl == pytest.approx(ref_expl, rel=1e-10)
    # the prediction may be a quantity (Hz) and model trials give their PSTH
    assert fraction_explainable_variance(pred * pq.Hz, st, 50 * pq.ms) == pytest.approx(ref, rel=1e-10)
    model = bernoulli_trials(rng, lam, DT, 5)
    m = hist_rates(model.to_list(), 0.05, 0.0, 4.0).mean(0)
    assert fraction_explainable_variance(model, st, 0.05) == pytest.approx(
        cadena_fev_loop(m, st.to_list(), 0.05, 0.0, 4.0)[0], rel=1e-10)


def test_fev_of_the_true_rate_is_one_and_of_the_grand_mean_is_closed_form():
    # True expected rate per bin: E[MSE] = noise variance, so FEV -> 1; over 40 seeds the
    # sd is 0.0155 for 20 trials x 200 bins -> tolerance 0.08 (5 sd).
    rng = np.random.default_rng(6)
    lam = rate_profile()
    st = bernoulli_trials(rng, lam, DT, 20)
    p = -np.expm1(-lam * DT).reshape(-1, 50)
    true_rate = p.sum(1) / 0.05
    assert abs(fraction_explainable_variance(true_rate, st, 0.05) - 1) < 0.08
    # Predicting the grand mean ybar: MSE = total (N - 1)/N exactly, so
    # FEV = (total / N) / (total - noise) -- a small positive number.
    y = hist_rates(st.to_list(), 0.05, 0.0, 10.0)
    total, noise, N = y.var(ddof=1), y.var(axis=0, ddof=1).mean(), y.size
    got = fraction_explainable_variance(np.full(y.shape[1], y.mean()), st, 0.05)
    assert got == pytest.approx((total / N) / (total - noise), rel=1e-9)


def test_fev_input_errors():
    st = SpikeTrains.from_list([[0.05], [0.15]], t_stop=0.3)
    with pytest.raises(SpikeDataError, match="3 bins"):
        fraction_explainable_variance([1.0, 2.0], st, 0.1)
    with pytest.raises(SpikeDataError, match="at least 2 trials"):
        fraction_explainable_variance([1.0, 2.0, 3.0], st[:1], 0.1)


# ---------------------------------------------------------------------- time rescaling
def haslinger_loop(st, lam, dt, seed):
    """Per-spike loop from Haslinger, Pipa & Brown (2010), eqs. for xi_i and delta_i,
    using the same uniform draws (one per spike, in spike order)."""
    u = np.random.default_rng(seed).random(st.n_spikes)
    q = lam * dt
    z, n = [], 0
    for i, train in enumerate(st.to_list()):
        qi = q if q.ndim == 1 else q[i]
        prev = -1
        for t in train:
            b = min(int(np.floor((t - st.t_start) / dt)), qi.size - 1)
            xi = sum(qi[prev + 1:b]) - np.log(1 - u[n] * (1 - np.exp(-qi[b])))
            z.append(1 - np.exp(-xi))
            prev, n = b, n + 1
    return np.array(z)


def test_rescaled_values_and_ks_match_the_definition_and_scipy():
    rng = np.random.default_rng(7)
    lam = rate_profile(3.0)
    st = bernoulli_trials(rng, lam, DT, 6)
    res = time_rescaling_ks(st, lam, DT, seed=11)
    np.testing.assert_allclose(res.rescaled, haslinger_loop(st, lam, DT, 11), rtol=1e-9, atol=1e-12)
    assert res.statistic == pytest.approx(stats.kstest(res.rescaled, "uniform").statistic, rel=1e-12)
    assert res.bound == pytest.approx(1.36 / np.sqrt(st.n_spikes), rel=1e-12)
    # one rate row per train
    lam2 = np.vstack([lam * (1 + 0.1 * i) for i in range(6)])
    res2 = time_rescaling_ks(st, lam2, DT, seed=11)
    np.testing.assert_allclose(res2.rescaled, haslinger_loop(st, lam2, DT, 11), rtol=1e-9, atol=1e-12)


def test_true_rate_passes_at_the_nominal_rate_and_wrong_rates_fail():
    # Under the true model z ~ U(0, 1) exactly, so the 95% bound is exceeded in ~5% of
    # data sets: over 40 seeded data sets expect 2; P(>= 8 | Binomial(40, 0.05)) = 0.0014.
    # Rate 30 + 28 sin(pi t) Hz over 10 s, 2 trials (~600 spikes per data set).
    t = (np.arange(10000) + 0.5) * DT
    lam = 30 + 28 * np.sin(np.pi * t)
    fails_true = fails_flat = fails_half = 0
    for seed in range(40):
        st = bernoulli_trials(np.random.default_rng(100 + seed), lam, DT, 2)
        r_true = time_rescaling_ks(st, lam, DT, seed=seed)
        fails_true += r_true.statistic > r_true.bound
        r_flat = time_rescaling_ks(st, np.full_like(lam, lam.mean()), DT, seed=seed)
        fails_flat += r_flat.statistic > r_flat.bound
        r_half = time_rescaling_ks(st, 0.5 * lam, DT, seed=seed)
        fails_half += r_half.statistic > r_half.bound
    assert fails_true < 8
    assert fails_half == 40            # half the rate: intervals look twice too long
    assert fails_flat >= 36            # the unmodulated rate misses the modulation


def test_discrete_time_correction_is_needed_at_high_rate_per_bin():
    # 300 Hz in 2-ms bins: p = 0.45 per bin. The naive rescaling (sum q up to and
    # including the spike bin) is biased and fails; the corrected one passes.
    dt = 0.002
    lam = np.full(5000, 300.0)
    st = bernoulli_trials(np.random.default_rng(9), lam, dt, 1)
    res = time_rescaling_ks(st, lam, dt, seed=0)
    assert res.statistic < res.bound
    b = np.floor(st.times / dt).astype(int)
    naive_xi = np.diff(np.concatenate([[-1], b])) * lam[0] * dt
    naive = stats.kstest(-np.expm1(-naive_xi), "uniform").statistic
    assert naive > 3 * res.bound


def test_time_rescaling_errors():
    st = SpikeTrains.from_list([[0.0101, 0.0104]], t_stop=0.1)
    with pytest.raises(SpikeDataError, match=r"train 0: two spikes in one bin"):
        time_rescaling_ks(st, np.full(100, 10.0), 0.001)
    with pytest.raises(SpikeDataError, match="rate has shape"):
        time_rescaling_ks(st, np.full(99, 10.0), 0.0001)
    with pytest.raises(SpikeDataError, match=">= 0"):
        time_rescaling_ks(st, np.full(1000, -1.0), 0.0001)


def test_time_rescaling_units_invariance():
    rng = np.random.default_rng(13)
    lam = rate_profile(2.0)
    st = bernoulli_trials(rng, lam, DT, 3)
    a = time_rescaling_ks(st, lam, DT, seed=2)
    ms = [neo.SpikeTrain(t * 1000.0, units="ms", t_start=0.0, t_stop=2000.0) for t in st.to_list()]
    b = time_rescaling_ks(ms, lam * pq.Hz, 1 * pq.ms, seed=2)
    np.testing.assert_allclose(b.rescaled, a.rescaled, rtol=1e-9, atol=1e-12)
    assert b.statistic == pytest.approx(a.statistic, rel=1e-9)
