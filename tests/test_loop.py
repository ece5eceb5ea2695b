"""The tool loop: every stop_reason, budgets, money, transcripts; with a fake model and a fake executor."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from storyc.errors import ConfigError
from storyc.plan import Price
from storyc.runners.agents import loop as loop_module
from storyc.runners.agents.base import AgentTask, Budget, Reply, RunAborted, Usage
from storyc.runners.agents.loop import ModelError, redact, run_loop
from storyc.runners.agents.money import cost, price_for
from storyc.runners.agents.tools import ToolResult

PRICE = Price(input=3.0, output=15.0, cache_read=0.30, cache_write=3.75)

FREE = Price(input=0.0, output=0.0)


def text(s: str) -> dict[str, Any]:
    return {"type": "text", "text": s}


def call(id: str, name: str, **input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": id, "name": name, "input": input}


class FakeModel:
    """Plays replies in order (an exception is raised instead); records each request."""

    def __init__(self, *replies: Reply | Exception):
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []

    def create(self, **request: Any) -> Reply:
        self.requests.append(copy.deepcopy(request))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


class Runaway:
    """A model that never ends its turn."""

    def __init__(self, usage: Usage = Usage()):
        self.usage = usage
        self.calls = 0

    def create(self, **request: Any) -> Reply:
        self.calls += 1
        return Reply([call(f"toolu_{self.calls}", "Read", file_path="x")], "tool_use", self.usage)


class FakeExecutor:
    """Records every tool run; a Bash command "false" fails."""

    def __init__(self):
        self.runs: list[tuple[str, dict[str, Any]]] = []
        self.changed: set[str] = set()

    def run(self, name: str, input: dict[str, Any]) -> ToolResult:
        self.runs.append((name, input))
        if name == "Bash" and input.get("command") == "false":
            return ToolResult("exit code 1", True)
        if name == "Write":
            self.changed.add(input["file_path"])
            return ToolResult(f"wrote {input['file_path']}", False)
        return ToolResult(f"ran {name}", False)


@pytest.fixture
def task(tmp_path: Path):
    def make(budget: Budget = Budget(), role: str = "builder") -> AgentTask:
        return AgentTask(
            story_id="S-1",
            role=role,
            model="claude-test",
            attempt=1,
            system="You build.",
            prompt="Build the thing.",
            workspace=tmp_path,
            budget=budget,
            transcript=tmp_path / "t" / "builder.jsonl",
            prompt_file=tmp_path / "prompt.md",
        )

    return make


def transcript(task: AgentTask) -> list[dict[str, Any]]:
    return [json.loads(line) for line in task.transcript.read_text().splitlines()]


def last_user(model: FakeModel, n: int) -> list[dict[str, Any]]:
    message = model.requests[n]["messages"][-1]
    assert message["role"] == "user"
    return message["content"]


# ------------------------------------------------------------------ stop reasons


def test_two_tool_calls_in_one_reply_both_run_and_both_ids_are_answered(task):
    model = FakeModel(
        Reply([text("Two at once."), call("a", "Write", file_path="b.py", content="1"), call("b", "Write", file_path="a.py", content="2")], "tool_use"),
        Reply([text("All done.")], "end_turn"),
    )
    executor = FakeExecutor()
    t = task()
    result = run_loop(model, executor, t, price=None)

    assert [name for name, _ in executor.runs] == ["Write", "Write"]
    assert [(b["tool_use_id"], b["is_error"]) for b in last_user(model, 1)] == [("a", False), ("b", False)]
    assert (result.finished, result.stop, result.text, result.turns) == (True, "end_turn", "All done.", 2)
    assert result.changed == ["a.py", "b.py"]
    first = model.requests[0]
    assert first["system"] == "You build." and first["messages"] == [{"role": "user", "content": [text("Build the thing.")]}]
    assert [tool["name"] for tool in first["tools"]] == ["Read", "Write", "Edit", "Bash"]


def test_a_failing_tool_is_answered_with_is_error(task):
    model = FakeModel(Reply([call("x", "Bash", command="false")], "tool_use"), Reply([text("Oh.")], "end_turn"))
    run_loop(model, FakeExecutor(), task(), price=None)
    assert last_user(model, 1) == [{"type": "tool_result", "tool_use_id": "x", "content": "exit code 1", "is_error": True}]


def test_a_reply_cut_at_max_tokens_runs_none_of_its_tool_calls(task):
    cut = Reply([call("done", "Write", file_path="a.py", content="1"), call("cut", "Write", file_path="b.py")], "max_tokens")
    model = FakeModel(cut, Reply([text("Retried.")], "end_turn"))
    executor = FakeExecutor()
    result = run_loop(model, executor, task(), price=None, max_tokens=100)
    assert executor.runs == []
    answers = last_user(model, 1)
    assert [(a["tool_use_id"], a["is_error"]) for a in answers] == [("done", True), ("cut", True)]
    assert "cut at max_tokens (100)" in answers[1]["content"]
    assert result.finished and result.changed == []


def test_plain_text_cut_at_max_tokens_is_asked_to_continue(task):
    model = FakeModel(Reply([text("Half a sent")], "max_tokens"), Reply([text("ence.")], "end_turn"))
    result = run_loop(model, FakeExecutor(), task(), price=None)
    assert last_user(model, 1) == [text("Your reply was cut at max_tokens. Continue exactly where you stopped.")]
    assert result.finished and result.text == "ence."


def test_pause_turn_sends_the_paused_message_back_and_the_continuation_joins_it(task):
    model = FakeModel(
        Reply([text("Searching...")], "pause_turn"),
        Reply([call("t", "Read", file_path="a")], "tool_use"),
        Reply([text("Found it.")], "end_turn"),
    )
    result = run_loop(model, FakeExecutor(), task(), price=None)
    resumed = model.requests[1]["messages"]
    assert resumed[-1] == {"role": "assistant", "content": [text("Searching...")]}
    after_tool = model.requests[2]["messages"]
    assert [m["role"] for m in after_tool] == ["user", "assistant", "user"]
    assert after_tool[1]["content"] == [text("Searching..."), call("t", "Read", file_path="a")]
    assert result.finished and result.turns == 3


@pytest.mark.parametrize("reason", ["refusal", "model_context_window_exceeded"])
def test_refusal_and_a_full_context_window_end_unfinished(task, reason):
    result = run_loop(FakeModel(Reply([text("No.")], reason)), FakeExecutor(), task(), price=None)
    assert (result.finished, result.stop) == (False, reason)


def test_stop_sequence_is_finished(task):
    result = run_loop(FakeModel(Reply([text("END")], "stop_sequence")), FakeExecutor(), task(), price=None)
    assert (result.finished, result.stop) == (True, "stop_sequence")


def test_an_unknown_stop_reason_is_an_error(task):
    result = run_loop(FakeModel(Reply([text("?")], "teleported")), FakeExecutor(), task(), price=None)
    assert (result.finished, result.stop) == (False, "error")
    assert "'teleported'" in result.detail


def test_tool_use_without_a_tool_call_is_an_error(task):
    result = run_loop(FakeModel(Reply([text("I will call...")], "tool_use")), FakeExecutor(), task(), price=None)
    assert (result.stop, result.detail) == ("error", "the model stopped with stop_reason 'tool_use' but called no tool")


def test_a_failed_model_call_ends_the_call_with_its_spend_so_far(task):
    model = FakeModel(Reply([call("t", "Read", file_path="a")], "tool_use", Usage(1000, 100)), ModelError("529 overloaded_error: Overloaded"))
    result = run_loop(model, FakeExecutor(), task(), price=PRICE)
    assert (result.finished, result.stop, result.turns) == (False, "error", 1)
    assert result.detail == "model call failed: 529 overloaded_error: Overloaded"
    assert result.cost_usd == cost(Usage(1000, 100), PRICE) > 0


def test_run_aborted_goes_through_and_the_transcript_says_why(task):
    t = task()
    with pytest.raises(RunAborted):
        run_loop(FakeModel(RunAborted("spend limit")), FakeExecutor(), t, price=PRICE)
    assert transcript(t)[-1]["detail"] == "RunAborted: spend limit"


# ------------------------------------------------------------------ budgets and money


def test_a_runaway_loop_stops_at_max_turns(task):
    model = Runaway()
    result = run_loop(model, FakeExecutor(), task(Budget(max_turns=3)), price=None)
    assert (result.finished, result.stop, result.turns, model.calls) == (False, "max_turns", 3, 3)


def test_a_runaway_loop_stops_at_its_dollar_budget(task):
    # each call: 100k input, 10k output = $0.30 + $0.15 = $0.45; the budget of $1 is reached after the third call
    model = Runaway(Usage(100_000, 10_000))
    result = run_loop(model, FakeExecutor(), task(Budget(max_turns=50, usd=1.0)), price=PRICE)
    assert (result.stop, model.calls) == ("budget", 3)
    assert result.usage == Usage(300_000, 30_000)
    assert result.cost_usd == pytest.approx(1.35)


def test_a_runaway_loop_stops_at_its_wall_clock_budget(task):
    now = [0.0]

    def clock() -> float:
        now[0] += 10.0
        return now[0]

    model = Runaway()
    result = run_loop(model, FakeExecutor(), task(Budget(wall_s=35.0)), price=None, clock=clock)
    assert result.stop == "timeout" and model.calls == 3


def test_cost_is_usage_times_price_per_million_tokens():
    usage = Usage(input_tokens=1_000_000, output_tokens=2_000_000, cache_read_tokens=4_000_000, cache_write_tokens=8_000_000)
    assert cost(usage, PRICE) == 3.0 + 30.0 + 1.2 + 30.0
    assert cost(Usage(1, 0, 0, 0), Price(input=1.0, output=0.0)) == 1e-6
    assert cost(Usage(), PRICE) == 0.0


def test_the_result_carries_usage_and_cost(task):
    model = FakeModel(Reply([call("t", "Read", file_path="a")], "tool_use", Usage(10, 20, 30, 40)), Reply([text("ok")], "end_turn", Usage(1, 2, 3, 4)))
    result = run_loop(model, FakeExecutor(), task(), price=PRICE)
    assert result.usage == Usage(11, 22, 33, 44)
    assert result.cost_usd == cost(Usage(11, 22, 33, 44), PRICE)


def test_a_model_without_a_price_is_an_error_not_free(task):
    model = FakeModel(Reply([text("ok")], "end_turn", Usage(10, 5)))
    with pytest.raises(ConfigError, match=r"no price for model `claude-test`") as caught:
        run_loop(model, FakeExecutor(), task(), price=None)
    assert '[models.prices."claude-test"]' in caught.value.hint


def test_price_for_names_the_model_and_the_key_to_add():
    assert price_for("m", {"m": PRICE}) is PRICE
    with pytest.raises(ConfigError, match=r"no price for model `claude-new-9`.*known for: m") as caught:
        price_for("claude-new-9", {"m": PRICE})
    assert caught.value.hint.startswith('add its price, US dollars per million tokens, to storyc.toml:\n[models.prices."claude-new-9"]')


# ------------------------------------------------------------------ transcript


def test_the_transcript_has_every_message_with_secrets_redacted(task):
    secret = "sk-ant-api03-AbCdEf0123456789_xyz"
    model = FakeModel(
        Reply([text("Let me look."), call("t1", "Bash", command="env")], "tool_use"),
        Reply([text("Done.")], "end_turn"),
    )

    class Leaky(FakeExecutor):
        def run(self, name, input):
            super().run(name, input)
            return ToolResult(f"ANTHROPIC_API_KEY={secret}\nAuthorization: Bearer abc.def-ghi\nkey {secret}\n" + "x" * 10_000, False)

    t = task()
    run_loop(model, Leaky(), t, price=None)
    raw = t.transcript.read_text()
    assert "AbCdEf0123456789" not in raw and "abc.def-ghi" not in raw
    lines = transcript(t)
    assert [line.get("role") for line in lines[1:-1]] == ["user", "assistant", "user", "assistant"]
    assert lines[0] == {"story": "S-1", "role": "builder", "model": "claude-test", "attempt": 1, "system": "You build."}
    assert lines[1]["text"] == "Build the thing."
    assert lines[2]["tool_calls"] == [{"id": "t1", "name": "Bash", "input": {"command": "env"}}]
    result = lines[3]["tool_results"][0]
    assert result["content"].startswith("ANTHROPIC_API_KEY=[redacted]\nAuthorization: Bearer [redacted]\nkey [redacted]\n")
    assert result["content"].endswith("\n… [6077 characters cut] …\n" + "x" * 2000)  # the head and the tail, as every clip
    assert lines[-1]["end"] == "end_turn" and lines[-1]["finished"] is True


def test_redact():
    assert redact("export GITHUB_TOKEN='ghp_123' x") == "export GITHUB_TOKEN=[redacted] x"
    assert redact("x-api-key: sk-ant-zzz") == "x-api-key: [redacted]"
    assert redact("nothing here") == "nothing here"


# ------------------------------------------------------------ replies that once broke the loop (each failed before its fix)


def loop_task(tmp_path: Path, budget: Budget = Budget(), story_id: str = "S-1", model: str = "m") -> AgentTask:
    return AgentTask(story_id, "builder", model, 1, "sys", "prompt", tmp_path / "ws", budget, tmp_path / "t.jsonl", tmp_path / "p.md")


class Replies:
    def __init__(self, *replies: Reply):
        self.replies = list(replies)

    def create(self, **_: Any) -> Reply:
        return self.replies.pop(0) if self.replies else Reply([{"type": "text", "text": "done"}], "end_turn")


class Recorder:
    def __init__(self):
        self.runs: list[str] = []
        self.changed: set[str] = set()

    def run(self, name: Any, input: Any) -> ToolResult:
        self.runs.append(name)
        return ToolResult("ok")


def test_one_reply_of_many_tool_calls_stops_at_the_wall_clock_budget(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    now = [0.0]
    executor = Recorder()
    original = executor.run

    def slow(name: Any, input: Any) -> ToolResult:
        now[0] += 60.0  # each call takes a minute
        return original(name, input)

    executor.run = slow  # type: ignore[method-assign]
    calls = [{"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {"command": "sleep 60"}} for i in range(50)]
    result = run_loop(Replies(Reply(calls, "tool_use")), executor, loop_task(tmp_path, Budget(wall_s=300.0)), price=FREE, clock=lambda: now[0])
    assert result.stop == "timeout"
    assert len(executor.runs) <= 6


def test_a_reply_of_thousands_of_tool_calls_runs_at_most_max_calls(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    executor = Recorder()
    calls = [{"type": "tool_use", "id": f"t{i}", "name": "Read", "input": {"file_path": "x"}} for i in range(3000)]
    run_loop(Replies(Reply(calls, "tool_use")), executor, loop_task(tmp_path), price=FREE)
    assert len(executor.runs) == getattr(loop_module, "MAX_CALLS", 64)


def test_tool_calls_without_id_or_name_or_with_a_duplicate_id_do_not_crash_the_loop(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    executor = Recorder()
    calls = [
        {"type": "tool_use", "name": "Read", "input": {}},
        {"type": "tool_use", "id": "a", "input": {}},
        {"type": "tool_use", "id": "b", "name": "Read", "input": {}},
        {"type": "tool_use", "id": "b", "name": "Read", "input": {}},
    ]
    result = run_loop(Replies(Reply(calls, "tool_use")), executor, loop_task(tmp_path), price=FREE)
    assert result.finished
    assert executor.runs == [None, "Read"]  # no id and the duplicate are not run; a missing name is the executor's error


def test_redact_hides_env_secret_values_and_common_key_shapes(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "proxy-key-0123456789")  # a key through a proxy need not start sk-ant-
    text = redact(
        "key proxy-key-0123456789\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG\nid AKIAIOSFODNN7EXAMPLE\n"
        "gh ghp_0123456789abcdefghijABCDEFGHIJ012345\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
    )
    for secret in ("proxy-key-0123456789", "wJalrXUtnFEMI", "AKIAIOSFODNN7EXAMPLE", "ghp_0123", "MIIE"):
        assert secret not in text
