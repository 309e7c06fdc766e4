"""Pulse-coupled neural networks: neuromod's classic PCNN on both backends against
pyclustering's PCNN (C++ core and Python path), timed in the same run, and neuromod
alone on larger images.

Workload: :func:`neuromod.neurons.pcnn.run` with ``variant='classic'``, 8 neighbours,
50 steps (10 with ``--quick``), the pyclustering defaults (``a_F = a_L = 0.1``,
``a_E = 0.5``, ``V_F = V_L = 1``, ``V_E = 10``), on a uniform random image on [0, 1)
drawn from ``numpy.random.default_rng(seed)``, float64 stimulus.

Sections (each a function in :data:`SECTIONS`: it takes the parsed arguments, the
results of the sections before it and the pool of :class:`Workers`, and returns its
part of the JSON output, its printed lines and whether its checks passed; a further
section is one more entry there):

``peers``, 64 x 64 (16 x 16 with ``--quick``; ``--ccore-96`` adds 96 x 96):

* ``neuromod Torch``: ``run(image, backend='torch')``, CPU, ``--threads`` threads;
* ``neuromod Brian2``: ``run(image, backend='brian2')`` (numpy target): the time is
  the whole call, building the Brian2 network and running it;
* ``pyclustering C++``: ``pcnn_network(H*W, params, conn_type.GRID_EIGHT, height=H,
  width=W, ccore=True).simulate(steps, S)``. The C++ core leaves out the linking term
  (it runs with ``beta = 0`` whatever ``params.B`` says), so it runs with
  ``params.B = 0`` and is checked against neuromod Torch with ``beta = 0`` (a second
  neuromod row); row ``k`` of its output is neuromod's ``pulses[k]``. It stores the
  coupling as a dense ``N x N`` matrix (``N = H*W``): 96 x 96 takes 0.5-0.7 GB,
  256 x 256 would take tens of GB, so it is not run on larger images;
* ``pyclustering Python``: ``ccore=False`` with ``conn_represent.LIST``, ``beta = 0.1``
  (the Python path honours ``B``). Its initial threshold (drawn from ``random``) is
  set to 0, and its 2-D neighbour lists, which wrap across rows (pixel ``(y, W-1)``
  is linked to ``(y+1, 0)``), are replaced by the grid's true 8-neighbour lists after
  construction (outside the timing), so that its pulses can be checked for equality;
  ``simulate(steps + 1)`` (its output starts with a zero row: ``steps`` updates).

The time of every implementation is the whole call, network construction included
(pyclustering: constructor + ``simulate``; its simulate alone is the ``run only``
column); best of ``--repeat`` (3) calls after a warm-up on an 8 x 8 image, each
implementation in a subprocess of its own, kept for the whole run (its libraries
load once; every section's cases of that implementation go to it). Ratios: peer / neuromod Torch with the same
``beta``. Pulse matrices: saved by every worker and compared in full.

``scaling``: neuromod alone on 256 x 256 and 1024 x 1024 (32 x 32 and 64 x 64 with
``--quick``), Torch CPU; Brian2 on the smaller of the two when the 64 x 64 time
scaled by the pixel count predicts under 60 s (else skipped, with a note). Time per
pixel and step, and the pulses of Brian2 checked against Torch's.

Memory (every row): ``peak RSS`` is the process's resident-set high-water mark during
the first timed call (libraries included), ``rise`` that mark less the resident set
before the call: the high-water mark is reset through ``/proc/self/clear_refs``
before the first call of each case; where that file is not writable ``ru_maxrss``
(the process's lifetime peak) stands in and both figures are the worker's lifetime
ones. ``cpu/wall`` is
the process CPU time over the wall time of the best call (above 1: threads).

Run: .venv/bin/python benchmarks/bench_pcnn.py [--quick] [--steps N] [--repeat N]
     [--threads N] [--seed N] [--ccore-96] [--sections peers,scaling] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peakmem import peak_kb, reset_peak, rss_kb  # noqa: E402

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NEIGHBOURS = 8
BETA = 0.1                    # neuromod's and pyclustering's default linking strength
BRIAN2_LIMIT_S = 60.0         # predicted Brian2 time above which a scaling point is skipped
IMPLS = ("neuromod-torch", "neuromod-brian2", "pyclustering-ccore", "pyclustering-python")
LABELS = {"neuromod-torch": "neuromod Torch CPU",
          "neuromod-brian2": "neuromod Brian2 numpy (build+run)",
          "pyclustering-ccore": "pyclustering C++ core",
          "pyclustering-python": "pyclustering Python, list repr."}


# ============================================================================ inputs
def image(shape, seed):
    """The stimulus: uniform on [0, 1), the same in every worker."""
    return np.random.default_rng(seed).random(shape)


def grid_neighbours(H, W):
    """The true 8-neighbour lists of an ``H x W`` grid, row-major (no wrap across rows)."""
    conn = []
    for i in range(H * W):
        y, x = divmod(i, W)
        conn.append([(y + dy) * W + x + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                     if (dy, dx) != (0, 0) and 0 <= y + dy < H and 0 <= x + dx < W])
    return conn


# ============================================================================ memory
# ============================================================================ workers
def runner(impl, threads):
    """``call(S, steps, beta) -> (pulses (steps, H, W) uint8, run-only seconds or None)``
    for one implementation; the whole call is what is timed."""
    if impl in ("neuromod-torch", "neuromod-brian2"):
        import torch
        torch.set_num_threads(threads)
        from neuromod.neurons.pcnn import run
        backend = impl.split("-")[1]

        def call(S, steps, beta):
            return run(S, steps=steps, variant="classic", neighbours=NEIGHBOURS,
                       backend=backend, beta=beta).pulses, None
        return call
    from pyclustering.nnet import conn_represent, conn_type
    from pyclustering.nnet.pcnn import pcnn_network, pcnn_parameters
    if impl == "pyclustering-ccore":
        def call(S, steps, beta):
            if beta != 0.0:
                raise ValueError("pyclustering's C++ core runs with beta = 0 only")
            H, W = S.shape
            p = pcnn_parameters()
            p.B = 0.0
            net = pcnn_network(H * W, p, conn_type.GRID_EIGHT, height=H, width=W, ccore=True)
            t0 = time.perf_counter()
            out = net.simulate(steps, S.ravel().tolist()).output
            t_run = time.perf_counter() - t0
            return np.asarray(out, dtype=np.uint8).reshape(steps, H, W), t_run
        return call
    if impl == "pyclustering-python":
        def call(S, steps, beta):
            H, W = S.shape
            p = pcnn_parameters()
            p.B = beta
            t0 = time.perf_counter()
            net = pcnn_network(H * W, p, conn_type.GRID_EIGHT, conn_represent.LIST,
                               height=H, width=W, ccore=False)
            t_build = time.perf_counter() - t0
            net._osc_conn = grid_neighbours(H, W)      # untimed: the lists wrap across rows
            net._threshold = [0.0] * (H * W)           # E0 = 0, as in neuromod
            t0 = time.perf_counter()
            out = net.simulate(steps + 1, S.ravel().tolist()).output
            t_run = time.perf_counter() - t0
            pulses = np.asarray(out[1:], dtype=np.uint8).reshape(steps, H, W)
            t_rest = t_build + time.perf_counter() - t0 - t_run     # + the conversion
            return pulses, (t_rest, t_run)
        return call
    raise ValueError(f"unknown implementation {impl!r}")


def _timed(call, S, steps, beta):
    """One call: (pulses, wall s, cpu s, run-only s or None)."""
    c0, t0 = time.process_time(), time.perf_counter()
    pulses, part = call(S, steps, beta)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if isinstance(part, tuple):                       # pyclustering Python: build + run
        t_rest, t_run = part
        wall_total = t_rest + t_run                   # the list correction left out
        cpu *= wall_total / wall
        wall, part = wall_total, t_run
    return pulses, wall, cpu, part


def measure(call, case, seed):
    """One row: ``case["repeat"]`` timed calls on ``case["shape"]``, the best kept; the
    pulses of the first saved to ``case["save"]``."""
    S = image(tuple(case["shape"]), seed)
    reset_ok = reset_peak()
    base = rss_kb()
    runs = []
    for i in range(case["repeat"]):
        pulses, wall, cpu, run_only = _timed(call, S, case["steps"], case["beta"])
        if i == 0:
            peak = peak_kb(reset_ok)
            np.save(case["save"], pulses)
        del pulses
        runs.append((wall, cpu, run_only))
    wall, cpu, run_only = min(runs, key=lambda t: t[0])
    return {"shape": case["shape"], "steps": case["steps"], "beta": case["beta"],
            "time_s": wall, "times_s": [t[0] for t in runs], "cpu_s": cpu,
            "cpu_per_wall": cpu / wall if wall > 0 else None, "run_only_s": run_only,
            "peak_rss_mb": peak / 1024.0, "rise_mb": (peak - base) / 1024.0,
            "hwm_reset": reset_ok, "save": case["save"]}


REPLY = "@@bench_pcnn "


def worker(impl, threads, seed):
    """Serve one implementation: after a warm-up on an 8 x 8 image it says ``ready``,
    then each line of stdin is a JSON list of cases (``shape, steps, beta, repeat, save``); the answer is one
    line, :data:`REPLY` + the JSON list of rows."""
    call = runner(impl, threads)
    call(image((8, 8), seed), 3, 0.0 if impl == "pyclustering-ccore" else BETA)
    sys.stdout.write(REPLY + "ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        rows = [{"impl": impl, **measure(call, case, seed)} for case in json.loads(line)]
        sys.stdout.write(REPLY + json.dumps(rows) + "\n")
        sys.stdout.flush()


class Workers:
    """One subprocess per implementation, kept for the whole run (libraries load once),
    in :attr:`tmp` the pulse files. :meth:`start` lets them load and warm up side by
    side; every timed case then runs while the other workers wait on their input."""

    def __init__(self, threads, seed, tmp):
        self.threads, self.seed, self.tmp = threads, seed, Path(tmp)
        self.procs = {}
        self.ready = set()

    def start(self, impls):
        for impl in impls:
            if impl not in self.procs:
                err = open(self.tmp / f"{impl}.stderr", "w+")
                proc = subprocess.Popen(
                    [sys.executable, __file__, "--worker", impl, str(self.threads),
                     str(self.seed)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=err, text=True, cwd=ROOT)
                self.procs[impl] = (proc, err)

    def _reply(self, impl):
        proc, err = self.procs[impl]
        for line in proc.stdout:
            if line.startswith(REPLY):
                return line[len(REPLY):]
        err.seek(0)
        raise RuntimeError(f"{impl} worker exited ({proc.wait()}): {err.read()[-3000:]}")

    def wait_ready(self):
        for impl in self.procs:
            if impl not in self.ready:
                self._reply(impl)
                self.ready.add(impl)

    def rows(self, impl, cases):
        """The rows of ``impl`` for ``cases`` (dicts of ``shape, steps, beta, repeat``;
        ``save`` is filled in)."""
        self.start([impl])
        self.wait_ready()
        proc, err = self.procs[impl]
        for c in cases:
            c["save"] = str(self.tmp / f"{impl}-{len(os.listdir(self.tmp))}.npy")
            open(c["save"], "wb").close()
        proc.stdin.write(json.dumps(cases) + "\n")
        proc.stdin.flush()
        return json.loads(self._reply(impl))

    def close(self):
        for proc, err in self.procs.values():
            proc.stdin.close()
            proc.wait(timeout=60)
            err.close()
        self.procs = {}


# ============================================================================ checks
def compare(row, ref):
    """Pulse matrices of ``row`` and ``ref`` (loaded from the workers' files): fills in
    ``pulses``, and for ``row`` ``equal`` and ``mismatches`` against ``ref``."""
    a, b = np.load(row["save"]), np.load(ref["save"])
    row["pulses"] = int(a.sum())
    ref["pulses"] = int(b.sum())
    row["checked_against"] = f"{ref['impl']} beta={ref['beta']:g}"
    row["equal"] = bool(a.shape == b.shape and np.array_equal(a, b))
    row["mismatches"] = int((a != b).sum()) if a.shape == b.shape else None
    return row["equal"]


def _fmt_mem(r):
    return f"{r['peak_rss_mb']:7.0f} MB {r['rise_mb']:+7.0f} MB"


# ============================================================================ sections
def section_peers(a, done, workers):
    """neuromod (both backends) against pyclustering (C++ core, Python path)."""
    shapes = [(16, 16)] if a.quick else [(64, 64)] + ([(96, 96)] if a.ccore_96 else [])
    steps, repeat = a.steps, a.repeat

    def cases(beta):
        return [{"shape": list(s), "steps": steps, "beta": beta, "repeat": repeat}
                for s in shapes]

    rows = workers.rows("neuromod-torch", cases(BETA) + cases(0.0))
    for impl, beta in (("neuromod-brian2", BETA), ("pyclustering-python", BETA),
                       ("pyclustering-ccore", 0.0)):
        rows += workers.rows(impl, cases(beta))
    ok = True
    for r in rows:
        ref = next(x for x in rows if x["impl"] == "neuromod-torch"
                   and x["shape"] == r["shape"] and x["beta"] == r["beta"])
        r["time_ratio"] = r["time_s"] / ref["time_s"]
        if r is not ref:
            ok &= compare(r, ref)
    order = {(i, b): k for k, (i, b) in enumerate(
        (("neuromod-torch", BETA), ("neuromod-brian2", BETA), ("pyclustering-python", BETA),
         ("neuromod-torch", 0.0), ("pyclustering-ccore", 0.0)))}
    rows.sort(key=lambda r: (r["shape"], order[(r["impl"], r["beta"])]))
    lines = [f"\npeers: classic PCNN, {NEIGHBOURS} neighbours, {steps} steps; best of "
             f"{repeat} whole calls (construction included), one worker process per "
             f"implementation;\nratios: peer / neuromod Torch with the same beta; "
             f"same pulses: the full pulse matrix against neuromod Torch (same beta)"]
    for shape in dict.fromkeys(tuple(r["shape"]) for r in rows):
        lines.append(f"\n   {shape[0]} x {shape[1]} image ({shape[0] * shape[1]} pixels)")
        lines.append(f"   {'implementation':<36} {'beta':>4} {'time':>10} {'run only':>10} "
                     f"{'cpu/wall':>8} {'peak RSS':>10} {'rise':>10} {'ratio':>8} "
                     f"{'pulses':>8}  same pulses")
        for r in (x for x in rows if tuple(x["shape"]) == shape):
            ratio = "" if r["impl"] == "neuromod-torch" else f"{r['time_ratio']:7.2f}x"
            same = ("" if "equal" not in r else "yes" if r["equal"]
                    else f"NO ({r['mismatches']} entries differ)")
            ro = f"{r['run_only_s']:8.3f} s" if r["run_only_s"] is not None else "-"
            lines.append(f"   {LABELS[r['impl']]:<36} {r['beta']:>4g} {r['time_s']:8.3f} s "
                         f"{ro:>10} {r['cpu_per_wall']:8.2f} {_fmt_mem(r)} {ratio:>8} "
                         f"{r['pulses']:>8}  {same}")
    lines.append("   (pyclustering C++ core: run with beta = 0, the only case it computes; "
                 "pyclustering Python: neighbour lists\n    corrected to the grid's, outside "
                 "the timing, E0 = 0)")
    lines.append(f"   same pulses, every peer against neuromod Torch: {'yes' if ok else 'NO'}")
    return {"shapes": [list(s) for s in shapes], "steps": steps, "repeat": repeat,
            "rows": rows, "all_equal": ok}, lines, ok


def section_scaling(a, done, workers):
    """neuromod alone on larger images: Torch, and Brian2 where it is predicted quick."""
    sizes = (32, 64) if a.quick else (256, 1024)
    steps, repeat = a.steps, a.repeat

    def case(n):
        return {"shape": [n, n], "steps": steps, "beta": BETA, "repeat": repeat}

    rows = workers.rows("neuromod-torch", [case(n) for n in sizes])
    notes = []
    # Brian2 on the smaller size, predicted from the peers' 64 x 64 (16 x 16) time
    peers = done.get("peers", {}).get("rows", [])
    b2 = next((r for r in peers if r["impl"] == "neuromod-brian2"), None)
    n = sizes[0]
    if b2 is None:
        predicted = None
        notes.append("Brian2 not predicted (no peers section): run anyway")
    else:
        predicted = b2["time_s"] * (n * n) / (b2["shape"][0] * b2["shape"][1])
    if predicted is None or predicted < BRIAN2_LIMIT_S:
        rows += workers.rows("neuromod-brian2", [case(n)])
    else:
        notes.append(f"Brian2 {n} x {n} skipped: predicted {predicted:.0f} s "
                     f"> {BRIAN2_LIMIT_S:.0f} s")
    notes.append(f"Brian2 {sizes[1]} x {sizes[1]}: not run (the Brian2 point is the "
                 f"smaller image only)")
    ok = True
    for r in rows:
        ref = next(x for x in rows if x["impl"] == "neuromod-torch" and x["shape"] == r["shape"])
        r["ns_per_pixel_step"] = r["time_s"] / (r["shape"][0] * r["shape"][1] * steps) * 1e9
        r["time_ratio"] = r["time_s"] / ref["time_s"]
        if r is ref:
            r["pulses"] = int(np.load(r["save"]).sum())
        else:
            ok &= compare(r, ref)
    rows.sort(key=lambda r: (r["shape"], r["impl"] != "neuromod-torch"))
    lines = [f"\nscaling: neuromod alone, classic PCNN, {NEIGHBOURS} neighbours, {steps} "
             f"steps, beta {BETA:g}; best of {repeat} whole calls; ratio: Brian2 / Torch"]
    lines.append(f"   {'image':>11} {'implementation':<36} {'time':>10} {'ns/px/step':>10} "
                 f"{'cpu/wall':>8} {'peak RSS':>10} {'rise':>10} {'ratio':>8} {'pulses':>10}"
                 f"  same pulses")
    for r in rows:
        ratio = "" if r["impl"] == "neuromod-torch" else f"{r['time_ratio']:7.2f}x"
        same = ("" if "equal" not in r else "yes" if r["equal"]
                else f"NO ({r['mismatches']} entries differ)")
        img = f"{r['shape'][0]} x {r['shape'][1]}"
        lines.append(f"   {img:>11} {LABELS[r['impl']]:<36} {r['time_s']:8.3f} s "
                     f"{r['ns_per_pixel_step']:10.1f} {r['cpu_per_wall']:8.2f} {_fmt_mem(r)} "
                     f"{ratio:>8} {r['pulses']:>10}  {same}")
    lines += [f"   ({n})" for n in notes]
    return {"sizes": [[n, n] for n in sizes], "steps": steps, "repeat": repeat, "rows": rows,
            "brian2_predicted_s": predicted, "notes": notes, "all_equal": ok}, lines, ok


def section_dpcnn(a, done, workers):
    """One training step (forward, backward, Adam update) of the deep PCNN at width W
    with no / intra / inter coupling against conv-LIF at W and 2W: digits-sized
    inputs (1 x 8 x 8), batch 32, T = 4, in this process on ``--threads`` threads."""
    import torch
    from neuromod.neurons.pcnn.deep import counts, network
    torch.set_num_threads(a.threads)
    W = 4 if a.quick else 16
    repeat = 3 if a.quick else 20
    nets = [("conv-LIF, W", "lif", W, "none"), ("conv-LIF, 2W", "lif", 2 * W, "none"),
            ("DPCNN none, W", "pcnn", W, "none"), ("DPCNN intra, W", "pcnn", W, "intra"),
            ("DPCNN inter, W", "pcnn", W, "inter")]
    g = torch.Generator().manual_seed(a.seed)
    x = torch.rand(32, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, (32,), generator=g)
    rows = []
    for label, neuron, width, coupling in nets:
        torch.manual_seed(a.seed)
        net = network((1, 8, 8), 10, width=width, coupling=coupling, norm="rftd",
                      neuron=neuron)
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)

        def step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        step()                                   # warm-up
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        rows.append({"net": label, "width": width, "coupling": coupling,
                     "step_s": float(np.median(times)), **counts(net)})
    ref = rows[0]["step_s"]
    for r in rows:
        r["ratio"] = r["step_s"] / ref
    lines = [f"\ndeep PCNN training step: batch 32, 1 x 8 x 8, T = 4, norm rftd, "
             f"{a.threads} thread(s), median of {repeat}; ratio: / conv-LIF at W"]
    lines.append(f"   {'network':<16} {'neurons':>8} {'synapses':>9} {'step':>10} {'ratio':>7}")
    for r in rows:
        lines.append(f"   {r['net']:<16} {r['neurons']:>8} {r['synapses']:>9} "
                     f"{r['step_s'] * 1e3:8.1f} ms {r['ratio']:6.2f}x")
    return {"width": W, "repeat": repeat, "rows": rows}, lines, True


#: Section name -> ``fn(args, results of the sections before, Workers) -> (json part,
#: printed lines, checks passed)``, run in this order.
SECTIONS = {"peers": section_peers, "scaling": section_scaling, "dpcnn": section_dpcnn}


# ============================================================================ main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="peers on 16 x 16, scaling on 32 x 32 and 64 x 64, 10 steps, 2 repeats")
    ap.add_argument("--steps", type=int, default=None, help="PCNN steps (default 50; 10 quick)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed calls per case, best taken (default 3; 2 with --quick)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random image")
    ap.add_argument("--ccore-96", action="store_true",
                    help="add a 96 x 96 peers point (pyclustering's C++ core: 0.5-0.7 GB)")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated, from {', '.join(SECTIONS)} (default: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker(a.worker[0], int(a.worker[1]), int(a.worker[2]))
        return 0
    a.steps = a.steps or (10 if a.quick else 50)
    a.repeat = a.repeat or (2 if a.quick else 3)
    names = [s for s in a.sections.split(",") if s]
    unknown = [s for s in names if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    info = {"quick": a.quick, "steps": a.steps, "repeat": a.repeat, "threads": a.threads,
            "seed": a.seed, "neighbours": NEIGHBOURS, "cpu_cores": os.cpu_count()}
    for lib in ("torch", "brian2", "pyclustering"):
        try:
            info[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            info[lib] = None
    done, text, ok = {}, [], True
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_pcnn-") as tmp:
        workers = Workers(a.threads, a.seed, tmp)
        workers.start(IMPLS)
        for name in (s for s in SECTIONS if s in names):
            data, lines, sec_ok = SECTIONS[name](a, done, workers)
            for r in data.get("rows", []):
                r.pop("save", None)
            done[name] = data
            text += lines
            ok &= sec_ok
        workers.close()
    info["wall_s"] = time.perf_counter() - t_all
    if a.json:
        print(json.dumps({**info, "sections": done, "all_equal": ok}))
        return 0 if ok else 1
    print(f"neuromod PCNN benchmark ({'quick' if a.quick else 'full'}); CPU cores: "
          f"{os.cpu_count()}, torch threads: {a.threads}, torch {info['torch']}, brian2 "
          f"{info['brian2']}, pyclustering {info['pyclustering']}; random image, seed {a.seed}")
    print("time: one whole call (construction + run); peak RSS: resident-set high-water "
          "mark during the first call;\nrise: that mark less the resident set before it; "
          "cpu/wall: process CPU time over wall time")
    print("\n".join(text))
    print(f"\nwall time of the benchmark: {info['wall_s']:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
