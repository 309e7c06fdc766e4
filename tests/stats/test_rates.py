"""Rates and counts: Elephant 1.2 as the oracle (mean_firing_rate, fanofactor,
BinnedSpikeTrain, time_histogram, optimal_kernel_bandwidth, instantaneous_rate),
closed forms (Poisson Fano -> 1, exact count distributions), conservation of the
spike count under kernel smoothing, and unit invariance.

Tolerance against Elephant: rtol 1e-6 (the agreement target; the computations are
the same operations in the same order, real differences are ~1e-12), atol 1e-9 Hz
where Elephant's rate is ~0 (FFT round-off around zero).
"""
import neo
import numpy as np
import pytest
import quantities as pq
from elephant import kernels
from elephant import statistics as es
from elephant.conversion import BinnedSpikeTrain

from neuromod.errors import SpikeDataError
from neuromod.spikes import SpikeTrains
from neuromod.stats.rates import (bin_counts, fano_factor, instantaneous_rate, mean_rates,
                                  optimal_kernel_bandwidth, psth, time_histogram,
                                  windowed_fano_factor)

RTOL = 1e-6
T0, T1 = 0.5, 3.0


def random_trains(seed, n=10, max_count=60, t0=T0, t1=T1):
    """Sorted trains with 0..max_count spikes; the first ones are edge cases."""
    rng = np.random.default_rng(seed)
    out = [np.array([]), np.array([t0]), np.array([t0, t1]), np.array([1.0, 1.5, t1])]
    for _ in range(n):
        out.append(np.sort(rng.uniform(t0, t1, int(rng.integers(3, max_count)))))
    return out


def to_neo(trains, t0=T0, t1=T1, unit="s"):
    f = 1000.0 if unit == "ms" else 1.0
    return [neo.SpikeTrain(t * f, units=unit, t_start=t0 * f, t_stop=t1 * f) for t in trains]


def st_of(trains, t0=T0, t1=T1):
    return SpikeTrains.from_list(trains, t_start=t0, t_stop=t1)


# ---------------------------------------------------------------------- counts
def test_mean_rates_match_elephant():
    trains = random_trains(0)
    exp = [es.mean_firing_rate(s).rescale("Hz").magnitude.item() for s in to_neo(trains)]
    np.testing.assert_allclose(mean_rates(st_of(trains)), exp, rtol=RTOL)
    np.testing.assert_allclose(mean_rates(to_neo(trains, unit="ms")), exp, rtol=RTOL)


@pytest.mark.parametrize("seed", [0, 1])
def test_fano_factor_matches_elephant(seed):
    trains = random_trains(seed)
    assert fano_factor(st_of(trains)) == pytest.approx(es.fanofactor(to_neo(trains)), rel=RTOL)
    assert fano_factor(to_neo(trains, unit="ms")) == pytest.approx(
        es.fanofactor(to_neo(trains)), rel=RTOL)


def test_fano_factor_empty_cases_are_nan_like_elephant():
    assert np.isnan(es.fanofactor([]))
    assert np.isnan(fano_factor(SpikeTrains.from_list([], t_stop=1.0)))
    empty = [np.array([]), np.array([])]
    assert np.isnan(es.fanofactor(to_neo(empty)))
    assert np.isnan(fano_factor(st_of(empty)))
    one = [np.array([1.0, 2.0])]
    assert fano_factor(st_of(one)) == es.fanofactor(to_neo(one)) == 0.0


def test_fano_factor_of_poisson_counts_is_one():
    # 4000 trials with Poisson(20) counts. For Poisson counts var(s^2) ~ (lam + 2 lam^2)/n,
    # so sd(F) ~ sqrt((1/lam + 2)/n) = 0.023; tolerance 0.115 = 5 sd.
    rng = np.random.default_rng(11)
    n = 4000
    counts = rng.poisson(20, n)
    times = rng.uniform(0, 1, counts.sum())
    ids = np.repeat(np.arange(n), counts)
    st = SpikeTrains(times, ids, t_start=0.0, t_stop=1.0, n_trains=n, sort=True)
    assert fano_factor(st) == pytest.approx(counts.var() / counts.mean(), rel=1e-12)
    assert abs(fano_factor(st) - 1) < 0.115


