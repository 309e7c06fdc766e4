"""The claim registry, the runner and ``neuromod validate`` (text and JSON)."""
import json

import pytest

from neuromod.cli import main
from neuromod.validation import registry

KEYS = {"name", "claim", "expected", "tolerance", "measured", "unit", "passed", "seconds"}


def run(argv, capsys):
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def test_discover_finds_the_spiketrum_claims():
    names = set(registry.discover())
    assert {"spiketrum-exact", "spiketrum-rate-control", "spiketrum-rate-snr",
            "spiketrum-spike-loss"} <= names
    fam = [c.name for c in registry.select(["spiketrum"])]
    assert fam == sorted(fam) and "spiketrum-exact" in fam
    with pytest.raises(KeyError, match="unknown claim 'nope'"):
        registry.select(["nope"])


def test_a_failing_claim_is_reported_as_failed():
    @registry.claim("zz-test-fails", "always fails", "> 1", "", tolerance=None)
    def _f(quick):
        return {"measured": 0.5, "passed": False}
    try:
        res = registry.run(["zz-test-fails"], quick=True)
        assert len(res) == 1 and res[0]["passed"] is False and res[0]["measured"] == 0.5
        assert KEYS <= set(res[0])
    finally:
        registry._REGISTRY.pop("zz-test-fails")


def test_validate_json_schema(capsys):
    rc, out, err = run(["validate", "spiketrum-exact", "--quick", "--json"], capsys)
    assert rc == 0, err
    res = json.loads(out)
    assert isinstance(res, list) and len(res) == 1
    r = res[0]
    assert KEYS <= set(r) and r["name"] == "spiketrum-exact" and r["passed"] is True
    assert r["measured"] > 100 and r["unit"] == "dB" and r["seconds"] > 0
    assert r["details"]["recovered"] == r["details"]["atoms"]


def test_validate_text_and_errors(capsys):
    rc, out, err = run(["validate", "spiketrum-spike-loss", "--quick"], capsys)
    assert rc == 0, err
    for word in ("spiketrum-spike-loss: PASS", "claim:", "expected: < 0.05", "measured:",
                 "1/1 claims passed"):
        assert word in out
    rc, out, err = run(["validate", "no-such-claim"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "unknown claim" in err
    rc, out, err = run(["validate", "--list"], capsys)
    assert rc == 0 and "spiketrum-rate-snr" in out
