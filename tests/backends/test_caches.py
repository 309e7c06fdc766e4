"""The on-disk caches that spare later processes work: the sympy analysis of a model
(JSON, see tests/reliability/test_no_pickle.py for planted entries) and the Brian2
backend's exact propagator coefficients (same values as computed),
and what each backend of ``neuromod simulate`` imports once they are warm."""
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
import torch

from neuromod.backends.brian2_backend import propagator_values
from neuromod.backends.model import analyse, cached_analysis
from neuromod.backends.torch_backend import compile_model
from neuromod.neurons import alif, coba_lif, lif


def _srepr(a):
    def canon(x):
        if isinstance(x, dict):
            return {str(k): canon(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [canon(v) for v in x]
        if isinstance(x, set):
            return sorted(map(str, x))
        return sp.srepr(x) if isinstance(x, sp.Basic) else repr(x)
    return canon(dataclasses.asdict(a))


@pytest.mark.parametrize("factory", [lif, alif, coba_lif])
def test_analysis_is_kept_on_disk_and_read_back_unchanged(tmp_path, monkeypatch, factory):
    monkeypatch.setenv("NEUROMOD_CACHE", str(tmp_path))
    fresh = analyse(factory())
    first = factory().analysis                    # computed and written
    files = list((tmp_path / "analysis").iterdir())
    assert len(files) == 1 and files[0].suffix == ".json"       # JSON trees, no pickle
    assert json.loads(files[0].read_text())["states"] == factory().states
    second = cached_analysis(factory())          # read back
    assert _srepr(first) == _srepr(second) == _srepr(fresh)
    # other parameter values share the analysis; a broken file is recomputed
    m = factory()
    name, par = next(iter(m.parameters.items()))
    assert cached_analysis(m.with_parameters(**{name: 2 * par.value})) is not None
    assert len(list((tmp_path / "analysis").iterdir())) == 1
    files[0].write_bytes(b"not a pickle")
    assert _srepr(cached_analysis(factory())) == _srepr(fresh)


def test_analysis_without_a_usable_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("NEUROMOD_CACHE", str(blocker))     # cannot hold a folder
    assert _srepr(cached_analysis(lif())) == _srepr(analyse(lif()))


@pytest.mark.parametrize("factory", [lif, alif])
def test_propagator_values_equal_the_torch_coefficients(tmp_path, monkeypatch, factory):
    monkeypatch.setenv("NEUROMOD_CACHE", str(tmp_path))
    m = factory()
    vals = m.resolve_parameters(4, {"tau_m": "13*ms"})
    C = compile_model(m).coefficients(compile_model(m).params(4, vals, dtype=torch.float64), 1e-4)
    want = [c.numpy() for c in C.prop]
    assert len(want) == len(compile_model(m).compiled.layout) > 0
    for _ in range(2):                            # computed, then read from the cache
        got = propagator_values(m, 4, vals, 1e-4)
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            assert g.shape == () and g.tobytes() == w.tobytes(), k
    assert len(list((tmp_path / "propagator").iterdir())) == 1
    # per-neuron values are computed every time, not stored
    per = m.resolve_parameters(3, {"tau_m": np.array([0.01, 0.02, 0.03])})
    assert propagator_values(m, 3, per, 1e-4)[0].shape == (3,)
    assert len(list((tmp_path / "propagator").iterdir())) == 1


def test_each_backend_imports_only_what_it_uses(tmp_path, monkeypatch):
    env = dict(os.environ, NEUROMOD_CACHE=str(tmp_path))
    monkeypatch.setenv("NEUROMOD_CACHE", str(tmp_path))     # warm both caches here
    m = lif()
    cached_analysis(m)
    propagator_values(m, 3, m.resolve_parameters(3), 1e-4)
    code = ("import sys, json; from neuromod.cli import main; "
            "assert main(['simulate', 'lif', '--n', '3', '--duration', '0.02', '--backend', {b!r}, "
            "'--json']) == 0; "
            "print(json.dumps([m for m in ('torch', 'brian2', 'matplotlib.pyplot', "
            "'sympy.physics.units') if m in sys.modules]), file=sys.stderr)")

    def loaded(backend):
        p = subprocess.run([sys.executable, "-c", code.format(b=backend)], env=env,
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stderr.strip().splitlines()[-1])

    assert loaded("torch") == ["torch"]           # no brian2, no pyplot, no sympy units
    assert loaded("brian2") == ["brian2"]         # no torch, no pyplot
