"""A doit run of one sprint into its lifecycle: the run lock, the abort flag, run_started and run_finished.

The reporter prints; this owns what a run holds from its start to its end, so
that it can be tested without doit: one run at a time (build/locks/run), a
stop flag of the last run cleared, this run's events, and after an interrupt
the stories that never came back put back to todo before the lock goes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from filelock import Timeout

from storyc.files import append_line, lock_for
from storyc.plan import Plan, load_plan

from .checkpoints import Checkpoints, read_events

BACK_TO_TODO = "the run was interrupted"  # the reason a story is put back to todo


def abort_flag(build: Path) -> Path:
    """The file that stops a run: no story starts while it is there (its text says why)."""
    return build / "locks" / "abort"


class RunRefused(Exception):
    """Another run of the same sprint holds the run lock."""


class RunSession:
    """One doit run of the sprint whose build folder is `build`, from `start()` to `finish()`."""

    def __init__(self, root: Path, build: Path, plan: Plan | None = None):
        self.root, self.build, self.plan = root, build, plan  # plan: as doit_setup loaded it (else read when needed)
        self.abort_flag = abort_flag(build)
        self.lock = lock_for(build, "run")
        self.events_from = 0  # where this run's events start in build/events.jsonl
        self._checkpoints: Checkpoints | None = None

    def start(self) -> None:
        """Take the run lock (RunRefused if another run has it), clear the last run's stop flag, log run_started."""
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise RunRefused(f"another doit run of this sprint is running (lock {self.lock.lock_file}); wait for it to finish") from None
        self.abort_flag.unlink(missing_ok=True)  # a spend limit hit last run stops no one now
        self._log("run_started")  # before any worker's event; the views are redrawn only once a story runs
        self.events_from = (self.build / "events.jsonl").stat().st_size  # this run's events come after

    def checkpoints(self) -> Checkpoints:
        """The run's checkpoints, opened when a story first runs: a run with nothing stale writes nothing."""
        if self._checkpoints is None:
            self._checkpoints = Checkpoints(self.root, self.plan or load_plan(self.build / "plan.json"))
        return self._checkpoints

    def events(self) -> list[dict]:
        """This run's events so far."""
        return read_events(self.build / "events.jsonl", self.events_from)

    def abort_reason(self) -> str | None:
        """Why a worker stopped the run (a spend limit, a runner that cannot run), if one did."""
        try:
            return self.abort_flag.read_text(encoding="utf-8").strip() or "spend limit reached"
        except OSError:
            return None

    def finish(self, done: int, total: int, interrupted: bool = False, running: Iterable[str] = ()) -> list[str]:
        """Log run_finished and let the next run in; the stories put back to todo by an interrupt, in order.

        Interrupted, a story in `running` whose action never came back (a thread doit left behind) is
        put back from here, and the stop flag goes: every worker has stopped, the next run starts clean.
        """
        back: list[str] = []
        if interrupted:
            events = self.events()
            came_back = {e["story"] for e in events if e.get("event") in ("story_failed", "story_blocked", "story_done")}
            if self._checkpoints is not None:
                for name in [n for n in running if n not in came_back]:
                    self._checkpoints.status(name, "todo")
                    events.append(self._checkpoints.event("story_failed", story=name, reason=BACK_TO_TODO))
            back = list(dict.fromkeys(e["story"] for e in events if e.get("event") == "story_failed" and e.get("reason") == BACK_TO_TODO))
        end = {"done": done, "total": total} | ({"interrupted": True, "back_to_todo": back} if interrupted else {})
        if self._checkpoints is not None:
            self._checkpoints.event("run_finished", **end)
        else:
            self._log("run_finished", **end)  # nothing ran: no view to redraw
        if interrupted:
            self.abort_flag.unlink(missing_ok=True)
        self.lock.release()
        return back

    def _log(self, kind: str, **fields) -> None:
        """One line in build/events.jsonl, without redrawing the views (which a no-op run leaves alone)."""
        line = json.dumps({"ts": round(time.time(), 3), "event": kind, "pid": os.getpid(), **fields}, sort_keys=True)
        with lock_for(self.build, "events"):
            append_line(self.build / "events.jsonl", line)
