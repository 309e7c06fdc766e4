"""The tempotron claims at quick size, through ``neuromod validate`` (run once)."""
FAMILY = "tempotron"
NAMES = ["tempotron-capacity", "tempotron-mst-gradient"]


def test_the_family_is_registered_listed_and_passes(family_check):
    family_check()


def test_capacity_reports_epochs_to_criterion(results):
    r = results["tempotron-capacity"]
    runs = r["details"]["p/N=1"]["runs"]
    assert r["measured"] == max(x["epochs"] for x in runs) <= 100
    assert all(x["accuracy"] == 1.0 for x in runs)


def test_mst_gradient_cases(results):
    r = results["tempotron-mst-gradient"]
    cases = r["details"]["cases"]
    assert len(cases) == 8 and len({c["k"] for c in cases}) >= 3
    assert r["measured"] == max(c["relative_error"] for c in cases) <= 1e-4
