"""runners.tools: Claude Code's tools, confined to one workspace, never raising for a model's bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from storyc.runners.agents.tools import ALL_TOOLS, ToolExecutor, ToolResult, tool_schemas


@pytest.fixture()
def tools(ws: Path, tmp_path: Path) -> ToolExecutor:
    return ToolExecutor(ws, home=tmp_path / "home", bash_timeout=10)


def refused(result, *words: str) -> None:
    assert result.is_error, result.text
    for word in words:
        assert word in result.text


def outside_untouched(ws: Path) -> None:
    root = ws.parent
    assert {p.name for p in root.iterdir()} <= {"home", "outside", "ws"}
    assert [p.name for p in (root / "outside").iterdir()] == ["secret.txt"]
    assert (root / "outside" / "secret.txt").read_text() == "secret\n"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie left for init to reap is dead
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ------------------------------------------------------------ confinement


def test_write_escapes_are_refused(ws: Path, tools: ToolExecutor) -> None:
    outside = ws.parent / "outside"
    (ws / "file_link").symlink_to(outside / "secret.txt")
    (ws / "new_link").symlink_to(outside / "new.txt")  # dangling: writing would create it
    (ws / "dir_link").symlink_to(outside)
    for path in ["../x", str(ws.parent / "x"), str(outside / "secret.txt"), "file_link", "new_link", "dir_link/x", "dir_link/sub/x", "a/../../x"]:
        refused(tools.run("Write", {"file_path": path, "content": "pwned\n"}), "outside the workspace")
    refused(tools.run("Edit", {"file_path": "file_link", "old_string": "secret", "new_string": "pwned"}), "outside the workspace")
    outside_untouched(ws)
    assert tools.changed == set()


def test_reads_outside_are_refused(ws: Path, tools: ToolExecutor) -> None:
    (ws / "file_link").symlink_to(ws.parent / "outside" / "secret.txt")
    (ws / "dir_link").symlink_to(ws.parent / "outside")
    refused(tools.run("Read", {"file_path": "/etc/passwd"}), "outside the workspace")
    refused(tools.run("Read", {"file_path": "file_link"}), "outside the workspace")
    refused(tools.run("Read", {"file_path": "dir_link/secret.txt"}), "outside the workspace")
    refused(tools.run("Grep", {"pattern": "secret", "path": ".."}), "outside the workspace")
    refused(tools.run("Grep", {"pattern": "root", "path": "/etc"}), "outside the workspace")
    refused(tools.run("Glob", {"pattern": "../*"}), "'..'")
    refused(tools.run("Glob", {"pattern": "*", "path": ".."}), "outside the workspace")
    refused(tools.run("Glob", {"pattern": str(ws.parent / "outside" / "*")}), "outside the workspace")
    # Searching the workspace does not follow its symlinks out of it.
    assert tools.run("Grep", {"pattern": "secret"}).text == "No matches found"
    assert "secret.txt" not in tools.run("Glob", {"pattern": "**/*"}).text
    outside_untouched(ws)


def test_symlink_loop_is_an_error(ws: Path, tools: ToolExecutor) -> None:
    (ws / "loop").symlink_to(ws / "loop")
    refused(tools.run("Read", {"file_path": "loop"}))
    refused(tools.run("Write", {"file_path": "loop", "content": "x"}))


def test_paths_inside_absolute_or_through_inner_symlinks_are_fine(ws: Path, tools: ToolExecutor) -> None:
    (ws / "real").mkdir()
    (ws / "inner").symlink_to(ws / "real")
    assert not tools.run("Write", {"file_path": str(ws / "inner" / "a.txt"), "content": "hi\n"}).is_error
    assert (ws / "real" / "a.txt").read_text() == "hi\n"
    assert tools.changed == {"real/a.txt"}


# ------------------------------------------------------------ Write, Edit, Read


def test_write_creates_parents_and_records_changes(ws: Path, tools: ToolExecutor) -> None:
    result = tools.run("Write", {"file_path": "src/pkg/mod.py", "content": "x = 1\n"})
    assert result == ToolResult("Created src/pkg/mod.py (1 lines)")
    assert (ws / "src/pkg/mod.py").read_text() == "x = 1\n"
    assert tools.run("Write", {"file_path": "src/pkg/mod.py", "content": "x = 2\n"}).text.startswith("Updated")
    refused(tools.run("Write", {"file_path": "src", "content": "x"}), "is a directory")
    assert tools.changed == {"src/pkg/mod.py"}


def test_edit_unique_non_unique_and_replace_all(ws: Path, tools: ToolExecutor) -> None:
    (ws / "f.txt").write_text("alpha beta\nbeta gamma\n")
    refused(tools.run("Edit", {"file_path": "f.txt", "old_string": "beta", "new_string": "B"}), "occurs 2 times", "replace_all")
    assert (ws / "f.txt").read_text() == "alpha beta\nbeta gamma\n"
    refused(tools.run("Edit", {"file_path": "f.txt", "old_string": "delta", "new_string": "D"}), "not found")
    refused(tools.run("Edit", {"file_path": "f.txt", "old_string": "", "new_string": "D"}), "empty")
    refused(tools.run("Edit", {"file_path": "nope.txt", "old_string": "a", "new_string": "b"}), "does not exist")
    assert tools.changed == set()
    assert not tools.run("Edit", {"file_path": "f.txt", "old_string": "alpha beta", "new_string": "A"}).is_error
    assert (ws / "f.txt").read_text() == "A\nbeta gamma\n"
    assert tools.run("Edit", {"file_path": "f.txt", "old_string": "a", "new_string": "4", "replace_all": True}).text == "Edited f.txt: 3 replacements"
    assert (ws / "f.txt").read_text() == "A\nbet4 g4mm4\n"
    assert tools.changed == {"f.txt"}


def test_edit_keeps_crlf_line_endings(ws: Path, tools: ToolExecutor) -> None:
    (ws / "w.txt").write_bytes(b"one\r\ntwo\r\n")
    assert not tools.run("Edit", {"file_path": "w.txt", "old_string": "two", "new_string": "2"}).is_error
    assert (ws / "w.txt").read_bytes() == b"one\r\n2\r\n"


def test_read_numbers_lines_with_offset_and_limit(ws: Path, tools: ToolExecutor) -> None:
    (ws / "f.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    assert tools.run("Read", {"file_path": "f.txt", "offset": 3, "limit": 2}).text == (
        "     3\tline 3\n     4\tline 4\n… (more lines follow; continue with offset=5)"
    )
    assert tools.run("Read", {"file_path": "f.txt", "offset": 9}).text == "     9\tline 9\n    10\tline 10"
    assert not tools.run("Read", {"file_path": "f.txt", "offset": 99}).is_error
    (ws / "empty.txt").write_text("")
    assert tools.run("Read", {"file_path": "empty.txt"}).text == "(empty file)"


def test_read_refuses_binaries_directories_and_missing_files(ws: Path, tools: ToolExecutor) -> None:
    (ws / "blob.bin").write_bytes(b"\x89PNG\0\0\0")
    refused(tools.run("Read", {"file_path": "blob.bin"}), "binary")
    refused(tools.run("Read", {"file_path": "."}), "directory")
    refused(tools.run("Read", {"file_path": "missing.txt"}), "does not exist")
    os.mkfifo(ws / "fifo")  # reading it would block forever
    refused(tools.run("Read", {"file_path": "fifo"}), "not a regular file")


def test_huge_read_is_clipped(ws: Path, tmp_path: Path) -> None:
    tools = ToolExecutor(ws, home=tmp_path / "home", read_lines=2000, read_chars=100_000)
    (ws / "big.txt").write_text("".join(f"{'x' * 200} {i}\n" for i in range(50_000)))
    text = tools.run("Read", {"file_path": "big.txt"}).text
    assert len(text) <= 100_200
    assert "continue with offset=" in text
    text = tools.run("Read", {"file_path": "big.txt", "limit": 10}).text
    assert text.count("\n") == 10 and "offset=11" in text
    (ws / "minified.js").write_text("x" * 300_000 + "\nsecond\n")
    text = tools.run("Read", {"file_path": "minified.js"}).text
    assert len(text) < 100_200 and "characters cut] …" in text
    assert text.endswith("(more lines follow; continue with offset=2)")


# ------------------------------------------------------------ Bash


def test_bash_env_is_scrubbed_and_home_is_the_executors(ws: Path, tools: ToolExecutor, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    result = tools.run("Bash", {"command": "env; pwd"})
    assert not result.is_error
    assert "ANTHROPIC_API_KEY" not in result.text and "secret" not in result.text
    assert f"HOME={tools.home}\n" in result.text
    assert result.text.endswith(f"{ws}\n")


def test_bash_default_home_is_outside_the_workspace(ws: Path) -> None:
    tools = ToolExecutor(ws)
    home = Path(tools.run("Bash", {"command": "echo $HOME"}).text.strip())
    assert home == tools.home and home.is_dir()
    assert not home.resolve().is_relative_to(ws.resolve())


def test_bash_reports_exit_code(tools: ToolExecutor) -> None:
    result = tools.run("Bash", {"command": "echo oops >&2; exit 4"})
    refused(result, "oops", "[exit code 4]")


def test_bash_timeout_kills_child_and_grandchild(ws: Path, tmp_path: Path) -> None:
    tools = ToolExecutor(ws, home=tmp_path / "home", bash_timeout=1)
    start = time.monotonic()
    result = tools.run("Bash", {"command": "sleep 60 & echo $! > pids; echo $$ >> pids; sleep 60", "timeout": 600_000})
    assert time.monotonic() - start < 5  # capped by bash_timeout, not the model's 600 s
    refused(result, "timed out after 1 s; process group killed")
    pids = [int(p) for p in (ws / "pids").read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 2
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(alive(p) for p in pids)


def test_bash_timeout_from_input_in_milliseconds(tools: ToolExecutor) -> None:
    start = time.monotonic()
    refused(tools.run("Bash", {"command": "sleep 30", "timeout": 300}), "timed out after 0.3 s")
    assert time.monotonic() - start < 5
    refused(tools.run("Bash", {"command": "true", "timeout": -1}), "positive")
    refused(tools.run("Bash", {"command": "true", "timeout": float("nan")}), "positive")


def test_bash_output_is_clipped(ws: Path, tmp_path: Path) -> None:
    tools = ToolExecutor(ws, home=tmp_path / "home", output_limit=1000)
    text = tools.run("Bash", {"command": "echo FIRST; seq 1 100000; echo LAST"}).text
    assert text.startswith("FIRST\n") and text.endswith("LAST\n") and " cut] …" in text
    assert len(text) < 1100


# ------------------------------------------------------------ Grep, Glob


def test_grep_matches_filters_and_skips(ws: Path, tools: ToolExecutor) -> None:
    (ws / "src").mkdir()
    (ws / "src/a.py").write_text("import os\nTODO one\n")
    (ws / "src/b.md").write_text("TODO two\n")
    (ws / "src/c.bin").write_bytes(b"TODO\0binary")
    (ws / "big.txt").write_text("TODO\n" + "x" * 1_100_000)
    (ws / ".git").mkdir()
    (ws / ".git/config").write_text("TODO git\n")
    assert tools.run("Grep", {"pattern": "TODO"}).text == "src/a.py:2:TODO one\nsrc/b.md:1:TODO two"
    assert tools.run("Grep", {"pattern": "TODO", "glob": "*.py"}).text == "src/a.py:2:TODO one"
    assert tools.run("Grep", {"pattern": "TODO", "glob": "*.{md,txt}"}).text == "src/b.md:1:TODO two"
    assert tools.run("Grep", {"pattern": "TODO", "path": "src/b.md"}).text == "src/b.md:1:TODO two"
    assert tools.run("Grep", {"pattern": "^nothing$"}) == ToolResult("No matches found")
    refused(tools.run("Grep", {"pattern": "(unclosed"}), "invalid regular expression")
    refused(tools.run("Grep", {"pattern": "x", "path": "nope"}), "does not exist")


def test_many_grep_matches_are_capped(ws: Path, tmp_path: Path) -> None:
    tools = ToolExecutor(ws, home=tmp_path / "home", grep_limit=50)
    (ws / "many.txt").write_text("hit\n" * 1000)
    lines = tools.run("Grep", {"pattern": "hit"}).text.splitlines()
    assert len(lines) == 51
    assert lines[-1].startswith("… [950 more matches not shown")


def test_glob_sorted_relative_and_capped(ws: Path, tmp_path: Path) -> None:
    for rel in ["b/z.py", "a/y.py", "a/deep/x.py", "top.py", "notes.md", ".git/hooks.py"]:
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("")
    tools = ToolExecutor(ws, home=tmp_path / "home", glob_limit=3)
    assert ToolExecutor(ws, home=tmp_path / "home").run("Glob", {"pattern": "**/*.py"}).text == "a/deep/x.py\na/y.py\nb/z.py\ntop.py"
    assert tools.run("Glob", {"pattern": "*.py", "path": "a"}).text == "a/y.py"
    assert tools.run("Glob", {"pattern": "*"}).text == "a/\nb/\nnotes.md\n… [1 more paths not shown; narrow the pattern]"
    assert tools.run("Glob", {"pattern": "*.{md,txt}"}).text == "notes.md"
    assert tools.run("Glob", {"pattern": str(ws / "a" / "*.py")}).text == "a/y.py"
    assert tools.run("Glob", {"pattern": "*.rs"}).text == "No files found"


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("name", "input", "message"),
    [
        ("Read", {}, "Read: missing required field 'file_path' (a string)"),
        ("Read", {"file_path": None}, "Read: missing required field 'file_path' (a string)"),
        ("Read", {"file_path": 7}, "Read: 'file_path' must be a string, got int"),
        ("Read", {"file_path": "f.txt", "offset": "3"}, "Read: 'offset' must be an integer, got str"),
        ("Read", {"file_path": "f.txt", "limit": True}, "Read: 'limit' must be an integer, got bool"),
        ("Read", {"file_path": "f.txt", "limit": 0}, "Read: limit must be at least 1"),
        ("Read", {"file_path": "f\0.txt"}, "Read: 'file_path' contains a NUL byte"),
        ("Read", {"file_path": "x" * 200_000}, "Read: 'file_path' is too long (200000 characters)"),
        ("Read", ["f.txt"], "Read: input must be an object, got list"),
        ("Write", {"file_path": "f.txt"}, "Write: missing required field 'content' (a string)"),
        ("Write", {"file_path": "f.txt", "content": ["x"]}, "Write: 'content' must be a string, got list"),
        ("Edit", {"file_path": "f.txt", "old_string": "a", "new_string": "b", "replace_all": "yes"}, "Edit: 'replace_all' must be a boolean, got str"),
        ("Bash", {"command": 42}, "Bash: 'command' must be a string, got int"),
        ("Bash", {"command": "ls", "timeout": "10"}, "Bash: 'timeout' must be a number, got str"),
        ("Grep", {"pattern": {"re": "x"}}, "Grep: 'pattern' must be a string, got dict"),
        ("Glob", {"pattern": ""}, "Glob: pattern is empty"),
        ("Fly", {}, "unknown tool 'Fly'; this role has: Read, Write, Edit, Bash, Grep, Glob"),
        (None, {}, "unknown tool None; this role has: Read, Write, Edit, Bash, Grep, Glob"),
    ],
)
def test_bad_input_is_an_error_result(tools: ToolExecutor, ws: Path, name, input, message: str) -> None:
    (ws / "f.txt").write_text("a\n")
    result = tools.run(name, input)
    assert result.is_error
    assert result.text.startswith(message)


def test_tool_not_allowed_names_the_roles_tools(ws: Path, tmp_path: Path) -> None:
    tools = ToolExecutor(ws, home=tmp_path / "home", allowed=("Read", "Grep", "Glob"))
    refused(tools.run("Write", {"file_path": "x", "content": "y"}), "tool Write is not available to this role; it has: Read, Grep, Glob")
    refused(tools.run("Bash", {"command": "touch x"}))
    assert not (ws / "x").exists()
    with pytest.raises(ValueError, match="unknown tools"):
        ToolExecutor(ws, allowed=("Read", "Teleport"))


def test_extra_keys_are_ignored(ws: Path, tools: ToolExecutor) -> None:
    # Claude Code models often send Bash a `description`.
    assert tools.run("Bash", {"command": "echo ok", "description": "say ok"}).text == "ok\n"


# ------------------------------------------------------------ schemas


def test_tool_schemas_are_stable_and_ordered() -> None:
    names = ("Bash", "Read", "Grep")
    first = tool_schemas(names)
    assert [tool["name"] for tool in first] == ["Bash", "Read", "Grep"]
    first[0]["cache_control"] = {"type": "ephemeral"}  # a caller marking its last tool must not leak into the next call
    assert json.dumps(tool_schemas(names)) == json.dumps(tool_schemas(names))
    assert "cache_control" not in json.dumps(tool_schemas(names))
    every = tool_schemas(ALL_TOOLS)
    assert [tool["name"] for tool in every] == list(ALL_TOOLS)
    for tool in every:
        assert set(tool) == {"name", "description", "input_schema"}
        assert tool["input_schema"]["type"] == "object"
        assert set(tool["input_schema"]["required"]) <= set(tool["input_schema"]["properties"])


def test_write_and_edit_refuse_git_s_own_files(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n")
    executor = ToolExecutor(ws)
    for name, args in (("Write", {"file_path": ".git/config", "content": "x"}), ("Edit", {"file_path": ".git/config", "old_string": "[core]", "new_string": "x"}), ("Write", {"file_path": ".git", "content": "gitdir: /elsewhere"})):
        result = executor.run(name, args)
        assert result.is_error and ".git" in result.text
    assert (ws / ".git" / "config").read_text() == "[core]\n"


# ------------------------------------------------------------ attacks that once worked (each failed before its fix)


def within(seconds: float, work) -> Any:
    """`work()`'s value, or a failure (not a hung test) when it takes longer than `seconds`."""
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"still running after {seconds} s"
    return box[0]


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
