"""``sadutils reproduce``: run the notebook graph with papermill, skipping what is up to date.

Each notebook run has a *key*: a hash of everything that can change what it produces: the
notebook's cells, its parameters, the sadutils source, the data it reads and which executions
of the runs it depends on it would read (each successful execution gets a new id, so a
dependency that ran again makes its dependents run again: their results never mix an old
upstream with a new one). The keys of the last runs are kept in the workspace's
``reproduce.json``; a run whose key is unchanged (and whose executed notebook is still there)
is skipped.

What the reader sees: one line per notebook, and while a notebook runs, its progress (the
epoch with loss, accuracy and the time left; the images scored), which the notebook's code
reports through :mod:`sadutils.progress`. Everything else the kernel writes outside the
notebook's cells (TensorFlow's C++ log lines, Jupyter's warnings) goes to the run's log file,
``results/<profile>/logs/<run>.log``, named when the run fails (see
:mod:`sadutils.runner.kernel`); ``verbose`` shows it all instead.
"""
from __future__ import annotations

import json
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .. import backbones as registry
from ..demo import MARKER_NAME, ensure_demo_data
from ..fileio import write_json
from ..progress import progress_file
from ..settings import PARAMETERS, check_parameter
from ..workspace import (
    Workspace,
    data_home,
    executed_dir,
    notebooks_dir,
    results_home,
    shown_path,
)
from .fingerprints import (
    data_fingerprint,
    notebook_defaults,
    notebook_fingerprint,
    notebook_parameters,
    package_fingerprint,
    paired_script_differs,
    sha,
)
from .notebook import RunOutcome, execute_run, progress_shower, retitle
from .parallel import device_slots, run_graph, thread_environment
from .steps import check_graph, load_runs, match_runs, parse_override

STATE_VERSION = 1
#: A notebook declaring this parameter is told its run's name (records point at its page).
NOTEBOOK_PARAMETER = "notebook_name"
STATUSES = ("ran", "skipped", "failed", "blocked")
#: The parameter of a notebook that starts a backbone from a weights file.
WEIGHTS_PARAMETER = "weights"

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


def _root_parameters(ws: Workspace) -> dict:
    """``data_root`` / ``results_root`` for the notebooks when the workspace is not where
    they would look by default (the environment variables already travel to the kernel)."""
    out = {}
    if ws.data != (data_home() / ws.name).resolve():
        out["data_root"] = str(ws.data)
    if ws.results_root != results_home():
        out["results_root"] = str(ws.results_root)
    return out


def parse_weights(items) -> dict[str, str]:
    """Per-backbone weights files: ``["xception=/w/x.h5", ...]`` as ``{"xception": path}``.

    Parameters
    ----------
    items : iterable of str, or dict
        ``BACKBONE=FILE`` texts, or a mapping backbone -> file.

    Returns
    -------
    dict
        Registry name -> absolute path of an existing file.

    Raises
    ------
    ValueError
        For a text without ``=``, an unknown backbone or a backbone named twice.
    FileNotFoundError
        For a file that does not exist.
    """
    pairs = items.items() if isinstance(items, dict) else []
    if not isinstance(items, dict):
        for item in items or ():
            name, sep, path = str(item).partition("=")
            if not sep or not name.strip() or not path.strip():
                raise ValueError(f"--weights {item!r}: expected BACKBONE=FILE, e.g. "
                                 "--weights xception=/data/xception_notop.h5")
            pairs.append((name.strip(), path.strip()))
    out: dict[str, str] = {}
    for name, path in pairs:
        key = registry.get(name).name
        if key in out:
            raise ValueError(f"--weights: {key} is given two files")
        file = Path(path).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"--weights {name}={path}: no such file")
        out[key] = str(file.resolve())
    return out


def _run_backbone(parameters: dict, defaults: dict) -> str | None:
    """The registry name of the backbone a run builds: its ``backbone`` parameter, else the
    default of its notebook's parameters cell; None when it names none."""
    name = parameters.get("backbone", defaults.get("backbone"))
    if not isinstance(name, str):
        return None
    try:
        return registry.get(name).name
    except ValueError:
        return None


