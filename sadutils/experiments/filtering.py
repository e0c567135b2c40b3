"""Notebook 02: the WEBEmo sample, scored for text and filtered.

The paper draws 8,549 *sadness* and 9,971 *others* images from WEBEmo, asks its text classifier
(notebook 01) about each, and keeps the 14,901 it judges free of text. :func:`filter_webemo`
does the same and saves the *filtered manifest* the backbones train on (notebook 03).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import inference, models
from ..config import CLASS_NAMES, TEXT
from ..data.manifests import manifest_hash, sample_per_class, save_manifest
from ..data.webemo import load_webemo
from ..paper import DISCARD_RATE, FILTER_COUNTS
from ..records import Record, latest
from ..settings import MATCH_PAPER
from ..workspace import Workspace
from .common import dataset_roots
from .text_classifier import TEXT_BACKBONE, train_text_classifier


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


def resolve_threshold(scored: pd.DataFrame, threshold) -> float:
    """The threshold on P(text) to apply.

    Parameters
    ----------
    scored : DataFrame
        With a ``p_text`` column.
    threshold : float or str
        A number within 0..1, or ``"match_paper"``: the threshold that removes the paper's
        share of the sample (19.5%). A text classifier trained from scratch for a few epochs
        (the demo, without ImageNet weights) gives uncalibrated probabilities, and a fixed 0.5
        may then keep everything or nothing; matching the paper's discard rate keeps the rest
        of the pipeline meaningful. The record stores the threshold used.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For anything else, or when no image could be scored.
    """
    if threshold == MATCH_PAPER:
        p = scored["p_text"].dropna().astype(float)
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


def apply_threshold(scored: pd.DataFrame, threshold=0.5) -> pd.Series:
    """Which rows survive the filter: readable and ``p_text`` below the threshold.

    Parameters
    ----------
    scored : DataFrame
    threshold : float or str
        See :func:`resolve_threshold`.

    Returns
    -------
    Series of bool
    """
    threshold = resolve_threshold(scored, threshold)
    p = scored["p_text"].astype(float)
    return p.notna() & (p < threshold)


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


def check_filter_output(scored: pd.DataFrame, threshold: float, requested=None) -> None:
    """Stop when the filter's output cannot be trained on: no image kept, or a class gone.

    A text classifier that learnt nothing (say one epoch from random weights) can score every
    image above the paper's threshold of 0.5; the filtered manifest would then be empty (or hold
    one class), and the error would surface only later, far from its cause.

    Parameters
    ----------
    scored : DataFrame
        The sample with ``label``, ``p_text`` and ``kept``.
    threshold : float
        The threshold applied.
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
    p = scored["p_text"].astype(float)
    spread = (f"P(text) from {p.min():.3g} to {p.max():.3g}, median {p.median():.3g}"
              if p.notna().any() else "no image could be scored")
    what = ("removed every image of the sample" if not kept.any()
            else f"removed every {' and every '.join(lost)} image")
    asked = f" (asked: {requested!r})" if requested is not None and requested != threshold else ""
    raise ValueError(
        f"the text filter {what}: kept {', '.join(f'{after[c]} of {before[c]} {c}' for c in CLASS_NAMES)} "
        f"at threshold {threshold:.3g}{asked}; {spread}. Nothing was written. The text "
        f"classifier does not tell text from no text here: train it longer or from ImageNet "
        f"weights (notebook 01), or filter with threshold={MATCH_PAPER!r}, which removes the "
        f"paper's share ({DISCARD_RATE:.1%}) of the sample by rank")


@dataclass
class FilterResult:
    """What :func:`filter_webemo` gives notebook 02.

    Attributes
    ----------
    scored : DataFrame
        The sample with ``p_text`` and ``kept``.
    counts : DataFrame
        :func:`filter_counts`.
    filtered_path : Path
        The manifest notebook 03 trains on.
    record : Record
    record_path : Path
    rejected : DataFrame
    threshold : float
        The threshold applied (resolved from ``"match_paper"``).
    """

    scored: pd.DataFrame
    counts: pd.DataFrame
    filtered_path: Path
    record: Record
    record_path: Path
    rejected: pd.DataFrame
    threshold: float

    @property
    def discarded(self) -> pd.DataFrame:
        return self.scored[~self.scored["kept"]]


