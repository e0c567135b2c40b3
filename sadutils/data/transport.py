"""One time limit per download attempt that holds in every phase, for HTTP(S) and file URLs.

A read timeout alone does not bound a download: it restarts with every byte, so a server that
sends its headers or its body one byte a second holds a worker for good. Here every attempt
runs in its own thread under a :class:`Deadline`; when the deadline passes, the sockets the
attempt opened are shut down (a blocked read returns at once) and the caller moves on. The
sockets are known because the sessions of :func:`deadline_session` use connection classes that
register each socket with the deadline of the attempt using it, whether the connection is new
or reused from the pool.

What this cannot interrupt, it abandons: a name lookup that the system resolver has not
answered, or a stuck network file system. The caller still gets its answer at the deadline
(plus :data:`GRACE_S`); the abandoned thread ends when the system call returns, and its
sockets are shut down as soon as it opens them.
"""
from __future__ import annotations

import math
import os
import socket
import stat
import threading
import time
from numbers import Real
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: Seconds the caller waits, after shutting an attempt's sockets, before abandoning it.
GRACE_S = 1.0
#: The longest time limit accepted (an hour): a larger one is a typo, not a limit.
MAX_TIMEOUT_S = 3600.0
#: Bytes read from a file URL at a time (the deadline is checked between reads).
CHUNK = 64 * 1024

_current = threading.local()


class DeadlineExpired(Exception):
    """An attempt ran past its deadline (raised by :func:`run_with_deadline`)."""


def check_timeout(name: str, seconds) -> float:
    """A time limit as a float, refused unless it is a finite number of seconds > 0.

    Parameters
    ----------
    name : str
        The option's name, for the message.
    seconds : float

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For a value that is not a number, not positive, infinite, NaN or over
        :data:`MAX_TIMEOUT_S`.
    """
    value = float(seconds) if isinstance(seconds, Real) and not isinstance(seconds, bool) \
        else math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT_S):
        raise ValueError(f"{name} must be a finite number of seconds > 0 and at most "
                         f"{MAX_TIMEOUT_S:g}, got {seconds!r}")
    return value


