"""The model commands: ``predict``."""
from __future__ import annotations

import json
import sys

from ..inference import compiled_forward, decode_images, predict_proba
from ..models import load_model
from .paths import image_paths


def cmd_predict(args) -> int:
    """Classify images with a saved model: each class's probability and the predicted label."""
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not args.model.is_file():
        raise FileNotFoundError(f"model file not found: {args.model}")
    paths = image_paths(args.images)
    model = load_model(args.model)
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise ValueError(f"{args.model}: expected a model taking square RGB images, "
                         f"its input shape is {shape}")
    names = list(model.class_names)
    forward = compiled_forward(model)
    n_failed = 0
    for start in range(0, len(paths), args.batch_size):
        chunk = paths[start:start + args.batch_size]
        pixels, failed = decode_images(chunk, shape[1])
        reasons = dict(failed)
        ok = [i for i, p in enumerate(chunk) if str(p) not in reasons]
        probs = predict_proba(model, pixels[ok], batch_size=args.batch_size,
                                       forward=forward) if ok else []
        by_row = dict(zip(ok, probs))
        for i, path in enumerate(chunk):
            if i not in by_row:
                n_failed += 1
                reason = reasons[str(path)]
                if args.json:
                    print(json.dumps({"path": str(path), "error": reason}), flush=True)
                else:
                    print(f"sadutils: {path}: {reason}", file=sys.stderr, flush=True)
                continue
            p = by_row[i]
            label = names[int(p.argmax())]
            if args.json:
                print(json.dumps({"path": str(path),
                                  "probabilities": {n: round(float(v), 6) for n, v in zip(names, p)},
                                  "label": label}), flush=True)
            else:
                scores = "\t".join(f"{n}={float(v):.4f}" for n, v in zip(names, p))
                print(f"{path}\t{scores}\tlabel={label}", flush=True)
    if n_failed:
        print(f"sadutils: {len(paths) - n_failed} of {len(paths)} images classified, "
              f"{n_failed} could not be read", file=sys.stderr)
    return 1 if n_failed else 0
