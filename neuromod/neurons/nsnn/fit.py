r"""Fitting noisy spiking neurons (NSNN) to recorded spike trains.

The network is a population of ``N`` :func:`~neuromod.neurons.nsnn.noisy_lif`
neurons (hard reset to 0) driven through weights ``W`` (``N x D``) and biases ``b``
by a stimulus of ``D`` features per step, ``x_t``. With the recorded spikes
``s_t`` driving the reset (teacher forcing) the membrane before the threshold of
step ``t`` is

.. math:: u_t = \beta\, u_{t-1} (1 - s_{t-1}) + W x_t + b, \qquad u_{-1} = 0,

and neuron ``n`` spikes in step ``t`` with probability
:math:`p_{tn} = F((u_{tn} - \theta)/\sigma)`, ``F`` the CDF of the noise family.

:func:`fit_spikes`
    Maximises the single-trial Bernoulli log-likelihood of the recorded spikes,

    .. math:: \ell(W, b) = \sum_{r, t, n} s_{rtn} \log p_{rtn}
              + (1 - s_{rtn}) \log (1 - p_{rtn}).

    Given the recorded spikes, :math:`u_{tn} = w_n \cdot z_{tn}` is linear in the
    parameters :math:`w_n = (W_n, b_n)`, with the reset-filtered features
    :math:`z_{tn} = \beta (1 - s_{t-1,n}) z_{t-1,n} + (x_t, 1)`. Each neuron's
    term is therefore a binary GLM -- probit for Gaussian noise, logit for
    logistic noise -- on the features ``z``, with offset :math:`-\theta/\sigma` and
    scale :math:`1/\sigma`: a concave function of :math:`w_n` (``log F`` and
    ``log(1 - F)`` are concave), fitted neuron by neuron by Newton's method with a
    backtracking line search in float64. ``beta``, ``theta`` and ``sigma`` are fixed
    (known); only ``W`` and ``b`` are fitted.
:func:`fit_psth`
    The deterministic twin (:func:`~neuromod.neurons.nsnn.discrete_lif`: spike
    when ``u > theta``, reset to 0, no noise) with weights fitted so that its spike
    train, smoothed, matches the smoothed trial-averaged PSTH (mean squared error,
    surrogate-gradient descent through time). The same stimulus always gives it the
    same spikes: its trial-to-trial variability is zero.

Both return a :class:`FitResult`, whose :meth:`~FitResult.sample` runs the fitted
network freely (its own spikes drive the reset) on a new stimulus, through the
package's Torch neuron layer (:class:`~neuromod.backends.torch_backend.NeuronLayer`):
the equations are those of the model definitions. :func:`simulate` does the same
for given weights (e.g. ground truth).

Arrays: a stimulus is ``(T, D)`` (steps x features); spikes are ``(T, N)`` or
``(n_trials, T, N)`` arrays of 0/1 at the same steps. Everything is per step and
dimensionless; ``dt`` (seconds) only labels the steps.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(20000, 3))
>>> W = np.array([[0.3, -0.2, 0.1], [-0.1, 0.25, 0.2]])
>>> spikes = simulate(x, W, bias=[0.1, 0.12], beta=0.8, n_trials=1, seed=1)
>>> spikes.shape
(1, 20000, 2)
>>> fit = fit_spikes(x, spikes, beta=0.8)
>>> fit.converged, bool(np.abs(fit.weights - W).max() < 0.05)
(True, True)
>>> fit.sample(x[:100], n_trials=4, seed=2).shape
(4, 100, 2)
"""
import math
from dataclasses import dataclass, field

import numpy as np

from neuromod.errors import ParameterError
from neuromod.limits import check_value

__all__ = ["FitResult", "fit_spikes", "fit_psth", "simulate", "teacher_forced_membrane",
           "log_likelihood", "FIT_NOISES"]

#: Noise families :func:`fit_spikes` fits: those whose ``log F`` is smooth and concave
#: on the whole line (probit and logit GLMs). The bounded families (triangular,
#: uniform) give a log-likelihood of ``-inf`` wherever a spike falls outside their
#: support.
FIT_NOISES = ("gaussian", "logistic")

_LOGISTIC_S = math.sqrt(3.0) / math.pi      # unit-variance logistic scale


