"""One notebook run: papermill executes it, its kernel's noise goes to the run's log, its
progress events reach the reader, and its executed copy is titled after the run.

:mod:`sadutils.runner.execute` decides *whether* a run runs (``sadutils reproduce``); this
module is *how*. A failure is an outcome (:class:`RunOutcome`), never an exception.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import papermill

from .. import backbones as registry
from ..fileio import atomic_path, write_json, write_text
from ..progress import PROGRESS_ENV, describe, read_events
from ..provenance import cpu_description
from ..quiet import KERNEL_STDERR_ENV
from ..settings import TRAIN_FILTER_LABELS
from ..workspace import shown_path
from .kernel import KERNEL_ARGUMENTS, kernel_manager_class
from .steps import NotebookRun

#: Seconds between two progress lines that are not epoch ends, when the terminal cannot
#: rewrite its last line (a log file, CI).
PLAIN_PROGRESS_INTERVAL_S = 30.0


@dataclass
class RunOutcome:
    """What happened to one notebook run.

    Attributes
    ----------
    name : str
    status : str
        ``ran``, ``skipped``, ``failed`` or ``blocked`` (not run because a run it depends on
        failed or was blocked).
    reason : str
        Why it ran or was skipped.
    wall_s : float or None
    output : Path or None
        The executed notebook.
    log : Path or None
        The kernel's own output (None when it went to the terminal, with ``verbose``).
    error : str or None
        For a failure: the failing cell and the error's first line.
    cell_index, cell_source
        The failing cell: its index in the executed notebook and its first line.
    """

    name: str
    status: str
    reason: str = ""
    wall_s: float | None = None
    output: Path | None = None
    log: Path | None = None
    error: str | None = None
    cell_index: int | None = None
    cell_source: str | None = None


class _NothingWritten(Exception):
    """Papermill wrote no executed copy (the previous one, if any, stays)."""


def _first_line(source) -> str:
    for line in str(source).splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def _kernel_name(notebook: Path) -> str:
    """The notebook's own kernel, or ``python3``."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
        return meta.get("kernelspec", {}).get("name") or "python3"
    except (OSError, ValueError, AttributeError):
        return "python3"


def progress_shower(label: str, echo, status):
    """What to do with each progress event of a run.

    All events go to ``status``; without one, each epoch's end goes to ``echo``, and other
    progress only once the run has gone :data:`PLAIN_PROGRESS_INTERVAL_S` without a line
    (short steps say nothing).

    Parameters
    ----------
    label : str
        The run's label (``[3/8] 03_train-xception``).
    echo : callable
        Prints one line.
    status : callable or None
        Rewrites the terminal's status line in place (None where it cannot: a log, CI).

    Returns
    -------
    callable
        ``show(event)`` for :class:`_ProgressWatcher`.
    """
    last_plain = [time.monotonic()]

    def show(event: dict) -> None:
        if event.get("kind") == "phase":  # the run's profile: kept in its timing file
            return
        text = f"{label}: {describe(event)}"
        if status is not None:
            status(text)
        elif event.get("kind") == "epoch" or \
                time.monotonic() - last_plain[0] >= PLAIN_PROGRESS_INTERVAL_S:
            last_plain[0] = time.monotonic()
            echo("    " + describe(event))
    return show


class _ProgressWatcher(threading.Thread):
    """Reads a run's progress file while its notebook runs, handing each event on."""

    def __init__(self, path: Path, on_event, every_s: float = 0.5):
        super().__init__(daemon=True)
        self.path, self.on_event, self.every_s = path, on_event, every_s
        self.offset = 0
        self.done = threading.Event()

    def poll(self) -> None:
        events, self.offset = read_events(self.path, self.offset)
        for event in events:
            self.on_event(event)

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            self.poll()

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.poll()  # what came in since the last look


