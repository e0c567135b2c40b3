"""The IPython kernel configuration sadutils installs into its environment: kernels that a bare
``papermill`` or ``jupyter-book`` starts print no "running over TCP without encryption"."""
from __future__ import annotations

import logging
import os
import sys

from jupyter_client import KernelManager
from traitlets.config import Config

from sadutils.runner.kernel import KERNEL_CONFIG, KERNEL_CONFIG_MARK, install_kernel_config

WARNING = ("Kernel is running over TCP without encryption. All communication (including code "
           "and outputs) is sent in plain text and is susceptible to eavesdropping.")


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("IPKernelApp", logging.WARNING, __file__, 1, message, (), None)


def test_the_configuration_drops_that_warning_only():
    c = Config()
    exec(compile(KERNEL_CONFIG, "ipython_kernel_config.py", "exec"), {"c": c})  # noqa: S102
    factory = c.IPKernelApp.logging_config["filters"]["sadutils_plain_tcp"]["()"]
    keep = factory()
    assert not keep.filter(_record(WARNING))
    assert keep.filter(_record("Could not load the debugger"))


def test_install_writes_its_own_file_and_leaves_anyone_elses(tmp_path):
    path = install_kernel_config(tmp_path)
    assert path == tmp_path / "etc" / "ipython" / "ipython_kernel_config.py"
    assert path.read_text() == KERNEL_CONFIG
    path.write_text(KERNEL_CONFIG_MARK + " (an older version)\n")
    assert install_kernel_config(tmp_path) == path and path.read_text() == KERNEL_CONFIG
    path.write_text("c.IPKernelApp.log_level = 'DEBUG'  # the user's own\n")
    assert install_kernel_config(tmp_path) is None
    assert path.read_text() == "c.IPKernelApp.log_level = 'DEBUG'  # the user's own\n"


def test_a_kernel_started_as_papermill_does_it_prints_no_tcp_warning(tmp_path):
    """A real kernel, over TCP without keys as papermill starts it, reading the configuration
    from its IPython profile (the environment's copy is read the same way)."""
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(KERNEL_CONFIG)
    log = tmp_path / "kernel.log"
    manager = KernelManager(kernel_name="python3")
    manager.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    with open(log, "w") as out:
        manager.start_kernel(stdout=out, stderr=out,
                             env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")})
        try:
            client = manager.client()
            client.start_channels()
            client.wait_for_ready(timeout=120)
            client.stop_channels()
        finally:
            manager.shutdown_kernel(now=True)
    assert manager.transport == "tcp"
    assert "without encryption" not in log.read_text()
