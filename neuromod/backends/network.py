"""Backend-neutral network description: populations, input sources, connections.

A :class:`Network` holds populations of one :class:`NeuronModel` each, input
sources (Poisson groups, spike-time generators), time-varying or constant input
currents, and connections built from weight matrices (dense ``numpy`` arrays or
``scipy.sparse`` matrices) with delays. :meth:`Network.run` simulates it on either
backend and returns a :class:`SimulationResult` (spikes as
:class:`~neuromod.spikes.SpikeTrains`, chosen state traces as arrays).

Input conventions (identical on both backends):

* a constant input is a scalar or one value per neuron ``(n,)``;
* a time-varying input is an array ``(n_steps, n)``; row ``k`` is held over
  step ``k``, ``[k dt, (k+1) dt)`` -- the Brian2 backend uses a ``TimedArray``
  with the simulation ``dt``. Pre-drawn noise is given this way, so both
  backends see the same samples (Brian2's ``xi`` is not used);
* a spike of a source at step ``k`` with delay ``d`` (rounded to steps,
  ``round(d/dt)`` as Brian2 does) acts on its targets' ports in the synaptic
  propagation phase of step ``k + d``.

Validation (both backends, before anything is built): parameter values lie in
their declared domains (:meth:`NeuronModel.resolve_parameters`); inputs, initial
values, rates, weights and delays are finite (rates and delays ``>= 0``);
``duration`` and ``dt`` are positive and give ``1 <= duration/dt <=``
:data:`MAX_STEPS` steps, counted in Python integers; ``seed`` is ``0 <= seed <
2**64`` (:func:`neuromod.limits.check_seed`); and what the run allocates (state
arrays, recorded traces, delay buffers, spike tables; :func:`run_bytes`) is
checked against ``NEUROMOD_MEMORY_LIMIT`` (:func:`neuromod.limits.check_allocation`).
Each failure is a one-line :class:`~neuromod.errors.NeuromodError`.

Examples
--------
>>> import numpy as np
>>> from neuromod.neurons import lif
>>> net = Network()
>>> pop = net.add_population("exc", lif(), 2, inputs={"I_ext": [0.5e-9, 2e-9]})
>>> res = net.run(0.05, dt=1e-4, backend="torch")
>>> res.spikes["exc"].counts.tolist()
[0, 2]
"""
import math
from dataclasses import dataclass, field

import numpy as np

from neuromod.backends import registry
from neuromod.backends.coupling import check_kernel, kernel_synapses
from neuromod.backends.model import NeuronModel, check_parameter
from neuromod.errors import NeuromodError, ParameterError
from neuromod.limits import check_allocation, check_int, check_seed, check_value
from neuromod.units import as_si, to_seconds

__all__ = ["Network", "Population", "PoissonSource", "SpikeSource", "Connection",
           "ConvConnection", "SimulationResult", "simulate", "n_steps_for", "run_bytes",
           "connection_bytes", "MAX_STEPS"]

#: Most time steps one run may take (step counters are 32-bit in the kernels).
MAX_STEPS = 2 ** 31 - 1
#: Options each backend's run accepts (see :meth:`Network.run`).


def n_steps_for(duration, dt):
    """Number of steps Brian2 takes for ``duration``: ``floor((duration + 1e-3 dt)/dt)``,
    a Python int (exact for any size).

    Raises
    ------
    ParameterError
        When the ratio is not finite (``dt`` of 0, infinite duration).

    Examples
    --------
    >>> n_steps_for(0.1, 1e-4)
    1000
    """
    try:
        q = (float(duration) + 1e-3 * float(dt)) / float(dt)
    except ZeroDivisionError:
        q = math.inf
    if not math.isfinite(q):
        raise ParameterError(f"duration/dt = {duration:g} s / {dt:g} s is not a finite "
                             "number of steps")
    return math.floor(q)


def _finite(what, value, spec="finite"):
    """``value`` as float64 (array or scalar) if every element lies in ``spec``."""
    return check_parameter(what, value, spec)


