"""Which images a model calls *sadness*, group by group, with Wilson intervals.

One number answers both questions the paper's single accuracy hides. In a group of true
sadness images (a WEBEmo sadness sub-emotion such as *neglect*, or UnbiasedEmo's sadness
pictures of dogs) the share called sadness is the model's **recall** there; in a group of other
images (WEBEmo's *horror*, Emotion-6's *fear*) it is the **false-sadness rate**, how often that
emotion is taken for sadness. Groups are small (a few images per fine label in the demo, a few
hundred in the paper's test split), so every share carries a Wilson score interval, which keeps
its coverage for small groups and shares near 0 or 1, where the normal approximation does not.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from ..config import SADNESS

#: What the share called sadness measures in a group of each true class.
MEASURES = {True: "recall", False: "false-sadness rate"}
#: Columns of :func:`sadness_call_rates`, after the grouping columns.
RATE_COLUMNS = ("label", "measure", "n", "n_called_sadness", "rate", "low", "high")


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n``.

    Parameters
    ----------
    k : int
        Successes, ``0 <= k <= n``.
    n : int
        Trials, at least 1.
    level : float
        Confidence level, within (0, 1).

    Returns
    -------
    tuple of float
        ``(low, high)`` within 0..1.

    Raises
    ------
    ValueError
        For ``n < 1``, ``k`` outside ``0..n`` or a level outside (0, 1).
    """
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"a proportion needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0 < level < 1:
        raise ValueError(f"level must be within (0, 1), got {level}")
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def require_columns(frame: pd.DataFrame, columns, what: str) -> None:
    """Refuse a table that lacks columns the analysis reads.

    Parameters
    ----------
    frame : DataFrame
    columns : iterable of str
    what : str
        The table's name in the message (a file name, "the predictions").

    Raises
    ------
    ValueError
        Naming the missing columns and those the table has.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} has no column(s) {', '.join(missing)}; it has "
                         f"{', '.join(map(str, frame.columns))}")


def sadness_call_rates(predictions: pd.DataFrame, by, level: float = 0.95,
                       what: str = "the predictions") -> pd.DataFrame:
    """The share of images called sadness in each group, with its Wilson interval.

    Parameters
    ----------
    predictions : DataFrame
        One row per image with ``label`` (the true class), ``pred`` (the predicted class) and
        the grouping columns.
    by : str or list of str
        Grouping columns, e.g. ``"fine_label"`` or ``"object"``. The true class is always added
        as the last grouping column, so a group mixing both classes (an UnbiasedEmo object)
        gives one row per class.
    level : float
        Confidence level of the intervals.
    what : str
        What ``predictions`` is, for error messages (e.g. its file).

    Returns
    -------
    DataFrame
        The grouping columns, then :data:`RATE_COLUMNS`: the true class, ``recall`` or
        ``false-sadness rate``, images, images called sadness, their share and its interval.
        Sadness groups come first, then the others; each part sorted by group.

    Raises
    ------
    ValueError
        When a column is missing or ``predictions`` is empty.
    """
    by = [by] if isinstance(by, str) else list(by)
    require_columns(predictions, ["label", "pred", *by], what)
    if predictions.empty:
        raise ValueError(f"{what} has no rows")
    frame = predictions.assign(_called=predictions["pred"].astype(str) == SADNESS)
    rows = []
    for key, group in frame.groupby([*by, "label"], sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        n, k = len(group), int(group["_called"].sum())
        is_sad = str(key[-1]) == SADNESS
        low, high = wilson_interval(k, n, level)
        rows.append((*key[:-1], str(key[-1]), MEASURES[is_sad], n, k, k / n, low, high))
    out = pd.DataFrame(rows, columns=[*by, *RATE_COLUMNS])
    out["_others_last"] = out["label"] != SADNESS
    return (out.sort_values(["_others_last", *by], kind="stable", key=_sort_key)
            .drop(columns="_others_last").reset_index(drop=True))


def _sort_key(column: pd.Series) -> pd.Series:
    """Group names sort as text (an empty object name or a number among names included)."""
    return column if column.dtype == bool else column.astype(str)


def rates_by_model(predictions: dict, by, level: float = 0.95) -> pd.DataFrame:
    """:func:`sadness_call_rates` of several models, stacked.

    Parameters
    ----------
    predictions : dict
        Model name (a table row, e.g. ``"Xception"``) -> its predictions.
    by : str or list of str
    level : float

    Returns
    -------
    DataFrame
        A ``model`` column first, in the order of ``predictions``, then the columns of
        :func:`sadness_call_rates`.
    """
    frames = [sadness_call_rates(frame, by, level, what=f"the predictions of {model}")
              .assign(model=model) for model, frame in predictions.items()]
    if not frames:
        return pd.DataFrame(columns=["model", *([by] if isinstance(by, str) else by),
                                     *RATE_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    return out[["model", *[c for c in out.columns if c != "model"]]]


def object_separation(rates: pd.DataFrame, by: str = "object") -> pd.DataFrame:
    """Per object or scene: how far apart a model puts its sadness and its other images.

    UnbiasedEmo shows each object under several emotions. A model that judges the object
    (every child sad, every flower happy) calls sadness as often for the object's sadness
    images as for its other images; one that judges the emotion separates them. The
    separation is recall minus false-sadness rate (Youden's J) within the object: 1 perfect,
    0 no better than looking at the object alone, below 0 backwards.

    Parameters
    ----------
    rates : DataFrame
        :func:`rates_by_model` (or :func:`sadness_call_rates`) grouped by ``by``.
    by : str
        The object column.

    Returns
    -------
    DataFrame
        ``model`` (when present), ``by``, ``recall``, ``false-sadness rate``, ``separation``,
        ``n_sadness``, ``n_others``; an object lacking one class gets NaN.
    """
    require_columns(rates, [by, "label", "measure", "rate", "n"], "the rates table")
    keys = (["model"] if "model" in rates.columns else []) + [by]
    wide = rates.pivot_table(index=keys, columns="measure", values="rate", aggfunc="first",
                             sort=False)
    counts = rates.pivot_table(index=keys, columns="measure", values="n", aggfunc="first",
                               sort=False)
    out = pd.DataFrame(index=wide.index)
    for measure in MEASURES.values():
        out[measure] = wide[measure] if measure in wide else np.nan
    out["separation"] = out["recall"] - out["false-sadness rate"]
    out["n_sadness"] = counts["recall"] if "recall" in counts else 0
    out["n_others"] = counts["false-sadness rate"] if "false-sadness rate" in counts else 0
    out[["n_sadness", "n_others"]] = out[["n_sadness", "n_others"]].fillna(0).astype(int)
    return out.reset_index()
