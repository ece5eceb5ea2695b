"""Failures a person can read: the real `doit -n 2` on a sprint whose story A cannot pass its gate.

A fails its test gate on every attempt; B is independent; C needs A and D needs
C. The agent is a small script outside the repository; the gate prints ten
lines and then a long one, as test runners do.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from storyc_tests import Agent, Repo

from storyc import api

AGENT = r'''
import json, os, sys, time
story, attempt = sys.argv[1:3]
here = os.path.dirname(os.path.abspath(__file__))
plan = json.load(open(os.path.join(here, "behaviour.json"))).get(story, {})
with open(os.path.join(here, "started.jsonl"), "a") as f:
    f.write(json.dumps({"story": story, "attempt": int(attempt)}) + "\n")
time.sleep(plan.get("sleep", 0))
os.makedirs("out", exist_ok=True)
with open(os.path.join("out", story + ".txt"), "w") as f:
    f.write("bad" if plan.get("fail") else "ok")
'''

WORDS = " ".join(f"word{i:03d}" for i in range(80))
CHECK = f'''
import pathlib, sys
for n in range(1, 11):
    print(f"checked line {{n}} of the outputs")
bad = [p.name for p in sorted(pathlib.Path("out").glob("*.txt")) if p.read_text() != "ok"]
if bad:
    print("broken: " + ", ".join(bad) + " because {WORDS}")
sys.exit(1 if bad else 0)
'''

STORIES = {"A": [], "B": [], "C": ["A"], "D": ["C"]}
CELL_LIMIT = 120  # characters: a table cell longer than this is not read, it is scrolled


def make_project(root: Path, behaviour: dict) -> Path:
    """A git repository with the sprint compiled; the agent and its behaviour beside it."""
    agent = Agent(root.parent / "agent", AGENT, behaviour)
    tasks = {"project": "Failing", "stories": [
        {"id": sid, "title": f"Story {sid}", "size": "XS", "depends_on": deps, "files": [f"out/{sid}.txt"],
         "acceptance_criteria": [f"out/{sid}.txt says ok"], "status": "to-do"}
        for sid, deps in STORIES.items()
    ]}
    files = {
        "docs/tasks/tasks.json": json.dumps(tasks, indent=2) + "\n",
        "docs/sprints/sprint-001.md": "# Sprint 1: Failing\n\n## Stories\n\n" + "".join(f"- {s}\n" for s in STORIES),
        "check.py": CHECK,
        "storyc.toml": f'[gates]\ntest = "{sys.executable} check.py"\n\n[runner]\nkind = "command"\n'
                       f'argv = {agent.argv("{story_id}", "{attempt}")}\nmax_attempts = 3\n',
        ".gitignore": "build/\n.ai/\ndodo.py\n__pycache__/\n",
    }
    repo = Repo(root)
    for rel, text in files.items():
        repo.write(rel, text)
    repo.commit()
    api.build(root)
    return agent.folder


def doit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return Repo(root).doit(*args, timeout=180)


def statuses(root: Path) -> dict[str, str]:
    return Repo(root).statuses()


@pytest.fixture(scope="module")
def blocked(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The sprint, run once with `doit -n 2`: A blocked, C and D not run."""
    root = tmp_path_factory.mktemp("failing") / "repo"
    root.mkdir()
    make_project(root, {"A": {"fail": True}})
    return root, doit(root, "-n", "2")


def assert_readable(output: str) -> None:
    """doit's own failure report is not there: no exception names, no function reprs, no traceback."""
    for noise in ("Python Task failed", "UnmetDependency", "TaskFailed", "<function", "Traceback", "taskid:"):
        assert noise not in output, f"{noise!r} in:\n{output}"


