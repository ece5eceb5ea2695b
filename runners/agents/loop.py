"""A model and a tool executor into a finished agent call.

The loop asks the model for one assistant message at a time, runs the tools it
calls, answers every call, and stops when the model ends its turn or a budget
runs out. Budgets (turns, dollars, wall-clock) are checked between calls: a
call in flight is never cut, so one call can overshoot a budget by its own cost.

How each stop_reason is handled:
- end_turn, stop_sequence: finished; `text` is the reply's text.
- tool_use: every tool_use block runs, in order; the next user message answers
  every id with a tool_result (failures with is_error: true).
- max_tokens: a reply cut mid-way may end in a tool call whose input is cut
  too, so no tool of a cut reply runs, not even the complete ones before it
  (they were planned together with the cut one). Every id is answered with an
  is_error result that says why and asks for smaller calls. A cut reply with
  no tool call is asked to continue.
- pause_turn: the paused message is sent back as it is and the model resumes
  it; the continuation joins that same assistant message.
- refusal, model_context_window_exceeded: not finished, stop is that reason.
- anything else: not finished, stop "error".
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from storyc.plan import Price

from ..credentials import redact
from ..proc import clip
from .base import AgentResult, AgentTask, ModelClient, Usage
from .money import cost, no_price
from .tools import tool_schemas

FINISHED = ("end_turn", "stop_sequence")
GIVE_UP = ("refusal", "model_context_window_exceeded")

CUT_TOOL_CALL = (
    "not run: your reply was cut at max_tokens ({max_tokens}), so this call may be incomplete. "
    "Make the call again with a smaller input (write a large file in parts: Write a first part, then Edit to add more)."
)
CONTINUE = "Your reply was cut at max_tokens. Continue exactly where you stopped."
MAX_CALLS = 64  # tool calls run from one reply; more are answered "not run"


class ModelError(Exception):
    """A model call failed for good (after its retries): the agent call stops with stop="error"."""


def run_loop(
    client: ModelClient,
    executor: Any,
    task: AgentTask,
    *,
    price: Price | None,
    max_tokens: int = 8192,
    clock: Callable[[], float] = time.monotonic,
) -> AgentResult:
    """Drive `client` with `executor`'s tools until the model ends its turn or a budget stops it."""
    start = clock()
    tools = tool_schemas(task.tools)
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": task.prompt}]}]
    result = AgentResult(finished=False, stop="error")
    log = Transcript(task.transcript)
    log.header(task)
    log.message(messages[0])
    try:
        while True:
            if stop := _over_budget(result, task, clock() - start):
                result.stop, result.detail = stop
                return result
            try:
                reply = client.create(model=task.model, system=task.system, tools=tools, messages=messages, max_tokens=max_tokens)
            except ModelError as exc:
                result.stop, result.detail = "error", f"model call failed: {exc}"
                return result
            result.turns += 1
            result.usage += reply.usage
            if price is None and result.usage != Usage():
                raise no_price(task.model)
            result.cost_usd = cost(result.usage, price) if price is not None else 0.0
            result.text = _text(reply.content) or result.text

            if messages[-1]["role"] == "assistant":  # resuming a paused turn: one message, continued
                messages[-1] = {"role": "assistant", "content": [*messages[-1]["content"], *reply.content]}
            else:
                messages.append({"role": "assistant", "content": reply.content})
            log.message({"role": "assistant", "content": reply.content}, stop_reason=reply.stop_reason, usage=reply.usage)

            calls = [block for block in reply.content if block.get("type") == "tool_use"]
            if reply.stop_reason in FINISHED:
                result.finished, result.stop = True, reply.stop_reason
                return result
            if reply.stop_reason in GIVE_UP:
                result.stop = reply.stop_reason
                return result
            if reply.stop_reason == "pause_turn":
                continue
            if reply.stop_reason == "tool_use" and calls:
                answer = _run_all(executor, calls, lambda: clock() - start >= task.budget.wall_s)
            elif reply.stop_reason == "max_tokens":
                answer = [_refused(call, CUT_TOOL_CALL.format(max_tokens=max_tokens)) for call in calls]
                answer = answer or [{"type": "text", "text": CONTINUE}]
            else:
                result.stop, result.detail = "error", f"the model stopped with stop_reason {reply.stop_reason!r}" + (
                    " but called no tool" if reply.stop_reason == "tool_use" else ", which storyc does not know"
                )
                return result
            messages.append({"role": "user", "content": answer})
            log.message(messages[-1])
    except BaseException as exc:  # the transcript says why the call ended, even when it ends in an exception
        result.detail = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        result.seconds = clock() - start
        result.changed = sorted(executor.changed)
        log.end(result)
        log.close()


