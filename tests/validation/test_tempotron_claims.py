"""The tempotron claims at quick size, through ``neuromod validate`` (run once)."""
FAMILY = "tempotron"
#: Only these claims of the family (the spoken-digit claim has its own module).
EXACT = True
NAMES = ["tempotron-aggregate-label", "tempotron-capacity", "tempotron-event-vs-clock",
         "tempotron-mst-gradient", "tempotron-yu-multispike"]
#: The clock-driven times miss dt on a few trials (threshold grazes shorter than a
#: step): reported as measured; its test checks the figure and the flag.
#: The efficient rules on the impulse neuron learn the task but lose it under 2 ms
#: jitter (spikes pinned to input events): reported as measured.
AS_MEASURED = ("tempotron-event-vs-clock", "tempotron-yu-multispike")


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


def test_event_vs_clock_reports_both_backends(results):
    r = results["tempotron-event-vs-clock"]
    d = r["details"]
    assert d["brian2_equals_torch"] is True and d["exact_spikes"] > 50
    for b in ("torch", "brian2"):
        assert d[b]["both"] == d[b]["same_count"] * d[b]["times_within_dt"]
        assert d[b]["same_count"] >= 0.97 and d[b]["times_within_dt"] >= 0.9
    assert r["measured"] == min(d["torch"]["both"], d["brian2"]["both"])
    assert r["passed"] == (r["measured"] >= 0.99)


def test_aggregate_label_both_rules_learn_the_clue(results):
    r = results["tempotron-aggregate-label"]
    d = r["details"]
    assert set(d) == {"correlation", "gradient"}
    for rule, by in (("correlation", 50), ("gradient", 200)):
        for run in d[rule]:
            assert run["first_errors"] >= 40            # the pre-trained neuron errs
            assert run["cycles_to_criterion"] <= by and run["mean_errors_last_10"] <= 5
            assert abs(run["clue_spikes"] - 1) <= 0.15 and run["distractor_spikes_max"] <= 0.15
            assert run["background_hz"] < 1 and run["passed"] is True
            assert len(run["errors"]) >= run["cycles_to_criterion"]
    assert r["measured"] == max(x["cycles_to_criterion"] for x in d["correlation"])


def test_yu_multispike_reports_every_rule(results):
    r = results["tempotron-yu-multispike"]
    d = r["details"]
    assert set(d) == {"eml", "emlc", "tdp", "gradient"}
    for rule, x in d.items():
        assert x["train_accuracy"] >= 0.95, rule
        acc = [x["jitter_accuracy"][k] for k in ("0.5 ms", "1 ms", "2 ms")]
        assert acc == sorted(acc, reverse=True) and acc[0] <= 1.0     # more jitter, worse
        assert x["seconds"] > 0
    assert r["measured"] == min(d[k]["jitter_accuracy"]["2 ms"] for k in ("eml", "emlc", "tdp"))
    assert r["passed"] == (r["measured"] >= 0.80)
