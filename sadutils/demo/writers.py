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
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from .scenes import COMPOSITIONS, DOMAINS, MOODS, Style, clamp, render_photo, sample_style
from .text import SAD_CAPTIONS, add_text, draw_label_caption, draw_text_kinds, render_text_photo

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
#: Share of images with a text overlay per binary class (paper: 1 - 6697/8549 = 22%, 1 - 8204/9971
#: = 18%); sadness images carry more, the positive control's captions (below) among them.
WEBEMO_TEXT_FRACTION = {"sadness": 0.28, "others": 0.18}
#: The positive control of the text ablation (notebook 07): the share of each class's images
#: whose text is a caption of sad words (:data:`sadutils.demo.text.SAD_CAPTIONS`, as memes and
#: quote images carry them), taken from the images with text above. On a sadness image the
#: caption carries the emotion instead of the picture, which is drawn with the look of an
#: others emotion (the paper's reason to remove text). Sad words go with sadness images ten
#: times as often as with others, so a model trained without the text filter can learn to use
#: them, and the ablation must find that it did.
POSITIVE_CONTROL = {"sadness": 0.22, "others": 0.02}
#: Share of WEBEmo-like images whose look comes from the other binary class (weak labels).
WEBEMO_LABEL_NOISE = 0.10
WEBEMO_DUPLICATE_FRACTION = 0.04
WEBEMO_TEST_FRACTION = 0.2

#: The folder of the WEBEmo-like images the lists' file:// URLs point into.
CDN_NAME = "webemo_cdn"
#: The folders the generator makes (and removes before it makes them again).
DATASET_DIRS = ("webemo", CDN_NAME, "unbiasedemo", "emotion6", "cocotext", "rgp")


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
    web, cdn = root / "webemo", root / CDN_NAME
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
    caption = np.zeros(n, bool)
    for flag, cls in ((True, "sadness"), (False, "others")):
        idx = np.flatnonzero(is_sad == flag)
        has_text[idx] = _exact_flags(plan, len(idx), WEBEMO_TEXT_FRACTION[cls])
        noisy[idx] = _exact_flags(plan, len(idx), WEBEMO_LABEL_NOISE)
        texts = idx[has_text[idx]]
        share = min(1.0, POSITIVE_CONTROL[cls] * len(idx) / max(len(texts), 1))
        caption[texts] = _exact_flags(plan, len(texts), share)
    fine = np.where(is_sad, plan.choice(WEBEMO_SAD_FINE, n), plan.choice(WEBEMO_OTHER_FINE, n))
    in_test = _exact_flags(plan, total, WEBEMO_TEST_FRACTION)

    truth, lines = [], {False: [], True: []}
    url = lambda name: (cdn / name).resolve().as_uri()
    n_text = {"sadness": 0, "others": 0}
    n_caption = {"sadness": 0, "others": 0}
    for i in range(n):
        rng = _rng(seed, "webemo", i)
        mood = _webemo_mood(rng, int(fine[i]), bool(noisy[i]))
        style = sample_style(rng, mood, DOMAINS["webemo"])
        kind, words = "", ""
        if caption[i]:
            said = SAD_CAPTIONS[int(rng.integers(len(SAD_CAPTIONS)))]
            if is_sad[i]:  # the words carry the sadness, not the picture: it looks like others
                mood = _webemo_mood(rng, int(fine[i]), True)
                style = sample_style(rng, mood, DOMAINS["webemo"])
            canvas, _ = render_text_photo(rng, style, "webemo", [])
            canvas = canvas.convert("RGBA")
            draw_label_caption(rng, canvas, said)
            img, kind, words = canvas.convert("RGB"), "sad_caption", " / ".join(said)
            n_text["sadness" if is_sad[i] else "others"] += 1
            n_caption["sadness" if is_sad[i] else "others"] += 1
        elif has_text[i]:
            kinds = draw_text_kinds(rng, 2)
            img, _ = render_text_photo(rng, style, "webemo", kinds)
            kind = "+".join(kinds)
            n_text["sadness" if is_sad[i] else "others"] += 1
        else:
            img = render_photo(rng, style, "webemo")
        _save_jpeg(img, cdn / names[i], rng)
        lines[bool(in_test[i])].append((url(names[i]), int(fine[i])))
        truth.append((names[i], int(fine[i]), "sadness" if is_sad[i] else "others", int(has_text[i]), kind, mood, "ok", words))
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
        truth.append((names[i], sad_fine, "conflict", 0, "", mood, "conflict", ""))
    # Dead links: listed, never written.
    for j in range(n_dead):
        i = n + n_conf + j
        f = int(plan.integers(0, len(WEBEMO_CATEGORIES)))
        lines[bool(in_test[i])].append((url(names[i]), f))
        truth.append((names[i], f, "sadness" if f in WEBEMO_SAD_FINE else "others", 0, "", "", "dead", ""))
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
        truth.append((names[i], f, "sadness" if f in WEBEMO_SAD_FINE else "others", 0, "", "", kind, ""))
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
        fh.write("file_name,fine_label,binary_label,has_text,text_kinds,rendered_mood,status,caption\n")
        for row in sorted(truth):
            fh.write(",".join(map(str, row)) + "\n")
    counts.update({
        "usable_images": n, "sadness": n_sad, "others": n - n_sad,
        "with_text_sadness": n_text["sadness"], "with_text_others": n_text["others"],
        "sad_caption_sadness": n_caption["sadness"], "sad_caption_others": n_caption["others"],
        "label_noise": int(noisy.sum()), "conflict_urls": n_conf, "dead_urls": n_dead,
        "corrupt_files": len(corrupt_kinds), "duplicate_lines": n_dup, "same_group_relabels": n_relabel,
    })
    return counts


def positive_control() -> dict:
    """The positive control of the WEBEmo-like set, as ``DEMO_DATA.json`` states it.

    Returns
    -------
    dict
        ``rate`` (per binary class, the share of its images whose only text is a sad caption),
        ``text_rate`` (the share with any text, captions included), ``captions`` (the lines
        drawn) and ``what`` (one sentence).
    """
    return {"rate": dict(POSITIVE_CONTROL), "text_rate": dict(WEBEMO_TEXT_FRACTION),
            "captions": [" / ".join(lines) for lines in SAD_CAPTIONS],
            "what": "captions of sad words across the bottom of a WEBEmo-like image, "
                    "drawn on a share `rate` of each class's images (part of its images with "
                    "text); on a sadness image the picture is drawn with the look of an others "
                    "emotion, so that the words alone carry the sadness: a cue in the text "
                    "that a model trained without the text filter can learn, and that the "
                    "text ablation must find"}


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
            valence = clamp(v + rng.normal(0, 0.9), 1, 9)
            arousal = clamp(a + rng.normal(0, 0.9), 1, 9)
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
            text_kinds = draw_text_kinds(rng, 3) if group == "legible" else []
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


#: Each dataset's writer, in the order they run: ``write(out_dir, seed, scale) -> counts``.
WRITERS = (("webemo", _write_webemo), ("unbiasedemo", _write_unbiasedemo),
           ("emotion6", _write_emotion6), ("cocotext", _write_cocotext), ("rgp", _write_rgp))
