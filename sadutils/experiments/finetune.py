"""Notebooks 03 and 05: each backbone fine-tuned (or trained from scratch) on WEBEmo; Table 1.

Every backbone trains on the same fixed 70/15/15 split of the filtered WEBEmo sample
(:func:`training_split`) with the paper's recipe and is tested on its held-out part.
"""
from __future__ import annotations

import time

import pandas as pd

from .. import backbones
from ..config import CLASS_NAMES
from ..data.manifests import manifest_hash, read_manifest, save_manifest, stratified_split
from ..models import resolve_weights
from ..records import Record, latest
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
                   weights=None, resume: bool = True, notebook: str | None = None,
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
                          else filtering.params.get("threshold")),
        weights=choice.as_record(), seed=settings.seed,
        manifest_hash=manifest_hash(fitted.manifest), wall_s=wall,
        artifacts=run_artifacts(ws, run, notebook, split=ws.split_manifest),
        run_parts=("train", bb.name, "pretrained" if pretrained else "no-pretrain",
                   choice.source))
    path = record.write(ws)
    return RunResult(record, path, ws.model_file(run), fitted.train.history, fitted.test,
                     fitted.rejected)


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
