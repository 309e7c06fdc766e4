"""A recording: a stimulus and the spike trains sensory neurons fired to it, with
repeated trials of a test stimulus.

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
"""
import math
from dataclasses import dataclass, field

import numpy as np

from neuromod.errors import ParameterError

__all__ = ["Recording", "BIN_SIZE"]

#: Default model bin, seconds.
BIN_SIZE = 0.001


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
        if self.train_spikes.n_trains != self.n_units:
            raise ParameterError(f"train_spikes has {self.train_spikes.n_trains} trains for "
                                 f"{self.n_units} units")
        if self.test_spikes.n_trains != self.n_units * self.n_test_trials:
            raise ParameterError(f"test_spikes has {self.test_spikes.n_trains} trains for "
                                 f"{self.n_units} units x {self.n_test_trials} trials")
        if not self.unit_names:
            object.__setattr__(self, "unit_names",
                               tuple(f"unit{i}" for i in range(self.n_units)))

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
