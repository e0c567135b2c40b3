"""Which images to look at: a model's most confident mistakes, and images every model shares.

Both choices are made from saved predictions, deterministically, so the gallery and the
Grad-CAM figure show the same images on every run of the same results.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import CLASS_NAMES, SADNESS

#: Columns shown for a chosen image (those present).
SHOWN = ("path", "label", "fine_label", "object", "pred", "confidence")


def _confidence(frame: pd.DataFrame) -> pd.Series:
    """The probability the model gave its own prediction."""
    missing = [f"p_{c}" for c in CLASS_NAMES if f"p_{c}" not in frame.columns]
    if missing or "pred" not in frame.columns or "label" not in frame.columns:
        raise ValueError("predictions need label, pred and "
                         + ", ".join(f"p_{c}" for c in CLASS_NAMES) + " columns")
    probabilities = frame[[f"p_{c}" for c in CLASS_NAMES]].to_numpy(dtype=float)
    index = frame["pred"].astype(str).map({c: i for i, c in enumerate(CLASS_NAMES)})
    if index.isna().any():
        raise ValueError(f"predicted classes must be {', '.join(CLASS_NAMES)}")
    return pd.Series(probabilities[np.arange(len(frame)), index.to_numpy(dtype=int)],
                     index=frame.index)


def confident_mistakes(frame: pd.DataFrame, n: int = 8) -> pd.DataFrame:
    """The ``n`` wrong predictions the model was surest of.

    Parameters
    ----------
    frame : DataFrame
        A model's predictions (``path``, ``label``, ``pred``, ``p_sadness``, ``p_others``, and
        ``fine_label``/``object`` when known).
    n : int
        At most this many, at least 1.

    Returns
    -------
    DataFrame
        The mistakes with ``confidence`` (the probability of the wrong class), surest first
        (ties by path), with the columns of :data:`SHOWN` that exist; fewer rows when the model
        made fewer mistakes.

    Raises
    ------
    ValueError
        For ``n < 1`` or missing columns.
    """
    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    confidence = _confidence(frame)
    wrong = frame.assign(confidence=confidence)[frame["pred"].astype(str)
                                                != frame["label"].astype(str)]
    wrong = wrong.sort_values(["confidence", "path"], ascending=[False, True], kind="stable")
    return wrong[[c for c in SHOWN if c in wrong.columns]].head(int(n)).reset_index(drop=True)


def shared_picks(predictions: dict, per_cell: int = 1, seed: int = 0) -> pd.DataFrame:
    """Test images for a side-by-side look at several models: right and wrong, both classes.

    Every model tested the same images, so the same ones are chosen for all: for each true
    class, the ``per_cell`` images most models got right and the ``per_cell`` images most
    models got wrong (ties broken by a seeded draw).

    Parameters
    ----------
    predictions : dict
        Model -> predictions (``path``, ``label``, ``pred``...) on the same test set.
    per_cell : int
        Images per (class, mostly right / mostly wrong) cell.
    seed : int

    Returns
    -------
    DataFrame
        ``path``, ``label``, ``fine_label`` (when known), ``right_share`` (of the models that
        got it right), ``cell`` (e.g. ``"sadness, right for 4 of 5 models"``), in the order
        sadness most often right, sadness most often wrong, then the same for others. An image
        is chosen once.

    Raises
    ------
    ValueError
        When no model is given, ``per_cell < 1``, or the models share no image.
    """
    if not predictions:
        raise ValueError("no predictions to choose images from")
    if int(per_cell) < 1:
        raise ValueError(f"per_cell must be at least 1, got {per_cell}")
    frames = list(predictions.values())
    keep = [c for c in ("path", "label", "fine_label") if c in frames[0].columns]
    base = frames[0][keep].drop_duplicates("path").set_index("path")
    right = pd.concat([(f.drop_duplicates("path").set_index("path")["pred"].astype(str)
                        == f.drop_duplicates("path").set_index("path")["label"].astype(str))
                       .rename(i) for i, f in enumerate(frames)], axis=1, join="inner")
    if right.empty:
        raise ValueError("the models' predictions share no image")
    base = base.loc[right.index].assign(right_share=right.mean(axis=1).to_numpy())
    base = base.sort_index()
    rng = np.random.default_rng(seed)
    base["_tie"] = rng.permutation(len(base))
    chosen, rows = set(), []
    for label in (SADNESS, *[c for c in CLASS_NAMES if c != SADNESS]):
        rows_of = base[base["label"].astype(str) == label]
        for ascending in (False, True):  # most often right, then most often wrong
            order = rows_of.sort_values(["right_share", "_tie"], ascending=[ascending, True])
            pick = [p for p in order.index if p not in chosen][:int(per_cell)]
            chosen.update(pick)
            for p in pick:
                share = float(base.loc[p, "right_share"])
                known = base.loc[p, [c for c in keep if c != "path"]].to_dict()
                rows.append({"path": p, **known, "right_share": share,
                             "cell": f"{label}, right for {round(share * len(frames))} of "
                                     f"{len(frames)} models"})
    return pd.DataFrame(rows)
