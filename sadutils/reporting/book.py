"""What the book's results page shows, as Markdown text and figures.

The page (``book/results.md``) is executed at every build and reads the records present then;
each of its cells calls one function here and displays what it returns, so the page holds prose
and the logic is tested here.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..paper import TABLES
from ..records import latest_by_row, profiles_with_records
from ..workspace import Workspace, repo_root, results_home
from .figures import plot_confusion, plot_examples, plot_history, plot_metric_bars
from .tables import (BOOKKEEPING, comparison_table, format_table, paper_only_table,
                     profile_note, records_table, table_rows)


def shown_path(path) -> str:
    """A path as the book shows it: relative to the checkout when inside it.

    Parameters
    ----------
    path : path

    Returns
    -------
    str
    """
    try:
        return Path(path).resolve().relative_to(repo_root()).as_posix()
    except ValueError:
        return str(path)


def workspaces(results_root=None) -> list[Workspace]:
    """The workspaces that have records, ``paper`` first.

    Parameters
    ----------
    results_root : path, optional
        Default :func:`sadutils.workspace.results_home`.

    Returns
    -------
    list of Workspace
    """
    return [Workspace.create(p, results_root=results_root)
            for p in profiles_with_records(results_root)]


def records_found_markdown(results_root=None) -> str:
    """The page's opening line: which profiles have records, or how to make some.

    Parameters
    ----------
    results_root : path, optional

    Returns
    -------
    str
    """
    root = Path(results_root) if results_root is not None else results_home()
    found = profiles_with_records(results_root)
    if found:
        return (f"Records found under `{shown_path(root)}` for profile(s): "
                + ", ".join(f"`{p}`" for p in found) + ".")
    return (f"**No results records yet** (looked in `{shown_path(root)}`). The tables below show "
            "the paper's published values only. To fill in the reproduced columns, run "
            "`sadutils reproduce` (demo profile, synthetic data) or "
            "`sadutils reproduce --profile paper` (real data), then build the book again; the "
            "README has the exact commands.")


def table_markdown(table, results_root=None) -> str:
    """One of Tables 1-3 for every profile with records (the paper's values alone if none).

    Parameters
    ----------
    table : str
    results_root : path, optional

    Returns
    -------
    str
        Per profile: the profile note, the table, a note on models trained from scratch
        although the paper's were pretrained, and the records used.
    """
    spaces = workspaces(results_root)
    if not spaces:
        return ("Paper values only: no results records yet (see above).\n\n"
                + format_table(paper_only_table(table)))
    parts = []
    for ws in spaces:
        df = comparison_table(ws, table)
        text = f"**Profile `{ws.name}`.** {profile_note(ws.name)}\n\n"
        text += format_table(df.drop(columns=list(BOOKKEEPING)))
        odd = df[~df["Model"].str.contains("no-pretrain") & (df["weights"] == "scratch")]
        if len(odd):
            text += ("\n**Note:** trained from scratch although the paper's model was "
                     "ImageNet-pretrained (the record's weights note says why): "
                     + ", ".join(odd["Model"]) + ".\n")
        used = df[df["run_id"] != ""]
        if len(used):
            text += "\nRecords used: " + "; ".join(
                f"{m}: `{r}` ({w} weights)" for m, r, w in
                zip(used["Model"], used["run_id"], used["weights"])) + ".\n"
        parts.append(text)
    return "\n".join(parts)


def metric_figures(results_root=None) -> list:
    """The metric bars of every table that has records, for every profile.

    Parameters
    ----------
    results_root : path, optional

    Returns
    -------
    list of matplotlib.figure.Figure
    """
    return [plot_metric_bars(ws, table) for ws in workspaces(results_root) for table in TABLES
            if latest_by_row(ws, table)]


def model_details(results_root=None) -> list[tuple[str, list]]:
    """For the newest record of every Table 1 row: a heading and its figures.

    Parameters
    ----------
    results_root : path, optional

    Returns
    -------
    list of tuple
        ``(markdown, [figures])`` in the table's row order: training curves, confusion matrix
        and a grid of test images with P(sadness).
    """
    out = []
    for ws in workspaces(results_root):
        for row, _, rec in table_rows(ws, "table1"):
            if rec is None:
                continue
            text = (f"### {row} ({ws.name} profile)\n\nRecord `{rec.run_id}`, weights: "
                    f"{rec.weights.get('source', '')} ({rec.weights.get('note', '')})")
            figures = []
            history = rec.artifact("history", ws)
            if history is not None and history.is_file():
                figures.append(plot_history(history))
            figures.append(plot_confusion(rec))
            predictions = rec.artifact("predictions", ws)
            if predictions is not None and predictions.is_file():
                figures.append(plot_examples(pd.read_csv(predictions), by="label", n=6,
                                             score="p_sadness"))
            out.append((text, figures))
    return out


def records_markdown(book_dir, results_root=None) -> str:
    """Every record the tables can draw on, with code version, weights and notebook link.

    Parameters
    ----------
    book_dir : path
        The book's source folder (executed notebooks are under ``executed/``).
    results_root : path, optional

    Returns
    -------
    str
    """
    frames = [records_table(ws) for ws in workspaces(results_root)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return "No records yet."
    records = pd.concat(frames, ignore_index=True)

    def notebook_link(name):
        if not name:
            return ""
        page = Path(book_dir) / "executed" / Path(name).name
        if page.suffix != ".ipynb":
            page = page.with_name(page.name + ".ipynb")
        if page.is_file():
            return f"[{page.stem}](executed/{page.name})"
        return f"`{Path(name).name}`"

    records["notebook"] = [notebook_link(p) for p in records["notebook"]]
    records["run_id"] = [f"`{r}`" for r in records["run_id"]]
    return format_table(records)
