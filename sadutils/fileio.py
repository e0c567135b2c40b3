"""Writing files so that a crash never leaves half of one: temp file in the same folder, rename.

Every file the companion writes that a later run reads (records, manifests, state files, logs
rewritten in place, model weights) goes through :func:`atomic_path` or one of its wrappers. A
reader then sees the old file or the new one, never a truncated mix.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from pathlib import Path


def _new_file(folder: Path, prefix: str, suffix: str) -> Path:
    """Create a new empty file with a unique name in ``folder``, with the permissions of any
    new file (0o666 less the umask). ``tempfile.mkstemp`` would make it 0o600, and the rename
    would then leave manifests, records and models readable by their owner only."""
    for _ in range(tempfile.TMP_MAX):
        candidate = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no unused temporary file name {prefix}*{suffix} in {folder}")


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    Parameters
    ----------
    path : path
        The file to (re)write. Its folder is created if needed.
    suffix : str, optional
        Suffix of the temporary file (some writers, such as Keras, insist on one); default the
        suffix of ``path``.

    Yields
    ------
    Path
        Where to write. If the block raises, the temporary file is removed and ``path`` is left
        as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "".join(path.suffixes) or ".tmp"
    tmp = _new_file(path.parent, f".{path.name}.", suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return ``path``.

    Parameters
    ----------
    path : path
    text : str

    Returns
    -------
    Path
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, data) -> Path:
    """Write ``data`` as indented, key-sorted JSON to ``path`` atomically; return ``path``.

    Parameters
    ----------
    path : path
    data : JSON-serialisable object

    Returns
    -------
    Path
    """
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def file_sha256(path) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks.

    Parameters
    ----------
    path : path

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
