"""Synthesise the embedded speech set with espeak-ng (run once; the WAVs are shipped).

    apt-get install espeak-ng          # Debian package, version 1.51 was used
    python data/make_speech.py         # writes data/speech/

Writes 16 kHz, 16-bit PCM mono WAV files:

* ``speech/digits/train/<accent>_<variant>_<digit>.wav``: the English words
  "zero" ... "nine" spoken by six training accents x four voice variants
  (pitch and speed differ per variant);
* ``speech/digits/test/...``: the same digits from two HELD-OUT accents
  (Caribbean ``en-029`` and Received Pronunciation ``en-gb-x-rp``), never used for
  training, with their own three variants;
* ``speech/demo.wav``: one short sentence for ``neuromod demo`` and the user guide.

Each utterance is resampled from espeak-ng's 22,050 Hz to 16 kHz with
``scipy.signal.resample_poly(x, 320, 441)``, trimmed to the span above -40 dB of its
peak plus 20 ms either side, and scaled to a peak of 0.7 full scale. A manifest
``speech/manifest.csv`` lists every file with its split, accent, variant, label,
pitch and speed. The data are never generated at test or run time.
"""
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "speech"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TRAIN_ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                 "en-us-nyc"]
TEST_ACCENTS = ["en-029", "en-gb-x-rp"]
# (espeak variant, pitch 0-99, speed in words per minute)
TRAIN_VARIANTS = [("m3", 45, 165), ("f2", 60, 180), ("m7", 35, 150), ("f5", 70, 170)]
TEST_VARIANTS = [("m1", 50, 170), ("f4", 65, 160), ("m5", 40, 185)]
DEMO_TEXT = "The cochlea turns sound into spikes."
FS = 16000


def synth(text, voice, pitch, speed):
    """espeak-ng -> float64 at 16 kHz (trimmed and scaled as the module docstring says)."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "u.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed),
                        "-w", wav, text], check=True, capture_output=True)
        fs, x = wavfile.read(wav)
    if fs != 22050:
        raise RuntimeError(f"espeak-ng wrote {fs} Hz, expected 22050")
    x = x.astype(np.float64) / 32768.0
    x = resample_poly(x, 320, 441)
    env = np.abs(x)
    above = np.flatnonzero(env > env.max() * 10 ** (-40 / 20))
    pad = int(0.02 * FS)
    x = x[max(0, above[0] - pad):min(x.size, above[-1] + pad)]
    return 0.7 * x / np.abs(x).max()


def write(path, x):
    from scipy.io import wavfile
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, FS, np.round(x * 32767).astype(np.int16))


def main():
    rows = []
    for split, accents, variants in (("train", TRAIN_ACCENTS, TRAIN_VARIANTS),
                                     ("test", TEST_ACCENTS, TEST_VARIANTS)):
        for accent in accents:
            for var, pitch, speed in variants:
                for label, word in enumerate(DIGITS):
                    x = synth(word, f"{accent}+{var}", pitch, speed)
                    rel = Path("digits") / split / f"{accent}_{var}_{label}.wav"
                    write(OUT / rel, x)
                    rows.append([rel.as_posix(), split, accent, var, label, pitch, speed])
    write(OUT / "demo.wav", synth(DEMO_TEXT, "en-gb-x-rp+m3", 50, 160))
    with open(OUT / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "split", "accent", "variant", "label", "pitch", "speed_wpm"])
        w.writerows(rows)
    ver = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()
    (OUT / "README.md").write_text(
        "# Embedded speech (synthetic)\n\nMade by `data/make_speech.py` with " + ver + ".\n"
        "`digits/train`: accents " + ", ".join(TRAIN_ACCENTS) + "; `digits/test` (held out): "
        + ", ".join(TEST_ACCENTS) + ".\n16 kHz 16-bit mono; labels in `manifest.csv`.\n"
        "`demo.wav`: \"" + DEMO_TEXT + "\"\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(rows) + 1} WAV files, {total / 1e6:.2f} MB in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
