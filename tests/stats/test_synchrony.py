"""ISI-distance, SPIKE-distance and SPIKE-synchronization: PySpike 0.9 as the oracle
(trains' edges = [t_start, t_stop]), closed forms, invariances and units.

Tolerance rtol 1e-6 against PySpike (the agreement target; the kernels are ports of
PySpike's Cython code, so differences are float rounding, ~1e-15 in practice), plus
atol 1e-12 where PySpike's value is exactly 0.
"""
import numpy as np
import pyspike as spk
import pytest
import quantities as pq

from neuromod.errors import NeuromodError
from neuromod.spikes import SpikeTrains
from neuromod.stats.synchrony import isi_distance, spike_distance, spike_sync

T0, T1 = 0.5, 2.5


def random_trains(seed, n=8, max_count=20, grid=None, t0=T0, t1=T1):
    """n sorted trains with 0..max_count spikes in [t0, t1]; on a grid of ``grid``
    points when given (coincident spikes across trains, spikes on both edges)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(0, max_count + 1))
        if grid is None:
            out.append(np.sort(rng.uniform(t0, t1, k)))
        else:
            pts = np.linspace(t0, t1, grid)
            out.append(np.sort(rng.choice(pts, min(k, grid), replace=False)))
    return SpikeTrains.from_list(out, t_start=t0, t_stop=t1)


def edge_trains():
    """Empty, single spikes (on either edge and inside), edges only, identical and
    coincident trains, a train with a repeated spike time."""
    trains = [[], [], [T0], [T1], [1.0], [T0, T1], [T0, 1.0, 1.5, 2.0, T1],
              [T0, 1.0, 1.5, 2.0, T1], [1.0, 1.7, 2.4], [1.0, 1.5, 2.4, T1],
              [0.7, 0.7, 1.2], [1.2, 1.2]]
    return SpikeTrains.from_list(trains, t_start=T0, t_stop=T1)


def to_pyspike(st):
    return [spk.SpikeTrain(tr, [st.t_start, st.t_stop]) for tr in st.to_list()]


CASES = [random_trains(0), random_trains(1, max_count=3), random_trains(2, grid=25),
         random_trains(3, n=6, max_count=40, grid=60), edge_trains()]
IDS = ["uniform", "sparse", "grid", "dense-grid", "edges"]


@pytest.mark.parametrize("st", CASES, ids=IDS)
def test_isi_distance_matches_pyspike(st):
    np.testing.assert_allclose(isi_distance(st), spk.isi_distance_matrix(to_pyspike(st)),
                               rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("st", CASES, ids=IDS)
def test_spike_distance_matches_pyspike(st):
    np.testing.assert_allclose(spike_distance(st), spk.spike_distance_matrix(to_pyspike(st)),
                               rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("st", CASES, ids=IDS)
def test_spike_sync_matches_pyspike(st):
    np.testing.assert_allclose(spike_sync(st), spk.spike_sync_matrix(to_pyspike(st)),
                               rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("st", [CASES[0], CASES[2], CASES[4]], ids=["uniform", "grid", "edges"])
def test_adaptive_and_rate_independent_variants_match_pyspike(st):
    tr = to_pyspike(st)
    mrts = 0.15
    np.testing.assert_allclose(isi_distance(st, mrts=mrts),
                               spk.isi_distance_matrix(tr, MRTS=mrts), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(spike_distance(st, mrts=mrts),
                               spk.spike_distance_matrix(tr, MRTS=mrts), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(spike_distance(st, mrts=mrts, rate_independent=True),
                               spk.spike_distance_matrix(tr, MRTS=mrts, RI=True),
                               rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(spike_distance(st, rate_independent=True),
                               spk.spike_distance_matrix(tr, RI=True), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(spike_sync(st, mrts=mrts),
                               spk.spike_sync_matrix(tr, MRTS=mrts), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(spike_sync(st, max_tau=0.02),
                               spk.spike_sync_matrix(tr, max_tau=0.02), rtol=1e-6, atol=1e-12)


def test_closed_forms():
    st = SpikeTrains.from_list([[0.25, 0.5, 0.75], [0.5], [0.25, 0.5, 0.75], [], []],
                               t_stop=1.0)
    isi = isi_distance(st)
    # ISIs are 0.25 vs 0.5 over the whole window (edge-corrected): |0.25-0.5|/0.5
    assert isi[0, 1] == pytest.approx(0.5, rel=1e-12)
    assert isi[0, 2] == 0.0 and isi[3, 4] == 0.0
    sd = spike_distance(st)
    assert sd[0, 2] == 0.0 and sd[3, 4] == 0.0
    ss = spike_sync(st)
    assert ss[0, 2] == 1.0 and ss[3, 4] == 1.0  # identical; two empty trains: 1 by convention
    assert ss[0, 3] == 0.0 and ss[1, 4] == 0.0  # nothing to coincide with
    # two of three spikes coincide on each side: C = 4, M = 6
    st2 = SpikeTrains.from_list([[0.1, 0.5, 0.9], [0.11, 0.52, 0.7]], t_stop=1.0)
    assert spike_sync(st2)[0, 1] == pytest.approx(4 / 6, rel=1e-12)


def test_spike_distance_of_single_spikes_against_hand_integration():
    # One spike each, at a = 0.4 and b = 0.6 in [0, 1] (auxiliary spikes at the edges).
    # Every spike (edges included) is delta = 0.2 from the nearest spike of the other
    # train, so S_x = S_y = delta and S(t) = delta / <nu>, <nu> the mean of the two
    # ISIs containing t: 0.5 on [0, 0.4], 0.6 on [0.4, 0.6], 0.5 on [0.6, 1].
    a, b, delta = 0.4, 0.6, 0.2
    st = SpikeTrains.from_list([[a], [b]], t_stop=1.0)
    expected = delta / 0.5 * 0.4 + delta / 0.6 * 0.2 + delta / 0.5 * 0.4  # = 29/75
    assert spike_distance(st)[0, 1] == pytest.approx(expected, rel=1e-12)
    # and PySpike's pure-Python backend (separate from the Cython code the kernels port)
    from pyspike.cython.python_backend import spike_distance_python
    times, y0, y1 = spike_distance_python(np.array([a]), np.array([b]), 0.0, 1.0, 0.0, False)
    assert np.sum(0.5 * (y0 + y1) * np.diff(times)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("f", [isi_distance, spike_distance, spike_sync])
def test_matrix_properties(f):
    st = random_trains(11, n=10)
    m = f(st)
    assert m.shape == (10, 10) and m.dtype == np.float64
    np.testing.assert_array_equal(m, m.T)
    assert np.all((m >= 0) & (m <= 1)) and np.all(np.isfinite(m))
    np.testing.assert_array_equal(np.diag(m), 1.0 if f is spike_sync else 0.0)


@pytest.mark.parametrize("f", [isi_distance, spike_distance, spike_sync])
def test_shift_scale_and_unit_invariance(f):
    st = random_trains(12)
    ref = f(st)
    c, shift = 4.0, -3.0  # affine time change of spikes and window leaves the measures unchanged
    moved = SpikeTrains.from_list([tr * c + shift for tr in st.to_list()],
                                  t_start=T0 * c + shift, t_stop=T1 * c + shift)
    np.testing.assert_allclose(f(moved), ref, rtol=1e-9, atol=1e-12)
    ms = [tr * 1000.0 * pq.ms for tr in st.to_list()]
    np.testing.assert_allclose(f(ms, t_start=T0 * 1000 * pq.ms, t_stop=T1 * 1000 * pq.ms),
                               ref, rtol=1e-12, atol=1e-15)


def test_window_override_cuts_the_trains():
    st = random_trains(13, n=5)
    cut = st.time_slice(1.0, 2.0)
    for f in (isi_distance, spike_distance, spike_sync):
        np.testing.assert_array_equal(f(st, t_start=1.0, t_stop=2.0), f(cut))
        np.testing.assert_allclose(f(cut), getattr(spk, f.__name__ + "_matrix")(to_pyspike(cut)),
                                   rtol=1e-6, atol=1e-12)


def test_repeated_spikes_count_once_as_in_pyspike():
    binned = SpikeTrains.from_binned(np.array([[2, 0, 1, 3], [1, 1, 0, 2], [0, 0, 0, 0]]), 0.1)
    unique = SpikeTrains.from_list([np.unique(tr) for tr in binned.to_list()],
                                   t_start=binned.t_start, t_stop=binned.t_stop)
    for f in (isi_distance, spike_distance, spike_sync):
        np.testing.assert_array_equal(f(binned), f(unique))


def test_small_populations():
    st0 = SpikeTrains([], [], t_stop=1.0, n_trains=0)
    for f in (isi_distance, spike_distance, spike_sync):
        assert f(st0).shape == (0, 0)
    st1 = SpikeTrains.from_list([[0.3]], t_stop=1.0)
    assert isi_distance(st1).tolist() == [[0.0]]
    assert spike_sync(st1).tolist() == [[1.0]]


@pytest.mark.parametrize("kw", [{"mrts": -0.1}, {"mrts": np.inf}, {"mrts": np.nan}])
def test_bad_parameters(kw):
    st = edge_trains()
    for f in (isi_distance, spike_distance, spike_sync):
        with pytest.raises(NeuromodError, match="mrts must be"):
            f(st, **kw)
    with pytest.raises(NeuromodError, match="max_tau must be"):
        spike_sync(st, max_tau=-1.0)


@pytest.mark.parametrize("n", [1, 3, 7])
def test_odd_populations_and_thread_split(monkeypatch, n):
    # pairs are split into folds of rows (r, n-1-r): odd n leaves a middle row alone
    from neuromod.stats import _kernels
    st = random_trains(30 + n, n=n)
    tr = to_pyspike(st)
    funcs = (isi_distance, spike_distance, spike_sync)
    one = [f(st) for f in funcs]
    if n > 1:
        for f, m in zip(funcs, one):
            np.testing.assert_allclose(m, getattr(spk, f.__name__ + "_matrix")(tr),
                                       rtol=1e-6, atol=1e-12)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_WORK", 0)
    for f, m in zip(funcs, one):
        np.testing.assert_array_equal(f(st), m)


def _sync_plain(s1, s2, t_start, t_end, max_tau, mrts):
    """PySpike's ``coincidence_value_cython`` and ``get_tau`` as branches, in Python."""
    def interp(a, b, t):
        if t < a and a < b:
            return a
        if t < b and b <= a:
            return b
        if t > b:
            return b
        return t

    def tau(i, j):
        mF1 = mP1 = mF2 = mP2 = true_max
        if -1 < i < len(s1) - 1:
            mF1 = s1[i + 1] - s1[i]
        if -1 < j < len(s2) - 1:
            mF2 = s2[j + 1] - s2[j]
        if i > 0:
            mP1 = s1[i] - s1[i - 1]
        if j > 0:
            mP2 = s2[j] - s2[j - 1]
        mF1, mF2, mP1, mP2, m = mF1 / 2.0, mF2 / 2.0, mP1 / 2.0, mP2 / 2.0, mrts / 4.0
        if i < 0 or j < 0 or s1[i] <= s2[j]:
            return min(interp(mP1, mF1, m), interp(mF2, mP2, m))
        return min(interp(mF1, mP1, m), interp(mP2, mF2, m))

    N1, N2 = len(s1), len(s2)
    true_max = t_end - t_start
    if max_tau > 0:
        true_max = min(true_max, 2 * max_tau)
    i = j = -1
    coinc = 0
    while i + j < N1 + N2 - 2:
        if i < N1 - 1 and (j == N2 - 1 or s1[i + 1] < s2[j + 1]):
            i += 1
            if j > -1 and s1[i] - s2[j] < tau(i, j):
                coinc += 2
        elif j < N2 - 1 and (i == N1 - 1 or s1[i + 1] > s2[j + 1]):
            j += 1
            if i > -1 and s2[j] - s1[i] < tau(i, j):
                coinc += 2
        else:
            i += 1
            j += 1
            coinc += 2
    return 1.0 if N1 + N2 == 0 else coinc / (N1 + N2)


