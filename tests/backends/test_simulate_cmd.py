"""`neuromod simulate`: the population f-I curve against the analytic LIF formula on
both backends, --set in Brian2 syntax, --list, --out, --plot and user errors."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from neuromod import io
from neuromod.cli import main


def run_json(capsys, *argv):
    assert main(["simulate", *map(str, argv), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def _analytic_rates(I, tau=0.02, E_L=-0.06, v_th=-0.05, v_r=-0.06, R=1e7, t_ref=0.005, dt=1e-4,
                    T=0.3):
    """Spike counts / T from the exact discrete LIF solution (see tests/neurons/test_lif.py)."""
    out = []
    for i in I:
        v_inf = E_L + R * i
        if v_inf <= v_th:
            out.append(0.0)
            continue

        def cross(v0):
            return math.floor(math.log((v_th - v_inf) / (v0 - v_inf)) / (-dt / tau)) + 1
        first = cross(E_L) - 1
        isi = max(round(t_ref / dt), 1) + cross(v_r) - 1
        n_steps = round(T / dt)
        out.append(len(range(first, n_steps, isi)) / T if first < n_steps else 0.0)
    return np.array(out)


@pytest.mark.parametrize("backend", ["torch", "brian2"])
def test_lif_population_follows_the_analytic_fi_curve(capsys, backend):
    r = run_json(capsys, "lif", "--backend", backend, "--n", 12, "--duration", 0.3)
    assert set(r) >= {"backend", "model", "n", "duration", "dt", "n_spikes", "rates_hz", "wall_s"}
    I = np.linspace(0.9e-9, 2e-9, 12)      # default: 0.9 to 2 x the 1 nA rheobase
    np.testing.assert_allclose(r["I_ext"], I, rtol=1e-12)
    np.testing.assert_allclose(r["rates_hz"], _analytic_rates(I), rtol=0, atol=1e-9)
    assert r["rates_hz"][0] == 0 and r["rates_hz"][-1] > 40        # silence up to regular firing
    assert r["n_spikes"] == round(sum(r["rates_hz"]) * 0.3)


def test_set_takes_brian2_units_and_plain_si(capsys):
    a = run_json(capsys, "lif", "--n", 4, "--duration", 0.3, "--set", "tau_m=10*ms",
                 "I_min=1.2*nA", "I_max=0.0000000024")
    I = np.linspace(1.2e-9, 2.4e-9, 4)
    np.testing.assert_allclose(a["rates_hz"], _analytic_rates(I, tau=0.01), atol=1e-9)


def test_list(capsys):
    assert main(["simulate", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("lif", "alif", "coba-lif"):
        assert f"{name}:" in out
    assert "tau_m      = 20*ms" in out and "[second]" in out
    assert main(["simulate", "--list", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    lif = next(m for m in models if m["name"] == "lif")
    assert lif["parameters"]["R"] == {"default": "10*Mohm", "value": 1e7, "unit": "ohm"}


def test_out_and_plot(tmp_path, capsys):
    out, png = tmp_path / "spikes.dat", tmp_path / "fig.png"
    r = run_json(capsys, "coba-lif", "--n", 5, "--duration", 0.2, "--out", out, "--plot", png)
    st = io.read(out, format="txt")           # unknown extension: written as text
    assert st.n_trains == 5 and st.t_stop == 0.2
    np.testing.assert_allclose(st.rates(), r["rates_hz"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png", "spikes.dat"]   # no temp files


@pytest.mark.parametrize("argv,message", [
    (["nomodel"], "unknown model 'nomodel'"),
    (["lif", "--set", "tau_x=3*ms"], "--set tau_x=3*ms: model 'lif' has no parameter 'tau_x'"),
    (["lif", "--set", "tau_m=5*mV"], "--set tau_m=5*mV: tau_m: expected second, got volt"),
    (["lif", "--set", "tau_m=5*parsec"], "unknown unit 'parsec'"),
    (["lif", "--set", "tau_m"], "expected NAME=VALUE"),
    (["lif", "--n", "0"], "must be >= 1"),
    ([], "give a MODEL"),
])
def test_user_errors_are_one_line(argv, message):
    p = subprocess.run([sys.executable, "-m", "neuromod", "simulate", *argv, "--duration", "0.01"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and message in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
