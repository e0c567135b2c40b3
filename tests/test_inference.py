"""Inference: decoding images into a cache, the compiled forward pass, and predictions on a
manifest's rows.

The model is the session's tiny EfficientNetV2-B0 at 32 px (``tiny_emotion_model``).
"""
from __future__ import annotations

import gc
import weakref

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sadutils import inference, models
from sadutils.inference import (cached_images, compiled_forward, decode_images, decode_manifest,
                                predict_frame, predict_proba)

SIZE = 32


# ---------------------------------------------------------------------------- decode and cache

@pytest.fixture
def image_files(tmp_path):
    """Four good images of different sizes and formats, an empty file and an HTML page."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i, (size, ext) in enumerate([((40, 30), "png"), ((20, 50), "jpg"), ((16, 16), "png"),
                                     ((64, 48), "jpg")]):
        path = folder / f"good{i}.{ext}"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
        paths.append(path)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "page.png").write_text("<html><body>404 not found</body></html>")
    paths.insert(1, folder / "empty.jpg")
    paths.append(folder / "page.png")
    return paths


def test_decode_images_keeps_rows_aligned_and_lists_failures(image_files):
    images, failed = decode_images(image_files, 24, workers=2)
    assert images.shape == (6, 24, 24, 3) and images.dtype == np.uint8
    assert [p for p, _ in failed] == sorted([str(image_files[1]), str(image_files[5])])
    reasons = dict(failed)
    assert "empty" in reasons[str(image_files[1])] and "HTML" in reasons[str(image_files[5])]
    assert not images[1].any() and not images[5].any()  # failed rows are black
    good = [0, 2, 3, 4]
    assert all(images[i].any() for i in good)


def test_cached_images_memory_maps_second_call(image_files, tmp_path):
    cache = tmp_path / "cache"
    first, failed = cached_images(image_files, 24, cache)
    assert not isinstance(first, np.memmap)
    assert len(failed) == 2 and all(isinstance(f, tuple) for f in failed)
    assert len(list(cache.glob("*.npy"))) == 1 and not list(cache.glob(".*"))
    second, failed_again = cached_images([str(p) for p in image_files], 24, cache)
    assert isinstance(second, np.memmap)
    assert np.array_equal(np.asarray(second), first)
    assert failed_again == failed
    reference, _ = decode_images(image_files, 24)
    assert np.array_equal(first, reference)
    # another size or another file list is another cache entry, not a stale hit
    assert cached_images(image_files, 16, cache)[0].shape == (6, 16, 16, 3)
    assert cached_images(image_files[:3], 24, cache)[0].shape == (3, 24, 24, 3)
    assert len(list(cache.glob("*.npy"))) == 3


def test_cache_notices_a_file_replaced_in_place(tmp_path, write_jpeg):
    path = write_jpeg(tmp_path / "a.jpg", seed=1)
    cache = tmp_path / "cache"
    first, _ = cached_images([path], SIZE, cache)
    write_jpeg(path, seed=2, size=(50, 60))  # same name, new content (new size and mtime)
    second, _ = cached_images([path], SIZE, cache)
    assert not isinstance(second, np.memmap)  # decoded again, not the old entry
    assert not np.array_equal(np.asarray(second), first)
    assert np.array_equal(np.asarray(second), decode_images([path], SIZE)[0])


# ---------------------------------------------------------------------------- forward pass

def test_predict_proba_batches_match_one_call():
    keras.utils.set_random_seed(0)
    model = models.build_model("efficientnetv2b0", SIZE, weights=None)
    x = np.random.default_rng(1).integers(0, 256, (7, SIZE, SIZE, 3), dtype=np.uint8)
    p = predict_proba(model, x, batch_size=3)
    assert p.shape == (7, 2) and p.dtype == np.float32
    assert np.allclose(p, np.asarray(model(x.astype("float32"), training=False)), atol=1e-5)
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert predict_proba(model, x[:0]).shape == (0, 2)


def test_compiled_forward_is_traced_once_per_model(tiny_emotion_model):
    _, model = tiny_emotion_model
    forward = compiled_forward(model)
    assert compiled_forward(model) is forward  # cached per model
    x = np.random.default_rng(2).integers(0, 256, (10, SIZE, SIZE, 3), dtype=np.uint8)
    a = predict_proba(model, x, batch_size=4)  # batches of 4, 4 and 2
    b = predict_proba(model, x[:3], batch_size=64)
    assert forward.experimental_get_tracing_count() == 1  # no retrace for another batch size
    np.testing.assert_allclose(b, a[:3], atol=1e-5)
    # an explicit forward is used as given
    calls = []

    def counting(batch):
        calls.append(int(batch.shape[0]))
        return forward(batch)

    np.testing.assert_allclose(predict_proba(model, x, batch_size=6, forward=counting), a,
                               atol=1e-5)
    assert calls == [6, 4]


def test_compiled_forward_does_not_keep_its_model_alive():
    model = models.build_model("mobilenetv2", SIZE, None)
    compiled_forward(model)
    alive = weakref.ref(model)
    assert alive() in inference._FORWARDS
    del model
    gc.collect()
    assert alive() is None  # the cache held no strong reference


# ---------------------------------------------------------------------------- manifests

@pytest.fixture
def manifest(tmp_path, write_jpeg):
    """Five rows (index not 0..4): four readable JPEGs and one broken file in the middle."""
    paths = [write_jpeg(tmp_path / "m" / f"img{i}.jpg", seed=i) for i in range(4)]
    broken = tmp_path / "m" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    paths.insert(2, broken)
    return pd.DataFrame({"path": [str(p) for p in paths],
                         "label": ["sadness", "others", "sadness", "others", "sadness"]},
                        index=[10, 11, 12, 13, 14])


def test_decode_manifest_drops_unreadable_rows(manifest, tmp_path):
    kept, images, rejected = decode_manifest(manifest, SIZE, tmp_path / "cache")
    assert list(kept.index) == [0, 1, 2, 3]
    assert list(kept["path"]) == [p for p in manifest["path"] if "broken" not in p]
    assert list(kept["label"]) == ["sadness", "others", "others", "sadness"]
    assert images.shape == (4, SIZE, SIZE, 3) and images.dtype == np.uint8
    for i, path in enumerate(kept["path"]):  # images[i] is row i's picture
        assert np.array_equal(images[i], decode_images([path], SIZE)[0][0])
    assert list(rejected.columns) == ["path", "reason"]
    assert list(rejected["path"]) == [manifest["path"].iloc[2]]
    assert rejected["reason"].iloc[0]


def test_decode_manifest_of_readable_files_keeps_everything(manifest, tmp_path):
    good = manifest.drop(index=12)
    kept, images, rejected = decode_manifest(good, SIZE, tmp_path / "cache")
    assert rejected.empty and list(rejected.columns) == ["path", "reason"]
    pd.testing.assert_frame_equal(kept, good.reset_index(drop=True))
    assert len(images) == 4
    again, cached, _ = decode_manifest(good, SIZE, tmp_path / "cache")
    assert isinstance(cached, np.memmap) and np.array_equal(np.asarray(cached), images)


def test_predict_frame_adds_predictions(manifest, tmp_path, tiny_emotion_model):
    _, model = tiny_emotion_model
    kept, images, _ = decode_manifest(manifest, SIZE, tmp_path / "cache")
    framed = kept.set_index(pd.Index([7, 3, 9, 1]))  # predict_frame resets any index
    out = predict_frame(model, framed, images, batch_size=3)
    assert list(out.columns) == ["path", "label", "pred", "p_sadness", "p_others"]
    assert list(out.index) == [0, 1, 2, 3]
    assert list(out["path"]) == list(kept["path"])
    proba = predict_proba(model, images)
    np.testing.assert_allclose(out[["p_sadness", "p_others"]].to_numpy(), proba, atol=1e-5)
    assert list(out["pred"]) == [model.class_names[i] for i in proba.argmax(axis=1)]
    assert "pred" not in framed.columns  # the caller's frame is left alone
