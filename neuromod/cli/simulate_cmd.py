"""``neuromod simulate``: run a reference neuron model on the Brian2 or Torch backend.

Imports only light modules at module level (the standard library and
:mod:`neuromod.cli.common`); the backends (and torch or brian2) load in ``run``.

``neuromod simulate tempotron`` is a model of its own: tempotron neurons (each with
random weights) driven by Poisson afferents, in the exact event-driven mode or the
clock-driven mode on either backend (:mod:`neuromod.neurons.tempotron`).
"""
import math

from neuromod.cli.common import finite_float, positive_float, positive_int, quantity, split_sets

#: The tempotron's own options (None: not given); the other models refuse them.
TEMPOTRON_OPTIONS = ("mode", "afferents", "rate", "trials", "weight_mean", "weight_std",
                     "tau_m", "tau_s", "theta", "binary", "max_spikes")
#: Defaults of the options the tempotron and the other models share.
DEFAULTS = {"n": 100, "duration": 1.0, "dt": 1e-4, "backend": "torch"}
TEMPOTRON_DEFAULTS = {"n": 1, "duration": 0.5, "dt": 1e-4, "backend": "torch", "mode": "exact",
                      "afferents": 100, "rate": 5.0, "trials": 10, "weight_mean": 0.035,
                      "weight_std": 0.07, "max_spikes": 1000}

_TIME = (0, 0, 1, 0, 0, 0, 0)
_seconds = quantity(_TIME, "time")
_rate = quantity((0, 0, -1, 0, 0, 0, 0), "rate", strict=False)


def _non_negative(text):
    """argparse type: a finite float >= 0."""
    import argparse
    v = finite_float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return v


def add_parser(sub):
    p = sub.add_parser(
        "simulate", help="simulate a reference neuron model (Brian2 or Torch backend)",
        description=(
            "Simulate N unconnected neurons of a registered model. Without input options "
            "neuron i receives a constant input (the model's first input, in its unit: "
            "amp for the LIF models, dimensionless for noisy-lif) rising linearly from "
            "I_min (default 0.9 x rheobase) to I_max (default 2 x rheobase), so the "
            "population spans silence to regular firing. A discrete-time model runs "
            "n_steps = round(duration/dt) steps of length dt, its parameters per step. "
            "Both backends use the same discretisation (docs/backends.md). "
            "'neuromod simulate tempotron' runs --n tempotron neurons with random weights "
            "on --trials patterns of Poisson afferents (docs/tempotron.md). Times take "
            "units: 0.5, 500*ms or 500ms."))
    p.add_argument("model", nargs="?", help="model name (see --list), or tempotron")
    p.add_argument("--list", action="store_true", help="list the models with their parameters")
    add_simulation_options(p)
    p.add_argument("--out", metavar="FILE",
                   help="write the spike trains (format from the extension: .txt .csv .npz "
                        ".nix .nwb; text otherwise)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="write a raster and the f-I curve "
                   "(tempotron: the first trial's inputs and outputs, and the spike counts)")
    t = p.add_argument_group(
        "tempotron", "options of 'neuromod simulate tempotron' (the other models refuse "
        "them); the random weights are drawn first, then the input spikes, from --seed")
    t.add_argument("--mode", choices=("exact", "clock"), default=None,
                   help="exact: event-driven, output spikes located to 1e-12 s (default); "
                        "clock: steps of --dt on --backend")
    t.add_argument("--afferents", type=positive_int, default=None, metavar="N",
                   help="input afferents (default 100)")
    t.add_argument("--rate", type=_rate, default=None, metavar="HZ",
                   help="Poisson rate of each afferent, Hz or with a unit (default 5 Hz)")
    t.add_argument("--trials", type=positive_int, default=None, metavar="K",
                   help="input patterns, each simulated on every neuron (default 10)")
    t.add_argument("--weight-mean", type=finite_float, default=None, metavar="W",
                   help="mean of the Gaussian weights (default 0.035: with the other "
                        "defaults about 1.5 output spikes per trial on average, varying "
                        "widely between neurons)")
    t.add_argument("--weight-std", type=_non_negative, default=None, metavar="W",
                   help="standard deviation of the weights (default 0.07)")
    t.add_argument("--tau-m", type=_seconds, default=None, metavar="S",
                   help="membrane time constant (default 20 ms; also --set tau_m=...)")
    t.add_argument("--tau-s", type=_seconds, default=None, metavar="S",
                   help="synaptic time constant, < tau_m (default 5 ms)")
    t.add_argument("--theta", type=positive_float, default=None, metavar="X",
                   help="threshold (default 1)")
    t.add_argument("--binary", action="store_true", default=None,
                   help="binary tempotron: only the first output spike (inputs shunted after it)")
    t.add_argument("--max-spikes", type=positive_int, default=None, metavar="K",
                   help="exact mode: most output spikes of a neuron on one trial (default 1000)")
    return p


