"""The runner interface: what an agent is asked to do, and what comes back.

Every kind of runner (anthropic, claude-code, command, scripted) takes an
`AgentTask` and returns an `AgentResult`. Runners that drive a model turn by
turn share one tool loop (`runners.loop`), which takes a `ModelClient` and a
tool executor as arguments: the SDK client, the scripted player and the tests'
fakes are interchangeable.

A runner never decides whether a story is done: it reports that the agent
stopped, and why. storyc's gates decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from storyc.roles import ROLE_TOOLS


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call, or the sum of several."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "input": self.input_tokens,
            "output": self.output_tokens,
            "cache_read": self.cache_read_tokens,
            "cache_write": self.cache_write_tokens,
        }


@dataclass(frozen=True, slots=True)
class Budget:
    """Per agent call limits, enforced by storyc, not by the model."""

    max_turns: int = 50
    usd: float = 5.0
    wall_s: float = 1800.0


@dataclass(frozen=True, slots=True)
class AgentTask:
    """One agent call: a role, a model, a prompt and a workspace to work in."""

    story_id: str
    role: str  # builder, validator or reviewer
    model: str
    attempt: int  # 1-based, within this run of the story
    system: str  # the role's instructions: identical for every story, so it caches
    prompt: str  # this story's prompt (context, objective, constraints, any failure)
    workspace: Path  # the agent's tools never reach outside it
    budget: Budget
    transcript: Path  # where the runner writes what happened, for people to read
    prompt_file: Path  # `prompt` written to a file (for CLI agents that take one)

    @property
    def tools(self) -> tuple[str, ...]:
        return ROLE_TOOLS[self.role]


@dataclass(slots=True)
class AgentResult:
    """How an agent call ended. `finished` is the agent's word, not a verdict."""

    finished: bool  # the agent ended its turn (or its process exited 0)
    stop: str  # end_turn, exit, timeout, max_turns, budget, refusal, error, ...
    text: str = ""  # the agent's last message (the Reviewer's VERDICT line is read from it)
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    seconds: float = 0.0
    detail: str = ""  # why it stopped, when that is not obvious
    changed: list[str] = field(default_factory=list)  # workspace-relative paths written through tools


class Runner(Protocol):
    def preflight(self, story_id: str) -> None:
        """Raise RunnerUnavailable (or a StorycError) when `story_id`'s agent cannot run here; call nothing."""

    def run(self, task: AgentTask) -> AgentResult: ...


# ------------------------------------------------------------ turn-by-turn models


@dataclass(slots=True)
class Reply:
    """One assistant message, in the Messages API's shape.

    `content` holds blocks as dicts: {"type": "text", "text": ...} and
    {"type": "tool_use", "id": ..., "name": ..., "input": {...}}.
    """

    content: list[dict[str, Any]]
    stop_reason: str  # end_turn, tool_use, max_tokens, pause_turn, refusal, model_context_window_exceeded, stop_sequence
    usage: Usage = field(default_factory=Usage)


class ModelClient(Protocol):
    """What the tool loop needs of a model: one assistant message per call."""

    def create(self, *, model: str, system: str, tools: list[dict[str, Any]], messages: list[dict[str, Any]], max_tokens: int) -> Reply: ...


class RunAborted(Exception):
    """Stop the whole run, not just this story (a spend limit reached, say)."""


class RunnerUnavailable(Exception):
    """The runner cannot run here at all (no API key, its program not installed): every story would fail alike.

    The message is one line: what is missing and how to fix it. It is not the
    model's failure: nothing retries it.
    """


FIX_KIND = "or set [runner] kind in storyc.toml"  # how every preflight message ends: the other way out
NO_KEY = f"cannot run the anthropic runner: no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN in the environment; export one, {FIX_KIND}"
