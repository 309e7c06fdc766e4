"""NSNN: a dense layer of noisy spiking neurons, forward + backward, neuromod against the
same neuron written by hand in plain PyTorch and with snnTorch, timed in the same run.

Workload (full size / ``--quick``): a dense synapse 4,096 -> 4,096 (1,024 -> 1,024)
without bias driving 4,096 (1,024) NSNN noisy-lif neurons -- ``u <- beta u + W x_t``,
spike with probability ``Phi((u - theta)/sigma)`` on the noise-free ``u``, hard reset
to 0 with the emitted spike, the reset detached from the gradient, spike gradient the
Gaussian density ``phi((u - theta)/sigma)/sigma`` (noise-driven learning); sigma = 0.3,
beta = 0.5, theta = 1 -- batch 16, 500 (100) steps, CPU, float32. The inputs are fixed
uniform values on [0, 1.2) per input, batch and step, the weights uniform on
[0, 2/n_in) (mean drive 0.6 per step: about a third of the steps fire); the loss is
the total spike count, then ``.backward()`` (gradient of the weights).

Implementations, each in its own subprocess with the same weights and inputs:

* ``neuromod``: :class:`~neuromod.backends.layers.SpikingDense` of
  :func:`~neuromod.neurons.nsnn.noisy_lif` (gaussian noise, reset to zero, reset
  detached: the defaults), input ``(batch, n_in, time)``;
* ``torch loop``: a plain PyTorch time loop with a custom ``torch.autograd.Function``
  spike, sampled as ``(u - theta + sigma eps > 0)``, ``eps ~ N(0, 1)`` (the official
  NSNN code's form), backward ``phi((u - theta)/sigma)/sigma``; the reset
  ``u <- u (1 - s.detach())``;
* ``snnTorch``: ``snntorch.Leaky(beta, threshold, spike_grad=<that spike>)``. With a
  stochastic ``spike_grad``, Leaky's own reset (``reset_mechanism='zero'``) calls
  ``spike_grad`` a second time on the previous membrane: an independent draw, so
  neurons reset without having spiked and vice versa (a different process). The
  timed row therefore uses ``reset_mechanism='none'`` and resets with the emitted
  spike after each call; ``--snntorch-zero`` adds the ``'zero'`` variant as users
  write it, to show its firing statistics.

The peers compute the synaptic drive of all steps in one matrix product, as neuromod
does. Time: best of ``--repeat`` (3) forward + backward passes after a full-size
warm-up. Memory: the rise of the process's resident set (VmHWM - VmRSS) during the
first full-size pass, after a tiny warm-up (libraries loaded, kernels compiled) and
with the high-water mark reset through ``/proc/self/clear_refs``; ``ru_maxrss`` stands
in where that file is not writable. ``tracemalloc`` does not see Torch's allocations.

Check: every implementation samples its own noise, so the statistics, not the spikes,
must agree: the mean firing rate per step, the variance of one neuron's spike count in
one trial, and the mean over neurons of the weight gradient's row sums, each with its
standard error (over batch x neurons, and over neurons), and ``z`` = difference /
combined SE against neuromod (|z| < 4 passes; the SEs include the spread of the drive
between neurons, so they are conservative). snnTorch's ``'zero'`` reset leaves the
rate and the mean gradient as they are (the membrane follows the same chain; only
the spikes decouple from the resets) but not the count variance.

Run: .venv/bin/python benchmarks/bench_nsnn.py [--quick] [--threads N] [--repeat N]
     [--snntorch-zero]
"""
import argparse
import gc
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peakmem import peak_kb, reset_peak, status_kb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIGMA, BETA, THETA = 0.3, 0.5, 1.0
X_MAX = 1.2          # inputs uniform on [0, X_MAX); weights uniform on [0, 2 / n_in)
Z_PASS = 4.0
LIBS = ("neuromod", "torch", "snntorch")
LABELS = {"neuromod": "neuromod SpikingDense", "torch": "torch loop + autograd.Function",
          "snntorch": "snnTorch Leaky (reset by spike)",
          "snntorch-zero": "snnTorch Leaky reset='zero'"}


# ============================================================================ peers' spike
def gaussian_spike():
    """The NSNN spike as users write it in PyTorch: ``(d + sigma eps > 0)`` forward,
    ``phi(d / sigma) / sigma`` backward, ``d = u - theta`` (a fresh ``eps`` per call)."""
    import torch

    class GaussianBernoulliSpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, d, sigma):
            ctx.save_for_backward(d)
            ctx.sigma = sigma
            return (d + sigma * torch.randn_like(d) > 0).to(d.dtype)

        @staticmethod
        def backward(ctx, grad):
            d, = ctx.saved_tensors
            s = ctx.sigma
            return grad * torch.exp(-0.5 * (d / s) ** 2) / (s * math.sqrt(2 * math.pi)), None

    return GaussianBernoulliSpike


