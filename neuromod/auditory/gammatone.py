"""Gammatone cochlear filterbank: as IIR filters and as a dictionary of unit-norm kernels.

The gammatone filter of order ``n`` at centre frequency ``f`` (Hz) has the impulse
response (Patterson et al. 1987; Holdsworth et al. 1988)

    g(t) = t**(n-1) * exp(-2*pi*b*t) * cos(2*pi*f*t),   t >= 0,

with bandwidth parameter ``b = beta(n) * ERB(f)`` (:func:`neuromod.auditory.erb.erb`).
``beta(n)`` makes the filter's equivalent rectangular bandwidth equal ``ERB(f)``:
the envelope spectrum is ``|H(f + df)| ~ (1 + (df/b)**2)**(-n/2)`` so the power
bandwidth is ``b * pi * (2n-3)!! / (2n-2)!!`` and ``beta(4) = 48 / (15 pi) = 1.0186``
(the familiar 1.019). Its -3 dB bandwidth is ``2 b sqrt(2**(1/n) - 1)``
(``0.887 ERB`` for ``n = 4``).

Discretisation (named, exact): sampling ``g`` at ``t = k / fs`` gives
``g[k] = (k/fs)**m Re(p**k)`` with ``m = n - 1`` and the complex pole
``p = exp((-2 pi b + 2 pi i f) / fs)`` (impulse invariance). Because
``sum_k k**m x**k = x A_m(x) / (1 - x)**(m+1)`` with the Eulerian polynomial
``A_m`` (``A_3(x) = 1 + 4x + x**2``), the filter is an FIR numerator followed by
``n`` identical complex one-pole sections ``1 / (1 - p z^-1)``; cascading
first-order sections (rather than expanding ``(1 - p z^-1)**n``) keeps low centre
frequencies at high sample rates stable (compiled with numba, one pass per channel). The real part of the complex output is
the convolution of the input with the sampled ``g``, to rounding.
"""
from functools import lru_cache
import math

import numpy as np

from neuromod.runtime import ensure_cache_dir

ensure_cache_dir(__file__)   # before numba: a cache directory it can write (see there)

from numba import njit  # noqa: E402

from neuromod.auditory.erb import erb, erb_space

__all__ = ["bandwidth_factor", "GammatoneFilterbank", "KernelDictionary",
           "gammatone_impulse_response"]


def bandwidth_factor(order=4):
    """``beta(n)`` such that ``b = beta(n) ERB(f)`` gives an ERB equal to ``ERB(f)``.

    ``beta(n) = (2n-2)!! / (pi (2n-3)!!)``; ``beta(4) = 48 / (15 pi) = 1.01859``.

    Examples
    --------
    >>> round(bandwidth_factor(4), 4)
    1.0186
    """
    n = int(order)
    if n < 2:
        raise ValueError("gammatone order must be >= 2 for a finite bandwidth factor")
    num = math.prod(range(2, 2 * n - 1, 2))   # (2n-2)!!
    den = math.prod(range(1, 2 * n - 2, 2))   # (2n-3)!!
    return num / (math.pi * den)


def _eulerian(m):
    """Coefficients A(m, 0..m-1) of the Eulerian polynomial ``A_m`` (m >= 1)."""
    return np.array([sum((-1) ** j * math.comb(m + 1, j) * (k + 1 - j) ** m
                         for j in range(k + 1)) for k in range(m)], dtype=np.float64)


def _poles(cf, b, fs):
    return np.exp((-2.0 * np.pi * b + 2j * np.pi * cf) / fs)


def gammatone_impulse_response(cf, fs, n_samples, order=4, b=None):
    """The sampled, unnormalised gammatone ``k**(n-1) exp(-2 pi b k/fs) cos(2 pi f k/fs)``.

    Time is in samples (``t = k / fs``; the factor ``fs**-(n-1)`` is left out).

    Parameters
    ----------
    cf : float or array_like
        Centre frequencies in Hz, shape ``(K,)`` or scalar.
    fs : float
        Sample rate in Hz.
    n_samples : int
        Length of the response.
    order : int
        Filter order ``n`` (4 for the standard gammatone).
    b : float or array_like, optional
        Bandwidth parameter in Hz; default ``bandwidth_factor(order) * ERB(cf)``.

    Returns
    -------
    numpy.ndarray, shape ``(K, n_samples)`` (or ``(n_samples,)`` for scalar ``cf``)

    Examples
    --------
    >>> h = gammatone_impulse_response(1000.0, 16000.0, 4)
    >>> float(h[0]), bool(h[1] > 0)
    (0.0, True)
    """
    scalar = np.ndim(cf) == 0
    cf = np.atleast_1d(np.asarray(cf, dtype=np.float64))
    b = bandwidth_factor(order) * erb(cf) if b is None else np.broadcast_to(
        np.asarray(b, dtype=np.float64), cf.shape)
    k = np.arange(int(n_samples), dtype=np.float64)
    env = k[None, :] ** (order - 1) * np.exp(-2.0 * np.pi * b[:, None] * k[None, :] / fs)
    h = env * np.cos(2.0 * np.pi * cf[:, None] * k[None, :] / fs)
    return h[0] if scalar else h


