"""A story target into an implemented, gated, stamped story.

`run_story` is the action of every story target, and the seed's loop: decide
from storyc's own stamps what the story needs (nothing; the gates only; a
build), then climb the recovery ladder (runners/ladder.py): build (the Builder
through the runner) → gates → review (the Reviewer) → record (the stamp), and
back to the Builder with the failure, at most `max_attempts` times, on the
model the story's compiled ladder names for each attempt. Only gate exit
codes decide. A story that runs out of attempts is blocked for human review
and its target fails, so its dependents do not run.
"""

from __future__ import annotations

import re
import sys
import time

from storyc.errors import StorycError
from storyc.plan import PlannedStory
from storyc.words import count, short

from .agents import preflight
from .agents.base import AgentResult, RunAborted, RunnerUnavailable, Usage
from .calls import AgentCalls, ModelUnavailable
from .gates import GateResult, run_gates
from .ladder import Build, Call, Ladder, OutOfBudget, attempts
from .run import Run, load_run, reported
from .session import BACK_TO_TODO
from .stamps import file_digest, file_states, files_now, load_record, output_hash, read_out, stamp_name, story_files, write_stamp
from .workspace import CACHES, MergeConflict, Workspace, open_workspace

VERDICT = re.compile(r"^\s*VERDICT:\s*(APPROVE|CHANGES_REQUESTED)\s*$", re.M)
GATE_TIMEOUT = 1800.0
BRIEF_LIMIT = 4000  # characters of gate output a fix agent reads as they are; longer goes to the Validator


@reported
def run_story(root: str, plan_path: str, story_id: str) -> bool:
    """The action of a story target: True when the story is done (doit's success)."""
    run = load_run(root, plan_path)
    if run.aborted():
        print(f"{story_id}: not started, the run is stopping")  # the worker that stopped it said why
        return False
    story = run.stories[story_id]
    record = load_record(run.record_file(story_id))
    upstream = run.upstream(story)
    if record is None and story.family == "done":
        return adopt(run, story, upstream)
    mode, cause = decide(run, story, record, upstream)
    if mode == "none":
        return up_to_date(run, story, record)
    if mode == "build" and not runner_ready(run, story_id):  # a re-verify needs its agent only if its gates fail
        return False
    return StoryRun(run, story, upstream, mode, cause=cause).go()


def decide(run: Run, story: PlannedStory, record: dict | None, upstream: dict[str, str]) -> tuple[str, str]:
    """What the story needs from its stamp, and why: ("build" | "verify" | "none", cause).

    The cause goes into the events and the stamp, so that every agent call can be traced to
    the change that asked for it.
    """
    if record is None:
        return "build", "no stamp yet"
    if record.get("spec_sha256") != story.spec_sha256:
        return "build", "its spec changed"
    moved = sorted(u for u, out in upstream.items() if record.get("upstream", {}).get(u) != out)
    if moved or set(record.get("upstream", {})) != set(upstream):
        return "verify", "upstream output changed: " + (", ".join(moved) or "its dependencies")
    files = files_now(run.root, record, story.files, run.exclude[story.id])
    if output_hash(files) != record.get("output_sha256"):
        was = record.get("files", {})
        digest = lambda entries, f: (entries.get(f) or [None] * 3)[2]  # noqa: E731 ([size, mtime_ns, sha256])
        edited = sorted(f for f in set(files) | set(was) if digest(files, f) != digest(was, f))
        return "verify", "its files changed: " + ", ".join(edited[:5]) + (", ..." if len(edited) > 5 else "")
    return "none", "up to date"


def adopt(run: Run, story: PlannedStory, upstream: dict[str, str]) -> bool:
    """A story done in tasks.json with no stamp was done by hand: stamped as it stands, not run."""
    stamp(run, story, upstream, [], by="hand", mode="none", started=time.time())
    run.checkpoints.event("story_skipped", story=story.id, reason="done by hand (no stamp)")
    print(f"{story.id}: done by hand; stamped, not run")
    return True


def up_to_date(run: Run, story: PlannedStory, record: dict) -> bool:
    # doit forgot (a killed run saves nothing) but storyc's stamp remembers.
    if read_out(run.root, run.out(story.id)) != record["output_sha256"]:
        write_stamp(run.root, run.out(story.id), run.record_file(story.id), record)
    run.checkpoints.event("story_skipped", story=story.id, reason="up to date")
    return True


