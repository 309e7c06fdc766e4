"""``neuromod train MODEL``: train a classifier of a model family, checkpointed and resumable.

One sub-command per model (``nsnn``, ``lif``, ``dendritic``, ``dpcnn``, ``conv-lif``;
the tempotron family's ``tempotron``, ``mst``, ``eml``, ``emlc``, ``tdp`` live in
:mod:`neuromod.cli.train_tempotron`). Every sub-command
shares the options of the training loop (:mod:`neuromod.training`), each with the
defaults of its model's recipe (:data:`TRAIN_DEFAULTS`), and the output directory:
``model.npz`` (``neuromod.load``), ``checkpoint.npz`` (written after every epoch,
read by ``--resume``), ``report.json`` and ``learning_curve.png``; the last three
besides the checkpoint are written together at the end. Every option is checked
before the output directory is made. Imports only argparse at module level.
"""
import argparse

from neuromod.cli.common import positive_float, positive_int, split_sets

#: model -> help
MODELS = {
    "nsnn": "noisy spiking network of noisy-LIF neurons trained by noise-driven learning "
            "(Ma, Yan & Tang 2023)",
    "lif": "the same network of deterministic discrete LIF neurons trained through a "
           "surrogate gradient (the comparison of the NSNN paper)",
    "dendritic": "network of dendritic neurons, K nonlinear branches per soma, at the "
                 "compute (or parameters) of a point network (after Wu et al. 2023)",
    "dpcnn": "deep pulse-coupled network: PCNN neurons with learnable decays in a "
             "convolutional spiking network, with intra- or inter-channel coupling and "
             "RFTD batch normalisation (after Yi et al. 2023)",
    "conv-lif": "the deep PCNN's convolutional network with discrete LIF neurons (the "
                "comparison of the deep PCNN)",
}

#: model -> the defaults of its training options (its recipe). ``dendritic`` is
#: :data:`neuromod.neurons.dendritic.RECIPE` (momentum: the TrainOptions default).
TRAIN_DEFAULTS = {
    "nsnn": {"epochs": 40, "batch_size": 32, "lr": 0.05, "optimizer": "sgd", "momentum": 0.9},
    "lif": {"epochs": 40, "batch_size": 32, "lr": 0.05, "optimizer": "sgd", "momentum": 0.9},
    "dendritic": {"epochs": 40, "batch_size": 32, "lr": 1e-3, "optimizer": "adam",
                  "momentum": 0.0},
    "dpcnn": {"epochs": 30, "batch_size": 32, "lr": 2e-3, "optimizer": "adam",
              "momentum": 0.0},
    "conv-lif": {"epochs": 30, "batch_size": 32, "lr": 2e-3, "optimizer": "adam",
                 "momentum": 0.0},
}

#: --set names of the NSNN family -> (type, classifier keyword)
_NSNN_SETS = {"sigma": float, "beta": float, "theta": float, "noise": str, "reset": str}

#: Somata and branch nonlinearities of ``train dendritic`` (those of
#: :mod:`neuromod.neurons.dendritic`, listed here to keep this module light).
RATE_SOMATA = ("relu", "softplus", "sigmoid", "identity")
SPIKING_SOMATA = ("lif", "noisy-lif")
BRANCHES = ("identity", "relu", "softplus", "sigmoid")


def _on_off(text):
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")
    return text == "on"


def _nonnegative_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


def _widths(text):
    """argparse type: comma-separated integers >= 1, at least three."""
    try:
        ws = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 64,256,256,256,10, got {text!r}"
        ) from None
    if len(ws) < 3 or min(ws) < 1:
        raise argparse.ArgumentTypeError(
            f"expected inputs,hidden...,classes (at least three integers >= 1), got {text!r}")
    return ws


