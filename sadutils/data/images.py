"""Opening images safely: the one place that decides what counts as a readable image.

Every part of the companion that reads pixels (dataset loaders, the downloader's check, training
input) goes through :func:`open_rgb`, so a file that passes the check here is a file that training
can read. Real downloads are messy: dead links saved as HTML, zero-byte files, cut-off JPEGs,
CMYK or 16-bit files and absurdly large images all occur. Each becomes an :class:`ImageError`
with a reason a person can act on, instead of a crash deep inside a training run.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: File extensions treated as images when walking a dataset folder (compared lower-cased).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
#: Largest image (width x height) accepted by default; bigger ones are refused before decoding.
DEFAULT_MAX_PIXELS = 60_000_000


class ImageError(ValueError):
    """A file that cannot be used as an image; ``reason`` says why in plain words.

    Attributes
    ----------
    path : str
        The offending file.
    reason : str
        Why it was refused (e.g. ``"empty file (0 bytes)"``).
    """

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


def is_image_file(path) -> bool:
    """Whether ``path`` has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return os.path.splitext(str(path))[1].lower() in IMAGE_EXTENSIONS


def _not_an_image(path: str) -> str:
    """Reason for a file Pillow cannot identify, naming the common case of a saved web page."""
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith(b"<"):
        return "not an image: HTML/XML text (e.g. an error page saved under an image name)"
    return "not an image: unrecognized file format"


def _to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB version of ``im``; transparency is composited on white.

    16-bit and 32-bit integer images are scaled down by 257 when their values exceed 255 (so
    65535 becomes 255); float images in [0, 1] are scaled by 255, other floats are clipped.
    """
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        a = np.asarray(im).astype(np.float64)
        top = np.nanmax(a) if a.size else 0
        if im.mode == "F" and top <= 1.0:
            a = a * 255.0
        elif top > 255:
            a = a / 257.0
        im = Image.fromarray(np.clip(np.nan_to_num(a), 0, 255).astype(np.uint8))
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        background.alpha_composite(im)
        im = background
    return im.convert("RGB")


def open_rgb(path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open an image file as a fully decoded, upright, 8-bit RGB Pillow image.

    The EXIF orientation tag is applied, so a phone photo comes out the way it is displayed.
    Grayscale, palette, alpha, CMYK, 16-bit and float images are converted to 8-bit RGB. The
    file extension is not trusted: a PNG saved as ``.jpg`` is read as the PNG it is.

    Parameters
    ----------
    path : str or path-like
        The image file.
    max_pixels : int or None
        Refuse images with more pixels than this before decoding them (decompression-bomb guard).
        None leaves only Pillow's own limit (``Image.MAX_IMAGE_PIXELS``, refused at twice it).

    Returns
    -------
    PIL.Image.Image in mode ``"RGB"``, detached from the file.

    Raises
    ------
    ImageError
        For a missing or empty file, a file that is not an image (e.g. HTML), a truncated or
        corrupt image, or one that is too large. Truncated files are detected, not patched
        (``ImageFile.LOAD_TRUNCATED_IMAGES`` is left alone).
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except OSError as e:
        raise ImageError(path, f"cannot read file ({e.strerror or e})") from None
    if not os.path.isfile(path):
        raise ImageError(path, "not a regular file")
    if st.st_size == 0:
        raise ImageError(path, "empty file (0 bytes)")
    try:
        with Image.open(path) as im:
            w, h = im.size
            if max_pixels and w * h > max_pixels:
                raise ImageError(path, f"too large: {w}x{h} = {w * h:,} pixels exceeds the "
                                       f"limit of {max_pixels:,} (possible decompression bomb)")
            im.load()
            try:
                upright = ImageOps.exif_transpose(im)
            except Exception:  # a broken EXIF block should not cost a good picture
                upright = im
            return _to_rgb(upright)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(path, _not_an_image(path)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(path, f"too large (possible decompression bomb): {e}") from None
    except Exception as e:  # Pillow plugins raise OSError, SyntaxError, EOFError, struct.error...
        kind = "truncated image" if "truncated" in str(e).lower() else "cannot decode image"
        raise ImageError(path, f"{kind} ({type(e).__name__}: {e})") from None


def check_image(path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> str | None:
    """Why ``path`` cannot be used as an image, or None when it opens cleanly."""
    try:
        open_rgb(path, max_pixels)
    except ImageError as e:
        return e.reason
    return None


def check_images(paths, workers: int = 4, progress: bool = False,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> dict[str, str]:
    """Check many images in parallel threads (Pillow decodes outside the GIL).

    Parameters
    ----------
    paths : iterable of str or path-like
    workers : int
        Number of threads; 1 or less checks serially.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    dict mapping each bad path (as str) to its reason; good paths are absent.
    """
    paths = [os.fspath(p) for p in paths]
    check = partial(check_image, max_pixels=max_pixels)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        reasons = pool.map(check, paths) if workers > 1 else map(check, paths)
        if progress:
            from tqdm import tqdm  # not tqdm.auto: see sadutils.inference
            reasons = tqdm(reasons, total=len(paths), desc="checking images", unit="img")
        return {p: r for p, r in zip(paths, reasons) if r is not None}


def load_rgb_array(path, size: int | None = None,
                   max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Pixels of an image as a ``uint8`` array of shape (H, W, 3).

    With ``size``, the image is resized (bilinear, aspect ratio not kept) to ``size x size``,
    the square input the paper's CNNs take. Raises :class:`ImageError` like :func:`open_rgb`.
    """
    im = open_rgb(path, max_pixels)
    if size:
        im = im.resize((int(size), int(size)), Image.Resampling.BILINEAR)
    return np.array(im, dtype=np.uint8)
