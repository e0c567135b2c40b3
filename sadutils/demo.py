"""A deterministic synthetic "demo profile" dataset in the real datasets' on-disk formats.

The paper's data (WEBEmo, UnbiasedEmo, Emotion6, COCO-Text, RGP) is large, partly dead on the
web and partly licensed for academic use only. The demo profile therefore runs on images drawn
here, written in exactly the layouts described in ``DATASETS.md`` so that one set of loaders
serves both the demo and a real run:

* ``webemo/``: ``category.txt``, ``train25.txt``, ``test25.txt`` whose ``file://`` URLs point
  into ``webemo_cdn/`` (the "CDN"); the downloader fills ``webemo/images/`` itself. The lists
  carry the real files' warts: duplicate lines, URLs labelled in both binary groups, dead URLs
  and corrupt "images".
* ``unbiasedemo/images/<emotion>/<object>/<n>.jpg``
* ``emotion6/images/<emotion>/<n>.jpg`` + ``ground_truth.txt`` (Cornell layout)
* ``cocotext/cocotext.v2.json`` + ``cocotext/train2014/COCO_train2014_%012d.jpg``
* ``rgp/natural_images/<class>/<class>_<n>.jpg``

The images come from one "photo-like" scene generator (sky, ground, horizon, silhouettes,
texture, lighting, weather). Emotions are class-conditional, overlapping distributions of weak
cues (brightness, saturation, warm/cool colour, contrast, weather, composition) plus label
noise, so sadness-vs-others is learnable but far from trivial; UnbiasedEmo- and Emotion6-like
images shift those cues (a domain shift). Text is drawn on top of the *same* scenes in many
fonts and styles, so a text filter has to learn text rather than a background habit.

Every random choice comes from a ``numpy.random.Generator`` seeded from ``(seed, dataset,
index)``: the same seed gives byte-identical files, whatever the order of generation.
"""
from __future__ import annotations

import json
import math
import shutil
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

#: Bump whenever the generator's output changes: a cached demo set of another version is rebuilt.
DEMO_VERSION = 1
#: Written last into the output folder; its presence (same seed, scale, version) means "done".
MARKER_NAME = "DEMO_DATA.json"
#: Per-image ground truth of the WEBEmo-like set (text overlay, rendered mood, file status).
WEBEMO_TRUTH_NAME = "webemo_truth.csv"

# --------------------------------------------------------------------------------------------
# Names and counts
# --------------------------------------------------------------------------------------------

#: WEBEmo's 25 fine classes in label-index order: (level-3, level-2, level-1 polarity).
#: Spellings are the real file's (``cheerfullness``, ``irritabilty``).
WEBEMO_CATEGORIES = (
    ("affection", "love", "+"), ("cheerfullness", "joy", "+"), ("confusion", "confusion", "-"),
    ("contentment", "joy", "+"), ("disappointment", "sadness", "-"), ("disgust", "anger", "-"),
    ("enthrallment", "joy", "+"), ("envy", "anger", "-"), ("exasperation", "anger", "-"),
    ("gratitude", "love", "+"), ("horror", "fear", "-"), ("irritabilty", "anger", "-"),
    ("lust", "love", "+"), ("neglect", "sadness", "-"), ("nervousness", "fear", "-"),
    ("optimism", "joy", "+"), ("pride", "joy", "+"), ("rage", "anger", "-"),
    ("relief", "joy", "+"), ("sadness", "sadness", "-"), ("shame", "sadness", "-"),
    ("suffering", "sadness", "-"), ("surprise", "surprise", "+"), ("sympathy", "sadness", "-"),
    ("zest", "joy", "+"),
)
WEBEMO_SAD_FINE = tuple(i for i, c in enumerate(WEBEMO_CATEGORIES) if c[1] == "sadness")
WEBEMO_OTHER_FINE = tuple(i for i, c in enumerate(WEBEMO_CATEGORIES) if c[1] != "sadness")

UNBIASED_EMOTIONS = ("anger", "fear", "joy", "love", "sadness", "surprise")
#: Objects/scenes shared by every UnbiasedEmo-like emotion (the set's point: same object,
#: different emotion).
UNBIASED_OBJECTS = ("car", "child", "couple", "dog", "flower", "tree")
EMOTION6_EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
EMOTION6_COLUMNS = EMOTION6_EMOTIONS + ("neutral",)
RGP_CLASSES = ("airplane", "car", "cat", "dog", "flower", "fruit", "motorbike", "person")

#: Counts at ``scale=1``; every one is multiplied by ``scale``.
BASE_COUNTS = {
    "webemo_usable": 1500,        # unique, downloadable, unambiguous images
    "webemo_conflicts": 30,       # extra URLs listed with a sadness and an others label
    "webemo_dead": 30,            # URLs whose file does not exist
    "webemo_same_group_relabel": 8,  # URLs listed twice with two fine labels of one group
    "unbiasedemo": 300,
    "emotion6_per_emotion": 40,
    "coco_legible": 450,
    "coco_illegible_only": 100,
    "coco_no_text": 150,
    "rgp": 600,
}
WEBEMO_SAD_FRACTION = 0.45
#: Share of images with a text overlay per binary class (paper: 1 - 6697/8549, 1 - 8204/9971).
WEBEMO_TEXT_FRACTION = {"sadness": 0.22, "others": 0.18}
#: Share of WEBEmo-like images whose look comes from the other binary class (weak labels).
WEBEMO_LABEL_NOISE = 0.10
WEBEMO_DUPLICATE_FRACTION = 0.04
WEBEMO_TEST_FRACTION = 0.2

_DATASET_DIRS = ("webemo", "webemo_cdn", "unbiasedemo", "emotion6", "cocotext", "rgp")


def _scaled(n: int, scale: float, minimum: int = 1) -> int:
    """``n * scale`` rounded, but never below ``minimum`` (tiny scales still exercise each path)."""
    return max(minimum, int(round(n * scale)))


def _rng(seed: int, *keys) -> np.random.Generator:
    """A generator for one named stream: ``keys`` are ints or strings (hashed with CRC32).

    Seeding per (dataset, image) keeps every image independent of how many others are drawn
    and in which order, and never depends on Python's per-process string hashing.
    """
    entropy = [int(seed)] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(entropy))


# --------------------------------------------------------------------------------------------
# Moods: class-conditional, overlapping distributions of weak visual cues
# --------------------------------------------------------------------------------------------

SKY_PALETTES = {  # (zenith, horizon) colours, 0..1 RGB
    "blue": ((0.25, 0.48, 0.85), (0.72, 0.84, 0.95)),
    "overcast": ((0.55, 0.57, 0.60), (0.78, 0.79, 0.80)),
    "dusk": ((0.12, 0.16, 0.38), (0.48, 0.50, 0.66)),
    "sunset": ((0.42, 0.30, 0.52), (0.98, 0.62, 0.30)),
    "red": ((0.45, 0.12, 0.10), (0.95, 0.45, 0.20)),
    "night": ((0.03, 0.04, 0.10), (0.14, 0.16, 0.28)),
    "pink": ((0.62, 0.52, 0.78), (0.98, 0.76, 0.80)),
    "pale": ((0.70, 0.78, 0.86), (0.93, 0.93, 0.90)),
}
SKY_NAMES = tuple(SKY_PALETTES)
GROUND_PALETTES = {  # (far, near)
    "grass": ((0.45, 0.60, 0.35), (0.18, 0.38, 0.12)),
    "earth": ((0.58, 0.50, 0.40), (0.36, 0.26, 0.17)),
    "asphalt": ((0.52, 0.52, 0.54), (0.25, 0.25, 0.27)),
    "sand": ((0.86, 0.78, 0.60), (0.70, 0.58, 0.40)),
    "water": ((0.45, 0.58, 0.70), (0.12, 0.25, 0.40)),
    "snow": ((0.88, 0.90, 0.94), (0.75, 0.78, 0.85)),
}
GROUND_NAMES = tuple(GROUND_PALETTES)
WEATHERS = ("none", "rain", "fog", "snow")
COMPOSITIONS = ("landscape", "lone", "couple", "group", "animal", "object")


