"""Recording files: round trips (.npz, NWB, Neo spike files with .npy stimuli), one
test per check of the loaders, and the embedded simulated recording."""
import configparser
import fnmatch
from pathlib import Path

import numpy as np
import pytest

from neuromod import io
from neuromod.errors import FileFormatError, NeuromodError, ParameterError, SpikeDataError
from neuromod.retina.recording import (
    EMBEDDED, NPZ_KEYS, Recording, embedded, load_recording, save_recording)
from neuromod.spikes import SpikeTrains

ROOT = Path(__file__).resolve().parents[2]


def tiny(U=2, R=3, frames=20, test_frames=10, shape=(3, 4), dtype=np.float32, fdt=0.01):
    """A small recording with known spikes (unit 1 silent in the test repeats)."""
    rng = np.random.default_rng(0)
    Str = rng.normal(size=(frames,) + shape).astype(dtype)
    Ste = rng.normal(size=(test_frames,) + shape).astype(dtype)
    train = SpikeTrains([0.0105, 0.05, 0.1, 0.19], [0, 0, 1, 1], 0.0, frames * fdt,
                        n_trains=U)
    t = np.array([0.02, 0.03, 0.05, 0.07])
    trial = np.array([0, 1, 1, 2])
    test = SpikeTrains(t, trial * U, 0.0, test_frames * fdt, n_trains=U * R,
                       annotations={"unit": np.tile(np.arange(U), R),
                                    "trial": np.repeat(np.arange(R), U)})
    return Recording(fdt, Str, Ste, train, test, U, R, unit_names=("a", "b"), name="tiny")


def same(a, b, atol=0.0):
    assert a.frame_dt == pytest.approx(b.frame_dt, rel=1e-12)
    assert (a.n_units, a.n_test_trials, a.unit_names) == (b.n_units, b.n_test_trials,
                                                          b.unit_names)
    np.testing.assert_array_equal(a.train_stimulus, b.train_stimulus)
    np.testing.assert_array_equal(a.test_stimulus, b.test_stimulus)
    assert a.train_stimulus.dtype == np.float32
    for x, y in ((a.train_spikes, b.train_spikes), (a.test_spikes, b.test_spikes)):
        np.testing.assert_array_equal(x.ids, y.ids)
        np.testing.assert_allclose(x.times, y.times, rtol=0, atol=atol)
        assert (x.t_start, x.t_stop) == pytest.approx((y.t_start, y.t_stop))
    np.testing.assert_array_equal(a.test_counts(0.001), b.test_counts(0.001))


def npz_arrays(rec=None):
    rec = rec or tiny()
    ids = rec.test_spikes.ids
    return {"frame_dt": np.float64(rec.frame_dt), "train_stimulus": rec.train_stimulus,
            "test_stimulus": rec.test_stimulus,
            "train_spike_times": rec.train_spikes.times,
            "train_spike_units": rec.train_spikes.ids,
            "test_spike_times": rec.test_spikes.times,
            "test_spike_units": ids % rec.n_units, "test_spike_trials": ids // rec.n_units,
            "n_units": np.int64(rec.n_units), "n_test_trials": np.int64(rec.n_test_trials)}


def write_npz(tmp_path, drop=(), **changes):
    arrays = {**npz_arrays(), **changes}
    for k in drop:
        del arrays[k]
    p = tmp_path / "rec.npz"
    np.savez(p, **arrays)
    return p


