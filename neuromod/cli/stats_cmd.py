"""``neuromod stats``: spike-train statistics of a spike file.

Imports only numpy, the spike container, the readers and the statistics (numba
kernels): never torch, brian2 or elephant, so the command starts fast.
"""
from neuromod.cli.common import finite_float, positive_float, positive_int


def add_parser(sub):
    p = sub.add_parser(
        "stats", help="spike-train statistics of a spike file",
        description=(
            "Per-train (spike count, rate, CV, CV2, LV), population (Fano factor, mean rate) "
            "and pairwise (van Rossum, Victor-Purpura, ISI-distance, SPIKE-distance, "
            "SPIKE-synchronization) statistics. The window comes from --t-start/--t-stop, "
            "else from the file, else [0, last spike]. Pairwise matrices are left out above "
            "500 trains unless named in --measures."))
    p.add_argument("input", nargs="+", metavar="PATH",
                   help="spike file (.txt, .csv, .npz, .nix, .nwb); several files, "
                        "directories or globs: one task per file (see --summary)")
    p.add_argument("--format", choices=("text", "csv", "npz", "nix", "nwb"),
                   help="file format (default: from the extension)")
    p.add_argument("--sort", action="store_true",
                   help="accept and sort unsorted spike times within a train (default: error)")
    p.add_argument("--t-start", type=finite_float, metavar="S", help="window start in seconds")
    p.add_argument("--t-stop", type=finite_float, metavar="S", help="window end in seconds")
    p.add_argument("--tau", type=positive_float, default=0.01, metavar="S",
                   help="van Rossum time constant in seconds (default 0.01)")
    p.add_argument("--q", type=_non_negative, default=100.0, metavar="PER_S",
                   help="Victor-Purpura cost factor in 1/s (default 100)")
    p.add_argument("--bin-size", type=positive_float, default=0.1, metavar="S",
                   help="bin width in seconds of the repeated-trial statistics (windowed Fano "
                        "factor, PSTH noise ceiling per unit) and of the plot's PSTH (default 0.1)")
    p.add_argument("--measures", metavar="LIST",
                   help="comma-separated subset of: rates,cv,cv2,lv,fano,units,van_rossum,"
                        "victor_purpura,isi_distance,spike_distance,spike_sync (default: all)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (NaN written as null; see docs/cli.md)")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write a figure: raster, PSTH, ISI histogram, SPIKE-distance matrix")
    p.add_argument("--matrix-out", metavar="DIR",
                   help="one file: write each pairwise matrix as DIR/<measure>.npy, computed "
                        "block by block (memory bounded by --block, not by the number of "
                        "trains; sttc may be named in --measures too); the report then "
                        "names the files instead of holding the matrices")
    p.add_argument("--block", type=positive_int, default=256, metavar="B",
                   help="trains per block of --matrix-out (default 256)")
    p.add_argument("--sttc-dt", type=positive_float, default=0.005, metavar="S",
                   help="STTC coincidence window of --matrix-out, seconds (default 0.005)")
    p.add_argument("--summary", metavar="FILE.csv",
                   help="several files: write one row per file (means over trains and pairs)")
    from neuromod.cli.common import add_scheduler_option
    add_scheduler_option(p, None, "local for several files, none for one (the blocks of "
                                  "--matrix-out)")
    return p


def _non_negative(text):
    import argparse
    v = finite_float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return v