def add_simulation_options(p):
    """The options of one simulation (backend, size, time, settings, seed, target),
    shared by ``neuromod simulate`` and ``neuromod sweep``."""
    p.add_argument("--backend", choices=("torch", "brian2"), default=None,
                   help="simulator (default torch; for the tempotron it implies --mode clock)")
    p.add_argument("--n", type=positive_int, default=None, metavar="N",
                   help="number of neurons (default 100; tempotron 1)")
    p.add_argument("--duration", type=_seconds, default=None, metavar="S",
                   help="simulated time, seconds or with a unit (default 1 s; tempotron: "
                        "each trial, default 500 ms)")
    p.add_argument("--dt", type=_seconds, default=None, metavar="S",
                   help="time step, seconds or with a unit (default 0.0001 s; for the "
                        "tempotron it implies --mode clock)")
    p.add_argument("--set", action="extend", nargs="+", default=[], metavar="NAME=VALUE", dest="sets",
                   help="parameter value in Brian2 syntax (tau_m=20*ms, I_min=0.9*nA) or SI "
                        "number, or a string option the model declares (noise=logistic; "
                        "see --list); several may follow one --set")
    p.add_argument("--seed", type=int, metavar="K",
                   help="random seed (stochastic firing and inputs)")
    p.add_argument("--target", choices=("numpy", "cython", "cpp_standalone"), default="numpy",
                   help="Brian2 code-generation target (default numpy; cython and "
                        "cpp_standalone compile C/C++ code first)")


def _import_brian2_without_pylab():
    """Import brian2 without its ``from pylab import *`` (matplotlib.pyplot, ~1.5 s).

    The command uses none of the pylab names, and brian2 supports a missing pylab
    (it then imports the numpy names alone). The block is lifted right after, so a
    later ``import pylab`` (``--plot``) works; the library itself leaves brian2's
    import alone."""
    import sys
    if "brian2" in sys.modules or "pylab" in sys.modules:
        return
    sys.modules["pylab"] = None        # makes 'from pylab import *' raise ImportError
    try:
        import brian2  # noqa: F401
    finally:
        if "pylab" in sys.modules and sys.modules["pylab"] is None:
            del sys.modules["pylab"]


def _list(args):
    from neuromod.cli.common import print_json
    from neuromod.neurons import MODELS, OPTIONS
    from neuromod.units import unit_name
    models = []
    for name, factory in MODELS.items():
        m = factory()
        models.append({
            "name": name, "description": m.description, "method": m.method,
            "options": {k: list(v) for k, v in OPTIONS.get(name, {}).items()},
            "input_unit": unit_name(m.dim_of(m.inputs[0])) if m.inputs else None,
            "states": m.states, "inputs": list(m.inputs),
            "ports": {k: p.unit for k, p in m.ports.items()},
            "parameters": {k: {"default": p.text(), "value": p.value, "unit": p.unit}
                           for k, p in m.parameters.items()}})
    from neuromod.neurons.tempotron import tempotron_model
    m = tempotron_model()
    models.append({
        "name": "tempotron", "description": m.description.replace(", clock-driven", "")
        + "; exact (event-driven) or clock-driven mode, Poisson afferents",
        "method": m.method, "options": {"mode": ["exact", "clock"]}, "input_unit": None,
        "states": m.states, "inputs": [], "ports": {k: p.unit for k, p in m.ports.items()},
        "parameters": {k: {"default": p.text(), "value": p.value, "unit": p.unit}
                       for k, p in m.parameters.items() if k != "V0"}})
    if args.json:
        print_json({"models": models})
        return 0
    for m in models:
        print(f"{m['name']}: {m['description']}")
        print(f"  states: {', '.join(m['states'])}; method: {m['method']}; "
              f"inputs: {', '.join(m['inputs']) or 'none'}; ports: "
              + ", ".join(f"{k} (w in {u})" for k, u in m["ports"].items()))
        for k, choices in m["options"].items():
            print(f"  {k:<10} = {choices[0]:<12} option: {', '.join(choices)}")
        for k, p in m["parameters"].items():
            print(f"  {k:<10} = {p['default']:<12} [{p['unit']}]")
        if m["name"] == "tempotron":
            print("  --mode exact|clock, --afferents, --rate, --trials, --weight-mean, "
                  "--weight-std, --binary (see neuromod simulate --help)")
            continue
        print(f"  I_min, I_max [{m['input_unit']}]: input range across the population "
              "(default 0.9 and 2 x rheobase)")
    return 0


