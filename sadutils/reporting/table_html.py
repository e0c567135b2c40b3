"""Tables 1-3 in the paper's shape, as HTML: the book's and the notebooks' rendering.

The paper's five columns (model, accuracy %, sadness F1, others F1, overall F1), each metric
cell stacking the lines of :data:`CELL_LINES` (the paper's value, ours linked to its record, the
spread over the seeds, the 95% interval, the difference, whether the paper's value lies inside
the interval). A new line is one function ``MetricCell -> CellLine | None`` appended there. The
rows and cells themselves come from :func:`sadutils.reporting.tables.comparison_rows`.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from ..paper import COMPARED_METRICS, paper_table, table_id
from ..workspace import Workspace
from .tables import (CONSISTENT_TEXT, NOT_IN_PAPER, NOT_RUN, ComparisonRow, MetricCell,
                     comparison_rows, metric_scale)


class HTML(str):
    """HTML text that Jupyter displays as HTML (and that is a plain string everywhere else)."""

    def _repr_html_(self) -> str:
        return str(self)


#: The column heading of each compared metric in the paper-shaped table.
METRIC_HEADINGS = {"accuracy": "Accuracy (%)", "f1_sadness": "Sadness F1",
                   "f1_others": "Others F1", "f1_weighted": "Overall F1"}


@dataclass(frozen=True)
class CellLine:
    """One line of a cell of the paper-shaped table.

    Attributes
    ----------
    kind : str
        What the line is; it becomes the CSS class ``sadutils-<kind>`` (``paper``,
        ``ours``, ``interval``, ``difference``, ``missing``) that the book's style sheet and
        ``.ci/check_book.py`` read.
    label : str
        A short word before the value (``"paper"``, ``"ours"``, ``"Δ"``); may be empty.
    text : str
        The value as shown.
    link : bool
        Whether the line links to the record the number comes from.
    """

    kind: str
    label: str
    text: str
    link: bool = False


def paper_line(cell: MetricCell) -> CellLine | None:
    """The paper's value (nothing for a row the paper does not have)."""
    if cell.paper is None:
        return None
    return CellLine("paper", "paper", f"{cell.paper:.2f}")


def reproduced_line(cell: MetricCell) -> CellLine:
    """The reproduced value, linked to its record; :data:`NOT_RUN` without one."""
    if cell.value is None:
        return CellLine("missing", "ours", NOT_RUN)
    return CellLine("ours", "ours", f"{cell.value:.{cell.digits}f}", link=True)


def seeds_line(cell: MetricCell) -> CellLine | None:
    """The spread over the seeds (standard deviation), when there are several."""
    if cell.value is None or cell.sd is None:
        return None
    return CellLine("seeds", f"± sd, {cell.n_seeds} seeds", f"{cell.sd:.{cell.digits}f}")


def interval_line(cell: MetricCell) -> CellLine | None:
    """The 95% bootstrap interval of the reproduced value (of the mean over the seeds when
    there are several), when there is one."""
    if cell.value is None or cell.interval is None:
        return None
    low, high = cell.interval
    label = "95% CI" if cell.n_seeds <= 1 else "95% CI of mean"
    return CellLine("interval", label, f"[{low:.{cell.digits}f}, {high:.{cell.digits}f}]")


def consistent_line(cell: MetricCell) -> CellLine | None:
    """Whether the paper's value lies inside our interval."""
    if cell.consistent is None:
        return None
    return CellLine("consistent" if cell.consistent else "inconsistent", "paper in CI",
                    CONSISTENT_TEXT[cell.consistent])


def difference_line(cell: MetricCell) -> CellLine | None:
    """Reproduced minus paper (points for accuracy), when both exist."""
    if cell.difference is None:
        return None
    return CellLine("difference", "Δ", cell.difference_text())


#: The lines of a cell, top to bottom: each function takes a :class:`MetricCell` and returns a
#: :class:`CellLine`, or None for nothing to show. Appending a function adds a line to every
#: cell of the book's tables.
CELL_LINES = [paper_line, reproduced_line, seeds_line, interval_line, difference_line,
              consistent_line]


