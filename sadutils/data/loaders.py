"""The registry of dataset loaders: one entry per dataset the companion reads.

Adding a dataset means writing its loader module (returning :class:`~sadutils.data.formats.Loaded`)
and adding one line to :data:`LOADERS`; ``sadutils index``, the runner's data fingerprint and the
experiments find it here.
"""
from __future__ import annotations

from ..config import DATASETS, check_choice
from .cocotext import load_cocotext
from .emotion6 import load_emotion6
from .formats import Loaded
from .rgp import load_rgp
from .unbiasedemo import load_unbiasedemo
from .webemo import load_webemo

#: Dataset name -> loader; the names are those of :data:`sadutils.config.DATASETS`.
LOADERS = {"webemo": load_webemo, "unbiasedemo": load_unbiasedemo, "emotion6": load_emotion6,
           "cocotext": load_cocotext, "rgp": load_rgp}
#: Files of each real dataset whose content identifies it (images are identified by listing).
INDEX_FILES = {
    "webemo": ("category.txt", "train25.txt", "test25.txt"),
    "cocotext": ("cocotext.v2.json",),
    "emotion6": ("ground_truth.txt",),
    "unbiasedemo": (),
    "rgp": (),
}


def load_dataset(name: str, root, **options) -> Loaded:
    """Load the dataset ``name`` from ``root`` with its loader.

    Parameters
    ----------
    name : str
        One of :data:`sadutils.config.DATASETS`.
    root : path
        The dataset's folder, in the layout of the real distribution.
    **options
        The loader's own options (e.g. ``layout="cornell"`` for Emotion-6).

    Returns
    -------
    Loaded

    Raises
    ------
    ValueError
        For an unknown name (naming the valid ones).
    FileNotFoundError, FormatError
        From the loader, naming the file and what was expected.
    """
    check_choice("dataset", name, DATASETS)
    return LOADERS[name](root, **options)
