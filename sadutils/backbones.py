"""The registry of backbones: every image classifier of ``keras.applications``, by name.

Each :class:`Backbone` knows what a run needs to know about it: the ``keras.applications``
constructor, the input preprocessing its ImageNet weights expect, its smallest input size, where
Keras keeps its ImageNet weights (for the paper's four) and its row in the paper's tables (or
that it has none). The paper's four backbones are declared here; any other application
(``resnet50``, ``convnexttiny``, ``mobilenet_v3_small``, ...) is found by name in
``keras.applications`` and its preprocessing read off its own ``preprocess_input``. Names are
case-insensitive and ignore ``_`` and ``-``: ``MobileNet_V3_Small`` is ``mobilenetv3small``.

A name that is no backbone fails here, before any data is touched, listing the valid names.
"""
from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .config import check_choice
from .paper import NO_PRETRAIN_SUFFIX

#: The backbones of the paper's Table 1, in its row order.
PAPER_BACKBONES = ("xception", "efficientnetv2b0", "efficientnetv2b2", "efficientnetv2s")
#: How an application's ImageNet weights expect their input (pixels in [0, 255] arrive):
#: ``builtin``: the application normalises its own input; ``tf``: scaled to [-1, 1];
#: ``torch``: scaled to [0, 1] and standardised per channel; ``caffe``: RGB to BGR, per-channel
#: ImageNet mean subtracted.
PREPROCESSING_MODES = ("builtin", "tf", "torch", "caffe")
#: ImageNet channel statistics of the ``torch`` and ``caffe`` modes (Keras' own constants).
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: Smallest input side Keras accepts without the classification top, where it is not 32.
_MIN_SIZE = {"xception": 71, "inceptionv3": 75, "inceptionresnetv2": 75}
_EFFV2_URL = "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"


@dataclass(frozen=True)
class Backbone:
    """One backbone of the registry.

    Attributes
    ----------
    name : str
        The registry name (lower case, no separators), e.g. ``"xception"``.
    application : str
        The ``keras.applications`` constructor, e.g. ``"Xception"``.
    preprocessing : str
        One of :data:`PREPROCESSING_MODES`.
    min_size : int
        Smallest input side (pixels).
    paper_row : str or None
        Its row in the paper's tables (``None``: not in the paper).
    imagenet_file, imagenet_url : str or None
        The "notop" ImageNet weights file as Keras caches it, and where Keras downloads it
        from; known for the paper's backbones (others: Keras' own constants, at build time).
    imagenet_hash : str or None
        The MD5 (32 hex digits) or SHA-256 (64) Keras checks that file against, copied from
        Keras' application module (``tests/test_backbones.py`` compares them).
    """

    name: str
    application: str
    preprocessing: str
    min_size: int = 32
    paper_row: str | None = None
    imagenet_file: str | None = None
    imagenet_url: str | None = None
    imagenet_hash: str | None = None

    @property
    def in_paper(self) -> bool:
        """Whether the paper trained this backbone."""
        return self.paper_row is not None

    def row(self, pretrained: bool = True) -> str:
        """The row of a run of this backbone in Tables 1-3.

        Parameters
        ----------
        pretrained : bool
            False for a run from random weights (``" no-pretrain"`` is appended).

        Returns
        -------
        str
            The paper's row name (``"Xception no-pretrain"``) or, for a backbone or variant the
            paper did not run, the application's name in the same form (``"ResNet50"``).
        """
        return (self.paper_row or self.application) + ("" if pretrained else NO_PRETRAIN_SUFFIX)

    def check_size(self, image_size: int) -> None:
        """Refuse an input size the backbone cannot take.

        Parameters
        ----------
        image_size : int

        Raises
        ------
        ValueError
            Naming the backbone and its minimum.
        """
        if int(image_size) < self.min_size:
            raise ValueError(f"{self.name} needs image_size >= {self.min_size}, got {image_size}")

    def constructor(self):
        """The ``keras.applications`` function building this backbone (imports Keras)."""
        import keras

        return getattr(keras.applications, self.application)

    def accepts_include_preprocessing(self) -> bool:
        """Whether the constructor takes ``include_preprocessing`` (EfficientNetV2, ConvNeXt,
        MobileNetV3: their normalisation is part of the network)."""
        return "include_preprocessing" in inspect.signature(self.constructor()).parameters


