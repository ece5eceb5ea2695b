"""Claude, through the official SDK, as a ModelClient.

Prompt caching: a request is tools, then system, then messages, and the cache
matches a prefix of that. Tools and system depend on the role only (the story
is in the user message), so every story of one role shares one cached prefix.
Breakpoints: the last tool, the system block, the last user content block
(three of the four the API allows; the loop's own messages are never marked,
so old breakpoints do not pile up).

Retries are storyc's, not the SDK's (its client has max_retries=0), so each
one is said and the whole is bounded: an overloaded API (529), a rate limit,
a 5xx, a refused or dropped connection or no answer within the request timeout
is tried again after a pause (`retry_delays`, or the API's retry-after when
shorter than a minute), each pause printed (`US-001: model API unreachable
(... try 1 of 5), retrying in 1s`), never past the story's wall-time budget.
A busy API that stays busy ends the call with an error; an API that cannot be
reached at all, a spend limit or a bad API key stops the whole run
(RunAborted): every other story would fail the same way.

At most: tries x request timeout (connect 10 s) + the pauses (43 s), and
never a pause that would end past the story's `timeout_s`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from typing import Any, Callable

import anthropic

from storyc.plan import Price

from .base import (
    FIX_KIND,
    NO_KEY,
    AgentResult,
    AgentTask,
    Budget,
    Reply,
    RunAborted,
    RunnerUnavailable,
    Usage,
)
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

CONNECT_S = 10.0  # a host that does not even accept the connection
REQUEST_S = 600.0  # [runner] request_timeout_s by default: the SDK's own; an answer of 8,192 tokens can take minutes
RETRY_DELAYS = (1.0, 2.0, 10.0, 30.0)  # pauses between the tries of one request: 5 tries over 43 s
RETRY_AFTER_MAX = 60.0  # the API's retry-after is obeyed up to this; longer, our own pause


def default_sdk_client(request_timeout_s: float = REQUEST_S) -> anthropic.Anthropic:
    """The SDK client from the environment (ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN; ANTHROPIC_BASE_URL when set).

    It retries nothing itself: AnthropicClient does, and says so.
    """
    return anthropic.Anthropic(max_retries=0, timeout=anthropic.Timeout(request_timeout_s, connect=min(CONNECT_S, request_timeout_s)))


def check_credentials(sdk_client: anthropic.Anthropic) -> None:
    """RunnerUnavailable unless the client found something to authenticate with (the SDK would raise a TypeError per request)."""
    if not (sdk_client.api_key or sdk_client.auth_token or getattr(sdk_client, "credentials", None)):
        raise RunnerUnavailable(NO_KEY)


def say(text: str) -> None:
    print(text, flush=True)  # a worker's output is a pipe: a retry is news now, not when the story ends


class AnthropicClient:
    """One assistant message per call, through `sdk_client.messages.create`, retried as the module says.

    `deadline` (on `clock`) is the end of the story's wall-time budget: no pause
    ends past it. `label` (the story id) starts every line `say` prints.
    """

    def __init__(
        self,
        sdk_client: anthropic.Anthropic,
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
        label: str = "",
        say: Callable[[str], None] = say,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.sdk = sdk_client
        self.retry_delays = retry_delays
        self.sleep = sleep
        self.label, self.say = label, say
        self.deadline, self.clock = deadline, clock

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
        tries, started = len(self.retry_delays) + 1, self.clock()
        for number, delay in enumerate((*self.retry_delays, None), 1):
            try:
                return to_reply(self.sdk.messages.create(**request))
            except anthropic.APIStatusError as exc:
                if spend_stop(exc):
                    raise RunAborted(f"the Anthropic API refused to spend more ({exc.status_code}): {exc.api_message or exc}") from exc
                if exc.status_code == 401:
                    raise RunAborted(f"the Anthropic API rejected the API key (401): {exc.api_message or exc}") from exc
                status = " ".join(filter(None, (str(exc.status_code), exc.type)))
                error: Exception = ModelError(f"{status}: {exc.api_message or exc}")
                if not (exc.status_code in (408, 429) or exc.status_code >= 500):
                    raise error from exc
                what, why, cause = "busy", status, exc
                wait = retry_after(exc.response)
                delay = wait if delay is not None and wait is not None else delay
            except anthropic.APIConnectionError as exc:  # refused, dropped, no such host, or no answer in time (APITimeoutError)
                what, why, cause = "unreachable", self._why(exc), exc
                error = RunAborted(
                    f"the model API at {self.sdk.base_url} is unreachable ({why}); gave up after {number} "
                    f"{'try' if number == 1 else 'tries'} in {self.clock() - started:.0f} s. Check the network and ANTHROPIC_BASE_URL"
                )
            # A body that is not a Messages API message.
            except (anthropic.APIResponseValidationError, json.JSONDecodeError) as exc:
                what, why, cause = "sent an unreadable answer", type(exc).__name__, exc
                error = ModelError(f"{type(exc).__name__}: {exc}")
            if delay is None or (self.deadline is not None and self.clock() + delay >= self.deadline):
                raise error from cause
            self.say(f"{self.label}: model API {what} ({why}; try {number} of {tries}), retrying in {delay:.3g}s")
            self.sleep(delay)
        raise AssertionError("unreachable")

    def _why(self, exc: anthropic.APIConnectionError) -> str:
        if isinstance(exc, anthropic.APITimeoutError):
            timeout = self.sdk.timeout
            read = getattr(timeout, "read", timeout)
            return f"no answer within {read:g} s" if isinstance(read, (int, float)) else "no answer in time"
        cause = exc.__cause__
        text = str(cause) if cause is not None and str(cause) else str(exc)
        return re.sub(r"^\[Errno -?\d+\]\s*", "", text)  # "[Errno 111] Connection refused" -> "Connection refused"


def retry_after(response: Any) -> float | None:
    """The seconds an error response asks us to wait (retry-after-ms, retry-after), when a minute or less."""
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            seconds = float(headers.get(name, "")) / scale
        except ValueError:
            continue
        if 0 <= seconds <= RETRY_AFTER_MAX:
            return seconds
    return None


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
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
        say: Callable[[str], None] = say,
    ):
        self.prices = prices
        self.budget = budget
        self.make_executor = make_executor
        self.client_factory = client_factory
        self.max_tokens = max_tokens
        self.retry_delays = retry_delays
        self.sleep = sleep
        self.say = say

    def preflight(self, story_id: str) -> None:
        """The SDK client this runner would use finds an API key or token (no request is made)."""
        try:
            sdk = self.client_factory()
        except Exception as exc:  # e.g. an unreadable ANTHROPIC_PROFILE: the SDK's own words
            raise RunnerUnavailable(f"cannot run the anthropic runner: the SDK cannot set up a client: {str(exc).rstrip('.')}; {FIX_KIND}") from None
        try:
            check_credentials(sdk)
        finally:
            sdk.close()

    def run(self, task: AgentTask) -> AgentResult:
        price = price_for(task.model, self.prices)  # before any call: an unpriced model spends nothing
        if self.budget is not None:
            task = replace(task, budget=tighter(task.budget, self.budget))
        sdk = self.client_factory()
        try:
            check_credentials(sdk)
            deadline = time.monotonic() + task.budget.wall_s
            client = AnthropicClient(sdk, retry_delays=self.retry_delays, sleep=self.sleep, label=task.story_id, say=self.say, deadline=deadline)
            return run_loop(client, self.make_executor(task), task, price=price, max_tokens=self.max_tokens)
        finally:
            sdk.close()


def tighter(a: Budget, b: Budget) -> Budget:
    return Budget(max_turns=min(a.max_turns, b.max_turns), usd=min(a.usd, b.usd), wall_s=min(a.wall_s, b.wall_s))
