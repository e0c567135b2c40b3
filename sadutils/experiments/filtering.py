"""Notebook 02: the WEBEmo sample, scored for text and filtered.

The paper draws 8,549 *sadness* and 9,971 *others* images from WEBEmo, asks its text classifier
(notebook 01) about each, and keeps the 14,901 it judges free of text. :func:`filter_webemo`
does the same and saves the *filtered manifest* the backbones train on (notebook 03).

The filter's *method* is the paper's classifier (``cnn``), the OCR detector that ships with the
package (``ocr``, :mod:`sadutils.text_detection`), or ``both`` (an image is removed when either
finds text). Whichever decides, the other is computed beside it when it can be, so that the two
can be compared (:func:`method_agreement`); under the demo profile the decisions are also
compared with the generator's own record of which images carry a text overlay
(:func:`truth_table`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from .. import inference, models, text_detection
from ..config import CLASS_NAMES, TEXT, check_choice
from ..data.manifests import manifest_hash, sample_per_class, save_manifest
from ..data.webemo import load_webemo
from ..demo import WEBEMO_TRUTH_NAME
from ..paper import DISCARD_RATE, FILTER_COUNTS
from ..records import Record, latest
from ..settings import MATCH_PAPER, TEXT_METHODS
from ..text_detection import OcrSettings
from ..workspace import Workspace
from .common import dataset_roots
from .text_classifier import TEXT_BACKBONE, train_text_classifier

#: What each method's decision column is called in a scored manifest.
DECISION_COLUMNS = {"cnn": "cnn_text", "ocr": "ocr_text"}
#: The OCR detector's name in records (``backbone`` of a filter record that used it).
OCR_BACKBONE = "pp-ocrv6-small"


def sample_webemo(ws: Workspace, *, sample: dict | None = None, seed: int | None = None,
                  progress: bool = False):
    """The seeded WEBEmo sample of a workspace (paper: 8,549 sadness + 9,971 others).

    Parameters
    ----------
    ws : Workspace
    sample : dict, optional
        Images per binary class; default the profile's.
    seed : int, optional
        Default the profile's.
    progress : bool

    Returns
    -------
    sample : DataFrame
        The chosen rows (index reset).
    loaded : Loaded
        The whole WEBEmo as loaded (its ``info`` has the URL-level counts, its ``rejected``
        the unreadable downloads).
    """
    roots = dataset_roots(ws, progress=progress)
    loaded = load_webemo(roots["webemo"], progress=progress)
    counts = dict(sample or ws.profile.sample)
    chosen = sample_per_class(loaded.manifest, counts,
                              ws.profile.seed if seed is None else int(seed))
    return chosen.reset_index(drop=True), loaded


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


def filter_counts(scored: pd.DataFrame, kept: pd.Series, paper: bool = True) -> pd.DataFrame:
    """The before/after table in the paper's shape: one row per class and a total.

    Parameters
    ----------
    scored : DataFrame
        The sample, with ``label``.
    kept : Series of bool
    paper : bool
        Add the paper's counts beside ours.

    Returns
    -------
    DataFrame
        ``class``, ``before``, ``after``, ``removed``, ``kept %`` (and ``paper before``,
        ``paper after``, ``paper kept %``).
    """
    rows = []
    for label in CLASS_NAMES:
        mask = scored["label"] == label
        rows.append({"class": label, "before": int(mask.sum()), "after": int((mask & kept).sum())})
    rows.append({"class": "total", "before": sum(r["before"] for r in rows),
                 "after": sum(r["after"] for r in rows)})
    table = pd.DataFrame(rows)
    table["removed"] = table["before"] - table["after"]
    table["kept %"] = (100 * table["after"] / table["before"].where(table["before"] > 0)).round(1)
    if paper:
        before = [FILTER_COUNTS[c][0] for c in CLASS_NAMES]
        after = [FILTER_COUNTS[c][1] for c in CLASS_NAMES]
        table["paper before"] = before + [sum(before)]
        table["paper after"] = after + [sum(after)]
        table["paper kept %"] = (100 * table["paper after"] / table["paper before"]).round(1)
    return table


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
        scored["p_text"] = text_scores(ws, manifest, model_path, batch_size, progress)
        applied = resolve_threshold(scored, requested)
        scored["cnn_text"] = decisions(scored["p_text"], applied)
        ran.append("cnn")
    else:
        skipped["cnn"] = f"no text classifier at {ws.relative(model_path)}"
    settings = ocr_settings or OcrSettings()
    if "ocr" in need or compare:
        found = text_detection.ocr_scores(manifest["path"], settings, progress=progress)
        scored["ocr_score"] = found["score"].to_numpy()
        scored["ocr_read"] = found["text"].to_numpy()
        scored["ocr_text"] = decisions(scored["ocr_score"], ocr_threshold)
        ran.append("ocr")
    info = {"method": method, "ran": ran, "skipped": skipped,
            "threshold": applied, "threshold_requested": requested if applied is not None
            else None, "ocr_threshold": ocr_threshold if "ocr" in ran else None,
            "text_model": str(model_path) if "cnn" in ran else None,
            "ocr": ({**settings.as_params(), **text_detection.model_info()} if "ocr" in ran
                    else None)}
    return scored, info


def _unreadable(scored: pd.DataFrame, ran) -> pd.Series:
    """Rows a method that ran could not read."""
    bad = pd.Series(False, index=scored.index)
    for name in ran:
        bad |= scored[DECISION_COLUMNS[name]].isna()
    return bad


def _weights(method: str, info: dict) -> dict:
    """The ``weights`` of a filter record: what decided, and from which files."""
    parts = []
    if method in ("cnn", "both"):
        parts.append(f"text classifier {Path(info['text_model']).name}")
    if method in ("ocr", "both"):
        parts.append(f"{text_detection.OCR_MODEL_NAME} shipped in "
                     f"{info['ocr']['package']} {info['ocr']['package_version']}")
    return {"source": "file", "pretrained": True, "note": " and ".join(parts)}


def check_filter_output(scored: pd.DataFrame, method: str, threshold: float | None = None,
                        requested=None) -> None:
    """Stop when the filter's output cannot be trained on: no image kept, or a class gone.

    A text classifier that learnt nothing (say one epoch from random weights) can score every
    image above the paper's threshold of 0.5; the filtered manifest would then be empty (or hold
    one class), and the error would surface only later, far from its cause.

    Parameters
    ----------
    scored : DataFrame
        The sample with ``label``, ``kept`` and the scores of the methods that ran.
    method : str
        The method that decided (``cnn``, ``ocr`` or ``both``).
    threshold : float, optional
        The classifier's threshold applied (None when it did not decide).
    requested : float or str, optional
        The threshold asked for (``"match_paper"``), for the message.

    Raises
    ------
    ValueError
        Saying how many images of each class the filter kept, how the scores are spread, and
        what to change.
    """
    kept = scored["kept"].astype(bool)
    before = {c: int((scored["label"] == c).sum()) for c in CLASS_NAMES}
    after = {c: int(((scored["label"] == c) & kept).sum()) for c in CLASS_NAMES}
    lost = [c for c in CLASS_NAMES if before[c] and not after[c]]
    if kept.any() and not lost:
        return
    column = "p_text" if method in ("cnn", "both") and "p_text" in scored else "ocr_score"
    p = scored[column].astype(float) if column in scored else pd.Series(dtype=float)
    spread = (f"{column} from {p.min():.3g} to {p.max():.3g}, median {p.median():.3g}"
              if p.notna().any() else "no image could be scored")
    what = ("removed every image of the sample" if not kept.any()
            else f"removed every {' and every '.join(lost)} image")
    kept_text = ", ".join(f"{after[c]} of {before[c]} {c}" for c in CLASS_NAMES)
    at = "" if threshold is None else f" at threshold {threshold:.3g}"
    asked = (f" (asked: {requested!r})" if requested is not None and threshold is not None
             and requested != threshold else "")
    advice = (f"The text classifier does not tell text from no text here: train it longer or "
              f"from ImageNet weights (notebook 01), filter with threshold={MATCH_PAPER!r}, "
              f"which removes the paper's share ({DISCARD_RATE:.1%}) of the sample by rank, or "
              f"with text_method='ocr'" if method in ("cnn", "both")
              else "Raise ocr_threshold, or filter with text_method='cnn'")
    raise ValueError(f"the text filter ({method}) {what}: kept {kept_text}{at}{asked}; "
                     f"{spread}. Nothing was written. {advice}")


@dataclass
class FilterResult:
    """What :func:`filter_webemo` gives notebook 02.

    Attributes
    ----------
    scored : DataFrame
        The sample with the scores and decisions of :func:`score_text` and ``kept``.
    counts : DataFrame
        :func:`filter_counts`.
    filtered_path : Path
        The manifest notebook 03 trains on.
    record : Record
    record_path : Path
    rejected : DataFrame
    threshold : float or None
        The classifier's threshold applied (resolved from ``"match_paper"``), None when the
        classifier did not run.
    method : str
        ``cnn``, ``ocr`` or ``both``.
    method_reason : str
        Why this method (the profile's default, or asked for).
    ocr_threshold : float or None
    agreement : dict or None
        :func:`method_agreement`.
    truth : DataFrame or None
        :func:`truth_table` (demo profile only).
    """

    scored: pd.DataFrame
    counts: pd.DataFrame
    filtered_path: Path
    record: Record
    record_path: Path
    rejected: pd.DataFrame
    threshold: float | None
    method: str = "cnn"
    method_reason: str = ""
    ocr_threshold: float | None = None
    agreement: dict | None = None
    truth: pd.DataFrame | None = None

    @property
    def discarded(self) -> pd.DataFrame:
        return self.scored[~self.scored["kept"]]

    @property
    def disagreements(self) -> pd.DataFrame:
        """Images on which the classifier and the OCR detector decide differently, with a
        ``decided`` column (``cnn text, ocr no text`` or the reverse)."""
        if self.agreement is None:
            return self.scored.iloc[:0].assign(decided=pd.Series(dtype=str))
        both = self.scored.dropna(subset=["cnn_text", "ocr_text"])
        differ = both[both["cnn_text"].astype(bool) != both["ocr_text"].astype(bool)]
        return differ.assign(decided=np.where(differ["cnn_text"].astype(bool),
                                              "cnn text, ocr no text", "ocr text, cnn no text"))


def filter_webemo(ws: Workspace, *, threshold=None, sample: dict | None = None,
                  seed: int | None = None, batch_size: int = 64, text_model=None,
                  text_method: str | None = None, ocr_threshold: float | None = None,
                  ocr_settings: OcrSettings | None = None, compare: bool = True,
                  notebook: str | None = None, progress: bool = False) -> FilterResult:
    """Sample WEBEmo, score every image for text, keep those the chosen method finds free of it.

    Parameters
    ----------
    ws : Workspace
    threshold : float or str, optional
        The classifier's threshold on P(text); default the profile's (paper 0.5; demo
        ``"match_paper"``, see :func:`resolve_threshold`).
    sample : dict, optional
        Images per binary class; default the profile's.
    seed : int, optional
        Seed of the sample; default the profile's.
    batch_size : int
    text_model : path, optional
        Default the workspace's text classifier.
    text_method : {"cnn", "ocr", "both"}, optional
        Default the profile's (:func:`resolve_text_method`).
    ocr_threshold : float, optional
        Default :data:`sadutils.text_detection.DEFAULT_THRESHOLD`.
    ocr_settings : OcrSettings, optional
    compare : bool
        Run the other method beside the chosen one (see :func:`score_text`).
    notebook : str, optional
    progress : bool

    Returns
    -------
    FilterResult
        ``manifests/webemo_scored.csv`` (every sampled image with its scores, decisions and
        ``kept``) and ``manifests/webemo_filtered.csv`` (the kept rows) are written, a split
        made from an older filtered manifest is removed, and the counts, the method and why,
        the agreement of the two methods and (demo) the decisions against the generator's
        ground truth are recorded.

    Raises
    ------
    ValueError
        When the filter keeps no image, or no image of a class (:func:`check_filter_output`);
        then nothing is written.
    """
    seed = ws.profile.seed if seed is None else int(seed)
    method, reason = resolve_text_method(ws, text_method)
    t0 = time.perf_counter()
    chosen, loaded = sample_webemo(ws, sample=sample, seed=seed, progress=progress)
    scored, info = score_text(ws, chosen, method, compare=compare, threshold=threshold,
                              ocr_threshold=ocr_threshold, text_model=text_model,
                              batch_size=batch_size, ocr_settings=ocr_settings,
                              progress=progress)
    scored["kept"] = ~removal(scored, method)
    unreadable = scored[_unreadable(scored, info["ran"])]
    rejected = pd.concat([loaded.rejected,
                          pd.DataFrame({"path": unreadable["path"],
                                        "reason": "could not be decoded for text scoring"})],
                         ignore_index=True)
    counts = filter_counts(scored, scored["kept"], paper=True)
    check_filter_output(scored, method, info["threshold"], info["threshold_requested"])
    agreement = method_agreement(scored)
    truth = demo_text_truth(ws, scored)
    truth_frame = None if truth is None else truth_table(scored, truth, method)
    if truth is not None:
        scored["has_text_truth"] = truth
    save_manifest(scored, ws.scored_manifest)
    filtered = scored[scored["kept"]].drop(columns=["kept"]).reset_index(drop=True)
    save_manifest(filtered, ws.filtered_manifest)
    ws.split_manifest.unlink(missing_ok=True)
    wall = time.perf_counter() - t0
    total = counts.set_index("class")
    text_record = latest(ws, "text_classifier")
    metrics = {"accuracy": None, "n_before": int(total.loc["total", "before"]),
               "n_after": int(total.loc["total", "after"]),
               "counts": counts.to_dict(orient="records"), "agreement": agreement}
    if truth_frame is not None:
        metrics["truth"] = {row["method"]: {k: v for k, v in row.items() if k != "method"}
                            for row in truth_frame.to_dict(orient="records")}
    rule = {"cnn": "removed when P(text) by the classifier >= threshold",
            "ocr": "removed when the OCR score >= ocr_threshold",
            "both": "removed when either the classifier or the OCR detector finds text"}[method]
    applied = info["threshold"]
    record = Record.filtering(
        ws, backbone={"cnn": TEXT_BACKBONE, "ocr": OCR_BACKBONE,
                      "both": f"{TEXT_BACKBONE}+{OCR_BACKBONE}"}[method],
        metrics=metrics,
        params={"text_method": method, "text_method_reason": reason,
                "text_method_requested": text_method, "rule": rule,
                "methods_run": info["ran"], "methods_skipped": info["skipped"],
                "threshold": applied, "threshold_requested": info["threshold_requested"],
                "ocr_threshold": info["ocr_threshold"], "ocr": info["ocr"],
                "sample": dict(sample or ws.profile.sample), "seed": seed,
                "batch_size": batch_size,
                "text_classifier_run": None if text_record is None else text_record.run_id,
                "text_classifier_weights": (None if text_record is None
                                            else text_record.weights.get("source")),
                "n_rejected": len(rejected)},
        weights=_weights(method, info),
        seed=seed, manifest_hash=manifest_hash(filtered), wall_s=wall,
        artifacts={"model": Path(info["text_model"]) if info["text_model"] else None,
                   "filtered_manifest": ws.filtered_manifest,
                   "scored_manifest": ws.scored_manifest, "notebook": notebook},
        run_parts=("filter", "webemo", method,
                   None if applied is None else f"t{applied:g}"))
    path = record.write(ws)
    return FilterResult(scored, counts, ws.filtered_manifest, record, path, rejected, applied,
                        method, reason, info["ocr_threshold"], agreement, truth_frame)


def threshold_sweep(scored: pd.DataFrame, thresholds=(0.1, 0.3, 0.5, 0.7, 0.9),
                    column: str = "p_text") -> pd.DataFrame:
    """How many images of each class one method would keep at other thresholds.

    Parameters
    ----------
    scored : DataFrame
        With the score ``column`` and ``label``.
    thresholds : sequence of float
        The ``"match_paper"`` threshold is added.
    column : str
        ``p_text`` (the classifier) or ``ocr_score`` (the OCR detector).

    Returns
    -------
    DataFrame
        One row per threshold: images kept per class and the share kept.
    """
    rows = []
    for t in sorted(set(thresholds) | {resolve_threshold(scored, MATCH_PAPER, column)}):
        kept = apply_threshold(scored, t, column)
        counts = filter_counts(scored, kept, paper=False).set_index("class")
        rows.append({"threshold": round(t, 4), **{f"{c} kept": int(counts.loc[c, "after"])
                                                 for c in counts.index},
                     "total kept %": float(counts.loc["total", "kept %"])})
    return pd.DataFrame(rows)


def ensure_filtered_manifest(ws: Workspace, progress: bool = False, verbose: int = 2) -> Path:
    """The filtered WEBEmo manifest, made first if absent.

    Notebook 02 makes it. If it is missing (say notebook 03 is run alone on a fresh clone),
    this trains the text classifier when that is missing too (as notebook 01 would) and filters
    with the profile's method and thresholds (as notebook 02 would), saying so.

    Parameters
    ----------
    ws : Workspace
    progress : bool
    verbose : int

    Returns
    -------
    Path
    """
    if ws.filtered_manifest.is_file():
        return ws.filtered_manifest
    print(f"{ws.relative(ws.filtered_manifest)} is missing: making it as notebooks 01 and 02 "
          "would (run them yourself to see their reports)")
    if not ws.text_model.is_file():
        train_text_classifier(ws, progress=progress, verbose=verbose)
    filter_webemo(ws, progress=progress)
    return ws.filtered_manifest
