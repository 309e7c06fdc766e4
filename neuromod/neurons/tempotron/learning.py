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
from dataclasses import replace

import numpy as np

from neuromod.errors import ParameterError
from neuromod.neurons.tempotron import Patterns, Tempotron

__all__ = ["latency_patterns", "train_binary", "classify_binary", "BINARY_NEURON",
           "critical_threshold", "theta_gradient", "mst_step", "eligibility",
           "correlation_step", "MULTISPIKE_RULES", "spike_counts", "multispike_epoch",
           "train_multispike", "offset_to_rate"]

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


# ------------------------------------------------------------ multi-spike tempotron
def _count(times, aff, w, duration, neuron, theta, cap=10000):
    """Output spikes at threshold ``theta`` (times)."""
    from neuromod.neurons.tempotron._exact import run_neuron
    out = np.empty(cap)
    n = run_neuron(times, aff, w, duration, neuron.tau_m, neuron.tau_s, theta, neuron.v0,
                   False, out)
    if n < 0:
        raise ParameterError(f"more than {cap} output spikes at threshold {theta:g}")
    return out[:n]


def critical_threshold(times, aff, w, k, duration, neuron=Tempotron(), tol=1e-13):
    """The critical threshold ``theta*_k`` of one pattern: the threshold at which the
    neuron's spike count steps from ``k - 1`` (above it) to ``k`` (below it), by
    bisection to the relative tolerance ``tol``.

    Returns
    -------
    (theta_star, lo, hi) : float
        The estimate and a bracket with ``count(lo) >= k > count(hi)``.

    Raises
    ------
    ParameterError
        When no threshold gives ``k`` spikes (the spike-threshold surface cannot be
        bracketed: e.g. no excitatory input).
    """
    from neuromod.neurons.tempotron._exact import critical_bracket, unreset_max
    if k < 1:
        raise ParameterError(f"k must be >= 1, got {k}")
    vmax, _ = unreset_max(times, aff, w, duration, neuron.tau_m, neuron.tau_s, neuron.v0)
    if not vmax > 0:
        raise ParameterError("the voltage never rises above 0: no threshold gives a spike")
    lo, hi, status = critical_bracket(False, times, aff, w, int(k), duration, neuron.tau_m,
                                      neuron.tau_s, neuron.v0, vmax, float(tol))
    if status < 0:
        raise ParameterError(f"no threshold gives {k} spikes on this pattern")
    return 0.5 * (lo + hi), lo, hi


def theta_gradient(times, aff, w, k, duration, neuron=Tempotron()):
    """``theta*_k`` and its gradient with respect to the weights (Gütig 2016).

    The output spikes at ``theta*`` before the tangent point ``t*`` of the spike that
    appears below ``theta*`` (the local maximum of the voltage that just reaches the
    threshold: the maximum nearest that new spike, which need not be the last, nor
    the global maximum) give, with ``C_x = 1 + sum_{t_s < t_x} e^{-(t_x - t_s)/tau_m}`` and the unreset
    voltage ``V0``: ``V_x = V0(t_x)/C_x``, ``dV_x/dw = sum K/C_x``, ``dV_x/dt_j =
    -V0 e^{-(t_x - t_j)/tau_m}/(tau_m C_x^2)``, ``Vdot_x = V0'/C_x + V0 sum
    e/(tau_m C_x^2)``, and the recursion ``A_k = 1 - sum_j (A_j/Vdot_j) dV_k/dt_j``,
    ``B_k = -dV_k/dw - sum_j (B_j/Vdot_j) dV_k/dt_j``; ``grad theta* = -B*/A*``.

    Returns
    -------
    theta_star : float
    grad : ndarray (n_afferents,)
    """
    from neuromod.neurons.tempotron._exact import local_maxima
    theta, lo, hi = critical_threshold(times, aff, w, k, duration, neuron)
    below = _count(times, aff, w, duration, neuron, lo)
    above = _count(times, aff, w, duration, neuron, hi)
    tq, vq = np.empty(4 * len(times) + 8), np.empty(4 * len(times) + 8)
    m = local_maxima(times, aff, w, duration, neuron.tau_m, neuron.tau_s, hi, neuron.v0,
                     above, tq, vq)
    if m == 0 or len(below) < k:
        raise ParameterError("cannot locate the tangent point of the critical threshold")
    # the spike that appears below theta*: the first of `below` without a partner in
    # `above` (it need not be the last); its own local maximum is the tangent point
    d = 0
    while d < len(above) and abs(below[d] - above[d]) < 1e-6:
        d += 1
    t_star = tq[:m][np.argmin(np.abs(tq[:m] - below[d]))]
    pts = np.concatenate([above[above < t_star], [t_star]])
    tm, ts, v0 = neuron.tau_m, neuron.tau_s, neuron.v0
    n_aff = len(w)
    A, B, Vdot = [], [], []
    for x, tx in enumerate(pts):
        u = tx - times
        live = u > 0
        Kx = np.where(live, v0 * (np.exp(-np.where(live, u, 0) / tm)
                                  - np.exp(-np.where(live, u, 0) / ts)), 0.0)
        dK = np.where(live, v0 * (-np.exp(-np.where(live, u, 0) / tm) / tm
                                  + np.exp(-np.where(live, u, 0) / ts) / ts), 0.0)
        V0x = float(np.dot(w[aff], Kx))
        V0p = float(np.dot(w[aff], dK))
        e = np.exp(-(tx - pts[:x]) / tm)
        C = 1.0 + e.sum()
        dVdw = np.bincount(aff, weights=Kx, minlength=n_aff) / C
        dVdtj = -V0x * e / (tm * C * C)
        Ak = 1.0 - sum(A[j] / Vdot[j] * dVdtj[j] for j in range(x))
        Bk = -dVdw - sum(B[j] / Vdot[j] * dVdtj[j] for j in range(x))
        A.append(Ak)
        B.append(Bk)
        Vdot.append(V0p / C + V0x * e.sum() / (tm * C * C))
    return theta, -B[-1] / A[-1]


