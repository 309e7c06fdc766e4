"""A recording: a stimulus and the spike trains sensory neurons fired to it, with
repeated trials of a test stimulus; its file formats and the embedded recording.

:class:`Recording` holds the stimuli as frame arrays (frame interval ``frame_dt``
seconds) and the spikes as :class:`~neuromod.spikes.SpikeTrains`: ``train_spikes``
has one train per unit on ``[0, train duration]``; ``test_spikes`` one train per
(trial, unit), train ``trial * n_units + unit``, on ``[0, test duration]``, with
``unit`` and ``trial`` annotations. Times are seconds from the stimulus's onset (from
each repeat's onset for the test trials).

Models see the data at a bin of ``bin_size`` seconds (default 1 ms, the name
:mod:`neuromod.stats` uses), with the stimulus held over each frame:
:meth:`Recording.train_counts`, :meth:`Recording.test_counts`,
:meth:`Recording.frame_of_bin`.

Files (:func:`load_recording`, :func:`save_recording`)
------------------------------------------------------
**.npz** (NumPy archive, read with ``allow_pickle=False``; see ``docs/retina.md``):

=====================  ==============================  ===================================
key                    shape, dtype                    content
=====================  ==============================  ===================================
``frame_dt``           scalar float                    stimulus frame interval, s
``train_stimulus``     (frames, H, W) or (frames, D),  training stimulus
                       float or uint8
``test_stimulus``      (frames', same frame shape)     the clip shown on every test repeat
``train_spike_times``  (n,) float                      s from the training stimulus's onset
``train_spike_units``  (n,) int                        unit of each spike, 0..n_units-1
``test_spike_times``   (m,) float                      s from each repeat's onset
``test_spike_units``   (m,) int                        unit of each spike
``test_spike_trials``  (m,) int                        repeat of each spike, 0..n_test_trials-1
``n_units``            scalar int                      units (one may have no spike)
``n_test_trials``      scalar int, >= 2                repeats (one may have no spike)
``unit_names``         (n_units,) str, optional        default ``unit0``, ``unit1``...
``stimulus_offset``,   scalar float, optional          uint8 stimuli only: frames are
``stimulus_scale``                                     ``(v - offset) * scale``
                                                       (default 0 and 1)
=====================  ==============================  ===================================

Stimuli load as float32. Other keys are ignored.

**.nwb** (one NWB file, read with pynwb): the stimuli are the ``ImageSeries`` or
``TimeSeries`` ``train_stimulus`` and ``test_stimulus`` under ``stimulus`` or
``acquisition`` (``frame_dt`` from their ``rate`` or evenly spaced ``timestamps``;
``data * conversion + offset``); the spikes are the units table's ``spike_times``
(names from an optional ``unit_name`` column); the trials table's ``stimulus``
column says ``train`` (one interval) or ``test`` (each repeat, in order of start) for
each interval, and spike times are taken relative to their interval's start (spikes
outside every interval are not part of the recording). Each interval lasts its
stimulus's duration, within a frame.

**Separate spike files** (``train_spikes=``, ``test_spikes=``, any format
:func:`neuromod.io.read` reads: Neo's NIX and NWB, ``.npz``, ``.csv``, ``.txt``)
with the stimuli as ``.npy`` files and ``frame_dt`` given: one train per unit in the
training file (its ``unit`` annotation names the units), one train per repeat and
unit in the test file, annotated ``unit`` and ``trial`` (repeats in the order of
their ``trial`` values).

Every loader checks the same things and stops at the first problem with one line
naming the file and the key: a missing key or series, wrong shapes or dtypes,
stimuli that are not finite, spike times that are NaN, infinite, negative or after
the end of their stimulus (the frame count times ``frame_dt``), units or trials out
of range, a recording with no spike at all (or none in training), fewer than 2
test repeats; for NWB files also a missing trials table or ``stimulus`` column,
overlapping intervals and intervals longer or shorter than their stimulus.
(:class:`~neuromod.errors.FileFormatError` for the layout,
:class:`~neuromod.errors.SpikeDataError` for the spikes.)

:func:`embedded` loads the shipped simulated recording (``data/retina/retina.npz``,
made by ``data/make_retina.py`` with :func:`neuromod.retina.synthetic.simulated_retina`).

Examples
--------
>>> import numpy as np
>>> from neuromod.spikes import SpikeTrains
>>> rec = Recording(0.01, np.zeros((100, 4)), np.zeros((50, 4)),
...                 SpikeTrains([0.0105, 0.5], [0, 1], 0.0, 1.0, n_trains=2),
...                 SpikeTrains([0.2], [3], 0.0, 0.5, n_trains=4), n_units=2,
...                 n_test_trials=2)
>>> rec.train_counts(0.001).shape, rec.test_counts(0.001).shape
((1000, 2), (2, 500, 2))
>>> rec.frame_of_bin(0.001, 1000)[[0, 9, 10, 999]].tolist()
[0, 0, 1, 99]
>>> import os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "rec.npz")
>>> save_recording(p, rec)
>>> back = load_recording(p)
>>> back.name, back.test_spikes.counts.tolist(), back.test_spikes.annotations["trial"].tolist()
('rec.npz', [0, 0, 0, 1], [0, 0, 1, 1])
"""
import contextlib
import dataclasses
import io as _io
import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from neuromod.errors import FileFormatError, NeuromodError, ParameterError, SpikeDataError

