"""plan.json into doit tasks, and doit's progress into storyc's words.

The one module that knows doit. Every decision was made at compile time; this
only wires what the plan says: a story target makes its stamp
(build/stamps/<name>.out), and names its spec and its upstream stories' stamps
as file_deps, so a spec change or an upstream output change re-runs it and a
re-run with the same output re-runs nothing downstream. Its `uptodate` check
notices hand edits of its files. Actions are module-level functions with plain
arguments: doit's process mode pickles them.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from doit.reporter import ConsoleReporter
from filelock import Timeout

from storyc.words import count


def load_plan_tasks(dodo_file: str, plan_path: str) -> tuple[dict, object]:
    """DOIT_CONFIG and a task generator for the plan next to `dodo_file`, recompiled first if its inputs moved."""
    root = Path(dodo_file).resolve().parent
    plan = current_plan(root, plan_path)
    build = plan["config"]["paths"]["build"]
    config = {
        "backend": "sqlite3",
        "dep_file": f"{build}/.doit.db",
        # The chain first (see plan_tasks): doit takes a selected task only when its ready queue is empty.
        "default_tasks": [chain_name(1), "sprint"] if any(s["target"] for s in plan["stories"]) else ["sprint"],
        "verbosity": 2,
        "reporter": StorycReporter,
    }
    # doit saves its state only when a run ends: make SIGTERM end it the way Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)

    def task_storyc():
        yield from plan_tasks(plan, str(root), plan_path)

    task_storyc.__doc__ = "storyc's compiled sprint"
    return config, task_storyc


def current_plan(root: Path, plan_path: str) -> dict:
    """The plan, never a stale one: as make remakes its makefile, a plan whose inputs changed
    (tasks.json, the sprint, storyc.toml, a template, a new sprint file) is recompiled first.
    No plan, or one that cannot be recompiled: one line, and doit stops (exit 2)."""
    from storyc import freshness

    build = str(Path(plan_path).parent)
    rec = freshness.load(root, build)
    if not (root / plan_path).is_file() or rec is None:
        what = "no compiled plan" if not (root / plan_path).is_file() else f"{plan_path} has no record of its inputs ({build}/{freshness.RECORD})"
        _stop(f"storyc: {what}: run `storyc compile` first")
    if (why := freshness.stale(root, rec)) is not None and not _run_in_progress(root / build):
        _recompile(root, rec, why)
    return json.loads((root / plan_path).read_text(encoding="utf-8"))


def _run_in_progress(build: Path) -> bool:
    """Another doit is running this sprint (it writes tasks.json as it goes): leave its plan alone."""
    from storyc.files import lock_for

    lock = lock_for(build, "run")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


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


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def chain_name(n: int) -> str:
    return f"_order:{n}"


def plan_tasks(plan: dict, root: str, plan_path: str):
    """One target per story, then wave-N, integration:<name> and sprint, then the chain that
    makes doit start ready stories in the plan's dispatch order.

    doit's dispatcher keeps a first-in, first-out queue: a task enters it when a task that
    names it is first looked at, and again when the last task it waits for finishes. So
    `_order:k` names the k-th story of the plan's dispatch order and `_order:k+1`, and is up
    to date (nothing to run): doit meets the stories one at a time, in that order, each when
    a worker is free, and a story that becomes ready later goes ahead of every story not met
    yet, which (the order putting the longest remaining path first) is less urgent.
    """
    from storyc import stamps

    build = plan["config"]["paths"]["build"]
    targets = [s for s in plan["stories"] if s["target"]]
    out = {s["id"]: stamps.out_path(build, s["spec"]) for s in targets}
    order = plan.get("dispatch_order") or [s["id"] for s in targets]
    rank = {sid: n for n, sid in enumerate(order)}
    first = rank.__getitem__  # explicit task_dep in this order: doit's own (from file_dep, a set) would be in hash order
    gates = plan["config"]["gates"]
    barrier = plan["config"]["execution"]["barrier"] == "wave"
    exclude = stamps.exclusions(plan)
    for story in targets:
        policy = story["policy"]
        record = str(stamps.record_path(Path(root), build, story["spec"]))
        yield {
            "basename": story["id"],
            "doc": f"{' '.join(story['title'].split())} [{story['size']}, {policy['model']}]",
            "actions": [(story_action, [root, plan_path, story["id"]])],
            "targets": [out[story["id"]]],
            "file_dep": [story["spec"], *(out[u] for u in story["after"])],
            "task_dep": ([f"wave-{story['wave'] - 1}"] if barrier and story["wave"] and story["wave"] > 1 else []) + sorted(story["after"], key=first),
            "uptodate": [(stamps.unchanged, [root, record, story["files"], exclude[story["id"]]])],
            "meta": {"storyc": "story", "record": record},
        }
    waves = plan["waves"]
    for n, wave in enumerate(waves, 1):
        yield {
            "basename": f"wave-{n}",
            "doc": f"wave {n} complete ({count(len(wave), 'story', 'stories')})" + (", then the integration gate" if gates["integration"] else ""),
            "actions": [(wave_action, [root, plan_path, n])],
            "file_dep": [out[s] for s in wave],
            "task_dep": ([f"wave-{n - 1}"] if n > 1 else []) + sorted(wave, key=first),
        }
    for point in plan["integration_points"]:
        deps = [out[s] for s in point["stories"] if s in out]
        yield {
            "basename": f"integration:{point['slug']}",
            "doc": f"{point['name']}: {point['verification']}",
            "actions": [(point_action, [root, plan_path, point["slug"]])],
            "file_dep": deps,
            # Its stories all finished before this sprint: nothing of theirs can change, nothing to re-check.
            "uptodate": [] if deps else [True],
        }
    yield {
        "basename": "sprint",
        "doc": "the whole sprint: every wave, every integration point" + (", then the E2E gate" if gates["e2e"] else "") + ", then the summary",
        "actions": [(sprint_action, [root, plan_path])],
        "file_dep": list(out.values()),
        "task_dep": order + [f"wave-{n}" for n in range(1, len(waves) + 1)] + [f"integration:{p['slug']}" for p in plan["integration_points"]],
    }
    for n, sid in enumerate(order, 1):
        yield {
            "basename": chain_name(n),
            "doc": f"the story that starts {n}. when ready: {sid}",
            "actions": [],
            "task_dep": [sid] + ([chain_name(n + 1)] if n < len(order) else []),
            "uptodate": [True],  # nothing to run: doit passes it at once, in the main process
        }


# The actions, as module-level functions (process mode pickles them) that import the engine only
# when something runs: `doit list` and a run with nothing stale never load it.


def story_action(root: str, plan_path: str, story_id: str) -> bool:
    from storyc.engine import run_story

    return run_story(root, plan_path, story_id)


def wave_action(root: str, plan_path: str, wave: int) -> bool:
    from storyc.integration import run_wave

    return run_wave(root, plan_path, wave)


def point_action(root: str, plan_path: str, slug: str) -> bool:
    from storyc.integration import run_point

    return run_point(root, plan_path, slug)


def sprint_action(root: str, plan_path: str) -> bool:
    from storyc.integration import run_sprint

    return run_sprint(root, plan_path)


class StorycReporter(ConsoleReporter):
    """doit's console output, plus `[done/total]`, the stories running and the cost so far."""

    desc = "storyc: [done/total], running stories, cost"

    def initialize(self, tasks, selected_tasks):
        self.total = sum(1 for t in tasks.values() if (t.meta or {}).get("storyc") == "story")
        self.done, self.running, self.cost = 0, [], 0.0
        self.build = self.checkpoints = None
        self.started = time.time()
        story = next((t for t in tasks.values() if (t.meta or {}).get("storyc") == "story"), None)
        if story is None:
            return
        from storyc.files import lock_for

        record = Path(story.meta["record"])
        self.build = record.parent.parent
        self.lock = lock_for(self.build, "run")
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            self.write(f"storyc: another doit run of this sprint is running (lock {self.lock.lock_file}); wait for it to finish\n")
            sys.exit(2)
        self.root = Path(story.actions[0].args[0])
        (self.build / "locks" / "abort").unlink(missing_ok=True)  # a spend limit hit last run stops no one now
        self.started = time.time()
        self._log("run_started")  # before any worker's event; the views are redrawn only once a story runs

    def _log(self, kind: str, **fields) -> None:
        """One line in build/events.jsonl, without redrawing the views (which a no-op run leaves alone)."""
        from storyc.files import append_line, lock_for

        line = json.dumps({"ts": round(time.time(), 3), "event": kind, "pid": os.getpid(), **fields}, sort_keys=True)
        with lock_for(self.build, "events"):
            append_line(self.build / "events.jsonl", line)

    def _checkpoints(self):
        """The run's checkpoints, opened when a story first runs: a run with nothing stale writes nothing."""
        if self.checkpoints is None and self.build is not None:
            from storyc.checkpoints import Checkpoints

            plan = json.loads((self.build / "plan.json").read_text(encoding="utf-8"))
            self.checkpoints = Checkpoints(self.root, plan)
        return self.checkpoints

    def _story(self, task) -> bool:
        return (task.meta or {}).get("storyc") == "story"

    def execute_task(self, task):
        if self._story(task):
            self._checkpoints()
            self.running.append(task.name)
            self.write(f"[{self.done}/{self.total}] ▶ {task.name}   running: {', '.join(self.running)}\n")
        elif task.actions:
            self.write(f".  {task.name}\n")

    def add_success(self, task):
        if self._story(task):
            self._finish(task, "✓")

    def add_failure(self, task, fail):
        if task.name[0] == "_":  # a link of the dispatch chain, failing only because its story did: said once, there
            return
        if self._story(task) and task.name in self.running:
            self._finish(task, "✗")
        super().add_failure(task, fail)

    def skip_uptodate(self, task):
        if self._story(task):
            self.done += 1
        elif task.name[0] != "_":
            self.write(f"-- {task.name}\n")

    def _finish(self, task, mark: str) -> None:
        from storyc.stamps import load_record

        self.running = [n for n in self.running if n != task.name]
        self.done += mark == "✓"
        record = load_record(Path(task.meta["record"])) or {}
        if mark == "✓" and record.get("finished_at", 0) >= self.started:
            self.cost += record.get("cost_usd", 0.0)
        self.write(f"[{self.done}/{self.total}] {mark} {task.name}   ${self.cost:.4f} so far" + (f"   running: {', '.join(self.running)}" if self.running else "") + "\n")

    def complete_run(self):
        super().complete_run()
        if self.checkpoints is not None:
            self.checkpoints.event("run_finished", done=self.done, total=self.total)
        elif self.build is not None:
            self._log("run_finished", done=self.done, total=self.total)
        if self.build is not None:
            self.lock.release()
        if self.total:
            self.write(f"storyc: {self.done} of {count(self.total, 'story', 'stories')} done, ${self.cost:.4f} this run\n")
