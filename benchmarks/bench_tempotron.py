"""The tempotron: one training epoch of neuromod's binary tempotron against SpikingJelly's
``Tempotron``, and the cost of the event-driven (exact) mode against the clock-driven
one as the number of input spikes grows.

Sections (``--sections``, default both):

``training``: the capacity task of :func:`neuromod.neurons.tempotron.learning.
latency_patterns` at p/N = 1 (N = 100 afferents, 100 patterns; N = p = 20 with
``--quick``), T = 500 ms, one spike per afferent at a latency U(0, T), random labels;
``--epochs`` (1) epochs, lr 1e-3, momentum 0.99, the binary neuron of Gütig &
Sompolinsky 2006 (tau_m = 15 ms, tau_s = 3.75 ms, theta = 1):

* ``neuromod``: ``train_binary(patterns, labels, epochs=E, seed=seed)``, after one
  untimed warm-up call that compiles (or loads) the numba kernels. Online, an update on
  every error along the kernel at the exact time of the voltage maximum.
* ``SpikingJelly``: ``spikingjelly.timing_based.neuron.Tempotron(N, 1, T=500, tau=15,
  tau_s=3.75, v_threshold=1)``, time in ms on its integer grid (1 ms: the voltage is
  evaluated at t = 0, 1, ..., 499 ms; the spike times are the same, unrounded),
  its unreset voltage and ``forward(x, 'v_max')``, in float64 (``net.double()``): in
  its default float32 the kernel's ``exp(-(t - t_i)/tau_s)``, taken at every grid
  point before the mask ``t >= t_i``, overflows for ``t_i - t > 333 ms``, and
  ``inf * 0`` makes the voltage NaN on every pattern of this task (the count is
  printed: ``float32 NaN``); float64 holds to 2.6 s. The loss is the one of its
  ``Tempotron.mse_loss`` written for one output neuron (its own takes one neuron per
  class): ``((v_max - theta) * wrong)^2``, ``wrong`` = the neuron fired and should
  not have, or the reverse. Optimiser ``torch.optim.SGD(lr=1e-3, momentum=0.99)``,
  online (batch 1), ``backward`` and ``step`` on the errors only, so that the momentum
  runs over the updates as in Gütig & Sompolinsky's rule (the gradient is
  ``2 (v_max - theta)`` times the kernel at the grid maximum: the tempotron rule
  scaled by the error). Both start from the same weights ``N(0, 1e-3^2)`` and visit
  the patterns in the same order: those ``train_binary`` draws from ``seed``.

The time of each is the whole training call (neuromod: ``train_binary``; SpikingJelly:
building the module and the optimiser, then the epochs), best of ``--repeat``, each from
the same initial weights, after a warm-up; ratio: SpikingJelly / neuromod per epoch run
(> 1: neuromod faster; the same as the ratio of the times unless ``--epochs`` > 1 and
one of them stops early, at an epoch without errors). The errors made during each epoch
and the training errors after it are printed as context; they are not a ranking (the
two rules differ in step size and in where they take the maximum). Check of the peer
(not of the timing): SpikingJelly's voltage on its grid against neuromod's kernel on the
same grid, with neuromod's trained weights. Where SpikingJelly does not import, its row
says so, with the reason, and the rest runs.

``modes``: :func:`neuromod.neurons.tempotron.simulate` on Poisson patterns, 100
afferents at 1, 5, 20, 50 and 200 Hz over 500 ms (1, 5, 20 Hz, 3 patterns with
``--quick``; 20 patterns otherwise), the neuron of Gütig 2016 (tau_m = 20 ms,
tau_s = 5 ms, resets, several output spikes), weights ``N(0, s^2)`` less their mean,
with ``s = 0.2 sqrt(5 Hz / rate)``, so that the voltage's mean (0) and spread, hence
the output, are about the same at every rate: ``mode='exact'`` against
``mode='clock', dt=1e-4, backend='torch'`` (the whole call, the network built each
time), all patterns in one call, best of ``--repeat`` after a warm-up. Ratio: clock /
exact. The output spike counts of both and the share of patterns on which they agree
are printed as context.

Run: .venv/bin/python benchmarks/bench_tempotron.py [--quick] [--epochs E] [--repeat N]
     [--threads N] [--seed N] [--rates 1,5,20,50,200] [--sections training,modes] [--json]

SpikingJelly is installed by ``make venv`` with ``--no-deps`` (constraints.txt pins
0.0.0.0.14): it lists torchvision, which does not import beside the CPU torch here, and
its ``timing_based`` Tempotron needs torch alone. That release's Tempotron is the grid
model above, one input spike per afferent; 2.0.0 replaced it with a continuous-event
module of another interface (and needs loguru).
"""
import argparse
import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DURATION = 0.5                 # s, both sections
LR, MOMENTUM, INIT_STD = 1e-3, 0.99, 1e-3
GRID_MS = 1.0                  # SpikingJelly's time step (its time unit: ms)
RATES = (1.0, 5.0, 20.0, 50.0, 200.0)
RATES_QUICK = (1.0, 5.0, 20.0)
DT = 1e-4                      # clock-driven step, s