@pytest.mark.parametrize("flags", [[], ["--continue"]], ids=["stop", "continue"])
def test_a_blocked_story_is_one_line_with_its_log_and_its_dependents_one_skipped_line(blocked, tmp_path: Path, flags: list[str]) -> None:
    if flags:  # --continue: doit reports every dependent as an UnmetDependency
        root = tmp_path / "repo"
        root.mkdir()
        make_project(root, {"A": {"fail": True}})
        result = doit(root, "-n", "2", *flags)
    else:
        root, result = blocked
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert statuses(root) == {"A": "blocked", "B": "done", "C": "to-do", "D": "to-do"}
    assert_readable(output)
    lines = output.splitlines()
    failures = [line for line in lines if line.startswith("✗")]
    assert len(failures) == 1, output
    assert re.fullmatch(r"✗ A blocked after 3 attempts: test failed: broken: A\.txt because word000 word001 .*… — build/logs/A\.log", failures[0]), failures[0]
    assert [line for line in lines if "build/logs/" in line] == failures  # the log is named once, on that line
    assert [line for line in lines if line.startswith("skipped")] == ["skipped (their dependencies failed): C, D, sprint"]
    assert not any(line.startswith("not started") for line in lines), output  # nothing else was left out
    assert lines[-1] == "storyc: 1 of 4 stories done, $0.0000 this run"
    assert "[0/4] ▶ A   running:" in output  # the progress lines are still there


def test_a_story_the_first_failure_kept_from_starting_is_named_not_started(tmp_path: Path) -> None:
    # `doit A B` runs A, then B; doit stops at A's failure, so B never starts. C and D were not asked for.
    root = tmp_path / "repo"
    root.mkdir()
    make_project(root, {"A": {"fail": True}})
    result = doit(root, "A", "B")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert_readable(output)
    assert statuses(root) == {"A": "blocked", "B": "to-do", "C": "to-do", "D": "to-do"}
    tail = output.splitlines()[-3:]
    assert tail[0].startswith("✗ A blocked after 3 attempts: test failed: ") and tail[0].endswith(" — build/logs/A.log")
    assert tail[1:] == [
        "not started (doit stops at the first failure; `doit --continue` runs what does not depend on it): B",
        "storyc: 0 of 4 stories done, $0.0000 this run",
    ], output


@pytest.mark.parametrize("gate, output, headline", [
    ("test", "tests/test_a.py F.\n\n===== 1 failed, 1 passed in 0.12s =====\n", "test failed: 1 failed, 1 passed in 0.12s"),
    ("lint", "a.py:1:8: F401 `os` imported but unused\nb.py:2:1: E302 expected 2 blank lines\nFound 2 errors.\n", "lint failed: Found 2 errors."),
    ("typecheck", "", "typecheck failed with exit code 2"),
    ("secrets", "a.py:3: a hard-coded URL: x\nb.py:1: an AWS access key id: y\nmove these into configuration or environment variables",
     "secrets failed: a.py:3: a hard-coded URL: x (and 1 more)"),
])
def test_a_gate_failure_in_a_few_words(gate: str, output: str, headline: str) -> None:
    from storyc.runners.gates import GateResult

    assert GateResult(gate, "cmd", False, output, 0.1, 2).headline() == headline


def test_the_log_has_a_header_and_a_footer_for_every_gate_run(blocked) -> None:
    root, _ = blocked
    log = (root / "build/logs/A.log").read_text()
    runs = re.findall(r"^===== gate (\w+) · attempt (\d) · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n\$ ([^\n]+)\n(.*?)^===== (\w+): exit code (-?\d+), (\d+\.\d\d) s$", log, re.MULTILINE | re.DOTALL)
    assert [(gate, attempt, end) for gate, attempt, _, _, end, _, _ in runs] == [("test", "1", "test"), ("test", "2", "test"), ("test", "3", "test")], log
    for _, _, command, output, _, code, seconds in runs:
        assert command == f"{sys.executable} check.py"
        assert output.startswith("checked line 1 of the outputs\n") and "broken: A.txt because" in output
        assert code == "1" and 0 < float(seconds) < 60
    # A passing story's log says so too, for each of its gates.
    passed = (root / "build/logs/B.log").read_text()
    assert re.search(r"^===== gate test · attempt 1 · .*\n\$ .*check\.py\n(?:.*\n)*?===== test: exit code 0, \d+\.\d\d s$", passed, re.MULTILINE), passed
    assert re.search(r"^===== gate secrets · attempt 1 · .*\n\$ storyc secrets check\n.*\n===== secrets: exit code 0, \d+\.\d\d s$", passed, re.MULTILINE), passed


