"""van Rossum and Victor-Purpura distances: Elephant 1.2 as the oracle, closed forms,
a brute-force/grid-integration check from the definitions, metric axioms and units.

Tolerances: rtol 1e-6 against Elephant (the brief's agreement target; both sides are
exact float64 evaluations of the same sums/programme, so agreement is ~1e-12 in
practice). Where Elephant computes a squared distance near 0 as a difference of
sums of ~n terms, its own cancellation error is ~1e-14 * n in d^2, i.e. up to
~1e-6 in d: those comparisons add atol 1e-5 and say so.
"""
import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest
import quantities as pq
from elephant.spike_train_dissimilarity import van_rossum_distance as el_vr
from elephant.spike_train_dissimilarity import victor_purpura_distance as el_vp

from neuromod.errors import NeuromodError
from neuromod.spikes import SpikeTrains
from neuromod.stats.distances import van_rossum_distance, victor_purpura_distance

T = 2.0


def random_trains(seed, n=8, max_count=20, t_stop=T, grid=None):
    """n sorted trains with 0..max_count spikes, uniform on [0, t_stop]; on a grid
    of ``grid`` points when given (then spikes coincide across trains)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(0, max_count + 1))
        if grid is None:
            out.append(np.sort(rng.uniform(0, t_stop, k)))
        else:
            pts = np.linspace(0, t_stop, grid)
            out.append(np.sort(rng.choice(pts, min(k, grid), replace=False)))
    return SpikeTrains.from_list(out, t_start=0.0, t_stop=t_stop)


def edge_trains():
    """Empty, single spikes, spikes at t_start/t_stop, identical and coincident trains."""
    trains = [[], [], [0.0], [T], [1.0], [0.0, T], [0.0, 0.5, 1.0, 1.5, T],
              [0.0, 0.5, 1.0, 1.5, T], [0.5, 1.2, 1.9], [0.5, 1.0, 1.9, T]]
    return SpikeTrains.from_list(trains, t_start=0.0, t_stop=T)


def elephant_vr(st, tau):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Elephant warns when it clips rounding negatives
        return el_vr(st.to_neo(), time_constant=tau * pq.s)


def elephant_vp(st, q):
    return el_vp(st.to_neo(), cost_factor=q * pq.Hz)


# --------------------------------------------------------------------------- van Rossum
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("tau", [0.001, 0.01, 0.1, 1.0])
def test_van_rossum_matches_elephant_on_random_trains(seed, tau):
    st = random_trains(seed)
    np.testing.assert_allclose(van_rossum_distance(st, tau), elephant_vr(st, tau),
                               rtol=1e-6, atol=0)


@pytest.mark.parametrize("tau", [0.01, 0.3])
def test_van_rossum_matches_elephant_on_edge_cases(tau):
    # identical trains (rows 0/1 and 6/7): d^2 is a difference of sums ~10 in both
    # implementations, so each side carries a residue up to ~sqrt(1e-14): atol 1e-5
    st = SpikeTrains.concatenate([edge_trains(), random_trains(5, n=4, grid=41)])
    ours = van_rossum_distance(st, tau)
    np.testing.assert_allclose(ours, elephant_vr(st, tau), rtol=1e-6, atol=1e-5)
    assert ours[0, 1] == 0.0  # two empty trains: no sums at all
    assert ours[6, 7] < 1e-6


def test_van_rossum_tau_inf_is_count_difference_as_elephant():
    st = edge_trains()
    ours = van_rossum_distance(st, np.inf)
    np.testing.assert_array_equal(ours, elephant_vr(st, np.inf))
    c = st.counts
    np.testing.assert_array_equal(ours, np.abs(c[:, None] - c[None, :]))


def test_van_rossum_closed_forms():
    tau, dt = 0.02, 0.013
    st = SpikeTrains.from_list([[], [0.5], [0.5 + dt]], t_stop=1.0)
    d = van_rossum_distance(st, tau)
    assert d[0, 1] == pytest.approx(1.0, rel=1e-12)  # Elephant's normalisation: empty vs one spike
    # two single spikes: d^2 = 2 - 2 exp(-dt/tau)
    assert d[1, 2] == pytest.approx(np.sqrt(2 - 2 * np.exp(-dt / tau)), rel=1e-12)


def test_van_rossum_equals_grid_integral_of_filtered_difference():
    # independent of Elephant: d^2 = (2/tau) * int (f - g)^2 dt with f = sum exp(-(t-t_k)/tau)
    tau = 0.05
    x = np.array([0.1, 0.13, 0.42, 0.8])
    y = np.array([0.11, 0.5, 0.52])
    t = np.linspace(0.0, 0.8 + 40 * tau, 400_001)  # tail e^-40 is negligible
    dt = t[1] - t[0]

    def filt(s):
        lag = t[:, None] - s[None, :]
        return np.where(lag >= 0, np.exp(-np.clip(lag, 0, None) / tau), 0.0).sum(axis=1)

    diff2 = (filt(x) - filt(y)) ** 2
    integral = dt * (diff2.sum() - 0.5 * (diff2[0] + diff2[-1]))  # trapezoid rule
    expected = np.sqrt(2.0 / tau * integral)
    got = van_rossum_distance(SpikeTrains.from_list([x, y], t_stop=1.0), tau)[0, 1]
    # the integrand jumps at spikes; trapezoids on a 2.8 us grid are good to ~1e-4
    assert got == pytest.approx(expected, rel=1e-4)
    # the paper's normalisation (1/tau prefactor) is this divided by sqrt(2)
    assert got / np.sqrt(2) == pytest.approx(np.sqrt(integral / tau), rel=1e-4)


@pytest.mark.parametrize("seed", [2, 3])
def test_van_rossum_metric_axioms(seed):
    st = random_trains(seed, n=12, grid=None)
    d = van_rossum_distance(st, 0.02)
    assert d.dtype == np.float64 and d.shape == (12, 12)
    assert np.all(np.diag(d) == 0) and np.all(d >= 0)
    np.testing.assert_array_equal(d, d.T)
    # triangle inequality over all triples (1e-12: rounding of sqrt of O(10) numbers)
    assert np.all(d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-12)
    off = d[~np.eye(12, dtype=bool)]
    nonempty = st.counts > 0
    assert np.all(off[np.outer(nonempty, nonempty)[~np.eye(12, dtype=bool)]] > 0)


def test_van_rossum_units_and_scaling():
    st = random_trains(4)
    ref = van_rossum_distance(st, 0.01)
    ms = [tr * 1000.0 * pq.ms for tr in st.to_list()]
    np.testing.assert_allclose(van_rossum_distance(ms, 10 * pq.ms), ref, rtol=1e-12)
    # depends on t/tau only: scale times and tau by c -> unchanged (documented)
    c = 7.5
    scaled = SpikeTrains.from_list([tr * c for tr in st.to_list()], t_stop=T * c)
    np.testing.assert_allclose(van_rossum_distance(scaled, 0.01 * c), ref, rtol=1e-9)


@pytest.mark.parametrize("tau", [0.0, -0.01, np.nan])
def test_van_rossum_rejects_non_positive_tau(tau):
    with pytest.raises(NeuromodError, match="tau must be > 0"):
        van_rossum_distance(edge_trains(), tau)
    with pytest.raises(ValueError):
        van_rossum_distance(edge_trains(), tau)


def test_empty_population_and_single_train():
    st0 = SpikeTrains([], [], t_stop=1.0, n_trains=0)
    assert van_rossum_distance(st0).shape == (0, 0)
    assert victor_purpura_distance(st0).shape == (0, 0)
    st1 = SpikeTrains.from_list([[0.2, 0.4]], t_stop=1.0)
    np.testing.assert_array_equal(van_rossum_distance(st1), [[0.0]])
    np.testing.assert_array_equal(victor_purpura_distance(st1), [[0.0]])


# --------------------------------------------------------------------------- Victor-Purpura
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("q", [1.0, 10.0, 100.0, 1000.0])
def test_victor_purpura_matches_elephant_on_random_trains(seed, q):
    st = random_trains(seed)
    np.testing.assert_allclose(victor_purpura_distance(st, q), elephant_vp(st, q),
                               rtol=1e-6, atol=0)


@pytest.mark.parametrize("q", [3.0, 50.0])
def test_victor_purpura_matches_elephant_on_edge_cases(q):
    st = SpikeTrains.concatenate([edge_trains(), random_trains(6, n=4, grid=41)])
    # integer-valued results (identical trains: 0) are exact; others to rtol 1e-6
    np.testing.assert_allclose(victor_purpura_distance(st, q), elephant_vp(st, q),
                               rtol=1e-6, atol=1e-12)


def test_victor_purpura_q_zero_and_inf_as_elephant():
    st = random_trains(7)  # continuous times: no exactly coincident spikes
    np.testing.assert_array_equal(victor_purpura_distance(st, 0.0), elephant_vp(st, 0.0))
    ours = victor_purpura_distance(st, np.inf)
    el = elephant_vp(st, np.inf)
    off = ~np.eye(st.n_trains, dtype=bool)
    np.testing.assert_array_equal(ours[off], el[off])
    # documented difference: d(x, x) = 0 here; Elephant puts n_x + n_x on the diagonal
    assert np.all(np.diag(ours) == 0)


def test_victor_purpura_q_inf_counts_exact_coincidences():
    st = SpikeTrains.from_list([[0.1, 0.2, 0.3], [0.2, 0.3, 0.4, 0.5], [0.2, 0.3, 0.4, 0.5]],
                               t_stop=1.0)
    d = victor_purpura_distance(st, np.inf)
    assert d[0, 1] == 3 + 4 - 2 * 2  # 0.2 and 0.3 are matched at zero cost
    assert d[1, 2] == 0.0


def _vp_brute_force(x, y, q):
    """Minimum over every partial one-to-one matching: q * sum |shifts| + unmatched."""
    best = len(x) + len(y)
    for k in range(1, min(len(x), len(y)) + 1):
        for xs in itertools.combinations(range(len(x)), k):
            for ys in itertools.permutations(range(len(y)), k):
                cost = q * sum(abs(x[a] - y[b]) for a, b in zip(xs, ys)) + len(x) + len(y) - 2 * k
                best = min(best, cost)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_victor_purpura_equals_brute_force_definition(seed):
    rng = np.random.default_rng(100 + seed)
    trains = [np.sort(rng.uniform(0, 1, rng.integers(0, 5))) for _ in range(4)]
    st = SpikeTrains.from_list(trains, t_stop=1.0)
    for q in (0.5, 4.0, 30.0):
        d = victor_purpura_distance(st, q)
        for i, j in itertools.combinations(range(4), 2):
            assert d[i, j] == pytest.approx(_vp_brute_force(trains[i], trains[j], q), rel=1e-12)


@pytest.mark.parametrize("seed", [2, 3])
def test_victor_purpura_metric_axioms(seed):
    st = random_trains(seed, n=12)
    d = victor_purpura_distance(st, 20.0)
    assert np.all(np.diag(d) == 0) and np.all(d >= 0)
    np.testing.assert_array_equal(d, d.T)
    assert np.all(d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-12)
    # bounded by delete-all + insert-all and by the count difference
    c = st.counts
    assert np.all(d <= c[:, None] + c[None, :] + 1e-12)
    assert np.all(d >= np.abs(c[:, None] - c[None, :]) - 1e-12)


def test_victor_purpura_units_and_scaling():
    st = random_trains(4)
    ref = victor_purpura_distance(st, 100.0)
    ms = [tr * 1000.0 * pq.ms for tr in st.to_list()]
    np.testing.assert_allclose(victor_purpura_distance(ms, 0.1 / pq.ms), ref, rtol=1e-12)
    np.testing.assert_allclose(victor_purpura_distance(st, 100 * pq.Hz), ref, rtol=1e-12)
    c = 3.0  # times x c, q / c: unchanged
    scaled = SpikeTrains.from_list([tr * c for tr in st.to_list()], t_stop=T * c)
    np.testing.assert_allclose(victor_purpura_distance(scaled, 100.0 / c), ref, rtol=1e-9)


@pytest.mark.parametrize("q", [-1.0, np.nan])
def test_victor_purpura_rejects_bad_q(q):
    with pytest.raises(NeuromodError, match="q must be >= 0"):
        victor_purpura_distance(edge_trains(), q)


def test_accepts_neo_trains():
    st = random_trains(9, n=4)
    np.testing.assert_allclose(van_rossum_distance(st.to_neo(), 0.01),
                               van_rossum_distance(st, 0.01), rtol=1e-12)
    np.testing.assert_allclose(victor_purpura_distance(st.to_neo(), 10.0),
                               victor_purpura_distance(st, 10.0), rtol=1e-12)


def test_module_import_is_light():
    code = ("import sys, neuromod.stats.distances, neuromod.stats.synchrony; "
            "print(','.join(m for m in ('numba', 'torch', 'elephant', 'neo', 'brian2') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_van_rossum_long_gaps_and_late_times():
    # gaps of 10^3..10^6 tau (decay factors underflow) and times ~1e4 s with tau = 1 ms
    st = SpikeTrains.from_list([[0.0, 1000.0], [0.0], [1e4 + 0.0101, 1e4 + 0.0213],
                                [1e4 + 0.0102, 1e4 + 0.0200, 1e4 + 0.9]], t_stop=1e4 + 1)
    d = van_rossum_distance(st, 0.001)
    assert d[0, 1] == pytest.approx(1.0, rel=1e-12)  # the far spike is independent: d^2 = 1
    np.testing.assert_allclose(d, elephant_vr(st, 0.001), rtol=1e-6, atol=0)


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_thread_split_gives_the_same_matrix(monkeypatch, n):
    # pairs are split into folds of rows (r, n-1-r) and van Rossum's sweep into
    # column blocks: odd and even n, one thread and every thread, same numbers
    from neuromod.stats import _kernels
    st = random_trains(20 + n, n=n)
    one = (van_rossum_distance(st, 0.02), victor_purpura_distance(st, 20.0))
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_WORK", 0)
    import numba
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)  # two blocks even on 1 core
    many = (van_rossum_distance(st, 0.02), victor_purpura_distance(st, 20.0))
    np.testing.assert_allclose(many[0], one[0], rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(many[1], one[1])
    np.testing.assert_allclose(one[0], elephant_vr(st, 0.02), rtol=1e-6, atol=0)


def _vp_plain(x, y, q):
    """The plain programme, cell by cell in row order (the kernel's reference)."""
    row = [float(j) for j in range(len(y) + 1)]
    for i in range(1, len(x) + 1):
        diag, row[0] = row[0], float(i)
        for j in range(1, len(y) + 1):
            d = abs(x[i - 1] - y[j - 1])
            c = diag + (0.0 if d == 0.0 else q * d)
            c = min(c, row[j] + 1.0, row[j - 1] + 1.0)
            diag, row[j] = row[j], c
    return row[len(y)] if len(x) and len(y) else float(max(len(x), len(y)))


@pytest.mark.parametrize("q", [0.3, 3.0, 30.0, 100.0, 1e4, np.inf])
def test_victor_purpura_equals_the_plain_programme_bit_for_bit(q):
    # the kernel sweeps two rows at once and skips the shift term where a shift costs
    # >= 3; on sorted trains (with coincident spikes, odd and even lengths) every
    # distance equals the plain programme exactly
    for st in (random_trains(40, n=7, max_count=25), random_trains(41, n=7, max_count=25, grid=30),
               edge_trains()):
        trains = st.to_list()
        d = victor_purpura_distance(st, q)
        for i, j in itertools.combinations(range(st.n_trains), 2):
            assert d[i, j] == _vp_plain(trains[i], trains[j], q), (i, j)


def test_victor_purpura_pair_kernel_without_windows():
    # unsorted trains take the path without windows; on sorted ones both paths agree
    from neuromod.stats import _kernels
    rng = np.random.default_rng(3)
    for _ in range(200):
        x = np.round(rng.uniform(0, 1, rng.integers(0, 9)), 2)
        y = np.round(rng.uniform(0, 1, rng.integers(0, 9)), 2)
        row = np.empty(y.size + 1)
        for q in (2.0, 50.0, np.inf):
            assert _kernels.vp_pair(x, y, q, row, False) == _vp_plain(x, y, q)
            xs, ys = np.sort(x), np.sort(y)
            assert _kernels.vp_pair(xs, ys, q, row, True) == _vp_plain(xs, ys, q)