@dataclass
class Population:
    """``n`` neurons of one model; ``params`` and ``init`` override the model's
    defaults (scalars or ``(n,)`` arrays); ``inputs`` drive its input variables."""
    name: str
    model: NeuronModel
    n: int
    params: dict = field(default_factory=dict)
    init: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)

    def resolved_params(self):
        """Parameter values in SI (float or ``(n,)`` array per name)."""
        return self.model.resolve_parameters(self.n, self.params)


@dataclass
class PoissonSource:
    """``n`` independent Poisson spike sources with ``rates`` (Hz, scalar or ``(n,)``).

    Per step a source spikes with probability ``rate * dt`` (Brian2's
    ``PoissonGroup``)."""
    name: str
    n: int
    rates: object


@dataclass
class SpikeSource:
    """Spike-time generator: train ``i`` of ``spikes`` is source ``i``. A spike at
    time ``t`` is emitted at step ``floor((t + 1e-3 dt)/dt)`` (Brian2's
    ``SpikeGeneratorGroup``)."""
    name: str
    spikes: object  # SpikeTrains

    @property
    def n(self):
        return self.spikes.n_trains


@dataclass
class Connection:
    """Synapses from ``source`` to ``target``'s ``port``.

    ``weights`` is ``(n_source, n_target)``: dense (zeros are absent synapses)
    or ``scipy.sparse``; its unit is the port's weight unit. ``delays`` is a scalar
    or per-synapse values (dense ``(n_source, n_target)`` or sparse with the
    pattern of ``weights``), in seconds.
    """
    source: str
    target: str
    port: str
    weights: object
    delays: object = 0.0
    name: str = ""

    def coo(self):
        """``(pre, post, w, delay_s)`` arrays of the existing synapses (row-major order)."""
        W = self.weights
        if hasattr(W, "tocoo"):
            C = W.tocsr()
            C.sort_indices()
            C = C.tocoo()
            pre, post, w = C.row.astype(np.int64), C.col.astype(np.int64), C.data.astype(np.float64)
            D = self.delays
            if hasattr(D, "tocsr"):
                Dc = D.tocsr()
                d = np.asarray(Dc[pre, post]).ravel().astype(np.float64)
            elif np.ndim(D) == 0:
                d = np.full(pre.size, float(D))
            else:
                d = np.asarray(D, dtype=np.float64).ravel()
                if d.size != pre.size:
                    raise NeuromodError(f"connection {self.name}: {d.size} delays for {pre.size} synapses")
        else:
            W = np.asarray(W, dtype=np.float64)
            pre, post = np.nonzero(W)
            w = W[pre, post]
            D = self.delays
            d = np.full(pre.size, float(D)) if np.ndim(D) == 0 else np.asarray(D, dtype=np.float64)[pre, post]
        return pre.astype(np.int64), post.astype(np.int64), w, d


@dataclass
class ConvConnection:
    """Shared-kernel coupling from ``source`` to ``target``'s ``port``: both are laid
    out as maps of ``shape = (H, W)`` neurons (``C_in`` and ``C_out`` of them), and
    ``kernel`` ``(C_out, C_in, k, k)`` (the port's weight unit) couples every position
    to its neighbourhood (:mod:`neuromod.backends.coupling`). One delay (seconds) for
    every synapse. The Torch backend runs it as ``conv2d`` (the kernel trainable), the
    Brian2 backend as the synapses generated from the kernel."""
    source: str
    target: str
    port: str
    kernel: np.ndarray
    shape: tuple
    boundary: str = "zero"
    delays: float = 0.0
    name: str = ""

    @property
    def n_synapses(self):
        """The number of synapses the kernel generates (at most)."""
        return int(np.count_nonzero(self.kernel)) * int(self.shape[0]) * int(self.shape[1])

    def coo(self):
        """``(pre, post, w, delay_s)`` arrays of the generated synapses (row-major order)."""
        pre, post, w = kernel_synapses(self.kernel, self.shape, self.boundary)
        order = np.lexsort((post, pre))
        return pre[order], post[order], w[order], np.full(pre.size, float(self.delays))


