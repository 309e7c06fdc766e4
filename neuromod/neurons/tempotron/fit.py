"""Training runs of the tempotron family on named tasks or the user's own patterns,
checkpointed after every epoch and resumable: the layer below
``neuromod train tempotron|mst|eml|emlc|tdp``.

Models
    ``tempotron`` (binary rule, :data:`~.learning.BINARY_NEURON`), ``mst`` (the
    multi-spike tempotron: ``rule='gradient'``, Gütig 2016, or ``'correlation'``),
    ``eml``, ``emlc``, ``tdp`` (the impulse neuron, :mod:`.efficient`).
Data (:func:`load_task`)
    ``capacity``: the binary capacity task (N = 100, p = load x N patterns; scored
    on the training patterns, as the task is memorisation). ``aggregate-label``:
    Gütig's feature task, one fresh 100-trial cycle per epoch, scored on 100 fresh
    trials and on probes. ``spoken-digits``: the shipped spoken digits
    (:func:`~neuromod.auditory.digits.load_digits`) encoded by spiketrum at 1,000
    spikes/s, each code's channel and level an afferent
    (:func:`~neuromod.auditory.digits.spiketrum_afferents`, 512) reaching the neurons
    through delays of 0, 100 and 200 ms (:func:`~.tasks.delay_line`), one neuron per
    digit (``target='class'`` always, ``class_spikes`` default 20); trained on the
    six training accents, scored on the two held-out ones; impulse neurons get
    ``tau`` = 50 ms (the read-out of the ``tempotron-spoken-digits`` claim, without
    its warped training copies).
    ``spikes:PATH``: labelled patterns from a spike file
    (:func:`~.data.load_patterns`), 30 % held out (stratified, ``split_seed``);
    labels are the desired spike counts of one neuron (``target='count'``) or
    classes read out by one neuron per class, the most spikes winning
    (``target='class'``: ``class_spikes`` spikes for the right neuron, default 3, 0
    for the others). The binary tempotron takes labels 0/1.

Examples
--------
>>> task = load_task("capacity", "tempotron", load=0.2)
>>> W, neuron, report = train("tempotron", task, epochs=50)
>>> report["train_accuracy"], report["epochs"] <= 50
(1.0, True)
"""
import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np

from neuromod.errors import FileFormatError, ParameterError
from neuromod.neurons.tempotron import Patterns, Tempotron

__all__ = ["MODELS", "RECIPES", "TaskData", "load_task", "train", "save_model",
           "load_model"]

#: The models and their rule (``mst``: the default of ``--rule``).
MODELS = {"tempotron": "binary", "mst": "gradient", "eml": "eml", "emlc": "emlc",
          "tdp": "tdp"}

#: rule -> defaults: learning rate, momentum, epochs, initial weights N(mean, std^2).
RECIPES = {
    "binary": {"lr": 1e-3, "momentum": 0.99, "epochs": 100, "init_mean": 0.0,
               "init_std": 1e-3},
    "gradient": {"lr": 1e-4, "momentum": 0.9, "epochs": 100, "init_mean": 0.0,
                 "init_std": 0.01},
    "correlation": {"lr": 2e-3, "momentum": 0.0, "epochs": 100, "init_mean": 0.0,
                    "init_std": 0.01},
    "eml": {"lr": 0.03, "momentum": 0.0, "epochs": 100, "init_mean": 0.01, "init_std": 0.01},
    "emlc": {"lr": 0.03, "momentum": 0.0, "epochs": 100, "init_mean": 0.01, "init_std": 0.01},
    "tdp": {"lr": 0.03, "momentum": 0.0, "epochs": 100, "init_mean": 0.01, "init_std": 0.01},
}

DATA = ("capacity", "aggregate-label", "spoken-digits", "spikes:PATH")

#: The spoken-digit task: spiketrum's rate (spikes/s), the delay line (s) and the
#: impulse neurons' membrane time constant (s).
SPOKEN_DIGITS = {"rate": 1000.0, "delays": (0.0, 0.1, 0.2), "tau": 0.05}


@dataclass
class TaskData:
    """A task: training patterns and desired counts ``(P, neurons)`` (or a stream of
    fresh cycles), a test set, the labels, and whether the read-out is by class."""
    name: str
    train: Optional[tuple]
    test: Optional[tuple]
    labels_train: Optional[np.ndarray] = None
    labels_test: Optional[np.ndarray] = None
    by_class: bool = False
    stream: Optional[Callable] = None
    probes: Optional[dict] = None
    feature_task: object = None
    #: A neuron suited to the task, used when its type is the rule's (None: the rule's).
    neuron: object = None


