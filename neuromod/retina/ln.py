"""Linear-nonlinear Poisson model behind the retina estimator interface.

Model
-----
Unit ``i`` fires ``r_i(f)`` spikes per frame during frame ``f``:

``x_i(f) = sum_{tau = 0}^{L-1} sum_d k_i[tau, d] s[f - tau, d]``,
``r_i(f) = g_i * softplus(x_i(f) + b_i)`` (``nonlinearity='softplus'``, default) or
``r_i(f) = exp(x_i(f) + b_i)`` (``'exp'``),

with ``s`` the stimulus standardised by its training mean and standard deviation
(zeros before the first frame), ``k_i`` a spatio-temporal filter over ``L`` frames
(``window`` seconds; lag 0 is the frame on screen), ``b_i`` an offset and ``g_i > 0``
a gain. The filter is ``k_i[tau, d] = sum_b B[tau, b] w_i[b, d]`` on ``n_basis``
raised cosines evenly spaced in time (:func:`~neuromod.retina.bases.linear_raised_cosine`,
8 by default) with a free coefficient per basis function and pixel, or a free
coefficient per lag and pixel (``n_basis=None``). Spikes are Poisson at the model
bin, the frame's rate spread evenly over its ``K = frame_dt / bin_size`` bins (the
stimulus is held over the frame); the model has no spike history.

Fitting (float64)
-----------------
1. The spike-triggered average ``sta[tau] = sum_f n_f s[f - tau] / sum_f n_f - mean``
   (``n_f`` the frame's spike count), on the basis by least squares, starts the
   filter, scaled so that ``x`` has unit standard deviation.
2. With the filter's direction fixed, its scale, the offset and the gain are fitted
   by maximum likelihood (three parameters, L-BFGS).
3. Filters, offsets and gains are then fitted jointly with L-BFGS-B (scipy) on the
   mean Poisson negative log-likelihood per frame plus ``alpha/2 ||w||^2``, starting
   from step 2 (the offset bounded to ``[-10, 10]``, :data:`B_BOUND`). Every unit is
   fitted in the same L-BFGS run (a separable sum of the units' objectives, so its
   minimum is each unit's own): one matrix product per pass for all units.
4. With each filter's direction from step 3, its scale, the offset and the gain are
   fitted again by maximum likelihood (unpenalised; from step 3's values, and also
   from a fresh start, the better kept, when step 3's offset ran into its bound): the
   ridge picks the direction, the likelihood alone the nonlinearity.

``alpha`` is given, or chosen per unit from ``alphas`` by cross-validation over
``n_folds`` blocks of frames contiguous in time (the largest held-out log-likelihood
summed over the blocks, each fold fitted by steps 3-4, walking the grid down from the
largest alpha), then refitted on every frame: a filter of ``n_basis * D`` (or ``L *
D``) coefficients overfits a short recording without it.

The bin-level Poisson likelihood of a rate held over a frame equals the frame-count
likelihood up to a term free of the parameters, so the fit works on frame counts.
The filter is applied through the stimulus seen through each basis function (or
lagged) as a ``(frames, n_basis * D)`` matrix when that takes at most 256 MB
(:data:`LAGGED_BYTES`), and lag by lag (``L`` products of the ``(frames, D)``
stimulus with a ``(D, units)`` matrix) above, so memory stays at the stimulus's own
size for long recordings.

Examples
--------
>>> import numpy as np
>>> from neuromod.retina.recording import Recording
>>> from neuromod.spikes import SpikeTrains
>>> rng = np.random.default_rng(0)
>>> S = rng.normal(size=(3000, 4))
>>> rate = 0.5 * np.log1p(np.exp(2.0 * S[:, 0] - 1.0))        # spikes per 10 ms frame
>>> n = rng.poisson(rate)
>>> t = np.repeat(np.arange(3000), n) * 0.01 + 0.005
>>> rec = Recording(0.01, S, S[:100], SpikeTrains(t, np.zeros(t.size, int), 0.0, 30.0,
...                 n_trains=1), SpikeTrains([], [], 0.0, 1.0, n_trains=1), 1, 1)
>>> m = LNPoisson(window=0.03, n_basis=None).fit(rec, bin_size=0.01)
>>> k = m.stimulus_filter()[0]
>>> int(np.argmax(np.abs(k).ravel()))                         # lag 0, pixel 0
0
"""
import math

