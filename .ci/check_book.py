#!/usr/bin/env python3
"""Check that a built book's results page shows Tables 1, 2 and 3 with reproduced numbers, and
that no page of the book shows a warning or a path of the machine that built it.

Usage::

    python .ci/check_book.py [PATH] [--profile demo|paper] [--partial]
                             [--machine-path PATH ...]

PATH is the results page (``results.html``) or a build folder holding it (``_build/html``,
``_build``); by default ``_build/html/results.html`` and then ``book/_build/html/results.html``
are tried. The tables are read in the markup ``sadutils.reporting.table_html.comparison_html``
writes: ``<table class="sadutils-comparison" data-table="table1" data-profile="demo">``, one
row per model, and in each metric cell one ``<span class="sadutils-line sadutils-KIND">`` per
line (``paper``, ``ours``, ``interval``, ``difference``; ``missing`` when not run yet). For
each of Tables 1, 2 and 3 the page must have such a table in which every row has, in every
metric cell, an ``ours`` line holding a number that links to its record (with ``--partial``:
at least one such row). When the page shows several profiles, one complete table per number is
enough, unless ``--profile`` names the one to check.

Every page of the build (each ``.html`` file, and each ``.ipynb`` copy offered for download)
must also be quiet: no stderr block of a notebook cell (a Python warning, a progress bar's
complaint, TensorFlow's C++ log lines), no warning line in any cell output, and no absolute
path of the building machine (the checkout, given by ``--machine-path``, default the current
folder, and the home folder; any ``site-packages/`` path).

Exit status 0 when all three tables pass and every page is quiet; 1 with one line per problem
otherwise; 2 when the page cannot be found or read. Only the standard library is used.
"""
from __future__ import annotations

import argparse
import html as html_module
import json
import os
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

TABLES = ("table1", "table2", "table3")
PLACEHOLDER = "not run yet"
DEFAULT_PAGES = ("_build/html/results.html", "book/_build/html/results.html")
TABLE_CLASS = "sadutils-comparison"
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_KIND = re.compile(r"\bsadutils-(paper|ours|seeds|interval|difference|consistent|inconsistent"
                   r"|missing|note)\b")


@dataclass
class Row:
    """One model of a comparison table: its name and, per metric cell, ``{kind: text}`` and
    the kinds of line that hold a link."""

    model: str = ""
    cells: list = field(default_factory=list)
    linked: list = field(default_factory=list)


@dataclass
class Table:
    """A comparison table: which of the paper's tables, whose profile, its rows."""

    table: str
    profile: str | None
    rows: list = field(default_factory=list)


