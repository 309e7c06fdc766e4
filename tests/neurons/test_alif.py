"""Adaptive LIF on both backends: sub-threshold dynamics against an independent ODE
solver, the refractory-period propagator against its closed form, spike-frequency
adaptation, the static rheobase, and agreement of the two backends."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from neuromod.backends.network import simulate
from neuromod.neurons import alif

DT = 1e-4
PAR = dict(tau_m=0.02, E_L=-0.06, v_th=-0.05, v_reset=-0.065, R=1e7, t_ref=0.005,
           a=4e-9, b=0.1e-9, tau_w=0.1)
MODEL = alif(**PAR)
RHEO = (PAR["v_th"] - PAR["E_L"]) * (1 + PAR["a"] * PAR["R"]) / PAR["R"]


def _rhs(t, y, I):
    v, w = y
    return [(PAR["E_L"] - v + PAR["R"] * (I - w)) / PAR["tau_m"],
            (PAR["a"] * (v - PAR["E_L"]) - w) / PAR["tau_w"]]


@pytest.fixture(scope="module")
def runs():
    steps = 3000
    # neuron 0: piecewise-constant sub-threshold input (changes every 25 ms);
    # neurons 1, 2: just below / above the static rheobase; neuron 3: strong drive
    I = np.empty((steps, 4))
    seg = np.repeat(np.array([0.2, 0.9, 0.5, 0.95, 0.0, 0.7, 0.3, 0.85, 0.6, 0.1, 0.9, 0.4]) * 1e-9, 250)
    I[:, 0] = seg[:steps]
    I[:, 1] = 0.98 * RHEO
    I[:, 2] = 1.05 * RHEO
    I[:, 3] = 3e-9
    return {b: simulate(MODEL, 4, steps * DT, DT, backend=b, inputs={"I_ext": I},
                        record=["v", "I_adapt"]) for b in ("torch", "brian2")}, I


@pytest.fixture(params=["torch", "brian2"])
def run(request, runs):
    return runs[0][request.param]


def test_subthreshold_matches_ode_solver(run, runs):
    I = runs[1][:, 0]
    assert run.spikes["neurons"].counts[0] == 0
    y = np.array([PAR["E_L"], 0.0])
    ref = [y]
    # integrate each 25-ms segment of constant input with a tight 8th-order solver
    for s in range(0, I.size, 250):
        t_eval = np.arange(1, 251) * DT
        sol = solve_ivp(_rhs, (0, 250 * DT), y, args=(I[s],), method="DOP853", rtol=1e-12,
                        atol=1e-16, t_eval=t_eval)
        ref.extend(sol.y.T)
        y = sol.y[:, -1]
    ref = np.array(ref[:I.size])
    # solver tolerance ~1e-12 relative; 1e-10 V and 1e-18 A leave room for it
    np.testing.assert_allclose(run.traces["neurons"]["v"][0], ref[:, 0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(run.traces["neurons"]["I_adapt"][0], ref[:, 1], rtol=0, atol=1e-18)


def test_static_rheobase(run):
    counts = run.spikes["neurons"].counts
    assert counts[1] == 0 and counts[2] > 0


def test_spike_frequency_adaptation(run):
    isi = np.diff(run.spikes["neurons"][3])
    assert isi.size > 5
    assert np.all(np.diff(isi) >= -1e-12) and isi[-1] > 1.1 * isi[0]


def test_refractory_period_freezes_v_and_adaptation_relaxes_exactly(run):
    v = run.traces["neurons"]["v"][3]
    w = run.traces["neurons"]["I_adapt"][3]
    n_ref = round(PAR["t_ref"] / DT)
    w_inf = PAR["a"] * (PAR["v_reset"] - PAR["E_L"])   # fixed point with v clamped at v_reset
    for t in run.spikes["neurons"][3][:-1]:
        k = round(t / DT)
        seg = slice(k + 1, k + n_ref + 1)      # state after the reset step and while refractory
        np.testing.assert_array_equal(v[seg], PAR["v_reset"])
        m = np.arange(n_ref)
        expected = w_inf + (w[k + 1] - w_inf) * np.exp(-m * DT / PAR["tau_w"])
        np.testing.assert_allclose(w[seg], expected, rtol=1e-13, atol=0)


def test_backends_agree(runs):
    a, b = runs[0]["torch"], runs[0]["brian2"]
    np.testing.assert_array_equal(a.spikes["neurons"].times, b.spikes["neurons"].times)
    np.testing.assert_array_equal(a.spikes["neurons"].ids, b.spikes["neurons"].ids)
    np.testing.assert_allclose(a.traces["neurons"]["v"], b.traces["neurons"]["v"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.traces["neurons"]["I_adapt"], b.traces["neurons"]["I_adapt"],
                               rtol=0, atol=1e-20)
