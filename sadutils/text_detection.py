"""A second text scorer beside the paper's classifier: a pretrained OCR detector shipped offline.

The paper filters WEBEmo with a CNN it trained on COCO-Text against text-free photos. Without
ImageNet weights (the offline demo) that classifier learns nothing in a few epochs, so the
companion also offers a detector that already knows text: PaddleOCR's PP-OCRv6 *small* text
detector and recogniser, which the ``rapidocr`` package ships inside its wheel and runs on
onnxruntime (with the headless OpenCV build). Nothing is downloaded at run time: the model files
are taken from the installed package, and a missing one is an error, never a download.

How an image is scored (:func:`legible_score`, designed from measurements; see
``benchmarks/ocr.py`` and the book's performance page):

1. The image is read by :func:`sadutils.data.images.open_rgb` (the check every reader uses)
   and resized so that its long side lies within ``min_side``..``max_side`` pixels (small
   images are enlarged, so a WEBEmo thumbnail's small words reach the detector's scale; large
   photos are reduced, which bounds the cost).
2. The detector marks candidate text regions (a detection-only pass: an image with no
   candidate costs no recognition at all, and this is most text-free images).
3. The recogniser reads the ``max_lines`` most confident regions and gives each a confidence.
4. The score is the highest confidence of a line that reads as at least two *different*
   letters or digits. A lone ``0`` or ``O`` (a wheel, a coin, an eye) and a repeated
   ``0000`` or ``AAA`` (windows, bricks, stars) are what the detector finds in textures of
   text-free photos; words, numbers and plates pass.

The score is in [0, 1]; :data:`DEFAULT_THRESHOLD` is the decision threshold.
"""
from __future__ import annotations

import importlib.util
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import onnxruntime
import pandas as pd
import rapidocr
from PIL import Image
from rapidocr import RapidOCR
from rapidocr.ch_ppocr_det import TextDetector
from rapidocr.ch_ppocr_rec import TextRecInput, TextRecognizer
from rapidocr.utils.process_img import get_rotate_crop_image
from tqdm import tqdm  # plain bars: tqdm.auto warns in every kernel without ipywidgets

from .config import cpu_count
from .data.images import DEFAULT_MAX_PIXELS, ImageError, open_rgb

#: The package whose wheel ships the models.
OCR_PACKAGE = "rapidocr"
#: The shipped model files (in ``rapidocr/models/``) and what they are.
DETECTOR_FILE = "PP-OCRv6_det_small.onnx"
RECOGNISER_FILE = "PP-OCRv6_rec_small.onnx"
OCR_MODEL_NAME = "PP-OCRv6 small (detection + recognition)"
#: Decision threshold on the score: at least this means "holds legible text". Chosen on the
#: design images (374 demo images, 18 photos shipped by scikit-image, Matplotlib and
#: scikit-learn): balanced accuracy is flat (0.924-0.929) from 0.45 to 0.80, and 0.5 lies in
#: that plateau with the most room below the real text photos' lowest score (0.73).
DEFAULT_THRESHOLD = 0.5
#: A line counts only when it reads as at least this many different letters or digits.
MIN_DISTINCT_CHARACTERS = 2
#: Labels of a decision, as the text classifier names its classes.
TEXT_LABEL, NO_TEXT_LABEL = "text", "no_text"

_ALPHANUMERIC = re.compile(r"[^\W_]", re.UNICODE)


class OcrUnavailable(RuntimeError):
    """The OCR package or one of its shipped model files is missing."""


#: Where the OCR models can run (:attr:`OcrSettings.device`).
OCR_DEVICES = ("auto", "cpu", "cuda")
CUDA_PROVIDER = "CUDAExecutionProvider"


def cuda_available() -> bool:
    """Whether onnxruntime can run the OCR models on an NVIDIA GPU here.

    Returns
    -------
    bool
        True with the ``onnxruntime-gpu`` build on a machine where it sees a GPU.
    """
    return CUDA_PROVIDER in onnxruntime.get_available_providers() and \
        onnxruntime.get_device() == "GPU"


