"""Every command, bad option values: one line on stderr, exit 2, no traceback, nothing
written. (Bad files have their own tables: test_io_*, test_audio_*; bad outputs:
test_outputs.)"""
import os

import pytest

from neuromod.cli import main


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tone_wav, trains_file):
    spikes = tmp_path_factory.mktemp("cmd") / "tone.npz"
    assert main(["encode", tone_wav, "--rate", "500", "--channels", "8", "--out", str(spikes)]) == 0
    return {"trains": trains_file, "wav": tone_wav, "spikes": str(spikes)}


#: (case id, argv with {trains}/{wav}/{spikes}/{out}, a word the message must contain)
CASES = [
    ("stats --tau 0", ["stats", "{trains}", "--tau", "0"], "--tau"),
    ("stats --tau nan", ["stats", "{trains}", "--tau", "nan"], "--tau"),
    ("stats --q -1", ["stats", "{trains}", "--q", "-1"], "--q"),
    ("stats --bin-size -1", ["stats", "{trains}", "--bin-size", "-1"], "--bin-size"),
    ("stats --t-start inf", ["stats", "{trains}", "--t-start", "inf"], "--t-start"),
    ("stats --t-stop before --t-start", ["stats", "{trains}", "--t-start", "2", "--t-stop", "1"],
     "t_stop"),
    ("stats --measures bogus", ["stats", "{trains}", "--measures", "bogus"], "--measures"),
    ("stats --format bogus", ["stats", "{trains}", "--format", "bogus"], "--format"),
    ("stats tiny --bin-size", ["stats", "{trains}", "--bin-size", "1e-12"], "NEUROMOD_MEMORY_LIMIT"),
    ("simulate unknown model", ["simulate", "nosuchmodel"], "nosuchmodel"),
    ("simulate --n 0", ["simulate", "lif", "--n", "0"], "--n"),
    ("simulate --n 1e10", ["simulate", "lif", "--n", "10000000000"], "NEUROMOD_MEMORY_LIMIT"),
    ("simulate --dt 1e-12", ["simulate", "lif", "--n", "2", "--dt", "1e-12"], "step"),
    ("simulate --dt > duration", ["simulate", "lif", "--dt", "2", "--duration", "1"], "--dt"),
    ("simulate --seed -1", ["simulate", "lif", "--n", "2", "--seed", "-1"], "seed"),
    ("simulate --seed 2**64", ["simulate", "lif", "--n", "2", "--seed", str(2 ** 64)], "seed"),
    ("simulate --set tau_m=0*ms", ["simulate", "lif", "--set", "tau_m=0*ms"], "tau_m"),
    ("simulate --set tau_m=-5*ms", ["simulate", "lif", "--set", "tau_m=-5*ms"], "tau_m"),
    ("simulate --set tau_m=1/0", ["simulate", "lif", "--set", "tau_m=1/0"], "tau_m"),
    ("simulate --set tau_m=10**10**10", ["simulate", "lif", "--set", "tau_m=10**10**10"], "tau_m"),
    ("simulate --set nested", ["simulate", "lif", "--set", "tau_m=" + "(" * 500 + "1" + ")" * 500],
     "tau_m"),
    ("simulate --set t_ref=-1*ms", ["simulate", "lif", "--set", "t_ref=-1*ms"], "t_ref"),
    ("simulate --set wrong unit", ["simulate", "lif", "--set", "tau_m=5*mV"], "tau_m"),
    ("simulate --set unknown", ["simulate", "lif", "--set", "bogus=1"], "bogus"),
    ("simulate --set I_min=nan", ["simulate", "lif", "--set", "I_min=nan*nA"], "I_min"),
    ("encode --rate 0", ["encode", "{wav}", "--rate", "0", "--out", "{out}.npz"], "--rate"),
    ("encode --channels 100000", ["encode", "{wav}", "--channels", "100000", "--out", "{out}.npz"],
     "channels"),
    ("encode --fmax above Nyquist", ["encode", "{wav}", "--fmax", "9000", "--out", "{out}.npz"],
     "fmax"),
    ("decode --sample-rate 1", ["decode", "{spikes}", "--out", "{out}.wav", "--sample-rate", "1"],
     "sample"),
    ("decode --sample-rate 1e300", ["decode", "{spikes}", "--out", "{out}.wav",
                                    "--sample-rate", "1e300"], "sample"),
    ("decode of a WAV file", ["decode", "{wav}", "--out", "{out}.wav"], "tone.wav"),
    ("validate unknown claim", ["validate", "no-such-claim"], "no-such-claim"),
    ("demo --parts bogus", ["demo", "--parts", "bogus", "--out", "{out}"], "--parts"),
]


@pytest.mark.parametrize("argv,word", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_option_is_one_line_exit_2(argv, word, inputs, tmp_path, cli):
    out = str(tmp_path / "out")
    rc, stdout, err = cli([a.format(out=out, **inputs) for a in argv])
    assert rc == 2, (stdout, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert word in lines[0], lines[0]
    assert os.listdir(tmp_path) == []
