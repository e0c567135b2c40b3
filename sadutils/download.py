"""Fetching images and datasets: the WEBEmo downloader and ``sadutils fetch``.

Two jobs share one concern — getting bytes from the network without ever trusting them:

* :func:`download_urls` / :func:`download_webemo` fetch many small images (WEBEmo is a list of
  URLs, many dead by now), concurrently, resumably, recording every URL's outcome in
  ``downloads.csv`` so a re-run only retries what failed and a reader can count the losses.
* :func:`fetch` / :func:`fetch_archive` fetch one big public archive (Cornell Emotion6, COCO-Text,
  MS-COCO train2014) with HTTP Range resume and a checksum, and unpack it safely into the layout
  the loaders read. Datasets behind sign-up pages raise :class:`ManualDownloadRequired`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import pandas as pd

from . import config
from .images import check_image

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def url_to_filename(url: str) -> str:
    """A safe, collision-free file name for ``url``.

    A hash of the whole URL makes names unique (two URLs ending in the same ``image.jpg`` differ);
    the readable tail is reduced to ``[A-Za-z0-9._-]`` so that no name can climb out of the
    download folder (``..``, ``/``, ``\\`` and NUL never survive).
    """
    digest = hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]
    tail = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    stem = _SAFE.sub("_", tail.rsplit(".", 1)[0]).strip("._")[:40] or "image"
    return f"{digest}_{stem}.jpg"


# --------------------------------------------------------------------------------------------
# Many small images
# --------------------------------------------------------------------------------------------

#: Columns of ``downloads.csv`` and of the table :func:`download_urls` returns.
LOG_COLUMNS = ("url", "file", "status", "http_status", "attempts", "bytes", "error", "finished_at")
#: Every status a URL can end with. Only ``ok`` and ``skipped_existing`` leave a file on disk.
STATUSES = ("ok", "skipped_existing", "http_error", "timeout", "connection_error", "truncated",
            "not_image", "too_large", "rejected_scheme", "invalid_url", "file_error")
DONE_STATUSES = ("ok", "skipped_existing")
#: Largest body accepted: WEBEmo thumbnails are ~20 KB; anything this big is not one.
MAX_BYTES = 20 * 2**20
USER_AGENT = "sadutils-downloader/0.1 (research dataset download)"
_SCHEMES = ("http", "https", "file")
_RETRY_HTTP = {408, 429} | set(range(500, 600))


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
    may appear several times: malformed rows are skipped and the last row per URL wins.
    """
    latest: dict[str, dict] = {}
    path = Path(path)
    if path.exists():
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("url") and row.get("status") in STATUSES and None not in row:
                    latest[row["url"]] = row
    return _table(list(latest.values()))


def _table(rows: list[dict]) -> pd.DataFrame:
    """Rows as a typed table with :data:`LOG_COLUMNS` (integers nullable, text never NaN)."""
    df = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    for col in ("http_status", "attempts", "bytes"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in ("file", "error", "finished_at"):
        df[col] = df[col].fillna("").astype(str)
    return df.reset_index(drop=True)


def _fetch_body(session, url: str, tmp: Path, timeout: float, max_bytes: int) -> int | None:
    """One attempt: write ``url``'s body to ``tmp``; return the HTTP status (None for file://).

    Raises :class:`_Transient` or :class:`_Final`. The deadline bounds the whole attempt, since
    a read timeout alone lets a server that trickles one byte at a time hold a worker forever.
    """
    import requests

    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise _Final("invalid_url", f"file URL with a remote host {parts.netloc!r}")
        src = Path(url2pathname(parts.path))
        try:
            size = src.stat().st_size
            if size > max_bytes:
                raise _Final("too_large", f"{size} bytes > limit {max_bytes}")
            shutil.copyfile(src, tmp)
        except OSError as exc:
            raise _Final("file_error", f"{type(exc).__name__}: {exc}") from exc
        return None
    if not parts.netloc:
        raise _Final("invalid_url", "URL has no host")
    deadline = time.monotonic() + 5 * timeout
    try:
        with session.get(url, timeout=(timeout, timeout), stream=True, allow_redirects=True) as r:
            if r.status_code in _RETRY_HTTP:
                after = r.headers.get("Retry-After", "")
                raise _Transient("http_error", f"HTTP {r.status_code}", r.status_code,
                                 float(after) if after.isdigit() else None)
            if r.status_code >= 400:
                raise _Final("http_error", f"HTTP {r.status_code}", r.status_code)
            declared = r.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _Final("too_large", f"Content-Length {declared} > limit {max_bytes}",
                             r.status_code)
            n = 0
            with open(tmp, "wb") as f:
                for chunk in r.iter_content(64 * 1024):
                    n += len(chunk)
                    if n > max_bytes:
                        raise _Final("too_large", f"body over limit {max_bytes}", r.status_code)
                    if time.monotonic() > deadline:
                        raise _Transient("timeout", f"download took over {5 * timeout:g} s",
                                         r.status_code)
                    f.write(chunk)
            return r.status_code
    except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema, requests.exceptions.TooManyRedirects) as exc:
        raise _Final("invalid_url", f"{type(exc).__name__}: {exc}") from exc
    except (requests.exceptions.Timeout, TimeoutError) as exc:
        raise _Transient("timeout", f"{type(exc).__name__}: {exc}") from exc
    except requests.exceptions.ChunkedEncodingError as exc:  # body cut short of Content-Length
        raise _Transient("truncated", f"{type(exc).__name__}: {exc}") from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.RequestException) as exc:
        raise _Transient("connection_error", f"{type(exc).__name__}: {exc}") from exc


