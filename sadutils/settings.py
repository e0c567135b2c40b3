"""Run settings and notebook parameters, checked in one declared place.

:class:`TrainSettings` is the recipe of a training run (the profile's values with the caller's
overrides). :data:`PARAMETERS` declares every parameter a notebook's ``parameters`` cell may
hold, with its type and allowed values; :func:`check_parameters` checks a notebook's values
against it in its first code cell, and ``sadutils reproduce`` checks ``-p`` overrides against it
before any notebook runs, so a bad value is named at once, with what was expected.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from numbers import Real

from .config import DATASETS, PROFILES, Profile, get_profile

#: Optimisers a run can use (the paper's is Adagrad).
OPTIMIZERS = ("adagrad", "adam")
#: The text filter's threshold that removes the paper's share of images instead of a number.
MATCH_PAPER = "match_paper"
#: How the text filter decides that an image holds text: the paper's classifier (``cnn``,
#: notebook 01), the shipped OCR detector (``ocr``, :mod:`sadutils.text_detection`), or
#: ``both`` (removed when either of them finds text).
TEXT_METHODS = ("cnn", "ocr", "both")
#: What a backbone may be trained on (the text ablation, notebook 07): the WEBEmo sample
#: unfiltered (``none``) or without the images one of :data:`TEXT_METHODS` finds text in. The
#: paper's is ``cnn``; None (the default of notebook 03) means the method notebook 02 applied.
TRAIN_FILTERS = ("none",) + TEXT_METHODS
#: How the text ablation removes a text region from an image (notebook 07): ``inpaint``
#: (filled from its border) or ``blur``.
MASK_METHODS = ("inpaint", "blur")
#: How row labels and titles name a ``train_filter``.
TRAIN_FILTER_LABELS = {"none": "unfiltered", "cnn": "filtered (cnn)", "ocr": "filtered (ocr)",
                       "both": "filtered (both)"}


# ---------------------------------------------------------------------------- value checks

def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Parameter:
    """What one notebook parameter accepts.

    Attributes
    ----------
    kind : str
        ``int``, ``positive`` (a number > 0), ``probability`` (a number within 0..1),
        ``bool``, ``str``, ``path``, ``choice``, ``threshold`` (a probability or
        ``"match_paper"``), ``fraction``, ``seeds`` or ``names`` (a list of strings).
    optional : bool
        Whether None is allowed (it means "the profile's value").
    minimum : float, optional
        Smallest allowed value of an ``int`` or ``float``.
    choices : tuple, optional
        The allowed values of a ``choice``.
    """

    kind: str
    optional: bool = True
    minimum: float | None = None
    choices: tuple = ()

    def expected(self) -> str:
        """What the parameter accepts, in words."""
        text = {
            "int": "an integer", "positive": "a number > 0",
            "probability": "a number within 0..1", "bool": "True or False",
            "str": "a string", "path": "a path (string)",
            "choice": "one of " + ", ".join(map(str, self.choices)),
            "threshold": f"a number within 0..1 or {MATCH_PAPER!r}",
            "fraction": "a number strictly between 0 and 1, 'natural', or a dict of them by "
                        "test set",
            "seeds": "an integer >= 1 (how many seeds) or a list of integer seeds",
            "names": "a list of names",
        }[self.kind]
        if self.minimum is not None:
            text += f" >= {self.minimum:g}"
        return text + (", or None" if self.optional else "")

    def accepts(self, value) -> bool:
        """Whether ``value`` is allowed."""
        if value is None:
            return self.optional
        kind = self.kind
        if kind == "int":
            ok = _is_int(value)
        elif kind == "positive":
            return _is_real(value) and value > 0
        elif kind == "probability":
            return _is_real(value) and 0 <= value <= 1
        elif kind == "bool":
            return isinstance(value, bool)
        elif kind in ("str", "path"):
            return isinstance(value, str) and value != ""
        elif kind == "choice":
            return isinstance(value, str) and value in self.choices
        elif kind == "threshold":
            return value == MATCH_PAPER or (_is_real(value) and 0 <= value <= 1)
        elif kind == "fraction":
            if isinstance(value, dict):
                return all(k in DATASETS and Parameter("fraction").accepts(v)
                           for k, v in value.items())
            return value in ("natural", "all") or (_is_real(value) and 0 < value < 1)
        elif kind == "names":
            return (isinstance(value, (list, tuple)) and bool(value)
                    and all(isinstance(v, str) and v for v in value))
        elif kind == "seeds":
            if isinstance(value, (list, tuple)):
                return bool(value) and all(_is_int(v) and v >= 0 for v in value)
            return _is_int(value) and value >= 1
        else:
            raise ValueError(f"unknown parameter kind {kind!r}")
        return ok and (self.minimum is None or value >= self.minimum)


#: Every parameter a notebook of the companion may declare, and what it accepts.
PARAMETERS = {
    "profile": Parameter("choice", optional=False, choices=PROFILES),
    "backbone": Parameter("str", optional=False),
    "pretrained": Parameter("bool", optional=False),
    "epochs": Parameter("int", minimum=1),
    "batch_size": Parameter("int", minimum=1),
    "image_size": Parameter("int", minimum=1),
    "learning_rate": Parameter("positive"),
    "seed": Parameter("int", minimum=0),
    "seeds": Parameter("seeds"),
    "weights": Parameter("path"),
    "max_per_class": Parameter("int", minimum=1),
    "threshold": Parameter("threshold"),
    "sample_sadness": Parameter("int", minimum=0),
    "sample_others": Parameter("int", minimum=0),
    "sadness_fraction": Parameter("fraction"),
    "text_filter": Parameter("bool", optional=False),
    "text_threshold": Parameter("probability", optional=False),
    "text_method": Parameter("choice", choices=TEXT_METHODS),
    "train_filter": Parameter("choice", choices=TRAIN_FILTERS),
    "backbone_names": Parameter("names"),
    "mask_method": Parameter("choice", optional=False, choices=MASK_METHODS),
    "examples": Parameter("int", optional=False, minimum=1),
    "held_out": Parameter("int", optional=False, minimum=0),
    "ocr_threshold": Parameter("probability"),
    "emotion6_layout": Parameter("choice", optional=False, choices=("auto", "cornell", "panda")),
    "emotion6_label_from": Parameter("choice", optional=False, choices=("folder", "argmax")),
    "include_no_pretrain": Parameter("bool", optional=False),
    "data_root": Parameter("path"),
    "results_root": Parameter("path"),
    "unbiasedemo_root": Parameter("path"),
    "emotion6_root": Parameter("path"),
    "notebook_name": Parameter("str"),
    "gradcam_images": Parameter("int", optional=False, minimum=1),
    "gallery_size": Parameter("int", optional=False, minimum=1),
    "sweep_points": Parameter("int", optional=False, minimum=1),
}


def check_parameter(name: str, value) -> None:
    """Refuse a value a notebook parameter does not accept.

    Parameters
    ----------
    name : str
        A key of :data:`PARAMETERS`.
    value : object

    Raises
    ------
    ValueError
        ``parameter <name> must be <expected>, got <value>``; also for an undeclared name.
    """
    spec = PARAMETERS.get(name)
    if spec is None:
        raise ValueError(f"unknown parameter {name!r}; declared parameters: "
                         f"{', '.join(PARAMETERS)}")
    if not spec.accepts(value):
        raise ValueError(f"parameter {name} must be {spec.expected()}, got {value!r}")


def check_parameters(namespace: dict) -> None:
    """Check the declared parameters found in a notebook's namespace (its ``globals()``).

    Parameters
    ----------
    namespace : dict
        ``name -> value``; names that :data:`PARAMETERS` does not declare are ignored.

    Raises
    ------
    ValueError
        Naming the first bad parameter and what it accepts.
    """
    for name in PARAMETERS:
        if name in namespace:
            check_parameter(name, namespace[name])


# ---------------------------------------------------------------------------- the recipe

@dataclass(frozen=True)
class TrainSettings:
    """The recipe of one training run.

    Attributes
    ----------
    image_size, epochs, batch_size : int
    learning_rate : float
    optimizer : str
        One of :data:`OPTIMIZERS`.
    seed : int
    refresh_batchnorm : bool
        Recompute BatchNorm statistics on the training images after training.
    """

    image_size: int
    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str
    seed: int
    refresh_batchnorm: bool

    @classmethod
    def resolve(cls, profile, **overrides) -> "TrainSettings":
        """The profile's recipe with the caller's overrides (None: keep the profile's value).

        Parameters
        ----------
        profile : str or Profile
        **overrides
            ``image_size``, ``epochs``, ``batch_size``, ``learning_rate``, ``optimizer``,
            ``seed``.

        Returns
        -------
        TrainSettings

        Raises
        ------
        ValueError
            For an unknown override or a value of the wrong type or range, naming it.
        """
        prof = profile if isinstance(profile, Profile) else get_profile(profile)
        values = dict(image_size=prof.image_size, epochs=prof.epochs, batch_size=prof.batch_size,
                      learning_rate=prof.learning_rate, optimizer=prof.optimizer,
                      seed=prof.seed, refresh_batchnorm=prof.refresh_batchnorm)
        unknown = set(overrides) - set(values)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))}; settings: "
                             f"{', '.join(values)}")
        for name, value in overrides.items():
            if value is None:
                continue
            if name == "optimizer":
                if value not in OPTIMIZERS:
                    raise ValueError(f"unknown optimizer {value!r}; valid choices: "
                                     f"{', '.join(OPTIMIZERS)}")
            elif name == "refresh_batchnorm":
                if not isinstance(value, bool):
                    raise ValueError(f"setting refresh_batchnorm must be True or False, got "
                                     f"{value!r}")
            else:
                check_parameter(name, value)
            values[name] = value
        return cls(**values)

    def as_params(self) -> dict:
        """The settings as the ``params`` of a results record."""
        return asdict(self)

    def with_seed(self, seed: int) -> "TrainSettings":
        """The same recipe with another training seed."""
        check_parameter("seed", seed)
        return replace(self, seed=int(seed))


def seed_list(profile, seeds=None) -> list[int]:
    """The training seeds of a run: one model per seed, all on the same split.

    Parameters
    ----------
    profile : str or Profile
    seeds : None, int or list of int
        None: the profile's number of seeds (demo 3, paper 1); an integer N: N seeds; seeds are
        then the profile's seed and the ones after it (1234, 1235, ...). A list is taken as it
        is.

    Returns
    -------
    list of int
        Without repeats, the profile's seed first when it is among them.

    Raises
    ------
    ValueError
        For anything else (see :data:`PARAMETERS` ``seeds``).
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    check_parameter("seeds", seeds)
    if seeds is None:
        seeds = prof.n_seeds
    if isinstance(seeds, int):
        return [prof.seed + k for k in range(seeds)]
    return list(dict.fromkeys(int(s) for s in seeds))
