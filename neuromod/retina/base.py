"""The estimator interface every retina model follows (after nemos's ``fit`` /
``score`` / ``simulate``):

``model.fit(recording, bin_size=0.001, seed=0, epochs=None, checkpoint=None, resume=False, progress=False)``
    Fit to ``recording.train_*`` (a validation split, when the model uses one, is
    carved from the end of the training stimulus). Returns the model.
``model.intensity(stimulus, counts=None, frame_dt=...)``
    The expected spike count per bin ``(trials, bins, units)`` given the stimulus
    and, for models with spike history, the observed past ``counts`` (same shape).
``model.sample(stimulus, n_trials, seed=0, frame_dt=...)``
    Spike counts ``(trials, bins, units)`` generated bin by bin, the model's own
    spikes feeding its history.
``model.log_likelihood(stimulus, counts, frame_dt=...)``
    Total log-likelihood of the counts in nats, ``log y!`` included.
``model.score(recording)``
    Bits per spike on the test repeats (:func:`bits_per_spike`).
``model.save(path)`` / :func:`neuromod.load`
    One ``.npz`` (JSON header and arrays, no pickle): ``kind`` ``retina-model``.

Subclasses set :attr:`RetinaModel.kind` (the name ``neuromod fit`` uses), implement
``_fit``, ``intensity``, ``sample`` and ``config``/``arrays`` (what ``save`` writes)
and ``from_saved``; they are listed in :data:`MODELS` (module paths, not instances).

Examples
--------
>>> import numpy as np
>>> round(bits_per_spike(np.array([[1, 0], [0, 2]]), np.array([[1.0, 0.5], [0.5, 2.0]]),
...                      np.array([0.5, 1.0])), 4)
0.5191
"""
import json
import math

import numpy as np

from neuromod.errors import FileFormatError, ParameterError

__all__ = ["RetinaModel", "MODELS", "bits_per_spike", "poisson_log_likelihood",
           "counts_to_spikes", "load_model", "check_bin_size"]

#: kind -> "module:Class" of every retina model (imported on use).
MODELS = {"ln": "neuromod.retina.ln:LNPoisson", "glm": "neuromod.retina.glm:GLM",
          "cnn": "neuromod.retina.cnn:CNN", "tecos": "neuromod.retina.tecos:TeCoS"}


def check_bin_size(bin_size, frame_dt):
    """``bin_size`` must be > 0 and divide ``frame_dt`` (within 1e-9 relative)."""
    if not (math.isfinite(bin_size) and bin_size > 0):
        raise ParameterError(f"bin_size must be > 0 seconds, got {bin_size!r}")
    r = frame_dt / bin_size
    if abs(r - round(r)) > 1e-6 * r or round(r) < 1:
        raise ParameterError(f"bin_size {bin_size:g} s must divide the frame interval "
                             f"{frame_dt:g} s")
    return float(bin_size)


def poisson_log_likelihood(counts, expected):
    """``sum y log(lam) - lam - log(y!)`` over every entry, nats (``lam`` clipped at
    1e-12)."""
    from scipy.special import gammaln
    y = np.asarray(counts, dtype=np.float64)
    lam = np.maximum(np.asarray(expected, dtype=np.float64), 1e-12)
    return float(np.sum(y * np.log(lam) - lam - gammaln(y + 1)))


def bits_per_spike(counts, expected, null_rate_per_bin):
    """``(l_model - l_null) / (n_spikes ln 2)``: the Poisson log-likelihood gain per
    spike over a homogeneous Poisson model with ``null_rate_per_bin`` expected spikes
    per bin for each unit (the last axis; take it from the training data).
    """
    y = np.asarray(counts, dtype=np.float64)
    null = np.broadcast_to(np.asarray(null_rate_per_bin, dtype=np.float64), y.shape)
    n = y.sum()
    if n == 0:
        return float("nan")
    return float((poisson_log_likelihood(y, expected) - poisson_log_likelihood(y, null))
                 / (n * math.log(2)))


