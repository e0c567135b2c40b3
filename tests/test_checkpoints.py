"""Training checkpoints (sadutils.checkpoints) and resuming through ``train_model``.

A run stopped at any moment, a checkpoint write included, must resume to the result of an
uninterrupted run; a damaged checkpoint is set aside and the run resumes from the state before
it or starts over, saying which. The runs use a tiny CNN (a few seconds each) trained exactly as
the backbones are; one test stops a real training process with SIGTERM in the middle of a
checkpoint write, as a preempted cluster job is stopped.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from sadutils import checkpoints
from sadutils.checkpoints import (BACKUP_NAME, CHECKPOINT_NAME, CORRUPT_NAME, readable_weights,
                                  restore_checkpoint, save_checkpoint)
from sadutils.training import set_seeds, train_model

SEED, EPOCHS, BATCH = 7, 4, 16
REPO = Path(__file__).resolve().parents[1]


def _data(seed=SEED):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (48, 16, 16, 3), dtype=np.uint8)
    y = rng.integers(0, 2, 48)
    x[y == 0, :8] //= 2
    vx = rng.integers(0, 256, (16, 16, 16, 3), dtype=np.uint8)
    vy = rng.integers(0, 2, 16)
    vx[vy == 0, :8] //= 2
    return x, y, vx, vy


def _build():
    return keras.Sequential([
        keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.BatchNormalization(),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.3),
        keras.layers.Dense(2, activation="softmax")])


def _train(out_dir, extra_callbacks=(), epochs=EPOCHS, **kwargs):
    set_seeds(SEED)
    return train_model(_build, *_data(), out_dir, epochs=epochs, batch_size=BATCH,
                       learning_rate=0.05, seed=SEED, precision="float32", verbose=0,
                       extra_callbacks=extra_callbacks, **kwargs)


class _StopAfter(keras.callbacks.Callback):
    """Raise KeyboardInterrupt at the end of one epoch (after the checkpoint was saved)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    return _train(out)


def _assert_same_result(result, reference):
    assert list(result.history["epoch"]) == list(range(EPOCHS))
    for column in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert np.allclose(result.history[column], reference.history[column],
                           rtol=1e-6, atol=1e-7), column
    assert result.best_epoch == reference.best_epoch
    for a, b in zip(result.model.get_weights(), reference.model.get_weights()):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-7)


def _stopped_after(out, epoch):
    with pytest.raises(KeyboardInterrupt):
        _train(out, extra_callbacks=[_StopAfter(epoch)])
    return json.loads((out / BACKUP_NAME / CHECKPOINT_NAME).read_text())


# ---------------------------------------------------------------------------- the checkpoint files

