"""Where a reproduce run's time went, as the book's *Performance* page shows it.

``sadutils reproduce`` writes one timing file per notebook run
(``results/<profile>/timings/<run>.json``, :func:`sadutils.runner.notebook.run_timing`): its
wall time, how long the kernel took to start, each code cell's seconds, and the *phases* the
package timed inside the notebook (:func:`sadutils.progress.phase`: decoding images, building
a model, each epoch, the BatchNorm refresh, validation, test predictions, bootstrap intervals,
OCR, records). This module reads them and sums them up per run and per phase.
"""
from __future__ import annotations

import json
import warnings
from datetime import datetime

import pandas as pd

from ..config import PROFILES
from ..workspace import Workspace
from .tables import format_table

#: Phases that belong to training a model, summed as "training" in the per-run table.
TRAINING_PHASES = ("epoch", "build model", "restore checkpoint", "load best weights",
                   "save model")


def read_timings(ws: Workspace) -> list[dict]:
    """The timing files of a workspace's notebook runs, oldest start first.

    Parameters
    ----------
    ws : Workspace

    Returns
    -------
    list of dict
        One per run (see :func:`sadutils.runner.notebook.run_timing`); empty before any run.

    Warns
    -----
    UserWarning
        For a file that is not a timing file, naming it; it is skipped.
    """
    out = []
    for path in sorted(ws.timings.glob("*.json")) if ws.timings.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("phases"), list):
                raise ValueError("not a timing file")
            float(data["wall_s"])
        except (OSError, ValueError, TypeError, KeyError) as exc:
            warnings.warn(f"skipping {path}: {exc}", stacklevel=2)
            continue
        out.append(data)
    return sorted(out, key=lambda t: str(t.get("started")))


def _phase_sum(timing: dict, names) -> float:
    return sum(float(p.get("wall_s") or 0) for p in timing["phases"] if p.get("phase") in names)


def runs_frame(timings: list[dict]) -> pd.DataFrame:
    """One row per notebook run: its wall time and the main parts of it.

    Parameters
    ----------
    timings : list of dict
        :func:`read_timings`.

    Returns
    -------
    DataFrame
        ``run``, ``wall s``, ``kernel start s``, ``imports s`` (the first cell after the
        parameters: imports and set-up),
        ``training s`` (epochs, model build, checkpoints; :data:`TRAINING_PHASES`), of which
        ``BatchNorm refresh s`` and ``validation s``, ``decode s``, ``OCR s``, ``other s``
        (the rest of the run) and ``status``.
    """
    rows = []
    for t in timings:
        cells = t.get("cells") or []
        wall = float(t["wall_s"])
        kernel = float(t.get("kernel_start_s") or 0.0)
        imports = _setup_cell(cells)
        training = _phase_sum(t, TRAINING_PHASES)
        decode = _phase_sum(t, ("decode images",))
        ocr = _phase_sum(t, ("OCR scoring",))
        rows.append({"run": t["run"], "wall s": wall, "kernel start s": kernel,
                     "imports s": imports, "training s": training,
                     "BatchNorm refresh s": _phase_sum(t, ("BatchNorm refresh",)),
                     "validation s": _phase_sum(t, ("validation",)),
                     "decode s": decode, "OCR s": ocr,
                     "other s": max(0.0, wall - kernel - imports - training - decode - ocr),
                     "status": t.get("status", "")})
    return pd.DataFrame(rows)


def _setup_cell(cells: list[dict]) -> float:
    """Seconds of the first cell after the parameters (and papermill's injected ones)."""
    after = 1  # the notebook's own parameters cell comes first
    for i, cell in enumerate(cells):
        if str(cell.get("first_line", "")).startswith("# Parameters"):
            after = i + 1
    return float(cells[after]["wall_s"]) if len(cells) > after else 0.0