@dataclass(frozen=True)
class OcrSettings:
    """How images are fed to the detector and how much work is spent on each.

    Attributes
    ----------
    min_side, max_side : int
        The image is resized so that its long side is at least ``min_side`` and at most
        ``max_side`` pixels (aspect ratio kept; within the range it is left as it is).
    box_threshold : float
        The detector's threshold on a region's mean text probability (PaddleOCR's
        ``box_thresh``).
    pixel_threshold : float
        The detector's threshold on each pixel's text probability (PaddleOCR's ``thresh``).
    max_lines : int
        Regions read by the recogniser per image, the most confident first.
    threads : int
        onnxruntime threads per model call (intra-op). With several ``workers`` 1 is best.
    workers : int or None
        Images scored at once (threads sharing the two models; onnxruntime runs outside the
        GIL). None: the CPU cores this process may use (:func:`sadutils.config.cpu_count`),
        at most 4.
    device : {"auto", "cpu", "cuda"}
        Where onnxruntime runs the models: ``auto`` is the GPU when onnxruntime offers its
        CUDA provider (the ``onnxruntime-gpu`` build of the ``gpu`` extra, on a machine with
        an NVIDIA GPU), else the CPU; ``cuda`` insists on the GPU.
    """

    min_side: int = 320
    max_side: int = 640
    box_threshold: float = 0.5
    pixel_threshold: float = 0.3
    max_lines: int = 8
    threads: int = 1
    workers: int | None = None
    device: str = "auto"

    def __post_init__(self):
        if not 32 <= self.min_side <= self.max_side:
            raise ValueError(f"OCR sides must satisfy 32 <= min_side <= max_side, got "
                             f"{self.min_side}..{self.max_side}")
        if not 0.0 < self.box_threshold < 1.0:
            raise ValueError(f"box_threshold must be within (0, 1), got {self.box_threshold}")
        if self.max_lines < 1 or self.threads < 1 or (self.workers is not None
                                                       and self.workers < 1):
            raise ValueError("max_lines, threads and workers must be at least 1")
        if self.device not in OCR_DEVICES:
            raise ValueError(f"unknown OCR device {self.device!r}; valid choices: "
                             f"{', '.join(OCR_DEVICES)}")

    def uses_cuda(self) -> bool:
        """Whether the models run on the GPU (see ``device``).

        Raises
        ------
        OcrUnavailable
            For ``device="cuda"`` where onnxruntime has no CUDA provider.
        """
        available = cuda_available()
        if self.device == "cuda" and not available:
            raise OcrUnavailable(
                "device='cuda' asked for, but onnxruntime offers no CUDAExecutionProvider "
                f"here (it has {', '.join(onnxruntime.get_available_providers())}); install the "
                "gpu extra's onnxruntime-gpu on a machine with an NVIDIA GPU (README, GPUs)")
        return self.device != "cpu" and available

    def worker_count(self) -> int:
        """The number of images scored at once."""
        return self.workers or min(4, cpu_count())

    def as_params(self) -> dict:
        """The settings as the ``params`` of a results record."""
        return asdict(self)


@dataclass(frozen=True)
class TextLine:
    """One region the recogniser read.

    Attributes
    ----------
    text : str
    confidence : float
        The recogniser's confidence (mean per-character probability), 0..1.
    box_score : float
        The detector's mean text probability inside the region, 0..1.
    box : tuple
        The region's four corners ``((x, y), ...)`` in pixels of the image read (empty when
        not known).
    """

    text: str
    confidence: float
    box_score: float
    box: tuple = ()


@dataclass(frozen=True)
class OcrReading:
    """What the OCR found in one image.

    Attributes
    ----------
    score : float
        :func:`legible_score` of ``lines``, 0..1.
    n_regions : int
        Candidate text regions the detector marked (before ``max_lines``).
    lines : tuple of TextLine
        The regions read, most confident first.
    """

    score: float
    n_regions: int
    lines: tuple = ()

    @property
    def best(self) -> TextLine | None:
        """The line that gave the score (None when no line counts)."""
        counted = [line for line in self.lines if counts_as_text(line.text)]
        return max(counted, key=lambda line: line.confidence, default=None)


def distinct_characters(text: str) -> int:
    """How many different letters or digits ``text`` has (case-insensitive).

    Parameters
    ----------
    text : str

    Returns
    -------
    int
    """
    return len(set(_ALPHANUMERIC.findall(text.casefold())))