def test_windowed_fano_closed_form():
    # Four trials whose count in every 0.1-s bin is 0, 1, 2 and 3: per-bin mean 1.5,
    # variance (ddof 0) 1.25, so F = 5/6 in every bin and in aggregate.
    trials = [np.concatenate([k * 0.1 + 0.01 + 0.02 * np.arange(c) for k in range(5)])
              for c in range(4)]
    res = windowed_fano_factor(st_of(trials, 0.0, 0.5), 0.1, return_per_bin=True)
    assert res.fano == pytest.approx(5 / 6, rel=1e-12)
    np.testing.assert_allclose(res.per_bin, 5 / 6, rtol=1e-12)
    np.testing.assert_allclose(res.bin_edges, np.arange(6) * 0.1, atol=1e-12)


def test_windowed_fano_matches_numpy_histogram_and_aggregate_definition():
    trials = random_trains(4, n=15)
    res = windowed_fano_factor(st_of(trials), 0.25, return_per_bin=True)
    assert windowed_fano_factor(st_of(trials), 0.25) == res.fano
    edges = T0 + 0.25 * np.arange(11)
    # independent binning: np.histogram on the 10 whole bins (no spike on an inner edge here)
    c = np.array([np.histogram(t[t < T1], edges)[0] for t in trials], dtype=float)
    m, v = c.mean(0), c.var(0)
    np.testing.assert_allclose(res.per_bin, v / m, rtol=1e-12)
    assert res.fano == pytest.approx(v.sum() / m.sum(), rel=1e-12)


def test_windowed_fano_of_inhomogeneous_poisson_is_one():
    # 400 trials of a Poisson process with rate 20 + 15 sin(2 pi t) Hz on [0, 4] s, 40 bins
    # of 0.1 s (mean count 2 per bin). The per-bin estimate has sd ~ sqrt((1/m + 2)/R)
    # ~ 0.079; the pooled ratio over 40 bins has sd < 0.079/sqrt(40) * 1.3 ~ 0.016
    # (the 1.3 covers unequal bin weights); tolerance 0.08 = 5 sd.
    rng = np.random.default_rng(8)
    R, T = 400, 4.0
    lam_max = 35.0
    trials = []
    for _ in range(R):
        t = np.sort(rng.uniform(0, T, rng.poisson(lam_max * T)))
        keep = rng.uniform(0, lam_max, t.size) < 20 + 15 * np.sin(2 * np.pi * t)
        trials.append(t[keep])
    st = SpikeTrains.from_list(trials, t_start=0.0, t_stop=T,
                               annotations={"unit": np.full(R, 7), "trial": np.arange(R)})
    assert abs(windowed_fano_factor(st, 0.1, unit=7) - 1) < 0.08
    with pytest.raises(SpikeDataError, match="no trains of unit 3"):
        windowed_fano_factor(st, 0.1, unit=3)


# ---------------------------------------------------------------------- binning, PSTH
@pytest.mark.parametrize("bin_size", [0.1, 0.25, 0.3, 0.0137])
def test_bin_counts_match_elephant_binned_spike_train(bin_size):
    trains = random_trains(2)
    trains.append(T0 + bin_size * np.arange(4))          # spikes exactly on bin edges
    bst = BinnedSpikeTrain(to_neo(trains), bin_size=bin_size * pq.s)
    counts, edges = bin_counts(st_of(trains), bin_size)
    np.testing.assert_array_equal(counts, bst.to_array())
    np.testing.assert_allclose(edges, bst.bin_edges.rescale("s").magnitude, rtol=1e-12)
    ms, _ = bin_counts(to_neo(trains, unit="ms"), bin_size * pq.s)
    np.testing.assert_array_equal(ms, counts)
    b, _ = bin_counts(st_of(trains), bin_size, binary=True)
    np.testing.assert_array_equal(b, bst.to_bool_array().astype(int))


