"""Speed and scale of neuromod's scale-out layer: parameter sweeps on a Dask cluster
(section ``sweep``), blocked pairwise matrices against the in-memory functions
(section ``blocked``) and the all-pairs STTC of an hour-long 500-unit recording
(section ``sttc-hour``).

Section ``sweep``: a sweep of :func:`neuromod.scale.sweep.sweep` over 32 values of the
``lif`` model's ``tau_m`` (10 ms to 41 ms; :data:`SWEEP`: 1,000 neurons x 16 s at
``dt`` 0.1 ms, torch backend, about 1 s a task on one core; ``--sweep-n``,
``--sweep-duration`` change it), run on a ``local:1`` and on a ``local:2`` cluster of
:func:`neuromod.scale.cluster.connect` (single-threaded worker processes). Timed: the
``sweep(...)`` call alone, with the client connected, every worker warmed by one small
task (``client.run``: imports, torch set-up) and one small sweep run first (the
client's first-use costs), so the cluster's start-up (printed apart) is not in it.
Rows: the wall time on 1 and on 2 workers, the mean and the sum of the tasks' own
``wall_s`` (each row's seconds inside its task), the speed-up (1 worker / 2 workers;
target >= :data:`SPEEDUP_TARGET`), the sweep's overhead per task (wall on 1 worker -
sum of the tasks' ``wall_s``, over the tasks: scheduling, transfers, the collection of
the rows), and the engine's overhead per task:
:func:`~neuromod.scale.cluster.run_tasks` of ``abs`` over 500 integers on ``local:2``
after a warm-up batch, wall time / items (target < :data:`OVERHEAD_TARGET_MS` ms).

Section ``blocked``: 2,000 trains x 1,000 spikes (uniform times over 100 s, seeded by
``--seed``, sorted per train; 2 M spikes, 1,999,000 pairs), SPIKE-distance and STTC
(``dt`` 5 ms), three rows each:

* ``in-memory``: the unblocked function, :func:`neuromod.stats.synchrony.spike_distance`
  or :func:`neuromod.stats.correlation.sttc_matrix` (numba's threads);
* ``blocked``: :func:`neuromod.stats.blocked.blocked_matrix` with ``block=256``
  (``--block``), ``client=None``, ``out=`` a temporary ``.npy`` (in-process, block by
  block, numba's threads);
* ``blocked local:2``: the same on a ``local:2`` client (2 single-threaded workers; the
  call includes broadcasting the recording to the workers).

Each row runs in a child process of its own (this script with a hidden ``--row``):
imports and a tiny warm-up call of the same function (kernels compiled or loaded from
the cache; for the Dask row the cluster started and every worker warmed), then the
recording is built, then the timed call. The child compares nothing: the in-memory
row saves its matrix, and this process checks each blocked matrix against it with
``np.array_equal(..., equal_nan=True)`` (``equal``; a mismatch fails the run). Per-pair
cost: time / pairs; extrapolated to 10,000 trains of the same spikes (pairs
``n (n - 1) / 2``, spikes per pair fixed), with the on-disk size of that matrix
(``n^2 x 8`` bytes).

Memory (every row of ``blocked`` and ``sttc-hour``), in kB from ``/proc/self/status``,
printed in MB (2^20 bytes):

* ``peak``: the child's peak resident set (VmHWM) during the call minus its resident
  set after imports and warm-up: the recording plus everything the call held at its
  peak. The high-water mark is reset through ``/proc/self/clear_refs`` after the
  recording is built, so building it does not count; where that file is not writable
  ``ru_maxrss`` of the whole child stands in (then the warm-up and the building
  count as well; the output says so);
* ``call``: the same peak minus the resident set after building the recording: what
  the call itself added. It includes the file-backed pages of the ``.npy`` memory map
  that the blocks were written through (up to ``n^2 x 8`` bytes, reclaimable page
  cache, not heap);
* ``anon``: the anonymous (heap) part only: ``RssAnon`` sampled every 5 ms during the
  call by a thread, its maximum minus its value before the call (a sample can miss a
  shorter peak);
* ``workers`` (Dask rows): the largest worker's peak resident set during the call minus
  its resident set after the warm-up (each worker's high-water mark reset through
  ``client.run``); the caller's figures of a Dask row include the scheduler, which
  ``LocalCluster`` runs in the calling process.

The bound the module documents (:mod:`neuromod.stats.blocked`, "Memory"): the result,
``n^2 x 8`` bytes (on disk with ``out``), plus the blocks in flight, ``block^2 x 8``
bytes each, one in-process and ``2 x`` the workers' threads on a client, plus the
running task, ``block^2 x 8`` bytes (``4 block^2 x 8`` for STTC); each worker holds
the recording's flat arrays, about 16 bytes per spike. It is printed beside each
blocked row with the measured ``anon`` (caller) and ``workers`` figures, and the excess,
if any, per spike of the recording.

Section ``sttc-hour``: all-pairs STTC (``dt`` 5 ms) of a simulated 500-unit x 1 h
recording at 10 Hz (Poisson counts, uniform times; about 18 M spikes, built with numpy
one array per unit): ``sttc_matrix`` in memory, ``blocked_matrix(..., "sttc",
block=128, out=<tmp .npy>)`` in-process (``--hour-block``), and the same on
``local:2``; time, memory (as above) and ``equal`` for each row.

``--quick``: sweep 4 points of 100 neurons x 0.2 s, 100 trivial tasks; blocked 100
trains x 50 spikes, block 32; sttc-hour 50 units x 60 s, block 16 (the whole run in
well under a minute). The targets (speed-up, overhead per task) are not applicable at
that size (tasks of milliseconds cannot show a speed-up; the output says so): they are
reported with ``reached: null`` and do not change the exit status. The exit status is
1 when a target is missed (full size), a row fails, or a blocked matrix differs from
the in-memory one. The header states the library versions, the CPU count and numba's
threads.

Run: .venv/bin/python benchmarks/bench_scale.py [--quick]
     [--sections sweep,blocked,sttc-hour] [--seed N] [--block B] [--hour-block B]
     [--sweep-n N] [--sweep-duration S] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(Path(__file__).resolve().parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

#: The ``sweep`` section: points (``tau_m`` = 10 ms, 11 ms, ...), neurons, seconds, dt.
SWEEP = dict(points=32, n=1000, duration=16.0, dt=1e-4)
SWEEP_QUICK = dict(points=4, n=100, duration=0.2, dt=1e-4)
#: Trivial tasks timed for the engine's overhead per task.
OVERHEAD_ITEMS, OVERHEAD_ITEMS_QUICK = 500, 100
#: Targets of the ``sweep`` section (full size only).
SPEEDUP_TARGET = 1.7
OVERHEAD_TARGET_MS = 20.0
#: Workers of the parallel rows.
WORKERS = 2

#: The ``blocked`` section: trains, spikes per train, seconds, block.
BLOCKED = dict(n=2000, spikes=1000, seconds=100.0, block=256)
BLOCKED_QUICK = dict(n=100, spikes=50, seconds=100.0, block=32)
#: Trains of the extrapolation.
EXTRAPOLATE_N = 10_000
#: The ``sttc-hour`` section: units, seconds, rate (Hz), block.
HOUR = dict(units=500, seconds=3600.0, rate=10.0, block=128)
HOUR_QUICK = dict(units=50, seconds=60.0, rate=10.0, block=16)
#: STTC's window (s), the stats function's default.
STTC_DT = 0.005

MEASURES = ("spike_distance", "sttc")
MODES = ("memory", "blocked", "dask")
MODE_LABEL = {"memory": "in-memory", "blocked": "blocked", "dask": f"blocked local:{WORKERS}"}
MB = 1024.0 * 1024.0


# ============================================================================ workloads
def population(n, spikes, seconds, seed):
    """``n`` trains of ``spikes`` uniform times on ``[0, seconds)``, sorted per train
    (one numpy sort of an ``(n, spikes)`` array)."""
    from neuromod.spikes import SpikeTrains
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, seconds, (n, spikes)), axis=1).ravel()
    return SpikeTrains(t, np.repeat(np.arange(n, dtype=np.int64), spikes), t_start=0.0,
                       t_stop=seconds, n_trains=n)


def recording(units, seconds, rate, seed):
    """A Poisson recording: ``units`` trains, counts Poisson with mean ``rate x
    seconds``, uniform times; one numpy array per unit."""
    from neuromod.spikes import SpikeTrains
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate * seconds, units)
    trains = [np.sort(rng.uniform(0.0, seconds, int(c))) for c in counts]
    return SpikeTrains.from_list(trains, t_start=0.0, t_stop=seconds)


def row_data(spec):
    if spec["section"] == "blocked":
        return population(spec["n"], spec["spikes"], spec["seconds"], spec["seed"])
    return recording(spec["units"], spec["seconds"], spec["rate"], spec["seed"])


# ============================================================================ memory
def _status_kb(key):
    """A ``/proc/self/status`` field in kB, None where absent (self-contained: it also
    runs on the Dask workers)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _memory_probe(action):
    """On this process or a Dask worker: ``'reset'`` the high-water mark (True where
    it could be), ``'rss'`` or ``'peak'`` (kB; ``ru_maxrss`` where /proc is missing)."""
    import resource
    if action == "reset":
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return _status_kb("VmHWM") is not None
        except OSError:
            return False
    kb = _status_kb("VmRSS" if action == "rss" else "VmHWM")
    return kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class AnonSampler:
    """Maximum of ``RssAnon`` (kB) sampled every ``every`` seconds on a thread."""

    def __init__(self, every=0.005):
        self.every, self.max_kb, self._stop = every, _status_kb("RssAnon"), threading.Event()
        self.start_kb = self.max_kb
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.every):
            kb = _status_kb("RssAnon")
            if kb is not None and (self.max_kb is None or kb > self.max_kb):
                self.max_kb = kb

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        kb = _status_kb("RssAnon")
        if kb is not None and (self.max_kb is None or kb > self.max_kb):
            self.max_kb = kb

    @property
    def rise_kb(self):
        if self.max_kb is None or self.start_kb is None:
            return None
        return self.max_kb - self.start_kb


