"""Cross-validation of one hyper-parameter of a retina model over blocked folds, one Dask
task per value x fold.

The training stimulus (``F`` frames) is cut into ``k`` contiguous blocks of whole
frames. Fold ``j`` fits the model, with the hyper-parameter set to one value, on the
other ``k - 1`` blocks joined in time order (one seam where block ``j`` was cut out:
the first stimulus-window of frames after it sees the frames before the gap as its
history, a small share of the data), and scores the held-out block: the Poisson
log-likelihood of its spike counts under the model's intensity (its own spike history
given), as bits per spike against a homogeneous Poisson model with the fold's training
mean rate (:func:`neuromod.retina.base.bits_per_spike`). The test repeats are never
used: choosing a hyper-parameter on them would tune on held-out data.

:func:`cross_validate` returns every value's mean and standard error over folds and the
best value (the highest mean bits per spike; ties: the first listed).

Examples
--------
>>> from neuromod.retina.synthetic import simulated_retina
>>> rec = simulated_retina(n_units=2, size=4, train_seconds=6.0, test_seconds=0.5,
...                        n_test_trials=2, seed=0)
>>> cv = cross_validate("ln", rec, "n_basis", [2, 4], folds=2, progress=False)
>>> [row["value"] for row in cv["values"]], cv["best"] in (2, 4), len(cv["folds"])
([2, 4], True, 4)
"""
import inspect
import time

import numpy as np

from neuromod.errors import ParameterError

__all__ = ["train_folds", "parse_values", "check_hyper_parameter", "cv_fold", "cross_validate"]


def parse_values(text):
    """``'1e-3,1e-2,auto'`` -> ``[0.001, 0.01, 'auto']`` (integers, floats, else text).

    Examples
    --------
    >>> parse_values("2, 0.5,auto")
    [2, 0.5, 'auto']
    """
    out = []
    for v in str(text).split(","):
        v = v.strip()
        if not v:
            raise ParameterError(f"--cv: an empty value in {text!r}")
        for conv in (int, float):
            try:
                out.append(conv(v))
                break
            except ValueError:
                continue
        else:
            out.append(v)
    return out


def _model_class(kind):
    import importlib

    from neuromod.retina.base import MODELS
    if kind not in MODELS:
        raise ParameterError(f"unknown model {kind!r}; known: {', '.join(MODELS)}")
    mod, cls = MODELS[kind].split(":")
    return getattr(importlib.import_module(mod), cls)


def check_hyper_parameter(kind, name):
    """Refuse a name that is not a keyword of the model's constructor (one line listing
    them)."""
    params = [p for p in inspect.signature(_model_class(kind)).parameters
              if p not in ("self", "device", "epochs")]
    if name not in params:
        raise ParameterError(f"--cv {name}: the {kind} model has no such option; it has "
                             f"{', '.join(params)}")


def train_folds(recording, k):
    """The ``k`` blocked folds of the training data: ``(fit_recording, held_stimulus,
    held_frames)`` each, ``held_frames`` the ``(start, stop)`` frames held out.

    ``fit_recording`` is the recording with block ``j`` of the training stimulus and its
    spikes cut out (later spikes moved earlier by the block's duration); its test
    repeats are the recording's.
    """
    from neuromod.limits import check_int
    from neuromod.retina.recording import Recording
    from neuromod.spikes import SpikeTrains
    k = check_int("folds", k, 2)
    F, dt = recording.train_stimulus.shape[0], recording.frame_dt
    if F < k:
        raise ParameterError(f"--folds {k}: the training stimulus has only {F} frames")
    edges = np.linspace(0, F, k + 1).round().astype(np.int64)
    st = recording.train_spikes
    out = []
    for j in range(k):
        a, b = int(edges[j]), int(edges[j + 1])
        stim = np.concatenate((recording.train_stimulus[:a], recording.train_stimulus[b:]))
        t0, t1 = a * dt, b * dt
        keep = (st.times < t0) | (st.times >= t1)
        times = np.where(st.times[keep] >= t1, st.times[keep] - (t1 - t0), st.times[keep])
        train = SpikeTrains(times, st.ids[keep], 0.0, stim.shape[0] * dt,
                            n_trains=recording.n_units, sort=True)
        fit_rec = Recording(dt, stim, recording.test_stimulus, train,
                            recording.test_spikes, recording.n_units,
                            recording.n_test_trials, recording.unit_names,
                            f"{recording.name}[fold {j + 1}/{k}]")
        out.append((fit_rec, recording.train_stimulus[a:b], (a, b)))
    return out