__all__ = ["Recording", "BIN_SIZE", "load_recording", "save_recording", "embedded",
           "EMBEDDED", "NPZ_KEYS"]

#: Default model bin, seconds.
BIN_SIZE = 0.001

#: The embedded recording, relative to :mod:`neuromod.data`.
EMBEDDED = "retina/retina.npz"

#: Required keys of a recording ``.npz``.
NPZ_KEYS = ("frame_dt", "train_stimulus", "test_stimulus", "train_spike_times",
            "train_spike_units", "test_spike_times", "test_spike_units", "test_spike_trials",
            "n_units", "n_test_trials")


def _after_end(times, duration):
    """Spikes later than ``duration`` (beyond rounding)."""
    return times > duration * (1 + 1e-12) + 1e-12


@dataclass(frozen=True)
class Recording:
    """A stimulus, spike trains recorded during it, and repeats of a test stimulus.

    Attributes
    ----------
    frame_dt : float
        Stimulus frame interval, seconds.
    train_stimulus, test_stimulus : ndarray (frames, H, W) or (frames, D), float32
    train_spikes : SpikeTrains
        ``n_units`` trains on ``[0, frames * frame_dt]``.
    test_spikes : SpikeTrains
        ``n_test_trials * n_units`` trains, train ``trial * n_units + unit``, on
        ``[0, frames_test * frame_dt]``.
    n_units, n_test_trials : int
    unit_names : tuple of str
    name : str
        Where it came from (a file name, or ``embedded``).
    """
    frame_dt: float
    train_stimulus: np.ndarray
    test_stimulus: np.ndarray
    train_spikes: object
    test_spikes: object
    n_units: int
    n_test_trials: int
    unit_names: tuple = field(default=())
    name: str = "recording"

    def __post_init__(self):
        if not (math.isfinite(self.frame_dt) and self.frame_dt > 0):
            raise ParameterError(f"frame_dt must be > 0 seconds, got {self.frame_dt!r}")
        for split, stim in (("train", self.train_stimulus), ("test", self.test_stimulus)):
            shape = getattr(stim, "shape", ())
            if len(shape) not in (2, 3) or shape[0] < 1:
                raise ParameterError(f"{split}_stimulus has shape {shape}; expected "
                                     "(frames, H, W) or (frames, D)")
        if self.train_stimulus.shape[1:] != self.test_stimulus.shape[1:]:
            raise ParameterError(f"train_stimulus frames {self.train_stimulus.shape[1:]} and "
                                 f"test_stimulus frames {self.test_stimulus.shape[1:]} differ")
        if self.train_spikes.n_trains != self.n_units:
            raise ParameterError(f"train_spikes has {self.train_spikes.n_trains} trains for "
                                 f"{self.n_units} units")
        if self.test_spikes.n_trains != self.n_units * self.n_test_trials:
            raise ParameterError(f"test_spikes has {self.test_spikes.n_trains} trains for "
                                 f"{self.n_units} units x {self.n_test_trials} trials")
        for split, st, T in (("train", self.train_spikes, self.train_duration),
                             ("test", self.test_spikes, self.test_duration)):
            if st.n_spikes and (st.times.min() < 0 or _after_end(st.times.max(), T)):
                raise ParameterError(
                    f"{split}_spikes: spikes from {st.times.min():.9g} to "
                    f"{st.times.max():.9g} s, outside the {split} stimulus [0, {T:.9g}] s")
        if not self.unit_names:
            object.__setattr__(self, "unit_names",
                               tuple(f"unit{i}" for i in range(self.n_units)))
        elif len(self.unit_names) != self.n_units:
            raise ParameterError(f"{len(self.unit_names)} unit_names for {self.n_units} units")

    @property
    def frame_shape(self):
        """The shape of one frame, ``(H, W)`` or ``(D,)``."""
        return tuple(self.train_stimulus.shape[1:])

    @property
    def train_duration(self):
        return self.train_stimulus.shape[0] * self.frame_dt

    @property
    def test_duration(self):
        return self.test_stimulus.shape[0] * self.frame_dt

    def n_bins(self, bin_size, split="train"):
        """Bins of ``bin_size`` seconds covering the split's stimulus."""
        T = self.train_duration if split == "train" else self.test_duration
        return int(math.floor(T / bin_size + 1e-8))

    def frame_of_bin(self, bin_size, n_bins):
        """The stimulus frame shown during each of ``n_bins`` bins (the frame at the
        bin's start)."""
        return np.floor(np.arange(n_bins) * bin_size / self.frame_dt + 1e-9).astype(np.int64)

    def train_counts(self, bin_size=BIN_SIZE):
        """Spike counts ``(bins, units)`` during the training stimulus."""
        from neuromod.stats import bin_counts
        n = self.n_bins(bin_size, "train")
        c, _ = bin_counts(self.train_spikes, bin_size, 0.0, n * bin_size)
        return c.T[:n]

    def test_counts(self, bin_size=BIN_SIZE):
        """Spike counts ``(trials, bins, units)`` during the repeats."""
        from neuromod.stats import bin_counts
        n = self.n_bins(bin_size, "test")
        c, _ = bin_counts(self.test_spikes, bin_size, 0.0, n * bin_size)
        return c[:, :n].reshape(self.n_test_trials, self.n_units, n).transpose(0, 2, 1)

    def mean_rates(self, split="train"):
        """Mean firing rate of each unit, Hz, over the split (``test``: over every
        repeat)."""
        if split == "train":
            return self.train_spikes.counts / self.train_duration
        c = self.test_spikes.counts.reshape(self.n_test_trials, self.n_units)
        return c.sum(axis=0) / (self.n_test_trials * self.test_duration)

    def cut(self, units=None, train_seconds=None):
        """A smaller recording: the ``units`` listed (indices, in that order; default
        all) and the first ``train_seconds`` of the training stimulus (whole frames;
        default all); the test repeats stay whole.

        Examples
        --------
        >>> rec = embedded()
        >>> small = rec.cut(units=[0, 3], train_seconds=60.0)
        >>> small.n_units, small.train_stimulus.shape[0], small.unit_names == (
        ...     rec.unit_names[0], rec.unit_names[3])
        (2, 6000, True)
        """
        from neuromod.spikes import SpikeTrains
        U = self.n_units
        keep = np.arange(U) if units is None else np.asarray(units, dtype=np.int64).ravel()
        if keep.size == 0 or keep.min() < 0 or keep.max() >= U or \
                len(set(keep.tolist())) != keep.size:
            raise ParameterError(f"units must be distinct indices in [0, {U}), got "
                                 f"{np.asarray(units).tolist()}")
        F = self.train_stimulus.shape[0]
        if train_seconds is not None:
            if not train_seconds > 0:
                raise ParameterError(f"train_seconds must be > 0, got {train_seconds!r}")
            F = min(F, int(math.floor(train_seconds / self.frame_dt + 1e-9)))
            if F < 1:
                raise ParameterError(f"train_seconds {train_seconds!r} is shorter than a "
                                     "frame")
        new_of = np.full(U, -1, dtype=np.int64)
        new_of[keep] = np.arange(keep.size)
        T = F * self.frame_dt
        tr = self.train_spikes
        m = (new_of[tr.ids] >= 0) & (tr.times < T)
        train = SpikeTrains(tr.times[m], new_of[tr.ids[m]], 0.0, T, n_trains=keep.size,
                            sort=True)
        te = self.test_spikes
        trial, unit = te.ids // U, te.ids % U
        m = new_of[unit] >= 0
        test = SpikeTrains(te.times[m], trial[m] * keep.size + new_of[unit[m]], 0.0,
                           self.test_duration, n_trains=keep.size * self.n_test_trials,
                           sort=True)
        return Recording(self.frame_dt, self.train_stimulus[:F], self.test_stimulus, train,
                         test, int(keep.size), self.n_test_trials,
                         tuple(self.unit_names[i] for i in keep), self.name)


