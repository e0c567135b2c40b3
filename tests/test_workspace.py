"""Where everything lives: a profile's data and results folders, and the paths derived from them."""
from __future__ import annotations

from pathlib import Path

import pytest

from sadutils import workspace
from sadutils.config import DATASETS, DEMO, PAPER
from sadutils.workspace import Workspace, run_name


def test_create_follows_the_environment(isolated):
    ws = Workspace.create("demo")
    assert ws.profile is DEMO and ws.name == "demo"
    assert ws.data == (isolated / "data" / "demo").resolve()
    assert ws.results == (isolated / "results" / "demo").resolve()
    assert ws.results_root == (isolated / "results").resolve()
    paper = Workspace.create("paper")
    assert paper.profile is PAPER
    assert paper.data == (isolated / "data" / "paper").resolve()
    assert paper.results == (isolated / "results" / "paper").resolve()
    assert workspace.data_home() == (isolated / "data").resolve()
    assert workspace.results_home() == (isolated / "results").resolve()
    assert workspace.benchmarks_dir() == (isolated / "results").resolve() / "benchmarks"
    assert not (isolated / "data").exists() and not (isolated / "results").exists()  # no mkdir


def test_create_with_explicit_roots(isolated, tmp_path, monkeypatch):
    ws = Workspace.create("paper", data_root=tmp_path / "mine" / "webemo-etc",
                          results_root=tmp_path / "out")
    assert ws.data == (tmp_path / "mine" / "webemo-etc").resolve()  # the profile's own folder
    assert ws.results == (tmp_path / "out" / "paper").resolve()      # the root above profiles
    assert ws.results_root == (tmp_path / "out").resolve()
    # a workspace made from its own results_root is the same workspace
    assert Workspace.create("paper", data_root=ws.data, results_root=ws.results_root) == ws
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Workspace.create("demo", data_root="~/d").data == (tmp_path / "home" / "d").resolve()
    assert workspace.benchmarks_dir(tmp_path / "out") == tmp_path / "out" / "benchmarks"


def test_defaults_without_environment_are_in_the_checkout(monkeypatch):
    monkeypatch.delenv("SADUTILS_DATA", raising=False)
    monkeypatch.delenv("SADUTILS_RESULTS", raising=False)
    root = workspace.repo_root()
    assert (root / "pyproject.toml").is_file() and (root / "sadutils").is_dir()
    ws = Workspace.create()
    assert ws.name == "demo"
    assert ws.data == (root / "data" / "demo").resolve()
    assert ws.results == (root / "results" / "demo").resolve()
    assert workspace.notebooks_dir() == root / "notebooks"
    assert workspace.executed_dir() == root / "book" / "executed"


def test_unknown_profile_lists_choices(isolated):
    with pytest.raises(ValueError, match="unknown profile 'fast'; valid choices: demo, paper"):
        Workspace.create("fast")


RESULT_PATHS = [
    lambda ws: ws.records, lambda ws: ws.models, lambda ws: ws.runs, lambda ws: ws.manifests,
    lambda ws: ws.cache, lambda ws: ws.state_file, lambda ws: ws.scored_manifest,
    lambda ws: ws.filtered_manifest, lambda ws: ws.split_manifest, lambda ws: ws.text_model,
    lambda ws: ws.model_file("xception"), lambda ws: ws.run_dir("xception"),
    lambda ws: ws.history_file("xception-no-pretrain"),
    lambda ws: ws.predictions_file("resnet50-seed2"),
    lambda ws: ws.cross_dataset_dir("cross_dataset-xception-20260101T0000-abcd1234"),
    lambda ws: ws.record_file("train-xception-20260101T0000-abcd1234"),
    lambda ws: ws.logs, lambda ws: ws.log_file("03_train-xception"),
]


@pytest.mark.parametrize("profile", ["demo", "paper"])
def test_every_results_path_lies_under_the_results_folder(isolated, profile):
    ws = Workspace.create(profile)
    paths = [get(ws) for get in RESULT_PATHS]
    for path in paths:
        assert path.is_relative_to(ws.results) and path != ws.results, path
        assert not path.is_relative_to(ws.data)
    assert len(set(paths)) == len(paths)  # no two things share a path
    assert ws.model_file("xception").name == "xception.keras"
    assert ws.record_file("r1") == ws.records / "r1.json"
    assert ws.text_model == ws.model_file(workspace.TEXT_CLASSIFIER_RUN)
    assert ws.history_file("a").parent == ws.predictions_file("a").parent == ws.run_dir("a")
    other = Workspace.create("paper" if profile == "demo" else "demo")
    assert not any(get(other).is_relative_to(ws.results) for get in RESULT_PATHS)


def test_dataset_dir(demo_ws):
    for name in DATASETS:
        assert demo_ws.dataset_dir(name) == demo_ws.data / name
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'; valid choices: webemo"):
        demo_ws.dataset_dir("imagenet")


def test_relative_and_resolve_round_trip(demo_ws, tmp_path):
    for path in (demo_ws.model_file("xception"), demo_ws.history_file("b0"),
                 demo_ws.cross_dataset_dir("cd1") / "predictions.csv"):
        stored = demo_ws.relative(path)
        assert not Path(stored).is_absolute() and "\\" not in stored
        assert demo_ws.resolve(stored) == path
    assert demo_ws.relative(demo_ws.model_file("x")) == "models/x.keras"
    assert demo_ws.relative(demo_ws.results / "runs" / ".." / "models" / "x.keras") == \
        "models/x.keras"
    outside = tmp_path / "elsewhere" / "model.keras"
    assert demo_ws.relative(outside) == str(outside)  # outside the results: kept absolute
    assert demo_ws.resolve(demo_ws.relative(outside)) == outside
    assert demo_ws.resolve("runs/a/history.csv") == demo_ws.results / "runs" / "a" / "history.csv"
    # the data folder is not under the results: its files stay absolute
    data_file = demo_ws.dataset_dir("webemo") / "x.jpg"
    assert Path(demo_ws.relative(data_file)).is_absolute()


def test_run_name():
    assert run_name("xception") == "xception"
    assert run_name("xception", pretrained=False) == "xception-no-pretrain"
    assert run_name("efficientnetv2s", seed=7) == "efficientnetv2s-seed7"
    assert run_name("xception", pretrained=False, seed=0) == "xception-no-pretrain-seed0"
    assert len({run_name(b, p, s) for b in ("xception", "resnet50") for p in (True, False)
                for s in (None, 1)}) == 8


def test_shown_path_hides_the_building_machines_folders(isolated, tmp_path):
    """Paths are shown relative to the checkout, else to the data or results root."""
    root = workspace.repo_root()
    assert workspace.shown_path(root / "results" / "demo" / "x.json") == "results/demo/x.json"
    assert workspace.shown_path(root) == "."
    ws = Workspace.create("demo")  # isolated: both roots outside the checkout
    assert workspace.shown_path(ws.data / "emotion6") == "$SADUTILS_DATA/demo/emotion6"
    assert workspace.shown_path(ws.log_file("a")) == "$SADUTILS_RESULTS/demo/logs/a.log"
    assert workspace.shown_path(workspace.data_home()) == "$SADUTILS_DATA"
    elsewhere = tmp_path.parent / "elsewhere.txt"
    assert workspace.shown_path(elsewhere) == str(elsewhere)
