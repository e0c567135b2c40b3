"""A backbone with a two-class head, where its starting weights come from, and its ``.keras`` file.

Every model built here takes raw RGB pixels in ``[0, 255]`` and carries its own preprocessing
(the one its backbone's ImageNet weights expect, :mod:`sadutils.backbones`), and its ``.keras``
file carries the names of its classes, so a saved model classifies images without the caller
knowing which backbone it holds.
"""
from __future__ import annotations

import json
import socket
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from . import backbones
from .backbones import CAFFE_MEAN_BGR, TORCH_MEAN, TORCH_STD, Backbone
from .config import CLASS_NAMES, check_choice
from .fileio import atomic_path
# Re-exported: the weights files' side (no TensorFlow needed) lives in sadutils.weights.
from .weights import WeightsUnavailable, keras_cache_file  # noqa: F401

#: The entry of a ``.keras`` file (a zip archive) that holds the class names; Keras ignores it.
CLASS_NAMES_ENTRY = "sadutils.json"
WEIGHT_POLICIES = ("imagenet", "auto")


@dataclass(frozen=True)
class WeightsChoice:
    """What a run initialises its backbone from, and why (kept in the results record).

    Attributes
    ----------
    weights : str or None
        ``"imagenet"``, a file path, or None (from scratch).
    source : str
        ``"imagenet"``, ``"file"`` or ``"scratch"``.
    note : str
        A sentence for people: which file, or why there are no ImageNet weights.
    """

    weights: str | None
    source: str
    note: str

    @property
    def pretrained(self) -> bool:
        return self.source != "scratch"

    def as_record(self) -> dict:
        """The ``weights`` field of a results record."""
        return {"source": self.source, "pretrained": self.pretrained, "note": self.note}


def _try_imagenet(bb: Backbone, timeout: float) -> str | None:
    """Ask Keras for the ImageNet weights (downloading them if needed); the reason it could not,
    or None when they are now in its cache."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # urllib inside get_file has no timeout of its own
    try:
        if bb.imagenet_file is not None:
            keras.utils.get_file(bb.imagenet_file, bb.imagenet_url, cache_subdir="models")
        else:  # Keras knows the file of every application: let it fetch it by building one
            bb.constructor()(include_top=False, weights="imagenet",
                             input_shape=(max(bb.min_size, 75),) * 2 + (3,))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available", with its reason
        return f"{type(exc).__name__}: {exc}".strip()
    finally:
        socket.setdefaulttimeout(previous)


def resolve_weights(backbone, pretrained: bool = True, weights: str | None = None,
                    policy: str = "imagenet", download_timeout: float = 20.0) -> WeightsChoice:
    """Decide what to initialise ``backbone`` from.

    Parameters
    ----------
    backbone : str or Backbone
    pretrained : bool
        Start from ImageNet weights (False: from random weights).
    weights : str, optional
        A weights file; wins when given (a backbone "notop" ``.h5`` as Keras downloads it, or
        the ``.weights.h5`` of a whole model built here).
    policy : {"imagenet", "auto"}
        When ImageNet weights are wanted but cannot be had: ``"imagenet"`` (the paper profile)
        raises, ``"auto"`` (the demo profile) falls back to random weights and says so.
    download_timeout : float
        Seconds to wait for the network.

    Returns
    -------
    WeightsChoice

    Raises
    ------
    FileNotFoundError
        When ``weights`` names a file that does not exist.
    WeightsUnavailable
        Under ``policy="imagenet"`` without ImageNet weights, naming the file, where Keras looks
        and the two ways on.
    """
    bb = backbones.get(backbone)
    check_choice("weights policy", policy, WEIGHT_POLICIES)
    if weights not in (None, "", "imagenet"):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist")
        return WeightsChoice(str(path.resolve()), "file", f"weights loaded from {path.name}")
    if not pretrained:
        return WeightsChoice(None, "scratch", "trained from scratch (pretrained=False)")
    cached = keras_cache_file(bb)
    reason = None if cached is not None and cached.is_file() else _try_imagenet(bb,
                                                                               download_timeout)
    if reason is None:
        name = cached.name if cached is not None else f"Keras' {bb.application} file"
        return WeightsChoice("imagenet", "imagenet", f"ImageNet weights ({name})")
    if policy == "auto":
        return WeightsChoice(None, "scratch",
                             f"trained from scratch: ImageNet weights unavailable ({reason})")
    where = (f"{cached.name} is not in {cached.parent} (Keras looks there; set KERAS_HOME to "
             f"move it) and downloading it from {bb.imagenet_url} failed"
             if cached is not None else "Keras could not download them")
    way = ("put that file there or pass its path as weights=<path>" if cached is not None
           else "pass a weights file as weights=<path>")
    raise WeightsUnavailable(
        f"ImageNet weights for {bb.name} are not available: {where} ({reason}). Either {way}, "
        f"or train from scratch with pretrained=False.")


@keras.saving.register_keras_serializable(package="sadutils")
class ReverseChannels(layers.Layer):
    """RGB to BGR (the ``caffe`` preprocessing of ResNet and VGG weights), as a saved layer."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=-1)


