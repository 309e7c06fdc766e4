"""Spikegram over the spectrogram (matplotlib, imported on call)."""
import numpy as np

__all__ = ["plot_spikegram"]


def plot_spikegram(code, path=None, ax=None, title=None):
    """Draw the spikes of a :class:`~neuromod.auditory.spiketrum.SpiketrumCode` on top of
    the log-power spectrogram of the encoded signal.

    Each spike is a dot at (spike time, centre frequency of its kernel); red for
    positive, blue for negative polarity, dot area growing with the magnitude level.
    The spectrogram is :func:`neuromod.auditory.metrics.stft_power` (25 ms Hann,
    10 ms hop) in dB re its maximum, clipped at -80 dB.

    Parameters
    ----------
    code : SpiketrumCode
    path : str, optional
        Save the figure there (PNG by extension) and close it.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from neuromod.auditory.spiketrum import encode
    >>> code = encode(np.random.default_rng(0).standard_normal(1600), 16000, rate=500, channels=8)
    >>> fig = plot_spikegram(code)
    """
    import matplotlib
    if path is not None and ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from neuromod.auditory.metrics import stft_power, HOP_S, WINDOW_S
    from neuromod.auditory.spiketrum import dictionary_for, make_config, neuron_fields
    from neuromod.auditory.spiketrum import DEFAULTS
    cfg = make_config(**{k: code.config[k] for k in DEFAULTS})
    fs = cfg["sample_rate"]
    d = dictionary_for(cfg)
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 4.5))
    else:
        fig = ax.figure
    p = stft_power(code.signal, fs)
    db = 10 * np.log10(p / p.max() + 1e-8)
    # frame j covers [j hop, j hop + window); drawn centred on its middle
    t_edges = WINDOW_S / 2 + HOP_S * (np.arange(p.shape[0] + 1) - 0.5)
    df = fs / (2 * (p.shape[1] - 1))
    f_edges = np.clip(df * (np.arange(p.shape[1] + 1) - 0.5), 1.0, fs / 2)
    ax.pcolormesh(t_edges, f_edges, db.T, cmap="Greys", vmin=-80, vmax=0, shading="flat",
                  rasterized=True)
    k, pol, lev = neuron_fields(code.spikes.ids, cfg["levels"])
    size = 2.0 + 18.0 * (lev + 1) / cfg["levels"]
    colours = np.where(pol == 0, "tab:red", "tab:blue")
    ax.scatter(code.spikes.times, d.cf[k], s=size, c=colours, alpha=0.6, linewidths=0)
    ax.set_yscale("log")
    ax.set_ylim(max(20.0, d.cf[0] * 0.8), fs / 2)
    ax.set_xlim(0, code.spikes.t_stop)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("kernel centre frequency (Hz)")
    ax.set_title(title or f"spiketrum: {code.n_spikes} spikes ({code.rate:.0f}/s), "
                          f"{cfg['channels']} kernels x 2 polarities x {cfg['levels']} levels")
    if path is not None:
        from neuromod.stats.plots import save_figure
        save_figure(fig, path, bbox_inches="tight")
        plt.close(fig)
    return fig
