"""Runs of a plan handed to Snakemake, one job each: on this machine or on a SLURM cluster.

``sadutils reproduce --executor slurm`` (or ``snakemake``, Snakemake's local executor) decides
what must run exactly as the local runner does (the keys of :mod:`sadutils.runner.plan`), then
writes, into ``results/<profile>/snakemake/``,

* ``plan.json``, the checked request (every run's parameters), and
* a ``Snakefile`` derived from it: one rule per notebook of ``notebooks/pipeline.yml``, one job
  per run that must run, each waiting for the jobs of the runs it depends on. A job calls one
  thin command, ``sadutils run-notebook RUN --plan plan.json``, which runs the notebook with
  the same quiet kernel, log, progress file and title as the local runner and records it in
  the state file; then it touches its stamp ``done/RUN`` (the rule's output).

Only the runs that must run are in the Snakefile, and Snakemake is told to run all of them
(``--forceall``): its own rerun triggers (file dates among them, which cannot be switched off)
never disagree with the runner's keys, and a second call with nothing changed submits nothing.
A failed job keeps its executed notebook and log (declared as ``log:``, which Snakemake does
not delete), and only the jobs depending on it are not run (``--keep-going``).

Snakemake runs from a tool environment of its own (``.venv-snakemake``, locked in
``requirements/lock-snakemake-linux-py311.txt``): its requirements pin packages that the
companion's environment keeps newer (``packaging<26``, ``SQLAlchemy<2.1``). It is found as
``$SADUTILS_SNAKEMAKE``, then ``.venv-snakemake/bin/snakemake`` in the checkout, then
``snakemake`` on the ``PATH``.

While Snakemake runs, its own output goes to ``results/<profile>/logs/snakemake.log``; the
terminal shows what the local runner shows: one line per finished run (read from the state
file) and the progress of running ones (read from their progress files).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ..fileio import write_json, write_text
from ..progress import progress_file, read_events
from ..workspace import repo_root, shown_path
from .notebook import RunOutcome, progress_shower
from .plan import Plan, outcome_line, read_state, state_lock
from .steps import NotebookRun

#: The workflow profile of ``--executor slurm`` unless another is named.
DEFAULT_CLUSTER_PROFILE = Path("profiles") / "slurm"
#: The variable naming the snakemake executable to use.
SNAKEMAKE_ENV = "SADUTILS_SNAKEMAKE"
#: Seconds between two looks at the state and progress files while Snakemake runs.
POLL_S = 1.0
#: Resources shown by the dry run, in this order, with how each is written.
SHOWN_RESOURCES = (("gpu", "{} GPU"), ("cpus_per_task", "{} CPUs"), ("mem_mb", "{} MB"),
                   ("runtime", "{} min"), ("slurm_partition", "partition {}"),
                   ("slurm_account", "account {}"))


def rule_name(notebook: str) -> str:
    """The Snakefile's rule of a notebook (rule names are identifiers): ``nb_03_train``.

    Parameters
    ----------
    notebook : str

    Returns
    -------
    str
    """
    return "nb_" + re.sub(r"\W", "_", notebook)


def find_snakemake() -> str:
    """The snakemake executable to run.

    Returns
    -------
    str

    Raises
    ------
    FileNotFoundError
        When there is none, saying how to install it.
    """
    given = os.environ.get(SNAKEMAKE_ENV)
    if given:
        if not Path(given).is_file():
            raise FileNotFoundError(f"${SNAKEMAKE_ENV}={given}: no such file")
        return given
    for candidate in (repo_root() / ".venv-snakemake" / "bin" / "snakemake",):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("snakemake")
    if found:
        return found
    raise FileNotFoundError("Snakemake is not installed: `bash scripts/cluster.sh` installs it "
                            "(with its SLURM plugin) into .venv-snakemake")


def read_cluster_profile(folder) -> dict:
    """A Snakemake workflow profile's ``config.yaml``.

    Parameters
    ----------
    folder : path
        The profile's folder.

    Returns
    -------
    dict

    Raises
    ------
    FileNotFoundError
        When the folder has no ``config.yaml``.
    ValueError
        When it is not a YAML mapping.
    """
    path = Path(folder) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"cluster profile {shown_path(path)} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{shown_path(path)}: not YAML ({' '.join(str(exc).split())})") \
            from None
    if not isinstance(data, dict):
        raise ValueError(f"{shown_path(path)}: expected a mapping of Snakemake options")
    return data


def _resource_items(value) -> dict:
    """Snakemake's resources as a dict, from a mapping or a list of ``name=value`` texts."""
    if isinstance(value, dict):
        return dict(value)
    out = {}
    for item in value or ():
        name, _, text = str(item).partition("=")
        out[name.strip()] = yaml.safe_load(text) if text.strip() else ""
    return out


