"""No pickles anywhere: the package never un-pickles (nor marshals, nor torch.loads)
anything, and the on-disk caches (sympy analysis, Brian2 propagator, generated kernel
source) ignore a planted entry -- one that would create a file when executed or
un-pickled -- and rebuild it."""
import json
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import neuromod

PACKAGE = Path(neuromod.__file__).parent

#: What may not appear in neuromod's source (comments and docstrings included: a
#: mention is a reason to look).
FORBIDDEN = [r"pickle\.loads?\(", r"^\s*import pickle", r"^\s*from pickle import",
             r"torch\.load\(", r"allow_pickle\s*=\s*True", r"\bdill\b", r"marshal\.loads?\(",
             r"cloudpickle", r"joblib\.load\("]


def _sources():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_scan_sees_the_package():
    files = [p.relative_to(PACKAGE).as_posix() for p in _sources()]
    assert "backends/model.py" in files and "auditory/digits.py" in files and len(files) > 30


@pytest.mark.parametrize("pattern", FORBIDDEN)
def test_no_unpickling_call_in_the_package(pattern):
    rx = re.compile(pattern, re.MULTILINE)
    hits = [f"{p.relative_to(PACKAGE)}:{m.group(0).strip()}" for p in _sources()
            for m in rx.finditer(p.read_text(encoding="utf-8"))]
    assert not hits, hits


def test_every_np_load_refuses_pickles():
    """Each ``np.load(`` / ``numpy.load(`` call passes ``allow_pickle=False``."""
    bad = []
    for p in _sources():
        text = p.read_text(encoding="utf-8")
        for m in re.finditer(r"\b(?:np|numpy)\.load\(", text):
            depth, i = 1, m.end()          # the call's text up to its closing parenthesis
            while depth and i < len(text):
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            call = text[m.start():i]
            line = text.count("\n", 0, m.start()) + 1
            in_doc = text[text.rfind("\n", 0, m.start()) + 1:m.start()].lstrip().startswith(">>>")
            if "allow_pickle=False" not in call and not in_doc:
                bad.append(f"{p.relative_to(PACKAGE)}:{line}: {call[:60]}")
    assert not bad, bad