def runner_ready(run: Run, story_id: str) -> bool:
    """The story's agent can run here; checked before any status is written, so tasks.json stays as it was."""
    try:
        preflight(run.root, run.plan, story_id, lambda: run.runner)  # the key is looked for before the runner is made
    except RunnerUnavailable as exc:
        run.checkpoints.event("story_failed", story=story_id, started=False, reason=f"not started: {exc}")
        _say_unavailable(run, story_id, exc)
        return False
    except StorycError as exc:  # this story's own input (the scripted runner's script): it alone fails
        run.checkpoints.event("story_failed", story=story_id, started=False, reason=f"not started: {exc.message}")
        raise
    return True


def _say_unavailable(run: Run, story_id: str, exc: RunnerUnavailable, started: bool = False) -> None:
    """Stop the run; one line, from the first worker to find it, says what is missing and how to fix it."""
    if run.stop(str(exc)):
        print(f"storyc: {exc}", file=sys.stderr)
    else:
        print(f"{story_id}: {'stopped' if started else 'not started'}, the run is stopping")


class StoryRun:
    """One story's way up the recovery ladder, within one run: build → gates → review → record.

    The ladder decides each next step; this object does it, in the story's
    workspace, and keeps what the next step needs: the calls so far and the
    last failure, in full for the fix prompt and in a few words for a person.
    """

    def __init__(self, run: Run, story: PlannedStory, upstream: dict[str, str], mode: str, failure: str | None = None, cause: str = ""):
        self.run, self.story, self.upstream, self.mode, self.cause = run, story, upstream, mode, cause
        self.id = story.id
        self.name = stamp_name(story.spec)
        self.log = run.build / "logs" / f"{self.name}.log"
        self.started = time.time()
        limits = run.config.runner
        self.ladder = Ladder(story.policy.ladder, limits.max_turns, limits.budget_usd, limits.timeout_s)
        self.agents = AgentCalls(run, story, self.name, lambda calls: self.ladder.left(calls, time.time() - self.started))
        self.failure = failure  # what the next fix prompt hands the Builder
        self.headline = failure and short(failure.split("\n", 1)[0], 100)  # the failure in a few words, for a person
        self.ws: Workspace | None = None
        self.by_tools: list[str] = []  # files the agents wrote through their tools, since the workspace opened

    @property
    def calls(self) -> list[Call]:
        return self.agents.calls

    def go(self) -> bool:
        """True when the story is done; False when it is blocked, or stopped by something not its fault."""
        self._start()
        try:
            self.ws = self._open()
            if self.mode == "verify" and self.failure is None and self._reverify():
                return self._record([])
            return self._climb()
        except (StorycError, ModelUnavailable, RunAborted, RunnerUnavailable, KeyboardInterrupt) as exc:
            return self._not_its_failure(exc)
        finally:
            if self.ws is not None:
                self.ws.close()

    def _start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.run.checkpoints.status(self.id, "in_progress")
        self.run.checkpoints.event("story_started", story=self.id, mode=self.mode, cause=self.cause)
        print(f"{self.id}: {'re-verifying' if self.mode == 'verify' else 'building'}" + (f" ({self.cause})" if self.cause else ""))

    def _open(self) -> Workspace:
        self.by_tools = []
        return open_workspace(self.run.root, self.run.build, self.name, self.run.config.execution.isolation, self.story.files)

    def _reverify(self) -> bool:
        """A re-verify runs the gates first; True when they pass, and no agent is called."""
        before = self._digests()
        return self._judge(self._changed(before), attempt=1)

    def _climb(self) -> bool:
        while isinstance(step := self.ladder.next(self.calls, time.time() - self.started, failing=self.failure is not None), Build):
            if self._attempt(step):
                return True
        if isinstance(step, OutOfBudget):
            self.failure = f"{step.failure}. Last failure: {self.failure}"
            self.headline = step.spent + (f"; last failure: {self.headline}" if self.headline else "")
        return self._blocked()

    def _attempt(self, step: Build) -> bool:
        """One rung: build → gates → review → record. False, with the failure kept for the next rung, when not done."""
        self.ws.tidy()  # the last gates' bytecode, caches and reports are not this agent's to find
        before = self._digests()
        result = self._ask("builder", step.attempt, step.model, template="fix" if step.fix else "builder")
        self.by_tools += result.changed
        if not result.finished:
            return self._failed(f"the agent stopped before finishing ({result.stop}): {result.detail or result.text}".strip(),
                                f"the agent stopped before finishing ({result.stop})")
        changed = self._changed(before)
        if not self._judge(changed, step.attempt):
            return False
        if (review := self._review(step.attempt)) is not None:
            return self._failed("The Reviewer requested changes:\n" + review, "The Reviewer requested changes: " + short(review, 80))
        try:
            return self._record(changed)
        except MergeConflict as exc:
            print(f"{self.id}: merge conflict: {exc.reason}; running it again on the current code")
            self.run.checkpoints.event("merge_conflict", story=self.id, attempt=step.attempt, files=exc.files, reason=exc.reason)
            self.ws.close()
            self.ws = self._open()
            return self._failed(f"Your change no longer applies to the working tree (another story changed the same lines):\n{exc.reason}\nRedo it on the current code.",
                                "its change no longer applied to the working tree (a merge conflict)")

    def _failed(self, failure: str, headline: str) -> bool:
        self.failure, self.headline = failure, headline
        return False

    # ------------------------------------------------------------ the steps

    def _ask(self, role: str, attempt: int, model: str, *, template: str | None = None, failure: str | None = None, review_pass: int = 0) -> AgentResult:
        return self.agents.ask(role, attempt, model, self.ws.path, template=template or role, failure=failure or self.failure, review_pass=review_pass)

    def _judge(self, changed: list[str], attempt: int) -> bool:
        """The gates on the attempt's change: True when they pass, else the failure kept (condensed when long)."""
        results = self._gates(changed)
        if not results or results[-1].passed:
            return True
        self.headline = results[-1].headline()
        self.failure = self._brief(results[-1], attempt)
        return False

    def _gates(self, changed: list[str]) -> list[GateResult]:
        attempt = self.calls[-1].attempt if self.calls else 0  # the Builder's call that these gates judge
        results = run_gates(self.story.policy.gates, self.run.config.gates, self.ws.path, changed, timeout=GATE_TIMEOUT, log=self.log, attempt=attempt)
        verdict = ", ".join(f"{r.name} {'ok' if r.passed else 'FAILED'}" for r in results) or "no gates"
        print(f"{self.id}: gates: {verdict}")
        self.run.checkpoints.event("gates", story=self.id, passed=all(r.passed for r in results), results={r.name: r.passed for r in results})
        return results

    def _brief(self, gate: GateResult, attempt: int) -> str:
        """The fix brief: a gate's output as it is, or, when long, condensed by the Validator (on Haiku).

        Only the gate's exit code decided; the Validator only shortens what the
        fix agent reads, and the output's last lines go with its brief.
        """
        raw = gate.brief()
        if len(raw) <= BRIEF_LIMIT or self.run.config.runner.kind == "command":
            return raw
        result = self._ask("validator", attempt, self.run.config.models.haiku, failure=raw)
        text = result.text.strip()
        if not result.finished or not text or text.startswith("(no script)"):
            return raw
        return f"{text}\n\nThe last lines of `{gate.command}`:\n{raw[-2000:]}"

    def _review(self, attempt: int) -> str | None:
        """None when every review pass approves; else what the Reviewer asked for."""
        policy = self.story.policy
        for review_pass in range(1, (policy.review_passes if policy.reviewer else 0) + 1):
            before = self._edits()
            result = self._ask("reviewer", attempt, policy.model, review_pass=review_pass)
            # A Reviewer only reads; an agent CLI (the command runner) can write all the same, and its
            # edits, made after the gates passed, must not reach the working tree unchecked.
            after = self._edits()
            if edited := sorted(f for f in before.keys() | after.keys() if before.get(f) != after.get(f)):
                return f"The Reviewer changed {', '.join(edited[:10])} instead of only reading; those changes now go through the gates with yours."
            if not approved(result):
                return result.text.strip() or f"(no verdict: the Reviewer stopped with {result.stop})"
        return None

    def _record(self, changed: list[str]) -> bool:
        changed = self.ws.bring_home() or changed
        record = stamp(self.run, self.story, self.upstream, changed, by="agent" if self.calls else "gates", mode=self.mode, started=self.started, calls=self.calls, cause=self.cause)
        self.run.checkpoints.status(self.id, "done")
        self.run.checkpoints.event("story_done", story=self.id, attempts=len(self.calls), cost_usd=record["cost_usd"], tokens=record["tokens"], output_sha256=record["output_sha256"])
        print(f"{self.id}: done ({len(self.calls)} agent call(s), ${record['cost_usd']:.4f})")
        return True

    def _blocked(self) -> bool:
        made = attempts(self.calls)
        headline = self.headline or "no failure recorded"
        self.run.checkpoints.status(self.id, "blocked")
        self.run.checkpoints.event(
            "story_blocked", story=self.id, attempts=made, reason=f"{made} attempt(s) failed; last failure: {headline}",
            summary=headline, failure=(self.failure or "")[:2000], log=self.log.relative_to(self.run.root).as_posix(),
        )
        print(f"{self.id}: BLOCKED after {count(made, 'attempt', 'attempts')}, needs human review")
        return False

    def _not_its_failure(self, exc: BaseException) -> bool:
        """Bad input, a failing or unreachable API, a spend limit, a missing agent program, Ctrl-C or SIGTERM:
        the story goes back to todo, and the next run picks it up."""
        stops_run = isinstance(exc, (RunAborted, RunnerUnavailable))
        if isinstance(exc, KeyboardInterrupt):
            reason = BACK_TO_TODO
        else:
            reason = f"run stopped: {exc}" if stops_run else getattr(exc, "message", str(exc))
        self.run.checkpoints.status(self.id, "todo")
        self.run.checkpoints.event("story_failed", story=self.id, reason=reason)
        if isinstance(exc, (StorycError, KeyboardInterrupt)):
            raise exc  # printed by `reported`, or ends the run
        if isinstance(exc, RunnerUnavailable):
            _say_unavailable(self.run, self.id, exc, started=True)
            return False
        if stops_run:
            self.run.stop(str(exc) or "spend limit reached")
        print(f"{self.id}: {'the run is stopping: ' if stops_run else ''}{exc}", file=sys.stderr)
        return False

    # ------------------------------------------------------------ what the attempt changed

    def _digests(self) -> dict[str, str]:
        return {f: file_digest(self.ws.path / f) for f in story_files(self.ws.path, self.story.files)}

    def _changed(self, before: dict[str, str]) -> list[str]:
        if self.ws.tree is not None:
            return self.ws.changed()
        now = story_files(self.ws.path, self.story.files, self.by_tools)
        return sorted(f for f in now if f in self.by_tools or before.get(f) != file_digest(self.ws.path / f))

    def _edits(self) -> dict[str, str]:
        """Digests of what this attempt changed (in a worktree), else of the story's files."""
        files = self.ws.changed() if self.ws.tree is not None else story_files(self.ws.path, self.story.files)
        # A Reviewer that runs the tests leaves bytecode and tool caches behind: those are no edit.
        return {f: file_digest(self.ws.path / f) for f in files if not (CACHES.intersection(f.split("/")) or f.endswith((".pyc", ".pyo")))}


