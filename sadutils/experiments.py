"""The paper's experiments, one function per step, each leaving a results record behind.

The notebooks are thin: each calls one of these functions and shows what it returns.

* :func:`train_text_classifier` (notebook 01): EfficientNetV2B0 telling images with text
  (COCO-Text) from images without (RGP).
* :func:`filter_webemo` (notebook 02): the WEBEmo sample, scored by that classifier; images
  likely to contain text are dropped and the rest saved as the *filtered manifest*.
* :func:`train_backbone` (notebooks 03 and 05): one backbone fine-tuned (or trained from
  scratch) on the filtered manifest's fixed 70/15/15 split; Table 1.

Everything a run makes goes under ``<results root>/<profile>/``::

    records/<run_id>.json        one results record per run (sadutils.reporting)
    models/<name>.keras          the trained models (+ .classes.txt)
    runs/<name>/                 history.csv, best.weights.h5, backup/ while unfinished
    manifests/                   webemo_sample.csv, webemo_scored.csv, webemo_filtered.csv,
                                 webemo_split.csv
    cache/                       decoded images (uint8 .npy), safe to delete
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import config, datasets, evaluation, models, reporting, training

TEXT_MODEL_NAME = "text_classifier"
#: The paper's filtering outcome, per binary class: (before, after).
PAPER_FILTER_COUNTS = {config.SADNESS: (8549, 6697), config.OTHERS: (9971, 8204)}
#: The paper's text classifier accuracy on its held-out images.
PAPER_TEXT_ACCURACY = 0.9931


# ============================================================================================
# Where things are
# ============================================================================================

@dataclass(frozen=True)
class RunPaths:
    """The folders of one profile's results (created on first use)."""

    root: Path

    @property
    def records(self) -> Path:
        return self.root / "records"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def filtered_manifest(self) -> Path:
        return self.manifests / "webemo_filtered.csv"

    @property
    def split_manifest(self) -> Path:
        return self.manifests / "webemo_split.csv"

    @property
    def text_model(self) -> Path:
        return self.models / f"{TEXT_MODEL_NAME}.keras"

    def model(self, backbone: str, pretrained: bool = True) -> Path:
        return self.models / f"{backbone}{'' if pretrained else '-no-pretrain'}.keras"


def run_paths(profile: str = "demo", results_root=None) -> RunPaths:
    """The results folders of ``profile`` under ``results_root`` (default ``results/``)."""
    prof = config.get_profile(profile)
    root = Path(results_root) if results_root is not None else config.results_home()
    return RunPaths(root / prof.name)


def data_roots(profile: str = "demo", data_root=None, progress: bool = False) -> dict[str, Path]:
    """The root folder of each dataset for ``profile``.

    Demo: the generated demo data (made on first use, then reused). Paper: the real datasets
    under ``data_root`` (default ``data/paper``), one folder per dataset named as in
    :data:`sadutils.config.DATASETS` — the layouts are in the README and in DATASETS.md.
    """
    prof = config.get_profile(profile)
    root = Path(data_root) if data_root is not None else prof.data_root()
    if prof.name == "demo":
        from .pipeline import ensure_demo_data

        return ensure_demo_data(root, seed=prof.seed, progress=progress)
    return {name: root / name for name in config.DATASETS}


# ============================================================================================
# The common recipe: decode, split, train, evaluate, record
# ============================================================================================

@dataclass
class RunResult:
    """What a training run returns to its notebook."""

    record: dict
    record_path: Path
    model_path: Path
    history: pd.DataFrame
    #: The test split with ``pred`` and one ``p_<class>`` column per class.
    test: pd.DataFrame
    #: Files that could not be decoded (path, reason): left out, never silently.
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["path", "reason"]))

    @property
    def metrics(self) -> dict:
        return self.record["metrics"]


