"""The predictions the analysis reads, found through the results records.

Every Table 1 training record names the test-split predictions of its model (artifact
``predictions``: ``runs/<run>/test_predictions.csv``) and the model file (``model``); every
cross-dataset record names the predictions on its test set
(``cross_dataset/<run_id>/predictions.csv``, with UnbiasedEmo's ``object`` column). Nothing is
predicted again here: the analysis reuses what notebooks 03, 05 and 04 saved.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..config import CLASS_NAMES
from ..experiments.cross_dataset import CROSS_DATASET_TABLES, trained_models
from ..paper import paper_rows
from ..records import Record
from ..results import seeds_by_row
from ..workspace import Workspace

#: Columns every predictions file the analysis reads must have.
PREDICTION_COLUMNS = ("path", "label", "fine_label", "pred", *(f"p_{c}" for c in CLASS_NAMES))


@dataclass(frozen=True)
class Predictions:
    """One model's saved predictions on one test set.

    Attributes
    ----------
    record : Record
        The record that names them.
    frame : DataFrame
        One row per image: at least :data:`PREDICTION_COLUMNS`.
    path : Path
        The file they were read from.
    """

    record: Record
    frame: pd.DataFrame
    path: Path

    @property
    def model(self) -> str:
        """The model's row in the paper's tables (``"Xception"``, ``"ResNet50"``...)."""
        return self.record.row or self.record.backbone or self.record.run_id


def read_predictions(ws: Workspace, record: Record) -> Predictions:
    """The predictions file named by a record, checked.

    Parameters
    ----------
    ws : Workspace
        The workspace the record belongs to.
    record : Record

    Returns
    -------
    Predictions

    Raises
    ------
    FileNotFoundError
        When the record names no predictions file or the file is gone (naming both).
    ValueError
        When the file is not a table with :data:`PREDICTION_COLUMNS` and at least one row.
    """
    path = record.artifact("predictions", ws)
    if path is None:
        raise FileNotFoundError(f"record {record.run_id} names no predictions file "
                                "(artifacts.predictions)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the predictions of record {record.run_id} are gone; "
                                "run its notebook again (sadutils reproduce)")
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV table ({type(exc).__name__}: {exc})") \
            from None
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: predictions file without column(s) {', '.join(missing)}")
    if frame.empty:
        raise ValueError(f"{path}: predictions file without rows")
    if "object" in frame.columns:
        frame["object"] = frame["object"].fillna("").astype(str)
    return Predictions(record, frame, path)


def table1_predictions(ws: Workspace, include_ablation: bool = True) -> list[Predictions]:
    """The WEBEmo test-split predictions of each Table 1 row's model of its first seed (the
    profile's seed when it was trained), so that every part of the analysis looks at one model
    per row.

    Parameters
    ----------
    ws : Workspace
    include_ablation : bool
        Include the model trained from random weights (notebook 05).

    Returns
    -------
    list of Predictions
        In the table's row order (the paper's rows, then other backbones').

    Raises
    ------
    FileNotFoundError
        When there is no training record, or one's predictions are gone.
    """
    first = {}
    for rec in trained_models(ws, include_ablation=include_ablation):
        first.setdefault(rec.row, rec)  # ordered by seed within a row
    return [read_predictions(ws, rec) for rec in first.values()]


def cross_predictions(ws: Workspace, dataset: str, include_ablation: bool = True
                      ) -> list[Predictions]:
    """The predictions of each row's cross-dataset record on one test set, for the model of
    the row's first seed (see :func:`table1_predictions`).

    Parameters
    ----------
    ws : Workspace
    dataset : {"unbiasedemo", "emotion6"}
    include_ablation : bool
        Include the row of the model trained from random weights.

    Returns
    -------
    list of Predictions
        In the table's row order; empty when notebook 04 has not run.

    Raises
    ------
    ValueError
        For a dataset that is no cross-dataset test set.
    FileNotFoundError
        When a record's predictions are gone.
    """
    if dataset not in CROSS_DATASET_TABLES:
        raise ValueError(f"unknown cross-dataset test set {dataset!r}; valid choices: "
                         f"{', '.join(CROSS_DATASET_TABLES)}")
    groups = seeds_by_row(ws, CROSS_DATASET_TABLES[dataset])
    latest = {row: group[0] for row, group in groups.items()}
    order = list(paper_rows("table1")) + sorted(set(latest) - set(paper_rows("table1")))
    return [read_predictions(ws, latest[row]) for row in order if row in latest
            and (include_ablation or latest[row].params.get("pretrained") is not False)]


def by_model(found) -> dict[str, pd.DataFrame]:
    """``{model: frame}`` of a list of :class:`Predictions`, in its order.

    Parameters
    ----------
    found : list of Predictions

    Returns
    -------
    dict
    """
    return {p.model: p.frame for p in found}
