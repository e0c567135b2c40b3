"""A request of ``sadutils reproduce``, checked (:class:`Plan`), and one run of it executed and
recorded (:func:`execute_one`).

Each notebook run has a *key*: a hash of everything that can change what it produces: the
notebook's cells, its parameters, the sadutils source, the data it reads and which executions
of the runs it depends on it would read (each successful execution gets a new id, so a
dependency that ran again makes its dependents run again: their results never mix an old
upstream with a new one). The keys of the last runs are kept in the workspace's
``reproduce.json``; a run whose key is unchanged (and whose executed notebook is still there)
is skipped. The state file is written under a file lock, one run's entry at a time, so that
runs executed by other processes (``sadutils run-notebook``, the jobs of a cluster on a shared
file system) share one state.
"""
from __future__ import annotations

import fcntl
import json
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .. import backbones as registry
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
from .steps import NotebookRun, check_graph, load_runs, match_runs, parse_override

STATE_VERSION = 1
#: A notebook declaring this parameter is told its run's name (records point at its page).
NOTEBOOK_PARAMETER = "notebook_name"
#: The parameter of a notebook that starts a backbone from a weights file.
WEIGHTS_PARAMETER = "weights"
#: The parameter a step fanned out over seeds sets itself (``--seeds`` says how many).
SEEDS_PARAMETER = "seeds"
#: The parameter a step fanned out over text filters sets itself (``--train-filters``).
FILTER_PARAMETER = "train_filter"
#: One lock per process for the state file (the file lock serialises processes).
_STATE_THREAD_LOCK = threading.Lock()

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



