"""Training: the input pipeline, the paper's recipe, devices and precision, checkpoints, resume.

A ``tf.data`` pipeline gathers batches from a decoded ``uint8`` image array
(:func:`sadutils.inference.cached_images`) in a per-epoch order derived from ``(seed, epoch)``,
which is what makes an interrupted run resume on exactly the batches it would have seen.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from . import checkpoints
from .fileio import atomic_path, write_text
from .progress import clock, phase, report_phase


# --------------------------------------------------------------------------- tf.data pipeline
def make_dataset(images, labels, batch_size: int, shuffle: bool = False, seed: int = 0,
                 first_epoch: int = 0, epochs: int | None = None):
    """A ``tf.data.Dataset`` of ``(float32 pixels in [0, 255], int32 label)`` batches.

    ``images`` may be a memory-mapped array: only the rows of each batch are read. With
    ``shuffle`` the dataset holds ``epochs`` passes (endless when None; pass
    ``steps_per_epoch`` to ``fit``): epoch ``e``, counted from ``first_epoch``, uses the order
    ``numpy.random.default_rng([seed, e])``, so an epoch always sees the same batches, also
    after a resume. (Reading the epoch from a callback is not enough: Keras opens the next
    epoch's iterator, and prefetching starts, before ``on_epoch_begin``.) Without ``shuffle``
    it is one pass in file order.

    Training gives ``epochs``: the stream then holds exactly the batches ``fit`` takes.

    tf.data's autotuning is off, with two batches gathered at a time and two prefetched (the
    pipeline only copies rows from memory): its optimiser thread, which waits up to a minute
    between rounds, had to end before a finished iterator could be deleted, and stalled the
    end of ``fit`` for 15-40 s with no CPU in use in about a third of the demo's trainings
    (the "end of fit" phase of the timing files; seen with gdb in
    ``RootDataset::Iterator::~Iterator``). The batches, and so the numbers, are the same.
    """
    labels = np.asarray(labels, dtype=np.int32)
    n = len(labels)
    if len(images) != n:
        raise ValueError(f"{len(images)} images but {n} labels")
    size = images.shape[1:]

    steps = -(-n // batch_size)

    def batch_indices():
        # With shuffle: one pass per epoch from first_epoch on (endless without `epochs`), cut
        # into epochs by fit(steps_per_epoch=...), so Keras creates one iterator for the whole
        # fit.
        epoch = first_epoch
        while epochs is None or epoch < first_epoch + epochs:
            order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
            for start in range(0, n, batch_size):
                yield order[start:start + batch_size]
            if not shuffle:
                return
            epoch += 1

    def gather(idx):
        return np.asarray(images[np.sort(idx)]), labels[np.sort(idx)]

    ds = tf.data.Dataset.from_generator(batch_indices,
                                        output_signature=tf.TensorSpec([None], tf.int64))
    if not shuffle:
        ds = ds.apply(tf.data.experimental.assert_cardinality(steps))
    ds = ds.map(lambda idx: tf.numpy_function(gather, [idx], [tf.uint8, tf.int32]),
                num_parallel_calls=2, deterministic=True)

    def finish(x, y):
        x = tf.ensure_shape(x, (None, *size))
        return tf.cast(x, tf.float32), tf.ensure_shape(y, (None,))

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.map(finish, num_parallel_calls=2).prefetch(2).with_options(options)


# --------------------------------------------------------------------------- devices and precision
def gpu_count() -> int:
    return len(tf.config.list_physical_devices("GPU"))


def configure_precision(precision: str = "auto") -> str:
    """Set the Keras dtype policy: ``auto`` is ``mixed_float16`` on GPUs and ``float32`` on CPUs.

    ``bfloat16`` (``mixed_bfloat16``) can be asked for on CPUs with AMX/AVX512-BF16; the
    benchmarks measure whether it pays before anyone turns it on.
    """
    choices = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
    if precision not in choices:
        raise ValueError(f"unknown precision {precision!r}; valid choices: {', '.join(choices)}")
    policy = ("mixed_float16" if gpu_count() else "float32") if precision == "auto" else precision
    keras.mixed_precision.set_global_policy(policy)
    return policy


def distribution_strategy():
    """``MirroredStrategy`` across all GPUs when there are several, else the default strategy."""
    return tf.distribute.MirroredStrategy() if gpu_count() > 1 else tf.distribute.get_strategy()


def set_seeds(seed: int, deterministic: bool | None = None) -> bool:
    """Seed Python, NumPy and TensorFlow; make TF ops deterministic (default: when no GPU)."""
    keras.utils.set_random_seed(seed)
    if deterministic is None:
        deterministic = gpu_count() == 0
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return deterministic


# --------------------------------------------------------------------------- training
@dataclass
class TrainResult:
    model: object
    history: pd.DataFrame
    best_epoch: int
    resumed_from_epoch: int
    wall_time_s: float
    precision: str
    n_replicas: int


def _keep_best_callback(weights_file: Path, history_file: Path):
    """Save weights whenever validation loss improves, remembering the best across resumes."""
    best = np.inf
    if history_file.is_file():
        past = pd.read_csv(history_file)
        if "val_loss" in past and len(past):
            best = float(past["val_loss"].min())

    class KeepBest(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best = best

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("val_loss")
            if loss is not None and loss < self.best:
                self.best = float(loss)
                with atomic_path(weights_file, suffix=".weights.h5") as tmp:  # never half a file
                    self.model.save_weights(tmp)

    return KeepBest()


def _run_key(train_images, val_images, global_batch, learning_rate, optimizer, seed) -> str:
    """What a checkpoint must share with a run to be resumed by it (not the epoch count, so a
    run can be extended)."""
    settings = {"train": [len(train_images), *map(int, train_images.shape[1:])],
                "val": len(val_images), "batch": int(global_batch),
                "learning_rate": float(learning_rate), "optimizer": optimizer, "seed": int(seed)}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _resume_point(model, out_dir: Path, run_key: str, history_file: Path,
                  best_file: Path) -> checkpoints.Resume:
    """Load the newest usable checkpoint into ``model`` (:mod:`sadutils.checkpoints`) and put
    ``history.csv`` in line with it; a fresh run forgets a finished run's history and best
    weights. Says in one line what happened when there was a checkpoint."""
    for name in (best_file.name, history_file.name):  # temp files of writes a kill interrupted
        for leftover in out_dir.glob(f".{name}.*"):
            leftover.unlink(missing_ok=True)
    restored = checkpoints.restore_checkpoint(model, out_dir, run_key,
                                              extra_files=(history_file, best_file),
                                              best_file=best_file)
    if restored.epoch:
        checkpoints.write_history(history_file, restored.history)
    else:
        for f in (history_file, best_file):
            f.unlink(missing_ok=True)
    if restored.note:
        print(f"training checkpoint: {restored.note}", flush=True)
    return restored


def _reseed_dropout_callback():
    """Restart every dropout layer's random stream at a point fixed by the epoch number.

    Keras checkpoints (and ``BackupAndRestore``) save weights and optimizer state but not the
    state of the layers' seed generators, so without this a resumed run would draw different
    dropout masks (head dropout, EfficientNet's stochastic depth) from the uninterrupted one.
    """
    class ReseedDropout(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.generators = [layer.seed_generator for layer in _all_layers(self.model)
                               if getattr(layer, "seed_generator", None) is not None]
            self.initial = [np.array(g.state.numpy()) for g in self.generators]

        def on_epoch_begin(self, epoch, logs=None):
            for gen, start in zip(self.generators, self.initial):
                state = start.copy()
                state[-1] = state[-1] + np.asarray(epoch * 1_000_003, dtype=state.dtype)
                gen.state.assign(state)

    return ReseedDropout()


def _all_layers(model):
    """Every layer of ``model``, nested models included."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_all_layers(layer))
    return out


OPTIMIZERS = ("adagrad", "adam")


def make_optimizer(name: str, learning_rate: float):
    """The paper's Adagrad, or Adam (the demo profile's choice: from-scratch training in a few
    hundred steps gets nowhere with Adagrad at 0.001)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid choices: {', '.join(OPTIMIZERS)}")
    cls = {"adagrad": keras.optimizers.Adagrad, "adam": keras.optimizers.Adam}[name]
    return cls(learning_rate=learning_rate)


def train_model(build, train_images, train_labels, val_images, val_labels, out_dir, *,
                epochs: int, batch_size: int, learning_rate: float = 0.001, seed: int = 0,
                optimizer: str = "adagrad", precision: str = "auto", resume: bool = True,
                refresh_batchnorm: bool = False, verbose: int = 2,
                extra_callbacks=()) -> TrainResult:
    """Train a model the paper's way and keep the best epoch on validation.

    ``build`` is a zero-argument function returning an uncompiled model (it is called inside the
    distribution strategy's scope). The recipe: Adagrad at ``learning_rate`` (paper: 0.001),
    sparse categorical cross-entropy, accuracy. ``out_dir`` receives ``history.csv`` and, while
    a run is unfinished, ``best.weights.h5`` and ``backup/`` (:mod:`sadutils.checkpoints`,
    every file written atomically; the returned model holds the best weights): calling again
    after an interruption at any moment continues from the last finished epoch with the same
    weights, optimizer state and batch order, so it ends with the result of an uninterrupted
    run. A damaged checkpoint is set aside (moved to
    ``out_dir/corrupt/``) and the run resumes from the state before it, or starts over, saying
    which. Without ``resume`` an old backup is discarded.
    With ``refresh_batchnorm`` the BatchNorm statistics are recomputed on the training images
    before every validation pass (:func:`refresh_batchnorm_statistics`; the demo profile's
    choice), so the validation losses, the epoch kept and the kept model all see the model as
    it is used.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    backup_dir, history_file = out_dir / checkpoints.BACKUP_NAME, out_dir / "history.csv"
    best_file = out_dir / "best.weights.h5"
    if not resume and backup_dir.exists():
        shutil.rmtree(backup_dir)

    policy = configure_precision(precision)
    strategy = distribution_strategy()
    with phase("build model"), strategy.scope():
        model = build()
        model.compile(optimizer=make_optimizer(optimizer, learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(),
                      metrics=["accuracy"])
        # Create the optimizer's slots now, outside any tf.function. Left to the first train
        # step (as Keras does without a distribution strategy), hundreds of variables are
        # created inside the trace, and TensorFlow traces the step a second time: together
        # about 40% of a demo run's first step (benchmarks/first_step.py).
        model.optimizer.build(model.trainable_variables)
    # Global batch: each replica gets batch_size, as the paper's single-GPU recipe did.
    global_batch = batch_size * strategy.num_replicas_in_sync
    run_key = _run_key(train_images, val_images, global_batch, learning_rate, optimizer, seed)
    with phase("restore checkpoint"):
        restored = _resume_point(model, out_dir, run_key, history_file, best_file)
    start_epoch = restored.epoch
    train_ds = make_dataset(train_images, train_labels, global_batch, shuffle=True, seed=seed,
                            first_epoch=start_epoch, epochs=epochs - start_epoch)
    val_ds = make_dataset(val_images, val_labels, global_batch)
    # Keras runs its callbacks in list order: the statistics are refreshed (on_test_begin)
    # before the validation pass whose loss CSVLogger and KeepBest see at the epoch's end.
    refresh = [_refresh_batchnorm_callback(train_images, batch_size)] if refresh_batchnorm else []
    phases = _phase_callback()
    callbacks = [
        *refresh,
        keras.callbacks.CSVLogger(str(history_file), append=True),
        _keep_best_callback(best_file, history_file),
        checkpoints.CheckpointCallback(out_dir, restored.history, run_key),
        _reseed_dropout_callback(),
        phases,
        *extra_callbacks,
    ]
    t0 = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=start_epoch,
              callbacks=callbacks, steps_per_epoch=-(-len(train_labels) // global_batch),
              shuffle=False, verbose=verbose)
    wall = time.perf_counter() - t0
    if phases.epoch_ended is not None:  # from the last epoch's end until fit returned
        report_phase("end of fit", phases.epoch_ended)
    history = pd.read_csv(history_file).drop_duplicates("epoch", keep="last").reset_index(drop=True)
    write_text(history_file, history.to_csv(index=False))
    best_epoch = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    if best_file.is_file():  # saved after that epoch's refresh: validated as it is kept
        with phase("load best weights"):
            model.load_weights(best_file)
        # Only a resume reads it, and a finished run leaves nothing to resume: the caller
        # saves the model it now holds (the file was half of a demo's results on disk).
        best_file.unlink()
    return TrainResult(model, history, best_epoch, start_epoch, wall, policy,
                       strategy.num_replicas_in_sync)


#: Each model's compiled forward pass in training mode (weak keys: it goes with its model).
_TRAINING_FORWARDS = weakref.WeakKeyDictionary()


def _training_forward(model):
    """``model(x, training=True)`` as a ``tf.function``, traced once per model.

    It is traced while every BatchNormalization momentum is 0 (see
    :func:`refresh_batchnorm_statistics`), so each call stores the batch's own statistics.
    """
    cached = _TRAINING_FORWARDS.get(model)
    if cached is None:
        ref = weakref.ref(model)  # the cache must not keep the model alive

        @tf.function(reduce_retracing=True)
        def cached(x):
            return ref()(x, training=True)

        _TRAINING_FORWARDS[model] = cached
    return cached


def _phase_callback():
    """Report each epoch, its validation pass and the first training step (which traces the
    train function) as phases of the run's profile (:func:`sadutils.progress.phase`)."""

    class Phases(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.traced = False
            self.epoch_ended = None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_began = clock()

        def on_train_batch_end(self, batch, logs=None):
            if not self.traced:  # the first step of the fit traces and compiles the train step
                self.traced = True
                report_phase("first train step (tracing)", self.epoch_began)

        def on_test_begin(self, logs=None):
            self.test_began = clock()

        def on_test_end(self, logs=None):
            report_phase("validation", self.test_began)

        def on_epoch_end(self, epoch, logs=None):
            report_phase("epoch", self.epoch_began, epoch=int(epoch) + 1)
            self.epoch_ended = clock()

    return Phases()


def refresh_batchnorm_statistics(model, images, batch_size: int = 32) -> int:
    """Set every BatchNormalization layer's moving mean and variance to the average of its
    batch statistics over ``images`` ("precise BN", Wu & Johnson 2021).

    Keras updates these statistics as exponential moving averages (momentum 0.99), so after
    only a few dozen training steps - the demo profile's three short epochs - they are still
    mostly their initial values, and a network full of BatchNorm layers answers one constant in
    inference mode although it has learned: its validation loss is then ln 2 at every epoch and
    the "best epoch" is chosen among identical losses. Recomputing them from the training images
    removes that artefact; after a long run they have converged anyway.

    Parameters
    ----------
    model : keras.Model
    images : array
        ``uint8`` or float pixels, ``(n, size, size, 3)``.
    batch_size : int

    Returns
    -------
    int
        The number of layers refreshed (no weights other than the statistics change).
    """
    layers = [layer for layer in _all_layers(model)
              if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]
    if not layers or len(images) == 0:
        return 0
    saved = [layer.momentum for layer in layers]
    sums = [[np.zeros(layer.moving_mean.shape), np.zeros(layer.moving_variance.shape)]
            for layer in layers]
    batches = 0
    try:
        for layer in layers:  # momentum 0: a forward pass stores its batch's statistics
            layer.momentum = 0.0
        forward = _training_forward(model)
        for start in range(0, len(images), batch_size):
            forward(tf.constant(np.asarray(images[start:start + batch_size]), tf.float32))
            for layer, (mean, var) in zip(layers, sums):
                mean += np.asarray(layer.moving_mean, dtype="float64")
                var += np.asarray(layer.moving_variance, dtype="float64")
            batches += 1
        for layer, (mean, var) in zip(layers, sums):
            layer.moving_mean.assign((mean / batches).astype(layer.moving_mean.dtype))
            layer.moving_variance.assign((var / batches).astype(layer.moving_variance.dtype))
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    return len(layers)


def _refresh_batchnorm_callback(images, batch_size: int):
    """Refresh the BatchNorm statistics on the training images before every validation pass,
    so that validation (and the checkpoint kept for the best epoch) measures the model as it
    will be used."""

    class RefreshBatchNorm(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            with phase("BatchNorm refresh", images=len(images)):
                refresh_batchnorm_statistics(self.model, images, batch_size)

    return RefreshBatchNorm()
