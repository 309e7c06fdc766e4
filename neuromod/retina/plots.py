"""Figures of retina-model evaluations (matplotlib, Agg back end, imported on use).

Each ``fig_*`` function draws one figure and writes it to ``path`` (format from the
extension, written atomically by :func:`neuromod.stats.plots.save_figure`):

* :func:`fig_rasters` -- rasters of the recorded test repeats and of each model's
  sampled repeats, for one unit;
* :func:`fig_psth` -- the data's PSTH with each model's overlaid;
* :func:`fig_filters` -- spatial and temporal filters of the models that expose
  them through ``model.filters()`` (a dict with ``'spatial'``, ``(H, W)`` or
  ``(D,)``, and ``'temporal'``, ``(lags,)``; optional ``'lag_dt'`` in seconds);
  models without ``filters`` are skipped;
* :func:`fig_summary` -- bar charts of the headline figures of
  :func:`neuromod.retina.evaluate.compare`'s rows, with the data's own values (the
  noise ceiling, the data-data van Rossum distance, the data's Fano factor and
  short-ISI share) drawn as dashed lines.

Model samples are :class:`~neuromod.spikes.SpikeTrains` laid out as the recording's
test trains (train ``trial * n_units + unit``), e.g. from
:func:`neuromod.retina.base.counts_to_spikes`, or count arrays ``(trials, bins,
units)`` with ``bin_size`` given.
"""
import numpy as np

__all__ = ["fig_rasters", "fig_psth", "fig_filters", "fig_summary", "summary_figure"]

#: Metrics of the summary chart: (row key, reference key in the data row, label).
SUMMARY = (("psth_corr", "psth_corr", "PSTH correlation\n(dashed: noise ceiling)"),
           ("fev", None, "FEV"),
           ("bits_per_spike", None, "bits / spike\n(vs training-rate Poisson)"),
           ("van_rossum", "van_rossum", "van Rossum model-data\n(dashed: data-data)"),
           ("fano_model", "fano_model", "Fano factor\n(dashed: data)"),
           ("short_isi_frac_model", "short_isi_frac_model",
            "share of ISIs < 3 ms\n(dashed: data)"))


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    from neuromod.stats.plots import save_figure
    try:
        save_figure(fig, path)
    finally:
        _plt().close(fig)


def _trains(samples, bin_size):
    """SpikeTrains from SpikeTrains or counts (trials, bins, units)."""
    from neuromod.retina.base import counts_to_spikes
    from neuromod.spikes import SpikeTrains
    if isinstance(samples, SpikeTrains):
        return samples
    if bin_size is None:
        raise ValueError("model samples given as counts need bin_size")
    return counts_to_spikes(np.asarray(samples), bin_size)


def _unit(st, unit, n_units):
    """Unit ``unit``'s trains of a test layout (train ``trial * n_units + unit``)."""
    return st.subset(np.arange(st.n_trains // n_units) * n_units + unit)


def fig_rasters(recording, samples, unit, path, bin_size=None, t_range=None, max_trials=None):
    """Rasters of unit ``unit``: the recorded repeats on top, then each model's.

    Parameters
    ----------
    recording : Recording
    samples : dict of str to SpikeTrains or counts
        The models' sampled test repeats, by model name.
    unit : int
    path : str
    bin_size : float, optional
        Bin of count arrays in ``samples``.
    t_range : (float, float), optional
        Time window shown, seconds (default the whole test stimulus).
    max_trials : int, optional
        Draw at most this many trials of each.
    """
    plt = _plt()
    U = recording.n_units
    panels = [("data", _unit(recording.test_spikes, unit, U))]
    panels += [(name, _unit(_trains(s, bin_size), unit, U)) for name, s in samples.items()]
    t0, t1 = t_range if t_range is not None else (0.0, recording.test_duration)
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.2 + 1.3 * len(panels)),
                             sharex=True, squeeze=False)
    for ax, (name, st) in zip(axes[:, 0], panels):
        n = st.n_trains if max_trials is None else min(st.n_trains, int(max_trials))
        st = st.subset(np.arange(n))
        keep = (st.times >= t0) & (st.times <= t1)
        ax.scatter(st.times[keep], st.ids[keep], s=6, marker="|", linewidths=0.8,
                   color="k" if name == "data" else "tab:blue")
        ax.set(ylim=(-0.5, max(n, 1) - 0.5), ylabel=f"{name}\ntrial")
    axes[-1, 0].set(xlim=(t0, t1), xlabel="time (s)")
    axes[0, 0].set_title(f"{recording.unit_names[unit]}: test repeats, data and models")
    fig.tight_layout()
    _save(fig, path)


