"""Brian2 backend: ``NeuronGroup``, ``Synapses`` and monitors built from the model definition.

The model's equation text goes to ``brian2.NeuronGroup`` verbatim, with
``method=model.method``; only the declarations around it change:

* shared parameters go into the group's namespace as Brian2 quantities;
  per-neuron parameters become ``name : unit (constant)`` lines;
* a constant input ``I_ext : amp`` stays a per-neuron ``(constant)`` variable;
  a time-varying one becomes ``I_ext = nmta_<pop>_I_ext(t, i) : amp`` with a 2-D ``TimedArray``
  sampled at the simulation ``dt`` (held over each step);
* ports become ``Synapses(..., model='w : <unit>', on_pre=<port code>)`` with the
  target variables suffixed ``_post``.

Integration. ``exponential_euler`` and ``euler`` models use Brian2's own state
updaters. A discrete-time model (method ``'map'``) declares its states as
``name : unit`` and runs its step program (:func:`propagator_code`) as a
``run_regularly`` operation on the group's clock, once per step of ``dt``, after the
refractoriness update and before the threshold; its ``(unless refractory)`` states
are held by Brian2's conditional write. For ``exact`` models two integrators exist:

``integrator='neuromod'`` (default)
    The state updater is the zero-order-hold propagator the Torch backend uses
    (``E = e^{A dt}`` etc., computed once per run from the parameters, see
    :mod:`neuromod.backends.propagator`), printed as Brian2 abstract code from the
    model's step program (:func:`propagator_code`) with the coefficients as namespace
    constants or per-neuron ``(constant)`` variables. It works for any linear system.
``integrator='brian2'``
    Brian2's symbolic ``method='exact'``. Independent of neuromod's propagator
    (the tests compare the two), but sympy takes tens of seconds for coupled
    systems such as the adaptive LIF and its solution divides by
    ``tau_m - tau_e`` (NaN when they are equal).

Every object gets the same explicit ``dt`` and lives in one explicit
``brian2.Network``; Brian2's global "magic" network is never used. The code
generation target defaults to ``'numpy'`` (no compiler needed, fast to start);
``'cython'`` and ``'cpp_standalone'`` are available for long runs.

``target='cpp_standalone'`` writes the whole simulation as a C++ project, compiles
it and runs the binary (see :func:`standalone_device`). The project goes to a new
temporary directory, removed after the results are read (or to ``directory=``,
kept); the current working directory is never written to. Afterwards the device
that was active before (Brian2's runtime device) is restored, so later numpy,
cython or standalone runs in the same process need no ``reset_device`` or
``device.reinit`` call. A standalone run needs a C++ compiler and ``make``.

Examples
--------
>>> from neuromod.backends.network import simulate
>>> from neuromod.neurons import lif
>>> r = simulate(lif(), 2, 0.05, backend="brian2", inputs={"I_ext": [0.5e-9, 2e-9]})
>>> r.spikes["neurons"].counts.tolist()
[0, 2]
"""
import contextlib
import os
import re
import shutil
import tempfile
import time
from types import MappingProxyType

import numpy as np

from neuromod.backends import ir
from neuromod.backends.equations import parse_statements
from neuromod.backends.network import SimulationResult, n_steps_for
from neuromod.backends.printers import Dialect, print_expr
from neuromod.errors import NeuromodError

__all__ = ["run_brian2", "build_brian2", "standalone_device", "quantity",
           "connectivity_from_brian2", "network_from_brian2_synapses", "propagator_values",
           "propagator_code", "BRIAN2_DIALECT"]

TARGETS = ("numpy", "cython", "cpp_standalone")


def quantity(value, dim: tuple):
    """A Brian2 quantity with SI ``value`` (float or array) and dimension tuple ``dim``."""
    from brian2.units.fundamentalunits import Quantity, get_or_create_dimension
    return Quantity(value, dim=get_or_create_dimension(list(dim)))


def _rename(code, names, suffix):
    """Append ``suffix`` to the identifiers ``names`` in ``code``."""
    if not names:
        return code
    pat = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")
    return pat.sub(lambda m: m.group(1) + suffix, code)