def run(args):
    from neuromod import io
    from neuromod.errors import NeuromodError
    from neuromod.stats.summary import parse_measures, summarize

    from neuromod.outputs import PLOT_EXTENSIONS, Outputs
    from neuromod.scale.files import is_many
    if is_many(args.input):
        return _many(args)
    if args.summary:
        raise NeuromodError("--summary applies to several files (give more than one PATH, "
                            "a directory or a glob)")
    args.input = args.input[0]
    if args.matrix_out:
        return _blocked(args)
    if args.scheduler not in (None, "none"):
        raise NeuromodError("--scheduler: one file runs in-process; a scheduler serves "
                            "several files or the blocks of --matrix-out")

    with Outputs() as out:
        plot = out.add(args.plot, "--plot", PLOT_EXTENSIONS, ".png")   # checked before any work
        st = io.read(args.input, format=args.format, sort=args.sort,
                     t_start=args.t_start, t_stop=args.t_stop)
        try:
            measures = parse_measures(args.measures, st.n_trains)
        except ValueError as exc:
            raise NeuromodError(f"--measures: {exc}") from None
        if args.plot and "spike_distance" not in measures:
            measures = measures + ("spike_distance",)
        report = summarize(st, measures, tau=args.tau, q=args.q, bin_size=args.bin_size)
        if args.plot:
            from neuromod.stats.plots import stats_figure
            out.write(plot, lambda tmp: stats_figure(st, report, tmp, bin_size=args.bin_size))
    if args.json:
        from neuromod.cli.common import print_json
        print_json(report)
    else:
        print(format_table(report, args.input))
        if args.plot:
            print(f"figure written to {args.plot}")
    return 0


def _blocked(args):
    """One file, the pairwise matrices block by block into ``--matrix-out`` (on
    ``--scheduler``, in-process by default); the report names the files."""
    import os

    from neuromod import io
    from neuromod.errors import NeuromodError
    from neuromod.scale.cluster import connect, parse_scheduler
    from neuromod.stats.blocked import MEASURES as BLOCKED
    from neuromod.stats.blocked import pairwise_matrices
    from neuromod.stats.summary import PAIRWISE_MEASURES, parse_measures, summarize
    if args.plot:
        raise NeuromodError("--plot and --matrix-out: give one of them (the figure needs "
                            "the SPIKE-distance matrix in memory)")
    if not os.path.isdir(args.matrix_out):
        raise NeuromodError(f"--matrix-out {args.matrix_out}: not an existing directory")
    scheduler = parse_scheduler(args.scheduler or "none")
    st = io.read(args.input, format=args.format, sort=args.sort, t_start=args.t_start,
                 t_stop=args.t_stop)
    names = [m.strip() for m in (args.measures or "").split(",") if m.strip()]
    sttc = "sttc" in names
    rest = ",".join(m for m in names if m != "sttc")
    try:
        measures = (parse_measures(rest, st.n_trains) if rest else
                    () if sttc else parse_measures(None, 0))
    except ValueError as exc:
        raise NeuromodError(f"--measures: {exc}") from None
    pair = [m for m in measures if m in PAIRWISE_MEASURES] + (["sttc"] if sttc else [])
    if not pair:
        raise NeuromodError("--matrix-out: --measures names no pairwise measure "
                            f"({', '.join(BLOCKED)})")
    report = summarize(st, [m for m in measures if m not in PAIRWISE_MEASURES], tau=args.tau,
                       q=args.q, bin_size=args.bin_size)
    params = {"van_rossum": {"tau": args.tau}, "victor_purpura": {"q": args.q},
              "sttc": {"dt": args.sttc_dt}}
    kw = {k: v for m in pair for k, v in params.get(m, {}).items()}
    with connect(scheduler) as client:
        mats = pairwise_matrices(st, pair, block=args.block, client=client,
                                 out_dir=args.matrix_out, progress=True, **kw)
    report["measures"] = list(report["measures"]) + pair
    report["pairwise"] = {m: os.path.join(args.matrix_out, f"{m}.npy") for m in pair}
    report["block"] = args.block
    if args.json:
        from neuromod.cli.common import print_json
        print_json(report)
        return 0
    shown = dict(report, pairwise={})
    print(format_table(shown, args.input))
    print("")
    print(f"pairwise matrices ({st.n_trains} x {st.n_trains}, blocks of {args.block} trains):")
    for m in pair:
        print(f"  {m:16s} {report['pairwise'][m]}")
    del mats
    return 0


