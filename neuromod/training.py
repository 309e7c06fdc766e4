"""The training loop every trainable family shares: seeded, checkpointed, resumable.

:func:`fit` trains a classifier (a ``torch.nn.Module`` whose ``forward(x,
generator=...)`` returns one score per class, such as
:class:`~neuromod.backends.layers.SpikingNet`) by mini-batch gradient descent on
the cross-entropy of its scores:

* **Seeded.** The shuffling order comes from a CPU ``torch.Generator`` seeded
  with ``seed``; the network's random draws (stochastic firing) from a second one
  on the training device (``SeedSequence([seed, 1])``); each validation pass from a
  fresh generator (``SeedSequence([seed, 2, epoch])``), so the score of an epoch
  does not depend on what ran before it. :func:`seeded` builds a network's initial
  weights from a seed without touching torch's global generator.
* **Early stopping.** With a validation split, the weights of the epoch with the
  best validation accuracy are kept (ties: the earlier epoch), and training stops
  after ``patience`` epochs without improvement.
* **Checkpoints.** After every epoch the weights, the optimiser, both generators,
  the best weights so far, the history and the run's identity (the options and
  whatever the caller passes as ``identity``: model definition, data) are written
  atomically to ``checkpoint`` (:func:`neuromod.backends.serialize.save_state`:
  ``.npz`` with a JSON header, no pickle). ``resume=True`` continues from it; a run
  killed at any point and resumed ends with the same weights as one that was never
  interrupted (it loses at most the epoch in progress). Resuming with a different
  identity is a one-line error naming what differs; ``epochs`` may grow.
* **Data-parallel.** Inside an initialised ``torch.distributed`` process group of W
  processes (``neuromod train --nproc W``, :mod:`neuromod.scale.ddp`), every process
  draws the same batch order and trains on every W-th sample of each global batch of
  ``batch_size``; each scales its shard's mean loss by its share of the batch and the
  gradients are summed across processes before every step, so a step is the step of one
  process on the whole batch (to float rounding). Rank 0 alone scores the validation
  split (the score is broadcast), writes the checkpoint and shows the progress bar.
  Stochastic firing draws the variates of the whole global batch on every process and
  keeps its own rows (:class:`~neuromod.backends.noise.BatchShard`), so each sample
  gets the noise one process gives it and the generators stay in step; a network that
  draws random numbers any other way is refused. BatchNorm layers become
  ``SyncBatchNorm`` on CUDA; on the CPU (gloo) they are refused, as torch's
  SyncBatchNorm runs on GPUs only.

Examples
--------
>>> import numpy as np, torch
>>> X = np.random.default_rng(0).random((40, 3)).astype(np.float32)
>>> y = (X[:, 0] > 0.5).astype(np.int64)
>>> net = seeded(0, lambda: torch.nn.Linear(3, 2))
>>> class Scores(torch.nn.Module):          # any module with forward(x, generator=None)
...     def __init__(self, lin):
...         super().__init__()
...         self.lin = lin
...     def forward(self, x, generator=None):
...         return self.lin(x)
>>> res = fit(Scores(net), (X, y), (X, y), TrainOptions(epochs=30, lr=0.5, batch_size=8))
>>> res.best_epoch >= 1 and res.history[-1]["val_accuracy"] > 0.8
True
"""
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from neuromod.errors import FileFormatError, ParameterError

__all__ = ["TrainOptions", "TrainResult", "fit", "evaluate", "seeded", "check_device",
           "as_tensors", "generator", "train_classifier", "learning_curve_figure", "OPTIMIZERS", "CHECKPOINT_VERSION"]

