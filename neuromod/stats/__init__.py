"""Spike-train statistics on the flat :class:`~neuromod.spikes.SpikeTrains` arrays.

Submodules (imported on first use, so ``import neuromod.stats`` stays cheap):

- :mod:`~neuromod.stats.isi` — ISIs, CV, CV2, LV, per-train summary
- :mod:`~neuromod.stats.rates` — rates, Fano factors, binning, PSTH, instantaneous rate
- :mod:`~neuromod.stats.correlation` — cross-correlogram, spike-time tiling coefficient
- :mod:`~neuromod.stats.distances` — van Rossum and Victor–Purpura distance matrices
- :mod:`~neuromod.stats.synchrony` — ISI-distance, SPIKE-distance, SPIKE-synchronization
- :mod:`~neuromod.stats.evaluation` — PSTH correlation, noise ceiling, FEV, time rescaling
- :mod:`~neuromod.stats.summary` — the report of ``neuromod stats``

Every function is also available here, e.g. ``neuromod.stats.cv(st)``.

Examples
--------
>>> from neuromod import stats
>>> stats.cv([[0.0, 0.25, 0.5, 0.75]]).tolist()
[0.0]
"""
import importlib

_EXPORTS = {
    "isi": ("isis", "cv", "cv2", "lv", "per_train"),
    "rates": ("bin_counts", "mean_rates", "fano_factor", "windowed_fano_factor",
              "time_histogram", "psth", "optimal_kernel_bandwidth", "instantaneous_rate"),
    "correlation": ("cross_correlogram", "cross_correlograms", "sttc", "sttc_matrix",
                    "tiling_fraction"),
    "distances": ("van_rossum_distance", "victor_purpura_distance"),
    "synchrony": ("isi_distance", "spike_distance", "spike_sync"),
    "evaluation": ("psth_correlation", "split_half_noise_ceiling",
                   "fraction_explainable_variance", "time_rescaling_ks"),
    "summary": ("summarize",),
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        mod = importlib.import_module(f"neuromod.stats.{_WHERE[name]}")
        value = getattr(mod, name)
        globals()[name] = value
        return value
    if name in _EXPORTS or name in ("plots",):
        return importlib.import_module(f"neuromod.stats.{name}")
    raise AttributeError(f"module 'neuromod.stats' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
