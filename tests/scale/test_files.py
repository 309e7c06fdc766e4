"""``neuromod stats`` on several files and :mod:`neuromod.scale.files`: paths, dirs and
globs; each entry equal to the one-file summary; a bad file reported in its entry while
the others complete (exit 2); ``--summary``; a worker killed mid-run."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from neuromod import io
from neuromod.errors import NeuromodError
from neuromod.scale import files as mf
from neuromod.spikes import SpikeTrains
from neuromod.stats.summary import summarize

NEUROMOD = os.path.join(os.path.dirname(sys.executable), "neuromod")


def _write_population(path, n, rate, seconds, seed):
    rng = np.random.default_rng(seed)
    trains = [np.sort(rng.uniform(0, seconds, rng.poisson(rate * seconds))) for _ in range(n)]
    io.write(SpikeTrains.from_list(trains, t_start=0.0, t_stop=seconds), str(path))


@pytest.fixture
def recordings(tmp_path):
    d = tmp_path / "rec"
    d.mkdir()
    for k, ext in enumerate([".npz", ".txt", ".csv", ".npz"]):
        _write_population(d / f"s{k}{ext}", 6 + k, 8.0, 2.0, seed=k)
    (d / "bad.txt").write_text("0.1 nope\n")
    (d / "notes.md").write_text("not a spike file\n")
    return d


def test_paths_dirs_and_globs(recordings):
    d = recordings
    got = mf.expand_paths([d])
    assert [os.path.basename(p) for p in got] == ["bad.txt", "s0.npz", "s1.txt", "s2.csv",
                                                  "s3.npz"]
    assert mf.expand_paths([str(d / "*.npz"), str(d / "s0.npz")]) == [
        str(d / "s0.npz"), str(d / "s3.npz")]
    assert mf.is_many([str(d / "s0.npz"), str(d / "s1.txt")]) and mf.is_many([d])
    assert not mf.is_many([str(d / "s0.npz")])
    with pytest.raises(NeuromodError, match="matches no file"):
        mf.expand_paths([str(d / "*.nwb")])
    empty = d / "empty"
    empty.mkdir()
    with pytest.raises(NeuromodError, match="no spike file"):
        mf.expand_paths([empty])


def test_each_entry_is_the_one_file_summary(recordings):
    entries = mf.stats_files([recordings, recordings / "missing.npz"], progress=False)
    by_name = {os.path.basename(e["path"]): e for e in entries}
    assert "bad.txt: line 1" in by_name["bad.txt"]["error"] and by_name["bad.txt"]["stats"] is None
    assert "missing.npz" in by_name["missing.npz"]["error"]
    for k, ext in enumerate([".npz", ".txt", ".csv", ".npz"]):
        e = by_name[f"s{k}{ext}"]
        assert e["error"] is None
        one = summarize(io.read(e["path"]), progress=False)
        assert e["stats"]["per_train"] == one["per_train"]
        for name, m in one["pairwise"].items():
            np.testing.assert_array_equal(e["stats"]["pairwise"][name], m)
        row = mf.summary_row(e)
        assert row["n_trains"] == 6 + k and row["n_spikes"] == int(sum(
            r["n_spikes"] for r in one["per_train"]))
        m = np.asarray(one["pairwise"]["van_rossum"])
        assert row["van_rossum"] == pytest.approx(m[~np.eye(len(m), dtype=bool)].mean())


def test_a_worker_killed_mid_stats(recordings, client, kill_a_busy_worker, tmp_path):
    """Every file's entry exactly once, equal to the in-process entries."""
    for k in range(8):
        _write_population(recordings / f"big{k}.npz", 150, 20.0, 10.0, seed=10 + k)
    killed = kill_a_busy_worker(client)
    entries = mf.stats_files([recordings], client=client, progress=False,
                             measures="rates,cv,spike_distance")
    assert killed, "no worker was killed while it ran a task"
    here = mf.stats_files([recordings], progress=False, measures="rates,cv,spike_distance")
    assert [e["path"] for e in entries] == [e["path"] for e in here]
    for a, b in zip(entries, here):
        assert a["error"] == b["error"]
        if a["stats"]:
            np.testing.assert_array_equal(a["stats"]["pairwise"]["spike_distance"],
                                          b["stats"]["pairwise"]["spike_distance"])


