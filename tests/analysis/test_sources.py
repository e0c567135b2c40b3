"""sadutils.analysis.sources: predictions found through FAKE records, and clear errors."""
from __future__ import annotations

import pytest

from sadutils.analysis import sources
from sadutils.records import read_records


def test_table1_and_cross_predictions(fake_results):
    ws, tables = fake_results
    found = sources.table1_predictions(ws)
    assert [p.model for p in found] == ["Xception", "Xception no-pretrain"]
    assert found[0].frame["path"].tolist() == tables["fake-xception"]["path"].tolist()
    assert [p.model for p in sources.table1_predictions(ws, include_ablation=False)] == \
        ["Xception"]
    cross = sources.cross_predictions(ws, "unbiasedemo")
    assert [p.model for p in cross] == ["Xception"]
    assert cross[0].frame["object"].tolist()[-1] == ""  # an empty object name stays a name
    assert sources.cross_predictions(ws, "emotion6") == []
    assert list(sources.by_model(found)) == ["Xception", "Xception no-pretrain"]
    with pytest.raises(ValueError, match="unknown cross-dataset test set 'webemo'"):
        sources.cross_predictions(ws, "webemo")


def test_missing_or_broken_predictions_name_the_file(fake_results):
    ws, _ = fake_results
    rec = next(r for r in read_records(ws) if r.run_id == "fake-xception")
    path = rec.artifact("predictions", ws)
    path.write_text("path,label\na.jpg,sadness\n")
    with pytest.raises(ValueError, match=f"{path}: predictions file without column.*fine_label"):
        sources.read_predictions(ws, rec)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="predictions of record fake-xception are gone"):
        sources.table1_predictions(ws)


def test_no_training_record_says_what_to_run(demo_ws):
    with pytest.raises(FileNotFoundError, match="Run notebooks 03_train"):
        sources.table1_predictions(demo_ws)
