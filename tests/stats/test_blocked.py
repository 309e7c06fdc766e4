"""Blocked pairwise matrices (neuromod.stats.blocked): bit for bit the unblocked
functions of neuromod.stats (np.testing.assert_array_equal, NaN positions included),
in-process and on a 2-worker LocalCluster; the .npy output written all-or-nothing;
argument errors."""
import os
import time

import numpy as np
import pytest

from neuromod.errors import OutputError, ParameterError
from neuromod.stats import blocked as pairwise
from neuromod.stats.blocked import MEASURES, blocked_matrix, pairwise_matrices
from neuromod.spikes import SpikeTrains

T0, T1 = 0.5, 4.5


def population(seed=0, n=23):
    """n Poisson trains on [T0, T1] (rates 0.5..15 Hz): train 3 empty, train 11 a single
    spike, train 7 with a repeated spike time, spikes on both edges of the window, and
    trains 0 and 1 sharing a spike time."""
    rng = np.random.default_rng(seed)
    trains = []
    for _ in range(n):
        k = rng.poisson(rng.uniform(0.5, 15.0) * (T1 - T0))
        trains.append(np.sort(rng.uniform(T0, T1, k)))
    trains[3] = np.array([])
    trains[11] = np.array([2.0])
    trains[7] = np.sort(np.concatenate((trains[7], [1.25, 1.25])))
    trains[5] = np.sort(np.concatenate((trains[5], [T0, T1])))
    trains[0] = np.sort(np.concatenate((trains[0], [3.3])))
    trains[1] = np.sort(np.concatenate((trains[1], [3.3])))
    return SpikeTrains.from_list(trains, t_start=T0, t_stop=T1)


ST = population()

#: Non-default parameters of each measure (each a path of its function: limits, windows,
#: the adaptive and rate-independent variants).
VARIANTS = [("van_rossum", dict(tau=0.002)), ("van_rossum", dict(tau=np.inf)),
            ("victor_purpura", dict(q=0.0)), ("victor_purpura", dict(q=np.inf)),
            ("victor_purpura", dict(q=3.0)),
            ("isi_distance", dict(mrts=0.2, t_start=1.0, t_stop=4.0)),
            ("spike_distance", dict(mrts=0.2, rate_independent=True)),
            ("spike_distance", dict(t_start=1.0, t_stop=4.0)),
            ("spike_sync", dict(max_tau=0.02, mrts=0.1)),
            ("spike_sync", dict(t_start=1.0, t_stop=4.0)),
            ("sttc", dict(dt=0.05))]


@pytest.mark.parametrize("block", [1, 5, 23, 100])
@pytest.mark.parametrize("measure", list(MEASURES))
def test_blocked_equals_unblocked_bit_for_bit(measure, block):
    ref = MEASURES[measure](ST)
    got = blocked_matrix(ST, measure, block=block)
    assert got.dtype == np.float64 and got.shape == (ST.n_trains, ST.n_trains)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("measure, params", VARIANTS,
                         ids=[f"{m}-{'-'.join(map(str, p.values()))}" for m, p in VARIANTS])
def test_parameters_reach_the_kernels_bit_for_bit(measure, params):
    ref = MEASURES[measure](ST, **params)
    for block in (4, 9):
        np.testing.assert_array_equal(blocked_matrix(ST, measure, block=block, **params), ref)


def test_van_rossum_sweep_resets_on_a_denser_population():
    # tau small against the gaps: the sweep's underflow resets (fac < 1e-100 and the
    # cumulative decay) happen, and depend on every spike of the recording
    st = population(seed=5, n=40)
    for tau in (1e-3, 2e-2):
        np.testing.assert_array_equal(blocked_matrix(st, "van_rossum", block=7, tau=tau),
                                      MEASURES["van_rossum"](st, tau=tau))


