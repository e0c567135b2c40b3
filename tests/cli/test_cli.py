"""The ``sadutils`` command line, run in-process on the tiny demo data and small fixtures (and
once as ``python -m sadutils`` in a subprocess). ``predict`` has its own file.

The records used for ``tables`` are FAKE (invented numbers in a temporary results root).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from sadutils import config
from sadutils.cli import COMMANDS, main
from sadutils.data import fetch as fetch_module
from sadutils.data.webemo import url_to_filename
from sadutils.demo import ensure_demo_data
from sadutils.paper import TABLE_TITLES
from sadutils.provenance import provenance
from sadutils.records import Record
from sadutils.reporting.tables import NOT_RUN
from sadutils.workspace import Workspace

#: Scale and seed of conftest's tiny_demo_dir.
SCALE, SEED = 0.05, 1234


def run(capsys, *argv):
    """``main(argv)``'s exit status, stdout and stderr."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def index_json(capsys, dataset, root, *options):
    code, out, err = run(capsys, "index", dataset, root, "--json", *options)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def own_demo_dir(tiny_demo_dir, tmp_path):
    """A private copy of the tiny demo data (commands that resume a download rewrite its log)."""
    copy = tmp_path / "demo"
    shutil.copytree(tiny_demo_dir, copy)
    return copy


# ---------------------------------------------------------------------------------- demo data

def test_ensure_demo_data_downloads_webemo_and_is_resumable(own_demo_dir):
    log = pd.read_csv(own_demo_dir / "webemo" / "downloads.csv")
    marker = json.loads((own_demo_dir / "DEMO_DATA.json").read_text())["counts"]["webemo"]
    status = log["status"].value_counts()
    assert status["ok"] == marker["usable_images"]  # conflicting URLs are not downloaded
    assert status["not_image"] == marker["corrupt_files"]      # empty, HTML, truncated
    assert status["file_error"] == marker["dead_urls"]
    roots = ensure_demo_data(own_demo_dir, seed=SEED, scale=SCALE, progress=False)  # nothing new
    assert set(roots) == set(config.DATASETS)
    again = pd.read_csv(own_demo_dir / "webemo" / "downloads.csv")
    assert set(again.loc[again["status"].isin(["ok", "skipped_existing"]), "url"]) == \
        set(log.loc[log["status"] == "ok", "url"])


def test_demo_data_command_prints_roots_and_counts(own_demo_dir, capsys):
    code, out, _ = run(capsys, "demo-data", "--out", own_demo_dir, "--scale", SCALE,
                       "--seed", SEED)
    assert code == 0
    assert out.startswith(f"demo data ready in {own_demo_dir} (seed {SEED}, scale {SCALE:g})")
    for name in config.DATASETS:
        assert f"  {name} " in out and str(own_demo_dir / name) in out
    assert "downloads.csv" in out