def execute_run(run: NotebookRun, source: Path, output: Path, parameters: dict, why: str,
             kernel_name: str | None, log: Path | None = None, on_progress=None,
             progress_path: Path | None = None, device: dict | None = None,
             timing_path: Path | None = None) -> RunOutcome:
    """Execute one notebook with papermill; a failure becomes an outcome, never an exception.

    Parameters
    ----------
    run : NotebookRun
    source, output : Path
        The notebook and where its executed copy goes.
    parameters : dict
        Papermill's parameters.
    why : str
        Why it runs (kept in the outcome and the log).
    kernel_name : str or None
        None: the notebook's own kernel.
    log : Path, optional
        Where the kernel's own output (TensorFlow's C++ messages, Jupyter's warnings) and
        papermill's messages go; None: to the terminal, with the cells' output.
    on_progress : callable, optional
        Receives the notebook's progress events (read from ``progress_path``).
    progress_path : Path, optional
    device : dict, optional
        Variables for the kernel's environment that choose its device
        (``CUDA_VISIBLE_DEVICES``).
    timing_path : Path, optional
        Where the run's profile goes (:func:`run_timing`); needs ``progress_path``.

    Returns
    -------
    RunOutcome
        ``ran`` or ``failed`` (with the failing cell and the error's first line), and the
        wall time.
    """
    t0, started = time.perf_counter(), time.time()
    outcome = RunOutcome(run.name, "ran", why, output=output, log=log)
    # The kernel's descriptors already go to the run's log (or, verbose, to the terminal):
    # sadutils, imported by the notebook, leaves them there (sadutils.quiet).
    environment = {**(device or {}), KERNEL_STDERR_ENV: "keep"}
    watcher = None
    if progress_path is not None and on_progress is not None:
        progress_path.parent.mkdir(parents=True, exist_ok=True)
        progress_path.write_text("")
        environment[PROGRESS_ENV] = str(progress_path)
        watcher = _ProgressWatcher(progress_path, on_progress)
    papermill_log = logging.getLogger("papermill")
    handler, propagate = None, papermill_log.propagate
    log_file = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed below
        log_file.write(f"sadutils reproduce: {run.name} ({why}), started "
                       f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}; "
                       "what the kernel wrote outside its cells follows\n")
        handler = logging.StreamHandler(log_file)
        papermill_log.propagate = False
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[papermill] %(levelname)s %(message)s"))
    # Runs may execute side by side (--jobs): each log takes its own thread's messages only.
    this_thread = threading.get_ident()
    handler.addFilter(lambda record: record.thread == this_thread)
    papermill_log.addHandler(handler)
    if watcher is not None:
        watcher.start()
    try:
        # Papermill rewrites its output after every cell: it writes a temporary file (".json",
        # which papermill accepts and the book never reads as a page) that replaces the
        # executed copy once the run is over, so a killed run never leaves half a notebook.
        with contextlib.suppress(_NothingWritten), atomic_path(output, ".json") as partial:
            try:
                papermill.execute_notebook(
                    str(source), str(partial), parameters=parameters, cwd=str(source.parent),
                    kernel_name=kernel_name or _kernel_name(source), progress_bar=False,
                    log_output=log is None, kernel_manager_class=kernel_manager_class(
                        log_file, environment), extra_arguments=list(KERNEL_ARGUMENTS))
            except papermill.PapermillExecutionError as exc:
                outcome.status = "failed"
                outcome.cell_index, outcome.cell_source = exc.cell_index, _first_line(exc.source)
                outcome.error = (f"cell {exc.cell_index} (`{outcome.cell_source}`): "
                                 f"{exc.ename}: {_first_line(exc.evalue)}")
            except Exception as exc:  # noqa: BLE001 - a dead kernel, a missing kernel, a timeout
                outcome.status = "failed"
                outcome.error = f"{type(exc).__name__}: {_first_line(str(exc)) or repr(exc)}"
            if partial.stat().st_size == 0:  # the kernel never started: nothing to keep
                raise _NothingWritten
    finally:
        if watcher is not None:
            watcher.stop()
        papermill_log.removeHandler(handler)
        papermill_log.propagate = propagate
        if log_file is not None:
            log_file.write(f"sadutils reproduce: {run.name} {outcome.status}"
                           + (f": {outcome.error}" if outcome.error else "") + "\n")
            log_file.close()
    outcome.wall_s = time.perf_counter() - t0
    if timing_path is not None and progress_path is not None:
        try:
            write_json(timing_path, run_timing(run, outcome, started, output, progress_path,
                                               environment))
        except (OSError, ValueError) as exc:  # a profile never fails a run
            print(f"note: no timing file for {run.name} ({exc})", file=sys.stderr)
    return outcome


