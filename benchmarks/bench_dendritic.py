"""Dendritic networks: do fewer activations between layers mean less time and memory?

Workload: the budget-matched networks of :func:`neuromod.neurons.dendritic.match_budget`
for the digits reference point network (64-256-256-256-10, :data:`REFERENCE`) with
K = 1 (the point network), 2, 4, 8, 16 branches per soma, every hidden layer at the
point layer's MACs; rate somata (relu; relu branches for K > 1, linear for K = 1)
and, unless ``--no-spiking``, the same widths with noisy-LIF somata run for T = 4
steps. One pass: forward of a batch of 256 random inputs (64 per ``--quick``),
cross-entropy against random labels, ``.backward()``, float32, train mode.

Columns, per K (from :func:`~neuromod.neurons.dendritic.budget`, per sample and
forward pass): the widths, parameters, MACs, activations sent between layers,
bytes written (branch and somatic outputs); then the measured time of one pass
(median of ``--repeat`` passes after warm-up passes, taken in rounds over all K so
that a busy spell of the machine falls on every network alike, the CUDA queue
synchronised around each) and memory. Memory, CPU: the bytes of the tensors autograd saves for
the backward pass (``torch.autograd.graph.saved_tensors_hooks``, unique storages
summed, the parameters' own storages left out: the activation memory of training).
CUDA: the same figure, and the peak rise of ``torch.cuda.max_memory_allocated``
over the allocation before the pass (saved tensors, gradients and temporaries).
Ratios are against the point network (K = 1) of the same device and soma:
activations sent, bytes written, time and memory; an activation ratio well below
the time ratio means the fewer activations did not turn into less time on that
device (the saved tensors follow the bytes written: every branch output is kept
for the backward pass).

Run: .venv/bin/python benchmarks/bench_dendritic.py [--quick] [--device cpu|cuda|auto]
     [--batch B] [--repeat N] [--threads N] [--no-spiking] [--json]
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KS = (1, 2, 4, 8, 16)
KS_QUICK = (1, 2, 4)
TIME_STEPS = 4
SOMATA = ("relu", "noisy-lif")


def build(K, soma, device, point_widths=None):
    """The matched network of ``K`` branches (rate ``relu`` or ``noisy-lif``, T = 4) on
    ``device`` and its :func:`budget`."""
    from neuromod.neurons.dendritic import REFERENCE, budget, match_budget
    arch = match_budget(point_widths or REFERENCE["digits"], K)
    opts = {"time_steps": TIME_STEPS} if soma == "noisy-lif" else {}
    net = arch.network(soma=soma, **opts)
    b = budget(net)
    return net.to(device).train(), b


def saved_bytes(pass_, params):
    """Bytes of the tensors saved for backward during ``pass_()`` (unique storages, the
    parameters' storages excluded)."""
    import torch
    skip = {p.untyped_storage().data_ptr() for p in params}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        ptr = s.data_ptr()
        if ptr not in skip:
            seen[ptr] = max(seen.get(ptr, 0), s.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        pass_()
    return sum(seen.values())


def prepare(K, soma, device, batch, seed=0):
    """The budget of the network of ``K`` branches, its parameters and ``one()``: one
    forward + backward pass of a fixed random batch."""
    import torch
    net, b = build(K, soma, device)
    params = list(net.parameters())
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, b["widths"][0], generator=g).to(device)
    y = torch.randint(0, b["widths"][-1], (batch,), generator=g).to(device)
    noise = torch.Generator(device=device).manual_seed(seed + 1)
    kw = {"generator": noise} if soma == "noisy-lif" else {}

    def one():
        for p in params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(net(x, **kw), y)
        loss.backward()
    return b, params, one


def measure(ks, soma, device, batch, repeat, warmup=3, seed=0):
    """Rows of time (median, s), memory and budget of one forward + backward pass for
    every ``K``. The timed passes go in rounds over all ``K`` (one pass of each per
    round), so that a slow spell of the machine falls on every network alike."""
    import torch
    cuda = torch.device(device).type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    nets = {K: prepare(K, soma, device, batch, seed) for K in ks}
    rows = {}
    for K, (b, params, one) in nets.items():
        for _ in range(warmup):
            one()
        sync()
        saved = saved_bytes(one, params)
        peak = None
        if cuda:
            sync()
            for p in params:
                p.grad = None
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            one()
            sync()
            peak = torch.cuda.max_memory_allocated(device) - base
        rows[K] = {"K": K, "soma": soma, "device": str(device), "widths": b["widths"],
                   "params": b["params"], "macs": b["macs"],
                   "activations_per_sample": b["activations_per_sample"],
                   "bytes_written": b["bytes_written"], "time_steps": b["time_steps"],
                   "times_s": [], "saved_bytes": saved, "peak_rise_bytes": peak}
    for _ in range(repeat):
        for K, (_, _, one) in nets.items():
            sync()
            t0 = time.perf_counter()
            one()
            sync()
            rows[K]["times_s"].append(time.perf_counter() - t0)
    for r in rows.values():
        r["time_s"] = statistics.median(r["times_s"])
    return list(rows.values())


def add_ratios(rows):
    """Time, activation and memory ratios of every row against its K = 1 row (same
    device and soma)."""
    ref = {(r["device"], r["soma"]): r for r in rows if r["K"] == 1}
    for r in rows:
        p = ref[(r["device"], r["soma"])]
        r["time_ratio"] = r["time_s"] / p["time_s"]
        r["activation_ratio"] = r["activations_per_sample"] / p["activations_per_sample"]
        r["bytes_written_ratio"] = r["bytes_written"] / p["bytes_written"]
        r["saved_ratio"] = r["saved_bytes"] / p["saved_bytes"] if p["saved_bytes"] else None
        r["peak_ratio"] = (r["peak_rise_bytes"] / p["peak_rise_bytes"]
                           if r["peak_rise_bytes"] is not None and p["peak_rise_bytes"]
                           else None)
    return rows


def table(rows, batch, repeat):
    """The printed table, one section per device and soma."""
    lines = []
    for key in dict.fromkeys((r["device"], r["soma"]) for r in rows):
        sec = [r for r in rows if (r["device"], r["soma"]) == key]
        device, soma = key
        T = sec[0]["time_steps"]
        lines.append(f"\n{device}, soma {soma}" + (f", T = {T} steps" if T > 1 else "")
                     + f"; batch {batch}, forward + backward, median of {repeat}")
        cuda = sec[0]["peak_rise_bytes"] is not None
        head = (f"   {'K':>3} {'widths':<22} {'params':>7} {'MACs':>8} {'act/sample':>10} "
                f"{'bytes written':>13} {'time':>9} {'saved':>8}"
                + (f" {'peak rise':>9}" if cuda else "")
                + f" {'act ratio':>9} {'bytes ratio':>11} {'time ratio':>10} {'mem ratio':>9}")
        lines.append(head)
        for r in sec:
            mem = r["peak_ratio"] if cuda else r["saved_ratio"]
            lines.append(
                f"   {r['K']:>3} {'-'.join(map(str, r['widths'])):<22} {r['params']:>7} "
                f"{r['macs']:>8} {r['activations_per_sample']:>10} {r['bytes_written']:>13} "
                f"{r['time_s'] * 1e3:>6.2f} ms {r['saved_bytes'] / 2**20:>5.2f} MB"
                + (f" {r['peak_rise_bytes'] / 2**20:>6.2f} MB" if cuda else "")
                + f" {r['activation_ratio']:>8.2f}x {r['bytes_written_ratio']:>10.2f}x "
                f"{r['time_ratio']:>9.2f}x "
                f"{mem:>8.2f}x")
    return "\n".join(lines)


def devices(choice):
    import torch
    if choice == "auto":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_dendritic: --device cuda: no CUDA GPU on this machine")
    return [choice]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="K = 1, 2, 4; batch 64; 3 repeats")
    ap.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                    help="auto: the CPU, and CUDA when available (default)")
    ap.add_argument("--batch", type=int, default=None, help="batch size (default 256)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed passes, median taken (default 30; 3 with --quick)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--no-spiking", action="store_true",
                    help="leave out the noisy-lif networks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    ks = KS_QUICK if a.quick else KS
    batch = a.batch or (64 if a.quick else 256)
    repeat = a.repeat or (3 if a.quick else 30)
    somata = SOMATA[:1] if a.no_spiking else SOMATA
    rows = [r for dev in devices(a.device) for soma in somata
            for r in measure(ks, soma, dev, batch, repeat, warmup=1 if a.quick else 3,
                             seed=a.seed)]
    add_ratios(rows)
    info = {"quick": a.quick, "batch": batch, "repeat": repeat, "threads": a.threads,
            "cpu_cores": os.cpu_count(), "torch": torch.__version__,
            "cuda_device": torch.cuda.get_device_name() if any(
                r["device"] == "cuda" for r in rows) else None}
    if a.json:
        print(json.dumps({**info, "rows": rows}))
        return 0
    print(f"neuromod dendritic benchmark ({'quick' if a.quick else 'full'}); CPU cores: "
          f"{os.cpu_count()}, torch threads: {a.threads}, torch {torch.__version__}"
          + (f", GPU: {info['cuda_device']}" if info["cuda_device"] else ""))
    print("Budget-matched networks of the digits point network 64-256-256-256-10 (every "
          "hidden layer at the point\nlayer's MACs); budget per sample and forward pass. "
          "time: median forward + backward of one batch;\nsaved: bytes autograd saves for "
          "backward (unique storages, parameters excluded); peak rise (CUDA):\n"
          "max_memory_allocated over the allocation before the pass. Ratios against K = 1 "
          "(act: activations\nsent, bytes: bytes written); mem ratio: saved (CPU) or peak "
          "rise (CUDA).")
    print(table(rows, batch, repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
