"""What the command line does with a refused read or write: one line and a documented exit
status, never a traceback; a genuine bug still shows its traceback."""
from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest

from sadutils import cli
from sadutils.cli import EXIT_CODES, main, os_error_message

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def rgp_root(tmp_path, write_jpeg):
    root = tmp_path / "rgp"
    for i in range(2):
        write_jpeg(root / "natural_images" / "cat" / f"cat_{i}.jpg", i)
    return root


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sadutils: error: "), err
    assert "Traceback" not in err
    return err


def test_folder_where_a_file_should_be(rgp_root, tmp_path, capsys):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert main(["index", "rgp", str(rgp_root), "--no-check", "--out", str(folder)]) == 3
    err = _one_line(capsys)
    assert str(folder) in err and "it is a folder" in err
    assert folder.is_dir() and not list(folder.iterdir())


@pytest.mark.parametrize("code, reason", [
    (errno.EACCES, "permission denied"), (errno.ENOSPC, "the disk is full"),
    (errno.EROFS, "the file system is read-only"), (errno.EDQUOT, "the disk quota is exceeded"),
    (errno.EIO, "input/output error"),
])
def test_refused_writes_are_one_line_with_exit_3(rgp_root, tmp_path, capsys, monkeypatch,
                                                 code, reason):
    out = tmp_path / "m.csv"

    def refused(df, path):
        raise OSError(code, f"strerror {code}", str(path))

    monkeypatch.setattr("sadutils.cli.data_commands.save_manifest", refused)
    assert main(["index", "rgp", str(rgp_root), "--no-check", "--out", str(out)]) == 3
    err = _one_line(capsys)
    assert f"cannot use {out}: {reason} (strerror {code})" in err


def test_permission_error_reading(capsys, monkeypatch, rgp_root):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(rgp_root))

    monkeypatch.setattr("sadutils.cli.data_commands.load_dataset", refused)
    assert main(["index", "rgp", str(rgp_root)]) == 3
    assert "permission denied (Permission denied)" in _one_line(capsys)


def test_output_folder_that_is_a_file(tmp_path, capsys):
    lst = tmp_path / "train25.txt"
    lst.write_text("http://127.0.0.1:9/a.jpg 1\n")
    blocker = tmp_path / "out"
    blocker.write_text("mine")
    assert main(["download-webemo", str(lst), "--out", str(blocker)]) == 2
    assert "is a file, not a folder" in _one_line(capsys)
    assert blocker.read_text() == "mine"


def test_missing_input_is_still_exit_2(tmp_path, capsys):
    assert main(["index", "rgp", str(tmp_path / "nope")]) == 2
    _one_line(capsys)


def test_a_genuine_bug_keeps_its_traceback(monkeypatch, rgp_root):
    def bug(args):
        return 1 / 0

    monkeypatch.setattr("sadutils.cli.data_commands.cmd_index", bug)
    with pytest.raises(ZeroDivisionError):
        main(["index", "rgp", str(rgp_root)])
    with pytest.raises(KeyError):  # not an OSError, not a refusal: a bug
        monkeypatch.setattr("sadutils.cli.data_commands.cmd_index",
                            lambda args: {}["missing"])
        main(["index", "rgp", str(rgp_root)])


def test_os_error_message_without_a_file_name():
    assert os_error_message(OSError(errno.ENOSPC, "No space left on device")) == \
        "cannot use: the disk is full (No space left on device)"
    assert "x -> y" in os_error_message(OSError(errno.EXDEV, "Invalid cross-device link", "x",
                                                None, "y"))


def test_every_exit_status_is_documented_in_the_readme():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Troubleshooting and what the companion refuses"):]
    for code in EXIT_CODES:
        assert re.search(rf"^\| `{code}` \|", section, re.M), code
    assert cli.USER_ERRORS  # the refusals of exit status 2
