"""The filtering step (notebook 02): the threshold, the counts, text scores and the filtered
manifest. The text classifier is the tiny untrained one of conftest; the tests check the
plumbing, not what it finds."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sadutils import text_detection
from sadutils.config import OTHERS, SADNESS
from sadutils.data.formats import Loaded
from sadutils.data.manifests import read_manifest
from sadutils.experiments import filtering, text_methods
from sadutils.paper import DISCARD_RATE
from sadutils.records import Record, read_records
from sadutils.settings import MATCH_PAPER
from sadutils.workspace import Workspace


def test_filter_counts_and_threshold_on_known_scores():
    scored = pd.DataFrame({
        "path": [f"p{i}" for i in range(10)],
        "label": [SADNESS] * 4 + [OTHERS] * 6,
        "p_text": [0.1, 0.6, 0.9, 0.4, 0.2, 0.3, 0.55, 0.95, np.nan, 0.05],
    })
    kept = text_methods.apply_threshold(scored, 0.5)
    # p < 0.5 survives; NaN (unreadable) never does
    assert kept.tolist() == [True, False, False, True, True, True, False, False, False, True]
    table = filtering.filter_counts(scored, kept).set_index("class")
    assert table.loc["sadness", ["before", "after", "removed"]].tolist() == [4, 2, 2]
    assert table.loc["others", ["before", "after", "removed"]].tolist() == [6, 3, 3]
    assert table.loc["total", ["before", "after"]].tolist() == [10, 5]
    assert table.loc["total", ["paper before", "paper after"]].tolist() == [18520, 14901]
    assert "paper before" not in filtering.filter_counts(scored, kept, paper=False)
    # a higher threshold keeps more, never fewer
    counts = [int(text_methods.apply_threshold(scored, t).sum()) for t in (0.0, 0.3, 0.5, 0.7, 1.0)]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 9
    with pytest.raises(ValueError, match="within 0..1"):
        text_methods.apply_threshold(scored, 1.5)
    with pytest.raises(ValueError, match="match_paper"):
        text_methods.apply_threshold(scored, "half")


def test_match_paper_threshold_removes_the_papers_share():
    rng = np.random.default_rng(1)
    scored = pd.DataFrame({"path": [f"p{i}" for i in range(1000)],
                           "label": [SADNESS, OTHERS] * 500,
                           "p_text": rng.random(1000)})
    kept = text_methods.apply_threshold(scored, MATCH_PAPER)
    assert abs((1 - kept.mean()) - DISCARD_RATE) < 0.01
    assert abs(DISCARD_RATE - (1 - 14901 / 18520)) < 1e-12
    with pytest.raises(ValueError, match="nothing to filter"):
        text_methods.resolve_threshold(scored.assign(p_text=np.nan), MATCH_PAPER)


def test_threshold_sweep_adds_the_match_paper_threshold():
    rng = np.random.default_rng(2)
    scored = pd.DataFrame({"path": [f"p{i}" for i in range(200)],
                           "label": [SADNESS, OTHERS] * 100, "p_text": rng.random(200)})
    sweep = filtering.threshold_sweep(scored, thresholds=(0.2, 0.8))
    matched = text_methods.resolve_threshold(scored, MATCH_PAPER)
    assert sweep["threshold"].tolist() == sorted([0.2, 0.8, round(matched, 4)])
    kept = sweep["sadness kept"] + sweep["others kept"]
    assert kept.is_monotonic_increasing
    assert kept.iloc[0] == int((scored["p_text"] < 0.2).sum())


def test_text_scores_mark_unreadable_images(demo_ws, noise_manifest, tiny_text_model, tmp_path):
    manifest = noise_manifest(2, 2, corrupt=1)
    scores = text_methods.text_scores(demo_ws, manifest, model_path=tiny_text_model)
    assert scores.shape == (5,)
    assert np.isnan(scores[-1]) and np.all((scores[:-1] >= 0) & (scores[:-1] <= 1))
    with pytest.raises(FileNotFoundError, match="01_text_classifier"):
        text_methods.text_scores(demo_ws, manifest, model_path=tmp_path / "missing.keras")
    # Without a model path: the workspace's text classifier, which notebook 01 has not made.
    with pytest.raises(FileNotFoundError, match="01_text_classifier"):
        text_methods.text_scores(demo_ws, manifest)


def test_filter_webemo_saves_manifests_and_a_record(demo_ws, monkeypatch, noise_manifest,
                                                    tiny_text_model):
    manifest = noise_manifest(10, 12, corrupt=1)
    loaded = Loaded(manifest, pd.DataFrame(columns=["path", "reason"]), {})
    monkeypatch.setattr(filtering, "sample_webemo", lambda *a, **k: (manifest.copy(), loaded))
    result = filtering.filter_webemo(demo_ws, threshold=1.0, text_model=tiny_text_model,
                                     text_method="cnn", compare=False,
                                     notebook="02_filtering")
    # threshold 1.0 keeps every readable image; the corrupt one is dropped and listed
    assert len(result.discarded) == 1 and result.discarded["path"].iloc[0].endswith("broken0.jpg")
    assert result.rejected["path"].str.endswith("broken0.jpg").any()
    assert result.counts.set_index("class").loc["total", "after"] == 22
    assert result.filtered_path == demo_ws.filtered_manifest
    saved = read_manifest(result.filtered_path)
    assert sorted(saved["path"]) == sorted(manifest["path"][:22])
    scored = read_manifest(demo_ws.scored_manifest)
    assert len(scored) == 23 and scored["kept"].sum() == 22
    rec = result.record
    assert rec.kind == "filter" and rec.table is None
    assert rec.metrics["n_after"] == 22 and rec.metrics["n_before"] == 23
    assert rec.params["threshold"] == 1.0 and rec.params["n_rejected"] == 1
    assert rec.artifact("filtered_manifest", demo_ws) == demo_ws.filtered_manifest
    assert rec.artifacts["notebook"] == "02_filtering"
    assert Record.read(result.record_path) == rec
    assert [r.run_id for r in read_records(demo_ws, kind="filter")] == [rec.run_id]


def test_missing_filtered_manifest_runs_the_earlier_steps(demo_ws, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(filtering, "train_text_classifier", lambda *a, **k: calls.append("01"))

    def fake_filter(ws, **kwargs):
        calls.append("02")
        raise RuntimeError("stop here")

    monkeypatch.setattr(filtering, "filter_webemo", fake_filter)
    with pytest.raises(RuntimeError, match="stop here"):
        filtering.ensure_filtered_manifest(demo_ws)
    assert calls == ["01", "02"]
    assert "webemo_filtered.csv is missing" in capsys.readouterr().out
    # With a text classifier in place only the filtering runs; with a manifest, nothing.
    demo_ws.text_model.parent.mkdir(parents=True)
    demo_ws.text_model.write_bytes(b"stand-in")
    calls.clear()
    with pytest.raises(RuntimeError, match="stop here"):
        filtering.ensure_filtered_manifest(demo_ws)
    assert calls == ["02"]
    demo_ws.filtered_manifest.parent.mkdir(parents=True)
    demo_ws.filtered_manifest.write_text("path,label,fine_label,dataset\n")
    calls.clear()
    assert filtering.ensure_filtered_manifest(demo_ws) == demo_ws.filtered_manifest
    assert calls == []


# ------------------------------------------------------------------------------ text methods

def text_classifier_record(ws, source: str, created_at: str) -> Record:
    """A FAKE text classifier record (invented metrics) whose weights came from ``source``."""
    rec = Record.training(
        ws, kind="text_classifier", backbone="efficientnetv2b0", row=None,
        dataset="cocotext+rgp", metrics={"accuracy": 0.5}, ci95={}, params={},
        weights={"source": source, "pretrained": source != "scratch", "note": "fake"}, seed=1,
        manifest_hash="fake", wall_s=0.0, artifacts={}, run_parts=("fake", source))
    rec = dataclasses.replace(rec, provenance={**rec.provenance, "created_at": created_at})
    rec.write(ws)
    return rec


def test_the_profiles_choose_the_text_method(demo_ws, isolated):
    method, why = text_methods.resolve_text_method(demo_ws)
    assert method == "ocr" and "no text classifier record" in why
    rec = text_classifier_record(demo_ws, "scratch", "2026-01-01T10:00:00+00:00")
    method, why = text_methods.resolve_text_method(demo_ws)
    assert method == "ocr" and rec.run_id in why and "random weights" in why
    rec = text_classifier_record(demo_ws, "imagenet", "2026-01-01T11:00:00+00:00")
    assert text_methods.resolve_text_method(demo_ws)[0] == "cnn"  # the newest record decides
    assert text_methods.resolve_text_method(demo_ws, "both") == (
        "both", "both was asked for (text_method='both')")
    paper = Workspace.create("paper")
    method, why = text_methods.resolve_text_method(paper)
    assert method == "cnn" and "paper's method" in why
    with pytest.raises(ValueError, match="valid choices: cnn, ocr, both"):
        text_methods.resolve_text_method(demo_ws, "tesseract")


def known_decisions() -> pd.DataFrame:
    """Ten images whose two decisions are known: a 2x2 table of 3 / 2 / 1 / 3, plus one image
    the classifier could not read."""
    cnn = [True, True, True, True, True, False, False, False, False, pd.NA]
    ocr = [True, True, True, False, False, True, False, False, False, True]
    return pd.DataFrame({"path": [f"p{i}" for i in range(10)],
                         "label": [SADNESS] * 5 + [OTHERS] * 5,
                         "cnn_text": pd.array(cnn, dtype="boolean"),
                         "ocr_text": pd.array(ocr, dtype="boolean")})


def test_agreement_on_known_decisions():
    scored = known_decisions()
    a = text_methods.method_agreement(scored)
    assert a["n"] == 9
    assert a["table"] == {"cnn text": {"ocr text": 3, "ocr no text": 2},
                          "cnn no text": {"ocr text": 1, "ocr no text": 3}}
    assert a["agreement"] == pytest.approx(6 / 9)
    # Cohen's kappa by hand: p_o = 6/9, p_e = (5*4 + 4*5) / 81
    p_o, p_e = 6 / 9, (5 * 4 + 4 * 5) / 81
    assert a["kappa"] == pytest.approx((p_o - p_e) / (1 - p_e))
    assert a["ocr_text_among_cnn_text"] == pytest.approx(3 / 5)
    assert a["cnn_text_among_ocr_text"] == pytest.approx(3 / 4)
    frame = text_methods.agreement_frame(a)
    assert frame.loc["total", "total"] == 9 and frame.loc["cnn text", "ocr no text"] == 2
    # One method saying the same of every image: agreement is defined, kappa is not.
    same = scored.assign(cnn_text=pd.array([True] * 10, dtype="boolean"),
                         ocr_text=pd.array([True] * 10, dtype="boolean"))
    assert text_methods.method_agreement(same)["kappa"] is None
    assert text_methods.method_agreement(scored.drop(columns="ocr_text")) is None


def test_each_method_removes_what_its_rule_says():
    scored = known_decisions()
    cnn = text_methods.removal(scored, "cnn")
    ocr = text_methods.removal(scored, "ocr")
    both = text_methods.removal(scored, "both")
    assert cnn.tolist() == [True] * 5 + [False] * 4 + [True]  # unreadable: removed
    assert ocr.tolist() == [True, True, True, False, False, True, False, False, False, True]
    assert (both == (cnn | ocr)).all() and both.sum() == 7
    counts = {m: filtering.filter_counts(scored, ~text_methods.removal(scored, m), paper=False)
              .set_index("class").loc["total", "after"] for m in ("cnn", "ocr", "both")}
    assert counts == {"cnn": 4, "ocr": 5, "both": 3}


def test_truth_table_precision_and_recall():
    scored = known_decisions()
    truth = pd.Series([True, True, False, True, False, True, False, False, True, True],
                      dtype="boolean")
    table = text_methods.truth_table(scored, truth, "ocr").set_index("method")
    ocr = table.loc["ocr decision"]
    # ocr says text on 0,1,2,5,9; truth on 0,1,3,5,8,9 -> tp 4 (0,1,5,9), fp 1 (2), fn 2 (3,8)
    assert (ocr["true positives"], ocr["false positives"], ocr["false negatives"]) == (4, 1, 2)
    assert ocr["precision"] == pytest.approx(4 / 5) and ocr["recall"] == pytest.approx(4 / 6)
    assert table.loc["cnn decision", "n"] == 9  # the unreadable image has no decision
    assert table.loc["filter (ocr)", "removed"] == 5


@pytest.fixture
def fake_scorers(monkeypatch, noise_manifest):
    """A 14-image WEBEmo-like sample (6 sadness, 8 others, and a corrupt file) with FAKE
    scores: the classifier says text on rows 0-3, the OCR detector on rows 2, 3, 4 and 6 (so
    that even both together leave a sadness image, rows 0-5 being sadness)."""
    manifest = noise_manifest(6, 8, corrupt=1)
    loaded = Loaded(manifest.iloc[:14], pd.DataFrame(columns=["path", "reason"]), {})
    monkeypatch.setattr(filtering, "sample_webemo", lambda *a, **k: (manifest.copy(), loaded))

    def cnn(ws, frame, model_path=None, batch_size=64, progress=False):
        out = np.where(np.arange(len(frame)) < 4, 0.9, 0.1)
        out[frame["path"].str.contains("broken").to_numpy()] = np.nan
        return out

    def ocr(paths, settings=None, progress=False):
        paths = [str(p) for p in paths]
        score = [0.95 if i in (2, 3, 4, 6) else 0.0 for i in range(len(paths))]
        error = [None] * len(paths)
        for i, p in enumerate(paths):
            if "broken" in p:
                score[i], error[i] = np.nan, "not an image"
        return pd.DataFrame({"path": paths, "score": score, "n_regions": 1,
                             "text": ["EXIT" if s == 0.95 else "" for s in score],
                             "confidence": score, "error": error})

    monkeypatch.setattr(text_methods, "text_scores", cnn)
    monkeypatch.setattr(text_methods.text_detection, "ocr_scores", ocr)
    return manifest


@pytest.mark.parametrize("method, kept", [("cnn", 10), ("ocr", 10), ("both", 8)])
def test_filtering_counts_under_each_method(demo_ws, fake_scorers, tiny_text_model, method,
                                            kept):
    result = filtering.filter_webemo(demo_ws, threshold=0.5, text_model=tiny_text_model,
                                     text_method=method)
    assert result.method == method and result.record.params["text_method"] == method
    assert result.counts.set_index("class").loc["total", ["before", "after"]].tolist() == [15, kept]
    assert result.rejected["path"].str.endswith("broken0.jpg").sum() == 1
    a = result.agreement
    assert a["table"]["cnn text"] == {"ocr text": 2, "ocr no text": 2} and a["n"] == 14
    assert len(result.disagreements) == 4
    assert set(result.disagreements["decided"]) == {"cnn text, ocr no text",
                                                    "ocr text, cnn no text"}
    rec = Record.read(result.record_path)
    assert rec.metrics["agreement"]["kappa"] == pytest.approx(a["kappa"])
    assert rec.params["ocr_threshold"] == text_detection.DEFAULT_THRESHOLD
    assert rec.params["methods_run"] == ["cnn", "ocr"]
    assert "truth" not in rec.metrics  # no generator record in this workspace
    assert rec.params["ocr"]["package"] == "rapidocr"


def test_the_demo_record_holds_the_ground_truth(demo_ws, fake_scorers, tiny_text_model):
    """Rows 0, 2, 6 carry a text overlay by a generator record written for the test."""
    manifest = fake_scorers
    names = [f"gen{i}.jpg" for i in range(len(manifest))]
    manifest["url"] = [f"file:///cdn/{n}" for n in names]
    demo_ws.data.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"file_name": names, "has_text": [int(i in (0, 2, 6)) for i in range(15)]}
                 ).to_csv(demo_ws.data / "webemo_truth.csv", index=False)
    result = filtering.filter_webemo(demo_ws, threshold=0.5, text_model=tiny_text_model,
                                     text_method="ocr")
    truth = result.truth.set_index("method")
    # OCR says text on 2, 3, 4, 6: of those 2 and 6 carry text; it misses 0.
    assert truth.loc["ocr decision", "precision"] == pytest.approx(2 / 4)
    assert truth.loc["ocr decision", "recall"] == pytest.approx(2 / 3)
    assert truth.loc["cnn decision", "recall"] == pytest.approx(2 / 3)
    rec = Record.read(result.record_path)
    assert rec.metrics["truth"]["filter (ocr)"]["true positives"] == 2
    scored = read_manifest(demo_ws.scored_manifest)
    assert scored["has_text_truth"].tolist()[:3] == [True, False, True]


def test_the_classifier_is_needed_only_when_it_decides(demo_ws, fake_scorers, tmp_path):
    missing = tmp_path / "none.keras"
    result = filtering.filter_webemo(demo_ws, text_model=missing, text_method="ocr")
    assert "p_text" not in result.scored and result.agreement is None
    assert "cnn" in result.record.params["methods_skipped"]
    assert result.threshold is None and result.record.params["threshold"] is None


# ---------------------------------------------------------------------------- degenerate output

def _scored(p_sadness, p_others):
    p = list(p_sadness) + list(p_others)
    return pd.DataFrame({"path": [f"p{i}" for i in range(len(p))],
                         "label": [SADNESS] * len(p_sadness) + [OTHERS] * len(p_others),
                         "p_text": p})


@pytest.mark.parametrize("p_sadness, p_others, what", [
    ([0.9, 0.8, 0.95], [0.7, 0.99], "removed every image of the sample"),
    ([0.9, 0.8, 0.95], [0.1, 0.2], "removed every sadness image"),
    ([0.1, 0.2], [0.9, 0.8], "removed every others image"),
])
def test_degenerate_filter_output_is_refused_saying_what_to_change(p_sadness, p_others, what):
    scored = _scored(p_sadness, p_others)
    scored["kept"] = text_methods.apply_threshold(scored, 0.5)
    with pytest.raises(ValueError) as info:
        filtering.check_filter_output(scored, "cnn", 0.5)
    message = str(info.value)
    assert what in message and "at threshold 0.5" in message and "Nothing was written" in message
    assert MATCH_PAPER in message and "notebook 01" in message
    ok = _scored([0.1, 0.9], [0.2, 0.8])
    ok["kept"] = text_methods.apply_threshold(ok, 0.5)
    filtering.check_filter_output(ok, "cnn", 0.5)  # one of each kept: fine


def test_filter_that_removes_everything_stops_before_writing(demo_ws, monkeypatch,
                                                             noise_manifest, tiny_text_model):
    """The reported case: a classifier whose P(text) is above the threshold for every image
    used to leave an empty filtered manifest; the error then came two steps later."""
    manifest = noise_manifest(6, 6)
    loaded = Loaded(manifest, pd.DataFrame(columns=["path", "reason"]), {})
    monkeypatch.setattr(filtering, "sample_webemo", lambda *a, **k: (manifest.copy(), loaded))
    with pytest.raises(ValueError, match="removed every image of the sample.*threshold 0"):
        filtering.filter_webemo(demo_ws, threshold=0.0, text_model=tiny_text_model,
                                text_method="cnn", compare=False)
    assert not demo_ws.filtered_manifest.exists() and not demo_ws.scored_manifest.exists()
    assert read_records(demo_ws, kind="filter") == []
