"""The tables of the companion: the paper's numbers beside ours, and the tables of each step.

:func:`comparison_rows` puts the newest record of each row of one of the paper's tables beside
the published value: one :class:`ComparisonRow` per model, holding one :class:`MetricCell` per
metric. Two renderings are built from them: :func:`comparison_table`, a wide DataFrame (paper /
reproduced / difference columns per metric) for the terminal's ``sadutils tables`` and CSV, and
:func:`~sadutils.reporting.table_html.comparison_html`, the paper's five-column shape with the values stacked in each cell
(paper, ours with its interval, difference), for the book and the notebooks. What a cell shows
is the list of :data:`~sadutils.reporting.table_html.CELL_LINES`; the HTML rendering lives in
:mod:`sadutils.reporting.table_html`.

Rows of backbones the paper did not train follow the paper's rows, marked "not in the paper".
The paper's "overall F1" is the support-weighted mean of the two class F1 scores
(``f1_weighted`` in a record); accuracy is shown in percent, as in the paper. Numbers of the
``demo`` profile come from synthetic images and say nothing about the paper: every table carries
the profile it came from (:func:`profile_note`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import PROFILES, check_choice
from ..paper import (COMPARED_METRICS, TABLE_TITLES, TABLES, TEXT_CLASSIFIER_ACCURACY,
                     paper_table, table_id)
from ..records import Record, latest_by_row, read_records
from ..results import row_summaries, settings_note
from ..workspace import Workspace

#: What a reproduced cell says when no record exists for its row.
NOT_RUN = "not run yet"
#: What a paper cell says for a row the paper does not have.
NOT_IN_PAPER = "not in the paper"
#: How the "consistent with the paper" column reads.
CONSISTENT_TEXT = {True: "yes", False: "no", None: ""}
#: Bookkeeping columns of :func:`comparison_table` that the printed tables leave out.
BOOKKEEPING = ("run_id", "weights", "profile")
FORMATS = ("markdown", "csv")


def metric_scale(metric: str) -> tuple[float, int]:
    """How a metric is shown: ``(scale, decimals)``; accuracy in percent with one decimal, F1
    scores as fractions with two."""
    return (100.0, 1) if metric == "accuracy" else (1.0, 2)


def format_interval(value: float, interval, scale: float, digits: int) -> str:
    """``"74.1 [70.2, 78.0]"``: a value with its interval (the value alone without one).

    Parameters
    ----------
    value : float
    interval : sequence of two floats, or None
    scale : float
    digits : int

    Returns
    -------
    str
    """
    text = f"{value * scale:.{digits}f}"
    if interval is not None and len(interval) == 2 and None not in interval:
        text += f" [{interval[0] * scale:.{digits}f}, {interval[1] * scale:.{digits}f}]"
    return text


def delta_column(label: str) -> str:
    """The name of the difference column of a metric label."""
    return "Accuracy Δ (points)" if label.startswith("Accuracy") else f"{label} Δ"


def table_rows(ws: Workspace, table) -> list[tuple[str, pd.Series | None, Record | None]]:
    """The rows of one table: ``(row, paper values or None, newest record or None)``.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    list of tuple
        The paper's rows in its order, then rows of other backbones (in name order) that have
        a record.
    """
    paper = paper_table(table).set_index("row")
    latest = latest_by_row(ws, table)
    rows = [(row, paper.loc[row], latest.get(row)) for row in paper.index]
    rows += [(row, None, latest[row]) for row in sorted(set(latest) - set(paper.index))]
    return rows


@dataclass(frozen=True)
class MetricCell:
    """One metric of one model: the paper's value beside the reproduced one.

    Values are in the scale the tables show (accuracy in percent, F1 as a fraction).

    Attributes
    ----------
    metric : str
        The record's metric (``accuracy``, ``f1_sadness``, ``f1_others``, ``f1_weighted``).
    label : str
        The label of the wide table's columns (``"Accuracy %"``).
    paper : float or None
        None for a row the paper does not have.
    value : float or None
        None without a record.
    interval : tuple of float, or None
        The 95% bootstrap interval of ``value`` (of the mean over the seeds when there are
        several), when there is one.
    digits : int
        Decimals shown.
    record : Record or None
        The newest record ``value`` comes from.
    sd, n_seeds, consistent
        The spread over seeds, their number, and whether the paper lies in the interval.
    """

    metric: str
    label: str
    paper: float | None
    value: float | None
    interval: tuple[float, float] | None
    digits: int
    record: Record | None = None
    #: Standard deviation of the value over the seeds (None for one seed).
    sd: float | None = None
    #: How many seeds (one run each) the value is the mean of.
    n_seeds: int = 1
    #: Whether the paper's value lies inside ``interval`` (None: no paper value or interval).
    consistent: bool | None = None

    @property
    def difference(self) -> float | None:
        """Reproduced minus paper (percentage points for accuracy); None if either is missing."""
        if self.paper is None or self.value is None:
            return None
        return self.value - self.paper

    def reproduced_text(self) -> str:
        """``"74.1 ± 1.2 [70.2, 78.0]"``: the value (the mean over the seeds), the spread over
        the seeds when there are several, the interval when there is one; :data:`NOT_RUN`
        without a record."""
        if self.value is None:
            return NOT_RUN
        text = f"{self.value:.{self.digits}f}"
        if self.sd is not None:
            text += f" ± {self.sd:.{self.digits}f}"
        if self.interval is not None:
            text += f" [{self.interval[0]:.{self.digits}f}, {self.interval[1]:.{self.digits}f}]"
        return text

    def difference_text(self) -> str:
        """The signed difference, one more decimal for F1 so that it is not rounded twice;
        empty when there is none."""
        diff = self.difference
        if diff is None:
            return ""
        return f"{diff:+.2f}" if self.metric == "accuracy" else f"{diff:+.3f}"


@dataclass(frozen=True)
class ComparisonRow:
    """One model of one of Tables 1-3.

    Attributes
    ----------
    model : str
        The row's name (``"Xception"``, ``"ResNet50"``).
    in_paper : bool
        Whether the paper has this row.
    record : Record or None
        The newest record of the row (None: not run yet).
    cells : tuple of MetricCell
        One per metric of :data:`sadutils.paper.COMPARED_METRICS`, in its order.
    records : tuple of Record
        Every record the row's numbers come from (one per seed).
    """

    model: str
    in_paper: bool
    record: Record | None
    cells: tuple
    records: tuple = ()

    @property
    def label(self) -> str:
        """The row's name as the wide table shows it (``"ResNet50 (not in the paper)"``)."""
        return self.model if self.in_paper else f"{self.model} ({NOT_IN_PAPER})"


