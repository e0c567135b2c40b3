"""Cross-dataset evaluation (Tables 2 and 3) on tiny generated image trees and a tiny model.

The model is an untrained EfficientNetV2B0 at 32 px and the training records are FAKE (written
here, pointing at that model): the tests check the plumbing (sets, ratios, filters, records),
not any accuracy.
"""
from __future__ import annotations

import sys
import types
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sadutils import evaluation as ev
from sadutils import reporting as rp

UNBIASED = {"sadness": 6, "joy": 4, "anger": 3, "fear": 3}  # 6 sadness, 10 others
EMOTION6 = {"sadness": 4, "joy": 4, "fear": 4, "surprise": 4}


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


def _jpeg(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path, "JPEG")


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """UnbiasedEmo- and Cornell-Emotion6-shaped folders; each holds one broken 'image'."""
    base = tmp_path_factory.mktemp("sets")
    ub = base / "unbiasedemo"
    for emotion, n in UNBIASED.items():
        for i in range(n):
            name = f"{'text_' if i == 0 else ''}{emotion}_{i}.jpg"
            _jpeg(ub / "images" / emotion / ("dog" if i % 2 else "tree") / name, _seed(emotion, i))
    (ub / "images" / "joy" / "dog" / "broken.jpg").write_bytes(b"<html>not found</html>")
    e6 = base / "emotion6"
    for emotion, n in EMOTION6.items():
        for i in range(n):
            _jpeg(e6 / "images" / emotion / f"{i + 1}.jpg", 1000 + _seed(emotion, i))
    (e6 / "images" / "fear" / "99.jpg").write_bytes(b"")
    return {"unbiasedemo": ub, "emotion6": e6}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from sadutils import models

    path = tmp_path_factory.mktemp("models") / "efficientnetv2b0.keras"
    models.save_model(models.build_model("efficientnetv2b0", 32), path)
    return path


@pytest.fixture
def results(tmp_path, monkeypatch):
    root = tmp_path / "results"
    monkeypatch.setenv("SADUTILS_RESULTS", str(root))
    return root


def fake_train_record(model_path, results_root, row="EfficientNetV2B0", kind="train"):
    """A FAKE training record (invented metrics) pointing at the tiny model; written."""
    pretrained = row != rp.NO_PRETRAIN_ROW
    rec = {
        "run_id": rp.make_run_id("train", row), "kind": kind, "table": "table1", "row": row,
        "backbone": "efficientnetv2b0" if pretrained else "xception", "profile": "demo",
        "dataset": "webemo", "split": "test",
        "metrics": {"accuracy": 0.6, "f1_sadness": 0.5, "f1_others": 0.7, "f1_weighted": 0.6},
        "params": {"backbone": "efficientnetv2b0", "image_size": 32, "pretrained": pretrained,
                   "batch_size": 8},
        "weights": {"source": "scratch", "pretrained": False, "note": "fake"},
        "provenance": rp.provenance(seed=1), "artifacts": {"model": str(model_path)},
    }
    rp.write_record(rec, results_root=results_root)
    return rec


@pytest.fixture
def fake_text_scores(monkeypatch):
    """Replace experiments.text_scores: P(text) 0.9 for files named text_*, NaN for one file."""
    calls = []

    def scores(manifest, profile="demo", model_path=None, batch_size=64, **kwargs):
        calls.append((len(manifest), profile, batch_size))
        names = manifest["path"].map(lambda p: p.replace("\\", "/").rsplit("/", 1)[-1])
        out = np.where(names.str.startswith("text_"), 0.9, 0.1).astype(float)
        out[(names == "sadness_3.jpg").to_numpy()] = np.nan
        return out

    try:
        import sadutils.experiments as module
    except Exception:  # noqa: BLE001 - the real module may not exist (yet); a stand-in will do
        module = types.ModuleType("sadutils.experiments")
        monkeypatch.setitem(sys.modules, "sadutils.experiments", module)
        import sadutils
        monkeypatch.setattr(sadutils, "experiments", module, raising=False)
    monkeypatch.setattr(module, "text_scores", scores, raising=False)
    return calls


# ------------------------------------------------------------------------------ evaluation sets

def test_ratio_counts_keeps_one_class_whole():
    assert ev.ratio_counts(10, 50, 1 / 3) == {"sadness": 10, "others": 20}
    assert ev.ratio_counts(40, 50, 1 / 3) == {"sadness": 25, "others": 50}
    assert ev.ratio_counts(6, 10, None) == {"sadness": 6, "others": 10}
    with pytest.raises(ValueError, match="between 0 and 1"):
        ev.ratio_counts(5, 5, 1.5)
    with pytest.raises(ValueError, match="0 sadness"):
        ev.ratio_counts(0, 5, 0.5)


def test_natural_set_lists_refused_files(trees):
    s = ev.build_eval_set("unbiasedemo", trees["unbiasedemo"])
    assert s.table == "table2"
    assert s.info["by_label"] == {"others": 10, "sadness": 6}
    assert s.info["n_found"] == 17 and s.info["n_rejected"] == 1
    assert list(s.rejected["path"].str.endswith("broken.jpg")) == [True]
    assert s.excluded.empty and s.info["sadness_fraction"] is None
    assert s.describe().startswith("unbiasedemo (") and "sadness fraction natural" in s.describe()
    summary = s.summary().set_index("step")
    assert list(summary["images"]) == [17, 1, 16, 0, 0, 16]
    assert list(summary.loc["tested", ["sadness", "others"]]) == ["6", "10"]


