"""`.ci/check_book.py` on FAKE results pages written in the markup the book produces.

The pages are hand-written in the markup of ``sadutils.reporting.table_html.comparison_html``
(tests/reporting/test_book.py checks that the script accepts what that function really
writes); the numbers are invented.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "check_book.py"
spec = importlib.util.spec_from_file_location("check_book", SCRIPT)
check_book = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = check_book  # its dataclasses look their module up there
spec.loader.exec_module(check_book)

ROWS = {"1": ["Xception", "EfficientNetV2B0", "EfficientNetV2B2", "EfficientNetV2S",
              "Xception no-pretrain"],
        "2": ["Xception", "EfficientNetV2B0", "EfficientNetV2B2", "EfficientNetV2S"],
        "3": ["Xception", "EfficientNetV2B0", "EfficientNetV2B2", "EfficientNetV2S"]}


def _line(kind, label, text, href=None):
    if href:
        text = f'<a class="sadutils-record-link" href="{href}">{text}</a>'
    return (f'<span class="sadutils-line sadutils-{kind}"><span class="sadutils-label">{label}'
            f"</span> {text}</span>")


def _cell(row, missing=False, ours="61.2", linked=True, paper=True):
    lines = [_line("paper", "paper", "72.53")] if paper else []
    if missing:
        lines.append(_line("missing", "ours", "not run yet"))
    else:
        lines += [_line("ours", "ours", ours, f"records/demo/fake-{row}.json" if linked else None),
                  _line("interval", "95% CI", "[51.2, 71.2]"),
                  _line("difference", "Δ", "-11.33")]
    return "<td>" + "".join(lines) + "</td>"


def _table(number, profile="demo", missing=(), unlinked=(), paper_only=False, ours="61.2"):
    body = []
    for row in ROWS[number]:
        if paper_only:
            cells = "".join(f"<td>{_line('paper', 'paper', '72.53')}</td>" for _ in range(4))
        else:
            cells = "".join(_cell(row, row in missing, ours, row not in unlinked)
                            for _ in range(4))
        body.append(f'<tr><th scope="row">{row}<span class="sadutils-line sadutils-note">'
                    f"scratch weights</span></th>{cells}</tr>")
    head = "".join(f'<th scope="col">{h}</th>' for h in
                   ("Model", "Accuracy (%)", "Sadness F1", "Others F1", "Overall F1"))
    return (f'<table class="sadutils-comparison" data-table="table{number}" '
            f'data-profile="{"" if paper_only else profile}"><caption>Paper vs. ...</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _section(number, tables):
    return (f'<section id="table-{number}"><h2>Table {number}: title<a class="headerlink" '
            f'href="#table-{number}">#</a></h2><div class="cell tag_remove-input docutils '
            f'container"><div class="cell_output docutils container"><div class="output '
            f'text_html">{"".join(tables)}</div></div></div></section>')


def _page(sections):
    return ('<html><body><main><section id="results"><h1>Results</h1><p>Records found.</p>'
            + "".join(sections)
            + "<section id='records'><h2>Records</h2><table class='sadutils-records-table'>"
              "<tr><td>x</td></tr></table></section></section></main></body></html>")


def _write(tmp_path, html):
    page = tmp_path / "_build" / "html" / "results.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(html, encoding="utf-8")
    return page


def test_complete_page_passes(tmp_path, capsys):
    _write(tmp_path, _page(_section(n, [_table(n)]) for n in "123"))
    assert check_book.main([str(tmp_path / "_build")]) == 0
    assert "Tables 1, 2 and 3 show reproduced numbers" in capsys.readouterr().out


def test_the_tables_are_read_row_by_row(tmp_path):
    tables = check_book.comparison_tables(_page([_section("2", [_table("2", missing=("X",))])]))
    assert [(t.table, t.profile) for t in tables] == [("table2", "demo")]
    row = tables[0].rows[0]
    assert row.model == "Xception"  # the note under the name is not part of it
    assert len(row.cells) == 4
    assert row.cells[0] == {"paper": "72.53", "ours": "61.2", "interval": "[51.2, 71.2]",
                            "difference": "-11.33"}
    assert row.linked[0] == {"ours"}


def test_placeholder_rows_fail_naming_table_and_rows(tmp_path, capsys):
    html = _page([_section("1", [_table("1")]),
                  _section("2", [_table("2", missing=("EfficientNetV2S",))]),
                  _section("3", [_table("3")])])
    page = _write(tmp_path, html)
    assert check_book.main([str(page)]) == 1
    err = capsys.readouterr().err
    assert "Table 2" in err and "EfficientNetV2S" in err and "not run yet" in err
    assert "Table 1" not in err and "Table 3" not in err
    assert check_book.main([str(page), "--partial"]) == 0


def test_a_reproduced_number_without_its_record_link_fails(tmp_path, capsys):
    html = _page([_section(n, [_table(n, unlinked=("Xception",) if n == "3" else ())])
                  for n in "123"])
    assert check_book.main([str(_write(tmp_path, html))]) == 1
    err = capsys.readouterr().err
    assert "Table 3" in err and "without a link to their record for Xception" in err


def test_paper_values_only_and_missing_table_fail(tmp_path, capsys):
    page = _write(tmp_path, _page([_section("1", [_table("1", paper_only=True)]),
                                   _section("2", [_table("2")])]))
    assert check_book.main([str(page)]) == 1
    err = capsys.readouterr().err
    assert "Table 1: no reproduced numbers" in err and "only the paper's values" in err
    assert "Table 3: no comparison table on the page" in err


def test_profiles(tmp_path, capsys):
    html = _page(_section(n, [_table(n, "demo"), _table(n, "paper", missing=ROWS[n][:1])])
                 for n in "123")
    page = _write(tmp_path, html)
    assert check_book.main([str(page)]) == 0            # demo's tables are complete
    assert check_book.main([str(page), "--profile", "demo"]) == 0
    capsys.readouterr()
    assert check_book.main([str(page), "--profile", "paper"]) == 1
    assert "profile paper: 'not run yet' (or no number) for Xception" in capsys.readouterr().err
    assert check_book.main([str(page), "--profile", "other"]) == 1
    assert "no table for profile 'other' (profiles shown: demo, paper)" in \
        capsys.readouterr().err
    assert [t.profile for t in check_book.comparison_tables(html) if t.table == "table2"] == \
        ["demo", "paper"]


def test_missing_page(tmp_path, capsys):
    assert check_book.main([str(tmp_path / "nope")]) == 2
    assert "results page not found" in capsys.readouterr().err


@pytest.mark.parametrize("ours,ok", [("61.2", True), ("0.55", True), ("-3", True),
                                     ("", False), ("n/a", False), ("61.2 [1, 2]", False)])
def test_cells(ours, ok):
    table = check_book.comparison_tables(_table("2", ours=ours))[0]
    assert (check_book.check_table(table) is None) == ok


# ---------------------------------------------------------------------------- quiet pages

def _output(text, stream="stdout"):
    """A cell output as MyST-NB renders it (the stderr block of the issue's book)."""
    kind = "stderr" if stream == "stderr" else "stream"
    return ('<div class="cell docutils container"><div class="cell_output docutils container">'
            f'<div class="output {kind} highlight-myst-ansi notranslate"><div class="highlight">'
            f"<pre><span></span>{text}</pre></div></div></div></div>")


MACHINE = "/home/ci/clone"
TQDM = (f"{MACHINE}/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: IProgress "
        "not found. Please update jupyter and ipywidgets.")


def _quiet_page(*bodies):
    return ("<html><body><main><h1>Analysis</h1><p>Prose that names results/demo/records/ and "
            "a Warning in words.</p>" + "".join(bodies) + "</main></body></html>")


def test_a_quiet_page_passes():
    html = _quiet_page(_output("accuracy 0.61\nrecords: results/demo/records/x.json"))
    assert check_book.check_page_html(html, [MACHINE + "/"]) == []


@pytest.mark.parametrize("body, expected", [
    (_output(TQDM, "stderr"), "a stderr block: '/home/ci/clone/.venv/lib/python3.11/"),
    (_output("I0000 00:00:1796.1 13087 cudart_stub.cc:31] Could not find cuda drivers"),
     "a warning in a cell's output: 'I0000 00:00:1796.1"),
    (_output("done\nUserWarning: something in a stdout stream"),
     "a warning in a cell's output: 'UserWarning:"),
    ("<p>Saved to /home/ci/clone/results/demo/x.csv</p>", "the machine path /home/ci/clone/"),
    ("<p>/usr/lib/python3/dist-packages/../site-packages/keras/x.py</p>",
     "the installed-package path"),
])
def test_a_warning_or_a_machine_path_fails_the_page(body, expected):
    problems = check_book.check_page_html(_quiet_page(body), [MACHINE + "/"])
    assert any(p.startswith(expected) for p in problems), problems


def test_notebooks_offered_for_download_are_checked_too():
    nb = {"cells": [{"cell_type": "code", "source": "", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": ["ok\n"]},
        {"output_type": "stream", "name": "stderr", "text": [TQDM]}]}]}
    problems = check_book.check_notebook(json.dumps(nb), [MACHINE + "/"])
    assert problems[0].startswith("a stderr block") and "the machine path /home/ci/clone/" in \
        problems
    nb["cells"][0]["outputs"].pop()
    assert check_book.check_notebook(json.dumps(nb), [MACHINE + "/"]) == []


def test_main_fails_a_build_with_one_noisy_page(tmp_path, capsys):
    tables = _page([_section(n, [_table(n)]) for n in ("1", "2", "3")])
    page = _write(tmp_path, tables)
    (page.parent / "executed").mkdir()
    (page.parent / "executed" / "03_train-xception.html").write_text(_quiet_page(_output("x")))
    assert check_book.main([str(page.parent), "--machine-path", MACHINE]) == 0
    (page.parent / "analysis.html").write_text(_quiet_page(_output(TQDM, "stderr")))
    assert check_book.main([str(page.parent), "--machine-path", MACHINE]) == 1
    err = capsys.readouterr().err
    assert "analysis.html: a stderr block" in err and "results.html" not in err.split(
        "show warnings")[1]


def test_machine_paths_are_the_checkout_and_home_not_the_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", "/")
    assert check_book.machine_paths() == [str(tmp_path) + "/"]
    assert check_book.machine_paths(["/srv/book/"]) == ["/srv/book/"]
