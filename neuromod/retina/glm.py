"""Poisson generalised linear model with stimulus, spike-history and coupling filters
(Pillow et al. 2008) behind the retina estimator interface.

Model
-----
For unit ``i`` at model bin ``t`` (default 1 ms), the expected spike count is
``lam_i(t) = f(eta_i(t))`` with ``f`` = ``exp`` (default) or softplus and

``eta_i(t) = b_i + sum_{tau, d} k_i[tau, d] s[frame(t) - tau, d]
           + sum_j sum_{lag >= 1} h_ij[lag] y_j(t - lag)``,

* ``s`` the standardised stimulus (its training mean and standard deviation, one of
  each) at the frame rate, held over each frame's bins; ``k_i`` spans the frames
  ``0 .. n_lags - 1`` back (``stimulus_window`` seconds; lag 0 is the frame on
  screen) on a raised-cosine basis in time (:mod:`neuromod.retina.bases`, linear by
  default, ``stimulus_basis='log'`` for log-stretched lags): ``k_i[tau, d] =
  sum_b B[tau, b] w_i[b, d]``. With ``rank=None`` every ``w_i[b, d]`` is free (the
  model is linear in its parameters, a GLM on a fixed design); with ``rank=r``,
  ``w_i = A_i C_i^T`` (``A_i`` ``(n_basis, r)``, ``C_i`` ``(D, r)``): a space-time
  separable filter of rank ``r``.
* ``h_ii`` the spike-history filter, ``h_ij`` (``j != i``) the coupling filters, on a
  raised-cosine basis in log-stretched time (``log(50 x + 1) / log(51)``) over
  ``history_window`` seconds; the history term at bin ``t`` uses bins ``< t`` only.
  ``coupling=False`` keeps ``h_ii`` alone.
* An absolute refractory period of ``r_i`` bins (``refractory``): after a spike of
  unit ``i`` in bin ``t`` its expected count is 0 in bins ``t + 1 .. t + r_i``
  whatever ``eta_i``, so that successive spike-holding bins are at least ``r_i + 1``
  bins apart (a bin may still hold more than one spike: the count within a bin is
  Poisson). This is the dead time of Berry & Meister (1998)'s model of ganglion-cell
  refractoriness, a dead time followed by a relative recovery; ``h_ii`` then has only
  the relative refractoriness and the bursts after the dead time to model (its
  values at lags ``1 .. r_i`` never act on unit ``i``; coupling filters act at every
  lag). Without it, a smooth log-time basis cannot turn a dead time of a few bins
  into the near ``-inf`` it needs at those lags while also fitting the bursts just
  after: fitted to the embedded recording (no interval under 3 ms, bursts), the
  self-history filter was only about -2 at lags 1-3 and about +1 at lags 4-10, and
  the simulated model ran away. ``refractory='auto'`` (the default) takes, per unit,
  the longest period the training counts allow, ``r_i = min(d_i - 1, 5 ms)`` with
  ``d_i`` the smallest distance in bins between two successive spikes of unit ``i``
  (0 when a bin holds two of its spikes, or when it has fewer than two spikes; below
  the history window in any case): every training bin it excludes is empty.

Fitting
-------
Each unit's parameters are its own, and unit ``i`` minimises the mean Poisson
negative log-likelihood per bin plus a penalty that leaves ``b_i`` out:

``L(theta) = (1/T_i) sum_{t live} [lam(t) - y(t) log lam(t)] + P(theta)``,

the sum over unit ``i``'s live bins, all but those within ``r_i`` bins after one of
its own spikes (``T_i`` of them): a dead bin has count 0 with certainty under the
model and contributes nothing to the likelihood, so it enters with weight 0 (a
training spike in one, possible only with a ``refractory`` set by hand, is dropped
from the fit with a warning). Everything below runs over each unit's live bins: the
columns' root-mean-squares of the penalty, the Fisher preconditioner (its spike
bins, divided by ``T_i``) and the cross-validation (a fold fits on the live bins
outside its block and scores the live bins inside it), so that a fit with
``refractory`` equals :func:`fit_design` on the explicit design with the dead bins
removed.

ridge ``P = alpha/2 ||s * theta||^2`` (``alpha`` per live bin, as nemos: the same
``alpha`` means the same shrinkage for any recording length) or group lasso ``P =
alpha sum_g sqrt(p_g) ||(s * theta)_g||`` (groups: the stimulus filter, and each
presynaptic unit's history or coupling filter; fitted by accelerated proximal
gradient, FISTA with backtracking); on the history and coupling coefficients
``alpha`` is multiplied by ``history_alpha_`` (1 unless raised for stability, see
Simulation). ``s`` is each column's root-mean-square over the
training bins (``standardize=True``, the default: history columns are sparse, and a
penalty on their raw coefficients would flatten the refractory dip long before it
touched the stimulus filter) or 1 (``standardize=False``: nemos's and statsmodels'
convention). With ``alpha=None``, ``alpha`` is chosen per unit from ``alphas`` by
cross-validation over ``n_folds`` blocks contiguous in time (the largest held-out
log-likelihood summed over the blocks; each fold walks the grid down from the largest
alpha and stops once every unit has got worse), then refitted on all bins.

The units are fitted together, by one L-BFGS (scipy, float64) on the sum of their
objectives (a separable sum: its minimum is every unit's own), so that each pass
over the bins is one matrix product for all units (``(bins, columns) x (columns,
units)``) rather than one matrix-vector product per unit (the dead bins are a
``(bins, units)`` weight, 0 or 1, beside the history columns). L-BFGS runs in
preconditioned coordinates: per unit, ``theta = L^-T phi`` with ``L L^T`` the
Cholesky factorisation of ``X^T diag(y) X / T`` plus the ridge's Hessian, the Fisher
information with the observed counts standing in for the rates, computed once from
the bins with spikes. A natural movie's basis projections and bursty
spike histories are strongly correlated columns: with column scaling alone a fit of
8 units to 300 s took some 350 iterations, preconditioned it takes 15-30.

Memory: the stimulus term is computed at the frame rate from the stimulus seen
through each temporal basis function, ``(frames, n_basis * D)`` float64 (rank
``r``: ``(frames, n_basis * r)``), never a bin-by-lag design; the history columns are
``(bins, units * n_history_basis)`` float64 (shared by every unit). 400 s at 1 ms
with 10 ms frames, 64 pixels, 8 temporal and 8 history bases, 3 units: 164 MB + 77 MB
(the bin-by-lag design would be 8 GB). Allocations are checked against
``NEUROMOD_MEMORY_LIMIT`` (:func:`neuromod.limits.check_allocation`).

:func:`fit_design` fits the same objective on an explicit design matrix; with
``alpha = 0`` it is the maximum-likelihood fit statsmodels'
``GLM(y, add_constant(X), family=Poisson())`` computes (statsmodels' ``llf`` adds
``-sum log y!``). :meth:`GLM.design` builds the model's own design explicitly (small
data only), column for column :meth:`GLM.coefficients`.

Simulation
----------
:meth:`GLM.sample` generates bin by bin in one compiled loop (numba) over bins and
units per trial, the model's own spikes feeding its history and coupling terms (each
spike adds its filters to a ring buffer of the next bins' drive); each count is
Poisson with the bin's expected count (inverse CDF on uniforms drawn from
``numpy.random.default_rng(seed)``; one uniform per bin and unit, used or not), 0 in
the ``r_i`` bins after a spike of unit ``i`` (its absolute refractory period). The
expected count is capped at ``max_rate * bin_size`` (default 1000 Hz). A strong
stimulus can touch the cap for a bin or two through an exp link; a unit held at the
cap for 50 ms in a row (:data:`RUNAWAY_SECONDS`; its dead bins continue such a run,
they do not end it) is the runaway self-excitation of coupled GLMs fitted by maximum
likelihood, and raises an :class:`UnstableGLMWarning`. :meth:`GLM.intensity` applies
the same cap and the same dead time, on the counts it is given
(:func:`refractory_bins`), so it is the intensity of the model as simulated. Fitting
ends with a short simulation on the training stimulus (``stable_``) and warns the
same way.

With ``history_alpha='stable'`` (the default) a fit that runs away there is refitted
with the history and coupling coefficients' ridge raised 10, 100, ... times
(``STABLE_HISTORY_FACTORS``; the cross-validated ``alpha`` kept, warm-started) until
that simulation is stable: the least shrinkage of the history filters that keeps the
model's own spike trains from running away on its training stimulus, judged on the
training data only (``history_alpha_``, ``stability_path_``). A maximum-likelihood
history filter is the best one-bin-ahead predictor given the observed past, not a
stable generator (Gerhard et al. 2017, Hocker & Park 2017): on the embedded
recording the self-history filters stay positive (+0.3 to +1.3) from the dead time
to some 15 ms and a little above 0 to 100 ms, and a unit's bursts feed themselves;
neither a softplus link nor a 50 or 20 ms history window stopped that, 10 times the
ridge did not either, 100 times did (see the retina documentation for the figures).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(4000, 2))
>>> y = rng.poisson(np.exp(-1.0 + X @ [0.5, -0.3]))
>>> fit = fit_design(X, y)
>>> bool(fit.converged), round(fit.intercept, 2), np.round(fit.coef, 2).tolist()
(True, -1.01, [0.49, -0.34])
"""
import math
import warnings
from dataclasses import dataclass

