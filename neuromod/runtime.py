"""The process's runtime resources, owned in one place: cache folders, generated code,
thread counts, numba's cache directory.

* :func:`cache_folder` -- ``$NEUROMOD_CACHE/<name>`` (default ``~/.cache/neuromod``),
  where neuromod keeps JSON/npz caches and generated source (never pickles).
* :func:`generated_module` -- compile generated Python source (the fused numba
  kernels) into a module, once per process; the source is kept on disk under the
  hash of its text for tracebacks, and a file is only ever *compared* with the
  source generated now, never executed.
* :func:`numba_cache` -- whether generated kernels may use numba's own on-disk cache
  (pickles: only for a folder that only the current user can write).
* :func:`threads` -- a context manager that sets Torch's and numba's thread counts
  and restores them, instead of changing them for the whole process.
* :func:`ensure_cache_dir` -- a writable cache directory for numba's compiled kernels,
  chosen before numba needs it.

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

This module imports neither torch nor numba (each is imported when used).

Examples
--------
>>> import os
>>> from neuromod.runtime import user_cache_dir
>>> os.path.basename(user_cache_dir()) in ("numba", "Cache")
True
>>> m = generated_module("def twice(x):\\n    return 2 * x\\n")
>>> m.twice(21)
42
"""
import contextlib
import functools
import os
import stat
import sys
import tempfile
import types

__all__ = ["cache_folder", "write_cache_file", "generated_module", "numba_cache", "threads",
           "ensure_cache_dir",
           "user_cache_dir", "ENV_VAR"]

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


def user_cache_dir() -> str:
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


def ensure_cache_dir(module_file: str) -> "str | None":
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
    >>> import os, neuromod.runtime as nc
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


# ----------------------------------------------------------------------------- caches
def cache_folder(name: str) -> "str | None":
    """``$NEUROMOD_CACHE/<name>`` (default ``~/.cache/neuromod/<name>``), created if
    needed; ``None`` when it cannot be created (callers then work uncached)."""
    base = os.environ.get("NEUROMOD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                            "neuromod")
    folder = os.path.join(base, name)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return folder


def numba_cache() -> str:
    """``'True'`` or ``'False'``: whether generated kernels use numba's on-disk cache.

    Numba stores its cache as pickles (``__pycache__/*.nbi``, ``*.nbc`` next to the
    source), and loading a planted one would run code, so it is off by default and
    each process compiles the generated kernels again (a few seconds for the
    training kernels). ``NEUROMOD_NUMBA_CACHE=1`` turns it on for a cache folder
    that only the current user can write (owned by them, no group or other write
    permission on it or ``$NEUROMOD_CACHE``); for any other folder it stays off.
    Read at each call (no state is kept).
    """
    if os.environ.get("NEUROMOD_NUMBA_CACHE", "0") != "1" or not hasattr(os, "getuid"):
        return "False"
    folder = cache_folder("fused")
    if folder is None:
        return "False"
    for path in (os.path.dirname(folder), folder):
        st = os.stat(path)
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return "False"
    return "True"


def _keep_source(src, key):
    """Path of a file holding exactly ``src`` (checked, rewritten when it differs),
    ``'<neuromod generated kernel>'`` when no cache folder is writable."""
    folder = cache_folder("fused")
    if folder is None:
        return "<neuromod generated kernel>"
    path = os.path.join(folder, f"k_{key}.py")
    data = src.encode()
    try:
        with open(path, "rb") as fh:
            if fh.read(len(data) + 1) == data:
                return path
    except OSError:
        pass
    try:
        write_cache_file(path, data)
    except OSError:
        return "<neuromod generated kernel>"
    return path


def write_cache_file(path: str, data: bytes) -> None:
    """Write the bytes ``data`` to the cache file ``path`` atomically (a temporary file
    in its folder, then ``os.replace``): a reader never sees half a cache entry, and a
    failure leaves nothing behind. OSErrors propagate (callers then run uncached)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@functools.lru_cache(maxsize=None)
def generated_module(src: str) -> types.ModuleType:
    """Compile generated Python source into a module (once per process per source).

    The source is kept in ``$NEUROMOD_CACHE/fused`` (default
    ``~/.cache/neuromod/fused``) as ``k_<hash>.py``, the file name holding a SHA-256
    of the text, for tracebacks and inspection. A file is only ever *compared* with
    the source given: one whose content does not match (corrupt, foreign, planted) is
    rewritten, and what runs is always ``src`` itself, never the file's content. The
    module is registered in ``sys.modules`` under ``neuromod_generated_<hash>``
    because numba resolves a kernel's globals through its module.
    """
    import hashlib
    key = hashlib.sha256(src.encode()).hexdigest()[:24]
    path = _keep_source(src, key)
    name = f"neuromod_generated_{key}"
    mod = types.ModuleType(name)
    mod.__file__ = path
    code = compile(src, path, "exec")
    sys.modules[name] = mod
    exec(code, mod.__dict__)     # noqa: S102 -- the source given, not the file
    return mod


# ----------------------------------------------------------------------------- threads
@contextlib.contextmanager
def threads(torch: "int | None" = None, numba: "int | None" = None):
    """Run a block with Torch's and/or numba's thread count set, restored afterwards.

    Parameters
    ----------
    torch, numba : int, optional
        Threads for that library inside the block (None: leave it alone). numba's
        count is capped at its ``NUMBA_NUM_THREADS``.

    Examples
    --------
    >>> import torch as _torch
    >>> before = _torch.get_num_threads()
    >>> with threads(torch=1):
    ...     _torch.get_num_threads()
    1
    >>> _torch.get_num_threads() == before
    True
    """
    restore = []
    try:
        if torch is not None:
            import torch as _torch
            restore.append((_torch.set_num_threads, _torch.get_num_threads()))
            _torch.set_num_threads(int(torch))
        if numba is not None:
            import numba as _numba
            restore.append((_numba.set_num_threads, _numba.get_num_threads()))
            _numba.set_num_threads(max(1, min(int(numba), _numba.config.NUMBA_NUM_THREADS)))
        yield
    finally:
        for setter, value in reversed(restore):
            setter(value)