class GammatoneFilterbank:
    """A bank of ``n``-th order gammatone filters with ERB-spaced centre frequencies.

    Parameters
    ----------
    fs : float or quantity
        Sample rate in Hz.
    n_channels : int
        Number of filters ``K``.
    fmin, fmax : float
        Lowest and highest centre frequency in Hz (``fmax < fs / 2``); the
        frequencies in between are equally spaced in ERB-rate
        (:func:`neuromod.auditory.erb.erb_space`).
    order : int
        Filter order (default 4).
    bandwidth : float, optional
        ``b / ERB(f)``; default :func:`bandwidth_factor` ``(order)`` (1.0186 for order 4).
    cf : array_like, optional
        Explicit centre frequencies in Hz (overrides ``n_channels``/``fmin``/``fmax``).

    Attributes
    ----------
    cf : numpy.ndarray
        Centre frequencies (Hz), ascending.
    b : numpy.ndarray
        Bandwidth parameters ``b_k`` (Hz).

    Examples
    --------
    >>> fb = GammatoneFilterbank(16000, n_channels=4, fmin=100, fmax=4000)
    >>> y = fb.filter(np.random.default_rng(0).standard_normal(1600))
    >>> y.shape
    (4, 1600)
    """

    def __init__(self, fs, n_channels=32, fmin=100.0, fmax=7000.0, order=4, bandwidth=None,
                 cf=None):
        from neuromod.units import to_hertz
        fs = float(to_hertz(fs, "sample rate"))
        if not fs > 0:
            raise ValueError(f"sample rate must be > 0, got {fs}")
        if cf is None:
            cf = erb_space(to_hertz(fmin, "fmin"), to_hertz(fmax, "fmax"), n_channels)
        cf = np.atleast_1d(np.asarray(cf, dtype=np.float64))
        if np.any(cf <= 0) or np.any(cf >= fs / 2):
            raise ValueError(f"centre frequencies must lie in (0, fs/2 = {fs / 2:g}) Hz")
        self.fs = fs
        self.order = int(order)
        self.bandwidth = bandwidth_factor(self.order) if bandwidth is None else float(bandwidth)
        self.cf = cf
        self.b = self.bandwidth * erb(cf)
        self.n_channels = cf.size

    def _raw_response(self, freqs):
        """DTFT of the unnormalised sampled kernel at ``freqs`` Hz, shape (K, F), complex."""
        m = self.order - 1
        w = 2.0 * np.pi * np.atleast_1d(np.asarray(freqs, dtype=np.float64)) / self.fs
        z1 = np.exp(-1j * w)[None, :]
        p = _poles(self.cf, self.b, self.fs)[:, None]
        a = _eulerian(m)

        def s(x):  # sum_k k**m x**k
            return x * np.polyval(a[::-1], x) / (1.0 - x) ** (m + 1)
        return 0.5 * (s(p * z1) + s(np.conj(p) * z1))

    def centre_gain(self):
        """``|H(cf)|`` of the unnormalised sampled kernel of each channel."""
        return np.abs(self._raw_response(self.cf)[np.arange(self.n_channels),
                                                   np.arange(self.n_channels)])

    def frequency_response(self, freqs):
        """Complex frequency response at ``freqs`` Hz, normalised to 0 dB at each centre
        frequency (as :meth:`filter` applies it), shape ``(K, len(freqs))``.

        Closed form: ``H = (S(p e^{-iw}) + S(conj(p) e^{-iw})) / 2`` with
        ``S(x) = x A_m(x) / (1 - x)**(m+1)``, ``w = 2 pi f / fs``.

        Examples
        --------
        >>> fb = GammatoneFilterbank(16000, cf=[1000.0])
        >>> round(float(abs(fb.frequency_response([1000.0])[0, 0])), 12)
        1.0
        """
        return self._raw_response(freqs) / self.centre_gain()[:, None]

    def filter(self, x, normalize="peak"):
        """Filter a signal through every channel.

        Parameters
        ----------
        x : array_like, shape (N,)
            Signal sampled at ``fs``.
        normalize : {'peak', 'unit', None}
            ``'peak'``: 0 dB gain at each centre frequency (like Slaney's toolbox);
            ``'unit'``: convolution with the unit-energy kernel (an infinitely long
            version of :class:`KernelDictionary`'s kernels); ``None``: the raw
            ``k**(n-1) e^{-2 pi b k/fs} cos(2 pi f k/fs)`` (time in samples).

        Returns
        -------
        numpy.ndarray, shape (K, N)
            ``y_k[t] = sum_j x[j] g_k[t - j]`` (causal).
        """
        from neuromod.limits import check_allocation
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError("filter expects a 1-D signal")
        check_allocation(8 * int(self.n_channels) * int(x.size),
                         f"gammatone filterbank: {self.n_channels} channels x {x.size} samples")
        m = self.order - 1
        a = _eulerian(m)
        out = np.empty((self.n_channels, x.size))
        if normalize == "peak":
            scale = 1.0 / self.centre_gain()
        elif normalize == "unit":
            scale = 1.0 / self.raw_energy() ** 0.5
        elif normalize is None:
            scale = np.ones(self.n_channels)
        else:
            raise ValueError(f"normalize must be 'peak', 'unit' or None, got {normalize!r}")
        poles = _poles(self.cf, self.b, self.fs)
        # numerator x A_m(x) with x = p z^-1: coefficient of z^-j is A(m, j-1) p^j
        num = a[None, :] * poles[:, None] ** np.arange(1, m + 1)[None, :]
        _iir(x, poles, np.ascontiguousarray(num), m + 1, scale, out)
        return out

    def raw_energy(self, n_max=None):
        """``sum_k g[k]**2`` of the untruncated unnormalised sampled kernels (numerically
        summed until the envelope is below 1e-12 of its peak)."""
        lengths = kernel_lengths(self.b, self.fs, self.order, 240.0)
        L = int(lengths.max()) if n_max is None else int(n_max)
        h = gammatone_impulse_response(self.cf, self.fs, L, self.order, self.b)
        return np.sum(h * h, axis=1)

    def kernels(self, threshold_db=60.0):
        """The unit-norm kernel dictionary of this filterbank; see :class:`KernelDictionary`."""
        return KernelDictionary.build(self.fs, tuple(self.cf), self.order, self.bandwidth,
                                      float(threshold_db))


