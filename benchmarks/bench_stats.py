"""Spike-train statistics: neuromod against the peer libraries, timed in the same run.

Measures (full size / ``--quick``), seeded data:

* CV, CV2, LV of 1,000 trains x 1,000 spikes (200 x 200) vs Elephant's per-train loop
  (``elephant.statistics.isi`` then ``cv``/``cv2``/``lv`` on each ``neo.SpikeTrain``);
* van Rossum matrix, 200 trains x 100 spikes (50 x 50), vs Elephant;
* Victor-Purpura matrix, 50 trains x 100 spikes (20 x 50), vs Elephant;
* ISI-distance, SPIKE-distance and SPIKE-synchronization matrices, 200 x 100 (50 x 50),
  vs PySpike's compiled (Cython) ``*_matrix`` functions;
* the whole ``neuromod stats FILE --json`` process (every measure), 200 x 100 (50 x 50).

Times are medians of several repeats after a warm-up call, so numba compilation is
excluded; the one-off cost of compiling the kernels from a cold cache, and of
loading them from the on-disk cache in a fresh process, is measured separately in
subprocesses and printed once. Peer inputs (``neo.SpikeTrain``/``pyspike.SpikeTrain``
lists) are built outside the timed region. Every row also prints the largest relative
difference between the two results, so the speed is of the same numbers.

Targets: >= 10x faster than Elephant for CV/CV2/LV, van Rossum and Victor-Purpura;
no slower than PySpike (ratio >= 1) for ISI/SPIKE/SPIKE-sync.

Run: .venv/bin/python benchmarks/bench_stats.py [--quick]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def median_time(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def make_trains(seed, n, k, rate=10.0):
    """n trains of exactly k spikes, uniform on [0, k / rate] (a rate of 10 Hz)."""
    from neuromod.spikes import SpikeTrains
    rng = np.random.default_rng(seed)
    t_stop = k / rate
    times = np.sort(rng.uniform(0.0, t_stop, (n, k)), axis=1)
    return SpikeTrains.from_list(list(times), t_start=0.0, t_stop=t_stop)


def max_rel_diff(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both_nan = np.isnan(a) & np.isnan(b)
    if np.any(np.isnan(a) != np.isnan(b)):
        return float("inf")
    a, b = a[~both_nan], b[~both_nan]
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(b), 1e-12)
    return float(np.max(np.abs(a - b) / scale))


ROWS = []


def row(name, size, t_ours, peer, t_peer, target, diff):
    ratio = t_peer / t_ours if t_ours > 0 else float("inf")
    ok = "ok" if ratio >= target else "MISSED"
    ROWS.append((name, size, t_ours, peer, t_peer, ratio, target, ok, diff))
    print(f"{name:16s} {size:>12s} {1e3 * t_ours:11.2f} {peer:>16s} {1e3 * t_peer:11.1f} "
          f"{ratio:9.1f}x {'>=' + format(target, 'g') + 'x':>7s} {ok:>6s} {diff:11.1e}",
          flush=True)


def bench_isi(n, k, rep, rep_peer):
    from elephant import statistics as es
    from neuromod.stats import isi as nisi
    st = make_trains(1, n, k)
    neo_trains = st.to_neo()
    for name, ours, theirs in (("cv", nisi.cv, es.cv), ("cv2", nisi.cv2, es.cv2),
                               ("lv", nisi.lv, es.lv)):
        ours(st)  # warm-up
        t_ours = median_time(lambda: ours(st), rep)

        def peer():
            return np.array([float(theirs(es.isi(tr))) for tr in neo_trains])

        ref = peer()
        t_peer = median_time(peer, rep_peer)
        row(name.upper(), f"{n}x{k}", t_ours, "Elephant loop", t_peer, 10.0,
            max_rel_diff(ours(st), ref))


def bench_dissimilarity(n_vr, n_vp, k, rep, rep_peer):
    import quantities as pq
    from elephant.spike_train_dissimilarity import van_rossum_distance as el_vr
    from elephant.spike_train_dissimilarity import victor_purpura_distance as el_vp
    from neuromod.stats.distances import van_rossum_distance, victor_purpura_distance

    st = make_trains(2, n_vr, k)
    neo_trains = st.to_neo()
    tau = 0.01
    van_rossum_distance(st, tau)
    t_ours = median_time(lambda: van_rossum_distance(st, tau), rep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = el_vr(neo_trains, time_constant=tau * pq.s)
        t_peer = median_time(lambda: el_vr(neo_trains, time_constant=tau * pq.s), rep_peer)
    row("van Rossum", f"{n_vr}x{k}", t_ours, "Elephant", t_peer, 10.0,
        max_rel_diff(van_rossum_distance(st, tau), ref))

    st = make_trains(3, n_vp, k)
    neo_trains = st.to_neo()
    q = 100.0
    victor_purpura_distance(st, q)
    t_ours = median_time(lambda: victor_purpura_distance(st, q), rep)
    ref = el_vp(neo_trains, cost_factor=q * pq.Hz)
    t_peer = median_time(lambda: el_vp(neo_trains, cost_factor=q * pq.Hz), rep_peer)
    row("Victor-Purpura", f"{n_vp}x{k}", t_ours, "Elephant", t_peer, 10.0,
        max_rel_diff(victor_purpura_distance(st, q), ref))


def bench_synchrony(n, k, rep, rep_peer):
    import pyspike as spk
    from neuromod.stats import synchrony as sy
    st = make_trains(4, n, k)
    trains = [spk.SpikeTrain(tr, [st.t_start, st.t_stop]) for tr in st.to_list()]
    for name, ours, theirs in (("ISI-distance", sy.isi_distance, spk.isi_distance_matrix),
                               ("SPIKE-distance", sy.spike_distance, spk.spike_distance_matrix),
                               ("SPIKE-sync", sy.spike_sync, spk.spike_sync_matrix)):
        ours(st)
        t_ours = median_time(lambda: ours(st), rep)
        ref = theirs(trains)
        t_peer = median_time(lambda: theirs(trains), rep_peer)
        row(name, f"{n}x{k}", t_ours, "PySpike (Cython)", t_peer, 1.0,
            max_rel_diff(ours(st), ref))


def bench_cli(n, k, rep):
    """Wall time of the whole ``neuromod stats FILE --json`` process, every measure."""
    exe = Path(sys.executable).with_name("neuromod")
    st = make_trains(5, n, k)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_spikes.txt"
        try:
            from neuromod import io
            io.write(st, path)
        except Exception as exc:  # the writer is optional for this benchmark
            print(f"  (neuromod.io.write unavailable: {type(exc).__name__}: {exc}; "
                  "writing one train per line)")
            path.write_text("".join(" ".join(f"{t:.9f}" for t in tr) + "\n"
                                    for tr in st.to_list()))
        cmd = [str(exe), "stats", str(path), "--json", "--t-start", "0",
               "--t-stop", repr(st.t_stop)]
        ts = []
        for _ in range(rep + 1):  # the first run may populate caches: not counted
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            ts.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                err = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
                print(f"neuromod stats   {n}x{k}: command failed (exit {proc.returncode}): {err}")
                return
        t = statistics.median(ts[1:])
        print(f"{'neuromod stats':16s} {f'{n}x{k}':>12s} {1e3 * t:11.0f} ms wall, whole process "
              f"(import, read, every measure, JSON), median of {rep}")


COMPILE_SNIPPET = r"""
import time, numpy as np
t0 = time.perf_counter()
from neuromod.spikes import SpikeTrains
from neuromod.stats import distances as d, synchrony as s
st = SpikeTrains.from_list([[0.1, 0.2, 0.5], [0.15, 0.6]], t_stop=1.0)
for f in (lambda: d.van_rossum_distance(st), lambda: d.victor_purpura_distance(st),
          lambda: s.isi_distance(st), lambda: s.spike_distance(st), lambda: s.spike_sync(st)):
    f()
