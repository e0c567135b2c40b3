"""The scheduler of `sadutils reproduce --jobs N`, on fake runs that sleep and record."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import pytest

from sadutils.config import cpu_count
from sadutils.runner import parallel
from sadutils.runner.parallel import run_graph
from sadutils.runner.steps import NotebookRun


@dataclass
class Outcome:
    status: str


def _graph():
    return [NotebookRun("a", "a"),
            NotebookRun("b1", "b", {}, ("a",)), NotebookRun("b2", "b", {}, ("a",)),
            NotebookRun("b3", "b", {}, ("a",)),
            NotebookRun("c", "c", {}, ("b1", "b2", "b3"))]


class Recorder:
    def __init__(self, fail=(), sleep=0.05):
        self.lock = threading.Lock()
        self.events, self.active, self.peak, self.slots = [], 0, 0, {}
        self.fail, self.sleep = set(fail), sleep

    def __call__(self, run, slot):
        with self.lock:
            self.events.append(("start", run.name))
            self.active += 1
            self.peak = max(self.peak, self.active)
            assert slot not in self.slots.values() or slot is None, "a slot used twice at once"
            self.slots[run.name] = slot
        time.sleep(self.sleep)
        with self.lock:
            self.active -= 1
            self.slots.pop(run.name)
            self.events.append(("end", run.name))
        return Outcome("failed" if run.name in self.fail else "ran")


def _blocked(run, names):
    return Outcome("blocked")


def test_dependencies_come_first_and_jobs_run_at_once():
    rec = Recorder()
    out = run_graph(_graph(), rec, _blocked, jobs=2, slots=["gpu0", "gpu1"])
    assert list(out) == ["a", "b1", "b2", "b3", "c"]
    assert all(o.status == "ran" for o in out.values())
    order = rec.events
    assert order.index(("end", "a")) < min(order.index(("start", b)) for b in ("b1", "b2", "b3"))
    assert order.index(("start", "c")) > max(order.index(("end", b)) for b in ("b1", "b2", "b3"))
    assert rec.peak == 2  # the three b runs overlap two at a time, never three


def test_one_job_is_the_plain_loop():
    rec = Recorder(sleep=0)
    run_graph(_graph(), rec, _blocked, jobs=1)
    starts = [name for kind, name in rec.events if kind == "start"]
    assert starts == ["a", "b1", "b2", "b3", "c"] and rec.peak == 1


def test_a_failure_blocks_only_its_dependents():
    rec = Recorder(fail={"b2"})
    out = run_graph(_graph(), rec, _blocked, jobs=3)
    assert {k: v.status for k, v in out.items()} == {
        "a": "ran", "b1": "ran", "b2": "failed", "b3": "ran", "c": "blocked"}
    assert ("start", "c") not in rec.events


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least 1"):
        run_graph(_graph(), Recorder(), _blocked, jobs=0)
    with pytest.raises(ValueError, match="slots"):
        run_graph(_graph(), Recorder(), _blocked, jobs=2, slots=["gpu0"])


def test_device_slots(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert parallel.device_slots(2) == (2, [None, None])  # no GPU: the jobs share the CPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,3")
    assert parallel.device_slots(1) == (1, [None])
    assert parallel.device_slots(4) == (2, [{"CUDA_VISIBLE_DEVICES": "0"},
                                           {"CUDA_VISIBLE_DEVICES": "3"}])
    with pytest.raises(ValueError, match="at least 1"):
        parallel.device_slots(0)


def test_cpu_count_is_what_this_process_may_run_on():
    assert 1 <= cpu_count() <= (os.cpu_count() or 1)