def job_resources(run: NotebookRun, profile: dict | None) -> dict:
    """What ``run``'s job asks for: the profile's default resources, then those it sets for the
    run's rule, then the GPUs the graph gives the step.

    Parameters
    ----------
    run : NotebookRun
    profile : dict or None
        A workflow profile (:func:`read_cluster_profile`); None for a local executor.

    Returns
    -------
    dict
    """
    resources = {}
    if profile:
        resources.update(_resource_items(profile.get("default-resources")))
        resources.update(_resource_items((profile.get("set-resources") or {})
                                         .get(rule_name(run.notebook))))
    if run.gpus:
        resources["gpu"] = run.gpus
    return resources


def describe_resources(resources: dict) -> str:
    """``1 GPU, 8 CPUs, 32000 MB, 240 min, partition gpu`` (CPU only when no GPU is asked).

    Parameters
    ----------
    resources : dict

    Returns
    -------
    str
    """
    parts = [text.format(resources[key]) for key, text in SHOWN_RESOURCES
             if resources.get(key) not in (None, "")]
    if not resources.get("gpu"):
        parts.insert(0, "no GPU")
    return ", ".join(parts)


def _quoted(text) -> str:
    """A shell word for a Snakefile's ``shell:`` (Snakemake formats braces)."""
    return shlex.quote(str(text)).replace("{", "{{").replace("}", "}}")


def snakefile_text(plan: Plan, todo: list[NotebookRun], plan_file: Path,
                   python: str | None = None) -> str:
    """The Snakefile of the runs that must run: one rule per notebook, one job per run.

    Parameters
    ----------
    plan : Plan
    todo : list of NotebookRun
        The runs to run, in order; a run waits for the runs of ``todo`` it depends on (the
        others are up to date, or not selected).
    plan_file : Path
        The plan as JSON, which the jobs read.
    python : str, optional
        The interpreter of the jobs' ``sadutils`` (default this one).

    Returns
    -------
    str
    """
    python = python or sys.executable
    names = {r.name for r in todo}
    waits = {r.name: [f"done/{d}" for d in r.depends if d in names] for r in todo}
    lines = [
        "# Generated by `sadutils reproduce` from notebooks/pipeline.yml and the plan of one",
        "# request; written anew at every call (do not edit: edit pipeline.yml). One job per",
        "# notebook run that must run; each calls `sadutils run-notebook RUN --plan PLAN`.",
        f"WAITS = {json.dumps(waits, indent=4)}",
        "",
        "localrules: all",
        "",
        "rule all:",
        "    input: [f'done/{run}' for run in WAITS]",
        "",
    ]
    notebooks = list(dict.fromkeys(r.notebook for r in todo))
    for notebook in notebooks:
        runs = [r for r in todo if r.notebook == notebook]
        gpus = runs[0].gpus
        command = (f"{_quoted(python)} -m sadutils run-notebook {{wildcards.run}} --plan "
                   f"{_quoted(plan_file)} && touch {{output}}")
        lines += [
            f"rule {rule_name(notebook)}:",
            "    input: lambda wildcards: WAITS[wildcards.run]",
            "    output: 'done/{run}'",
            f"    log: notebook={json.dumps(str(plan.executed / '{run}.ipynb'))}, "
            f"kernel={json.dumps(str(plan.ws.logs / '{run}.log'))}",
            "    wildcard_constraints: run=" + json.dumps("|".join(re.escape(r.name)
                                                               for r in runs)),
            *([f"    resources: gpu={gpus}"] if gpus else []),
            f"    shell: {json.dumps(command)}",
            "",
        ]
    return "\n".join(lines)


