"""Live progress of long steps, from a notebook's kernel to the terminal of ``sadutils reproduce``.

A notebook run by ``sadutils reproduce`` executes in a kernel whose output goes into the executed
notebook, not to the terminal. To show what a long step is doing (the epoch, its loss and
accuracy, the time left; how many images are scored), the steps call :func:`report`, which
appends one JSON line to the file named by the environment variable :data:`PROGRESS_ENV` when
it is set (the runner sets it for each kernel) and does nothing otherwise, so a notebook run by
hand or a test is unaffected. The runner reads the lines back with :func:`read_events` and
shows them with :func:`describe`.

The same channel carries the run's *profile*: :func:`phase` times a stretch of work (decoding
images, building a model, an epoch, the BatchNorm refresh, scoring, bootstrap intervals, OCR)
and reports its wall and CPU seconds as a ``phase`` event, which the runner keeps in the run's
timing file (:func:`sadutils.runner.notebook.run_timing`) and the book's Performance page shows.

Only the standard library is used here: the runner imports this module without starting
TensorFlow.
"""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

#: The environment variable naming the progress file of the current kernel.
PROGRESS_ENV = "SADUTILS_PROGRESS_FILE"
#: At most one ``batch``/``images`` event per this many seconds (epoch ends always go out).
MIN_INTERVAL_S = 1.0

_last_sent: dict[str, float] = {}


def report(kind: str, *, force: bool = False, **fields) -> bool:
    """Append one progress event to the progress file, if there is one.

    Parameters
    ----------
    kind : str
        ``epoch`` (an epoch ended), ``batch`` (within an epoch), ``images`` (images decoded
        or scored) or ``phase`` (a timed stretch of work, :func:`phase`).
    force : bool
        Send even if an event of this kind went out less than :data:`MIN_INTERVAL_S` ago
        (the first and last of a series always should).
    **fields
        JSON-serialisable values: ``step`` (what is being done), ``done``, ``total``,
        ``eta_s``, and for epochs the metrics (``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy``).

    Returns
    -------
    bool
        Whether the event was written (False without a progress file, when throttled, or when
        the file cannot be written: progress never stops a run).
    """
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return False
    now = time.monotonic()
    if not force and now - _last_sent.get(kind, float("-inf")) < MIN_INTERVAL_S:
        return False
    _last_sent[kind] = now
    event = {"kind": kind, "time": time.time(), **fields}
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event, default=str) + "\n")
    except OSError:
        return False
    return True


def clock() -> tuple[float, float, float]:
    """Now, as :func:`report_phase` measures from it: wall clock, process CPU time, epoch time."""
    return time.perf_counter(), time.process_time(), time.time()


def report_phase(name: str, since: tuple[float, float, float], **fields) -> bool:
    """Report the work done since ``since`` (a :func:`clock` reading) as a ``phase`` event.

    Parameters
    ----------
    name : str
        What was timed, as the profile shows it (``"decode images"``, ``"epoch"``); phases of
        one name add up in the profile.
    since : tuple
        :func:`clock` at the start of the work.
    **fields
        JSON-serialisable details (``images=650``, ``epoch=2``).

    Returns
    -------
    bool
        Whether it was written (see :func:`report`).

    Notes
    -----
    The CPU seconds are the whole process's (all threads), so ``cpu_s / wall_s`` is the number
    of cores the phase kept busy.
    """
    wall0, cpu0, start = since
    return report("phase", force=True, phase=name, start=round(start, 3),
                  wall_s=round(time.perf_counter() - wall0, 4),
                  cpu_s=round(time.process_time() - cpu0, 4), **fields)


@contextmanager
def phase(name: str, **fields):
    """Time a block of a run's work and report it as a ``phase`` event (:func:`report_phase`).

    Parameters
    ----------
    name : str
    **fields
        JSON-serialisable details.

    Yields
    ------
    dict
        Fields added to it inside the block are reported too.

    Notes
    -----
    Nothing is written without a progress file (a notebook run by hand). A block that raises
    is reported with ``failed=True``.
    """
    extra, since, failed = dict(fields), clock(), True
    try:
        yield extra
        failed = False
    finally:
        report_phase(name, since, **({"failed": True} if failed else {}), **extra)


def read_events(path, offset: int = 0) -> tuple[list[dict], int]:
    """The complete events written to ``path`` after byte ``offset``.

    Parameters
    ----------
    path : path
    offset : int
        Where the previous call stopped.

    Returns
    -------
    events : list of dict
        Lines that are not JSON objects are skipped; a last line still being written is left
        for the next call.
    offset : int
        Where to continue.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    events = []
    for line in data[:end].splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events, offset + end


def duration(seconds) -> str:
    """``"45 s"``, ``"3 min 05 s"`` or ``"1 h 02 min"``.

    Parameters
    ----------
    seconds : float

    Returns
    -------
    str
    """
    seconds = max(0, int(round(float(seconds))))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _number(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def describe(event: dict) -> str:
    """One short line for a person: what is running and how far it is.

    Parameters
    ----------
    event : dict
        As written by :func:`report`.

    Returns
    -------
    str
        e.g. ``"training xception: epoch 2/3, loss 0.612, accuracy 0.684, val_loss 0.655,
        val_accuracy 0.641; about 35 s left"`` or ``"scoring images for text: 640/1,200"``;
        empty for a ``phase`` event (a profile entry, not progress).
    """
    kind = event.get("kind")
    if kind == "phase":  # a profile entry, not progress
        return ""
    step = event.get("step") or ""
    done, total = event.get("done"), event.get("total")
    count = f"{done:,}/{total:,}" if isinstance(done, int) and isinstance(total, int) else ""
    if kind == "epoch":
        text = f"{step}: epoch {count}" if step else f"epoch {count}"
        metrics = [f"{name} {_number(event[name])}" for name in
                   ("loss", "accuracy", "val_loss", "val_accuracy") if name in event]
        if metrics:
            text += ", " + ", ".join(metrics)
    elif kind == "batch":
        epoch = event.get("epoch")
        epochs = event.get("epochs")
        text = f"{step}: epoch {epoch}/{epochs}, batch {count}" if epoch else f"{step}: {count}"
        if "loss" in event:
            text += f", loss {_number(event['loss'])}"
    else:
        text = f"{step}: {count}" if step else count
    if isinstance(event.get("eta_s"), (int, float)):
        text += f"; about {duration(event['eta_s'])} left"
    return text


def progress_file(folder, run: str) -> Path:
    """The progress file of one notebook run (emptied when the run starts).

    Parameters
    ----------
    folder : path
        The workspace's logs folder.
    run : str

    Returns
    -------
    Path
    """
    return Path(folder) / f"{run}.progress.jsonl"
