"""``neuromod fit``: fit a model to a recording and evaluate it on the test repeats
(:mod:`neuromod.retina.pipeline`), or compare several models on several recordings.
Imports nothing heavy at module level."""
from neuromod.cli.common import positive_int

#: model -> help
MODELS = {"ln": "LN-Poisson: a spatio-temporal filter and an output nonlinearity",
          "glm": "GLM with stimulus, spike-history and coupling filters (Pillow et al. 2008)",
          "cnn": "the convolutional model of McIntosh et al. 2016",
          "tecos": "TeCoS-LVM, a spiking latent-variable model (after Ma et al. 2023)"}


def _seconds(text):
    from neuromod.cli.common import quantity
    return quantity((0, 0, 1, 0, 0, 0, 0), "time")(text)


def add_parser(sub):
    p = sub.add_parser(
        "fit", help="fit a model to recorded spike trains and evaluate it on the test repeats",
        description=(
            "Fit MODEL (" + ", ".join(f"{k}: {v}" for k, v in MODELS.items()) + ") to DATA "
            "(a recording .npz or NWB file; the embedded simulated recording without DATA; "
            "or Neo-readable spike files with --train-spikes etc.), then evaluate it on the "
            "repeated test stimulus. DIR receives model.npz (neuromod.load), report.json, "
            "test_spikes.npz (the model's own spikes for every test repeat) and figures. "
            "With --compare, every listed model is fitted on every DATA and "
            "comparison.json/.csv/.png are written."))
    p.add_argument("args", nargs="*", metavar="MODEL [DATA]",
                   help="the model and its data (with --compare: data files only)")
    p.add_argument("--compare", metavar="M1,M2,...",
                   help="fit these models on every DATA and compare them")
    p.add_argument("--train-spikes", metavar="FILE", help="spike file of the training stimulus")
    p.add_argument("--test-spikes", metavar="FILE",
                   help="spike file of the test repeats (trains annotated unit and trial)")
    p.add_argument("--train-stimulus", metavar="FILE.npy", help="training stimulus frames")
    p.add_argument("--test-stimulus", metavar="FILE.npy", help="test stimulus frames")
    p.add_argument("--frame-dt", type=_seconds, metavar="S", help="stimulus frame interval")
    p.add_argument("--epochs", type=positive_int, metavar="N",
                   help="epochs of the trained models (cnn, tecos)")
    p.add_argument("--seed", type=int, default=0, metavar="K", help="seed (default 0)")
    p.add_argument("--device", default="cpu", metavar="cpu|cuda",
                   help="training device of cnn and tecos (default cpu)")
    p.add_argument("--bin-size", type=_seconds, default=0.001, metavar="S",
                   help="model bin (default 0.001 s = 1 ms); must divide the frame interval")
    p.add_argument("--out", metavar="DIR", help="output directory (default ./fit-MODEL/ or "
                                               "./fit-compare/)")
    p.add_argument("--resume", action="store_true",
                   help="continue a killed training from DIR/checkpoint.npz (cnn, tecos)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--nproc", type=positive_int, default=1, metavar="N",
                   help="cnn, tecos: data-parallel training in N processes (torch."
                        "distributed), the same steps as one process (default 1)")
    p.add_argument("--cv", metavar="NAME=V1,V2,...",
                   help="first cross-validate this option of the model's constructor (e.g. "
                        "alpha=1e-4,1e-3 or beta_kl=0.5,1) over --folds contiguous blocks "
                        "of the training stimulus (held-out bits per spike; the test "
                        "repeats are not used), then fit with the best value")
    p.add_argument("--folds", type=positive_int, default=3, metavar="K",
                   help="folds of --cv (default 3)")
    from neuromod.cli.common import add_scheduler_option
    add_scheduler_option(p, None, "local; one task per fit of --compare and --cv",
                         "; DIR on a file system the workers share")
    return p


def _recordings(args, paths):
    from neuromod.errors import ParameterError
    from neuromod.retina.recording import embedded, load_recording
    neo = [args.train_spikes, args.test_spikes, args.train_stimulus, args.test_stimulus]
    if any(x is not None for x in neo + [args.frame_dt]):
        if paths:
            raise ParameterError("give DATA or the --train-spikes/--test-spikes/--train-"
                                 "stimulus/--test-stimulus/--frame-dt files, not both")
        missing = [f"--{n}" for n, v in zip(("train-spikes", "test-spikes", "train-stimulus",
                                              "test-stimulus", "frame-dt"), neo + [args.frame_dt])
                   if v is None]
        if missing:
            raise ParameterError(f"separate inputs need {', '.join(missing)} as well")
        return [load_recording(train_spikes=args.train_spikes, test_spikes=args.test_spikes,
                               train_stimulus=args.train_stimulus,
                               test_stimulus=args.test_stimulus, frame_dt=args.frame_dt)]
    return [load_recording(p) for p in paths] if paths else [embedded()]


