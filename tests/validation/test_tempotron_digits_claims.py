"""The spoken-digits claim of the tempotron family at quick size, through ``neuromod
validate`` (run once; about 70 s on 2 cores)."""
FAMILY = "tempotron-spoken-digits"
NAMES = ["tempotron-spoken-digits"]


def test_the_claim_is_registered_listed_and_passes(family_check):
    family_check()


def test_both_encoders_at_the_same_mean_count_on_the_training_set(results):
    d = results["tempotron-spoken-digits"]["details"]
    st, kp = d["spiketrum"]["spikes_per_utterance"], d["keypoints"]["spikes_per_utterance"]
    assert abs(st["train"] - 456.3) < 0.1          # spiketrum at 1,000 spikes/s
    assert abs(kp["train"] - st["train"]) <= 1.0 / d["n_train"]
    assert kp["test"] > 0 and d["keypoints"]["threshold_db"] < 0


def test_the_measured_figure_is_spiketrums_held_out_accuracy(results):
    r = results["tempotron-spoken-digits"]
    d = r["details"]
    assert d["seeds"] == [0] and (d["n_train"], d["n_test"]) == (240, 60)
    assert r["measured"] == d["spiketrum"]["accuracy"] == d["spiketrum"]["runs"][0]["accuracy"]
    assert r["passed"] == (r["measured"] >= 0.85)
    for enc in ("spiketrum", "keypoints"):
        run = d[enc]["runs"][0]
        assert run["train_accuracy"] >= 0.95 and 0 <= run["ties"] <= d["n_test"]
        # held-out accuracies are multiples of 1/60
        assert abs(run["accuracy"] * 60 - round(run["accuracy"] * 60)) < 1e-9
    lif = d["lif_classifier"]
    assert lif["per_seed"] == [lif["accuracy"]] and 0.0 <= lif["accuracy"] <= 1.0