@njit(cache=True, nogil=True)
def _iir(x, poles, num, n_sections, scale, out):
    """out[k] = scale[k] Re(FIR(num[k]) then n_sections x 1/(1 - p_k z^-1)) applied to x."""
    K = poles.size
    N = x.size
    m = num.shape[1]
    for k in range(K):
        p = poles[k]
        state = np.zeros(n_sections, dtype=np.complex128)
        for t in range(N):
            # FIR: sum_j num[k, j-1] x[t - j], j = 1..m
            v = 0j
            for j in range(1, m + 1):
                if t - j >= 0:
                    v += num[k, j - 1] * x[t - j]
            for s in range(n_sections):
                v = v + p * state[s]
                state[s] = v
            out[k, t] = scale[k] * v.real


def kernel_lengths(b, fs, order, threshold_db):
    """Samples until the gammatone envelope ``t**m e^{-a t}`` (``a = 2 pi b``) has fallen
    ``threshold_db`` below its peak (which is at ``t = m / a``); at least ``peak + 1``.

    Examples
    --------
    >>> int(kernel_lengths(np.array([100.0]), 16000.0, 4, 60.0)[0])
    375"""
    m = order - 1
    a = 2.0 * np.pi * np.asarray(b, dtype=np.float64)
    # solve u**m e^{-u} = 10**(-thr/20) * m**m e^{-m} for u > m (u = a t) by Newton.
    target = -threshold_db / 20.0 * np.log(10.0) + m * np.log(m) - m
    u = np.full_like(a, m + 10.0)
    for _ in range(60):
        f = m * np.log(u) - u - target
        u = np.maximum(u - f / (m / u - 1.0), m + 1e-6)
    return np.maximum(np.ceil(u / a * fs).astype(np.int64) + 1,
                      np.round(m / a * fs).astype(np.int64) + 2)


