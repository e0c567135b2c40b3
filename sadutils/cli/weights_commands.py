"""The ``weights`` command: the backbones' ImageNet files in Keras' cache, for offline machines.

``sadutils weights download`` (on a machine with network) fetches them with Keras' own
downloader; ``sadutils weights check`` says which are there and intact, without starting
TensorFlow. A compute node without network then gets the files copied into the same folder
(``~/.keras/models/``, or ``$KERAS_HOME/models/``), or each file is given to ``sadutils
reproduce --weights BACKBONE=FILE``.
"""
from __future__ import annotations

import sys

from .. import backbones
from ..weights import WeightsUnavailable, check_imagenet_file, download_imagenet_file


def _line(status) -> str:
    where = status.path if status.path is not None else "Keras' cache"
    return f"{status.backbone:<18} {status.state:<9} {where}  ({status.detail})"


def cmd_weights(args) -> int:
    """Download the backbones' ImageNet weights into Keras' cache, or check which are there."""
    names = [backbones.get(b).name for b in (args.backbones or backbones.PAPER_BACKBONES)]
    n_bad = 0
    for name in names:
        if args.action == "download":
            try:
                status = download_imagenet_file(name, mirror=args.mirror, timeout=args.timeout)
            except WeightsUnavailable as exc:
                print(f"sadutils: {exc}", file=sys.stderr, flush=True)
                n_bad += 1
                continue
        else:
            status = check_imagenet_file(name)
        n_bad += status.state in ("missing", "corrupt")
        print(_line(status), flush=True)
    if args.action == "check" and n_bad:
        print("To get the missing ones: `sadutils weights download` on a machine with network, "
              "then copy the files into the folder above (KERAS_HOME moves it), or give each "
              "to `sadutils reproduce --weights BACKBONE=FILE`.")
    return 1 if n_bad else 0
