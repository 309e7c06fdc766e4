"""Raised-cosine bases and causal convolutions for the filters of retina models.

Bases
-----
A raised-cosine bump of centre ``c`` and half-width ``h`` in a coordinate ``u`` is
``0.5 * (1 + cos(pi * (u - c) / h))`` for ``|u - c| < h`` and 0 elsewhere. A basis of
``n_basis`` bumps has centres ``c_k = k * spacing`` (``k = 0 .. n_basis - 1``) and
``h = width * spacing / 2`` (``width`` is a bump's support in spacings; 2: each bump
reaches its neighbours' peaks), with ``spacing = 1 / (n_basis - 1 + width / 2)`` so
that the last bump falls to zero at ``u = 1``.

Lag ``j`` of a window of ``n_lags`` lags sits at ``x = j / n_lags`` (``x = 1`` is the
first lag past the window, where every function is 0, so the filters fall to zero at
the window's end). :func:`linear_raised_cosine` takes ``u = x``;
:func:`log_raised_cosine` stretches early lags as Pillow et al. (2005) did, with the
warping ``u = log(c * x + 1) / log(c + 1)`` (:func:`log_warp`, ``c = 50``), so the
bumps are narrow at short lags and wide at long ones.

**Partition of unity.** For an integer ``width >= 2`` the bumps sum to ``width / 2``
wherever every bump that overlaps ``u`` is in the basis: on
``(width/2 - 1) * spacing <= u <= (n_basis - width/2) * spacing`` (for ``width = 2``:
from the first lag to the last centre). The bumps that overlap a point have phases
``2 pi / width`` apart, so their cosines cancel.

Row ``j`` of a basis matrix ``(n_lags, n_basis)`` is lag ``j`` of a stimulus filter
(lag 0: the current frame) or lag ``j + 1`` of a spike-history filter (history
excludes the current bin).

Convolutions
------------
:func:`causal_filter` convolves series along time with a set of kernels, the output
at ``t`` using ``x[t - j]`` for ``j >= 0`` (``exclude_current=False``) or ``j >= 1``
(``exclude_current=True``: the history term at bin ``t`` uses bins ``< t`` only),
zeros before the start. It runs by overlap-add FFTs (:func:`scipy.signal.oaconvolve`),
``O(T log L)`` per series and kernel, with no loop over bins; rounding leaves
entries of order ``1e-16`` times the input's scale where the exact result is 0.
:func:`history_design` gives the spike-history columns of every unit, and
:func:`stimulus_projection` the stimulus seen through each temporal basis function.

Examples
--------
>>> import numpy as np
>>> B = log_raised_cosine(5, 40)
>>> B.shape, float(B[0, 0]), float(B[-1].max()) < 0.05
((40, 5), 1.0, True)
>>> lin = linear_raised_cosine(4, 30)
>>> bool(np.allclose(lin[:23].sum(1), 1.0))       # width 2: sum 1 up to the last centre
True
>>> y = np.zeros(6); y[2] = 1.0
>>> causal_filter(y, np.array([[1.0], [0.5]]), exclude_current=True)[:, 0].round(12).tolist()
[0.0, 0.0, 0.0, 1.0, 0.5, 0.0]
"""
import math

import numpy as np

from neuromod.errors import ParameterError

__all__ = ["log_warp", "raised_cosine", "log_raised_cosine", "linear_raised_cosine",
           "causal_filter", "history_design", "stimulus_projection", "one_blas_thread",
           "ridge_path_cv", "LOG_SCALE"]

#: The default log-time stretch ``c`` of :func:`log_warp` (nemos's default).
LOG_SCALE = 50.0


def log_warp(x, c=LOG_SCALE):
    """``log(c * x + 1) / log(c + 1)``: maps ``[0, 1]`` onto ``[0, 1]``, stretching the
    start (``c > 0``; larger ``c``, stronger stretch).

    Examples
    --------
    >>> log_warp(np.array([0.0, 1.0])).tolist()
    [0.0, 1.0]
    >>> round(float(log_warp(0.1)), 4)
    0.4557
    """
    if not (math.isfinite(c) and c > 0):
        raise ParameterError(f"log scale c must be > 0, got {c!r}")
    return np.log1p(c * np.asarray(x, dtype=np.float64)) / math.log1p(c)


