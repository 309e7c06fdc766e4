"""The public surface of neuromod.io: format choice, error wording, light import."""
import subprocess
import sys

import numpy as np
import pytest

import neuromod.io as nio
from neuromod.errors import FileFormatError
from neuromod.spikes import SpikeTrains


def test_formats_table():
    assert nio.FORMATS == {"txt": (".txt",), "csv": (".csv",), "npz": (".npz",),
                           "nix": (".nix",), "nwb": (".nwb",)}
    assert set(nio.__all__) >= {"read", "write", "read_npz", "FORMATS", "format_from_path"}


@pytest.mark.parametrize("path, fmt, want", [
    ("a/b/spikes.txt", None, "txt"), ("S.CSV", None, "csv"), ("x.npz", None, "npz"),
    ("r.nix", None, "nix"), ("r.nwb", None, "nwb"),
    ("spikes.dat", "csv", "csv"), ("spikes.dat", ".TXT", "txt"), ("spikes", "text", "txt"),
    ("spikes.csv", "npz", "npz"),          # explicit format wins over the extension
])
def test_format_from_path(path, fmt, want):
    assert nio.format_from_path(path, fmt) == want


def test_unknown_extension_suggests_format_option():
    with pytest.raises(FileFormatError) as info:
        nio.format_from_path("data/spikes.dat")
    msg = str(info.value)
    assert msg.startswith("data/spikes.dat: ")
    assert "--format" in msg and "format=" in msg and "txt, csv, npz, nix, nwb" in msg
    with pytest.raises(FileFormatError, match="no extension"):
        nio.read("spikes")
    with pytest.raises(FileFormatError, match="unknown spike-file format 'mat'"):
        nio.format_from_path("x.txt", "mat")


def test_explicit_format_reads_any_name(tmp_path):
    path = tmp_path / "cells.dat"
    path.write_text("id,time\n0,0.5\n")
    assert nio.read(path, format="csv").times.tolist() == [0.5]
    nio.write(SpikeTrains.from_list([[0.25]], t_stop=1.0), tmp_path / "out.dat", format="txt")
    assert nio.read(tmp_path / "out.dat", format="txt").times.tolist() == [0.25]


def test_write_accepts_lists_of_arrays(tmp_path):
    path = tmp_path / "l.txt"
    nio.write([np.array([0.1, 0.2]), np.array([0.3])], path)
    assert nio.read(path).counts.tolist() == [2, 1]


def test_write_into_missing_directory_names_it(tmp_path):
    from neuromod.errors import OutputError
    with pytest.raises(OutputError) as info:
        nio.write(SpikeTrains.from_list([[0.1]], t_stop=1.0), tmp_path / "nope" / "s.txt")
    assert str(info.value) == f"{tmp_path / 'nope' / 's.txt'}: directory {tmp_path / 'nope'} does not exist"


def test_import_stays_light():
    code = ("import sys, neuromod.io; "
            "bad = [m for m in ('numba', 'neo', 'h5py', 'nixio', 'pynwb', 'torch', 'brian2', "
            "'elephant', 'matplotlib', 'quantities') if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_format_has_a_reader_and_a_writer():
    for fmt in nio.FORMATS:
        assert callable(nio._function(fmt, "read")) and callable(nio._function(fmt, "write"))
