"""Grad-CAM: where in an image a model finds the evidence for a class.

Grad-CAM (Selvaraju et al., ICCV 2017) weights each channel of a convolutional feature map by
the mean gradient of the class score over the map, sums the channels, keeps the positive part
and scales it to 0..1: the regions whose features raise the score. It is computed here with a
``tf.GradientTape``, for any model :func:`sadutils.models.build_model` makes (and any other
chain of layers around a convolutional feature map):

* the models are a chain ``pixels -> preprocessing -> backbone -> pooling -> dropout ->
  softmax``, and the backbone is a Keras model nested inside. Keras 3 cannot build a model
  whose outputs reach *inside* a nested model (``Output ... is not connected to inputs``,
  which is also why tf-keras-vis 0.8.7, the version on PyPI, fails on these models), so the
  chain is run layer by layer under the tape instead: :func:`split_model` finds the backbone,
  and for a layer inside it builds a sub-model of the backbone alone, where that is allowed;
* by default the feature map is the backbone's output: the activation of its last
  convolutional block (Xception's ``block14_sepconv2_act``, EfficientNetV2's
  ``top_activation``, ResNet's last block), the layer Grad-CAM is usually shown for;
* the class score is the log-odds of the class, taken from the logits when the head ends in a
  softmax ``Dense`` layer, as Grad-CAM asks for a score before the softmax: a probability near 1
  has almost no gradient left.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from .. import inference, models
from ..workspace import Workspace


@dataclass(frozen=True)
class ModelParts:
    """A model cut at a convolutional feature map.

    Attributes
    ----------
    before : tuple of keras.layers.Layer
        The layers from the input to the backbone (preprocessing), in order.
    backbone : keras.layers.Layer
        The layer holding the feature map: a nested model, or a layer of the chain.
    features : keras.Model or None
        For a feature map inside a nested backbone: a model of the backbone's input giving
        ``(feature map, backbone output)``; None when the feature map is the backbone's output.
    after : tuple of keras.layers.Layer
        The head, in order (the last one gives the class probabilities).
    layer_name : str
        The feature map's layer.
    """

    before: tuple
    backbone: object
    features: object
    after: tuple
    layer_name: str


def _rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # a layer never called in the model's graph
        return None


def _chain(model) -> list:
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"model {model.name} has {len(model.inputs)} inputs and "
                         f"{len(model.outputs)} outputs; Grad-CAM here needs one of each")
    return layers


def split_model(model, layer: str | None = None) -> ModelParts:
    """Cut a model at the feature map Grad-CAM reads.

    Parameters
    ----------
    model : keras.Model
        A chain of layers with one image input, such as those of
        :func:`sadutils.models.build_model`.
    layer : str, optional
        The feature map's layer: a layer of the chain or of the nested backbone. Default: the
        last layer of the chain whose output is a 4-D feature map (for the registry's models,
        the backbone, i.e. its last convolutional block).

    Returns
    -------
    ModelParts

    Raises
    ------
    ValueError
        When the model has several inputs or outputs, no 4-D feature map, no such layer, or a
        layer whose output is not a feature map.
    """
    chain = _chain(model)
    if layer is None:
        spatial = [i for i, lay in enumerate(chain) if _rank(lay) == 4]
        if not spatial:
            raise ValueError(f"model {model.name} has no layer with a 4-D feature map output")
        i = spatial[-1]
        return ModelParts(tuple(chain[:i]), chain[i], None, tuple(chain[i + 1:]), chain[i].name)
    for i, lay in enumerate(chain):
        if lay.name == layer:
            if _rank(lay) != 4:
                raise ValueError(f"layer {layer} of {model.name} gives no 4-D feature map")
            return ModelParts(tuple(chain[:i]), lay, None, tuple(chain[i + 1:]), layer)
    for i, lay in enumerate(chain):
        if isinstance(lay, keras.Model) and layer in {inner.name for inner in lay.layers}:
            inner = lay.get_layer(layer)
            if _rank(inner) != 4:
                raise ValueError(f"layer {layer} of {lay.name} gives no 4-D feature map")
            features = keras.Model(lay.inputs, [inner.output, lay.output])
            return ModelParts(tuple(chain[:i]), lay, features, tuple(chain[i + 1:]), layer)
    raise ValueError(f"model {model.name} has no layer {layer!r} (nor has its backbone)")


def _class_logits(head: tuple, x):
    """The head's output before its softmax (log-probabilities when it cannot be separated)."""
    for lay in head[:-1]:
        x = lay(x, training=False)
    last = head[-1]
    if isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax:
        logits = keras.ops.matmul(tf.cast(x, last.kernel.dtype), last.kernel)
        return tf.cast(logits + last.bias if last.use_bias else logits, tf.float32)
    probabilities = tf.cast(last(x, training=False), tf.float32)
    return tf.math.log(tf.clip_by_value(probabilities, 1e-12, 1.0))