# ---------------------------------------------------------------------- checks
def _fail(where, message, cls=FileFormatError):
    raise cls(f"{where}: {' '.join(str(message).split())}")


def _scalar(where, value, kind):
    """A 0-d (or single-element) number; ``kind`` "int" or "float"."""
    arr = np.asarray(value)
    ok = arr.size == 1 and (arr.dtype.kind in "iu" if kind == "int"
                            else arr.dtype.kind in "iuf")
    if not ok:
        _fail(where, f"must be a single {'integer' if kind == 'int' else 'number'}, got "
                     f"shape {arr.shape} dtype {arr.dtype}")
    return arr.reshape(()).item()


def _stimulus(where, arr, offset=0.0, scale=1.0, conversion=None):
    """A stimulus as float32 (frames, H, W) or (frames, D), checked."""
    arr = np.asarray(arr)
    if arr.ndim not in (2, 3):
        _fail(where, f"has shape {arr.shape}; expected (frames, H, W) or (frames, D)")
    if arr.shape[0] < 1 or 0 in arr.shape:
        _fail(where, f"has shape {arr.shape}: no frames or empty frames")
    if not (arr.dtype.kind == "f" or arr.dtype == np.uint8
            or (conversion is not None and arr.dtype.kind in "iu")):
        _fail(where, f"has dtype {arr.dtype}; expected float or uint8")
    if conversion is not None:                       # NWB: data * conversion + offset
        if conversion == 1.0 and offset == 0.0:
            out = arr.astype(np.float32)
        else:
            out = (arr.astype(np.float64) * conversion + offset).astype(np.float32)
    elif arr.dtype == np.uint8:
        out = ((arr.astype(np.float32) - np.float32(offset)) * np.float32(scale)).astype(
            np.float32)
    else:
        out = arr.astype(np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        k = np.unravel_index(int(np.flatnonzero(bad)[0]), out.shape)
        _fail(where, f"value at {tuple(int(i) for i in k)} is {out[k]} (not finite)")
    return out


def _index_array(where, arr, n, what):
    """An integer array of indices in 0..n-1."""
    arr = np.asarray(arr)
    if arr.ndim != 1:
        _fail(where, f"has shape {arr.shape}; expected a 1-D array")
    if arr.size and arr.dtype.kind not in "iu":
        _fail(where, f"has dtype {arr.dtype}; expected integer {what} indices")
    arr = arr.astype(np.int64)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= n:
            _fail(where, f"{what} {lo if lo < 0 else hi} outside 0..{n - 1} "
                         f"({n} {what}s)", SpikeDataError)
    return arr


def _times(where, arr, n_frames, frame_dt, split):
    duration = n_frames * frame_dt
    arr = np.asarray(arr)
    if arr.ndim != 1:
        _fail(where, f"has shape {arr.shape}; expected a 1-D array")
    if arr.size and arr.dtype.kind != "f":
        _fail(where, f"has dtype {arr.dtype}; expected float seconds")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        _fail(where, f"spike {k} is at {arr[k]} s (not finite)", SpikeDataError)
    if arr.size:
        k = int(np.argmin(arr))
        if arr[k] < 0:
            _fail(where, f"spike {k} at {arr[k]:.9g} s is before the stimulus onset "
                         "(negative time)", SpikeDataError)
        late = _after_end(arr, duration)
        if late.any():
            k = int(np.flatnonzero(late)[0])
            what = "training stimulus" if split == "train" else "test clip"
            _fail(where, f"spike {k} at {arr[k]:.9g} s is after the {what} ends "
                         f"({n_frames} frames of {frame_dt:.9g} s = {duration:.9g} s)",
                  SpikeDataError)
    return arr


def _build(labels, frame_dt, train_stimulus, test_stimulus, train_times, train_units,
           test_times, test_units, test_trials, n_units, n_test_trials, unit_names=None,
           name="recording", stimulus_kw=None):
    """A checked :class:`Recording`; ``labels[role]`` names the file (and key) of each
    input in error messages."""
    from neuromod.spikes import SpikeTrains
    fdt = _scalar(labels["frame_dt"], frame_dt, "float")
    if not (math.isfinite(fdt) and fdt > 0):
        _fail(labels["frame_dt"], f"must be a positive number of seconds, got {fdt!r}")
    U = _scalar(labels["n_units"], n_units, "int")
    if U < 1:
        _fail(labels["n_units"], f"must be >= 1, got {U}")
    R = _scalar(labels["n_test_trials"], n_test_trials, "int")
    if R < 2:
        _fail(labels["n_test_trials"], f"is {R}; at least 2 test repeats are needed "
                                       "(noise ceilings, Fano factors)", SpikeDataError)
    kw = stimulus_kw or {}
    train = _stimulus(labels["train_stimulus"], train_stimulus, **kw.get("train", {}))
    test = _stimulus(labels["test_stimulus"], test_stimulus, **kw.get("test", {}))
    if train.shape[1:] != test.shape[1:]:
        _fail(labels["test_stimulus"], f"frames of shape {test.shape[1:]} differ from the "
                                       f"training frames {train.shape[1:]}")
    T_train, T_test = train.shape[0] * fdt, test.shape[0] * fdt
    t_tr = _times(labels["train_times"], train_times, train.shape[0], fdt, "train")
    t_te = _times(labels["test_times"], test_times, test.shape[0], fdt, "test")
    u_tr = _index_array(labels["train_units"], train_units, U, "unit")
    u_te = _index_array(labels["test_units"], test_units, U, "unit")
    r_te = _index_array(labels["test_trials"], test_trials, R, "trial")
    for t, u, where in ((t_tr, u_tr, labels["train_units"]), (t_te, u_te, labels["test_units"]),
                        (t_te, r_te, labels["test_trials"])):
        if u.size != t.size:
            _fail(where, f"has {u.size} values for {t.size} spike times")
    if t_tr.size == 0 and t_te.size == 0:
        _fail(labels["recording"], "empty recording: no spike in training or test",
              SpikeDataError)
    if t_tr.size == 0:
        _fail(labels["train_times"], "no spike in the training split", SpikeDataError)
    if unit_names is None:
        names = ()
    else:
        arr = np.asarray(unit_names)
        if arr.dtype.kind != "U" or arr.shape != (U,):
            _fail(labels["unit_names"], f"must be {U} strings (one per unit), got shape "
                                        f"{arr.shape} dtype {arr.dtype}")
        names = tuple(str(s) for s in arr.tolist())
    train_st = SpikeTrains(t_tr, u_tr, 0.0, T_train, n_trains=U, sort=True)
    test_st = SpikeTrains(t_te, r_te * U + u_te, 0.0, T_test, n_trains=R * U, sort=True,
                          annotations={"unit": np.tile(np.arange(U), R),
                                       "trial": np.repeat(np.arange(R), U)})
    return Recording(float(fdt), train, test, train_st, test_st, int(U), int(R),
                     unit_names=names, name=name)


# ---------------------------------------------------------------------- npz
def _read_npz(path):
    from neuromod.io import check_exists
    from neuromod.io.npzfile import load_arrays
    check_exists(path)
    with open(path, "rb") as fh:
        if fh.read(6) == b"\x93NUMPY":
            _fail(path, "a single .npy array, not a recording .npz archive")
    arrays = load_arrays(path)             # memory-checked, no pickles
    for key in NPZ_KEYS:
        if key not in arrays:
            _fail(path, f"missing key {key!r} (a recording .npz holds "
                        f"{', '.join(NPZ_KEYS)}; see neuromod.retina.recording)")
    labels = {k: f"{path}: {k}" for k in NPZ_KEYS + ("unit_names",)}
    labels.update(recording=str(path), train_times=labels["train_spike_times"],
                  train_units=labels["train_spike_units"],
                  test_times=labels["test_spike_times"],
                  test_units=labels["test_spike_units"],
                  test_trials=labels["test_spike_trials"])
    kw = {}
    for key in ("stimulus_offset", "stimulus_scale"):
        if key in arrays:
            v = _scalar(f"{path}: {key}", arrays[key], "float")
            if not math.isfinite(v) or (key == "stimulus_scale" and v == 0):
                _fail(f"{path}: {key}", f"must be a finite number (the scale non-zero), "
                                        f"got {v!r}")
            kw[key.split("_")[1]] = v
    return _build(labels, arrays["frame_dt"], arrays["train_stimulus"], arrays["test_stimulus"],
                  arrays["train_spike_times"], arrays["train_spike_units"],
                  arrays["test_spike_times"], arrays["test_spike_units"],
                  arrays["test_spike_trials"], arrays["n_units"], arrays["n_test_trials"],
                  arrays.get("unit_names"), name=os.path.basename(os.fspath(path)),
                  stimulus_kw={"train": kw, "test": kw})


def _split_test(rec):
    ids = rec.test_spikes.ids
    return rec.test_spikes.times, ids % rec.n_units, ids // rec.n_units


def _uint8_frames(rec, offset, scale):
    """The stimuli as uint8 ``v`` with ``(v - offset) * scale`` equal to them."""
    out = []
    for key in ("train_stimulus", "test_stimulus"):
        s = np.asarray(getattr(rec, key))
        v = np.rint(s.astype(np.float64) / scale + offset)
        ok = np.all((v >= 0) & (v <= 255))
        if ok:
            v = v.astype(np.uint8)
            ok = np.array_equal(_stimulus(key, v, offset, scale), s.astype(np.float32))
        if not ok:
            raise ParameterError(f"{key} is not exactly (v - {offset:g}) * {scale:g} for "
                                 "8-bit values v; save it as float")
        out.append(v)
    return out


def _write_npz(path, rec, uint8):
    from neuromod.io import atomic_write
    t_te, u_te, r_te = _split_test(rec)
    arrays = {"frame_dt": np.float64(rec.frame_dt),
              "train_spike_times": rec.train_spikes.times,
              "train_spike_units": rec.train_spikes.ids,
              "test_spike_times": t_te, "test_spike_units": u_te, "test_spike_trials": r_te,
              "n_units": np.int64(rec.n_units), "n_test_trials": np.int64(rec.n_test_trials),
              "unit_names": np.asarray(rec.unit_names, dtype=str)}
    if uint8 is None:
        arrays["train_stimulus"] = np.asarray(rec.train_stimulus)
        arrays["test_stimulus"] = np.asarray(rec.test_stimulus)
    else:
        offset, scale = float(uint8[0]), float(uint8[1])
        arrays["train_stimulus"], arrays["test_stimulus"] = _uint8_frames(rec, offset, scale)
        arrays["stimulus_offset"], arrays["stimulus_scale"] = np.float64(offset), \
            np.float64(scale)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    atomic_write(path, write, ".npz")


# ---------------------------------------------------------------------- NWB
@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings(), contextlib.redirect_stdout(_io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _series_frame_dt(where, ts):
    rate = getattr(ts, "rate", None)
    if rate is not None:
        rate = float(rate)
        if not (math.isfinite(rate) and rate > 0):
            _fail(where, f"rate {rate!r} is not a positive number of frames per second")
        return 1.0 / rate
    stamps = getattr(ts, "timestamps", None)
    if stamps is None:
        _fail(where, "has neither a rate nor timestamps")
    stamps = np.asarray(stamps[:], dtype=np.float64)
    if stamps.size < 2:
        _fail(where, "has fewer than 2 timestamps and no rate: the frame interval is unknown")
    d = np.diff(stamps)
    fdt = float(d.mean())
    if not (np.all(np.isfinite(d)) and fdt > 0 and np.all(np.abs(d - fdt) <= 1e-6 * fdt)):
        _fail(where, "timestamps are not evenly spaced (the frames need one interval)")
    return fdt


def _read_nwb(path):
    from neuromod.io import check_exists
    from neuromod.io.neofile import check_hdf5
    check_exists(path)
    check_hdf5(path, "NWB")                  # HDF5, memory limit, ragged indices
    try:
        from pynwb import NWBHDF5IO
        with _quiet():
            io = NWBHDF5IO(str(path), mode="r")
        try:
            with _quiet():
                nwb = io.read()
            return _nwb_recording(path, nwb)
        finally:
            io.close()
    except NeuromodError:
        raise
    except Exception as exc:      # pynwb/hdmf/h5py raise many types for foreign files
        _fail(path, f"cannot read as an NWB recording ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())})")


def _nwb_recording(path, nwb):
    stims, fdts = {}, {}
    for key in ("train_stimulus", "test_stimulus"):
        ts = None
        for group in ("stimulus", "acquisition"):
            container = getattr(nwb, group, None) or {}
            if key in container:
                ts = container[key]
                where = f"{path}: {group}/{key}"
                break
        if ts is None:
            _fail(path, f"no ImageSeries or TimeSeries {key!r} under stimulus or acquisition")
        if not hasattr(ts, "data"):
            _fail(where, f"is a {type(ts).__name__}, not a TimeSeries")
        fdts[key] = (where, _series_frame_dt(where, ts))
        conversion = getattr(ts, "conversion", None)
        offset = getattr(ts, "offset", None)
        stims[key] = (where, _stimulus(where, ts.data[:], offset=float(offset or 0.0),
                                       conversion=float(1.0 if conversion is None
                                                        else conversion)))
    fdt = fdts["train_stimulus"][1]
    where, other = fdts["test_stimulus"]
    if abs(other - fdt) > 1e-6 * fdt:
        _fail(where, f"frame interval {other:.9g} s differs from the training stimulus's "
                     f"{fdt:.9g} s")
    # trials: which interval showed which stimulus
    trials = nwb.trials
    if trials is None:
        _fail(path, "no trials table (intervals/trials) saying which interval showed the "
                    "train and test stimuli")
    where_t = f"{path}: intervals/trials"
    if "stimulus" not in trials.colnames:
        _fail(where_t, "has no 'stimulus' column (train or test per interval)")
    start = np.asarray(trials["start_time"].data[:], dtype=np.float64)
    stop = np.asarray(trials["stop_time"].data[:], dtype=np.float64)
    label = np.array([s.decode() if isinstance(s, bytes) else str(s)
                      for s in trials["stimulus"].data[:]])
    bad = ~np.isin(label, ("train", "test"))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        _fail(where_t, f"row {k}: stimulus {label[k]!r} is neither 'train' nor 'test'")
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(stop)) and np.all(stop > start)):
        k = int(np.flatnonzero(~(stop > start))[0]) if np.any(~(stop > start)) else 0
        _fail(where_t, f"row {k}: interval [{start[k]}, {stop[k]}] s is empty or not finite")
    order = np.argsort(start, kind="stable")
    start, stop, label = start[order], stop[order], label[order]
    if np.any(start[1:] < stop[:-1]):
        k = int(np.flatnonzero(start[1:] < stop[:-1])[0])
        _fail(where_t, f"intervals starting at {start[k]:.9g} and {start[k + 1]:.9g} s "
                       "overlap")
    n_train = int(np.sum(label == "train"))
    if n_train != 1:
        _fail(where_t, f"has {n_train} 'train' intervals; expected one")
    R = int(np.sum(label == "test"))
    for key, lab in (("train_stimulus", "train"), ("test_stimulus", "test")):
        where, data = stims[key]
        T = data.shape[0] * fdt
        dur = stop[label == lab] - start[label == lab]
        off = np.abs(dur - T) > fdt * (1 + 1e-9)
        if off.any():
            _fail(where_t, f"a '{lab}' interval lasts {dur[off][0]:.9g} s but {key} "
                           f"lasts {T:.9g} s ({data.shape[0]} frames of {fdt:.9g} s)")
    # units table
    units = nwb.units
    if units is None:
        _fail(path, "no units table (the spike times)")
    U = len(units.id)
    if "spike_times" not in units.colnames:
        _fail(f"{path}: units", "has no 'spike_times' column")
    flat = np.asarray(units.spike_times_index.target.data[:], dtype=np.float64)
    ends = np.asarray(units.spike_times_index.data[:], dtype=np.int64)
    unit = np.repeat(np.arange(U), np.diff(np.concatenate(([0], ends))))
    names = None
    if "unit_name" in units.colnames:
        names = np.array([s.decode() if isinstance(s, bytes) else str(s)
                          for s in units["unit_name"].data[:]])
    bad = ~np.isfinite(flat)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        _fail(f"{path}: units/spike_times", f"unit {unit[k]}: spike time {flat[k]} is not "
                                            "finite", SpikeDataError)
    k = np.searchsorted(start, flat, side="right") - 1
    inside = (k >= 0) & (flat <= stop[np.maximum(k, 0)])
    k, t, unit = k[inside], flat[inside], unit[inside]
    rel = t - start[k]
    is_test = label[k] == "test"
    trial_of_interval = np.cumsum(label == "test") - 1
    labels = {"frame_dt": f"{fdts['train_stimulus'][0]} rate",
              "n_units": f"{path}: units", "n_test_trials": where_t,
              "train_stimulus": stims["train_stimulus"][0],
              "test_stimulus": stims["test_stimulus"][0],
              "train_times": f"{path}: units/spike_times (train interval)",
              "test_times": f"{path}: units/spike_times (test intervals)",
              "train_units": f"{path}: units", "test_units": f"{path}: units",
              "test_trials": where_t, "unit_names": f"{path}: units/unit_name",
              "recording": str(path)}
    return _build(labels, fdt, stims["train_stimulus"][1], stims["test_stimulus"][1],
                  rel[~is_test], unit[~is_test], rel[is_test], unit[is_test],
                  trial_of_interval[k[is_test]], U, R, names,
                  name=os.path.basename(os.fspath(path)))


