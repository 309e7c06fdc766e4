"""Labelled tempotron patterns in spike files: save_patterns / load_patterns round
trips in every neuromod.io format, the file layout, and one-line errors naming the file."""
import numpy as np
import pytest

from neuromod import io
from neuromod.errors import FileFormatError, NeuromodError, ParameterError, SpikeDataError
from neuromod.neurons.tempotron import Patterns, simulate
from neuromod.neurons.tempotron.data import load_patterns, save_patterns
from neuromod.spikes import SpikeTrains


def _random(n_pat=4, N=6, T=0.2, rate=20.0, seed=0):
    rng = np.random.default_rng(seed)
    P = Patterns.from_lists([[np.sort(rng.uniform(0, T, rng.poisson(rate * T)))
                              for _ in range(N)] for _ in range(n_pat)], T)
    return P, rng.integers(0, 3, n_pat)


def _same(P, Q):
    assert (Q.n_patterns, Q.n_afferents, Q.duration) == (P.n_patterns, P.n_afferents,
                                                         P.duration)
    np.testing.assert_array_equal(Q.offsets, P.offsets)
    np.testing.assert_array_equal(Q.afferents, P.afferents)
    np.testing.assert_array_equal(Q.times, P.times)        # bit for bit


@pytest.mark.parametrize("ext", [".txt", ".csv", ".npz", ".nix", ".nwb"])
def test_round_trip_in_every_format(tmp_path, ext):
    P, labels = _random(seed=1)
    path = tmp_path / f"patterns{ext}"
    save_patterns(path, P, labels)
    Q, y = load_patterns(path)
    _same(P, Q)
    assert y.dtype == np.int64 and y.tolist() == labels.tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]   # no temporary files


def test_round_trip_with_empty_trains_other_keys_and_a_format(tmp_path):
    P = Patterns.from_lists([[[], [0.05]], [[], []], [[0.0, 0.3], []]], 0.3)
    path = tmp_path / "patterns.dat"
    save_patterns(path, P, [0, 1, 0], format="csv", label_key="cls", trial_key="sample")
    st = io.read(path, format="csv")
    assert st.annotations["sample"].tolist() == [0, 0, 1, 1, 2, 2]
    assert st.annotations["cls"].tolist() == [0, 0, 1, 1, 0, 0]
    assert st.annotations["unit"].tolist() == [0, 1, 0, 1, 0, 1]
    Q, y = load_patterns(path, label_key="cls", trial_key="sample", format="csv")
    _same(P, Q)
    assert y.tolist() == [0, 1, 0]


def test_one_pattern_needs_no_trial_annotation(tmp_path):
    # trial = 0 is the containers' default: the writers leave it out, reading restores it
    path = tmp_path / "one.txt"
    st = SpikeTrains.from_list([[0.01], [0.02, 0.03], []], t_stop=0.1,
                               annotations={"label": [2, 2, 2]})
    io.write(st, path)
    assert "trial" not in path.read_text()
    P, y = load_patterns(path)
    assert (P.n_patterns, P.n_afferents, y.tolist()) == (1, 3, [2])


def test_layout_interleaved_trials_and_shifted_window(tmp_path):
    """Trials in sorted order of their values, afferents in the file's order within a
    trial (interleaved here), times shifted to start at 0, duration t_stop - t_start."""
    st = SpikeTrains.from_list(
        [[1.1], [1.5], [], [1.2, 1.3], [1.4], []], t_start=1.0, t_stop=1.5,
        annotations={"trial": [7, 3, 7, 3, 7, 3], "label": [1, 0, 1, 0, 1, 0]})
    path = tmp_path / "trials.npz"
    io.write(st, path)
    P, y = load_patterns(path)
    assert y.tolist() == [0, 1] and P.n_afferents == 3 and P.duration == 0.5
    # trial 3: trains 1, 3, 5 -> afferents 0, 1, 2; trial 7: trains 0, 2, 4
    got = [[(a, round(t, 12)) for t, a in zip(P.times[P.offsets[p]:P.offsets[p + 1]],
                                             P.afferents[P.offsets[p]:P.offsets[p + 1]])]
           for p in range(2)]
    assert got == [[(1, 0.2), (1, 0.3), (0, 0.5)], [(0, 0.1), (2, 0.4)]]


