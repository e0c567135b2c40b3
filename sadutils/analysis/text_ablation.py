"""The text ablation (notebook 07): one backbone trained with each text filter, tested alike.

The paper removes every image with text before training, so that written words cannot carry
the emotion instead of the picture, and never tests whether that matters. The runs of notebook
03 with a ``train_filter`` (:func:`sadutils.experiments.train_backbone`) train the same
backbone on the WEBEmo sample unfiltered (``none``) and as each text method filters it; all of
them share one split of the whole sample (:func:`sadutils.experiments.sample_split`), so

* the test images that no method finds text in are in every model's test part: the models are
  compared on exactly these (:func:`compare_on`), as in Table 1 (seeds, intervals, McNemar);
* the test images that do carry text are what the filters removed: every model is tested on
  them here, whatever it was trained on;
* on the test images where the OCR detector finds text, each model is asked again with the text
  removed (:mod:`sadutils.analysis.text_reliance`), and its Grad-CAM heat on the text is
  measured.

:func:`ablation_rows` finds the runs, :func:`test_images` the images, :func:`text_regions` the
OCR detector's regions, :func:`probe_models` loads each model once and computes everything the
chapter needs from it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import backbones, inference, models
from ..config import CLASS_NAMES
from ..data.images import ImageError
from ..data.manifests import in_key_order, row_keys
from ..data.webemo import load_webemo
from ..demo import describe_demo
from ..experiments.common import dataset_roots
from ..experiments.finetune import sample_split
from ..experiments.text_methods import DECISION_COLUMNS
from ..metrics import bootstrap_ci_of_mean, classification_metrics
from ..progress import phase, report
from ..records import Record, read_records
from ..results import mcnemar_pairs, seed_group, training_seed
from ..settings import TRAIN_FILTERS
from ..text_detection import DEFAULT_THRESHOLD, OcrSettings, get_scorer
from ..workspace import Workspace
from .gradcam import gradcam
from .text_reliance import (MARGIN, cam_mass, masked_pixels, placebo_regions, region_mask,
                            reliance_difference)

#: The metrics compared, as in Table 1.
METRICS = ("accuracy", "f1_sadness", "f1_others", "f1_weighted")


def ablation_rows(ws: Workspace, backbone_names=None) -> dict[str, list[Record]]:
    """The text ablation's models: per row (backbone and filter), its newest runs of one
    recipe, one per seed.

    Parameters
    ----------
    ws : Workspace
    backbone_names : sequence of str, optional
        Only these backbones (registry names); default every backbone with runs.

    Returns
    -------
    dict
        ``row -> [Record, ...]`` (by seed), backbones in the order first run, filters in the
        order of :data:`sadutils.settings.TRAIN_FILTERS`.
    """
    wanted = None if backbone_names is None else {backbones.get(b).name
                                                   for b in backbone_names}
    found: dict[tuple, list] = {}
    for rec in read_records(ws, kind="text_ablation"):
        if wanted is not None and rec.backbone not in wanted:
            continue
        found.setdefault((rec.backbone, rec.params.get("train_filter"), rec.row), []).append(rec)
    order = list(dict.fromkeys(key[0] for key in found))
    rank = {name: i for i, name in enumerate(TRAIN_FILTERS)}
    keys = sorted(found, key=lambda k: (order.index(k[0]), rank.get(k[1], len(rank)), k[2]))
    return {key[2]: seed_group(found[key]) for key in keys}


def positive_control(ws: Workspace) -> dict | None:
    """The positive control the demo data states in its ``DEMO_DATA.json``.

    Parameters
    ----------
    ws : Workspace

    Returns
    -------
    dict or None
        Its ``positive_control`` (rates per class, captions); None for the paper profile or
        demo data without one.
    """
    if ws.name != "demo":
        return None
    return (describe_demo(ws.data, missing_ok=True) or {}).get("positive_control")


def row_filter(records) -> str | None:
    """The ``train_filter`` of a row's runs."""
    return records[0].params.get("train_filter") if records else None


