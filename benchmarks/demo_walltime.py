"""Wall time of the demo pipeline: every notebook of ``sadutils reproduce`` and the book build.

By default it reads the per-notebook times of the last demo reproduce from
``results/demo/reproduce.json`` (written by ``sadutils reproduce``) and times one book build now.
With ``--run`` it first runs ``sadutils reproduce --profile demo --force`` (about 10 minutes on
2 cores) so that every notebook is timed in this run. Target: reproduce + book under 15 minutes
on 2 cores.

    python benchmarks/demo_walltime.py           # last reproduce's times + a book build now
    python benchmarks/demo_walltime.py --run     # re-run the whole demo first
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib as bl

TARGET_MINUTES = 15.0


def main(argv=None) -> int:
    p = bl.base_parser(__doc__.splitlines()[0])
    p.add_argument("--run", action="store_true",
                   help="run `sadutils reproduce --profile demo --force` first (slow)")
    p.add_argument("--no-book", action="store_true", help="do not time a book build")
    args = p.parse_args(argv)
    sys.path.insert(0, str(bl.REPO))
    from sadutils.workspace import results_home

    bl.print_header("Demo pipeline wall time", args)
    python = Path(sys.executable)
    if args.run and not args.tiny:
        subprocess.run([str(python.with_name("sadutils")), "reproduce", "--profile", "demo",
                        "--force"], check=True, cwd=bl.REPO)
    state_file = results_home() / "demo" / "reproduce.json"
    if not state_file.is_file():
        print(f"no {state_file}: run `sadutils reproduce --profile demo` (or this script with "
              "--run) first")
        return 1
    state = json.loads(state_file.read_text())
    results = bl.Results("demo_walltime", args, key=("step",))
    rows = []
    for name, run in state.get("runs", {}).items():
        if run.get("wall_s") is not None:
            rows.append(results.add(step=name, wall_s=round(float(run["wall_s"]), 1),
                                    status=run.get("status"),
                                    finished_at=run.get("finished_at"), source="reproduce.json"))
    if not args.no_book and not args.tiny:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run([str(python.with_name("jupyter-book")), "build", "book", "--path-output",
                            tmp, "-W", "-n", "--keep-going", "-q"], check=True, cwd=bl.REPO,
                           stdout=subprocess.DEVNULL)
            rows.append(results.add(step="book build", wall_s=round(time.perf_counter() - t0, 1),
                                    status="ok", source="timed now"))
    total = sum(r["wall_s"] for r in rows)
    rows.append(results.add(step="total", wall_s=round(total, 1), status="",
                            source="sum of the above"))
    bl.print_table(rows, ["step", "wall_s", "status", "source"])
    minutes = total / 60
    bl.ratio_line("demo notebooks + book, minutes", minutes,
                  f"{len(rows) - 1} steps", f"< {TARGET_MINUTES:g}", minutes < TARGET_MINUTES)
    results.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