@contextmanager
def state_lock(path: Path):
    """Hold the state file's lock: one reader or writer at a time, across threads and
    processes (the jobs of a cluster write to one state on a shared file system).

    Parameters
    ----------
    path : Path
        The state file; the lock is ``<path>.lock`` beside it.

    Yields
    ------
    None
    """
    with _STATE_THREAD_LOCK:
        if not path.parent.is_dir():  # no state yet (a dry run creates no folder)
            yield
            return
        with open(path.with_name(path.name + ".lock"), "a") as handle:
            fcntl.lockf(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(handle, fcntl.LOCK_UN)


def update_state(path: Path, profile: str, name: str, entry: dict) -> dict:
    """Record one run in the state file, keeping what other runs recorded meanwhile.

    Parameters
    ----------
    path : Path
        The state file (``reproduce.json``).
    profile : str
    name : str
        The run.
    entry : dict
        Its state: ``key``, ``status``, ``execution``, ``inputs``, ...

    Returns
    -------
    dict
        The state as written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with state_lock(path):
        state = read_state(path, profile)
        state["runs"][name] = entry
        write_json(path, state)
    return state


@dataclass
class Plan:
    """What a request asks for, checked: the runs and each one's parameters.

    Attributes
    ----------
    ws : Workspace
    runs : list of NotebookRun
        The whole graph.
    selected : list of NotebookRun
        The runs asked for (``--only``), in order.
    parameters : dict
        Run name -> papermill parameters (``profile``, roots, the run's own, overrides), but
        not ``notebook_name``, which follows from the name.
    sources : dict
        Run name -> the notebook file.
    declared : dict
        Notebook -> the names its parameters cell declares.
    executed : Path
        Where executed copies go.
    code_key : str, optional
        The hash of the sadutils source (default: of the source as it is now).
    """

    ws: Workspace
    runs: list
    selected: list
    parameters: dict
    sources: dict
    declared: dict
    executed: Path
    code_key: str | None = None

    def __post_init__(self):
        if self.code_key is None:  # the code that runs now, not the code that planned
            self.code_key = package_fingerprint()

    def output(self, run: NotebookRun) -> Path:
        """The executed copy of ``run``."""
        return self.executed / f"{run.name}.ipynb"

    def inputs(self, run: NotebookRun, state: dict) -> dict:
        """What identifies ``run``'s inputs now, given the state of the runs it depends on."""
        runs = state["runs"]
        inputs = {
            "notebook": notebook_fingerprint(self.sources[run.name]),
            "parameters": self.parameters[run.name],
            "code": self.code_key,
            "data": data_fingerprint(self.ws, run.datasets),
            "depends": {d: runs.get(d, {}).get("execution")
                        if runs.get(d, {}).get("status") == "ok" else None
                        for d in run.depends},
        }
        return json.loads(json.dumps(inputs, sort_keys=True, default=str))

    def why(self, run: NotebookRun, state: dict, force: bool = False) -> str | None:
        """Why ``run`` must run now (None: it is up to date)."""
        return _why(state["runs"].get(run.name), self.inputs(run, state), self.output(run),
                    force)

    def predict(self, state: dict, force: bool = False) -> dict:
        """Which selected runs would run, and why, before any of them runs.

        A run whose own inputs are unchanged runs all the same when a selected run it depends
        on runs (its results would change).

        Parameters
        ----------
        state : dict
        force : bool

        Returns
        -------
        dict
            Run name -> the reason it would run, or None when it would be skipped.
        """
        names = {r.name for r in self.selected}
        out: dict = {}
        for run in self.selected:
            why = self.why(run, state, force)
            if why is None:
                upstream = [d for d in run.depends if d in names and out.get(d)]
                why = f"{upstream[0]} runs first" if upstream else None
            out[run.name] = why
        return out

    def to_json(self) -> dict:
        """The plan as JSON, for ``sadutils run-notebook RUN --plan FILE`` in another process."""
        return {"profile": self.ws.name, "data": str(self.ws.data),
                "results_root": str(self.ws.results_root), "executed": str(self.executed),
                "runs": [{"name": r.name, "notebook": r.notebook, "parameters": r.parameters,
                          "depends": list(r.depends), "datasets": list(r.datasets),
                          "gpus": r.gpus, "selected": r in self.selected,
                          "source": str(self.sources.get(r.name, "")),
                          "run_parameters": self.parameters.get(r.name)} for r in self.runs],
                "declared": {k: sorted(v) for k, v in self.declared.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        """A plan written by :meth:`to_json`.

        Parameters
        ----------
        data : dict

        Returns
        -------
        Plan

        Raises
        ------
        ValueError
            When it is not such a plan.
        """
        try:
            ws = Workspace.create(data["profile"], data["data"], data["results_root"])
            runs = [NotebookRun(r["name"], r["notebook"], dict(r["parameters"]),
                                tuple(r["depends"]), tuple(r["datasets"]), int(r["gpus"]))
                    for r in data["runs"]]
            chosen = {r["name"] for r in data["runs"] if r["selected"]}
            return cls(ws, runs, [r for r in runs if r.name in chosen],
                       {r["name"]: r["run_parameters"] for r in data["runs"] if r["selected"]},
                       {r["name"]: Path(r["source"]) for r in data["runs"] if r["selected"]},
                       {k: set(v) for k, v in data["declared"].items()},
                       Path(data["executed"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a plan written by sadutils reproduce ({exc!r})") from None

def prepare(ws: Workspace, *, only=None, overrides=(), runs=None, backbones=None, seeds=None,
            train_filters=None, notebooks=None, executed=None, weights=None, echo=print,
            only_option: str = "--only") -> Plan:
    """Check a request and fix the parameters of every selected run, before anything runs.

    Parameters
    ----------
    ws : Workspace
    only, overrides, runs, backbones, seeds, train_filters, notebooks, executed, weights, echo
        As for :func:`sadutils.runner.execute.reproduce`.
    only_option : str
        How messages name the option that gave ``only`` (``--only``, ``RUN``).

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        For an unknown notebook, parameter or backbone, a bad parameter value, a ``seeds``
        parameter given to a step fanned out over seeds, or one weights file given
        (``-p NOTEBOOK:weights=``) to runs of different backbones.
    FileNotFoundError
        For a notebook or weights file that does not exist.
    """
    notebooks = Path(notebooks) if notebooks is not None else notebooks_dir()
    executed = Path(executed) if executed is not None else executed_dir()
    runs = list(runs) if runs is not None else load_runs(notebooks / "pipeline.yml", backbones,
                                                         seeds, ws.name, train_filters)
    check_graph(runs)
    selected = runs
    if only:
        names = {r.name for target in only for r in match_runs(target, runs, only_option)}
        selected = [r for r in runs if r.name in names]
    extra: dict[str, dict] = {r.name: {} for r in runs}
    for item in overrides or ():
        target, name, value = parse_override(item) if isinstance(item, str) else item
        matched = match_runs(target, runs, "-p")
        if name == SEEDS_PARAMETER and any(SEEDS_PARAMETER in r.parameters for r in matched):
            raise ValueError(f"-p {target}:{name}: {matched[0].notebook} runs once per seed; "
                             "say how many seeds with --seeds N")
        if name == FILTER_PARAMETER and any(FILTER_PARAMETER in r.parameters for r in matched):
            raise ValueError(f"-p {target}:{name}: {matched[0].notebook} runs once per text "
                             "filter in the text ablation; choose them with --train-filters")
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

    sources, declared, defaults = {}, {}, {}
    for run in selected:
        path = notebooks / f"{run.notebook}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"notebook {path} not found (needed by run {run.name})")
        sources[run.name] = path
        if run.notebook not in declared:
            declared[run.notebook] = notebook_parameters(path)
            defaults[run.notebook] = notebook_defaults(path)
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
    roots = _root_parameters(ws)
    parameters = {run.name: {"profile": ws.name,
                             **{k: v for k, v in roots.items() if k in declared[run.notebook]},
                             **run.parameters, **extra[run.name]} for run in selected}
    return Plan(ws, runs, selected, parameters, sources, declared, executed)


def execute_one(plan: Plan, run: NotebookRun, why: str, *, label: str | None = None,
                kernel_name: str | None = None, verbose: bool = False, echo=print,
                status=None, slot: dict | None = None) -> RunOutcome:
    """Run one run of a plan and record it in the state file.

    Its key is taken from the state as it is now (the runs it depends on have finished, here
    or in other processes); the entry is written under the state file's lock.

    Parameters
    ----------
    plan : Plan
    run : NotebookRun
        One of ``plan.selected``.
    why : str
        Why it runs (shown and kept in its log).
    label : str, optional
        How its lines name it (default its name).
    kernel_name : str, optional
    verbose : bool
        The kernel's own output to the terminal instead of the run's log.
    echo, status : callable
        As for :func:`reproduce`.
    slot : dict, optional
        Variables choosing the kernel's device (``CUDA_VISIBLE_DEVICES``).

    Returns
    -------
    RunOutcome
        ``ran`` or ``failed``; a failure is never an exception.
    """
    ws, label = plan.ws, label or run.name
    output = plan.output(run)
    with state_lock(ws.state_file):
        state = read_state(ws.state_file, ws.name)
        for d in run.depends:
            if d not in {r.name for r in plan.selected} \
                    and state["runs"].get(d, {}).get("status") != "ok":
                echo(f"{label}: note: {d} has no successful run; running {run.name} anyway")
        inputs = plan.inputs(run, state)
    parameters = dict(plan.parameters[run.name])
    if NOTEBOOK_PARAMETER in plan.declared[run.notebook] and NOTEBOOK_PARAMETER not in parameters:
        # Not part of the key: it follows from the run's name.
        parameters[NOTEBOOK_PARAMETER] = run.name
    plan.executed.mkdir(parents=True, exist_ok=True)
    outcome = execute_run(run, plan.sources[run.name], output, parameters, why, kernel_name,
                          log=None if verbose else ws.log_file(run.name),
                          on_progress=progress_shower(label, echo, status),
                          progress_path=progress_file(ws.logs, run.name), device=slot,
                          timing_path=ws.timing_file(run.name))
    retitle(output, parameters, run)
    update_state(ws.state_file, ws.name, run.name, {
        "key": sha(inputs), "status": "ok" if outcome.status == "ran" else "failed",
        "execution": uuid.uuid4().hex, "inputs": inputs, "output": str(output),
        "wall_s": round(outcome.wall_s, 3),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "error": outcome.error})
    echo(outcome_line(label, outcome, why))
    return outcome


def outcome_line(label: str, outcome: RunOutcome, why: str) -> str:
    """The line that stays for a finished run: where its executed copy is, or what failed and
    where to read why.

    Parameters
    ----------
    label : str
    outcome : RunOutcome
    why : str

    Returns
    -------
    str
    """
    output = outcome.output
    if outcome.status == "failed":
        return (f"{label}: FAILED after {outcome.wall_s:.1f} s in {outcome.error}\n"
                f"    the executed notebook, with the traceback: {shown_path(output)}"
                + (f"\n    the kernel's own messages: {shown_path(outcome.log)}"
                   if outcome.log is not None else ""))
    return f"{label}: ran in {outcome.wall_s:.1f} s ({why}) -> {shown_path(output)}"
