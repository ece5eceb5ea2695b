"""The claude-code runner, against a fake `claude` that prints stream-json."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from storyc.runners.agents.base import AgentTask, Budget, RunnerUnavailable, Usage
from storyc.runners.agents.claude_code import ClaudeCodeRunner, to_result

FAKE = dedent(
    """\
    #!{python}
    import json, os, sys, time
    args = sys.argv[1:]
    prompt = args[-1]
    with open("call.json", "w") as f:
        json.dump({{"argv": args, "env": dict(os.environ)}}, f)
    def say(event):
        print(json.dumps(event), flush=True)
    say({{"type": "system", "subtype": "init", "tools": ["Read", "Write"]}})
    if prompt == "hang":
        time.sleep(60)
    if prompt == "crash":
        print("Error: something broke; ANTHROPIC_API_KEY=" + os.environ["ANTHROPIC_API_KEY"], file=sys.stderr)
        sys.exit(1)
    say({{"type": "assistant", "message": {{"role": "assistant", "content": [
        {{"type": "text", "text": "my key is " + os.environ.get("ANTHROPIC_API_KEY", "none")}}]}}}})
    print("not json at all")
    subtype = "error_max_turns" if prompt == "long" else "success"
    say({{"type": "result", "subtype": subtype, "is_error": subtype != "success", "num_turns": 3,
         "result": "All done.", "total_cost_usd": 0.0123,
         "usage": {{"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 300, "cache_creation_input_tokens": 40}}}})
    """
)
KEY = "sk-ant-api03-secretsecret"


@pytest.fixture
def claude(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "claude"
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(0o755)
    environ = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "ANTHROPIC_API_KEY": KEY, "GITHUB_TOKEN": "ghp_nope", "HOME": "/root"}
    return ClaudeCodeRunner(environ=environ)


def make_task(tmp_path: Path, prompt: str = "Build it.", wall_s: float = 30.0) -> AgentTask:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    return AgentTask("S-1", "reviewer", "claude-sonnet-4-5", 1, "You review.", prompt, workspace,
                     Budget(max_turns=7, usd=1.5, wall_s=wall_s), tmp_path / "t.jsonl", tmp_path / "p.md")  # fmt: skip


def test_a_successful_run_reports_the_result_event(claude, tmp_path):
    task = make_task(tmp_path)
    result = claude.run(task)
    assert (result.finished, result.stop, result.text, result.turns) == (True, "end_turn", "All done.", 3)
    assert (result.usage, result.cost_usd) == (Usage(100, 20, 300, 40), 0.0123)

    call = json.loads((task.workspace / "call.json").read_text())
    assert call["argv"] == [
        "-p", "--output-format", "stream-json", "--verbose", "--model", "claude-sonnet-4-5",
        "--tools", "Read,Grep,Glob", "--allowedTools", "Read,Grep,Glob", "--max-turns", "7",
        "--max-budget-usd", "1.5", "--append-system-prompt", "You review.", "--", "Build it.",
    ]  # fmt: skip
    env = call["env"]
    assert env["ANTHROPIC_API_KEY"] == KEY and env["CLAUDE_CODE_SUBPROCESS_ENV_SCRUB"] == "1"
    assert "GITHUB_TOKEN" not in env and env["HOME"] != "/root" and env["TMPDIR"].startswith(str(Path(env["HOME"]).parent))


def test_the_transcript_is_the_stream_redacted(claude, tmp_path):
    task = make_task(tmp_path)
    claude.run(task)
    raw = task.transcript.read_text()
    assert "secretsecret" not in raw
    lines = [json.loads(line) for line in raw.splitlines()]
    assert [line.get("type") for line in lines[:2]] == ["system", "assistant"]
    assert lines[1]["message"]["content"][0]["text"] == "my key is [redacted]"
    assert {"raw": "not json at all"} in lines
    assert lines[-1]["end"] == "end_turn"


def test_max_turns(claude, tmp_path):
    result = claude.run(make_task(tmp_path, "long"))
    assert (result.finished, result.stop) == (False, "max_turns")
    assert result.cost_usd == 0.0123  # spent all the same


def test_a_crash_without_a_result_event(claude, tmp_path):
    result = claude.run(make_task(tmp_path, "crash"))
    assert (result.finished, result.stop) == (False, "error")
    assert "exited 1 without a result event" in result.detail and "something broke" in result.detail
    assert "secretsecret" not in result.detail


def test_the_time_budget_kills_it(claude, tmp_path):
    result = claude.run(make_task(tmp_path, "hang", wall_s=0.5))
    assert (result.finished, result.stop) == (False, "timeout")
    assert result.seconds < 30  # killed at its budget, long before the fake's hang ends


def test_no_claude_on_path_is_a_missing_program_not_a_failed_call(tmp_path):
    runner = ClaudeCodeRunner(environ={"PATH": str(tmp_path), "ANTHROPIC_API_KEY": KEY})
    with pytest.raises(RunnerUnavailable, match=r"^cannot run the claude-code runner: `claude` is not on PATH; install Claude Code .*, or set \[runner\] kind in storyc.toml$"):
        runner.preflight("S-1")
    with pytest.raises(RunnerUnavailable, match=r"^cannot run the claude-code runner: command not found: claude; install Claude Code"):
        runner.run(make_task(tmp_path))  # gone between the preflight and the call


def test_the_preflight_wants_a_key_claude_can_see(claude, tmp_path):
    claude.preflight("S-1")
    environ = {k: v for k, v in claude.environ.items() if k != "ANTHROPIC_API_KEY"}
    with pytest.raises(RunnerUnavailable, match=r"no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN or CLAUDE_CODE_OAUTH_TOKEN in the environment"):
        ClaudeCodeRunner(environ=environ).preflight("S-1")
    token = ClaudeCodeRunner(environ={**environ, "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-xyz"})
    token.preflight("S-1")
    token.run(make_task(tmp_path))
    env = json.loads((tmp_path / "ws" / "call.json").read_text())["env"]
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == "sk-ant-oat01-xyz" and "ANTHROPIC_API_KEY" not in env


# ------------------------------------------------------------ odd events (each failed before its fix)


def test_claude_code_result_event_with_odd_numbers_does_not_raise() -> None:
    event = {"type": "result", "subtype": "success", "num_turns": "many", "total_cost_usd": [1], "usage": ["x"]}
    result = to_result([event], 0, False, "")
    assert result.finished and result.turns == 0 and result.cost_usd == 0.0
