"""Tempotron input patterns from spike files, and back.

A file of labelled patterns is a spike file in any :mod:`neuromod.io` format whose
trains carry two per-train annotations:

* ``trial``: the pattern a train belongs to. Patterns come in the order of the
  sorted distinct ``trial`` values.
* ``label``: the pattern's label, an integer (the class of a binary tempotron, the
  wanted spike count of a multi-spike tempotron), the same on every train of a
  trial.

Within a trial, one train per afferent, in the file's order: afferent ``i`` is the
``i``-th train of its trial (trials may interleave in the file). Every trial has
the same number of trains. All trains share the file's window ``[t_start,
t_stop]``; a pattern lasts ``t_stop - t_start`` and its times are shifted so that it
starts at 0. Spike times before 0 in the file are an error.

:func:`save_patterns` writes such a file (``unit`` = afferent index as well), and
:func:`load_patterns` reads it back.

Examples
--------
>>> import os, tempfile
>>> from neuromod.neurons.tempotron import Patterns
>>> P = Patterns.from_lists([[[0.01, 0.2], []], [[], [0.05]]], 0.5)
>>> path = os.path.join(tempfile.mkdtemp(), "patterns.npz")
>>> save_patterns(path, P, [1, 0])
>>> Q, labels = load_patterns(path)
>>> Q.n_patterns, Q.n_afferents, Q.duration, labels.tolist()
(2, 2, 0.5, [1, 0])
>>> Q.times.tolist(), Q.afferents.tolist(), Q.offsets.tolist()
([0.01, 0.2, 0.05], [0, 0, 1], [0, 2, 3])
"""
import os

import numpy as np

from neuromod.errors import FileFormatError, NeuromodError, ParameterError, SpikeDataError, naming

__all__ = ["load_patterns", "save_patterns"]

_INT64_MAX = np.iinfo(np.int64).max


def _show(v):
    """A short text of one annotation value."""
    v = v.item() if isinstance(v, np.generic) else v
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _integer_labels(values, name, error):
    """``values`` (1-D) as int64; ``error(message)`` for anything that is not an integer
    (bool counts as 0/1; floats must be whole numbers)."""
    v = np.asarray(values)
    kind = v.dtype.kind
    if kind == "b":
        return v.astype(np.int64)
    if kind == "i":
        return v.astype(np.int64, copy=False)
    if kind == "u":
        if v.size and v.max() > _INT64_MAX:
            raise error(f"{name} {_show(v.max())} does not fit in int64")
        return v.astype(np.int64)
    if kind == "f":
        bad = ~np.isfinite(v) | (np.abs(v) > 2.0 ** 62)
        bad[~bad] = v[~bad] != np.round(v[~bad])
        if bad.any():
            raise error(f"{name} {_show(v[np.flatnonzero(bad)[0]])} is not an integer; labels "
                        "must be integers")
        return v.astype(np.int64)
    what = "strings" if kind == "U" else f"of dtype {v.dtype}"
    shown = f" (e.g. {_show(v.flat[0])})" if v.size else ""
    raise error(f"{name}s are {what}{shown}; labels must be integers")


def load_patterns(path, label_key="label", trial_key="trial", *, format=None):
    """Read labelled tempotron patterns from a spike file.

    Parameters
    ----------
    path : str or path-like
        A spike file in any :mod:`neuromod.io` format (``.txt``, ``.csv``, ``.npz``,
        ``.nix``, ``.nwb``) whose trains carry ``trial_key`` and ``label_key``
        annotations (see the module's docstring for the layout).
    label_key : str
        The annotation holding each trial's label.
    trial_key : str
        The annotation naming each train's trial (one pattern per distinct value,
        in sorted order). The containers of :mod:`neuromod.spikes` give every train
        ``trial = 0`` when a file declares none, so a file without ``trial``
        annotations holds one pattern.
    format : str, optional
        The file's format when its extension does not tell (:func:`neuromod.io.read`).

    Returns
    -------
    patterns : Patterns
        On ``[0, t_stop - t_start]``; afferent ``i`` of a pattern is the ``i``-th train
        of its trial, in the file's order.
    labels : ndarray (n_patterns,) int64
        The label of each pattern.

    Raises
    ------
    FileFormatError
        One line naming the file: no trains, no ``label_key`` (or ``trial_key``)
        annotation, trials with different numbers of trains, different labels
        within one trial, labels that are not integers (strings, or floats that are
        not whole numbers).
    SpikeDataError
        A spike time below 0 (the message names the train), or whatever
        :func:`neuromod.io.read` refuses.

    Examples
    --------
    >>> import os, tempfile
    >>> from neuromod import io
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.3], [], [0.1, 0.2], [0.4]], t_start=0.0, t_stop=0.5,
    ...                            annotations={"trial": [0, 0, 1, 1], "label": [1, 1, 0, 0]})
    >>> path = os.path.join(tempfile.mkdtemp(), "trials.txt")
    >>> io.write(st, path)
    >>> P, labels = load_patterns(path)
    >>> P.n_patterns, P.n_afferents, labels.tolist()
    (2, 2, [1, 0])
    >>> P.times.tolist(), P.afferents.tolist()
    ([0.3, 0.1, 0.2, 0.4], [0, 0, 0, 1])
    >>> io.write(SpikeTrains.from_list([[0.1]], t_stop=1.0), path)
    >>> load_patterns(path)                                     # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    neuromod.errors.FileFormatError: ...trials.txt: no 'label' annotation on its trains ...
    """
    from neuromod import io
    from neuromod.neurons.tempotron import Patterns
    where = os.fspath(path)
    with naming(where):
        st = io.read(path, format=format)
        if st.n_trains == 0:
            raise FileFormatError(f"{where}: no spike trains; a pattern file needs one train "
                                  "per afferent and trial")
        ann = st.annotations
        known = ", ".join(sorted(ann))
        for key in (label_key, trial_key):
            if key not in ann:
                raise FileFormatError(
                    f"{where}: no {key!r} annotation on its trains (it has {known}); a "
                    f"pattern file gives every train its {trial_key!r} and {label_key!r}")
        trial_values, trial = np.unique(ann[trial_key], return_inverse=True)
        trial = trial.ravel().astype(np.int64)
        n_patterns = len(trial_values)
        sizes = np.bincount(trial, minlength=n_patterns)
        if (sizes != sizes[0]).any():
            k = int(np.flatnonzero(sizes != sizes[0])[0])
            raise FileFormatError(
                f"{where}: {trial_key} {_show(trial_values[k])} has {sizes[k]} trains, "
                f"{trial_key} {_show(trial_values[0])} has {sizes[0]}; every trial needs one "
                "train per afferent")
        n_afferents = int(sizes[0])
        # the position of each train within its trial, in the file's order
        order = np.argsort(trial, kind="stable")
        starts = np.arange(n_patterns, dtype=np.int64) * n_afferents
        afferent = np.empty(st.n_trains, dtype=np.int64)
        afferent[order] = np.arange(st.n_trains, dtype=np.int64) - starts[trial[order]]
        every = _integer_labels(ann[label_key], label_key,
                                lambda msg: FileFormatError(f"{where}: {msg}"))
        labels = every[order[starts]]              # each trial's first train's label
        differ = every != labels[trial]
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            k = trial[i]
            raise FileFormatError(
                f"{where}: {trial_key} {_show(trial_values[k])} has conflicting {label_key}s "
                f"({labels[k]} and {every[i]} on train {i}); every train of a trial carries "
                "its label")
        if st.times.size and st.times.min() < 0:
            i = int(np.argmin(st.times))
            raise SpikeDataError(
                f"{where}: train {st.ids[i]}: spike at {float(st.times[i])!r} s is before 0; "
                "pattern files hold no negative times (cut them first, e.g. with "
                "neuromod.io.read(path, t_start=0))")
        duration = st.t_stop - st.t_start
        patterns = Patterns.from_arrays(st.times - st.t_start, afferent[st.ids], trial[st.ids],
                                        n_afferents, duration, n_patterns=n_patterns)
    return patterns, labels


