"""COCO-Text v2: the MS-COCO images that contain legible text (the paper's *text* class)."""
from __future__ import annotations

import json
import os

from ..config import NO_TEXT, TEXT
from .formats import FormatError, Loaded, dataset_root, finish, format_error


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
    rows, n_missing, n_illegible_only, n_no_annotations = [], 0, 0, 0
    for key, img in data["imgs"].items():
        try:
            name = img["file_name"]
            image_id = img.get("id", key)
        except (KeyError, TypeError, AttributeError):
            raise format_error(ann_path, "imgs[id] objects with a file_name",
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
    return finish(rows, columns, "cocotext", info, (), check, workers, progress)

