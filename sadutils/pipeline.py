"""End-to-end steps that chain the other modules: getting the demo data ready, running notebooks.

Each function here is a whole step a user (or the ``sadutils`` command line) runs in one go; the
pieces it chains live in their own modules (:mod:`sadutils.demo`, :mod:`sadutils.download`,
:mod:`sadutils.datasets`). :func:`reproduce` (``sadutils reproduce``) runs the notebooks of
``notebooks/`` with papermill, in dependency order, skipping those whose inputs did not change.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import config, demo, download

# ============================================================================================
# Demo data
# ============================================================================================

#: Threads for "downloading" the demo's file:// URLs: local copies, so a couple suffice.
DEMO_DOWNLOAD_WORKERS = 2
#: The demo's WEBEmo-like list files, downloaded in this order into one images/ folder.
DEMO_WEBEMO_LISTS = ("train25.txt", "test25.txt")


def ensure_demo_data(out_dir=None, seed: int = 1234, scale: float = 1.0, force: bool = False,
                     progress: bool = True) -> dict[str, Path]:
    """Make the demo datasets ready to load, exactly as a user's real data would be.

    Generates the synthetic datasets (:func:`sadutils.demo.generate_demo_data`), then downloads
    the images of the WEBEmo-like lists (``file://`` URLs into the generated "CDN") with
    :func:`sadutils.download.download_webemo`, both lists into the same ``webemo/images/`` so
    that :func:`sadutils.datasets.load_webemo` finds them, just as it would after downloading
    the real WEBEmo. Dead URLs and corrupt files planted by the generator end up in
    ``webemo/downloads.csv`` with their failure status, not in ``images/``.

    Both steps are resumable: the generator reuses a finished set with the same seed and scale
    (unless ``force``), and the downloader skips files it already has, so a second call only
    checks and returns.

    Parameters
    ----------
    out_dir : path, optional
        Where to put the demo data; default ``config.DEMO.data_root()`` (``data/demo``).
    seed, scale, force
        Passed to :func:`~sadutils.demo.generate_demo_data` (``scale`` multiplies every count).
    progress : bool
        Show download progress bars.

    Returns
    -------
    dict
        Dataset name (``webemo``, ``unbiasedemo``, ``emotion6``, ``cocotext``, ``rgp``) to the
        root folder its loader takes.
    """
    out_dir = Path(out_dir) if out_dir is not None else config.DEMO.data_root()
    roots = demo.generate_demo_data(out_dir, seed=seed, scale=scale, force=force)
    webemo = roots["webemo"]
    for name in DEMO_WEBEMO_LISTS:
        download.download_webemo(webemo / name, webemo, workers=DEMO_DOWNLOAD_WORKERS,
                                 retries=0, progress=progress)
    return roots


# ============================================================================================
# Notebooks: `sadutils reproduce`
# ============================================================================================
#
# Each notebook run has a *key*: a hash of everything that can change what it produces: the
# notebook's cells, its parameters, the sadutils source, the data it reads (the demo marker, or
# the real datasets' list/annotation files and image listings) and which executions of the runs
# it depends on it would read (each successful execution gets a new id, so a dependency that
# ran again, for whatever reason, makes its dependents run again: their results never mix an
# old upstream with a new one). The keys of the last runs are kept in
# <results>/<profile>/reproduce.json; a run whose key is unchanged (and whose executed notebook
# is still there) is skipped. File dates play no part.

#: Annotation and list files of the real datasets, hashed by content (images: by listing).
DATA_FILES = {
    "webemo": ("category.txt", "train25.txt", "test25.txt"),
    "cocotext": ("cocotext.v2.json",),
    "emotion6": ("ground_truth.txt",),
    "unbiasedemo": (),
    "rgp": (),
}
STATE_VERSION = 1
#: A notebook declaring this parameter is given the path of its executed copy.
NOTEBOOK_PARAMETER = "notebook_name"


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
        Datasets it reads (part of its key with the paper profile).
    """

    name: str
    notebook: str
    parameters: dict = field(default_factory=dict)
    depends: tuple = ()
    datasets: tuple = ()


def default_runs() -> list[NotebookRun]:
    """The companion's notebooks in dependency order: 01 -> 02 -> 03 (per backbone), 02 -> 05,
    01 + 03 + 05 -> 04."""
    trains = [NotebookRun(f"03_train-{b}", "03_train", {"backbone": b}, ("02_filtering",),
                          ("webemo",)) for b in config.BACKBONES]
    return [
        NotebookRun("01_text_classifier", "01_text_classifier", {}, (), ("cocotext", "rgp")),
        NotebookRun("02_filtering", "02_filtering", {}, ("01_text_classifier",), ("webemo",)),
        *trains,
        NotebookRun("05_no_pretrain", "05_no_pretrain", {}, ("02_filtering",), ("webemo",)),
        NotebookRun("04_cross_dataset", "04_cross_dataset", {},
                    ("01_text_classifier", *(t.name for t in trains), "05_no_pretrain"),
                    ("unbiasedemo", "emotion6")),
    ]


def _sha(data) -> str:
    if not isinstance(data, bytes):
        data = json.dumps(data, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def package_fingerprint() -> str:
    """Hash of the sadutils source: every ``.py`` file of the package and ``paper_tables.csv``."""
    package = Path(__file__).resolve().parent
    files = sorted(p for p in package.rglob("*")
                   if p.is_file() and (p.suffix == ".py" or p.name == "paper_tables.csv")
                   and "__pycache__" not in p.parts)
    return _sha([(p.relative_to(package).as_posix(), download.file_sha256(p)) for p in files])


def _listing(folder: Path) -> str:
    """Hash of the relative paths and sizes of the files under ``folder`` (not their content)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                size = path.stat().st_size
            except OSError:
                size = -1
            h.update(f"{path.relative_to(folder).as_posix()}\t{size}\n".encode("utf-8"))
    return h.hexdigest()


def data_fingerprint(profile: str, datasets=config.DATASETS, data_root=None) -> dict:
    """What identifies the input data of a run, per dataset.

    Demo: the content of the generated data's marker ``DEMO_DATA.json`` (seed, scale, version,
    counts), the same for every dataset. Paper: for each dataset, the content hashes of its list
    and annotation files (:data:`DATA_FILES`) and a hash of the listing (relative path and size)
    of every other file under its folder; ``"missing"`` for a folder that does not exist.
    """
    prof = config.get_profile(profile)
    root = Path(data_root) if data_root is not None else prof.data_root()
    if prof.name == "demo":
        marker = root / demo.MARKER_NAME
        return {"demo_marker": download.file_sha256(marker) if marker.is_file() else "missing"}
    out = {}
    for name in datasets:
        folder = root / name
        if not folder.is_dir():
            out[name] = "missing"
            continue
        files = {f: download.file_sha256(folder / f) for f in DATA_FILES.get(name, ())
                 if (folder / f).is_file()}
        out[name] = {"files": files, "listing": _listing(folder)}
    return out


def notebook_fingerprint(path: Path) -> str:
    """Hash of a notebook's cells (type and source); outputs and metadata do not count."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return _sha([(c.cell_type, c.source, sorted(c.get("metadata", {}).get("tags", [])))
                 for c in nb.cells])


