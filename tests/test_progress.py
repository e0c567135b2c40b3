"""sadutils.progress: progress events from a notebook's kernel to the runner's terminal, and
the two places that send them (an epoch callback; images decoded and scored)."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from sadutils import inference, progress
from sadutils.experiments.common import EpochProgress


@pytest.fixture
def channel(tmp_path, monkeypatch):
    """A progress file named in the environment, as the runner sets it for a kernel."""
    path = tmp_path / "run.progress.jsonl"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(path))
    monkeypatch.setattr(progress, "_last_sent", {})
    return path


def test_nothing_is_written_without_a_progress_file(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    assert progress.report("epoch", force=True, done=1, total=2) is False
    assert list(tmp_path.iterdir()) == []


def test_events_are_throttled_and_read_back(channel):
    assert progress.report("images", step="scoring images", done=64, total=640)
    assert not progress.report("images", step="scoring images", done=128, total=640)  # < 1 s
    assert progress.report("images", step="scoring images", done=640, total=640, force=True)
    assert progress.report("epoch", done=1, total=3, loss=0.5)  # another kind: its own clock
    events, offset = progress.read_events(channel)
    assert [(e["kind"], e["done"]) for e in events] == [("images", 64), ("images", 640),
                                                        ("epoch", 1)]
    assert offset == channel.stat().st_size
    with open(channel, "a") as f:  # a line still being written, and a broken one
        f.write("not json\n" + json.dumps({"kind": "epoch", "done": 2})[:10])
    more, offset2 = progress.read_events(channel, offset)
    assert more == [] and offset2 < channel.stat().st_size
    assert progress.read_events(channel.parent / "missing.jsonl") == ([], 0)


def test_a_progress_file_that_cannot_be_written_never_stops_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_ENV, str(tmp_path / "no" / "such" / "folder.jsonl"))
    assert progress.report("epoch", force=True, done=1, total=2) is False


@pytest.mark.parametrize("event,text", [
    ({"kind": "epoch", "step": "training xception", "done": 2, "total": 3, "loss": 0.61234,
      "accuracy": 0.7, "val_loss": 0.65, "val_accuracy": 0.64, "eta_s": 35.2},
     "training xception: epoch 2/3, loss 0.612, accuracy 0.700, val_loss 0.650, "
     "val_accuracy 0.640; about 35 s left"),
    ({"kind": "batch", "step": "training xception", "epoch": 1, "epochs": 3, "done": 5,
      "total": 12, "loss": 0.7, "eta_s": 200},
     "training xception: epoch 1/3, batch 5/12, loss 0.700; about 3 min 20 s left"),
    ({"kind": "images", "step": "scoring images", "done": 1280, "total": 14901},
     "scoring images: 1,280/14,901"),
])
def test_describe(event, text):
    assert progress.describe(event) == text


def test_duration():
    assert [progress.duration(s) for s in (0, 59.4, 61, 3599, 3725)] == \
        ["0 s", "59 s", "1 min 01 s", "59 min 59 s", "1 h 02 min"]


def test_epoch_callback_reports_epochs_batches_and_time_left(channel):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype("float32"), rng.integers(0, 2, 40)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, validation_data=(x, y), epochs=3, batch_size=10, verbose=0,
              callbacks=[EpochProgress("training tiny", 3)])
    events, _ = progress.read_events(channel)
    epochs = [e for e in events if e["kind"] == "epoch"]
    assert [(e["done"], e["total"], e["step"]) for e in epochs] == \
        [(1, 3, "training tiny"), (2, 3, "training tiny"), (3, 3, "training tiny")]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epochs[0])
    assert epochs[-1]["eta_s"] == 0 and all(e["eta_s"] >= 0 for e in epochs)
    batches = [e for e in events if e["kind"] == "batch"]
    # the first batch (which also builds the model) gives no estimate; the next one does
    assert batches and (batches[0]["epoch"], batches[0]["done"], batches[0]["total"]) == (1, 2, 4)
    assert all(e["done"] > 1 and e["eta_s"] >= 0 for e in batches)


def test_decoding_and_scoring_report_images(channel, tmp_path, write_jpeg):
    paths = [write_jpeg(tmp_path / f"{i}.jpg", i) for i in range(5)]
    images, failed = inference.decode_images(paths, 16)
    assert failed == []
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    inference.predict_proba(model, images, batch_size=2)
    events, _ = progress.read_events(channel)
    steps = [(e["step"], e["done"], e["total"]) for e in events]
    assert ("decoding images", 5, 5) in steps and ("scoring images", 5, 5) in steps


def test_a_phase_reports_its_wall_and_cpu_seconds_and_details(channel):
    with progress.phase("decode images", images=3) as extra:
        sum(i * i for i in range(200_000))  # some CPU work
        extra["cached"] = False
    with pytest.raises(RuntimeError), progress.phase("epoch", epoch=1):
        raise RuntimeError("stop")
    events, _ = progress.read_events(channel)
    decode, epoch = events
    assert decode["kind"] == "phase" and decode["phase"] == "decode images"
    assert decode["images"] == 3 and decode["cached"] is False and "failed" not in decode
    assert decode["wall_s"] > 0 and decode["cpu_s"] > 0
    assert epoch["phase"] == "epoch" and epoch["failed"] is True and epoch["epoch"] == 1
    assert progress.describe(decode) == ""  # a profile entry, never a progress line
