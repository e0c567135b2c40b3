"""The text command: ``detect-text``, which images hold legible text.

With ``--method ocr`` (the default) nothing here imports TensorFlow: the OCR detector runs on
onnxruntime. ``--method cnn`` needs a Keras model, so that path imports the model code when it
is chosen (as the command modules themselves are imported only when chosen).
"""
from __future__ import annotations

import importlib
import json
import sys

from ..config import TEXT
from ..text_detection import DEFAULT_THRESHOLD, NO_TEXT_LABEL, TEXT_LABEL, OcrSettings, OcrScorer
from ..workspace import Workspace
from .paths import image_paths

#: Images scored between two prints, so results appear while a large folder is scored.
CHUNK = 16


def _print_result(args, path, score: float, extra: dict) -> None:
    label = TEXT_LABEL if score >= args.threshold else NO_TEXT_LABEL
    if args.json:
        print(json.dumps({"path": str(path), "score": round(float(score), 6), "label": label,
                          "method": args.method, **extra}), flush=True)
    else:
        more = "".join(f"\t{k}={json.dumps(v)}" for k, v in extra.items())
        print(f"{path}\tscore={score:.4f}\tlabel={label}{more}", flush=True)


def _print_failure(args, path, reason: str) -> None:
    if args.json:
        print(json.dumps({"path": str(path), "error": reason}), flush=True)
    else:
        print(f"sadutils: {path}: {reason}", file=sys.stderr, flush=True)


def _ocr(args, paths) -> int:
    scorer = OcrScorer(OcrSettings(workers=args.workers))
    failed = 0
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start:start + CHUNK]
        table = scorer.score_files(chunk)
        for path, row in zip(chunk, table.itertuples(index=False)):
            if row.error is not None and row.error == row.error:  # a reason, not None/NaN
                failed += 1
                _print_failure(args, path, row.error)
            else:
                _print_result(args, path, row.score, {"read": row.text})
    return failed


def _cnn(args, paths) -> int:
    model_path = args.model if args.model is not None else Workspace.create("demo").text_model
    if not model_path.is_file():
        raise FileNotFoundError(
            f"text classifier not found: {model_path}; train one with notebooks/"
            "01_text_classifier (or `sadutils reproduce --only 01_text_classifier`), or give "
            "--model PATH")
    # The Keras stack is imported only for this method: `--method ocr` starts without loading
    # TensorFlow.
    inference = importlib.import_module("..inference", __package__)
    models = importlib.import_module("..models", __package__)
    model = models.load_model(model_path)
    names = list(model.class_names)
    if TEXT not in names:
        raise ValueError(f"{model_path} predicts {names}, not {TEXT!r}: not a text classifier")
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise ValueError(f"{model_path}: expected a model taking square RGB images, its input "
                         f"shape is {shape}")
    forward = inference.compiled_forward(model)
    failed = 0
    for start in range(0, len(paths), args.batch_size):
        chunk = paths[start:start + args.batch_size]
        pixels, bad = inference.decode_images(chunk, shape[1])
        reasons = dict(bad)
        ok = [i for i, p in enumerate(chunk) if str(p) not in reasons]
        probs = (inference.predict_proba(model, pixels[ok], batch_size=args.batch_size,
                                         forward=forward) if ok else [])
        by_row = dict(zip(ok, probs))
        for i, path in enumerate(chunk):
            if i not in by_row:
                failed += 1
                _print_failure(args, path, reasons[str(path)])
            else:
                _print_result(args, path, float(by_row[i][names.index(TEXT)]), {})
    return failed


def cmd_detect_text(args) -> int:
    """Score images for legible text; print each image's score and label.

    Parameters
    ----------
    args : argparse.Namespace
        From :func:`sadutils.cli.arguments.detect_text`.

    Returns
    -------
    int
        0 when every image was scored, 1 when some could not be read (each is reported).

    Raises
    ------
    ValueError, FileNotFoundError
        For a bad option, no image at all, or a missing model.
    """
    if args.threshold is None:
        args.threshold = DEFAULT_THRESHOLD if args.method == "ocr" else 0.5
    if not 0.0 <= args.threshold <= 1.0:
        raise ValueError(f"--threshold must be within 0..1, got {args.threshold}")
    if args.batch_size < 1 or (args.workers is not None and args.workers < 1):
        raise ValueError("--batch-size and --workers must be at least 1")
    if args.model is not None and args.method != "cnn":
        raise ValueError("--model is for --method cnn (the OCR detector's models ship with it)")
    paths = image_paths(args.images, what="score")
    failed = _ocr(args, paths) if args.method == "ocr" else _cnn(args, paths)
    if failed:
        print(f"sadutils: {len(paths) - failed} of {len(paths)} images scored, {failed} could "
              "not be read", file=sys.stderr)
    return 1 if failed else 0