import numpy as np

from neuromod.errors import ParameterError
from neuromod.retina.base import RetinaModel
from neuromod.retina.bases import (linear_raised_cosine, one_blas_thread, ridge_path_cv,
                                   stimulus_projection)

__all__ = ["LNPoisson", "NONLINEARITIES", "DEFAULT_ALPHAS", "LAGGED_BYTES", "B_BOUND"]

#: Output nonlinearities: ``softplus`` (with gain and offset) and ``exp``.
NONLINEARITIES = ("softplus", "exp")
#: The ridge grid (per frame) searched when ``alpha=None``.
DEFAULT_ALPHAS = (1.0, 1e-1, 1e-2, 1e-3)
#: Bound on the softplus offset ``b``: below about -10 ``g softplus(x + b)`` is
#: ``g e^b e^x``, and a ridge on the filter would drift the fit into that exponential
#: tail (gain and offset running off together) instead of shaping the nonlinearity.
B_BOUND = 10.0
#: Up to this many bytes the fit keeps the stimulus through each basis function as a
#: matrix ``(frames, n_basis * D)`` (one product per pass); above, it filters lag by lag.
LAGGED_BYTES = 256 * 1024 ** 2


class _Stimulus:
    """The standardised stimulus ``S`` (F, D) through the temporal basis ``B`` (L, nb):
    :meth:`apply` ``W`` (nb * D, U) -> ``x`` (F, U), :meth:`adjoint` (F, U) -> (nb * D,
    U)."""

    def __init__(self, S, B, matrix=None):
        self.S, self.B = S, B
        F, D = S.shape
        self.L, self.nb = B.shape
        self.X = None
        if matrix is None:
            matrix = 8 * F * self.nb * D <= LAGGED_BYTES
        if matrix:
            self.X = stimulus_projection(S, B).reshape(F, self.nb * D)

    def apply(self, W):
        if self.X is not None:
            return self.X @ W
        F, D = self.S.shape
        k = np.einsum("jb,bdu->jdu", self.B, W.reshape(self.nb, D, -1))
        x = np.zeros((F, k.shape[2]))
        for j in range(min(self.L, F)):                  # lags, not frames
            x[j:] += self.S[:F - j] @ k[j]
        return x

    def adjoint(self, G):
        if self.X is not None:
            return self.X.T @ G
        F, D = self.S.shape
        gk = np.zeros((self.L, D, G.shape[1]))
        for j in range(min(self.L, F)):
            gk[j] = self.S[:F - j].T @ G[j:]
        return np.einsum("jb,jdu->bdu", self.B, gk).reshape(self.nb * D, -1)


#: At most this many frames with spikes of a unit enter its preconditioner.
GRAM_FRAMES = 20000


def _preconditioners(S, n, alpha):
    """Per unit, ``P_u = L_u^-T`` and ``L_u^T`` with ``L_u L_u^T = X^T diag(n_u) X / F +
    alpha_u I``: the filter's rows ``X`` (the stimulus through the basis) at the
    frames where unit ``u`` spiked, weighted by its counts -- the Fisher information
    with the counts standing in for the rates, plus the ridge. In the coordinates
    ``phi_u = L_u^T w_u`` L-BFGS sees a well-conditioned problem however correlated
    the stimulus (a natural movie's pixels and lags are); the Gram matrices are
    computed once per fit."""
    F, D = S.S.shape
    U = n.shape[1]
    grams = getattr(S, "_grams", None)
    if grams is None:
        grams = []
        for u in range(U):
            f = np.flatnonzero(n[:, u])
            c = n[f, u]
            if f.size > GRAM_FRAMES:
                keep = np.linspace(0, f.size - 1, GRAM_FRAMES).astype(int)
                c = c[keep] * (c.sum() / c[keep].sum())
                f = f[keep]
            if S.X is not None:
                X = S.X[f]
            else:                                        # the lagged rows, then the basis
                lag = f[:, None] - np.arange(S.L)[None, :]
                rows = np.where((lag >= 0)[:, :, None], S.S[np.maximum(lag, 0)], 0.0)
                X = np.einsum("jb,fjd->fbd", S.B, rows).reshape(f.size, S.nb * D)
            grams.append((X * c[:, None]).T @ X / F)
        S._grams = grams
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (U,))
    p = S.nb * D
    P, Lt = np.empty((U, p, p)), np.empty((U, p, p))
    for u, G in enumerate(grams):
        d = np.diag(G)
        M = G + np.eye(p) * (alpha[u] + 1e-8 * float(d.mean()) + 1e-12)
        L = np.linalg.cholesky(M)
        P[u], Lt[u] = np.linalg.inv(L).T, L.T
    return P, Lt


