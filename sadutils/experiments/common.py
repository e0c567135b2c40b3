"""The recipe every training step shares: the datasets, decode, split, train, test, record.

The text classifier (notebook 01) and the backbones (notebooks 03 and 05) are trained the same
way, as the paper trains them: :func:`fit_and_evaluate` takes a manifest with a ``split`` column
and returns the trained model's predictions on the test part with their metrics.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import backbones, inference, models, training
from ..config import DATASETS
from ..data.manifests import in_key_order
from ..demo import ensure_demo_data
from ..fileio import write_text
from ..metrics import evaluate_predictions
from ..models import WeightsChoice
from ..records import Record
from ..settings import TrainSettings
from ..workspace import Workspace


def dataset_roots(ws: Workspace, progress: bool = False) -> dict[str, Path]:
    """The folder of each dataset of a workspace.

    Parameters
    ----------
    ws : Workspace
    progress : bool
        Show progress bars while the demo data is made.

    Returns
    -------
    dict
        Dataset name -> folder. Demo: the generated demo data (made on first use, then
        reused). Paper: ``<data>/<dataset>`` for each of :data:`sadutils.config.DATASETS`, in
        the layouts of the README and ``DATASETS.md``.
    """
    if ws.name == "demo":
        return ensure_demo_data(ws.data, seed=ws.profile.seed, progress=progress)
    return {name: ws.dataset_dir(name) for name in DATASETS}


@dataclass
class RunResult:
    """What a training run gives its notebook.

    Attributes
    ----------
    record : Record
    record_path : Path
    model_path : Path
    history : DataFrame
        One row per epoch (loss and accuracy on the training and validation parts).
    test : DataFrame
        The test split with ``pred`` and one ``p_<class>`` column per class.
    rejected : DataFrame
        ``path``, ``reason`` of the files that could not be used: left out, never silently.
    """

    record: Record
    record_path: Path
    model_path: Path
    history: pd.DataFrame
    test: pd.DataFrame
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["path", "reason"]))

    @property
    def metrics(self) -> dict:
        return self.record.metrics


@dataclass
class Fitted:
    """The outcome of :func:`fit_and_evaluate` (before its record is written)."""

    train: training.TrainResult
    test: pd.DataFrame
    metrics: dict
    ci95: dict
    rejected: pd.DataFrame
    manifest: pd.DataFrame

    def split_sizes(self) -> dict:
        """``n_train``, ``n_val``, ``n_test``: images each part really had."""
        counts = self.manifest["split"].value_counts()
        return {f"n_{part}": int(counts.get(part, 0)) for part in ("train", "val", "test")}


def fit_and_evaluate(ws: Workspace, manifest: pd.DataFrame, *, class_names, backbone: str,
                     weights: WeightsChoice, run: str, settings: TrainSettings,
                     resume: bool = True, progress: bool = False, verbose: int = 2) -> Fitted:
    """Train ``backbone`` on the ``train``/``val`` rows of ``manifest``; test it on ``test``.

    Parameters
    ----------
    ws : Workspace
    manifest : DataFrame
        With ``path``, ``label`` and ``split`` columns.
    class_names : sequence of str
        The model's classes, in output order.
    backbone : str
    weights : WeightsChoice
    run : str
        The run's name (its folder under ``runs/`` and its model file).
    settings : TrainSettings
    resume : bool
        Continue an interrupted run from its last finished epoch.
    progress : bool
    verbose : int
        Keras' verbosity.

    Returns
    -------
    Fitted
        The model is saved to the workspace's model file of ``run`` and the test predictions
        to its predictions file.

    Raises
    ------
    ValueError
        When a part of the split is empty once unreadable images are left out.

    Notes
    -----
    Rows are first put in :func:`sadutils.data.manifests.row_keys` order, so the batches (and
    the results) do not depend on where the data lives or on the manifest's row order.
    """
    manifest = in_key_order(manifest).reset_index(drop=True)
    manifest, images, rejected = inference.decode_manifest(manifest, settings.image_size,
                                                           ws.cache, progress=progress)
    names = list(class_names)
    y = manifest["label"].map(names.index).to_numpy()
    part = {s: np.flatnonzero(manifest["split"].to_numpy() == s) for s in ("train", "val", "test")}
    for s, idx in part.items():
        if len(idx) == 0:
            raise ValueError(f"the {s} split of {run} is empty ({len(manifest)} images); "
                             "more images are needed")
    training.set_seeds(settings.seed)
    bb = backbones.get(backbone)

    def build():
        return models.build_model(bb, settings.image_size, weights.weights, class_names=names)

    result = training.train_model(
        build, images[part["train"]], y[part["train"]], images[part["val"]], y[part["val"]],
        ws.run_dir(run), epochs=settings.epochs, batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, optimizer=settings.optimizer, seed=settings.seed,
        resume=resume, refresh_batchnorm=settings.refresh_batchnorm, verbose=verbose)
    models.save_model(result.model, ws.model_file(run))
    test = inference.predict_frame(result.model, manifest.iloc[part["test"]],
                                   images[part["test"]],
                                   batch_size=max(settings.batch_size, 64))
    metrics, ci = evaluate_predictions(test["label"], test["pred"], names, seed=settings.seed)
    write_text(ws.predictions_file(run), test.to_csv(index=False))
    return Fitted(result, test, metrics, ci, rejected, manifest)


def run_params(settings: TrainSettings, fitted: Fitted, **extra) -> dict:
    """The ``params`` of a training record: the recipe, the split sizes, how training went.

    Parameters
    ----------
    settings : TrainSettings
    fitted : Fitted
    **extra
        Step-specific parameters (they win over the common ones).

    Returns
    -------
    dict
    """
    t = fitted.train
    return {**settings.as_params(), **fitted.split_sizes(),
            "n_rejected": len(fitted.rejected), "best_epoch": t.best_epoch,
            "resumed_from_epoch": t.resumed_from_epoch, "precision": t.precision,
            "replicas": t.n_replicas, **extra}


def run_artifacts(ws: Workspace, run: str, notebook: str | None = None, **extra) -> dict:
    """The ``artifacts`` of a training record: model, history, test predictions, notebook.

    Parameters
    ----------
    ws : Workspace
    run : str
    notebook : str, optional
        The executed notebook's name (``sadutils reproduce`` passes it).
    **extra
        More files (paths).

    Returns
    -------
    dict
    """
    return {"model": ws.model_file(run), "history": ws.history_file(run),
            "predictions": ws.predictions_file(run), **extra, "notebook": notebook}