def test_images(ws: Workspace) -> pd.DataFrame:
    """The test part of the split sample, with what the text methods found in each image.

    Parameters
    ----------
    ws : Workspace

    Returns
    -------
    DataFrame
        The test rows of :func:`sadutils.experiments.sample_split` with ``text`` (True: a
        method that ran finds text in it, so some filter removes it; False: none does, so
        every model was tested on it) and ``text_by`` (``cnn``, ``ocr``, ``cnn+ocr`` or "").
        Images a method could not read are left out: no model was tested on them.
    """
    split = sample_split(ws)
    test = split[split["split"] == "test"].copy()
    ran = [m for m, column in DECISION_COLUMNS.items() if column in test.columns]
    decided = {m: test[DECISION_COLUMNS[m]].astype("boolean") for m in ran}
    readable = np.logical_and.reduce([d.notna().to_numpy() for d in decided.values()]) \
        if decided else np.ones(len(test), bool)
    test = test[readable]
    found = {m: decided[m][readable].astype(bool).to_numpy() for m in ran}
    test["text"] = np.logical_or.reduce(list(found.values())) if found else False
    test["text_by"] = ["+".join(m for m in ran if found[m][i]) for i in range(len(test))]
    return test.reset_index(drop=True)


def held_out_images(ws: Workspace, n: int, seed: int | None = None) -> pd.DataFrame:
    """WEBEmo images outside the sample: no model of the ablation trained, was validated or
    was tested on them.

    They add to the images the reliance probe can use (only the test part's images with text
    otherwise, a few dozen in the demo).

    Parameters
    ----------
    ws : Workspace
    n : int
        At most this many, drawn at random (seeded) from all downloaded images outside the
        sample; 0 for none.
    seed : int, optional
        Default the profile's.

    Returns
    -------
    DataFrame
        ``path``, ``label``; empty when every downloaded image is in the sample (the paper's
        download of the sample alone).
    """
    columns = ["path", "label"]
    if n <= 0:
        return pd.DataFrame(columns=columns)
    loaded = load_webemo(dataset_roots(ws)["webemo"], check=False).manifest
    # By the rows' keys (a WEBEmo image's URL), not their paths: the sample's images are
    # left out wherever the data folder lies now.
    sampled = set(row_keys(sample_split(ws)))
    rest = in_key_order(loaded[~row_keys(loaded).isin(sampled).to_numpy()])
    seed = ws.profile.seed if seed is None else int(seed)
    pick = np.sort(np.random.default_rng(seed).permutation(len(rest))[:n])
    return rest.iloc[pick][columns].reset_index(drop=True)


def probe_images(ws: Workspace, with_text: pd.DataFrame, held_out: int,
                 seed: int | None = None) -> pd.DataFrame:
    """The images the reliance probe asks every model about: the test images with text and up
    to ``held_out`` WEBEmo images outside the sample (:func:`held_out_images`).

    Parameters
    ----------
    ws : Workspace
    with_text : DataFrame
        The rows of :func:`test_images` with ``text``.
    held_out : int
        At most this many images outside the sample; 0 for none.
    seed : int, optional
        Default the profile's.

    Returns
    -------
    DataFrame
        ``path``, ``label``, ``source`` (``test`` or ``held out``).
    """
    extra = held_out_images(ws, held_out, seed)
    return pd.concat([with_text[["path", "label"]].assign(source="test"),
                      extra.assign(source="held out")], ignore_index=True)