def cell_lines(cell: MetricCell, makers=None) -> list[CellLine]:
    """What one cell shows, line by line.

    Parameters
    ----------
    cell : MetricCell
    makers : sequence of callable, optional
        Default :data:`CELL_LINES`.

    Returns
    -------
    list of CellLine
    """
    lines = [make(cell) for make in (CELL_LINES if makers is None else makers)]
    return [line for line in lines if line is not None]


def _line_html(line: CellLine, href: str | None, title: str | None) -> str:
    text = html.escape(line.text)
    if line.link and href:
        tip = f' title="{html.escape(title, quote=True)}"' if title else ""
        text = f'<a class="sadutils-record-link" href="{html.escape(href, quote=True)}"{tip}>{text}</a>'
    label = (f'<span class="sadutils-label">{html.escape(line.label)}</span> '
             if line.label else "")
    return f'<span class="sadutils-line sadutils-{line.kind}">{label}{text}</span>'


def _rows_html(rows, tid: str, profile: str | None, caption: str, record_href,
               makers) -> str:
    """The paper-shaped HTML table of ``rows`` (see :func:`comparison_html`)."""
    heads = "".join(f'<th scope="col">{html.escape(METRIC_HEADINGS.get(m, label))}</th>'
                    for m, _, label in COMPARED_METRICS)
    body = []
    for row in rows:
        rec = row.record
        href = record_href(rec) if (rec is not None and record_href is not None) else None
        title = None if rec is None else f"record {rec.run_id}"
        model = html.escape(row.model)
        if not row.in_paper:
            model += f'<span class="sadutils-line sadutils-note">{NOT_IN_PAPER}</span>'
        if rec is not None and rec.weights.get("source"):
            model += (f'<span class="sadutils-line sadutils-note">'
                      f'{html.escape(str(rec.weights["source"]))} weights</span>')
        cells = "".join(
            "<td>" + "".join(_line_html(line, href, title) for line in cell_lines(cell, makers))
            + "</td>" for cell in row.cells)
        body.append(f'<tr><th scope="row">{model}</th>{cells}</tr>')
    return HTML(f'<table class="sadutils-comparison" data-table="{tid}" '
                f'data-profile="{profile or ""}"><caption>{html.escape(caption)}</caption>'
                f'<thead><tr><th scope="col">Model</th>{heads}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table>")


def comparison_html(ws: Workspace, table, record_href=None, makers=None) -> str:
    """One of Tables 1-3 in the paper's shape, as an HTML table.

    Five columns as in the paper (model, accuracy %, sadness F1, others F1, overall F1); each
    metric cell stacks the lines of :func:`cell_lines`: the paper's value, ours (a link to its
    record when ``record_href`` is given), its 95% interval and the difference. Under the
    model's name: "not in the paper" for rows the paper does not have, and the weights the
    record's model started from.

    Parameters
    ----------
    ws : Workspace
    table : str or int
    record_href : callable, optional
        ``record_href(record) -> str``: the address of a record's JSON file; None: no links.
    makers : sequence of callable, optional
        The cell's lines (default :data:`CELL_LINES`).

    Returns
    -------
    HTML
        A ``<table class="sadutils-comparison">`` with ``data-table`` and ``data-profile``
        attributes (its caption names the profile); a ``str`` that notebooks display as HTML.
    """
    tid = table_id(table)
    caption = (f"Paper vs. {ws.name.upper()} profile. ours: reproduced value (the mean over the "
               f"seeds when there are several); ± sd: its spread over the seeds; 95% CI: its "
               f"bootstrap interval over the test images; Δ: ours − paper (accuracy in "
               f"percentage points); paper in CI: whether the paper's value lies inside it.")
    return _rows_html(comparison_rows(ws, tid), tid, ws.name, caption, record_href, makers)


def paper_only_html(table) -> str:
    """The paper's values of one table in the shape of :func:`comparison_html`, without a
    reproduced line (for a book built before any run).

    Parameters
    ----------
    table : str or int

    Returns
    -------
    str
    """
    tid = table_id(table)
    rows = []
    for _, paper in paper_table(tid).iterrows():
        cells = tuple(MetricCell(metric, label, float(paper[column]), None, None,
                                 metric_scale(metric)[1])
                      for metric, column, label in COMPARED_METRICS)
        rows.append(ComparisonRow(str(paper["row"]), True, None, cells))
    return _rows_html(rows, tid, None, "The paper's values (no reproduced numbers yet).", None,
                      [paper_line])