def _rate(x, b, log_g, nonlinearity):
    """Rate per frame and its derivatives in ``x + b`` and ``log g`` (``x`` (F, U),
    ``b``, ``log_g`` (U,))."""
    if nonlinearity == "exp":
        r = np.exp(np.minimum(x + b, 50.0))
        return r, r, np.zeros_like(r)
    from scipy.special import expit
    g = np.exp(log_g)
    z = x + b
    sp = np.logaddexp(0.0, z)
    return g * sp, g * expit(z), g * sp


def _nll(x, n, w, b, log_g, nonlinearity):
    """Each unit's mean ``r - n log r`` over frames (weighted by ``w`` (F,), None: all
    1): ``(values (U,), d/dx (F, U), d/db (U,), d/dlog g (U,))``."""
    r, dr_dz, dr_dlg = _rate(x, b, log_g, nonlinearity)
    r = np.maximum(r, 1e-300)
    if w is None:
        F = x.shape[0]
        val = np.sum(r - n * np.log(r), axis=0) / F
        c = (1.0 - n / r) / F
    else:
        ws = float(w.sum())
        val = w @ (r - n * np.log(r)) / ws
        c = w[:, None] * (1.0 - n / r) / ws
    gz = c * dr_dz
    return val, gz, gz.sum(0), np.sum(c * dr_dlg, axis=0)


