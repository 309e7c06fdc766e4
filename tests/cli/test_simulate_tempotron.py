"""``neuromod simulate tempotron``: Poisson afferents and random weights on the exact
and the clock-driven modes (both backends), the JSON summary, --out, --plot, --list and
one-line user errors. Every run is seeded."""
import json
import subprocess
import sys

import numpy as np
import pytest

from neuromod import io
from neuromod.cli import main
from neuromod.neurons.tempotron import Patterns, Tempotron, simulate

SMALL = ["--trials", 8, "--n", 2, "--duration", "300ms", "--seed", 11]


def run_json(capsys, *argv):
    assert main(["simulate", "tempotron", *map(str, argv), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_clock_backends_agree_with_each_other_and_with_the_exact_mode(tmp_path, capsys):
    runs = {}
    for name, extra in (("exact", []), ("torch", ["--mode", "clock"]),
                        ("brian2", ["--backend", "brian2"])):        # --backend implies clock
        runs[name] = run_json(capsys, *SMALL, *extra, "--out", tmp_path / f"{name}.npz")
    ex, ck, b2 = runs["exact"], runs["torch"], runs["brian2"]
    assert (ex["mode"], ck["mode"], b2["mode"]) == ("exact", "clock", "clock")
    assert (ck["backend"], b2["backend"], ex["backend"], ex["dt"]) == ("torch", "brian2", None,
                                                                       None)
    assert ex["n_input_spikes"] == ck["n_input_spikes"] == b2["n_input_spikes"]   # same seed
    counts = np.array(ex["counts"])
    assert counts.shape == (8, 2) and counts.sum() >= 6 and (counts.sum(axis=0) > 0).all()
    assert ck["counts"] == b2["counts"]
    same = np.array(ck["counts"]) == counts
    assert same.mean() >= 0.9 and abs(ck["n_spikes"] - ex["n_spikes"]) <= 1
    trains = {k: io.read(tmp_path / f"{k}.npz") for k in runs}
    for a, b in zip(trains["torch"], trains["brian2"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    close = [len(a) == len(b) and np.all(np.abs(a - b) <= 1e-4 + 1e-12)
             for a, b in zip(trains["exact"], trains["torch"])]
    assert np.mean(close) >= 0.85


def test_the_exact_mode_is_the_library_on_the_same_draws(capsys):
    """The seed draws the weights (neurons x afferents), then the Poisson counts and
    times: the command's output is the library's on those patterns."""
    r = run_json(capsys, "--trials", 3, "--n", 2, "--afferents", 30, "--rate", "8*Hz",
                 "--duration", 0.2, "--weight-mean", 0.1, "--weight-std", 0.1, "--tau-m",
                 "15ms", "--tau-s", "3.75*ms", "--theta", 0.8, "--seed", 4)
    rng = np.random.default_rng(4)
    w = rng.normal(0.1, 0.1, (2, 30))
    c = rng.poisson(8 * 0.2, (3, 30))
    t = rng.uniform(0, 0.2, c.sum())
    aff = np.repeat(np.tile(np.arange(30), 3), c.ravel())
    pat = np.repeat(np.repeat(np.arange(3), 30), c.ravel())
    P = Patterns.from_arrays(t, aff, pat, 30, 0.2, n_patterns=3)
    out = simulate(P, w, Tempotron(tau_m=0.015, tau_s=0.00375, theta=0.8))
    assert r["counts"] == [[len(o) for o in trial] for trial in out]
    assert r["neuron"] == {"tau_m": 0.015, "tau_s": 0.00375, "theta": 0.8, "binary": False}
    assert r["n_input_spikes"] == int(c.sum())


def test_json_structure_and_defaults(capsys):
    r = run_json(capsys, "--trials", 4, "--seed", 1)
    assert set(r) == {"model", "mode", "backend", "dt", "duration", "trials", "n", "afferents",
                      "rate_hz", "seed", "neuron", "weight_mean", "weight_std",
                      "n_input_spikes", "n_spikes", "counts", "rates_hz", "spikes_per_trial",
                      "mean_rate_hz", "fraction_firing", "wall_s"}
    assert (r["model"], r["mode"], r["duration"], r["n"], r["afferents"], r["rate_hz"]) == \
        ("tempotron", "exact", 0.5, 1, 100, 5.0)
    assert (r["weight_mean"], r["weight_std"], r["seed"]) == (0.035, 0.07, 1)
    assert r["neuron"] == {"tau_m": 0.02, "tau_s": 0.005, "theta": 1.0, "binary": False}
    counts = np.array(r["counts"])
    assert counts.shape == (4, 1) and r["n_spikes"] == counts.sum()
    np.testing.assert_allclose(r["rates_hz"], counts / 0.5)
    assert r["spikes_per_trial"] == pytest.approx(counts.mean())
    assert r["mean_rate_hz"] == pytest.approx(counts.mean() / 0.5)
    assert r["fraction_firing"] == pytest.approx(np.mean(counts > 0))
    assert 100 * 5 * 0.5 * 4 * 0.8 < r["n_input_spikes"] < 100 * 5 * 0.5 * 4 * 1.2
    assert run_json(capsys, "--trials", 4, "--seed", 1)["counts"] == r["counts"]   # seeded
    # --set takes the parameters in Brian2 syntax, as for the other models
    a = run_json(capsys, "--trials", 4, "--seed", 1, "--set", "tau_m=15*ms", "theta=0.9")
    b = run_json(capsys, "--trials", 4, "--seed", 1, "--tau-m", 0.015, "--theta", 0.9)
    assert a["counts"] == b["counts"] and a["neuron"] == b["neuron"]


def test_binary_tempotron_fires_at_most_once(capsys):
    r = run_json(capsys, "--trials", 5, "--n", 3, "--weight-mean", 0.3, "--binary", "--seed", 2)
    counts = np.array(r["counts"])
    assert r["neuron"]["binary"] and counts.max() == 1 and counts.sum() >= 10
    assert np.array(run_json(capsys, "--trials", 5, "--n", 3, "--weight-mean", 0.3, "--seed",
                             2)["counts"]).max() > 1


def test_out_plot_and_text_summary(tmp_path, capsys):
    out, png = tmp_path / "spikes.dat", tmp_path / "fig.png"
    assert main(["simulate", "tempotron", "--trials", "3", "--n", "2", "--seed", "3", "--out",
                 str(out), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("tempotron (exact mode): 2 neurons x 3 trials of 100 afferents")
    assert "spike trains written to" in text and "figure written to" in text
    st = io.read(out, format="txt")                # unknown extension: written as text
    assert st.n_trains == 6 and (st.t_start, st.t_stop) == (0.0, 0.5)
    assert st.annotations["trial"].tolist() == [0, 0, 1, 1, 2, 2]
    assert st.annotations["unit"].tolist() == [0, 1, 0, 1, 0, 1]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png", "spikes.dat"]


def test_list_shows_the_tempotron(capsys):
    assert main(["simulate", "--list"]) == 0
    text = capsys.readouterr().out
    assert "tempotron: " in text and "lif: " in text
    assert main(["simulate", "--list", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    t = models["tempotron"]
    assert t["options"] == {"mode": ["exact", "clock"]} and t["inputs"] == []
    assert t["parameters"]["tau_m"] == {"default": "20*ms", "value": 0.02, "unit": "second"}
    assert set(t["parameters"]) == {"tau_m", "tau_s", "theta"}


@pytest.mark.parametrize("argv,message", [
    (["tempotron", "--tau-s", "20ms"], "tau_s must be smaller than tau_m, got tau_s = 0.02 s"),
    (["tempotron", "--set", "tau_s=30*ms", "tau_m=20*ms"], "tau_s must be smaller than tau_m"),
    (["tempotron", "--duration", "-1"], "argument --duration: must be a finite time > 0"),
    (["tempotron", "--duration=-500*ms"], "argument --duration: must be a finite time > 0"),
    (["tempotron", "--duration", "5*mV"], "expected second, got volt"),
    (["tempotron", "--rate=-5Hz"], "argument --rate: must be a finite rate >= 0"),
    (["tempotron", "--tau-m", "0"], "argument --tau-m: must be a finite time > 0"),
    (["tempotron", "--weight-std", "-1"], "argument --weight-std: must be >= 0"),
    (["tempotron", "--mode", "exact", "--backend", "brian2"], "--backend applies to --mode clock"),
    (["tempotron", "--mode", "clock", "--dt", "1", "--duration", "0.5"],
     "--dt (1 s) must be smaller than --duration (0.5 s)"),
    (["tempotron", "--set", "V0=2"], "--set V0=2: the tempotron has the parameters tau_m"),
    (["tempotron", "--target", "cython"], "numpy target only"),
    (["tempotron", "--weight-mean", "10", "--max-spikes", "2", "--trials", "1", "--seed", "0"],
     "more than max_spikes = 2"),
    (["lif", "--afferents", "10"], "--afferents is an option of the tempotron only"),
])
def test_user_errors_are_one_line(argv, message):
    p = subprocess.run([sys.executable, "-m", "neuromod", "simulate", *argv],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and message in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