def notebook_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (empty set: no such cell).

    Read with Python's parser (papermill's own inspector misreads some commented lines)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:  # e.g. IPython magics: let papermill try
                import papermill

                return set(papermill.inspect_notebook(str(path)))
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


def _paired_script_differs(ipynb: Path) -> bool:
    """Whether the jupytext pair ``<name>.py`` exists and has other code cells."""
    script = ipynb.with_suffix(".py")
    if not script.is_file():
        return False
    import jupytext
    import nbformat

    def code(nb):
        return [c.source.strip() for c in nb.cells if c.cell_type == "code"]

    try:
        return code(jupytext.read(script)) != code(nbformat.read(str(ipynb), as_version=4))
    except Exception:  # noqa: BLE001 - a check for a warning only
        return False


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
    """A ``-p`` value: ``None``/``null``, ``true``/``false`` (any case), a Python literal
    (number, string in quotes, list, dict; numbers may be fractions such as ``1/3``), else the
    text itself."""
    stripped = text.strip()
    low = stripped.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return _literal(ast.parse(stripped, mode="eval").body)
    except (ValueError, SyntaxError, ZeroDivisionError, TypeError):
        return text


def parse_override(text: str) -> tuple[str, str, object]:
    """``"NOTEBOOK:NAME=VALUE"`` -> ``(NOTEBOOK, NAME, value)``."""
    target, sep, assignment = text.partition(":")
    name, eq, value = assignment.partition("=")
    if not sep or not eq or not target.strip() or not name.strip().isidentifier():
        raise ValueError(f"parameter {text!r} is not of the form NOTEBOOK:NAME=VALUE "
                         f"(e.g. 04_cross_dataset:sadness_fraction=0.33)")
    return target.strip(), name.strip(), parse_value(value)