@dataclass
class SimulationResult:
    """What a run returns.

    Attributes
    ----------
    spikes : dict of str to SpikeTrains
        One container per population, window ``[0, duration]``, spike times ``k dt``.
    traces : dict of str to dict of str to ndarray
        ``traces[pop][var]`` has shape ``(n, n_steps)``: column ``k`` is the value
        at ``t = k dt``, at the start of step ``k`` (Brian2's ``StateMonitor``).
    t : ndarray
        Sample times ``k dt`` (seconds).
    backend : str
    dt, duration : float
    build_s, run_s : float
        Wall time to build (code generation) and to run, seconds.
    """
    spikes: dict
    traces: dict
    t: np.ndarray
    backend: str
    dt: float
    duration: float
    build_s: float = 0.0
    run_s: float = 0.0


class Network:
    """A network description both backends can run.

    Examples
    --------
    >>> from neuromod.neurons import lif
    >>> net = Network()
    >>> _ = net.add_poisson("input", 10, rates=50.0)
    >>> _ = net.add_population("out", lif(), 3)
    >>> _ = net.connect("input", "out", "e", np.full((10, 3), 0.5e-9), delays=1e-3)
    >>> sorted(net.sources())
    ['input', 'out']
    """

    def __init__(self):
        self.populations = {}
        self.generators = {}
        self.connections = []

    # ---------------------------------------------------------------- building
    def _check_name(self, name):
        if not str(name).isidentifier():
            raise NeuromodError(f"network object name {name!r} must be an identifier")
        if name in self.populations or name in self.generators:
            raise NeuromodError(f"network already has an object named {name!r}")

    def add_population(self, name, model, n, params=None, init=None, inputs=None):
        """Add ``n`` neurons of ``model``; returns the :class:`Population`.

        Parameter overrides are checked against their domains, initial values and
        inputs must be finite (one-line :class:`~neuromod.errors.ParameterError`
        naming the population, the input and the first bad element)."""
        self._check_name(name)
        n = check_int(f"population {name!r}: n", n, 1)
        pop = Population(name, model, n, dict(params or {}), dict(init or {}),
                         dict(inputs or {}))
        model.resolve_parameters(pop.n, pop.params)  # validates names, units, shapes, domains
        for k in pop.inputs:
            if k not in model.inputs:
                raise NeuromodError(f"population {name!r}: model {model.name!r} has no input {k!r}; "
                                    f"it has {', '.join(model.inputs) or 'none'}")
            _finite(f"population {name!r}: input {k}",
                    as_si(pop.inputs[k], model.dim_of(k), f"{name}.{k}"))
        for k, v in pop.init.items():
            if k not in model.states:
                raise NeuromodError(f"population {name!r}: initial value for {k!r}, not a "
                                    f"state variable of model {model.name!r}")
            v = _finite(f"population {name!r}: initial {k}", as_si(v, model.dim_of(k), f"init {k}"))
            if np.ndim(v) and np.shape(v) != (n,):
                raise NeuromodError(f"population {name!r}: initial {k} has shape {np.shape(v)}; "
                                    f"expected () or ({n},)")
        self.populations[name] = pop
        return pop

    def add_poisson(self, name, n, rates):
        """Add ``n`` Poisson sources firing at ``rates`` (Hz, finite, ``>= 0``)."""
        self._check_name(name)
        n = check_int(f"poisson {name!r}: n", n, 1)
        rates = as_si(rates, (0, 0, -1, 0, 0, 0, 0), "rates")
        if np.ndim(rates) and np.shape(rates) != (n,):
            raise NeuromodError(f"poisson {name!r}: {np.size(rates)} rates for {n} sources")
        g = PoissonSource(name, n, _finite(f"poisson {name!r}: rates", rates, "non_negative"))
        self.generators[name] = g
        return g

    def add_spike_source(self, name, spikes):
        """Add a spike-time generator playing ``spikes`` (a :class:`SpikeTrains`,
        or a list of spike-time arrays in seconds)."""
        from neuromod.spikes import as_spike_trains
        self._check_name(name)
        g = SpikeSource(name, as_spike_trains(spikes) if not hasattr(spikes, "offsets") else spikes)
        self.generators[name] = g
        return g

    def connect(self, source, target, port, weights, delays=0.0, name=None):
        """Connect ``source`` to ``target``'s ``port`` with ``weights`` (n_source x n_target)."""
        tpop = self._endpoints("connect", source, target, port)
        n_pre = self.size(source)
        port_dim = tpop.model.ports[port].dim
        if hasattr(weights, "tocoo"):
            W = weights.tocsr().astype(np.float64)
        else:
            W = np.asarray(as_si(weights, port_dim, "weights"), dtype=np.float64)
        if W.shape != (n_pre, tpop.n):
            raise NeuromodError(f"connect {source}->{target}: weights shape {W.shape}, "
                                f"expected ({n_pre}, {tpop.n})")
        _finite(f"connect {source}->{target}: weights", W.data if hasattr(W, "nnz") else W)
        if hasattr(delays, "tocoo"):
            D = delays.tocsr().astype(np.float64)
        else:
            D = as_si(delays, (0, 0, 1, 0, 0, 0, 0), "delays")
            if np.ndim(D) and np.shape(D) != W.shape and np.size(D) != (W.nnz if hasattr(W, "nnz") else -1):
                raise NeuromodError(f"connect {source}->{target}: delays shape {np.shape(D)} "
                                    f"does not match weights {W.shape}")
        _finite(f"connect {source}->{target}: delays", D.data if hasattr(D, "nnz") else D,
                "non_negative")
        c = Connection(source, target, port, W, D, name or f"{source}_to_{target}_{port}")
        self.connections.append(c)
        return c

    def _endpoints(self, what, source, target, port):
        """The target population of a connection, its ends checked (one-line errors)."""
        if source not in self.populations and source not in self.generators:
            raise NeuromodError(f"{what}: unknown source {source!r}")
        if target not in self.populations:
            raise NeuromodError(f"{what}: unknown target population {target!r}")
        tpop = self.populations[target]
        if port not in tpop.model.ports:
            raise NeuromodError(f"{what}: model {tpop.model.name!r} has no port {port!r}; "
                                f"it has {', '.join(tpop.model.ports)}")
        return tpop

    def connect_conv(self, source, target, port, kernel, shape, boundary="zero", delays=0.0,
                     name=None):
        """Couple ``source`` to ``target``'s ``port`` by a shared kernel over 2-D maps.

        Parameters
        ----------
        source, target : str
            ``C_in * H * W`` and ``C_out * H * W`` neurons, index ``c*H*W + y*W + x``.
        port : str
        kernel : array_like, shape (C_out, C_in, k, k)
            Weights in the port's unit (odd ``k``; stride 1, same padding).
        shape : (int, int)
            ``(H, W)`` of every map.
        boundary : {"zero", "circular"}
        delays : float or quantity
            One delay for every synapse (seconds).

        Returns
        -------
        ConvConnection

        Examples
        --------
        >>> import numpy as np
        >>> from neuromod.neurons import lif
        >>> net = Network()
        >>> _ = net.add_population("map", lif(), 16)
        >>> K = np.full((1, 1, 3, 3), 1e-10); K[0, 0, 1, 1] = 0.0
        >>> c = net.connect_conv("map", "map", "e", K, (4, 4), boundary="circular")
        >>> c.n_synapses
        128
        """
        tpop = self._endpoints("connect_conv", source, target, port)
        K = np.asarray(as_si(kernel, tpop.model.ports[port].dim, "kernel"), dtype=np.float64)
        geo = check_kernel(K, shape, boundary)
        if self.size(source) != geo.n_pre or tpop.n != geo.n_post:
            raise NeuromodError(
                f"connect_conv {source}->{target}: a ({geo.c_out}, {geo.c_in}, {geo.k}, {geo.k}) "
                f"kernel on {geo.shape[0]} x {geo.shape[1]} maps needs {geo.n_pre} source and "
                f"{geo.n_post} target neurons, not {self.size(source)} and {tpop.n}")
        D = as_si(delays, (0, 0, 1, 0, 0, 0, 0), "delays")
        if np.ndim(D):
            raise NeuromodError(f"connect_conv {source}->{target}: one delay for every "
                                "synapse (a number)")
        _finite(f"connect_conv {source}->{target}: delays", D, "non_negative")
        c = ConvConnection(source, target, port, K, geo.shape, geo.boundary, float(D),
                           name or f"{source}_to_{target}_{port}")
        self.connections.append(c)
        return c

    def size(self, name):
        if name in self.populations:
            return self.populations[name].n
        return self.generators[name].n

    def sources(self):
        return list(self.generators) + list(self.populations)

    # ---------------------------------------------------------------- running
    def run(self, duration, dt=1e-4, backend="torch", record=None, seed=None, **options):
        """Simulate for ``duration`` seconds with time step ``dt``.

        Parameters
        ----------
        duration, dt : float or quantity
            Seconds.
        backend : {'torch', 'brian2'}
        record : dict of str to sequence of str, optional
            State variables to record per population, e.g. ``{'exc': ['v']}``.
        seed : int, optional
            Seeds the random sources (Poisson groups) of the backend;
            ``0 <= seed < 2**64``.
        **options
            Backend options: ``target`` ('numpy', 'cython', 'cpp_standalone'),
            ``integrator`` ('neuromod', 'brian2') and, for cpp_standalone,
            ``directory`` (where to build the C++ project, kept; default a
            temporary directory, removed) for Brian2 (see
            :func:`~neuromod.backends.brian2_backend.run_brian2`); ``dtype``,
            ``device`` and ``fused`` (CPU kernels, default True) for Torch.

        Returns
        -------
        SimulationResult

        Raises
        ------
        NeuromodError
            (one line) for a bad duration, ``dt``, step count or seed, or when the
            run would allocate more than ``NEUROMOD_MEMORY_LIMIT`` (see the module
            docstring); checked before anything is built.
        """
        duration = check_value("duration", to_seconds(duration, "duration"), "positive")
        dt = check_value("dt", to_seconds(dt, "dt"), "positive")
        seed = check_seed(seed)
        n_steps = n_steps_for(duration, dt)
        if n_steps < 1:
            raise ParameterError(f"duration {duration:g} s is shorter than one step "
                                 f"(dt = {dt:g} s)")
        if n_steps > MAX_STEPS:
            raise ParameterError(f"duration/dt = {duration:g} s / {dt:g} s = {n_steps} steps; "
                                 f"a run takes at most {MAX_STEPS}")
        record = check_record(record)
        for pop, vars_ in record.items():
            if pop not in self.populations:
                raise NeuromodError(f"record: unknown population {pop!r}")
            m = self.populations[pop].model
            for v in vars_:
                if v not in m.states and v not in m.subexpressions:
                    raise NeuromodError(f"record: model {m.name!r} has no variable {v!r}")
        n_neurons = sum(p.n for p in self.populations.values())
        check_allocation(run_bytes(self, n_steps, dt, record),
                         f"simulate ({n_neurons} neurons, {n_steps} steps)")
        chosen = registry.backend(backend)
        chosen.check_options(options)
        return chosen.runner()(self, duration, dt, record, seed, **options)

    def firing_variates(self, n_steps, seed=None, batch=1, device=None):
        """The uniform variates of the populations with Bernoulli firing, name ->
        ``(n_steps, batch, n)`` float64 tensor, one protocol for every backend.

        Drawn population by population (in the order they were added) by
        :func:`neuromod.backends.noise.variates` from one ``torch.Generator`` of their
        own, seeded from ``seed`` through ``numpy.random.SeedSequence([seed, 1])`` (a
        stream independent of the one the Poisson sources draw from); a
        ``torch.Generator`` is used as it is; no seed: a fresh random stream. Each
        backend gives the same spikes for the same seed.
        """
        noisy = [(k, p.n) for k, p in self.populations.items() if p.model.firing is not None]
        if not noisy:
            return {}
        import torch

        from neuromod.backends.noise import variates
        check_allocation(8 * n_steps * batch * sum(n for _, n in noisy),
                         f"firing variates ({n_steps} steps)")
        if isinstance(seed, torch.Generator):
            gen = seed
        else:
            gen = torch.Generator(device=device or "cpu")
            if seed is None:
                gen.seed()
            else:
                state = np.random.SeedSequence([int(seed), 1]).generate_state(1, np.uint64)
                gen.manual_seed(int(state[0]))
        return {k: variates((n_steps, batch, n), gen, device) for k, n in noisy}

    def input_array(self, pop, var, n_steps):
        """The input ``var`` of ``pop`` as ``(n,)`` constant or ``(n_steps, n)`` array (SI)."""
        p = self.populations[pop]
        val = as_si(p.inputs[var], p.model.dim_of(var), f"{pop}.{var}")
        arr = np.asarray(val, dtype=np.float64)
        if arr.ndim == 0:
            return np.full(p.n, float(arr))
        if arr.shape == (p.n,):
            return arr
        if arr.ndim == 2 and arr.shape[1] == p.n:
            if arr.shape[0] < n_steps:
                raise NeuromodError(f"input {pop}.{var}: {arr.shape[0]} steps given, "
                                    f"the run needs {n_steps}")
            return arr[:n_steps]
        raise NeuromodError(f"input {pop}.{var}: shape {arr.shape}; expected (), ({p.n},) "
                            f"or (n_steps, {p.n})")


