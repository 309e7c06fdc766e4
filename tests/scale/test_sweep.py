"""``neuromod sweep`` and :mod:`neuromod.scale.sweep`: grid parsing, stable seeds, rows
equal to the simulation run directly, errors kept in their rows, the journal and
``--resume`` (a killed sweep computes only its missing rows, never one twice), a worker
killed mid-sweep, parquet, and the command's one-line errors."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from neuromod.errors import NeuromodError, ParameterError
from neuromod.scale import sweep as sw

NEUROMOD = os.path.join(os.path.dirname(sys.executable), "neuromod")
SMALL = dict(n=4, duration=0.05)


def _cli(*argv, timeout=300, env=None):
    return subprocess.run([NEUROMOD, *argv], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_grid_words():
    assert sw.parse_grid(["tau_m=10*ms,20*ms", "noise=logistic"]) == [
        ("tau_m", ["10*ms", "20*ms"]), ("noise", ["logistic"])]
    for bad, msg in [("tau_m", "expected NAME=V1"), ("tau_m=1,,2", "empty value"),
                     ("1x=2", "expected NAME")]:
        with pytest.raises(ParameterError, match=msg):
            sw.parse_grid([bad])
    with pytest.raises(ParameterError, match="given twice"):
        sw.parse_grid(["a=1", "a=2"])


def test_grid_values_are_si_and_names_checked():
    v = sw.grid_values("lif", [("tau_m", ["10*ms", "0.02"]), ("I_max", ["2*nA"]),
                               ("kernel", ["exp", "biexp"])])
    assert v["tau_m"] == {"10*ms": 0.01, "0.02": 0.02}
    assert v["I_max"]["2*nA"] == pytest.approx(2e-9) and v["kernel"]["biexp"] == "biexp"
    with pytest.raises(NeuromodError, match="--grid tau_x=1: model 'lif' has no parameter"):
        sw.grid_values("lif", [("tau_x", ["1"])])
    with pytest.raises(NeuromodError, match="--grid tau_m=2\\*mV"):
        sw.grid_values("lif", [("tau_m", ["2*mV"])])
    with pytest.raises(NeuromodError, match="must be one of"):
        sw.grid_values("lif", [("kernel", ["square"])])
    with pytest.raises(NeuromodError, match="unknown model"):
        sw.grid_values("tempotron", [])


def test_seeds_are_stable_and_distinct():
    tasks = sw.sweep_tasks("lif", [("tau_m", ["10*ms", "20*ms"])], repeat=3, seed=5, **SMALL)
    seeds = [t["seed"] for t in tasks]
    assert len(set(seeds)) == 6 and all(0 <= s < 2 ** 31 for s in seeds)
    again = sw.sweep_tasks("lif", [("tau_m", ["10*ms", "20*ms"])], repeat=3, seed=5, **SMALL)
    assert [t["seed"] for t in again] == seeds
    other = sw.sweep_tasks("lif", [("tau_m", ["10*ms", "20*ms"])], repeat=3, seed=6, **SMALL)
    assert not set(t["seed"] for t in other) & set(seeds)
    # grid order: the last name fastest, then the repeat
    two = sw.sweep_tasks("lif", [("tau_m", ["10*ms", "20*ms"]), ("I_max", ["2*nA", "3*nA"])],
                         **SMALL)
    np.testing.assert_allclose([list(t["columns"].values()) for t in two],
                               [(0.01, 2e-9), (0.01, 3e-9), (0.02, 2e-9), (0.02, 3e-9)],
                               rtol=1e-12)


@pytest.mark.parametrize("backend", ["torch", "brian2"])
def test_rows_equal_the_simulation_run_directly(backend):
    """A row's statistics are those of run_ramp with the row's seed and settings, and
    the noisy model's repeats differ (their seeds do)."""
    from neuromod.neurons.ramp import ramp_setup, run_ramp
    from neuromod.stats import isi, rates
    grid = [("beta", ["0.3", "0.6"])]
    rows = sw.sweep("noisy-lif", grid, repeat=2, seed=1, n=20, duration=0.2, dt=1e-3,
                    backend=backend, sets=[("I_min", "0.5"), ("I_max", "0.5")],
                    measures=list(sw.MEASURES), progress=False)
    assert [(r["beta"], r["repeat"]) for r in rows] == [(0.3, 0), (0.3, 1), (0.6, 0), (0.6, 1)]
    for r in rows:
        assert r["error"] == "" and r["wall_s"] > 0
        ramp = ramp_setup("noisy-lif", [("I_min", "0.5"), ("I_max", "0.5"),
                                        ("beta", str(r["beta"]))])
        st, res, _ = run_ramp(ramp, 20, 0.2, 1e-3, backend=backend, seed=r["seed"])
        c = st.counts
        assert r["n_spikes"] == int(c.sum()) and r["n_firing"] == int(np.count_nonzero(c))
        assert r["rate_hz"] == pytest.approx(c.mean() / (len(res.t) * 1e-3), rel=1e-12)
        assert r["fano"] == pytest.approx(rates.fano_factor(st), rel=1e-12)
        every = isi.per_train(st)
        for m in ("cv", "cv2", "lv"):
            assert r[m] == pytest.approx(np.nanmean(every[m]), rel=1e-12)
    assert rows[0]["n_spikes"] != rows[1]["n_spikes"] or rows[0]["cv"] != rows[1]["cv"]


