"""Where everything lives: one :class:`Workspace` per profile, every path derived from it.

A workspace is a profile plus two roots: the data folder (``$SADUTILS_DATA/<profile>``, default
``data/<profile>`` in the checkout) and the results folder (``$SADUTILS_RESULTS/<profile>``,
default ``results/<profile>``). The results layout is defined here and nowhere else::

    records/<run_id>.json            one results record per run (sadutils.records)
    models/<run name>.keras          the trained models
    runs/<run name>/                 history.csv, test_predictions.csv; best.weights.h5
                                     and backup/ while a run is unfinished
    manifests/                       webemo_scored.csv, webemo_filtered.csv, webemo_split.csv
    cross_dataset/<run_id>/          predictions, refused and left-out files of a test
    cache/                           decoded images (uint8 .npy), safe to delete
    reproduce.json                   what `sadutils reproduce` ran, and with which inputs
    logs/<run name>.log              a notebook run's kernel output (TensorFlow's and
                                     Jupyter's messages), kept out of the terminal
    timings/<run name>.json          where a notebook run's time went (kernel start, cells,
                                     timed phases), shown on the book's Performance page

Build one with :meth:`Workspace.create` from a notebook's parameters and pass it along.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import DATASETS, Profile, check_choice, get_profile

#: Name of the text classifier's run (its model, run folder and record prefix).
TEXT_CLASSIFIER_RUN = "text_classifier"


def repo_root() -> Path:
    """The checkout this package was installed from (editable install), else the working folder.

    Returns
    -------
    Path
    """
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def shown_path(path) -> str:
    """A path as the companion prints it, without the building machine's folders where it can.

    Parameters
    ----------
    path : path

    Returns
    -------
    str
        Relative to the checkout when inside it (``results/demo/records/x.json``); else
        under ``$SADUTILS_DATA`` or ``$SADUTILS_RESULTS`` when inside those roots; else the
        path as it is.
    """
    path = Path(path).expanduser()
    resolved = path.resolve()
    for root, prefix in ((repo_root(), ""), (data_home(), "$SADUTILS_DATA/"),
                         (results_home(), "$SADUTILS_RESULTS/")):
        try:
            relative = resolved.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
        return prefix + relative if relative != "." else (prefix.rstrip("/") or ".")
    return str(path)


def data_home() -> Path:
    """The data root above the profiles: ``$SADUTILS_DATA``, default ``<checkout>/data``.

    Returns
    -------
    Path
    """
    return Path(os.environ.get("SADUTILS_DATA") or repo_root() / "data").resolve()


def results_home() -> Path:
    """The results root above the profiles: ``$SADUTILS_RESULTS``, default ``<checkout>/results``.

    Returns
    -------
    Path
    """
    return Path(os.environ.get("SADUTILS_RESULTS") or repo_root() / "results").resolve()


def notebooks_dir() -> Path:
    """The notebooks of the checkout (``notebooks/``)."""
    return repo_root() / "notebooks"


def executed_dir() -> Path:
    """Where ``sadutils reproduce`` keeps executed notebooks for the book (``book/executed``)."""
    return repo_root() / "book" / "executed"


def benchmarks_dir(results_root=None) -> Path:
    """Where the benchmark scripts write their JSON files (``<results root>/benchmarks``).

    Parameters
    ----------
    results_root : path, optional
        The results root above the profiles; default :func:`results_home`.

    Returns
    -------
    Path
    """
    return (Path(results_root) if results_root is not None else results_home()) / "benchmarks"


def run_name(backbone: str, pretrained: bool = True, seed: int | None = None,
             train_filter: str | None = None) -> str:
    """The name of a training run: its model file, run folder and executed notebook.

    Parameters
    ----------
    backbone : str
        The backbone's registry name.
    pretrained : bool
        False for a run from random weights (``-no-pretrain`` is appended).
    seed : int, optional
        Given for runs other than the first seed (``-seed<N>`` is appended).
    train_filter : str, optional
        Given for a run of the text ablation, trained on the sample as that filter leaves it
        (``-filter-<name>`` is appended: ``efficientnetv2b0-filter-none-seed1235``).

    Returns
    -------
    str
    """
    name = backbone + ("" if pretrained else "-no-pretrain")
    name += "" if train_filter is None else f"-filter-{train_filter}"
    return name if seed is None else f"{name}-seed{seed}"


@dataclass(frozen=True)
class Workspace:
    """A profile and the two folders its runs read from and write to.

    Attributes
    ----------
    profile : Profile
        The settings of the profile (:mod:`sadutils.config`).
    data : Path
        The profile's data folder: one sub-folder per dataset, in the real layouts.
    results : Path
        The profile's results folder (layout in the module docstring).
    """

    profile: Profile
    data: Path
    results: Path

    @classmethod
    def create(cls, profile: str = "demo", data_root=None, results_root=None) -> "Workspace":
        """The workspace of ``profile``.

        Parameters
        ----------
        profile : {"demo", "paper"}
        data_root : path, optional
            The profile's data folder; default ``<data home>/<profile>`` (:func:`data_home`).
        results_root : path, optional
            The results root *above* the profiles; default :func:`results_home`.

        Returns
        -------
        Workspace

        Raises
        ------
        ValueError
            For an unknown profile (naming the valid ones).
        """
        prof = get_profile(profile)
        data = Path(data_root) if data_root is not None else data_home() / prof.name
        root = Path(results_root) if results_root is not None else results_home()
        return cls(prof, data.expanduser().resolve(), (root.expanduser() / prof.name).resolve())

    @property
    def name(self) -> str:
        """The profile's name (``demo`` or ``paper``)."""
        return self.profile.name

    @property
    def results_root(self) -> Path:
        """The results root above the profiles (what ``results_root`` parameters take)."""
        return self.results.parent

    # --- data
    def dataset_dir(self, dataset: str) -> Path:
        """The folder of one dataset (``<data>/<dataset>``)."""
        check_choice("dataset", dataset, DATASETS)
        return self.data / dataset

    # --- results
    @property
    def records(self) -> Path:
        return self.results / "records"

    @property
    def models(self) -> Path:
        return self.results / "models"

    @property
    def runs(self) -> Path:
        return self.results / "runs"

    @property
    def manifests(self) -> Path:
        return self.results / "manifests"

    @property
    def cache(self) -> Path:
        return self.results / "cache"

    @property
    def state_file(self) -> Path:
        """The runner's state: which notebook runs ran, with which inputs."""
        return self.results / "reproduce.json"

    @property
    def scored_manifest(self) -> Path:
        """Every sampled WEBEmo image with its text score and filter decision (notebook 02)."""
        return self.manifests / "webemo_scored.csv"

    @property
    def filtered_manifest(self) -> Path:
        """The WEBEmo images kept by the text filter: what the backbones train on."""
        return self.manifests / "webemo_filtered.csv"

    @property
    def split_manifest(self) -> Path:
        """The filtered manifest with its fixed train/val/test split."""
        return self.manifests / "webemo_split.csv"

    @property
    def text_model(self) -> Path:
        """The text classifier of notebook 01."""
        return self.model_file(TEXT_CLASSIFIER_RUN)

    def model_file(self, run: str) -> Path:
        """The ``.keras`` file of the run called ``run`` (:func:`run_name`)."""
        return self.models / f"{run}.keras"

    def run_dir(self, run: str) -> Path:
        """The working folder of a training run (history, checkpoints, predictions)."""
        return self.runs / run

    def history_file(self, run: str) -> Path:
        return self.run_dir(run) / "history.csv"

    def predictions_file(self, run: str) -> Path:
        """The test split of a training run with each image's predicted class probabilities."""
        return self.run_dir(run) / "test_predictions.csv"

    def cross_dataset_dir(self, run_id: str) -> Path:
        """The predictions and the refused and left-out files of one cross-dataset test."""
        return self.results / "cross_dataset" / run_id

    def record_file(self, run_id: str) -> Path:
        return self.records / f"{run_id}.json"

    @property
    def logs(self) -> Path:
        return self.results / "logs"

    def log_file(self, run: str) -> Path:
        """The kernel output of a notebook run of ``sadutils reproduce``."""
        return self.logs / f"{run}.log"

    @property
    def timings(self) -> Path:
        return self.results / "timings"

    def timing_file(self, run: str) -> Path:
        """The profile of a notebook run of ``sadutils reproduce`` (where its time went)."""
        return self.timings / f"{run}.json"

    def relative(self, path) -> str:
        """``path`` relative to the results folder when it lies inside it (records store
        artifacts that way, so a results folder can be moved or published), else absolute."""
        path = Path(path)
        try:
            return path.resolve().relative_to(self.results).as_posix()
        except ValueError:
            return str(path)

    def resolve(self, stored) -> Path:
        """The absolute path of an artifact as a record stores it (see :meth:`relative`)."""
        path = Path(stored)
        return path if path.is_absolute() else self.results / path
