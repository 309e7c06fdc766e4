"""Numba kernels of the event-driven tempotron (private to the package).

Between two events the voltage is ``V(t0 + u) = alpha e^{-u/tau_m} - beta e^{-u/tau_s}``
with ``alpha = V0 a - theta r`` and ``beta = V0 b``, where ``a``, ``b`` are the input
traces ``sum_i w_i e^{-(t0 - t_i)/tau}`` and ``r`` the reset trace ``sum_s
e^{-(t0 - t_s)/tau_m}``, all held at the current time ``t0`` (time is rebased at every
event, so nothing grows like ``e^{t/tau}`` on long trials). Such a function has at most
one critical point, so its maximum over an interval is at that point or at an end,
and the first threshold crossing lies in a bracket where ``V`` rises monotonically;
it is found by bisection to :data:`TIME_TOL`.

Compiled with ``cache=True``.
"""
import math

import numpy as np

from neuromod.runtime import ensure_cache_dir

ensure_cache_dir(__file__)   # before numba: a cache directory it can write

from numba import njit  # noqa: E402

from neuromod.neurons.tempotron._impulse import run as impulse_run  # noqa: E402

_OPTS = dict(cache=True, nogil=True, error_model="numpy")

#: Output spike times are located to this many seconds.
TIME_TOL = 1e-12


@njit(**_OPTS)
def _v(alpha, beta, u, tau_m, tau_s):
    return alpha * math.exp(-u / tau_m) - beta * math.exp(-u / tau_s)


@njit(**_OPTS)
def _first_crossing(alpha, beta, span, theta, tau_m, tau_s):
    """First ``u`` in ``(0, span]`` with ``V(u) >= theta``, or -1."""
    v0 = _v(alpha, beta, 0.0, tau_m, tau_s)
    if v0 >= theta:
        return 0.0
    # critical point of alpha e^{-u/tm} - beta e^{-u/ts}: beta/ts e^{-u/ts} = alpha/tm e^{-u/tm}
    ucrit = -1.0
    if alpha != 0.0 and beta != 0.0 and (beta * tau_m) / (alpha * tau_s) > 0.0:
        ucrit = math.log((beta * tau_m) / (alpha * tau_s)) / (1.0 / tau_s - 1.0 / tau_m)
    lo, hi = 0.0, span
    if 0.0 < ucrit < span:
        vc = _v(alpha, beta, ucrit, tau_m, tau_s)
        # second derivative sign tells a maximum from a minimum
        d2 = alpha / (tau_m * tau_m) * math.exp(-ucrit / tau_m) - \
            beta / (tau_s * tau_s) * math.exp(-ucrit / tau_s)
        if d2 < 0.0:                      # a maximum: rising on [0, ucrit]
            if vc < theta:
                return -1.0
            hi = ucrit
        else:                             # a minimum: rising on [ucrit, span]
            if _v(alpha, beta, span, tau_m, tau_s) < theta:
                return -1.0
            lo = ucrit
    elif _v(alpha, beta, span, tau_m, tau_s) < theta:
        return -1.0
    for _ in range(200):
        if hi - lo <= TIME_TOL:
            break
        mid = 0.5 * (lo + hi)
        if _v(alpha, beta, mid, tau_m, tau_s) >= theta:
            hi = mid
        else:
            lo = mid
    return hi


@njit(**_OPTS)
def run_neuron(times, aff, w, duration, tau_m, tau_s, theta, v0, binary, out):
    """Output spike times of one neuron (weights ``w``) for one pattern (sorted
    ``times`` of afferents ``aff``) written into ``out``; returns their number
    (``-1 - n`` when ``out`` filled up)."""
    a = 0.0
    b = 0.0
    r = 0.0
    t0 = 0.0
    n_out = 0
    cap = out.shape[0]
    n_ev = times.shape[0]
    for k in range(n_ev + 1):
        t_next = times[k] if k < n_ev else duration
        span = t_next - t0
        while span > 0.0:
            u = _first_crossing(v0 * a - theta * r, v0 * b, span, theta, tau_m, tau_s)
            if u < 0.0:
                break
            if u == 0.0:                  # numerically on the threshold: step past it
                u = TIME_TOL
            ts = t0 + u
            if n_out >= cap:
                return -1 - n_out
            out[n_out] = ts
            n_out += 1
            if binary:
                return n_out
            em = math.exp(-u / tau_m)
            a *= em
            b *= math.exp(-u / tau_s)
            r = r * em + 1.0
            t0 = ts
            span = t_next - t0
        if k == n_ev:
            break
        em = math.exp(-span / tau_m)
        a = a * em + w[aff[k]]
        b = b * math.exp(-span / tau_s) + w[aff[k]]
        r *= em
        t0 = t_next
    return n_out