#: How Brian2 spells functions (its abstract code has no min/max: ``clip`` with ``inf``).
BRIAN2_DIALECT = Dialect("brian2", MappingProxyType(
    {"exp": "exp", "expm1": "expm1", "log": "log", "sqrt": "sqrt", "Abs": "abs", "sin": "sin",
     "cos": "cos", "tan": "tan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
     "atan": "arctan"}), "clip({a}, -inf, {b})", "clip({a}, {b}, inf)")


def propagator_code(cm: ir.CompiledModel, program: ir.Program) -> str:
    """Brian2 abstract code of the state update of ``program`` (its ``Propagate``
    operations), the coefficient at layout position ``k`` named ``nmprop_<k>``.

    Brian2 itself holds the ``(unless refractory)`` variables of refractory neurons
    (its conditional write), so a frozen row prints its active form only; a row
    whose refractory variant differs selects with ``not_refractory``.

    Examples
    --------
    >>> from neuromod.backends.ir import compile_model
    >>> from neuromod.neurons import lif
    >>> cm = compile_model(lif())
    >>> print(propagator_code(cm, cm.program(has_inputs=(True,))))
    _v = nmprop_0*v + nmprop_1*I_e + nmprop_2*I_i + nmprop_3 + nmprop_4*I_ext
    _I_e = nmprop_5*I_e
    _I_i = nmprop_6*I_i
    v = _v
    I_e = _I_e
    I_i = _I_i
    """
    names = {n: n for n in cm.names}

    def total(terms):
        out = []
        for t in terms:
            c = f"nmprop_{t.coefficient}"
            op = t.operand
            if isinstance(op, ir.State):
                out.append(f"{c}*{cm.states[op.index]}")
            elif isinstance(op, ir.Input):
                out.append(f"{c}*{cm.inputs[op.index]}")
            elif isinstance(op, ir.One):
                out.append(c)
            else:
                out.append(f"{c}*({print_expr(op.expr, names, BRIAN2_DIALECT)})")
        return " + ".join(out) if out else "0"

    lines = []
    for op in program.advance:
        if isinstance(op, ir.Propagate):
            s = cm.states[op.target]
            if op.refractory is None:
                lines.append(f"_{s} = {total(op.terms)}")
            else:
                lines.append(f"_{s} = int(not_refractory)*({total(op.terms)}) + "
                             f"(1 - int(not_refractory))*({total(op.refractory)})")
        elif isinstance(op, ir.Map):
            lines.append(f"_{cm.states[op.target]} = {print_expr(op.value, names, BRIAN2_DIALECT)}")
        elif not isinstance(op, (ir.Countdown, ir.Commit, ir.Spike)):
            raise NeuromodError(f"the Brian2 propagator updater cannot print {type(op).__name__}")
    lines += [f"{s} = _{s}" for s in cm.states]
    return "\n".join(lines)


def _propagator_updater(pop, vals, dt):
    """Brian2 state updater (a callable returning abstract code) applying neuromod's
    exact propagator, and the coefficient values it needs."""
    cm = ir.compile_model(pop.model)
    code = propagator_code(cm, cm.program(has_inputs=(True,) * len(cm.inputs)))
    coeffs = {f"nmprop_{k}": v
              for k, v in enumerate(propagator_values(pop.model, pop.n, vals, dt))}

    def neuromod_exact(equations, variables=None, method_options=None):
        return code

    return neuromod_exact, coeffs


