"""`.ci/check_browser.py` on a FAKE built book: small hand-written pages with a table that fits,
one that does not, one hidden in a closed <details>, an image that loads and one that does not,
and links that work or do not.

The logic (which pages, which links are broken, what a measurement means) is tested without a
browser. The last test opens the fake book in Chromium: it needs the `browser` extra
(Playwright) and Debian's `chromium`, which .ci/run installs; elsewhere it skips saying so,
and under SADUTILS_REQUIRE_BROWSER=1 (set by .ci/run) a missing browser fails it instead.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "check_browser.py"
spec = importlib.util.spec_from_file_location("check_browser", SCRIPT)
check_browser = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = check_browser
spec.loader.exec_module(check_browser)

STYLE = ("<style>body{margin:0} main{display:flex} nav{width:300px} "
         "article.bd-article{width:600px} table{border-collapse:collapse} "
         "td{padding:2px;white-space:nowrap}</style>")


def _page(body: str, title: str = "Page") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>{STYLE}"
            f"</head><body><main id='main-content'><nav>menu</nav><article class='bd-article'>"
            f"{body}</article></main></body></html>")


def _table(width_px: int, first: str = "Model") -> str:
    return (f"<table><tr><td>{first}</td><td><div style='width:{width_px}px'>x</div></td></tr>"
            "</table>")


@pytest.fixture
def fake_book(tmp_path) -> Path:
    """A built book: index.html redirects to intro.html; intro.html passes; results.html has
    every kind of problem."""
    root = tmp_path / "_build" / "html"
    (root / "_static").mkdir(parents=True)
    (root / "_images").mkdir()
    (root / "records" / "demo").mkdir(parents=True)
    Image.new("RGB", (4, 3), "red").save(root / "_images" / "ok.png")
    (root / "records" / "demo" / "r1.json").write_text("{}")
    (root / "_static" / "theme.html").write_text("<html>not a page</html>")
    (root / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=intro.html" />')
    (root / "search.html").write_text(_page("search"))
    (root / "intro.html").write_text(_page(
        "<h1 id='intro'>Intro</h1>" + _table(200) + "<img src='_images/ok.png'>"
        "<a href='results.html#table-1'>results</a> <a href='#intro'>top</a> "
        "<a href='https://example.org/x'>outside</a> <a href='mailto:a@b.c'>mail</a>"))
    (root / "results.html").write_text(_page(
        "<h1 id='results'>Results</h1><section id='table-1'><h2>Table 1</h2>"
        + _table(300, "fits") + _table(900, "too wide")
        + "<details><summary>records</summary><h3>Records</h3>" + _table(800, "hidden")
        + "</details></section>"
        "<div style='overflow-x:auto;width:500px'>" + _table(480, "scrolls") + "</div>"
        "<img src='_images/missing.png'>"
        "<a href='records/demo/r1.json'>r1</a> <a href='records/demo/r2.json'>r2</a> "
        "<a href='intro.html#nowhere'>x</a> <a href='executed/'>folder</a>"))
    return root


def test_pages_skip_generated_static_and_redirect_pages(fake_book):
    assert check_browser.book_pages(fake_book) == ["intro.html", "results.html"]
    assert check_browser.redirect_target(fake_book / "index.html") == "intro.html"
    assert check_browser.redirect_target(fake_book / "intro.html") is None
    assert check_browser.find_root(str(fake_book.parent)) == fake_book
    with pytest.raises(FileNotFoundError, match="no built book found"):
        check_browser.find_root(str(fake_book / "records"))


@pytest.mark.parametrize("href,problem", [
    ("results.html", None), ("results.html#table-1", None), ("#intro", None),
    ("records/demo/r1.json", None), ("https://example.org/a", None), ("mailto:x@y.z", None),
    ("records/demo/r2.json", "broken link 'records/demo/r2.json': records/demo/r2.json does "
                             "not exist"),
    ("results.html#nope", "broken link 'results.html#nope': no anchor #nope in results.html"),
    ("#nope", "no anchor #nope in intro.html"),
    ("../../outside.html", "leaves the book's folder"),
    ("executed/", "broken link 'executed/': executed does not exist"),
])
def test_link_problems(fake_book, href, problem):
    found = check_browser.link_problem(fake_book, "intro.html", href)
    assert (found is None) == (problem is None)
    if problem:
        assert problem in found


def test_measurement_problems():
    content = {"left": 300.0, "right": 900.0, "width": 600.0}

    def table(index, left, width, visible=True, scroller=None):
        return {"index": index, "left": left, "right": left + width, "width": width,
                "visible": visible, "scroller": scroller, "heading": "Table 1",
                "firstCell": "Model", "className": ""}

    measured = {"content": content, "images": [
        {"src": "http://h/_images/ok.png", "complete": True, "naturalWidth": 4},
        {"src": "http://h/_images/bad.png", "complete": True, "naturalWidth": 0}],
        "tables": [table(0, 300, 600), table(1, 300, 601.5), table(2, 300, 10, visible=False),
                   table(3, 310, 500, scroller={"scrollWidth": 800, "clientWidth": 500,
                                                "className": "x"}),
                   table(4, 200, 400)]}
    problems = check_browser.measurement_problems("p.html", measured)
    assert problems == [
        "p.html: table 2 under 'Table 1' (first cell 'Model') is 602 px wide, the content "
        "area 600 px",
        "p.html: table 4 under 'Table 1' (first cell 'Model') needs sideways scrolling (800 px "
        "in a 500 px box)",
        "p.html: table 5 under 'Table 1' (first cell 'Model') is 400 px wide, the content area "
        "600 px",
        "p.html: image http://h/_images/bad.png did not load"]


def _browser_or_skip() -> str:
    """The Chromium executable, or a skip (a failure under SADUTILS_REQUIRE_BROWSER=1)."""
    missing = []
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install -e '.[browser]')")
    chromium = next((shutil.which(c) for c in check_browser.CHROMIUM_CANDIDATES
                     if shutil.which(c)), None)
    if chromium is None:
        missing.append("Chromium (apt-get install chromium)")
    if missing:
        reason = "needs " + " and ".join(missing) + "; .ci/run installs them"
        if os.environ.get("SADUTILS_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return chromium


def test_the_fake_book_in_chromium(fake_book, tmp_path, capsys):
    chromium = _browser_or_skip()
    shots = tmp_path / "shots"
    problems = check_browser.check_book(fake_book, shots, chromium, echo=lambda line: None)
    expected = [  # (pattern, how many); widths depend on the fonts, so they are patterns
        (r"results\.html: table 2 under 'Table 1' \(first cell 'too wide'\) is 9\d\d px wide, "
         r"the content area 600 px", 1),
        (r"results\.html: table 3 under 'Records' \(first cell 'hidden'\) is 8\d\d px wide",
         1),
        (r"results\.html: table 4 under 'Table 1' \(first cell 'scrolls'\) needs sideways "
         r"scrolling \(5\d\d px in a 500 px box\)", 1),
        (r"results\.html: image http://127\.0\.0\.1:\d+/_images/missing\.png did not load", 1),
        (r"results\.html: request failed: http://127\.0\.0\.1:\d+/_images/missing\.png "
         r"\(HTTP 404\)", 1),
        (r"results\.html: broken link 'records/demo/r2\.json': records/demo/r2\.json does not "
         r"exist", 1),
        (r"results\.html: broken link 'intro\.html#nowhere': no anchor #nowhere in intro\.html",
         1),
        (r"results\.html: broken link 'executed/': executed does not exist", 1),
    ]
    for pattern, count in expected:
        assert sum(bool(re.match(pattern, p)) for p in problems) == count, (pattern, problems)
    assert len(problems) == len(expected)  # intro.html (the table that fits...) passes
    assert sorted(p.name for p in shots.iterdir()) == ["intro.png", "results.png"]
    with Image.open(shots / "intro.png") as shot:
        assert shot.size == (1280, 1600)
    # The command line: exit status 1, one line per problem.
    assert check_browser.main([str(fake_book), "--no-screenshots", "--chromium", chromium]) == 1
    err = capsys.readouterr().err
    assert "8 problem(s)" in err and "did not load" in err
    (fake_book / "results.html").write_text(_page("<h2 id='table-1'>Table 1</h2>"
                                                  + _table(300, "fits")))  # fixed
    assert check_browser.main([str(fake_book), "--no-screenshots", "--chromium", chromium]) == 0
