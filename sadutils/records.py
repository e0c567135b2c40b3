"""Results records: one JSON file per run, one type that checks it on the way out and in.

Every run of the companion (the text classifier, the filtering, each backbone, each
cross-dataset test) leaves a :class:`Record` in the workspace's ``records/`` folder. A record
says which paper table and row its metrics belong to, the metrics (accuracy as a fraction 0..1,
F1 scores, 95% bootstrap intervals), every parameter, the weights the model started from, the
files the run made (relative to the results folder) and its provenance (commit, data, seed,
versions, hardware, wall time).

A record is validated when it is made, when it is written and when it is read: an impossible
one (an accuracy of 5, an interval that is not two numbers within 0..1, an unknown kind) is
refused with its file name and never shown as a number. :func:`read_records` skips such files
with a warning naming each.
"""
from __future__ import annotations

import json
import math
import re
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from .config import PROFILES
from .fileio import write_text
from .paper import TABLES, table_id
from .progress import phase
from .provenance import provenance
from .workspace import Workspace

KINDS = ("text_classifier", "filter", "train", "ablation", "text_ablation", "cross_dataset")
WEIGHT_SOURCES = ("imagenet", "file", "scratch")
#: Metrics a record in one of the paper's tables must carry.
TABLE_METRICS = ("accuracy", "f1_sadness", "f1_others", "f1_weighted")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


class RecordError(ValueError):
    """A results record that is malformed or impossible; the message names its file."""


def make_run_id(*parts) -> str:
    """A unique, file-safe run id.

    Parameters
    ----------
    *parts
        Words describing the run; None is skipped.

    Returns
    -------
    str
        e.g. ``train-xception-imagenet-20261129T0420-ab12cd34`` (UTC minute, random suffix).
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M")
    words = [re.sub(r"[^A-Za-z0-9.+]+", "_", str(p)).strip("_") for p in parts if p is not None]
    return "-".join([w for w in words if w] + [stamp, uuid.uuid4().hex[:8]])


def to_jsonable(obj):
    """``obj`` in plain JSON types.

    Parameters
    ----------
    obj : object
        Dicts, lists, tuples, sets, numpy and pandas scalars and arrays, paths, dates.

    Returns
    -------
    object
        NaN and infinities become None (JSON has none).

    Raises
    ------
    TypeError
        For anything else.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [to_jsonable(v) for v in sorted(obj, key=str)]
    if isinstance(obj, (np.ndarray, pd.Series, pd.Index)):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, PurePath):
        return str(obj)
    if obj is pd.NaT:  # before datetime: NaT is a datetime whose isoformat() is "NaT"
        return None
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    raise TypeError(f"cannot store a {type(obj).__name__} in a results record: {obj!r}")


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _is_rate(name: str) -> bool:
    """Metrics that are fractions 0..1 (accuracy, F1 scores, error rates)."""
    return name == "accuracy" or name.startswith(("f1_", "ece", "brier", "rate_"))


