"""Spiketrum spike files: the shared ``.npz`` spike file plus the encoder configuration.

The file is written by :func:`neuromod.io.write` (``times``, ``ids``, window,
``n_trains`` and per-neuron annotations ``channel``/``polarity``/``level``) with one
JSON extra, ``spiketrum``, holding the encoder configuration (including the file's
gain), so ``neuromod stats`` reads it as any spike file and ``neuromod decode``
needs nothing else.

Reading checks the configuration as a whole
(:func:`~neuromod.auditory.spiketrum.check_config`: every field's type and range)
and the spikes against it (:func:`~neuromod.auditory.spiketrum.check_spikes`: neuron
ids and times the configuration can represent), so a tampered file is a one-line
error naming it and the field, never a traceback or a NaN-filled sound.
"""
from neuromod.auditory.audio import AudioError

__all__ = ["CONFIG_KEY", "save_code", "load_code"]

CONFIG_KEY = "spiketrum"


def save_code(spikes, config, path):
    """Write spikes and the encoder configuration to ``path`` (``.npz``), atomically.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from neuromod.auditory.spiketrum import encode
    >>> code = encode(np.random.default_rng(0).standard_normal(800), 16000, rate=500, channels=4)
    >>> p = os.path.join(tempfile.mkdtemp(), "a.spikes.npz")
    >>> save_code(code.spikes, code.config, p)
    >>> st, cfg = load_code(p)
    >>> st.n_spikes, cfg["gain"] == code.config["gain"]
    (25, True)
    """
    from neuromod.io import write
    from neuromod.auditory.spiketrum import check_config, check_spikes
    config = check_config(config, path)
    check_spikes(spikes, config, path)
    write(spikes, path, extras={CONFIG_KEY: dict(config)})


def load_code(path):
    """Read ``(spikes, config)`` from a spiketrum spike file.

    Returns
    -------
    spikes : SpikeTrains
    config : dict
        The configuration, checked (:func:`~neuromod.auditory.spiketrum.check_config`).

    Raises
    ------
    AudioError
        If the file holds no spiketrum configuration, a field of it has the wrong type
        or range, or a spike lies outside what the configuration represents (one line
        naming the file and the field or spike).
    FileFormatError
        If the file is not a readable spike file.

    Examples
    --------
    See :func:`save_code`.
    """
    from neuromod.io import read_npz
    from neuromod.auditory.spiketrum import check_config, check_spikes
    spikes, extras = read_npz(path)
    if CONFIG_KEY not in extras:
        raise AudioError(f"{path}: no spiketrum encoder configuration in this spike file "
                         "(was it written by 'neuromod encode'?)")
    config = check_config(extras[CONFIG_KEY], path)
    check_spikes(spikes, config, path)
    return spikes, config