def _match(target: str, runs, what: str) -> list[NotebookRun]:
    """Runs named ``target``, or all runs of the notebook ``target`` (a ``.ipynb`` suffix is
    allowed)."""
    target = target[:-len(".ipynb")] if target.endswith(".ipynb") else target
    found = [r for r in runs if r.name == target] or [r for r in runs if r.notebook == target]
    if not found:
        names = list(dict.fromkeys([r.name for r in runs] + [r.notebook for r in runs]))
        raise ValueError(f"unknown notebook {target!r} in {what}; valid names: {', '.join(names)}")
    return found


def _check_graph(runs) -> None:
    seen = set()
    for run in runs:
        if run.name in seen:
            raise ValueError(f"two runs are named {run.name!r}")
        missing = [d for d in run.depends if d not in seen]
        if missing:
            raise ValueError(f"run {run.name!r} depends on {', '.join(missing)}, which must come "
                             "before it in the list of runs")
        seen.add(run.name)


def _first_line(source: str) -> str:
    for line in str(source).splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


@dataclass
class RunOutcome:
    """What happened to one notebook run: ``ran``, ``skipped``, ``failed`` or ``blocked``
    (not run because a run it depends on failed or was blocked)."""

    name: str
    status: str
    reason: str = ""
    wall_s: float | None = None
    output: Path | None = None
    error: str | None = None
    #: The failing cell: index in the executed notebook and the first line of its source.
    cell_index: int | None = None
    cell_source: str | None = None


@dataclass
class ReproduceResult:
    profile: str
    outcomes: list[RunOutcome]
    state_file: Path

    @property
    def ok(self) -> bool:
        return all(o.status in ("ran", "skipped") for o in self.outcomes)

    def by_name(self) -> dict[str, RunOutcome]:
        return {o.name: o for o in self.outcomes}

    def table(self):
        import pandas as pd

        return pd.DataFrame([{"notebook": o.name, "status": o.status,
                              "time": "" if o.wall_s is None else f"{o.wall_s:.1f} s",
                              "why": o.error if o.status == "failed" else o.reason,
                              "executed notebook": "" if o.output is None else str(o.output)}
                             for o in self.outcomes])


def _read_state(path: Path, profile: str) -> dict:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("version") == STATE_VERSION and isinstance(state.get("runs"), dict):
            return state
    except (OSError, ValueError):
        pass
    return {"version": STATE_VERSION, "profile": profile, "runs": {}}


def _write_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".reproduce.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=2, sort_keys=True, default=str)
        fh.write("\n")
    os.replace(tmp, path)


