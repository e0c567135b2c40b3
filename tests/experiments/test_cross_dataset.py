"""Cross-dataset evaluation (notebook 04, Tables 2 and 3) on tiny generated image trees and a
tiny model.

The model is conftest's untrained EfficientNetV2B0 at 32 px and the training records are FAKE
(written here with invented metrics, pointing at that model): the tests check the plumbing
(sets, ratios, filters, records, tables), not any accuracy.
"""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

from sadutils.experiments import cross_dataset as cd
from sadutils.experiments import text_methods
from sadutils.records import Record, latest_by_row, read_records
from sadutils.reporting.tables import NOT_IN_PAPER, NOT_RUN, comparison_table, cross_dataset_frame

UNBIASED = {"sadness": 6, "joy": 4, "anger": 3, "fear": 3}  # 6 sadness, 10 others
EMOTION6 = {"sadness": 4, "joy": 4, "fear": 4, "surprise": 4}


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


@pytest.fixture(scope="module")
def trees(tmp_path_factory, write_jpeg):
    """UnbiasedEmo- and Cornell-Emotion6-shaped folders; each holds one broken 'image'."""
    base = tmp_path_factory.mktemp("sets")
    ub = base / "unbiasedemo"
    for emotion, n in UNBIASED.items():
        for i in range(n):
            name = f"{'text_' if i == 0 else ''}{emotion}_{i}.jpg"
            write_jpeg(ub / "images" / emotion / ("dog" if i % 2 else "tree") / name,
                       _seed(emotion, i))
    (ub / "images" / "joy" / "dog" / "broken.jpg").write_bytes(b"<html>not found</html>")
    e6 = base / "emotion6"
    for emotion, n in EMOTION6.items():
        for i in range(n):
            write_jpeg(e6 / "images" / emotion / f"{i + 1}.jpg", 1000 + _seed(emotion, i))
    (e6 / "images" / "fear" / "99.jpg").write_bytes(b"")
    return {"unbiasedemo": ub, "emotion6": e6}


def fake_train_record(ws, model_path, backbone="efficientnetv2b0", row="EfficientNetV2B0",
                      pretrained=True) -> Record:
    """A FAKE Table 1 training record (invented metrics) pointing at the tiny model; written."""
    rec = Record.training(
        ws, kind="train" if pretrained else "ablation", backbone=backbone, row=row,
        dataset="webemo",
        metrics={"accuracy": 0.6, "f1_sadness": 0.5, "f1_others": 0.7, "f1_weighted": 0.6},
        ci95={}, params={"backbone": backbone, "image_size": 32, "pretrained": pretrained,
                         "batch_size": 8},
        weights={"source": "scratch", "pretrained": False, "note": "fake"}, seed=1,
        manifest_hash="fake", wall_s=0.0, artifacts={"model": model_path},
        run_parts=("fake", backbone))
    rec.write(ws)
    return rec


@pytest.fixture
def fake_text_scores(monkeypatch):
    """Replace the text classifier: P(text) 0.9 for files named text_*, NaN for sadness_3.jpg.
    Returns the calls: ``(images, profile, batch_size)``."""
    calls = []

    def scores(ws, manifest, model_path=None, batch_size=64, progress=False):
        calls.append((len(manifest), ws.name, batch_size))
        names = manifest["path"].map(lambda p: p.replace("\\", "/").rsplit("/", 1)[-1])
        out = np.where(names.str.startswith("text_"), 0.9, 0.1).astype(float)
        out[(names == "sadness_3.jpg").to_numpy()] = np.nan
        return out

    monkeypatch.setattr(text_methods, "text_scores", scores)
    return calls


# ------------------------------------------------------------------------------ evaluation sets

def test_ratio_counts_keeps_one_class_whole():
    assert cd.ratio_counts(10, 50, 1 / 3) == {"sadness": 10, "others": 20}
    assert cd.ratio_counts(40, 50, 1 / 3) == {"sadness": 25, "others": 50}
    assert cd.ratio_counts(6, 10, None) == {"sadness": 6, "others": 10}
    assert cd.ratio_counts(6, 10, "natural") == {"sadness": 6, "others": 10}
    with pytest.raises(ValueError, match="between 0 and 1"):
        cd.ratio_counts(5, 5, 1.5)
    with pytest.raises(ValueError, match="0 sadness"):
        cd.ratio_counts(0, 5, 0.5)


