"""The anthropic runner: the real SDK against a fake Messages API on 127.0.0.1."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import anthropic
import pytest
from storyc_tests_fakeapi import FakeAPI  # loaded by conftest

from storyc.errors import ConfigError
from storyc.plan import Price
from storyc.runners.agents.anthropic import NO_KEY, AnthropicRunner, default_sdk_client
from storyc.runners.agents.base import AgentTask, Budget, RunAborted, RunnerUnavailable, Usage
from storyc.runners.agents.money import cost
from storyc.runners.agents.tools import ToolExecutor

PRICE = Price(input=3.0, output=15.0, cache_read=0.30, cache_write=3.75)
PRICES = {"claude-test": PRICE}


@pytest.fixture
def api():
    with FakeAPI() as fake:
        yield fake


def sdk(api, *, max_retries: int = 0, timeout: float = 5.0, url: str | None = None):
    """A client as storyc makes one (max_retries=0: storyc retries, and says so), with a test key."""
    return lambda: anthropic.Anthropic(
        base_url=url or api.url, api_key="test-key", max_retries=max_retries, timeout=timeout, _strict_response_validation=True
    )


def make_task(tmp_path: Path, story: str = "S-1", prompt: str = "Write src/x.py.", role: str = "builder", wall_s: float = 60.0) -> AgentTask:
    workspace = tmp_path / story / "ws"
    workspace.mkdir(parents=True, exist_ok=True)
    return AgentTask(
        story_id=story,
        role=role,
        model="claude-test",
        attempt=1,
        system=f"You are the {role}.",
        prompt=prompt,
        workspace=workspace,
        budget=Budget(max_turns=10, usd=5.0, wall_s=wall_s),
        transcript=tmp_path / story / "transcript.jsonl",
        prompt_file=tmp_path / story / "prompt.md",
    )


def runner(api, sleeps: list[float] | None = None, said: list[str] | None = None, **kwargs) -> AnthropicRunner:
    return AnthropicRunner(
        PRICES,
        kwargs.pop("budget", None),
        lambda task: ToolExecutor(task.workspace, allowed=task.tools),
        kwargs.pop("client_factory", None) or sdk(api),
        retry_delays=kwargs.pop("retry_delays", (0.5, 1.0)),
        sleep=(sleeps if sleeps is not None else []).append,
        say=(said if said is not None else []).append,
        **kwargs,
    )


NO_RETRY_AFTER = {"retry-after-ms": ""}  # the fake's errors ask for 1 ms unless told otherwise


def write_then_done(api, path: str = "src/x.py") -> None:
    api.reply(
        [{"type": "text", "text": "Writing it."}, {"type": "tool_use", "id": "toolu_01", "name": "Write", "input": {"file_path": path, "content": "x = 1\n"}}],
        "tool_use",
        {"input_tokens": 1000, "output_tokens": 100, "cache_creation_input_tokens": 2000},
    )
    api.reply([{"type": "text", "text": "Done."}], "end_turn", {"input_tokens": 50, "output_tokens": 10, "cache_read_input_tokens": 3000})


def test_a_two_turn_tool_loop_writes_a_file_and_counts_its_cost(api, tmp_path):
    write_then_done(api)
    task = make_task(tmp_path)
    result = runner(api).run(task)

    assert (task.workspace / "src" / "x.py").read_text() == "x = 1\n"
    assert (result.finished, result.stop, result.text, result.turns, result.changed) == (True, "end_turn", "Done.", 2, ["src/x.py"])
    assert result.usage == Usage(input_tokens=1050, output_tokens=110, cache_read_tokens=3000, cache_write_tokens=2000)
    assert result.cost_usd == cost(result.usage, PRICE) == pytest.approx((1050 * 3 + 110 * 15 + 3000 * 0.3 + 2000 * 3.75) / 1e6)

    first, second = api.requests
    assert first.path == "/v1/messages" and first.headers["authorization"] == "Bearer test-key"
    answer = second.json["messages"][-1]
    assert answer["role"] == "user"
    assert [(b["type"], b["tool_use_id"], b["is_error"]) for b in answer["content"]] == [("tool_result", "toolu_01", False)]
    assert second.json["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Writing it."}, {"type": "tool_use", "id": "toolu_01", "name": "Write", "input": {"file_path": "src/x.py", "content": "x = 1\n"}}],
    }
    ends = json.loads(task.transcript.read_text().splitlines()[-1])
    assert ends["usage"] == {"input": 1050, "output": 110, "cache_read": 3000, "cache_write": 2000} and ends["cost_usd"] > 0


def test_every_request_carries_cache_breakpoints(api, tmp_path):
    write_then_done(api)
    runner(api).run(make_task(tmp_path))
    for body in api.bodies():
        assert body["system"] == [{"type": "text", "text": "You are the builder.", "cache_control": {"type": "ephemeral"}}]
        assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert all("cache_control" not in tool for tool in body["tools"][:-1])
        marked = [block for message in body["messages"] for block in message["content"] if "cache_control" in block]
        assert marked == [body["messages"][-1]["content"][-1]]  # one breakpoint in messages: the last user block
        assert body["messages"][-1]["role"] == "user"


def test_the_cached_prefix_is_byte_identical_across_stories_of_one_role(api, tmp_path):
    for story in ("S-1", "S-2"):
        api.reply([{"type": "text", "text": "ok"}])
        runner(api).run(make_task(tmp_path, story, prompt=f"Story {story}: do a different thing."))
    one, two = api.bodies()

    def prefix(body: dict) -> bytes:
        return json.dumps([body["tools"], body["system"]], ensure_ascii=False).encode()

    assert prefix(one) == prefix(two)
    assert one["messages"] != two["messages"]
    assert "S-1" not in prefix(one).decode()


def test_overloaded_is_retried_after_the_pause_the_api_asks_for_and_says_so(api, tmp_path):
    api.fault(529, "overloaded_error", "Overloaded")  # retry-after-ms: 1
    api.reply([{"type": "text", "text": "ok"}])
    sleeps: list[float] = []
    said: list[str] = []
    result = runner(api, sleeps, said).run(make_task(tmp_path))
    assert result.finished and len(api.requests) == 2 and sleeps == [0.001]
    assert said == ["S-1: model API busy (529 overloaded_error; try 1 of 3), retrying in 0.001s"]
    assert [r.headers["x-stainless-retry-count"] for r in api.requests] == ["0", "0"]  # the SDK retried nothing behind our back


def test_overloaded_without_a_retry_after_waits_our_own_pauses(api, tmp_path):
    for _ in range(2):
        api.fault(529, "overloaded_error", "Overloaded", headers=NO_RETRY_AFTER)
    api.reply([{"type": "text", "text": "ok"}])
    sleeps: list[float] = []
    result = runner(api, sleeps).run(make_task(tmp_path))
    assert (result.finished, len(api.requests), sleeps) == (True, 3, [0.5, 1.0])


def test_overloaded_for_good_ends_the_call_with_an_error(api, tmp_path):
    for _ in range(3):
        api.fault(529, "overloaded_error", "Overloaded", headers=NO_RETRY_AFTER)
    sleeps: list[float] = []
    result = runner(api, sleeps).run(make_task(tmp_path))
    assert (result.finished, result.stop, sleeps) == (False, "error", [0.5, 1.0])
    assert result.detail == "model call failed: 529 overloaded_error: Overloaded"


def test_a_rate_limit_with_retry_after_is_retried(api, tmp_path):
    api.fault(429, "rate_limit_error", "Slow down", headers={"retry-after-ms": "", "retry-after": "0.01"})
    api.fault(500, "api_error", "Internal", headers=NO_RETRY_AFTER)
    api.reply([{"type": "text", "text": "ok"}])
    sleeps: list[float] = []
    assert runner(api, sleeps).run(make_task(tmp_path)).finished
    assert len(api.requests) == 3 and sleeps == [0.01, 1.0]


def test_a_retry_after_longer_than_a_minute_is_not_waited_for(api, tmp_path):
    api.fault(429, "rate_limit_error", "Slow down", headers={"retry-after-ms": "", "retry-after": "3600"})
    api.reply([{"type": "text", "text": "ok"}])
    sleeps: list[float] = []
    assert runner(api, sleeps).run(make_task(tmp_path)).finished
    assert sleeps == [0.5]


def test_no_answer_within_the_timeout_is_retried_then_stops_the_run(api, tmp_path):
    api.slow(3.0)
    api.slow(3.0)
    said: list[str] = []
    with pytest.raises(RunAborted, match=r"unreachable \(no answer within 0\.3 s\); gave up after 2 tries in \d+ s"):
        runner(api, said=said, retry_delays=(0.5,), client_factory=sdk(api, timeout=0.3)).run(make_task(tmp_path))
    assert said == ["S-1: model API unreachable (no answer within 0.3 s; try 1 of 2), retrying in 0.5s"]
    assert len(api.requests) == 2


def test_a_closed_port_is_retried_then_stops_the_run(api, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    sleeps: list[float] = []
    said: list[str] = []
    with pytest.raises(RunAborted, match=rf"the model API at {url}/? is unreachable \(Connection refused\); gave up after 3 tries"):
        runner(api, sleeps, said, client_factory=sdk(api, url=url)).run(make_task(tmp_path))
    assert sleeps == [0.5, 1.0]
    assert said == [f"S-1: model API unreachable (Connection refused; try {n} of 3), retrying in {d}s" for n, d in ((1, "0.5"), (2, "1"))]


def test_no_pause_ends_past_the_story_time_budget(api, tmp_path):
    sleeps: list[float] = []
    with pytest.raises(RunAborted, match="gave up after 2 tries"):
        runner(api, sleeps, retry_delays=(1.0, 10.0, 30.0), client_factory=sdk(api, url=f"http://127.0.0.1:{closed_port()}")).run(make_task(tmp_path, wall_s=5.0))
    assert sleeps == [1.0]  # 10 s more would end past the 5 s budget


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_key_fails_the_preflight_and_the_call_without_a_request(api, tmp_path, monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no SDK profile on disk either
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
    no_key = runner(api, client_factory=default_sdk_client)
    with pytest.raises(RunnerUnavailable) as caught:
        no_key.preflight("S-1")
    assert str(caught.value) == NO_KEY and "\n" not in NO_KEY
    with pytest.raises(RunnerUnavailable):
        no_key.run(make_task(tmp_path))
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "a-token")  # a token will do as well as a key
    no_key.preflight("S-1")
    assert api.requests == []


def test_a_malformed_body_is_retried_then_an_error(api, tmp_path):
    api.malformed()
    api.reply([{"type": "text", "text": "ok"}])
    assert runner(api).run(make_task(tmp_path / "a")).finished

    api.malformed()
    result = runner(api, retry_delays=()).run(make_task(tmp_path / "b"))
    assert (result.finished, result.stop) == (False, "error")
    assert result.detail.startswith("model call failed: JSONDecodeError: ")


@pytest.mark.parametrize(
    "status, error_type, message, error_code",
    [
        (429, "rate_limit_error", "Your organization has crossed its monthly threshold.", "enforced_spend_limit_reached"),
        (400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API.", None),
        (403, "permission_error", "You have reached your specified API usage limits.", None),
        (402, "billing_error", "Payment required.", None),
    ],
)
def test_a_spend_limit_aborts_the_run(api, tmp_path, status, error_type, message, error_code):
    api.fault(status, error_type, message, error_code=error_code, headers={"x-should-retry": "false"})
    with pytest.raises(RunAborted, match="refused to spend more"):
        runner(api).run(make_task(tmp_path))
    assert len(api.requests) == 1


def test_a_bad_api_key_aborts_the_run(api, tmp_path):
    api.fault(401, "authentication_error", "invalid x-api-key")
    with pytest.raises(RunAborted, match="rejected the API key"):
        runner(api).run(make_task(tmp_path))


def test_other_client_errors_end_the_call_without_retrying(api, tmp_path):
    api.fault(400, "invalid_request_error", "messages: bad")
    sleeps: list[float] = []
    result = runner(api, sleeps).run(make_task(tmp_path))
    assert (result.stop, result.detail, sleeps, len(api.requests)) == ("error", "model call failed: 400 invalid_request_error: messages: bad", [], 1)


def test_a_model_without_a_price_calls_nothing(api, tmp_path):
    with pytest.raises(ConfigError, match=r"no price for model `claude-unpriced`"):
        runner(api).run(replace(make_task(tmp_path), model="claude-unpriced"))
    assert api.requests == []


def test_the_runner_budget_is_a_ceiling(api, tmp_path):
    write_then_done(api)
    result = runner(api, budget=Budget(max_turns=1)).run(make_task(tmp_path))
    assert (result.stop, result.turns, len(api.requests)) == ("max_turns", 1, 1)
