"""The notebook runner (``sadutils reproduce``) on tiny throwaway notebooks.

The runner is given its own graph of four small notebooks, a -> b, a -> c, b + c -> d, each of
which appends a line to a log file (REPRO_LOG) when it runs, so the tests see exactly which
notebooks ran and in which order. None of these runs reads a dataset, so no demo data is made.
The last tests use the real notebooks folder, but only to check that bad requests are refused
before anything runs.
"""
from __future__ import annotations

import functools
import json
import shutil

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from sadutils.cli import main
from sadutils.runner import execute as rp
from sadutils.runner import plan
from sadutils.runner.steps import NotebookRun
from sadutils.workspace import Workspace, shown_path


RUNS = [
    NotebookRun("a", "a"),
    NotebookRun("b", "b", {}, ("a",)),
    NotebookRun("c", "c", {"y": 3}, ("a",)),
    NotebookRun("d", "d", {}, ("b", "c")),
]


def _notebook(name: str, extra_params: str = "") -> nbformat.NotebookNode:
    params = new_code_cell(f'profile = "demo"\ny = 1\nfail = False\n{extra_params}')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        new_markdown_cell(f"# Notebook {name}"),
        params,
        new_code_cell("import os\n"
                      "with open(os.environ['REPRO_LOG'], 'a') as fh:\n"
                      f"    fh.write(f'{name} {{profile}} {{y}}\\n')"),
        new_code_cell(f"assert not fail, 'boom in {name}'"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _use(folder, monkeypatch) -> Workspace:
    """Point SADUTILS_DATA / SADUTILS_RESULTS and the log at ``folder``; its demo workspace."""
    monkeypatch.setenv("SADUTILS_DATA", str(folder / "data"))
    monkeypatch.setenv("SADUTILS_RESULTS", str(folder / "results"))
    monkeypatch.setenv("REPRO_LOG", str(folder / "log.txt"))
    return Workspace.create("demo")


def _options(folder, **changes) -> dict:
    return {"runs": RUNS, "notebooks": folder / "notebooks", "executed": folder / "executed",
            "echo": lambda *a: None, **changes}


def _log(folder) -> list[str]:
    path = folder / "log.txt"
    return path.read_text().split("\n")[:-1] if path.is_file() else []


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A folder where every notebook has run once: ``(folder, result)``."""
    folder = tmp_path_factory.mktemp("repro")
    (folder / "notebooks").mkdir()
    for name in "abcd":
        nbformat.write(_notebook(name, "notebook_name = None\n" if name == "d" else ""),
                       str(folder / "notebooks" / f"{name}.ipynb"))
    mp = pytest.MonkeyPatch()
    try:
        ws = _use(folder, mp)
        result = rp.reproduce(ws, **_options(folder))
    finally:
        mp.undo()
    return folder, result


@pytest.fixture
def folder(baseline, tmp_path, monkeypatch):
    """A private copy of the baseline folder, its log emptied, set as the test's environment."""
    copy = tmp_path / "copy"
    shutil.copytree(baseline[0], copy)
    (copy / "log.txt").unlink()
    _use(copy, monkeypatch)
    return copy


@pytest.fixture
def ws(folder) -> Workspace:
    return Workspace.create("demo")


def test_runs_in_order_and_writes_executed_notebooks(baseline):
    folder, result = baseline
    assert result.ok and result.profile == "demo"
    assert [(o.name, o.status) for o in result.outcomes] == [(n, "ran") for n in "abcd"]
    assert all(o.reason == "never run" for o in result.outcomes)
    assert _log(folder) == ["a demo 1", "b demo 1", "c demo 3", "d demo 1"]
    for name in "abcd":
        executed = nbformat.read(str(folder / "executed" / f"{name}.ipynb"), as_version=4)
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    state_file = folder / "results" / "demo" / "reproduce.json"
    assert result.state_file == state_file
    state = json.loads(state_file.read_text())
    assert {k: v["status"] for k, v in state["runs"].items()} == dict.fromkeys("abcd", "ok")
    # A notebook declaring a `notebook_name` parameter is told its run's name.
    d = nbformat.read(str(folder / "executed" / "d.ipynb"), as_version=4)
    injected = next(c for c in d.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'notebook_name = "d"' in injected.source
    # Runs that read no dataset: no demo data was generated.
    assert not (folder / "data").exists()
    assert list(result.table()["status"]) == ["ran"] * 4


def test_second_call_skips_everything(ws, folder):
    lines = []
    result = rp.reproduce(ws, **_options(folder, echo=lines.append))
    assert [o.status for o in result.outcomes] == ["skipped"] * 4
    assert _log(folder) == []
    assert sum(line.endswith(": skip (up to date)") for line in lines) == 4
    summary = lines[-1]
    assert summary.startswith("Summary (profile demo):") and "4 skipped" in summary
    assert summary == rp.summary(result)


@pytest.mark.parametrize("text", [
    '[1, 2]', '{"version": 1, "runs": [1]}', '{"version": 1, "runs": {"a": 5, "b": [1]}}',
    '{"version": 1, "runs": {}, "x": NaN}', '{"version": 1, "runs": {"a": {"wall_s": Infinity}}}',
    '{"version": "1", "runs": {}}', "[" * 100_000, "\udcff", ""])
def test_state_file_of_the_wrong_shape_gives_a_fresh_state(tmp_path, text):
    path = tmp_path / "reproduce.json"
    path.write_text(text, errors="surrogateescape")
    state = rp.read_state(path, "demo")
    assert set(state) == {"version", "profile", "runs"} and state["profile"] == "demo"
    assert all(isinstance(v, dict) for v in state["runs"].values())
    json.dumps(state, allow_nan=False)  # what the runner writes back is valid JSON


def test_state_file_of_the_wrong_shape_runs_again_without_a_traceback(ws, folder):
    ws.state_file.write_text('{"version": 1, "runs": {"a": {"status": "ok", "wall_s": NaN}, '
                             '"b": [1]}, "extra": Infinity}')
    result = rp.reproduce(ws, **_options(folder))
    assert result.ok and _log(folder) == ["a demo 1", "b demo 1", "c demo 3", "d demo 1"]
    assert json.loads(ws.state_file.read_text())["version"] == rp.STATE_VERSION


def test_state_file_that_is_a_folder_is_refused_before_anything_runs(ws, folder, capsys):
    ws.state_file.unlink()
    ws.state_file.mkdir()
    with pytest.raises(ValueError, match="state file .* is not a file"):
        rp.reproduce(ws, **_options(folder))
    assert _log(folder) == []


def test_changing_a_parameter_reruns_it_and_its_dependents_only(ws, folder):
    result = rp.reproduce(ws, overrides=["b:y=2"], **_options(folder))
    assert {o.name: o.status for o in result.outcomes} == \
        {"a": "skipped", "b": "ran", "c": "skipped", "d": "ran"}
    assert result.by_name()["b"].reason == "parameters changed"
    assert result.by_name()["d"].reason == "upstream results changed"
    assert _log(folder) == ["b demo 2", "d demo 1"]
    # Back to the default: b runs again (its inputs changed back), and d after it.
    again = rp.reproduce(ws, **_options(folder))
    assert [o.name for o in again.outcomes if o.status == "ran"] == ["b", "d"]
    # An override as a tuple works the same.
    tupled = rp.reproduce(ws, overrides=[("c", "y", 7)], **_options(folder))
    assert [o.name for o in tupled.outcomes if o.status == "ran"] == ["c", "d"]
    assert _log(folder)[-2:] == ["c demo 7", "d demo 1"]


def test_only_and_force(ws, folder):
    result = rp.reproduce(ws, only=["c"], force=True, **_options(folder))
    assert [(o.name, o.status, o.reason) for o in result.outcomes] == [("c", "ran", "forced")]
    assert _log(folder) == ["c demo 3"]
    # c ran again, so d (which reads c's results) is out of date; b and a are not.
    result = rp.reproduce(ws, **_options(folder))
    assert [o.name for o in result.outcomes if o.status == "ran"] == ["d"]
    assert result.by_name()["d"].reason == "upstream results changed"


def test_missing_executed_notebook_or_state_runs_again(ws, folder):
    (folder / "executed" / "d.ipynb").unlink()
    result = rp.reproduce(ws, **_options(folder))
    assert [(o.name, o.reason) for o in result.outcomes if o.status == "ran"] == \
        [("d", "executed notebook missing")]
    ws.state_file.write_text("{not json")
    assert rp.read_state(ws.state_file, "demo") == {"version": rp.STATE_VERSION,
                                                    "profile": "demo", "runs": {}}
    result = rp.reproduce(ws, **_options(folder))
    assert [o.reason for o in result.outcomes] == ["never run"] * 4


def test_failure_names_notebook_and_cell_and_blocks_dependents(ws, folder, monkeypatch, capsys):
    from sadutils.cli import run_commands

    monkeypatch.setattr(run_commands, "reproduce",
                        functools.partial(rp.reproduce, **_options(folder, echo=print)))
    code = main(["reproduce", "-p", "b:fail=True", "-p", "c:y=5"])
    out = capsys.readouterr().out
    assert code == 1
    assert _log(folder) == ["b demo 1", "c demo 5"]  # b failed after logging; c independent: ran
    assert "[2/4] b: FAILED" in out
    assert "cell 4 (`assert not fail, 'boom in b'`)" in out and "AssertionError" in out
    assert "d: blocked (depends on b" in out
    assert "the kernel's own messages: $SADUTILS_RESULTS/demo/logs/b.log" in out
    assert "AssertionError" in ws.log_file("b").read_text()  # the log ends with the outcome
    state = json.loads(ws.state_file.read_text())
    assert state["runs"]["b"]["status"] == "failed"
    executed = nbformat.read(str(folder / "executed" / "b.ipynb"), as_version=4)
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    assert any(o.get("output_type") == "error" for o in outputs)
    # Fixed: b runs again (last run failed), then d.
    result = rp.reproduce(ws, **_options(folder))
    assert [(o.name, o.status) for o in result.outcomes] == \
        [("a", "skipped"), ("b", "ran"), ("c", "ran"), ("d", "ran")]
    assert result.by_name()["b"].reason == "last run failed"


def test_code_is_part_of_the_key(ws, folder, monkeypatch):
    monkeypatch.setattr(plan, "package_fingerprint", lambda: "other code")
    result = rp.reproduce(ws, only=["a"], **_options(folder))
    assert [(o.name, o.status, o.reason) for o in result.outcomes] == \
        [("a", "ran", "sadutils code changed")]


def test_data_is_part_of_the_key_under_the_paper_profile(folder):
    """A run that reads a dataset runs again when its folder changes (paper profile: nothing
    is generated; the dataset folders are the workspace's)."""
    runs = [NotebookRun("a", "a", {}, (), ("rgp",)), NotebookRun("b", "b", {}, ("a",))]
    paper = Workspace.create("paper")
    first = rp.reproduce(paper, **_options(folder, runs=runs))
    assert [o.status for o in first.outcomes] == ["ran", "ran"]
    assert _log(folder) == ["a paper 1", "b paper 1"]
    assert [o.status for o in rp.reproduce(paper, **_options(folder, runs=runs)).outcomes] == \
        ["skipped", "skipped"]
    (paper.dataset_dir("rgp") / "natural_images").mkdir(parents=True)
    (paper.dataset_dir("rgp") / "natural_images" / "x.jpg").write_bytes(b"123")
    again = rp.reproduce(paper, **_options(folder, runs=runs))
    assert [(o.status, o.reason) for o in again.outcomes] == \
        [("ran", "data changed"), ("ran", "upstream results changed")]


def test_demo_data_only_for_runs_that_read_data(ws, folder, monkeypatch):
    made = []
    monkeypatch.setattr(rp, "ensure_demo_data", lambda out, **k: made.append(out))
    runs = [NotebookRun("a", "a", {}, (), ("webemo",)), *RUNS[1:]]
    rp.reproduce(ws, only=["b"], **_options(folder, runs=runs))
    assert made == []  # b reads nothing
    rp.reproduce(ws, only=["a"], **_options(folder, runs=runs))
    assert made == [ws.data]


def test_paired_script_that_differs_is_reported(ws, folder):
    nb = nbformat.read(str(folder / "notebooks" / "a.ipynb"), as_version=4)
    nb.cells[2].source = "print('edited in the script only')"
    jupytext.write(nb, str(folder / "notebooks" / "a.py"), fmt="py:percent")
    lines = []
    rp.reproduce(ws, only=["a"], **_options(folder, echo=lines.append))
    assert any(line.startswith("warning: ") and "a.py and a.ipynb differ" in line
               for line in lines)


def test_bad_requests_fail_before_running_anything(ws, folder):
    with pytest.raises(ValueError, match="no parameter.*nope.*parameters: fail, profile, y"):
        rp.reproduce(ws, overrides=["b:nope=1"], **_options(folder))
    with pytest.raises(ValueError, match="unknown notebook 'zz'.*valid names: a, b, c, d"):
        rp.reproduce(ws, only=["zz"], **_options(folder))
    with pytest.raises(ValueError, match="NOTEBOOK:NAME=VALUE"):
        rp.reproduce(ws, overrides=["b=1"], **_options(folder))
    with pytest.raises(ValueError, match="must come before"):
        rp.reproduce(ws, **_options(folder, runs=RUNS[::-1]))
    with pytest.raises(FileNotFoundError, match="needed by run e"):
        rp.reproduce(ws, **_options(folder, runs=[*RUNS, NotebookRun("e", "e")]))
    state = ws.state_file.read_text()
    # A typed parameter (declared in sadutils.settings.PARAMETERS) is checked too.
    nb = _notebook("a", "epochs = None\n")
    nbformat.write(nb, str(folder / "notebooks" / "a.ipynb"))
    with pytest.raises(ValueError, match="-p a:epochs: parameter epochs must be an integer"):
        rp.reproduce(ws, overrides=["a:epochs=abc"], **_options(folder))
    assert _log(folder) == [] and ws.state_file.read_text() == state


def test_real_notebooks_bad_values_are_refused_before_anything_runs(isolated):
    """The real graph and notebooks, with a bad ``-p``: refused before any notebook (or the
    demo data) is touched."""
    ws = Workspace.create("demo")
    executed = isolated / "executed"
    with pytest.raises(ValueError, match=r"-p 03_train:epochs: parameter epochs must be an "
                                         r"integer >= 1.*got 'abc'"):
        rp.reproduce(ws, only=["03_train"], overrides=["03_train:epochs=abc"],
                     executed=executed)
    for text, shown in (("2.7", "2.7"), ("true", "True"), ("1e400", "inf"), ("[3]", r"\[3\]")):
        with pytest.raises(ValueError, match=rf"-p 03_train:epochs: parameter epochs must be an "
                                             rf"integer >= 1.*got {shown}"):
            rp.reproduce(ws, only=["03_train"], overrides=[f"03_train:epochs={text}"],
                         executed=executed)
    with pytest.raises(ValueError, match="notebook 03_train has no parameter.*nope"):
        rp.reproduce(ws, only=["03_train"], overrides=["03_train:nope=1"], executed=executed)
    with pytest.raises(ValueError, match="unknown backbone 'notanet'.*valid choices"):
        rp.reproduce(ws, only=["03_train"], backbones=["notanet"], executed=executed)
    # The notebooks tell a bad type apart too: sadness_fraction must be a number or 'natural'.
    with pytest.raises(ValueError, match="parameter sadness_fraction must be"):
        rp.reproduce(ws, only=["04_cross_dataset"],
                     overrides=["04_cross_dataset:sadness_fraction=2"], executed=executed)
    assert not executed.exists() and not ws.state_file.exists() and not ws.data.exists()


# ------------------------------------------------------------------ what the reader sees

def _backbone_notebook() -> nbformat.NotebookNode:
    """A notebook that builds a backbone: it takes ``backbone`` and ``weights``, writes noise
    at the operating-system level (as TensorFlow's C++ logging does) and reports progress."""
    params = new_code_cell('profile = "demo"\nbackbone = "xception"\nweights = None\n'
                           "notebook_name = None")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        new_markdown_cell("# Training a backbone\n\nSome prose."),
        params,
        new_code_cell("import os\n"
                      "os.write(2, b'E0000 fake C++ log line from the kernel\\n')\n"
                      "from sadutils.progress import phase, report\n"
                      "report('images', step='scoring images', done=5, total=10)\n"
                      "with phase('decode images', images=10):\n"
                      "    pass\n"
                      "report('epoch', force=True, step='training ' + backbone, done=1, "
                      "total=2, loss=0.5)\n"
                      "print('weights:', weights)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


BACKBONE_RUNS = [NotebookRun("t-xception", "t", {"backbone": "xception"}),
                 NotebookRun("t-efficientnetv2s", "t", {"backbone": "efficientnetv2s"})]


@pytest.fixture
def backbone_folder(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    nbformat.write(_backbone_notebook(), str(tmp_path / "notebooks" / "t.ipynb"))
    _use(tmp_path, monkeypatch)
    return tmp_path


def _stdout_of(executed: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", [])
                   if o.get("name") == "stdout")


def test_quiet_runs_keep_kernel_noise_in_a_log_and_show_progress(backbone_folder, capfd):
    folder = backbone_folder
    ws = Workspace.create("demo")
    weights_file = folder / "x_notop.h5"
    weights_file.write_bytes(b"fake weights")
    lines, shown = [], []
    result = rp.reproduce(ws, weights=[f"xception={weights_file}"],
                          **_options(folder, runs=BACKBONE_RUNS, echo=lines.append,
                                     status=shown.append))
    assert result.ok
    terminal = capfd.readouterr()
    # Nothing of the kernels' own output reached the terminal ...
    for stream in (terminal.out, terminal.err):
        assert "fake C++ log line" not in stream and "Kernel is running over TCP" not in stream
    # ... it is in each run's log, named in the workspace's logs folder.
    log = ws.log_file("t-xception").read_text()
    assert log.startswith("sadutils reproduce: t-xception (never run), started ")
    assert "E0000 fake C++ log line from the kernel" in log
    assert log.rstrip().endswith("sadutils reproduce: t-xception ran")
    assert "Kernel is running over TCP" not in log  # encrypted (or IPC) kernels: no reason
    # One line per notebook (then the summary); its progress went to the status line.
    assert len(lines) == 4 and lines[1].startswith("[2/2] t-efficientnetv2s: ran in ")
    assert lines[0].startswith("[1/2] t-xception: ran in ") and \
        lines[0].endswith("(never run) -> " + str(folder / "executed" / "t-xception.ipynb"))
    assert "[1/2] t-xception: training xception: epoch 1/2, loss 0.500" in shown
    assert "[1/2] t-xception: scoring images: 5/10" in shown
    assert shown[0] == "[1/2] t-xception: run (never run) ..."
    # The executed notebooks: titled with their backbone, without the kernel's noise, and
    # without the building machine's folders in papermill's record of the paths.
    x = nbformat.read(str(folder / "executed" / "t-xception.ipynb"), as_version=4)
    s = nbformat.read(str(folder / "executed" / "t-efficientnetv2s.ipynb"), as_version=4)
    assert x.cells[0].source.startswith("# Training a backbone: Xception\n")
    assert s.cells[0].source.startswith("# Training a backbone: EfficientNetV2S\n")
    outputs = json.dumps([c.get("outputs", []) for c in x.cells])
    assert "weights:" in outputs and "fake C++ log line" not in outputs
    assert x.metadata.papermill["input_path"] == shown_path(folder / "notebooks" / "t.ipynb")
    assert x.metadata.papermill["output_path"] == \
        shown_path(folder / "executed" / "t-xception.ipynb")
    # Each run's profile: kernel start, its code cells' seconds, the phases it timed; the
    # phases were not shown as progress.
    timing = json.loads(ws.timing_file("t-xception").read_text())
    assert timing["run"] == "t-xception" and timing["status"] == "ran"
    assert 0 < timing["kernel_start_s"] < timing["wall_s"]
    assert [c["index"] for c in timing["cells"]] == [1, 2, 3]  # injected parameters included
    assert [p["phase"] for p in timing["phases"]] == ["decode images"]
    assert timing["phases"][0]["images"] == 10 and timing["phases"][0]["wall_s"] >= 0
    assert not any("decode images" in line for line in shown)
    # --weights reached the run of that backbone only.
    assert f"weights: {weights_file}" in _stdout_of(x)
    assert "weights: None" in _stdout_of(s)
    # Run again: skipped; a second title suffix is never added.
    again = rp.reproduce(ws, weights={"xception": weights_file},
                         **_options(folder, runs=BACKBONE_RUNS))
    assert [o.status for o in again.outcomes] == ["skipped", "skipped"]


def test_without_a_live_terminal_progress_goes_to_the_lines(backbone_folder):
    lines = []
    rp.reproduce(Workspace.create("demo"),
                 **_options(backbone_folder, runs=BACKBONE_RUNS[:1], echo=lines.append))
    # epoch ends become lines; other progress only in runs that last (not this one)
    assert lines[:3] == ["[1/1] t-xception: run (never run) ...",
                         "    training xception: epoch 1/2, loss 0.500",
                         lines[2]]
    assert lines[2].startswith("[1/1] t-xception: ran in ")


def test_verbose_shows_the_kernels_output(backbone_folder, capfd):
    ws = Workspace.create("demo")
    result = rp.reproduce(ws, verbose=True, **_options(backbone_folder, runs=BACKBONE_RUNS[:1]))
    assert result.ok and result.outcomes[0].log is None
    terminal = capfd.readouterr()
    assert "fake C++ log line from the kernel" in terminal.out + terminal.err
    assert not ws.log_file("t-xception").exists()


def test_weights_requests_are_checked_before_anything_runs(backbone_folder):
    folder = backbone_folder
    ws = Workspace.create("demo")
    weights_file = folder / "w.h5"
    weights_file.write_bytes(b"w")
    with pytest.raises(ValueError, match=r"-p t:weights=.* would start 2 backbones "
                                         r"\(efficientnetv2s, xception\) from one file; "
                                         r"give one file per backbone with --weights"):
        rp.reproduce(ws, overrides=[f"t:weights={weights_file}"],
                     **_options(folder, runs=BACKBONE_RUNS))
    with pytest.raises(FileNotFoundError, match="--weights xception=.*nope.h5: no such file"):
        rp.reproduce(ws, weights=[f"xception={folder / 'nope.h5'}"],
                     **_options(folder, runs=BACKBONE_RUNS))
    with pytest.raises(ValueError, match="expected BACKBONE=FILE"):
        rp.parse_weights(["xception"])
    with pytest.raises(ValueError, match="unknown backbone 'notanet'"):
        rp.parse_weights([f"notanet={weights_file}"])
    with pytest.raises(ValueError, match="xception is given two files"):
        rp.parse_weights([f"xception={weights_file}", f"Xception={weights_file}"])
    assert rp.parse_weights([f" EfficientNetV2S = {weights_file} "]) == \
        {"efficientnetv2s": str(weights_file.resolve())}
    assert not (folder / "executed").exists()
    # One run named: one file is fine; a backbone no selected run builds is noted.
    lines = []
    result = rp.reproduce(ws, only=["t-xception"], overrides=[f"t-xception:weights={weights_file}"],
                          weights=[f"efficientnetv2b0={weights_file}"],
                          **_options(folder, runs=BACKBONE_RUNS, echo=lines.append))
    assert result.ok
    assert "note: --weights for efficientnetv2b0: no selected notebook run builds it" in lines


def test_two_jobs_run_independent_notebooks_side_by_side(ws, folder):
    """b and c depend only on a: with two jobs they run together; d waits for both."""
    result = rp.reproduce(ws, force=True, jobs=2, **_options(folder))
    assert [(o.name, o.status) for o in result.outcomes] == [(n, "ran") for n in "abcd"]
    lines = _log(folder)
    assert lines[0] == "a demo 1" and lines[-1] == "d demo 1"
    assert sorted(lines[1:3]) == ["b demo 1", "c demo 3"]
    state = rp.read_state(ws.state_file, "demo")
    assert {k: v["status"] for k, v in state["runs"].items()} == dict.fromkeys("abcd", "ok")
    again = rp.reproduce(ws, jobs=2, **_options(folder))
    assert [o.status for o in again.outcomes] == ["skipped"] * 4
