"""Notebooks 03 and 05: each backbone fine-tuned (or trained from scratch) on WEBEmo; Table 1.

Every backbone trains on the same fixed 70/15/15 split of the filtered WEBEmo sample
(:func:`training_split`) with the paper's recipe and is tested on its held-out part.
"""
from __future__ import annotations

import hashlib
import json
import time

import pandas as pd

from .. import backbones
from ..config import CLASS_NAMES, check_choice
from ..data.manifests import manifest_hash, read_manifest, save_manifest, stratified_split
from ..fileio import file_sha256
from ..models import WeightsChoice, resolve_weights
from ..provenance import code_fingerprint
from ..records import Record, latest, read_records
from ..settings import TRAIN_FILTER_LABELS, TRAIN_FILTERS, TrainSettings
from ..workspace import Workspace, run_name
from .common import RunResult, fit_and_evaluate, run_artifacts, run_params
from .filtering import ensure_filtered_manifest
from .text_methods import DECISION_COLUMNS, removal


#: What a training split is stratified by besides the label: each text method's decision, so
#: that the images any text filter keeps are split 70/15/15 too.
SPLIT_STRATA = ("cnn_text", "ocr_text")


def sample_split(ws: Workspace, seed: int | None = None, progress: bool = False,
                 verbose: int = 2) -> pd.DataFrame:
    """The whole scored WEBEmo sample with its fixed ``split`` column (stratified, seeded).

    The sample is split before any text filter is applied, stratified by label and by the
    decision of each text method that ran (:data:`SPLIT_STRATA`): every filter's subset
    (:func:`training_split`) is then split 70/15/15 within each class, and the test images
    that no method finds text in are the same for every filter, which the text ablation
    (notebook 07) compares on. Saved once as ``manifests/webemo_split.csv``; remade only when
    the scored sample, the seed or the split fractions changed.

    Parameters
    ----------
    ws : Workspace
    seed : int, optional
        Default the profile's.
    progress : bool
    verbose : int

    Returns
    -------
    DataFrame
        The scored sample (notebook 02's ``webemo_scored.csv``) with ``split``; without one
        (a filtered manifest written by hand), the filtered manifest, every row kept.
    """
    seed = ws.profile.seed if seed is None else int(seed)
    filtered = ensure_filtered_manifest(ws, progress, verbose)
    if ws.scored_manifest.is_file():
        scored = read_manifest(ws.scored_manifest)
    else:  # a filtered manifest made by hand: it is the whole sample, every row kept
        scored = read_manifest(filtered).assign(kept=True)
    strata = [c for c in SPLIT_STRATA if c in scored.columns]
    key = (f"{manifest_hash(scored)}-{seed}-{'/'.join(map(str, ws.profile.split))}-"
           f"{'+'.join(strata)}")
    if ws.split_manifest.is_file():
        saved = read_manifest(ws.split_manifest)
        if "split_key" in saved and len(saved) and saved["split_key"].iloc[0] == key:
            return saved.drop(columns=["split_key"])
    scored["split"] = stratified_split(scored, ws.profile.split, seed, within=strata)
    save_manifest(scored.assign(split_key=key), ws.split_manifest)
    return read_manifest(ws.split_manifest).drop(columns=["split_key"])


def filter_rows(split: pd.DataFrame, train_filter: str | None) -> pd.DataFrame:
    """The rows of the split sample that a text filter keeps.

    Parameters
    ----------
    split : DataFrame
        :func:`sample_split`.
    train_filter : {"none", "cnn", "ocr", "both"} or None
        None: the filter notebook 02 applied (its ``kept`` column). ``none`` keeps every row.

    Returns
    -------
    DataFrame
        Those rows, index reset, without the ``kept`` column (the same frame, whichever name
        the applied filter is asked by).

    Raises
    ------
    ValueError
        For an unknown filter, or one whose method did not score the sample (naming what to
        run).
    """
    if train_filter is None:
        kept = split["kept"].astype(bool)
    elif train_filter == "none":
        kept = pd.Series(True, index=split.index)
    else:
        check_choice("train_filter", train_filter, TRAIN_FILTERS)
        needed = ["cnn", "ocr"] if train_filter == "both" else [train_filter]
        missing = [m for m in needed if DECISION_COLUMNS[m] not in split.columns]
        if missing:
            raise ValueError(f"train_filter={train_filter!r} needs the decisions of "
                             f"{' and '.join(missing)}, which notebook 02 did not compute; run "
                             "notebook 01 (the classifier) and 02 again")
        kept = ~removal(split, train_filter)
    return split[kept.to_numpy()].drop(columns=["kept"], errors="ignore").reset_index(drop=True)


def training_split(ws: Workspace, seed: int | None = None, progress: bool = False,
                   verbose: int = 2, train_filter: str | None = None) -> pd.DataFrame:
    """The images a backbone trains and is tested on, with their fixed ``split`` column.

    Parameters
    ----------
    ws : Workspace
    seed : int, optional
        Default the profile's.
    progress : bool
    verbose : int
    train_filter : {"none", "cnn", "ocr", "both"}, optional
        Default (None) the text filter notebook 02 applied: the paper's filtered sample.

    Returns
    -------
    DataFrame
        :func:`filter_rows` of :func:`sample_split`.
    """
    return filter_rows(sample_split(ws, seed, progress, verbose), train_filter)