#: Optimisers :func:`fit` builds (``torch.optim`` classes).
OPTIMIZERS = ("sgd", "adam")
#: Version of the checkpoint layout (the ``checkpoint`` key of the state file).
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class TrainOptions:
    """Options of :func:`fit`.

    Attributes
    ----------
    epochs : int
        Passes over the training set (>= 1).
    batch_size : int
    lr : float
        Learning rate (> 0).
    optimizer : {'sgd', 'adam'}
    momentum : float
        SGD momentum in [0, 1).
    weight_decay : float
        L2 penalty (>= 0).
    seed : int
    device : str
        ``'cpu'`` or ``'cuda'`` (``'cuda:K'``).
    patience : int or None
        Stop after this many epochs without a better validation accuracy.
    ensemble : int
        Stochastic passes averaged when scoring (validation and test).

    Examples
    --------
    >>> TrainOptions(lr=0.1).optimizer
    'sgd'
    >>> TrainOptions(lr=0)
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: lr must be > 0, got 0
    """
    epochs: int = 40
    batch_size: int = 32
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "cpu"
    patience: Optional[int] = None
    ensemble: int = 1

    def __post_init__(self):
        def bad(name, rule):
            raise ParameterError(f"{name} must be {rule}, got {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "ensemble"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                bad(name, "an integer >= 1")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            bad("lr", "> 0")
        if self.optimizer not in OPTIMIZERS:
            bad("optimizer", "one of " + ", ".join(OPTIMIZERS))
        if not (0.0 <= self.momentum < 1.0):
            bad("momentum", "in [0, 1)")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            bad("weight_decay", ">= 0")
        if self.patience is not None and (isinstance(self.patience, bool) or
                                          not isinstance(self.patience, (int, np.integer))
                                          or self.patience < 1):
            bad("patience", "an integer >= 1 or None")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or \
                self.seed < 0:
            bad("seed", "an integer >= 0")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    history : list of dict
        Per epoch: ``epoch`` (1-based), ``loss`` (mean training loss),
        ``train_accuracy`` (on the training batches, as they were trained),
        ``val_accuracy`` (None without validation data), ``seconds``.
    best_epoch : int
        The epoch whose weights the network holds (the last without validation).
    best_val_accuracy : float or None
    train_seconds : float
        Training time summed over every run of a resumed training.
    stopped_early : bool
    resumed_from : int
        The epoch a resumed run continued after (0 for a fresh run).
    """
    history: list = field(default_factory=list)
    best_epoch: int = 0
    best_val_accuracy: Optional[float] = None
    train_seconds: float = 0.0
    stopped_early: bool = False
    resumed_from: int = 0


def _torch():
    import torch
    return torch


def check_device(device: str):
    """``torch.device(device)``; a one-line ParameterError for an unknown device or
    ``cuda`` on a machine without one.

    Examples
    --------
    >>> check_device("cpu").type
    'cpu'
    """
    torch = _torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ParameterError(f"unknown device {device!r}; use cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device {device!r}: no CUDA GPU is available on this machine "
                             "(use --device cpu)")
    if dev.type not in ("cpu", "cuda"):
        raise ParameterError(f"device {device!r}: only cpu and cuda are supported")
    return dev


def seeded(seed: int, build):
    """``build()`` with torch's random generators seeded by ``seed`` and restored
    afterwards (initial weights from a seed, no global state changed).

    Examples
    --------
    >>> import torch
    >>> a = seeded(3, lambda: torch.nn.Linear(2, 2)).weight
    >>> b = seeded(3, lambda: torch.nn.Linear(2, 2)).weight
    >>> bool((a == b).all())
    True
    """
    torch = _torch()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def generator(seed_words, device=None):
    """A ``torch.Generator`` on ``device`` seeded from the integers ``seed_words``
    through ``numpy.random.SeedSequence`` (independent streams for distinct words).

    Examples
    --------
    >>> import torch
    >>> a, b = generator([0, 1]), generator([0, 1])
    >>> torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b))
    True
    """
    torch = _torch()
    seed = int(np.random.SeedSequence([int(w) for w in seed_words]).generate_state(1,
                                                                                  np.uint64)[0])
    return torch.Generator(device=device).manual_seed(seed % (2 ** 63))


def as_tensors(data, device=None):
    """``data = (X, y)`` (arrays, tensors or a :class:`~neuromod.datasets.Dataset`) as
    float32 inputs and int64 labels on ``device``; empty or mismatched data are a
    :class:`~neuromod.errors.ParameterError`.

    Examples
    --------
    >>> X, y = as_tensors(([[0.0, 1.0]], [3]))
    >>> X.dtype, y.tolist()
    (torch.float32, [3])
    """
    torch = _torch()
    X, y = data
    X = torch.as_tensor(np.asarray(X, dtype=np.float32) if not torch.is_tensor(X) else X,
                        dtype=torch.float32).to(device)
    y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y,
                        dtype=torch.long).to(device)
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ParameterError(f"data: {X.shape[0]} inputs for {y.shape[0]} labels")
    return X, y


def _scores(net, X, generator, ensemble, batch):
    """Scores of ``X`` in eval mode, averaged over ``ensemble`` passes."""
    torch = _torch()
    out = []
    with torch.no_grad():
        for i in range(0, X.shape[0], batch):
            xb = X[i:i + batch]
            if hasattr(net, "predict"):
                out.append(net.predict(xb, ensemble=ensemble, generator=generator))
            else:
                out.append(net(xb, generator=generator))
    return torch.cat(out)


def evaluate(net, data, ensemble: int = 1, seed: int = 0, device=None, batch_size: int = 512):
    """Accuracy of ``net`` on ``data = (X, y)`` in eval mode, scores averaged over
    ``ensemble`` stochastic passes (a net's ``predict`` when it has one), the
    variates drawn from a generator seeded with ``seed``.

    Examples
    --------
    >>> import torch
    >>> class Const(torch.nn.Module):
    ...     def forward(self, x, generator=None):
    ...         return torch.stack([x[:, 0], 1 - x[:, 0]], 1)
    >>> evaluate(Const(), (torch.tensor([[1.0], [0.0]]), torch.tensor([0, 1])))
    1.0
    """
    torch = _torch()
    dev = device if device is not None else next(
        (p.device for p in net.parameters()), torch.device("cpu"))
    X, y = as_tensors(data, dev)
    was = net.training
    net.eval()
    try:
        s = _scores(net, X, generator([seed, 3], dev), ensemble, batch_size)
    finally:
        net.train(was)
    return float((s.argmax(1) == y).double().mean())


def _cross_entropy(net, xb, yb, gen):
    """The classifier objective: cross-entropy of the scores, and the right answers."""
    torch = _torch()
    scores = net(xb, generator=gen)
    return (torch.nn.functional.cross_entropy(scores, yb),
            int((scores.detach().argmax(1) == yb).sum()))


def _identity_diff(a, b, prefix=""):
    """The first path where two JSON-like values differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{prefix}{k}"
            d = _identity_diff(a[k], b[k], f"{prefix}{k}.")
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return prefix.rstrip(".") or "value"
        for i, (x, z) in enumerate(zip(a, b)):
            d = _identity_diff(x, z, f"{prefix}{i}.")
            if d:
                return d
        return None
    return None if a == b else (prefix.rstrip(".") or "value")


def _canonical(obj):
    """JSON round trip: tuples become lists, so identities compare as stored."""
    import json
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _load_checkpoint(path, net, opt, gens, identity):
    from neuromod.backends.serialize import load_state
    torch = _torch()
    state = load_state(path)        # FileFormatError (one line) when damaged
    try:
        if not isinstance(state, dict) or state.get("checkpoint") != CHECKPOINT_VERSION:
            raise ValueError("not a training checkpoint")
        diff = _identity_diff(_canonical(identity), state["identity"])
        if diff is not None:
            raise ParameterError(f"{path}: the checkpoint was written with different options "
                                 f"({diff}); start afresh without --resume or use the "
                                 "original options")
        own = net.state_dict()
        weights = state["model"]
        if set(weights) != set(own) or any(tuple(weights[k].shape) != tuple(own[k].shape)
                                           for k in own):
            raise ValueError("weights do not fit this network")
        net.load_state_dict(weights)
        opt.load_state_dict(state["optimizer"])
        for name, g in gens.items():
            g.set_state(state["generators"][name].to(torch.uint8).cpu())
        return state
    except ParameterError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as exc:
        text = " ".join(str(exc).split())[:100]
        raise FileFormatError(f"{path}: not a checkpoint of this training ({text})") from None


def _process_group():
    """``(rank, world size)`` of the initialised ``torch.distributed`` group, else
    ``(0, 1)``."""
    torch = _torch()
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _data_parallel_net(net, dev):
    """``net`` ready for data-parallel steps: BatchNorm as SyncBatchNorm on CUDA,
    refused on the CPU."""
    torch = _torch()
    norms = (torch.nn.modules.batchnorm._BatchNorm,)
    if any(isinstance(m, norms) for m in net.modules()):
        if torch.device(dev).type != "cuda":
            raise ParameterError("--nproc: this network has BatchNorm layers, which "
                                 "data-parallel training turns into SyncBatchNorm; torch "
                                 "runs SyncBatchNorm on GPUs only: use --device cuda or "
                                 "--nproc 1")
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    return net


def _shard_objective(objective, net, xb, yb, shard):
    """The objective on one process's rows, its stochastic firing drawn through
    ``shard`` (:class:`~neuromod.backends.noise.BatchShard`); a network that draws noise
    any other way is refused."""
    try:
        return objective(net, xb, yb, shard)
    except TypeError as exc:
        if "enerator" not in str(exc):
            raise
        raise ParameterError("--nproc: this network draws random numbers outside the "
                             "firing variates (neuromod.backends.noise.variates), which "
                             "data-parallel training cannot split by sample; train it in "
                             "one process (--nproc 1)") from None


def _sum_gradients(params):
    """Sum every parameter's gradient over the processes (one flat all-reduce); a
    parameter without a gradient on this process counts as zero."""
    torch = _torch()
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    k = 0
    for p, g in zip(params, grads):
        m = g.numel()
        p.grad = flat[k:k + m].view_as(p).clone()
        k += m


def _sum_scalars(total, correct, dev):
    """The epoch's loss sum and right answers summed over the processes (a tensor on
    the training device: nccl reduces CUDA tensors only)."""
    torch = _torch()
    t = torch.tensor([float(total), float(-1 if correct is None else correct)],
                     dtype=torch.float64, device=dev)
    torch.distributed.all_reduce(t)
    return float(t[0]), (None if correct is None else int(round(float(t[1]))))


def _broadcast_scalar(value, dev):
    torch = _torch()
    t = torch.tensor([float(value)], dtype=torch.float64, device=dev)
    torch.distributed.broadcast(t, 0)
    return float(t[0])


def fit(net, train, val=None, options: TrainOptions = TrainOptions(), checkpoint=None,
        resume: bool = False, identity: Optional[dict] = None, progress: bool = False,
        on_epoch=None, objective=None, val_score=None) -> TrainResult:
    """Train ``net`` on ``train = (X, y)``; see the module docstring.

    Parameters
    ----------
    net : torch.nn.Module
        ``forward(x, generator=None)`` returns ``(batch, n_classes)`` scores; it is
        moved to ``options.device`` and trained in place (it ends holding the best
        validation weights, or the last ones without ``val``).
    train, val : (X, y)
        Inputs (float) and integer labels, arrays or tensors.
    options : TrainOptions
    checkpoint : path, optional
        Written atomically after every epoch.
    resume : bool
        Continue from ``checkpoint`` (which must exist).
    identity : dict, optional
        JSON-ready description of the run (model, data...) stored in the checkpoint
        and compared on resume, with the options.
    progress : bool
        A tqdm bar over epochs on stderr.
    on_epoch : callable, optional
        ``on_epoch(record)`` after every epoch (after its checkpoint is written).
    objective : callable, optional
        ``objective(net, xb, yb, generator) -> (loss, n_correct[, value])``: the
        mini-batch loss to minimise and the number of right answers in the batch
        (None when the model is not a classifier: ``train_accuracy`` is then None);
        ``value``, when given, is the loss to report (for a ``loss`` that only has
        the right gradient). Default: the cross-entropy of ``net``'s scores.
    val_score : callable, optional
        ``val_score(net, X, y, generator) -> float``, higher is better: what early
        stopping follows and the history records as ``val_accuracy``. Default: the
        accuracy of the scores averaged over ``options.ensemble`` passes.

    Returns
    -------
    TrainResult

    Raises
    ------
    ParameterError
        ``resume`` without a checkpoint file, or with different options.
    FileFormatError
        A checkpoint that is damaged or does not fit ``net``.
    """
    torch = _torch()
    from neuromod.backends.noise import BatchShard
    from neuromod.backends.serialize import save_state
    from neuromod.outputs import pause_point
    dev = check_device(options.device)
    rank, world = _process_group()
    if world > 1:
        net = _data_parallel_net(net, dev)
    lead = rank == 0
    # a resumed run may run more epochs (or on another device) than it started with
    ident = _canonical({"options": {k: v for k, v in options.to_dict().items()
                                    if k not in ("device", "epochs")}, "run": identity or {}})
    if resume and (checkpoint is None or not os.path.exists(checkpoint)):
        raise ParameterError(f"--resume: no checkpoint at {checkpoint} (train without "
                             "--resume first)")
    net.to(dev)
    Xtr, ytr = as_tensors(train, dev)
    Xva, yva = as_tensors(val, dev) if val is not None else (None, None)
    params = [p for p in net.parameters() if p.requires_grad]
    if options.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=options.lr, momentum=options.momentum,
                              weight_decay=options.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=options.lr, weight_decay=options.weight_decay)
    gens = {"shuffle": generator([options.seed, 0], "cpu"),
            "noise": generator([options.seed, 1], dev)}
    objective = objective or _cross_entropy
    val_score = val_score or (lambda net_, X, y, g: float(
        (_scores(net_, X, g, options.ensemble, 512).argmax(1) == y).double().mean()))
    res = TrainResult()
    best_state, bad_epochs, start = None, 0, 0
    if resume:
        st = _load_checkpoint(checkpoint, net, opt, gens, ident)
        start = int(st["epoch"])
        res.history = list(st["history"])
        res.best_epoch, res.best_val_accuracy = int(st["best_epoch"]), st["best_val_accuracy"]
        res.train_seconds, bad_epochs = float(st["train_seconds"]), int(st["bad_epochs"])
        res.stopped_early = bool(st["stopped_early"])
        best_state = st["best_model"]
        res.resumed_from = start
    n = Xtr.shape[0]
    if world > 1:
        for t in list(net.parameters()) + list(net.buffers()):    # rank 0's weights
            torch.distributed.broadcast(t.data, 0)
    bar = None
    if progress and lead:
        from tqdm import tqdm
        bar = tqdm(total=options.epochs, initial=start, file=sys.stderr, unit="epoch",
                   desc="training", leave=False)
    try:
        epoch = start
        while epoch < options.epochs and not res.stopped_early:
            t0 = time.perf_counter()
            net.train()
            perm = torch.randperm(n, generator=gens["shuffle"]).to(dev)
            total, correct = 0.0, 0
            for i in range(0, n, options.batch_size):
                idx = perm[i:i + options.batch_size]
                opt.zero_grad()
                if world > 1:
                    rows = list(range(rank, idx.numel(), world))
                    weight = len(rows) / idx.numel()
                    if not rows:        # a last batch smaller than the group: draw along
                        rows, weight = [0], 0.0
                    share = idx[rows]
                    res_b = _shard_objective(objective, net, Xtr[share], ytr[share],
                                             BatchShard(gens["noise"], rows, idx.numel()))
                    loss, right = res_b[0], res_b[1]
                    if not weight and right is not None:
                        right = 0
                    (loss * weight).backward()
                    value = (float(res_b[2]) if len(res_b) > 2 else float(loss.detach())) \
                        if weight else 0.0
                    _sum_gradients(params)
                    total += value * len(rows) * (weight > 0)
                else:
                    res_b = objective(net, Xtr[idx], ytr[idx], gens["noise"])
                    loss, right = res_b[0], res_b[1]
                    loss.backward()
                    value = float(res_b[2]) if len(res_b) > 2 else float(loss.detach())
                    total += value * idx.numel()
                opt.step()
                correct = None if right is None or correct is None else correct + int(right)
            if world > 1:
                total, correct = _sum_scalars(total, correct, dev)
            epoch += 1
            rec = {"epoch": epoch, "loss": total / n,
                   "train_accuracy": None if correct is None else correct / n,
                   "val_accuracy": None}
            if Xva is not None:
                net.eval()
                score = 0.0
                if lead:
                    with torch.no_grad():
                        score = float(val_score(
                            net, Xva, yva, generator([options.seed, 2, epoch], dev)))
                rec["val_accuracy"] = _broadcast_scalar(score, dev) if world > 1 else score
                if res.best_val_accuracy is None or rec["val_accuracy"] > res.best_val_accuracy:
                    res.best_val_accuracy, res.best_epoch, bad_epochs = rec["val_accuracy"], \
                        epoch, 0
                    best_state = {k: v.detach().clone().cpu() for k, v in net.state_dict().items()}
                else:
                    bad_epochs += 1
                    if options.patience is not None and bad_epochs >= options.patience:
                        res.stopped_early = True
            else:
                res.best_epoch = epoch
            rec["seconds"] = time.perf_counter() - t0
            res.train_seconds += rec["seconds"]
            res.history.append(rec)
            if checkpoint is not None and lead:
                save_state({"checkpoint": CHECKPOINT_VERSION, "identity": ident, "epoch": epoch,
                            "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                            "optimizer": opt.state_dict(),
                            "generators": {k: g.get_state() for k, g in gens.items()},
                            "best_model": best_state, "best_epoch": res.best_epoch,
                            "best_val_accuracy": res.best_val_accuracy,
                            "bad_epochs": bad_epochs, "stopped_early": res.stopped_early,
                            "history": res.history, "train_seconds": res.train_seconds},
                           checkpoint)
            if world > 1:
                torch.distributed.barrier()       # the checkpoint is written before a kill
            if lead:
                pause_point(f"train-epoch-{epoch}")
            if bar is not None:
                bar.update(1)
                if rec["val_accuracy"] is not None:
                    bar.set_postfix(loss=f"{rec['loss']:.3f}", val=f"{rec['val_accuracy']:.3f}")
            if on_epoch is not None:
                on_epoch(rec)
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        net.load_state_dict({k: v.to(dev) for k, v in best_state.items()})
    net.eval()
    return res