def phases_frame(timings: list[dict]) -> pd.DataFrame:
    """Every timed phase, summed over the runs: what the notebooks spent their time on.

    Parameters
    ----------
    timings : list of dict

    Returns
    -------
    DataFrame
        ``phase``, ``times`` (how often it ran), ``wall s``, ``CPU s`` (all threads of the
        kernel), ``cores busy`` (CPU / wall) and ``share of notebook time``; kernel start-up is
        a row of its own; largest first.
    """
    rows: dict[str, dict] = {}
    total = sum(float(t["wall_s"]) for t in timings) or 1.0

    def add(name, wall, cpu=None):
        row = rows.setdefault(name, {"phase": name, "times": 0, "wall s": 0.0, "CPU s": 0.0})
        row["times"] += 1
        row["wall s"] += float(wall or 0)
        row["CPU s"] = None if cpu is None or row["CPU s"] is None else row["CPU s"] + float(cpu)

    for t in timings:
        if t.get("kernel_start_s") is not None:
            add("kernel start", t["kernel_start_s"])
        for p in t["phases"]:
            add(str(p.get("phase")), p.get("wall_s"), p.get("cpu_s"))
    frame = pd.DataFrame(list(rows.values()), columns=["phase", "times", "wall s", "CPU s"])
    frame["cores busy"] = frame["CPU s"] / frame["wall s"].where(frame["wall s"] > 0)
    frame["share of notebook time"] = (frame["wall s"] / total).map("{:.0%}".format)
    return frame.sort_values("wall s", ascending=False, kind="stable").reset_index(drop=True)


def elapsed_s(timings: list[dict]) -> float | None:
    """Seconds from the first run's start to the last run's end (runs overlap with ``--jobs``).

    Parameters
    ----------
    timings : list of dict

    Returns
    -------
    float or None
        None without timings.
    """
    spans = []
    for t in timings:
        try:
            start = datetime.fromisoformat(str(t["started"])).timestamp()
        except (KeyError, ValueError):
            continue
        spans.append((start, start + float(t["wall_s"])))
    if not spans:
        return None
    return max(e for _, e in spans) - min(s for s, _ in spans)


def timings_markdown(ws: Workspace) -> str:
    """The Performance page's account of the reproduce run that made this book's results.

    Parameters
    ----------
    ws : Workspace

    Returns
    -------
    str
        Markdown: when and on what machine, the elapsed and summed time, a table per run
        (:func:`runs_frame`) and a table per phase (:func:`phases_frame`); or a sentence saying
        that no run has been timed yet.
    """
    timings = read_timings(ws)
    if not timings:
        return (f"*No timed run yet:* `sadutils reproduce --profile {ws.name}` writes one timing "
                f"file per notebook run to `results/{ws.name}/timings/`; build the book again "
                "afterwards.")
    machine = timings[-1].get("machine") or {}
    first, total = timings[0].get("started", "?"), sum(float(t["wall_s"]) for t in timings)
    elapsed = elapsed_s(timings)
    head = (f"{len(timings)} notebook runs of the `{ws.name}` profile, the first started "
            f"{str(first).replace('T', ' ')[:16]} UTC, on {machine.get('cpu') or '?'} × "
            f"{machine.get('cores') or '?'}: {total:.0f} s in notebooks"
            + (f", {elapsed:.0f} s from the first start to the last end (runs side by side "
               "overlap)." if elapsed is not None else "."))
    runs = runs_frame(timings)
    phases = phases_frame(timings)
    return (head + "\n\n" + format_table(runs.round(1)) + "\n\nThe same time by phase, over "
            "all runs (a phase inside another, such as the BatchNorm refresh inside an epoch, "
            "is counted in both):\n\n" + format_table(phases.round(2)) + "\n")


def book_markdown(results_root=None) -> str:
    """:func:`timings_markdown` for every profile with timed runs under the results root.

    Parameters
    ----------
    results_root : path, optional
        Default :func:`sadutils.workspace.results_home`.

    Returns
    -------
    str
        One part per profile, headed by its name; the demo's "no timed run yet" sentence when
        no profile has any.
    """
    spaces = [Workspace.create(name, results_root=results_root) for name in PROFILES]
    timed = [ws for ws in spaces if read_timings(ws)]
    if not timed:
        return timings_markdown(spaces[0])
    return "\n".join(f"**Profile `{ws.name}`.** " + timings_markdown(ws) for ws in timed)
