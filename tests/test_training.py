"""Input pipeline, a tiny training run, resuming an interrupted one, and the training helpers.

The training runs use EfficientNetV2-B0 at 32 px on 64 random images: small enough for two shared
CPU cores, yet the real backbone with its stochastic depth, so the resume test exercises the
dropout reseeding and the per-epoch batch order that make a resumed run match an uninterrupted one.
(Graph tracing dominates: each ``train_model`` call costs about a minute on a busy machine.)
(Split determinism is tested with the manifests, in ``tests/data/``.)
"""
from __future__ import annotations

import time

import keras
import numpy as np
import pandas as pd
import pytest

from sadutils import models, settings, training
from sadutils.inference import predict_proba
from sadutils.training import TrainResult, make_dataset, set_seeds, train_model


# ---------------------------------------------------------------------------- make_dataset

N, BATCH = 37, 8  # 5 batches per epoch, the last one short


def _indexed_images(n=N):
    """Tiny images whose pixels spell their own row index, so a batch tells which rows it holds."""
    images = np.zeros((n, 2, 2, 3), np.uint8)
    images[..., 0] = (np.arange(n) % 256)[:, None, None]
    images[..., 1] = (np.arange(n) // 256)[:, None, None]
    return images, np.arange(n) % 2


def _batches(ds, count):
    """The first ``count`` batches of ``ds`` as lists of row indices (and labels checked)."""
    out = []
    for x, y in ds.take(count):
        x, y = x.numpy(), y.numpy()
        assert x.dtype == np.float32 and y.dtype == np.int32
        idx = (x[:, 0, 0, 0] + 256 * x[:, 0, 0, 1]).astype(int)
        assert np.array_equal(y, idx % 2)  # labels stay with their images
        out.append(idx.tolist())
    return out


def _epochs(batches, per_epoch):
    return [sum(batches[i:i + per_epoch], []) for i in range(0, len(batches), per_epoch)]


def test_unshuffled_dataset_is_one_pass_in_order():
    images, labels = _indexed_images()
    ds = make_dataset(images, labels, BATCH)
    assert ds.cardinality().numpy() == 5
    batches = _batches(ds, 100)
    assert [len(b) for b in batches] == [8, 8, 8, 8, 5]
    assert sum(batches, []) == list(range(N))
    x, _ = next(iter(ds))
    assert float(x.numpy().max()) <= 255.0 and x.shape[1:] == (2, 2, 3)  # pixels stay in [0, 255]


def test_shuffled_epochs_cover_every_index_once_and_differ():
    images, labels = _indexed_images()
    per_epoch = -(-N // BATCH)
    epochs = _epochs(_batches(make_dataset(images, labels, BATCH, shuffle=True, seed=3),
                              4 * per_epoch), per_epoch)
    assert len(epochs) == 4
    for order in epochs:
        assert sorted(order) == list(range(N))  # each index exactly once per epoch
    assert len({tuple(order) for order in epochs}) == 4  # a new order every epoch
    assert epochs[0] != list(range(N))


def test_shuffled_stream_is_a_function_of_seed_and_epoch():
    images, labels = _indexed_images()
    per_epoch = 5
    run = _batches(make_dataset(images, labels, BATCH, shuffle=True, seed=3), 4 * per_epoch)
    assert run == _batches(make_dataset(images, labels, BATCH, shuffle=True, seed=3),
                           4 * per_epoch)  # same seed, same stream
    other = _batches(make_dataset(images, labels, BATCH, shuffle=True, seed=4), per_epoch)
    assert other != run[:per_epoch]
    for k in (1, 3):  # resuming at epoch k replays exactly what a run from 0 saw from epoch k on
        resumed = _batches(make_dataset(images, labels, BATCH, shuffle=True, seed=3,
                                        first_epoch=k), (4 - k) * per_epoch)
        assert resumed == run[k * per_epoch:]
    # the order is the documented one: numpy's default_rng([seed, epoch])
    assert sum(run[2 * per_epoch:3 * per_epoch], []) == \
        [int(i) for b in np.array_split(np.random.default_rng([3, 2]).permutation(N),
                                        range(BATCH, N, BATCH)) for i in sorted(b)]


def test_shuffled_dataset_for_some_epochs_is_the_endless_streams_start():
    """Training asks for exactly its epochs (no stream left prefetching when fit ends): the
    same batches as the endless stream, then the end; from a resume epoch on as well."""
    images, labels = _indexed_images()
    per_epoch = 5
    endless = _batches(make_dataset(images, labels, BATCH, shuffle=True, seed=3), 4 * per_epoch)
    assert _batches(make_dataset(images, labels, BATCH, shuffle=True, seed=3, epochs=3),
                    100) == endless[:3 * per_epoch]
    assert _batches(make_dataset(images, labels, BATCH, shuffle=True, seed=3, first_epoch=1,
                                 epochs=3), 100) == endless[per_epoch:]


def test_datasets_are_not_autotuned():
    """No tf.data optimiser thread: deleting a used iterator waited for it (up to 40 s)."""
    images, labels = _indexed_images()
    for ds in (make_dataset(images, labels, BATCH),
               make_dataset(images, labels, BATCH, shuffle=True, seed=3, epochs=2)):
        assert ds.options().autotune.enabled is False


def test_dataset_reads_memory_mapped_images(tmp_path):
    images, labels = _indexed_images()
    np.save(tmp_path / "a.npy", images)
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    assert _batches(make_dataset(mapped, labels, BATCH), 5) == \
        _batches(make_dataset(images, labels, BATCH), 5)


def test_dataset_rejects_mismatched_lengths():
    images, labels = _indexed_images()
    with pytest.raises(ValueError, match="37 images but 36 labels"):
        make_dataset(images, labels[:-1], BATCH)


# ---------------------------------------------------------------------------- training and resume

SEED, EPOCHS, TRAIN_BATCH = 7, 4, 16


def _tiny_data():
    rng = np.random.default_rng(SEED)
    x = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 2, 64)
    x[y == 0, :16] //= 2  # a little signal, so the loss moves
    vx = rng.integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    vy = rng.integers(0, 2, 24)
    vx[vy == 0, :16] //= 2
    return x, y, vx, vy


def _build():
    return models.build_model("efficientnetv2b0", 32, weights=None)


def _train(out_dir, extra_callbacks=()):
    set_seeds(SEED)
    return train_model(_build, *_tiny_data(), out_dir, epochs=EPOCHS, batch_size=TRAIN_BATCH,
                       learning_rate=0.01, seed=SEED, precision="float32", verbose=0,
                       extra_callbacks=extra_callbacks)


class _InterruptAfter(keras.callbacks.Callback):
    """Raise KeyboardInterrupt at the end of one epoch (after the checkpoint callbacks ran)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    t0 = time.perf_counter()
    result = _train(out)
    return out, result, time.perf_counter() - t0


def test_tiny_training_run_writes_outputs_and_keeps_best(uninterrupted):
    out, result, _ = uninterrupted
    assert isinstance(result, TrainResult)
    assert (out / "history.csv").is_file()
    # a finished run leaves nothing to resume: no backup, no best weights (the model has them)
    assert not (out / "backup").exists() and not (out / "best.weights.h5").exists()
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == list(range(EPOCHS))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.columns)
    pd.testing.assert_frame_equal(history, result.history)
    assert result.best_epoch == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert history["val_loss"].iloc[result.best_epoch] == history["val_loss"].min()
    assert result.resumed_from_epoch == 0
    assert result.precision == "float32" and result.n_replicas == 1
    assert result.wall_time_s > 0
    assert np.isfinite(history[["loss", "val_loss"]].to_numpy()).all()
    # the returned model holds the best epoch's weights: its validation loss is that epoch's
    x, y, vx, vy = _tiny_data()
    p = predict_proba(result.model, vx)
    val_loss = float(np.mean(-np.log(p[np.arange(len(vy)), vy])))
    assert val_loss == pytest.approx(history["val_loss"].min(), rel=1e-4)
    assert result.model.class_names == ["sadness", "others"]


def test_resume_after_interruption_matches_uninterrupted_run(uninterrupted, tmp_path):
    _, reference, reference_s = uninterrupted
    out = tmp_path / "interrupted"
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        _train(out, extra_callbacks=[_InterruptAfter(1)])  # dies after epochs 0 and 1
    assert (out / "backup").is_dir()
    assert list(pd.read_csv(out / "history.csv")["epoch"]) == [0, 1]
    resumed = _train(out)
    elapsed = time.perf_counter() - t0
    print(f"\nresume test: uninterrupted run {reference_s:.1f}s, "
          f"interrupted + resumed runs {elapsed:.1f}s")

    assert resumed.resumed_from_epoch == 2
    assert list(resumed.history["epoch"]) == list(range(EPOCHS))
    assert not (out / "backup").exists()
    for column in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert np.allclose(resumed.history[column], reference.history[column],
                           rtol=1e-6, atol=1e-7), column
    assert resumed.best_epoch == reference.best_epoch
    # train_model ends on the best epoch's weights: identical in both runs
    got, want = resumed.model.get_weights(), reference.model.get_weights()
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-7)


def test_validation_with_refreshed_statistics_measures_the_model(tmp_path):
    """With BatchNorm statistics refreshed before each validation pass, validation measures the
    model as it is kept: the losses move from epoch to epoch (not ln 2 every time, as with the
    moving averages of a short run), the epoch kept is the one with the lowest validation loss,
    and the returned model has exactly that loss."""
    set_seeds(SEED)
    x, y, vx, vy = _tiny_data()
    result = train_model(_build, x, y, vx, vy, tmp_path, epochs=EPOCHS, batch_size=TRAIN_BATCH,
                         learning_rate=0.01, seed=SEED, precision="float32", verbose=0,
                         refresh_batchnorm=True)
    losses = result.history["val_loss"].to_numpy()
    assert np.ptp(losses) > 1e-3, losses
    assert not np.allclose(losses, np.log(2), atol=1e-3)
    assert result.best_epoch == int(np.argmin(losses))
    p = predict_proba(result.model, vx)
    val_loss = float(np.mean(-np.log(p[np.arange(len(vy)), vy])))
    assert val_loss == pytest.approx(losses.min(), rel=1e-4)


def test_refresh_batchnorm_statistics_uses_the_data():
    model = models.build_model("efficientnetv2b0", 32, None)
    images = np.random.default_rng(3).integers(0, 256, (24, 32, 32, 3)).astype(np.uint8)
    bns = [layer for layer in training._all_layers(model)
           if isinstance(layer, keras.layers.BatchNormalization)]
    first = bns[0]
    kernel_before = [w.numpy().copy() for w in model.trainable_weights]
    momenta = [layer.momentum for layer in bns]
    assert np.allclose(first.moving_mean.numpy(), 0)  # Keras' initial value
    n = training.refresh_batchnorm_statistics(model, images, batch_size=len(images))
    assert n == len(bns)
    backbone = next(layer for layer in model.layers if hasattr(layer, "layers"))
    # the backbone takes the pixels as they are (EfficientNetV2 includes its preprocessing)
    inputs = keras.Model(backbone.inputs, first.input)(images.astype(np.float32)).numpy()
    np.testing.assert_allclose(first.moving_mean.numpy(), inputs.mean(axis=(0, 1, 2)),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(first.moving_variance.numpy(), inputs.var(axis=(0, 1, 2)),
                               rtol=1e-3, atol=1e-4)
    assert [layer.momentum for layer in bns] == momenta  # restored
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(kernel_before, model.trainable_weights))


# ---------------------------------------------------------------------------- helpers

def test_make_optimizer_and_its_choices():
    assert training.OPTIMIZERS == settings.OPTIMIZERS  # what settings accept, training builds
    adagrad = training.make_optimizer("adagrad", 0.001)
    adam = training.make_optimizer("adam", 0.01)
    assert isinstance(adagrad, keras.optimizers.Adagrad)
    assert isinstance(adam, keras.optimizers.Adam)
    assert float(adagrad.learning_rate) == pytest.approx(0.001)
    assert float(adam.learning_rate) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'; valid choices: adagrad, adam"):
        training.make_optimizer("sgd", 0.1)


@pytest.fixture
def restore_policy():
    before = keras.mixed_precision.global_policy().name
    yield
    keras.mixed_precision.set_global_policy(before)


def test_configure_precision(restore_policy):
    assert training.configure_precision("mixed_bfloat16") == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    expected = "mixed_float16" if training.gpu_count() else "float32"
    assert training.configure_precision("auto") == expected
    assert keras.mixed_precision.global_policy().name == expected
    with pytest.raises(ValueError, match="unknown precision 'half'; valid choices: auto"):
        training.configure_precision("half")
    assert keras.mixed_precision.global_policy().name == expected  # a refused value changes nothing


def test_set_seeds_makes_draws_repeat():
    set_seeds(5)
    first = (np.random.rand(3), np.asarray(keras.random.uniform((3,))))
    set_seeds(5)
    again = (np.random.rand(3), np.asarray(keras.random.uniform((3,))))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    set_seeds(6)
    assert not np.array_equal(np.random.rand(3), first[0])
    assert set_seeds(5, deterministic=False) is False
    assert set_seeds(5) is (training.gpu_count() == 0)


def test_all_layers_includes_nested_models():
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")],
                             name="inner")
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, keras.layers.Dense(2, name="outer_dense")(inner(inputs)))
    names = [layer.name for layer in training._all_layers(outer)]
    assert "inner" in names and "inner_dense" in names and "outer_dense" in names
    assert names.index("inner_dense") == names.index("inner") + 1


def test_same_seed_on_the_same_machine_repeats_bit_for_bit(uninterrupted, tmp_path):
    """What the book promises on "What is repeatable": the same seed, data and code on the same
    machine give the very same weights and history (op determinism on the CPU)."""
    _, reference, _ = uninterrupted
    again = _train(tmp_path / "again")
    pd.testing.assert_frame_equal(again.history, reference.history, check_exact=True)
    for a, b in zip(again.model.get_weights(), reference.model.get_weights()):
        assert np.array_equal(a, b)
