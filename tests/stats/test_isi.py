"""ISI statistics: Elephant 1.2 as the oracle (isi, cv = scipy.stats.variation, cv2, lv),
closed forms for Poisson and regular trains, edge cases and unit invariance.

Tolerance against Elephant: rtol 1e-6 (the agreement target; the formulas are the
same, only the summation order differs, so real differences are ~1e-15).
"""
import warnings

import neo
import numpy as np
import pytest
import quantities as pq
from elephant import statistics as es

from neuromod.spikes import SpikeTrains
from neuromod.stats.isi import cv, cv2, isis, lv, per_train

RTOL = 1e-6


def edge_case_trains(seed):
    """Trains with 0, 1, 2, 3 and many spikes, spikes on t_start and t_stop, window [0.5, 3]."""
    rng = np.random.default_rng(seed)
    t0, t1 = 0.5, 3.0
    trains = [np.array([]), np.array([1.0]), np.array([1.0, 2.0]), np.array([0.7, 1.1, 2.9]),
              np.array([t0, 1.3, 2.2, t1]),                     # spikes on both edges
              np.array([t0, t0 + 1e-3, t1 - 1e-3, t1])]
    for _ in range(12):
        k = int(rng.integers(3, 200))
        trains.append(np.sort(rng.uniform(t0, t1, k)))
    return SpikeTrains.from_list(trains, t_start=t0, t_stop=t1), trains


def elephant_or_nan(fn, train):
    if train.size < 3:
        return np.nan
    return fn(es.isi(train))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cv_cv2_lv_match_elephant(seed):
    st, trains = edge_case_trains(seed)
    for ours, ref in ((cv, es.cv), (cv2, es.cv2), (lv, es.lv)):
        expected = np.array([elephant_or_nan(ref, t) for t in trains])
        got = ours(st)
        assert got.shape == (len(trains),)
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0, equal_nan=True)
        assert np.isnan(got[:3]).all() and np.isfinite(got[3:]).all()


def test_isis_flat_and_offsets_match_per_train_diff():
    st, trains = edge_case_trains(5)
    values, offsets = isis(st)
    assert offsets.shape == (len(trains) + 1,)
    for i, t in enumerate(trains):
        np.testing.assert_array_equal(values[offsets[i]:offsets[i + 1]], es.isi(t))
    assert offsets[-1] == sum(max(t.size - 1, 0) for t in trains)


def test_per_train_agrees_with_the_single_functions():
    st, trains = edge_case_trains(7)
    s = per_train(st)
    assert s["n_spikes"].tolist() == [t.size for t in trains]
    np.testing.assert_allclose(s["rate_hz"], [t.size / 2.5 for t in trains], rtol=1e-12)
    for key, fn in (("cv", cv), ("cv2", cv2), ("lv", lv)):
        np.testing.assert_array_equal(s[key], fn(st))


def test_units_invariance_ms_neo_trains_give_the_same_result():
    st, trains = edge_case_trains(3)
    ms = [neo.SpikeTrain(t * 1000.0, units="ms", t_start=500.0 * pq.ms, t_stop=3000.0 * pq.ms)
          for t in trains]
    for fn in (cv, cv2, lv):
        np.testing.assert_allclose(fn(ms), fn(st), rtol=RTOL, equal_nan=True)
    # Elephant on the ms trains agrees too (dimensionless results).
    got = cv2(ms)
    exp = [elephant_or_nan(es.cv2, t.magnitude) for t in ms]
    np.testing.assert_allclose(got, exp, rtol=RTOL, equal_nan=True)


