"""Inference throughput: ``sadutils.inference.predict_proba`` vs a bare compiled forward pass.

Cases, each over the same ``--images`` images, per backbone, interleaved round by round:

* ``bare``: a ``tf.function`` of ``model(x, training=False)``, traced before timing, applied to
  fixed ``float32`` batches already in memory as tensors (the floor: nothing but the model).
* ``ours``: ``predict_proba(model, images_uint8, batch_size)`` called the way the package calls
  it (it gets the model's compiled forward pass, converts each ``uint8`` batch and copies the
  probabilities out). Calls after the first on a model reuse its traced forward pass.
* ``ours_shared_forward``: the same with ``forward=compiled_forward(model)`` passed in.
* ``keras_predict``: ``model.predict(float32 images, batch_size)``.

Also measured:

* per batch, paired: ``predict_proba`` on one batch alternating with the bare forward pass on one
  batch (``--pairs`` pairs); the median paired ratio is the steady-state comparison least
  disturbed by other load on a shared machine;
* the first call on a freshly built model (``first_call_s``, tracing included), and what it
  costs beyond a warm call (``first_call_extra_s``): paid once per model.

Reported: images/s of each case (median over rounds) and the ratios ours/bare (target >= 0.90),
ours per batch/bare, ours_shared_forward/bare and keras_predict/bare (medians of paired ratios).

    python benchmarks/inference.py --quick      # efficientnetv2b0, 256 images, ~2 min on 2 cores
    python benchmarks/inference.py              # all four backbones, 150 px, batch 64
"""
from __future__ import annotations

import sys
import time

import benchlib as bl

TARGET_RATIO = 0.90


def parse(argv=None):
    p = bl.model_parser(__doc__.split("\n\n")[0], batch_size=64)
    p.add_argument("--images", type=int, default=None,
                   help="images per call (default 1024; --quick 256). The paper's test split "
                        "is about 2,235 images")
    p.add_argument("--pairs", type=int, default=None,
                   help="single-batch pairs for the paired comparison (default 16; --quick 8)")
    args = p.parse_args(argv)
    if args.tiny:
        args.batch_size = min(args.batch_size, 16)
    bl.fill_defaults(
        args,
        tiny=dict(backbones=bl.TINY, image_size=32, images=40, rounds=2, pairs=2),
        quick=dict(backbones="efficientnetv2b0", images=256, rounds=4, pairs=8),
        full=dict(image_size=150, images=1024, rounds=4, pairs=16))
    args.backbones = bl.backbones_arg(args.backbones, bl.ALL_BACKBONES)
    return args


