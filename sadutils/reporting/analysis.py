"""The figures, tables and sentences of the Analysis chapter (notebook ``06_analysis``), and
the chapter as the book shows it.

Notebook 06 computes with :mod:`sadutils.analysis`, draws with
:mod:`sadutils.reporting.analysis_figures` and writes with the tables and sentences here; a
:class:`Chapter` collects what it shows (Markdown, tables, figures) and saves it under
``results/<profile>/analysis/``, from where the book's Analysis page displays it
(:func:`saved_chapters`), so the book shows exactly what the notebook computed, without
loading a model at build time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.groups import MEASURES
from ..fileio import atomic_path, write_json, write_text
from ..records import profiles_with_records
from ..workspace import Workspace
from .analysis_figures import METRIC_LABELS
from .figures import figure_png
from .tables import format_table, profile_note

#: The chapter's index file in ``results/<profile>/analysis/``.
CHAPTER_FILE = "chapter.json"
CHAPTER_VERSION = 1


def analysis_dir(ws: Workspace) -> Path:
    """Where notebook 06 saves the chapter of a profile (``results/<profile>/analysis/``).

    Parameters
    ----------
    ws : Workspace

    Returns
    -------
    Path
    """
    return ws.results / "analysis"


# ---------------------------------------------------------------------------- tables

def _percent(value) -> str:
    return "" if value is None or not np.isfinite(value) else f"{100 * value:.0f}%"


def rates_wide(rates: pd.DataFrame, by) -> pd.DataFrame:
    """A rates table with one column per model: ``62% [41, 79]`` per cell.

    Parameters
    ----------
    rates : DataFrame
        :func:`sadutils.analysis.rates_by_model`.
    by : str or list of str
        Its grouping columns.

    Returns
    -------
    DataFrame
        The groups (sadness groups first), ``measure``, ``n`` (images; the models tested the
        same ones) and one column per model, in the order of ``rates``.
    """
    by = [by] if isinstance(by, str) else list(by)
    keys = [*by, "label", "measure"]
    cells = rates.assign(cell=[f"{100 * r:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"
                               for r, lo, hi in zip(rates["rate"], rates["low"], rates["high"])])
    models = list(dict.fromkeys(rates["model"]))
    wide = cells.pivot_table(index=keys, columns="model", values="cell", aggfunc="first",
                             sort=False)
    n = rates.groupby(keys, sort=False)["n"].max()
    out = wide.reindex(columns=models).assign(n=n).reset_index()
    out = out[[*by, "measure", "n", *models]]
    return out.fillna("")


def separation_wide(separation: pd.DataFrame, by: str = "object") -> pd.DataFrame:
    """Per object, each model's separation (recall minus false-sadness rate).

    Parameters
    ----------
    separation : DataFrame
        :func:`sadutils.analysis.object_separation` with a ``model`` column.
    by : str

    Returns
    -------
    DataFrame
        ``by``, the images of each class, one column per model and the mean over models.
    """
    models = list(dict.fromkeys(separation["model"]))
    wide = separation.pivot_table(index=by, columns="model", values="separation",
                                  aggfunc="first").reindex(columns=models)
    counts = separation.groupby(by)[["n_sadness", "n_others"]].max()
    out = counts.join(wide)
    out["mean"] = wide.mean(axis=1)
    return out.reset_index()


def sweep_table(sweeps: dict, metric: str = "accuracy") -> pd.DataFrame:
    """The measured metric of each model at each class ratio of a sweep.

    Parameters
    ----------
    sweeps : dict
        Model -> :func:`sadutils.analysis.ratio_sweep`.
    metric : str

    Returns
    -------
    DataFrame
        ``sadness fraction`` (``natural`` for the set as tested), then per model the measured
        value and, in brackets, the one its rates imply.
    """
    rows = {}
    for model, sweep in sweeps.items():
        for _, r in sweep.iterrows():
            key = "natural" if pd.isna(r["sadness_fraction"]) else f"{r['sadness_fraction']:.2f}"
            rows.setdefault(key, {"sadness fraction": key,
                                  "sadness share": f"{r['sadness_share']:.2f}",
                                  "images": int(r["n"])})
            expected = r[f"expected_{metric}"]
            rows[key][model] = f"{r[metric]:.3f} ({expected:.3f})"
    return pd.DataFrame(list(rows.values()))


def drop_summary(drops: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """The drop of ``metric`` from Table 1 to Tables 2/3 and its two parts, per model.

    Parameters
    ----------
    drops : DataFrame
        :func:`sadutils.analysis.drop_table`.
    metric : str

    Returns
    -------
    DataFrame
        ``dataset``, ``model``, the sadness shares of both sets, WEBEmo's value, the other
        set's value, the other set's value at WEBEmo's share, then the drop, its image part and
        its class-ratio part (drop = images + class ratio; positive: worse on the other set).
        Accuracy is in percent and its differences in points, as in the paper's tables.
    """
    scale, name = (100, "accuracy %") if metric == "accuracy" else (1, METRIC_LABELS[metric])
    unit = " (points)" if metric == "accuracy" else ""
    return pd.DataFrame({
        "dataset": drops["dataset"], "model": drops["model"],
        "WEBEmo sadness share": drops["source_prior"],
        "set's sadness share": drops["target_prior"],
        f"{name} WEBEmo": drops[f"{metric}_source"] * scale,
        f"{name} set": drops[f"{metric}_target"] * scale,
        f"{name} set at WEBEmo share": drops[f"{metric}_target_at_source_prior"] * scale,
        f"drop{unit}": drops[f"{metric}_drop"] * scale,
        f"from the images{unit}": drops[f"{metric}_images"] * scale,
        f"from the class ratio{unit}": drops[f"{metric}_prior"] * scale})


def identical_note(predictions: dict) -> str:
    """A sentence naming models whose predictions are identical, or an empty string.

    Two rows of the tables can hold the same model: under the demo profile without network,
    "Xception" falls back to random weights and is then trained exactly as "Xception
    no-pretrain" (same seed, same data), so their numbers coincide; this says so instead of
    leaving a reader to suspect a mix-up.

    Parameters
    ----------
    predictions : dict
        Model -> predictions on the same test set.

    Returns
    -------
    str
    """
    keys = {}
    for model, frame in predictions.items():
        cols = [c for c in ("path", "pred", "p_sadness") if c in frame.columns]
        signature = frame[cols].sort_values("path").to_csv(index=False)
        keys.setdefault(signature, []).append(model)
    same = [models for models in keys.values() if len(models) > 1]
    if not same:
        return ""
    groups = "; ".join(" and ".join(models) for models in same)
    return (f"Identical predictions: {groups}. These rows hold the same trained model in "
            "effect (e.g. an ImageNet row that fell back to random weights and was then "
            "trained exactly like the from-scratch row); their numbers coincide throughout.")


# ---------------------------------------------------------------------------- sentences

def _images(n) -> str:
    return f"{int(n)} image" + ("" if int(n) == 1 else "s")


def rates_reading(rates: pd.DataFrame, by: str, what: str, min_images: int = 5) -> str:
    """Two sentences on a rates table, averaged over the models.

    Parameters
    ----------
    rates : DataFrame
        :func:`sadutils.analysis.rates_by_model` grouped by ``by``.
    by : str
    what : str
        What the groups are, e.g. ``"WEBEmo sadness sub-emotion"``.
    min_images : int
        Groups with fewer images are not named (their intervals span most of 0..1); the
        sentence says how many were left out.

    Returns
    -------
    str
    """
    mean = rates.groupby([by, "measure"], sort=False).agg(rate=("rate", "mean"), n=("n", "max"))
    mean = mean.reset_index()
    small = int((mean["n"] < min_images).sum())
    mean = mean[mean["n"] >= min_images]
    parts = []
    recall = mean[mean["measure"] == MEASURES[True]].sort_values("rate")
    if len(recall) > 1:
        parts.append(f"Averaged over the {rates['model'].nunique()} models, the {what} missed "
                     f"most often is *{recall.iloc[0][by]}* (recall "
                     f"{_percent(recall.iloc[0]['rate'])}, {_images(recall.iloc[0]['n'])}) and "
                     f"the one found most often *{recall.iloc[-1][by]}* "
                     f"({_percent(recall.iloc[-1]['rate'])}, {_images(recall.iloc[-1]['n'])}).")
    elif len(recall) == 1:
        parts.append(f"Averaged over the {rates['model'].nunique()} models, the recall of "
                     f"*{recall.iloc[0][by]}* is {_percent(recall.iloc[0]['rate'])}.")
    false = mean[mean["measure"] == MEASURES[False]].sort_values("rate", ascending=False)
    if len(false):
        top = ", ".join(f"*{r[by]}* ({_percent(r['rate'])}, {_images(r['n'])})"
                        for _, r in false.head(3).iterrows())
        parts.append(f"The other groups most often taken for sadness are {top}; the least "
                     f"often *{false.iloc[-1][by]}* ({_percent(false.iloc[-1]['rate'])}).")
    if small:
        parts.append(f"{small} group{'s' if small != 1 else ''} of fewer than {min_images} "
                     "images are not named here (see the table).")
    return " ".join(parts)


def separation_reading(separation: pd.DataFrame, by: str = "object") -> str:
    """One sentence: the objects where the models separate sadness worst and best.

    Parameters
    ----------
    separation : DataFrame
        :func:`sadutils.analysis.object_separation`.
    by : str

    Returns
    -------
    str
    """
    mean = separation.groupby(by)["separation"].mean().dropna().sort_values()
    if mean.empty:
        return "No object has images of both classes."
    return (f"Averaged over the models, sadness is told apart worst within *{mean.index[0]}* "
            f"images (recall minus false-sadness rate {mean.iloc[0]:+.2f}) and best within "
            f"*{mean.index[-1]}* images ({mean.iloc[-1]:+.2f}); 0 would mean the model judges the "
            "object alone.")


def drop_reading(drops: pd.DataFrame, metric: str = "accuracy") -> str:
    """One sentence per test set: the mean drop of ``metric`` and its two parts.

    Parameters
    ----------
    drops : DataFrame
        :func:`sadutils.analysis.drop_table`.
    metric : str

    Returns
    -------
    str
    """
    scale, unit = (100, " points") if metric == "accuracy" else (1, "")
    digits = 1 if metric == "accuracy" else 3
    out = []
    for dataset, rows in drops.groupby("dataset", sort=False):
        d, i, p = (rows[f"{metric}_{k}"].mean() * scale for k in ("drop", "images", "prior"))
        out.append(f"On {dataset} ({rows['target_prior'].iloc[0]:.0%} sadness against WEBEmo's "
                   f"{rows['source_prior'].iloc[0]:.0%}), {METRIC_LABELS[metric]} changes by "
                   f"{-d:+.{digits}f}{unit} on average over {len(rows)} models: "
                   f"{-i:+.{digits}f}{unit} from the images and {-p:+.{digits}f}{unit} from the "
                   "class ratio.")
    return " ".join(out)


def heat_reading(summary: pd.DataFrame) -> str:
    """One sentence on :func:`sadutils.analysis.heat_summary`.

    Parameters
    ----------
    summary : DataFrame

    Returns
    -------
    str
    """
    if summary.empty:
        return "No Grad-CAM maps."
    agreement = summary["agreement"].mean()
    text = (f"Over the {int(summary['images'].iloc[0])} images, the models put on average "
            f"{summary['upper_half'].mean():.0%} of their heat in the upper half of the image, "
            f"and {summary['area'].mean():.0%} of the pixels reach half of an image's peak")
    if np.isfinite(agreement):
        text += (f"; two models' maps of the same image correlate by {agreement:+.2f} on "
                 "average (1: the same regions, 0: unrelated)")
    return text + "."


# ---------------------------------------------------------------------------- the chapter

@dataclass(frozen=True)
class Png:
    """A rendered figure: Jupyter displays it as the PNG it holds.

    Attributes
    ----------
    data : bytes
    """

    data: bytes

    def _repr_png_(self) -> bytes:
        return self.data


#: The chapter's parts, in order: key -> title.
PARTS = {
    "sources": "The models and the predictions read",
    "groups": "Which sadness is missed, and what is taken for sadness",
    "gradcam": "Where the models look: Grad-CAM",
    "prior": "Where the cross-dataset drop comes from",
    "failures": "Failure gallery",
}


@dataclass
class Chapter:
    """What notebook 06 shows, kept in order, by part, to be saved for the book.

    :meth:`start` opens one of :data:`PARTS`; each other method records one item in it and
    returns what it was given, so a notebook cell can show it:
    ``display(Markdown(chapter.markdown(text)))``, ``display(chapter.figure(fig, "name"))``.

    Attributes
    ----------
    ws : Workspace
    notebook : str or None
        The executed notebook's name (the book links it).
    items : list of dict
    """

    ws: Workspace
    notebook: str | None = None
    items: list = field(default_factory=list)
    part: str = "sources"
    _figures: dict = field(default_factory=dict, repr=False)
    _tables: dict = field(default_factory=dict, repr=False)

    def start(self, part: str) -> str:
        """Open one of :data:`PARTS`; return its title.

        Raises
        ------
        ValueError
            For an unknown part, naming the valid ones.
        """
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; valid choices: {', '.join(PARTS)}")
        self.part = part
        return PARTS[part]

    def markdown(self, text: str) -> str:
        """Record a Markdown paragraph or heading; return it."""
        self.items.append({"part": self.part, "kind": "markdown", "text": str(text)})
        return text

    def table(self, frame: pd.DataFrame, name: str) -> str:
        """Record a table (saved as ``<name>.csv``); return it as Markdown."""
        self._check_name(name, self._tables, "table")
        text = format_table(frame)
        self._tables[name] = frame
        self.items.append({"part": self.part, "kind": "table", "name": name,
                           "file": f"{name}.csv", "markdown": text})
        return text

    def figure(self, fig, name: str) -> "Png":
        """Record a figure (saved as ``<name>.png``); return it rendered, ready to display.

        The figure is rendered once, here: the notebook shows the same PNG the book will.
        """
        self._check_name(name, self._figures, "figure")
        self._figures[name] = Png(figure_png(fig, dpi=100))
        self.items.append({"part": self.part, "kind": "figure", "name": name,
                           "file": f"{name}.png"})
        return self._figures[name]

    @staticmethod
    def _check_name(name: str, taken: dict, kind: str) -> None:
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"item name {name!r}: letters, digits, - and _ only")
        if name in taken:
            raise ValueError(f"the chapter already has a {kind} named {name!r}")

    def save(self) -> Path:
        """Write the chapter to :func:`analysis_dir`; return the index file.

        Files of an earlier chapter that this one no longer has are removed (only those its
        index listed; nothing else in the folder is touched).

        Returns
        -------
        Path
        """
        folder = analysis_dir(self.ws)
        folder.mkdir(parents=True, exist_ok=True)
        index = folder / CHAPTER_FILE
        old = _read_index(index)
        for name, png in self._figures.items():
            with atomic_path(folder / f"{name}.png") as tmp:
                Path(tmp).write_bytes(png.data)
        for name, frame in self._tables.items():
            write_text(folder / f"{name}.csv", frame.to_csv(index=False))
        write_json(index, {"version": CHAPTER_VERSION, "profile": self.ws.name,
                           "notebook": self.notebook,
                           "created_at": datetime.now(timezone.utc).isoformat(
                               timespec="seconds"),
                           "items": self.items})
        kept = {i["file"] for i in self.items if "file" in i}
        for item in (old or {}).get("items", []):
            stale = item.get("file") if isinstance(item, dict) else None
            if stale and stale not in kept and Path(stale).name == stale:
                (folder / stale).unlink(missing_ok=True)
        return index


def _read_index(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("version") != CHAPTER_VERSION \
            or not isinstance(data.get("items"), list):
        return None
    return data


@dataclass(frozen=True)
class SavedChapter:
    """A chapter saved by notebook 06, as the book reads it.

    Attributes
    ----------
    ws : Workspace
    created_at : str
    notebook : str or None
    items : list of tuple
        ``(part, "markdown", text)`` or ``(part, "image", Path)``, in order.
    """

    ws: Workspace
    created_at: str
    notebook: str | None
    items: list

    def part(self, name: str) -> list:
        """The ``(kind, content)`` items of one part."""
        return [(kind, content) for part, kind, content in self.items if part == name]


def saved_chapter(ws: Workspace) -> SavedChapter | None:
    """The chapter notebook 06 saved for a profile.

    Parameters
    ----------
    ws : Workspace

    Returns
    -------
    SavedChapter or None
        None when there is none (or its index is unreadable). A figure whose file is missing
        becomes a line saying so.
    """
    folder = analysis_dir(ws)
    data = _read_index(folder / CHAPTER_FILE)
    if data is None:
        return None
    items = []
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        part, kind = str(item.get("part", "")), item.get("kind")
        if kind == "markdown":
            items.append((part, "markdown", str(item.get("text", ""))))
        elif kind == "table":
            items.append((part, "markdown", str(item.get("markdown", ""))))
        elif kind == "figure":
            path = folder / str(item.get("file", ""))
            items.append((part, "image", path) if path.is_file() and path.parent == folder
                         else (part, "markdown", f"*(figure `{item.get('file')}` is missing: "
                                                 "run notebook 06_analysis again)*"))
    return SavedChapter(ws, str(data.get("created_at", "")), data.get("notebook"), items)


def saved_chapters(results_root=None) -> list[SavedChapter]:
    """The saved chapter of every profile that has records, ``paper`` first.

    Parameters
    ----------
    results_root : path, optional

    Returns
    -------
    list of SavedChapter
    """
    found = [saved_chapter(Workspace.create(p, results_root=results_root))
             for p in profiles_with_records(results_root)]
    return [c for c in found if c is not None]


def chapter_status(book_dir=None, results_root=None) -> str:
    """The book page's opening line: whose analysis it shows, or how to make one.

    Parameters
    ----------
    book_dir : path, optional
        The book's source folder; executed notebooks under its ``executed/`` are linked.
    results_root : path, optional

    Returns
    -------
    str
    """
    chapters = saved_chapters(results_root)
    if not chapters:
        return ("**No analysis yet.** Run `sadutils reproduce` (demo profile, synthetic data, "
                "or `--profile paper` for the real data); its last notebook, `06_analysis`, "
                "saves what this page shows. Then build the book again.")
    lines = []
    for chapter in chapters:
        link = ""
        if chapter.notebook and book_dir is not None:
            page = Path(book_dir) / "executed" / f"{Path(chapter.notebook).stem}.ipynb"
            if page.is_file():
                link = f" Executed notebook: [{page.stem}](executed/{page.name})."
        lines.append(f"- **Profile `{chapter.ws.name}`**, analysed {chapter.created_at}. "
                     f"{profile_note(chapter.ws.name)}{link}")
    return "Analyses found:\n\n" + "\n".join(lines)


def part_outputs(part: str, results_root=None) -> list[tuple[str, object]]:
    """What the book shows for one part: per profile a labelled heading, then its items.

    Parameters
    ----------
    part : str
        One of :data:`PARTS`.
    results_root : path, optional

    Returns
    -------
    list of tuple
        ``("markdown", text)`` or ``("image", Path)``; a line saying there is nothing yet
        when no profile has a saved analysis.

    Raises
    ------
    ValueError
        For an unknown part.
    """
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; valid choices: {', '.join(PARTS)}")
    out = []
    for chapter in saved_chapters(results_root):
        items = chapter.part(part)
        if not items:
            continue
        label = "DEMO profile: synthetic images" if chapter.ws.name == "demo" else \
            "PAPER profile: the real datasets"
        out.append(("markdown", f"**{label}.**"))
        out += items
    return out or [("markdown", "Nothing yet: see the top of this page.")]
