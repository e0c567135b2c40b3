"""Notebook 04: the trained models tested on other datasets (Tables 2 and 3).

The models trained on WEBEmo are tested, without further training, on whole other datasets:
UnbiasedEmo (Table 2) and Emotion-6 (Table 3). Two choices change the numbers and the paper
states neither, so both are parameters and both are stored in every record:

* the class ratio of the test set: F1 scores depend on it. Cornell's Emotion6 is one sixth
  sadness, but the paper's Table 3 F1 columns fit a set about one third sadness. By default the
  whole dataset is used (its natural ratio); ``sadness_fraction`` subsamples one class,
  reproducibly from the seed, to reach a given fraction of sadness images;
* whether images with text are removed, as they were from the training data, with the text
  filter's method (``text_method``: the classifier of notebook 01, the OCR detector, or both;
  :func:`sadutils.experiments.text_methods.score_text`). Default: not removed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import inference, models
from ..config import CLASS_NAMES, OTHERS, SADNESS, check_choice
from ..data.loaders import load_dataset
from ..data.manifests import manifest_hash, sample_per_class
from ..metrics import evaluate_predictions
from ..paper import paper_rows
from ..progress import phase
from ..records import Record, make_run_id
from ..results import seeds_by_row
from ..workspace import Workspace, shown_path
from .common import calibration_metrics, dataset_roots
from .text_methods import removal, resolve_text_method, score_text

#: Cross-dataset test sets and the paper table each one fills.
CROSS_DATASET_TABLES = {"unbiasedemo": "table2", "emotion6": "table3"}
#: Training parameters a cross-dataset record keeps, so that the seeds of one model are grouped.
TRAIN_RECIPE = ("image_size", "epochs", "batch_size", "learning_rate", "optimizer",
                "refresh_batchnorm")
#: Values of ``sadness_fraction`` meaning "the dataset's own class ratio".
NATURAL_RATIO = (None, "natural", "all")


@dataclass
class EvalSet:
    """A cross-dataset test set, and what was left out of it and why.

    Attributes
    ----------
    dataset : str
        ``unbiasedemo`` or ``emotion6``.
    manifest : DataFrame
        The images to test on (columns of the dataset's manifest, plus ``p_text`` when the text
        filter ran), sorted by path.
    rejected : DataFrame
        ``path``, ``reason``: files refused as unusable (unreadable, misplaced).
    excluded : DataFrame
        ``path``, ``label``, ``reason``: readable images deliberately left out (text filter,
        class ratio).
    info : dict
        The settings and the counts at each step (JSON-serialisable).
    """

    dataset: str
    manifest: pd.DataFrame
    rejected: pd.DataFrame
    excluded: pd.DataFrame
    info: dict = field(default_factory=dict)

    @property
    def table(self) -> str:
        return CROSS_DATASET_TABLES[self.dataset]

    def describe(self) -> str:
        """One sentence: the set, its class ratio setting, the text filter, the sadness share."""
        i = self.info
        ratio = ("natural" if i["sadness_fraction"] is None
                 else f"{i['sadness_fraction']:.3f}")
        threshold = (i["text_threshold"] if i.get("text_threshold") is not None
                     else i.get("ocr_threshold"))
        text = (f"on ({i.get('text_method') or 'cnn'}), threshold {threshold:g}"
                if i["text_filter"] else "off")
        return (f"{self.dataset} ({shown_path(i['root'])}): sadness fraction {ratio}, text filter {text}; "
                f"{i['sadness_share']:.1%} of the {i['n_images']} images tested are sadness.")

    def summary(self) -> pd.DataFrame:
        """One line per step: image files found, refused, usable, removed by the text filter,
        left out for the class ratio, and tested, with the sadness/others counts (blank for
        refused files, whose label is not known)."""
        i = self.info

        def by(counts):
            return [str(counts.get(SADNESS, 0)), str(counts.get(OTHERS, 0))]

        rows = [["image files found", i["n_found"], "", ""],
                ["refused (unreadable or misplaced)", i["n_rejected"], "", ""],
                ["usable", i["n_loaded"], *by(i["loaded_by_label"])],
                ["removed: text in image", i["n_text_filtered"], *by(i["text_filtered_by_label"])],
                ["left out for the class ratio", i["n_ratio_excluded"],
                 *by(i["ratio_excluded_by_label"])],
                ["tested", i["n_images"], *by(i["by_label"])]]
        return pd.DataFrame(rows, columns=["step", "images", SADNESS, OTHERS])


def _sadness_fraction(value) -> float | None:
    """``None`` for the natural ratio, else a float strictly between 0 and 1."""
    if isinstance(value, str) and value.strip().lower() in ("natural", "all", "none", ""):
        return None
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"sadness_fraction must be None (natural ratio) or a number between 0 "
                         f"and 1, got {value!r}") from None
    if not 0.0 < f < 1.0:
        raise ValueError(f"sadness_fraction must be strictly between 0 and 1 (or None for the "
                         f"natural ratio), got {value!r}")
    return f


def ratio_counts(n_sadness: int, n_others: int, sadness_fraction: float) -> dict:
    """The largest per-class counts within what is available whose sadness share is
    ``sadness_fraction`` (rounded to whole images): one class is kept whole, the other is
    subsampled. Raises ``ValueError`` when a class is empty or would be."""
    f = _sadness_fraction(sadness_fraction)
    if f is None:
        return {SADNESS: int(n_sadness), OTHERS: int(n_others)}
    if n_sadness < 1 or n_others < 1:
        raise ValueError(f"cannot reach a sadness fraction of {f:g}: {n_sadness} sadness and "
                         f"{n_others} others images available")
    wanted_sad = int(np.floor(n_others * f / (1 - f) + 0.5))
    if wanted_sad <= n_sadness:
        counts = {SADNESS: wanted_sad, OTHERS: int(n_others)}
    else:
        counts = {SADNESS: int(n_sadness),
                  OTHERS: min(int(n_others), int(np.floor(n_sadness * (1 - f) / f + 0.5)))}
    if min(counts.values()) < 1:
        raise ValueError(f"a sadness fraction of {f:g} leaves a class empty with {n_sadness} "
                         f"sadness and {n_others} others images available")
    return counts


def _text_reason(row, text_info: dict) -> str:
    """Why one image was removed as holding text: each score that said so."""
    said = []
    if ("p_text" in row and text_info["threshold"] is not None
            and row["p_text"] >= text_info["threshold"]):
        said.append(f"P(text) {row['p_text']:.3f} >= {text_info['threshold']:g}")
    if ("ocr_score" in row and text_info["ocr_threshold"] is not None
            and row["ocr_score"] >= text_info["ocr_threshold"]):
        said.append(f"OCR score {row['ocr_score']:.3f} >= {text_info['ocr_threshold']:g}")
    return "text in image: " + " and ".join(said)


def _label_counts(manifest: pd.DataFrame) -> dict:
    return {str(k): int(v) for k, v in manifest["label"].value_counts().sort_index().items()}


def build_eval_set(ws: Workspace, dataset: str, root, *, sadness_fraction=None,
                   text_filter: bool = False, text_threshold: float = 0.5,
                   text_method: str | None = None, ocr_threshold: float | None = None,
                   seed: int | None = None, text_model=None, text_batch_size: int = 64,
                   loader_options: dict | None = None, check: bool = True, workers: int = 4,
                   progress: bool = False) -> EvalSet:
    """Load a cross-dataset test set and apply the text filter and the class ratio.

    Parameters
    ----------
    ws : Workspace
        Whose text classifier filters (and whose seed is the default).
    dataset : {"unbiasedemo", "emotion6"}
    root : path
        The dataset's folder, as its loader takes it
        (:func:`sadutils.data.loaders.load_dataset`).
    sadness_fraction : None or float
        ``None`` (also ``"natural"``/``"all"``): every usable image, the dataset's own ratio.
        A number in (0, 1): the largest subset with that share of sadness images; one class is
        kept whole and the other subsampled with ``seed`` (the draw depends only on the seed
        and the set of paths).
    text_filter, text_threshold : bool, float
        Remove images with text, as the training data was filtered: by the workspace's text
        classifier (or ``text_model``) when P(text) is at least ``text_threshold``, by the OCR
        detector when its score is at least ``ocr_threshold``, as ``text_method`` says. Images
        the method cannot read are refused (listed in ``rejected``). Applied before the class
        ratio, so the ratio holds in the final set.
    text_method : {"cnn", "ocr", "both"}, optional
        Default the profile's (:func:`sadutils.experiments.text_methods.resolve_text_method`).
    ocr_threshold : float, optional
        Default :data:`sadutils.text_detection.DEFAULT_THRESHOLD`.
    seed : int, optional
        Seed of the class-ratio draw; default the profile's seed.
    loader_options : dict, optional
        Extra options of the loader (e.g. ``{"layout": "cornell", "label_from": "argmax"}`` for
        Emotion-6).

    Returns
    -------
    EvalSet
        Nothing is dropped silently: refused files are in ``rejected``, deliberately omitted
        ones in ``excluded``, and ``info`` counts each step.
    """
    check_choice("cross-dataset test set", dataset, tuple(CROSS_DATASET_TABLES))
    prof = ws.profile
    fraction = _sadness_fraction(sadness_fraction)
    seed = prof.seed if seed is None else int(seed)
    threshold = float(text_threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"text_threshold must be within 0..1, got {text_threshold}")
    options = dict(loader_options or {})
    loaded = load_dataset(dataset, root, check=check, workers=workers,
                                   progress=progress, **options)
    manifest = loaded.manifest.copy()
    rejected = [loaded.rejected[["path", "reason"]]]
    excluded = []
    n_loaded = len(manifest)

    loaded_by_label = _label_counts(manifest)
    n_text, text_by_label, ratio_by_label = 0, {}, {}
    method = reason = None
    text_info = {"threshold": None, "ocr_threshold": None}
    if text_filter and len(manifest):
        method, reason = resolve_text_method(ws, text_method)
        scored, text_info = score_text(ws, manifest, method, compare=False, threshold=threshold,
                                       ocr_threshold=ocr_threshold, text_model=text_model,
                                       batch_size=text_batch_size, progress=progress)
        for column in ("p_text", "ocr_score"):
            if column in scored.columns:
                manifest[column] = scored[column].to_numpy(dtype=float)
        unreadable = np.zeros(len(manifest), bool)
        for column in ("cnn_text", "ocr_text"):
            if column in scored.columns:
                unreadable |= scored[column].isna().to_numpy()
        rejected.append(pd.DataFrame({"path": manifest.loc[unreadable, "path"],
                                      "reason": f"the text filter ({method}) could not read it"}))
        has_text = ~unreadable & removal(scored, method).to_numpy()
        excluded.append(pd.DataFrame({
            "path": manifest.loc[has_text, "path"], "label": manifest.loc[has_text, "label"],
            "reason": [_text_reason(row, text_info) for _, row in manifest[has_text].iterrows()]}))
        n_text = int(has_text.sum())
        text_by_label = _label_counts(manifest[has_text])
        manifest = manifest[~unreadable & ~has_text]

    n_ratio = 0
    if fraction is not None:
        by_label = manifest["label"].value_counts()
        counts = ratio_counts(int(by_label.get(SADNESS, 0)), int(by_label.get(OTHERS, 0)),
                              fraction)
        chosen = sample_per_class(manifest, counts, seed)
        left = manifest[~manifest.index.isin(chosen.index)]
        excluded.append(pd.DataFrame({
            "path": left["path"], "label": left["label"],
            "reason": f"left out to reach a sadness fraction of {fraction:g}"}))
        n_ratio, ratio_by_label = len(left), _label_counts(left)
        manifest = chosen

    manifest = manifest.sort_values("path", kind="stable").reset_index(drop=True)
    if manifest.empty:
        raise ValueError(f"no {dataset} images left to test on under {root} "
                         f"({n_loaded} loaded, {n_text} removed by the text filter)")
    rejected = (pd.concat(rejected, ignore_index=True).sort_values("path", kind="stable")
                .reset_index(drop=True))
    excluded = (pd.concat(excluded, ignore_index=True) if excluded
                else pd.DataFrame(columns=["path", "label", "reason"]))
    by_label = _label_counts(manifest)
    info = {
        "dataset": dataset, "table": CROSS_DATASET_TABLES[dataset],
        "root": str(loaded.info.get("root", root)), "profile": prof.name,
        "loader_options": options, "layout": loaded.info.get("layout"),
        "sadness_fraction": fraction, "text_filter": bool(text_filter),
        "text_threshold": text_info["threshold"] if text_filter else None,
        "text_method": method, "text_method_reason": reason,
        "ocr_threshold": text_info["ocr_threshold"] if text_filter else None,
        "text_model": None if text_model is None else str(text_model), "seed": seed,
        "n_found": n_loaded + len(loaded.rejected), "n_loaded": n_loaded,
        "n_rejected": len(rejected), "n_text_filtered": n_text, "n_ratio_excluded": n_ratio,
        "n_images": len(manifest), "by_label": by_label, "loaded_by_label": loaded_by_label,
        "text_filtered_by_label": text_by_label, "ratio_excluded_by_label": ratio_by_label,
        "sadness_share": by_label.get(SADNESS, 0) / len(manifest),
        "manifest_hash": manifest_hash(manifest),
    }
    return EvalSet(dataset, manifest, rejected, excluded, info)


@dataclass
class CrossDatasetResult:
    """One trained model tested on one :class:`EvalSet`.

    Attributes
    ----------
    record : Record
    record_path : Path or None
        None when the record was not written.
    predictions : DataFrame
        The images tested, with ``pred`` and ``p_<class>`` columns.
    rejected : DataFrame
        Every refused file: the set's own, and any the model's input could not decode.
    """

    record: Record
    record_path: Path | None
    predictions: pd.DataFrame
    rejected: pd.DataFrame

    @property
    def metrics(self) -> dict:
        return self.record.metrics


def _model_file(ws: Workspace, trained: Record) -> Path:
    path = trained.artifact("model", ws)
    if path is None:
        raise ValueError(f"training record {trained.run_id} names no model file "
                         "(artifacts.model)")
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} of training record {trained.run_id} does "
                                "not exist; train it again (notebook 03_train or 05_no_pretrain)")
    return path


def evaluate_model(ws: Workspace, trained: Record, eval_set: EvalSet, *, batch_size: int = 64,
                   n_boot: int = 1000, seed: int | None = None, notebook=None,
                   write: bool = True, model=None, forward=None, shared: dict | None = None,
                   progress: bool = False) -> CrossDatasetResult:
    """Test the model of a training record on ``eval_set``; record the result.

    Parameters
    ----------
    ws : Workspace
    trained : Record
        A Table 1 training record; its model (``artifacts.model``) is fed at its
        ``params.image_size``.
    eval_set : EvalSet
    batch_size : int
    n_boot : int
        Bootstrap resamples of the intervals.
    seed : int, optional
        Seed of the bootstrap; default the set's.
    notebook : str, optional
    write : bool
        Write the record and, under ``cross_dataset/<run_id>/``, the predictions and the
        refused and left-out files.
    model, forward : optional
        The loaded model of the record and :func:`sadutils.inference.compiled_forward` of it,
        to save loading and tracing it again when one model is tested on several sets.
    shared : dict, optional
        Predictions and metrics already computed for a model file on a set (filled and read
        by this function): records that share a model file (an ablation that reused its
        identical twin, :func:`sadutils.experiments.finetune.reuse_training`) get their own
        record without predicting the same images with the same model again.
    progress : bool

    Returns
    -------
    CrossDatasetResult
        The record goes to Table 2 (UnbiasedEmo) or Table 3 (Emotion-6), in the training
        record's row; the prediction is the most probable class.

    Raises
    ------
    ValueError
        When the model does not predict sadness/others or no image can be decoded.
    FileNotFoundError
        When the model file is gone.
    """
    seed = int(eval_set.info.get("seed", 0) if seed is None else seed)
    model_path = _model_file(ws, trained)
    t0 = time.perf_counter()
    key = (str(model_path.resolve()), id(eval_set), seed, n_boot)
    if shared is not None and key in shared:
        tested, failed, metrics, ci, image_size = shared[key]
    else:
        if model is None:
            model = models.load_model(model_path)
        names = list(model.class_names)
        if sorted(names) != sorted(CLASS_NAMES):
            raise ValueError(f"{model_path} predicts {names}, not {list(CLASS_NAMES)}")
        image_size = int(trained.params.get("image_size") or model.input_shape[1])
        tested, images, failed = inference.decode_manifest(eval_set.manifest, image_size,
                                                           ws.cache, progress=progress)
        if tested.empty:
            raise ValueError(f"none of the {len(eval_set.manifest)} {eval_set.dataset} images "
                             "could be decoded")
        with phase("test predictions", images=len(tested), dataset=eval_set.dataset):
            tested = inference.predict_frame(model, tested, images, batch_size=batch_size,
                                             forward=forward)
        with phase("metrics and bootstrap intervals"):
            metrics, ci = evaluate_predictions(tested["label"], tested["pred"], CLASS_NAMES,
                                               n_boot=n_boot, seed=seed)
            metrics.update(calibration_metrics(tested, CLASS_NAMES[0]))
        if shared is not None:
            shared[key] = (tested, failed, metrics, ci, image_size)
    wall = time.perf_counter() - t0
    rejected = (pd.concat([eval_set.rejected, failed], ignore_index=True)
                .sort_values("path", kind="stable").reset_index(drop=True))
    pretrained = trained.params.get("pretrained", trained.pretrained)
    train_seed = trained.params.get("seed")
    run_id = make_run_id("cross", eval_set.dataset, trained.backbone,
                         None if pretrained is not False else "no-pretrain",
                         None if train_seed is None else f"seed{train_seed}")
    out_dir = ws.cross_dataset_dir(run_id)
    info = eval_set.info
    params = {
        "dataset": eval_set.dataset, "root": info.get("root"),
        "loader_options": info.get("loader_options"),
        "sadness_fraction": info.get("sadness_fraction"),
        "text_filter": info.get("text_filter"), "text_threshold": info.get("text_threshold"),
        "text_method": info.get("text_method"),
        "text_method_reason": info.get("text_method_reason"),
        "ocr_threshold": info.get("ocr_threshold"), "text_model": info.get("text_model"),
        "seed": seed, "batch_size": int(batch_size),
        "image_size": image_size, "backbone": trained.backbone, "pretrained": pretrained,
        "train_run_id": trained.run_id, "train_row": trained.row, "train_seed": train_seed,
        "train_recipe": {k: trained.params.get(k) for k in TRAIN_RECIPE},
        "n_found": info.get("n_found"), "n_rejected": len(rejected),
        "n_text_filtered": info.get("n_text_filtered"),
        "n_ratio_excluded": info.get("n_ratio_excluded"), "n_images": len(tested),
        "by_label": _label_counts(tested),
    }
    record = Record.cross_dataset(
        ws, trained=trained, dataset=eval_set.dataset, table=eval_set.table, metrics=metrics,
        ci95=ci, params=params, seed=seed, manifest_hash=manifest_hash(tested), wall_s=wall,
        artifacts={"model": model_path, "train_record": trained.run_id,
                   "predictions": out_dir / "predictions.csv",
                   "rejected": out_dir / "rejected.csv", "excluded": out_dir / "excluded.csv",
                   "notebook": notebook},
        run_id=run_id)
    record_path = None
    if write:
        out_dir.mkdir(parents=True, exist_ok=True)
        tested.to_csv(out_dir / "predictions.csv", index=False)
        rejected.to_csv(out_dir / "rejected.csv", index=False)
        eval_set.excluded.to_csv(out_dir / "excluded.csv", index=False)
        record_path = record.write(ws)
    return CrossDatasetResult(record, record_path, tested, rejected)


def trained_models(ws: Workspace, include_ablation: bool = True,
                   required: bool = True) -> list[Record]:
    """The training records of each row of Table 1, one per seed: the paper's rows in its
    order, then any other backbone's (for each row, its newest runs of one recipe).

    Parameters
    ----------
    ws : Workspace
    include_ablation : bool
        Include models trained from random weights.
    required : bool
        Make "no record at all" an error saying which notebooks to run first.

    Returns
    -------
    list of Record

    Raises
    ------
    FileNotFoundError
        With ``required`` and no training record.
    """
    groups = seeds_by_row(ws, "table1")
    order = list(paper_rows("table1")) + sorted(set(groups) - set(paper_rows("table1")))
    out = [rec for row in order for rec in groups.get(row, [])
           if rec.kind in ("train", "ablation")
           and (include_ablation or rec.kind != "ablation")]
    if required and not out:
        raise FileNotFoundError(
            f"no trained models for profile {ws.name!r}: no training records in {ws.records}. "
            f"Run notebooks 03_train (and 05_no_pretrain) first, e.g. `sadutils reproduce "
            f"--profile {ws.name}`")
    return out


def run_cross_dataset(ws: Workspace, *, test_sets=("unbiasedemo", "emotion6"),
                      roots: dict | None = None, sadness_fraction=None,
                      text_filter: bool = False, text_threshold: float = 0.5,
                      text_method: str | None = None, ocr_threshold: float | None = None,
                      batch_size: int = 64, include_ablation: bool = True,
                      loader_options: dict | None = None, seed: int | None = None,
                      n_boot: int = 1000, notebook=None, progress: bool = False) -> dict:
    """Test every trained model of a workspace on each cross-dataset test set.

    Parameters
    ----------
    ws : Workspace
    test_sets : sequence of str
    roots : dict, optional
        Dataset name -> folder; missing ones default to the workspace's (the demo data is
        generated there if absent).
    sadness_fraction : None, float or dict
        One value for all sets or one per dataset name (a set not named keeps its natural
        ratio); see :func:`build_eval_set`.
    text_filter, text_threshold, text_method, ocr_threshold
        See :func:`build_eval_set`.
    batch_size : int
    include_ablation : bool
    loader_options : dict, optional
        Per dataset name, e.g. ``{"emotion6": {"layout": "cornell"}}``.
    seed : int, optional
    n_boot : int
    notebook : str, optional
    progress : bool

    Returns
    -------
    dict
        ``{dataset: (EvalSet, [CrossDatasetResult, ...])}``; each result's record is written.

    Raises
    ------
    ValueError
        When ``sadness_fraction`` or ``loader_options`` name an unknown test set.
    """
    trained = trained_models(ws, include_ablation=include_ablation)
    roots = {k: v for k, v in (roots or {}).items() if v is not None}
    if any(name not in roots for name in test_sets):
        defaults = dataset_roots(ws, progress=progress)
        roots = {**{n: defaults[n] for n in test_sets}, **roots}
    for what, value in (("sadness_fraction", sadness_fraction),
                        ("loader_options", loader_options)):
        if isinstance(value, dict) and not set(value) <= set(CROSS_DATASET_TABLES):
            raise ValueError(f"{what} keys must be test set names "
                             f"({', '.join(CROSS_DATASET_TABLES)}), got {sorted(value)}")

    def per_set(value, name):
        return value.get(name) if isinstance(value, dict) else value

    sets = {name: build_eval_set(
        ws, name, roots[name], sadness_fraction=per_set(sadness_fraction, name),
        text_filter=text_filter, text_threshold=text_threshold, text_method=text_method,
        ocr_threshold=ocr_threshold, seed=seed,
        text_batch_size=batch_size, loader_options=(loader_options or {}).get(name),
        progress=progress) for name in test_sets}
    out = {name: (eval_set, []) for name, eval_set in sets.items()}
    shared: dict = {}  # a model file tested once per set, whatever records share it
    loaded: set = set()
    for rec in trained:  # each model loaded (and its forward pass traced) once for all sets
        model = forward = None
        path = _model_file(ws, rec).resolve()
        if path not in loaded:
            with phase("load model"):
                model = models.load_model(path)
            forward = inference.compiled_forward(model)
            loaded.add(path)
        for name, eval_set in sets.items():
            out[name][1].append(evaluate_model(
                ws, rec, eval_set, batch_size=batch_size, n_boot=n_boot, notebook=notebook,
                model=model, forward=forward, shared=shared, progress=progress))
        del model, forward
    return out
