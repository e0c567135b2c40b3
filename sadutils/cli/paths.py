"""The image files a command was given: files as named, folders searched recursively."""
from __future__ import annotations

import sys
from pathlib import Path

from ..data.images import is_image_file


def image_paths(targets, what: str = "classify") -> list[Path]:
    """The files to work on: each IMAGE file as given, each folder's image files (recursively,
    sorted), without repeats. A path that does not exist is kept, to be reported as a failure.

    Parameters
    ----------
    targets : iterable of Path
    what : str
        The verb for the error message (``classify``, ``score``).

    Returns
    -------
    list of Path

    Raises
    ------
    ValueError
        When no image file is found at all.
    """
    targets = list(targets)
    found, seen = [], set()
    for target in targets:
        if target.is_dir():
            files = sorted(p for p in target.rglob("*") if p.is_file() and is_image_file(p))
            if not files:
                print(f"sadutils: no image files in folder {target}", file=sys.stderr)
        else:
            files = [target]
        for path in files:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(path)
    if not found:
        raise ValueError(f"no image files to {what} in " + ", ".join(map(str, targets)))
    return found
