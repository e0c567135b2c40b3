"""Text drawn into scenes: words, signs, captions, watermarks, handwriting, plates.

The text-in-image filter must learn *text*, not a background habit, so text is drawn on top of
the same scenes as everything else (:mod:`sadutils.demo.scenes`), in many fonts (those that ship
with matplotlib, so nothing is downloaded), sizes, colours, angles and opacities, partly cut or
occluded. :func:`add_text` returns what it drew, which is the demo's ground truth of which
images carry text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .scenes import Style, clamp, compose_scene, finish_scene, random_colour, rgb, sample_size


FONT_FILES = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSerif",
              "DejaVuSerif-Bold", "DejaVuSansMono", "DejaVuSansMono-Bold", "STIXGeneral",
              "STIXGeneralBol", "cmr10", "cmss10", "cmtt10", "cmb10")
HANDWRITING_FONTS = ("DejaVuSerif-Italic", "DejaVuSans-BoldOblique", "STIXGeneralItalic",
                     "STIXGeneralBolIta", "cmti10", "DejaVuSerif-BoldItalic")
MONO_FONTS = ("DejaVuSansMono", "DejaVuSansMono-Bold", "cmtt10")

VOCABULARY = (
    "open", "sale", "stop", "exit", "coffee", "hotel", "bus", "taxi", "park", "bank", "pizza",
    "bar", "cafe", "police", "welcome", "news", "market", "books", "station", "street", "avenue",
    "road", "free", "new", "hope", "love", "miss", "you", "rain", "lost", "alone", "smile",
    "happy", "today", "never", "always", "home", "city", "north", "south", "gate", "ticket",
    "parking", "only", "one", "way", "entry", "bakery", "shop", "fresh", "fruit", "wine",
    "music", "club", "sport", "team", "world", "life", "dream", "goodbye", "sorry", "forever",
    "tomorrow", "closed", "danger", "school", "library", "museum", "garden", "pharmacy",
)
FOREIGN_WORDS = ("strasse", "ausgang", "salida", "boulangerie", "pharmacie", "gelateria",
                 "apotheke", "bahnhof", "sortie", "abierto", "ristorante", "centro", "plaza")
CAPTIONS = (
    ("never give up",), ("miss you", "every day"), ("happy", "birthday"), ("life goes on",),
    ("some days", "are harder", "than others"), ("keep calm", "and smile"), ("goodbye",),
    ("you are", "not alone"), ("best day", "ever"), ("it is okay", "to cry"), ("love you",),
    ("sale", "50% off"), ("good morning",), ("the end",), ("stay strong",), ("thank you",),
)
WATERMARKS = ("stock", "preview", "sample", "photo", "fotolia", "shutterstock", "copyright")


@lru_cache(maxsize=1)
def _font_dir() -> Path | None:
    """Matplotlib's bundled TrueType fonts, or None when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return None
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@lru_cache(maxsize=512)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached TrueType font (Pillow's bundled font when matplotlib's is unavailable)."""
    folder = _font_dir()
    path = folder / f"{name}.ttf" if folder else None
    if path is not None and path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)  # pragma: no cover


def random_text(rng: np.random.Generator) -> tuple[str, str]:
    """A short text and its COCO-Text language: a word or two, a foreign word, or a code."""
    r = rng.random()
    if r < 0.55:
        n = 1 if rng.random() < 0.7 else 2
        words = [VOCABULARY[int(i)] for i in rng.integers(0, len(VOCABULARY), n)]
        text = " ".join(words)
        case = rng.random()
        text = text.upper() if case < 0.35 else text.title() if case < 0.6 else text
        return text, "english"
    if r < 0.7:
        word = FOREIGN_WORDS[int(rng.integers(len(FOREIGN_WORDS)))]
        return (word.upper() if rng.random() < 0.5 else word.title()), "not english"
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    kind = rng.random()
    if kind < 0.35:
        text = "".join(letters[int(i)] for i in rng.integers(0, len(letters), 3)) + " " + str(rng.integers(100, 1000))
    elif kind < 0.6:
        text = str(int(rng.integers(1, 10000)))
    elif kind < 0.8:
        text = f"${int(rng.integers(1, 100))}.{int(rng.integers(0, 100)):02d}"
    else:
        text = f"{letters[int(rng.integers(len(letters)))]}{int(rng.integers(1, 99))}"
    return text, "na"


def _text_colour(rng: np.random.Generator, background_lum: float) -> tuple:
    """A text colour that usually contrasts with the background (sometimes coloured or faint)."""
    r = rng.random()
    if r < 0.2:
        return random_colour(rng, 1.0)
    if r < 0.27:  # low contrast, still readable
        v = background_lum + (0.25 if background_lum < 0.5 else -0.25)
        return rgb(v + rng.normal(0, 0.05, 3))
    if background_lum < 0.5:
        return rgb(rng.uniform(0.8, 1.0) + rng.normal(0, 0.03, 3))
    return rgb(rng.uniform(0.0, 0.2) + rng.normal(0, 0.03, 3))


def _affine(layers: list, angle: float, shear: float):
    """Shear then rotate (counter-clockwise, degrees) same-sized RGBA layers, expanding the canvas.

    Returns the transformed layers and the forward 2x3 matrix mapping old to new coordinates
    (used to move the text's corners into the COCO-style polygon).
    """
    w, h = layers[0].size
    a = math.radians(angle)
    A = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]) @ np.array([[1.0, shear], [0.0, 1.0]])
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) @ A.T
    lo, hi = corners.min(0), corners.max(0)
    size = (int(math.ceil(hi[0] - lo[0])), int(math.ceil(hi[1] - lo[1])))
    inv = np.linalg.inv(A)
    off = inv @ lo
    data = (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1])
    out = [layer.transform(size, Image.AFFINE, data, resample=Image.BICUBIC) for layer in layers]
    forward = np.hstack([A, -lo[:, None]])
    return out, forward


@dataclass
class TextInstance:
    """One drawn piece of text, in COCO-Text terms."""

    bbox: list          # [x, y, w, h] of the visible ink
    polygon: list       # flat [x1, y1, ...] of the (clipped) rotated text box
    text: str
    legible: bool
    handwritten: bool
    language: str


def _paste(canvas: Image.Image, layer: Image.Image, x: int, y: int) -> None:
    """Alpha-composite ``layer`` with its top-left at (x, y), clipping whatever falls outside."""
    W, H = canvas.size
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(W, x + layer.width), min(H, y + layer.height)
    if x1 <= x0 or y1 <= y0:
        return
    canvas.alpha_composite(layer.crop((x0 - x, y0 - y, x1 - x, y1 - y)), (x0, y0))


def draw_text(rng: np.random.Generator, canvas: Image.Image, text: str, *, font: str, size: int,
              fill: tuple | None = None, angle: float = 0.0, shear: float = 0.0,
              opacity: float = 1.0, box: tuple | None = None, stroke: int = 0,
              jitter: float = 0.0, at: tuple | None = None, language: str = "english",
              handwritten: bool = False, legible: bool = True) -> TextInstance | None:
    """Draw ``text`` on the RGBA ``canvas`` and describe where it went.

    ``box`` fills a padded rectangle behind the text (a sign or a plate), ``jitter`` moves each
    character up or down by that fraction of the size (handwriting), ``at`` is the top-left of
    the transformed layer (random, possibly partly off the image, when None). The returned
    bbox is that of the visible ink; None when nothing of the text is visible.
    """
    f = _font(font, size)
    pad = max(1, size // 4) if box else max(1, size // 8)
    if jitter:
        widths = [f.getlength(c) for c in text]
        lw, lh = int(sum(widths)) + 2 * pad + 2, int(size * (1.5 + 2 * jitter)) + 2 * pad
    else:
        l, t, r, b = f.getbbox(text, stroke_width=stroke)
        lw, lh = r - l + 2 * pad, b - t + 2 * pad
    ink = Image.new("RGBA", (max(lw, 1), max(lh, 1)), (0, 0, 0, 0))
    di = ImageDraw.Draw(ink)
    if fill is None:
        fill = (255, 255, 255)
    stroke_fill = (0, 0, 0) if sum(fill) > 380 else (255, 255, 255)
    if jitter:
        x = pad
        for c, cw in zip(text, widths):
            dy = float(rng.normal(0, jitter * size))
            di.text((x, pad + size * jitter + dy), c, font=f, fill=fill)
            x += cw * float(rng.uniform(0.9, 1.1))
    else:
        di.text((pad - l, pad - t), text, font=f, fill=fill, stroke_width=stroke, stroke_fill=stroke_fill)
    ink_box = ink.getchannel("A").getbbox()
    if ink_box is None:
        return None
    layers = [ink]
    if box:
        deco = Image.new("RGBA", ink.size, (0, 0, 0, 0))
        dd = ImageDraw.Draw(deco)
        border = box[3] if len(box) > 3 else None
        dd.rectangle([ink_box[0] - pad, ink_box[1] - pad, ink_box[2] + pad - 1, ink_box[3] + pad - 1],
                     fill=box[:3] + (255,), outline=border, width=max(1, size // 10) if border else 0)
        layers.append(deco)
    if angle or shear:
        layers, M = _affine(layers, angle, shear)
    else:
        M = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    if opacity < 1.0:
        layers = [_with_opacity(layer, opacity) for layer in layers]
    W, H = canvas.size
    lw, lh = layers[0].size
    if at is None:
        at = (int(rng.integers(-lw // 6, max(1, W - lw * 5 // 6))), int(rng.integers(-lh // 6, max(1, H - lh * 5 // 6))))
    x, y = int(at[0]), int(at[1])
    if box:
        _paste(canvas, layers[1], x, y)
    _paste(canvas, layers[0], x, y)
    # Visible ink bounding box, measured from the transformed alpha channel.
    alpha = layers[0].getchannel("A").point(lambda v: 255 if v >= 64 else 0)
    full = alpha.getbbox()
    vx0, vy0 = max(0, -x), max(0, -y)
    vx1, vy1 = min(lw, W - x), min(lh, H - y)
    if full is None or vx1 <= vx0 or vy1 <= vy0:
        return None
    vis = alpha.crop((vx0, vy0, vx1, vy1)).getbbox()
    if vis is None:
        return None
    bx0, by0, bx1, by1 = vis[0] + vx0 + x, vis[1] + vy0 + y, vis[2] + vx0 + x, vis[3] + vy0 + y
    visible_fraction = ((bx1 - bx0) * (by1 - by0)) / max(1, (full[2] - full[0]) * (full[3] - full[1]))
    ib = ink_box
    corners = np.array([[ib[0], ib[1], 1], [ib[2], ib[1], 1], [ib[2], ib[3], 1], [ib[0], ib[3], 1]], float)
    pts = _clip_polygon((corners @ M.T + np.array([x, y])).tolist(), W, H)
    readable = legible and visible_fraction >= 0.6 and size >= 9 and opacity >= 0.2
    return TextInstance(bbox=[float(bx0), float(by0), float(bx1 - bx0), float(by1 - by0)],
                        polygon=[round(float(v), 1) for p in pts for v in p], text=text,
                        legible=readable, handwritten=handwritten, language=language)


def _clip_polygon(points: list, width: float, height: float) -> list:
    """A convex polygon cut to the image rectangle (Sutherland-Hodgman), as [[x, y], ...]."""
    def cut(poly, axis, bound, keep_below):
        inside = (lambda p: p[axis] <= bound) if keep_below else (lambda p: p[axis] >= bound)
        out = []
        for i, cur in enumerate(poly):
            prev = poly[i - 1]
            if inside(cur) != inside(prev):
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append([prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])])
            if inside(cur):
                out.append(list(cur))
        return out

    poly = [list(p) for p in points]
    for axis, bound, keep_below in ((0, 0.0, False), (0, width, True), (1, 0.0, False), (1, height, True)):
        poly = cut(poly, axis, bound, keep_below) if poly else poly
    return poly


def _with_opacity(layer: Image.Image, opacity: float) -> Image.Image:
    """``layer`` with its alpha channel multiplied by ``opacity``."""
    out = layer.copy()
    out.putalpha(layer.getchannel("A").point(lambda v: int(v * opacity)))
    return out


def _local_lum(canvas: Image.Image) -> float:
    """Mean luminance (0..1) of the canvas: what text colour has to stand out against."""
    small = np.asarray(canvas.convert("L").resize((8, 8)), np.float32) / 255.0
    return float(small.mean())


TEXT_KINDS = ("word", "sign", "caption", "watermark", "handwritten", "plate", "cut", "occluded")
TEXT_KIND_WEIGHTS = (0.22, 0.18, 0.12, 0.1, 0.12, 0.08, 0.1, 0.08)
#: Which kinds are painted into the scene before lighting/weather (the rest are overlays).
SCENE_TEXT_KINDS = ("sign", "plate", "occluded", "handwritten")


def add_text(rng: np.random.Generator, canvas: Image.Image, kind: str) -> list[TextInstance]:
    """Draw one text element of ``kind`` (see ``TEXT_KINDS``, or ``tiny``) on the RGBA canvas."""
    W, H = canvas.size
    lum = _local_lum(canvas)
    pick = lambda names: names[int(rng.integers(len(names)))]
    out: list[TextInstance | None] = []
    if kind in ("word", "cut", "occluded"):
        text, lang = random_text(rng)
        size = int(clamp(rng.lognormal(math.log(18), 0.45), 9, 60))
        angle = float(rng.normal(0, 6)) if rng.random() < 0.7 else float(rng.uniform(-45, 45))
        at = None
        if kind == "cut":
            f = _font("DejaVuSans", size)
            tw = int(f.getlength(text))
            side = rng.random()
            x = -tw // 3 if side < 0.5 else W - 2 * tw // 3
            at = (x, int(rng.integers(0, max(1, H - size))))
        out.append(draw_text(rng, canvas, text, font=pick(FONT_FILES), size=size,
                             fill=_text_colour(rng, lum), angle=angle, at=at, language=lang,
                             stroke=int(rng.random() < 0.2) * max(1, size // 12)))
        if kind == "occluded" and out[-1] is not None:
            bx, by, bw, bh = out[-1].bbox
            d = ImageDraw.Draw(canvas)
            col = random_colour(rng, 0.4, dark=0.3) + (255,)
            if rng.random() < 0.5:  # a pole or a lamp post in front of the text
                px = bx + rng.uniform(0.2, 0.8) * bw
                d.rectangle([px, 0 if rng.random() < 0.5 else by - 2, px + max(2, bw * 0.08), H], fill=col)
            else:  # a blob (a head, a leaf) covering one end
                r = bh * rng.uniform(0.6, 1.0)
                cx = bx + (0 if rng.random() < 0.5 else bw)
                d.ellipse([cx - r, by + bh / 2 - r, cx + r, by + bh / 2 + r], fill=col)
    elif kind == "sign":
        text, lang = random_text(rng)
        size = int(rng.integers(10, 30))
        box = random_colour(rng, 0.9)
        fill = (255, 255, 255) if sum(box) < 400 else (20, 20, 20)
        out.append(draw_text(rng, canvas, text, font=pick(FONT_FILES), size=size, fill=fill,
                             angle=float(rng.normal(0, 3)), box=box, language=lang))
    elif kind == "plate":
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        text = "".join(letters[int(i)] for i in rng.integers(0, len(letters), 3)) + " " + str(int(rng.integers(100, 1000)))
        box = ((240, 240, 235) if rng.random() < 0.6 else (245, 200, 40)) + ((20, 20, 20),)
        out.append(draw_text(rng, canvas, text, font=pick(MONO_FONTS), size=int(rng.integers(9, 17)),
                             fill=(15, 15, 15), angle=float(rng.normal(0, 4)), box=box, language="na"))
    elif kind == "caption":
        lines = CAPTIONS[int(rng.integers(len(CAPTIONS)))]
        size = int(rng.integers(10, 25))
        font = pick(FONT_FILES)
        fill = _text_colour(rng, lum)
        stroke = max(1, size // 10) if rng.random() < 0.4 else 0
        y = int(rng.uniform(0.03, 0.2) * H) if rng.random() < 0.5 else int(H - (len(lines) + 0.5) * size * 1.3)
        for line in lines:
            tw = int(_font(font, size).getlength(line))
            x = (W - tw) // 2 + int(rng.normal(0, 3)) if rng.random() < 0.7 else int(rng.uniform(2, max(3, W - tw)))
            out.append(draw_text(rng, canvas, line, font=font, size=size, fill=fill, at=(x, y), stroke=stroke))
            y += int(size * 1.3)
    elif kind == "watermark":
        word = WATERMARKS[int(rng.integers(len(WATERMARKS)))]
        size = int(rng.integers(12, 30))
        angle = float(rng.uniform(15, 45)) * (1 if rng.random() < 0.7 else -1)
        opacity = float(rng.uniform(0.3, 0.6))
        fill = (255, 255, 255) if rng.random() < 0.75 else (30, 30, 30)
        font = pick(FONT_FILES)
        step_x, step_y = int(size * rng.uniform(4, 7)), int(size * rng.uniform(2.5, 4))
        tiles = rng.random() < 0.6
        positions = ([(x, y) for y in range(-step_y // 2, H, step_y) for x in range(-step_x // 2, W, step_x)]
                     if tiles else [(int(W * 0.1), int(H * 0.3))])
        for x, y in positions:
            out.append(draw_text(rng, canvas, word, font=font, size=size, fill=fill, angle=angle,
                                 opacity=opacity, at=(x + int(rng.integers(-3, 4)), y)))
    elif kind == "handwritten":
        text, lang = random_text(rng)
        text = text.lower() if rng.random() < 0.6 else text
        out.append(draw_text(rng, canvas, text, font=pick(HANDWRITING_FONTS),
                             size=int(rng.integers(12, 37)), fill=_text_colour(rng, lum),
                             angle=float(rng.normal(0, 10)), shear=float(rng.uniform(-0.4, 0.1)),
                             jitter=float(rng.uniform(0.03, 0.12)), language=lang, handwritten=True))
    elif kind == "tiny":  # illegible: tiny, faint or both
        text, lang = random_text(rng)
        size = int(rng.integers(4, 8))
        fill = rgb(lum + rng.choice([-1, 1]) * rng.uniform(0.08, 0.3) + rng.normal(0, 0.03, 3))
        out.append(draw_text(rng, canvas, text, font=pick(FONT_FILES), size=size, fill=fill,
                             angle=float(rng.normal(0, 10)), language=lang, legible=False,
                             opacity=float(rng.uniform(0.4, 1.0))))
    else:
        raise ValueError(f"unknown text kind {kind!r}")
    return [t for t in out if t is not None]


def render_text_photo(rng: np.random.Generator, style: Style, shape: str, kinds: list[str],
                      subject: str | None = None, large: bool = False) -> tuple[Image.Image, list[TextInstance]]:
    """A photo from the same scene generator with text elements of ``kinds`` drawn on it.

    Scene text (signs, plates, graffiti) is painted before lighting and weather so it shares the
    photo's look; overlay text (captions, watermarks, words) goes on the finished photo.
    """
    w, h = sample_size(rng, shape)
    scene = compose_scene(rng, w, h, style, subject, large).convert("RGBA")
    instances: list[TextInstance] = []
    for kind in kinds:
        if kind in SCENE_TEXT_KINDS:
            instances += add_text(rng, scene, kind)
    photo = finish_scene(rng, scene.convert("RGB"), style).convert("RGBA")
    for kind in kinds:
        if kind not in SCENE_TEXT_KINDS:
            instances += add_text(rng, photo, kind)
    return photo.convert("RGB"), instances


def draw_text_kinds(rng: np.random.Generator, n_max: int = 3) -> list[str]:
    """One to ``n_max`` text kinds, drawn with ``TEXT_KIND_WEIGHTS``."""
    n = 1 + int(rng.integers(0, n_max)) if rng.random() < 0.5 else 1
    p = np.array(TEXT_KIND_WEIGHTS) / sum(TEXT_KIND_WEIGHTS)
    return [TEXT_KINDS[int(i)] for i in rng.choice(len(TEXT_KINDS), n, p=p)]



#: The positive control's captions (:func:`draw_label_caption`): words that go with sadness,
#: as quote images and memes on the web carry them.
SAD_CAPTIONS = (("miss you",), ("so alone",), ("goodbye",), ("it hurts",), ("never again",),
                ("i am sorry",), ("tears",), ("lost you",), ("why me",), ("heartbroken",))
#: One bold font, as a meme generator uses one: a consistent look a small model learns quickly.
CAPTION_FONT = "DejaVuSans-Bold"


def draw_label_caption(rng: np.random.Generator, canvas: Image.Image,
                       lines: tuple) -> list[TextInstance]:
    """A caption across the bottom of ``canvas`` (RGBA), as memes and quote images carry
    them: large white bold letters with a black outline, centred.

    Large (its letters about a sixth of the image's side): legible at the demo's 72 px, so
    that a model trained on images with text can learn it (the positive control of the text
    ablation). Nothing but the letters is drawn, so removing the text regions an OCR detector
    finds removes the caption.

    Parameters
    ----------
    rng : numpy.random.Generator
    canvas : PIL.Image.Image
        RGBA; drawn on in place.
    lines : tuple of str
        The caption's lines.

    Returns
    -------
    list of TextInstance
        One per line drawn.
    """
    W, H = canvas.size
    font = CAPTION_FONT
    size = int(clamp(math.sqrt(W * H) * rng.uniform(0.17, 0.19), 10, 80))
    widest = max(_font(font, size).getlength(line) for line in lines)
    size = max(8, int(size * min(1.0, 0.9 * W / max(widest, 1.0))))  # fits the width
    height = int(len(lines) * size * 1.3)
    y = H - height - int(size * 0.3)
    out = []
    for line in lines:
        x = (W - int(_font(font, size).getlength(line))) // 2
        out.append(draw_text(rng, canvas, line, font=font, size=size, fill=(255, 255, 255),
                             stroke=max(2, size // 9), at=(x, y)))
        y += int(size * 1.3)
    return [t for t in out if t is not None]
