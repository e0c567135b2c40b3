"""The ``sadutils`` command line: one subcommand per task of the companion.

:data:`COMMANDS` lists each subcommand once: the module that runs it (a ``cmd_<name>(args)``
function there) and its arguments (in :mod:`sadutils.cli.arguments`). A command's module is
imported only when the command is chosen, so ``sadutils index`` does not start TensorFlow. To
add a command, write its two functions and add a line to :data:`COMMANDS`.

Mistakes a user can make (a missing folder, a malformed dataset file, a bad parameter) end as
one line ``sadutils: error: <message>`` on stderr and exit status 2, never a traceback; a read
or write the system refuses (permission denied, a full disk, a read-only file system, a folder
where a file should be) ends as one such line with exit status 3 (:data:`EXIT_CODES`);
anything else is a bug and propagates with its traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys
import warnings
from importlib.metadata import PackageNotFoundError, version

from ..data.download import FolderInUse
from ..quiet import native_stderr_to
from . import arguments

#: Subcommand -> (module running it, function declaring its arguments, one-line summary).
COMMANDS = {
    "demo-data": ("data_commands", arguments.demo_data,
                  "Generate the synthetic demo datasets and download the WEBEmo-like images "
                  "(resumable)."),
    "index": ("data_commands", arguments.index,
              "Load a dataset folder: count images per label and list the files refused, "
              "and why."),
    "download-webemo": ("data_commands", arguments.download_webemo,
                        "Download the images of a WEBEmo list file (resumable; every outcome "
                        "logged)."),
    "fetch": ("data_commands", arguments.fetch,
              "Download and unpack a public dataset, or say how to get one behind a sign-up "
              "page."),
    "predict": ("model_commands", arguments.predict,
                "Classify images with a saved model: each class's probability and the "
                "predicted label."),
    "detect-text": ("text_commands", arguments.detect_text,
                    "Say which images hold legible text: each image's score and label (text / "
                    "no_text), by the shipped OCR detector or a text classifier."),
    "reproduce": ("run_commands", arguments.reproduce,
                  "Run the notebooks in order with papermill, skipping those whose inputs did "
                  "not change."),
    "run-notebook": ("job_commands", arguments.run_notebook,
                     "Run one notebook of the graph (one job of `reproduce --executor slurm`) "
                     "with the runner's quiet kernel, log and progress, and record it."),
    "tables": ("run_commands", arguments.tables,
               "Print Tables 1-3: the paper's numbers beside the newest reproduced ones."),
    "weights": ("weights_commands", arguments.weights,
                "Download the backbones' ImageNet weights into Keras' cache, or check which "
                "are there and intact (for machines without network)."),
}

#: Exceptions that mean "the user asked for something impossible", not "the code is broken".
#: (FormatError, RecordError and ChecksumMismatch are ValueErrors.)
USER_ERRORS = (FileNotFoundError, NotADirectoryError, ValueError, FolderInUse)
#: What each exit status of ``sadutils`` means, as ``sadutils --help`` and the README list them.
EXIT_CODES = {
    0: "done (for `fetch` of a dataset behind a sign-up page: the instructions were printed)",
    1: "done, with failures it lists (unreadable images, a failed notebook, a missing or "
       "corrupt weights file)",
    2: "refused: a usage error or bad input (missing or malformed file, bad option); nothing "
       "was changed",
    3: "the system refused a read or write (permission denied, disk full, read-only file "
       "system, a folder where a file should be)",
    130: "interrupted (Ctrl-C); everything written so far is whole",
}
_OS_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
               errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
               errno.EPERM: "operation not permitted", errno.EISDIR: "it is a folder",
               errno.EIO: "input/output error"}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def os_error_message(exc: OSError) -> str:
    """One line saying which file the system refused and why.

    Parameters
    ----------
    exc : OSError

    Returns
    -------
    str
        e.g. ``cannot write /data/x.csv: the disk is full (No space left on device)``.
    """
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    where = f" {' -> '.join(names)}" if names else ""
    reason = _OS_REASONS.get(exc.errno)
    detail = exc.strerror or _one_line(exc)
    text = f"{reason} ({detail})" if reason else detail
    return f"cannot use{where}: {text}"


def _one_line_warnings():
    """A ``warnings.showwarning`` printing each distinct warning once, on one line."""
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = _one_line(message)
        if text not in seen:
            seen.add(text)
            print(f"sadutils: warning: {text}", file=sys.stderr)

    return show


def _version() -> str:
    try:
        return version("sadutils")
    except PackageNotFoundError:
        return "unknown"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line naming the valid choices."""

    def error(self, message):
        if message.endswith("required: COMMAND"):  # bare `sadutils`: list what it can do
            message = f"choose a COMMAND: {', '.join(COMMANDS)}"
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand of :data:`COMMANDS`.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = _Parser(
        prog="sadutils",
        description="Runnable companion to 'On recognizing emotion of sadness in images of a "
                    "general nature using CNN': data, training and the paper's tables.",
        epilog="exit status:\n" + "\n".join(f"  {code:<4} {text}"
                                             for code, text in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, add_arguments, summary) in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        add_arguments(p)
        with contextlib.suppress(argparse.ArgumentError):  # reproduce declares its own
            p.add_argument("-v", "--verbose", action="store_true",
                           help="also show what TensorFlow and other native libraries write "
                                "to stderr (hidden otherwise)")
    return parser


def main(argv=None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status (:data:`EXIT_CODES`): 0 done, 1 done with failures (e.g. unreadable
        images, a failed notebook), 2 a usage or input error, 3 the system refused a read or
        write, 130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed why
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    # Without --verbose, what native libraries write to the process's stderr (TensorFlow's and
    # absl's C++ lines) is dropped; what sadutils prints still shows (sadutils.quiet).
    quiet = contextlib.nullcontext() if args.verbose else native_stderr_to(os.devnull)
    try:
        with quiet, warnings.catch_warnings():  # a warning is one line too, not an excerpt
            warnings.showwarning = _one_line_warnings()
            module = importlib.import_module(f".{COMMANDS[args.command][0]}", __name__)
            return getattr(module, "cmd_" + args.command.replace("-", "_"))(args)
    except USER_ERRORS as exc:
        print(f"sadutils: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"sadutils: error: {os_error_message(exc)}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("sadutils: interrupted", file=sys.stderr)
        return 130