@dataclass(frozen=True)
class Mood:
    """Mean cue values of one emotion; a neutral photo has brightness=saturation=contrast=1."""

    brightness: float
    saturation: float
    warmth: float          # -1 cool/blue ... +1 warm/orange
    contrast: float
    horizon: float         # horizon height as a fraction of the image height from the top
    arms_up: float         # how often figures raise their arms
    weather: tuple         # probabilities of WEATHERS
    composition: tuple     # probabilities of COMPOSITIONS
    sky: dict              # preferred sky palettes: name -> weight


NEUTRAL = Mood(1.0, 1.0, 0.0, 1.0, 0.55, 0.2, (0.85, 0.06, 0.06, 0.03),
               (0.25, 0.2, 0.15, 0.15, 0.12, 0.13), {})
MOODS = {
    "neutral": NEUTRAL,
    "sadness": Mood(0.80, 0.60, -0.45, 0.80, 0.68, 0.02, (0.45, 0.28, 0.20, 0.07),
                    (0.30, 0.42, 0.06, 0.04, 0.10, 0.08), {"overcast": 3, "dusk": 2, "pale": 1}),
    "fear": Mood(0.72, 0.75, -0.20, 1.25, 0.50, 0.10, (0.60, 0.12, 0.25, 0.03),
                 (0.35, 0.28, 0.05, 0.05, 0.17, 0.10), {"night": 3, "overcast": 1, "dusk": 1}),
    "anger": Mood(0.90, 1.25, 0.55, 1.25, 0.52, 0.45, (0.80, 0.10, 0.08, 0.02),
                  (0.20, 0.25, 0.10, 0.25, 0.10, 0.10), {"red": 3, "sunset": 1, "overcast": 1}),
    "joy": Mood(1.15, 1.25, 0.30, 1.05, 0.50, 0.60, (0.92, 0.02, 0.02, 0.04),
                (0.20, 0.10, 0.15, 0.35, 0.10, 0.10), {"blue": 3, "sunset": 1, "pale": 1}),
    "love": Mood(1.08, 1.05, 0.40, 0.90, 0.55, 0.30, (0.90, 0.03, 0.04, 0.03),
                 (0.15, 0.05, 0.50, 0.10, 0.10, 0.10), {"pink": 3, "sunset": 2}),
    "surprise": Mood(1.10, 1.25, 0.10, 1.15, 0.50, 0.70, (0.90, 0.03, 0.02, 0.05),
                     (0.20, 0.20, 0.10, 0.25, 0.10, 0.15), {"blue": 2, "pink": 1, "red": 1}),
    "confusion": Mood(0.95, 0.85, -0.05, 1.00, 0.55, 0.25, (0.80, 0.08, 0.10, 0.02),
                      (0.25, 0.35, 0.10, 0.10, 0.10, 0.10), {"overcast": 1, "pale": 1}),
    "disgust": Mood(0.90, 0.85, 0.05, 1.10, 0.55, 0.20, (0.80, 0.10, 0.08, 0.02),
                    (0.30, 0.20, 0.05, 0.10, 0.15, 0.20), {"overcast": 1, "pale": 1, "red": 1}),
}


@dataclass(frozen=True)
class Domain:
    """How one dataset renders moods: cue strength, colour cast, framing (the domain shift)."""

    name: str
    strength: float                # multiplies every mood's deviation from neutral
    cast: tuple = (0.0, 0.0, 0.0)  # added to RGB after grading
    brightness: float = 1.0        # extra multiplier
    saturation: float = 1.0
    contrast: float = 1.0
    sky_bias: tuple = ()           # extra preferred skies in this domain
    ground_bias: tuple = ()
    weather_strength: float = 1.0  # extra factor on the weather cue (rain, fog for sadness)
    composition_strength: float = 1.0  # extra factor on the composition cue (a lone figure...)
    look_noise: float = 0.0        # share of images rendered with the other binary class's look


DOMAINS = {
    "webemo": Domain("webemo", 1.0),
    # Object-centric photos (the object is fixed by the folder), greener and brighter; colour
    # cues half as strong, rain and fog hardly used, some images look like the other class.
    "unbiasedemo": Domain("unbiasedemo", 0.45, cast=(-0.02, 0.035, -0.01), brightness=1.06,
                          saturation=0.95, contrast=0.92, sky_bias=("pale", "blue"),
                          ground_bias=("grass",), weather_strength=0.3, look_noise=0.15),
    # Flickr-like: warmer, more saturated and contrasty; weaker cues, composition less telling.
    # (Its label noise comes from the crowd votes: images are drawn with the majority emotion.)
    "emotion6": Domain("emotion6", 0.6, cast=(0.015, 0.005, -0.012), brightness=0.97,
                       saturation=1.08, contrast=1.08, sky_bias=("sunset", "overcast"),
                       ground_bias=("earth", "asphalt"), composition_strength=0.4),
    # Text/no-text photos: any mood at any strength, so mood carries no information there.
    "photo": Domain("photo", 1.0),
}


@dataclass
class Style:
    """Everything the scene renderer needs to know about one image's look."""

    brightness: float
    saturation: float
    warmth: float
    contrast: float
    horizon: float
    arms_up: float
    weather: str
    composition: str
    sky: str
    ground: str
    cast: tuple


def _clamp(x: float, lo: float, hi: float) -> float:
    """``x`` limited to [lo, hi], as a Python float (np.clip is slow on scalars)."""
    return min(hi, max(lo, float(x)))