def documented_bound(measure, mode, n, block, spikes, threads=WORKERS):
    """The memory bound of :mod:`neuromod.stats.blocked`'s notes, in bytes: the result
    (on disk with ``out``), the caller's blocks in flight plus its running task
    (in-process), and a worker's (the recording's flat arrays, 16 B a spike, plus a
    running task)."""
    b = min(block, n)
    blk = b * b * 8
    task = (4 if measure in ("sttc", "van_rossum") else 1) * blk
    if mode == "blocked":
        return {"result_bytes": n * n * 8, "in_flight": 1, "caller_bytes": blk + task,
                "worker_bytes": None}
    return {"result_bytes": n * n * 8, "in_flight": 2 * threads,
            "caller_bytes": 2 * threads * blk, "worker_bytes": 16 * spikes + task}


# ============================================================================ one row
def _warm_worker(measure):
    """On a worker: the measure's kernels compiled or loaded from the cache."""
    from neuromod.stats.blocked import blocked_matrix
    blocked_matrix(population(12, 6, 1.0, 1), measure, block=5)
    return os.getpid()


def run_row(spec):
    """One row of ``blocked`` or ``sttc-hour`` in this (child) process: see the module
    notes. Returns the row's numbers (times in s, memory in kB)."""
    from neuromod.stats.blocked import blocked_matrix
    from neuromod.stats.correlation import sttc_matrix
    from neuromod.stats.synchrony import spike_distance
    measure, mode = spec["measure"], spec["mode"]
    params = {"dt": STTC_DT} if measure == "sttc" else {}
    memory_fn = {"spike_distance": spike_distance,
                 "sttc": lambda st: sttc_matrix(st, dt=STTC_DT)}[measure]
    tiny = population(12, 6, 1.0, 1)
    out = {"measure": measure, "mode": mode, "pid": os.getpid()}
    with _client_for(mode) as client:
        t0 = time.perf_counter()
        if mode == "memory":
            memory_fn(tiny)
        else:
            blocked_matrix(tiny, measure, block=5, client=client, **params)
        if client is not None:
            client.run(_warm_worker, measure)
            blocked_matrix(tiny, measure, block=5, client=client, **params)
        out["warmup_s"] = time.perf_counter() - t0
        out["rss_imports_kb"] = _memory_probe("rss")
        t0 = time.perf_counter()
        st = row_data(spec)
        out["build_s"] = time.perf_counter() - t0
        out["n_trains"], out["n_spikes"] = int(st.n_trains), int(st.n_spikes)
        out["rss_data_kb"] = _memory_probe("rss")
        if client is not None:
            out["workers_rss_kb"] = list(client.run(_memory_probe, "rss").values())
            client.run(_memory_probe, "reset")
        out["peak_reset"] = bool(_memory_probe("reset"))
        with AnonSampler() as anon:
            t0 = time.perf_counter()
            if mode == "memory":
                m = memory_fn(st)
            else:
                m = blocked_matrix(st, measure, block=spec["block"], client=client,
                                   out=spec["out"], **params)
            out["time_s"] = time.perf_counter() - t0
        out["peak_kb"] = _memory_probe("peak")
        out["anon_rise_kb"] = anon.rise_kb
        if client is not None:
            out["workers_peak_kb"] = list(client.run(_memory_probe, "peak").values())
        out["shape"] = list(m.shape)
        if mode == "memory":
            np.save(spec["save"], m)
        del m
    return out


