"""Shared pieces of the benchmark scripts: timing, machine info, results files, small models.

The scripts in this folder import it as ``benchlib`` (Python puts a script's own folder first on
``sys.path``). Nothing here is part of the ``sadutils`` package.

Timing rule: the two sides of every ratio are measured *interleaved* in the same process
(A, B, B, A, A, B, ...), and the ratio reported is the median of the per-round paired ratios, so
a neighbour's load that comes and goes on a shared machine hits both sides alike.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

# Quiet TensorFlow's C++ start-up chatter before anything imports it (errors still show).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the checkout's sadutils, also when it is not installed
from sadutils.provenance import cpu_flags, cpu_model, provenance  # noqa: E402
from sadutils.workspace import benchmarks_dir  # noqa: E402
#: A stand-in "backbone" for smoke tests: a few conv layers, same inputs/outputs as the real ones.
TINY = "tiny"
ALL_BACKBONES = ("xception", "efficientnetv2b0", "efficientnetv2b2", "efficientnetv2s")


# --------------------------------------------------------------------------- command line
def base_parser(description: str) -> argparse.ArgumentParser:
    """Options every script has: --quick, --tiny, --out, --note, --rounds."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a short run (about 1-3 minutes on a 2-core CPU): fewer backbones, "
                        "rounds and steps")
    p.add_argument("--tiny", action="store_true",
                   help="smoke test: a tiny stand-in CNN instead of the real backbones and "
                        "minimal sizes (seconds; the numbers mean nothing)")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved measurement rounds per comparison (default depends on mode)")
    p.add_argument("--out", default=None,
                   help="folder for the JSON results file (default: <results root>/benchmarks, "
                        "i.e. results/benchmarks or $SADUTILS_RESULTS/benchmarks)")
    p.add_argument("--no-save", action="store_true",
                   help="print only, write no JSON file (the default with --tiny unless --out "
                        "is given)")
    p.add_argument("--fresh", action="store_true",
                   help="replace the whole results file instead of only the rows re-measured")
    p.add_argument("--note", default="",
                   help="free text stored with the results, e.g. 'shared 2-core CPU, busy'")
    return p


def model_parser(description: str, batch_size, backbones_help: str = "comma-separated "
                 "(default: all four; --quick: efficientnetv2b0)") -> argparse.ArgumentParser:
    """:func:`base_parser` plus the model options: --backbones, --image-size, --batch-size."""
    p = base_parser(description)
    p.add_argument("--backbones", default=None, help=backbones_help)
    p.add_argument("--image-size", type=int, default=None, help="pixels (default 150)")
    p.add_argument("--batch-size", type=int, default=batch_size,
                   help=None if batch_size is not None else "(default 64)")
    return p


def fill_defaults(args, tiny: dict, quick: dict, full: dict) -> None:
    """Set every option still ``None`` from the mode's defaults (``--tiny`` or ``--quick``),
    then from ``full``: one table per script instead of a chain of ``or``s."""
    mode = tiny if args.tiny else quick if args.quick else {}
    for defaults in (mode, full):
        for name, value in defaults.items():
            if getattr(args, name, None) is None:
                setattr(args, name, value)


def mode_name(args) -> str:
    return "tiny" if args.tiny else ("quick" if args.quick else "full")


def backbones_arg(value: str | None, default) -> list[str]:
    if not value:
        return list(default)
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    for n in names:
        if n not in ALL_BACKBONES + (TINY,):
            raise SystemExit(f"unknown backbone {n!r}; choose from {', '.join(ALL_BACKBONES)} "
                             f"(or {TINY})")
    return names


# --------------------------------------------------------------------------- machine info
def machine_info(note: str = "") -> dict:
    """Where the numbers were measured: flattened to ``machine.*`` columns in the JSON rows.

    The same facts as a results record's provenance (:mod:`sadutils.provenance`), with the CPU's
    model and speed flags and the load when the run started.
    """
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = None
    prov = provenance()
    memory = prov["hardware"]["memory_bytes"]
    commit = prov["git_commit"]
    if commit:
        commit = commit[:10] + ("+dirty" if prov["git_dirty"] else "")
    gpus = prov["hardware"]["gpus"]
    return {
        "platform": prov["hardware"]["platform"],
        "cpu": cpu_model(),
        "cpu_count": prov["hardware"]["cpu_count"],
        "cpu_flags": " ".join(cpu_flags()),
        "memory_gb": None if memory is None else round(memory / 2**30, 1),
        "gpus": ", ".join(gpus) if gpus else "none",
        "python": prov["versions"]["python"],
        "tensorflow": prov["versions"]["tensorflow"],
        "keras": prov["versions"]["keras"],
        "git_commit": commit,
        "load_avg_at_start": load,
        "note": note,
    }


# --------------------------------------------------------------------------- results
def results_dir(args) -> Path:
    if args.out:
        return Path(args.out)
    return benchmarks_dir()