def spike_table(st, dt, n_steps):
    """Per-step spike table ``(n_steps, n)`` (bool) of a SpikeTrains source, binned as
    Brian2 bins a ``SpikeGeneratorGroup`` (step ``floor(t / dt)``, one spike per step).

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> spike_table(SpikeTrains.from_list([[0.00025], []], t_stop=0.001), 1e-4, 4)[:, 0].tolist()
    [False, False, True, False]
    """
    k = np.floor((st.times + 1e-3 * dt) / dt).astype(np.int64)
    keep = k < n_steps
    k, ids = k[keep], st.ids[keep]
    counts = np.zeros((n_steps, st.n_trains), dtype=np.int64)
    np.add.at(counts, (k, ids), 1)
    if counts.size and counts.max() > 1:
        t, i = np.argwhere(counts > 1)[0]
        raise NeuromodError(f"spike source: train {i} has {counts[t, i]} spikes in time step {t} "
                            f"(dt = {dt:g} s); Brian2 allows one per step")
    return counts > 0


def check_record(record):
    """``record`` as ``{population: [variable, ...]}``: a dict whose values are a
    variable name or a sequence of names (one-line ParameterError otherwise).

    Examples
    --------
    >>> check_record({"exc": "v"})
    {'exc': ['v']}
    >>> check_record("v")
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: record must map populations to variables, e.g. {'exc': ['v']}; got 'v'
    """
    if record is None:
        return {}
    if not isinstance(record, dict):
        raise ParameterError("record must map populations to variables, e.g. "
                             f"{{'exc': ['v']}}; got {record!r}")
    out = {}
    for pop, names in record.items():
        names = [names] if isinstance(names, str) else names
        try:
            names = list(names)
        except TypeError:
            raise ParameterError(f"record[{pop!r}] must be a variable name or a list of "
                                 f"names, got {names!r}") from None
        if not all(isinstance(v, str) for v in names):
            raise ParameterError(f"record[{pop!r}] must list variable names, got {names!r}")
        out[pop] = names
    return out


