"""benchmarks/bench_fit.py at a tiny size: it runs, its JSON has every row with times,
objectives and ratios, every implementation reaches the same objective and the same
coefficients, and a missing peer is skipped with its reason; the ``models`` section on
a tiny simulated recording has a row per model kind and device with positive times, and
a row that fails is reported. No timing is asserted beyond being positive."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_fit.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_fit", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_workload_is_seeded_and_the_objective_is_the_fits():
    bench = _bench()
    rec1, y1 = bench.workload(2, 3, 5.0, seed=3)
    rec2, y2 = bench.workload(2, 3, 5.0, seed=3)
    assert np.array_equal(y1, y2) and y1.shape == (5000, 2) and y1.sum() > 100
    from neuromod.retina.glm import fit_design
    X = np.random.default_rng(0).normal(size=(y1.shape[0], 3))
    fits = [fit_design(X, y1[:, u], alpha=1e-3) for u in range(2)]
    total = bench.objective(X, y1.astype(float), [f.intercept for f in fits],
                            np.stack([f.coef for f in fits], 1), 1e-3)
    assert total == pytest.approx(sum(f.objective for f in fits), rel=1e-12)


def test_unavailable_peers_are_reported():
    assert _bench()._available("no_such_module_here").startswith("no_such_module_here not")
    assert _bench()._available("numpy") is None


def test_tiny_json_has_every_row_and_one_objective():
    p = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--seconds", "10",
                        "--repeat", "1", "--sections", "glm", "--json"], capture_output=True,
                       text=True, timeout=600, cwd=SCRIPT.parents[1])
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout)
    assert out["quick"] and out["all_reached"] is True and list(out["sections"]) == ["glm"]
    g = out["sections"]["glm"]
    assert g["units"] == 2 and g["pixels"] == 4 and g["design"] == [10000, 5 * 4 + 6 * 2]
    rows = {(r["impl"], r["alpha"]): r for r in g["rows"]}
    skipped = {(s["impl"], s["alpha"]) for s in g["skipped"]}
    expected = {("neuromod GLM.fit", 1e-4), ("neuromod fit_design", 1e-4),
                ("statsmodels ridge", 1e-4), ("nemos PopulationGLM", 1e-4),
                ("neuromod GLM.fit", 0.0), ("neuromod fit_design", 0.0),
                ("statsmodels IRLS", 0.0)}
    assert set(rows) | skipped == expected and not set(rows) & skipped
    for s in g["skipped"]:
        assert "not importable" in s["reason"]
    for (impl, alpha), r in rows.items():
        assert r["time_s"] > 0 and r["first_call_s"] >= r["time_s"] * 0.999
        assert r["time_ratio"] == pytest.approx(
            r["time_s"] / rows[("neuromod GLM.fit", alpha)]["time_s"])
        assert r["gap"] >= 0
        tight = impl.startswith(("neuromod", "nemos")) or impl == "statsmodels IRLS"
        # statsmodels' ridge runs its default BFGS: close, not to the last digits
        assert r["gap"] < (1e-9 if tight else 1e-5), (impl, r["gap"])
        assert r["max_coef_diff"] < (1e-4 if tight else 1e-2), (impl, r["max_coef_diff"])


def test_glm_and_models_run_by_default():
    bench = _bench()
    assert list(bench.SECTIONS) == ["glm", "models", "scale"]
    assert bench.DEFAULT_SECTIONS == ("glm", "models")


def test_tiny_models_section_has_every_row_with_positive_times(capsys):
    import torch
    bench = _bench()
    # 2 units, 4 x 4 pixels, 4 s of training, a 0.5 s test clip x 2 trials
    assert bench.main(["--sections", "models", "--models-sim", "2,4,4,0.5,2", "--seed", "1",
                       "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["sections"]) == ["models"] and out["all_reached"] is True
    m = out["sections"]["models"]
    assert m["recording"] == "simulated" and m["n_units"] == 2 and m["frame_shape"] == [4, 4]
    assert m["train_seconds"] == pytest.approx(4.0) and m["test_seconds"] == pytest.approx(0.5)
    assert m["trials"] == 2 and m["epochs"] == 2 and m["threads"] == torch.get_num_threads()
    cuda = torch.cuda.is_available()
    assert m["cuda"] is cuda
    expected = [(k, "cpu") for k in ("ln", "glm", "cnn", "tecos")]
    expected += [(k, "cuda") for k in ("cnn", "tecos")] if cuda else []
    assert [(r["kind"], r["device"]) for r in m["rows"]] == expected
    for r in m["rows"]:
        assert r["error"] is None, r
        for key in ("fit_s", "per_100s", "sample_s", "intensity_s", "sample_per_s",
                    "intensity_per_s"):
            assert r[key] > 0, (r["kind"], key)
        assert r["sample_per_s"] == pytest.approx(r["sample_s"] / (0.5 * 2))
        assert r["intensity_per_s"] == pytest.approx(r["intensity_s"] / (0.5 * 2))
        if r["kind"] in ("cnn", "tecos"):
            assert len(r["epoch_seconds"]) == 2 and min(r["epoch_seconds"]) > 0
            assert r["epoch_s"] == r["epoch_seconds"][1]
            assert r["per_100s"] == pytest.approx(r["epoch_s"] * 100 / 4.0)
            assert r["fit_s"] >= sum(r["epoch_seconds"])
        else:
            assert r["epoch_s"] is None
            assert r["per_100s"] == pytest.approx(r["fit_s"] * 100 / 4.0)
    text = "\n".join(bench.models_lines(m))
    for kind, device in expected:
        assert any(line.split()[:2] == [kind, device] for line in text.splitlines()), kind
    assert ("CUDA: not available" in text) is not cuda
    assert f"torch threads {torch.get_num_threads()}" in text


def test_a_failing_model_row_is_reported():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available: the CUDA rows are not expected to fail here")
    from neuromod.retina.synthetic import simulated_retina
    bench = _bench()
    rec = simulated_retina(n_units=2, size=4, train_seconds=4.0, test_seconds=0.5,
                           n_test_trials=2, seed=0)
    row = bench.model_row("cnn", "cuda", rec)
    assert row["error"] and row["kind"] == "cnn" and row["device"] == "cuda"
    data = {"recording": "x", "n_units": 2, "frame_shape": [4, 4], "frame_dt": 0.01,
            "train_seconds": 4.0, "test_seconds": 0.5, "trials": 2, "seed": 0, "epochs": 2,
            "threads": 1, "torch": "t", "cuda": True, "rows": [row]}
    assert any("cnn    cuda   failed -- " in line for line in bench.models_lines(data))


def test_tiny_scale_section_times_every_whole_fit(capsys):
    bench = _bench()
    assert bench.main(["--sections", "scale", "--models-sim", "2,4,4,0.5,2",
                       "--scale-epochs", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    s = out["sections"]["scale"]
    assert [r["kind"] for r in s["rows"]] == ["ln", "glm", "cnn", "tecos"]
    for r in s["rows"]:
        assert r["error"] is None and r["fit_s"] > 0 and r["reached"] is True
        assert r["target_s"] == bench.SCALE_TARGET_S
        assert r["epochs_run"] == (2 if r["kind"] in ("cnn", "tecos") else None)
    assert bench.SCALE["n_units"] == 8 and bench.SCALE["train_seconds"] == 400.0
    text = "\n".join(bench.section_scale(bench_args(bench))[1])
    assert "target: each fit under 600 s" in text and text.count("reached") == 4


def bench_args(bench):
    import argparse
    return argparse.Namespace(models_sim="2,4,4,0.5,2", scale_epochs=2, seed=0)