def mst_step(times, aff, w, desired, duration, neuron=Tempotron(), lr=1e-3):
    """One multi-spike tempotron update (Gütig 2016) of ``w`` for a pattern whose
    desired output is ``desired`` spikes: with ``n`` output spikes at ``theta``,
    ``-lr grad theta*_n`` when ``n > desired`` and ``+lr grad theta*_{n+1}`` when
    ``n < desired`` (no change otherwise). Returns ``(dw, n)``; ``dw`` is zero when
    the critical threshold cannot be bracketed (the update is skipped, never a hang).
    """
    n = len(_count(times, aff, w, duration, neuron, neuron.theta))
    if n == desired:
        return np.zeros_like(w), n
    k, sign = (n, -1.0) if n > desired else (n + 1, 1.0)
    try:
        _, g = theta_gradient(times, aff, w, k, duration, neuron)
    except ParameterError:
        return np.zeros_like(w), n
    return sign * lr * g, n


def eligibility(times, aff, w, duration, neuron=Tempotron()):
    """The correlation rule's eligibility of every synapse,
    ``E_i = sum_j int_0^T V(t) K(t - t_i^j) dt``, with ``V`` the voltage with its
    resets, in closed form (pairs of events more than ``30 tau_m`` apart, whose terms
    carry ``e^{-30}``, are skipped)."""
    from neuromod.neurons.tempotron._exact import eligibility_exact
    spikes = _count(times, aff, w, duration, neuron, neuron.theta)
    return eligibility_exact(times, aff, w, spikes, duration, neuron.tau_m, neuron.tau_s,
                             neuron.theta, neuron.v0, len(w), 30 * neuron.tau_m)


def correlation_step(times, aff, w, desired, duration, neuron=Tempotron(), lr=1e-3,
                     fraction=0.1):
    """One update of the correlation-based multi-spike rule: on an error, the
    ``fraction`` most eligible synapses (:func:`eligibility`) change by ``+lr`` (too
    few spikes) or ``-lr`` (too many). Returns ``(dw, n)``."""
    n = len(_count(times, aff, w, duration, neuron, neuron.theta))
    dw = np.zeros_like(w)
    if n == desired:
        return dw, n
    E = eligibility(times, aff, w, duration, neuron)
    top = np.argsort(-E)[:max(1, int(round(fraction * len(w))))]
    dw[top] = lr if n < desired else -lr
    return dw, n


# ------------------------------------------------------------ multi-spike training
def _rules():
    from neuromod.neurons.tempotron.efficient import (ImpulseNeuron, eml_step, emlc_step,
                                                      tdp_step)
    return {"gradient": (mst_step, Tempotron), "correlation": (correlation_step, Tempotron),
            "tdp": (tdp_step, ImpulseNeuron), "eml": (eml_step, ImpulseNeuron),
            "emlc": (emlc_step, ImpulseNeuron)}


