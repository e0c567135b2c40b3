"""The notebook graph, declared as data, and the parameters given to its runs.

``notebooks/pipeline.yml`` lists the notebooks in the order ``sadutils reproduce`` runs them,
what each reads and which notebooks' results it depends on; a step marked ``per: backbone``
becomes one run per backbone. :func:`load_runs` turns that file into :class:`NotebookRun`
objects; nothing else in the runner knows the notebooks by name.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import backbones
from ..config import DATASETS
from ..workspace import notebooks_dir

#: The graph file, in the notebooks folder.
STEPS_FILE = "pipeline.yml"
#: Keys a step may have.
STEP_KEYS = ("notebook", "after", "reads", "per")
#: What ``per`` can expand over.
PER = ("backbone",)


@dataclass(frozen=True)
class NotebookRun:
    """One papermill run of a notebook.

    Attributes
    ----------
    name : str
        Run name, also the executed notebook's file name (``03_train-xception``).
    notebook : str
        File name without extension of the notebook in ``notebooks/`` (``03_train``).
    parameters : dict
        Parameters of this run (besides ``profile``, which every run gets).
    depends : tuple of str
        Names of the runs whose outputs this run reads.
    datasets : tuple of str
        Datasets it reads (part of its key under the paper profile).
    """

    name: str
    notebook: str
    parameters: dict = field(default_factory=dict)
    depends: tuple = ()
    datasets: tuple = ()


def _list(step: dict, key: str, where: str) -> list[str]:
    value = step.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: '{key}' must be a list of names, got {value!r}")
    return value


def load_runs(path=None, backbone_names=None) -> list[NotebookRun]:
    """The runs of the notebook graph, in order.

    Parameters
    ----------
    path : path, optional
        The graph file; default ``notebooks/pipeline.yml``.
    backbone_names : sequence of str, optional
        The backbones a ``per: backbone`` step runs for; default the paper's four. Each is
        checked against the registry.

    Returns
    -------
    list of NotebookRun

    Raises
    ------
    ValueError
        For a malformed file (naming it and the step), an unknown backbone, dataset or
        dependency, or a dependency listed after its dependent.
    """
    path = Path(path) if path is not None else notebooks_dir() / STEPS_FILE
    names = [backbones.get(b).name for b in (backbone_names or backbones.PAPER_BACKBONES)]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the notebook graph ({exc})") from None
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        raise ValueError(f"{path}: expected a 'steps:' list")
    runs, expanded = [], {}
    for i, step in enumerate(steps, 1):
        where = f"{path}, step {i}"
        if not isinstance(step, dict) or not isinstance(step.get("notebook"), str):
            raise ValueError(f"{where}: each step needs 'notebook: <name>'")
        unknown = set(step) - set(STEP_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; keys: "
                             f"{', '.join(STEP_KEYS)}")
        notebook = step["notebook"]
        reads = _list(step, "reads", where)
        bad = [d for d in reads if d not in DATASETS]
        if bad:
            raise ValueError(f"{where}: unknown dataset(s) {', '.join(bad)}; datasets: "
                             f"{', '.join(DATASETS)}")
        depends = []
        for other in _list(step, "after", where):
            if other not in expanded:
                raise ValueError(f"{where}: {notebook} runs after {other}, which is not an "
                                 "earlier step")
            depends += expanded[other]
        per = step.get("per")
        if per is not None and per not in PER:
            raise ValueError(f"{where}: 'per' must be one of {', '.join(PER)}, got {per!r}")
        if per == "backbone":
            new = [NotebookRun(f"{notebook}-{b}", notebook, {"backbone": b}, tuple(depends),
                               tuple(reads)) for b in names]
        else:
            new = [NotebookRun(notebook, notebook, {}, tuple(depends), tuple(reads))]
        expanded[notebook] = [r.name for r in new]
        runs += new
    try:
        check_graph(runs)
    except ValueError as exc:  # a notebook listed twice
        raise ValueError(f"{path}: {exc}") from None
    return runs


def check_graph(runs) -> None:
    """Refuse a list of runs with a repeated name or a dependency that does not come first.

    Parameters
    ----------
    runs : list of NotebookRun

    Raises
    ------
    ValueError
    """
    seen = set()
    for run in runs:
        if run.name in seen:
            raise ValueError(f"two runs are named {run.name!r}")
        missing = [d for d in run.depends if d not in seen]
        if missing:
            raise ValueError(f"run {run.name!r} depends on {', '.join(missing)}, which must come "
                             "before it in the list of runs")
        seen.add(run.name)


def match_runs(target: str, runs, what: str) -> list[NotebookRun]:
    """The runs named ``target``, or all runs of the notebook ``target``.

    Parameters
    ----------
    target : str
        A run name (``03_train-xception``) or notebook name (``03_train``; ``.ipynb`` allowed).
    runs : list of NotebookRun
    what : str
        The option being resolved, for the message (``--only``, ``-p``).

    Returns
    -------
    list of NotebookRun

    Raises
    ------
    ValueError
        Naming the valid names.
    """
    target = target[:-len(".ipynb")] if target.endswith(".ipynb") else target
    found = [r for r in runs if r.name == target] or [r for r in runs if r.notebook == target]
    if not found:
        names = list(dict.fromkeys([r.name for r in runs] + [r.notebook for r in runs]))
        raise ValueError(f"unknown notebook {target!r} in {what}; valid names: {', '.join(names)}")
    return found


_ARITHMETIC = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
               ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}


def _literal(node):
    """A Python literal whose numbers may be written as arithmetic (``1/3``); nothing else."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = _literal(node.left), _literal(node.right)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
            return _ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    raise ValueError("not a literal")


def parse_value(text: str):
    """A ``-p`` value as Python sees it.

    Parameters
    ----------
    text : str

    Returns
    -------
    object
        None for ``None``/``null``; a bool for ``true``/``false`` (any case); a Python
        literal (number, quoted string, list, dict; numbers may be fractions such as ``1/3``);
        else the text itself, without surrounding spaces.
    """
    stripped = text.strip()
    low = stripped.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return _literal(ast.parse(stripped, mode="eval").body)
    except (ValueError, SyntaxError, ZeroDivisionError, TypeError, RecursionError,
            MemoryError):
        return stripped


def parse_override(text: str) -> tuple[str, str, object]:
    """``"NOTEBOOK:NAME=VALUE"`` as ``(NOTEBOOK, NAME, value)``.

    Parameters
    ----------
    text : str

    Returns
    -------
    tuple

    Raises
    ------
    ValueError
        When the text is not of that form.
    """
    target, sep, assignment = text.partition(":")
    name, eq, value = assignment.partition("=")
    if not sep or not eq or not target.strip() or not name.strip().isidentifier():
        raise ValueError(f"parameter {text!r} is not of the form NOTEBOOK:NAME=VALUE "
                         f"(e.g. 04_cross_dataset:sadness_fraction=0.33)")
    return target.strip(), name.strip(), parse_value(value)
