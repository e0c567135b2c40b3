"""Dataset loaders: one per dataset of the paper, each turning files on disk into a manifest.

A manifest is a table with one row per usable image and at least the columns
:data:`~sadutils.config.MANIFEST_COLUMNS`: ``path`` (absolute), ``label`` (the binary label:
sadness/others, or text/no_text), ``fine_label`` (the dataset's own class name) and ``dataset``.
Every loader returns a :class:`Loaded`: the manifest, the images it refused with the reason
(nothing is dropped silently), and counts describing what it found. The on-disk formats are
those of the real datasets (``shared/DATASETS.md``); malformed files raise :class:`FormatError`
naming the file, the line and what was expected.

The module also holds the sampling, splitting and manifest file helpers that the experiments
share, so that a split made once is reproducible from the seed alone.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .config import (DATASETS, MANIFEST_COLUMNS, NO_TEXT, OTHERS, SADNESS, TEXT,
                     WEBEMO_CONFUSION_FINE, WEBEMO_SADNESS_FINE, check_choice)
from .download import url_to_filename
from .images import check_images, is_image_file

UNBIASEDEMO_EMOTIONS = ("anger", "fear", "joy", "love", "sadness", "surprise")
EMOTION6_EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
#: Probability columns of Cornell Emotion6's ground_truth.txt, in file order.
EMOTION6_PROBS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
_SKIP_DIRS = ("__MACOSX",)


class FormatError(ValueError):
    """A dataset file that does not have the documented format.

    The message names the file, the line (when there is one), what was expected and what was
    found, so that a user can open the file and fix or replace it.
    """


def _format_error(path, expected: str, found=None, line: int | None = None) -> FormatError:
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


# ----------------------------------------------------------------------------- shared helpers

def _root(root, name: str, expected: str) -> Path:
    """Absolute ``root``; FileNotFoundError saying what should be there when it is missing."""
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
    if not path.is_dir():
        raise FileNotFoundError(f"{name} folder not found: {path} (expected {expected})")
    return path


def _descend(root: Path, marker: str) -> Path:
    """``root``, or its only sub-folder holding ``marker`` (a zip's extracted top folder)."""
    if (root / marker).exists():
        return root
    subs = [d for d in root.iterdir() if d.is_dir() and (d / marker).exists()]
    return subs[0] if len(subs) == 1 else root


def _walk_images(base: Path):
    """Image files under ``base`` (by extension), refused AppleDouble files, count of others.

    Hidden folders and ``__MACOSX`` are skipped; symlinked folders are followed.
    """
    images, rejected, ignored = [], [], 0
    for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not is_image_file(name):
                ignored += 1
            elif name.startswith("._"):
                rejected.append((str(path), "macOS metadata file ('._' AppleDouble), not an image"))
            else:
                images.append(path)
    return images, rejected, ignored


def _counts(series: pd.Series) -> dict:
    return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}


def _finish(rows, columns, dataset: str, info: dict, rejected=(), check=True, workers=4,
            progress=False) -> Loaded:
    """Sort, check images, and assemble the :class:`Loaded` every loader returns."""
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
                by_label=_counts(df["label"]))
    return Loaded(df, rej.reset_index(drop=True), info)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise _format_error(path, "UTF-8 text", f"undecodable byte at offset {e.start}") from None


# ----------------------------------------------------------------------------- WEBEmo