def propagator_values(model, n: int, vals: dict, dt: float) -> tuple:
    """The exact propagator's coefficients, in the order of the model's
    :class:`~neuromod.backends.ir.Layout` (a tuple of float64 arrays), for parameter
    values ``vals`` (SI, as :meth:`NeuronModel.resolve_parameters` gives) and step ``dt``.

    They are computed by :func:`neuromod.backends.propagator.layout_values`, as on the
    Torch backend, so both backends integrate with the same numbers. When every
    parameter is one value for all neurons, the result is also kept on disk
    (``$NEUROMOD_CACHE/propagator``, keyed by the model, the values, ``dt`` and the
    versions of torch and of the code), so that later runs with the same values do
    not import torch. A cached file is read with ``allow_pickle=False`` and used only
    if it holds exactly one finite float64 scalar per coefficient of the layout
    (``c0``, ``c1``, ...); anything else (corrupt, foreign, planted) is recomputed and
    rewritten.
    """
    import os
    cm = ir.compile_model(model)
    path = None
    if all(np.ndim(v) == 0 for v in vals.values()):
        from neuromod.runtime import cache_folder
        folder = cache_folder("propagator")
        if folder is not None:
            try:
                path = os.path.join(folder, f"{_propagator_key(model, vals, dt)}.npz")
                cached = _read_propagator(path, len(cm.layout))
                if cached is not None:
                    return cached
            except Exception:  # noqa: BLE001 -- missing, stale or broken: compute it
                pass
    import torch

    from neuromod.backends.propagator import layout_values
    f64 = torch.float64
    values = {k: torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=f64)
              for k, v in vals.items()} or {"_": torch.zeros((), dtype=f64)}  # no parameters
    out = tuple(v.detach().cpu().numpy().astype(np.float64)
                for v in layout_values(cm, values, float(dt), f64))
    if path is not None and all(v.ndim == 0 for v in out):
        import tempfile
        try:
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".npz")
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(fh, **{f"c{k}": v for k, v in enumerate(out)})
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except Exception:  # noqa: BLE001 -- e.g. read-only cache: nothing is kept
            pass
    return out


def _read_propagator(path, count):
    """The ``count`` coefficients stored at ``path`` if the file holds exactly
    ``c0 .. c<count-1>``, each a finite float64 scalar, else None."""
    if os.path.getsize(path) > 1024 ** 2:
        return None
    with np.load(path, allow_pickle=False) as z:
        if sorted(z.files) != sorted(f"c{k}" for k in range(count)):
            return None
        out = tuple(z[f"c{k}"] for k in range(count))
    for v in out:
        if v.dtype != np.float64 or v.shape != () or not np.isfinite(v):
            return None
    return out


def _propagator_key(model, vals, dt):
    """Hash of what :func:`propagator_values` depends on (torch's version read from
    its files, without importing it)."""
    import hashlib
    import importlib.util
    import json
    import os
    import platform
    import sys
    h = hashlib.sha1(json.dumps(model.to_dict(), sort_keys=True).encode())
    h.update(json.dumps(sorted((k, float(v).hex()) for k, v in vals.items())).encode())
    h.update(f"{float(dt).hex()} {np.__version__} {platform.machine()} {sys.version_info[:2]}".encode())
    here = os.path.dirname(os.path.abspath(__file__))
    torch_dir = os.path.dirname(importlib.util.find_spec("torch").origin)
    for path in (os.path.join(torch_dir, "version.py"),
                 os.path.join(os.path.dirname(here), "units.py"),
                 *(os.path.join(here, f) for f in ("propagator.py", "ir.py", "printers.py",
                                                   "model.py", "equations.py"))):
        with open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:24]


def brian2_seed(seed: int) -> int:
    """Brian2's (numpy's legacy) seed, ``< 2**32``, for a neuromod seed ``< 2**64``:
    the seed itself when it fits, else 32 bits drawn from it by
    ``numpy.random.SeedSequence`` (deterministic).

    Examples
    --------
    >>> brian2_seed(7)
    7
    >>> 0 <= brian2_seed(2**64 - 1) < 2**32
    True
    """
    from neuromod.limits import check_seed
    seed = check_seed(seed)
    if seed < 2 ** 32:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])


