"""The figures, tables and sentences of the Analysis chapter (notebook ``06_analysis``), and
the chapter as the book shows it.

Notebook 06 computes with :mod:`sadutils.analysis`, draws with
:mod:`sadutils.reporting.analysis_figures` and writes with the tables and sentences here; a
:class:`~sadutils.reporting.chapters.Chapter` of kind :data:`ANALYSIS` (``ANALYSIS.new``)
collects what it shows and saves it under ``results/<profile>/analysis/``, from where the
book's Analysis page displays it (``ANALYSIS.outputs``), so the book shows exactly what the
notebook computed, without loading a model at build time.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.groups import MEASURES
from .analysis_figures import METRIC_LABELS
from .chapters import ChapterKind


# ---------------------------------------------------------------------------- tables

def _percent(value) -> str:
    return "" if value is None or not np.isfinite(value) else f"{100 * value:.0f}%"


def rates_wide(rates: pd.DataFrame, by) -> pd.DataFrame:
    """A rates table with one column per model: ``62% [41, 79]`` per cell.

    Parameters
    ----------
    rates : DataFrame
        :func:`sadutils.analysis.rates_by_model`.
    by : str or list of str
        Its grouping columns.

    Returns
    -------
    DataFrame
        The groups (sadness groups first), ``measure``, ``n`` (images; the models tested the
        same ones) and one column per model, in the order of ``rates``.
    """
    by = [by] if isinstance(by, str) else list(by)
    keys = [*by, "label", "measure"]
    cells = rates.assign(cell=[f"{100 * r:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"
                               for r, lo, hi in zip(rates["rate"], rates["low"], rates["high"])])
    models = list(dict.fromkeys(rates["model"]))
    wide = cells.pivot_table(index=keys, columns="model", values="cell", aggfunc="first",
                             sort=False)
    n = rates.groupby(keys, sort=False)["n"].max()
    out = wide.reindex(columns=models).assign(n=n).reset_index()
    out = out[[*by, "measure", "n", *models]]
    return out.fillna("")


def separation_wide(separation: pd.DataFrame, by: str = "object") -> pd.DataFrame:
    """Per object, each model's separation (recall minus false-sadness rate).

    Parameters
    ----------
    separation : DataFrame
        :func:`sadutils.analysis.object_separation` with a ``model`` column.
    by : str

    Returns
    -------
    DataFrame
        ``by``, the images of each class, one column per model and the mean over models.
    """
    models = list(dict.fromkeys(separation["model"]))
    wide = separation.pivot_table(index=by, columns="model", values="separation",
                                  aggfunc="first").reindex(columns=models)
    counts = separation.groupby(by)[["n_sadness", "n_others"]].max()
    out = counts.join(wide)
    out["mean"] = wide.mean(axis=1)
    return out.reset_index()


def sweep_table(sweeps: dict, metric: str = "accuracy") -> pd.DataFrame:
    """The measured metric of each model at each class ratio of a sweep.

    Parameters
    ----------
    sweeps : dict
        Model -> :func:`sadutils.analysis.ratio_sweep`.
    metric : str

    Returns
    -------
    DataFrame
        ``sadness fraction`` (``natural`` for the set as tested), then per model the measured
        value and, in brackets, the one its rates imply.
    """
    rows = {}
    for model, sweep in sweeps.items():
        for _, r in sweep.iterrows():
            key = "natural" if pd.isna(r["sadness_fraction"]) else f"{r['sadness_fraction']:.2f}"
            rows.setdefault(key, {"sadness fraction": key,
                                  "sadness share": f"{r['sadness_share']:.2f}",
                                  "images": int(r["n"])})
            expected = r[f"expected_{metric}"]
            rows[key][model] = f"{r[metric]:.3f} ({expected:.3f})"
    return pd.DataFrame(list(rows.values()))


def drop_summary(drops: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """The drop of ``metric`` from Table 1 to Tables 2/3 and its two parts, per model.

    Parameters
    ----------
    drops : DataFrame
        :func:`sadutils.analysis.drop_table`.
    metric : str

    Returns
    -------
    DataFrame
        ``dataset``, ``model``, the sadness shares of both sets, WEBEmo's value, the other
        set's value, the other set's value at WEBEmo's share, then the drop, its image part and
        its class-ratio part (drop = images + class ratio; positive: worse on the other set).
        Accuracy is in percent and its differences in points, as in the paper's tables.
    """
    scale, name = (100, "accuracy %") if metric == "accuracy" else (1, METRIC_LABELS[metric])
    unit = " (points)" if metric == "accuracy" else ""
    return pd.DataFrame({
        "dataset": drops["dataset"], "model": drops["model"],
        "WEBEmo sadness share": drops["source_prior"],
        "set's sadness share": drops["target_prior"],
        f"{name} WEBEmo": drops[f"{metric}_source"] * scale,
        f"{name} set": drops[f"{metric}_target"] * scale,
        f"{name} set at WEBEmo share": drops[f"{metric}_target_at_source_prior"] * scale,
        f"drop{unit}": drops[f"{metric}_drop"] * scale,
        f"from the images{unit}": drops[f"{metric}_images"] * scale,
        f"from the class ratio{unit}": drops[f"{metric}_prior"] * scale})


def identical_note(predictions: dict) -> str:
    """A sentence naming models whose predictions are identical, or an empty string.

    Two rows of the tables can hold the same model: under the demo profile without network,
    "Xception" falls back to random weights and is then trained exactly as "Xception
    no-pretrain" (same seed, same data), so their numbers coincide; this says so instead of
    leaving a reader to suspect a mix-up.

    Parameters
    ----------
    predictions : dict
        Model -> predictions on the same test set.

    Returns
    -------
    str
    """
    keys = {}
    for model, frame in predictions.items():
        cols = [c for c in ("path", "pred", "p_sadness") if c in frame.columns]
        signature = frame[cols].sort_values("path").to_csv(index=False)
        keys.setdefault(signature, []).append(model)
    same = [models for models in keys.values() if len(models) > 1]
    if not same:
        return ""
    groups = "; ".join(" and ".join(models) for models in same)
    return (f"Identical predictions: {groups}. These rows hold the same trained model in "
            "effect (e.g. an ImageNet row that fell back to random weights and was then "
            "trained exactly like the from-scratch row); their numbers coincide throughout.")


# ---------------------------------------------------------------------------- sentences

def _images(n) -> str:
    return f"{int(n)} image" + ("" if int(n) == 1 else "s")


def rates_reading(rates: pd.DataFrame, by: str, what: str, min_images: int = 5) -> str:
    """Two sentences on a rates table, averaged over the models.

    Parameters
    ----------
    rates : DataFrame
        :func:`sadutils.analysis.rates_by_model` grouped by ``by``.
    by : str
    what : str
        What the groups are, e.g. ``"WEBEmo sadness sub-emotion"``.
    min_images : int
        Groups with fewer images are not named (their intervals span most of 0..1); the
        sentence says how many were left out.

    Returns
    -------
    str
    """
    mean = rates.groupby([by, "measure"], sort=False).agg(rate=("rate", "mean"), n=("n", "max"))
    mean = mean.reset_index()
    small = int((mean["n"] < min_images).sum())
    mean = mean[mean["n"] >= min_images]
    parts = []
    recall = mean[mean["measure"] == MEASURES[True]].sort_values("rate")
    if len(recall) > 1:
        parts.append(f"Averaged over the {rates['model'].nunique()} models, the {what} missed "
                     f"most often is *{recall.iloc[0][by]}* (recall "
                     f"{_percent(recall.iloc[0]['rate'])}, {_images(recall.iloc[0]['n'])}) and "
                     f"the one found most often *{recall.iloc[-1][by]}* "
                     f"({_percent(recall.iloc[-1]['rate'])}, {_images(recall.iloc[-1]['n'])}).")
    elif len(recall) == 1:
        parts.append(f"Averaged over the {rates['model'].nunique()} models, the recall of "
                     f"*{recall.iloc[0][by]}* is {_percent(recall.iloc[0]['rate'])}.")
    false = mean[mean["measure"] == MEASURES[False]].sort_values("rate", ascending=False)
    if len(false):
        top = ", ".join(f"*{r[by]}* ({_percent(r['rate'])}, {_images(r['n'])})"
                        for _, r in false.head(3).iterrows())
        parts.append(f"The other groups most often taken for sadness are {top}; the least "
                     f"often *{false.iloc[-1][by]}* ({_percent(false.iloc[-1]['rate'])}).")
    if small:
        parts.append(f"{small} group{'s' if small != 1 else ''} of fewer than {min_images} "
                     "images are not named here (see the table).")
    return " ".join(parts)


def separation_reading(separation: pd.DataFrame, by: str = "object") -> str:
    """One sentence: the objects where the models separate sadness worst and best.

    Parameters
    ----------
    separation : DataFrame
        :func:`sadutils.analysis.object_separation`.
    by : str

    Returns
    -------
    str
    """
    mean = separation.groupby(by)["separation"].mean().dropna().sort_values()
    if mean.empty:
        return "No object has images of both classes."
    return (f"Averaged over the models, sadness is told apart worst within *{mean.index[0]}* "
            f"images (recall minus false-sadness rate {mean.iloc[0]:+.2f}) and best within "
            f"*{mean.index[-1]}* images ({mean.iloc[-1]:+.2f}); 0 would mean the model judges the "
            "object alone.")


def drop_reading(drops: pd.DataFrame, metric: str = "accuracy") -> str:
    """One sentence per test set: the mean drop of ``metric`` and its two parts.

    Parameters
    ----------
    drops : DataFrame
        :func:`sadutils.analysis.drop_table`.
    metric : str

    Returns
    -------
    str
    """
    scale, unit = (100, " points") if metric == "accuracy" else (1, "")
    digits = 1 if metric == "accuracy" else 3
    out = []
    for dataset, rows in drops.groupby("dataset", sort=False):
        d, i, p = (rows[f"{metric}_{k}"].mean() * scale for k in ("drop", "images", "prior"))
        out.append(f"On {dataset} ({rows['target_prior'].iloc[0]:.0%} sadness against WEBEmo's "
                   f"{rows['source_prior'].iloc[0]:.0%}), {METRIC_LABELS[metric]} changes by "
                   f"{-d:+.{digits}f}{unit} on average over {len(rows)} models: "
                   f"{-i:+.{digits}f}{unit} from the images and {-p:+.{digits}f}{unit} from the "
                   "class ratio.")
    return " ".join(out)


def heat_reading(summary: pd.DataFrame) -> str:
    """One sentence on :func:`sadutils.analysis.heat_summary`.

    Parameters
    ----------
    summary : DataFrame

    Returns
    -------
    str
    """
    if summary.empty:
        return "No Grad-CAM maps."
    agreement = summary["agreement"].mean()
    text = (f"Over the {int(summary['images'].iloc[0])} images, the models put on average "
            f"{summary['upper_half'].mean():.0%} of their heat in the upper half of the image, "
            f"and {summary['area'].mean():.0%} of the pixels reach half of an image's peak")
    if np.isfinite(agreement):
        text += (f"; two models' maps of the same image correlate by {agreement:+.2f} on "
                 "average (1: the same regions, 0: unrelated)")
    return text + "."


# ---------------------------------------------------------------------------- the chapter

#: The chapter's parts, in order: key -> title.
PARTS = {
    "sources": "The models and the predictions read",
    "groups": "Which sadness is missed, and what is taken for sadness",
    "gradcam": "Where the models look: Grad-CAM",
    "prior": "Where the cross-dataset drop comes from",
    "failures": "Failure gallery",
}
#: The Analysis chapter: what notebook 06 saves under ``results/<profile>/analysis/``.
ANALYSIS = ChapterKind("analysis", PARTS, "06_analysis", "analysis")