def test_sttc_blocked_equals_pairwise_sttc():
    """The blocked STTC (sorted sweep per block pair) against the two-train ``sttc``
    to 1e-12 absolute (different summation paths; the NaN of empty trains exactly)."""
    from neuromod.stats.correlation import sttc
    m = blocked_matrix(ST, "sttc", block=6, dt=0.01)
    ref = np.array([[sttc(ST, i, j, dt=0.01) for j in range(ST.n_trains)]
                    for i in range(ST.n_trains)])
    np.fill_diagonal(ref, np.where(ST.counts > 0, 1.0, np.nan))
    np.testing.assert_allclose(m, ref, rtol=0, atol=1e-12)


def test_inputs_like_the_stats_functions():
    lists = [list(t) for t in ST]
    np.testing.assert_array_equal(
        blocked_matrix(lists, "victor_purpura", block=4),
        MEASURES["victor_purpura"](lists))
    assert blocked_matrix(SpikeTrains.from_list([], t_stop=1.0), "spike_sync").shape == (0, 0)


def test_progress_bar_on_stderr(capsys):
    blocked_matrix(ST, "isi_distance", block=10, progress=True)   # 3 blocks: 6 pairs
    err = capsys.readouterr().err
    assert "6/6" in err


# --------------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster, set_as_default=False) as c:
            yield c


@pytest.mark.parametrize("measure", ["van_rossum", "spike_distance", "sttc"])
def test_on_a_local_cluster_bit_for_bit(client, measure):
    got = blocked_matrix(ST, measure, block=5, client=client)
    np.testing.assert_array_equal(got, MEASURES[measure](ST))


def test_cluster_releases_its_data_and_writes_files(client, tmp_path):
    got = pairwise_matrices(ST, ["victor_purpura", "spike_sync"], block=8, client=client,
                            out_dir=tmp_path, q=20.0)
    np.testing.assert_array_equal(got["victor_purpura"], MEASURES["victor_purpura"](ST, q=20.0))
    np.testing.assert_array_equal(got["spike_sync"], MEASURES["spike_sync"](ST))
    assert sorted(os.listdir(tmp_path)) == ["spike_sync.npy", "victor_purpura.npy"]
    deadline = time.monotonic() + 10.0   # releases are messages to the scheduler
    while client.who_has() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.who_has() == {}        # scattered arrays and blocks all released


def test_cluster_blocks_in_flight_are_bounded(client, monkeypatch):
    """At most 2 x (worker threads) = 4 blocks submitted and not yet written."""
    state = {"submitted": 0, "stored": 0, "most": 0}
    submit, store = client.submit, pairwise._store

    def counting_submit(*args, **kwargs):
        state["submitted"] += 1
        state["most"] = max(state["most"], state["submitted"] - state["stored"])
        return submit(*args, **kwargs)

    def counting_store(*args):
        state["stored"] += 1
        return store(*args)
    monkeypatch.setattr(client, "submit", counting_submit)
    monkeypatch.setattr(pairwise, "_store", counting_store)
    got = blocked_matrix(ST, "spike_sync", block=2, client=client)    # 12 blocks: 78 tasks
    np.testing.assert_array_equal(got, MEASURES["spike_sync"](ST))
    assert state["submitted"] == state["stored"] == 78
    assert state["most"] <= 2 * sum(client.nthreads().values()) == 4


def test_cluster_failure_leaves_no_file_and_no_data(client, tmp_path, monkeypatch):
    real = pairwise._prepare

    def broken(*args):
        job = real(*args)
        job.kind = "no such kind"           # every task fails on its worker
        return job
    monkeypatch.setattr(pairwise, "_prepare", broken)
    with pytest.raises(KeyError, match="no such kind"):
        blocked_matrix(ST, "isi_distance", block=4, client=client, out=tmp_path / "x.npy")
    assert os.listdir(tmp_path) == []
    deadline = time.monotonic() + 10.0
    while client.who_has() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.who_has() == {}


def test_client_must_be_a_client():
    with pytest.raises(ParameterError, match="client"):
        blocked_matrix(ST, "sttc", client="tcp://localhost:8786")


# --------------------------------------------------------------------------- files
def test_out_file_is_the_matrix(tmp_path):
    path = tmp_path / "vr.npy"
    got = blocked_matrix(ST, "van_rossum", block=6, out=path)
    assert isinstance(got, np.memmap)
    ref = blocked_matrix(ST, "van_rossum", block=6)
    np.testing.assert_array_equal(np.load(path), ref)
    np.testing.assert_array_equal(got, ref)
    assert os.listdir(tmp_path) == ["vr.npy"]


