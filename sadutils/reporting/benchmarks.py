"""The benchmark measurements, as the book's *Performance* page shows them.

The scripts in ``benchmarks/`` write one JSON file per benchmark to
``<results root>/benchmarks/<name>.json``: a list of rows, each with its conditions, its own
``created_at`` and a nested ``machine`` object (see ``benchmarks/README.md``). The repository
also ships reference copies of these files in ``benchmarks/reference/``, so that a fresh clone
has numbers to show. This module reads either (this checkout's results win), picks and labels the
columns a page wants, says where and on what machine the rows were measured, and estimates what a
paper-scale run costs at the measured speeds.

The functions return data (``pandas`` tables, lists of lines); :func:`benchmark_markdown` and
:func:`paper_cost_markdown` turn them into the Markdown text the page displays (the tables with
:func:`sadutils.reporting.tables.format_table`).
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import pandas as pd

from .. import backbones
from ..workspace import benchmarks_dir, repo_root
from .tables import format_table

#: The ``machine`` columns (flattened) and conditions that :func:`machine_lines` reports.
MACHINE_COLUMNS = ("created_at", "mode", "machine.cpu", "machine.cpu_count", "machine.cpu_flags",
                   "machine.memory_gb", "machine.gpus", "machine.tensorflow", "machine.keras",
                   "machine.git_commit", "machine.load_avg_at_start", "machine.note")

#: How ``target_met`` values are shown; anything else (no target for that row) shows empty.
TARGET_LABELS = {True: "met", False: "missed"}

#: Train / validation / test fractions of the paper's splits.
PAPER_SPLIT = (0.70, 0.15, 0.15)
#: Images the text classifier is trained on (the two text datasets together).
TEXT_IMAGES = 6627 + 9720
#: WEBEmo images sampled and scored by the text classifier.
WEBEMO_SAMPLE = 18520
#: WEBEmo images kept by the text filter, which every backbone is trained on.
FILTERED_IMAGES = 14901
#: Images of the cross-dataset tests: UnbiasedEmo (about 3,000) and Cornell Emotion6 (1,980).
CROSS_DATASET_IMAGES = 3000 + 1980
#: Images the OCR text detector scores beside the paper's classifier: the WEBEmo sample, the
#: cross-dataset sets (their text filter) and the text classifier's held-out test split.
OCR_IMAGES = WEBEMO_SAMPLE + CROSS_DATASET_IMAGES + round(TEXT_IMAGES * 0.15)
#: The OCR benchmark's row whose speed the estimate uses: WEBEmo-like images, the package's
#: default of two images at a time.
OCR_CASE = ("webemo-like", "2 workers")
#: The cost table's row of the OCR detector.
OCR_ROW = "OCR text detector (beside the classifier)"

#: The hardware kinds :func:`measured_speeds` knows, with the column titles of the cost table.
COST_COLUMNS = {"cpu": "CPU hours", "gpu": "GPU hours"}


class PaperRun(NamedTuple):
    """One training run of the paper profile, as the cost estimate counts its work.

    Attributes
    ----------
    name : str
        The run as the cost table names it.
    backbone : str
        The backbone's registry name, which selects the measured speeds.
    n_images : int
        Images split 70/15/15 into training, validation and test sets.
    extra_inference : int
        Images predicted once after training besides the test set (the WEBEmo sample, for the
        text classifier).
    cross_dataset : int
        Images of the cross-dataset tests.
    """

    name: str
    backbone: str
    n_images: int
    extra_inference: int
    cross_dataset: int


#: Images the text ablation's three extra trainings of one backbone take together: unfiltered
#: (the whole sample), and as the OCR detector and both methods filter it (counted as the
#: paper's filtered set: their real counts are known only after notebook 02 ran); the run with
#: the paper's filter is the Table 1 model, reused.
ABLATION_IMAGES = WEBEMO_SAMPLE + 2 * FILTERED_IMAGES

#: The runs of a paper-scale reproduction (the from-scratch ablation costs as much as Xception;
#: the text ablation trains every backbone three more times).
PAPER_RUNS = (
    PaperRun("text classifier", "efficientnetv2b0", TEXT_IMAGES, WEBEMO_SAMPLE, 0),
    PaperRun("Xception", "xception", FILTERED_IMAGES, 0, CROSS_DATASET_IMAGES),
    PaperRun("Xception from scratch", "xception", FILTERED_IMAGES, 0, CROSS_DATASET_IMAGES),
    PaperRun("EfficientNetV2B0", "efficientnetv2b0", FILTERED_IMAGES, 0, CROSS_DATASET_IMAGES),
    PaperRun("EfficientNetV2B2", "efficientnetv2b2", FILTERED_IMAGES, 0, CROSS_DATASET_IMAGES),
    PaperRun("EfficientNetV2S", "efficientnetv2s", FILTERED_IMAGES, 0, CROSS_DATASET_IMAGES),
    *(PaperRun(f"text ablation, {backbones.get(name).row()} (none, ocr, both)", name,
               ABLATION_IMAGES, 0, 0) for name in backbones.PAPER_BACKBONES),
)


class Speeds(NamedTuple):
    """Measured speeds per backbone on one kind of hardware.

    Attributes
    ----------
    rates : dict
        ``{backbone: (training images/s, inference images/s)}``, for the backbones measured in
        both phases; empty when nothing was measured.
    decode_img_s : float or None
        How fast the pipeline decodes images (CPU measurements only).
    ocr_img_s : float or None
        How fast the OCR text detector scores WEBEmo-like images (:data:`OCR_CASE`).
    sources : list of str
        Where the speeds come from, as :func:`benchmark_table` labels them.
    """

    rates: dict
    decode_img_s: float | None
    sources: list
    ocr_img_s: float | None = None


# ----------------------------------------------------------------------------- reading

def _flatten(data) -> pd.DataFrame:
    """One row per measured configuration, the nested ``machine`` as ``machine.*`` columns."""
    return pd.json_normalize(data if isinstance(data, list) else [data])


def read_benchmarks(results_root=None) -> dict[str, pd.DataFrame]:
    """Every benchmark file of a results root, as flattened tables.

    Parameters
    ----------
    results_root : path, optional
        The results root above the profiles; default ``$SADUTILS_RESULTS`` or
        ``<checkout>/results`` (:func:`sadutils.workspace.results_home`). The files are read from
        its ``benchmarks/`` folder; a missing folder gives an empty result.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``{benchmark name (the file's stem): rows}``, in file-name order. Nested objects become
        dotted columns (``machine.cpu``).

    Warns
    -----
    UserWarning
        For each file that cannot be read or is not a JSON list or object, naming the file; the
        file is skipped, so one broken file does not hide the others.
    """
    out = {}
    for path in sorted(benchmarks_dir(results_root).glob("*.json")):
        try:
            out[path.stem] = _flatten(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            warnings.warn(f"skipping unreadable benchmark file {path}: {exc}", stacklevel=2)
    return out


def reference_benchmark(name: str) -> pd.DataFrame | None:
    """The reference measurement of a benchmark shipped with the repository.

    Parameters
    ----------
    name : str
        The benchmark's name, e.g. ``"inference"``: its file is
        ``<checkout>/benchmarks/reference/<name>.json``.

    Returns
    -------
    pandas.DataFrame or None
        The flattened rows, or None when there is no reference file for ``name``.

    Raises
    ------
    ValueError
        If the reference file is not valid JSON: it is part of the repository, so a broken one
        is a mistake to fix rather than to skip.
    """
    path = repo_root() / "benchmarks" / "reference" / f"{name}.json"
    if not path.is_file():
        return None
    return _flatten(json.loads(path.read_text(encoding="utf-8")))


def benchmark_table(name: str, results_root=None) -> tuple[pd.DataFrame | None, str | None]:
    """A benchmark's rows: this checkout's results when there are any, else the reference.

    Parameters
    ----------
    name : str
        The benchmark's name (the stem of its JSON file).
    results_root : path, optional
        The results root above the profiles (see :func:`read_benchmarks`).

    Returns
    -------
    rows : pandas.DataFrame or None
        The flattened rows, or None when neither a result nor a reference file exists.
    source : str or None
        Where the rows come from, as the page words it ("this checkout's
        `results/benchmarks/<name>.json`" or "reference measurement
        `benchmarks/reference/<name>.json`"); None with no rows.

    Warns
    -----
    UserWarning
        For unreadable result files (see :func:`read_benchmarks`); an unreadable result for
        ``name`` falls back to the reference.
    """
    live = read_benchmarks(results_root)
    if name in live:
        return live[name], f"this checkout's `results/benchmarks/{name}.json`"
    ref = reference_benchmark(name)
    if ref is not None:
        return ref, f"reference measurement `benchmarks/reference/{name}.json`"
    return None, None


# ----------------------------------------------------------------------------- presenting

def machine_lines(df: pd.DataFrame) -> list[str]:
    """Where, when and in which mode the rows of a benchmark were measured, one line each.

    Rows measured in one run share these values, so there is one line per distinct machine,
    mode, commit, load and note; rows merged from several runs (``--backbones``) give several.

    Parameters
    ----------
    df : pandas.DataFrame
        Flattened benchmark rows (:func:`benchmark_table`). Columns of :data:`MACHINE_COLUMNS`
        that are missing show as ``?``.

    Returns
    -------
    list of str
        Lines such as ``2026-11-29 12:04 UTC, quick mode: AMD EPYC × 2 (avx2; 23.5 GB), GPU:
        none; TensorFlow 2.21.0, Keras 3.15.1; commit 5182a406e9; load average at start 2.22,
        3.44, 3.42; note: *shared 2-core CPU*`` (the note only when there is one).
    """
    have = [c for c in MACHINE_COLUMNS if c in df.columns]
    # Rows of one run differ only in created_at by seconds; de-duplicating on everything else
    # keeps one line per run, dated by its first row.
    distinct = df[have].astype(str).drop_duplicates(subset=[c for c in have if c != "created_at"])
    lines = []
    for _, m in distinct.iterrows():
        def get(key, m=m):
            return m.get(key, "?")

        note = get("machine.note")
        lines.append(
            f"{get('created_at')[:16].replace('T', ' ')} UTC, {get('mode')} mode: "
            f"{get('machine.cpu')} × {get('machine.cpu_count')} "
            f"({get('machine.cpu_flags')}; {get('machine.memory_gb')} GB), GPU: "
            f"{get('machine.gpus')}; TensorFlow {get('machine.tensorflow')}, Keras "
            f"{get('machine.keras')}; commit {get('machine.git_commit')}; load average at "
            f"start {get('machine.load_avg_at_start')}"
            # A row without a note has an empty one, or none at all when merged with noted rows.
            + (f"; note: *{note}*" if note not in ("", "nan") else ""))
    return lines


def select_columns(df: pd.DataFrame, columns: Sequence[str], rename: Mapping | None = None,
                   digits: Mapping | None = None) -> pd.DataFrame:
    """The columns of benchmark rows that a page shows, formatted and labelled.

    Parameters
    ----------
    df : pandas.DataFrame
        Flattened benchmark rows.
    columns : sequence of str
        The columns to show, in order; those the rows lack are left out, since older result
        files may predate a column.
    rename : mapping, optional
        ``{column: label}`` for the header; unlisted columns keep their names.
    digits : mapping, optional
        ``{column: format spec}`` (``".3f"``, ``".1e"``) for columns whose values are too small
        for the default two decimals; these columns become text, missing values empty.

    Returns
    -------
    pandas.DataFrame
        A copy with the chosen columns; a ``target_met`` column shows ``met`` / ``missed``, and
        empty where a row has no target.
    """
    cols = [c for c in columns if c in df.columns]
    shown = df[cols].copy()
    for col, spec in (digits or {}).items():
        if col in shown:
            shown[col] = [format(v, spec) if pd.notna(v) else "" for v in shown[col]]
    if "target_met" in cols:
        shown["target_met"] = [TARGET_LABELS.get(v, "") for v in df["target_met"]]
    return shown.rename(columns=dict(rename or {}))


def missing_message(name: str) -> str:
    """What a page says for a benchmark that has neither results nor a reference measurement.

    Parameters
    ----------
    name : str
        The benchmark's name, which is also its script's (``benchmarks/<name>.py``).

    Returns
    -------
    str
        Markdown asking to run the script and build the book again.
    """
    return (f"*Not measured yet:* run `python benchmarks/{name}.py --quick` (or without "
            f"`--quick`) and build the book again.")


def benchmark_markdown(name: str, columns: Sequence[str], rename: Mapping | None = None,
                       digits: Mapping | None = None, missing: str | None = None,
                       results_root=None) -> str:
    """The chosen columns of a benchmark as Markdown, with where and when they were measured.

    Parameters
    ----------
    name : str
        The benchmark's name (see :func:`benchmark_table`).
    columns, rename, digits
        Which columns to show, their labels and the formats of small numbers (see
        :func:`select_columns`).
    missing : str, optional
        Markdown to show when the benchmark has neither results nor a reference measurement;
        default :func:`missing_message`.
    results_root : path, optional
        The results root above the profiles (see :func:`read_benchmarks`).

    Returns
    -------
    str
        ``From <source>.``, the table (:func:`sadutils.reporting.tables.format_table`) and
        one list item per :func:`machine_lines` line; or the ``missing`` text.

    Warns
    -----
    UserWarning
        For unreadable result files (see :func:`read_benchmarks`).
    """
    df, source = benchmark_table(name, results_root)
    if df is None:
        return missing or missing_message(name)
    shown = select_columns(df, columns, rename, digits)
    text = f"From {source}.\n\n" + format_table(shown) + "\n"
    return text + "\n".join(f"- {line}" for line in machine_lines(df)) + "\n"


# ----------------------------------------------------------------------------- paper-scale cost

def measured_speeds(kind: str, results_root=None) -> Speeds:
    """Training and inference speeds per backbone, as measured on the CPU or on a GPU.

    On the CPU these are training through the package's pipeline (``pipeline_overhead``) and
    ``predict_proba`` (``inference``); on a GPU the same two from ``gpu``, falling back to the
    XLA training step and the bare graph forward pass for files older than those columns.

    Parameters
    ----------
    kind : {"cpu", "gpu"}
    results_root : path, optional
        The results root above the profiles (see :func:`benchmark_table`).

    Returns
    -------
    Speeds
        Empty ``rates`` (and no sources) when a needed benchmark was not measured, or, for
        ``"gpu"``, when no row was measured on a GPU.

    Raises
    ------
    ValueError
        For a ``kind`` other than ``"cpu"`` or ``"gpu"``.
    """
    if kind not in COST_COLUMNS:
        raise ValueError(f"kind must be one of {sorted(COST_COLUMNS)}, not {kind!r}")
    decode = ocr = None
    if kind == "cpu":
        train, train_source = benchmark_table("pipeline_overhead", results_root)
        infer, infer_source = benchmark_table("inference", results_root)
        if train is None or infer is None:
            return Speeds({}, None, [])
        train_rates = dict(zip(train["backbone"], train["pipeline_img_s"]))
        infer_rates = dict(zip(infer["backbone"], infer["ours_img_s"]))
        if "decode_img_s" in train:
            decode = float(train["decode_img_s"].median())
        sources = [train_source, infer_source]
        ocr_rows, ocr_source = benchmark_table("ocr", results_root)
        if ocr_rows is not None and {"images", "case", "img_s"} <= set(ocr_rows):
            match = ocr_rows[(ocr_rows["images"] == OCR_CASE[0])
                             & (ocr_rows["case"] == OCR_CASE[1])]["img_s"].dropna()
            if len(match):
                ocr = float(match.median())
                sources.append(ocr_source)
    else:
        df, source = benchmark_table("gpu", results_root)
        # gpu.py falls back to the CPU when it finds no GPU; those rows are no GPU speeds.
        if df is None or "device" not in df or not df["device"].str.contains("GPU").any():
            return Speeds({}, None, [])
        df = df[df["device"].str.contains("GPU")]
        train_col = "train_pipeline_img_s" if "train_pipeline_img_s" in df else "train_on_img_s"
        infer_col = "predict_proba_img_s" if "predict_proba_img_s" in df else "infer_off_img_s"
        train_rates = dict(zip(df["backbone"], df[train_col]))
        infer_rates = dict(zip(df["backbone"], df[infer_col]))
        sources = [source]
    rates = {b: (float(train_rates[b]), float(infer_rates[b]))
             for b in set(train_rates) & set(infer_rates)}
    return Speeds(rates, decode, sources, ocr)


def run_hours(run: PaperRun, rates: Mapping, epochs: int) -> float | None:
    """Hours that one paper-scale run takes at the given speeds.

    Every epoch trains on the training split and predicts the validation split; after training
    the test split, any extra images and the cross-dataset tests are predicted once. Start-up,
    tracing and decoding are not counted.

    Parameters
    ----------
    run : PaperRun
    rates : mapping
        ``{backbone: (training images/s, inference images/s)}`` (:attr:`Speeds.rates`).
    epochs : int
        Training epochs (the paper profile's ``epochs``).

    Returns
    -------
    float or None
        None when the run's backbone was not measured.
    """
    if run.backbone not in rates:
        return None
    train_rate, infer_rate = rates[run.backbone]
    n_train, n_val, n_test = (round(run.n_images * f) for f in PAPER_SPLIT)
    seconds = epochs * n_train / train_rate + epochs * n_val / infer_rate
    seconds += (n_test + run.extra_inference + run.cross_dataset) / infer_rate
    return seconds / 3600


def _total_text(hours: float) -> str:
    return f"{hours:.0f}" if hours >= 10 else f"{hours:.1f}"


def paper_cost_table(epochs: int, speeds: Mapping[str, Speeds]) -> tuple[pd.DataFrame, dict]:
    """Hours of CPU and GPU time that each run of a paper-scale reproduction takes.

    Parameters
    ----------
    epochs : int
        Training epochs (the paper profile's ``epochs``).
    speeds : mapping
        ``{"cpu": Speeds, "gpu": Speeds}`` (:func:`measured_speeds`).

    Returns
    -------
    table : pandas.DataFrame
        One row per run of :data:`PAPER_RUNS` (columns ``run``, ``backbone``, ``CPU hours``,
        ``GPU hours``, as text: two decimals below 10 hours, else whole hours, or
        ``not measured``), the OCR detector scoring :data:`OCR_IMAGES` images, then a total
        row. The totals include decoding the WEBEmo sample and the cross-dataset images once
        and the OCR detector, where measured; a total is ``incomplete`` when some backbone was
        not measured.
    totals : dict
        ``{"CPU hours": hours, "GPU hours": hours}``, each as the total row shows it (rounded),
        or None where the table shows no number.
    """
    rows = []
    for run in PAPER_RUNS:
        row = {"run": run.name, "backbone": run.backbone}
        for kind, title in COST_COLUMNS.items():
            h = run_hours(run, speeds[kind].rates, epochs)
            row[title] = "not measured" if h is None else f"{h:.2f}" if h < 10 else f"{h:.0f}"
        rows.append(row)
    ocr_hours = {kind: OCR_IMAGES / speeds[kind].ocr_img_s / 3600
                 if speeds[kind].ocr_img_s else None for kind in COST_COLUMNS}
    rows.append({"run": OCR_ROW, "backbone": "", **{
        title: "not measured" if ocr_hours[kind] is None else
        f"{ocr_hours[kind]:.2f}" if ocr_hours[kind] < 10 else f"{ocr_hours[kind]:.0f}"
        for kind, title in COST_COLUMNS.items()}})
    summary, totals = {}, {}
    for kind, title in COST_COLUMNS.items():
        rates, decode = speeds[kind].rates, speeds[kind].decode_img_s
        hs = [run_hours(r, rates, epochs) for r in PAPER_RUNS]
        if rates and all(h is not None for h in hs):
            decoding = (WEBEMO_SAMPLE + CROSS_DATASET_IMAGES) / decode / 3600 if decode else 0
            summary[title] = _total_text(sum(hs) + decoding + (ocr_hours[kind] or 0))
            # The sentence under the table quotes the total as the table rounds it.
            totals[title] = float(summary[title])
        else:
            summary[title] = "incomplete" if rates else "not measured"
            totals[title] = None
    rows.append({"run": "**total** (with decoding; OCR where measured)", "backbone": "",
                 **summary})
    return pd.DataFrame(rows), totals


def paper_cost_markdown(epochs: int, results_root=None) -> str:
    """What a paper-scale run costs at the measured speeds, as the page shows it.

    Parameters
    ----------
    epochs : int
        Training epochs (the paper profile's ``epochs``).
    results_root : path, optional
        The results root above the profiles (see :func:`benchmark_table`).

    Returns
    -------
    str
        The table of :func:`paper_cost_table`, a sentence per measured total (hours, and days
        from 10 hours up), and per hardware kind a list item naming the sources and the speeds
        per backbone, or saying that nothing was measured.

    Warns
    -----
    UserWarning
        For unreadable result files (see :func:`read_benchmarks`).
    """
    speeds = {kind: measured_speeds(kind, results_root) for kind in COST_COLUMNS}
    table, totals = paper_cost_table(epochs, speeds)
    text = format_table(table) + "\n"
    for kind, title in COST_COLUMNS.items():
        total = totals[title]
        if total is None:
            continue
        amount = (f"{total:.0f} hours ({total / 24:.1f} days)" if total >= 10
                  else f"{total:.1f} hours")
        text += (f"At these speeds a paper-scale run takes about **{amount} of {kind.upper()} "
                 f"time**.\n\n")
    for kind in COST_COLUMNS:
        rates, sources = speeds[kind].rates, speeds[kind].sources
        name = kind.upper()
        if rates:
            text += (f"- {name} speeds from " + ", ".join(sources)
                     + (" (batch 64, synthetic data; decoding not included)" if kind == "gpu"
                        else "")
                     + "; backbones: "
                     + ", ".join(f"{b} {t:.1f} / {i:.1f} img/s (train / inference)"
                                 for b, (t, i) in sorted(rates.items()))
                     + (f"; OCR detector {speeds[kind].ocr_img_s:.1f} img/s on WEBEmo-like "
                        f"images ({OCR_IMAGES:,} images)" if speeds[kind].ocr_img_s else "")
                     + ".\n")
        else:
            text += (f"- {name}: no measurement yet"
                     + (" (run `python benchmarks/gpu.py` on a GPU machine and copy its "
                        "`gpu.json` into `results/benchmarks/`)." if kind == "gpu" else ".")
                     + "\n")
    return text


def precision_summary(results_root=None) -> str:
    """What the float32 / bfloat16 benchmark found, in one sentence from its rows.

    Parameters
    ----------
    results_root : path, optional

    Returns
    -------
    str
        The speed ratios of training and inference and the agreement of the two precisions,
        with when and on what CPU they were measured; a request to run the benchmark when
        there are no rows.
    """
    rows, source = benchmark_table("precision", results_root)
    if rows is None or rows.empty:
        return missing_message("precision")
    by_phase = rows.set_index("phase")
    first = rows.iloc[0]

    def ratio(phase):
        if phase not in by_phase.index:
            return "not measured"
        change = 100 * (float(by_phase.loc[phase, "bf16_vs_float32"]) - 1)
        return f"{abs(change):.0f}% {'faster' if change >= 0 else 'slower'}"

    return (f"In {source} ({str(first.get('created_at', ''))[:10]}; "
            f"{first.get('machine.cpu', '?')}, flags {first.get('machine.cpu_flags', '?')}; "
            f"{first.get('backbone', '?')}), bfloat16 made inference {ratio('inference')} and "
            f"training {ratio('train')}; the confident head's labels agreed on "
            f"{100 * float(first['confident_head_label_agreement']):.1f}% of the images, with a "
            f"largest probability difference of "
            f"{float(first['confident_head_max_abs_prob_diff']):.2f} and a "
            f"{100 * float(first['feature_rel_error']):.1f}% relative error in the features.")
