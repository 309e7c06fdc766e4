"""The claim nsnn-variability at quick size, through ``neuromod validate`` (run once)."""
import contextlib
import io
import json

import numpy as np
import pytest

from neuromod.cli import main
from neuromod.validation import registry


@pytest.fixture(scope="module")
def result():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["validate", "nsnn-variability", "--quick", "--json"])
    res = json.loads(out.getvalue())
    assert rc == 0, res
    assert [r["name"] for r in res] == ["nsnn-variability"]
    return res[0]


def test_registered():
    assert [c.name for c in registry.select(["nsnn-variability"])] == ["nsnn-variability"]


def test_passes_quickly_and_reports_its_sizes(result):
    assert result["passed"] is True
    assert result["expected"] == ">= 0.8" and result["unit"] == "fraction of units"
    assert 0 < result["seconds"] < 60
    d = result["details"]
    assert d["size"] == "quick" and d["test_repeats"] == 30 and d["n_units"] == 20
    assert d["train_seconds"] > 0 and d["test_seconds"] == 5.0


def test_measured_is_consistent_with_the_details(result):
    d = result["details"]
    fd, fm = np.array(d["fano_data"], float), np.array(d["fano_nsnn"], float)
    within = np.abs(fm - fd) <= 0.2 * fd
    assert within.tolist() == d["fano_within_20pct"]
    assert result["measured"] == pytest.approx(within.mean())
    assert result["measured"] == pytest.approx(d["fraction_fano_within_20pct"], abs=1e-4)
    assert d["mean_psth_r_nsnn"] == pytest.approx(np.mean(d["psth_r_nsnn"]), abs=1e-3)
    assert d["mean_noise_ceiling"] == pytest.approx(np.mean(d["noise_ceiling"]), abs=1e-3)
    assert d["psth_r_over_ceiling"] == pytest.approx(
        d["mean_psth_r_nsnn"] / d["mean_noise_ceiling"], abs=1e-3)
    assert result["passed"] == (result["measured"] >= 0.8 and d["psth_r_over_ceiling"] >= 0.8)
    assert d["weight_correlation"] > 0.9
    rates = np.array(d["data_rate_hz"])
    assert (rates > 5).all() and (rates < 150).all()


def test_the_deterministic_baseline_has_no_variability(result):
    det = result["details"]["deterministic"]
    assert len(det["fano"]) == 20
    assert all(f is not None and abs(f) < 1e-12 for f in det["fano"])
    assert det["fraction_fano_within_20pct"] == 0.0
    assert -1 <= det["mean_psth_r"] <= 1
