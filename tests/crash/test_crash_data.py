"""The data commands killed at their crash points: ``demo-data``, ``index --out`` and
``download-webemo`` (against a local server). After each kill, nothing a loader reads may be
half-written; each rerun must give what an uninterrupted run gives."""
from __future__ import annotations

import io
import random
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from PIL import Image

from sadutils.cli import main
from sadutils.data.download import DONE_STATUSES, load_log
from sadutils.data.loaders import load_dataset
from sadutils.demo import describe_demo, ensure_demo_data

#: The smallest demo data: a few images per dataset (~0.3 s to make), about 47 crash points.
SCALE = "0.005"
#: Kills per command in the default suite (the slow sweep kills at every point).
WANTED = 22
DATASETS = ("webemo", "unbiasedemo", "emotion6", "cocotext", "rgp")
#: What the WEBEmo download writes after the generator's marker says "complete".
DOWNLOADED = ("webemo/images/", "webemo/downloads.csv", "webemo/sample.txt")


def download_table(root) -> list:
    """downloads.csv as a later step reads it: per URL, done or its failure, and the file (a
    rerun logs an image it already has as ``skipped_existing``: done, like ``ok``)."""
    log = load_log(root / "downloads.csv")
    done = log["status"].isin(DONE_STATUSES)
    table = pd.DataFrame({"url": log["url"], "status": log["status"].where(~done, "done"),
                          "file": log["file"].where(done, "")})
    return sorted(table.itertuples(index=False, name=None))


def _manifests(root) -> dict:
    return {name: sorted(load_dataset(name, root / name, check=False).manifest[["path", "label"]]
                         .itertuples(index=False, name=None)) for name in DATASETS}


# ---------------------------------------------------------------------------- demo-data

def _demo(folder) -> int:
    return main(["demo-data", "--out", str(folder / "demo"), "--scale", SCALE])


def _demo_snapshot(crash):
    def snapshot(folder):
        root = folder / "demo"
        return {"files": crash.tree(root, skip={"webemo/downloads.csv"}),
                "downloads": download_table(root / "webemo"), "manifests": _manifests(root)}
    return snapshot


def _demo_after_kill(crash):
    def after_kill(folder, point, reference):
        root = folder / "demo"
        images = root / "webemo" / "images"
        have = crash.tree(images) if images.is_dir() else {}
        for name, sha in have.items():  # no half image under a name a loader reads
            assert sha == reference["files"][f"webemo/images/{name}"], (point, name)
        try:
            describe_demo(root)
        except FileNotFoundError:
            return  # no complete marker: not trusted, the next run rebuilds the data
        generated = {k: v for k, v in crash.tree(root).items() if not k.startswith(DOWNLOADED)}
        assert generated == {k: v for k, v in reference["files"].items()
                             if not k.startswith(DOWNLOADED)}, point
    return after_kill


def test_demo_data_killed_at_its_crash_points(crash, tmp_path):
    result = crash.sweep(tmp_path, "demo", prepare=lambda f: None, run=_demo,
                         snapshot=_demo_snapshot(crash), after_kill=_demo_after_kill(crash),
                         wanted=WANTED)
    assert len(result["points"]) >= 40 and len(result["killed"]) >= 20
    assert {"written", "synced", "renamed", "generated"} <= {p.step for p in result["killed"]}
    crash.report("demo-data", "one kill per run", len(result["points"]), len(result["killed"]))


@pytest.mark.slow
def test_demo_data_every_point_and_random_moments_slow(crash, tmp_path):
    """Every crash point, then 40 seeded random moments (inside the generator's image writes
    too, which have no crash point of their own)."""
    after_kill, snapshot = _demo_after_kill(crash), _demo_snapshot(crash)
    result = crash.sweep(tmp_path, "demo", prepare=lambda f: None, run=_demo,
                         snapshot=snapshot, after_kill=after_kill, wanted=10_000)
    assert len(result["killed"]) == len(result["points"])
    moments = crash.moments(tmp_path, "demo-moments", prepare=lambda f: None, run=_demo,
                            snapshot=snapshot, after_kill=after_kill, count=40, seed=7)
    crash.report("demo-data", "every point, one kill per run", len(result["points"]),
                 len(result["killed"]))
    crash.report("demo-data", "random moments, one kill per run", 0, moments)


# ---------------------------------------------------------------------------- index --out

@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    """The smallest demo data, made once for these tests (read-only)."""
    root = tmp_path_factory.mktemp("crash-demo") / "demo"
    ensure_demo_data(root, scale=float(SCALE), progress=False)
    return root


#: Moments of ``index --out`` killed at random (seeded) on top of its three crash points.
INDEX_MOMENTS = 17