def counts_to_spikes(counts, bin_size, seed=0):
    """Spike trains from counts ``(trials, bins, units)``: each spike at a uniformly
    drawn time within its bin (seeded), train ``trial * units + unit`` with ``unit``
    and ``trial`` annotations, on ``[0, bins * bin_size]``."""
    from neuromod.spikes import SpikeTrains
    c = np.asarray(counts, dtype=np.int64)
    R, B, U = c.shape
    trial, b, unit = np.nonzero(c)
    k = c[trial, b, unit]
    trial, b, unit = np.repeat(trial, k), np.repeat(b, k), np.repeat(unit, k)
    t = (b + np.random.default_rng(seed).uniform(0.0, 1.0, len(b))) * bin_size
    ids = trial * U + unit
    return SpikeTrains(t, ids, 0.0, B * bin_size, n_trains=R * U, sort=True,
                       annotations={"unit": np.tile(np.arange(U), R),
                                    "trial": np.repeat(np.arange(R), U)})


class RetinaModel:
    """Base class of the retina models (see the module's description)."""
    kind = None

    def fit(self, recording, bin_size=0.001, seed=0, epochs=None, checkpoint=None,
            resume=False, progress=False):
        check_bin_size(bin_size, recording.frame_dt)
        self.bin_size = float(bin_size)
        self.frame_dt = float(recording.frame_dt)
        counts = recording.train_counts(bin_size)
        self.null_rate = counts.mean(axis=0)            # per unit, spikes per bin
        raw = recording.train_stimulus
        self.frame_shape = tuple(raw.shape[1:])
        self.stim_mean = float(np.mean(raw, dtype=np.float64))
        self.stim_std = float(np.std(raw, dtype=np.float64)) or 1.0
        self._fit(recording, counts, seed=seed, epochs=epochs, checkpoint=checkpoint,
                  resume=resume, progress=progress)
        return self

    def standardised(self, stimulus):
        """``stimulus`` as ``(frames, pixels)`` float64 in units of the training
        stimulus's standard deviation about its mean (one of each, set by :meth:`fit`)."""
        S = np.asarray(stimulus, dtype=np.float64)
        return (S.reshape(S.shape[0], -1) - self.stim_mean) / self.stim_std

    def score(self, recording):
        """Bits per spike on the test repeats."""
        y = recording.test_counts(self.bin_size)
        stim = recording.test_stimulus
        lam = self.intensity(stim, y, frame_dt=recording.frame_dt)
        return bits_per_spike(y, lam, self.null_rate)

    def log_likelihood(self, stimulus, counts, frame_dt=None):
        return poisson_log_likelihood(counts, self.intensity(stimulus, counts,
                                                             frame_dt=frame_dt))

    def state(self):
        """The model as plain data (its definition and fitted arrays): what :meth:`save`
        writes and :func:`load_model` rebuilds it from (e.g. on another process)."""
        return {"retina_model": self.kind, "config": json.dumps(self.config()),
                "arrays": self.arrays(), "bin_size": self.bin_size,
                "frame_dt": self.frame_dt, "null_rate": np.asarray(self.null_rate)}

    def save(self, path):
        """Write the model (definition and fitted arrays) to ``path``."""
        from neuromod.backends.serialize import save_state
        save_state(self.state(), path)


def load_model(state, path="model file"):
    """Rebuild a retina model from the state :meth:`RetinaModel.save` wrote."""
    import importlib
    kind = state.get("retina_model")
    if kind not in MODELS:
        raise FileFormatError(f"{path}: unknown retina model {kind!r}")
    mod, cls = MODELS[kind].split(":")
    model = getattr(importlib.import_module(mod), cls).from_saved(
        json.loads(state["config"]), state["arrays"])
    model.bin_size, model.frame_dt = float(state["bin_size"]), float(state["frame_dt"])
    model.null_rate = np.asarray(state["null_rate"])
    return model
