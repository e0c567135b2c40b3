"""sadutils.reporting.benchmarks: what the book's Performance page shows."""
import json
import math

import pandas as pd
import pytest

from sadutils import workspace
from sadutils.reporting import benchmarks as bm

REFERENCE = workspace.repo_root() / "benchmarks" / "reference"


def machine(**overrides):
    info = {"platform": "Linux", "cpu": "Test CPU 9000", "cpu_count": 4,
            "cpu_flags": "avx2", "memory_gb": 16.0, "gpus": "none", "python": "3.11.7",
            "tensorflow": "2.21.0", "keras": "3.15.1", "git_commit": "abcdef1234",
            "load_avg_at_start": "0.10, 0.20, 0.30", "note": ""}
    return {**info, **overrides}


def row(created_at="2026-12-01T10:00:07+00:00", mode="quick", machine_info=None, **values):
    return {"benchmark": "x", "mode": mode, "created_at": created_at,
            **values, "machine": machine_info or machine()}


def write(root, name, data):
    folder = workspace.benchmarks_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- reading

def test_read_benchmarks_of_an_empty_results_root_is_empty(tmp_path):
    assert bm.read_benchmarks(tmp_path) == {}


def test_read_benchmarks_flattens_each_file_by_name(tmp_path):
    write(tmp_path, "inference", [row(backbone="a", ours_img_s=1.5),
                                  row(backbone="b", ours_img_s=2.5)])
    write(tmp_path, "single", row(value=3))  # one object, not a list: one row

    tables = bm.read_benchmarks(tmp_path)

    assert list(tables) == ["inference", "single"]
    assert list(tables["inference"]["backbone"]) == ["a", "b"]
    assert list(tables["inference"]["machine.cpu"]) == ["Test CPU 9000"] * 2
    assert len(tables["single"]) == 1 and tables["single"]["value"].iloc[0] == 3


def test_read_benchmarks_skips_an_unreadable_file_with_a_warning_naming_it(tmp_path):
    broken = write(tmp_path, "broken", "{not json")
    write(tmp_path, "good", [row(value=1)])

    with pytest.warns(UserWarning, match="broken.json") as caught:
        tables = bm.read_benchmarks(tmp_path)

    assert list(tables) == ["good"]
    assert str(broken) in str(caught[0].message)


def test_read_benchmarks_defaults_to_the_results_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SADUTILS_RESULTS", str(tmp_path))
    write(tmp_path, "downloader", [row(workers=1)])

    assert list(bm.read_benchmarks()) == ["downloader"]


def test_reference_benchmark_reads_the_shipped_file():
    ref = bm.reference_benchmark("inference")
    shipped = json.loads((REFERENCE / "inference.json").read_text(encoding="utf-8"))

    assert len(ref) == len(shipped)
    assert list(ref["backbone"]) == [r["backbone"] for r in shipped]
    assert "machine.cpu" in ref.columns


def test_reference_benchmark_of_an_unknown_name_is_none():
    assert bm.reference_benchmark("no_such_benchmark") is None


def test_benchmark_table_prefers_this_checkouts_results_over_the_reference(tmp_path):
    write(tmp_path, "inference", [row(backbone="mine", ours_img_s=123.0)])

    df, source = bm.benchmark_table("inference", tmp_path)

    assert list(df["backbone"]) == ["mine"]
    assert source == "this checkout's `results/benchmarks/inference.json`"


def test_benchmark_table_falls_back_to_the_reference(tmp_path):
    df, source = bm.benchmark_table("inference", tmp_path)

    assert source == "reference measurement `benchmarks/reference/inference.json`"
    pd.testing.assert_frame_equal(df, bm.reference_benchmark("inference"))


def test_benchmark_table_falls_back_to_the_reference_when_the_result_is_unreadable(tmp_path):
    write(tmp_path, "inference", "[{")

    with pytest.warns(UserWarning, match="inference.json"):
        df, source = bm.benchmark_table("inference", tmp_path)

    assert source.startswith("reference measurement")
    assert len(df) == len(bm.reference_benchmark("inference"))


