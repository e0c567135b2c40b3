"""The pipeline commands: ``reproduce`` and ``tables``."""
from __future__ import annotations

import shutil
import sys
import threading

from ..records import read_records
from ..reporting.tables import NOT_RUN, tables_text
from ..runner import reproduce
from ..workspace import Workspace


class LiveTerminal:
    """Lines that stay, and below them one status line rewritten in place.

    Parameters
    ----------
    stream : file object
        A terminal (the status line is redrawn with a carriage return).
    """

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stdout
        self._status_shown = False
        self._lock = threading.Lock()  # the progress of a run arrives from another thread

    def _clear(self) -> None:
        if self._status_shown:
            self.stream.write("\r\033[K")
            self._status_shown = False

    def line(self, text: str) -> None:
        """Print ``text`` for good (replacing the status line), in one write: lines printed
        by two runs at once never end up on one line."""
        with self._lock:
            self._clear()
            self.stream.write(f"{text}\n")
            self.stream.flush()

    def status(self, text: str) -> None:
        """Show ``text`` as the status line, cut to the terminal's width."""
        width = max(20, shutil.get_terminal_size().columns - 1)
        text = text if len(text) <= width else text[:width - 3] + "..."
        with self._lock:
            self._clear()
            self.stream.write(text)
            self.stream.flush()
            self._status_shown = True


def cmd_reproduce(args) -> int:
    """Run the notebooks in order with papermill, skipping those whose inputs did not change."""
    live = sys.stdout.isatty() and not args.verbose
    terminal = LiveTerminal(sys.stdout)
    result = reproduce(Workspace.create(args.profile), force=args.force, only=args.only,
                       overrides=args.overrides, backbones=args.backbones, seeds=args.seeds,
                       train_filters=args.train_filters,
                       jobs=args.jobs, executor=args.executor, dry_run=args.dry_run,
                       cluster_profile=args.cluster_profile,
                       weights=args.weights, verbose=args.verbose,
                       echo=terminal.line,  # one write per line: two jobs never share one
                       status=terminal.status if live else None)
    return 0 if result.ok else 1


def cmd_tables(args) -> int:
    """Print Tables 1-3: the paper's numbers beside the newest reproduced ones."""
    ws = Workspace.create(args.profile)
    print(tables_text(ws, args.fmt), end="")
    if not read_records(ws):
        print(f"sadutils: no results records for profile {args.profile} in {ws.records}: the "
              f"reproduced columns say '{NOT_RUN}'. Run `sadutils reproduce --profile "
              f"{args.profile}` first.", file=sys.stderr)
    return 0
