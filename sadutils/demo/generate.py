"""The demo data set as a whole: generated once into a folder, reused, described.

:func:`generate_demo_data` runs every writer of :mod:`sadutils.demo.writers` into one folder
and leaves a marker (``DEMO_DATA.json``: seed, scale, version, counts, the positive control);
a folder whose marker matches is reused untouched, and nothing the generator did not make is
ever removed. :func:`describe_demo` reads the marker back.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

from ..fileio import crash_point, write_json
from .writers import CDN_NAME, DATASET_DIRS, WEBEMO_TRUTH_NAME, WRITERS, positive_control

#: Bump whenever the generator's output changes: a cached demo set of another version is rebuilt.
DEMO_VERSION = 2
#: Written last into the output folder; its presence (same seed, scale, version) means "done".
MARKER_NAME = "DEMO_DATA.json"
#: The generator's name in the marker: a folder whose marker says so holds only what it made.
GENERATOR = "sadutils.demo"
#: The largest ``scale`` accepted (about 350,000 images, some 10 GB).
MAX_SCALE = 100.0


# --------------------------------------------------------------------------------------------
# The whole set: made once, reused, described
# --------------------------------------------------------------------------------------------

def _roots(out_dir: Path) -> dict[str, Path]:
    """Where each dataset's root lies inside ``out_dir``."""
    return {name: out_dir / name for name in ("webemo", "unbiasedemo", "emotion6", "cocotext", "rgp")}


def _read_marker(out_dir: Path) -> dict | None:
    """The parsed marker, or None when missing, unreadable or not this generator's."""
    try:
        marker = json.loads((out_dir / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(marker, dict) or marker.get("generator") != GENERATOR:
        return None
    return marker


def _check_arguments(seed, scale) -> tuple[int, float]:
    """``seed`` and ``scale`` as numbers, refused unless usable."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be a number > 0, got {scale!r}") from None
    if not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        raise ValueError(f"scale must be a finite number > 0 and at most {MAX_SCALE:g}, got "
                         f"{scale!r}")
    return int(seed), scale


def _check_ours(out_dir: Path, marker: dict | None) -> None:
    """Refuse to write into a folder that holds files this generator did not make.

    A folder is the generator's when it is empty (but for the temporary file of an interrupted
    first marker write, which is removed) or its marker says so (a finished set, or an
    interrupted one: the marker is written first, as "incomplete").

    Raises
    ------
    ValueError
        For a non-empty folder without the marker (say a user's real data root).
    NotADirectoryError
        When ``out_dir`` is a file.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"demo data folder {out_dir} is a file, not a folder")
    if marker is not None or not out_dir.is_dir():
        return
    # The temporary file of a first marker write that a kill interrupted is this generator's.
    leftovers = [p for p in out_dir.iterdir()
                 if p.name.startswith(f".{MARKER_NAME}.") and p.name.endswith(".tmp")]
    found = sorted(p.name for p in out_dir.iterdir() if p not in leftovers)
    if not found:
        for p in leftovers:
            p.unlink(missing_ok=True)
    if found:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        why = (f"its {MARKER_NAME} is not a marker of the demo generator"
               if MARKER_NAME in found else f"it holds no {MARKER_NAME}")
        raise ValueError(f"{out_dir} is not empty ({shown}) and {why}, so it is not a demo "
                         f"data folder; nothing was changed. Give --out an empty or new folder "
                         f"(the demo data never overwrites other files)")


def generate_demo_data(out_dir, seed: int = 1234, scale: float = 1.0, force: bool = False) -> dict[str, Path]:
    """Write the demo datasets under ``out_dir`` and return each dataset's root folder.

    When ``out_dir/DEMO_DATA.json`` already records this ``seed``, ``scale`` and
    ``DEMO_VERSION`` (and not ``force``) the data is reused untouched. Otherwise the folders
    the generator made are removed and rebuilt. Nothing else is ever removed: a folder that is
    not empty and has no marker of this generator is refused before anything is touched. The
    marker is written first, marked incomplete, and rewritten complete last, so an interrupted
    run is recognised as the generator's and never mistaken for a finished one.

    Parameters
    ----------
    out_dir : path
    seed : int
        Non-negative.
    scale : float
        Multiplies every count: finite, > 0 and at most :data:`MAX_SCALE`.
    force : bool
        Rebuild even when the marker matches.

    Returns
    -------
    dict
        Dataset name to its root folder.

    Raises
    ------
    ValueError
        For a bad seed or scale, or a non-empty folder that is not the generator's (nothing is
        changed in either case).
    """
    seed, scale = _check_arguments(seed, scale)
    out_dir = Path(out_dir).resolve()
    marker = _read_marker(out_dir)
    if (not force and marker is not None and marker.get("complete", True)
            and marker.get("seed") == seed and marker.get("scale") == scale
            and marker.get("version") == DEMO_VERSION):
        return _roots(out_dir)
    _check_ours(out_dir, marker)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {"generator": GENERATOR, "version": DEMO_VERSION, "seed": seed, "scale": scale,
              "roots": {k: v.name for k, v in _roots(out_dir).items()},
              "webemo_cdn": CDN_NAME, "webemo_truth": WEBEMO_TRUTH_NAME,
              "positive_control": positive_control()}
    write_json(out_dir / MARKER_NAME, {**record, "complete": False})
    (out_dir / WEBEMO_TRUTH_NAME).unlink(missing_ok=True)
    for name in DATASET_DIRS:
        if (out_dir / name).exists():
            shutil.rmtree(out_dir / name)
    counts = {}
    for name, write in WRITERS:
        counts[name] = write(out_dir, seed, scale)
        crash_point("generated", out_dir / name)  # tests kill here: half the data made
    write_json(out_dir / MARKER_NAME, {**record, "complete": True, "counts": counts})
    return _roots(out_dir)


def describe_demo(out_dir, missing_ok: bool = False) -> dict | None:
    """The marker of a generated demo set (seed, scale, version, counts, positive control).

    Parameters
    ----------
    out_dir : path
        The demo data's folder.
    missing_ok : bool
        Return None instead of raising when it holds no complete demo data.

    Returns
    -------
    dict or None
        ``DEMO_DATA.json``'s content, with ``root_paths`` (each dataset's absolute folder).

    Raises
    ------
    FileNotFoundError
        When ``out_dir`` holds no complete demo data (unless ``missing_ok``).
    """
    out_dir = Path(out_dir).resolve()
    marker = _read_marker(out_dir)
    if marker is None or not marker.get("complete", True):
        if missing_ok:
            return None
        raise FileNotFoundError(f"no complete demo data in {out_dir} (missing, unreadable or "
                                f"incomplete {MARKER_NAME}); run generate_demo_data first")
    marker["root_paths"] = {k: str(v) for k, v in _roots(out_dir).items()}
    return marker
