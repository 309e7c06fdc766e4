"""Output paths: checked before any work, all-or-nothing, non-regular files never replaced,
errors naming the target (neuromod.outputs and every command that writes)."""
import errno
import os
import socket
import subprocess
import sys

import pytest

from neuromod.errors import OutputError
from neuromod.outputs import PLOT_EXTENSIONS, Outputs, atomic_write, check_output

def text_writer(s):
    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(s)
    return write


def listing(d):
    return sorted(os.listdir(d))


# --------------------------------------------------------------------- the module
def test_plot_extensions_are_formats_matplotlib_saves():
    import matplotlib
    matplotlib.use("Agg", force=False)
    from matplotlib.backend_bases import FigureCanvasBase
    supported = {"." + k for k in FigureCanvasBase.get_supported_filetypes()}
    assert set(PLOT_EXTENSIONS) <= supported


def test_outputs_commit_together_and_failures_leave_nothing(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    b.write_text("old")
    with pytest.raises(RuntimeError):
        with Outputs() as out:
            ha, hb = out.add(a), out.add(b)
            out.write(ha, text_writer("new a"))
            out.write(hb, text_writer("new b"))
            raise RuntimeError("failure after both were written")
    assert listing(tmp_path) == ["b.txt"] and b.read_text() == "old"
    with Outputs() as out:
        ha, hb = out.add(a), out.add(b)
        out.write(ha, text_writer("new a"))
        assert not a.exists()             # nothing is renamed before the block ends
        out.write(hb, text_writer("new b"))
    assert listing(tmp_path) == ["a.txt", "b.txt"]
    assert a.read_text() == "new a" and b.read_text() == "new b"


def test_a_failing_writer_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "x.txt"

    def bad(tmp):
        open(tmp, "w").write("partial")
        raise ValueError("writer bug")
    with pytest.raises(ValueError):
        atomic_write(target, bad)
    assert listing(tmp_path) == []


def test_same_file_twice_is_refused(tmp_path):
    out = Outputs()
    out.add(tmp_path / "x.png", "--out")
    os.symlink(tmp_path / "x.png", tmp_path / "link.png")
    with pytest.raises(OutputError, match="the same file as"):
        out.add(tmp_path / "link.png", "--plot")


def test_symlink_target_replaced_link_kept(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    os.symlink(real, link)
    atomic_write(link, text_writer("new"))
    assert os.path.islink(link) and real.read_text() == "new"
    dangling = tmp_path / "dangling.txt"
    os.symlink(tmp_path / "made.txt", dangling)
    atomic_write(dangling, text_writer("made"))
    assert os.path.islink(dangling) and (tmp_path / "made.txt").read_text() == "made"


def test_character_device_written_directly_without_temporary_file():
    before = set(os.listdir("/dev"))
    atomic_write("/dev/null", text_writer("discarded"))
    assert os.path.exists("/dev/null") and os.path.isfile("/dev/null") is False
    assert set(os.listdir("/dev")) - before == set()
    with pytest.raises(OutputError, match=r"^/dev/full: cannot write: No space left on device$"):
        atomic_write("/dev/full", text_writer("x" * 10000))
    assert not os.path.isfile("/dev/full")


def test_fifo_socket_directory_refused(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="is a FIFO"):
        check_output(fifo, "--plot", PLOT_EXTENSIONS)
    sock_path = tmp_path / "s.png"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(sock_path))
        with pytest.raises(OutputError, match="is a socket"):
            atomic_write(sock_path, text_writer("x"))
    finally:
        sock.close()
    with pytest.raises(OutputError, match="is a directory"):
        check_output(tmp_path)
    with pytest.raises(OutputError, match="does not exist"):
        check_output(tmp_path / "missing" / "x.png")
    with pytest.raises(OutputError, match="unknown format"):
        check_output(tmp_path / "x.txt", "--plot", PLOT_EXTENSIONS)
    with pytest.raises(OutputError, match="empty file name"):
        check_output("", "--out")
    assert os.path.exists(fifo) and not os.path.isfile(fifo)


@pytest.mark.parametrize("ext", [".npz", ".txt"])
def test_write_error_names_the_target_not_the_temporary_file(ext, tmp_path):
    """A file-size limit makes every write fail with EFBIG (as a full disk does with
    ENOSPC); the one-line message names the target, and nothing is left behind.
    (HDF5 files are tested on a real full file system below: under a file-size limit
    libhdf5 itself crashes when it shuts down, after neuromod's one-line error.)"""
    target = tmp_path / f"big{ext}"
    code = f"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
from neuromod.cli import main
sys.exit(main(["simulate", "lif", "--n", "200", "--duration", "0.5", "--out", {str(target)!r}]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"neuromod simulate: error: {target}: "
                                                   "cannot write: "), proc.stderr
    assert lines[0].endswith("File too large")
    assert listing(tmp_path) == []


@pytest.fixture
def small_filesystems(tmp_path):
    """A 256 KiB file system and a read-only one (tmpfs; needs root, as the suite has)."""
    full, ro = tmp_path / "full", tmp_path / "ro"
    full.mkdir()
    ro.mkdir()
    mounted = []
    for d, opts in ((full, "size=256k"), (ro, "ro,size=64k")):
        rc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)],
                            capture_output=True).returncode
        if rc != 0:
            for m in mounted:
                subprocess.run(["umount", str(m)])
            pytest.skip("cannot mount a tmpfs here (not root); the file-size-limit test "
                        "covers the same messages")
        mounted.append(d)
    yield full, ro
    for m in mounted:
        subprocess.run(["umount", str(m)], check=True)


