"""A simulated retina: ganglion cells with centre-surround receptive fields, contrast
gain control and a refractory, bursting spike generator, watching a naturalistic movie.

It is the ground truth of the embedded recording (:func:`neuromod.retina.recording.embedded`)
and deliberately none of the model classes fitted in :mod:`neuromod.retina`
(LN-Poisson, GLM, CNN, TeCoS-LVM): a model can only approximate it.

Stages, for each cell ``u`` (parameters drawn from the seed, see :class:`SimulatedRetina`):

1. **Movie** (:meth:`SimulatedRetina.movie`). Scenes are periodic 64 x 64 pixel images
   with a 1/f amplitude spectrum (power ~ 1/f^2, as natural images), zero mean and an
   RMS contrast of their own (log-normal, median 0.3). The ``size x size`` window
   fixates a scene for a gamma-distributed time (mean 0.6 s), drifting meanwhile as a
   random walk (0.15 pixel per frame, bilinear interpolation); then it jumps
   (a saccade) to a random position of the same or (probability 0.4) a new scene.
   Frames are quantised to 8 bits: luminance ``v`` in 0..255, contrast
   ``(v - 128) / 128``.
2. **Linear receptive field.** A difference of Gaussians at a scattered position
   (centre sigma 0.8-1.2 pixels, surround 2.2 times wider, surround weight 0.6-0.85),
   ON (even ``u``) or OFF (odd ``u``), times a biphasic temporal filter (difference of
   two gamma kernels, n = 3, time constants 10-16 ms and 1.6 times that), applied at
   1 ms to the movie held over each frame: the drive ``x_u(t)``.
3. **Contrast gain control.** The local contrast energy ``c_u(t)``: the squared
   temporal contrast of each pixel (the mean temporal filter), pooled by a Gaussian of
   2 pixels around the cell and low-passed with a time constant of 150 ms. The drive is
   divided: ``y_u = x_u / (1 + sqrt(c_u) / c_half)`` (``c_half`` the median of
   ``sqrt(c_u)`` on a calibration movie, so the gain halves at typical contrast).
4. **Rectification.** ``r_u(t) = A_u [y_u - theta_u]_+ + 0.5 Hz``, ``theta_u`` the
   65-85 % quantile of ``y_u`` on the calibration movie and ``A_u`` set for a mean
   drive of 25-55 Hz there (the spike generator brings the rates down to 10-20 Hz).
5. **Spike generator** at 1 ms, per cell and trial, from uniform noise alone:
   conditional intensity ``r_u(t) * R(s) * exp(w_adp * ADP(s) - w_ahp * AHP)``, with
   ``s`` the time since the last spike: absolute refractoriness (no spike in the 3 ms
   after one, so every ISI is >= 4 ms), relative refractoriness
   ``R(s) = 1 - exp(-(s - 3 ms) / 3 ms)``, an after-depolarisation (difference of
   exponentials, 2 and 8 ms, peak 1, weight 1.5: bursts of a few spikes 4-8 ms apart)
   and an after-hyperpolarisation summed over past spikes (30 ms, weight 1, which
   ends the bursts). A spike falls in a bin with probability ``1 - exp(-lambda dt)``.

The training movie, the test clip, the calibration movie, the cells and the spike
noise of training and test each have their own random stream
(``numpy.random.SeedSequence(seed).spawn``), all drawn in time order: a shorter
simulation is an exact prefix of a longer one (same spikes up to its end), and fewer
test trials are the first trials of more.

Examples
--------
>>> rec = simulated_retina(n_units=2, train_seconds=2.0, test_seconds=1.0,
...                        n_test_trials=2, seed=1)
>>> rec.train_stimulus.shape, rec.test_spikes.n_trains, rec.name
((200, 8, 8), 4, 'simulated')
"""
import math

import numpy as np

from neuromod.errors import ParameterError
from neuromod.runtime import ensure_cache_dir

__all__ = ["simulated_retina", "SimulatedRetina", "SCENE_SIZE", "DT", "uint8_to_contrast"]

