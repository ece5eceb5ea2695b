"""Preflight: a runner that cannot run stops `doit` at once, in one line, with tasks.json as it was.

Each test drives the real commands (`storyc compile`, then `doit -n 2`) in a
temporary git repository whose stories A and B are independent and C needs A;
the only gate checks that out/<story>.txt says ok. The environment has no
ANTHROPIC_* variable and a HOME of its own (so the SDK finds no profile on
disk) unless a test sets one. The model API, when one is needed, is on
127.0.0.1: a closed port, or a socket that accepts and never answers.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import storyc_tests_fakeapi as fakeapi  # loaded by conftest
from storyc_tests import IGNORE, TASKS, Repo

CHECK = """
import pathlib, sys
sys.exit(any(not p.read_text().startswith("ok") for p in pathlib.Path("out").glob("*.txt")))
"""
STORIES = {"A": [], "B": [], "C": ["A"]}
SCRIPT = '[[builder]]\ntool = "Write"\ninput = {{ file_path = "out/{sid}.txt", content = "ok {sid}" }}\n'


class Project(Repo):
    def __init__(self, tmp_path: Path, runner: str):
        super().__init__(tmp_path / "repo")
        self.home = tmp_path / "home"
        self.home.mkdir()
        stories = [
            {"id": sid, "title": f"Story {sid}", "size": "XS", "depends_on": deps, "files": [f"out/{sid}.txt"],
             "acceptance_criteria": [f"out/{sid}.txt says ok"], "status": "to-do"}
            for sid, deps in STORIES.items()
        ]  # fmt: skip
        self.write(TASKS, json.dumps({"project": "Preflight", "stories": stories}, indent=2) + "\n")
        self.write("docs/sprints/sprint-001.md", "# Sprint 1: Preflight\n\n## Stories\n\n" + "".join(f"- {s}\n" for s in STORIES))
        self.write("check.py", CHECK)
        self.write(".gitignore", IGNORE)
        self.configure(runner)
        self.commit()
        self.compile()
        self.tasks_before = self.tasks_bytes()

    def configure(self, runner: str) -> None:
        self.write("storyc.toml", f'[gates]\ntest = "{sys.executable} check.py"\n\n[runner]\n{runner}\n')

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_") and not k.lower().endswith("_proxy") and k != "CLAUDE_CODE_OAUTH_TOKEN"}
        return {**env, "HOME": str(self.home), "NO_COLOR": "1", **extra}

    def compile(self) -> None:
        done = subprocess.run([str(Path(sys.executable).with_name("storyc")), "compile"], cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def doit(self, *args: str, **env: str) -> Run:  # type: ignore[override]  # the environment of this file's promise
        started = time.monotonic()
        done = super().doit(*args, timeout=240, env=self.env(**env))
        return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def tasks_bytes(self) -> bytes:
        return (self.root / TASKS).read_bytes()

    def events(self, kind: str | None = None) -> list[dict]:
        return super().events(kind) if (self.root / "build/events.jsonl").is_file() else []


class Run:
    def __init__(self, code: int, stdout: str, stderr: str, seconds: float):
        self.code, self.stdout, self.stderr, self.seconds = code, stdout, stderr, seconds
        self.output = stdout + stderr

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.output.splitlines() if needle in line]


def assert_stopped_at_once(project: Project, run: Run, line: str) -> None:
    """The promise: exit != 0, `line` once (the whole of its line), no traceback, no agent call, tasks.json as it was."""
    assert run.code != 0, run.output
    assert "Traceback" not in run.output, run.output
    assert run.lines(line) == [f"storyc: {line}"], run.output
    assert "attempt" not in run.output and "BLOCKED" not in run.output, run.output
    assert project.tasks_bytes() == project.tasks_before
    assert project.events("story_started") == [] and project.events("attempt_started") == []
    assert "C: " not in run.output  # the other workers did not start their story: C never ran
    assert run.seconds < 30, run.seconds  # seconds: doit and two worker processes, nothing waited for


NO_KEY = "cannot run the anthropic runner: no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN in the environment; export one, or set [runner] kind in storyc.toml"


def test_the_anthropic_runner_without_a_key_stops_in_one_line_and_touches_no_status(tmp_path: Path) -> None:
    project = Project(tmp_path, 'kind = "anthropic"')
    run = project.doit("-n", "2")
    assert_stopped_at_once(project, run, NO_KEY)
    assert "stopped: not started: cannot run the anthropic runner" in (project.root / ".ai/PROGRESS.md").read_text()


def test_an_up_to_date_or_re_verified_story_needs_no_key(tmp_path: Path) -> None:
    project = Project(tmp_path, 'kind = "anthropic"')
    for sid in STORIES:
        project.write(f".storyc/scripts/{sid}.toml", SCRIPT.format(sid=sid))
    with fakeapi.FakeAPI(responder=fakeapi.ScriptedScenario(project.root / ".storyc/scripts")) as fake:
        first = project.doit("-n", "2", ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=fake.url)
    assert first.code == 0, first.output
    assert project.statuses() == dict.fromkeys(STORIES, "done")
    noop = project.doit("-n", "2")  # no key from here on
    assert noop.code == 0 and "▶" not in noop.stdout and "cannot run" not in noop.output, noop.output
    (project.root / "out/A.txt").write_text("ok A, edited by hand")  # A re-verifies, then C after it: gates only
    verify = project.doit("-n", "2")
    assert verify.code == 0, verify.output
    assert "A: re-verifying" in verify.stdout and "C: re-verifying" in verify.stdout and "cannot run" not in verify.output
    assert "attempt" not in verify.stdout


def test_the_command_runner_with_a_missing_program_stops_in_one_line(tmp_path: Path) -> None:
    project = Project(tmp_path, 'kind = "command"\nargv = ["no-such-agent-storyc", "{prompt_file}"]')
    run = project.doit("-n", "2")
    line = "cannot run the command runner: `no-such-agent-storyc` is not on PATH; install it or fix [runner] argv, or set [runner] kind in storyc.toml"
    assert_stopped_at_once(project, run, line)


def test_a_program_missing_when_it_is_called_is_not_retried_and_the_story_goes_back_to_todo(tmp_path: Path) -> None:
    # A placeholder in the program's path: known per attempt only, so it is found missing when called.
    project = Project(tmp_path, 'kind = "command"\nargv = ["{workspace}/bin/agent", "{prompt_file}"]')
    run = project.doit("-n", "2")
    assert run.code != 0 and "Traceback" not in run.output, run.output
    found = run.lines("storyc: cannot run the command runner: command not found: ")
    assert len(found) == 1 and found[0].endswith("/bin/agent; install it or fix [runner] argv, or set [runner] kind in storyc.toml"), run.output
    calls = [(e["story"], e["attempt"]) for e in project.events("attempt_started")]
    assert len(calls) <= 2 and all(attempt == 1 for _, attempt in calls)  # never retried, never a fix attempt
    assert "model API" not in run.output and "BLOCKED" not in run.output
    assert project.statuses() == dict.fromkeys(STORIES, "to-do")  # back to todo, in the file's own word
    assert project.tasks_bytes() == project.tasks_before


def test_claude_code_without_claude_on_path_stops_in_one_line(tmp_path: Path) -> None:
    project = Project(tmp_path, 'kind = "claude-code"')
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "claude").exists())
    run = project.doit("-n", "2", PATH=path, ANTHROPIC_API_KEY="test-key")
    line = "cannot run the claude-code runner: `claude` is not on PATH; install Claude Code (npm install -g @anthropic-ai/claude-code), or set [runner] kind in storyc.toml"
    assert_stopped_at_once(project, run, line)
    assert "model API" not in run.output


def test_the_scripted_runner_names_the_missing_script_and_the_other_stories_go_on(tmp_path: Path) -> None:
    project = Project(tmp_path, 'kind = "scripted"')
    for sid in ("A", "C"):
        project.write(f".storyc/scripts/{sid}.toml", SCRIPT.format(sid=sid))
    run = project.doit("-n", "2", "--continue")
    assert run.code != 0 and "Traceback" not in run.output, run.output
    assert "error: no script for this story: .storyc/scripts/B.toml does not exist" in run.stderr, run.output
    assert project.statuses() == {"A": "done", "B": "to-do", "C": "done"}  # B's status untouched, the rest done
    assert [e["story"] for e in project.events("story_started")].count("B") == 0
    assert "B stopped: not started: no script for this story" in (project.root / ".ai/PROGRESS.md").read_text()


# ---------------------------------------------------------------- an API that does not answer


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


UNREACHABLE = 'kind = "anthropic"\nrequest_timeout_s = 1\ntimeout_s = 8'


@pytest.mark.parametrize("server", ["closed port", "silent server"])
def test_an_unreachable_api_is_retried_aloud_and_given_up_in_bounded_time(tmp_path: Path, server: str) -> None:
    project = Project(tmp_path, UNREACHABLE)
    with socket.socket() as listening:
        if server == "closed port":
            url, why = f"http://127.0.0.1:{closed_port()}", "Connection refused"
        else:  # connections are accepted (by the kernel's backlog) and never answered
            listening.bind(("127.0.0.1", 0))
            listening.listen(16)
            url, why = f"http://127.0.0.1:{listening.getsockname()[1]}", "no answer within 1 s"
        run = project.doit("-n", "2", ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=url)
    assert run.code != 0 and "Traceback" not in run.output, run.output
    for sid in ("A", "B"):
        assert f"{sid}: model API unreachable ({why}; try 1 of 5), retrying in 1s" in run.stdout, run.output
        gave_up = re.search(rf"^{sid}: the run is stopping: the model API at {re.escape(url)}/? is unreachable \({why}\); gave up after (\d) tries in (\d+) s", run.stderr, re.M)
        assert gave_up, run.output
        tries, seconds = map(int, gave_up.groups())
        assert 2 <= tries <= 4 and seconds <= 8  # the story's timeout_s: no pause ends past it
        assert run.stdout.count(f"{sid}: attempt 1, builder") == 1 and f"{sid}: the builder's call failed" not in run.stdout  # not asked again
    assert "C: " not in run.output  # its dependency never finished
    assert project.statuses() == dict.fromkeys(STORIES, "to-do")  # back to todo, not blocked
    assert project.events("story_blocked") == []
    assert run.seconds < 90, run.seconds  # wall time of two worker processes on a busy machine; the story gave up within its 8 s


def test_the_command_runner_preflight_looks_for_the_program_as_exec_would(tmp_path: Path) -> None:
    from storyc.runners.agents.base import RunnerUnavailable
    from storyc.runners.agents.command import CommandRunner

    def problem(argv: list[str], env: dict[str, str] | None = None) -> str | None:
        try:
            CommandRunner(argv, 10, env, root=tmp_path).preflight("A")
        except RunnerUnavailable as exc:
            assert "\n" not in str(exc) and str(exc).endswith("or set [runner] kind in storyc.toml")
            return str(exc)
        return None

    assert "[runner] argv is empty" in problem([])
    assert "./agent.sh does not exist" in problem(["./agent.sh"])
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\n")
    assert "./agent.sh is not executable" in problem(["./agent.sh"])
    script.chmod(0o755)
    assert problem(["./agent.sh"]) is None  # relative to the project, as in each attempt's workspace (a copy of it)
    assert problem([sys.executable, "{prompt_file}"]) is None
    assert problem(["{workspace}/agent.sh"]) is None  # known per attempt only: checked when it is called
    assert "`sh` is not on PATH" in problem(["sh"], env={"PATH": str(tmp_path / "empty")})  # `[runner] env`'s PATH is the one exec uses


PREFLIGHT = """
import sys
from pathlib import Path
from types import SimpleNamespace
from storyc.plan import Config
from storyc.runners.agents import preflight
from storyc.runners.agents.base import RunnerUnavailable
try:
    preflight(Path("."), SimpleNamespace(config=Config()), "A")  # preflight reads the plan's config alone
except RunnerUnavailable as exc:
    print(exc)
print("SDK loaded" if "anthropic" in sys.modules else "SDK not loaded")
"""


@pytest.mark.parametrize(
    "env, sdk",
    [
        ({}, "SDK not loaded"),  # nothing in sight: said at once, without seconds of loading the SDK
        ({"ANTHROPIC_API_KEY": ""}, "SDK not loaded"),  # an empty key is no key (as the SDK reads it)
        ({"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, "SDK loaded"),  # something in sight: the SDK decides
    ],
)
def test_no_key_is_found_without_loading_the_sdk_unless_a_credential_may_be_in_sight(tmp_path: Path, env: dict, sdk: str) -> None:
    (tmp_path / "home").mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    done = subprocess.run([sys.executable, "-c", PREFLIGHT], cwd=tmp_path, env={**base, "HOME": str(tmp_path / "home"), **env}, capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines() == [NO_KEY, sdk], done.stdout + done.stderr
