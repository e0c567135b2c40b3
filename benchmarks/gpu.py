"""GPU throughput per backbone: training and inference images/s, with and without XLA.

Prepared to run in one short session on a GPU machine (default precision ``mixed_float16``, as
``sadutils.training.configure_precision("auto")`` picks on a GPU; 150 px; batch 64; synthetic
in-memory data). For each backbone, two copies of the model are compiled with the paper's
optimizer, one with ``jit_compile=False`` (graph mode) and one with ``jit_compile=True`` (XLA;
note that Keras's default ``jit_compile="auto"``, which ``train_model`` uses, already means XLA
on a single GPU). Then, interleaved round by round:

* training: ``fit``'s compiled train step (``model.train_function``), ``--steps`` steps per timed
  block on a long-lived iterator over a ``from_tensor_slices`` dataset (graph, XLA), and the XLA
  model fed by the package's own ``make_dataset`` over a ``uint8`` array (``pipeline``): on a
  GPU a step is milliseconds, so the input pipeline matters more than on a CPU;
* inference: a compiled forward pass over fixed batches already on the device (graph, XLA),
  and ``sadutils.inference.predict_proba`` on a ``uint8`` host array (what evaluation uses).

Each timed block ends by reading the weights back, so GPU work is finished before the clock
stops. Warm-up (tracing/compiling) times are recorded too. Results go to the
JSON file after every backbone, and ``--time-budget`` skips backbones once it is spent, so a
session's time limit never loses what was measured.

    python benchmarks/gpu.py --out "$OUT"            # on the GPU machine: all four backbones
    python benchmarks/gpu.py --quick                  # anywhere: efficientnetv2b0, 64 px, tiny runs
"""
from __future__ import annotations

import sys
import time

import benchlib as bl


def parse(argv=None):
    p = bl.model_parser(__doc__.split("\n\n")[0], batch_size=None, backbones_help=(
        "comma-separated, cheapest first (default: efficientnetv2b0,xception,efficientnetv2b2,"
        "efficientnetv2s; --quick: efficientnetv2b0)"))
    p.add_argument("--precision", default="auto",
                   choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
                   help="Keras dtype policy; auto: mixed_float16 on a GPU, float32 on a CPU")
    p.add_argument("--xla", default="off,on", help="which of off,on to measure")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per timed block (default 30)")
    p.add_argument("--infer-batches", type=int, default=None,
                   help="batches per timed inference call (default 30)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 3)")
    p.add_argument("--no-pipeline", action="store_true",
                   help="skip the make_dataset training and predict_proba cases")
    p.add_argument("--time-budget", type=float, default=480.0,
                   help="seconds; no new backbone is started after this")
    args = p.parse_args(argv)
    bl.fill_defaults(
        args,
        tiny=dict(backbones=bl.TINY, image_size=32, batch_size=8, steps=2, infer_batches=2,
                  warmup=1, rounds=1),
        quick=dict(backbones="efficientnetv2b0", image_size=64, batch_size=8, steps=3,
                   infer_batches=3, warmup=1, rounds=1),
        full=dict(image_size=150, batch_size=64, steps=30, infer_batches=30, warmup=3, rounds=2))
    args.backbones = bl.backbones_arg(
        args.backbones, ("efficientnetv2b0", "xception", "efficientnetv2b2", "efficientnetv2s"))
    args.xla = [x.strip() for x in args.xla.split(",") if x.strip()]
    if not set(args.xla) <= {"off", "on"} or not args.xla:
        raise SystemExit("--xla takes off, on or off,on")
    return args


