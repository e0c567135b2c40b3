"""The crash harness: kill a command with SIGKILL at its crash points, rerun it, compare.

A *crash point* is a moment at which a durable write has reached a step (the temporary file
written, synced, renamed; a dataset generated): :func:`sadutils.fileio.crash_point`. With
``SADUTILS_CRASH_AT=N`` a process kills itself at its N-th crash point, and with
``SADUTILS_CRASH_TRACE=FILE`` every crash point is appended to FILE, numbered across the
processes of a command (the runner and its kernels). So a kill lands exactly where a test asks,
and the same test run twice kills at the same places.

Two ways to use the points:

* **one kill per run** (:func:`sweep`): for each chosen point N, a fresh copy of the starting
  state, the command killed at N, the folder checked (nothing half-written where a later step
  would trust it), the command run again to its end, the result compared with an uninterrupted
  run's. For the quick commands.
* **a chain of kills** (:func:`chain`): one folder, killed at the uninterrupted run's points in
  order, each rerun dying at the next point; the last rerun ends, and its result is compared.
  Each kill lands on a state that earlier kills made, which is harder, and costs one run per
  point instead of two. For the commands that cost seconds per run (training, ``reproduce``).
  A rerun resumes, so the harness must know where in the uninterrupted run it starts
  (``resumes_at``); it checks that every kill landed on the point it aimed at.

Commands run in a child forked from the test process (no interpreter start, no imports), or
from a server process that imported TensorFlow once (training; TensorFlow cannot be forked once
it has run). The helpers are handed to the tests by the :func:`crash` fixture.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from sadutils import fileio

#: The most a forked command may take (a hang is a failure, not a wait).
CHILD_TIMEOUT_S = 180


@dataclass(frozen=True)
class Point:
    """One crash point a command reached: its number, process, step and file."""

    number: int
    pid: int
    step: str
    path: str

    @property
    def label(self) -> str:
        return f"{self.step} {Path(self.path).name}"


def read_trace(path: Path) -> list[Point]:
    """The crash points in a trace file, in order."""
    if not Path(path).is_file():
        return []
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        number, pid, step, where = line.split("\t", 3)
        out.append(Point(int(number), int(pid), step, where))
    return out


def crash_env(kill_at: int | None, trace: Path | None, group: int | None = None) -> dict:
    """The crash-point variables for a command (None: unset)."""
    return {fileio.CRASH_AT_ENV: None if kill_at is None else str(kill_at),
            fileio.CRASH_TRACE_ENV: None if trace is None else str(trace),
            fileio.CRASH_GROUP_ENV: None if group is None else str(group)}


def _set_env(values: dict) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def forked(target, kill_at: int | None = None, trace: Path | None = None, log: Path | None = None,
           env: dict | None = None, timeout: float = CHILD_TIMEOUT_S,
           kill_after: float | None = None) -> int:
    """Run ``target()`` in a forked child, as its own process group; its exit status.

    ``kill_at`` kills it at that crash point; ``kill_after`` kills it (SIGKILL, the whole group)
    that many seconds after it started, wherever it is then.

    Returns
    -------
    int
        ``target``'s return value (0 for None), 70 when it raised (the traceback goes to
        ``log``), or minus the signal that ended it (``-9``: killed at its crash point).
    """
    log = Path(log) if log is not None else Path(os.devnull)
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 70
        try:
            os.setpgid(0, 0)
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(out, 1)
            os.dup2(out, 2)
            sys.stdout = sys.stderr = open(out, "w", buffering=1, closefd=False)  # noqa: SIM115
            _set_env({**(env or {}), **crash_env(kill_at, trace, os.getpid())})
            fileio.arm_crash_points()
            status = int(target() or 0)
        except BaseException:  # noqa: BLE001 - reported through the log and the status
            traceback.print_exc()
        finally:
            with_flush = getattr(sys.stdout, "flush", None)
            if with_flush:
                with_flush()
            os._exit(status)
    # The parent sets the child's process group too (the usual race-free idiom): a kill a moment
    # after the fork must find the group even before the child has run its own setpgid.
    try:
        os.setpgid(pid, pid)
    except (PermissionError, ProcessLookupError):  # the child did it first, or has ended
        pass
    started = time.monotonic()
    deadline = started + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if kill_after is not None and time.monotonic() - started >= kill_after:
            os.killpg(pid, signal.SIGKILL)
            kill_after = None
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"the command did not end within {timeout} s (see {log})")
        time.sleep(0.001)


def kill_leftovers(marker: str) -> int:
    """SIGKILL every process of this user whose environment holds ``marker`` (a trace file's
    name): the notebook kernels a killed runner leaves, as a power cut would end them too."""
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue
    return killed


def spread(total: int, wanted: int) -> list[int]:
    """``wanted`` crash points out of ``1..total``, evenly spread, first and last included (all
    of them when there are no more than ``wanted``)."""
    if total <= wanted:
        return list(range(1, total + 1))
    return sorted({1 + round(i * (total - 1) / (wanted - 1)) for i in range(wanted)})


def tree(root: Path, skip=()) -> dict[str, str]:
    """``relative path -> sha256`` of every file under ``root`` whose name does not start with
    a dot (temporary files of interrupted writes) and is not in ``skip``."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(
                root).parts) and rel not in skip:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def hidden_leftovers(root: Path) -> list[str]:
    """Files a killed write may leave: hidden temporary files (never read by any loader)."""
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob(".*") if p.is_file())


