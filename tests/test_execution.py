"""`doit` runs the compiled sprint: in a temporary git repository, with the command runner.

The agent is a small script outside the repository: it writes `out/<story>.txt`
(good or bad, as `behaviour.json` says for that story and attempt) and logs
every call to `calls.jsonl`, so the tests assert on what really ran.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from storyc import api

AGENT = r'''
import json, os, sys, time
story, attempt, model, prompt_file = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
plan = json.load(open(os.path.join(here, "behaviour.json"))).get(story, {})
start = time.time()
open(os.path.join(here, "started-" + story), "w").close()
waited = True
for other in plan.get("wait_for", []):  # a handshake: proves two agents ran at once, however slow the machine
    deadline = time.time() + 60
    while not os.path.exists(os.path.join(here, "started-" + other)) and time.time() < deadline:
        time.sleep(0.05)
    waited = waited and os.path.exists(os.path.join(here, "started-" + other))
time.sleep(plan.get("sleep", 0))
good = int(attempt) >= plan.get("fail_until", 1) and not plan.get("always_fail")
prompt = open(prompt_file, encoding="utf-8").read()
content = "evil" if plan.get("evil_unless_told") and "integration check" not in prompt else plan.get("content", story)
os.makedirs("out", exist_ok=True)
with open(os.path.join("out", story + ".txt"), "w") as f:
    f.write(("ok " + content) if good else "bad")
for path, text in plan.get("also_write", {}).items():
    with open(path, "w") as f:
        f.write(text)
with open(os.path.join(here, "calls.jsonl"), "a") as f:
    f.write(json.dumps({"story": story, "attempt": int(attempt), "model": model, "start": start, "end": time.time(),
                        "fix": "## The failure" in prompt, "met": waited}) + "\n")
'''

CHECK = '''
import pathlib, sys
bad = [p.name for p in sorted(pathlib.Path("out").glob("*.txt")) if not p.read_text().startswith("ok")]
print("broken:", ", ".join(bad) if bad else "none")
sys.exit(1 if bad else 0)
'''

# A and B are independent; C needs A; D needs C.
STORIES = {"A": [], "B": [], "C": ["A"], "D": ["C"]}


class Project:
    def __init__(self, tmp_path: Path, isolation: str, stories: dict[str, list[str]] = STORIES, behaviour: dict | None = None, sprint_extra: str = "", config_extra: str = ""):
        self.tools = tmp_path / "agent"
        self.tools.mkdir()
        (self.tools / "agent.py").write_text(AGENT)
        self.behave(behaviour or {})
        self.root = root = tmp_path / "repo"
        root.mkdir()
        tasks = {
            "project": "Synthetic",
            "custom_field": {"kept": True},
            "stories": [
                {"id": sid, "title": f"Story {sid}", "size": "XS", "depends_on": deps, "files": [f"out/{sid}.txt"],
                 "acceptance_criteria": [f"out/{sid}.txt says ok"], "status": "to-do", "x-team": "core"}
                for sid, deps in stories.items()
            ],
        }
        self.write("docs/tasks/tasks.json", json.dumps(tasks, indent=4) + "\n")
        self.write("docs/sprints/sprint-001.md", "# Sprint 1: Synthetic\n\n## Stories\n\n" + "".join(f"- {s}\n" for s in stories) + sprint_extra)
        self.write("check.py", CHECK)
        self.write("storyc.toml", f"""
[gates]
test = "{sys.executable} check.py"

[runner]
kind = "command"
argv = ["{sys.executable}", "{self.tools / 'agent.py'}", "{{story_id}}", "{{attempt}}", "{{model}}", "{{prompt_file}}"]
max_attempts = 3

[execution]
isolation = "{isolation}"
{config_extra}""")
        self.write(".gitignore", "build/\n.doit.db*\n__pycache__/\n.ai/\ndodo.py\n")
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        self.git("add", "-A")
        self.git("commit", "-qm", "start")
        api.build(root)

    def git(self, *args: str) -> None:
        env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
        subprocess.run(["git", *args], cwd=self.root, check=True, env=env)

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def edit_story(self, sid: str, edit: Callable[[dict], None]) -> None:
        """A person's edit: the file as a run left it, read from disk, changed, written back."""
        path = self.root / "docs/tasks/tasks.json"
        data = json.loads(path.read_text())
        edit(next(s for s in data["stories"] if s["id"] == sid))
        path.write_text(json.dumps(data, indent=4) + "\n")

    def behave(self, behaviour: dict) -> None:
        (self.tools / "behaviour.json").write_text(json.dumps(behaviour))

    def doit(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "doit", *args], cwd=self.root, capture_output=True, text=True, timeout=timeout)

    def calls(self) -> list[dict]:
        path = self.tools / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def reset_calls(self) -> None:
        (self.tools / "calls.jsonl").unlink(missing_ok=True)

    def statuses(self) -> dict[str, str]:
        return {s["id"]: s["status"] for s in json.loads((self.root / "docs/tasks/tasks.json").read_text())["stories"]}

    def record(self, sid: str) -> dict:
        return json.loads((self.root / "build" / "stamps" / f"{sid}.json").read_text())

    def events(self, kind: str) -> list[dict]:
        lines = (self.root / "build" / "events.jsonl").read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["event"] == kind]