def parse_category_file(path) -> list[tuple[str, str, str]]:
    """Parse WEBEmo's ``category.txt`` into ``(level3, level2, polarity)`` tuples.

    The file is Python-like text (``labels=[('affection', 'love', '+'), ...]``, possibly over
    several lines, after a comment). It is parsed with :mod:`ast` (never evaluated), so a
    hostile file cannot run code. The list order is the label index order of the list files.

    Raises
    ------
    FormatError
        When there is no ``labels=`` list, it does not parse, or an entry is not three strings.
    """
    path = Path(path)
    text = _read_text(path)
    expected = "labels=[('level3', 'level2', '+' or '-'), ...]"
    m = re.search(r"^[ \t]*labels[ \t]*=[ \t]*(?=[\[(])", text, re.M)
    if not m:
        raise _format_error(path, f"a line starting {expected}", "no 'labels=' assignment")
    first_line = text.count("\n", 0, m.end()) + 1
    frag = text[m.end():]
    node, error, closer = None, None, "]" if frag[0] == "[" else ")"
    for close in (i for i, c in enumerate(frag) if c == closer):  # shortest prefix that parses
        try:
            node = ast.parse(frag[:close + 1], mode="eval").body
            break
        except SyntaxError as e:
            error = e
    if node is None:
        line = first_line + ((error.lineno or 1) - 1 if error else 0)
        found = f"unparsable text ({error.msg})" if error else f"no closing '{closer}'"
        raise _format_error(path, expected, found, line)
    if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
        raise _format_error(path, expected, ast.get_source_segment(frag, node), first_line)
    labels = []
    for elt in node.elts:
        try:
            value = ast.literal_eval(elt)
        except Exception:  # ValueError for calls and names; anything else is just as malformed
            value = None
        if not (isinstance(value, (tuple, list)) and len(value) == 3
                and all(isinstance(v, str) for v in value)):
            raise _format_error(path, "a tuple of three strings (level3, level2, polarity)",
                                ast.get_source_segment(frag, elt), first_line + elt.lineno - 1)
        labels.append(tuple(value))
    return labels


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S")


def parse_webemo_list(path, n_classes: int = 25) -> pd.DataFrame:
    """Parse a WEBEmo list file (``train25.txt``, ``test25.txt``): lines ``<url> <label>``.

    Trailing whitespace, CRLF line ends and blank lines are tolerated.

    Returns
    -------
    DataFrame with columns ``url``, ``fine_index`` (int, 0..n_classes-1) and ``line`` (1-based
    line number, to trace a row back to the file).

    Raises
    ------
    FormatError
        On the first malformed line, naming the file, the line number and its content.
    """
    path = Path(path)
    urls, labels, lines = [], [], []
    expected = f"'<url> <label>' with an integer label 0..{n_classes - 1}"
    for number, raw in enumerate(_read_text(path).splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        parts = line.rsplit(None, 1)
        if (len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) >= n_classes
                or not _URL.match(parts[0])):
            raise _format_error(path, expected, raw, number)
        urls.append(parts[0])
        labels.append(int(parts[1]))
        lines.append(number)
    return pd.DataFrame({"url": pd.Series(urls, dtype=object),
                         "fine_index": pd.Series(labels, dtype="int64"),
                         "line": pd.Series(lines, dtype="int64")})


_WEBEMO_EXPECTED = "category.txt, train25.txt/test25.txt and images/"


def webemo_urls(root, lists=("train25.txt", "test25.txt"), include_confusion: bool = False):
    """The deduplicated WEBEmo URL table, with labels, whether downloaded or not.

    This is what the downloader samples from. URLs are deduplicated across all list files: a URL
    whose lines disagree on the *binary* label is ambiguous and dropped (``test25.txt`` has 734
    such URLs); one whose lines differ only in the fine label keeps its first line.

    Parameters
    ----------
    root : path
        Folder holding ``category.txt`` and the list files.
    lists : sequence of str
        List files to read (names under ``root`` or absolute paths); those missing are skipped
        and reported, but at least one must exist.
    include_confusion : bool
        Count fine label ``confusion`` as sadness (some third-party code does; the official
        hierarchy makes it its own group, hence off by default).

    Returns
    -------
    table : DataFrame
        Columns ``url``, ``fine_index``, ``fine_label``, ``label``, ``source_list``, in order of
        first appearance.
    info : dict
        ``n_lines``, ``n_unique_urls``, ``n_duplicate_lines``, ``n_conflicting_urls`` (dropped),
        ``n_fine_label_disagreements`` (kept, first wins), ``n_urls``, ``urls_by_label``,
        ``lists``, ``missing_lists``.
    """
    root = _root(root, "WEBEmo", _WEBEMO_EXPECTED)
    if not (root / "category.txt").is_file():
        raise FileNotFoundError(f"{root / 'category.txt'} not found (expected {_WEBEMO_EXPECTED} in {root})")
    categories = parse_category_file(root / "category.txt")
    lists = [lists] if isinstance(lists, (str, os.PathLike)) else list(lists)
    present = [name for name in lists if (root / name).is_file()]
    if not present:
        raise FileNotFoundError(f"none of the list files {', '.join(map(str, lists))} found in {root} "
                                f"(expected {_WEBEMO_EXPECTED})")
    frames = [parse_webemo_list(root / name, len(categories)).assign(source_list=Path(name).name)
              for name in present]
    df = pd.concat(frames, ignore_index=True)
    sad = set(WEBEMO_SADNESS_FINE) | ({WEBEMO_CONFUSION_FINE} if include_confusion else set())
    df["label"] = np.where(df["fine_index"].isin(sad), SADNESS, OTHERS)
    df["fine_label"] = [categories[i][0] for i in df["fine_index"]]
    per_url = df.groupby("url", sort=False).agg(n_labels=("label", "nunique"),
                                                 n_fine=("fine_index", "nunique"))
    conflicting = per_url.index[per_url["n_labels"] > 1]
    table = (df[~df["url"].isin(conflicting)].drop_duplicates("url", keep="first")
             [["url", "fine_index", "fine_label", "label", "source_list"]].reset_index(drop=True))
    info = dict(
        lists=[str(n) for n in present], missing_lists=[str(n) for n in lists if n not in present],
        n_lines=len(df), n_unique_urls=len(per_url), n_duplicate_lines=len(df) - len(per_url),
        n_conflicting_urls=len(conflicting),
        n_fine_label_disagreements=int(((per_url["n_fine"] > 1) & (per_url["n_labels"] == 1)).sum()),
        n_urls=len(table), urls_by_label=_counts(table["label"]), include_confusion=include_confusion,
    )
    return table, info


