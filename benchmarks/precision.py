"""float32 vs mixed_bfloat16 on this machine: training and inference speed, and agreement.

Two copies of one backbone are built, one under the Keras dtype policy ``float32`` and one
under ``mixed_bfloat16`` (compute in bfloat16, variables in float32; what
``sadutils.training.configure_precision("mixed_bfloat16")`` sets), with *identical* weights.
Measured, interleaved round by round on the same in-memory data:

* training images/s (``model.fit`` on a ``from_tensor_slices`` dataset, the paper's optimizer);
* inference images/s (a compiled forward pass over fixed batches);
* agreement of the two models' predictions before any training: the largest and mean absolute
  difference of the class probabilities, and how often the predicted labels agree (also among
  the confident predictions only, |p - 0.5| > 0.1: with random weights many are near 0.5).

Ratios are bf16/f32 (> 1 means bfloat16 is faster). Whether bf16 pays depends on the CPU:
oneDNN uses AVX512-BF16 / AMX instructions when present (the header prints the CPU's flags).

    python benchmarks/precision.py --quick        # efficientnetv2b0, ~3 min on 2 cores
    python benchmarks/precision.py --backbone xception --weights imagenet
"""
from __future__ import annotations

import sys
import time

import benchlib as bl


def parse(argv=None):
    p = bl.base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default=None, help="one backbone (default efficientnetv2b0)")
    p.add_argument("--image-size", type=int, default=None, help="pixels (default 150)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per timed fit call (default 6; --quick 3)")
    p.add_argument("--infer-images", type=int, default=None,
                   help="images per timed inference call and for the agreement check "
                        "(default 256; --quick 128)")
    p.add_argument("--weights", default=None,
                   help="initial weights for both copies: 'imagenet' or a weights file "
                        "(default: random; agreement is more telling with trained weights)")
    args = p.parse_args(argv)
    if args.tiny:
        args.backbone = args.backbone or bl.TINY
        args.image_size = args.image_size or 32
        args.batch_size = min(args.batch_size, 8)
        args.steps = args.steps or 2
        args.infer_images = args.infer_images or 32
        args.rounds = args.rounds or 2
    elif args.quick:
        args.steps = args.steps or 3
        args.infer_images = args.infer_images or 128
        args.rounds = args.rounds or 2
    args.backbone = bl.backbones_arg(args.backbone or "efficientnetv2b0", ())[0]
    args.image_size = args.image_size or 150
    args.steps = args.steps or 6
    args.infer_images = args.infer_images or 256
    args.rounds = args.rounds or 4
    return args


def main(argv=None) -> int:
    args = parse(argv)
    bl.print_header("precision: float32 vs mixed_bfloat16", args, backbone=args.backbone,
                    image_size=args.image_size, batch_size=args.batch_size,
                    train_steps_per_call=args.steps, infer_images=args.infer_images,
                    rounds=args.rounds, weights=args.weights or "random")
    sys.path.insert(0, str(bl.REPO))
    import keras
    import numpy as np
    import tensorflow as tf

    bs = args.batch_size
    n_train = bs * max(args.steps, 2)
    x_train = bl.random_images(n_train, args.image_size, seed=1).astype(np.float32)
    y_train = np.arange(n_train, dtype=np.int32) % 2
    x_infer = bl.random_images(args.infer_images, args.image_size, seed=2).astype(np.float32)
    infer_batches = [tf.constant(x_infer[i:i + bs]) for i in range(0, len(x_infer), bs)]

    def build(policy):
        keras.mixed_precision.set_global_policy(policy)
        if args.weights and args.backbone != bl.TINY:
            from sadutils.models import build_model
            return build_model(args.backbone, args.image_size, weights=args.weights)
        return bl.build(args.backbone, args.image_size)

    previous = keras.mixed_precision.global_policy().name
    try:
        models = {"float32": build("float32"), "mixed_bfloat16": build("mixed_bfloat16")}
    finally:
        keras.mixed_precision.set_global_policy(previous)
    models["mixed_bfloat16"].set_weights(models["float32"].get_weights())
    forwards = {}
    for name, model in models.items():
        forwards[name] = tf.function(lambda x, m=model: m(x, training=False))

    # Agreement, with identical weights, before training changes them.
    t0 = time.perf_counter()
    probs = {name: np.concatenate([f(b).numpy() for b in infer_batches])
             for name, f in forwards.items()}
    print(f"traced both forward passes in {time.perf_counter() - t0:.1f} s")
    p32, p16 = probs["float32"], probs["mixed_bfloat16"]
    diff = np.abs(p32.astype(np.float64) - p16.astype(np.float64))
    agree = p32.argmax(1) == p16.argmax(1)
    confident = np.abs(p32[:, 0] - 0.5) > 0.1
    agreement = {
        "max_abs_prob_diff": float(diff.max()),
        "mean_abs_prob_diff": float(diff.mean()),
        "label_agreement": float(agree.mean()),
        "confident_fraction": float(confident.mean()),
        "label_agreement_confident": float(agree[confident].mean()) if confident.any() else None,
        "mean_distance_from_0.5": float(np.abs(p32[:, 0] - 0.5).mean()),
    }

    # Training: the paper's optimizer, same data, same starting weights.
    ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(bs).repeat()
          .prefetch(tf.data.AUTOTUNE))
    for model in models.values():
        bl.compile_paper(model)
    t0 = time.perf_counter()
    for model in models.values():
        model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0)
    print(f"warm-up (tracing both training steps): {time.perf_counter() - t0:.1f} s")

    def train(name):
        def run():
            models[name].fit(ds, epochs=1, steps_per_epoch=args.steps, verbose=0)
            return args.steps * bs
        return run

    def infer(name):
        def run():
            outs = [forwards[name](b) for b in infer_batches]
            np.concatenate([o.numpy() for o in outs])
            return len(x_infer)
        return run

    print("training:")
    train_rates = bl.interleaved({n: train(n) for n in models}, args.rounds)
    print("inference:")
    infer_rates = bl.interleaved({n: infer(n) for n in models}, args.rounds)

    results = bl.Results("precision", args)
    rows = []
    for phase, rates in (("train", train_rates), ("inference", infer_rates)):
        rows.append(results.add(
            backbone=args.backbone, phase=phase, image_size=args.image_size, batch_size=bs,
            rounds=args.rounds, weights=args.weights or "random",
            float32_img_s=bl.median(rates["float32"]),
            bf16_img_s=bl.median(rates["mixed_bfloat16"]),
            bf16_vs_float32=bl.paired_ratio(rates["mixed_bfloat16"], rates["float32"]),
            spread_float32=bl.spread(rates["float32"]),
            spread_bf16=bl.spread(rates["mixed_bfloat16"]),
            **agreement))

    print()
    bl.print_table(rows, ["backbone", "phase", "float32_img_s", "bf16_img_s", "bf16_vs_float32"])
    print("\nagreement (same weights, %d images): " % len(x_infer)
          + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in agreement.items()))
    for row in rows:
        bl.ratio_line(f"bf16/float32 {row['phase']} [{row['backbone']}]", row["bf16_vs_float32"],
                      f"{row['bf16_img_s']:.2f} vs {row['float32_img_s']:.2f} img/s")
    faster = all(r["bf16_vs_float32"] > 1.1 for r in rows)
    close = agreement["max_abs_prob_diff"] < 0.05 and agreement["label_agreement"] > 0.97
    print(f"RECOMMENDATION bf16 by default on this CPU: {'yes' if faster and close else 'no'} "
          f"(>10% faster in both phases: {faster}; predictions close: {close})")
    results.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
