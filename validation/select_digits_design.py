"""Choose the spoken-digit classifier design on the training accents alone.

    python validation/select_digits_design.py [--out validation/digits_design.json]

Runs :func:`neuromod.auditory.digits.select_design`: every candidate of
``neuromod.auditory.digits.CANDIDATES`` (time code x read-out) is scored by
leave-one-accent-out cross-validation over the six TRAINING accents, averaged over the
three encoders (spiketrum, send-on-delta, gammatone + LIF) at 1,000 spikes/s; the
held-out test accents are never read. Writes the table and the chosen design as JSON
(atomically). ``neuromod.auditory.digits.DESIGN`` must equal the record's ``chosen``
entry (a test checks it); the ``spiketrum-digits`` claim then scores that one design
once on the held-out accents.

About 10 minutes on 2 cores.
"""
import argparse
import json
import os
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "digits_design.json"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from neuromod.auditory.digits import CANDIDATES, ENCODERS, select_design
    from neuromod.io import atomic_write
    t0 = time.perf_counter()
    with tqdm(total=len(CANDIDATES) * len(ENCODERS) * 6, file=sys.stderr,
              desc="cross-validation fits") as bar:
        rec = select_design(seed=args.seed, n_jobs=2, progress=bar.update)
    rec["seconds"] = round(time.perf_counter() - t0, 1)
    rec["command"] = "python validation/select_digits_design.py"
    text = json.dumps(rec, indent=1) + "\n"

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)
    atomic_write(args.out, write)
    for row in rec["table"]:
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in row.items()))
    print("chosen:", rec["chosen"])


if __name__ == "__main__":
    main()