def filter_webemo(ws: Workspace, *, threshold=None, sample: dict | None = None,
                  seed: int | None = None, batch_size: int = 64, text_model=None,
                  notebook: str | None = None, progress: bool = False) -> FilterResult:
    """Sample WEBEmo, score every image for text, keep those below ``threshold``.

    Parameters
    ----------
    ws : Workspace
    threshold : float or str, optional
        Default the profile's (paper 0.5; demo ``"match_paper"``, see
        :func:`resolve_threshold`).
    sample : dict, optional
        Images per binary class; default the profile's.
    seed : int, optional
        Seed of the sample; default the profile's.
    batch_size : int
    text_model : path, optional
        Default the workspace's text classifier.
    notebook : str, optional
    progress : bool

    Returns
    -------
    FilterResult
        ``manifests/webemo_scored.csv`` (every sampled image with ``p_text`` and ``kept``) and
        ``manifests/webemo_filtered.csv`` (the kept rows) are written, a split made from an
        older filtered manifest is removed, and the counts are recorded.

    Raises
    ------
    ValueError
        When the filter keeps no image, or no image of a class (:func:`check_filter_output`);
        then nothing is written.
    """
    requested = ws.profile.filter_threshold if threshold is None else threshold
    seed = ws.profile.seed if seed is None else int(seed)
    t0 = time.perf_counter()
    chosen, loaded = sample_webemo(ws, sample=sample, seed=seed, progress=progress)
    scored = chosen.copy()
    scored["p_text"] = text_scores(ws, chosen, text_model, batch_size, progress)
    applied = resolve_threshold(scored, requested)
    scored["kept"] = apply_threshold(scored, applied)
    unreadable = scored[scored["p_text"].isna()]
    rejected = pd.concat([loaded.rejected,
                          pd.DataFrame({"path": unreadable["path"],
                                        "reason": "could not be decoded for text scoring"})],
                         ignore_index=True)
    counts = filter_counts(scored, scored["kept"], paper=True)
    check_filter_output(scored, applied, requested)  # before anything is written
    save_manifest(scored, ws.scored_manifest)
    filtered = scored[scored["kept"]].drop(columns=["kept"]).reset_index(drop=True)
    save_manifest(filtered, ws.filtered_manifest)
    ws.split_manifest.unlink(missing_ok=True)
    wall = time.perf_counter() - t0
    total = counts.set_index("class")
    text_record = latest(ws, "text_classifier")
    model = Path(text_model) if text_model is not None else ws.text_model
    record = Record.filtering(
        ws, backbone=TEXT_BACKBONE,
        metrics={"accuracy": None, "n_before": int(total.loc["total", "before"]),
                 "n_after": int(total.loc["total", "after"]),
                 "counts": counts.to_dict(orient="records")},
        params={"threshold": float(applied), "threshold_requested": requested,
                "sample": dict(sample or ws.profile.sample), "seed": seed,
                "batch_size": batch_size,
                "text_classifier_run": None if text_record is None else text_record.run_id,
                "n_rejected": len(rejected)},
        weights={"source": "file", "pretrained": True, "note": f"text classifier {model.name}"},
        seed=seed, manifest_hash=manifest_hash(filtered), wall_s=wall,
        artifacts={"model": model, "filtered_manifest": ws.filtered_manifest,
                   "scored_manifest": ws.scored_manifest, "notebook": notebook},
        run_parts=("filter", "webemo", f"t{applied:g}"))
    path = record.write(ws)
    return FilterResult(scored, counts, ws.filtered_manifest, record, path, rejected, applied)


def threshold_sweep(scored: pd.DataFrame, thresholds=(0.1, 0.3, 0.5, 0.7, 0.9)) -> pd.DataFrame:
    """How many images of each class the filter would keep at other thresholds.

    Parameters
    ----------
    scored : DataFrame
        With ``p_text`` and ``label``.
    thresholds : sequence of float
        The ``"match_paper"`` threshold is added.

    Returns
    -------
    DataFrame
        One row per threshold: images kept per class and the share kept.
    """
    rows = []
    for t in sorted(set(thresholds) | {resolve_threshold(scored, MATCH_PAPER)}):
        kept = apply_threshold(scored, t)
        counts = filter_counts(scored, kept, paper=False).set_index("class")
        rows.append({"threshold": round(t, 4), **{f"{c} kept": int(counts.loc[c, "after"])
                                                 for c in counts.index},
                     "total kept %": float(counts.loc["total", "kept %"])})
    return pd.DataFrame(rows)


def ensure_filtered_manifest(ws: Workspace, progress: bool = False, verbose: int = 2) -> Path:
    """The filtered WEBEmo manifest, made first if absent.

    Notebook 02 makes it. If it is missing (say notebook 03 is run alone on a fresh clone),
    this trains the text classifier when that is missing too (as notebook 01 would) and filters
    with the profile's threshold (as notebook 02 would), saying so.

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