def _stats(*argv):
    return subprocess.run([NEUROMOD, "stats", *argv], capture_output=True, text=True,
                          timeout=300)


def test_command_several_files(recordings, tmp_path):
    summary = tmp_path / "summary.csv"
    p = _stats(str(recordings), "--json", "--summary", str(summary), "--scheduler", "local:2")
    assert p.returncode == 2                                 # bad.txt failed
    rep = json.loads(p.stdout)
    assert rep["n_failed"] == 1 and len(rep["files"]) == 5
    assert [os.path.basename(f["path"]) for f in rep["files"]][:2] == ["bad.txt", "s0.npz"]
    assert rep["files"][1]["stats"]["n_trains"] == 6
    err = [line for line in p.stderr.splitlines() if "error:" in line]
    assert len(err) == 1 and "bad.txt: line 1" in err[0] and "Traceback" not in p.stderr
    with open(summary, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(mf.SUMMARY_COLUMNS) and len(rows) == 5
    assert rows[0]["error"] and rows[1]["n_trains"] == "6"
    p = _stats(str(recordings / "s0.npz"), str(recordings / "s1.txt"), "--scheduler", "none")
    assert p.returncode == 0 and "2 of 2 files summarised" in p.stdout


def test_one_file_is_unchanged_and_refuses_summary(recordings, tmp_path):
    one = _stats(str(recordings / "s0.npz"), "--json", "--measures", "rates")
    assert one.returncode == 0 and json.loads(one.stdout)["n_trains"] == 6
    p = _stats(str(recordings / "s0.npz"), "--summary", str(tmp_path / "s.csv"))
    assert p.returncode == 2 and "--summary applies to several files" in p.stderr
    p = _stats(str(recordings), "--plot", str(tmp_path / "x.png"), "--scheduler", "none")
    assert p.returncode == 2 and "--plot takes one spike file" in p.stderr
    assert not (tmp_path / "s.csv").exists() and not (tmp_path / "x.png").exists()


def test_matrix_out_writes_each_matrix_bit_for_bit(recordings, tmp_path):
    from neuromod.stats import correlation, distances, synchrony
    mats = tmp_path / "mats"
    mats.mkdir()
    src = recordings / "s3.npz"
    p = _stats(str(src), "--matrix-out", str(mats), "--block", "4", "--measures",
               "rates,van_rossum,spike_sync,sttc", "--json", "--scheduler", "local:2")
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["block"] == 4 and set(rep["pairwise"]) == {"van_rossum", "spike_sync", "sttc"}
    assert rep["per_train"][0]["rate_hz"] is not None
    st = io.read(str(src))
    ref = {"van_rossum": distances.van_rossum_distance(st, tau=0.01),
           "spike_sync": synchrony.spike_sync(st), "sttc": correlation.sttc_matrix(st, 0.005)}
    for name, m in ref.items():
        assert rep["pairwise"][name] == os.path.join(str(mats), f"{name}.npy")
        np.testing.assert_array_equal(np.load(rep["pairwise"][name]), m)
    p = _stats(str(src), "--matrix-out", str(tmp_path / "nodir"))
    assert p.returncode == 2 and "not an existing directory" in p.stderr
    p = _stats(str(src), "--matrix-out", str(mats), "--measures", "rates")
    assert p.returncode == 2 and "names no pairwise measure" in p.stderr
    p = _stats(str(src), "--scheduler", "local:2")
    assert p.returncode == 2 and "one file runs in-process" in p.stderr
