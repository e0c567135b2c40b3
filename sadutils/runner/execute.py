"""``sadutils reproduce``: run the notebook graph with papermill, skipping what is up to date.

:func:`sadutils.runner.plan.prepare` checks the request and fixes every run's parameters (a
plan); a run whose inputs did not change since its last success is skipped (its key, see
:mod:`sadutils.runner.plan`). Then the plan runs where the executor says: ``local`` with this
runner's own scheduler (:mod:`sadutils.runner.parallel`: threads, one GPU per job where there
are several, live progress), ``snakemake`` and ``slurm`` through Snakemake, one job per run
(:mod:`sadutils.runner.snakemake`). ``dry_run`` lists what would run, why, and what each job
would ask for.

What the reader sees: one line per notebook, and while a notebook runs, its progress (the
epoch with loss, accuracy and the time left; the images scored), which the notebook's code
reports through :mod:`sadutils.progress`. Everything else the kernel writes outside the
notebook's cells (TensorFlow's C++ log lines, Jupyter's warnings) goes to the run's log file,
``results/<profile>/logs/<run>.log``, named when the run fails (see
:mod:`sadutils.runner.kernel`); ``verbose`` shows it all instead.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..demo import MARKER_NAME, ensure_demo_data
from ..workspace import Workspace, shown_path
from .notebook import RunOutcome
from .parallel import device_slots, run_graph
from .plan import (  # noqa: F401 - read_state, parse_weights, STATE_VERSION: the runner's API
    STATE_VERSION,
    Plan,
    state_lock,
    execute_one,
    parse_weights,
    prepare,
    read_state,
)
from .snakemake import check_executor, run_elsewhere

STATUSES = ("ran", "skipped", "failed", "blocked", "would run")
#: Where a run goes: ``local`` this runner's own scheduler; the others through Snakemake.
EXECUTORS = ("local", "snakemake", "slurm")

@dataclass
class ReproduceResult:
    """The outcome of every selected run, and where the state was kept."""

    profile: str
    outcomes: list[RunOutcome]
    state_file: Path

    @property
    def ok(self) -> bool:
        """Whether every run ran or was up to date (or, in a dry run, would run)."""
        return all(o.status in ("ran", "skipped", "would run") for o in self.outcomes)

    def by_name(self) -> dict[str, RunOutcome]:
        return {o.name: o for o in self.outcomes}

    def table(self) -> pd.DataFrame:
        """One row per run: status, time, why, executed notebook."""
        return pd.DataFrame([{"notebook": o.name, "status": o.status,
                              "time": "" if o.wall_s is None else f"{o.wall_s:.1f} s",
                              "why": o.error if o.status == "failed" else o.reason,
                              "executed notebook": "" if o.output is None else str(o.output)}
                             for o in self.outcomes])


def reproduce(ws: Workspace, *, force: bool = False, only=None, overrides=(), runs=None,
              backbones=None, seeds=None, train_filters=None, notebooks=None, executed=None,
              kernel_name: str | None = None, weights=None, verbose: bool = False, echo=print,
              status=None, jobs: int | None = None, executor: str = "local", dry_run: bool = False,
              cluster_profile=None) -> ReproduceResult:
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
        Run only these (run names like ``03_train-xception-seed1234``, groups like
        ``03_train-xception`` or notebook names like ``03_train``, which select all their
        runs). The runs they depend on are not run; their last successful results are used.
    overrides : iterable of str or (notebook, name, value)
        Extra parameters ``NOTEBOOK:NAME=VALUE``; NAME must be a parameter of that notebook's
        ``parameters`` cell, and VALUE what :data:`sadutils.settings.PARAMETERS` allows.
    runs : list of NotebookRun, optional
        The graph; default :func:`sadutils.runner.steps.load_runs` of the notebooks folder.
    backbones : list of str, optional
        The backbones of ``per: backbone`` steps (default the paper's four).
    seeds : int or list of int, optional
        The training seeds of ``per: seed`` steps: each Table 1 model is one run per seed
        (default the profile's number: demo 3, paper 1).
    train_filters : list of str, optional
        The text filters of ``per: train_filter`` steps (the text ablation; default the
        step's ``values`` for the profile in ``pipeline.yml``).
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
    jobs : int, optional
        Notebook runs at once (default 1): independent runs (the backbones and seeds of 03; 04
        beside 05) run side by side as soon as what they depend on has finished, each on a GPU
        of its own where there are several GPUs (at most one job per GPU), on the CPU
        otherwise. For the Snakemake executors: jobs Snakemake runs or keeps submitted at once (``slurm``:
        default the cluster profile's ``jobs``).
    executor : str
        ``local`` (this runner's scheduler), ``snakemake`` (Snakemake's local executor: the
        jobs a cluster would get, on this machine) or ``slurm`` (one SLURM job per run).
    dry_run : bool
        List the runs, why each would run and what it would ask for; run nothing.
    cluster_profile : path, optional
        The Snakemake workflow profile folder of ``--executor slurm`` (default
        ``profiles/slurm``).

    Returns
    -------
    ReproduceResult
        A failed run names its failing cell; the runs depending on it are ``blocked``;
        independent runs still run.

    Raises
    ------
    ValueError
        For an unknown notebook, parameter, backbone or executor, a bad parameter value, or
        one weights file given (``-p NOTEBOOK:weights=``) to runs of different backbones,
        before anything runs.
    FileNotFoundError
        For a notebook or weights file that does not exist, or no Snakemake to run.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; executors: {', '.join(EXECUTORS)}")
    plan = prepare(ws, only=only, overrides=overrides, runs=runs, backbones=backbones,
                   seeds=seeds, train_filters=train_filters, notebooks=notebooks,
                   executed=executed, weights=weights, echo=echo)
    selected = plan.selected
    if ws.state_file.exists() and not ws.state_file.is_file():
        raise ValueError(f"the runner's state file {ws.state_file} is not a file; move it away")
    check_executor(executor, cluster_profile, dry_run)
    if ws.name == "demo" and any(run.datasets for run in selected) and not dry_run:
        echo("demo data: checking (generated on first use, then reused) ...")
        # Progress bars only while the data is made (once): a quick check draws none.
        ensure_demo_data(ws.data, seed=ws.profile.seed,
                         progress=sys.stderr.isatty() and not (ws.data / MARKER_NAME).is_file())
    number = {run.name: i for i, run in enumerate(selected, 1)}

    def label(run) -> str:
        return f"[{number[run.name]}/{len(selected)}] {run.name}"

    if dry_run or executor != "local":
        outcomes = run_elsewhere(plan, executor, force=force, jobs=jobs, dry_run=dry_run,
                                 cluster_profile=cluster_profile, echo=echo, status=status,
                                 label=label)
    else:
        outcomes = _run_here(plan, force, jobs or 1, label, kernel_name=kernel_name,
                             verbose=verbose, echo=echo, status=status)
    result = ReproduceResult(ws.name, [outcomes[r.name] for r in selected], ws.state_file)
    if not dry_run:
        echo("")
        echo(summary(result))
    return result


def _run_here(plan: Plan, force: bool, jobs: int, label, **show) -> dict:
    """Run a plan on this machine with :func:`sadutils.runner.parallel.run_graph`."""
    ws = plan.ws

    def blocked(run, bad) -> RunOutcome:
        show["echo"](f"{label(run)}: blocked (depends on {', '.join(bad)}, which did not "
                     "finish)")
        return RunOutcome(run.name, "blocked", f"{', '.join(bad)} failed or was blocked")

    def run_one(run, slot) -> RunOutcome:
        with state_lock(ws.state_file):
            why = plan.why(run, read_state(ws.state_file, ws.name), force)
        if why is None:
            show["echo"](f"{label(run)}: skip (up to date)")
            return RunOutcome(run.name, "skipped", "up to date", output=plan.output(run))
        (show["status"] or show["echo"])(f"{label(run)}: run ({why}) ...")
        return execute_one(plan, run, why, label=label(run), slot=slot, **show)

    jobs, slots = device_slots(jobs)
    if jobs > 1:
        show["echo"](f"running up to {jobs} notebooks at once"
                     + (f", one GPU each ({', '.join(s['CUDA_VISIBLE_DEVICES'] for s in slots)})"
                        if slots[0] else ""))
    return run_graph(plan.selected, run_one, blocked, jobs=jobs, slots=slots)


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
