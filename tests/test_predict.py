"""``sadutils predict``: a tiny saved model classifying a folder with good and bad files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sadutils import models
from sadutils.cli import build_parser, main
from sadutils.images import load_rgb_array

SIZE = 32


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """An EfficientNetV2-B0 at 32 px, saved with its class names, and the model itself."""
    import keras

    keras.utils.set_random_seed(3)
    model = models.build_model("efficientnetv2b0", SIZE, weights=None)
    dense = model.get_layer("probabilities")
    kernel, bias = dense.get_weights()
    # a head that separates images, so the two probabilities are not all about 0.5
    dense.set_weights([kernel + np.random.default_rng(0).normal(0, 1.0, kernel.shape), bias])
    path = models.save_model(model, tmp_path_factory.mktemp("model") / "tiny.keras")
    return path, model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """good.png, sub/photo.jpg (other sizes than the model's), broken.jpg, notes.txt."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(root / "good.png")
    (root / "sub").mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(root / "sub" / "photo.jpg")
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


def test_predict_folder_text_output(saved_model, folder, capsys):
    path, model = saved_model
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


def test_predict_json_lines(saved_model, folder, capsys):
    path, model = saved_model
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


def test_predict_all_good_files_exit_zero_and_batching_does_not_matter(saved_model, folder,
                                                                        capsys):
    path, _ = saved_model
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


def test_predict_named_bad_files_are_reported_not_fatal(saved_model, folder, capsys):
    path, _ = saved_model
    code, out, err = run(capsys, "predict", path, folder / "notes.txt", folder / "missing.png",
                         folder / "good.png", "--json")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [("error" in r) for r in records] == [True, True, False]
    assert "not an image" in records[0]["error"]
    assert "file not found" in records[1]["error"]
    assert records[2]["path"] == str(folder / "good.png")
    assert "1 of 3 images classified" in err


def test_predict_usage_errors(saved_model, folder, tmp_path, capsys):
    path, _ = saved_model
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