def run(args):
    import time

    import numpy as np

    from neuromod.units import unit_name
    from neuromod.errors import NeuromodError
    from neuromod.neurons import MODELS

    if args.list:
        return _list(args)
    if not args.model:
        raise NeuromodError("give a MODEL (see neuromod simulate --list)")
    if args.model == "tempotron":
        return _tempotron(args)
    if args.model not in MODELS:
        raise NeuromodError(f"unknown model {args.model!r}; known: {', '.join(MODELS)}, "
                            "tempotron")
    for name in TEMPOTRON_OPTIONS:
        if getattr(args, name) is not None:
            raise NeuromodError(f"--{name.replace('_', '-')} is an option of the tempotron "
                                f"only (neuromod simulate tempotron), not of {args.model!r}")
    for name, value in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    from neuromod.neurons.ramp import ramp_setup, run_ramp
    ramp = ramp_setup(args.model, split_sets(args.sets))
    model, drive, options = ramp.model, ramp.drive, ramp.options
    unit, I_min, I_max = model.dim_of(drive), ramp.I_min, ramp.I_max
    currents = ramp.currents(args.n)
    if args.dt >= args.duration:
        raise NeuromodError(f"--dt ({args.dt:g} s) must be smaller than --duration ({args.duration:g} s)")

    from neuromod.outputs import PLOT_EXTENSIONS, Outputs
    with Outputs() as out:
        spikes_out = out.add(args.out, "--out", default_suffix=".txt")  # checked before any work
        plot = out.add(args.plot, "--plot", PLOT_EXTENSIONS, ".png")
        if args.backend == "brian2":
            _import_brian2_without_pylab()
        t0 = time.perf_counter()
        st, res, currents = run_ramp(ramp, args.n, args.duration, args.dt,
                                     backend=args.backend, seed=args.seed, target=args.target)
        wall = time.perf_counter() - t0
        n_steps = len(res.t)
        # a discrete model: counts per step, rates_hz = rate_per_step / dt
        rates = st.counts / (n_steps * args.dt) if model.discrete else st.counts / args.duration
        if args.out:
            from neuromod.cli.common import write_spikes
            write_spikes(out, spikes_out, st, args.out)
        if args.plot:
            from neuromod.backends.plots import simulation_figure
            out.write(plot, lambda tmp: simulation_figure(
                st, currents, tmp, title=f"{args.model} ({args.backend})"))
    if args.json:
        from neuromod.cli.common import print_json
        out = {"backend": args.backend, "model": args.model, "n": args.n,
               "duration": args.duration, "dt": args.dt, "n_spikes": st.n_spikes,
               "rates_hz": rates, "wall_s": wall, "build_s": res.build_s,
               "run_s": res.run_s, drive: currents}
        if options:
            out["options"] = options
        if model.discrete:
            out.update(n_steps=n_steps, rate_per_step=st.counts / n_steps)
        print_json(out)
        return 0
    firing = int(np.count_nonzero(rates))
    print(f"{args.model} on {args.backend}: {args.n} neurons, {args.duration:g} s at dt = "
          f"{args.dt:g} s; {st.n_spikes} spikes; {firing} neurons fire, rates "
          f"{rates.min():.3g} to {rates.max():.3g} Hz; input {I_min:.4g} to {I_max:.4g} "
          f"{unit_name(unit) if any(unit) else '(dimensionless)'}; "
          f"wall {wall:.2f} s (build {res.build_s:.2f} s, run {res.run_s:.2f} s)")
    if args.out:
        print(f"spike trains written to {args.out}")
    if args.plot:
        print(f"figure written to {args.plot}")
    return 0


