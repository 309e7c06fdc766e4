"""Exact renewal theory of the discrete noisy LIF (``noisy-lif``) under constant input.

The NSNN neuron of :func:`neuromod.neurons.nsnn.noisy_lif` (Ma, Yan & Tang, Patterns
2023) with a hard reset to 0 and a constant drive ``I`` per step forgets its past at
every spike, so its spike train is a renewal process (escape-noise renewal theory:
Gerstner, Kistler, Naud & Paninski, *Neuronal Dynamics*, 2014, chapters 7 and 9). In
discrete time, ``k = 1, 2, ...`` steps after a reset the noise-free potential is

.. math::

    u_k = I \\frac{1 - \\beta^k}{1 - \\beta} \\qquad (u_k = k I \\text{ for } \\beta = 1),

the neuron fires in step ``k`` with the hazard ``h_k = F((u_k - theta)/sigma)`` (``F``
the CDF of the noise family, ``sigma`` its standard deviation), the survival is
``S_k = prod_{j <= k} (1 - h_j)`` (``S_0 = 1``), the inter-spike-interval (ISI)
distribution

.. math::

    P(\\mathrm{ISI} = k) = h_k \\prod_{j < k} (1 - h_j) = h_k S_{k-1},

and the stationary rate is ``1 / E[ISI]`` with ``E[ISI] = sum_{k >= 0} S_k``.
Everything is per step and dimensionless (``I``, ``theta`` and ``sigma`` in the unit of
``u``; the rate in spikes per step, the ISI in steps).

Examples
--------
>>> [round(float(r), 4) for r in renewal_rate([0.3, 0.6, 1.0], beta=0.5, theta=1, sigma=0.4)]
[0.1264, 0.3703, 0.6433]
>>> isi_pmf(0.6, sigma=0.4)[:5].round(3)
array([0.159, 0.338, 0.277, 0.141, 0.056])
"""
import math

import numpy as np

from neuromod.backends.noise import family
from neuromod.errors import ParameterError

__all__ = ["isi_pmf", "renewal_rate", "TAIL"]

#: Tail mass ``P(ISI > kmax)`` below which :func:`isi_pmf` stops when ``kmax`` is automatic.
TAIL = 1e-12
#: The most steps either function evaluates (beyond, the ISI decays too slowly to tabulate).
MAX_STEPS = 10_000_000
_CHUNK = 4096


def _check(I, beta, theta, sigma, noise):
    """The noise family, after checking the parameters (one-line errors)."""
    fam = family(noise)
    for name, v in (("I", I), ("theta", theta), ("sigma", sigma), ("beta", beta)):
        if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) \
                or not math.isfinite(float(v)):
            raise ParameterError(f"{name} must be a finite number, got {v!r}")
    if not sigma > 0:
        raise ParameterError(f"sigma must be > 0, got {sigma!r}")
    if not 0.0 <= beta <= 1.0:
        raise ParameterError(f"beta must be in [0, 1], got {beta!r}")
    return fam


def _potential(I, beta, k):
    """``u_k`` for the step counts ``k`` (an integer array)."""
    if beta == 1.0:
        return I * k.astype(float)
    return I * (1.0 - np.power(beta, k.astype(float))) / (1.0 - beta)


def _hazards(I, beta, theta, sigma, fam, k):
    return np.clip(np.asarray(fam.cdf((_potential(I, beta, k) - theta) / sigma), dtype=float),
                   0.0, 1.0)


def _limit_potential(I, beta):
    """``lim u_k``: ``I/(1 - beta)``, or for ``beta = 1`` (``u_k = k I``) +-inf or 0."""
    if beta < 1.0:
        return I / (1.0 - beta)
    return math.inf if I > 0 else (-math.inf if I < 0 else 0.0)


def _converged_at(I, beta):
    """The step from which ``beta^k`` no longer changes ``u_k`` in float64 (None for
    ``beta = 1`` and ``I != 0``, where ``u_k = k I`` never converges)."""
    if beta == 1.0:
        return 1 if I == 0 else None
    if beta == 0.0:
        return 1
    return int(math.ceil(math.log(2.0 ** -60) / math.log(beta))) + 1