def build_brian2(net, duration: float, dt: float, record: "dict | None" = None,
                 seed: "int | None" = None, target: str = "numpy", integrator: str = "neuromod"):
    """Build the Brian2 objects of a :class:`~neuromod.backends.network.Network`.

    For ``target='cpp_standalone'`` this must happen inside :func:`standalone_device`
    (the objects belong to the standalone device, and ``b2net.run`` compiles and runs
    the project).

    Returns
    -------
    b2net : brian2.Network
    groups : dict of str to brian2 group
    monitors : dict of str to (SpikeMonitor, StateMonitor or None)
    """
    import brian2 as b2
    if target not in TARGETS:
        raise NeuromodError(f"Brian2 target must be one of {TARGETS}, got {target!r}")
    from brian2.devices.device import get_device
    standalone = get_device() is _standalone()
    if target == "cpp_standalone" and not standalone:
        raise NeuromodError("build_brian2(target='cpp_standalone') must be called inside "
                            "`with standalone_device():` (run_brian2 does this)")
    if target != "cpp_standalone":
        if standalone:
            raise NeuromodError(f"target {target!r}: the cpp_standalone device is active")
        b2.prefs.codegen.target = target
    if seed is not None:
        b2.seed(brian2_seed(seed))
    bdt = dt * b2.second
    n_steps = n_steps_for(duration, dt)
    groups, objects, monitors = {}, [], {}
    per_neuron = {}
    noise = net.firing_variates(n_steps, seed)
    for name, pop in net.populations.items():
        m = pop.model
        vals = pop.resolved_params()
        ns, extra = {}, []
        per_neuron[name] = set()
        for k, v in vals.items():
            p = m.parameters[k]
            if np.ndim(v):
                extra.append(f"{k} : {p.unit} (constant)")
                per_neuron[name].add(k)
            else:
                ns[k] = quantity(float(v), p.dim)
        lines = []
        set_inputs = {}
        for e in m.eqs:
            if e.kind == "param" and e.name in m.inputs:
                if e.name in pop.inputs:
                    arr = net.input_array(name, e.name, n_steps)
                    if arr.ndim == 2:
                        ta_name = f"nmta_{name}_{e.name}"
                        ns[ta_name] = b2.TimedArray(quantity(arr, e.dim), dt=bdt)
                        lines.append(f"{e.name} = {ta_name}(t, i) : {e.unit}")
                        continue
                    set_inputs[e.name] = arr
                lines.append(f"{e.name} : {e.unit} (constant)")
            elif m.discrete and e.name in m.states:
                lines.append(f"{e.name} : {e.unit}")    # updated by the map (below)
            else:
                lines.append(e.text())
        eqs = "\n".join(lines + extra)
        method = m.method
        coeff_arrays = {}
        map_code = None
        if m.discrete or (m.method == "exact" and integrator == "neuromod"):
            method, coeffs = _propagator_updater(pop, vals, dt)
            if m.discrete:       # the step program runs as run_regularly; no ODE to integrate
                map_code, method = method(None), "euler"
            for k, v in coeffs.items():
                if v.ndim:
                    extra.append(f"{k} : 1 (constant)")
                    coeff_arrays[k] = v
                else:
                    ns[k] = float(v)
            eqs = "\n".join(lines + extra)
        elif integrator not in ("neuromod", "brian2"):
            raise NeuromodError(f"integrator must be 'neuromod' or 'brian2', got {integrator!r}")
        refr = m.refractory
        if isinstance(refr, str):
            refractory = refr
        else:
            refractory = refr * b2.second
        threshold = m.threshold
        if name in noise:
            threshold = _bernoulli_threshold(name, m, noise[name][:, 0].numpy(), ns, bdt)
        G = b2.NeuronGroup(pop.n, eqs, threshold=threshold, reset=m.reset or None,
                           refractory=refractory, method=method, namespace=ns, dt=bdt,
                           name=f"pop_{name}")
        if map_code is not None:
            # the statements run once per step, after Brian2's refractoriness update and
            # before the threshold; '(unless refractory)' states are held by Brian2's
            # conditional write, for the map and for synaptic additions alike
            for s in m.analysis.refractory_states:
                G.variables[s].set_conditional_write(G.variables["not_refractory"])
            G.run_regularly(map_code, dt=bdt, when="groups", order=1, name=f"map_{name}")
        for k in per_neuron[name]:
            setattr(G, k, quantity(np.asarray(vals[k], dtype=np.float64), m.parameters[k].dim))
        for k, arr in coeff_arrays.items():
            setattr(G, k, arr)
        for k, arr in set_inputs.items():
            setattr(G, k, quantity(arr, m.dim_of(k)))
        init_vals = _initial_values(pop, vals)
        for s, v in init_vals.items():
            setattr(G, s, quantity(v, m.dim_of(s)))
        groups[name] = G
        objects.append(G)
        sm = b2.SpikeMonitor(G, name=f"spikes_{name}") if threshold else None
        stm = None
        if record and record.get(name):
            stm = b2.StateMonitor(G, list(record[name]), record=True, dt=bdt, name=f"state_{name}")
        monitors[name] = (sm, stm)
        objects += [x for x in (sm, stm) if x is not None]
    for name, g in net.generators.items():
        if hasattr(g, "rates"):
            G = b2.PoissonGroup(g.n, rates=quantity(np.broadcast_to(g.rates, (g.n,)).copy(), (0, 0, -1, 0, 0, 0, 0)),
                                dt=bdt, name=f"src_{name}")
        else:
            st = g.spikes
            G = b2.SpikeGeneratorGroup(st.n_trains, st.ids, st.times * b2.second, dt=bdt,
                                       name=f"src_{name}")
        groups[name] = G
        objects.append(G)
    for k, c in enumerate(net.connections):
        tpop = net.populations[c.target]
        m = tpop.model
        port = m.ports[c.port]
        names = set(m.states) | set(m.subexpressions) | set(m.inputs) | per_neuron[c.target]
        on_pre = "\n".join(f"{_rename(t, names, '_post')} {op} {_rename(ex, names, '_post')}"
                           for t, op, ex in parse_statements(port.code))
        pre, post, w, d = c.coo()
        if len(pre) == 0:           # e.g. neighbour coupling of a 1 x 1 map: nothing to build
            continue
        ns = {k2: quantity(float(v), m.parameters[k2].dim)
              for k2, v in tpop.resolved_params().items() if np.ndim(v) == 0}
        S = b2.Synapses(groups[c.source], groups[c.target], model=f"w : {port.unit}",
                        on_pre=on_pre, namespace=ns, dt=bdt, name=f"syn_{k}_{c.source}_{c.target}")
        S.connect(i=pre, j=post)
        S.w = quantity(w, port.dim)
        S.delay = d * b2.second
        objects.append(S)
    b2net = b2.Network(*objects)
    return b2net, groups, monitors


