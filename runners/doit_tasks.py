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

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from doit.exceptions import DependencyError, SetupError, TaskFailed, UnmetDependency
from doit.reporter import ConsoleReporter

from storyc.plan import Plan, load_plan
from storyc.words import count, short


def doit_setup(root: Path, plan_path: str) -> tuple[dict, object]:
    """DOIT_CONFIG and a task generator for the compiled plan at `root / plan_path` (already current: see storyc.dodo)."""
    plan = load_plan(root / plan_path)
    build = plan.build
    config = {
        "backend": "sqlite3",
        "dep_file": f"{build}/.doit.db",
        # The chain first (see plan_tasks): doit takes a selected task only when its ready queue is empty.
        "default_tasks": [chain_name(1), "sprint"] if plan.targets else ["sprint"],
        "verbosity": 2,
        "reporter": StorycReporter,
    }
    # doit saves its state only when a run ends: SIGTERM ends it the way Ctrl-C does, and both end it in order.
    _PROCESS.build, _PROCESS.plan = root / build, plan
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)

    def task_storyc():
        yield from plan_tasks(plan, str(root), plan_path)

    task_storyc.__doc__ = "storyc's compiled sprint"
    return config, task_storyc


class _Process:
    """This process's part in a run, as a signal finds it (doit's workers, forked, start with the parent's)."""

    build: Path | None = None
    plan: Plan | None = None  # the plan doit_setup loaded: the reporter's session opens its checkpoints with it
    running = False  # between the reporter's initialize and complete_run
    stopping = 0  # the signal that stops the run; 0 while it goes on
    acting = 0  # actions running in this process's main thread (a signal reaches only that one)
    threads = 0  # actions running in other threads (`-P thread`)
    again = False  # told again while its story was putting itself back: stop once it has


_PROCESS = _Process()
INTERRUPTED = "interrupted"  # in build/locks/abort: no action starts any more


def _interrupt(signum, frame):
    """Ctrl-C or SIGTERM: every running story goes back to todo, nothing new starts, the run ends in one line.

    doit's own way (a KeyboardInterrupt in its parent) kills the workers while
    they write their stories' statuses, and prints every process's traceback.
    Here only an action running in this process is interrupted; the parent
    passes the signal on (a SIGTERM reaches it alone) and waits for its workers.
    """
    worker = multiprocessing.parent_process() is not None
    if _PROCESS.stopping:
        if worker and signum == signal.SIGINT:
            return  # one Ctrl-C comes twice, from the terminal and from the parent
        if _PROCESS.acting:
            _PROCESS.again = True  # a story is putting itself back to todo: let it, then stop
            return
        raise KeyboardInterrupt  # a second Ctrl-C, or doit's parent ending its workers: stop now
    if not worker and not _PROCESS.running:
        raise KeyboardInterrupt  # no run (loading the plan, `doit list`, the end of a run): as ever
    _PROCESS.stopping = signum
    if not worker:
        from .session import abort_flag

        abort_flag(_PROCESS.build).parent.mkdir(parents=True, exist_ok=True)
        abort_flag(_PROCESS.build).write_text(INTERRUPTED, encoding="utf-8")
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGINT)
        if _PROCESS.threads:
            raise KeyboardInterrupt  # a thread cannot be interrupted: doit leaves them, the reporter puts their stories back
    if _PROCESS.acting:
        raise KeyboardInterrupt  # into the story, which puts itself back to todo
    # An idle worker, or a parent between tasks: the next action declines, and the run ends.


def chain_name(n: int) -> str:
    return f"_order:{n}"