def fig_psth(recording, samples, unit, path, psth_bin=0.02, bin_size=None, t_range=None):
    """The data's PSTH of unit ``unit`` (``psth_bin`` seconds) with each model's
    sampled PSTH overlaid."""
    from neuromod.stats import psth
    plt = _plt()
    nb = recording.n_bins(psth_bin, "test")
    t1 = nb * psth_bin
    fig, ax = plt.subplots(figsize=(10, 3.6))
    r, e = psth(_unit(recording.test_spikes, unit, recording.n_units), psth_bin, 0.0, t1)
    ax.stairs(r, e, color="k", linewidth=1.6, label="data")
    for name, s in samples.items():
        r, e = psth(_unit(_trains(s, bin_size), unit, recording.n_units), psth_bin, 0.0, t1)
        ax.stairs(r, e, linewidth=1.0, label=name)
    ax.set(xlabel="time (s)", ylabel="rate (Hz)",
           title=f"{recording.unit_names[unit]}: PSTH (bin {psth_bin * 1e3:g} ms)")
    if t_range is not None:
        ax.set_xlim(*t_range)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def fig_filters(models, path, unit=0):
    """Spatial and temporal filters of unit ``unit`` for each model with ``filters()``.

    ``models`` is a dict of name to model; ``filters()`` returns a dict with
    ``'spatial'`` ``(H, W)`` or ``(D,)`` and ``'temporal'`` ``(lags,)``, or arrays with
    a leading units axis (``(units, H, W)``, ``(units, lags)``). Models without
    ``filters`` are skipped; when none has them the figure says so.
    """
    plt = _plt()
    found = []
    for name, m in models.items():
        get = getattr(m, "filters", None)
        if callable(get):
            found.append((name, get()))
    if not found:
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no model here exposes filters()", ha="center", va="center")
        _save(fig, path)
        return
    fig, axes = plt.subplots(len(found), 2, figsize=(9, 3.2 * len(found)), squeeze=False)
    for (name, f), (ax_s, ax_t) in zip(found, axes):
        s = f.get("spatial")
        t = f.get("temporal")
        if s is not None:
            s = np.asarray(s, dtype=np.float64)
            if s.ndim == 3 or (s.ndim == 2 and t is not None and np.ndim(t) == 2):
                s = s[unit]
            if s.ndim == 2:
                lim = float(np.max(np.abs(s))) or 1.0
                im = ax_s.imshow(s, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
                fig.colorbar(im, ax=ax_s, shrink=0.8)
            else:
                ax_s.plot(s, ".-")
                ax_s.axhline(0.0, color="0.7", linewidth=0.8)
                ax_s.set_xlabel("input")
        else:
            ax_s.axis("off")
        ax_s.set_title(f"{name}: spatial filter")
        if t is not None:
            t = np.asarray(t, dtype=np.float64)
            if t.ndim == 2:
                t = t[unit]
            dt = f.get("lag_dt")
            x = np.arange(t.size) * (dt if dt else 1.0)
            ax_t.plot(x * (1e3 if dt else 1.0), t, ".-")
            ax_t.axhline(0.0, color="0.7", linewidth=0.8)
            ax_t.set_xlabel("lag (ms)" if dt else "lag (frames)")
        else:
            ax_t.axis("off")
        ax_t.set_title(f"{name}: temporal filter")
    fig.tight_layout()
    _save(fig, path)


def summary_figure(rows):
    """The summary bar chart of :func:`neuromod.retina.evaluate.compare`'s rows (a
    matplotlib Figure; :func:`fig_summary` writes it)."""
    plt = _plt()
    models = [r for r in rows if r.get("model") != "data"]
    refs = {r.get("data"): r for r in rows if r.get("model") == "data"}
    names = [str(r.get("model")) if len({m.get("data") for m in models}) <= 1
             else f"{r.get('model')} ({r.get('data')})" for r in models]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    x = np.arange(len(models))
    for ax, (key, ref, label) in zip(axes.ravel(), SUMMARY):
        vals = np.array([np.nan if r.get(key) is None else float(r[key]) for r in models])
        ax.bar(x, np.nan_to_num(vals), color=[colors[i % len(colors)] for i in x])
        for i, v in enumerate(vals):
            if not np.isfinite(v):
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8)
        if ref is not None:
            for i, r in enumerate(models):
                d = refs.get(r.get("data"), {}).get(ref)
                if d is not None:
                    ax.hlines(float(d), i - 0.45, i + 0.45, colors="k", linestyles="--")
        if key == "bits_per_spike":
            ax.axhline(0.0, color="0.5", linewidth=0.8)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    return fig


def fig_summary(rows, path):
    """Write :func:`summary_figure` of ``rows`` to ``path``."""
    _save(summary_figure(rows), path)
