"""Notebook 02: the WEBEmo sample, scored for text and filtered.

The paper draws 8,549 *sadness* and 9,971 *others* images from WEBEmo, asks its text classifier
(notebook 01) about each, and keeps the 14,901 it judges free of text. :func:`filter_webemo`
does the same and saves the *filtered manifest* the backbones train on (notebook 03).

The filter's *method* is the paper's classifier (``cnn``), the OCR detector that ships with the
package (``ocr``), or ``both``; how each scores and how they agree is
:mod:`sadutils.experiments.text_methods`. The filter record keeps the method, why it was
chosen, both methods' decisions where both ran, and (demo) their agreement with the
generator's truth.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import text_detection
from ..config import CLASS_NAMES
from ..data.manifests import manifest_hash, sample_per_class, save_manifest
from ..data.webemo import load_webemo
from ..paper import DISCARD_RATE, FILTER_COUNTS
from ..records import Record, latest
from ..settings import MATCH_PAPER
from ..text_detection import OcrSettings
from ..workspace import Workspace
from .common import dataset_roots
from .text_classifier import TEXT_BACKBONE, train_text_classifier
from .text_methods import (DECISION_COLUMNS, OCR_BACKBONE, apply_threshold, demo_text_truth,
                           method_agreement, removal, resolve_text_method, resolve_threshold,
                           score_text, truth_table)

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
