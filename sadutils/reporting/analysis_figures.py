"""The figures of the Analysis chapter (notebook ``06_analysis``): who is called sad, how the
scores move with the class ratio, where the models look (Grad-CAM) and their surest mistakes.

The numbers come from :mod:`sadutils.analysis`; the chapter that saves these figures for the
book is :class:`sadutils.reporting.analysis.Chapter`.
"""
from __future__ import annotations

import pandas as pd
from PIL import Image

from ..config import SADNESS
from .figures import new_figure

#: How each metric is named on an axis.
METRIC_LABELS = {"accuracy": "accuracy", "f1_sadness": "F1 sadness", "f1_others": "F1 others",
                 "f1_weighted": "overall F1"}

_MARKERS = "osD^vP*Xhp"


def plot_call_rates(rates: pd.DataFrame, by, title: str):
    """The share called sadness per group, one marker per model, with Wilson intervals.

    Parameters
    ----------
    rates : DataFrame
        :func:`sadutils.analysis.rates_by_model`.
    by : str or list of str
        Its grouping columns.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Sadness groups (recall) on top, other groups (false-sadness rate) below a line.
    """
    by = [by] if isinstance(by, str) else list(by)
    keys = [*by, "label"]
    groups = rates[keys].drop_duplicates().reset_index(drop=True)
    models = list(dict.fromkeys(rates["model"]))
    fig, axes = new_figure(1, 1, size=(8.5, 1.2 + 0.3 * len(groups)))
    ax = axes[0, 0]
    step = 0.7 / max(len(models), 1)
    for m, model in enumerate(models):
        mine = rates[rates["model"] == model].merge(groups.reset_index(), on=keys)
        y = mine["index"].to_numpy() + (m - (len(models) - 1) / 2) * step
        err = [mine["rate"] - mine["low"], mine["high"] - mine["rate"]]
        ax.errorbar(mine["rate"], y, xerr=err, fmt=_MARKERS[m % len(_MARKERS)], ms=4,
                    capsize=2, lw=0.8, label=model)
    labels = [" / ".join(str(g[c]) for c in by) + f" ({g['label']})"
              for _, g in groups.iterrows()]
    ax.set_yticks(range(len(groups)), labels, fontsize=8)
    ax.invert_yaxis()
    n_sad = int((groups["label"] == SADNESS).sum())
    if 0 < n_sad < len(groups):
        ax.axhline(n_sad - 0.5, color="0.3", lw=0.8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("share called sadness (sadness groups: recall; others: false-sadness rate)",
                  fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=9)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="outside right upper")
    return fig


