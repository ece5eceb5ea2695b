"""A story target into an implemented, gated, stamped story.

`run_story` is the action of every story target. It decides from storyc's own
stamps what the story needs (nothing; the gates only; a build), then climbs
the recovery ladder: the Builder through the runner, the gates, the Reviewer,
and back to the Builder with the failure, at most `max_attempts` agent calls,
escalating the model on the third. Only gate exit codes decide. A story that
runs out of attempts is blocked for human review and its target fails, so
its dependents do not run.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storyc.runners.agents import make_runner, preflight
from storyc.runners.agents.base import (
    AgentResult,
    AgentTask,
    Budget,
    RunAborted,
    RunnerUnavailable,
    Usage,
)
from storyc.runners.checkpoints import Checkpoints
from storyc.runners.gates import GateResult, run_gates
from storyc.runners.stamps import (
    MISSING,
    exclusions,
    file_digest,
    file_states,
    files_now,
    load_record,
    out_path,
    output_hash,
    read_out,
    record_path,
    stamp_name,
    story_files,
    write_stamp,
)
from storyc.runners.workspace import CACHES, MergeConflict, Workspace, open_workspace
from storyc.templates.render import environment, prompt_name, render, user_templates

from storyc.errors import StorycError
from storyc.files import atomic_write
from storyc.words import count, short

VERDICT = re.compile(r"^\s*VERDICT:\s*(APPROVE|CHANGES_REQUESTED)\s*$", re.M)
GATE_TIMEOUT = 1800.0
BRIEF_LIMIT = 4000  # characters of gate output a fix agent reads as they are; longer goes to the Validator
API_RETRIES = 3  # agent calls that end in a model API error, per step, before the story gives up for this run


class ModelUnavailable(Exception):
    """The model API kept failing: not the story's fault, so not a failed attempt."""


@dataclass
class Sprint:
    """One compiled plan, as a worker process sees it: loaded once per process."""

    root: Path
    plan: dict
    checkpoints: Checkpoints
    stories: dict[str, dict] = field(default_factory=dict)
    exclude: dict[str, list[str]] = field(default_factory=dict)  # id -> patterns of files not its to watch

    @property
    def config(self) -> dict:
        return self.plan["config"]

    @property
    def build(self) -> Path:
        return self.root / self.config["paths"]["build"]

    def out(self, story_id: str) -> str:
        return out_path(self.config["paths"]["build"], self.stories[story_id]["spec"])

    def record_file(self, story_id: str) -> Path:
        return record_path(self.root, self.config["paths"]["build"], self.stories[story_id]["spec"])

    def aborted(self) -> str | None:
        flag = self.build / "locks" / "abort"
        return (flag.read_text(encoding="utf-8") or "stopped") if flag.is_file() else None  # empty: being written

    def stop_run(self, reason: str) -> bool:
        """Stop the whole run: no other story starts (the reporter clears the flag when the next run starts).

        True for the one worker that stopped it first, which alone says why.
        """
        flag = self.build / "locks" / "abort"
        flag.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(flag, "x", encoding="utf-8") as f:
                f.write(reason)
        except FileExistsError:
            return False
        return True


_SPRINTS: dict[tuple[str, int], Sprint] = {}


def load_sprint(root: str, plan_path: str) -> Sprint:
    path = Path(root) / plan_path
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _SPRINTS:
        plan = json.loads(path.read_text(encoding="utf-8"))
        sprint = Sprint(Path(root), plan, Checkpoints(Path(root), plan), {s["id"]: s for s in plan["stories"]}, exclusions(plan))
        _SPRINTS.clear()
        _SPRINTS[key] = sprint
    return _SPRINTS[key]


def reported(action):
    """A target's action whose bad-input errors print as storyc prints them, not as a traceback."""

    @functools.wraps(action)
    def run(*args):
        try:
            return action(*args)
        except StorycError as exc:
            print(exc.render(), file=sys.stderr)
            return False

    return run


