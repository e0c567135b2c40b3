"""The notebook graph, declared as data, and the parameters given to its runs.

``notebooks/pipeline.yml`` lists the notebooks in the order ``sadutils reproduce`` runs them,
what each reads, which notebooks' results it depends on and whether it trains on a GPU; a step
marked ``per: [backbone, seed]`` becomes one run per backbone and training seed (and ``per:
[backbone, train_filter, seed]`` one per text filter too: the text ablation).
:func:`load_runs` turns that file into :class:`NotebookRun` objects; nothing else in the runner
knows the notebooks by name (the local scheduler and the Snakefile of
:mod:`sadutils.runner.snakemake` are both derived from them).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import backbones
from ..config import DATASETS
from ..config import PROFILES
from ..settings import TRAIN_FILTERS, check_parameter, seed_list
from ..workspace import notebooks_dir

#: The graph file, in the notebooks folder.
STEPS_FILE = "pipeline.yml"
#: Keys a step may have.
STEP_KEYS = ("notebook", "step", "after", "reads", "per", "values", "gpus")
#: What ``per`` can expand over, and the parameter each sets: ``backbone`` the backbone's name,
#: ``train_filter`` the text filter the training sample went through, ``seed`` a one-seed list
#: (``seeds = [1235]``, the notebook's own parameter).
PER = ("backbone", "train_filter", "seed")
#: What a step's ``values`` may set per profile (the seeds are ``--seeds``' alone).
VALUE_KEYS = ("backbone", "train_filter")


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
    gpus : int
        GPUs it asks for on a cluster (training: 1; the others run on CPUs only).
    fanned : dict
        The values it was fanned out over (``{"backbone": "xception", "seed": 1235}``).
    """

    name: str
    notebook: str
    parameters: dict = field(default_factory=dict)
    depends: tuple = ()
    datasets: tuple = ()
    gpus: int = 0
    fanned: dict = field(default_factory=dict, compare=False)

    @property
    def seed(self) -> int | None:
        """The training seed of a run fanned out over seeds, else None."""
        return self.fanned.get("seed")


def _list(step: dict, key: str, where: str) -> list[str]:
    value = step.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: '{key}' must be a list of names, got {value!r}")
    return value


def _per(step: dict, where: str) -> list[str]:
    per = step.get("per") or []
    per = [per] if isinstance(per, str) else per
    if not isinstance(per, list) or any(p not in PER for p in per) or len(set(per)) < len(per):
        raise ValueError(f"{where}: 'per' must be one or more of {', '.join(PER)}, got "
                         f"{step.get('per')!r}")
    return per


def _gpus(step: dict, where: str) -> int:
    gpus = step.get("gpus", 0)
    if not isinstance(gpus, int) or isinstance(gpus, bool) or not 0 <= gpus <= 8:
        raise ValueError(f"{where}: 'gpus' must be a whole number from 0 to 8, got {gpus!r}")
    return gpus


