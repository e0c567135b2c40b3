"""Inference: images decoded once into a cache, and a compiled forward pass over them.

Images are decoded with Pillow (the same code the dataset checks and ``sadutils predict`` use, so
EXIF orientation, CMYK and 16-bit files are handled identically everywhere), resized to a square
and kept as a ``uint8`` array in an on-disk cache that later calls memory-map. Predictions run
through one ``tf.function`` per model, traced once and reused.
"""
from __future__ import annotations

import hashlib
import json
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
# tqdm's plain bars: tqdm.auto would warn in every notebook kernel without ipywidgets
# ("IProgress not found"), and bars are only drawn for a terminal here.
from tqdm import tqdm

from .config import cpu_count
from .data.images import ImageError, load_rgb_array
from .fileio import atomic_path, write_json
from .progress import phase, report


def decode_images(paths, image_size: int, workers: int | None = None, progress: bool = False):
    """Decode ``paths`` into a ``uint8`` array ``(n, size, size, 3)`` in parallel threads.

    Returns the array and a list of ``(path, reason)`` for files that could not be read; their rows
    are left black so the array stays aligned with ``paths`` (callers drop them by the list).
    Pillow releases the GIL while decoding and resizing, so threads scale with cores.
    """
    paths = [str(p) for p in paths]
    out = np.zeros((len(paths), image_size, image_size, 3), dtype=np.uint8)
    failed = []

    def one(i):
        try:
            out[i] = load_rgb_array(paths[i], image_size)
        except ImageError as exc:
            failed.append((paths[i], exc.reason))

    workers = workers or min(16, cpu_count() * 2)
    with ThreadPoolExecutor(workers) as pool:
        iterator = pool.map(one, range(len(paths)))
        if progress:
            iterator = tqdm(iterator, total=len(paths), desc="decode", unit="img")
        for done, _ in enumerate(iterator, 1):
            report("images", step="decoding images", done=done, total=len(paths),
                   force=done == len(paths))
    return out, sorted(failed)


def _stamp(path: str) -> str:
    """Size and modification time: a file replaced in place gets a new cache entry."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}-{st.st_mtime_ns}"


def cached_images(paths, image_size: int, cache_dir, progress: bool = False):
    """:func:`decode_images` with an on-disk ``.npy`` cache keyed by the files and the size.

    The array is memory-mapped on later calls, so host memory stays bounded even for the paper's
    14,901 images at 150 px (about 1 GB on disk). Returns ``(array, failed)``.
    """
    paths = [str(p) for p in paths]
    key = hashlib.sha256(("\n".join(f"{p}\t{_stamp(p)}" for p in paths)
                          + f"\n{image_size}").encode()).hexdigest()[:16]
    cache_dir = Path(cache_dir)
    array_file = cache_dir / f"images-{image_size}px-{key}.npy"
    failed_file = array_file.with_suffix(".failed.json")
    if array_file.is_file() and failed_file.is_file():
        return np.load(array_file, mmap_mode="r"), [tuple(x) for x in json.loads(failed_file.read_text())]
    with phase("decode images", images=len(paths), image_size=image_size):
        images, failed = decode_images(paths, image_size, progress=progress)
        with atomic_path(array_file, suffix=".npy") as tmp:
            np.save(tmp, images)
        write_json(failed_file, failed)
    return images, failed


#: Compiled forward pass of each live model (weak keys: an entry goes when its model does).
_FORWARDS = weakref.WeakKeyDictionary()


def compiled_forward(model):
    """A ``tf.function`` forward pass (``training=False``), traced once per model and reused.

    It is cached per model, so a second :func:`predict_proba` call on the same model does not
    trace it again (tracing costs seconds, as much as predicting a few hundred images on a CPU),
    and its batch dimension is left unknown, so a smaller last batch is no second trace.
    """
    cached = _FORWARDS.get(model)
    if cached is not None:
        return cached
    ref = weakref.ref(model)  # the cache must not keep the model alive
    shape = model.input_shape
    if isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape):
        compile_ = tf.function(input_signature=[tf.TensorSpec((None, *shape[1:]), tf.float32)])
    else:  # several inputs: let TensorFlow work the signature out
        compile_ = tf.function(reduce_retracing=True)

    @compile_
    def forward(x):
        return ref()(x, training=False)

    _FORWARDS[model] = forward
    return forward


def predict_proba(model, images, batch_size: int = 64, forward=None) -> np.ndarray:
    """Class probabilities for a ``uint8`` or float image array, batch by batch.

    A compiled forward pass (:func:`compiled_forward`, traced once per model) over fixed-size
    batches avoids ``model.predict``'s per-call set-up; ``benchmarks/inference.py`` compares
    them. Results are copied to host memory only after the last batch is queued, so that on a
    GPU the next batch is prepared while the previous one runs.
    """
    forward = forward or compiled_forward(model)
    n = len(images)
    if n == 0:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
    out = []
    for start in range(0, n, batch_size):
        out.append(forward(tf.constant(np.asarray(images[start:start + batch_size]), tf.float32)))
        done = min(start + batch_size, n)
        report("images", step="scoring images", done=done, total=n, force=done == n)
    return np.concatenate([np.asarray(o, dtype=np.float32) for o in out])


def decode_manifest(manifest: pd.DataFrame, image_size: int, cache_dir, progress: bool = False):
    """Decode every image of a manifest (cached); drop the unreadable ones and list them.

    Parameters
    ----------
    manifest : DataFrame
        With a ``path`` column.
    image_size : int
    cache_dir : path
        The workspace's cache folder.
    progress : bool

    Returns
    -------
    kept : DataFrame
        The readable rows, index reset.
    images : ndarray
        ``uint8`` pixels, ``images[i]`` of row ``i`` of ``kept``.
    rejected : DataFrame
        ``path``, ``reason`` of the files that could not be decoded.
    """
    images, failed = cached_images(manifest["path"].tolist(), image_size, cache_dir,
                                   progress=progress)
    rejected = pd.DataFrame(failed, columns=["path", "reason"])
    keep = ~manifest["path"].astype(str).isin(set(rejected["path"])).to_numpy()
    if keep.all():
        return manifest.reset_index(drop=True), images, rejected
    return manifest[keep].reset_index(drop=True), np.asarray(images)[keep], rejected


def predict_frame(model, frame: pd.DataFrame, images, batch_size: int = 64,
                  forward=None) -> pd.DataFrame:
    """A manifest's rows with the model's predictions.

    Parameters
    ----------
    model : keras.Model
        With ``class_names``.
    frame : DataFrame
        The rows; ``images[i]`` holds the pixels of its ``i``-th row.
    images : ndarray
    batch_size : int
    forward : callable, optional
        :func:`compiled_forward` of ``model``, when the caller already has it.

    Returns
    -------
    DataFrame
        ``frame`` (index reset) with ``pred`` (the most probable class) and one ``p_<class>``
        column per class.
    """
    names = list(model.class_names)
    proba = predict_proba(model, images, batch_size=batch_size, forward=forward)
    out = frame.reset_index(drop=True)
    out["pred"] = [names[i] for i in proba.argmax(axis=1)]
    for i, name in enumerate(names):
        out[f"p_{name}"] = proba[:, i]
    return out
