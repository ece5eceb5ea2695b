"""runners.proc: exit code and output of a command, its whole process group killed on timeout."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from storyc.runners.proc import clip, run_process, scrubbed_env


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (killed, not yet reaped by init) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_dead(pids: list[int], within: float = 2.0) -> list[int]:
    """The pids still alive after `within` seconds (SIGKILL is delivered asynchronously)."""
    deadline = time.monotonic() + within
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def pids_in(file: Path) -> list[int]:
    return [int(word) for word in file.read_text().split()]


def test_exit_code_and_both_streams(tmp_path: Path) -> None:
    done = run_process(["sh", "-c", "echo out; echo err >&2; exit 3"], cwd=tmp_path, timeout=10)
    assert (done.returncode, done.timed_out) == (3, False)
    assert done.output == "out\nerr\n"
    assert 0 <= done.seconds < 10


def test_shell_string_and_cwd(tmp_path: Path) -> None:
    done = run_process("pwd", cwd=tmp_path, timeout=10, shell=True)
    assert done.output.strip() == str(tmp_path)


def test_undecodable_output_is_replaced(tmp_path: Path) -> None:
    done = run_process(["printf", "a\\377b"], cwd=tmp_path, timeout=10)
    assert done.output == "a\ufffdb"


def test_timeout_kills_child_and_grandchild(tmp_path: Path) -> None:
    script = "sleep 60 & echo $! > pids; echo $$ >> pids; sleep 60"
    done = run_process(["sh", "-c", script], cwd=tmp_path, timeout=0.5, grace=0.5)
    assert done.timed_out
    assert done.returncode < 0
    assert done.seconds < 30  # killed, not waited for: the sleep is 60 s (no tighter bound: a busy machine is slow)
    pids = pids_in(tmp_path / "pids")
    assert len(pids) == 2
    assert wait_dead(pids) == []


def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    script = "trap '' TERM; sleep 60 & echo $! > pids; echo $$ >> pids; wait"
    done = run_process(["sh", "-c", script], cwd=tmp_path, timeout=0.5, grace=0.2)
    assert done.timed_out
    assert done.returncode == -9
    assert wait_dead(pids_in(tmp_path / "pids")) == []


def test_background_grandchild_neither_hangs_us_nor_outlives_the_call(tmp_path: Path) -> None:
    done = run_process(["sh", "-c", "sleep 60 & echo $! > pids; echo started"], cwd=tmp_path, timeout=30)
    assert (done.returncode, done.timed_out, done.output) == (0, False, "started\n")
    assert done.seconds < 30  # killed, not waited for: the sleep is 60 s (no tighter bound: a busy machine is slow)
    assert wait_dead(pids_in(tmp_path / "pids")) == []


def test_own_session(tmp_path: Path) -> None:
    code = "import os; print(os.getsid(0) == os.getpid(), os.getpgid(0) == os.getpid())"
    done = run_process([sys.executable, "-c", code], cwd=tmp_path, timeout=10)
    assert done.output == "True True\n"


def test_stdin_is_not_inherited(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()  # our stdin for a moment: a pipe that stays open
    os.write(write_end, b"leaked\n")
    saved = os.dup(0)
    os.dup2(read_end, 0)
    try:
        done = run_process(["cat"], cwd=tmp_path, timeout=1, grace=0.1)
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)
    assert (done.returncode, done.output, done.timed_out) == (0, "", False)


def test_missing_executable_is_exit_127(tmp_path: Path) -> None:
    done = run_process(["no-such-command-storyc"], cwd=tmp_path, timeout=10)
    assert (done.returncode, done.output, done.timed_out) == (127, "command not found: no-such-command-storyc", False)


def test_log_is_appended_and_output_is_this_run_only(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "run.log"
    log.parent.mkdir()
    log.write_text("earlier\n")
    done = run_process(["echo", "now"], cwd=tmp_path, timeout=10, log=log)
    assert done.output == "now\n"
    assert log.read_text() == "earlier\nnow\n"


def test_output_is_clipped_head_and_tail(tmp_path: Path) -> None:
    done = run_process(["sh", "-c", "echo START; seq 1 80; echo END"], cwd=tmp_path, timeout=10, limit=100)
    assert done.output.startswith("START\n")
    assert done.output.endswith("END\n")
    assert "characters cut] …" in done.output
    assert len(done.output) < 200


def test_huge_output_is_not_read_whole(tmp_path: Path) -> None:
    script = "echo START; head -c 5000000 /dev/zero | tr '\\0' x; echo; echo END"
    done = run_process(["sh", "-c", script], cwd=tmp_path, timeout=10, limit=100)
    assert done.output.startswith("START\n")
    assert done.output.endswith("END\n")
    assert "bytes cut] …" in done.output
    assert len(done.output) < 200


def test_clip() -> None:
    assert clip("short", 10) == "short"
    assert clip("a" * 10, 10) == "a" * 10
    assert clip("0123456789abcdef", 8) == "0123\n… [8 characters cut] …\ncdef"


def test_scrubbed_env_is_an_allow_list(tmp_path: Path, monkeypatch) -> None:
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "PYTHONPATH"):
        monkeypatch.setenv(key, "secret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    env = scrubbed_env(home, tmp)
    allowed = {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "USER", "LOGNAME", "SHELL", "HOME", "TMPDIR", "TMP", "TEMP"}
    assert set(env) <= allowed
    assert "secret" not in env.values()
    assert env["HOME"] == str(home) and env["TMPDIR"] == env["TMP"] == env["TEMP"] == str(tmp)
    assert env["LANG"] == "C.UTF-8" and env["PATH"] == os.environ["PATH"]
    assert home.is_dir() and tmp.is_dir()
    assert scrubbed_env(home, tmp, path="/bin")["PATH"] == "/bin"
