"""LIF reference model on both backends against closed forms and against each other.

Analytic references (continuous time, constant input I, v_inf = E_L + R I):
  membrane       v(t) = v_inf + (v0 - v_inf) exp(-t/tau_m)
  first spike    T1 = tau_m ln((v_inf - E_L)/(v_inf - v_th))
  ISI            t_ref + tau_m ln((v_inf - v_reset)/(v_inf - v_th))
and their exact discrete counterparts under the documented schedule (state time
(k+1) dt crosses threshold -> spike reported at k dt; v frozen for ref_steps - 1
steps after the reset step).
"""
import math

import numpy as np
import pytest

from neuromod.backends.network import simulate
from neuromod.neurons import lif

DT = 1e-4
DURATION = 0.3
# input currents (A): below, near and above the 1 nA rheobase
CURRENTS = np.array([0.5, 0.9, 0.99, 1.05, 1.2, 1.37, 1.6, 1.9, 2.3, 2.8, 3.3, 4.1]) * 1e-9
P = dict(tau_m=0.02, E_L=-0.06, v_th=-0.05, v_reset=-0.06, R=1e7, t_ref=0.005)


def _steps_to_cross(v0, v_inf):
    """Smallest j >= 1 with v_inf + (v0 - v_inf) e^{-j dt/tau} > v_th (inf if never)."""
    if v_inf <= P["v_th"]:
        return math.inf
    x = math.log((P["v_th"] - v_inf) / (v0 - v_inf)) / (-DT / P["tau_m"])
    frac = x - math.floor(x)
    assert min(frac, 1 - frac) > 1e-6, "test design: crossing too close to a step boundary"
    return math.floor(x) + 1


def _discrete_spike_steps(I):
    v_inf = P["E_L"] + P["R"] * I
    j1 = _steps_to_cross(P["E_L"], v_inf)
    n_steps = round(DURATION / DT)
    if j1 == math.inf:
        return []
    j = _steps_to_cross(P["v_reset"], v_inf)
    n_ref = round(P["t_ref"] / DT)
    isi = max(n_ref, 1) + j - 1
    return list(range(j1 - 1, n_steps, isi))


@pytest.fixture(scope="module")
def both_fi():
    return {b: simulate(lif(), CURRENTS.size, DURATION, DT, backend=b,
                        inputs={"I_ext": CURRENTS}, record=["v"]) for b in ("torch", "brian2")}


@pytest.fixture(params=["torch", "brian2"])
def fi_run(request, both_fi):
    return both_fi[request.param]


def test_membrane_matches_closed_form_before_first_spike(fi_run):
    v = fi_run.traces["neurons"]["v"]
    t = fi_run.t
    for i, I in enumerate(CURRENTS):
        v_inf = P["E_L"] + P["R"] * I
        st = fi_run.spikes["neurons"][i]
        # state at k dt is pre-spike up to and including the step that spikes
        k_end = int(round(st[0] / DT)) + 1 if st.size else t.size
        expected = v_inf + (P["E_L"] - v_inf) * np.exp(-t[:k_end] / P["tau_m"])
        # float64 rounding over <= 3000 exact-propagator steps stays far below 1e-12 V
        np.testing.assert_allclose(v[i, :k_end], expected, rtol=0, atol=1e-12)


def test_first_spike_time_against_analytic_formula(fi_run):
    for i, I in enumerate(CURRENTS):
        v_inf = P["E_L"] + P["R"] * I
        st = fi_run.spikes["neurons"][i]
        if v_inf <= P["v_th"]:
            assert st.size == 0
            continue
        T1 = P["tau_m"] * math.log((v_inf - P["E_L"]) / (v_inf - P["v_th"]))
        # the crossing happens in (t, t + dt] of the reported step t
        assert T1 - DT - 1e-12 <= st[0] < T1
        assert round(st[0] / DT) == _discrete_spike_steps(I)[0]


def test_fi_curve_against_analytic_formula(fi_run):
    st = fi_run.spikes["neurons"]
    for i, I in enumerate(CURRENTS):
        steps = np.round(st[i] / DT).astype(int).tolist()
        assert steps == _discrete_spike_steps(I), f"neuron {i}, I = {I:g} A"
        v_inf = P["E_L"] + P["R"] * I
        if v_inf > P["v_th"] and len(steps) > 1:
            isi_c = P["t_ref"] + P["tau_m"] * math.log((v_inf - P["v_reset"]) / (v_inf - P["v_th"]))
            isi = np.diff(st[i])
            # every discrete ISI lies within one dt below the continuous one
            assert np.all(isi > isi_c - DT - 1e-12) and np.all(isi <= isi_c + 1e-12)
    # the population shows silence up to a range of rates, increasing with I
    counts = st.counts
    assert counts[0] == 0 and counts[-1] > 10 and np.all(np.diff(counts) >= 0)


def test_backends_agree_deterministic(both_fi):
    a, b = both_fi["torch"], both_fi["brian2"]
    np.testing.assert_array_equal(a.spikes["neurons"].counts, b.spikes["neurons"].counts)
    np.testing.assert_allclose(a.spikes["neurons"].times, b.spikes["neurons"].times, rtol=0,
                               atol=DT * 1.0001)
    np.testing.assert_allclose(a.traces["neurons"]["v"], b.traces["neurons"]["v"], rtol=0, atol=1e-12)


def test_identical_trajectories_with_predrawn_noise():
    rng = np.random.default_rng(1)
    n, steps = 6, 1500
    # per-step noise samples (not sqrt(dt)-scaled: the step is the unit of the noise)
    I = 1.0e-9 + 0.5e-9 * rng.standard_normal((steps, n))
    runs = {b: simulate(lif(), n, steps * DT, DT, backend=b, inputs={"I_ext": I}, record=["v"])
            for b in ("torch", "brian2")}
    a, b = runs["torch"], runs["brian2"]
    assert a.spikes["neurons"].n_spikes > 5
    np.testing.assert_array_equal(a.spikes["neurons"].times, b.spikes["neurons"].times)
    np.testing.assert_array_equal(a.spikes["neurons"].ids, b.spikes["neurons"].ids)
    np.testing.assert_allclose(a.traces["neurons"]["v"], b.traces["neurons"]["v"], rtol=0, atol=1e-12)


def test_brian2_symbolic_exact_integrator_agrees_with_propagator():
    """Brian2's own sympy 'exact' solution is independent of neuromod's propagator."""
    I = np.array([0.8e-9, 1.5e-9, 2.5e-9])
    own = simulate(lif(receptors=()), 3, 0.05, DT, backend="brian2", inputs={"I_ext": I},
                   record=["v"], integrator="brian2")
    ours = simulate(lif(receptors=()), 3, 0.05, DT, backend="torch", inputs={"I_ext": I},
                    record=["v"])
    np.testing.assert_array_equal(own.spikes["neurons"].counts, ours.spikes["neurons"].counts)
    np.testing.assert_allclose(own.traces["neurons"]["v"], ours.traces["neurons"]["v"], rtol=0,
                               atol=1e-12)