def _rule(model, rule):
    if model not in MODELS:
        raise ParameterError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if rule is None:
        return MODELS[model]
    if model != "mst" or rule not in ("gradient", "correlation"):
        raise ParameterError(f"--rule: only mst has a choice of rule (gradient, "
                             f"correlation), got {model} --rule {rule}")
    return rule


def _split(labels, frac, seed):
    """Stratified held-out indices (``frac`` of each label)."""
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test.extend(idx[:int(round(frac * len(idx)))])
    test = np.sort(np.array(test, dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels)), test), test


def _subset(P, idx):
    counts = np.diff(P.offsets)[idx]
    take = np.concatenate([np.arange(P.offsets[i], P.offsets[i + 1]) for i in idx]) \
        if len(idx) else np.zeros(0, np.int64)
    return Patterns.from_arrays(P.times[take], P.afferents[take],
                                np.repeat(np.arange(len(idx)), counts), P.n_afferents,
                                P.duration, n_patterns=len(idx))


def load_task(data, model, seed=0, split_seed=0, load=1.0, target="count", class_spikes=None):
    """The task ``data`` for ``model`` (see the module's description).

    Raises
    ------
    ParameterError
        An unknown data name or labels the model cannot learn.
    FileFormatError, SpikeDataError
        A pattern file that cannot be read (the message names it).
    """
    from neuromod.neurons.tempotron.learning import latency_patterns
    _rule(model, None)
    if data == "capacity":
        if not load > 0:
            raise ParameterError(f"--load must be > 0, got {load!r}")
        P, y = latency_patterns(max(1, int(round(load * 100))), 100, seed=seed)
        return TaskData("capacity", (P, y[:, None]), None, y, None)
    if data == "aggregate-label":
        from neuromod.neurons.tempotron.tasks import FeatureTask
        if model == "tempotron":
            raise ParameterError("--data aggregate-label: the binary tempotron fires once; "
                                 "train mst, eml, emlc or tdp on aggregate labels")
        task = FeatureTask.make(n_afferents=200, seed=seed)

        def stream(epoch):
            P, counts = task.trials(100, seed=1_000_003 * (seed + 1) + epoch)
            return P, counts[:, :1]
        Pt, ct = task.trials(100, seed=seed + 999_999)
        return TaskData("aggregate-label", None, (Pt, ct[:, :1]), None, ct[:, 0],
                        stream=stream, probes=task.probes(20, seed=seed + 7),
                        feature_task=task)
    if data == "spoken-digits":
        return _spoken_digits(model, 20 if class_spikes is None else class_spikes)
    if isinstance(data, str) and data.startswith("spikes:"):
        from neuromod.neurons.tempotron.data import load_patterns
        path = data[len("spikes:"):]
        P, y = load_patterns(path)
        if model == "tempotron" and not np.isin(y, (0, 1)).all():
            raise ParameterError(f"{path}: the binary tempotron needs labels 0 or 1, got "
                                 f"{sorted(set(y.tolist()))[:6]}")
        if (y < 0).any():
            raise ParameterError(f"{path}: labels must be >= 0")
        tr, te = _split(y, 0.3, split_seed)
        if target == "class" and model != "tempotron":
            D, yc = _class_targets(y, 3 if class_spikes is None else class_spikes)
            return TaskData(f"spikes:{os.path.basename(path)}", (_subset(P, tr), D[tr]),
                            (_subset(P, te), D[te]), yc[tr], yc[te], by_class=True)
        return TaskData(f"spikes:{os.path.basename(path)}", (_subset(P, tr), y[tr, None]),
                        (_subset(P, te), y[te, None]), y[tr], y[te])
    raise ParameterError(f"--data must be one of {', '.join(DATA)}, got {data!r}")


def _class_targets(y, class_spikes):
    """Desired counts ``(P, classes)``: ``class_spikes`` for the label's neuron, 0 else;
    and the label's class index."""
    classes = np.unique(y)
    return (y[:, None] == classes[None, :]) * int(class_spikes), np.searchsorted(classes, y)


