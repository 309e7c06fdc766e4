"""The GLM recovery claim at quick size, through ``neuromod validate`` (run once)."""
FAMILY = "retina-glm"
NAMES = ["retina-glm-recovery"]


def test_the_family_is_registered_listed_and_passes(family_check):
    family_check()


def test_recovery_reports_every_figure(results):
    r = results["retina-glm-recovery"]
    d = r["details"]
    assert set(d["checks"]) == {"stimulus_filters", "refractory_dips", "coupling_signs",
                                "stable"}
    assert all(d["checks"].values())
    assert r["measured"] == min(d["stimulus_filter_corr"]) >= 0.9
    assert len(d["stimulus_filter_corr"]) == 3 and len(d["alpha"]) == 3
    for true, fit in zip(d["history_first_lag"]["true"], d["history_first_lag"]["fitted"]):
        assert true == -6.0 and fit < -2
    for i in range(3):
        for j in range(3):
            if i != j:
                t, f = d["coupling_sums"]["true"][i][j], d["coupling_sums"]["fitted"][i][j]
                assert t * f > 0
    b = d["bits_per_spike"]
    assert 0 < b["fitted"] <= b["truth"] * 1.05
    assert d["train_seconds"] == 150.0 and d["train_spikes"] > 10000