def text_regions(images: pd.DataFrame, ocr_settings: OcrSettings | None = None,
                 threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The OCR detector's text regions of each image, and a placebo of the same shapes.

    Parameters
    ----------
    images : DataFrame
        With ``path`` (other columns, such as ``label``, are kept).
    ocr_settings : OcrSettings, optional
        The detector's settings (notebook 02's by default).
    threshold : float
        A line's confidence to count (:meth:`sadutils.text_detection.OcrScorer.text_regions`).

    Returns
    -------
    DataFrame
        ``images`` with ``regions`` (a list of ``(4, 2)`` arrays, fractions of width and
        height), ``placebo`` (:func:`sadutils.analysis.text_reliance.placebo_regions`, or
        None), ``lines`` (how many) and ``error`` (why a file could not be read, else None).
        Images without a region keep their row with ``lines`` 0.
    """
    scorer = get_scorer(ocr_settings)
    found = []
    paths = images["path"].astype(str).tolist()
    for done, path in enumerate(paths, 1):
        try:
            regions, error = scorer.text_regions(path, threshold), None
        except ImageError as exc:
            regions, error = [], exc.reason
        found.append({"regions": regions, "lines": len(regions),
                      "placebo": placebo_regions(regions) if regions else None,
                      "error": error})
        report("images", step="finding text regions", done=done, total=len(paths),
               force=done == len(paths))
    extra = pd.DataFrame(found, columns=["regions", "placebo", "lines", "error"])
    return pd.concat([images.reset_index(drop=True), extra], axis=1)


@dataclass
class Probes:
    """What :func:`probe_models` measured.

    Attributes
    ----------
    predictions : DataFrame
        Every model on every test image: ``row``, ``train_filter``, ``seed``, ``path``,
        ``label``, ``pred``, ``p_sadness``.
    masked : DataFrame
        Every model on every image with text regions: ``row``, ``seed``, ``path``, ``label``,
        ``pred``, ``p_sadness``, ``pred_masked``, ``p_sadness_masked``, ``pred_placebo``,
        ``p_sadness_placebo`` (missing without a placebo).
    cams : DataFrame
        Grad-CAM on the images with text regions: ``row``, ``seed``, ``path``, ``inside``,
        ``area``, ``ratio`` (:func:`sadutils.analysis.text_reliance.cam_mass`).
    saved_gap : float
        The largest difference between a P(sadness) computed here and the one the run saved
        for the same test image (its own test part): the models probed are those of the
        records.
    pixels : dict
        ``image_size -> (original, masked)``: the pixels of the images with text regions as
        the models saw them, in the order of ``regions``.
    """

    predictions: pd.DataFrame
    masked: pd.DataFrame
    cams: pd.DataFrame
    saved_gap: float
    pixels: dict


def _saved(record: Record, ws: Workspace) -> pd.DataFrame | None:
    path = record.artifact("predictions", ws)
    if path is None or not path.is_file():
        return None
    return pd.read_csv(path, usecols=lambda c: c in ("path", f"p_{CLASS_NAMES[0]}"))


def probe_models(ws: Workspace, rows: dict, test: pd.DataFrame, regions: pd.DataFrame,
                 method: str = "inpaint", margin: float = MARGIN,
                 cam_images: int = 32) -> Probes:
    """Load each model of the ablation once: its predictions on the test images, on the text
    images with their text removed and with the placebo removed, and its Grad-CAM on the text.

    Parameters
    ----------
    ws : Workspace
    rows : dict
        :func:`ablation_rows`.
    test : DataFrame
        :func:`test_images`.
    regions : DataFrame
        :func:`text_regions` of the images to probe (with ``path`` and ``label``: test images
        with text, held-out images); those with at least one region are masked.
    method : {"inpaint", "blur"}
        How text is removed (:func:`sadutils.analysis.text_reliance.mask_image`).
    margin : float
    cam_images : int
        Grad-CAM (the slowest part) of the first this many images with text regions (0:
        none).

    Returns
    -------
    Probes

    Raises
    ------
    FileNotFoundError
        When a record's model file is gone.
    """
    positive = f"p_{CLASS_NAMES[0]}"
    with_text = regions[regions["lines"] > 0].reset_index(drop=True)
    pixels: dict = {}
    predictions, masked, cams, gap = [], [], [], 0.0
    total = sum(len(r) for r in rows.values())
    done = 0
    for row, records in rows.items():
        for rec in records:
            path = rec.artifact("model", ws)
            if path is None or not path.is_file():
                raise FileNotFoundError(f"the model of record {rec.run_id} ({path}) is gone; "
                                        "train it again (sadutils reproduce)")
            seed = training_seed(rec)
            with phase("load model"):
                model = models.load_model(path)
            size = int(rec.params.get("image_size") or model.input_shape[1])
            forward = inference.compiled_forward(model)
            kept, images, _ = inference.decode_manifest(test, size, ws.cache)
            with phase("test predictions", images=len(kept)):
                frame = inference.predict_frame(model, kept, images, forward=forward)
            saved = _saved(rec, ws)
            if saved is not None:
                both = frame[["path", positive]].merge(saved, on="path", suffixes=("", "_saved"))
                if len(both):
                    gap = max(gap, float((both[positive] - both[f"{positive}_saved"]).abs().max()))
            predictions.append(frame[["path", "label", "pred", positive]].assign(
                row=row, train_filter=row_filter(records), seed=seed))
            if len(with_text):
                if size not in pixels:
                    with phase("mask text", images=len(with_text)):
                        pixels[size] = _masked_set(with_text, size, method, margin)
                original, removed, placebo = pixels[size]
                with phase("masked predictions", images=3 * len(with_text)):
                    p = [inference.predict_proba(model, x, forward=forward)[:, 0]
                         for x in (original, removed, placebo)]
                has_placebo = with_text["placebo"].notna().to_numpy()
                masked.append(pd.DataFrame({
                    "row": row, "seed": seed, "path": with_text["path"],
                    "label": with_text["label"],
                    "source": with_text["source"] if "source" in with_text else "test",
                    "p_sadness": p[0], "p_sadness_masked": p[1],
                    "p_sadness_placebo": np.where(has_placebo, p[2], np.nan)}))
                if cam_images > 0:
                    first = with_text.iloc[:cam_images]
                    with phase("Grad-CAM on text", images=len(first)):
                        maps = gradcam(model, original[:len(first)],
                                       target=CLASS_NAMES[0]).heatmaps
                    masks = np.stack([region_mask(r, size, size, 0.0)
                                      for r in first["regions"]])
                    cams.append(cam_mass(maps, masks).assign(row=row, seed=seed,
                                                              path=first["path"].to_numpy()))
            del model
            done += 1
            report("models", step="probing the ablation's models", done=done, total=total,
                   force=True)
    masked_frame = pd.concat(masked, ignore_index=True) if masked else pd.DataFrame(
        columns=["row", "seed", "path", "label", "p_sadness", "p_sadness_masked",
                 "p_sadness_placebo"])
    for suffix in ("", "_masked", "_placebo"):
        p = masked_frame[f"p_sadness{suffix}"].astype(float)
        masked_frame[f"pred{suffix}"] = np.where(p.isna(), None,
                                                 np.where(p >= 0.5, CLASS_NAMES[0],
                                                          CLASS_NAMES[1]))
    return Probes(pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(),
                  masked_frame,
                  pd.concat(cams, ignore_index=True) if cams else pd.DataFrame(
                      columns=["inside", "area", "ratio", "row", "seed", "path"]),
                  gap, {size: (v[0], v[1]) for size, v in pixels.items()})


def _masked_set(with_text: pd.DataFrame, size: int, method: str, margin: float):
    """The original, text-removed and placebo-removed pixels of the images with text."""
    original, removed, placebo = [], [], []
    for path, regions, moved in zip(with_text["path"], with_text["regions"],
                                    with_text["placebo"]):
        before, after, _ = masked_pixels(path, regions, size, method, margin)
        original.append(before)
        removed.append(after)
        placebo.append(masked_pixels(path, moved, size, method, margin)[1]
                       if moved is not None else before)
    return np.stack(original), np.stack(removed), np.stack(placebo)


def compare_on(predictions: pd.DataFrame, paths, seed: int = 0) -> tuple:
    """The models on one set of images: each metric's mean over the seeds, its spread and
    interval, and McNemar's test of every pair (Holm-corrected), as Table 1 has them.

    Parameters
    ----------
    predictions : DataFrame
        :attr:`Probes.predictions`.
    paths : collection of str
        The images.
    seed : int
        Of the bootstrap.

    Returns
    -------
    summary : DataFrame
        Per model: ``model``, ``images``, ``seeds`` and for each of :data:`METRICS` the mean
        (``<metric>``), standard deviation over seeds (``<metric>_sd``) and 95% bootstrap
        interval of the mean (``<metric>_ci``).
    tests : DataFrame
        :func:`sadutils.results.mcnemar_pairs`.
    """
    wanted = set(map(str, paths))
    sub = predictions[predictions["path"].astype(str).isin(wanted)]
    rows, by_model = [], {}
    for row in dict.fromkeys(sub["row"]):
        mine = sub[sub["row"] == row]
        frames = {s: f.sort_values("path").reset_index(drop=True)
                  for s, f in mine.groupby("seed", sort=True)}
        by_model[row] = frames
        first = next(iter(frames.values()))
        per_seed = [classification_metrics(f["label"], f["pred"]) for f in frames.values()]
        ci = bootstrap_ci_of_mean(first["label"], [f["pred"] for f in frames.values()],
                                  CLASS_NAMES, seed=seed)
        out = {"model": row, "images": int(len(first)), "seeds": len(frames)}
        for metric in METRICS:
            values = np.array([m[metric] for m in per_seed], float)
            out[metric] = float(values.mean())
            out[f"{metric}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else np.nan
            out[f"{metric}_ci"] = ci.get(metric)
        rows.append(out)
    return pd.DataFrame(rows), mcnemar_pairs(by_model)


def reliance_differences(flips: pd.DataFrame, rows: dict) -> list[dict]:
    """Each unfiltered model's flip rate against each filtered model's of the same backbone.

    Parameters
    ----------
    flips : DataFrame
        :func:`sadutils.analysis.text_reliance.flips` of :attr:`Probes.masked`.
    rows : dict
        :func:`ablation_rows`.

    Returns
    -------
    list of dict
        :func:`sadutils.analysis.text_reliance.reliance_difference`, the unfiltered model as
        ``a``; backbones in the order of ``rows``.
    """
    backbone = {row: recs[0].backbone for row, recs in rows.items() if recs}
    unfiltered = [r for r, recs in rows.items() if row_filter(recs) == "none"]
    filtered = [r for r, recs in rows.items() if row_filter(recs) not in (None, "none")]
    return [reliance_difference(flips, a, b) for a in unfiltered for b in filtered
            if backbone[a] == backbone[b]]


def masked_examples(probes: Probes, regions: pd.DataFrame, flips: pd.DataFrame) -> dict | None:
    """The images with text as the models saw them, before and after the text was removed,
    with each model's P(sadness) on both (the mean over its seeds).

    Parameters
    ----------
    probes : Probes
    regions : DataFrame
        :func:`text_regions`, as given to :func:`probe_models`.
    flips : DataFrame
        :func:`sadutils.analysis.text_reliance.flips` of ``probes.masked``.

    Returns
    -------
    dict or None
        ``original``, ``masked`` (``uint8`` arrays at the first model's image size),
        ``paths`` (aligned with them) and ``probabilities`` (row -> DataFrame indexed by path
        with ``p_sadness`` and ``p_sadness_masked``); None when no image had text.
    """
    if not probes.pixels:
        return None
    original, masked = next(iter(probes.pixels.values()))
    probabilities = {row: part.groupby("path")[["p_sadness", "p_sadness_masked"]].mean()
                     for row, part in flips.groupby("row", sort=False)}
    return {"original": original, "masked": masked,
            "paths": regions[regions["lines"] > 0]["path"].tolist(),
            "probabilities": probabilities}