def _download_one(session, url: str, images: Path, timeout: float, retries: int,
                  backoff: float, max_bytes: int) -> dict:
    """Download ``url`` into ``images`` with retries; return its log row. Never raises for a
    per-URL failure: every outcome becomes a row. The body goes to a hidden ``.part`` temp file
    that is decoded, then ``os.replace``d onto the final name (atomic), so a killed run never
    leaves a half image under a name a loader would read."""
    name = url_to_filename(url)
    row = dict(url=url, file="", status="", http_status=None, attempts=0, bytes=None, error="")
    if urlsplit(url).scheme.lower() not in _SCHEMES:
        return {**row, "status": "rejected_scheme", "finished_at": _now(),
                "error": f"scheme {urlsplit(url).scheme or '(none)'!r} not in {_SCHEMES}"}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=images)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        for attempt in range(1, retries + 2):
            row["attempts"] = attempt
            try:
                row["http_status"] = _fetch_body(session, url, tmp, timeout, max_bytes)
                reason = check_image(tmp)  # the package's one definition of "usable"
                if reason:
                    raise _Final("not_image", reason, row["http_status"])
                row["bytes"] = tmp.stat().st_size
                os.replace(tmp, images / name)
                row.update(status="ok", file=f"images/{name}")
                break
            except _Final as exc:
                row.update(status=exc.status, http_status=exc.http_status, error=str(exc))
                break
            except _Transient as exc:
                row.update(status=exc.status, http_status=exc.http_status, error=str(exc))
                if attempt <= retries:
                    delay = backoff * 2 ** (attempt - 1)
                    time.sleep(min(max(delay, exc.retry_after or 0), 60))
    finally:
        tmp.unlink(missing_ok=True)
    row["finished_at"] = _now()
    return row