@pytest.mark.parametrize("max_tau,mrts", [(None, 0.0), (0.02, 0.0), (None, 0.15), (0.05, 0.4)])
def test_spike_sync_equals_pyspikes_branches_bit_for_bit(max_tau, mrts):
    # the kernel chooses the coincidence window with selects: same decisions, same values
    for st in (CASES[0], CASES[2], CASES[3], CASES[4]):
        trains = [np.unique(t) for t in st.to_list()]
        s = spike_sync(st, max_tau=max_tau, mrts=mrts)
        for i in range(st.n_trains):
            for j in range(i + 1, st.n_trains):
                assert s[i, j] == _sync_plain(trains[i], trains[j], st.t_start, st.t_stop,
                                              max_tau or 0.0, mrts), (i, j)


def test_spike_distance_finite_for_spikes_near_the_smallest_normal_number():
    """Spikes 1e-317 s into a 1 ns window: ISIs in window units near 1e-308, whose
    product underflows; the distance stays finite and equals that of the same trains
    scaled by 1e300 (SPIKE-distance is invariant to the time unit)."""
    import numpy as np
    from neuromod.spikes import SpikeTrains
    from neuromod.stats.synchrony import spike_distance
    tiny = spike_distance(SpikeTrains.from_list([np.array([2.225074e-317]),
                                                 np.array([1.112537e-317])], t_start=0.0,
                                                t_stop=1e-9))
    big = spike_distance(SpikeTrains.from_list([np.array([2.225074e-17]),
                                                np.array([1.112537e-17])], t_start=0.0,
                                               t_stop=1e291))
    assert np.isfinite(tiny).all()
    assert abs(tiny[0, 1] / big[0, 1] - 1) < 1e-6      # subnormals keep ~20 bits
