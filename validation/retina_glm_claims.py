"""GLM claims (Pillow et al. 2008; MODELS.md, section TeCoS-LVM, GLM practice): a
coupled Poisson GLM fitted by cross-validated ridge recovers the filters of a known
coupled GLM it is fitted to. The ground truth, its stimulus, its spikes and the fit
are seeded."""
import numpy as np

from neuromod.validation.registry import claim

#: The bases of the ground truth and of the fit: 15 frames of stimulus (10 ms) on 5
#: linear raised cosines, 50 ms of history and coupling (1 ms bins) on 6 log-time ones.
OPTIONS = dict(stimulus_window=0.15, n_stimulus_basis=5, history_window=0.05,
               n_history_basis=6)
#: SIGN[i, j]: the sign of the coupling filter from unit j onto unit i.
SIGN = np.array([[0, 1, -1], [-1, 0, 1], [1, -1, 0]])
#: Training seconds at quick and full size.
SECONDS = {True: 150.0, False: 600.0}


def ground_truth(seed=7):
    """Three coupled units on a 4-pixel stimulus: separable biphasic stimulus filters
    (random unit-norm spatial weights), a refractory history filter (-6 on the first
    basis function, the dip of an absolute refractory period), coupling filters of
    the signs :data:`SIGN`, 30 spikes/s at rest."""
    from neuromod.retina.glm import GLM
    rng = np.random.default_rng(seed)
    U, D = 3, 4
    temporal = np.array([0.2, 0.9, 0.2, -0.5, -0.15])
    spatial = rng.normal(0, 1, (U, D))
    spatial /= np.linalg.norm(spatial, axis=1, keepdims=True)
    stim = 0.45 * temporal[None, :, None] * spatial[:, None, :]
    hist = np.zeros((U, U, 6))
    for i in range(U):
        hist[i, i] = [-6.0, -2.4, -0.5, 0.3, 0.1, 0.0]
        for j in range(U):
            if i != j:
                hist[i, j] = SIGN[i, j] * 0.5 * np.array([0.0, 0.8, 1.0, 0.6, 0.2, 0.0])
    return GLM.from_coefficients(np.log(np.full(U, 0.03)), stim, hist, 0.001, 0.01, **OPTIONS)


def simulated_recording(truth, train_s, test_s=5.0, trials=10, seed=0):
    """White-noise frames and the truth's own spikes (sampled bin by bin)."""
    from neuromod.retina.base import counts_to_spikes
    from neuromod.retina.recording import Recording
    rng = np.random.default_rng(seed)
    Str = rng.normal(size=(int(round(train_s / 0.01)), truth.D))
    Ste = rng.normal(size=(int(round(test_s / 0.01)), truth.D))
    ytr = truth.sample(Str, 1, seed=seed + 1)
    yte = truth.sample(Ste, trials, seed=seed + 2)
    U = ytr.shape[2]
    return Recording(0.01, Str.astype(np.float32), Ste.astype(np.float32),
                     counts_to_spikes(ytr, 0.001, seed=seed + 3),
                     counts_to_spikes(yte, 0.001, seed=seed + 4), U, trials,
                     name="coupled-glm")


@claim("retina-glm-recovery",
       "A coupled GLM (stimulus, spike-history and coupling filters on raised-cosine "
       "bases, exp link, 1 ms bins, ridge chosen by 3-fold blocked cross-validation) "
       "fitted to 3 units simulated from a known coupled GLM (4-pixel white noise at 10 ms "
       "frames; 150 s of training at quick size, 600 s in full) recovers every unit's "
       "stimulus filter (correlation >= 0.9), the refractory dip of every spike-history "
       "filter (below -2 at the first lag and 2 below its value at 10 ms) and the sign of "
       "all 6 coupling filters (their sums over lags); its simulation stays stable. "
       "Measured: the smallest stimulus-filter correlation.",
       ">= 0.9", "correlation")
def recovery(quick):
    import time
    import warnings

    from neuromod.retina.glm import GLM, UnstableGLMWarning
    truth = ground_truth()
    rec = simulated_recording(truth, SECONDS[bool(quick)])
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnstableGLMWarning)
        model = GLM(**OPTIONS).fit(rec)
    fit_s = time.perf_counter() - t0
    U = truth.n_units
    kt, kf = truth.stimulus_filter(), model.stimulus_filter()
    corr = [float(np.corrcoef(kt[u].ravel(), kf[u].ravel())[0, 1]) for u in range(U)]
    ht, hf = truth.history_filters(), model.history_filters()
    dip = [bool(hf[u, u, 0] < -2 and hf[u, u, 0] < hf[u, u, 9] - 2) for u in range(U)]
    off = ~np.eye(U, dtype=bool)
    signs_fit = np.sign(hf.sum(2)).astype(int)
    signs_ok = bool(np.array_equal(signs_fit[off], SIGN[off]))
    truth.null_rate = model.null_rate                   # both scored against the same null
    stable = bool(model.stable_) and not caught
    checks = {"stimulus_filters": min(corr) >= 0.9, "refractory_dips": all(dip),
              "coupling_signs": signs_ok, "stable": stable}
    details = {"checks": checks,
               "stimulus_filter_corr": corr,
               "history_first_lag": {"true": [float(ht[u, u, 0]) for u in range(U)],
                                     "fitted": [float(hf[u, u, 0]) for u in range(U)]},
               "history_at_10ms": {"true": [float(ht[u, u, 9]) for u in range(U)],
                                   "fitted": [float(hf[u, u, 9]) for u in range(U)]},
               "coupling_sums": {"true": ht.sum(2).round(3).tolist(),
                                 "fitted": hf.sum(2).round(3).tolist()},
               "alpha": model.alpha_.tolist(),
               "bits_per_spike": {"fitted": model.score(rec), "truth": truth.score(rec)},
               "train_seconds": SECONDS[bool(quick)],
               "train_spikes": int(rec.train_spikes.times.size),
               "fit_seconds": fit_s}
    return {"measured": min(corr), "passed": bool(all(checks.values())), "details": details}