#: Time step of the spike generator, seconds.
DT = 0.001
#: Side of the periodic scene images, pixels.
SCENE_SIZE = 64
#: The 8-bit luminance of zero contrast, and contrast per luminance step.
OFFSET, SCALE = 128.0, 1.0 / 128.0

# spike generator (seconds)
ABS_REFRACTORY = 0.003
TAU_REL = 0.003
TAU_ADP_RISE, TAU_ADP_DECAY, W_ADP = 0.002, 0.008, 1.5
TAU_AHP, W_AHP = 0.030, 1.0
BASELINE_HZ = 0.5
# gain control
TAU_GAIN, POOL_SIGMA = 0.150, 2.0
# movie
FIXATION_MEAN, FIXATION_SHAPE, FIXATION_MIN = 0.6, 4.0, 0.2
DRIFT_STEP, NEW_SCENE_P = 0.15, 0.4
CONTRAST_MEDIAN, CONTRAST_SPREAD = 0.3, 0.35
CALIBRATION_SECONDS = 30.0
FILTER_SECONDS = 0.4

# the random streams, children of SeedSequence(seed) in this order
_STREAMS = ("cells", "calibration", "train_movie", "test_movie", "train_noise", "test_noise")


def uint8_to_contrast(v, offset=OFFSET, scale=SCALE):
    """float32 stimulus ``(v - offset) * scale`` from 8-bit frames ``v`` (the conversion
    :func:`neuromod.retina.recording.load_recording` applies to ``uint8`` stimuli)."""
    return ((np.asarray(v).astype(np.float32) - np.float32(offset))
            * np.float32(scale)).astype(np.float32)


def _streams(seed):
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return dict(zip(_STREAMS, children))


def _pink_scene(rng, n=SCENE_SIZE):
    """A periodic n x n image with a 1/f amplitude spectrum, zero mean, unit RMS."""
    f = np.sqrt(np.fft.fftfreq(n)[:, None] ** 2 + np.fft.fftfreq(n)[None, :] ** 2)
    f[0, 0] = np.inf
    spec = np.fft.fft2(rng.standard_normal((n, n))) / f
    img = np.fft.ifft2(spec).real
    img -= img.mean()
    return img / img.std()


def _sample(scene, y, x, size):
    """Bilinear samples of a periodic scene: frames (len(y), size, size) with the
    window's top-left corner at (y, x)."""
    n = scene.shape[0]
    iy = np.floor(y).astype(np.int64)
    ix = np.floor(x).astype(np.int64)
    fy = (y - iy)[:, None, None]
    fx = (x - ix)[:, None, None]
    r = np.arange(size)
    Y = (iy[:, None] + r[None, :]) % n
    X = (ix[:, None] + r[None, :]) % n
    Y1, X1 = (Y + 1) % n, (X + 1) % n
    a = scene[Y[:, :, None], X[:, None, :]]
    b = scene[Y[:, :, None], X1[:, None, :]]
    c = scene[Y1[:, :, None], X[:, None, :]]
    d = scene[Y1[:, :, None], X1[:, None, :]]
    return (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d)


def naturalistic_movie(n_frames, size, frame_dt, seed_sequence):
    """8-bit frames ``(n_frames, size, size)`` of the fixation-and-drift movie of the
    module description (uint8; contrast ``(v - 128) / 128``)."""
    scenes_ss, fix_ss, drift_ss = seed_sequence.spawn(3)
    scene_rng = np.random.default_rng(scenes_ss)
    fix_rng = np.random.default_rng(fix_ss)
    drift = np.random.default_rng(drift_ss).standard_normal((n_frames, 2)) * DRIFT_STEP
    out = np.empty((n_frames, size, size), dtype=np.uint8)
    scene, contrast, start = None, None, 0
    while start < n_frames:
        dur = max(FIXATION_MIN, fix_rng.gamma(FIXATION_SHAPE, FIXATION_MEAN / FIXATION_SHAPE))
        n = max(1, int(round(dur / frame_dt)))
        new = fix_rng.uniform() < NEW_SCENE_P
        pos = fix_rng.uniform(0.0, SCENE_SIZE, 2)
        if scene is None or new:
            scene = _pink_scene(scene_rng)
            contrast = CONTRAST_MEDIAN * math.exp(CONTRAST_SPREAD * scene_rng.standard_normal())
        stop = min(n_frames, start + n)
        walk = pos + np.cumsum(drift[start:stop], axis=0)
        frames = contrast * _sample(scene, walk[:, 0], walk[:, 1], size)
        out[start:stop] = np.clip(np.rint(OFFSET + frames / SCALE), 0, 255).astype(np.uint8)
        start = stop
    return out