def comparison_rows(ws: Workspace, table) -> list[ComparisonRow]:
    """The paper's rows of one table with the newest reproduced record of each.

    Parameters
    ----------
    ws : Workspace
    table : str or int
        ``table1``, ``table2`` or ``table3`` (or 1, 2, 3).

    Returns
    -------
    list of ComparisonRow
        The paper's rows in its order, then rows of other backbones with a record (in name
        order). A row's numbers are the means over its seeds (one record per seed, the newest
        runs of one recipe; :func:`sadutils.results.row_summaries`).
    """
    tid = table_id(table)
    summaries = {summary.row: summary for summary in row_summaries(ws, tid)}
    rows = []
    for row, paper, _ in table_rows(ws, tid):
        summary = summaries.get(row)
        cells = []
        for metric, paper_column, label in COMPARED_METRICS:
            scale, digits = metric_scale(metric)
            value = None if summary is None else summary.mean(metric)
            interval = None if summary is None else summary.interval(metric)
            sd = None if summary is None else summary.sd(metric)
            cells.append(MetricCell(
                metric=metric, label=label,
                paper=None if paper is None else float(paper[paper_column]),
                value=None if value is None else value * scale,
                interval=None if interval is None else (interval[0] * scale,
                                                        interval[1] * scale),
                digits=digits, record=None if summary is None else summary.newest,
                sd=None if sd is None else sd * scale,
                n_seeds=0 if summary is None else len(summary.records),
                consistent=None if summary is None else summary.consistent(metric)))
        rows.append(ComparisonRow(row, paper is not None,
                                  None if summary is None else summary.newest, tuple(cells),
                                  () if summary is None else tuple(summary.records)))
    return rows