def load_webemo(root, lists=("train25.txt", "test25.txt"), include_confusion: bool = False,
                check: bool = True, images_dir: str = "images", workers: int = 4,
                progress: bool = False) -> Loaded:
    """Load WEBEmo: the deduplicated URL table joined with the downloaded images.

    An image is expected at ``root/images_dir/url_to_filename(url)`` (where the downloader saves
    it). Binary label: fine labels of the level-2 group sadness (4, 13, 19, 20, 21, 23) ->
    ``sadness``, all others -> ``others`` (see ``include_confusion`` in :func:`webemo_urls`).

    Returns
    -------
    Loaded
        Manifest extra columns: ``url``, ``fine_index``, ``source_list``. ``info`` holds the
        :func:`webemo_urls` counts plus ``n_downloaded`` (image file present), ``n_missing``
        (not downloaded) and ``n_unlisted_files`` (files in the image folder no URL maps to).
    """
    table, info = webemo_urls(root, lists, include_confusion)
    root = _root(root, "WEBEmo", _WEBEMO_EXPECTED)
    folder = root / images_dir
    if not folder.is_dir():
        raise FileNotFoundError(f"WEBEmo image folder not found: {folder} (expected the images "
                                f"downloaded from the URLs in {', '.join(info['lists'])})")
    on_disk = set(os.listdir(folder))
    names = table["url"].map(url_to_filename)
    present = names.isin(on_disk)
    rows = table[present].assign(path=[str(folder / n) for n in names[present]])
    info.update(root=str(root), n_downloaded=int(present.sum()), n_missing=int((~present).sum()),
                n_unlisted_files=len(on_disk - set(names)))
    columns = ["path", "label", "fine_label", "url", "fine_index", "source_list"]
    return _finish(rows[columns], columns, "webemo", info, (), check, workers, progress)


# ----------------------------------------------------------------------------- UnbiasedEmo

def load_unbiasedemo(root, check: bool = True, workers: int = 4, progress: bool = False) -> Loaded:
    """Load UnbiasedEmo: ``root/images/<emotion>/<object>/<file>``.

    ``root`` may also be the folder holding the emotion folders, or a folder whose only
    sub-folder holds ``images/``. Emotion folder names are matched case-insensitively; binary
    label ``sadness`` for the sadness folder, ``others`` for the five others.

    Returns
    -------
    Loaded
        ``fine_label`` is the emotion, extra column ``object`` (the object/scene folder, "" for
        an image directly in the emotion folder). Images outside any emotion folder are rejected.

    Raises
    ------
    FormatError
        For a folder that is not one of the six emotions (naming it and the expected ones).
    """
    expected = f"images/<emotion>/<object>/<file>, emotions {', '.join(UNBIASEDEMO_EMOTIONS)}"
    base = _descend(_root(root, "UnbiasedEmo", expected), "images")
    base = base / "images" if (base / "images").is_dir() else base
    images, rejected, ignored = _walk_images(base)
    rows = []
    for path in images:
        parts = path.relative_to(base).parts
        if len(parts) < 2:
            rejected.append((str(path), "image outside any emotion folder"))
            continue
        emotion = parts[0].lower()
        if emotion not in UNBIASEDEMO_EMOTIONS:
            raise _format_error(base / parts[0], f"an emotion folder ({', '.join(UNBIASEDEMO_EMOTIONS)})",
                                parts[0])
        rows.append((str(path), SADNESS if emotion == SADNESS else OTHERS, emotion,
                     parts[1] if len(parts) > 2 else ""))
    if not rows and not rejected:
        raise FileNotFoundError(f"no images found under {base} (expected {expected})")
    info = dict(root=str(base), n_files_ignored=ignored)
    return _finish(rows, ["path", "label", "fine_label", "object"], "unbiasedemo", info, rejected,
                   check, workers, progress)


