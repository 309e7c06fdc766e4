"""benchmarks/bench_tempotron.py at its quick size: it runs, its JSON has the training rows
(neuromod, and SpikingJelly or a skipped row with the reason) and the exact / clock rows
per input rate, and the non-timing figures are sane. SpikingJelly is not required. No
timing is asserted."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_tempotron.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_tempotron", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _has_spikingjelly():
    try:
        _bench().load_spikingjelly()
    except Exception:
        return False
    return True


def test_initial_state_is_the_one_train_binary_starts_from():
    from neuromod.neurons.tempotron.learning import latency_patterns, train_binary
    bench = _bench()
    P, y = latency_patterns(12, n_afferents=15, seed=3)
    w, _ = train_binary(P, y, epochs=1, lr=0.0, seed=5)          # lr 0: w stays at w0
    rng, w0 = bench.initial_state(12, 15, seed=5)
    assert np.array_equal(w, w0)
    assert sorted(rng.permutation(12)) == list(range(12))


def test_dense_latencies_and_grid_voltage():
    from neuromod.neurons.tempotron import Patterns
    from neuromod.neurons.tempotron.learning import BINARY_NEURON
    bench = _bench()
    P = Patterns.from_lists([[[0.010], [], [0.2]], [[], [0.0305], []]], 0.5)
    X = bench.dense_latencies(P)
    assert X.shape == (2, 3)
    assert np.allclose(X, [[10.0, -1.0, 200.0], [-1.0, 30.5, -1.0]])
    V = bench.grid_voltage(P, np.array([1.0, 0.5, 0.0]), BINARY_NEURON)
    assert V.shape == (2, 500)
    t = np.arange(500) * 1e-3
    assert np.allclose(V[0], BINARY_NEURON.kernel(t - 0.010))
    assert np.allclose(V[1], 0.5 * BINARY_NEURON.kernel(t - 0.0305))
    assert V[0].max() == pytest.approx(1.0, abs=1e-2) and (V[0][:11] == 0).all()


def test_poisson_patterns_are_seeded_and_at_the_rate():
    bench = _bench()
    a = bench.poisson_patterns(4, 100, 20.0, 0.5, np.random.default_rng(1))
    b = bench.poisson_patterns(4, 100, 20.0, 0.5, np.random.default_rng(1))
    assert np.array_equal(a.times, b.times) and np.array_equal(a.afferents, b.afferents)
    assert a.n_patterns == 4 and a.n_afferents == 100
    assert 3600 < len(a.times) < 4400                            # 4 x 100 x 20 Hz x 0.5 s


def test_quick_json_has_both_sections():
    p = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json"], capture_output=True,
                       text=True, timeout=600, cwd=SCRIPT.parents[1])
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout)
    assert out["quick"] and out["epochs"] == 1 and out["repeat"] == 1
    assert list(out["sections"]) == ["training", "modes"]

    tr = out["sections"]["training"]
    assert tr["n_afferents"] == tr["n_patterns"] == 20 and tr["load"] == 1.0
    assert (tr["duration_s"], tr["lr"], tr["momentum"]) == (0.5, 1e-3, 0.99)
    ours, peer = tr["rows"]
    assert ours["impl"] == "neuromod" and peer["impl"] == "spikingjelly"
    from neuromod.neurons.tempotron.learning import (classify_binary, latency_patterns,
                                                     train_binary)
    P, y = latency_patterns(20, n_afferents=20, seed=0)
    w, hist = train_binary(P, y, epochs=1, seed=0)
    assert ours["errors_per_epoch"] == [h["errors"] for h in hist]
    assert ours["errors_after"] == int((classify_binary(P, w) != y).sum())
    assert ours["time_s"] > 0 and ours["time_ratio"] == 1.0 and len(ours["times_s"]) == 1
    if "skipped" in peer:
        assert not _has_spikingjelly() and peer["skipped"]
    else:
        assert peer["version"] and peer["time_s"] > 0 and peer["epochs_run"] == 1
        assert peer["time_ratio"] == pytest.approx(peer["time_s"] / ours["time_s"])
        assert 0 <= peer["errors_per_epoch"][0] <= 20 and 0 <= peer["errors_after"] <= 20
        vc = peer["voltage_check"]
        assert vc["max_abs_voltage"] > 0.01 and vc["max_abs_diff"] < 1e-9 * vc[
            "max_abs_voltage"] + 1e-12
        assert 0 <= peer["float32_nan_patterns"] <= 20

    modes = out["sections"]["modes"]
    assert modes["dt_s"] == 1e-4 and modes["backend"] == "torch" and modes["n_patterns"] == 3
    rows = modes["rows"]
    assert [r["rate_hz"] for r in rows] == [1.0, 5.0, 20.0]
    spikes = [r["input_spikes"] for r in rows]
    assert spikes == sorted(spikes) and spikes[0] > 0
    for r in rows:
        assert r["exact_s"] > 0 and r["clock_s"] > 0
        assert r["time_ratio"] == pytest.approx(r["clock_s"] / r["exact_s"])
        assert r["input_spikes_per_pattern"] == pytest.approx(r["input_spikes"] / 3)
        assert 0.0 <= r["same_count_share"] <= 1.0
    assert sum(r["exact_output_spikes"] for r in rows) > 0
    # the clock-driven mode converges to the exact one: the totals agree closely
    for r in rows:
        assert abs(r["exact_output_spikes"] - r["clock_output_spikes"]) <= 2


def test_missing_spikingjelly_is_a_skipped_row(monkeypatch, capsys):
    bench = _bench()

    def missing():
        raise ImportError("No module named 'spikingjelly'")

    monkeypatch.setattr(bench, "load_spikingjelly", missing)
    assert bench.main(["--quick", "--sections", "training", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["sections"]) == ["training"]
    ours, peer = out["sections"]["training"]["rows"]
    assert ours["impl"] == "neuromod" and ours["time_s"] > 0
    assert peer == {"impl": "spikingjelly",
                    "skipped": "ImportError: No module named 'spikingjelly'"}
    assert bench.main(["--quick", "--sections", "training"]) == 0
    text = capsys.readouterr().out
    assert "SpikingJelly Tempotron (1 ms grid, float64)" in text
    assert "skipped: ImportError: No module named 'spikingjelly'" in text


@pytest.mark.skipif(not _has_spikingjelly(), reason="SpikingJelly is not installed")
def test_spikingjelly_trainer_learns_from_the_same_start():
    from neuromod.neurons.tempotron.learning import BINARY_NEURON, latency_patterns
    bench = _bench()
    Tempotron, _ = bench.load_spikingjelly()
    P, y = latency_patterns(10, n_afferents=30, seed=2)
    train, X, Y = bench.spikingjelly_trainer(Tempotron, P, y, 30, 2, BINARY_NEURON)
    w, hist, net = train()
    _, w0 = bench.initial_state(10, 30, seed=2)
    assert X.shape == (10, 30) and Y.shape == (10,) and w.shape == (30,)
    assert np.isfinite(w).all() and not np.allclose(w, w0)
    assert hist[-1] < hist[0] and len(hist) <= 30