def download_urls(urls, out_dir, workers: int = 16, timeout: float = 10.0, retries: int = 3,
                  backoff: float = 0.5, progress: bool = True, log_name: str = "downloads.csv",
                  session_factory=None, max_bytes: int = MAX_BYTES) -> pd.DataFrame:
    """Download every URL to ``out_dir/images/<url_to_filename(url)>``; return one row per URL.

    Concurrent (a thread pool, one ``requests.Session`` per thread). Only http, https and file
    URLs are fetched; redirects are followed; connection errors, timeouts, cut bodies and
    5xx/408/429 answers are retried ``retries`` times with exponential ``backoff`` (seconds),
    4xx answers are not. A body is kept only if it decodes as an image (servers lie about
    Content-Type) and is at most ``max_bytes``.

    Resumable: the outcome of every URL is appended to ``out_dir/<log_name>`` as it finishes
    (columns :data:`LOG_COLUMNS`, status one of :data:`STATUSES`), so a re-run skips URLs whose
    file exists and whose last status is ok (reported as ``skipped_existing``) and retries all
    others. After a complete run the log is compacted to the last row per URL.
    ``session_factory`` (default ``requests.Session``) lets callers set proxies, auth or mocks.
    """
    import requests  # here, not at the top: the loaders import this module for url_to_filename
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / log_name
    urls = list(dict.fromkeys(str(u).strip() for u in urls))  # dedupe, keep order
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
            s = (session_factory or requests.Session)()
            if session_factory is None:
                s.headers["User-Agent"] = USER_AGENT
            with lock:
                sessions.append(s)
            local.session = s
        return local.session

    def work(url):
        return _download_one(session(), url, images, timeout, retries, backoff, max_bytes)

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
            writer.writerow({k: "" if row[k] is None else row[k] for k in LOG_COLUMNS})
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
    tmp = log_path.with_name(f".{log_path.name}.tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, log_path)


# --------------------------------------------------------------------------------------------
# WEBEmo
# --------------------------------------------------------------------------------------------

def _sadness_fine(include_confusion: bool, categories=None) -> set[int]:
    """The fine labels counted as sadness: by level-2 name when ``categories`` (parsed
    ``category.txt``) is given, else the official indices in :mod:`sadutils.config`."""
    wanted = {"sadness", "confusion"} if include_confusion else {"sadness"}
    if categories is not None:
        return {i for i, (_, level2, _) in enumerate(categories) if level2 in wanted}
    fine = set(config.WEBEMO_SADNESS_FINE)
    return fine | {config.WEBEMO_CONFUSION_FINE} if include_confusion else fine


def download_webemo(list_file, out_dir, sample: dict | None = None, seed: int = 1234,
                    include_confusion: bool = False, category_file=None,
                    **download_kwargs) -> pd.DataFrame:
    """Download the images of a WEBEmo list (``train25.txt``/``test25.txt``) into ``out_dir``.

    URLs are deduplicated; a URL listed with labels that disagree on the binary label
    (sadness vs others) is dropped, since it cannot be labelled. ``sample`` (e.g. the paper's
    ``{"sadness": 8549, "others": 9971}``; a value of None takes the whole class, a class not
    named is left out) draws a seeded random sample per binary class with
    :func:`sadutils.datasets.sample_per_class` (the draw depends on the seed and the set of
    URLs, not their order). ``category_file`` (``category.txt``) makes the sadness group come
    from its level-2 names instead of the official indices. The list actually downloaded is
    written to
    ``out_dir/sample.txt`` in the same ``<url> <label>`` format, for traceability. Returns
    :func:`download_urls`'s table with ``fine_label`` and ``label`` columns in front; the counts
    of lines, unique URLs and conflicts are in ``result.attrs``.
    """
    from .datasets import parse_category_file, parse_webemo_list, sample_per_class

    list_file, out_dir = Path(list_file), Path(out_dir)
    categories = parse_category_file(category_file) if category_file is not None else None
    rows = parse_webemo_list(list_file, len(categories) if categories else 25)
    sad = _sadness_fine(include_confusion, categories)
    rows["label"] = [config.SADNESS if i in sad else config.OTHERS for i in rows.fine_index]
    n_labels = rows.groupby("url", sort=False)["label"].nunique()
    conflicting = set(n_labels.index[n_labels > 1])
    kept = rows[~rows.url.isin(conflicting)].drop_duplicates("url")
    if sample is not None:
        if set(sample) - set(config.CLASS_NAMES):
            raise ValueError(f"sample keys must be among {config.CLASS_NAMES}; got {sample!r}")
        counts = {c: int((kept.label == c).sum()) if n is None else n for c, n in sample.items()}
        kept = sample_per_class(kept.assign(path=kept.url), counts, seed).sort_values("line")
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".sample.txt.tmp"
    tmp.write_text("".join(f"{u} {i}\n" for u, i in zip(kept.url, kept.fine_index)),
                   encoding="utf-8")
    os.replace(tmp, out_dir / "sample.txt")
    table = download_urls(kept.url.tolist(), out_dir, **download_kwargs)
    labels = kept.set_index("url")[["fine_index", "label"]].rename(
        columns={"fine_index": "fine_label"})
    result = labels.join(table.set_index("url"), how="right").reset_index()
    result = result[["url", "fine_label", "label"] + list(LOG_COLUMNS[1:])]
    result.attrs.update(lines=len(rows), unique_urls=int(rows.url.nunique()),
                        conflicting_urls=len(conflicting), selected=len(kept))
    return result


# --------------------------------------------------------------------------------------------
# Whole datasets: ``sadutils fetch``
# --------------------------------------------------------------------------------------------


class ManualDownloadRequired(RuntimeError):
    """The dataset is behind a sign-up page: the message says where to get it and where to put
    it."""


class ChecksumMismatch(ValueError):
    """A downloaded archive's sha256 is not the published one (corrupt or tampered download)."""


@dataclass(frozen=True)
class Source:
    """A public direct download: its URL, sha256 (None where nobody publishes one) and what
    :func:`fetch` moves out of the unpacked archive (``{path in out_dir: file/folder name to
    find in the archive}``)."""

    url: str
    sha256: str | None
    targets: dict


#: The direct downloads ``sadutils fetch`` knows. No sha256 is published for these archives: the
#: computed one is recorded in ``<archive>.json`` beside the data instead.
SOURCES = {
    "emotion6": Source("http://chenlab.ece.cornell.edu/people/Kuan-Chuan/publications/Emotion6.zip",
                       None, {"images": "images", "ground_truth.txt": "ground_truth.txt"}),
    "cocotext": Source("https://github.com/bgshih/cocotext/releases/download/dl/cocotext.v2.zip",
                       None, {"cocotext.v2.json": "cocotext.v2.json"}),
    # 13 GB: opt-in by name, so `fetch cocotext` only gets the 80 MB annotations.
    "coco-train2014": Source("http://images.cocodataset.org/zips/train2014.zip",
                             None, {"train2014": "train2014"}),
}

_MANUAL = {
    "webemo": (
        "WEBEmo (Panda et al., ECCV 2018) is not a direct download: request it on the authors' "
        "project page https://rpand002.github.io/emotion.html. Put its three text files in "
        "{out}/ as {out}/category.txt, {out}/train25.txt and {out}/test25.txt, then download the "
        "images they list with sadutils.download.download_webemo('{out}/train25.txt', '{out}') "
        "(images go to {out}/images/, outcomes to {out}/downloads.csv)."),
    "unbiasedemo": (
        "UnbiasedEmo (Panda et al., ECCV 2018) is not a direct download: request it on the "
        "authors' project page https://rpand002.github.io/emotion.html. Unpack it so that the "
        "images are at {out}/images/<emotion>/<object-or-scene>/<file>.jpg with <emotion> one "
        "of anger, fear, joy, love, sadness, surprise. (Panda's 'Emotion-6', shipped with it, "
        "goes in its own folder as <dir>/images/<l1>/<l2>/<l3>/<file>.)"),
    "rgp": (
        "The no-text photos ('RGP'; Roy et al. 2018, 'Effects of degradations on deep neural "
        "network architectures') are not a direct download: get the natural-images set, e.g. "
        "the Kaggle dataset 'natural-images' by prasunroy "
        "(https://www.kaggle.com/datasets/prasunroy/natural-images, sign-in required). Unpack "
        "it so that the photos are at {out}/natural_images/<class>/<file>.jpg (classes "
        "airplane, car, cat, dog, flower, fruit, motorbike, person); any folder tree of "
        "text-free photos under {out}/ is accepted."),
}

#: Every name :func:`fetch` accepts.
FETCH_CHOICES = tuple(config.DATASETS) + ("coco-train2014",)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_archive(url: str, out_dir, sha256: str | None = None, filename: str | None = None,
                  timeout: float = 30.0, retries: int = 5, backoff: float = 1.0,
                  progress: bool = True, session=None) -> Path:
    """Download ``url`` to ``out_dir/<filename>`` resumably; return the archive's path.

    The body streams into ``<filename>.part``; a dropped connection is retried (exponential
    ``backoff``) and, like a re-run after a kill, resumes from the ``.part`` size with an HTTP
    Range request when the server honours it (206) and from scratch when it does not (200).
    The whole file is then checked against ``sha256`` (:class:`ChecksumMismatch`, the ``.part``
    is deleted) and renamed to its final name, so the final name always means "complete".
    ``<filename>.json`` records url, sha256 (computed when none was given), size and time.
    An archive already at its final name is not downloaded again.
    """
    import requests
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = filename or (PurePosixPath(unquote(urlsplit(url).path)).name or "download")
    name = _SAFE.sub("_", name)
    final, part = out_dir / name, out_dir / f"{name}.part"
    if final.exists():
        return final
    own = session is None
    session = session or requests.Session()
    try:
        for attempt in range(1, retries + 2):
            offset = part.stat().st_size if part.exists() else 0
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with session.get(url, headers=headers, stream=True,
                                 timeout=(timeout, timeout)) as r:
                    if r.status_code == 416 and offset:  # .part may already be whole
                        total = r.headers.get("Content-Range", "").rpartition("/")[2]
                        if total.isdigit() and int(total) == offset:
                            break
                        part.unlink()
                        continue
                    if r.status_code in _RETRY_HTTP:
                        raise requests.HTTPError(f"HTTP {r.status_code}", response=r)
                    r.raise_for_status()  # other 4xx: no retry
                    resumed = r.status_code == 206 and r.headers.get(
                        "Content-Range", "").startswith(f"bytes {offset}-")
                    if not resumed:
                        offset = 0
                    size = int(r.headers.get("Content-Length", 0) or 0)
                    with open(part, "ab" if resumed else "wb") as f, tqdm(
                            total=offset + size or None, initial=offset, unit="B",
                            unit_scale=True, desc=name, disable=not progress) as bar:
                        for chunk in r.iter_content(64 * 1024):  # a drop loses < 1 chunk
                            f.write(chunk)
                            bar.update(len(chunk))
                break
            except requests.HTTPError as exc:
                if exc.response is not None and exc.response.status_code not in _RETRY_HTTP:
                    raise
                if attempt > retries:
                    raise
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError):
                if attempt > retries:
                    raise
            time.sleep(backoff * 2 ** (attempt - 1))
        else:
            raise RuntimeError(f"{url}: no complete download after {retries + 1} attempts")
    finally:
        if own:
            session.close()
    actual = file_sha256(part)
    if sha256 and actual.lower() != sha256.lower():
        part.unlink()
        raise ChecksumMismatch(f"{url}: sha256 {actual} but expected {sha256}; the partial "
                               f"download was deleted, run again to retry")
    os.replace(part, final)
    _write_json(out_dir / f"{name}.json", dict(url=url, file=name, sha256=actual,
                                                 verified=bool(sha256), bytes=final.stat().st_size,
                                                 finished_at=_now()))
    return final


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _member_ok(name: str) -> bool:
    """Whether an archive member name stays inside the extraction folder."""
    name = name.replace("\\", "/")
    return not (name.startswith("/") or re.match(r"^[A-Za-z]:", name)
                or ".." in PurePosixPath(name).parts)