def parse_time(text) -> datetime:
    """An ISO 8601 time as an aware datetime (UTC when it names no zone).

    Raises
    ------
    ValueError
        When ``text`` is not an ISO 8601 time.
    """
    when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Record:
    """One run's results. Construct with :meth:`training`, :meth:`filtering` or
    :meth:`cross_dataset` (or :meth:`from_dict` for a stored one); construction validates.

    Attributes
    ----------
    run_id : str
        Unique, file-safe; the file is ``records/<run_id>.json``.
    kind : str
        One of :data:`KINDS`.
    profile : str
        ``demo`` or ``paper``.
    dataset, split : str
        What was evaluated (``webemo``/``test``, ``emotion6``/``all``, ...).
    metrics : dict
        Accuracy and F1 scores as fractions, ``n``, ``confusion_matrix``, ``labels``, ...
    weights : dict
        ``source`` (one of :data:`WEIGHT_SOURCES`), ``pretrained``, ``note``.
    provenance : dict
        :func:`sadutils.provenance.provenance`.
    params : dict
        Every setting of the run.
    ci95 : dict
        ``metric -> [low, high]``, 95% bootstrap intervals.
    artifacts : dict
        ``name -> path`` of the files the run made, relative to the results folder.
    table, row : str or None
        The table (``table1``...) and row the metrics belong to; None for the others.
    backbone : str or None
    """

    run_id: str
    kind: str
    profile: str
    dataset: str
    split: str
    metrics: dict
    weights: dict
    provenance: dict
    params: dict = field(default_factory=dict)
    ci95: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)
    table: str | None = None
    row: str | None = None
    backbone: str | None = None

    def __post_init__(self):
        problems = self.problems()
        if problems:
            raise RecordError(f"results record {self.run_id!r}: " + "; ".join(problems))

    # ------------------------------------------------------------------ validation
    def problems(self) -> list[str]:
        """Everything wrong with this record (empty when it is valid).

        Returns
        -------
        list of str
        """
        out = []
        if not isinstance(self.run_id, str) or not _RUN_ID.match(self.run_id):
            out.append(f"run_id must be letters, digits and . _ + - (a file name), got "
                       f"{self.run_id!r}")
        if self.kind not in KINDS:
            out.append(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.profile not in PROFILES:
            out.append(f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        for name in ("dataset", "split"):
            if not isinstance(getattr(self, name), str):
                out.append(f"{name} must be a string")
        for name in ("backbone", "row"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                out.append(f"{name} must be a string or null")
        for name in ("metrics", "weights", "provenance", "params", "ci95", "artifacts"):
            if not isinstance(getattr(self, name), dict):
                out.append(f"{name} must be an object, got {type(getattr(self, name)).__name__}")
        if out:
            return out
        if self.table is not None and self.table not in TABLES:
            out.append(f"table must be one of {', '.join(TABLES)} or null, got {self.table!r}")
        # A text ablation run has a row (its backbone and filter) but belongs to no table.
        if (self.table is None) != (self.row is None) and not (
                self.kind == "text_ablation" and self.table is None):
            out.append("table and row must both be set or both be null")
        out += self._metric_problems()
        for name, ci in self.ci95.items():
            if ci is None:
                continue
            if (not isinstance(ci, (list, tuple)) or len(ci) != 2
                    or not all(_is_number(v) for v in ci) or not 0 <= ci[0] <= ci[1] <= 1):
                out.append(f"ci95.{name} must be [low, high] with 0 <= low <= high <= 1, "
                           f"got {ci!r}")
        if self.weights.get("source") not in WEIGHT_SOURCES:
            out.append(f"weights.source must be one of {', '.join(WEIGHT_SOURCES)}, got "
                       f"{self.weights.get('source')!r}")
        if not isinstance(self.weights.get("pretrained", False), bool):
            out.append("weights.pretrained must be true or false")
        created = self.provenance.get("created_at")
        try:
            if not isinstance(created, str):
                raise TypeError
            parse_time(created)
        except (TypeError, ValueError):
            out.append(f"provenance.created_at must be an ISO 8601 time, got {created!r}")
        for name, kinds in (("git_commit", str), ("git_dirty", bool)):
            value = self.provenance.get(name)
            if value is not None and not isinstance(value, kinds):
                out.append(f"provenance.{name} must be a {kinds.__name__} or null, got "
                           f"{value!r}")
        note = self.weights.get("note")
        if note is not None and not isinstance(note, str):
            out.append(f"weights.note must be a string or null, got {note!r}")
        bad = [k for k, v in self.artifacts.items() if v is not None and not isinstance(v, str)]
        if bad:
            out.append(f"artifacts must be paths (strings): {', '.join(map(str, bad))}")
        climbing = [k for k, v in self.artifacts.items() if isinstance(v, str) and (
            "\0" in v or (not PurePath(v).is_absolute() and ".." in PurePath(v).parts))]
        if climbing:
            out.append(f"artifacts stored relative to the results folder may not climb out of "
                       f"it with '..': {', '.join(map(str, climbing))}")
        return out

    def _metric_problems(self) -> list[str]:
        out = []
        m = self.metrics
        for name, value in m.items():
            if _is_rate(str(name)) and value is not None and not (
                    _is_number(value) and 0 <= value <= 1):
                hint = " (a fraction, not percent)" if _is_number(value) and value > 1 else ""
                out.append(f"metrics.{name} must be a number within 0..1{hint}, got {value!r}")
        needed = TABLE_METRICS if self.table is not None else ()
        if self.kind not in ("filter",):
            needed = tuple(dict.fromkeys(("accuracy",) + needed))
        missing = [k for k in needed if m.get(k) is None]
        if missing:
            out.append(f"metrics is missing {', '.join(missing)}")
        if "n" in m and not (isinstance(m["n"], int) and not isinstance(m["n"], bool)
                             and m["n"] >= 1):
            out.append(f"metrics.n must be a positive integer, got {m['n']!r}")
        cm = m.get("confusion_matrix")
        if cm is not None:
            ok = (isinstance(cm, list) and cm and all(
                isinstance(r, list) and len(r) == len(cm)
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in r)
                for r in cm))
            if not ok:
                out.append("metrics.confusion_matrix must be a square table of counts")
            elif isinstance(m.get("labels"), list) and len(m["labels"]) != len(cm):
                out.append("metrics.labels must name each row of the confusion matrix")
        labels = m.get("labels")
        if labels is not None and not (isinstance(labels, list)
                                       and all(isinstance(x, str) for x in labels)):
            out.append(f"metrics.labels must be a list of class names, got {labels!r}")
        return out

    # ------------------------------------------------------------------ access
    @property
    def created_at(self) -> datetime:
        """When the run finished (from its provenance)."""
        return parse_time(self.provenance["created_at"])

    @property
    def pretrained(self) -> bool:
        """Whether the run's model started from trained weights (ImageNet or a file)."""
        return bool(self.weights.get("pretrained", self.weights.get("source") != "scratch"))

    def metric(self, name: str):
        """A metric's value, or None when the record has none."""
        return self.metrics.get(name)

    def interval(self, name: str):
        """The 95% bootstrap interval of a metric as ``(low, high)``, or None."""
        ci = self.ci95.get(name)
        return None if ci is None else (float(ci[0]), float(ci[1]))

    def artifact(self, name: str, ws: Workspace) -> Path | None:
        """The absolute path of one of the run's files, or None when it has none by that name.

        Parameters
        ----------
        name : str
            ``model``, ``history``, ``predictions``, ...
        ws : Workspace
            The workspace the record belongs to (relative paths are under its results).
        """
        stored = self.artifacts.get(name)
        return None if not stored else ws.resolve(stored)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        """The record as plain JSON types, in the stored key order."""
        return to_jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data, source=None) -> "Record":
        """A record from its JSON form, validated.

        Parameters
        ----------
        data : dict
        source : path, optional
            Where it was read from, for the error message.

        Returns
        -------
        Record

        Raises
        ------
        RecordError
            Naming ``source`` and what is wrong.
        """
        where = f"{source}: " if source is not None else ""
        if not isinstance(data, dict):
            raise RecordError(f"{where}a results record must be a JSON object, got "
                              f"{type(data).__name__}")
        names = [f for f in cls.__dataclass_fields__]
        required = ("run_id", "kind", "profile", "dataset", "split", "metrics", "weights",
                    "provenance")
        missing = [k for k in required if k not in data]
        if missing:
            raise RecordError(f"{where}results record is missing {', '.join(missing)}")
        values = {k: data[k] for k in names if k in data}
        for key in ("params", "ci95", "artifacts"):
            if values.get(key) is None:
                values[key] = {}
        try:
            return cls(**values)
        except RecordError as exc:
            raise RecordError(f"{where}{exc}") from None

    @classmethod
    def read(cls, path) -> "Record":
        """Read and validate the record in ``path``.

        Raises
        ------
        RecordError
            When the file is not JSON or not a valid record, naming the file.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise RecordError(f"{path}: not a readable JSON file ({type(exc).__name__}: "
                              f"{exc})") from None
        return cls.from_dict(data, source=path)

    def write(self, ws: Workspace) -> Path:
        """Write the record to ``ws``'s records folder, atomically; return the path.

        Raises
        ------
        RecordError
            When the record's profile is not the workspace's.
        FileExistsError
            When a record with this run id exists.
        """
        if self.profile != ws.name:
            raise RecordError(f"record {self.run_id} is of profile {self.profile!r}, not "
                              f"{ws.name!r}")
        path = ws.record_file(self.run_id)
        if path.exists():
            raise FileExistsError(f"a record with run_id {self.run_id!r} already exists: {path}")
        with phase("write record", record_kind=self.kind):
            return write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def _new(cls, ws: Workspace, *, kind: str, seed, manifest_hash, wall_s, artifacts: dict,
             run_parts=(), run_id: str | None = None, **fields) -> "Record":
        # Files are stored relative to the results folder (Path values); strings as given.
        stored = {k: ws.relative(v) if isinstance(v, PurePath) else v
                  for k, v in artifacts.items() if v is not None}
        with phase("record provenance (git, versions)"):
            origin = provenance(seed, manifest_hash, wall_s)
        return cls(
            run_id=run_id or make_run_id(*run_parts), kind=kind, profile=ws.name,
            provenance=origin, artifacts=stored,
            **{k: to_jsonable(v) for k, v in fields.items()})

    @classmethod
    def training(cls, ws: Workspace, *, kind: str, backbone: str, row: str | None,
                 dataset: str, metrics: dict, ci95: dict, params: dict, weights: dict,
                 seed: int, manifest_hash: str, wall_s: float, artifacts: dict,
                 run_parts) -> "Record":
        """The record of a trained model tested on its held-out split.

        Parameters
        ----------
        ws : Workspace
        kind : {"train", "ablation", "text_ablation", "text_classifier"}
            ``train``/``ablation`` (a backbone from ImageNet or from scratch) go to Table 1 in
            ``row``; ``text_ablation`` (a backbone trained with another text filter, notebook
            07) and ``text_classifier`` to no table.
        backbone : str
        row : str or None
        dataset : str
        metrics, ci95 : dict
            :func:`sadutils.metrics.evaluate_predictions`.
        params : dict
        weights : dict
            :meth:`sadutils.models.WeightsChoice.as_record`.
        seed : int
        manifest_hash : str
        wall_s : float
        artifacts : dict
            ``name -> path``.
        run_parts : sequence
            Words of the run id.

        Returns
        -------
        Record
        """
        table = "table1" if kind in ("train", "ablation") else None
        keeps_row = table is not None or kind == "text_ablation"
        return cls._new(ws, kind=kind, run_parts=run_parts, seed=seed,
                        manifest_hash=manifest_hash, wall_s=wall_s, artifacts=artifacts,
                        table=table, row=row if keeps_row else None, backbone=backbone,
                        dataset=dataset, split="test", metrics=metrics, ci95=ci95,
                        params=params, weights=weights)

    @classmethod
    def filtering(cls, ws: Workspace, *, metrics: dict, params: dict, weights: dict,
                  backbone: str | None, seed: int, manifest_hash: str, wall_s: float,
                  artifacts: dict, run_parts) -> "Record":
        """The record of the WEBEmo text filtering (notebook 02): counts, no table.

        Parameters
        ----------
        ws : Workspace
        metrics : dict
            ``n_before``, ``n_after``, ``counts`` (one row per class) and any rates.
        params, weights : dict
        backbone : str or None
            The text classifier's backbone, when a classifier filtered.
        seed, manifest_hash, wall_s, artifacts, run_parts
            As for :meth:`training`.

        Returns
        -------
        Record
        """
        return cls._new(ws, kind="filter", run_parts=run_parts, seed=seed,
                        manifest_hash=manifest_hash, wall_s=wall_s, artifacts=artifacts,
                        backbone=backbone, dataset="webemo", split="sample", metrics=metrics,
                        params=params, weights=weights)

    @classmethod
    def cross_dataset(cls, ws: Workspace, *, trained: "Record", dataset: str, table: str,
                      metrics: dict, ci95: dict, params: dict, seed: int, manifest_hash: str,
                      wall_s: float, artifacts: dict, run_id: str) -> "Record":
        """The record of a trained model tested on another dataset (Tables 2 and 3).

        Parameters
        ----------
        ws : Workspace
        trained : Record
            The training record of the model; its row and weights carry over.
        dataset : str
        table : str
            ``table2`` or ``table3``.
        metrics, ci95, params : dict
        seed, manifest_hash, wall_s, artifacts
            As for :meth:`training`.
        run_id : str
            Made by the caller (its output folder is named after it).

        Returns
        -------
        Record
        """
        return cls._new(ws, kind="cross_dataset", run_id=run_id, seed=seed,
                        manifest_hash=manifest_hash, wall_s=wall_s, artifacts=artifacts,
                        table=table_id(table), row=trained.row, backbone=trained.backbone,
                        dataset=dataset, split="all", metrics=metrics, ci95=ci95,
                        params=params, weights=dict(trained.weights))


# ---------------------------------------------------------------------------- reading many

def read_records(ws: Workspace, kind: str | None = None, table=None) -> list[Record]:
    """The valid records of a workspace, oldest first.

    Parameters
    ----------
    ws : Workspace
    kind : str, optional
        Only records of this kind.
    table : str, optional
        Only records of this table.

    Returns
    -------
    list of Record
        Files that are not valid records (unreadable, malformed, impossible numbers, another
        profile's) are skipped with a ``UserWarning`` naming the file and the problem.
    """
    tid = None if table is None else table_id(table)
    out = []
    if not ws.records.is_dir():
        return out
    for path in sorted(ws.records.glob("*.json")):
        try:
            rec = Record.read(path)
            if rec.profile != ws.name:
                raise RecordError(f"{path}: a record of profile {rec.profile!r} in the "
                                  f"{ws.name!r} folder")
        except RecordError as exc:
            warnings.warn(f"skipping results record: {exc}", stacklevel=2)
            continue
        if kind is not None and rec.kind != kind:
            continue
        if tid is not None and rec.table != tid:
            continue
        out.append(rec)
    out.sort(key=lambda r: r.created_at)
    return out


def latest(ws: Workspace, kind: str, **match) -> Record | None:
    """The newest record of ``kind`` whose fields or params equal ``match``.

    Parameters
    ----------
    ws : Workspace
    kind : str
    **match
        ``backbone="xception"``, ``image_size=72``, ... (a field of the record, else of its
        ``params``).

    Returns
    -------
    Record or None
    """
    found = None
    for rec in read_records(ws, kind=kind):
        values = {**rec.params, **{k: getattr(rec, k) for k in ("backbone", "row", "dataset")}}
        if all(values.get(k) == v for k, v in match.items()):
            found = rec
    return found


def latest_by_row(ws: Workspace, table) -> dict[str, Record]:
    """The newest record of each row of one table.

    Parameters
    ----------
    ws : Workspace
    table : str

    Returns
    -------
    dict
        ``row -> Record``; rows without a record are absent.
    """
    best: dict[str, Record] = {}
    for rec in read_records(ws, table=table):
        if rec.row is not None:
            best[rec.row] = rec  # oldest first: the last one seen is the newest
    return best


def profiles_with_records(results_root=None) -> list[str]:
    """The profiles that have at least one record file, ``paper`` first.

    Parameters
    ----------
    results_root : path, optional

    Returns
    -------
    list of str
    """
    found = [p for p in PROFILES
             if any(Workspace.create(p, results_root=results_root).records.glob("*.json"))]
    return sorted(found, key=lambda p: p != "paper")


__all__ = ["KINDS", "Record", "RecordError", "TABLE_METRICS", "WEIGHT_SOURCES",
           "latest", "latest_by_row", "make_run_id", "profiles_with_records", "read_records",
           "to_jsonable"]
