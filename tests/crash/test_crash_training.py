"""A training run killed at every crash point: every epoch boundary (the checkpoint's index
renamed), and in the middle of every checkpoint (a state file written but not yet renamed, a
state file renamed but not yet named by the index, the best epoch's weights half-way).

The kills form a chain (see tests/crash/conftest.py): each rerun resumes from what the kills
before it left and dies at the next point; the last rerun must end with exactly the weights and
history of an uninterrupted run, and no checkpoint may ever have been set aside as damaged
(nothing half-written was named). The runs are forked from a server process that imported
TensorFlow once: a run then costs its training only (a tiny model, 2 epochs).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sadutils import checkpoints

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 2

SERVER = textwrap.dedent('''
    import json, os, sys, traceback
    import keras
    import numpy as np
    from sadutils import fileio
    from sadutils.training import set_seeds, train_model

    def build():
        return keras.Sequential([
            keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Flatten(),
            keras.layers.Dropout(0.2), keras.layers.Dense(2, activation="softmax")])

    def job(out, epochs):
        set_seeds(11)
        rng = np.random.default_rng(3)
        x = rng.integers(0, 256, (48, 8, 8, 3), dtype=np.uint8)
        y = rng.integers(0, 2, 48)
        x[y == 0, :4] //= 2  # a little signal, so that the validation loss improves
        result = train_model(build, x, y, x[:16].copy(), y[:16].copy(), out, epochs=epochs,
                             batch_size=8, learning_rate=0.01, seed=11, precision="float32",
                             verbose=0)
        np.savez(os.path.join(out, "final.npz"), *result.model.get_weights())
        result.history.to_csv(os.path.join(out, "final_history.csv"), index=False)

    for line in sys.stdin:  # one request a line; one forked child per request
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            status = 70
            try:
                os.setpgid(0, 0)
                log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(log, 1)
                os.dup2(log, 2)
                for key, value in request["env"].items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
                os.environ[fileio.CRASH_GROUP_ENV] = str(os.getpid())
                fileio.arm_crash_points()
                job(request["out"], request["epochs"])
                status = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)
''')


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    """``train(out, kill_at=None, trace=None) -> exit status`` on the server."""
    folder = tmp_path_factory.mktemp("trainer")
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=open(folder / "server.log", "w"),
                              text=True, cwd=folder,
                              env={**os.environ, "PYTHONPATH": str(REPO),
                                   "TF_CPP_MIN_LOG_LEVEL": "3"})

    def train(out, crash, kill_at=None, trace=None, log=None, epochs=EPOCHS):
        request = {"out": str(out), "epochs": epochs, "log": str(log or folder / "run.log"),
                   "env": crash.crash_env(kill_at, trace)}
        server.stdin.write(json.dumps(request) + "\n")
        server.stdin.flush()
        answer = server.stdout.readline()
        assert answer, (folder / "server.log").read_text()
        return json.loads(answer)["status"]

    yield train
    server.stdin.close()
    server.wait(timeout=60)


def _checkpoint_sound(folder: Path, point) -> None:
    """What a resume trusts is whole: the newest state the index names, the best weights."""
    index = checkpoints._read_index(folder / checkpoints.BACKUP_NAME)
    if (folder / checkpoints.BACKUP_NAME / checkpoints.CHECKPOINT_NAME).exists():
        assert index is not None, point  # never half an index
    if index and index["states"]:
        newest = max(index["states"], key=lambda s: s["epoch"])
        problem = checkpoints._state_problem(
            folder / checkpoints.BACKUP_NAME / newest["weights"], newest)
        assert problem is None, (point, problem)
    best = folder / "best.weights.h5"
    if best.exists():
        assert checkpoints.readable_weights(best) is None, point


def test_training_killed_at_every_epoch_boundary_and_mid_checkpoint(crash, trainer, tmp_path):
    reference, log = tmp_path / "reference", tmp_path / "train.log"
    trace = tmp_path / "reference.tsv"
    assert trainer(reference, crash, trace=trace, log=log) == 0, log.read_text()
    points = crash.read_trace(trace)
    labels = [p.label for p in points]
    assert labels.count("renamed checkpoint.json") == EPOCHS
    assert labels.count("written best.weights.h5") == EPOCHS  # the loss improved each epoch
    boundaries = [i for i, label in enumerate(labels) if label == "renamed checkpoint.json"]

    def resumes_at(folder):
        """Where a rerun starts in the uninterrupted run: after the epochs its checkpoint
        holds (first rewriting history.csv: three crash points of its own), else at the start."""
        index = checkpoints._read_index(folder / checkpoints.BACKUP_NAME)
        done = max((s["epoch"] for s in index["states"]), default=0) if index else 0
        return (boundaries[done - 1] + 1, 3) if done else (0, 0)

    killed_folder = tmp_path / "killed"
    killed = crash.chain(killed_folder,
                         run=lambda at, tr: trainer(killed_folder, crash, at, tr, log),
                         resumes_at=resumes_at, after_kill=_checkpoint_sound,
                         reference=points, log=log)
    assert len(killed) == len(points) >= 20
    _same_result(killed_folder, reference)
    crash.report("training (2 epochs)", "every point, chained", len(points), len(killed))


def _same_result(folder: Path, reference: Path) -> None:
    """The uninterrupted run's weights and history, and no checkpoint ever set aside."""
    assert not (folder / checkpoints.CORRUPT_NAME).exists()  # nothing set aside as damaged
    got, want = np.load(folder / "final.npz"), np.load(reference / "final.npz")
    assert len(got.files) == len(want.files)
    for name in want.files:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    pd.testing.assert_frame_equal(pd.read_csv(folder / "final_history.csv"),
                                  pd.read_csv(reference / "final_history.csv"))


@pytest.mark.slow
def test_training_every_point_from_a_fresh_start_slow(crash, trainer, tmp_path):
    """Three epochs; each crash point killed once, from a fresh run, and the rerun compared."""
    reference, log = tmp_path / "reference", tmp_path / "train.log"
    trace = tmp_path / "reference.tsv"
    assert trainer(reference, crash, trace=trace, log=log, epochs=3) == 0, log.read_text()
    points = crash.read_trace(trace)
    for n, point in enumerate(points, 1):
        folder = tmp_path / f"killed-{n}"
        assert trainer(folder, crash, kill_at=n, log=log, epochs=3) == -9, (n, point)
        _checkpoint_sound(folder, point)
        assert trainer(folder, crash, log=log, epochs=3) == 0, (n, log.read_text())
        _same_result(folder, reference)
    crash.report("training (3 epochs)", "every point, one kill per run", len(points),
                 len(points))
