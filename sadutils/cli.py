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
    try:
        out = download.fetch(args.dataset, args.out, force=args.force)
    except download.ManualDownloadRequired as exc:
        print(f"sadutils: {exc}", file=sys.stderr)
        return 2
    print(f"{args.dataset} ready in {out}")
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


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
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
