"""What identifies a notebook run's inputs: its cells, the package's code, the data it reads.

The runner hashes these into a run's *key*; a run whose key did not change since its last
success is skipped. File dates play no part: content and listings do.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path

import jupytext
import nbformat

from ..data.loaders import INDEX_FILES
from ..demo import MARKER_NAME
from ..fileio import file_sha256
from ..provenance import code_fingerprint as package_fingerprint
from ..workspace import Workspace


def sha(data) -> str:
    """SHA-256 of bytes, or of the canonical JSON of any other value."""
    if not isinstance(data, bytes):
        data = json.dumps(data, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def listing_fingerprint(folder: Path) -> str:
    """Hash of the relative paths and sizes of the files under ``folder`` (not their content).

    Symlinked folders are followed, each real folder once, as the loaders walk them
    (:func:`sadutils.data.formats.walk_images`), so a link that loops back ends the walk.

    Parameters
    ----------
    folder : Path

    Returns
    -------
    str
    """
    h = hashlib.sha256()
    seen = set()  # real folders listed: a symlink loop is listed once, not without end
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames
                             if os.path.realpath(os.path.join(dirpath, d)) not in seen)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                size = path.stat().st_size
            except OSError:
                size = -1
            h.update(f"{path.relative_to(folder).as_posix()}\t{size}\n".encode("utf-8"))
    return h.hexdigest()


def data_fingerprint(ws: Workspace, datasets) -> dict:
    """What identifies the data a run reads.

    Parameters
    ----------
    ws : Workspace
    datasets : sequence of str
        The datasets the run reads (nothing read: an empty fingerprint).

    Returns
    -------
    dict
        Demo: the content hash of the generated data's marker ``DEMO_DATA.json`` (seed, scale,
        version, counts). Paper: per dataset, the content hashes of its index files
        (:data:`sadutils.data.loaders.INDEX_FILES`) and a hash of the listing of its folder;
        ``"missing"`` for a folder that does not exist.
    """
    if not datasets:
        return {}
    if ws.name == "demo":
        marker = ws.data / MARKER_NAME
        return {"demo_marker": file_sha256(marker) if marker.is_file() else "missing"}
    out = {}
    for name in datasets:
        folder = ws.dataset_dir(name)
        if not folder.is_dir():
            out[name] = "missing"
            continue
        files = {f: file_sha256(folder / f) for f in INDEX_FILES.get(name, ())
                 if (folder / f).is_file()}
        out[name] = {"files": files, "listing": listing_fingerprint(folder)}
    return out


def notebook_fingerprint(path: Path) -> str:
    """Hash of a notebook's cells (type, source, tags); outputs and metadata do not count.

    Parameters
    ----------
    path : Path

    Returns
    -------
    str
    """
    nb = nbformat.read(str(path), as_version=4)
    return sha([(c.cell_type, c.source, sorted(c.get("metadata", {}).get("tags", [])))
                for c in nb.cells])


def notebook_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters``.

    Read with Python's parser (papermill's own inspector misreads some commented lines).

    Parameters
    ----------
    path : Path

    Returns
    -------
    set of str
        Empty when there is no such cell.

    Raises
    ------
    ValueError
        When the parameters cell is not plain Python.
    """
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError as exc:
                raise ValueError(f"{path}: the parameters cell is not plain Python ({exc})") \
                    from None
            names = set()
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, ast.AnnAssign) else []
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            names.add(name.id)
            return names
    return set()


def notebook_defaults(path: Path) -> dict:
    """The literal default values of the notebook's ``parameters`` cell.

    Parameters
    ----------
    path : Path

    Returns
    -------
    dict
        ``name -> value`` for each ``name = <Python literal>`` line; names assigned anything
        else are left out.
    """
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return {}
            out = {}
            for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name):
                    try:
                        out[node.targets[0].id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, RecursionError):
                        continue
            return out
    return {}


def paired_script_differs(ipynb: Path) -> bool:
    """Whether the notebook's jupytext pair ``<name>.py`` exists and has other code cells.

    Parameters
    ----------
    ipynb : Path

    Returns
    -------
    bool
    """
    script = ipynb.with_suffix(".py")
    if not script.is_file():
        return False

    def code(nb):
        return [c.source.strip() for c in nb.cells if c.cell_type == "code"]

    try:
        return code(jupytext.read(script)) != code(nbformat.read(str(ipynb), as_version=4))
    except Exception:  # noqa: BLE001 - a check for a warning only
        return False
