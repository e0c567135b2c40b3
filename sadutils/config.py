"""The names every part of the companion agrees on, and the two run profiles.

Class names, dataset names, WEBEmo's sadness group and the ``demo`` / ``paper`` profiles are
defined here once. Where data and results live is :mod:`sadutils.workspace`'s business; the
backbones are :mod:`sadutils.backbones`'; the paper's published numbers are
:mod:`sadutils.paper`'s.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

#: The two classes of the paper's task, in the index order used by every model (0, 1).
SADNESS, OTHERS = "sadness", "others"
CLASS_NAMES = (SADNESS, OTHERS)
#: The two classes of the text-in-image filter (index 0, 1).
TEXT, NO_TEXT = "text", "no_text"
TEXT_CLASS_NAMES = (TEXT, NO_TEXT)

DATASETS = ("webemo", "unbiasedemo", "emotion6", "cocotext", "rgp")
PROFILES = ("demo", "paper")

#: WEBEmo fine labels (index order of category.txt) whose level-2 group is "sadness".
WEBEMO_SADNESS_FINE = (4, 13, 19, 20, 21, 23)
#: WEBEmo fine label of "confusion", folded into sadness only when asked for.
WEBEMO_CONFUSION_FINE = 2

#: Columns every manifest has, whatever the dataset (loaders may add more after these).
MANIFEST_COLUMNS = ("path", "label", "fine_label", "dataset")


def cpu_count() -> int:
    """The CPU cores this process may run on (a SLURM job's or a container's share, not the
    whole machine's), for the worker threads that decode images and run the OCR detector.

    Returns
    -------
    int
        At least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_choice(name: str, value, choices) -> None:
    """Refuse a value that is not one of ``choices``, naming the valid ones.

    Parameters
    ----------
    name : str
        What the value is (``"backbone"``, ``"profile"``), for the message.
    value : object
    choices : iterable

    Raises
    ------
    ValueError
        ``unknown <name> <value>; valid choices: a, b, c``.
    """
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid choices: {', '.join(map(str, choices))}")


@dataclass(frozen=True)
class Profile:
    """A complete set of run settings: the paper's, or the small offline demo's."""

    name: str
    image_size: int
    epochs: int
    batch_size: int
    learning_rate: float = 0.001
    optimizer: str = "adagrad"
    split: tuple = (0.70, 0.15, 0.15)
    #: Seed of the WEBEmo sample and of every split; also the first training seed.
    seed: int = 1234
    #: Training runs per Table 1 row, one per seed (seed, seed + 1, ...).
    n_seeds: int = 1
    #: WEBEmo sample per binary class before filtering (paper: 8,549 sadness, 9,971 others).
    sample: dict = field(default_factory=dict)
    #: "imagenet": required; "auto": ImageNet when Keras can get it, else from scratch.
    weights_policy: str = "imagenet"
    #: Text filter threshold on P(text): a number, or "match_paper" (remove the paper's share).
    filter_threshold: object = 0.5
    #: The text filter's method when none is asked for: "cnn" (the paper's classifier), or
    #: "auto": the OCR detector when the text classifier was trained from random weights (it
    #: then sees no text), the classifier when it started from ImageNet weights.
    text_method: str = "cnn"
    #: Recompute BatchNorm statistics on the training images after training (a short run's
    #: moving averages have not converged; see training.refresh_batchnorm_statistics).
    refresh_batchnorm: bool = False


PAPER = Profile(
    name="paper", image_size=150, epochs=30, batch_size=32,
    sample={SADNESS: 8549, OTHERS: 9971}, weights_policy="imagenet",
)
DEMO = Profile(
    name="demo", image_size=72, epochs=3, batch_size=32, n_seeds=3,
    sample={SADNESS: 300, OTHERS: 350}, weights_policy="auto", filter_threshold="match_paper",
    refresh_batchnorm=True, text_method="auto",
)


def get_profile(name: str) -> Profile:
    """The profile called ``name``.

    Parameters
    ----------
    name : str
        ``"demo"`` or ``"paper"``.

    Returns
    -------
    Profile

    Raises
    ------
    ValueError
        For any other name, listing the valid ones.
    """
    check_choice("profile", name, PROFILES)
    return {"demo": DEMO, "paper": PAPER}[name]
