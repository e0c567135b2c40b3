"""The backbones' ImageNet weights files in Keras' cache: where they are and whether they are
intact, without starting TensorFlow.

Keras keeps the "notop" weights files of ``keras.applications`` in ``$KERAS_HOME/models/``
(default ``~/.keras/models/``) and checks each against a hash published in its source. For the
backbones whose file the registry declares (:mod:`sadutils.backbones`), :func:`check_imagenet_file`
does the same check, so ``sadutils weights check`` can say on an offline machine which files are
there and sound; :func:`download_imagenet_file` fetches them on a machine with network, with
Keras' own downloader (Keras is imported only then).
"""
from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from . import backbones

class WeightsUnavailable(RuntimeError):
    """ImageNet weights were required but Keras could not find or download them."""


#: What :func:`check_imagenet_file` can find.
FILE_STATES = ("verified", "present", "missing", "corrupt", "unknown")


def keras_cache_file(backbone) -> Path | None:
    """Where Keras keeps (or would download) the ImageNet "notop" weights of ``backbone``.

    Parameters
    ----------
    backbone : str or Backbone

    Returns
    -------
    Path or None
        ``$KERAS_HOME/models/<file>`` (default ``~/.keras``); None for a backbone whose file
        name the registry does not declare.
    """
    bb = backbones.get(backbone)
    if bb.imagenet_file is None:
        return None
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "models" / bb.imagenet_file


@dataclass(frozen=True)
class WeightsFile:
    """Whether a backbone's ImageNet "notop" file is in Keras' cache, and whether it is intact.

    Attributes
    ----------
    backbone : str
    path : Path or None
        Where Keras keeps it (None: the registry does not declare its file name).
    state : str
        One of :data:`FILE_STATES`: ``verified`` (present, and matches the hash Keras
        publishes), ``present`` (no hash to check against), ``missing``, ``corrupt`` (present,
        hash differs) or ``unknown`` (file name not declared; Keras fetches it on first use).
    detail : str
        A sentence for people.
    """

    backbone: str
    path: Path | None
    state: str
    detail: str

    @property
    def usable(self) -> bool:
        """Whether a run would start from this file without the network."""
        return self.state in ("verified", "present")


def file_digest(path, algorithm: str) -> str:
    """The hex digest of a file.

    Parameters
    ----------
    path : path
    algorithm : {"md5", "sha256"}

    Returns
    -------
    str
    """
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_algorithm(expected: str) -> str:
    """Keras' rule for a published hash: 64 hex digits are SHA-256, anything else MD5.

    Parameters
    ----------
    expected : str

    Returns
    -------
    str
    """
    return "sha256" if len(expected) == 64 else "md5"


def check_imagenet_file(backbone) -> WeightsFile:
    """Whether ``backbone``'s ImageNet "notop" file is in Keras' cache and intact.

    Parameters
    ----------
    backbone : str or Backbone

    Returns
    -------
    WeightsFile
    """
    bb = backbones.get(backbone)
    path = keras_cache_file(bb)
    if path is None:
        return WeightsFile(bb.name, None, "unknown",
                           "file name not declared in sadutils.backbones; Keras downloads it "
                           "on first use (sadutils weights download fetches it that way)")
    if not path.is_file():
        return WeightsFile(bb.name, path, "missing", f"{path.name} is not in {path.parent}")
    if not bb.imagenet_hash:
        return WeightsFile(bb.name, path, "present", "present (no published hash to check)")
    algorithm = hash_algorithm(bb.imagenet_hash)
    got = file_digest(path, algorithm)
    if got != bb.imagenet_hash:
        return WeightsFile(bb.name, path, "corrupt",
                           f"{algorithm} {got} differs from Keras' {bb.imagenet_hash}: "
                           "incomplete or another file; download it again")
    return WeightsFile(bb.name, path, "verified", f"{algorithm} matches Keras' hash")


def download_imagenet_file(backbone, mirror: str | None = None,
                           timeout: float = 60.0) -> WeightsFile:
    """Put ``backbone``'s ImageNet "notop" file into Keras' cache (on a machine with network).

    Keras' own downloader does the work: it checks the file against the hash Keras publishes
    and downloads again a file that does not match. Keras is imported here, not at the top of
    the module, so that checking files (:func:`check_imagenet_file`) never starts TensorFlow.

    Parameters
    ----------
    backbone : str or Backbone
    mirror : str, optional
        A base URL (or ``file://`` folder) holding the files under Keras' names, instead of
        Keras' own address (for backbones whose file the registry declares; others always
        come from Keras' address).
    timeout : float
        Seconds to wait for the network.

    Returns
    -------
    WeightsFile
        The state after the download.

    Raises
    ------
    WeightsUnavailable
        When the file cannot be downloaded or does not match its hash, naming the address.
    """
    bb = backbones.get(backbone)
    path = keras_cache_file(bb)
    origin = (bb.imagenet_url if not (mirror and bb.imagenet_file)
              else mirror.rstrip("/") + "/" + bb.imagenet_file)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # urllib inside get_file has no timeout of its own
    try:
        if path is None:  # Keras knows the file of every application: it fetches it itself
            bb.constructor()(include_top=False, weights="imagenet",
                             input_shape=(max(bb.min_size, 75),) * 2 + (3,))
        else:
            import keras  # noqa: PLC0415 - see the docstring

            # Keras falls back to /tmp/.keras when the folder is not there (not writable).
            path.parent.mkdir(parents=True, exist_ok=True)
            keras.utils.get_file(bb.imagenet_file, origin, file_hash=bb.imagenet_hash,
                                 cache_subdir="models", cache_dir=str(path.parent.parent))
    except Exception as exc:  # noqa: BLE001 - network errors, hash mismatches: one message
        raise WeightsUnavailable(
            f"cannot download the ImageNet weights of {bb.name} from "
            f"{origin or 'Keras'}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    finally:
        socket.setdefaulttimeout(previous)
    if path is None:
        return WeightsFile(bb.name, None, "present",
                           "downloaded by Keras into its cache (file name known to Keras only)")
    return check_imagenet_file(bb)