def test_three_coincident_spikes_give_nan_like_elephant():
    trains = [np.array([0.1, 0.2, 0.2, 0.2, 0.5]), np.array([0.1, 0.4, 0.4, 0.9])]
    st = SpikeTrains.from_list(trains, t_stop=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        exp_cv2 = [es.cv2(es.isi(t)) for t in trains]
        exp_lv = [es.lv(es.isi(t)) for t in trains]
    np.testing.assert_allclose(cv2(st), exp_cv2, rtol=RTOL, equal_nan=True)
    np.testing.assert_allclose(lv(st), exp_lv, rtol=RTOL, equal_nan=True)
    assert np.isnan(cv2(st)[0]) and np.isfinite(cv2(st)[1])


def test_regular_train_has_zero_variability():
    # Dyadic spacing: every interval is exactly 0.125 s, so CV, CV2, LV are exactly 0.
    st = SpikeTrains.from_list([np.arange(40) * 0.125], t_stop=5.0)
    assert cv(st)[0] == 0.0 and cv2(st)[0] == 0.0 and lv(st)[0] == 0.0
    # Decimal spacing: intervals differ by float rounding only.
    st = SpikeTrains.from_list([np.arange(1000) * 0.01], t_stop=10.0)
    assert cv(st)[0] < 1e-9 and cv2(st)[0] < 1e-9 and lv(st)[0] < 1e-9


def test_poisson_trains_have_cv_cv2_lv_near_one():
    # 50 trains x 2000 exponential ISIs (seeded). Delta method for exponential ISIs:
    # sd(CV_hat) = 1/sqrt(n) (mu3 = 2, mu4 = 9). For iid exponentials
    # (I1 - I2)/(I1 + I2) ~ U(-1, 1), so LV terms 3U^2 have mean 1, var 0.8 and CV2
    # terms 2|U| mean 1, var 1/3; neighbouring terms share an interval (1-dependent),
    # so var(mean) <= 3 var(term)/n. Each train is checked at 5 sd and the
    # population mean at 5 sd of the mean.
    rng = np.random.default_rng(42)
    n_isi, n_tr = 2000, 50
    isi_ = rng.exponential(0.05, size=(n_tr, n_isi))
    trains = np.cumsum(isi_, axis=1)
    st = SpikeTrains.from_list(list(trains), t_stop=float(trains.max()) + 1.0)
    n = n_isi
    for fn, sd in ((cv, 1 / np.sqrt(n)), (cv2, np.sqrt(3 * (1 / 3) / (n - 1))),
                   (lv, np.sqrt(3 * 0.8 / (n - 1)))):
        v = fn(st)
        assert np.all(np.abs(v - 1) < 5 * sd), (fn.__name__, v.min(), v.max())
        assert abs(v.mean() - 1) < 5 * sd / np.sqrt(n_tr), (fn.__name__, v.mean())


def test_gamma_process_cv_closed_form():
    # Gamma(k) renewal ISIs: CV = 1/sqrt(k) and LV = 3/(2k + 1) (Shinomoto et al. 2003).
    rng = np.random.default_rng(3)
    k = 4.0
    isi_ = rng.gamma(k, 0.01, size=(20, 5000))
    trains = np.cumsum(isi_, axis=1)
    st = SpikeTrains.from_list(list(trains), t_stop=float(trains.max()) + 1.0)
    # 20 trains pooled: 1e5 intervals; sd of the mean CV ~ 0.5/sqrt(1e5) ~ 0.0016,
    # sd of mean LV < sqrt(3 * 0.3 / 1e5) ~ 0.003; 0.02 is > 5 sd for both.
    assert abs(cv(st).mean() - 1 / np.sqrt(k)) < 0.02
    assert abs(lv(st).mean() - 3 / (2 * k + 1)) < 0.02


def test_accepts_lists_and_has_no_per_train_python_objects():
    out = cv([[0.0, 0.1, 0.3], [0.2, 0.4, 0.6, 0.9]])
    assert out.shape == (2,)
    exp = [es.cv(np.diff([0.0, 0.1, 0.3])), es.cv(np.diff([0.2, 0.4, 0.6, 0.9]))]
    np.testing.assert_allclose(out, exp, rtol=RTOL)


def test_no_trains_and_no_spikes():
    st = SpikeTrains.from_list([[], []], t_stop=1.0)
    for fn in (cv, cv2, lv):
        assert np.isnan(fn(st)).all() and fn(st).shape == (2,)
    values, offsets = isis(st)
    assert values.size == 0 and offsets.tolist() == [0, 0, 0]