def _survival_table(I, beta, theta, sigma, fam, stop):
    """Hazards ``h_1..h_K`` and survivals ``S_1..S_K`` until ``stop(S_K)`` holds or the
    hazard has converged; returns ``(h, S, converged)``."""
    conv = _converged_at(I, beta)
    hs, ss = [], []
    s_prev, k0 = 1.0, 1
    while k0 <= MAX_STEPS:
        k1 = k0 + _CHUNK if conv is None else min(max(conv, k0) + 1, k0 + _CHUNK)
        h = _hazards(I, beta, theta, sigma, fam, np.arange(k0, k1))
        s = s_prev * np.cumprod(1.0 - h)
        hs.append(h)
        ss.append(s)
        s_prev = float(s[-1])
        if stop(s):
            break
        if conv is not None and k1 - 1 >= conv:
            return np.concatenate(hs), np.concatenate(ss), True
        if conv is None and I <= 0 and h[-1] == 0.0:
            return np.concatenate(hs), np.concatenate(ss), True  # the hazard stays 0
        k0 = k1
    else:
        raise ParameterError(f"the survival of the ISI decays too slowly: P(ISI > {MAX_STEPS}) "
                             f"= {s_prev:.3g} (I = {I!r}, beta = {beta!r}); pass kmax")
    return np.concatenate(hs), np.concatenate(ss), False


def isi_pmf(I, beta=0.5, theta=1.0, sigma=0.3, noise="gaussian", kmax=None):
    """The inter-spike-interval distribution of the noisy LIF with reset to 0 under the
    constant input ``I``: ``P(ISI = k) = h_k prod_{j<k} (1 - h_j)``, ``h_k =
    F((u_k - theta)/sigma)``, ``u_k = I (1 - beta^k)/(1 - beta)``, for ``k = 1..kmax``.

    Parameters
    ----------
    I : float
        The constant drive added in every step (dimensionless, in the unit of ``u``).
    beta : float
        Per-step decay of the potential, in ``[0, 1]`` (NSNN's ``1/tau``, default 0.5).
    theta : float
        Threshold (default 1).
    sigma : float
        Standard deviation of the noise, > 0 (default 0.3, the ``noisy-lif`` default).
    noise : {'gaussian', 'logistic', 'triangular', 'uniform'}
        The noise family ``F`` (see :mod:`neuromod.backends.noise`).
    kmax : int, optional
        The longest ISI tabulated, in steps. By default the smallest ``kmax`` whose tail
        ``P(ISI > kmax)`` is below :data:`TAIL` (``1e-12``).

    Returns
    -------
    numpy.ndarray
        ``pmf[k - 1] = P(ISI = k)`` for ``k = 1..kmax`` (dimensionless; ISIs in steps).
        With an automatic ``kmax`` it sums to 1 within ``1e-12``.

    Raises
    ------
    ParameterError
        ``sigma <= 0``, ``beta`` outside ``[0, 1]``, an unknown noise family, a bad
        ``kmax``, or (automatic ``kmax``) a survival that never decays to the tail
        mass: a hazard that reaches 0, e.g. an input too small for a noise of bounded
        support to ever reach the threshold, or one so small that the tail exceeds
        :data:`MAX_STEPS` steps.

    Notes
    -----
    The neuron is the NSNN noisy LIF (Ma, Yan & Tang, "Exploiting noise as a resource
    for computation and learning in spiking neural networks", Patterns 2023) with a
    noise-free state; the ISI of a neuron with escape noise and a full reset is that
    of a renewal process with hazard ``h_k`` (Gerstner et al., *Neuronal Dynamics*,
    2014, ch. 7 and 9).

    Examples
    --------
    >>> p = isi_pmf(0.6, beta=0.5, theta=1.0, sigma=0.4)
    >>> p[:3].round(4), bool(abs(p.sum() - 1) < 1e-12)
    (array([0.1587, 0.3376, 0.2769]), True)
    >>> isi_pmf(0.3, noise="uniform", sigma=0.2)
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: the survival never decays: the hazard tends to F((0.6 - 1)/0.2) = 0 with P(ISI = inf) = 1 (I = 0.3 is too small for 'uniform' noise of bounded support); pass kmax for a truncated table
    """
    fam = _check(I, beta, theta, sigma, noise)
    I, beta, theta, sigma = float(I), float(beta), float(theta), float(sigma)
    if kmax is not None:
        if isinstance(kmax, bool) or not isinstance(kmax, (int, np.integer)) or kmax < 1:
            raise ParameterError(f"kmax must be a positive integer, got {kmax!r}")
        k = np.arange(1, int(kmax) + 1)
        h = _hazards(I, beta, theta, sigma, fam, k)
        return h * np.concatenate([[1.0], np.cumprod(1.0 - h)[:-1]])
    h, s, _ = _survival_table(I, beta, theta, sigma, fam, lambda s: s[-1] < TAIL)
    if s[-1] >= TAIL:          # the hazard has converged to its limit before the tail is small
        h_inf, u_inf = float(h[-1]), _limit_potential(I, beta)
        if h_inf <= 0.0:
            support = "" if fam.name in ("gaussian", "logistic") else " of bounded support"
            raise ParameterError(
                f"the survival never decays: the hazard tends to F(({u_inf:.4g} - {theta:.4g})/"
                f"{sigma:.4g}) = 0 with P(ISI = inf) = {s[-1]:.3g} (I = {I!r} is too small for "
                f"{fam.name!r} noise{support}); pass kmax for a truncated table")
        # S_{K+m} = S_K (1 - h_inf)^m falls below TAIL for m > log(TAIL/S_K)/log(1 - h_inf)
        extra = int(math.floor(math.log(TAIL / s[-1]) / math.log1p(-h_inf))) + 1
        if len(h) + extra > MAX_STEPS:
            raise ParameterError(
                f"the survival decays too slowly: hazard {h_inf:.3g} per step, P(ISI > k) < "
                f"{TAIL:g} only for k > {len(h) + extra:,} (I = {I!r}); pass kmax")
        h = np.concatenate([h, np.full(extra, h_inf)])
        s = np.cumprod(1.0 - h)
    h = h[:int(np.argmax(s < TAIL)) + 1]
    return h * np.concatenate([[1.0], np.cumprod(1.0 - h)[:-1]])