class Deadline:
    """The end of one attempt: sockets registered with it are shut down when it passes.

    Parameters
    ----------
    seconds : float
        Time from now to the deadline.
    """

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.end = time.monotonic() + self.seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.end - time.monotonic())

    def renew(self) -> None:
        """Move the deadline to ``seconds`` from now (progress was made)."""
        with self._lock:
            if not self.expired:
                self.end = time.monotonic() + self.seconds

    def watch(self, sock) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has passed)."""
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        _shutdown(sock)

    def expire(self) -> None:
        """Mark the deadline passed and shut down every socket registered with it."""
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed or never connected
        pass


def _watch_current(sock) -> None:
    """Register ``sock`` with the deadline of the attempt running in this thread, if any."""
    deadline = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


def run_with_deadline(attempt, deadline: Deadline):
    """Run ``attempt(deadline)`` in a thread and return its result by the deadline.

    Parameters
    ----------
    attempt : callable
        Takes the :class:`Deadline`; may :meth:`~Deadline.renew` it to allow more time after
        progress (a large file arriving steadily).
    deadline : Deadline

    Returns
    -------
    object
        What ``attempt`` returned.

    Raises
    ------
    DeadlineExpired
        When the deadline passed before ``attempt`` finished, whatever ``attempt`` raised
        after its sockets were shut down (the original error is chained).
    Exception
        What ``attempt`` raised before the deadline.
    """
    box = {}

    def run():
        _current.deadline = deadline
        try:
            box["value"] = attempt(deadline)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc
        finally:
            _current.deadline = None

    thread = threading.Thread(target=run, name="sadutils-transfer", daemon=True)
    thread.start()
    while True:
        thread.join(deadline.remaining())
        if not thread.is_alive() or deadline.remaining() <= 0:
            break
    if thread.is_alive():
        deadline.expire()
        thread.join(GRACE_S)
        if thread.is_alive():
            raise DeadlineExpired(f"no answer within {deadline.seconds:g} s (the attempt was "
                                  f"abandoned)")
    if deadline.expired:
        raise DeadlineExpired(f"took over {deadline.seconds:g} s") from box.get("error")
    if "error" in box:
        raise box["error"]
    return box.get("value")


# ----------------------------------------------------------------------------- HTTP(S)

class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _watch_current(sock)
        return sock

    def request(self, *args, **kwargs):  # a pooled connection serves another attempt
        _watch_current(self.sock)
        return super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _watch_current(sock)
        return sock

    def request(self, *args, **kwargs):
        _watch_current(self.sock)
        return super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections register their sockets with the current attempt's
    :class:`Deadline` (direct and HTTP-proxy connections; SOCKS proxies keep their own)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def deadline_session(user_agent: str | None = None) -> requests.Session:
    """A ``requests.Session`` whose HTTP(S) sockets obey :func:`run_with_deadline`.

    Parameters
    ----------
    user_agent : str, optional

    Returns
    -------
    requests.Session
    """
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, DeadlineAdapter())
    if user_agent:
        session.headers["User-Agent"] = user_agent
    return session


# ----------------------------------------------------------------------------- file URLs

class FileRefused(Exception):
    """A file URL that is not read: outside the allowed folder, not a regular file, too big."""

    def __init__(self, status: str, error: str):
        super().__init__(error)
        self.status = status


def file_url_path(url: str, root) -> Path:
    """The local path of a ``file://`` URL, refused unless it lies under ``root``.

    Parameters
    ----------
    url : str
    root : path or None
        The folder file URLs may read from (links resolved); None refuses every file URL.

    Returns
    -------
    Path

    Raises
    ------
    FileRefused
        ``rejected_scheme`` without a root or outside it; ``invalid_url`` for a remote host.
    """
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FileRefused("invalid_url", f"file URL with a remote host {parts.netloc!r}")
    if root is None:
        raise FileRefused("rejected_scheme", "file URLs are read only from a folder allowed "
                                             "for them (none was given)")
    path = Path(url2pathname(parts.path))
    real, allowed = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, allowed]) != allowed:
        raise FileRefused("rejected_scheme", f"file URL outside the allowed folder {allowed}")
    return path


def copy_regular_file(src: Path, dest: Path, max_bytes: int, deadline: Deadline) -> int:
    """Copy a regular file of at most ``max_bytes`` to ``dest``; return its size.

    The file is opened without blocking and checked with ``fstat`` on the open descriptor, so a
    FIFO, a device (``/dev/zero``) or a link to one is refused before a byte is read, and a
    file swapped after a check is still caught. The copy stops at ``max_bytes + 1`` bytes
    (a file growing while read) and when the deadline passes.

    Parameters
    ----------
    src, dest : Path
    max_bytes : int
    deadline : Deadline

    Returns
    -------
    int

    Raises
    ------
    FileRefused
        ``file_error`` for a file that is not regular, ``too_large`` over the cap.
    DeadlineExpired
        When the deadline passed during the copy.
    OSError
        For a file that cannot be opened or read.
    """
    fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused("file_error", f"not a regular file: {src}")
        if info.st_size > max_bytes:
            raise FileRefused("too_large", f"{info.st_size} bytes > limit {max_bytes}")
        os.set_blocking(fd, True)
        n = 0
        with open(fd, "rb", closefd=False) as f, open(dest, "wb") as out:
            while True:
                if deadline.expired or deadline.remaining() <= 0:
                    raise DeadlineExpired(f"took over {deadline.seconds:g} s")
                chunk = f.read(CHUNK)
                if not chunk:
                    return n
                n += len(chunk)
                if n > max_bytes:
                    raise FileRefused("too_large", f"file over limit {max_bytes} while read")
                out.write(chunk)
    finally:
        os.close(fd)