#: Seconds between the intervals :func:`save_recording` writes to NWB files.
NWB_GAP = 1.0


def _write_nwb(path, rec):
    import datetime
    import shutil
    import tempfile
    import uuid

    from neuromod.io import atomic_write
    with _quiet():
        from pynwb import NWBHDF5IO, NWBFile, TimeSeries
        from pynwb.image import ImageSeries
    Ttr, Tte = rec.train_duration, rec.test_duration
    starts = np.concatenate(([0.0], Ttr + NWB_GAP + np.arange(rec.n_test_trials)
                             * (Tte + NWB_GAP)))
    with _quiet():
        nwb = NWBFile(session_description=f"neuromod recording {rec.name}",
                      identifier=str(uuid.uuid4()),
                      session_start_time=datetime.datetime.now(datetime.timezone.utc))
        for key, stim, t0 in (("train_stimulus", rec.train_stimulus, 0.0),
                              ("test_stimulus", rec.test_stimulus, starts[1])):
            stim = np.asarray(stim)
            kw = dict(name=key, data=stim, unit="a.u.", rate=1.0 / rec.frame_dt,
                      starting_time=float(t0))
            nwb.add_stimulus(ImageSeries(format="raw", **kw) if stim.ndim == 3
                             else TimeSeries(**kw))
        nwb.add_trial_column("stimulus", "the stimulus of the interval: train or test")
        for i, t0 in enumerate(starts):
            nwb.add_trial(start_time=float(t0), stop_time=float(t0 + (Ttr if i == 0 else Tte)),
                          stimulus="train" if i == 0 else "test")
        nwb.add_unit_column("unit_name", "the unit's name")
        U = rec.n_units
        t_te, u_te, r_te = _split_test(rec)
        times = np.concatenate((rec.train_spikes.times, t_te + starts[1:][r_te]))
        units = np.concatenate((rec.train_spikes.ids, u_te))
        order = np.lexsort((times, units))
        times, units = times[order], units[order]
        bounds = np.searchsorted(units, np.arange(U + 1))
        for u in range(U):
            nwb.add_unit(spike_times=times[bounds[u]:bounds[u + 1]],
                         unit_name=rec.unit_names[u])

    def write(tmp):
        staging = tempfile.mkdtemp(prefix="neuromod-hdf5-")
        try:
            staged = os.path.join(staging, "recording.nwb")
            with _quiet(), NWBHDF5IO(staged, mode="w") as io:
                io.write(nwb)
            shutil.copyfile(staged, tmp)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    atomic_write(path, write, ".nwb")


