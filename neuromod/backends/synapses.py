"""Building blocks for synaptic input: current- or conductance-based receptors with
exponential or difference-of-exponentials kernels, as Brian2 equation text.

:func:`receptor` returns the equation lines, parameters and ``on_pre`` port of one
receptor type; the reference models assemble theirs from it, and a user's model
can too. Kernels (response to one spike of weight ``w`` at ``t = 0``):

``exp``
    ``w exp(-t/tau)``; state ``X``, ``dX/dt = -X/tau``, on a spike ``X += w``.
``biexp``
    ``w k (exp(-t/tau_d) - exp(-t/tau_r))`` with ``k`` normalising the peak to 1
    (peak at ``t* = tau_d tau_r ln(tau_d/tau_r)/(tau_d - tau_r)``); two states
    ``X_d, X_r`` decaying with ``tau_d`` and ``tau_r``, on a spike both ``+= k w``,
    ``X = X_d - X_r``. Requires ``tau_d > tau_r``.

Examples
--------
>>> r = receptor("e", "current", "exp", tau="5*ms")
>>> print(r.equations)
dI_e/dt = -I_e/tau_e : amp
>>> r.port
'I_e += w'
"""
from dataclasses import dataclass

__all__ = ["Receptor", "receptor", "biexp_peak_factor"]


@dataclass(frozen=True)
class Receptor:
    """Equation text, parameters and port of one receptor (see :func:`receptor`).

    Attributes
    ----------
    name : str
    equations : str
    parameters : dict
    port : str
        ``on_pre`` code.
    port_unit : str
        Unit of the weight ``w``.
    drive : str
        Expression of the receptor's contribution: a current ``I_e`` (amp) for
        current-based, a conductance ``g_e`` (siemens) for conductance-based.
    domains : dict
        Parameter name -> domain (time constants ``'positive'``, reversal
        potentials ``'finite'``), for :class:`~neuromod.backends.NeuronModel`.
    constraints : tuple of str
        ``biexp``: ``'tau_X > tau_r_X'`` (the peak factor divides by their difference).
    """
    name: str
    equations: str
    parameters: dict
    port: str
    port_unit: str
    drive: str
    domains: dict = None
    constraints: tuple = ()


def biexp_peak_factor(tau_d, tau_r):
    """Peak-normalisation factor ``k`` of ``exp(-t/tau_d) - exp(-t/tau_r)``.

    ``k = 1 / ((tau_r/tau_d)**(tau_r/(tau_d-tau_r)) - (tau_r/tau_d)**(tau_d/(tau_d-tau_r)))``,
    the same expression the equations use. Accepts strings (returns the expression)
    or numbers.

    Examples
    --------
    >>> round(biexp_peak_factor(10.0, 1.0), 6)
    1.435055
    """
    if isinstance(tau_d, str):
        d, r = tau_d, tau_r
        return f"(1/(({r}/{d})**({r}/({d} - {r})) - ({r}/{d})**({d}/({d} - {r}))))"
    q = tau_r / tau_d
    return 1.0 / (q ** (tau_r / (tau_d - tau_r)) - q ** (tau_d / (tau_d - tau_r)))


def receptor(name, kind="current", kernel="exp", tau="5*ms", tau_rise="1*ms", E_rev="0*mV"):
    """One receptor type as Brian2 equation text.

    Parameters
    ----------
    name : str
        Suffix of the state and parameter names (``'e'`` -> ``I_e``, ``tau_e``).
    kind : {'current', 'conductance'}
        Current-based (state in amp, ``w`` in amp) or conductance-based (state in
        siemens, ``w`` in siemens; the neuron adds ``g (E_rev - v)``).
    kernel : {'exp', 'biexp'}
    tau, tau_rise : str or quantity
        Decay and (``biexp``) rise time constants.
    E_rev : str
        Reversal potential (conductance-based only).

    Returns
    -------
    Receptor
    """
    var, unit = ("I", "amp") if kind == "current" else ("g", "siemens")
    if kind not in ("current", "conductance"):
        raise ValueError(f"receptor kind must be 'current' or 'conductance', got {kind!r}")
    X = f"{var}_{name}"
    params = {f"tau_{name}": tau}
    domains = {f"tau_{name}": "positive"}
    if kind == "conductance":
        params[f"E_{name}"] = E_rev
        domains[f"E_{name}"] = "finite"
    if kernel == "exp":
        eqs = f"d{X}/dt = -{X}/tau_{name} : {unit}"
        port = f"{X} += w"
        drive = X
        constraints = ()
    elif kernel == "biexp":
        params[f"tau_r_{name}"] = tau_rise
        domains[f"tau_r_{name}"] = "positive"
        k = biexp_peak_factor(f"tau_{name}", f"tau_r_{name}")
        eqs = (f"d{X}_d/dt = -{X}_d/tau_{name} : {unit}\n"
               f"d{X}_r/dt = -{X}_r/tau_r_{name} : {unit}\n"
               f"{X} = {X}_d - {X}_r : {unit}")
        port = f"{X}_d += w*{k}; {X}_r += w*{k}"
        drive = X
        constraints = (f"tau_{name} > tau_r_{name}",)
    else:
        raise ValueError(f"kernel must be 'exp' or 'biexp', got {kernel!r}")
    return Receptor(name, eqs, params, port, unit, drive, domains, constraints)
