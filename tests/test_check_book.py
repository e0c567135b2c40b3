"""`.ci/check_book.py` on FAKE results pages written in the markup Sphinx/MyST-NB produce."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "check_book.py"
spec = importlib.util.spec_from_file_location("check_book", SCRIPT)
check_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_book)

ROWS = {"1": ["Xception", "EfficientNetV2B0", "EfficientNetV2B2", "EfficientNetV2S",
              "Xception no-pretrain"],
        "2": ["Xception", "EfficientNetV2B0", "EfficientNetV2B2", "EfficientNetV2S"],
        "3": ["Xception", "EfficientNetV2B0", "EfficientNetV2B2", "EfficientNetV2S"]}
HEADER = ["Model", "Accuracy % paper", "Accuracy % reproduced [95% CI]", "Accuracy Δ (points)",
          "Overall F1 paper", "Overall F1 reproduced [95% CI]", "Overall F1 Δ"]


def _table(header, rows):
    th = "\n".join(f'<th class="head text-left"><p>{h}</p></th>' for h in header)
    body = "\n".join('<tr class="row-even">' + "".join(f'<td class="text-left"><p>{c}</p></td>'
                                                      for c in row) + "</tr>" for row in rows)
    return (f'<div class="pst-scrollable-table-container"><table class="table">\n<thead>\n'
            f'<tr class="row-odd">{th}</tr>\n</thead>\n<tbody>\n{body}\n</tbody>\n</table></div>')


def _section(number, tables):
    return (f'<section id="table-{number}"><h2>Table {number}: title<a class="headerlink" '
            f'href="#table-{number}" title="Link to this heading">#</a></h2>\n'
            f'<p>The same models.</p>\n<div class="cell tag_remove-input docutils container">'
            f'<div class="cell_output docutils container">{"".join(tables)}</div></div></section>')


def _reproduced(number, profile="demo", missing=()):
    rows = [[r, "72.53", "(not run yet)" if r in missing else "61.2 [51.2, 71.2]",
             "" if r in missing else "-11.33", "0.73", "not run yet" if r in missing else "0.55",
             "" if r in missing else "-0.180"] for r in ROWS[number]]
    rows = [[c.replace("(not run yet)", "not run yet") for c in row] for row in rows]
    return (f'<p><strong>Profile <code class="docutils literal notranslate"><span class="pre">'
            f'{profile}</span></code>.</strong> Reproduced numbers: {profile.upper()} profile, '
            f'trained and tested ...</p>\n' + _table(HEADER, rows))


def _paper_only(number):
    return ("<p>Paper values only: no results records yet (see above).</p>"
            + _table(["Model", "Accuracy % paper", "Overall F1 paper"],
                     [[r, "72.53", "0.73"] for r in ROWS[number]]))


def _page(sections):
    return ('<html><body><main><section id="results"><h1>Results<a class="headerlink" '
            'href="#results">#</a></h1><p>Records found.</p>' + "".join(sections)
            + "<section id='figures'><h2>Figures</h2><table><tr><td>x</td></tr></table>"
              "</section></section></main></body></html>")


def _write(tmp_path, html):
    page = tmp_path / "_build" / "html" / "results.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(html, encoding="utf-8")
    return page


def test_complete_page_passes(tmp_path, capsys):
    _write(tmp_path, _page(_section(n, [_reproduced(n)]) for n in "123"))
    assert check_book.main([str(tmp_path / "_build")]) == 0
    assert "Tables 1, 2 and 3 show reproduced numbers" in capsys.readouterr().out


def test_placeholder_rows_fail_naming_table_and_rows(tmp_path, capsys):
    html = _page([_section("1", [_reproduced("1")]),
                  _section("2", [_reproduced("2", missing=("EfficientNetV2S",))]),
                  _section("3", [_reproduced("3")])])
    page = _write(tmp_path, html)
    assert check_book.main([str(page)]) == 1
    err = capsys.readouterr().err
    assert "Table 2" in err and "EfficientNetV2S" in err and "not run yet" in err
    assert "Table 1" not in err and "Table 3" not in err
    assert check_book.main([str(page), "--partial"]) == 0


def test_paper_values_only_and_missing_section_fail(tmp_path, capsys):
    page = _write(tmp_path, _page([_section("1", [_paper_only("1")]),
                                   _section("2", [_reproduced("2")])]))
    assert check_book.main([str(page)]) == 1
    err = capsys.readouterr().err
    assert "Table 1: no reproduced numbers" in err and "only the paper's values" in err
    assert "Table 3: no section headed 'Table 3'" in err


def test_profiles(tmp_path, capsys):
    html = _page(_section(n, [_reproduced(n, "demo"),
                              _reproduced(n, "paper", missing=ROWS[n][:1])]) for n in "123")
    page = _write(tmp_path, html)
    assert check_book.main([str(page)]) == 0            # demo's tables are complete
    assert check_book.main([str(page), "--profile", "demo"]) == 0
    capsys.readouterr()
    assert check_book.main([str(page), "--profile", "paper"]) == 1
    assert "profile paper: 'not run yet' (or no number) for Xception" in capsys.readouterr().err
    sections = check_book.sections(html)
    assert [p for p, _ in sections["2"]] == ["demo", "paper"]


def test_missing_page(tmp_path, capsys):
    assert check_book.main([str(tmp_path / "nope")]) == 2
    assert "results page not found" in capsys.readouterr().err


@pytest.mark.parametrize("cell,ok", [("61.2 [51.2, 71.2]", True), ("0.55", True), ("-3", True),
                                     ("not run yet", False), ("", False), ("n/a", False)])
def test_cells(cell, ok):
    rows = [HEADER[:3], ["Xception", "72.53", cell]]
    assert (check_book.check_table(rows) is None) == ok