def _why(prev: dict | None, inputs: dict, output: Path, force: bool) -> str | None:
    """Why a run must run (``None``: it can be skipped)."""
    if force:
        return "forced"
    if not prev:
        return "never run"
    if prev.get("status") != "ok":
        return "last run failed"
    old = prev.get("inputs") or {}
    changed = [label for key, label in (("notebook", "notebook"), ("parameters", "parameters"),
                                        ("code", "sadutils code"), ("data", "data"),
                                        ("depends", "upstream results"))
               if old.get(key) != inputs[key]]
    if changed:
        return ", ".join(changed) + " changed"
    if not output.is_file():
        return "executed notebook missing"
    return None


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def reproduce(profile: str = "demo", *, force: bool = False, only=None, overrides=(),
              runs=None, notebooks_dir=None, executed_dir=None, state_file=None,
              data_key=None, code_key: str | None = None, ensure_data: bool = True,
              kernel_name: str | None = None, echo=print) -> ReproduceResult:
    """Run the notebooks with papermill in dependency order, skipping those whose inputs did not
    change since their last successful run.

    Parameters
    ----------
    profile : {"demo", "paper"}
        Passed to every notebook as its ``profile`` parameter. With ``demo`` the demo data is
        generated first (when ``ensure_data``; a no-op when it is ready).
    force : bool
        Run every selected notebook even if up to date.
    only : list of str, optional
        Run only these (run names like ``03_train-xception`` or notebook names like
        ``03_train``, which select all its runs). The runs they depend on are not run; their
        last successful results are used.
    overrides : iterable of str or (notebook, name, value)
        Extra parameters ``NOTEBOOK:NAME=VALUE``; NOTEBOOK is a run or notebook name, NAME must
        be a parameter of that notebook's ``parameters`` cell.
    runs : list of NotebookRun, optional
        The runs and their dependencies (default :func:`default_runs`), in dependency order.
    notebooks_dir, executed_dir, state_file
        Defaults: ``<repo>/notebooks``, ``<repo>/book/executed`` (where the book's table of
        contents picks the executed notebooks up) and ``<results>/<profile>/reproduce.json``.
    data_key : callable, optional
        ``data_key(run) -> JSON-able`` identifying a run's input data; default
        :func:`data_fingerprint` of the run's datasets.
    code_key : str, optional
        Identifies the sadutils code; default :func:`package_fingerprint`.
    echo : callable
        Receives the progress lines and the summary (default ``print``).

    Returns
    -------
    ReproduceResult
        One outcome per selected run. A failed run (papermill's ``PapermillExecutionError``)
        names its failing cell; the runs depending on it are ``blocked``; independent runs
        still run.
    """
    import papermill

    prof = config.get_profile(profile)
    runs = list(default_runs() if runs is None else runs)
    _check_graph(runs)
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None \
        else config.repo_root() / "notebooks"
    executed_dir = Path(executed_dir) if executed_dir is not None \
        else config.repo_root() / "book" / "executed"
    state_file = Path(state_file) if state_file is not None \
        else prof.results_root() / "reproduce.json"

    selected = runs
    if only:
        names = {r.name for target in only for r in _match(target, runs, "--only")}
        selected = [r for r in runs if r.name in names]
    extra: dict[str, dict] = {r.name: {} for r in runs}
    for item in overrides or ():
        target, name, value = parse_override(item) if isinstance(item, str) else item
        for r in _match(target, runs, "-p"):
            extra[r.name][name] = value

    # Everything checkable is checked before anything runs.
    sources = {}
    for run in selected:
        path = notebooks_dir / f"{run.notebook}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"notebook {path} not found (needed by run {run.name})")
        sources[run.name] = path
    declared = {}
    for run in selected:
        if run.notebook not in declared:
            declared[run.notebook] = notebook_parameters(sources[run.name])
        wanted = {**run.parameters, **extra[run.name]}
        unknown = sorted(set(wanted) - declared[run.notebook])
        if unknown:
            raise ValueError(
                f"notebook {run.notebook} has no parameter(s) {', '.join(unknown)} in its "
                f"'parameters' cell; its parameters: {', '.join(sorted(declared[run.notebook]))}")
    for notebook in declared:
        path = notebooks_dir / f"{notebook}.ipynb"
        if _paired_script_differs(path):
            echo(f"warning: {_relative(path.with_suffix('.py'))} and {path.name} differ; "
                 f"running the .ipynb (sync them: jupytext --sync {_relative(path)})")

    if prof.name == "demo" and ensure_data:
        echo("demo data: checking (generated on first use, then reused) ...")
        ensure_demo_data(progress=sys.stderr.isatty())
    code_key = package_fingerprint() if code_key is None else code_key
    if data_key is None:
        def data_key(run):
            return data_fingerprint(prof.name, run.datasets)

    state = _read_state(state_file, prof.name)
    executed_dir.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, RunOutcome] = {}
    n = len(selected)
    for i, run in enumerate(selected, 1):
        label = f"[{i}/{n}] {run.name}"
        output = executed_dir / f"{run.name}.ipynb"
        bad = [d for d in run.depends
               if d in outcomes and outcomes[d].status in ("failed", "blocked")]
        if bad:
            outcomes[run.name] = RunOutcome(run.name, "blocked",
                                            f"{', '.join(bad)} failed or was blocked")
            echo(f"{label}: blocked (depends on {', '.join(bad)}, which did not finish)")
            continue
        for d in run.depends:
            if d not in outcomes and (state["runs"].get(d) or {}).get("status") != "ok":
                echo(f"{label}: note: {d} has no successful run; running {run.name} anyway")
        parameters = {"profile": prof.name, **run.parameters, **extra[run.name]}
        inputs = {
            "notebook": notebook_fingerprint(sources[run.name]),
            "parameters": parameters,
            "code": code_key,
            "data": data_key(run),
            "depends": {d: (state["runs"].get(d) or {}).get("execution")
                        if (state["runs"].get(d) or {}).get("status") == "ok" else None
                        for d in run.depends},
        }
        inputs = json.loads(json.dumps(inputs, sort_keys=True, default=str))
        key = _sha(inputs)
        prev = state["runs"].get(run.name)
        why = _why(prev, inputs, output, force)
        if why is None:
            outcomes[run.name] = RunOutcome(run.name, "skipped", "up to date",
                                            output=output)
            echo(f"{label}: skip (up to date)")
            continue
        echo(f"{label}: run ({why}) ...")
        if NOTEBOOK_PARAMETER in declared[run.notebook] and NOTEBOOK_PARAMETER not in parameters:
            # Lets its records point at the executed copy; not part of the key (it follows
            # from the run's name).
            parameters[NOTEBOOK_PARAMETER] = str(output)
        t0 = time.perf_counter()
        outcome = RunOutcome(run.name, "ran", why, output=output)
        try:
            nb = sources[run.name]
            papermill.execute_notebook(
                str(nb), str(output), parameters=parameters, cwd=str(nb.parent),
                kernel_name=kernel_name or _kernel_name(nb), progress_bar=False,
                log_output=False)
        except papermill.PapermillExecutionError as exc:
            outcome.status = "failed"
            outcome.cell_index, outcome.cell_source = exc.cell_index, _first_line(exc.source)
            outcome.error = (f"cell {exc.cell_index} (`{outcome.cell_source}`): "
                             f"{exc.ename}: {_first_line(exc.evalue)}")
        except Exception as exc:  # noqa: BLE001 - a dead kernel, a missing kernel, a timeout...
            outcome.status = "failed"
            outcome.error = f"{type(exc).__name__}: {_first_line(str(exc)) or repr(exc)}"
        outcome.wall_s = time.perf_counter() - t0
        outcomes[run.name] = outcome
        state["runs"][run.name] = {
            "key": key, "status": "ok" if outcome.status == "ran" else "failed",
            "execution": uuid.uuid4().hex,
            "inputs": inputs, "output": str(output), "wall_s": round(outcome.wall_s, 3),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "error": outcome.error,
        }
        _write_state(state_file, state)
        if outcome.status == "failed":
            echo(f"{label}: FAILED after {outcome.wall_s:.1f} s in {outcome.error}\n"
                 f"    the executed notebook, with the traceback: {_relative(output)}")
        else:
            echo(f"{label}: ran in {outcome.wall_s:.1f} s -> {_relative(output)}")

    result = ReproduceResult(prof.name, [outcomes[r.name] for r in selected], state_file)
    echo("")
    echo(_summary(result))
    return result


def _kernel_name(notebook: Path) -> str:
    """The notebook's own kernel, or ``python3``."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
        return meta.get("kernelspec", {}).get("name") or "python3"
    except (OSError, ValueError):
        return "python3"


def _summary(result: ReproduceResult) -> str:
    """The summary table: one line per notebook, then the totals."""
    rows = [(o.name, o.status, "" if o.wall_s is None else f"{o.wall_s:.1f} s",
             o.error if o.status == "failed" else o.reason) for o in result.outcomes]
    head = ("notebook", "status", "time", "why")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head[:3])]
    lines = [f"Summary (profile {result.profile}):",
             "  " + "  ".join(h.ljust(w) for h, w in zip(head[:3], widths)) + "  " + head[3]]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3]
              for r in rows]
    counts = {}
    for o in result.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    total = sum(o.wall_s or 0 for o in result.outcomes)
    lines.append("  " + ", ".join(f"{v} {k}" for k, v in counts.items())
                 + f"; {total:.1f} s in notebooks; state: {_relative(result.state_file)}")
    return "\n".join(lines)