def test_benchmark_table_of_an_unmeasured_benchmark_is_none(tmp_path):
    assert bm.benchmark_table("no_such_benchmark", tmp_path) == (None, None)


# ----------------------------------------------------------------------------- machine lines

def test_machine_lines_name_the_cpu_the_date_and_the_mode():
    df = pd.json_normalize([row(created_at="2026-12-01T10:00:07+00:00", mode="full",
                                machine_info=machine(note="quiet machine"))])

    line, = bm.machine_lines(df)

    assert line == ("2026-12-01 10:00 UTC, full mode: Test CPU 9000 × 4 (avx2; 16.0 GB), GPU: "
                    "none; TensorFlow 2.21.0, Keras 3.15.1; commit abcdef1234; load average at "
                    "start 0.10, 0.20, 0.30; note: *quiet machine*")


def test_machine_lines_give_one_line_per_run():
    same_run = [row(created_at="2026-12-01T10:00:07+00:00"),
                row(created_at="2026-12-01T10:00:09+00:00")]
    later_run = row(created_at="2026-12-02T08:30:00+00:00",
                    machine_info=machine(git_commit="9999999999"))

    lines = bm.machine_lines(pd.json_normalize(same_run + [later_run]))

    assert len(lines) == 2
    assert lines[0].startswith("2026-12-01 10:00 UTC") and "commit abcdef1234" in lines[0]
    assert lines[1].startswith("2026-12-02 08:30 UTC") and "commit 9999999999" in lines[1]


def test_machine_lines_leave_out_an_empty_note_and_mark_missing_columns():
    df = pd.json_normalize([row(machine_info=machine(note=""))]).drop(columns="machine.keras")

    line, = bm.machine_lines(df)

    assert "note" not in line
    assert "Keras ?;" in line


# ----------------------------------------------------------------------------- tables

def test_select_columns_keeps_the_order_drops_missing_columns_and_renames():
    df = pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]})

    shown = bm.select_columns(df, ["c", "not_there", "a"], rename={"c": "C label"})

    assert list(shown.columns) == ["C label", "a"]


def test_tables_render_floats_and_escape_pipes():
    df = pd.DataFrame({"name": ["a|b", None], "value": [1.23456, math.nan], "n": [3, 4]})

    text = bm.format_table(df)

    assert text.splitlines() == ["| name | value | n |",
                                 "|:---|---:|---:|",
                                 "| a\\|b | 1.23 | 3 |",
                                 "|  |  | 4 |"]


def test_target_met_shows_met_missed_and_empty(tmp_path):
    write(tmp_path, "downloader", [row(workers=1, target_met=None),
                                   row(workers=8, target_met=False),
                                   row(workers=32, target_met=True)])

    text = bm.benchmark_markdown("downloader", ["workers", "target_met"],
                                 {"target_met": "≥ 20× at 32"}, results_root=tmp_path)

    assert "| workers | ≥ 20× at 32 |" in text
    assert "| 1 |  |" in text
    assert "| 8 | missed |" in text
    assert "| 32 | met |" in text


def test_digits_format_small_numbers_and_other_floats_get_two_decimals(tmp_path):
    write(tmp_path, "precision", [row(phase="train", feature_rel_error=0.02812,
                                      max_abs_prob_diff=0.0001234, bf16_vs_float32=1.01987),
                                  row(phase="inference", feature_rel_error=None,
                                      max_abs_prob_diff=0.5, bf16_vs_float32=1.3)])

    text = bm.benchmark_markdown(
        "precision", ["phase", "feature_rel_error", "max_abs_prob_diff", "bf16_vs_float32"],
        digits={"feature_rel_error": ".3f", "max_abs_prob_diff": ".1e"}, results_root=tmp_path)

    assert "| train | 0.028 | 1.2e-04 | 1.02 |" in text
    assert "| inference |  | 5.0e-01 | 1.30 |" in text


