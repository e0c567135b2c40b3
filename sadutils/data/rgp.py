""""RGP": a folder tree of photos without text (the paper's *no text* class)."""
from __future__ import annotations

from ..config import NO_TEXT
from .formats import Loaded, dataset_root, finish, walk_images


def load_rgp(root, check: bool = True, workers: int = 4, progress: bool = False) -> Loaded:
    """Load a folder tree of text-free photos (e.g. Roy et al.'s ``natural_images/<class>/``).

    Every image is labelled ``no_text``; ``fine_label`` is its top-level folder under ``root``
    ("" for an image directly in ``root``).
    """
    expected = "a folder tree of photos without text, e.g. natural_images/<class>/<file>.jpg"
    root = dataset_root(root, "RGP", expected)
    images, rejected, ignored = walk_images(root)
    if not images and not rejected:
        raise FileNotFoundError(f"no images found under {root} (expected {expected})")
    rel = [p.relative_to(root).parts for p in images]
    rows = [(str(p), NO_TEXT, r[0] if len(r) > 1 else "") for p, r in zip(images, rel)]
    info = dict(root=str(root), n_files_ignored=ignored)
    return finish(rows, ["path", "label", "fine_label"], "rgp", info, rejected, check, workers, progress)

