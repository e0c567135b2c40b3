"""The fixed cost of one notebook run, which one job per training seed pays once per seed.

A probe notebook is executed the way ``sadutils reproduce`` executes a run (papermill, the
runner's quiet kernel, :func:`sadutils.runner.notebook.execute_run`) and does what notebook 03
does before its first epoch: import the package and TensorFlow, start TensorFlow, read the
split and decode its images (from the image cache once it is filled), build and compile the
model. Each phase is timed from inside the kernel; the time before the first cell is the
kernel's start. Run twice (the first fills the cache); the second is the one reported.

Printed: each phase in seconds, the run's fixed cost (the whole probe run: papermill, kernel
start to model built, kernel shut down), and

* ``RATIO fixed / seed``: that cost against one demo seed's training (3 epochs, the newest
  record of the backbone when there is one, else not printed);
* ``EXTRA s``: what one job per seed adds to the demo's notebook time: each extra run pays the
  kernel, imports, TensorFlow start and decode again (the model is built once per seed
  either way), times the extra runs (4 backbones x 3 seeds + 3 seeds of 05 = 15 runs instead
  of 5).

    .venv/bin/python benchmarks/run_overhead.py [--backbone efficientnetv2b0] [--quick]

``--quick`` uses demo data at a fifth of the size in a temporary folder (about a minute);
without it, the demo workspace of ``$SADUTILS_DATA``/``$SADUTILS_RESULTS`` (made if absent).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from benchlib import machine_info  # the benchmarks' own helpers

#: Runs of notebook 03 and 05 in the demo before and after one job per seed.
RUNS_BEFORE, RUNS_AFTER = 5, 15

PROBE = [
    ("marks", "import json, time\nmarks = {'first cell': time.time()}"),
    ("imports", "from sadutils import backbones, experiments, inference, models, settings\n"
                "from sadutils.workspace import Workspace\nimport tensorflow as tf\n"
                "marks['imports'] = time.time()"),
    ("tensorflow", "tf.config.list_physical_devices()\n_ = tf.reduce_sum(tf.ones((8, 8)))\n"
                   "marks['tensorflow start'] = time.time()"),
    ("decode", "ws = Workspace.create(profile)\n"
               "recipe = settings.TrainSettings.resolve(ws.profile)\n"
               "split = experiments.training_split(ws)\n"
               "_, images, _ = inference.decode_manifest(split, recipe.image_size, ws.cache)\n"
               "marks['split and decode'] = time.time()"),
    ("build", "model = models.build_model(backbones.get(backbone), recipe.image_size, None,\n"
              "                           class_names=['sadness', 'others'])\n"
              "model.compile(optimizer='adagrad', loss='sparse_categorical_crossentropy')\n"
              "marks['model build'] = time.time()\n"
              "json.dump(marks, open(marks_file, 'w'))"),
]


def probe_notebook() -> nbformat.NotebookNode:
    params = new_code_cell('profile = "demo"\nbackbone = "efficientnetv2b0"\nmarks_file = ""')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# Fixed cost of a run"), params,
                             *[new_code_cell(code) for _, code in PROBE]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def run_probe(folder: Path, backbone: str) -> dict:
    """One probe run: seconds per phase (``kernel start`` from papermill's call)."""
    from sadutils.runner.notebook import execute_run
    from sadutils.runner.steps import NotebookRun

    source, output = folder / "probe.ipynb", folder / "probe-out.ipynb"
    nbformat.write(probe_notebook(), str(source))
    marks_file = folder / "marks.json"
    t0 = time.time()
    outcome = execute_run(NotebookRun("probe", "probe"), source, output,
                          {"profile": "demo", "backbone": backbone,
                           "marks_file": str(marks_file)}, "benchmark", None,
                          log=folder / "probe.log")
    if outcome.status != "ran":
        raise SystemExit(f"the probe failed: {outcome.error} (log {folder / 'probe.log'})")
    marks = json.loads(marks_file.read_text())
    phases, last = {}, t0
    for name, at in [("kernel start", marks["first cell"]),
                     *[(k, v) for k, v in marks.items() if k != "first cell"]]:
        phases[name] = at - last
        last = at
    phases["wall"] = outcome.wall_s
    return phases


def seed_training_s(backbone: str) -> float | None:
    """Wall time of the newest demo training record of ``backbone`` (one seed), if any."""
    from sadutils.records import latest
    from sadutils.workspace import Workspace

    record = latest(Workspace.create("demo"), "train", backbone=backbone)
    return None if record is None else float(record.provenance.get("wall_s") or 0) or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="efficientnetv2b0")
    parser.add_argument("--quick", action="store_true",
                        help="demo data at scale 0.2 in a temporary folder")
    parser.add_argument("--tiny", action="store_true", help="same as --quick (test suite)")
    args = parser.parse_args()
    from sadutils.workspace import benchmarks_dir
    out = benchmarks_dir()  # before --quick points the roots at a temporary folder
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.quick or args.tiny:
            from sadutils.demo import ensure_demo_data
            os.environ["SADUTILS_DATA"] = str(folder / "data")
            os.environ["SADUTILS_RESULTS"] = str(folder / "results")
            ensure_demo_data(folder / "data" / "demo", seed=1234, scale=0.2, progress=False)
        first = run_probe(folder, args.backbone)
        second = run_probe(folder, args.backbone)
        seed_s = None if (args.quick or args.tiny) else seed_training_s(args.backbone)
    # The run's wall time also holds papermill's own work (reading and writing the notebook,
    # shutting the kernel down), which the phases inside the kernel do not see.
    fixed = second["wall"]
    per_extra_run = fixed - second["model build"]
    info = machine_info()
    print(f"machine: {info.get('cpu') or info}")
    for name in second:
        print(f"  {name:<18} first run {first[name]:6.1f} s   second run {second[name]:6.1f} s")
    print(f"FIXED {fixed:.1f} s per run (papermill's call to the kernel's end, model built); "
          f"{per_extra_run:.1f} s of it paid again by each extra run")
    print(f"EXTRA {(RUNS_AFTER - RUNS_BEFORE) * per_extra_run:.0f} s of notebook time in the "
          f"demo ({RUNS_AFTER - RUNS_BEFORE} more runs); about half that in wall time with "
          "--jobs 2")
    if seed_s:
        print(f"RATIO fixed / seed {fixed / seed_s:.2f} (one seed's training: {seed_s:.0f} s)")
    from sadutils.fileio import write_json
    path = write_json(out / "run_overhead.json",
                      {"machine": info, "first": first, "second": second, "fixed_s": fixed,
                       "per_extra_run_s": per_extra_run, "seed_s": seed_s,
                       "backbone": args.backbone})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
