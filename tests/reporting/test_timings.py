"""sadutils.reporting.timings: the Performance page's account of where a run's time went."""
from __future__ import annotations

import json

import pytest

from sadutils.reporting import timings
from sadutils.workspace import Workspace


#: As papermill runs a notebook: its parameters cell, the injected one, then the imports.
CELLS = ((1, 'profile = "demo"', 0.01), (2, "# Parameters", 0.01), (3, "import pandas", 4.0),
         (4, "x = 1", 0.5))


def _timing(run, started, wall, kernel, phases, cells=CELLS):
    return {"run": run, "notebook": run.split("-")[0], "status": "ran", "started": started,
            "wall_s": wall, "kernel_start_s": kernel,
            "cells": [{"index": i, "first_line": f, "wall_s": s} for i, f, s in cells],
            "phases": [{"phase": n, "wall_s": w, "cpu_s": c} for n, w, c in phases],
            "machine": {"cpu": "Test CPU (avx2)", "cores": 2}, "environment": {}}


@pytest.fixture
def ws(tmp_path):
    ws = Workspace.create("demo", data_root=tmp_path / "data", results_root=tmp_path / "res")
    ws.timings.mkdir(parents=True)
    runs = [
        _timing("03_train-xception", "2026-12-06T10:00:00+00:00", 100.0, 3.0,
                [("decode images", 5.0, 8.0), ("build model", 2.0, 2.0), ("epoch", 20.0, 39.0),
                 ("epoch", 18.0, 35.0), ("BatchNorm refresh", 3.0, 6.0),
                 ("validation", 1.0, 2.0)]),
        _timing("02_filtering", "2026-12-06T09:59:00+00:00", 50.0, 2.0,
                [("OCR scoring", 30.0, 58.0)]),
    ]
    for t in runs:
        ws.timing_file(t["run"]).write_text(json.dumps(t))
    return ws


def test_runs_are_read_in_start_order_and_split_into_their_parts(ws):
    read = timings.read_timings(ws)
    assert [t["run"] for t in read] == ["02_filtering", "03_train-xception"]
    frame = timings.runs_frame(read).set_index("run")
    x = frame.loc["03_train-xception"]
    assert x["training s"] == 40.0  # build model + two epochs
    assert x["BatchNorm refresh s"] == 3.0 and x["decode s"] == 5.0
    assert x["imports s"] == 4.0  # the first cell after the parameters, the injected ones too
    assert x["other s"] == pytest.approx(100 - 3 - 4 - 40 - 5)
    assert frame.loc["02_filtering", "OCR s"] == 30.0
    assert timings.elapsed_s(read) == pytest.approx(60 + 100)  # 09:59 to 10:01:40


def test_phases_add_up_over_runs_largest_first(ws):
    phases = timings.phases_frame(timings.read_timings(ws)).set_index("phase")
    assert phases.index[0] == "epoch"
    assert phases.loc["epoch", "times"] == 2 and phases.loc["epoch", "wall s"] == 38.0
    assert phases.loc["epoch", "cores busy"] == pytest.approx(74 / 38)
    assert phases.loc["kernel start", "times"] == 2 and phases.loc["kernel start", "wall s"] == 5
    assert phases.loc["OCR scoring", "share of notebook time"] == "20%"


def test_markdown_names_the_machine_and_a_broken_file_is_skipped(ws):
    ws.timing_file("broken").write_text("{not json")
    with pytest.warns(UserWarning, match="broken.json"):
        text = timings.timings_markdown(ws)
    assert "2 notebook runs of the `demo` profile" in text and "Test CPU (avx2) × 2" in text
    assert "150 s in notebooks, 160 s from the first start" in text
    assert "| 03_train-xception |" in text


def test_without_timed_runs_the_page_says_how_to_get_them(tmp_path):
    text = timings.book_markdown(results_root=tmp_path)
    assert text.startswith("*No timed run yet:*") and "results/demo/timings/" in text