class _NoClient:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _client_for(mode):
    if mode != "dask":
        return _NoClient()
    from neuromod.scale.cluster import connect
    return connect(f"local:{WORKERS}", quiet=True)


def child_row(spec, timeout=None):
    """Run :func:`run_row` in a child process (this script, ``--row``); the row, or a
    row with its ``error``."""
    cmd = [sys.executable, os.path.abspath(__file__), "--row", json.dumps(spec)]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"measure": spec["measure"], "mode": spec["mode"],
                "error": f"timed out after {timeout} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("ROW ")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"measure": spec["measure"], "mode": spec["mode"],
                "error": f"child exited {p.returncode}: {tail[:300]}"}
    row = json.loads(lines[-1][4:])
    row["child_wall_s"] = time.perf_counter() - t0
    row["error"] = None
    return row


def finish_row(row, spec):
    """Derived numbers of a child's row: MB, per-pair cost, the documented bound (with
    the recording's spikes)."""
    if row["error"]:
        return row
    spikes = max(1, row["n_spikes"])
    kb = 1024.0 / MB
    row["peak_mb"] = (row["peak_kb"] - row["rss_imports_kb"]) * kb
    row["call_mb"] = (row["peak_kb"] - row["rss_data_kb"]) * kb
    row["data_mb"] = (row["rss_data_kb"] - row["rss_imports_kb"]) * kb
    row["anon_mb"] = None if row["anon_rise_kb"] is None else row["anon_rise_kb"] * kb
    if row.get("workers_peak_kb"):
        rises = [p - r for p, r in zip(row["workers_peak_kb"], row["workers_rss_kb"])]
        row["workers_mb"] = max(rises) * kb
        row["workers_sum_mb"] = sum(rises) * kb
    else:
        row["workers_mb"] = row["workers_sum_mb"] = None
    n = row["n_trains"]
    row["pairs"] = n * (n - 1) // 2
    row["per_pair_s"] = row["time_s"] / row["pairs"] if row["pairs"] else None
    row["bound"] = None
    if row["mode"] != "memory":
        b = documented_bound(row["measure"], row["mode"], n, spec["block"], spikes)
        measured = row["anon_mb"] * MB if row["anon_mb"] is not None else None
        b["caller_measured_bytes"] = measured
        b["caller_excess_per_spike"] = (None if measured is None else
                                        max(0.0, measured - b["caller_bytes"]) / spikes)
        if b["worker_bytes"] is not None and row["workers_mb"] is not None:
            w = row["workers_mb"] * MB
            b["worker_measured_bytes"] = w
            b["worker_excess_per_spike"] = max(0.0, w - b["worker_bytes"]) / spikes
        row["bound"] = b
    return row