def cv_fold(task):
    """One value x fold (a Dask task): cut the fold out of the (scattered) recording, fit
    on its training part, score the held-out block; ``{value, fold, bits_per_spike,
    n_spikes, seconds, error}`` (the fit's error as one line rather than raised)."""
    from neuromod.retina.base import bits_per_spike
    t0 = time.perf_counter()
    row = {"value": task["value"], "fold": task["fold"], "bits_per_spike": None,
           "n_spikes": None, "seconds": None, "error": ""}
    try:
        rec, K = task["recording"], int(round(task["recording"].frame_dt / task["bin_size"]))
        fit_rec, stimulus, (a, b) = train_folds(rec, task["folds"])[task["fold"]]
        y = rec.train_counts(task["bin_size"])[a * K:b * K][None]
        C = _model_class(task["kind"])
        kw = dict(task["options"], **{task["name"]: task["value"]})
        if task["epochs"] is not None:
            kw["epochs"] = task["epochs"]
        model = C(**kw)
        model.fit(fit_rec, bin_size=task["bin_size"], seed=task["seed"])
        lam = model.intensity(stimulus, y, frame_dt=rec.frame_dt)
        row["bits_per_spike"] = float(bits_per_spike(y, lam, model.null_rate))
        row["n_spikes"] = int(y.sum())
    except Exception as exc:                    # noqa: BLE001 - reported in the row
        row["error"] = (" ".join(str(exc).split()) or type(exc).__name__)[:300]
    row["seconds"] = time.perf_counter() - t0
    return row


def cross_validate(kind, recording, name, values, folds=3, bin_size=0.001, epochs=None,
                   seed=0, options=None, client=None, progress=True):
    """Cross-validate the hyper-parameter ``name`` of model ``kind`` over ``values``.

    Parameters
    ----------
    kind : str
        ``ln``, ``glm``, ``cnn`` or ``tecos``.
    recording : Recording
    name : str
        A keyword of the model's constructor (``alpha``, ``n_basis``, ``beta_kl``, ...).
    values : sequence
    folds : int
        Contiguous blocks of the training stimulus (>= 2).
    bin_size : float
        Seconds.
    epochs : int, optional
        Of the trained models (cnn, tecos).
    seed : int
    options : dict, optional
        Other constructor keywords, fixed.
    client : distributed.Client, optional
        One task per value x fold on its cluster; None: in-process.
    progress : bool

    Returns
    -------
    dict
        ``name``, ``folds``: the ``len(values) x folds`` rows of :func:`cv_fold`;
        ``values``: per value ``{value, mean_bits_per_spike, se, n_failed}``; ``best``.

    Raises
    ------
    ParameterError
        An unknown name, fewer than 2 folds, or every fit of every value failing.
    """
    from neuromod.scale.cluster import run_tasks
    check_hyper_parameter(kind, name)
    values = list(values)
    if not values:
        raise ParameterError(f"--cv {name}: no value given")
    train_folds(recording, folds)                       # the folds exist (checked here)
    shared = recording if client is None else client.scatter(recording, broadcast=True)
    tasks = [{"kind": kind, "name": name, "value": v, "fold": j, "folds": int(folds),
              "recording": shared, "bin_size": bin_size, "epochs": epochs, "seed": seed,
              "options": dict(options or {})}
             for v in values for j in range(int(folds))]
    rows = [None] * len(tasks)
    for i, row in run_tasks(cv_fold, tasks, client, progress, desc="cross-validation",
                            unit="fit"):
        rows[i] = row
    summary = []
    for v in values:
        got = [r for r in rows if r["value"] == v]
        ok = np.array([r["bits_per_spike"] for r in got if not r["error"]], dtype=float)
        summary.append({"value": v, "mean_bits_per_spike": float(ok.mean()) if ok.size
                        else float("nan"),
                        "se": float(ok.std(ddof=1) / np.sqrt(ok.size)) if ok.size > 1
                        else float("nan"), "n_failed": len(got) - ok.size})
    means = [s["mean_bits_per_spike"] for s in summary]
    if all(m != m for m in means):
        first = next(r["error"] for r in rows if r["error"])
        raise ParameterError(f"--cv {name}: every fit failed ({first})")
    best = summary[int(np.nanargmax(means))]["value"]
    return {"name": name, "folds": rows, "values": summary, "best": best}