# ----------------------------------------------------------------------------- Emotion-6

def _read_ground_truth(path: Path | None) -> pd.DataFrame:
    """Cornell Emotion6 ``ground_truth.txt`` as a table indexed by lower-cased relative path.

    The first line is skipped as a header unless it is itself a valid row. None gives an empty
    table (no ground truth).
    """
    rows = []
    columns = ["key", "valence", "arousal", *(f"p_{e}" for e in EMOTION6_PROBS)]
    if path is None:
        return pd.DataFrame(columns=columns, dtype=float).set_index("key")
    expected = ("10 whitespace-separated fields: <emotion>/<n>.jpg valence arousal p_anger "
                "p_disgust p_fear p_joy p_sadness p_surprise p_neutral")
    for number, raw in enumerate(_read_text(path).splitlines(), 1):
        fields = raw.split()
        if not fields:
            continue
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError:
            values = None
        if number == 1 and (values is None or len(fields) != 10):
            continue  # the header line
        if values is None or len(fields) != 10:
            raise _format_error(path, expected, raw, number)
        rows.append([fields[0].replace("\\", "/").lower(), *values])
    return pd.DataFrame(rows, columns=columns).drop_duplicates("key").set_index("key")


def load_emotion6(root, layout: str = "auto", label_from: str = "folder", check: bool = True,
                  workers: int = 4, progress: bool = False) -> Loaded:
    """Load either dataset called Emotion-6 (the paper does not say which it used).

    Parameters
    ----------
    root : path
        The dataset folder (or a folder whose only sub-folder is it, e.g. the Cornell zip's
        ``Emotion6/``), holding ``images/``.
    layout : {"auto", "cornell", "panda"}
        ``"cornell"``: Cornell Emotion6, ``images/<emotion>/<n>.jpg`` plus ``ground_truth.txt``.
        ``"panda"``: Panda et al.'s multi-level ``images/<l1>/<l2>/<l3>/<file>``. ``"auto"``
        picks cornell when ground_truth.txt exists or every image is exactly one folder deep.
    label_from : {"folder", "argmax"}
        Cornell only. ``"folder"``: sadness iff the image is in the sadness folder.
        ``"argmax"``: sadness iff p_sadness is the largest of the seven probabilities of
        ground_truth.txt (which is then required). Ties go to the first maximum in file order
        (anger, disgust, fear, joy, sadness, surprise, neutral): sadness tied with anger,
        disgust, fear or joy is not sadness; tied only with surprise or neutral, it is.

    Returns
    -------
    Loaded
        Cornell: ``fine_label`` is the folder emotion (``"folder"``) or the argmax emotion
        (``"argmax"``); extra columns ``folder``, ``valence``, ``arousal``, ``p_<emotion>`` and
        ``argmax_emotion`` (NaN when there is no ground truth). Panda: ``fine_label`` is the
        folder path under images/ (e.g. ``"sadness/grief/alone"``), sadness iff any folder in
        it is named sadness (case-insensitive). ``info["layout"]`` says which was used.
    """
    check_choice("layout", layout, ("auto", "cornell", "panda"))
    check_choice("label_from", label_from, ("folder", "argmax"))
    expected = ("images/<emotion>/<n>.jpg and ground_truth.txt (Cornell Emotion6) or "
                "images/<l1>/<l2>/<l3>/<file> (Panda et al.'s Emotion-6)")
    base = _descend(_root(root, "Emotion-6", expected), "images")
    folder = base / "images" if (base / "images").is_dir() else base
    gt_path = base / "ground_truth.txt"
    images, rejected, ignored = _walk_images(folder)
    if not images and not rejected:
        raise FileNotFoundError(f"no images found under {folder} (expected {expected})")
    rel = [p.relative_to(folder) for p in images]
    if layout == "auto":
        layout = "cornell" if gt_path.is_file() or all(len(r.parts) == 2 for r in rel) else "panda"
    info = dict(root=str(base), layout=layout, n_files_ignored=ignored)
    if layout == "panda" and label_from == "argmax":
        raise ValueError(f"label_from='argmax' needs the Cornell layout (ground_truth.txt); "
                         f"{folder} has the Panda layout")
    if layout == "panda":
        rows = []
        for path, r in zip(images, rel):
            dirs = [d.lower() for d in r.parts[:-1]]
            rows.append((str(path), SADNESS if SADNESS in dirs else OTHERS, "/".join(r.parts[:-1])))
        return _finish(rows, ["path", "label", "fine_label"], "emotion6", info, rejected, check,
                       workers, progress)

    if label_from == "argmax" and not gt_path.is_file():
        raise FileNotFoundError(f"{gt_path} not found; label_from='argmax' needs Cornell "
                                f"Emotion6's ground_truth.txt")
    gt = _read_ground_truth(gt_path if gt_path.is_file() else None)
    probs = [f"p_{e}" for e in EMOTION6_PROBS]
    rows = []
    for path, r in zip(images, rel):
        if len(r.parts) != 2:
            rejected.append((str(path), "not in the Cornell layout images/<emotion>/<file>"))
            continue
        emotion = r.parts[0].lower()
        if emotion not in EMOTION6_EMOTIONS:
            raise _format_error(folder / r.parts[0], f"an emotion folder ({', '.join(EMOTION6_EMOTIONS)})",
                                r.parts[0])
        key = r.as_posix().lower()
        if key in gt.index:
            values = gt.loc[key].tolist()
            argmax = EMOTION6_PROBS[int(np.argmax(gt.loc[key, probs].to_numpy()))]
        elif label_from == "argmax":
            rejected.append((str(path), f"no row in {gt_path.name} (needed for label_from='argmax')"))
            continue
        else:
            values, argmax = [np.nan] * len(gt.columns), None
        fine = argmax if label_from == "argmax" else emotion
        rows.append((str(path), SADNESS if fine == SADNESS else OTHERS, fine, emotion, *values, argmax))
    info.update(label_from=label_from, ground_truth=str(gt_path) if gt_path.is_file() else None,
                n_without_ground_truth=sum(r[-1] is None for r in rows),
                n_ground_truth_rows_without_image=len(set(gt.index) - {r.as_posix().lower() for r in rel}))
    columns = ["path", "label", "fine_label", "folder", *gt.columns, "argmax_emotion"]
    return _finish(rows, columns, "emotion6", info, rejected, check, workers, progress)


