"""What the book's page on trusting the numbers shows: spread over seeds, which differences
between models are real, and how well their probabilities are calibrated.

Every table and figure is computed from the records (and the predictions saved beside them)
present when the book is built, through :mod:`sadutils.results`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import PAPER
from ..paper import FILTER_COUNTS, NO_PRETRAIN_SUFFIX, TEXT_CLASSIFIER_ACCURACY, paper_table
from ..records import latest
from ..results import pairwise_mcnemar, row_summaries
from ..workspace import Workspace
from .figures import new_figure
from .tables import metric_scale

#: Metrics of the seed table: (record metric, label).
SEED_METRICS = (("accuracy", "Accuracy %"), ("f1_weighted", "Overall F1"))


def seed_table(ws: Workspace, table="table1") -> pd.DataFrame:
    """Per model: its seeds, and per metric the mean, the spread over seeds and the interval.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    DataFrame
        ``Model``, ``seeds``; per metric ``<label> mean ± sd`` (sd over the seeds) and
        ``<label> 95% CI of the mean`` (bootstrap over the test images), then ``ECE`` (mean
        over seeds).
    """
    rows = []
    for summary in row_summaries(ws, table):
        out = {"Model": summary.row, "seeds": len(summary.records)}
        for metric, label in SEED_METRICS:
            scale, digits = metric_scale(metric)
            mean, sd = summary.mean(metric), summary.sd(metric)
            text = "" if mean is None else f"{mean * scale:.{digits}f}"
            if sd is not None:
                text += f" ± {sd * scale:.{digits}f}"
            out[f"{label} mean ± sd"] = text
            interval = summary.interval(metric)
            out[f"{label} 95% CI of the mean"] = (
                "" if interval is None
                else f"[{interval[0] * scale:.{digits}f}, {interval[1] * scale:.{digits}f}]")
        ece = summary.values("ece")
        out["ECE"] = f"{ece.mean():.3f}" if ece.size else ""
        rows.append(out)
    return pd.DataFrame(rows)


def largest_seed_spread(ws: Workspace, table="table1") -> tuple[str, float] | None:
    """The model whose accuracy moves most with the seed, and that spread (sd, points).

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    tuple or None
        ``(row, sd in percentage points)``; None when no row has two seeds.
    """
    spreads = [(s.row, 100 * s.sd("accuracy")) for s in row_summaries(ws, table)
               if s.sd("accuracy") is not None]
    return max(spreads, key=lambda item: item[1]) if spreads else None


def significance_table(ws: Workspace, table="table1") -> pd.DataFrame:
    """The combined verdict of each pair of models (see
    :func:`sadutils.results.pairwise_mcnemar`), ready to print.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    DataFrame
        ``Model A``, ``Model B``, ``seeds``, ``only A right``, ``only B right``,
        ``largest Holm p``, ``real difference`` (yes/no) and ``better``.
    """
    tests = pairwise_mcnemar(ws, table)
    if tests.empty:
        return pd.DataFrame()
    per_seed = tests[tests["seed"] != "all"].groupby(["model_a", "model_b"]).size()
    combined = tests[tests["seed"] == "all"]
    return pd.DataFrame({
        "Model A": combined["model_a"], "Model B": combined["model_b"],
        "seeds": [int(per_seed[(a, b)]) for a, b in zip(combined["model_a"], combined["model_b"])],
        "only A right": combined["a_only"], "only B right": combined["b_only"],
        "largest Holm p": [f"{p:.3g}" for p in combined["p_holm"]],
        "real difference": np.where(combined["significant"], "yes", "no"),
        "better": combined["better"]}).reset_index(drop=True)


def plot_significance(ws: Workspace, table="table1"):
    """The matrix of pairwise verdicts: each cell the largest Holm-corrected p-value over the
    seeds, marked where the difference is real.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    matplotlib.figure.Figure or None
        None when fewer than two models have records.
    """
    tests = pairwise_mcnemar(ws, table)
    tests = tests[tests["seed"] == "all"]
    if tests.empty:
        return None
    models = list(dict.fromkeys(list(tests["model_a"]) + list(tests["model_b"])))
    k = len(models)
    p = np.full((k, k), np.nan)
    real = np.zeros((k, k), dtype=bool)
    for _, t in tests.iterrows():
        i, j = models.index(t["model_a"]), models.index(t["model_b"])
        p[i, j] = p[j, i] = t["p_holm"]
        real[i, j] = real[j, i] = bool(t["significant"])
    fig, axes = new_figure(size=(1.3 * k + 2.5, 1.1 * k + 1.5))
    ax = axes[0][0]
    image = ax.imshow(-np.log10(np.clip(p, 1e-12, 1)), cmap="Blues", vmin=0, vmax=4)
    for i in range(k):
        for j in range(k):
            if i != j and not np.isnan(p[i, j]):
                ax.text(j, i, f"{p[i, j]:.2g}" + ("\n real" if real[i, j] else ""),
                        ha="center", va="center", fontsize=7,
                        color="white" if p[i, j] < 1e-2 else "black")
    labels = [m.replace(" no-pretrain", "\nno-pretrain") for m in models]
    ax.set_xticks(range(k), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_title(f"McNemar, Holm-corrected p ({ws.name} profile)", fontsize=9)
    fig.colorbar(image, ax=ax, label="-log10 p")
    return fig


def calibration_table(ws: Workspace, table="table1") -> pd.DataFrame:
    """Expected calibration error and Brier score of each model (mean over its seeds).

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    DataFrame
        ``Model``, ``seeds``, ``ECE``, ``Brier``.
    """
    rows = []
    for summary in row_summaries(ws, table):
        ece, brier = summary.values("ece"), summary.values("brier")
        if not ece.size:
            continue
        rows.append({"Model": summary.row, "seeds": int(ece.size),
                     "ECE": round(float(ece.mean()), 3), "Brier": round(float(brier.mean()), 3)})
    return pd.DataFrame(rows)


def plot_reliability(ws: Workspace, table="table1"):
    """Reliability diagrams: for each model (its first seed), the share of sad images against
    the mean P(sadness) in each probability bin; a calibrated model lies on the diagonal.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    matplotlib.figure.Figure or None
        None when no record has calibration bins.
    """
    found = [(s.row, s.records[0].metrics.get("calibration")) for s in row_summaries(ws, table)]
    found = [(row, bins) for row, bins in found if bins]
    if not found:
        return None
    fig, axes = new_figure(1, len(found), size=(2.6 * len(found), 2.9))
    for ax, (row, bins) in zip(axes[0], found):
        mean_p = [b["mean_p"] for b in bins]
        share = [b["share_positive"] for b in bins]
        sizes = [20 + 200 * b["n"] / max(x["n"] for x in bins) for b in bins]
        ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
        ax.plot(mean_p, share, color="tab:blue", linewidth=1)
        ax.scatter(mean_p, share, s=sizes, color="tab:blue", alpha=0.7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(row, fontsize=8)
        ax.set_xlabel("mean P(sadness)", fontsize=8)
    axes[0][0].set_ylabel("share that is sad", fontsize=8)
    fig.suptitle(f"Reliability on the test split ({ws.name} profile; dot size: images)",
                 fontsize=9)
    return fig


def outcome_summary(ws: Workspace) -> str:
    """What the runs of a workspace came to, in two sentences for the Method page.

    Parameters
    ----------
    ws : Workspace

    Returns
    -------
    str
        Table 1's accuracy per model (mean over seeds, with the seeds' range) and the text
        classifier's held-out accuracy, from the records present now.
    """
    label = "demo (synthetic images)" if ws.name == "demo" else ws.name
    parts = []
    for summary in row_summaries(ws, "table1"):
        values = 100 * summary.values("accuracy")
        if not values.size:
            continue
        text = f"{summary.row} {values.mean():.1f}%"
        if values.size > 1:
            text += f" ({values.min():.1f}-{values.max():.1f} over {values.size} seeds)"
        parts.append(text)
    out = (f"In this build's {label} records, Table 1's models reach on their test split: "
           + "; ".join(parts) + "." if parts else f"No Table 1 records of the {label} profile yet.")
    text_run = latest(ws, "text_classifier")
    if text_run is not None:
        out += (f" The text classifier reaches {100 * text_run.metric('accuracy'):.1f}% on its "
                f"held-out images (weights: {text_run.weights.get('source')}; the paper: "
                f"{100 * TEXT_CLASSIFIER_ACCURACY:.2f}%).")
    return out


def paper_uncertainty() -> dict:
    """The sampling uncertainty of the paper's Table 1, computed from its own numbers.

    Returns
    -------
    dict
        ``test_images`` (15% of the filtered sample), ``accuracy`` (the mean of Table 1's
        pretrained rows, percent), ``halfwidth`` (95% normal-approximation half-width in
        points) and ``gap_min`` / ``gap_max`` (the smallest and largest accuracy gap between
        two of those rows, points).
    """
    test_images = round(PAPER.split[2] * sum(after for _, after in FILTER_COUNTS.values()))
    rows = paper_table("table1")
    accuracy = rows[~rows["row"].str.endswith(NO_PRETRAIN_SUFFIX)]["accuracy_pct"].to_numpy()
    p = accuracy.mean() / 100
    gaps = [abs(a - b) for i, a in enumerate(accuracy) for b in accuracy[i + 1:]]
    return {"test_images": test_images, "accuracy": 100 * p,
            "halfwidth": 100 * 1.96 * float(np.sqrt(p * (1 - p) / test_images)),
            "gap_min": float(min(gaps)), "gap_max": float(max(gaps))}