# ---------------------------------------------------------------------- separate files
def _load_npy(path, what):
    from neuromod.io import check_exists
    from neuromod.limits import check_allocation
    check_exists(path)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:      # not an .npy file, object arrays, damaged headers
        _fail(path, f"cannot read the {what} as a .npy array ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())})")
    if not isinstance(arr, np.ndarray):
        _fail(path, f"the {what} must be one .npy array, not an .npz archive")
    check_allocation(arr.nbytes, f"{path}: {what} of shape {arr.shape} dtype {arr.dtype}")
    return np.array(arr)


def _unit_keys(path, values):
    """Unit annotation values -> their order (unique values required)."""
    vals = np.asarray(values)
    uniq, first, counts = np.unique(vals, return_index=True, return_counts=True)
    if np.any(counts > 1):
        _fail(path, f"unit {uniq[counts > 1][0]!r} has {counts[counts > 1][0]} trains; the "
                    "training file holds one train per unit")
    return vals


def _read_separate(train_spikes, test_spikes, train_stimulus, test_stimulus, frame_dt):
    from neuromod import io
    from neuromod.units import to_seconds
    try:
        fdt = float(to_seconds(frame_dt, "frame_dt"))
    except NeuromodError:
        raise
    except Exception as exc:
        raise ParameterError(f"frame_dt = {frame_dt!r} is not a time ({exc})") from None
    if not (math.isfinite(fdt) and fdt > 0):
        raise ParameterError(f"frame_dt must be > 0 seconds, got {frame_dt!r}")
    S_tr = _load_npy(train_stimulus, "training stimulus")
    S_te = _load_npy(test_stimulus, "test stimulus")
    tr = io.read(train_spikes, sort=True)
    te = io.read(test_spikes, sort=True)
    # units: one train each in the training file, named by its 'unit' annotation
    unit_vals = _unit_keys(train_spikes, tr.annotations["unit"])
    U = tr.n_trains
    if U == 0:
        _fail(train_spikes, "holds no trains (one per unit expected)")
    lookup = {v: i for i, v in enumerate(unit_vals.tolist())}
    te_units = te.annotations["unit"].tolist()
    missing = [v for v in te_units if v not in lookup]
    if missing:
        _fail(f"{test_spikes}: unit annotation", f"unit {missing[0]!r} has no train in "
                                                 f"{train_spikes}", SpikeDataError)
    unit_of_train = np.array([lookup[v] for v in te_units], dtype=np.int64)
    trial_vals, trial_of_train = np.unique(te.annotations["trial"], return_inverse=True)
    R = int(trial_vals.size)
    pair = trial_of_train * U + unit_of_train
    if np.unique(pair).size != pair.size:
        k = int(np.flatnonzero(np.bincount(pair) > 1)[0])
        _fail(f"{test_spikes}: trial annotation", f"trial {trial_vals[k // U]!r} has more "
                                                  f"than one train of unit "
                                                  f"{unit_vals[k % U]!r}", SpikeDataError)
    default = np.array_equal(unit_vals, np.arange(U))
    names = None if default else np.array([v if isinstance(v, str) else f"unit{v}"
                                           for v in unit_vals.tolist()])
    tr_name, te_name = str(train_spikes), str(test_spikes)
    labels = {"frame_dt": "frame_dt", "n_units": tr_name,
              "n_test_trials": f"{te_name}: trial annotation",
              "train_stimulus": str(train_stimulus), "test_stimulus": str(test_stimulus),
              "train_times": tr_name, "test_times": te_name, "train_units": tr_name,
              "test_units": f"{te_name}: unit annotation",
              "test_trials": f"{te_name}: trial annotation", "unit_names": tr_name,
              "recording": f"{tr_name} and {te_name}"}
    return _build(labels, fdt, S_tr, S_te, tr.times, tr.ids, te.times,
                  unit_of_train[te.ids], trial_of_train[te.ids], U, R, names,
                  name=os.path.basename(tr_name))