def sweep(tmp_path: Path, name: str, prepare, run, snapshot, after_kill,
          wanted: int = 22) -> dict:
    """One kill per run at ``wanted`` points spread over an uninterrupted run's.

    Every run happens in the same folder (``tmp_path/<name>``, emptied and prepared again
    before each kill), so the paths written into files (``file://`` URLs, manifests) are the
    same in every run.

    Parameters
    ----------
    prepare : callable
        ``prepare(folder)``: the starting state (the folder exists and is empty).
    run : callable
        ``run(folder) -> status``: the command (run in a forked child).
    snapshot : callable
        ``snapshot(folder)``: what a later step reads of the result, comparable with ``==``.
    after_kill : callable
        ``after_kill(folder, point, reference)``: asserts that nothing half-written is trusted
        (``reference`` is the uninterrupted run's snapshot).

    Returns
    -------
    dict
        ``points`` (the uninterrupted run's), ``killed`` (the points killed at and survived),
        ``reference`` (its snapshot).
    """
    folder, log = tmp_path / name, tmp_path / f"{name}.log"

    def fresh():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        prepare(folder)

    fresh()
    trace = tmp_path / f"{name}-trace.tsv"
    status = forked(lambda: run(folder), trace=trace, log=log)
    assert status == 0, log.read_text()
    reference, points = snapshot(folder), read_trace(trace)
    killed = []
    for n in spread(len(points), wanted):
        fresh()
        # With a trace the points are numbered across processes (a runner and its kernels).
        status = forked(lambda: run(folder), kill_at=n, log=log,
                        trace=tmp_path / f"{name}-{n}.tsv")
        assert status == -signal.SIGKILL, (n, status, log.read_text())
        after_kill(folder, points[n - 1], reference)
        status = forked(lambda: run(folder), log=log)
        assert status == 0, (n, points[n - 1], log.read_text())
        assert snapshot(folder) == reference, f"killed at {n} ({points[n - 1].label})"
        killed.append(points[n - 1])
    return {"points": points, "killed": killed, "reference": reference}


def moments(tmp_path: Path, name: str, prepare, run, snapshot, after_kill, count: int,
            seed: int) -> int:
    """:func:`sweep` at ``count`` seeded random moments of the run instead of crash points
    (a kill anywhere: inside a write, between two, in a computation).

    Returns
    -------
    int
        The kills survived (moments past the end of a run are drawn again).
    """
    folder, log = tmp_path / name, tmp_path / f"{name}.log"

    def fresh():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        prepare(folder)

    fresh()
    started = time.monotonic()
    assert forked(lambda: run(folder), log=log) == 0, log.read_text()
    duration = time.monotonic() - started
    reference = snapshot(folder)
    rng, survived = random.Random(seed), 0
    for _ in range(5 * count):
        fresh()
        moment = rng.uniform(0.0, duration)
        status = forked(lambda: run(folder), kill_after=moment, log=log)
        if status == 0:
            continue
        assert status == -signal.SIGKILL, (moment, log.read_text())
        after_kill(folder, f"{moment:.3f} s", reference)
        assert forked(lambda: run(folder), log=log) == 0, (moment, log.read_text())
        assert snapshot(folder) == reference, f"killed after {moment:.3f} s"
        survived += 1
        if survived == count:
            break
    assert survived == count
    return survived


def chain(folder: Path, run, resumes_at, after_kill, reference: list[Point], log: Path,
          targets=None) -> list[Point]:
    """Kill ``run`` at each of ``targets`` (default every point of ``reference``, the
    uninterrupted run's trace) in order, in one folder: each rerun dies at the next target.

    Parameters
    ----------
    run : callable
        ``run(kill_at, trace) -> status``, starting the command (forked or on a server).
    resumes_at : callable
        ``resumes_at(folder) -> (index, extra)``: where in ``reference`` (0-based) a rerun of
        the folder's state starts, and how many crash points of its own (a resume's) it
        reaches first.
    after_kill : callable
        ``after_kill(folder, point)``.

    Returns
    -------
    list of Point
        The points killed at, in order; the folder is left as the last, unkilled rerun left it.
    """
    targets = range(len(reference)) if targets is None else targets
    killed = []
    for k, i in enumerate(targets):
        start, extra = resumes_at(folder)
        assert start <= i, f"the rerun would start after point {i + 1}: {start + 1}"
        trace = log.with_name(f"{log.stem}-{k}.tsv")
        status = run(extra + (i - start) + 1, trace)
        assert status == -signal.SIGKILL, (i, status, log.read_text() if log.exists() else "")
        last = read_trace(trace)[-1]
        assert last.label == reference[i].label, (
            f"aimed at point {i + 1} ({reference[i].label}), killed at {last.label}")
        after_kill(folder, reference[i])
        killed.append(reference[i])
    assert run(None, log.with_name(f"{log.stem}-last.tsv")) == 0, log.read_text()
    return killed


#: Environment variable naming a file to which each crash test appends what it survived (one
#: JSON line: command, mode, crash points of an uninterrupted run, kills survived).
REPORT_ENV = "SADUTILS_CRASH_REPORT"


def report(command: str, mode: str, points: int, killed: int) -> None:
    """Note what a crash test survived, in the file :data:`REPORT_ENV` names (if any)."""
    target = os.environ.get(REPORT_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps({"command": command, "mode": mode, "points": points,
                                "killed": killed}) + "\n")


@pytest.fixture(scope="session")
def crash():
    """This module's helpers (:func:`forked`, :func:`sweep`, :func:`chain`, ...)."""
    return sys.modules[__name__]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: the full crash sweeps (every crash point, each from a fresh start, "
                   "and random moments; several minutes); off unless -m slow is given")


def pytest_collection_modifyitems(config, items):
    if "slow" in (config.getoption("markexpr") or ""):
        return
    off = pytest.mark.skip(reason="the full crash sweep takes minutes: run it with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(off)