def decode_manifest(manifest: pd.DataFrame, image_size: int, cache_dir, progress: bool = False):
    """Decode every image of ``manifest`` (cached); drop the unreadable ones and list them.

    Returns ``(manifest_kept, images, rejected)`` with ``images[i]`` the pixels of row ``i`` of
    ``manifest_kept`` (index reset).
    """
    images, failed = training.cached_images(manifest["path"].tolist(), image_size, cache_dir,
                                            progress=progress)
    rejected = pd.DataFrame(failed, columns=["path", "reason"])
    keep = ~manifest["path"].astype(str).isin(set(rejected["path"])).to_numpy()
    if keep.all():
        return manifest.reset_index(drop=True), images, rejected
    return manifest[keep].reset_index(drop=True), np.asarray(images)[keep], rejected


def predict_frame(model, frame: pd.DataFrame, images, batch_size: int = 64,
                  forward=None) -> pd.DataFrame:
    """``frame`` (index reset) with the model's label ``pred`` and a ``p_<class>`` column per
    class, ``images[i]`` being the pixels of row ``i`` (batched, compiled inference)."""
    names = list(model.class_names)
    proba = training.predict_proba(model, images, batch_size=batch_size, forward=forward)
    out = frame.reset_index(drop=True)
    out["pred"] = [names[i] for i in proba.argmax(axis=1)]
    for i, name in enumerate(names):
        out[f"p_{name}"] = proba[:, i]
    return out


def _settings(profile: str, **overrides) -> dict:
    """The profile's settings with the caller's non-None overrides applied."""
    prof = config.get_profile(profile)
    out = dict(image_size=prof.image_size, epochs=prof.epochs, batch_size=prof.batch_size,
               learning_rate=prof.learning_rate, optimizer=prof.optimizer, seed=prof.seed,
               refresh_batchnorm=prof.refresh_batchnorm)
    out.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("image_size", "epochs", "batch_size", "seed"):
        out[key] = int(out[key])
        if out[key] < (0 if key == "seed" else 1):
            raise ValueError(f"{key} must be a positive integer, got {out[key]}")
    return out


def fit_and_evaluate(manifest: pd.DataFrame, *, class_names, backbone: str, weights,
                     run_name: str, model_path: Path, paths: RunPaths, settings: dict,
                     resume: bool = True, progress: bool = False, verbose: int = 2):
    """Train ``backbone`` on the ``split`` column of ``manifest`` and evaluate on its test part.

    ``weights`` is a :class:`sadutils.models.WeightsChoice`. Returns
    ``(train_result, test_frame, metrics, ci95, rejected, manifest_kept)``. Rows are put in
    :func:`sadutils.datasets.row_keys` order first, so the batches (and the results) do not
    depend on where the data lives or on the manifest's row order.
    """
    manifest = datasets.in_key_order(manifest).reset_index(drop=True)
    manifest, images, rejected = decode_manifest(manifest, settings["image_size"], paths.cache,
                                                 progress=progress)
    names = list(class_names)
    y = manifest["label"].map(names.index).to_numpy()
    part = {s: np.flatnonzero(manifest["split"].to_numpy() == s) for s in ("train", "val", "test")}
    for s, idx in part.items():
        if len(idx) == 0:
            raise ValueError(f"the {s} split of {run_name} is empty ({len(manifest)} images); "
                             "more images are needed")
    training.set_seeds(settings["seed"])

    def build():
        return models.build_model(backbone, settings["image_size"], weights.weights,
                                  class_names=names)

    result = training.train_model(
        build, images[part["train"]], y[part["train"]], images[part["val"]], y[part["val"]],
        paths.runs / run_name, epochs=settings["epochs"], batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"], optimizer=settings["optimizer"],
        seed=settings["seed"], resume=resume,
        refresh_batchnorm=settings["refresh_batchnorm"],
        verbose=verbose)
    models.save_model(result.model, model_path)
    test = predict_frame(result.model, manifest.iloc[part["test"]], images[part["test"]],
                         batch_size=max(settings["batch_size"], 64))
    metrics, ci = evaluation.evaluate_predictions(test["label"], test["pred"], names,
                                                  seed=settings["seed"])
    test.to_csv(_predictions_artifact(paths, run_name), index=False)
    return result, test, metrics, ci, rejected, manifest


