"""The fixed cost of a training run: its first step, with and without the optimizer built first.

A demo training run is short (three epochs of about a dozen steps), so what costs most is not
the arithmetic but the first step: TensorFlow traces the train step into a graph (Python
builds every operation of the forward pass, its gradient and the optimizer's update). Keras,
without a distribution strategy, creates the optimizer's slot variables (one per trainable
weight) *inside* that trace, which is slow in graph mode and makes TensorFlow trace the step a
second time. ``sadutils.training.train_model`` builds the optimizer first
(``model.optimizer.build(model.trainable_variables)``).

Each measurement runs in a fresh Python process, as every notebook run of ``sadutils
reproduce`` does (a second model traced in the same process would find TensorFlow's and
AutoGraph's caches warm and look cheaper than it is). The two cases alternate (A B, B A, ...):
a freshly built and compiled model's first ``train_on_batch`` with Keras' default (``lazy``)
against the same after building the optimizer (``prebuilt``, the build included). Each child
also reports the start-up (importing TensorFlow and Keras), the model build, a later step, and
the first call of the other compiled functions a run may trace (Keras' test step, the
training-mode forward pass of the BatchNorm refresh, the inference forward pass).

    python benchmarks/first_step.py --quick     # efficientnetv2b0 at 72 px, ~3 min on 2 cores
    python benchmarks/first_step.py             # the four backbones at the demo's 72 px
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import benchlib as bl

CASES = ("lazy", "prebuilt")


def child(mode: str, backbone: str, image_size: int, batch_size: int) -> dict:
    """One measurement, in this (fresh) process; returns the seconds of each part."""
    t0 = time.perf_counter()
    import keras
    import tensorflow as tf

    sys.path.insert(0, str(bl.REPO))
    from sadutils import inference, training
    out = {"startup_s": time.perf_counter() - t0}
    x = bl.random_images(batch_size, image_size).astype("float32")
    y = (keras.ops.arange(batch_size) % 2).numpy().astype("int32")
    keras.utils.set_random_seed(1)
    t0 = time.perf_counter()
    model = bl.compile_paper(bl.build(backbone, image_size))
    out["build_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if mode == "prebuilt":
        model.optimizer.build(model.trainable_variables)
    model.train_on_batch(x, y)
    out["first_step_s"] = time.perf_counter() - t0
    steps = []
    for _ in range(3):
        t0 = time.perf_counter()
        model.train_on_batch(x, y)
        steps.append(time.perf_counter() - t0)
    out["step_s"] = bl.median(steps)
    for name, call in (("test_step_first_call_s", lambda: model.test_on_batch(x, y)),
                       ("bn_forward_first_call_s",
                        lambda: training._training_forward(model)(tf.constant(x))),
                       ("inference_forward_first_call_s",
                        lambda: inference.compiled_forward(model)(tf.constant(x)))):
        t0 = time.perf_counter()
        call()
        out[name] = time.perf_counter() - t0
    return out


def measure(mode: str, backbone: str, image_size: int, batch_size: int) -> dict:
    """:func:`child` in a fresh process."""
    done = subprocess.run([sys.executable, __file__, "--child", mode, backbone,
                           str(image_size), str(batch_size)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = bl.model_parser(__doc__.splitlines()[0], batch_size=32,
                        backbones_help="comma-separated (default: all four; --quick: "
                                       "efficientnetv2b0)")
    args = p.parse_args(argv)
    bl.fill_defaults(args, tiny={"rounds": 1, "image_size": 32, "backbones": bl.TINY},
                     quick={"rounds": 2, "backbones": "efficientnetv2b0"},
                     full={"rounds": 2, "image_size": 72})
    names = bl.backbones_arg(args.backbones, bl.ALL_BACKBONES)
    bl.print_header("first training step: optimizer built lazily vs first", args,
                    image_size=args.image_size, batch_size=args.batch_size)
    results = bl.Results("first_step", args)
    for name in names:
        runs = {mode: [] for mode in CASES}
        for r in range(args.rounds):
            for mode in (CASES if r % 2 == 0 else CASES[::-1]):
                runs[mode].append(measure(mode, name, args.image_size, args.batch_size))
                print(f"  round {r + 1}/{args.rounds}: {mode} first step "
                      f"{runs[mode][-1]['first_step_s']:.1f} s")
                sys.stdout.flush()

        def med(mode, key, runs=runs):
            return bl.median([m[key] for m in runs[mode]])

        ratio = bl.paired_ratio([m["first_step_s"] for m in runs["lazy"]],
                                [m["first_step_s"] for m in runs["prebuilt"]])
        row = results.add(
            backbone=name, image_size=args.image_size, batch_size=args.batch_size,
            lazy_first_step_s=med("lazy", "first_step_s"),
            prebuilt_first_step_s=med("prebuilt", "first_step_s"), lazy_vs_prebuilt=ratio,
            startup_s=med("prebuilt", "startup_s"), build_s=med("prebuilt", "build_s"),
            step_s=med("prebuilt", "step_s"),
            **{key: med("prebuilt", key) for key in ("test_step_first_call_s",
                                                     "bn_forward_first_call_s",
                                                     "inference_forward_first_call_s")})
        bl.ratio_line(f"lazy/prebuilt first step [{name}]", ratio,
                      f"{row['lazy_first_step_s']:.1f} s vs {row['prebuilt_first_step_s']:.1f} s"
                      f"; a later step {row['step_s']:.3f} s")
    bl.print_table(results.rows, ["backbone", "startup_s", "build_s", "lazy_first_step_s",
                                  "prebuilt_first_step_s", "lazy_vs_prebuilt", "step_s",
                                  "test_step_first_call_s", "bn_forward_first_call_s",
                                  "inference_forward_first_call_s"])
    results.done()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
        sys.exit(0)
    sys.exit(main())
