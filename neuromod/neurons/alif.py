"""Adaptive leaky integrate-and-fire neuron.

The adaptive exponential model of Brette & Gerstner (2005) without its
exponential term (equivalently the two-variable adaptive LIF of Gerstner et al.
2014, ch. 6.1)::

    tau_m dv/dt = E_L - v + R (I_e + I_i + I_ext - I_adapt)     (unless refractory)
    tau_w dI_adapt/dt = a (v - E_L) - I_adapt
    v > v_th  ->  v = v_reset, I_adapt += b, refractory for t_ref

The adaptation current ``I_adapt`` is Brette & Gerstner's ``w`` (renamed:
``w`` is the synaptic weight in port code). Both equations are linear, so the ``exact`` integrator applies (the adaptation
current keeps integrating during refractoriness with ``v`` frozen, as in Brian2).
With ``a``, ``b`` > 0 the inter-spike intervals lengthen under constant input
(spike-frequency adaptation). Static rheobase: ``(v_th - E_L)(1 + a R)/R``.
"""
from neuromod.backends.model import NeuronModel
from neuromod.backends.synapses import receptor
from neuromod.neurons.lif import DOMAINS as LIF_DOMAINS

__all__ = ["alif", "DOMAINS"]

#: Valid ranges of the parameters: those of the LIF; ``tau_w`` > 0; the adaptation
#: coupling ``a`` and increment ``b`` finite (either sign is a valid neuron model).
DOMAINS = dict(LIF_DOMAINS, a="finite", b="finite", tau_w="positive")


def alif(kernel="exp", receptors=("e", "i"), **parameters):
    """The adaptive LIF reference model.

    Parameters
    ----------
    kernel : {'exp', 'biexp'}
    receptors : sequence of str
    **parameters
        Overrides of the defaults: those of :func:`~neuromod.neurons.lif` plus
        ``a = 4 nS``, ``b = 0.1 nA``, ``tau_w = 100 ms``.

    Examples
    --------
    >>> alif().states
    ['v', 'I_adapt', 'I_e', 'I_i']
    """
    params = {"tau_m": "20*ms", "E_L": "-60*mV", "v_th": "-50*mV", "v_reset": "-60*mV",
              "R": "10*Mohm", "t_ref": "5*ms", "a": "4*nS", "b": "0.1*nA", "tau_w": "100*ms"}
    domains, constraints = dict(DOMAINS), ()
    taus = {"e": "5*ms", "i": "10*ms"}
    lines, ports, drives = [], {}, []
    for r in receptors:
        rec = receptor(r, "current", kernel, tau=taus.get(r, "5*ms"))
        lines.append(rec.equations)
        params.update(rec.parameters)
        domains.update(rec.domains)
        constraints += rec.constraints
        ports[r] = (rec.port, rec.port_unit)
        drives.append(rec.drive)
    current = " + ".join(drives + ["I_ext"])
    eqs = "\n".join([f"dv/dt = (E_L - v + R*({current} - I_adapt))/tau_m : volt (unless refractory)",
                     "dI_adapt/dt = (a*(v - E_L) - I_adapt)/tau_w : amp"] + lines + ["I_ext : amp"])
    model = NeuronModel(
        "alif", eqs, params, threshold="v > v_th", reset="v = v_reset; I_adapt += b",
        refractory="t_ref", inputs=("I_ext",), ports=ports, init={"v": "E_L"},
        method="exact", surrogate_scale="v_th - v_reset", domains=domains, constraints=constraints,
        derived={"rheobase": "(v_th - E_L)*(1 + a*R)/R"},
        description="adaptive leaky integrate-and-fire (subthreshold a, spike-triggered b)")
    return model.with_parameters(**parameters) if parameters else model
