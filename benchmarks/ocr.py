"""The OCR text scorer: what it costs per image, and its speed knobs measured side by side.

``sadutils.text_detection`` scores images for legible text with the PP-OCRv6 detector and
recogniser that ``rapidocr`` ships. This script times it on two kinds of image, each case
interleaved with the others round by round (A B C, C B A, ...):

* ``webemo-like``: the demo generator's WEBEmo-like images (about 200 px, a fifth with text),
  what the demo's filter scores;
* ``photos``: the real photographs scikit-image, Matplotlib and scikit-learn ship
  (``text_detection.REFERENCE_PHOTOS``; 300-1400 px), what ``sadutils detect-text`` gets.

Cases: ``rapidocr default`` (the package's own one-call pipeline with its defaults: short side
enlarged to 736 px, angle classifier on), ``1 worker``, ``2 workers`` (threads sharing the
models, 1 onnxruntime thread each; the package default on 2 cores), ``1 worker x 2 threads``
(one image at a time, 2 onnxruntime threads) and ``max side 960`` (2 workers, a larger input
limit than the default 640). Printed: milliseconds per image of each case, RATIO lines, and
the decisions' balanced accuracy on the photos (and, with ``--photos DIR``, on a folder of your
own photos in ``DIR/text/`` and ``DIR/no_text/``).

    python benchmarks/ocr.py --quick     # ~3 minutes on a busy 2-core CPU
    python benchmarks/ocr.py             # more images and rounds
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import benchlib as bl
import numpy as np

#: The case the headline cost is taken from: the package default on a 2-core machine.
HEADLINE = "2 workers"


def parse(argv=None):
    p = bl.base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=None,
                   help="WEBEmo-like images timed per round (default 120; --quick 30)")
    p.add_argument("--photos-per-round", type=int, default=None,
                   help="shipped photos timed per round (default all; --quick 6)")
    p.add_argument("--photos", type=Path, default=None, metavar="DIR",
                   help="also report accuracy on DIR/text/* and DIR/no_text/* (your photos)")
    args = p.parse_args(argv)
    bl.fill_defaults(args, tiny=dict(images=2, photos_per_round=2, rounds=1),
                     quick=dict(images=30, photos_per_round=6, rounds=2),
                     full=dict(images=120, photos_per_round=100, rounds=3))
    return args


def _balanced_accuracy(truth, predicted) -> float | None:
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    if truth.all() or not truth.any():
        return None
    return float((predicted[truth].mean() + (~predicted[~truth]).mean()) / 2)


def main(argv=None) -> int:
    args = parse(argv)
    sys.path.insert(0, str(bl.REPO))
    import pandas as pd
    from rapidocr import RapidOCR

    from sadutils import text_detection as td
    from sadutils.demo import WEBEMO_TRUTH_NAME, generate_demo_data

    bl.print_header("OCR text scorer: cost per image and speed knobs", args,
                    images=args.images, photos_per_round=args.photos_per_round,
                    rounds=args.rounds)
    photos = td.reference_photos()
    if photos.empty:
        raise SystemExit("no reference photos found: install scikit-image (pip install -e "
                         "'.[test]')")
    results = bl.Results("ocr", args, {"model": td.OCR_MODEL_NAME,
                                       "package_version": td.model_info()["package_version"]},
                         key=("case", "images"))
    with bl.scratch_dir("ocr") as tmp:
        scale = max(0.02, args.images / 1500 * 1.3)
        generate_demo_data(Path(tmp), seed=7, scale=scale)
        truth = pd.read_csv(Path(tmp) / WEBEMO_TRUTH_NAME)
        truth = truth[truth["status"] == "ok"].head(args.images)
        webemo = [str(Path(tmp) / "webemo_cdn" / name) for name in truth["file_name"]]
        sets = {"webemo-like": webemo,
                "photos": photos["path"].tolist()[: args.photos_per_round]}
        if args.tiny:  # one photo with text and one without, both small
            sets["photos"] = [p for p in photos["path"]
                              if p.endswith(("page.png", "chelsea.png"))]

        default_engine = RapidOCR(params={"Global.log_level": "error"})
        scorers = {
            "1 worker": td.OcrScorer(td.OcrSettings(workers=1)),
            HEADLINE: td.OcrScorer(td.OcrSettings(workers=2)),
            "1 worker x 2 threads": td.OcrScorer(td.OcrSettings(workers=1, threads=2)),
            "max side 960": td.OcrScorer(td.OcrSettings(workers=2, max_side=960)),
        }

        def default_case(paths):
            def run():
                for path in paths:
                    default_engine(str(path))
                return len(paths)
            return run

        def scorer_case(scorer, paths):
            def run():
                table = scorer.score_files(paths)
                if table["error"].notna().any():
                    raise RuntimeError(f"unreadable images: {table['error'].dropna().tolist()}")
                return len(paths)
            return run

        timed = {}
        for kind, paths in sets.items():
            cases = {"rapidocr default": default_case(paths),
                     **{name: scorer_case(s, paths) for name, s in scorers.items()}}
            if not args.tiny:
                for run in cases.values():  # warm-up: sessions, memory arenas
                    run()
            print(f"\n{kind}: {len(paths)} images per call")
            timed[kind] = bl.interleaved(cases, args.rounds)

        summary = []
        for kind, rates in timed.items():
            base = rates["1 worker"]
            for case, r in rates.items():
                summary.append(results.add(
                    case=case, images=kind, n_images=len(sets[kind]), rounds=args.rounds,
                    img_s=bl.median(r), ms_per_image=1000 / bl.median(r), spread=bl.spread(r),
                    vs_1_worker=bl.paired_ratio(r, base)))

        # What the decisions are worth: every reference photo, and the WEBEmo-like truth.
        scorer = scorers[HEADLINE]
        if args.tiny:
            photos = photos[photos["path"].isin(sets["photos"])]
        t0 = time.perf_counter()
        photo_scores = scorer.score_files(photos["path"])
        photo_s = time.perf_counter() - t0
        found = photo_scores["score"].to_numpy() >= td.DEFAULT_THRESHOLD
        photo_bacc = _balanced_accuracy(photos["label"] == td.TEXT_LABEL, found)
        demo_scores = scorer.score_files(webemo)
        demo_found = demo_scores["score"].to_numpy() >= td.DEFAULT_THRESHOLD
        has_text = truth["has_text"].to_numpy() == 1
        accuracy = {
            "photos_n": len(photos), "photos_with_text": int((photos["label"] == "text").sum()),
            "photos_balanced_accuracy": photo_bacc,
            "webemo_like_n": len(webemo),
            "webemo_like_recall": float(demo_found[has_text].mean()) if has_text.any() else None,
            "webemo_like_false_positive_rate":
                float(demo_found[~has_text].mean()) if (~has_text).any() else None,
        }
        if args.photos is not None:
            own = [(p, label) for label in (td.TEXT_LABEL, td.NO_TEXT_LABEL)
                   for p in sorted((args.photos / label).glob("*")) if p.is_file()]
            if not own:
                raise SystemExit(f"no images in {args.photos}/text or {args.photos}/no_text")
            own_scores = scorer.score_files([p for p, _ in own])
            ok = own_scores["error"].isna().to_numpy()
            accuracy.update(own_n=int(ok.sum()), own_balanced_accuracy=_balanced_accuracy(
                np.array([label == td.TEXT_LABEL for _, label in own])[ok],
                own_scores["score"].to_numpy()[ok] >= td.DEFAULT_THRESHOLD))
        summary_acc = results.add(case="decisions", images="all", threshold=td.DEFAULT_THRESHOLD,
                                  photos_scoring_s=photo_s, **accuracy)

    print()
    bl.print_table(summary, ["images", "case", "n_images", "ms_per_image", "img_s",
                             "vs_1_worker", "spread"])
    by = {(r["images"], r["case"]): r for r in summary}
    for kind in timed:
        head, one = by[(kind, HEADLINE)], by[(kind, "1 worker")]
        bl.ratio_line(f"2 workers / 1 worker [{kind}]", head["vs_1_worker"],
                      f"{head['ms_per_image']:.0f} vs {one['ms_per_image']:.0f} ms per image")
        threads = by[(kind, "1 worker x 2 threads")]
        bl.ratio_line(f"2 workers / 1 worker x 2 threads [{kind}]",
                      head["vs_1_worker"] / threads["vs_1_worker"],
                      f"{head['ms_per_image']:.0f} vs {threads['ms_per_image']:.0f} ms per image")
        default = by[(kind, "rapidocr default")]
        bl.ratio_line(f"ours / rapidocr default [{kind}]",
                      head["vs_1_worker"] / default["vs_1_worker"],
                      f"{head['ms_per_image']:.0f} vs {default['ms_per_image']:.0f} ms per image")
        larger = by[(kind, "max side 960")]
        bl.ratio_line(f"max side 640 / max side 960 [{kind}]",
                      head["vs_1_worker"] / larger["vs_1_worker"],
                      f"{head['ms_per_image']:.0f} vs {larger['ms_per_image']:.0f} ms per image")
    print(f"\nCOST {HEADLINE} on {summary[0]['machine']['cpu_count']} cores: "
          + ", ".join(f"{kind} {by[(kind, HEADLINE)]['ms_per_image']:.0f} ms per image"
                      for kind in timed))
    acc = summary_acc
    bacc = acc["photos_balanced_accuracy"]
    text = (f"DECISIONS at threshold {td.DEFAULT_THRESHOLD:g}: balanced accuracy "
            f"{float('nan') if bacc is None else bacc:.3f} on {acc['photos_n']} shipped photos "
            f"({acc['photos_with_text']} with text)")
    if acc["webemo_like_recall"] is not None:
        text += (f"; WEBEmo-like: recall {acc['webemo_like_recall']:.3f}, false positives "
                 f"{acc['webemo_like_false_positive_rate']:.3f} of {acc['webemo_like_n']}")
    if "own_balanced_accuracy" in acc:
        text += f"; {args.photos}: {acc['own_balanced_accuracy']:.3f} on {acc['own_n']}"
    print(text)
    results.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