import numpy as np

from neuromod.errors import ParameterError
from neuromod.retina.base import RetinaModel, check_bin_size
from neuromod.retina.bases import (LOG_SCALE, history_design, log_raised_cosine,
                                   one_blas_thread, raised_cosine, ridge_path_cv,
                                   stimulus_projection)

__all__ = ["GLM", "fit_design", "DesignFit", "poisson_objective", "UnstableGLMWarning",
           "DEFAULT_ALPHAS", "LINKS", "REFRACTORY_CAP", "STABLE_HISTORY_FACTORS",
           "refractory_from_counts", "refractory_bins"]

#: Links: ``exp`` (canonical) and ``softplus`` (``log(1 + e^eta)``).
LINKS = ("exp", "softplus")
#: The ridge grid searched when ``alpha=None`` (per bin; see the module).
DEFAULT_ALPHAS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
#: Above this linear predictor the exp link continues linearly (C1, convex): overflow
#: never stops a line search, and no optimum comes near it (e^30 spikes per bin).
ETA_MAX = 30.0
#: A unit whose simulated rate stays at the cap this long (seconds) has run away.
RUNAWAY_SECONDS = 0.05
#: The longest absolute refractory period ``refractory='auto'`` sets (seconds).
REFRACTORY_CAP = 0.005
#: The history ridge factors ``history_alpha='stable'`` tries, in turn.
STABLE_HISTORY_FACTORS = (1.0, 10.0, 100.0, 1000.0, 10000.0)


class UnstableGLMWarning(RuntimeWarning):
    """A GLM's simulated rate reached its cap (runaway self-excitation)."""


# ------------------------------------------------------------------ the objective
def _link(eta, link):
    """``lam, dlam/deta, log lam, dlog lam/deta`` elementwise."""
    if link == "exp":
        if eta.size == 0 or eta.max() <= ETA_MAX:
            lam = np.exp(eta)
            return lam, lam, eta, 1.0
        e = np.exp(np.minimum(eta, ETA_MAX))
        over = np.maximum(eta - ETA_MAX, 0.0)
        return e * (1.0 + over), e, np.minimum(eta, ETA_MAX) + np.log1p(over), 1.0 / (1.0 + over)
    from scipy.special import expit
    lam = np.logaddexp(0.0, eta)
    d = expit(eta)
    low = eta < -30.0
    loglam = np.where(low, eta, np.log(np.where(low, 1.0, lam)))
    dlog = np.where(low, 1.0, d / np.where(low, 1.0, lam))
    return lam, d, loglam, dlog


def _inverse_link(rate, link):
    rate = max(float(rate), 1e-10)
    return math.log(rate) if link == "exp" else (math.log(math.expm1(rate)) if rate < 30
                                                 else rate)


def _nll(eta, y, w, link):
    """Each unit's weighted mean of ``lam - y log lam`` over bins (``eta``, ``y``
    ``(T, U)``, ``w`` ``(T,)`` shared by the units, ``(T, U)`` per unit, or None):
    ``(per-unit values (U,), d/d eta (T, U))``."""
    lam, dlam, loglam, dlog = _link(eta, link)
    if w is None:
        T = y.shape[0]
        return np.sum(lam - y * loglam, axis=0) / T, (dlam - y * dlog) / T
    if w.ndim == 2:                                         # per unit (refractory bins)
        ws = w.sum(0)
        ws[~(ws > 0)] = 1.0
        return np.sum(w * (lam - y * loglam), axis=0) / ws, w * (dlam - y * dlog) / ws
    ws = float(w.sum())
    return w @ (lam - y * loglam) / ws, w[:, None] * (dlam - y * dlog) / ws


def _weighted_squares(M, w, chunk=65536):
    """``(M ** 2).T @ w`` in row chunks (no full-size temporary)."""
    out = np.zeros((M.shape[1],) + w.shape[1:])
    for a in range(0, M.shape[0], chunk):
        out += (M[a:a + chunk] ** 2).T @ w[a:a + chunk]
    return out


def poisson_objective(X, y, intercept, coef, link="exp", alpha=0.0):
    """``mean(lam - y log lam) + alpha/2 ||coef||^2`` with ``lam = f(intercept + X
    coef)``: the objective :func:`fit_design` minimises (``log y!`` left out).

    Examples
    --------
    >>> round(poisson_objective(np.zeros((2, 1)), np.array([0, 1]), 0.0, np.zeros(1)), 6)
    1.0
    """
    X = np.asarray(X, dtype=np.float64)
    coef = np.asarray(coef, dtype=np.float64)
    eta = (intercept + X @ coef)[:, None]
    val, _ = _nll(eta, np.asarray(y, dtype=np.float64)[:, None], None, link)
    return float(val[0]) + 0.5 * alpha * float(coef @ coef)