# ----------------------------------------------------------------------------- COCO-Text

def load_cocotext(root, annotations: str = "cocotext.v2.json", images_dir: str = "train2014",
                  check: bool = True, include_no_text: bool = False, workers: int = 4,
                  progress: bool = False) -> Loaded:
    """Load COCO-Text v2: MS-COCO images that contain legible text.

    An image has text iff at least one of its annotations is ``legibility == "legible"``.
    Images whose annotations are all illegible are ambiguous and excluded (counted in
    ``info["n_illegible_only"]``). Images listed in the JSON but absent from ``images_dir`` are
    counted (``n_missing``), not rejected: users often hold a subset of train2014.

    Parameters
    ----------
    annotations : str
        The JSON file, under ``root`` or absolute.
    images_dir : str
        The folder of the COCO images, under ``root`` or absolute.
    include_no_text : bool
        Also include images with no text annotation at all, labelled ``no_text``.

    Returns
    -------
    Loaded
        ``label`` ``text`` (fine_label ``legible_text``) or ``no_text`` (fine_label
        ``no_annotations``); extra columns ``image_id``, ``n_legible`` and ``coco_set``.
    """
    expected = f"{annotations} and {images_dir}/"
    root = _root(root, "COCO-Text", expected)
    ann_path, folder = root / annotations, root / images_dir
    for p in (ann_path, folder):
        if not p.exists():
            raise FileNotFoundError(f"{p} not found (expected {expected} in {root})")
    try:
        with open(ann_path, "rb") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise FormatError(f"{ann_path}, line {e.lineno} column {e.colno}: invalid JSON ({e.msg})") from None
    except UnicodeDecodeError as e:
        raise _format_error(ann_path, "UTF-8 JSON", f"undecodable byte at offset {e.start}") from None
    missing = [k for k in ("imgs", "anns", "imgToAnns") if not isinstance(data, dict) or k not in data]
    if missing:
        raise _format_error(ann_path, "a JSON object with keys imgs, anns, imgToAnns",
                            f"missing key(s) {', '.join(missing)}")
    for k in ("imgs", "anns"):
        if not isinstance(data[k], dict):
            raise _format_error(ann_path, f"{k!r} to be an object keyed by id", type(data[k]).__name__)
    n_ann, n_legible = {}, {}
    for key, ann in data["anns"].items():
        try:
            image_id, legible = str(ann["image_id"]), ann.get("legibility") == "legible"
        except (KeyError, TypeError, AttributeError):
            raise _format_error(ann_path, "anns[id] objects with an image_id",
                                f"anns[{key!r}] = {ann!r}") from None
        n_ann[image_id] = n_ann.get(image_id, 0) + 1
        n_legible[image_id] = n_legible.get(image_id, 0) + legible
    on_disk = set(os.listdir(folder))
    rows, n_missing, n_illegible_only, n_no_annotations = [], 0, 0, 0
    for key, img in data["imgs"].items():
        try:
            name = img["file_name"]
            image_id = img.get("id", key)
        except (KeyError, TypeError, AttributeError):
            raise _format_error(ann_path, "imgs[id] objects with a file_name",
                                f"imgs[{key!r}] = {img!r}") from None
        legible, total = n_legible.get(str(image_id), 0), n_ann.get(str(image_id), 0)
        if legible:
            label, fine = TEXT, "legible_text"
        elif total:
            n_illegible_only += 1
            continue
        else:
            n_no_annotations += 1
            if not include_no_text:
                continue
            label, fine = NO_TEXT, "no_annotations"
        if name not in on_disk and not (folder / name).is_file():
            n_missing += 1
            continue
        rows.append((str(folder / name), label, fine, image_id, legible, img.get("set", "")))
    info = dict(root=str(root), annotations=str(ann_path), n_images_json=len(data["imgs"]),
                n_anns=len(data["anns"]), n_with_legible=sum(1 for v in n_legible.values() if v),
                n_illegible_only=n_illegible_only,
                n_no_annotations=n_no_annotations,
                n_missing=n_missing, include_no_text=include_no_text)
    columns = ["path", "label", "fine_label", "image_id", "n_legible", "coco_set"]
    return _finish(rows, columns, "cocotext", info, (), check, workers, progress)


