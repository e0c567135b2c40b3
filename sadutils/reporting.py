"""Results records, comparison with the paper's tables, and the figures of the book.

Every run of the companion (training, filtering, cross-dataset tests, the ablation) leaves one
JSON *results record* under ``<results root>/<profile>/records/<run_id>.json``; the results root
is :func:`sadutils.config.results_home` (``SADUTILS_RESULTS``). A record says which paper table
and row its metrics belong to, what the metrics are (accuracy stored as a fraction 0..1, F1 per
class and averaged, 95% bootstrap intervals), which weights the model started from, and where
and with what code it ran. :func:`write_record` validates and writes one; :func:`read_records`
reads them back.

:func:`comparison_table` puts the newest record of each paper row beside the paper's published
value (:func:`paper_table`, from ``paper_tables.csv`` shipped next to this module) with the
difference. The paper's "overall F1" is the support-weighted mean of the two per-class F1
scores, ``f1_weighted`` in a record. Accuracy is shown in percent, as in the paper.

Numbers produced under the ``demo`` profile come from synthetic images and say nothing about
the paper; every table this module renders carries the profile it came from.
"""
from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import uuid
import warnings
from datetime import date, datetime, timezone
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from .config import PROFILES, check_choice, repo_root, results_home

PAPER_TABLES_CSV = Path(__file__).with_name("paper_tables.csv")

TABLES = ("table1", "table2", "table3")
TABLE_TITLES = {
    "table1": "Table 1: WEBEmo, text-filtered, held-out test split",
    "table2": "Table 2: cross-dataset test on UnbiasedEmo",
    "table3": "Table 3: cross-dataset test on Emotion-6",
}
KINDS = ("train", "text_classifier", "filter", "cross_dataset", "ablation")
WEIGHT_SOURCES = ("imagenet", "file", "scratch")

#: Paper row name of each backbone (ImageNet-initialised), and of the from-scratch ablation.
BACKBONE_ROWS = {
    "xception": "Xception",
    "efficientnetv2b0": "EfficientNetV2B0",
    "efficientnetv2b2": "EfficientNetV2B2",
    "efficientnetv2s": "EfficientNetV2S",
}
NO_PRETRAIN_ROW = "Xception no-pretrain"
ROWS = tuple(BACKBONE_ROWS.values()) + (NO_PRETRAIN_ROW,)

#: Keys a record must have (``table`` and ``row`` may be null), and those filled in if absent.
REQUIRED_KEYS = ("run_id", "kind", "table", "row", "backbone", "profile", "dataset", "split",
                 "metrics", "weights", "provenance")
OPTIONAL_KEYS = {"ci95": dict, "params": dict, "artifacts": dict}
#: Metrics a record attached to a paper table must carry.
TABLE_METRICS = ("accuracy", "f1_sadness", "f1_others", "f1_weighted")

NOT_RUN = "not run yet"
#: (record metric, paper column, label in the comparison table)
_COMPARED = (
    ("accuracy", "accuracy_pct", "Accuracy %"),
    ("f1_sadness", "f1_sadness", "Sadness F1"),
    ("f1_others", "f1_others", "Others F1"),
    ("f1_weighted", "f1_overall", "Overall F1"),
)
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


# ----------------------------------------------------------------------------- paper tables

def _table_id(table_id) -> str:
    """Accept ``"table1"``, ``"1"``, ``1`` (and ``"Table 1"``); return ``"table1"``."""
    text = str(table_id).strip().lower().replace(" ", "")
    if not text.startswith("table"):
        text = "table" + text
    check_choice("table", text, TABLES)
    return text


def paper_table(table_id) -> pd.DataFrame:
    """The paper's published numbers of one table.

    Columns: ``row`` (model name as printed), ``accuracy_pct`` (percent), ``f1_sadness``,
    ``f1_others``, ``f1_overall`` (the support-weighted F1), in the paper's row order.
    """
    tid = _table_id(table_id)
    df = pd.read_csv(PAPER_TABLES_CSV)
    out = df[df["table"] == tid].drop(columns="table").reset_index(drop=True)
    return out


