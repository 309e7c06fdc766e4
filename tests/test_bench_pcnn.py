"""benchmarks/bench_pcnn.py at its quick size: it runs, its JSON has every implementation
and size with times, memory and ratios, and the pulse matrices of pyclustering (C++
core with beta = 0, Python path with corrected neighbour lists) and of neuromod's
Brian2 backend equal neuromod Torch's. No timing is asserted."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pcnn.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_pcnn", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_grid_neighbours_do_not_wrap_across_rows():
    conn = _bench().grid_neighbours(3, 4)
    assert sorted(conn[3]) == [2, 6, 7]               # (0, 3): no link to (1, 0) = 4
    assert sorted(conn[5]) == [0, 1, 2, 4, 6, 8, 9, 10]
    assert all(len(c) == 3 for c in (conn[0], conn[3], conn[8], conn[11]))


def test_runners_give_the_same_pulses_as_neuromod():
    bench = _bench()
    S = bench.image((9, 13), seed=4)
    torch_run = bench.runner("neuromod-torch", 1)
    for impl, beta in (("pyclustering-ccore", 0.0), ("pyclustering-python", bench.BETA)):
        ours, _ = torch_run(S, 12, beta)
        ref, _ = bench.runner(impl, 1)(S, 12, beta)
        assert ours.shape == ref.shape == (12, 9, 13) and ours.dtype == ref.dtype == np.uint8
        assert ours.sum() > 100 and np.array_equal(ours, ref), impl


def test_quick_json_has_every_row_and_equal_pulses():
    p = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--repeat", "1", "--json"],
                       capture_output=True, text=True, timeout=600, cwd=SCRIPT.parents[1])
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout)
    assert out["quick"] and out["steps"] == 10 and out["neighbours"] == 8
    assert list(out["sections"]) == ["peers", "scaling", "dpcnn"] and out["all_equal"] is True

    peers = out["sections"]["peers"]
    assert peers["shapes"] == [[16, 16]] and peers["all_equal"] is True
    rows = {(r["impl"], r["beta"]): r for r in peers["rows"]}
    assert set(rows) == {("neuromod-torch", 0.1), ("neuromod-torch", 0.0),
                         ("neuromod-brian2", 0.1), ("pyclustering-python", 0.1),
                         ("pyclustering-ccore", 0.0)}
    for r in rows.values():
        assert r["shape"] == [16, 16] and r["steps"] == 10 and len(r["times_s"]) == 1
        assert r["time_s"] > 0 and r["peak_rss_mb"] > 0 and r["rise_mb"] >= 0
        assert r["cpu_per_wall"] is not None and r["pulses"] > 0
        ref = rows[("neuromod-torch", r["beta"])]
        assert r["time_ratio"] == pytest.approx(r["time_s"] / ref["time_s"])
    for key in (("pyclustering-ccore", 0.0), ("pyclustering-python", 0.1),
                ("neuromod-brian2", 0.1)):
        r = rows[key]
        assert r["checked_against"] == f"neuromod-torch beta={key[1]:g}"
        assert r["equal"] is True and r["mismatches"] == 0, key
        assert r["pulses"] == rows[("neuromod-torch", key[1])]["pulses"]
    ccore = rows[("pyclustering-ccore", 0.0)]
    assert ccore["run_only_s"] is not None and ccore["run_only_s"] <= ccore["time_s"]
    # beta = 0 and 0.1 give different pulses: the check against the beta = 0 row is real
    assert ccore["pulses"] != rows[("neuromod-torch", 0.1)]["pulses"]

    scaling = out["sections"]["scaling"]
    assert scaling["sizes"] == [[32, 32], [64, 64]] and scaling["all_equal"] is True
    got = [(r["impl"], r["shape"]) for r in scaling["rows"]]
    assert got == [("neuromod-torch", [32, 32]), ("neuromod-brian2", [32, 32]),
                   ("neuromod-torch", [64, 64])]
    for r in scaling["rows"]:
        assert r["time_s"] > 0 and r["ns_per_pixel_step"] > 0 and r["pulses"] > 0
    assert scaling["rows"][1]["equal"] is True and scaling["brian2_predicted_s"] < 60

    dp = out["sections"]["dpcnn"]
    assert [r["net"] for r in dp["rows"]] == ["conv-LIF, W", "conv-LIF, 2W", "DPCNN none, W",
                                              "DPCNN intra, W", "DPCNN inter, W"]
    lif, lif2, none, intra, inter = dp["rows"]
    assert lif2["neurons"] == 2 * lif["neurons"] == 2 * inter["neurons"]
    assert none["synapses"] == lif["synapses"] < intra["synapses"] < inter["synapses"]
    assert all(r["step_s"] > 0 for r in dp["rows"]) and lif["ratio"] == 1.0