print(time.perf_counter() - t0)
"""


def compile_times():
    """First calls in fresh processes: from a cold numba cache, then from the warm one."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        for label, env_extra in (("cold cache (compile)", {"NUMBA_CACHE_DIR": cache}),
                                 ("warm cache (load)", {"NUMBA_CACHE_DIR": cache})):
            env = dict(os.environ, **env_extra)
            proc = subprocess.run([sys.executable, "-c", COMPILE_SNIPPET], env=env,
                                  capture_output=True, text=True, cwd=ROOT)
            out[label] = (float(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0
                          else f"failed: {proc.stderr.strip().splitlines()[-1:]}")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = ap.parse_args(argv)
    if args.quick:
        sizes = dict(isi=(200, 200), vr=50, vp=20, k=50, sync=50, cli=(50, 50))
        rep, rep_peer = 3, 1
    else:
        sizes = dict(isi=(1000, 1000), vr=200, vp=50, k=100, sync=200, cli=(200, 100))
        rep, rep_peer = 7, 3
    import numba
    print(f"neuromod statistics benchmark{' (--quick)' if args.quick else ''}: "
          f"numba {numba.__version__}, {numba.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs; medians of {rep} (neuromod) / {rep_peer} (peer) runs\n")

    ct = compile_times()
    print("one-off cost of the numba kernels (5 matrix kernels, first call in a new process, "
          "includes importing numba):")
    for label, v in ct.items():
        print(f"  {label:22s} " + (f"{v:.2f} s" if isinstance(v, float) else v))
    print()

    print(f"{'measure':16s} {'trains x sp':>12s} {'neuromod ms':>11s} {'peer':>16s} "
          f"{'peer ms':>11s} {'speed-up':>10s} {'target':>7s} {'':>6s} {'max rel diff':>11s}")
    try:
        bench_isi(*sizes["isi"], rep, rep_peer)
    except ImportError as exc:
        print(f"CV/CV2/LV: skipped, neuromod.stats.isi not available ({exc})")
    bench_dissimilarity(sizes["vr"], sizes["vp"], sizes["k"], rep, rep_peer)
    bench_synchrony(sizes["sync"], sizes["k"], rep, rep_peer)
    try:
        bench_cli(*sizes["cli"], rep=3)
    except Exception as exc:  # keep the rest of the table even if the command is broken
        print(f"neuromod stats: not measured ({type(exc).__name__}: {exc})")

    missed = [r[0] for r in ROWS if r[7] != "ok"]
    print("\nall targets met" if not missed else f"\ntargets missed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