def _gamma_kernel(t, tau, n=3):
    return (t / tau) ** n * np.exp(-t / tau) / (math.factorial(n) * tau)


def _causal(b, x, axis=0):
    """Causal FIR filter ``y[t] = sum_k b[k] x[t - k]`` along ``axis`` (a direct-form
    loop, so each output depends on the past inputs alone, bit for bit)."""
    from scipy.signal import lfilter
    return lfilter(b, [1.0], x, axis=axis)


ensure_cache_dir(__file__)   # before numba: a cache directory it can write

from numba import njit  # noqa: E402


@njit(cache=True, nogil=True)
def _spike_kernel(rate, noise, dt, abs_bins, tau_rel, adp_r, adp_d, adp_norm, w_adp,
                  ahp, w_ahp):
    """Spikes (trials, bins, units) bool from the free rate (bins, units) in Hz and
    uniform noise (trials, bins, units); the module description gives the rule."""
    R, T, U = noise.shape
    out = np.zeros((R, T, U), dtype=np.bool_)
    er, ed, eh = math.exp(-dt / adp_r), math.exp(-dt / adp_d), math.exp(-dt / ahp)
    for r in range(R):
        for u in range(U):
            last = -1000000
            a_r = 0.0
            a_d = 0.0
            h = 0.0
            for t in range(T):
                a_r *= er
                a_d *= ed
                h *= eh
                s = t - last
                if s <= abs_bins:
                    continue
                rec = 1.0 - math.exp(-(s - abs_bins) * dt / tau_rel)
                lam = rate[t, u] * rec * math.exp(w_adp * adp_norm * (a_d - a_r) - w_ahp * h)
                if noise[r, t, u] < 1.0 - math.exp(-lam * dt):
                    out[r, t, u] = True
                    last = t
                    a_r += 1.0
                    a_d += 1.0
                    h += 1.0
    return out


