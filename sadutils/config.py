"""Names, profiles and paths shared by every part of the companion.

Everything that more than one module needs to agree on lives here: the class names, the dataset
names, the backbones, the two profiles (``demo`` and ``paper``) and where each keeps its data and
results. Paths can be moved with environment variables so that a user with the real datasets on
another disk never edits code.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The two classes of the paper's task, in the index order used by every model (0, 1).
SADNESS, OTHERS = "sadness", "others"
CLASS_NAMES = (SADNESS, OTHERS)
#: The two classes of the text-in-image filter (index 0, 1).
TEXT, NO_TEXT = "text", "no_text"
TEXT_CLASS_NAMES = (TEXT, NO_TEXT)

DATASETS = ("webemo", "unbiasedemo", "emotion6", "cocotext", "rgp")
BACKBONES = ("xception", "efficientnetv2b0", "efficientnetv2b2", "efficientnetv2s")
PROFILES = ("demo", "paper")

#: WEBEmo fine labels (index order of category.txt) whose level-2 group is "sadness".
WEBEMO_SADNESS_FINE = (4, 13, 19, 20, 21, 23)
#: WEBEmo fine label of "confusion", folded into sadness only when asked for.
WEBEMO_CONFUSION_FINE = 2

#: Columns every manifest has, whatever the dataset (loaders may add more after these).
MANIFEST_COLUMNS = ("path", "label", "fine_label", "dataset")


def repo_root() -> Path:
    """The checkout this package was installed from (editable install), or the working dir."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def data_home() -> Path:
    """Where generated demo data and downloaded real data live (``SADUTILS_DATA``)."""
    return Path(os.environ.get("SADUTILS_DATA", repo_root() / "data")).resolve()


def results_home() -> Path:
    """Where results records, models and executed notebooks go (``SADUTILS_RESULTS``)."""
    return Path(os.environ.get("SADUTILS_RESULTS", repo_root() / "results")).resolve()


def check_choice(name: str, value, choices) -> None:
    """Raise ``ValueError`` naming the valid choices when ``value`` is not one of them."""
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
    seed: int = 1234
    #: WEBEmo sample per binary class before filtering (paper: 8,549 sadness, 9,971 others).
    sample: dict = field(default_factory=dict)
    #: "imagenet": required; "auto": ImageNet when Keras can get it, else from scratch.
    weights_policy: str = "imagenet"
    #: Text filter threshold on P(text): a number, or "match_paper" (remove the paper's share).
    filter_threshold: object = 0.5
    #: Recompute BatchNorm statistics on the training images after training (a short run's
    #: moving averages have not converged; see training.refresh_batchnorm_statistics).
    refresh_batchnorm: bool = False

    def data_root(self) -> Path:
        return data_home() / self.name

    def results_root(self) -> Path:
        return results_home() / self.name


PAPER = Profile(
    name="paper", image_size=150, epochs=30, batch_size=32,
    sample={SADNESS: 8549, OTHERS: 9971}, weights_policy="imagenet",
)
DEMO = Profile(
    name="demo", image_size=72, epochs=3, batch_size=32,
    sample={SADNESS: 300, OTHERS: 350}, weights_policy="auto", filter_threshold="match_paper",
    refresh_batchnorm=True,
)


def get_profile(name: str) -> Profile:
    """The named profile; an unknown name fails listing the valid ones."""
    check_choice("profile", name, PROFILES)
    return {"demo": DEMO, "paper": PAPER}[name]
