"""Removing text from an image and measuring whether a model relies on it.

Masking is checked against boxes drawn at known places; reliance against two tiny models built
by hand: one that reads the image's (white) text by construction, and one that cannot see the
part of the image where the text is. Every model and number here is made for the test.
"""
from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from sadutils import models
from sadutils.analysis import text_ablation, text_reliance
from sadutils.config import CLASS_NAMES
from sadutils.data.images import load_rgb_array
from sadutils.demo.text import draw_label_caption
from sadutils.provenance import provenance
from sadutils.records import Record

#: The "text" of the test images: a white block, as fractions of width and height.
BOX = np.array([[0.2, 0.7], [0.8, 0.7], [0.8, 0.85], [0.2, 0.85]])
SIZE = 32


def _image(path, seed: int, box=BOX, side: int = 64):
    """A grey noise image with a white block (the "text") at ``box``; returns the path."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(70, 150, (side, side, 3)).astype(np.uint8)
    im = Image.fromarray(pixels)
    if box is not None:
        ImageDraw.Draw(im).polygon([tuple(p) for p in (np.asarray(box) * side).tolist()],
                                   fill=(255, 255, 255))
    im.save(path)
    return str(path)


def test_region_mask_covers_the_box_and_its_margin():
    square = [np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.5], [0.25, 0.5]])]
    mask = text_reliance.region_mask(square, 40, 40, margin=0)
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 20, 10, 30)
    wider = text_reliance.region_mask(square, 40, 40, margin=0.05)  # 2 px on a 40 px side
    rows, cols = np.nonzero(wider)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (8, 22, 8, 32)
    assert not text_reliance.region_mask([], 40, 40).any()


@pytest.mark.parametrize("method", ["inpaint", "blur"])
def test_masking_changes_the_box_and_nothing_else(method):
    pixels = np.full((40, 40, 3), 90, np.uint8)
    pixels[28:34, 8:32] = 255  # the "text", where BOX lies
    mask = text_reliance.region_mask([BOX], 40, 40, margin=0.05)
    out = text_reliance.mask_image(pixels, mask, method)
    assert np.array_equal(out[~mask], pixels[~mask])
    assert out[28:34, 8:32].mean() < (120 if method == "inpaint" else 200)  # the white is gone
    assert np.array_equal(text_reliance.mask_image(pixels, np.zeros((40, 40), bool)), pixels)
    with pytest.raises(ValueError, match="unknown mask method"):
        text_reliance.mask_image(pixels, mask, "erase")
    with pytest.raises(ValueError, match="does not fit"):
        text_reliance.mask_image(pixels, mask[:10], method)


def test_masked_pixels_match_what_the_models_see(tmp_path):
    path = _image(tmp_path / "a.png", 1)
    original, masked, share = text_reliance.masked_pixels(path, [BOX], SIZE)
    assert np.array_equal(original, load_rgb_array(path, SIZE))  # the models' own decoding
    assert original.max() == 255 and masked.max() < 230             # the white block is gone
    assert 0.09 < share < 0.25
    same = text_reliance.masked_pixels(path, [], SIZE)
    assert np.array_equal(same[0], same[1]) and same[2] == 0


def test_placebo_is_the_same_shape_where_there_is_no_text():
    moved = text_reliance.placebo_regions([BOX])
    assert np.allclose(moved[0][:, 0], BOX[:, 0]) and np.allclose(moved[0][:, 1], 1 - BOX[:, 1])
    band = np.array([[0.4, 0.0], [0.6, 0.0], [0.6, 1.0], [0.4, 1.0]])  # mirrors onto itself
    assert text_reliance.placebo_regions([band]) is None
    assert text_reliance.placebo_regions([]) is None


def _probe_model(path, sees_bottom: bool):
    """P(sadness) rises with near-white pixels (the text) in what the model looks at: the
    whole image (it reads the text), or its top half only (it cannot see the text)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = inputs if sees_bottom else keras.layers.Cropping2D(((0, SIZE // 2), (0, 0)))(inputs)
    white = keras.layers.Conv2D(1, 1, activation="relu", name="white")
    x = white(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    head = keras.layers.Dense(2, activation="softmax", name="probabilities")
    model = keras.Model(inputs, head(x))
    white.set_weights([np.full((1, 1, 3, 1), 1 / 3, np.float32), np.array([-230.0], np.float32)])
    head.set_weights([np.array([[0.5, -0.5]], np.float32), np.array([-1.0, 1.0], np.float32)])
    models.set_class_names(model, CLASS_NAMES)
    return models.save_model(model, path)


def _ablation_record(ws, run_id, row, train_filter, model_path, seed, backbone="xception"):
    rec = Record(run_id=run_id, kind="text_ablation", profile=ws.name, dataset="webemo",
                 split="test", metrics={"accuracy": 0.5}, provenance=provenance(seed=seed),
                 weights={"source": "scratch", "pretrained": False, "note": "made by hand"},
                 params={"image_size": SIZE, "seed": seed, "train_filter": train_filter},
                 artifacts={"model": ws.relative(model_path)}, row=row, backbone=backbone)
    rec.write(ws)
    return rec


def test_reliance_of_a_model_that_reads_and_one_that_cannot(demo_ws, tmp_path):
    ws = demo_ws
    folder = tmp_path / "images"
    folder.mkdir()
    paths = [_image(folder / f"{i}.png", i) for i in range(6)]
    test = pd.DataFrame({"path": paths, "label": [CLASS_NAMES[i % 2] for i in range(6)]})
    reader = _probe_model(ws.models / "reader.keras", sees_bottom=True)
    blind = _probe_model(ws.models / "blind.keras", sees_bottom=False)
    rows = {"Reader, unfiltered": [_ablation_record(ws, "reader", "Reader, unfiltered", "none",
                                                    reader, 1)],
            "Blind, filtered (ocr)": [_ablation_record(ws, "blind", "Blind, filtered (ocr)",
                                                       "ocr", blind, 1)],
            # another backbone's filtered model: never paired with the Reader
            "Other, filtered (ocr)": [_ablation_record(ws, "other", "Other, filtered (ocr)",
                                                       "ocr", blind, 1, "efficientnetv2b0")]}
    probe = text_ablation.probe_images(ws, test, held_out=0)
    assert probe["source"].eq("test").all() and probe["path"].tolist() == paths
    regions = probe.assign(regions=[[BOX]] * 6,
                           placebo=[text_reliance.placebo_regions([BOX])] * 6, lines=1,
                           error=None)
    probes = text_ablation.probe_models(ws, rows, test, regions)
    assert set(probes.predictions["row"]) == set(rows) and len(probes.predictions) == 18
    flips = text_reliance.flips(probes.masked)
    table = text_reliance.reliance_table(flips).set_index("model")
    assert table.loc["Reader, unfiltered", "flip_rate"] == 1.0       # reads: every answer flips
    assert table.loc["Reader, unfiltered", "placebo_flip_rate"] == 0.0
    assert table.loc["Reader, unfiltered", "sadness_shift"] < -0.5
    assert table.loc["Blind, filtered (ocr)", "flip_rate"] == 0.0    # cannot see the text
    assert table.loc["Blind, filtered (ocr)", "placebo_flip_rate"] == 0.0
    differences = text_ablation.reliance_differences(flips, rows)
    assert [(d["a"], d["b"]) for d in differences] == [("Reader, unfiltered",
                                                        "Blind, filtered (ocr)")]
    difference = differences[0]
    assert difference["images"] == 6 and difference["difference"] == 1.0
    assert difference["ci"] == [1.0, 1.0] and difference["real"]
    same = text_reliance.reliance_difference(flips, "Blind, filtered (ocr)",
                                             "Blind, filtered (ocr)")
    assert same["difference"] == 0.0 and not same["real"]
    cams = probes.cams[probes.cams["row"] == "Reader, unfiltered"]
    assert (cams["ratio"] > 2).all()  # the reader's heat lies on the text
    shown = text_ablation.masked_examples(probes, regions, flips)
    assert shown["original"].shape == shown["masked"].shape == (6, SIZE, SIZE, 3)
    assert shown["paths"] == paths and list(shown["probabilities"]) == list(rows)
    reader_p = shown["probabilities"]["Reader, unfiltered"]
    assert (reader_p["p_sadness_masked"] < reader_p["p_sadness"]).all()


def test_cam_mass_by_hand():
    heat = np.zeros((2, 4, 4))
    heat[0, :2, :2] = 1.0           # all the heat inside
    heat[1] = 1.0                   # spread evenly
    masks = np.zeros((2, 4, 4), bool)
    masks[:, :2, :2] = True         # a quarter of the image
    out = text_reliance.cam_mass(heat, masks)
    assert out["inside"].tolist() == [1.0, 0.25] and out["area"].tolist() == [0.25, 0.25]
    assert out["ratio"].tolist() == [4.0, 1.0]
    assert np.isnan(text_reliance.cam_mass(np.zeros((1, 4, 4)), masks[:1])["inside"][0])


def test_reliance_difference_is_paired_over_images():
    frame = pd.DataFrame({
        "row": ["a"] * 4 + ["b"] * 4, "seed": 1, "path": list("wxyz") * 2,
        "flip": [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0], "placebo_flip": np.nan,
        "shift": 0.0})
    same = text_reliance.reliance_difference(frame, "a", "b")
    assert same["difference"] == 0.0 and same["ci"] == [0.0, 0.0] and not same["real"]
    assert text_reliance.reliance_difference(frame, "a", "nobody")["difference"] is None


def test_the_ocr_detector_finds_the_control_caption(tmp_path):
    canvas = Image.new("RGBA", (200, 160), (90, 100, 120, 255))
    drawn = draw_label_caption(np.random.default_rng(0), canvas, ("miss you",))
    path = tmp_path / "caption.png"
    canvas.convert("RGB").save(path)
    found = text_ablation.text_regions(pd.DataFrame({"path": [str(path)]}))
    assert found.loc[0, "lines"] >= 1 and found.loc[0, "error"] is None
    x, y, w, h = drawn[0].bbox
    region = np.asarray(found.loc[0, "regions"][0]) * [200, 160]
    centre = region.mean(axis=0)
    assert x <= centre[0] <= x + w and y <= centre[1] <= y + h  # the box is on the caption