# ----------------------------------------------------------------------------- RGP

def load_rgp(root, check: bool = True, workers: int = 4, progress: bool = False) -> Loaded:
    """Load a folder tree of text-free photos (e.g. Roy et al.'s ``natural_images/<class>/``).

    Every image is labelled ``no_text``; ``fine_label`` is its top-level folder under ``root``
    ("" for an image directly in ``root``).
    """
    expected = "a folder tree of photos without text, e.g. natural_images/<class>/<file>.jpg"
    root = _root(root, "RGP", expected)
    images, rejected, ignored = _walk_images(root)
    if not images and not rejected:
        raise FileNotFoundError(f"no images found under {root} (expected {expected})")
    rel = [p.relative_to(root).parts for p in images]
    rows = [(str(p), NO_TEXT, r[0] if len(r) > 1 else "") for p, r in zip(images, rel)]
    info = dict(root=str(root), n_files_ignored=ignored)
    return _finish(rows, ["path", "label", "fine_label"], "rgp", info, rejected, check, workers, progress)


_LOADERS = {"webemo": load_webemo, "unbiasedemo": load_unbiasedemo, "emotion6": load_emotion6,
            "cocotext": load_cocotext, "rgp": load_rgp}


def load_dataset(name: str, root, **kwargs) -> Loaded:
    """Load the dataset ``name`` (one of config.DATASETS) from ``root`` with its loader's options."""
    check_choice("dataset", name, DATASETS)
    return _LOADERS[name](root, **kwargs)


# ----------------------------------------------------------------------------- sampling, splits

def _rng(seed: int, label) -> np.random.Generator:
    """A generator per (seed, label): results do not depend on the order classes are visited."""
    return np.random.default_rng([int(seed), zlib.crc32(str(label).encode("utf-8"))])


