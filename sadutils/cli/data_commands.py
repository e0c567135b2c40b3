"""The data commands: ``demo-data``, ``index``, ``download-webemo`` and ``fetch``."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import requests

from ..config import CLASS_NAMES, DATASETS
from ..data.download import DONE_STATUSES, STATUSES, download_webemo
from ..data.fetch import SOURCES, ManualDownloadRequired, fetch
from ..data.loaders import load_dataset
from ..data.transport import MAX_TIMEOUT_S
from ..data.manifests import save_manifest
from ..demo import ensure_demo_data
from ..workspace import data_home

#: How many rejected files ``index`` lists in its table (``--json`` always lists them all).
MAX_REJECTED_SHOWN = 20


def progress_bars() -> bool:
    """Show progress bars only to a person watching (stderr is a terminal)."""
    return sys.stderr.isatty()


def _jsonable(value):
    """``json.dumps`` fallback: numpy scalars as Python numbers, anything else as its text."""
    return value.item() if hasattr(value, "item") else str(value)


def _load_counts(name: str, root) -> dict:
    """The info dict of dataset ``name`` at ``root``, loaded without opening the images."""
    return load_dataset(name, root, check=False).info


def cmd_demo_data(args) -> int:
    """Generate the synthetic demo datasets and download the WEBEmo-like images (resumable)."""
    out = args.out if args.out is not None else data_home() / "demo"
    roots = ensure_demo_data(out, seed=args.seed, scale=args.scale, force=args.force,
                             progress=progress_bars())
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


#: index options that only some loaders take: (argparse dest, loader keyword, datasets).
_LOADER_OPTIONS = (
    ("include_confusion", "include_confusion", ("webemo",)),
    ("label_from", "label_from", ("emotion6",)),
    ("layout", "layout", ("emotion6",)),
)


def cmd_index(args) -> int:
    """Load a dataset folder: count images per label and list the files refused, and why."""
    kwargs = {"check": args.check, "progress": progress_bars()}
    for dest, keyword, applies_to in _LOADER_OPTIONS:
        value = getattr(args, dest)
        if value is None:
            continue
        if args.dataset not in applies_to:
            option = "--" + dest.replace("_", "-")
            raise ValueError(f"{option} applies only to {', '.join(applies_to)}, not {args.dataset}")
        kwargs[keyword] = value
    loaded = load_dataset(args.dataset, args.root, **kwargs)
    info, rejected = loaded.info, loaded.rejected
    if args.out:
        save_manifest(loaded.manifest, args.out)

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
    if not (math.isfinite(args.timeout) and 0 < args.timeout <= MAX_TIMEOUT_S):
        raise ValueError(f"--timeout must be positive and finite (at most {MAX_TIMEOUT_S:g} "
                         f"seconds), got {args.timeout}")
    if not args.list_file.is_file():
        raise FileNotFoundError(f"list file not found: {args.list_file}")
    if args.out.exists() and not args.out.is_dir():
        raise NotADirectoryError(f"--out {args.out} is a file, not a folder")
    sample = None if counts[0] is None else dict(zip(CLASS_NAMES, counts))
    # The sadness group comes from category.txt when it sits beside the list, as the loader's does.
    category = args.list_file.parent / "category.txt"
    result = download_webemo(
        args.list_file, args.out, sample=sample, seed=args.seed,
        include_confusion=args.include_confusion,
        category_file=category if category.is_file() else None,
        workers=args.workers, timeout=args.timeout, retries=args.retries, progress=progress_bars(),
        file_root=args.allow_files_under)
    a = result.attrs
    print(f"{args.list_file}: {a['lines']} lines, {a['unique_urls']} unique URLs, "
          f"{a['conflicting_urls']} dropped as labelled both sadness and others; "
          f"{a['selected']} selected")
    by_status = result["status"].value_counts()
    for status in STATUSES:
        if status in by_status:
            print(f"  {status:<17} {by_status[status]:>7}")
    done = result[result["status"].isin(DONE_STATUSES)]
    labels = ", ".join(f"{k} {v}" for k, v in done["label"].value_counts().sort_index().items())
    print(f"{len(done)} of {len(result)} images on disk in {Path(args.out) / 'images'}"
          + (f" ({labels})" if labels else ""))
    print(f"log: {Path(args.out) / 'downloads.csv'}; list downloaded: {Path(args.out) / 'sample.txt'}")
    return 0


def cmd_fetch(args) -> int:
    """Download and unpack a public dataset, or say how to get one behind a sign-up page
    (printed on stdout, status 0: for such a dataset that is the expected result)."""
    try:
        out = fetch(args.dataset, args.out, force=args.force)
    except ManualDownloadRequired as exc:
        # Already put in place by hand (the loader finds it): nothing to do.
        if args.dataset in DATASETS and not args.force:
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
        # Saying where to get it is what the command is for here: instructions, status 0.
        print(f"{exc}{hint}")
        return 0
    except (requests.RequestException, RuntimeError) as exc:
        source = SOURCES.get(args.dataset)
        where = source.url if source else args.dataset
        reason = " ".join(str(exc).split())
        reason = reason if len(reason) <= 200 else reason[:197] + "..."
        print(f"sadutils: error: could not download {where}: {type(exc).__name__}: {reason}; "
              f"check the network and run the same command again (it resumes)", file=sys.stderr)
        return 2
    print(f"{args.dataset} ready in {out}")
    return 0