def main(argv=None) -> int:
    started = time.perf_counter()
    args = parse(argv)
    sys.path.insert(0, str(bl.REPO))
    import keras
    import numpy as np
    import tensorflow as tf

    from sadutils.inference import predict_proba
    from sadutils.training import make_dataset

    gpus = tf.config.list_physical_devices("GPU")
    policy = args.precision if args.precision != "auto" else (
        "mixed_float16" if gpus else "float32")
    device = "/GPU:0" if gpus else "/CPU:0"
    bl.print_header("GPU throughput, graph vs XLA", args, backbones=",".join(args.backbones),
                    device=device, gpus=len(gpus), precision=policy, image_size=args.image_size,
                    batch_size=args.batch_size, steps_per_call=args.steps,
                    infer_batches=args.infer_batches, rounds=args.rounds,
                    xla=",".join(args.xla))
    if not gpus:
        print("NOTE: no GPU visible: this run only checks that the script works"
              + ("." if args.out else "; nothing is saved (pass --out to save anyway)."))
        args.no_save = args.no_save or not args.out

    bs = args.batch_size
    n = bs * 4
    x_uint8 = bl.random_images(n, args.image_size)
    x = x_uint8.astype(np.float32)
    y = np.arange(n, dtype=np.int32) % 2
    with tf.device(device):
        device_batches = [tf.identity(tf.constant(x[i:i + bs])) for i in range(0, n, bs)]
    memory_ds = (tf.data.Dataset.from_tensor_slices((x, y)).batch(bs).repeat()
                 .prefetch(tf.data.AUTOTUNE))
    pipeline_ds = make_dataset(x_uint8, y, bs, shuffle=True, seed=0)
    infer_n = args.infer_batches * bs
    results = bl.Results("gpu", args, {"precision": policy, "device": device},
                         key=("backbone", "device", "precision"))
    summary = []
    previous = keras.mixed_precision.global_policy().name
    try:
        for backbone in args.backbones:
            elapsed = time.perf_counter() - started
            if elapsed > args.time_budget:
                print(f"\n[{backbone}] skipped: time budget of {args.time_budget:.0f} s spent "
                      f"({elapsed:.0f} s)")
                continue
            print(f"\n[{backbone}] building ({elapsed:.0f} s elapsed) ...")
            sys.stdout.flush()
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy(policy)
            models, forwards, warm = {}, {}, {}
            for mode in args.xla:
                jit = mode == "on"
                models[mode] = bl.compile_paper(bl.build(backbone, args.image_size),
                                                jit_compile=jit)
                forwards[mode] = tf.function(lambda t, m=models[mode]: m(t, training=False),
                                             jit_compile=jit)
                t0 = time.perf_counter()
                models[mode].fit(memory_ds, epochs=1, steps_per_epoch=args.warmup, verbose=0,
                                 shuffle=False)
                models[mode].trainable_weights[-1].numpy()
                warm[f"train_warmup_s_{mode}"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                for b in device_batches[:2]:
                    forwards[mode](b).numpy()
                warm[f"infer_warmup_s_{mode}"] = time.perf_counter() - t0
                print(f"  xla {mode}: warm-up train {warm[f'train_warmup_s_{mode}']:.1f} s, "
                      f"inference {warm[f'infer_warmup_s_{mode}']:.1f} s")
                sys.stdout.flush()
            pipe_mode = "on" if "on" in args.xla else args.xla[0]

            strategy = tf.distribute.get_strategy()

            def train(model, ds):
                # fit()'s own compiled train step on a long-lived iterator, as in one long
                # fit() (no per-call set-up or iterator restart, which would weigh on
                # millisecond GPU steps); the weights are read back to wait for the device.
                it = iter(strategy.experimental_distribute_dataset(ds))

                def run():
                    for _ in range(args.steps):
                        model.train_function(it)
                    model.trainable_weights[-1].numpy()
                    return args.steps * bs
                return run

            def infer(forward):
                def run():
                    outs = [forward(device_batches[i % len(device_batches)])
                            for i in range(args.infer_batches)]
                    np.concatenate([o.numpy() for o in outs])
                    return infer_n
                return run

            host_images = np.resize(x_uint8, (infer_n, *x_uint8.shape[1:]))

            def ours():
                predict_proba(models[args.xla[0]], host_images, bs)
                return infer_n

            train_cases = {f"train_{m}": train(models[m], memory_ds) for m in args.xla}
            infer_cases = {f"infer_{m}": infer(forwards[m]) for m in args.xla}
            if not args.no_pipeline:
                train_cases["train_pipeline"] = train(models[pipe_mode], pipeline_ds)
                infer_cases["predict_proba"] = ours
            t0 = time.perf_counter()
            for fn in (*train_cases.values(), *infer_cases.values()):
                fn()  # start the iterators, trace predict_proba's forward pass
            warm["iterators_warmup_s"] = time.perf_counter() - t0
            print("  training:")
            tr = bl.interleaved(train_cases, args.rounds)
            print("  inference:")
            inf = bl.interleaved(infer_cases, args.rounds)
            row = {"backbone": backbone, "image_size": args.image_size, "batch_size": bs,
                   "precision": policy, "rounds": args.rounds}
            for name, rates in {**tr, **inf}.items():
                row[f"{name}_img_s"] = bl.median(rates)
            if {"off", "on"} <= set(args.xla):
                row["train_xla_speedup"] = bl.paired_ratio(tr["train_on"], tr["train_off"])
                row["infer_xla_speedup"] = bl.paired_ratio(inf["infer_on"], inf["infer_off"])
            if not args.no_pipeline:
                row["pipeline_mode"] = f"xla {pipe_mode}"
                row["pipeline_vs_in_memory"] = bl.paired_ratio(tr["train_pipeline"],
                                                               tr[f"train_{pipe_mode}"])
                row["predict_proba_vs_bare"] = bl.paired_ratio(inf["predict_proba"],
                                                               inf[f"infer_{args.xla[0]}"])
            row.update(warm)
            summary.append(results.add(**row))
            del models, forwards
    finally:
        keras.mixed_precision.set_global_policy(previous)

    print()
    cols = ["backbone"] + [f"train_{m}_img_s" for m in args.xla] + \
        [f"infer_{m}_img_s" for m in args.xla]
    if not args.no_pipeline:
        cols += ["train_pipeline_img_s", "predict_proba_img_s"]
    bl.print_table(summary, cols)
    for row in summary:
        b = row["backbone"]
        if "train_xla_speedup" in row:
            bl.ratio_line(f"xla/graph train [{b}]", row["train_xla_speedup"])
            bl.ratio_line(f"xla/graph inference [{b}]", row["infer_xla_speedup"])
        if "pipeline_vs_in_memory" in row:
            bl.ratio_line(f"pipeline/in-memory train ({row['pipeline_mode']}) [{b}]",
                          row["pipeline_vs_in_memory"], target="overhead <= 5%",
                          ok=row["pipeline_vs_in_memory"] >= 0.95)
            bl.ratio_line(f"predict_proba/bare inference (xla {args.xla[0]}) [{b}]",
                          row["predict_proba_vs_bare"], target=">= 0.90",
                          ok=row["predict_proba_vs_bare"] >= 0.90)
    print(f"total {time.perf_counter() - started:.0f} s")
    results.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
