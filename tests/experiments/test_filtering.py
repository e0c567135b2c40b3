"""The filtering step (notebook 02): the threshold, the counts, text scores and the filtered
manifest. The text classifier is the tiny untrained one of conftest; the tests check the
plumbing, not what it finds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sadutils.config import OTHERS, SADNESS
from sadutils.data.formats import Loaded
from sadutils.data.manifests import read_manifest
from sadutils.experiments import filtering
from sadutils.paper import DISCARD_RATE
from sadutils.records import Record, read_records
from sadutils.settings import MATCH_PAPER


def test_filter_counts_and_threshold_on_known_scores():
    scored = pd.DataFrame({
        "path": [f"p{i}" for i in range(10)],
        "label": [SADNESS] * 4 + [OTHERS] * 6,
        "p_text": [0.1, 0.6, 0.9, 0.4, 0.2, 0.3, 0.55, 0.95, np.nan, 0.05],
    })
    kept = filtering.apply_threshold(scored, 0.5)
    # p < 0.5 survives; NaN (unreadable) never does
    assert kept.tolist() == [True, False, False, True, True, True, False, False, False, True]
    table = filtering.filter_counts(scored, kept).set_index("class")
    assert table.loc["sadness", ["before", "after", "removed"]].tolist() == [4, 2, 2]
    assert table.loc["others", ["before", "after", "removed"]].tolist() == [6, 3, 3]
    assert table.loc["total", ["before", "after"]].tolist() == [10, 5]
    assert table.loc["total", ["paper before", "paper after"]].tolist() == [18520, 14901]
    assert "paper before" not in filtering.filter_counts(scored, kept, paper=False)
    # a higher threshold keeps more, never fewer
    counts = [int(filtering.apply_threshold(scored, t).sum()) for t in (0.0, 0.3, 0.5, 0.7, 1.0)]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 9
    with pytest.raises(ValueError, match="within 0..1"):
        filtering.apply_threshold(scored, 1.5)
    with pytest.raises(ValueError, match="match_paper"):
        filtering.apply_threshold(scored, "half")


def test_match_paper_threshold_removes_the_papers_share():
    rng = np.random.default_rng(1)
    scored = pd.DataFrame({"path": [f"p{i}" for i in range(1000)],
                           "label": [SADNESS, OTHERS] * 500,
                           "p_text": rng.random(1000)})
    kept = filtering.apply_threshold(scored, MATCH_PAPER)
    assert abs((1 - kept.mean()) - DISCARD_RATE) < 0.01
    assert abs(DISCARD_RATE - (1 - 14901 / 18520)) < 1e-12
    with pytest.raises(ValueError, match="nothing to filter"):
        filtering.resolve_threshold(scored.assign(p_text=np.nan), MATCH_PAPER)


def test_threshold_sweep_adds_the_match_paper_threshold():
    rng = np.random.default_rng(2)
    scored = pd.DataFrame({"path": [f"p{i}" for i in range(200)],
                           "label": [SADNESS, OTHERS] * 100, "p_text": rng.random(200)})
    sweep = filtering.threshold_sweep(scored, thresholds=(0.2, 0.8))
    matched = filtering.resolve_threshold(scored, MATCH_PAPER)
    assert sweep["threshold"].tolist() == sorted([0.2, 0.8, round(matched, 4)])
    kept = sweep["sadness kept"] + sweep["others kept"]
    assert kept.is_monotonic_increasing
    assert kept.iloc[0] == int((scored["p_text"] < 0.2).sum())


def test_text_scores_mark_unreadable_images(demo_ws, noise_manifest, tiny_text_model, tmp_path):
    manifest = noise_manifest(2, 2, corrupt=1)
    scores = filtering.text_scores(demo_ws, manifest, model_path=tiny_text_model)
    assert scores.shape == (5,)
    assert np.isnan(scores[-1]) and np.all((scores[:-1] >= 0) & (scores[:-1] <= 1))
    with pytest.raises(FileNotFoundError, match="01_text_classifier"):
        filtering.text_scores(demo_ws, manifest, model_path=tmp_path / "missing.keras")
    # Without a model path: the workspace's text classifier, which notebook 01 has not made.
    with pytest.raises(FileNotFoundError, match="01_text_classifier"):
        filtering.text_scores(demo_ws, manifest)


def test_filter_webemo_saves_manifests_and_a_record(demo_ws, monkeypatch, noise_manifest,
                                                    tiny_text_model):
    manifest = noise_manifest(10, 12, corrupt=1)
    loaded = Loaded(manifest, pd.DataFrame(columns=["path", "reason"]), {})
    monkeypatch.setattr(filtering, "sample_webemo", lambda *a, **k: (manifest.copy(), loaded))
    result = filtering.filter_webemo(demo_ws, threshold=1.0, text_model=tiny_text_model,
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
    scored["kept"] = filtering.apply_threshold(scored, 0.5)
    with pytest.raises(ValueError) as info:
        filtering.check_filter_output(scored, 0.5)
    message = str(info.value)
    assert what in message and "at threshold 0.5" in message and "Nothing was written" in message
    assert MATCH_PAPER in message and "notebook 01" in message
    ok = _scored([0.1, 0.9], [0.2, 0.8])
    ok["kept"] = filtering.apply_threshold(ok, 0.5)
    filtering.check_filter_output(ok, 0.5)  # one of each kept: fine


def test_filter_that_removes_everything_stops_before_writing(demo_ws, monkeypatch,
                                                             noise_manifest, tiny_text_model):
    """The reported case: a classifier whose P(text) is above the threshold for every image
    used to leave an empty filtered manifest; the error then came two steps later."""
    manifest = noise_manifest(6, 6)
    loaded = Loaded(manifest, pd.DataFrame(columns=["path", "reason"]), {})
    monkeypatch.setattr(filtering, "sample_webemo", lambda *a, **k: (manifest.copy(), loaded))
    with pytest.raises(ValueError, match="removed every image of the sample.*threshold 0"):
        filtering.filter_webemo(demo_ws, threshold=0.0, text_model=tiny_text_model)
    assert not demo_ws.filtered_manifest.exists() and not demo_ws.scored_manifest.exists()
    assert read_records(demo_ws, kind="filter") == []