@pytest.mark.parametrize("ext", [".nix", ".nwb", ".npz"])
def test_full_disk_is_one_line_naming_the_file(ext, small_filesystems):
    """A fresh process: a failed HDF5 write must not leave libhdf5 in a state that
    crashes the interpreter at exit (exit status 2, not a segfault)."""
    full, ro = small_filesystems
    target = full / f"s{ext}"
    proc = subprocess.run([sys.executable, "-m", "neuromod", "simulate", "lif", "--n", "500",
                           "--duration", "1", "--out", str(target)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (f"neuromod simulate: error: {target}: cannot write: "
                                   "No space left on device")
    assert listing(full) == []


def test_read_only_file_system_refused_before_work(small_filesystems, cli):
    full, ro = small_filesystems
    rc, out, err = cli(["stats", str(full / "missing-input.txt"), "--plot",
                        str(ro / "fig.png")])
    assert rc == 2
    assert err.strip() == (f"neuromod stats: error: --plot {ro / 'fig.png'}: directory {ro} "
                           "is on a read-only file system")


# --------------------------------------------------------------------- every command
@pytest.fixture
def files(tone_wav, trains_file):
    return {"wav": tone_wav, "trains": trains_file}


BAD_OUTPUTS = {
    "missing directory": lambda d, ext: (str(d / "nodir" / f"x{ext}"), "does not exist"),
    "a directory": lambda d, ext: (str(d), "is a directory"),
    "a FIFO": lambda d, ext: (_fifo(d, f"pipe{ext}"), "is a FIFO"),
}


def _fifo(d, name):
    path = d / name
    if not path.exists():
        os.mkfifo(path)
    return str(path)


#: command -> (argv before the output option, option, extension, what the command reads)
COMMANDS = {
    "stats --plot": (lambda f: ["stats", "{missing_input}"], "--plot", ".png"),
    "simulate --out": (lambda f: ["simulate", "lif", "--n", "2", "--duration", "0.05"], "--out", ".txt"),
    "simulate --plot": (lambda f: ["simulate", "lif", "--n", "2", "--duration", "0.05"], "--plot", ".png"),
    "encode --out": (lambda f: ["encode", "{missing_input}"], "--out", ".npz"),
    "encode --plot": (lambda f: ["encode", "{missing_input}"], "--plot", ".png"),
    "decode --out": (lambda f: ["decode", "{missing_input}"], "--out", ".wav"),
}


@pytest.mark.parametrize("bad", list(BAD_OUTPUTS))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_output_refused_before_any_work(command, bad, files, tmp_path, cli):
    """The output check comes first: the input named here does not even exist, and the
    error is still about the output; one line, exit 2, nothing written."""
    head, option, ext = COMMANDS[command]
    path, expected = BAD_OUTPUTS[bad](tmp_path, ext)
    argv = [a.replace("{missing_input}", str(tmp_path / "no-such-input")) for a in head(files)]
    before = listing(tmp_path)
    rc, out, err = cli(argv + [option, path])
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and expected in err and option in err, err
    assert "no-such-input" not in err
    assert listing(tmp_path) == before


def test_unknown_plot_format_refused_before_encoding(files, tmp_path, cli):
    """The issue's case: `encode ok.wav --out e.npz --plot e.txt` wrote e.npz, then failed."""
    rc, out, err = cli(["encode", files["wav"], "--out", str(tmp_path / "e.npz"),
                        "--plot", str(tmp_path / "e.txt")])
    assert rc == 2 and "unknown format" in err and len(err.strip().splitlines()) == 1
    assert listing(tmp_path) == []


def test_failure_after_the_first_output_leaves_none(files, tmp_path, monkeypatch, cli):
    """simulate writes --out, then the figure fails: neither file exists afterwards."""
    import neuromod.backends.plots as plots

    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(plots, "simulation_figure", broken)
    rc, out, err = cli(["simulate", "lif", "--n", "2", "--duration", "0.05",
                        "--out", str(tmp_path / "s.txt"), "--plot", str(tmp_path / "p.png")])
    assert rc == 2 and err.strip() == (f"neuromod simulate: error: {tmp_path / 'p.png'}: "
                                       "cannot write: No space left on device")
    assert listing(tmp_path) == []


def test_outputs_to_dev_null_and_through_symlinks(files, tmp_path, cli):
    real = tmp_path / "real.png"
    real.write_bytes(b"old")
    os.symlink(real, tmp_path / "fig.png")
    rc, out, err = cli(["stats", files["trains"], "--plot", str(tmp_path / "fig.png")])
    assert rc == 0, err
    assert os.path.islink(tmp_path / "fig.png") and real.read_bytes()[:4] == b"\x89PNG"
    rc, out, err = cli(["stats", files["trains"], "--plot", "/dev/null"])
    assert rc == 0, err
    assert not os.path.isfile("/dev/null")
    rc, out, err = cli(["encode", files["wav"], "--rate", "500", "--channels", "8",
                        "--out", "/dev/null", "--plot", "/dev/null"])
    assert rc == 0, err
    assert listing(tmp_path) == ["fig.png", "real.png"]


def test_demo_commits_its_files_together(tmp_path, monkeypatch, cli):
    """A demo part that fails after others wrote their files leaves no file at all."""
    import neuromod.auditory.demo as audio_demo

    def broken(outdir, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.path.join(outdir, "x.wav"))
    monkeypatch.setattr(audio_demo, "run", broken)
    out_dir = tmp_path / "demo"
    rc, out, err = cli(["demo", "--out", str(out_dir), "--parts", "stats,auditory"])
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert listing(out_dir) == []
