"""``sadutils run-notebook``: one run of the notebook graph, the job a cluster runs.

Kept apart from ``reproduce`` so that a job imports only the runner (not the tables and
reports): its start-up is part of every job's fixed cost.
"""
from __future__ import annotations

import json

from ..runner.plan import Plan, execute_one, prepare
from ..workspace import Workspace


def cmd_run_notebook(args) -> int:
    """Run one notebook run of the graph, unconditionally, and record it in the state file."""
    if args.plan is not None:
        try:
            data = json.loads(args.plan.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"{args.plan}: not JSON ({exc})") from None
        plan = Plan.from_json(data)
    else:
        plan = prepare(Workspace.create(args.profile), only=[args.run],
                       overrides=args.overrides, backbones=args.backbones, seeds=args.seeds,
                       train_filters=args.train_filters,
                       weights=args.weights, only_option="RUN")
    chosen = [r for r in plan.selected if r.name == args.run]
    if not chosen:
        names = ", ".join(r.name for r in plan.selected)
        raise ValueError(f"no run {args.run!r} in the plan; its runs: {names}")
    outcome = execute_one(plan, chosen[0], "asked for by run-notebook", verbose=args.verbose)
    return 0 if outcome.status == "ran" else 1