def test_benchmark_markdown_says_where_and_on_what_machine(tmp_path):
    write(tmp_path, "inference", [row(backbone="mine", ours_img_s=50.0)])

    text = bm.benchmark_markdown("inference", ["backbone", "ours_img_s"],
                                 {"ours_img_s": "ours img/s"}, results_root=tmp_path)

    lines = text.splitlines()
    assert lines[0] == "From this checkout's `results/benchmarks/inference.json`."
    assert lines[2] == "| backbone | ours img/s |"
    assert lines[-1].startswith("- 2026-12-01 10:00 UTC, quick mode: Test CPU 9000 × 4")


def test_benchmark_markdown_of_the_shipped_reference_has_a_row_per_measurement(tmp_path):
    text = bm.benchmark_markdown("downloader", ["workers", "speedup_vs_1"],
                                 results_root=tmp_path)

    table_rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert text.startswith("From reference measurement `benchmarks/reference/downloader.json`.")
    assert len(table_rows) == 1 + len(bm.reference_benchmark("downloader"))


def test_benchmark_markdown_of_an_unmeasured_benchmark_says_how_to_measure_it(tmp_path):
    text = bm.benchmark_markdown("no_such_benchmark", ["a"], results_root=tmp_path)

    assert text == ("*Not measured yet:* run `python benchmarks/no_such_benchmark.py --quick` "
                    "(or without `--quick`) and build the book again.")
    assert bm.benchmark_markdown("no_such_benchmark", ["a"], missing="*No GPU.*",
                                 results_root=tmp_path) == "*No GPU.*"


# ----------------------------------------------------------------------------- paper-scale cost

def gpu_rows(backbones, device="GPU:0"):
    return [row(backbone=b, device=device, train_pipeline_img_s=360.0,
                predict_proba_img_s=720.0) for b in backbones]


ALL_BACKBONES = ["xception", "efficientnetv2b0", "efficientnetv2b2", "efficientnetv2s"]


def test_measured_speeds_on_the_cpu_pair_training_and_inference_per_backbone(tmp_path):
    write(tmp_path, "pipeline_overhead", [row(backbone="xception", pipeline_img_s=5.0,
                                              decode_img_s=100.0)])
    write(tmp_path, "inference", [row(backbone="xception", ours_img_s=20.0),
                                  row(backbone="efficientnetv2b0", ours_img_s=90.0)])

    speeds = bm.measured_speeds("cpu", tmp_path)

    assert speeds.rates == {"xception": (5.0, 20.0)}  # only backbones measured in both
    assert speeds.decode_img_s == 100.0
    assert speeds.sources == ["this checkout's `results/benchmarks/pipeline_overhead.json`",
                              "this checkout's `results/benchmarks/inference.json`",
                              "reference measurement `benchmarks/reference/ocr.json`"]
    assert speeds.ocr_img_s == pytest.approx(4.9478)  # the reference's 2 workers, WEBEmo-like


def test_measured_speeds_ignore_gpu_rows_measured_on_the_cpu(tmp_path):
    assert bm.measured_speeds("gpu", tmp_path).rates == {}  # no gpu.json, and no reference
    write(tmp_path, "gpu", gpu_rows(["xception"], device="CPU:0"))
    assert bm.measured_speeds("gpu", tmp_path).rates == {}
    write(tmp_path, "gpu", gpu_rows(["xception"]) + gpu_rows(["efficientnetv2b0"], "CPU:0"))
    assert bm.measured_speeds("gpu", tmp_path).rates == {"xception": (360.0, 720.0)}
    write(tmp_path, "gpu", [row(backbone="xception", train_pipeline_img_s=1.0,
                                predict_proba_img_s=2.0)])  # no device column: says nothing
    assert bm.measured_speeds("gpu", tmp_path).rates == {}


def test_measured_speeds_reject_an_unknown_kind():
    with pytest.raises(ValueError, match="tpu"):
        bm.measured_speeds("tpu")


def test_run_hours_counts_training_validation_and_predictions():
    run = bm.PaperRun("r", "b", n_images=1000, extra_inference=50, cross_dataset=100)

    hours = bm.run_hours(run, {"b": (10.0, 100.0)}, epochs=2)

    # 700 training and 150 validation images per epoch, then 150 + 50 + 100 predictions.
    assert hours == pytest.approx((2 * 700 / 10 + 2 * 150 / 100 + 300 / 100) / 3600)
    assert bm.run_hours(run, {"other": (10.0, 100.0)}, epochs=2) is None