def test_demo_data_command_defaults_to_the_data_home(isolated, capsys, monkeypatch):
    """Without --out the data goes to $SADUTILS_DATA/demo; stopped there by a (fake) Ctrl-C."""
    made = []
    from sadutils.cli import data_commands

    def interrupted(out, **kwargs):
        made.append((out, kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(data_commands, "ensure_demo_data", interrupted)
    code, out, err = run(capsys, "demo-data", "--scale", "0.5")
    assert made[0][0] == isolated / "data" / "demo"
    assert made[0][1]["scale"] == 0.5 and made[0][1]["seed"] == 1234
    assert code == 130 and err == "sadutils: interrupted\n"


# ---------------------------------------------------------------------------------- index

@pytest.mark.parametrize("dataset", config.DATASETS)
def test_index_json_counts_every_dataset(tiny_demo_dir, capsys, dataset):
    record = index_json(capsys, dataset, tiny_demo_dir / dataset)
    assert record["dataset"] == dataset
    assert record["root"] == str(tiny_demo_dir / dataset)
    assert record["n_images"] > 0
    assert record["n_images"] == sum(record["by_label"].values())
    assert record["rejected"] == []  # the demo plants no bad file in a loader's folder
    assert record["info"]["n_images"] == record["n_images"]
    if dataset == "webemo":
        marker = json.loads((tiny_demo_dir / "DEMO_DATA.json").read_text())["counts"]["webemo"]
        assert record["n_conflicting_urls"] == marker["conflict_urls"]
        assert record["n_duplicate_lines"] > 0
        assert record["n_unique_urls"] > record["n_downloaded"] == record["n_images"]
        assert record["n_images"] == marker["usable_images"]


def test_index_webemo_rejects_a_corrupt_download(tiny_demo_dir, tmp_path, capsys):
    """A broken file saved under a listed URL's name is refused, with the reason."""
    root = tmp_path / "webemo"
    shutil.copytree(tiny_demo_dir / "webemo", root)
    log = pd.read_csv(root / "downloads.csv")
    dead = log.loc[log["status"] == "file_error", "url"].iloc[0]
    bad = root / "images" / url_to_filename(dead)
    bad.write_bytes(b"<html><body>404</body></html>")
    before = index_json(capsys, "webemo", tiny_demo_dir / "webemo")
    record = index_json(capsys, "webemo", root)
    assert record["rejected"] == [{"path": str(bad), "reason": record["rejected"][0]["reason"]}]
    assert "HTML" in record["rejected"][0]["reason"]
    assert record["n_images"] == before["n_images"]
    assert record["n_downloaded"] == before["n_downloaded"] + 1
    unchecked = index_json(capsys, "webemo", root, "--no-check")
    assert unchecked["rejected"] == [] and unchecked["n_images"] == before["n_images"] + 1


def test_index_table_and_manifest(tiny_demo_dir, tmp_path, capsys):
    csv = tmp_path / "m" / "emotion6.csv"
    code, out, _ = run(capsys, "index", "emotion6", tiny_demo_dir / "emotion6", "--out", csv,
                       "--label-from", "argmax")
    assert code == 0
    manifest = pd.read_csv(csv)
    assert re.search(rf"^\s+total\s+{len(manifest)}$", out, re.M)
    assert "label_from=argmax" in out and "rejected: 0" in out
    assert f"manifest saved to {csv}" in out
    assert set(manifest["label"]) <= set(config.CLASS_NAMES)
    code, out, _ = run(capsys, "index", "emotion6", tiny_demo_dir / "emotion6", "--no-check")
    assert code == 0 and "(images not opened: --no-check)" in out


def test_index_table_lists_rejected_files_with_reasons(tiny_demo_dir, tmp_path, capsys):
    root = tmp_path / "rgp"
    shutil.copytree(tiny_demo_dir / "rgp", root)
    bad = root / "natural_images" / "cat" / "broken.jpg"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"")
    code, out, _ = run(capsys, "index", "rgp", root)
    assert code == 0
    assert "rejected: 1" in out
    line = next(l for l in out.splitlines() if str(bad) in l)
    assert line.strip().startswith(f"{bad}: ") and len(line.split(": ", 1)[1]) > 3
    record = index_json(capsys, "rgp", root)
    assert [r["path"] for r in record["rejected"]] == [str(bad)]
    assert record["rejected"][0]["reason"] == line.split(": ", 1)[1]


def test_index_malformed_list_names_file_and_line(tiny_demo_dir, tmp_path, capsys):
    root = tmp_path / "webemo"
    (root / "images").mkdir(parents=True)
    shutil.copy(tiny_demo_dir / "webemo" / "category.txt", root)
    (root / "train25.txt").write_text("http://example.com/a.jpg 3\nhttp://example.com/b.jpg sad\n")
    code, out, err = run(capsys, "index", "webemo", root)
    assert code == 2 and out == ""
    assert err.startswith("sadutils: error: ") and err.count("\n") == 1
    assert str(root / "train25.txt") in err and "line 2" in err
    assert "Traceback" not in err


def test_index_user_errors_exit_2(tiny_demo_dir, tmp_path, capsys):
    code, _, err = run(capsys, "index", "nosuch", tmp_path)
    assert code == 2 and "invalid choice" in err
    assert all(name in err for name in config.DATASETS)
    code, _, err = run(capsys, "index", "rgp", tmp_path / "missing")
    assert code == 2 and "sadutils: error:" in err and "not found" in err
    code, _, err = run(capsys, "index", "rgp", tiny_demo_dir / "rgp", "--layout", "panda")
    assert code == 2 and "--layout applies only to emotion6" in err


# ---------------------------------------------------------------------------------- fetch

def test_fetch_manual_dataset_prints_instructions(tmp_path, capsys):
    """Printing where to get a dataset behind a sign-up page is the expected result: status 0,
    on stdout."""
    code, out, err = run(capsys, "fetch", "webemo", "--out", tmp_path / "webemo")
    assert code == 0 and err == ""
    assert "rpand002.github.io" in out and str(tmp_path / "webemo") in out
    assert f"sadutils download-webemo {tmp_path / 'webemo' / 'train25.txt'} --out" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("dataset, layout", [
    ("unbiasedemo", "images/<emotion>/<object-or-scene>/<file>.jpg"),
    ("rgp", "natural_images/<class>/<file>.jpg"),
])
def test_fetch_sign_up_datasets_say_where_and_which_layout(tmp_path, capsys, dataset, layout):
    code, out, err = run(capsys, "fetch", dataset, "--out", tmp_path)
    assert code == 0 and err == "" and out.count("\n") == 1
    assert "http" in out and f"{tmp_path}/{layout}" in out


def test_fetch_sign_up_dataset_already_in_place(tiny_demo_dir, capsys):
    code, out, err = run(capsys, "fetch", "unbiasedemo", "--out", tiny_demo_dir / "unbiasedemo")
    assert code == 0 and err == ""
    assert out.startswith(f"unbiasedemo ready in {tiny_demo_dir / 'unbiasedemo'}")


def test_fetch_network_failure_is_one_line(tmp_path, capsys, monkeypatch):
    import requests

    def offline(*args, **kwargs):
        raise requests.ConnectionError("Failed to resolve 'github.com' (Name or service not known)")

    monkeypatch.setattr(fetch_module, "fetch_archive", offline)
    code, out, err = run(capsys, "fetch", "cocotext", "--out", tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("sadutils: error: could not download https://")
    assert "ConnectionError" in err and "run the same command again" in err


# ---------------------------------------------------------------------------------- usage errors

@pytest.mark.parametrize("argv, choices", [
    (("index", "nosuch", "."), config.DATASETS),
    (("nosuch",), tuple(COMMANDS)),
    ((), tuple(COMMANDS)),
    (("fetch", "imagenet", "--out", "."), ("webemo", "emotion6", "coco-train2014")),
    (("index", "emotion6", ".", "--label-from", "votes"), ("folder", "argmax")),
    (("index", "emotion6", ".", "--layout", "x"), ("auto", "cornell", "panda")),
    (("tables", "--profile", "full"), config.PROFILES),
    (("tables", "--format", "html"), ("markdown", "csv")),
    (("reproduce", "--profile", "nope"), config.PROFILES),
])
def test_bad_argument_is_one_line_naming_the_choices(capsys, argv, choices):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sadutils") and ": error: " in err
    assert "usage:" not in err
    assert all(c in err for c in choices)


def test_missing_required_option_is_one_line(url_list, capsys):
    code, _, err = run(capsys, "download-webemo", url_list)
    assert code == 2 and err.count("\n") == 1 and "--out" in err


# ---------------------------------------------------------------------------------- download

@pytest.fixture
def url_list(tmp_path):
    """A WEBEmo-style list of file:// URLs: 3 images, 1 dead link, 1 HTML page."""
    cdn = tmp_path / "cdn"
    cdn.mkdir()
    lines = []
    for i, fine in enumerate((19, 4, 1)):  # sadness, sadness, cheerfullness
        Image.new("RGB", (40, 30), (40 * i, 80, 120)).save(cdn / f"img{i}.jpg")
        lines.append(f"{(cdn / f'img{i}.jpg').as_uri()} {fine}")
    (cdn / "page.jpg").write_text("<html>gone</html>")
    lines += [f"{(cdn / 'dead.jpg').as_uri()} 0", f"{(cdn / 'page.jpg').as_uri()} 22"]
    path = tmp_path / "train25.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_download_webemo_summary_and_resume(url_list, tmp_path, capsys):
    out_dir = tmp_path / "out"
    argv = ("download-webemo", url_list, "--out", out_dir, "--workers", 2, "--retries", 0,
            "--allow-files-under", url_list.parent / "cdn")
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "5 lines, 5 unique URLs" in out
    assert re.search(r"^\s+ok\s+3$", out, re.M)
    assert "not_image" in out and "file_error" in out
    assert "3 of 5 images on disk" in out and str(out_dir / "downloads.csv") in out
    assert len(list((out_dir / "images").glob("*.jpg"))) == 3
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "skipped_existing" in out and "3 of 5 images on disk" in out


def test_download_webemo_sample(url_list, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "download-webemo", url_list, "--out", out_dir,
                       "--sample-sadness", 1, "--sample-others", 0, "--workers", 1,
                       "--allow-files-under", url_list.parent / "cdn")
    assert code == 0 and "1 selected" in out and "(sadness 1)" in out
    code, _, err = run(capsys, "download-webemo", url_list, "--out", out_dir, "--sample-sadness", 1)
    assert code == 2 and "--sample-others" in err


def test_download_webemo_bad_options(url_list, tmp_path, capsys):
    out_dir = tmp_path / "out"
    for option, value, message in (("--workers", 0, "--workers must be at least 1"),
                                   ("--retries", -1, "--retries must be at least 0"),
                                   ("--timeout", 0, "--timeout must be positive")):
        code, out, err = run(capsys, "download-webemo", url_list, "--out", out_dir, option, value)
        assert code == 2 and out == "" and message in err
    code, _, err = run(capsys, "download-webemo", tmp_path / "nope.txt", "--out", out_dir)
    assert code == 2 and "list file not found" in err
    assert not out_dir.exists()


# ---------------------------------------------------------------------------------- tables

def _fake_record(ws, row, table, acc):
    """A FAKE record with invented metrics; written."""
    Record(run_id=f"fake-{table}-{row}", kind="cross_dataset" if table != "table1" else "train",
           profile=ws.name, dataset="x", split="test", table=table, row=row,
           backbone="xception",
           metrics={"accuracy": acc, "f1_sadness": 0.5, "f1_others": 0.6, "f1_weighted": 0.55},
           ci95={"accuracy": [acc - 0.1, acc + 0.1]}, weights={"source": "scratch"},
           provenance=provenance(seed=0)).write(ws)


def test_tables_command_prints_paper_vs_reproduced(isolated, capsys):
    code, out, err = run(capsys, "tables")
    assert code == 0
    assert out.count(NOT_RUN) == 4 * 13 and "sadutils reproduce" in err
    ws = Workspace.create("demo")
    _fake_record(ws, "Xception", "table1", 0.612)
    _fake_record(ws, "EfficientNetV2S", "table3", 0.5)
    code, out, err = run(capsys, "tables", "--profile", "demo")
    assert code == 0 and err == ""
    for title in TABLE_TITLES.values():
        assert title in out
    assert "DEMO profile" in out
    assert "| Xception | 72.53 | 61.2 [51.2, 71.2] | -11.33 |" in out
    assert "| EfficientNetV2S | 68.95 | 50.0 [40.0, 60.0] |" in out
    code, csv, _ = run(capsys, "tables", "--format", "csv")
    assert code == 0
    assert 'Xception,72.53,"61.2 [51.2, 71.2]",-11.33' in csv and "# Table 2" in csv
    code, out, err = run(capsys, "tables", "--profile", "paper")
    assert code == 0 and "PAPER profile" in out and out.count(NOT_RUN) == 4 * 13
    assert "--profile paper" in err


# ---------------------------------------------------------------------------------- reproduce

def test_reproduce_command_rejects_unknown_names(isolated, capsys):
    code, out, err = run(capsys, "reproduce", "--only", "99_nothing")
    assert code == 2
    assert "unknown notebook '99_nothing'" in err and "04_cross_dataset" in err
    code, out, err = run(capsys, "reproduce", "--backbones", "notanet")
    assert code == 2 and "unknown backbone 'notanet'" in err and "valid choices: xception" in err
    assert not (isolated / "results").exists() and not (isolated / "data").exists()


# ---------------------------------------------------------------------------------- the program

def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("sadutils ")
    code, out, _ = run(capsys, "--help")
    assert code == 0 and all(name in out for name in COMMANDS)
    status = out[out.index("exit status:"):].splitlines()[1:]  # documented, as in the README
    assert [line.split()[0] for line in status] == ["0", "1", "2", "3", "130"]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert all(f"| {code} |" in readme for code in ("0", "1", "2", "3", "130"))
    code, out, _ = run(capsys, "reproduce", "--help")
    assert code == 0 and "--backbones" in out and "NOTEBOOK:NAME=VALUE" in out
    assert "--weights BACKBONE=FILE" in out and "--verbose" in out


def test_python_m_sadutils_version():
    done = subprocess.run([sys.executable, "-m", "sadutils", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"sadutils \S+\n", done.stdout)
    bad = subprocess.run([sys.executable, "-m", "sadutils", "nosuch"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("sadutils: error: ")


def test_lines_of_runs_side_by_side_never_share_a_line(isolated, monkeypatch):
    """``reproduce --jobs 2`` into a log: each run's start line is written whole (``print``
    wrote the text and its newline apart, and two start lines ended up on one line)."""
    import threading
    import time
    from types import SimpleNamespace

    from sadutils.cli import run_commands

    class SlowLog:  # a log file: not a terminal, and a write lets the other thread in
        def __init__(self):
            self.writes = []

        def write(self, text):
            time.sleep(0.001)
            self.writes.append(text)

        def flush(self):
            pass

        def isatty(self):
            return False

    def two_jobs(ws, echo, status, **options):
        assert status is None  # a log gets lines, not a status line rewritten in place
        threads = [threading.Thread(target=lambda i=i: [echo(f"[{i}/2] run {k} ...")
                                                        for k in range(20)]) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return SimpleNamespace(ok=True)

    log = SlowLog()
    monkeypatch.setattr(sys, "stdout", log)
    monkeypatch.setattr(run_commands, "reproduce", two_jobs)
    assert main(["reproduce", "--jobs", "2"]) == 0
    lines = "".join(log.writes).splitlines()
    assert len(lines) == 40 and all(line.count("[") == 1 for line in lines), lines