def counts_as_text(text: str) -> bool:
    """Whether a recognised line can count as legible text: at least
    :data:`MIN_DISTINCT_CHARACTERS` different letters or digits.

    Parameters
    ----------
    text : str

    Returns
    -------
    bool
    """
    return distinct_characters(text) >= MIN_DISTINCT_CHARACTERS


def legible_score(lines) -> float:
    """The score of an image from the lines read in it.

    Parameters
    ----------
    lines : iterable of TextLine or (text, confidence) pairs

    Returns
    -------
    float
        The highest recogniser confidence among lines that :func:`counts_as_text`, clipped to
        0..1; 0 when there is none.
    """
    best = 0.0
    for line in lines:
        text, confidence = (line.text, line.confidence) if isinstance(line, TextLine) else line
        if counts_as_text(text):
            best = max(best, float(confidence))
    return float(min(1.0, max(0.0, best)))


def decide(scores, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """``text`` / ``no_text`` labels from scores (NaN, an unreadable image, gives None).

    Parameters
    ----------
    scores : array-like of float
    threshold : float

    Returns
    -------
    ndarray of object
    """
    scores = np.asarray(scores, dtype=float)
    labels = np.where(scores >= threshold, TEXT_LABEL, NO_TEXT_LABEL).astype(object)
    labels[np.isnan(scores)] = None
    return labels


def detection_size(width: int, height: int, min_side: int, max_side: int) -> tuple[int, int]:
    """The size an image is resized to before detection.

    Parameters
    ----------
    width, height : int
    min_side, max_side : int
        Bounds of the long side.

    Returns
    -------
    tuple of int
        ``(width, height)``: the long side brought within ``min_side..max_side``, aspect
        ratio kept, no side below 1.
    """
    long_side = max(width, height)
    target = min(max(long_side, min_side), max_side)
    scale = target / long_side
    return max(1, round(width * scale)), max(1, round(height * scale))


def model_files() -> dict[str, Path]:
    """The shipped model files this module uses.

    Returns
    -------
    dict
        ``{"detector": path, "recogniser": path}``.

    Raises
    ------
    OcrUnavailable
        When a file is missing from the installed package (it is never downloaded).
    """
    folder = Path(rapidocr.__file__).resolve().parent / "models"
    files = {"detector": folder / DETECTOR_FILE, "recogniser": folder / RECOGNISER_FILE}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise OcrUnavailable(
            f"the OCR model file(s) {', '.join(missing)} that {OCR_PACKAGE} ships are missing; "
            f"reinstall it (pip install --force-reinstall '{OCR_PACKAGE}>=3.10,<4'); nothing is "
            "downloaded at run time")
    return files


def model_info() -> dict:
    """What the OCR scorer runs, for records and reports.

    Returns
    -------
    dict
        ``model``, ``package``, ``package_version``, ``onnxruntime`` (its version, either
        build), ``providers`` (onnxruntime's execution providers here), ``opencv``, and the
        model files' names and sizes in bytes.
    """
    def dist(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    files = model_files()
    return {"model": OCR_MODEL_NAME, "package": OCR_PACKAGE,
            "package_version": dist(OCR_PACKAGE),
            "onnxruntime": dist("onnxruntime") or dist("onnxruntime-gpu"),
            "providers": onnxruntime.get_available_providers(),
            "opencv": dist("opencv-python-headless") or dist("opencv-python"),
            "files": {k: {"name": p.name, "bytes": p.stat().st_size} for k, p in files.items()}}


class OcrScorer:
    """The OCR text scorer: one detector and one recogniser, shared by worker threads.

    Parameters
    ----------
    settings : OcrSettings, optional

    Raises
    ------
    OcrUnavailable
        When a shipped model file is missing.
    """

    def __init__(self, settings: OcrSettings | None = None):
        self.settings = settings or OcrSettings()
        files = model_files()
        s = self.settings
        engine = RapidOCR(params={
            "Global.log_level": "error",
            "Det.model_path": str(files["detector"]), "Rec.model_path": str(files["recogniser"]),
            "Det.limit_type": "max", "Det.limit_side_len": s.max_side,
            "Det.box_thresh": s.box_threshold, "Det.thresh": s.pixel_threshold,
            "EngineConfig.onnxruntime.intra_op_num_threads": s.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "EngineConfig.onnxruntime.use_cuda": s.uses_cuda(),
        })
        # The detector and recogniser are built as RapidOCR builds them, then called one by one:
        # recognition runs only on images where detection found a candidate.
        cfg = engine.cfg
        for part in (cfg.Det, cfg.Rec):
            part.engine_cfg = cfg.EngineConfig[part.engine_type.value]
            part.model_root_dir = cfg.Global.model_root_dir
        cfg.Rec.font_path = None  # used only to draw results, which is never done here
        self._detector = TextDetector(cfg.Det)
        self._recogniser = TextRecognizer(cfg.Rec)

    def read(self, rgb: np.ndarray) -> OcrReading:
        """Score one image given as an RGB ``uint8`` array ``(H, W, 3)``, already resized.

        Parameters
        ----------
        rgb : ndarray

        Returns
        -------
        OcrReading
        """
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # the models were trained on OpenCV's BGR
        # Both models are safe to call from several threads: onnxruntime sessions are, and the
        # pre- and post-processing keep no state between calls.
        found = self._detector(bgr)
        if found.boxes is None or len(found.boxes) == 0:
            return OcrReading(0.0, 0)
        box_scores = np.asarray(found.scores, dtype=float)
        order = np.argsort(-box_scores, kind="stable")[: self.settings.max_lines]
        crops = [get_rotate_crop_image(bgr, np.asarray(found.boxes[i], dtype=np.float32))
                 for i in order]
        read = self._recogniser(TextRecInput(img=crops))
        lines = sorted((TextLine(str(t), float(c), float(box_scores[i]),
                                 tuple(map(tuple, np.asarray(found.boxes[i], float).tolist())))
                        for t, c, i in zip(read.txts, read.scores, order)),
                       key=lambda line: -line.confidence)
        return OcrReading(legible_score(lines), len(found.boxes), tuple(lines))

    def prepare(self, path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """Open an image file with the package's image checks and resize it for detection.

        Parameters
        ----------
        path : path
        max_pixels : int or None

        Returns
        -------
        ndarray
            RGB ``uint8`` ``(H, W, 3)``.

        Raises
        ------
        ImageError
            For a file that is not a readable image (see :func:`~sadutils.data.images.open_rgb`).
        """
        im = open_rgb(path, max_pixels)
        size = detection_size(*im.size, self.settings.min_side, self.settings.max_side)
        if size != im.size:
            im = im.resize(size, Image.Resampling.BILINEAR)
        return np.asarray(im, dtype=np.uint8)

    def read_file(self, path) -> OcrReading:
        """:meth:`read` of an image file.

        Parameters
        ----------
        path : path

        Returns
        -------
        OcrReading

        Raises
        ------
        ImageError
            For a file that is not a readable image.
        """
        return self.read(self.prepare(path))

    def text_regions(self, path, threshold: float = DEFAULT_THRESHOLD) -> list:
        """Where an image holds legible text: the regions of the lines that count.

        Parameters
        ----------
        path : path
        threshold : float
            A line counts when it reads as text (:func:`counts_as_text`) with at least this
            confidence: the lines that make an image's score reach the same threshold.

        Returns
        -------
        list of ndarray
            One ``(4, 2)`` array per line: its corners as fractions of the image's width
            and height (so they apply at any size), most confident line first.

        Raises
        ------
        ImageError
            For a file that is not a readable image.
        """
        rgb = self.prepare(path)
        height, width = rgb.shape[:2]
        return [np.asarray(line.box, float) / [width, height]
                for line in self.read(rgb).lines
                if line.box and counts_as_text(line.text) and line.confidence >= threshold]

    def score_files(self, paths, workers: int | None = None,
                    progress: bool = False) -> pd.DataFrame:
        """Score many image files over a pool of worker threads.

        Parameters
        ----------
        paths : iterable of path
        workers : int, optional
            Default the settings' :meth:`OcrSettings.worker_count`.
        progress : bool

        Returns
        -------
        DataFrame
            One row per path, in order: ``path``, ``score`` (NaN when unreadable),
            ``n_regions``, ``text`` (the line that gave the score, or ""), ``confidence``,
            ``error`` (why the file could not be read, else None).
        """
        paths = [str(p) for p in paths]

        def one(path):
            try:
                reading = self.read_file(path)
            except ImageError as exc:
                return {"path": path, "score": np.nan, "n_regions": 0, "text": "",
                        "confidence": np.nan, "error": exc.reason}
            best = reading.best
            return {"path": path, "score": reading.score, "n_regions": reading.n_regions,
                    "text": best.text if best else "",
                    "confidence": best.confidence if best else np.nan, "error": None}

        workers = workers or self.settings.worker_count()
        with ThreadPoolExecutor(max(1, workers)) as pool:
            rows = pool.map(one, paths) if workers > 1 else map(one, paths)
            if progress:
                rows = tqdm(rows, total=len(paths), desc="OCR", unit="img")
            rows = list(rows)
        columns = ["path", "score", "n_regions", "text", "confidence", "error"]
        return pd.DataFrame(rows, columns=columns)


#: Real photographs that registry packages ship, with whether each holds legible text (read
#: at full size by a person): ``(package, file in its data folder) -> label``. Photos whose
#: text is too small or blurred to call either way (the astronaut's patches, the lettering of
#: the camera's lens and of the coins) are left out. They are the design photos of the scorer
#: and the real photos of its tests.
REFERENCE_PHOTOS = {
    ("skimage", "page.png"): TEXT_LABEL,             # a photographed book page
    ("skimage", "text.png"): TEXT_LABEL,             # handwriting on a surface, in perspective
    ("skimage", "motorcycle_left.png"): TEXT_LABEL,  # the maker's name on the tank
    ("matplotlib", "grace_hopper.jpg"): TEXT_LABEL,  # her name plate
    ("skimage", "chelsea.png"): NO_TEXT_LABEL,
    ("skimage", "coffee.png"): NO_TEXT_LABEL,
    ("skimage", "rocket.jpg"): NO_TEXT_LABEL,
    ("skimage", "hubble_deep_field.jpg"): NO_TEXT_LABEL,
    ("skimage", "retina.jpg"): NO_TEXT_LABEL,
    ("skimage", "moon.png"): NO_TEXT_LABEL,
    ("skimage", "ihc.png"): NO_TEXT_LABEL,
    ("skimage", "brick.png"): NO_TEXT_LABEL,
    ("skimage", "grass.png"): NO_TEXT_LABEL,
    ("skimage", "gravel.png"): NO_TEXT_LABEL,
    ("skimage", "cell.png"): NO_TEXT_LABEL,
    ("skimage", "clock_motion.png"): NO_TEXT_LABEL,
    ("sklearn", "china.jpg"): NO_TEXT_LABEL,
    ("sklearn", "flower.jpg"): NO_TEXT_LABEL,
}
#: Where each package keeps those photos, relative to its own folder.
_PHOTO_FOLDERS = {"skimage": "data", "matplotlib": "mpl-data/sample_data",
                  "sklearn": "datasets/images"}


def reference_photos() -> pd.DataFrame:
    """The :data:`REFERENCE_PHOTOS` that the installed packages have.

    Looked up without importing the packages (scikit-image is only a test dependency).

    Returns
    -------
    DataFrame
        ``path``, ``label`` (``text``/``no_text``), ``package``; photos of packages that are
        not installed are absent.
    """
    rows = []
    for (package, name), label in REFERENCE_PHOTOS.items():
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        path = Path(spec.origin).parent / _PHOTO_FOLDERS[package] / name
        if path.is_file():
            rows.append({"path": str(path), "label": label, "package": package})
    return pd.DataFrame(rows, columns=["path", "label", "package"])


_SCORERS: dict[OcrSettings, OcrScorer] = {}
_SCORERS_LOCK = threading.Lock()


def get_scorer(settings: OcrSettings | None = None) -> OcrScorer:
    """A shared :class:`OcrScorer` per settings (loading the models takes about a second).

    Parameters
    ----------
    settings : OcrSettings, optional

    Returns
    -------
    OcrScorer
    """
    settings = settings or OcrSettings()
    with _SCORERS_LOCK:
        if settings not in _SCORERS:
            _SCORERS[settings] = OcrScorer(settings)
        return _SCORERS[settings]


def ocr_scores(paths, settings: OcrSettings | None = None, progress: bool = False) -> pd.DataFrame:
    """Score image files for legible text with the shared scorer.

    Parameters
    ----------
    paths : iterable of path
    settings : OcrSettings, optional
    progress : bool

    Returns
    -------
    DataFrame
        See :meth:`OcrScorer.score_files`.
    """
    return get_scorer(settings).score_files(paths, progress=progress)
