"""Efficient multi-spike learning on the impulse neuron, in the spirit of Yu et al.
(2019, 2020).

The papers' abstracts describe a simplified neuron whose input and output spikes act
as impulses, processed event by event, two efficient multi-spike rules (EML, and EMLC,
which depends only on the neuron's current response state) and threshold-driven
plasticity (TDP; Yu, Li & Tan 2019). Their equations are not public: the neuron is
the one the abstracts describe, and the three rules are **neuromod's own designs**
with those properties, not reproductions.

The impulse neuron (:class:`ImpulseNeuron`)::

    V(t) = sum_i w_i sum_j e^{-(t - t_i^j)/tau} - theta sum_s e^{-(t - t_s)/tau}

Input spikes make ``V`` jump by ``w_i``; an output spike, fired while ``V >= theta``
just after an input event, makes it jump by ``-theta``. Output spikes happen only at
input events, so the exact simulation is one pass over the events, with no root
finding. Write ``x_i(t) = sum_{t_i^j <= t} e^{-(t - t_i^j)/tau}`` (the input traces)
and ``C(t) = 1 + sum_{t_s < t} e^{-(t - t_s)/tau}``.

TDP, :func:`tdp_step`
    The multi-spike tempotron's rule on this neuron: with ``n`` output spikes and
    ``d`` desired, move the critical threshold ``theta*_n`` down (``n > d``) or
    ``theta*_{n+1}`` up (``n < d``). Because spike times are pinned to input events,
    they do not move with the weights, and the gradient is exact and closed:
    ``theta*_k = w . x(t*) / C(t*)``, ``grad theta*_k = x(t*)/C(t*)``, with ``t*`` the
    input event where the ``k``-th spike appears (found by bisection on the
    threshold).
EML, :func:`eml_step`
    No bisection: the same direction taken at the neuron's own threshold. Too few
    spikes: ``+lr x(t_p)/C(t_p)`` at the highest voltage that stayed below
    ``theta``. Too many: ``-lr x(t_s)/C(t_s)`` at the output spike with the least
    overshoot ``V(t_s) - theta`` (the easiest to remove). One spike per update.
EMLC, :func:`emlc_step`
    The same directions computed online from the neuron's current state only (its
    count so far, its traces and a running subthreshold peak): every output spike
    beyond the desired count is depressed when it happens, and at the end of the
    trial a missing spike is potentiated at the running peak.

Examples
--------
>>> import numpy as np
>>> from neuromod.neurons.tempotron import Patterns
>>> P = Patterns.from_lists([[[0.010], [0.012]]], 0.1)
>>> [float(t) for t in simulate_impulse(P, [0.6, 0.6])[0][0]]
[0.012]
>>> theta, g = tdp_gradient(P.times, P.afferents, np.array([0.6, 0.6]), 1)
>>> round(theta, 6), np.round(g, 6).tolist()
(1.142902, [0.904837, 1.0])
"""
import math
from dataclasses import dataclass

import numpy as np

from neuromod.errors import ParameterError

__all__ = ["ImpulseNeuron", "spike_events", "simulate_impulse", "count_impulse", "tdp_gradient",
           "tdp_step", "eml_step", "emlc_step"]


