"""What every dataset loader shares: the errors, the result type and the folder walking.

A loader turns a dataset's files on disk into a *manifest*: a table with one row per usable
image and at least the columns :data:`~sadutils.config.MANIFEST_COLUMNS` (``path``, absolute;
``label``, the binary label; ``fine_label``, the dataset's own class; ``dataset``). Every loader
returns a :class:`Loaded`: the manifest, the files it refused with the reason (nothing is
dropped silently) and counts describing what it found. Malformed files raise
:class:`FormatError` naming the file, the line and what was expected.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import MANIFEST_COLUMNS
from .images import check_images, is_image_file

_SKIP_DIRS = ("__MACOSX",)


class FormatError(ValueError):
    """A dataset file that does not have the documented format.

    The message names the file, the line (when there is one), what was expected and what was
    found, so that a user can open the file and fix or replace it.
    """


def format_error(path, expected: str, found=None, line: int | None = None) -> FormatError:
    """A :class:`FormatError` naming the file, the line, what was expected and what was found.

    Parameters
    ----------
    path : path
    expected : str
        What the file should hold there, in words.
    found : object, optional
        What it holds instead (shortened to 200 characters).
    line : int, optional
        1-based line number.

    Returns
    -------
    FormatError
        With ``path`` and ``line`` attributes.
    """
    where = f"{path}, line {line}" if line is not None else f"{path}"
    text = f"{where}: expected {expected}"
    if found is not None:
        found = str(found)
        text += f"; found {found[:200] + '...' if len(found) > 200 else found!r}"
    err = FormatError(text)
    err.path, err.line = str(path), line
    return err


@dataclass
class Loaded:
    """What a loader found.

    Attributes
    ----------
    manifest : DataFrame
        Usable images, sorted by path; columns start with MANIFEST_COLUMNS.
    rejected : DataFrame
        Columns ``path``, ``reason``: image files found but refused (unreadable, misplaced).
    info : dict
        Counts (JSON-serialisable) describing the dataset as found on disk.
    """

    manifest: pd.DataFrame
    rejected: pd.DataFrame
    info: dict = field(default_factory=dict)


def dataset_root(root, name: str, expected: str) -> Path:
    """A dataset's folder as an absolute path.

    Parameters
    ----------
    root : path
    name : str
        The dataset's name, for the message.
    expected : str
        What the folder should hold, for the message.

    Returns
    -------
    Path

    Raises
    ------
    FileNotFoundError
        When the folder does not exist, saying what should be there.
    """
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
    if not path.is_dir():
        raise FileNotFoundError(f"{name} folder not found: {path} (expected {expected})")
    return path


def descend(root: Path, marker: str) -> Path:
    """``root``, or its only sub-folder holding ``marker`` (an unpacked zip's top folder).

    Parameters
    ----------
    root : Path
    marker : str
        A file or folder name the dataset's own folder holds (``images``).

    Returns
    -------
    Path
    """
    if (root / marker).exists():
        return root
    subs = [d for d in root.iterdir() if d.is_dir() and (d / marker).exists()]
    return subs[0] if len(subs) == 1 else root


def walk_images(base: Path):
    """The image files under a folder, by extension.

    Hidden folders and ``__MACOSX`` are skipped. Symlinked folders are followed, but each real
    folder is visited once: a link that loops back (or a second link to the same folder) would
    otherwise list the same images many times and leak them across a train/test split.

    Parameters
    ----------
    base : Path

    Returns
    -------
    images : list of Path
        Sorted by folder, then name.
    rejected : list of tuple
        ``(path, reason)`` of refused files (macOS ``._`` metadata files).
    ignored : int
        Files that are not images by their extension.
    """
    images, rejected, ignored = [], [], 0
    seen = set()
    for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS
                             and os.path.realpath(os.path.join(dirpath, d)) not in seen)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not is_image_file(name):
                ignored += 1
            elif name.startswith("._"):
                rejected.append((str(path), "macOS metadata file ('._' AppleDouble), not an image"))
            else:
                images.append(path)
    return images, rejected, ignored


def label_counts(series: pd.Series) -> dict:
    """``{label: count}`` of a column, labels sorted, as plain ``str`` and ``int``."""
    return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}


def finish(rows, columns, dataset: str, info: dict, rejected=(), check=True, workers=4,
            progress=False) -> Loaded:
    """Sort, check the images and assemble the :class:`Loaded` every loader returns.

    Parameters
    ----------
    rows : list of tuple
        One per image found, in ``columns`` order.
    columns : list of str
        Must include ``path``, ``label`` and ``fine_label``.
    dataset : str
    info : dict
        The loader's counts; updated with ``n_images``, ``n_rejected``, ``checked``,
        ``by_label``.
    rejected : iterable of tuple
        ``(path, reason)`` the loader refused already.
    check : bool
        Open every image (:func:`sadutils.data.images.check_images`) and refuse unreadable ones.
    workers : int
    progress : bool

    Returns
    -------
    Loaded
    """
    df = pd.DataFrame(rows, columns=columns)
    df["dataset"] = dataset
    df = df[list(MANIFEST_COLUMNS) + [c for c in columns if c not in MANIFEST_COLUMNS]]
    df = df.sort_values("path", kind="stable").reset_index(drop=True)
    rejected = list(rejected)
    if check and len(df):
        bad = check_images(df["path"], workers=workers, progress=progress)
        rejected += bad.items()
        df = df[~df["path"].isin(list(bad))].reset_index(drop=True)
    rej = pd.DataFrame(rejected, columns=["path", "reason"]).sort_values("path", kind="stable")
    info.update(n_images=len(df), n_rejected=len(rej), checked=bool(check),
                by_label=label_counts(df["label"]))
    return Loaded(df, rej.reset_index(drop=True), info)


def read_text(path: Path) -> str:
    """A text file's content (UTF-8, an optional byte-order mark dropped).

    Raises
    ------
    FormatError
        For bytes that are not UTF-8, naming the offset.
    """
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise format_error(path, "UTF-8 text", f"undecodable byte at offset {e.start}") from None

