"""Memory bounds of the statistics, checked before anything is allocated (private).

Binned statistics allocate ``(n_trains, n_bins)`` arrays and pairwise ones
``(n_trains, n_trains)`` matrices, both sized by user numbers (a bin width, a
sampling period, the number of trains of a file). These helpers estimate the
bytes from the shape alone and refuse, through
:func:`neuromod.limits.check_allocation`, above ``NEUROMOD_MEMORY_LIMIT``.
"""
import math

import numpy as np

from neuromod.errors import SpikeDataError
from neuromod.limits import check_allocation

__all__ = ["check_bins", "whole_bins", "check_pairwise"]


def check_bins(n_rows, n_bins, cell_bytes, bin_size, name="bin_size", extra=0):
    """Refuse when ``n_rows x n_bins`` cells of ``cell_bytes`` bytes (plus 8 bytes per
    bin and ``extra`` bytes) exceed the memory limit; the message names the option
    (``bin_size=1e-09 s``) and the shape.

    Examples
    --------
    >>> check_bins(10, 1000, 8, 0.001)
    >>> check_bins(2, 10**10, 24, 1e-10)
    Traceback (most recent call last):
    ...
    neuromod.errors.ResourceLimitError: bin_size=1e-10 s: 2 trains x 10000000000 bins would allocate 521.5 GiB (limit 8 GiB; set NEUROMOD_MEMORY_LIMIT)
    """
    check_allocation(int(n_bins) * (int(n_rows) * cell_bytes + 8) + int(extra),
                     f"{name}={bin_size:g} s: {n_rows} trains x {n_bins} bins")


def whole_bins(t0, t1, bs, name="bin_size", tolerance=1e-8):
    """Number of whole bins of width ``bs`` in ``[t0, t1]``: ``floor`` of the quotient,
    rounded up within ``tolerance`` of the next integer (Elephant's rounding).
    Raises SpikeDataError when the quotient is not finite or above 2**62, or when
    not even one bin fits.

    Examples
    --------
    >>> whole_bins(0.0, 0.3, 0.1)
    3
    """
    q = (t1 - t0) / bs
    if not math.isfinite(q) or q > 2.0 ** 62:
        raise SpikeDataError(f"{name} {bs:.9g} s gives too many bins for the window "
                             f"[{t0:.9g}, {t1:.9g}] s")
    n_bins = int(math.floor(q + 0.5) if math.fmod(q, 1.0) >= 1.0 - tolerance else math.floor(q))
    if n_bins < 1:
        raise SpikeDataError(
            f"{name} {bs:.9g} s is longer than the window [{t0:.9g}, {t1:.9g}] s")
    return n_bins


def check_pairwise(n, copies, what):
    """Refuse when ``copies`` float64 ``(n, n)`` matrices exceed the memory limit.

    Examples
    --------
    >>> check_pairwise(100, 3, "van Rossum distances")
    >>> check_pairwise(10**6, 3, "van Rossum distances")
    Traceback (most recent call last):
    ...
    neuromod.errors.ResourceLimitError: van Rossum distances of 1000000 trains (1000000 x 1000000 matrices) would allocate 21.8 TiB (limit 8 GiB; set NEUROMOD_MEMORY_LIMIT)
    """
    n = int(n)
    check_allocation(copies * n * n * np.dtype(np.float64).itemsize,
                     f"{what} of {n} trains ({n} x {n} matrices)")
