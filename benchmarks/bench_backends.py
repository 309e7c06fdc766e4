"""Backends: neuromod's Brian2 and Torch backends against hand-written Brian2, snnTorch
and Norse, timed in the same run.

Sections (full size / ``--quick``):

A. Brian2 backend vs the same CUBA network written by hand in plain Brian2 (same
   connectivity, same target): 4,000 neurons, p = 0.02, 1 s at dt = 0.1 ms
   (1,000 neurons, 0.2 s). Code generation / compilation (a zero-length run) is
   reported apart from the run. Target ``numpy``, plus ``cython`` when a compiler
   is present (``--no-cython`` skips it). Goal: overhead <= 10%. The build column is
   the first, cold build (the hand-written net's includes Brian2's sympy solution of
   the exact integrator; neuromod's its numeric propagator).
B. Torch backend vs snnTorch and Norse: a linear layer 4,096 -> 4,096 and a LIF layer
   of 4,096 neurons, batch 16, 500 steps, forward + backward, CPU, float32
   (1,024 neurons, 100 steps). Each run is its own subprocess (peak memory = the
   rise of the process's max RSS over its state before the run); median of 3.
   The same with the neuron dynamics alone (no linear layer). Goal: within 5% of the
   fastest peer or faster, memory no higher.
   Models: neuromod -- a dimensionless LIF written in Brian2 syntax,
   ``dv/dt = (I - v)/tau : 1``, exact integration, threshold 1, reset 0,
   fast-sigmoid surrogate; snnTorch ``Leaky(beta=exp(-dt/tau), reset_mechanism='zero')``;
   Norse ``LIFBoxCell`` (tau_mem = 10 ms, dt = 1 ms).
C. CUBA network forward-only: neuromod's Torch backend on the CPU (fused kernels,
   float64 and float32; and the step-by-step tensor loop used on CUDA and for
   gradients) vs Brian2's numpy and cython targets (cpp_standalone with ``--standalone``: run in
   a fresh process, its build time, compilation included, reported separately), as neuron updates per second (N x steps / run time).

Run: .venv/bin/python benchmarks/bench_backends.py [--quick] [--no-cython] [--standalone]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TAU, DT_ML = 0.01, 1e-3


# ============================================================================ workers
def _rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_ml(lib, case, n, batch, steps, threads):
    """One forward+backward of [linear +] LIF in this process; prints JSON."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = 2.5 * torch.rand(steps, batch, n)   # mean drive 1.25 x threshold: the layer fires
    lin = torch.nn.Linear(n, n, bias=False) if case == "linear" else None
    if lin is not None:
        torch.nn.init.uniform_(lin.weight, 0, 2.0 / n)
    if lib == "neuromod":
        from neuromod.backends import NeuronModel
        from neuromod.backends.torch_backend import NeuronLayer
        model = NeuronModel("lif-box", "dv/dt = (I - v)/tau : 1\nI : 1",
                            {"tau": (TAU, "second"), "v_th": 1.0, "v_reset": 0.0},
                            threshold="v > v_th", reset="v = v_reset", inputs=("I",))
        layer = NeuronLayer(model, n, DT_ML, drive="I", surrogate="fast_sigmoid")

        def run():
            cur = lin(x) if lin is not None else x.clone().requires_grad_(True)
            s = layer(cur.permute(1, 2, 0))
            return s.sum()
    elif lib == "snntorch":
        import snntorch as snn
        from snntorch import surrogate
        import math
        beta = math.exp(-DT_ML / TAU)
        cell = snn.Leaky(beta=beta, threshold=1.0, reset_mechanism="zero",
                         spike_grad=surrogate.fast_sigmoid())

        def run():
            cur = lin(x) if lin is not None else x.clone().requires_grad_(True)
            mem = cell.init_leaky()
            out = []
            cur = cur * (DT_ML / TAU)   # Leaky adds its input: same drive as dv = dt/tau (I - v)
            for t in range(steps):
                spk, mem = cell(cur[t], mem)
                out.append(spk)
            return torch.stack(out).sum()
    elif lib == "norse":
        import norse.torch as nt
        p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(1 / TAU), v_th=torch.tensor(1.0),
                                v_reset=torch.tensor(0.0))
        cell = nt.LIFBoxCell(p, dt=DT_ML)

        def run():
            cur = lin(x) if lin is not None else x.clone().requires_grad_(True)
            state = None
            out = []
            for t in range(steps):
                z, state = cell(cur[t], state)
                out.append(z)
            return torch.stack(out).sum()
    else:
        raise ValueError(lib)
    loss = run()              # warm-up (allocations, code generation)
    loss.backward()
    import gc
    gc.collect()
    before = _rss_mb()
    t0 = time.perf_counter()
    loss = run()
    loss.backward()
    wall = time.perf_counter() - t0
    peak = _rss_mb()
    print(json.dumps({"lib": lib, "case": case, "time_s": wall, "peak_rise_mb": peak - before,
                      "peak_mb": peak, "spikes": float(loss)}))