def test_paper_cost_table_totals_and_marks_what_is_missing():
    cpu = bm.Speeds({b: (10.0, 100.0) for b in ALL_BACKBONES}, None, ["cpu source"])
    gpu = bm.Speeds({"xception": (300.0, 900.0)}, None, ["gpu source"])

    table, totals = bm.paper_cost_table(30, {"cpu": cpu, "gpu": gpu})

    expected = sum(bm.run_hours(r, cpu.rates, 30) for r in bm.PAPER_RUNS)
    assert list(table["run"]) == [r.name for r in bm.PAPER_RUNS] + [
        bm.OCR_ROW, "**total** (with decoding; OCR where measured)"]
    assert table.set_index("run").loc[bm.OCR_ROW, "CPU hours"] == "not measured"
    # The OCR detector's hours join the CPU total when it was measured.
    with_ocr = bm.Speeds(cpu.rates, None, cpu.sources, ocr_img_s=5.0)
    _, totals_ocr = bm.paper_cost_table(30, {"cpu": with_ocr, "gpu": gpu})
    ocr_hours = bm.OCR_IMAGES / 5.0 / 3600
    assert totals_ocr["CPU hours"] == float(f"{expected + ocr_hours:.0f}")
    assert totals == {"CPU hours": float(f"{expected:.0f}"), "GPU hours": None}
    assert table["GPU hours"].iloc[-1] == "incomplete"
    assert table.set_index("run").loc["EfficientNetV2S", "GPU hours"] == "not measured"


def test_paper_cost_markdown_from_the_references_has_no_gpu_numbers(tmp_path):
    text = bm.paper_cost_markdown(30, tmp_path)

    assert "| **total** (with decoding; OCR where measured) |  |" in text
    assert "of CPU time**" in text and "of GPU time**" not in text
    assert ("- CPU speeds from reference measurement `benchmarks/reference/pipeline_overhead.json`"
            ", reference measurement `benchmarks/reference/inference.json`, reference "
            "measurement `benchmarks/reference/ocr.json`") in text
    assert f"OCR detector 4.9 img/s on WEBEmo-like images ({bm.OCR_IMAGES:,} images)" in text
    assert "- GPU: no measurement yet (run `python benchmarks/gpu.py`" in text


def test_paper_cost_markdown_uses_a_gpu_measurement(tmp_path):
    write(tmp_path, "gpu", gpu_rows(ALL_BACKBONES))

    text = bm.paper_cost_markdown(30, tmp_path)

    assert "hours of GPU time**" in text
    assert ("- GPU speeds from this checkout's `results/benchmarks/gpu.json` (batch 64, "
            "synthetic data; decoding not included); backbones: efficientnetv2b0 360.0 / 720.0 "
            "img/s") in text
    # Only the OCR detector has no GPU measurement (benchmarks/ocr.py ran on the CPU).
    assert [line for line in text.splitlines() if "not measured" in line] == [
        line for line in text.splitlines() if line.startswith(f"| {bm.OCR_ROW} |")]


def test_precision_summary_is_computed_from_the_rows(tmp_path):
    text = bm.precision_summary(tmp_path)  # no results here: the shipped reference
    reference = bm.reference_benchmark("precision").set_index("phase")
    inference = 100 * (reference.loc["inference", "bf16_vs_float32"] - 1)
    assert f"inference {abs(inference):.0f}% {'faster' if inference >= 0 else 'slower'}" in text
    assert "reference measurement" in text
    write(tmp_path, "precision", [row(phase="train", bf16_vs_float32=0.5,
                                      confident_head_label_agreement=0.9,
                                      confident_head_max_abs_prob_diff=0.2,
                                      feature_rel_error=0.1, backbone="x")])
    mine = bm.precision_summary(tmp_path)
    assert "training 50% slower" in mine and "inference not measured" in mine
    assert "90.0% of the images" in mine
