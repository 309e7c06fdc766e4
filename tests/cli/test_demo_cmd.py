"""`neuromod demo` on the embedded data: outputs exist, are complete and agree with the library."""
import json

import numpy as np

import neuromod.data
from neuromod import io
from neuromod.cli import main
from neuromod.stats import evaluation, rates


def test_demo_writes_its_outputs_and_reports_them(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    report = json.loads((out / "stats.json").read_text())
    st = io.read(neuromod.data.path("spikes/demo_trains.txt"))
    assert report["n_trains"] == st.n_trains == 60
    assert figures["n_spikes"] == st.n_spikes
    assert (out / "stats.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(figures["outputs"]) == sorted([str(out / "stats.json"), str(out / "stats.png")])
    # the per-unit noise ceilings are the library's, computed on that unit's 10 trials
    u3 = st.select(unit=3)
    assert u3.n_trains == 10
    expected = evaluation.split_half_noise_ceiling(u3, 0.1, seed=0)
    assert figures["units"][3]["unit"] == 3
    assert figures["units"][3]["noise_ceiling"] == expected
    assert figures["units"][3]["fano_factor_windowed"] == rates.windowed_fano_factor(u3, bin_size=0.1)
    # the embedded units are strongly stimulus-locked: the ceiling is high but below 1
    assert all(0.8 < u["noise_ceiling"] < 1.0 for u in figures["units"])
    # gamma(k=3) renewal trains are more regular than Poisson: windowed Fano < 1
    assert all(u["fano_factor_windowed"] < 1.0 for u in figures["units"])
    assert np.isfinite(report["population"]["fano_factor"])