def _values(step: dict, profile: str, where: str) -> dict:
    """A step's own values of the keys it fans out over, for one profile (may be empty)."""
    given = step.get("values") or {}
    if not isinstance(given, dict) or set(given) - set(PROFILES):
        raise ValueError(f"{where}: 'values' must map a profile ({', '.join(PROFILES)}) to "
                         f"lists of values, got {given!r}")
    mine = given.get(profile) or {}
    if not isinstance(mine, dict) or set(mine) - set(VALUE_KEYS) \
            or not all(isinstance(v, list) and v for v in mine.values()):
        raise ValueError(f"{where}: 'values: {profile}:' must give non-empty lists for "
                         f"{' or '.join(VALUE_KEYS)}, got {mine!r}")
    try:
        out = {"backbone": [backbones.get(b).name for b in mine.get("backbone", [])]}
        for value in mine.get("train_filter", []):
            check_parameter("train_filter", value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return {**({"backbone": out["backbone"]} if out["backbone"] else {}),
            **({"train_filter": list(mine["train_filter"])} if "train_filter" in mine else {})}


def _fan_out(per: list[str], values: dict) -> list[dict]:
    """The fanned values of each run of a step, in the order of ``per`` (the first outside)."""
    combos = [{}]
    for key in per:
        combos = [{**c, key: v} for c in combos for v in values[key]]
    return combos


def _run_name(notebook: str, fanned: dict) -> str:
    parts = [notebook]
    if "backbone" in fanned:
        parts.append(fanned["backbone"])
    if "train_filter" in fanned:
        parts.append(f"filter-{fanned['train_filter']}")
    if "seed" in fanned:
        parts.append(f"seed{fanned['seed']}")
    return "-".join(parts)


def load_runs(path=None, backbone_names=None, seeds=None, profile="demo",
              train_filters=None) -> list[NotebookRun]:
    """The runs of the notebook graph, in order.

    A step with ``per: [backbone, seed]`` becomes one run per backbone and seed, named
    ``<notebook>-<backbone>-seed<seed>`` (``03_train-xception-seed1234``), with the parameters
    ``backbone`` and ``seeds = [seed]``; ``per: [backbone, train_filter, seed]`` one run per
    filter too (``03_train-efficientnetv2b0-filter-none-seed1234``, parameter
    ``train_filter``). A run that comes ``after`` a step fanned out over a key it shares (two
    steps per seed) depends only on that step's runs with its own value of the key; on all of
    the step's runs otherwise. A step is named by its ``step`` (default its notebook) in
    ``after`` lists, so that one notebook can be two steps (notebook 03 for Table 1 and for the
    text ablation).

    Parameters
    ----------
    path : path, optional
        The graph file; default ``notebooks/pipeline.yml``.
    backbone_names : sequence of str, optional
        The backbones a ``per: backbone`` step runs for; default the step's ``values`` for the
        profile, else the paper's four. Each is checked against the registry.
    seeds : None, int or list of int, optional
        The training seeds a ``per: seed`` step runs for, as the notebooks' ``seeds``
        parameter takes them (:func:`sadutils.settings.seed_list`): None the profile's number,
        N the profile's seed and the N-1 after it, or a list.
    profile : str
        Whose seeds (demo 3, paper 1) and whose step ``values``.
    train_filters : sequence of str, optional
        The filters a ``per: train_filter`` step runs for; default the step's ``values`` for
        the profile, else all of :data:`sadutils.settings.TRAIN_FILTERS`.

    Returns
    -------
    list of NotebookRun

    Raises
    ------
    ValueError
        For a malformed file (naming it and the step), an unknown backbone, dataset or
        dependency, bad seeds, or a dependency listed after its dependent.
    """
    path = Path(path) if path is not None else notebooks_dir() / STEPS_FILE
    asked = {}
    if backbone_names:
        asked["backbone"] = list(dict.fromkeys(backbones.get(b).name for b in backbone_names))
    if train_filters:
        for value in train_filters:
            check_parameter("train_filter", value)
        asked["train_filter"] = list(dict.fromkeys(train_filters))
    default = {"backbone": list(backbones.PAPER_BACKBONES), "train_filter": list(TRAIN_FILTERS),
               "seed": seed_list(profile, seeds)}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the notebook graph ({exc})") from None
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        raise ValueError(f"{path}: expected a 'steps:' list")
    runs: list[NotebookRun] = []
    expanded: dict[str, list[NotebookRun]] = {}
    for i, step in enumerate(steps, 1):
        where = f"{path}, step {i}"
        if not isinstance(step, dict) or not isinstance(step.get("notebook"), str):
            raise ValueError(f"{where}: each step needs 'notebook: <name>'")
        unknown = set(step) - set(STEP_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; keys: "
                             f"{', '.join(STEP_KEYS)}")
        notebook = step["notebook"]
        name = step.get("step", notebook)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: 'step' must be a name, got {name!r}")
        if name in expanded:
            raise ValueError(f"{where}: a step named {name!r} comes earlier (give this one its "
                             "own 'step: <name>')")
        reads = _list(step, "reads", where)
        bad = [d for d in reads if d not in DATASETS]
        if bad:
            raise ValueError(f"{where}: unknown dataset(s) {', '.join(bad)}; datasets: "
                             f"{', '.join(DATASETS)}")
        after = _list(step, "after", where)
        for other in after:
            if other not in expanded:
                raise ValueError(f"{where}: {step.get('step', notebook)} runs after {other}, "
                                 "which is not an earlier step")
        per, gpus = _per(step, where), _gpus(step, where)
        values = {**default, **_values(step, profile, where), **asked}
        new = []
        for fanned in _fan_out(per, values):
            depends = [r.name for other in after for r in expanded[other]
                       if all(r.fanned.get(k, v) == v for k, v in fanned.items())]
            parameters = {**({"backbone": fanned["backbone"]} if "backbone" in fanned else {}),
                          **({"train_filter": fanned["train_filter"]}
                             if "train_filter" in fanned else {}),
                          **({"seeds": [fanned["seed"]]} if "seed" in fanned else {})}
            new.append(NotebookRun(_run_name(notebook, fanned), notebook, parameters,
                                   tuple(depends), tuple(reads), gpus, fanned))
        expanded[name] = new
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
        A run name (``03_train-xception-seed1234``), the common start of a group of runs
        (``03_train-xception``: its seeds) or a notebook name (``03_train``; ``.ipynb``
        allowed).
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
    found = [r for r in runs if r.name == target] \
        or [r for r in runs if r.notebook == target or r.name.startswith(f"{target}-")]
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
