"""A story's request to an agent (role, attempt, model, failure) into a prompt, a runner call, an event and a Call.

Every agent call of a story goes through `AgentCalls.ask`: the prompt is
rendered from the templates and written to build/prompts/, the run's runner
is called with what is left of the story's budget, and the call is printed,
recorded as events and kept for the stamp. A model API that keeps failing is
retried here and costs no attempt.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from storyc.files import atomic_write
from storyc.plan import PlannedStory

from ..templates.render import environment, prompt_name, render, user_templates
from .agents.base import AgentResult, AgentTask, Budget
from .ladder import API_RETRIES, Call
from .run import Run


class ModelUnavailable(Exception):
    """The model API kept failing: not the story's fault, so not a failed attempt."""


class Prompts:
    """One story's prompts: the role's system text and its prompt, from the templates (a user's copy first)."""

    def __init__(self, run: Run, story: PlannedStory):
        self.run, self.story = run, story
        self.env = environment(user_templates(run.root, run.config.paths.templates))
        self.architecture = (run.plan.inputs.get("architecture") or {}).get("path")

    def system(self, role: str) -> str:
        """The role's instructions and the architecture: the same bytes for every story, so they cache."""
        text = _read_if_file(self.run.root / self.architecture) if self.architecture else None
        return render(self.env, "prompts/system.md.j2", role=role, project=self.run.plan.project, architecture=text, architecture_path=self.architecture)

    def prompt(self, template: str, attempt: int, failure: str | None, review_pass: int = 0) -> str:
        config = self.run.config
        return render(
            self.env, prompt_name(template),
            story=self.story, tasks_path=self.run.plan.inputs["tasks"]["path"],
            gates=[{"name": g, "command": getattr(config.gates, g)} for g in self.story.policy.gates if g != "secrets"],
            architecture=None, architecture_path=self.architecture,  # the text itself is in the system prompt
            attempt=attempt, max_attempts=len(self.story.policy.ladder), failure=failure,
            changed_files=self.story.files, review_pass=review_pass,
        )


class AgentCalls:
    """One story's agent calls in one run, kept for its budget and its stamp."""

    def __init__(self, run: Run, story: PlannedStory, name: str, budget: Callable[[list[Call]], Budget]):
        self.run, self.story, self.name = run, story, name
        self.budget = budget  # what is left of the story's budget, after these calls
        self.prompts = Prompts(run, story)
        self.calls: list[Call] = []

    def ask(self, role: str, attempt: int, model: str, workspace: Path, *, template: str, failure: str | None, review_pass: int = 0) -> AgentResult:
        """An agent call; a model API that fails (after the runner's own retries) costs no attempt.

        An overloaded API is not the story's failure: it must not feed the fix
        prompt an HTTP error, nor escalate to a pricier model.
        """
        for n in range(1, API_RETRIES + 1):
            result = self._call(role, attempt, model, workspace, self.prompts.prompt(template, attempt, failure, review_pass), review_pass)
            if result.stop != "error":
                return result
            if n < API_RETRIES:
                why = " ".join((result.detail or result.text or "no detail").split())[:200]
                print(f"{self.story.id}: the {role}'s call failed ({why}); asking again, {n + 1} of {API_RETRIES}")
        raise ModelUnavailable(f"the model API failed {API_RETRIES} times in a row: {result.detail or result.text}".strip())

    def _call(self, role: str, attempt: int, model: str, workspace: Path, prompt: str, review_pass: int) -> AgentResult:
        tag = f"{self.name}.{attempt}.{role}" + (f"{review_pass}" if review_pass else "")
        repeat = sum(1 for c in self.calls if (c.attempt, c.role, c.review_pass) == (attempt, role, review_pass))
        tag += f".retry{repeat}" if repeat else ""  # a call retried after an API error keeps its own transcript
        build = self.run.build
        prompt_file = build / "prompts" / f"{tag}.md"
        atomic_write(prompt_file, prompt)
        task = AgentTask(
            story_id=self.story.id, role=role, model=model, attempt=attempt,
            system=self.prompts.system(role), prompt=prompt, workspace=workspace,
            budget=self.budget(self.calls),
            transcript=build / "transcripts" / f"{tag}.jsonl", prompt_file=prompt_file,
        )
        self.run.checkpoints.event("attempt_started", story=self.story.id, attempt=attempt, role=role, model=model)
        print(f"{self.story.id}: attempt {attempt}, {role} on {model}")
        started = time.monotonic()
        result = self.run.runner.run(task)
        call = Call(attempt=attempt, role=role, review_pass=review_pass, model=model, finished=result.finished, stop=result.stop, turns=result.turns,
                    tokens=result.usage.as_dict(), cost_usd=result.cost_usd, seconds=round(time.monotonic() - started, 3))
        self.calls.append(call)
        self.run.checkpoints.event("attempt_finished", story=self.story.id, **call.record())
        return result


def _read_if_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return None