def main(argv=None) -> int:
    args = parse(argv)
    bl.print_header("inference: predict_proba vs bare forward pass", args,
                    backbones=",".join(args.backbones), image_size=args.image_size,
                    batch_size=args.batch_size, images=args.images, rounds=args.rounds)
    sys.path.insert(0, str(bl.REPO))
    import keras
    import numpy as np
    import tensorflow as tf

    from sadutils.inference import compiled_forward, predict_proba

    images = bl.random_images(args.images, args.image_size)
    as_float = images.astype(np.float32)
    bs = args.batch_size
    batches = [tf.constant(as_float[i:i + bs]) for i in range(0, len(images), bs)]
    results = bl.Results("inference", args)
    summary = []
    for backbone in args.backbones:
        print(f"\n[{backbone}] building ...")
        sys.stdout.flush()
        keras.backend.clear_session()
        model = bl.build(backbone, args.image_size)

        @tf.function
        def bare_forward(x):
            return model(x, training=False)

        def bare():
            outs = [bare_forward(b) for b in batches]
            np.concatenate([o.numpy() for o in outs])
            return len(images)

        def ours():
            predict_proba(model, images, bs)
            return len(images)

        shared = compiled_forward(model)

        def ours_shared():
            predict_proba(model, images, bs, forward=shared)
            return len(images)

        def keras_predict():
            model.predict(as_float, batch_size=bs, verbose=0)
            return len(images)

        cases = {"bare": bare, "ours": ours, "ours_shared_forward": ours_shared,
                 "keras_predict": keras_predict}
        t0 = time.perf_counter()
        for fn in cases.values():  # trace every path once
            fn()
        warm = time.perf_counter() - t0
        print(f"  warm-up (one call of each case, tracing included): {warm:.1f} s")
        check = np.concatenate([bare_forward(b).numpy() for b in batches])
        max_diff = float(np.abs(predict_proba(model, images, bs) - check).max())

        # Paired single batches, alternating: the steady state, robust to other load.
        per_batch = {"bare": [], "ours": []}
        for i in range(args.pairs):
            k = i % len(batches)
            for side in (("bare", "ours") if i % 2 == 0 else ("ours", "bare")):
                t0 = time.perf_counter()
                if side == "bare":
                    bare_forward(batches[k]).numpy()
                else:
                    predict_proba(model, images[k * bs:(k + 1) * bs], bs)
                per_batch[side].append(time.perf_counter() - t0)
        per_batch_ratio = bl.median([b / o for b, o in zip(per_batch["bare"], per_batch["ours"])])

        rates = bl.interleaved(cases, args.rounds)

        # The first call on a fresh model: tracing included (paid once per model).
        fresh = bl.build(backbone, args.image_size)
        t0 = time.perf_counter()
        predict_proba(fresh, images, bs)
        first_call_s = time.perf_counter() - t0
        del fresh
        warm_call_s = len(images) / bl.median(rates["ours"])
        print(f"  first predict_proba call on a fresh model: {first_call_s:.1f} s "
              f"(a warm call: {warm_call_s:.1f} s)")

        ours_vs_bare = bl.paired_ratio(rates["ours"], rates["bare"])
        row = results.add(
            backbone=backbone, image_size=args.image_size, batch_size=bs, n_images=len(images),
            rounds=args.rounds,
            **{f"{k}_img_s": bl.median(v) for k, v in rates.items()},
            ours_vs_bare=ours_vs_bare,
            ours_vs_bare_per_batch=per_batch_ratio, batch_pairs=args.pairs,
            ours_shared_vs_bare=bl.paired_ratio(rates["ours_shared_forward"], rates["bare"]),
            keras_predict_vs_bare=bl.paired_ratio(rates["keras_predict"], rates["bare"]),
            spread_bare=bl.spread(rates["bare"]), spread_ours=bl.spread(rates["ours"]),
            first_call_s=first_call_s, first_call_extra_s=first_call_s - warm_call_s,
            max_abs_diff_vs_bare=max_diff,
            target_ratio=TARGET_RATIO, target_met=bool(ours_vs_bare >= TARGET_RATIO),
        )
        summary.append(row)
        del model

    print()
    bl.print_table(summary, ["backbone", "bare_img_s", "ours_img_s", "ours_shared_forward_img_s",
                             "keras_predict_img_s", "first_call_s", "first_call_extra_s"])
    for row in summary:
        b = row["backbone"]
        bl.ratio_line(f"ours/bare [{b}]", row["ours_vs_bare"],
                      f"predict_proba {row['ours_img_s']:.1f} vs bare {row['bare_img_s']:.1f} "
                      f"img/s over {row['n_images']} images per call",
                      f">= {TARGET_RATIO:.2f}", row["target_met"])
        bl.ratio_line(f"ours/bare per batch, paired [{b}]", row["ours_vs_bare_per_batch"],
                      f"{row['batch_pairs']} pairs")
        bl.ratio_line(f"ours_shared_forward/bare [{b}]", row["ours_shared_vs_bare"])
        bl.ratio_line(f"keras_predict/bare [{b}]", row["keras_predict_vs_bare"])
        bl.ratio_line(f"first call/warm call time [{b}]",
                      row["first_call_s"] / (row["first_call_s"] - row["first_call_extra_s"]),
                      f"first call {row['first_call_s']:.1f} s incl. tracing, once per model")
    results.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
