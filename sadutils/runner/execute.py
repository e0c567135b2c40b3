"""``sadutils reproduce``: run the notebook graph with papermill, skipping what is up to date.

Each notebook run has a *key*: a hash of everything that can change what it produces: the
notebook's cells, its parameters, the sadutils source, the data it reads and which executions
of the runs it depends on it would read (each successful execution gets a new id, so a
dependency that ran again makes its dependents run again: their results never mix an old
upstream with a new one). The keys of the last runs are kept in the workspace's
``reproduce.json``; a run whose key is unchanged (and whose executed notebook is still there)
is skipped.
"""
from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import papermill

from ..demo import ensure_demo_data
from ..fileio import write_json
from ..settings import PARAMETERS, check_parameter
from ..workspace import Workspace, data_home, executed_dir, notebooks_dir, results_home
from .fingerprints import (data_fingerprint, notebook_fingerprint, notebook_parameters,
                           package_fingerprint, paired_script_differs, sha)
from .steps import NotebookRun, check_graph, load_runs, match_runs, parse_override

STATE_VERSION = 1
#: A notebook declaring this parameter is told its run's name (records point at its page).
NOTEBOOK_PARAMETER = "notebook_name"
STATUSES = ("ran", "skipped", "failed", "blocked")


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
    error: str | None = None
    cell_index: int | None = None
    cell_source: str | None = None


@dataclass
class ReproduceResult:
    """The outcome of every selected run, and where the state was kept."""

    profile: str
    outcomes: list[RunOutcome]
    state_file: Path

    @property
    def ok(self) -> bool:
        """Whether every run ran or was up to date."""
        return all(o.status in ("ran", "skipped") for o in self.outcomes)

    def by_name(self) -> dict[str, RunOutcome]:
        return {o.name: o for o in self.outcomes}

    def table(self) -> pd.DataFrame:
        """One row per run: status, time, why, executed notebook."""
        return pd.DataFrame([{"notebook": o.name, "status": o.status,
                              "time": "" if o.wall_s is None else f"{o.wall_s:.1f} s",
                              "why": o.error if o.status == "failed" else o.reason,
                              "executed notebook": "" if o.output is None else str(o.output)}
                             for o in self.outcomes])


