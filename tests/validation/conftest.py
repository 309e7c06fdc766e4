"""Fixtures of the claim tests: a family's claims run once at quick size."""
import contextlib
import io
import json

import pytest

from neuromod.cli import main


@pytest.fixture(scope="module")
def results(request):
    """``{name: result}`` of ``neuromod validate FAMILY --quick --json`` for the test
    module's ``FAMILY``, run once per module; the command must exit 0."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["validate", request.module.FAMILY, "--quick", "--json"])
    res = json.loads(out.getvalue())
    assert rc == 0, res
    return {r["name"]: r for r in res}


@pytest.fixture
def family_check(request, results, capsys):
    """A check of the test module's ``FAMILY``: its claims are registered as ``NAMES``,
    ``neuromod validate FAMILY --list`` lists them, and each passed at quick size with
    every key of a result."""
    from neuromod.validation import registry
    mod = request.module
    keys = {"name", "claim", "expected", "tolerance", "measured", "unit", "passed",
            "seconds", "details"}

    def check():
        assert [c.name for c in registry.select([mod.FAMILY])] == mod.NAMES
        assert main(["validate", mod.FAMILY, "--list"]) == 0
        out = capsys.readouterr().out
        assert all(f"{name}:" in out for name in mod.NAMES)
        assert sorted(results) == mod.NAMES
        for r in results.values():
            assert keys <= set(r) and r["passed"] is True, r["name"]
    return check
