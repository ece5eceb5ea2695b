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
from storyc_tests import IGNORE, TASKS, Agent, Repo

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


class Project(Repo):
    """Stories A-D (STORIES) in a committed git repository, the agent outside it; compiled."""

    def __init__(self, tmp_path: Path, isolation: str, stories: dict[str, list[str]] = STORIES, behaviour: dict | None = None, sprint_extra: str = "", config_extra: str = ""):
        super().__init__(tmp_path / "repo")
        self.agent = Agent(tmp_path / "agent", AGENT, behaviour)
        tasks = {
            "project": "Synthetic",
            "custom_field": {"kept": True},
            "stories": [
                {"id": sid, "title": f"Story {sid}", "size": "XS", "depends_on": deps, "files": [f"out/{sid}.txt"],
                 "acceptance_criteria": [f"out/{sid}.txt says ok"], "status": "to-do", "x-team": "core"}
                for sid, deps in stories.items()
            ],
        }
        self.write(TASKS, json.dumps(tasks, indent=4) + "\n")
        self.write("docs/sprints/sprint-001.md", "# Sprint 1: Synthetic\n\n## Stories\n\n" + "".join(f"- {s}\n" for s in stories) + sprint_extra)
        self.write("check.py", CHECK)
        self.write("storyc.toml", f"""
[gates]
test = "{sys.executable} check.py"

[runner]
kind = "command"
argv = {self.agent.argv("{story_id}", "{attempt}", "{model}", "{prompt_file}")}
max_attempts = 3

[execution]
isolation = "{isolation}"
{config_extra}""")
        self.write(".gitignore", IGNORE)
        self.commit()
        api.build(self.root)

    def edit_story(self, sid: str, edit: Callable[[dict], None]) -> None:
        """A person's edit of one story: the file as a run left it, read from disk, changed, written back."""
        self.edit_json(lambda data: edit(next(s for s in data["stories"] if s["id"] == sid)))


@pytest.fixture(params=["worktree", "none"])
def project(request, tmp_path: Path) -> Project:
    return Project(tmp_path, request.param)


def test_a_fresh_run_does_every_story_a_second_calls_no_agent_and_a_passing_hand_edit_runs_the_gates_only(project: Project) -> None:
    original = (project.root / "docs/tasks/tasks.json").read_text()
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(c["story"] for c in project.agent.calls()) == ["A", "B", "C", "D"]
    assert project.statuses() == dict.fromkeys("ABCD", "done")
    # Only the status values changed, in the file's own word for done; every other byte is as it was.
    assert (project.root / "docs/tasks/tasks.json").read_text() == original.replace('"status": "to-do"', '"status": "done"')
    for sid in "ABCD":
        assert (project.root / f"out/{sid}.txt").read_text() == f"ok {sid}"
    progress = (project.root / ".ai/PROGRESS.md").read_text()
    assert "**4 of 4 stories done**" in progress and "D done after 1 agent call(s)" in progress
    assert "## Done (4)" in (project.root / "docs/tasks/kanban_board.md").read_text()
    assert "[4/4] ✓" in result.stdout

    project.agent.reset()
    again = project.doit()
    assert again.returncode == 0, again.stdout + again.stderr
    assert project.agent.calls() == []
    assert "▶" not in again.stdout  # no story target even started

    # One fresh run serves both scenarios (a run costs a second of CPU): then a hand edit that passes.
    (project.root / "out/B.txt").write_text("ok B, edited by hand")
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.agent.calls() == []
    assert "B: re-verifying" in result.stdout and "B: gates: test ok" in result.stdout
    assert project.doit().stdout.count("▶") == 0  # and then it is up to date


def test_stories_of_a_wave_run_at_once_and_no_wave_barrier_holds_back_a_ready_story(tmp_path: Path) -> None:
    # A waits for B to start (so they run at once); B waits for C to start, which only A's end allows:
    # had C waited for the whole of wave 1, B would have waited in vain.
    project = Project(tmp_path, "worktree", behaviour={"A": {"wait_for": ["B"]}, "B": {"wait_for": ["C"]}})
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = {c["story"]: c for c in project.agent.calls()}
    assert calls["A"]["met"] and calls["B"]["met"], calls