def _seconds(iso) -> float | None:
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def run_timing(run: NotebookRun, outcome: RunOutcome, started: float, output: Path,
               progress_path: Path, environment: dict | None = None) -> dict:
    """The profile of one notebook run: where its wall time went.

    Parameters
    ----------
    run : NotebookRun
    outcome : RunOutcome
        With its wall time.
    started : float
        When the run started (``time.time()``).
    output : Path
        The executed notebook (papermill stores each cell's start and duration in it).
    progress_path : Path
        The run's progress file, whose ``phase`` events (:func:`sadutils.progress.phase`) are
        the timed parts of the notebook's work.
    environment : dict, optional
        The variables the runner gave the kernel (its threads, its GPU).

    Returns
    -------
    dict
        ``run``, ``notebook``, ``status``, ``started``, ``wall_s``; ``kernel_start_s`` (from
        the start of the run to its first cell: kernel start-up); ``cells`` (index, first line
        and seconds of each code cell); ``phases`` (each timed part: name, wall and CPU
        seconds, details); ``machine`` (CPU model and cores) and ``environment``.
    """
    cells, first_start = [], None
    if output.is_file():
        nb = nbformat.read(str(output), as_version=4)
        for index, cell in enumerate(nb.cells):
            meta = cell.get("metadata", {}).get("papermill", {})
            if cell.cell_type != "code" or meta.get("duration") is None:
                continue
            begun = _seconds(meta.get("start_time"))
            if begun is not None and (first_start is None or begun < first_start):
                first_start = begun
            cells.append({"index": index, "first_line": _first_line(cell.source),
                          "wall_s": round(float(meta["duration"]), 3)})
    events, _ = read_events(progress_path)
    phases = [{k: v for k, v in e.items() if k not in ("kind", "time")}
              for e in events if e.get("kind") == "phase"]
    return {
        "run": run.name, "notebook": run.notebook, "status": outcome.status,
        "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(outcome.wall_s or 0.0, 3),
        "kernel_start_s": None if first_start is None else round(first_start - started, 3),
        "cells": cells, "phases": phases,
        "machine": {"cpu": cpu_description(), "cores": os.cpu_count()},
        "environment": dict(environment or {}),
    }


def _run_title(parameters: dict, run: NotebookRun) -> str | None:
    """What tells this run's executed notebook apart from its notebook's other runs: the
    backbone's row for runs that name a backbone (``EfficientNetV2B2``, ``Xception
    no-pretrain``) and the seed of a run of one seed (``EfficientNetV2B2, seed 1235``), else
    None."""
    parts = []
    if "backbone" in run.parameters:
        try:
            parts.append(registry.get(parameters["backbone"]).row(
                parameters.get("pretrained", True) is not False))
        except (ValueError, KeyError):
            parts.append(run.name)
    if "train_filter" in run.parameters:
        parts.append(TRAIN_FILTER_LABELS.get(parameters.get("train_filter"),
                                             str(parameters.get("train_filter"))))
    seeds = run.parameters.get("seeds")
    if isinstance(seeds, list) and len(seeds) == 1:
        parts.append(f"seed {seeds[0]}")
    return ", ".join(parts) or None


def retitle(output: Path, parameters: dict, run: NotebookRun) -> None:
    """Name the run in its executed notebook's title, and keep papermill's record of the
    input and output paths relative to the checkout, not the building machine's folders.

    Parameters
    ----------
    output : Path
        The executed notebook (nothing happens when it is missing).
    parameters : dict
        The run's parameters.
    run : NotebookRun
        Runs naming a backbone or one seed get them as a suffix of the first heading
        (``# Fine-tuning a backbone (Table 1): EfficientNetV2B2, seed 1235``).
    """
    if not output.is_file():
        return
    nb = nbformat.read(str(output), as_version=4)
    suffix = _run_title(parameters, run)
    if suffix:
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            lines = cell.source.split("\n")
            for i, line in enumerate(lines):
                if line.startswith("# ") and not line.rstrip().endswith(f": {suffix}"):
                    lines[i] = f"{line.rstrip()}: {suffix}"
                    cell.source = "\n".join(lines)
                    break
            break
    paths = nb.metadata.get("papermill", {})
    if isinstance(paths.get("input_path"), str):
        paths["input_path"] = shown_path(paths["input_path"])
    if "output_path" in paths:  # papermill wrote a temporary file; this is its name now
        paths["output_path"] = shown_path(output)
    write_text(output, nbformat.writes(nb) + "\n")