def _run_worker(args, timeout=3600):
    p = subprocess.run([sys.executable, __file__, "--worker", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


# ============================================================================ section A
def hand_written_cuba(net, duration, dt, target):
    """The CUBA network of ``net`` written directly in Brian2 (its own exact integrator)."""
    import brian2 as b2
    b2.prefs.codegen.target = target
    bdt = dt * b2.second
    ns = dict(taum=20 * b2.ms, taue=5 * b2.ms, taui=10 * b2.ms, Vt=-50 * b2.mV,
              Vr=-60 * b2.mV, El=-49 * b2.mV, R=10 * b2.Mohm)
    eqs = """dv/dt = (El - v + R*(I_e + I_i))/taum : volt (unless refractory)
             dI_e/dt = -I_e/taue : amp
             dI_i/dt = -I_i/taui : amp"""
    groups, objs = {}, []
    for name, pop in net.populations.items():
        G = b2.NeuronGroup(pop.n, eqs, threshold="v > Vt", reset="v = Vr",
                           refractory=5 * b2.ms, method="exact", namespace=ns, dt=bdt)
        G.v = pop.init["v"] * b2.volt
        groups[name] = G
        objs += [G, b2.SpikeMonitor(G)]
    for c in net.connections:
        pre, post, w, _ = c.coo()
        tgt = "I_e" if c.port == "e" else "I_i"
        S = b2.Synapses(groups[c.source], groups[c.target], "w : amp", on_pre=f"{tgt}_post += w",
                        dt=bdt)
        S.connect(i=pre, j=post)
        S.w = w * b2.amp
        objs.append(S)
    net2 = b2.Network(*objs)
    t0 = time.perf_counter()
    net2.run(0 * b2.second, namespace={})
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    net2.run(duration * b2.second, namespace={})
    return build, time.perf_counter() - t0, sum(o.num_spikes for o in objs
                                                 if isinstance(o, b2.SpikeMonitor))


def section_a(quick, cython):
    from neuromod.neurons.networks import cuba
    n, dur = (1000, 0.2) if quick else (4000, 1.0)
    p = 0.08 if quick else 0.02
    net = cuba(n=n, p=p, seed=1)
    print(f"\nA. Brian2 backend vs hand-written Brian2: CUBA {n} neurons, p = {p}, {dur} s, dt = 0.1 ms")
    print(f"   {'target':<8} {'neuromod build':>15} {'hand build':>11} {'neuromod run':>13} "
          f"{'hand run':>9} {'overhead':>9} {'spikes':>15}")
    rows = {}
    for target in ("numpy",) + (("cython",) if cython else ()):
        runs_nm, runs_hw = [], []
        for _ in range(2 if not quick else 1):
            r = net.run(dur, 1e-4, backend="brian2", target=target)
            runs_nm.append((r.build_s, r.run_s, sum(s.n_spikes for s in r.spikes.values())))
            runs_hw.append(hand_written_cuba(net, dur, 1e-4, target))
        # build: the first (cold) one -- later builds reuse Brian2's in-process caches;
        # run: the faster of the repeats
        b_nm, b_hw = runs_nm[0][0], runs_hw[0][0]
        _, t_nm, s_nm = min(runs_nm, key=lambda x: x[1])
        _, t_hw, s_hw = min(runs_hw, key=lambda x: x[1])
        over = t_nm / t_hw - 1
        rows[target] = (t_nm, t_hw)
        print(f"   {target:<8} {b_nm:>14.2f}s {b_hw:>10.2f}s {t_nm:>12.2f}s {t_hw:>8.2f}s "
              f"{over:>+8.1%} {s_nm:>7d}/{s_hw:<7d}")
    return net, rows


# ============================================================================ section B
def section_b(quick, threads):
    n, batch, steps = (1024, 16, 100) if quick else (4096, 16, 500)
    print(f"\nB. Torch backend vs snnTorch and Norse: {n} neurons, batch {batch}, {steps} steps, "
          f"forward + backward, CPU float32, {threads} thread(s); median of 3 subprocess runs")
    out = {}
    for case in ("linear", "neuron"):
        label = f"linear {n}->{n} + LIF" if case == "linear" else "LIF dynamics only"
        print(f"   {label}")
        res = {}
        for lib in ("neuromod", "snntorch", "norse"):
            runs = [_run_worker(["ml", lib, case, n, batch, steps, threads]) for _ in range(3)]
            t = statistics.median(r["time_s"] for r in runs)
            mem = statistics.median(r["peak_rise_mb"] for r in runs)
            res[lib] = (t, mem, runs[0]["spikes"])
        fastest = min(v[0] for k, v in res.items() if k != "neuromod")
        for lib, (t, mem, spk) in res.items():
            ratio = "" if lib != "neuromod" else f"  fastest peer / neuromod = {fastest / t:.2f}"
            print(f"     {lib:<9} {t:8.3f} s  peak +{mem:7.0f} MB  spikes {spk:10.0f}{ratio}")
        out[case] = res
    return out


# ============================================================================ section C
def section_c(net, quick, cython, standalone):
    import torch
    from neuromod.neurons.networks import cuba
    n, dur = (1000, 0.2) if quick else (4000, 1.0)
    steps = int(round(dur / 1e-4))
    print(f"\nC. CUBA forward-only, {n} neurons, {dur} s: neuron updates per second (N x steps / run)")
    rows = []
    for dtype, fused in ((torch.float64, True), (torch.float32, True), (torch.float64, False)):
        r = net.run(dur, 1e-4, backend="torch", dtype=dtype, fused=fused)
        label = f"neuromod torch {str(dtype)[6:]}" + ("" if fused else " eager")
        rows.append((label, r.build_s, r.run_s, sum(s.n_spikes for s in r.spikes.values())))
    for target in ("numpy",) + (("cython",) if cython else ()):
        r = net.run(dur, 1e-4, backend="brian2", target=target)
        rows.append((f"brian2 {target}", r.build_s, r.run_s, sum(s.n_spikes for s in r.spikes.values())))
    if standalone:
        rows.append(_standalone(n, dur, quick))
    for name, b, t, spk in rows:
        print(f"   {name:<24} build {b:7.2f} s  run {t:7.2f} s  {n * steps / t:12.3e} updates/s  "
              f"spikes {spk}")
    return rows


def _standalone(n, dur, quick):
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import time, json;"
            f"from neuromod.neurons.networks import cuba;"
            f"net = cuba(n={n}, p={0.08 if quick else 0.02}, seed=1);"
            f"r = net.run({dur}, 1e-4, backend='brian2', target='cpp_standalone');"
            f"print(json.dumps([r.build_s, r.run_s, sum(s.n_spikes for s in r.spikes.values())]))")
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=d)
    if p.returncode != 0:   # e.g. no C++ compiler: neuromod's one-line error
        why = (p.stderr.strip().splitlines() or ["?"])[-1]
        print(f"   brian2 cpp_standalone failed: {why}")
        return ("brian2 cpp_standalone (failed)", float("nan"), float("nan"), 0)
    b, t, s = json.loads(p.stdout.strip().splitlines()[-1])
    return ("brian2 cpp_standalone", b, t, s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-cython", action="store_true")
    ap.add_argument("--standalone", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads in section B")
    ap.add_argument("--only", choices=("A", "B", "C"))
    ap.add_argument("--worker", nargs="+")
    a = ap.parse_args()
    if a.worker:
        kind, lib, case, n, batch, steps, threads = a.worker
        worker_ml(lib, case, int(n), int(batch), int(steps), int(threads))
        return
    import shutil
    import torch
    torch.set_num_threads(1)
    cython = not a.no_cython and shutil.which("g++") is not None
    print(f"neuromod backend benchmark ({'quick' if a.quick else 'full'}); CPU cores: {os.cpu_count()}")
    net = None
    if a.only in (None, "A"):
        net, _ = section_a(a.quick, cython)
    if a.only in (None, "B"):
        section_b(a.quick, a.threads)
    if a.only in (None, "C"):
        if net is None:
            from neuromod.neurons.networks import cuba
            net = cuba(n=1000 if a.quick else 4000, p=0.08 if a.quick else 0.02, seed=1)
        section_c(net, a.quick, cython, a.standalone)


if __name__ == "__main__":
    main()
