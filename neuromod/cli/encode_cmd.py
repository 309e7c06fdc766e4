"""``neuromod encode``: a WAV file -> spiketrum spikes (``.npz`` with the encoder configuration)."""
from neuromod.cli.common import positive_float, positive_int


def add_parser(sub):
    p = sub.add_parser(
        "encode", help="encode a sound (WAV) as spikes with spiketrum",
        description=(
            "Spiketrum encoding: matching pursuit over a gammatone kernel dictionary, one spike "
            "per atom, neuron = kernel x polarity x magnitude level (docs/auditory.md). Reads "
            "8/16/24/32-bit PCM or float WAV at any sample rate; stereo is mixed to mono and the "
            "sound is resampled to the internal rate (16 kHz). Writes the spikes and the encoder "
            "configuration to one .npz spike file (readable by 'neuromod stats') and prints "
            "duration_s, sample_rate (the input file's), internal_rate, channels, n_spikes, "
            "rate_hz, snr_db, spectrogram_corr and wall_s (seconds spent encoding)."))
    p.add_argument("input", metavar="AUDIO.wav", help="WAV file to encode")
    p.add_argument("--rate", type=positive_float, default=4000.0, metavar="R",
                   help="spikes per second of audio, all neurons together (default 4000; the "
                        "file gets exactly round(R x duration) spikes; at most 16000)")
    p.add_argument("--channels", type=positive_int, default=32, metavar="K",
                   help="number of gammatone kernels (default 32)")
    p.add_argument("--fmin", type=positive_float, default=100.0, metavar="HZ",
                   help="lowest kernel centre frequency in Hz (default 100)")
    p.add_argument("--fmax", type=positive_float, default=7000.0, metavar="HZ",
                   help="highest kernel centre frequency in Hz (default 7000, < 8000)")
    p.add_argument("--out", metavar="SPIKES.npz",
                   help="output spike file (default: AUDIO.spikes.npz beside the input)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="draw the spikegram over the spectrogram")
    return p


def default_output(path):
    """``x.wav`` -> ``x.spikes.npz`` (any other name gets ``.spikes.npz`` appended)."""
    import os
    root, ext = os.path.splitext(path)
    return (root if ext.lower() in (".wav", ".wave") else path) + ".spikes.npz"


def run(args):
    import time
    from neuromod.auditory.audio import AudioError, check_signal, read_wav
    from neuromod.auditory.spiketrum import encode, make_config
    from neuromod.auditory.spikefile import save_code
    from neuromod.cli.common import print_json
    from neuromod.errors import naming
    from neuromod.outputs import PLOT_EXTENSIONS, Outputs

    out_path = args.out or default_output(args.input)
    with Outputs() as out:
        spikes_out = out.add(out_path, "--out", (".npz",), ".npz")  # checked before any work
        plot = out.add(args.plot, "--plot", PLOT_EXTENSIONS, ".png")
        cfg = make_config(rate=args.rate, channels=args.channels, fmin=args.fmin, fmax=args.fmax)
        x, fs, info = read_wav(args.input)
        x = check_signal(x, args.input)  # empty, NaN/inf or all-zero: one line naming the file
        t0 = time.perf_counter()
        with naming(args.input):
            code = encode(x, fs, rate=cfg["rate"], channels=cfg["channels"], fmin=cfg["fmin"],
                          fmax=cfg["fmax"])
        wall = time.perf_counter() - t0
        if code.exhausted:
            raise AudioError(
                f"{args.input}: rate {args.rate:g} spikes/s is above what this sound can carry: "
                f"no atom lowers the residual any more after {code.n_spikes} spikes "
                f"({code.rate:.1f}/s); lower --rate")
        out.write(spikes_out, lambda tmp: save_code(code.spikes, code.config, tmp))
        scores = code.scores()
        result = {"duration_s": code.spikes.duration, "sample_rate": fs,
                  "internal_rate": code.config["sample_rate"],
                  "channels": code.config["channels"], "n_spikes": code.n_spikes,
                  "rate_hz": code.rate, "snr_db": scores["snr_db"],
                  "spectrogram_corr": scores["spectrogram_corr"], "wall_s": wall}
        if args.plot:
            from neuromod.auditory.plot import plot_spikegram
            out.write(plot, lambda tmp: plot_spikegram(code, tmp))
    out = out_path
    if args.json:
        print_json(result)
    else:
        print(f"{args.input}: {result['duration_s']:.3f} s at {fs} Hz ({info['format']}, "
              f"{info['channels']} channel{'s' if info['channels'] > 1 else ''}) -> {out}")
        print(f"{code.n_spikes} spikes ({code.rate:.1f}/s) from {code.config['channels']} kernels "
              f"at {code.config['sample_rate']:g} Hz in {wall:.2f} s")
        print(f"SNR {scores['snr_db']:.2f} dB, log-spectrogram correlation "
              f"{scores['spectrogram_corr']:.4f}")
    return 0
