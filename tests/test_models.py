"""The four backbones, their input contract, saving/loading, and where ImageNet weights come from.

Nothing here touches the network: every download attempt is replaced by a stub (this machine has
no DNS, and a real attempt could wait for the resolver's own timeout).
"""
from __future__ import annotations

import json
import socket
import zipfile

import keras
import numpy as np
import pytest

from sadutils import backbones, models
from sadutils.backbones import PAPER_BACKBONES
from sadutils.models import (CLASS_NAMES_ENTRY, WeightsUnavailable, build_model, keras_cache_file,
                             load_model, resolve_weights, save_model)
from sadutils.training import _all_layers

RNG = np.random.default_rng(0)
PIXELS_150 = RNG.integers(0, 256, (2, 150, 150, 3)).astype("float32")


def _first(model, cls):
    return next(layer for layer in _all_layers(model) if isinstance(layer, cls))


@pytest.fixture(scope="module", params=PAPER_BACKBONES)
def model_150(request):
    """Each of the paper's backbones at its 150 px, randomly initialised (built once)."""
    return request.param, build_model(request.param, 150, weights=None)


# ---------------------------------------------------------------------------- the four backbones

def test_backbone_builds_at_150_with_two_class_softmax(model_150):
    backbone, model = model_150
    assert model.input_shape == (None, 150, 150, 3)
    assert model.output_shape == (None, 2)
    assert model.class_names == ["sadness", "others"]
    assert model.get_layer("probabilities").activation.__name__ == "softmax"
    p = np.asarray(model(PIXELS_150, training=False))
    assert p.shape == (2, 2) and p.dtype == np.float32
    assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_backbone_takes_0_255_pixels(model_150):
    """Every model's own first layers bring [0, 255] pixels to the range its backbone expects."""
    backbone, model = model_150
    edges = np.zeros((2, 150, 150, 3), "float32")
    edges[1] = 255.0
    rescale = _first(model, keras.layers.Rescaling)
    if backbone == "xception":
        # the model's own layer, in front of the Keras Xception: preprocess_input's [-1, 1]
        assert rescale.name == "xception_preprocess"
        assert model.layers.index(rescale) == 1  # right after the input
        out = np.asarray(rescale(edges))
        assert np.allclose(out[0], -1.0) and np.allclose(out[1], 1.0)
        reference = keras.applications.xception.preprocess_input(edges.copy())
        assert np.allclose(out, reference)
    else:
        base = model.layers[1]
        assert base.name.startswith("efficientnetv2")
        assert rescale in base.layers[:3]  # include_preprocessing=True: inside the backbone
        out = np.asarray(rescale(edges))
        if backbone == "efficientnetv2s":  # Keras's V2-S preprocessing: x / 128 - 1
            assert np.allclose(out[0], -1.0) and np.allclose(out[1], 255 / 128 - 1)
        else:  # B0/B2: x / 255, then ImageNet mean/std normalisation
            assert np.allclose(out[0], 0.0) and np.allclose(out[1], 1.0)
            norm = _first(base, keras.layers.Normalization)
            assert base.layers.index(norm) == base.layers.index(rescale) + 1
            normed = np.asarray(norm(out))
            mean = np.array([0.485, 0.456, 0.406])
            std = np.array([0.229, 0.224, 0.225])
            assert np.allclose(normed[0, 0, 0], -mean / std, atol=1e-4)
            assert np.allclose(normed[1, 0, 0], (1 - mean) / std, atol=1e-4)
    # The contract is [0, 255]: pixels already scaled to [0, 1] are different input, not the same
    # picture (a caller dividing by 255 would silently feed the network near-constant images).
    # Compared on the pooled features: a random head squashes the probabilities to about 0.5.
    features = keras.Model(model.input, model.get_layer("avg_pool").output)
    full = np.asarray(features(PIXELS_150, training=False))
    unit = np.asarray(features(PIXELS_150 / 255.0, training=False))
    assert np.abs(full - unit).max() > 1e-2 * max(np.abs(full).max(), 1e-6)
    assert not np.allclose(np.asarray(model(PIXELS_150, training=False)),
                           np.asarray(model(PIXELS_150 / 255.0, training=False)), rtol=0, atol=1e-7)


