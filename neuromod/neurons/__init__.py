"""Reference neuron models written once for both backends.

====================  ===================================================================
name                  model
====================  ===================================================================
``lif``               leaky integrate-and-fire, current-based synapses (exp/biexp/delta)
``alif``              adaptive LIF: LIF plus a subthreshold- and spike-triggered
                      adaptation current (Brette & Gerstner 2005 without the exponential)
``coba-lif``          conductance-based LIF (COBA benchmark of Vogels & Abbott 2005)
``noisy-lif``         discrete-time noisy LIF with Bernoulli firing (NSNN, Ma et al. 2023)
``escape-lif``        LIF with Bernoulli escape noise once per step
``pcnn``              classic pulse-coupled neuron (Eckhorn/Johnson; pyclustering defaults)
``icm``               intersecting cortical model (Kinser)
``scm``               spiking cortical model (Zhan, Zhang & Ma 2009)
====================  ===================================================================

:data:`OPTIONS` lists the string options a factory takes (``noise='gaussian'``), by
model, with their choices (``neuromod simulate --set noise=logistic``).

Each entry of :data:`MODELS` is a factory returning a fresh
:class:`~neuromod.backends.NeuronModel`; :func:`get_model` looks one up by name.

Examples
--------
>>> from neuromod.neurons import get_model
>>> get_model("lif").states
['v', 'I_e', 'I_i']
"""
from neuromod.neurons.alif import alif
from neuromod.neurons.coba_lif import coba_lif
from neuromod.neurons.lif import lif
from neuromod.neurons.nsnn import RESETS, escape_lif, noisy_lif
from neuromod.neurons.pcnn import icm, pcnn, scm

__all__ = ["lif", "alif", "coba_lif", "noisy_lif", "escape_lif", "pcnn", "icm", "scm",
           "MODELS", "OPTIONS",
           "get_model", "rheobase"]

#: Model name -> factory (the names ``neuromod simulate`` accepts).
MODELS = {"lif": lif, "alif": alif, "coba-lif": coba_lif, "noisy-lif": noisy_lif,
          "escape-lif": escape_lif, "pcnn": pcnn, "icm": icm, "scm": scm}

_NOISE = ("gaussian", "logistic", "triangular", "uniform")
#: Model name -> {string option of its factory: its choices, the default first}.
OPTIONS = {"lif": {"kernel": ("exp", "biexp", "delta")},
           "alif": {"kernel": ("exp", "biexp")}, "coba-lif": {"kernel": ("exp", "biexp")},
           "noisy-lif": {"noise": _NOISE, "reset": tuple(RESETS)},
           "escape-lif": {"noise": _NOISE}}


def get_model(name, **options):
    """The reference model ``name`` (see :data:`MODELS`), built with ``options``.

    Raises
    ------
    KeyError
        For an unknown name (the message lists the known ones).
    """
    try:
        factory = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
    return factory(**options)


def rheobase(model):
    """Smallest constant ``I_ext`` (amp) that makes a reference model fire (continuous time).

    Each model declares it in its definition (``derived={"rheobase": ...}``, see
    :meth:`~neuromod.backends.NeuronModel.derived_value`): ``lif``: ``(v_th - E_L)/R``;
    ``alif``: ``(v_th - E_L)(1 + a R)/R`` (the adaptation current at steady state adds
    ``a (v - E_L)``); ``coba-lif``: ``g_L (v_th - E_L)``. A model without one raises a
    one-line ``ModelDefinitionError``.

    Examples
    --------
    >>> round(rheobase(lif()), 15)
    1e-09
    """
    return model.derived_value("rheobase")
