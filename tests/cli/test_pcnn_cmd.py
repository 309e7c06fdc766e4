"""``neuromod pcnn IMAGE``: outputs, JSON, one-line errors that leave nothing behind."""
import json

import numpy as np
import pytest

from neuromod.cli import main


@pytest.fixture
def image(tmp_path):
    from PIL import Image
    img = np.zeros((12, 16), np.uint8)
    img[:, 8:] = 200
    img[:, :8] = 80
    Image.fromarray(img).save(tmp_path / "two.png")
    return tmp_path / "two.png"


def test_outputs_and_json(capsys, tmp_path, image):
    from neuromod.neurons.pcnn import run
    out = tmp_path / "res"
    assert main(["pcnn", str(image), "--steps", "20", "--out", str(out), "--plot",
                 str(tmp_path / "all.png"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    with np.load(out / "pcnn.npz", allow_pickle=False) as z:
        pulses, sig, seg = z["pulses"], z["signature"], z["segments"]
        assert pulses.dtype == np.uint8 and pulses.shape == (20, 12, 16)
        assert z["first_firing"].shape == (12, 16)
    ref = run(np.asarray(__import__("PIL.Image").Image.open(image), float) / 255.0, steps=20)
    assert np.array_equal(pulses, ref.pulses)
    assert res == {"shape": [12, 16], "steps": 20, "n_pulses": int(ref.pulses.sum()),
                   "signature": ref.signature.tolist(), "n_segments": int(seg.max()) + 1}
    assert res["signature"] == sig.tolist() and res["signature"][0] == 12 * 16
    for name in ("first_firing.png", "segments.png", "signature.png"):
        assert (out / name).stat().st_size > 0
    assert (tmp_path / "all.png").stat().st_size > 0


@pytest.mark.parametrize("content,argv,message", [
    (None, [], "no such file"),
    (b"junk", [], "not a readable image"),
    ("3d", [], "2-D"),
    ("nan", [], "NaN"),
    ("ok", ["--set", "zz=1"], "no parameter 'zz'"),
    ("ok", ["--set", "beta=-1"], "beta"),
    ("ok", ["--fast-linking", "--backend", "brian2"], "--fast-linking needs"),
])
def test_bad_input_one_line_exit_2(capsys, tmp_path, content, argv, message):
    path = tmp_path / ("img.png" if content in (None, b"junk") else "img.npy")
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "3d":
        np.save(path, np.zeros((2, 2, 2)))
    elif content == "nan":
        np.save(path, np.array([[np.nan, 1.0]]))
    elif content == "ok":
        np.save(path, np.ones((3, 3)))
    out = tmp_path / "out"
    assert main(["pcnn", str(path), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
