"""Results across seeds: summaries, the paper beside them, and pairwise McNemar tests.

The records and predictions here are FAKE: written by the test with invented predictions, so
that the expected means, spreads and test outcomes are known.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sadutils import results
from sadutils.metrics import classification_metrics, evaluate_predictions
from sadutils.records import Record
from sadutils.results import seed_group, seeds_by_row, training_seed

N = 300


def _truth():
    rng = np.random.default_rng(0)
    return rng.choice(["sadness", "others"], N)


def _predictions(accuracy: float, seed: int):
    """Labels right on a seeded share ``accuracy`` of the images."""
    y = _truth()
    right = np.random.default_rng(seed).random(N) < accuracy
    return np.where(right, y, np.where(y == "sadness", "others", "sadness"))


def _write(ws, row, seed, accuracy, epochs=3, kind="train"):
    y = _truth()
    pred = _predictions(accuracy, seed)
    run = f"{row.lower()}-{seed}-{epochs}"
    path = ws.predictions_file(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"path": [f"img{i}.jpg" for i in range(N)], "label": y,
                  "pred": pred}).to_csv(path, index=False)
    metrics, ci = evaluate_predictions(y, pred, seed=seed)
    record = Record.training(
        ws, kind=kind, backbone=row.lower(), row=row, dataset="webemo", metrics=metrics,
        ci95=ci, params={"seed": seed, "epochs": epochs, "image_size": 72},
        weights={"source": "scratch", "pretrained": False, "note": "fake"}, seed=seed,
        manifest_hash="x", wall_s=1.0, artifacts={"predictions": path},
        run_parts=("fake", row, seed))
    record.write(ws)
    return record


def test_seed_group_keeps_the_newest_recipe_one_record_per_seed(demo_ws):
    for seed in (1, 2, 3):
        _write(demo_ws, "Xception", seed, 0.7, epochs=2)  # an older recipe
    newest = [_write(demo_ws, "Xception", seed, 0.7, epochs=3) for seed in (1, 2)]
    group = seeds_by_row(demo_ws, "table1")["Xception"]
    assert [r.run_id for r in group] == [r.run_id for r in newest]
    assert [training_seed(r) for r in group] == [1, 2]
    assert seed_group([]) == []


def test_row_summary_mean_spread_interval_and_the_paper(demo_ws):
    accuracies = {1: 0.60, 2: 0.70, 3: 0.80}
    records = [_write(demo_ws, "Xception", s, a) for s, a in accuracies.items()]
    (summary,) = results.row_summaries(demo_ws, "table1")
    assert summary.row == "Xception" and summary.seeds == [1, 2, 3]
    values = [r.metric("accuracy") for r in records]
    assert summary.mean("accuracy") == pytest.approx(np.mean(values))
    assert summary.sd("accuracy") == pytest.approx(np.std(values, ddof=1))
    low, high = summary.interval("accuracy")
    assert low < summary.mean("accuracy") < high
    assert high - low < 0.15  # the interval of the mean over 3 x 300 predictions
    # the paper's Xception: 72.53 % accuracy, 0.73 overall F1
    assert summary.paper["accuracy"] == pytest.approx(72.53)
    assert summary.consistent("accuracy") == (low * 100 - 0.005 <= 72.53 <= high * 100 + 0.005)


def test_one_seed_uses_the_records_own_interval(demo_ws):
    record = _write(demo_ws, "EfficientNetV2B0", 7, 0.74)
    (summary,) = results.row_summaries(demo_ws, "table1")
    assert summary.sd("accuracy") is None
    assert summary.interval("accuracy") == tuple(record.ci95["accuracy"])


def test_consistent_is_false_far_from_the_paper_and_none_off_the_paper(demo_ws):
    _write(demo_ws, "Xception", 1, 0.30)
    _write(demo_ws, "ResNet50", 1, 0.75)
    by_row = {s.row: s for s in results.row_summaries(demo_ws, "table1")}
    assert by_row["Xception"].consistent("accuracy") is False
    assert by_row["ResNet50"].paper == {} and by_row["ResNet50"].consistent("accuracy") is None
    assert list(by_row) == ["Xception", "ResNet50"]  # the paper's rows first


def test_pairwise_mcnemar_per_seed_and_combined(demo_ws):
    for seed in (1, 2):
        _write(demo_ws, "Xception", seed, 0.95)
        _write(demo_ws, "EfficientNetV2B0", seed + 10, 0.55)  # other seeds: not paired
        _write(demo_ws, "EfficientNetV2B2", seed, 0.55)
    table = results.pairwise_mcnemar(demo_ws)
    pairs = table[table["seed"] != "all"]
    # Xception and B2 share seeds 1 and 2; B0 shares none with either
    assert set(map(tuple, pairs[["model_a", "model_b"]].to_numpy())) == {
        ("Xception", "EfficientNetV2B2")}
    assert list(pairs["seed"]) == [1, 2]
    assert pairs["significant"].all() and (pairs["better"] == "Xception").all()
    combined = table[table["seed"] == "all"].iloc[0]
    assert combined["significant"] and combined["better"] == "Xception"
    assert combined["n"] == 2 * N


def test_a_difference_that_flips_with_the_seed_is_not_called_real(demo_ws):
    _write(demo_ws, "Xception", 1, 0.95)
    _write(demo_ws, "EfficientNetV2B2", 1, 0.55)
    _write(demo_ws, "Xception", 2, 0.55)
    _write(demo_ws, "EfficientNetV2B2", 2, 0.95)
    table = results.pairwise_mcnemar(demo_ws)
    per_seed = table[table["seed"] != "all"]
    assert per_seed["significant"].all()
    assert set(per_seed["better"]) == {"Xception", "EfficientNetV2B2"}
    combined = table[table["seed"] == "all"].iloc[0]
    assert not combined["significant"] and combined["better"] == ""


def test_no_records_no_tests(demo_ws):
    assert results.row_summaries(demo_ws, "table2") == []
    assert results.pairwise_mcnemar(demo_ws).empty


def test_fake_records_hold_what_was_written(demo_ws):
    record = _write(demo_ws, "Xception", 1, 0.8)
    y, pred = _truth(), _predictions(0.8, 1)
    assert record.metric("accuracy") == classification_metrics(y, pred)["accuracy"]


# ---------------------------------------------------------------------------- against the paper

def _record(ws, profile_params, source="imagenet", row="Xception", kind="train"):
    return Record.training(
        ws, kind=kind, backbone="xception", row=row, dataset="webemo",
        metrics={"accuracy": 0.7, "f1_sadness": 0.7, "f1_others": 0.7, "f1_weighted": 0.7},
        ci95={}, params=profile_params,
        weights={"source": source, "pretrained": source != "scratch", "note": "fake"},
        seed=1, manifest_hash="x", wall_s=1.0, artifacts={}, run_parts=("fake",))


def test_deviations_from_the_papers_settings(isolated):
    from sadutils.workspace import Workspace

    paper = Workspace.create("paper")
    as_paper = {**results.PAPER_RECIPE, "n_train": 10431, "n_val": 2235, "n_test": 2235,
                "filter_threshold": 0.5}
    record = _record(paper, as_paper)
    assert results.deviations(record) == []
    assert results.settings_note([record]) == "With the paper's settings."
    changed = _record(paper, {**as_paper, "epochs": 1, "n_train": 91, "n_val": 20,
                              "n_test": 19, "filter_threshold": 1.0}, source="file")
    found = results.deviations(changed)
    assert "1 epochs (paper: 30 epochs)" in found
    assert any(text.startswith("130 filtered WEBEmo images") for text in found)
    assert any(text.startswith("text filter threshold 1") for text in found)
    assert "weights from a file (paper: ImageNet)" in found
    note = results.settings_note([record, changed])
    assert note.startswith("Settings that differ") and "1 epochs" in note
    scratch_row = _record(paper, as_paper, source="scratch", row="Xception no-pretrain",
                          kind="ablation")
    assert results.deviations(scratch_row) == []  # the ablation row is meant to be random


def test_a_cross_dataset_test_is_compared_by_its_models_training_recipe(isolated):
    from sadutils.workspace import Workspace

    paper = Workspace.create("paper")
    as_paper = {**results.PAPER_RECIPE, "n_train": 10431, "n_val": 2235, "n_test": 2235,
                "filter_threshold": 0.5}
    trained = _record(paper, as_paper)
    tested = Record.cross_dataset(
        paper, trained=trained, dataset="unbiasedemo", table="table2",
        metrics={"accuracy": 0.7, "f1_sadness": 0.7, "f1_others": 0.7, "f1_weighted": 0.7},
        ci95={}, seed=1, manifest_hash="x", wall_s=1.0, artifacts={}, run_id="fake-table2",
        params={"batch_size": 64, "image_size": results.PAPER_RECIPE["image_size"],
                "train_recipe": {k: as_paper[k] for k in results.PAPER_RECIPE}})
    assert results.deviations(tested) == []  # inference in batches of 64 changes nothing
    shorter = Record.cross_dataset(
        paper, trained=trained, dataset="unbiasedemo", table="table2",
        metrics=dict(tested.metrics), ci95={}, seed=1, manifest_hash="x", wall_s=1.0,
        artifacts={}, run_id="fake-table2-b",
        params={"batch_size": 64, "train_recipe": {**tested.params["train_recipe"],
                                                   "epochs": 3, "batch_size": 16}})
    found = results.deviations(shorter)
    assert "3 epochs (paper: 30 epochs)" in found and any("batch 16" in t for t in found)


def test_demo_records_always_differ(demo_ws):
    record = _record(demo_ws, {"image_size": 72, "epochs": 3})
    found = results.deviations(record)
    assert found[0] == "synthetic demo data (paper: the real datasets)"
    assert "input 72 px (paper: input 150 px)" in found