def _common(p, model):
    d = TRAIN_DEFAULTS[model]
    p.add_argument("--data", default="digits", metavar="NAME",
                   help="data set: digits, mnist1d, cifar10:PATH (the binary release) or "
                        "folder:PATH (a sub-folder of images per class); default digits; "
                        "test = 30%% "
                        "stratified, validation = 10%% of the rest")
    p.add_argument("--epochs", type=positive_int, default=d["epochs"], metavar="N",
                   help=f"epochs (default {d['epochs']})")
    p.add_argument("--batch-size", type=positive_int, default=d["batch_size"], metavar="B",
                   help=f"mini-batch size (default {d['batch_size']})")
    p.add_argument("--lr", type=positive_float, default=d["lr"], metavar="X",
                   help=f"learning rate (default {d['lr']:g})")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=d["optimizer"],
                   help=f"optimiser (default {d['optimizer']})")
    p.add_argument("--momentum", type=float, default=d["momentum"], metavar="M",
                   help=f"SGD momentum in [0, 1) (default {d['momentum']:g})")
    p.add_argument("--seed", type=_nonnegative_int, default=0, metavar="K",
                   help="seed of the initial weights, the batch order and the network's "
                        "noise (default 0)")
    p.add_argument("--split-seed", type=_nonnegative_int, default=0, metavar="K",
                   help="seed of the train/validation/test split (default 0)")
    p.add_argument("--device", default="cpu", metavar="cpu|cuda",
                   help="training device (default cpu)")
    p.add_argument("--patience", type=positive_int, metavar="P",
                   help="stop after P epochs without a better validation accuracy")
    p.add_argument("--out", metavar="DIR",
                   help=f"output directory (default ./train-{model}/)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run whose checkpoint is in DIR (same options)")
    p.add_argument("--nproc", type=positive_int, default=1, metavar="N",
                   help="data-parallel training in N processes (torch.distributed: gloo on "
                        "the CPU, nccl on CUDA), the same steps as one process at the same "
                        "global --batch-size; deterministic networks only (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _add_nsnn(models, name):
    text = MODELS[name]
    m = models.add_parser(name, help=text, description=text + ". Network: dense "
                          "IN-H-classes (or 3x3 spiking convolutions then H), T time "
                          "steps of the static input, a linear read-out of the hidden "
                          "spikes (or spiking output neurons).")
    _common(m, name)
    m.add_argument("--arch", choices=("dense", "conv"), default="dense",
                   help="architecture (default dense)")
    m.add_argument("--hidden", type=positive_int, default=128, metavar="H",
                   help="hidden neurons (default 128)")
    m.add_argument("--time-steps", type=positive_int, default=4, metavar="T",
                   help="time steps per input (default 4)")
    m.add_argument("--readout", choices=("membrane", "count", "rate"), default="membrane",
                   help="membrane: a linear read-out of the hidden spikes (default); "
                        "count, rate: spiking output neurons")
    m.add_argument("--set", action="extend", nargs="+", default=[], metavar="NAME=VALUE",
                   dest="sets", help="neuron parameters per step: sigma=0.3 beta=0.5 "
                   "theta=1 reset=zero|subtract" + (" noise=gaussian|logistic|"
                                                    "triangular|uniform"
                                                    if name == "nsnn" else ""))
    if name == "nsnn":
        m.add_argument("--eval-noise", type=_on_off, default=True, metavar="on|off",
                       help="stochastic firing at evaluation (default on, as in the "
                            "paper)")
        m.add_argument("--ensemble", type=positive_int, default=1, metavar="K",
                       help="stochastic passes averaged at evaluation (default 1)")
        m.add_argument("--noise-in-state", action="store_true",
                       help="add the noise sample to the state (the official code's "
                            "form) instead of the paper's noise-free state")


def _add_dendritic(models):
    text = MODELS["dendritic"]
    m = models.add_parser("dendritic", help=text, description=text + ". Network: the "
                          "point network's widths (--point-widths; default IN-256-256-256-"
                          "classes) matched layer by layer with K branches per soma "
                          "(every hidden layer's MACs or parameters within 5%), then a "
                          "point output layer. The report's budget block gives the "
                          "widths, parameters, MACs, activations sent per sample and bytes "
                          "written.")
    _common(m, "dendritic")
    m.add_argument("--branches", type=positive_int, default=1, metavar="K",
                   help="branches per soma of every hidden layer (default 1: the point "
                        "network)")
    m.add_argument("--match", choices=("macs", "params"), default="macs",
                   help="what every dendritic layer holds equal to the point layer's "
                        "(default macs)")
    m.add_argument("--soma", choices=RATE_SOMATA + SPIKING_SOMATA, default="relu",
                   help="somatic nonlinearity: a rate unit (relu, softplus, sigmoid, "
                        "identity) or a spiking soma (lif, noisy-lif) run for T steps "
                        "(default relu)")
    m.add_argument("--branch", choices=BRANCHES, metavar="{" + ",".join(BRANCHES) + "}",
                   help="branch nonlinearity (default identity at K = 1, relu otherwise)")
    m.add_argument("--point-widths", type=_widths, metavar="IN,H,...,CLASSES",
                   help="the point network to match (default 64,256,256,256,10 for digits, "
                        "40,256,256,256,10 for mnist1d, else IN,256,256,256,CLASSES)")
    m.add_argument("--time-steps", type=positive_int, metavar="T",
                   help="time steps per input of a spiking soma (default 4)")


def _add_dpcnn(models, name):
    text = MODELS[name]
    m = models.add_parser(name, help=text, description=text + ". Network: 3x3 spiking "
                          "convolutions of W and 2W channels, each followed by 2x2 average "
                          "pooling of the spikes (1x2 on one-row maps; mnist1d is a 1 x 40 "
                          "map), then a linear read-out of the spikes averaged over T steps. "
                          "The report's dpcnn block counts neurons (spiking units per step) "
                          "and synapses (kernel entries x output positions, coupling "
                          "included).")
    _common(m, name)
    m.add_argument("--width", type=positive_int, default=16, metavar="W",
                   help="channels of the first convolution (default 16)")
    if name == "dpcnn":
        m.add_argument("--coupling", choices=("none", "intra", "inter"), default="inter",
                       help="pulse coupling: none, each map with itself (intra) or across "
                            "channels (inter, default)")
    m.add_argument("--norm", choices=("none", "bn", "rftd"), default="rftd",
                   help="drive normalisation: none, bn (statistics per time step) or rftd "
                        "(pooled over time and receptive fields, default)")
    m.add_argument("--time-steps", type=positive_int, default=4, metavar="T",
                   help="time steps per input (default 4)")


def _dpcnn_trainer(args, options):
    """Check the options of ``train dpcnn|conv-lif``, load the data; return the trainer."""
    from neuromod.neurons.pcnn.deep import network, train
    neuron = "pcnn" if args.model == "dpcnn" else "lif"
    coupling = getattr(args, "coupling", "none")
    network((1, 4, 4), 2, width=args.width, coupling=coupling, norm=args.norm,
            neuron=neuron, time_steps=args.time_steps)          # checks
    from neuromod.datasets import load_dataset
    data = load_dataset(args.data)      # a missing or bad path fails before DIR is made

    def trainer(checkpoint, resume):
        return train(data, neuron, args.width, coupling, args.norm, args.time_steps,
                     options, split_seed=args.split_seed, checkpoint=checkpoint,
                     resume=resume, progress=True)
    return trainer


def add_parser(sub):
    p = sub.add_parser(
        "train", help="train a classifier of a model family (checkpointed, resumable)",
        description=(
            "Train a classifier of a model family on a data set. The epoch with the best "
            "validation accuracy is kept; the held-out test split is scored once at the "
            "end. DIR receives model.npz (neuromod.load), checkpoint.npz (after every "
            "epoch; --resume continues from it), report.json and learning_curve.png."))
    models = p.add_subparsers(dest="model", metavar="MODEL", parser_class=type(p))
    _add_nsnn(models, "nsnn")
    _add_nsnn(models, "lif")
    _add_dendritic(models)
    _add_dpcnn(models, "dpcnn")
    _add_dpcnn(models, "conv-lif")
    from neuromod.cli import train_tempotron
    for name in train_tempotron.MODELS:
        train_tempotron.add(models, name)
    p.set_defaults(model=None)
    return p


def _net_options(args):
    from neuromod.errors import ParameterError
    kw = {"arch": args.arch, "hidden": args.hidden, "time_steps": args.time_steps,
          "readout": args.readout}
    for name, text in split_sets(args.sets):
        if name not in _NSNN_SETS or (name == "noise" and args.model != "nsnn"):
            allowed = [k for k in _NSNN_SETS if k != "noise" or args.model == "nsnn"]
            raise ParameterError(f"--set {name}: train {args.model} has no parameter "
                                 f"{name!r}; it has {', '.join(allowed)}")
        if _NSNN_SETS[name] is float:
            try:
                kw[name] = float(text)
            except ValueError:
                raise ParameterError(f"--set {name}={text[:40]}: not a number") from None
        else:
            kw[name] = text
    if args.model == "nsnn":
        kw.update(eval_noise=args.eval_noise, noise_in_state=args.noise_in_state)
    return kw


def _nsnn_trainer(args, options, kw):
    """Check the options of ``train nsnn|lif`` (``kw``: :func:`_net_options`), load the
    data; return the trainer."""
    from neuromod.neurons.nsnn import classifier, train
    classifier((1, 2, 2), 2, neuron=args.model, **{**kw, "hidden": 1})  # checks
    from neuromod.datasets import load_dataset
    data = load_dataset(args.data)      # a missing or bad path fails before DIR is made

    def trainer(checkpoint, resume):
        return train(data, args.model, options, split_seed=args.split_seed,
                     checkpoint=checkpoint, resume=resume, progress=True, **kw)
    return trainer


def _dendritic_trainer(args, options):
    """Check the options of ``train dendritic`` (the budget match included), load the
    data; return the trainer."""
    import math

    from neuromod.errors import ParameterError
    from neuromod.neurons.dendritic import REFERENCE, SPIKING_SOMATA as SPIKING, match_budget
    from neuromod.neurons.dendritic import train
    kw = {}
    if args.branch is not None:
        kw["branch"] = args.branch
    if args.time_steps is not None:
        if args.soma not in SPIKING:
            raise ParameterError(f"--time-steps: only a spiking soma ({', '.join(SPIKING)}) "
                                 f"runs in time steps, not --soma {args.soma}")
        kw["time_steps"] = args.time_steps
    from neuromod.datasets import load_dataset
    data = load_dataset(args.data)      # a missing or bad path fails before DIR is made
    n_in = math.prod(data.in_shape)
    pw = args.point_widths or REFERENCE.get(data.name, (n_in, 256, 256, 256, data.n_classes))
    if pw[0] != n_in or pw[-1] != data.n_classes:
        raise ParameterError(
            f"--point-widths {','.join(map(str, pw))}: {data.name} has {n_in} inputs and "
            f"{data.n_classes} classes (give {n_in},...,{data.n_classes})")
    try:
        arch = match_budget(pw, args.branches, args.match)
    except ParameterError as exc:
        raise ParameterError(f"--branches {args.branches}: {exc}") from None
    arch.network(soma=args.soma, in_shape=data.in_shape, **kw)          # checks

    def trainer(checkpoint, resume):
        return train(data, args.branches, args.match, args.soma, pw, options,
                     split_seed=args.split_seed, checkpoint=checkpoint, resume=resume,
                     progress=True, **kw)
    return trainer


def run(args):
    import os
    import time

    from neuromod.errors import NeuromodError, ParameterError
    from neuromod.cli import train_tempotron
    if args.model is None:
        raise NeuromodError(f"give a MODEL: {', '.join([*MODELS, *train_tempotron.MODELS])} "
                            "(see neuromod train --help)")
    if args.model in train_tempotron.MODELS:
        return train_tempotron.run(args)
    from neuromod.training import TrainOptions, check_device
    kw = _net_options(args) if args.model in ("nsnn", "lif") else None   # --set comes first
    try:
        options = TrainOptions(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               optimizer=args.optimizer, momentum=args.momentum,
                               seed=args.seed, device=args.device, patience=args.patience,
                               ensemble=getattr(args, "ensemble", 1))
    except ParameterError as exc:
        raise ParameterError(f"--{str(exc).split()[0].replace('_', '-')}: {exc}") from None
    check_device(args.device)
    from neuromod.scale.ddp import child_rank
    copy = child_rank()            # one process of a --nproc run
    rank = 0
    if copy is not None:
        import dataclasses

        from neuromod.scale.ddp import init_process_group
        rank, _, device = init_process_group(args.device)
        options = dataclasses.replace(options, device=device)
    trainer = (_nsnn_trainer(args, options, kw) if kw is not None else
               _dendritic_trainer(args, options) if args.model == "dendritic" else
               _dpcnn_trainer(args, options))

    out_dir = args.out or f"train-{args.model}"
    from neuromod.cli.common import training_run
    status, ckpt, _ = training_run(out_dir, args.resume, args.nproc, args._argv)
    if status is not None:
        return status
    if rank:
        trainer(ckpt, args.resume)       # rank 0 writes the checkpoint and the outputs
        return 0

    from neuromod.backends.serialize import save
    from neuromod.cli.common import dumps, print_json
    from neuromod.outputs import Outputs
    from neuromod.training import learning_curve_figure
    block = {"dendritic": "budget", "dpcnn": "dpcnn", "conv-lif": "dpcnn"}.get(args.model,
                                                                          "nsnn")
    with Outputs() as out:
        model_out = out.add(os.path.join(out_dir, "model.npz"), "model", (".npz",))
        report_out = out.add(os.path.join(out_dir, "report.json"), "report", (".json",))
        curve_out = out.add(os.path.join(out_dir, "learning_curve.png"), "learning curve",
                            (".png",))
        t0 = time.perf_counter()
        net, report = trainer(ckpt, args.resume)
        report.update(model=args.model, wall_s=time.perf_counter() - t0,
                      out={"model": model_out.path, "checkpoint": ckpt,
                           "report": report_out.path, "learning_curve": curve_out.path})
        title = f"train {args.model}" + (f" (K = {report['budget']['K']})"
                                         if block == "budget" else "")
        out.write(model_out, lambda tmp: save(net, tmp))
        out.write(report_out, lambda tmp: open(tmp, "w").write(dumps(report) + "\n"))
        out.write(curve_out, lambda tmp: learning_curve_figure(
            report["history"], tmp, title=f"{title} on {report['data']}"))
    if args.json:
        print_json({k: report[k] for k in (
            "model", "data", "epochs", "best_epoch", "train_seconds", "test_accuracy",
            "val_accuracy", "stopped_early", "resumed_from", "n_train", "n_val", "n_test",
            block, "out")})
        return 0
    extra = ""
    if block == "budget":
        b = report["budget"]
        extra = (f" (K = {b['K']}, widths {'-'.join(map(str, b['widths']))}, {b['macs']} MACs, "
                 f"{b['activations_per_sample']} activations per sample)")
    elif block == "dpcnn":
        b = report["dpcnn"]
        extra = (f" (width {b['width']}, coupling {b['coupling']}, norm {b['norm']}: "
                 f"{b['neurons']} neurons, {b['synapses']} synapses)")
    print(f"train {args.model} on {report['data']}{extra}: {report['epochs']} epochs "
          f"({report['train_seconds']:.1f} s), best epoch {report['best_epoch']}"
          + (f" (validation accuracy {report['val_accuracy']:.3f})"
             if report["val_accuracy"] is not None else "") + "; test accuracy "
          f"{report['test_accuracy']:.3f} on {report['n_test']} samples; written to "
          f"{out_dir}/")
    return 0