# ============================================================================ workers
def make_data(n_in, n, batch, steps, seed=0):
    """Weights ``(n, n_in)`` and inputs ``(batch, n_in, steps)``, the same in every worker."""
    import torch
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(n, n_in, generator=g) * (2.0 / n_in)
    x = X_MAX * torch.rand(batch, n_in, steps, generator=g)
    return W, x


def build(lib, W):
    """``run(x)``: spikes ``(batch, n, T)`` of ``lib`` for inputs ``(batch, n_in, T)``,
    where ``x`` is already in the implementation's own layout (see :func:`layout`),
    and the weight tensor whose gradient the pass produces."""
    import torch
    n, n_in = W.shape
    if lib == "neuromod":
        from neuromod.backends.layers import SpikingDense
        from neuromod.neurons.nsnn import noisy_lif
        layer = SpikingDense(n_in, n, noisy_lif("gaussian", "zero", beta=BETA, theta=THETA,
                                                sigma=SIGMA), bias=False)
        with torch.no_grad():
            layer.synapse.weight.copy_(W)
        return layer, layer.synapse.weight
    lin = torch.nn.Linear(n_in, n, bias=False)
    with torch.no_grad():
        lin.weight.copy_(W)
    spike = gaussian_spike()
    if lib == "torch":
        def run(x):                                   # x: (T, batch, n_in)
            cur = lin(x)
            u = torch.zeros_like(cur[0])
            out = []
            for t in range(cur.shape[0]):
                u = BETA * u + cur[t]
                s = spike.apply(u - THETA, SIGMA)
                out.append(s)
                u = u * (1.0 - s.detach())
            return torch.stack(out, -1)
        return run, lin.weight
    if lib in ("snntorch", "snntorch-zero"):
        import snntorch as snn
        zero = lib == "snntorch-zero"
        cell = snn.Leaky(beta=BETA, threshold=THETA,
                         spike_grad=lambda d: spike.apply(d, SIGMA),
                         reset_mechanism="zero" if zero else "none")

        def run(x):
            cur = lin(x)
            mem = cell.reset_mem()
            out = []
            for t in range(cur.shape[0]):
                spk, mem = cell(cur[t], mem)
                out.append(spk)
                if not zero:
                    mem = mem * (1.0 - spk.detach())
            return torch.stack(out, -1)
        return run, lin.weight
    raise ValueError(f"unknown implementation {lib!r}")


def layout(lib, x):
    """``x`` (batch, n_in, T) in the layout ``lib`` takes: neuromod's own, or the
    peers' time-major ``(T, batch, n_in)`` (made contiguous outside the timing)."""
    return x if lib == "neuromod" else x.permute(2, 0, 1).contiguous()


def statistics_of(spikes, grad):
    """Rate per step, variance of the spike count of a neuron in one trial (over batch x
    neurons) and mean weight-gradient row sum, each with its standard error."""
    B, n, T = spikes.shape
    counts = spikes.detach().sum(-1).double().reshape(-1)
    rows = grad.detach().sum(1).double()
    c = counts - counts.mean()
    var, m4 = float((c * c).mean()), float((c ** 4).mean())
    return {"rate": float(counts.mean()) / T,
            "rate_se": float(counts.std()) / math.sqrt(counts.numel()) / T,
            "var": var, "var_se": math.sqrt(max(m4 - var * var, 0.0) / counts.numel()),
            "grad": float(rows.mean()), "grad_se": float(rows.std()) / math.sqrt(rows.numel()),
            "spikes": float(counts.sum())}


def worker(lib, n_in, n, batch, steps, threads, repeat, seed):
    """Warm-up, one memory-measured pass, ``repeat`` timed passes; prints JSON."""
    import torch
    torch.set_num_threads(threads)
    W, x = make_data(n_in, n, batch, steps, seed)
    run, weight = build(lib, W)
    torch.manual_seed(seed + 1)        # the implementation's own noise
    xs = layout(lib, x)
    tiny = layout(lib, x[:1, :, :2].contiguous())

    def once(inp):
        weight.grad = None
        s = run(inp)
        s.sum().backward()
        return s

    once(tiny)                          # libraries loaded, kernels compiled
    gc.collect()
    reset_ok = reset_peak()
    base = status_kb("VmRSS")
    s = once(xs)
    peak = peak_kb(reset_ok)
    stats = statistics_of(s, weight.grad)
    del s
    gc.collect()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        s = once(xs)
        times.append(time.perf_counter() - t0)
        del s
    print(json.dumps({"lib": lib, "time_s": min(times), "times_s": times,
                      "peak_rise_mb": (peak - base) / 1024.0, "hwm_reset": reset_ok, **stats}))


