"""Cross-correlograms and STTC: Elephant 1.2 as the oracle (cross_correlation_histogram
with both methods, spike_time_tiling_coefficient), a brute-force port of Cutts &
Eglen's definition, closed forms (shifted copies, independent trains), symmetry and
conservation, unit invariance.

Tolerances: correlogram counts are integers and must be equal; STTC rtol 1e-6
against Elephant / the brute force (real differences are float rounding, ~1e-15).
"""
import neo
import numpy as np
import pytest
import quantities as pq
from elephant.conversion import BinnedSpikeTrain
from elephant.spike_train_correlation import (cross_correlation_histogram,
                                              spike_time_tiling_coefficient)

import neuromod.stats.correlation as corr_mod
from neuromod.errors import SpikeDataError
from neuromod.spikes import SpikeTrains
from neuromod.stats.correlation import cross_correlogram, sttc, sttc_matrix, tiling_fraction

T0, T1 = 0.0, 4.0


def random_trains(seed, n=6, max_count=80, grid=None, t0=T0, t1=T1):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(1, max_count))
        if grid is None:
            out.append(np.sort(rng.uniform(t0, t1, k)))
        else:
            pts = t0 + grid * np.arange(int(round((t1 - t0) / grid)) + 1)
            out.append(np.unique(rng.choice(pts, k)))
    return out


def to_neo(trains, t0=T0, t1=T1, unit="s"):
    f = 1000.0 if unit == "ms" else 1.0
    return [neo.SpikeTrain(t * f, units=unit, t_start=t0 * f, t_stop=t1 * f) for t in trains]


def st_of(trains, t0=T0, t1=T1):
    return SpikeTrains.from_list(trains, t_start=t0, t_stop=t1)


# ---------------------------------------------------------------------- correlogram
def elephant_cch(trains, i, j, bs, **kw):
    nt = to_neo(trains)
    bi = BinnedSpikeTrain(nt[i], bin_size=bs * pq.s)
    bj = BinnedSpikeTrain(nt[j], bin_size=bs * pq.s)
    c, lags = cross_correlation_histogram(bi, bj, **kw)
    return c.magnitude.ravel(), lags


