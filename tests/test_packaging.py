"""The package layout as installed: every package directory is listed in setup.cfg,
the light top-level import stays light, and the console script is installed."""
import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _listed_packages():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return {p.strip() for p in cfg["options"]["packages"].split() if p.strip()}


def _package_dirs():
    found = set()
    for init in (ROOT / "neuromod").rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        found.add(".".join(rel.parts))
    found.add("neuromod.data")
    found.add("neuromod.validation")
    return found


def test_every_package_directory_is_listed_in_setup_cfg():
    assert _package_dirs() <= _listed_packages(), _package_dirs() - _listed_packages()


def test_mapped_packages_import():
    import neuromod.data
    import neuromod.validation
    assert Path(neuromod.data.__file__).parent == ROOT / "data"
    assert Path(neuromod.validation.__file__).parent == ROOT / "validation"


def test_top_level_import_does_not_pull_heavy_libraries():
    code = ("import sys, neuromod, neuromod.cli, neuromod.spikes, neuromod.io, neuromod.stats; "
            "bad = [m for m in ('torch', 'brian2', 'elephant', 'neo', 'matplotlib') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("neuromod")
    assert exe.exists()
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "stats" in out.stdout