def _write_run(out_dir, model, report, samples, recording):
    """The files of one run, written together."""
    import os

    from neuromod import io
    from neuromod.cli.common import dumps
    from neuromod.outputs import Outputs
    with Outputs() as out:
        targets = {"model": out.add(os.path.join(out_dir, "model.npz"), "model", (".npz",)),
                   "report": out.add(os.path.join(out_dir, "report.json"), "report",
                                     (".json",)),
                   "test_spikes": out.add(os.path.join(out_dir, "test_spikes.npz"),
                                          "test spikes", (".npz",))}
        figs = _figures(model, report, samples, recording)
        for name in figs:
            targets[name] = out.add(os.path.join(out_dir, f"{name}.png"), name, (".png",))
        report["out"] = {k: t.path for k, t in targets.items()}
        out.write(targets["model"], lambda tmp: model.save(tmp))
        out.write(targets["test_spikes"], lambda tmp: io.write(samples, tmp, format="npz"))
        for name, draw in figs.items():
            out.write(targets[name], draw)
        out.write(targets["report"], lambda tmp: open(tmp, "w").write(dumps(report) + "\n"))


def _figures(model, report, samples, recording):
    """name -> draw(path) for one run: rasters and PSTH of unit 0 (data and model),
    the filters when the model has them, the summary chart."""
    from neuromod.retina import plots
    from neuromod.retina.evaluate import compare
    kind = report["model"]
    figs = {"raster": lambda tmp: plots.fig_rasters(recording, {kind: samples}, 0, tmp),
            "psth": lambda tmp: plots.fig_psth(recording, {kind: samples}, 0, tmp),
            "summary": lambda tmp: plots.fig_summary(compare([report]), tmp)}
    if callable(getattr(model, "filters", None)):
        figs["filters"] = lambda tmp: plots.fig_filters({kind: model}, tmp)
    return figs


def _f(x, fmt):
    return "n/a" if x is None else format(x, fmt)


def _headline(report):
    t = report["test"]
    return (f"{report['model']} on {report['data']}: PSTH correlation "
            f"{_f(t['psth_corr'], '.3f')} (ceiling {_f(t['noise_ceiling'], '.3f')}), "
            f"FEV {_f(t['fev'], '.3f')}, "
            f"{_f(t['bits_per_spike'], '.3f')} bits/spike, Fano {_f(t['fano_model'], '.2f')} "
            f"(data {_f(t['fano_data'], '.2f')}), ISIs < 3 ms "
            f"{_f(t['short_isi_frac_model'], '.1%')} (data {_f(t['short_isi_frac_data'], '.1%')})")


