"""``neuromod decode``: a spiketrum spike file -> WAV (16-bit PCM)."""
from neuromod.cli.common import positive_float


def add_parser(sub):
    p = sub.add_parser(
        "decode", help="reconstruct a sound from a spiketrum spike file",
        description=(
            "Sums one gammatone kernel per spike, from the spikes and the encoder configuration "
            "stored in the spike file alone, and writes 16-bit PCM mono WAV at the internal "
            "rate (16 kHz) unless --sample-rate asks for another. Samples beyond full scale "
            "are clipped (the count is reported)."))
    p.add_argument("input", metavar="SPIKES.npz", help="spike file written by 'neuromod encode'")
    p.add_argument("--out", required=True, metavar="AUDIO.wav", help="output WAV file")
    p.add_argument("--sample-rate", type=positive_float, metavar="HZ",
                   help="output sample rate in Hz (default: the internal rate)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args):
    import numpy as np
    from neuromod.auditory.audio import write_wav
    from neuromod.auditory.spikefile import load_code
    from neuromod.auditory.spiketrum import decode
    from neuromod.cli.common import print_json

    from neuromod.outputs import Outputs

    with Outputs() as out:
        wav = out.add(args.out, "--out", (".wav", ".wave"), ".wav")   # checked before any work
        spikes, config = load_code(args.input)
        from neuromod.errors import naming
        with naming(args.input):
            xhat = decode(spikes, config, sample_rate=args.sample_rate)
        fs = args.sample_rate or config["sample_rate"]
        clipped = int(np.count_nonzero(np.abs(xhat) > 1.0))
        out.write(wav, lambda tmp: write_wav(tmp, xhat, fs))
    result = {"output": args.out, "sample_rate": fs, "n_samples": int(xhat.size),
              "duration_s": xhat.size / fs, "n_spikes": spikes.n_spikes, "clipped": clipped}
    if args.json:
        print_json(result)
    else:
        print(f"{args.input}: {spikes.n_spikes} spikes -> {args.out} ({xhat.size} samples at "
              f"{fs:g} Hz, {xhat.size / fs:.3f} s{f', {clipped} samples clipped' if clipped else ''})")
    return 0