def _best(fn, repeat):
    """``(best wall time, all times, result of the last call)`` of ``repeat`` calls."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, out


# ============================================================================ peers
def load_spikingjelly():
    """SpikingJelly's ``Tempotron`` class and version; raises whatever its import raises."""
    from spikingjelly.timing_based.neuron import Tempotron
    try:
        version = metadata.version("spikingjelly")
    except metadata.PackageNotFoundError:
        version = None
    return Tempotron, version


def initial_state(n_patterns, n_afferents, seed):
    """The initial weights and the first epoch's pattern order of ``train_binary`` for
    ``seed`` (its generator: weights first, then one permutation per epoch)."""
    rng = np.random.default_rng(seed)
    return rng, rng.normal(0.0, INIT_STD, n_afferents)


def dense_latencies(patterns):
    """``(n_patterns, n_afferents)`` spike times in ms, -1 where an afferent is silent
    (SpikingJelly's input: one time per afferent)."""
    X = np.full((patterns.n_patterns, patterns.n_afferents), -1.0)
    pi = np.repeat(np.arange(patterns.n_patterns), np.diff(patterns.offsets))
    X[pi, patterns.afferents] = patterns.times * 1e3
    return X


def spikingjelly_trainer(Tempotron, patterns, labels, epochs, seed, neuron):
    """``train() -> (weights, errors per epoch, module)`` with SpikingJelly's Tempotron on
    a 1 ms grid, float64, from ``train_binary``'s initial weights and orders; and the
    inputs ``X`` (ms) and labels ``Y`` as tensors."""
    import torch
    N, P = patterns.n_afferents, patterns.n_patterns
    T = int(round(patterns.duration * 1e3 / GRID_MS))
    X = torch.tensor(dense_latencies(patterns), dtype=torch.float64)
    Y = torch.tensor(np.asarray(labels), dtype=torch.float64)
    theta = float(neuron.theta)

    def train():
        rng, w0 = initial_state(P, N, seed)
        net = Tempotron(N, 1, T, tau=neuron.tau_m * 1e3, tau_s=neuron.tau_s * 1e3,
                        v_threshold=theta).double()
        with torch.no_grad():
            net.fc.weight.copy_(torch.tensor(w0).view(1, N))
        opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
        history = []
        for _ in range(epochs):
            errors = 0
            for p in rng.permutation(P):
                v_max = net(X[p:p + 1], "v_max").view(-1)
                wrong = ((v_max >= theta).float() != Y[p:p + 1]).float()
                if wrong.sum() == 0:
                    continue
                errors += 1
                opt.zero_grad()
                loss = ((v_max - theta) * wrong).pow(2).sum()
                loss.backward()
                opt.step()
            history.append(errors)
            if errors == 0:
                break
        return net.fc.weight.detach().double().numpy().ravel(), history, net
    return train, X, Y