def test_criteria_edit_rebuilds_exactly_that_story_the_same_output_leaves_its_dependents_and_a_changed_one_re_verifies_them(project: Project) -> None:
    assert project.doit("-n", "4").returncode == 0
    assert set(project.statuses().values()) == {"done"}
    project.agent.reset()
    project.edit_story("C", lambda c: c["acceptance_criteria"].append("and it is tidy"))
    result = project.doit("-n", "4")  # no `storyc compile`: doit recompiles a plan whose inputs moved
    assert result.returncode == 0, result.stdout + result.stderr
    assert "docs/tasks/tasks.json changed since the last compile; recompiling" in result.stderr
    assert [c["story"] for c in project.agent.calls()] == ["C"]  # D depends on C, but C's output is the same bytes
    assert "▶ D" not in result.stdout
    assert set(project.statuses().values()) == {"done"}
    assert project.doit().stdout.count("▶") == 0

    # The same run goes on (a fresh run costs a second of CPU): this time C's output changes, without an agent for D.
    project.agent.reset()
    project.agent.behave({"C": {"content": "C, second version"}})
    project.edit_story("C", lambda c: c.update(title="Story C, reworded"))
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c["story"] for c in project.agent.calls()] == ["C"]
    assert "D: re-verifying" in result.stdout  # its upstream changed: gates run, no agent


def test_a_breaking_hand_edit_is_repaired_through_the_fix_ladder(project: Project) -> None:
    assert project.doit("-n", "4").returncode == 0
    project.agent.reset()
    (project.root / "out/B.txt").write_text("bad edit")
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = project.agent.calls()
    assert [(c["story"], c["fix"]) for c in calls] == [("B", True)]  # one agent call, given the failure
    assert (project.root / "out/B.txt").read_text() == "ok B"


def test_failing_twice_then_passing_is_done_on_the_third_attempt_on_the_next_model(tmp_path: Path) -> None:
    # In a worktree: without isolation, A's failed attempts would fail B's gate too (check.py reads every output).
    project = Project(tmp_path, "worktree", behaviour={"A": {"fail_until": 3}})
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    a = [c for c in project.agent.calls() if c["story"] == "A"]
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
    assert [c["story"] for c in project.agent.calls()].count("C") == 3
    assert "D" not in {c["story"] for c in project.agent.calls()}
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
    project.agent.reset()
    project.agent.behave({})
    result = project.doit("-n", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c["story"] for c in project.agent.calls()] == ["B"]  # A, C and D were not redone
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
    assert [(c["story"], c["fix"]) for c in project.agent.calls() if c["story"] == "C"] == [("C", False), ("C", True)]
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
    assert [c["attempt"] for c in project.agent.calls() if c["story"] == "B"] == [1, 2]
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
    calls = {c["story"]: c for c in project.agent.calls()}
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
    # 5 s: on a busy machine (two test workers, two doit workers) 2 s could be spent before the agent starts.
    (project.root / "storyc.toml").write_text((project.root / "storyc.toml").read_text().replace("max_attempts = 3", "max_attempts = 3\ntimeout_s = 5"))
    api.build(project.root)
    started = time.time()
    result = project.doit("-n", "4", "--continue")
    assert result.returncode != 0 and time.time() - started < 25
    finished = [e for e in project.events("attempt_finished") if e["story"] == "A"]
    assert [e["stop"] for e in finished] == ["timeout"]  # one call, killed; then the budget is spent
    assert project.statuses()["A"] == "blocked" and project.statuses()["B"] == "done"
    assert "timeout_s = 5 s of wall time used up" in project.events("story_blocked")[0]["reason"]


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


# ================================================================ bugs found by running sprints the way users do
# Each test failed before its fix. The agent (WRITER) does what `behaviour.json` says for the story
# (write files, write bytes, fail) and logs each call, so the tests assert on what really ran and what came home.

WRITER = r'''
import json, os, sys
story, attempt = sys.argv[1:3]
here = os.path.dirname(os.path.abspath(__file__))
plan = json.load(open(os.path.join(here, "behaviour.json"))).get(story, {})
for path, text in plan.get("write", {}).items():
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
for path, data in plan.get("write_bytes", {}).items():
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(bytes.fromhex(data))
with open(os.path.join(here, "calls.jsonl"), "a") as f:
    f.write(json.dumps({"story": story, "attempt": int(attempt)}) + "\n")
sys.exit(plan.get("exit", 0))
'''