def approved(result: AgentResult) -> bool:
    """The Reviewer approved: it finished, and the last line of its last message is `VERDICT: APPROVE`.

    A VERDICT line quoted from a file the Builder wrote, anywhere above it, is not one.
    """
    lines = result.text.strip().splitlines()
    verdict = VERDICT.fullmatch(lines[-1]) if lines else None
    return bool(result.finished and verdict and verdict.group(1) == "APPROVE")


def stamp(run: Run, story: PlannedStory, upstream: dict, changed: list[str], *, by: str, mode: str, started: float, calls: list[Call] = (), cause: str = "") -> dict:
    """The story's stamp written (its files, their output hash, how it got there); the record returned."""
    files = file_states(run.root, story_files(run.root, story.files, changed, run.exclude[story.id]))
    usage = sum((Usage(c.tokens["input"], c.tokens["output"], c.tokens["cache_read"], c.tokens["cache_write"]) for c in calls), Usage())
    record = {
        "story": story.id,
        "size": story.size,  # with the planned model: what the next compile's estimates group builds by
        "model": story.policy.model,
        "spec_sha256": story.spec_sha256,
        "upstream": upstream,
        "files": files,
        "output_sha256": output_hash(files),
        "by": by,
        "mode": mode,
        "cause": cause,
        "calls": [c.record() for c in calls],
        "models": sorted({c.model for c in calls}),
        "tokens": usage.as_dict(),
        "cost_usd": round(sum(c.cost_usd for c in calls), 6),
        "seconds": round(time.time() - started, 3),
        "finished_at": round(time.time(), 3),
    }
    write_stamp(run.root, run.out(story.id), run.record_file(story.id), record)
    return record
