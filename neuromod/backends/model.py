"""The model definition shared by both backends: equations written once.

A :class:`NeuronModel` holds, in one place, everything both backends need:

* state variables and their differential equations, subexpressions and input
  variables -- in Brian2's equation syntax, parsed once (:mod:`.equations`);
* parameters with physical units and defaults (:class:`Parameter`);
* the threshold condition, the reset statements and the refractory period;
* synaptic *ports*: the ``on_pre`` statement a presynaptic spike executes on
  the neuron (``I_e += w`` for a current-based synapse, ``g_e += w`` for a
  conductance-based one), linear in the weight ``w``;
* initial values and the integration method.

The Brian2 backend hands the equation text to ``brian2.NeuronGroup`` verbatim; the
Torch backend derives its update from the sympy form of the same text
(:func:`analyse`). Nothing is written twice.

Integration methods (identical on both backends, see ``docs/backends.md``):

``'exact'``
    For linear equations ``dx/dt = A x + c(inputs)`` with ``A`` built from
    parameters only: the zero-order-hold solution ``x(t+dt) = e^{A dt} x(t) +
    (int_0^dt e^{A s} ds) c``, inputs held constant over the step. For a single
    leaky variable this is ``x <- x exp(-dt/tau) + (1 - exp(-dt/tau)) tau c``.
    Brian2's ``method='exact'`` computes the same solution symbolically.
``'exponential_euler'``
    Each variable is treated as linear in itself, ``dx/dt = a x + b``, with ``a``
    and ``b`` evaluated at the start of the step: ``x <- x e^{a dt} + b (e^{a dt} - 1)/a``.
``'euler'``
    ``x <- x + dt f(x)``.
``'map'``
    A discrete-time model: the ``updates`` statements are the step (``v = beta*v +
    I``), executed once per step of length ``dt`` in the order written, each reading
    the values the statements before it left (Brian2's abstract-code semantics).
    Their composition is the map ``x <- f(x, u)``; when ``f`` is affine in the states
    and inputs with parameter-only coefficients it runs as ``x <- E x + K + G u``
    on every path, the fused kernels included. State variables are declared like
    inputs (``v : 1 (unless refractory)``); there are no differential equations.

Examples
--------
>>> m = NeuronModel("leaky", '''
... dv/dt = (I - v)/tau : volt (unless refractory)
... I : volt
... ''', parameters={"tau": "10*ms", "v_th": "1*mV"}, threshold="v > v_th",
...     reset="v = 0*mV", inputs=("I",), domains={"tau": "positive"})
>>> m.parameters["tau"].value
0.01
>>> m.with_parameters(tau="0*ms")
Traceback (most recent call last):
...
neuromod.errors.ParameterError: model 'leaky': tau = 0 must be > 0 (positive)

Parameter domains
-----------------
Each parameter declares the range of values that make sense for it
(:attr:`Parameter.domain`: a name of :data:`neuromod.limits.DOMAINS` --
``'positive'``, ``'non_negative'``, ``'finite'``, ``'unit_interval'``, ``'any'`` --
or an inclusive ``(low, high)`` pair), given by the ``domains`` argument of
:class:`NeuronModel`; an undeclared parameter is ``'finite'`` (never NaN or
infinite). Defaults are checked when the model is built, new values by
:meth:`NeuronModel.with_parameters` and per-population overrides by
:meth:`NeuronModel.resolve_parameters` -- the path both backends take -- so a
nonsense value is a one-line :class:`~neuromod.errors.ParameterError` before any
simulation. Relations between two parameters that the equations need (``tau_e >
tau_r_e`` for a difference-of-exponentials kernel) are declared as ``constraints``
and checked at the same places. Domains and constraints are saved with the model
(:data:`FORMAT_VERSION` 2).
"""
import copy
import math
from dataclasses import dataclass

import numpy as np

from neuromod.units import (DIMENSIONLESS, UNITS, as_si, format_quantity, parse_quantity,
                            parse_unit, unit_name)
from neuromod.backends.equations import (ModelDefinitionError, identifiers, parse_condition,
                                         parse_equations, parse_statements)
from neuromod.errors import ParameterError, UnitError
from neuromod.limits import DOMAINS, Domain, domain as _domain

__all__ = ["NeuronModel", "Parameter", "Port", "analyse", "METHODS", "FORMAT_VERSION",
           "check_parameter"]

METHODS = ("exact", "exponential_euler", "euler", "map")
#: Version of the JSON form written by :meth:`NeuronModel.to_dict`. 1: first release;
#: 2: each parameter records its ``domain`` (absent in version 1: ``'finite'``);
#: 3: discrete-time ``updates`` and the ``firing`` rule (absent before: a
#: continuous-time model firing by its Heaviside threshold).
FORMAT_VERSION = 3
_RESERVED = {"t", "dt", "t_in_timesteps", "i", "N", "w", "not_refractory", "lastspike",
             "refractory",
             "xi", "lambda", "True", "False"}


#: The clock's names a discrete-time update may read: step length, time at the start
#: of the step (seconds) and step index.
CLOCK = ("dt", "t", "t_in_timesteps")


def _domain_json(spec):
    """JSON form of a domain: its name, ``[low, high]`` (inclusive, None: unbounded),
    or for any other :class:`~neuromod.limits.Domain` a dict of its fields."""
    d = _domain(spec)
    if isinstance(spec, str):
        return spec
    if d.name in DOMAINS and DOMAINS[d.name] == d:
        return d.name
    if d == Domain(d.name, d.low, d.high):          # inclusive, finite
        return [d.low, d.high]
    return {"name": d.name, "low": d.low, "high": d.high, "low_inclusive": d.low_inclusive,
            "high_inclusive": d.high_inclusive, "finite": d.finite}


def _domain_spec(value):
    """Inverse of :func:`_domain_json`: a name, a ``(low, high)`` pair or a Domain."""
    def number(v):
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
    if isinstance(value, list):
        if len(value) != 2 or not all(number(v) for v in value):
            raise ParameterError(f"a domain pair is [low, high], not {str(value)[:60]}")
        return tuple(value)
    if isinstance(value, dict):
        fields = {"name": str, "low": number, "high": number, "low_inclusive": bool,
                  "high_inclusive": bool, "finite": bool}
        if set(value) != set(fields) or not all(
                isinstance(value[k], t) if isinstance(t, type) else t(value[k])
                for k, t in fields.items()):
            raise ParameterError(f"a domain is a name, [low, high] or the fields "
                                 f"{', '.join(fields)}, not {str(value)[:60]}")
        return Domain(**value)
    return value