def _many(args):
    """Several files: one task each on ``--scheduler``; exit 2 when any failed."""
    import sys

    from neuromod.errors import NeuromodError
    from neuromod.outputs import Outputs
    from neuromod.scale.cluster import connect, parse_scheduler
    from neuromod.scale.files import SUMMARY_COLUMNS, expand_paths, stats_files, summary_row
    if args.plot:
        raise NeuromodError("--plot takes one spike file; give a single PATH")
    if args.matrix_out:
        raise NeuromodError("--matrix-out takes one spike file; give a single PATH")
    scheduler = parse_scheduler(args.scheduler or "local")
    files = expand_paths(args.input)
    with Outputs() as out:
        summary = out.add(args.summary, "--summary", (".csv",), ".csv")  # before any work
        with connect(scheduler) as client:
            entries = stats_files(files, format=args.format, sort=args.sort,
                                  t_start=args.t_start, t_stop=args.t_stop,
                                  measures=args.measures, tau=args.tau, q=args.q,
                                  bin_size=args.bin_size, client=client)
        if args.summary:
            from neuromod.scale.sweep import write_rows
            rows = [summary_row(e) for e in entries]
            out.write(summary, lambda tmp: write_rows(tmp, [{c: r[c] for c in SUMMARY_COLUMNS}
                                                            for r in rows]))
    failed = [e for e in entries if e["error"]]
    if args.json:
        from neuromod.cli.common import print_json
        print_json({"files": entries, "n_failed": len(failed)})
    else:
        for e in entries:
            if e["error"] is None:
                s = e["stats"]
                pop = s["population"]
                print(f"{e['path']}: {s['n_trains']} trains, "
                      f"{sum(r['n_spikes'] for r in s['per_train'])} spikes, mean rate "
                      f"{_num(pop['mean_rate_hz'])} Hz, Fano factor {_num(pop['fano_factor'])}")
        print(f"{len(entries) - len(failed)} of {len(entries)} files summarised"
              + (f"; summary written to {args.summary}" if args.summary else ""))
    for e in failed:
        sys.stderr.write(f"neuromod stats: error: {e['error']}\n")
    return 2 if failed else 0


def _num(v, fmt="{:.4g}"):
    if v is None:
        return "-"
    if v != v:  # NaN
        return "nan"
    return fmt.format(v)


def format_table(report, source, max_rows=40):
    """The human-readable report of :func:`neuromod.stats.summary.summarize`."""
    import numpy as np
    lines = [f"{source}: {report['n_trains']} trains, window "
             f"[{report['t_start']:.6g}, {report['t_stop']:.6g}] s"]
    pop = report["population"]
    lines.append(f"population: mean rate {_num(pop['mean_rate_hz'])} Hz, "
                 f"Fano factor {_num(pop['fano_factor'])}")
    lines.append("")
    lines.append(f"{'id':>6} {'n_spikes':>9} {'rate_hz':>10} {'cv':>8} {'cv2':>8} {'lv':>8}")
    rows = report["per_train"]
    for r in rows[:max_rows]:
        lines.append(f"{r['id']:>6} {r['n_spikes']:>9} {_num(r['rate_hz']):>10} "
                     f"{_num(r['cv']):>8} {_num(r['cv2']):>8} {_num(r['lv']):>8}")
    if len(rows) > max_rows:
        lines.append(f"... {len(rows) - max_rows} more trains (use --json for all)")
    if report.get("units"):
        lines.append("")
        lines.append("repeated trials per unit:")
        lines.append(f"{'unit':>6} {'n_trials':>9} {'fano_windowed':>14} {'noise_ceiling':>14}")
        for u in report["units"]:
            lines.append(f"{u['unit']:>6} {u['n_trials']:>9} {_num(u['fano_factor_windowed']):>14} "
                         f"{_num(u['noise_ceiling']):>14}")
    pw = {k: v for k, v in report["pairwise"].items() if v is not None}
    if pw:
        lines.append("")
        lines.append("pairwise (mean / min / max over pairs i != j; full matrices with --json):")
        for name, m in pw.items():
            m = np.asarray(m, dtype=float)
            off = m[~np.eye(m.shape[0], dtype=bool)]
            off = off[np.isfinite(off)]
            if off.size:
                lines.append(f"  {name:16s} {off.mean():10.4g} {off.min():10.4g} {off.max():10.4g}")
            else:
                lines.append(f"  {name:16s} {'-':>10} {'-':>10} {'-':>10}")
    return "\n".join(lines)
