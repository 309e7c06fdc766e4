"""``neuromod train MODEL``: train a classifier of a model family, checkpointed and resumable.

One sub-command per model (``nsnn``, ``lif``). Every sub-command shares the options
of the training loop (:mod:`neuromod.training`) and the output directory:
``model.npz`` (``neuromod.load``), ``checkpoint.npz`` (written after every epoch,
read by ``--resume``), ``report.json`` and ``learning_curve.png``; the last three
besides the checkpoint are written together at the end. Imports only argparse at
module level.
"""
import argparse

from neuromod.cli.common import positive_float, positive_int, split_sets

#: model -> (help, the classifier's neuron)
MODELS = {
    "nsnn": ("noisy spiking network of noisy-LIF neurons trained by noise-driven learning "
             "(Ma, Yan & Tang 2023)", "nsnn"),
    "lif": ("the same network of deterministic discrete LIF neurons trained through a "
            "surrogate gradient (the comparison of the NSNN paper)", "lif"),
}

#: --set names of the NSNN family -> (type, classifier keyword)
_NSNN_SETS = {"sigma": float, "beta": float, "theta": float, "noise": str, "reset": str}


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


def _common(p, model):
    p.add_argument("--data", default="digits", metavar="NAME",
                   help="data set: digits, mnist1d, cifar10:PATH (the binary release) or "
                        "folder:PATH (a sub-folder of images per class); default digits; "
                        "test = 30%% "
                        "stratified, validation = 10%% of the rest")
    p.add_argument("--epochs", type=positive_int, default=40, metavar="N",
                   help="epochs (default 40)")
    p.add_argument("--batch-size", type=positive_int, default=32, metavar="B",
                   help="mini-batch size (default 32)")
    p.add_argument("--lr", type=positive_float, default=0.05, metavar="X",
                   help="learning rate (default 0.05)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                   help="optimiser (default sgd)")
    p.add_argument("--momentum", type=float, default=0.9, metavar="M",
                   help="SGD momentum in [0, 1) (default 0.9)")
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
    p.add_argument("--json", action="store_true", help="print one JSON object")


def add_parser(sub):
    p = sub.add_parser(
        "train", help="train a spiking classifier (checkpointed, resumable)",
        description=(
            "Train a classifier of a model family on a data set. The epoch with the best "
            "validation accuracy is kept; the held-out test split is scored once at the "
            "end. DIR receives model.npz (neuromod.load), checkpoint.npz (after every "
            "epoch; --resume continues from it), report.json and learning_curve.png."))
    models = p.add_subparsers(dest="model", metavar="MODEL", parser_class=type(p))
    for name, (text, _) in MODELS.items():
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


def run(args):
    import os
    import time

    from neuromod.errors import NeuromodError, ParameterError
    if args.model is None:
        raise NeuromodError(f"give a MODEL: {', '.join(MODELS)} (see neuromod train --help)")
    from neuromod.training import TrainOptions, check_device
    kw = _net_options(args)
    try:
        options = TrainOptions(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               optimizer=args.optimizer, momentum=args.momentum,
                               seed=args.seed, device=args.device, patience=args.patience,
                               ensemble=getattr(args, "ensemble", 1))
    except ParameterError as exc:
        raise ParameterError(f"--{str(exc).split()[0].replace('_', '-')}: {exc}") from None
    check_device(args.device)
    from neuromod.neurons.nsnn import classifier
    classifier((1, 2, 2), 2, neuron=MODELS[args.model][1], **{**kw, "hidden": 1})  # checks
    from neuromod.datasets import load_dataset
    data = load_dataset(args.data)      # a missing or bad path fails before DIR is made

    out_dir = args.out or f"train-{args.model}"
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NeuromodError(f"--out {out_dir}: exists and is not a directory")
    if args.resume and not os.path.isfile(ckpt):
        raise ParameterError(f"--resume: no checkpoint at {ckpt} (train without --resume "
                             "first)")
    if not args.resume and os.path.exists(ckpt):
        raise ParameterError(f"{ckpt} exists: give --resume to continue that run, or another "
                             "--out")
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise NeuromodError(f"--out {out_dir}: the directory {parent} does not exist")
    os.makedirs(out_dir, exist_ok=True)

    from neuromod.backends.serialize import save
    from neuromod.cli.common import dumps, print_json
    from neuromod.neurons.nsnn import train
    from neuromod.outputs import Outputs
    from neuromod.training import learning_curve_figure
    with Outputs() as out:
        model_out = out.add(os.path.join(out_dir, "model.npz"), "model", (".npz",))
        report_out = out.add(os.path.join(out_dir, "report.json"), "report", (".json",))
        curve_out = out.add(os.path.join(out_dir, "learning_curve.png"), "learning curve",
                            (".png",))
        t0 = time.perf_counter()
        net, report = train(data, MODELS[args.model][1], options, split_seed=args.split_seed,
                            checkpoint=ckpt, resume=args.resume, progress=True, **kw)
        report.update(model=args.model, wall_s=time.perf_counter() - t0,
                      out={"model": model_out.path, "checkpoint": ckpt,
                           "report": report_out.path, "learning_curve": curve_out.path})
        out.write(model_out, lambda tmp: save(net, tmp))
        out.write(report_out, lambda tmp: open(tmp, "w").write(dumps(report) + "\n"))
        out.write(curve_out, lambda tmp: learning_curve_figure(
            report["history"], tmp, title=f"train {args.model} on {report['data']}"))
    if args.json:
        print_json({k: report[k] for k in (
            "model", "data", "epochs", "best_epoch", "train_seconds", "test_accuracy",
            "val_accuracy", "stopped_early", "resumed_from", "n_train", "n_val", "n_test",
            "nsnn", "out")})
        return 0
    print(f"train {args.model} on {report['data']}: {report['epochs']} epochs "
          f"({report['train_seconds']:.1f} s), best epoch {report['best_epoch']}"
          + (f" (validation accuracy {report['val_accuracy']:.3f})"
             if report["val_accuracy"] is not None else "") + "; test accuracy "
          f"{report['test_accuracy']:.3f} on {report['n_test']} samples; written to "
          f"{out_dir}/")
    return 0
