"""Run settings and notebook parameters: one declared place that names every bad value."""
from __future__ import annotations

import ast
import json

import pytest

from sadutils import settings
from sadutils.config import DEMO, PAPER
from sadutils.settings import (MATCH_PAPER, PARAMETERS, Parameter, TrainSettings, check_parameter,
                               check_parameters)
from sadutils.workspace import notebooks_dir


# ---------------------------------------------------------------------------- TrainSettings

def test_resolve_keeps_profile_values_for_none():
    s = TrainSettings.resolve("paper", epochs=None, batch_size=None, learning_rate=None,
                              image_size=None, optimizer=None, seed=None)
    assert (s.image_size, s.epochs, s.batch_size, s.learning_rate, s.optimizer, s.seed,
            s.refresh_batchnorm) == (150, 30, 32, 0.001, "adagrad", 1234, False)
    assert TrainSettings.resolve(PAPER) == s
    demo = TrainSettings.resolve("demo")
    assert (demo.image_size, demo.epochs, demo.refresh_batchnorm) == \
        (DEMO.image_size, DEMO.epochs, DEMO.refresh_batchnorm)


def test_resolve_applies_overrides():
    s = TrainSettings.resolve("demo", epochs=1, image_size=32, batch_size=8, learning_rate=0.01,
                              optimizer="adam", seed=0, refresh_batchnorm=False)
    assert s.as_params() == {"image_size": 32, "epochs": 1, "batch_size": 8,
                             "learning_rate": 0.01, "optimizer": "adam", "seed": 0,
                             "refresh_batchnorm": False}
    assert TrainSettings.resolve("demo", epochs=5).batch_size == DEMO.batch_size


@pytest.mark.parametrize("overrides, message", [
    ({"epochs": 2.7}, "parameter epochs must be an integer >= 1, or None, got 2.7"),
    ({"epochs": True}, "parameter epochs must be an integer >= 1, or None, got True"),
    ({"epochs": 0}, "parameter epochs must be an integer >= 1, or None, got 0"),
    ({"epochs": "3"}, "parameter epochs must be an integer"),
    ({"learning_rate": 0}, "parameter learning_rate must be a number > 0, or None, got 0"),
    ({"learning_rate": float("nan")}, "parameter learning_rate must be a number > 0"),
    ({"batch_size": -4}, "parameter batch_size must be an integer >= 1"),
    ({"seed": -1}, "parameter seed must be an integer >= 0"),
    ({"optimizer": "sgd"}, "unknown optimizer 'sgd'; valid choices: adagrad, adam"),
    ({"refresh_batchnorm": "yes"}, "setting refresh_batchnorm must be True or False, got 'yes'"),
    ({"epoch": 3}, "unknown setting.*epoch; settings: image_size, epochs"),
    ({"dropout": 0.1, "momentum": 0.9}, "unknown setting.*dropout, momentum"),
])
def test_resolve_refuses_bad_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainSettings.resolve("demo", **overrides)


def test_resolve_refuses_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile 'fast'; valid choices: demo, paper"):
        TrainSettings.resolve("fast")


# ---------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("name, value, expected", [
    ("epochs", 2.5, "an integer >= 1, or None"),
    ("profile", "fast", "one of demo, paper"),
    ("profile", None, "one of demo, paper, got None"),
    ("pretrained", "yes", "True or False"),
    ("threshold", 1.5, f"a number within 0..1 or {MATCH_PAPER!r}, or None"),
    ("text_threshold", -0.1, "a number within 0..1"),
    ("sadness_fraction", 1.0, "strictly between 0 and 1, 'natural', or a dict"),
    ("sadness_fraction", {"imagenet": 0.5}, "strictly between 0 and 1"),
    ("emotion6_layout", "flat", "one of auto, cornell, panda"),
    ("data_root", "", "a path"),
    ("learning_rate", -1, "a number > 0"),
    ("epochs", True, "an integer >= 1, or None"),  # not 1
    ("epochs", 2.7, "an integer >= 1, or None"),   # not 2
    ("learning_rate", float("inf"), "a number > 0"),
    ("learning_rate", float("nan"), "a number > 0"),
    ("seed", [1], "an integer >= 0"),
])
def test_check_parameter_names_parameter_and_what_it_accepts(name, value, expected):
    with pytest.raises(ValueError) as info:
        check_parameter(name, value)
    message = str(info.value)
    assert message.startswith(f"parameter {name} must be ")
    assert expected in message and repr(value) in message


@pytest.mark.parametrize("name, value", [
    ("epochs", None), ("epochs", 30), ("threshold", MATCH_PAPER), ("threshold", 0.5),
    ("threshold", 1), ("sadness_fraction", 1 / 3), ("sadness_fraction", "natural"),
    ("sadness_fraction", {"emotion6": 1 / 3, "unbiasedemo": "natural"}),
    ("profile", "paper"), ("pretrained", False), ("seed", 0), ("learning_rate", 1e-4),
    ("data_root", "/data"), ("backbone", "resnet50"),
])
def test_check_parameter_accepts_good_values(name, value):
    check_parameter(name, value)


def test_check_parameter_refuses_undeclared_names():
    with pytest.raises(ValueError, match="unknown parameter 'epoch'; declared parameters: "
                                         "profile, backbone"):
        check_parameter("epoch", 3)


def test_check_parameters_checks_declared_names_only():
    check_parameters({"epochs": 3, "profile": "demo", "ws": object(), "np": None,
                      "epoch": "anything", "__name__": "__main__"})
    with pytest.raises(ValueError,
                       match="parameter batch_size must be an integer >= 1, or None, got 0"):
        check_parameters({"epochs": 3, "batch_size": 0, "whatever": -1})


def test_parameter_kinds_are_all_described():
    for name, spec in PARAMETERS.items():
        assert isinstance(spec, Parameter)
        assert spec.expected()  # every kind has words for its message
        assert spec.accepts(None) is spec.optional, name
    with pytest.raises(ValueError, match="unknown parameter kind 'colour'"):
        Parameter("colour").accepts(1)


# ---------------------------------------------------------------------------- the notebooks

def _notebook_parameters():
    """``(notebook, name, value)`` of every assignment in each notebook's parameters cell."""
    found = []
    for path in sorted(notebooks_dir().glob("*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"]
                 if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(cells) == 1, f"{path.name} has {len(cells)} parameters cells"
        for node in ast.parse("".join(cells[0]["source"])).body:
            assert isinstance(node, ast.Assign) and len(node.targets) == 1, path.name
            found.append((path.name, node.targets[0].id, ast.literal_eval(node.value)))
    return found


def test_notebooks_declare_only_known_parameters_with_valid_defaults():
    found = _notebook_parameters()
    notebooks = {nb for nb, _, _ in found}
    assert len(notebooks) >= 5
    for notebook, name, value in found:
        assert name in PARAMETERS, f"{notebook}: parameter {name} is not in settings.PARAMETERS"
        check_parameter(name, value)
    for notebook in notebooks:  # every notebook can be run by `sadutils reproduce`
        names = {n for nb, n, _ in found if nb == notebook}
        assert {"profile", "results_root", "notebook_name"} <= names, notebook
    assert {name for _, name, _ in found} == set(PARAMETERS)  # nothing declared in vain


def test_optimizers_agree_with_the_profiles():
    assert DEMO.optimizer in settings.OPTIMIZERS and PAPER.optimizer in settings.OPTIMIZERS
