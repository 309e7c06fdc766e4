"""Reference neuron models written once for both backends.

====================  ===================================================================
name                  model
====================  ===================================================================
``lif``               leaky integrate-and-fire, current-based synapses (exp/biexp/delta)
``alif``              adaptive LIF: LIF plus a subthreshold- and spike-triggered
                      adaptation current (Brette & Gerstner 2005 without the exponential)
``coba-lif``          conductance-based LIF (COBA benchmark of Vogels & Abbott 2005)
====================  ===================================================================

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

__all__ = ["lif", "alif", "coba_lif", "MODELS", "get_model", "rheobase"]

#: Model name -> factory (the names ``neuromod simulate`` accepts).
MODELS = {"lif": lif, "alif": alif, "coba-lif": coba_lif}


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
