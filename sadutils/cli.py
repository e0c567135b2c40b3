"""The ``sadutils`` command line: one subcommand per step of the companion.

Every subcommand is a ``cmd_<name>(args) -> int`` function plus an ``_args_<name>(parser)``
function declaring its arguments, listed once in :data:`COMMANDS`; to add one, write the two
functions and add a line there. The subcommand's help is the first line of its docstring.

Mistakes a user can make (a missing folder, a malformed dataset file, a bad parameter) end as
one line ``sadutils: error: <message>`` on stderr and exit status 2, never a traceback;
anything else is a bug and propagates with its traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import config, datasets, download

#: How many rejected files ``index`` lists in its table (``--json`` always lists them all).
MAX_REJECTED_SHOWN = 20


def _progress() -> bool:
    """Show progress bars only to a person watching (stderr is a terminal)."""
    return sys.stderr.isatty()


def _jsonable(value):
    """``json.dumps`` fallback: numpy scalars as Python numbers, anything else as its text."""
    return value.item() if hasattr(value, "item") else str(value)


def _load_counts(name: str, root) -> dict:
    """The info dict of dataset ``name`` at ``root``, loaded without opening the images."""
    return datasets.load_dataset(name, root, check=False).info


# --------------------------------------------------------------------------------------------
# demo-data
# --------------------------------------------------------------------------------------------

def _args_demo_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help=f"output folder (default {config.DEMO.data_root()})")
    p.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiplies every image count (default 1.0, about 3,500 images)")
    p.add_argument("--force", action="store_true", help="rebuild even if the data is ready")


def cmd_demo_data(args) -> int:
    """Generate the synthetic demo datasets and download the WEBEmo-like images (resumable)."""
    from .pipeline import ensure_demo_data  # imports the image generator: only when needed

    roots = ensure_demo_data(args.out, seed=args.seed, scale=args.scale, force=args.force,
                             progress=_progress())
    print(f"demo data ready in {next(iter(roots.values())).parent} "
          f"(seed {args.seed}, scale {args.scale:g})")
    for name, root in roots.items():
        info = _load_counts(name, root)
        labels = ", ".join(f"{k} {v}" for k, v in info["by_label"].items())
        extra = ""
        if name == "webemo":
            extra = (f"  [{info['n_downloaded']} of {info['n_urls']} usable URLs downloaded; "
                     f"log {Path(root) / 'downloads.csv'}]")
        print(f"  {name:<12} {info['n_images']:>5} images ({labels})  {root}{extra}")
    return 0


# --------------------------------------------------------------------------------------------
# index
# --------------------------------------------------------------------------------------------

#: index options that only some loaders take: (argparse dest, loader keyword, datasets).
_LOADER_OPTIONS = (
    ("include_confusion", "include_confusion", ("webemo",)),
    ("label_from", "label_from", ("emotion6",)),
    ("layout", "layout", ("emotion6",)),
)


def _args_index(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET", choices=config.DATASETS,
                   help=f"one of {', '.join(config.DATASETS)}")
    p.add_argument("root", type=Path, metavar="ROOT", help="the dataset's folder")
    p.add_argument("--out", type=Path, metavar="CSV", help="save the manifest as this CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="do not open every image to check it (much faster)")
    p.add_argument("--include-confusion", action="store_true", default=None,
                   help="webemo: count 'confusion' as sadness")
    p.add_argument("--label-from", choices=("folder", "argmax"), default=None,
                   help="emotion6 (Cornell): binary label from the folder (default) or the "
                        "argmax of ground_truth.txt")
    p.add_argument("--layout", choices=("auto", "cornell", "panda"), default=None,
                   help="emotion6: which dataset of that name (default auto)")


def cmd_index(args) -> int:
    """Load a dataset folder: count images per label and list the files refused, and why."""
    kwargs = {"check": args.check, "progress": _progress()}
    for dest, keyword, applies_to in _LOADER_OPTIONS:
        value = getattr(args, dest)
        if value is None:
            continue
        if args.dataset not in applies_to:
            option = "--" + dest.replace("_", "-")
            raise ValueError(f"{option} applies only to {', '.join(applies_to)}, not {args.dataset}")
        kwargs[keyword] = value
    loaded = datasets.load_dataset(args.dataset, args.root, **kwargs)
    info, rejected = loaded.info, loaded.rejected
    if args.out:
        datasets.save_manifest(loaded.manifest, args.out)

    if args.json:
        record = {"dataset": args.dataset, "root": str(Path(args.root).resolve()),
                  "n_images": info["n_images"], "by_label": info["by_label"],
                  "rejected": rejected.to_dict("records")}
        if args.dataset == "webemo":
            record.update({k: info[k] for k in ("n_unique_urls", "n_duplicate_lines",
                                                "n_conflicting_urls", "n_downloaded")})
        if args.out:
            record["manifest"] = str(args.out)
        record["info"] = info
        print(json.dumps(record, indent=2, default=_jsonable))
        return 0

    print(f"{args.dataset} at {Path(args.root).resolve()}")
    width = max([len("total")] + [len(k) for k in info["by_label"]])
    for label, n in info["by_label"].items():
        print(f"  {label:<{width}} {n:>7}")
    print(f"  {'total':<{width}} {info['n_images']:>7}"
          + ("" if args.check else "  (images not opened: --no-check)"))
    details = {k: v for k, v in info.items()
               if k not in ("by_label", "n_images", "n_rejected", "root", "checked")
               and not isinstance(v, (dict, list))}
    if details:
        print("details: " + ", ".join(f"{k}={v}" for k, v in details.items()))
    print(f"rejected: {len(rejected)}")
    for path, reason in rejected.head(MAX_REJECTED_SHOWN).itertuples(index=False):
        print(f"  {path}: {reason}")
    if len(rejected) > MAX_REJECTED_SHOWN:
        print(f"  ... and {len(rejected) - MAX_REJECTED_SHOWN} more (--json lists them all)")
    if args.out:
        print(f"manifest saved to {args.out}")
    return 0


# --------------------------------------------------------------------------------------------
# download-webemo
# --------------------------------------------------------------------------------------------

def _args_download_webemo(p: argparse.ArgumentParser) -> None:
    p.add_argument("list_file", type=Path, metavar="LIST", help="train25.txt or test25.txt")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder for images/ and downloads.csv (the WEBEmo root)")
    p.add_argument("--sample-sadness", type=int, metavar="N",
                   help="draw N sadness URLs at random (give --sample-others too)")
    p.add_argument("--sample-others", type=int, metavar="N", help="draw N others URLs at random")
    p.add_argument("--seed", type=int, default=1234, help="seed of the sample (default 1234)")
    p.add_argument("--workers", type=int, default=16, help="parallel downloads (default 16)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    p.add_argument("--retries", type=int, default=3, help="retries of transient failures (default 3)")
    p.add_argument("--include-confusion", action="store_true",
                   help="count 'confusion' as sadness when sampling")


def cmd_download_webemo(args) -> int:
    """Download the images of a WEBEmo list file (resumable; every outcome logged)."""
    counts = (args.sample_sadness, args.sample_others)
    if (counts[0] is None) != (counts[1] is None):
        raise ValueError("give both --sample-sadness and --sample-others (0 leaves a class out)")
    if any(n is not None and n < 0 for n in counts):
        raise ValueError(f"sample sizes must be non-negative, got {counts}")
    for name in ("workers", "retries"):
        if getattr(args, name) < (1 if name == "workers" else 0):
            raise ValueError(f"--{name} must be at least {1 if name == 'workers' else 0}")
    if not args.timeout > 0:
        raise ValueError(f"--timeout must be positive, got {args.timeout}")
    if not args.list_file.is_file():
        raise FileNotFoundError(f"list file not found: {args.list_file}")
    sample = None if counts[0] is None else dict(zip(config.CLASS_NAMES, counts))
    # The sadness group comes from category.txt when it sits beside the list, as the loader's does.
    category = args.list_file.parent / "category.txt"
    result = download.download_webemo(
        args.list_file, args.out, sample=sample, seed=args.seed,
        include_confusion=args.include_confusion,
        category_file=category if category.is_file() else None,
        workers=args.workers, timeout=args.timeout, retries=args.retries, progress=_progress())
    a = result.attrs
    print(f"{args.list_file}: {a['lines']} lines, {a['unique_urls']} unique URLs, "
          f"{a['conflicting_urls']} dropped as labelled both sadness and others; "
          f"{a['selected']} selected")
    by_status = result["status"].value_counts()
    for status in download.STATUSES:
        if status in by_status:
            print(f"  {status:<17} {by_status[status]:>7}")
    done = result[result["status"].isin(download.DONE_STATUSES)]
    labels = ", ".join(f"{k} {v}" for k, v in done["label"].value_counts().sort_index().items())
    print(f"{len(done)} of {len(result)} images on disk in {Path(args.out) / 'images'}"
          + (f" ({labels})" if labels else ""))
    print(f"log: {Path(args.out) / 'downloads.csv'}; list downloaded: {Path(args.out) / 'sample.txt'}")
    return 0


# --------------------------------------------------------------------------------------------
# fetch
# --------------------------------------------------------------------------------------------

def _args_fetch(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET", choices=download.FETCH_CHOICES,
                   help=f"one of {', '.join(download.FETCH_CHOICES)}")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the dataset's folder")
    p.add_argument("--force", action="store_true", help="download again even if done")


def cmd_fetch(args) -> int:
    """Download and unpack a public dataset, or say how to get one behind a sign-up page."""
    import requests  # only here: the other commands never touch the network

    try:
        out = download.fetch(args.dataset, args.out, force=args.force)
    except download.ManualDownloadRequired as exc:
        # Already put in place by hand (the loader finds it): nothing to do.
        if args.dataset in config.DATASETS and not args.force:
            try:
                info = _load_counts(args.dataset, args.out)
            except (OSError, ValueError):  # not there (yet), or not in the expected layout
                info = None
            if info is not None and info["n_images"]:
                print(f"{args.dataset} ready in {args.out} ({info['n_images']} images; "
                      f"check them with: sadutils index {args.dataset} {args.out})")
                return 0
        hint = ""
        if args.dataset == "webemo":
            hint = (f" From the command line: sadutils download-webemo {args.out / 'train25.txt'}"
                    f" --out {args.out} (and the same for test25.txt).")
        print(f"sadutils: {exc}{hint}", file=sys.stderr)
        return 2
    except (requests.RequestException, RuntimeError) as exc:
        source = download.SOURCES.get(args.dataset)
        where = source.url if source else args.dataset
        reason = " ".join(str(exc).split())
        reason = reason if len(reason) <= 200 else reason[:197] + "..."
        print(f"sadutils: error: could not download {where}: {type(exc).__name__}: {reason}; "
              f"check the network and run the same command again (it resumes)", file=sys.stderr)
        return 2
    print(f"{args.dataset} ready in {out}")
    return 0


# --------------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------------

def _args_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, metavar="MODEL",
                   help="a .keras model saved by sadutils (class names in MODEL.classes.txt)")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE",
                   help="image files, or folders searched recursively for image files")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per image and line: {"path", "probabilities", "label"}, '
                        'or {"path", "error"} for a file that cannot be read')
    p.add_argument("--batch-size", type=int, default=32, metavar="N",
                   help="images decoded and classified at a time (default 32)")


def _predict_paths(targets) -> list[Path]:
    """The files to classify: each IMAGE file as given, each folder's image files (recursively,
    sorted), without repeats. A path that does not exist is kept, to be reported as a failure."""
    from .images import is_image_file

    found, seen = [], set()
    for target in targets:
        if target.is_dir():
            files = sorted(p for p in target.rglob("*") if p.is_file() and is_image_file(p))
            if not files:
                print(f"sadutils: no image files in folder {target}", file=sys.stderr)
        else:
            files = [target]
        for path in files:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(path)
    if not found:
        raise ValueError("no image files to classify in " + ", ".join(map(str, targets)))
    return found


def cmd_predict(args) -> int:
    """Classify images with a saved model: each class's probability and the predicted label."""
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not args.model.is_file():
        raise FileNotFoundError(f"model file not found: {args.model}")
    paths = _predict_paths(args.images)
    from . import models, training  # TensorFlow: only when a model is really needed

    try:
        model = models.load_model(args.model)
    except Exception as exc:  # noqa: BLE001 - a file Keras cannot load is the user's, not a bug
        raise ValueError(f"cannot load model {args.model}: {type(exc).__name__}: "
                         f"{' '.join(str(exc).split())}") from None
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise ValueError(f"{args.model}: expected a model taking square RGB images, "
                         f"its input shape is {shape}")
    names = list(model.class_names)
    if len(names) != model.output_shape[-1]:
        raise ValueError(f"{args.model}.classes.txt names {len(names)} classes but the model "
                         f"has {model.output_shape[-1]} outputs")
    forward = training.compiled_forward(model)
    n_failed = 0
    for start in range(0, len(paths), args.batch_size):
        chunk = paths[start:start + args.batch_size]
        pixels, failed = training.decode_images(chunk, shape[1])
        reasons = dict(failed)
        ok = [i for i, p in enumerate(chunk) if str(p) not in reasons]
        probs = training.predict_proba(model, pixels[ok], batch_size=args.batch_size,
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


# --------------------------------------------------------------------------------------------
# reproduce
# --------------------------------------------------------------------------------------------

def _args_reproduce(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=config.PROFILES, default="demo",
                   help="demo: synthetic data, small settings (default); paper: the real data")
    p.add_argument("--force", action="store_true",
                   help="run every notebook even if its inputs did not change")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="run only these notebooks (e.g. 04_cross_dataset, 03_train or "
                        "03_train-xception); the ones they depend on are not run")
    p.add_argument("-p", "--parameter", dest="overrides", action="append", default=[],
                   metavar="NOTEBOOK:NAME=VALUE",
                   help="set a parameter of a notebook (repeatable), e.g. "
                        "-p 04_cross_dataset:sadness_fraction=0.33 -p 03_train:epochs=2")


