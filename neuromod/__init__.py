"""neuromod: spiking neuron models fitted to real spike trains.

The top-level import is kept light (numpy only); torch, brian2 and elephant are
imported lazily by the features that need them.

>>> import neuromod
>>> st = neuromod.SpikeTrains.from_list([[0.1, 0.5], [0.2]], t_stop=1.0)
>>> st.n_trains
2
"""
__version__ = "0.1.0"

__all__ = ["SpikeTrains", "NeuromodError", "SpikeDataError", "__version__"]


def __getattr__(name):
    if name == "SpikeTrains":
        from neuromod.spikes import SpikeTrains
        return SpikeTrains
    if name in ("NeuromodError", "SpikeDataError"):
        from neuromod import errors
        return getattr(errors, name)
    raise AttributeError(f"module 'neuromod' has no attribute {name!r}")