def _tempotron_settings(args):
    """``(mode, backend, dt, Tempotron)`` from the options, every one checked."""
    from neuromod.errors import NeuromodError
    from neuromod.neurons.tempotron import Tempotron
    from neuromod.units import DIMENSIONLESS, as_si
    clock_only = [opt for opt, v in (("--backend", args.backend), ("--dt", args.dt))
                  if v is not None]
    mode = args.mode or ("clock" if clock_only else TEMPOTRON_DEFAULTS["mode"])
    if mode == "exact" and clock_only:
        raise NeuromodError(f"{clock_only[0]} applies to --mode clock; the exact mode is "
                            "event-driven (compiled with numba: no backend, no time step)")
    if mode == "clock" and args.max_spikes is not None:
        raise NeuromodError("--max-spikes applies to --mode exact")
    if args.target != "numpy":
        raise NeuromodError(f"--target {args.target}: the tempotron runs Brian2 with the "
                            "numpy target only")
    values = {"tau_m": args.tau_m, "tau_s": args.tau_s, "theta": args.theta}
    for name, text in split_sets(args.sets):
        shown = text if len(text) <= 40 else text[:37] + "..."
        if name not in values:
            raise NeuromodError(f"--set {name}={shown}: the tempotron has the parameters "
                                "tau_m, tau_s and theta (or --tau-m, --tau-s, --theta)")
        if values[name] is not None:
            raise NeuromodError(f"--set {name}={shown}: {name} is given twice (--set and "
                                f"--{name.replace('_', '-')})")
        try:
            values[name] = float(as_si(text, DIMENSIONLESS if name == "theta" else _TIME,
                                       name))
        except NeuromodError as exc:
            raise type(exc)(f"--set {name}={shown}: {exc}") from None
    neuron = Tempotron(**{k: v for k, v in values.items() if v is not None},
                       binary=bool(args.binary))
    backend = args.backend or TEMPOTRON_DEFAULTS["backend"]
    dt = args.dt if args.dt is not None else TEMPOTRON_DEFAULTS["dt"]
    return mode, backend, dt, neuron


def _poisson_patterns(rng, trials, afferents, rate, duration):
    """``trials`` patterns of ``afferents`` homogeneous Poisson trains (one draw of
    the counts, then of every time: no loop over spikes)."""
    import numpy as np
    from neuromod.neurons.tempotron import Patterns
    counts = rng.poisson(rate * duration, size=(trials, afferents))
    times = rng.uniform(0.0, duration, int(counts.sum()))
    flat = counts.ravel()
    afferent = np.repeat(np.tile(np.arange(afferents, dtype=np.int64), trials), flat)
    pattern = np.repeat(np.repeat(np.arange(trials, dtype=np.int64), afferents), flat)
    return Patterns.from_arrays(times, afferent, pattern, afferents, duration,
                                n_patterns=trials)