def _record(*, kind, table, row, backbone, profile, dataset, split, metrics, ci, settings,
            extra_params, weights, provenance_seed, manifest_hash, wall, artifacts,
            run_parts) -> dict:
    params = {k: settings[k] for k in ("image_size", "epochs", "batch_size", "learning_rate",
                                       "optimizer", "seed", "refresh_batchnorm")}
    params.update(extra_params)
    return {
        "run_id": reporting.make_run_id(*run_parts),
        "kind": kind, "table": table, "row": row, "backbone": backbone, "profile": profile,
        "dataset": dataset, "split": split, "metrics": metrics, "ci95": ci, "params": params,
        "weights": {"source": weights.source, "pretrained": weights.pretrained,
                    "note": weights.note},
        "provenance": reporting.provenance(provenance_seed, manifest_hash, wall),
        "artifacts": {k: str(v) for k, v in artifacts.items() if v is not None},
    }


def _history_artifact(paths: RunPaths, run_name: str) -> Path:
    return paths.runs / run_name / "history.csv"


def _predictions_artifact(paths: RunPaths, run_name: str) -> Path:
    """The test split with each image's predicted label and class probabilities."""
    return paths.runs / run_name / "test_predictions.csv"


# ============================================================================================
# Notebook 01: the text-in-image classifier
# ============================================================================================

def text_classifier_manifest(roots: dict, seed: int, max_per_class: int | None = None,
                             split=(0.70, 0.15, 0.15), progress: bool = False):
    """COCO-Text images with legible text (``text``) and RGP photos (``no_text``), split.

    Returns ``(manifest with a split column, rejected files)``. ``max_per_class`` caps each
    class by a seeded draw (COCO-Text has far more text images than RGP has photos).
    """
    coco = datasets.load_cocotext(roots["cocotext"], progress=progress)
    rgp = datasets.load_rgp(roots["rgp"], progress=progress)
    manifest = pd.concat([coco.manifest, rgp.manifest], ignore_index=True)
    if max_per_class:
        counts = {label: min(int(max_per_class), int(n))
                  for label, n in manifest["label"].value_counts().items()}
        manifest = datasets.sample_per_class(manifest, counts, seed).reset_index(drop=True)
    manifest["split"] = datasets.stratified_split(manifest, split, seed)
    rejected = pd.concat([coco.rejected, rgp.rejected], ignore_index=True)
    return manifest, rejected