def plan_tasks(plan: Plan, root: str, plan_path: str):
    """One target per story, then wave-N, integration:<name> and sprint, then the chain that
    makes doit start ready stories in the plan's dispatch order.

    doit's dispatcher keeps a first-in, first-out queue: a task enters it when a task that
    names it is first looked at, and again when the last task it waits for finishes. So
    `_order:k` names the k-th story of the plan's dispatch order and `_order:k+1`, and is up
    to date (nothing to run): doit meets the stories one at a time, in that order, each when
    a worker is free, and a story that becomes ready later goes ahead of every story not met
    yet, which (the order putting the longest remaining path first) is less urgent.
    """
    from . import stamps

    build = plan.build
    targets = plan.targets
    out = {s.id: stamps.out_path(build, s.spec) for s in targets}
    order = plan.dispatch_order or [s.id for s in targets]
    rank = {sid: n for n, sid in enumerate(order)}
    first = rank.__getitem__  # explicit task_dep in this order: doit's own (from file_dep, a set) would be in hash order
    gates = plan.config.gates
    barrier = plan.config.execution.barrier == "wave"
    exclude = stamps.exclusions(plan)
    for story in targets:
        record = str(stamps.record_path(Path(root), build, story.spec))
        yield {
            "basename": story.id,
            "doc": f"{' '.join(story.title.split())} [{story.size}, {story.policy.model}]",
            "actions": [(story_action, [root, plan_path, story.id])],
            "targets": [out[story.id]],
            "file_dep": [story.spec, *(out[u] for u in story.after)],
            "task_dep": ([f"wave-{story.wave - 1}"] if barrier and story.wave and story.wave > 1 else []) + sorted(story.after, key=first),
            "uptodate": [(stamps.unchanged, [root, record, story.files, exclude[story.id]])],
            "meta": {"storyc": "story", "record": record},
        }
    waves = plan.waves
    for n, wave in enumerate(waves, 1):
        yield {
            "basename": f"wave-{n}",
            "doc": f"wave {n} complete ({count(len(wave), 'story', 'stories')})" + (", then the integration gate" if gates.integration else ""),
            "actions": [(wave_action, [root, plan_path, n])],
            "file_dep": [out[s] for s in wave],
            "task_dep": ([f"wave-{n - 1}"] if n > 1 else []) + sorted(wave, key=first),
        }
    for point in plan.integration_points:
        deps = [out[s] for s in point.stories if s in out]
        yield {
            "basename": f"integration:{point.slug}",
            "doc": f"{point.name}: {point.verification}",
            "actions": [(point_action, [root, plan_path, point.slug])],
            "file_dep": deps,
            # Its stories all finished before this sprint: nothing of theirs can change, nothing to re-check.
            "uptodate": [] if deps else [True],
        }
    yield {
        "basename": "sprint",
        "doc": "the whole sprint: every wave, every integration point" + (", then the E2E gate" if gates.e2e else "") + ", then the summary",
        "actions": [(sprint_action, [root, plan_path])],
        "file_dep": list(out.values()),
        "task_dep": order + [f"wave-{n}" for n in range(1, len(waves) + 1)] + [f"integration:{p.slug}" for p in plan.integration_points],
        "uptodate": [] if out else [True],  # a sprint with no story has nothing to check, on any run
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
    from .engine import run_story

    return _act(run_story, root, plan_path, story_id)


def wave_action(root: str, plan_path: str, wave: int) -> bool:
    from .integration import run_wave

    return _act(run_wave, root, plan_path, wave)


def point_action(root: str, plan_path: str, slug: str) -> bool:
    from .integration import run_point

    return _act(run_point, root, plan_path, slug)


def sprint_action(root: str, plan_path: str) -> bool:
    from .integration import run_sprint

    return _act(run_sprint, root, plan_path)


def _act(action, *args) -> bool:
    """An action, unless the run is stopping; interrupted, it fails quietly.

    A KeyboardInterrupt that left a doit worker would reach doit's parent,
    which then kills every worker where it stands.
    """
    if _PROCESS.stopping or _interrupted():
        return False
    main = threading.current_thread() is threading.main_thread()
    if main:
        _PROCESS.acting += 1
    else:
        _PROCESS.threads += 1
    try:
        done = action(*args)
    except KeyboardInterrupt:
        _PROCESS.stopping = _PROCESS.stopping or signal.SIGINT
        done = False
    finally:
        if main:
            _PROCESS.acting -= 1
        else:
            _PROCESS.threads -= 1
    if main and _PROCESS.again:
        raise KeyboardInterrupt  # told again while its story went back to todo: now this process stops
    return done


def _interrupted() -> bool:
    """Whether this run was interrupted (in a worker that has not heard the signal itself yet)."""
    from .session import abort_flag

    try:
        return _PROCESS.running and abort_flag(_PROCESS.build).read_text(encoding="utf-8") == INTERRUPTED
    except OSError:
        return False


SHOWN = 20  # names on the skipped and not-started lines
WAIT_FOR_WORKERS = 10.0  # seconds, after a second Ctrl-C, for a worker to finish putting its story back


class StorycReporter(ConsoleReporter):
    """doit's console output in storyc's words.

    While it runs: `[done/total]`, the stories running and the cost so far. At
    the end: one line per failed or blocked story with its reason and its log,
    one line for what its failure skipped, and the tally; doit's own failure
    report (`TaskFailed`, a block per `UnmetDependency`) is not printed. What
    the run holds (its lock, the abort flag, run_started/run_finished, stories
    put back after an interrupt) is its RunSession's (runners/session.py).
    """

    desc = "storyc: [done/total], running stories, cost, one line per failure"

    def initialize(self, tasks, selected_tasks):
        self.tasks, self.selected = tasks, list(selected_tasks or tasks)
        self.outcome: dict[str, str] = {}  # name -> ok, up-to-date, failed, skipped
        self.failed: list[tuple] = []  # (task, doit's failure), in order
        self.total = sum(1 for t in tasks.values() if self._story(t))
        self.done, self.running, self.cost = 0, [], 0.0
        self.session = None  # a run with no story holds nothing
        self.started = time.time()
        story = next((t for t in tasks.values() if self._story(t)), None)
        if story is None:
            return
        from .session import RunRefused, RunSession

        session = RunSession(Path(story.actions[0].args[0]), Path(story.meta["record"]).parent.parent, _PROCESS.plan)
        try:
            session.start()
        except RunRefused as refused:
            self.write(f"storyc: {refused}\n")
            sys.exit(2)
        self.session = session
        self.started = time.time()
        _PROCESS.running = True

    def _story(self, task) -> bool:
        return (task.meta or {}).get("storyc") == "story"

    def execute_task(self, task):
        if self._story(task):
            self.session.checkpoints()
            self.running.append(task.name)
            self.write(f"[{self.done}/{self.total}] ▶ {task.name}   running: {', '.join(self.running)}\n")
        elif task.actions:
            self.write(f".  {task.name}\n")

    def add_success(self, task):
        self.outcome[task.name] = "ok"
        if self._story(task):
            self._finish(task, "✓")

    def add_failure(self, task, fail):
        if task.name[0] == "_":  # a link of the dispatch chain, failing only because its story did: said once, there
            return
        if isinstance(fail, UnmetDependency):
            self.outcome[task.name] = "skipped"  # on the one skipped line at the end
            return
        self.outcome[task.name] = "failed"
        self.failed.append((task, fail))
        if self._story(task) and task.name in self.running:
            if _PROCESS.stopping:
                self.running.remove(task.name)  # interrupted: the one line at the end says so
            else:
                self._finish(task, "✗")

    def skip_ignore(self, task):
        self.outcome[task.name] = "ignored"
        super().skip_ignore(task)

    def skip_uptodate(self, task):
        self.outcome[task.name] = "up-to-date"
        if self._story(task):
            self.done += 1
        elif task.name[0] != "_":
            self.write(f"-- {task.name}\n")

    def _finish(self, task, mark: str) -> None:
        from .stamps import load_record

        self.running = [n for n in self.running if n != task.name]
        self.done += mark == "✓"
        record = load_record(Path(task.meta["record"])) or {}
        if mark == "✓" and record.get("finished_at", 0) >= self.started:
            self.cost += record.get("cost_usd", 0.0)
        self.write(f"[{self.done}/{self.total}] {mark} {task.name}   ${self.cost:.4f} so far" + (f"   running: {', '.join(self.running)}" if self.running else "") + "\n")

    def complete_run(self):
        super().complete_run()  # doit's own errors, if any (the failures are storyc's to tell)
        _PROCESS.running = False
        if self.session is None:
            for task, fail in self.failed:
                self.write("".join(self._failure(task, fail, {}, None)))
            return
        if _PROCESS.stopping:
            for worker in multiprocessing.active_children():  # a second Ctrl-C: doit stopped them; they finish putting back
                worker.join(timeout=WAIT_FOR_WORKERS)
        report = [] if _PROCESS.stopping else self._report(self.session.events())  # read while the run still holds its lock
        back = self.session.finish(self.done, self.total, interrupted=bool(_PROCESS.stopping), running=self.running)
        tally = f"{self.done} of {count(self.total, 'story', 'stories')} done, ${self.cost:.4f} this run"
        if _PROCESS.stopping:
            self.write(f"storyc: interrupted; {', '.join(back) or 'no story'} back to todo ({tally})\n")
            self.outstream.flush()
            sys.exit(128 + _PROCESS.stopping)
        self.write("".join(report) + f"storyc: {tally}\n")
        if self.failed and all(isinstance(fail, TaskFailed) for _, fail in self.failed):
            self.outstream.flush()
            sys.exit(1)  # a story or a gate failed; doit says 2 (an error) once it skipped a dependent

    # ------------------------------------------------------------ the report at the end

    def _report(self, events: list[dict]) -> list[str]:
        """One line per failure, then what did not run because of them, and what did not start at all."""
        last = {e["story"]: e for e in events if e.get("event") in ("story_blocked", "story_failed", "story_done") and "story" in e}
        abort = self.session.abort_reason()
        lines, declined = [], []
        for task, fail in self.failed:
            unstarted = task.name not in last or last[task.name].get("started") is False
            if self._story(task) and unstarted and abort and isinstance(fail, TaskFailed):
                declined.append(task.name)  # the run was stopped (a spend limit, a runner that cannot run) before it began
            else:
                lines += self._failure(task, fail, last, events)
        skipped, not_started = self._not_run()
        if skipped:
            lines.append(f"skipped (their dependencies failed): {_names(skipped)}\n")
        if not_started := declined + [n for n in not_started if n not in declined]:
            # The worker that stopped the run said why, once.
            why = "the run was stopped, see above" if abort else "doit stops at the first failure; `doit --continue` runs what does not depend on it"
            lines.append(f"not started ({why}): {_names(not_started)}\n")
        return lines

    def _failure(self, task, fail, last: dict, events: list[dict] | None) -> list[str]:
        name = task.name
        if isinstance(fail, (DependencyError, SetupError)):
            return [f"✗ {name}: {short(fail.get_msg(), 300)}\n"]
        if not isinstance(fail, TaskFailed):  # an exception in storyc's action: a bug, whose trace the report needs
            return [f"✗ {name}: internal error in storyc (please report it with the trace below)\n{fail.get_msg()}\n"]
        if self._story(task):
            e = last.get(name, {})
            log = self._where(Path(task.meta["record"]).parent.parent / "logs" / f"{Path(task.meta['record']).stem}.log")
            if e.get("event") == "story_blocked":
                attempts = e.get("attempts")
                after = f" after {count(attempts, 'attempt', 'attempts')}" if attempts is not None else ""
                return [f"✗ {name} blocked{after}: {e.get('summary') or short(e.get('reason', ''), 160)} — {e.get('log') or log or 'no log'}\n"]
            if e.get("event") == "story_failed":
                return [f"✗ {name} stopped, back to todo: {short(e.get('reason', ''), 200)}" + (f" — {log}" if log else "") + "\n"]
            return [f"✗ {name} failed (its error is above)\n"]
        log = self._where(self.session.build / "logs" / "integration.log") if self.session else None
        what = {"wave": "the integration tests failed", "sprint": "the E2E tests failed"}.get(name.split("-")[0], "its integration check failed")
        if name.startswith("integration:") and events is not None:
            what += self._culprit(name.split(":", 1)[1], events)
        return [f"✗ {name}: {what}" + (f" — {log}" if log else " (its error is above)") + "\n"]

    def _culprit(self, slug: str, events: list[dict]) -> str:
        plan = self.session.checkpoints().plan
        point = next((p.name for p in plan.integration_points if p.slug == slug), None)
        failed = [e for e in events if e.get("event") == "integration_failed" and e.get("name") == point]
        if not failed:
            return ""
        culprit = failed[-1].get("culprit")
        return f"; broken by {culprit}" if culprit else "; no single story's change explains it"

    def _where(self, path: Path) -> str | None:
        """`path` as the user reads it (relative to the repository), if it exists."""
        return os.path.relpath(path, self.session.root) if path.is_file() else None

    def _not_run(self) -> tuple[list[str], list[str]]:
        """This run's targets that did not run: those after a failure (skipped), and the others (not started)."""
        owner = {target: name for name, task in self.tasks.items() for target in task.targets}
        deps = {name: [*task.task_dep, *(owner[f] for f in task.file_dep if f in owner)] for name, task in self.tasks.items()}
        wanted, todo = set(), list(self.selected)
        while todo:  # what was asked for and everything it needs
            name = todo.pop()
            if name in deps and name not in wanted:
                wanted.add(name)
                todo += deps[name]
        dependents = defaultdict(list)
        for name, needs in deps.items():
            for need in needs:
                dependents[need].append(name)
        after, todo = set(), [n for n, o in self.outcome.items() if o in ("failed", "skipped")]
        while todo:
            for name in dependents[todo.pop()]:
                if name not in after:
                    after.add(name)
                    todo.append(name)
        # Stories, integration points and the sprint; a wave-N target is bookkeeping between them.
        shown = [n for n, t in self.tasks.items() if n in wanted and n[0] != "_" and (self._story(t) or not n.startswith("wave-"))]
        skipped = [n for n in shown if self.outcome.get(n) == "skipped" or (n not in self.outcome and n in after)]
        return skipped, [n for n in shown if n not in self.outcome and n not in after]


def _names(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