def cmd_reproduce(args) -> int:
    """Run the notebooks in order with papermill, skipping those whose inputs did not change."""
    from .pipeline import reproduce

    result = reproduce(args.profile, force=args.force, only=args.only,
                       overrides=args.overrides)
    return 0 if result.ok else 1


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------

def _args_tables(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=config.PROFILES, default="demo",
                   help="whose records to show (default demo)")
    p.add_argument("--format", dest="fmt", choices=("markdown", "csv"), default="markdown",
                   help="output format (default markdown)")


def cmd_tables(args) -> int:
    """Print Tables 1-3: the paper's numbers beside the newest reproduced ones."""
    from . import reporting

    print(reporting.tables_text(args.profile, args.fmt), end="")
    if not reporting.read_records(args.profile):
        print(f"sadutils: no results records for profile {args.profile} in "
              f"{reporting.records_dir(args.profile)}: the reproduced columns say "
              f"'{reporting.NOT_RUN}'. Run `sadutils reproduce --profile {args.profile}` first.",
              file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# Registry and entry point
# --------------------------------------------------------------------------------------------

#: Subcommand name -> (function running it, function adding its arguments), in help order.
COMMANDS = {
    "demo-data": (cmd_demo_data, _args_demo_data),
    "index": (cmd_index, _args_index),
    "download-webemo": (cmd_download_webemo, _args_download_webemo),
    "fetch": (cmd_fetch, _args_fetch),
    "predict": (cmd_predict, _args_predict),
    "reproduce": (cmd_reproduce, _args_reproduce),
    "tables": (cmd_tables, _args_tables),
}

#: Exceptions that mean "the user asked for something impossible", not "the code is broken".
#: (datasets.FormatError and download.ChecksumMismatch are ValueErrors.)
USER_ERRORS = (FileNotFoundError, NotADirectoryError, ValueError)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("sadutils")
    except PackageNotFoundError:
        return "unknown"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line naming the valid choices (no usage dump)."""

    def error(self, message):
        if message.endswith("required: COMMAND"):  # bare `sadutils`: list what it can do
            message = f"choose a COMMAND: {', '.join(COMMANDS)}"
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand of :data:`COMMANDS`."""
    parser = _Parser(
        prog="sadutils",
        description="Runnable companion to 'On recognizing emotion of sadness in images of a "
                    "general nature using CNN': data, training and the paper's tables.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (run, add_arguments) in COMMANDS.items():
        summary = (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else None
        p = sub.add_parser(name, help=summary, description=summary)
        add_arguments(p)
        p.set_defaults(run=run)
    return parser


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed why
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return args.run(args)
    except USER_ERRORS as exc:
        print(f"sadutils: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sadutils: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
