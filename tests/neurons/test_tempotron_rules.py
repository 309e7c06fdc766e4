"""The tempotron family's multi-spike training: the closed-form eligibility, the
impulse neuron and its rules (TDP, EML, EMLC), the training loop and the tasks."""
import numpy as np
import pytest
from scipy import integrate

from neuromod.errors import ParameterError
from neuromod.neurons.tempotron import Patterns, Tempotron
from neuromod.neurons.tempotron.efficient import (ImpulseNeuron, emlc_step, eml_step,
                                                  spike_events, tdp_gradient, tdp_step)
from neuromod.neurons.tempotron.learning import (eligibility, offset_to_rate, spike_counts,
                                                 train_multispike)
from neuromod.neurons.tempotron.tasks import (FeatureTask, count_patterns, jitter,
                                              poisson_patterns)


def _pattern(seed, n=30, rate_n=2.5, T=0.5):
    rng = np.random.default_rng(seed)
    return Patterns.from_lists([[np.sort(rng.uniform(0, T, rng.poisson(rate_n)))
                                 for _ in range(n)]], T), rng


def test_eligibility_closed_form_against_quadrature():
    """E_i = sum_j int V(t) K(t - t_i^j) dt with the resets, against adaptive quadrature
    between the breakpoints (input and output spikes)."""
    from neuromod.neurons.tempotron.learning import _count
    P, rng = _pattern(1, n=8, rate_n=2.0, T=0.3)
    w = rng.normal(0.6, 0.2, 8)
    nr = Tempotron()
    t, a = P.times, P.afferents
    spikes = _count(t, a, w, 0.3, nr, 1.0)
    assert len(spikes) >= 1

    def V(x):
        return (w[a] * nr.kernel(x - t)).sum() - sum(
            np.exp(-(x - s) / nr.tau_m) for s in spikes if x >= s)

    points = np.unique(np.r_[0.0, t, spikes, 0.3])
    ref = np.zeros(8)
    for j in range(len(t)):
        f = (lambda x, j=j: V(x) * float(nr.kernel(x - t[j])))
        ref[a[j]] += sum(integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-11)[0]
                         for lo, hi in zip(points[:-1], points[1:]))
    E = eligibility(t, a, w, 0.3, nr)
    np.testing.assert_allclose(E, ref, rtol=1e-7, atol=1e-10)


# --------------------------------------------------------------- impulse neuron
def _impulse_reference(t, a, w, tau, theta):
    """Output spikes by the voltage's definition, summed directly at every event."""
    out = []
    for k in range(len(t)):
        while True:
            v = (w[a[:k + 1]] * np.exp(-(t[k] - t[:k + 1]) / tau)).sum() - theta * sum(
                np.exp(-(t[k] - t[s]) / tau) for s in out)
            if v < theta:
                break
            out.append(k)
    return out


def test_impulse_neuron_against_its_definition():
    P, rng = _pattern(3, n=20, rate_n=3)
    w = rng.normal(0.4, 0.3, 20)
    ref = _impulse_reference(P.times, P.afferents, w, 0.02, 1.0)
    assert len(ref) >= 3
    assert spike_events(P.times, P.afferents, w).tolist() == ref


def test_tdp_gradient_against_finite_differences_and_the_count_step():
    from dataclasses import replace
    P, rng = _pattern(5, n=30, rate_n=3)
    w = rng.normal(0.1, 0.2, 30)
    t, a = P.times, P.afferents
    for k in (1, 2, 4):
        th, g = tdp_gradient(t, a, w, k)
        nr = ImpulseNeuron()
        assert len(spike_events(t, a, w, replace(nr, theta=th * (1 - 1e-9)))) >= k
        assert len(spike_events(t, a, w, replace(nr, theta=th * (1 + 1e-9)))) < k
        for i in np.argsort(-np.abs(g))[:5]:
            wp, wm = w.copy(), w.copy()
            wp[i] += 1e-6
            wm[i] -= 1e-6
            fd = (tdp_gradient(t, a, wp, k)[0] - tdp_gradient(t, a, wm, k)[0]) / 2e-6
            assert abs(g[i] - fd) <= 1e-5 * np.abs(g).max()
    with pytest.raises(ParameterError, match="never rises"):
        tdp_gradient(t, a, -np.abs(w), 1)
    dw, n = tdp_step(t, a, -np.abs(w), 2)                 # cannot bracket: skipped
    assert n == 0 and not dw.any()


def test_emlc_direction_is_built_from_the_state_at_each_spike():
    """EMLC's depression is -sum over the spikes beyond the desired count of
    x(t_s)/C(t_s), each taken when the spike happens (direct sums)."""
    P, rng = _pattern(8, n=20, rate_n=3)
    w = rng.normal(0.25, 0.3, 20)
    t, a = P.times, P.afferents
    nr = ImpulseNeuron()
    sp = spike_events(t, a, w, nr)
    assert len(sp) >= 3
    dw, n = emlc_step(t, a, w, 1, nr, lr=1.0)
    ref = np.zeros(20)
    for r, k in enumerate(sp):
        if r + 1 > 1:
            x = np.bincount(a[:k + 1], weights=np.exp(-(t[k] - t[:k + 1]) / nr.tau),
                            minlength=20)
            C = 1 + np.exp(-(t[k] - t[sp[:r]]) / nr.tau).sum()
            ref -= x / C
    assert n == len(sp)
    np.testing.assert_allclose(dw, ref, rtol=1e-12, atol=1e-14)
    dw, n = emlc_step(t, a, w, len(sp), nr)
    assert not dw.any()


