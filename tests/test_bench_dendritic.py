"""benchmarks/bench_dendritic.py at its quick size: it runs and prints, per K, the budget
(widths, MACs, activations, bytes written), the time and the memory with their ratios
against the point network. No timing is asserted."""
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_dendritic.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_dendritic", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_saved_bytes_counts_unique_storages_without_parameters():
    bench = _bench()
    w = torch.nn.Parameter(torch.ones(3, 5))
    x = torch.ones(7, 5)

    def one():
        h = x @ w.t()                # saves x (7*5 floats) and w (a parameter: left out)
        (h * h).sum().backward()     # saves h twice: one storage (7*3 floats)

    assert bench.saved_bytes(one, [w]) == 4 * (7 * 5 + 7 * 3)


def test_quick_json_has_every_k_with_budget_and_ratios():
    p = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--device", "cpu", "--repeat",
                        "1", "--batch", "8", "--json"], capture_output=True, text=True,
                       timeout=600, cwd=SCRIPT.parents[1])
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout)
    rows = out["rows"]
    assert [(r["soma"], r["K"]) for r in rows] == [(s, k) for s in ("relu", "noisy-lif")
                                                   for k in (1, 2, 4)]
    from neuromod.neurons.dendritic import budget, match_budget
    for r in rows:
        arch = match_budget((64, 256, 256, 256, 10), r["K"])
        assert r["widths"] == list(arch.widths)
        b = budget(arch.network(soma=r["soma"], time_steps=4))
        for key in ("params", "macs", "activations_per_sample", "bytes_written"):
            assert r[key] == b[key], key
        assert r["time_s"] > 0 and r["saved_bytes"] > 0 and r["peak_rise_bytes"] is None
        assert set(r) >= {"time_ratio", "activation_ratio", "saved_ratio"}
        if r["K"] == 1:
            assert r["time_ratio"] == r["activation_ratio"] == r["saved_ratio"] == 1.0


def test_quick_table_prints_a_row_per_k_and_soma():
    p = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--device", "cpu", "--repeat",
                        "1", "--batch", "8"], capture_output=True, text=True, timeout=600,
                       cwd=SCRIPT.parents[1])
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "cpu, soma relu; batch 8" in out and "cpu, soma noisy-lif, T = 4 steps" in out
    heads = [line for line in out.splitlines() if line.split()[:2] == ["K", "widths"]]
    assert len(heads) == 2, out
    for head in ("params", "MACs", "act/sample", "bytes written", "time", "saved",
                 "act ratio", "bytes ratio", "time ratio", "mem ratio"):
        assert all(head in line for line in heads), head
    rows = [line for line in out.splitlines()
            if re.match(r"\s+\d+ 64-\d+-256-\d+-10\s", line)]
    assert len(rows) == 6, out
    for line in rows:
        assert re.search(r"\d+\.\d\d ms\s+\d+\.\d\d MB(\s+\d+\.\d\dx){4}$", line), line
