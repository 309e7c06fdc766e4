"""Blocked cross-validation of a retina model's option: the folds partition the training
data exactly, each row is the held-out score of a fit on the rest (recomputed here), the
Dask tasks give the in-process table, and ``neuromod fit --cv`` fits with the best value."""
import json

import numpy as np
import pytest

from neuromod.errors import ParameterError
from neuromod.retina import crossval
from neuromod.retina.synthetic import simulated_retina

REC = simulated_retina(n_units=2, size=4, train_seconds=6.0, test_seconds=0.5,
                       n_test_trials=2, seed=3)


def test_folds_partition_the_training_data():
    parts = crossval.train_folds(REC, 3)
    F, dt = REC.train_stimulus.shape[0], REC.frame_dt
    held = [p[2] for p in parts]
    assert held[0][0] == 0 and held[-1][1] == F
    assert all(a[1] == b[0] for a, b in zip(held, held[1:]))
    st = REC.train_spikes
    for fit_rec, stim, (a, b) in parts:
        np.testing.assert_array_equal(stim, REC.train_stimulus[a:b])
        np.testing.assert_array_equal(fit_rec.train_stimulus, np.concatenate(
            (REC.train_stimulus[:a], REC.train_stimulus[b:])))
        inside = (st.times >= a * dt) & (st.times < b * dt)
        assert fit_rec.train_spikes.n_spikes + int(inside.sum()) == st.n_spikes
        after = st.times[st.times >= b * dt] - (b - a) * dt
        got = fit_rec.train_spikes.times[fit_rec.train_spikes.times >= a * dt]
        np.testing.assert_allclose(np.sort(got), np.sort(after), atol=1e-12)
        assert fit_rec.test_spikes is REC.test_spikes
    with pytest.raises(ParameterError, match="folds"):
        crossval.train_folds(REC, 1)


def test_each_row_is_the_held_out_score_of_a_fit_on_the_rest():
    from neuromod.retina.base import bits_per_spike
    from neuromod.retina.ln import LNPoisson
    cv = crossval.cross_validate("ln", REC, "n_basis", [2, 5], folds=2, progress=False)
    assert [v["value"] for v in cv["values"]] == [2, 5] and len(cv["folds"]) == 4
    fit_rec, stim, (a, b) = crossval.train_folds(REC, 2)[1]
    m = LNPoisson(n_basis=5).fit(fit_rec, seed=0)
    y = REC.train_counts(0.001)[a * 10:b * 10][None]
    expected = bits_per_spike(y, m.intensity(stim, y, frame_dt=REC.frame_dt), m.null_rate)
    row = next(r for r in cv["folds"] if r["value"] == 5 and r["fold"] == 1)
    assert row["bits_per_spike"] == pytest.approx(expected, rel=1e-9)
    means = {v["value"]: v["mean_bits_per_spike"] for v in cv["values"]}
    assert cv["best"] == max(means, key=means.get)
    for v in cv["values"]:
        scores = [r["bits_per_spike"] for r in cv["folds"] if r["value"] == v["value"]]
        assert v["mean_bits_per_spike"] == pytest.approx(np.mean(scores))
        assert v["se"] == pytest.approx(np.std(scores, ddof=1) / np.sqrt(2))


def test_bad_options_are_refused():
    with pytest.raises(ParameterError, match="no such option; it has .*n_basis"):
        crossval.cross_validate("ln", REC, "nosuch", [1], folds=2, progress=False)
    with pytest.raises(ParameterError, match="every fit failed"):
        crossval.cross_validate("ln", REC, "n_basis", [0], folds=2, progress=False)
    assert crossval.parse_values("1,2.5,auto") == [1, 2.5, "auto"]


def test_tasks_on_a_local_cluster_give_the_in_process_table():
    from neuromod.scale.cluster import connect
    here = crossval.cross_validate("glm", REC, "alpha", [1e-3, 1e-1], folds=2,
                                   progress=False)
    with connect("local:2", quiet=True) as client:
        there = crossval.cross_validate("glm", REC, "alpha", [1e-3, 1e-1], folds=2,
                                        client=client, progress=False)
    assert there["best"] == here["best"]
    for a, b in zip(here["folds"], there["folds"]):
        assert (a["value"], a["fold"]) == (b["value"], b["fold"])
        assert b["bits_per_spike"] == pytest.approx(a["bits_per_spike"], rel=1e-6)


def test_fit_command_cross_validates_then_fits_the_best(tmp_path, capsys):
    from neuromod.cli import main
    from neuromod.retina.recording import save_recording
    path = tmp_path / "rec.npz"
    save_recording(path, REC)
    rc = main(["fit", "ln", str(path), "--cv", "n_basis=2,5", "--folds", "2", "--scheduler",
               "none", "--out", str(tmp_path / "run"), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert saved["cv"]["best"] in (2, 5) and len(saved["cv"]["folds"]) == 4
    import neuromod
    model = neuromod.load(tmp_path / "run" / "model.npz")
    assert model.config()["n_basis"] == saved["cv"]["best"]
    assert report["model"] == "ln"
    for argv, msg in [(["--cv", "nosuch=1"], "no such option"),
                      (["--cv", "n_basis"], "expected NAME=V1"),
                      (["--cv", "n_basis=2", "--folds", "1"], "--folds 1")]:
        rc = main(["fit", "ln", str(path), *argv, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert rc == 2 and msg in err, (argv, err)
