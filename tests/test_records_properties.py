"""Property-based tests (Hypothesis) of results records and the runner's state file: whatever
a file holds, reading it gives a record (or a state) or a clear ``RecordError`` naming the file,
never another exception; and what is accepted can be shown without an impossible number.

The records are FAKE: a valid record with invented numbers, spoiled field by field.
"""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sadutils.provenance import provenance
from sadutils.records import Record, RecordError
from sadutils.reporting.tables import format_interval, metric_scale
from sadutils.runner.execute import STATE_VERSION, read_state

SETTINGS = settings(max_examples=80, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID = {
    "run_id": "fake-run", "kind": "train", "profile": "demo", "dataset": "webemo",
    "split": "test", "table": "table1", "row": "Xception", "backbone": "xception",
    "metrics": {"accuracy": 0.75, "f1_sadness": 0.7, "f1_others": 0.8, "f1_weighted": 0.76,
                "n": 200, "confusion_matrix": [[60, 20], [30, 90]],
                "labels": ["sadness", "others"]},
    "ci95": {"accuracy": [0.7, 0.8]},
    "weights": {"source": "imagenet", "pretrained": True, "note": "fake"},
    "provenance": {**provenance(seed=7), "created_at": "2026-01-01T00:00:00+00:00"},
    "params": {"epochs": 2}, "artifacts": {"model": "models/x.keras"},
}

_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=10), st.sampled_from([5.0, 500, -1, 1e308, "table1", "demo"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=12)
_PATHS = st.sampled_from([
    (k,) for k in VALID] + [("metrics", k) for k in VALID["metrics"]] + [
    ("ci95", "accuracy"), ("ci95", "f1_sadness"), ("weights", "source"), ("weights", "note"),
    ("weights", "pretrained"), ("provenance", "created_at"), ("provenance", "git_commit"),
    ("provenance", "git_dirty"), ("artifacts", "history"), ("params", "best_epoch")])


def _spoil(changes):
    data = json.loads(json.dumps(VALID))
    for path, value in changes:
        target = data
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[path[-1]] = value
    return data


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@SETTINGS
@given(changes=st.lists(st.tuples(_PATHS, _JSON), min_size=1, max_size=3))
def test_spoiled_record_is_a_record_or_a_record_error(folder, changes):
    path = folder / "r.json"
    path.write_text(json.dumps(_spoil(changes)))
    try:
        rec = Record.read(path)
    except RecordError as exc:
        assert str(path) in str(exc)
        return
    # accepted: every number the tables show is a real fraction with a real interval
    for name in ("accuracy", "f1_sadness", "f1_others", "f1_weighted"):
        value = rec.metric(name)
        if value is None:
            continue
        assert isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1
        scale, digits = metric_scale(name)
        format_interval(float(value), rec.interval(name), scale, digits)
    assert Record.from_dict(rec.to_dict()) == rec


@SETTINGS
@given(content=st.one_of(_JSON.map(json.dumps), st.text(max_size=200),
                         st.binary(max_size=200)))
def test_any_file_is_a_record_or_a_record_error(folder, content):
    path = folder / "any.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    try:
        Record.read(path)
    except RecordError as exc:
        assert str(path) in str(exc)


_RUN = st.fixed_dictionaries({}, optional={
    "status": st.one_of(st.sampled_from(["ok", "failed"]), _JSON), "inputs": _JSON,
    "execution": _JSON, "wall_s": _JSON, "key": _JSON})
_STATE = st.fixed_dictionaries(
    {"version": st.one_of(st.just(STATE_VERSION), _JSON),
     "runs": st.one_of(st.dictionaries(st.sampled_from(["a", "b", "03_train-x"]),
                                       st.one_of(_RUN, _JSON), max_size=3), _JSON)},
    optional={"profile": _JSON})


@SETTINGS
@given(content=st.one_of(_STATE.map(json.dumps), _JSON.map(json.dumps), st.text(max_size=100),
                         st.binary(max_size=100),
                         st.just('{"version": 1, "runs": {"a": {"wall_s": NaN}}}')))
def test_state_file_of_any_content_gives_a_usable_state(folder, content):
    path = folder / "reproduce.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    state = read_state(path, "demo")
    assert state["version"] == STATE_VERSION and state["profile"] == "demo"
    assert isinstance(state["runs"], dict)
    assert all(isinstance(k, str) and isinstance(v, dict) for k, v in state["runs"].items())
    json.dumps(state, allow_nan=False)  # the runner can write it back
