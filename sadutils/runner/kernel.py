"""The kernel of one notebook run, kept quiet: its noise goes to a log file, not to the reader.

A notebook's kernel is a separate process. What it writes at the level of the operating system
(TensorFlow's and absl's C++ log lines: "oneDNN custom operations are on", "failed call to
cuInit", ...; ipykernel's own start-up warnings) would otherwise reach both the terminal of
``sadutils reproduce`` (the kernel inherits it) and the executed notebook (ipykernel copies
such output into the cell that was running). :func:`kernel_manager_class` gives papermill a
kernel manager that

* starts the kernel with its standard output and error in the run's log file
  (``results/<profile>/logs/<run>.log``), and with ``--IPKernelApp.capture_fd_output=False``,
  so that only what the notebook's Python code prints lands in the executed notebook;
* names the run's progress file (:mod:`sadutils.progress`) in the kernel's environment;
* provisions CurveZMQ keys (``transport_encryption="required"``, jupyter_client >= 8.10 with a
  pyzmq built with CurveZMQ), so that the kernel's sockets are encrypted and ipykernel has no
  reason to warn "Kernel is running over TCP without encryption". Where that is not available
  the kernel talks over local IPC sockets instead of TCP, which avoids the warning too.

TensorFlow's C++ messages are kept whole in the log (since TensorFlow 2.18 part of them ignore
``TF_CPP_MIN_LOG_LEVEL`` anyway): they are what one reads when a GPU is not found.

Kernels that other programs start (a bare ``papermill``, ``jupyter-book build``) get neither
keys nor IPC sockets: papermill's kernel manager reads no configuration. For them,
:func:`install_kernel_config` (run by ``scripts/demo.sh`` and ``scripts/test.sh`` when they
install) writes an IPython kernel configuration into the
environment (``<prefix>/etc/ipython/ipython_kernel_config.py``) that drops that one warning:
such a kernel talks to the program that started it over the loopback interface of the same
machine, with every message signed with the key of a connection file only the user can read.
(The kernel's TensorFlow lines are kept out of the notebook by ``sadutils`` itself, see
:mod:`sadutils.quiet`.)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import zmq
from jupyter_client import AsyncKernelManager

from ..fileio import write_text

#: Extra command-line arguments of every kernel the runner starts: OS-level output (C++ log
#: lines) is not copied into the executed notebook.
KERNEL_ARGUMENTS = ("--IPKernelApp.capture_fd_output=False",)


def encryption_available(manager_class=AsyncKernelManager) -> bool:
    """Whether kernels can be given CurveZMQ keys here.

    Parameters
    ----------
    manager_class : type, optional

    Returns
    -------
    bool
        True with a jupyter_client that provisions keys (its ``transport_encryption``
        setting) and a pyzmq built with CurveZMQ.
    """
    return manager_class.class_traits().get("transport_encryption") is not None \
        and bool(zmq.has("curve"))


class RunKernelManager(AsyncKernelManager):
    """A kernel manager that launches the kernel with a given output file and environment.

    Subclassed per run by :func:`kernel_manager_class` (papermill creates the instance itself,
    so the settings travel as class attributes).
    """

    #: Where the kernel's OS-level standard output and error go (None: inherited).
    output_file = None
    #: Variables set in the kernel's environment.
    environment: dict = {}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if encryption_available(type(self)):
            self.transport_encryption = "required"
        else:
            self.transport = "ipc"

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # jupyter_client's documented hook for launching kernels differently.
        if self.output_file is not None:
            kw["stdout"] = kw["stderr"] = self.output_file
        env = dict(kw.get("env") or os.environ)
        env.update(self.environment)
        kw["env"] = env
        return await super()._async_launch_kernel(kernel_cmd, **kw)


def kernel_manager_class(output_file=None, environment=None) -> type:
    """A :class:`RunKernelManager` subclass for one run.

    Parameters
    ----------
    output_file : file object, optional
        An open file for the kernel's standard output and error; None leaves them inherited.
    environment : dict, optional
        Variables to set for the kernel.

    Returns
    -------
    type
    """
    return type("RunKernelManagerForRun", (RunKernelManager,),
                {"output_file": output_file, "environment": dict(environment or {})})


#: First line of the kernel configuration :func:`install_kernel_config` writes (a file without
#: it is someone else's and is left alone).
KERNEL_CONFIG_MARK = "# Written by sadutils"
#: The configuration itself: self-contained, so kernels still start if sadutils is removed.
KERNEL_CONFIG = KERNEL_CONFIG_MARK + ''' (sadutils.runner.kernel). Kernels started by programs that
# provision no CurveZMQ keys (a bare papermill, jupyter-book) talk over TCP on this machine's
# loopback interface, every message signed with the connection file's key; ipykernel's warning
# about it is dropped, nothing else (see sadutils/runner/kernel.py).
import logging


class _PlainLoopbackTcp(logging.Filter):
    def filter(self, record):
        return "running over TCP without encryption" not in record.getMessage()


c.IPKernelApp.logging_config = {
    "filters": {"sadutils_plain_tcp": {"()": _PlainLoopbackTcp}},
    "handlers": {"console": {"filters": ["sadutils_plain_tcp"]}},
}
'''


def install_kernel_config(prefix=None) -> Path | None:
    """Write :data:`KERNEL_CONFIG` as the IPython kernel configuration of an environment.

    Parameters
    ----------
    prefix : path, optional
        The environment (default ``sys.prefix``); IPython reads ``<prefix>/etc/ipython/``.

    Returns
    -------
    Path or None
        The file written; None when a configuration that sadutils did not write is there
        (it is left as it is).
    """
    path = Path(prefix or sys.prefix) / "etc" / "ipython" / "ipython_kernel_config.py"
    if path.is_file() and not path.read_text(encoding="utf-8").startswith(KERNEL_CONFIG_MARK):
        return None
    return write_text(path, KERNEL_CONFIG)

