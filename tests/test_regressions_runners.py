"""Runner bugs found by attacking the tools, the process runner and the loop; each test failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from storyc.plan import Price
from storyc.runners.agents.base import AgentTask, Budget, Reply
from storyc.runners.agents.claude_code import to_result
from storyc.runners.agents.command import CommandRunner, fill
from storyc.runners.agents import loop as loop_module
from storyc.runners.agents.loop import redact, run_loop
from storyc.runners.agents.tools import ToolExecutor, ToolResult

FREE = Price(input=0.0, output=0.0)


@pytest.fixture()
def tools(ws: Path, tmp_path: Path) -> ToolExecutor:
    return ToolExecutor(ws, home=tmp_path / "home", bash_timeout=5)


def within(seconds: float, work) -> Any:
    """`work()`'s value, or a failure (not a hung test) when it takes longer than `seconds`."""
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"still running after {seconds} s"
    return box[0]


def task(tmp_path: Path, budget: Budget = Budget(), story_id: str = "S-1", model: str = "m") -> AgentTask:
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


# ------------------------------------------------------------ tools


def test_grep_with_a_catastrophic_pattern_is_stopped_not_hung(ws: Path, tmp_path: Path) -> None:
    # Python's re has no timeout, and holds the GIL: (a+)+$ on 40 a's and a "!" used to hang storyc itself.
    (ws / "f.txt").write_text("a" * 40 + "!\n")
    script = (
        "import sys; from pathlib import Path; from storyc.runners.agents.tools import ToolExecutor\n"
        "t = ToolExecutor(Path(sys.argv[1]), home=Path(sys.argv[2]), bash_timeout=2)\n"
        "r = t.run('Grep', {'pattern': '(a+)+$'}); print(r.is_error, r.text)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(ws), str(tmp_path / "home")], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.stdout.startswith("True") and "stopped" in done.stdout, done.stdout + done.stderr


def test_grep_still_finds_and_counts(ws: Path, tools: ToolExecutor) -> None:
    (ws / "a.py").write_text("x = 1\ny = 2\nx = 3\n")
    result = tools.run("Grep", {"pattern": r"^x", "glob": "*.py"})
    assert result.text == "a.py:1:x = 1\na.py:3:x = 3"


def test_write_through_a_hard_link_does_not_change_the_outside_file(ws: Path, tools: ToolExecutor) -> None:
    os.link(ws.parent / "outside" / "secret.txt", ws / "h")  # what a Bash call can leave behind
    assert not tools.run("Write", {"file_path": "h", "content": "pwned\n"}).is_error
    assert (ws.parent / "outside" / "secret.txt").read_text() == "secret\n"
    assert (ws / "h").read_text() == "pwned\n"
    (ws / "h2").write_text("old secret line\n")
    os.link(ws / "h2", ws.parent / "outside" / "h2")
    assert not tools.run("Edit", {"file_path": "h2", "old_string": "old", "new_string": "new"}).is_error
    assert (ws.parent / "outside" / "h2").read_text() == "old secret line\n"


def test_write_keeps_an_executable_bit(ws: Path, tools: ToolExecutor) -> None:
    (ws / "run.sh").write_text("echo a\n")
    os.chmod(ws / "run.sh", 0o755)
    tools.run("Edit", {"file_path": "run.sh", "old_string": "a", "new_string": "b"})
    assert os.stat(ws / "run.sh").st_mode & 0o777 == 0o755 and (ws / "run.sh").read_text() == "echo b\n"
    assert sorted(p.name for p in ws.iterdir()) == ["run.sh"]  # no temporary file left


def test_a_directory_swapped_for_a_symlink_after_the_check_is_refused(ws: Path, tools: ToolExecutor, monkeypatch) -> None:
    # A command left running (setsid) can swap ws/d for a symlink between _inside() and the open.
    (ws / "d").mkdir()
    checked = tools._inside

    def inside_then_swap(raw: str) -> Path:
        real = checked(raw)
        if (ws / "d").is_dir() and not (ws / "d").is_symlink():
            os.rmdir(ws / "d")
            (ws / "d").symlink_to(ws.parent / "outside")
        return real

    monkeypatch.setattr(tools, "_inside", inside_then_swap)
    result = tools.run("Write", {"file_path": "d/secret.txt", "content": "pwned\n"})
    assert result.is_error, result.text
    assert (ws.parent / "outside" / "secret.txt").read_text() == "secret\n"
    assert [p.name for p in (ws.parent / "outside").iterdir()] == ["secret.txt"]


def test_read_of_a_file_swapped_for_a_fifo_does_not_hang(ws: Path, tools: ToolExecutor, monkeypatch) -> None:
    (ws / "f").write_text("x\n")
    checked = tools._file

    def file_then_swap(raw: str) -> Path:
        real = checked(raw)
        os.unlink(real)
        os.mkfifo(real)
        return real

    monkeypatch.setattr(tools, "_file", file_then_swap)
    result = within(10, lambda: tools.run("Read", {"file_path": "f"}))
    assert result.is_error and "regular file" in result.text


def test_read_of_one_huge_line_does_not_load_it_whole(ws: Path, tools: ToolExecutor) -> None:
    with open(ws / "big", "wb") as f:
        for _ in range(60):
            f.write(b"a" * 1_000_000)
        f.write(b"\nsecond\n")
    tracemalloc.start()
    try:
        first = tools.run("Read", {"file_path": "big"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak
    assert "offset=2" in first.text
    assert tools.run("Read", {"file_path": "big", "offset": 2}).text == "     2\tsecond"


# ------------------------------------------------------------ proc


def test_bash_output_flood_is_not_stored_whole(tools: ToolExecutor) -> None:
    # 300 MB of output used to go to a temporary file first (1.3 GB in 3 s with `yes`; 120 s fill a disk).
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for fd in os.listdir("/proc/self/fd"):
                try:
                    peak[0] = max(peak[0], os.stat(f"/proc/self/fd/{fd}").st_size)
                except OSError:
                    pass
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = tools.run("Bash", {"command": "head -c 300000000 /dev/zero | tr '\\0' a; echo; echo the end"})
    finally:
        done.set()
        watcher.join()
    assert peak[0] < 50_000_000, peak[0]
    assert "the end" in result.text and "bytes cut" in result.text and len(result.text) < 31_000


# ------------------------------------------------------------ loop


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
    result = run_loop(Replies(Reply(calls, "tool_use")), executor, task(tmp_path, Budget(wall_s=300.0)), price=FREE, clock=lambda: now[0])
    assert result.stop == "timeout"
    assert len(executor.runs) <= 6


def test_a_reply_of_thousands_of_tool_calls_runs_at_most_max_calls(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    executor = Recorder()
    calls = [{"type": "tool_use", "id": f"t{i}", "name": "Read", "input": {"file_path": "x"}} for i in range(3000)]
    run_loop(Replies(Reply(calls, "tool_use")), executor, task(tmp_path), price=FREE)
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
    result = run_loop(Replies(Reply(calls, "tool_use")), executor, task(tmp_path), price=FREE)
    assert result.finished
    assert executor.runs == [None, "Read"]  # no id and the duplicate are not run; a missing name is the executor's error


# ------------------------------------------------------------ transcripts


def test_redact_hides_env_secret_values_and_common_key_shapes(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "proxy-key-0123456789")  # a key through a proxy need not start sk-ant-
    text = redact(
        "key proxy-key-0123456789\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG\nid AKIAIOSFODNN7EXAMPLE\n"
        "gh ghp_0123456789abcdefghijABCDEFGHIJ012345\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
    )
    for secret in ("proxy-key-0123456789", "wJalrXUtnFEMI", "AKIAIOSFODNN7EXAMPLE", "ghp_0123", "MIIE"):
        assert secret not in text


def test_command_transcript_is_redacted(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "ws").mkdir()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-topsecret")
    runner = CommandRunner([sys.executable, "-c", "import os; print('cat .env:', 'ANTHROPIC_API_KEY=' + os.environ['ANTHROPIC_API_KEY'])"], 30)
    result = runner.run(task(tmp_path))
    assert "topsecret" not in (tmp_path / "t.jsonl").read_text()
    assert "topsecret" not in result.text


# ------------------------------------------------------------ command and claude-code


def test_command_placeholders_are_filled_in_one_pass(tmp_path: Path) -> None:
    filled = fill(["--id={story_id}", "--model={model}"], task(tmp_path, story_id="{model}", model="claude-x"))
    assert filled == ["--id={model}", "--model=claude-x"]


def test_claude_code_result_event_with_odd_numbers_does_not_raise() -> None:
    event = {"type": "result", "subtype": "success", "num_turns": "many", "total_cost_usd": [1], "usage": ["x"]}
    result = to_result([event], 0, False, "")
    assert result.finished and result.turns == 0 and result.cost_usd == 0.0



def test_a_setsid_daemon_does_not_outlive_the_bash_call(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    executor = ToolExecutor(ws, bash_timeout=10)
    result = executor.run("Bash", {"command": "setsid sh -c 'echo $$ > daemon.pid; exec sleep 300' >/dev/null 2>&1 & sleep 0.3"})
    assert not result.is_error, result.text
    pid = int((ws / "daemon.pid").read_text())
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the setsid daemon {pid} is still running")
