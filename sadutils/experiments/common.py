"""The recipe every training step shares: the datasets, decode, split, train, test, record.

The text classifier (notebook 01) and the backbones (notebooks 03 and 05) are trained the same
way, as the paper trains them: :func:`fit_and_evaluate` takes a manifest with a ``split`` column
and returns the trained model's predictions on the test part with their metrics.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .. import backbones, inference, models, training
from ..config import DATASETS
from ..data.manifests import in_key_order
from ..demo import ensure_demo_data
from ..fileio import write_text
from ..metrics import calibration, evaluate_predictions
from ..models import WeightsChoice
from ..progress import phase, report
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


class EpochProgress(keras.callbacks.Callback):
    """Reports each epoch (its loss and accuracy) and the time left through
    :func:`sadutils.progress.report`, for the terminal of ``sadutils reproduce``.

    The time left is measured from the end of each epoch's first batch (the first batch of a
    run also builds and compiles the model, seconds that later batches do not take); until
    then no estimate is given.

    Parameters
    ----------
    step : str
        What is being trained, for the reader (``"training xception"``).
    epochs : int
        The epochs of the run (a resumed run starts part-way).
    """

    def __init__(self, step: str, epochs: int):
        super().__init__()
        self.step, self.epochs = step, int(epochs)
        self._epoch_times: list[float] = []
        self._epoch, self._done, self._epoch_start = 0, 0, time.monotonic()
        self._first_batch_end = None  # (time, batches done) when the first batch ended

    def _left(self, current_epoch_left: float | None) -> float | None:
        """Seconds left: the rest of this epoch and the later ones (None: no estimate yet)."""
        if current_epoch_left is None:
            return None
        later = self.epochs - self._epoch - 1
        if self._epoch_times:
            per_epoch = sum(self._epoch_times) / len(self._epoch_times)
        else:  # the first epoch: extrapolate from its batches so far
            steps = (self.params or {}).get("steps") or 1
            start, done = self._first_batch_end
            per_batch = (time.monotonic() - start) / max(self._done - done, 1)
            per_epoch = per_batch * steps
        return current_epoch_left + later * per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._first_batch_end, self._done = int(epoch), None, 0
        self._epoch_start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        steps = (self.params or {}).get("steps")
        self._done = int(batch) + 1
        if not steps:
            return
        if self._first_batch_end is None:
            self._first_batch_end = (time.monotonic(), self._done)
            return  # no estimate from a batch that also built the model
        start, done = self._first_batch_end
        per_batch = (time.monotonic() - start) / (self._done - done)
        left = self._left(per_batch * (steps - self._done))
        loss = (logs or {}).get("loss")
        report("batch", step=self.step, epoch=self._epoch + 1, epochs=self.epochs,
               done=self._done, total=int(steps), eta_s=round(left, 1),
               **({"loss": float(loss)} if loss is not None else {}))

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_times.append(time.monotonic() - self._epoch_start)
        metrics = {k: float(v) for k, v in (logs or {}).items()
                   if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
        report("epoch", force=True, step=self.step, done=int(epoch) + 1, total=self.epochs,
               eta_s=round(self._left(0.0), 1), **metrics)


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
        resume=resume, refresh_batchnorm=settings.refresh_batchnorm, verbose=verbose,
        extra_callbacks=[EpochProgress(f"training {run}", settings.epochs)])
    with phase("save model"):
        models.save_model(result.model, ws.model_file(run))
    with phase("test predictions", images=len(part["test"])):
        test = inference.predict_frame(result.model, manifest.iloc[part["test"]],
                                       images[part["test"]],
                                       batch_size=max(settings.batch_size, 64))
    with phase("metrics and bootstrap intervals"):
        metrics, ci = evaluate_predictions(test["label"], test["pred"], names,
                                           seed=settings.seed)
        metrics.update(calibration_metrics(test, names[0]))
    write_text(ws.predictions_file(run), test.to_csv(index=False))
    return Fitted(result, test, metrics, ci, rejected, manifest)


def calibration_metrics(predictions: pd.DataFrame, positive: str) -> dict:
    """The calibration entries of a record's metrics, from a predictions table.

    Parameters
    ----------
    predictions : DataFrame
        With ``label`` and ``p_<positive>``.
    positive : str

    Returns
    -------
    dict
        ``ece``, ``brier`` and ``calibration`` (the reliability diagram's bins).
    """
    cal = calibration(predictions["label"], predictions[f"p_{positive}"], positive)
    return {"ece": cal["ece"], "brier": cal["brier"], "calibration": cal["bins"]}


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
