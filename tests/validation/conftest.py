"""Fixtures of the claim tests: a family's claims run once at quick size."""
import contextlib
import io
import json

import pytest

from neuromod.cli import main


class Results(dict):
    """``{name: result}`` with the command's exit status as ``rc``."""
    rc = None


def _selection(mod):
    """What a test module runs: its ``FAMILY``, or exactly its ``NAMES`` when it sets
    ``EXACT = True`` (a module that owns only some claims of a family)."""
    return list(mod.NAMES) if getattr(mod, "EXACT", False) else [mod.FAMILY]


@pytest.fixture(scope="module")
def results(request):
    """``neuromod validate FAMILY --quick --json`` for the test module's ``FAMILY``, run
    once per module."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["validate", *_selection(request.module), "--quick", "--json"])
    res = Results((r["name"], r) for r in json.loads(out.getvalue()))
    res.rc = rc
    return res


@pytest.fixture
def family_check(request, results, capsys):
    """A check of the test module's ``FAMILY``: its claims are registered as ``NAMES``,
    ``neuromod validate FAMILY --list`` lists them, each result has every key, each
    passed at quick size except those in the module's ``AS_MEASURED`` (claims that do
    not hold at that size: their own tests check the pass flag against the figure), and
    the exit status says whether all passed."""
    from neuromod.validation import registry
    mod = request.module
    as_measured = set(getattr(mod, "AS_MEASURED", ()))
    keys = {"name", "claim", "expected", "tolerance", "measured", "unit", "passed",
            "seconds", "details"}

    def check():
        assert [c.name for c in registry.select(_selection(mod))] == mod.NAMES
        assert main(["validate", *_selection(mod), "--list"]) == 0
        out = capsys.readouterr().out
        assert all(f"{name}:" in out for name in mod.NAMES)
        assert sorted(results) == mod.NAMES
        for r in results.values():
            assert keys <= set(r), r["name"]
            if r["name"] not in as_measured:
                assert r["passed"] is True, r["name"]
        assert results.rc == (0 if all(r["passed"] for r in results.values()) else 1)
    return check