def compare(rows, saves, outs):
    """``equal`` of every blocked row: its ``.npy`` against the in-memory row's."""
    for r in rows:
        if r["error"] or r["mode"] == "memory":
            r["equal"] = None if r["mode"] == "memory" else False
            continue
        ref_path, path = saves[r["measure"]], outs[(r["measure"], r["mode"])]
        if not (os.path.exists(ref_path) and os.path.exists(path)):
            r["equal"] = False
            continue
        a = np.load(ref_path, mmap_mode="r")
        b = np.load(path, mmap_mode="r")
        r["equal"] = bool(a.shape == b.shape and np.array_equal(a, b, equal_nan=True))
        del a, b


def _mb(v, w=8):
    return f"{v:{w}.1f}" if v is not None else " " * (w - 1) + "-"


def row_lines(rows):
    lines = [f"   {'measure':<15} {'row':<17} {'time':>9} {'per pair':>10} {'peak':>8} "
             f"{'call':>8} {'anon':>8} {'workers':>8} {'equal':>6}",
             f"   {'':<15} {'':<17} {'':>9} {'':>10} {'MB':>8} {'MB':>8} {'MB':>8} "
             f"{'MB':>8}"]
    for r in rows:
        head = f"   {r['measure']:<15} {MODE_LABEL[r['mode']]:<17}"
        if r["error"]:
            lines.append(f"{head} failed -- {r['error']}")
            continue
        eq = "-" if r["equal"] is None else ("yes" if r["equal"] else "NO")
        per = f"{r['per_pair_s']:10.2e}" if r["per_pair_s"] else " " * 10
        lines.append(f"{head} {r['time_s']:7.3f} s {per} {_mb(r['peak_mb'])} "
                     f"{_mb(r['call_mb'])} {_mb(r['anon_mb'])} {_mb(r['workers_mb'])} "
                     f"{eq:>6}")
    for r in rows:
        if not r["error"] and r["mode"] == "memory":
            n = r["n_trains"]
            lines.append(f"   in-memory, {r['measure']}: its {n} x {n} result "
                         f"({n * n * 8 / MB:.1f} MB) is part of the call's figures")
    for r in rows:
        if r["error"] or not r["bound"]:
            continue
        b = r["bound"]
        text = (f"   bound, {r['measure']} {MODE_LABEL[r['mode']]}: result "
                f"{b['result_bytes'] / MB:.1f} MB on disk; caller {b['in_flight']} block(s) "
                f"in flight" + (" + the running task" if r["mode"] == "blocked" else "")
                + f" = {b['caller_bytes'] / MB:.2f} MB, measured anon "
                f"{_mb(r['anon_mb'], 0)} MB")
        if b["caller_excess_per_spike"]:
            text += f" (+{b['caller_excess_per_spike']:.1f} B/spike over it)"
        if b["worker_bytes"] is not None:
            text += (f"; worker 16 B/spike + task = {b['worker_bytes'] / MB:.1f} MB, measured "
                     f"{_mb(r['workers_mb'], 0)} MB")
            if b.get("worker_excess_per_spike"):
                text += f" (+{b['worker_excess_per_spike']:.1f} B/spike over it)"
        lines.append(text)
    if any(not r["error"] and not r["peak_reset"] for r in rows):
        lines.append("   (peak from ru_maxrss: /proc/self/clear_refs not writable; warm-up "
                     "and building count too)")
    return lines