class Results:
    """Rows of one benchmark run, written (again) to ``<out>/<name>.json`` after every row.

    The file is a JSON list of flat-ish dicts, the format :func:`sadutils.reporting.benchmarks.read_benchmarks`
    turns into a table (nested ``machine`` becomes ``machine.*`` columns). Writing after every
    row means a run that is killed (e.g. a GPU session's time limit) keeps what it measured.
    Rows already in the file are kept unless this run measures the same ``key`` (e.g. the same
    backbone), so backbones can be measured one run at a time; ``--fresh`` drops them all. Every
    row carries its own ``created_at`` and ``machine``.
    """

    def __init__(self, name: str, args, extra: dict | None = None, key=("backbone",)):
        self.name, self.args, self.key = name, args, tuple(key)
        self.rows: list[dict] = []
        self.kept: list[dict] = []
        self.common = {
            "benchmark": name,
            "mode": mode_name(args),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        self.machine = None  # filled on first add (after TensorFlow is imported, to list GPUs)
        no_save = args.no_save or (args.tiny and not args.out)
        self.path = None if no_save else results_dir(args) / f"{name}.json"
        if self.path is not None and self.path.is_file() and not args.fresh:
            try:
                old = json.loads(self.path.read_text())
                self.kept = [r for r in old if isinstance(r, dict)] if isinstance(old, list) else []
            except (OSError, ValueError):
                self.kept = []

    def add(self, **row) -> dict:
        if self.machine is None:
            self.machine = machine_info(self.args.note)
        full = {**self.common, **row, "machine": self.machine}
        self.rows.append(full)
        self.save()
        return full

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        measured = {tuple(r.get(k) for k in self.key) for r in self.rows}
        kept = [r for r in self.kept if tuple(r.get(k) for k in self.key) not in measured]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(_jsonable(kept + self.rows), indent=2, allow_nan=False) + "\n")
        os.replace(tmp, self.path)

    def done(self) -> None:
        if self.path is not None:
            print(f"\nresults written to {self.path}")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return round(obj, 4) if math.isfinite(obj) else None
    return obj


# --------------------------------------------------------------------------- printing
def print_header(title: str, args, **conditions) -> None:
    info = machine_info(args.note)
    print(f"== {title} ({mode_name(args)} mode) ==")
    print(f"machine: {info['cpu']} x{info['cpu_count']} [{info['cpu_flags']}], "
          f"{info['memory_gb']} GB, load avg {info['load_avg_at_start']}; "
          f"TF {info['tensorflow']}, Keras {info['keras']}")
    if conditions:
        print("conditions: " + ", ".join(f"{k}={v}" for k, v in conditions.items()))
    sys.stdout.flush()


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A plain-text table of ``columns`` of ``rows`` (floats with sensible precision)."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
        return "" if v is None else str(v)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c)
              for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))
    sys.stdout.flush()


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "MISSED")


def ratio_line(label: str, ratio: float, detail: str = "", target: str = "",
               ok: bool | None = None) -> None:
    """One greppable line: ``RATIO <label> = <ratio> (<detail>) target <target>: MET``."""
    text = f"RATIO {label} = {ratio:.3f}"
    if detail:
        text += f" ({detail})"
    if target:
        text += f"; target {target}: {verdict(ok)}"
    print(text)
    sys.stdout.flush()


# --------------------------------------------------------------------------- timing
def interleaved(cases: dict, rounds: int, log=print) -> dict:
    """Time each case ``rounds`` times, alternating the order every round (ABBA...).

    ``cases`` maps a name to a zero-argument callable that does the work and returns how many
    items (images) it processed. Returns ``{name: [items/s per round]}``.
    """
    names = list(cases)
    rates = {n: [] for n in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for n in order:
            t0 = time.perf_counter()
            items = cases[n]()
            dt = time.perf_counter() - t0
            rates[n].append(items / dt)
        if log:
            log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{n} {rates[n][-1]:.1f}/s"
                                                        for n in names))
            sys.stdout.flush()
    return rates


def median(xs) -> float:
    return float(statistics.median(xs))


def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median of the per-round ratios ``num[i] / den[i]`` (robust to load that drifts)."""
    return median([a / b for a, b in zip(num, den)])


def spread(xs) -> float:
    """Relative spread (max-min)/median of per-round rates, to show how noisy a side was."""
    m = median(xs)
    return (max(xs) - min(xs)) / m if m else float("nan")


# --------------------------------------------------------------------------- models and data
def build(backbone: str, image_size: int):
    """The paper model of ``backbone`` (random weights) or the tiny stand-in."""
    import keras
    if backbone != TINY:
        from sadutils.models import build_model  # TensorFlow only when a model is built
        return build_model(backbone, image_size, weights=None)
    from keras import layers
    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    for filters in (8, 16):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(2, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="tiny")


def compile_paper(model, jit_compile="auto"):
    """Compile with the paper's recipe, as ``sadutils.training.train_model`` does."""
    import keras
    model.compile(optimizer=keras.optimizers.Adagrad(learning_rate=0.001),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"], jit_compile=jit_compile)
    return model


def random_images(n: int, image_size: int, seed: int = 0) -> np.ndarray:
    """``uint8`` images with some structure (smooth colour fields plus noise)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, 1, 1, 3)).astype(np.int16)
    noise = rng.integers(-40, 41, (n, image_size, image_size, 3)).astype(np.int16)
    ramp = np.linspace(-60, 60, image_size, dtype=np.float32)[None, :, None, None].astype(np.int16)
    return np.clip(base + noise + ramp, 0, 255).astype(np.uint8)


def write_jpegs(folder: Path, n: int, seed: int = 0, size=(400, 300), quality: int = 90) -> list[Path]:
    """``n`` photo-sized JPEG files (web-thumbnail-like, 400x300 by default) in ``folder``."""
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size
    paths = []
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(n):
        c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = ((xx / w) * rng.uniform(0.2, 1) + (yy / h) * rng.uniform(0.2, 1))[..., None] / 2
        img = c0 * (1 - t) + c1 * t + rng.normal(0, 12, (h, w, 3))
        p = folder / f"img{i:05d}.jpg"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(p, "JPEG", quality=quality)
        paths.append(p)
    return paths


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=f"sadutils-bench-{prefix}-")
