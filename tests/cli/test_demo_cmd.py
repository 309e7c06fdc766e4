"""`neuromod demo` on the embedded data: outputs exist, are complete and agree with the library."""
import json

import numpy as np
import pytest

import neuromod.data
from neuromod import io
from neuromod.cli import main
from neuromod.stats import evaluation, rates


def test_stats_part_writes_its_outputs_and_agrees_with_the_library(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--parts", "stats", "--out", str(out), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    s = figures["stats"]
    report = json.loads((out / "stats.json").read_text())
    st = io.read(neuromod.data.path("spikes/demo_trains.txt"))
    assert report["n_trains"] == st.n_trains == 60
    assert s["n_spikes"] == st.n_spikes
    assert (out / "stats.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(figures["outputs"]) == sorted([str(out / "stats.json"), str(out / "stats.png")])
    # the per-unit noise ceilings are the library's, computed on that unit's 10 trials
    u3 = st.select(unit=3)
    assert u3.n_trains == 10
    assert s["units"][3]["unit"] == 3
    assert s["units"][3]["noise_ceiling"] == evaluation.split_half_noise_ceiling(u3, 0.1, seed=0)
    assert s["units"][3]["fano_factor_windowed"] == rates.windowed_fano_factor(u3, bin_size=0.1)
    # the embedded units are strongly stimulus-locked: the ceiling is high but below 1
    assert all(0.8 < u["noise_ceiling"] < 1.0 for u in s["units"])
    # gamma(k=3) renewal trains are more regular than Poisson: windowed Fano < 1
    assert all(u["fano_factor_windowed"] < 1.0 for u in s["units"])
    assert np.isfinite(report["population"]["fano_factor"])


def test_simulate_part_runs_one_definition_on_both_backends(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--parts", "simulate", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["simulate"]
    a = io.read(out / "lif_torch.spikes.txt")
    b = io.read(out / "lif_brian2.spikes.txt")
    assert a.n_trains == b.n_trains == s["n"]
    # deterministic constant drive: the same spike count per neuron on both backends
    np.testing.assert_array_equal(a.counts, b.counts)
    assert s["identical_counts"] == s["n"]
    # the ramp starts below rheobase (silent neurons) and ends well above it
    assert a.counts[0] == 0 and a.counts[-1] > 10


def test_unknown_part_is_a_one_line_error(tmp_path, capsys):
    assert main(["demo", "--parts", "stats,dance", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "dance" in err and err.count("\n") == 1


def test_retina_part_fits_glm_and_tecos_and_writes_the_comparison(tmp_path, capsys,
                                                                  monkeypatch):
    """On a small simulated recording (the embedded one takes minutes): the demo's two
    models, the comparison files together, the table printed."""
    import importlib.util
    import pathlib

    import neuromod.cli.demo_cmd as demo
    import neuromod.retina.recording as recording
    spec = importlib.util.spec_from_file_location(
        "retina_conftest", pathlib.Path(__file__).parents[1] / "retina" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rec = mod.make_recording(train_s=20.0, test_s=2.0, trials=6)
    monkeypatch.setattr(recording, "embedded", lambda: rec)
    monkeypatch.setattr(demo, "RETINA", {**demo.RETINA, "epochs": 2, "samples": 4})
    out = tmp_path / "demo"
    assert main(["demo", "--parts", "retina", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "glm" in text and "tecos" in text and "noise ceiling" in text
    saved = json.loads((out / "retina" / "comparison.json").read_text())
    assert [r["model"] for r in saved["rows"]] == ["glm", "tecos", "data"]
    assert saved["rows"][2]["psth_corr"] == saved["rows"][0]["noise_ceiling"]
    assert (out / "retina" / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "retina" / "comparison.csv").read_text().startswith("model,data,")