def _run_worker(lib, size, threads, repeat, seed, timeout=7200):
    args = [lib, *size, threads, repeat, seed]
    p = subprocess.run([sys.executable, __file__, "--worker", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"{lib}: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ============================================================================ report
def z_score(a, b, key):
    se = math.hypot(a[key + "_se"], b[key + "_se"])
    return (a[key] - b[key]) / se if se > 0 else (0.0 if a[key] == b[key] else math.inf)


def report(res, checked):
    """Print the time/memory table and the statistics check; True when the check passes."""
    ref = res["neuromod"]
    print(f"   {'implementation':<32} {'time':>9} {'peak rise':>11} {'time ratio':>11} "
          f"{'memory ratio':>13}   (ratios: peer / neuromod)")
    for lib, r in res.items():
        tr = "" if lib == "neuromod" else f"{r['time_s'] / ref['time_s']:10.2f}x"
        mr = "" if lib == "neuromod" else (
            f"{r['peak_rise_mb'] / ref['peak_rise_mb']:12.2f}x" if ref["peak_rise_mb"] > 0 else "")
        print(f"   {LABELS[lib]:<32} {r['time_s']:7.3f} s {r['peak_rise_mb']:+8.0f} MB "
              f"{tr:>11} {mr:>13}")
    print(f"\n   Same statistics (each samples its own noise; z against neuromod, "
          f"|z| < {Z_PASS:g} passes):")
    print(f"   {'implementation':<32} {'rate per step':>17} {'z':>6} {'count variance':>17} "
          f"{'z':>6} {'grad row sum':>21} {'z':>6}")
    ok = True
    for lib, r in res.items():
        z = {k: z_score(r, ref, k) for k in ("rate", "var", "grad")}
        zs = {k: "" if lib == "neuromod" else f"{v:+6.1f}" for k, v in z.items()}
        print(f"   {LABELS[lib]:<32} {r['rate']:.5f} ± {r['rate_se']:.5f} {zs['rate']:>6} "
              f"{r['var']:7.3f} ± {r['var_se']:7.3f} {zs['var']:>6} "
              f"{r['grad']:.5g} ± {r['grad_se']:.2g} {zs['grad']:>6}")
        if lib in checked and lib != "neuromod":
            ok &= all(abs(v) < Z_PASS for v in z.values())
    print(f"   same statistics ({', '.join(LABELS[k] for k in checked if k != 'neuromod')} "
          f"vs neuromod): {'yes' if ok else 'NO'}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch (and numba) threads")
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed passes, best taken (default 3; 2 with --quick)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--snntorch-zero", action="store_true",
                    help="also run snnTorch's Leaky with reset_mechanism='zero' (left out "
                         "of the check: a different process with a stochastic spike)")
    ap.add_argument("--worker", nargs="+")
    a = ap.parse_args()
    if a.worker:
        lib, *rest = a.worker
        worker(lib, *map(int, rest))
        return
    n_in, n, batch, steps = (1024, 1024, 16, 100) if a.quick else (4096, 4096, 16, 500)
    repeat = a.repeat or (2 if a.quick else 3)
    print(f"neuromod NSNN benchmark ({'quick' if a.quick else 'full'}); CPU cores: {os.cpu_count()}")
    print(f"\nDense {n_in} -> {n} (no bias) + {n} noisy-lif neurons (gaussian, sigma {SIGMA}, "
          f"beta {BETA}, theta {THETA:g}, hard reset detached), batch {batch}, {steps} steps,\n"
          f"forward + backward of the spike count, CPU float32, {a.threads} thread(s); "
          f"best of {repeat} after a warm-up, one subprocess per implementation")
    libs = LIBS + (("snntorch-zero",) if a.snntorch_zero else ())
    res = {lib: _run_worker(lib, (n_in, n, batch, steps), a.threads, repeat, a.seed)
           for lib in libs}
    if not all(r["hwm_reset"] for r in res.values()):
        print("   (peak memory from ru_maxrss: /proc/self/clear_refs not writable)")
    ok = report(res, LIBS)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