def _weighted_choice(rng: np.random.Generator, names, weights) -> str:
    """One of ``names`` drawn with the (unnormalised) ``weights``."""
    p = np.asarray(weights, dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def sample_style(rng: np.random.Generator, mood: str, domain: Domain) -> Style:
    """Draw one image's cues: neutral plus a randomly strong pull towards ``mood``, plus noise.

    The per-image intensity (some images barely show their emotion) and the noise keep each cue
    weak on its own and the classes overlapping.
    """
    m = MOODS[mood]
    k = float(rng.uniform(0.1, 1.3)) * domain.strength

    def pull(attr: str, sd: float) -> float:
        base, target = getattr(NEUTRAL, attr), getattr(m, attr)
        return base + k * (target - base) + float(rng.normal(0.0, sd))

    kw, kc = k * domain.weather_strength, k * domain.composition_strength
    weather_p = [b + kw * (t - b) for b, t in zip(NEUTRAL.weather, m.weather)]
    comp_p = [b + kc * (t - b) for b, t in zip(NEUTRAL.composition, m.composition)]
    sky_w = np.ones(len(SKY_NAMES))
    for name, w in m.sky.items():
        sky_w[SKY_NAMES.index(name)] += 1.2 * k * w
    for name in domain.sky_bias:
        sky_w[SKY_NAMES.index(name)] += 1.5
    ground_w = np.array([3.0, 2.0, 2.0, 1.0, 1.5, 0.0])
    for name in domain.ground_bias:
        ground_w[GROUND_NAMES.index(name)] += 3.0
    weather = _weighted_choice(rng, WEATHERS, np.clip(weather_p, 0.001, None))
    if weather == "snow":
        ground_w[GROUND_NAMES.index("snow")] += 8.0
    return Style(
        brightness=_clamp(pull("brightness", 0.13) * domain.brightness, 0.35, 1.6),
        saturation=_clamp(pull("saturation", 0.25) * domain.saturation, 0.05, 2.0),
        warmth=_clamp(pull("warmth", 0.35), -1.0, 1.0),
        contrast=_clamp(pull("contrast", 0.16) * domain.contrast, 0.45, 1.8),
        horizon=_clamp(pull("horizon", 0.10), 0.25, 0.88),
        arms_up=_clamp(NEUTRAL.arms_up + k * (m.arms_up - NEUTRAL.arms_up), 0.0, 1.0),
        weather=weather,
        composition=_weighted_choice(rng, COMPOSITIONS, np.clip(comp_p, 0.001, None)),
        sky=_weighted_choice(rng, SKY_NAMES, sky_w),
        ground=_weighted_choice(rng, GROUND_NAMES, ground_w),
        cast=domain.cast,
    )


# --------------------------------------------------------------------------------------------
# Scene rendering: background (numpy), silhouettes (PIL), finishing (numpy + PIL)
# --------------------------------------------------------------------------------------------

IMAGE_SHAPES = {  # long side range, aspect ratios (w/h) and their weights
    "webemo": ((180, 240), (1.5, 1.333, 1.0, 0.75, 0.667, 1.778), (4, 3, 2, 2, 2, 1)),
    "unbiasedemo": ((200, 256), (1.0, 0.8, 1.25), (3, 1, 1)),
    "emotion6": ((160, 224), (1.333, 1.5, 0.75), (4, 2, 1)),
    "photo": ((140, 240), (1.333, 1.5, 1.0, 0.75, 1.778), (4, 2, 2, 2, 1)),
}


def sample_size(rng: np.random.Generator, kind: str) -> tuple[int, int]:
    """A (width, height) for one image of ``kind`` (see ``IMAGE_SHAPES``)."""
    (lo, hi), aspects, weights = IMAGE_SHAPES[kind]
    long_side = int(rng.integers(lo, hi + 1))
    aspect = aspects[int(rng.choice(len(aspects), p=np.array(weights) / sum(weights)))]
    if aspect >= 1:
        return long_side, max(96, int(round(long_side / aspect)))
    return max(96, int(round(long_side * aspect))), long_side


def _smooth_noise(rng: np.random.Generator, w: int, h: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1] of shape (h, w): a random ``cells`` grid, upsampled."""
    small = (rng.random((cells, cells)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), np.float32) / 255.0


def _jitter_colour(rng: np.random.Generator, rgb, amount: float = 0.06) -> np.ndarray:
    """``rgb`` with a little random variation, so no two skies are exactly alike."""
    return np.minimum(np.maximum(np.asarray(rgb, np.float32) + rng.normal(0, amount, 3).astype(np.float32), 0), 1)


def _background(rng: np.random.Generator, w: int, h: int, style: Style) -> tuple[Image.Image, float]:
    """Sky and ground gradients split by a slightly wavy horizon, with soft texture.

    Computed at half resolution (everything in it is smooth) and upsampled, for speed.
    Returns the RGB image and the horizon's mean row.
    """
    w2, h2 = (w + 1) // 2, (h + 1) // 2
    ys = np.arange(h2, dtype=np.float32)[:, None]
    xs = np.arange(w2, dtype=np.float32)[None, :]
    amp = float(rng.uniform(0, 0.05)) * h2
    horizon = style.horizon * h2 + amp * np.sin(2 * np.pi * float(rng.uniform(0.3, 1.6)) * xs / w2
                                                + float(rng.uniform(0, 6.3)))
    top, low = (_jitter_colour(rng, c) for c in SKY_PALETTES[style.sky])
    far, near = (_jitter_colour(rng, c) for c in GROUND_PALETTES[style.ground])
    is_sky = ys < horizon
    t_sky = np.clip(ys / np.maximum(horizon, 1.0), 0, 1)
    t_gnd = np.clip((ys - horizon) / np.maximum(h2 - horizon, 1.0), 0, 1)
    t = np.where(is_sky, t_sky, t_gnd)[..., None]
    start = np.where(is_sky[..., None], top, far)
    end = np.where(is_sky[..., None], low, near)
    texture = 1.0 + 0.18 * (_smooth_noise(rng, w2, h2, int(rng.integers(3, 7))) - 0.5)
    grain = 1.0 + 0.16 * (_smooth_noise(rng, w2, h2, int(rng.integers(12, 28))) - 0.5)
    shade = texture * np.where(is_sky, 1.0, grain)
    img = (start + (end - start) * t) * shade[..., None]
    small = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8), "RGB")
    return small.resize((w, h), Image.BILINEAR), float(horizon.mean()) * h / h2


def _rgb(c) -> tuple:
    """An 8-bit RGB tuple from a 0..1 colour."""
    return tuple(int(round(255 * min(1.0, max(0.0, float(v))))) for v in c)


def _random_colour(rng: np.random.Generator, vivid: float = 0.5, dark: float = 0.0) -> tuple:
    """A random 8-bit colour; ``vivid`` pulls it away from grey, ``dark`` towards black."""
    grey = float(rng.uniform(0.15, 0.85))
    c = grey + vivid * (rng.random(3) - 0.5)
    return _rgb(np.minimum(np.maximum(c, 0), 1) * (1 - dark))


def _draw_person(d: ImageDraw.ImageDraw, rng, cx: float, base: float, height: float,
                 colour: tuple, arms_up: float) -> None:
    """A standing figure with its feet at (cx, base); arms raised with probability ``arms_up``."""
    s = height
    r = 0.085 * s
    d.ellipse([cx - r, base - s, cx + r, base - s + 2 * r], fill=colour)
    tw = 0.12 * s
    d.polygon([(cx - tw, base - 0.80 * s), (cx + tw, base - 0.80 * s),
               (cx + 0.8 * tw, base - 0.42 * s), (cx - 0.8 * tw, base - 0.42 * s)], fill=colour)
    lw = max(1, int(round(0.06 * s)))
    spread = float(rng.uniform(0.0, 0.12)) * s
    d.line([(cx - 0.05 * s, base - 0.45 * s), (cx - 0.05 * s - spread, base)], fill=colour, width=lw)
    d.line([(cx + 0.05 * s, base - 0.45 * s), (cx + 0.05 * s + spread, base)], fill=colour, width=lw)
    hand_y = base - (1.05 * s if rng.random() < arms_up else 0.45 * s)
    for side in (-1, 1):
        d.line([(cx + side * tw, base - 0.77 * s), (cx + side * 0.3 * s, hand_y)],
               fill=colour, width=max(1, lw - 1))


def _draw_car(d, rng, cx, base, size, colour) -> None:
    """A side-view car, wheels on ``base``."""
    L, H = size, 0.30 * size
    d.rounded_rectangle([cx - L / 2, base - H - 0.08 * size, cx + L / 2, base - 0.08 * size],
                        radius=max(1, int(0.06 * size)), fill=colour)
    d.polygon([(cx - 0.28 * L, base - H - 0.08 * size), (cx - 0.15 * L, base - H - 0.3 * size),
               (cx + 0.2 * L, base - H - 0.3 * size), (cx + 0.32 * L, base - H - 0.08 * size)],
              fill=colour)
    glass = (150, 170, 190)
    d.polygon([(cx - 0.22 * L, base - H - 0.1 * size), (cx - 0.12 * L, base - H - 0.26 * size),
               (cx + 0.17 * L, base - H - 0.26 * size), (cx + 0.26 * L, base - H - 0.1 * size)],
              fill=glass)
    r = 0.12 * size
    for x in (cx - 0.3 * L, cx + 0.3 * L):
        d.ellipse([x - r, base - 2 * r, x + r, base], fill=(25, 25, 25))
        d.ellipse([x - r / 2, base - 1.5 * r, x + r / 2, base - r / 2], fill=(150, 150, 150))


def _draw_airplane(d, rng, cx, cy, size, colour) -> None:
    """An airliner seen from below/side, centred at (cx, cy)."""
    L = size
    d.ellipse([cx - L / 2, cy - 0.07 * L, cx + L / 2, cy + 0.07 * L], fill=colour)
    d.polygon([(cx - 0.05 * L, cy), (cx + 0.12 * L, cy), (cx - 0.12 * L, cy + 0.38 * L),
               (cx - 0.22 * L, cy + 0.38 * L)], fill=colour)
    d.polygon([(cx - 0.05 * L, cy), (cx + 0.12 * L, cy), (cx - 0.08 * L, cy - 0.3 * L),
               (cx - 0.16 * L, cy - 0.3 * L)], fill=colour)
    d.polygon([(cx - 0.45 * L, cy), (cx - 0.36 * L, cy), (cx - 0.48 * L, cy - 0.2 * L),
               (cx - 0.53 * L, cy - 0.2 * L)], fill=colour)


def _draw_cat(d, rng, cx, base, size, colour) -> None:
    """A sitting cat: body, head, pointed ears, curled tail."""
    s = size
    d.ellipse([cx - 0.25 * s, base - 0.6 * s, cx + 0.25 * s, base], fill=colour)
    hr = 0.17 * s
    hy = base - 0.68 * s
    d.ellipse([cx - hr, hy - hr, cx + hr, hy + hr], fill=colour)
    for side in (-1, 1):
        d.polygon([(cx + side * 0.04 * s, hy - 0.9 * hr), (cx + side * 0.17 * s, hy - 0.9 * hr),
                   (cx + side * 0.14 * s, hy - 1.9 * hr)], fill=colour)
    d.arc([cx, base - 0.35 * s, cx + 0.55 * s, base + 0.05 * s], 180, 330, fill=colour,
          width=max(1, int(0.05 * s)))
    for side in (-1, 1):
        d.ellipse([cx + side * 0.07 * s - 2, hy - 2, cx + side * 0.07 * s + 2, hy + 2],
                  fill=(220, 200, 60))


def _draw_dog(d, rng, cx, base, size, colour) -> None:
    """A standing dog in profile: body, four legs, head with snout and ear, tail."""
    s = size
    d.ellipse([cx - 0.4 * s, base - 0.62 * s, cx + 0.3 * s, base - 0.3 * s], fill=colour)
    lw = max(1, int(0.07 * s))
    for x in (-0.3, -0.18, 0.1, 0.22):
        d.line([(cx + x * s, base - 0.4 * s), (cx + x * s, base)], fill=colour, width=lw)
    d.ellipse([cx + 0.18 * s, base - 0.85 * s, cx + 0.45 * s, base - 0.58 * s], fill=colour)
    d.ellipse([cx + 0.35 * s, base - 0.74 * s, cx + 0.56 * s, base - 0.62 * s], fill=colour)
    d.ellipse([cx + 0.18 * s, base - 0.8 * s, cx + 0.27 * s, base - 0.6 * s],
              fill=tuple(max(0, v - 40) for v in colour))
    d.line([(cx - 0.38 * s, base - 0.55 * s), (cx - 0.55 * s, base - 0.78 * s)], fill=colour,
           width=lw)


def _draw_flower(d, rng, cx, base, size, colour) -> None:
    """One flower: stem, leaf, 5-8 petals around a centre."""
    s = size
    top = base - s
    d.line([(cx, base), (cx, top + 0.2 * s)], fill=(40, 110, 40), width=max(1, int(0.04 * s)))
    d.ellipse([cx, base - 0.5 * s, cx + 0.22 * s, base - 0.4 * s], fill=(50, 130, 50))
    n = int(rng.integers(5, 9))
    pr = 0.16 * s
    cy = top + 0.2 * s
    for i in range(n):
        a = 2 * math.pi * i / n
        px, py = cx + 0.15 * s * math.cos(a), cy + 0.15 * s * math.sin(a)
        d.ellipse([px - pr / 1.6, py - pr / 1.6, px + pr / 1.6, py + pr / 1.6], fill=colour)
    d.ellipse([cx - 0.07 * s, cy - 0.07 * s, cx + 0.07 * s, cy + 0.07 * s], fill=(230, 190, 40))


def _draw_fruit(d, rng, cx, base, size, colour) -> None:
    """A few round fruits with stems and leaves (a close-up still life)."""
    n = int(rng.integers(1, 5))
    for i in range(n):
        r = size * float(rng.uniform(0.18, 0.3))
        x = cx + (i - (n - 1) / 2) * 1.3 * r
        y = base - r - float(rng.uniform(0, 0.1)) * size
        c = tuple(int(_clamp(v + rng.normal(0, 15), 0, 255)) for v in colour)
        d.ellipse([x - r, y - r, x + r, y + r], fill=c)
        d.ellipse([x - 0.5 * r, y - 0.6 * r, x - 0.1 * r, y - 0.25 * r],
                  fill=tuple(min(255, v + 60) for v in c))
        d.line([(x, y - r), (x + 0.15 * r, y - 1.3 * r)], fill=(80, 50, 20), width=max(1, int(r / 8)))
        d.ellipse([x + 0.1 * r, y - 1.35 * r, x + 0.6 * r, y - 1.1 * r], fill=(60, 140, 50))


def _draw_motorbike(d, rng, cx, base, size, colour) -> None:
    """A side-view motorbike: two spoked wheels, frame, tank and seat."""
    s = size
    r = 0.22 * s
    w = max(2, int(0.05 * s))
    for x in (cx - 0.35 * s, cx + 0.35 * s):
        d.ellipse([x - r, base - 2 * r, x + r, base], outline=(20, 20, 20), width=w)
        d.line([(x - r, base - r), (x + r, base - r)], fill=(120, 120, 120), width=1)
    d.line([(cx - 0.35 * s, base - r), (cx - 0.05 * s, base - 0.6 * s), (cx + 0.2 * s, base - 0.6 * s),
            (cx + 0.35 * s, base - r)], fill=colour, width=w)
    d.ellipse([cx - 0.1 * s, base - 0.72 * s, cx + 0.18 * s, base - 0.55 * s], fill=colour)
    d.line([(cx + 0.22 * s, base - 0.62 * s), (cx + 0.3 * s, base - 0.85 * s)], fill=(30, 30, 30), width=w)


def _draw_tree(d, rng, cx, base, size) -> None:
    """A tree: trunk and a few overlapping green blobs."""
    d.rectangle([cx - 0.05 * size, base - 0.55 * size, cx + 0.05 * size, base], fill=(80, 55, 35))
    green = np.array([0.18, 0.40, 0.15]) + rng.normal(0, 0.05, 3)
    for _ in range(int(rng.integers(2, 5))):
        x = cx + float(rng.normal(0, 0.15)) * size
        y = base - size * float(rng.uniform(0.6, 0.85))
        r = size * float(rng.uniform(0.2, 0.32))
        d.ellipse([x - r, y - r, x + r, y + r], fill=_rgb(green + rng.normal(0, 0.03, 3)))


OBJECT_DRAWERS = {"car": _draw_car, "cat": _draw_cat, "dog": _draw_dog, "flower": _draw_flower,
                  "fruit": _draw_fruit, "motorbike": _draw_motorbike}


def _draw_scenery(d: ImageDraw.ImageDraw, rng, w: int, h: int, horizon: float, style: Style) -> None:
    """Background furniture shared by every image: clouds, sun, mountains, buildings, trees.

    Buildings sometimes carry blank sign boards, so that "a filled rectangle" never means text.
    """
    if style.sky not in ("night",) and rng.random() < 0.6:
        for _ in range(int(rng.integers(1, 5))):
            x, y = rng.uniform(0, w), rng.uniform(0, max(horizon * 0.7, 2))
            rx, ry = rng.uniform(0.08, 0.25) * w, rng.uniform(0.03, 0.08) * h
            a = int(rng.integers(60, 170))
            d.ellipse([x - rx, y - ry, x + rx, y + ry], fill=(240, 240, 245, a))
    if rng.random() < 0.3:
        r = rng.uniform(0.03, 0.08) * min(w, h)
        x, y = rng.uniform(r, w - r), rng.uniform(r, max(r + 1, horizon - r))
        col = (250, 245, 220, 230) if style.sky != "night" else (235, 235, 225, 230)
        d.ellipse([x - r, y - r, x + r, y + r], fill=col)
    if rng.random() < 0.35:
        base_col = np.array([0.35, 0.38, 0.45]) + rng.normal(0, 0.05, 3)
        for _ in range(int(rng.integers(1, 4))):
            x, half = rng.uniform(0, w), rng.uniform(0.15, 0.45) * w
            peak = horizon - rng.uniform(0.1, 0.35) * h
            d.polygon([(x - half, horizon + 2), (x, peak), (x + half, horizon + 2)],
                      fill=_rgb(base_col + rng.normal(0, 0.04, 3)) + (220,))
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 5))):
            bw, bh = rng.uniform(0.1, 0.25) * w, rng.uniform(0.15, 0.5) * h
            x = rng.uniform(-0.05 * w, w)
            col = _random_colour(rng, 0.3)
            d.rectangle([x, horizon - bh, x + bw, horizon + 2], fill=col)
            win = tuple(min(255, v + 50) for v in col) if rng.random() < 0.5 else (40, 40, 50)
            step = max(4.0, bw / 4)
            for wx in np.arange(x + step / 3, x + bw - step / 3, step):
                for wy in np.arange(horizon - bh + step / 3, horizon - step / 2, step):
                    d.rectangle([wx, wy, wx + step / 3, wy + step / 3], fill=win)
            if rng.random() < 0.25:  # a blank board, like a sign without lettering
                d.rectangle([x + 0.1 * bw, horizon - bh * 0.6, x + 0.9 * bw, horizon - bh * 0.45],
                            fill=_random_colour(rng, 0.8))
    if rng.random() < 0.4:
        for _ in range(int(rng.integers(1, 6))):
            _draw_tree(d, rng, rng.uniform(0, w), horizon + rng.uniform(0, 0.15) * h,
                       rng.uniform(0.15, 0.45) * h)


def _draw_subject(d: ImageDraw.ImageDraw, rng, subject: str, w: int, h: int, horizon: float,
                  style: Style, large: bool) -> None:
    """The main subject: an RGP/UnbiasedEmo object class or an emotion composition.

    ``large`` frames the subject big and central (object-centric datasets); otherwise figures
    stand on the ground at a size matching the composition (a lone small figure, a group...).
    """
    ground_y = lambda: _clamp(horizon + rng.uniform(0.05, 0.9) * (h - horizon), horizon + 2, h - 2)
    figure_colour = _random_colour(rng, 0.5, dark=float(rng.uniform(0.2, 0.7)))
    if subject == "landscape":
        return
    if subject in ("lone", "person", "child"):
        size = rng.uniform(0.45, 0.8) * h if large else rng.uniform(0.15, 0.35) * h
        if subject == "child":
            size *= 0.75
        cx = w / 2 + rng.normal(0, 0.08) * w if large else rng.uniform(0.15, 0.85) * w
        base = h * rng.uniform(0.85, 0.98) if large else ground_y()
        _draw_person(d, rng, cx, base, size, figure_colour, style.arms_up)
        return
    if subject in ("couple", "group"):
        n = 2 if subject == "couple" else int(rng.integers(3, 7))
        size = rng.uniform(0.35, 0.6) * h if (large or n == 2) else rng.uniform(0.25, 0.5) * h
        cx0 = w / 2 + rng.normal(0, 0.05) * w
        gap = size * (0.3 if n == 2 else 0.4)
        base = h * rng.uniform(0.85, 0.98) if large else ground_y()
        for i in range(n):
            x = cx0 + (i - (n - 1) / 2) * gap
            _draw_person(d, rng, x, base + rng.normal(0, 2), size * rng.uniform(0.85, 1.05),
                         _random_colour(rng, 0.6, dark=float(rng.uniform(0.1, 0.6))), style.arms_up)
        return
    if subject == "animal":
        subject = ("cat", "dog")[int(rng.integers(2))]
    elif subject == "object":
        subject = ("car", "flower", "fruit", "motorbike", "airplane", "tree")[int(rng.integers(6))]
    size = rng.uniform(0.45, 0.8) * min(w, h) if large else rng.uniform(0.2, 0.45) * min(w, h)
    cx = w / 2 + rng.normal(0, 0.07) * w if large else rng.uniform(0.25, 0.75) * w
    colour = _random_colour(rng, 0.7, dark=float(rng.uniform(0.0, 0.4)))
    if subject == "airplane":
        size = rng.uniform(0.5, 0.85) * w if large else size
        _draw_airplane(d, rng, cx, rng.uniform(0.25, 0.5) * h, size, _random_colour(rng, 0.2))
    elif subject == "tree":
        _draw_tree(d, rng, cx, h * rng.uniform(0.88, 0.98), size * 1.3)
    elif subject == "flower" and large:
        for i in range(int(rng.integers(1, 4))):
            _draw_flower(d, rng, cx + (i - 1) * size * 0.35, h * rng.uniform(0.9, 1.0),
                         size * rng.uniform(0.8, 1.1), _random_colour(rng, 0.9))
    else:
        base = h * rng.uniform(0.85, 0.97) if large else ground_y()
        OBJECT_DRAWERS[subject](d, rng, cx, base, size, colour)


def compose_scene(rng: np.random.Generator, w: int, h: int, style: Style, subject: str | None = None,
                  large: bool = False) -> Image.Image:
    """The un-graded scene: background, scenery and the subject (default: the composition)."""
    img, horizon = _background(rng, w, h, style)
    d = ImageDraw.Draw(img, "RGBA")
    _draw_scenery(d, rng, w, h, horizon, style)
    _draw_subject(d, rng, subject or style.composition, w, h, horizon, style, large)
    return img


_LUMA = np.array([0.299, 0.587, 0.114])


def grading_matrix(style: Style, mean_rgb: np.ndarray) -> tuple:
    """Colour grading as one affine RGB map (PIL's 12-tuple convert matrix).

    Warm/cool balance, then saturation (towards luma), contrast around the mean luma,
    brightness, then the domain's colour cast; ``mean_rgb`` is the image's mean in 0..255.
    """
    warm = style.warmth
    W = np.diag([1 + 0.22 * warm, 1 + 0.03 * warm, 1 - 0.25 * warm])
    s = style.saturation
    S = s * np.eye(3) + (1 - s) * np.outer(np.ones(3), _LUMA)
    c, b = style.contrast, style.brightness
    mean_lum = float(_LUMA @ W @ mean_rgb)
    M = b * c * (S @ W)
    offset = b * mean_lum * (1 - c) + 255.0 * np.asarray(style.cast)
    return tuple(float(v) for row, o in zip(M, offset) for v in (*row, o))


def _blur_kernel(sigma: float) -> ImageFilter.Kernel:
    """A 3x3 Gaussian-like blur (much faster than ``GaussianBlur`` for sub-pixel radii)."""
    e, c = math.exp(-1 / (2 * sigma ** 2)), math.exp(-2 / (2 * sigma ** 2))
    weights = (c, e, c, e, 1.0, e, c, e, c)
    return ImageFilter.Kernel((3, 3), weights, scale=sum(weights))


def _grey(arr: np.ndarray) -> Image.Image:
    """An 8-bit single-channel image from a float array (values clipped to 0..255)."""
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")


def finish_scene(rng: np.random.Generator, img: Image.Image, style: Style) -> Image.Image:
    """Lighting, fog, sensor grain, colour grading, rain or snow and lens blur.

    Per-pixel work is done on single-channel maps in numpy and applied with PIL's C routines.
    """
    w, h = img.size
    # Smooth maps are computed at quarter resolution and upsampled.
    qw, qh = max(4, w // 4), max(4, h // 4)
    ys = (np.arange(qh, dtype=np.float32)[:, None] + 0.5) / qh - 0.5
    xs = (np.arange(qw, dtype=np.float32)[None, :] + 0.5) / qw - 0.5
    vignette = 1.0 - float(rng.uniform(0, 0.5)) * (xs ** 2 + ys ** 2) * 2
    angle = float(rng.uniform(0, 2 * np.pi))
    light = 1.0 + float(rng.uniform(0, 0.25)) * (np.cos(angle) * xs + np.sin(angle) * ys)
    factor = vignette * light * (0.85 if style.weather == "rain" else 1.0)
    shade = _grey(factor * 255.0).resize((w, h), Image.BILINEAR).convert("RGB")
    out = ImageChops.multiply(img, shade)
    if style.weather == "fog":
        strength = float(rng.uniform(0.3, 0.7))
        profile = np.clip(1.0 - np.abs(ys + 0.5 - style.horizon) * float(rng.uniform(0.5, 1.5)), 0.3, 1.0)
        fog = Image.new("RGB", (w, h), _rgb(_jitter_colour(rng, (0.75, 0.77, 0.80), 0.03)))
        mask = _grey(np.broadcast_to(strength * profile * 255.0, (qh, qw))).resize((w, h), Image.BILINEAR)
        out = Image.composite(fog, out, mask)
    amp = int(rng.integers(2, 11))  # sensor grain: uniform noise of +-amp levels
    noise = rng.integers(128 - amp, 129 + amp, (h, w), dtype=np.uint8)
    out = ImageChops.add(out, Image.fromarray(noise, "L").convert("RGB"), 1.0, -128)
    mean_rgb = np.asarray(out.resize((16, 16), Image.BOX), np.float32).reshape(-1, 3).mean(axis=0)
    out = out.convert("RGB", grading_matrix(style, mean_rgb))
    if style.weather in ("rain", "snow"):
        d = ImageDraw.Draw(out, "RGBA")
        n = int(w * h / 40000 * rng.uniform(80, 250))
        xs0, ys0 = rng.uniform(-10, w, n), rng.uniform(-10, h, n)
        if style.weather == "rain":
            slant, length = float(rng.uniform(-0.35, 0.35)), rng.uniform(5, 14, n)
            for x, y, L in zip(xs0.tolist(), ys0.tolist(), length.tolist()):
                d.line([(x, y), (x + slant * L, y + L)], fill=(210, 215, 225, 90), width=1)
        else:
            radius = rng.uniform(0.5, 2.0, n)
            for x, y, r in zip(xs0.tolist(), ys0.tolist(), radius.tolist()):
                d.ellipse([x - r, y - r, x + r, y + r], fill=(250, 250, 252, 200))
    sigma = float(rng.uniform(0.0, 1.2))
    return out.filter(_blur_kernel(sigma)) if sigma > 0.4 else out


def render_photo(rng: np.random.Generator, style: Style, shape: str, subject: str | None = None,
                 large: bool = False) -> Image.Image:
    """A complete text-free photo: ``compose_scene`` then ``finish_scene``."""
    w, h = sample_size(rng, shape)
    return finish_scene(rng, compose_scene(rng, w, h, style, subject, large), style)


# --------------------------------------------------------------------------------------------
# Text overlays
# --------------------------------------------------------------------------------------------

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
        return _random_colour(rng, 1.0)
    if r < 0.27:  # low contrast, still readable
        v = background_lum + (0.25 if background_lum < 0.5 else -0.25)
        return _rgb(v + rng.normal(0, 0.05, 3))
    if background_lum < 0.5:
        return _rgb(rng.uniform(0.8, 1.0) + rng.normal(0, 0.03, 3))
    return _rgb(rng.uniform(0.0, 0.2) + rng.normal(0, 0.03, 3))


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
        size = int(_clamp(rng.lognormal(math.log(18), 0.45), 9, 60))
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
            col = _random_colour(rng, 0.4, dark=0.3) + (255,)
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
        box = _random_colour(rng, 0.9)
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
        fill = _rgb(lum + rng.choice([-1, 1]) * rng.uniform(0.08, 0.3) + rng.normal(0, 0.03, 3))
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


def _text_kinds(rng: np.random.Generator, n_max: int = 3) -> list[str]:
    """One to ``n_max`` text kinds, drawn with ``TEXT_KIND_WEIGHTS``."""
    n = 1 + int(rng.integers(0, n_max)) if rng.random() < 0.5 else 1
    p = np.array(TEXT_KIND_WEIGHTS) / sum(TEXT_KIND_WEIGHTS)
    return [TEXT_KINDS[int(i)] for i in rng.choice(len(TEXT_KINDS), n, p=p)]


def _save_jpeg(img: Image.Image, path: Path, rng: np.random.Generator) -> None:
    """Save as baseline JPEG at a (seeded) quality between 75 and 95."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=int(rng.integers(75, 96)))


# --------------------------------------------------------------------------------------------
# Dataset writers
# --------------------------------------------------------------------------------------------

def _exact_flags(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    """A shuffled boolean array with exactly round(n * fraction) True values."""
    flags = np.zeros(n, bool)
    flags[: int(round(n * fraction))] = True
    return rng.permutation(flags)


def _webemo_mood(rng: np.random.Generator, fine: int, looks_other_class: bool) -> str:
    """The mood an image of WEBEmo fine label ``fine`` is rendered with.

    Normally the label's level-2 group; with label noise, a group of the other binary class.
    """
    group = WEBEMO_CATEGORIES[fine][1]
    if not looks_other_class:
        return group
    if group == "sadness":
        return WEBEMO_CATEGORIES[int(WEBEMO_OTHER_FINE[int(rng.integers(len(WEBEMO_OTHER_FINE)))])][1]
    return "sadness"


def write_category_file(path: Path) -> None:
    """``category.txt`` in the real format: a comment line, then one ``labels=[...]`` line."""
    tuples = ", ".join(f"({a!r}, {b!r}, {c!r})" for a, b, c in WEBEMO_CATEGORIES)
    path.write_text("# (level-3 emotion, level-2 emotion, level-1 polarity) per label index\n"
                    f"labels=[{tuples}]\n", encoding="utf-8")


def _write_webemo(root: Path, seed: int, scale: float) -> dict:
    """The WEBEmo-like set: CDN images, category.txt and the two URL lists with their warts."""
    web, cdn = root / "webemo", root / "webemo_cdn"
    web.mkdir(parents=True, exist_ok=True)
    cdn.mkdir(parents=True, exist_ok=True)
    write_category_file(web / "category.txt")
    plan = _rng(seed, "webemo", "plan")
    n = _scaled(BASE_COUNTS["webemo_usable"], scale, 4)
    n_conf = _scaled(BASE_COUNTS["webemo_conflicts"], scale)
    n_dead = _scaled(BASE_COUNTS["webemo_dead"], scale)
    n_relabel = _scaled(BASE_COUNTS["webemo_same_group_relabel"], scale)
    corrupt_kinds = ("zero_bytes", "html", "truncated")
    total = n + n_conf + n_dead + len(corrupt_kinds)
    ids = 100_000_000 + plan.choice(900_000_000, size=total, replace=False)
    alnum = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    names = [f"220_F_{int(i)}_{''.join(plan.choice(alnum, 12))}.jpg" for i in ids]
    n_sad = int(round(n * WEBEMO_SAD_FRACTION))
    is_sad = plan.permutation(np.arange(n) < n_sad)
    has_text = np.zeros(n, bool)
    noisy = np.zeros(n, bool)
    for flag, cls in ((True, "sadness"), (False, "others")):
        idx = np.flatnonzero(is_sad == flag)
        has_text[idx] = _exact_flags(plan, len(idx), WEBEMO_TEXT_FRACTION[cls])
        noisy[idx] = _exact_flags(plan, len(idx), WEBEMO_LABEL_NOISE)
    fine = np.where(is_sad, plan.choice(WEBEMO_SAD_FINE, n), plan.choice(WEBEMO_OTHER_FINE, n))
    in_test = _exact_flags(plan, total, WEBEMO_TEST_FRACTION)

    truth, lines = [], {False: [], True: []}
    url = lambda name: (cdn / name).resolve().as_uri()
    n_text = {"sadness": 0, "others": 0}
    for i in range(n):
        rng = _rng(seed, "webemo", i)
        mood = _webemo_mood(rng, int(fine[i]), bool(noisy[i]))
        style = sample_style(rng, mood, DOMAINS["webemo"])
        kind = ""
        if has_text[i]:
            kinds = _text_kinds(rng, 2)
            img, _ = render_text_photo(rng, style, "webemo", kinds)
            kind = "+".join(kinds)
            n_text["sadness" if is_sad[i] else "others"] += 1
        else:
            img = render_photo(rng, style, "webemo")
        _save_jpeg(img, cdn / names[i], rng)
        lines[bool(in_test[i])].append((url(names[i]), int(fine[i])))
        truth.append((names[i], int(fine[i]), "sadness" if is_sad[i] else "others", int(has_text[i]), kind, mood, "ok"))
    # Conflicts: a real image listed once with a sadness label and once with an others label.
    for j in range(n_conf):
        i = n + j
        rng = _rng(seed, "webemo", i)
        sad_fine = int(rng.choice(WEBEMO_SAD_FINE))
        other_fine = int(rng.choice(WEBEMO_OTHER_FINE))
        mood = "sadness" if rng.random() < 0.5 else WEBEMO_CATEGORIES[other_fine][1]
        _save_jpeg(render_photo(rng, sample_style(rng, mood, DOMAINS["webemo"]), "webemo"), cdn / names[i], rng)
        for f in (sad_fine, other_fine):
            lines[bool(in_test[i])].append((url(names[i]), f))
        truth.append((names[i], sad_fine, "conflict", 0, "", mood, "conflict"))
    # Dead links: listed, never written.
    for j in range(n_dead):
        i = n + n_conf + j
        f = int(plan.integers(0, len(WEBEMO_CATEGORIES)))
        lines[bool(in_test[i])].append((url(names[i]), f))
        truth.append((names[i], f, "sadness" if f in WEBEMO_SAD_FINE else "others", 0, "", "", "dead"))
    # Corrupt downloads: an empty file, an HTML error page and a truncated JPEG, all named .jpg.
    for j, kind in enumerate(corrupt_kinds):
        i = n + n_conf + n_dead + j
        rng = _rng(seed, "webemo", i)
        path = cdn / names[i]
        if kind == "zero_bytes":
            path.write_bytes(b"")
        elif kind == "html":
            path.write_bytes(b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                             b"<body><h1>Not Found</h1><p>The requested image is no longer available."
                             b"</p></body></html>\n")
        else:
            tmp = cdn / (names[i] + ".tmp")
            _save_jpeg(render_photo(rng, sample_style(rng, "neutral", DOMAINS["webemo"]), "webemo"), tmp, rng)
            data = tmp.read_bytes()
            tmp.unlink()
            path.write_bytes(data[: len(data) // 2])
        f = int(plan.integers(0, len(WEBEMO_CATEGORIES)))
        lines[bool(in_test[i])].append((url(names[i]), f))
        truth.append((names[i], f, "sadness" if f in WEBEMO_SAD_FINE else "others", 0, "", "", kind))
    # Exact duplicate lines, and a few URLs relabelled with another fine label of the same group.
    n_dup = int(round(n * WEBEMO_DUPLICATE_FRACTION))
    for i in plan.choice(n, n_dup, replace=False):
        lines[bool(in_test[i])].append((url(names[i]), int(fine[i])))
    for i in plan.choice(n, n_relabel, replace=False):
        group = WEBEMO_SAD_FINE if is_sad[i] else WEBEMO_OTHER_FINE
        alt = [g for g in group if g != int(fine[i])]
        lines[bool(in_test[i])].append((url(names[i]), int(plan.choice(alt))))
    counts = {}
    for test, fname in ((False, "train25.txt"), (True, "test25.txt")):
        rows = [lines[test][int(k)] for k in plan.permutation(len(lines[test]))]
        (web / fname).write_text("".join(f"{u} {lab}\n" for u, lab in rows), encoding="utf-8")
        counts[fname] = len(rows)
    with open(root / WEBEMO_TRUTH_NAME, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("file_name,fine_label,binary_label,has_text,text_kinds,rendered_mood,status\n")
        for row in sorted(truth):
            fh.write(",".join(map(str, row)) + "\n")
    counts.update({
        "usable_images": n, "sadness": n_sad, "others": n - n_sad,
        "with_text_sadness": n_text["sadness"], "with_text_others": n_text["others"],
        "label_noise": int(noisy.sum()), "conflict_urls": n_conf, "dead_urls": n_dead,
        "corrupt_files": len(corrupt_kinds), "duplicate_lines": n_dup, "same_group_relabels": n_relabel,
    })
    return counts


def _write_unbiasedemo(root: Path, seed: int, scale: float) -> dict:
    """UnbiasedEmo-like: ``images/<emotion>/<object>/<n>.jpg``, object-centric, shifted cues."""
    base = root / "unbiasedemo" / "images"
    n = _scaled(BASE_COUNTS["unbiasedemo"], scale, len(UNBIASED_EMOTIONS) * 2)
    weights = np.array([1.0 if e != "sadness" else 1.3 for e in UNBIASED_EMOTIONS])
    per_emotion = np.floor(n * weights / weights.sum()).astype(int)
    per_emotion[UNBIASED_EMOTIONS.index("sadness")] += n - per_emotion.sum()
    counts, k = {}, 0
    for e, emotion in enumerate(UNBIASED_EMOTIONS):
        m = int(per_emotion[e])
        per_obj = [m // len(UNBIASED_OBJECTS) + (1 if j < m % len(UNBIASED_OBJECTS) else 0)
                   for j in range(len(UNBIASED_OBJECTS))]
        for obj, count in zip(UNBIASED_OBJECTS, per_obj):
            for i in range(1, count + 1):
                rng = _rng(seed, "unbiasedemo", emotion, obj, i)
                domain = DOMAINS["unbiasedemo"]
                look = emotion
                if rng.random() < domain.look_noise:  # the folder's label, the other class's look
                    others = [e for e in UNBIASED_EMOTIONS if e != "sadness"]
                    look = others[int(rng.integers(len(others)))] if emotion == "sadness" else "sadness"
                style = sample_style(rng, look, domain)
                img = render_photo(rng, style, "unbiasedemo", subject=obj, large=True)
                _save_jpeg(img, base / emotion / obj / f"{i}.jpg", rng)
                k += 1
        counts[emotion] = m
    counts["total"] = k
    return counts


def _emotion6_probabilities(rng: np.random.Generator, emotion: str) -> np.ndarray:
    """Fifteen raters' votes over the seven columns, usually peaked on the folder's emotion."""
    alpha = np.full(len(EMOTION6_COLUMNS), 0.25)
    if rng.random() < 0.9:
        alpha[EMOTION6_COLUMNS.index(emotion)] += 6.0
    else:  # the crowd saw something else in this image
        alpha[int(rng.integers(len(EMOTION6_COLUMNS)))] += 3.0
        alpha[EMOTION6_COLUMNS.index(emotion)] += 1.0
    alpha[-1] += 0.4
    votes = rng.multinomial(15, rng.dirichlet(alpha))
    return votes / 15.0


_VALENCE_AROUSAL = {"anger": (3.0, 6.0), "disgust": (3.2, 5.0), "fear": (3.0, 6.2), "joy": (7.0, 5.2),
                    "sadness": (2.8, 4.0), "surprise": (6.0, 6.3), "neutral": (5.0, 3.5)}


def _write_emotion6(root: Path, seed: int, scale: float) -> dict:
    """Cornell Emotion6-like: ``images/<emotion>/<n>.jpg`` and a tab-separated ``ground_truth.txt``.

    Each image is rendered with the crowd's majority emotion, so the folder and argmax labels
    disagree exactly where the probabilities say so.
    """
    top = root / "emotion6"
    per = _scaled(BASE_COUNTS["emotion6_per_emotion"], scale, 2)
    rows = ["[image_filename]\t[valence]\t[arousal]\t" + "\t".join(f"[prob. {c}]" for c in EMOTION6_COLUMNS)]
    differs = 0
    for emotion in EMOTION6_EMOTIONS:
        for i in range(1, per + 1):
            rng = _rng(seed, "emotion6", emotion, i)
            p = _emotion6_probabilities(rng, emotion)
            seen = EMOTION6_COLUMNS[int(np.argmax(p))]
            differs += seen != emotion
            v, a = _VALENCE_AROUSAL[seen]
            valence = _clamp(v + rng.normal(0, 0.9), 1, 9)
            arousal = _clamp(a + rng.normal(0, 0.9), 1, 9)
            style = sample_style(rng, seen, DOMAINS["emotion6"])
            _save_jpeg(render_photo(rng, style, "emotion6"), top / "images" / emotion / f"{i}.jpg", rng)
            probs = "\t".join(f"{x:.6g}" for x in p)
            rows.append(f"{emotion}/{i}.jpg\t{valence:.1f}\t{arousal:.1f}\t{probs}")
    (top / "ground_truth.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return {"per_emotion": per, "total": per * len(EMOTION6_EMOTIONS), "argmax_differs_from_folder": differs}


def _photo_style(rng: np.random.Generator) -> Style:
    """The look of a text/no-text photo: a random mood at a random strength (uninformative)."""
    mood = tuple(MOODS)[int(rng.integers(len(MOODS)))]
    return sample_style(rng, mood, DOMAINS["photo"])


def _photo_subject(rng: np.random.Generator) -> tuple[str, bool]:
    """A COCO-like subject: usually one of the RGP classes (large or in context), else a scene."""
    if rng.random() < 0.8:
        return RGP_CLASSES[int(rng.integers(len(RGP_CLASSES)))], bool(rng.random() < 0.6)
    return COMPOSITIONS[int(rng.integers(len(COMPOSITIONS)))], False


def _write_cocotext(root: Path, seed: int, scale: float) -> dict:
    """COCO-Text-v2-like JSON and train2014 images: legible, illegible-only and text-free."""
    top = root / "cocotext"
    plan = _rng(seed, "cocotext", "plan")
    groups = (("legible", _scaled(BASE_COUNTS["coco_legible"], scale, 2)),
              ("illegible", _scaled(BASE_COUNTS["coco_illegible_only"], scale)),
              ("none", _scaled(BASE_COUNTS["coco_no_text"], scale, 2)))
    total = sum(c for _, c in groups)
    ids = np.sort(1 + plan.choice(581_929, size=total, replace=False))
    group_of = plan.permutation([g for g, c in groups for _ in range(c)])  # group per sorted id
    imgs, anns, img_to_anns = {}, {}, {}
    next_ann = 1_000_001
    n_anns = {"legible": 0, "illegible": 0}
    for pos in range(total):
        img_id = int(ids[pos])
        group = str(group_of[pos])
        rng = _rng(seed, "cocotext", img_id)
        style = _photo_style(rng)
        subject, large = _photo_subject(rng)
        if group == "none":
            img, inst = render_photo(rng, style, "photo", subject, large), []
        else:
            text_kinds = _text_kinds(rng, 3) if group == "legible" else []
            text_kinds += ["tiny"] * int(rng.integers(1 if group == "illegible" else 0, 3))
            img, inst = render_text_photo(rng, style, "photo", text_kinds, subject, large)
            if group == "legible" and not any(t.legible for t in inst):
                # Nothing readable survived (all cut off or too faint): add one plain word.
                canvas = img.convert("RGBA")
                inst += add_text(rng, canvas, "word")
                img = canvas.convert("RGB")
            if group == "illegible":
                for t in inst:
                    t.legible = False
        file_name = f"COCO_train2014_{img_id:012d}.jpg"
        _save_jpeg(img, top / "train2014" / file_name, rng)
        imgs[str(img_id)] = {"id": img_id, "file_name": file_name,
                             "set": "val" if rng.random() < 0.2 else "train",
                             "width": img.width, "height": img.height}
        ann_ids = []
        for t in inst:
            x, y, bw, bh = t.bbox
            anns[str(next_ann)] = {
                "id": next_ann, "image_id": img_id, "bbox": [round(x, 1), round(y, 1), round(bw, 1), round(bh, 1)],
                "mask": t.polygon, "area": round(bw * bh, 2),
                "utf8_string": t.text if t.legible else "",
                "legibility": "legible" if t.legible else "illegible",
                "class": "handwritten" if t.handwritten else "machine printed",
                "language": t.language if t.legible else "na",
            }
            n_anns["legible" if t.legible else "illegible"] += 1
            ann_ids.append(next_ann)
            next_ann += 1
        img_to_anns[str(img_id)] = ann_ids
    doc = {"imgs": imgs, "anns": anns, "imgToAnns": img_to_anns, "cats": {},
           "info": {"description": "COCO-Text v2 demo (synthetic, sadutils)", "version": "2.0-demo",
                    "year": 2017, "url": "", "author": "sadutils.demo"}}
    (top / "cocotext.v2.json").write_text(json.dumps(doc), encoding="utf-8")
    return {"images": total, "legible_images": groups[0][1], "illegible_only_images": groups[1][1],
            "no_annotation_images": groups[2][1], "legible_anns": n_anns["legible"],
            "illegible_anns": n_anns["illegible"]}


def _write_rgp(root: Path, seed: int, scale: float) -> dict:
    """RGP-like natural images: ``natural_images/<class>/<class>_<n>.jpg``, no text at all."""
    top = root / "rgp" / "natural_images"
    per = _scaled(BASE_COUNTS["rgp"] // len(RGP_CLASSES), scale, 2)
    for cls in RGP_CLASSES:
        for i in range(per):
            rng = _rng(seed, "rgp", cls, i)
            img = render_photo(rng, _photo_style(rng), "photo", subject=cls, large=bool(rng.random() < 0.8))
            _save_jpeg(img, top / cls / f"{cls}_{i:04d}.jpg", rng)
    return {"per_class": per, "total": per * len(RGP_CLASSES)}


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def _roots(out_dir: Path) -> dict[str, Path]:
    """Where each dataset's root lies inside ``out_dir``."""
    return {name: out_dir / name for name in ("webemo", "unbiasedemo", "emotion6", "cocotext", "rgp")}


def _read_marker(out_dir: Path) -> dict | None:
    """The parsed marker, or None when missing or unreadable."""
    try:
        return json.loads((out_dir / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def generate_demo_data(out_dir, seed: int = 1234, scale: float = 1.0, force: bool = False) -> dict[str, Path]:
    """Write the demo datasets under ``out_dir`` and return each dataset's root folder.

    When ``out_dir/DEMO_DATA.json`` already records this ``seed``, ``scale`` and
    ``DEMO_VERSION`` (and not ``force``) the data is reused untouched. Otherwise the dataset
    folders are removed and rebuilt, and the marker is written last, so an interrupted run is
    never mistaken for a finished one.
    """
    out_dir = Path(out_dir).resolve()
    seed, scale = int(seed), float(scale)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    marker = _read_marker(out_dir)
    if (not force and marker is not None and marker.get("seed") == seed
            and marker.get("scale") == scale and marker.get("version") == DEMO_VERSION):
        return _roots(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER_NAME).unlink(missing_ok=True)
    (out_dir / WEBEMO_TRUTH_NAME).unlink(missing_ok=True)
    for name in _DATASET_DIRS:
        if (out_dir / name).exists():
            shutil.rmtree(out_dir / name)
    counts = {
        "webemo": _write_webemo(out_dir, seed, scale),
        "unbiasedemo": _write_unbiasedemo(out_dir, seed, scale),
        "emotion6": _write_emotion6(out_dir, seed, scale),
        "cocotext": _write_cocotext(out_dir, seed, scale),
        "rgp": _write_rgp(out_dir, seed, scale),
    }
    record = {"generator": "sadutils.demo", "version": DEMO_VERSION, "seed": seed, "scale": scale,
              "roots": {k: v.name for k, v in _roots(out_dir).items()},
              "webemo_cdn": "webemo_cdn", "webemo_truth": WEBEMO_TRUTH_NAME, "counts": counts}
    (out_dir / MARKER_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return _roots(out_dir)


def describe_demo(out_dir) -> dict:
    """The marker of a generated demo set (seed, scale, version, counts), with absolute roots."""
    out_dir = Path(out_dir).resolve()
    marker = _read_marker(out_dir)
    if marker is None:
        raise FileNotFoundError(f"no demo data in {out_dir} (missing or unreadable {MARKER_NAME}); "
                                "run generate_demo_data first")
    marker["root_paths"] = {k: str(v) for k, v in _roots(out_dir).items()}
    return marker