def raised_cosine(n_basis, n_lags, width=2.0, log_scale=None):
    """A raised-cosine basis ``(n_lags, n_basis)`` (see the module's description).

    Parameters
    ----------
    n_basis : int
        Number of bumps (>= 1).
    n_lags : int
        Lags in the window (>= 1).
    width : float
        Support of each bump in spacings (>= 1; 2: neighbours overlap by half). The
        bumps sum to ``width / 2`` (inside the covered range) when it is an integer.
    log_scale : float, optional
        ``c`` of :func:`log_warp`; None: linear time.

    Returns
    -------
    ndarray (n_lags, n_basis), float64

    Examples
    --------
    >>> B = raised_cosine(3, 8)
    >>> B.round(3)[:, 0].tolist()
    [1.0, 0.691, 0.146, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    n_basis, n_lags = int(n_basis), int(n_lags)
    if n_basis < 1 or n_lags < 1:
        raise ParameterError(f"n_basis and n_lags must be >= 1, got {n_basis}, {n_lags}")
    if not (math.isfinite(width) and width >= 1):
        raise ParameterError(f"width must be >= 1 spacing, got {width!r}")
    x = np.arange(n_lags, dtype=np.float64) / n_lags
    u = x if log_scale is None else log_warp(x, log_scale)
    spacing = 1.0 / (n_basis - 1 + width / 2.0)
    half = width * spacing / 2.0
    d = (u[:, None] - spacing * np.arange(n_basis)[None, :]) / half
    return np.where(np.abs(d) < 1.0, 0.5 * (1.0 + np.cos(np.pi * d)), 0.0)


def log_raised_cosine(n_basis, n_lags, width=2.0, c=LOG_SCALE):
    """Raised cosines in log-stretched time (Pillow et al. 2005), the warping
    ``log(c x + 1) / log(c + 1)`` with ``c = 50``: ``(n_lags, n_basis)``.

    Examples
    --------
    >>> B = log_raised_cosine(4, 100)
    >>> [int(np.argmax(B[:, k])) for k in range(4)]        # peaks spread out in time
    [0, 3, 12, 36]
    """
    return raised_cosine(n_basis, n_lags, width, log_scale=c)


def linear_raised_cosine(n_basis, n_lags, width=2.0):
    """Raised cosines evenly spaced in time: ``(n_lags, n_basis)``.

    Examples
    --------
    >>> [int(np.argmax(linear_raised_cosine(3, 10)[:, k])) for k in range(3)]
    [0, 3, 7]
    """
    return raised_cosine(n_basis, n_lags, width, log_scale=None)


def causal_filter(x, kernels, exclude_current=False):
    """Convolve ``x`` along its first axis (time) with each column of ``kernels``.

    ``out[t, ..., k] = sum_j kernels[j, k] * x[t - j - s, ...]`` with ``s = 1`` when
    ``exclude_current`` (bin ``t`` sees bins ``< t`` only) and 0 otherwise (lag 0 is
    the current step); ``x`` is 0 before its start.

    Parameters
    ----------
    x : array_like (T, ...)
    kernels : array_like (L, n) or (L,)
        Row ``j`` is lag ``j`` (``j + 1`` with ``exclude_current``).
    exclude_current : bool

    Returns
    -------
    ndarray (T, ..., n) float64 (``(T, ...)`` for a 1-D kernel)

    Examples
    --------
    >>> causal_filter(np.array([1.0, 2.0, 3.0]), np.array([1.0, 10.0])).round(9).tolist()
    [1.0, 12.0, 23.0]
    """
    from scipy.signal import oaconvolve
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(kernels, dtype=np.float64)
    one = k.ndim == 1
    k = k[:, None] if one else k
    if k.ndim != 2 or x.ndim < 1:
        raise ParameterError(f"kernels must be (lags, n) and x (T, ...); got {k.shape}, "
                             f"{x.shape}")
    T, rest = x.shape[0], x.shape[1:]
    L, n = k.shape
    out = np.zeros((T,) + rest + (n,))
    if T == 0 or L == 0:
        return out[..., 0] if one else out
    x2 = x.reshape(T, -1)
    s = 1 if exclude_current else 0
    if T > s:
        src = x2[:T - s]
        if L <= 8 or src.shape[0] <= 64:        # short: direct sums over lags
            full = np.zeros((src.shape[0], x2.shape[1], n))
            for j in range(min(L, src.shape[0])):
                full[j:] += src[:src.shape[0] - j, :, None] * k[j][None, None, :]
        else:
            full = oaconvolve(src[:, :, None], k[:, None, :], axes=0)[:src.shape[0]]
        out.reshape(T, -1, n)[s:] = full
    return out[..., 0] if one else out


def history_design(counts, basis):
    """Spike-history columns of every unit: ``counts`` ``(T, U)`` (or ``(R, T, U)``)
    filtered by each basis function over the bins before ``t``.

    Returns ``(T, U * n)`` (or ``(R, T, U * n)``), column ``u * n + k`` being unit
    ``u``'s counts through basis function ``k`` (row ``j`` of ``basis`` is lag
    ``j + 1``).

    Examples
    --------
    >>> y = np.zeros((5, 2)); y[1, 0] = 1; y[2, 1] = 2
    >>> history_design(y, np.array([[1.0], [0.5]])).round(12).tolist()
    [[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.5, 2.0], [0.0, 1.0]]
    """
    c = np.asarray(counts, dtype=np.float64)
    basis = np.asarray(basis, dtype=np.float64)
    if c.ndim == 2:
        T, U = c.shape
        return causal_filter(c, basis, exclude_current=True).reshape(T, U * basis.shape[1])
    if c.ndim != 3:
        raise ParameterError(f"counts must be (bins, units) or (trials, bins, units), got "
                             f"{c.shape}")
    R, T, U = c.shape
    h = causal_filter(np.moveaxis(c, 1, 0), basis, exclude_current=True)   # (T, R, U, n)
    return np.moveaxis(h, 0, 1).reshape(R, T, U * basis.shape[1])


def stimulus_projection(stimulus, basis):
    """The stimulus seen through each temporal basis function: ``stimulus`` ``(F, D)``
    (frames) -> ``(F, n, D)`` with ``out[f, k, d] = sum_j basis[j, k] stimulus[f - j,
    d]`` (lag 0: the current frame; zeros before the first frame). One basis function
    at a time: the memory is the output's and one ``(F, D)`` convolution's.

    Examples
    --------
    >>> s = np.arange(4.0)[:, None]
    >>> stimulus_projection(s, np.array([[1.0], [1.0]]))[:, 0, 0].round(9).tolist()
    [0.0, 1.0, 3.0, 5.0]
    """
    s = np.asarray(stimulus, dtype=np.float64)
    s = s.reshape(s.shape[0], -1)
    basis = np.asarray(basis, dtype=np.float64)
    out = np.empty((s.shape[0], basis.shape[1], s.shape[1]))
    for k in range(basis.shape[1]):
        out[:, k] = causal_filter(s, basis[:, k])
    return out


def one_blas_thread():
    """A context in which BLAS runs on one thread (threadpoolctl; a no-op without it).

    The fits of the retina models multiply tall, thin matrices (bins or frames by a
    few dozen columns) with vectors: memory-bound products that several BLAS threads
    only slow down, by an order of magnitude on a loaded machine.

    Examples
    --------
    >>> with one_blas_thread():
    ...     float(np.ones((3, 2)).T @ np.ones(3) @ np.ones(2))
    6.0
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                                     # pragma: no cover
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def ridge_path_cv(n_rows, n_folds, alphas, fit, heldout, x0, unit_of, score_key, block=1,
                  weights=None):
    """Blocked cross-validation of a penalty strength, every unit at once.

    The rows (bins or frames, in time order) are cut into ``n_folds`` contiguous
    blocks (edges on multiples of ``block`` rows). Each fold walks ``alphas`` from
    the largest down, warm-started, fitting on the other blocks and scoring the held-out
    one; it stops once every unit's held-out score has fallen below its best on that
    path (the smaller alphas are then scored ``-inf`` for that fold). Each unit takes
    the alpha with the largest held-out score summed over the blocks.

    Parameters
    ----------
    n_rows, n_folds : int
    alphas : sequence of float
    fit : callable ``fit(w, alpha, x) -> x``
        Fit with row weights ``w`` (0 on the held-out block), from ``x``.
    heldout : callable ``heldout(x, held) -> (U,)``
        Each unit's held-out log-likelihood on the rows ``held`` (a slice).
    x0 : ndarray
        Start of every fold's path.
    unit_of : ndarray
        The unit of each entry of ``x``.
    score_key : str
        Name of the per-unit scores in the tables (divided by ``n_rows``).
    block : int
    weights : ndarray, optional
        Row weights of the fits (default 1); the held-out block is set to 0.

    Returns
    -------
    alpha : ndarray (U,)
    tables : list of dict
        Per unit: ``alphas`` (the grid, largest first), ``score_key`` and ``alpha``.
    start : ndarray
        Each unit's entries of the first fold's fit at its alpha.

    Examples
    --------
    >>> y = np.r_[np.zeros(5), np.ones(5)]          # one unit: its mean, shrunk
    >>> fit = lambda w, a, x: np.array([(w @ y) / (w.sum() + a)])
    >>> heldout = lambda x, held: np.array([-np.sum((y[held] - x[0]) ** 2)])
    >>> alpha, tables, start = ridge_path_cv(10, 2, [100.0, 1.0, 0.0], fit, heldout,
    ...                                      np.zeros(1), np.zeros(1, int), "score")
    >>> alpha.tolist(), tables[0]["alphas"]
    ([100.0], [100.0, 1.0, 0.0])
    """
    edges = np.round(np.linspace(0, n_rows // block, n_folds + 1)).astype(int) * block
    grid = sorted(alphas, reverse=True)
    unit_of = np.asarray(unit_of)
    U = int(unit_of.max()) + 1
    scores, first = np.zeros((len(grid), U)), {}
    for k in range(n_folds):
        w = np.ones(n_rows) if weights is None else weights.copy()
        w[edges[k]:edges[k + 1]] = 0.0
        held = slice(edges[k], edges[k + 1])
        x, best, worse = x0, np.full(U, -np.inf), 0
        for i, a in enumerate(grid):
            if worse >= 1:
                scores[i] = -np.inf
                continue
            x = fit(w, a, x)
            sc = heldout(x, held)
            scores[i] += sc
            worse = worse + 1 if np.all(sc < best) else 0
            best = np.maximum(best, sc)
            if k == 0:
                first[i] = x
    scores /= n_rows
    pick = np.argmax(scores, axis=0)
    start = np.array([first[pick[u]][j] for j, u in enumerate(unit_of)])
    tables = [{"alphas": grid, score_key: [float(v) if np.isfinite(v) else None
                                           for v in scores[:, u]],
               "alpha": grid[pick[u]]} for u in range(U)]
    return np.array([grid[i] for i in pick]), tables, start