def test_index_out_killed_at_its_crash_points_and_random_moments(crash, tmp_path, tiny_demo):
    """``index --out`` writes one file: its three crash points, then 17 seeded random moments
    of its run; after each kill the manifest is the user's old one or the whole new one."""
    out = tmp_path / "manifest.csv"
    old = "path,label\nan/old/manifest.jpg,sadness\n"
    out.write_text(old)
    log = tmp_path / "index.log"

    def run():
        return main(["index", "webemo", str(tiny_demo / "webemo"), "--out", str(out)])

    reference_run = tmp_path / "reference.csv"
    trace = tmp_path / "index.tsv"
    assert crash.forked(lambda: main(["index", "webemo", str(tiny_demo / "webemo"), "--out",
                                      str(reference_run)]), trace=trace, log=log) == 0
    reference = reference_run.read_text()
    assert [p.step for p in crash.read_trace(trace)] == ["written", "synced", "renamed"]

    def killed_and_checked(status, what) -> bool:
        if status == 0:  # the moment came after the end: nothing was killed
            return False
        assert status == -signal.SIGKILL, (what, log.read_text())
        assert out.read_text() in (old, reference), what  # never half a manifest
        assert all(p.endswith(".tmp") for p in crash.hidden_leftovers(tmp_path)), what
        return True

    survived = sum(killed_and_checked(crash.forked(run, kill_at=n, log=log), f"point {n}")
                   for n in (1, 2, 3))
    assert survived == 3
    started = time.monotonic()
    assert crash.forked(run, log=log) == 0
    duration = time.monotonic() - started
    rng = random.Random(20)
    for _ in range(6 * INDEX_MOMENTS):  # moments past the end of a faster run do not count
        moment = rng.uniform(0.0, duration)
        survived += killed_and_checked(crash.forked(run, log=log, kill_after=moment),
                                       f"{moment:.3f} s")
        if survived == 3 + INDEX_MOMENTS:
            break
    assert survived == 3 + INDEX_MOMENTS
    assert crash.forked(run, log=log) == 0 and out.read_text() == reference
    crash.report("index --out", "3 points and 17 random moments, chained", 3, survived)


# ---------------------------------------------------------------------------- download-webemo

class _Images(BaseHTTPRequestHandler):
    """/img/<n>.jpg: a distinct small JPEG each; anything else: 404."""

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        name = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/img/") and name.endswith(".jpg"):
            buf = io.BytesIO()
            shade = int(name.split(".")[0]) * 20 % 256
            Image.new("RGB", (24, 16), (shade, 90, 255 - shade)).save(buf, "JPEG")
            body, code, kind = buf.getvalue(), 200, "image/jpeg"
        else:
            body, code, kind = b"gone", 404, "text/plain"
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def image_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _download(crash, tmp_path, server, workers: int, images: int = 8):
    """``run``, ``snapshot`` and ``after_kill`` of a WEBEmo list of ``images`` images and 2
    dead links."""
    listing = tmp_path / "train25.txt"
    lines = [f"{server}/img/{n}.jpg {n % 25}" for n in range(images)]
    lines += [f"{server}/dead/{n} 3" for n in range(2)]
    listing.write_text("\n".join(lines) + "\n")

    def run(folder):
        return main(["download-webemo", str(listing), "--out", str(folder / "webemo"),
                     "--workers", str(workers), "--retries", "0", "--timeout", "10"])

    def snapshot(folder):
        root = folder / "webemo"
        return {"files": crash.tree(root, skip={"downloads.csv"}),
                "downloads": download_table(root)}

    def after_kill(folder, point, reference):
        images = folder / "webemo" / "images"
        have = crash.tree(images) if images.is_dir() else {}
        assert all(reference["files"][f"images/{k}"] == v for k, v in have.items()), point
        log = folder / "webemo" / "downloads.csv"
        if log.is_file():  # every row a later run reads is whole, every "ok" has its image
            table = load_log(log)
            for row in table.itertuples():
                if row.status == "ok":
                    assert (folder / "webemo" / row.file).is_file(), (point, row)

    return run, snapshot, after_kill


def test_download_webemo_killed_at_its_crash_points(crash, tmp_path, image_server):
    """One download at a time, so that the crash points come in the same order in every run."""
    run, snapshot, after_kill = _download(crash, tmp_path, image_server, workers=1)
    result = crash.sweep(tmp_path, "download", prepare=lambda f: None, run=run,
                         snapshot=snapshot, after_kill=after_kill, wanted=WANTED)
    assert len(result["points"]) == 3 + 8 * 3 + 3  # sample.txt, the images, the log
    assert len(result["killed"]) >= 20
    assert sum(status == "done" for _, status, _ in result["reference"]["downloads"]) == 8
    crash.report("download-webemo", "one kill per run", len(result["points"]),
                 len(result["killed"]))


@pytest.mark.slow
def test_download_webemo_with_four_workers_every_point_and_moments_slow(crash, tmp_path,
                                                                         image_server):
    """Four downloads at a time (crash points in a different order in every run), 24 images:
    every crash point, then 30 seeded random moments."""
    run, snapshot, after_kill = _download(crash, tmp_path, image_server, workers=4, images=24)
    result = crash.sweep(tmp_path, "download", prepare=lambda f: None, run=run,
                         snapshot=snapshot, after_kill=after_kill, wanted=10_000)
    assert len(result["killed"]) == len(result["points"]) == 3 + 24 * 3 + 3
    moments = crash.moments(tmp_path, "download-moments", prepare=lambda f: None, run=run,
                            snapshot=snapshot, after_kill=after_kill, count=30, seed=11)
    crash.report("download-webemo (4 workers)", "every point, one kill per run",
                 len(result["points"]), len(result["killed"]))
    crash.report("download-webemo (4 workers)", "random moments, one kill per run", 0, moments)
