"""Spike-container conversions: a Brian2 SpikeMonitor (4,000 neurons, ~50k spikes) into
SpikeTrains, against building Neo objects per train, in one run.

Run: .venv/bin/python benchmarks/bench_spikes.py
"""
import time

import numpy as np


def best_of(fn, repeat=5):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main():
    import brian2 as b2
    from neuromod.spikes import SpikeTrains
    b2.prefs.codegen.target = "numpy"
    rng = np.random.default_rng(0)
    n, duration = 4000, 1.0
    n_spikes = 50_000
    idx = rng.integers(0, n, n_spikes)
    t = np.sort(rng.uniform(0, duration, n_spikes))
    t = np.round(t / 1e-4) * 1e-4
    _, keep = np.unique(np.stack([idx, np.round(t / 1e-4)]), axis=1, return_index=True)
    idx, t = idx[np.sort(keep)], t[np.sort(keep)]
    gen = b2.SpikeGeneratorGroup(n, idx, t * b2.second, dt=0.1 * b2.ms)
    mon = b2.SpikeMonitor(gen)
    net = b2.Network(gen, mon)
    net.run(duration * b2.second)
    print(f"Brian2 SpikeMonitor: {n} neurons, {mon.num_spikes} spikes")
    t_conv = best_of(lambda: SpikeTrains.from_brian2(mon))
    t_b2 = best_of(lambda: mon.spike_trains(), repeat=3)
    st = SpikeTrains.from_brian2(mon)
    t_neo = best_of(lambda: st.to_neo(), repeat=1)
    print(f"{'operation':45s} {'seconds':>10s}")
    print(f"{'SpikeTrains.from_brian2(monitor)':45s} {t_conv:10.4f}")
    print(f"{'monitor.spike_trains() (Brian2 dict)':45s} {t_b2:10.4f}")
    print(f"{'SpikeTrains.to_neo() (4,000 neo.SpikeTrain)':45s} {t_neo:10.4f}")
    print(f"ratio Brian2 dict / neuromod: {t_b2 / t_conv:.1f}x; "
          f"neo build costs {1e3 * t_neo / n:.3f} ms per train (why neuromod builds them lazily)")


if __name__ == "__main__":
    main()
