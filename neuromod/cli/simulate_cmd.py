"""``neuromod simulate``: run a reference neuron model on the Brian2 or Torch backend.

Imports only argparse at module level; the backends (and torch or brian2) load in
``run``.
"""
from neuromod.cli.common import positive_float, positive_int, split_sets


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
            "Both backends use the same discretisation (docs/backends.md)."))
    p.add_argument("model", nargs="?", help="model name (see --list)")
    p.add_argument("--list", action="store_true", help="list the models with their parameters")
    p.add_argument("--backend", choices=("torch", "brian2"), default="torch",
                   help="simulator (default torch)")
    p.add_argument("--n", type=positive_int, default=100, metavar="N",
                   help="number of neurons (default 100)")
    p.add_argument("--duration", type=positive_float, default=1.0, metavar="S",
                   help="simulated time in seconds (default 1)")
    p.add_argument("--dt", type=positive_float, default=1e-4, metavar="S",
                   help="time step in seconds (default 0.0001)")
    p.add_argument("--set", action="extend", nargs="+", default=[], metavar="NAME=VALUE", dest="sets",
                   help="parameter value in Brian2 syntax (tau_m=20*ms, I_min=0.9*nA) or SI "
                        "number, or a string option the model declares (noise=logistic; "
                        "see --list); several may follow one --set")
    p.add_argument("--seed", type=int, metavar="K",
                   help="random seed (stochastic firing and inputs)")
    p.add_argument("--target", choices=("numpy", "cython", "cpp_standalone"), default="numpy",
                   help="Brian2 code-generation target (default numpy; cython and "
                        "cpp_standalone compile C/C++ code first)")
    p.add_argument("--out", metavar="FILE",
                   help="write the spike trains (format from the extension: .txt .csv .npz "
                        ".nix .nwb; text otherwise)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="write a raster and the f-I curve")
    return p


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
    if args.json:
        print_json({"models": models})
        return 0
    for m in models:
        print(f"{m['name']}: {m['description']}")
        print(f"  states: {', '.join(m['states'])}; method: {m['method']}; "
              f"inputs: {', '.join(m['inputs'])}; ports: "
              + ", ".join(f"{k} (w in {u})" for k, u in m["ports"].items()))
        for k, choices in m["options"].items():
            print(f"  {k:<10} = {choices[0]:<12} option: {', '.join(choices)}")
        for k, p in m["parameters"].items():
            print(f"  {k:<10} = {p['default']:<12} [{p['unit']}]")
        print(f"  I_min, I_max [{m['input_unit']}]: input range across the population "
              "(default 0.9 and 2 x rheobase)")
    return 0


def run(args):
    import time

    import numpy as np

    from neuromod.units import as_si, unit_name
    from neuromod.errors import NeuromodError
    from neuromod.neurons import MODELS, OPTIONS, rheobase

    if args.list:
        return _list(args)
    if not args.model:
        raise NeuromodError("give a MODEL (see neuromod simulate --list)")
    if args.model not in MODELS:
        raise NeuromodError(f"unknown model {args.model!r}; known: {', '.join(MODELS)}")
    sets = split_sets(args.sets)
    choices = OPTIONS.get(args.model, {})
    options = {}
    for name, text in sets:
        if name in choices:
            if text not in choices[name]:
                raise NeuromodError(f"--set {name}={text[:40]}: must be one of "
                                    f"{', '.join(choices[name])}")
            options[name] = text
    model = MODELS[args.model](**options)
    drive = model.inputs[0]
    unit = model.dim_of(drive)            # I_min, I_max are in the unit of the model's input
    from neuromod.limits import check_value
    values, I_min, I_max = {}, None, None
    for name, text in sets:
        if name in choices:
            continue
        try:
            if name in ("I_min", "I_max"):
                v = check_value(name, as_si(text, unit, name), "finite")
                I_min, I_max = (v, I_max) if name == "I_min" else (I_min, v)
            elif name in model.parameters:
                p = model.parameters[name]    # parsed, dimension- and domain-checked
                values[name] = p.check(as_si(text, p.dim, name), model.name)
            else:
                raise NeuromodError(f"model {args.model!r} has no parameter {name!r}; it has "
                                    f"{', '.join([*choices, *model.parameters])}, I_min, I_max")
        except NeuromodError as exc:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise type(exc)(f"--set {name}={shown}: {exc}") from None
    try:
        model = model.with_parameters(**values)   # relations between parameters, at once
    except NeuromodError as exc:
        raise type(exc)(f"--set: {exc}") from None
    if I_min is None or I_max is None:
        if "rheobase" not in model.derived:
            raise NeuromodError(f"model {args.model!r} has no rheobase to set the input range "
                                "from; give --set I_min=... I_max=...")
        rb = rheobase(model)
        if not rb > 0:
            raise NeuromodError(f"model {args.model!r} fires without input with these "
                                "parameters; give --set I_min=... I_max=...")
        I_min = 0.9 * rb if I_min is None else I_min
        I_max = 2.0 * rb if I_max is None else I_max
    from neuromod.limits import check_allocation
    check_allocation(8 * args.n, f"simulate --n {args.n}: the input currents")
    currents = np.linspace(I_min, I_max, args.n) if args.n > 1 else np.array([I_min])
    if args.dt >= args.duration:
        raise NeuromodError(f"--dt ({args.dt:g} s) must be smaller than --duration ({args.duration:g} s)")

    from neuromod.backends.network import simulate
    from neuromod.outputs import PLOT_EXTENSIONS, Outputs
    backend_options = {"target": args.target} if args.backend == "brian2" else {}
    with Outputs() as out:
        spikes_out = out.add(args.out, "--out", default_suffix=".txt")  # checked before any work
        plot = out.add(args.plot, "--plot", PLOT_EXTENSIONS, ".png")
        if args.backend == "brian2":
            _import_brian2_without_pylab()
        t0 = time.perf_counter()
        res = simulate(model, args.n, args.duration, args.dt, backend=args.backend,
                       inputs={drive: currents}, seed=args.seed, **backend_options)
        wall = time.perf_counter() - t0
        st = res.spikes["neurons"]
        n_steps = len(res.t)
        # a discrete model: counts per step, rates_hz = rate_per_step / dt
        rates = st.counts / (n_steps * args.dt) if model.discrete else st.counts / args.duration
        if args.out:
            from neuromod import io
            fmt = None
            try:
                io.format_from_path(args.out)
            except NeuromodError:
                fmt = "txt"
            out.write(spikes_out, lambda tmp: io.write(st, tmp, format=fmt))
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