def comparison_table(ws: Workspace, table) -> pd.DataFrame:
    """The paper's numbers of one table beside the newest reproduced record of each row.

    Parameters
    ----------
    ws : Workspace
    table : str
        ``table1``, ``table2`` or ``table3``.

    Returns
    -------
    DataFrame
        One row per model (``Model``; rows the paper does not have end in "(not in the
        paper)"). For each of accuracy (%), sadness F1, others F1 and overall F1 three columns:
        the paper's value (NaN when the paper has no such row), the reproduced value (the mean
        over the seeds, ``± sd`` over them when there are several) with its 95% interval as
        text (``"not run yet"`` without a record), the difference reproduced - paper
        (percentage points for accuracy) and whether the paper's value lies inside our
        interval (``yes``/``no``). Then ``seeds``, ``run_id`` (the newest record), ``weights``
        and ``profile``.
    """
    out = []
    for row in comparison_rows(ws, table):
        line = {"Model": row.label}
        for cell in row.cells:
            line[f"{cell.label} paper"] = float("nan") if cell.paper is None else cell.paper
            line[f"{cell.label} reproduced [95% CI]"] = cell.reproduced_text()
            diff = cell.difference
            line[delta_column(cell.label)] = float("nan") if diff is None else diff
            line[f"{cell.label} consistent"] = CONSISTENT_TEXT[cell.consistent]
        line["seeds"] = len(row.records)
        line["run_id"] = "" if row.record is None else row.record.run_id
        line["weights"] = "" if row.record is None else row.record.weights.get("source", "")
        line["profile"] = ws.name
        out.append(line)
    return pd.DataFrame(out)


def _cell(column: str, value) -> str:
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return ""
        if "Δ" in column:
            return f"{value:+.2f}" if column.startswith("Accuracy") else f"{value:+.3f}"
        return f"{value:.2f}"
    return "" if value is None else str(value)


