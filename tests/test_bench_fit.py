"""benchmarks/bench_fit.py at a tiny size: it runs, its JSON has every row with times,
objectives and ratios, every implementation reaches the same objective and the same
coefficients, and a missing peer is skipped with its reason. No timing is asserted."""
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
                        "--repeat", "1", "--json"], capture_output=True, text=True, timeout=600,
                       cwd=SCRIPT.parents[1])
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
