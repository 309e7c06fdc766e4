"""Spiketrum spike files: the shared ``.npz`` spike file plus the encoder configuration.

The file is written by :func:`neuromod.io.write` (``times``, ``ids``, window,
``n_trains`` and per-neuron annotations ``channel``/``polarity``/``level``) with one
JSON extra, ``spiketrum``, holding the encoder configuration (including the file's
gain), so ``neuromod stats`` reads it as any spike file and ``neuromod decode``
needs nothing else.
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
    write(spikes, path, extras={CONFIG_KEY: dict(config)})


def load_code(path):
    """Read ``(spikes, config)`` from a spiketrum spike file.

    Raises
    ------
    AudioError
        If the file holds no spiketrum configuration.

    Examples
    --------
    See :func:`save_code`.
    """
    from neuromod.io import read_npz
    spikes, extras = read_npz(path)
    config = extras.get(CONFIG_KEY)
    if not isinstance(config, dict):
        raise AudioError(f"{path}: no spiketrum encoder configuration in this spike file "
                         "(was it written by 'neuromod encode'?)")
    return spikes, config