@pytest.mark.parametrize("output", ["counts", "mean", "rate"])
@pytest.mark.parametrize("binary", [False, True])
def test_time_histogram_matches_elephant(output, binary):
    trains = random_trains(3)
    ref = es.time_histogram(to_neo(trains), 0.05 * pq.s, output=output, binary=binary)
    h, edges = time_histogram(st_of(trains), 0.05, output=output, binary=binary)
    np.testing.assert_allclose(h, ref.magnitude.ravel(), rtol=RTOL)
    np.testing.assert_allclose(edges[:-1], ref.times.rescale("s").magnitude, rtol=1e-12)
    # a sub-window
    ref = es.time_histogram(to_neo(trains), 0.1 * pq.s, t_start=1.0 * pq.s, t_stop=2.0 * pq.s,
                            output=output, binary=binary)
    h, _ = time_histogram(st_of(trains), 0.1, 1.0, 2.0, output=output, binary=binary)
    np.testing.assert_allclose(h, ref.magnitude.ravel(), rtol=RTOL)


def test_psth_is_the_rate_histogram_and_sums_to_the_counts():
    trains = random_trains(6)
    r, edges = psth(st_of(trains), 0.1 * pq.s)
    h, _ = time_histogram(st_of(trains), 0.1, output="counts")
    np.testing.assert_allclose(r * len(trains) * 0.1, h, rtol=1e-12)
    # conservation: whole bins cover [0.5, 3.0] exactly (25 bins); only spikes at t_stop drop
    n_in = sum(int(np.sum(t < T1 - 1e-12)) for t in trains)
    assert h.sum() == n_in


# ---------------------------------------------------------------------- kernel rates
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimal_bandwidth_matches_elephant(seed):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 10, 40 + 30 * seed))
    ref = es.optimal_kernel_bandwidth(t, bootstrap=False)["optw"]
    assert optimal_kernel_bandwidth([t]) == pytest.approx(ref, rel=RTOL)


def test_optimal_bandwidth_needs_two_distinct_spikes():
    with pytest.raises(SpikeDataError, match="two distinct spike times"):
        optimal_kernel_bandwidth(SpikeTrains.from_list([[0.5, 0.5]], t_stop=1.0))