_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
            "!=": np.not_equal}


def _parse_constraint(text, model, parameters):
    """``(text, a, op, b)`` of a constraint ``'a OP b'`` between two parameters."""
    import re
    m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(<=|>=|!=|<|>)\s*([A-Za-z_]\w*)\s*", str(text))
    if not m:
        raise ModelDefinitionError(f"model {model!r}: constraint {str(text)[:60]!r} is not "
                                   "'a OP b' with OP one of < <= > >= !=")
    a, op, b = m.groups()
    for name in (a, b):
        if name not in parameters:
            raise ModelDefinitionError(f"model {model!r}: constraint {text!r} names {name!r}, "
                                       "not a parameter")
    if parameters[a].dim != parameters[b].dim:
        raise ModelDefinitionError(f"model {model!r}: constraint {text!r} compares "
                                   "parameters of different dimensions")
    return text.strip(), a, op, b


def check_parameter(name, value, spec="finite", model=None):
    """Check a parameter value (a float or an array, SI) against its domain.

    Vectorised over arrays (one value per neuron); NaN and infinities lie outside
    every domain but ``'any'`` (which still refuses NaN).

    Parameters
    ----------
    name : str
        Parameter name, for the message.
    value : float or array_like
    spec : str, tuple or Domain
        See :func:`neuromod.limits.domain`.
    model : str, optional
        Model name, for the message.

    Returns
    -------
    float or numpy.ndarray
        ``value`` (a float for a scalar, float64 for an array).

    Raises
    ------
    ParameterError
        Naming the model, the parameter and, for arrays, the first bad element.

    Examples
    --------
    >>> check_parameter("t_ref", [0.0, 0.002], "non_negative")
    array([0.   , 0.002])
    >>> check_parameter("t_ref", [0.0, -0.002], "non_negative", model="lif")
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: model 'lif': t_ref[1] = -0.002 must be >= 0 (non_negative)
    """
    d = _domain(spec)
    where = f"model {model!r}: " if model is not None else ""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"{where}{name} = {_short(value)} is not a number") from None
    if arr.ndim == 0:
        v = float(arr)
        if not d.contains(v):
            raise ParameterError(f"{where}{name} = {v:g} must be {d.describe()} ({d.name})")
        return v
    ok = d.mask(arr)
    if not ok.all():
        i = np.unravel_index(int(np.argmin(ok)), arr.shape)
        idx = ", ".join(str(int(k)) for k in i)
        raise ParameterError(f"{where}{name}[{idx}] = {float(arr[i]):g} must be "
                             f"{d.describe()} ({d.name})")
    return arr


def _short(value, limit=60):
    """``repr(value)``, cut to ``limit`` characters (one line)."""
    r = repr(value).replace("\n", " ")
    return r if len(r) <= limit else r[:limit - 3] + "..."


@dataclass(frozen=True)
class Parameter:
    """A model parameter: default value in SI units, physical dimension and the
    domain of values that make sense (see *Parameter domains* above), checked here.

    Examples
    --------
    >>> p = Parameter.from_spec("tau_m", "20*ms", domain="positive")
    >>> p.value, p.unit, p.text(), p.domain
    (0.02, 'second', '20*ms', 'positive')
    >>> Parameter.from_spec("tau_m", "-5*ms", domain="positive")
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: tau_m = -0.005 must be > 0 (positive)
    """
    name: str
    value: float
    dim: tuple
    doc: str = ""
    domain: object = "finite"

    def __post_init__(self):
        check_parameter(self.name, self.value, self.domain)

    def check(self, value, model=None):
        """``value`` (float or per-neuron array, SI) if it lies in the domain, else a
        one-line :class:`~neuromod.errors.ParameterError`."""
        return check_parameter(self.name, value, self.domain, model)

    @property
    def unit(self):
        """Unit name Brian2 accepts (``'second'``, ``'volt'``, ``'1'``...)."""
        return unit_name(self.dim)

    def text(self):
        """The default in Brian2 syntax (``'20*ms'``)."""
        return format_quantity(self.value, self.dim)

    @classmethod
    def from_spec(cls, name, spec, doc="", domain=None):
        """From ``'20*ms'``, ``(value_SI, 'second')``, a Brian2/quantities quantity,
        a :class:`Parameter` or a plain number (dimensionless). ``domain`` defaults
        to that of a given :class:`Parameter`, else ``'finite'``."""
        if isinstance(spec, Parameter):
            return cls(name, spec.value, spec.dim, doc or spec.doc,
                       spec.domain if domain is None else domain)
        domain = "finite" if domain is None else domain
        if isinstance(spec, tuple) and len(spec) in (2, 3):
            value, unit = spec[0], spec[1]
            doc = spec[2] if len(spec) == 3 else doc
            dim = parse_unit(unit)
            return cls(name, _scalar(as_si(value, dim, name), name), dim, doc, domain)
        if isinstance(spec, str):
            v, d = parse_quantity(spec)
            return cls(name, v, d, doc, domain)
        mod = type(spec).__module__ or ""
        if mod.startswith("brian2"):
            from brian2.units.fundamentalunits import get_dimensions
            dd = get_dimensions(spec)
            dim = tuple(int(dd._dims[k]) for k in range(7))
            return cls(name, _scalar(as_si(spec, dim, name), name), dim, doc, domain)
        if mod.startswith("quantities"):
            from neuromod.units import quantities_dim
            v, dim = quantities_dim(spec)
            return cls(name, _scalar(v, name), dim, doc, domain)
        return cls(name, _scalar(as_si(spec, None, name), name), DIMENSIONLESS, doc, domain)


def _scalar(value, name):
    """``float(value)`` of a single number; a one-line ParameterError otherwise."""
    if np.ndim(value) != 0:
        raise ParameterError(f"{name}: expected one value, got shape {np.shape(value)}")
    return float(value)


@dataclass(frozen=True)
class Port:
    """A synaptic input of a model: what one presynaptic spike of weight ``w`` does.

    ``code`` holds ``on_pre`` statements (``'I_e += w'``) that are linear in ``w``;
    ``dim`` is the dimension of ``w``.
    """
    name: str
    code: str
    dim: tuple

    @property
    def unit(self):
        return unit_name(self.dim)


