"""The paper's four backbones with a two-class head, and where their ImageNet weights come from.

Every model built here takes raw RGB pixels in ``[0, 255]`` and carries its own preprocessing, so a
saved ``.keras`` file classifies images without the caller knowing which backbone it holds:
EfficientNetV2 models include their normalisation (``include_preprocessing=True``), and Xception
gets a ``Rescaling`` layer that maps pixels to ``[-1, 1]`` as
``keras.applications.xception.preprocess_input`` does.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from .config import BACKBONES, check_choice

#: Smallest input side each backbone accepts (Keras checks the same).
MIN_SIZE = {"xception": 71, "efficientnetv2b0": 32, "efficientnetv2b2": 32, "efficientnetv2s": 32}

_EFFV2_URL = "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"
#: The "notop" ImageNet weight files ``keras.applications`` downloads, with their origin.
IMAGENET_FILES = {
    "xception": (
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
    "efficientnetv2b0": ("efficientnetv2-b0_notop.h5", _EFFV2_URL + "efficientnetv2-b0_notop.h5"),
    "efficientnetv2b2": ("efficientnetv2-b2_notop.h5", _EFFV2_URL + "efficientnetv2-b2_notop.h5"),
    "efficientnetv2s": ("efficientnetv2-s_notop.h5", _EFFV2_URL + "efficientnetv2-s_notop.h5"),
}


class WeightsUnavailable(RuntimeError):
    """ImageNet weights were required but Keras could not find or download them."""


@dataclass(frozen=True)
class WeightsChoice:
    """What a run will initialise its backbone from, and why (kept in the results record)."""

    weights: str | None  # "imagenet", a file path, or None (from scratch)
    source: str  # "imagenet", "file", "scratch"
    note: str

    @property
    def pretrained(self) -> bool:
        return self.source != "scratch"


def keras_cache_file(backbone: str) -> Path:
    """Where Keras keeps (or would download) the ImageNet "notop" weights of ``backbone``."""
    check_choice("backbone", backbone, BACKBONES)
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "models" / IMAGENET_FILES[backbone][0]


def _try_download(backbone: str, timeout: float) -> str | None:
    """Ask Keras to fetch the ImageNet weights; the reason it could not, or None on success."""
    import keras

    name, url = IMAGENET_FILES[backbone]
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # urllib inside get_file has no timeout of its own
    try:
        keras.utils.get_file(name, url, cache_subdir="models")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available", with its reason
        return f"{type(exc).__name__}: {exc}".strip()
    finally:
        socket.setdefaulttimeout(previous)


def resolve_weights(backbone: str, pretrained: bool = True, weights: str | None = None,
                    policy: str = "imagenet", download_timeout: float = 20.0) -> WeightsChoice:
    """Decide what to initialise ``backbone`` from.

    ``weights`` (a path to a weights file) wins when given. Otherwise, with ``pretrained`` the
    ImageNet weights are used from the Keras cache, downloading them if needed. When they cannot be
    had, ``policy="imagenet"`` (the paper profile) raises :class:`WeightsUnavailable` naming the file
    and the ways on, and ``policy="auto"`` (the demo profile) falls back to training from scratch and
    says so in the returned note.
    """
    check_choice("backbone", backbone, BACKBONES)
    check_choice("weights policy", policy, ("imagenet", "auto"))
    if weights not in (None, "", "imagenet"):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist")
        return WeightsChoice(str(path.resolve()), "file", f"weights loaded from {path}")
    if not pretrained:
        return WeightsChoice(None, "scratch", "trained from scratch (pretrained=False)")
    cached = keras_cache_file(backbone)
    reason = None if cached.is_file() else _try_download(backbone, download_timeout)
    if reason is None:
        return WeightsChoice("imagenet", "imagenet", f"ImageNet weights ({cached.name})")
    if policy == "auto":
        return WeightsChoice(None, "scratch",
                             f"trained from scratch: ImageNet weights unavailable ({reason})")
    raise WeightsUnavailable(
        f"ImageNet weights for {backbone} are not available: {cached.name} is not in {cached.parent} "
        f"(Keras looks there; set KERAS_HOME to move it) and downloading it from "
        f"{IMAGENET_FILES[backbone][1]} failed ({reason}). Either put that file there or pass its "
        f"path as weights=<path to {cached.name}>, or train from scratch with pretrained=False."
    )


def _backbone(backbone: str, image_size: int, weights):
    import keras
    from keras import applications, layers

    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    if backbone == "xception":
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="xception_preprocess")(inputs)
        base = applications.Xception(include_top=False, weights=weights,
                                     input_shape=(image_size, image_size, 3))
    else:
        constructor = {
            "efficientnetv2b0": applications.EfficientNetV2B0,
            "efficientnetv2b2": applications.EfficientNetV2B2,
            "efficientnetv2s": applications.EfficientNetV2S,
        }[backbone]
        x = inputs
        base = constructor(include_top=False, weights=weights, include_preprocessing=True,
                           input_shape=(image_size, image_size, 3))
    return inputs, x, base


def build_model(backbone: str, image_size: int = 150, weights: str | None = None,
                class_names=("sadness", "others"), dropout: float = 0.2):
    """A ``keras.Model`` mapping ``[0, 255]`` RGB pixels to class probabilities.

    ``weights`` is ``"imagenet"``, ``None`` (random initialisation) or a path to a weights file:
    either a backbone "notop" file as Keras downloads it, or the ``.weights.h5`` of a whole model
    built here (saved with ``model.save_weights``). The class names are stored on the model, so
    :func:`load_model` and ``sadutils predict`` can name the outputs.
    """
    import keras
    from keras import layers

    check_choice("backbone", backbone, BACKBONES)
    if image_size < MIN_SIZE[backbone]:
        raise ValueError(f"{backbone} needs image_size >= {MIN_SIZE[backbone]}, got {image_size}")
    whole_model_file = None
    backbone_weights = weights
    if weights not in (None, "imagenet"):
        if not Path(weights).is_file():
            raise FileNotFoundError(f"weights file {weights} does not exist")
        if str(weights).endswith(".weights.h5"):
            whole_model_file, backbone_weights = weights, None
    inputs, x, base = _backbone(backbone, image_size, backbone_weights)
    x = base(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    # float32 output keeps the softmax and the loss stable under mixed precision.
    outputs = layers.Dense(len(class_names), activation="softmax", dtype="float32",
                           name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=f"{backbone}_{'_'.join(class_names)}")
    if whole_model_file is not None:
        try:
            model.load_weights(whole_model_file)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(
                f"{whole_model_file}: not a weights file of a {backbone} model at "
                f"{image_size} px with {len(class_names)} classes ({exc})") from exc
    set_class_names(model, class_names)
    return model


def set_class_names(model, class_names) -> None:
    """Remember the output class names on the model (they travel inside the ``.keras`` file)."""
    model.class_names = list(class_names)


def save_model(model, path) -> Path:
    """Save ``model`` as ``.keras`` with its class names beside it (``<path>.classes.txt``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    Path(str(path) + ".classes.txt").write_text("\n".join(model.class_names) + "\n")
    return path


def load_model(path):
    """Load a ``.keras`` model saved by :func:`save_model`, with its class names."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    model = keras.models.load_model(path, compile=False)
    names_file = Path(str(path) + ".classes.txt")
    if names_file.is_file():
        names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    else:
        names = [f"class_{i}" for i in range(model.output_shape[-1])]
    set_class_names(model, names)
    return model
