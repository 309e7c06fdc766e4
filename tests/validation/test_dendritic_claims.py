"""The dendritic claims at quick size, through ``neuromod validate`` (run once for the
family)."""
import math

import numpy as np
import pytest

from neuromod.neurons.dendritic import REFERENCE, match_budget

FAMILY = "dendritic"
NAMES = ["dendritic-backends", "dendritic-budget", "dendritic-capacity", "dendritic-identity",
         "dendritic-spiking-budget"]


def test_the_family_is_registered_listed_and_passes(family_check):
    family_check()


def test_identity_is_exact(results):
    r = results["dendritic-identity"]
    d = r["details"]
    assert r["expected"] == "= 0" and r["tolerance"] == 0.0
    assert r["measured"] == 0.0
    assert d["widths"] == list(REFERENCE["digits"])
    assert set(d["parts"]) == {"rate-relu", "spiking-noisy-lif", "spiking-lif"}
    for name, part in d["parts"].items():
        for key in ("output", "input_gradient", "weight_gradients"):
            assert part[key] == 0.0, (name, key)
    assert d["parts"]["rate-relu"]["values_compared"] > 1e5
    for soma in ("noisy-lif", "lif"):
        part = d["parts"][f"spiking-{soma}"]
        assert part["spikes"] == 0.0
        # every hidden layer fires, and the gradients compared are not all zero
        assert len(part["spikes_per_sample"]) == 3 and min(part["spikes_per_sample"]) > 10
        assert part["input_gradient_max_abs"] > 0


def test_brian2_and_torch_give_the_same_spikes(results):
    r = results["dendritic-backends"]
    d = r["details"]
    assert r["measured"] == 0 and d["same_spikes"] is True
    assert d["neurons"] == 200 and d["steps"] == 50
    assert "brian2-numpy" in d["paths"]
    for case in d["cases"]:
        assert case["spikes"] > 1000 and case["spiking_neurons"] > 100
        assert set(case["differing_from_brian2"].values()) == {0}


def test_budget_table_is_matched_and_consistent(results):
    r = results["dendritic-budget"]
    d = r["details"]
    assert r["expected"] == "<= 0.02" and d["size"] == "quick" and d["seeds"] == [0, 1]
    assert "mnist1d" not in d                       # full size only
    table = d["digits"]["table"]
    assert [row["K"] for row in table] == [1, 2, 4, 8, 16]
    point = table[0]
    assert point["widths"] == list(REFERENCE["digits"])
    for row in table:
        assert row["widths"] == list(match_budget(REFERENCE["digits"], row["K"]).widths)
        assert abs(row["macs"] - point["macs"]) <= 0.05 * point["macs"]
        runs = [x["test_accuracy"] for x in row["runs"]]
        assert len(runs) == 2 and row["accuracy"]["mean"] == pytest.approx(np.mean(runs))
        assert row["accuracy"]["min"] <= row["accuracy"]["mean"] <= row["accuracy"]["max"]
        assert row["drop"] == pytest.approx(point["accuracy"]["mean"] - row["accuracy"]["mean"])
        # the kept epoch is chosen on the validation split
        assert all(1 <= x["best_epoch"] <= d["epochs"] and x["val_accuracy"] is not None
                   for x in row["runs"])
    assert r["measured"] == pytest.approx(max(row["drop"] for row in table))
    assert r["measured"] <= 0.02
    acts = [row["activations_per_sample"] for row in table]
    assert acts == sorted(acts, reverse=True) and acts[0] == 768
    slope = np.polyfit(np.log([1, 2, 4, 8, 16]), np.log(acts), 1)[0]
    assert d["digits"]["activation_exponent"] == pytest.approx(slope)
    assert -1 < slope < 0


def test_capacity_compares_equal_parameter_counts(results):
    r = results["dendritic-capacity"]
    d = r["details"]
    assert r["expected"] == "<= 0.15" and d["seeds"] == [0]
    assert d["point"]["widths"] == [64, 32, 1] and d["dendritic"]["widths"] == [64, 8, 1]
    assert d["dendritic"]["K"] == 4
    assert abs(d["point"]["params"] - d["dendritic"]["params"]) <= 0.05 * d["point"]["params"]
    assert d["capped"] is False
    for name in ("point", "dendritic"):
        assert d[name]["capacity"][0] > 256          # far beyond the input dimension
        run = d[name]["runs"][0]
        c = run["capacity"]
        assert run["trials"][str(c)]["fitted"] is True
        assert run["trials"][str(c + 1)]["fitted"] is False
    rel = abs(d["dendritic_capacity"] - d["point_capacity"]) / d["point_capacity"]
    assert r["measured"] == pytest.approx(rel) and rel <= 0.15


def test_spiking_budget_reports_spikes_sent(results):
    r = results["dendritic-spiking-budget"]
    d = r["details"]
    assert r["expected"] == "<= 0.03" and d["seeds"] == [0, 1] and d["size"] == "quick"
    t1, t4 = d["table"]["1"], d["table"]["4"]
    assert t1["widths"] == list(REFERENCE["digits"])
    assert t4["widths"] == list(match_budget(REFERENCE["digits"], 4).widths)
    assert abs(t4["macs"] - t1["macs"]) <= 0.05 * t1["macs"]
    assert r["measured"] == pytest.approx(t1["accuracy"]["mean"] - t4["accuracy"]["mean"])
    assert r["measured"] <= 0.03
    for t in (t1, t4):
        assert 0 < t["spikes_sent"]["mean"] <= t["activations_per_sample"]
        assert all(not math.isnan(x["spikes_sent"]) for x in t["runs"])
    assert d["spikes_sent_ratio"] == pytest.approx(
        t4["spikes_sent"]["mean"] / t1["spikes_sent"]["mean"])