def test_loaded_patterns_simulate_as_the_originals(tmp_path):
    P, labels = _random(n_pat=3, N=20, T=0.3, rate=10.0, seed=2)
    w = np.random.default_rng(3).normal(0.1, 0.1, 20)
    save_patterns(tmp_path / "p.nix", P, labels)
    Q, _ = load_patterns(tmp_path / "p.nix")
    for a, b in zip(simulate(P, w), simulate(Q, w)):
        np.testing.assert_array_equal(a[0], b[0])


def test_bool_and_whole_float_labels_are_integers(tmp_path):
    for values, want in (([True, True, False, False], [1, 0]),
                         ([2.0, 2.0, 0.0, 0.0], [2, 0])):
        st = SpikeTrains.from_list([[0.1], [], [0.2], []], t_stop=1.0,
                                   annotations={"trial": [0, 0, 1, 1], "label": values})
        io.write(st, tmp_path / "f.npz")
        assert load_patterns(tmp_path / "f.npz")[1].tolist() == want


def _write(tmp_path, name, trains=([0.1], [], [0.2], [0.3]), t_start=None, **annotations):
    path = tmp_path / name
    io.write(SpikeTrains.from_list(list(trains), t_start=t_start, t_stop=1.0,
                                   annotations=annotations), path)
    return path


@pytest.mark.parametrize("ext", [".txt", ".npz"])
@pytest.mark.parametrize("case,error,message", [
    (dict(trial=[0, 0, 1, 1]), FileFormatError, "no 'label' annotation on its trains"),
    (dict(trial=[0, 0, 0, 1], label=[1, 1, 1, 0]), FileFormatError,
     "trial 1 has 1 trains, trial 0 has 3"),
    (dict(trial=[0, 0, 1, 1], label=[1, 0, 0, 0]), FileFormatError,
     "trial 0 has conflicting labels (1 and 0 on train 1)"),
    (dict(trial=[0, 0, 1, 1], label=[0.5, 0.5, 1.0, 1.0]), FileFormatError,
     "label 0.5 is not an integer"),
    (dict(trial=[0, 0, 1, 1], label=["a", "a", "b", "b"]), FileFormatError,
     "labels are strings (e.g. 'a')"),
    (dict(trains=([0.1], [-0.2], [0.2], []), t_start=-0.5, trial=[0, 0, 1, 1],
          label=[1, 1, 0, 0]), SpikeDataError, "train 1: spike at -0.2 s is before 0"),
])
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, ext, case, error, message):
    path = _write(tmp_path, "bad" + ext, **case)
    with pytest.raises(error) as info:
        load_patterns(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path)) and message in text, text


def test_missing_trial_key_and_no_trains(tmp_path):
    path = _write(tmp_path, "a.npz", label=[0, 0, 1, 1])
    with pytest.raises(FileFormatError, match="no 'sample' annotation"):
        load_patterns(path, trial_key="sample")
    empty = tmp_path / "empty.npz"
    io.write(SpikeTrains([], [], t_stop=1.0, n_trains=0), empty)
    with pytest.raises(FileFormatError, match="empty.npz: no spike trains"):
        load_patterns(empty)
    with pytest.raises(FileNotFoundError):
        load_patterns(tmp_path / "missing.npz")


def test_bad_file_content_names_the_file(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_text("id,time\n0,abc\n")
    with pytest.raises(NeuromodError, match="junk.csv"):
        load_patterns(path)


def test_save_refuses_bad_arguments(tmp_path):
    P, _ = _random(n_pat=2, seed=4)
    path = tmp_path / "p.npz"
    for labels, message in (([0], "one value per pattern: 2 patterns"),
                            ([0.5, 1], "label 0.5 is not an integer"),
                            (["a", "b"], "labels are strings")):
        with pytest.raises(ParameterError, match=message):
            save_patterns(path, P, labels)
    with pytest.raises(ParameterError, match="must differ"):
        save_patterns(path, P, [0, 1], label_key="x", trial_key="x")
    with pytest.raises(ParameterError, match="other than 'unit'"):
        save_patterns(path, P, [0, 1], label_key="unit")
    with pytest.raises(ParameterError, match="must be a Patterns"):
        save_patterns(path, [[0.1]], [0])
    assert list(tmp_path.iterdir()) == []
