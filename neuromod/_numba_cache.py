"""A writable cache directory for numba's compiled kernels, chosen before numba needs it.

Kernels compiled with ``@njit(cache=True)`` need a cache locator when they are
*decorated* (at import), or numba raises ``RuntimeError: cannot cache function
...: no locator available``. Numba (``numba.core.caching.CacheImpl``) tries, in
order: ``NUMBA_CACHE_DIR``; the ``__pycache__`` directory beside the module's
source; the user-wide cache directory (``$XDG_CACHE_HOME/numba`` or
``~/.cache/numba`` on Linux). Each must exist or be creatable and accept a
temporary file. A package installed read-only (system site-packages) used by an
account whose home directory is not writable (a service account, a read-only
container) has none of them.

:func:`ensure_cache_dir` runs the same tests and, when all fail, sets
``NUMBA_CACHE_DIR`` to a private directory under the system's temporary directory
(``neuromod-numba-cache-<uid>``, created with mode 0700, or a fresh ``mkdtemp``
when that name is taken by someone else) and prints ONE warning line on stderr.
The environment variable is the only state: later calls (and child processes)
find it set and writable and say nothing. Every neuromod module that compiles
cached kernels calls it before importing numba.

Examples
--------
>>> import os
>>> from neuromod._numba_cache import user_cache_dir
>>> os.path.basename(user_cache_dir()) in ("numba", "Cache")
True
"""
import os
import stat
import sys
import tempfile

__all__ = ["ensure_cache_dir", "user_cache_dir", "ENV_VAR"]

#: The variable numba reads for a user-provided cache directory.
ENV_VAR = "NUMBA_CACHE_DIR"


def _writable_dir(path):
    """Numba's test (``_CacheLocator.ensure_cache_path``): the directory exists or can
    be made, and a temporary file can be created in it."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return True
    except (OSError, ValueError):
        return False


def user_cache_dir():
    """Numba's user-wide cache directory (``appdirs.user_cache_dir("numba")``)."""
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/numba")
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "numba", "Cache")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "numba")


def _private_temp_dir():
    """``<tmp>/neuromod-numba-cache-<uid>`` if it is (or can be made) a directory of
    ours that nobody else can write (numba's index files are pickles, so a directory
    others can write is never used); else a fresh ``mkdtemp``; None if neither."""
    try:
        base = tempfile.gettempdir()
    except (OSError, FileNotFoundError):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else None
    path = os.path.join(base, f"neuromod-numba-cache-{uid if uid is not None else 'user'}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
        ours = (stat.S_ISDIR(st.st_mode) and (uid is None or st.st_uid == uid)
                and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
        if ours and _writable_dir(path):
            return path
    except OSError:
        pass
    try:
        return tempfile.mkdtemp(prefix="neuromod-numba-cache-")
    except OSError:
        return None


def ensure_cache_dir(module_file):
    """Make sure numba can cache the kernels of the module at ``module_file``.

    Call before ``import numba`` (numba reads ``NUMBA_CACHE_DIR`` when it is
    imported; if it already is, its configuration is reloaded).

    Parameters
    ----------
    module_file : str
        ``__file__`` of the module whose kernels use ``cache=True``.

    Returns
    -------
    str or None
        The fallback directory when one had to be chosen (or the user's writable
        ``NUMBA_CACHE_DIR``), None when numba's own locations work.

    Examples
    --------
    >>> import os, neuromod._numba_cache as nc
    >>> where = nc.ensure_cache_dir(nc.__file__)
    >>> where is None or os.path.isdir(where)
    True
    """
    given = os.environ.get(ENV_VAR, "")
    if given and _writable_dir(given):
        return given
    in_tree = os.path.join(os.path.dirname(os.path.abspath(module_file)), "__pycache__")
    if _writable_dir(in_tree):
        return None
    user = user_cache_dir()
    if _writable_dir(user):
        return None
    path = _private_temp_dir()
    places = f"{in_tree} and {user}" + (f" and NUMBA_CACHE_DIR={given}" if given else "")
    if path is None:
        sys.stderr.write(f"neuromod: warning: numba cannot cache compiled kernels ({places} "
                         "and the temporary directory are not writable); set NUMBA_CACHE_DIR "
                         "to a writable directory\n")
        return None
    os.environ[ENV_VAR] = path
    config = sys.modules.get("numba.core.config")
    if config is not None:
        config.reload_config()
    sys.stderr.write(f"neuromod: warning: {places} are not writable; numba caches compiled "
                     f"kernels in {path} (set NUMBA_CACHE_DIR to choose)\n")
    return path