#: Multi-spike rules of :func:`train_multispike` and the neuron each runs on:
#: ``gradient`` (the multi-spike tempotron, Gütig 2016) and ``correlation`` on
#: :class:`~neuromod.neurons.tempotron.Tempotron`; ``tdp``, ``eml``, ``emlc``
#: (:mod:`.efficient`) on :class:`~neuromod.neurons.tempotron.efficient.ImpulseNeuron`.
MULTISPIKE_RULES = ("gradient", "correlation", "tdp", "eml", "emlc")


def spike_counts(patterns, weights, neuron=Tempotron()):
    """Output spike counts ``(n_patterns, neurons)`` of tempotron or impulse neurons."""
    from neuromod.neurons.tempotron import simulate
    from neuromod.neurons.tempotron.efficient import ImpulseNeuron, count_impulse
    if isinstance(neuron, ImpulseNeuron):
        return count_impulse(patterns, weights, neuron)
    out = simulate(patterns, weights, neuron, max_spikes=100000)
    return np.array([[len(x) for x in row] for row in out],
                    dtype=np.int64).reshape(patterns.n_patterns, -1)


def _desired(patterns, desired, n_neurons):
    d = np.asarray(desired)
    if d.ndim == 1:
        d = d[:, None]
    if d.shape != (patterns.n_patterns, n_neurons):
        raise ParameterError(f"desired spike counts must be (n_patterns,) or (n_patterns, "
                             f"neurons) = ({patterns.n_patterns}, {n_neurons}), got shape "
                             f"{np.shape(desired)}")
    if not np.issubdtype(d.dtype, np.integer) and not np.all(d == np.round(d)):
        raise ParameterError("desired spike counts must be integers")
    d = d.astype(np.int64)
    if (d < 0).any():
        raise ParameterError("desired spike counts must be >= 0")
    return d


def multispike_epoch(patterns, desired, weights, momentum_state, rule="gradient",
                     neuron=None, lr=1e-3, momentum=0.0, order=None, margin=0.0):
    """One online pass of a multi-spike rule over ``patterns`` (in ``order``),
    updating ``weights`` ``(neurons, n_afferents)`` and the momentum state in place:
    on an error of neuron ``j`` on pattern ``p``, ``dw_j <- step + momentum dw_j``,
    ``w_j += dw_j``. With ``margin`` ``m > 0`` the rule also acts when the count is
    right at ``theta`` but not robustly so: too few spikes at ``theta (1 + m)`` or too
    many at ``theta (1 - m)`` (the critical thresholds are pushed ``m theta`` away
    from ``theta``). Returns the errors per neuron made during the pass: wrong
    counts at ``theta``, or with a margin, counts not right at both ``theta (1 +- m)``."""
    rules = _rules()
    if rule not in rules:
        raise ParameterError(f"rule must be one of {', '.join(MULTISPIKE_RULES)}, got {rule!r}")
    step, kind = rules[rule]
    neuron = kind() if neuron is None else neuron
    if not isinstance(neuron, kind):
        raise ParameterError(f"rule {rule!r} runs on a {kind.__name__}, got "
                             f"{type(neuron).__name__}")
    d = _desired(patterns, desired, weights.shape[0])
    order = np.arange(patterns.n_patterns) if order is None else order
    errors = np.zeros(weights.shape[0], dtype=np.int64)
    if not 0.0 <= margin < 1.0:
        raise ParameterError(f"margin must be in [0, 1), got {margin!r}")
    pairs = [(neuron, None)] if not margin else [
        (replace(neuron, theta=neuron.theta * (1 + margin)), 1),    # enough spikes
        (replace(neuron, theta=neuron.theta * (1 - margin)), -1)]   # not too many
    args = (patterns.duration,) if kind is Tempotron else ()
    for p in order:
        s, e = patterns.offsets[p], patterns.offsets[p + 1]
        t, a = patterns.times[s:e], patterns.afferents[s:e]
        for j in range(weights.shape[0]):
            want = int(d[p, j])
            g = np.zeros(weights.shape[1])
            wrong = False
            for nr, side in pairs:
                dw, n = step(t, a, weights[j], want, *args, nr, lr)
                if side is None or (side == 1 and n < want) or (side == -1 and n > want):
                    g += dw
                    wrong |= n != want
            errors[j] += wrong
            if g.any():
                momentum_state[j] = g + momentum * momentum_state[j]
                weights[j] += momentum_state[j]
    return errors