def test_unknown_backbone_lists_choices():
    with pytest.raises(ValueError, match="unknown backbone 'resnet5o'") as info:
        build_model("resnet5o", 150)
    for name in PAPER_BACKBONES:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="valid choices: xception, efficientnetv2b0"):
        resolve_weights("vgg17")
    with pytest.raises(ValueError, match="valid choices"):
        keras_cache_file("EfficientNetV2B9")
    # names are case-insensitive now; a backbone the registry declares no file for has none
    assert keras_cache_file("EfficientNetV2B0") == keras_cache_file("efficientnetv2b0")
    assert keras_cache_file("resnet50") is None


@pytest.mark.parametrize("backbone, smallest", [("xception", 71), ("efficientnetv2b0", 32),
                                                ("efficientnetv2b2", 32), ("efficientnetv2s", 32)])
def test_too_small_image_size(backbone, smallest):
    with pytest.raises(ValueError, match=f"{backbone} needs image_size >= {smallest}, got "
                                         f"{smallest - 1}"):
        build_model(backbone, smallest - 1)


# ---------------------------------------------------------------------------- saving and loading

@pytest.fixture(scope="module")
def tiny_trained(tmp_path_factory):
    """An EfficientNetV2-B0 at 32 px whose weights differ from any fresh initialisation."""
    keras.utils.set_random_seed(1)
    model = build_model("efficientnetv2b0", 32, weights=None, class_names=("text", "no_text"))
    dense = model.get_layer("probabilities")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel + RNG.normal(0, 0.5, kernel.shape), bias + [0.3, -0.3]])
    return model, tmp_path_factory.mktemp("saved")


X32 = RNG.integers(0, 256, (3, 32, 32, 3)).astype("float32")


def test_weights_file_round_trip(tiny_trained):
    model, folder = tiny_trained
    expected = np.asarray(model(X32, training=False))

    weights = folder / "tiny.weights.h5"
    model.save_weights(weights)
    keras.utils.set_random_seed(99)  # a different initialisation, overwritten by the file
    again = build_model("efficientnetv2b0", 32, weights=str(weights),
                        class_names=("text", "no_text"))
    assert np.allclose(np.asarray(again(X32, training=False)), expected, atol=1e-6)
    assert again.class_names == ["text", "no_text"]
    fresh = build_model("efficientnetv2b0", 32, weights=None, class_names=("text", "no_text"))
    assert not np.allclose(np.asarray(fresh(X32, training=False)), expected, atol=1e-3)


def test_whole_model_round_trip_keeps_class_names_inside_the_file(tiny_trained):
    model, folder = tiny_trained
    expected = np.asarray(model(X32, training=False))

    path = save_model(model, folder / "sub" / "tiny.keras")
    assert path == folder / "sub" / "tiny.keras" and path.is_file()
    # the names travel inside the .keras zip: no sidecar, no temporary file left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.keras"]
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read(CLASS_NAMES_ENTRY)) == {"class_names": ["text", "no_text"]}
    loaded = load_model(str(path))
    assert loaded.class_names == ["text", "no_text"]
    assert loaded.input_shape == (None, 32, 32, 3)
    assert np.allclose(np.asarray(loaded(X32, training=False)), expected, atol=1e-6)
    # moved elsewhere, it still knows its names; a stray sidecar does not override them
    moved = folder / "elsewhere.keras"
    moved.write_bytes(path.read_bytes())
    (folder / "elsewhere.keras.classes.txt").write_text("wrong\nnames\n")
    assert load_model(moved).class_names == ["text", "no_text"]
    # plain Keras loads it too (the extra entry is ignored)
    plain = keras.models.load_model(path, compile=False)
    assert np.allclose(np.asarray(plain(X32, training=False)), expected, atol=1e-6)


def test_legacy_model_with_sidecar_names(tiny_trained):
    """Files saved by earlier versions: plain Keras file, names in ``<path>.classes.txt``."""
    model, folder = tiny_trained
    path = folder / "legacy.keras"
    model.save(path)  # what the old save_model wrote, without the names entry
    sidecar = folder / "legacy.keras.classes.txt"
    sidecar.write_text("very sad\nnot sad\n")  # one per line
    assert load_model(path).class_names == ["very sad", "not sad"]
    sidecar.write_text("a\nb\nc\n")
    with pytest.raises(ValueError, match="3 class names stored for a model with 2 outputs"):
        load_model(path)
    sidecar.unlink()  # without any names: generic ones
    assert load_model(path).class_names == ["class_0", "class_1"]


