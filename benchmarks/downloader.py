"""Downloader throughput: ``sadutils.data.download.download_urls`` with 1 vs many workers.

A threaded HTTP server on 127.0.0.1, in its own process (so it does not share the client's
GIL), serves a small JPEG for every ``/img/...`` URL after sleeping ``--latency`` seconds (default
0.1 s: a far-away or slow image host). By default each request is a new connection (HTTP/1.0),
as when every URL of WEBEmo is on a different host; ``--keep-alive`` serves HTTP/1.1.

Every call downloads fresh URLs into a fresh folder (nothing is skipped as already there),
with the package's defaults otherwise (image check of each body, ``downloads.csv`` log). The
worker counts alternate round by round. Reported: images/s per worker count, the efficiency
against the ideal ``workers / latency``, and the speed-up over 1 worker (median of paired
per-round ratios). Target: >= 20x at 32 workers.

    python benchmarks/downloader.py --quick      # ~30 s
    python benchmarks/downloader.py              # 1, 8, 32, 64 workers, 5 rounds
"""
from __future__ import annotations

import io
import multiprocessing as mp
import sys
import time
from pathlib import Path

import benchlib as bl

TARGET_SPEEDUP = 20.0
TARGET_WORKERS = 32


def _jpeg(size=(160, 120)) -> bytes:
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(
        buf, "JPEG", quality=85)
    return buf.getvalue()


def serve(latency: float, keep_alive: bool, conn) -> None:
    """Run the slow image server until killed; send its port through ``conn``."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = _jpeg()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server's name
            time.sleep(latency)
            if not self.path.startswith("/img/"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the default 5 drops connections under 32+ parallel workers

    httpd = Server(("127.0.0.1", 0), Handler)
    conn.send(httpd.server_address[1])
    httpd.serve_forever()


def parse(argv=None):
    p = bl.base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--workers", default=None, help="comma-separated worker counts "
                   "(default 1,8,32,64; --quick 1,8,32); must include 1")
    p.add_argument("--latency", type=float, default=None,
                   help="server delay per request in seconds (default 0.1)")
    p.add_argument("--urls-per-worker", type=int, default=None,
                   help="URLs per call = this x workers, at least --min-urls (default 20; "
                        "--quick 10)")
    p.add_argument("--min-urls", type=int, default=None, help="(default 20)")
    p.add_argument("--keep-alive", action="store_true", help="HTTP/1.1 keep-alive connections")
    args = p.parse_args(argv)
    bl.fill_defaults(
        args,
        tiny=dict(workers="1,4", latency=0.02, urls_per_worker=4, min_urls=4, rounds=2),
        quick=dict(workers="1,8,32", urls_per_worker=10, rounds=3),
        full=dict(workers="1,8,32,64", latency=0.1, urls_per_worker=20, min_urls=20, rounds=5))
    args.workers = [int(w) for w in args.workers.split(",")]
    if 1 not in args.workers:
        raise SystemExit("--workers must include 1 (the ratios are against 1 worker)")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    bl.print_header("downloader: download_urls, 1 vs many workers", args,
                    workers=",".join(map(str, args.workers)), latency_s=args.latency,
                    urls_per_worker=args.urls_per_worker, rounds=args.rounds,
                    connection="keep-alive" if args.keep_alive else "new per request")
    sys.path.insert(0, str(bl.REPO))
    from sadutils.data.download import download_urls

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(args.latency, args.keep_alive, child), daemon=True)
    server.start()
    try:
        if not parent.poll(60):
            raise SystemExit("the local HTTP server did not start")
        port = parent.recv()
        base = f"http://127.0.0.1:{port}/img"
        results = bl.Results("downloader", args, {"latency_s": args.latency,
                                                   "keep_alive": args.keep_alive},
                             key=("workers", "latency_s", "keep_alive"))
        calls = {"n": 0}

        with bl.scratch_dir("download") as tmp:
            def case(workers):
                def run():
                    calls["n"] += 1
                    k = calls["n"]
                    n = max(args.min_urls, args.urls_per_worker * workers)
                    urls = [f"{base}/c{k}/w{workers}/{i}.jpg" for i in range(n)]
                    table = download_urls(urls, Path(tmp) / f"call{k}", workers=workers,
                                          timeout=10.0, retries=0, progress=False)
                    bad = table[table["status"] != "ok"]
                    if len(bad):
                        raise RuntimeError(f"{len(bad)} of {n} downloads failed: "
                                           f"{bad['status'].value_counts().to_dict()}")
                    return n
                return run

            # Warm-up: imports, the first sessions and connections.
            case(max(args.workers))()
            rates = bl.interleaved({f"{w}": case(w) for w in args.workers}, args.rounds)

        one = rates["1"]
        summary = []
        for w in args.workers:
            r = rates[f"{w}"]
            speedup = bl.paired_ratio(r, one)
            ideal = w / args.latency
            met = None if w != TARGET_WORKERS else bool(speedup >= TARGET_SPEEDUP)
            summary.append(results.add(
                workers=w, urls_per_call=max(args.min_urls, args.urls_per_worker * w),
                rounds=args.rounds, img_s=bl.median(r), ideal_img_s=ideal,
                efficiency=bl.median(r) / ideal, speedup_vs_1=speedup, spread=bl.spread(r),
                target_speedup=TARGET_SPEEDUP if w == TARGET_WORKERS else None,
                target_met=met))
    finally:
        server.terminate()
        server.join(10)

    print()
    bl.print_table(summary, ["workers", "urls_per_call", "img_s", "ideal_img_s", "efficiency",
                             "speedup_vs_1", "spread"])
    for row in summary:
        if row["workers"] == 1:
            continue
        target = (f">= {TARGET_SPEEDUP:g}x" if row["workers"] == TARGET_WORKERS else "")
        bl.ratio_line(f"{row['workers']} workers / 1 worker", row["speedup_vs_1"],
                      f"{row['img_s']:.1f} vs {bl.median(one):.1f} img/s, "
                      f"{row['efficiency'] * 100:.0f}% of ideal {row['ideal_img_s']:.0f} img/s",
                      target, row["target_met"])
    results.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
