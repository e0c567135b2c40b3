"""The filtering step (notebook 02) and the hand-over of its manifest to training (notebook 03)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sadutils import config, datasets, experiments, models


def _manifest(tmp_path, n_sad=6, n_other=8, corrupt=1):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rows = []
    rng = np.random.default_rng(0)
    for i in range(n_sad + n_other):
        path = folder / f"img{i:03d}.jpg"
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
        label = config.SADNESS if i < n_sad else config.OTHERS
        rows.append({"path": str(path), "label": label, "fine_label": "x", "dataset": "webemo"})
    for j in range(corrupt):
        path = folder / f"broken{j}.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        rows.append({"path": str(path), "label": config.OTHERS, "fine_label": "x",
                     "dataset": "webemo"})
    return pd.DataFrame(rows)


def test_filter_counts_and_threshold_on_known_scores():
    scored = pd.DataFrame({
        "path": [f"p{i}" for i in range(10)],
        "label": [config.SADNESS] * 4 + [config.OTHERS] * 6,
        "p_text": [0.1, 0.6, 0.9, 0.4, 0.2, 0.3, 0.55, 0.95, np.nan, 0.05],
    })
    kept = experiments.apply_threshold(scored, 0.5)
    # p < 0.5 survives; NaN (unreadable) never does
    assert kept.tolist() == [True, False, False, True, True, True, False, False, False, True]
    table = experiments.filter_counts(scored, kept).set_index("class")
    assert table.loc["sadness", ["before", "after", "removed"]].tolist() == [4, 2, 2]
    assert table.loc["others", ["before", "after", "removed"]].tolist() == [6, 3, 3]
    assert table.loc["total", ["before", "after"]].tolist() == [10, 5]
    assert table.loc["total", "paper before"] == 18520 and table.loc["total", "paper after"] == 14901
    # a higher threshold keeps more, never fewer
    counts = [int(experiments.apply_threshold(scored, t).sum()) for t in (0.0, 0.3, 0.5, 0.7, 1.0)]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 9
    with pytest.raises(ValueError, match="within 0..1"):
        experiments.apply_threshold(scored, 1.5)
    with pytest.raises(ValueError, match="match_paper"):
        experiments.apply_threshold(scored, "half")


def test_match_paper_threshold_removes_the_papers_share():
    rng = np.random.default_rng(1)
    scored = pd.DataFrame({"path": [f"p{i}" for i in range(1000)],
                           "label": [config.SADNESS, config.OTHERS] * 500,
                           "p_text": rng.random(1000)})
    kept = experiments.apply_threshold(scored, experiments.MATCH_PAPER)
    assert abs((1 - kept.mean()) - experiments.PAPER_DISCARD_RATE) < 0.01
    assert abs(experiments.PAPER_DISCARD_RATE - (1 - 14901 / 18520)) < 1e-12


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "text_classifier.keras"
    model = models.build_model("efficientnetv2b0", 32, None, class_names=config.TEXT_CLASS_NAMES)
    models.save_model(model, path)
    return path


def test_text_scores_mark_unreadable_images(tmp_path, text_model):
    manifest = _manifest(tmp_path, 2, 2, corrupt=1)
    scores = experiments.text_scores(manifest, "demo", model_path=text_model,
                                     results_root=tmp_path / "results")
    assert scores.shape == (5,)
    assert np.isnan(scores[-1]) and np.all((scores[:-1] >= 0) & (scores[:-1] <= 1))
    with pytest.raises(FileNotFoundError, match="01_text_classifier"):
        experiments.text_scores(manifest, "demo", model_path=tmp_path / "missing.keras")


def test_filtered_manifest_is_what_training_reads(tmp_path, monkeypatch, text_model):
    manifest = _manifest(tmp_path, 10, 12, corrupt=1)
    loaded = datasets.Loaded(manifest, pd.DataFrame(columns=["path", "reason"]), {})
    monkeypatch.setattr(experiments, "sample_webemo", lambda *a, **k: (manifest.copy(), loaded))
    results = tmp_path / "results"
    result = experiments.filter_webemo("demo", threshold=1.0, results_root=results,
                                       text_model=text_model)
    # threshold 1.0 keeps every readable image; the corrupt one is dropped and listed
    assert len(result.discarded) == 1 and result.discarded["path"].iloc[0].endswith("broken0.jpg")
    assert result.rejected["path"].str.endswith("broken0.jpg").any()
    assert result.counts.set_index("class").loc["total", "after"] == 22
    saved = datasets.read_manifest(result.filtered_path)
    assert sorted(saved["path"]) == sorted(manifest["path"][:22])
    assert result.record["metrics"]["n_after"] == 22 and result.record["params"]["threshold"] == 1.0

    split = experiments.training_split("demo", results_root=results)
    assert sorted(split["path"]) == sorted(saved["path"])
    assert set(split["split"]) == {"train", "val", "test"}
    # the split is saved once and reused unchanged
    again = experiments.training_split("demo", results_root=results)
    pd.testing.assert_frame_equal(split.sort_values("path").reset_index(drop=True),
                                  again.sort_values("path").reset_index(drop=True))

    # a stricter filter rewrites the filtered manifest and the split follows it
    scores = np.linspace(0.0, 0.99, len(manifest))
    monkeypatch.setattr(experiments, "text_scores", lambda m, *a, **k: scores[: len(m)])
    strict = experiments.filter_webemo("demo", threshold=0.5, results_root=results,
                                       text_model=text_model)
    n_kept = int((scores < 0.5).sum())
    assert strict.counts.set_index("class").loc["total", "after"] == n_kept
    split = experiments.training_split("demo", results_root=results)
    assert sorted(split["path"]) == sorted(datasets.read_manifest(strict.filtered_path)["path"])
    assert len(split) == n_kept


def test_missing_filtered_manifest_names_the_notebook(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(experiments, "train_text_classifier",
                        lambda *a, **k: calls.append("01"))

    def fake_filter(profile, **kwargs):
        calls.append("02")
        raise RuntimeError("stop here")

    monkeypatch.setattr(experiments, "filter_webemo", fake_filter)
    with pytest.raises(RuntimeError, match="stop here"):
        experiments.ensure_filtered_manifest("demo", results_root=tmp_path)
    assert calls == ["01", "02"]


def test_bad_parameters_name_the_choices(tmp_path):
    with pytest.raises(ValueError, match="valid choices: xception"):
        experiments.train_backbone("resnet50", results_root=tmp_path)
    with pytest.raises(ValueError, match="valid choices: demo, paper"):
        experiments.train_backbone("xception", profile="full", results_root=tmp_path)
    with pytest.raises(ValueError, match="needs image_size >= 71"):
        experiments.train_backbone("xception", image_size=32, results_root=tmp_path)
