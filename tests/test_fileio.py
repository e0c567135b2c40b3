"""sadutils.fileio: atomic writes (old file or new file, never half of one) and file hashes."""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sadutils import fileio
from sadutils.fileio import atomic_path, file_sha256, write_json, write_text


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_atomic_path_replaces_on_success(tmp_path):
    path = tmp_path / "sub" / "deeper" / "state.json"  # folders are created
    with atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp != path and tmp.name.startswith(".state.json.")
        assert tmp.suffix == ".tmp" and not path.exists()  # never globbed as a *.json record
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
    with atomic_path(tmp_path / "archive.tar.gz", suffix=".tar.gz") as tmp:
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


def test_atomic_path_syncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    """What makes the rename survive a power cut: the content on disk first, then the entry."""
    events = []
    monkeypatch.setattr(fileio.os, "fsync", lambda fd: events.append(("fsync", os.readlink(
        f"/proc/self/fd/{fd}"))))
    real_replace = fileio.os.replace
    monkeypatch.setattr(fileio.os, "replace", lambda a, b: (events.append(("rename", str(b))),
                                                            real_replace(a, b)))
    path = write_text(tmp_path / "state.json", "{}")
    assert [e[0] for e in events] == ["fsync", "rename", "fsync"]
    assert Path(events[0][1]).name.startswith(".state.json.")  # the temporary file
    assert events[1][1] == str(path) and events[2][1] == str(tmp_path)


def test_a_file_system_without_fsync_is_not_an_error_but_a_full_disk_is(tmp_path, monkeypatch):
    def no_fsync(fd):
        raise OSError(errno.EINVAL, "Invalid argument")
    monkeypatch.setattr(fileio.os, "fsync", no_fsync)
    assert write_text(tmp_path / "a.txt", "x").read_text() == "x"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(fileio.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        write_text(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "x" and _listing(tmp_path) == ["a.txt"]


def test_crash_points_are_traced_and_counted_across_processes(tmp_path, monkeypatch):
    """The test-only hook: every step of an atomic write is a numbered crash point."""
    trace = tmp_path / "trace.tsv"
    monkeypatch.setenv(fileio.CRASH_TRACE_ENV, str(trace))
    monkeypatch.delenv(fileio.CRASH_AT_ENV, raising=False)
    fileio.arm_crash_points()
    try:
        write_text(tmp_path / "a.txt", "x")
        write_json(tmp_path / "b.json", {})
    finally:
        monkeypatch.delenv(fileio.CRASH_TRACE_ENV)
        fileio.arm_crash_points()
    rows = [line.split("\t") for line in trace.read_text().splitlines()]
    assert [(int(r[0]), r[2], Path(r[3]).name) for r in rows] == [
        (1, "written", "a.txt"), (2, "synced", "a.txt"), (3, "renamed", "a.txt"),
        (4, "written", "b.json"), (5, "synced", "b.json"), (6, "renamed", "b.json")]
    assert fileio._CRASH is None  # unset again: a crash point is one comparison


def test_a_process_kills_itself_at_the_chosen_crash_point(tmp_path):
    """SADUTILS_CRASH_AT=2: the second crash point (after the temporary file was synced) is
    SIGKILL; the old file is intact and the new content only in a temporary file."""
    (tmp_path / "a.txt").write_text("old")
    code = ("import sys; from sadutils.fileio import write_text; "
            "write_text(sys.argv[1], 'new'); print('not killed')")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.txt")],
                          env={**os.environ, fileio.CRASH_AT_ENV: "2"}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL and "not killed" not in done.stdout
    assert (tmp_path / "a.txt").read_text() == "old"
    leftovers = [p for p in tmp_path.iterdir() if p.name != "a.txt"]
    assert [p.read_text() for p in leftovers] == ["new"]
    assert leftovers[0].name.startswith(".a.txt.") and leftovers[0].suffix == ".tmp"
