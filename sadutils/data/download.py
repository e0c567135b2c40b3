"""The WEBEmo image downloader: many small images from a list of URLs, many of them dead by now.

:func:`download_urls` fetches URLs concurrently and resumably, recording every URL's outcome in
``downloads.csv`` so that a re-run only retries what failed and a reader can count the losses;
:func:`download_webemo` applies WEBEmo's list rules (:mod:`sadutils.data.webemo`) first. Nothing
from the network is trusted: bodies are size-capped, time-limited and kept only when they decode
as images.
"""
from __future__ import annotations

import contextlib
import csv
import os
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

try:  # the folder lock; absent on Windows
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

import pandas as pd
import requests
import urllib3
from tqdm import tqdm  # plain bars: tqdm.auto warns in kernels without ipywidgets

from ..config import CLASS_NAMES
from ..fileio import atomic_path, write_text
from .images import check_image
from .manifests import sample_per_class
from .transport import (Deadline, DeadlineExpired, FileRefused, check_timeout,
                        copy_regular_file, deadline_session, file_url_path, run_with_deadline)
from .webemo import (binary_labels, parse_category_file, parse_webemo_list, sadness_fine_labels,
                     url_to_filename)

#: Columns of ``downloads.csv`` and of the table :func:`download_urls` returns.
LOG_COLUMNS = ("url", "file", "status", "http_status", "attempts", "bytes", "error", "finished_at")
#: Every status a URL can end with. Only ``ok`` and ``skipped_existing`` leave a file on disk.
STATUSES = ("ok", "skipped_existing", "http_error", "timeout", "connection_error", "truncated",
            "not_image", "too_large", "rejected_scheme", "invalid_url", "file_error")
DONE_STATUSES = ("ok", "skipped_existing")
#: Largest body accepted: WEBEmo thumbnails are ~20 KB; anything this big is not one.
MAX_BYTES = 20 * 2**20
#: Longest URL fetched (servers refuse longer ones; the log stores at most this much of one).
MAX_URL_CHARS = 8192
#: Longest error text kept in the log.
MAX_ERROR_CHARS = 500
USER_AGENT = "sadutils-downloader/0.1 (research dataset download)"
_SCHEMES = ("http", "https", "file")
RETRY_HTTP = {408, 429} | set(range(500, 600))


class FolderInUse(RuntimeError):
    """Another run is downloading into the same folder (it holds the folder's lock)."""