class _Page(HTMLParser):
    """Collects the comparison tables of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self._table = None      # the comparison table being read
        self._depth = 0         # nested <table> depth inside it
        self._row = None
        self._in_header = False  # inside the row's <th scope="row">
        self._cell = None        # {kind: text} of the metric cell being read
        self._linked = None
        self._spans = []         # stack: the kind of each open span (None: not a line)
        self._skip = 0           # depth inside a label span

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            if self._table is not None:
                self._depth += 1
            elif TABLE_CLASS in (attrs.get("class") or "").split():
                self._table = Table(attrs.get("data-table") or "?",
                                    attrs.get("data-profile") or None)
                self._depth = 0
            return
        if self._table is None:
            return
        if tag == "tr":
            self._row = Row()
        elif tag == "th" and self._row is not None and attrs.get("scope") == "row":
            self._in_header = True
        elif tag == "td" and self._row is not None:
            self._cell, self._linked = {}, set()
        elif tag == "span":
            classes = attrs.get("class") or ""
            if "sadutils-label" in classes.split() or self._skip:
                self._skip += 1
                self._spans.append("label")
                return
            match = _KIND.search(classes) if "sadutils-line" in classes.split() else None
            self._spans.append(match.group(1) if match else None)
        elif tag == "a" and self._cell is not None:
            kind = self._current_kind()
            if kind:
                self._linked.add(kind)

    def _current_kind(self):
        for kind in reversed(self._spans):
            if kind and kind != "label":
                return kind
        return None

    def handle_endtag(self, tag):
        if self._table is None:
            return
        if tag == "table":
            if self._depth:
                self._depth -= 1
            else:
                self.tables.append(self._table)
                self._table = None
        elif tag == "span" and self._spans:
            if self._spans.pop() == "label":
                self._skip -= 1
        elif tag == "th" and self._in_header:
            self._in_header = False
        elif tag == "td" and self._cell is not None and self._row is not None:
            self._row.cells.append({k: " ".join(v.split()) for k, v in self._cell.items()})
            self._row.linked.append(self._linked)
            self._cell = self._linked = None
        elif tag == "tr" and self._row is not None:
            if self._row.cells:  # the header row has none
                self._table.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._table is None or self._skip:
            return
        if self._in_header and not self._spans:
            self._row.model += data
        elif self._cell is not None:
            kind = self._current_kind()
            if kind:
                self._cell[kind] = self._cell.get(kind, "") + data


def comparison_tables(html: str) -> list[Table]:
    """The comparison tables of a page, in page order.

    Parameters
    ----------
    html : str

    Returns
    -------
    list of Table
    """
    page = _Page()
    page.feed(html)
    page.close()
    for table in page.tables:
        for row in table.rows:
            row.model = " ".join(row.model.split())
    return page.tables


def check_table(table: Table, partial: bool = False) -> str | None:
    """``None`` when the table has reproduced numbers, each linked to its record; else why not.

    Parameters
    ----------
    table : Table
    partial : bool
        Pass with at least one complete row.

    Returns
    -------
    str or None
    """
    if not table.rows:
        return "a table without rows"
    if not any("ours" in cell or "missing" in cell for row in table.rows for cell in row.cells):
        return "only the paper's values (no reproduced lines: no results records?)"
    missing, unlinked = [], []
    for row in table.rows:
        ours = [cell.get("ours", "") for cell in row.cells]
        if any("missing" in cell for cell in row.cells) or \
                not all(_NUMBER.match(text) for text in ours):
            missing.append(row.model or "?")
        elif not all("ours" in linked for linked in row.linked):
            unlinked.append(row.model or "?")
    complete = len(table.rows) - len(missing) - len(unlinked)
    if (not missing and not unlinked) or (partial and complete > 0):
        return None
    reasons = []
    if missing:
        reasons.append(f"'{PLACEHOLDER}' (or no number) for {', '.join(missing)}")
    if unlinked:
        reasons.append(f"reproduced numbers without a link to their record for "
                       f"{', '.join(unlinked)}")
    return "; ".join(reasons)


def check_html(html: str, profile: str | None = None, partial: bool = False) -> list[str]:
    """The problems found (empty: the page passes).

    Parameters
    ----------
    html : str
    profile : str, optional
    partial : bool

    Returns
    -------
    list of str
    """
    found = comparison_tables(html)
    problems = []
    for tid in TABLES:
        name = f"Table {tid[len('table'):]}"
        tables = [t for t in found if t.table == tid]
        if not tables:
            problems.append(f"{name}: no comparison table on the page "
                            f"(<table class=\"{TABLE_CLASS}\" data-table=\"{tid}\">)")
            continue
        candidates = [t for t in tables if profile is None or t.profile == profile]
        if not candidates:
            shown = sorted({t.profile for t in tables if t.profile}) or ["none named"]
            problems.append(f"{name}: no table for profile {profile!r} "
                            f"(profiles shown: {', '.join(shown)})")
            continue
        reasons = [check_table(t, partial) for t in candidates]
        if all(reasons):
            detail = "; ".join(f"{'profile ' + t.profile if t.profile else 'table'}: {r}"
                               for t, r in zip(candidates, reasons))
            problems.append(f"{name}: no reproduced numbers ({detail})")
    return problems


#: Lines that are warnings, wherever they appear in a cell's output: Python's ("TqdmWarning:",
#: "UserWarning:"), logging's and absl's ("WARNING:"), TensorFlow's C++ ("W0000 00:00:...").
_WARNING = re.compile(r"\b[A-Z]\w*Warning:|^\s*WARNING\b|^[IWEF]\d{4} \d\d:\d\d:\d\d", re.M)
#: A path inside an installed Python package: a machine's path whatever the checkout.
_PACKAGES = re.compile(r"[\w./\\-]*site-packages[/\\]")


class _Outputs(HTMLParser):
    """Collects the text of the cell outputs of a page, and of its stderr blocks apart (MyST-NB
    writes ``<div class="cell_output ..."><div class="output stderr ...">``)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.outputs: list[str] = []  # one text per output block
        self.stderr: list[str] = []
        self._stack = []  # per open <div>: its kind ("stderr", "output" or None)
        self._text: dict[str, list] = {"stderr": [], "output": []}

    def _inside(self, kind: str) -> bool:
        return kind in self._stack

    def handle_starttag(self, tag, attrs):
        if tag != "div":
            return
        classes = (dict(attrs).get("class") or "").split()
        kind = ("stderr" if "stderr" in classes else
                "output" if {"output", "cell_output"} & set(classes) else None)
        self._stack.append(kind)

    def handle_endtag(self, tag):
        if tag != "div" or not self._stack:
            return
        kind = self._stack.pop()
        if kind and not self._inside(kind) and (kind == "stderr" or not self._inside("stderr")):
            (self.stderr if kind == "stderr" else self.outputs).append(
                "".join(self._text[kind]))
            self._text[kind] = []

    def handle_data(self, data):
        if self._inside("stderr"):
            self._text["stderr"].append(data)
        elif self._inside("output"):
            self._text["output"].append(data)


