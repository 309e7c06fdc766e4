"""Tasks of the tempotron family, generated from a seed.

:func:`poisson_patterns`
    Independent Poisson afferents.
:func:`count_patterns`
    Multi-spike classes: ``per_class`` random Poisson patterns per class, class ``c``
    coded by ``c + 1`` output spikes (Yu et al. 2020's setting: 4 classes, N = 100
    afferents at 5 Hz over 500 ms).
:func:`jitter`
    Gaussian spike-time jitter.
:func:`delay_line`
    Patterns of ``(times, afferents)`` inputs, each afferent reaching the neuron
    through synapses of several delays.
:class:`FeatureTask`
    Gütig 2016's feature-discovery task: background Poisson input with short fixed
    features (each a Poisson pattern over all afferents) inserted at random times;
    the aggregate label of a trial is how often the clue feature occurred.

Examples
--------
>>> task = FeatureTask.make(n_afferents=20, seed=0)
>>> P, counts = task.trials(3, seed=1)
>>> P.n_patterns, counts.shape, bool(np.all(P.times <= P.duration))
(3, (3, 10), True)
"""
import math
from dataclasses import dataclass

import numpy as np

from neuromod.errors import ParameterError
from neuromod.neurons.tempotron import Patterns

__all__ = ["poisson_patterns", "count_patterns", "jitter", "delay_line", "FeatureTask"]


def _poisson(rng, n_afferents, rate, duration):
    """One Poisson pattern: ``(times, afferents)`` sorted by time."""
    n = rng.poisson(n_afferents * rate * duration)
    t = rng.uniform(0.0, duration, n)
    a = rng.integers(0, n_afferents, n)
    order = np.argsort(t, kind="stable")
    return t[order], a[order]


def poisson_patterns(n_patterns, n_afferents=100, rate=5.0, duration=0.5, seed=0):
    """``n_patterns`` patterns of independent Poisson afferents (``rate`` Hz over
    ``duration`` seconds)."""
    rng = np.random.default_rng(seed)
    t, a, p = [], [], []
    for k in range(int(n_patterns)):
        tk, ak = _poisson(rng, n_afferents, rate, duration)
        t.append(tk)
        a.append(ak)
        p.append(np.full(len(tk), k))
    return Patterns.from_arrays(np.concatenate(t), np.concatenate(a), np.concatenate(p),
                                n_afferents, duration, n_patterns=int(n_patterns))


def count_patterns(n_classes=4, per_class=20, n_afferents=100, rate=5.0, duration=0.5,
                   seed=0):
    """Random Poisson patterns in ``n_classes`` classes of ``per_class``; class ``c``
    is to be answered with ``c + 1`` output spikes.

    Returns
    -------
    patterns : Patterns
    labels : ndarray (n_patterns,) int64, the class (``0 .. n_classes - 1``)
    """
    P = poisson_patterns(n_classes * per_class, n_afferents, rate, duration, seed)
    labels = np.random.default_rng(seed + 1).permutation(
        np.repeat(np.arange(n_classes), per_class)).astype(np.int64)
    return P, labels


def jitter(patterns, sigma, seed=0):
    """A copy of the patterns with every spike time moved by ``N(0, sigma^2)`` seconds
    (clipped to the trial)."""
    rng = np.random.default_rng(seed)
    t = np.clip(patterns.times + rng.normal(0.0, sigma, len(patterns.times)), 0.0,
                patterns.duration)
    p = np.repeat(np.arange(patterns.n_patterns), np.diff(patterns.offsets))
    return Patterns.from_arrays(t, patterns.afferents, p, patterns.n_afferents,
                                patterns.duration, n_patterns=patterns.n_patterns)


def delay_line(inputs, n_afferents, delays=(0.0,)):
    """Patterns of ``inputs`` through a delay line.

    Afferent ``a`` reaches the neuron through one synapse per delay: its spike at
    ``t`` is input ``q n_afferents + a`` at ``t + delays[q]``. A neuron integrating
    over ``tau`` then also sees what came ``delays[q]`` before.

    Parameters
    ----------
    inputs : list of (times, afferents)
        One pattern each: spike times (s, >= 0) and afferent indices in
        ``[0, n_afferents)``.
    n_afferents : int
    delays : sequence of float
        Delays in seconds (>= 0).

    Returns
    -------
    Patterns
        ``n_afferents * len(delays)`` inputs; the duration is the last delayed spike
        plus 1 ms (shared by all patterns).

    Examples
    --------
    >>> P = delay_line([(np.array([0.1]), np.array([1]))], 2, delays=(0.0, 0.2))
    >>> P.times.tolist(), P.afferents.tolist(), P.n_afferents
    ([0.1, 0.30000000000000004], [1, 3], 4)
    """
    delays = np.asarray(delays, dtype=np.float64)
    if delays.ndim != 1 or len(delays) == 0 or not np.all(delays >= 0):
        raise ParameterError(f"delays must be one or more times >= 0 s, got {delays.tolist()}")
    counts = np.array([len(t) for t, _ in inputs], dtype=np.int64)
    t = np.concatenate([np.asarray(t, np.float64) for t, _ in inputs] + [np.zeros(0)])
    a = np.concatenate([np.asarray(a, np.int64) for _, a in inputs] + [np.zeros(0, np.int64)])
    p = np.repeat(np.arange(len(inputs)), counts)
    Q = len(delays)
    T = (t[None, :] + delays[:, None]).ravel()
    A = (a[None, :] + n_afferents * np.arange(Q)[:, None]).ravel()
    Pi = np.tile(p, Q)
    order = np.lexsort((T, Pi))
    duration = float(T.max(initial=0.0)) + 1e-3
    return Patterns.from_arrays(T[order], A[order], Pi[order], n_afferents * Q, duration,
                                n_patterns=len(inputs))


