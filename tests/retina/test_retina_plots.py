"""neuromod.retina.plots: every figure is written as a PNG (Agg), for data with any
number of models, with and without filters."""
import numpy as np
import pytest

from neuromod.retina import plots
from neuromod.retina.base import counts_to_spikes

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rec_and_samples(toy_recording):
    rec = toy_recording
    B = rec.n_bins(0.001, "test")
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.03, (rec.n_test_trials, B, rec.n_units))
    return rec, {"poisson": counts_to_spikes(counts, 0.001),
                 "as counts": rng.poisson(0.01, (rec.n_test_trials, B, rec.n_units))}


class WithFilters:
    def __init__(self, spatial, temporal, lag_dt=None):
        self.f = {"spatial": spatial, "temporal": temporal}
        if lag_dt:
            self.f["lag_dt"] = lag_dt

    def filters(self):
        return self.f


def png(path):
    return path.read_bytes()[:8] == PNG


def test_rasters_and_psth(tmp_path, rec_and_samples):
    rec, samples = rec_and_samples
    plots.fig_rasters(rec, samples, 1, str(tmp_path / "r.png"), bin_size=0.001,
                      t_range=(0.2, 0.8), max_trials=3)
    plots.fig_psth(rec, samples, 2, str(tmp_path / "p.png"), psth_bin=0.02, bin_size=0.001)
    plots.fig_rasters(rec, {}, 0, str(tmp_path / "data_only.png"))
    assert png(tmp_path / "r.png") and png(tmp_path / "p.png") and png(tmp_path / "data_only.png")
    with pytest.raises(ValueError, match="bin_size"):
        plots.fig_psth(rec, {"c": np.zeros((10, 3000, 3))}, 0, str(tmp_path / "x.png"))


def test_filters(tmp_path):
    rng = np.random.default_rng(0)
    models = {"ln": WithFilters(rng.normal(size=(8, 8)), rng.normal(size=30), 0.01),
              "glm": WithFilters(rng.normal(size=12), rng.normal(size=20)),
              "per-unit": WithFilters(rng.normal(size=(3, 5, 5)), rng.normal(size=(3, 10))),
              "cnn": object()}
    plots.fig_filters(models, str(tmp_path / "f.png"), unit=1)
    plots.fig_filters({"cnn": object()}, str(tmp_path / "none.png"))
    assert png(tmp_path / "f.png") and png(tmp_path / "none.png")


def test_summary(tmp_path):
    rows = [{"model": "ln", "data": "d", "psth_corr": 0.8, "fev": 0.7, "bits_per_spike": 1.2,
             "van_rossum": 5.0, "fano_model": 0.9, "short_isi_frac_model": 0.05},
            {"model": "tecos", "data": "d", "psth_corr": 0.85, "fev": None,
             "bits_per_spike": -0.1, "van_rossum": 4.0, "fano_model": 0.6,
             "short_isi_frac_model": 0.0},
            {"model": "data", "data": "d", "psth_corr": 0.9, "van_rossum": 3.9,
             "fano_model": 0.55, "short_isi_frac_model": 0.0}]
    plots.fig_summary(rows, str(tmp_path / "s.png"))
    assert png(tmp_path / "s.png")