def test_natural_set_lists_refused_files(demo_ws, trees):
    s = cd.build_eval_set(demo_ws, "unbiasedemo", trees["unbiasedemo"])
    assert s.table == "table2"
    assert s.info["by_label"] == {"others": 10, "sadness": 6}
    assert s.info["n_found"] == 17 and s.info["n_rejected"] == 1
    assert list(s.rejected["path"].str.endswith("broken.jpg")) == [True]
    assert s.excluded.empty and s.info["sadness_fraction"] is None
    assert s.describe().startswith("unbiasedemo (") and "sadness fraction natural" in s.describe()
    summary = s.summary().set_index("step")
    assert list(summary["images"]) == [17, 1, 16, 0, 0, 16]
    assert list(summary.loc["tested", ["sadness", "others"]]) == ["6", "10"]


def test_class_ratio_is_deterministic_and_listed(demo_ws, trees):
    a = cd.build_eval_set(demo_ws, "emotion6", trees["emotion6"], sadness_fraction=1 / 3, seed=7)
    b = cd.build_eval_set(demo_ws, "emotion6", trees["emotion6"], sadness_fraction=1 / 3, seed=7)
    c = cd.build_eval_set(demo_ws, "emotion6", trees["emotion6"], sadness_fraction="natural")
    assert a.table == "table3"
    assert a.info["by_label"] == {"others": 8, "sadness": 4}   # 12 others -> 8 kept
    assert list(a.manifest["path"]) == list(b.manifest["path"])
    assert a.info["manifest_hash"] == b.info["manifest_hash"] != c.info["manifest_hash"]
    assert len(a.excluded) == 4 and a.excluded["reason"].str.contains("fraction").all()
    assert c.info["by_label"] == {"others": 12, "sadness": 4}
    assert c.info["seed"] == demo_ws.profile.seed  # the profile's seed by default
    assert a.info["n_rejected"] == 1  # the empty file, refused by the loader
    with pytest.raises(ValueError, match="sadness_fraction"):
        cd.build_eval_set(demo_ws, "emotion6", trees["emotion6"], sadness_fraction=0)
    with pytest.raises(ValueError, match="valid choices"):
        cd.build_eval_set(demo_ws, "webemo", trees["emotion6"])
    with pytest.raises(ValueError, match="text_threshold"):
        cd.build_eval_set(demo_ws, "emotion6", trees["emotion6"], text_threshold=2)


def test_text_filter_uses_the_text_classifier(demo_ws, trees, fake_text_scores):
    s = cd.build_eval_set(demo_ws, "unbiasedemo", trees["unbiasedemo"], text_filter=True,
                          text_method="cnn", text_threshold=0.5, sadness_fraction=0.25,
                          text_batch_size=16)
    assert fake_text_scores == [(16, "demo", 16)]
    # 4 text_* images removed, sadness_3 unreadable by the text classifier: refused.
    assert s.info["n_text_filtered"] == 4
    assert s.rejected["path"].str.endswith("sadness_3.jpg").sum() == 1
    assert not s.manifest["path"].str.contains("text_").any()
    assert (s.manifest["p_text"] < 0.5).all()
    assert s.info["by_label"] == {"others": 7, "sadness": 2}  # 4 sad left -> 2 for 7 others
    assert s.info["text_filtered_by_label"] == {"others": 3, "sadness": 1}
    assert s.info["ratio_excluded_by_label"] == {"sadness": 2}
    assert len(s.excluded) == 6 and s.summary()["images"].tolist() == [17, 2, 16, 4, 2, 9]
    high = cd.build_eval_set(demo_ws, "unbiasedemo", trees["unbiasedemo"], text_filter=True,
                             text_method="cnn", text_threshold=0.95)
    assert high.info["n_text_filtered"] == 0 and high.info["n_images"] == 15
    assert s.info["text_method"] == "cnn" and "asked for" in s.info["text_method_reason"]


