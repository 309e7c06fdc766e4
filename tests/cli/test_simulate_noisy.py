"""``neuromod simulate`` with discrete-time and stochastic models: string options,
inputs in the model's unit, steps and rates per step, the same spikes on both
backends for one seed."""
import json
import subprocess
import sys

import numpy as np
import pytest

from neuromod.cli import main
from neuromod.neurons.renewal import renewal_rate


def run_json(capsys, *argv):
    assert main(["simulate", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_noisy_lif_on_both_backends(capsys):
    # the documented example at a tenth of its duration (full size: neuromod simulate
    # noisy-lif --n 200 --duration 20 --dt 0.001 ... gives 0.21327 spikes per step on
    # both backends, 853,089 spikes each; renewal theory 0.21320)
    argv = ["noisy-lif", "--n", 200, "--duration", 2, "--dt", 0.001, "--set", "beta=0.5",
            "theta=1", "sigma=0.3", "noise=gaussian", "I_min=0.45", "I_max=0.45", "--seed", 1]
    a = run_json(capsys, *argv)
    b = run_json(capsys, *argv, "--backend", "brian2")
    assert a["n_steps"] == b["n_steps"] == 2000 and a["options"] == {"noise": "gaussian"}
    assert a["n_spikes"] == b["n_spikes"] and a["rate_per_step"] == b["rate_per_step"]
    per_step = np.array(a["rate_per_step"])
    np.testing.assert_allclose(a["rates_hz"], per_step / 0.001)
    se = per_step.std(ddof=1) / np.sqrt(200)
    assert abs(per_step.mean() - renewal_rate(0.45, 0.5, 1.0, 0.3)) < 3 * se
    assert a["x"] == [0.45] * 200


def test_string_options_are_listed_and_checked(capsys):
    assert main(["simulate", "--list", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert models["noisy-lif"]["options"]["noise"] == ["gaussian", "logistic", "triangular",
                                                       "uniform"]
    assert models["noisy-lif"]["input_unit"] == "1" and models["lif"]["input_unit"] == "amp"
    r = run_json(capsys, "noisy-lif", "--n", 3, "--duration", 0.05, "--dt", 0.001,
                 "--set", "noise=uniform", "reset=subtract", "--seed", 2)
    assert r["options"] == {"noise": "uniform", "reset": "subtract"}
    r = run_json(capsys, "lif", "--n", 3, "--duration", 0.05, "--set", "kernel=delta")
    assert "n_steps" not in r and r["options"] == {"kernel": "delta"}


@pytest.mark.parametrize("argv,message", [
    (["noisy-lif", "--set", "noise=cauchy"], "--set noise=cauchy: must be one of gaussian"),
    (["noisy-lif", "--set", "sigma=0"], "sigma = 0 must be > 0"),
    (["noisy-lif", "--set", "I_min=1*nA"], "--set I_min=1*nA"),
    (["alif", "--set", "kernel=delta"], "must be one of exp, biexp"),
])
def test_bad_options_are_one_line_errors(argv, message):
    p = subprocess.run([sys.executable, "-m", "neuromod", "simulate", *argv, "--duration", "0.01",
                        "--dt", "0.001"], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and message in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
