"""A compiled plan (build/plan.json) into a `Run`: what every target's action in a worker process works with.

A worker process loads the plan once (again only when the file changed), and
with it the run's checkpoints and its runner, which is made once, at the first
agent call, and serves every story the process runs.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

from storyc.errors import StorycError
from storyc.plan import Config, Plan, PlannedStory, load_plan

from .agents import make_runner
from .agents.base import Runner
from .checkpoints import Checkpoints
from .session import abort_flag
from .stamps import MISSING, exclusions, out_path, read_out, record_path


@dataclass
class Run:
    """One compiled plan as a worker process runs it: loaded once per process and plan, its runner built once."""

    root: Path
    plan: Plan
    checkpoints: Checkpoints
    stories: dict[str, PlannedStory]
    exclude: dict[str, list[str]]  # id -> patterns of files not its to watch

    @functools.cached_property
    def runner(self) -> Runner:
        return make_runner(self.root, self.plan)

    @property
    def config(self) -> Config:
        return self.plan.config

    @property
    def build(self) -> Path:
        return self.root / self.plan.build

    def out(self, story_id: str) -> str:
        return out_path(self.plan.build, self.stories[story_id].spec)

    def record_file(self, story_id: str) -> Path:
        return record_path(self.root, self.plan.build, self.stories[story_id].spec)

    def upstream(self, story: PlannedStory) -> dict[str, str]:
        """The output hash of each story it builds on, as their stamps say now."""
        return {u: read_out(self.root, self.out(u)) or MISSING for u in story.after}

    def aborted(self) -> str | None:
        flag = abort_flag(self.build)
        return (flag.read_text(encoding="utf-8") or "stopped") if flag.is_file() else None  # empty: being written

    def stop(self, reason: str) -> bool:
        """Stop the whole run: no other story starts (the next run's session clears the flag when it starts).

        True for the one worker that stopped it first, which alone says why.
        """
        flag = abort_flag(self.build)
        flag.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(flag, "x", encoding="utf-8") as f:
                f.write(reason)
        except FileExistsError:
            return False
        return True


_RUNS: dict[tuple[str, int], Run] = {}


def load_run(root: str, plan_path: str) -> Run:
    """The plan at `plan_path` as this process runs it; read again only when the file changed."""
    path = Path(root) / plan_path
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _RUNS:
        plan = load_plan(path)
        run = Run(Path(root), plan, Checkpoints(Path(root), plan), {s.id: s for s in plan.stories}, exclusions(plan))
        _RUNS.clear()
        _RUNS[key] = run
    return _RUNS[key]


def reported(action):
    """A target's action whose bad-input errors print as storyc prints them, not as a traceback."""

    @functools.wraps(action)
    def act(*args):
        try:
            return action(*args)
        except StorycError as exc:
            print(exc.render(), file=sys.stderr)
            return False

    return act