def _tempotron(args):
    """``neuromod simulate tempotron``: Poisson afferents, random weights, the exact or
    the clock-driven mode; a summary, the output spikes (--out) and a figure (--plot)."""
    import time

    import numpy as np

    from neuromod.errors import NeuromodError
    from neuromod.limits import check_allocation, check_seed
    from neuromod.neurons.tempotron import simulate

    mode, backend, dt, neuron = _tempotron_settings(args)
    d = TEMPOTRON_DEFAULTS
    pick = (lambda name: d[name] if getattr(args, name) is None else getattr(args, name))
    n, T, N, K = pick("n"), pick("duration"), pick("afferents"), pick("trials")
    rate, w_mean, w_std, max_spikes = (pick("rate"), pick("weight_mean"), pick("weight_std"),
                                       pick("max_spikes"))
    seed = check_seed(args.seed)
    if mode == "clock" and dt >= T:
        raise NeuromodError(f"--dt ({dt:g} s) must be smaller than --duration ({T:g} s)")
    # estimates before anything is drawn: the input spikes (time, afferent, pattern,
    # sort order; mean + 6 sd), the weights, the exact mode's output buffer or the
    # clock mode's block-diagonal connection
    mean = K * N * rate * T
    check_allocation(40 * (mean + 6 * math.sqrt(mean) + K * N) + 8 * n * N,
                     f"simulate tempotron: {K} trials of {N} afferents at {rate:g} Hz")
    if mode == "exact":
        check_allocation(8 * K * n * (max_spikes + 1),
                         f"simulate tempotron: output spikes of {n} neurons on {K} trials "
                         f"(--max-spikes {max_spikes})")
    else:
        check_allocation(16 * K * n * N + 64 * K * (n + N) + 8 * K * n * round(T / dt),
                         f"simulate tempotron --mode clock: {K} trials x {n} neurons x "
                         f"{N} afferents, {round(T / dt)} steps of {dt:g} s")

    from neuromod.outputs import PLOT_EXTENSIONS, Outputs
    from neuromod.spikes import SpikeTrains
    with Outputs() as out:
        spikes_out = out.add(args.out, "--out", default_suffix=".txt")  # checked before any work
        plot = out.add(args.plot, "--plot", PLOT_EXTENSIONS, ".png")
        rng = np.random.default_rng(seed)
        weights = rng.normal(w_mean, w_std, size=(n, N))
        patterns = _poisson_patterns(rng, K, N, rate, T)
        if mode == "clock" and backend == "brian2":
            _import_brian2_without_pylab()
        t0 = time.perf_counter()
        if mode == "exact":
            spikes = simulate(patterns, weights, neuron, mode="exact", max_spikes=max_spikes)
        else:
            spikes = simulate(patterns, weights, neuron, mode="clock", dt=dt, backend=backend)
        wall = time.perf_counter() - t0
        trains = [np.minimum(t, T) for trial in spikes for t in trial]   # train p n + j
        counts = np.array([len(t) for t in trains], dtype=np.int64).reshape(K, n)
        st = SpikeTrains.from_list(trains, t_start=0.0, t_stop=T, annotations={
            "trial": np.repeat(np.arange(K, dtype=np.int64), n),
            "unit": np.tile(np.arange(n, dtype=np.int64), K)})
        if args.out:
            from neuromod.cli.common import write_spikes
            write_spikes(out, spikes_out, st, args.out)
        if args.plot:
            title = f"tempotron ({mode}{' on ' + backend if mode == 'clock' else ''})"
            out.write(plot, lambda tmp: _tempotron_figure(patterns, spikes, counts, tmp, title))
    n_in = len(patterns.times)
    summary = {
        "model": "tempotron", "mode": mode, "backend": backend if mode == "clock" else None,
        "dt": dt if mode == "clock" else None, "duration": T, "trials": K, "n": n,
        "afferents": N, "rate_hz": rate, "seed": seed,
        "neuron": {"tau_m": neuron.tau_m, "tau_s": neuron.tau_s, "theta": neuron.theta,
                   "binary": neuron.binary},
        "weight_mean": w_mean, "weight_std": w_std, "n_input_spikes": n_in,
        "n_spikes": int(counts.sum()), "counts": counts, "rates_hz": counts / T,
        "spikes_per_trial": float(counts.mean()), "mean_rate_hz": float(counts.mean() / T),
        "fraction_firing": float(np.mean(counts > 0)), "wall_s": wall}
    if args.json:
        from neuromod.cli.common import print_json
        print_json(summary)
        return 0
    how = f"clock mode on {backend}, dt = {dt:g} s" if mode == "clock" else "exact mode"
    print(f"tempotron ({how}): {n} neuron{'s' if n > 1 else ''} x {K} trial"
          f"{'s' if K > 1 else ''} of {N} afferents at {rate:g} Hz, {T:g} s; {n_in} input "
          f"spikes; {summary['n_spikes']} output spikes ({summary['spikes_per_trial']:.3g} "
          f"per trial, {summary['mean_rate_hz']:.3g} Hz); {int(np.count_nonzero(counts))} of "
          f"{K * n} fire; wall {wall:.2f} s")
    if args.out:
        print(f"spike trains written to {args.out}")
    if args.plot:
        print(f"figure written to {args.plot}")
    return 0


def _tempotron_figure(patterns, spikes, counts, path, title):
    """The first trial's input raster with neuron 0's output spikes, and the output
    spike counts over trials and neurons."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    try:
        lo, hi = patterns.offsets[0], patterns.offsets[1]
        ax1.plot(patterns.times[lo:hi], patterns.afferents[lo:hi], "|", color="k", ms=3)
        for t in spikes[0][0]:
            ax1.axvline(t, color="tab:red", lw=1)
        ax1.set_xlim(0, patterns.duration)
        ax1.set_xlabel("time (s)")
        ax1.set_ylabel("afferent")
        ax1.set_title(f"{title}: trial 0 (red: output spikes of neuron 0)")
        c = counts.ravel()
        ax2.hist(c, bins=np.arange(c.max() + 2) - 0.5, color="tab:blue")
        ax2.set_xlabel("output spikes per trial")
        ax2.set_ylabel("trials x neurons")
        ax2.set_title("spike counts")
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