def class_log_odds(logits, target):
    """Per image, the log-odds of its target class against all others.

    Parameters
    ----------
    logits : tensor
        ``(n, classes)``.
    target : tensor of int
        ``(n,)``.

    Returns
    -------
    tensor
        ``logit[target] - logsumexp(other logits)``: with two classes, the difference of the
        two logits, i.e. ``log(p / (1 - p))``.
    """
    n_classes = logits.shape[-1]
    mine = tf.one_hot(target, n_classes) > 0.5
    own = tf.reduce_sum(tf.where(mine, logits, 0.0), axis=-1)
    rest = tf.reduce_logsumexp(tf.where(mine, tf.constant(-np.inf, logits.dtype), logits), axis=-1)
    return own - rest


@dataclass(frozen=True)
class GradCam:
    """Grad-CAM maps of a batch of images.

    Attributes
    ----------
    heatmaps : ndarray
        ``(n, height, width)`` at the input's size, each scaled to 0..1 by its maximum (all
        zero when nothing in the image raises the class score).
    coarse : ndarray
        ``(n, h, w)``: the maps at the feature map's resolution, before scaling.
    probabilities : ndarray
        ``(n, classes)``: the model's output for each image.
    target : ndarray
        ``(n,)``: the class each map explains.
    layer : str
        The feature map's layer.
    """

    heatmaps: np.ndarray
    coarse: np.ndarray
    probabilities: np.ndarray
    target: np.ndarray
    layer: str


def _targets(target, model, n: int, probabilities: np.ndarray) -> np.ndarray:
    if target is None or (isinstance(target, str) and target == "predicted"):
        return probabilities.argmax(axis=1)
    names = list(getattr(model, "class_names", []))
    values = [target] * n if isinstance(target, (str, int, np.integer)) else list(target)
    if len(values) != n:
        raise ValueError(f"{len(values)} targets for {n} images")
    out = []
    for value in values:
        if isinstance(value, str):
            if value not in names:
                raise ValueError(f"unknown class {value!r}; the model's classes: "
                                 f"{', '.join(names) or '(unnamed)'}")
            value = names.index(value)
        if not 0 <= int(value) < probabilities.shape[1]:
            raise ValueError(f"class index {value} out of range 0..{probabilities.shape[1] - 1}")
        out.append(int(value))
    return np.asarray(out, dtype=int)


def _batch(parts: ModelParts, x, target):
    """Feature map, gradients of the target's log-odds and probabilities for one batch."""
    with tf.GradientTape() as tape:
        h = x
        for lay in parts.before:
            h = lay(h, training=False)
        if parts.features is not None:
            feature_map, h = parts.features(h, training=False)
        else:
            feature_map = h = parts.backbone(h, training=False)
        logits = _class_logits(parts.after, h)
        score = class_log_odds(logits, tf.constant(target, tf.int32))
    grads = tape.gradient(score, feature_map)
    return (tf.cast(feature_map, tf.float32), tf.cast(grads, tf.float32),
            tf.nn.softmax(logits, axis=-1))