def test_text_filter_by_the_ocr_detector(demo_ws, trees, fake_text_scores, monkeypatch):
    """The demo profile without a text classifier record filters with the OCR detector (FAKE
    OCR scores here: 0.8 for the files named text_*)."""

    def ocr(paths, settings=None, progress=False):
        names = [str(p).replace("\\", "/").rsplit("/", 1)[-1] for p in paths]
        return pd.DataFrame({"path": [str(p) for p in paths],
                             "score": [0.8 if n.startswith("text_") else 0.0 for n in names],
                             "text": "", "error": None})

    monkeypatch.setattr(text_methods.text_detection, "ocr_scores", ocr)
    s = cd.build_eval_set(demo_ws, "unbiasedemo", trees["unbiasedemo"], text_filter=True)
    assert s.info["text_method"] == "ocr" and fake_text_scores == []  # the classifier not run
    assert s.info["n_text_filtered"] == 4 and s.info["ocr_threshold"] == 0.5
    assert s.info["text_threshold"] is None and "ocr" in s.describe()
    assert s.excluded["reason"].str.startswith("text in image: OCR score 0.800").sum() == 4
    both = cd.build_eval_set(demo_ws, "unbiasedemo", trees["unbiasedemo"], text_filter=True,
                             text_method="both")
    # both: the 4 text_* files by either method; sadness_3 unreadable by the classifier
    assert both.info["n_text_filtered"] == 4
    assert both.rejected["reason"].eq("the text filter (both) could not read it").sum() == 1


# ------------------------------------------------------------------------------ evaluating models

def test_evaluate_model_writes_a_table2_record(demo_ws, trees, tiny_emotion_model):
    model_path, _ = tiny_emotion_model
    train = fake_train_record(demo_ws, model_path)
    s = cd.build_eval_set(demo_ws, "unbiasedemo", trees["unbiasedemo"], sadness_fraction=0.5,
                          seed=3)
    res = cd.evaluate_model(demo_ws, train, s, batch_size=8, n_boot=50, notebook="04")
    rec = res.record
    assert res.record_path == demo_ws.record_file(rec.run_id) and res.record_path.is_file()
    assert Record.read(res.record_path) == rec
    assert (rec.kind, rec.table, rec.row, rec.dataset) == \
        ("cross_dataset", "table2", "EfficientNetV2B0", "unbiasedemo")
    assert rec.artifact("model", demo_ws) == model_path
    assert rec.artifacts["train_record"] == train.run_id and rec.artifacts["notebook"] == "04"
    p = rec.params
    assert (p["dataset"], p["sadness_fraction"], p["text_filter"], p["train_run_id"]) == \
        ("unbiasedemo", 0.5, False, train.run_id)
    assert p["by_label"] == {"others": 6, "sadness": 6} and rec.metrics["n"] == 12
    assert rec.provenance["manifest_hash"] == s.info["manifest_hash"]
    assert rec.provenance["seed"] == 3
    assert rec.weights == train.weights
    assert set(res.predictions["pred"]) <= {"sadness", "others"}
    assert np.allclose(res.predictions[["p_sadness", "p_others"]].sum(axis=1), 1, atol=1e-4)
    saved = pd.read_csv(rec.artifact("predictions", demo_ws))
    assert len(saved) == 12 and len(pd.read_csv(rec.artifact("rejected", demo_ws))) == 1
    assert rec.artifact("predictions", demo_ws).parent == demo_ws.cross_dataset_dir(rec.run_id)
    row = comparison_table(demo_ws, "table2").set_index("Model").loc["EfficientNetV2B0"]
    assert row["Accuracy % reproduced [95% CI]"] != NOT_RUN and row["run_id"] == rec.run_id
    assert [r.run_id for r in read_records(demo_ws, kind="cross_dataset", table="table2")] == \
        [rec.run_id]
    # write=False: the same result, nothing on disk
    dry = cd.evaluate_model(demo_ws, train, s, batch_size=8, n_boot=50, write=False)
    assert dry.record_path is None and not demo_ws.record_file(dry.record.run_id).exists()
    assert dry.metrics["accuracy"] == rec.metrics["accuracy"]


