"""float32 vs mixed_bfloat16 on this machine: training and inference speed, and agreement.

Two copies of one backbone are built, one under the Keras dtype policy ``float32`` and one
under ``mixed_bfloat16`` (compute in bfloat16, variables in float32; what
``sadutils.training.configure_precision("mixed_bfloat16")`` sets), with *identical* weights.
Measured on the same in-memory data:

* training images/s: ``fit``'s compiled train step (the paper's optimizer) applied to the two
  models *alternately, step by step* (A B, B A, ...; ``--pairs`` pairs), each step timed in
  wall-clock and CPU time; the ratio is the median of the paired per-step ratios, which keeps
  other load on a shared machine from favouring either side;
* inference images/s: the compiled forward passes, alternating batch by batch likewise;
* agreement of the two models' outputs before any training: the largest and mean absolute
  difference of the class probabilities and how often the predicted labels agree; the relative
  error of the penultimate features; and the same probabilities/labels through a *confident*
  synthetic head (with random weights the model's own probabilities all sit near 0.5, where
  label agreement says little; ``--weights imagenet`` gives real features).

Ratios are bf16/f32 (> 1 means bfloat16 is faster). Whether bf16 pays depends on the CPU:
oneDNN uses AVX512-BF16 / AMX instructions when present (the header prints the CPU's flags).

    python benchmarks/precision.py --quick        # efficientnetv2b0, ~2 min on 2 cores
    python benchmarks/precision.py --backbone xception --weights imagenet
"""
from __future__ import annotations

import sys
import time

import benchlib as bl


def _pairs(step, names, pairs):
    """Alternate ``step(name, i)`` between the two names, ``pairs`` times (A B, B A, ...);
    return (items per step, wall times, CPU times) per name."""
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    items = 0
    for i in range(pairs):
        for n in (names if i % 2 == 0 else names[::-1]):
            c0, t0 = time.process_time(), time.perf_counter()
            items = step(n, i)
            wall[n].append(time.perf_counter() - t0)
            cpu[n].append(time.process_time() - c0)
    return items, wall, cpu


def _agreement(feats, probs, np) -> dict:
    """How far the bf16 model's outputs are from the float32 model's, with the same weights.

    With random weights the model's own probabilities all sit near 0.5, where label agreement
    says little. So the penultimate features are also compared directly (relative error), and
    through a *confident* synthetic head: a fixed random linear map of the centred features,
    scaled so the float32 logit difference has standard deviation 4 (most probabilities then
    lie beyond 0.1/0.9, as for a trained classifier), applied to both models' features.
    """
    p32, p16 = probs["float32"], probs["mixed_bfloat16"]
    f32, f16 = feats["float32"], feats["mixed_bfloat16"]
    diff = np.abs(p32 - p16)
    agree = p32.argmax(1) == p16.argmax(1)
    rng = np.random.default_rng(0)
    w = rng.normal(size=(f32.shape[1], 2))
    mu = f32.mean(0)
    z32, z16 = (f32 - mu) @ w, (f16 - mu) @ w
    scale = 4.0 / max(float(np.std(z32[:, 0] - z32[:, 1])), 1e-12)

    def softmax(z):
        z = z * scale
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    q32, q16 = softmax(z32), softmax(z16)
    return {
        "max_abs_prob_diff": float(diff.max()),
        "mean_abs_prob_diff": float(diff.mean()),
        "label_agreement": float(agree.mean()),
        "mean_distance_from_0.5": float(np.abs(p32[:, 0] - 0.5).mean()),
        "feature_rel_error": float(np.linalg.norm(f16 - f32) / max(np.linalg.norm(f32), 1e-12)),
        "confident_head_max_abs_prob_diff": float(np.abs(q32 - q16).max()),
        "confident_head_label_agreement": float((q32.argmax(1) == q16.argmax(1)).mean()),
        "confident_head_mean_distance_from_0.5": float(np.abs(q32[:, 0] - 0.5).mean()),
    }


def parse(argv=None):
    p = bl.base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default=None, help="one backbone (default efficientnetv2b0)")
    p.add_argument("--image-size", type=int, default=None, help="pixels (default 150)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pairs", type=int, default=None,
                   help="alternating training-step pairs (default 16; --quick 8); inference "
                        "uses twice as many batch pairs")
    p.add_argument("--infer-images", type=int, default=None,
                   help="images per timed inference call and for the agreement check "
                        "(default 256; --quick 128)")
    p.add_argument("--weights", default=None,
                   help="initial weights for both copies: 'imagenet' or a weights file "
                        "(default: random; agreement is more telling with trained weights)")
    args = p.parse_args(argv)
    if args.tiny:
        args.batch_size = min(args.batch_size, 8)
    bl.fill_defaults(
        args,
        tiny=dict(backbone=bl.TINY, image_size=32, pairs=2, infer_images=32),
        quick=dict(pairs=8, infer_images=128),
        full=dict(backbone="efficientnetv2b0", image_size=150, pairs=16, infer_images=256))
    args.backbone = bl.backbones_arg(args.backbone, ())[0]
    return args