def gradcam(model, images, target=None, layer: str | None = None,
            batch_size: int = 16) -> GradCam:
    """Grad-CAM maps of ``images`` for one class each.

    Parameters
    ----------
    model : keras.Model
        See :func:`split_model`.
    images : array
        ``(n, height, width, 3)`` as the model takes them (raw ``[0, 255]`` pixels for the
        registry's models).
    target : None, "predicted", str, int or sequence
        The class each map explains: the predicted class (default), a class name of
        ``model.class_names``, an index, or one per image.
    layer : str, optional
        See :func:`split_model`.
    batch_size : int

    Returns
    -------
    GradCam

    Raises
    ------
    ValueError
        For a model that cannot be cut (:func:`split_model`), an unknown class, or images of
        the wrong shape.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty (n, height, width, channels) array, got "
                         f"shape {images.shape}")
    parts = split_model(model, layer)
    maps, probabilities, targets = [], [], []
    for start in range(0, len(images), batch_size):
        x = tf.constant(images[start:start + batch_size])
        probe = np.asarray(model(x, training=False), dtype=np.float32)
        wanted = _targets(target if isinstance(target, (str, int, np.integer)) or target is None
                          else list(target)[start:start + batch_size], model, len(x), probe)
        not_chain = (f"model {model.name} is not a chain of layers around {parts.layer_name}: "
                     "run layer by layer it")
        try:
            feature_map, grads, proba = _batch(parts, x, wanted)
        except (ValueError, TypeError, tf.errors.InvalidArgumentError) as exc:
            raise ValueError(f"{not_chain} fails ({' '.join(str(exc).split())})") from None
        if not np.allclose(np.asarray(proba), probe, atol=1e-4):
            raise ValueError(f"{not_chain} gives other outputs")
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        maps.append(np.asarray(tf.nn.relu(tf.reduce_sum(weights * feature_map, axis=-1))))
        probabilities.append(probe)
        targets.append(wanted)
    coarse = np.concatenate(maps)
    peak = coarse.max(axis=(1, 2), keepdims=True)
    scaled = np.divide(coarse, peak, out=np.zeros_like(coarse), where=peak > 0)
    heatmaps = np.asarray(tf.image.resize(scaled[..., None], images.shape[1:3],
                                          method="bilinear"))[..., 0]
    return GradCam(np.clip(heatmaps, 0.0, 1.0), coarse, np.concatenate(probabilities),
                   np.concatenate(targets), parts.layer_name)


def gradcam_for_records(ws: Workspace, records, paths, target=None,
                        layer: str | None = None) -> dict:
    """Grad-CAM of the same images for the model of each training record.

    Parameters
    ----------
    ws : Workspace
    records : list of Record
        Training records (Table 1); each model is loaded from its ``model`` artifact and fed
        the images at its ``params.image_size``.
    paths : sequence of path
        The images.
    target : see :func:`gradcam`
    layer : str, optional
        A layer name every backbone has; default each backbone's last convolutional block.

    Returns
    -------
    dict
        ``{row: (images, GradCam)}`` in the records' order; ``images`` are the ``uint8``
        pixels the model saw.

    Raises
    ------
    FileNotFoundError
        When a record's model file is gone.
    ValueError
        When an image cannot be read (naming it).
    """
    out = {}
    for rec in records:
        path = rec.artifact("model", ws)
        if path is None or not path.is_file():
            raise FileNotFoundError(f"the model of record {rec.run_id} ({path}) is gone; train "
                                    "it again (sadutils reproduce)")
        model = models.load_model(path)
        size = int(rec.params.get("image_size") or model.input_shape[1])
        images, failed = inference.decode_images(list(map(str, paths)), size)
        if failed:
            raise ValueError(f"{failed[0][0]}: cannot read the image ({failed[0][1]})")
        out[rec.row or rec.backbone] = (images, gradcam(model, images, target, layer))
        del model
    return out


def heat_summary(results: dict) -> pd.DataFrame:
    """Where each model's heat lies, over the images it was computed for.

    Parameters
    ----------
    results : dict
        :func:`gradcam_for_records`.

    Returns
    -------
    DataFrame
        Per model: ``upper_half`` (mean share of the heat in the image's upper half, the sky in
        most photographs), ``area`` (mean share of pixels at half the peak or more: how spread
        the evidence is), ``blank`` (images whose map is all zero), and
        ``agreement`` (mean correlation of its maps with the other models' maps of the same
        images; NaN for a single model).
    """
    rows, flat = [], {}
    for model, (_, cam) in results.items():
        heat = cam.heatmaps
        total = heat.sum(axis=(1, 2))
        half = heat.shape[1] // 2
        upper = np.divide(heat[:, :half].sum(axis=(1, 2)), total, out=np.full_like(total, np.nan),
                          where=total > 0)
        rows.append({"model": model, "upper_half": float(np.nanmean(upper))
                     if np.isfinite(upper).any() else np.nan,
                     "area": float((heat >= 0.5).mean(axis=(1, 2)).mean()),
                     "blank": int((total == 0).sum()), "images": len(heat)})
        flat[model] = heat.reshape(len(heat), -1)
    for row in rows:
        mine = flat[row["model"]]
        others = [m for m in flat if m != row["model"] and flat[m].shape == mine.shape]
        corr = [np.corrcoef(a, b)[0, 1] for m in others
                for a, b in zip(mine, flat[m]) if a.std() > 0 and b.std() > 0]
        row["agreement"] = float(np.mean(corr)) if corr else np.nan
    return pd.DataFrame(rows)