def run_bytes(net, n_steps, dt, record=None, synapse_bytes=None):
    """About the bytes a run of ``net`` for ``n_steps`` steps allocates, estimated
    from sizes alone (Python ints, no overflow) before anything is allocated.

    Per population of ``n`` neurons with ``m`` states: ``8 n (3 m + 2 m^2 +
    n_parameters + 2 n_inputs + n_ports + 6)`` for state, parameter and
    propagator arrays; ``8 n n_steps`` per recorded variable and per time-varying
    input (held as a copy); ``8 n (d_max + 1)`` per port ring buffer of delayed
    spikes (``d_max`` the largest delay in steps); ``8 n n_steps`` per spike-time
    source (its per-step table). Recorded spikes are not counted (their number is
    not known in advance). ``synapse_bytes``, when given, is :func:`connection_bytes`
    computed earlier for the same network and ``dt``.

    Examples
    --------
    >>> from neuromod.neurons import lif
    >>> net = Network()
    >>> _ = net.add_population("p", lif(), 10_000_000_000)
    >>> run_bytes(net, 1000, 1e-4) // 2**30      # GiB
    3352
    """
    record = record or {}
    total = 0
    for name, pop in net.populations.items():
        m, n = pop.model, int(pop.n)
        k = len(m.states)
        per = 3 * k + 2 * k * k + len(m.parameters) + 2 * len(m.inputs) + len(m.ports) + 6
        total += 8 * n * per
        total += 8 * n * int(n_steps) * len(record.get(name, ()))
        total += sum(8 * n * int(n_steps) for v in pop.inputs.values() if np.ndim(v) == 2)
    for name, g in net.generators.items():
        total += 8 * int(g.n) * (int(n_steps) if isinstance(g, SpikeSource) else 4)
    return total + (connection_bytes(net, dt) if synapse_bytes is None else synapse_bytes)


