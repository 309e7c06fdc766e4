"""Fixtures for the neuromod.io tests."""
import pytest


@pytest.fixture(params=["python", "compiled"])
def scanner(request, monkeypatch):
    """Run a test once through each text/CSV scanner: the pure-Python one used for
    small files and the compiled one used for large files. A test parametrised
    indirectly with ``None`` (a case of a format without scanners) changes nothing."""
    from neuromod.io import _pyparse
    if request.param is not None:
        monkeypatch.setattr(_pyparse, "SMALL_FILE_BYTES",
                            1 << 62 if request.param == "python" else 0)
    return request.param
