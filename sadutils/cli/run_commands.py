"""The pipeline commands: ``reproduce`` and ``tables``."""
from __future__ import annotations

import sys

from ..records import read_records
from ..reporting.tables import NOT_RUN, tables_text
from ..runner import reproduce
from ..workspace import Workspace


def cmd_reproduce(args) -> int:
    """Run the notebooks in order with papermill, skipping those whose inputs did not change."""
    result = reproduce(Workspace.create(args.profile), force=args.force, only=args.only,
                       overrides=args.overrides, backbones=args.backbones, seeds=args.seeds)
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
