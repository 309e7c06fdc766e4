"""Output files: checked before any work, written all-or-nothing, never a non-regular file replaced.

Every file neuromod writes goes through this module, so the same rules hold for
every command and every writer (spike files, WAV, figures, JSON, saved models):

* **Checked first.** :func:`check_output` is called for each output path before
  any computation: the directory must exist and be writable, the extension must
  name a format the writer knows, and the path must not be a directory.
* **What may be replaced.** A regular file is replaced (atomically); a symbolic
  link is followed and its *target* replaced, the link kept; a character device
  (``/dev/null``, a terminal) is written directly, with no temporary file beside
  it; a FIFO, socket, block device or anything else that is not a regular file
  is refused with a one-line :class:`~neuromod.errors.OutputError`.
* **All or nothing.** :class:`Outputs` stages a command's files: each is written to
  a hidden temporary file in its target's directory (``.NAME.XXXX.tmp.EXT``); only
  when all are complete are they renamed onto their targets (devices are written
  at that point too). An error or a signal before that removes every temporary
  file and leaves existing targets untouched.
* **Messages name the target.** An error while writing names the file the user
  asked for, never the hidden temporary file, in one line (a full disk included).

:func:`atomic_write` is the single-file form used by the library writers
(:func:`neuromod.io.write`, figures, WAV files, :mod:`neuromod.backends.serialize`).

For tests, the environment variable ``NEUROMOD_TEST_PAUSE=write`` makes a write
pause (up to 60 s, ``neuromod: paused at write`` on stderr) after its temporary file
is complete and before anything is renamed, so that a signal can be delivered at a
known phase (``tests/reliability/test_signals.py``).

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> a, b = os.path.join(d, "a.txt"), os.path.join(d, "b.txt")
>>> def text(s):
...     return lambda tmp: open(tmp, "w").write(s)
>>> with Outputs() as out:
...     first = out.add(a, "--out", extensions=(".txt",))
...     second = out.add(b, "--plot", extensions=(".txt",))
...     out.write(first, text("first"))
...     out.write(second, text("second"))
>>> sorted(os.listdir(d))
['a.txt', 'b.txt']
>>> try:
...     with Outputs() as out:
...         c = out.add(os.path.join(d, "c.txt"))
...         out.write(c, text("never committed"))
...         raise RuntimeError("the computation failed")
... except RuntimeError:
...     pass
>>> sorted(os.listdir(d))
['a.txt', 'b.txt']
"""
import errno
import os
import shutil
import stat
import sys
import tempfile
import time

from neuromod.errors import NeuromodError, OutputError

__all__ = ["Outputs", "Output", "check_output", "atomic_write", "PLOT_EXTENSIONS", "pause_point"]

#: Image formats the figures can be saved as (matplotlib's Agg, PDF, SVG and PS
#: back ends; tests/reliability/test_outputs.py checks them against matplotlib).
PLOT_EXTENSIONS = (".png", ".pdf", ".svg", ".svgz", ".eps", ".ps", ".jpg", ".jpeg",
                   ".tif", ".tiff", ".webp", ".pgf", ".raw", ".rgba")

#: errno values that mean "this file cannot be written" rather than a bug.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                 errno.EPERM, errno.EIO, errno.ENOENT, errno.ENOTDIR, errno.EISDIR,
                 errno.ENAMETOOLONG, errno.EEXIST}
_WRITE_TEXTS = (("No space left on device", errno.ENOSPC), ("File too large", errno.EFBIG),
                ("Read-only file system", errno.EROFS), ("errno = 28", errno.ENOSPC),
                ("errno = 27", errno.EFBIG), ("Disk quota exceeded", errno.EDQUOT))


def pause_point(phase: str) -> None:
    """Pause here if ``NEUROMOD_TEST_PAUSE`` names ``phase`` (test hook; see module doc)."""
    if os.environ.get("NEUROMOD_TEST_PAUSE") == phase:
        sys.stderr.write(f"neuromod: paused at {phase}\n")
        sys.stderr.flush()
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            time.sleep(0.05)


#: (test of st_mode, what the file is), first match wins.
_KINDS = ((stat.S_ISREG, "file"), (stat.S_ISCHR, "device"), (stat.S_ISDIR, "a directory"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISBLK, "a block device"))