def _spoken_digits(model, class_spikes):
    from neuromod.auditory.digits import encode_set, load_digits, spiketrum_afferents
    from neuromod.neurons.tempotron.efficient import ImpulseNeuron
    from neuromod.neurons.tempotron.tasks import delay_line
    if model == "tempotron":
        raise ParameterError("--data spoken-digits has ten classes: train mst, eml, emlc or "
                             "tdp (one neuron per digit)")
    o = SPOKEN_DIGITS
    split = {}
    for name in ("train", "test"):
        items = load_digits(name)
        spikes, n_levels = encode_set(items, "spiketrum", o["rate"], n_jobs=2)
        inputs, n_aff = spiketrum_afferents(spikes, n_levels)
        y = np.array([it[2] for it in items], dtype=np.int64)
        split[name] = (delay_line(inputs, n_aff, o["delays"]), *_class_targets(y, class_spikes))
    (Ptr, Dtr, ytr), (Pte, Dte, yte) = split["train"], split["test"]
    return TaskData("spoken-digits", (Ptr, Dtr), (Pte, Dte), ytr, yte, by_class=True,
                    neuron=ImpulseNeuron(tau=o["tau"]))


def _neuron(rule, neuron, suggested=None):
    """The neuron of a run: ``neuron``, else the task's ``suggested`` one where it is
    of the rule's type, else the rule's default."""
    from neuromod.neurons.tempotron.efficient import ImpulseNeuron
    from neuromod.neurons.tempotron.learning import BINARY_NEURON
    default = {"binary": BINARY_NEURON, "gradient": Tempotron(),
               "correlation": Tempotron()}.get(rule, ImpulseNeuron())
    if neuron is None:
        return suggested if type(suggested) is type(default) else default
    if type(neuron) is not type(default):
        raise ParameterError(f"rule {rule} runs on a {type(default).__name__}, got "
                             f"{type(neuron).__name__}")
    return neuron


def _score(rule, P, desired, labels, W, neuron, by_class):
    """Accuracy: binary decisions, exact counts, or the most-spikes class."""
    from neuromod.neurons.tempotron.learning import classify_binary, spike_counts
    if P is None or P.n_patterns == 0:
        return None
    if rule == "binary":
        return float((classify_binary(P, W[0], neuron) == labels).mean())
    n = spike_counts(P, W, neuron)
    if by_class:
        return float((np.argmax(n, axis=1) == labels).mean())
    return float((n == desired).all(axis=1).mean())


def train(model, task, rule=None, epochs=None, lr=None, momentum=None, seed=0, neuron=None,
          margin=0.0, jitter=0.0, checkpoint=None, resume=False, progress=False):
    """Train ``model`` on ``task`` (:func:`load_task`); options default to the rule's
    :data:`RECIPES`. With ``checkpoint`` the run's state is written atomically after
    every epoch; ``resume`` continues it (same options; ``epochs`` may grow).

    Returns
    -------
    weights : ndarray (neurons, n_afferents)
    neuron : Tempotron or ImpulseNeuron
    report : dict
        Data, rule, options, ``history`` (per epoch: ``errors``, ``seconds``),
        ``epochs``, ``train_accuracy``, ``test_accuracy`` (None without a test set) and
        ``train_seconds``; for aggregate labels, the probe responses.
    """
    from neuromod.neurons.tempotron._exact import binary_epoch
    from neuromod.neurons.tempotron.learning import multispike_epoch, offset_to_rate
    from neuromod.outputs import atomic_write
    rule = _rule(model, rule)
    rec = RECIPES[rule]
    epochs = rec["epochs"] if epochs is None else epochs
    lr = rec["lr"] if lr is None else float(lr)
    momentum = rec["momentum"] if momentum is None else float(momentum)
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 1):
        raise ParameterError(f"epochs must be an integer >= 1, got {epochs!r}")
    if not (lr > 0 and 0 <= momentum < 1):
        raise ParameterError(f"need lr > 0 and momentum in [0, 1), got {lr!r}, {momentum!r}")
    neuron = _neuron(rule, neuron, task.neuron)
    if rule == "binary" and (margin or jitter):
        raise ParameterError("--margin and --jitter are options of the multi-spike rules")
    first = task.train if task.train is not None else task.stream(0)
    n_neurons, n_aff = first[1].shape[1], first[0].n_afferents
    identity = {"model": model, "rule": rule, "data": task.name, "lr": lr, "momentum": momentum, "seed": int(seed), "margin": float(margin),
                "jitter": float(jitter), "neuron": asdict(neuron)}
    rng = np.random.default_rng(seed)
    W = rng.normal(rec["init_mean"], rec["init_std"], (n_neurons, n_aff))
    if task.stream is not None:              # Gütig's pre-training to 5 Hz
        W += offset_to_rate(first[0], W, 5.0, neuron)
    dW = np.zeros_like(W)
    history, start, seconds = [], 0, 0.0
    if resume:
        W, dW, rng, history, seconds = _read_checkpoint(checkpoint, identity)
        start = len(history)
    bar = None
    if progress:
        import sys

        from tqdm import tqdm
        bar = tqdm(total=epochs, initial=start, file=sys.stderr, unit="epoch",
                   desc=f"train {model}", leave=False)
    try:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            P, D = task.train if task.stream is None else task.stream(epoch)
            order = rng.permutation(P.n_patterns).astype(np.int64)
            if rule == "binary":
                err = int(binary_epoch(P.times, P.afferents, P.offsets, order, D[:, 0], W[0],
                                       dW[0], lr, momentum, P.duration, neuron.tau_m,
                                       neuron.tau_s, neuron.theta, neuron.v0))
            else:
                if jitter:
                    from neuromod.neurons.tempotron.tasks import jitter as shake
                    P = shake(P, jitter, int(rng.integers(2**62)))
                err = int(multispike_epoch(P, D, W, dW, rule, neuron, lr, momentum, order,
                                           margin).sum())
            dt = time.perf_counter() - t0
            seconds += dt
            history.append({"epoch": epoch + 1, "errors": err, "seconds": dt})
            if checkpoint is not None:
                state = {"identity": identity, "history": history, "seconds": seconds,
                         "rng": rng.bit_generator.state}
                atomic_write(checkpoint, lambda tmp: np.savez(
                    tmp, W=W, dW=dW, state=np.array(json.dumps(state))))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(errors=err)
            if err == 0 and task.stream is None:
                break
    finally:
        if bar is not None:
            bar.close()
    report = {"model": model, "rule": rule, "data": task.name, **{
        k: identity[k] for k in ("lr", "momentum", "seed", "margin", "jitter", "neuron")},
        "epochs": len(history), "history": history, "train_seconds": seconds,
        "resumed_from": start if resume else None, "n_neurons": int(n_neurons),
        "n_afferents": int(n_aff)}
    if task.train is not None:
        report["train_accuracy"] = _score(rule, *task.train[:2], task.labels_train, W, neuron,
                                          task.by_class)
    else:
        report["train_accuracy"] = None
    report["test_accuracy"] = (None if task.test is None else
                               _score(rule, *task.test[:2], task.labels_test, W, neuron,
                                      task.by_class))
    if task.probes is not None:
        from neuromod.neurons.tempotron.learning import spike_counts
        resp = {str(f): float(spike_counts(P, W, neuron).mean())
                for f, (P, _) in task.probes.items()}
        report["probes"] = {"clue_spikes": resp.pop("0"),
                            "background_hz": resp.pop("gap") / task.probes["gap"][0].duration,
                            "distractor_spikes": resp}
    return W, neuron, report