@pytest.fixture(params=["worktree", "none"])
def project(request, tmp_path: Path) -> Project:
    return Project(tmp_path, request.param)


def test_a_fresh_run_does_every_story_and_a_second_calls_no_agent(project: Project) -> None:
    original = (project.root / "docs/tasks/tasks.json").read_text()
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(c["story"] for c in project.calls()) == ["A", "B", "C", "D"]
    assert project.statuses() == dict.fromkeys("ABCD", "done")
    # Only the status values changed, in the file's own word for done; every other byte is as it was.
    assert (project.root / "docs/tasks/tasks.json").read_text() == original.replace('"status": "to-do"', '"status": "done"')
    for sid in "ABCD":
        assert (project.root / f"out/{sid}.txt").read_text() == f"ok {sid}"
    progress = (project.root / ".ai/PROGRESS.md").read_text()
    assert "**4 of 4 stories done**" in progress and "D done after 1 agent call(s)" in progress
    assert "## Done (4)" in (project.root / "docs/tasks/kanban_board.md").read_text()
    assert "[4/4] ✓" in result.stdout

    project.reset_calls()
    again = project.doit()
    assert again.returncode == 0, again.stdout + again.stderr
    assert project.calls() == []
    assert "▶" not in again.stdout  # no story target even started


def test_stories_of_a_wave_run_at_once_and_no_wave_barrier_holds_back_a_ready_story(tmp_path: Path) -> None:
    # A waits for B to start (so they run at once); B waits for C to start, which only A's end allows:
    # had C waited for the whole of wave 1, B would have waited in vain.
    project = Project(tmp_path, "worktree", behaviour={"A": {"wait_for": ["B"]}, "B": {"wait_for": ["C"]}})
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = {c["story"]: c for c in project.calls()}
    assert calls["A"]["met"] and calls["B"]["met"], calls


def test_criteria_edit_rebuilds_exactly_that_story_and_the_same_output_leaves_its_dependents(project: Project) -> None:
    assert project.doit("-n", "4").returncode == 0
    assert set(project.statuses().values()) == {"done"}
    project.reset_calls()
    project.edit_story("C", lambda c: c["acceptance_criteria"].append("and it is tidy"))
    result = project.doit("-n", "4")  # no `storyc compile`: doit recompiles a plan whose inputs moved
    assert result.returncode == 0, result.stdout + result.stderr
    assert "docs/tasks/tasks.json changed since the last compile; recompiling" in result.stderr
    assert [c["story"] for c in project.calls()] == ["C"]  # D depends on C, but C's output is the same bytes
    assert "▶ D" not in result.stdout
    assert set(project.statuses().values()) == {"done"}
    assert project.doit().stdout.count("▶") == 0


def test_a_changed_output_re_verifies_dependents_without_an_agent(project: Project) -> None:
    assert project.doit("-n", "4").returncode == 0
    project.reset_calls()
    project.behave({"C": {"content": "C, second version"}})
    project.edit_story("C", lambda c: c.update(title="Story C, reworded"))
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c["story"] for c in project.calls()] == ["C"]
    assert "D: re-verifying" in result.stdout  # its upstream changed: gates run, no agent


def test_a_passing_hand_edit_runs_the_gates_only(project: Project) -> None:
    assert project.doit("-n", "4").returncode == 0
    project.reset_calls()
    (project.root / "out/B.txt").write_text("ok B, edited by hand")
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.calls() == []
    assert "B: re-verifying" in result.stdout and "B: gates: test ok" in result.stdout
    assert project.doit().stdout.count("▶") == 0  # and then it is up to date


def test_a_breaking_hand_edit_is_repaired_through_the_fix_ladder(project: Project) -> None:
    assert project.doit("-n", "4").returncode == 0
    project.reset_calls()
    (project.root / "out/B.txt").write_text("bad edit")
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = project.calls()
    assert [(c["story"], c["fix"]) for c in calls] == [("B", True)]  # one agent call, given the failure
    assert (project.root / "out/B.txt").read_text() == "ok B"