class NeuronModel:
    """A spiking neuron model written once, run by the Brian2 and Torch backends.

    Parameters
    ----------
    name : str
        Short name (``'lif'``).
    equations : str
        Brian2-syntax equations: differential equations, subexpressions and input
        declarations (``I_ext : amp``). Parameters are *not* declared here.
    parameters : dict
        Name -> default, as Brian2 text (``'20*ms'``), ``(value_SI, 'unit')``,
        a quantity, or a :class:`Parameter`.
    threshold : str, optional
        One comparison, e.g. ``'v > v_th'``.
    reset : str, optional
        Statements executed on a spike, e.g. ``'v = v_reset; w += b'``.
    refractory : str or float or quantity
        A parameter name (time) or a duration; ``0`` for none. Variables flagged
        ``(unless refractory)`` are clamped while refractory, and the threshold is
        not tested (Brian2's semantics).
    inputs : sequence of str
        Names declared in ``equations`` (``I_ext : amp``) that are driven from
        outside, held constant over each step (0 when not driven).
    ports : dict, optional
        Port name -> ``on_pre`` code (``'I_e += w'``) or ``(code, unit of w)``.
    init : dict, optional
        State variable -> initial value (expression in parameters, e.g. ``'E_L'``,
        or a quantity). Others start at 0.
    method : {'exact', 'exponential_euler', 'euler'}
        Integration method, the same on both backends (``'map'`` for a model with
        ``updates``, which is implied by them).
    updates : str, optional
        A discrete-time model: statements (``v = beta*v + I``, ``+=``, ``-=``,
        ``*=``, ``/=``; newlines or ``;``) executed once per step in the order
        written, on the state variables declared in ``equations`` as ``name : unit``
        (those not listed in ``inputs``). They may use states, inputs,
        subexpressions, parameters, ``dt`` (the step length, seconds), ``t`` (the
        time at the start of the step, seconds) and ``t_in_timesteps`` (the step
        index, 0, 1, ...: Brian2's names); parameters are per step (a decay
        ``beta`` is the factor of one step).
    firing : Bernoulli or dict, optional
        How the model spikes: by default the deterministic threshold (a Heaviside
        with a surrogate gradient); :class:`~neuromod.backends.noise.Bernoulli`
        (``Bernoulli('gaussian', 'sigma')``) spikes with probability ``F(d/sigma)``
        of the threshold distance ``d``. ``sigma`` must be a parameter expression;
        when it is one parameter, that parameter must be declared ``'positive'``.
    surrogate_scale : str
        Expression (parameters only) by which the threshold distance is divided
        before the surrogate gradient is applied (e.g. ``'v_th - v_reset'``).
    description : str
        One line shown by ``neuromod simulate --list``.
    domains : dict, optional
        Parameter name -> domain of valid values: a name of
        :data:`neuromod.limits.DOMAINS` (``'positive'`` for time constants,
        capacitances and resistances, ``'non_negative'`` for a refractory period,
        ``'finite'`` for potentials...) or an inclusive ``(low, high)`` pair.
        Parameters not named here (and not given as a :class:`Parameter` with its
        own domain) are ``'finite'``. Checked for the defaults here and for every
        later value (:meth:`with_parameters`, :meth:`resolve_parameters`).
    constraints : sequence of str, optional
        Relations between two parameters that the equations need, each
        ``'a OP b'`` with ``OP`` one of ``< <= > >= !=`` (e.g. ``'tau_e > tau_r_e'``
        for a difference-of-exponentials kernel, whose peak factor divides by
        ``tau_e - tau_r_e``). Checked wherever domains are.

    Raises
    ------
    ParameterError
        When a default lies outside its domain (one line naming model and parameter).

    Examples
    --------
    >>> from neuromod.neurons import lif
    >>> m = lif()
    >>> sorted(m.ports)
    ['e', 'i']
    >>> m.with_parameters(tau_m="10*ms").parameters["tau_m"].value
    0.01
    >>> m.parameters["R"].domain
    'positive'
    """

    def __init__(self, name, equations, parameters, threshold=None, reset=None, refractory=0.0,
                 inputs=(), ports=None, init=None, method="exact", surrogate_scale="1",
                 description="", domains=None, constraints=(), derived=None, updates=None,
                 firing=None):
        self.name = str(name)
        from neuromod.backends.noise import Bernoulli
        if isinstance(firing, dict):
            firing = Bernoulli.from_dict(firing)
        if firing is not None and not isinstance(firing, Bernoulli):
            raise ModelDefinitionError(f"model {name!r}: firing must be None (threshold) "
                                       f"or a Bernoulli rule, got {firing!r}")
        self.firing = firing
        self.updates = str(updates or "")
        if self.updates.strip():
            if method not in ("exact", "map"):
                raise ModelDefinitionError(f"model {name!r}: a model with updates is a "
                                           f"discrete-time map; method={method!r} does not apply")
            method = "map"
        elif method == "map":
            raise ModelDefinitionError(f"model {name!r}: method='map' needs update statements "
                                       "(updates='v = beta*v + I')")
        self.equations = str(equations)
        self.eqs = parse_equations(self.equations)
        domains = dict(domains or {})
        unknown = sorted(set(domains) - set(parameters or {}))
        if unknown:
            raise ModelDefinitionError(f"model {self.name!r}: domain for {unknown[0]!r}, "
                                       "not a parameter")
        self.parameters = {}
        for k, v in (parameters or {}).items():
            try:
                self.parameters[k] = Parameter.from_spec(k, v, domain=domains.get(k))
            except ParameterError as exc:
                raise ParameterError(f"model {self.name!r}: {exc}") from None
        self.threshold = threshold
        self.reset = reset or ""
        self.inputs = tuple(inputs)
        self.method = method
        self.surrogate_scale = str(surrogate_scale)
        self.description = description
        if method not in METHODS:
            raise ModelDefinitionError(f"model {name!r}: method must be one of {METHODS}, got {method!r}")
        # refractory: parameter name or constant duration (seconds)
        if isinstance(refractory, str) and refractory.isidentifier():
            if refractory not in self.parameters:
                raise ModelDefinitionError(f"model {name!r}: refractory parameter {refractory!r} not defined")
            if self.parameters[refractory].dim != (0, 0, 1, 0, 0, 0, 0):
                raise UnitError(f"model {name!r}: refractory parameter {refractory!r} must be a time")
            self.refractory = refractory
        else:
            self.refractory = check_parameter(
                "refractory", _scalar(as_si(refractory, (0, 0, 1, 0, 0, 0, 0), "refractory"),
                                      "refractory"), "non_negative", self.name)
        ports = ports or {}
        self.ports = {}
        for pname, spec in ports.items():
            if isinstance(spec, Port):
                self.ports[pname] = Port(pname, spec.code, spec.dim)
                continue
            code, unit = (spec if isinstance(spec, tuple) else (spec, None))
            self.ports[pname] = Port(pname, code, parse_unit(unit) if unit else None)
        self.init = {}
        for k, v in (init or {}).items():
            self.init[k] = v if isinstance(v, str) else None
            if not isinstance(v, str):
                self.init[k] = repr(check_parameter(
                    f"initial value of {k}", _scalar(as_si(v, None, f"init {k}"), f"init {k}"),
                    "finite", self.name))
        self._check()
        self.constraints = tuple(str(c) for c in constraints)
        self._constraints = [_parse_constraint(c, self.name, self.parameters)
                             for c in self.constraints]
        self._check_constraints({k: p.value for k, p in self.parameters.items()})
        self.derived = {str(k): str(v) for k, v in (derived or {}).items()}
        for k in self.derived:
            self.derived_value(k)        # computable from the parameters alone, finite

    def derived_value(self, name):
        """The value (SI) of a derived quantity the model declares (``derived=``), an
        expression of its parameters evaluated with their current values.

        Facts about a model that follow from its parameters -- such as the rheobase of
        a LIF neuron, ``(v_th - E_L)/R`` -- belong to its definition (and are saved
        with it), not to code that switches on the model's name.

        Examples
        --------
        >>> from neuromod.neurons import lif
        >>> round(lif().derived_value("rheobase"), 15)
        1e-09
        """
        if name not in self.derived:
            raise ModelDefinitionError(f"model {self.name!r} declares no derived quantity "
                                       f"{name!r}; it has {', '.join(self.derived) or 'none'}")
        import sympy
        from neuromod.backends.equations import to_sympy
        text = self.derived[name]
        names = identifiers(text)
        unknown = sorted(n for n in names if n not in self.parameters and n not in UNITS)
        if unknown:
            raise ModelDefinitionError(f"model {self.name!r}: derived {name} = {text!r} names "
                                       f"{unknown[0]!r}, not a parameter")
        symbols = {k: sympy.Symbol(k) for k in self.parameters}
        expr = to_sympy(text, symbols)
        value = expr.subs({symbols[k]: p.value for k, p in self.parameters.items()})
        try:
            out = float(value)
        except (TypeError, ValueError):
            out = math.nan
        if not math.isfinite(out):
            raise ParameterError(f"model {self.name!r}: derived {name} = {text} is not finite "
                                 "with these parameters")
        return out

    # ----------------------------------------------------------------- structure
    @property
    def discrete(self):
        """True for a discrete-time model (``updates``, method ``'map'``)."""
        return self.method == "map"

    @property
    def states(self):
        """State variables in definition order: those with a differential equation, or,
        for a discrete-time model, the declared variables that are not inputs."""
        if self.discrete:
            return [e.name for e in self.eqs if e.kind == "param" and e.name not in self.inputs]
        return [e.name for e in self.eqs if e.kind == "diff"]

    @property
    def subexpressions(self):
        return [e.name for e in self.eqs if e.kind == "sub"]

    def dim_of(self, name):
        """Dimension of a state variable, subexpression, input or parameter."""
        for e in self.eqs:
            if e.name == name:
                return e.dim
        if name in self.parameters:
            return self.parameters[name].dim
        raise KeyError(name)

    def _check(self):
        m = self.name
        declared = {e.name: e for e in self.eqs}
        for e in self.eqs:
            if e.name in _RESERVED:
                raise ModelDefinitionError(f"model {m!r}: {e.name!r} is a reserved name")
            if e.name in self.parameters:
                raise ModelDefinitionError(
                    f"model {m!r}: {e.name!r} is both a parameter and declared in the equations")
            if e.kind == "param" and e.name in self.inputs and "unless refractory" in e.flags:
                raise ModelDefinitionError(
                    f"model {m!r}: input {e.name!r} cannot be '(unless refractory)'")
            if self.discrete and e.kind == "diff":
                raise ModelDefinitionError(
                    f"model {m!r}: a discrete-time model (updates) has no differential "
                    f"equation, got one for {e.name!r}; declare it as '{e.name} : {e.unit}'")
            if e.kind == "param" and e.name not in self.inputs and not self.discrete:
                raise ModelDefinitionError(
                    f"model {m!r}: {e.name!r} is declared in the equations but is not an input; "
                    "give parameters in 'parameters'")
        for p in self.parameters:
            if p in _RESERVED or not p.isidentifier():
                raise ModelDefinitionError(f"model {m!r}: bad parameter name {p!r}")
        for name in self.inputs:
            if name not in declared or declared[name].kind != "param":
                raise ModelDefinitionError(
                    f"model {m!r}: input {name!r} must be declared in the equations as '{name} : unit'")
        if not self.states:
            raise ModelDefinitionError(f"model {m!r}: no " + (
                "state variable" if self.discrete else "differential equation"))
        used = set()
        for e in self.eqs:
            if e.expr is not None:
                used |= identifiers(e.expr)
        updates = parse_statements(self.updates)
        for _, _, expr in updates:
            used |= identifiers(expr)
        for name in self.inputs:
            if name not in used:
                raise ModelDefinitionError(f"model {m!r}: input {name!r} appears in no equation")
        known = set(declared) | set(self.parameters) | set(UNITS)
        for target, op, expr in updates:
            if target not in self.states:
                raise ModelDefinitionError(f"model {m!r}: update assigns {target!r}, not a state "
                                           "variable (declare it as 'name : unit')")
            bad = identifiers(expr) - known - set(CLOCK)
            if bad:
                raise ModelDefinitionError(
                    f"model {m!r}: unknown name {sorted(bad)[0]!r} in the update of {target!r}")
        for e in self.eqs:
            if e.expr is not None:
                bad = identifiers(e.expr) - known
                if bad:
                    raise ModelDefinitionError(
                        f"model {m!r}: unknown name {sorted(bad)[0]!r} in the equation for {e.name!r}")
        if self.threshold:
            lhs, _, rhs = parse_condition(self.threshold)
            bad = (identifiers(lhs) | identifiers(rhs)) - known
            if bad:
                raise ModelDefinitionError(f"model {m!r}: unknown name {sorted(bad)[0]!r} in the threshold")
        for target, op, expr in parse_statements(self.reset):
            if target not in self.states:
                raise ModelDefinitionError(f"model {m!r}: reset assigns {target!r}, not a state variable")
            bad = identifiers(expr) - known
            if bad:
                raise ModelDefinitionError(f"model {m!r}: unknown name {sorted(bad)[0]!r} in the reset")
        for pname, port in list(self.ports.items()):
            stmts = parse_statements(port.code)
            if not stmts:
                raise ModelDefinitionError(f"model {m!r}: port {pname!r} has no statement")
            for target, op, expr in stmts:
                if target not in self.states:
                    raise ModelDefinitionError(
                        f"model {m!r}: port {pname!r} changes {target!r}, not a state variable")
                if op not in ("+=", "-="):
                    raise ModelDefinitionError(
                        f"model {m!r}: port {pname!r} must add to its target ('{target} += w')")
                bad = identifiers(expr) - set(self.parameters) - {"w"} - set(UNITS)
                if bad:
                    raise ModelDefinitionError(
                        f"model {m!r}: port {pname!r} may use w and parameters only, not {sorted(bad)[0]!r}")
            if port.dim is None:
                target, op, expr = stmts[0]
                if expr.strip() != "w":
                    raise ModelDefinitionError(
                        f"model {m!r}: give the unit of w for port {pname!r}: (code, unit)")
                self.ports[pname] = Port(pname, port.code, self.dim_of(target))
        for k, v in self.init.items():
            if k not in self.states:
                raise ModelDefinitionError(f"model {m!r}: initial value for {k!r}, not a state variable")
            bad = identifiers(v) - set(self.parameters) - set(UNITS)
            if bad:
                raise ModelDefinitionError(
                    f"model {m!r}: initial value of {k!r} may use parameters only, not {sorted(bad)[0]!r}")
        bad = identifiers(self.surrogate_scale) - set(self.parameters) - set(UNITS)
        if bad:
            raise ModelDefinitionError(f"model {m!r}: surrogate_scale uses unknown {sorted(bad)[0]!r}")
        if self.firing is not None:
            if not self.threshold:
                raise ModelDefinitionError(f"model {m!r}: Bernoulli firing needs a threshold")
            sigma = self.firing.sigma
            bad = identifiers(sigma) - set(self.parameters) - set(UNITS)
            if bad:
                raise ModelDefinitionError(
                    f"model {m!r}: the firing noise sigma = {sigma!r} uses {sorted(bad)[0]!r}, "
                    "not a parameter")
            if sigma in self.parameters and self.parameters[sigma].domain != "positive":
                raise ModelDefinitionError(
                    f"model {m!r}: the noise standard deviation {sigma!r} must be declared "
                    f"positive (domains={{{sigma!r}: 'positive'}})")

    # ----------------------------------------------------------------- copies
    def with_parameters(self, **values):
        """A copy with new parameter defaults (same dimension required).

        Values may be Brian2 text (``'10*ms'``), quantities or SI numbers.

        Examples
        --------
        >>> from neuromod.neurons import lif
        >>> lif().with_parameters(v_th=-0.045).parameters["v_th"].value
        -0.045
        """
        new = copy.copy(self)
        new.parameters = dict(self.parameters)
        for k, v in values.items():
            if k not in self.parameters:
                raise ModelDefinitionError(
                    f"model {self.name!r} has no parameter {k!r}; it has {', '.join(self.parameters)}")
            p = self.parameters[k]
            value = p.check(_scalar(as_si(v, p.dim, k), k), self.name)
            new.parameters[k] = Parameter(k, value, p.dim, p.doc, p.domain)
        new._check_constraints({k: p.value for k, p in new.parameters.items()})
        new.__dict__.pop("_analysis", None)
        return new

    def _check_constraints(self, values):
        """Raise a one-line ParameterError if ``values`` (name -> float or per-neuron
        array) break one of the model's constraints."""
        for text, a, op, b in self._constraints:
            va, vb = values[a], values[b]
            ok = _COMPARE[op](np.asarray(va), np.asarray(vb))
            if not np.all(ok):
                where = ""
                if np.ndim(ok):
                    i = int(np.argmin(ok))
                    where = f" (neuron {i})"
                    va, vb = np.broadcast_to(va, ok.shape)[i], np.broadcast_to(vb, ok.shape)[i]
                raise ParameterError(f"model {self.name!r}: {a} = {float(va):g} and {b} = "
                                     f"{float(vb):g} must satisfy {text}{where}")

    def resolve_parameters(self, n, overrides=None):
        """Parameter values for ``n`` neurons in SI: dict name -> float or (n,) array.

        ``overrides`` maps names to scalars, per-neuron arrays, Brian2 text or
        quantities; their dimensions and domains are checked (one-line
        :class:`~neuromod.errors.ParameterError` naming the first bad neuron).
        """
        out = {k: p.value for k, p in self.parameters.items()}
        for k, v in (overrides or {}).items():
            if k not in self.parameters:
                raise ModelDefinitionError(
                    f"model {self.name!r} has no parameter {k!r}; it has {', '.join(self.parameters)}")
            val = as_si(v, self.parameters[k].dim, k)
            if np.ndim(val) > 0:
                val = np.asarray(val, dtype=np.float64)
                if val.shape != (n,):
                    raise ModelDefinitionError(
                        f"parameter {k!r}: {val.size} values for {n} neurons")
            out[k] = self.parameters[k].check(val, self.name)
        self._check_constraints(out)
        return out

    # ----------------------------------------------------------------- serialisation
    def to_dict(self):
        """A JSON-ready description (see :func:`neuromod.backends.save`)."""
        return {
            "name": self.name, "equations": self.equations,
            "parameters": {k: {"value": p.value, "unit": p.unit, "doc": p.doc,
                               "domain": _domain_json(p.domain)}
                           for k, p in self.parameters.items()},
            "threshold": self.threshold, "reset": self.reset,
            "refractory": self.refractory, "inputs": list(self.inputs),
            "ports": {k: {"code": p.code, "unit": p.unit} for k, p in self.ports.items()},
            "init": dict(self.init), "method": self.method,
            "surrogate_scale": self.surrogate_scale, "description": self.description,
            "constraints": list(self.constraints), "derived": dict(self.derived),
            **({"updates": self.updates} if self.updates.strip() else {}),
            **({"firing": self.firing.to_dict()} if self.firing is not None else {}),
        }

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict` (also of its version-1 form, without domains:
        those parameters are ``'finite'``)."""
        params = {k: (v["value"], v["unit"], v.get("doc", "")) for k, v in d["parameters"].items()}
        domains = {k: _domain_spec(v["domain"]) for k, v in d["parameters"].items()
                   if "domain" in v}
        ports = {k: (v["code"], v["unit"]) for k, v in d.get("ports", {}).items()}
        return cls(d["name"], d["equations"], params, threshold=d.get("threshold"),
                   reset=d.get("reset"), refractory=d.get("refractory", 0.0),
                   inputs=d.get("inputs", ()), ports=ports, init=d.get("init"),
                   method=d.get("method", "exact"),
                   surrogate_scale=d.get("surrogate_scale", "1"),
                   description=d.get("description", ""), domains=domains,
                   constraints=d.get("constraints", ()), derived=d.get("derived"),
                   updates=d.get("updates"), firing=d.get("firing"))

    def __eq__(self, other):
        return isinstance(other, NeuronModel) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash((self.name, self.equations))

    def __repr__(self):
        return f"NeuronModel({self.name!r}, states={self.states}, method={self.method!r})"

    @property
    def analysis(self):
        """The sympy analysis of the equations (computed once, see :func:`analyse`).

        It is also kept on disk (:func:`cached_analysis`), so that later processes
        skip the symbolic simplification."""
        a = self.__dict__.get("_analysis")
        if a is None:
            a = self.__dict__["_analysis"] = cached_analysis(self)
        return a


# =============================================================================== analysis
@dataclass
class Analysis:
    """What the Torch backend needs, derived from the equations by sympy.

    Attributes
    ----------
    states : list of str
    refractory_states : set of str
        Variables flagged ``(unless refractory)``.
    symbols : dict of str to sympy.Symbol
    rhs : dict of str to sympy.Expr
        Right-hand side of each state, subexpressions substituted; for a
        discrete-time model (``'map'``) the state's value after one step, in the
        values before it (the update statements composed).
    subexpressions : dict of str to sympy.Expr
        Fully substituted.
    A : dict of (str, str) to sympy.Expr
        ``exact`` only: non-zero entries ``d rhs_i / d x_j`` (parameters only).
    c : dict of str to sympy.Expr
        ``exact`` only: ``rhs_i`` at ``x = 0`` (parameters and inputs).
    expeuler : dict of str to (a, b)
        ``exponential_euler`` only: ``rhs_i = a x_i + b``.
    threshold : sympy.Expr or None
        Signed distance to threshold, > 0 means spike (``lhs - rhs`` for ``>``).
    threshold_strict : bool
    reset : list of (str, str, sympy.Expr)
    ports : dict of str to list of (str, sympy.Expr)
        Per port: (target state, coefficient of ``w``).
    init : dict of str to sympy.Expr
    surrogate_scale : sympy.Expr
        The scale the threshold distance is divided by: the surrogate's, or for
        Bernoulli firing the noise's standard deviation ``sigma``.
    """
    states: list
    refractory_states: set
    symbols: dict
    rhs: dict
    subexpressions: dict
    A: dict
    c: dict
    expeuler: dict
    threshold: object
    threshold_strict: bool
    reset: list
    ports: dict
    init: dict
    surrogate_scale: object


def analyse(model):
    """Derive the symbolic pieces of the update from the model's equations.

    Raises
    ------
    ModelDefinitionError
        When ``method='exact'`` and the equations are not linear with
        parameter-only coefficients, or ``'exponential_euler'`` and a variable's
        equation is not linear in itself.
    """
    import sympy as sp
    from neuromod.backends.equations import to_sympy
    names = set(model.parameters) | {e.name for e in model.eqs} | {"w"} | set(CLOCK)
    symbols = {n: sp.Symbol(n, real=True) for n in names}
    subs = {}
    for e in model.eqs:  # subexpressions may refer to earlier or later ones
        if e.kind == "sub":
            subs[e.name] = to_sympy(e.expr, symbols)
    # substitute subexpressions into one another until fixed point
    for _ in range(len(subs) + 1):
        changed = False
        for k, v in subs.items():
            nv = v.xreplace({symbols[s]: subs[s] for s in subs if s != k})
            if nv != v:
                subs[k], changed = nv, True
        if not changed:
            break
    else:
        raise ModelDefinitionError(f"model {model.name!r}: circular subexpressions")

    def full(expr_text):
        return to_sympy(expr_text, symbols).xreplace({symbols[s]: subs[s] for s in subs})

    states = model.states
    xs = [symbols[s] for s in states]
    inputs = [symbols[s] for s in model.inputs]
    if model.discrete:
        rhs = _compose(model, symbols, full)
    else:
        rhs = {e.name: full(e.expr) for e in model.eqs if e.kind == "diff"}
    refr = {e.name for e in model.eqs if e.name in states and "unless refractory" in e.flags}
    A, c, ee = {}, {}, {}
    if model.method == "exact":
        zero = {x: 0 for x in xs}
        for si in states:
            f = sp.expand(rhs[si])
            for sj, xj in zip(states, xs):
                a = sp.simplify(sp.diff(f, xj))
                if a.free_symbols & (set(xs) | set(inputs)):
                    raise ModelDefinitionError(
                        f"model {model.name!r}: the equation for {si!r} is not linear with "
                        f"parameter-only coefficients (d/d{sj} = {a}); use method='exponential_euler'")
                if a != 0:
                    A[(si, sj)] = a
            cc = sp.simplify(f.xreplace(zero))
            if cc != 0:
                c[si] = cc
    elif model.method == "exponential_euler":
        for si, x in zip(states, xs):
            f = sp.expand(rhs[si])
            a = sp.simplify(sp.diff(f, x))
            if x in a.free_symbols:
                raise ModelDefinitionError(
                    f"model {model.name!r}: the equation for {si!r} is not linear in {si!r}; "
                    "use method='euler'")
            b = sp.simplify(f.xreplace({x: 0}))
            ee[si] = (a, b)
    thr, strict = None, True
    if model.threshold:
        lhs, op, rhs_t = parse_condition(model.threshold)
        d = full(lhs) - full(rhs_t)
        thr = d if op in (">", ">=") else -d
        strict = op in (">", "<")
    reset = [(t, op, full(ex)) for t, op, ex in parse_statements(model.reset)]
    ports = {}
    w = symbols["w"]
    for pname, port in model.ports.items():
        items = []
        for target, op, ex in parse_statements(port.code):
            e = to_sympy(ex, symbols)
            coef = sp.simplify(sp.diff(e, w))
            if w in coef.free_symbols or sp.simplify(e - coef * w) != 0:
                raise ModelDefinitionError(
                    f"model {model.name!r}: port {pname!r} must be linear in w ({ex!r})")
            items.append((target, -coef if op == "-=" else coef))
        ports[pname] = items
    init = {s: (to_sympy(model.init[s], symbols) if s in model.init else sp.Integer(0))
            for s in states}
    scale = to_sympy(model.surrogate_scale if model.firing is None else model.firing.sigma,
                     symbols)
    return Analysis(states, refr, symbols, rhs, subs, A, c, ee, thr, strict, reset, ports,
                    init, scale)


def _compose(model, symbols, full):
    """The map ``x <- f(x, u)`` of a discrete-time model's update statements: each
    statement reads the values the ones before it left, so the composition
    substitutes the current expressions (in the old values) into each."""
    cur = {s: symbols[s] for s in model.states}
    for target, op, text in parse_statements(model.updates):
        e = full(text).xreplace({symbols[s]: cur[s] for s in cur})
        old = cur[target]
        cur[target] = {"=": e, "+=": old + e, "-=": old - e, "*=": old * e, "/=": old / e}[op]
    return cur


def _analysis_key(model):
    """Hash of what :func:`analyse` depends on: the equations and statements (not the
    parameter values), the sympy and Python versions and the source of the modules
    that derive the analysis."""
    import hashlib
    import json
    import sys

    import sympy

    from neuromod import units as dims
    from neuromod.backends import equations
    d = model.to_dict()
    d.pop("description", None)
    d["parameters"] = sorted([k, v["unit"]] for k, v in d["parameters"].items())
    h = hashlib.sha1(json.dumps(d, sort_keys=True).encode())
    h.update(f"{sympy.__version__} {sys.version_info[:2]}".encode())
    for mod in (sys.modules[__name__], equations, dims):
        with open(mod.__file__, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:24]


#: sympy classes an analysis may hold on disk (:func:`expr_to_json`), by tag.
_EXPR_FUNCS = ("Add", "Mul", "Pow", "exp", "log", "Abs", "sin", "cos", "tan", "sinh", "cosh",
               "tanh", "atan", "Min", "Max")
#: Bounds on a stored expression (nodes, nesting, digits of an integer).
_EXPR_LIMITS = {"nodes": 20000, "depth": 100, "digits": 200}


class _BadCache(Exception):
    """A cache file that is not what this release writes (recomputed, never trusted)."""


def expr_to_json(expr):
    """A sympy expression as a JSON tree of whitelisted node types.

    Nodes are lists ``[tag, ...]``: ``["s", name]`` (a real symbol), ``["i", "12"]``
    (integer), ``["q", "1", "3"]`` (rational), ``["f", sign, mantissa, exponent,
    bitcount, precision]`` (float, exactly), ``["E"]``, ``["pi"]`` and
    ``[cls, *args]`` for the classes of :data:`_EXPR_FUNCS`. Raises ``ValueError``
    for anything else (such an analysis is simply not stored).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> expr_to_json(-x / 2)
    ['Mul', ['q', '-1', '2'], ['s', 'x']]
    """
    import sympy as sp
    if isinstance(expr, sp.Symbol):
        if expr.assumptions0.get("real") is not True or not expr.name.isidentifier():
            raise ValueError(f"symbol {expr!r}")
        return ["s", expr.name]
    if isinstance(expr, sp.Integer):
        return ["i", str(int(expr))]
    if isinstance(expr, sp.Rational):
        return ["q", str(int(expr.p)), str(int(expr.q))]
    if isinstance(expr, sp.Float):
        sign, man, exp, bc = expr._mpf_
        return ["f", int(sign), str(int(man)), int(exp), int(bc), int(expr._prec)]
    if expr is sp.E:
        return ["E"]
    if expr is sp.pi:
        return ["pi"]
    name = type(expr).__name__
    if name in _EXPR_FUNCS and type(expr) is getattr(sp, name):
        return [name] + [expr_to_json(a) for a in expr.args]
    raise ValueError(f"cannot store {type(expr).__name__}")


def expr_from_json(tree, symbols):
    """Rebuild what :func:`expr_to_json` wrote, from whitelisted node types only.

    Nothing in the tree is evaluated as code: each node is checked (tag, arity,
    types, bounded size) and built with ``evaluate=False``; symbols must be among
    ``symbols`` (name -> sympy.Symbol). Raises ``ValueError`` for anything else.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> expr_from_json(['Mul', ['q', '-1', '2'], ['s', 'x']], {"x": x}) == -x / 2
    True
    >>> expr_from_json(['__import__', ['s', 'os']], {"x": x})
    Traceback (most recent call last):
    ...
    ValueError: unknown node '__import__'
    """
    import sympy as sp
    count = [0]

    def integer(text):
        if not isinstance(text, str) or not 0 < len(text) <= _EXPR_LIMITS["digits"] \
                or not text.lstrip("-").isdigit() or text.startswith("--"):
            raise ValueError(f"bad integer {str(text)[:40]!r}")
        return int(text)

    def build(node, depth):
        count[0] += 1
        if depth > _EXPR_LIMITS["depth"] or count[0] > _EXPR_LIMITS["nodes"]:
            raise ValueError("expression too large")
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise ValueError("bad node")
        tag, args = node[0], node[1:]
        if tag == "s":
            if len(args) != 1 or not isinstance(args[0], str) or args[0] not in symbols:
                raise ValueError(f"unknown symbol {str(args[:1])[:40]}")
            return symbols[args[0]]
        if tag == "i" and len(args) == 1:
            return sp.Integer(integer(args[0]))
        if tag == "q" and len(args) == 2:
            p, q = integer(args[0]), integer(args[1])
            if q <= 0:
                raise ValueError("bad rational")
            return sp.Rational(p, q)
        if tag == "f" and len(args) == 5:
            sign, man, exp, bc, prec = args
            man = integer(man)
            if sign not in (0, 1) or man < 0 or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in (exp, bc, prec)) \
                    or bc != man.bit_length() or not 0 < prec <= 1000 or abs(exp) > 100000:
                raise ValueError("bad float")
            return sp.Float._new((sign, man, exp, bc), prec)
        if tag == "E" and not args:
            return sp.E
        if tag == "pi" and not args:
            return sp.pi
        if tag in _EXPR_FUNCS:
            n_args = {"Add": None, "Mul": None, "Min": None, "Max": None, "Pow": 2}.get(tag, 1)
            if (n_args is None and len(args) < 2) or (n_args is not None and len(args) != n_args):
                raise ValueError(f"{tag} with {len(args)} arguments")
            built = [build(a, depth + 1) for a in args]
            return getattr(sp, tag)(*built, evaluate=False)
        raise ValueError(f"unknown node {tag!r}")

    return build(tree, 0)


def _analysis_to_json(a, key):
    j = expr_to_json
    return {
        "format": "neuromod-analysis", "key": key, "states": list(a.states),
        "refractory_states": sorted(a.refractory_states), "symbols": sorted(a.symbols),
        "rhs": [[k, j(v)] for k, v in a.rhs.items()],
        "subexpressions": [[k, j(v)] for k, v in a.subexpressions.items()],
        "A": [[si, sj, j(v)] for (si, sj), v in a.A.items()],
        "c": [[k, j(v)] for k, v in a.c.items()],
        "expeuler": [[k, j(x), j(y)] for k, (x, y) in a.expeuler.items()],
        "threshold": None if a.threshold is None else j(a.threshold),
        "threshold_strict": bool(a.threshold_strict),
        "reset": [[t, op, j(v)] for t, op, v in a.reset],
        "ports": [[k, [[t, j(c)] for t, c in items]] for k, items in a.ports.items()],
        "init": [[k, j(v)] for k, v in a.init.items()],
        "surrogate_scale": j(a.surrogate_scale),
    }


def _analysis_from_json(d, model, key):
    """Rebuild an :class:`Analysis`, checking every field against ``model``."""
    import sympy as sp

    def need(cond):
        if not cond:
            raise _BadCache()

    need(isinstance(d, dict) and d.get("format") == "neuromod-analysis" and d.get("key") == key)
    states = model.states
    names = set(model.parameters) | {e.name for e in model.eqs} | {"w"} | set(CLOCK)
    need(d.get("states") == states and d.get("symbols") == sorted(names))
    symbols = {n: sp.Symbol(n, real=True) for n in sorted(names)}

    def e(tree):
        try:
            return expr_from_json(tree, symbols)
        except (ValueError, TypeError, RecursionError):
            raise _BadCache() from None

    def pairs(field, keys, width=2, n_keys=1):
        rows = d.get(field)
        need(isinstance(rows, list) and all(isinstance(r, list) and len(r) == width
                                            and all(isinstance(x, str) for x in r[:n_keys])
                                            and set(r[:n_keys]) <= keys for r in rows))
        return rows

    sts = set(states)
    refr = d.get("refractory_states")
    need(isinstance(refr, list) and set(refr) <= sts and all(isinstance(x, str) for x in refr))
    subs = set(model.subexpressions)
    reset = d.get("reset")
    need(isinstance(reset, list) and all(
        isinstance(r, list) and len(r) == 3 and r[0] in sts
        and r[1] in ("=", "+=", "-=", "*=", "/=") for r in reset))
    ports = d.get("ports")
    need(isinstance(ports, list) and [p[0] if isinstance(p, list) and p else None
                                      for p in ports] == list(model.ports))
    need(all(len(p) == 2 and isinstance(p[1], list) and all(
        isinstance(t, list) and len(t) == 2 and t[0] in sts for t in p[1]) for p in ports))
    need(isinstance(d.get("threshold_strict"), bool))
    return Analysis(
        list(states), set(refr), symbols,
        {k: e(v) for k, v in pairs("rhs", sts)},
        {k: e(v) for k, v in pairs("subexpressions", subs)},
        {(si, sj): e(v) for si, sj, v in pairs("A", sts, 3, 2)},
        {k: e(v) for k, v in pairs("c", sts)},
        {k: (e(x), e(y)) for k, x, y in pairs("expeuler", sts, 3)},
        None if d.get("threshold") is None else e(d["threshold"]), d["threshold_strict"],
        [(t, op, e(v)) for t, op, v in reset],
        {k: [(t, e(c)) for t, c in items] for k, items in ports},
        {k: e(v) for k, v in pairs("init", sts)},
        e(d.get("surrogate_scale")))


#: Largest analysis file read back (bytes); a bigger one is recomputed.
_MAX_ANALYSIS_BYTES = 4 * 1024 ** 2


def cached_analysis(model):
    """:func:`analyse`, kept on disk between processes (``$NEUROMOD_CACHE/analysis``).

    The analysis is stored as JSON -- each sympy expression a tree of whitelisted
    node types (:func:`expr_to_json`) -- under a hash of everything it depends on
    (:func:`_analysis_key`), which the file also records. Reading it back evaluates
    no code: the tree is rebuilt node by node (:func:`expr_from_json`) and every
    field is checked against the model, so a corrupt, foreign or planted file is
    ignored and rewritten. A missing, unreadable or unwritable cache only costs the
    recomputation.
    """
    import json
    import os
    from neuromod.runtime import cache_folder, write_cache_file
    folder = cache_folder("analysis")
    path = key = None
    if folder is not None and __name__ == "neuromod.backends.model":
        key = _analysis_key(model)
        path = os.path.join(folder, f"{key}.json")
        try:
            if os.path.getsize(path) <= _MAX_ANALYSIS_BYTES:
                with open(path, "rb") as fh:
                    return _analysis_from_json(json.loads(fh.read()), model, key)
        except FileNotFoundError:
            pass
        except Exception:  # noqa: BLE001 -- a stale, broken or foreign file is recomputed
            pass
    a = analyse(model)
    if path is not None:
        try:
            text = json.dumps(_analysis_to_json(a, key), separators=(",", ":"))
            write_cache_file(path, text.encode())
        except Exception:  # noqa: BLE001 -- read-only cache, unstorable node: keep it in memory
            pass
    return a


def refractory_steps(refractory_s, dt):
    """Refractory period in steps, as Brian2 counts it: ``timestep(t_ref, dt)``,
    i.e. ``floor((t_ref + 1e-3 dt) / dt)``. A neuron that spiked at step ``k`` is
    refractory during steps ``k+1 .. k+n-1`` (``n`` = this value). Capped at
    ``2**31 - 1`` (the kernels' 32-bit counters; no run is longer).

    Examples
    --------
    >>> int(refractory_steps(0.002, 0.0001))
    20
    """
    steps = np.floor((np.asarray(refractory_s, dtype=np.float64) + 1e-3 * dt) / dt)
    return np.minimum(steps, 2 ** 31 - 1).astype(np.int64)
