"""Figures of spike-train statistics (matplotlib, imported on use, Agg backend)."""
import numpy as np

from neuromod.limits import check_allocation

__all__ = ["stats_figure", "save_figure"]


def save_figure(fig, path, dpi=110, **savefig_kwargs):
    """Save ``fig`` to ``path`` atomically (:func:`neuromod.io.atomic_write`); the format
    follows the extension of ``path`` (png, pdf, svg, ...). Other keyword arguments go
    to ``Figure.savefig``."""
    import os
    from neuromod.io import atomic_write
    ext = os.path.splitext(os.fspath(path))[1] or ".png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=ext.lstrip("."),
                                               **savefig_kwargs),
                 binary_suffix=ext)


def stats_figure(spike_trains, report, path, bin_size=0.1, max_raster_trains=200):
    """One figure with a raster, the PSTH, the ISI histogram and the SPIKE-distance matrix.

    Parameters
    ----------
    spike_trains : SpikeTrains
    report : dict
        Output of :func:`neuromod.stats.summary.summarize` (its SPIKE-distance matrix is
        drawn when present).
    path : str
        Output image file.
    bin_size : float
        PSTH bin width in seconds.
    max_raster_trains : int
        Draw at most this many trains in the raster.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    st = spike_trains
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax = axes[0, 0]
    shown = st.subset(np.arange(min(st.n_trains, max_raster_trains)))
    ax.scatter(shown.times, shown.ids, s=2, marker="|", color="k")
    ax.set(xlim=(st.t_start, st.t_stop), xlabel="time (s)", ylabel="train",
           title=f"raster ({shown.n_trains} of {st.n_trains} trains)")
    ax = axes[0, 1]
    # population counts (one row, not trains x bins); matplotlib holds ~20 doubles per bin
    edges = st.bin_edges(bin_size)
    nb = edges.size - 1
    check_allocation(nb * 8 * 20, f"PSTH figure: {nb} bins (bin_size={bin_size:g} s)")
    k = np.clip(np.floor((st.times - st.t_start) / (edges[1] - edges[0])).astype(np.int64),
                0, nb - 1)
    counts = np.bincount(k, minlength=nb)
    widths = np.diff(edges)
    rate = counts / (max(st.n_trains, 1) * widths)
    ax.stairs(rate, edges, fill=True, color="tab:blue", alpha=0.7)
    ax.set(xlabel="time (s)", ylabel="rate (Hz)", title=f"PSTH (bin {bin_size:g} s)")
    ax = axes[1, 0]
    d = np.diff(st.times)
    same = st.ids[1:] == st.ids[:-1]
    isis = d[same]
    if isis.size:
        ax.hist(isis * 1e3, bins=50, color="tab:gray")
    ax.set(xlabel="ISI (ms)", ylabel="count", title=f"ISI histogram ({isis.size} intervals)")
    ax = axes[1, 1]
    m = report.get("pairwise", {}).get("spike_distance")
    if m is not None:
        im = ax.imshow(np.asarray(m, dtype=float), cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set(xlabel="train", ylabel="train", title="SPIKE-distance")
    else:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
