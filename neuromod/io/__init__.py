"""Spike-file readers and writers for :class:`~neuromod.spikes.SpikeTrains`.

Formats, chosen by extension or an explicit ``format=`` (see ``docs/io.md``):

=======  =========  ==========================================================
name     extension  content
=======  =========  ==========================================================
``txt``  ``.txt``   one train per line, spike times in seconds
``csv``  ``.csv``   ``id,time`` rows, one spike per row
``npz``  ``.npz``   ``times``, ``ids``, window, ``ann_*`` annotations, extras
``nix``  ``.nix``   Neo's NIX files (``neo.io.NixIO``)
``nwb``  ``.nwb``   NWB files through Neo (``neo.io.NWBIO``)
=======  =========  ==========================================================

Every format round-trips spike times bit for bit, empty trains, the window and
the ``unit``/``trial`` annotations (and other scalar per-train annotations).
Writes are atomic: a temporary file in the target's directory is renamed onto
the target only when complete.

Window precedence when reading: explicit ``t_start``/``t_stop`` arguments (spikes
outside them are cut, as :meth:`SpikeTrains.time_slice` does), else the window the
file declares (spikes outside it are an error), else the container's default
``[min(0, first spike), last spike]``.

This module imports neither numba, neo nor h5py: each format's dependencies are
imported when a file of that format is read or written.

Examples
--------
>>> import os, tempfile
>>> from neuromod.spikes import SpikeTrains
>>> st = SpikeTrains.from_list([[0.1, 0.25], [], [0.5]], t_stop=1.0)
>>> path = os.path.join(tempfile.mkdtemp(), "spikes.csv")
>>> write(st, path)
>>> read(path).equals(st)
True
"""
import os

from neuromod.errors import FileFormatError
from neuromod.io._common import atomic_write, check_exists
from neuromod.spikes.trains import SpikeTrains, as_spike_trains

__all__ = ["read", "write", "read_npz", "FORMATS", "format_from_path", "atomic_write",
           "check_exists"]

#: Format name -> file extensions (lower case, with the dot).
FORMATS = {
    "txt": (".txt",),
    "csv": (".csv",),
    "npz": (".npz",),
    "nix": (".nix",),
    "nwb": (".nwb",),
}

_ALIASES = {"text": "txt"}


#: Format name -> (module, reader, writer); the module is imported on first use.
_FUNCTIONS = {
    "txt": ("neuromod.io.textfile", "read_text", "write_text"),
    "csv": ("neuromod.io.csvfile", "read_csv", "write_csv"),
    "npz": ("neuromod.io.npzfile", "read_npz", "write_npz"),
    "nix": ("neuromod.io.neofile", "read_nix", "write_nix"),
    "nwb": ("neuromod.io.neofile", "read_nwb", "write_nwb"),
}


def _function(fmt, role):
    """The ``role`` ("read" or "write") function of format ``fmt``."""
    import importlib
    module, reader, writer = _FUNCTIONS[fmt]
    return getattr(importlib.import_module(module), reader if role == "read" else writer)


def format_from_path(path, format=None):
    """The format name for ``path``: ``format`` if given (a name such as ``"csv"`` or
    an extension such as ``".csv"``), else from the file's extension.

    Parameters
    ----------
    path : str or path-like
    format : str, optional

    Returns
    -------
    str
        A key of :data:`FORMATS`.

    Raises
    ------
    FileFormatError
        Unknown format name, or an extension that names no format (the message
        suggests ``format=`` / ``--format``).

    Examples
    --------
    >>> format_from_path("data/cell3.CSV")
    'csv'
    >>> format_from_path("spikes.dat", format="txt")
    'txt'
    """
    names = ", ".join(FORMATS)
    if format is not None:
        key = str(format).strip().lower().lstrip(".")
        key = _ALIASES.get(key, key)
        if key not in FORMATS:
            raise FileFormatError(f"unknown spike-file format {format!r}; known formats: {names}")
        return key
    ext = os.path.splitext(os.fspath(path))[1].lower()
    for key, exts in FORMATS.items():
        if ext in exts:
            return key
    shown = f"extension {ext!r}" if ext else "no extension"
    raise FileFormatError(
        f"{os.fspath(path)}: cannot tell the spike-file format ({shown}); give format= "
        f"(--format on the command line), one of: {names}")


