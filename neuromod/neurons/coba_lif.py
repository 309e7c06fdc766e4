"""Conductance-based leaky integrate-and-fire neuron.

Membrane with excitatory and inhibitory conductances (Vogels & Abbott 2005;
the COBA network of Brette et al. 2007)::

    C_m dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_i (E_i - v) + I_ext   (unless refractory)
    dg_e/dt = -g_e / tau_e,   dg_i/dt = -g_i / tau_i
    v > v_th  ->  v = v_reset, refractory for t_ref

The membrane equation is linear in ``v`` with a coefficient that depends on the
conductances, so the method is ``exponential_euler`` (exact for the
conductances, and for ``v`` whenever the conductances are constant over the step).
Defaults: ``C_m = 200 pF``, ``g_L = 10 nS`` (``tau_m = 20 ms``), ``E_L = v_reset =
-60 mV``, ``v_th = -50 mV``, ``E_e = 0 mV``, ``E_i = -80 mV``, ``tau_e = 5 ms``,
``tau_i = 10 ms``, ``t_ref = 5 ms``; rheobase ``g_L (v_th - E_L) = 0.1 nA``.
"""
from neuromod.backends.model import NeuronModel
from neuromod.backends.synapses import receptor

__all__ = ["coba_lif", "DOMAINS"]

#: Valid ranges of the membrane parameters (``C_m`` and the leak ``g_L`` > 0,
#: ``t_ref`` >= 0, potentials finite); receptors add theirs (time constants > 0,
#: reversal potentials finite).
DOMAINS = {"C_m": "positive", "g_L": "positive", "E_L": "finite", "v_th": "finite",
           "v_reset": "finite", "t_ref": "non_negative"}


def coba_lif(kernel="exp", **parameters):
    """The conductance-based LIF reference model (ports ``'e'`` and ``'i'``, weights in siemens).

    Examples
    --------
    >>> coba_lif().method
    'exponential_euler'
    """
    params = {"C_m": "200*pF", "g_L": "10*nS", "E_L": "-60*mV", "v_th": "-50*mV",
              "v_reset": "-60*mV", "t_ref": "5*ms"}
    domains, constraints = dict(DOMAINS), ()
    lines, ports, terms = [], {}, ["g_L*(E_L - v)"]
    for r, tau, E in (("e", "5*ms", "0*mV"), ("i", "10*ms", "-80*mV")):
        rec = receptor(r, "conductance", kernel, tau=tau, E_rev=E,
                       tau_rise="1*ms" if r == "e" else "2*ms")
        lines.append(rec.equations)
        params.update(rec.parameters)
        domains.update(rec.domains)
        constraints += rec.constraints
        ports[r] = (rec.port, rec.port_unit)
        terms.append(f"{rec.drive}*(E_{r} - v)")
    eqs = "\n".join([f"dv/dt = ({' + '.join(terms)} + I_ext)/C_m : volt (unless refractory)"]
                    + lines + ["I_ext : amp"])
    model = NeuronModel(
        "coba-lif", eqs, params, threshold="v > v_th", reset="v = v_reset", refractory="t_ref",
        inputs=("I_ext",), ports=ports, init={"v": "E_L"}, method="exponential_euler",
        surrogate_scale="v_th - v_reset", domains=domains, constraints=constraints,
        derived={"rheobase": "g_L*(v_th - E_L)"},
        description="conductance-based leaky integrate-and-fire (exponential Euler)")
    return model.with_parameters(**parameters) if parameters else model
