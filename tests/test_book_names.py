"""Every ``sadutils.<name>`` that the book's pages and the README write exists.

A renamed module or function leaves its old name in the prose (the Data page named
``sadutils.datasets`` long after it became ``sadutils.data``); this finds such names.
"""
from __future__ import annotations

import importlib
import re

import pytest

from sadutils.workspace import repo_root

#: A dotted name under the package, as prose writes it (``sadutils.data.load_dataset``).
NAME = re.compile(r"\bsadutils(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def exists(dotted: str) -> bool:
    """Whether ``dotted`` is a module of the package or an attribute of one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


def _names() -> list[tuple[str, str]]:
    root = repo_root()
    files = sorted((root / "book").glob("*.md")) + [root / "README.md"]
    return sorted({(f.name, name) for f in files
                   for name in NAME.findall(f.read_text(encoding="utf-8"))})


def test_the_book_and_readme_name_sadutils():
    names = _names()
    assert {f for f, _ in names} >= {"README.md", "data.md"}  # the check reads both
    assert ("data.md", "sadutils.data.load_dataset") in names


@pytest.mark.parametrize("where, name", _names())
def test_every_sadutils_name_exists(where, name):
    assert exists(name), f"{where} names {name}, which does not exist"


def test_exists_tells_real_names_from_gone_ones():
    assert exists("sadutils.data") and exists("sadutils.data.load_dataset")
    assert exists("sadutils.reporting.text_ablation.TEXT_ABLATION")
    assert not exists("sadutils.datasets") and not exists("sadutils.data.load_everything")
