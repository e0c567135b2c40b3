"""Notebook 01: the paper's text-in-image classifier.

EfficientNetV2B0, fine-tuned to tell COCO-Text images that contain legible text (``text``) from
"RGP" photos that contain none (``no_text``), trained with the same recipe as the emotion
models. Notebook 02 uses it to remove images with text from the WEBEmo sample.
"""
from __future__ import annotations

import time

import pandas as pd

from .. import backbones
from ..config import TEXT_CLASS_NAMES
from ..data.cocotext import load_cocotext
from ..data.manifests import manifest_hash, sample_per_class, stratified_split
from ..data.rgp import load_rgp
from ..models import resolve_weights
from ..paper import TEXT_CLASSIFIER_ACCURACY
from ..records import Record
from ..settings import TrainSettings
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


def train_text_classifier(ws: Workspace, settings: TrainSettings | None = None, *,
                          backbone: str = TEXT_BACKBONE, pretrained: bool = True, weights=None,
                          max_per_class: int | None = None, resume: bool = True,
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
    record = Record.training(
        ws, kind="text_classifier", backbone=backbone, row=None, dataset="cocotext+rgp",
        metrics=fitted.metrics, ci95=fitted.ci95,
        params=run_params(settings, fitted, pretrained=pretrained, max_per_class=max_per_class,
                          n_rejected=len(rejected), paper_accuracy=TEXT_CLASSIFIER_ACCURACY),
        weights=choice.as_record(), seed=settings.seed,
        manifest_hash=manifest_hash(fitted.manifest), wall_s=wall,
        artifacts=run_artifacts(ws, run, notebook),
        run_parts=("text_classifier", backbone, choice.source))
    path = record.write(ws)
    return RunResult(record, path, ws.model_file(run), fitted.train.history, fitted.test,
                     rejected)
