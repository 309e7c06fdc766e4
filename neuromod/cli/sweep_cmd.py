"""``neuromod sweep``: a parameter sweep of ``neuromod simulate``, one Dask task per run.

Imports only argparse and the CLI helpers at module level; dask, torch and brian2 load
in ``run`` (dask not at all with ``--scheduler none``).
"""
from neuromod.cli.common import positive_int


def add_parser(sub):
    from neuromod.cli.simulate_cmd import add_simulation_options
    p = sub.add_parser(
        "sweep", help="parameter sweep of simulate, on a local or an existing Dask cluster",
        description=(
            "Run 'neuromod simulate MODEL' at every point of a grid (--grid NAME=V1,V2,..., "
            "several --grid for a product), --repeat times each with its own seed (a stable "
            "hash of the point, the repeat and --seed), and write one row per run: the grid "
            "values (SI units), repeat, seed, the --measures of its spikes, wall_s and error "
            "(a bad combination is reported in its row; the sweep goes on). Rows are "
            "journalled in RESULTS.partial.jsonl as they arrive; --resume computes only the "
            "missing ones. See docs/scale.md."))
    p.add_argument("model", help="model name (neuromod simulate --list; not tempotron)")
    p.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                   required=True, help="a parameter (or I_min, I_max, a string option) and "
                   "its values in --set syntax, e.g. tau_m=10*ms,20*ms")
    p.add_argument("--repeat", type=positive_int, default=1, metavar="K",
                   help="runs per grid point (default 1)")
    add_simulation_options(p)
    p.add_argument("--measures", metavar="LIST", default="n_spikes,rate_hz,cv,fano",
                   help="comma-separated, from n_spikes, n_firing, rate_hz, cv, cv2, lv, fano "
                        "(default n_spikes,rate_hz,cv,fano)")
    p.add_argument("--out", required=True, metavar="RESULTS.csv",
                   help="results table, .csv or .parquet (pyarrow), written at the end")
    from neuromod.cli.common import add_scheduler_option
    add_scheduler_option(p, "local")
    p.add_argument("--resume", action="store_true",
                   help="continue the journal RESULTS.partial.jsonl of an interrupted sweep")
    p.add_argument("--json", action="store_true",
                   help="print {out, n_rows, n_failed, n_resumed, rows}")
    return p


def run(args):
    import json
    import os

    from neuromod.cli.common import print_json, split_sets
    from neuromod.cli.simulate_cmd import DEFAULTS
    from neuromod.errors import NeuromodError
    from neuromod.scale.cluster import connect, parse_scheduler
    from neuromod.scale.sweep import (check_results_path, journal_path, parse_grid, sweep,
                                      sweep_tasks)

    if args.model == "tempotron":
        raise NeuromodError("neuromod sweep runs the registered models (neuromod simulate "
                            "--list), not the tempotron")
    scheduler = parse_scheduler(args.scheduler)
    grid = parse_grid(args.grid)
    sets = split_sets(args.sets)
    measures = [m.strip() for m in args.measures.split(",") if m.strip()]
    check_results_path(args.out)
    opts = {k: (DEFAULTS[k] if getattr(args, k) is None else getattr(args, k))
            for k in ("n", "duration", "dt", "backend")}
    if opts["dt"] >= opts["duration"]:
        raise NeuromodError(f"--dt ({opts['dt']:g} s) must be smaller than --duration "
                            f"({opts['duration']:g} s)")
    sweep_tasks(args.model, grid, args.repeat, args.seed, target=args.target, sets=sets,
                measures=measures, **opts)              # every name and unit checked first
    journal = journal_path(args.out)
    resumed = 0
    if args.resume and os.path.exists(journal):
        with open(journal, encoding="utf-8") as fh:
            resumed = max(0, sum(1 for line in fh if line.strip()) - 1)
    with connect(scheduler) as client:
        rows = sweep(args.model, grid, args.repeat, args.seed or 0, target=args.target,
                     sets=sets, measures=measures, out=args.out, client=client,
                     resume=args.resume, **opts)
    failed = sum(1 for r in rows if r["error"])
    if args.json:
        print_json({"out": args.out, "n_rows": len(rows), "n_failed": failed,
                    "n_resumed": resumed, "rows": rows})
        return 0
    print(f"sweep of {args.model}: {len(rows)} runs ({len(rows) // args.repeat} grid points x "
          f"{args.repeat}) written to {args.out}"
          + (f"; {resumed} rows taken from the journal" if resumed else "")
          + (f"; {failed} failed (see the error column)" if failed else ""))
    if failed:
        first = next(r for r in rows if r["error"])
        print(f"first failure: {json.dumps({k: first[k] for k, _ in grid})}: {first['error']}")
    return 0