def train_text_classifier(profile: str = "demo", *, epochs=None, batch_size=None,
                          image_size=None, seed=None, learning_rate=None, optimizer=None, pretrained: bool = True, weights=None,
                          max_per_class: int | None = None, data_root=None, results_root=None,
                          resume: bool = True, notebook: str | None = None,
                          progress: bool = False, verbose: int = 2) -> RunResult:
    """Train the EfficientNetV2B0 text / no-text classifier (notebook 01) and record it.

    The recipe is the one of :func:`train_backbone` (the paper trains both the same way); the
    held-out accuracy is comparable to the paper's 99.31% only under the paper profile.
    """
    prof = config.get_profile(profile)
    settings = _settings(profile, epochs=epochs, batch_size=batch_size, image_size=image_size,
                         seed=seed, learning_rate=learning_rate, optimizer=optimizer)
    paths = run_paths(profile, results_root)
    roots = data_roots(profile, data_root, progress=progress)
    manifest, load_rejected = text_classifier_manifest(roots, settings["seed"], max_per_class,
                                                       prof.split, progress)
    backbone = "efficientnetv2b0"
    choice = models.resolve_weights(backbone, pretrained, weights, policy=prof.weights_policy)
    run_name = TEXT_MODEL_NAME
    t0 = time.perf_counter()
    result, test, metrics, ci, rejected, kept = fit_and_evaluate(
        manifest, class_names=config.TEXT_CLASS_NAMES, backbone=backbone, weights=choice,
        run_name=run_name, model_path=paths.text_model, paths=paths, settings=settings,
        resume=resume, progress=progress, verbose=verbose)
    wall = time.perf_counter() - t0
    rejected = pd.concat([load_rejected, rejected], ignore_index=True)
    record = _record(
        kind="text_classifier", table=None, row=None, backbone=backbone, profile=prof.name,
        dataset="cocotext+rgp", split="test", metrics=metrics, ci=ci, settings=settings,
        extra_params={"pretrained": pretrained, "max_per_class": max_per_class,
                      "n_train": int((kept["split"] == "train").sum()),
                      "n_val": int((kept["split"] == "val").sum()),
                      "n_test": len(test), "n_rejected": len(rejected),
                      "best_epoch": result.best_epoch,
                      "resumed_from_epoch": result.resumed_from_epoch,
                      "precision": result.precision, "replicas": result.n_replicas,
                      "paper_accuracy": PAPER_TEXT_ACCURACY},
        weights=choice, provenance_seed=settings["seed"],
        manifest_hash=datasets.manifest_hash(kept), wall=wall,
        artifacts={"model": paths.text_model, "history": _history_artifact(paths, run_name),
                   "predictions": _predictions_artifact(paths, run_name), "notebook": notebook},
        run_parts=("text_classifier", backbone, choice.source))
    record_path = reporting.write_record(record, results_root=paths.root.parent)
    return RunResult(record, record_path, paths.text_model, result.history, test, rejected)


# ============================================================================================
# Notebook 02: sampling and filtering WEBEmo
# ============================================================================================

def sample_webemo(profile: str = "demo", *, sample=None, seed=None, data_root=None,
                  progress: bool = False):
    """The WEBEmo sample of ``profile`` (paper: 8,549 sadness + 9,971 others), seeded.

    Returns ``(sample manifest, loaded)`` where ``loaded`` is the full
    :class:`sadutils.datasets.Loaded` (its ``info`` has the URL-level counts and its
    ``rejected`` the unreadable downloads).
    """
    prof = config.get_profile(profile)
    roots = data_roots(profile, data_root, progress=progress)
    loaded = datasets.load_webemo(roots["webemo"], progress=progress)
    counts = dict(sample or prof.sample)
    chosen = datasets.sample_per_class(loaded.manifest, counts,
                                       prof.seed if seed is None else int(seed))
    return chosen.reset_index(drop=True), loaded


def text_scores(manifest: pd.DataFrame, profile: str = "demo", model_path=None,
                batch_size: int = 64, results_root=None, progress: bool = False):
    """P(text) of every image of ``manifest`` by the text classifier (batched, compiled).

    Unreadable images get ``NaN`` (the caller decides; :func:`filter_webemo` lists and drops
    them). ``model_path`` defaults to the profile's trained text classifier.
    """
    paths = run_paths(profile, results_root)
    model_path = Path(model_path) if model_path is not None else paths.text_model
    if not model_path.is_file():
        raise FileNotFoundError(
            f"text classifier {model_path} not found: run notebooks/01_text_classifier "
            f"(or `sadutils reproduce --only 01_text_classifier --profile {profile}`) first")
    model = models.load_model(model_path)
    size = int(model.input_shape[1])
    images, failed = training.cached_images(manifest["path"].tolist(), size, paths.cache,
                                            progress=progress)
    proba = training.predict_proba(model, images, batch_size=batch_size)
    scores = proba[:, list(model.class_names).index(config.TEXT)].astype(float)
    bad = {p for p, _ in failed}
    scores[manifest["path"].astype(str).isin(bad).to_numpy()] = np.nan
    return scores


#: The share of the WEBEmo sample the paper's filter removed (1 - 14,901 / 18,520).
PAPER_DISCARD_RATE = 1 - sum(a for _, a in PAPER_FILTER_COUNTS.values()) / sum(
    b for b, _ in PAPER_FILTER_COUNTS.values())
MATCH_PAPER = "match_paper"