@njit(**_OPTS)
def run_batch(times, aff, offsets, W, duration, tau_m, tau_s, theta, v0, binary, cap):
    """Every (pattern, neuron): output counts ``(P, n)`` and times ``(P, n, cap)``."""
    P = offsets.shape[0] - 1
    n = W.shape[0]
    counts = np.zeros((P, n), dtype=np.int64)
    out = np.full((P, n, cap), np.nan)
    for p in range(P):
        s, e = offsets[p], offsets[p + 1]
        for j in range(n):
            counts[p, j] = run_neuron(times[s:e], aff[s:e], W[j], duration, tau_m, tau_s,
                                      theta, v0, binary, out[p, j])
    return counts, out


@njit(**_OPTS)
def unreset_max(times, aff, w, duration, tau_m, tau_s, v0):
    """Maximum of the voltage without resets, ``V(t) = sum_i w_i sum_j K(t - t_i^j)``,
    over ``[0, duration]``, and its time: ``(vmax, tmax)`` (``(0, 0)`` when ``V`` never
    rises above 0)."""
    a = 0.0
    b = 0.0
    t0 = 0.0
    best, tbest = 0.0, 0.0
    n_ev = times.shape[0]
    for k in range(n_ev + 1):
        t_next = times[k] if k < n_ev else duration
        span = t_next - t0
        if span > 0.0:
            alpha, beta = v0 * a, v0 * b
            # candidates: the interval's end and its critical point
            vend = _v(alpha, beta, span, tau_m, tau_s)
            if vend > best:
                best, tbest = vend, t_next
            if alpha != 0.0 and beta != 0.0 and (beta * tau_m) / (alpha * tau_s) > 0.0:
                uc = math.log((beta * tau_m) / (alpha * tau_s)) / (1.0 / tau_s - 1.0 / tau_m)
                if 0.0 < uc < span:
                    vc = _v(alpha, beta, uc, tau_m, tau_s)
                    if vc > best:
                        best, tbest = vc, t0 + uc
        if k == n_ev:
            break
        a = a * math.exp(-span / tau_m) + w[aff[k]]
        b = b * math.exp(-span / tau_s) + w[aff[k]]
        t0 = t_next
    return best, tbest


@njit(**_OPTS)
def binary_epoch(times, aff, offsets, order, labels, w, dw, lr, momentum, duration, tau_m,
                 tau_s, theta, v0):
    """One epoch of the binary tempotron rule, online in ``order``; ``w`` and the
    momentum ``dw`` are updated in place. On an error at pattern ``p``:
    ``dw <- +-lr sum_j K(t_max - t_i^j) + momentum dw``, ``t_max`` the time of the
    maximum of the unreset voltage over the trial.
    Returns the number of errors."""
    errors = 0
    n_aff = w.shape[0]
    grad = np.zeros(n_aff)
    for q in range(order.shape[0]):
        p = order[q]
        s, e = offsets[p], offsets[p + 1]
        vmax, tmax = unreset_max(times[s:e], aff[s:e], w, duration, tau_m, tau_s, v0)
        fired = vmax >= theta
        if fired == (labels[p] == 1):
            continue
        errors += 1
        grad[:] = 0.0
        for k in range(s, e):
            u = tmax - times[k]
            if u > 0.0:
                grad[aff[k]] += v0 * (math.exp(-u / tau_m) - math.exp(-u / tau_s))
        sign = 1.0 if labels[p] == 1 else -1.0
        for i in range(n_aff):
            dw[i] = sign * lr * grad[i] + momentum * dw[i]
            w[i] += dw[i]
    return errors


@njit(**_OPTS)
def _dv(alpha, beta, u, tau_m, tau_s):
    return -alpha / tau_m * math.exp(-u / tau_m) + beta / tau_s * math.exp(-u / tau_s)


@njit(**_OPTS)
def local_maxima(times, aff, w, duration, tau_m, tau_s, theta, v0, spikes, tq, vq):
    """Local maxima of the voltage with resets by ``theta`` at the given output
    ``spikes`` (sorted): inside intervals between events, at input events where the
    slope turns from rising to falling, and at the trial's end when the voltage is
    still rising there. Fills ``tq``, ``vq``; returns how many."""
    a = 0.0
    b = 0.0
    r = 0.0
    t0 = 0.0
    n = 0
    i = 0
    j = 0
    n_in, n_sp = times.shape[0], spikes.shape[0]
    slope_in = 0.0
    while True:
        t_in = times[i] if i < n_in else math.inf
        t_sp = spikes[j] if j < n_sp else math.inf
        t_next = min(t_in, t_sp, duration)
        span = t_next - t0
        alpha, beta = v0 * a - theta * r, v0 * b
        if span > 0.0:
            if alpha != 0.0 and beta != 0.0 and (beta * tau_m) / (alpha * tau_s) > 0.0:
                uc = math.log((beta * tau_m) / (alpha * tau_s)) / (1.0 / tau_s - 1.0 / tau_m)
                d2 = alpha / (tau_m * tau_m) * math.exp(-uc / tau_m) - \
                    beta / (tau_s * tau_s) * math.exp(-uc / tau_s)
                if 0.0 < uc < span and d2 < 0.0 and n < tq.shape[0]:
                    tq[n] = t0 + uc
                    vq[n] = _v(alpha, beta, uc, tau_m, tau_s)
                    n += 1
            slope_in = _dv(alpha, beta, span, tau_m, tau_s)
        if t_next >= duration and t_in >= duration and t_sp >= duration:
            if span > 0.0 and slope_in > 0.0 and n < tq.shape[0]:   # still rising at the end
                tq[n] = duration
                vq[n] = _v(alpha, beta, span, tau_m, tau_s)
                n += 1
            break
        em = math.exp(-span / tau_m)
        es = math.exp(-span / tau_s)
        a *= em
        b *= es
        r *= em
        t0 = t_next
        if t_sp <= t_in:                  # an output spike: reset
            r += 1.0
            j += 1
            slope_in = -1.0               # the reset is a downward jump, not a maximum
        else:
            a += w[aff[i]]
            b += w[aff[i]]
            i += 1
            slope_out = _dv(v0 * a - theta * r, v0 * b, 0.0, tau_m, tau_s)
            if slope_in > 0.0 and slope_out < 0.0 and n < tq.shape[0]:
                tq[n] = t0
                vq[n] = v0 * (a - b) - theta * r
                n += 1
    return n


