"""What durable writes cost: ``sadutils.fileio`` with its fsyncs vs the same writes without.

Every atomic write of the companion syncs the temporary file before the rename and its folder
after it (``sadutils.fileio.atomic_path``), so that a power cut leaves the old file or the new
one, never an empty one. This script times the same writes with the two syncs and with them
turned off (``sync_file``/``sync_folder`` replaced by no-ops in this process), interleaved round
by round: a results record (``write_json``, ~2 KB), a downloaded image (``atomic_path``,
~30 KB), a checkpoint (``atomic_path``, 8 MB), and the whole ``sadutils demo-data`` command
(generation and the WEBEmo-like "download", one atomic write per image). The ratio is the time
with syncs over the time without: 1.0 means durability is free, 2.0 that the writes take twice
as long.

    python benchmarks/durable_writes.py --quick      # ~30 s on 2 cores
    python benchmarks/durable_writes.py              # more writes, demo data at scale 0.3

The cost depends on the disk and the file system far more than on the CPU (a tmpfs syncs for
free, a network disk may take milliseconds per sync); ``--dir`` chooses where the files go
(default a temporary folder beside the results, i.e. on the disk the companion writes to).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import benchlib as bl

from sadutils import fileio
from sadutils.cli import main as sadutils_main


@contextlib.contextmanager
def without_sync():
    """``fileio`` without its fsyncs, for the reference side."""
    saved = fileio.sync_file, fileio.sync_folder
    fileio.sync_file = fileio.sync_folder = lambda path: None
    try:
        yield
    finally:
        fileio.sync_file, fileio.sync_folder = saved


def parse(argv=None):
    p = bl.base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--writes", type=int, default=None,
                   help="files written per round and case (default 1000; --quick 300)")
    p.add_argument("--scale", type=float, default=None,
                   help="demo-data --scale of the command case (default 0.3; --quick 0.1)")
    p.add_argument("--dir", default=None,
                   help="where to write (default a temporary folder under the results root)")
    args = p.parse_args(argv)
    bl.fill_defaults(args, tiny=dict(writes=5, scale=0.005, rounds=2),
                     quick=dict(writes=300, scale=0.1, rounds=5),
                     full=dict(writes=1000, scale=0.3, rounds=7))
    return args


def main(argv=None) -> int:
    args = parse(argv)
    base = Path(args.dir) if args.dir else bl.results_dir(args).parent
    base.mkdir(parents=True, exist_ok=True)
    bl.print_header("durable writes: fsync of file and folder vs none", args,
                    writes=args.writes, demo_scale=args.scale, rounds=args.rounds,
                    folder=str(base))
    results = bl.Results("durable_writes", args, key=("case",))
    payloads = {"record (2 KB)": os.urandom(1024).hex(),
                "image (30 KB)": os.urandom(30 * 1024),
                "checkpoint (8 MB)": os.urandom(8 * 2**20)}
    with tempfile.TemporaryDirectory(prefix="sadutils-bench-durable-", dir=base) as tmp:
        calls = {"n": 0}

        def write_case(name, payload, count, durable):
            def run():
                calls["n"] += 1
                folder = Path(tmp) / f"call{calls['n']}"
                with contextlib.nullcontext() if durable else without_sync():
                    for i in range(count):
                        if isinstance(payload, str):
                            fileio.write_json(folder / f"{i}.json", {"metrics": payload})
                        else:
                            with fileio.atomic_path(folder / f"{i}.bin") as part:
                                part.write_bytes(payload)
                shutil.rmtree(folder)
                return count
            return run

        def demo_case(durable):
            def run():
                calls["n"] += 1
                out = Path(tmp) / f"demo{calls['n']}"
                with contextlib.nullcontext() if durable else without_sync(), \
                        contextlib.redirect_stdout(None):
                    code = sadutils_main(["demo-data", "--out", str(out), "--scale",
                                          str(args.scale)])
                if code != 0:
                    raise RuntimeError(f"demo-data failed with status {code}")
                shutil.rmtree(out)
                return 1
            return run

        cases = []
        for name, payload in payloads.items():
            count = max(1, args.writes // 20) if "checkpoint" in name else args.writes
            cases.append((name, count, write_case(name, payload, count, True),
                          write_case(name, payload, count, False)))
        cases.append((f"demo-data --scale {args.scale:g}", 1, demo_case(True), demo_case(False)))
        summary = []
        for name, count, durable, plain in cases:
            print(f"{name}: {count} per round")
            plain()  # warm-up: imports, the folder's first entries
            rates = bl.interleaved({"durable": durable, "plain": plain}, args.rounds)
            ratio = bl.paired_ratio(rates["plain"], rates["durable"])  # time durable / plain
            summary.append(results.add(
                case=name, writes_per_round=count, rounds=args.rounds,
                durable_ms=1000 / bl.median(rates["durable"]),
                plain_ms=1000 / bl.median(rates["plain"]), ratio=ratio,
                spread=bl.spread(rates["durable"])))
    print()
    bl.print_table(summary, ["case", "writes_per_round", "durable_ms", "plain_ms", "ratio",
                             "spread"])
    for row in summary:
        bl.ratio_line(f"durable/plain time [{row['case']}]", row["ratio"],
                      f"{row['durable_ms']:.2f} vs {row['plain_ms']:.2f} ms per "
                      f"{'run' if row['case'].startswith('demo') else 'write'}")
    results.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