def row_name(backbone: str, pretrained: bool = True) -> str:
    """The paper row a backbone's record belongs to (``Xception no-pretrain`` for scratch)."""
    check_choice("backbone", backbone, tuple(BACKBONE_ROWS))
    if not pretrained:
        if backbone != "xception":
            raise ValueError("the paper has a no-pretrain row for xception only")
        return NO_PRETRAIN_ROW
    return BACKBONE_ROWS[backbone]


# ----------------------------------------------------------------------------- provenance

def _git(*args: str, cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", "--no-optional-locks", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _version(dist: str) -> str | None:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _gpus() -> list[str] | None:
    """GPU names seen by TensorFlow, only when TensorFlow is already imported (else None)."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    try:
        return [d.name for d in tf.config.list_physical_devices("GPU")]
    except Exception:  # noqa: BLE001 - provenance must never break a run
        return None


def provenance(seed: int | None = None, manifest_hash: str | None = None,
               wall_time_s: float | None = None) -> dict:
    """Where, when and with what a run happened, for the ``provenance`` field of a record.

    The git commit and dirty flag (tracked files only) come from the checkout of this package;
    both are ``None`` outside a git checkout or without git. Versions are read from the
    installed distributions' metadata (nothing heavy is imported). GPUs are listed only if
    TensorFlow is already imported by the caller.
    """
    root = repo_root()
    commit = _git("rev-parse", "HEAD", cwd=root)
    commit = commit.strip() if commit else None
    dirty = None
    if commit:
        status = _git("status", "--porcelain", "--untracked-files=no", cwd=root)
        dirty = None if status is None else bool(status.strip())
    versions = {"python": platform.python_version()}
    for key, dist in (("tensorflow", "tensorflow"), ("keras", "keras"), ("numpy", "numpy"),
                      ("pandas", "pandas"), ("sklearn", "scikit-learn"), ("pillow", "pillow"),
                      ("sadutils", "sadutils")):
        versions[key] = _version(dist)
    hardware = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "gpus": _gpus(),
    }
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "manifest_hash": manifest_hash,
        "versions": versions,
        "hardware": hardware,
        "wall_time_s": None if wall_time_s is None else float(wall_time_s),
    }


def make_run_id(*parts) -> str:
    """A unique, file-safe run id: ``make_run_id("train", "xception", "imagenet")`` gives
    ``train-xception-imagenet-20261129T0420-ab12cd34`` (UTC time and a random suffix)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M")
    words = [re.sub(r"[^A-Za-z0-9.+]+", "_", str(p)).strip("_") for p in parts if p is not None]
    return "-".join([w for w in words if w] + [stamp, uuid.uuid4().hex[:8]])


# ----------------------------------------------------------------------------- records

def to_jsonable(obj):
    """``obj`` with numpy/pandas scalars and arrays, paths, dates, tuples and sets turned into
    plain JSON types; NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [to_jsonable(v) for v in sorted(obj, key=str)]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (pd.Series, pd.Index)):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if obj is pd.NaT:
        return None
    raise TypeError(f"cannot store a {type(obj).__name__} in a results record: {obj!r}")


def validate_record(record: dict) -> dict:
    """Check a record against the schema; return a copy with optional fields filled in.

    Raises ``ValueError`` naming every missing key, or the first wrong value found.
    """
    if not isinstance(record, dict):
        raise ValueError(f"a results record must be a dict, got {type(record).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise ValueError(f"results record is missing required key(s): {', '.join(missing)} "
                         f"(required: {', '.join(REQUIRED_KEYS)})")
    rec = dict(record)
    for key, factory in OPTIONAL_KEYS.items():
        if rec.get(key) is None:
            rec[key] = factory()
    run_id = rec["run_id"]
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise ValueError(f"run_id must be a non-empty string of letters, digits and . _ + -, "
                         f"usable as a file name; got {run_id!r}")
    check_choice("kind", rec["kind"], KINDS)
    check_choice("profile", rec["profile"], PROFILES)
    if rec["table"] is not None:
        check_choice("table", rec["table"], TABLES)
    if rec["row"] is not None:
        check_choice("row", rec["row"], ROWS)
    if (rec["table"] is None) != (rec["row"] is None):
        raise ValueError(f"record {run_id}: 'table' and 'row' must both be set or both be null "
                         f"(got table={rec['table']!r}, row={rec['row']!r})")
    if rec["table"] is not None:
        rows = tuple(paper_table(rec["table"])["row"])
        if rec["row"] not in rows:
            raise ValueError(f"record {run_id}: {rec['table']} has no row {rec['row']!r}; "
                             f"its rows are: {', '.join(rows)}")
    for key in ("metrics", "weights", "provenance", "ci95", "params", "artifacts"):
        if not isinstance(rec[key], dict):
            raise ValueError(f"record {run_id}: '{key}' must be a dict, "
                             f"got {type(rec[key]).__name__}")
    metrics = rec["metrics"]
    needed = TABLE_METRICS if rec["table"] is not None else ("accuracy",)
    missing = [m for m in needed if m not in metrics]
    if missing:
        raise ValueError(f"record {run_id}: metrics is missing key(s): {', '.join(missing)}")
    for name in ("accuracy",) + TABLE_METRICS[1:] + ("f1_macro",):
        value = metrics.get(name)
        if value is None:
            continue
        value = float(value)
        if not 0.0 <= value <= 1.0:
            hint = " (store accuracy as a fraction, not percent)" if name == "accuracy" else ""
            raise ValueError(f"record {run_id}: metrics.{name} must be within 0..1, "
                             f"got {value}{hint}")
    for name, ci in rec["ci95"].items():
        if ci is not None and (not isinstance(ci, (list, tuple, np.ndarray)) or len(ci) != 2):
            raise ValueError(f"record {run_id}: ci95.{name} must be [low, high], got {ci!r}")
    source = rec["weights"].get("source")
    if source is None:
        raise ValueError(f"record {run_id}: weights is missing key(s): source")
    check_choice("weights.source", source, WEIGHT_SOURCES)
    if "created_at" not in rec["provenance"]:
        raise ValueError(f"record {run_id}: provenance is missing key(s): created_at "
                         f"(use sadutils.reporting.provenance())")
    return rec


def records_dir(profile: str, results_root=None) -> Path:
    """``<results root>/<profile>/records``."""
    check_choice("profile", profile, PROFILES)
    root = Path(results_root) if results_root is not None else results_home()
    return root / profile / "records"


def write_record(record: dict, profile: str | None = None, results_root=None, *,
                 overwrite: bool = False) -> Path:
    """Validate ``record`` and write it atomically to ``<root>/<profile>/records/<run_id>.json``.

    ``profile`` defaults to ``record["profile"]`` and must agree with it. Numpy values are
    converted to plain JSON. An existing record with the same run id is an error unless
    ``overwrite``. Returns the path written.
    """
    rec = validate_record(record)
    if profile is not None and profile != rec["profile"]:
        raise ValueError(f"record {rec['run_id']} says profile {rec['profile']!r} "
                         f"but is being written under profile {profile!r}")
    folder = records_dir(rec["profile"], results_root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{rec['run_id']}.json"
    if path.exists() and not overwrite:
        raise FileExistsError(f"a record with run_id {rec['run_id']!r} already exists: {path}")
    text = json.dumps(to_jsonable(rec), indent=2, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{rec['run_id']}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_records(profile: str | None, results_root=None, kind: str | None = None,
                 table=None) -> list[dict]:
    """All records of a profile (``None``: of every profile), oldest first, optionally only
    one ``kind`` and/or one ``table``. Files that are not valid JSON records are skipped with
    a warning naming them."""
    profiles = PROFILES if profile is None else (profile,)
    tid = None if table is None else _table_id(table)
    out = []
    for prof in profiles:
        folder = records_dir(prof, results_root)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                rec = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(rec, dict) or "run_id" not in rec:
                    raise ValueError("not a results record (no run_id)")
            except (OSError, ValueError) as exc:
                warnings.warn(f"skipping unreadable results record {path}: {exc}", stacklevel=2)
                continue
            if kind is not None and rec.get("kind") != kind:
                continue
            if tid is not None and rec.get("table") != tid:
                continue
            out.append(rec)
    out.sort(key=_created_at)
    return out


def _created_at(rec: dict) -> datetime:
    text = (rec.get("provenance") or {}).get("created_at") or rec.get("created_at")
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def available_profiles(results_root=None) -> list[str]:
    """Profiles that have at least one record, ``paper`` first."""
    found = [p for p in PROFILES if any(records_dir(p, results_root).glob("*.json"))]
    return sorted(found, key=lambda p: p != "paper")


# ----------------------------------------------------------------------------- comparison

def latest_records(table_id, profile: str = "demo", results_root=None) -> dict:
    """``{paper row: newest record}`` for one table (rows without a record are absent)."""
    tid = _table_id(table_id)
    best = {}
    for rec in read_records(profile, results_root, table=tid):
        row = rec.get("row")
        if row is None or not isinstance(rec.get("metrics"), dict):
            continue
        if row not in best or _created_at(rec) >= _created_at(best[row]):
            best[row] = rec
    return best


def _fmt_ci(value, ci, scale: float, digits: int) -> str:
    text = f"{value * scale:.{digits}f}"
    if ci is not None and len(ci) == 2 and None not in ci:
        text += f" [{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]"
    return text


def _delta_column(label: str) -> str:
    return "Accuracy Δ (points)" if label.startswith("Accuracy") else f"{label} Δ"


def comparison_table(table_id, profile: str = "demo", results_root=None) -> pd.DataFrame:
    """The paper's numbers of one table beside the newest reproduced record of each row.

    One row per paper row. For each of accuracy (%), sadness F1, others F1 and overall F1
    (support-weighted) there are three columns: the paper's value, the reproduced value with its
    95% CI as text (``"74.1 [70.2, 78.0]"``; ``"not run yet"`` when no record exists) and the
    difference reproduced − paper (percentage points for accuracy; NaN when not run). Then
    ``run_id``, ``weights`` (the record's weights source) and ``profile``.
    """
    tid = _table_id(table_id)
    check_choice("profile", profile, PROFILES)
    paper = paper_table(tid)
    latest = latest_records(tid, profile, results_root)
    rows = []
    for _, prow in paper.iterrows():
        rec = latest.get(prow["row"])
        out = {"Model": prow["row"]}
        for metric, pcol, label in _COMPARED:
            scale, digits = (100.0, 1) if metric == "accuracy" else (1.0, 2)
            paper_value = float(prow[pcol])
            value = None if rec is None else rec["metrics"].get(metric)
            delta = _delta_column(label)
            out[f"{label} paper"] = paper_value
            if value is None:
                out[f"{label} reproduced [95% CI]"] = NOT_RUN
                out[delta] = float("nan")
            else:
                ci = (rec.get("ci95") or {}).get(metric)
                out[f"{label} reproduced [95% CI]"] = _fmt_ci(float(value), ci, scale, digits)
                out[delta] = float(value) * scale - paper_value
        out["run_id"] = "" if rec is None else rec["run_id"]
        out["weights"] = "" if rec is None else (rec.get("weights") or {}).get("source", "")
        out["profile"] = profile
        rows.append(out)
    return pd.DataFrame(rows)


def _cell(column: str, value) -> str:
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return ""
        if "Δ" in column:
            return f"{value:+.2f}" if column.startswith("Accuracy") else f"{value:+.3f}"
        return f"{value:.2f}"
    return "" if value is None else str(value)


def format_table(df: pd.DataFrame, fmt: str = "markdown") -> str:
    """Render a table as GitHub-style Markdown or CSV text.

    Floats get two decimals; differences are signed, with one more decimal for F1 so that
    they are not rounded twice. NaN shows as an empty cell. No extra dependency: the Markdown is written here.
    """
    check_choice("fmt", fmt, ("markdown", "csv"))
    cols = [str(c) for c in df.columns]
    body = [[_cell(c, v) for c, v in zip(cols, row)] for row in df.itertuples(index=False)]
    if fmt == "csv":
        return pd.DataFrame(body, columns=cols).to_csv(index=False)

    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    lines = ["| " + " | ".join(esc(c) for c in cols) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def profile_note(profile: str) -> str:
    """One line saying where the reproduced numbers of a profile come from."""
    check_choice("profile", profile, PROFILES)
    if profile == "demo":
        return ("Reproduced numbers: DEMO profile, trained and tested on small synthetic images; "
                "they check that the pipeline runs and are not the paper's numbers or a "
                "reproduction of them.")
    return ("Reproduced numbers: PAPER profile, trained and tested on the real datasets "
            "with the paper's settings.")


def tables_text(profile: str = "demo", fmt: str = "markdown", results_root=None,
                drop=("run_id", "weights", "profile")) -> str:
    """Tables 1–3 (paper vs. reproduced), each headed with its title and the profile note.

    ``drop`` removes bookkeeping columns (pass ``()`` to keep them).
    """
    check_choice("fmt", fmt, ("markdown", "csv"))
    parts = []
    for tid in TABLES:
        df = comparison_table(tid, profile, results_root).drop(columns=list(drop))
        if fmt == "markdown":
            parts.append(f"### {TABLE_TITLES[tid]}\n\n{profile_note(profile)}\n\n"
                         + format_table(df, "markdown"))
        else:
            parts.append(f"# {TABLE_TITLES[tid]}\n# {profile_note(profile)}\n"
                         + format_table(df, "csv"))
    return "\n".join(parts)


def records_table(profile: str | None = None, results_root=None, table=None) -> pd.DataFrame:
    """One line per record: run id, profile, kind, table, row, weights, commit, created_at."""
    rows = []
    for rec in read_records(profile, results_root, table=table):
        prov = rec.get("provenance") or {}
        weights = rec.get("weights") or {}
        commit = prov.get("git_commit")
        if commit:
            commit = commit[:10] + ("+dirty" if prov.get("git_dirty") else "")
        rows.append({
            "run_id": rec.get("run_id"), "profile": rec.get("profile"), "kind": rec.get("kind"),
            "table": rec.get("table") or "", "row": rec.get("row") or "",
            "weights": weights.get("source", ""), "weights note": weights.get("note") or "",
            "commit": commit or "unknown", "created_at": prov.get("created_at", ""),
            "notebook": (rec.get("artifacts") or {}).get("notebook") or "",
        })
    cols = ["run_id", "profile", "kind", "table", "row", "weights", "weights note", "commit",
            "created_at", "notebook"]
    return pd.DataFrame(rows, columns=cols)


def read_benchmarks(results_root=None) -> list[tuple[Path, pd.DataFrame]]:
    """``(path, flattened table)`` for each ``<results root>/benchmarks/*.json``; unreadable
    files are skipped with a warning naming them."""
    root = Path(results_root) if results_root is not None else results_home()
    out = []
    for path in sorted((root / "benchmarks").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            df = pd.json_normalize(data if isinstance(data, list) else [data])
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            warnings.warn(f"skipping unreadable benchmark file {path}: {exc}", stacklevel=2)
            continue
        out.append((path, df))
    return out


# ----------------------------------------------------------------------------- figures

def _figure(nrows: int = 1, ncols: int = 1, size=(6.4, 4.8)):
    from matplotlib.figure import Figure

    class NotebookFigure(Figure):
        """A Figure that Jupyter shows as a PNG even when pyplot was never imported (we avoid
        pyplot's global state, and with it the inline backend's display hook)."""

        def _repr_png_(self):
            import io
            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=100)
            return buf.getvalue()

    fig = NotebookFigure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def plot_metric_bars(table_id, profile: str = "demo", results_root=None):
    """Per-row bars of accuracy and the three F1 scores: the paper's value beside the newest
    reproduced value with its 95% CI as an error bar. Returns a matplotlib Figure."""
    tid = _table_id(table_id)
    paper = paper_table(tid)
    latest = latest_records(tid, profile, results_root)
    fig, axes = _figure(1, len(_COMPARED), size=(3.2 * len(_COMPARED), 3.8))
    x = np.arange(len(paper))
    width = 0.38
    for ax, (metric, pcol, label) in zip(axes[0], _COMPARED):
        scale = 100.0 if metric == "accuracy" else 1.0
        ax.bar(x - width / 2, paper[pcol], width, label="paper", color="0.7", edgecolor="0.3")
        vals, err = [], [[], []]  # bar heights; distances down/up to the CI ends
        for i, row in enumerate(paper["row"]):
            rec = latest.get(row)
            value = None if rec is None else rec["metrics"].get(metric)
            ci = None if rec is None else (rec.get("ci95") or {}).get(metric)
            if value is None:
                ax.text(x[i] + width / 2, 0, "not run", rotation=90, ha="center", va="bottom",
                        fontsize=7, color="0.4")
            value = np.nan if value is None else float(value) * scale
            vals.append(value)
            has_ci = value == value and ci is not None and None not in ci
            err[0].append(max(value - ci[0] * scale, 0.0) if has_ci else 0.0)
            err[1].append(max(ci[1] * scale - value, 0.0) if has_ci else 0.0)
        ax.bar(x + width / 2, vals, width, yerr=err, capsize=3, label=f"reproduced ({profile})",
               color="tab:blue")
        ax.set_title(label)
        ax.set_xticks(x, [r.replace(" no-pretrain", "\nno-pretrain") for r in paper["row"]],
                      rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 100 if metric == "accuracy" else 1)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
    fig.suptitle(f"{TABLE_TITLES[tid]} (reproduced: {profile} profile)", fontsize=10)
    return fig


def plot_confusion(record: dict, normalize: bool = False):
    """Heat map of a record's confusion matrix (rows: true label, columns: predicted)."""
    import seaborn as sns
    metrics = record.get("metrics") or {}
    cm = np.asarray(metrics.get("confusion_matrix"), dtype=float)
    if cm.ndim != 2 or cm.size == 0:
        raise ValueError(f"record {record.get('run_id')} has no confusion_matrix")
    labels = metrics.get("labels") or [str(i) for i in range(cm.shape[0])]
    data, fmt = cm, ".0f"
    if normalize:
        data = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
        fmt = ".2f"
    fig, axes = _figure(size=(4.2, 3.6))
    sns.heatmap(data, annot=True, fmt=fmt, cmap="Blues", cbar=False, square=True,
                xticklabels=labels, yticklabels=labels, ax=axes[0][0])
    axes[0][0].set_xlabel("predicted")
    axes[0][0].set_ylabel("true")
    axes[0][0].set_title(f"{record.get('row') or record.get('backbone')} "
                         f"({record.get('dataset')}, {record.get('profile')})", fontsize=9)
    return fig


def plot_history(history_csv):
    """Training curves from a Keras ``CSVLogger`` file (or a DataFrame): one panel per metric,
    training and validation together. Returns a matplotlib Figure."""
    from matplotlib.ticker import MaxNLocator

    df = history_csv if isinstance(history_csv, pd.DataFrame) else pd.read_csv(history_csv)
    epoch = df["epoch"] + 1 if "epoch" in df else pd.Series(np.arange(1, len(df) + 1))
    names = [c for c in df.columns if c != "epoch" and not c.startswith("val_")
             and c not in ("lr", "learning_rate")]
    if not names:
        raise ValueError("history has no metric columns")
    fig, axes = _figure(1, len(names), size=(3.6 * len(names), 3.2))
    for ax, name in zip(axes[0], names):
        ax.plot(epoch, df[name], marker="o", label="train")
        if f"val_{name}" in df:
            ax.plot(epoch, df[f"val_{name}"], marker="o", label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    return fig


def plot_examples(frame: pd.DataFrame, by: str = "label", n: int = 6, score: str | None = None,
                  seed: int = 0, size: int = 96):
    """A grid of images from ``frame`` (a manifest): one row per value of ``by``, up to ``n``
    images each (a seeded draw), titled with ``score`` when given. Returns a Figure."""
    from PIL import Image

    groups = [(key, rows) for key, rows in frame.groupby(by, sort=True)] if len(frame) else []
    if not groups:
        fig, axes = _figure(1, 1, size=(4, 1))
        ax = axes[0, 0]
        ax.axis("off")
        ax.text(0.5, 0.5, "no images", ha="center", va="center")
        return fig
    fig, axes = _figure(len(groups), n, size=(1.6 * n, 1.8 * len(groups)))
    axes = np.asarray(axes).reshape(len(groups), n)
    for r, (key, rows) in enumerate(groups):
        pick = rows.sample(min(n, len(rows)), random_state=seed) if len(rows) > n else rows
        for c in range(n):
            ax = axes[r, c]
            ax.axis("off")
            if c >= len(pick):
                continue
            row = pick.iloc[c]
            try:
                with Image.open(row["path"]) as im:
                    ax.imshow(im.convert("RGB").resize((size, size)))
            except OSError:
                ax.text(0.5, 0.5, "unreadable", ha="center", va="center", fontsize=7)
            title = str(key) if c == 0 else ""
            if score is not None and score in row:
                title = f"{title} {score}={row[score]:.2f}".strip()
            ax.set_title(title, fontsize=7)
    return fig
