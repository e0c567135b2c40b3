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
from ..config import CLASS_NAMES
from ..data.manifests import manifest_hash, read_manifest, save_manifest, stratified_split
from ..fileio import file_sha256
from ..models import WeightsChoice, resolve_weights
from ..provenance import code_fingerprint
from ..records import Record, latest, read_records
from ..settings import TrainSettings
from ..workspace import Workspace, run_name
from .common import RunResult, fit_and_evaluate, run_artifacts, run_params
from .filtering import ensure_filtered_manifest


def training_split(ws: Workspace, seed: int | None = None, progress: bool = False,
                   verbose: int = 2) -> pd.DataFrame:
    """The filtered manifest with its fixed ``split`` column (stratified, seeded).

    Saved once as ``manifests/webemo_split.csv`` and reused by every backbone; it is remade
    only when the filtered manifest, the seed or the split fractions changed.

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
    """
    seed = ws.profile.seed if seed is None else int(seed)
    filtered = read_manifest(ensure_filtered_manifest(ws, progress, verbose))
    key = f"{manifest_hash(filtered)}-{seed}-{'/'.join(map(str, ws.profile.split))}"
    if ws.split_manifest.is_file():
        saved = read_manifest(ws.split_manifest)
        if "split_key" in saved and len(saved) and saved["split_key"].iloc[0] == key:
            return saved.drop(columns=["split_key"])
    filtered["split"] = stratified_split(filtered, ws.profile.split, seed)
    save_manifest(filtered.assign(split_key=key), ws.split_manifest)
    return read_manifest(ws.split_manifest).drop(columns=["split_key"])


def train_backbone(ws: Workspace, backbone: str = "xception",
                   settings: TrainSettings | None = None, *, pretrained: bool = True,
                   weights=None, resume: bool = True, reuse: bool = True,
                   notebook: str | None = None,
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
    split = training_split(ws, progress=progress, verbose=verbose)  # one split for every seed
    run = run_name(bb.name, pretrained,
                   None if settings.seed == ws.profile.seed else settings.seed)
    key = training_key(bb.name, choice, settings, manifest_hash(split))
    twin = identical_training(ws, key, kind="train") if reuse and not pretrained else None
    if twin is not None:
        return reuse_training(ws, twin, choice, notebook)
    t0 = time.perf_counter()
    fitted = fit_and_evaluate(ws, split, class_names=CLASS_NAMES, backbone=bb.name,
                              weights=choice, run=run, settings=settings, resume=resume,
                              progress=progress, verbose=verbose)
    wall = time.perf_counter() - t0
    filtering = latest(ws, "filter")
    record = Record.training(
        ws, kind="train" if pretrained else "ablation", backbone=bb.name,
        row=bb.row(pretrained), dataset="webemo", metrics=fitted.metrics, ci95=fitted.ci95,
        params=run_params(settings, fitted, backbone=bb.name, pretrained=pretrained,
                          filter_run=None if filtering is None else filtering.run_id,
                          filter_threshold=None if filtering is None
                          else filtering.params.get("threshold"), training_key=key),
        weights=choice.as_record(), seed=settings.seed,
        manifest_hash=manifest_hash(fitted.manifest), wall_s=wall,
        artifacts=run_artifacts(ws, run, notebook, split=ws.split_manifest),
        run_parts=("train", bb.name, "pretrained" if pretrained else "no-pretrain",
                   choice.source))
    path = record.write(ws)
    return RunResult(record, path, ws.model_file(run), fitted.train.history, fitted.test,
                     fitted.rejected)


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
                   notebook: str | None = None) -> RunResult:
    """The no-pretrain run of ``twin``'s backbone, from ``twin``'s identical computation.

    Offline, the ImageNet-requested run of a backbone falls back to random weights and then
    trains exactly the model the ablation (``pretrained=False``) would train; this writes the
    ablation's record with ``twin``'s numbers, files and training key, and
    ``params.reused_from`` naming it, instead of training the same model a second time.

    Parameters
    ----------
    ws : Workspace
    twin : Record
        A training record whose ``training_key`` equals the ablation's.
    choice : WeightsChoice
        The ablation's weights (from scratch).
    notebook : str, optional

    Returns
    -------
    RunResult
    """
    bb = backbones.get(twin.backbone)
    seed = int(twin.params["seed"])
    weights = {**choice.as_record(),
               "note": f"{choice.note}; the same computation as run {twin.run_id} (random "
                       f"weights, seed {seed}, same recipe, split and code), whose model is "
                       "reused rather than trained twice"}
    files = {name: twin.artifact(name, ws) for name in ("model", "history", "predictions",
                                                          "split")}
    record = Record.training(
        ws, kind="ablation", backbone=bb.name, row=bb.row(False), dataset=twin.dataset,
        metrics=twin.metrics, ci95=twin.ci95,
        params={**twin.params, "pretrained": False, "reused_from": twin.run_id},
        weights=weights, seed=seed, manifest_hash=twin.provenance.get("manifest_hash"),
        wall_s=0.0, artifacts={**{k: v for k, v in files.items() if v is not None},
                               "notebook": notebook},
        run_parts=("train", bb.name, "no-pretrain", choice.source))
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