class _Linear:
    """Every unit at once: ``eta = b + repeat(Z @ Ws, K) + H @ Wh`` ``(T, U)`` and its
    adjoint; ``Z`` (frames, p_s) at the frame rate held over ``K`` bins, ``H`` (bins,
    p_h) shared by the units, ``mask`` (p_h, U) the history entries each unit has
    (None: all). Parameters: ``[b (U), Ws (p_s, U), Wh (p_h, U)]`` flattened."""
    bilinear = False

    def __init__(self, Z, K, H, T, U, mask=None):
        self.Z, self.K, self.H, self.T, self.U = Z, int(K), H, int(T), int(U)
        self.p_s = 0 if Z is None else Z.shape[1]
        self.p_h = 0 if H is None else H.shape[1]
        self.n_s = self.p_s * self.U
        self.n = self.U + self.n_s + self.p_h * self.U
        self.mask = None if mask is None else np.asarray(mask, dtype=np.float64)

    def _stim(self, theta):
        return theta[self.U:self.U + self.n_s].reshape(self.p_s, self.U)

    def _hist(self, theta):
        return theta[self.U + self.n_s:].reshape(self.p_h, self.U)

    def _stimulus_drive(self, theta):
        """``(frames, U)``."""
        return self.Z @ self._stim(theta)

    def eta(self, theta):
        out = np.broadcast_to(theta[:self.U], (self.T, self.U)).copy()
        if self.p_s:
            s = self._stimulus_drive(theta)
            out += s if self.K == 1 else np.repeat(s, self.K, axis=0)
        if self.p_h:
            out += self.H @ self._hist(theta)
        return out

    def _stimulus_grad(self, theta, gf):
        return (self.Z.T @ gf).ravel()

    def grad(self, theta, G):
        out = np.empty(self.n)
        out[:self.U] = G.sum(0)
        if self.p_s:
            gf = G if self.K == 1 else G.reshape(-1, self.K, self.U).sum(1)
            out[self.U:self.U + self.n_s] = self._stimulus_grad(theta, gf)
        if self.p_h:
            gh = self.H.T @ G
            out[self.U + self.n_s:] = (gh if self.mask is None else gh * self.mask).ravel()
        return out

    def unit_of(self):
        """The unit of every parameter."""
        u = np.arange(self.U)
        return np.r_[u, np.tile(u, self.n_s // max(self.U, 1)), np.tile(u, self.p_h)]

    def free(self):
        """Parameters that are fitted (False: history entries outside ``mask``)."""
        f = np.ones(self.n, dtype=bool)
        if self.p_h and self.mask is not None:
            f[self.U + self.n_s:] = self.mask.ravel() > 0
        return f

    def _stimulus_scales(self, wf, tot):
        ms = _weighted_squares(self.Z, wf) / tot
        return np.sqrt(ms).ravel() if ms.ndim == 2 else np.repeat(np.sqrt(ms), self.U)

    def scales(self, w):
        """Root-mean-square of every column over the weighted bins (``w`` ``(T,)``, or
        ``(T, U)``: each unit's own bins; 1 for the intercepts and for all-zero
        columns), per parameter."""
        s = np.ones(self.n)
        ws = np.ones(self.T) if w is None else np.asarray(w, dtype=np.float64)
        tot = ws.sum(0)
        if ws.ndim == 2:
            tot = np.where(tot > 0, tot, 1.0)
        if self.n_s:
            wf = ws if self.K == 1 else ws.reshape((-1, self.K) + ws.shape[1:]).sum(1)
            s[self.U:self.U + self.n_s] = self._stimulus_scales(wf, tot)
        if self.p_h:
            ms = _weighted_squares(self.H, ws) / tot
            s[self.U + self.n_s:] = (np.sqrt(ms).ravel() if ms.ndim == 2
                                     else np.repeat(np.sqrt(ms), self.U))
        s[~(s > 1e-12)] = 1.0
        return s


class _LowRank(_Linear):
    """As :class:`_Linear` with a rank-``r`` separable stimulus filter per unit,
    computed from ``S`` (frames, D): ``Ws`` is replaced by ``A`` (U, n_basis, r) and
    ``C`` (U, D, r), the drive of unit ``u`` being ``sum_{b,r} A[u,b,r] ((S C_u)[:, r]
    through basis function b)``."""
    bilinear = True

    def __init__(self, S, basis, rank, K, H, T, U, mask=None):
        super().__init__(None, K, H, T, U, mask)
        self.S, self.basis, self.r = S, basis, int(rank)
        self.nb, self.D = basis.shape[1], S.shape[1]
        self.p_s = self.nb * self.r + self.D * self.r           # per unit
        self.n_s = self.p_s * self.U
        self.n = self.U + self.n_s + self.p_h * self.U
        self._cache = (None, None)

    def split(self, theta):
        U, nb, D, r = self.U, self.nb, self.D, self.r
        A = theta[U:U + U * nb * r].reshape(U, nb, r)
        C = theta[U + U * nb * r:U + self.n_s].reshape(U, D, r)
        return A, C

    def _projection(self, theta):
        cached, Zp = self._cache
        if cached is None or not np.array_equal(cached, theta):
            A, C = self.split(theta)
            P = self.S @ C.transpose(1, 0, 2).reshape(self.D, self.U * self.r)
            Zp = stimulus_projection(P, self.basis).reshape(-1, self.nb, self.U, self.r)
            self._cache = (theta.copy(), Zp)
        return Zp

    def _stimulus_drive(self, theta):
        A, _ = self.split(theta)
        return np.einsum("fbur,ubr->fu", self._projection(theta), A)

    def _stimulus_grad(self, theta, gf):
        from neuromod.retina.bases import causal_filter
        A, _ = self.split(theta)
        gA = np.einsum("fu,fbur->ubr", gf, self._projection(theta))
        t = np.einsum("jb,ubr->ujr", self.basis, A)               # (U, lags, r)
        gC = np.empty((self.U, self.D, self.r))
        for u in range(self.U):                                   # units, not bins
            h = causal_filter(gf[::-1, u], t[u])[::-1]           # sum_tau t[tau] g[f + tau]
            gC[u] = self.S.T @ h
        return np.r_[gA.ravel(), gC.ravel()]

    def unit_of(self):
        u = np.arange(self.U)
        nb, D, r = self.nb, self.D, self.r
        return np.r_[u, np.repeat(u, nb * r), np.repeat(u, D * r), np.tile(u, self.p_h)]

    def _stimulus_scales(self, wf, tot):
        return np.ones(self.n_s)


class _Scaled:
    """``problem`` in the coordinates ``phi = s * theta``."""

    def __init__(self, problem, s):
        self.problem, self.s, self.n = problem, s, problem.n

    def eta(self, phi):
        return self.problem.eta(phi / self.s)

    def grad(self, phi, g):
        return self.problem.grad(phi / self.s, g) / self.s


def _unit_columns(problem, u):
    """Positions of unit ``u``'s fitted parameters in ``theta`` (intercept, stimulus,
    history) and, for :class:`_Linear`, its columns of ``Z`` and ``H``."""
    U = problem.U
    free = problem.free()
    unit = problem.unit_of()
    idx = np.flatnonzero((unit == u) & free)
    hcols = np.flatnonzero(free[U + problem.n_s:].reshape(problem.p_h, U)[:, u]) \
        if problem.p_h else np.zeros(0, dtype=int)
    return idx, hcols


#: At most this many spike bins of a unit enter its preconditioner (evenly thinned).
GRAM_SPIKES = 20000


def _gram(problem, y, u):
    """``X^T diag(y) X / T`` for unit ``u`` over its design ``X = [1, stimulus,
    history]`` (``rank=None``; for a rank-``r`` filter only ``[1, history]`` and an
    identity for the stimulus factors), from the bins where it spiked: the Fisher
    information of the Poisson likelihood with the observed counts standing in for
    the rates, the Hessian L-BFGS is preconditioned with. ``problem.keep`` ``(T, U)``
    (or None: every bin), the bins in each unit's likelihood (0: within its absolute
    refractory period), restricts the sum and its mean to them."""
    idx, hcols = _unit_columns(problem, u)
    keep = getattr(problem, "keep", None)
    yu = y[:, u] if keep is None else y[:, u] * keep[:, u]
    n_bins = problem.T if keep is None else max(float(keep[:, u].sum()), 1.0)
    t = np.flatnonzero(yu)
    c = yu[t]
    if t.size > GRAM_SPIKES:
        keep = np.linspace(0, t.size - 1, GRAM_SPIKES).astype(int)
        c = c[keep] * (c.sum() / c[keep].sum())
        t = t[keep]
    blocks = [np.ones((t.size, 1))]
    if problem.n_s and not problem.bilinear:
        blocks.append(problem.Z[t // problem.K])
    if problem.bilinear:
        ns = problem.p_s
    if problem.p_h:
        blocks.append(problem.H[t][:, hcols])
    X = np.hstack(blocks)
    G = (X * c[:, None]).T @ X / n_bins
    if problem.bilinear:                                  # identity for the factors
        full = np.zeros((idx.size, idx.size))
        keep = np.r_[0, 1 + ns + np.arange(hcols.size)]
        full[np.ix_(keep, keep)] = G
        full[1:1 + ns, 1:1 + ns] = np.eye(ns) * max(float(np.mean(np.diag(G))), 1e-8)
        G = full
    return idx, G


class _Preconditioned:
    """Coordinates ``phi`` with ``theta_u = L_u^-T phi_u`` for each unit, ``L_u L_u^T``
    the Cholesky factorisation of :func:`_gram` plus the ridge's Hessian: close to the
    Hessian at the solution, so L-BFGS sees a well-conditioned problem (the columns
    of a movie's basis projection and of bursty spike histories are strongly
    correlated; column scaling alone left it at hundreds of iterations)."""

    def __init__(self, problem, y, pen):
        grams = getattr(problem, "_grams", None)
        if grams is None:
            grams = problem._grams = [_gram(problem, y, u) for u in range(problem.U)]
        self.parts = []
        for idx, G in grams:
            M = G + np.diag(pen[idx])
            d = np.diag(M)
            M = M + np.diag(1e-8 * d + 1e-12 * max(float(d.max()), 1e-300) + 1e-300)
            L = np.linalg.cholesky(M)
            self.parts.append((idx, L, np.linalg.inv(L).T))    # theta = P phi, P = L^-T

    def theta(self, phi):
        th = np.zeros_like(phi)
        for idx, _, P in self.parts:
            th[idx] = P @ phi[idx]
        return th

    def phi(self, theta):
        ph = np.zeros_like(theta)
        for idx, L, _ in self.parts:
            ph[idx] = L.T @ theta[idx]
        return ph

    def pullback(self, g):
        out = np.zeros_like(g)
        for idx, _, P in self.parts:
            out[idx] = P.T @ g[idx]
        return out


def _lbfgs(problem, y, w, link, pen, x0, maxiter, tol):
    """Minimise ``sum_u nll_u + 1/2 sum pen * theta^2`` by L-BFGS-B in preconditioned
    coordinates (:class:`_Preconditioned`); returns theta."""
    from scipy.optimize import minimize
    pre = _Preconditioned(problem, y, pen)

    def fun(x):
        theta = pre.theta(x)
        vals, G = _nll(problem.eta(theta), y, w, link)
        return (float(vals.sum()) + 0.5 * float(np.sum(pen * theta ** 2)),
                pre.pullback(problem.grad(theta, G) + pen * theta))

    res = minimize(fun, pre.phi(np.asarray(x0, dtype=np.float64)), jac=True,
                   method="L-BFGS-B", options=dict(maxiter=int(maxiter), maxcor=30, ftol=1e-15,
                                                   gtol=tol, maxls=50))
    ok = bool(res.success) or float(np.max(np.abs(res.jac))) <= 100 * tol
    return pre.theta(res.x), int(res.nit), ok, str(res.message)


def _group_norms(x, masks):
    return {g: float(np.linalg.norm(x[m])) for g, m in masks.items()}


def _fista(problem, y, w, link, groups, weights, x0, maxiter, tol):
    """Minimise ``sum_u nll_u + sum_g weights[g] ||x_g||`` by FISTA with backtracking
    and adaptive restart; ``groups`` (n,) integer, -1 for unpenalised entries."""
    masks = {g: groups == g for g in weights}

    def smooth(x):
        vals, G = _nll(problem.eta(x), y, w, link)
        return float(vals.sum()), problem.grad(x, G)

    def penalty(x):
        return sum(weights[g] * v for g, v in _group_norms(x, masks).items())

    def prox(v, step):
        out = v.copy()
        for g, m in masks.items():
            nrm = float(np.linalg.norm(v[m]))
            thr = step * weights[g]
            out[m] = 0.0 if nrm <= thr else v[m] * (1.0 - thr / nrm)
        return out

    x = np.asarray(x0, dtype=np.float64).copy()
    z, t, Lip = x.copy(), 1.0, 1.0
    fz, gz = smooth(z)
    obj = fz + penalty(z)
    n_it, ok = 0, False
    for n_it in range(1, int(maxiter) + 1):
        while True:
            x_new = prox(z - gz / Lip, 1.0 / Lip)
            d = x_new - z
            f_new, _ = smooth(x_new)
            if f_new <= fz + float(gz @ d) + 0.5 * Lip * float(d @ d) + 1e-15 * abs(fz):
                break
            Lip *= 2.0
        obj_new = f_new + penalty(x_new)
        step = float(np.linalg.norm(x_new - x))
        if obj_new > obj:                                   # restart the momentum
            t = 1.0
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        z = x_new + ((t - 1.0) / t_new) * (x_new - x)
        x, t, obj = x_new, t_new, obj_new
        fz, gz = smooth(z)
        Lip *= 0.9
        if step <= tol * (1.0 + float(np.linalg.norm(x))):
            ok = True
            break
    return x, n_it, ok, "converged" if ok else "maximum iterations"


def _solve(problem, y, w, link, alpha, penalty, groups, x0, maxiter, tol, scale,
           standardize, history_factor=1.0):
    """Fit every unit of ``problem`` at once (their parameters are separate, so this is
    each unit's own fit); ``alpha`` (U,) per unit, times ``history_factor`` on the
    history and coupling coefficients. Returns ``(theta, per-unit objectives (U,),
    iterations, converged, message)``.

    ``scale`` (n,): each column's root-mean-square (1 for the intercepts). The penalty
    is on ``scale * theta`` (``standardize``) or on ``theta``. Ridge fits run by
    L-BFGS in the coordinates ``scale * theta`` (a diagonal preconditioner); the
    group lasso by FISTA in the penalised coordinates."""
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (problem.U,))
    unit = problem.unit_of()
    a = alpha[unit]
    a[:problem.U] = 0.0                                    # the intercepts
    h0 = problem.U + problem.n_s                           # the first history entry
    a[h0:] *= history_factor
    with one_blas_thread():
        if penalty == "ridge" or not np.any(alpha > 0):
            theta, nit, ok, msg = _lbfgs(problem, y, w, link, a * scale ** 2 if standardize
                                         else a, x0, maxiter, tol)
            pen = 0.5 * a * (scale * theta if standardize else theta) ** 2
            pen_u = np.bincount(unit, pen, minlength=problem.U)
        else:
            s = scale if standardize else np.ones(problem.n)
            sizes = {g: int(np.sum(groups == g)) for g in np.unique(groups) if g >= 0}
            first = {g: int(np.flatnonzero(groups == g)[0]) for g in sizes}
            weights = {g: float(alpha[unit[first[g]]]) * math.sqrt(sizes[g])
                       * (history_factor if first[g] >= h0 else 1.0) for g in sizes}
            x, nit, ok, msg = _fista(_Scaled(problem, s), y, w, link, groups, weights,
                                     np.asarray(x0) * s, 20 * maxiter, tol)
            theta = x / s
            norms = _group_norms(x, {g: groups == g for g in sizes})
            pen_u = np.zeros(problem.U)
            for g, v in norms.items():
                pen_u[unit[first[g]]] += weights[g] * v
        vals, _ = _nll(problem.eta(theta), y, w, link)
    return theta, vals + pen_u, nit, ok, msg


@dataclass
class DesignFit:
    """What :func:`fit_design` returns: the intercept, the coefficients of the
    columns, the objective at the solution (``log y!`` left out), the solver's
    iterations, whether it converged and its message."""
    intercept: float
    coef: np.ndarray
    objective: float
    n_iter: int
    converged: bool
    message: str


def _check_choice(name, value, choices):
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, choices))}, got "
                             f"{value!r}")
    return value