def read_state(path: Path, profile: str) -> dict:
    """The runner's state file, or a fresh state when it is missing or not one.

    Parameters
    ----------
    path : Path
    profile : str

    Returns
    -------
    dict
        ``version``, ``profile`` and ``runs`` (run name -> dict); entries of the wrong shape
        are dropped, so they simply run again, and a file that is not JSON of the right shape
        (or holds NaN) gives a fresh state. Nothing else of the file is kept.
    """
    fresh = {"version": STATE_VERSION, "profile": profile, "runs": {}}
    try:  # NaN and Infinity are not JSON: a file holding them is not one this runner wrote
        state = json.loads(path.read_text(encoding="utf-8"), parse_constant=_not_json)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return fresh
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION \
            or not isinstance(state.get("runs"), dict):
        return fresh
    runs = {k: v for k, v in state["runs"].items() if isinstance(k, str) and isinstance(v, dict)}
    return {"version": STATE_VERSION, "profile": profile, "runs": runs}


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _first_line(source) -> str:
    for line in str(source).splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def _why(prev: dict | None, inputs: dict, output: Path, force: bool) -> str | None:
    """Why a run must run (None: it can be skipped)."""
    if force:
        return "forced"
    if not prev:
        return "never run"
    if prev.get("status") != "ok":
        return "last run failed"
    old = prev.get("inputs") if isinstance(prev.get("inputs"), dict) else {}
    changed = [label for key, label in (("notebook", "notebook"), ("parameters", "parameters"),
                                        ("code", "sadutils code"), ("data", "data"),
                                        ("depends", "upstream results"))
               if old.get(key) != inputs[key]]
    if changed:
        return ", ".join(changed) + " changed"
    if not output.is_file():
        return "executed notebook missing"
    return None


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _kernel_name(notebook: Path) -> str:
    """The notebook's own kernel, or ``python3``."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
        return meta.get("kernelspec", {}).get("name") or "python3"
    except (OSError, ValueError, AttributeError):
        return "python3"


def _root_parameters(ws: Workspace) -> dict:
    """``data_root`` / ``results_root`` for the notebooks when the workspace is not where
    they would look by default (the environment variables already travel to the kernel)."""
    out = {}
    if ws.data != (data_home() / ws.name).resolve():
        out["data_root"] = str(ws.data)
    if ws.results_root != results_home():
        out["results_root"] = str(ws.results_root)
    return out


def reproduce(ws: Workspace, *, force: bool = False, only=None, overrides=(), runs=None,
              backbones=None, notebooks=None, executed=None, kernel_name: str | None = None,
              echo=print) -> ReproduceResult:
    """Run the notebooks with papermill in dependency order, skipping those whose inputs did not
    change since their last successful run.

    Parameters
    ----------
    ws : Workspace
        Passed to every notebook as its ``profile`` (and its roots, when not the defaults);
        its ``reproduce.json`` keeps the state. Under the demo profile the demo data is made
        first when a selected run reads data (a no-op when it is ready).
    force : bool
        Run every selected notebook even if up to date.
    only : list of str, optional
        Run only these (run names like ``03_train-xception`` or notebook names like
        ``03_train``, which select all its runs). The runs they depend on are not run; their
        last successful results are used.
    overrides : iterable of str or (notebook, name, value)
        Extra parameters ``NOTEBOOK:NAME=VALUE``; NAME must be a parameter of that notebook's
        ``parameters`` cell, and VALUE what :data:`sadutils.settings.PARAMETERS` allows.
    runs : list of NotebookRun, optional
        The graph; default :func:`sadutils.runner.steps.load_runs` of the notebooks folder.
    backbones : list of str, optional
        The backbones of ``per: backbone`` steps (default the paper's four).
    notebooks, executed : path, optional
        The notebooks folder (default ``notebooks/``) and where executed copies go (default
        ``book/executed/``, where the book's table of contents finds them).
    kernel_name : str, optional
    echo : callable
        Receives the progress lines and the summary.

    Returns
    -------
    ReproduceResult
        A failed run names its failing cell; the runs depending on it are ``blocked``;
        independent runs still run.

    Raises
    ------
    ValueError
        For an unknown notebook, parameter or backbone, or a bad parameter value, before
        anything runs.
    FileNotFoundError
        For a notebook file that does not exist.
    """
    notebooks = Path(notebooks) if notebooks is not None else notebooks_dir()
    executed = Path(executed) if executed is not None else executed_dir()
    runs = list(runs) if runs is not None else load_runs(notebooks / "pipeline.yml", backbones)
    check_graph(runs)
    selected = runs
    if only:
        names = {r.name for target in only for r in match_runs(target, runs, "--only")}
        selected = [r for r in runs if r.name in names]
    extra: dict[str, dict] = {r.name: {} for r in runs}
    for item in overrides or ():
        target, name, value = parse_override(item) if isinstance(item, str) else item
        for r in match_runs(target, runs, "-p"):
            extra[r.name][name] = value

    # Everything checkable is checked before anything runs.
    sources, declared = {}, {}
    for run in selected:
        path = notebooks / f"{run.notebook}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"notebook {path} not found (needed by run {run.name})")
        sources[run.name] = path
        if run.notebook not in declared:
            declared[run.notebook] = notebook_parameters(path)
        wanted = {**run.parameters, **extra[run.name]}
        unknown = sorted(set(wanted) - declared[run.notebook])
        if unknown:
            raise ValueError(
                f"notebook {run.notebook} has no parameter(s) {', '.join(unknown)} in its "
                f"'parameters' cell; its parameters: {', '.join(sorted(declared[run.notebook]))}")
        for name, value in extra[run.name].items():
            if name in PARAMETERS:
                try:
                    check_parameter(name, value)
                except ValueError as exc:
                    raise ValueError(f"-p {run.notebook}:{name}: {exc}") from None
    for notebook in declared:
        path = notebooks / f"{notebook}.ipynb"
        if paired_script_differs(path):
            echo(f"warning: {_shown(path.with_suffix('.py'))} and {path.name} differ; "
                 f"running the .ipynb (sync them: jupytext --sync {_shown(path)})")

    if ws.state_file.exists() and not ws.state_file.is_file():
        raise ValueError(f"the runner's state file {ws.state_file} is not a file; move it away")
    if ws.name == "demo" and any(run.datasets for run in selected):
        echo("demo data: checking (generated on first use, then reused) ...")
        ensure_demo_data(ws.data, seed=ws.profile.seed, progress=sys.stderr.isatty())
    code_key = package_fingerprint()
    roots = _root_parameters(ws)
    state = read_state(ws.state_file, ws.name)
    executed.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, RunOutcome] = {}
    for i, run in enumerate(selected, 1):
        label = f"[{i}/{len(selected)}] {run.name}"
        output = executed / f"{run.name}.ipynb"
        bad = [d for d in run.depends
               if d in outcomes and outcomes[d].status in ("failed", "blocked")]
        if bad:
            outcomes[run.name] = RunOutcome(run.name, "blocked",
                                            f"{', '.join(bad)} failed or was blocked")
            echo(f"{label}: blocked (depends on {', '.join(bad)}, which did not finish)")
            continue
        for d in run.depends:
            if d not in outcomes and state["runs"].get(d, {}).get("status") != "ok":
                echo(f"{label}: note: {d} has no successful run; running {run.name} anyway")
        parameters = {"profile": ws.name,
                      **{k: v for k, v in roots.items() if k in declared[run.notebook]},
                      **run.parameters, **extra[run.name]}
        inputs = {
            "notebook": notebook_fingerprint(sources[run.name]),
            "parameters": parameters,
            "code": code_key,
            "data": data_fingerprint(ws, run.datasets),
            "depends": {d: state["runs"].get(d, {}).get("execution")
                        if state["runs"].get(d, {}).get("status") == "ok" else None
                        for d in run.depends},
        }
        inputs = json.loads(json.dumps(inputs, sort_keys=True, default=str))
        why = _why(state["runs"].get(run.name), inputs, output, force)
        if why is None:
            outcomes[run.name] = RunOutcome(run.name, "skipped", "up to date", output=output)
            echo(f"{label}: skip (up to date)")
            continue
        echo(f"{label}: run ({why}) ...")
        if NOTEBOOK_PARAMETER in declared[run.notebook] and NOTEBOOK_PARAMETER not in parameters:
            # Not part of the key: it follows from the run's name.
            parameters[NOTEBOOK_PARAMETER] = run.name
        outcome = _execute(run, sources[run.name], output, parameters, why, kernel_name)
        outcomes[run.name] = outcome
        state["runs"][run.name] = {
            "key": sha(inputs), "status": "ok" if outcome.status == "ran" else "failed",
            "execution": uuid.uuid4().hex, "inputs": inputs, "output": str(output),
            "wall_s": round(outcome.wall_s, 3),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "error": outcome.error,
        }
        write_json(ws.state_file, state)
        if outcome.status == "failed":
            echo(f"{label}: FAILED after {outcome.wall_s:.1f} s in {outcome.error}\n"
                 f"    the executed notebook, with the traceback: {_shown(output)}")
        else:
            echo(f"{label}: ran in {outcome.wall_s:.1f} s -> {_shown(output)}")

    result = ReproduceResult(ws.name, [outcomes[r.name] for r in selected], ws.state_file)
    echo("")
    echo(summary(result))
    return result


def _execute(run: NotebookRun, source: Path, output: Path, parameters: dict, why: str,
             kernel_name: str | None) -> RunOutcome:
    """Execute one notebook with papermill; a failure becomes an outcome, never an exception."""
    t0 = time.perf_counter()
    outcome = RunOutcome(run.name, "ran", why, output=output)
    try:
        papermill.execute_notebook(
            str(source), str(output), parameters=parameters, cwd=str(source.parent),
            kernel_name=kernel_name or _kernel_name(source), progress_bar=False,
            log_output=False)
    except papermill.PapermillExecutionError as exc:
        outcome.status = "failed"
        outcome.cell_index, outcome.cell_source = exc.cell_index, _first_line(exc.source)
        outcome.error = (f"cell {exc.cell_index} (`{outcome.cell_source}`): "
                         f"{exc.ename}: {_first_line(exc.evalue)}")
    except Exception as exc:  # noqa: BLE001 - a dead kernel, a missing kernel, a timeout...
        outcome.status = "failed"
        outcome.error = f"{type(exc).__name__}: {_first_line(str(exc)) or repr(exc)}"
    outcome.wall_s = time.perf_counter() - t0
    return outcome


def summary(result: ReproduceResult) -> str:
    """The summary table: one line per notebook run, then the totals.

    Parameters
    ----------
    result : ReproduceResult

    Returns
    -------
    str
    """
    rows = [(o.name, o.status, "" if o.wall_s is None else f"{o.wall_s:.1f} s",
             o.error if o.status == "failed" else o.reason) for o in result.outcomes]
    head = ("notebook", "status", "time", "why")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head[:3])]
    lines = [f"Summary (profile {result.profile}):",
             "  " + "  ".join(h.ljust(w) for h, w in zip(head[:3], widths)) + "  " + head[3]]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3]
              for r in rows]
    counts = {}
    for o in result.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    total = sum(o.wall_s or 0 for o in result.outcomes)
    lines.append("  " + ", ".join(f"{v} {k}" for k, v in counts.items())
                 + f"; {total:.1f} s in notebooks; state: {_shown(result.state_file)}")
    return "\n".join(lines)
