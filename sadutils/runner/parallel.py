"""Running a graph of notebook runs, several at a time, each only after what it depends on.

:func:`run_graph` is the scheduler of ``sadutils reproduce --jobs N``: it starts a run as soon as
every run it depends on has finished and a slot is free, at most ``jobs`` at once, and hands each
run the device slot it may use (one GPU per job where several are present). A run whose
dependency failed or was blocked is not started: it is reported blocked, and independent runs go
on. With one job it is the plain loop in list order.
"""
from __future__ import annotations

import os
import subprocess
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait


#: Outcomes after which the runs depending on a run may not start.
STOPPING = ("failed", "blocked")


def run_graph(runs, run_one, block, jobs: int = 1, slots=None) -> dict:
    """Run ``run_one(run, slot)`` for every run, respecting dependencies.

    Parameters
    ----------
    runs : list of NotebookRun
        In dependency order (a run's dependencies come before it); a dependency outside the
        list counts as done.
    run_one : callable
        ``run_one(run, slot) -> outcome``, where ``outcome.status`` is one of ``ran``,
        ``skipped``, ``failed``, ``blocked``. Called from worker threads: it must be
        thread-safe (the runner serialises its state writes).
    block : callable
        ``block(run, names) -> outcome`` for a run not started because the runs ``names`` it
        depends on failed or were blocked.
    jobs : int
        Runs at most at once (at least 1).
    slots : list, optional
        What each concurrent run is given (e.g. a GPU index each); default one slot per job,
        ``None`` for each. A run takes a free slot and returns it when it ends.

    Returns
    -------
    dict
        ``run name -> outcome``, every run of ``runs`` present.

    Raises
    ------
    ValueError
        For ``jobs`` below 1 or fewer slots than jobs.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    slots = list(slots) if slots is not None else [None] * jobs
    if len(slots) < jobs:
        raise ValueError(f"{jobs} jobs need {jobs} slots, got {len(slots)}")
    names = {run.name for run in runs}
    outcomes: dict = {}
    pending = list(runs)
    free = list(slots[:jobs])
    lock = threading.Lock()

    def ready(run) -> bool:
        return all(d in outcomes or d not in names for d in run.depends)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {}
        while pending or running:
            # start every ready run, in list order, while slots are free
            for run in list(pending):
                if not ready(run):
                    continue
                bad = [d for d in run.depends if d in outcomes
                       and outcomes[d].status in STOPPING]
                if bad:
                    pending.remove(run)
                    outcomes[run.name] = block(run, bad)
                    continue
                if not free:
                    break
                pending.remove(run)
                slot = free.pop(0)
                running[pool.submit(run_one, run, slot)] = (run, slot)
            if not running:
                if pending:  # only runs waiting on runs that will never finish: impossible
                    raise ValueError("runs depend on each other in a circle: "
                                     + ", ".join(r.name for r in pending))
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                run, slot = running.pop(future)
                with lock:
                    outcomes[run.name] = future.result()
                free.append(slot)
    return {run.name: outcomes[run.name] for run in runs}


def visible_gpus() -> list[str]:
    """The GPUs this machine's notebooks could use, without starting TensorFlow.

    Returns
    -------
    list of str
        ``CUDA_VISIBLE_DEVICES``'s entries when it is set, else one index per GPU that
        ``nvidia-smi -L`` lists; empty without GPUs (or without the NVIDIA tools).
    """
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [d.strip() for d in given.split(",") if d.strip() and d.strip() != "-1"]
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                 timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


def device_slots(jobs: int) -> tuple[int, list]:
    """How many notebooks may run at once, and the device each slot gives its kernel.

    Parameters
    ----------
    jobs : int
        The number asked for (``--jobs``).

    Returns
    -------
    tuple
        ``(jobs, slots)``: with GPUs, at most one job per GPU and each slot
        ``{"CUDA_VISIBLE_DEVICES": "<index>"}``; without, ``jobs`` slots of None (the jobs
        share the CPU).

    Raises
    ------
    ValueError
        For fewer than one job.
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a whole number of at least 1, got {jobs!r}")
    gpus = visible_gpus() if jobs > 1 else []
    if not gpus:
        return jobs, [None] * jobs
    jobs = min(jobs, len(gpus))
    return jobs, [{"CUDA_VISIBLE_DEVICES": gpu} for gpu in gpus[:jobs]]
