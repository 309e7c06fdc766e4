"""Perturb spike codes: delete spikes, jitter their times, add spurious spikes.

All functions take a :class:`~neuromod.spikes.SpikeTrains` and a seed (or
``numpy.random.Generator``) and return a new container on the same window and
neurons; vectorised over spikes. Used to measure how the reconstruction degrades
(waveform SNR and log-spectrogram correlation, :mod:`neuromod.auditory.metrics`).
Waveform SNR collapses under sub-millisecond jitter even for a perfect code, so
timing robustness is judged in the spectrogram domain or by classification.
"""
import numpy as np

__all__ = ["delete_spikes", "jitter_spikes", "add_spikes"]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _rebuild(st, times, ids):
    from neuromod.spikes import SpikeTrains
    return SpikeTrains(times, ids, t_start=st.t_start, t_stop=st.t_stop, n_trains=st.n_trains,
                       annotations=dict(st.annotations), sort=True)


def delete_spikes(st, fraction, seed=0):
    """Delete ``round(fraction * n_spikes)`` spikes chosen uniformly without replacement.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.1, 0.2, 0.3, 0.4]], t_stop=1.0)
    >>> delete_spikes(st, 0.5, seed=1).n_spikes
    2
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    n_del = int(round(fraction * st.n_spikes))
    keep = np.ones(st.n_spikes, dtype=bool)
    keep[_rng(seed).choice(st.n_spikes, n_del, replace=False)] = False
    return _rebuild(st, st.times[keep], st.ids[keep])


def jitter_spikes(st, sigma_s, seed=0):
    """Add independent Gaussian jitter of standard deviation ``sigma_s`` seconds to every
    spike; times are reflected back into the window ``[t_start, t_stop)``.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.1, 0.5]], t_stop=1.0)
    >>> bool(np.all(jitter_spikes(st, 0.0).times == st.times))
    True
    """
    if not sigma_s >= 0:
        raise ValueError(f"jitter must be >= 0 s, got {sigma_s}")
    t = st.times + sigma_s * _rng(seed).standard_normal(st.n_spikes)
    lo, hi = st.t_start, st.t_stop
    span = hi - lo
    # reflect into [lo, hi] (period 2 span), then keep strictly below hi
    u = np.mod(t - lo, 2 * span)
    t = lo + np.where(u > span, 2 * span - u, u)
    t = np.minimum(t, np.nextafter(hi, lo))
    return _rebuild(st, t, st.ids)


def add_spikes(st, fraction, seed=0, grid=None):
    """Add ``round(fraction * n_spikes)`` spurious spikes: neurons uniform over all
    trains, times uniform over the window (rounded to a multiple of ``grid`` seconds
    from ``t_start`` when given, e.g. ``1 / 16000``).

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.1, 0.2], [0.3, 0.4]], t_stop=1.0)
    >>> add_spikes(st, 0.5, seed=0).n_spikes
    6
    """
    if not fraction >= 0:
        raise ValueError(f"fraction must be >= 0, got {fraction}")
    rng = _rng(seed)
    n_add = int(round(fraction * st.n_spikes))
    t = st.t_start + rng.random(n_add) * (st.t_stop - st.t_start)
    if grid:
        t = st.t_start + np.floor((t - st.t_start) / grid) * grid
    ids = rng.integers(0, st.n_trains, n_add)
    return _rebuild(st, np.concatenate((st.times, t)), np.concatenate((st.ids, ids)))


def measure(code, kind, values, seeds=(0,)):
    """Reconstruction scores of a spiketrum code under a perturbation, per strength.

    Parameters
    ----------
    code : SpiketrumCode
    kind : {'delete', 'jitter', 'add'}
        :func:`delete_spikes` (fraction), :func:`jitter_spikes` (sigma in seconds) or
        :func:`add_spikes` (fraction, times on the sample grid).
    values : sequence of float
        Perturbation strengths.
    seeds : sequence of int
        One perturbation per seed; scores are averaged.

    Returns
    -------
    dict
        ``{"value": [...], "snr_db": [...], "spectrogram_corr": [...]}`` (means over
        seeds), scores as :mod:`neuromod.auditory.metrics` defines them, against the
        encoded signal at the internal rate.

    Examples
    --------
    >>> from neuromod.auditory.spiketrum import encode
    >>> rng = np.random.default_rng(0)
    >>> code = encode(rng.standard_normal(1600), 16000, rate=2000, channels=8)
    >>> m = measure(code, "delete", [0.0, 0.5])
    >>> m["snr_db"][0] > m["snr_db"][1]
    True
    """
    from neuromod.auditory.metrics import log_spectrogram_correlation, snr_db
    from neuromod.auditory.spiketrum import decode
    fs = code.config["sample_rate"]
    ops = {"delete": lambda st, v, s: delete_spikes(st, v, s),
           "jitter": lambda st, v, s: jitter_spikes(st, v, s),
           "add": lambda st, v, s: add_spikes(st, v, s, grid=1.0 / fs)}
    if kind not in ops:
        raise ValueError(f"kind must be one of {', '.join(ops)}, got {kind!r}")
    out = {"value": [], "snr_db": [], "spectrogram_corr": []}
    for v in values:
        snr, corr = [], []
        for s in seeds:
            xh = decode(ops[kind](code.spikes, v, s), code.config)
            snr.append(snr_db(code.signal, xh))
            corr.append(log_spectrogram_correlation(code.signal, xh, fs))
        out["value"].append(float(v))
        out["snr_db"].append(float(np.mean(snr)))
        out["spectrogram_corr"].append(float(np.mean(corr)))
    return out