def test_a_bad_combination_is_reported_in_its_row():
    rows = sw.sweep("lif", [("tau_m", ["10*ms", "-5*ms"])], progress=False, **SMALL)
    assert rows[0]["error"] == "" and rows[0]["n_spikes"] > 0
    assert rows[1]["error"].startswith("--set tau_m=-5*ms:") and "must be > 0" in rows[1]["error"]
    assert rows[1]["n_spikes"] is None and "\n" not in rows[1]["error"]


def _comparable(row):
    """A row without its wall time, NaN as None (NaN != NaN)."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()
            if k != "wall_s"}


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_and_parquet_hold_the_same_rows(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    grid = [("tau_m", ["10*ms", "20*ms"])]
    rows = sw.sweep("lif", grid, repeat=2, out=tmp_path / "r.csv", progress=False, **SMALL)
    table = _read_csv(tmp_path / "r.csv")
    assert list(table[0]) == ["tau_m", "repeat", "seed", "n_spikes", "rate_hz", "cv", "fano",
                              "wall_s", "error"]
    assert [int(t["n_spikes"]) for t in table] == [r["n_spikes"] for r in rows]
    assert [float(t["tau_m"]) for t in table] == [0.01, 0.01, 0.02, 0.02]
    sw.sweep("lif", grid, repeat=2, out=tmp_path / "r.parquet", progress=False, **SMALL)
    got = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert [(g["tau_m"], g["seed"], g["n_spikes"]) for g in got] == [
        (r["tau_m"], r["seed"], r["n_spikes"]) for r in rows]
    assert not list(tmp_path.glob("*.partial.jsonl"))          # journals removed


def test_resume_computes_only_the_missing_rows(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    grid = [("tau_m", ["10*ms", "20*ms", "30*ms"])]
    calls = []
    real = sw.run_point

    def interrupted(task):
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append(task["key"])
        return real(task)
    monkeypatch.setattr(sw, "run_point", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sw.sweep("lif", grid, repeat=2, out=out, progress=False, **SMALL)
    journal = tmp_path / "r.partial.jsonl"
    assert not out.exists() and journal.exists()
    assert len(journal.read_text().splitlines()) == 1 + 4
    with pytest.raises(NeuromodError, match="give --resume"):
        sw.sweep("lif", grid, repeat=2, out=out, progress=False, **SMALL)
    with pytest.raises(NeuromodError, match="another sweep \\(repeat was 2, now 3\\)"):
        sw.sweep("lif", grid, repeat=3, out=out, resume=True, progress=False, **SMALL)
    first = list(calls)
    calls.clear()
    monkeypatch.setattr(sw, "run_point", lambda t: (calls.append(t["key"]), real(t))[1])
    rows = sw.sweep("lif", grid, repeat=2, out=out, resume=True, progress=False, **SMALL)
    assert len(calls) == 2 and not set(calls) & set(first)        # only the missing two
    assert len(rows) == 6 and len({(r["tau_m"], r["repeat"]) for r in rows}) == 6
    fresh = sw.sweep("lif", grid, repeat=2, progress=False, **SMALL)
    for a, b in zip(rows, fresh):
        assert _comparable(a) == _comparable(b)
    assert len(_read_csv(out)) == 6 and not journal.exists()


def test_a_journal_cut_mid_line_is_resumed(tmp_path):
    out = tmp_path / "r.csv"
    grid = [("tau_m", ["10*ms", "20*ms"])]
    rows = sw.sweep("lif", grid, progress=False, **SMALL)
    settings = {"model": "lif", "grid": [["tau_m", ["10*ms", "20*ms"]]], "repeat": 1,
                "seed": 0, "n": 4, "duration": 0.05, "dt": 1e-4, "backend": "torch",
                "target": "numpy", "sets": [], "measures": list(sw.DEFAULT_MEASURES)}
    key = sw.sweep_tasks("lif", grid, **SMALL)[0]["key"]
    (tmp_path / "r.partial.jsonl").write_text(
        json.dumps({"sweep": settings}) + "\n" + json.dumps({"key": key, "row": rows[0]})
        + "\n" + '{"key": "[[[\\"tau_m\\", \\"20')
    again = sw.sweep("lif", grid, out=out, resume=True, progress=False, **SMALL)
    assert again[0]["wall_s"] == rows[0]["wall_s"]                  # taken from the journal
    assert again[1]["n_spikes"] == rows[1]["n_spikes"]


def test_killed_command_resumes(tmp_path, kill_at):
    out = tmp_path / "r.csv"
    argv = [NEUROMOD, "sweep", "lif", "--grid", "tau_m=10*ms,20*ms,30*ms", "--n", "3",
            "--duration", "0.05", "--out", str(out), "--scheduler", "none"]
    kill_at(argv, "sweep-row")
    journal = tmp_path / "r.partial.jsonl"
    assert not out.exists() and len(journal.read_text().splitlines()) == 2
    p = _cli(*argv[1:], "--resume", "--json")
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["n_rows"] == 3 and rep["n_resumed"] == 1 and rep["n_failed"] == 0
    assert [r["tau_m"] for r in rep["rows"]] == [0.01, 0.02, 0.03]
    assert len(_read_csv(out)) == 3 and not journal.exists()


def test_a_worker_killed_mid_sweep(client, kill_a_busy_worker, tmp_path):
    """Every row exactly once, equal to the in-process rows, after a worker dies."""
    grid = [("tau_m", [f"{k}*ms" for k in range(10, 22)])]
    opts = dict(n=20, duration=0.5)
    killed = kill_a_busy_worker(client)
    rows = sw.sweep("lif", grid, out=tmp_path / "r.csv", client=client, progress=False,
                    **opts)
    assert killed, "no worker was killed while it ran a task"
    assert [r["tau_m"] for r in rows] == pytest.approx([k / 1e3 for k in range(10, 22)])
    table = _read_csv(tmp_path / "r.csv")
    assert len(table) == 12 and all(t["error"] == "" for t in table)
    here = sw.sweep("lif", grid, progress=False, **opts)
    assert [r["n_spikes"] for r in rows] == [r["n_spikes"] for r in here]


def test_command_help_json_and_errors(tmp_path):
    p = _cli("sweep", "--help")
    assert p.returncode == 0 and "--grid" in p.stdout and "--scheduler" in p.stdout
    out = tmp_path / "r.csv"
    for argv, msg in [
        (["lif", "--grid", "tau_x=1,2"], "model 'lif' has no parameter 'tau_x'"),
        (["lif", "--grid", "tau_m=1*mV"], "--grid tau_m=1*mV"),
        (["lif", "--grid", "tau_m=1*ms", "--scheduler", "lokal"], "--scheduler lokal"),
        (["lif", "--grid", "tau_m=1*ms", "--measures", "rate"], "--measures: unknown rate"),
        (["tempotron", "--grid", "tau_m=1*ms"], "not the tempotron"),
        (["lif", "--grid", "tau_m=1*ms", "--dt", "1", "--duration", "0.5"], "must be smaller")]:
        p = _cli("sweep", *argv, "--out", str(out))
        assert p.returncode == 2 and msg in p.stderr, (argv, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    p = _cli("sweep", "lif", "--grid", "tau_m=1*ms", "--out", str(tmp_path / "r.txt"))
    assert p.returncode == 2 and "give a .csv or .parquet" in p.stderr
    assert not list(tmp_path.iterdir())


def test_unreachable_scheduler_writes_nothing(tmp_path, free_port):
    p = _cli("sweep", "lif", "--grid", "tau_m=10*ms", "--out", str(tmp_path / "r.csv"),
             "--scheduler", f"tcp://127.0.0.1:{free_port}")
    assert p.returncode == 2 and "cannot reach the Dask scheduler" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