@pytest.mark.parametrize("window, ewin, method", [
    (None, "full", "speed"), (None, "full", "memory"),
    (0.1, [-10, 10], "speed"), (0.1, [-10, 10], "memory"),
    # Elephant 1.2's 'speed' method pads by min(-left, right) bins and returns fewer
    # lags than asked for an asymmetric window; its 'memory' method is the reference.
    ((-0.03, 0.07), [-3, 7], "memory"),
])
def test_cch_matches_elephant(window, ewin, method):
    trains = random_trains(0)
    st = st_of(trains)
    for i, j in ((0, 1), (2, 3), (4, 4)):
        ref, lags = elephant_cch(trains, i, j, 0.01, window=ewin, method=method)
        c, lag_s = cross_correlogram(st, i, j, 0.01, window=window)
        np.testing.assert_array_equal(c, ref)
        np.testing.assert_allclose(lag_s, lags * 0.01, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kw", [{"border_correction": True}, {"binary": True}])
def test_cch_options_match_elephant(kw):
    trains = random_trains(1, max_count=300)
    ref, _ = elephant_cch(trains, 0, 1, 0.02, window=[-20, 20], **kw)
    c, _ = cross_correlogram(st_of(trains), 0, 1, 0.02, window=0.4, **kw)
    np.testing.assert_allclose(c, ref, rtol=1e-12)


def test_cch_fft_path_equals_pair_path(monkeypatch):
    trains = random_trains(2, max_count=300)
    st = st_of(trains)
    exact, _ = cross_correlogram(st, 0, 1, 0.005)
    monkeypatch.setattr(corr_mod, "_MAX_PAIRS", 0)
    fft, _ = cross_correlogram(st, 0, 1, 0.005)
    np.testing.assert_array_equal(fft, exact)
    ref, _ = elephant_cch(trains, 0, 1, 0.005)
    np.testing.assert_array_equal(fft, ref)


def test_cch_closed_form_symmetry_and_conservation():
    rng = np.random.default_rng(3)
    a = np.sort(rng.choice(np.arange(10, 380), 40, replace=False)) * 0.01 + 0.005  # bin centres
    b = a + 0.03                                                                  # 3 bins later
    st = st_of([a, b])
    c, lags = cross_correlogram(st, 0, 1, 0.01)
    assert c[np.argmin(np.abs(lags - 0.03))] == 40 and c.argmax() == np.argmin(np.abs(lags - 0.03))
    c_rev, lags_rev = cross_correlogram(st, 1, 0, 0.01)
    np.testing.assert_array_equal(c_rev, c[::-1])                 # C_ji[l] = C_ij[-l]
    assert c.sum() == 40 * 40                                     # every pair once in 'full'


def test_cch_window_errors():
    st = st_of(random_trains(4))
    with pytest.raises(SpikeDataError, match="exceeds"):
        cross_correlogram(st, 0, 1, 0.01, window=5.0)
    with pytest.raises(SpikeDataError, match="left edge"):
        cross_correlogram(st, 0, 1, 0.01, window=(0.05, -0.05))
    with pytest.raises(SpikeDataError, match="outside"):
        cross_correlogram(st, 0, 9, 0.01)


# ---------------------------------------------------------------------- STTC
def brute_sttc(a, b, dt, t0, t1):
    """Cutts & Eglen (2014) by brute force: P from all pairs, T from the merged
    union of [t - dt, t + dt] clipped to the window."""
    if a.size == 0 or b.size == 0:
        return np.nan

    def P(x, y):
        return np.mean(np.any(np.abs(x[:, None] - y[None, :]) <= dt, axis=1))

    def T(x):
        total, cur_lo, cur_hi = 0.0, None, None
        for t in x:
            lo, hi = max(t - dt, t0), min(t + dt, t1)
            if cur_hi is None or lo > cur_hi:
                if cur_hi is not None:
                    total += cur_hi - cur_lo
                cur_lo, cur_hi = lo, hi
            else:
                cur_hi = max(cur_hi, hi)
        total += cur_hi - cur_lo
        return total / (t1 - t0)

    def term(p, t):
        return 1.0 if p * t == 1 else (p - t) / (1 - p * t)

    return 0.5 * (term(P(a, b), T(b)) + term(P(b, a), T(a)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sttc_matches_elephant_and_brute_force(seed):
    # Spikes on a 1-ms grid with dt = 5.5 ms: every spike distance is a whole number of
    # ms, so Elephant's isclose(rtol=1e-5) sliver (5.5, 5.5 + 0.04] ms holds none and
    # both definitions must agree; spikes on t_start and t_stop are included.
    trains = random_trains(seed, grid=0.001)
    trains[0] = np.unique(np.concatenate([[T0, T1], trains[0]]))
    st = st_of(trains)
    nt = to_neo(trains)
    dt = 0.0055
    for i in range(len(trains)):
        for j in range(len(trains)):
            ref = spike_time_tiling_coefficient(nt[i], nt[j], dt=dt * pq.s)
            got = sttc(st, i, j, dt)
            assert got == pytest.approx(ref, rel=1e-6, abs=1e-12), (i, j)
            assert got == pytest.approx(brute_sttc(trains[i], trains[j], dt, T0, T1), rel=1e-6, abs=1e-12)


def test_sttc_continuous_times_match_brute_force_and_elephant_outside_the_sliver():
    trains = random_trains(7)
    st = st_of(trains)
    nt = to_neo(trains)
    dt = 0.01
    for i in range(len(trains)):
        for j in range(i + 1, len(trains)):
            got = sttc(st, i, j, dt)
            assert got == pytest.approx(brute_sttc(trains[i], trains[j], dt, T0, T1), rel=1e-6)
            d = np.abs(trains[i][:, None] - trains[j][None, :])
            sliver = (d > dt) & (d <= dt + 1e-5 * np.maximum(trains[i][:, None], trains[j][None, :]) + 1e-12)
            if not sliver.any():
                assert got == pytest.approx(
                    spike_time_tiling_coefficient(nt[i], nt[j], dt=dt * pq.s), rel=1e-6)


def test_sttc_special_cases_match_elephant():
    # Train 0 tiles the whole window (T = 1) and every spike of train 1 is near it (P = 1):
    # Elephant's 0/0 -> 1 rule applies.
    a = np.arange(0.0, 1.0001, 0.01)
    b = np.array([0.2, 0.5, 0.71])
    st = st_of([a, b, np.array([])], 0.0, 1.0)
    nt = to_neo([a, b, np.array([])], 0.0, 1.0)
    for i, j in ((0, 1), (1, 0), (0, 0), (1, 1)):
        ref = spike_time_tiling_coefficient(nt[i], nt[j], dt=0.005 * pq.s)
        assert sttc(st, i, j, 0.005) == pytest.approx(ref, rel=1e-6)
    assert np.isnan(sttc(st, 0, 2)) and np.isnan(spike_time_tiling_coefficient(nt[0], nt[2]))


def test_tiling_fraction_single_spike_clipped_at_edges():
    st = SpikeTrains.from_list([[0.0], [0.5], [1.0], [0.5, 0.505], []], t_stop=1.0)
    np.testing.assert_allclose(tiling_fraction(st, 0.01)[:4], [0.01, 0.02, 0.01, 0.025], rtol=1e-12)
    assert np.isnan(tiling_fraction(st, 0.01)[4])


def test_sttc_units_invariance():
    trains = random_trains(5, grid=0.001)
    st = st_of(trains)
    ms = to_neo(trains, unit="ms")
    assert sttc(ms, 0, 1, 5.5 * pq.ms) == pytest.approx(sttc(st, 0, 1, 0.0055), rel=1e-6)


def test_sttc_of_independent_poisson_trains_is_near_zero():
    # Two independent 10-Hz Poisson trains over 200 s (~2000 spikes each), dt = 5 ms:
    # T ~ 0.095, P_A - T_B has sd ~ sqrt(T (1 - T) / n) ~ 0.0066 per term; 0.035 = 5 sd.
    rng = np.random.default_rng(12)
    tr = [np.sort(rng.uniform(0, 200, rng.poisson(2000))) for _ in range(2)]
    st = st_of(tr, 0.0, 200.0)
    assert abs(sttc(st, 0, 1, 0.005)) < 0.035
    # and a jittered copy is strongly correlated
    jit = np.clip(tr[0] + rng.uniform(-0.002, 0.002, tr[0].size), 0, 200)
    st2 = st_of([tr[0], np.sort(jit)], 0.0, 200.0)
    assert sttc(st2, 0, 1, 0.005) > 0.99


def test_sttc_matrix_equals_pairwise_sttc():
    trains = random_trains(8, n=7)
    trains.append(np.array([]))
    st = st_of(trains)
    M = sttc_matrix(st, 0.01)
    assert M.shape == (8, 8)
    for i in range(7):
        for j in range(7):
            assert M[i, j] == pytest.approx(sttc(st, i, j, 0.01), rel=1e-12, abs=1e-15)
    np.testing.assert_array_equal(M, M.T)
    np.testing.assert_array_equal(np.diag(M)[:7], 1.0)
    assert np.isnan(M[7]).all() and np.isnan(M[:, 7]).all()
    assert np.nanmax(np.abs(M)) <= 1.0


def test_sttc_window_is_closed_at_dt():
    # |t_a - t_b| == dt exactly (binary-exact values) counts as "within dt", as in Cutts'
    # C code (<=) and Elephant (isclose); a hair further does not.
    st = SpikeTrains.from_list([[0.25, 0.75], [0.5]], t_stop=1.0)
    nt = to_neo([np.array([0.25, 0.75]), np.array([0.5])], 0.0, 1.0)
    ref = spike_time_tiling_coefficient(nt[0], nt[1], dt=0.25 * pq.s)
    assert sttc(st, 0, 1, 0.25) == pytest.approx(ref, rel=1e-12)
    assert sttc_matrix(st, 0.25)[0, 1] == pytest.approx(ref, rel=1e-12)
    # P_A = P_B = 1 here; with dt slightly smaller both drop to 0
    assert sttc(st, 0, 1, 0.25 - 1e-9) < 0 and sttc_matrix(st, 0.25 - 1e-9)[0, 1] < 0
    # one neighbour exactly dt away, the one on the other side further away
    for a, b in (([0.625], [0.375, 1.0]), ([0.375], [0.0, 0.625])):
        a, b = np.array(a), np.array(b)
        st = SpikeTrains.from_list([a, b], t_stop=1.0)
        nt = to_neo([a, b], 0.0, 1.0)
        for i, j in ((0, 1), (1, 0)):
            ref = spike_time_tiling_coefficient(nt[i], nt[j], dt=0.25 * pq.s)
            assert sttc(st, i, j, 0.25) == pytest.approx(ref, rel=1e-12)
            assert sttc_matrix(st, 0.25)[i, j] == pytest.approx(ref, rel=1e-12)


def test_cch_units_invariance():
    trains = random_trains(6)
    c_s, lags_s = cross_correlogram(st_of(trains), 0, 1, 0.01, window=0.2)
    c_ms, lags_ms = cross_correlogram(to_neo(trains, unit="ms"), 0, 1, 10 * pq.ms, window=200 * pq.ms)
    np.testing.assert_array_equal(c_ms, c_s)
    np.testing.assert_allclose(lags_ms, lags_s, rtol=1e-12, atol=1e-15)