def test_status_shows_the_failures_first_lines_and_its_log_in_short_cells(blocked, run_cli) -> None:
    root, _ = blocked
    status = run_cli(["status"], root)
    assert status.code == 0, status.output
    text = status.stdout
    row = next(line for line in text.splitlines() if line.startswith("| A |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:2] == ["A", "3"] and cells[3] == "build/logs/A.log", row
    assert cells[2].startswith("test failed: broken: A.txt because word000")
    for line in text.splitlines():
        if line.startswith("|"):
            assert all(len(c.strip()) <= CELL_LIMIT for c in line.strip("|").split("|")), line
    # Cut at a word: every word in the cell is whole, and the cut says so.
    assert cells[2].endswith("…") and all(w in WORDS.split() for w in cells[2][: -1].split(" because ", 1)[1].split())
    # The first lines of the last failure, and where the rest is.
    assert "A, the last failure (its first lines; all of it in build/logs/A.log):" in text
    block = text.split("all of it in build/logs/A.log):\n\n", 1)[1].splitlines()
    assert block[:3] == [f"    $ {sys.executable} check.py", "    checked line 1 of the outputs", "    checked line 2 of the outputs"], block
    assert block[6] == "    … (6 more lines)", block
    assert "checked line 6" not in text
    as_json = json.loads(run_cli(["status", "--format", "json"], root).stdout)
    assert as_json["blocked"][0] | {"failure": None} == {
        "story": "A", "attempts": 3, "log": "build/logs/A.log", "failure": None,
        "summary": cells[2], "reason": "3 attempt(s) failed; last failure: " + cells[2],
    }
    assert as_json["blocked"][0]["failure"].startswith(f"$ {sys.executable} check.py\nchecked line 1")


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_prints_one_line_and_leaves_the_statuses_and_the_log_in_order(tmp_path: Path, how: str) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    tools = make_project(root, {"A": {"sleep": 60}, "B": {"sleep": 60}})
    run = subprocess.Popen([sys.executable, "-m", "doit", "-n", "2"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    started = tools / "started.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (started.exists() and len(started.read_text().splitlines()) == 2):
        time.sleep(0.05)  # both agents are asleep
    assert statuses(root) == {"A": "in-progress", "B": "in-progress", "C": "to-do", "D": "to-do"}
    before = time.time()
    if how == "ctrl-c":
        os.killpg(run.pid, signal.SIGINT)  # what the terminal does: doit and its workers all get it
    else:
        run.send_signal(signal.SIGTERM)  # a service manager's stop: doit alone gets it
    out, err = run.communicate(timeout=60)
    assert time.time() - before < 20  # the sleeping agents were stopped, not waited for
    assert run.returncode == (130 if how == "ctrl-c" else 143), out + err
    assert_readable(out + err)
    assert err == "", err
    # Before the signal, the run's own lines; after it, one line.
    before_signal = r"\[0/4\] ▶ [AB]   running: .*|[AB]: building( \(.*\))?|[AB]: attempt 1, builder on claude-haiku-4-5"
    rest = [line for line in out.splitlines() if not re.fullmatch(before_signal, line)]
    assert len(rest) == 1 and re.fullmatch(r"storyc: interrupted; [AB], [AB] back to todo \(0 of 4 stories done, \$0\.0000 this run\)", rest[0]), out
    assert statuses(root) == dict.fromkeys("ABCD", "to-do")  # the file's own word for todo
    log = (root / ".ai/PROGRESS.md").read_text().split("append-only -->", 1)[1]
    entries = [re.sub(r"^- \S+ \S+ ", "", line) for line in log.strip().splitlines()]
    assert sorted(entries[2:4]) == ["A stopped: the run was interrupted", "B stopped: the run was interrupted"], entries
    assert re.fullmatch(r"run finished, interrupted: [AB], [AB] back to todo", entries[4]) and len(entries) == 5, entries
    assert not (root / "build/locks/abort").exists()
    if how == "ctrl-c":  # the next run starts clean and finishes the sprint
        (tools / "behaviour.json").write_text("{}")
        again = doit(root, "-n", "2")
        assert again.returncode == 0, again.stdout + again.stderr
        assert statuses(root) == dict.fromkeys("ABCD", "done")
