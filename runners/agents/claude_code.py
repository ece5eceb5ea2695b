"""A story's agent call into the `claude` CLI, headless, and its result event back.

    claude -p --output-format stream-json --verbose --model M
           --tools T --allowedTools T --max-turns N --max-budget-usd U
           --append-system-prompt SYSTEM -- PROMPT

`--tools` leaves the model only its role's tools; `--allowedTools` (the same
list) lets them run without a permission prompt, which headless mode cannot
answer. The process gets its own HOME and TMPDIR and an allow-listed
environment; the API key or token is passed to it explicitly (it must
authenticate, and a login kept in the user's HOME does not reach it) and
CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1 asks it to keep the key from the commands
its Bash tool runs. Our wall-clock budget kills the whole process group. The
preflight checks both: `claude` on PATH, a key or token to pass.

The last `result` event of the stream gives the outcome, cost and usage; the
stream, redacted, is the transcript.

Limits: the prompt travels as one argument, so it must stay under the
kernel's 128 KiB per-argument limit; `changed` is empty (the CLI does not say
which files it wrote: the engine's diff of the workspace does).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from ..credentials import redact
from ..proc import program_problem, run_process, scrubbed_env
from .base import FIX_KIND, AgentResult, AgentTask, RunnerUnavailable, Usage
from .loop import Transcript

# Claude Code's result subtypes, as our stop words.
STOPS = {"success": "end_turn", "error_max_turns": "max_turns", "error_max_budget_usd": "budget", "error_during_execution": "error"}
# claude runs with a HOME of its own, so a login kept in yours does not reach it: one of these must.
AUTH = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
PASSED_THROUGH = (*AUTH, "ANTHROPIC_BASE_URL")
INSTALL = "install Claude Code (npm install -g @anthropic-ai/claude-code)"


def claude_argv(task: AgentTask, executable: str = "claude") -> list[str]:
    tools = ",".join(task.tools)
    return [
        executable, "-p",
        "--output-format", "stream-json", "--verbose",
        "--model", task.model,
        "--tools", tools,
        "--allowedTools", tools,
        "--max-turns", str(task.budget.max_turns),
        "--max-budget-usd", f"{task.budget.usd:g}",
        "--append-system-prompt", task.system,
        "--", task.prompt,
    ]  # fmt: skip


class ClaudeCodeRunner:
    """The `claude` CLI as a runner; `environ` is where the API key comes from (os.environ by default)."""

    def __init__(self, executable: str = "claude", environ: Mapping[str, str] | None = None):
        self.executable = executable
        self.environ = os.environ if environ is None else environ

    def preflight(self, story_id: str) -> None:
        if problem := program_problem(self.executable, path=self.environ.get("PATH"), cwd=Path.cwd()):
            raise RunnerUnavailable(f"cannot run the claude-code runner: {problem}; {INSTALL}, {FIX_KIND}")
        if not any(self.environ.get(key) for key in AUTH):
            raise RunnerUnavailable(
                f"cannot run the claude-code runner: no {' or '.join(AUTH)} in the environment "
                f"(claude gets a HOME of its own, so your login does not reach it); export one, {FIX_KIND}"
            )

    def run(self, task: AgentTask) -> AgentResult:
        with tempfile.TemporaryDirectory(prefix="storyc-claude-") as scratch:
            env = scrubbed_env(Path(scratch, "home"), Path(scratch, "tmp"), path=self.environ.get("PATH"))
            env.update({key: self.environ[key] for key in PASSED_THROUGH if self.environ.get(key)})
            env["CLAUDE_CODE_SUBPROCESS_ENV_SCRUB"] = "1"
            stream = Path(scratch, "stream.jsonl")
            done = run_process(claude_argv(task, self.executable), cwd=task.workspace, env=env, timeout=task.budget.wall_s, log=stream)
            if not done.started:
                raise RunnerUnavailable(f"cannot run the claude-code runner: {done.output}; {INSTALL}, {FIX_KIND}")
            events = read_events(stream)
        log = Transcript(task.transcript)
        try:
            for event in events:
                log.write(event)
            result = to_result(events, done.returncode, done.timed_out, done.output)
            result.seconds = done.seconds
            log.end(result)
        finally:
            log.close()
        return result


def read_events(stream: Path) -> list[dict[str, Any]]:
    """Every line of the stream as an event; a line that is not JSON is kept as {"raw": line}."""
    events = []
    for line in stream.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            event = None
        events.append(event if isinstance(event, dict) else {"raw": line})
    return events


def to_result(events: list[dict[str, Any]], returncode: int, timed_out: bool, output: str) -> AgentResult:
    result_event = next((e for e in reversed(events) if e.get("type") == "result"), None)
    if result_event is None:
        stop = "timeout" if timed_out else "error"
        detail = "claude was killed at the time budget" if timed_out else f"claude exited {returncode} without a result event"
        return AgentResult(finished=False, stop=stop, detail=f"{detail}; its output ends:\n{redact(output[-2000:])}")
    usage = result_event.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    subtype = str(result_event.get("subtype", ""))
    failed = timed_out or bool(result_event.get("is_error")) or returncode != 0 or subtype != "success"
    stop = "timeout" if timed_out else STOPS.get(subtype, "error")
    return AgentResult(
        finished=not failed,
        stop="error" if failed and stop == "end_turn" else stop,
        text=str(result_event.get("result") or ""),
        turns=_number(result_event.get("num_turns"), int),
        usage=Usage(
            _number(usage.get("input_tokens"), int),
            _number(usage.get("output_tokens"), int),
            _number(usage.get("cache_read_input_tokens"), int),
            _number(usage.get("cache_creation_input_tokens"), int),
        ),
        cost_usd=_number(result_event.get("total_cost_usd"), float),
        detail="" if not failed else f"claude: subtype {subtype or '?'}, exit {returncode}" + (", timed out" if timed_out else ""),
    )


def _number(value: Any, kind: type) -> Any:
    """A count or a cost from the stream; anything else (a string, a list, NaN, a negative) as 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        return kind(0)
    return kind(value)