def reproduce(ws: Workspace, *, force: bool = False, only=None, overrides=(), runs=None,
              backbones=None, seeds=None, notebooks=None, executed=None,
              kernel_name: str | None = None, weights=None, verbose: bool = False, echo=print,
              status=None, jobs: int = 1) -> ReproduceResult:
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
    jobs : int
        Notebook runs at once: independent runs (the backbones of 03; 04 beside 05) run
        side by side as soon as what they depend on has finished, each on a GPU of its own
        where there are several GPUs (at most one job per GPU), on the CPU otherwise. The
        state file is written by one job at a time; records and models are per run.
    seeds : int or list of int, optional
        The ``seeds`` parameter of every notebook that declares one (how many models per row,
        one per seed); an explicit ``-p NOTEBOOK:seeds=...`` wins.
    notebooks, executed : path, optional
        The notebooks folder (default ``notebooks/``) and where executed copies go (default
        ``book/executed/``, where the book's table of contents finds them).
    kernel_name : str, optional
    weights : iterable of str, or dict, optional
        Per-backbone weights files (``BACKBONE=FILE``, :func:`parse_weights`): every run whose
        notebook has a ``weights`` parameter and builds that backbone (its ``backbone``
        parameter, or its notebook's default) starts from that file. A ``-p ...:weights=``
        override of the same run wins.
    verbose : bool
        Show the kernels' own output and the notebooks' cell output in the terminal, instead
        of keeping the former in ``results/<profile>/logs/`` and showing progress only.
    echo : callable
        Receives the lines to keep: one per notebook run, the progress lines when ``status``
        is None, and the summary.
    status : callable, optional
        Receives a running notebook's latest progress, to show in place (a terminal); None
        sends epoch ends (and, at most every 30 s, other progress) to ``echo`` instead.

    Returns
    -------
    ReproduceResult
        A failed run names its failing cell; the runs depending on it are ``blocked``;
        independent runs still run.

    Raises
    ------
    ValueError
        For an unknown notebook, parameter or backbone, a bad parameter value, or one weights
        file given (``-p NOTEBOOK:weights=``) to runs of different backbones, before anything
        runs.
    FileNotFoundError
        For a notebook or weights file that does not exist.
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
        matched = match_runs(target, runs, "-p")
        for r in matched:
            extra[r.name][name] = value
        built = sorted({str(r.parameters.get("backbone")) for r in matched
                        if "backbone" in r.parameters})
        if name == WEIGHTS_PARAMETER and value is not None and len(built) > 1:
            raise ValueError(
                f"-p {target}:{name}={value} would start {len(built)} backbones "
                f"({', '.join(built)}) from one file; give one file per backbone with "
                f"--weights BACKBONE=FILE (e.g. --weights {built[0]}=FILE), or -p "
                f"{matched[0].name}:{name}=FILE for one run")
    weights_by_backbone = parse_weights(weights or ())

    # Everything checkable is checked before anything runs.
    sources, declared, defaults = {}, {}, {}
    for run in selected:
        path = notebooks / f"{run.notebook}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"notebook {path} not found (needed by run {run.name})")
        sources[run.name] = path
        if run.notebook not in declared:
            declared[run.notebook] = notebook_parameters(path)
            defaults[run.notebook] = notebook_defaults(path)
        if seeds is not None and "seeds" in declared[run.notebook]:
            extra[run.name].setdefault("seeds", seeds)
        wanted = {**run.parameters, **extra[run.name]}
        builds = _run_backbone(wanted, defaults[run.notebook])
        if builds in weights_by_backbone and WEIGHTS_PARAMETER in declared[run.notebook] \
                and WEIGHTS_PARAMETER not in extra[run.name]:
            extra[run.name][WEIGHTS_PARAMETER] = weights_by_backbone[builds]
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
    unused = sorted(set(weights_by_backbone) - {
        _run_backbone({**r.parameters, **extra[r.name]}, defaults[r.notebook])
        for r in selected if WEIGHTS_PARAMETER in declared[r.notebook]})
    if unused:
        echo(f"note: --weights for {', '.join(unused)}: no selected notebook run builds it")
    for notebook in declared:
        path = notebooks / f"{notebook}.ipynb"
        if paired_script_differs(path):
            echo(f"warning: {shown_path(path.with_suffix('.py'))} and {path.name} differ; "
                 f"running the .ipynb (sync them: jupytext --sync {shown_path(path)})")

    if ws.state_file.exists() and not ws.state_file.is_file():
        raise ValueError(f"the runner's state file {ws.state_file} is not a file; move it away")
    if ws.name == "demo" and any(run.datasets for run in selected):
        echo("demo data: checking (generated on first use, then reused) ...")
        # Progress bars only while the data is made (once): a quick check draws none.
        ensure_demo_data(ws.data, seed=ws.profile.seed,
                         progress=sys.stderr.isatty() and not (ws.data / MARKER_NAME).is_file())
    code_key = package_fingerprint()
    roots = _root_parameters(ws)
    state = read_state(ws.state_file, ws.name)
    executed.mkdir(parents=True, exist_ok=True)
    number = {run.name: i for i, run in enumerate(selected, 1)}
    lock = threading.Lock()  # the state file and its dict are shared by the jobs

    def label(run) -> str:
        return f"[{number[run.name]}/{len(selected)}] {run.name}"

    def blocked(run, bad) -> RunOutcome:
        echo(f"{label(run)}: blocked (depends on {', '.join(bad)}, which did not finish)")
        return RunOutcome(run.name, "blocked", f"{', '.join(bad)} failed or was blocked")

    def run_one(run, slot) -> RunOutcome:
        output = executed / f"{run.name}.ipynb"
        with lock:
            for d in run.depends:
                if d not in number and state["runs"].get(d, {}).get("status") != "ok":
                    echo(f"{label(run)}: note: {d} has no successful run; running "
                         f"{run.name} anyway")
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
            echo(f"{label(run)}: skip (up to date)")
            return RunOutcome(run.name, "skipped", "up to date", output=output)
        (status or echo)(f"{label(run)}: run ({why}) ...")
        if NOTEBOOK_PARAMETER in declared[run.notebook] and NOTEBOOK_PARAMETER not in parameters:
            # Not part of the key: it follows from the run's name.
            parameters[NOTEBOOK_PARAMETER] = run.name
        outcome = execute_run(run, sources[run.name], output, parameters, why, kernel_name,
                              log=None if verbose else ws.log_file(run.name),
                              on_progress=progress_shower(label(run), echo, status),
                              progress_path=progress_file(ws.logs, run.name),
                              device={**threads, **(slot or {})},
                              timing_path=ws.timing_file(run.name))
        retitle(output, parameters, run)
        with lock:
            state["runs"][run.name] = {
                "key": sha(inputs), "status": "ok" if outcome.status == "ran" else "failed",
                "execution": uuid.uuid4().hex, "inputs": inputs, "output": str(output),
                "wall_s": round(outcome.wall_s, 3),
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "error": outcome.error,
            }
            write_json(ws.state_file, state)
        if outcome.status == "failed":
            echo(f"{label(run)}: FAILED after {outcome.wall_s:.1f} s in {outcome.error}\n"
                 f"    the executed notebook, with the traceback: {shown_path(output)}"
                 + (f"\n    the kernel's own messages: {shown_path(outcome.log)}"
                    if outcome.log is not None else ""))
        else:
            echo(f"{label(run)}: ran in {outcome.wall_s:.1f} s ({why}) -> {shown_path(output)}")
        return outcome

    jobs, slots = device_slots(jobs)
    threads = thread_environment(jobs)
    if jobs > 1:
        echo(f"running up to {jobs} notebooks at once"
             + (f", one GPU each ({', '.join(s['CUDA_VISIBLE_DEVICES'] for s in slots)})"
                if slots[0] else ""))
    outcomes = run_graph(selected, run_one, blocked, jobs=jobs, slots=slots)

    result = ReproduceResult(ws.name, [outcomes[r.name] for r in selected], ws.state_file)
    echo("")
    echo(summary(result))
    return result


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
                 + f"; {total:.1f} s in notebooks; state: {shown_path(result.state_file)}")
    return "\n".join(lines)