def _first(text: str, limit: int = 100) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _warning_lines(texts) -> list[str]:
    found = []
    for text in texts:
        found += [_first(text[m.start():]) for m in _WARNING.finditer(text)]
    return found


def machine_paths(extra=()) -> list[str]:
    """The absolute paths that must not appear on a page: ``extra`` (default the current
    folder) and the home folder, each only when it names more than the file system's root.

    Parameters
    ----------
    extra : iterable of str

    Returns
    -------
    list of str
        Each ending with a separator.
    """
    paths = list(extra) or [os.getcwd()]
    paths.append(os.path.expanduser("~"))
    out = []
    for p in paths:
        p = os.path.abspath(p).rstrip("/\\")
        if p and len(Path(p).parts) > 1 and p + os.sep not in out:
            out.append(p + os.sep)
    return out


def _path_problems(text: str, paths) -> list[str]:
    found = [f"the machine path {p}" for p in paths if p in text]
    match = _PACKAGES.search(text)
    if match:
        found.append(f"the installed-package path {match.group(0)}")
    return found


def check_page_html(html: str, paths=()) -> list[str]:
    """Why a page of the built book is not quiet (empty: it is).

    Parameters
    ----------
    html : str
    paths : iterable of str
        Paths of the building machine (:func:`machine_paths`).

    Returns
    -------
    list of str
    """
    page = _Outputs()
    page.feed(html)
    page.close()
    problems = [f"a stderr block: {_first(text)!r}" for text in page.stderr]
    problems += [f"a warning in a cell's output: {line!r}"
                 for line in _warning_lines(page.outputs)]
    return problems + _path_problems(html_module.unescape(html), paths)


def check_notebook(text: str, paths=()) -> list[str]:
    """:func:`check_page_html` for a notebook file (``.ipynb``) of the build.

    Parameters
    ----------
    text : str
        The notebook's JSON.
    paths : iterable of str

    Returns
    -------
    list of str
    """
    try:
        nb = json.loads(text)
    except ValueError as exc:
        return [f"not a notebook ({exc})"]
    problems, outputs = [], []
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        for out in cell.get("outputs", []) if isinstance(cell, dict) else []:
            if not isinstance(out, dict):
                continue
            body = out.get("text", "")
            body = "".join(body) if isinstance(body, list) else str(body)
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"a stderr block: {_first(body)!r}")
            else:
                outputs.append(body)
    problems += [f"a warning in a cell's output: {line!r}" for line in _warning_lines(outputs)]
    return problems + _path_problems(text, paths)


def check_site(root: Path, paths=()) -> list[str]:
    """Every page of a built book checked by :func:`check_page_html` and :func:`check_notebook`.

    Parameters
    ----------
    root : Path
        The HTML output folder (``_build/html``).
    paths : iterable of str

    Returns
    -------
    list of str
        ``<page>: <problem>``, one per problem.
    """
    problems = []
    for file in sorted(root.rglob("*")):
        if file.suffix not in (".html", ".ipynb") or not file.is_file():
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        check = check_page_html if file.suffix == ".html" else check_notebook
        problems += [f"{file.relative_to(root)}: {p}" for p in check(text, paths)]
    return problems


def find_page(path: str | None) -> Path:
    candidates = [Path(p) for p in DEFAULT_PAGES] if path is None else [Path(path)]
    for candidate in list(candidates):
        if candidate.is_dir():
            candidates += [candidate / "results.html", candidate / "html" / "results.html"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("results page not found; looked for "
                            + ", ".join(str(c) for c in candidates)
                            + " (build the book first: jupyter-book build book)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", help="results.html or a build folder")
    parser.add_argument("--profile", help="check the tables of this profile only")
    parser.add_argument("--partial", action="store_true",
                        help="a table passes with at least one reproduced row")
    parser.add_argument("--machine-path", action="append", default=[], metavar="PATH",
                        help="an absolute path of the building machine that no page may show "
                             "(repeatable; default the current folder; the home folder always)")
    args = parser.parse_args(argv)
    try:
        page = find_page(args.path)
        html = page.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"check_book: {exc}", file=sys.stderr)
        return 2
    status = 0
    problems = check_html(html, args.profile, args.partial)
    if problems:
        print(f"check_book: {page} does not show the reproduced tables:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        status = 1
    else:
        print(f"check_book: {page}: Tables 1, 2 and 3 show reproduced numbers")
    noisy = check_site(page.parent, machine_paths(args.machine_path))
    if noisy:
        print(f"check_book: pages of {page.parent} show warnings or this machine's paths:",
              file=sys.stderr)
        for problem in noisy:
            print(f"  {problem}", file=sys.stderr)
        status = 1
    else:
        print(f"check_book: no page of {page.parent} shows a warning or a path of this machine")
    return status


if __name__ == "__main__":
    sys.exit(main())