def _bernoulli_threshold(name, model, variates, ns, bdt):
    """The threshold condition of Bernoulli firing, ``r < F(d / sigma)``: the
    variates ``(n_steps, n)`` as a ``TimedArray`` (step ``k`` reads row ``k``), ``F`` a
    Brian2 function with NumPy, Cython and C++ implementations
    (:func:`neuromod.backends.noise.brian2_function`); ``ns`` gains both."""
    import brian2 as b2

    from neuromod.backends.noise import brian2_function
    cm = ir.compile_model(model)
    names = {k: k for k in cm.names}
    fn = f"neuromod_{cm.noise}_cdf"
    ns[fn] = brian2_function(cm.noise, "cdf")
    ta = f"nmrand_{name}"
    ns[ta] = b2.TimedArray(np.ascontiguousarray(variates), dt=bdt)
    d = print_expr(cm.threshold, names, BRIAN2_DIALECT)
    sigma = print_expr(cm.scale, names, BRIAN2_DIALECT)
    return f"{ta}(t, i) < {fn}(({d}) / ({sigma}))"


def _initial_values(pop, vals):
    """Initial state values (SI arrays of length n) from the model's init expressions."""
    m = pop.model
    an = m.analysis
    out = {}
    import sympy as sp
    for s in m.states:
        if s in pop.init:
            from neuromod.units import as_si
            v = as_si(pop.init[s], m.dim_of(s), f"init {s}")
        else:
            expr = an.init[s]
            if expr.is_number:
                v = float(expr)
            else:
                f = sp.lambdify([an.symbols[k] for k in m.parameters], expr, modules="numpy")
                v = f(*[vals[k] for k in m.parameters])
        out[s] = np.broadcast_to(np.asarray(v, dtype=np.float64), (pop.n,)).copy()
    return out


def _standalone():
    """Brian2's C++ standalone device object."""
    from brian2.devices.device import all_devices
    return all_devices["cpp_standalone"]


