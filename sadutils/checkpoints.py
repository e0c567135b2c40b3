"""Training checkpoints that a crash cannot spoil: written atomically, checked when read.

After every epoch a run saves its state (the weights and the optimizer's state) to
``<run>/backup/epoch-NNNN.weights.h5``, then ``<run>/backup/checkpoint.json``, each through a
temporary file and a rename (:func:`sadutils.fileio.atomic_path`). The JSON lists the last
:data:`KEEP` states with their size and SHA-256, the history rows of the epochs done and a key
of the run's settings; older state files are removed only after it is written. So whenever a
run is stopped (Ctrl-C, SIGTERM from a preempted cluster job, a power cut), the folder holds a
complete JSON naming complete state files.

:func:`restore_checkpoint` resumes from the newest state that passes its checks (size, SHA-256,
then Keras loading it); a state that fails is *set aside* (moved to ``<run>/corrupt/``, never
deleted) and the next older one is tried; when none is usable, or the run's settings changed,
the run starts over with the old files set aside. Either way it says which, in one line.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import h5py
import keras
import numpy as np
import pandas as pd

from .fileio import atomic_path, file_sha256, write_json, write_text

#: The folder of a run's checkpoints, and its index.
BACKUP_NAME = "backup"
CHECKPOINT_NAME = "checkpoint.json"
#: Where unusable files are moved (renamed, not deleted).
CORRUPT_NAME = "corrupt"
#: States kept: the newest and the one before (the fallback when the newest is unusable).
KEEP = 2
VERSION = 1


@dataclass
class Resume:
    """Where a run continues.

    Attributes
    ----------
    epoch : int
        Epochs already done (0: from the start).
    history : list of dict
        One row per epoch done (``epoch``, ``loss``, ``val_loss``, ...).
    note : str
        What happened, in words ("" for a fresh run).
    set_aside : list of Path
        Files or folders moved to ``<run>/corrupt/``.
    """

    epoch: int = 0
    history: list = field(default_factory=list)
    note: str = ""
    set_aside: list = field(default_factory=list)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")


def set_aside(path: Path, run_dir: Path) -> Path:
    """Move ``path`` (a file or folder) into ``run_dir/corrupt/`` under a stamped name.

    Parameters
    ----------
    path : Path
    run_dir : Path

    Returns
    -------
    Path
        Its new place.
    """
    target = Path(run_dir) / CORRUPT_NAME / f"{_stamp()}-{Path(path).name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(target))
    return target


def _state_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}.weights.h5"


def _history_row(epoch: int, logs: dict) -> dict:
    row = {"epoch": int(epoch)}
    for key, value in (logs or {}).items():
        try:
            row[str(key)] = float(value)
        except (TypeError, ValueError):  # a non-numeric log entry is not history
            continue
    return row


def save_checkpoint(model, backup_dir: Path, epochs_done: int, history: list,
                    run_key: str = "") -> Path:
    """Save the model's state after ``epochs_done`` epochs, atomically; keep the last
    :data:`KEEP` states.

    Parameters
    ----------
    model : keras.Model
        Compiled; its weights and optimizer state are saved.
    backup_dir : Path
    epochs_done : int
    history : list of dict
        The rows of the epochs done.
    run_key : str
        Identifies the run's settings (a resume with other settings starts over).

    Returns
    -------
    Path
        The checkpoint's JSON.
    """
    backup_dir = Path(backup_dir)
    backup_dir.mkdir(parents=True, exist_ok=True)
    name = _state_name(epochs_done)
    with atomic_path(backup_dir / name, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    path = backup_dir / name
    previous = _read_index(backup_dir) or {}
    states = [{"epoch": int(epochs_done), "weights": name, "bytes": path.stat().st_size,
               "sha256": file_sha256(path)}]
    if previous.get("run_key") == run_key:
        states += [s for s in previous["states"] if s["epoch"] < epochs_done][: KEEP - 1]
    index = {"version": VERSION, "run_key": run_key, "states": states,
             "history": [dict(row) for row in history]}
    write_json(backup_dir / CHECKPOINT_NAME, index)
    _remove_unlisted(backup_dir, {s["weights"] for s in states})
    return backup_dir / CHECKPOINT_NAME


def _remove_unlisted(backup_dir: Path, listed: set) -> None:
    """Remove state files the index no longer lists and temporary files of killed writes."""
    for path in backup_dir.iterdir():
        ours = path.name.startswith(("epoch-", ".epoch-", f".{CHECKPOINT_NAME}."))
        if path.is_file() and ours and path.name not in listed:
            path.unlink(missing_ok=True)


def _read_index(backup_dir: Path) -> dict | None:
    """The checkpoint's JSON if it is one of this version, else None."""
    try:
        index = json.loads((backup_dir / CHECKPOINT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    ok = (isinstance(index, dict) and index.get("version") == VERSION
          and isinstance(index.get("states"), list) and isinstance(index.get("history"), list)
          and all(isinstance(s, dict) and isinstance(s.get("epoch"), int)
                  and isinstance(s.get("weights"), str) and "/" not in s["weights"]
                  for s in index["states"])
          and all(isinstance(r, dict) for r in index["history"]))
    return index if ok else None


def _state_problem(path: Path, state: dict) -> str | None:
    """Why a state file cannot be used (missing, cut short, changed), or None."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != state.get("bytes"):
        return f"{size} bytes where {state.get('bytes')} were written (cut short or changed)"
    if file_sha256(path) != state.get("sha256"):
        return "its content changed since it was written (SHA-256 differs)"
    return None


def readable_weights(path: Path) -> str | None:
    """Why an ``.h5`` weights file cannot be read in full, or None when it can.

    Parameters
    ----------
    path : Path

    Returns
    -------
    str or None
    """
    def read(name, obj):
        if isinstance(obj, h5py.Dataset):
            obj[()]

    try:
        with h5py.File(path, "r") as f:
            f.visititems(read)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    return None


def _snapshot(model) -> list:
    return [np.array(v.numpy()) for v in _variables(model)]


def _variables(model) -> list:
    optimizer = getattr(model, "optimizer", None)
    return list(model.variables) + (list(optimizer.variables) if optimizer is not None else [])


def _roll_back(model, snapshot) -> None:
    for variable, value in zip(_variables(model), snapshot):
        variable.assign(value)


def restore_checkpoint(model, run_dir: Path, run_key: str = "", extra_files=(),
                       best_file: Path | None = None) -> Resume:
    """Load the newest usable checkpoint of ``run_dir`` into ``model``; say where to resume.

    Parameters
    ----------
    model : keras.Model
        Built and compiled (its optimizer is built here when a state is loaded).
    run_dir : Path
        Holds ``backup/`` (absent: a fresh run).
    run_key : str
        The settings' key: a checkpoint of other settings is set aside and the run starts
        over.
    extra_files : sequence of Path
        Files that belong to the checkpoint's run (``history.csv``, ``best.weights.h5``): set
        aside too when the run starts over.
    best_file : Path, optional
        The weights of the best epoch so far, which the run returns in the end: once an epoch
        with a finite validation loss is done it must be readable, else the run starts over.

    Returns
    -------
    Resume
        With ``epoch`` 0 when there is nothing usable. The model holds the loaded state, or
        its initial weights when the run starts over (a failed load is rolled back).
    """
    run_dir = Path(run_dir)
    backup_dir = run_dir / BACKUP_NAME
    if not backup_dir.exists():
        return Resume()
    if backup_dir.is_dir() and not (backup_dir / CHECKPOINT_NAME).exists():
        # A run killed before its first index was written: its state files are named by no
        # index, so they are a fresh run's leftovers (removed), not a damaged checkpoint.
        _remove_unlisted(backup_dir, set())
    if not backup_dir.is_dir() or not any(backup_dir.iterdir()):
        if backup_dir.is_dir():
            backup_dir.rmdir()
        else:
            return _start_over(run_dir, [backup_dir], extra_files,
                               f"{backup_dir} is not a folder")
        return Resume()
    index = _read_index(backup_dir)
    if index is None:
        return _start_over(run_dir, [backup_dir], extra_files,
                           f"{backup_dir / CHECKPOINT_NAME} is missing or unreadable (a "
                           f"checkpoint of another version, or a damaged one)")
    if index.get("run_key", "") != run_key:
        return _start_over(run_dir, [backup_dir], extra_files,
                           "the checkpoint was made with other settings")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    snapshot = _snapshot(model)
    problems, aside = [], []
    for state in sorted(index["states"], key=lambda s: -s["epoch"]):
        path = backup_dir / state["weights"]
        problem = _state_problem(path, state)
        if problem is None:
            try:
                model.load_weights(path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                _roll_back(model, snapshot)
                problem = f"Keras could not load it ({type(exc).__name__}: {exc})"
        if problem is not None:
            problems.append(f"{path.name}: {problem}")
            if path.exists():
                aside.append(set_aside(path, run_dir))
            continue
        epoch = state["epoch"]
        history = [r for r in index["history"] if isinstance(r.get("epoch"), int)
                   and r["epoch"] < epoch]
        if len(history) != epoch:
            _roll_back(model, snapshot)
            problems.append(f"{path.name}: the history of its {epoch} epochs is incomplete")
            continue
        best_problem = _best_problem(best_file, history)
        if best_problem:
            _roll_back(model, snapshot)
            resume = _start_over(run_dir, [backup_dir], extra_files, best_problem)
            resume.set_aside[:0] = aside
            return resume
        _remove_unlisted(backup_dir, {s["weights"] for s in index["states"]
                                      if (backup_dir / s["weights"]).is_file()})
        note = f"resuming after epoch {epoch} from {path.relative_to(run_dir)}"
        if problems:
            note += (f", the last good state; set aside (see {run_dir / CORRUPT_NAME}): "
                     + "; ".join(problems))
        return Resume(epoch, history, note, aside)
    _roll_back(model, snapshot)
    resume = _start_over(run_dir, [backup_dir], extra_files,
                         "no usable state: " + "; ".join(problems))
    resume.set_aside[:0] = aside
    return resume


def _best_problem(best_file: Path | None, history: list) -> str | None:
    """Why the best epoch's weights are unusable for a resume, or None."""
    finite = [r for r in history if np.isfinite(r.get("val_loss", np.nan))]
    if best_file is None or not finite:
        return None
    if not Path(best_file).is_file():
        return f"{Path(best_file).name} (the best epoch's weights) is missing"
    problem = readable_weights(best_file)
    return f"{Path(best_file).name} is unreadable ({problem})" if problem else None


def _start_over(run_dir: Path, paths, extra_files, why: str) -> Resume:
    moved = [set_aside(p, run_dir) for p in [*paths, *extra_files] if Path(p).exists()]
    return Resume(0, [], f"starting over from epoch 0: {why}; the old files are set aside in "
                         f"{run_dir / CORRUPT_NAME}", moved)


def write_history(path: Path, rows: list) -> None:
    """Write history rows as Keras' ``CSVLogger`` does (``epoch``, then the sorted log names),
    atomically, so that the logger can append the next epochs to it.

    Parameters
    ----------
    path : Path
    rows : list of dict
    """
    if not rows:
        Path(path).unlink(missing_ok=True)
        return
    keys = sorted({k for row in rows for k in row} - {"epoch"})
    frame = pd.DataFrame(rows, columns=["epoch", *keys])
    write_text(path, frame.to_csv(index=False))


class CheckpointCallback(keras.callbacks.Callback):
    """Save a checkpoint after every epoch (:func:`save_checkpoint`); remove them when the run
    ends (a finished run needs none).

    Parameters
    ----------
    run_dir : Path
    history : list of dict
        The rows of the epochs done before this run (from :func:`restore_checkpoint`).
    run_key : str
    """

    def __init__(self, run_dir: Path, history=(), run_key: str = ""):
        super().__init__()
        self.backup_dir = Path(run_dir) / BACKUP_NAME
        self.history_rows = [dict(r) for r in history]
        self.run_key = run_key

    def on_epoch_end(self, epoch, logs=None):
        self.history_rows = [r for r in self.history_rows if r["epoch"] < epoch]
        self.history_rows.append(_history_row(epoch, logs))
        save_checkpoint(self.model, self.backup_dir, epoch + 1, self.history_rows,
                        self.run_key)

    def on_train_end(self, logs=None):
        shutil.rmtree(self.backup_dir, ignore_errors=True)