def test_instantaneous_rate_auto_kernel_matches_elephant():
    rng = np.random.default_rng(5)
    t = np.sort(rng.uniform(T0, T1, 50))
    ref = es.instantaneous_rate(to_neo([t])[0], 1 * pq.ms)
    rate, times = instantaneous_rate(st_of([t]), 0.001)
    assert rate.shape == ref.shape == (2500, 1)
    np.testing.assert_allclose(rate, ref.magnitude, rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(times, ref.times.rescale("s").magnitude, rtol=1e-12)


@pytest.mark.parametrize("kw", [
    {},
    {"trim": True},
    {"cutoff": 2.0},                       # raised to the Gaussian's min_cutoff 3, as Elephant
    {"t_start": 0.0 * pq.s, "t_stop": 4.0 * pq.s},
    {"border_correction": True},
])
def test_instantaneous_rate_gaussian_matches_elephant(kw):
    trains = random_trains(1)
    sigma = 0.03
    with pytest.warns(UserWarning) if kw.get("cutoff") == 2.0 else _nullcontext():
        ref = es.instantaneous_rate(to_neo(trains), 2 * pq.ms,
                                    kernel=kernels.GaussianKernel(sigma * pq.s), **kw)
    ours_kw = {k: v for k, v in kw.items()}
    rate, times = instantaneous_rate(st_of(trains), 0.002, kernel=sigma, **ours_kw)
    np.testing.assert_allclose(rate, ref.magnitude, rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(times, ref.times.rescale("s").magnitude, rtol=1e-12, atol=1e-12)
    # the same trains in ms give the same result (seconds inside)
    rate_ms, _ = instantaneous_rate(to_neo(trains, unit="ms"), 2 * pq.ms, kernel=30 * pq.ms, **ours_kw)
    np.testing.assert_allclose(rate_ms, rate, rtol=RTOL, atol=1e-9)


def test_instantaneous_rate_pooled_and_elephant_kernel_object():
    trains = random_trains(2)
    k = kernels.ExponentialKernel(20 * pq.ms)
    ref = es.instantaneous_rate(to_neo(trains), 1 * pq.ms, kernel=k, pool_spike_trains=True)
    rate, _ = instantaneous_rate(st_of(trains), 0.001, kernel=k, pool=True)
    assert rate.shape == (2500,)
    np.testing.assert_allclose(rate, ref.magnitude.ravel(), rtol=RTOL, atol=1e-9)
    k = kernels.AlphaKernel(15 * pq.ms)
    ref = es.instantaneous_rate(to_neo(trains), 1 * pq.ms, kernel=k, trim=True)
    rate, times = instantaneous_rate(st_of(trains), 0.001, kernel=k, trim=True)
    np.testing.assert_allclose(rate, ref.magnitude, rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(times, ref.times.rescale("s").magnitude, rtol=1e-12)


def test_instantaneous_rate_conserves_the_spike_count():
    # Spikes at least 6 sigma from the edges: the sampled Gaussian (5 sigma cutoff, grid
    # step <= sigma/10) integrates to 1 up to its tail mass 5.7e-7 and the Riemann error
    # of a smooth kernel (<< 1e-6), so sum(rate) * dt equals the count to 1e-5.
    rng = np.random.default_rng(9)
    trains = [np.sort(rng.uniform(1.0, 2.0, k)) for k in (1, 5, 30)]
    rate, _ = instantaneous_rate(st_of(trains, 0.0, 3.0), 0.001, kernel=0.02)
    np.testing.assert_allclose(rate.sum(axis=0) * 0.001, [1, 5, 30], rtol=1e-5)


def test_instantaneous_rate_counts_whole_sampling_periods_with_tolerance():
    # Documented difference: 0.3 s / 0.1 s is 2.9999999999999996 in floating point;
    # Elephant truncates it to 2 bins, neuromod counts 3.
    st = SpikeTrains.from_list([[0.05, 0.15, 0.25]], t_stop=0.3)
    rate, times = instantaneous_rate(st, 0.1, kernel=0.1)
    assert rate.shape == (3, 1)
    np.testing.assert_allclose(times, [0.0, 0.1, 0.2], atol=1e-12)


def test_instantaneous_rate_rejects_bad_input():
    st = SpikeTrains.from_list([[0.1, 0.2]], t_stop=1.0)
    with pytest.raises(ValueError, match="kernel must be"):
        instantaneous_rate(st, 0.01, kernel="boxcar")
    with pytest.raises(SpikeDataError, match="sampling_period must be"):
        instantaneous_rate(st, -0.01, kernel=0.1)
    with pytest.raises(SpikeDataError, match="longer than the window"):
        instantaneous_rate(st, 0.01, kernel=0.5, trim=True)


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def test_auto_kernel_on_several_trains_pools_their_spikes():
    # Elephant refuses 'auto' for several trains; neuromod estimates one bandwidth from the
    # pooled spike times (Elephant's optimal_kernel_bandwidth of the sorted pooled times).
    trains = random_trains(3)[4:8]
    pooled = np.sort(np.concatenate(trains))
    sigma = es.optimal_kernel_bandwidth(pooled, bootstrap=False)["optw"]
    assert optimal_kernel_bandwidth(st_of(trains)) == pytest.approx(sigma, rel=RTOL)
    auto, _ = instantaneous_rate(st_of(trains), 0.002)
    ref = es.instantaneous_rate(to_neo(trains), 2 * pq.ms, kernel=kernels.GaussianKernel(sigma * pq.s))
    np.testing.assert_allclose(auto, ref.magnitude, rtol=RTOL, atol=1e-9)
