"""``neuromod pcnn IMAGE``: run a pulse-coupled network over a grayscale image.

Writes ``DIR/pcnn.npz`` (``pulses`` (steps, H, W) uint8, ``first_firing``,
``signature``, ``segments``) and ``DIR/first_firing.png``, ``DIR/segments.png``,
``DIR/signature.png``, all committed together; ``--plot`` draws the same three
panels into one figure. Imports only argparse at module level.
"""
import argparse

from neuromod.cli.common import positive_int, split_sets


def _neighbours(text):
    if text not in ("4", "8"):
        raise argparse.ArgumentTypeError(f"expected 4 or 8, got {text!r}")
    return int(text)


def add_parser(sub):
    p = sub.add_parser(
        "pcnn", help="run a pulse-coupled neural network (PCNN) over an image",
        description=(
            "Run a pulse-coupled network over a grayscale image, one neuron per pixel: the "
            "classic PCNN (Eckhorn/Johnson, pyclustering's defaults a_F=0.1 a_L=0.1 a_E=0.5 "
            "V_F=1 V_L=1 V_E=10 beta=0.1), the intersecting cortical model (icm: f=0.9 g=0.8 "
            "h=20) or the spiking cortical model (scm: f=0.8 g=0.704 h=18.3). Input: PNG/JPEG "
            "(RGB to luminance with ITU-R 601 weights; 8-bit / 255, 16-bit / 65535) or a 2-D "
            ".npy array used as given. DIR receives pcnn.npz (pulses: steps x H x W uint8, "
            "first_firing, signature, segments) and PNGs of the first-firing map, the "
            "segments and the signature. signature[k] is the number of pulses at update k "
            "(k = 0 is the first). Segments: pixels that first pulse after step 0 in the same "
            "step and touch (4-connectivity); for segmentation use --fast-linking "
            "--neighbours 4 --set a_E=0.8 beta=0.1 V_F=0 (docs/pcnn.md)."))
    p.add_argument("image", metavar="IMAGE", help="PNG/JPEG image or 2-D .npy array")
    p.add_argument("--variant", choices=("classic", "icm", "scm"), default="classic",
                   help="neuron model (default classic)")
    p.add_argument("--steps", type=positive_int, default=50, metavar="N",
                   help="updates (default 50)")
    p.add_argument("--neighbours", type=_neighbours, default=8, metavar="4|8",
                   help="coupling neighbourhood (default 8)")
    p.add_argument("--fast-linking", action="store_true",
                   help="classic PCNN, torch backend: iterate linking and pulses to a fixed "
                        "point within each step (at most 100 passes)")
    p.add_argument("--set", action="extend", nargs="+", default=[], metavar="NAME=VALUE",
                   dest="sets", help="model parameters, e.g. beta=0.2 V_E=20")
    p.add_argument("--backend", choices=("torch", "brian2"), default="torch",
                   help="simulation backend (default torch)")
    p.add_argument("--out", metavar="DIR", help="output directory (default ./pcnn-STEM/)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the three panels into one figure")
    p.add_argument("--json", action="store_true",
                   help="print {shape, steps, n_pulses, signature, n_segments}")
    return p


def _parameters(args):
    from neuromod.errors import ParameterError
    from neuromod.neurons.pcnn import VARIANTS
    model = VARIANTS[args.variant][0]()
    values = {}
    for name, text in split_sets(args.sets):
        if name not in model.parameters:
            raise ParameterError(f"--set {name}: the {args.variant} model has no parameter "
                                 f"{name!r}; it has {', '.join(model.parameters)}")
        try:
            values[name] = model.parameters[name].check(float(text), model.name)
        except ValueError:
            raise ParameterError(f"--set {name}={text[:40]}: not a number") from None
        except ParameterError as exc:
            raise ParameterError(f"--set {name}={text[:40]}: {exc}") from None
    return values


#: Panel -> (title, size of its own figure).
_PANELS = {"first_firing": ("first pulse after step 0", (4.5, 3.6)),
           "segments": ("segments", (4.5, 3.6)), "signature": ("time signal", (6, 3))}