def connection_bytes(net, dt):
    """The part of :func:`run_bytes` that the connections take (ring buffers of delayed
    spikes, per-synapse arrays); it does not depend on the run's length, so a module
    that runs the same network many times (a training loop) computes it once.

    Examples
    --------
    >>> import numpy as np
    >>> from neuromod.neurons import lif
    >>> net = Network()
    >>> _ = net.add_population("p", lif(), 2)
    >>> _ = net.connect("p", "p", "e", np.full((2, 2), 1e-10), delays=2e-4)
    >>> connection_bytes(net, 1e-4)          # 2 x 3 ring-buffer slots, 4 synapses
    144
    """
    total = 0
    for c in net.connections:
        D = c.delays
        d = D.data if hasattr(D, "nnz") else np.asarray(D, dtype=np.float64)
        d_max = float(np.max(d)) if np.size(d) else 0.0
        steps = math.floor(d_max / dt + 0.5)
        n_post = int(net.populations[c.target].n)
        if isinstance(c, ConvConnection):
            n_syn = c.n_synapses
        elif hasattr(c.weights, "nnz"):
            n_syn = int(c.weights.nnz)
        else:
            n_syn = int(np.count_nonzero(c.weights))
        total += 8 * n_post * (steps + 1) + 24 * n_syn
    return total


def simulate(model, n, duration, dt=1e-4, backend="torch", params=None, inputs=None,
             init=None, record=None, seed=None, **options):
    """Simulate ``n`` unconnected neurons of ``model`` (a one-population network).

    Parameters
    ----------
    model : NeuronModel
    n : int
    duration, dt : float or quantity
        Seconds.
    backend : {'torch', 'brian2'}
    params, init, inputs : dict, optional
        Per-population overrides (see :class:`Population`).
    record : sequence of str, optional
        State variables to record.

    Returns
    -------
    SimulationResult
        With population name ``'neurons'``.

    Examples
    --------
    >>> from neuromod.neurons import lif
    >>> r = simulate(lif(), 1, 0.1, inputs={"I_ext": 2e-9}, record=["v"])
    >>> r.traces["neurons"]["v"].shape
    (1, 1000)
    """
    net = Network()
    net.add_population("neurons", model, n, params=params, init=init, inputs=inputs)
    return net.run(duration, dt, backend=backend,
                   record={"neurons": list(record)} if record else None, seed=seed, **options)
