"""Training throughput through the real input pipeline vs the same model fed from memory.

Pipeline side (what ``sadutils.training.train_model`` does): JPEG files on disk ->
``cached_images`` (Pillow decode + resize once, ``uint8`` ``.npy`` cache, memory-mapped) ->
``make_dataset(shuffle=True)`` (``from_generator`` of index batches, numpy gather, cast,
prefetch) -> ``model.fit``.

In-memory side: the same images already as a ``float32`` tensor in memory,
``tf.data.Dataset.from_tensor_slices(...).batch().repeat().prefetch()``. Both datasets have the
same element spec, so both sides run the *same* compiled train step of the same model (the
paper's optimizer and loss); only the input differs.

Two measurements per backbone, after a warm-up (graph tracing):

* steady state (the headline): one long-lived iterator per side, as in ``train_model`` (a single
  ``fit`` over an endless dataset), and the model's compiled train step (``model.train_function``,
  what ``fit`` calls once per step) applied to them **alternately, step by step** (A B B A ...),
  each step timed in wall-clock and in process CPU time. Paired neighbouring steps make this the
  measurement least disturbed by other load on a shared machine. Ratio pipeline/in-memory =
  median of the paired per-step ratios; overhead = ``(1 - ratio) * 100 %``. Target: <= 5 %.
  The CPU-time ratio (total CPU seconds in-memory / pipeline) shows the extra CPU work the
  pipeline does, which hardly depends on other load.
* whole ``fit`` calls of ``--steps`` steps, alternating, which also charge each call's set-up
  and the dataset iterator's start (paid once per ``fit`` in real training, not per epoch).

    python benchmarks/pipeline_overhead.py --quick          # efficientnetv2b0, ~2 min on 2 cores
    python benchmarks/pipeline_overhead.py                  # all four backbones, 150 px, batch 32
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import benchlib as bl

TARGET_OVERHEAD_PCT = 5.0


def parse(argv=None):
    p = bl.model_parser(__doc__.split("\n\n")[0], batch_size=32)
    p.add_argument("--images", type=int, default=None,
                   help="training images in the set (default 640; --quick 320)")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per timed fit call (default 8; --quick 3)")
    p.add_argument("--pairs", type=int, default=None,
                   help="alternating step pairs timed for the steady state (default 24; "
                        "--quick 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    p.add_argument("--images-dir", default=None,
                   help="use the images in this folder (e.g. data/demo/webemo/images) instead of "
                        "generated 400x300 JPEGs")
    args = p.parse_args(argv)
    if args.tiny:
        args.warmup = min(args.warmup, 1)
        args.batch_size = min(args.batch_size, 8)
    bl.fill_defaults(
        args,
        tiny=dict(backbones=bl.TINY, image_size=32, images=48, steps=2, rounds=2, pairs=3),
        quick=dict(backbones="efficientnetv2b0", images=320, steps=3, rounds=2, pairs=10),
        full=dict(image_size=150, images=640, steps=8, rounds=4, pairs=24))
    args.backbones = bl.backbones_arg(args.backbones, bl.ALL_BACKBONES)
    return args


def main(argv=None) -> int:
    args = parse(argv)
    bl.print_header("input pipeline overhead in training", args, backbones=",".join(args.backbones),
                    image_size=args.image_size, batch_size=args.batch_size, images=args.images,
                    step_pairs=args.pairs, fit_steps_per_call=args.steps, fit_rounds=args.rounds)
    sys.path.insert(0, str(bl.REPO))
    import keras
    import numpy as np
    import tensorflow as tf

    from sadutils.data.images import is_image_file
    from sadutils.inference import cached_images
    from sadutils.training import make_dataset

    results = bl.Results("pipeline_overhead", args)
    with bl.scratch_dir("pipeline") as tmp:
        tmp = Path(tmp)
        if args.images_dir:
            paths = sorted(p for p in Path(args.images_dir).rglob("*") if is_image_file(p))
            paths = paths[:args.images]
            if not paths:
                raise SystemExit(f"no images in {args.images_dir}")
            source = f"files in {args.images_dir}"
        else:
            t0 = time.perf_counter()
            paths = bl.write_jpegs(tmp / "jpegs", args.images)
            source = f"generated 400x300 JPEGs ({time.perf_counter() - t0:.1f} s to write)"
        n = len(paths)
        labels = np.arange(n, dtype=np.int32) % 2
        print(f"images: {n} {source}")

        # Decode once (cold: Pillow threads + write the .npy cache), then open the cache (warm).
        t0 = time.perf_counter()
        _, failed = cached_images(paths, args.image_size, tmp / "cache")
        decode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        images, _ = cached_images(paths, args.image_size, tmp / "cache")
        cache_open_s = time.perf_counter() - t0
        if failed:
            raise SystemExit(f"{len(failed)} images failed to decode, e.g. {failed[0]}")
        print(f"cached_images: decode {n} files in {decode_s:.2f} s ({n / decode_s:.0f} img/s, "
              f"cold); reopen memory-mapped cache in {cache_open_s * 1000:.1f} ms")

        in_memory_x = np.asarray(images, dtype=np.float32)
        summary = []
        for backbone in args.backbones:
            print(f"\n[{backbone}] building and compiling ...")
            sys.stdout.flush()
            keras.backend.clear_session()
            model = bl.compile_paper(bl.build(backbone, args.image_size))
            pipeline_ds = make_dataset(images, labels, args.batch_size, shuffle=True, seed=0)
            memory_ds = (tf.data.Dataset.from_tensor_slices((in_memory_x, labels))
                         .batch(args.batch_size).repeat().prefetch(tf.data.AUTOTUNE))
            assert pipeline_ds.element_spec == memory_ds.element_spec, (
                pipeline_ds.element_spec, memory_ds.element_spec)

            def fit(ds, steps):
                model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
                return steps * args.batch_size

            t0 = time.perf_counter()
            fit(pipeline_ds, args.warmup)
            fit(memory_ds, args.warmup)
            print(f"  warm-up (tracing + {args.warmup} steps per side): "
                  f"{time.perf_counter() - t0:.1f} s")

            # Steady state: fit()'s own train step on two long-lived iterators, step by step.
            step = model.train_function
            strategy = tf.distribute.get_strategy()
            iters = {"pipeline": iter(strategy.experimental_distribute_dataset(pipeline_ds)),
                     "in_memory": iter(strategy.experimental_distribute_dataset(memory_ds))}
            for it in iters.values():
                step(it)
            wall = {k: [] for k in iters}
            cpu = {k: [] for k in iters}
            for i in range(args.pairs):
                for side in (("pipeline", "in_memory") if i % 2 == 0
                             else ("in_memory", "pipeline")):
                    c0, t0 = time.process_time(), time.perf_counter()
                    step(iters[side])  # on a CPU the call returns when the step is computed
                    wall[side].append(time.perf_counter() - t0)
                    cpu[side].append(time.process_time() - c0)
            del iters
            ratio = bl.median([m / p for p, m in zip(wall["pipeline"], wall["in_memory"])])
            cpu_ratio = sum(cpu["in_memory"]) / sum(cpu["pipeline"])
            overhead = (1 - ratio) * 100
            step_rate = {k: [args.batch_size / t for t in v] for k, v in wall.items()}
            print(f"  steady state, {args.pairs} step pairs: pipeline "
                  f"{bl.median(step_rate['pipeline']):.2f} img/s, in-memory "
                  f"{bl.median(step_rate['in_memory']):.2f} img/s; CPU s/step "
                  f"{bl.median(cpu['pipeline']):.2f} vs {bl.median(cpu['in_memory']):.2f}")

            print(f"  whole fit() calls of {args.steps} steps:")
            rates = bl.interleaved({"pipeline": lambda: fit(pipeline_ds, args.steps),
                                    "in_memory": lambda: fit(memory_ds, args.steps)},
                                   args.rounds)
            fit_ratio = bl.paired_ratio(rates["pipeline"], rates["in_memory"])
            row = results.add(
                backbone=backbone, image_size=args.image_size, batch_size=args.batch_size,
                step_pairs=args.pairs, n_images=n,
                pipeline_img_s=bl.median(step_rate["pipeline"]),
                in_memory_img_s=bl.median(step_rate["in_memory"]),
                ratio=ratio, overhead_pct=overhead,
                spread_pipeline=bl.spread(step_rate["pipeline"]),
                spread_in_memory=bl.spread(step_rate["in_memory"]),
                cpu_s_per_step_pipeline=bl.median(cpu["pipeline"]),
                cpu_s_per_step_in_memory=bl.median(cpu["in_memory"]),
                cpu_ratio=cpu_ratio,
                fit_steps_per_call=args.steps, fit_rounds=args.rounds,
                fit_call_pipeline_img_s=bl.median(rates["pipeline"]),
                fit_call_in_memory_img_s=bl.median(rates["in_memory"]),
                fit_call_ratio=fit_ratio,
                decode_img_s=n / decode_s, cache_open_ms=cache_open_s * 1000,
                target_overhead_pct=TARGET_OVERHEAD_PCT,
                target_met=bool(overhead <= TARGET_OVERHEAD_PCT),
            )
            summary.append(row)
            del model

    print("\nsteady state (alternating steps of the compiled train step):")
    bl.print_table(summary, ["backbone", "pipeline_img_s", "in_memory_img_s", "ratio",
                             "overhead_pct", "cpu_ratio", "spread_pipeline", "spread_in_memory"])
    print(f"\nwhole fit() calls of {args.steps} steps (set-up and iterator start included):")
    bl.print_table(summary, ["backbone", "fit_call_pipeline_img_s", "fit_call_in_memory_img_s",
                             "fit_call_ratio"])
    for row in summary:
        bl.ratio_line(f"pipeline/in-memory [{row['backbone']}]", row["ratio"],
                      f"steady state {row['pipeline_img_s']:.2f} vs {row['in_memory_img_s']:.2f} "
                      f"img/s, overhead {row['overhead_pct']:+.1f}%",
                      f"overhead <= {TARGET_OVERHEAD_PCT:g}%", row["target_met"])
        bl.ratio_line(f"pipeline/in-memory CPU time [{row['backbone']}]", row["cpu_ratio"],
                      f"{row['cpu_s_per_step_pipeline']:.2f} vs "
                      f"{row['cpu_s_per_step_in_memory']:.2f} CPU s per step")
        bl.ratio_line(f"pipeline/in-memory whole fit calls [{row['backbone']}]",
                      row["fit_call_ratio"], f"{row['fit_steps_per_call']} steps per call")
    results.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
