"""Does a model read? Its predictions with the text of an image masked, and its Grad-CAM heat
on the text.

For an image the OCR detector finds text in, :func:`masked_pixels` removes the text regions
(each line's box, widened by a margin) by inpainting them from their surroundings (OpenCV's
Telea method, which fills a region from its border inward, so no black box or blur is left
for a model to react to) and, as a placebo, the same regions moved to a part of the image
without text (:func:`placebo_regions`). A model that uses the text changes its answer when the
text goes; one that does not changes it no more often than when an equal area of the picture
goes. :func:`reliance_table` counts the flips per model, :func:`reliance_difference` gives the
difference between two models with a paired bootstrap interval over the images, and
:func:`cam_mass` measures how much of a model's Grad-CAM heat lies on the text.

Everything here takes pixels, regions and predictions; loading models and choosing images is
:mod:`sadutils.analysis.text_ablation`'s.
"""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from ..data.images import DEFAULT_MAX_PIXELS, open_rgb
from ..settings import MASK_METHODS

#: How far a mask reaches beyond a line's box, as a fraction of the image's shorter side: the
#: detector's boxes hug the letters, and strokes, shadows and a caption's band reach beyond.
MARGIN = 0.03
#: Bootstrap resamples of the intervals here.
N_BOOT = 5000