def read(path, format=None, *, sort=False, t_start=None, t_stop=None):
    """Read a spike file into :class:`~neuromod.spikes.SpikeTrains`.

    Parameters
    ----------
    path : str or path-like
    format : str, optional
        ``"txt"``, ``"csv"``, ``"npz"``, ``"nix"`` or ``"nwb"``; default from the
        extension (:func:`format_from_path`).
    sort : bool
        Accept unsorted spike times within a train and sort them (default: error).
    t_start, t_stop : float or quantity, optional
        Window in seconds (``quantities``/Brian2 quantities accepted). When given it
        overrides the file's window and spikes outside it are cut, as
        :meth:`SpikeTrains.time_slice` does (inclusive bounds).

    Returns
    -------
    SpikeTrains

    Raises
    ------
    FileNotFoundError
        The file does not exist (the error names it).
    FileFormatError, SpikeDataError
        Bad content; a one-line message naming the file and the line (text, CSV)
        or train: non-numeric tokens, NaN/inf, spikes outside the file's window,
        ``t_stop <= t_start``, unsorted times (without ``sort``), empty or binary
        files, unknown extensions, annotations that are not one of bool, int,
        unsigned int, float or str (one kind each), NWB index arrays that are
        negative, decreasing or point past their data.
    ResourceLimitError
        The file would need more memory than ``NEUROMOD_MEMORY_LIMIT``: the
        number of trains (a CSV id, an ``n_trains`` field), the ``.npy`` headers of
        an ``.npz`` archive, the declared shapes of NIX/NWB datasets and the size
        of a text file are checked before anything is allocated.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "spikes.txt")
    >>> _ = open(p, "w").write("0.1 0.2\\n\\n0.3\\n")
    >>> st = read(p)
    >>> st.n_trains, st.t_stop
    (3, 0.3)
    >>> read(p, t_start=0.15, t_stop=1.0).counts.tolist()
    [1, 0, 1]
    """
    fmt = format_from_path(path, format)
    fn = _function(fmt, "read")
    if fmt == "npz":
        return fn(path, sort=sort, t_start=t_start, t_stop=t_stop)[0]
    return fn(path, sort=sort, t_start=t_start, t_stop=t_stop)


def read_npz(path, *, sort=False, t_start=None, t_stop=None):
    """Read an ``.npz`` spike file and its extras: ``(SpikeTrains, dict)``.

    Extras are every key that is not part of the spike data: arrays as stored,
    dicts decoded from their JSON text. See :func:`neuromod.io.npzfile.read_npz`.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "enc.npz")
    >>> st = SpikeTrains.from_list([[0.1]], t_stop=1.0)
    >>> write(st, p, extras={"config": {"n_channels": 32}})
    >>> read_npz(p)[1]
    {'config': {'n_channels': 32}}
    """
    from neuromod.io.npzfile import read_npz as _read_npz
    return _read_npz(path, sort=sort, t_start=t_start, t_stop=t_stop)


def write(spike_trains, path, format=None, *, extras=None):
    """Write spike trains to ``path`` atomically.

    Parameters
    ----------
    spike_trains : SpikeTrains
        Or anything :func:`~neuromod.spikes.as_spike_trains` accepts.
    path : str or path-like
    format : str, optional
        Default from the extension (:func:`format_from_path`).
    extras : dict, optional
        ``.npz`` only: name -> array (stored as is) or dict (stored as JSON text),
        read back by :func:`read_npz`.

    Notes
    -----
    The file is written to a temporary file in the same directory and moved onto
    ``path`` with ``os.replace`` when complete; on any error nothing is left
    behind and an existing file is untouched. Times are written repr-exact
    (text/CSV) or as float64 (binary formats), so reading returns them bit for bit.

    Examples
    --------
    >>> import os, tempfile
    >>> st = SpikeTrains.from_list([[0.1, 0.25], []], t_stop=1.0,
    ...                            annotations={"unit": [3, 3], "trial": [0, 1]})
    >>> p = os.path.join(tempfile.mkdtemp(), "spikes.txt")
    >>> write(st, p)
    >>> read(p).annotations["trial"].tolist()
    [0, 1]
    """
    fmt = format_from_path(path, format)
    st = spike_trains if isinstance(spike_trains, SpikeTrains) else as_spike_trains(spike_trains)
    fn = _function(fmt, "write")
    if fmt == "npz":
        return fn(st, path, extras=extras)
    if extras:
        raise FileFormatError(
            f"{os.fspath(path)}: extras can only be stored in .npz files, not {fmt}")
    return fn(st, path)