def test_file_that_is_not_a_model(tmp_path):
    text = tmp_path / "notes.keras"
    text.write_text("this is not a model\n")
    with pytest.raises(ValueError, match="cannot load model .*notes.keras"):
        load_model(text)
    archive = tmp_path / "empty.keras"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "a zip, but no model")
    with pytest.raises(ValueError, match=r"cannot load model .*empty.keras: a zip archive "
                                         r"without a Keras model in it \(no config.json; it "
                                         r"holds readme.txt\)"):
        load_model(archive)


def test_a_cut_or_damaged_keras_file_is_named_as_such(tiny_trained, tmp_path):
    """Keras would say "File not found" of a file that is there but cut short."""
    whole = save_model(tiny_trained[0], tmp_path / "whole.keras").read_bytes()
    cut = tmp_path / "cut.keras"
    for size in (len(whole) // 2, len(whole) - 10, 100):
        cut.write_bytes(whole[:size])
        with pytest.raises(ValueError, match=r"cut.keras: not a complete .keras file \(not a "
                                             r"whole zip archive: cut short"):
            load_model(cut)
    with zipfile.ZipFile(tmp_path / "whole.keras") as archive:
        info = archive.getinfo("model.weights.h5")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    flipped = bytearray(whole)
    flipped[start + info.compress_size // 2] ^= 0xFF  # one byte inside the weights
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"not a complete .keras file \(model.weights.h5 "
                                         r"inside it is damaged\)"):
        load_model(damaged)


def test_save_model_is_atomic(tiny_trained, monkeypatch):
    """A save that fails half-way leaves the previous file as it was, and no temporary file."""
    model, folder = tiny_trained
    path = save_model(model, folder / "atomic" / "model.keras")
    before = path.read_bytes()

    def broken_save(filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["model.keras"]
    assert load_model(path).class_names == ["text", "no_text"]


def test_weights_file_errors(tiny_trained, tmp_path):
    model, folder = tiny_trained
    weights = folder / "tiny_err.weights.h5"
    model.save_weights(weights)
    with pytest.raises(ValueError, match="not a weights file of a efficientnetv2b0 model at 32 px "
                                         "with 3 classes"):
        build_model("efficientnetv2b0", 32, weights=str(weights), class_names=("a", "b", "c"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_model("efficientnetv2b0", 32, weights=str(tmp_path / "missing.h5"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_model("efficientnetv2b0", 32, weights=str(tmp_path / "missing.weights.h5"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing.keras")


# ---------------------------------------------------------------------------- ImageNet weights

@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty KERAS_HOME, and a download stub recording its calls (no network is touched)."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    calls = []

    def no_download(bb, timeout):
        calls.append((bb.name, timeout))
        return "URLError: <urlopen error [Errno -3] Temporary failure in name resolution>"

    monkeypatch.setattr(models, "_try_imagenet", no_download)
    return home, calls


def test_keras_cache_file_honours_keras_home(keras_home, monkeypatch):
    home, _ = keras_home
    for backbone in PAPER_BACKBONES:
        assert keras_cache_file(backbone) == \
            home / "models" / backbones.get(backbone).imagenet_file
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(home.parent / "user"))
    assert keras_cache_file("xception").parent == home.parent / "user" / ".keras" / "models"


@pytest.mark.parametrize("backbone", PAPER_BACKBONES)
def test_paper_policy_without_weights_says_where_and_how(keras_home, backbone):
    home, calls = keras_home
    with pytest.raises(WeightsUnavailable) as info:
        resolve_weights(backbone, policy="imagenet", download_timeout=3.0)
    message = str(info.value)
    bb = backbones.get(backbone)
    assert bb.imagenet_file in message           # the file
    assert str(home / "models") in message       # where Keras looks for it
    assert "KERAS_HOME" in message
    assert bb.imagenet_url in message and "name resolution" in message  # what was tried, and why
    assert "weights=<path>" in message           # way on 1: a path
    assert "pretrained=False" in message         # way on 2: from scratch
    assert calls == [(backbone, 3.0)]


def test_other_backbone_without_weights(keras_home):
    """A backbone outside the paper: Keras knows its file; the message says it could not get it."""
    _, calls = keras_home
    with pytest.raises(WeightsUnavailable, match="resnet50.*Keras could not download them.*"
                                                 "name resolution.*pass a weights file as "
                                                 "weights=<path>.*pretrained=False") as info:
        resolve_weights("ResNet50", policy="imagenet")
    assert "that file" not in str(info.value)  # no file was named
    choice = resolve_weights("resnet50", policy="auto")
    assert choice.source == "scratch" and "unavailable" in choice.note
    assert calls == [("resnet50", 20.0)] * 2


def test_demo_policy_falls_back_to_scratch_and_says_why(keras_home):
    _, calls = keras_home
    choice = resolve_weights("efficientnetv2b0", policy="auto")
    assert choice.source == "scratch" and choice.weights is None and not choice.pretrained
    assert "from scratch" in choice.note and "unavailable" in choice.note
    assert "name resolution" in choice.note
    assert choice.as_record() == {"source": "scratch", "pretrained": False, "note": choice.note}
    assert len(calls) == 1


def test_cached_weights_are_used_without_download(keras_home):
    home, calls = keras_home
    cached = keras_cache_file("efficientnetv2s")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"stand-in")
    for policy in ("imagenet", "auto"):
        choice = resolve_weights("efficientnetv2s", policy=policy)
        assert (choice.weights, choice.source, choice.pretrained) == ("imagenet", "imagenet", True)
        assert cached.name in choice.note
    assert calls == []


def test_explicit_path_and_scratch_need_no_download(keras_home, tmp_path):
    _, calls = keras_home
    weights = tmp_path / "efficientnetv2-b0_notop.h5"
    weights.write_bytes(b"stand-in")
    choice = resolve_weights("efficientnetv2b0", weights=str(weights))
    assert (choice.weights, choice.source) == (str(weights.resolve()), "file")
    assert choice.pretrained
    scratch = resolve_weights("xception", pretrained=False, policy="imagenet")
    assert (scratch.weights, scratch.source, scratch.pretrained) == (None, "scratch", False)
    assert "pretrained=False" in scratch.note
    with pytest.raises(FileNotFoundError, match="missing.h5 does not exist"):
        resolve_weights("efficientnetv2b0", weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="unknown weights policy 'sometimes'"):
        resolve_weights("efficientnetv2b0", policy="sometimes")
    assert calls == []


def test_try_imagenet_reports_failure_and_restores_socket_timeout(monkeypatch):
    """The real download helper, with Keras's fetcher stubbed: a reason string, no exception."""
    seen = {}

    def failing_get_file(name, url, cache_subdir):
        seen.update(name=name, url=url, subdir=cache_subdir, timeout=socket.getdefaulttimeout())
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    before = socket.getdefaulttimeout()
    xception = backbones.get("xception")
    reason = models._try_imagenet(xception, timeout=2.5)
    assert reason == "OSError: network is unreachable"
    assert seen == {"name": xception.imagenet_file, "url": xception.imagenet_url,
                    "subdir": "models", "timeout": 2.5}
    assert socket.getdefaulttimeout() == before

    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: "/somewhere/file.h5")
    assert models._try_imagenet(xception, timeout=2.5) is None


def test_try_imagenet_of_other_backbone_asks_keras_to_build_it(monkeypatch):
    """Without a declared file, Keras fetches the weights while building the application."""
    built = {}

    def fake_resnet(**kwargs):
        built.update(kwargs, timeout=socket.getdefaulttimeout())
        raise ValueError("no network")

    monkeypatch.setattr(keras.applications, "ResNet50", fake_resnet)
    before = socket.getdefaulttimeout()
    assert models._try_imagenet(backbones.get("resnet50"), timeout=1.5) == \
        "ValueError: no network"
    assert built == {"include_top": False, "weights": "imagenet", "input_shape": (75, 75, 3),
                     "timeout": 1.5}
    assert socket.getdefaulttimeout() == before