def region_mask(regions, width: int, height: int, margin: float = MARGIN) -> np.ndarray:
    """The pixels covered by text regions, widened by a margin.

    Parameters
    ----------
    regions : sequence of array
        Polygons ``(k, 2)`` with corners as fractions of the width and height
        (:meth:`sadutils.text_detection.OcrScorer.text_regions`).
    width, height : int
        Of the image the mask is for.
    margin : float
        Widening, as a fraction of the shorter side (0: the polygons alone).

    Returns
    -------
    ndarray of bool
        ``(height, width)``.
    """
    canvas = Image.new("L", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in regions:
        points = np.asarray(polygon, float).reshape(-1, 2) * [width, height]
        if len(points) >= 3:
            draw.polygon([tuple(p) for p in points.tolist()], fill=255)
    mask = np.asarray(canvas) > 0
    reach = int(round(margin * min(width, height)))
    if reach > 0 and mask.any():
        kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
        mask = cv2.dilate(mask.astype(np.uint8), kernel) > 0
    return mask


def mask_image(pixels: np.ndarray, mask: np.ndarray, method: str = "inpaint") -> np.ndarray:
    """``pixels`` with the masked pixels removed; the others untouched.

    Parameters
    ----------
    pixels : ndarray
        ``uint8`` ``(height, width, 3)``.
    mask : ndarray of bool
        ``(height, width)``.
    method : {"inpaint", "blur"}
        ``inpaint``: filled from the region's border (OpenCV's Telea method, radius 5 px);
        ``blur``: replaced by a Gaussian blur of the image (sigma a tenth of the shorter
        side).

    Returns
    -------
    ndarray
        ``uint8`` ``(height, width, 3)``, a new array.

    Raises
    ------
    ValueError
        For an unknown method or shapes that do not match.
    """
    if method not in MASK_METHODS:
        raise ValueError(f"unknown mask method {method!r}; valid choices: "
                         f"{', '.join(MASK_METHODS)}")
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    mask = np.asarray(mask, bool)
    if pixels.ndim != 3 or mask.shape != pixels.shape[:2]:
        raise ValueError(f"a mask of shape {mask.shape} does not fit an image of shape "
                         f"{pixels.shape}")
    if not mask.any():
        return pixels.copy()
    if method == "inpaint":
        return cv2.inpaint(pixels, mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    sigma = max(1.0, min(mask.shape) / 10)
    blurred = cv2.GaussianBlur(pixels, (0, 0), sigma)
    out = pixels.copy()
    out[mask] = blurred[mask]
    return out


def placebo_regions(regions, margin: float = MARGIN, size: int = 128) -> list | None:
    """The same regions moved to where there is no text: the placebo of a text mask.

    The regions are mirrored (top to bottom, left to right, or both), keeping their shapes and
    areas; the first mirror image whose mask does not touch the text's mask is taken.

    Parameters
    ----------
    regions : sequence of array
        As for :func:`region_mask`.
    margin : float
    size : int
        The grid the overlap is checked on.

    Returns
    -------
    list of ndarray or None
        None when every mirror image overlaps the text (a caption across the middle, text
        all over the image).
    """
    regions = [np.asarray(r, float).reshape(-1, 2) for r in regions]
    if not regions:
        return None
    text = region_mask(regions, size, size, margin)
    for flip in ((False, True), (True, False), (True, True)):
        moved = [np.column_stack([1 - r[:, 0] if flip[0] else r[:, 0],
                                  1 - r[:, 1] if flip[1] else r[:, 1]]) for r in regions]
        if not (region_mask(moved, size, size, margin) & text).any():
            return moved
    return None


def masked_pixels(path, regions, image_size: int, method: str = "inpaint",
                  margin: float = MARGIN, max_pixels: int | None = DEFAULT_MAX_PIXELS):
    """An image as a model sees it, with and without its text regions.

    The regions are removed at the file's own resolution, then the image is resized as every
    model's input is (:func:`sadutils.data.images.load_rgb_array`: bilinear, to a square).

    Parameters
    ----------
    path : path
    regions : sequence of array
        As for :func:`region_mask`.
    image_size : int
    method : {"inpaint", "blur"}
    margin : float

    Returns
    -------
    original, masked : ndarray
        ``uint8`` ``(image_size, image_size, 3)``; equal when there is no region.
    share : float
        The share of the image's pixels masked.

    Raises
    ------
    ImageError
        For a file that is not a readable image.
    """
    im = open_rgb(path, max_pixels)
    pixels = np.asarray(im, dtype=np.uint8)
    mask = region_mask(regions, im.width, im.height, margin)
    masked = mask_image(pixels, mask, method)
    size = (int(image_size), int(image_size))

    def resized(array):
        return np.array(Image.fromarray(array).resize(size, Image.Resampling.BILINEAR),
                        dtype=np.uint8)

    return resized(pixels), resized(masked), float(mask.mean())


def flips(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model, seed and image: whether the masked image's class differs.

    Parameters
    ----------
    frame : DataFrame
        ``row``, ``seed``, ``path``, ``label`` and ``pred`` (the image as it is),
        ``pred_masked`` (text removed) and ``pred_placebo`` (the placebo, missing where there
        is none), and ``p_sadness`` with ``p_sadness_masked``.

    Returns
    -------
    DataFrame
        ``frame`` with ``flip`` and ``placebo_flip`` (floats 0/1, NaN without a placebo) and
        ``shift`` (the change of P(sadness) when the text goes).
    """
    out = frame.copy()
    out["flip"] = (out["pred"] != out["pred_masked"]).astype(float)
    has = out["pred_placebo"].notna()
    out["placebo_flip"] = np.where(has, (out["pred"] != out["pred_placebo"]).astype(float),
                                   np.nan)
    out["shift"] = out["p_sadness_masked"] - out["p_sadness"]
    return out


def _per_image(frame: pd.DataFrame, row: str, column: str) -> pd.Series:
    """One model's ``column`` averaged over its seeds, per image."""
    return frame[frame["row"] == row].groupby("path")[column].mean()


def _bootstrap_mean(values: np.ndarray, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap interval of a mean (None for no values)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    idx = np.random.default_rng(seed).integers(0, values.size, (N_BOOT, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def reliance_table(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """How often each model changes its answer when the text goes, and when a placebo does.

    Parameters
    ----------
    frame : DataFrame
        :func:`flips`.
    seed : int
        Of the bootstrap.

    Returns
    -------
    DataFrame
        One row per model (in the frame's order): ``model``, ``images``, ``seeds``,
        ``flip_rate`` (the share of image and seed pairs whose class flips), ``flip_sd`` (its
        standard deviation over the seeds), ``flip_ci`` (95% bootstrap interval over the
        images of the mean over seeds), ``placebo_flip_rate`` with ``placebo_images``, and
        ``sadness_shift`` (mean change of P(sadness) when the text goes: negative when the
        text made the model say sadness).
    """
    rows = []
    for row in dict.fromkeys(frame["row"]):
        mine = frame[frame["row"] == row]
        per_seed = mine.groupby("seed")["flip"].mean()
        placebo = mine["placebo_flip"].dropna()
        rows.append({
            "model": row, "images": int(mine["path"].nunique()),
            "seeds": int(mine["seed"].nunique()), "flip_rate": float(mine["flip"].mean()),
            "flip_sd": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else np.nan,
            "flip_ci": _bootstrap_mean(_per_image(frame, row, "flip").to_numpy(), seed),
            "placebo_flip_rate": float(placebo.mean()) if len(placebo) else np.nan,
            "placebo_images": int(mine.loc[mine["placebo_flip"].notna(), "path"].nunique()),
            "sadness_shift": float(mine["shift"].mean())})
    return pd.DataFrame(rows, columns=["model", "images", "seeds", "flip_rate", "flip_sd",
                                       "flip_ci", "placebo_flip_rate", "placebo_images",
                                       "sadness_shift"])


def reliance_difference(frame: pd.DataFrame, a: str, b: str, column: str = "flip",
                        seed: int = 0, level: float = 0.95) -> dict:
    """The difference of two models' flip rates on the same images, with a paired interval.

    Each image's flip share over a model's seeds is taken for both models; the difference of
    the means (``a`` minus ``b``) gets a percentile bootstrap interval from resampling the
    images (both models' values of an image travel together, so what the images have in
    common cancels).

    Parameters
    ----------
    frame : DataFrame
        :func:`flips`.
    a, b : str
        Two models (values of ``row``).
    column : str
        ``flip``, ``placebo_flip`` or ``shift``.
    seed : int
    level : float

    Returns
    -------
    dict
        ``a``, ``b``, ``images`` (those both were tested on), ``difference``, ``ci``
        (``[low, high]``) and ``real`` (the interval excludes 0); ``difference`` and ``ci``
        None when no image is shared.
    """
    pa, pb = _per_image(frame, a, column), _per_image(frame, b, column)
    both = pd.concat([pa.rename("a"), pb.rename("b")], axis=1, join="inner").dropna()
    out = {"a": a, "b": b, "images": int(len(both)), "difference": None, "ci": None,
           "real": False}
    if both.empty:
        return out
    diff = (both["a"] - both["b"]).to_numpy()
    ci = _bootstrap_mean(diff, seed, level)
    out.update(difference=float(diff.mean()), ci=list(ci),
               real=bool(ci[0] > 0 or ci[1] < 0))
    return out


def cam_mass(heatmaps: np.ndarray, masks: np.ndarray) -> pd.DataFrame:
    """How much of each Grad-CAM map lies on the text.

    Parameters
    ----------
    heatmaps : ndarray
        ``(n, h, w)``, non-negative (:class:`sadutils.analysis.gradcam.GradCam`).
    masks : ndarray of bool
        ``(n, h, w)``: the text regions at the same size (:func:`region_mask`).

    Returns
    -------
    DataFrame
        Per image: ``inside`` (the share of the heat on the text), ``area`` (the share of the
        pixels that are text) and ``ratio`` (``inside / area``: 1 when the heat lies on the
        text no more than on the rest of the image, above 1 when it gathers there); NaN for a
        map without heat or an image without text.
    """
    heat = np.asarray(heatmaps, float)
    masks = np.asarray(masks, bool)
    if heat.shape != masks.shape:
        raise ValueError(f"heat maps {heat.shape} and masks {masks.shape} differ in shape")
    total = heat.sum(axis=(1, 2))
    inside = np.divide((heat * masks).sum(axis=(1, 2)), total,
                       out=np.full(len(heat), np.nan), where=total > 0)
    area = masks.mean(axis=(1, 2))
    ratio = np.divide(inside, area, out=np.full(len(heat), np.nan), where=area > 0)
    return pd.DataFrame({"inside": inside, "area": area, "ratio": ratio})
