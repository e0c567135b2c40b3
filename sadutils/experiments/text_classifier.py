"""Notebook 01: the paper's text-in-image classifier, and the OCR detector beside it.

EfficientNetV2B0, fine-tuned to tell COCO-Text images that contain legible text (``text``) from
"RGP" photos that contain none (``no_text``), trained with the same recipe as the emotion
models. Notebook 02 uses it to remove images with text from the WEBEmo sample. The OCR
detector of :mod:`sadutils.text_detection` (no training) is evaluated on the same held-out
images (:func:`evaluate_ocr`), and its metrics are stored in the same record.
"""
from __future__ import annotations

import time

import pandas as pd

from .. import backbones, text_detection
from ..config import TEXT_CLASS_NAMES
from ..data.cocotext import load_cocotext
from ..data.manifests import manifest_hash, sample_per_class, stratified_split
from ..data.rgp import load_rgp
from ..metrics import evaluate_predictions
from ..models import resolve_weights
from ..paper import TEXT_CLASSIFIER_ACCURACY
from ..progress import phase
from ..records import Record
from ..settings import TrainSettings
from ..text_detection import OcrSettings
from ..workspace import TEXT_CLASSIFIER_RUN, Workspace, run_name
from .common import RunResult, dataset_roots, fit_and_evaluate, run_artifacts, run_params

#: The paper's text classifier backbone.
TEXT_BACKBONE = "efficientnetv2b0"


def text_classifier_manifest(ws: Workspace, seed: int | None = None,
                             max_per_class: int | None = None, progress: bool = False):
    """COCO-Text images with legible text and RGP photos without, split 70/15/15.

    Parameters
    ----------
    ws : Workspace
    seed : int, optional
        Seed of the cap's draw and of the split; default the profile's (the split is the same
        whatever the training seed).
    max_per_class : int, optional
        Cap on each class (a seeded draw; COCO-Text has far more text images than RGP has
        photos).
    progress : bool

    Returns
    -------
    manifest : DataFrame
        With a ``split`` column.
    rejected : DataFrame
        ``path``, ``reason`` of the files the loaders refused.
    """
    seed = ws.profile.seed if seed is None else int(seed)
    roots = dataset_roots(ws, progress=progress)
    coco = load_cocotext(roots["cocotext"], progress=progress)
    rgp = load_rgp(roots["rgp"], progress=progress)
    manifest = pd.concat([coco.manifest, rgp.manifest], ignore_index=True)
    if max_per_class:
        counts = {label: min(int(max_per_class), int(n))
                  for label, n in manifest["label"].value_counts().items()}
        manifest = sample_per_class(manifest, counts, seed).reset_index(drop=True)
    manifest["split"] = stratified_split(manifest, ws.profile.split, seed)
    rejected = pd.concat([coco.rejected, rgp.rejected], ignore_index=True)
    return manifest, rejected


