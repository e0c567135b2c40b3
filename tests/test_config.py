"""The names every part agrees on, and the two profiles."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from sadutils import config
from sadutils.config import DEMO, PAPER, check_choice, get_profile


def test_class_names_in_index_order():
    assert config.CLASS_NAMES == ("sadness", "others")
    assert config.TEXT_CLASS_NAMES == ("text", "no_text")
    assert config.DATASETS == ("webemo", "unbiasedemo", "emotion6", "cocotext", "rgp")


def test_get_profile():
    assert get_profile("paper") is PAPER and get_profile("demo") is DEMO
    with pytest.raises(ValueError, match="unknown profile 'Paper'; valid choices: demo, paper"):
        get_profile("Paper")


def test_profiles_hold_the_papers_recipe():
    assert (PAPER.image_size, PAPER.epochs, PAPER.batch_size, PAPER.learning_rate,
            PAPER.optimizer, PAPER.split) == (150, 30, 32, 0.001, "adagrad", (0.70, 0.15, 0.15))
    assert PAPER.sample == {"sadness": 8549, "others": 9971}
    assert PAPER.weights_policy == "imagenet" and DEMO.weights_policy == "auto"
    assert sum(DEMO.split) == pytest.approx(1.0) and sum(PAPER.split) == pytest.approx(1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PAPER.epochs = 1


def test_check_choice():
    check_choice("thing", "b", ("a", "b"))
    with pytest.raises(ValueError, match=r"^unknown thing 'c'; valid choices: a, b$"):
        check_choice("thing", "c", iter(["a", "b"]))
    with pytest.raises(ValueError, match="unknown size 3; valid choices: 1, 2"):
        check_choice("size", 3, (1, 2))


def test_one_compute_thread_unless_the_user_says_otherwise():
    """sadutils fixes TensorFlow's thread count before TensorFlow starts (the count changes the
    numbers), leaving a value the user set alone."""
    code = ("import os; os.environ.pop('TF_NUM_INTRAOP_THREADS', None); import sadutils; "
            "print(os.environ['TF_NUM_INTRAOP_THREADS'])")
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.strip()
    assert out == "1"
    env["TF_NUM_INTRAOP_THREADS"] = "3"
    code = "import sadutils, os; print(os.environ['TF_NUM_INTRAOP_THREADS'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.strip()
    assert out == "3"
