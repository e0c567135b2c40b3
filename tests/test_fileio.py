"""sadutils.fileio: atomic writes (old file or new file, never half of one) and file hashes."""
from __future__ import annotations

import hashlib
import json
import math
import stat

import pytest

from sadutils.fileio import atomic_path, file_sha256, write_json, write_text


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_atomic_path_replaces_on_success(tmp_path):
    path = tmp_path / "sub" / "deeper" / "state.json"  # folders are created
    with atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp != path and tmp.name.startswith(".state.json.")
        assert tmp.name.endswith(".json") and not path.exists()
        tmp.write_text("first")
    assert path.read_text() == "first" and _listing(path.parent) == ["state.json"]
    with atomic_path(path) as tmp:
        tmp.write_text("second")
        assert path.read_text() == "first"  # readers see the old file until the rename
    assert path.read_text() == "second" and _listing(path.parent) == ["state.json"]


def test_atomic_path_suffix(tmp_path):
    with atomic_path(tmp_path / "model.keras", suffix=".zip") as tmp:
        assert tmp.suffix == ".zip"
        tmp.write_bytes(b"x")
    with atomic_path(tmp_path / "archive.tar.gz") as tmp:
        assert tmp.name.endswith(".tar.gz")
        tmp.write_bytes(b"y")
    with atomic_path(tmp_path / "README") as tmp:
        assert tmp.suffix == ".tmp"
        tmp.write_bytes(b"z")
    assert _listing(tmp_path) == ["README", "archive.tar.gz", "model.keras"]
    assert (tmp_path / "model.keras").read_bytes() == b"x"


def test_atomic_path_keeps_the_old_file_when_the_block_raises(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("old,content\n")
    with pytest.raises(RuntimeError, match="crash"):
        with atomic_path(path) as tmp:
            tmp.write_text("new, half writ")
            raise RuntimeError("crash mid-write")
    assert path.read_text() == "old,content\n"
    assert _listing(tmp_path) == ["manifest.csv"]  # no temp file left behind
    # a block that raises before any file existed leaves nothing at all
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "new.csv") as tmp:
            tmp.write_text("x")
            raise KeyboardInterrupt
    assert _listing(tmp_path) == ["manifest.csv"]


def test_write_text_and_json(tmp_path):
    path = write_text(tmp_path / "a" / "note.txt", "héllo\n")
    assert path == tmp_path / "a" / "note.txt" and path.read_bytes() == "héllo\n".encode("utf-8")
    data = {"b": 1, "a": {"z": [1, 2.5, None], "c": "x"}}
    path = write_json(tmp_path / "r.json", data)
    text = path.read_text()
    assert json.loads(text) == data and text.endswith("}\n")
    assert text.index('"a"') < text.index('"b"') and text.index('"c"') < text.index('"z"')
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert _listing(tmp_path) == ["a", "r.json"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_write_json_refuses_nan(tmp_path, bad):
    path = write_json(tmp_path / "metrics.json", {"accuracy": 0.5})
    with pytest.raises(ValueError):
        write_json(path, {"accuracy": bad})
    assert json.loads(path.read_text()) == {"accuracy": 0.5}  # the old file is intact
    assert _listing(tmp_path) == ["metrics.json"]
    with pytest.raises(TypeError):  # not JSON at all
        write_json(path, {"when": object()})
    assert json.loads(path.read_text()) == {"accuracy": 0.5}


def test_file_sha256_matches_hashlib(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(empty) == hashlib.sha256(b"").hexdigest()
    data = bytes(range(256)) * 9000  # 2.2 MiB: read in several 1 MiB blocks
    big = tmp_path / "big.bin"
    big.write_bytes(data)
    digest = file_sha256(big)
    assert digest == hashlib.sha256(data).hexdigest() and len(digest) == 64
    big.write_bytes(data[:-1] + b"\0")
    assert file_sha256(big) != digest
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "missing")


def test_atomic_files_get_the_permissions_of_any_new_file(tmp_path):
    """Not the 0o600 of a private temp file: a shared data folder stays readable."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = stat.S_IMODE(plain.stat().st_mode)
    for written in (write_text(tmp_path / "a.txt", "x"), write_json(tmp_path / "b.json", {})):
        assert stat.S_IMODE(written.stat().st_mode) == expected, written
    with atomic_path(tmp_path / "c.npy") as tmp:
        assert stat.S_IMODE(tmp.stat().st_mode) == expected
