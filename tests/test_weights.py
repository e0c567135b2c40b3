"""sadutils.weights: the ImageNet "notop" files in Keras' cache, checked by Keras' hashes and
downloaded with Keras' downloader, from a local HTTP server standing in for Keras' address
(never the real network). The files served are FAKE (random bytes): the test's registry entry
carries their hash, as the real entries carry the hashes Keras publishes."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading

import pytest

from sadutils import backbones, weights
from sadutils.cli import main

FAKE = b"not really an h5 file, but bytes with a known hash " * 100


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server of a folder; yields ``(base_url, folder, requests_seen)``."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    seen = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            seen.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder, seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_xception(monkeypatch):
    """The registry's Xception with the FAKE file's MD5 as its published hash."""
    digest = hashlib.md5(FAKE, usedforsecurity=False).hexdigest()
    entry = dataclasses.replace(backbones.get("xception"), imagenet_hash=digest)
    monkeypatch.setitem(backbones._DECLARED, "xception", entry)
    return entry


def test_states_of_a_cached_file(keras_home, fake_xception):
    status = weights.check_imagenet_file("xception")
    assert status.state == "missing" and not status.usable
    assert status.path == keras_home / "models" / fake_xception.imagenet_file
    status.path.parent.mkdir(parents=True)
    status.path.write_bytes(FAKE[:-10])  # an interrupted download
    corrupt = weights.check_imagenet_file("xception")
    assert corrupt.state == "corrupt" and "download it again" in corrupt.detail
    status.path.write_bytes(FAKE)
    verified = weights.check_imagenet_file("Xception")
    assert verified.state == "verified" and verified.usable and "md5" in verified.detail
    unknown = weights.check_imagenet_file("resnet50")
    assert unknown.state == "unknown" and unknown.path is None


def test_the_paper_backbones_have_hashes_to_check_against():
    for name in backbones.PAPER_BACKBONES:
        bb = backbones.get(name)
        assert len(bb.imagenet_hash) in (32, 64)
        assert weights.hash_algorithm(bb.imagenet_hash) == "md5"
    assert weights.hash_algorithm("0" * 64) == "sha256"


def test_download_from_a_mirror_into_keras_cache(keras_home, mirror, fake_xception):
    base, folder, seen = mirror
    (folder / fake_xception.imagenet_file).write_bytes(FAKE)
    status = weights.download_imagenet_file("xception", mirror=base + "/", timeout=10)
    assert status.state == "verified"
    assert status.path.read_bytes() == FAKE
    assert seen == [f"/{fake_xception.imagenet_file}"]
    # Present and intact: Keras does not download it again.
    assert weights.download_imagenet_file("xception", mirror=base, timeout=10).state == "verified"
    assert len(seen) == 1


def test_a_download_that_does_not_match_its_hash_fails(keras_home, mirror, fake_xception):
    base, folder, _ = mirror
    (folder / fake_xception.imagenet_file).write_bytes(b"something else")
    with pytest.raises(weights.WeightsUnavailable, match=r"cannot download the ImageNet "
                       r"weights of xception from http://127\.0\.0\.1:\d+/xception"):
        weights.download_imagenet_file("xception", mirror=base, timeout=10)
    with pytest.raises(weights.WeightsUnavailable, match="404"):
        weights.download_imagenet_file("xception", mirror=base + "/nothing-here", timeout=10)


def test_the_weights_command(keras_home, mirror, fake_xception, capsys):
    base, folder, _ = mirror
    assert main(["weights", "check", "--backbone", "xception"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("xception           missing") and "sadutils weights download" in out
    (folder / fake_xception.imagenet_file).write_bytes(FAKE)
    assert main(["weights", "download", "--backbone", "xception", "--mirror", base]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Downloading data from {base}/")  # Keras' downloader says so
    assert out.splitlines()[-1].startswith("xception           verified")
    assert main(["weights", "check", "--backbone", "xception"]) == 0
    out = capsys.readouterr().out
    assert "verified" in out and "download" not in out
    # A backbone whose file cannot be fetched: one line on stderr, status 1.
    assert main(["weights", "download", "--backbone", "efficientnetv2b0", "--mirror",
                 base, "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sadutils: cannot download the ImageNet weights of efficientnetv2b0")
    assert err.count("\n") == 1
    assert main(["weights", "check", "--backbone", "notanet"]) == 2
    assert "unknown backbone 'notanet'" in capsys.readouterr().err
