"""Spike-train data layer: the flat :class:`SpikeTrains` container and its conversions."""
from neuromod.spikes.trains import SpikeTrains, as_spike_trains

__all__ = ["SpikeTrains", "as_spike_trains"]
