"""neuromod: spiking neuron models fitted to real spike trains.

The top-level import is kept light (numpy only); torch, brian2 and elephant are
imported lazily by the features that need them.

>>> import neuromod
>>> st = neuromod.SpikeTrains.from_list([[0.1, 0.5], [0.2]], t_stop=1.0)
>>> st.n_trains
2

:func:`load` reads every kind of file :func:`save` writes -- model definitions,
networks, trained layers and training states -- from one ``.npz`` with a JSON header
(:mod:`neuromod.backends.serialize`; never a pickle):

>>> import os, tempfile
>>> from neuromod.neurons import lif
>>> path = os.path.join(tempfile.mkdtemp(), "lif.npz")
>>> neuromod.save(lif(tau_m="12*ms"), path)
>>> neuromod.load(path).parameters["tau_m"].value
0.012
"""
__version__ = "0.1.0"

__all__ = ["SpikeTrains", "NeuromodError", "SpikeDataError", "load", "save", "__version__"]


def __getattr__(name):
    if name == "SpikeTrains":
        from neuromod.spikes import SpikeTrains
        return SpikeTrains
    if name == "load":
        return _load
    if name == "save":
        from neuromod.backends import serialize
        return serialize.save
    if name in ("NeuromodError", "SpikeDataError"):
        from neuromod import errors
        return getattr(errors, name)
    raise AttributeError(f"module 'neuromod' has no attribute {name!r}")


def _load(path):
    """Read what :func:`save` (or a model's own ``save``) wrote: model definitions,
    networks, trained layers, training states and fitted retina models
    (:mod:`neuromod.retina`)."""
    from neuromod.backends import serialize
    obj = serialize.load(path)
    if isinstance(obj, dict) and "retina_model" in obj:
        from neuromod.retina.base import load_model
        return load_model(obj, path)
    return obj
