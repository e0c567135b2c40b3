"""What notebooks 01 and 02 show of the text filter: the two methods side by side.

The paper's classifier (``cnn``) and the shipped OCR detector (``ocr``) are evaluated on the
same held-out images (notebook 01) and applied to the same WEBEmo sample (notebook 02); these
helpers turn their records and results into tables and figures.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from ..paper import TEXT_CLASSIFIER_ACCURACY
from ..records import Record
from .figures import new_figure


def _interval(ci, scale: float = 1.0, digits: int = 3) -> str:
    if not ci:
        return ""
    return f"[{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]"


def text_methods_table(record: Record) -> pd.DataFrame:
    """Both text methods on the same held-out split, beside the paper's 99.31%.

    Parameters
    ----------
    record : Record
        A ``text_classifier`` record (notebook 01); the OCR detector's metrics are its
        ``metrics["ocr_detector"]`` when it was evaluated.

    Returns
    -------
    DataFrame
        One row per method: ``method``, ``weights``, ``accuracy %``, ``95% CI``, ``F1 text``,
        ``F1 no text``, ``images``; the paper's classifier first (accuracy only).
    """
    m = record.metrics
    rows = [{"method": "paper: EfficientNetV2B0 classifier", "weights": "ImageNet",
             "accuracy %": round(100 * TEXT_CLASSIFIER_ACCURACY, 2), "95% CI": "",
             "F1 text": None, "F1 no text": None, "images": None},
            {"method": f"classifier (this run, {record.profile})",
             "weights": record.weights.get("source", ""),
             "accuracy %": round(100 * m["accuracy"], 2),
             "95% CI": _interval(record.interval("accuracy"), 100, 2),
             "F1 text": round(m["f1_text"], 3), "F1 no text": round(m["f1_no_text"], 3),
             "images": m.get("n")}]
    ocr = m.get("ocr_detector")
    if ocr:
        om = ocr["metrics"]
        rows.append({"method": f"OCR detector ({ocr['model']['model']}, no training)",
                     "weights": f"shipped in {ocr['model']['package']} "
                                f"{ocr['model']['package_version']}",
                     "accuracy %": round(100 * om["accuracy"], 2),
                     "95% CI": _interval(ocr["ci95"].get("accuracy"), 100, 2),
                     "F1 text": round(om["f1_text"], 3), "F1 no text": round(om["f1_no_text"], 3),
                     "images": om.get("n")})
    return pd.DataFrame(rows)


def plot_confusion_matrices(record: Record):
    """The confusion matrices of both methods on the held-out split, side by side.

    Parameters
    ----------
    record : Record
        A ``text_classifier`` record.

    Returns
    -------
    matplotlib.figure.Figure
        Rows are the true labels, columns the predicted ones; one panel per method evaluated.

    Raises
    ------
    ValueError
        When the record has no confusion matrix.
    """
    panels = [("classifier", record.metrics)]
    if record.metrics.get("ocr_detector"):
        panels.append(("OCR detector", record.metrics["ocr_detector"]["metrics"]))
    fig, axes = new_figure(1, len(panels), size=(4.0 * len(panels), 3.6))
    for ax, (title, metrics) in zip(axes[0], panels):
        cm = np.asarray(metrics.get("confusion_matrix") or [], dtype=float)
        if cm.ndim != 2 or cm.size == 0:
            raise ValueError(f"record {record.run_id} has no confusion matrix for the {title}")
        labels = metrics.get("labels") or [str(i) for i in range(cm.shape[0])]
        sns.heatmap(cm, annot=True, fmt=".0f", cmap="Blues", cbar=False, square=True,
                    xticklabels=labels, yticklabels=labels, ax=ax)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title} ({record.profile})", fontsize=9)
    return fig


def method_note(result) -> str:
    """One paragraph (Markdown) saying which method filtered and why, with the thresholds.

    Parameters
    ----------
    result : FilterResult
        :func:`sadutils.experiments.filtering.filter_webemo`'s result.

    Returns
    -------
    str
    """
    parts = [f"**Text filter method: `{result.method}`**: {result.method_reason}."]
    if result.threshold is not None:
        parts.append(f"Classifier threshold on P(text): {result.threshold:.4g} "
                     f"(asked for: {result.record.params.get('threshold_requested')}).")
    if result.ocr_threshold is not None:
        parts.append(f"OCR threshold: {result.ocr_threshold:g}.")
    rule = result.record.params.get("rule")
    if rule:
        parts.append(f"Rule: {rule}.")
    skipped = result.record.params.get("methods_skipped") or {}
    for name, why in skipped.items():
        parts.append(f"`{name}` not computed beside it: {why}.")
    return " ".join(parts)


def agreement_summary(agreement: dict | None) -> pd.DataFrame:
    """The agreement figures of :func:`sadutils.experiments.text_methods.method_agreement`.

    Parameters
    ----------
    agreement : dict or None

    Returns
    -------
    DataFrame
        ``figure``, ``value``: images compared, the share each method finds text in, the
        agreement, Cohen's kappa, and how many of the images one method removes the other
        finds text in. Empty when ``agreement`` is None.
    """
    if not agreement:
        return pd.DataFrame(columns=["figure", "value"])

    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}%"

    kappa = agreement["kappa"]
    rows = [("images with both decisions", str(agreement["n"])),
            ("classifier finds text in", pct(agreement["cnn_text_share"])),
            ("OCR detector finds text in", pct(agreement["ocr_text_share"])),
            ("the two decide the same on", pct(agreement["agreement"])),
            ("Cohen's kappa", "n/a" if kappa is None else f"{kappa:.3f}"),
            ("of the images the classifier removes, the OCR detector finds text in",
             pct(agreement["ocr_text_among_cnn_text"])),
            ("of the images the OCR detector finds text in, the classifier removes",
             pct(agreement["cnn_text_among_ocr_text"]))]
    return pd.DataFrame(rows, columns=["figure", "value"])
