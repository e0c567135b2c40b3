"""UnbiasedEmo (Panda et al., ECCV 2018): images/<emotion>/<object-or-scene>/<file>."""
from __future__ import annotations

from ..config import OTHERS, SADNESS
from .formats import Loaded, descend, dataset_root, finish, format_error, walk_images

#: The six emotion folders of UnbiasedEmo.
EMOTIONS = ("anger", "fear", "joy", "love", "sadness", "surprise")


def load_unbiasedemo(root, check: bool = True, workers: int = 4, progress: bool = False) -> Loaded:
    """Load UnbiasedEmo: ``root/images/<emotion>/<object>/<file>``.

    ``root`` may also be the folder holding the emotion folders, or a folder whose only
    sub-folder holds ``images/``. Emotion folder names are matched case-insensitively; binary
    label ``sadness`` for the sadness folder, ``others`` for the five others.

    Returns
    -------
    Loaded
        ``fine_label`` is the emotion, extra column ``object`` (the object/scene folder, "" for
        an image directly in the emotion folder). Images outside any emotion folder are rejected.

    Raises
    ------
    FormatError
        For a folder that is not one of the six emotions (naming it and the expected ones).
    """
    expected = f"images/<emotion>/<object>/<file>, emotions {', '.join(EMOTIONS)}"
    base = descend(dataset_root(root, "UnbiasedEmo", expected), "images")
    base = base / "images" if (base / "images").is_dir() else base
    images, rejected, ignored = walk_images(base)
    rows = []
    for path in images:
        parts = path.relative_to(base).parts
        if len(parts) < 2:
            rejected.append((str(path), "image outside any emotion folder"))
            continue
        emotion = parts[0].lower()
        if emotion not in EMOTIONS:
            raise format_error(base / parts[0], f"an emotion folder ({', '.join(EMOTIONS)})",
                                parts[0])
        rows.append((str(path), SADNESS if emotion == SADNESS else OTHERS, emotion,
                     parts[1] if len(parts) > 2 else ""))
    if not rows and not rejected:
        raise FileNotFoundError(f"no images found under {base} (expected {expected})")
    info = dict(root=str(base), n_files_ignored=ignored)
    return finish(rows, ["path", "label", "fine_label", "object"], "unbiasedemo", info, rejected,
                   check, workers, progress)

