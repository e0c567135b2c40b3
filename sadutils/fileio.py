"""Writing files so that a crash never leaves half of one: temp file in the same folder, fsync,
rename, fsync of the folder.

Every file the companion writes that a later run reads (records, manifests, state files, logs
rewritten in place, model weights) goes through :func:`atomic_path` or one of its wrappers. A
reader then sees the old file or the new one, never a truncated mix: after a killed process
(the rename is atomic) and after a power cut or a kernel crash too (the new file's content is
on disk before the rename, :func:`sync_file`, and the rename itself is on disk before
:func:`atomic_path` returns, :func:`sync_folder`).

**Crash points (tests only).** The steps of every atomic write are *crash points*
(:func:`crash_point`): after the temporary file is written, after it is synced, after the
rename. With the environment variable :data:`CRASH_AT_ENV` set to ``N`` a process kills
itself with ``SIGKILL`` at its ``N``-th crash point, so a test can kill a command at every
write it makes and check what a rerun makes of the files left (``tests/crash/``). With
:data:`CRASH_TRACE_ENV` naming a file, every crash point appends a line to it (``number, pid,
step, path``); the numbers then count the crash points of every process that shares the file
(a runner and its notebook kernels), and :data:`CRASH_GROUP_ENV` names a process group that
is killed too (the command's, when a kernel reaches the point). The variables are read once,
at import; unset, a crash point costs one comparison.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import signal
import tempfile
import threading
from pathlib import Path

#: Test-only: kill this process with SIGKILL at its N-th crash point.
CRASH_AT_ENV = "SADUTILS_CRASH_AT"
#: Test-only: append every crash point to this file (and count them across processes).
CRASH_TRACE_ENV = "SADUTILS_CRASH_TRACE"
#: Test-only: a process group to kill with the process that reaches the crash point.
CRASH_GROUP_ENV = "SADUTILS_CRASH_GROUP"
#: fsync errors meaning "this file system cannot sync that", not "the write failed".
_NO_SYNC = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF}


class _CrashPlan:
    """Where a test wants this process killed (see the module's docstring)."""

    def __init__(self, at: int | None, trace: str | None, group: int | None):
        self.at, self.trace, self.group = at, trace, group
        self.passed = 0
        self.lock = threading.Lock()  # download threads reach crash points side by side

    def reach(self, step: str, path) -> None:
        with self.lock:
            self._reach(step, path)

    def _reach(self, step: str, path) -> None:
        if self.trace:
            # One byte per crash point, appended: the file's size numbers the points of every
            # process writing to it, in the order they reached them.
            with open(self.trace + ".count", "ab") as counter:
                counter.write(b".")
                number = counter.tell()
            with open(self.trace, "a", encoding="utf-8") as trace:
                trace.write(f"{number}\t{os.getpid()}\t{step}\t{path}\n")
        else:
            self.passed += 1
            number = self.passed
        if number == self.at:
            if self.group:
                with contextlib.suppress(OSError):
                    os.killpg(self.group, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)


def _crash_plan() -> _CrashPlan | None:
    at, trace = os.environ.get(CRASH_AT_ENV), os.environ.get(CRASH_TRACE_ENV)
    if not at and not trace:
        return None
    group = os.environ.get(CRASH_GROUP_ENV)
    return _CrashPlan(int(at) if at else None, trace or None, int(group) if group else None)


_CRASH = _crash_plan()


def arm_crash_points() -> None:
    """Read the crash-point variables again (for a test process forked after the import).

    Tests only; see the module's docstring.
    """
    global _CRASH
    _CRASH = _crash_plan()


def crash_point(step: str, path) -> None:
    """A moment at which a test may kill the process (see the module's docstring).

    Parameters
    ----------
    step : str
        What has just happened (``written``, ``synced``, ``renamed``, ...).
    path : path
        The file it concerns.
    """
    if _CRASH is not None:
        _CRASH.reach(step, path)


def sync_file(path) -> None:
    """Flush a file's content to the disk (``fsync``).

    Parameters
    ----------
    path : path

    Raises
    ------
    OSError
        When the disk refuses (a full disk, an I/O error); not where the file system has no
        fsync.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_SYNC:
            raise
    finally:
        os.close(fd)


def sync_folder(folder) -> None:
    """Flush a folder's entries to the disk, so that a rename or a new file in it survives a
    power cut (POSIX; a no-op where folders cannot be opened, e.g. on Windows).

    Parameters
    ----------
    folder : path

    Raises
    ------
    OSError
        When the disk refuses.
    """
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (PermissionError, IsADirectoryError):
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_SYNC:
            raise
    finally:
        os.close(fd)


def _new_file(folder: Path, prefix: str, suffix: str) -> Path:
    """Create a new empty file with a unique name in ``folder``, with the permissions of any
    new file (0o666 less the umask). ``tempfile.mkstemp`` would make it 0o600, and the rename
    would then leave manifests, records and models readable by their owner only."""
    for _ in range(tempfile.TMP_MAX):
        candidate = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no unused temporary file name {prefix}*{suffix} in {folder}")


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename,
    durably: the file is synced before the rename and its folder after it.

    Parameters
    ----------
    path : path
        The file to (re)write. Its folder is created if needed.
    suffix : str, optional
        Suffix of the temporary file (some writers, such as Keras, insist on one); default
        ``.tmp``, which no reader of the companion's files looks for (a record's temporary
        file is never read as a record).

    Yields
    ------
    Path
        Where to write. If the block raises, the temporary file is removed and ``path`` is left
        as it was.

    Raises
    ------
    OSError
        When the file cannot be written, synced or renamed (``path`` is then as it was).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_file(path.parent, f".{path.name}.", suffix)
    try:
        yield tmp
        crash_point("written", path)
        sync_file(tmp)
        crash_point("synced", path)
        os.replace(tmp, path)
        crash_point("renamed", path)
        sync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return ``path``.

    Parameters
    ----------
    path : path
    text : str

    Returns
    -------
    Path
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, data) -> Path:
    """Write ``data`` as indented, key-sorted JSON to ``path`` atomically; return ``path``.

    Parameters
    ----------
    path : path
    data : JSON-serialisable object

    Returns
    -------
    Path
    """
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def file_sha256(path) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks.

    Parameters
    ----------
    path : path

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