@njit(**_OPTS)
def _count_at(impulse, times, aff, w, duration, tau_m, tau_s, v0, theta, buf, ibuf, peaks):
    if impulse:
        return impulse_run(times, aff, w, tau_m, theta, ibuf, peaks)
    return run_neuron(times, aff, w, duration, tau_m, tau_s, theta, v0, False, buf)


@njit(**_OPTS)
def critical_bracket(impulse, times, aff, w, k, duration, tau_m, tau_s, v0, vmax, tol):
    """Bracket the critical threshold ``theta*_k`` of a tempotron (or, with
    ``impulse``, of an impulse neuron with ``tau = tau_m``): ``(lo, hi, status)`` with
    at least ``k`` output spikes at ``lo`` and fewer at ``hi``, ``hi - lo <= tol
    hi``. ``status`` is 0, or -1 when no threshold down to ``vmax 2^-200`` gives
    ``k`` spikes. Every count stops at the ``k``-th spike (a full buffer)."""
    buf = np.empty(k)
    ibuf = np.empty(k, dtype=np.int64)
    peaks = np.empty(times.shape[0])
    hi = vmax * (1.0 + 1e-9)             # above the unreset maximum: no spike at all
    lo = vmax
    found = False
    for _ in range(200):                  # lower the threshold until k spikes
        n = _count_at(impulse, times, aff, w, duration, tau_m, tau_s, v0, lo, buf, ibuf,
                      peaks)
        if n < 0 or n >= k:
            found = True
            break
        hi = lo
        lo = lo * 0.5
    if not found:
        return lo, hi, -1
    for _ in range(400):
        if hi - lo <= tol * hi:
            break
        mid = 0.5 * (lo + hi)
        n = _count_at(impulse, times, aff, w, duration, tau_m, tau_s, v0, mid, buf, ibuf,
                      peaks)
        if n < 0 or n >= k:
            lo = mid
        else:
            hi = mid
    return lo, hi, 0


@njit(**_OPTS)
def _pair(ta, tb, t1, t2, duration):
    """``int_m^T exp(-(t - ta)/t1 - (t - tb)/t2) dt`` with ``m = max(ta, tb)``."""
    m = max(ta, tb)
    if m >= duration:
        return 0.0
    r = 1.0 / t1 + 1.0 / t2
    return math.exp(-(m - ta) / t1 - (m - tb) / t2) * -math.expm1(-r * (duration - m)) / r


@njit(**_OPTS)
def eligibility_exact(times, aff, w, spikes, duration, tau_m, tau_s, theta, v0, n_aff,
                      window):
    """``E_i = sum_j int_0^T V(t) K(t - t_i^j) dt`` in closed form: every term is a
    product of two exponentials. Pairs of events further apart than ``window``
    seconds are skipped (their terms carry ``e^{-window/tau_m}``)."""
    E = np.zeros(n_aff)
    n_ev = times.shape[0]
    n_sp = spikes.shape[0]
    lo = 0
    for a in range(n_ev):
        ta = times[a]
        while times[lo] < ta - window:
            lo += 1
        acc = 0.0
        b = lo
        while b < n_ev and times[b] <= ta + window:
            tb = times[b]
            kk = (_pair(ta, tb, tau_m, tau_m, duration) - _pair(ta, tb, tau_m, tau_s, duration)
                  - _pair(ta, tb, tau_s, tau_m, duration) + _pair(ta, tb, tau_s, tau_s, duration))
            acc += w[aff[b]] * v0 * v0 * kk
            b += 1
        for s in range(n_sp):
            ts_ = spikes[s]
            if abs(ts_ - ta) <= window:
                acc -= theta * v0 * (_pair(ta, ts_, tau_m, tau_m, duration)
                                     - _pair(ta, ts_, tau_s, tau_m, duration))
        E[aff[a]] += acc
    return E
