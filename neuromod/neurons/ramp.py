"""The input-ramp experiment of ``neuromod simulate`` and ``neuromod sweep``.

``n`` unconnected neurons of a registered model (:data:`neuromod.neurons.MODELS`);
neuron ``i`` receives a constant input (the model's first input, in its unit) rising
linearly from ``I_min`` (default 0.9 x rheobase) to ``I_max`` (default 2 x rheobase),
so the population spans silence to regular firing. The simulation itself is
:func:`neuromod.backends.network.simulate` with the model's own discretisation
(``n_steps = round(duration / dt)`` steps of ``dt`` seconds).

:func:`ramp_setup` parses and checks the ``NAME=VALUE`` settings once (parameters in
Brian2 syntax or SI numbers, string options, ``I_min``/``I_max``); :func:`run_ramp`
runs it. Both raise one-line :class:`~neuromod.errors.NeuromodError` messages that start
with ``--set NAME=VALUE:``.

Examples
--------
>>> r = ramp_setup("lif", [("tau_m", "10*ms")])
>>> r.values["tau_m"], r.I_max / r.I_min
(0.01, 2.2222222222222223)
>>> st, res, currents = run_ramp(r, 3, 0.1, 1e-4, seed=0)
>>> st.n_trains, bool(st.counts[0] == 0 and st.counts[-1] > 0)
(3, True)
"""
from dataclasses import dataclass, field

__all__ = ["Ramp", "ramp_setup", "run_ramp"]


@dataclass(frozen=True)
class Ramp:
    """A checked input-ramp experiment.

    Attributes
    ----------
    name : str
        Model name (a key of :data:`neuromod.neurons.MODELS`).
    model : NeuronModel
        Built with ``options`` and ``values``.
    drive : str
        The input the ramp drives (the model's first input).
    I_min, I_max : float
        Input range, SI units of ``drive``.
    options : dict
        String options of the factory (``noise='logistic'``).
    values : dict
        Parameter values set, SI.
    """
    name: str
    model: object
    drive: str
    I_min: float
    I_max: float
    options: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)

    def currents(self, n):
        """The ``n`` inputs, ``I_min`` to ``I_max`` evenly (``[I_min]`` for one neuron)."""
        import numpy as np
        from neuromod.limits import check_allocation
        check_allocation(8 * n, f"{n} neurons: the input currents")
        return np.linspace(self.I_min, self.I_max, n) if n > 1 else np.array([self.I_min])


def _shown(text):
    return text if len(text) <= 40 else text[:37] + "..."


def ramp_setup(name, sets=()):
    """Check the settings of an input-ramp experiment of model ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`neuromod.neurons.MODELS`.
    sets : sequence of (str, str)
        ``(NAME, VALUE)`` pairs: a model parameter (``tau_m``, ``20*ms`` or an SI
        number), a string option the model declares (``noise``, ``logistic``), or
        ``I_min``/``I_max`` in the unit of the model's input.

    Returns
    -------
    Ramp

    Raises
    ------
    NeuromodError
        Unknown model or parameter, a value of the wrong dimension or outside its
        domain, or a model that fires without input (then ``I_min``/``I_max`` must be
        given).
    """
    from neuromod.errors import NeuromodError
    from neuromod.limits import check_value
    from neuromod.neurons import MODELS, OPTIONS, rheobase
    from neuromod.units import as_si

    if name not in MODELS:
        raise NeuromodError(f"unknown model {name!r}; known: {', '.join(MODELS)}, tempotron")
    choices = OPTIONS.get(name, {})
    options = {}
    for key, text in sets:
        if key in choices:
            if text not in choices[key]:
                raise NeuromodError(f"--set {key}={_shown(text)}: must be one of "
                                    f"{', '.join(choices[key])}")
            options[key] = text
    model = MODELS[name](**options)
    drive = model.inputs[0]
    unit = model.dim_of(drive)            # I_min, I_max are in the unit of the model's input
    values, I_min, I_max = {}, None, None
    for key, text in sets:
        if key in choices:
            continue
        try:
            if key in ("I_min", "I_max"):
                v = check_value(key, as_si(text, unit, key), "finite")
                I_min, I_max = (v, I_max) if key == "I_min" else (I_min, v)
            elif key in model.parameters:
                p = model.parameters[key]    # parsed, dimension- and domain-checked
                values[key] = p.check(as_si(text, p.dim, key), model.name)
            else:
                raise NeuromodError(f"model {name!r} has no parameter {key!r}; it has "
                                    f"{', '.join([*choices, *model.parameters])}, I_min, I_max")
        except NeuromodError as exc:
            raise type(exc)(f"--set {key}={_shown(text)}: {exc}") from None
    try:
        model = model.with_parameters(**values)   # relations between parameters, at once
    except NeuromodError as exc:
        raise type(exc)(f"--set: {exc}") from None
    if I_min is None or I_max is None:
        if "rheobase" not in model.derived:
            raise NeuromodError(f"model {name!r} has no rheobase to set the input range "
                                "from; give --set I_min=... I_max=...")
        rb = rheobase(model)
        if not rb > 0:
            raise NeuromodError(f"model {name!r} fires without input with these "
                                "parameters; give --set I_min=... I_max=...")
        I_min = 0.9 * rb if I_min is None else I_min
        I_max = 2.0 * rb if I_max is None else I_max
    return Ramp(name, model, drive, float(I_min), float(I_max), options, values)


def run_ramp(ramp, n, duration, dt=1e-4, backend="torch", seed=None, target="numpy"):
    """Simulate ``n`` neurons of ``ramp`` for ``duration`` seconds at step ``dt``.

    Parameters
    ----------
    ramp : Ramp
    n : int
        Neurons.
    duration, dt : float
        Seconds; ``dt < duration``.
    backend : {'torch', 'brian2'}
    seed : int, optional
    target : {'numpy', 'cython', 'cpp_standalone'}
        Brian2's code-generation target (the Brian2 backend only).

    Returns
    -------
    spikes : SpikeTrains
        One train per neuron.
    result : SimulationResult
        With ``t``, ``build_s``, ``run_s``.
    currents : ndarray
        The inputs, SI units of ``ramp.drive``.
    """
    from neuromod.backends.network import simulate
    from neuromod.errors import NeuromodError
    if dt >= duration:
        raise NeuromodError(f"--dt ({dt:g} s) must be smaller than --duration ({duration:g} s)")
    currents = ramp.currents(n)
    options = {"target": target} if backend == "brian2" else {}
    res = simulate(ramp.model, n, duration, dt, backend=backend,
                   inputs={ramp.drive: currents}, seed=seed, **options)
    return res.spikes["neurons"], res, currents
