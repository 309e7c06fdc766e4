"""The tempotron claims at quick size, through ``neuromod validate`` (run once)."""
FAMILY = "tempotron"
NAMES = ["tempotron-capacity"]


def test_the_family_is_registered_listed_and_passes(family_check):
    family_check()


def test_capacity_reports_epochs_to_criterion(results):
    r = results["tempotron-capacity"]
    runs = r["details"]["p/N=1"]["runs"]
    assert r["measured"] == max(x["epochs"] for x in runs) <= 100
    assert all(x["accuracy"] == 1.0 for x in runs)