def train_backbone(ws: Workspace, backbone: str = "xception",
                   settings: TrainSettings | None = None, *, pretrained: bool = True,
                   weights=None, resume: bool = True, reuse: bool = True,
                   notebook: str | None = None, train_filter: str | None = None,
                   progress: bool = False, verbose: int = 2) -> RunResult:
    """Fine-tune ``backbone`` on the filtered WEBEmo split and test it on the held-out part.

    Parameters
    ----------
    ws : Workspace
    backbone : str
        Any name of the backbone registry (:func:`sadutils.backbones.get`).
    settings : TrainSettings, optional
        Default the profile's recipe (paper: 150 px, Adagrad at 0.001, 30 epochs, batch 32).
        Its seed is the training seed (initialisation, batch order, dropout); the split is the
        profile's, the same for every seed.
    pretrained : bool
        False trains from random weights: for Xception, the paper's ablation (last row of
        Table 1).
    weights : str, optional
        A weights file instead of Keras' ImageNet download.
    resume : bool
        Continue an interrupted run from its last finished epoch.
    reuse : bool
        For a run from random weights (``pretrained=False``): when an ImageNet-requested run of
        the same backbone already trained the very same model (no ImageNet weights were
        available, so it too started from random weights, with the same recipe, seed, split
        and code: the same :func:`training_key`), reuse its model and predictions instead of
        training it again, and say so in the record.
    notebook : str, optional
    progress : bool
    verbose : int

    Returns
    -------
    RunResult
        Its record goes to Table 1 in the backbone's row; its ``weights`` say whether ImageNet
        weights were really used (the demo profile falls back to random ones when Keras
        cannot get them).

    Raises
    ------
    ValueError
        For an unknown backbone or an input size it cannot take, before any work.
    """
    bb = backbones.get(backbone)
    settings = settings or TrainSettings.resolve(ws.profile)
    bb.check_size(settings.image_size)
    choice = resolve_weights(bb, pretrained, weights, policy=ws.profile.weights_policy)
    # One split for every seed and filter
    split = training_split(ws, progress=progress, verbose=verbose, train_filter=train_filter)
    filtering = latest(ws, "filter")  # notebook 02's run: the filter a Table 1 model trains on
    run = run_name(bb.name, pretrained, None if settings.seed == ws.profile.seed
                   else settings.seed, train_filter)
    key = training_key(bb.name, choice, settings, manifest_hash(split))
    ablation = train_filter is not None
    twin = (identical_training(ws, key, kind="train")
            if reuse and (not pretrained or ablation) else None)
    if twin is not None:
        return reuse_training(ws, twin, choice, notebook, train_filter=train_filter)
    t0 = time.perf_counter()
    fitted = fit_and_evaluate(ws, split, class_names=CLASS_NAMES, backbone=bb.name,
                              weights=choice, run=run, settings=settings, resume=resume,
                              progress=progress, verbose=verbose)
    wall = time.perf_counter() - t0
    record = Record.training(
        ws, kind="text_ablation" if ablation else "train" if pretrained else "ablation",
        backbone=bb.name, row=filter_row(bb.row(pretrained), train_filter), dataset="webemo",
        metrics=fitted.metrics, ci95=fitted.ci95,
        params=run_params(settings, fitted, backbone=bb.name, pretrained=pretrained,
                          filter_run=None if filtering is None else filtering.run_id,
                          filter_threshold=None if filtering is None
                          else filtering.params.get("threshold"), training_key=key,
                          train_filter=train_filter or (
                              None if filtering is None else filtering.params.get("text_method"))),
        weights=choice.as_record(), seed=settings.seed,
        manifest_hash=manifest_hash(fitted.manifest), wall_s=wall,
        artifacts=run_artifacts(ws, run, notebook, split=ws.split_manifest),
        run_parts=("train", bb.name, "pretrained" if pretrained else "no-pretrain",
                   choice.source, None if train_filter is None else f"filter-{train_filter}"))
    path = record.write(ws)
    return RunResult(record, path, ws.model_file(run), fitted.train.history, fitted.test,
                     fitted.rejected)


def filter_row(row: str, train_filter: str | None) -> str:
    """The row label of a text ablation run: ``EfficientNetV2B0, unfiltered``.

    Parameters
    ----------
    row : str
        The backbone's Table 1 row.
    train_filter : str or None
        None: a Table 1 run (the row as it is).

    Returns
    -------
    str
    """
    return row if train_filter is None else f"{row}, {TRAIN_FILTER_LABELS[train_filter]}"


