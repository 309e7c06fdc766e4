"""benchmarks/bench_nsnn.py at its quick size: it runs, prints its tables, and the three
implementations of the NSNN layer agree statistically; the peers' spike is the one the
benchmark describes."""
import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_nsnn.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_nsnn", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_peer_spike_is_bernoulli_with_gaussian_density_gradient():
    bench = _bench()
    spike = bench.gaussian_spike()
    sigma = 0.3
    d = torch.linspace(-1.0, 1.0, 9, dtype=torch.float64).repeat(20000, 1).requires_grad_(True)
    torch.manual_seed(0)
    s = spike.apply(d, sigma)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    p = 0.5 * torch.special.erfc(-d[0].detach() / (sigma * math.sqrt(2)))
    se = torch.sqrt(p * (1 - p) / d.shape[0]).clamp_min(1e-12)
    assert torch.all((s.mean(0) - p).abs() < 4 * se + 1e-12)
    s.sum().backward()
    dens = torch.exp(-0.5 * (d[0] / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    torch.testing.assert_close(d.grad[0], dens.detach())


def test_statistics_of_counts_rate_variance_and_gradient():
    bench = _bench()
    spikes = torch.tensor([[[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]])      # (batch 1, n 2, T 3)
    grad = torch.tensor([[1.0, 2.0], [3.0, 5.0]])
    st = bench.statistics_of(spikes, grad)
    assert st["rate"] == pytest.approx(1 / 3) and st["spikes"] == 2.0
    assert st["var"] == pytest.approx(1.0) and st["grad"] == pytest.approx(5.5)


def test_quick_run_prints_times_memory_ratios_and_agreement():
    pytest.importorskip("snntorch")
    p = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--repeat", "1"],
                       capture_output=True, text=True, timeout=600, cwd=SCRIPT.parents[1])
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "1024 noisy-lif neurons" in out and "100 steps" in out
    for label in ("neuromod SpikingDense", "torch loop + autograd.Function",
                  "snnTorch Leaky (reset by spike)"):
        rows = [line for line in out.splitlines() if line.strip().startswith(label)]
        assert len(rows) == 2, (label, out)                  # time table + statistics
        assert re.search(r"\d+\.\d{3} s\s+\+\s*\d+ MB", rows[0]), rows[0]
        if label != "neuromod SpikingDense":
            assert re.search(r"\d+\.\d\dx\s+\d+\.\d\dx", rows[0]), rows[0]
    assert "same statistics (" in out and out.rstrip().endswith("vs neuromod): yes")
