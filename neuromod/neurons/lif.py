"""Leaky integrate-and-fire neuron with current-based synapses.

Membrane (Lapicque 1907; Gerstner et al. 2014, *Neuronal Dynamics*, ch. 1)::

    tau_m dv/dt = E_L - v + R (I_e + I_i + I_ext)        (unless refractory)
    v > v_th  ->  spike, v = v_reset, refractory for t_ref

Synaptic currents ``I_e``, ``I_i`` decay exponentially (``tau_e``, ``tau_i``) or as
a difference of exponentials; ``kernel='delta'`` instead makes a spike of
weight ``w`` (volt) jump ``v`` directly. The defaults follow the CUBA benchmark
network (Vogels & Abbott 2005; Brette et al. 2007): ``tau_m = 20 ms``,
``E_L = v_reset = -60 mV``, ``v_th = -50 mV``, ``t_ref = 5 ms``, ``tau_e = 5 ms``,
``tau_i = 10 ms``; ``R = 10 Mohm`` makes the rheobase ``(v_th - E_L)/R = 1 nA``.

Analytic f-I curve for a constant input ``I`` above rheobase (continuous time)::

    rate = 1 / (t_ref + tau_m ln((R I + E_L - v_reset) / (R I + E_L - v_th)))
"""
from neuromod.backends.model import NeuronModel
from neuromod.backends.synapses import receptor

__all__ = ["lif", "DOMAINS"]

#: Valid ranges of the membrane parameters (receptors add theirs: time constants > 0).
DOMAINS = {"tau_m": "positive", "E_L": "finite", "v_th": "finite", "v_reset": "finite",
           "R": "positive", "t_ref": "non_negative"}


def lif(kernel="exp", receptors=("e", "i"), **parameters):
    """The LIF reference model.

    Parameters
    ----------
    kernel : {'exp', 'biexp', 'delta'}
        Synaptic kernel of every receptor.
    receptors : sequence of str
        Receptor names; each gets a port of that name (``'e'``, ``'i'``).
        Weights are in amp (volt for ``'delta'``); inhibition is a negative weight.
    **parameters
        Overrides of the defaults (Brian2 text such as ``tau_m='10*ms'``, quantities
        or SI numbers), checked against :data:`DOMAINS` (``tau_m``, ``R`` and the
        synaptic time constants > 0, ``t_ref`` >= 0, potentials finite).

    Returns
    -------
    NeuronModel

    Examples
    --------
    >>> m = lif()
    >>> m.parameters["v_th"].text()
    '-50*mV'
    >>> lif(kernel="delta").ports["e"].code
    'v += w'
    """
    params = {"tau_m": "20*ms", "E_L": "-60*mV", "v_th": "-50*mV", "v_reset": "-60*mV",
              "R": "10*Mohm", "t_ref": "5*ms"}
    domains, constraints = dict(DOMAINS), ()
    taus = {"e": "5*ms", "i": "10*ms"}
    lines, ports, drives = [], {}, []
    for r in receptors:
        if kernel == "delta":
            ports[r] = ("v += w", "volt")
            continue
        rec = receptor(r, "current", kernel, tau=taus.get(r, "5*ms"),
                       tau_rise="1*ms" if r == "e" else "2*ms")
        lines.append(rec.equations)
        params.update(rec.parameters)
        domains.update(rec.domains)
        constraints += rec.constraints
        ports[r] = (rec.port, rec.port_unit)
        drives.append(rec.drive)
    current = " + ".join(drives + ["I_ext"])
    eqs = "\n".join([f"dv/dt = (E_L - v + R*({current}))/tau_m : volt (unless refractory)"]
                    + lines + ["I_ext : amp"])
    model = NeuronModel(
        "lif", eqs, params, threshold="v > v_th", reset="v = v_reset", refractory="t_ref",
        inputs=("I_ext",), ports=ports, init={"v": "E_L"}, method="exact",
        surrogate_scale="v_th - v_reset", domains=domains, constraints=constraints,
        derived={"rheobase": "(v_th - E_L)/R"},
        description="leaky integrate-and-fire, current-based synapses "
                    f"({kernel} kernel)")
    return model.with_parameters(**parameters) if parameters else model