def row_keys(manifest: pd.DataFrame) -> pd.Series:
    """The identity that orders rows before a seeded draw, independent of where data lives.

    The image path, except for rows with a ``url`` (WEBEmo): there the URL, since a downloaded
    file's name is derived from its URL. A ``file://`` URL (the demo's) names the machine's data
    folder, so only its file name counts: the demo then draws the same sample wherever its data
    folder is.
    """
    keys = manifest["path"].astype(str)
    if "url" not in manifest.columns:
        return keys
    urls = manifest["url"].fillna("").astype(str)
    local = urls.str.startswith("file:")
    urls = urls.where(~local, "file:" + urls.str.rsplit("/", n=1).str[-1])
    return urls.where(urls.str.len() > 0, keys)


def in_key_order(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` sorted by :func:`row_keys` (index kept): the order training sees them in."""
    return rows.iloc[np.argsort(row_keys(rows).to_numpy(), kind="stable")]


def sample_per_class(manifest: pd.DataFrame, counts: dict, seed: int) -> pd.DataFrame:
    """Draw ``counts[label]`` rows at random from each label, reproducibly.

    The paper drew 8,549 sadness and 9,971 others images from WEBEmo. The draw depends only on
    the seed and the set of rows (ordered by :func:`row_keys`), not on the manifest's row order. Labels not in ``counts``
    are left out.

    Returns
    -------
    DataFrame: the chosen rows (original index kept), sorted by path.

    Raises
    ------
    ValueError
        When a label has fewer rows than asked, naming the label, the number asked and available.
    """
    parts = []
    for label, n in counts.items():
        rows = in_key_order(manifest[manifest["label"] == label])
        if n > len(rows):
            raise ValueError(f"class {label!r}: asked for {n} images but only {len(rows)} available")
        parts.append(rows.iloc[np.sort(_rng(seed, label).choice(len(rows), size=n, replace=False))])
    if not parts:
        return manifest.iloc[:0]
    return pd.concat(parts).sort_values("path", kind="stable")


def stratified_split(manifest: pd.DataFrame, fractions=(0.70, 0.15, 0.15), seed: int = 1234) -> pd.Series:
    """Assign each row to ``"train"``, ``"val"`` or ``"test"``, stratified by label.

    Within each label, rows are sorted by :func:`row_keys` (the path, or a WEBEmo row's URL),
    shuffled with a generator seeded by ``seed`` and the label, and cut at the cumulative
    fractions (rounded half up), so each split has the label proportions of the whole and the
    assignment of a row depends only on the seed and the set of rows in its class, never on the
    row order.

    Returns
    -------
    Series named ``split``, aligned with ``manifest.index``.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    split = pd.Series("", index=manifest.index, name="split", dtype=object)
    for label, rows in manifest.groupby("label", sort=True):
        order = in_key_order(rows).index
        n = len(order)
        cut1 = int(np.floor(n * fractions[0] + 0.5))
        cut2 = int(np.floor(n * (fractions[0] + fractions[1]) + 0.5))
        names = np.array(["train"] * cut1 + ["val"] * (cut2 - cut1) + ["test"] * (n - cut2), dtype=object)
        split.loc[order[_rng(seed, label).permutation(n)]] = names
    return split


# ----------------------------------------------------------------------------- manifest files

def save_manifest(df: pd.DataFrame, path) -> Path:
    """Write a manifest as CSV (folders created), returning the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def read_manifest(path) -> pd.DataFrame:
    """Read a manifest CSV written by :func:`save_manifest`, checking its required columns.

    The MANIFEST_COLUMNS are read as strings (an empty fine_label stays "").

    Raises
    ------
    FormatError
        Naming the file and the missing columns.
    """
    path = Path(path)
    df = pd.read_csv(path, dtype={c: str for c in MANIFEST_COLUMNS})
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise _format_error(path, f"a manifest CSV with columns {', '.join(MANIFEST_COLUMNS)}",
                            f"missing column(s) {', '.join(missing)}", 1)
    df[list(MANIFEST_COLUMNS)] = df[list(MANIFEST_COLUMNS)].fillna("")
    return df


def manifest_hash(df: pd.DataFrame) -> str:
    """SHA-256 of the sorted (path, label) pairs: identifies a manifest's content, any row order."""
    lines = sorted(f"{p}\t{l}\n" for p, l in zip(df["path"].astype(str), df["label"].astype(str)))
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