def test_undecodable_images_are_listed_not_fatal(demo_ws, trees, tiny_emotion_model):
    """With the loader's check off the broken file reaches the model's input pipeline."""
    train = fake_train_record(demo_ws, tiny_emotion_model[0], backbone="xception",
                              row="Xception no-pretrain", pretrained=False)
    s = cd.build_eval_set(demo_ws, "emotion6", trees["emotion6"], check=False)
    assert s.info["n_images"] == 17 and s.info["n_rejected"] == 0
    res = cd.evaluate_model(demo_ws, train, s, batch_size=8, n_boot=20)
    assert res.rejected["path"].str.endswith("99.jpg").sum() == 1
    assert res.record.metrics["n"] == 16
    # The ablation has no row in the paper's Table 3: it is recorded in its own row, which the
    # comparison table shows after the paper's rows.
    assert (res.record.table, res.record.row) == ("table3", "Xception no-pretrain")
    assert res.record.params["pretrained"] is False
    assert "no_pretrain" in res.record.run_id
    models = list(comparison_table(demo_ws, "table3")["Model"])
    assert models[-1] == f"Xception no-pretrain ({NOT_IN_PAPER})"


def test_missing_model_file_names_the_notebook(demo_ws, trees, tmp_path):
    gone = tmp_path / "gone.keras"
    train = fake_train_record(demo_ws, gone)
    s = cd.build_eval_set(demo_ws, "emotion6", trees["emotion6"])
    with pytest.raises(FileNotFoundError, match="03_train"):
        cd.evaluate_model(demo_ws, train, s)


def test_trained_models_paper_rows_first(demo_ws, tiny_emotion_model):
    with pytest.raises(FileNotFoundError, match="03_train"):
        cd.trained_models(demo_ws)
    assert cd.trained_models(demo_ws, required=False) == []
    path = tiny_emotion_model[0]
    resnet = fake_train_record(demo_ws, path, backbone="resnet50", row="ResNet50")
    scratch = fake_train_record(demo_ws, path, backbone="xception", row="Xception no-pretrain",
                                pretrained=False)
    b0 = fake_train_record(demo_ws, path)
    newer_b0 = fake_train_record(demo_ws, path)
    found = [r.run_id for r in cd.trained_models(demo_ws)]
    assert found in ([newer_b0.run_id, scratch.run_id, resnet.run_id],
                     [b0.run_id, scratch.run_id, resnet.run_id])  # same-second tie
    assert [r.row for r in cd.trained_models(demo_ws, include_ablation=False)] == \
        ["EfficientNetV2B0", "ResNet50"]


def test_run_cross_dataset_tests_every_trained_model(demo_ws, trees, tiny_emotion_model,
                                                    monkeypatch):
    model_path, _ = tiny_emotion_model
    fake_train_record(demo_ws, model_path)
    fake_train_record(demo_ws, model_path, backbone="xception", row="Xception no-pretrain",
                      pretrained=False)
    loads = []
    real_load = cd.models.load_model
    monkeypatch.setattr(cd.models, "load_model", lambda path: loads.append(path) or
                        real_load(path))
    out = cd.run_cross_dataset(demo_ws, roots=trees, sadness_fraction={"emotion6": 1 / 3},
                               batch_size=8, n_boot=20, notebook="04_cross_dataset")
    # The two records share one model file: it is loaded and run once per set, and each
    # record gets its own copy of the same numbers.
    assert len(loads) == 1
    for _, results in out.values():
        assert len(results) == 2 and results[0].metrics == results[1].metrics
        assert results[0].record.run_id != results[1].record.run_id
    assert set(out) == {"unbiasedemo", "emotion6"}
    assert out["emotion6"][0].info["sadness_fraction"] == pytest.approx(1 / 3)
    assert out["unbiasedemo"][0].info["sadness_fraction"] is None
    frame = cross_dataset_frame(out)
    assert len(frame) == 4
    assert set(frame["table"]) == {"table2", "table3"}
    assert set(frame["model"]) == {"EfficientNetV2B0", "Xception no-pretrain"}
    records = read_records(demo_ws, kind="cross_dataset")
    assert len(records) == 4
    assert {r.artifacts["notebook"] for r in records} == {"04_cross_dataset"}
    assert "EfficientNetV2B0" in latest_by_row(demo_ws, "table3")
    with pytest.raises(ValueError, match="test set names"):
        cd.run_cross_dataset(demo_ws, roots=trees, loader_options={"layout": "cornell"})
    out = cd.run_cross_dataset(demo_ws, test_sets=("emotion6",), roots=trees, n_boot=10,
                               include_ablation=False)
    assert list(out) == ["emotion6"] and len(out["emotion6"][1]) == 1
