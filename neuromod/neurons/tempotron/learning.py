"""Learning rules of the tempotron family and the tasks they are measured on.

Binary tempotron (Gütig & Sompolinsky 2006), :func:`train_binary`
    A pattern is classified ``1`` when the neuron fires (its unreset voltage reaches
    ``theta``). On an error only, every weight moves along the kernel at the time
    ``t_max`` of the voltage maximum: ``g_i = sum_j K(t_max - t_i^j)``,
    ``dw(n) = +-lr g + momentum dw(n - 1)`` (``+`` when the neuron should have
    fired), online, patterns in a seeded random order each epoch. The maximum is
    exact (:mod:`._exact`: the voltage between events is analytic).

Tasks
    :func:`latency_patterns`: the capacity task, one spike per afferent at a latency
    drawn uniformly in ``[0, T)``, random binary labels.

Examples
--------
>>> P, y = latency_patterns(20, n_afferents=50, seed=0)
>>> w, hist = train_binary(P, y, epochs=200, seed=0)
>>> hist[-1]["errors"], hist[-1]["epoch"] <= 200
(0, True)
"""
import numpy as np

from neuromod.errors import ParameterError
from neuromod.neurons.tempotron import Patterns, Tempotron

__all__ = ["latency_patterns", "train_binary", "classify_binary", "BINARY_NEURON"]

#: The binary tempotron of Gütig & Sompolinsky 2006: tau_m = 15 ms, tau_s = 3.75 ms.
BINARY_NEURON = Tempotron(tau_m=0.015, tau_s=0.00375)


def latency_patterns(n_patterns, n_afferents=100, duration=0.5, seed=0):
    """The capacity task: ``n_patterns`` patterns of one spike per afferent at a
    latency ``U(0, duration)``, and independent labels 0/1 (probability 1/2).

    Returns
    -------
    patterns : Patterns
    labels : ndarray (n_patterns,) int64
    """
    rng = np.random.default_rng(seed)
    P, N = int(n_patterns), int(n_afferents)
    t = rng.uniform(0.0, duration, (P, N))
    labels = rng.integers(0, 2, P).astype(np.int64)
    patterns = Patterns.from_arrays(t.ravel(), np.tile(np.arange(N), P),
                                    np.repeat(np.arange(P), N), N, duration, n_patterns=P)
    return patterns, labels


def _check_labels(patterns, labels):
    y = np.asarray(labels, dtype=np.int64).ravel()
    if y.shape[0] != patterns.n_patterns:
        raise ParameterError(f"{y.shape[0]} labels for {patterns.n_patterns} patterns")
    if len(y) and not np.isin(y, (0, 1)).all():
        raise ParameterError("binary labels must be 0 or 1")
    return y


def classify_binary(patterns, weights, neuron=BINARY_NEURON):
    """Whether the neuron fires on each pattern (its unreset voltage maximum reaches
    ``theta``), ``(n_patterns,)`` int64."""
    from neuromod.neurons.tempotron._exact import unreset_max
    w = np.ascontiguousarray(np.asarray(weights, dtype=np.float64))
    out = np.zeros(patterns.n_patterns, dtype=np.int64)
    for p in range(patterns.n_patterns):
        s, e = patterns.offsets[p], patterns.offsets[p + 1]
        vmax, _ = unreset_max(patterns.times[s:e], patterns.afferents[s:e], w,
                              patterns.duration, neuron.tau_m, neuron.tau_s, neuron.v0)
        out[p] = vmax >= neuron.theta
    return out


def train_binary(patterns, labels, epochs=100, lr=1e-3, momentum=0.99, init_std=1e-3,
                 seed=0, neuron=BINARY_NEURON, weights=None):
    """Train a binary tempotron on labelled patterns until every pattern is right or
    ``epochs`` pass.

    Parameters
    ----------
    patterns : Patterns
    labels : array (n_patterns,) of 0/1
    epochs : int
    lr, momentum : float
        Learning rate and momentum (Gütig & Sompolinsky's 1e-3 and 0.99).
    init_std : float
        Initial weights ``N(0, init_std^2)``, drawn from ``seed``.
    seed : int
        Seeds the initial weights and the order of the patterns in every epoch.
    neuron : Tempotron
        Default :data:`BINARY_NEURON` (the 2006 time constants, 15 ms and 3.75 ms).
    weights : array, optional
        Start from these instead.

    Returns
    -------
    weights : ndarray (n_afferents,)
    history : list of dict
        Per epoch: ``epoch`` (1-based) and ``errors`` (made during the epoch); the
        last entry has 0 errors when the patterns were learnt.
    """
    from neuromod.neurons.tempotron._exact import binary_epoch
    y = _check_labels(patterns, labels)
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 1):
        raise ParameterError(f"epochs must be an integer >= 1, got {epochs!r}")
    rng = np.random.default_rng(seed)
    w = (rng.normal(0.0, init_std, patterns.n_afferents) if weights is None
         else np.array(weights, dtype=np.float64))
    dw = np.zeros_like(w)
    history = []
    for epoch in range(1, int(epochs) + 1):
        order = rng.permutation(patterns.n_patterns).astype(np.int64)
        err = binary_epoch(patterns.times, patterns.afferents, patterns.offsets, order, y, w,
                           dw, float(lr), float(momentum), patterns.duration, neuron.tau_m,
                           neuron.tau_s, neuron.theta, neuron.v0)
        history.append({"epoch": epoch, "errors": int(err)})
        if err == 0:
            break
    return w, history
