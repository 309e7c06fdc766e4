"""The built wheel carries the embedded data and the validation claims (mapped from the
top-level data/ and validation/ folders), and `neuromod demo` runs from it."""
import json
import subprocess
import sys
import zipfile

import pytest

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "-w", str(out), str(ROOT)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("neuromod-*.whl")
    site = out / "site"
    with zipfile.ZipFile(whl) as z:
        z.extractall(site)
    return site


def test_wheel_contains_data_and_validation(unpacked_wheel):
    assert (unpacked_wheel / "neuromod" / "data" / "spikes" / "demo_trains.txt").is_file()
    assert (unpacked_wheel / "neuromod" / "validation" / "__init__.py").is_file()
    assert (unpacked_wheel / "neuromod" / "data" / "speech" / "demo.wav").is_file()


def test_demo_runs_from_the_wheel(unpacked_wheel, tmp_path):
    # numba caches by source path, so the unpacked copy would compile every kernel again;
    # this test is about packaging, so run the kernels as plain Python
    env = {"PYTHONPATH": str(unpacked_wheel), "PATH": "/usr/bin:/bin", "NUMBA_DISABLE_JIT": "1"}
    code = ("import neuromod, sys; from neuromod.cli import main; "
            "assert neuromod.__file__.startswith(sys.argv[1]), neuromod.__file__; "
            "sys.exit(main(['demo', '--parts', 'stats', '--json', '--out', sys.argv[2]]))")
    r = subprocess.run([sys.executable, "-c", code, str(unpacked_wheel), str(tmp_path / "o")],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    assert str(unpacked_wheel) in figures["stats"]["input"]
