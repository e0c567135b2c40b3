"""Results across runs: the seeds of a model, the paper beside them, and which differences are
real.

A row of Tables 1-3 is one model trained once per seed (:func:`sadutils.settings.seed_list`),
each run with its own record. :func:`row_summaries` gathers, for each row, the newest records of
one recipe (one per seed) and summarises each metric by its mean over the seeds, their standard
deviation (how much the number moves with the seed) and the bootstrap interval of the mean (how
much it would move with another test set of that size), and says whether the paper's value lies
inside that interval. :func:`pairwise_mcnemar` tests every pair of Table 1 models on the same test
images. Both read the predictions each run saved beside its record.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from .config import CLASS_NAMES, PAPER
from .metrics import bootstrap_ci_of_mean, holm, mcnemar_exact
from .paper import COMPARED_METRICS, FILTER_COUNTS, NO_PRETRAIN_SUFFIX, paper_table, table_id
from .records import Record, read_records
from .workspace import Workspace

#: Significance level of the tests.
ALPHA = 0.05
#: Half a unit of the last decimal the paper prints.
PAPER_ROUNDING = 0.005


#: Parameters that make two runs "the same model but another seed" when equal.
RECIPE_KEYS = ("image_size", "epochs", "batch_size", "learning_rate", "optimizer",
               "refresh_batchnorm", "pretrained", "train_recipe", "dataset", "sadness_fraction",
               "text_filter", "text_threshold", "text_method", "loader_options",
               "train_filter")


def training_seed(record: Record) -> int | None:
    """The training seed of a record's model (a cross-dataset record names its model's).

    Parameters
    ----------
    record : Record

    Returns
    -------
    int or None
    """
    seed = record.params.get("train_seed", record.params.get("seed"))
    return None if seed is None else int(seed)


def recipe_key(record: Record) -> tuple:
    """What two records of one row must share to count as seeds of one model.

    Parameters
    ----------
    record : Record

    Returns
    -------
    tuple
    """
    return tuple((k, repr(record.params.get(k))) for k in RECIPE_KEYS) + (
        ("weights", record.weights.get("source")),)


def seed_group(records) -> list[Record]:
    """The newest record of each seed among those sharing the newest record's recipe.

    Parameters
    ----------
    records : list of Record
        One row's records, oldest first.

    Returns
    -------
    list of Record
        Ordered by seed.
    """
    if not records:
        return []
    key = recipe_key(records[-1])
    by_seed = {}
    for rec in records:
        if recipe_key(rec) == key:
            by_seed[training_seed(rec)] = rec  # oldest first: the newest per seed wins
    return [by_seed[s] for s in sorted(by_seed, key=lambda s: (s is None, s))]


def seeds_by_row(ws: Workspace, table) -> dict[str, list[Record]]:
    """For each row of one table, its newest records of one recipe, one per seed.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    dict
        ``row -> [Record, ...]`` (ordered by seed).
    """
    rows: dict[str, list] = {}
    for rec in read_records(ws, table=table):
        if rec.row is not None:
            rows.setdefault(rec.row, []).append(rec)
    return {row: seed_group(found) for row, found in rows.items()}


def _predictions(record: Record, ws: Workspace) -> pd.DataFrame | None:
    path = record.artifact("predictions", ws)
    if path is None or not path.is_file():
        return None
    frame = pd.read_csv(path, usecols=lambda c: c in ("path", "label", "pred"))
    return frame if {"path", "label", "pred"} <= set(frame.columns) else None


@dataclass
class RowSummary:
    """One row of a table: its runs (one per seed) and the paper's values.

    Attributes
    ----------
    table : str
    row : str
    records : list of Record
        One per seed.
    paper : dict
        ``metric -> value`` as the paper prints it (accuracy in percent), empty for a row the
        paper does not have.
    ws : Workspace
    """

    table: str
    row: str
    records: list
    paper: dict
    ws: Workspace = field(repr=False)

    @property
    def seeds(self) -> list:
        return [training_seed(r) for r in self.records]

    @property
    def newest(self) -> Record:
        return max(self.records, key=lambda r: r.created_at)

    def values(self, metric: str) -> np.ndarray:
        """The metric of each seed's run (fractions)."""
        return np.array([float(r.metric(metric)) for r in self.records
                         if r.metric(metric) is not None])

    def mean(self, metric: str) -> float | None:
        values = self.values(metric)
        return float(values.mean()) if values.size else None

    def sd(self, metric: str) -> float | None:
        """Standard deviation over the seeds (n - 1 in the denominator); None for one seed."""
        values = self.values(metric)
        return float(values.std(ddof=1)) if values.size > 1 else None

    @cached_property
    def _intervals(self) -> dict:
        if len(self.records) == 1:
            return dict(self.records[0].ci95)
        frames = [_predictions(r, self.ws) for r in self.records]
        if any(f is None for f in frames):
            return {}
        merged = frames[0][["path", "label"]]
        preds = []
        for i, f in enumerate(frames):
            merged = merged.merge(f[["path", "pred"]].rename(columns={"pred": f"pred{i}"}),
                                  on="path", how="inner")
        if merged.empty:
            return {}
        preds = [merged[f"pred{i}"] for i in range(len(frames))]
        names = list(self.records[0].metrics.get("labels") or CLASS_NAMES)
        return bootstrap_ci_of_mean(merged["label"], preds, names,
                                    seed=training_seed(self.records[0]) or 0)

    def interval(self, metric: str):
        """The 95% bootstrap interval of the mean over the seeds (of the value, for one seed)."""
        ci = self._intervals.get(metric)
        return None if ci is None else (float(ci[0]), float(ci[1]))

    def consistent(self, metric: str) -> bool | None:
        """Whether the paper's value lies inside our interval (None: no paper value or no
        interval)."""
        paper_value, ci = self.paper.get(metric), self.interval(metric)
        if paper_value is None or ci is None:
            return None
        scale = 100.0 if metric == "accuracy" else 1.0
        # The paper prints two decimals (72.53 %, 0.70): allow half a unit of the last one.
        return bool(ci[0] * scale - PAPER_ROUNDING <= paper_value
                    <= ci[1] * scale + PAPER_ROUNDING)


