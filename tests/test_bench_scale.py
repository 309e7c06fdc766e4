"""benchmarks/bench_scale.py at its ``--quick`` size: it runs, its JSON has every
section with positive times, the blocked matrices equal the in-memory ones (the script
compares them with ``np.array_equal``), the speed-up and overhead fields are there
(targets not applicable at that size), and every memory figure is measured. No timing
is asserted beyond being positive."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_scale.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_scale", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_workloads_are_seeded_and_sized():
    bench = _bench()
    a, b = bench.population(7, 5, 10.0, seed=3), bench.population(7, 5, 10.0, seed=3)
    assert a.equals(b) and a.n_trains == 7 and a.counts.tolist() == [5] * 7
    assert a.t_start == 0.0 and a.t_stop == 10.0
    r = bench.recording(4, 20.0, 10.0, seed=1)
    assert r.equals(bench.recording(4, 20.0, 10.0, seed=1)) and r.n_trains == 4
    assert 400 < r.n_spikes < 1200 and r.t_stop == 20.0
    assert all(np.all(np.diff(r[i]) >= 0) for i in range(4))


def test_the_documented_bound():
    bench = _bench()
    b = bench.documented_bound("spike_distance", "blocked", 2000, 256, 2_000_000)
    assert b["result_bytes"] == 2000 ** 2 * 8 and b["caller_bytes"] == 2 * 256 ** 2 * 8
    s = bench.documented_bound("sttc", "dask", 2000, 256, 2_000_000, threads=2)
    assert s["caller_bytes"] == 4 * 256 ** 2 * 8
    assert s["worker_bytes"] == 16 * 2_000_000 + 4 * 256 ** 2 * 8
    assert bench.documented_bound("sttc", "blocked", 10, 256, 50)["caller_bytes"] == 5 * 800


@pytest.fixture(scope="module")
def quick():
    p = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json"], capture_output=True,
                       text=True, timeout=600, cwd=SCRIPT.parents[1])
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    return json.loads(p.stdout)


def test_quick_json_has_every_section(quick):
    assert quick["quick"] is True and quick["all_reached"] is True
    assert list(quick["sections"]) == ["sweep", "blocked", "sttc-hour"]
    assert quick["cpu_cores"] >= 1 and quick["wall_s"] > 0
    for lib in ("numpy", "numba", "dask", "distributed", "torch"):
        assert quick[lib]


def test_quick_sweep_has_the_speedup_and_the_overheads(quick):
    s = quick["sections"]["sweep"]
    assert s["points"] == 4 and len(s["grid"]["tau_m"]) == 4
    assert [r["workers"] for r in s["runs"]] == [1, 2]
    for r in s["runs"]:
        assert r["tasks"] == 4 and r["errors"] == [] and r["n_spikes"] > 0
        assert r["wall_s"] > 0 and r["startup_s"] > 0
        assert r["task_mean_s"] > 0 and r["task_sum_s"] == pytest.approx(4 * r["task_mean_s"])
    assert s["speedup"] == pytest.approx(s["runs"][0]["wall_s"] / s["runs"][1]["wall_s"])
    assert s["speedup_target"] == 1.7 and s["speedup_reached"] is None
    assert s["targets_applicable"] is False
    one = s["runs"][0]
    assert s["sweep_overhead_ms_per_task"] == pytest.approx(
        1e3 * (one["wall_s"] - one["task_sum_s"]) / 4)
    o = s["overhead"]
    assert o["ok"] is True and o["items"] == 100 and o["wall_s"] > 0
    assert o["ms_per_task"] == pytest.approx(1e3 * o["wall_s"] / 100)
    assert o["target_ms"] == 20.0 and o["reached"] is None


def _check_rows(rows, measures, n, spikes=None):
    assert [(r["measure"], r["mode"]) for r in rows] == \
        [(m, mode) for m in measures for mode in ("memory", "blocked", "dask")]
    for r in rows:
        assert r["error"] is None, r
        assert r["n_trains"] == n and r["shape"] == [n, n]
        if spikes is not None:
            assert r["n_spikes"] == spikes
        assert r["time_s"] > 0 and r["per_pair_s"] > 0
        assert r["per_pair_s"] == pytest.approx(r["time_s"] / (n * (n - 1) // 2))
        for key in ("rss_imports_kb", "rss_data_kb", "peak_kb"):
            assert r[key] > 0, key
        assert r["peak_mb"] > 0 and r["call_mb"] >= 0 and r["data_mb"] >= 0
        assert r["anon_mb"] is None or r["anon_mb"] >= 0
        if r["mode"] == "memory":
            assert r["equal"] is None and r["bound"] is None
            continue
        assert r["equal"] is True, (r["measure"], r["mode"])
        b = r["bound"]
        assert b["result_bytes"] == n * n * 8 and b["caller_bytes"] > 0
        if r["mode"] == "dask":
            assert len(r["workers_peak_kb"]) == 2 and min(r["workers_peak_kb"]) > 0
            assert r["workers_mb"] >= 0 and b["worker_bytes"] > 0
        else:
            assert r["workers_mb"] is None and b["worker_bytes"] is None


def test_quick_blocked_rows_equal_the_in_memory_matrices(quick):
    s = quick["sections"]["blocked"]
    assert (s["n"], s["spikes"], s["block"]) == (100, 50, 32)
    _check_rows(s["rows"], ["spike_distance", "sttc"], 100, 5000)
    e = s["extrapolation"]
    assert e["n_trains"] == 10_000 and e["pairs"] == 49_995_000
    assert e["matrix_bytes"] == 800_000_000 and len(e["rows"]) == 6
    assert all(x["time_s"] > 0 for x in e["rows"])


def test_quick_sttc_hour_rows(quick):
    s = quick["sections"]["sttc-hour"]
    assert (s["units"], s["seconds"], s["block"]) == (50, 60.0, 16)
    assert 0.8 * s["expected_spikes"] < s["n_spikes"] < 1.2 * s["expected_spikes"]
    _check_rows(s["rows"], ["sttc"], 50, s["n_spikes"])
