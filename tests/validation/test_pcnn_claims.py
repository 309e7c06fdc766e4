"""The PCNN claims at quick size, through ``neuromod validate`` (run once for the family)."""
import pytest

FAMILY = "pcnn"
NAMES = ["pcnn-deep-digits", "pcnn-deep-efficiency", "pcnn-periods", "pcnn-pyclustering",
         "pcnn-segmentation"]


def test_the_family_is_registered_listed_and_passes(family_check):
    family_check()


def test_classic_claims_are_exact(results):
    p = results["pcnn-periods"]["details"]
    for backend in ("torch", "brian2"):
        assert {k: v["periods"] for k, v in p[backend].items()} == {
            "0.5": [6], "1.0": [5], "2.0": [4]}
        assert all(v["first"] == 0 for v in p[backend].values())
    cases = results["pcnn-pyclustering"]["details"]["cases"]
    assert results["pcnn-pyclustering"]["measured"] == 0
    assert any(k.startswith("ccore") for k in cases) and any(k.startswith("python 1x256")
                                                            for k in cases)
    assert all(c["differing"] == 0 and c["pulses"] > 100 for c in cases.values())
    seg = results["pcnn-segmentation"]
    assert seg["measured"] == min(seg["details"]["accuracy_per_seed"]) >= 0.95


def test_deep_claims_report_their_tables(results):
    d = results["pcnn-deep-digits"]
    det = d["details"]
    assert d["measured"] == pytest.approx(det["dpcnn_inter"]["accuracy_mean"]
                                          - det["conv_lif"]["accuracy_mean"])
    assert det["dpcnn_inter"]["neurons"] == det["conv_lif"]["neurons"]   # same width
    assert det["dpcnn_inter"]["accuracy_mean"] > 0.8                    # chance 0.1
    e = results["pcnn-deep-efficiency"]["details"]
    pc, lif2 = e["table"]["dpcnn_inter_W"], e["table"]["conv_lif_2W"]
    assert e["fewer_neurons_and_synapses"] is True
    assert pc["neurons"] * 2 == lif2["neurons"] and pc["synapses"] < lif2["synapses"]
    assert results["pcnn-deep-efficiency"]["measured"] == pytest.approx(
        pc["accuracy_mean"] - lif2["accuracy_mean"])
