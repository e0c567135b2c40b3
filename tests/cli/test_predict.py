"""``sadutils predict``: a tiny saved model classifying a folder with good and bad files.

The model is conftest's ``tiny_emotion_model`` (EfficientNetV2B0 at 32 px, random weights with a
perturbed head): the tests check that the command reports what the model computes, not that it
recognises anything.
"""
from __future__ import annotations

import json
import shutil
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

from sadutils import models
from sadutils.cli import build_parser, main
from sadutils.data.images import load_rgb_array

SIZE = 32  # conftest's MODEL_SIZE


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """good.png, sub/photo.jpg (other sizes than the model's), broken.jpg, notes.txt."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(root / "good.png")
    (root / "sub").mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(
        root / "sub" / "photo.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    (root / "notes.txt").write_text("not an image, and not named like one\n")
    return root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _expected(model, path):
    """The model's probabilities for one file, computed without the command."""
    x = load_rgb_array(path, SIZE)[None].astype("float32")
    return np.asarray(model(x, training=False))[0]


def test_predict_folder_text_output(tiny_emotion_model, folder, capsys):
    path, model = tiny_emotion_model
    code, out, err = run(capsys, "predict", path, folder)
    assert code == 1  # one file could not be read
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(folder / "good.png"),
                                                       str(folder / "sub" / "photo.jpg")]
    for line in lines:
        file, sad, others, label = line.split("\t")
        p = _expected(model, file)
        assert sad == f"sadness={p[0]:.4f}" and others == f"others={p[1]:.4f}"
        assert label == f"label={['sadness', 'others'][int(np.argmax(p))]}"
    err_lines = err.strip().splitlines()
    assert len(err_lines) == 2
    assert err_lines[0].startswith(f"sadutils: {folder / 'broken.jpg'}: ")
    assert any(word in err_lines[0] for word in ("truncated", "decode", "not an image"))
    assert err_lines[1] == "sadutils: 2 of 3 images classified, 1 could not be read"
    assert "notes.txt" not in out + err  # not an image file: not even tried


def test_predict_json_lines(tiny_emotion_model, folder, capsys):
    path, model = tiny_emotion_model
    code, out, err = run(capsys, "predict", path, folder, "--json", "--batch-size", "1")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in records] == [str(folder / "broken.jpg"), str(folder / "good.png"),
                                            str(folder / "sub" / "photo.jpg")]
    bad, *good = records
    assert set(bad) == {"path", "error"} and bad["error"]
    for record in good:
        assert set(record) == {"path", "probabilities", "label"}
        probs = record["probabilities"]
        assert list(probs) == ["sadness", "others"]
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert record["label"] == max(probs, key=probs.get)
        assert np.allclose(list(probs.values()), _expected(model, record["path"]), atol=1e-5)
    assert "1 could not be read" in err


def test_predict_all_good_files_exit_zero_and_batching_does_not_matter(tiny_emotion_model,
                                                                        folder, capsys):
    path, _ = tiny_emotion_model
    files = [folder / "sub" / "photo.jpg", folder / "good.png", folder / "good.png"]
    code, out, err = run(capsys, "predict", path, *files, "--json", "--batch-size", "1")
    assert code == 0 and err == ""
    one = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in one] == [str(files[0]), str(files[1])]  # in order, no repeats
    code, out, _ = run(capsys, "predict", path, *files, "--json", "--batch-size", "64")
    assert code == 0
    many = [json.loads(line) for line in out.splitlines()]
    for a, b in zip(one, many):
        assert a["label"] == b["label"]
        assert np.allclose(list(a["probabilities"].values()), list(b["probabilities"].values()),
                           atol=1e-5)


@pytest.fixture(scope="module")
def small_model():
    """A very small sadness/others model (pooling and a dense head): quick to save and load."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="probabilities",
                                 kernel_initializer=keras.initializers.RandomNormal(seed=1))(x)
    model = keras.Model(inputs, outputs)
    models.set_class_names(model, ["others", "sadness"])  # not the usual order, on purpose
    return model


def test_predict_needs_the_keras_file_alone(small_model, folder, tmp_path, capsys):
    """The class names travel inside the .keras file: no sidecar file is needed."""
    alone = tmp_path / "moved" / "renamed.keras"
    models.save_model(small_model, tmp_path / "saved.keras")
    alone.parent.mkdir()
    shutil.copy(tmp_path / "saved.keras", alone)
    assert list(alone.parent.iterdir()) == [alone]
    with zipfile.ZipFile(alone) as archive:
        assert models.CLASS_NAMES_ENTRY in archive.namelist()
    code, out, err = run(capsys, "predict", alone, folder / "good.png", "--json")
    assert code == 0 and err == ""
    record = json.loads(out)
    assert list(record["probabilities"]) == ["others", "sadness"]
    assert np.allclose(list(record["probabilities"].values()),
                       _expected(small_model, folder / "good.png"), atol=1e-5)


def test_predict_plain_keras_file_numbers_the_classes(small_model, folder, tmp_path, capsys):
    """A model saved by Keras itself (no class names stored) still classifies."""
    plain = tmp_path / "plain.keras"
    small_model.save(plain)
    code, out, _ = run(capsys, "predict", plain, folder / "good.png", "--json")
    assert code == 0
    assert list(json.loads(out)["probabilities"]) == ["class_0", "class_1"]


def test_predict_named_bad_files_are_reported_not_fatal(tiny_emotion_model, folder, capsys):
    path, _ = tiny_emotion_model
    code, out, err = run(capsys, "predict", path, folder / "notes.txt", folder / "missing.png",
                         folder / "good.png", "--json")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [("error" in r) for r in records] == [True, True, False]
    assert "not an image" in records[0]["error"]
    assert "file not found" in records[1]["error"]
    assert records[2]["path"] == str(folder / "good.png")
    assert "1 of 3 images classified" in err


def test_predict_usage_errors(tiny_emotion_model, folder, tmp_path, capsys):
    path, _ = tiny_emotion_model
    code, out, err = run(capsys, "predict", tmp_path / "nope.keras", folder)
    assert code == 2 and out == ""
    assert err == f"sadutils: error: model file not found: {tmp_path / 'nope.keras'}\n"

    fake = tmp_path / "fake.keras"
    fake.write_text("not a model")
    code, out, err = run(capsys, "predict", fake, folder)
    assert code == 2 and out == ""
    assert err.startswith(f"sadutils: error: cannot load model {fake}: ")
    assert len(err.strip().splitlines()) == 1

    code, _, err = run(capsys, "predict", path, folder, "--batch-size", "0")
    assert code == 2 and "--batch-size must be at least 1" in err

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no pictures here")
    code, out, err = run(capsys, "predict", path, empty)
    assert code == 2 and out == ""
    assert err.strip().splitlines()[-1] == f"sadutils: error: no image files to classify in {empty}"

    code, _, err = run(capsys, "predict", path)  # no IMAGE: argparse's usage error
    assert code == 2 and "IMAGE" in err


def test_predict_is_listed_with_its_help():
    parser = build_parser()
    assert "predict" in parser.format_help()
    sub = next(a for a in parser._actions if a.dest == "command").choices["predict"]
    help_text = sub.format_help()
    for word in ("MODEL", "IMAGE", "--json", "--batch-size"):
        assert word in help_text
