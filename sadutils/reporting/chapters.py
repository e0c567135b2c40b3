"""Chapters a notebook computes and the book shows: saved once, displayed without recomputing.

A notebook beyond the paper (``06_analysis``, ``07_text_ablation``) collects what it shows in a
:class:`Chapter` (Markdown, tables, figures, each in one of the chapter's parts) and saves it
under ``results/<profile>/<folder>/``; the book page of that chapter displays it
(:func:`part_outputs`), so the book shows exactly what the notebook computed, without loading
a model at build time. A :class:`ChapterKind` says which folder, parts and notebook a chapter
has.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..fileio import atomic_path, write_json, write_text
from ..records import profiles_with_records
from ..workspace import Workspace
from .figures import figure_png
from .tables import format_table, profile_note

#: The chapter's index file in ``results/<profile>/<folder>/``.
CHAPTER_FILE = "chapter.json"
CHAPTER_VERSION = 1


@dataclass(frozen=True)
class ChapterKind:
    """One chapter of the book that a notebook saves.

    Attributes
    ----------
    folder : str
        Its folder in a profile's results (``analysis``).
    parts : dict
        Its parts, in order: key -> title.
    notebook : str
        The notebook that saves it.
    title : str
        What the chapter is, for the status line (``analysis``).
    """

    folder: str
    parts: dict
    notebook: str
    title: str

    def directory(self, ws: Workspace) -> Path:
        """Where the chapter of a profile is saved (``results/<profile>/<folder>/``)."""
        return ws.results / self.folder

    def check_part(self, part: str) -> None:
        """Refuse a part the chapter does not have, naming the valid ones."""
        if part not in self.parts:
            raise ValueError(f"unknown part {part!r}; valid choices: {', '.join(self.parts)}")

    def new(self, ws: Workspace, notebook: str | None = None) -> Chapter:
        """An empty chapter of this kind for its notebook to fill (``notebook``: the executed
        notebook's name, which the book links)."""
        return Chapter(ws, notebook, self)

    def saved(self, ws: Workspace) -> SavedChapter | None:
        """The chapter of this kind saved for a profile (:func:`saved_chapter`)."""
        return saved_chapter(ws, self)

    def status(self, book_dir=None, results_root=None) -> str:
        """The chapter page's opening line (:func:`chapter_status`)."""
        return chapter_status(self, book_dir, results_root)

    def outputs(self, part: str, results_root=None) -> list[tuple[str, object]]:
        """What the chapter page shows for one part (:func:`part_outputs`)."""
        return part_outputs(self, part, results_root)


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


@dataclass
class Chapter:
    """What a notebook shows, kept in order, by part, to be saved for the book.

    :meth:`start` opens one of the kind's parts; each other method records one item in it and
    returns what it was given, so a notebook cell can show it:
    ``display(Markdown(chapter.markdown(text)))``, ``display(chapter.figure(fig, "name"))``.

    Attributes
    ----------
    ws : Workspace
    notebook : str or None
        The executed notebook's name (the book links it).
    kind : ChapterKind
    items : list of dict
    """

    ws: Workspace
    notebook: str | None
    kind: ChapterKind
    items: list = field(default_factory=list)
    part: str | None = None
    _figures: dict = field(default_factory=dict, repr=False)
    _tables: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.part is None:
            self.part = next(iter(self.kind.parts))

    def start(self, part: str) -> str:
        """Open one of the kind's parts; return its title.

        Raises
        ------
        ValueError
            For an unknown part, naming the valid ones.
        """
        self.kind.check_part(part)
        self.part = part
        return self.kind.parts[part]

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

    def figure(self, fig, name: str) -> Png:
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
        """Write the chapter to its kind's folder; return the index file.

        Files of an earlier chapter that this one no longer has are removed (only those its
        index listed; nothing else in the folder is touched).

        Returns
        -------
        Path
        """
        folder = self.kind.directory(self.ws)
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
    """A chapter saved by its notebook, as the book reads it.

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


def saved_chapter(ws: Workspace, kind: ChapterKind) -> SavedChapter | None:
    """The chapter of ``kind`` a profile's notebook saved.

    Parameters
    ----------
    ws : Workspace
    kind : ChapterKind

    Returns
    -------
    SavedChapter or None
        None when there is none (or its index is unreadable). A figure whose file is missing
        becomes a line saying so.
    """
    folder = kind.directory(ws)
    data = _read_index(folder / CHAPTER_FILE)
    if data is None:
        return None
    items = []
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        part, what = str(item.get("part", "")), item.get("kind")
        if what == "markdown":
            items.append((part, "markdown", str(item.get("text", ""))))
        elif what == "table":
            items.append((part, "markdown", str(item.get("markdown", ""))))
        elif what == "figure":
            path = folder / str(item.get("file", ""))
            items.append((part, "image", path) if path.is_file() and path.parent == folder
                         else (part, "markdown", f"*(figure `{item.get('file')}` is missing: "
                                                 f"run notebook {kind.notebook} again)*"))
    return SavedChapter(ws, str(data.get("created_at", "")), data.get("notebook"), items)


def saved_chapters(kind: ChapterKind, results_root=None) -> list[SavedChapter]:
    """The saved chapter of ``kind`` of every profile that has records, ``paper`` first.

    Parameters
    ----------
    kind : ChapterKind
    results_root : path, optional

    Returns
    -------
    list of SavedChapter
    """
    found = [saved_chapter(Workspace.create(p, results_root=results_root), kind)
             for p in profiles_with_records(results_root)]
    return [c for c in found if c is not None]


def chapter_status(kind: ChapterKind, book_dir=None, results_root=None) -> str:
    """A chapter page's opening line: whose chapter it shows, or how to make one.

    Parameters
    ----------
    kind : ChapterKind
    book_dir : path, optional
        The book's source folder; executed notebooks under its ``executed/`` are linked.
    results_root : path, optional

    Returns
    -------
    str
    """
    chapters = saved_chapters(kind, results_root)
    if not chapters:
        return (f"**No {kind.title} yet.** Run `sadutils reproduce` (demo profile, synthetic "
                f"data, or `--profile paper` for the real data); its notebook "
                f"`{kind.notebook}` saves what this page shows. Then build the book again.")
    lines = []
    for chapter in chapters:
        link = ""
        if chapter.notebook and book_dir is not None:
            page = Path(book_dir) / "executed" / f"{Path(chapter.notebook).stem}.ipynb"
            if page.is_file():
                link = f" Executed notebook: [{page.stem}](executed/{page.name})."
        lines.append(f"- **Profile `{chapter.ws.name}`**, computed {chapter.created_at}. "
                     f"{profile_note(chapter.ws.name)}{link}")
    return f"{kind.title.capitalize()} found:\n\n" + "\n".join(lines)


def part_outputs(kind: ChapterKind, part: str, results_root=None) -> list[tuple[str, object]]:
    """What the book shows for one part: per profile a labelled heading, then its items.

    Parameters
    ----------
    kind : ChapterKind
    part : str
        One of the kind's parts.
    results_root : path, optional

    Returns
    -------
    list of tuple
        ``("markdown", text)`` or ``("image", Path)``; a line saying there is nothing yet
        when no profile has a saved chapter.

    Raises
    ------
    ValueError
        For an unknown part.
    """
    kind.check_part(part)
    out = []
    for chapter in saved_chapters(kind, results_root):
        items = chapter.part(part)
        if not items:
            continue
        label = "DEMO profile: synthetic images" if chapter.ws.name == "demo" else \
            "PAPER profile: the real datasets"
        out.append(("markdown", f"**{label}.**"))
        out += items
    return out or [("markdown", "Nothing yet: see the top of this page.")]
