"""``neuromod demo``: the main jobs of neuromod on the embedded data, outputs in one folder."""
from neuromod.cli.common import positive_float

PARTS = ("stats", "simulate", "auditory", "retina")

#: The retina part: the models fitted to the embedded recording, the TeCoS-LVM epochs and
#: the latent paths of its evaluation (fewer than ``neuromod fit``'s, to keep the demo
#: short).
RETINA = {"models": ("glm", "tecos"), "epochs": 30, "samples": 20}


def add_parser(sub):
    p = sub.add_parser(
        "demo", help="run the main jobs on the embedded data and say where the outputs went",
        description=(
            "stats: spike-train statistics of the embedded recording (6 units x 10 trials) "
            "with per-unit noise ceilings; simulate: one LIF population on the Torch and "
            "the Brian2 backend from one definition, spike counts compared; auditory: the "
            "embedded sentence encoded to spikes with spiketrum and decoded; retina: a GLM "
            "and a TeCoS-LVM fitted to the embedded (simulated) retina recording and "
            "compared on its test repeats. Outputs go to --out."))
    p.add_argument("--out", default="demo-output", metavar="DIR",
                   help="output folder (default ./demo-output)")
    p.add_argument("--parts", default=",".join(PARTS), metavar="LIST",
                   help=f"comma-separated subset of {','.join(PARTS)} (default: all)")
    p.add_argument("--bin-size", type=positive_float, default=0.1, metavar="S",
                   help="bin width in seconds of the PSTH, noise ceilings and windowed Fano "
                        "factors (default 0.1)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return p


def run(args):
    import os
    import time

    from neuromod.cli.common import print_json
    from neuromod.errors import NeuromodError

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise NeuromodError(f"--parts: unknown part {bad[0] if bad else '(none)'!r}; "
                            f"choose from {', '.join(PARTS)}")
    from neuromod.outputs import Outputs
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise NeuromodError(f"--out {args.out}: exists and is not a directory")
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    figures = {}
    with Outputs() as out:          # every file of the demo is committed together at the end
        for part in parts:
            run_part = {"stats": _stats, "simulate": _simulate, "auditory": _auditory,
                        "retina": _retina}[part]
            figures[part] = run_part(args, out)
    figures["outputs"] = [f for part in parts for f in figures[part].pop("files")]
    figures["wall_s"] = round(time.perf_counter() - t0, 3)
    if args.json:
        print_json(figures)
        return 0
    if "stats" in figures:
        s = figures["stats"]
        print(f"spike statistics of {os.path.basename(s['input'])}: {s['n_trains']} trains, "
              f"{s['n_spikes']} spikes; population mean rate {s['mean_rate_hz']:.2f} Hz, "
              f"Fano factor {s['fano_factor']:.3f}")
        print(f"  {'unit':>4} {'rate_hz':>8} {'noise_ceiling':>14} {'fano_windowed':>14}")
        for r in s["units"]:
            print(f"  {r['unit']:>4} {r['mean_rate_hz']:>8.2f} {r['noise_ceiling']:>14.3f} "
                  f"{r['fano_factor_windowed']:>14.3f}")
    if "simulate" in figures:
        s = figures["simulate"]
        print(f"LIF population ({s['n']} neurons, {s['duration_s']:g} s, dt {s['dt']:g} s), one "
              f"definition on two backends: torch {s['n_spikes']['torch']} spikes, brian2 "
              f"{s['n_spikes']['brian2']} spikes; {s['identical_counts']} of {s['n']} neurons "
              f"with identical counts; f-I: rates {min(s['rates_hz']):.1f} to "
              f"{max(s['rates_hz']):.1f} Hz")
    if "auditory" in figures:
        a = figures["auditory"]
        print(f"spiketrum coding of {os.path.basename(a['input'])} ({a['duration_s']:.2f} s): "
              f"{a['n_spikes']} spikes ({a['rate_hz']:.0f}/s, {a['channels']} channels), "
              f"SNR {a['snr_db']:.1f} dB, log-spectrogram correlation "
              f"{a['spectrogram_corr']:.3f}, encoded in {a['encode_s']:.2f} s including the "
              f"one-off dictionary build")
    if "retina" in figures:
        r = figures["retina"]
        print(f"retina models fitted to {r['data']} ({r['n_units']} cells; test: "
              f"{r['n_test_trials']} repeats; 1 ms bins):")
        print(f"  {'model':<6} {'fit_s':>6} {'psth_corr':>9} {'bits/spike':>10} "
              f"{'van_rossum':>10} {'fano':>6} {'isi<3ms':>7}")
        for row in r["rows"]:
            def f(key, fmt):
                v = row.get(key)
                return format(v, fmt) if v is not None else "-"
            print(f"  {row['model']:<6} {f('fit_seconds', '6.1f'):>6} "
                  f"{f('psth_corr', '9.3f'):>9} {f('bits_per_spike', '10.3f'):>10} "
                  f"{f('van_rossum', '10.2f'):>10} {f('fano_model', '6.3f'):>6} "
                  f"{f('short_isi_frac_model', '7.3f'):>7}")
        print("  (data: psth_corr is the noise ceiling, van_rossum the data-data distance)")
    print("outputs:")
    for p in figures["outputs"]:
        print(f"  {os.path.abspath(p)}")
    return 0


def _stats(args, out):
    import json
    import os

    import neuromod.data
    from neuromod import io
    from neuromod.cli.common import jsonable
    from neuromod.stats.plots import stats_figure
    from neuromod.stats.summary import summarize

    src = neuromod.data.path("spikes/demo_trains.txt")
    st = io.read(src)
    report = summarize(st, bin_size=args.bin_size, progress=False)
    for u in report["units"]:
        u["mean_rate_hz"] = float(st.select(unit=u["unit"]).rates().mean())
    json_path = os.path.join(args.out, "stats.json")
    png_path = os.path.join(args.out, "stats.png")
    json_out, png_out = out.add(json_path), out.add(png_path)
    text = json.dumps(jsonable(report), allow_nan=False) + "\n"
    out.write(json_out, lambda tmp: _write_text(tmp, text))
    out.write(png_out, lambda tmp: stats_figure(st, report, tmp, bin_size=args.bin_size))
    return {"input": str(src), "n_trains": st.n_trains, "n_spikes": st.n_spikes,
            "mean_rate_hz": report["population"]["mean_rate_hz"],
            "fano_factor": report["population"]["fano_factor"],
            "units": report["units"], "files": [json_path, png_path]}


def _simulate(args, out):
    """The f-I ramp of ``neuromod simulate lif`` on both backends (Brian2 numpy target)."""
    import os

    import numpy as np

    from neuromod import io
    from neuromod.backends.network import simulate
    from neuromod.neurons import lif, rheobase

    n, duration, dt = 50, 0.5, 1e-4
    model = lif()
    currents = np.linspace(0.9, 2.0, n) * rheobase(model)
    counts, files = {}, []
    for backend in ("torch", "brian2"):
        options = {"target": "numpy"} if backend == "brian2" else {}
        res = simulate(model, n, duration, dt, backend=backend,
                       inputs={"I_ext": currents}, seed=0, **options)
        st = res.spikes["neurons"]
        counts[backend] = st.counts
        files.append(os.path.join(args.out, f"lif_{backend}.spikes.txt"))
        out.write(out.add(files[-1]), lambda tmp, st=st: io.write(st, tmp, format="txt"))
    return {"model": "lif", "n": n, "duration_s": duration, "dt": dt,
            "n_spikes": {b: int(c.sum()) for b, c in counts.items()},
            "identical_counts": int(np.sum(counts["torch"] == counts["brian2"])),
            "rates_hz": (counts["torch"] / duration).tolist(), "files": files}


def _auditory(args, out):
    from neuromod.auditory.demo import run as run_auditory
    figures = run_auditory(args.out, outputs=out)
    return dict(figures)


def _retina(args, out):
    """GLM and TeCoS-LVM on the embedded recording, compared (files in ``retina/``)."""
    import os
    import warnings

    from neuromod.retina.evaluate import write_comparison
    from neuromod.retina.glm import UnstableGLMWarning
    from neuromod.retina.pipeline import TRAINED, fit_and_evaluate
    from neuromod.retina.recording import embedded
    rec = embedded()
    reports = []
    for kind in RETINA["models"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnstableGLMWarning)     # reported in the rows
            _, report, _ = fit_and_evaluate(
                kind, rec, epochs=RETINA["epochs"] if kind in TRAINED else None, seed=0,
                progress=True, samples=RETINA["samples"])
        reports.append(report)
    d = os.path.join(args.out, "retina")
    os.makedirs(d, exist_ok=True)
    paths = [os.path.join(d, f"comparison.{ext}") for ext in ("json", "csv", "png")]
    rows = write_comparison(reports, *paths, outputs=out)
    seconds = {r["model"]: r["train_seconds"] for r in reports}
    for row in rows:
        row["fit_seconds"] = seconds.get(row["model"])
    return {"data": rec.name, "n_units": int(rec.n_units),
            "n_test_trials": int(rec.n_test_trials), "rows": rows, "files": paths}


def _write_text(path, text):
    with open(path, "w") as fh:
        fh.write(text)