def _check_toolchain():
    """NeuromodError when ``make`` or the C++ compiler of Brian2's makefile is missing."""
    import shlex
    import sys

    from brian2 import prefs
    if sys.platform == "win32":   # MSVC: nmake and cl come from its environment
        return
    make = prefs.devices.cpp_standalone.make_cmd_unix
    tools = [shlex.split(make)[0] if make.strip() else "make",
             (shlex.split(os.environ.get("CXX", "")) or ["g++"])[0]]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise NeuromodError(f"Brian2 target 'cpp_standalone' needs a C++ compiler and make "
                            f"({', '.join(missing)} not found); use target='numpy', which "
                            f"needs no compiler (or 'cython' once a compiler is installed)")


@contextlib.contextmanager
def standalone_device(directory: "str | None" = None):
    """Activate Brian2's ``cpp_standalone`` device for one build-and-run.

    Inside the block, Brian2 objects belong to the standalone device and the first
    ``Network.run`` generates the C++ project in ``directory``, compiles it and runs
    it (``build_on_run=True``, the binary's output not shown). Read the results
    (monitors, state variables) inside the block: on leaving it the device is
    cleared (``device.reinit()``), the previously active device (normally the
    runtime device) is restored with its options, and a temporary project
    directory is deleted. Each block starts from a cleared device, so several
    blocks in one process each build and run their own project.

    Parameters
    ----------
    directory : str or path, optional
        Where to write and compile the project, kept afterwards (reusing it lets
        ``make`` recompile only the files that changed; two processes must not share
        one). Default: a new temporary directory, removed on leaving the block.

    Raises
    ------
    NeuromodError
        When ``make`` or the C++ compiler is not found (checked before anything is
        built).
    """
    from brian2.core.network import Network as B2Network
    from brian2.devices.device import get_device, reset_device, set_device
    _check_toolchain()
    dev = _standalone()
    if get_device() is dev:
        raise NeuromodError("the cpp_standalone device is already active (set_device "
                            "elsewhere, or nested standalone_device blocks)")
    tmp = None
    if directory is None:
        directory = tmp = tempfile.mkdtemp(prefix="neuromod-brian2-")
    else:
        directory = os.path.abspath(os.fspath(directory))
    try:
        dev.reinit()   # forget any earlier project, or one left by a failed run
        set_device(dev, build_on_run=True, directory=directory, with_output=False)
        try:
            yield dev
        finally:
            try:
                dev.reinit()
            finally:
                reset_device()
                B2Network._globally_running = False   # left set if the binary did not start
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def run_brian2(net, duration, dt, record=None, seed=None, target="numpy", integrator="neuromod",
               directory=None):
    """Simulate a :class:`Network` with Brian2; see :meth:`Network.run`.

    Timing (``SimulationResult.build_s`` and ``run_s``; ``build_s + run_s`` is the wall
    time until the results are available):

    * numpy and cython: ``build_s`` is the time to build the objects plus code
      generation/compilation (measured with a zero-length run); ``run_s`` the time
      of the run itself.
    * cpp_standalone: ``run_s`` is the time of the simulation loop as the compiled
      binary measures it (process CPU time; wall time with OpenMP threads);
      ``build_s`` everything else: building the objects, code generation, compiling
      the project (most of it, tens of seconds; less when ``directory`` holds an
      earlier build of the same network), and the binary's start-up, loading of its
      arrays and writing of its results.

    ``directory`` (cpp_standalone only) keeps the C++ project there instead of in a
    temporary directory; see :func:`standalone_device`.
    """
    if target == "cpp_standalone":
        with standalone_device(directory) as dev:
            return _run(net, duration, dt, record, seed, target, integrator, dev)
    if directory is not None:
        raise NeuromodError("directory= is an option of target='cpp_standalone' only")
    return _run(net, duration, dt, record, seed, target, integrator, None)


class _InterruptsRaise:
    """While active, Ctrl-C during a Brian2 run raises ``KeyboardInterrupt``: Brian2's own
    SIGINT handler would otherwise stop the run early (``core.stop_on_keyboard_interrupt``)
    and the backend would return a truncated simulation as if complete."""

    def __enter__(self):
        from brian2 import prefs
        self.previous = prefs.core.stop_on_keyboard_interrupt
        prefs.core.stop_on_keyboard_interrupt = False
        return self

    def __exit__(self, *exc):
        from brian2 import prefs
        prefs.core.stop_on_keyboard_interrupt = self.previous
        return False