@reported
def run_story(root: str, plan_path: str, story_id: str) -> bool:
    """The action of a story target: True when the story is done (doit's success)."""
    sprint = load_sprint(root, plan_path)
    if sprint.aborted():
        print(f"{story_id}: not started, the run is stopping")  # the worker that stopped it said why
        return False
    story = sprint.stories[story_id]
    record = load_record(sprint.record_file(story_id))
    upstream = {u: read_out(sprint.root, sprint.out(u)) or MISSING for u in story["after"]}
    if record is None and story["family"] == "done":
        _stamp(sprint, story, upstream, [], by="hand", mode="none", started=time.time())
        sprint.checkpoints.event("story_skipped", story=story_id, reason="done by hand (no stamp)")
        print(f"{story_id}: done by hand; stamped, not run")
        return True
    mode, cause = decide(sprint, story, record, upstream)
    if mode == "none":
        # doit forgot (a killed run saves nothing) but storyc's stamp remembers.
        if read_out(sprint.root, sprint.out(story_id)) != record["output_sha256"]:
            write_stamp(sprint.root, sprint.out(story_id), sprint.record_file(story_id), record)
        sprint.checkpoints.event("story_skipped", story=story_id, reason="up to date")
        return True
    if mode == "build":  # a story to re-verify needs its agent only if its gates fail; its runner checks itself then
        try:
            preflight(sprint.root, sprint.plan, story_id)
        except RunnerUnavailable as exc:  # before any status is written: tasks.json stays as it was
            sprint.checkpoints.event("story_failed", story=story_id, started=False, reason=f"not started: {exc}")
            _say_unavailable(sprint, story_id, exc)
            return False
        except StorycError as exc:  # this story's own input (the scripted runner's script): it alone fails
            sprint.checkpoints.event("story_failed", story=story_id, started=False, reason=f"not started: {exc.message}")
            raise
    return Attempts(sprint, story, upstream, mode, cause=cause).run()


def decide(sprint: Sprint, story: dict, record: dict | None, upstream: dict[str, str]) -> tuple[str, str]:
    """What the story needs from its stamp, and why: ("build" | "verify" | "none", cause).

    The cause goes into the events and the stamp, so that every agent call can be traced to
    the change that asked for it.
    """
    if record is None:
        return "build", "no stamp yet"
    if record.get("spec_sha256") != story["spec_sha256"]:
        return "build", "its spec changed"
    moved = sorted(u for u, out in upstream.items() if record.get("upstream", {}).get(u) != out)
    if moved or set(record.get("upstream", {})) != set(upstream):
        return "verify", "upstream output changed: " + (", ".join(moved) or "its dependencies")
    files = files_now(sprint.root, record, story["files"], sprint.exclude[story["id"]])
    if output_hash(files) != record.get("output_sha256"):
        was = record.get("files", {})
        digest = lambda entries, f: (entries.get(f) or [None] * 3)[2]  # noqa: E731 ([size, mtime_ns, sha256])
        edited = sorted(f for f in set(files) | set(was) if digest(files, f) != digest(was, f))
        return "verify", "its files changed: " + ", ".join(edited[:5]) + (", ..." if len(edited) > 5 else "")
    return "none", "up to date"


def _say_unavailable(sprint: Sprint, story_id: str, exc: RunnerUnavailable, started: bool = False) -> None:
    """Stop the run; one line, from the first worker to find it, says what is missing and how to fix it."""
    if sprint.stop_run(str(exc)):
        print(f"storyc: {exc}", file=sys.stderr)
    else:
        print(f"{story_id}: {'stopped' if started else 'not started'}, the run is stopping")