def grid_voltage(patterns, w, neuron):
    """neuromod's unreset voltage ``sum_i w_i K(t - t_i)`` on SpikingJelly's grid,
    ``(n_patterns, T)``."""
    t = np.arange(int(round(patterns.duration * 1e3 / GRID_MS))) * GRID_MS * 1e-3
    V = np.zeros((patterns.n_patterns, len(t)))
    for p in range(patterns.n_patterns):
        s, e = patterns.offsets[p], patterns.offsets[p + 1]
        K = neuron.kernel(t[None, :] - patterns.times[s:e, None])
        V[p] = w[patterns.afferents[s:e]] @ K
    return V


# ============================================================================ sections
def section_training(a):
    """One (``--epochs``) training epoch of the binary tempotron: neuromod against
    SpikingJelly on the capacity task at p/N = 1."""
    import torch
    from neuromod.neurons.tempotron.learning import (BINARY_NEURON, classify_binary,
                                                     latency_patterns, train_binary)
    N = 20 if a.quick else 100
    patterns, labels = latency_patterns(N, n_afferents=N, duration=DURATION, seed=a.seed)
    neuron = BINARY_NEURON
    train_binary(patterns, labels, epochs=1, seed=a.seed)          # warm-up: numba
    best, times, (w, hist) = _best(
        lambda: train_binary(patterns, labels, epochs=a.epochs, lr=LR, momentum=MOMENTUM,
                             init_std=INIT_STD, seed=a.seed), a.repeat)
    after = int((classify_binary(patterns, w) != labels).sum())
    ours = {"impl": "neuromod", "time_s": best, "times_s": times,
            "time_per_epoch_s": best / len(hist),
            "epochs_run": len(hist), "errors_per_epoch": [h["errors"] for h in hist],
            "errors_after": after, "time_ratio": 1.0, "dtype": "float64",
            "grid": "none (exact)"}
    rows = [ours]
    try:
        Tempotron, version = load_spikingjelly()
    except Exception as e:                   # ImportError, or torchvision's RuntimeError
        rows.append({"impl": "spikingjelly", "skipped": f"{type(e).__name__}: {e}"})
    else:
        torch.set_num_threads(a.threads)
        train, X, Y = spikingjelly_trainer(Tempotron, patterns, labels, a.epochs, a.seed,
                                           neuron)
        train()                                                    # warm-up
        best_sj, times_sj, (_, hist_sj, net) = _best(train, a.repeat)
        with torch.no_grad():
            v_max = net(X, "v_max").view(-1)
            net.fc.weight.copy_(torch.tensor(w).view(1, -1))
            V_ours = net(X, "v").reshape(len(X), -1).numpy()
            net.float()
            nan32 = int(torch.isnan(net(X.float(), "v_max").view(-1)).sum())
        after_sj = int(((v_max >= neuron.theta).float() != Y).sum())
        ref = grid_voltage(patterns, w, neuron)
        rows.append({"impl": "spikingjelly", "version": version, "time_s": best_sj,
                     "times_s": times_sj, "epochs_run": len(hist_sj),
                     "errors_per_epoch": hist_sj, "errors_after": after_sj,
                     "time_per_epoch_s": best_sj / len(hist_sj),
                     "time_ratio": (best_sj / len(hist_sj)) / ours["time_per_epoch_s"],
                     "dtype": "float64",
                     "float32_nan_patterns": nan32,
                     "grid": f"{GRID_MS:g} ms", "threads": a.threads,
                     "voltage_check": {
                         "weights": "neuromod's, after training",
                         "max_abs_diff": float(np.abs(V_ours - ref).max()),
                         "max_abs_voltage": float(np.abs(ref).max())}})
    data = {"n_afferents": N, "n_patterns": N, "load": 1.0, "duration_s": DURATION,
            "epochs": a.epochs, "lr": LR, "momentum": MOMENTUM, "init_std": INIT_STD,
            "tau_m_s": neuron.tau_m, "tau_s_s": neuron.tau_s, "theta": neuron.theta,
            "repeat": a.repeat, "rows": rows}
    lines = [f"\ntraining: binary tempotron, capacity task p/N = 1 (N = p = {N}), T = "
             f"{DURATION * 1e3:.0f} ms, one spike per afferent, {a.epochs} epoch(s), lr "
             f"{LR:g}, momentum {MOMENTUM:g};\nsame initial weights and pattern orders; "
             f"best of {a.repeat} whole training calls after a warm-up; ratio: peer / "
             f"neuromod, per epoch run"]
    lines.append(f"   {'implementation':<44} {'time':>10} {'ratio':>9}  errors per epoch"
                 f"   training errors after")
    labels_ = {"neuromod": "neuromod (exact, numba, float64)",
               "spikingjelly": "SpikingJelly Tempotron (1 ms grid, float64)"}
    for r in rows:
        if "skipped" in r:
            lines.append(f"   {labels_[r['impl']]:<44} skipped: {r['skipped']}")
            continue
        ratio = "" if r["impl"] == "neuromod" else f"{r['time_ratio']:8.1f}x"
        e = r["errors_per_epoch"]
        errs = ", ".join(map(str, e)) if len(e) <= 6 else \
            f"{', '.join(map(str, e[:3]))} ... {', '.join(map(str, e[-2:]))} ({len(e)})"
        lines.append(f"   {labels_[r['impl']]:<44} {r['time_s'] * 1e3:7.2f} ms {ratio:>9}  "
                     f"{errs:<16}   {r['errors_after']} / {N}")
    sj = rows[1]
    if "voltage_check" in sj:
        vc = sj["voltage_check"]
        lines.append(f"   (SpikingJelly {sj['version']}: its voltage on the grid, with "
                     f"neuromod's trained weights, against neuromod's kernel: max |diff| "
                     f"{vc['max_abs_diff']:.1e}, |V| up to {vc['max_abs_voltage']:.2f};\n"
                     f"    float32 NaN: its float32 voltage maximum is NaN on "
                     f"{sj['float32_nan_patterns']} / {N} patterns; errors are context, not "
                     f"a ranking)")
    return data, lines


