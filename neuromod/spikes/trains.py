"""The spike-train container: a population of trains stored as flat arrays.

:class:`SpikeTrains` holds every spike of every train in two flat arrays,
``times`` (float64 seconds) and ``ids`` (int64 train index), ordered by train and,
within a train, by time. A CSR-style ``offsets`` array (length ``n_trains + 1``)
gives train ``i`` as ``times[offsets[i]:offsets[i + 1]]``; no per-train Python
objects exist until asked for (Neo objects cost ~0.3 ms each to build, so
:meth:`SpikeTrains.to_neo` builds them only on request).

Per-train annotations live in ``annotations``: a dict of arrays of length
``n_trains``. ``unit`` (which neuron) and ``trial`` (which repetition) are always
present, so repeated trials of one neuron are first-class (PSTHs, noise ceilings).
"""
import math
import numbers

import numpy as np

from neuromod.errors import SpikeDataError
from neuromod.limits import check_allocation
from neuromod.units import to_seconds

__all__ = ["SpikeTrains", "check_annotation", "check_offsets", "check_n_trains",
           "check_str_annotation",
           "ANNOTATION_KINDS", "TRAIN_BYTES", "SPIKE_BYTES"]

#: Annotations every container carries.
REQUIRED_ANNOTATIONS = ("unit", "trial")

#: numpy dtype kinds an annotation may have: bool, int, unsigned int, float, str.
ANNOTATION_KINDS = "biufU"
_KIND_NAMES = {"b": "bool", "i": "int", "u": "unsigned int", "f": "float", "U": "str",
               "S": "bytes", "O": "object", "V": "void (structured)", "c": "complex",
               "M": "datetime", "m": "timedelta", "T": "string"}

#: Bytes the container allocates per train while it is built (offsets, counts and
#: their temporaries, the ``unit`` and ``trial`` annotations): the estimate checked
#: against ``NEUROMOD_MEMORY_LIMIT`` before anything is allocated.
TRAIN_BYTES = 48
#: Bytes per spike while the container is built (times, ids, order, copies).
SPIKE_BYTES = 40


def _fmt(x):
    return f"{x:.9g}"


def check_n_trains(n_trains, n_spikes=0, what=None):
    """Refuse (:class:`~neuromod.errors.ResourceLimitError`) a container of
    ``n_trains`` trains and ``n_spikes`` spikes whose arrays would exceed
    ``NEUROMOD_MEMORY_LIMIT``; checked before anything is allocated.

    ``what`` names the source for the message (default ``"<n> spike trains"``).

    Examples
    --------
    >>> check_n_trains(1000)
    >>> check_n_trains(10**12)
    Traceback (most recent call last):
    ...
    neuromod.errors.ResourceLimitError: 1000000000000 spike trains would allocate 43.7 TiB (limit 8 GiB; set NEUROMOD_MEMORY_LIMIT)
    """
    check_allocation(TRAIN_BYTES * int(n_trains) + SPIKE_BYTES * int(n_spikes),
                     what or f"{int(n_trains)} spike trains")


def _value_kind(v):
    """The annotation kind of one Python/numpy scalar (``'x'``: not allowed)."""
    if isinstance(v, (bool, np.bool_)):
        return "b"
    if isinstance(v, numbers.Integral):
        return "i"
    if isinstance(v, (float, np.floating)):
        return "f"
    if isinstance(v, str):
        return "U"
    return "x"