def evaluate_ocr(test: pd.DataFrame, threshold: float | None = None,
                 settings: OcrSettings | None = None, seed: int = 0, n_boot: int = 1000,
                 progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """The OCR detector on a held-out split, scored like the classifier.

    Parameters
    ----------
    test : DataFrame
        ``path`` and ``label`` (``text``/``no_text``).
    threshold : float, optional
        Default :data:`sadutils.text_detection.DEFAULT_THRESHOLD`.
    settings : OcrSettings, optional
    seed : int
        Seed of the bootstrap.
    n_boot : int
    progress : bool

    Returns
    -------
    frame : DataFrame
        ``test`` with ``ocr_score``, ``ocr_read`` (the line that gave the score) and
        ``ocr_pred`` (``text``/``no_text``; missing for an unreadable image).
    result : dict
        ``metrics`` (accuracy, F1 scores, ``confusion_matrix``, ``labels``, ``n``),
        ``ci95``, ``threshold``, ``n_unreadable``, ``settings`` and ``model``
        (:func:`sadutils.text_detection.model_info`). Unreadable images are left out of the
        metrics.
    """
    threshold = text_detection.DEFAULT_THRESHOLD if threshold is None else float(threshold)
    settings = settings or OcrSettings()
    with phase("OCR scoring", images=len(test)):
        found = text_detection.ocr_scores(test["path"], settings, progress=progress)
    frame = test.copy()
    frame["ocr_score"] = found["score"].to_numpy()
    frame["ocr_read"] = found["text"].to_numpy()
    frame["ocr_pred"] = text_detection.decide(frame["ocr_score"], threshold)
    scored = frame[frame["ocr_pred"].notna()]
    if scored.empty:
        raise ValueError(f"the OCR detector could read none of the {len(test)} images")
    metrics, ci = evaluate_predictions(scored["label"], scored["ocr_pred"].astype(str),
                                       TEXT_CLASS_NAMES, n_boot=n_boot, seed=seed)
    return frame, {"metrics": metrics, "ci95": ci, "threshold": threshold,
                   "n_unreadable": int(len(frame) - len(scored)),
                   "settings": settings.as_params(), "model": text_detection.model_info()}


def train_text_classifier(ws: Workspace, settings: TrainSettings | None = None, *,
                          backbone: str = TEXT_BACKBONE, pretrained: bool = True, weights=None,
                          max_per_class: int | None = None, resume: bool = True,
                          compare_ocr: bool = True, ocr_threshold: float | None = None,
                          notebook: str | None = None, progress: bool = False,
                          verbose: int = 2) -> RunResult:
    """Train the text / no-text classifier and record it.

    Parameters
    ----------
    ws : Workspace
    settings : TrainSettings, optional
        Default: the profile's recipe.
    backbone : str
        Default the paper's, :data:`TEXT_BACKBONE`.
    pretrained : bool
        Start from ImageNet weights (under the demo profile only when Keras can get them).
    weights : str, optional
        A weights file instead of Keras' ImageNet download.
    max_per_class : int, optional
        See :func:`text_classifier_manifest`.
    resume : bool
    compare_ocr : bool
        Also score the held-out images with the OCR detector (:func:`evaluate_ocr`): its
        metrics go to the record's ``metrics["ocr_detector"]`` and its scores to the test
        frame (``ocr_score``, ``ocr_read``, ``ocr_pred``).
    ocr_threshold : float, optional
        Default :data:`sadutils.text_detection.DEFAULT_THRESHOLD`.
    notebook : str, optional
        The executed notebook's name, for the record.
    progress : bool
    verbose : int

    Returns
    -------
    RunResult
        Its held-out accuracy compares with the paper's 99.31% only under the paper profile.
        The model of the profile's seed is the one the filter uses (``models/text_classifier``);
        other seeds' models are kept beside it for the spread between seeds.
    """
    settings = settings or TrainSettings.resolve(ws.profile)
    manifest, load_rejected = text_classifier_manifest(ws, max_per_class=max_per_class,
                                                       progress=progress)
    backbone = backbones.get(backbone).name
    choice = resolve_weights(backbone, pretrained, weights, policy=ws.profile.weights_policy)
    run = run_name(TEXT_CLASSIFIER_RUN, True, None if settings.seed == ws.profile.seed
                   else settings.seed)
    t0 = time.perf_counter()
    fitted = fit_and_evaluate(ws, manifest, class_names=TEXT_CLASS_NAMES, backbone=backbone,
                              weights=choice, run=run, settings=settings,
                              resume=resume, progress=progress, verbose=verbose)
    wall = time.perf_counter() - t0
    rejected = pd.concat([load_rejected, fitted.rejected], ignore_index=True)
    test, metrics = fitted.test, dict(fitted.metrics)
    if compare_ocr:
        test, ocr = evaluate_ocr(fitted.test, ocr_threshold, seed=settings.seed,
                                 progress=progress)
        metrics["ocr_detector"] = ocr
    record = Record.training(
        ws, kind="text_classifier", backbone=backbone, row=None, dataset="cocotext+rgp",
        metrics=metrics, ci95=fitted.ci95,
        params=run_params(settings, fitted, pretrained=pretrained, max_per_class=max_per_class,
                          n_rejected=len(rejected), paper_accuracy=TEXT_CLASSIFIER_ACCURACY),
        weights=choice.as_record(), seed=settings.seed,
        manifest_hash=manifest_hash(fitted.manifest), wall_s=wall,
        artifacts=run_artifacts(ws, run, notebook),
        run_parts=("text_classifier", backbone, choice.source))
    path = record.write(ws)
    return RunResult(record, path, ws.model_file(run), fitted.train.history, test, rejected)
