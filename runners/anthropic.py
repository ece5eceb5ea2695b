"""Claude, through the official SDK, as a ModelClient.

Prompt caching: a request is tools, then system, then messages, and the cache
matches a prefix of that. Tools and system depend on the role only (the story
is in the user message), so every story of one role shares one cached prefix.
Breakpoints: the last tool, the system block, the last user content block
(three of the four the API allows; the loop's own messages are never marked,
so old breakpoints do not pile up).

Retries: the SDK retries a failed request itself (`max_retries`). When it gives
up on an overloaded API (529), a rate limit, a 5xx or a dropped connection, the
call is tried again after a pause (`retry_delays`), so a busy hour does not
fail a story. A spend limit or a bad API key stops the whole run (RunAborted):
every other story would fail the same way.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any, Callable

import anthropic

from storyc.compiler.config import Price

from .base import AgentResult, AgentTask, Budget, Reply, RunAborted, Usage
from .loop import ModelError, run_loop
from .money import price_for

CACHE = {"type": "ephemeral"}

# error.details.error_code values that mean no more money can be spent (the SDK's error classes).
SPEND_CODES = {
    "enforced_spend_limit_reached",
    "contract_spend_limit_reached",
    "linked_organization_spend_limit_reached",
    "linked_organization_billing_unavailable",
    "user_profile_billing_not_authorized",
    "user_profile_not_billable",
    "organization_on_hold",
}
# Older or proxied errors carry only a message, e.g. a 400 "Your credit balance is too low ...".
SPEND_WORDS = ("credit balance", "spend limit", "usage limit", "billing")


def default_sdk_client() -> anthropic.Anthropic:
    """The SDK client from the environment: ANTHROPIC_API_KEY, and ANTHROPIC_BASE_URL when set."""
    return anthropic.Anthropic(max_retries=2, timeout=600.0)


class AnthropicClient:
    """One assistant message per call, through `sdk_client.messages.create`."""

    def __init__(
        self,
        sdk_client: anthropic.Anthropic,
        *,
        retry_delays: tuple[float, ...] = (2.0, 10.0, 30.0),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.sdk = sdk_client
        self.retry_delays = retry_delays
        self.sleep = sleep

    def create(self, *, model: str, system: str, tools: list[dict[str, Any]], messages: list[dict[str, Any]], max_tokens: int) -> Reply:
        request: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens,
            "messages": with_breakpoint(messages),
        }
        if system:  # the API refuses an empty text block
            request["system"] = [{"type": "text", "text": system, "cache_control": CACHE}]
        if tools:
            request["tools"] = [*tools[:-1], {**tools[-1], "cache_control": CACHE}]
        for delay in (*self.retry_delays, None):
            try:
                return to_reply(self.sdk.messages.create(**request))
            except anthropic.APIStatusError as exc:
                if spend_stop(exc):
                    raise RunAborted(f"the Anthropic API refused to spend more ({exc.status_code}): {exc.api_message or exc}") from exc
                if exc.status_code == 401:
                    raise RunAborted(f"the Anthropic API rejected the API key (401): {exc.api_message or exc}") from exc
                if delay is None or not (exc.status_code == 429 or exc.status_code >= 500):
                    raise ModelError(" ".join(filter(None, (str(exc.status_code), exc.type))) + f": {exc.api_message or exc}") from exc
            # Timeouts, connections lost mid-response, and bodies that are not a Messages API message.
            except (anthropic.APIConnectionError, anthropic.APIResponseValidationError, json.JSONDecodeError) as exc:
                if delay is None:
                    raise ModelError(f"{type(exc).__name__}: {exc}") from exc
            self.sleep(delay)
        raise AssertionError("unreachable")


def with_breakpoint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` with a cache breakpoint on the last content block of the last user message (copied, not changed)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message["role"] != "user":
            continue
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        if not blocks:
            return messages
        blocks[-1] = {**blocks[-1], "cache_control": CACHE}
        return [*messages[:index], {**message, "content": blocks}, *messages[index + 1 :]]
    return messages


def to_reply(message: Any) -> Reply:
    """An SDK Message into a Reply: plain-dict blocks, as they are sent back."""
    usage = message.usage
    return Reply(
        content=[block.model_dump(mode="json", exclude_none=True) for block in message.content],
        stop_reason=message.stop_reason or "",
        usage=Usage(
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens or 0,
            usage.cache_creation_input_tokens or 0,
        ),
    )


def spend_stop(exc: anthropic.APIStatusError) -> bool:
    """Whether the API refused because no more money may be spent (not a rate limit)."""
    if exc.error_code in SPEND_CODES or exc.type == "billing_error" or exc.status_code == 402:
        return True
    message = str(exc.api_message or exc.message or "").lower()
    return exc.status_code in (400, 403) and any(words in message for words in SPEND_WORDS)


class AnthropicRunner:
    """Claude through our own tool loop, priced per call and held to the story's budget.

    `budget`, when given, is a ceiling: each limit of a task's budget is
    lowered to it (the tighter of the two wins).
    """

    def __init__(
        self,
        prices: dict[str, Price],
        budget: Budget | None,
        make_executor: Callable[[AgentTask], Any],
        client_factory: Callable[[], anthropic.Anthropic] = default_sdk_client,
        *,
        max_tokens: int = 8192,
        retry_delays: tuple[float, ...] = (2.0, 10.0, 30.0),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.prices = prices
        self.budget = budget
        self.make_executor = make_executor
        self.client_factory = client_factory
        self.max_tokens = max_tokens
        self.retry_delays = retry_delays
        self.sleep = sleep

    def run(self, task: AgentTask) -> AgentResult:
        price = price_for(task.model, self.prices)  # before any call: an unpriced model spends nothing
        if self.budget is not None:
            task = replace(task, budget=tighter(task.budget, self.budget))
        client = AnthropicClient(self.client_factory(), retry_delays=self.retry_delays, sleep=self.sleep)
        return run_loop(client, self.make_executor(task), task, price=price, max_tokens=self.max_tokens)


def tighter(a: Budget, b: Budget) -> Budget:
    return Budget(max_turns=min(a.max_turns, b.max_turns), usd=min(a.usd, b.usd), wall_s=min(a.wall_s, b.wall_s))