def poisson_patterns(n_patterns, n_afferents, rate, duration, rng):
    """Independent Poisson trains at ``rate`` Hz."""
    from neuromod.neurons.tempotron import Patterns
    counts = rng.poisson(rate * duration, (n_patterns, n_afferents))
    pat = np.repeat(np.repeat(np.arange(n_patterns), n_afferents), counts.ravel())
    aff = np.repeat(np.tile(np.arange(n_afferents), n_patterns), counts.ravel())
    t = rng.uniform(0.0, duration, len(pat))
    return Patterns.from_arrays(t, aff, pat, n_afferents, duration, n_patterns=n_patterns)


def section_modes(a):
    """Event-driven against clock-driven simulation as the input spike count grows."""
    import torch
    from neuromod.neurons.tempotron import Tempotron, simulate
    torch.set_num_threads(a.threads)
    N = 100
    n_patterns = 3 if a.quick else 20
    neuron = Tempotron()
    rng = np.random.default_rng(a.seed)
    rows = []
    for rate in a.rates:
        P = poisson_patterns(n_patterns, N, rate, DURATION, rng)
        w = rng.normal(0.0, 0.2 * np.sqrt(5.0 / rate), N)
        w -= w.mean()
        simulate(P, w, neuron, mode="exact")                       # warm-up
        simulate(P, w, neuron, mode="clock", dt=DT, backend="torch")
        te, tes, exact = _best(lambda: simulate(P, w, neuron, mode="exact"), a.repeat)
        tc, tcs, clock = _best(lambda: simulate(P, w, neuron, mode="clock", dt=DT,
                                                backend="torch"), a.repeat)
        ne = np.array([len(o[0]) for o in exact])
        nc = np.array([len(o[0]) for o in clock])
        rows.append({"rate_hz": rate, "input_spikes": int(len(P.times)),
                     "input_spikes_per_pattern": len(P.times) / n_patterns,
                     "exact_s": te, "exact_times_s": tes, "clock_s": tc, "clock_times_s": tcs,
                     "time_ratio": tc / te,
                     "exact_us_per_input_spike": te / max(len(P.times), 1) * 1e6,
                     "exact_output_spikes": int(ne.sum()), "clock_output_spikes": int(nc.sum()),
                     "same_count_share": float((ne == nc).mean())})
    data = {"n_afferents": N, "n_patterns": n_patterns, "duration_s": DURATION, "dt_s": DT,
            "backend": "torch", "tau_m_s": neuron.tau_m, "tau_s_s": neuron.tau_s,
            "repeat": a.repeat, "rows": rows}
    lines = [f"\nmodes: simulate(), {n_patterns} Poisson patterns x {N} afferents x "
             f"{DURATION * 1e3:.0f} ms, tau_m {neuron.tau_m * 1e3:g} ms, tau_s "
             f"{neuron.tau_s * 1e3:g} ms, resets; exact (numba) against clock (dt = "
             f"{DT * 1e3:g} ms, Torch,\n{a.threads} thread(s), network built in every "
             f"call); best of {a.repeat} after a warm-up; ratio: clock / exact"]
    lines.append(f"   {'rate':>7} {'in spikes':>10} {'per pattern':>11} {'exact':>10} "
                 f"{'exact/spk':>10} {'clock':>10} {'ratio':>9} {'out spikes':>15} "
                 f"{'same count':>10}")
    for r in rows:
        out = f"{r['exact_output_spikes']} / {r['clock_output_spikes']}"
        lines.append(f"   {r['rate_hz']:>4g} Hz {r['input_spikes']:>10} "
                     f"{r['input_spikes_per_pattern']:>11.0f} {r['exact_s'] * 1e3:>7.2f} ms "
                     f"{r['exact_us_per_input_spike']:>7.3f} us {r['clock_s'] * 1e3:>7.1f} ms "
                     f"{r['time_ratio']:>8.1f}x "
                     f"{out:>15} "
                     f"{r['same_count_share']:>9.0%}")
    lines.append("   (out spikes: exact / clock, all patterns; same count: share of patterns "
                 "with equal counts)")
    return data, lines


