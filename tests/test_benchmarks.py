"""Smoke tests of the benchmark scripts in benchmarks/: each one's --tiny path runs, prints its
ratio lines and writes a results file the book can read. No timing is asserted (the tiny
stand-in model's numbers mean nothing)."""
from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from sadutils.reporting import benchmarks as bm

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
RATIO = re.compile(r"^RATIO .+ = -?\d+\.\d+", re.M)


@pytest.fixture
def bench(monkeypatch):
    """Import a benchmark script as a module (they import their helper ``benchlib`` by name)."""
    monkeypatch.syspath_prepend(str(BENCH))

    def load(name):
        return importlib.import_module(name)

    return load


def run_script(bench, capsys, name, tmp_path, *extra):
    module = bench(name)
    out_dir = tmp_path / "benchmarks"  # as under a results root
    code = module.main(["--tiny", "--out", str(out_dir), "--note", "pytest", *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    ratios = RATIO.findall(out)
    assert ratios, f"{name} printed no RATIO lines:\n{out}"
    rows = json.loads((out_dir / f"{name}.json").read_text())
    assert rows and all(r["benchmark"] == name and r["mode"] == "tiny" for r in rows)
    assert rows[0]["machine"]["cpu_count"] and rows[0]["machine"]["note"] == "pytest"
    tables = bm.read_benchmarks(tmp_path)  # the book reads the file this way
    assert list(tables) == [name]
    table = tables[name]
    assert len(table) == len(rows) and "machine.tensorflow" in table.columns
    return out, rows


def test_pipeline_overhead(bench, capsys, tmp_path):
    out, rows = run_script(bench, capsys, "pipeline_overhead", tmp_path)
    assert "RATIO pipeline/in-memory [tiny]" in out
    row = rows[0]
    assert row["pipeline_img_s"] > 0 and row["in_memory_img_s"] > 0
    assert row["overhead_pct"] == pytest.approx((1 - row["ratio"]) * 100, abs=0.01)


def test_inference(bench, capsys, tmp_path):
    out, rows = run_script(bench, capsys, "inference", tmp_path)
    assert "RATIO ours/bare [tiny]" in out and "RATIO keras_predict/bare [tiny]" in out
    row = rows[0]
    assert row["max_abs_diff_vs_bare"] < 1e-4  # predict_proba computes what the model computes
    assert isinstance(row["target_met"], bool)


def test_downloader(bench, capsys, tmp_path):
    out, rows = run_script(bench, capsys, "downloader", tmp_path)
    assert "RATIO 4 workers / 1 worker" in out
    assert [r["workers"] for r in rows] == [1, 4]
    assert rows[0]["speedup_vs_1"] == pytest.approx(1.0)


def test_precision(bench, capsys, tmp_path):
    import keras

    out, rows = run_script(bench, capsys, "precision", tmp_path)
    assert "RATIO bf16/float32 train [tiny]" in out and "RECOMMENDATION" in out
    assert {r["phase"] for r in rows} == {"train", "inference"}
    assert 0.0 <= rows[0]["label_agreement"] <= 1.0
    assert keras.mixed_precision.global_policy().name == "float32"  # the policy is restored


def test_gpu_script_runs_on_cpu(bench, capsys, tmp_path):
    import keras

    out, rows = run_script(bench, capsys, "gpu", tmp_path)
    assert "RATIO xla/graph train [tiny]" in out
    assert rows[0]["train_off_img_s"] > 0 and rows[0]["infer_on_img_s"] > 0
    assert keras.mixed_precision.global_policy().name == "float32"


def test_time_budget_skips_backbones(bench, capsys, tmp_path):
    code = bench("gpu").main(["--tiny", "--no-save", "--time-budget", "0", "--xla", "off"])
    out = capsys.readouterr().out
    assert code == 0 and "skipped: time budget" in out


def test_results_keep_other_rows(bench, tmp_path):
    """A run that measures one backbone replaces that backbone's rows only (--fresh: all)."""
    import argparse

    bl = bench("benchlib")

    def run(backbones, fresh=False):
        args = argparse.Namespace(tiny=False, quick=True, out=str(tmp_path), no_save=False,
                                  fresh=fresh, note="")
        res = bl.Results("demo", args)
        for b in backbones:
            res.add(backbone=b, img_s=1.0)
        return [(r["backbone"], r["created_at"]) for r in
                json.loads((tmp_path / "demo.json").read_text())]

    assert [b for b, _ in run(["a", "b"])] == ["a", "b"]
    assert [b for b, _ in run(["b", "c"])] == ["a", "b", "c"]
    assert [b for b, _ in run(["c"], fresh=True)] == ["c"]


def test_demo_walltime_reads_the_reproduce_state(bench, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SADUTILS_RESULTS", str(tmp_path))
    state = {"profile": "demo", "runs": {
        "01_text_classifier": {"wall_s": 60.0, "status": "ok", "finished_at": "x"},
        "02_filtering": {"wall_s": 15.5, "status": "ok", "finished_at": "y"}}}
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "reproduce.json").write_text(json.dumps(state))
    run_script(bench, capsys, "demo_walltime", tmp_path)
    rows = json.loads((tmp_path / "benchmarks" / "demo_walltime.json").read_text())
    assert {r["step"]: r["wall_s"] for r in rows} == {"01_text_classifier": 60.0,
                                                      "02_filtering": 15.5, "total": 75.5}


def test_ocr(bench, capsys, tmp_path):
    out, rows = run_script(bench, capsys, "ocr", tmp_path)
    for kind in ("webemo-like", "photos"):
        assert f"RATIO 2 workers / 1 worker [{kind}]" in out
        assert f"RATIO ours / rapidocr default [{kind}]" in out
    assert "COST 2 workers on" in out and "DECISIONS at threshold 0.5" in out
    timed = [r for r in rows if r["case"] != "decisions"]
    assert {r["images"] for r in timed} == {"webemo-like", "photos"}
    assert {r["case"] for r in timed} == {"rapidocr default", "1 worker", "2 workers",
                                          "1 worker x 2 threads", "max side 960"}
    assert all(r["ms_per_image"] > 0 for r in timed)
    decisions = next(r for r in rows if r["case"] == "decisions")
    assert decisions["photos_n"] == 2 and decisions["photos_balanced_accuracy"] == 1.0


def test_first_step(bench, capsys, tmp_path):
    out, rows = run_script(bench, capsys, "first_step", tmp_path)
    assert "RATIO lazy/prebuilt first step [tiny]" in out
    row = rows[0]
    assert row["lazy_first_step_s"] > 0 and row["prebuilt_first_step_s"] > 0
    assert row["step_s"] > 0 and row["inference_forward_first_call_s"] > 0


def test_durable_writes(bench, capsys, tmp_path):
    out, rows = run_script(bench, capsys, "durable_writes", tmp_path)
    assert "RATIO durable/plain time [record (2 KB)]" in out
    assert "RATIO durable/plain time [demo-data --scale 0.005]" in out
    assert {r["case"] for r in rows} == {"record (2 KB)", "image (30 KB)", "checkpoint (8 MB)",
                                         "demo-data --scale 0.005"}
    assert all(r["durable_ms"] > 0 and r["plain_ms"] > 0 for r in rows)
