"""sadutils.analysis.gradcam: a tiny model with a known answer, and the registry's models.

The known answer: a model that sees only bright patches (its one feature fires where the image
is bright, and the bright feature raises the score of class 0). On a dark image with one bright
patch, the map of class 0 must peak on the patch, wherever the patch is; nothing in the image
raises class 1, so its map is blank.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest

from sadutils import models
from sadutils.analysis import gradcam as gc
from sadutils.config import CLASS_NAMES

SIZE = 32


def _bright_patch_model():
    """pixels -> Rescaling -> nested backbone (4x4 stride-4 conv: mean brightness - 0.5, ReLU)
    -> global average pooling -> Dense softmax (+1 for class 0, -1 for class 1)."""
    inner = keras.Input((SIZE, SIZE, 3))
    conv = keras.layers.Conv2D(
        1, 4, strides=4, activation="relu", name="bright",
        kernel_initializer=keras.initializers.Constant(1 / 48),
        bias_initializer=keras.initializers.Constant(-0.5))
    backbone = keras.Model(inner, conv(inner), name="tiny_backbone")
    pixels = keras.Input((SIZE, SIZE, 3), name="pixels")
    x = keras.layers.Rescaling(1 / 255.0, name="scale")(pixels)
    x = backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    out = keras.layers.Dense(2, activation="softmax", name="probabilities")(x)
    model = keras.Model(pixels, out, name="bright_patch")
    dense = model.get_layer("probabilities")
    dense.set_weights([np.array([[4.0, -4.0]], dtype="float32"), np.zeros(2, "float32")])
    models.set_class_names(model, CLASS_NAMES)
    return model


def _images(patches, seed=0):
    """Dark noise (0..60) with one bright 8x8 patch (255) per image at (row, col)."""
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 60, (len(patches), SIZE, SIZE, 3)).astype("float32")
    for i, (r, c) in enumerate(patches):
        out[i, r:r + 8, c:c + 8] = 255.0
    return out


def test_the_map_peaks_on_the_only_region_the_model_sees():
    model = _bright_patch_model()
    patches = [(4, 20), (20, 0), (12, 12)]  # rows and columns differ: a transposed map fails
    cam = gc.gradcam(model, _images(patches), target="sadness")
    assert cam.layer == "tiny_backbone"
    assert cam.heatmaps.shape == (3, SIZE, SIZE) and cam.coarse.shape == (3, 8, 8)
    for i, (r, c) in enumerate(patches):
        peak = np.unravel_index(cam.heatmaps[i].argmax(), (SIZE, SIZE))
        assert r <= peak[0] < r + 8 and c <= peak[1] < c + 8, (i, peak)
        assert cam.heatmaps[i].max() == pytest.approx(1.0)
        inside = cam.heatmaps[i, r:r + 8, c:c + 8].mean()
        outside = (cam.heatmaps[i].sum() - cam.heatmaps[i, r:r + 8, c:c + 8].sum()) / (
            SIZE * SIZE - 64)
        assert inside > 5 * outside
    # nothing raises class 1: blank maps, no NaN
    other = gc.gradcam(model, _images(patches), target=1)
    assert np.all(other.heatmaps == 0) and np.isfinite(other.coarse).all()
    assert other.target.tolist() == [1, 1, 1]
    # default: the predicted class (bright patches make class 0 win)
    assert gc.gradcam(model, _images(patches)).target.tolist() == [0, 0, 0]
    np.testing.assert_allclose(cam.probabilities, model.predict(_images(patches), verbose=0),
                               atol=1e-5)


def test_class_log_odds_with_two_classes_is_the_logit_difference():
    logits = np.array([[2.0, -1.0], [0.5, 0.5]], dtype="float32")
    got = np.asarray(gc.class_log_odds(logits, np.array([0, 1])))
    assert got == pytest.approx([3.0, 0.0])
    three = np.asarray(gc.class_log_odds(np.array([[1.0, 0.0, 0.0]], "float32"), np.array([0])))
    assert three == pytest.approx([1.0 - np.log(2.0)])


def test_registry_models_tiny_efficientnet(tiny_emotion_model):
    _, model = tiny_emotion_model
    images = _images([(0, 0), (24, 24)], seed=1)
    parts = gc.split_model(model)
    assert parts.layer_name == "efficientnetv2-b0" and parts.features is None
    assert [lay.name for lay in parts.after] == ["avg_pool", "head_dropout", "probabilities"]
    cam = gc.gradcam(model, images)
    assert cam.heatmaps.shape == (2, 32, 32)
    assert np.all((cam.heatmaps >= 0) & (cam.heatmaps <= 1))
    np.testing.assert_allclose(cam.probabilities, model.predict(images, verbose=0), atol=1e-5)
    # a layer inside the backbone: finer grid, same probabilities
    inner = [lay.name for lay in model.get_layer("efficientnetv2-b0").layers
             if len(lay.output.shape) == 4 and lay.output.shape[1] == 2][0]
    fine = gc.gradcam(model, images, layer=inner)
    assert fine.layer == inner and fine.coarse.shape == (2, 2, 2)
    np.testing.assert_allclose(fine.probabilities, cam.probabilities, atol=1e-5)


def test_registry_models_with_preprocessing_layers():
    """ResNet50 carries two preprocessing layers (RGB to BGR, mean subtraction) before it."""
    model = models.build_model("resnet50", 32, None)
    parts = gc.split_model(model)
    assert [lay.name for lay in parts.before] == ["resnet50_preprocess_bgr",
                                                  "resnet50_preprocess"]
    assert parts.layer_name == "resnet50"
    cam = gc.gradcam(model, _images([(0, 0)]), target="others")
    assert cam.target.tolist() == [1] and cam.heatmaps.shape == (1, 32, 32)


def test_bad_requests_are_refused(tiny_emotion_model):
    _, model = tiny_emotion_model
    images = _images([(0, 0)])
    with pytest.raises(ValueError, match="no layer 'nope'"):
        gc.gradcam(model, images, layer="nope")
    with pytest.raises(ValueError, match="avg_pool .*no 4-D feature map"):
        gc.split_model(model, "avg_pool")
    with pytest.raises(ValueError, match="unknown class 'joy'.*sadness, others"):
        gc.gradcam(model, images, target="joy")
    with pytest.raises(ValueError, match="out of range"):
        gc.gradcam(model, images, target=2)
    with pytest.raises(ValueError, match="non-empty"):
        gc.gradcam(model, images[:0])
    flat = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="no layer with a 4-D feature map"):
        gc.split_model(flat)


def test_a_model_that_is_no_chain_is_refused():
    inner = keras.Input((SIZE, SIZE, 3))
    backbone = keras.Model(inner, keras.layers.Conv2D(2, 4, strides=4)(inner), name="bb")
    pixels = keras.Input((SIZE, SIZE, 3))
    f = backbone(pixels)
    both = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(f),
                                       keras.layers.GlobalMaxPooling2D()(f)])
    model = keras.Model(pixels, keras.layers.Dense(2, activation="softmax")(both))
    with pytest.raises(ValueError, match="not a chain of layers"):
        gc.gradcam(model, _images([(0, 0)]))
