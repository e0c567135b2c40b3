"""What the book's results page shows, as HTML, Markdown text and figures.

The page (``book/results.md``) is executed at every build and reads the records present then;
each of its cells calls one function here and displays what it returns, so the page holds prose
and the logic is tested here.

Every reproduced number of Tables 1-3 links to the JSON file of its record. The book build
copies those files into the HTML output (:func:`publish_records`, called by the book's Sphinx
extension ``book/_ext/companion_book.py``) under :data:`RECORDS_FOLDER`, so the links work in
the published book as well as in a local build.
"""
from __future__ import annotations

import html
import shutil
from pathlib import Path

import pandas as pd

from ..fileio import atomic_path
from ..paper import TABLES
from ..records import Record, latest_by_row, profiles_with_records, read_records
from ..workspace import Workspace, results_home, shown_path
from .figures import plot_confusion, plot_examples, plot_history, plot_metric_bars
from .table_html import HTML, comparison_html, paper_only_html
from .tables import comparison_rows, profile_note, records_table, table_rows

#: Where the records' JSON files go in the book's HTML output (beside ``results.html``).
RECORDS_FOLDER = "records"

__all__ = ["RECORDS_FOLDER", "shown_path", "workspaces", "record_href", "publish_records",
           "records_found_markdown", "table_html", "metric_figures", "model_details",
           "records_html"]


def record_href(record: Record) -> str:
    """The address of a record's JSON file in the built book, relative to the results page.

    Parameters
    ----------
    record : Record

    Returns
    -------
    str
        ``records/<profile>/<run_id>.json``.
    """
    return f"{RECORDS_FOLDER}/{record.profile}/{record.run_id}.json"


def publish_records(out_dir, results_root=None) -> list[Path]:
    """Copy every valid record's JSON file into a built book, where :func:`record_href` points.

    Parameters
    ----------
    out_dir : path
        The HTML output folder (``_build/html``).
    results_root : path, optional
        Default :func:`sadutils.workspace.results_home`.

    Returns
    -------
    list of Path
        The files written. Records that do not validate are not published (the results page
        does not show them either).
    """
    out_dir = Path(out_dir)
    written = []
    for ws in workspaces(results_root):
        for rec in read_records(ws):
            target = out_dir / record_href(rec)
            with atomic_path(target) as tmp:  # a killed build leaves no half record behind
                shutil.copyfile(ws.record_file(rec.run_id), tmp)
            written.append(target)
    return written


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


def _notebook_page(name: str | None, book_dir) -> str | None:
    """The address of an executed notebook's page relative to the results page, or None when
    the book has no such notebook."""
    if not name:
        return None
    stem = Path(name).name
    stem = stem[:-len(".ipynb")] if stem.endswith(".ipynb") else stem
    if book_dir is not None and not (Path(book_dir) / "executed" / f"{stem}.ipynb").is_file():
        return None
    return f"executed/{stem}.html"


def _records_used_html(rows, book_dir) -> str:
    """The collapsible list of the records behind one table."""
    items = []
    for row in rows:
        rec = row.record
        if rec is None:
            continue
        notebook = _notebook_page(rec.artifacts.get("notebook"), book_dir)
        ran_in = (f'; ran in <a href="{html.escape(notebook)}">'
                  f'{html.escape(Path(notebook).stem)}</a>' if notebook else "")
        items.append(
            f"<li>{html.escape(row.model)}: <a href=\"{html.escape(record_href(rec))}\">"
            f"<code>{html.escape(rec.run_id)}</code></a> "
            f"({html.escape(str(rec.weights.get('source', '')))} weights, created "
            f"{html.escape(str(rec.provenance.get('created_at', ''))[:16])}{ran_in})</li>")
    if not items:
        return ""
    return (f'<details class="sadutils-records"><summary>The {len(items)} records behind this '
            f"table (each reproduced number above links to its own)</summary>"
            f"<ul>{''.join(items)}</ul></details>")


def table_html(table, results_root=None, book_dir=None) -> HTML:
    """One of Tables 1-3 for every profile with records (the paper's values alone if none).

    Parameters
    ----------
    table : str
    results_root : path, optional
    book_dir : path, optional
        The book's source folder: records name the executed notebook they ran in, linked when
        it is in the book (``executed/``). None: linked without checking.

    Returns
    -------
    HTML
        Per profile: the profile note, the table in the paper's shape
        (:func:`sadutils.reporting.table_html.comparison_html`, every reproduced number linked to
        its record's JSON file), a note on models trained from scratch although the paper's
        were pretrained, and a collapsible list of the records used.
    """
    spaces = workspaces(results_root)
    if not spaces:
        return HTML("<p>Paper values only: no results records yet (see above).</p>"
                    + paper_only_html(table))
    parts = []
    for ws in spaces:
        rows = comparison_rows(ws, table)
        text = (f"<p><strong>Profile <code>{ws.name}</code>.</strong> "
                f"{html.escape(profile_note(ws.name, [r for row in rows for r in row.records]))}"
                "</p>")
        text += comparison_html(ws, table, record_href=record_href)
        odd = [row.model for row in rows if row.record is not None
               and row.record.weights.get("source") == "scratch"
               and row.record.kind != "ablation" and not row.model.endswith("no-pretrain")]
        if odd:
            text += ("<p><strong>Note:</strong> trained from scratch although the paper's model "
                     "was ImageNet-pretrained (the record's weights note says why): "
                     + html.escape(", ".join(odd)) + ".</p>")
        text += _records_used_html(rows, book_dir)
        parts.append(text)
    return HTML("\n".join(parts))


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


def records_html(book_dir=None, results_root=None) -> HTML:
    """Every record the tables can draw on: its JSON file, what it is, its weights, code
    version, time and notebook, as a compact table that fits the page.

    Parameters
    ----------
    book_dir : path, optional
        The book's source folder (executed notebooks are under ``executed/``).
    results_root : path, optional

    Returns
    -------
    HTML
    """
    frames = [records_table(ws) for ws in workspaces(results_root)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return HTML("<p>No records yet.</p>")
    records = pd.concat(frames, ignore_index=True)
    body = []
    for _, r in records.iterrows():
        what = " · ".join(str(x) for x in (r.kind, r.table, r.row) if x)
        notebook = _notebook_page(r.notebook, book_dir)
        notebook_cell = (f'<a href="{html.escape(notebook)}">{html.escape(Path(notebook).stem)}'
                         "</a>" if notebook else html.escape(Path(str(r.notebook)).name))
        href = f"{RECORDS_FOLDER}/{r.profile}/{r.run_id}.json"
        weights = html.escape(str(r.weights))
        if r["weights note"]:
            weights = (f'<span title="{html.escape(str(r["weights note"]), quote=True)}">'
                       f"{weights}</span>")
        body.append(
            f'<tr><td><a href="{html.escape(href)}"><code>{html.escape(r.run_id)}</code></a>'
            f'<span class="sadutils-line sadutils-note">{html.escape(what)} · '
            f"{html.escape(r.profile)}</span></td><td>{weights}</td>"
            f"<td><code>{html.escape(str(r.commit))}</code></td>"
            f"<td>{html.escape(str(r.created_at)[:16])}</td><td>{notebook_cell}</td></tr>")
    return HTML('<table class="sadutils-records-table"><thead><tr><th>Record (JSON)</th>'
                "<th>Weights</th><th>Code</th><th>Created (UTC)</th><th>Notebook</th></tr>"
                f"</thead><tbody>{''.join(body)}</tbody></table>")
