"""The backbone registry: the paper's four, any other Keras application by name, and the
preprocessing each one's ImageNet weights expect, built into the model.

The models here are random-weight backbones at 32 px: the preprocessing is checked numerically
against Keras' own ``preprocess_input``, which needs no trained weights.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest

from sadutils import backbones, models
from sadutils.backbones import PAPER_BACKBONES, PREPROCESSING_MODES, Backbone
from sadutils.config import CLASS_NAMES
from sadutils.paper import NO_PRETRAIN_SUFFIX, paper_rows

SIZE = 32
PIXELS = np.random.default_rng(0).uniform(0, 255, (3, SIZE, SIZE, 3)).astype("float32")


# ---------------------------------------------------------------------------- the registry

def test_paper_backbones_are_declared_with_their_rows():
    assert PAPER_BACKBONES == ("xception", "efficientnetv2b0", "efficientnetv2b2",
                               "efficientnetv2s")
    rows = [backbones.get(name).row() for name in PAPER_BACKBONES]
    assert rows == ["Xception", "EfficientNetV2B0", "EfficientNetV2B2", "EfficientNetV2S"]
    assert rows == list(paper_rows("table1"))[:4]  # Table 1's rows, in its order
    for name in PAPER_BACKBONES:
        bb = backbones.get(name)
        assert isinstance(bb, Backbone) and bb.name == name and bb.in_paper
        assert bb.imagenet_file and bb.imagenet_url.endswith(bb.imagenet_file)
        assert hasattr(keras.applications, bb.application)
        assert bb.preprocessing in PREPROCESSING_MODES
    assert backbones.get("xception").preprocessing == "tf"
    assert backbones.get("efficientnetv2s").preprocessing == "builtin"
    assert backbones.names()[:4] == PAPER_BACKBONES


@pytest.mark.parametrize("spelling", ["MobileNet_V3_Small", "mobilenet-v3-small",
                                      "MOBILENETV3SMALL", " mobilenet v3 small"])
def test_get_ignores_case_and_separators(spelling):
    bb = backbones.get(spelling)
    assert bb.name == "mobilenetv3small" and bb.application == "MobileNetV3Small"
    assert backbones.normalise(spelling) == "mobilenetv3small"
    assert backbones.get("Efficient_NetV2-B0") is backbones.get("efficientnetv2b0")
    assert backbones.get(bb) is bb  # a Backbone is returned as it is


@pytest.mark.parametrize("name, application, mode", [
    ("resnet50", "ResNet50", "caffe"),
    ("densenet121", "DenseNet121", "torch"),
    ("mobilenetv2", "MobileNetV2", "tf"),
    ("convnexttiny", "ConvNeXtTiny", "builtin"),
    ("convnext_tiny", "ConvNeXtTiny", "builtin"),
])
def test_other_applications_are_found_with_their_preprocessing(name, application, mode):
    bb = backbones.get(name)
    assert (bb.application, bb.preprocessing) == (application, mode)
    assert not bb.in_paper and bb.paper_row is None and bb.imagenet_file is None
    assert bb.row() == application
    assert bb.name in backbones.names()


def test_unknown_backbone_lists_valid_choices():
    with pytest.raises(ValueError, match="unknown backbone 'resnet5o'") as info:
        backbones.get("resnet5o")
    message = str(info.value)
    assert "valid choices:" in message
    for name in ("xception", "resnet50", "efficientnetv2s", "convnexttiny", "densenet121"):
        assert name in message
    with pytest.raises(ValueError, match="valid choices"):
        backbones.get("preprocess_input")  # a function of keras.applications, not a model
    with pytest.raises(ValueError, match="unknown backbone"):
        models.build_model("no_such_net", SIZE)


def test_row_of_a_run_from_scratch():
    assert NO_PRETRAIN_SUFFIX == " no-pretrain"
    assert backbones.get("xception").row(pretrained=False) == "Xception no-pretrain"
    assert backbones.get("efficientnetv2s").row(pretrained=True) == "EfficientNetV2S"
    assert backbones.get("resnet50").row(pretrained=False) == "ResNet50 no-pretrain"
    assert "Xception no-pretrain" in paper_rows("table1")  # the paper's ablation row


@pytest.mark.parametrize("name, smallest", [("xception", 71), ("efficientnetv2b0", 32),
                                            ("resnet50", 32), ("inceptionv3", 75)])
def test_check_size_refuses_too_small_inputs(name, smallest):
    bb = backbones.get(name)
    assert bb.min_size == smallest
    bb.check_size(smallest)  # the minimum itself is fine
    with pytest.raises(ValueError, match=f"{bb.name} needs image_size >= {smallest}, got "
                                         f"{smallest - 1}"):
        bb.check_size(smallest - 1)


# ---------------------------------------------------------------------------- preprocessing

@pytest.fixture(scope="module")
def built():
    """One random-weight model per preprocessing mode that needs layers, at 32 px."""
    keras.utils.set_random_seed(0)
    return {name: models.build_model(name, SIZE, None)
            for name in ("resnet50", "densenet121", "mobilenetv2")}


@pytest.mark.parametrize("name, module", [("resnet50", keras.applications.resnet),
                                          ("densenet121", keras.applications.densenet),
                                          ("mobilenetv2", keras.applications.mobilenet_v2)])
def test_model_preprocessing_matches_keras_preprocess_input(built, name, module):
    model = built[name]
    bb = backbones.get(name)
    layer_names = [layer.name for layer in models.preprocessing_layers(bb)]
    assert layer_names and layer_names[-1] == f"{name}_preprocess"
    # the model's own preprocessing sub-graph: from the pixel input to its last layer
    assert [layer.name for layer in model.layers[1:1 + len(layer_names)]] == layer_names
    sub = keras.Model(model.input, model.get_layer(f"{name}_preprocess").output)
    got = np.asarray(sub(PIXELS))
    want = np.asarray(module.preprocess_input(PIXELS.copy()))
    np.testing.assert_allclose(got, want, atol=1e-3)
    # the backbone comes right after, and takes what the preprocessing made
    base = model.layers[1 + len(layer_names)]
    assert base.name.startswith(bb.application.lower()[:6])
    assert not np.allclose(got, PIXELS, atol=1.0)  # it did something


def test_builtin_backbones_get_no_extra_layers():
    assert models.preprocessing_layers(backbones.get("efficientnetv2b0")) == []
    assert models.preprocessing_layers(backbones.get("convnexttiny")) == []
    assert backbones.get("convnexttiny").accepts_include_preprocessing()
    assert not backbones.get("resnet50").accepts_include_preprocessing()


def test_resnet50_saves_and_loads_in_safe_mode(built, tmp_path):
    model = built["resnet50"]
    models.set_class_names(model, ["very sad", "fine"])
    try:
        path = models.save_model(model, tmp_path / "resnet.keras")
        loaded = models.load_model(path)  # Keras' safe mode: the custom layer is registered
    finally:
        models.set_class_names(model, CLASS_NAMES)
    assert loaded.class_names == ["very sad", "fine"]
    assert any(isinstance(layer, models.ReverseChannels) for layer in loaded.layers)
    np.testing.assert_array_equal(np.asarray(loaded(PIXELS, training=False)),
                                  np.asarray(model(PIXELS, training=False)))


def test_declared_hashes_are_the_ones_keras_publishes():
    """The "notop" hashes the registry checks files against are Keras' own (copied from its
    application modules, which download and verify these files)."""
    import inspect
    import re

    from keras.src.applications import efficientnet_v2, xception

    expected = {"efficientnetv2b0": efficientnet_v2.WEIGHTS_HASHES["b0"][1],
                "efficientnetv2b2": efficientnet_v2.WEIGHTS_HASHES["b2"][1],
                "efficientnetv2s": efficientnet_v2.WEIGHTS_HASHES["-s"][1]}
    source = inspect.getsource(xception)
    match = re.search(r'"xception_weights_tf_dim_ordering_tf_kernels_notop\.h5",[^)]*?'
                      r'file_hash="([0-9a-f]+)"', source, re.S)
    expected["xception"] = match.group(1)
    assert {name: backbones.get(name).imagenet_hash for name in PAPER_BACKBONES} == expected
