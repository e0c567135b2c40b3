#!/usr/bin/env python3
"""Check that a built book's results page shows Tables 1, 2 and 3 with reproduced numbers.

Usage::

    python .ci/check_book.py [PATH] [--profile demo|paper] [--partial]

PATH is the results page (``results.html``) or a build folder holding it (``_build/html``,
``_build``); by default ``_build/html/results.html`` and then ``book/_build/html/results.html``
are tried. For each of Tables 1, 2 and 3 the page must have a section headed "Table N" holding
a table with "reproduced" columns in which every row has numbers, not the "not run yet"
placeholder (with ``--partial``, at least one row). When the page shows several profiles, one
complete table per section is enough, unless ``--profile`` names the one to check.

Exit status 0 when all three tables pass; 1 with one line per problem otherwise; 2 when the
page cannot be found or read. Only the standard library is used.
"""
from __future__ import annotations

import argparse
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

TABLES = ("1", "2", "3")
PLACEHOLDER = "not run yet"
DEFAULT_PAGES = ("_build/html/results.html", "book/_build/html/results.html")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?(\s*\[[^\]]*\])?$")
_TABLE_HEADING = re.compile(r"^\s*Table\s+(\d+)\b", re.IGNORECASE)
_PROFILE = re.compile(r"\bProfile\s+`?([A-Za-z0-9_-]+)`?\s*\.")


class _Page(HTMLParser):
    """Flattens a page into events: ``("heading", level, text)``, ``("text", text)`` (one per
    paragraph-like block outside tables) and ``("table", rows)`` (rows of cell texts, header
    row first)."""

    BLOCKS = {"p", "div", "li", "dd", "dt", "section"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.events = []
        self._heading = None   # [level, parts]
        self._skip = 0         # depth inside a headerlink anchor / script / style
        self._tables = []      # stack of tables being read: list of rows
        self._row = None
        self._cell = None
        self._text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self._skip or tag in ("script", "style") or (
                tag == "a" and "headerlink" in (attrs.get("class") or "")):
            self._skip += 1
            return
        if re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = [int(tag[1]), []]
        elif tag == "table":
            self._flush()
            self._tables.append([])
        elif tag == "tr" and self._tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if self._skip:
            self._skip -= 1
            return
        if re.fullmatch(r"h[1-6]", tag) and self._heading:
            level, parts = self._heading
            self.events.append(("heading", level, " ".join("".join(parts).split())))
            self._heading = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._tables:
            self._tables[-1].append(self._row)
            self._row = None
        elif tag == "table" and self._tables:
            self.events.append(("table", self._tables.pop()))
        elif tag in self.BLOCKS and not self._tables:
            self._flush()

    def handle_data(self, data):
        if self._skip:
            return
        if self._heading is not None:
            self._heading[1].append(data)
        elif self._cell is not None:
            self._cell.append(data)
        elif not self._tables:
            self._text.append(data)

    def _flush(self):
        text = " ".join("".join(self._text).split())
        if text:
            self.events.append(("text", text))
        self._text = []

    def close(self):
        super().close()
        self._flush()


def sections(html: str) -> dict[str, list[tuple[str | None, list[list[str]]]]]:
    """``{"1": [(profile or None, rows), ...], ...}``: the tables under each "Table N" heading,
    with the profile named last before each table in that section."""
    page = _Page()
    page.feed(html)
    page.close()
    out: dict[str, list] = {}
    current, level, profile = None, None, None
    for event in page.events:
        if event[0] == "heading":
            match = _TABLE_HEADING.match(event[2])
            if match:
                current, level, profile = match.group(1), event[1], None
                out.setdefault(current, [])
            elif current is not None and event[1] <= level:
                current = None
        elif current is None:
            continue
        elif event[0] == "text":
            found = _PROFILE.findall(event[1])
            if found:
                profile = found[-1].lower()
        elif event[0] == "table":
            out[current].append((profile, event[1]))
    return out


def check_table(rows: list[list[str]], partial: bool = False) -> str | None:
    """``None`` when the table has reproduced numbers, else why not."""
    if not rows:
        return "an empty table"
    header, body = rows[0], rows[1:]
    columns = [i for i, name in enumerate(header) if "reproduced" in name.lower()]
    if not columns:
        return "only the paper's values (no 'reproduced' columns: no results records?)"
    if not body:
        return "a table without rows"
    missing = []
    for row in body:
        cells = [row[i] if i < len(row) else "" for i in columns]
        if any(PLACEHOLDER in c.lower() or not _NUMBER.match(c) for c in cells):
            missing.append(row[0] if row else "?")
    if not missing or (partial and len(missing) < len(body)):
        return None
    return f"'{PLACEHOLDER}' (or no number) for {', '.join(missing)}"


def check_html(html: str, profile: str | None = None, partial: bool = False) -> list[str]:
    """The problems found (empty: the page passes)."""
    found = sections(html)
    problems = []
    for number in TABLES:
        tables = found.get(number)
        if tables is None:
            problems.append(f"Table {number}: no section headed 'Table {number}' on the page")
            continue
        candidates = [(p, rows) for p, rows in tables if profile is None or p == profile]
        if not candidates:
            shown = sorted({p for p, _ in tables if p}) or ["none named"]
            problems.append(f"Table {number}: no table for profile {profile!r} "
                            f"(profiles shown: {', '.join(shown)})")
            continue
        reasons = [check_table(rows, partial) for _, rows in candidates]
        if all(reasons):
            detail = "; ".join(f"{'profile ' + p if p else 'table'}: {r}"
                               for (p, _), r in zip(candidates, reasons))
            problems.append(f"Table {number}: no reproduced numbers ({detail})")
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
    args = parser.parse_args(argv)
    try:
        page = find_page(args.path)
        html = page.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"check_book: {exc}", file=sys.stderr)
        return 2
    problems = check_html(html, args.profile, args.partial)
    if problems:
        print(f"check_book: {page} does not show the reproduced tables:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"check_book: {page}: Tables 1, 2 and 3 show reproduced numbers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