# ---------------------------------------------------------------------- public
_SEPARATE = ("train_spikes", "test_spikes", "train_stimulus", "test_stimulus", "frame_dt")


def _format(path, format=None):
    if format is not None:
        key = str(format).lower().lstrip(".")
        if key not in ("npz", "nwb"):
            raise FileFormatError(f"unknown recording format {format!r}; known: npz, nwb")
        return key
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext in (".npz", ".nwb"):
        return ext[1:]
    raise FileFormatError(
        f"{os.fspath(path)}: a recording file is .npz or .nwb (extension {ext!r}); spike "
        "files with separate stimuli go through train_spikes=, test_spikes=, "
        "train_stimulus=, test_stimulus= and frame_dt=")


def load_recording(path=None, *, train_spikes=None, test_spikes=None, train_stimulus=None,
                   test_stimulus=None, frame_dt=None):
    """Read a :class:`Recording`: one ``.npz`` or ``.nwb`` file (``path``), or separate
    spike files and stimuli (the module description gives the layouts).

    Parameters
    ----------
    path : str or path-like, optional
        A recording ``.npz`` or NWB file.
    train_spikes, test_spikes : str or path-like, optional
        Spike files :func:`neuromod.io.read` reads: one train per unit (training), one
        per repeat and unit annotated ``unit`` and ``trial`` (test).
    train_stimulus, test_stimulus : str or path-like, optional
        ``.npy`` frames ``(frames, H, W)`` or ``(frames, D)``, float or uint8.
    frame_dt : float or quantity, optional
        Frame interval, seconds.

    Returns
    -------
    Recording
        ``name``: the file's name (the training spike file's with separate inputs).

    Raises
    ------
    FileNotFoundError
        A file does not exist.
    FileFormatError, SpikeDataError
        One line naming the file and key (see the module description).
    ParameterError
        Both ``path`` and separate inputs, or some separate inputs missing.
    """
    separate = dict(zip(_SEPARATE, (train_spikes, test_spikes, train_stimulus,
                                    test_stimulus, frame_dt)))
    given = [k for k, v in separate.items() if v is not None]
    if path is not None:
        if given:
            raise ParameterError("give a recording file or the separate "
                                 f"{', '.join(_SEPARATE)} inputs, not both")
        fmt = _format(path)
        return _read_npz(path) if fmt == "npz" else _read_nwb(path)
    if not given:
        raise ParameterError("give a recording file (.npz or .nwb) or the separate "
                             f"{', '.join(_SEPARATE)} inputs")
    missing = [k for k, v in separate.items() if v is None]
    if missing:
        raise ParameterError(f"separate inputs need {', '.join(missing)} as well")
    return _read_separate(train_spikes, test_spikes, train_stimulus, test_stimulus, frame_dt)