def _run(net, duration, dt, record, seed, target, integrator, dev):
    with _InterruptsRaise():
        return _run_uninterrupted(net, duration, dt, record, seed, target, integrator, dev)


def _run_uninterrupted(net, duration, dt, record, seed, target, integrator, dev):
    import brian2 as b2
    from neuromod.spikes import SpikeTrains
    t0 = time.perf_counter()
    b2net, groups, monitors = build_brian2(net, duration, dt, record, seed, target, integrator)
    if dev is None:
        b2net.run(0 * b2.second, namespace={})   # code generation / compilation
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        b2net.run(duration * b2.second, namespace={})
        run_s = time.perf_counter() - t1
    else:
        dev._last_run_time = None
        try:
            b2net.run(duration * b2.second, namespace={})   # generate, compile, run
        except RuntimeError as exc:
            msg = str(exc).split(". ")[0].rstrip(".")
            raise NeuromodError(f"Brian2 cpp_standalone: {msg} (see the output above); use "
                                f"target='numpy' or target='cython' instead") from exc
        total = time.perf_counter() - t0
        run_s = dev._last_run_time
        if run_s is None:   # no run information written: the binary's wall time
            run_s = dev.timers["run_binary"]
        run_s = min(float(run_s), total)
        build = total - run_s
    spikes, traces = {}, {}
    n_steps = n_steps_for(duration, dt)
    for name, (sm, stm) in monitors.items():
        times = np.asarray(sm.t_[:] if sm is not None else [], dtype=np.float64)
        ids = np.asarray(sm.i[:] if sm is not None else [], dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        # Brian2 stores t = k*dt computed in float; snap to the step grid
        times = np.round(times[order] / dt) * dt
        spikes[name] = SpikeTrains(times, ids[order], t_start=0.0, t_stop=duration,
                                   n_trains=net.populations[name].n)
        if stm is not None:
            traces[name] = {v: np.asarray(getattr(stm, v + "_"), dtype=np.float64)[:, :n_steps]
                            for v in record[name]}
    return SimulationResult(spikes, traces, np.arange(n_steps) * dt, "brian2", dt, duration,
                            build, run_s)


def connectivity_from_brian2(synapses) -> tuple:
    """Weights and delays of a Brian2 ``Synapses`` object as ``scipy.sparse`` CSR
    matrices ``(n_source, n_target)`` in SI units: ``(W, D)``.

    Examples
    --------
    >>> import brian2 as b2
    >>> G = b2.NeuronGroup(2, "v : 1"); S = b2.Synapses(G, G, "w : 1")
    >>> S.connect(i=[0], j=[1]); S.w = 0.5
    >>> net = b2.Network(G, S)
    >>> W, D = connectivity_from_brian2(S)
    >>> W.toarray().tolist()
    [[0.0, 0.5], [0.0, 0.0]]
    """
    import scipy.sparse as sps
    i = np.asarray(synapses.i[:], dtype=np.int64)
    j = np.asarray(synapses.j[:], dtype=np.int64)
    w = np.asarray(synapses.w_[:], dtype=np.float64)
    d = np.asarray(synapses.delay_[:], dtype=np.float64) if hasattr(synapses, "delay") else np.zeros_like(w)
    shape = (int(synapses.source.N), int(synapses.target.N))
    if np.unique(i * shape[1] + j).size != i.size:
        raise NeuromodError("Brian2 synapses with several synapses between one pair cannot be "
                            "written as a weight matrix")
    return sps.csr_matrix((w, (i, j)), shape=shape), sps.csr_matrix((d, (i, j)), shape=shape)


def network_from_brian2_synapses(net, synapses, source: str, target: str, port: str):
    """Add the connectivity of a Brian2 ``Synapses`` object to ``net`` (Brian2 -> Torch).

    The delays are kept per synapse; a zero delay is stored as such.
    """
    W, D = connectivity_from_brian2(synapses)
    pre, post = W.nonzero()
    d = np.asarray(D[pre, post]).ravel()
    return net.connect(source, target, port, W, delays=d)