def main(argv=None) -> int:
    args = parse(argv)
    bl.print_header("precision: float32 vs mixed_bfloat16", args, backbone=args.backbone,
                    image_size=args.image_size, batch_size=args.batch_size,
                    train_step_pairs=args.pairs, infer_images=args.infer_images,
                    weights=args.weights or "random")
    sys.path.insert(0, str(bl.REPO))
    import keras
    import numpy as np
    import tensorflow as tf

    bs = args.batch_size
    n_train = bs * 4
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

    names = ("float32", "mixed_bfloat16")
    previous = keras.mixed_precision.global_policy().name
    try:
        models = {n: build(n) for n in names}
    finally:
        keras.mixed_precision.set_global_policy(previous)
    models["mixed_bfloat16"].set_weights(models["float32"].get_weights())
    # Inference returns the penultimate features too (the head's input): same computation.
    forwards = {}
    for name, model in models.items():
        both = keras.Model(model.inputs, [model.layers[-1].input, model.output])
        forwards[name] = tf.function(lambda x, m=both: m(x, training=False))

    # Agreement, with identical weights, before training changes them.
    t0 = time.perf_counter()
    feats, probs = {}, {}
    for name, f in forwards.items():
        outs = [f(b) for b in infer_batches]
        feats[name] = np.concatenate([o[0].numpy().astype(np.float64) for o in outs])
        probs[name] = np.concatenate([o[1].numpy().astype(np.float64) for o in outs])
    print(f"traced both forward passes in {time.perf_counter() - t0:.1f} s")
    agreement = _agreement(feats, probs, np)

    # Training: the paper's optimizer, same data, same starting weights; fit()'s compiled train
    # step applied alternately to the two models (A B B A ...), one step at a time.
    ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(bs).repeat()
          .prefetch(tf.data.AUTOTUNE))
    for model in models.values():
        bl.compile_paper(model)
    t0 = time.perf_counter()
    for model in models.values():
        model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    print(f"warm-up (tracing both training steps): {time.perf_counter() - t0:.1f} s")
    strategy = tf.distribute.get_strategy()
    iters = {n: iter(strategy.experimental_distribute_dataset(ds)) for n in names}

    def train_step(name):
        models[name].train_function(iters[name])  # on a CPU: returns when computed
        return bs

    def infer_batch(name, i):
        out = forwards[name](infer_batches[i % len(infer_batches)])
        out[1].numpy()
        return len(infer_batches[i % len(infer_batches)])

    print(f"training: {args.pairs} alternating step pairs")
    train_t = _pairs(lambda n, i: train_step(n), names, args.pairs)
    print(f"inference: {2 * args.pairs} alternating batch pairs")
    infer_t = _pairs(infer_batch, names, 2 * args.pairs)

    results = bl.Results("precision", args, key=("backbone", "phase"))
    rows = []
    for phase, (items, wall, cpu) in (("train", train_t), ("inference", infer_t)):
        rows.append(results.add(
            backbone=args.backbone, phase=phase, image_size=args.image_size, batch_size=bs,
            pairs=len(wall["float32"]), weights=args.weights or "random",
            float32_img_s=items / bl.median(wall["float32"]),
            bf16_img_s=items / bl.median(wall["mixed_bfloat16"]),
            bf16_vs_float32=bl.median([a / b for a, b in zip(wall["float32"],
                                                             wall["mixed_bfloat16"])]),
            cpu_ratio_bf16_vs_float32=sum(cpu["float32"]) / sum(cpu["mixed_bfloat16"]),
            spread_float32=bl.spread(wall["float32"]),
            spread_bf16=bl.spread(wall["mixed_bfloat16"]),
            **agreement))

    print()
    bl.print_table(rows, ["backbone", "phase", "float32_img_s", "bf16_img_s", "bf16_vs_float32"])
    print("\nagreement (same weights, %d images): " % len(x_infer))
    for k, v in agreement.items():
        print(f"  {k} = {v:.4g}" if isinstance(v, float) else f"  {k} = {v}")
    for row in rows:
        bl.ratio_line(f"bf16/float32 {row['phase']} [{row['backbone']}]", row["bf16_vs_float32"],
                      f"{row['bf16_img_s']:.2f} vs {row['float32_img_s']:.2f} img/s; CPU-time "
                      f"ratio {row['cpu_ratio_bf16_vs_float32']:.3f}")
    faster = all(r["bf16_vs_float32"] > 1.1 for r in rows)
    close = (agreement["max_abs_prob_diff"] < 0.05 and agreement["label_agreement"] > 0.97
             and agreement["confident_head_max_abs_prob_diff"] < 0.05
             and agreement["confident_head_label_agreement"] > 0.97)
    print(f"RECOMMENDATION bf16 by default on this CPU: {'yes' if faster and close else 'no'} "
          f"(>10% faster in both phases: {faster}; predictions close: {close})")
    results.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