#: The paper's four, declared (building or listing them needs no Keras import).
_DECLARED = {
    "xception": Backbone(
        "xception", "Xception", "tf", 71, "Xception",
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b0042744bf5b25fce3cb969f33bebb97"),
    "efficientnetv2b0": Backbone(
        "efficientnetv2b0", "EfficientNetV2B0", "builtin", 32, "EfficientNetV2B0",
        "efficientnetv2-b0_notop.h5", _EFFV2_URL + "efficientnetv2-b0_notop.h5",
        "893217f2bb855e2983157299931e43ff"),
    "efficientnetv2b2": Backbone(
        "efficientnetv2b2", "EfficientNetV2B2", "builtin", 32, "EfficientNetV2B2",
        "efficientnetv2-b2_notop.h5", _EFFV2_URL + "efficientnetv2-b2_notop.h5",
        "1dfe2e7a5d45b6632553a8961ea609eb"),
    "efficientnetv2s": Backbone(
        "efficientnetv2s", "EfficientNetV2S", "builtin", 32, "EfficientNetV2S",
        "efficientnetv2-s_notop.h5", _EFFV2_URL + "efficientnetv2-s_notop.h5",
        "af0682fb74e8c54910f2d4393339c070"),
}


def normalise(name: str) -> str:
    """The registry form of a backbone name: lower case, without ``_``, ``-`` or spaces.

    Parameters
    ----------
    name : str

    Returns
    -------
    str
    """
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


@lru_cache(maxsize=None)
def _applications() -> dict[str, str]:
    """Registry name -> constructor name of every image classifier in ``keras.applications``."""
    import keras

    return {normalise(n): n for n in dir(keras.applications)
            if n[:1].isupper() and callable(getattr(keras.applications, n))}


def _probe_preprocessing(application: str) -> str:
    """Which :data:`PREPROCESSING_MODES` entry the application's ``preprocess_input`` does,
    found by running it on a probe image (Keras documents the mode per module, not per model)."""
    import keras

    module = importlib.import_module(getattr(keras.applications, application).__module__)
    preprocess = getattr(module, "preprocess_input", None)
    if preprocess is None:
        raise ValueError(f"keras.applications.{application} has no preprocess_input; "
                         "it cannot be used as a backbone here")
    probe = np.array([[[[10.0, 100.0, 200.0], [50.0, 60.0, 70.0]]]], dtype="float32")
    expected = {
        "builtin": probe,
        "tf": probe / 127.5 - 1.0,
        "torch": (probe / 255.0 - np.array(TORCH_MEAN)) / np.array(TORCH_STD),
        "caffe": probe[..., ::-1] - np.array(CAFFE_MEAN_BGR),
    }
    got = np.asarray(preprocess(probe.copy()), dtype="float64")
    for mode, want in expected.items():
        if got.shape == want.shape and np.allclose(got, want, atol=1e-3):
            return mode
    raise ValueError(f"the preprocessing of keras.applications.{application} is none of "
                     f"{', '.join(PREPROCESSING_MODES)}; it cannot be used as a backbone here")


@lru_cache(maxsize=None)
def _discovered(name: str) -> Backbone:
    application = _applications()[name]
    return Backbone(name, application, _probe_preprocessing(application),
                    _MIN_SIZE.get(name, 32), None)


def names() -> tuple[str, ...]:
    """Every backbone name the registry knows: the paper's four first, then all other
    ``keras.applications`` classifiers (imports Keras).

    Returns
    -------
    tuple of str
    """
    others = sorted(set(_applications()) - set(PAPER_BACKBONES))
    return PAPER_BACKBONES + tuple(others)


def get(name) -> Backbone:
    """The backbone called ``name``.

    Parameters
    ----------
    name : str or Backbone
        A registry name (any case; ``_`` and ``-`` ignored). A :class:`Backbone` is returned
        as it is.

    Returns
    -------
    Backbone

    Raises
    ------
    ValueError
        For a name that is no ``keras.applications`` image classifier, listing the valid names.
    """
    if isinstance(name, Backbone):
        return name
    key = normalise(name)
    if key in _DECLARED:
        return _DECLARED[key]
    if not isinstance(name, str) or key not in _applications():
        check_choice("backbone", name, names())
    return _discovered(key)
