"""The Data page: counts and sample grids from the data present when the book is built."""
from __future__ import annotations

import numpy as np
import pandas as pd

from sadutils.data.manifests import save_manifest
from sadutils.data.webemo import load_webemo
from sadutils.demo import writers
from sadutils.reporting import data_page
from sadutils.reporting.chapters import Png
from sadutils.workspace import Workspace


def _home(tmp_path, demo_dir):
    """A data home whose demo profile is the session's tiny demo data (linked, read-only)."""
    home = tmp_path / "data"
    home.mkdir()
    (home / "demo").symlink_to(demo_dir, target_is_directory=True)
    return home


def test_every_dataset_shows_counts_and_a_grid(tmp_path, tiny_demo_dir, isolated):
    home = _home(tmp_path, tiny_demo_dir)
    assert [ws.name for ws in data_page.data_workspaces(home)] == ["demo"]
    for dataset in ("webemo", "unbiasedemo", "emotion6", "cocotext", "rgp"):
        shown = data_page.dataset_outputs(dataset, home, per_group=2)
        kinds = [kind for kind, _ in shown]
        assert kinds == ["markdown", "markdown", "image"], dataset
        assert "DEMO profile" in shown[0][1]
        assert isinstance(shown[2][1], Png) and shown[2][1].data.startswith(b"\x89PNG")
    counts = data_page.dataset_counts(Workspace.create("demo", home / "demo"), "webemo",
                                      load_webemo(tiny_demo_dir / "webemo").manifest)
    table = counts.set_index("what")
    assert table.loc["the whole dataset", "paper"] == "268,000"
    assert table.loc["sampled", "paper"] == "18,520"
    assert int(table.loc["label sadness", "here"]) > 0 and table.loc["label sadness", "paper"] == ""


def test_no_data_says_so(tmp_path):
    shown = data_page.dataset_outputs("emotion6", tmp_path / "nothing")
    assert shown == [("markdown", shown[0][1])] and "No Emotion-6 data" in shown[0][1]
    assert "Notebook 02 has not run" in data_page.filter_outputs(tmp_path / "nothing")[0][1]


def test_pick_is_seeded_and_per_group():
    frame = pd.DataFrame({"path": [f"/x/{i}.jpg" for i in range(20)],
                          "label": ["a", "b"] * 10})
    first = data_page.pick(frame, "label", 3)
    assert first.groupby("group").size().to_dict() == {"a": 3, "b": 3}
    pd.testing.assert_frame_equal(first, data_page.pick(frame.iloc[::-1], "label", 3))


def test_the_filter_grid_shows_removed_and_kept_with_the_control(tmp_path, tiny_demo_dir,
                                                                  isolated):
    home = _home(tmp_path, tiny_demo_dir)
    ws = Workspace.create("demo", home / "demo")
    sample = load_webemo(tiny_demo_dir / "webemo").manifest
    sample["kept"] = np.arange(len(sample)) % 5 != 0
    save_manifest(sample, ws.scored_manifest)
    captions = data_page.control_captions(ws)
    assert captions and all(isinstance(v, str) and v for v in captions.values())
    shown = data_page.filter_outputs(home, per_group=2)
    assert shown[0][0] == "markdown" and "positive control" in shown[0][1]
    rate = writers.POSITIVE_CONTROL["sadness"]
    assert f"{100 * rate:.0f}% of the WEBEmo-like sadness images" in shown[0][1]
    assert shown[1][0] == "image"
