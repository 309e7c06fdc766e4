"""Numba kernels of the impulse neuron (private to the package).

Input and output spikes act as impulses: an input spike of afferent ``i`` makes the
voltage jump by ``w_i``, an output spike by ``-theta``, and between events the
voltage decays as ``e^{-u/tau}``. Spikes can therefore happen only at input events:
after each event's jump the neuron fires for as long as ``V >= theta``.

Compiled with ``cache=True``.
"""
import math

import numpy as np

from neuromod.runtime import ensure_cache_dir

ensure_cache_dir(__file__)   # before numba: a cache directory it can write

from numba import njit  # noqa: E402

_OPTS = dict(cache=True, nogil=True, error_model="numpy")


@njit(**_OPTS)
def run(times, aff, w, tau, theta, out, peaks):
    """Output spikes of one neuron on one pattern. ``out`` receives the index of the
    input event of every output spike; ``peaks[k]`` the voltage just after event
    ``k``'s jump, before its resets. Returns the number of spikes (``-1 - n`` when
    ``out`` filled up; ``peaks`` is then complete only up to that event)."""
    v = 0.0
    t0 = 0.0
    n = 0
    cap = out.shape[0]
    for k in range(times.shape[0]):
        v = v * math.exp(-(times[k] - t0) / tau) + w[aff[k]]
        t0 = times[k]
        peaks[k] = v
        while v >= theta:
            if n >= cap:
                return -1 - n
            out[n] = k
            n += 1
            v -= theta
    return n


@njit(**_OPTS)
def unreset_max(times, aff, w, tau):
    """The largest voltage without resets over the input events (0 when none is
    positive) and the index of its event (-1 then)."""
    v = 0.0
    t0 = 0.0
    best, kbest = 0.0, -1
    for k in range(times.shape[0]):
        v = v * math.exp(-(times[k] - t0) / tau) + w[aff[k]]
        t0 = times[k]
        if v > best:
            best, kbest = v, k
    return best, kbest


@njit(**_OPTS)
def traces(times, aff, event, tau, n_aff):
    """``x_i(t) = sum_j e^{-(t - t_i^j)/tau}`` over the input spikes up to and
    including input event ``event``, at that event's time."""
    x = np.zeros(n_aff)
    t = times[event]
    for k in range(event + 1):
        x[aff[k]] += math.exp(-(t - times[k]) / tau)
    return x


@njit(**_OPTS)
def reset_sum(times, spikes, n_spikes, event, tau):
    """``1 + sum_s e^{-(t - t_s)/tau}`` over the first ``n_spikes`` output spikes
    (event indices), at event ``event``'s time."""
    c = 1.0
    t = times[event]
    for s in range(n_spikes):
        c += math.exp(-(t - times[spikes[s]]) / tau)
    return c


@njit(**_OPTS)
def emlc_pass(times, aff, w, tau, theta, desired, n_aff):
    """One pass of the EMLC rule's state machine over a pattern. Returns ``(n,
    direction)``: the output spike count and the unscaled weight change, built only
    from what the neuron holds at each moment: at every output spike beyond
    ``desired``, ``-x(t_s)/C(t_s)``; at the end, when fewer than ``desired`` spikes
    came, ``+x(t_p)/C(t_p)`` at the highest voltage that stayed below ``theta``
    (held as a running peak)."""
    direction = np.zeros(n_aff)
    x = np.zeros(n_aff)             # input traces at the current time
    best = np.zeros(n_aff)
    vbest = -math.inf
    cbest = 1.0
    v = 0.0
    r = 0.0                          # reset trace sum_s e^{-(t - t_s)/tau}
    t0 = 0.0
    n = 0
    for k in range(times.shape[0]):
        d = math.exp(-(times[k] - t0) / tau)
        t0 = times[k]
        for i in range(n_aff):
            x[i] *= d
        r *= d
        v = v * d + w[aff[k]]
        x[aff[k]] += 1.0
        if v < theta:
            if v > vbest:
                vbest = v
                cbest = 1.0 + r
                for i in range(n_aff):
                    best[i] = x[i]
            continue
        while v >= theta:
            c = 1.0 + r
            n += 1
            v -= theta
            r += 1.0
            if n > desired:
                for i in range(n_aff):
                    direction[i] -= x[i] / c
    if n < desired and vbest > -math.inf:
        for i in range(n_aff):
            direction[i] += best[i] / cbest
    return n, direction