def check_annotation(name, values, n_trains):
    """One per-train annotation as a 1-D array of ``n_trains`` values, checked.

    Supported: arrays (or sequences, or one scalar for every train) of ONE kind
    -- bool, int, unsigned int, float or str (numpy kinds ``b i u f U``); a sequence
    (or 1-D object array) of ints and floats becomes float64, one of str a str
    array. Anything else (object arrays of other or mixed types, bytes, complex,
    datetime, structured/void dtypes, nested values) is refused: such values cannot be written to every format nor grouped by the
    statistics. This is the one check every path shares (the constructor, the
    file readers through it).

    Raises
    ------
    SpikeDataError
        Naming the annotation: unsupported dtype or value, mixed types, wrong length.

    Examples
    --------
    >>> check_annotation("unit", [3, 3, 4], 3).tolist()
    [3, 3, 4]
    >>> check_annotation("label", [1, "a"], 2)
    Traceback (most recent call last):
    ...
    neuromod.errors.SpikeDataError: annotation 'label' mixes value types (int, str); an annotation holds values of one kind: bool, int, float or str
    """
    if isinstance(values, np.ndarray) and values.dtype.kind == "O" and values.ndim == 1:
        values = values.tolist()          # Python objects: checked one by one below
    if isinstance(values, (list, tuple)):
        kinds = {_value_kind(v) for v in values}
        if "x" in kinds:
            bad = next(v for v in values if _value_kind(v) == "x")
            raise SpikeDataError(
                f"annotation {name!r}: value {_short(bad)} of type {type(bad).__name__} is not "
                "a bool, int, float or str")
        if len(kinds) > 1 and kinds != {"i", "f"}:
            shown = ", ".join(_KIND_NAMES[k] for k in sorted(kinds, key="bifU".index))
            raise SpikeDataError(
                f"annotation {name!r} mixes value types ({shown}); an annotation holds values "
                "of one kind: bool, int, float or str")
        if kinds == {"U"}:
            # numpy stores every string at the longest one's width (4 bytes a character)
            check_str_annotation(name, values)
        try:
            arr = np.asarray(values, dtype=np.float64 if kinds == {"i", "f"} else None)
        except (OverflowError, ValueError, TypeError) as exc:
            raise SpikeDataError(f"annotation {name!r}: {' '.join(str(exc).split())}") from None
    else:
        arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind not in ANNOTATION_KINDS or arr.dtype.fields is not None:
        raise SpikeDataError(
            f"annotation {name!r} has dtype {arr.dtype} ({_KIND_NAMES.get(kind, kind)}); "
            "annotations are bool, int, unsigned int, float or str arrays")
    if arr.ndim == 0:
        check_allocation(int(n_trains) * arr.dtype.itemsize, f"annotation {name!r}")
        arr = np.full(n_trains, arr.item(), dtype=arr.dtype)
    if arr.ndim != 1:
        raise SpikeDataError(f"annotation {name!r} has shape {arr.shape}; expected one value "
                             f"per train, shape ({n_trains},)")
    if arr.shape != (n_trains,):
        raise SpikeDataError(f"annotation {name!r} has {arr.size} values for {n_trains} trains")
    return arr


def check_str_annotation(name, values):
    """Refuse a str annotation whose numpy array (every value at the width of the
    longest, 4 bytes a character) would exceed the memory limit.

    Examples
    --------
    >>> check_str_annotation("area", ["V1", "LGN"])
    >>> check_str_annotation("area", ["x" * 10**6] + [""] * 10**4)
    Traceback (most recent call last):
    ...
    neuromod.errors.ResourceLimitError: annotation 'area': 10001 strings of up to 1000000 characters would allocate 37.3 GiB (limit 8 GiB; set NEUROMOD_MEMORY_LIMIT)
    """
    longest = max(map(len, values), default=0)
    check_allocation(4 * longest * len(values),
                     f"annotation {name!r}: {len(values)} strings of up to {longest} characters")