def _read_checkpoint(path, identity):
    if path is None or not os.path.isfile(path):
        raise ParameterError(f"--resume: no checkpoint at {path} (train without --resume "
                             "first)")
    try:
        with np.load(path, allow_pickle=False) as z:
            W, dW, state = z["W"].copy(), z["dW"].copy(), json.loads(str(z["state"]))
    except (OSError, ValueError, KeyError) as exc:
        raise FileFormatError(f"{path}: not a tempotron checkpoint ({exc})") from None
    if state["identity"] != json.loads(json.dumps(identity)):
        diff = [k for k in identity if state["identity"].get(k) != json.loads(
            json.dumps(identity))[k]]
        raise ParameterError(f"--resume: {path} was written with other options "
                             f"({', '.join(diff)}); give the same options or another --out")
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    return W, dW, rng, state["history"], float(state["seconds"])


def save_model(path, weights, neuron, meta=None):
    """Write trained weights and their neuron to ``path`` (``.npz``), atomically."""
    from neuromod.outputs import atomic_write
    info = {"neuron": type(neuron).__name__, "parameters": asdict(neuron), **(meta or {})}
    atomic_write(path, lambda tmp: np.savez(tmp, weights=np.asarray(weights),
                                            info=np.array(json.dumps(info))))


def load_model(path):
    """``(weights, neuron, info)`` from :func:`save_model`'s file.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> save_model(p, np.ones((1, 3)), Tempotron(theta=2.0), {"model": "mst"})
    >>> W, neuron, info = load_model(p)
    >>> W.shape, neuron.theta, info["model"]
    ((1, 3), 2.0, 'mst')
    """
    from neuromod.neurons.tempotron.efficient import ImpulseNeuron
    try:
        with np.load(path, allow_pickle=False) as z:
            W, info = z["weights"].copy(), json.loads(str(z["info"]))
        kind = {"Tempotron": Tempotron, "ImpulseNeuron": ImpulseNeuron}[info["neuron"]]
        neuron = kind(**info["parameters"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FileFormatError(f"{path}: not a tempotron model file ({exc})") from None
    return W, neuron, info
