"""Tests for sadutils.data.images: every kind of bad file is refused with a reason, odd modes become RGB."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from sadutils.data.images import (IMAGE_EXTENSIONS, ImageError, check_image, check_images,
                                  is_image_file, load_rgb_array, open_rgb)


def _noise(h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png_header(path, width, height):
    """A PNG that only claims its size (IHDR + IEND): what a decompression bomb looks like."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


@pytest.fixture
def bad_files(tmp_path):
    """One file per kind of breakage, with a word the reason must contain."""
    good = tmp_path / "good.jpg"
    Image.fromarray(_noise()).save(good, quality=95)
    data = good.read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("just some words\n")
    (tmp_path / "page.jpg").write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    _png_header(tmp_path / "bomb.png", 100_000, 100_000)
    png = tmp_path / "png.png"
    Image.fromarray(_noise()).save(png)
    (tmp_path / "truncated.png").write_bytes(png.read_bytes()[:200])
    return {
        "truncated.jpg": "truncated", "empty.jpg": "empty", "text.jpg": "not an image",
        "page.jpg": "HTML", "bomb.png": "too large", "truncated.png": "truncated",
        "missing.jpg": "not found",
    }


def test_bad_files_have_reasons(tmp_path, bad_files):
    for name, word in bad_files.items():
        reason = check_image(tmp_path / name)
        assert reason is not None and word.lower() in reason.lower(), (name, reason)
        with pytest.raises(ImageError) as err:
            open_rgb(tmp_path / name)
        assert err.value.path == str(tmp_path / name) and err.value.reason == reason
        assert str(err.value) == f"{tmp_path / name}: {reason}"
    assert check_image(tmp_path / "good.jpg") is None
    assert check_image(tmp_path) == "not a regular file"


def test_check_images_maps_only_bad(tmp_path, bad_files):
    paths = [tmp_path / n for n in bad_files] + [tmp_path / "good.jpg", tmp_path / "png.png"]
    for workers in (1, 4):
        bad = check_images(paths, workers=workers)
        assert set(bad) == {str(tmp_path / n) for n in bad_files}
    assert check_images([], workers=2) == {}


def test_max_pixels_refuses_before_decoding(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(_noise(100, 100)).save(path)
    assert "too large" in check_image(path, max_pixels=5000)
    assert check_image(path, max_pixels=10_000) is None


def test_wrong_extension_with_valid_content_is_accepted(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    Image.fromarray(_noise()).save(path, format="PNG")
    assert open_rgb(path).size == (64, 48)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP", "TIFF"])
def test_other_formats(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(_noise()).save(path, format=fmt)
    assert load_rgb_array(path).shape == (48, 64, 3)


def test_modes_become_rgb(tmp_path):
    gray = Image.fromarray(np.full((8, 8), 100, np.uint8))
    cases = {
        "gray.png": (gray, (100, 100, 100)),
        "bw.png": (gray.convert("1", dither=Image.Dither.NONE), (0, 0, 0)),
        "la.png": (Image.new("LA", (8, 8), (0, 0)), (255, 255, 255)),  # transparent -> white
        "rgba.png": (Image.new("RGBA", (8, 8), (255, 0, 0, 0)), (255, 255, 255)),
        "rgba_opaque.png": (Image.new("RGBA", (8, 8), (255, 0, 0, 255)), (255, 0, 0)),
        "cmyk.jpg": (Image.new("CMYK", (8, 8), (0, 255, 255, 0)), None),
        "16bit.png": (Image.fromarray(np.full((8, 8), 65535, np.uint16)), (255, 255, 255)),
        "float.tif": (Image.fromarray(np.full((8, 8), 0.5, np.float32)), (127, 127, 127)),
        "int32.tif": (Image.fromarray(np.full((8, 8), 200, np.int32)), (200, 200, 200)),
    }
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    cases["palette.png"] = (pal, (0, 255, 0))
    cases["palette_transparent.png"] = (pal, (255, 255, 255))
    for name, (im, pixel) in cases.items():
        path = tmp_path / name
        im.save(path, **({"transparency": 1} if name == "palette_transparent.png" else {}))
        rgb = open_rgb(path)
        assert rgb.mode == "RGB" and rgb.size == (8, 8), name
        arr = load_rgb_array(path)
        assert arr.dtype == np.uint8 and arr.shape == (8, 8, 3), name
        if pixel is not None:
            assert tuple(arr[0, 0]) == pixel, (name, arr[0, 0])
    r, g, b = load_rgb_array(tmp_path / "cmyk.jpg")[0, 0]
    assert r > 200 and g < 60 and b < 60  # CMYK (0, 255, 255, 0) is red


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display after rotating 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    Image.fromarray(arr).save(path, exif=exif, quality=100)
    out = load_rgb_array(path)
    assert out.shape == (20, 10, 3)
    assert out[2, 5].mean() > 200 and out[17, 5].mean() < 50  # left half is now on top


def test_resize_and_extensions(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(_noise()).save(path)
    arr = load_rgb_array(path, size=32)
    assert arr.shape == (32, 32, 3) and arr.dtype == np.uint8 and arr.flags.writeable
    assert is_image_file("X.JPG") and is_image_file("a/b.tiff") and not is_image_file("README.txt")
    assert not is_image_file(".DS_Store") and ".webp" in IMAGE_EXTENSIONS
