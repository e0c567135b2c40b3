"""``sadutils fetch``: whole public datasets, downloaded resumably and unpacked safely.

:func:`fetch_archive` fetches one big archive (Cornell Emotion6, COCO-Text, MS-COCO train2014)
with HTTP Range resume and a checksum; :func:`fetch` unpacks it (refusing members that would
land outside the folder) into the layout the loaders read. Datasets behind sign-up pages raise
:class:`ManualDownloadRequired` saying where to get them and where to put them.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import requests
from tqdm import tqdm  # plain bars: tqdm.auto warns in kernels without ipywidgets

from ..config import DATASETS, check_choice
from ..fileio import file_sha256, sync_file, sync_folder, write_json
from .download import RETRY_HTTP
from .transport import (Deadline, DeadlineExpired, check_timeout, deadline_session,
                        run_with_deadline)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ManualDownloadRequired(RuntimeError):
    """The dataset is behind a sign-up page: the message says where to get it and where to put
    it."""


class ChecksumMismatch(ValueError):
    """A downloaded archive's sha256 is not the published one (corrupt or tampered download)."""


@dataclass(frozen=True)
class Source:
    """A public direct download: its URL, sha256 (None where nobody publishes one), what
    :func:`fetch` moves out of the unpacked archive (``{path in out_dir: file/folder name to
    find in the archive}``) and the largest archive accepted (a few times its known size)."""

    url: str
    sha256: str | None
    targets: dict
    max_bytes: int = 2 * 2**30


#: The direct downloads ``sadutils fetch`` knows. No sha256 is published for these archives: the
#: computed one is recorded in ``<archive>.json`` beside the data instead.
SOURCES = {
    "emotion6": Source("http://chenlab.ece.cornell.edu/people/Kuan-Chuan/publications/Emotion6.zip",
                       None, {"images": "images", "ground_truth.txt": "ground_truth.txt"}),
    "cocotext": Source("https://github.com/bgshih/cocotext/releases/download/dl/cocotext.v2.zip",
                       None, {"cocotext.v2.json": "cocotext.v2.json"}),
    # 13 GB: opt-in by name, so `fetch cocotext` only gets the 80 MB annotations.
    "coco-train2014": Source("http://images.cocodataset.org/zips/train2014.zip",
                             None, {"train2014": "train2014"}, max_bytes=20 * 2**30),
}

