"""Figures for simulations (matplotlib is imported when a figure is drawn)."""
import os

import numpy as np

__all__ = ["simulation_figure"]


def simulation_figure(spike_trains, currents, path, title="", max_raster=200):
    """Raster (neurons ordered by input) and firing rate against input current.

    Parameters
    ----------
    spike_trains : SpikeTrains
    currents : array_like
        Input current of each neuron (amp).
    path : str
        Image file, written atomically (format from the extension).
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from neuromod.io import atomic_write
    currents = np.asarray(currents)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    n = min(spike_trains.n_trains, max_raster)
    idx = np.linspace(0, spike_trains.n_trains - 1, n).astype(int) if spike_trains.n_trains else []
    for row, i in enumerate(idx):
        t = spike_trains[int(i)]
        ax1.plot(t, np.full(t.size, row), "|", color="k", ms=3)
    ax1.set_xlim(spike_trains.t_start, spike_trains.t_stop)
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("neuron (by input)")
    ax1.set_title(title or "raster")
    ax2.plot(currents * 1e9, spike_trains.rates(), ".-")
    ax2.set_xlabel("input current (nA)")
    ax2.set_ylabel("rate (Hz)")
    ax2.set_title("f-I curve")
    ext = os.path.splitext(str(path))[1] or ".png"
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format=ext.lstrip(".")),
                     binary_suffix=ext)
    finally:
        plt.close(fig)
