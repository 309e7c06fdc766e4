"""The tempotron family (Gütig & Sompolinsky 2006; Gütig 2016): neurons that fire a
chosen number of spikes in continuous time.

The neuron::

    V(t) = sum_i w_i sum_j K(t - t_i^j) - theta sum_s exp(-(t - t_s)/tau_m)
    K(t) = V0 (exp(-t/tau_m) - exp(-t/tau_s)),   t >= 0

``K`` is normalised to a peak of 1, which it reaches at ``t* = tau_m tau_s
ln(tau_m/tau_s)/(tau_m - tau_s)``, so ``V0 = 1/(exp(-t*/tau_m) - exp(-t*/tau_s))``.
An output spike at ``t_s`` (``V`` reaching ``theta``) resets the voltage by ``theta``
through its own exponential term. The binary tempotron (``binary=True``) shunts its
inputs after its first spike: only that spike exists. Defaults are those of Gütig
2016: ``tau_m = 20 ms``, ``tau_s = 5 ms``, ``theta = 1`` (2006: 15 ms and 3.75 ms).

Two modes of one model:

* **exact** (:func:`simulate` with ``mode='exact'``): event-driven, compiled with
  numba. The voltage between input events is analytic, and output spikes are
  located by root finding to 1e-12 s, with no time grid. Time is rebased at every
  event, so a 100 s trial does not overflow.
* **clock** (``mode='clock'``): the same neuron as a
  :class:`~neuromod.backends.model.NeuronModel` (:func:`tempotron_model`),
  integrated exactly per step of ``dt`` on the Torch or Brian2 backend. An input
  spike acts from the step boundary nearest its time (it is emitted one step
  earlier, since a spike reaches its targets in its step's propagation phase). An
  output spike is ``V > theta`` at a step's end, and is reported at the midpoint of
  that step. The error is at most half a step either way for each, so the clock
  mode converges to the exact one as ``dt`` shrinks.

Examples
--------
>>> p = Tempotron()
>>> round(p.t_peak * 1e3, 4), round(float(p.kernel(p.t_peak)), 12)
(9.242, 1.0)
"""
import math
from dataclasses import dataclass

import numpy as np

from neuromod.errors import ParameterError

__all__ = ["Tempotron", "Patterns", "simulate", "tempotron_model", "MODES"]

#: Simulation modes of :func:`simulate`.
MODES = ("exact", "clock")