def fit_design(X, y, link="exp", alpha=0.0, penalty="ridge", groups=None, weights=None,
               x0=None, standardize=False, maxiter=5000, tol=1e-10):
    """Fit a Poisson GLM with an intercept on an explicit design matrix.

    Minimises ``sum_t w_t [lam_t - y_t log lam_t] / sum_t w_t + P(coef)`` with ``lam =
    f(b + X coef)`` (see the module for the penalties; the intercept ``b`` is never
    penalised).

    Parameters
    ----------
    X : array_like (T, p)
        The design, without a constant column.
    y : array_like (T,)
        Counts.
    link : {'exp', 'softplus'}
    alpha : float
        Penalty strength (0: maximum likelihood).
    penalty : {'ridge', 'group-lasso'}
    groups : array_like (p,) of int, optional
        Group of each column for the group lasso (-1: unpenalised); default one
        group per column.
    weights : array_like (T,), optional
        Bin weights (0 leaves a bin out, e.g. a held-out block).
    x0 : array_like (p + 1,), optional
        Start ``[b, coef]`` (default: ``b`` matching the mean count, ``coef = 0``).
    standardize : bool
        Penalise ``coef`` times each column's root-mean-square (over the weighted
        bins) instead of ``coef`` itself.
    maxiter : int
    tol : float
        L-BFGS-B's projected-gradient tolerance (in preconditioned coordinates).

    Returns
    -------
    DesignFit

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [0.0], [1.0]])
    >>> f = fit_design(X, np.array([1, 2, 1, 2]))
    >>> round(f.intercept, 6), round(float(f.coef[0]), 6)     # log 1, log 2
    (0.0, 0.693147)
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ParameterError(f"X must be (T, p) and y (T,); got {X.shape}, {y.shape}")
    _check_choice("link", link, LINKS)
    _check_choice("penalty", penalty, ("ridge", "group-lasso"))
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ParameterError(f"alpha must be >= 0, got {alpha!r}")
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    problem = _Linear(X, 1, None, X.shape[0], 1)
    g = np.r_[-1, np.arange(X.shape[1]) if groups is None else np.asarray(groups, dtype=int)]
    if x0 is None:
        mean = float(y.mean() if w is None else np.dot(w, y) / w.sum())
        x0 = np.r_[_inverse_link(mean, link), np.zeros(X.shape[1])]
    theta, obj, nit, ok, msg = _solve(problem, y[:, None], w, link, float(alpha), penalty, g,
                                      np.asarray(x0, dtype=np.float64), maxiter, tol,
                                      problem.scales(w), bool(standardize))
    return DesignFit(float(theta[0]), theta[1:], float(obj[0]), nit, ok, msg)


# ------------------------------------------------------------------ simulation
_kernel = None


def _get_kernel():
    """Compile (or load from the cache) the bin-by-bin simulation."""
    global _kernel
    if _kernel is None:
        from neuromod.runtime import ensure_cache_dir
        ensure_cache_dir(__file__)
        from numba import njit

        @njit(cache=__name__ == "neuromod.retina.glm", nogil=True, error_model="numpy")
        def simulate(base, kern, lam_max, softplus, uniforms, out, dead):
            # base (T, U) linear predictor without history; kern (L, U_pre, U_post)
            # history kernels at lags 1..L; uniforms (T, U); out (T, U) counts; dead (U,)
            # bins of absolute refractoriness after each spike (expected count 0; they
            # continue a run of capped bins, they do not end it). Returns the capped
            # entries and the longest run of capped bins of a unit.
            T, U = base.shape
            L = kern.shape[0]
            acc = np.zeros((max(L, 1), U))          # ring buffer: future history drive
            run = np.zeros(U, dtype=np.int64)
            last = np.full(U, -(1 << 40), dtype=np.int64)   # each unit's last spike bin
            capped = 0
            longest = 0
            for t in range(T):
                slot = t % L if L > 0 else 0
                for v in range(U):
                    if t - last[v] <= dead[v]:
                        out[t, v] = 0
                        if run[v] > 0:
                            run[v] += 1
                            longest = max(longest, run[v])
                        continue
                    eta = base[t, v] + acc[slot, v]
                    if softplus:
                        lam = eta if eta > 30.0 else math.log1p(math.exp(eta))
                    else:
                        lam = math.exp(min(eta, 700.0))
                    if not lam <= lam_max:
                        lam = lam_max
                        capped += 1
                        run[v] += 1
                        longest = max(longest, run[v])
                    else:
                        run[v] = 0
                    p = math.exp(-lam)
                    F = p
                    k = 0
                    u = uniforms[t, v]
                    while u > F and k < 100000:
                        k += 1
                        p *= lam / k
                        F += p
                        if p == 0.0:
                            break
                    out[t, v] = k
                    if k > 0:
                        last[v] = t
                for v in range(U):
                    acc[slot, v] = 0.0
                if L > 0:
                    for u_ in range(U):
                        n = out[t, u_]
                        if n > 0:
                            for j in range(L):
                                s = (t + 1 + j) % L
                                for v in range(U):
                                    acc[s, v] += n * kern[j, u_, v]
            return capped, longest
        _kernel = simulate
    return _kernel


# ------------------------------------------------------------------ refractoriness
def refractory_from_counts(counts, max_bins):
    """Each unit's longest absolute refractory period consistent with ``counts``
    ``(bins, units)``, in bins: ``r_i = min(d_i - 1, max_bins)`` with ``d_i`` the
    smallest distance in bins between two successive spikes of unit ``i`` (0 when a
    bin holds two spikes), so that every bin within ``r_i`` bins after a spike of unit
    ``i`` is empty; 0 for a unit with fewer than two spikes.

    Examples
    --------
    >>> y = np.zeros((20, 3), dtype=int)
    >>> y[[2, 6, 15], 0] = 1; y[[3, 4], 1] = 1; y[5, 2] = 1
    >>> refractory_from_counts(y, 5).tolist()       # distances 4 and 9; 1; one spike
    [3, 0, 0]
    """
    y = np.asarray(counts)
    r = np.zeros(y.shape[1], dtype=np.int64)
    for u in range(y.shape[1]):
        t = np.flatnonzero(y[:, u])
        if t.size < 2 or y[t, u].max() > 1:
            continue
        r[u] = max(0, min(int(np.diff(t).min()) - 1, int(max_bins)))
    return r


def refractory_bins(counts, r):
    """``(..., bins, units)`` bool: True for the bins within ``r[u]`` bins after a
    spike of unit ``u`` in ``counts`` (same shape), where the model's expected count
    is 0.

    Examples
    --------
    >>> y = np.array([[0, 1, 0, 0, 1, 0, 0]]).T
    >>> refractory_bins(y, [2])[:, 0].astype(int).tolist()
    [0, 0, 1, 1, 0, 1, 1]
    """
    c = np.asarray(counts) > 0
    r = np.asarray(r, dtype=np.int64)
    T = c.shape[-2]
    dead = np.zeros(c.shape, dtype=bool)
    if T == 0:
        return dead
    t = np.arange(T)
    for u in np.flatnonzero(r > 0):
        P = np.cumsum(c[..., u], axis=-1, dtype=np.int64)        # P[t] = spikes in 0..t
        prev = np.concatenate([np.zeros(P.shape[:-1] + (1,), np.int64), P[..., :-1]], -1)
        lo = t - int(r[u]) - 1                                   # spikes in t-r..t-1
        before = np.where(lo >= 0, P[..., np.maximum(lo, 0)], 0)
        dead[..., u] = prev - before > 0
    return dead


# ------------------------------------------------------------------ the model
class GLM(RetinaModel):
    """Pillow et al. 2008's GLM (see the module).

    Parameters
    ----------
    stimulus_window : float
        Seconds of stimulus history (0.3); rounded to whole frames (at least 1).
    n_stimulus_basis : int
        Temporal basis functions of the stimulus filter (8; at most the lags).
    stimulus_basis : {'linear', 'log'}
        Raised cosines evenly spaced in time or log-stretched.
    history_window : float
        Seconds of spike history (0.1); 0 for no history or coupling terms.
    n_history_basis : int
        Basis functions of each history / coupling filter (8).
    coupling : bool
        Coupling filters between all units (True) or each unit's own history only.
    link : {'exp', 'softplus'}
    rank : int, optional
        Rank of the space-time separable stimulus filter; None (default): a free
        coefficient per temporal basis function and pixel.
    penalty : {'ridge', 'group-lasso'}
    alpha : float, optional
        Penalty strength per bin; None: chosen by cross-validation from ``alphas``.
    alphas : sequence of float
        The grid (:data:`DEFAULT_ALPHAS`).
    n_folds : int
        Blocks of the cross-validation (3), contiguous in time.
    max_rate : float
        Cap on the simulated rate, Hz (1000).
    width : float
        Support of each raised cosine in spacings (2).
    log_scale : float
        ``c`` of the log-time warping (50).
    standardize : bool
        Penalise each coefficient times its column's root-mean-square over the
        training bins (True: the penalty does not depend on the columns' units, and
        the sparse history columns are not shrunk more than the stimulus columns), or
        the coefficients themselves (False: nemos's and statsmodels' convention).
    maxiter : int
        Iterations of each L-BFGS fit (2000; 20x that for FISTA).
    tol : float
        Projected-gradient tolerance of L-BFGS-B in preconditioned coordinates (1e-7).
    stability_seconds : float
        Seconds of the training stimulus simulated after fitting to check stability
        (20; 0 skips the check).
    refractory : 'auto', float, sequence of float or None
        Absolute refractory period, seconds: after a spike of unit ``i`` in bin ``t``
        its expected count is 0 in bins ``t + 1 .. t + r_i``, ``r_i =
        floor(refractory / bin_size)`` (so 0.003 s at 1 ms bins: 3 dead bins, the
        next spike 4 bins on at the earliest), and those bins are left out of unit
        ``i``'s likelihood. ``'auto'`` (default): per unit, the longest period its
        training counts allow (:func:`refractory_from_counts`: one bin less than the
        shortest distance in bins between two of its spikes; 0 for a unit with two
        spikes in one bin), at most :data:`REFRACTORY_CAP` (5 ms). A number sets it for
        every unit, a sequence per unit; 0 or None: none. Must be shorter than
        ``history_window``. The fitted periods are ``refractory_bins_`` (bins) and
        ``refractory_`` (seconds).
    history_alpha : float or 'stable'
        Factor on ``alpha`` for the history and coupling coefficients (their ridge or
        group-lasso weight; 1: the same penalty as the stimulus filter).
        ``'stable'`` (default): 1, and if the fitted model runs away in the stability
        check (``stability_seconds`` of the training stimulus simulated), refitted
        with the factors :data:`STABLE_HISTORY_FACTORS` (10, 100, ...) in turn, with the
        cross-validated ``alpha`` of the first fit, until one is stable (the last one
        is kept, with the warning, when none is). The factor used is
        ``history_alpha_``.
    """
    kind = "glm"

    def __init__(self, stimulus_window=0.3, n_stimulus_basis=8, stimulus_basis="linear",
                 history_window=0.1, n_history_basis=8, coupling=True, link="exp", rank=None,
                 penalty="ridge", alpha=None, alphas=DEFAULT_ALPHAS, n_folds=3, max_rate=1000.0,
                 width=2.0, log_scale=LOG_SCALE, standardize=True, maxiter=2000, tol=1e-7,
                 stability_seconds=20.0, refractory="auto", history_alpha="stable"):
        _check_choice("link", link, LINKS)
        _check_choice("penalty", penalty, ("ridge", "group-lasso"))
        _check_choice("stimulus_basis", stimulus_basis, ("linear", "log"))
        if not (stimulus_window > 0 and history_window >= 0 and n_stimulus_basis >= 1
                and n_history_basis >= 1 and max_rate > 0 and n_folds >= 2):
            raise ParameterError("stimulus_window must be > 0, history_window >= 0, the basis "
                                 "sizes >= 1, max_rate > 0 and n_folds >= 2")
        if rank is not None and int(rank) < 1:
            raise ParameterError(f"rank must be >= 1 or None, got {rank!r}")
        if rank is not None and penalty == "group-lasso":
            raise ParameterError("the group lasso needs rank=None (a linear stimulus filter)")
        if alpha is not None and not (math.isfinite(alpha) and alpha >= 0):
            raise ParameterError(f"alpha must be >= 0 or None, got {alpha!r}")
        alphas = tuple(float(a) for a in alphas)
        if not alphas or not all(math.isfinite(a) and a >= 0 for a in alphas):
            raise ParameterError("alphas must be a non-empty sequence of numbers >= 0")
        refractory = self._check_refractory(refractory, float(history_window))
        if not (history_alpha == "stable" or (isinstance(history_alpha, (int, float))
                                              and math.isfinite(history_alpha)
                                              and history_alpha > 0)):
            raise ParameterError(f"history_alpha must be > 0 or 'stable', got "
                                 f"{history_alpha!r}")
        self.options = dict(stimulus_window=float(stimulus_window),
                            n_stimulus_basis=int(n_stimulus_basis), stimulus_basis=stimulus_basis,
                            history_window=float(history_window),
                            n_history_basis=int(n_history_basis), coupling=bool(coupling),
                            link=link, rank=None if rank is None else int(rank), penalty=penalty,
                            alpha=None if alpha is None else float(alpha), alphas=list(alphas),
                            n_folds=int(n_folds), max_rate=float(max_rate), width=float(width),
                            log_scale=float(log_scale), standardize=bool(standardize),
                            maxiter=int(maxiter), tol=float(tol),
                            stability_seconds=float(stability_seconds), refractory=refractory,
                            history_alpha=(history_alpha if history_alpha == "stable"
                                           else float(history_alpha)))
        self.intercept_ = None
        self.refractory_bins_ = None
        self.history_alpha_ = None

    @staticmethod
    def _check_refractory(refractory, history_window):
        """``'auto'``, a float or a list of floats (seconds), each ``>= 0`` and shorter
        than ``history_window`` (0 for None)."""
        if isinstance(refractory, str):
            if refractory != "auto":
                raise ParameterError(f"refractory must be 'auto', seconds or None, got "
                                     f"{refractory!r}")
            return refractory
        if refractory is None:
            return 0.0
        try:
            v = np.asarray(refractory, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"refractory must be 'auto', seconds or None, got "
                                 f"{refractory!r}") from None
        if v.ndim > 1 or not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ParameterError(f"refractory must be >= 0 seconds, got {refractory!r}")
        if np.any(v > 0) and not np.all(v < history_window):
            raise ParameterError(f"refractory ({refractory!r} s) must be shorter than "
                                 f"history_window ({history_window:g} s)")
        return float(v) if v.ndim == 0 else [float(x) for x in v]

    def _refractory_for(self, counts):
        """Each unit's refractory period in bins for the training ``counts``."""
        o = self.options
        U = counts.shape[1]
        L = self.n_history_lags
        ref = o["refractory"]
        if ref == "auto":
            cap = min(int(math.floor(REFRACTORY_CAP / self.bin_size + 1e-9)), max(L - 1, 0))
            return refractory_from_counts(counts, cap)
        v = np.asarray(ref, dtype=np.float64)
        if v.ndim == 1 and v.size != U:
            raise ParameterError(f"refractory has {v.size} periods for {U} units")
        r = np.floor(np.broadcast_to(v, (U,)) / self.bin_size + 1e-9).astype(np.int64)
        if np.any(r >= max(L, 1)):
            raise ParameterError(f"refractory of {int(r.max())} bins must be shorter than "
                                 f"the history window ({L} bins)")
        return r

    def _dead_counts(self):
        """``refractory_bins_`` (zeros when unset), int64 ``(U,)``."""
        r = getattr(self, "refractory_bins_", None)
        if r is None:
            return np.zeros(self.n_units, dtype=np.int64)
        return np.ascontiguousarray(r, dtype=np.int64)

    @property
    def refractory_(self):
        """Each unit's absolute refractory period, seconds (``refractory_bins_`` bins)."""
        return self._dead_counts() * self.bin_size

    # ------------------------------------------------------------ sizes and bases
    @property
    def bins_per_frame(self):
        return int(round(self.frame_dt / self.bin_size))

    @property
    def n_stimulus_lags(self):
        return max(1, int(round(self.options["stimulus_window"] / self.frame_dt)))

    @property
    def n_history_lags(self):
        return int(round(self.options["history_window"] / self.bin_size))

    def stimulus_basis(self):
        """``(n_stimulus_lags, n_basis)``: row ``j`` is ``j`` frames back."""
        o = self.options
        n = min(o["n_stimulus_basis"], self.n_stimulus_lags)
        return raised_cosine(n, self.n_stimulus_lags, o["width"],
                             None if o["stimulus_basis"] == "linear" else o["log_scale"])

    def history_basis(self):
        """``(n_history_lags, n_history_basis)``: row ``j`` is ``j + 1`` bins back."""
        o = self.options
        if self.n_history_lags == 0:
            return np.zeros((0, 0))
        return log_raised_cosine(o["n_history_basis"], self.n_history_lags, o["width"],
                                 o["log_scale"])

    def _check_frame_dt(self, frame_dt):
        if frame_dt is not None and abs(frame_dt - self.frame_dt) > 1e-9 * self.frame_dt:
            raise ParameterError(f"frame_dt {frame_dt:g} s differs from the fitted model's "
                                 f"{self.frame_dt:g} s (its stimulus filter is in frames)")

    def _history_columns(self, unit, n_units):
        """Indices of unit ``unit``'s history columns in the shared history design."""
        nh = self.history_basis().shape[1]
        if nh == 0:
            return np.zeros(0, dtype=int)
        if self.options["coupling"]:
            return np.arange(n_units * nh)
        return np.arange(unit * nh, (unit + 1) * nh)

    # ------------------------------------------------------------ fitting
    def _problem(self, S, H, U, T):
        nh = self.history_basis().shape[1]
        mask = None
        if H is not None and not self.options["coupling"]:
            mask = np.kron(np.eye(U), np.ones((nh, 1)))           # (U * nh, U)
        if self.options["rank"] is None:
            return _Linear(self._Z, self.bins_per_frame, H, T, U, mask)
        return _LowRank(S, self.stimulus_basis(), self.options["rank"], self.bins_per_frame,
                        H, T, U, mask)

    def _groups(self, problem):
        """Group of every parameter: per unit, its stimulus filter and each presynaptic
        unit's history filter; -1 for the intercepts and absent entries."""
        U = problem.U
        unit = problem.unit_of()
        g = np.full(problem.n, -1)
        g[U:U + problem.n_s] = unit[U:U + problem.n_s] * (1 + U)
        if problem.p_h:
            nh = self.history_basis().shape[1]
            pre = np.repeat(np.arange(problem.p_h) // nh, U)
            g[U + problem.n_s:] = unit[U + problem.n_s:] * (1 + U) + 1 + pre
            g[~problem.free()] = -1
        return g

    def _start(self, problem, y, S, counts_f):
        o = self.options
        U = problem.U
        x0 = np.zeros(problem.n)
        x0[:U] = [_inverse_link(m, o["link"]) for m in y.mean(0)]
        if problem.bilinear:
            # a start away from the saddle at 0: each unit's spike-triggered average on
            # the temporal basis, its leading singular vectors
            Bs, r = self.stimulus_basis(), problem.r
            A = np.zeros((U, Bs.shape[1], r))
            C = np.zeros((U, S.shape[1], r))
            for u in range(U):
                sta = _sta(S, counts_f[:, u], self.n_stimulus_lags)
                W = np.linalg.lstsq(Bs, sta, rcond=None)[0]              # (nb, D)
                Uw, sw, Vw = np.linalg.svd(W, full_matrices=False)
                sq = np.sqrt(np.maximum(sw[:r], 1e-12))
                A[u], C[u] = Uw[:, :r] * sq, Vw[:r].T * sq
                drive = np.einsum("fbr,br->f", stimulus_projection(S @ C[u], Bs), A[u])
                sd = float(np.std(drive)) or 1.0
                A[u], C[u] = A[u] * math.sqrt(0.3 / sd), C[u] * math.sqrt(0.3 / sd)
            x0[U:U + problem.n_s] = np.r_[A.ravel(), C.ravel()]
        return x0

    def _fit(self, recording, counts, seed=0, epochs=None, checkpoint=None, resume=False,
             progress=False):
        from neuromod.limits import check_allocation
        o = self.options
        self.seed = int(seed)
        raw = recording.train_stimulus
        S = self.standardised(raw)
        F, D = S.shape
        K = self.bins_per_frame
        y = np.asarray(counts, dtype=np.float64)
        T, U = y.shape
        if T != F * K:
            raise ParameterError(f"{T} bins for {F} frames of {K} bins")
        r = self._refractory_for(y)
        Bs, Bh = self.stimulus_basis(), self.history_basis()
        nb, nh = Bs.shape[1], Bh.shape[1]
        if o["rank"] is None:
            check_allocation(8 * F * nb * D * 2, "GLM: the stimulus through its temporal basis")
            self._Z = stimulus_projection(S, Bs).reshape(F, nb * D)
        else:
            self._Z = None
        check_allocation(8 * T * U * (nh + 8 + (3 if r.any() else 0)),
                         "GLM: the spike-history columns")
        H = history_design(y, Bh) if nh else None
        self.n_units, self.D = U, D
        self.refractory_bins_ = r
        keep = None
        if r.any():
            keep = (~refractory_bins(y, r)).astype(np.float64)
            lost = (y * (1.0 - keep)).sum(0)
            if lost.any():
                warnings.warn(
                    f"refractory: {int(lost.sum())} training spikes (per unit "
                    f"{lost.astype(int).tolist()}) fall within the absolute refractory "
                    f"periods of {r.tolist()} bins; they are left out of the fit and have "
                    f"probability 0 under the model", RuntimeWarning, stacklevel=3)
        try:
            problem = self._problem(S, H, U, T)
            problem.keep = keep
            x0 = self._start(problem, y, S, y.reshape(F, K, U).sum(1))
            groups = self._groups(problem)
            scale = problem.scales(keep)
            factors = ((o["history_alpha"],) if o["history_alpha"] != "stable"
                       else STABLE_HISTORY_FACTORS if nh and o["stability_seconds"] > 0
                       else (1.0,))
            if o["alpha"] is not None or len(o["alphas"]) == 1:
                alpha = np.full(U, o["alpha"] if o["alpha"] is not None else o["alphas"][0])
                self.cv_ = [None] * U
            else:
                alpha, self.cv_, x0 = _cross_validate(problem, y, o, groups, x0, K, scale,
                                                      factors[0])
            self.alpha_ = np.asarray(alpha, dtype=np.float64)
            self.stability_path_ = []
            for i, f in enumerate(factors):
                theta, obj, nit, ok, msg = _solve(problem, y, keep, o["link"], alpha,
                                                  o["penalty"], groups, x0, o["maxiter"],
                                                  o["tol"], scale, o["standardize"], f)
                self._set_parameters(problem, theta)
                self.history_alpha_ = float(f)
                if len(factors) == 1:
                    break
                stable, longest = self._runaway_check(raw)
                self.stability_path_.append({"history_alpha": float(f), "stable": stable,
                                             "longest_capped_run": longest,
                                             "objective": obj.tolist()})
                if stable:
                    break
                x0 = theta
        finally:
            self._Z = None
        self.fit_info_ = [{"objective": float(v), "n_iter": nit, "converged": ok,
                           "message": msg} for v in obj]
        self._stability_check(raw)

    def _set_parameters(self, problem, theta):
        """Unpack the parameters of every unit."""
        U, D = problem.U, self.D
        nb, nh = self.stimulus_basis().shape[1], self.history_basis().shape[1]
        self.intercept_ = theta[:U].copy()
        if problem.bilinear:
            A, C = problem.split(theta)
            self.stim_factors_ = (A.copy(), C.copy())
            self.stim_coef_ = np.einsum("ubr,udr->ubd", A, C)
        else:
            self.stim_coef_ = problem._stim(theta).T.reshape(U, nb, D).copy()
        hist = np.zeros((U, U, nh))
        if nh:
            W = problem._hist(theta)                                # (U_pre * nh, U_post)
            hist[:] = W.T.reshape(U, U, nh)
        self.hist_coef_ = hist

    def _runaway_check(self, raw):
        """``(stable, longest capped run)`` of a simulation on the first
        ``stability_seconds`` of ``raw``, seeded with the fit's seed."""
        secs = self.options["stability_seconds"]
        if secs <= 0 or self.history_basis().shape[1] == 0:
            return True, 0
        n = min(raw.shape[0], max(1, int(round(secs / self.frame_dt))))
        _, capped, longest = self._simulate(raw[:n], 1, self.seed)
        return bool(longest < self.runaway_bins), int(longest)

    def _stability_check(self, raw):
        secs = self.options["stability_seconds"]
        n = min(raw.shape[0], max(1, int(round(secs / self.frame_dt))))
        self.stable_, longest = self._runaway_check(raw)
        if not self.stable_:
            warnings.warn(
                f"the fitted GLM is unstable in simulation: on {n * self.frame_dt:g} s of the "
                f"training stimulus a unit's rate stayed at the cap of "
                f"{self.options['max_rate']:g} Hz for {longest} bins in a row (runaway "
                f"self-excitation through its history or coupling filters); its samples are "
                f"capped at that rate -- an absolute refractory period (refractory), a larger "
                f"alpha or history_alpha, a shorter history_window or coupling=False may "
                f"help", UnstableGLMWarning, stacklevel=3)

    @classmethod
    def from_coefficients(cls, intercept, stimulus, history, bin_size, frame_dt,
                          frame_shape=None, stim_mean=0.0, stim_std=1.0, null_rate=None,
                          refractory=0.0, **options):
        """A GLM with given parameters (e.g. a ground truth to simulate from).

        Parameters
        ----------
        intercept : array_like (U,)
        stimulus : array_like (U, n_basis, D)
            Coefficients of the stimulus filters on :meth:`stimulus_basis`.
        history : array_like (U, U, n_history_basis)
            ``history[i, j]``: coefficients of the filter from unit ``j`` onto unit
            ``i`` on :meth:`history_basis` (``i == j``: the spike-history filter).
        bin_size, frame_dt : float
            Seconds.
        frame_shape : tuple, optional
            Shape of a frame (default ``(D,)``).
        stim_mean, stim_std : float
            The stimulus's standardisation.
        null_rate : array_like (U,), optional
            Spikes per bin of the null model of :meth:`score` (default NaN).
        refractory : float or sequence of float
            Absolute refractory period, seconds, for every unit or per unit (0, the
            default: none; as the constructor's, without ``'auto'``).
        **options
            As the constructor (``rank`` must be None).

        Examples
        --------
        >>> m = GLM.from_coefficients([-3.0], np.zeros((1, 3, 2)), -np.ones((1, 1, 4)),
        ...                           0.001, 0.01, stimulus_window=0.05, n_stimulus_basis=3,
        ...                           n_history_basis=4, history_window=0.02)
        >>> m.sample(np.zeros((20, 2)), 2, seed=0).shape
        (2, 200, 1)
        """
        if isinstance(refractory, str):
            raise ParameterError("from_coefficients takes the refractory period in seconds")
        m = cls(refractory=refractory, **options)
        if m.options["rank"] is not None:
            raise ParameterError("from_coefficients takes full stimulus coefficients: rank=None")
        m.bin_size = check_bin_size(float(bin_size), float(frame_dt))
        m.frame_dt = float(frame_dt)
        b = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
        U = b.size
        ks = np.asarray(stimulus, dtype=np.float64)
        hs = np.asarray(history, dtype=np.float64)
        nb, nh = m.stimulus_basis().shape[1], m.history_basis().shape[1]
        if ks.ndim != 3 or ks.shape[:2] != (U, nb) or hs.shape != (U, U, nh):
            raise ParameterError(f"expected stimulus (U={U}, {nb}, D) and history ({U}, {U}, "
                                 f"{nh}); got {ks.shape}, {hs.shape}")
        m.n_units, m.D = U, ks.shape[2]
        m.frame_shape = tuple(frame_shape) if frame_shape is not None else (m.D,)
        m.stim_mean, m.stim_std, m.seed = float(stim_mean), float(stim_std), 0
        m.intercept_, m.stim_coef_, m.hist_coef_ = b, ks.copy(), hs.copy()
        m.alpha_ = np.full(U, np.nan)
        m.null_rate = (np.full(U, np.nan) if null_rate is None
                       else np.asarray(null_rate, dtype=np.float64))
        m.stable_, m.cv_, m.fit_info_ = None, [None] * U, []
        m.refractory_bins_ = m._refractory_for(np.zeros((0, U)))
        return m

    # ------------------------------------------------------------ filters
    def stimulus_filter(self):
        """``(U, n_stimulus_lags, D)``: ``k_i[tau, d]``, ``tau`` frames back, in
        standardised stimulus units."""
        return np.einsum("jb,ubd->ujd", self.stimulus_basis(), self.stim_coef_)

    def history_filters(self):
        """``(U, U, n_history_lags)``: ``[i, j, lag - 1]`` is the filter from unit ``j``
        onto unit ``i`` (``i == j``: spike history), lags in bins."""
        Bh = self.history_basis()
        if Bh.shape[1] == 0:
            return np.zeros((self.n_units, self.n_units, 0))
        return np.einsum("jk,iuk->iuj", Bh, self.hist_coef_)

    def filters(self):
        """The leading space-time component of each unit's stimulus filter
        (``'spatial'`` ``(U, *frame_shape)``, ``'temporal'`` ``(U, lags)``, signed so that
        the spatial filter's largest entry is positive), ``'lag_dt'`` (frame interval),
        and ``'history'`` (:meth:`history_filters`) with ``'history_dt'``."""
        k = self.stimulus_filter()
        sp, tm = [], []
        for ku in k:
            Uk, s, Vk = np.linalg.svd(ku, full_matrices=False)
            spatial, temporal = Vk[0], Uk[:, 0] * s[0]
            if spatial[np.argmax(np.abs(spatial))] < 0:
                spatial, temporal = -spatial, -temporal
            sp.append(spatial.reshape(self.frame_shape))
            tm.append(temporal)
        return {"spatial": np.array(sp), "temporal": np.array(tm), "lag_dt": self.frame_dt,
                "history": self.history_filters(), "history_dt": self.bin_size}

    # ------------------------------------------------------------ prediction
    def coefficients(self, unit):
        """Unit ``unit``'s coefficients in :meth:`design`'s column order (``rank=None``):
        the stimulus ``(n_basis * D)`` then its history columns; the intercept is
        ``intercept_[unit]``."""
        cols = self._history_columns(unit, self.n_units)
        nh = self.history_basis().shape[1]
        hist = self.hist_coef_[unit].reshape(-1)[cols] if nh else np.zeros(0)
        return np.r_[self.stim_coef_[unit].ravel(), hist]

    def design(self, stimulus, counts, unit=0):
        """The explicit design of unit ``unit`` ``(bins, n_basis * D + history columns)``
        on ``stimulus`` with the observed ``counts`` ``(bins, units)``: the stimulus
        through each temporal basis function, held over each frame's bins, then the
        history columns (:func:`~neuromod.retina.bases.history_design`; every unit's
        with coupling). Built in full: for small data (tests, oracles)."""
        from neuromod.limits import check_allocation
        S = self.standardised(stimulus)
        F, D = S.shape
        K = self.bins_per_frame
        y = np.asarray(counts, dtype=np.float64)
        nb, Bh = self.stimulus_basis().shape[1], self.history_basis()
        cols = self._history_columns(unit, y.shape[1])
        check_allocation(8 * F * K * (nb * D + cols.size) * 2, "GLM.design")
        Z = np.repeat(stimulus_projection(S, self.stimulus_basis()).reshape(F, nb * D), K, 0)
        if cols.size == 0:
            return Z
        return np.hstack([Z, history_design(y, Bh)[:, cols]])

    def _base_drive(self, stimulus):
        """``(bins, U)``: intercept plus stimulus term, held over each frame."""
        S = self.standardised(stimulus)
        F = S.shape[0]
        k = self.stimulus_filter()                                  # (U, L, D)
        U, L, D = k.shape
        if S.shape[1] != D:
            raise ParameterError(f"stimulus frames have {S.shape[1]} values; the model "
                                 f"was fitted on {D}")
        M = S @ k.transpose(2, 1, 0).reshape(D, L * U)             # (F, L * U)
        M = M.reshape(F, L, U)
        s = np.zeros((F, U))
        for j in range(min(L, F)):                                  # lags, not bins
            s[j:] += M[:F - j, j]
        return np.repeat(s, self.bins_per_frame, axis=0) + self.intercept_

    def _history_kernels(self):
        """``(L, U_pre, U_post)``: the history / coupling filters at lags 1..L."""
        return np.ascontiguousarray(np.transpose(self.history_filters(), (2, 1, 0)))

    def _lam(self, eta):
        lam, _, _, _ = _link(eta, self.options["link"])
        return np.minimum(lam, self.options["max_rate"] * self.bin_size)

    def intensity(self, stimulus, counts=None, frame_dt=None):
        """Expected spikes per bin ``(trials, bins, units)`` given the stimulus and the
        observed past ``counts`` (same shape; required when the model has history
        terms), capped at ``max_rate`` as in :meth:`sample`; 0 in the
        ``refractory_bins_`` bins after each spike of a unit in ``counts``."""
        self._check_frame_dt(frame_dt)
        base = self._base_drive(stimulus)
        T, U = base.shape
        Bh = self.history_basis()
        if counts is None:
            if Bh.shape[1]:
                raise ParameterError("the GLM's intensity is conditional on the past spikes: "
                                     "pass the observed counts")
            return self._lam(base)[None]
        c = np.asarray(counts, dtype=np.float64)
        c = c[None] if c.ndim == 2 else c
        if c.shape[1:] != (T, U):
            raise ParameterError(f"counts {c.shape} do not match (trials, {T} bins, {U} units)")
        out = np.empty(c.shape)
        if Bh.shape[1] == 0:
            out[:] = self._lam(base)
            return out
        W = self.hist_coef_.transpose(1, 2, 0).reshape(U * Bh.shape[1], U)  # (pre*k, post)
        dead = self._dead_counts()
        step = max(1, int(2e7 // max(1, T * U * Bh.shape[1])))
        for r0 in range(0, c.shape[0], step):                      # trials in chunks
            Hc = history_design(c[r0:r0 + step], Bh)
            lam = self._lam(base + Hc @ W)
            if dead.any():
                lam[refractory_bins(c[r0:r0 + step], dead)] = 0.0
            out[r0:r0 + step] = lam
        return out

    def _simulate(self, stimulus, n_trials, seed):
        """Counts ``(n_trials, bins, units)``, the capped entries and the longest run
        of capped bins of one unit in one trial."""
        base = np.ascontiguousarray(self._base_drive(stimulus))
        T, U = base.shape
        kern = (self._history_kernels() if self.history_basis().shape[1]
                else np.zeros((0, U, U)))
        kernel = _get_kernel()
        rng = np.random.default_rng(seed)
        out = np.zeros((int(n_trials), T, U), dtype=np.int64)
        capped, longest = 0, 0
        lam_max = self.options["max_rate"] * self.bin_size
        dead = self._dead_counts()
        for r in range(int(n_trials)):
            c, run = kernel(base, kern, lam_max, self.options["link"] == "softplus",
                            rng.random((T, U)), out[r], dead)
            capped, longest = capped + int(c), max(longest, int(run))
        return out, capped, longest

    @property
    def runaway_bins(self):
        """Consecutive capped bins of one unit that count as a runaway: 50 ms (at
        least 5 bins)."""
        return max(5, int(round(RUNAWAY_SECONDS / self.bin_size)))

    def sample(self, stimulus, n_trials, seed=0, frame_dt=None):
        """Spike counts ``(n_trials, bins, units)`` generated bin by bin, the model's own
        spikes feeding its history and coupling filters (see the module); warns
        :class:`UnstableGLMWarning` when a unit's rate stays at the cap for
        :attr:`runaway_bins` bins in a row."""
        self._check_frame_dt(frame_dt)
        out, capped, longest = self._simulate(stimulus, n_trials, seed)
        self.last_capped_ = capped
        if longest >= self.runaway_bins:
            warnings.warn(
                f"GLM simulation unstable: a unit's rate stayed at the cap of "
                f"{self.options['max_rate']:g} Hz for {longest} bins in a row ({capped} of "
                f"{out.size} (trial, bin, unit) entries capped): runaway self-excitation "
                f"through the history or coupling filters; capped there",
                UnstableGLMWarning, stacklevel=2)
        return out

    # ------------------------------------------------------------ saving
    def config(self):
        return {**self.options, "seed": self.seed, "stim_mean": self.stim_mean,
                "stim_std": self.stim_std, "frame_shape": list(self.frame_shape),
                "n_units": int(self.n_units), "D": int(self.D),
                "stable": None if self.stable_ is None else bool(self.stable_),
                "history_alpha_": getattr(self, "history_alpha_", None)}

    def arrays(self):
        out = {"intercept": self.intercept_, "stim_coef": self.stim_coef_,
               "hist_coef": self.hist_coef_, "alpha": self.alpha_,
               "refractory_bins": self._dead_counts()}
        if self.options["rank"] is not None:
            out["stim_A"], out["stim_C"] = self.stim_factors_
        return out

    @classmethod
    def from_saved(cls, config, arrays):
        keys = ("stimulus_window", "n_stimulus_basis", "stimulus_basis", "history_window",
                "n_history_basis", "coupling", "link", "rank", "penalty", "alpha", "alphas",
                "n_folds", "max_rate", "width", "log_scale", "standardize", "maxiter", "tol",
                "stability_seconds")
        m = cls(**{k: config[k] for k in keys}, refractory=config.get("refractory", 0.0),
                history_alpha=config.get("history_alpha", 1.0))
        m.history_alpha_ = config.get("history_alpha_")
        m.seed, m.stim_mean, m.stim_std = config["seed"], config["stim_mean"], config["stim_std"]
        m.frame_shape = tuple(config["frame_shape"])
        m.n_units, m.D, m.stable_ = config["n_units"], config["D"], config["stable"]
        m.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        m.stim_coef_ = np.asarray(arrays["stim_coef"], dtype=np.float64)
        m.hist_coef_ = np.asarray(arrays["hist_coef"], dtype=np.float64)
        m.alpha_ = np.asarray(arrays["alpha"], dtype=np.float64)
        m.refractory_bins_ = (np.asarray(arrays["refractory_bins"], dtype=np.int64)
                              if "refractory_bins" in arrays
                              else np.zeros(m.n_units, dtype=np.int64))
        if "stim_A" in arrays:
            m.stim_factors_ = (np.asarray(arrays["stim_A"]), np.asarray(arrays["stim_C"]))
        m.cv_, m.fit_info_ = [None] * m.n_units, []
        return m


def _sta(S, n, lags):
    """Spike-triggered average ``(lags, D)`` of frame counts ``n`` (F,): ``sum_f n_f
    S[f - tau] / sum n - mean S`` (zeros before the first frame)."""
    F, D = S.shape
    N = float(n.sum()) or 1.0
    out = np.zeros((lags, D))
    for j in range(min(lags, F)):
        out[j] = n[j:] @ S[:F - j] / N - S[:F - j].sum(0) / F
    return out


def _cross_validate(problem, y, o, groups, x0, K, scale, history_factor=1.0):
    """Blocked cross-validation of ``alpha`` over ``o['alphas']``, every unit at once
    (:func:`~neuromod.retina.bases.ridge_path_cv`, blocks of whole frames): each
    unit's live bins only (``problem.keep``, its absolute refractory periods left
    out, in the fits and in the scores). Returns each unit's alpha, the per-unit
    tables and a start for the final fit."""
    keep = getattr(problem, "keep", None)        # keep: refractory bins out

    def fit(w, a, x):
        return _solve(problem, y, w, o["link"], a, o["penalty"], groups, x, o["maxiter"],
                      max(o["tol"], 1e-6), scale, o["standardize"], history_factor)[0]

    def heldout(x, held):
        lam, _, loglam, _ = _link(problem.eta(x)[held], o["link"])
        ll = y[held] * loglam - lam
        return np.sum(ll if keep is None else ll * keep[held], axis=0)
    return ridge_path_cv(y.shape[0], o["n_folds"], o["alphas"], fit, heldout, x0,
                         problem.unit_of(), "heldout_ll_per_bin", block=K, weights=keep)