class Attempts:
    """One story's way through the recovery ladder, within one run."""

    def __init__(self, sprint: Sprint, story: dict, upstream: dict[str, str], mode: str, failure: str | None = None, cause: str = ""):
        self.sprint, self.story, self.upstream, self.mode, self.cause = sprint, story, upstream, mode, cause
        self.id = story["id"]
        self.name = stamp_name(story["spec"])
        self.log = sprint.build / "logs" / f"{self.name}.log"
        self.runner_config = sprint.config["runner"]
        self.isolation = sprint.config["execution"]["isolation"]
        self.calls: list[dict[str, Any]] = []
        self.failure = failure
        self.headline = failure and short(failure.split("\n", 1)[0], 100)  # the failure in a few words, for a person
        self.started = time.time()

    def run(self) -> bool:
        cp = self.sprint.checkpoints
        self.log.parent.mkdir(parents=True, exist_ok=True)
        cp.status(self.id, "in_progress")
        cp.event("story_started", story=self.id, mode=self.mode, cause=self.cause)
        print(f"{self.id}: {'re-verifying' if self.mode == 'verify' else 'building'}" + (f" ({self.cause})" if self.cause else ""))
        ws = None
        try:
            ws = open_workspace(self.sprint.root, self.sprint.build, self.name, self.isolation, self.story["files"])
            if self.mode == "verify" and self.failure is None:
                before = self._before(ws)
                results = self._gates(ws, self._changed(ws, before, []))
                if results and not results[-1].passed:
                    self.failure = self._brief(ws, results[-1], 1)
                else:
                    return self._done(ws, [])
            return self._ladder(ws)
        except (StorycError, ModelUnavailable, RunAborted, RunnerUnavailable, KeyboardInterrupt) as exc:
            # Not the story's failure (bad input, a failing or unreachable API, a spend limit, a missing agent
            # program, Ctrl-C or SIGTERM): it goes back to todo, and the next run picks it up.
            stops_run = isinstance(exc, (RunAborted, RunnerUnavailable))
            if isinstance(exc, KeyboardInterrupt):
                reason = "the run was interrupted"
            else:
                reason = f"run stopped: {exc}" if stops_run else getattr(exc, "message", str(exc))
            cp.status(self.id, "todo")
            cp.event("story_failed", story=self.id, reason=reason)
            if isinstance(exc, (StorycError, KeyboardInterrupt)):
                raise  # printed by `reported`, or ends the run
            if isinstance(exc, RunnerUnavailable):
                _say_unavailable(self.sprint, self.id, exc, started=True)
                return False
            if stops_run:
                self.sprint.stop_run(str(exc) or "spend limit reached")
            print(f"{self.id}: {'the run is stopping: ' if stops_run else ''}{exc}", file=sys.stderr)
            return False
        finally:
            if ws is not None:
                ws.close()

    def _ladder(self, ws: Workspace) -> bool:
        max_attempts = self.runner_config["max_attempts"]
        changed_by_tools: list[str] = []
        for attempt in range(1, max_attempts + 1):
            if spent := self._budget_spent():
                self.failure = f"{spent} (the story's budget; raise [runner] {spent.split()[0]} to allow more). Last failure: {self.failure}"
                self.headline = spent + (f"; last failure: {self.headline}" if self.headline else "")
                break
            ws.tidy()  # the last gates' bytecode, caches and reports are not this agent's to find
            before = self._before(ws)
            result = self._agent("builder", attempt, ws)
            changed_by_tools += result.changed
            if not result.finished:
                self.failure = f"the agent stopped before finishing ({result.stop}): {result.detail or result.text}".strip()
                self.headline = f"the agent stopped before finishing ({result.stop})"
                continue
            changed = self._changed(ws, before, changed_by_tools)
            results = self._gates(ws, changed)
            if results and not results[-1].passed:
                self.failure = self._brief(ws, results[-1], attempt)
                continue
            if (review := self._review(ws, attempt)) is not None:
                self.failure = "The Reviewer requested changes:\n" + review
                self.headline = "The Reviewer requested changes: " + short(review, 80)
                continue
            try:
                return self._done(ws, changed)
            except MergeConflict as exc:
                print(f"{self.id}: merge conflict: {exc.reason}; running it again on the current code")
                self.sprint.checkpoints.event("merge_conflict", story=self.id, attempt=attempt, files=exc.files, reason=exc.reason)
                self.failure = f"Your change no longer applies to the working tree (another story changed the same lines):\n{exc.reason}\nRedo it on the current code."
                self.headline = "its change no longer applied to the working tree (a merge conflict)"
                ws.close()
                ws = open_workspace(self.sprint.root, self.sprint.build, self.name, self.isolation, self.story["files"])
                changed_by_tools = []
        return self._blocked()

    # ------------------------------------------------------------ steps

    def _agent(self, role: str, attempt: int, ws: Workspace, review_pass: int = 0, failure: str | None = None) -> AgentResult:
        """An agent call; a model API that fails (after the runner's own retries) costs no attempt.

        An overloaded API is not the story's failure: it must not feed the fix
        prompt an HTTP error, nor escalate to a pricier model.
        """
        for call in range(1, API_RETRIES + 1):
            result = self._call(role, attempt, ws, review_pass, failure)
            if result.stop != "error":
                return result
            if call < API_RETRIES:
                why = " ".join((result.detail or result.text or "no detail").split())[:200]
                print(f"{self.id}: the {role}'s call failed ({why}); asking again, {call + 1} of {API_RETRIES}")
        raise ModelUnavailable(f"the model API failed {API_RETRIES} times in a row: {result.detail or result.text}".strip())

    def _call(self, role: str, attempt: int, ws: Workspace, review_pass: int = 0, failure: str | None = None) -> AgentResult:
        policy = self.story["policy"]
        model = {"builder": self._model(attempt), "validator": self.sprint.config["models"]["haiku"]}.get(role, policy["model"])
        prompt = self._prompt(role, attempt, review_pass, failure)
        tag = f"{self.name}.{attempt}.{role}" + (f"{review_pass}" if review_pass else "")
        repeat = sum(1 for c in self.calls if (c["attempt"], c["role"], c.get("review_pass", 0)) == (attempt, role, review_pass))
        tag += f".retry{repeat}" if repeat else ""  # a call retried after an API error keeps its own transcript
        prompt_file = self.sprint.build / "prompts" / f"{tag}.md"
        atomic_write(prompt_file, prompt)
        task = AgentTask(
            story_id=self.id, role=role, model=model, attempt=attempt,
            system=self._system(role),
            prompt=prompt, workspace=ws.path,
            budget=self._budget_left(),
            transcript=self.sprint.build / "transcripts" / f"{tag}.jsonl", prompt_file=prompt_file,
        )
        cp = self.sprint.checkpoints
        cp.event("attempt_started", story=self.id, attempt=attempt, role=role, model=model)
        print(f"{self.id}: attempt {attempt}, {role} on {model}")
        started = time.monotonic()
        result = make_runner(self.sprint.root, self.sprint.plan).run(task)
        seconds = round(time.monotonic() - started, 3)
        call = {"attempt": attempt, "role": role, "review_pass": review_pass, "model": model, "finished": result.finished, "stop": result.stop,
                "turns": result.turns, "tokens": result.usage.as_dict(), "cost_usd": result.cost_usd, "seconds": seconds}
        self.calls.append(call)
        cp.event("attempt_finished", story=self.id, **call)
        return result

    def _budget_left(self) -> Budget:
        """What is left of the story's budget (turns, dollars, wall time), across all its agent calls."""
        runner = self.runner_config
        return Budget(
            max_turns=max(runner["max_turns"] - sum(c["turns"] for c in self.calls), 1),
            usd=max(runner["budget_usd"] - sum(c["cost_usd"] for c in self.calls), 0.0),
            wall_s=max(runner["timeout_s"] - (time.time() - self.started), 1.0),
        )

    def _budget_spent(self) -> str | None:
        runner = self.runner_config
        if sum(c["turns"] for c in self.calls) >= runner["max_turns"]:
            return f"max_turns = {runner['max_turns']} turns used up"
        if sum(c["cost_usd"] for c in self.calls) >= runner["budget_usd"]:
            return f"budget_usd = {runner['budget_usd']:g} spent"
        if time.time() - self.started >= runner["timeout_s"]:
            return f"timeout_s = {runner['timeout_s']} s of wall time used up"
        return None

    def _model(self, attempt: int) -> str:
        """Attempts 1 and 2 on the planned model; from 3 on, the next model up."""
        planned = self.story["policy"]["model"]
        if attempt < 3:
            return planned
        models = self.sprint.config["models"]
        ladder = [models["haiku"], models["sonnet"], models["opus"]]
        return ladder[min(ladder.index(planned) + 1, 2)] if planned in ladder else planned

    def _prompt(self, role: str, attempt: int, review_pass: int, failure: str | None = None) -> str:
        config = self.sprint.config
        template = role if role != "builder" or (attempt == 1 and self.failure is None) else "fix"
        arch = self.sprint.plan["inputs"].get("architecture")
        return render(
            self._env(), prompt_name(template),
            story=self.story, tasks_path=self.sprint.plan["inputs"]["tasks"]["path"],
            gates=[{"name": g, "command": config["gates"][g]} for g in self.story["policy"]["gates"] if g != "secrets"],
            architecture=None, architecture_path=arch["path"] if arch else None,  # the text itself is in the system prompt
            attempt=attempt, max_attempts=config["runner"]["max_attempts"], failure=failure or self.failure,
            changed_files=self.story["files"], review_pass=review_pass,
        )

    def _system(self, role: str) -> str:
        """The role's instructions and the architecture: the same bytes for every story, so they cache."""
        arch = self.sprint.plan["inputs"].get("architecture")
        text = _read_if_file(self.sprint.root / arch["path"]) if arch else None
        return render(self._env(), "prompts/system.md.j2", role=role, project=self.sprint.plan["project"], architecture=text, architecture_path=arch and arch["path"])

    def _env(self):
        return environment(user_templates(self.sprint.root, self.sprint.config["paths"]["templates"]))

    def _gates(self, ws: Workspace, changed: list[str]) -> list[GateResult]:
        attempt = self.calls[-1]["attempt"] if self.calls else 0  # the Builder's call that these gates judge
        results = run_gates(self.story["policy"]["gates"], self.sprint.config["gates"], ws.path, changed, timeout=GATE_TIMEOUT, log=self.log, attempt=attempt)
        if results and not results[-1].passed:
            self.headline = results[-1].headline()
        verdict = ", ".join(f"{r.name} {'ok' if r.passed else 'FAILED'}" for r in results) or "no gates"
        print(f"{self.id}: gates: {verdict}")
        self.sprint.checkpoints.event("gates", story=self.id, passed=all(r.passed for r in results), results={r.name: r.passed for r in results})
        return results

    def _brief(self, ws: Workspace, gate: GateResult, attempt: int) -> str:
        """The fix brief: a gate's output as it is, or, when long, condensed by the Validator (on Haiku).

        Only the gate's exit code decided; the Validator only shortens what the
        fix agent reads, and the output's last lines go with its brief.
        """
        raw = gate.brief()
        if len(raw) <= BRIEF_LIMIT or self.runner_config["kind"] == "command":
            return raw
        result = self._agent("validator", attempt, ws, failure=raw)
        text = result.text.strip()
        if not result.finished or not text or text.startswith("(no script)"):
            return raw
        return f"{text}\n\nThe last lines of `{gate.command}`:\n{raw[-2000:]}"

    def _review(self, ws: Workspace, attempt: int) -> str | None:
        """None when every review pass approves; else what the Reviewer asked for."""
        policy = self.story["policy"]
        for review_pass in range(1, (policy["review_passes"] if policy["reviewer"] else 0) + 1):
            before = self._files_now(ws)
            result = self._agent("reviewer", attempt, ws, review_pass)
            # A Reviewer only reads; an agent CLI (the command runner) can write all the same, and its
            # edits, made after the gates passed, must not reach the working tree unchecked.
            after = self._files_now(ws)
            if edited := sorted(f for f in before.keys() | after.keys() if before.get(f) != after.get(f)):
                return f"The Reviewer changed {', '.join(edited[:10])} instead of only reading; those changes now go through the gates with yours."
            # The verdict is the last line of the Reviewer's last message; a VERDICT line quoted from
            # a file the Builder wrote, anywhere above it, is not one.
            lines = result.text.strip().splitlines()
            verdict = VERDICT.fullmatch(lines[-1]) if lines else None
            if not (result.finished and verdict and verdict.group(1) == "APPROVE"):
                return result.text.strip() or f"(no verdict: the Reviewer stopped with {result.stop})"
        return None

    def _files_now(self, ws: Workspace) -> dict[str, str]:
        """Digests of what this attempt changed (in a worktree), else of the story's files."""
        files = ws.changed() if ws.tree is not None else story_files(ws.path, self.story["files"])
        # A Reviewer that runs the tests leaves bytecode and tool caches behind: those are no edit.
        return {f: file_digest(ws.path / f) for f in files if not (CACHES.intersection(f.split("/")) or f.endswith((".pyc", ".pyo")))}

    def _before(self, ws: Workspace) -> dict[str, str]:
        return {f: file_digest(ws.path / f) for f in story_files(ws.path, self.story["files"])}

    def _changed(self, ws: Workspace, before: dict[str, str], by_tools: list[str]) -> list[str]:
        if ws.tree is not None:
            return ws.changed()
        now = story_files(ws.path, self.story["files"], by_tools)
        return sorted(f for f in now if f in by_tools or before.get(f) != file_digest(ws.path / f))

    def _done(self, ws: Workspace, changed: list[str]) -> bool:
        changed = ws.bring_home() or changed
        record = _stamp(self.sprint, self.story, self.upstream, changed, by="agent" if self.calls else "gates", mode=self.mode, started=self.started, calls=self.calls, cause=self.cause)
        self.sprint.checkpoints.status(self.id, "done")
        self.sprint.checkpoints.event("story_done", story=self.id, attempts=len(self.calls), cost_usd=record["cost_usd"], tokens=record["tokens"], output_sha256=record["output_sha256"])
        print(f"{self.id}: done ({len(self.calls)} agent call(s), ${record['cost_usd']:.4f})")
        return True

    def _blocked(self) -> bool:
        attempts = max((c["attempt"] for c in self.calls if c["role"] == "builder"), default=0)
        headline = self.headline or "no failure recorded"
        self.sprint.checkpoints.status(self.id, "blocked")
        self.sprint.checkpoints.event(
            "story_blocked", story=self.id, attempts=attempts, reason=f"{attempts} attempt(s) failed; last failure: {headline}",
            summary=headline, failure=(self.failure or "")[:2000], log=self.log.relative_to(self.sprint.root).as_posix(),
        )
        print(f"{self.id}: BLOCKED after {count(attempts, 'attempt', 'attempts')}, needs human review")
        return False