def _over_budget(result: AgentResult, task: AgentTask, elapsed: float) -> tuple[str, str] | None:
    budget = task.budget
    if result.turns >= budget.max_turns:
        return "max_turns", f"stopped after {result.turns} model calls (budget: {budget.max_turns})"
    if result.cost_usd >= budget.usd:
        return "budget", f"spent ${result.cost_usd:.4f} of a ${budget.usd:.2f} budget"
    if elapsed >= budget.wall_s:
        return "timeout", f"ran {elapsed:.0f} s of a {budget.wall_s:.0f} s budget"
    return None


def _run_all(executor: Any, calls: list[dict[str, Any]], out_of_time: Callable[[], bool]) -> list[dict[str, Any]]:
    """Every call answered, in order; one reply cannot outrun the wall-clock budget nor run without bound."""
    answer: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for index, call in enumerate(calls):
        if index >= MAX_CALLS:
            answer.append(_refused(call, f"not run: {len(calls)} tool calls in one reply; at most {MAX_CALLS} are run. Make fewer, larger calls."))
        elif not isinstance(call.get("id"), str) or call["id"] in seen:
            answer.append(_refused(call, "not run: this tool call has no id of its own"))
        elif index > 0 and out_of_time():  # the first is covered by the check before the model call
            answer.append(_refused(call, "not run: the story's time budget is spent"))
        else:
            answer.append(_run(executor, call))
        seen.add(call.get("id"))
    return answer


def _run(executor: Any, call: dict[str, Any]) -> dict[str, Any]:
    done = executor.run(call.get("name"), {} if call.get("input") is None else call["input"])
    return {"type": "tool_result", "tool_use_id": call["id"], "content": done.text or "(no output)", "is_error": done.is_error}


def _refused(call: dict[str, Any], why: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": str(call.get("id", "")), "content": why, "is_error": True}


def _text(content: list[dict[str, Any]]) -> str:
    return "\n".join(block["text"] for block in content if block.get("type") == "text" and block.get("text")).strip()


# ------------------------------------------------------------------ transcript

CLIP = 4000
def _readable(value: Any) -> Any:
    """Every string redacted and clipped, so a transcript is safe to read and to share."""
    if isinstance(value, str):
        return clip(redact(value), CLIP)
    if isinstance(value, dict):
        return {key: _readable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_readable(item) for item in value]
    return value


class Transcript:
    """JSON lines, one per message, written as the call goes (a crash still leaves them)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8")

    def write(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(_readable(entry), ensure_ascii=False) + "\n")
        self._file.flush()

    def header(self, task: AgentTask) -> None:
        self.write({"story": task.story_id, "role": task.role, "model": task.model, "attempt": task.attempt, "system": task.system})

    def message(self, message: dict[str, Any], **extra: Any) -> None:
        entry: dict[str, Any] = {"role": message["role"]}
        for block in message["content"]:
            kind = block.get("type")
            if kind == "text":
                entry["text"] = (entry.get("text", "") + "\n" + block["text"]).strip()
            elif kind == "tool_use":
                entry.setdefault("tool_calls", []).append({"id": block.get("id"), "name": block.get("name"), "input": block.get("input")})
            elif kind == "tool_result":
                entry.setdefault("tool_results", []).append(
                    {"id": block["tool_use_id"], "is_error": block.get("is_error", False), "content": block["content"]}
                )
            else:
                entry.setdefault("other", []).append(kind)
        if "usage" in extra:
            extra["usage"] = extra["usage"].as_dict()
        self.write({**entry, **extra})

    def end(self, result: AgentResult) -> None:
        self.write(
            {
                "end": result.stop,
                "finished": result.finished,
                "turns": result.turns,
                "usage": result.usage.as_dict(),
                "cost_usd": round(result.cost_usd, 6),
                "seconds": round(result.seconds, 3),
                "detail": result.detail,
                "changed": result.changed,
            }
        )

    def close(self) -> None:
        self._file.close()