def test_eml_removes_the_weakest_spike_and_adds_at_the_highest_subthreshold_peak():
    P, rng = _pattern(9, n=20, rate_n=3)
    w = rng.normal(0.25, 0.3, 20)
    t, a = P.times, P.afferents
    n = len(spike_events(t, a, w))
    dw, m = eml_step(t, a, w, n + 1, lr=1.0)          # potentiation: mostly positive
    assert m == n and dw.min() >= 0 and dw.max() > 0
    dw, m = eml_step(t, a, w, n - 1, lr=1.0)
    assert dw.max() <= 0 and dw.min() < 0


@pytest.mark.parametrize("rule", ["tdp", "eml", "emlc", "gradient"])
def test_rules_learn_spike_counts(rule):
    """Two neurons at once, 6 patterns with desired counts 1..3 and 0..2: every count
    right (seeded; at most 300 passes)."""
    P, y = count_patterns(n_classes=3, per_class=2, n_afferents=60, seed=4)
    desired = np.stack([y + 1, y], axis=1)
    lr = 0.005 if rule == "gradient" else 0.02
    W, hist = train_multispike(P, desired, rule=rule, lr=lr, epochs=300, init_mean=0.01,
                               seed=0)
    neuron = Tempotron() if rule == "gradient" else ImpulseNeuron()
    assert hist[-1]["errors"] == 0 and W.shape == (2, 60)
    assert (spike_counts(P, W, neuron) == desired).all()


def test_margin_pushes_the_critical_thresholds_away():
    P, y = count_patterns(n_classes=2, per_class=2, n_afferents=60, seed=1)
    W, _ = train_multispike(P, y + 1, rule="tdp", lr=0.02, epochs=500, init_mean=0.01,
                            margin=0.1, seed=0, target=1.0)
    nr = ImpulseNeuron()
    for th in (0.905, 1.095):       # the counts hold across +-9.5 % of theta
        from dataclasses import replace
        assert (spike_counts(P, W, replace(nr, theta=th))[:, 0] == y + 1).all()


def test_training_inputs_are_checked():
    P, y = count_patterns(n_classes=2, per_class=2, n_afferents=10, seed=0)
    with pytest.raises(ParameterError, match="rule must be one of"):
        train_multispike(P, y, rule="hebb")
    with pytest.raises(ParameterError, match="runs on a ImpulseNeuron"):
        train_multispike(P, y, rule="tdp", neuron=Tempotron())
    with pytest.raises(ParameterError, match="desired spike counts must be"):
        train_multispike(P, y[:2])
    with pytest.raises(ParameterError, match=">= 0"):
        train_multispike(P, y - 5)
    with pytest.raises(ParameterError, match="margin"):
        train_multispike(P, y, margin=1.5)


# ----------------------------------------------------------------------- tasks
def test_feature_task_inserts_the_features_where_it_says():
    task = FeatureTask.make(n_afferents=30, n_features=3, occurrences=1.0, seed=2)
    P, counts = task.trials(20, seed=3)
    sizes = np.diff(P.offsets)
    per_feature = np.array([len(f[0]) for f in task.features])
    # spikes = background + every occurrence's feature spikes (+ padding background)
    assert (sizes >= counts @ per_feature).all()
    assert P.duration >= task.background + task.feature_duration * counts.sum(1).max()
    assert np.all(np.diff(P.times[P.offsets[0]:P.offsets[1]]) >= 0)
    # a probe holds its feature's spikes exactly, at the onset
    probes = task.probes(2, duration=1.0, seed=0)
    Pp, onset = probes[1]
    ft, fa = task.features[1]
    seg = slice(Pp.offsets[0], Pp.offsets[1])
    tt, aa = Pp.times[seg], Pp.afferents[seg]
    for x, i in zip(ft + onset, fa):
        assert np.any((np.abs(tt - x) < 1e-12) & (aa == i))
    assert Pp.duration == pytest.approx(1.0 + task.feature_duration)
    assert probes["gap"][0].n_patterns == 2
    with pytest.raises(ParameterError, match="occurrences"):
        FeatureTask.make(occurrences=0)


def test_jitter_and_poisson_patterns():
    P = poisson_patterns(50, n_afferents=40, rate=10.0, duration=1.0, seed=0)
    assert abs(len(P.times) / (50 * 40 * 1.0) - 10.0) < 0.3        # rate within 3 %
    J = jitter(P, 0.002, seed=1)
    assert (np.diff(J.offsets) == np.diff(P.offsets)).all()
    assert J.times.min() >= 0 and J.times.max() <= 1.0
    moved = np.sort(J.times[:J.offsets[1]]) - np.sort(P.times[:P.offsets[1]])
    assert 0.0005 < np.abs(moved).mean() < 0.004


def test_offset_to_rate_reaches_the_rate():
    P = poisson_patterns(20, n_afferents=100, rate=5.0, duration=0.5, seed=0)
    w = np.random.default_rng(0).normal(0, 0.03, 100)
    b = offset_to_rate(P, w, 5.0)
    rate = spike_counts(P, w + b).mean() / 0.5
    assert abs(rate - 5.0) <= 0.25