def format_table(df: pd.DataFrame, fmt: str = "markdown") -> str:
    """Render a table as GitHub-style Markdown or CSV text.

    Parameters
    ----------
    df : DataFrame
    fmt : {"markdown", "csv"}

    Returns
    -------
    str
        Floats get two decimals; differences are signed, with one more decimal for F1 so that
        they are not rounded twice; NaN shows as an empty cell.
    """
    check_choice("format", fmt, FORMATS)
    cols = [str(c) for c in df.columns]
    body = [[_cell(c, v) for c, v in zip(cols, row)] for row in df.itertuples(index=False)]
    if fmt == "csv":
        return pd.DataFrame(body, columns=cols).to_csv(index=False)

    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    lines = ["| " + " | ".join(esc(c) for c in cols) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def profile_note(profile: str, records=None) -> str:
    """Where the reproduced numbers of a profile come from, and how their settings differ from
    the paper's.

    Parameters
    ----------
    profile : str
    records : iterable of Record, optional
        The records behind the numbers shown; their settings are compared with the paper's
        (:func:`sadutils.results.settings_note`), and only when nothing differs does the note
        say "with the paper's settings".

    Returns
    -------
    str
    """
    check_choice("profile", profile, PROFILES)
    if profile == "demo":
        text = ("Reproduced numbers: DEMO profile, trained and tested on small synthetic images; "
                "they check that the pipeline runs and are not the paper's numbers or a "
                "reproduction of them.")
    else:
        text = "Reproduced numbers: PAPER profile, trained and tested on the real datasets."
    records = list(records or ())
    return text if not records else f"{text} {settings_note(records)}"


def table_note(ws: Workspace, table) -> str:
    """:func:`profile_note` for the records behind one of Tables 1-3.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    str
    """
    return profile_note(ws.name, [r for row in comparison_rows(ws, table) for r in row.records])


def tables_text(ws: Workspace, fmt: str = "markdown", drop=BOOKKEEPING) -> str:
    """Tables 1-3 (paper vs. reproduced), each headed by its title and the profile note.

    Parameters
    ----------
    ws : Workspace
    fmt : {"markdown", "csv"}
    drop : sequence of str
        Columns to leave out (default the bookkeeping ones; ``()`` keeps them).

    Returns
    -------
    str
    """
    check_choice("format", fmt, FORMATS)
    parts = []
    for tid in TABLES:
        df = comparison_table(ws, tid).drop(columns=list(drop))
        note = table_note(ws, tid)
        if fmt == "markdown":
            parts.append(f"### {TABLE_TITLES[tid]}\n\n{note}\n\n"
                         + format_table(df, "markdown"))
        else:
            parts.append(f"# {TABLE_TITLES[tid]}\n# {note}\n" + format_table(df, "csv"))
    return "\n".join(parts)


def records_table(ws: Workspace, table=None) -> pd.DataFrame:
    """One line per record: run id, kind, table, row, weights, commit, time, notebook.

    Parameters
    ----------
    ws : Workspace
    table : str, optional
        Only the records of this table.

    Returns
    -------
    DataFrame
    """
    rows = []
    for rec in read_records(ws, table=table):
        prov = rec.provenance
        commit = prov.get("git_commit")
        if commit:
            commit = commit[:10] + ("+dirty" if prov.get("git_dirty") else "")
        rows.append({
            "run_id": rec.run_id, "profile": rec.profile, "kind": rec.kind,
            "table": rec.table or "", "row": rec.row or "",
            "weights": rec.weights.get("source", ""), "weights note": rec.weights.get("note") or "",
            "commit": commit or "unknown", "created_at": prov.get("created_at", ""),
            "notebook": rec.artifacts.get("notebook") or "",
        })
    cols = ["run_id", "profile", "kind", "table", "row", "weights", "weights note", "commit",
            "created_at", "notebook"]
    return pd.DataFrame(rows, columns=cols)


def metrics_frame(runs: dict) -> pd.DataFrame:
    """Side-by-side metrics of several runs.

    Parameters
    ----------
    runs : dict
        ``label -> Record`` (or anything with a ``record`` attribute holding one).

    Returns
    -------
    DataFrame
        One row per run: weights source, accuracy (%), the F1 scores, best epoch, run id.
    """
    rows = []
    for label, run in runs.items():
        rec = getattr(run, "record", run)
        m = rec.metrics
        rows.append({"run": label, "weights": rec.weights.get("source", ""),
                     "accuracy %": round(100 * m["accuracy"], 2),
                     **{k: round(m[k], 3) for k in ("f1_sadness", "f1_others", "f1_weighted",
                                                    "f1_macro")},
                     "best epoch": rec.params.get("best_epoch"), "run_id": rec.run_id})
    return pd.DataFrame(rows)


def text_classifier_summary(record: Record) -> pd.DataFrame:
    """The text classifier's held-out metrics beside the paper's accuracy (99.31%).

    Parameters
    ----------
    record : Record
        A ``text_classifier`` record.

    Returns
    -------
    DataFrame
        ``metric``, ``paper``, ``reproduced``, ``95% CI``, ``profile``, ``weights``.
    """
    m = record.metrics
    rows = [{"metric": "accuracy %", "paper": round(100 * TEXT_CLASSIFIER_ACCURACY, 2),
             "reproduced": round(100 * m["accuracy"], 2),
             "95% CI": _interval_text(record.interval("accuracy"), 100)}]
    for name in ("f1_text", "f1_no_text", "f1_weighted", "f1_macro"):
        rows.append({"metric": name, "paper": None, "reproduced": round(m[name], 3),
                     "95% CI": _interval_text(record.interval(name), 1)})
    out = pd.DataFrame(rows)
    out["profile"] = record.profile
    out["weights"] = record.weights.get("source", "")
    return out


def _interval_text(interval, scale) -> str:
    if not interval:
        return ""
    digits = 2 if scale == 100 else 3
    return f"[{interval[0] * scale:.{digits}f}, {interval[1] * scale:.{digits}f}]"


def cross_dataset_frame(results: dict) -> pd.DataFrame:
    """The results of a cross-dataset run as one table.

    Parameters
    ----------
    results : dict
        ``{dataset: (EvalSet, [CrossDatasetResult, ...])}`` as
        :func:`sadutils.experiments.cross_dataset.run_cross_dataset` returns it.

    Returns
    -------
    DataFrame
        One row per model and set: counts, sadness share, accuracy (%), F1 scores, run id.
    """
    rows = []
    for name, (eval_set, found) in results.items():
        for res in found:
            rec, m = res.record, res.metrics
            rows.append({
                "dataset": name, "model": rec.params.get("train_row") or rec.backbone,
                "table": rec.table or "", "weights": rec.weights.get("source", ""),
                "images": m["n"], "sadness share": round(eval_set.info["sadness_share"], 3),
                "accuracy %": round(100 * m["accuracy"], 2),
                **{k: round(m[k], 3) for k in ("f1_sadness", "f1_others", "f1_weighted")},
                "run_id": rec.run_id})
    return pd.DataFrame(rows)