def test_class_ratio_is_deterministic_and_listed(trees):
    a = ev.build_eval_set("emotion6", trees["emotion6"], sadness_fraction=1 / 3, seed=7)
    b = ev.build_eval_set("emotion6", trees["emotion6"], sadness_fraction=1 / 3, seed=7)
    c = ev.build_eval_set("emotion6", trees["emotion6"], sadness_fraction="natural")
    assert a.table == "table3"
    assert a.info["by_label"] == {"others": 8, "sadness": 4}   # 12 others -> 8 kept
    assert list(a.manifest["path"]) == list(b.manifest["path"])
    assert a.info["manifest_hash"] == b.info["manifest_hash"] != c.info["manifest_hash"]
    assert len(a.excluded) == 4 and a.excluded["reason"].str.contains("fraction").all()
    assert c.info["by_label"] == {"others": 12, "sadness": 4}
    assert a.info["n_rejected"] == 1  # the empty file, refused by the loader
    with pytest.raises(ValueError, match="sadness_fraction"):
        ev.build_eval_set("emotion6", trees["emotion6"], sadness_fraction=0)
    with pytest.raises(ValueError, match="valid choices"):
        ev.build_eval_set("webemo", trees["emotion6"])


def test_text_filter_uses_the_text_classifier(trees, fake_text_scores):
    s = ev.build_eval_set("unbiasedemo", trees["unbiasedemo"], text_filter=True,
                          text_threshold=0.5, sadness_fraction=0.25, text_batch_size=16)
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
    high = ev.build_eval_set("unbiasedemo", trees["unbiasedemo"], text_filter=True,
                             text_threshold=0.95)
    assert high.info["n_text_filtered"] == 0 and high.info["n_images"] == 15


# ------------------------------------------------------------------------------ evaluating models

def test_evaluate_model_writes_a_table2_record(trees, tiny_model, results):
    train = fake_train_record(tiny_model, results)
    s = ev.build_eval_set("unbiasedemo", trees["unbiasedemo"], sadness_fraction=0.5, seed=3)
    res = ev.evaluate_model(train, s, batch_size=8, n_boot=50)
    rec = res.record
    assert res.record_path.is_file()
    assert rp.validate_record(rec)
    assert (rec["kind"], rec["table"], rec["row"], rec["dataset"]) == \
        ("cross_dataset", "table2", "EfficientNetV2B0", "unbiasedemo")
    assert rec["artifacts"]["model"] == str(tiny_model)
    p = rec["params"]
    assert (p["dataset"], p["sadness_fraction"], p["text_filter"], p["train_run_id"]) == \
        ("unbiasedemo", 0.5, False, train["run_id"])
    assert p["by_label"] == {"others": 6, "sadness": 6} and rec["metrics"]["n"] == 12
    assert rec["provenance"]["manifest_hash"] == s.info["manifest_hash"]
    assert rec["provenance"]["seed"] == 3
    assert set(res.predictions["pred"]) <= {"sadness", "others"}
    assert np.allclose(res.predictions[["p_sadness", "p_others"]].sum(axis=1), 1, atol=1e-4)
    saved = pd.read_csv(rec["artifacts"]["predictions"])
    assert len(saved) == 12 and len(pd.read_csv(rec["artifacts"]["rejected"])) == 1
    table = rp.comparison_table("table2", "demo", results)
    row = table.set_index("Model").loc["EfficientNetV2B0"]
    assert row["Accuracy % reproduced [95% CI]"] != rp.NOT_RUN
    assert rp.read_records("demo", results, kind="cross_dataset", table="table2")


def test_undecodable_images_are_listed_not_fatal(trees, tiny_model, results):
    """With the loader's check off the broken file reaches the model's input pipeline."""
    train = fake_train_record(tiny_model, results, row=rp.NO_PRETRAIN_ROW, kind="ablation")
    s = ev.build_eval_set("emotion6", trees["emotion6"], check=False)
    assert s.info["n_images"] == 17 and s.info["n_rejected"] == 0
    res = ev.evaluate_model(train, s, batch_size=8, n_boot=20)
    assert res.rejected["path"].str.endswith("99.jpg").sum() == 1
    assert res.record["metrics"]["n"] == 16
    # The ablation has no row in Table 3: recorded, but in no table.
    assert res.record["table"] is None and res.record["row"] is None
    assert res.record["params"]["pretrained"] is False
    assert "no_pretrain" in res.record["run_id"]


def test_run_cross_dataset_tests_every_trained_model(trees, tiny_model, results):
    with pytest.raises(FileNotFoundError, match="03_train"):
        ev.trained_models("demo", results)
    fake_train_record(tiny_model, results)
    fake_train_record(tiny_model, results, row=rp.NO_PRETRAIN_ROW, kind="ablation")
    out = ev.run_cross_dataset("demo", roots=trees, sadness_fraction={"emotion6": 1 / 3},
                               batch_size=8, n_boot=20, notebook="04_cross_dataset.ipynb")
    assert set(out) == {"unbiasedemo", "emotion6"}
    assert out["emotion6"][0].info["sadness_fraction"] == pytest.approx(1 / 3)
    assert out["unbiasedemo"][0].info["sadness_fraction"] is None
    frame = ev.cross_dataset_frame(out)
    assert len(frame) == 4
    assert set(frame["table"]) == {"table2", "table3", ""}
    records = rp.read_records("demo", results, kind="cross_dataset")
    assert len(records) == 4
    assert {r["artifacts"]["notebook"] for r in records} == {"04_cross_dataset.ipynb"}
    assert "EfficientNetV2B0" in rp.latest_records("table3", "demo", results)
    with pytest.raises(ValueError, match="test set names"):
        ev.run_cross_dataset("demo", roots=trees, loader_options={"layout": "cornell"})