def resolve_threshold(scored: pd.DataFrame, threshold) -> float:
    """A number in 0..1, or ``"match_paper"``: the threshold that removes the paper's share.

    ``"match_paper"`` is the demo profile's default. A text classifier trained from scratch for
    a few epochs (the demo, without ImageNet weights) gives uncalibrated probabilities, and a
    fixed 0.5 may then keep everything or nothing; matching the paper's discard rate (19.5%)
    keeps the rest of the pipeline meaningful. The record stores the threshold used.
    """
    if threshold == MATCH_PAPER:
        p = scored["p_text"].dropna().astype(float)
        if p.empty:
            raise ValueError("no image could be scored for text: nothing to filter")
        return float(np.quantile(p, 1 - PAPER_DISCARD_RATE))
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number within 0..1 or {MATCH_PAPER!r}, "
                         f"got {threshold!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"threshold must be within 0..1 or {MATCH_PAPER!r}, got {threshold}")
    return value


def apply_threshold(scored: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
    """Which rows survive the filter: readable and ``p_text < threshold``."""
    threshold = resolve_threshold(scored, threshold)
    p = scored["p_text"].astype(float)
    return p.notna() & (p < threshold)


def filter_counts(scored: pd.DataFrame, kept: pd.Series, paper: bool = True) -> pd.DataFrame:
    """The before/after table in the paper's shape: one row per class and a total."""
    rows = []
    for label in config.CLASS_NAMES:
        mask = scored["label"] == label
        rows.append({"class": label, "before": int(mask.sum()), "after": int((mask & kept).sum())})
    rows.append({"class": "total", "before": sum(r["before"] for r in rows),
                 "after": sum(r["after"] for r in rows)})
    table = pd.DataFrame(rows)
    table["removed"] = table["before"] - table["after"]
    table["kept %"] = (100 * table["after"] / table["before"].where(table["before"] > 0)).round(1)
    if paper:
        before = [PAPER_FILTER_COUNTS[c][0] for c in config.CLASS_NAMES]
        after = [PAPER_FILTER_COUNTS[c][1] for c in config.CLASS_NAMES]
        table["paper before"] = before + [sum(before)]
        table["paper after"] = after + [sum(after)]
        table["paper kept %"] = (100 * table["paper after"] / table["paper before"]).round(1)
    return table


@dataclass
class FilterResult:
    scored: pd.DataFrame        # the sample with p_text and kept
    counts: pd.DataFrame        # before/after per class (filter_counts)
    filtered_path: Path         # the manifest notebook 03 trains on
    record: dict
    record_path: Path
    rejected: pd.DataFrame
    threshold: float            # the threshold applied (resolved from "match_paper")

    @property
    def discarded(self) -> pd.DataFrame:
        return self.scored[~self.scored["kept"]]


def filter_webemo(profile: str = "demo", *, threshold=None, sample=None, seed=None,
                  batch_size: int = 64, data_root=None, results_root=None,
                  text_model=None, notebook: str | None = None,
                  progress: bool = False) -> FilterResult:
    """Sample WEBEmo, score every image for text, keep those below ``threshold`` (notebook 02).

    Writes ``manifests/webemo_scored.csv`` (every sampled image with ``p_text`` and ``kept``)
    and ``manifests/webemo_filtered.csv`` (the kept rows: what notebook 03 trains on), removes a
    split made from an older filtered manifest, and records the counts. ``threshold`` defaults
    to the profile's (paper 0.5; demo ``"match_paper"``, see :func:`resolve_threshold`).
    """
    prof = config.get_profile(profile)
    requested = prof.filter_threshold if threshold is None else threshold
    paths = run_paths(profile, results_root)
    t0 = time.perf_counter()
    chosen, loaded = sample_webemo(profile, sample=sample, seed=seed, data_root=data_root,
                                   progress=progress)
    scored = chosen.copy()
    scored["p_text"] = text_scores(chosen, profile, text_model, batch_size, paths.root.parent,
                                   progress)
    threshold = resolve_threshold(scored, requested)
    scored["kept"] = apply_threshold(scored, threshold)
    unreadable = scored[scored["p_text"].isna()]
    rejected = pd.concat([loaded.rejected,
                          pd.DataFrame({"path": unreadable["path"],
                                        "reason": "could not be decoded for text scoring"})],
                         ignore_index=True)
    counts = filter_counts(scored, scored["kept"], paper=True)
    datasets.save_manifest(scored, paths.manifests / "webemo_scored.csv")
    filtered = scored[scored["kept"]].drop(columns=["kept"]).reset_index(drop=True)
    datasets.save_manifest(filtered, paths.filtered_manifest)
    paths.split_manifest.unlink(missing_ok=True)
    wall = time.perf_counter() - t0
    total = counts.set_index("class")
    text_record = latest_record(profile, "text_classifier", results_root=paths.root.parent)
    record = {
        "run_id": reporting.make_run_id("filter", "webemo", f"t{threshold:g}"),
        "kind": "filter", "table": None, "row": None, "backbone": "efficientnetv2b0",
        "profile": prof.name, "dataset": "webemo", "split": "sample",
        "metrics": {"accuracy": None,
                    "n_before": int(total.loc["total", "before"]),
                    "n_after": int(total.loc["total", "after"]),
                    "counts": counts.to_dict(orient="records")},
        "params": {"threshold": float(threshold), "threshold_requested": requested,
                   "sample": dict(sample or prof.sample),
                   "seed": prof.seed if seed is None else int(seed), "batch_size": batch_size,
                   "text_classifier_run": None if text_record is None else text_record["run_id"],
                   "n_rejected": len(rejected)},
        "weights": {"source": "file", "pretrained": True,
                    "note": f"text classifier {Path(text_model or paths.text_model).name}"},
        "provenance": reporting.provenance(prof.seed, datasets.manifest_hash(filtered), wall),
        "artifacts": {"model": str(text_model or paths.text_model),
                      "filtered_manifest": str(paths.filtered_manifest),
                      "scored_manifest": str(paths.manifests / "webemo_scored.csv"),
                      **({"notebook": notebook} if notebook else {})},
    }
    record_path = reporting.write_record(record, results_root=paths.root.parent)
    return FilterResult(scored, counts, paths.filtered_manifest, record, record_path, rejected,
                        threshold)


def latest_record(profile: str, kind: str, results_root=None, **match) -> dict | None:
    """The newest record of ``kind`` whose params/fields match ``match`` (or None)."""
    found = None
    for rec in reporting.read_records(profile, results_root, kind=kind):
        if all(rec.get(k, rec.get("params", {}).get(k)) == v for k, v in match.items()):
            found = rec
    return found


# ============================================================================================
# Notebooks 03 and 05: the backbones, Table 1
# ============================================================================================

def ensure_filtered_manifest(profile: str = "demo", data_root=None, results_root=None,
                             progress: bool = False, verbose: int = 2) -> Path:
    """The filtered WEBEmo manifest, made first if absent.

    Notebook 02 makes it. If it is missing (say notebook 03 is run alone on a fresh clone), this
    trains the text classifier when that is missing too (as notebook 01 would) and filters with
    the default threshold (as notebook 02 would), printing that it does so.
    """
    paths = run_paths(profile, results_root)
    if paths.filtered_manifest.is_file():
        return paths.filtered_manifest
    print(f"{paths.filtered_manifest} is missing: making it as notebooks 01 and 02 would "
          "(run them yourself to see their reports)")
    if not paths.text_model.is_file():
        train_text_classifier(profile, data_root=data_root, results_root=results_root,
                              progress=progress, verbose=verbose)
    filter_webemo(profile, data_root=data_root, results_root=results_root, progress=progress)
    return paths.filtered_manifest


def training_split(profile: str = "demo", data_root=None, results_root=None, seed=None,
                   progress: bool = False, verbose: int = 2) -> pd.DataFrame:
    """The filtered manifest with its fixed ``split`` column (70/15/15, stratified, seeded).

    Saved once as ``manifests/webemo_split.csv`` and reused by every backbone and notebook; it
    is remade only when the filtered manifest or the seed changed.
    """
    prof = config.get_profile(profile)
    seed = prof.seed if seed is None else int(seed)
    paths = run_paths(profile, results_root)
    filtered = datasets.read_manifest(
        ensure_filtered_manifest(profile, data_root, results_root, progress, verbose))
    key = f"{datasets.manifest_hash(filtered)}-{seed}-{'/'.join(map(str, prof.split))}"
    if paths.split_manifest.is_file():
        saved = datasets.read_manifest(paths.split_manifest)
        if "split_key" in saved and len(saved) and saved["split_key"].iloc[0] == key:
            return saved.drop(columns=["split_key"])
    filtered["split"] = datasets.stratified_split(filtered, prof.split, seed)
    datasets.save_manifest(filtered.assign(split_key=key), paths.split_manifest)
    return datasets.read_manifest(paths.split_manifest).drop(columns=["split_key"])


def train_backbone(backbone: str = "xception", pretrained: bool = True, profile: str = "demo",
                   *, epochs=None, batch_size=None, image_size=None, seed=None,
                   learning_rate=None, optimizer=None, weights=None,
                   data_root=None, results_root=None, resume: bool = True,
                   notebook: str | None = None, progress: bool = False,
                   verbose: int = 2) -> RunResult:
    """Fine-tune ``backbone`` on the filtered WEBEmo split and evaluate it on the test part.

    The paper's recipe: 150x150 RGB (profile ``paper``), Adagrad at 0.001, sparse categorical
    cross-entropy, the best epoch on validation kept. ``pretrained=False`` trains from scratch:
    for Xception that is the paper's ablation (last row of Table 1). The record goes to Table 1;
    its ``weights`` field says whether ImageNet weights were really used (the demo profile falls
    back to scratch when Keras cannot get them).
    """
    config.check_choice("backbone", backbone, config.BACKBONES)
    prof = config.get_profile(profile)
    settings = _settings(profile, epochs=epochs, batch_size=batch_size, image_size=image_size,
                         seed=seed, learning_rate=learning_rate, optimizer=optimizer)
    if settings["image_size"] < models.MIN_SIZE[backbone]:
        raise ValueError(f"{backbone} needs image_size >= {models.MIN_SIZE[backbone]}, "
                         f"got {settings['image_size']}")
    paths = run_paths(profile, results_root)
    choice = models.resolve_weights(backbone, pretrained, weights, policy=prof.weights_policy)
    split = training_split(profile, data_root, results_root, settings["seed"], progress, verbose)
    run_name = f"{backbone}{'' if pretrained else '-no-pretrain'}"
    model_path = paths.model(backbone, pretrained)
    t0 = time.perf_counter()
    result, test, metrics, ci, rejected, kept = fit_and_evaluate(
        split, class_names=config.CLASS_NAMES, backbone=backbone, weights=choice,
        run_name=run_name, model_path=model_path, paths=paths, settings=settings,
        resume=resume, progress=progress, verbose=verbose)
    wall = time.perf_counter() - t0
    in_table = pretrained or backbone == "xception"
    record = _record(
        kind="train" if pretrained else "ablation",
        table="table1" if in_table else None,
        row=reporting.row_name(backbone, pretrained) if in_table else None,
        backbone=backbone, profile=prof.name, dataset="webemo", split="test", metrics=metrics,
        ci=ci, settings=settings,
        extra_params={"backbone": backbone, "pretrained": pretrained,
                      "n_train": int((kept["split"] == "train").sum()),
                      "n_val": int((kept["split"] == "val").sum()), "n_test": len(test),
                      "n_rejected": len(rejected), "best_epoch": result.best_epoch,
                      "resumed_from_epoch": result.resumed_from_epoch,
                      "precision": result.precision, "replicas": result.n_replicas},
        weights=choice, provenance_seed=settings["seed"],
        manifest_hash=datasets.manifest_hash(kept), wall=wall,
        artifacts={"model": model_path, "history": _history_artifact(paths, run_name),
                   "predictions": _predictions_artifact(paths, run_name),
                   "split": paths.split_manifest, "notebook": notebook},
        run_parts=("train", backbone, "pretrained" if pretrained else "no-pretrain",
                   choice.source))
    record_path = reporting.write_record(record, results_root=paths.root.parent)
    return RunResult(record, record_path, model_path, result.history, test, rejected)


def metrics_frame(results: dict) -> pd.DataFrame:
    """Side-by-side metrics of several runs: ``{label: RunResult or record}`` to a table."""
    rows = []
    for label, res in results.items():
        rec = res.record if isinstance(res, RunResult) else res
        m = rec["metrics"]
        rows.append({"run": label, "weights": rec["weights"]["source"],
                     "accuracy %": round(100 * m["accuracy"], 2),
                     **{k: round(m[k], 3) for k in ("f1_sadness", "f1_others", "f1_weighted",
                                                    "f1_macro")},
                     "best epoch": rec["params"].get("best_epoch"), "run_id": rec["run_id"]})
    return pd.DataFrame(rows)


def pretrained_reference(backbone: str = "xception", profile: str = "demo", *, epochs=None,
                         batch_size=None, image_size=None, learning_rate=None, seed=None,
                         data_root=None, results_root=None, verbose: int = 2) -> dict:
    """The newest ImageNet-requested training record of ``backbone`` with these settings.

    The ablation (notebook 05) compares against it; when notebook 03 has not produced one with
    the same image size, epochs, batch size, learning rate and seed, it is trained now.
    """
    settings = _settings(profile, epochs=epochs, batch_size=batch_size, image_size=image_size,
                         seed=seed, learning_rate=learning_rate)
    match = {k: settings[k] for k in ("image_size", "epochs", "batch_size", "learning_rate",
                                      "seed")}
    rec = latest_record(profile, "train", results_root, backbone=backbone, **match)
    if rec is not None and Path(rec["artifacts"].get("model", "")).is_file():
        return rec
    return train_backbone(backbone, True, profile, data_root=data_root,
                          results_root=results_root, verbose=verbose, **match).record


def text_classifier_summary(run: RunResult) -> pd.DataFrame:
    """The text classifier's held-out metrics beside the paper's accuracy (99.31%)."""
    m = run.record["metrics"]
    ci = run.record.get("ci95", {})
    rows = [{"metric": "accuracy %", "paper": round(100 * PAPER_TEXT_ACCURACY, 2),
             "reproduced": round(100 * m["accuracy"], 2),
             "95% CI": _ci_text(ci.get("accuracy"), 100)}]
    for name in ("f1_text", "f1_no_text", "f1_weighted", "f1_macro"):
        rows.append({"metric": name, "paper": None, "reproduced": round(m[name], 3),
                     "95% CI": _ci_text(ci.get(name), 1)})
    out = pd.DataFrame(rows)
    out["profile"] = run.record["profile"]
    out["weights"] = run.record["weights"]["source"]
    return out


def _ci_text(ci, scale) -> str:
    if not ci:
        return ""
    digits = 2 if scale == 100 else 3
    return f"[{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]"


def threshold_sweep(scored: pd.DataFrame, thresholds=(0.1, 0.3, 0.5, 0.7, 0.9)) -> pd.DataFrame:
    """How many images of each class the filter would keep at other thresholds."""
    rows = []
    for t in sorted(set(thresholds) | {resolve_threshold(scored, MATCH_PAPER)}):
        kept = apply_threshold(scored, t)
        counts = filter_counts(scored, kept, paper=False).set_index("class")
        rows.append({"threshold": round(t, 4), **{f"{c} kept": int(counts.loc[c, "after"])
                                        for c in counts.index},
                     "total kept %": float(counts.loc["total", "kept %"])})
    return pd.DataFrame(rows)