def training_key(backbone: str, choice: WeightsChoice, settings: TrainSettings,
                 split_hash: str) -> str:
    """What makes two trainings the same computation: equal keys give equal models.

    Parameters
    ----------
    backbone : str
    choice : WeightsChoice
        The weights the backbone really starts from: random ones (given the seed), Keras'
        ImageNet file, or a file (by its content).
    settings : TrainSettings
        The whole recipe, seed included.
    split_hash : str
        :func:`sadutils.data.manifests.manifest_hash` of the split trained on.

    Returns
    -------
    str
        16 hex digits; also the sadutils source (:func:`sadutils.provenance.code_fingerprint`)
        is part of it, so code that trains differently never shares a key.
    """
    start = {"scratch": "scratch", "imagenet": "imagenet",
             "file": f"file:{file_sha256(choice.weights)}" if choice.weights else "file"}
    parts = {"backbone": backbone, "start": start.get(choice.source, choice.source),
             "settings": settings.as_params(), "split": split_hash,
             "code": code_fingerprint()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def identical_training(ws: Workspace, key: str, kind: str = "train") -> Record | None:
    """The newest training record of ``kind`` with this :func:`training_key` whose model and
    predictions are still there.

    Parameters
    ----------
    ws : Workspace
    key : str
    kind : str

    Returns
    -------
    Record or None
    """
    found = None
    for rec in read_records(ws, kind=kind):
        files = [rec.artifact(name, ws) for name in ("model", "history", "predictions")]
        if rec.params.get("training_key") == key and all(f is not None and f.is_file()
                                                         for f in files):
            found = rec
    return found


def reuse_training(ws: Workspace, twin: Record, choice: WeightsChoice,
                   notebook: str | None = None, train_filter: str | None = None) -> RunResult:
    """A run whose computation ``twin`` already did: its record, with ``twin``'s model.

    Offline, the ImageNet-requested run of a backbone falls back to random weights and then
    trains exactly the model the ablation (``pretrained=False``) would train; and a text
    ablation run with the filter notebook 02 applied trains exactly the Table 1 model. This
    writes the run's record with ``twin``'s numbers, files and training key, and
    ``params.reused_from`` naming it, instead of training the same model a second time.

    Parameters
    ----------
    ws : Workspace
    twin : Record
        A training record whose ``training_key`` equals the run's.
    choice : WeightsChoice
        The run's weights (from scratch for the no-pretrain ablation).
    notebook : str, optional
    train_filter : str, optional
        Given for a text ablation run: its record is of kind ``text_ablation``; else the
        no-pretrain ablation's (kind ``ablation``).

    Returns
    -------
    RunResult
    """
    bb = backbones.get(twin.backbone)
    seed = int(twin.params["seed"])
    pretrained = train_filter is not None and bool(twin.params.get("pretrained", True))
    what = (f"{choice.source} weights" if train_filter is not None else "random weights")
    weights = {**choice.as_record(),
               "note": f"{choice.note}; the same computation as run {twin.run_id} ({what}, "
                       f"seed {seed}, same recipe, split and code), whose model is reused "
                       "rather than trained twice"}
    files = {name: twin.artifact(name, ws) for name in ("model", "history", "predictions",
                                                          "split")}
    record = Record.training(
        ws, kind="ablation" if train_filter is None else "text_ablation", backbone=bb.name,
        row=filter_row(bb.row(pretrained), train_filter), dataset=twin.dataset,
        metrics=twin.metrics, ci95=twin.ci95,
        params={**twin.params, "pretrained": pretrained, "reused_from": twin.run_id,
                **({} if train_filter is None else {"train_filter": train_filter})},
        weights=weights, seed=seed, manifest_hash=twin.provenance.get("manifest_hash"),
        wall_s=0.0, artifacts={**{k: v for k, v in files.items() if v is not None},
                               "notebook": notebook},
        run_parts=("train", bb.name, "pretrained" if pretrained else "no-pretrain",
                   choice.source, None if train_filter is None else f"filter-{train_filter}"))
    path = record.write(ws)
    return RunResult(record, path, files["model"], pd.read_csv(files["history"]),
                     pd.read_csv(files["predictions"]))


def pretrained_reference(ws: Workspace, backbone: str = "xception",
                         settings: TrainSettings | None = None, weights=None,
                         verbose: int = 2) -> Record:
    """The newest ImageNet-requested training record of ``backbone`` with the same recipe.

    The ablation (notebook 05) compares against it; when notebook 03 has not produced one with
    the same image size, epochs, batch size, learning rate and seed, it is trained now.

    Parameters
    ----------
    ws : Workspace
    backbone : str
    settings : TrainSettings, optional
    weights : str, optional
        A weights file for the run trained here, instead of Keras' ImageNet download.
    verbose : int

    Returns
    -------
    Record
    """
    bb = backbones.get(backbone)
    settings = settings or TrainSettings.resolve(ws.profile)
    match = {k: getattr(settings, k) for k in ("image_size", "epochs", "batch_size",
                                               "learning_rate", "seed")}
    rec = latest(ws, "train", backbone=bb.name, **match)
    if rec is not None and rec.artifact("model", ws) is not None \
            and rec.artifact("model", ws).is_file():
        return rec
    return train_backbone(ws, bb.name, settings, weights=weights, verbose=verbose).record