def safe_unpack(archive, dest) -> Path:
    """Extract a zip or tar archive into ``dest``, refusing (``ValueError``) any member with an
    absolute path or ``..`` (and, for tar, links and device files) before writing anything."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            bad = [n for n in z.namelist() if not _member_ok(n)]
            if bad:
                raise ValueError(f"{archive}: unsafe member paths {bad[:5]}")
            z.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            members = t.getmembers()
            bad = [m.name for m in members if not _member_ok(m.name)
                   or not (m.isfile() or m.isdir())]
            if bad:
                raise ValueError(f"{archive}: unsafe members {bad[:5]}")
            kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            t.extractall(dest, members=members, **kw)
    else:
        raise ValueError(f"{archive}: neither a zip nor a tar archive")
    return dest


def _find(root: Path, name: str) -> Path | None:
    """The shallowest path under ``root`` named ``name`` (archives wrap data in a top folder)."""
    hits = sorted(root.rglob(name), key=lambda p: len(p.parts))
    return hits[0] if hits else None


def fetch(dataset: str, out_dir, force: bool = False) -> Path:
    """Download and unpack a public dataset into ``out_dir`` in the layout its loader reads.

    ``emotion6`` → ``out_dir/images/<emotion>/<n>.jpg`` and ``out_dir/ground_truth.txt``;
    ``cocotext`` → ``out_dir/cocotext.v2.json``; ``coco-train2014`` (13 GB, opt-in) →
    ``out_dir/train2014/``. Datasets behind sign-up pages (webemo, unbiasedemo, rgp) raise
    :class:`ManualDownloadRequired` saying where to get them and where to put them. Done once:
    a second call returns at once unless ``force``. The archive is deleted after unpacking; its
    ``<archive>.json`` (url, sha256) stays as the record of what was fetched.
    """
    config.check_choice("dataset", dataset, FETCH_CHOICES)
    out_dir = Path(out_dir)
    if dataset in _MANUAL:
        raise ManualDownloadRequired(_MANUAL[dataset].format(out=out_dir))
    src = SOURCES[dataset]
    name = PurePosixPath(urlsplit(src.url).path).name
    record = out_dir / f"{name}.json"
    done = all((out_dir / t).exists() for t in src.targets)
    if not force and done and record.exists() and "unpacked" in json.loads(record.read_text()):
        return out_dir
    if force:
        for p in (out_dir / name, out_dir / f"{name}.part", record):
            p.unlink(missing_ok=True)
    archive = fetch_archive(src.url, out_dir, sha256=src.sha256, filename=name)
    work = out_dir / f".unpack-{dataset}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        safe_unpack(archive, work)
        for target, member in src.targets.items():
            found = _find(work, member)
            if found is None:
                top = sorted(p.name for p in work.iterdir())
                raise ValueError(f"{archive.name}: no {member!r} inside (top level: {top}); "
                                 f"the archive's layout changed, unpack it by hand")
            dest = out_dir / target
            if dest.is_dir():
                shutil.rmtree(dest)
            elif dest.exists():
                dest.unlink()
            os.replace(found, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = json.loads(record.read_text())
    _write_json(record, {**meta, "unpacked": sorted(src.targets)})
    archive.unlink()
    return out_dir