def _read_if_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return None


def _stamp(sprint: Sprint, story: dict, upstream: dict, changed: list[str], *, by: str, mode: str, started: float, calls: list | None = None, cause: str = "") -> dict:
    calls = calls or []
    files = file_states(sprint.root, story_files(sprint.root, story["files"], changed, sprint.exclude[story["id"]]))
    usage = sum((Usage(c["tokens"]["input"], c["tokens"]["output"], c["tokens"]["cache_read"], c["tokens"]["cache_write"]) for c in calls), Usage())
    record = {
        "story": story["id"],
        "size": story["size"],  # with the planned model: what the next compile's estimates group builds by
        "model": story["policy"]["model"],
        "spec_sha256": story["spec_sha256"],
        "upstream": upstream,
        "files": files,
        "output_sha256": output_hash(files),
        "by": by,
        "mode": mode,
        "cause": cause,
        "calls": calls,
        "models": sorted({c["model"] for c in calls}),
        "tokens": usage.as_dict(),
        "cost_usd": round(sum(c["cost_usd"] for c in calls), 6),
        "seconds": round(time.time() - started, 3),
        "finished_at": round(time.time(), 3),
    }
    write_stamp(sprint.root, sprint.out(story["id"]), sprint.record_file(story["id"]), record)
    return record
