"""``sadutils reproduce`` killed at every crash point of a small graph of toy notebooks: the
runner's state file, each executed notebook, the notebooks' own records (written by their
kernels), each renamed into place. A kill in a kernel ends the runner too, as a power cut
would: the crash-point counter is shared by the runner and its kernels, and the process that
reaches the point kills the runner's process group and itself.

The kills form a chain (tests/crash/conftest.py): each rerun skips what the state file says is
done and dies at the next point. After every kill, what a later step trusts is whole: the state
file, every executed notebook the state calls done and every record. The last rerun must end
with the records and executed notebooks of an uninterrupted run.
"""
from __future__ import annotations

import json
import os

import pytest

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from sadutils.runner import execute as rp
from sadutils.runner.steps import NotebookRun
from sadutils.workspace import Workspace

RUNS = [NotebookRun("a", "a"), NotebookRun("b", "b", {}, ("a",))]


def _notebook(name: str) -> nbformat.NotebookNode:
    params = new_code_cell('profile = "demo"\ny = 2')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        new_markdown_cell(f"# Toy notebook {name}"), params,
        new_code_cell("from sadutils.fileio import write_json\n"
                      "from sadutils.workspace import Workspace\n"
                      "records = Workspace.create(profile).records\n"
                      f"write_json(records / '{name}.json', {{'notebook': '{name}', 'y': y}})\n"
                      f"print('{name} wrote its record')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _prepare(folder):
    (folder / "notebooks").mkdir(parents=True)
    for run in RUNS:
        nbformat.write(_notebook(run.notebook), str(folder / "notebooks" / f"{run.notebook}.ipynb"))


def _env(folder) -> dict:
    return {"SADUTILS_DATA": str(folder / "data"), "SADUTILS_RESULTS": str(folder / "results")}


def _reproduce(folder):
    result = rp.reproduce(Workspace.create("demo"), runs=RUNS, notebooks=folder / "notebooks",
                          executed=folder / "executed", echo=lambda *a: None)
    return 0 if result.ok else 1


def _cells(path):
    """An executed notebook as a reader sees it: each cell's source and outputs."""
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return [(c.cell_type, c.source, [o.get("text") for o in c.get("outputs", [])])
            for c in nb.cells]


def _result(folder) -> dict:
    state = json.loads((folder / "results" / "demo" / "reproduce.json").read_text())
    records = folder / "results" / "demo" / "records"
    return {"state": {k: v["status"] for k, v in state["runs"].items()},
            "records": {p.name: json.loads(p.read_text()) for p in sorted(records.glob("*.json"))},
            "executed": {p.name: _cells(p) for p in sorted((folder / "executed").glob("*"))
                         if not p.name.startswith(".")}}


def _sound(folder, point) -> None:
    """Nothing half-written where a later step reads: the state file, every executed notebook
    (a reader globs the folder), every record, and what the state calls done."""
    state_file = folder / "results" / "demo" / "reproduce.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"runs": {}}
    executed = {p.name: _cells(p) for p in (folder / "executed").glob("*")
                if not p.name.startswith(".")} if (folder / "executed").exists() else {}
    records = folder / "results" / "demo" / "records"
    for path in records.glob("*.json") if records.exists() else []:
        json.loads(path.read_text())
    for name, run in state["runs"].items():
        if run["status"] == "ok":
            assert f"{name}.ipynb" in executed, (point, name)
            assert (records / f"{name}.json").is_file(), (point, name)


def test_reproduce_killed_at_every_crash_point(crash, tmp_path):
    reference, killed_folder = tmp_path / "reference", tmp_path / "killed"
    log = tmp_path / "reproduce.log"
    _prepare(reference)
    trace = tmp_path / "reference.tsv"
    assert crash.forked(lambda: _reproduce(reference), trace=trace, log=log,
                        env=_env(reference)) == 0, log.read_text()
    points = crash.read_trace(trace)
    # The kernels write the records (the runner writes the timing files timings/a.json, ...).
    kernel_pids = {p.pid for p in points
                   if p.path.endswith(("records/a.json", "records/b.json"))}
    assert len(kernel_pids) == 2 and not kernel_pids & {p.pid for p in points
                                                          if "reproduce.json" in p.path}
    done = [i for i, p in enumerate(points) if p.label == "renamed reproduce.json"]
    assert len(done) == len(RUNS)

    def resumes_at(folder):
        """A rerun starts with the first run the state file does not call done."""
        state = rp.read_state(folder / "results" / "demo" / "reproduce.json", "demo")
        ok = sum(state["runs"].get(r.name, {}).get("status") == "ok" for r in RUNS)
        return (done[ok - 1] + 1 if ok else 0), 0

    def run(kill_at, trace):
        status = crash.forked(lambda: _reproduce(killed_folder), kill_at=kill_at, trace=trace,
                              log=log, env=_env(killed_folder))
        crash.kill_leftovers(str(trace))  # a kernel whose runner died, as a power cut ends it
        return status

    _prepare(killed_folder)
    killed = crash.chain(killed_folder, run=run, resumes_at=resumes_at, after_kill=_sound,
                         reference=points, log=log)
    assert len(killed) == len(points) >= 20
    assert {p.pid for p in killed} & kernel_pids  # kernels were killed too, not the runner only
    got, want = _result(killed_folder), _result(reference)
    assert got == want and set(got["state"].values()) == {"ok"}
    crash.report("reproduce (2 toy notebooks)", "every point, chained", len(points),
                 len(killed))


@pytest.mark.slow
def test_reproduce_every_point_from_a_fresh_start_slow(crash, tmp_path):
    """Each crash point killed once, from a fresh start, the rerun compared."""
    def after_kill(folder, point, reference):
        crash.kill_leftovers(str(tmp_path))  # a kernel whose runner died
        _sound(folder, point)

    # sweep() forks the command itself; here it must carry the workspace's variables.
    def command(folder):
        os.environ.update(_env(folder))
        return _reproduce(folder)

    result = crash.sweep(tmp_path, "reproduce", prepare=_prepare, run=command,
                         snapshot=_result, after_kill=after_kill, wanted=10_000)
    assert len(result["killed"]) == len(result["points"]) >= 20
    crash.report("reproduce (2 toy notebooks)", "every point, one kill per run",
                 len(result["points"]), len(result["killed"]))