def preprocessing_layers(bb: Backbone) -> list:
    """The layers mapping ``[0, 255]`` RGB to what ``bb``'s ImageNet weights expect.

    Parameters
    ----------
    bb : Backbone

    Returns
    -------
    list of keras.layers.Layer
        Empty for a backbone that normalises its own input.
    """
    name = f"{bb.name}_preprocess"
    if bb.preprocessing == "tf":
        return [layers.Rescaling(1 / 127.5, offset=-1.0, name=name)]
    if bb.preprocessing == "torch":
        return [layers.Rescaling(1 / 255.0, name=f"{name}_scale"),
                layers.Normalization(mean=TORCH_MEAN, variance=[s * s for s in TORCH_STD],
                                     name=name)]
    if bb.preprocessing == "caffe":
        return [ReverseChannels(name=f"{name}_bgr"),
                layers.Normalization(mean=CAFFE_MEAN_BGR, variance=[1.0, 1.0, 1.0], name=name)]
    return []


def build_model(backbone, image_size: int = 150, weights: str | None = None,
                class_names=CLASS_NAMES, dropout: float = 0.2):
    """A ``keras.Model`` mapping ``[0, 255]`` RGB pixels to class probabilities.

    Parameters
    ----------
    backbone : str or Backbone
        A registry name (:func:`sadutils.backbones.get`).
    image_size : int
        Input side in pixels.
    weights : str, optional
        ``"imagenet"``, None (random initialisation) or a weights file: a backbone "notop" file
        as Keras downloads it, or the ``.weights.h5`` of a whole model built here.
    class_names : sequence of str
        The output classes, in index order; stored with the model.
    dropout : float
        Dropout rate before the head.

    Returns
    -------
    keras.Model
        Backbone, global average pooling, dropout and a float32 softmax (stable under mixed
        precision); ``model.class_names`` holds the class names.

    Raises
    ------
    ValueError
        For an unknown backbone, an input too small for it, or a weights file of another model.
    FileNotFoundError
        For a weights file that does not exist.
    """
    bb = backbones.get(backbone)
    bb.check_size(image_size)
    whole_model_file = None
    backbone_weights = weights
    if weights not in (None, "imagenet"):
        if not Path(weights).is_file():
            raise FileNotFoundError(f"weights file {weights} does not exist")
        if str(weights).endswith(".weights.h5"):
            whole_model_file, backbone_weights = weights, None
    shape = (image_size, image_size, 3)
    inputs = keras.Input(shape, name="pixels")
    x = inputs
    for layer in preprocessing_layers(bb):
        x = layer(x)
    options = {"include_preprocessing": True} if bb.accepts_include_preprocessing() else {}
    base = bb.constructor()(include_top=False, weights=backbone_weights, input_shape=shape,
                            **options)
    x = base(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(len(class_names), activation="softmax", dtype="float32",
                           name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=f"{bb.name}_{'_'.join(class_names)}")
    if whole_model_file is not None:
        try:
            model.load_weights(whole_model_file)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(
                f"{whole_model_file}: not a weights file of a {bb.name} model at "
                f"{image_size} px with {len(class_names)} classes ({exc})") from exc
    set_class_names(model, class_names)
    return model


def set_class_names(model, class_names) -> None:
    """Attach the output class names to ``model`` (:func:`save_model` stores them).

    Parameters
    ----------
    model : keras.Model
    class_names : sequence of str
    """
    model.class_names = [str(c) for c in class_names]


def save_model(model, path) -> Path:
    """Save ``model`` as a ``.keras`` file holding its class names, atomically.

    The class names go into the archive as :data:`CLASS_NAMES_ENTRY`, which Keras ignores, so
    the file still loads with plain ``keras.models.load_model``.

    Parameters
    ----------
    model : keras.Model
        With ``class_names`` (:func:`set_class_names`).
    path : path
        Ends in ``.keras``.

    Returns
    -------
    Path
    """
    path = Path(path)
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(CLASS_NAMES_ENTRY, json.dumps({"class_names": model.class_names}))
    return path


def _stored_class_names(path: Path) -> list[str] | None:
    """The class names inside a ``.keras`` file, or beside it in ``<path>.classes.txt`` (files
    saved by earlier versions); None when neither has them."""
    try:
        with zipfile.ZipFile(path) as archive:
            if CLASS_NAMES_ENTRY in archive.namelist():
                names = json.loads(archive.read(CLASS_NAMES_ENTRY)).get("class_names")
                if isinstance(names, list) and all(isinstance(n, str) for n in names):
                    return names
    except (OSError, zipfile.BadZipFile, ValueError, AttributeError):
        pass
    sidecar = Path(str(path) + ".classes.txt")
    if sidecar.is_file():
        return [line.strip() for line in sidecar.read_text().splitlines() if line.strip()]
    return None


def keras_archive_problem(path) -> str | None:
    """Why a ``.keras`` file cannot be a whole model, before Keras reads it (Keras would say
    "File not found" of a file cut short, and "KeyError" of a zip without a model).

    Parameters
    ----------
    path : path

    Returns
    -------
    str or None
        None when it is a whole zip archive holding a model's ``config.json``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            damaged = archive.testzip()  # reads every member, checking its CRC
    except (zipfile.BadZipFile, EOFError, zlib.error):
        return ("not a complete .keras file (not a whole zip archive: cut short, e.g. by an "
                "interrupted copy, or another kind of file)")
    if "config.json" not in names:
        shown = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "") or "nothing"
        return (f"a zip archive without a Keras model in it (no config.json; it holds "
                f"{shown})")
    if damaged is not None:
        return f"not a complete .keras file ({damaged} inside it is damaged)"
    return None


def load_model(path):
    """Load a ``.keras`` model with its class names (Keras' safe mode: no code from the file).

    Parameters
    ----------
    path : path

    Returns
    -------
    keras.Model
        With ``class_names`` set: the stored names, else ``class_0``, ``class_1``, ...

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the stored names do not match the model's outputs, or Keras cannot load the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    problem = keras_archive_problem(path) if path.suffix == ".keras" else None
    if problem:
        raise ValueError(f"cannot load model {path}: {problem}")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - a file Keras cannot load is the user's, not a bug
        raise ValueError(f"cannot load model {path}: {type(exc).__name__}: "
                         f"{' '.join(str(exc).split())}") from None
    n_out = model.output_shape[-1]
    names = _stored_class_names(path) or [f"class_{i}" for i in range(n_out)]
    if len(names) != n_out:
        raise ValueError(f"{path}: {len(names)} class names stored for a model with {n_out} "
                         "outputs")
    set_class_names(model, names)
    return model
