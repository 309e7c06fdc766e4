"""Fit a retina model to a recording and evaluate it: the layer below ``neuromod fit``.

:func:`build` makes a model of a kind (:data:`~neuromod.retina.base.MODELS`), with
``epochs`` and ``device`` where it trains through :func:`neuromod.training.fit`.
:func:`fit_and_evaluate` fits it (checkpointed and resumable for the trained models),
samples as many repeats of the test stimulus as the data has, and evaluates it
(:func:`neuromod.retina.evaluate.evaluate`).
"""
import importlib
import time

from neuromod.errors import ParameterError
from neuromod.retina.base import MODELS, counts_to_spikes

__all__ = ["build", "fit_and_evaluate", "fit_runs", "run_fit", "KINDS", "TRAINED"]

#: Model kinds, in the order ``--compare`` lists them by default.
KINDS = tuple(MODELS)
#: Kinds that train through the shared loop (epochs, device, checkpoints).
TRAINED = ("cnn", "tecos")


def build(kind, epochs=None, device="cpu", options=None):
    """A fresh model of ``kind`` (``options``: more keywords of its constructor)."""
    if kind not in MODELS:
        raise ParameterError(f"unknown model {kind!r}; known: {', '.join(MODELS)}")
    mod, cls = MODELS[kind].split(":")
    C = getattr(importlib.import_module(mod), cls)
    options = dict(options or {})
    if kind in TRAINED:
        return C(device=device, **({} if epochs is None else {"epochs": int(epochs)}),
                 **options)
    if device != "cpu":
        raise ParameterError(f"--device: the {kind} model fits on the CPU only")
    return C(**options)


def fit_and_evaluate(kind, recording, bin_size=0.001, epochs=None, seed=0, device="cpu",
                     checkpoint=None, resume=False, progress=False, samples=100,
                     options=None):
    """Fit ``kind`` to ``recording`` and evaluate it on the test repeats.

    Returns
    -------
    model : RetinaModel
    report : dict
        ``model``, ``data``, ``n_units``, ``bin_size``, ``train_seconds``, ``test``
        (the evaluation) and ``history`` (per epoch, for the trained models).
    samples : SpikeTrains
        The model's own spikes for every repeat of the test stimulus.

    ``samples`` (argument) is the number of latent paths of a latent-variable model's
    importance-sampled likelihood and sampled intensity (100, the evaluation's default).
    ``options``: more keywords of the model's constructor (a cross-validated value).
    """
    from neuromod.retina.evaluate import evaluate
    model = build(kind, epochs, device, options)
    kw = dict(bin_size=bin_size, seed=seed, progress=progress)
    if kind in TRAINED:
        kw.update(epochs=epochs, checkpoint=checkpoint, resume=resume)
    elif resume:
        raise ParameterError(f"--resume: the {kind} model is fitted in one go, without "
                             "checkpoints")
    t0 = time.perf_counter()
    model.fit(recording, **kw)
    seconds = time.perf_counter() - t0
    test = evaluate(model, recording, seed=seed, n_samples=samples, intensity_samples=samples)
    draws = model.sample(recording.test_stimulus, recording.n_test_trials, seed=seed + 1,
                          frame_dt=recording.frame_dt)
    spikes = counts_to_spikes(draws, model.bin_size, seed=seed + 2)
    report = {"model": kind, "data": recording.name, "n_units": int(recording.n_units),
              "bin_size": float(model.bin_size), "train_seconds": seconds, "test": test,
              "history": list(getattr(model, "history", []) or [])}
    return model, report, spikes


def run_fit(task):
    """One run of :func:`fit_runs` (a Dask task): ``task`` holds ``kind``,
    ``recording`` and the keywords of :func:`fit_and_evaluate`; returns ``{state,
    report, samples}``, the model as :meth:`RetinaModel.state` (plain arrays, rebuilt
    by :func:`neuromod.retina.base.load_model`)."""
    kw = {k: v for k, v in task.items() if k not in ("kind", "recording")}
    model, report, samples = fit_and_evaluate(task["kind"], task["recording"], **kw)
    return {"state": model.state(), "report": report, "samples": samples}


def fit_runs(runs, client=None, progress=True):
    """Fit and evaluate several ``(kind, recording, keywords)`` runs, one task each on
    ``client``'s cluster (None: in-process, in order); yields ``(index, model, report,
    samples)`` as runs complete.

    Each recording is sent to the workers once (scattered); the trained models show no
    per-epoch bar on the workers (one bar here counts the runs). A run that raises stops
    the iteration with its error.
    """
    from neuromod.retina.base import load_model
    from neuromod.scale.cluster import run_tasks
    runs = list(runs)
    recs = {}
    for _, rec, _ in runs:
        recs.setdefault(id(rec), rec)
    if client is not None:
        shared = dict(zip(recs, client.scatter(list(recs.values()), broadcast=True)))
    else:
        shared = recs
    tasks = [{"kind": kind, "recording": shared[id(rec)], **dict(kw, progress=False)}
             for kind, rec, kw in runs]
    for i, out in run_tasks(run_fit, tasks, client, progress, desc="fit", unit="model"):
        yield i, load_model(out["state"]), out["report"], out["samples"]