class LNPoisson(RetinaModel):
    """LN-Poisson model (see the module).

    Parameters
    ----------
    window : float
        Seconds of stimulus history in the filter (0.3), rounded to whole frames.
    n_basis : int, optional
        Raised cosines of the filter's time course (8, at most the lags); None: a free
        coefficient per lag.
    nonlinearity : {'softplus', 'exp'}
    alpha : float, optional
        Ridge on the filter's coefficients, per frame; None (default): chosen by
        cross-validation.
    alphas : sequence of float
        The grid searched when ``alpha`` is None (:data:`DEFAULT_ALPHAS`).
    n_folds : int
        Blocks of the cross-validation (3), contiguous in time.
    maxiter : int
        L-BFGS iterations of the joint fit (1000).
    """
    kind = "ln"

    def __init__(self, window=0.3, n_basis=8, nonlinearity="softplus", alpha=None,
                 alphas=DEFAULT_ALPHAS, n_folds=3, maxiter=1000):
        if nonlinearity not in NONLINEARITIES:
            raise ParameterError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, "
                                 f"got {nonlinearity!r}")
        if alpha is not None and not (math.isfinite(alpha) and alpha >= 0):
            raise ParameterError(f"alpha must be >= 0 or None, got {alpha!r}")
        alphas = tuple(float(a) for a in alphas)
        if not alphas or not all(math.isfinite(a) and a >= 0 for a in alphas):
            raise ParameterError("alphas must be a non-empty sequence of numbers >= 0")
        if not (window > 0 and maxiter >= 1 and n_folds >= 2):
            raise ParameterError("window must be > 0, maxiter >= 1 and n_folds >= 2")
        if n_basis is not None and int(n_basis) < 1:
            raise ParameterError(f"n_basis must be >= 1 or None, got {n_basis!r}")
        self.options = dict(window=float(window),
                            n_basis=None if n_basis is None else int(n_basis),
                            nonlinearity=nonlinearity,
                            alpha=None if alpha is None else float(alpha), alphas=list(alphas),
                            n_folds=int(n_folds), maxiter=int(maxiter))
        self.filter_ = None

    @property
    def n_lags(self):
        return max(1, int(round(self.options["window"] / self.frame_dt)))

    def basis(self):
        """``(n_lags, n_basis)``: row ``j`` is ``j`` frames back (the identity without
        a basis)."""
        nb = self.options["n_basis"]
        if nb is None:
            return np.eye(self.n_lags)
        return linear_raised_cosine(min(nb, self.n_lags), self.n_lags)

    # ------------------------------------------------------------ fitting
    def _fit(self, recording, counts, seed=0, epochs=None, checkpoint=None, resume=False,
             progress=False):
        o = self.options
        self.seed = int(seed)
        B = self.basis()
        S = _Stimulus(self.standardised(recording.train_stimulus), B)
        F, D = S.S.shape
        K = int(round(self.frame_dt / self.bin_size))
        y = np.asarray(counts, dtype=np.float64)
        U = y.shape[1]
        n = y[:F * K].reshape(F, K, U).sum(1)
        with one_blas_thread():
            start = self._start(S, n)
            if o["alpha"] is not None or len(o["alphas"]) == 1:
                alpha = np.full(U, o["alpha"] if o["alpha"] is not None else o["alphas"][0])
                self.cv_ = [None] * U
            else:
                alpha, self.cv_, start = self._cross_validate(S, n, start)
            theta, self.fit_info_ = self._fit_units(S, n, None, alpha, start)
        p = S.nb * D
        W = theta[:p * U].reshape(S.nb, D, U)
        self.coef_ = np.moveaxis(W, 2, 0).copy()                     # (U, nb, D)
        self.filter_ = np.einsum("jb,ubd->ujd", B, self.coef_)
        self.offset_ = theta[p * U:p * U + U].copy()
        self.gain_ = (np.exp(theta[p * U + U:]) if o["nonlinearity"] == "softplus"
                      else np.ones(U))
        self.alpha_ = np.asarray(alpha, dtype=np.float64)

    def _nonlinearity(self, x, n, w, starts):
        """Scale ``c``, offset and log gain of ``g softplus(c x + b)`` (or ``exp(c x +
        b)``) by maximum likelihood along one unit's filter output ``x`` (F,), from each
        start ``(c, b, log g)``; the best."""
        from scipy.optimize import minimize
        nl = self.options["nonlinearity"]
        x, n = x[:, None], n[:, None]

        def small(p):
            c, b, lg = p
            val, gz, gb, glg = _nll(c * x, n, w, np.array([b]), np.array([lg]), nl)
            return float(val[0]), np.array([float(gz[:, 0] @ x[:, 0]), float(gb[0]),
                                            float(glg[0]) if nl == "softplus" else 0.0])
        best = None
        for p0 in starts:
            res = minimize(small, np.asarray(p0, dtype=np.float64), jac=True,
                           method="L-BFGS-B", options=dict(maxiter=500, ftol=1e-14, gtol=1e-9),
                           bounds=[(None, None), (-B_BOUND, B_BOUND), (None, None)])
            if best is None or res.fun < best.fun:
                best = res
        return tuple(float(v) for v in best.x)

    def _fresh_start(self, n, w):
        """``(c, b, log g)`` for a filter output of unit standard deviation."""
        mean = max(float(n.mean() if w is None else np.dot(w, n) / w.sum()), 1e-6)
        if self.options["nonlinearity"] == "exp":
            return (0.5, math.log(mean), 0.0)
        return (0.5, 0.0, math.log(mean / math.log(2.0)))

    def _start(self, S, n):
        """Steps 1 and 2 for every unit: ``[W (nb * D, U), b (U), log g (U)]``."""
        F, D = S.S.shape
        U = n.shape[1]
        direct = _Stimulus(S.S, np.eye(S.L), matrix=False)         # lag by lag
        sta = (direct.adjoint(n) / np.maximum(n.sum(0), 1.0)
               - direct.adjoint(np.ones((F, 1))) / F).reshape(S.L, D * U)
        W = np.linalg.lstsq(S.B, sta, rcond=None)[0].reshape(S.nb * D, U)
        x = S.apply(W)
        W0, b0, lg0 = np.zeros_like(W), np.zeros(U), np.zeros(U)
        for u in range(U):
            sd = float(np.std(x[:, u]))
            if not sd > 0:
                b0[u], lg0[u] = self._fresh_start(n[:, u], None)[1:]
                continue
            c, b0[u], lg0[u] = self._nonlinearity(x[:, u] / sd, n[:, u], None,
                                                  [self._fresh_start(n[:, u], None)])
            W0[:, u] = W[:, u] * c / sd
        return np.r_[W0.ravel(), b0, lg0]

    def _fit_units(self, S, n, w, alpha, start):
        """Steps 3 and 4 for every unit (frames weighted by ``w``): ``theta`` and each
        unit's fit summary."""
        from scipy.optimize import minimize
        nl = self.options["nonlinearity"]
        U = n.shape[1]
        p = S.nb * S.S.shape[1]
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (U,))

        P, Lt = _preconditioners(S, n, alpha)           # W_u = P_u phi_u

        def split(theta):
            phi = theta[:p * U].reshape(p, U)
            return (np.einsum("upq,qu->pu", P, phi), theta[p * U:p * U + U],
                    theta[p * U + U:])

        def joint(theta):
            W, b, lg = split(theta)
            val, gz, gb, glg = _nll(S.apply(W), n, w, b, lg, nl)
            gW = S.adjoint(gz) + alpha * W
            total = float(val.sum()) + 0.5 * float(np.sum(alpha * W ** 2))
            gphi = np.einsum("uqp,qu->pu", P, gW)
            return total, np.r_[gphi.ravel(), gb, glg if nl == "softplus" else np.zeros(U)]
        x0 = np.asarray(start, dtype=np.float64).copy()
        x0[:p * U] = np.einsum("upq,qu->pu", Lt, x0[:p * U].reshape(p, U)).ravel()
        x0[p * U:p * U + U] = np.clip(x0[p * U:p * U + U], -B_BOUND, B_BOUND)
        res = minimize(joint, x0, jac=True, method="L-BFGS-B",
                       bounds=[(None, None)] * (p * U) + [(-B_BOUND, B_BOUND)] * U
                       + [(None, None)] * U,
                       options=dict(maxiter=self.options["maxiter"], maxcor=20, ftol=1e-13,
                                    gtol=1e-8))
        W, b, lg = (a.copy() for a in split(res.x))
        x = S.apply(W)
        for u in range(U):
            sd = float(np.std(x[:, u]))
            if sd > 0:
                starts = [(sd, b[u], lg[u])]
                if abs(b[u]) >= B_BOUND - 1e-6:          # run into the tail: start afresh too
                    starts.append(self._fresh_start(n[:, u], w))
                c, b[u], lg[u] = self._nonlinearity(x[:, u] / sd, n[:, u], w, starts)
                W[:, u] *= c / sd
        val, _, _, _ = _nll(S.apply(W), n, w, b, lg, nl)
        info = [{"objective": float(v), "n_iter": int(res.nit), "converged": bool(res.success),
                 "message": str(res.message)} for v in val]
        return np.r_[W.ravel(), b, lg], info

    def _cross_validate(self, S, n, start):
        """Blocked cross-validation of the ridge over ``alphas``, every unit at once
        (:func:`~neuromod.retina.bases.ridge_path_cv`, blocks of frames): each unit's
        alpha, the tables, and a start for the final fit."""
        o = self.options
        F, U = n.shape
        p = S.nb * S.S.shape[1]
        nl = o["nonlinearity"]

        def fit(w, a, x):
            return self._fit_units(S, n, w, a, x)[0]

        def heldout(x, held):
            r, _, _ = _rate(S.apply(x[:p * U].reshape(p, U)), x[p * U:p * U + U],
                            x[p * U + U:], nl)
            r = np.maximum(r[held], 1e-300)
            return np.sum(n[held] * np.log(r) - r, axis=0)
        unit = np.r_[np.tile(np.arange(U), p), np.arange(U), np.arange(U)]
        return ridge_path_cv(F, o["n_folds"], o["alphas"], fit, heldout, start, unit,
                             "heldout_ll_per_frame")

    # ------------------------------------------------------------ filters
    def stimulus_filter(self):
        """``(U, lags, D)``: ``k_i[tau, d]``, ``tau`` frames back, standardised units."""
        return self.filter_.copy()

    def filters(self):
        """The leading space-time component of each filter: ``'spatial'`` ``(U,
        *frame_shape)`` (signed so its largest entry is positive), ``'temporal'`` ``(U,
        lags)`` and ``'lag_dt'`` (the frame interval)."""
        sp, tm = [], []
        for k in self.filter_:
            Uk, s, Vk = np.linalg.svd(k, full_matrices=False)
            spatial, temporal = Vk[0], Uk[:, 0] * s[0]
            if spatial[np.argmax(np.abs(spatial))] < 0:
                spatial, temporal = -spatial, -temporal
            sp.append(spatial.reshape(self.frame_shape))
            tm.append(temporal)
        return {"spatial": np.array(sp), "temporal": np.array(tm), "lag_dt": self.frame_dt}

    # ------------------------------------------------------------ prediction
    def frame_rates(self, stimulus):
        """Expected spikes per frame ``(frames, units)``."""
        S = self.standardised(stimulus)
        U, L, D = self.filter_.shape
        if S.shape[1] != D:
            raise ParameterError(f"stimulus frames have {S.shape[1]} values; the model was "
                                 f"fitted on {D}")
        lagged = _Stimulus(S, np.eye(L), matrix=False)
        x = lagged.apply(np.moveaxis(self.filter_, 0, 2).reshape(L * D, U))
        r, _, _ = _rate(x, self.offset_, np.log(self.gain_), self.options["nonlinearity"])
        return r

    def _check_frame_dt(self, frame_dt):
        if frame_dt is not None and abs(frame_dt - self.frame_dt) > 1e-9 * self.frame_dt:
            raise ParameterError(f"frame_dt {frame_dt:g} s differs from the fitted model's "
                                 f"{self.frame_dt:g} s (its filter is in frames)")

    def intensity(self, stimulus, counts=None, frame_dt=None):
        """Expected spikes per bin ``(trials, bins, units)`` (one trial without
        ``counts``; the model has no history, so ``counts`` only sets the trials)."""
        self._check_frame_dt(frame_dt)
        K = int(round(self.frame_dt / self.bin_size))
        lam = np.repeat(self.frame_rates(stimulus), K, axis=0) / K
        R = 1 if counts is None else (1 if np.ndim(counts) == 2 else np.shape(counts)[0])
        return np.broadcast_to(lam, (R,) + lam.shape).copy()

    def sample(self, stimulus, n_trials, seed=0, frame_dt=None):
        """Poisson counts ``(n_trials, bins, units)`` at the model bin."""
        lam = self.intensity(stimulus, frame_dt=frame_dt)[0]
        return np.random.default_rng(seed).poisson(lam, (int(n_trials),) + lam.shape)

    # ------------------------------------------------------------ saving
    def config(self):
        return {**self.options, "seed": self.seed, "stim_mean": self.stim_mean,
                "stim_std": self.stim_std, "frame_shape": list(self.frame_shape)}

    def arrays(self):
        return {"filter": self.filter_, "coef": self.coef_, "offset": self.offset_,
                "gain": self.gain_, "alpha": self.alpha_}

    @classmethod
    def from_saved(cls, config, arrays):
        m = cls(**{k: config[k] for k in ("window", "n_basis", "nonlinearity", "alpha",
                                          "alphas", "n_folds", "maxiter")})
        m.seed, m.stim_mean, m.stim_std = config["seed"], config["stim_mean"], config["stim_std"]
        m.frame_shape = tuple(config["frame_shape"])
        for key in ("filter", "coef", "offset", "gain", "alpha"):
            setattr(m, key + "_", np.asarray(arrays[key], dtype=np.float64))
        m.cv_, m.fit_info_ = [None] * m.filter_.shape[0], []
        return m
