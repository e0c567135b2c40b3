"""Emotion-6: Cornell's Emotion6 (Peng et al., CVPR 2015) and Panda et al.'s set of that name.

The paper does not say which one it tested on, so both layouts are read.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import OTHERS, SADNESS, check_choice
from .formats import Loaded, dataset_root, descend, finish, format_error, read_text, walk_images

#: The emotion folders of Cornell Emotion6.
EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
#: Probability columns of Cornell Emotion6's ground_truth.txt, in file order.
PROBABILITIES = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")


def truth_columns() -> list[str]:
    """The manifest's columns of the annotators' probabilities (``truth_<emotion>``).

    Named apart from the ``p_<class>`` columns a model's predictions add
    (:func:`sadutils.inference.predict_frame`), so that neither overwrites the other.

    Returns
    -------
    list of str
    """
    return [f"truth_{e}" for e in PROBABILITIES]


#: How far the seven probabilities of a row may sum from 1 (the file rounds each to 4 digits).
SUM_TOLERANCE = 0.01


def _row_problem(values: list[float]) -> str | None:
    """What is wrong with a row's numbers (valence, arousal, seven probabilities), or None.

    A ``nan`` would win every argmax and an ``inf`` or a negative probability is no
    probability: such a row is refused, never used.
    """
    if not all(math.isfinite(v) for v in values):
        return "finite numbers (no nan or inf) for valence, arousal and the probabilities"
    probabilities = values[2:]
    if not all(0.0 <= p <= 1.0 for p in probabilities):
        return "probabilities within 0..1"
    if abs(sum(probabilities) - 1.0) > SUM_TOLERANCE:
        return (f"seven probabilities summing to 1 (within {SUM_TOLERANCE:g}); they sum to "
                f"{sum(probabilities):.4g}")
    return None


def _read_ground_truth(path: Path | None) -> pd.DataFrame:
    """Cornell Emotion6 ``ground_truth.txt`` as a table indexed by lower-cased relative path.

    The first line is skipped as a header unless it is itself a valid row. None gives an empty
    table (no ground truth).

    Raises
    ------
    FormatError
        Naming the file and line of a row without ten fields, with a value that is not a
        finite number, a probability outside 0..1 or probabilities that do not sum to 1.
    """
    rows = []
    columns = ["key", "valence", "arousal", *truth_columns()]
    if path is None:
        return pd.DataFrame(columns=columns, dtype=float).set_index("key")
    expected = ("10 whitespace-separated fields: <emotion>/<n>.jpg valence arousal p_anger "
                "p_disgust p_fear p_joy p_sadness p_surprise p_neutral")
    for number, raw in enumerate(read_text(path).splitlines(), 1):
        fields = raw.split()
        if not fields:
            continue
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError:
            values = None
        if number == 1 and (values is None or len(fields) != 10):
            continue  # the header line
        if values is None or len(fields) != 10:
            raise format_error(path, expected, raw, number)
        problem = _row_problem(values)
        if problem:
            raise format_error(path, problem, raw, number)
        rows.append([fields[0].replace("\\", "/").lower(), *values])
    return pd.DataFrame(rows, columns=columns).drop_duplicates("key").set_index("key")


def load_emotion6(root, layout: str = "auto", label_from: str = "folder", check: bool = True,
                  workers: int = 4, progress: bool = False) -> Loaded:
    """Load either dataset called Emotion-6 (the paper does not say which it used).

    Parameters
    ----------
    root : path
        The dataset folder (or a folder whose only sub-folder is it, e.g. the Cornell zip's
        ``Emotion6/``), holding ``images/``.
    layout : {"auto", "cornell", "panda"}
        ``"cornell"``: Cornell Emotion6, ``images/<emotion>/<n>.jpg`` plus ``ground_truth.txt``.
        ``"panda"``: Panda et al.'s multi-level ``images/<l1>/<l2>/<l3>/<file>``. ``"auto"``
        picks cornell when ground_truth.txt exists or every image is exactly one folder deep.
    label_from : {"folder", "argmax"}
        Cornell only. ``"folder"``: sadness iff the image is in the sadness folder.
        ``"argmax"``: sadness iff p_sadness is the largest of the seven probabilities of
        ground_truth.txt (which is then required). Ties go to the first maximum in file order
        (anger, disgust, fear, joy, sadness, surprise, neutral): sadness tied with anger,
        disgust, fear or joy is not sadness; tied only with surprise or neutral, it is.

    Returns
    -------
    Loaded
        Cornell: ``fine_label`` is the folder emotion (``"folder"``) or the argmax emotion
        (``"argmax"``); extra columns ``folder``, ``valence``, ``arousal``, ``truth_<emotion>`` and
        ``argmax_emotion`` (NaN when there is no ground truth). Panda: ``fine_label`` is the
        folder path under images/ (e.g. ``"sadness/grief/alone"``), sadness iff any folder in
        it is named sadness (case-insensitive). ``info["layout"]`` says which was used.
    """
    check_choice("layout", layout, ("auto", "cornell", "panda"))
    check_choice("label_from", label_from, ("folder", "argmax"))
    expected = ("images/<emotion>/<n>.jpg and ground_truth.txt (Cornell Emotion6) or "
                "images/<l1>/<l2>/<l3>/<file> (Panda et al.'s Emotion-6)")
    base = descend(dataset_root(root, "Emotion-6", expected), "images")
    folder = base / "images" if (base / "images").is_dir() else base
    gt_path = base / "ground_truth.txt"
    images, rejected, ignored = walk_images(folder)
    if not images and not rejected:
        raise FileNotFoundError(f"no images found under {folder} (expected {expected})")
    rel = [p.relative_to(folder) for p in images]
    if layout == "auto":
        layout = "cornell" if gt_path.is_file() or all(len(r.parts) == 2 for r in rel) else "panda"
    info = dict(root=str(base), layout=layout, n_files_ignored=ignored)
    if layout == "panda" and label_from == "argmax":
        raise ValueError(f"label_from='argmax' needs the Cornell layout (ground_truth.txt); "
                         f"{folder} has the Panda layout")
    if layout == "panda":
        rows = []
        for path, r in zip(images, rel):
            dirs = [d.lower() for d in r.parts[:-1]]
            rows.append((str(path), SADNESS if SADNESS in dirs else OTHERS, "/".join(r.parts[:-1])))
        return finish(rows, ["path", "label", "fine_label"], "emotion6", info, rejected, check,
                       workers, progress)

    if label_from == "argmax" and not gt_path.is_file():
        raise FileNotFoundError(f"{gt_path} not found; label_from='argmax' needs Cornell "
                                f"Emotion6's ground_truth.txt")
    gt = _read_ground_truth(gt_path if gt_path.is_file() else None)
    probs = truth_columns()
    rows = []
    for path, r in zip(images, rel):
        if len(r.parts) != 2:
            rejected.append((str(path), "not in the Cornell layout images/<emotion>/<file>"))
            continue
        emotion = r.parts[0].lower()
        if emotion not in EMOTIONS:
            raise format_error(folder / r.parts[0], f"an emotion folder ({', '.join(EMOTIONS)})",
                                r.parts[0])
        key = r.as_posix().lower()
        if key in gt.index:
            values = gt.loc[key].tolist()
            argmax = PROBABILITIES[int(np.argmax(gt.loc[key, probs].to_numpy()))]
        elif label_from == "argmax":
            rejected.append((str(path), f"no row in {gt_path.name} (needed for label_from='argmax')"))
            continue
        else:
            values, argmax = [np.nan] * len(gt.columns), None
        fine = argmax if label_from == "argmax" else emotion
        rows.append((str(path), SADNESS if fine == SADNESS else OTHERS, fine, emotion, *values, argmax))
    info.update(label_from=label_from, ground_truth=str(gt_path) if gt_path.is_file() else None,
                n_without_ground_truth=sum(r[-1] is None for r in rows),
                n_ground_truth_rows_without_image=len(set(gt.index) - {r.as_posix().lower() for r in rel}))
    columns = ["path", "label", "fine_label", "folder", *gt.columns, "argmax_emotion"]
    return finish(rows, columns, "emotion6", info, rejected, check, workers, progress)