def _draw(fig, ax, kind, data):
    """One panel: the first-firing map, the segments or the time signal."""
    if kind == "signature":
        ax.plot(range(len(data)), data, drawstyle="steps-mid")
        ax.set_xlabel("update k")
        ax.set_ylabel("pulses")
    else:
        im = ax.imshow(data, cmap="viridis" if kind == "first_firing" else "tab20",
                       interpolation="nearest")
        if kind == "first_firing":
            fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_xticks([])
        ax.set_yticks([])
    title = _PANELS[kind][0]
    ax.set_title(f"{int(data.max()) + 1} segments" if kind == "segments" else title)


def _save(panels, path, title=None):
    """``panels``: ``[(kind, data), ...]`` side by side in one figure at ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    size = (12, 3.6) if len(panels) > 1 else _PANELS[panels[0][0]][1]
    fig, axes = plt.subplots(1, len(panels), figsize=size, squeeze=False)
    for ax, (kind, data) in zip(axes[0], panels):
        _draw(fig, ax, kind, data)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args):
    import os

    import numpy as np

    from neuromod.cli.common import print_json
    from neuromod.errors import NeuromodError, ParameterError
    from neuromod.outputs import PLOT_EXTENSIONS, Outputs
    if args.fast_linking and (args.variant != "classic" or args.backend != "torch"):
        raise ParameterError("--fast-linking needs --variant classic and --backend torch")
    params = _parameters(args)
    from neuromod.neurons.pcnn.image import first_firing, load_image, segments
    image = load_image(args.image)              # one line naming the file on bad input
    stem = os.path.splitext(os.path.basename(args.image))[0]
    out_dir = args.out or f"pcnn-{stem}"
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NeuromodError(f"--out {out_dir}: exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise NeuromodError(f"--out {out_dir}: the directory {parent} does not exist")
    from neuromod.limits import check_allocation
    check_allocation(image.size * args.steps, f"--steps {args.steps} on a {image.shape[0]} x "
                     f"{image.shape[1]} image: the pulse array")
    from neuromod.neurons.pcnn import run as run_pcnn
    made = not os.path.isdir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    try:
        with Outputs() as out:
            files = {k: out.add(os.path.join(out_dir, f"{k}{ext}"), k, (ext,)) for k, ext in (
                ("pcnn", ".npz"), ("first_firing", ".png"), ("segments", ".png"),
                ("signature", ".png"))}
            plot = out.add(args.plot, "--plot", PLOT_EXTENSIONS, ".png")
            r = run_pcnn(image, steps=args.steps, variant=args.variant,
                         neighbours=args.neighbours, backend=args.backend,
                         fast_linking=args.fast_linking, **params)
            ff = first_firing(r.pulses, skip_initial=True)
            seg = segments(r.pulses)
            sig = r.signature

            def write_npz(tmp):
                with open(tmp, "wb") as fh:
                    np.savez(fh, pulses=r.pulses, first_firing=ff, signature=sig,
                             segments=seg)
            out.write(files["pcnn"], write_npz)
            panels = [("first_firing", ff), ("segments", seg), ("signature", sig)]
            for kind, data in panels:
                out.write(files[kind], lambda tmp, p=(kind, data): _save([p], tmp))
            if plot is not None:
                out.write(plot, lambda tmp: _save(panels, tmp,
                                                  f"{args.variant} PCNN: {args.image}"))
    except BaseException:
        if made and os.path.isdir(out_dir) and not os.listdir(out_dir):
            os.rmdir(out_dir)
        raise
    result = {"shape": list(image.shape), "steps": args.steps,
              "n_pulses": int(r.pulses.sum()), "signature": sig.tolist(),
              "n_segments": int(seg.max()) + 1}
    if args.json:
        print_json(result)
    else:
        print(f"{args.image}: {image.shape[0]} x {image.shape[1]}, {args.variant} PCNN, "
              f"{args.steps} steps on {args.backend}: {result['n_pulses']} pulses, "
              f"{result['n_segments']} segments; written to {out_dir}/")
    return 0