class KernelDictionary:
    """Unit-norm gammatone kernels, truncated and renormalised, plus their cross-correlations.

    Kernel ``k`` is ``g_k[j] = c_k j**(n-1) e^{-2 pi b_k j/fs} cos(2 pi f_k j/fs)`` for
    ``0 <= j < L_k`` where the envelope has fallen ``threshold_db`` below its peak,
    and ``c_k`` makes ``sum_j g_k[j]**2 = 1`` after truncation. Its envelope peaks at
    sample ``d_k = round((n-1) fs / (2 pi b_k))``: an atom "at time t" means kernel
    ``k`` starting at sample ``round(t fs) - d_k`` (the envelope peak at t).

    Build with :meth:`GammatoneFilterbank.kernels` or :meth:`build` (cached).

    Attributes
    ----------
    kernels : numpy.ndarray, shape (K, L_max)
        Zero-padded kernels.
    lengths, peaks : numpy.ndarray of int64, shape (K,)
        ``L_k`` and ``d_k`` in samples.
    cf, b : numpy.ndarray
        Centre frequencies and bandwidths in Hz.
    xc, xc_off, xc_lo, xc_len
        Cross-correlations of every pair in peak-aligned coordinates (see
        :meth:`cross`), flattened for the compiled encoder.

    Examples
    --------
    >>> d = GammatoneFilterbank(16000, n_channels=4, fmin=200, fmax=4000).kernels()
    >>> bool(np.allclose((d.kernels ** 2).sum(axis=1), 1.0))
    True
    """

    def __init__(self, fs, cf, order, bandwidth, threshold_db):
        self.fs = float(fs)
        self.cf = np.asarray(cf, dtype=np.float64)
        self.order = int(order)
        self.bandwidth = float(bandwidth)
        self.threshold_db = float(threshold_db)
        self.b = self.bandwidth * erb(self.cf)
        K = self.cf.size
        m = self.order - 1
        self.lengths = kernel_lengths(self.b, self.fs, self.order, self.threshold_db)
        self.peaks = np.round(m * self.fs / (2.0 * np.pi * self.b)).astype(np.int64)
        Lmax = int(self.lengths.max())
        h = gammatone_impulse_response(self.cf, self.fs, Lmax, self.order, self.b)
        h[np.arange(Lmax)[None, :] >= self.lengths[:, None]] = 0.0
        h /= np.sqrt(np.sum(h * h, axis=1))[:, None]
        self.kernels = h
        self.n_kernels = K
        self.max_length = Lmax
        self._cross_correlations()
        for arr in (self.kernels, self.lengths, self.peaks, self.cf, self.b, self.xc,
                    self.xc_off, self.xc_lo, self.xc_len):
            arr.flags.writeable = False

    @classmethod
    def build(cls, fs, cf, order=4, bandwidth=None, threshold_db=60.0):
        """A cached dictionary for these parameters (``cf`` a tuple of Hz)."""
        bandwidth = bandwidth_factor(order) if bandwidth is None else float(bandwidth)
        return _cached_dictionary(float(fs), tuple(float(c) for c in cf), int(order),
                                  float(bandwidth), float(threshold_db))

    def _cross_correlations(self):
        """``<atom(k0 at peak p0), atom(k at peak p0 + D)>`` for every pair, every shift D."""
        from scipy import fft as sfft
        K, L, d = self.n_kernels, self.lengths, self.peaks
        nfft = sfft.next_fast_len(2 * self.max_length, real=True)
        G = sfft.rfft(self.kernels, nfft, axis=1)
        off = np.zeros((K, K), dtype=np.int64)
        lo = np.zeros((K, K), dtype=np.int64)
        ln = np.zeros((K, K), dtype=np.int64)
        chunks = []
        pos = 0
        for k0 in range(K):
            # R[k, delta] = sum_j g_k0[j] g_k[j - delta], delta = tau - tau0 (start shift)
            R = sfft.irfft(G[k0][None, :] * np.conj(G), nfft, axis=1)
            for k in range(K):
                deltas = np.arange(-(L[k] - 1), L[k0])
                vals = R[k, deltas % nfft]
                # peak shift D = delta + d_k - d_k0; trim exact-zero-ish ends (|r| < 1e-13)
                nz = np.flatnonzero(np.abs(vals) > 1e-13)
                if nz.size == 0:
                    vals = vals[:0]
                    first = 0
                else:
                    first = nz[0]
                    vals = vals[first:nz[-1] + 1]
                off[k0, k] = pos
                lo[k0, k] = deltas[0] + first + d[k] - d[k0] if vals.size else 0
                ln[k0, k] = vals.size
                chunks.append(vals)
                pos += vals.size
        self.xc = np.concatenate(chunks) if chunks else np.zeros(0)
        self.xc_off, self.xc_lo, self.xc_len = off, lo, ln

    def cross(self, k0, k):
        """``(D, values)``: inner products of atom ``k0`` at peak ``p0`` with atom ``k`` at
        peak ``p0 + D`` for the shifts ``D`` where it is not (numerically) zero."""
        o, lo, n = self.xc_off[k0, k], self.xc_lo[k0, k], self.xc_len[k0, k]
        return np.arange(lo, lo + n), self.xc[o:o + n]

    def config(self):
        """The parameters that rebuild this dictionary (JSON-ready)."""
        return {"sample_rate": self.fs, "cf": self.cf.tolist(), "order": self.order,
                "bandwidth": self.bandwidth, "threshold_db": self.threshold_db}


@lru_cache(maxsize=8)
def _cached_dictionary(fs, cf, order, bandwidth, threshold_db):
    return KernelDictionary(fs, cf, order, bandwidth, threshold_db)