def plot_prior_sweep(curves: dict, sweeps: dict, source_prior: float | None, title: str,
                     metrics=("accuracy", "f1_weighted")):
    """Metrics against the test set's share of sadness images.

    Parameters
    ----------
    curves : dict
        Model -> :func:`sadutils.analysis.expected_curve` (drawn as lines).
    sweeps : dict
        Model -> :func:`sadutils.analysis.ratio_sweep` (measured subsets, drawn as markers;
        the set as tested filled).
    source_prior : float, optional
        WEBEmo's test share of sadness, marked with a dotted line.
    title : str
    metrics : sequence of str

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = new_figure(1, len(metrics), size=(4.6 * len(metrics), 3.8))
    for ax, metric in zip(axes[0], metrics):
        for m, model in enumerate(curves):
            color = f"C{m % 10}"
            curve = curves[model]
            ax.plot(curve["sadness_share"], curve[metric], color=color, lw=1, label=model)
            sweep = sweeps.get(model)
            if sweep is not None:
                natural = sweep["sadness_fraction"].isna()
                ax.plot(sweep.loc[~natural, "sadness_share"], sweep.loc[~natural, metric],
                        _MARKERS[m % len(_MARKERS)], color=color, ms=4, mfc="none")
                ax.plot(sweep.loc[natural, "sadness_share"], sweep.loc[natural, metric],
                        _MARKERS[m % len(_MARKERS)], color=color, ms=6)
        first = next(iter(sweeps.values()), None)
        if first is not None:
            share = float(first.loc[first["sadness_fraction"].isna(), "sadness_share"].iloc[0])
            ax.axvline(share, color="0.3", ls="--", lw=0.8)
            ax.text(share, 0.02, " as tested", fontsize=7, color="0.3", rotation=90,
                    va="bottom")
        if source_prior is not None:
            ax.axvline(source_prior, color="0.3", ls=":", lw=0.8)
            ax.text(source_prior, 0.02, " WEBEmo test", fontsize=7, color="0.3", rotation=90,
                    va="bottom")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("share of sadness images in the test set")
        ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title + "\nlines: what the model's recall and specificity imply; markers: "
                 "the set redrawn at that ratio (filled: as tested)", fontsize=9)
    return fig


def _thumbnail(ax, path, size: int) -> None:
    try:
        with Image.open(path) as im:
            ax.imshow(im.convert("RGB").resize((size, size)))
    except OSError:
        ax.text(0.5, 0.5, "unreadable", ha="center", va="center", fontsize=7)


def plot_gradcam_grid(results: dict, picks: pd.DataFrame, alpha: float = 0.45):
    """Each chosen image, then each model's Grad-CAM map over it.

    Parameters
    ----------
    results : dict
        :func:`sadutils.analysis.gradcam_for_records`: model -> (images, GradCam).
    picks : DataFrame
        :func:`sadutils.analysis.shared_picks` (the images, in the same order).
    alpha : float
        Opacity of the heat map over the image.

    Returns
    -------
    matplotlib.figure.Figure
        Each map is titled with the class it explains, the probability the model gave it
        and whether the model was right.
    """
    models = list(results)
    fig, axes = new_figure(len(picks), 1 + len(models),
                           size=(1.55 * (1 + len(models)), 1.75 * len(picks)))
    for r, (_, pick) in enumerate(picks.reset_index(drop=True).iterrows()):
        ax = axes[r, 0]
        ax.axis("off")
        first_images = results[models[0]][0]
        ax.imshow(first_images[r])
        fine = f" ({pick['fine_label']})" if "fine_label" in pick else ""
        ax.set_title(f"true {pick['label']}{fine}\n{pick['cell'].split(', ', 1)[1]}",
                     fontsize=6)
        for c, model in enumerate(models, 1):
            images, cam = results[model]
            ax = axes[r, c]
            ax.axis("off")
            ax.imshow(images[r])
            ax.imshow(cam.heatmaps[r], cmap="jet", alpha=alpha, vmin=0, vmax=1,
                      extent=(-0.5, images.shape[2] - 0.5, images.shape[1] - 0.5, -0.5))
            names = ["sadness", "others"]
            target = int(cam.target[r])
            predicted = names[int(cam.probabilities[r].argmax())]
            mark = "right" if predicted == pick["label"] else "wrong"
            head = f"{model}\n" if r == 0 else ""
            ax.set_title(f"{head}{names[target]} {cam.probabilities[r, target]:.2f}, {mark}",
                         fontsize=6)
    return fig


def plot_failures(mistakes: dict, size: int = 96, title: str = ""):
    """Each model's most confident mistakes, with their true fine labels.

    Parameters
    ----------
    mistakes : dict
        Model -> :func:`sadutils.analysis.confident_mistakes`.
    size : int
        Thumbnail side in pixels.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        One row per model; a model without mistakes gets an empty row saying so.
    """
    models = list(mistakes)
    n = max([len(m) for m in mistakes.values()] + [1])
    fig, axes = new_figure(max(len(models), 1), n, size=(1.45 * n, 1.9 * max(len(models), 1)))
    for r, model in enumerate(models):
        frame = mistakes[model].reset_index(drop=True)
        for c in range(n):
            ax = axes[r, c]
            ax.axis("off")
            if c >= len(frame):
                if c == 0:
                    ax.text(0.5, 0.5, f"{model}: no mistakes", ha="center", va="center",
                            fontsize=7)
                continue
            row = frame.iloc[c]
            _thumbnail(ax, row["path"], size)
            fine = row.get("fine_label", "")
            where = f", {row['object']}" if "object" in row and row["object"] else ""
            head = f"{model}\n" if c == 0 else ""
            ax.set_title(f"{head}true {row['label']} ({fine}{where})\nsaid {row['pred']} "
                         f"{row['confidence']:.2f}", fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