def test_failing_twice_then_passing_is_done_on_the_third_attempt_on_the_next_model(tmp_path: Path) -> None:
    # In a worktree: without isolation, A's failed attempts would fail B's gate too (check.py reads every output).
    project = Project(tmp_path, "worktree", behaviour={"A": {"fail_until": 3}})
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    a = [c for c in project.calls() if c["story"] == "A"]
    assert [(c["attempt"], c["model"], c["fix"]) for c in a] == [
        (1, "claude-haiku-4-5", False),
        (2, "claude-haiku-4-5", True),
        (3, "claude-sonnet-4-5", True),
    ]
    assert project.record("A")["models"] == ["claude-haiku-4-5", "claude-sonnet-4-5"]
    assert project.statuses()["A"] == "done"


def test_an_always_failing_story_is_blocked_and_everything_independent_is_done(tmp_path: Path, run_cli) -> None:
    # In a worktree: without isolation, C's failed output in the shared tree could fail B's gate (check.py reads every output).
    project = Project(tmp_path, "worktree", behaviour={"C": {"always_fail": True}})
    result = project.doit("-n", "4", "--continue")
    assert result.returncode != 0
    assert project.statuses() == {"A": "done", "B": "done", "C": "blocked", "D": "to-do"}
    assert [c["story"] for c in project.calls()].count("C") == 3
    assert "D" not in {c["story"] for c in project.calls()}
    progress = (project.root / ".ai/PROGRESS.md").read_text()
    assert "needs human review" in progress and "| C |" in progress
    assert not (project.root / "out/C.txt").exists() or project.root.joinpath("out/C.txt").read_text() == "bad"
    status = json.loads(run_cli(["status", "--format", "json"], project.root).stdout)
    assert [b["story"] for b in status["blocked"]] == ["C"] and "3 attempt(s) failed" in status["blocked"][0]["reason"]
    assert status["waves"][0]["done"] == 2 and not status["running"]


def test_kill_9_part_way_loses_nothing_finished(tmp_path: Path, run_cli) -> None:
    project = Project(tmp_path, "worktree", behaviour={"B": {"sleep": 30}})
    run = subprocess.Popen([sys.executable, "-m", "doit", "-n", "4"], cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and project.statuses().get("D") != "done":
        json.loads((project.root / "docs/tasks/tasks.json").read_text())  # valid at every look
        time.sleep(0.05)
    status = run_cli(["status"], project.root).stdout
    assert "· running ·" in status and "Builder (claude-haiku-4-5) | B | Attempt 1" in status and "Nothing is blocked." in status
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert project.statuses()["D"] == "done" and project.statuses()["B"] in ("to-do", "in-progress")
    project.reset_calls()
    project.behave({})
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c["story"] for c in project.calls()] == ["B"]  # A, C and D were not redone
    assert project.statuses() == dict.fromkeys("ABCD", "done")


def test_a_failing_integration_point_names_the_story_that_broke_it_and_rebuilds_it(tmp_path: Path) -> None:
    sprint = "\n## Integration Points\n\n| Integration Point | Stories Involved | Verification |\n| --- | --- | --- |\n| A with C | A → C | `python integ.py` |\n"
    project = Project(tmp_path, "worktree", behaviour={"C": {"evil_unless_told": True}}, sprint_extra=sprint)
    project.write("integ.py", "import pathlib, sys\nc = pathlib.Path('out/C.txt')\nsys.exit('C is evil' if c.exists() and 'evil' in c.read_text() else 0)\n")
    project.git("add", "integ.py")
    project.git("commit", "-qm", "integration check")
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [e["culprit"] for e in project.events("integration_failed")] == ["C"]
    assert [(c["story"], c["fix"]) for c in project.calls() if c["story"] == "C"] == [("C", False), ("C", True)]
    assert (project.root / "out/C.txt").read_text() == "ok C" and (project.root / "out/A.txt").read_text() == "ok A"
    assert "broken by C" in result.stdout
    assert project.events("integration_passed")


def test_a_merge_conflict_re_runs_the_story_on_the_new_base(tmp_path: Path) -> None:
    # A and B both write notes.txt without saying so: in their worktrees neither sees the other.
    project = Project(tmp_path, "worktree", behaviour={
        "A": {"also_write": {"notes.txt": "from A\n"}},
        "B": {"also_write": {"notes.txt": "from B\n"}, "sleep": 1.0},
    })
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c["attempt"] for c in project.calls() if c["story"] == "B"] == [1, 2]
    assert (project.root / "notes.txt").read_text() == "from B\n"
    assert project.statuses() == dict.fromkeys("ABCD", "done")