def _kind(mode):
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


class Output:
    """One checked output (made by :func:`check_output`): ``path`` as the user named it,
    ``real`` the file written (symbolic links followed), ``kind`` ``"file"`` or
    ``"device"``, ``suffix`` the extension of its temporary file."""

    def __init__(self, path, real, kind, suffix):
        self.path, self.real, self.kind, self.suffix = path, real, kind, suffix
        self.tmp = None
        self.tmpdir = None

    def make_temp(self):
        """A fresh temporary file for this target (removed by :meth:`discard`)."""
        self.discard()
        if self.kind == "device":
            self.tmpdir = tempfile.mkdtemp(prefix="neuromod-out-")
            self.tmp = os.path.join(self.tmpdir, "output" + self.suffix)
            return self.tmp
        directory = os.path.dirname(self.real)
        try:
            fd, self.tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(self.real)
                                            + ".", suffix=".tmp" + self.suffix)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        os.close(fd)
        return self.tmp

    def discard(self):
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        elif self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass
        self.tmp = self.tmpdir = None

    def commit(self):
        """Move the complete temporary file onto the target (devices: copy its bytes)."""
        if self.tmp is None:
            return
        try:
            if self.kind == "device":
                with open(self.tmp, "rb") as src, open(self.real, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                self.discard()
                return
            os.chmod(self.tmp, 0o666 & ~_umask())
            os.replace(self.tmp, self.real)
        except OSError as exc:
            self.discard()
            raise OutputError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        self.tmp = None


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output(path, what: str = "output", extensions: "tuple | None" = None,
                 default_suffix: str = "") -> "Output":
    """Check that ``path`` can be written, before any work is done.

    Parameters
    ----------
    path : str or path-like
        The output the user named.
    what : str
        How the user named it, for messages (``"--plot"``).
    extensions : sequence of str, optional
        Allowed extensions, lower case with the dot (``(".png", ".pdf")``); None
        accepts any. Character devices need no extension.
    default_suffix : str
        Extension given to the temporary file of a character device (whose name has
        none), so that writers that choose the format from the name still work.

    Returns
    -------
    Output
        The checked target (used by :class:`Outputs`).

    Raises
    ------
    OutputError
        Empty path, a directory, a FIFO/socket/block device, a missing or read-only
        directory, or an extension outside ``extensions`` -- one line naming the path.

    Examples
    --------
    >>> import tempfile, os
    >>> t = check_output(os.path.join(tempfile.mkdtemp(), "fig.png"), "--plot", PLOT_EXTENSIONS)
    >>> t.kind
    'file'
    >>> check_output("/dev/null").kind
    'device'
    >>> check_output("/no/such/dir/fig.png", "--plot")
    Traceback (most recent call last):
    ...
    neuromod.errors.OutputError: --plot /no/such/dir/fig.png: directory /no/such/dir does not exist
    """
    text = os.fspath(path) if path is not None else ""
    if not str(text).strip():
        raise OutputError(f"{what}: empty file name")
    text = str(text)
    real = os.path.realpath(text)
    label = f"{what} {text}" if what != "output" else text
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{label}: {exc.strerror or exc}") from None
    ext = os.path.splitext(text)[1].lower()
    if st is not None:
        kind = _kind(st.st_mode)
        if kind == "a directory":
            raise OutputError(f"{label}: is a directory; give a file name")
        if kind not in ("file", "device"):
            raise OutputError(f"{label}: is {kind}; neuromod writes only regular files and "
                              "character devices (e.g. /dev/null)")
        if kind == "device":
            return Output(text, real, kind, ext if ext else default_suffix)
    else:
        kind = "file"
    if extensions is not None and ext not in extensions:
        shown = f"extension {ext!r}" if ext else "no extension"
        raise OutputError(f"{label}: unknown format ({shown}); use one of "
                          f"{', '.join(extensions)}")
    directory = os.path.dirname(real) or "."
    if not os.path.isdir(directory):
        raise OutputError(f"{label}: directory {os.path.dirname(text) or directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        reason = "is on a read-only file system" if _read_only(directory) else "is not writable"
        raise OutputError(f"{label}: directory {directory} {reason}")
    if st is not None and not os.access(real, os.W_OK):
        raise OutputError(f"{label}: file is not writable")
    return Output(text, real, kind, ext)


def _read_only(directory):
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _write_failure(exc):
    """The errno of an exception (or one in its chain) that means 'cannot write'."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
            return exc.errno
        text = str(exc)
        for needle, code in _WRITE_TEXTS:
            if needle in text:
                return code
        exc = exc.__cause__ or exc.__context__
    return None


def _run_writer(target, write):
    """``write(tmp)`` with errors that name the target, never the temporary file."""
    try:
        write(target.tmp)
    except NeuromodError as exc:
        text = str(exc).replace(target.tmp, target.path)
        if target.tmpdir:
            text = text.replace(target.tmpdir, os.path.dirname(target.path) or ".")
        if text == str(exc):
            raise
        raise type(exc)(text) from None
    except Exception as exc:
        code = _write_failure(exc)
        if code is not None:
            reason = os.strerror(code)
        elif isinstance(exc, OSError):      # e.g. HDF5's "File write failed", no errno
            reason = " ".join(str(exc.strerror or exc).split()) or type(exc).__name__
            reason = reason.replace(target.tmp, target.path)
        else:
            raise
        raise OutputError(f"{target.path}: cannot write: {reason}") from None


class Outputs:
    """The outputs of one command, committed together (see the module docstring).

    Use as a context manager: :meth:`add` every output first (checks happen there,
    before any computation), then :meth:`write` each; leaving the block normally
    renames every complete file onto its target, leaving it by an exception or a
    signal removes every temporary file.
    """

    def __init__(self):
        self._targets = []

    def add(self, path, what: str = "output", extensions: "tuple | None" = None,
            default_suffix: str = "") -> "Output | None":
        """Check an output (:func:`check_output`) and register it; returns its
        :class:`Output`, the handle :meth:`write` takes.

        Two outputs that are the same regular file are refused (a character device
        such as ``/dev/null`` may take several). ``None`` is ignored (an option the
        user did not give) and returned as is.
        """
        if path is None:
            return None
        target = check_output(path, what, extensions, default_suffix)
        for other in self._targets:
            if other.real == target.real and target.kind == "file":
                raise OutputError(f"{what} {path}: the same file as {other.path}; give "
                                  "each output its own file")
        self._targets.append(target)
        return target

    def write(self, output: "Output", write) -> None:
        """Write an added output (the :class:`Output` that :meth:`add` returned):
        ``write(tmp_path)`` fills its temporary file.

        The temporary file has the target's extension, so writers that pick the
        format from the name (matplotlib, :func:`neuromod.io.write`) work unchanged.
        """
        if not isinstance(output, Output) or output not in self._targets:
            raise TypeError("Outputs.write takes an Output returned by Outputs.add")
        target = output
        target.make_temp()
        _run_writer(target, write)
        pause_point("write")

    def commit(self) -> None:
        """Rename every written temporary file onto its target (devices first)."""
        targets = sorted(self._targets, key=lambda t: t.kind != "device")
        try:
            for t in targets:
                t.commit()
        finally:
            self.discard()

    def discard(self):
        """Remove every temporary file; targets stay as they were."""
        for t in self._targets:
            t.discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False


def atomic_write(path, write, binary_suffix: str = "") -> None:
    """Write one file all-or-nothing: ``write(tmp_path)``, then rename onto ``path``.

    The same rules as :class:`Outputs` (symlink targets replaced, character devices
    written directly, FIFOs and sockets refused, errors naming ``path``). On any
    error or signal the temporary file is removed and an existing ``path`` is left
    untouched. ``binary_suffix`` ends the temporary name (some libraries check
    extensions); by default the extension of ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> atomic_write(p, lambda tmp: open(tmp, "w").write("hello"))
    >>> open(p).read()
    'hello'
    """
    target = check_output(path)
    if binary_suffix and target.suffix != binary_suffix:
        target.suffix = binary_suffix
    try:
        target.make_temp()
        _run_writer(target, write)
        pause_point("write")
        target.commit()
    except BaseException:
        target.discard()
        raise