def snakemake_command(snakefile: Path, executor: str, jobs: int | None,
                      cluster_profile: Path | None) -> list[str]:
    """The command line that runs a Snakefile written by :func:`snakefile_text`.

    Parameters
    ----------
    snakefile : Path
    executor : str
        ``snakemake`` (local jobs) or ``slurm``.
    jobs : int or None
        Jobs at once (local: also the cores; default 1); for ``slurm`` None leaves it to the
        profile's ``jobs``.
    cluster_profile : Path or None
        The workflow profile (``slurm``).

    Returns
    -------
    list of str
    """
    command = [find_snakemake(), "--snakefile", str(snakefile), "--directory",
               str(snakefile.parent), "--forceall", "--keep-going", "--printshellcmds"]
    if executor == "slurm":
        command += ["--executor", "slurm", "--workflow-profile", str(cluster_profile)]
        command += ["--jobs", str(jobs)] if jobs else []
    else:
        command += ["--jobs", str(jobs or 1), "--cores", str(jobs or 1)]
    return command


def check_executor(executor: str, cluster_profile=None, dry_run: bool = False):
    """Refuse an executor that cannot run here before anything runs.

    Parameters
    ----------
    executor : str
    cluster_profile : path, optional
        For ``slurm``: the workflow profile's folder (default ``profiles/slurm``).
    dry_run : bool
        A dry run needs the profile but not Snakemake.

    Returns
    -------
    tuple
        ``(profile folder, profile)`` for ``slurm``, else ``(None, None)``.

    Raises
    ------
    FileNotFoundError
        For a missing profile, or no Snakemake (a real run of ``snakemake`` or ``slurm``).
    ValueError
        For a profile that is not a mapping.
    """
    if executor != "local" and not dry_run:
        find_snakemake()
    if executor != "slurm":
        return None, None
    folder = Path(cluster_profile) if cluster_profile is not None \
        else repo_root() / DEFAULT_CLUSTER_PROFILE
    return folder, read_cluster_profile(folder)


def _finished(entry: dict | None, before: dict | None) -> bool:
    return isinstance(entry, dict) and entry.get("execution") is not None \
        and (before is None or entry.get("execution") != before.get("execution"))


def _outcome(name: str, entry: dict, why: str) -> RunOutcome:
    output = Path(entry["output"]) if isinstance(entry.get("output"), str) else None
    return RunOutcome(name, "ran" if entry.get("status") == "ok" else "failed", why,
                      wall_s=float(entry.get("wall_s") or 0.0), output=output,
                      error=entry.get("error"))


