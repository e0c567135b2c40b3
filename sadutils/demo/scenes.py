"""Synthetic "photographs": one scene generator whose look carries a mood.

A scene is sky, ground, horizon, silhouettes (people, animals, objects), texture, lighting and
weather. A :class:`Mood` is a set of overlapping, class-conditional distributions of weak cues
(brightness, saturation, warm/cool colour, contrast, weather, composition) and a
:class:`Domain` shifts those cues, so that sadness is learnable from the pictures but far from
trivially, and a model trained on one "dataset" meets a domain shift on another. Every function
draws from the ``numpy.random.Generator`` it is given: the caller decides the seeding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

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


def clamp(x: float, lo: float, hi: float) -> float:
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
        brightness=clamp(pull("brightness", 0.13) * domain.brightness, 0.35, 1.6),
        saturation=clamp(pull("saturation", 0.25) * domain.saturation, 0.05, 2.0),
        warmth=clamp(pull("warmth", 0.35), -1.0, 1.0),
        contrast=clamp(pull("contrast", 0.16) * domain.contrast, 0.45, 1.8),
        horizon=clamp(pull("horizon", 0.10), 0.25, 0.88),
        arms_up=clamp(NEUTRAL.arms_up + k * (m.arms_up - NEUTRAL.arms_up), 0.0, 1.0),
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


def rgb(c) -> tuple:
    """An 8-bit RGB tuple from a 0..1 colour."""
    return tuple(int(round(255 * min(1.0, max(0.0, float(v))))) for v in c)


def random_colour(rng: np.random.Generator, vivid: float = 0.5, dark: float = 0.0) -> tuple:
    """A random 8-bit colour; ``vivid`` pulls it away from grey, ``dark`` towards black."""
    grey = float(rng.uniform(0.15, 0.85))
    c = grey + vivid * (rng.random(3) - 0.5)
    return rgb(np.minimum(np.maximum(c, 0), 1) * (1 - dark))


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
        c = tuple(int(clamp(v + rng.normal(0, 15), 0, 255)) for v in colour)
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
        d.ellipse([x - r, y - r, x + r, y + r], fill=rgb(green + rng.normal(0, 0.03, 3)))


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
                      fill=rgb(base_col + rng.normal(0, 0.04, 3)) + (220,))
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 5))):
            bw, bh = rng.uniform(0.1, 0.25) * w, rng.uniform(0.15, 0.5) * h
            x = rng.uniform(-0.05 * w, w)
            col = random_colour(rng, 0.3)
            d.rectangle([x, horizon - bh, x + bw, horizon + 2], fill=col)
            win = tuple(min(255, v + 50) for v in col) if rng.random() < 0.5 else (40, 40, 50)
            step = max(4.0, bw / 4)
            for wx in np.arange(x + step / 3, x + bw - step / 3, step):
                for wy in np.arange(horizon - bh + step / 3, horizon - step / 2, step):
                    d.rectangle([wx, wy, wx + step / 3, wy + step / 3], fill=win)
            if rng.random() < 0.25:  # a blank board, like a sign without lettering
                d.rectangle([x + 0.1 * bw, horizon - bh * 0.6, x + 0.9 * bw, horizon - bh * 0.45],
                            fill=random_colour(rng, 0.8))
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
    ground_y = lambda: clamp(horizon + rng.uniform(0.05, 0.9) * (h - horizon), horizon + 2, h - 2)
    figure_colour = random_colour(rng, 0.5, dark=float(rng.uniform(0.2, 0.7)))
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
                         random_colour(rng, 0.6, dark=float(rng.uniform(0.1, 0.6))), style.arms_up)
        return
    if subject == "animal":
        subject = ("cat", "dog")[int(rng.integers(2))]
    elif subject == "object":
        subject = ("car", "flower", "fruit", "motorbike", "airplane", "tree")[int(rng.integers(6))]
    size = rng.uniform(0.45, 0.8) * min(w, h) if large else rng.uniform(0.2, 0.45) * min(w, h)
    cx = w / 2 + rng.normal(0, 0.07) * w if large else rng.uniform(0.25, 0.75) * w
    colour = random_colour(rng, 0.7, dark=float(rng.uniform(0.0, 0.4)))
    if subject == "airplane":
        size = rng.uniform(0.5, 0.85) * w if large else size
        _draw_airplane(d, rng, cx, rng.uniform(0.25, 0.5) * h, size, random_colour(rng, 0.2))
    elif subject == "tree":
        _draw_tree(d, rng, cx, h * rng.uniform(0.88, 0.98), size * 1.3)
    elif subject == "flower" and large:
        for i in range(int(rng.integers(1, 4))):
            _draw_flower(d, rng, cx + (i - 1) * size * 0.35, h * rng.uniform(0.9, 1.0),
                         size * rng.uniform(0.8, 1.1), random_colour(rng, 0.9))
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
        fog = Image.new("RGB", (w, h), rgb(_jitter_colour(rng, (0.75, 0.77, 0.80), 0.03)))
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
