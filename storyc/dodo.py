"""The generated dodo.py's door into storyc: the plan, never a stale one, handed to the run's task factory.

As make remakes its makefile, a plan whose inputs changed (tasks.json, the sprint, storyc.toml, a
template, a new sprint file) is recompiled first. This is front door: it may call the compiler; the
run (storyc.runners) never does.
"""

from __future__ import annotations

import sys
from pathlib import Path


def load_plan_tasks(dodo_file: str, plan_path: str) -> tuple[dict, object]:
    """DOIT_CONFIG and a task generator for the plan next to `dodo_file`, recompiled first if its inputs moved."""
    root = Path(dodo_file).resolve().parent
    current_plan(root, plan_path)
    from storyc.errors import StorycError
    from storyc.runners.doit_tasks import doit_setup

    try:
        return doit_setup(root, plan_path)
    except StorycError as exc:  # a plan that cannot be read (edited by hand, or by another storyc version)
        sys.stderr.write(exc.render() + "\n")
        _stop("storyc: the plan was not loaded; run `storyc compile`, then `doit` again")


def current_plan(root: Path, plan_path: str) -> None:
    """Recompile the plan if its inputs moved. No plan, or one that cannot be recompiled: one line, and doit stops (exit 2)."""
    from storyc.compiler import freshness

    build = str(Path(plan_path).parent)
    rec = freshness.load(root, build)
    if not (root / plan_path).is_file() or rec is None:
        what = "no compiled plan" if not (root / plan_path).is_file() else f"{plan_path} has no record of its inputs ({build}/{freshness.RECORD})"
        _stop(f"storyc: {what}: run `storyc compile` first")
    from storyc.runners.checkpoints import run_active

    # Another doit running this sprint writes tasks.json as it goes: its plan is left alone.
    if (why := freshness.stale(root, rec)) is not None and not run_active(root / build):
        _recompile(root, rec, why)


def _recompile(root: Path, rec: dict, why: str) -> None:
    from storyc import api
    from storyc.errors import StorycError

    args = rec["args"]
    sys.stderr.write(f"storyc: {why} since the last compile; recompiling\n")
    try:
        result = api.build(
            root,
            root / args["sprint"] if args["sprint"] else None,
            root / args["tasks"] if args["tasks"] else None,
            with_deps=args["with_deps"], tag=args["tag"], out=args["out"],
        )
    except StorycError as exc:
        sys.stderr.write(exc.render() + "\n")
        _stop("storyc: the plan was not recompiled; fix the input above, then run `doit` again")
    sys.stderr.write(f"storyc: {api.summary(result.plan)}\n")


def _stop(line: str) -> None:
    sys.stderr.write(line + "\n")
    raise SystemExit(2)