def run_elsewhere(plan: Plan, executor: str, *, force: bool = False, jobs: int | None = None,
                  dry_run: bool = False, cluster_profile=None, echo=print, status=None,
                  label=None) -> dict:
    """Run (or, with ``dry_run``, list) a plan's runs that must run, one Snakemake job each.

    Parameters
    ----------
    plan : Plan
    executor : str
        ``local`` (dry run only), ``snakemake`` or ``slurm``.
    force : bool
        Every selected run must run.
    jobs : int, optional
        Jobs at once (:func:`snakemake_command`).
    dry_run : bool
        Only list each run: whether it would run and why, and what its job would ask for.
    cluster_profile : path, optional
        The workflow profile of ``slurm`` (default ``profiles/slurm`` of the checkout).
    echo, status : callable
        As for :func:`sadutils.runner.execute.reproduce`.
    label : callable, optional
        ``label(run)``: how lines name a run (default its name).

    Returns
    -------
    dict
        Run name -> :class:`RunOutcome` (``would run`` or ``skipped`` in a dry run).

    Raises
    ------
    FileNotFoundError
        For a missing cluster profile or Snakemake.
    """
    ws = plan.ws
    label = label or (lambda run: run.name)
    cluster_profile, profile = check_executor(executor, cluster_profile, dry_run)
    with state_lock(ws.state_file):
        state = read_state(ws.state_file, ws.name)
    why = plan.predict(state, force)
    todo = [r for r in plan.selected if why[r.name] is not None]
    outcomes = {r.name: RunOutcome(r.name, "skipped", "up to date", output=plan.output(r))
                for r in plan.selected if why[r.name] is None}

    if dry_run:
        echo(f"dry run (profile {ws.name}, executor {executor}"
             + (f", cluster profile {shown_path(cluster_profile / 'config.yaml')}"
                if cluster_profile else "") + f"): {len(todo)} of {len(plan.selected)} runs "
             "would run, one job each")
        for run in plan.selected:
            if why[run.name] is None:
                echo(f"{label(run)}: skip (up to date)")
                continue
            echo(f"{label(run)}: would run ({why[run.name]}); "
                 f"{describe_resources(job_resources(run, profile))}")
            outcomes[run.name] = RunOutcome(run.name, "would run", why[run.name],
                                            output=plan.output(run))
        return {r.name: outcomes[r.name] for r in plan.selected}

    for run in plan.selected:
        if why[run.name] is None:
            echo(f"{label(run)}: skip (up to date)")
    if not todo:
        return {r.name: outcomes[r.name] for r in plan.selected}

    folder = ws.results / "snakemake"
    folder.mkdir(parents=True, exist_ok=True)
    plan_file = write_json(folder / "plan.json", plan.to_json())
    snakefile = write_text(folder / "Snakefile", snakefile_text(plan, todo, plan_file))
    command = snakemake_command(snakefile, executor, jobs, cluster_profile)
    log = ws.logs / "snakemake.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    echo(f"{len(todo)} jobs through Snakemake ({executor}), one per run; its messages: "
         f"{shown_path(log)}")
    for run in todo:
        echo(f"{label(run)}: queued ({why[run.name]})")
    before = {r.name: state["runs"].get(r.name) for r in todo}
    offsets = {r.name: 0 for r in todo}
    shows = {r.name: progress_shower(label(r), echo, status) for r in todo}
    for run in todo:  # a job empties its progress file when it starts; old events are not news
        offsets[run.name] = _size(progress_file(ws.logs, run.name))

    reported: dict = {}  # run -> the execution last reported (Snakemake may retry a failure)

    def look() -> None:
        with state_lock(ws.state_file):
            now = read_state(ws.state_file, ws.name)["runs"]
        for run in todo:
            path = progress_file(ws.logs, run.name)
            if _size(path) < offsets[run.name]:  # a new attempt started afresh
                offsets[run.name] = 0
            events, offsets[run.name] = read_events(path, offsets[run.name])
            for event in events:
                shows[run.name](event)
            entry = now.get(run.name)
            if _finished(entry, before[run.name]) \
                    and entry["execution"] != reported.get(run.name):
                reported[run.name] = entry["execution"]
                outcomes[run.name] = _outcome(run.name, entry, why[run.name])
                echo(outcome_line(label(run), outcomes[run.name], why[run.name]))

    with open(log, "w", encoding="utf-8") as handle:
        handle.write("$ " + shlex.join(command) + "\n")
        handle.flush()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=str(folder))
        try:
            while process.poll() is None:
                time.sleep(POLL_S)
                look()
        except BaseException:
            process.terminate()  # Snakemake cancels the jobs it submitted
            process.wait()
            raise
    look()
    if process.returncode != 0 and not any(o.status == "ran" for o in outcomes.values()):
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        echo(f"Snakemake ended with status {process.returncode}; the end of "
             f"{shown_path(log)}:\n" + "\n".join(f"    {line}" for line in tail))
    for run in todo:  # runs Snakemake did not run: blocked by a failure, or failed to start
        if run.name in outcomes:
            continue
        bad = [d for d in run.depends if d in outcomes and outcomes[d].status in
               ("failed", "blocked")]
        if bad:
            echo(f"{label(run)}: blocked (depends on {', '.join(bad)}, which did not finish)")
            outcomes[run.name] = RunOutcome(run.name, "blocked",
                                            f"{', '.join(bad)} failed or was blocked")
        else:
            error = f"Snakemake did not run it (status {process.returncode}; see {shown_path(log)})"
            echo(f"{label(run)}: FAILED: {error}")
            outcomes[run.name] = RunOutcome(run.name, "failed", why[run.name], error=error,
                                            log=log)
    return {r.name: outcomes[r.name] for r in plan.selected}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