@dataclass(frozen=True)
class ImpulseNeuron:
    """Parameters of the impulse neuron: the decay time constant ``tau`` (seconds,
    > 0) and the threshold ``theta`` (> 0).

    Examples
    --------
    >>> ImpulseNeuron(tau=0)
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: tau must be a finite number > 0, got 0
    """
    tau: float = 0.020
    theta: float = 1.0

    def __post_init__(self):
        for name in ("tau", "theta"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v <= 0:
                raise ParameterError(f"{name} must be a finite number > 0, got {v!r}")


def _run(times, aff, w, neuron, theta=None, cap=None):
    """Output spikes (event indices) and the per-event peaks at ``theta``."""
    from neuromod.neurons.tempotron._impulse import run
    theta = neuron.theta if theta is None else theta
    cap = cap or max(16, 4 * len(times))
    out, peaks = np.empty(cap, dtype=np.int64), np.empty(len(times))
    n = run(times, aff, w, neuron.tau, theta, out, peaks)
    if n < 0:
        raise ParameterError(f"more than {cap} output spikes at threshold {theta:g}")
    return out[:n], peaks


def spike_events(times, aff, w, neuron=ImpulseNeuron()):
    """Input-event indices of one neuron's output spikes on one pattern (sorted
    ``times`` of afferents ``aff``)."""
    return _run(times, aff, np.ascontiguousarray(w, dtype=np.float64), neuron)[0]


def simulate_impulse(patterns, weights, neuron=ImpulseNeuron()):
    """Output spike times (seconds) of impulse neurons on every pattern, ``out[p][j]``
    for neuron ``j`` (weights ``(neurons, n_afferents)`` or ``(n_afferents,)``)."""
    W = _weights(weights, patterns.n_afferents)
    out = []
    for p in range(patterns.n_patterns):
        s, e = patterns.offsets[p], patterns.offsets[p + 1]
        t, a = patterns.times[s:e], patterns.afferents[s:e]
        out.append([t[_run(t, a, W[j], neuron)[0]] for j in range(W.shape[0])])
    return out


def count_impulse(patterns, weights, neuron=ImpulseNeuron()):
    """Output spike counts ``(n_patterns, neurons)``."""
    return np.array([[len(x) for x in row] for row in simulate_impulse(patterns, weights,
                                                                        neuron)],
                    dtype=np.int64).reshape(patterns.n_patterns, -1)


def _weights(weights, n_afferents):
    W = np.asarray(weights, dtype=np.float64)
    W = W[None, :] if W.ndim == 1 else W
    if W.ndim != 2 or W.shape[1] != n_afferents:
        raise ParameterError(f"weights must be (n_afferents,) or (neurons, n_afferents) with "
                             f"n_afferents = {n_afferents}, got shape {np.shape(weights)}")
    return np.ascontiguousarray(W)


def tdp_gradient(times, aff, w, k, neuron=ImpulseNeuron(), tol=1e-12):
    """The critical threshold ``theta*_k`` of the impulse neuron on one pattern and
    its exact gradient ``x(t*)/C(t*)`` with respect to the weights.

    Raises
    ------
    ParameterError
        When no threshold gives ``k`` spikes.
    """
    from neuromod.neurons.tempotron._exact import critical_bracket
    from neuromod.neurons.tempotron._impulse import reset_sum, traces, unreset_max
    if k < 1:
        raise ParameterError(f"k must be >= 1, got {k}")
    w = np.ascontiguousarray(w, dtype=np.float64)
    vmax, _ = unreset_max(times, aff, w, neuron.tau)
    if not vmax > 0:
        raise ParameterError("the voltage never rises above 0: no threshold gives a spike")
    lo, hi, status = critical_bracket(True, times, aff, w, int(k), 0.0, neuron.tau, 0.0,
                                      1.0, vmax, tol)
    if status < 0:
        raise ParameterError(f"no threshold gives {k} spikes on this pattern")
    below, _ = _run(times, aff, w, neuron, lo, cap=int(k))
    above, _ = _run(times, aff, w, neuron, hi, cap=int(k))
    d = 0                                  # the first spike of `below` not in `above`
    while d < len(above) and above[d] == below[d]:
        d += 1
    event = int(below[d])
    C = reset_sum(times, below, d, event, neuron.tau)
    g = traces(times, aff, event, neuron.tau, len(w)) / C
    return float(w @ g), g


def tdp_step(times, aff, w, desired, neuron=ImpulseNeuron(), lr=1e-3):
    """One TDP update for a pattern whose desired output is ``desired`` spikes:
    ``(dw, n)``; skipped (zero) when the critical threshold cannot be bracketed."""
    n = len(_run(times, aff, w, neuron)[0])
    if n == desired:
        return np.zeros_like(w), n
    k, sign = (n, -1.0) if n > desired else (n + 1, 1.0)
    try:
        _, g = tdp_gradient(times, aff, w, k, neuron)
    except ParameterError:
        return np.zeros_like(w), n
    return sign * lr * g, n


def eml_step(times, aff, w, desired, neuron=ImpulseNeuron(), lr=1e-3):
    """One EML update: ``(dw, n)`` (see the module's description)."""
    from neuromod.neurons.tempotron._impulse import reset_sum, traces
    spikes, peaks = _run(times, aff, w, neuron)
    n = len(spikes)
    dw = np.zeros_like(w)
    if n == desired or len(times) == 0:
        return dw, n
    if n < desired:
        v = peaks.copy()                  # the voltage just after each event's jump
        v[spikes] = -np.inf               # the highest voltage that stayed below theta
        event, sign = int(np.argmax(v)), 1.0
        if not np.isfinite(v[event]):
            return dw, n
    else:
        # a spike of rank r at its event fires at peak - r theta: its overshoot
        first = np.r_[True, spikes[1:] != spikes[:-1]]
        rank = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
        margin = peaks[spikes] - neuron.theta * (rank + 1)
        event, sign = int(spikes[int(np.argmin(margin))]), -1.0
    before = np.searchsorted(spikes, event, side="left")
    C = reset_sum(times, spikes, before, event, neuron.tau)
    return sign * lr * traces(times, aff, event, neuron.tau, len(w)) / C, n


def emlc_step(times, aff, w, desired, neuron=ImpulseNeuron(), lr=1e-3):
    """One EMLC update: ``(dw, n)`` (see the module's description)."""
    from neuromod.neurons.tempotron._impulse import emlc_pass
    n, direction = emlc_pass(times, aff, np.ascontiguousarray(w, dtype=np.float64),
                             neuron.tau, neuron.theta, int(desired), len(w))
    return lr * direction, int(n)
