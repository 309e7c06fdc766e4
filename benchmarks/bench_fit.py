"""Fitting retina models: neuromod's GLM against statsmodels and nemos on the same
objective (section ``glm``), and the fit, training and inference times of every retina
model (section ``models``).

Workload (section ``glm``): spikes of ``--units`` coupled units simulated bin by bin
(1 ms) from a known GLM (:meth:`neuromod.retina.glm.GLM.from_coefficients`: random
separable stimulus filters, a relative refractory spike-history filter, weak random
coupling)
driven by ``--pixels``-pixel white noise at 10 ms frames for ``--seconds`` seconds
(quick: 2 units, 4 pixels, 30 s; full: 4 units, 16 pixels, 300 s), seeded by
``--seed``. The model: 5 linear raised cosines over 15 frames for the stimulus, 6
log-time raised cosines over 50 ms for history and coupling, exp link. Its design
(:meth:`GLM.design`, ``bins x (5 * pixels + 6 * units)``, plus a constant) is handed
to the peers as an explicit matrix, so every implementation fits the same columns.

Objective (every row): the sum over units of ``mean_t [lam - y log lam] + alpha/2
||coef||^2``, the intercept unpenalised, ``log y!`` left out (statsmodels' and nemos'
conventions: ``GLM.fit_regularized(alpha=[0, a, ...], L1_wt=0)`` minimises
``-llf/nobs + sum alpha_j coef_j^2 / 2``, nemos' ``PopulationGLM`` with the ``Ridge``
regulariser ``sum_units mean NLL + alpha/2 ||W||^2``). Each row's objective is
recomputed here from its coefficients by one function; ``gap`` is its excess over the
best row's (relative); ``max |coef diff|`` is against the neuromod model's
coefficients.

Rows, ridge ``alpha = --alpha`` (1e-4) and ``alpha = 0``:

* ``neuromod GLM.fit``: the model's own fit (``standardize=False``, the peers'
  penalty; ``alpha`` fixed, no cross-validation, no stability run): the stimulus
  term at the frame rate, the history columns once, every unit in one
  preconditioned L-BFGS; the time includes building its columns from the spikes;
* ``neuromod fit_design``: :func:`~neuromod.retina.glm.fit_design` on the explicit
  design, unit by unit;
* ``statsmodels IRLS`` (``alpha = 0``): ``GLM(y, X, Poisson()).fit(tol=1e-10)`` per
  unit;
* ``statsmodels ridge`` (``alpha > 0``): ``fit_regularized(L1_wt=0)`` with a zero
  penalty on the constant (its default BFGS), per unit;
* ``nemos PopulationGLM`` (``alpha > 0``; CPU jax, float64): ``Ridge`` with the same
  strength, ``LBFGS`` solver, ``tol=1e-10``, all units at once; its first call
  compiles (``first call``), the time is the best later call.

The peers' times do not include building the design (they are handed it); ratio =
peer time / neuromod ``GLM.fit`` time. Each time is the best of ``--repeat`` (2)
calls. A peer that is not installed is skipped with the reason.

Section ``models``: every model kind of :data:`neuromod.retina.pipeline.KINDS` (ln,
glm, cnn, tecos), made by :func:`neuromod.retina.pipeline.build` with its defaults, on
one recording: the embedded one (:func:`neuromod.retina.recording.embedded`: 8 units,
8 x 8 pixels at 10 ms frames, 300 s of training, a 10 s test clip x 20 trials) in full;
with ``--quick`` a simulated one (:func:`neuromod.retina.synthetic.simulated_retina`,
:data:`MODELS_QUICK`: 4 units, 8 x 8 pixels, 10 s of training, 2 s x 5 test trials,
seeded by ``--seed``). Bin 1 ms; ``fit(seed=--seed)``. One call per timing (a fit takes
up to minutes); the ``--units``, ``--pixels``, ``--seconds``, ``--alpha`` and
``--repeat`` options are the ``glm`` section's. Columns:

* ``fit``: wall time of ``model.fit``; ln and glm: the whole fit, their own
  cross-validation and checks included; cnn and tecos: ``epochs=2``
  (:data:`MODELS_EPOCHS`), setup included;
* ``per 100 s``: ln, glm: fit time per 100 s of training data; cnn, tecos: the
  training time of one epoch per 100 s;
* ``epoch 1``, ``epoch 2`` (cnn, tecos): each epoch's seconds as the training history
  records them (``history[i]["seconds"]`` of :func:`neuromod.training.fit`: the passes
  over the training data and the epoch's validation pass); epoch 2 is the per-epoch
  figure, epoch 1 also carries the first-call costs;
* ``sample``: ``model.sample(test_stimulus, n_test_trials, seed)`` divided by (test
  seconds x trials), milliseconds of compute per second of stimulus and trial;
* ``intensity``: likewise for ``model.intensity(test_stimulus, test counts)`` (the
  recorded test trials as the observed past; tecos averages its default 20 latent
  paths per trial).

Devices: the CPU for every kind; CUDA as well for cnn and tecos (``build(kind, epochs,
device="cuda")``) when ``torch.cuda.is_available()``, else a line says it is not
available. The header states ``torch.get_num_threads()``. A row that raises is printed
with its error (and the run exits 1); warnings a model emits are listed under the table.

Section ``scale`` (not run by default; about 15 minutes on 2 cores): the issue's size
for a fit, a simulated recording (:data:`SCALE`: 8 units, 400 s of an 8 x 8-pixel movie
at 10 ms frames, a 10 s test clip x 20 trials), every model's whole default fit on the
CPU (cnn and tecos to their default epochs or their early stop), each against the
target :data:`SCALE_TARGET_S` (10 minutes); columns as in ``models`` plus the epochs run.

Run: .venv/bin/python benchmarks/bench_fit.py [--quick] [--units N] [--pixels N]
     [--seconds S] [--alpha A] [--repeat N] [--seed N] [--sections glm,models,scale]
     [--json]
"""
import argparse
import json
import os
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(Path(__file__).resolve().parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

#: The GLM's bases (seconds and sizes), shared by the ground truth and every fit.
OPTIONS = dict(stimulus_window=0.15, n_stimulus_basis=5, history_window=0.05,
               n_history_basis=6)


# ============================================================================ workload
def ground_truth(units, pixels, seed):
    """A stable coupled GLM: separable biphasic stimulus filters with random spatial
    weights, a relative refractory history filter (not an absolute one: a lag with no
    spike at all would send its maximum-likelihood coefficient to minus infinity, and
    the unpenalised rows would have no common solution), coupling of random sign and
    small size."""
    from neuromod.retina.glm import GLM
    rng = np.random.default_rng(seed)
    temporal = np.array([0.2, 0.9, 0.2, -0.5, -0.15])
    spatial = rng.normal(0, 1, (units, pixels))
    spatial /= np.linalg.norm(spatial, axis=1, keepdims=True)
    stim = 0.45 * temporal[None, :, None] * spatial[:, None, :]
    hist = 0.3 * rng.choice([-1.0, 1.0], (units, units))[:, :, None] * \
        np.array([0.0, 0.8, 1.0, 0.6, 0.2, 0.0])
    for i in range(units):
        hist[i, i] = [-2.5, -1.0, -0.3, 0.2, 0.1, 0.0]
    return GLM.from_coefficients(np.log(np.full(units, 0.03)), stim, hist, 0.001, 0.01,
                                 **OPTIONS)


def workload(units, pixels, seconds, seed):
    """``(recording, counts (bins, units))`` simulated from :func:`ground_truth`."""
    from neuromod.retina.base import counts_to_spikes
    from neuromod.retina.recording import Recording
    truth = ground_truth(units, pixels, seed)
    rng = np.random.default_rng(seed + 1)
    S = rng.normal(size=(int(round(seconds / 0.01)), pixels))
    y = truth.sample(S, 1, seed=seed + 2)
    rec = Recording(0.01, S.astype(np.float32), S[:100].astype(np.float32),
                    counts_to_spikes(y, 0.001, seed=seed + 3),
                    counts_to_spikes(y[:, :1000], 0.001, seed=seed + 4), units, 1,
                    name="bench-glm")
    return rec, rec.train_counts(0.001)


def objective(X, y, intercept, coef, alpha):
    """Sum over units of the ridge objective (``log y!`` left out)."""
    from neuromod.retina.glm import poisson_objective
    return float(sum(poisson_objective(X, y[:, u], intercept[u], coef[:, u], alpha=alpha)
                     for u in range(y.shape[1])))


# ============================================================================ runners
def _best(call, repeat):
    """``(result of the first call, best wall time, first call's time)``."""
    times, out = [], None
    for i in range(repeat):
        t0 = time.perf_counter()
        res = call()
        times.append(time.perf_counter() - t0)
        if i == 0:
            out = res
    return out, min(times), times[0]


def run_neuromod_model(rec, alpha, repeat):
    from neuromod.retina.glm import GLM

    def call():
        m = GLM(alpha=alpha, standardize=False, tol=1e-9, stability_seconds=0.0,
                **OPTIONS).fit(rec)
        return m.intercept_.copy(), np.stack([m.coefficients(u) for u in range(m.n_units)], 1)
    return _best(call, repeat)


def run_neuromod_design(X, y, alpha, repeat):
    from neuromod.retina.glm import fit_design

    def call():
        fits = [fit_design(X, y[:, u], alpha=alpha) for u in range(y.shape[1])]
        return np.array([f.intercept for f in fits]), np.stack([f.coef for f in fits], 1)
    return _best(call, repeat)


def run_statsmodels(X, y, alpha, repeat):
    import statsmodels.api as sm
    Xc = np.hstack([np.ones((X.shape[0], 1)), X])

    def call():
        out = []
        for u in range(y.shape[1]):
            model = sm.GLM(y[:, u], Xc, family=sm.families.Poisson())
            if alpha == 0:
                params = model.fit(tol=1e-10).params
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    params = model.fit_regularized(alpha=np.r_[0.0, np.full(X.shape[1], alpha)],
                                                   L1_wt=0.0).params
            out.append(np.asarray(params))
        P = np.stack(out, 1)
        return P[0], P[1:]
    return _best(call, repeat)


def run_nemos(X, y, alpha, repeat):
    import jax
    jax.config.update("jax_enable_x64", True)
    import nemos as nmo

    def call():
        m = nmo.glm.PopulationGLM(regularizer="Ridge", regularizer_strength=alpha,
                                  solver_name="LBFGS",
                                  solver_kwargs=dict(tol=1e-10, maxiter=20000))
        m.fit(X, y)
        return np.asarray(m.intercept_, dtype=np.float64), np.asarray(m.coef_, dtype=np.float64)
    return _best(call, max(repeat, 2))


def _available(module):
    try:
        __import__(module)
        return None
    except Exception as exc:                             # noqa: BLE001 - any import failure
        return f"{module} not importable here ({type(exc).__name__}: {exc})"


# ============================================================================ sections
def section_glm(a):
    rec, y = workload(a.units, a.pixels, a.seconds, a.seed)
    from neuromod.retina.glm import GLM
    probe = GLM(alpha=0.0, stability_seconds=0.0, **OPTIONS)
    probe.bin_size, probe.frame_dt = 0.001, rec.frame_dt
    probe.stim_mean = float(np.asarray(rec.train_stimulus, dtype=np.float64).mean())
    probe.stim_std = float(np.asarray(rec.train_stimulus, dtype=np.float64).std())
    X = probe.design(rec.train_stimulus, y, unit=0)       # coupled: the same for every unit
    y = np.asarray(y, dtype=np.float64)
    rows, skipped = [], []
    for alpha in (a.alpha, 0.0):
        impls = [("neuromod GLM.fit", lambda: run_neuromod_model(rec, alpha, a.repeat)),
                 ("neuromod fit_design", lambda: run_neuromod_design(X, y, alpha, a.repeat))]
        if alpha == 0:
            impls.append(("statsmodels IRLS", lambda: run_statsmodels(X, y, 0.0, a.repeat)))
        else:
            impls.append(("statsmodels ridge", lambda: run_statsmodels(X, y, alpha, a.repeat)))
            impls.append(("nemos PopulationGLM", lambda: run_nemos(X, y, alpha, a.repeat)))
        group = []
        for name, call in impls:
            missing = _available(name.split()[0]) if not name.startswith("neuromod") else None
            if missing:
                skipped.append({"impl": name, "alpha": alpha, "reason": missing})
                continue
            (b, W), best, first = call()
            group.append({"impl": name, "alpha": alpha, "time_s": best, "first_call_s": first,
                          "objective": objective(X, y, b, W, alpha), "coef": W, "intercept": b})
        ref = group[0]
        low = min(r["objective"] for r in group)
        for r in group:
            r["gap"] = (r["objective"] - low) / abs(low)
            r["max_coef_diff"] = float(np.max(np.abs(np.r_[r["intercept"][None], r["coef"]]
                                                    - np.r_[ref["intercept"][None],
                                                            ref["coef"]])))
            r["time_ratio"] = r["time_s"] / ref["time_s"]
        rows += group
    for r in rows:
        r.pop("coef")
        r.pop("intercept")
    shape = list(X.shape)
    lines = [f"\nglm: {a.units} units, {a.pixels} pixels, {a.seconds:g} s at 1 ms "
             f"({shape[0]} bins, {int(y.sum())} spikes); design {shape[0]} x {shape[1]} "
             f"(+ constant); best of {a.repeat}; ratio: peer / neuromod GLM.fit (same alpha)",
             f"   {'implementation':<22} {'alpha':>7} {'time':>10} {'first call':>11} "
             f"{'objective':>18} {'gap':>9} {'max |coef diff|':>15} {'ratio':>8}"]
    for r in rows:
        lines.append(f"   {r['impl']:<22} {r['alpha']:7.0e} {r['time_s']:8.3f} s "
                     f"{r['first_call_s']:9.3f} s {r['objective']:18.12f} {r['gap']:9.1e} "
                     f"{r['max_coef_diff']:15.2e} {r['time_ratio']:7.2f}x")
    for s in skipped:
        lines.append(f"   ({s['impl']}, alpha {s['alpha']:g}: skipped -- {s['reason']})")
    ok = all(r["gap"] < 1e-6 for r in rows if r["impl"].startswith("neuromod"))
    return ({"units": a.units, "pixels": a.pixels, "seconds": a.seconds, "design": shape,
             "spikes": int(y.sum()), "repeat": a.repeat, "rows": rows, "skipped": skipped},
            lines, ok)


# ============================================================================ models
#: The ``models`` section's ``--quick`` recording: :func:`simulated_retina` arguments.
MODELS_QUICK = dict(n_units=4, size=8, train_seconds=10.0, test_seconds=2.0, n_test_trials=5)
#: Epochs of the trained models' timed fit (epoch 1 carries the first-call costs).
MODELS_EPOCHS = 2


def models_recording(a):
    """The ``models`` section's recording: the embedded one in full, with ``--quick``
    :data:`MODELS_QUICK` simulated (seed ``--seed``), with the hidden ``--models-sim
    UNITS,SIZE,TRAIN_S,TEST_S,TRIALS`` that simulated recording (the tests' tiny size)."""
    from neuromod.retina.synthetic import simulated_retina
    if a.models_sim:
        u, s, tr, te, r = a.models_sim.split(",")
        return simulated_retina(n_units=int(u), size=int(s), train_seconds=float(tr),
                                test_seconds=float(te), n_test_trials=int(r), seed=a.seed)
    if a.quick:
        return simulated_retina(**MODELS_QUICK, seed=a.seed)
    from neuromod.retina.recording import embedded
    return embedded()


def _timed(call, sync):
    """``(result, wall seconds)``, CUDA synchronised before the clock stops."""
    t0 = time.perf_counter()
    out = call()
    sync()
    return out, time.perf_counter() - t0


def model_row(kind, device, rec, seed=0, epochs=MODELS_EPOCHS):
    """Time one model on one device: ``fit`` (ln, glm: the whole fit; cnn, tecos:
    ``epochs`` epochs, :data:`MODELS_EPOCHS` by default, ``None`` for the model's own
    default with its early stopping; each epoch's seconds read from the training
    history), then ``sample`` and ``intensity`` on the recording's test trials."""
    import torch
    from neuromod.retina.pipeline import TRAINED, build
    trained = kind in TRAINED

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()
    train_s, test_s = float(rec.train_duration), float(rec.test_duration)
    R = int(rec.n_test_trials)
    row = {"kind": kind, "device": device, "threads": torch.get_num_threads(),
           "train_seconds": train_s, "test_seconds": test_s, "trials": R, "error": None,
           "warnings": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = build(kind, epochs if trained else None, device=device)
            kw = {"epochs": epochs} if trained and epochs is not None else {}
            _, row["fit_s"] = _timed(lambda: model.fit(rec, seed=seed, **kw), sync)
            if trained:
                epochs = [float(h["seconds"]) for h in model.history]
                row["epoch_seconds"] = epochs
                row["epoch_s"] = epochs[-1]
                row["epochs_run"] = len(epochs)
                row["per_100s"] = epochs[-1] * 100.0 / train_s
            else:
                row["epoch_seconds"], row["epoch_s"], row["epochs_run"] = None, None, None
                row["per_100s"] = row["fit_s"] * 100.0 / train_s
            draws, row["sample_s"] = _timed(
                lambda: model.sample(rec.test_stimulus, R, seed=seed + 1,
                                     frame_dt=rec.frame_dt), sync)
            y = rec.test_counts(model.bin_size)
            assert draws.shape == y.shape, (draws.shape, y.shape)
            lam, row["intensity_s"] = _timed(
                lambda: model.intensity(rec.test_stimulus, y, frame_dt=rec.frame_dt), sync)
            assert np.shape(lam) == y.shape, (np.shape(lam), y.shape)
            row["sample_per_s"] = row["sample_s"] / (test_s * R)
            row["intensity_per_s"] = row["intensity_s"] / (test_s * R)
        except Exception as exc:                         # noqa: BLE001 - reported in the row
            row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    seen = []
    for w in caught:
        msg = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"[:200]
        if msg not in seen:
            seen.append(msg)
    row["warnings"] = seen
    return row


def run_models(rec, seed=0, kinds=None, cuda=None):
    """Every model kind on the CPU, and the trained kinds on CUDA when ``cuda`` (default:
    ``torch.cuda.is_available()``): the rows of :func:`model_row`."""
    import torch
    from neuromod.retina.pipeline import KINDS, TRAINED
    cuda = torch.cuda.is_available() if cuda is None else cuda
    rows = []
    for device in ("cpu",) + (("cuda",) if cuda else ()):
        for kind in kinds or KINDS:
            if device == "cpu" or kind in TRAINED:
                rows.append(model_row(kind, device, rec, seed))
    return rows, cuda


def models_lines(data):
    """The printed table of the ``models`` section's JSON part."""
    def sec(v, w=8):
        return f"{v:{w}.3f} s" if v is not None else " " * (w + 2)

    def ms(v):
        return f"{1e3 * v:9.3f} ms" if v is not None else " " * 12
    lines = [f"\nmodels: recording {data['recording']!r} ({data['n_units']} units, frames "
             f"{'x'.join(map(str, data['frame_shape']))} at {1e3 * data['frame_dt']:g} ms; "
             f"{data['train_seconds']:g} s training, {data['test_seconds']:g} s test x "
             f"{data['trials']} trials); bin 1 ms; seed {data['seed']}; torch threads "
             f"{data['threads']} (torch {data['torch']}); one call per timing",
             "   fit: ln, glm the whole fit (their own cross-validation and checks); cnn, "
             f"tecos {data['epochs']} epochs, setup included",
             "   per 100 s: ln, glm fit time per 100 s of training data; cnn, tecos epoch 2 "
             "per 100 s",
             "   epoch 1, epoch 2: seconds of each epoch from the training history (its "
             "validation pass included; epoch 2 is the per-epoch figure, epoch 1 carries "
             "first-call costs)",
             "   sample, intensity: per second of test stimulus and per trial; intensity "
             "given the recorded test counts (tecos: mean over its 20 latent paths)",
             f"   {'model':<6} {'device':<6} {'fit':>10} {'per 100 s':>10} {'epoch 1':>10} "
             f"{'epoch 2':>10} {'sample':>12} {'intensity':>12}"]
    for r in data["rows"]:
        head = f"   {r['kind']:<6} {r['device']:<6}"
        if r["error"]:
            lines.append(f"{head} failed -- {r['error']}")
            continue
        ep = r["epoch_seconds"] or [None, None]
        lines.append(f"{head} {sec(r['fit_s'])} {sec(r['per_100s'])} {sec(ep[0])} "
                     f"{sec(ep[-1] if len(ep) > 1 else None)} {ms(r['sample_per_s'])} "
                     f"{ms(r['intensity_per_s'])}")
    if not data["cuda"]:
        lines.append("   CUDA: not available here (torch.cuda.is_available() is False); "
                     "CPU rows only")
    for r in data["rows"]:
        for w in r["warnings"]:
            lines.append(f"   ({r['kind']} {r['device']} warned: {w})")
    return lines


def section_models(a):
    import torch
    rec = models_recording(a)
    rows, cuda = run_models(rec, seed=a.seed)
    data = {"recording": rec.name, "n_units": int(rec.n_units),
            "frame_shape": list(rec.frame_shape), "frame_dt": float(rec.frame_dt),
            "train_seconds": float(rec.train_duration), "test_seconds": float(rec.test_duration),
            "trials": int(rec.n_test_trials), "seed": a.seed, "epochs": MODELS_EPOCHS,
            "threads": torch.get_num_threads(), "torch": torch.__version__, "cuda": cuda,
            "rows": rows}
    return data, models_lines(data), all(r["error"] is None for r in rows)


# ============================================================================= scale
#: The ``scale`` section's recording (the size each fit must handle in under
#: :data:`SCALE_TARGET_S`): :func:`simulated_retina` arguments.
SCALE = dict(n_units=8, size=8, frame_dt=0.01, train_seconds=400.0, test_seconds=10.0,
             n_test_trials=20)
#: Seconds each model's whole default fit may take on :data:`SCALE`.
SCALE_TARGET_S = 600.0


def section_scale(a):
    """Every model's whole default fit (the trained ones with their default epochs and
    early stopping) on :data:`SCALE` simulated (seed ``--seed``; ``--models-sim`` and
    ``--scale-epochs`` give the tests' tiny size), against :data:`SCALE_TARGET_S`."""
    import torch
    from neuromod.retina.pipeline import KINDS
    from neuromod.retina.synthetic import simulated_retina
    rec = models_recording(a) if a.models_sim else simulated_retina(**SCALE, seed=a.seed)
    rows = [model_row(kind, "cpu", rec, a.seed, epochs=a.scale_epochs) for kind in KINDS]
    for r in rows:
        r["target_s"] = SCALE_TARGET_S
        r["reached"] = r["error"] is None and r["fit_s"] < SCALE_TARGET_S
    data = {"recording": rec.name, "n_units": int(rec.n_units),
            "frame_shape": list(rec.frame_shape), "frame_dt": float(rec.frame_dt),
            "train_seconds": float(rec.train_duration), "test_seconds": float(rec.test_duration),
            "trials": int(rec.n_test_trials), "seed": a.seed, "epochs": a.scale_epochs,
            "threads": torch.get_num_threads(), "torch": torch.__version__, "rows": rows}
    lines = [f"\nscale: every model's whole default fit on a {data['recording']} recording of "
             f"{data['n_units']} units x {data['train_seconds']:g} s of "
             f"{'x'.join(map(str, data['frame_shape']))}-pixel movie at "
             f"{1e3 * data['frame_dt']:g} ms frames; bin 1 ms; torch threads "
             f"{data['threads']}; target: each fit under {SCALE_TARGET_S:g} s",
             "   epochs: cnn, tecos trained to their default epochs or early stop "
             "(validation-loss patience)" if a.scale_epochs is None else
             f"   epochs: cnn, tecos {a.scale_epochs}",
             f"   {'model':<6} {'fit':>10} {'epochs':>7} {'per epoch':>10} {'sample':>12}"
             f" {'target':>8}"]
    for r in rows:
        if r["error"]:
            lines.append(f"   {r['kind']:<6} failed -- {r['error']}")
            continue
        ep = f"{r['epochs_run']:7d}" if r["epochs_run"] else " " * 7
        per = f"{r['epoch_s']:8.3f} s" if r["epoch_s"] else " " * 10
        lines.append(f"   {r['kind']:<6} {r['fit_s']:8.1f} s {ep} {per} "
                     f"{1e3 * r['sample_per_s']:9.3f} ms {'reached' if r['reached'] else 'MISSED':>8}")
    for r in rows:
        for w in r["warnings"]:
            lines.append(f"   ({r['kind']} warned: {w})")
    return data, lines, all(r["reached"] for r in rows)


#: Section name -> ``fn(args) -> (json part, printed lines, checks passed)``.
SECTIONS = {"glm": section_glm, "models": section_models, "scale": section_scale}
#: The sections a plain run does (``scale`` takes about 15 minutes on 2 cores).
DEFAULT_SECTIONS = ("glm", "models")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="glm: 2 units, 4 pixels, 30 s; models: a short simulated recording")
    ap.add_argument("--units", type=int, default=None, help="glm: units (4; 2 with --quick)")
    ap.add_argument("--pixels", type=int, default=None,
                    help="glm: pixels (16; 4 with --quick)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="glm: seconds of training data (300; 30 with --quick)")
    ap.add_argument("--alpha", type=float, default=1e-4, help="ridge strength (1e-4)")
    ap.add_argument("--repeat", type=int, default=2, help="timed calls per row, best kept")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sections", default=",".join(DEFAULT_SECTIONS),
                    help=f"comma-separated, from {', '.join(SECTIONS)} (default "
                         f"{','.join(DEFAULT_SECTIONS)})")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    # models: a simulated recording UNITS,SIZE,TRAIN_S,TEST_S,TRIALS (the tests' tiny size)
    ap.add_argument("--models-sim", default=None, help=argparse.SUPPRESS)
    # scale: the trained models' epochs (their defaults unless given; the tests' tiny size)
    ap.add_argument("--scale-epochs", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.units = a.units or (2 if a.quick else 4)
    a.pixels = a.pixels or (4 if a.quick else 16)
    a.seconds = a.seconds or (30.0 if a.quick else 300.0)
    names = [s for s in a.sections.split(",") if s]
    unknown = [s for s in names if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    info = {"quick": a.quick, "seed": a.seed, "cpu_cores": os.cpu_count()}
    for lib in ("numpy", "scipy", "statsmodels", "nemos", "jax", "torch"):
        try:
            info[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            info[lib] = None
    from sections import run_sections
    done, text, ok, info["wall_s"] = run_sections(SECTIONS, names, a)
    if a.json:
        print(json.dumps({**info, "sections": done, "all_reached": ok}))
        return 0 if ok else 1
    print(f"neuromod fitting benchmark ({'quick' if a.quick else 'full'}); CPU cores: "
          f"{os.cpu_count()}; numpy {info['numpy']}, scipy {info['scipy']}, statsmodels "
          f"{info['statsmodels']}, nemos {info['nemos']} (jax {info['jax']}), torch "
          f"{info['torch']}; seed {a.seed}")
    print("\n".join(text))
    print(f"\nwall time of the benchmark: {info['wall_s']:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
