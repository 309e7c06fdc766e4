"""``neuromod demo``: the main jobs of neuromod on the embedded data, outputs in one folder."""
from neuromod.cli.common import positive_float


def add_parser(sub):
    p = sub.add_parser(
        "demo", help="run the main jobs on the embedded data and say where the outputs went",
        description=(
            "Spike-train statistics of the embedded recording (6 units x 10 trials), "
            "with per-unit PSTH noise ceilings; outputs (JSON report, figure) are written "
            "to --out."))
    p.add_argument("--out", default="demo-output", metavar="DIR",
                   help="output folder (default ./demo-output)")
    p.add_argument("--bin-size", type=positive_float, default=0.1, metavar="S",
                   help="bin width in seconds of the PSTH, noise ceilings and windowed Fano "
                        "factors (default 0.1)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return p


def run(args):
    import json
    import os
    import time

    import numpy as np

    import neuromod.data
    from neuromod import io
    from neuromod.cli.common import jsonable, print_json
    from neuromod.stats.plots import stats_figure
    from neuromod.stats.summary import summarize

    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    src = neuromod.data.path("spikes/demo_trains.txt")
    st = io.read(src)
    report = summarize(st, bin_size=args.bin_size, progress=False)
    units = np.unique(st.annotations["unit"])
    per_unit = report["units"]
    for u in per_unit:
        u["mean_rate_hz"] = float(st.select(unit=u["unit"]).rates().mean())
    json_path = os.path.join(args.out, "stats.json")
    png_path = os.path.join(args.out, "stats.png")
    _write_text_atomic(json_path, json.dumps(jsonable(report), allow_nan=False))
    stats_figure(st, report, png_path, bin_size=args.bin_size)
    figures = {
        "input": str(src), "n_trains": st.n_trains, "n_spikes": st.n_spikes,
        "mean_rate_hz": report["population"]["mean_rate_hz"],
        "fano_factor": report["population"]["fano_factor"],
        "units": per_unit, "outputs": [json_path, png_path],
        "wall_s": round(time.perf_counter() - t0, 3),
    }
    if args.json:
        print_json(figures)
        return 0
    print(f"spike statistics of {src.name}: {st.n_trains} trains "
          f"({len(units)} units x trials), {st.n_spikes} spikes")
    print(f"  population mean rate {figures['mean_rate_hz']:.2f} Hz, "
          f"Fano factor {figures['fano_factor']:.3f}")
    print(f"  {'unit':>4} {'rate_hz':>8} {'noise_ceiling':>14} {'fano_windowed':>14}")
    for r in per_unit:
        print(f"  {r['unit']:>4} {r['mean_rate_hz']:>8.2f} {r['noise_ceiling']:>14.3f} "
              f"{r['fano_factor_windowed']:>14.3f}")
    print("outputs:")
    for p in figures["outputs"]:
        print(f"  {os.path.abspath(p)}")
    return 0


def _write_text_atomic(path, text):
    from neuromod.io import atomic_write

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text + "\n")
    atomic_write(path, write)