class Writer(Repo):
    """A committed git repository with tasks.json, a sprint naming every story, storyc.toml, and the WRITER agent; compiled."""

    def __init__(self, tmp_path: Path, stories: list[dict], behaviour: dict | None = None, *, isolation: str = "worktree",
                 tasks: object = None, sprint: list[str] | None = None, gates: dict[str, str] | None = None,
                 config_extra: str = "", gitignore: str = IGNORE, folder: str = "repo", before_commit: dict[str, str] | None = None,
                 tag: str | None = None, max_attempts: int = 3):
        super().__init__(tmp_path / folder)
        self.agent = Agent(tmp_path / "agent", WRITER, behaviour)
        if tasks is None:
            tasks = {"project": "P", "stories": [{"title": f"Story {s['id']}", "size": "XS", "status": "todo", **s} for s in stories]}
        self.write(TASKS, json.dumps(tasks, indent=2, ensure_ascii=False) + "\n")
        ids = sprint if sprint is not None else [s["id"] for s in stories]
        self.write("docs/sprints/sprint-001.md", "# Sprint 1: Regressions\n\n## Stories\n\n" + "".join(f"- {i}\n" for i in ids))
        gate_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in (gates or {}).items())
        self.write("storyc.toml", f"""
[gates]
{gate_lines}
[runner]
kind = "command"
argv = {self.agent.argv("{story_id}", "{attempt}")}
max_attempts = {max_attempts}

[execution]
isolation = "{isolation}"
{config_extra}""")
        self.write(".gitignore", gitignore)
        for rel, text in (before_commit or {}).items():
            self.write(rel, text)
        self.commit()
        api.build(self.root, tag=tag)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.doit(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def tasks_text_with(self, sid: str, key: str, value: object) -> str:
        """tasks.json's text with one field of one story changed, and the story to do again."""
        data = self.load()
        story = next(s for s in data["stories"] if s["id"] == sid)
        story[key], story["status"] = value, "todo"
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def started(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The story targets a doit run started."""
    return [line.split("▶ ", 1)[1].split()[0] for line in result.stdout.splitlines() if "▶ " in line]


# ---------------------------------------------------------------- worktree: what comes home


def test_a_text_file_that_is_not_utf8_comes_home_byte_for_byte(tmp_path: Path) -> None:
    # The patch went through str(errors="replace"): é in Latin-1 came home as U+FFFD.
    latin = "café crème\n".encode("latin-1")
    project = Writer(tmp_path, [{"id": "A", "files": ["menu.txt"]}], {"A": {"write_bytes": {"menu.txt": latin.hex()}}})
    project.ok("-n", "2")
    assert (project.root / "menu.txt").read_bytes() == latin


def test_a_non_ascii_file_name_is_recorded_and_scanned_by_the_secrets_gate(tmp_path: Path) -> None:
    # `git diff --name-only` quotes such names ("donn\303\251es/..."): the file was missing from the
    # changed list, so the record did not watch it and the secrets gate never read it.
    key = "sk-ant-api03-" + "a1B2c3D4e5F6g7H8i9J0" * 2
    project = Writer(tmp_path, [{"id": "A", "files": []}, {"id": "B", "files": []}], {
        "A": {"write": {"données/résumé.txt": "nothing to hide\n"}},
        "B": {"write": {"clés/ключ.py": f"KEY = {key!r}\n"}},
    }, max_attempts=1)
    result = project.doit("-n", "2", "--continue")
    assert list(project.record("A")["files"]) == ["données/résumé.txt"]
    assert {s["id"]: s["status"] for s in project.load()["stories"]} == {"A": "done", "B": "blocked"}, result.stdout
    assert "clés/ключ.py:1: an Anthropic or OpenAI API key" in (project.root / "build/events.jsonl").read_text(encoding="utf-8")


def test_the_users_diff_settings_do_not_break_the_patch(tmp_path: Path) -> None:
    # color.ui = always put escape codes in the patch, diff.noprefix dropped a/ b/, diff.context = 0
    # made a patch git apply refuses, diff.external replaced it: every story was a "merge conflict".
    project = Writer(tmp_path, [{"id": "A", "files": ["notes.txt"]}], {"A": {"write": {"notes.txt": "one\nTWO\nthree\n"}}},
                      before_commit={"notes.txt": "one\ntwo\nthree\n"})
    for key, value in (("color.ui", "always"), ("diff.noprefix", "true"), ("diff.context", "0"), ("diff.relative", "true")):
        project.git("config", key, value)
    project.ok("-n", "2")
    assert (project.root / "notes.txt").read_text() == "one\nTWO\nthree\n"
    project.git("config", "diff.external", "/bin/echo")
    project.agent.behave({"A": {"write": {"notes.txt": "one\nTWO\nTHREE\n"}}})
    project.write("docs/tasks/tasks.json", project.tasks_text_with("A", "acceptance_criteria", ["shouts"]))
    api.build(project.root)
    project.ok("-n", "2")
    assert (project.root / "notes.txt").read_text() == "one\nTWO\nTHREE\n"


def test_a_post_checkout_hook_of_the_users_does_not_run_in_storycs_worktrees(tmp_path: Path) -> None:
    # `git worktree add` ran the user's post-checkout hook (husky, say); one that fails stopped every story with a traceback.
    project = Writer(tmp_path, [{"id": "A", "files": ["a.txt"]}], {"A": {"write": {"a.txt": "a\n"}}})
    hook = project.root / ".git/hooks/post-checkout"
    hook.write_text("#!/bin/sh\necho 'npm install: no network' >&2\nexit 1\n")
    hook.chmod(0o755)
    result = project.ok("-n", "2")
    assert "Traceback" not in result.stdout + result.stderr
    assert (project.root / "a.txt").read_text() == "a\n"


def test_a_story_output_that_git_ignores_comes_home_and_a_rebuild_replaces_it(tmp_path: Path) -> None:
    # `dist/` is ignored: the worktree's `git add -A` left dist/bundle.js out of the patch, so the
    # story was "done" with its output thrown away with the worktree.
    project = Writer(tmp_path, [{"id": "A", "files": ["src/app.js", "dist/bundle.js"]}],
                      {"A": {"write": {"src/app.js": "app()\n", "dist/bundle.js": "bundle v1\n"}}}, gitignore=IGNORE + "dist/\n")
    project.ok("-n", "2")
    assert (project.root / "dist/bundle.js").read_text() == "bundle v1\n"
    assert sorted(project.record("A")["files"]) == ["dist/bundle.js", "src/app.js"]
    # A rebuild: the output is already at home, so the snapshot must hold it too, or the patch cannot apply.
    project.agent.reset()
    project.agent.behave({"A": {"write": {"src/app.js": "app()\n", "dist/bundle.js": "bundle v2\n"}}})
    project.write("docs/tasks/tasks.json", project.tasks_text_with("A", "acceptance_criteria", ["minified"]))
    api.build(project.root)
    project.ok("-n", "2")
    assert [c["attempt"] for c in project.agent.calls()] == [1]
    assert (project.root / "dist/bundle.js").read_text() == "bundle v2\n"
    assert "dist/" not in project.git("status", "--porcelain")


def test_the_gates_in_a_worktree_see_what_git_ignores_at_home(tmp_path: Path) -> None:
    # node_modules/ and .env are ignored, so the snapshot has neither: `npm test` and anything that
    # reads .env failed in every worktree, and every story was blocked after three paid attempts.
    project = Writer(tmp_path, [{"id": "A", "files": ["a.js"]}], {"A": {"write": {"a.js": "require('lib')\n"}}},
                      gitignore=IGNORE + "node_modules/\n.env\n", gates={"test": "test -f node_modules/lib/index.js && test -f .env && test -f a.js"})
    project.write("node_modules/lib/index.js", "module.exports = 1\n")
    project.write(".env", "PORT=8000\n")
    project.ok("-n", "2")
    assert [c["attempt"] for c in project.agent.calls()] == [1]
    patch = (project.root / "build/stamps/A.patch").read_text()
    assert "a.js" in patch and "node_modules" not in patch and ".env" not in patch
    assert (project.root / "node_modules").is_dir() and not (project.root / "node_modules").is_symlink()


# ---------------------------------------------------------------- stamps: what a story's files are


def test_globs_that_reach_storycs_own_files_leave_nothing_stale(tmp_path: Path) -> None:
    # `docs/**` took in tasks.json and the kanban board, `**/*.md` the build folder (prompts, specs, the
    # plan document, other stories' worktrees) and PROGRESS.md: storyc rewrites them as it runs, so
    # the stories were re-verified on every run, forever, and their dependents with them.
    project = Writer(tmp_path, [
        {"id": "A", "files": ["docs/guide/**"]},
        {"id": "B", "files": ["**/*.md"]},
        {"id": "C", "files": ["docs/**"], "depends_on": ["A"]},
    ], {"A": {"write": {"docs/guide/intro.md": "intro\n"}}, "B": {"write": {"notes/b.md": "b\n"}}, "C": {"write": {"docs/c.txt": "c\n"}}},
        gitignore="build/\n.doit.db*\n__pycache__/\ndodo.py\n")
    project.ok("-n", "2")
    assert not [f for s in "ABC" for f in project.record(s)["files"] if f.startswith("build/") or f.endswith(("tasks.json", "kanban_board.md", "PROGRESS.md"))]
    again = project.ok("-n", "2")
    assert started(again) == [], again.stdout


def test_a_folder_a_bracketed_path_and_a_bracketed_repository_folder_are_watched(tmp_path: Path) -> None:
    # `src/auth/` (a folder) matched no file; `app/[id]/page.tsx` (Next.js) was read as a glob and
    # matched no file; a glob under a repository folder named `shop[2]` matched nothing. The story's
    # output went unrecorded, so a hand edit of it was never noticed.
    project = Writer(tmp_path, [
        {"id": "A", "files": ["src/auth/"]},
        {"id": "B", "files": ["app/[id]/page.tsx"]},
        {"id": "C", "files": ["lib/*.py"]},
    ], {"A": {"write": {"src/auth/login.py": "x = 1\n"}}, "B": {"write": {"app/[id]/page.tsx": "page\n"}}, "C": {"write": {"lib/c.py": "c = 1\n"}}},
        isolation="none", folder="shop[2]")
    project.ok("-n", "2")
    assert list(project.record("A")["files"]) == ["src/auth/login.py"]
    assert list(project.record("C")["files"]) == ["lib/c.py"]
    assert list(project.record(next(p.stem for p in (project.root / "build/stamps").glob("B*.json")))["files"]) == ["app/[id]/page.tsx"]
    project.agent.reset()
    (project.root / "src/auth/login.py").write_text("x = 2\n")
    (project.root / "app/[id]/page.tsx").write_text("edited\n")
    again = project.ok("-n", "2")
    assert sorted(started(again)) == ["A", "B"]
    assert project.agent.calls() == []  # re-verified by the gates alone


# ---------------------------------------------------------------- checkpoints: the user's files


def test_status_words_declared_in_storyc_toml_are_the_words_written(tmp_path: Path) -> None:
    # [statuses] never reached the run (plan.json's config has no statuses): a tasks.json that
    # declares its own vocabulary failed every story with "declares no status for in_progress".
    tasks = {"statuses": ["Backlog", "Dev", "Live", "Stuck"], "stories": [
        {"id": "A", "title": "a", "size": "XS", "status": "Backlog", "files": ["a.txt"]},
        {"id": "B", "title": "b", "size": "XS", "status": "Backlog", "files": ["b.txt"], "depends_on": ["A"]},
        {"id": "C", "title": "c", "size": "XS", "status": "Backlog", "files": ["c.txt"]},
    ]}
    project = Writer(tmp_path, [], {"A": {"write": {"a.txt": "a"}}, "B": {"write": {"b.txt": "b"}}, "C": {"exit": 1}},
                      tasks=tasks, sprint=["A", "B", "C"], config_extra='\n[statuses]\nDev = "in_progress"\nLive = "done"\n', max_attempts=1)
    result = project.doit("-n", "2", "--continue")
    assert {s["id"]: s["status"] for s in project.load()["stories"]} == {"A": "Live", "B": "Live", "C": "Stuck"}, result.stdout + result.stderr


def test_a_tagged_task_master_file_gets_its_statuses_in_the_compiled_tag(tmp_path: Path) -> None:
    # Compiled with --tag feature, the run wrote statuses with no tag: into `master` (task 1 there is
    # another task), or failed ("story 1.1 is not in tasks.json").
    tasks = {
        "master": {"tasks": [{"id": 1, "title": "Master one", "status": "pending", "dependencies": []}]},
        "feature": {"tasks": [
            {"id": 1, "title": "Feature one", "status": "pending", "dependencies": [], "subtasks": [
                {"id": 1, "title": "Feature one, first part", "status": "pending", "dependencies": []}]},
            {"id": 2, "title": "Feature two", "status": "pending", "dependencies": [1]},
        ]},
    }
    behaviour = {sid: {"write": {f"f{sid}.txt": sid}} for sid in ("1", "1.1", "2")}
    project = Writer(tmp_path, [], behaviour, tasks=tasks, sprint=["1", "2"], tag="feature", config_extra='\n[policy.M]\nmodel = "haiku"\nreviewer = false\nreview_passes = 0\ntests = "unit"\n')
    result = project.doit("-n", "2")
    data = project.load()
    assert data["master"]["tasks"][0]["status"] == "pending"
    feature = data["feature"]["tasks"]
    assert [feature[0]["status"], feature[0]["subtasks"][0]["status"], feature[1]["status"]] == ["done"] * 3, result.stdout + result.stderr


def test_a_progress_file_written_by_hand_is_kept(tmp_path: Path) -> None:
    # PROGRESS.md without storyc's log mark (the seed's orchestrator notes) was replaced whole.
    project = Writer(tmp_path, [{"id": "A", "files": ["a.txt"]}], {"A": {"write": {"a.txt": "a"}}}, isolation="none")
    project.write(".ai/PROGRESS.md", "# Orchestrator notes\n\nThe payments API is flaky on Mondays.\n")
    project.ok("-n", "2")
    project.ok("-n", "2")
    text = (project.root / ".ai/PROGRESS.md").read_text()
    assert "The payments API is flaky on Mondays." in text and text.count("The payments API") == 1
    assert "**1 of 1 story done**" in text and "A done after 1 agent call(s)" in text


def test_a_kanban_board_of_the_users_own_is_kept(tmp_path: Path) -> None:
    # The seed keeps its stories in docs/tasks/kanban_board.md: storyc overwrote it at the first event.
    project = Writer(tmp_path, [{"id": "A", "files": ["a.txt"]}], {"A": {"write": {"a.txt": "a"}}}, isolation="none")
    mine = "# Board\n\n## Icebox\n\n- Dark mode (someday)\n"
    project.write("docs/tasks/kanban_board.md", mine)
    project.ok("-n", "2")
    project.ok("-n", "2")
    text = (project.root / "docs/tasks/kanban_board.md").read_text()
    assert text.startswith(mine)
    assert text.count("# Kanban board") == 1 and "## Done (1)" in text and "**A**" in text


def test_the_board_keeps_every_story_of_the_sprint(tmp_path: Path) -> None:
    # Only stories still to build had a card: one of the sprint done by hand (or done last run, then
    # recompiled) vanished from the board. A title with a line break broke its card in two.
    stories = [
        {"id": "A", "files": ["a.txt"], "status": "done"},
        {"id": "B", "files": ["b.txt"], "title": "Pay | refund\nflow"},
    ]
    project = Writer(tmp_path, stories, {"B": {"write": {"b.txt": "b"}}}, isolation="none")
    project.ok("-n", "2")
    board = (project.root / "docs/tasks/kanban_board.md").read_text()
    done = board.split("## Done", 1)[1]
    assert "## Done (2)" in board and "- **A** Story A · XS" in done and "- **B** Pay \\| refund flow · XS" in done


# ---------------------------------------------------------------- engine and integration (not fixed here)


def test_a_story_interrupted_by_sigterm_goes_back_to_todo(tmp_path: Path) -> None:
    # The run saves doit's state and stops; the story it was building stayed "in_progress" in tasks.json.
    project = Writer(tmp_path, [{"id": "A", "files": ["a.txt"]}], isolation="none")
    project.agent.script.write_text(WRITER.replace("story, attempt = sys.argv[1:3]", "story, attempt = sys.argv[1:3]\nimport time; time.sleep(30)"))
    run = subprocess.Popen([sys.executable, "-m", "doit", "-n", "2"], cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline and project.load()["stories"][0]["status"] != "in_progress":
        time.sleep(0.05)
    time.sleep(0.3)
    run.terminate()
    run.wait(timeout=30)
    assert project.load()["stories"][0]["status"] == "todo"


def test_a_wave_integration_check_does_not_see_the_next_waves_unfinished_work(tmp_path: Path) -> None:
    # B (wave 2) starts the moment A is done, in the working tree itself, while wave-1 checks the tree:
    # the check saw B half-written and failed the run (the example sprint's flaky failure in "none").
    slow_b = WRITER.replace("sys.exit(plan.get(\"exit\", 0))", "import time\nif story == 'B':\n    open('state.txt', 'w').write('half-written')\n    time.sleep(2.5)\n    open('state.txt', 'w').write('ok')\nsys.exit(0)")
    check = f"{sys.executable} -c \"import time, pathlib, sys; time.sleep(1); p = pathlib.Path('state.txt'); sys.exit(p.exists() and p.read_text() != 'ok')\""
    project = Writer(tmp_path, [{"id": "A", "files": ["a.txt"]}, {"id": "B", "files": ["state.txt"], "depends_on": ["A"]}],
                      {"A": {"write": {"a.txt": "a"}}}, isolation="none", gates={"integration": check})
    project.agent.script.write_text(slow_b)
    result = project.doit("-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
