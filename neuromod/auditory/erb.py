"""Equivalent rectangular bandwidth (ERB) of the human auditory filter and the ERB-rate scale.

Formulas of Glasberg & Moore (1990), "Derivation of auditory filter shapes from
notched-noise data", Hear. Res. 47, 103-138:

* ``ERB(f) = 24.7 * (4.37e-3 * f + 1)`` Hz (``f`` in Hz),
* ERB-rate (number of ERBs below ``f``): ``E(f) = 21.4 * log10(4.37e-3 * f + 1)``,
  whose inverse is ``f = (10**(E / 21.4) - 1) / 4.37e-3``.

Slaney's auditory toolbox (and the ``gammatone`` package) writes the same ERB as
``f / 9.26449 + 24.7``; ``1 / (9.26449 * 24.7) = 4.3700e-3``, so both give the same
centre frequencies to 1e-5 relative.
"""
import numpy as np

__all__ = ["erb", "hz_to_erb_rate", "erb_rate_to_hz", "erb_space"]

_A = 4.37e-3
_W = 24.7
_R = 21.4


def erb(f):
    """Equivalent rectangular bandwidth of the auditory filter at ``f`` Hz.

    ``ERB(f) = 24.7 (4.37e-3 f + 1)`` Hz (Glasberg & Moore 1990).

    Parameters
    ----------
    f : float or array_like
        Frequency in Hz.

    Returns
    -------
    float or numpy.ndarray
        Bandwidth in Hz.

    Examples
    --------
    >>> round(float(erb(1000.0)), 2)
    132.64
    """
    return _W * (_A * np.asarray(f, dtype=np.float64) + 1.0)


def hz_to_erb_rate(f):
    """ERB-rate (ERB number) of ``f`` Hz: ``21.4 log10(4.37e-3 f + 1)``.

    Examples
    --------
    >>> round(float(hz_to_erb_rate(1000.0)), 3)
    15.621
    """
    return _R * np.log10(_A * np.asarray(f, dtype=np.float64) + 1.0)


def erb_rate_to_hz(e):
    """Inverse of :func:`hz_to_erb_rate`: ``(10**(e / 21.4) - 1) / 4.37e-3`` Hz.

    Examples
    --------
    >>> round(float(erb_rate_to_hz(hz_to_erb_rate(440.0))), 9)
    440.0
    """
    return (10.0 ** (np.asarray(e, dtype=np.float64) / _R) - 1.0) / _A


def erb_space(fmin, fmax, n):
    """``n`` frequencies from ``fmin`` to ``fmax`` Hz (both included, ascending), equally
    spaced on the ERB-rate scale.

    Parameters
    ----------
    fmin, fmax : float
        Lowest and highest centre frequency in Hz, ``0 < fmin < fmax``
        (``fmin == fmax`` is allowed when ``n == 1``).
    n : int
        Number of frequencies, ``n >= 1``; ``n == 1`` gives ``[fmin]``.

    Returns
    -------
    numpy.ndarray, shape (n,)

    Examples
    --------
    >>> np.round(erb_space(100.0, 7000.0, 3)).tolist()
    [100.0, 1313.0, 7000.0]
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"need at least one frequency, got n={n}")
    fmin, fmax = float(fmin), float(fmax)
    if not (fmin > 0 and fmax >= fmin and np.isfinite(fmax)):
        raise ValueError(f"need 0 < fmin <= fmax, got fmin={fmin}, fmax={fmax}")
    if n == 1:
        return np.array([fmin])
    e = np.linspace(hz_to_erb_rate(fmin), hz_to_erb_rate(fmax), n)
    f = erb_rate_to_hz(e)
    f[0], f[-1] = fmin, fmax  # exact ends despite rounding
    return f
