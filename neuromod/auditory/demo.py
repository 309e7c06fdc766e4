"""The auditory part of ``neuromod demo``: encode and decode the embedded speech clip."""
import os
import time

__all__ = ["run"]


def run(outdir, rate=4000.0, plot=True, outputs=None):
    """Encode the shipped sentence (``speech/demo.wav``) with spiketrum, decode it, score it.

    Writes into ``outdir``: ``speech.spikes.npz`` (spikes + encoder configuration),
    ``speech.decoded.wav`` (16-bit PCM, 16 kHz) and, with ``plot``,
    ``speech.spikegram.png`` (spikegram over the spectrogram).

    Parameters
    ----------
    outdir : str or path-like
        Created if missing.
    rate : float
        Spikes per second of audio.
    plot : bool
        Draw the spikegram (matplotlib).
    outputs : neuromod.outputs.Outputs, optional
        Stage the files there (committed with the caller's other outputs); by
        default each file is written atomically on its own.

    Returns
    -------
    dict
        ``{"input", "duration_s", "internal_rate", "channels", "n_spikes", "rate_hz",
        "snr_db", "spectrogram_corr", "encode_s", "realtime_factor", "files"}``.

    Examples
    --------
    >>> import tempfile
    >>> figs = run(tempfile.mkdtemp(), rate=1000.0, plot=False)
    >>> figs["n_spikes"] == round(1000.0 * figs["duration_s"])
    True
    """
    from neuromod.auditory.audio import read_wav, write_wav
    from neuromod.auditory.spikefile import save_code
    from neuromod.auditory.spiketrum import encode
    from neuromod.data import path
    src = path("speech/demo.wav")
    os.makedirs(outdir, exist_ok=True)
    x, fs, _ = read_wav(src)
    t0 = time.perf_counter()
    code = encode(x, fs, rate=rate)
    wall = time.perf_counter() - t0
    files = [os.path.join(outdir, "speech.spikes.npz"), os.path.join(outdir, "speech.decoded.wav")]
    if plot:
        files.append(os.path.join(outdir, "speech.spikegram.png"))
    if outputs is not None:
        handles = [outputs.add(f) for f in files]
        write = lambda k, fn: outputs.write(handles[k], fn)   # noqa: E731
    else:
        write = lambda k, fn: fn(files[k])                    # noqa: E731
    write(0, lambda tmp: save_code(code.spikes, code.config, tmp))
    write(1, lambda tmp: write_wav(tmp, code.decode(), code.config["sample_rate"]))
    if plot:
        from neuromod.auditory.plot import plot_spikegram
        write(2, lambda tmp: plot_spikegram(code, tmp))
    s = code.scores()
    return {"input": str(src), "duration_s": code.spikes.duration,
            "internal_rate": code.config["sample_rate"], "channels": code.config["channels"],
            "n_spikes": code.n_spikes, "rate_hz": code.rate, "snr_db": s["snr_db"],
            "spectrogram_corr": s["spectrogram_corr"], "encode_s": wall,
            "realtime_factor": code.spikes.duration / wall, "files": files}