def _rate(I, beta, theta, sigma, fam):
    """``1 / E[ISI]`` for one input (0 when the ISI is infinite with positive probability)."""
    h, s, converged = _survival_table(I, beta, theta, sigma, fam, lambda s: s[-1] == 0.0)
    mean = 1.0 + float(np.sum(s[:-1]))          # S_0 + S_1 + ... + S_{K-1}
    if s[-1] > 0.0:
        if not converged:
            raise ParameterError(f"the survival of the ISI decays too slowly (I = {I!r})")
        # constant hazard h_inf beyond step K: sum_{m >= 0} S_K (1 - h_inf)^m = S_K / h_inf
        h_inf = float(h[-1])
        if h_inf <= 0.0:
            return 0.0                 # a neuron that stops firing: E[ISI] = inf
        mean += s[-1] / h_inf
    return float(1.0 / mean)


def renewal_rate(I, beta=0.5, theta=1.0, sigma=0.3, noise="gaussian"):
    """The stationary firing rate ``1 / E[ISI]`` of the noisy LIF with reset to 0 under
    the constant input ``I``, in spikes per step.

    ``E[ISI] = sum_{k >= 0} S_k``, ``S_k = prod_{j <= k} (1 - h_j)``, ``h_k =
    F((u_k - theta)/sigma)``, ``u_k = I (1 - beta^k)/(1 - beta)`` (see the module
    docstring). The sum is exact: once ``u_k`` has converged to ``I/(1 - beta)`` in
    float64 the hazard is constant and the rest of the sum is geometric, so rates far
    below threshold cost no more than those above it.

    Parameters
    ----------
    I : float or array_like
        Constant drive per step (dimensionless); an array gives an array of rates.
    beta, theta, sigma, noise :
        As in :func:`isi_pmf` (``beta`` in ``[0, 1]``, ``sigma > 0`` the noise's
        standard deviation).

    Returns
    -------
    float or numpy.ndarray
        Spikes per step, in ``[0, 1]`` (multiply by ``1/dt`` for spikes per second).
        0 where the hazard tends to 0 (the ISI is infinite with positive probability;
        e.g. an input below ``theta (1 - beta) - a sigma`` for uniform noise of
        half-width ``a sigma``).

    Raises
    ------
    ParameterError
        ``sigma <= 0``, ``beta`` outside ``[0, 1]``, an unknown noise family or a
        non-finite input.

    Notes
    -----
    Model: Ma, Yan & Tang, Patterns 2023 (NSNN), with a noise-free state and a hard
    reset to 0; theory: the discrete-time escape-noise renewal process (Gerstner et al.,
    *Neuronal Dynamics*, 2014, ch. 7 and 9).

    Examples
    --------
    >>> round(renewal_rate(0.3, beta=0.5, theta=1, sigma=0.4), 4)
    0.1264
    >>> round(renewal_rate(0.6, beta=0.5, theta=1, sigma=0.4), 4)
    0.3703
    >>> round(renewal_rate(1.0, beta=0.5, theta=1, sigma=0.4), 4)
    0.6433
    >>> renewal_rate([0.1, 2.0], sigma=0.2, noise="uniform").round(4)
    array([0., 1.])
    """
    arr = np.asarray(I, dtype=float) if not isinstance(I, (int, float)) else None
    if arr is None or arr.ndim == 0:
        value = float(I if arr is None else arr)
        fam = _check(value, beta, theta, sigma, noise)
        return _rate(value, float(beta), float(theta), float(sigma), fam)
    fam = _check(0.0, beta, theta, sigma, noise)
    out = np.empty(arr.shape)
    for idx, value in np.ndenumerate(arr):
        _check(float(value), beta, theta, sigma, noise)
        out[idx] = _rate(float(value), float(beta), float(theta), float(sigma), fam)
    return out
