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

__all__ = ["build", "fit_and_evaluate", "KINDS", "TRAINED"]

#: Model kinds, in the order ``--compare`` lists them by default.
KINDS = tuple(MODELS)
#: Kinds that train through the shared loop (epochs, device, checkpoints).
TRAINED = ("cnn", "tecos")


def build(kind, epochs=None, device="cpu"):
    """A fresh model of ``kind``."""
    if kind not in MODELS:
        raise ParameterError(f"unknown model {kind!r}; known: {', '.join(MODELS)}")
    mod, cls = MODELS[kind].split(":")
    C = getattr(importlib.import_module(mod), cls)
    if kind in TRAINED:
        return C(device=device, **({} if epochs is None else {"epochs": int(epochs)}))
    if device != "cpu":
        raise ParameterError(f"--device: the {kind} model fits on the CPU only")
    return C()


def fit_and_evaluate(kind, recording, bin_size=0.001, epochs=None, seed=0, device="cpu",
                     checkpoint=None, resume=False, progress=False, samples=100):
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
    """
    from neuromod.retina.evaluate import evaluate
    model = build(kind, epochs, device)
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