def test_checkpoint_keeps_two_whole_states_and_no_temporary_file(tmp_path):
    index = _stopped_after(tmp_path, 2)  # epochs 0, 1, 2 done
    backup = tmp_path / BACKUP_NAME
    assert [s["epoch"] for s in index["states"]] == [3, 2]
    assert sorted(p.name for p in backup.iterdir()) == [
        CHECKPOINT_NAME, "epoch-0002.weights.h5", "epoch-0003.weights.h5"]
    assert [r["epoch"] for r in index["history"]] == [0, 1, 2]
    assert all(readable_weights(backup / s["weights"]) is None for s in index["states"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
def test_damaged_newest_state_resumes_from_the_one_before(reference, tmp_path, capsys, damage):
    index = _stopped_after(tmp_path, 2)
    newest = tmp_path / BACKUP_NAME / index["states"][0]["weights"]
    data = newest.read_bytes()
    if damage == "truncate":  # what a kill in a non-atomic write leaves: 107 MB of 167 MB
        newest.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "garbage":
        newest.write_bytes(data[:1000] + b"\0" * (len(data) - 1000))
    else:
        newest.unlink()
    capsys.readouterr()
    resumed = _train(tmp_path)
    note = capsys.readouterr().out
    assert "training checkpoint: resuming after epoch 2 from backup/epoch-0002.weights.h5, the " \
           "last good state; set aside" in note
    assert resumed.resumed_from_epoch == 2
    _assert_same_result(resumed, reference)
    kept = list((tmp_path / CORRUPT_NAME).glob("*-epoch-0003.weights.h5"))
    if damage == "delete":
        assert kept == [] and "epoch-0003.weights.h5: missing" in note
    else:  # set aside, not deleted
        assert len(kept) == 1 and kept[0].stat().st_size != len(data) or damage == "garbage"
        assert kept[0].read_bytes()[:1000] == data[:1000]
    assert not (tmp_path / BACKUP_NAME).exists()


def test_every_state_damaged_starts_over_and_says_so(reference, tmp_path, capsys):
    index = _stopped_after(tmp_path, 1)
    for state in index["states"]:
        path = tmp_path / BACKUP_NAME / state["weights"]
        path.write_bytes(path.read_bytes()[:100])
    capsys.readouterr()
    resumed = _train(tmp_path)
    assert "training checkpoint: starting over from epoch 0: no usable state" in \
        capsys.readouterr().out
    assert resumed.resumed_from_epoch == 0
    _assert_same_result(resumed, reference)
    aside = {p.name.split("-", 1)[1] for p in (tmp_path / CORRUPT_NAME).iterdir()}
    assert {"epoch-0002.weights.h5", "epoch-0001.weights.h5", BACKUP_NAME, "history.csv",
            "best.weights.h5"} <= aside


def test_a_cut_keras_backup_of_an_older_version_starts_over(reference, tmp_path, capsys):
    """The reported case: Keras' BackupAndRestore left a truncated latest.weights.h5, and the
    next run died with 'OSError: Unable to synchronously open file'."""
    backup = tmp_path / BACKUP_NAME
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 5000)
    (backup / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    (tmp_path / "history.csv").write_text("epoch,loss\n0,0.7\n1,0.6\n")
    resumed = _train(tmp_path)
    assert "starting over from epoch 0" in capsys.readouterr().out
    _assert_same_result(resumed, reference)
    kept = next((tmp_path / CORRUPT_NAME).glob(f"*-{BACKUP_NAME}"))
    assert (kept / "latest.weights.h5").is_file()  # set aside, not deleted


@pytest.mark.parametrize("text", ["{not json", "[]", '{"version": 1, "states": [5], '
                                                     '"history": []}'])
def test_unreadable_index_starts_over(tmp_path, text):
    index = _stopped_after(tmp_path, 1)
    assert index["states"]
    (tmp_path / BACKUP_NAME / CHECKPOINT_NAME).write_text(text)
    set_seeds(SEED)
    model = _build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    restored = restore_checkpoint(model, tmp_path, run_key="")
    assert restored.epoch == 0 and "starting over" in restored.note
    assert not (tmp_path / BACKUP_NAME).exists() and (tmp_path / CORRUPT_NAME).is_dir()


def test_other_settings_start_over(tmp_path, capsys):
    _stopped_after(tmp_path, 1)
    capsys.readouterr()
    set_seeds(SEED)
    result = train_model(_build, *_data(), tmp_path, epochs=2, batch_size=8,  # not 16
                         learning_rate=0.05, seed=SEED, precision="float32", verbose=0)
    assert result.resumed_from_epoch == 0
    assert "made with other settings" in capsys.readouterr().out


def test_unreadable_best_weights_start_over(reference, tmp_path, capsys):
    _stopped_after(tmp_path, 1)
    best = tmp_path / "best.weights.h5"
    best.write_bytes(best.read_bytes()[:500])
    resumed = _train(tmp_path)
    assert "best.weights.h5 is unreadable" in capsys.readouterr().out
    _assert_same_result(resumed, reference)


@pytest.fixture
def restore_policy():
    before = keras.mixed_precision.global_policy().name
    yield
    keras.mixed_precision.set_global_policy(before)


def test_resume_under_mixed_precision_matches_too(tmp_path, restore_policy):
    """What a GPU runs (``precision="auto"`` is mixed_float16 there): the loss-scaling
    optimizer's state travels in the checkpoint as well."""
    mixed = dict(precision="mixed_float16")

    def train(out, extra=()):
        set_seeds(SEED)
        return train_model(_build, *_data(), out, epochs=3, batch_size=BATCH, learning_rate=0.05,
                           seed=SEED, verbose=0, extra_callbacks=extra, **mixed)

    whole = train(tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "cut", [_StopAfter(0)])
    resumed = train(tmp_path / "cut")
    assert resumed.resumed_from_epoch == 1 and resumed.precision == "mixed_float16"
    assert np.allclose(resumed.history["val_loss"], whole.history["val_loss"], rtol=1e-6)
    for a, b in zip(resumed.model.get_weights(), whole.model.get_weights()):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-7)


def test_restore_rolls_back_a_failed_load(tmp_path):
    """A state that passes its checks but does not fit the model (another architecture) leaves
    the model as it was: starting over means starting from the initial weights."""
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    other.compile(optimizer="adam", loss="mse")
    save_checkpoint(other, tmp_path / BACKUP_NAME, 1, [{"epoch": 0, "loss": 1.0}], "k")
    set_seeds(SEED)
    model = _build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    restored = restore_checkpoint(model, tmp_path, run_key="k")
    assert restored.epoch == 0 and "Keras could not load it" in restored.note
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_write_history_matches_what_the_csv_logger_appends(tmp_path):
    rows = [{"epoch": 0, "val_loss": 0.5, "loss": 0.7, "accuracy": 0.5},
            {"epoch": 1, "val_loss": 0.4, "loss": 0.6, "accuracy": 0.6}]
    checkpoints.write_history(tmp_path / "h.csv", rows)
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == "epoch,accuracy,loss,val_loss"
    assert pd.read_csv(tmp_path / "h.csv")["val_loss"].tolist() == [0.5, 0.4]


# ---------------------------------------------------------------------------- a real kill

JOB = textwrap.dedent('''
    import sys
    import keras
    import numpy as np
    from sadutils.training import set_seeds, train_model

    out, epochs = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 2, 64)
    vx, vy = x[:16].copy(), y[:16].copy()

    def build():  # a 4-million-weight Dense layer: each checkpoint is some 50 MB to write
        return keras.Sequential([
            keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.Flatten(), keras.layers.Dropout(0.2),
            keras.layers.Dense(512, activation="relu"), keras.layers.Dense(2, activation="softmax")])

    set_seeds(11)
    result = train_model(build, x, y, vx, vy, out, epochs=epochs, batch_size=16,
                         learning_rate=0.01, seed=11, precision="float32", verbose=0)
    np.savez(out + "/final.npz", *result.model.get_weights())
    result.history.to_csv(out + "/final_history.csv", index=False)
    print("RESUMED_FROM", result.resumed_from_epoch, flush=True)
''')
KILL_EPOCHS = 3


def _job(tmp_path, out):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, str(script), str(out), str(KILL_EPOCHS)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _writing(out: Path) -> list[Path]:
    """Temporary files of checkpoint writes in progress (state files and the best weights)."""
    backup = out / BACKUP_NAME
    found = [p for p in out.glob(".best.weights.h5.*")]
    if backup.is_dir():
        found += [p for p in backup.glob(".epoch-*")]
    return found


def test_sigterm_in_the_middle_of_a_checkpoint_write_then_resume(tmp_path):
    """Stop a real training process with SIGTERM while it writes a checkpoint (seen by the
    temporary file it writes into), then run it again: it resumes, and ends with exactly the
    weights and history of an uninterrupted run."""
    reference = tmp_path / "reference"
    uninterrupted = _job(tmp_path, reference)  # runs beside the one to be killed
    out = tmp_path / "killed"
    job = _job(tmp_path, out)
    caught = []
    while job.poll() is None:
        writing = _writing(out)
        if writing and (out / BACKUP_NAME / CHECKPOINT_NAME).exists():
            job.send_signal(signal.SIGTERM)  # no handler: the process dies at once, as on a
            job.wait(timeout=60)             # cluster's preemption
            caught = writing
            break
        time.sleep(0.001)
    assert caught, "the run ended before a checkpoint write could be interrupted"
    assert job.returncode == -signal.SIGTERM
    assert any(p.exists() for p in caught), "the kill did not land inside the write"
    output = uninterrupted.communicate(timeout=600)[0]
    assert uninterrupted.returncode == 0 and "RESUMED_FROM 0" in output, output

    job = _job(tmp_path, out)
    output = job.communicate(timeout=600)[0]
    assert job.returncode == 0, output
    assert "training checkpoint: resuming after epoch" in output
    assert int(output.split("RESUMED_FROM")[1].split()[0]) >= 1
    assert not _writing(out) and not (out / BACKUP_NAME).exists()
    got, want = np.load(out / "final.npz"), np.load(reference / "final.npz")
    assert len(got.files) == len(want.files)
    for name in want.files:
        assert np.allclose(got[name], want[name], rtol=1e-6, atol=1e-7), name
    pd.testing.assert_frame_equal(pd.read_csv(out / "final_history.csv"),
                                  pd.read_csv(reference / "final_history.csv"),
                                  rtol=1e-6, atol=1e-7)