@dataclass(frozen=True)
class Tempotron:
    """Parameters of the tempotron neuron (seconds; ``theta`` dimensionless).

    Attributes
    ----------
    tau_m, tau_s : float
        Membrane and synaptic time constants, ``0 < tau_s < tau_m``.
    theta : float
        Threshold, > 0.
    binary : bool
        Shunt the inputs after the first output spike (the binary tempotron).

    Examples
    --------
    >>> Tempotron(tau_m=0.005, tau_s=0.005)
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: tau_s must be smaller than tau_m, got tau_s = 0.005 s >= tau_m = 0.005 s
    """
    tau_m: float = 0.020
    tau_s: float = 0.005
    theta: float = 1.0
    binary: bool = False

    def __post_init__(self):
        for name in ("tau_m", "tau_s", "theta"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v <= 0:
                raise ParameterError(f"{name} must be a finite number > 0, got {v!r}")
        if self.tau_s >= self.tau_m:
            raise ParameterError(f"tau_s must be smaller than tau_m, got tau_s = {self.tau_s:g} "
                                 f"s >= tau_m = {self.tau_m:g} s")

    @property
    def t_peak(self) -> float:
        """Time of the kernel's peak, seconds."""
        tm, ts = self.tau_m, self.tau_s
        return tm * ts * math.log(tm / ts) / (tm - ts)

    @property
    def v0(self) -> float:
        """The kernel's normalisation ``V0``."""
        t = self.t_peak
        return 1.0 / (math.exp(-t / self.tau_m) - math.exp(-t / self.tau_s))

    def kernel(self, t):
        """``K(t)`` (0 for ``t < 0``), any array shape."""
        t = np.asarray(t, dtype=np.float64)
        tt = np.maximum(t, 0.0)
        return np.where(t >= 0, self.v0 * (np.exp(-tt / self.tau_m) - np.exp(-tt / self.tau_s)),
                        0.0)


@dataclass(frozen=True)
class Patterns:
    """Input spike patterns, flat: pattern ``p`` has the spikes
    ``times[offsets[p]:offsets[p + 1]]`` (seconds, sorted) of afferents
    ``afferents[...]``, on ``[0, duration]``.

    Build with :meth:`from_lists` or :meth:`from_arrays`.
    """
    times: np.ndarray
    afferents: np.ndarray
    offsets: np.ndarray
    n_afferents: int
    duration: float

    @property
    def n_patterns(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_arrays(cls, times, afferents, pattern, n_afferents, duration, n_patterns=None):
        """From one spike per entry: time (s), afferent index, pattern index.

        Raises
        ------
        ParameterError
            Negative or non-finite times, times after ``duration``, indices out of range.

        Examples
        --------
        >>> P = Patterns.from_arrays([0.3, 0.1, 0.2], [1, 0, 1], [0, 0, 1], 2, 0.5)
        >>> P.n_patterns, P.times.tolist(), P.offsets.tolist()
        (2, [0.1, 0.3, 0.2], [0, 2, 3])
        """
        t = np.asarray(times, dtype=np.float64).ravel()
        a = np.asarray(afferents, dtype=np.int64).ravel()
        p = np.asarray(pattern, dtype=np.int64).ravel()
        duration = float(duration)
        if not (math.isfinite(duration) and duration > 0):
            raise ParameterError(f"duration must be > 0 seconds, got {duration!r}")
        if not (len(t) == len(a) == len(p)):
            raise ParameterError(f"times, afferents and patterns differ in length: "
                                 f"{len(t)}, {len(a)}, {len(p)}")
        if len(t) and not np.isfinite(t).all():
            raise ParameterError("input spike times must be finite")
        if len(t) and t.min() < 0:
            raise ParameterError(f"input spike times must be >= 0 s, got {t.min():g} s")
        if len(t) and t.max() > duration:
            raise ParameterError(f"an input spike at {t.max():g} s is after the trial's end "
                                 f"({duration:g} s)")
        n_afferents = int(n_afferents)
        if len(a) and (a.min() < 0 or a.max() >= n_afferents):
            raise ParameterError(f"afferent indices must be in 0 .. {n_afferents - 1}")
        P = int(p.max()) + 1 if n_patterns is None and len(p) else int(n_patterns or 0)
        if len(p) and (p.min() < 0 or p.max() >= P):
            raise ParameterError(f"pattern indices must be in 0 .. {P - 1}")
        order = np.lexsort((a, t, p))
        offsets = np.concatenate(([0], np.cumsum(np.bincount(p, minlength=P)))).astype(np.int64)
        return cls(t[order], a[order], offsets, n_afferents, duration)

    @classmethod
    def from_lists(cls, patterns, duration):
        """From a list of patterns, each a list (one entry per afferent) of spike-time
        arrays (seconds).

        Examples
        --------
        >>> P = Patterns.from_lists([[[0.01, 0.2], []], [[], [0.05]]], 0.5)
        >>> P.n_patterns, P.n_afferents, len(P.times)
        (2, 2, 3)
        """
        t, a, p = [], [], []
        n_aff = None
        for k, pat in enumerate(patterns):
            if n_aff is None:
                n_aff = len(pat)
            elif len(pat) != n_aff:
                raise ParameterError(f"pattern {k} has {len(pat)} afferents, pattern 0 has "
                                     f"{n_aff}")
            for i, train in enumerate(pat):
                train = np.atleast_1d(np.asarray(train, dtype=np.float64))
                t.append(train)
                a.append(np.full(len(train), i, dtype=np.int64))
                p.append(np.full(len(train), k, dtype=np.int64))
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
        return cls.from_arrays(cat(t, np.float64), cat(a, np.int64), cat(p, np.int64),
                               n_aff or 0, duration, n_patterns=len(patterns))


def _weights(weights, n_afferents):
    W = np.asarray(weights, dtype=np.float64)
    if W.ndim == 1:
        W = W[None, :]
    if W.ndim != 2 or W.shape[1] != n_afferents:
        raise ParameterError(f"weights must be (n_afferents,) or (neurons, n_afferents) with "
                             f"n_afferents = {n_afferents}, got shape {np.shape(weights)}")
    if not np.isfinite(W).all():
        raise ParameterError("weights must be finite")
    return np.ascontiguousarray(W)


def simulate(patterns, weights, neuron=Tempotron(), mode="exact", dt=1e-4, backend="torch",
             max_spikes=1000):
    """Output spike times of tempotron neurons for every pattern.

    Parameters
    ----------
    patterns : Patterns
    weights : array (n_afferents,) or (neurons, n_afferents)
    neuron : Tempotron
    mode : {'exact', 'clock'}
    dt : float
        Step of the clock-driven mode, seconds.
    backend : {'torch', 'brian2'}
        Clock-driven mode only.
    max_spikes : int
        Exact mode: most output spikes per neuron and pattern (more is an error).

    Returns
    -------
    list of list of ndarray
        ``out[p][j]``: the output spike times (seconds) of neuron ``j`` on pattern ``p``.

    Examples
    --------
    >>> P = Patterns.from_lists([[[0.010], [0.012]]], 0.2)
    >>> [round(float(t), 6) for t in simulate(P, [0.6, 0.6])[0][0]]
    [0.015716]
    >>> [round(float(t), 5) for t in simulate(P, [0.6, 0.6], mode="clock", dt=1e-4)[0][0]]
    [0.01575]
    """
    if not isinstance(neuron, Tempotron):
        raise TypeError(f"neuron must be a Tempotron, got {type(neuron).__name__}")
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    W = _weights(weights, patterns.n_afferents)
    if mode == "exact":
        from neuromod.neurons.tempotron._exact import run_batch
        counts, out = run_batch(patterns.times, patterns.afferents, patterns.offsets, W,
                                patterns.duration, neuron.tau_m, neuron.tau_s, neuron.theta,
                                neuron.v0, neuron.binary, int(max_spikes))
        if (counts < 0).any():
            raise ParameterError(f"a neuron fired more than max_spikes = {max_spikes} spikes "
                                 "on one pattern; raise max_spikes or lower the weights")
        return [[out[p, j, :counts[p, j]].copy() for j in range(W.shape[0])]
                for p in range(patterns.n_patterns)]
    return _clock(patterns, W, neuron, float(dt), backend)


def tempotron_model(neuron=Tempotron()):
    """The clock-driven tempotron as a :class:`~neuromod.backends.model.NeuronModel`:
    input traces ``I_m``, ``I_s`` (port ``e``: ``I_m += w``, ``I_s += w``), the reset
    trace ``R``, ``V = V0 (I_m - I_s) - theta R``, spike when ``V > theta``, then
    ``R += 1``; integrated exactly.

    Examples
    --------
    >>> tempotron_model().threshold
    'V > theta'
    """
    from neuromod.backends.model import NeuronModel
    model = NeuronModel(
        "tempotron",
        "dI_m/dt = -I_m/tau_m : 1\ndI_s/dt = -I_s/tau_s : 1\ndR/dt = -R/tau_m : 1\n"
        "V = V0*(I_m - I_s) - theta*R : 1",
        {"tau_m": f"{neuron.tau_m!r}*second", "tau_s": f"{neuron.tau_s!r}*second",
         "theta": neuron.theta, "V0": neuron.v0},
        threshold="V > theta", reset="R += 1", ports={"e": "I_m += w\nI_s += w"},
        method="exact", domains={"tau_m": "positive", "tau_s": "positive",
                                 "theta": "positive", "V0": "positive"},
        description="tempotron (Gütig & Sompolinsky 2006), clock-driven")
    return model


def _clock(patterns, W, neuron, dt, backend):
    """All patterns in one run: pattern ``p`` drives its own copy of the neurons
    through a block-diagonal connection."""
    import scipy.sparse as sp
    from neuromod.backends.network import Network
    from neuromod.spikes import SpikeTrains
    P, N, n = patterns.n_patterns, patterns.n_afferents, W.shape[0]
    ids = np.repeat(np.arange(P), np.diff(patterns.offsets)) * N + patterns.afferents
    # a source train carries one spike per step: the r-th spike of an afferent within
    # one step goes to copy r of the afferents (same weights)
    # an input spike emitted in step k reaches the neurons in that step's propagation
    # phase, i.e. acts from the boundary (k + 1) dt: emit it one step before the
    # boundary nearest its time (unbiased, half a step either way)
    n_steps = int(round(patterns.duration / dt))
    step = np.clip(np.rint(patterns.times / dt).astype(np.int64) - 1, 0, n_steps - 1)
    times = step * dt
    order = np.lexsort((step, ids))
    key = ids[order] * (int(step.max(initial=0)) + 1) + step[order]
    first = np.r_[True, key[1:] != key[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(key)), 0))
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = np.arange(len(key)) - start
    copies = int(rank.max(initial=0)) + 1
    src = SpikeTrains(times, ids + rank * (P * N), t_start=0.0,
                      t_stop=patterns.duration, n_trains=copies * P * N, sort=True)
    net = Network()
    net.add_spike_source("afferents", src)
    net.add_population("neurons", tempotron_model(neuron), P * n)
    blocks = sp.block_diag([sp.csr_matrix(W.T)] * P, format="csr")
    net.connect("afferents", "neurons", "e", sp.vstack([blocks] * copies, format="csr"))
    options = {"target": "numpy"} if backend == "brian2" else {}
    res = net.run(patterns.duration, dt=dt, backend=backend, **options)
    st = res.spikes["neurons"]
    out = [[None] * n for _ in range(P)]
    for p in range(P):
        for j in range(n):
            i = p * n + j
            # a spike in step k (time stamp k dt) crossed during the step: its midpoint
            t = np.asarray(st.times[st.offsets[i]:st.offsets[i + 1]], dtype=np.float64) \
                + 0.5 * dt
            out[p][j] = t[:1] if neuron.binary else t
    return out