def row_summaries(ws: Workspace, table) -> list[RowSummary]:
    """Every row of one table that has records: the paper's rows in its order, then others.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    list of RowSummary
    """
    tid = table_id(table)
    by_row = seeds_by_row(ws, tid)
    paper = paper_table(tid).set_index("row")
    order = list(paper.index) + sorted(set(by_row) - set(paper.index))
    out = []
    for row in order:
        group = by_row.get(row, [])
        if not group:
            continue
        values = ({metric: float(paper.loc[row, column]) for metric, column, _ in COMPARED_METRICS}
                  if row in paper.index else {})
        out.append(RowSummary(tid, row, group, values, ws))
    return out


def pairwise_mcnemar(ws: Workspace, table="table1") -> pd.DataFrame:
    """Exact McNemar tests of every pair of a table's models on the same test images.

    The predictions each run saved are compared by :func:`mcnemar_pairs`.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    DataFrame
        See :func:`mcnemar_pairs`.
    """
    return mcnemar_pairs({s.row: {training_seed(r): _predictions(r, ws) for r in s.records}
                          for s in row_summaries(ws, table)})


def mcnemar_pairs(predictions: dict) -> pd.DataFrame:
    """Exact McNemar tests of every pair of models on the images both were tested on.

    For each seed both models were trained with, the test compares their predictions on the
    images both were tested on; p-values are Holm-corrected over the pairs, per seed. A
    difference is called real (``significant``) when it is significant after correction in
    every seed both models have: with one seed that is the test itself; with several, a
    difference that comes and goes with the seed is not called real.

    Parameters
    ----------
    predictions : dict
        ``model -> {seed -> DataFrame}`` with ``path``, ``label`` and ``pred`` (None for a
        seed whose predictions are missing), models in the order the pairs are listed.

    Returns
    -------
    DataFrame
        One row per pair and seed (``seed`` an integer) plus one combined row per pair
        (``seed`` ``"all"``): ``model_a``, ``model_b``, ``a_only``, ``b_only``, ``n``,
        ``p_value``, ``p_holm``, ``significant``, ``better`` (the model right more often on
        the discordant images).
    """
    rows = []
    for a, b in itertools.combinations(list(predictions), 2):
        pa, pb = predictions[a], predictions[b]
        for seed in sorted(set(pa) & set(pb), key=lambda s: (s is None, s)):
            if pa[seed] is None or pb[seed] is None:
                continue
            merged = pa[seed][["path", "label", "pred"]].merge(
                pb[seed][["path", "pred"]], on="path", suffixes=("_a", "_b"))
            if merged.empty:
                continue
            test = mcnemar_exact(merged["label"], merged["pred_a"], merged["pred_b"])
            rows.append({"model_a": a, "model_b": b, "seed": seed, **test})
    columns = ["model_a", "model_b", "seed", "a_only", "b_only", "n", "p_value", "p_holm",
               "significant", "better"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    frame["p_holm"] = frame.groupby("seed", dropna=False)["p_value"].transform(holm)
    frame["significant"] = frame["p_holm"] < ALPHA
    frame["better"] = np.where(frame["a_only"] > frame["b_only"], frame["model_a"],
                               np.where(frame["a_only"] < frame["b_only"], frame["model_b"], ""))
    combined = []
    for (a, b), group in frame.groupby(["model_a", "model_b"], sort=False):
        directions = set(group["better"]) - {""}
        combined.append({
            "model_a": a, "model_b": b, "seed": "all", "a_only": int(group["a_only"].sum()),
            "b_only": int(group["b_only"].sum()), "n": int(group["n"].sum()),
            "p_value": float(group["p_value"].max()), "p_holm": float(group["p_holm"].max()),
            "significant": bool(group["significant"].all() and len(directions) == 1),
            "better": directions.pop() if len(directions) == 1 else ""})
    frame["seed"] = frame["seed"].astype(object)
    return pd.concat([frame, pd.DataFrame(combined)], ignore_index=True)[columns]


# ---------------------------------------------------------------------------- against the paper

#: The recipe of the paper profile: what the paper states (150 px, Adagrad at 0.001) and, where
#: it is silent (epochs, batch size), the paper profile's choice.
PAPER_RECIPE = {"image_size": PAPER.image_size, "epochs": PAPER.epochs,
                "batch_size": PAPER.batch_size, "learning_rate": PAPER.learning_rate,
                "optimizer": PAPER.optimizer, "refresh_batchnorm": PAPER.refresh_batchnorm}
#: Images left by the paper's text filter (8,549 + 9,971 sampled, 6,697 + 8,204 kept).
PAPER_FILTERED = sum(after for _, after in FILTER_COUNTS.values())
_RECIPE_LABELS = {"image_size": "input {} px", "epochs": "{} epochs", "batch_size": "batch {}",
                  "learning_rate": "learning rate {}", "optimizer": "optimizer {}"}
#: How the BatchNorm choice reads (True / False).
_BATCHNORM = {True: "BatchNorm statistics recomputed from the training images",
              False: "Keras' moving BatchNorm statistics"}


def deviations(record: Record) -> list[str]:
    """How a run's settings differ from the paper's, in words (empty: none differ).

    Compared: the data (the demo's synthetic images or the real datasets), the recipe
    (:data:`PAPER_RECIPE`), the starting weights (ImageNet for every row but the no-pretrain
    one) and, for cross-dataset tests, the model's training recipe.

    Parameters
    ----------
    record : Record

    Returns
    -------
    list of str
        e.g. ``["synthetic demo data (paper: the real datasets)", "input 72 px (paper 150)"]``.
    """
    out = []
    if record.profile != "paper":
        out.append("synthetic demo data (paper: the real datasets)")
    recipe = dict(record.params.get("train_recipe") or {})
    # A cross-dataset test's own batch size is that of inference, which changes no
    # prediction: only the model's training recipe is compared.
    own = ((k for k in PAPER_RECIPE if k != "batch_size") if record.kind == "cross_dataset"
           else PAPER_RECIPE)
    recipe.update({k: record.params[k] for k in own if k in record.params})
    for key, paper_value in PAPER_RECIPE.items():
        value = recipe.get(key)
        if value is None or value == paper_value:
            continue
        if key == "refresh_batchnorm":
            out.append(f"{_BATCHNORM[bool(value)]} (paper profile: "
                       f"{_BATCHNORM[bool(paper_value)]})")
        else:
            out.append(f"{_RECIPE_LABELS[key].format(value)} "
                       f"(paper: {_RECIPE_LABELS[key].format(paper_value)})")
    if record.kind in ("train", "ablation"):
        n = sum(int(record.params.get(k) or 0) for k in ("n_train", "n_val", "n_test"))
        if n and abs(n - PAPER_FILTERED) > 0.01 * PAPER_FILTERED:
            out.append(f"{n:,} filtered WEBEmo images (paper: {PAPER_FILTERED:,})")
        threshold = record.params.get("filter_threshold")
        if threshold is not None and threshold != PAPER.filter_threshold:
            out.append(f"text filter threshold {threshold:.3g} "
                       f"(paper profile: {PAPER.filter_threshold})")
    if record.kind in ("train", "ablation", "cross_dataset", "text_classifier"):
        wants_imagenet = not (record.row or "").endswith(NO_PRETRAIN_SUFFIX)
        source = record.weights.get("source")
        if wants_imagenet and source != "imagenet":
            what = "random weights" if source == "scratch" else "weights from a file"
            out.append(f"{what} (paper: ImageNet)")
        if not wants_imagenet and source != "scratch":
            out.append("pretrained weights (paper: random)")
    return out


def settings_note(records) -> str:
    """How a set of runs' settings differ from the paper's, in one sentence; "With the
    paper's settings." only when nothing differs.

    Parameters
    ----------
    records : iterable of Record

    Returns
    -------
    str
        Each difference once, followed by the rows it concerns when it does not concern all.
    """
    records = list(records)
    if not records:
        return "No reproduced numbers yet."
    found: dict[str, list] = {}
    for rec in records:
        for text in deviations(rec):
            found.setdefault(text, []).append(rec.row or rec.kind)
    if not found:
        return "With the paper's settings."
    every = {r.row or r.kind for r in records}
    parts = []
    for text, rows in found.items():
        rows = list(dict.fromkeys(rows))
        parts.append(text if set(rows) == every else f"{text}: {', '.join(rows)}")
    return "Settings that differ from the paper's: " + "; ".join(parts) + "."