def save_patterns(path, patterns, labels, *, format=None, label_key="label",
                  trial_key="trial"):
    """Write labelled tempotron patterns to a spike file (the inverse of
    :func:`load_patterns`), atomically, through :func:`neuromod.io.write`.

    Train ``p * n_afferents + i`` holds afferent ``i`` of pattern ``p``, with the
    annotations ``trial_key = p``, ``label_key = labels[p]`` and ``unit = i``, on the
    window ``[0, patterns.duration]``.

    Parameters
    ----------
    path : str or path-like
        Format from the extension (``.txt``, ``.csv``, ``.npz``, ``.nix``, ``.nwb``)
        unless ``format`` is given.
    patterns : Patterns
    labels : array_like (n_patterns,) of int
    format : str, optional
    label_key, trial_key : str
        The annotation names (two different names; neither ``"unit"``).

    Raises
    ------
    ParameterError
        Not a ``Patterns``, labels that are not one integer per pattern, bad keys.
    OutputError, OSError
        The file cannot be written (nothing is left behind).

    Examples
    --------
    >>> import os, tempfile
    >>> from neuromod import io
    >>> from neuromod.neurons.tempotron import Patterns
    >>> P = Patterns.from_lists([[[0.01], [0.02, 0.03]]], 0.1)
    >>> path = os.path.join(tempfile.mkdtemp(), "one.csv")
    >>> save_patterns(path, P, [3])
    >>> st = io.read(path)
    >>> st.n_trains, st.annotations["label"].tolist(), st.t_stop
    (2, [3, 3], 0.1)
    """
    from neuromod import io
    from neuromod.neurons.tempotron import Patterns
    from neuromod.spikes import SpikeTrains
    if not isinstance(patterns, Patterns):
        raise ParameterError(f"patterns must be a Patterns, got {type(patterns).__name__}")
    for name, key in (("label_key", label_key), ("trial_key", trial_key)):
        if not isinstance(key, str) or not key or key == "unit":
            raise ParameterError(f"{name} must be a non-empty annotation name other than "
                                 f"'unit', got {key!r}")
    if label_key == trial_key:
        raise ParameterError(f"label_key and trial_key must differ, both are {label_key!r}")
    P, N = patterns.n_patterns, int(patterns.n_afferents)
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != P:
        raise ParameterError(f"labels must be one value per pattern: {P} patterns, labels of "
                             f"shape {y.shape}")
    if y.dtype.kind == "O":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ParameterError("labels must be integers") from None
    y = _integer_labels(y, "label", ParameterError)
    pattern = np.repeat(np.arange(P, dtype=np.int64), np.diff(patterns.offsets))
    ids = pattern * N + np.asarray(patterns.afferents, dtype=np.int64)
    n_trains = P * N
    annotations = {"unit": np.tile(np.arange(N, dtype=np.int64), P),
                   trial_key: np.repeat(np.arange(P, dtype=np.int64), N),
                   label_key: np.repeat(y, N)}
    try:
        st = SpikeTrains(patterns.times, ids, t_start=0.0, t_stop=patterns.duration,
                         n_trains=n_trains, annotations=annotations)
    except NeuromodError as exc:
        raise ParameterError(f"patterns: {exc}") from None
    io.write(st, path, format=format)