def train_multispike(patterns, desired, rule="gradient", neuron=None, epochs=100, lr=1e-3,
                     momentum=0.0, init_mean=0.0, init_std=0.01, seed=0, weights=None,
                     target=1.0, jitter=0.0, margin=0.0, progress=None):
    """Train multi-spike neurons to fire ``desired`` spikes on each pattern.

    Parameters
    ----------
    patterns : Patterns
    desired : array (n_patterns,) or (n_patterns, neurons) of int
        Desired output spike counts (one neuron per column).
    rule : {'gradient', 'correlation', 'tdp', 'eml', 'emlc'}
        See :data:`MULTISPIKE_RULES`.
    neuron : Tempotron or ImpulseNeuron, optional
        The rule's neuron; by default its defaults.
    epochs : int
        At most this many online passes, patterns in a seeded random order each.
    lr, momentum : float
    init_mean, init_std : float
        Initial weights ``N(init_mean, init_std^2)`` drawn from ``seed``.
    weights : array, optional
        Start from these instead.
    target : float
        Stop after the first pass in which at least this fraction of (pattern,
        neuron) answers was right.
    jitter : float
        Train each pass on a fresh copy of the patterns with every spike moved by
        ``N(0, jitter^2)`` seconds (seeded): robustness to spike-time noise.
    margin : float
        Robustness margin of :func:`multispike_epoch` (relative to ``theta``).
    progress : callable, optional
        Called with each epoch's history entry.

    Returns
    -------
    weights : ndarray (neurons, n_afferents)
    history : list of dict
        Per epoch: ``epoch`` and ``errors`` (made during the pass, all neurons).

    Examples
    --------
    >>> from neuromod.neurons.tempotron.tasks import count_patterns
    >>> P, y = count_patterns(n_classes=2, per_class=3, n_afferents=50, seed=0)
    >>> W, hist = train_multispike(P, y + 1, rule="tdp", lr=0.01, epochs=200,
    ...                            init_mean=0.02, seed=0)
    >>> hist[-1]["errors"]
    0
    """
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 1):
        raise ParameterError(f"epochs must be an integer >= 1, got {epochs!r}")
    d0 = np.asarray(desired)
    n = 1 if d0.ndim == 1 else d0.shape[1]
    rng = np.random.default_rng(seed)
    W = (rng.normal(init_mean, init_std, (n, patterns.n_afferents)) if weights is None
         else np.array(weights, dtype=np.float64).reshape(n, patterns.n_afferents))
    dW = np.zeros_like(W)
    history = []
    for epoch in range(1, int(epochs) + 1):
        order = rng.permutation(patterns.n_patterns)
        seen = patterns if not jitter else _jitter(patterns, jitter, int(rng.integers(2**63)))
        err = multispike_epoch(seen, desired, W, dW, rule, neuron, lr, momentum, order,
                               margin)
        entry = {"epoch": epoch, "errors": int(err.sum())}
        history.append(entry)
        if progress is not None:
            progress(entry)
        if entry["errors"] <= (1.0 - target) * patterns.n_patterns * n:
            break
    return W, history


def _jitter(patterns, sigma, seed):
    from neuromod.neurons.tempotron.tasks import jitter
    return jitter(patterns, sigma, seed)


def offset_to_rate(patterns, weights, rate, neuron=Tempotron(), tol=0.05):
    """A uniform offset ``b`` for every weight such that neurons with ``weights + b``
    fire at about ``rate`` Hz on average over ``patterns`` (bisection to ``tol``
    relative): the pre-training of Gütig 2016's feature task."""
    W = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    goal = rate * patterns.duration

    def mean_count(b):
        return spike_counts(patterns, W + b, neuron).mean()

    lo, hi = -1.0, 1.0
    while mean_count(hi) < goal:
        hi *= 2
        if hi > 1e6:
            raise ParameterError(f"no offset reaches {rate:g} Hz")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        m = mean_count(mid)
        if abs(m - goal) <= tol * goal:
            return mid
        lo, hi = (mid, hi) if m < goal else (lo, mid)
    return 0.5 * (lo + hi)