def run_rows(specs, tmp, section):
    saves, outs, rows = {}, {}, []
    for spec in specs:
        base = os.path.join(tmp, f"{section}-{spec['measure']}-{spec['mode']}")
        spec["out"] = base + ".npy"
        spec["save"] = base + "-memory.npy"
        if spec["mode"] == "memory":
            saves[spec["measure"]] = spec["save"]
        else:
            outs[(spec["measure"], spec["mode"])] = spec["out"]
        rows.append(finish_row(child_row(spec), spec))
    compare(rows, saves, outs)
    for path in list(saves.values()) + list(outs.values()):
        if os.path.exists(path):
            os.remove(path)
    return rows


# ============================================================================ sections
def _warm_sweep(n, dt):
    """On a worker: one small run of the sweep's task (imports, torch set-up)."""
    from neuromod.scale.sweep import run_point, sweep_tasks
    row = run_point(sweep_tasks("lif", [("tau_m", ["10*ms"])], n=n, duration=100 * dt,
                                dt=dt)[0])
    return row["error"]


def section_sweep(a):
    from neuromod.scale.cluster import connect, run_tasks
    from neuromod.scale.sweep import sweep
    size = dict(SWEEP_QUICK if a.quick else SWEEP)
    if a.sweep_n:
        size["n"] = a.sweep_n
    if a.sweep_duration:
        size["duration"] = a.sweep_duration
    values = [f"{10 + i}*ms" for i in range(size["points"])]
    grid = [("tau_m", values)]
    items = OVERHEAD_ITEMS_QUICK if a.quick else OVERHEAD_ITEMS
    runs, overhead = [], None
    for workers in (1, WORKERS):
        t0 = time.perf_counter()
        with connect(f"local:{workers}", quiet=True) as client:
            up = time.perf_counter() - t0
            warm = client.run(_warm_sweep, size["n"], size["dt"])
            # and the client's own first-use costs (the first map, run_point pickled)
            sweep("lif", [("tau_m", values[:workers])], n=size["n"], duration=100 * size["dt"],
                  dt=size["dt"], client=client, progress=False)
            t0 = time.perf_counter()
            rows = sweep("lif", grid, n=size["n"], duration=size["duration"], dt=size["dt"],
                         seed=a.seed, client=client, progress=False)
            wall = time.perf_counter() - t0
            errors = [r["error"] for r in rows if r["error"]]
            errors += [e for e in warm.values() if e]
            task = [r["wall_s"] for r in rows]
            runs.append({"workers": workers, "startup_s": up, "wall_s": wall,
                         "tasks": len(rows), "task_mean_s": float(np.mean(task)),
                         "task_sum_s": float(np.sum(task)), "errors": errors[:3],
                         "n_spikes": int(sum(r["n_spikes"] or 0 for r in rows))})
            if workers == WORKERS:
                list(run_tasks(abs, range(-20, 20), client, progress=False))   # warm-up
                t0 = time.perf_counter()
                got = list(run_tasks(abs, range(-items // 2, items - items // 2), client,
                                     progress=False))
                w = time.perf_counter() - t0
                overhead = {"items": items, "wall_s": w, "ms_per_task": 1e3 * w / items,
                            "ok": len(got) == items}
    one, two = runs
    speedup = one["wall_s"] / two["wall_s"]
    sweep_overhead = (one["wall_s"] - one["task_sum_s"]) / one["tasks"]
    applicable = not a.quick
    sp_ok = speedup >= SPEEDUP_TARGET if applicable else None
    ov_ok = overhead["ms_per_task"] < OVERHEAD_TARGET_MS if applicable else None
    overhead.update(target_ms=OVERHEAD_TARGET_MS, reached=ov_ok)
    data = {"model": "lif", "grid": {"tau_m": values}, **size, "seed": a.seed,
            "runs": runs, "speedup": speedup, "speedup_target": SPEEDUP_TARGET,
            "speedup_reached": sp_ok, "sweep_overhead_ms_per_task": 1e3 * sweep_overhead,
            "overhead": overhead, "targets_applicable": applicable}
    lines = [f"\nsweep: lif, tau_m = {values[0]} .. {values[-1]} ({len(values)} points), "
             f"{size['n']} neurons x {size['duration']:g} s at dt {size['dt'] * 1e3:g} ms "
             f"(torch); single-threaded workers; timed: the sweep(...) call on a connected "
             f"client, after one small task on every worker and one small sweep",
             f"   {'workers':>7} {'start-up':>10} {'sweep wall':>11} {'task mean':>10} "
             f"{'task sum':>10} {'errors':>7}"]
    for r in runs:
        lines.append(f"   {r['workers']:7d} {r['startup_s']:8.2f} s {r['wall_s']:9.2f} s "
                     f"{r['task_mean_s']:8.3f} s {r['task_sum_s']:8.2f} s "
                     f"{len(r['errors']):7d}")
        for e in r["errors"]:
            lines.append(f"      error: {e}")
    def verdict(ok, why):
        return f" (not applicable with --quick: {why})" if ok is None else \
            ("  reached" if ok else "  MISSED")
    lines += [f"   speed-up {one['workers']} -> {two['workers']} workers: {speedup:.2f}x "
              f"(target >= {SPEEDUP_TARGET})"
              + verdict(sp_ok, "tasks of milliseconds cannot show a speed-up"),
              f"   sweep overhead per task (wall on 1 worker - sum of task wall_s) / tasks: "
              f"{1e3 * sweep_overhead:.1f} ms",
              f"   engine overhead: run_tasks(abs) over {items} items on local:{WORKERS}: "
              f"{overhead['wall_s']:.3f} s, {overhead['ms_per_task']:.2f} ms per task "
              f"(target < {OVERHEAD_TARGET_MS:g} ms){verdict(ov_ok, 'reported only')}"]
    if applicable and one["task_mean_s"] < 1.0:
        lines.append(f"   (note: the mean task took {one['task_mean_s']:.2f} s, under the "
                     "1 s the sizing aims at; --sweep-duration makes tasks longer)")
    ok = not any(r["errors"] for r in runs) and overhead["ok"] and sp_ok is not False \
        and ov_ok is not False
    return data, lines, ok


def _extrapolation(rows, spikes_per_train):
    n = EXTRAPOLATE_N
    pairs = n * (n - 1) // 2
    out = {"n_trains": n, "pairs": pairs, "matrix_bytes": n * n * 8,
           "recording_bytes": 16 * n * spikes_per_train, "rows": []}
    for r in rows:
        if not r["error"] and r["per_pair_s"]:
            out["rows"].append({"measure": r["measure"], "mode": r["mode"],
                                "time_s": r["per_pair_s"] * pairs})
    return out


def section_blocked(a):
    size = dict(BLOCKED_QUICK if a.quick else BLOCKED)
    if a.block:
        size["block"] = a.block
    n, k = size["n"], size["spikes"]
    specs = [dict(section="blocked", measure=m, mode=mode, seed=a.seed, **size)
             for m in MEASURES for mode in MODES]
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        rows = run_rows(specs, tmp, "blocked")
    ext = _extrapolation(rows, k)
    data = {**size, "seed": a.seed, "n_spikes": n * k, "pairs": n * (n - 1) // 2,
            "sttc_dt": STTC_DT, "workers": WORKERS, "rows": rows, "extrapolation": ext}
    lines = [f"\nblocked: {n} trains x {k} spikes (uniform over {size['seconds']:g} s, seed "
             f"{a.seed}; {n * k:,} spikes, {n * (n - 1) // 2:,} pairs); block "
             f"{size['block']}; STTC dt {STTC_DT * 1e3:g} ms; each row in a child process "
             "of its own",
             "   peak: peak RSS - RSS after imports (recording included); call: peak - RSS "
             "with the recording built (the .npy map's file pages included); anon: sampled "
             "heap rise during the call; workers: largest worker's peak RSS rise"]
    lines += row_lines(rows)
    lines.append(f"   extrapolation to {ext['n_trains']:,} trains x {k} spikes "
                 f"({ext['pairs']:,} pairs, per-pair cost fixed): matrix "
                 f"{ext['matrix_bytes'] / 1e9:.2f} GB ({ext['matrix_bytes'] / MB:.0f} MB) on "
                 f"disk, recording {ext['recording_bytes'] / MB:.0f} MB")
    for e in ext["rows"]:
        lines.append(f"      {e['measure']:<15} {MODE_LABEL[e['mode']]:<17} "
                     f"{e['time_s']:9.1f} s ({e['time_s'] / 60:.1f} min)")
    ok = all(not r["error"] for r in rows) and all(r["equal"] for r in rows
                                                     if r["mode"] != "memory")
    return data, lines, ok


def section_hour(a):
    size = dict(HOUR_QUICK if a.quick else HOUR)
    if a.hour_block:
        size["block"] = a.hour_block
    expected = int(size["units"] * size["seconds"] * size["rate"])
    specs = [dict(section="hour", measure="sttc", mode=mode, seed=a.seed, **size)
             for mode in MODES]
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        rows = run_rows(specs, tmp, "hour")
    spikes = next((r["n_spikes"] for r in rows if not r["error"]), None)
    data = {**size, "seed": a.seed, "n_spikes": spikes, "expected_spikes": expected,
            "sttc_dt": STTC_DT, "workers": WORKERS, "rows": rows}
    lines = [f"\nsttc-hour: all-pairs STTC (dt {STTC_DT * 1e3:g} ms) of {size['units']} "
             f"units x {size['seconds']:g} s at {size['rate']:g} Hz (Poisson; {spikes or 0:,} "
             f"spikes; seed {a.seed}); block {size['block']}; memory columns as in blocked"]
    lines += row_lines(rows)
    ok = all(not r["error"] for r in rows) and all(r["equal"] for r in rows
                                                     if r["mode"] != "memory")
    return data, lines, ok


#: Section name -> ``fn(args) -> (json part, printed lines, checks passed)``.
SECTIONS = {"sweep": section_sweep, "blocked": section_blocked, "sttc-hour": section_hour}


def _versions():
    info = {}
    for lib in ("numpy", "numba", "dask", "distributed", "torch"):
        try:
            info[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            info[lib] = None
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes for every section (targets not applicable)")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated, from {', '.join(SECTIONS)} (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--block", type=int, default=None,
                    help=f"blocked: trains per block ({BLOCKED['block']}; "
                         f"{BLOCKED_QUICK['block']} with --quick)")
    ap.add_argument("--hour-block", type=int, default=None,
                    help=f"sttc-hour: trains per block ({HOUR['block']}; "
                         f"{HOUR_QUICK['block']} with --quick)")
    ap.add_argument("--sweep-n", type=int, default=None,
                    help=f"sweep: neurons per task ({SWEEP['n']}; {SWEEP_QUICK['n']} with "
                         "--quick)")
    ap.add_argument("--sweep-duration", type=float, default=None,
                    help=f"sweep: simulated seconds per task ({SWEEP['duration']:g}; "
                         f"{SWEEP_QUICK['duration']:g} with --quick)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    # one row of blocked / sttc-hour in this process (the parent's child processes)
    ap.add_argument("--row", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.row is not None:
        print("ROW " + json.dumps(run_row(json.loads(a.row))), flush=True)
        return 0
    names = [s for s in a.sections.split(",") if s]
    unknown = [s for s in names if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    import numba
    info = {"quick": a.quick, "seed": a.seed, "cpu_cores": os.cpu_count(),
            "numba_threads": numba.config.NUMBA_NUM_THREADS, **_versions()}
    from sections import run_sections
    done, text, ok, info["wall_s"] = run_sections(SECTIONS, names, a)
    if a.json:
        print(json.dumps({**info, "sections": done, "all_reached": ok}))
        return 0 if ok else 1
    print(f"neuromod scale-out benchmark ({'quick' if a.quick else 'full'}); CPU cores: "
          f"{os.cpu_count()}; numba threads {info['numba_threads']}; numpy {info['numpy']}, "
          f"numba {info['numba']}, dask {info['dask']}, distributed {info['distributed']}, "
          f"torch {info['torch']}; seed {a.seed}")
    if a.quick:
        print("(--quick: tiny sizes; the speed-up and overhead targets are not applicable "
              "and do not change the exit status)")
    print("\n".join(text))
    print(f"\nwall time of the benchmark: {info['wall_s']:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