class _Transient(Exception):
    """A failure worth retrying (timeout, dropped connection, 5xx/429); carries the status."""

    def __init__(self, status: str, error: str, http_status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(error)
        self.status, self.http_status, self.retry_after = status, http_status, retry_after


class _Final(Exception):
    """A failure retrying cannot fix (404, not an image, too large, bad URL)."""

    def __init__(self, status: str, error: str, http_status: int | None = None):
        super().__init__(error)
        self.status, self.http_status = status, http_status


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_log(path: str | os.PathLike) -> pd.DataFrame:
    """The latest outcome per URL recorded in a ``downloads.csv`` (empty table if none).

    Rows are appended as downloads finish, so a killed run may leave a cut last line and a URL
    may appear several times: malformed rows (a cut line, a field too large for the csv
    module, bytes that are not UTF-8) are skipped and the last row per URL wins.

    Parameters
    ----------
    path : path

    Returns
    -------
    DataFrame
        Columns :data:`LOG_COLUMNS`.
    """
    latest: dict[str, dict] = {}
    path = Path(path)
    if path.is_file():
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            rows = csv.DictReader(f)
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    break
                except csv.Error:  # e.g. a field over csv.field_size_limit(): skip that row
                    continue
                # None as a key: too many fields; as a value: too few (a cut line)
                if (row.get("url") and row.get("status") in STATUSES and None not in row
                        and None not in row.values()):
                    latest[row["url"]] = row
    return _table(list(latest.values()))


def _table(rows: list[dict]) -> pd.DataFrame:
    """Rows as a typed table with :data:`LOG_COLUMNS` (integers nullable, text never NaN)."""
    df = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    for col in ("http_status", "attempts", "bytes"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in ("file", "error", "finished_at"):
        df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str)
    return df.reset_index(drop=True)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _timeout(exc: Exception) -> bool:
    """Whether a requests error is a timeout (a stalled body arrives as a ConnectionError)."""
    if isinstance(exc, (requests.exceptions.Timeout, TimeoutError)):
        return True
    return any(isinstance(arg, (urllib3.exceptions.TimeoutError, TimeoutError))
               for arg in getattr(exc, "args", ()))


def _http_attempt(session, url: str, tmp: Path, timeout: float, max_bytes: int,
                  deadline: Deadline) -> int:
    """One HTTP(S) attempt, run under ``deadline``: the body to ``tmp``; return the status."""
    try:
        with session.get(url, timeout=(timeout, timeout), stream=True, allow_redirects=True) as r:
            if r.status_code in RETRY_HTTP:
                after = r.headers.get("Retry-After", "")
                raise _Transient("http_error", f"HTTP {r.status_code}", r.status_code,
                                 float(after) if after.isascii() and after.isdigit() else None)
            if r.status_code >= 400:
                raise _Final("http_error", f"HTTP {r.status_code}", r.status_code)
            declared = r.headers.get("Content-Length", "").strip()
            if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
                raise _Final("too_large", f"Content-Length {declared} > limit {max_bytes}",
                             r.status_code)
            n = 0
            with open(tmp, "wb") as f:
                for chunk in r.iter_content(64 * 1024):
                    if deadline.expired:
                        break
                    n += len(chunk)
                    if n > max_bytes:
                        raise _Final("too_large", f"body over limit {max_bytes}", r.status_code)
                    f.write(chunk)
            if deadline.expired:  # a shut-down socket can look like the end of the body
                raise DeadlineExpired(f"took over {deadline.seconds:g} s")
            return r.status_code
    except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema, requests.exceptions.TooManyRedirects,
            requests.exceptions.InvalidHeader) as exc:
        raise _Final("invalid_url", f"{type(exc).__name__}: {exc}") from exc
    except requests.exceptions.ChunkedEncodingError as exc:  # body cut short of Content-Length
        if _timeout(exc):
            raise _Transient("timeout", f"{type(exc).__name__}: {exc}") from exc
        raise _Transient("truncated", f"{type(exc).__name__}: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        status = "timeout" if _timeout(exc) else "connection_error"
        raise _Transient(status, f"{type(exc).__name__}: {exc}") from exc


def _fetch_body(session, url: str, tmp: Path, timeout: float, max_bytes: int,
                file_root=None) -> int | None:
    """One attempt: write ``url``'s body to ``tmp``; return the HTTP status (None for file://).

    Raises :class:`_Transient` or :class:`_Final`. ``timeout`` bounds the whole attempt, every
    phase included (connecting, the headers, the body), whatever the server does: see
    :mod:`sadutils.data.transport`.
    """
    parts = urlsplit(url)
    deadline = Deadline(timeout)
    if parts.scheme.lower() == "file":
        try:
            src = file_url_path(url, file_root)
            run_with_deadline(lambda d: copy_regular_file(src, tmp, max_bytes, d), deadline)
        except FileRefused as exc:
            raise _Final(exc.status, str(exc)) from exc
        except DeadlineExpired as exc:
            raise _Transient("timeout", f"reading the file {exc}") from exc
        except OSError as exc:
            raise _Final("file_error", f"{type(exc).__name__}: {exc}") from exc
        return None
    if not parts.hostname:
        raise _Final("invalid_url", "URL has no host")
    try:
        return run_with_deadline(
            lambda d: _http_attempt(session, url, tmp, timeout, max_bytes, d), deadline)
    except DeadlineExpired as exc:
        raise _Transient("timeout", f"download {exc}") from exc


def _download_one(session, url: str, images: Path, timeout: float, retries: int,
                  backoff: float, max_bytes: int, file_root=None) -> dict:
    """Download ``url`` into ``images`` with retries; return its log row. Never raises for a
    per-URL failure: every outcome becomes a row. Each attempt writes a hidden ``.part`` temp
    file that is decoded, then renamed onto the final name (atomic), so a killed run never
    leaves a half image under a name a loader would read."""
    row = dict(url=url, file="", status="", http_status=None, attempts=0, bytes=None, error="")
    if len(url) > MAX_URL_CHARS:
        return {**row, "status": "invalid_url", "finished_at": _now(),
                "error": f"URL of {len(url)} characters, over the limit of {MAX_URL_CHARS}"}
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:  # e.g. http://[::1 (an unclosed IPv6 bracket)
        return {**row, "status": "invalid_url", "finished_at": _now(),
                "error": f"{type(exc).__name__}: {exc}"}
    if scheme not in _SCHEMES:
        return {**row, "status": "rejected_scheme", "finished_at": _now(),
                "error": f"scheme {scheme or '(none)'!r} not in {_SCHEMES}"}
    final = images / url_to_filename(url)
    for attempt in range(1, retries + 2):
        row["attempts"] = attempt
        try:
            with atomic_path(final, suffix=".part") as tmp:
                row["http_status"] = _fetch_body(session, url, tmp, timeout, max_bytes,
                                                 file_root)
                reason = check_image(tmp)  # the package's one definition of "usable"
                if reason:
                    raise _Final("not_image", reason, row["http_status"])
                row["bytes"] = tmp.stat().st_size
            row.update(status="ok", file=f"images/{final.name}", error="")
            break
        except _Final as exc:
            row.update(status=exc.status, http_status=exc.http_status, error=str(exc))
            break
        except _Transient as exc:
            row.update(status=exc.status, http_status=exc.http_status, error=str(exc))
            if attempt <= retries:
                delay = backoff * 2 ** (attempt - 1)
                time.sleep(min(max(delay, exc.retry_after or 0), 60))
        except ValueError as exc:  # whatever else a malformed URL makes requests or urllib3 say
            row.update(status="invalid_url", error=f"{type(exc).__name__}: {exc}")
            break
    row["error"] = _shorten(row["error"], MAX_ERROR_CHARS)
    row["finished_at"] = _now()
    return row


#: Seconds between two tries at a folder's lock while waiting for another run to finish.
LOCK_POLL_SECONDS = 0.2


@contextlib.contextmanager
def _folder_lock(images: Path, wait: float = 0.0):
    """Hold a lock on the ``images`` folder while a run writes into it.

    A second run into the same folder waits up to ``wait`` seconds for the first to finish,
    then is refused (:class:`FolderInUse`) rather than letting the two remove each other's
    temporary files. The lock is the operating system's (``flock`` on the folder itself, so no
    lock file is left behind): a killed run releases it. Without ``fcntl`` (Windows) no lock
    is taken.
    """
    if fcntl is None:
        yield
        return
    fd = os.open(images, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    waited = f" (waited {wait:g} s)" if wait else ""
                    raise FolderInUse(f"another download is writing into {images}{waited}; "
                                      f"wait for it to finish") from None
                time.sleep(LOCK_POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove_leftovers(images: Path) -> int:
    """Remove the ``.part`` temp files of killed runs (their final files were never made)."""
    n = 0
    for leftover in images.glob(".*.part"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
            n += 1
    return n


def _prepare_log(log_path: Path) -> None:
    """Make ``log_path`` a log with this version's header, keeping whatever it held.

    A log with another header that still has ``url`` and ``status`` columns (another version
    of the companion) is rewritten with :data:`LOG_COLUMNS`, its rows kept. A file of that name
    that is not a download log at all is renamed, never deleted, and a warning names the new
    name.
    """
    if not log_path.is_file() or log_path.stat().st_size == 0:
        return
    with open(log_path, newline="", encoding="utf-8", errors="replace") as f:
        try:
            header = next(csv.reader([f.readline(65536)]), [])
        except csv.Error:
            header = []
    if header == list(LOG_COLUMNS):
        return
    if {"url", "status"} <= set(header):
        _compact_log(log_path)
        return
    aside = log_path.with_name(f"{log_path.name}.unrecognised-"
                               f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
    os.replace(log_path, aside)
    warnings.warn(f"{log_path} is not a download log (its header is {header[:8]}); it was "
                  f"renamed to {aside.name} and a new log started", stacklevel=3)


def download_urls(urls, out_dir, workers: int = 16, timeout: float = 10.0, retries: int = 3,
                  backoff: float = 0.5, progress: bool = True, log_name: str = "downloads.csv",
                  session_factory=None, max_bytes: int = MAX_BYTES,
                  file_root=None, wait: float = 0.0) -> pd.DataFrame:
    """Download every URL to ``out_dir/images/<url_to_filename(url)>``; return one row per URL.

    Concurrent (a thread pool, one ``requests.Session`` per thread). Only http, https and file
    URLs are fetched; redirects are followed; connection errors, timeouts, cut bodies and
    5xx/408/429 answers are retried ``retries`` times with exponential ``backoff`` (seconds),
    4xx answers are not. A body is kept only if it decodes as an image (servers lie about
    Content-Type) and is at most ``max_bytes``.

    Limits that hold whatever the other side does: ``timeout`` seconds per attempt, from
    connecting to the last byte (a server trickling its headers or body, or sending without
    end, is cut off at the deadline and the URL logged as ``timeout``); ``max_bytes`` per file
    whatever Content-Length says; URLs of at most :data:`MAX_URL_CHARS` characters. ``file://``
    URLs are read only under ``file_root`` and only when they name a regular file (never a
    FIFO or a device such as ``/dev/zero``).

    Resumable: the outcome of every URL is appended to ``out_dir/<log_name>`` as it finishes
    (columns :data:`LOG_COLUMNS`, status one of :data:`STATUSES`), so a re-run skips URLs whose
    file exists and whose last status is ok (reported as ``skipped_existing``) and retries all
    others. The ``.part`` files a killed run left are removed first. After a complete run the
    log is compacted to the last row per URL. One run at a time may write into a folder: a
    second waits up to ``wait`` seconds for the first to end, then is refused.
    ``session_factory`` (default a ``requests.Session`` whose sockets obey the deadline) lets
    callers set proxies, auth or mocks; the deadline then still holds for the caller, but the
    sockets of a session it does not know are not shut down.

    Parameters
    ----------
    urls : iterable of str
    out_dir : path
    workers : int
        Parallel downloads (at least 1).
    timeout : float
        Seconds per attempt, every phase included (finite, > 0).
    retries : int
        Retries of transient failures (at least 0).
    backoff : float
        First pause between attempts, in seconds; doubled each time.
    progress : bool
    log_name : str
    session_factory : callable, optional
    max_bytes : int
        Largest file accepted.
    file_root : path, optional
        The folder ``file://`` URLs may read from; without it they are refused
        (``rejected_scheme``).
    wait : float
        Seconds to wait for another run writing into ``out_dir`` to finish (0: refuse at
        once). Callers that only check a finished download, such as notebooks started side by
        side, wait; a user's second download is refused.

    Returns
    -------
    DataFrame
        Columns :data:`LOG_COLUMNS`, one row per unique URL, in order.

    Raises
    ------
    ValueError
        For a bad ``workers``, ``timeout``, ``retries``, ``backoff``, ``max_bytes`` or ``wait``.
    FolderInUse
        When another run is still writing into ``out_dir`` after ``wait`` seconds.
    """
    timeout = check_timeout("timeout", timeout)
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if not (isinstance(retries, int) and retries >= 0):
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    if not (isinstance(max_bytes, int) and max_bytes >= 1):
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    if not (isinstance(backoff, (int, float)) and 0 <= backoff <= 60):
        raise ValueError(f"backoff must be a number of seconds within 0..60, got {backoff!r}")
    if not (isinstance(wait, (int, float)) and 0 <= wait < float("inf")):
        raise ValueError(f"wait must be a finite number of seconds >= 0, got {wait!r}")
    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    with _folder_lock(images, wait):
        _remove_leftovers(images)
        return _download_locked(urls, out_dir, images, workers, timeout, retries, backoff,
                                progress, out_dir / log_name, session_factory, max_bytes,
                                file_root)


def _download_locked(urls, out_dir, images, workers, timeout, retries, backoff, progress,
                     log_path, session_factory, max_bytes, file_root) -> pd.DataFrame:
    """:func:`download_urls` once it holds the folder's lock."""
    urls = list(dict.fromkeys(str(u).strip() for u in urls))  # dedupe, keep order
    _prepare_log(log_path)
    previous = load_log(log_path).set_index("url")["status"].to_dict()
    results: dict[str, dict] = {}
    todo = []
    for url in urls:
        final = images / url_to_filename(url)
        if previous.get(url) in DONE_STATUSES and final.is_file():
            results[url] = dict(url=url, file=f"images/{final.name}", status="skipped_existing",
                                http_status=None, attempts=0, bytes=final.stat().st_size,
                                error="", finished_at=_now())
        else:
            todo.append(url)

    local, sessions, lock = threading.local(), [], threading.Lock()

    def session():
        if not hasattr(local, "session"):
            s = session_factory() if session_factory else deadline_session(USER_AGENT)
            with lock:
                sessions.append(s)
            local.session = s
        return local.session

    def work(url):
        return _download_one(session(), url, images, timeout, retries, backoff, max_bytes,
                             file_root)

    new_log = not log_path.exists() or log_path.stat().st_size == 0
    with open(log_path, "a", newline="", encoding="utf-8") as log:
        if not new_log:  # a killed run may have left a cut last line: start on a fresh one
            with open(log_path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    log.write("\n")
        writer = csv.DictWriter(log, fieldnames=LOG_COLUMNS, lineterminator="\n")
        if new_log:
            writer.writeheader()
        bar = tqdm(total=len(urls), disable=not progress, unit="img", desc="download")
        bar.update(len(results))

        def write(row):
            stored = {k: "" if row[k] is None else row[k] for k in LOG_COLUMNS}
            stored["url"] = _shorten(stored["url"], MAX_URL_CHARS)
            writer.writerow(stored)
            log.flush()

        for row in results.values():  # skipped ones: their outcome for this call is logged too
            write(row)
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            for fut in as_completed([pool.submit(work, u) for u in todo]):
                row = fut.result()
                results[row["url"]] = row
                write(row)
                bar.update(1)
        finally:  # on Ctrl-C: drop queued URLs, let running ones finish (their rows are lost,
            pool.shutdown(wait=True, cancel_futures=True)  # their files are whole or absent)
            bar.close()
            for s in sessions:
                s.close()
    _compact_log(log_path)
    return _table([results[u] for u in urls])


def _compact_log(log_path: Path) -> None:
    """Rewrite the log with only the latest row per URL (atomically), so it stops growing."""
    table = load_log(log_path)
    with atomic_path(log_path) as tmp:
        table.to_csv(tmp, index=False)


# --------------------------------------------------------------------------------------------
# WEBEmo
# --------------------------------------------------------------------------------------------

def download_webemo(list_file, out_dir, sample: dict | None = None, seed: int = 1234,
                    include_confusion: bool = False, category_file=None,
                    **download_kwargs) -> pd.DataFrame:
    """Download the images of a WEBEmo list (``train25.txt``/``test25.txt``) into ``out_dir``.

    URLs are deduplicated; a URL listed with labels that disagree on the binary label
    (sadness vs others) is dropped, since it cannot be labelled. ``sample`` (e.g. the paper's
    ``{"sadness": 8549, "others": 9971}``; a value of None takes the whole class, a class not
    named is left out) draws a seeded random sample per binary class with
    :func:`sadutils.data.manifests.sample_per_class` (the draw depends on the seed and the set of
    URLs, not their order). ``category_file`` (``category.txt``) makes the sadness group come
    from its level-2 names instead of the official indices. The list actually downloaded is
    written to
    ``out_dir/sample.txt`` in the same ``<url> <label>`` format, for traceability. Returns
    :func:`download_urls`'s table with ``fine_label`` and ``label`` columns in front; the counts
    of lines, unique URLs and conflicts are in ``result.attrs``.
    """
    list_file, out_dir = Path(list_file), Path(out_dir)
    categories = parse_category_file(category_file) if category_file is not None else None
    rows = parse_webemo_list(list_file, len(categories) if categories else 25)
    kept, conflicting = binary_labels(rows, sadness_fine_labels(include_confusion, categories))
    if sample is not None:
        if set(sample) - set(CLASS_NAMES):
            raise ValueError(f"sample keys must be among {CLASS_NAMES}; got {sample!r}")
        counts = {c: int((kept.label == c).sum()) if n is None else n for c, n in sample.items()}
        kept = sample_per_class(kept.assign(path=kept.url), counts, seed).sort_values("line")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "sample.txt",
               "".join(f"{u} {i}\n" for u, i in zip(kept.url, kept.fine_index)))
    table = download_urls(kept.url.tolist(), out_dir, **download_kwargs)
    labels = kept.set_index("url")[["fine_index", "label"]].rename(
        columns={"fine_index": "fine_label"})
    result = labels.join(table.set_index("url"), how="right").reset_index()
    result = result[["url", "fine_label", "label"] + list(LOG_COLUMNS[1:])]
    result.attrs.update(lines=len(rows), unique_urls=int(rows.url.nunique()),
                        conflicting_urls=len(conflicting), selected=len(kept))
    return result