def test_thread_mode_runs_the_sprint_too(tmp_path: Path) -> None:
    project = Project(tmp_path, "worktree")
    result = project.doit("-n", "4", "-P", "thread")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.statuses() == dict.fromkeys("ABCD", "done")
    assert project.doit("-P", "thread").stdout.count("▶") == 0


def test_barrier_wave_holds_a_story_until_its_whole_wave_is_done(tmp_path: Path) -> None:
    project = Project(tmp_path, "none", behaviour={"B": {"sleep": 1.5}}, config_extra='barrier = "wave"\n')
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = {c["story"]: c for c in project.calls()}
    assert calls["C"]["start"] >= calls["B"]["end"]


def test_a_second_run_of_the_same_sprint_waits_its_turn(tmp_path: Path) -> None:
    project = Project(tmp_path, "none", behaviour={"A": {"sleep": 3}})
    first = subprocess.Popen([sys.executable, "-m", "doit", "-n", "2"], cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and not (project.root / "build/events.jsonl").exists():
        time.sleep(0.05)
    second = project.doit()
    assert second.returncode == 2
    assert "another doit run of this sprint is running" in second.stdout + second.stderr
    assert "Traceback" not in second.stdout + second.stderr
    assert first.wait(timeout=60) == 0, first.stdout.read()
    assert project.statuses() == dict.fromkeys("ABCD", "done")


def test_the_story_s_wall_time_budget_kills_its_agent_and_blocks_it(tmp_path: Path) -> None:
    project = Project(tmp_path, "none", behaviour={"A": {"sleep": 30}}, config_extra="")
    (project.root / "storyc.toml").write_text((project.root / "storyc.toml").read_text().replace("max_attempts = 3", "max_attempts = 3\ntimeout_s = 2"))
    api.build(project.root)
    started = time.time()
    result = project.doit("-n", "4", "--continue")
    assert result.returncode != 0 and time.time() - started < 25
    finished = [e for e in project.events("attempt_finished") if e["story"] == "A"]
    assert [e["stop"] for e in finished] == ["timeout"]  # one call, killed; then the budget is spent
    assert project.statuses()["A"] == "blocked" and project.statuses()["B"] == "done"
    assert "timeout_s = 2 s of wall time used up" in project.events("story_blocked")[0]["reason"]


def test_runner_env_passes_only_the_names_it_lists(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STORYC_TEST_SECRET", "do-not-pass")
    monkeypatch.setenv("STORYC_TEST_WANTED", "pass-me")
    project = Project(tmp_path, "none", stories={"A": []})
    agent = tmp_path / "agent" / "env.py"
    agent.write_text("import json, os, sys\nos.makedirs('out', exist_ok=True)\nopen('out/A.txt', 'w').write('ok A')\n"
                     "json.dump(dict(os.environ), open(sys.argv[1], 'w'))\n")
    seen = tmp_path / "agent" / "seen.json"
    config = (project.root / "storyc.toml").read_text()
    config = config[: config.index("argv = ")] + f'argv = ["{sys.executable}", "{agent}", "{seen}"]\nenv = ["STORYC_TEST_WANTED"]\n' + config[config.index("max_attempts"):]
    (project.root / "storyc.toml").write_text(config)
    api.build(project.root)
    result = project.doit()
    assert result.returncode == 0, result.stdout + result.stderr
    env = json.loads(seen.read_text())
    assert env["STORYC_TEST_WANTED"] == "pass-me" and "STORYC_TEST_SECRET" not in env and env["PATH"]


def test_the_innocent_stories_taken_out_while_looking_for_the_culprit_are_put_back(tmp_path: Path) -> None:
    sprint = "\n## Integration Points\n\n| Integration Point | Stories Involved | Verification |\n| --- | --- | --- |\n| A with C | A → C | `python integ.py` |\n"
    project = Project(tmp_path, "worktree", behaviour={"A": {"evil_unless_told": True}}, sprint_extra=sprint)
    project.write("integ.py", "import pathlib, sys\na = pathlib.Path('out/A.txt')\nsys.exit('A is evil' if a.exists() and 'evil' in a.read_text() else 0)\n")
    project.git("add", "integ.py")
    project.git("commit", "-qm", "integration check")
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [e["culprit"] for e in project.events("integration_failed")] == ["A"]  # C, newer, was taken out first, then put back
    assert (project.root / "out/C.txt").read_text() == "ok C" and (project.root / "out/A.txt").read_text() == "ok A"
