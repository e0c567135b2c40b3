"""The figures of the companion: metric bars against the paper, confusion matrices, training
curves and image grids. Each function returns a matplotlib Figure that notebooks and book pages
display as a PNG.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from ..paper import COMPARED_METRICS, TABLE_TITLES, table_id
from ..records import Record
from ..workspace import Workspace
from .tables import metric_scale, table_rows


class NotebookFigure(Figure):
    """A Figure that Jupyter shows as a PNG even when pyplot was never imported (pyplot's
    global state, and with it the inline backend's display hook, is avoided on purpose)."""

    def _repr_png_(self):
        return figure_png(self, dpi=100)


def figure_png(fig, dpi: int = 110) -> bytes:
    """A figure rendered as PNG bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int

    Returns
    -------
    bytes
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def new_figure(nrows: int = 1, ncols: int = 1, size=(6.4, 4.8)):
    """A :class:`NotebookFigure` with a grid of axes.

    Parameters
    ----------
    nrows, ncols : int
    size : tuple
        Width and height in inches.

    Returns
    -------
    tuple
        ``(figure, axes)`` with ``axes`` a 2-D array.
    """
    fig = NotebookFigure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def plot_metric_bars(ws: Workspace, table):
    """Bars of accuracy and the three F1 scores per model: the paper's value beside the newest
    reproduced value, with its 95% interval as an error bar.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    matplotlib.figure.Figure
        Models without a record are marked "not run"; the paper's bar is missing for a model
        the paper did not train.
    """
    tid = table_id(table)
    rows = table_rows(ws, tid)
    fig, axes = new_figure(1, len(COMPARED_METRICS), size=(3.2 * len(COMPARED_METRICS), 3.8))
    x = np.arange(len(rows))
    width = 0.38
    for ax, (metric, paper_column, label) in zip(axes[0], COMPARED_METRICS):
        scale = metric_scale(metric)[0]
        paper_values = [np.nan if paper is None else float(paper[paper_column])
                        for _, paper, _ in rows]
        ax.bar(x - width / 2, paper_values, width, label="paper", color="0.7", edgecolor="0.3")
        values, err = [], [[], []]  # bar heights; distances down/up to the interval's ends
        for i, (_, _, rec) in enumerate(rows):
            value = None if rec is None else rec.metric(metric)
            interval = None if rec is None else rec.interval(metric)
            if value is None:
                ax.text(x[i] + width / 2, 0, "not run", rotation=90, ha="center", va="bottom",
                        fontsize=7, color="0.4")
            value = np.nan if value is None else float(value) * scale
            values.append(value)
            has_interval = value == value and interval is not None
            err[0].append(max(value - interval[0] * scale, 0.0) if has_interval else 0.0)
            err[1].append(max(interval[1] * scale - value, 0.0) if has_interval else 0.0)
        ax.bar(x + width / 2, values, width, yerr=err, capsize=3,
               label=f"reproduced ({ws.name})", color="tab:blue")
        ax.set_title(label)
        ax.set_xticks(x, [row.replace(" no-pretrain", "\nno-pretrain") for row, _, _ in rows],
                      rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 100 if metric == "accuracy" else 1)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
    fig.suptitle(f"{TABLE_TITLES[tid]} (reproduced: {ws.name} profile)", fontsize=10)
    return fig


def plot_confusion(record: Record, normalize: bool = False):
    """Heat map of a record's confusion matrix (rows: true label, columns: predicted).

    Parameters
    ----------
    record : Record
    normalize : bool
        Show each true class's row as fractions.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When the record has no confusion matrix.
    """
    cm = np.asarray(record.metrics.get("confusion_matrix") or [], dtype=float)
    if cm.ndim != 2 or cm.size == 0:
        raise ValueError(f"record {record.run_id} has no confusion_matrix")
    labels = record.metrics.get("labels") or [str(i) for i in range(cm.shape[0])]
    data, fmt = cm, ".0f"
    if normalize:
        data = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
        fmt = ".2f"
    fig, axes = new_figure(size=(4.2, 3.6))
    sns.heatmap(data, annot=True, fmt=fmt, cmap="Blues", cbar=False, square=True,
                xticklabels=labels, yticklabels=labels, ax=axes[0][0])
    axes[0][0].set_xlabel("predicted")
    axes[0][0].set_ylabel("true")
    axes[0][0].set_title(f"{record.row or record.backbone} ({record.dataset}, {record.profile})",
                         fontsize=9)
    return fig


def plot_history(history_csv):
    """Training curves from a Keras ``CSVLogger`` file (or a DataFrame): one panel per metric,
    training and validation together. Returns a matplotlib Figure."""
    df = history_csv if isinstance(history_csv, pd.DataFrame) else pd.read_csv(history_csv)
    epoch = df["epoch"] + 1 if "epoch" in df else pd.Series(np.arange(1, len(df) + 1))
    names = [c for c in df.columns if c != "epoch" and not c.startswith("val_")
             and c not in ("lr", "learning_rate")]
    if not names:
        raise ValueError("history has no metric columns")
    fig, axes = new_figure(1, len(names), size=(3.6 * len(names), 3.2))
    for ax, name in zip(axes[0], names):
        ax.plot(epoch, df[name], marker="o", label="train")
        if f"val_{name}" in df:
            ax.plot(epoch, df[f"val_{name}"], marker="o", label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    return fig


def plot_examples(frame: pd.DataFrame, by: str = "label", n: int = 6, score: str | None = None,
                  seed: int = 0, size: int = 96):
    """A grid of images from ``frame`` (a manifest): one row per value of ``by``, up to ``n``
    images each (a seeded draw), titled with ``score`` when given. Returns a Figure."""
    groups = [(key, rows) for key, rows in frame.groupby(by, sort=True)] if len(frame) else []
    if not groups:
        fig, axes = new_figure(1, 1, size=(4, 1))
        ax = axes[0, 0]
        ax.axis("off")
        ax.text(0.5, 0.5, "no images", ha="center", va="center")
        return fig
    fig, axes = new_figure(len(groups), n, size=(1.6 * n, 1.8 * len(groups)))
    axes = np.asarray(axes).reshape(len(groups), n)
    for r, (key, rows) in enumerate(groups):
        pick = rows.sample(min(n, len(rows)), random_state=seed) if len(rows) > n else rows
        for c in range(n):
            ax = axes[r, c]
            ax.axis("off")
            if c >= len(pick):
                continue
            row = pick.iloc[c]
            try:
                with Image.open(row["path"]) as im:
                    ax.imshow(im.convert("RGB").resize((size, size)))
            except OSError:
                ax.text(0.5, 0.5, "unreadable", ha="center", va="center", fontsize=7)
            title = str(key) if c == 0 else ""
            if score is not None and score in row:
                title = f"{title} {score}={row[score]:.2f}".strip()
            ax.set_title(title, fontsize=7)
    return fig
