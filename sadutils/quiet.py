"""Keeping the native libraries' own lines out of the terminal and out of the notebooks.

TensorFlow, absl and the CUDA probes write their C++ log lines ("All log messages before
absl::InitializeLog() ...", "Could not find cuda drivers", "failed call to cuInit", "oneDNN
custom operations are on") straight to the process's file descriptor 2, part of them whatever
``TF_CPP_MIN_LOG_LEVEL`` says (TensorFlow 2.18 and later). Python's ``sys.stderr`` is a file
object on top of that descriptor, or, in a notebook's kernel, a stream of its own that ends in
the notebook. So the descriptor can be pointed elsewhere while what the companion itself prints
still reaches the reader:

* :func:`native_stderr_to` (every ``sadutils`` command without ``--verbose``): descriptor 2 goes
  to ``os.devnull`` and ``sys.stderr`` to a copy of the original descriptor, so one-line errors,
  warnings and progress bars still show and a Python traceback (a bug) still prints;
* :func:`quiet_kernel` (a notebook's kernel that imports ``sadutils``, started by a bare
  ``papermill``, ``jupyter-book build`` or Jupyter): descriptor 2 goes to ``os.devnull``, or to
  the file that :data:`KERNEL_STDERR_ENV` names, so those lines reach neither the terminal nor
  the executed notebook (``SADUTILS_KERNEL_STDERR=keep`` shows them). ``sadutils reproduce``
  routes its kernels' descriptors to the run's own log itself and tells them to keep it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys

#: In a kernel's environment: where its descriptor 2 goes once it imports sadutils: unset,
#: ``os.devnull``; ``keep``: where it is (``sadutils reproduce`` sends it to the run's log, or
#: with ``--verbose`` to the terminal); else a file the lines are appended to.
KERNEL_STDERR_ENV = "SADUTILS_KERNEL_STDERR"
#: Python loggers of the native stack: only their errors are shown without ``--verbose``.
NATIVE_LOGGERS = ("tensorflow", "absl", "h5py")

_kernel_log = None  # the open log of this kernel once quiet_kernel has run


def _writes_to_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False


@contextlib.contextmanager
def native_stderr_to(target: str = os.devnull):
    """Send what is written to file descriptor 2 to ``target`` while the block runs; Python's
    ``sys.stderr`` keeps writing where it wrote before.

    Parameters
    ----------
    target : str
        A file, opened for appending (default ``os.devnull``).

    Yields
    ------
    None
    """
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all (a daemon): nothing to quiet
        yield
        return
    old = sys.stderr
    with contextlib.suppress(AttributeError, OSError, ValueError):
        old.flush()
    mine = None
    if _writes_to_fd2(old):  # the real stderr: give Python a copy of the terminal
        mine = open(saved, "w", encoding=getattr(old, "encoding", None) or "utf-8",  # noqa: SIM115
                    errors="backslashreplace", buffering=1, closefd=False)
        sys.stderr = mine
    sink = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    os.dup2(sink, 2)
    os.close(sink)
    levels = {name: logging.getLogger(name).level for name in NATIVE_LOGGERS}
    for name in NATIVE_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if mine is not None:
            mine.flush()
            sys.stderr = old
            mine.close()
        os.dup2(saved, 2)
        os.close(saved)


def quiet_kernel() -> str | None:
    """In a notebook's kernel: send descriptor 2 where :data:`KERNEL_STDERR_ENV` says.

    Called when ``sadutils`` is imported, before TensorFlow is. Unset, the variable means
    ``os.devnull``; ``keep`` leaves the descriptor alone; anything else is a file the lines are
    appended to. Does nothing outside a kernel, or a second time.

    Returns
    -------
    str or None
        Where the lines go now, or None when nothing was changed.

    Raises
    ------
    OSError
        When the file the variable names cannot be opened.
    """
    global _kernel_log
    target = os.environ.get(KERNEL_STDERR_ENV) or os.devnull
    if _kernel_log is not None or "ipykernel" not in sys.modules or target == "keep":
        return None
    sink = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    os.dup2(sink, 2)
    os.close(sink)
    _kernel_log = target
    return target