def _fail_on_call(monkeypatch, k):
    real = pairwise._compute_block
    calls = []

    def flaky(*args):
        calls.append(1)
        if len(calls) == k:
            raise RuntimeError("kernel failed")
        return real(*args)
    monkeypatch.setattr(pairwise, "_compute_block", flaky)


def test_failed_run_leaves_no_file(tmp_path, monkeypatch):
    _fail_on_call(monkeypatch, 3)
    with pytest.raises(RuntimeError, match="kernel failed"):
        blocked_matrix(ST, "spike_distance", block=5, out=tmp_path / "s.npy")
    assert os.listdir(tmp_path) == []
    old = tmp_path / "old.npy"                   # an existing file stays as it was
    np.save(old, np.arange(3.0))
    _fail_on_call(monkeypatch, 2)
    with pytest.raises(RuntimeError):
        blocked_matrix(ST, "sttc", block=5, out=old)
    assert os.listdir(tmp_path) == ["old.npy"]
    np.testing.assert_array_equal(np.load(old), np.arange(3.0))


def test_pairwise_matrices_out_dir(tmp_path, monkeypatch):
    measures = ["van_rossum", "isi_distance", "sttc"]
    got = pairwise_matrices(ST, measures, block=9, out_dir=tmp_path, tau=0.05, dt=0.01)
    assert sorted(os.listdir(tmp_path)) == sorted(f"{m}.npy" for m in measures)
    refs = {"van_rossum": MEASURES["van_rossum"](ST, tau=0.05),
            "isi_distance": MEASURES["isi_distance"](ST),
            "sttc": MEASURES["sttc"](ST, dt=0.01)}
    for m in measures:
        np.testing.assert_array_equal(np.load(tmp_path / f"{m}.npy"), refs[m])
        np.testing.assert_array_equal(got[m], refs[m])
    # in memory: the same dict
    mem = pairwise_matrices(ST, measures, block=9, tau=0.05, dt=0.01)
    assert all(np.array_equal(mem[m], refs[m], equal_nan=True) for m in measures)
    # a failure in the last measure commits none of them
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _fail_on_call(monkeypatch, 6 + 6 + 5)       # 3 blocks -> 6 pairs per measure
    with pytest.raises(RuntimeError):
        pairwise_matrices(ST, measures, block=9, out_dir=fresh, tau=0.05, dt=0.01)
    assert os.listdir(fresh) == []


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("measure", ["bogus", "van_rossum_distance", None])
def test_unknown_measure(measure):
    with pytest.raises(ParameterError, match="known measures: van_rossum, victor_purpura") as e:
        blocked_matrix(ST, measure)
    assert repr(measure) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ParameterError, match=repr(measure)):
        pairwise_matrices(ST, ["sttc", measure])


@pytest.mark.parametrize("block", [0, -3, 2.5, "8", True])
def test_bad_block(block):
    with pytest.raises(ParameterError, match="block") as e:
        blocked_matrix(ST, "sttc", block=block)
    assert "\n" not in str(e.value)


def test_bad_parameters_and_outputs(tmp_path):
    with pytest.raises(ParameterError, match="van_rossum takes no parameter 'q'"):
        blocked_matrix(ST, "van_rossum", q=3.0)
    with pytest.raises(ParameterError, match="tau must be > 0"):
        blocked_matrix(ST, "van_rossum", tau=-1.0)
    with pytest.raises(ParameterError, match="takes parameter 'bogus'"):
        pairwise_matrices(ST, ["sttc", "isi_distance"], bogus=1)
    with pytest.raises(ParameterError, match="twice"):
        pairwise_matrices(ST, ["sttc", "sttc"])
    with pytest.raises(OutputError, match="npy"):
        blocked_matrix(ST, "sttc", out=tmp_path / "m.csv")
    with pytest.raises(OutputError, match="not a directory"):
        pairwise_matrices(ST, ["sttc"], out_dir=tmp_path / "missing")
    assert os.listdir(tmp_path) == []