_MANUAL = {
    "webemo": (
        "WEBEmo (Panda et al., ECCV 2018) is not a direct download: request it on the authors' "
        "project page https://rpand002.github.io/emotion.html. Put its three text files in "
        "{out}/ as {out}/category.txt, {out}/train25.txt and {out}/test25.txt, then download the "
        "images they list with `sadutils download-webemo {out}/train25.txt --out {out}` "
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
FETCH_CHOICES = tuple(DATASETS) + ("coco-train2014",)


def fetch_archive(url: str, out_dir, sha256: str | None = None, filename: str | None = None,
                  timeout: float = 30.0, retries: int = 5, backoff: float = 1.0,
                  progress: bool = True, session=None, max_bytes: int | None = None) -> Path:
    """Download ``url`` to ``out_dir/<filename>`` resumably; return the archive's path.

    The body streams into ``<filename>.part``; a dropped connection is retried (exponential
    ``backoff``) and, like a re-run after a kill, resumes from the ``.part`` size with an HTTP
    Range request when the server honours it (206) and from scratch when it does not (200).
    The whole file is then checked against ``sha256`` (:class:`ChecksumMismatch`, the ``.part``
    is deleted) and renamed to its final name, so the final name always means "complete".
    ``<filename>.json`` records url, sha256 (computed when none was given), size and time.
    An archive already at its final name is not downloaded again.

    Limits that hold whatever the server does: the answer's headers must arrive within
    ``timeout`` seconds and then every 64 KiB of the body within ``timeout`` seconds (a server
    that stalls or trickles is cut off and the attempt retried, resuming); the archive may not
    exceed ``max_bytes`` (refused before the body when Content-Length says so, else when the
    body passes it; the ``.part`` is then deleted).

    Parameters
    ----------
    url : str
    out_dir : path
    sha256 : str, optional
    filename : str, optional
    timeout : float
        Seconds (finite, > 0) for the headers, then for each 64 KiB of the body.
    retries : int
    backoff : float
    progress : bool
    session : requests.Session, optional
        Default a session whose sockets obey the time limit.
    max_bytes : int, optional
        The largest archive accepted (default no cap).

    Returns
    -------
    Path

    Raises
    ------
    ChecksumMismatch
        When the archive's sha256 is not ``sha256``.
    ValueError
        For a bad ``timeout``, or an archive over ``max_bytes``.
    requests.RequestException
        When no attempt succeeded.
    """
    timeout = check_timeout("timeout", timeout)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = filename or (PurePosixPath(unquote(urlsplit(url).path)).name or "download")
    name = _SAFE.sub("_", name)
    final, part = out_dir / name, out_dir / f"{name}.part"
    if final.exists():
        return final
    own = session is None
    session = session or deadline_session()

    def too_large(size):
        part.unlink(missing_ok=True)
        return ValueError(f"{url}: {size} bytes, over the limit of {max_bytes} for this "
                          f"archive; the partial download was deleted")

    def attempt(deadline) -> bool:
        """One request; True when the .part is complete."""
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with session.get(url, headers=headers, stream=True, timeout=(timeout, timeout)) as r:
            if r.status_code == 416 and offset:  # .part may already be whole
                total = r.headers.get("Content-Range", "").rpartition("/")[2]
                if total.isascii() and total.isdigit() and int(total) == offset:
                    return True
                part.unlink()
                return False
            if r.status_code in RETRY_HTTP:
                raise requests.HTTPError(f"HTTP {r.status_code}", response=r)
            r.raise_for_status()  # other 4xx: no retry
            resumed = r.status_code == 206 and r.headers.get(
                "Content-Range", "").startswith(f"bytes {offset}-")
            if not resumed:
                offset = 0
            declared = r.headers.get("Content-Length", "").strip()
            size = int(declared) if declared.isascii() and declared.isdigit() else 0
            if max_bytes is not None and offset + size > max_bytes:
                raise too_large(offset + size)
            written = offset
            with open(part, "ab" if resumed else "wb") as f, tqdm(
                    total=offset + size or None, initial=offset, unit="B",
                    unit_scale=True, desc=name, disable=not progress) as bar:
                for chunk in r.iter_content(64 * 1024):  # a drop loses < 1 chunk
                    if deadline.expired:
                        break
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        raise too_large(written)
                    f.write(chunk)
                    bar.update(len(chunk))
                    deadline.renew()  # progress: another `timeout` for the next chunk
            if deadline.expired:  # a shut-down socket can look like the end of the body
                raise requests.Timeout(f"no progress for {timeout:g} s")
            return True

    try:
        for attempt_number in range(1, retries + 2):
            try:
                if run_with_deadline(attempt, Deadline(timeout)):
                    break
                continue
            except requests.HTTPError as exc:
                if exc.response is not None and exc.response.status_code not in RETRY_HTTP:
                    raise
                if attempt_number > retries:
                    raise
            except DeadlineExpired as exc:
                if attempt_number > retries:
                    raise requests.Timeout(f"{url}: no progress for {timeout:g} s ({exc})") \
                        from exc
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError):
                if attempt_number > retries:
                    raise
            time.sleep(backoff * 2 ** (attempt_number - 1))
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
    sync_file(part)  # the archive's bytes on disk before its name says it is complete
    os.replace(part, final)
    sync_folder(final.parent)
    write_json(out_dir / f"{name}.json", dict(url=url, file=name, sha256=actual,
                                                 verified=bool(sha256), bytes=final.stat().st_size,
                                                 finished_at=_now()))
    return final


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


def _read_record(path: Path) -> dict:
    """The ``<archive>.json`` record as a dict; empty when missing, unreadable or not one
    (then the archive counts as not fetched, and is fetched again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def fetch(dataset: str, out_dir, force: bool = False) -> Path:
    """Download and unpack a public dataset into ``out_dir`` in the layout its loader reads.

    ``emotion6`` → ``out_dir/images/<emotion>/<n>.jpg`` and ``out_dir/ground_truth.txt``;
    ``cocotext`` → ``out_dir/cocotext.v2.json``; ``coco-train2014`` (13 GB, opt-in) →
    ``out_dir/train2014/``. Datasets behind sign-up pages (webemo, unbiasedemo, rgp) raise
    :class:`ManualDownloadRequired` saying where to get them and where to put them. Done once:
    a second call returns at once unless ``force``. The archive is deleted after unpacking; its
    ``<archive>.json`` (url, sha256) stays as the record of what was fetched.
    """
    check_choice("dataset", dataset, FETCH_CHOICES)
    out_dir = Path(out_dir)
    if dataset in _MANUAL:
        raise ManualDownloadRequired(_MANUAL[dataset].format(out=out_dir))
    src = SOURCES[dataset]
    name = PurePosixPath(urlsplit(src.url).path).name
    record = out_dir / f"{name}.json"
    done = all((out_dir / t).exists() for t in src.targets)
    if not force and done and "unpacked" in _read_record(record):
        return out_dir
    if force:
        for p in (out_dir / name, out_dir / f"{name}.part", record):
            p.unlink(missing_ok=True)
    archive = fetch_archive(src.url, out_dir, sha256=src.sha256, filename=name,
                            max_bytes=src.max_bytes)
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
    meta = _read_record(record)
    write_json(record, {**meta, "unpacked": sorted(src.targets)})
    archive.unlink()
    return out_dir
