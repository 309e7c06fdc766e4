"""``neuromod train tempotron|mst|eml|emlc|tdp``: the tempotron family's training runs
(:mod:`neuromod.neurons.tempotron.fit`), with the layout of ``neuromod train``:
``model.npz`` (:func:`~neuromod.neurons.tempotron.fit.load_model`),
``checkpoint.npz`` after every epoch (``--resume``), ``report.json`` and
``learning_curve.png``, the last three written together at the end. Imports only
argparse at module level."""
import argparse

from neuromod.cli.common import positive_float, positive_int

#: model -> help
MODELS = {
    "tempotron": "binary tempotron (Gütig & Sompolinsky 2006): fire or not, learnt from "
                 "the unreset voltage maximum",
    "mst": "multi-spike tempotron (Gütig 2016): learn output spike counts, by the critical "
           "threshold gradient (--rule gradient) or the correlation rule",
    "eml": "impulse neuron trained by EML, an efficient multi-spike rule (neuromod's design "
           "after Yu et al. 2020)",
    "emlc": "impulse neuron trained by EMLC, a multi-spike rule built from the neuron's "
            "current response state (neuromod's design after Yu et al. 2020)",
    "tdp": "impulse neuron trained by threshold-driven plasticity (neuromod's design after "
           "Yu, Li & Tan 2019)",
}


def _fraction(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return v


def _seconds(text):
    """argparse type: a time >= 0 (``2ms``, ``0.002``, ``2*ms``)."""
    from neuromod.cli.common import quantity
    return quantity((0, 0, 1, 0, 0, 0, 0), "time", strict=False)(text)


def add(models, name):
    text = MODELS[name]
    m = models.add_parser(name, help=text, description=text + ". Epochs are online passes "
                          "over the training patterns (aggregate-label: fresh 100-trial "
                          "cycles); options default to the rule's recipe.")
    m.add_argument("--data", default="capacity", metavar="NAME",
                   help="capacity (binary capacity task, N = 100), aggregate-label (Gütig "
                        "2016's feature task), spoken-digits (spiketrum's spikes of the "
                        "shipped spoken digits, one neuron per digit, held-out accents "
                        "scored) or spikes:PATH (a spike file whose trains carry "
                        "'trial' and 'label' annotations; 30%% held out); default capacity")
    if name == "mst":
        m.add_argument("--rule", choices=("gradient", "correlation"), default="gradient",
                       help="multi-spike rule (default gradient)")
    m.add_argument("--epochs", type=positive_int, metavar="N", help="epochs (cycles)")
    m.add_argument("--lr", type=positive_float, metavar="X", help="learning rate")
    m.add_argument("--momentum", type=_fraction, metavar="M", help="momentum in [0, 1)")
    m.add_argument("--load", type=positive_float, default=1.0, metavar="P/N",
                   help="capacity: patterns per afferent (default 1)")
    m.add_argument("--target", choices=("count", "class"), default="count",
                   help="spikes:PATH: labels are desired spike counts (count) or classes "
                        "read out by one neuron per class (class)")
    m.add_argument("--class-spikes", type=positive_int, metavar="K",
                   help="one neuron per class: spikes of the right class's neuron "
                        "(default 3; spoken-digits 20)")
    if name != "tempotron":
        m.add_argument("--margin", type=_fraction, default=0.0, metavar="M",
                       help="robustness margin: right counts at theta (1 +- M) (default 0)")
        m.add_argument("--jitter", type=_seconds, default=0.0, metavar="SIGMA",
                       help="train on copies with Gaussian spike-time jitter (e.g. 2ms)")
    m.add_argument("--seed", type=int, default=0, metavar="K",
                   help="seed of the task, the initial weights and the order (default 0)")
    m.add_argument("--split-seed", type=int, default=0, metavar="K",
                   help="seed of the held-out split of spikes:PATH (default 0)")
    m.add_argument("--out", metavar="DIR", help=f"output directory (default ./train-{name}/)")
    m.add_argument("--resume", action="store_true",
                   help="continue the run whose checkpoint is in DIR (same options)")
    m.add_argument("--json", action="store_true", help="print one JSON object")


def run(args):
    import os

    from neuromod.cli.common import dumps, print_json
    from neuromod.neurons.tempotron.fit import load_task, save_model, train
    from neuromod.outputs import Outputs
    task = load_task(args.data, args.model, seed=args.seed, split_seed=args.split_seed,
                     load=args.load, target=args.target, class_spikes=args.class_spikes)
    rule = getattr(args, "rule", None)
    kw = dict(rule=rule, epochs=args.epochs, lr=args.lr, momentum=args.momentum,
              seed=args.seed, margin=getattr(args, "margin", 0.0),
              jitter=getattr(args, "jitter", 0.0))
    out_dir = args.out or f"train-{args.model}"
    from neuromod.cli.common import training_dir
    ckpt = training_dir(out_dir, args.resume)
    with Outputs() as out:
        model_out = out.add(os.path.join(out_dir, "model.npz"), "model", (".npz",))
        report_out = out.add(os.path.join(out_dir, "report.json"), "report", (".json",))
        curve_out = out.add(os.path.join(out_dir, "learning_curve.png"), "learning curve",
                            (".png",))
        W, neuron, report = train(args.model, task, checkpoint=ckpt, resume=args.resume,
                                  progress=True, **kw)
        report["out"] = {"model": model_out.path, "checkpoint": ckpt,
                         "report": report_out.path, "learning_curve": curve_out.path}
        out.write(model_out, lambda tmp: save_model(tmp, W, neuron, {
            "model": args.model, "rule": report["rule"], "data": report["data"]}))
        out.write(report_out, lambda tmp: open(tmp, "w").write(dumps(report) + "\n"))
        out.write(curve_out, lambda tmp: _curve(report, tmp))
    if args.json:
        print_json({k: v for k, v in report.items() if k != "history"})
        return 0
    acc = report["test_accuracy"] if report["test_accuracy"] is not None else \
        report["train_accuracy"]
    which = "test" if report["test_accuracy"] is not None else "training"
    print(f"train {args.model} ({report['rule']}) on {report['data']}: {report['epochs']} "
          f"epochs ({report['train_seconds']:.1f} s), errors in the last "
          f"{report['history'][-1]['errors']}; {which} accuracy {acc:.3f}; written to "
          f"{out_dir}/")
    return 0


def _curve(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.2))
    h = report["history"]
    ax.plot([r["epoch"] for r in h], [r["errors"] for r in h], lw=1.2)
    ax.set_xlabel("epoch" if report["data"] != "aggregate-label" else "cycle")
    ax.set_ylabel("errors")
    ax.set_title(f"train {report['model']} ({report['rule']}) on {report['data']}")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