#: Section name -> ``fn(args) -> (json part, printed lines)``, run in this order.
SECTIONS = {"training": section_training, "modes": section_modes}


# ============================================================================ main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="training on N = p = 20; modes at 1, 5, 20 Hz on 3 patterns; "
                         "1 repeat")
    ap.add_argument("--epochs", type=int, default=1, help="training epochs (default 1)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed calls per case, best taken (default 5; 1 with --quick)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the patterns and weights")
    ap.add_argument("--rates", default=None,
                    help="comma-separated afferent rates of the modes section, Hz "
                         "(default 1,5,20,50,200; 1,5,20 with --quick)")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated, from {', '.join(SECTIONS)} (default: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    if a.epochs < 1:
        ap.error("--epochs must be >= 1")
    a.repeat = a.repeat or (1 if a.quick else 5)
    a.rates = (tuple(float(r) for r in a.rates.split(",") if r) if a.rates
               else RATES_QUICK if a.quick else RATES)
    if not a.rates or min(a.rates) <= 0:
        ap.error("--rates must be positive")
    names = [s for s in a.sections.split(",") if s]
    unknown = [s for s in names if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    import torch
    torch.set_num_threads(a.threads)
    info = {"quick": a.quick, "epochs": a.epochs, "repeat": a.repeat, "threads": a.threads,
            "seed": a.seed, "cpu_cores": os.cpu_count()}
    for lib in ("torch", "numba", "spikingjelly"):
        try:
            info[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            info[lib] = None
    done, text = {}, []
    t_all = time.perf_counter()
    for name in (s for s in SECTIONS if s in names):
        done[name], lines = SECTIONS[name](a)
        text += lines
    info["wall_s"] = time.perf_counter() - t_all
    if a.json:
        print(json.dumps({**info, "sections": done}))
        return 0
    print(f"neuromod tempotron benchmark ({'quick' if a.quick else 'full'}); CPU cores: "
          f"{os.cpu_count()}, torch threads: {a.threads}, torch {info['torch']}, numba "
          f"{info['numba']}, spikingjelly {info['spikingjelly'] or 'not installed'}; seed "
          f"{a.seed}")
    print("\n".join(text))
    print(f"\nwall time of the benchmark: {info['wall_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
