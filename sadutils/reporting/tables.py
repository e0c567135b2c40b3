"""The tables of the companion: the paper's numbers beside ours, and the tables of each step.

:func:`comparison_table` puts the newest record of each row of one of the paper's tables beside
the published value, with the difference; rows of backbones the paper did not train follow the
paper's rows, marked "not in the paper". The paper's "overall F1" is the support-weighted mean
of the two class F1 scores (``f1_weighted`` in a record); accuracy is shown in percent, as in
the paper. Numbers of the ``demo`` profile come from synthetic images and say nothing about the
paper: every table carries the profile it came from (:func:`profile_note`).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config import PROFILES, check_choice
from ..paper import (COMPARED_METRICS, TABLE_TITLES, TABLES, TEXT_CLASSIFIER_ACCURACY,
                     paper_table, table_id)
from ..records import Record, latest_by_row, read_records
from ..workspace import Workspace

#: What a reproduced cell says when no record exists for its row.
NOT_RUN = "not run yet"
#: What a paper cell says for a row the paper does not have.
NOT_IN_PAPER = "not in the paper"
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
        the paper's value (NaN when the paper has no such row), the reproduced value with its
        95% interval as text (``"not run yet"`` without a record) and the difference
        reproduced - paper (percentage points for accuracy). Then ``run_id``, ``weights`` (the
        record's weights source) and ``profile``.
    """
    rows = []
    for row, paper, rec in table_rows(ws, table):
        out = {"Model": row if paper is not None else f"{row} ({NOT_IN_PAPER})"}
        for metric, paper_column, label in COMPARED_METRICS:
            scale, digits = metric_scale(metric)
            paper_value = float(paper[paper_column]) if paper is not None else float("nan")
            value = None if rec is None else rec.metric(metric)
            out[f"{label} paper"] = paper_value
            if value is None:
                out[f"{label} reproduced [95% CI]"] = NOT_RUN
                out[delta_column(label)] = float("nan")
            else:
                out[f"{label} reproduced [95% CI]"] = format_interval(
                    float(value), rec.interval(metric), scale, digits)
                out[delta_column(label)] = float(value) * scale - paper_value
        out["run_id"] = "" if rec is None else rec.run_id
        out["weights"] = "" if rec is None else rec.weights.get("source", "")
        out["profile"] = ws.name
        rows.append(out)
    return pd.DataFrame(rows)


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


def profile_note(profile: str) -> str:
    """One sentence saying where the reproduced numbers of a profile come from.

    Parameters
    ----------
    profile : str

    Returns
    -------
    str
    """
    check_choice("profile", profile, PROFILES)
    if profile == "demo":
        return ("Reproduced numbers: DEMO profile, trained and tested on small synthetic images; "
                "they check that the pipeline runs and are not the paper's numbers or a "
                "reproduction of them.")
    return ("Reproduced numbers: PAPER profile, trained and tested on the real datasets "
            "with the paper's settings.")


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
        if fmt == "markdown":
            parts.append(f"### {TABLE_TITLES[tid]}\n\n{profile_note(ws.name)}\n\n"
                         + format_table(df, "markdown"))
        else:
            parts.append(f"# {TABLE_TITLES[tid]}\n# {profile_note(ws.name)}\n"
                         + format_table(df, "csv"))
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


def paper_only_table(table) -> pd.DataFrame:
    """The paper's values of one table under the column names of :func:`comparison_table`.

    Parameters
    ----------
    table : str

    Returns
    -------
    DataFrame
    """
    return paper_table(table_id(table)).rename(columns={
        "row": "Model", "accuracy_pct": "Accuracy % paper", "f1_sadness": "Sadness F1 paper",
        "f1_others": "Others F1 paper", "f1_overall": "Overall F1 paper"})