def train_classifier(build, data="digits", options: TrainOptions = TrainOptions(),
                     split_seed: int = 0, checkpoint=None, resume: bool = False,
                     identity: Optional[dict] = None, progress: bool = False):
    """Load a data set, split it, build a network, :func:`fit` it and score it on the
    held-out test split: the recipe behind ``neuromod train``.

    The splits are :func:`neuromod.datasets.split` of ``split_seed`` (test = 30 %,
    validation = 10 % of the rest, both stratified); the network's initial
    weights come from ``options.seed`` (:func:`seeded`); the validation split
    drives best-epoch selection and early stopping, and the test split is scored
    once, at the end, with ``options.ensemble`` passes.

    Parameters
    ----------
    build : callable
        ``build(in_shape, n_classes)`` returns the untrained network (a module with
        ``forward(x, generator=None)``; a ``config()`` method, when it has one, goes
        into the checkpoint's identity).
    data : str or Dataset
        A :func:`neuromod.datasets.load_dataset` spec, or a loaded set.
    options : TrainOptions
    split_seed : int
    checkpoint, resume, identity, progress :
        As in :func:`fit` (the data spec, the split seed and the network's
        configuration are added to ``identity``).

    Returns
    -------
    net : torch.nn.Module
        Trained, in eval mode, on the CPU.
    report : dict
        ``data, n_train, n_val, n_test, epochs, best_epoch, stopped_early,
        resumed_from, train_seconds, val_accuracy`` (best epoch), ``test_accuracy``,
        ``history`` and ``options``.

    Examples
    --------
    >>> import torch
    >>> build = lambda shape, k: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, k))
    >>> class Scores(torch.nn.Module):
    ...     def __init__(self, shape, k):
    ...         super().__init__()
    ...         self.net = build(shape, k)
    ...     def forward(self, x, generator=None):
    ...         return self.net(x)
    >>> net, report = train_classifier(Scores, "digits", TrainOptions(epochs=3, lr=0.5))
    >>> report["n_train"], report["n_val"], report["n_test"], report["test_accuracy"] > 0.8
    (1132, 126, 539, True)
    """
    from neuromod.datasets import Dataset, load_dataset, split
    ds = data if isinstance(data, Dataset) else load_dataset(data)
    tr, va, te = split(ds.y, seed=split_seed)
    net = seeded(options.seed, lambda: build(ds.in_shape, ds.n_classes))
    ident = dict(identity or {})
    ident.update(data=ds.name, split_seed=int(split_seed))
    if hasattr(net, "config"):
        ident["net"] = net.config()
    result = fit(net, ds.subset(tr), ds.subset(va) if len(va) else None, options,
                 checkpoint=checkpoint, resume=resume, identity=ident, progress=progress)
    test = evaluate(net, ds.subset(te), ensemble=options.ensemble, seed=options.seed)
    net.cpu()
    report = {"data": ds.name, "n_train": len(tr), "n_val": len(va), "n_test": len(te),
              "epochs": len(result.history), "best_epoch": result.best_epoch,
              "stopped_early": result.stopped_early, "resumed_from": result.resumed_from,
              "train_seconds": result.train_seconds,
              "val_accuracy": result.best_val_accuracy, "test_accuracy": test,
              "history": result.history, "options": options.to_dict()}
    return net, report


def learning_curve_figure(history, path, title: str = ""):
    """Write the training loss and the training/validation accuracy per epoch (a
    ``history`` of :class:`TrainResult`) as a two-panel figure to ``path``; the
    best validation epoch is marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.plot(epochs, [r["loss"] for r in history], color="k")
    a.set_xlabel("epoch")
    a.set_ylabel("training loss (cross-entropy)")
    b.plot(epochs, [r["train_accuracy"] for r in history], label="train")
    val = [r["val_accuracy"] for r in history]
    if any(v is not None for v in val):
        b.plot(epochs, val, label="validation")
        best = max(range(len(val)), key=lambda i: (val[i], -i))
        b.axvline(epochs[best], color="0.6", ls=":", label=f"best epoch {epochs[best]}")
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy")
    from matplotlib.ticker import MaxNLocator
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    b.legend(frameon=False, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format=os.path.splitext(str(path))[1].lstrip(".") or "png")
    plt.close(fig)
