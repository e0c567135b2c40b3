"""COCO-Text v2: the MS-COCO images that contain legible text (the paper's *text* class)."""
from __future__ import annotations

import json
import os
import re
from pathlib import PurePosixPath

from ..config import NO_TEXT, TEXT
from .formats import FormatError, Loaded, dataset_root, finish, format_error


def _file_name_problem(name) -> str | None:
    """Why a ``file_name`` of the JSON is not read, or None for a name inside the image folder.

    Only relative names without ``..`` are read: an absolute path, a drive letter, a ``..``
    part or a NUL would name a file outside the dataset's folder.
    """
    if not isinstance(name, str) or not name:
        return "file_name is not a non-empty string"
    parts = PurePosixPath(name.replace("\\", "/"))
    if (name.startswith(("/", "\\")) or parts.is_absolute() or re.match(r"^[A-Za-z]:", name)
            or ".." in parts.parts or "\0" in name):
        return "file_name points outside the image folder (absolute, or with '..')"
    return None


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def load_cocotext(root, annotations: str = "cocotext.v2.json", images_dir: str = "train2014",
                  check: bool = True, include_no_text: bool = False, workers: int = 4,
                  progress: bool = False) -> Loaded:
    """Load COCO-Text v2: MS-COCO images that contain legible text.

    An image has text iff at least one of its annotations is ``legibility == "legible"``.
    Images whose annotations are all illegible are ambiguous and excluded (counted in
    ``info["n_illegible_only"]``). A ``file_name`` that is not a string, is absolute or
    climbs out with ``..`` is never read: it is listed in ``rejected`` with the reason (and
    counted in ``info["n_file_names_refused"]``). Images listed in the JSON but absent from ``images_dir`` are
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
    root = dataset_root(root, "COCO-Text", expected)
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
        raise format_error(ann_path, "UTF-8 JSON", f"undecodable byte at offset {e.start}") from None
    except RecursionError:
        raise format_error(ann_path, "COCO-Text JSON", "arrays or objects nested too deep to "
                                                        "read") from None
    missing = [k for k in ("imgs", "anns", "imgToAnns") if not isinstance(data, dict) or k not in data]
    if missing:
        raise format_error(ann_path, "a JSON object with keys imgs, anns, imgToAnns",
                            f"missing key(s) {', '.join(missing)}")
    for k in ("imgs", "anns"):
        if not isinstance(data[k], dict):
            raise format_error(ann_path, f"{k!r} to be an object keyed by id", type(data[k]).__name__)
    n_ann, n_legible = {}, {}
    for key, ann in data["anns"].items():
        try:
            image_id, legible = str(ann["image_id"]), ann.get("legibility") == "legible"
        except (KeyError, TypeError, AttributeError):
            raise format_error(ann_path, "anns[id] objects with an image_id",
                                f"anns[{key!r}] = {ann!r}") from None
        n_ann[image_id] = n_ann.get(image_id, 0) + 1
        n_legible[image_id] = n_legible.get(image_id, 0) + legible
    on_disk = set(os.listdir(folder))
    rows, refused, n_missing, n_illegible_only, n_no_annotations = [], [], 0, 0, 0
    for key, img in data["imgs"].items():
        try:
            name = img["file_name"]
            image_id = img.get("id", key)
        except (KeyError, TypeError, AttributeError):
            raise format_error(ann_path, "imgs[id] objects with a file_name",
                                f"imgs[{key!r}] = {img!r}") from None
        problem = _file_name_problem(name)
        if problem:  # never a file outside the image folder: listed, not read
            refused.append((f"{ann_path}: imgs[{key!r}].file_name = {_shown(name)}", problem))
            continue
        if not isinstance(image_id, (str, int)) or isinstance(image_id, bool):
            image_id = key
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
        coco_set = img.get("set", "")
        rows.append((str(folder / name), label, fine, image_id, legible,
                     coco_set if isinstance(coco_set, str) else ""))
    info = dict(root=str(root), annotations=str(ann_path), n_images_json=len(data["imgs"]),
                n_file_names_refused=len(refused),
                n_anns=len(data["anns"]), n_with_legible=sum(1 for v in n_legible.values() if v),
                n_illegible_only=n_illegible_only,
                n_no_annotations=n_no_annotations,
                n_missing=n_missing, include_no_text=include_no_text)
    columns = ["path", "label", "fine_label", "image_id", "n_legible", "coco_set"]
    return finish(rows, columns, "cocotext", info, refused, check, workers, progress)

