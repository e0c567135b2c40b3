"""Fixtures shared by the whole test suite.

The demo data is generated once per test session (small scales, a few seconds), models are
tiny (EfficientNetV2B0 at 32 px, random weights), and every test that writes results gets its
own workspace in a temporary folder, with ``SADUTILS_DATA`` / ``SADUTILS_RESULTS`` pointing
there, so nothing a test does reaches the checkout's ``data/`` or ``results/``.
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from sadutils import models
from sadutils.config import CLASS_NAMES, TEXT_CLASS_NAMES
from sadutils.demo import ensure_demo_data
from sadutils.workspace import Workspace

#: Scale of the session's demo data: about 300 WEBEmo-like images, 700 in all.
DEMO_SCALE = 0.2
#: Scale of the smallest demo data (a few dozen images per dataset).
TINY_SCALE = 0.05
DEMO_SEED = 1234
#: Input size of the tiny test models.
MODEL_SIZE = 32


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The demo datasets at :data:`DEMO_SCALE`, WEBEmo-like images downloaded, as
    ``sadutils demo-data`` leaves them. Read-only for tests: copy before changing anything."""
    out = tmp_path_factory.mktemp("demo")
    ensure_demo_data(out, seed=DEMO_SEED, scale=DEMO_SCALE, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_demo_dir(tmp_path_factory) -> Path:
    """The demo datasets at :data:`TINY_SCALE` (read-only for tests)."""
    out = tmp_path_factory.mktemp("tiny-demo")
    ensure_demo_data(out, seed=DEMO_SEED, scale=TINY_SCALE, progress=False)
    return out


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """A temporary folder holding ``data/`` and ``results/``, set as ``SADUTILS_DATA`` and
    ``SADUTILS_RESULTS`` for the test."""
    monkeypatch.setenv("SADUTILS_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SADUTILS_RESULTS", str(tmp_path / "results"))
    return tmp_path


@pytest.fixture
def demo_ws(isolated) -> Workspace:
    """An empty demo workspace in the test's temporary folder."""
    return Workspace.create("demo")


@pytest.fixture(scope="session")
def tiny_emotion_model(tmp_path_factory):
    """A sadness/others EfficientNetV2B0 at 32 px with random weights, saved: ``(path, model)``.

    Its head is perturbed so that the two probabilities are not all about 0.5.
    """
    keras.utils.set_random_seed(3)
    model = models.build_model("efficientnetv2b0", MODEL_SIZE, None, class_names=CLASS_NAMES)
    dense = model.get_layer("probabilities")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel + np.random.default_rng(0).normal(0, 1.0, kernel.shape), bias])
    path = models.save_model(model, tmp_path_factory.mktemp("models") / "emotion.keras")
    return path, model


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory) -> Path:
    """A text/no_text EfficientNetV2B0 at 32 px with random weights, saved."""
    path = tmp_path_factory.mktemp("models") / "text_classifier.keras"
    models.save_model(models.build_model("efficientnetv2b0", MODEL_SIZE, None,
                                         class_names=TEXT_CLASS_NAMES), path)
    return path


def _write_jpeg(path: Path, seed: int, size=(40, 48)) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="session")
def write_jpeg():
    """``write_jpeg(path, seed, size=(height, width))``: a random-noise JPEG at ``path``
    (folders created); returns the path."""
    return _write_jpeg


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "end_to_end: a slow test running a whole step on the tiny demo data "
                   "(deselect with -m 'not end_to_end')")