def run(args):
    import os

    from neuromod.cli.common import print_json, training_dir
    from neuromod.errors import NeuromodError, ParameterError
    from neuromod.retina.pipeline import KINDS, TRAINED, fit_and_evaluate
    from neuromod.training import check_device
    check_device(args.device)
    if args.compare:
        kinds = [k.strip() for k in args.compare.split(",") if k.strip()]
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            raise ParameterError(f"--compare: unknown model {', '.join(bad) or '(none)'}; "
                                 f"known: {', '.join(KINDS)}")
        paths = list(args.args)
    else:
        if not args.args:
            raise NeuromodError(f"give a MODEL: {', '.join(KINDS)} (see neuromod fit --help)")
        kinds, paths = [args.args[0]], list(args.args[1:])
        if kinds[0] not in KINDS:
            raise ParameterError(f"unknown model {kinds[0]!r}; known: {', '.join(KINDS)}")
        if len(paths) > 1:
            raise ParameterError("give one DATA file per model (or use --compare)")
    if args.resume and (args.compare or kinds[0] not in TRAINED):
        raise ParameterError("--resume continues one cnn or tecos training")
    if args.nproc > 1 and (args.compare or args.cv or kinds[0] not in TRAINED):
        raise ParameterError("--nproc: data-parallel training of one cnn or tecos model "
                             "(not with --compare or --cv)")
    from neuromod.scale.ddp import child_rank
    copy, rank = child_rank(), 0
    if copy is not None:
        from neuromod.scale.ddp import init_process_group
        rank, _, args.device = init_process_group(args.device)
    if args.scheduler is not None and not (args.compare or args.cv):
        raise ParameterError("--scheduler: one fit runs in-process; a scheduler serves the "
                             "fits of --compare and --cv")
    cv = None
    if args.cv:
        if args.compare or args.resume:
            raise ParameterError("--cv: give one MODEL, without --compare or --resume")
        from neuromod.retina.crossval import check_hyper_parameter, parse_values
        name, eq, text = args.cv.partition("=")
        if not eq or not name.strip():
            raise ParameterError(f"--cv {args.cv}: expected NAME=V1,V2,...")
        cv = (name.strip(), parse_values(text))
        check_hyper_parameter(kinds[0], cv[0])
        if args.folds < 2:
            raise ParameterError(f"--folds {args.folds}: must be >= 2")
    from neuromod.scale.cluster import parse_scheduler
    scheduler = parse_scheduler(args.scheduler or "local")
    recordings = _recordings(args, paths)           # every file is checked first
    out_dir = args.out or ("fit-compare" if args.compare else f"fit-{kinds[0]}")
    if args.compare:
        training_dir(out_dir, False)           # the comparison's own directory
    kw = dict(bin_size=args.bin_size, epochs=args.epochs, seed=args.seed, device=args.device)
    if not args.compare:
        run_dir, kind, rec = out_dir, kinds[0], recordings[0]
        from neuromod.cli.common import training_run
        status, ckpt, _ = training_run(run_dir, args.resume, args.nproc, args._argv)
        if status is not None:
            return status
        if rank:                        # trains along; rank 0 evaluates and writes
            from neuromod.retina.pipeline import build
            build(kind, args.epochs, args.device).fit(
                rec, bin_size=args.bin_size, seed=args.seed, epochs=args.epochs,
                checkpoint=ckpt, resume=args.resume)
            return 0
        options, cv_result = None, None
        if cv is not None:
            from neuromod.retina.crossval import cross_validate
            from neuromod.scale.cluster import connect
            with connect(scheduler) as client:
                cv_result = cross_validate(kind, rec, cv[0], cv[1], folds=args.folds,
                                           bin_size=args.bin_size, epochs=args.epochs,
                                           seed=args.seed, client=client)
            options = {cv[0]: cv_result["best"]}
            if not args.json:
                print(_cv_table(cv_result))
        model, report, samples = fit_and_evaluate(
            kind, rec, checkpoint=ckpt if kind in TRAINED else None, resume=args.resume,
            progress=True, options=options, **kw)
        if cv_result is not None:
            report["cv"] = cv_result
        _write_run(run_dir, model, report, samples, rec)
        reports = [report]
        if not args.json:
            print(_headline(report))
    else:
        from neuromod.retina.pipeline import fit_runs
        from neuromod.scale.cluster import connect
        runs, dirs = [], []
        for rec in recordings:
            for kind in kinds:
                run_dir = os.path.join(out_dir, f"{kind}-{_slug(rec.name)}")
                k = 2
                while run_dir in dirs:                      # the same data given twice
                    run_dir = os.path.join(out_dir, f"{kind}-{_slug(rec.name)}-{k}")
                    k += 1
                ckpt = training_dir(run_dir, False)
                runs.append((kind, rec, dict(kw, checkpoint=ckpt if kind in TRAINED
                                             else None)))
                dirs.append(run_dir)
        reports = [None] * len(runs)
        with connect(scheduler) as client:
            for i, model, report, samples in fit_runs(runs, client):
                _write_run(dirs[i], model, report, samples, runs[i][1])
                reports[i] = report
                if not args.json:
                    print(_headline(report))
    if args.compare:
        from neuromod.retina.evaluate import write_comparison
        write_comparison(reports, os.path.join(out_dir, "comparison.json"),
                         os.path.join(out_dir, "comparison.csv"),
                         os.path.join(out_dir, "comparison.png"))
    if args.json:
        slim = [{k: v for k, v in r.items() if k not in ("history", "out")} for r in reports]
        print_json({"reports": slim} if args.compare else slim[0])
    else:
        print(f"written to {out_dir}/")
    return 0


def _cv_table(cv):
    """The cross-validation's lines: each value's mean held-out bits per spike."""
    lines = [f"cross-validation of {cv['name']} ({len(cv['folds']) // len(cv['values'])} "
             "blocked folds of the training data, held-out bits per spike):"]
    for v in cv["values"]:
        mark = "  <- best" if v["value"] == cv["best"] else ""
        failed = f" ({v['n_failed']} failed)" if v["n_failed"] else ""
        lines.append(f"  {cv['name']} = {v['value']!s:<12} {v['mean_bits_per_spike']:8.4f} "
                     f"+/- {v['se']:.4f}{failed}{mark}")
    return "\n".join(lines)


def _slug(name):
    import re
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "data"