class _Plant:
    """Un-pickling (or executing the equivalent source) creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROMOD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NEUROMOD_NUMBA_CACHE", raising=False)
    return tmp_path / "cache"


def test_planted_analysis_entries_are_not_run_and_are_rebuilt(cache, tmp_path):
    from neuromod.backends.model import _analysis_key, analyse, cached_analysis
    from neuromod.neurons import lif
    m = lif()
    key = _analysis_key(m)
    folder = cache / "analysis"
    folder.mkdir(parents=True)
    marker = tmp_path / "executed"
    # the pickle the previous release would have read, under the same key
    (folder / f"{key}.pkl").write_bytes(pickle.dumps(_Plant(marker)))
    # a JSON entry naming a function outside the whitelist
    (folder / f"{key}.json").write_text(json.dumps(
        {"format": "neuromod-analysis", "key": key, "rhs": [["v", ["__import__", ["s", "os"]]]]}))
    a = cached_analysis(m)
    assert not marker.exists()
    assert a.rhs == analyse(m).rhs
    rebuilt = json.loads((folder / f"{key}.json").read_text())
    assert rebuilt["key"] == key and rebuilt["states"] == m.states
    # read back from the rebuilt file, equal; a foreign key inside is refused
    assert cached_analysis(m).A == a.A
    rebuilt["key"] = "0" * 24
    (folder / f"{key}.json").write_text(json.dumps(rebuilt))
    assert cached_analysis(m).A == a.A
    assert json.loads((folder / f"{key}.json").read_text())["key"] == key


@pytest.mark.parametrize("tree", [
    ["Symbol", "x"], ["s", "not_a_model_name"], ["f", 0, "1", 0, 5, 53], ["i", "9" * 500],
    ["Add", ["s", "x"]], ["Pow", ["s", "x"]], ["exp", ["s", "x"], ["s", "x"]], "x", 7, None,
    ["Add", ["s", "x"], ["Add"]], ["q", "1", "0"], ["f", 2, "1", 0, 1, 53],
])
def test_expression_trees_outside_the_whitelist_are_refused(tree):
    import sympy as sp

    from neuromod.backends.model import expr_from_json
    with pytest.raises((ValueError, TypeError)):
        expr_from_json(tree, {"x": sp.Symbol("x", real=True)})


def test_deep_expression_tree_is_refused_without_recursion_error():
    import sympy as sp

    from neuromod.backends.model import expr_from_json
    tree = ["s", "x"]
    for _ in range(5000):
        tree = ["exp", tree]
    with pytest.raises(ValueError, match="too large"):
        expr_from_json(tree, {"x": sp.Symbol("x", real=True)})


def test_planted_kernel_source_is_not_run_and_is_rewritten(cache, tmp_path):
    import hashlib

    from neuromod.runtime import generated_module
    marker = tmp_path / "executed"
    src = f"VALUE = {os.getpid()} * 3 + 1  # neuromod test kernel\n"
    key = hashlib.sha256(src.encode()).hexdigest()[:24]
    folder = cache / "fused"
    folder.mkdir(parents=True)
    planted = folder / f"k_{key}.py"
    planted.write_text(f"open({str(marker)!r}, 'w').close()\nVALUE = -1\n")
    mod = generated_module(src)
    assert not marker.exists()
    assert mod.VALUE == os.getpid() * 3 + 1
    assert planted.read_text() == src            # rebuilt with the generated source


def test_numba_pickle_cache_is_off_unless_asked_for_a_private_folder(cache, monkeypatch):
    from neuromod.runtime import numba_cache
    assert numba_cache() == "False"
    monkeypatch.setenv("NEUROMOD_NUMBA_CACHE", "1")
    (cache / "fused").mkdir(parents=True, exist_ok=True)
    os.chmod(cache, 0o700)
    os.chmod(cache / "fused", 0o700)
    assert numba_cache() == "True"
    os.chmod(cache / "fused", 0o777)              # writable by others: numba pickles refused
    assert numba_cache() == "False"


def test_planted_propagator_entry_is_not_unpickled_and_is_rebuilt(cache, tmp_path):
    from neuromod.backends.brian2_backend import _propagator_key, propagator_values
    from neuromod.neurons import lif
    m = lif()
    vals = m.resolve_parameters(3)
    want = propagator_values(m, 3, vals, 1e-4)          # computed and stored
    path = cache / "propagator" / f"{_propagator_key(m, vals, 1e-4)}.npz"
    assert path.exists()
    marker = tmp_path / "executed"
    keys = [f"c{k}" for k in range(len(want))]
    bad_entries = [
        {k: np.array([_Plant(marker)], dtype=object) for k in keys},   # object (pickled) arrays
        {k: np.zeros(4) for k in keys},                                 # wrong shape
        {k: np.float32(1.0) for k in keys},                             # wrong dtype
        {k: np.float64(np.nan) for k in keys},                          # not finite
        {"E_0_0": np.float64(0.5)},                                     # foreign fields
        {k: np.float64(0.5) for k in keys[:-1]},                        # one missing
    ]
    for planted in bad_entries:
        with open(path, "wb") as fh:
            np.savez(fh, **planted)
        got = propagator_values(m, 3, vals, 1e-4)
        assert not marker.exists()
        assert len(got) == len(want)
        assert all(g.tobytes() == w.tobytes() for g, w in zip(got, want))
        with np.load(path, allow_pickle=False) as z:     # rewritten with the right values
            assert sorted(z.files) == sorted(keys)


def test_a_planted_pickle_as_saved_model_is_refused(tmp_path):
    from neuromod.backends import load
    from neuromod.errors import FileFormatError
    marker = tmp_path / "executed"
    path = tmp_path / "model.npz"
    with open(path, "wb") as fh:
        np.savez(fh, __neuromod__=np.array([_Plant(marker)], dtype=object))
    with pytest.raises(FileFormatError):
        load(path)
    assert not marker.exists()