def save_recording(path, rec, format=None, *, uint8=None):
    """Write ``rec`` to a recording ``.npz`` or NWB file (atomically).

    Parameters
    ----------
    path : str or path-like
    rec : Recording
    format : {"npz", "nwb"}, optional
        Default from the extension.
    uint8 : (offset, scale), optional
        ``.npz`` only: store the stimuli as 8-bit values ``v`` with
        ``stimulus = (v - offset) * scale`` (``stimulus_offset``/``stimulus_scale``
        keys); a ParameterError unless that reproduces every frame exactly.

    Notes
    -----
    NWB: the training interval starts at 0 s and the repeats follow, each
    :data:`NWB_GAP` after the previous interval; spike times in the file are these
    absolute times, so reading them back is exact to rounding (~1e-15 s).
    """
    fmt = _format(path, format)
    if fmt == "npz":
        return _write_npz(path, rec, uint8)
    if uint8 is not None:
        raise ParameterError("uint8= applies to .npz recordings only")
    return _write_nwb(path, rec)


def embedded():
    """The shipped simulated recording (``name`` ``'embedded'``): 8 cells of
    :func:`neuromod.retina.synthetic.simulated_retina` (seed 7) on 8 x 8 pixels at
    10 ms frames, 300 s of training movie and a 10 s clip repeated 20 times. See
    ``data/make_retina.py`` and ``docs/retina.md`` for its statistics."""
    from neuromod.data import path as data_path
    return dataclasses.replace(load_recording(data_path(EMBEDDED)), name="embedded")