@dataclass(frozen=True)
class FeatureTask:
    """Gütig 2016's aggregate-label task.

    A trial is ``background`` seconds of Poisson input (``rate`` Hz on each of
    ``n_afferents`` afferents) into which each of ``n_features`` features occurs a
    Poisson(``occurrences``) number of times, at uniformly drawn points; every
    occurrence inserts the feature's ``feature_duration`` seconds of spikes (a fixed
    ``rate`` Hz Poisson pattern over all afferents, drawn once) and lengthens the
    trial by as much. Trials of one call are padded to a common duration with
    background. Feature 0 is the clue: a trial's label is its number of occurrences.

    Build with :meth:`make`.
    """
    n_afferents: int
    rate: float
    background: float
    feature_duration: float
    occurrences: float
    features: tuple            # per feature: (times, afferents)

    @classmethod
    def make(cls, n_afferents=200, rate=5.0, background=0.5, n_features=10,
             feature_duration=0.05, occurrences=0.5, seed=0):
        """Draw the features from ``seed``."""
        for name, v in (("n_afferents", n_afferents), ("n_features", n_features)):
            if int(v) < 1:
                raise ParameterError(f"{name} must be >= 1, got {v!r}")
        for name, v in (("rate", rate), ("background", background),
                        ("feature_duration", feature_duration),
                        ("occurrences", occurrences)):
            if not (math.isfinite(v) and v > 0):
                raise ParameterError(f"{name} must be > 0, got {v!r}")
        rng = np.random.default_rng(seed)
        feats = tuple(_poisson(rng, int(n_afferents), rate, feature_duration)
                      for _ in range(int(n_features)))
        return cls(int(n_afferents), float(rate), float(background), float(feature_duration),
                   float(occurrences), feats)

    @property
    def n_features(self):
        return len(self.features)

    def _trial(self, rng, which):
        """Background with the features ``which`` (in order) inserted at sorted
        uniform points: ``(times, afferents)`` and the duration."""
        tb, ab = _poisson(rng, self.n_afferents, self.rate, self.background)
        cuts = np.sort(rng.uniform(0.0, self.background, len(which)))
        D = self.feature_duration
        # a background spike moves later by D per insertion before it
        t = [tb + D * np.searchsorted(cuts, tb, side="right")]
        a = [ab]
        for q, f in enumerate(which):
            ft, fa = self.features[f]
            t.append(cuts[q] + q * D + ft)
            a.append(fa)
        t, a = np.concatenate(t), np.concatenate(a)
        return t, a, self.background + D * len(which)

    def trials(self, n, seed=0):
        """``n`` trials: ``(patterns, counts)``, ``counts[k, f]`` the occurrences of
        feature ``f`` in trial ``k``; the label is ``counts[:, 0]``."""
        rng = np.random.default_rng(seed)
        counts = rng.poisson(self.occurrences, (int(n), self.n_features))
        rows = []
        for k in range(int(n)):
            which = rng.permutation(np.repeat(np.arange(self.n_features), counts[k]))
            rows.append(self._trial(rng, which))
        return self._stack(rows, rng), counts

    def probes(self, n, duration=2.0, seed=0):
        """Probe trials: ``duration`` seconds of background with one feature (or, for
        ``'gap'``, nothing) inserted halfway. Returns ``{feature index or 'gap':
        (patterns, onset)}``, ``n`` probes each; the feature occupies ``[onset,
        onset + feature_duration]``."""
        rng = np.random.default_rng(seed)
        out = {}
        half = 0.5 * duration
        for f in list(range(self.n_features)) + ["gap"]:
            rows = []
            for _ in range(int(n)):
                tb, ab = _poisson(rng, self.n_afferents, self.rate, duration)
                late = tb >= half
                if f == "gap":
                    rows.append((tb, ab, duration))
                    continue
                ft, fa = self.features[f]
                rows.append((np.concatenate([tb + self.feature_duration * late, half + ft]),
                             np.concatenate([ab, fa]), duration + self.feature_duration))
            out[f] = (self._stack(rows, rng), half)
        return out

    def _stack(self, rows, rng):
        """One Patterns from ``(times, afferents, duration)`` rows, the shorter trials
        padded with background to the longest."""
        T = max(r[2] for r in rows)
        t, a, p = [], [], []
        for k, (tk, ak, dk) in enumerate(rows):
            if dk < T:
                tp, ap = _poisson(rng, self.n_afferents, self.rate, T - dk)
                tk, ak = np.concatenate([tk, dk + tp]), np.concatenate([ak, ap])
            t.append(tk)
            a.append(ak)
            p.append(np.full(len(tk), k))
        return Patterns.from_arrays(np.concatenate(t), np.concatenate(a), np.concatenate(p),
                                    self.n_afferents, T, n_patterns=len(rows))