# ------------------------------------------------------------------ checks
def _neuron_params(beta, theta, sigma=None, noise=None):
    beta = check_value("beta", beta, "unit_interval")
    theta = check_value("theta", theta)
    if sigma is not None:
        sigma = check_value("sigma", sigma, "positive")
    if noise is not None and noise not in FIT_NOISES:
        from neuromod.backends.noise import family
        family(noise)               # an unknown name: the package's one-line error
        raise ParameterError(f"noise must be one of {', '.join(FIT_NOISES)} to fit, "
                             f"got {noise!r}")
    return beta, theta, sigma


def _stimulus(stimulus):
    if hasattr(stimulus, "detach"):
        stimulus = stimulus.detach().cpu().numpy()
    x = np.asarray(stimulus, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ParameterError(f"stimulus must be (steps, features), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ParameterError("stimulus must be finite")
    return x


def _spikes(spikes, steps=None):
    if hasattr(spikes, "detach"):
        spikes = spikes.detach().cpu().numpy()
    s = np.asarray(spikes)
    if s.ndim == 2:
        s = s[None]
    if s.ndim != 3 or 0 in s.shape:
        raise ParameterError(f"spikes must be (steps, units) or (trials, steps, units), "
                             f"got shape {s.shape}")
    if s.dtype == bool:
        s = s.astype(np.float64)
    if not np.all((s == 0) | (s == 1)):
        raise ParameterError("spikes must be binary (0/1 per step)")
    if steps is not None and s.shape[1] != steps:
        raise ParameterError(f"spikes have {s.shape[1]} steps, the stimulus {steps}")
    return s.astype(np.float64)


def _weights(weights, bias, n_features, n_units=None):
    W = np.asarray(weights, dtype=np.float64)
    if W.ndim == 1:
        W = W[None]
    if W.ndim != 2 or W.shape[1] != n_features or (n_units is not None and W.shape[0] != n_units):
        want = f"({'units' if n_units is None else n_units}, {n_features})"
        raise ParameterError(f"weights must be {want}, got shape {W.shape}")
    if bias is None:
        b = np.zeros(W.shape[0])
    elif np.ndim(bias) == 0:
        b = np.full(W.shape[0], float(bias))
    else:
        b = np.asarray(bias, dtype=np.float64)
    if b.shape != (W.shape[0],):
        raise ParameterError(f"bias must be ({W.shape[0]},), got shape {b.shape}")
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        raise ParameterError("weights and bias must be finite")
    return W, b


# ------------------------------------------------------------------ teacher forcing
def _filtered(x, beta):
    """``Y_t = beta Y_{t-1} + (x_t, 1)``, ``Y_{-1} = 0``: the features filtered by the
    leak without any reset, (T, D + 1)."""
    from scipy.signal import lfilter
    xa = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    if beta == 0.0:
        return xa
    return lfilter([1.0], [1.0, -beta], xa, axis=0)


def _last_spike(s):
    """Index of the last spike strictly before each step (-1: none), along axis 0."""
    T = s.shape[0]
    idx = np.where(s > 0, np.arange(T).reshape((T,) + (1,) * (s.ndim - 1)), -1)
    last = np.maximum.accumulate(idx, axis=0)
    out = np.full_like(last, -1)
    out[1:] = last[:-1]
    return out


def _features(Y, beta, s_n):
    r"""Reset-filtered features of one unit, ``(trials * T, D + 1)``: with ``L`` the
    last spike before ``t``, :math:`z_t = Y_t - \beta^{t - L} Y_L` (the leak's
    memory of the steps up to the reset removed; ``z_t = Y_t`` before any spike)."""
    T = Y.shape[0]
    t = np.arange(T)
    out = []
    for s_r in s_n:
        L = _last_spike(s_r)
        Z = Y.copy()
        has = L >= 0
        if has.any():
            k = (t - L)[has].astype(np.float64)
            Z[has] -= (beta ** k)[:, None] * Y[L[has]]
        out.append(Z)
    return np.concatenate(out, axis=0)


def teacher_forced_membrane(stimulus, spikes, weights, bias=None, beta=0.5):
    r"""The membrane of a :func:`~neuromod.neurons.nsnn.noisy_lif` network (reset to 0)
    with the recorded spikes driving the reset.

    :math:`u_t = \beta u_{t-1} (1 - s_{t-1}) + W x_t + b` (:math:`u_{-1} = 0`), the
    potential of step ``t`` before its threshold: the neuron fires in step ``t``
    with probability ``F((u_t - theta)/sigma)``; after the step the model's state
    is ``u_t (1 - s_t)``.

    Parameters
    ----------
    stimulus : array_like (T, D)
        Features per step.
    spikes : array_like (T, N) or (n_trials, T, N)
        Recorded 0/1 spikes.
    weights : array_like (N, D)
    bias : float or array_like (N,), optional
        Default 0.
    beta : float
        Per-step leak in [0, 1].

    Returns
    -------
    numpy.ndarray (n_trials, T, N)

    Examples
    --------
    >>> teacher_forced_membrane([[1.0], [1.0], [1.0]], [[0], [1], [0]], [[0.5]], beta=0.5)[0, :, 0]
    array([0.5 , 0.75, 0.5 ])
    """
    beta, _, _ = _neuron_params(beta, 0.0)
    x = _stimulus(stimulus)
    s = _spikes(spikes, x.shape[0])
    W, b = _weights(weights, bias, x.shape[1], s.shape[2])
    Y = _filtered(x, beta)
    wb = np.concatenate([W, b[:, None]], axis=1)
    u = np.empty(s.shape)
    for n in range(s.shape[2]):
        u[:, :, n] = (_features(Y, beta, s[:, :, n]) @ wb[n]).reshape(s.shape[:2])
    return u


# ------------------------------------------------------------------ likelihood
def _terms(eta, s, noise):
    r"""Per-element log-likelihood of the spike ``s`` at standardised distance ``eta``
    and its first two derivatives in ``eta``: ``s log F(eta) + (1 - s) log F(-eta)``
    (both families are symmetric, ``1 - F(eta) = F(-eta)``)."""
    sign = 2.0 * s - 1.0
    y = sign * eta
    if noise == "gaussian":
        from scipy.special import log_ndtr
        ll = log_ndtr(y)
        lam = np.exp(-0.5 * y * y - 0.5 * math.log(2.0 * math.pi) - ll)   # phi(y)/Phi(y)
        d1 = sign * lam
        d2 = -lam * (y + lam)
    else:
        from scipy.special import expit
        a = y / _LOGISTIC_S
        ll = -np.logaddexp(0.0, -a)
        d1 = sign * expit(-a) / _LOGISTIC_S
        d2 = -expit(a) * expit(-a) / (_LOGISTIC_S * _LOGISTIC_S)
    return ll, d1, d2


def log_likelihood(stimulus, spikes, weights, bias=None, beta=0.5, theta=1.0, sigma=0.3,
                   noise="gaussian", grad=False):
    r"""The Bernoulli log-likelihood of recorded spikes under a
    :func:`~neuromod.neurons.nsnn.noisy_lif` network, the membrane teacher-forced by
    the spikes (:func:`teacher_forced_membrane`).

    .. math:: \ell = \sum_{r, t, n} s_{rtn} \log F(\eta_{rtn})
              + (1 - s_{rtn}) \log(1 - F(\eta_{rtn})),
              \qquad \eta = (u - \theta)/\sigma.

    Parameters
    ----------
    stimulus, spikes, weights, bias, beta :
        As :func:`teacher_forced_membrane`.
    theta : float
        Threshold.
    sigma : float
        Noise standard deviation (> 0).
    noise : {'gaussian', 'logistic'}
    grad : bool
        Also return the gradient ``(dW (N, D), db (N,))``.

    Returns
    -------
    float, or (float, (numpy.ndarray, numpy.ndarray))
        The total over trials, steps and units, in nats.

    Examples
    --------
    >>> ll = log_likelihood([[0.0]], [[0]], [[0.0]], bias=[1.0], beta=0.5)   # u = theta
    >>> round(ll, 6) == round(float(np.log(0.5)), 6)
    True
    """
    beta, theta, sigma = _neuron_params(beta, theta, sigma, noise)
    x = _stimulus(stimulus)
    s = _spikes(spikes, x.shape[0])
    W, b = _weights(weights, bias, x.shape[1], s.shape[2])
    Y = _filtered(x, beta)
    total, gW, gb = 0.0, np.zeros_like(W), np.zeros_like(b)
    for n in range(s.shape[2]):
        Z = _features(Y, beta, s[:, :, n])
        w = np.append(W[n], b[n])
        ll, d1, _ = _terms((Z @ w - theta) / sigma, s[:, :, n].ravel(), noise)
        total += float(ll.sum())
        if grad:
            g = Z.T @ d1 / sigma
            gW[n], gb[n] = g[:-1], g[-1]
    return (total, (gW, gb)) if grad else total


def _newton(Z, s, theta, sigma, noise, l2, fit_bias, max_iter, tol):
    """Maximise one unit's penalised log-likelihood; returns (w, nll, n_iter, converged)."""
    p = Z.shape[1]
    pen = np.full(p, float(l2))
    pen[-1] = 0.0
    if not fit_bias:
        Z = Z[:, :-1]
        pen = pen[:-1]
        p -= 1
    rate = min(max(s.mean(), 1e-6), 1 - 1e-6)
    w = np.zeros(p)
    if fit_bias:
        # start where the bias alone gives the recorded rate on the leak-free membrane
        from neuromod.backends.noise import family
        w[-1] = theta + sigma * float(family(noise).ppf(np.float64(rate)))
        w[-1] /= max(float(Z[:, -1].mean()), 1e-12)

    def objective(w):
        ll, d1, d2 = _terms((Z @ w - theta) / sigma, s, noise)
        return -float(ll.sum()) + 0.5 * float(pen @ (w * w)), d1, d2

    f, d1, d2 = objective(w)
    converged = False
    it = 0
    for it in range(1, int(max_iter) + 1):
        g = -(Z.T @ d1) / sigma + pen * w
        H = (Z * (-d2)[:, None]).T @ Z / (sigma * sigma) + np.diag(pen)
        H[np.diag_indices(p)] += 1e-12 * max(1.0, float(np.abs(np.diag(H)).max()))
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, g, rcond=None)[0]
        decrement = float(g @ step)
        if decrement < tol * max(1.0, abs(f)):
            converged = True
            break
        t = 1.0
        while True:
            w_new = w - t * step
            f_new, d1_new, d2_new = objective(w_new)
            if np.isfinite(f_new) and f_new <= f - 0.25 * t * decrement:
                break
            t *= 0.5
            if t < 1e-10:
                break
        if t < 1e-10:
            break
        w, f, d1, d2 = w_new, f_new, d1_new, d2_new
    if not fit_bias:
        w = np.append(w, 0.0)
    return w, f, it, converged


# ------------------------------------------------------------------ results
@dataclass
class FitResult:
    """A fitted network of :func:`~neuromod.neurons.nsnn.noisy_lif` neurons (or of their
    deterministic twin, ``deterministic=True``).

    Attributes
    ----------
    weights : numpy.ndarray (N, D)
        Stimulus weights (drive per unit of each feature, per step).
    bias : numpy.ndarray (N,)
        Constant drive per step.
    beta, theta : float
        Per-step leak and threshold (fixed, not fitted).
    sigma : float or None
        Noise standard deviation (None for the deterministic twin).
    noise : str or None
        Noise family (None for the deterministic twin).
    nll_per_step : float
        :func:`fit_spikes`: the final negative log-likelihood per trial, step and
        unit, in nats (penalty excluded). :func:`fit_psth`: the final mean squared
        error of the smoothed spike trains (spikes per step, squared).
    n_iter : int
        Newton iterations (the largest over units) or gradient steps.
    converged : bool
        Every unit met the tolerance (always True for :func:`fit_psth`, which runs a
        fixed number of steps).
    deterministic : bool
    history : list of float
        :func:`fit_psth`: the loss per gradient step.
    """
    weights: np.ndarray
    bias: np.ndarray
    beta: float
    theta: float
    sigma: "float | None"
    noise: "str | None"
    nll_per_step: float
    n_iter: int
    converged: bool
    deterministic: bool = False
    history: list = field(default_factory=list)

    def sample(self, stimulus, n_trials=1, seed=0, dt=1e-3):
        """Run the fitted network freely (its own spikes drive the reset) on
        ``stimulus`` (T, D) for ``n_trials`` trials with fresh noise: spikes
        ``(n_trials, T, N)`` (uint8). Seeded: the same ``seed`` gives the same spikes.
        The deterministic twin gives ``n_trials`` identical trials."""
        return simulate(stimulus, self.weights, self.bias, beta=self.beta, theta=self.theta,
                        sigma=self.sigma, noise=self.noise, n_trials=n_trials, seed=seed,
                        deterministic=self.deterministic, dt=dt)

    def membrane(self, stimulus, spikes):
        """:func:`teacher_forced_membrane` of the fitted weights."""
        return teacher_forced_membrane(stimulus, spikes, self.weights, self.bias, self.beta)

    def log_likelihood(self, stimulus, spikes):
        """:func:`log_likelihood` of spikes under the fitted network (stochastic only)."""
        if self.deterministic:
            raise ParameterError("a deterministic network has no spike likelihood")
        return log_likelihood(stimulus, spikes, self.weights, self.bias, self.beta,
                              self.theta, self.sigma, self.noise)


def simulate(stimulus, weights, bias=None, beta=0.5, theta=1.0, sigma=0.3, noise="gaussian",
             n_trials=1, seed=0, deterministic=False, dt=1e-3):
    """Spikes of a network of :func:`~neuromod.neurons.nsnn.noisy_lif` neurons (reset to 0)
    driven by ``W x_t + b``, run freely on the package's Torch neuron layer
    (:class:`~neuromod.backends.torch_backend.NeuronLayer`, float64).

    Parameters
    ----------
    stimulus : array_like (T, D)
    weights : array_like (N, D)
    bias : float or array_like (N,), optional
    beta, theta, sigma, noise :
        Neuron parameters (any noise family of :mod:`neuromod.backends.noise`).
    n_trials : int
        Repeats of the stimulus, each with fresh noise.
    seed : int
        Seed of the firing variates (``torch.Generator().manual_seed(seed)``).
    deterministic : bool
        Run the deterministic twin (:func:`~neuromod.neurons.nsnn.discrete_lif`,
        ``sigma`` and ``noise`` ignored) instead.
    dt : float
        Step length in seconds (labels only).

    Returns
    -------
    numpy.ndarray (n_trials, T, N) of uint8

    Examples
    --------
    >>> s = simulate(np.ones((1000, 1)), [[0.3]], beta=0.8, n_trials=3, seed=0)
    >>> s.shape, bool(0.05 < s.mean() < 0.5)
    ((3, 1000, 1), True)
    """
    import torch
    from neuromod.backends.torch_backend import NeuronLayer
    from neuromod.neurons.nsnn import discrete_lif, noisy_lif
    x = _stimulus(stimulus)
    W, b = _weights(weights, bias, x.shape[1])
    n_trials = int(n_trials)
    if n_trials < 1:
        raise ParameterError(f"n_trials must be >= 1, got {n_trials}")
    if deterministic:
        beta, theta, _ = _neuron_params(beta, theta)
        model = discrete_lif("zero", beta=beta, theta=theta)
    else:
        beta, theta, sigma = _neuron_params(beta, theta, sigma)
        model = noisy_lif(noise, "zero", beta=beta, theta=theta, sigma=sigma)
    layer = NeuronLayer(model, W.shape[0], dt=float(dt), drive="x", dtype=torch.float64)
    drive = torch.from_numpy(x @ W.T + b).T.unsqueeze(0)               # (1, N, T)
    drive = drive.expand(n_trials, -1, -1).contiguous()
    with torch.no_grad():
        if deterministic:
            s = layer(drive)
        else:
            s = layer(drive, generator=torch.Generator().manual_seed(int(seed)))
    return s.permute(0, 2, 1).numpy().astype(np.uint8)


# ------------------------------------------------------------------ fits
def fit_spikes(stimulus, spikes, beta=0.5, theta=1.0, sigma=0.3, noise="gaussian", bias=True,
               l2=0.0, max_iter=100, tol=1e-12):
    r"""Fit the weights of a :func:`~neuromod.neurons.nsnn.noisy_lif` network to
    recorded spike trains by maximum likelihood.

    Maximises :func:`log_likelihood` (single-trial Bernoulli likelihood, the membrane
    teacher-forced by the recorded spikes) minus :math:`\frac{l_2}{2} \|W\|^2`.
    Given the spikes the membrane is linear in :math:`(W_n, b_n)`,
    :math:`u_{tn} = W_n \cdot z^x_{tn} + b_n z^1_{tn}` with
    :math:`z_{tn} = \beta (1 - s_{t-1,n}) z_{t-1,n} + (x_t, 1)`, so each unit is a
    probit (Gaussian noise) or logit (logistic noise) GLM,
    :math:`P(s_{tn} = 1) = F((w_n \cdot z_{tn} - \theta)/\sigma)`, whose
    log-likelihood is concave in :math:`w_n`: the maximum is global and Newton's
    method (float64, backtracking line search) finds it in a few iterations.

    Parameters
    ----------
    stimulus : array_like (T, D)
        Input features per step (e.g. stimulus channels), the same for every trial.
    spikes : array_like (T, N) or (n_trials, T, N)
        Recorded spikes, 0/1 per step, at the steps of ``stimulus``.
    beta : float
        Per-step leak in [0, 1] (known).
    theta : float
        Threshold (known).
    sigma : float
        Noise standard deviation, > 0 (known).
    noise : {'gaussian', 'logistic'}
    bias : bool
        Fit a constant drive per unit (otherwise 0).
    l2 : float
        Ridge penalty on ``W`` (not on the bias), >= 0.
    max_iter : int
        Newton iterations per unit at most.
    tol : float
        Stop when the Newton decrement ``g . H^-1 g`` is below ``tol * |nll|``.

    Returns
    -------
    FitResult
        ``weights (N, D)``, ``bias (N,)``, ``nll_per_step`` (nats per trial, step and
        unit), ``converged``; :meth:`FitResult.sample` runs the fitted network.

    Raises
    ------
    ParameterError
        Bad shapes, non-binary spikes, ``sigma <= 0``, ``beta`` outside [0, 1], a
        noise family other than gaussian/logistic, or a unit that never fires or
        fires in every step (no finite maximum).

    Examples
    --------
    See the module docstring.
    """
    beta, theta, sigma = _neuron_params(beta, theta, sigma, noise)
    l2 = check_value("l2", l2, "non_negative")
    if int(max_iter) < 1:
        raise ParameterError(f"max_iter must be >= 1, got {max_iter}")
    x = _stimulus(stimulus)
    s = _spikes(spikes, x.shape[0])
    R, T, N = s.shape
    counts = s.sum(axis=(0, 1))
    for n in range(N):
        if counts[n] == 0 or counts[n] == R * T:
            what = "never fires" if counts[n] == 0 else "fires in every step"
            raise ParameterError(f"unit {n} {what}: its likelihood has no finite maximum")
    Y = _filtered(x, beta)
    W = np.zeros((N, x.shape[1]))
    b = np.zeros(N)
    total, n_iter, converged = 0.0, 0, True
    for n in range(N):
        Z = _features(Y, beta, s[:, :, n])
        w, f, it, ok = _newton(Z, s[:, :, n].ravel(), theta, sigma, noise, l2, bool(bias),
                               max_iter, tol)
        W[n], b[n] = w[:-1], w[-1]
        total += f - 0.5 * l2 * float(w[:-1] @ w[:-1])
        n_iter, converged = max(n_iter, it), converged and ok
    return FitResult(W, b, beta, theta, sigma, noise, total / (R * T * N), n_iter, converged)


def _smoother(width):
    """A normalised Gaussian kernel of s.d. ``width`` steps (to +-4 s.d.) as a conv1d weight."""
    import torch
    h = max(1, int(math.ceil(4 * width)))
    k = torch.exp(-0.5 * (torch.arange(-h, h + 1, dtype=torch.float64) / width) ** 2)
    return (k / k.sum()).reshape(1, 1, -1), h


def fit_psth(stimulus, spikes, beta=0.5, theta=1.0, bias=True, smooth=5.0, n_iter=300,
             lr=0.02, alpha=None, init_scale=0.1, seed=0):
    r"""Fit a deterministic LIF network of the same form to the trial-averaged PSTH.

    The network is :func:`~neuromod.neurons.nsnn.discrete_lif` (``u <- beta u +
    W x_t + b``, spike when ``u > theta``, reset to 0; no noise). With ``K`` a
    Gaussian kernel of s.d. ``smooth`` steps, the loss is the mean squared error

    .. math:: L(W, b) = \frac{1}{TN} \sum_{t, n} \big((K * s)_{tn} - (K * \bar y)_{tn}\big)^2

    between its smoothed spike train ``s`` and the smoothed PSTH ``ybar`` (the
    recorded spikes averaged over trials), minimised by Adam through time with the
    fast-sigmoid surrogate gradient of the threshold (the reset detached). The
    weights start from seeded Gaussian values of s.d. ``init_scale / sqrt(D)`` and
    the bias at the rheobase ``theta (1 - beta)``; the weights of the lowest loss
    seen are returned.

    Parameters
    ----------
    stimulus, spikes, beta, theta, bias :
        As :func:`fit_spikes`.
    smooth : float
        Kernel s.d. in steps (> 0).
    n_iter : int
        Gradient steps (full batch).
    lr : float
        Adam learning rate.
    alpha : float, optional
        Surrogate steepness (default: ``1/0.3``, the slope scale of NSNN's default
        noise).
    init_scale : float
    seed : int
        Seed of the initial weights.

    Returns
    -------
    FitResult
        ``deterministic=True``; ``nll_per_step`` holds the final loss and ``history``
        the loss per step.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2000, 2))
    >>> y = simulate(x, [[0.3, -0.2]], bias=[0.12], beta=0.8, n_trials=5, seed=0)
    >>> det = fit_psth(x, y, beta=0.8, n_iter=20)
    >>> det.deterministic, det.history[-1] < det.history[0]
    (True, True)
    >>> s = det.sample(x, n_trials=3)
    >>> bool((s == s[0]).all())
    True
    """
    import torch
    from neuromod.backends.torch_backend import NeuronLayer
    from neuromod.neurons.nsnn import discrete_lif
    beta, theta, _ = _neuron_params(beta, theta)
    smooth = check_value("smooth", smooth, "positive")
    lr = check_value("lr", lr, "positive")
    if int(n_iter) < 1:
        raise ParameterError(f"n_iter must be >= 1, got {n_iter}")
    x = _stimulus(stimulus)
    s = _spikes(spikes, x.shape[0])
    T, D = x.shape
    N = s.shape[2]
    kernel, h = _smoother(smooth)
    conv = torch.nn.functional.conv1d

    def smoothed(a):                                    # (C, T) -> (C, T)
        return conv(a.unsqueeze(1), kernel, padding=h).squeeze(1)

    target = smoothed(torch.from_numpy(s.mean(axis=0).T.copy()))         # (N, T)
    alpha = 1.0 / 0.3 if alpha is None else check_value("alpha", alpha, "positive")
    layer = NeuronLayer(discrete_lif("zero", beta=beta, theta=theta), N, dt=1e-3, drive="x",
                        surrogate="fast_sigmoid", alpha=alpha, dtype=torch.float64)
    g = torch.Generator().manual_seed(int(seed))
    W = (torch.randn(N, D, generator=g, dtype=torch.float64) * init_scale / math.sqrt(D))
    W.requires_grad_()
    b = torch.full((N,), theta * (1.0 - beta), dtype=torch.float64, requires_grad=bool(bias))
    params = [W, b] if bias else [W]
    opt = torch.optim.Adam(params, lr=lr)
    xt = torch.from_numpy(x)
    history, best = [], (math.inf, None)
    for _ in range(int(n_iter)):
        opt.zero_grad()
        drive = (xt @ W.T + b).T.unsqueeze(0)                                # (1, N, T)
        out = layer(drive)[0]
        loss = ((smoothed(out) - target) ** 2).mean()
        loss.backward()
        value = float(loss.detach())
        history.append(value)
        if value < best[0]:
            best = (value, (W.detach().clone(), b.detach().clone()))
        opt.step()
    with torch.no_grad():                # the loss of the last step's update
        drive = (xt @ W.T + b).T.unsqueeze(0)
        value = float(((smoothed(layer(drive)[0]) - target) ** 2).mean())
    if value < best[0]:
        best = (value, (W.detach().clone(), b.detach().clone()))
    Wb, bb = best[1]
    return FitResult(Wb.numpy().copy(), bb.numpy().copy(), beta, theta, None, None, best[0],
                     int(n_iter), True, deterministic=True, history=history)