def _short(v):
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def check_offsets(offsets, n_data, what="offsets", row="train", ends=False):
    """Validate the index array of a ragged (CSR) array: 1-D integers, none negative,
    non-decreasing, none past ``n_data``. Returns it as int64.

    With ``ends=False`` (CSR offsets, length ``n_rows + 1``) row ``k`` is
    ``data[offsets[k]:offsets[k + 1]]``; with ``ends=True`` (NWB's ``VectorIndex``,
    length ``n_rows``) ``offsets[k]`` is where row ``k`` ends. ``what`` names the array
    (and file) and ``row`` the kind of row, e.g.
    ``check_offsets(idx, n, "units.nwb: units/spike_times_index", "unit", ends=True)``.

    Raises
    ------
    SpikeDataError
        One line naming the array and the first bad row.

    Examples
    --------
    >>> check_offsets([0, 2, 2, 5], 5).tolist()
    [0, 2, 2, 5]
    >>> check_offsets([0, 2, 7], 5)
    Traceback (most recent call last):
    ...
    neuromod.errors.SpikeDataError: offsets: train 1 ends at 7, past the 5 data values
    >>> check_offsets([2, 1], 5, "spike_times_index", "unit", ends=True)
    Traceback (most recent call last):
    ...
    neuromod.errors.SpikeDataError: spike_times_index: unit 1 ends at 1, before it starts (2); the index must not decrease
    """
    arr = np.asarray(offsets)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise SpikeDataError(f"{what}: must be a 1-D integer array, got shape {arr.shape} "
                             f"dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise SpikeDataError(f"{what}: value {arr.max()} too large")
    arr = arr.astype(np.int64, copy=False)
    if arr.size == 0:
        return arr
    shift = 0 if ends else 1

    def rows(k):
        return f"{row} {k - shift} ends" if k - shift >= 0 else f"{row} 0 starts"

    neg = np.flatnonzero(arr < 0)
    if neg.size:
        k = int(neg[0])
        raise SpikeDataError(f"{what}: {rows(k)} at {arr[k]} (negative)")
    dec = np.flatnonzero(arr[1:] < arr[:-1])
    if dec.size:
        k = int(dec[0]) + 1
        raise SpikeDataError(f"{what}: {rows(k)} at {arr[k]}, before it starts ({arr[k - 1]}); "
                             "the index must not decrease")
    past = np.flatnonzero(arr > n_data)
    if past.size:
        k = int(past[0])
        raise SpikeDataError(f"{what}: {rows(k)} at {arr[k]}, past the {n_data} data values")
    return arr


class SpikeTrains:
    """A population of spike trains on a common window ``[t_start, t_stop]`` (seconds).

    Parameters
    ----------
    times : array_like or quantity
        Spike times in seconds (``quantities``/Brian2 quantities are converted).
        Any order across trains; within a train they must be non-decreasing
        unless ``sort=True``.
    ids : array_like of int
        Train index of each spike, ``0 <= ids < n_trains``.
    t_start, t_stop : float or quantity, optional
        Observation window in seconds. Defaults: ``t_start = min(0, first spike)``,
        ``t_stop = last spike``.
    n_trains : int, optional
        Number of trains (default ``max(ids) + 1``); trains with no spike are allowed.
    annotations : dict of str to array_like, optional
        Per-train values (length ``n_trains``), each of one kind: bool, int,
        unsigned int, float or str (see :func:`check_annotation`). ``unit`` defaults
        to ``arange(n_trains)`` and ``trial`` to zeros.
    sort : bool
        Sort unsorted spike times within each train instead of raising.

    Raises
    ------
    SpikeDataError
        On NaN/inf times, ids out of range, ``t_stop <= t_start``, spikes outside
        the window, (without ``sort``) unsorted times within a train, or an
        unsupported annotation. The message names the train or annotation.
    ResourceLimitError
        When the arrays of ``n_trains`` trains would exceed ``NEUROMOD_MEMORY_LIMIT``
        (checked before allocating).

    Examples
    --------
    >>> st = SpikeTrains([0.1, 0.4, 0.2], [0, 0, 1], t_start=0.0, t_stop=1.0)
    >>> st.n_trains, st.counts.tolist()
    (2, [2, 1])
    >>> st[1]
    array([0.2])
    """

    __slots__ = ("times", "ids", "t_start", "t_stop", "n_trains", "annotations", "offsets")

    def __init__(self, times, ids, t_start=None, t_stop=None, n_trains=None,
                 annotations=None, *, sort=False):
        times = np.asarray(to_seconds(times, "spike times"), dtype=np.float64).ravel()
        ids_in = np.asarray(ids).ravel()
        if times.shape != ids_in.shape:
            raise SpikeDataError(
                f"times and ids differ in length ({times.size} vs {ids_in.size})")
        if ids_in.size and not np.issubdtype(ids_in.dtype, np.integer):
            as_int = ids_in.astype(np.int64)
            if not np.array_equal(as_int, ids_in):
                raise SpikeDataError("ids must be integers")
            ids_in = as_int
        ids_in = ids_in.astype(np.int64, copy=False)
        if n_trains is None:
            n_trains = int(ids_in.max()) + 1 if ids_in.size else 0
        if isinstance(n_trains, bool) or not isinstance(n_trains, numbers.Integral):
            if not (isinstance(n_trains, float) and n_trains.is_integer()):
                raise SpikeDataError(f"n_trains must be an integer, got {n_trains!r}")
        n_trains = int(n_trains)
        if n_trains < 0:
            raise SpikeDataError(f"n_trains must be >= 0, got {n_trains}")
        check_n_trains(n_trains, times.size)
        if ids_in.size:
            lo, hi = int(ids_in.min()), int(ids_in.max())
            if lo < 0 or hi >= n_trains:
                bad = lo if lo < 0 else hi
                raise SpikeDataError(f"train id {bad} outside 0..{n_trains - 1}")
        bad = ~np.isfinite(times)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise SpikeDataError(f"train {ids_in[k]}: spike time {times[k]} is not finite")
        t_start = to_seconds(t_start, "t_start")
        t_stop = to_seconds(t_stop, "t_stop")
        for name, v in (("t_start", t_start), ("t_stop", t_stop)):
            if v is not None and not np.isfinite(v):
                raise SpikeDataError(f"{name} = {v} is not finite")
        if t_start is None:
            t_start = min(0.0, float(times.min())) if times.size else 0.0
        if t_stop is None:
            if not times.size:
                raise SpikeDataError("cannot infer the window of spike trains with no spikes; give t_stop")
            t_stop = float(times.max())
        t_start, t_stop = float(t_start), float(t_stop)
        if not t_stop > t_start:
            raise SpikeDataError(f"t_stop ({_fmt(t_stop)} s) must be greater than t_start ({_fmt(t_start)} s)")
        if times.size:
            out = (times < t_start) | (times > t_stop)
            if out.any():
                k = int(np.flatnonzero(out)[0])
                raise SpikeDataError(
                    f"train {ids_in[k]}: spike at {_fmt(times[k])} s outside the window "
                    f"[{_fmt(t_start)}, {_fmt(t_stop)}] s")
        # Order by train (stable, so the within-train order is the input order).
        if ids_in.size and np.any(ids_in[1:] < ids_in[:-1]):
            order = np.argsort(ids_in, kind="stable")
            ids_in = ids_in[order]
            times = times[order]
        else:
            times = times.copy()
        if times.size > 1:
            same = ids_in[1:] == ids_in[:-1]
            dec = same & (times[1:] < times[:-1])
            if dec.any():
                if not sort:
                    k = int(np.flatnonzero(dec)[0]) + 1
                    raise SpikeDataError(
                        f"train {ids_in[k]}: spike times not sorted ({_fmt(times[k])} s after "
                        f"{_fmt(times[k - 1])} s); sort them or pass sort=True (--sort)")
                order = np.lexsort((times, ids_in))
                times = times[order]
                ids_in = ids_in[order]
        self.times = times
        self.ids = ids_in
        self.t_start = t_start
        self.t_stop = t_stop
        self.n_trains = n_trains
        self.offsets = np.concatenate(
            ([0], np.cumsum(np.bincount(ids_in, minlength=n_trains)))).astype(np.int64)
        self.annotations = self._check_annotations(annotations, n_trains)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _check_annotations(annotations, n_trains):
        ann = {}
        for key, val in (annotations or {}).items():
            ann[str(key)] = check_annotation(str(key), val, n_trains)
        ann.setdefault("unit", np.arange(n_trains, dtype=np.int64))
        ann.setdefault("trial", np.zeros(n_trains, dtype=np.int64))
        return ann

    @classmethod
    def _trusted(cls, times, ids, t_start, t_stop, n_trains, annotations, offsets=None):
        """Build without validation from arrays already in canonical order."""
        self = cls.__new__(cls)
        self.times = times
        self.ids = ids
        self.t_start = float(t_start)
        self.t_stop = float(t_stop)
        self.n_trains = int(n_trains)
        if offsets is None:
            offsets = np.concatenate(
                ([0], np.cumsum(np.bincount(ids, minlength=n_trains)))).astype(np.int64)
        self.offsets = offsets
        self.annotations = annotations
        return self

    @classmethod
    def from_list(cls, trains, t_start=None, t_stop=None, annotations=None, *, sort=False):
        """Build from a sequence of 1-D spike-time arrays (one per train), in seconds.

        Examples
        --------
        >>> SpikeTrains.from_list([[0.1, 0.2], [], [0.5]], t_stop=1.0).counts.tolist()
        [2, 0, 1]
        """
        arrays = [np.atleast_1d(np.asarray(to_seconds(t, "spike times"), dtype=np.float64)).ravel()
                  for t in trains]
        n = len(arrays)
        lengths = np.array([a.size for a in arrays], dtype=np.int64)
        times = np.concatenate(arrays) if n else np.empty(0)
        ids = np.repeat(np.arange(n, dtype=np.int64), lengths)
        return cls(times, ids, t_start, t_stop, n_trains=n, annotations=annotations, sort=sort)

    @classmethod
    def from_binned(cls, counts, bin_size, t_start=0.0):
        """Spike trains from a (trains x bins) count array: ``counts[i, k]`` spikes at the
        centre of bin ``k`` of train ``i``. Re-binning with the same ``bin_size``
        returns ``counts`` exactly.

        Parameters
        ----------
        counts : array_like of int, shape (n_trains, n_bins), or a torch tensor
        bin_size : float or quantity
            Bin width in seconds.
        t_start : float or quantity
            Left edge of the first bin in seconds.

        Examples
        --------
        >>> SpikeTrains.from_binned([[0, 2, 1]], 0.1)[0]
        array([0.15, 0.15, 0.25])
        """
        if hasattr(counts, "detach"):
            counts = counts.detach().cpu().numpy()
        counts = np.asarray(counts)
        if counts.ndim != 2:
            raise SpikeDataError(f"binned counts must be 2-D (trains x bins), got shape {counts.shape}")
        if not np.all(np.isfinite(counts)) or np.any(counts < 0) or np.any(counts != np.round(counts)):
            raise SpikeDataError("binned counts must be non-negative integers")
        n_spikes = float(counts.sum(dtype=np.float64))
        check_allocation(n_spikes * 32 + counts.size * 8,
                         f"from_binned: {n_spikes:.0f} spikes in {counts.shape} bins")
        counts = counts.astype(np.int64)
        bin_size = to_seconds(bin_size, "bin_size")
        t_start = to_seconds(t_start, "t_start")
        n, nb = counts.shape
        flat = counts.ravel()
        cell = np.repeat(np.arange(flat.size), flat)
        ids = cell // nb
        times = t_start + (cell % nb + 0.5) * bin_size
        t_stop = t_start + nb * bin_size
        return cls._trusted(times.astype(np.float64), ids.astype(np.int64), t_start, t_stop, n,
                            cls._check_annotations(None, n))

    @classmethod
    def concatenate(cls, parts):
        """Stack several containers on the same window into one (trains appended in order).

        Examples
        --------
        >>> a = SpikeTrains.from_list([[0.1]], t_stop=1.0)
        >>> SpikeTrains.concatenate([a, a]).n_trains
        2
        """
        parts = list(parts)
        if not parts:
            raise SpikeDataError("nothing to concatenate")
        t0, t1 = parts[0].t_start, parts[0].t_stop
        for p in parts[1:]:
            if p.t_start != t0 or p.t_stop != t1:
                raise SpikeDataError("cannot concatenate spike trains on different windows")
        shift = np.cumsum([0] + [p.n_trains for p in parts[:-1]])
        times = np.concatenate([p.times for p in parts])
        ids = np.concatenate([p.ids + s for p, s in zip(parts, shift)])
        keys = set(parts[0].annotations)
        for p in parts[1:]:
            keys &= set(p.annotations)
        n = sum(p.n_trains for p in parts)
        ann = {}
        for k in keys:
            values = [p.annotations[k] for p in parts]
            kinds = {v.dtype.kind for v in values}
            if len(kinds) > 1 and not kinds <= set("iuf"):   # numpy would make str of int
                raise SpikeDataError(
                    f"cannot concatenate annotation {k!r}: the parts hold different kinds "
                    f"({', '.join(sorted(str(v.dtype) for v in values))})")
            ann[k] = check_annotation(k, np.concatenate(values), n)
        return cls._trusted(times, ids, t0, t1, n, ann)

    # ------------------------------------------------------------------ access
    @property
    def counts(self):
        """Number of spikes per train, shape ``(n_trains,)``."""
        return np.diff(self.offsets)

    @property
    def duration(self):
        """``t_stop - t_start`` in seconds."""
        return self.t_stop - self.t_start

    @property
    def n_spikes(self):
        """Total number of spikes."""
        return int(self.times.size)

    def rates(self):
        """Mean firing rate of each train in Hz (count / duration)."""
        return self.counts / self.duration

    def __len__(self):
        return self.n_trains

    def __iter__(self):
        for i in range(self.n_trains):
            yield self.times[self.offsets[i]:self.offsets[i + 1]]

    def train(self, i):
        """Spike times of train ``i`` (a read-only view, seconds)."""
        i = int(i)
        if i < 0:
            i += self.n_trains
        if not 0 <= i < self.n_trains:
            raise IndexError(f"train {i} out of range 0..{self.n_trains - 1}")
        v = self.times[self.offsets[i]:self.offsets[i + 1]].view()
        v.flags.writeable = False
        return v

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.train(key)
        idx = np.arange(self.n_trains)[key]
        return self.subset(idx)

    def subset(self, indices):
        """The trains ``indices`` (ints or a boolean mask), renumbered 0..k-1 in that order.

        Examples
        --------
        >>> st = SpikeTrains.from_list([[0.1], [0.2], [0.3]], t_stop=1.0)
        >>> st.subset([2, 0]).times.tolist()
        [0.3, 0.1]
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (self.n_trains,):
                raise IndexError("boolean mask must have one entry per train")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).ravel()
        if idx.size and (idx.min() < -self.n_trains or idx.max() >= self.n_trains):
            raise IndexError("train index out of range")
        idx = np.where(idx < 0, idx + self.n_trains, idx)
        starts, stops = self.offsets[idx], self.offsets[idx + 1]
        lengths = stops - starts
        new_ids = np.repeat(np.arange(idx.size, dtype=np.int64), lengths)
        # positions of the chosen spikes, vectorised over trains
        base = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        pos = base + np.arange(lengths.sum())
        ann = {k: v[idx] for k, v in self.annotations.items()}
        return SpikeTrains._trusted(self.times[pos], new_ids, self.t_start, self.t_stop,
                                    idx.size, ann)

    def select(self, **criteria):
        """Trains whose annotations match, e.g. ``select(unit=3)`` or ``select(trial=[0, 1])``.

        Examples
        --------
        >>> st = SpikeTrains.from_list([[0.1], [0.2]], t_stop=1.0,
        ...                            annotations={"unit": [7, 7], "trial": [0, 1]})
        >>> st.select(unit=7, trial=1).times.tolist()
        [0.2]
        """
        mask = np.ones(self.n_trains, dtype=bool)
        for key, val in criteria.items():
            if key not in self.annotations:
                raise KeyError(f"no annotation {key!r}; have {sorted(self.annotations)}")
            mask &= np.isin(self.annotations[key], np.atleast_1d(val))
        return self.subset(mask)

    def time_slice(self, t_start=None, t_stop=None):
        """The same trains restricted to ``[t_start, t_stop]`` (seconds), which becomes the window.

        Examples
        --------
        >>> SpikeTrains.from_list([[0.1, 0.5, 0.9]], t_stop=1.0).time_slice(0.2, 0.8)[0]
        array([0.5])
        """
        t0 = self.t_start if t_start is None else to_seconds(t_start, "t_start")
        t1 = self.t_stop if t_stop is None else to_seconds(t_stop, "t_stop")
        if not t1 > t0:
            raise SpikeDataError(f"t_stop ({_fmt(t1)} s) must be greater than t_start ({_fmt(t0)} s)")
        keep = (self.times >= t0) & (self.times <= t1)
        ids = self.ids[keep]
        return SpikeTrains._trusted(self.times[keep], ids, t0, t1, self.n_trains,
                                    dict(self.annotations))

    # ------------------------------------------------------------------ binning
    def bin_edges(self, bin_size):
        """Bin edges (seconds) used by :meth:`bin`: from ``t_start`` in steps of ``bin_size``;
        the last bin ends at or after ``t_stop`` so that no spike is dropped."""
        bin_size = to_seconds(bin_size, "bin_size")
        n_bins = self._n_bins(bin_size)
        return self.t_start + bin_size * np.arange(n_bins + 1)

    def _n_bins(self, bin_size, per_bin=8):
        """Number of bins of :meth:`bin`, refused before allocating when the
        ``(n_trains, n_bins)`` arrays (``per_bin`` bytes per train and bin, plus the
        edges) would exceed ``NEUROMOD_MEMORY_LIMIT``."""
        if not (np.ndim(bin_size) == 0 and math.isfinite(bin_size) and bin_size > 0):
            raise SpikeDataError(f"bin_size must be a finite time > 0, got {bin_size}")
        q = self.duration / float(bin_size) - 1e-9
        if not math.isfinite(q) or q > 2.0 ** 62:
            raise SpikeDataError(
                f"bin_size {bin_size:g} s gives too many bins for the window "
                f"[{_fmt(self.t_start)}, {_fmt(self.t_stop)}] s")
        n_bins = max(int(math.ceil(q)), 1)
        check_allocation(
            n_bins * (per_bin * self.n_trains + 8),
            f"binning {self.n_trains} trains x {n_bins} bins (bin_size={bin_size:g} s)")
        return n_bins

    def bin(self, bin_size, dtype=np.int64):
        """Spike counts in bins, shape ``(n_trains, n_bins)``.

        Bin ``k`` is ``[t_start + k*bin_size, t_start + (k+1)*bin_size)``; a spike at
        ``t_stop`` counts in the last bin. When ``bin_size`` does not divide the window,
        the last bin is partial.

        Parameters
        ----------
        bin_size : float or quantity
            Bin width in seconds.
        dtype : numpy dtype
            Dtype of the result.

        Examples
        --------
        >>> SpikeTrains.from_list([[0.05, 0.06, 0.25]], t_stop=0.3).bin(0.1).tolist()
        [[2, 0, 1]]
        """
        bin_size = to_seconds(bin_size, "bin_size")
        self._n_bins(bin_size, per_bin=16 + np.dtype(dtype).itemsize)
        edges = self.bin_edges(bin_size)
        nb = edges.size - 1
        bs = edges[1] - edges[0] if nb else to_seconds(bin_size)
        k = np.floor((self.times - self.t_start) / bs).astype(np.int64)
        np.clip(k, 0, nb - 1, out=k)
        out = np.bincount(self.ids * nb + k, minlength=self.n_trains * nb)
        return out.reshape(self.n_trains, nb).astype(dtype, copy=False)

    def to_torch(self, bin_size, dtype=None, device=None):
        """Binned counts as a torch tensor ``(n_trains, n_bins)`` (default float32).

        Examples
        --------
        >>> SpikeTrains.from_list([[0.05]], t_stop=0.2).to_torch(0.1).tolist()
        [[1.0, 0.0]]
        """
        import torch
        arr = self.bin(bin_size)
        return torch.as_tensor(arr, dtype=dtype or torch.float32, device=device)

    # ------------------------------------------------------------------ interchange
    def to_list(self):
        """A list of per-train spike-time arrays (copies, seconds)."""
        return np.split(self.times.copy(), self.offsets[1:-1]) if self.n_trains else []

    def to_neo(self):
        """A list of ``neo.SpikeTrain`` (units of seconds), one per train, annotated.

        Built on request only: each Neo object costs ~0.3 ms.
        """
        from neuromod.spikes.convert import to_neo
        return to_neo(self)

    def to_neo_block(self):
        """A ``neo.Block`` with one segment per trial; each train keeps its annotations."""
        from neuromod.spikes.convert import to_neo_block
        return to_neo_block(self)

    @classmethod
    def from_neo(cls, obj, t_start=None, t_stop=None):
        """From a ``neo.SpikeTrain``, a list of them, a ``neo.Segment`` or a ``neo.Block``."""
        from neuromod.spikes.convert import from_neo
        return from_neo(cls, obj, t_start=t_start, t_stop=t_stop)

    @classmethod
    def from_brian2(cls, monitor, t_start=None, t_stop=None):
        """From a Brian2 ``SpikeMonitor`` (its units respected); one train per source neuron.

        ``t_start`` defaults to 0 s and ``t_stop`` to the monitor's current network time.
        """
        from neuromod.spikes.convert import from_brian2
        return from_brian2(cls, monitor, t_start=t_start, t_stop=t_stop)

    # ------------------------------------------------------------------ misc
    def equals(self, other, atol=0.0):
        """True when both hold the same trains, window and annotations (NaN values of
        a float annotation count as equal)."""
        if not isinstance(other, SpikeTrains):
            return False
        if (self.n_trains != other.n_trains or self.t_start != other.t_start
                or self.t_stop != other.t_stop or not np.array_equal(self.ids, other.ids)):
            return False
        if not np.allclose(self.times, other.times, rtol=0, atol=atol):
            return False
        if set(self.annotations) != set(other.annotations):
            return False
        return all(_same_values(self.annotations[k], other.annotations[k])
                   for k in self.annotations)

    def __repr__(self):
        return (f"SpikeTrains(n_trains={self.n_trains}, n_spikes={self.n_spikes}, "
                f"window=[{_fmt(self.t_start)}, {_fmt(self.t_stop)}] s)")


def _same_values(a, b):
    """Equal annotation arrays (NaN equal to NaN in float annotations)."""
    a, b = np.asarray(a), np.asarray(b)
    nan_ok = a.dtype.kind in "fc" and b.dtype.kind in "fc"
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=nan_ok))


def as_spike_trains(x, t_start=None, t_stop=None):
    """Coerce ``x`` to :class:`SpikeTrains`.

    Accepts a :class:`SpikeTrains` (returned as is, or time-sliced when a window is
    given), a list of 1-D arrays (seconds), a list of ``neo.SpikeTrain`` or a Neo
    ``Block``/``Segment``.

    Examples
    --------
    >>> as_spike_trains([[0.1, 0.2], [0.3]], t_stop=1.0).n_trains
    2
    """
    if isinstance(x, SpikeTrains):
        if t_start is None and t_stop is None:
            return x
        return x.time_slice(t_start, t_stop)
    mod = type(x).__module__ or ""
    if mod.startswith("neo") or (isinstance(x, (list, tuple)) and x
                                 and (type(x[0]).__module__ or "").startswith("neo")):
        return SpikeTrains.from_neo(x, t_start=t_start, t_stop=t_stop)
    return SpikeTrains.from_list(x, t_start=t_start, t_stop=t_stop)