class SimulatedRetina:
    """The cells of :func:`simulated_retina` (module description), drawn from ``seed``.

    Parameters
    ----------
    n_units, size : int
        Cells, and pixels per side of the square stimulus.
    frame_dt : float
        Frame interval, seconds (a multiple of 1 ms).
    seed : int

    Attributes
    ----------
    position : ndarray (units, 2)
        Receptive-field centres (row, column), pixels.
    polarity : ndarray (units,)
        +1 ON, -1 OFF.
    spatial : ndarray (units, size * size)
        Difference-of-Gaussians weights.
    temporal : ndarray (units, taps)
        Biphasic filters at 1 ms (per second of input: ``sum * 1 ms`` is the DC gain).
    """

    def __init__(self, n_units=8, size=8, frame_dt=0.01, seed=0):
        from neuromod.limits import check_int
        self.n_units = check_int("n_units", n_units, 1)
        self.size = check_int("size", size, 3)
        K = frame_dt / DT if frame_dt > 0 else 0.0
        if not (math.isfinite(K) and abs(K - round(K)) < 1e-9 * max(K, 1) and round(K) >= 1):
            raise ParameterError(f"frame_dt must be a positive multiple of {DT:g} s, "
                                 f"got {frame_dt!r}")
        self.frame_dt, self.K = float(frame_dt), int(round(K))
        self.seed = seed
        self.streams = _streams(seed)
        rng = np.random.default_rng(self.streams["cells"])
        U, S = self.n_units, self.size
        margin = 0.2 * S
        self.position = rng.uniform(margin, S - 1 - margin, (U, 2))
        self.polarity = np.where(np.arange(U) % 2 == 0, 1.0, -1.0)
        sc = rng.uniform(0.8, 1.2, U)
        ws = rng.uniform(0.6, 0.85, U)
        tau1 = rng.uniform(0.010, 0.016, U)
        beta = rng.uniform(0.6, 0.9, U)
        self.quantile = rng.uniform(0.65, 0.85, U)
        self.target_hz = rng.uniform(25.0, 55.0, U)
        yy, xx = np.meshgrid(np.arange(S), np.arange(S), indexing="ij")
        d2 = ((yy.ravel()[None] - self.position[:, :1]) ** 2
              + (xx.ravel()[None] - self.position[:, 1:]) ** 2)

        def gauss(sig):
            return np.exp(-d2 / (2 * sig[:, None] ** 2)) / (2 * np.pi * sig[:, None] ** 2)
        self.spatial = self.polarity[:, None] * (gauss(sc) - ws[:, None] * gauss(2.2 * sc))
        pool = gauss(np.full(U, POOL_SIGMA))
        self.pool = pool / pool.sum(axis=1, keepdims=True)
        t = np.arange(int(round(FILTER_SECONDS / DT))) * DT
        self.temporal = np.stack([_gamma_kernel(t, a) - b * _gamma_kernel(t, 1.6 * a)
                                  for a, b in zip(tau1, beta)])
        self._calibrate()

    # ------------------------------------------------------------------ stages
    def movie(self, seconds, stream):
        """8-bit frames for ``seconds`` of the movie of random stream ``stream``
        (``"train_movie"``, ``"test_movie"`` or ``"calibration"``)."""
        n = int(round(seconds / self.frame_dt))
        if n < 1:
            raise ParameterError(f"{stream}: {seconds!r} s is less than one frame")
        return naturalistic_movie(n, self.size, self.frame_dt, self.streams[stream])

    def _frame_kernels(self):
        """Per 1 ms phase p within a frame, the frame-lag weights of each cell's
        temporal filter applied to the movie held over frames: (units, K, lags)."""
        K = self.K
        box = np.ones(K)
        g = np.stack([np.convolve(f, box) * DT for f in self.temporal])   # (U, taps + K - 1)
        lags = -(-g.shape[1] // K)
        g = np.pad(g, ((0, 0), (0, lags * K - g.shape[1])))
        return g.reshape(self.n_units, lags, K).transpose(0, 2, 1)

    def drive(self, contrast):
        """Linear drive ``x`` (bins of 1 ms, units) and contrast energy ``c`` (frames,
        units) for float frames ``contrast`` (frames, size, size)."""
        F = contrast.shape[0]
        S = np.asarray(contrast, dtype=np.float64).reshape(F, -1)
        s = S @ self.spatial.T                                   # (F, U)
        kern = self._frame_kernels()                             # (U, K, lags)
        x = np.empty((F, self.K, self.n_units))
        for u in range(self.n_units):
            for p in range(self.K):
                x[:, p, u] = _causal(kern[u, p], s[:, u])
        # contrast energy: pixels through the mean temporal filter, squared, pooled,
        # low-passed with TAU_GAIN
        mean_k = kern.mean(axis=(0, 1))
        e = _causal(mean_k, S, axis=0) ** 2 @ self.pool.T        # (F, U)
        from scipy.signal import lfilter
        a = 1.0 - math.exp(-self.frame_dt / TAU_GAIN)
        c = lfilter([a], [1.0, -(1.0 - a)], e, axis=0)
        return x.reshape(F * self.K, self.n_units), c

    def _gain(self, x, c):
        g = 1.0 / (1.0 + np.sqrt(c) / self.c_half)
        return x * np.repeat(g, self.K, axis=0)

    def _calibrate(self):
        m = uint8_to_contrast(self.movie(CALIBRATION_SECONDS, "calibration"))
        x, c = self.drive(m)
        self.c_half = np.median(np.sqrt(c), axis=0)
        y = self._gain(x, c)
        self.theta = np.array([np.quantile(y[:, u], q) for u, q in enumerate(self.quantile)])
        self.amplitude = self.target_hz / np.maximum(y - self.theta, 0.0).mean(axis=0)

    def rate(self, contrast):
        """Free firing rate (bins of 1 ms, units) in Hz, before the spike generator."""
        x, c = self.drive(contrast)
        y = self._gain(x, c)
        return self.amplitude * np.maximum(y - self.theta, 0.0) + BASELINE_HZ

    def spikes(self, rate, n_trials, stream):
        """Spike indicators (trials, bins, units) of the spike generator driven by
        ``rate`` (bins, units), noise from random stream ``stream``."""
        noise = np.random.default_rng(self.streams[stream]).random(
            (int(n_trials),) + rate.shape)
        return _spike_kernel(np.ascontiguousarray(rate, dtype=np.float64), noise, DT,
                             int(round(ABS_REFRACTORY / DT)), TAU_REL, TAU_ADP_RISE,
                             TAU_ADP_DECAY, _adp_norm(), W_ADP, TAU_AHP, W_AHP)


def _adp_norm():
    """Scale that gives the after-depolarisation exp(-t/d) - exp(-t/r) a peak of 1."""
    r, d = TAU_ADP_RISE, TAU_ADP_DECAY
    tp = r * d / (d - r) * math.log(d / r)
    return 1.0 / (math.exp(-tp / d) - math.exp(-tp / r))


def _to_trains(spk, n_units, duration, test):
    from neuromod.spikes import SpikeTrains
    trial, b, unit = np.nonzero(spk)
    t = (b + 0.5) * DT
    R = spk.shape[0]
    ann = ({"unit": np.tile(np.arange(n_units), R), "trial": np.repeat(np.arange(R), n_units)}
           if test else None)
    return SpikeTrains(t, trial * n_units + unit, 0.0, duration, n_trains=R * n_units,
                       annotations=ann, sort=True)


def simulated_retina(n_units=8, size=8, frame_dt=0.01, train_seconds=300.0, test_seconds=10.0,
                     n_test_trials=20, seed=0):
    """A :class:`~neuromod.retina.recording.Recording` of the simulated retina.

    Parameters
    ----------
    n_units : int
        Cells (even: ON, odd: OFF).
    size : int
        Stimulus side, pixels (frames ``(frames, size, size)``).
    frame_dt : float
        Frame interval, seconds (a multiple of 1 ms).
    train_seconds, test_seconds : float
        Duration of the training movie and of the repeated test clip.
    n_test_trials : int
        Repeats of the test clip (they differ by the spike generator's noise only).
    seed : int

    Returns
    -------
    Recording
        Stimuli float32 contrast ``(v - 128) / 128`` of the 8-bit movie; spikes at the
        centres of the generator's 1 ms bins; ``name`` ``'simulated'``.
    """
    from neuromod.limits import check_int
    from neuromod.retina.recording import Recording
    n_test_trials = check_int("n_test_trials", n_test_trials, 1)
    ret = SimulatedRetina(n_units, size, frame_dt, seed)
    train = uint8_to_contrast(ret.movie(train_seconds, "train_movie"))
    test = uint8_to_contrast(ret.movie(test_seconds, "test_movie"))
    s_tr = ret.spikes(ret.rate(train), 1, "train_noise")
    s_te = ret.spikes(ret.rate(test), n_test_trials, "test_noise")
    U = ret.n_units
    return Recording(ret.frame_dt, train, test,
                     _to_trains(s_tr, U, train.shape[0] * ret.frame_dt, False),
                     _to_trains(s_te, U, test.shape[0] * ret.frame_dt, True),
                     n_units=U, n_test_trials=n_test_trials,
                     unit_names=tuple(f"{'ON' if p > 0 else 'OFF'}{u}"
                                      for u, p in enumerate(ret.polarity)),
                     name="simulated")
