"""Where, when and with what a run happened: commit, versions, hardware.

Every results record carries this (:mod:`sadutils.records`), and so does every benchmark file,
so that two numbers from different machines, versions or commits can be told apart.
"""
from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .fileio import file_sha256
from .workspace import repo_root

#: The package whose code a run's results depend on.
PACKAGE = Path(__file__).resolve().parent

#: Distributions whose versions a record names (key in the record -> distribution name).
VERSIONED = (("tensorflow", "tensorflow"), ("keras", "keras"), ("numpy", "numpy"),
             ("pandas", "pandas"), ("sklearn", "scikit-learn"), ("pillow", "pillow"),
             ("sadutils", "sadutils"))


def git(*args: str, cwd: Path | None = None) -> str | None:
    """The output of a git command in the checkout, or None (no git, not a checkout, error).

    Parameters
    ----------
    *args : str
        Arguments after ``git``.
    cwd : path, optional
        Default :func:`sadutils.workspace.repo_root`.

    Returns
    -------
    str or None
    """
    try:
        done = subprocess.run(["git", "--no-optional-locks", *args], cwd=cwd or repo_root(),
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def code_fingerprint() -> str:
    """Hash of the sadutils source: every ``.py`` file of the package and ``paper_tables.csv``.

    Part of the runner's key of every notebook run, and of the training key that tells two
    identical trainings apart from different ones (:mod:`sadutils.experiments.finetune`).

    Returns
    -------
    str
        64 hex digits.
    """
    files = sorted(p for p in PACKAGE.rglob("*")
                   if p.is_file() and (p.suffix == ".py" or p.name == "paper_tables.csv")
                   and "__pycache__" not in p.parts)
    listing = "\n".join(f"{p.relative_to(PACKAGE).as_posix()}\t{file_sha256(p)}" for p in files)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def version(distribution: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def memory_bytes() -> int | None:
    """Physical memory of this machine, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def gpu_names() -> list[str] | None:
    """The GPUs TensorFlow sees, by model name where it says one, only when the caller has
    imported TensorFlow (else None: provenance never starts it).

    Returns
    -------
    list of str or None
    """
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    out = []
    try:
        for device in tf.config.list_physical_devices("GPU"):
            try:
                details = tf.config.experimental.get_device_details(device)
            except Exception:  # noqa: BLE001 - a name is enough
                details = {}
            out.append(details.get("device_name", device.name))
    except Exception:  # noqa: BLE001 - provenance must never break a run
        return None
    return out


def _cpuinfo(field: str) -> str | None:
    """The first value of ``field`` in ``/proc/cpuinfo`` (Linux), or None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(field):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str | None:
    """The CPU's model name ("Intel(R) Xeon(R) ..."), or None where the system does not say.

    Returns
    -------
    str or None
    """
    return _cpuinfo("model name") or platform.processor() or None


#: CPU features that change training speed (vector units, AMX, bfloat16).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")


def cpu_flags() -> list[str]:
    """Which of :data:`SPEED_FLAGS` the CPU has (Linux; empty elsewhere).

    Returns
    -------
    list of str
        Sorted.
    """
    flags = set((_cpuinfo("flags") or "").split())
    return sorted(f for f in SPEED_FLAGS if f in flags)


def cpu_description() -> str | None:
    """The CPU's model with the features that decide TensorFlow's speed, e.g.
    ``"AMD EPYC (avx2, avx512_bf16, avx512f)"`` (the same demo takes about twice as long on a
    CPU with AVX2 only as on one with AVX-512 or AMX).

    Returns
    -------
    str or None
    """
    name, flags = cpu_model(), cpu_flags()
    if name is None:
        return None
    return f"{name} ({', '.join(flags)})" if flags else name


def commit() -> tuple[str | None, bool | None]:
    """The checkout's commit and whether tracked files differ from it (None, None outside git).

    Returns
    -------
    tuple
        ``(commit, dirty)``.
    """
    head = git("rev-parse", "HEAD")
    head = head.strip() if head else None
    if not head:
        return None, None
    status = git("status", "--porcelain", "--untracked-files=no")
    return head, None if status is None else bool(status.strip())


def provenance(seed: int | None = None, manifest_hash: str | None = None,
               wall_time_s: float | None = None) -> dict:
    """The ``provenance`` field of a results record.

    Parameters
    ----------
    seed : int, optional
    manifest_hash : str, optional
        :func:`sadutils.data.manifests.manifest_hash` of the data the run used.
    wall_time_s : float, optional

    Returns
    -------
    dict
        ``git_commit``, ``git_dirty``, ``created_at`` (UTC, ISO 8601), ``seed``,
        ``manifest_hash``, ``versions``, ``hardware`` and ``wall_time_s``.
    """
    head, dirty = commit()
    versions = {"python": platform.python_version()}
    versions.update({key: version(dist) for key, dist in VERSIONED})
    hardware = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "gpus": gpu_names(),
        "cpu": cpu_description(),
        # The thread count changes floating-point sums, hence the numbers (sadutils/__init__.py).
        "tf_intra_op_threads": os.environ.get("TF_NUM_INTRAOP_THREADS"),
    }
    return {
        "git_commit": head,
        "git_dirty": dirty,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "seed": seed,
        "manifest_hash": manifest_hash,
        "versions": versions,
        "hardware": hardware,
        "wall_time_s": None if wall_time_s is None else float(wall_time_s),
    }
