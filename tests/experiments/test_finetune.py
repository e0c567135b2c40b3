"""Notebooks 03 and 05: the hand-over of the filtered manifest to a fixed training split, bad
parameters, the pretrained reference of the ablation, and (END-TO-END, the slowest test here)
a backbone the paper did not train going from its name to Table 1 and ``sadutils tables``.

The records of :func:`test_pretrained_reference_reuses_a_matching_record` are FAKE (invented
metrics, a stand-in model file); the end-to-end test's record is real but comes from one epoch
on a few dozen synthetic images, so only its plumbing is checked, never its numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sadutils import models
from sadutils.cli import main
from sadutils.config import CLASS_NAMES
from sadutils.data.formats import Loaded
from sadutils.data.manifests import manifest_hash, read_manifest, save_manifest
from sadutils.data.webemo import load_webemo
from sadutils.experiments import filtering, finetune, text_methods
from sadutils.paper import paper_rows
from sadutils.records import Record
from sadutils.reporting.tables import NOT_IN_PAPER, NOT_RUN, comparison_table, format_interval
from sadutils.settings import TrainSettings
from sadutils.workspace import Workspace


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("path").reset_index(drop=True)


def test_filtered_manifest_is_what_training_reads(demo_ws, monkeypatch, noise_manifest,
                                                  tiny_text_model):
    manifest = noise_manifest(10, 12, corrupt=1)
    loaded = Loaded(manifest, pd.DataFrame(columns=["path", "reason"]), {})
    monkeypatch.setattr(filtering, "sample_webemo", lambda *a, **k: (manifest.copy(), loaded))
    result = filtering.filter_webemo(demo_ws, threshold=1.0, text_model=tiny_text_model,
                                     text_method="cnn", compare=False)
    saved = read_manifest(result.filtered_path)
    assert len(saved) == 22  # every readable image

    split = finetune.training_split(demo_ws)
    assert sorted(split["path"]) == sorted(saved["path"])
    assert set(split["split"]) == {"train", "val", "test"}
    assert demo_ws.split_manifest.is_file()
    # the split is saved once and reused unchanged
    again = finetune.training_split(demo_ws)
    pd.testing.assert_frame_equal(_sorted(split), _sorted(again))
    # another seed gives another split of the same images
    other = finetune.training_split(demo_ws, seed=99)
    assert sorted(other["path"]) == sorted(split["path"])
    assert not _sorted(other)["split"].equals(_sorted(split)["split"])

    # a stricter filter rewrites the filtered manifest and the split follows it
    scores = np.where(np.arange(len(manifest)) % 3 == 0, 0.9, 0.1)  # a third of each class
    monkeypatch.setattr(text_methods, "text_scores", lambda ws, m, *a, **k: scores[: len(m)])
    strict = filtering.filter_webemo(demo_ws, threshold=0.5, text_model=tiny_text_model,
                                     text_method="cnn", compare=False)
    n_kept = int((scores < 0.5).sum())
    assert strict.counts.set_index("class").loc["total", "after"] == n_kept
    assert not demo_ws.split_manifest.exists()  # the old split is gone with its manifest
    split = finetune.training_split(demo_ws)
    assert sorted(split["path"]) == sorted(read_manifest(strict.filtered_path)["path"])
    assert len(split) == n_kept


def test_bad_parameters_name_the_choices(demo_ws):
    with pytest.raises(ValueError, match="valid choices: xception, efficientnetv2b0"):
        finetune.train_backbone(demo_ws, "notanet")
    with pytest.raises(ValueError, match="valid choices: demo, paper"):
        Workspace.create("full")
    small = TrainSettings.resolve("demo", image_size=32)
    with pytest.raises(ValueError, match="needs image_size >= 71"):
        finetune.train_backbone(demo_ws, "xception", small)
    with pytest.raises(ValueError, match="epochs"):
        TrainSettings.resolve("demo", epochs="abc")
    assert not demo_ws.results.exists(), "nothing should be written before the checks"


def _fake_training_record(ws, model_file, **params) -> Record:
    """A FAKE Table 1 record (invented metrics) of xception with the given params; written."""
    rec = Record.training(
        ws, kind="train", backbone="xception", row="Xception", dataset="webemo",
        metrics={"accuracy": 0.6, "f1_sadness": 0.5, "f1_others": 0.7, "f1_weighted": 0.6},
        ci95={}, params=params, weights={"source": "scratch", "pretrained": False,
                                         "note": "fake"},
        seed=params.get("seed", 0), manifest_hash="fake", wall_s=0.0,
        artifacts={"model": model_file}, run_parts=("fake", "xception"))
    rec.write(ws)
    return rec


def test_pretrained_reference_reuses_a_matching_record(demo_ws, monkeypatch):
    settings = TrainSettings.resolve("demo")
    model_file = demo_ws.model_file("xception")
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"stand-in for a model")
    trained = []

    class Run:
        record = "trained now"

    monkeypatch.setattr(finetune, "train_backbone",
                        lambda ws, backbone, s, **k: trained.append((backbone, s)) or Run)
    # No record yet: the reference is trained, with the same recipe.
    assert finetune.pretrained_reference(demo_ws, "xception", settings) == "trained now"
    assert trained == [("xception", settings)]
    # A record of another recipe does not count; one of the same recipe does.
    _fake_training_record(demo_ws, model_file, **{**settings.as_params(), "epochs": 99})
    assert finetune.pretrained_reference(demo_ws, "Xception", settings) == "trained now"
    same = _fake_training_record(demo_ws, model_file, **settings.as_params())
    assert finetune.pretrained_reference(demo_ws, "xception", settings) == same
    # ... as long as its model file is there.
    model_file.unlink()
    assert finetune.pretrained_reference(demo_ws, "xception", settings) == "trained now"
    assert len(trained) == 3


@pytest.mark.end_to_end
def test_end_to_end_backbone_not_in_the_paper(isolated, tiny_demo_dir, capsys):
    """END-TO-END (about a minute on 2 CPU cores): ``resnet50``, which the paper did not train,
    goes from its name alone through training (notebook 03's function) to a record, Table 1
    and ``sadutils tables``; then its no-pretrain twin (notebook 05's call) reuses it offline.

    Shortcut: notebooks 01 and 02 (train the text classifier, filter WEBEmo with it) are not
    run; the tiny demo WEBEmo as loaded is written as the filtered manifest, which is all that
    training reads from them.
    """
    ws = Workspace.create("demo")
    save_manifest(load_webemo(tiny_demo_dir / "webemo").manifest, ws.filtered_manifest)
    settings = TrainSettings.resolve("demo", epochs=1, image_size=32, batch_size=16)

    run = finetune.train_backbone(ws, "resnet50", settings, notebook="03_train-resnet50",
                                  verbose=0)

    rec = run.record
    assert (rec.kind, rec.table, rec.row, rec.backbone) == ("train", "table1", "ResNet50",
                                                           "resnet50")
    assert Record.read(run.record_path) == rec
    assert run.model_path == ws.model_file("resnet50") and run.model_path.is_file()
    assert list(models.load_model(run.model_path).class_names) == list(CLASS_NAMES)
    assert rec.params["image_size"] == 32 and rec.params["epochs"] == 1
    assert rec.params["n_test"] == len(run.test) == rec.metrics["n"]
    assert rec.weights["source"] in ("imagenet", "scratch")  # scratch when offline
    assert rec.artifacts["notebook"] == "03_train-resnet50"
    assert len(run.history) == 1

    table = comparison_table(ws, "table1")
    assert list(table["Model"][:5]) == list(paper_rows("table1"))
    row = table.set_index("Model").loc[f"ResNet50 ({NOT_IN_PAPER})"]
    reproduced = format_interval(rec.metrics["accuracy"], rec.interval("accuracy"), 100.0, 1)
    assert row["Accuracy % reproduced [95% CI]"] == reproduced != NOT_RUN
    assert np.isnan(row["Accuracy % paper"]) and np.isnan(row["Accuracy Δ (points)"])
    assert row["run_id"] == rec.run_id and row["weights"] == rec.weights["source"]

    assert main(["tables", "--profile", "demo"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith(f"| ResNet50 ({NOT_IN_PAPER}) |")]
    assert len(lines) == 1  # Table 1 only: no cross-dataset test of it yet
    assert f"| {reproduced} |" in lines[0]

    # The ablation of the same backbone: offline it is the very same computation (random
    # weights, same recipe, seed, split and code), so it is not trained a second time.
    if rec.weights["source"] == "scratch":
        runs_before = sorted(p.name for p in ws.runs.iterdir())
        scratch = finetune.train_backbone(ws, "resnet50", settings, pretrained=False,
                                          notebook="05_no_pretrain", verbose=0)
        twin = scratch.record
        assert (twin.kind, twin.row, twin.params["reused_from"]) == (
            "ablation", "ResNet50 no-pretrain", rec.run_id)
        assert twin.params["pretrained"] is False and twin.weights["pretrained"] is False
        assert rec.run_id in twin.weights["note"]
        assert twin.metrics == rec.metrics and twin.params["training_key"] == \
            rec.params["training_key"]
        assert twin.artifact("model", ws) == run.model_path
        assert twin.artifacts["notebook"] == "05_no_pretrain"
        pd.testing.assert_frame_equal(scratch.test, pd.read_csv(ws.predictions_file("resnet50")))
        assert sorted(p.name for p in ws.runs.iterdir()) == runs_before  # nothing trained
    # Another seed, another key: that one would be trained.
    choice = models.WeightsChoice(None, "scratch", "random")
    split_hash = manifest_hash(finetune.training_split(ws))
    assert finetune.training_key("resnet50", choice, settings.with_seed(5), split_hash) != \
        finetune.training_key("resnet50", choice, settings, split_hash) == \
        rec.params["training_key"]


def _scored_sample(ws, noise_manifest, n_sad=24, n_other=24):
    """A scored sample as notebook 02 leaves it, made by hand: a sixth of the images with text
    by the classifier, a quarter by the OCR detector (which filtered), and a FAKE filter
    record that says so."""
    sample = noise_manifest(n_sad, n_other, corrupt=0)
    i = np.arange(len(sample))
    sample["cnn_text"] = i % 6 == 0
    sample["ocr_text"] = i % 4 == 1
    sample["kept"] = ~sample["ocr_text"]
    save_manifest(sample, ws.scored_manifest)
    save_manifest(sample[sample["kept"]].drop(columns=["kept"]), ws.filtered_manifest)
    Record.filtering(ws, metrics={"n_before": len(sample), "n_after": int(sample["kept"].sum())},
                     params={"text_method": "ocr"}, weights={"source": "file", "note": "fake"},
                     backbone=None, seed=0, manifest_hash="fake", wall_s=0.0, artifacts={},
                     run_parts=("filter",)).write(ws)
    return sample


def test_every_text_filter_trains_on_its_part_of_one_split(demo_ws, noise_manifest):
    sample = _scored_sample(demo_ws, noise_manifest)
    applied = finetune.training_split(demo_ws)
    # the applied filter asked by its name is the very same frame (so the same training key)
    pd.testing.assert_frame_equal(applied, finetune.training_split(demo_ws, train_filter="ocr"))
    assert sorted(applied["path"]) == sorted(sample.loc[sample["kept"], "path"])
    parts = {f: finetune.training_split(demo_ws, train_filter=f).set_index("path")["split"]
             for f in ("none", "cnn", "ocr", "both")}
    assert len(parts["none"]) == len(sample)
    assert len(parts["both"]) == int((~sample["cnn_text"] & ~sample["ocr_text"]).sum())
    for name, split in parts.items():  # one split: an image is in the same part everywhere
        assert split.equals(parts["none"].loc[split.index]), name
        assert set(split) == {"train", "val", "test"}
    # the text-free test images are in every model's test part
    clean_test = set(parts["both"][parts["both"] == "test"].index)
    assert clean_test and all(clean_test <= set(s[s == "test"].index) for s in parts.values())
    # stratified by label and by each method's decision: every filter's test share is 15%
    for name, split in parts.items():
        assert abs((split == "test").mean() - 0.15) < 0.06, name
    with pytest.raises(ValueError, match="unknown train_filter 'raw'"):
        finetune.training_split(demo_ws, train_filter="raw")


def test_a_text_filter_without_its_decisions_is_refused(demo_ws, noise_manifest):
    sample = noise_manifest(12, 12, corrupt=0)
    save_manifest(sample, demo_ws.filtered_manifest)  # no scored sample: notebook 02 not run
    assert len(finetune.training_split(demo_ws, train_filter="none")) == len(sample)
    with pytest.raises(ValueError, match="train_filter='cnn' needs the decisions of cnn"):
        finetune.training_split(demo_ws, train_filter="cnn")


def test_the_applied_filter_reuses_the_table1_model(demo_ws, noise_manifest, tmp_path):
    """A run of the text ablation with the filter notebook 02 applied is the Table 1 run of the
    same recipe and seed: its record is written with that run's model, nothing is trained."""
    _scored_sample(demo_ws, noise_manifest)
    weights = tmp_path / "start.weights.h5"
    weights.write_bytes(b"FAKE weights: only their hash enters the training key")
    settings = TrainSettings.resolve("demo")
    choice = models.resolve_weights("xception", True, str(weights))
    key = finetune.training_key("xception", choice, settings,
                                manifest_hash(finetune.training_split(demo_ws)))
    files = {}
    for name, path in (("model", demo_ws.model_file("xception")),
                       ("history", demo_ws.history_file("xception")),
                       ("predictions", demo_ws.predictions_file("xception"))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("path,label,pred\n" if name != "model" else "FAKE model")
        files[name] = path
    twin = Record.training(
        demo_ws, kind="train", backbone="xception", row="Xception", dataset="webemo",
        metrics={"accuracy": 0.6, "f1_sadness": 0.5, "f1_others": 0.7, "f1_weighted": 0.6},
        ci95={}, params={**settings.as_params(), "training_key": key, "train_filter": "ocr"},
        weights=choice.as_record(), seed=settings.seed, manifest_hash="fake", wall_s=1.0,
        artifacts=files, run_parts=("fake", "xception"))
    twin.write(demo_ws)

    run = finetune.train_backbone(demo_ws, "xception", settings, weights=str(weights),
                                  train_filter="ocr", notebook="03_train-xception-filter-ocr")
    rec = run.record
    assert (rec.kind, rec.table, rec.row) == ("text_ablation", None, "Xception, filtered (ocr)")
    assert rec.params["reused_from"] == twin.run_id and rec.params["train_filter"] == "ocr"
    assert rec.params["training_key"] == key and rec.metrics == twin.metrics
    assert rec.artifact("model", demo_ws) == files["model"]
    assert "whose model is reused" in rec.weights["note"]
    assert Record.read(run.record_path) == rec
