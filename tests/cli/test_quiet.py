"""Every command quiet: what native libraries write to the process's stderr (TensorFlow's and
absl's C++ lines) stays out of the terminal without ``--verbose``, and out of notebooks'
kernels (``sadutils.quiet``); a failing command prints one line."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from sadutils.cli import build_parser
from sadutils.quiet import KERNEL_STDERR_ENV

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, tmp_path, args=(), **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True,
                          text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO),
                               "SADUTILS_RESULTS": str(tmp_path / "results"), **env})


@pytest.mark.parametrize("verbose", [False, True])
def test_native_lines_are_dropped_unless_verbose_and_python_lines_kept(tmp_path, verbose):
    """Through ``main``: a command writing to descriptor 2 as TensorFlow's C++ code does."""
    done = _python('''
        import os, sys, types
        from sadutils import cli
        def cmd_tables(args):
            os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers\\n")
            print("sadutils: note: printed by the command", file=sys.stderr)
            return 0
        sys.modules["sadutils.cli.fake"] = types.SimpleNamespace(cmd_tables=cmd_tables)
        cli.COMMANDS["tables"] = ("fake", *cli.COMMANDS["tables"][1:])
        status = cli.main(["tables", *sys.argv[1:]])
        os.write(2, b"after the command, descriptor 2 is the terminal again\\n")
        sys.exit(status)
    ''', tmp_path, args=["--verbose"] if verbose else [])
    assert done.returncode == 0, done.stderr
    native = ["I0000 cudart_stub.cc:31] Could not find cuda drivers"] if verbose else []
    assert done.stderr.splitlines() == [*native, "sadutils: note: printed by the command",
                                        "after the command, descriptor 2 is the terminal again"]


def test_every_command_has_verbose():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert any("--verbose" in a.option_strings for a in command._actions), name


def test_predict_of_a_cut_model_prints_one_line(tmp_path):
    """The issue's case: a cut .keras file, before its fix four TensorFlow lines and Keras'
    "File not found" of a file that is there. (TensorFlow is imported: ~5 s.)"""
    image = tmp_path / "a.png"
    from PIL import Image
    Image.new("RGB", (8, 8)).save(image)
    model = tmp_path / "m.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", "{}" * 5000)
    model.write_bytes(model.read_bytes()[:3000])  # cut short
    quiet = subprocess.run([sys.executable, "-m", "sadutils", "predict", str(model), str(image)],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert quiet.returncode == 2
    assert quiet.stderr.splitlines() == [
        f"sadutils: error: cannot load model {model}: not a complete .keras file (not a whole "
        "zip archive: cut short, e.g. by an interrupted copy, or another kind of file)"]


@pytest.mark.parametrize("where", [None, "keep", "file"])
def test_a_kernel_drops_native_lines_unless_told_where_they_go(tmp_path, where):
    """In a notebook's kernel (a bare papermill, jupyter-book) importing sadutils moves
    descriptor 2 away (os.devnull, or SADUTILS_KERNEL_STDERR's file); the runner's kernels
    keep theirs (the run's log)."""
    log = tmp_path / "kernel.log"
    env = {} if where is None else {KERNEL_STDERR_ENV: "keep" if where == "keep" else str(log)}
    done = _python('''
        import os, sys, types
        sys.modules["ipykernel"] = types.ModuleType("ipykernel")  # as inside a kernel, where
        sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)  # Python's stderr is not fd 2
        import sadutils
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit\\n")
        print("printed by Python", file=sys.stderr)
    ''', tmp_path, **env)
    assert done.returncode == 0
    native = "E0000 cuda_platform.cc:52] failed call to cuInit\n"
    assert done.stderr == (native if where == "keep" else "") + "printed by Python\n"
    assert (log.read_text() == native) if where == "file" else not log.exists()
    assert not (tmp_path / "results").exists()