def fails(exc, path, key, call, *args, **kwargs):
    """``call`` raises ``exc`` with one line naming ``path`` and ``key``."""
    with pytest.raises(exc) as info:
        call(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg, msg
    assert key in msg, msg
    return msg


# ---------------------------------------------------------------------- round trips
def test_npz_round_trip(tmp_path):
    rec = tiny()
    p = tmp_path / "r.npz"
    save_recording(p, rec)
    back = load_recording(p)
    same(back, rec)
    assert back.name == "r.npz"
    assert back.test_spikes.annotations["trial"].tolist() == [0, 0, 1, 1, 2, 2]
    with np.load(p, allow_pickle=False) as f:          # the documented keys, no pickles
        assert set(NPZ_KEYS) <= set(f.files)


def test_npz_round_trip_uint8_and_vector_frames(tmp_path):
    v = np.random.default_rng(1).integers(0, 256, (20, 6)).astype(np.uint8)
    w = np.random.default_rng(2).integers(0, 256, (10, 6)).astype(np.uint8)
    base = tiny()
    rec = Recording(0.01, (v - np.float32(128)) / np.float32(128),
                    (w - np.float32(128)) / np.float32(128), base.train_spikes,
                    base.test_spikes, 2, 3)
    p = tmp_path / "q.npz"
    save_recording(p, rec, uint8=(128, 1 / 128))
    with np.load(p) as f:
        assert f["train_stimulus"].dtype == np.uint8
    same(load_recording(p), rec)
    with pytest.raises(ParameterError, match="not exactly"):
        save_recording(tmp_path / "bad.npz", tiny(), uint8=(128, 1 / 128))


def test_nwb_round_trip(tmp_path):
    rec = tiny()
    p = tmp_path / "r.nwb"
    save_recording(p, rec)
    back = load_recording(p)
    same(back, rec, atol=1e-12)
    assert back.name == "r.nwb"
    vec = tiny(shape=(5,))                             # (frames, D): a TimeSeries
    save_recording(tmp_path / "v.nwb", vec)
    same(load_recording(tmp_path / "v.nwb"), vec, atol=1e-12)


def test_neo_spike_files_round_trip(tmp_path):
    rec = tiny()
    io.write(rec.train_spikes, tmp_path / "train.nix")
    io.write(rec.test_spikes, tmp_path / "test.nix")
    np.save(tmp_path / "train.npy", rec.train_stimulus)
    np.save(tmp_path / "test.npy", rec.test_stimulus)
    back = load_recording(train_spikes=tmp_path / "train.nix",
                          test_spikes=tmp_path / "test.nix",
                          train_stimulus=tmp_path / "train.npy",
                          test_stimulus=tmp_path / "test.npy", frame_dt=0.01)
    same(back, Recording(rec.frame_dt, rec.train_stimulus, rec.test_stimulus,
                         rec.train_spikes, rec.test_spikes, 2, 3))
    assert back.name == "train.nix"


def test_neo_test_trains_in_any_order_and_named_units(tmp_path):
    """Test trains are matched by their unit and trial annotations, not by position;
    units keep the training file's names."""
    rec = tiny()
    train = SpikeTrains(rec.train_spikes.times, rec.train_spikes.ids, 0.0, 0.2, n_trains=2,
                        annotations={"unit": [7, 3]})
    order = [5, 0, 3, 1, 4, 2]                      # trains shuffled
    lists = rec.test_spikes.to_list()
    test = SpikeTrains.from_list([lists[i] for i in order], 0.0, 0.1,
                                 annotations={"unit": [[7, 3][i % 2] for i in order],
                                              "trial": [10 + i // 2 for i in order]})
    io.write(train, tmp_path / "train.csv")
    io.write(test, tmp_path / "test.txt")
    np.save(tmp_path / "a.npy", rec.train_stimulus)
    np.save(tmp_path / "b.npy", rec.test_stimulus)
    back = load_recording(train_spikes=tmp_path / "train.csv", test_spikes=tmp_path / "test.txt",
                          train_stimulus=tmp_path / "a.npy", test_stimulus=tmp_path / "b.npy",
                          frame_dt=0.01)
    assert back.unit_names == ("unit7", "unit3")
    np.testing.assert_array_equal(back.test_counts(0.001), rec.test_counts(0.001))


def test_embedded_round_trips_through_nwb(tmp_path):
    rec = embedded()
    p = tmp_path / "e.nwb"
    save_recording(p, rec)
    same(load_recording(p), rec, atol=1e-9)


# ---------------------------------------------------------------------- npz checks
@pytest.mark.parametrize("key", NPZ_KEYS)
def test_missing_key(tmp_path, key):
    p = write_npz(tmp_path, drop=(key,))
    fails(FileFormatError, p, repr(key), load_recording, p)


@pytest.mark.parametrize("key, value, words", [
    ("train_stimulus", np.zeros(20, np.float32), "shape"),
    ("test_stimulus", np.zeros((10, 4, 3), np.float32), "differ"),
    ("train_stimulus", np.zeros((20, 3, 4), np.int16), "dtype"),
    ("train_spike_times", np.array([1, 2]), "dtype"),
    ("train_spike_units", np.array([0.0, 0.0, 1.0, 1.0]), "dtype"),
    ("train_spike_units", np.array([0, 0, 1]), "values for"),
    ("test_spike_trials", np.array([[0, 1, 1, 2]]), "shape"),
    ("frame_dt", np.array([0.01, 0.01]), "single number"),
    ("frame_dt", np.float64(-0.01), "positive"),
    ("n_units", np.float64(2.0), "single integer"),
    ("unit_names", np.array(["a"]), "strings"),
])
def test_wrong_shapes_and_dtypes(tmp_path, key, value, words):
    p = write_npz(tmp_path, **{key: value})
    fails(FileFormatError, p, key, load_recording, p)
    assert words in str(pytest.raises(FileFormatError, load_recording, p).value)


def test_spikes_after_the_stimulus_ends(tmp_path):
    p = write_npz(tmp_path, train_spike_times=np.array([0.01, 0.05, 0.1, 0.2001]))
    msg = fails(SpikeDataError, p, "train_spike_times", load_recording, p)
    assert "after the training stimulus ends (20 frames of 0.01 s = 0.2 s)" in msg
    p = write_npz(tmp_path, test_stimulus=np.zeros((5, 3, 4), np.float32))
    msg = fails(SpikeDataError, p, "test_spike_times", load_recording, p)
    assert "after the test clip ends (5 frames of 0.01 s = 0.05 s)" in msg


def test_units_and_trials_out_of_range(tmp_path):
    p = write_npz(tmp_path, train_spike_units=np.array([0, 0, 1, 2]))
    assert "unit 2 outside 0..1" in fails(SpikeDataError, p, "train_spike_units",
                                          load_recording, p)
    p = write_npz(tmp_path, test_spike_units=np.array([0, -1, 0, 0]))
    fails(SpikeDataError, p, "test_spike_units", load_recording, p)
    p = write_npz(tmp_path, test_spike_trials=np.array([0, 1, 1, 3]))
    assert "trial 3 outside 0..2" in fails(SpikeDataError, p, "test_spike_trials",
                                           load_recording, p)


def test_negative_times(tmp_path):
    p = write_npz(tmp_path, test_spike_times=np.array([0.02, -0.001, 0.05, 0.07]))
    assert "negative" in fails(SpikeDataError, p, "test_spike_times", load_recording, p)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf(tmp_path, bad):
    p = write_npz(tmp_path, train_spike_times=np.array([0.01, bad, 0.1, 0.19]))
    assert "not finite" in fails(SpikeDataError, p, "train_spike_times", load_recording, p)
    stim = npz_arrays()["test_stimulus"].copy()
    stim[3, 1, 2] = bad
    p = write_npz(tmp_path, test_stimulus=stim)
    assert "(3, 1, 2)" in fails(FileFormatError, p, "test_stimulus", load_recording, p)


def test_empty_recording(tmp_path):
    e = np.zeros(0)
    p = write_npz(tmp_path, train_spike_times=e, train_spike_units=e.astype(int),
                  test_spike_times=e, test_spike_units=e.astype(int),
                  test_spike_trials=e.astype(int))
    assert "empty recording" in fails(SpikeDataError, p, "rec.npz", load_recording, p)
    p = write_npz(tmp_path, train_spike_times=e, train_spike_units=e.astype(int))
    fails(SpikeDataError, p, "train_spike_times", load_recording, p)


def test_fewer_than_two_test_trials(tmp_path):
    p = write_npz(tmp_path, n_test_trials=np.int64(1),
                  test_spike_trials=np.zeros(4, np.int64))
    assert "at least 2" in fails(SpikeDataError, p, "n_test_trials", load_recording, p)


def test_not_a_recording_npz(tmp_path):
    p = tmp_path / "one.npz"
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npy").rename(p)
    fails(FileFormatError, p, "single .npy", load_recording, p)
    with pytest.raises(FileNotFoundError):
        load_recording(tmp_path / "absent.npz")
    fails(FileFormatError, tmp_path / "r.mat", ".npz or .nwb", load_recording,
          tmp_path / "r.mat")


def test_unused_inputs_are_refused(tmp_path):
    with pytest.raises(ParameterError, match="not both"):
        load_recording(tmp_path / "r.npz", frame_dt=0.01)
    with pytest.raises(ParameterError, match="test_spikes, train_stimulus"):
        load_recording(train_spikes=tmp_path / "t.nix")
    with pytest.raises(ParameterError, match="give a recording file"):
        load_recording()


# ---------------------------------------------------------------------- NWB checks
def _nwb(tmp_path, rec=None, stimulus=True, trials=True, column=True, test_frames=None):
    """A hand-made NWB recording with parts left out."""
    import datetime
    import uuid
    import warnings

    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    rec = rec or tiny(shape=(4,))
    nwb = NWBFile(session_description="t", identifier=str(uuid.uuid4()),
                  session_start_time=datetime.datetime.now(datetime.timezone.utc))
    nwb.add_acquisition(TimeSeries(name="test_stimulus", data=rec.test_stimulus, unit="a.u.",
                                   timestamps=2.0 + np.arange(len(rec.test_stimulus)) * 0.01))
    if stimulus:
        nwb.add_stimulus(TimeSeries(name="train_stimulus", data=rec.train_stimulus,
                                    unit="a.u.", rate=100.0))
    if trials:
        if column:
            nwb.add_trial_column("stimulus", "train or test")
        T = test_frames * 0.01 if test_frames else 0.1
        for start, stop, s in ((0.0, 0.2, "train"), (2.0, 2.0 + T, "test"),
                               (3.0, 3.0 + T, "test")):
            nwb.add_trial(start_time=start, stop_time=stop, **({"stimulus": s} if column else {}))
    nwb.add_unit(spike_times=[0.01, 0.05, 2.02, 3.03, 3.05])
    nwb.add_unit(spike_times=[0.1, 1.0, 2.07])      # 1.0: between the intervals
    p = tmp_path / "h.nwb"
    with warnings.catch_warnings(), NWBHDF5IO(str(p), "w") as f:
        warnings.simplefilter("ignore")
        f.write(nwb)
    return p


def test_hand_made_nwb_reads(tmp_path):
    p = _nwb(tmp_path)
    rec = load_recording(p)
    assert (rec.n_units, rec.n_test_trials, rec.frame_dt) == (2, 2, pytest.approx(0.01))
    assert rec.train_spikes.counts.tolist() == [2, 1]
    assert rec.test_spikes.counts.tolist() == [1, 1, 2, 0]
    np.testing.assert_allclose(rec.test_spikes.train(2), [0.03, 0.05], atol=1e-12)


def test_nwb_without_the_series(tmp_path):
    p = _nwb(tmp_path, stimulus=False)
    fails(FileFormatError, p, "'train_stimulus'", load_recording, p)


def test_nwb_without_trials(tmp_path):
    p = _nwb(tmp_path, trials=False)
    fails(FileFormatError, p, "trials table", load_recording, p)
    p = _nwb(tmp_path, column=False)
    fails(FileFormatError, p, "'stimulus' column", load_recording, p)


def test_nwb_interval_longer_than_its_stimulus(tmp_path):
    p = _nwb(tmp_path, test_frames=30)
    assert "test_stimulus" in fails(FileFormatError, p, "intervals/trials", load_recording, p)


def test_not_an_nwb_file(tmp_path):
    p = tmp_path / "x.nwb"
    p.write_text("hello")
    fails(FileFormatError, p, "HDF5", load_recording, p)


# ---------------------------------------------------------------------- Neo checks
def test_neo_test_file_without_trials(tmp_path):
    rec = tiny()
    io.write(rec.train_spikes, tmp_path / "train.txt")
    io.write(SpikeTrains.from_list([[0.01], [0.02]], 0.0, 0.1), tmp_path / "test.txt")
    np.save(tmp_path / "a.npy", rec.train_stimulus)
    np.save(tmp_path / "b.npy", rec.test_stimulus)
    kw = dict(train_spikes=tmp_path / "train.txt", test_spikes=tmp_path / "test.txt",
              train_stimulus=tmp_path / "a.npy", test_stimulus=tmp_path / "b.npy",
              frame_dt=0.01)
    fails(SpikeDataError, tmp_path / "test.txt", "trial", load_recording, **kw)
    io.write(SpikeTrains.from_list([[0.01], [0.02]], 0.0, 0.1,
                                   annotations={"unit": [0, 5], "trial": [0, 1]}),
             tmp_path / "test.txt")
    fails(SpikeDataError, tmp_path / "test.txt", "unit 5", load_recording, **kw)
    io.write(rec.test_spikes, tmp_path / "test.txt")
    np.save(tmp_path / "b.npy", np.zeros((10, 2, 2), np.float32))
    fails(FileFormatError, tmp_path / "b.npy", "differ", load_recording, **kw)
    (tmp_path / "c.npy").write_text("no")
    fails(FileFormatError, tmp_path / "c.npy", ".npy",
          load_recording, **{**kw, "test_stimulus": tmp_path / "c.npy"})


# ---------------------------------------------------------------------- the container
def test_recording_refuses_spikes_outside_its_stimulus():
    rec = tiny()
    with pytest.raises(ParameterError, match="outside the train stimulus"):
        Recording(0.01, rec.train_stimulus[:10], rec.test_stimulus, rec.train_spikes,
                  rec.test_spikes, 2, 3)
    with pytest.raises(ParameterError, match="differ"):
        Recording(0.01, rec.train_stimulus, rec.test_stimulus[:, :2], rec.train_spikes,
                  rec.test_spikes, 2, 3)
    assert rec.mean_rates("train").tolist() == pytest.approx([10.0, 10.0])
    assert rec.mean_rates("test").tolist() == pytest.approx([4 / 0.3, 0.0])


# ---------------------------------------------------------------------- embedded data
@pytest.fixture(scope="module")
def emb():
    return embedded()


def test_embedded_recording(emb):
    assert emb.name == "embedded"
    assert (emb.n_units, emb.n_test_trials, emb.frame_dt) == (8, 20, 0.01)
    assert emb.train_stimulus.shape == (30000, 8, 8)
    assert emb.test_stimulus.shape == (1000, 8, 8)
    assert emb.train_stimulus.dtype == np.float32
    for split in ("train", "test"):
        r = emb.mean_rates(split)
        assert np.all((r >= 5) & (r <= 30)), (split, r)
    assert (ROOT / "data" / EMBEDDED).stat().st_size <= 5e6


def test_embedded_statistics(emb):
    """The numbers docs/retina.md quotes: refractory (no ISI < 3 ms), sub-Poisson
    (Fano < 1 in 50 ms windows), reliable (noise ceiling of the 20 ms PSTH)."""
    from neuromod.stats import isis, split_half_noise_ceiling, windowed_fano_factor
    d = np.concatenate([isis(emb.train_spikes)[0], isis(emb.test_spikes)[0]])
    assert np.mean(d < 0.003) == 0.0
    assert 0.2 < np.mean(d < 0.008) < 0.5                # bursts
    units = [emb.test_spikes.select(unit=u) for u in range(8)]
    fano = [windowed_fano_factor(s, 0.05) for s in units]
    assert max(fano) < 1.0 and np.mean(fano) == pytest.approx(0.452, abs=0.005)
    ceil = [split_half_noise_ceiling(s, 0.02, seed=u) for u, s in enumerate(units)]
    assert np.mean(ceil) == pytest.approx(0.987, abs=0.003)


def test_generator_reproduces_the_shipped_spikes(emb):
    """The generator with the file's settings gives its first 20 s of training spikes
    and its first 3 test repeats exactly (a shorter run is a prefix of a longer one)."""
    from neuromod.data.make_retina import SETTINGS
    from neuromod.retina.synthetic import simulated_retina
    sub = simulated_retina(**{**SETTINGS, "train_seconds": 20.0, "n_test_trials": 3})
    T = sub.train_duration
    keep = emb.train_spikes.times < T
    np.testing.assert_array_equal(sub.train_spikes.times, emb.train_spikes.times[keep])
    np.testing.assert_array_equal(sub.train_spikes.ids, emb.train_spikes.ids[keep])
    np.testing.assert_array_equal(sub.train_stimulus, emb.train_stimulus[:len(sub.train_stimulus)])
    np.testing.assert_array_equal(sub.test_stimulus, emb.test_stimulus)
    keep = emb.test_spikes.ids < 3 * 8
    np.testing.assert_array_equal(sub.test_spikes.times, emb.test_spikes.times[keep])
    np.testing.assert_array_equal(sub.test_spikes.ids, emb.test_spikes.ids[keep])
    assert sub.unit_names == emb.unit_names


def test_embedded_file_is_package_data():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in cfg["options.package_data"]["neuromod.data"].split(",")]
    assert any(fnmatch.fnmatch(EMBEDDED, p) for p in patterns), patterns
    from neuromod.data import path
    assert path(EMBEDDED).is_file()


def test_errors_are_neuromod_errors():
    assert issubclass(FileFormatError, NeuromodError) and issubclass(SpikeDataError,
                                                                     NeuromodError)


def test_cut_keeps_the_chosen_units_and_the_start_of_training():
    from neuromod.errors import ParameterError
    from neuromod.retina.recording import embedded
    rec = embedded()
    s = rec.cut(units=[5, 2], train_seconds=100.0)
    assert (s.n_units, s.n_test_trials, s.train_duration) == (2, rec.n_test_trials, 100.0)
    np.testing.assert_array_equal(s.train_counts(), rec.train_counts()[:100000][:, [5, 2]])
    np.testing.assert_array_equal(s.test_counts(), rec.test_counts()[:, :, [5, 2]])
    np.testing.assert_array_equal(s.test_stimulus, rec.test_stimulus)
    with pytest.raises(ParameterError, match="units"):
        rec.cut(units=[1, 1])
    with pytest.raises(ParameterError, match="train_seconds"):
        rec.cut(train_seconds=0.001)
