"""Scoring images for text: the paper's classifier, the OCR detector, and how the two agree.

The paper's filter is its text classifier (notebook 01; method ``cnn``): P(text) per image and
a threshold (a number, or the one that removes the paper's share of images). The companion
adds the OCR detector that ships with the package (``ocr``, :mod:`sadutils.text_detection`) and
``both`` (an image is removed when either finds text). :func:`score_text` runs the method that
decides and, when it can, the other one beside it; :func:`method_agreement` compares them, and
under the demo profile :func:`truth_table` compares each with the generator's own record of
which images carry a text overlay. The filtering step itself (notebook 02) is
:mod:`sadutils.experiments.filtering`; the cross-dataset tests (notebook 04) score with the
same functions.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from .. import inference, models, text_detection
from ..config import TEXT, check_choice
from ..demo import WEBEMO_TRUTH_NAME
from ..paper import DISCARD_RATE
from ..progress import phase
from ..records import latest
from ..settings import MATCH_PAPER, TEXT_METHODS
from ..text_detection import OcrSettings
from ..workspace import Workspace

#: What each method's decision column is called in a scored manifest.
DECISION_COLUMNS = {"cnn": "cnn_text", "ocr": "ocr_text"}
#: The OCR detector's name in records (``backbone`` of a filter record that used it).
OCR_BACKBONE = "pp-ocrv6-small"


def text_scores(ws: Workspace, manifest: pd.DataFrame, model_path=None, batch_size: int = 64,
                progress: bool = False) -> np.ndarray:
    """P(text) of every image of ``manifest`` by the text classifier (batched, compiled).

    Parameters
    ----------
    ws : Workspace
    manifest : DataFrame
    model_path : path, optional
        Default the workspace's text classifier (notebook 01).
    batch_size : int
    progress : bool

    Returns
    -------
    ndarray
        One score per row; NaN for an image that cannot be decoded (the caller decides).

    Raises
    ------
    FileNotFoundError
        When there is no text classifier, saying which notebook makes it.
    """
    model_path = Path(model_path) if model_path is not None else ws.text_model
    if not model_path.is_file():
        raise FileNotFoundError(
            f"text classifier {model_path} not found: run notebooks/01_text_classifier "
            f"(or `sadutils reproduce --only 01_text_classifier --profile {ws.name}`) first")
    model = models.load_model(model_path)
    size = int(model.input_shape[1])
    images, failed = inference.cached_images(manifest["path"].tolist(), size, ws.cache,
                                             progress=progress)
    proba = inference.predict_proba(model, images, batch_size=batch_size)
    scores = proba[:, list(model.class_names).index(TEXT)].astype(float)
    bad = {p for p, _ in failed}
    scores[manifest["path"].astype(str).isin(bad).to_numpy()] = np.nan
    return scores


def resolve_text_method(ws: Workspace, text_method: str | None = None) -> tuple[str, str]:
    """Which method filters text, and why.

    Parameters
    ----------
    ws : Workspace
    text_method : {"cnn", "ocr", "both"} or None
        None: the profile's default. ``paper``: ``cnn``, the paper's method. ``demo``
        (``auto``): ``ocr`` when the newest text classifier record says it was trained from
        random weights (it does not learn to see text in the demo's budget), ``cnn`` when it
        started from ImageNet weights (or a weights file); ``ocr`` when there is no record.

    Returns
    -------
    method : str
    reason : str
        One sentence for the record, the table and the book.

    Raises
    ------
    ValueError
        For an unknown method, naming the valid ones.
    """
    if text_method is not None:
        check_choice("text method", text_method, TEXT_METHODS)
        return text_method, f"{text_method} was asked for (text_method={text_method!r})"
    default = ws.profile.text_method
    if default != "auto":
        return default, (f"{default}, the {ws.name} profile's default"
                         + (" (the paper's method)" if default == "cnn" else ""))
    record = latest(ws, "text_classifier")
    if record is None:
        return "ocr", ("ocr: there is no text classifier record yet (notebook 01 has not run), "
                       "and the OCR detector needs none")
    source = record.weights.get("source")
    if source == "scratch":
        return "ocr", (f"ocr: the text classifier ({record.run_id}) was trained from random "
                       "weights, without ImageNet weights, and does not learn to see text in "
                       "the demo's budget; the shipped OCR detector does")
    return "cnn", (f"cnn: the text classifier ({record.run_id}) started from {source} weights, "
                   "as the paper's did")


def resolve_threshold(scored: pd.DataFrame, threshold, column: str = "p_text") -> float:
    """The threshold on a score column to apply.

    Parameters
    ----------
    scored : DataFrame
        With the ``column``.
    threshold : float or str
        A number within 0..1, or ``"match_paper"``: the threshold that removes the paper's
        share of the sample (19.5%). A text classifier trained from scratch for a few epochs
        (the demo, without ImageNet weights) gives uncalibrated probabilities, and a fixed 0.5
        may then keep everything or nothing; matching the paper's discard rate keeps the rest
        of the pipeline meaningful. The record stores the threshold used.
    column : str
        The score: ``p_text`` (the classifier's) or ``ocr_score``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For anything else, or when no image could be scored.
    """
    if threshold == MATCH_PAPER:
        p = scored[column].dropna().astype(float)
        if p.empty:
            raise ValueError("no image could be scored for text: nothing to filter")
        return float(np.quantile(p, 1 - DISCARD_RATE))
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number within 0..1 or {MATCH_PAPER!r}, "
                         f"got {threshold!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"threshold must be within 0..1 or {MATCH_PAPER!r}, got {threshold}")
    return value


def apply_threshold(scored: pd.DataFrame, threshold=0.5, column: str = "p_text") -> pd.Series:
    """Which rows survive the filter: readable and their score below the threshold.

    Parameters
    ----------
    scored : DataFrame
    threshold : float or str
        See :func:`resolve_threshold`.
    column : str
        ``p_text`` or ``ocr_score``.

    Returns
    -------
    Series of bool
    """
    threshold = resolve_threshold(scored, threshold, column)
    p = scored[column].astype(float)
    return p.notna() & (p < threshold)


def decisions(scores, threshold: float) -> pd.Series:
    """``True`` (text), ``False`` (no text) or missing (unreadable) per score.

    Parameters
    ----------
    scores : Series of float
    threshold : float

    Returns
    -------
    Series of nullable bool
    """
    scores = pd.Series(scores, dtype=float)
    out = (scores >= threshold).astype("boolean")
    out[scores.isna()] = pd.NA
    return out


def removal(scored: pd.DataFrame, method: str) -> pd.Series:
    """Whether the chosen method removes each row: ``cnn`` or ``ocr`` by its own decision,
    ``both`` when either finds text. An image the method(s) could not read is removed too
    (it cannot be shown to be free of text; the rejected list names it).

    Parameters
    ----------
    scored : DataFrame
        With the decision columns of :data:`DECISION_COLUMNS` the method needs.
    method : {"cnn", "ocr", "both"}

    Returns
    -------
    Series of bool
    """
    check_choice("text method", method, TEXT_METHODS)
    used = ["cnn", "ocr"] if method == "both" else [method]
    removed = pd.Series(False, index=scored.index)
    for name in used:
        decided = scored[DECISION_COLUMNS[name]].astype("boolean")
        removed |= decided.fillna(True).astype(bool)
    return removed


def method_agreement(scored: pd.DataFrame) -> dict | None:
    """How the classifier's and the OCR detector's decisions agree on the same images.

    Parameters
    ----------
    scored : DataFrame
        With ``cnn_text`` and ``ocr_text`` (rows either could not read are left out).

    Returns
    -------
    dict or None
        ``n``, ``table`` (the 2x2 counts: ``{"cnn text": {"ocr text": n, "ocr no text": n},
        "cnn no text": {...}}``), ``agreement`` (share of equal decisions), ``kappa``
        (Cohen's kappa; None when it is undefined, e.g. one method says the same of every
        image), ``cnn_text_share`` and ``ocr_text_share``, ``ocr_text_among_cnn_text`` (of the
        images the classifier removes, the share the detector also finds text in) and
        ``cnn_text_among_ocr_text`` (the reverse). None when a column is missing or no image
        has both decisions.
    """
    if not {"cnn_text", "ocr_text"} <= set(scored.columns):
        return None
    both = scored[["cnn_text", "ocr_text"]].dropna()
    if both.empty:
        return None
    cnn, ocr = both["cnn_text"].astype(bool), both["ocr_text"].astype(bool)
    table = {f"cnn {a}": {f"ocr {b}": int(((cnn == x) & (ocr == y)).sum())
                          for b, y in (("text", True), ("no text", False))}
             for a, x in (("text", True), ("no text", False))}
    kappa = None
    if cnn.nunique() > 1 or ocr.nunique() > 1:
        value = cohen_kappa_score(cnn, ocr)
        kappa = None if not np.isfinite(value) else float(value)
    return {"n": int(len(both)), "table": table, "agreement": float((cnn == ocr).mean()),
            "kappa": kappa, "cnn_text_share": float(cnn.mean()),
            "ocr_text_share": float(ocr.mean()),
            "ocr_text_among_cnn_text": float(ocr[cnn].mean()) if cnn.any() else None,
            "cnn_text_among_ocr_text": float(cnn[ocr].mean()) if ocr.any() else None}


def agreement_frame(agreement: dict | None) -> pd.DataFrame:
    """The 2x2 table of :func:`method_agreement` as a DataFrame with totals.

    Parameters
    ----------
    agreement : dict or None

    Returns
    -------
    DataFrame
        Rows ``cnn text``, ``cnn no text``, ``total``; columns ``ocr text``, ``ocr no text``,
        ``total``. Empty when ``agreement`` is None.
    """
    if not agreement:
        return pd.DataFrame()
    table = pd.DataFrame(agreement["table"]).T[["ocr text", "ocr no text"]]
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum(axis=0)
    return table.astype(int)


def demo_text_truth(ws: Workspace, sample: pd.DataFrame) -> pd.Series | None:
    """Which sampled images carry a text overlay, by the demo generator's own record.

    Parameters
    ----------
    ws : Workspace
    sample : DataFrame
        WEBEmo rows with a ``url`` column (the demo's ``file://`` URLs name the generated file).

    Returns
    -------
    Series of nullable bool or None
        Aligned with ``sample``; None when the workspace has no generator record (the paper
        profile, whose real images have no such ground truth).
    """
    path = ws.data / WEBEMO_TRUTH_NAME
    if not path.is_file() or "url" not in sample.columns:
        return None
    truth = pd.read_csv(path, usecols=["file_name", "has_text"])
    has_text = dict(zip(truth["file_name"].astype(str), truth["has_text"].astype(int) == 1))
    names = sample["url"].astype(str).str.rsplit("/", n=1).str[-1]
    return pd.Series([has_text.get(name, pd.NA) for name in names], index=sample.index,
                     dtype="boolean")


def truth_table(scored: pd.DataFrame, truth: pd.Series, method: str) -> pd.DataFrame:
    """Each method's decisions against the ground truth of which images carry text.

    Parameters
    ----------
    scored : DataFrame
        With the decision columns (``cnn_text``, ``ocr_text``) that were computed.
    truth : Series of nullable bool
        :func:`demo_text_truth`.
    method : str
        The method the filter applied; its row (``filter (<method>)``) is the images it
        removed, unreadable ones included.

    Returns
    -------
    DataFrame
        One row per method: ``method``, ``n``, ``with text`` (true count), ``removed``,
        ``true positives``, ``false positives``, ``false negatives``, ``precision`` (share of
        the removed images that carry text), ``recall`` (share of the images with text that
        are removed), ``balanced accuracy``.
    """
    rows = []
    columns = {f"{name} decision": scored[col] for name, col in DECISION_COLUMNS.items()
               if col in scored.columns and scored[col].notna().any()}
    columns[f"filter ({method})"] = removal(scored, method)
    for name, decided in columns.items():
        known = truth.notna() & decided.notna()
        t = truth[known].astype(bool).to_numpy()
        d = decided[known].astype(bool).to_numpy()
        tp, fp, fn = int((t & d).sum()), int((~t & d).sum()), int((t & ~d).sum())
        tn = int((~t & ~d).sum())
        recall = tp / (tp + fn) if tp + fn else None
        specificity = tn / (tn + fp) if tn + fp else None
        rows.append({"method": name, "n": int(known.sum()), "with text": int(t.sum()),
                     "removed": int(d.sum()), "true positives": tp, "false positives": fp,
                     "false negatives": fn,
                     "precision": tp / (tp + fp) if tp + fp else None, "recall": recall,
                     "balanced accuracy": (None if recall is None or specificity is None
                                           else (recall + specificity) / 2)})
    return pd.DataFrame(rows)


def score_text(ws: Workspace, manifest: pd.DataFrame, method: str, *, compare: bool = True,
               threshold=None, ocr_threshold: float | None = None, text_model=None,
               batch_size: int = 64, ocr_settings: OcrSettings | None = None,
               progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """Score every image of ``manifest`` for text with the method and, beside it, the other one.

    Parameters
    ----------
    ws : Workspace
    manifest : DataFrame
    method : {"cnn", "ocr", "both"}
        The method(s) that must run: a missing text classifier is an error for ``cnn`` and
        ``both``.
    compare : bool
        Also run the other method when it can run (the classifier only when its model file
        exists), so that the two can be compared.
    threshold : float or str, optional
        The classifier's threshold on P(text) (see :func:`resolve_threshold`); default the
        profile's.
    ocr_threshold : float, optional
        The OCR detector's threshold; default :data:`sadutils.text_detection.DEFAULT_THRESHOLD`.
    text_model : path, optional
        Default the workspace's text classifier.
    batch_size : int
    ocr_settings : OcrSettings, optional
    progress : bool

    Returns
    -------
    scored : DataFrame
        ``manifest`` with ``p_text`` and ``cnn_text`` (when the classifier ran), ``ocr_score``,
        ``ocr_read`` (the line that gave the score) and ``ocr_text`` (when the detector ran).
        Decisions are nullable booleans, missing for an unreadable image.
    info : dict
        ``method``, ``ran`` (the methods that ran), ``threshold``, ``threshold_requested``,
        ``ocr_threshold``, ``text_model``, ``ocr`` (settings and model) and ``skipped``
        (why a method did not run beside the other).

    Raises
    ------
    FileNotFoundError
        When the classifier must run and its model is missing (saying which notebook makes it).
    """
    check_choice("text method", method, TEXT_METHODS)
    scored = manifest.copy()
    model_path = Path(text_model) if text_model is not None else ws.text_model
    requested = ws.profile.filter_threshold if threshold is None else threshold
    ocr_threshold = (text_detection.DEFAULT_THRESHOLD if ocr_threshold is None
                     else float(ocr_threshold))
    if not 0.0 <= ocr_threshold <= 1.0:
        raise ValueError(f"ocr_threshold must be within 0..1, got {ocr_threshold}")
    need = {"cnn", "ocr"} if method == "both" else {method}
    ran, skipped, applied = [], {}, None
    if "cnn" in need or (compare and model_path.is_file()):
        with phase("text classifier scoring", images=len(manifest)):
            scored["p_text"] = text_scores(ws, manifest, model_path, batch_size, progress)
        applied = resolve_threshold(scored, requested)
        scored["cnn_text"] = decisions(scored["p_text"], applied)
        ran.append("cnn")
    else:
        skipped["cnn"] = f"no text classifier at {ws.relative(model_path)}"
    settings = ocr_settings or OcrSettings()
    if "ocr" in need or compare:
        with phase("OCR scoring", images=len(manifest)):
            found = text_detection.ocr_scores(manifest["path"], settings, progress=progress)
        scored["ocr_score"] = found["score"].to_numpy()
        scored["ocr_read"] = found["text"].to_numpy()
        scored["ocr_text"] = decisions(scored["ocr_score"], ocr_threshold)
        ran.append("ocr")
    info = {"method": method, "ran": ran, "skipped": skipped,
            "threshold": applied, "threshold_requested": requested if applied is not None
            else None, "ocr_threshold": ocr_threshold if "ocr" in ran else None,
            "text_model": str(model_path) if "cnn" in ran else None,
            "ocr": ({**settings.as_params(), "runs_on": "cuda" if settings.uses_cuda() else "cpu",
                     **text_detection.model_info()} if "ocr" in ran else None)}
    return scored, info
