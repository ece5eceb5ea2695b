"""The story action, in-process: decide → build → gates → review → record, with a fake runner.

Each test compiles a real project (`storyc compile` through the API) in a
plain folder with isolation = "none"; the gate is a real command that checks
that out/<story>.txt says ok. The agent is a fake runner object handed to the
run, playing one move per call and keeping the tasks it was given; no doit,
no subprocess but the gate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import pytest

from storyc import api
from storyc.runners import run as run_module
from storyc.runners.agents.base import AgentResult, AgentTask
from storyc.runners.engine import StoryRun, approved, decide, load_run, run_story
from storyc.runners.stamps import load_record

PLAN = "build/plan.json"
HAIKU, SONNET, OPUS = "claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5"
CHECK = """
import pathlib, sys
if pathlib.Path("noisy").exists():
    print("noise " * 1000)
bad = [p.name for p in sorted(pathlib.Path("out").glob("*.txt")) if not p.read_text().startswith("ok")]
print("broken:", ", ".join(bad) if bad else "none")
sys.exit(1 if bad else 0)
"""
# A and R are independent; B needs A. R is of size M: the Reviewer judges it, on Sonnet.
STORIES = [("A", "XS", []), ("B", "XS", ["A"]), ("R", "M", [])]

Move = Callable[[AgentTask], AgentResult]


class FakeRunner:
    """Plays one move per agent call, in order, and keeps the tasks it was given."""

    def __init__(self, *moves: Move):
        self.moves = list(moves)
        self.tasks: list[AgentTask] = []

    def preflight(self, story_id: str) -> None:
        pass

    def run(self, task: AgentTask) -> AgentResult:
        self.tasks.append(task)
        return self.moves.pop(0)(task)


def writes(text: str, turns: int = 1, cost: float = 0.0) -> Move:
    """The Builder writes out/<story>.txt and finishes."""

    def move(task: AgentTask) -> AgentResult:
        out = task.workspace / "out" / f"{task.story_id}.txt"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text)
        return AgentResult(True, "end_turn", turns=turns, cost_usd=cost)

    return move


def says(text: str, finished: bool = True, stop: str = "end_turn", turns: int = 1) -> Move:
    return lambda task: AgentResult(finished, stop, text=text, turns=turns)


def api_error(task: AgentTask) -> AgentResult:
    return AgentResult(False, "error", detail="529 overloaded")


class Project:
    def __init__(self, root: Path, config: str = ""):
        self.root = root
        tasks = [{"id": sid, "title": f"Story {sid}", "size": size, "depends_on": deps, "files": [f"out/{sid}.txt"],
                  "acceptance_criteria": [f"out/{sid}.txt says ok"], "status": "todo"} for sid, size, deps in STORIES]  # fmt: skip
        self.write("docs/tasks/tasks.json", json.dumps({"project": "Engine", "stories": tasks}, indent=2) + "\n")
        self.write("docs/sprints/sprint-001.md", "# Sprint 1: Engine\n\n## Stories\n\n" + "".join(f"- {sid}\n" for sid, _, _ in STORIES))
        self.write("check.py", CHECK)
        # The runner's kind is never used: every test hands the run its own fake runner.
        self.write("storyc.toml", f'[gates]\ntest = "{sys.executable} check.py"\n\n[runner]\nkind = "claude-code"\n{config}\n[execution]\nisolation = "none"\n')
        self.compile()

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def compile(self) -> None:
        api.build(self.root)

    def runner(self, *moves: Move) -> FakeRunner:
        """The fake runner, handed to the run that this process's story actions use."""
        fake = FakeRunner(*moves)
        load_run(str(self.root), PLAN).runner = fake
        return fake

    def story(self, sid: str) -> bool:
        return run_story(str(self.root), PLAN, sid)

    def record(self, sid: str) -> dict:
        return load_record(load_run(str(self.root), PLAN).record_file(sid))

    def decide(self, sid: str) -> tuple[str, str]:
        run = load_run(str(self.root), PLAN)
        story = run.stories[sid]
        return decide(run, story, load_record(run.record_file(sid)), run.upstream(story))

    def status(self, sid: str) -> str:
        tasks = json.loads((self.root / "docs/tasks/tasks.json").read_text())
        return next(s["status"] for s in tasks["stories"] if s["id"] == sid)

    def events(self, kind: str) -> list[dict]:
        lines = (self.root / "build/events.jsonl").read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["event"] == kind]


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "repo")


# ------------------------------------------------------------ decide


def test_decide_builds_a_story_with_no_stamp(project):
    assert project.decide("A") == ("build", "no stamp yet")


def test_decide_after_a_build_is_up_to_date_and_nothing_runs_again(project, capsys):
    project.runner(writes("ok A"))
    assert project.story("A")
    assert project.decide("A") == ("none", "up to date")
    fake = project.runner()  # no move: any agent call would fail the test
    capsys.readouterr()
    assert project.story("A")
    assert fake.tasks == [] and capsys.readouterr().out == ""
    assert project.events("story_skipped")[-1]["reason"] == "up to date"


def test_decide_rebuilds_a_story_whose_spec_changed(project):
    project.runner(writes("ok A"))
    assert project.story("A")
    tasks = project.root / "docs/tasks/tasks.json"
    tasks.write_text(tasks.read_text().replace('"Story A"', '"Story A, renamed"'))
    project.compile()
    assert project.decide("A") == ("build", "its spec changed")


def test_decide_reverifies_a_story_whose_files_were_edited_by_hand(project):
    project.runner(writes("ok A"))
    assert project.story("A")
    (project.root / "out/A.txt").write_text("ok A, edited")
    assert project.decide("A") == ("verify", "its files changed: out/A.txt")


def test_decide_reverifies_a_story_whose_upstream_output_changed(project):
    project.runner(writes("ok A"), writes("ok B"))
    assert project.story("A") and project.story("B")
    assert project.decide("B") == ("none", "up to date")
    (project.root / "out/A.txt").write_text("ok A, better")
    assert project.decide("A")[0] == "verify"
    project.runner()
    assert project.story("A")  # its gates pass: re-stamped with the new output, no agent called
    assert project.decide("B") == ("verify", "upstream output changed: A")


# ------------------------------------------------------------ the story action


def test_a_story_that_passes_on_the_first_attempt_is_stamped_done(project, capsys):
    fake = project.runner(writes("ok A", turns=3, cost=0.02))
    assert project.story("A")
    assert capsys.readouterr().out.splitlines() == [
        "A: building (no stamp yet)",
        f"A: attempt 1, builder on {HAIKU}",
        "A: gates: test ok, secrets ok",
        "A: done (1 agent call(s), $0.0200)",
    ]
    (task,) = fake.tasks
    assert (task.role, task.attempt, task.model) == ("builder", 1, HAIKU)
    assert "## The failure" not in task.prompt
    assert task.prompt_file.read_text() == task.prompt and task.prompt_file.name == "A.1.builder.md"
    assert task.budget.max_turns == 50
    record = project.record("A")
    assert (record["by"], record["mode"], record["cause"], record["cost_usd"], record["models"]) == ("agent", "build", "no stamp yet", 0.02, [HAIKU])
    assert [c["turns"] for c in record["calls"]] == [3]
    assert project.status("A") == "done"
    assert [e["event"] for e in map(json.loads, (project.root / "build/events.jsonl").read_text().splitlines())] == [
        "story_started", "attempt_started", "attempt_finished", "gates", "story_done"]


def test_a_failed_attempt_is_fixed_on_the_second_with_the_gate_output(project):
    fake = project.runner(writes("bad"), writes("ok A"))
    assert project.story("A")
    first, second = fake.tasks
    assert "## The failure" in second.prompt and "broken: A.txt" in second.prompt
    assert (second.attempt, second.model) == (2, HAIKU)
    assert [c["attempt"] for c in project.record("A")["calls"]] == [1, 2]


def test_a_story_that_fails_every_attempt_climbs_the_ladder_and_is_blocked(project, capsys):
    fake = project.runner(writes("bad"), writes("bad"), writes("bad"))
    assert not project.story("A")
    assert [t.model for t in fake.tasks] == [HAIKU, HAIKU, SONNET]  # the compiled ladder: the third attempt a model up
    assert capsys.readouterr().out.splitlines()[-1] == "A: BLOCKED after 3 attempts, needs human review"
    (blocked,) = project.events("story_blocked")
    assert blocked["attempts"] == 3 and blocked["summary"] == "test failed: broken: A.txt"
    assert blocked["reason"] == "3 attempt(s) failed; last failure: test failed: broken: A.txt"
    assert project.status("A") == "blocked"
    assert project.record("A") is None  # no stamp: the next run tries again


def test_one_attempt_allowed_blocks_after_it(tmp_path):
    project = Project(tmp_path / "repo", config="max_attempts = 1")
    fake = project.runner(writes("bad"))
    assert not project.story("A")
    assert len(fake.tasks) == 1
    assert project.events("story_blocked")[0]["attempts"] == 1


def test_an_agent_that_stops_before_finishing_uses_its_attempt(project):
    fake = project.runner(says("", finished=False, stop="max_turns", turns=5), writes("ok A"))
    assert project.story("A")
    assert "the agent stopped before finishing (max_turns)" in fake.tasks[1].prompt


def test_an_api_error_is_asked_again_and_costs_no_attempt(project, capsys):
    fake = project.runner(api_error, writes("ok A"))
    assert project.story("A")
    assert "A: the builder's call failed (529 overloaded); asking again, 2 of 3" in capsys.readouterr().out
    assert [(t.attempt, t.transcript.name) for t in fake.tasks] == [(1, "A.1.builder.jsonl"), (1, "A.1.builder.retry1.jsonl")]
    assert "## The failure" not in fake.tasks[1].prompt  # an HTTP error is no failure to fix


def test_an_api_that_keeps_failing_puts_the_story_back_to_todo(project, capsys):
    project.runner(api_error, api_error, api_error)
    assert not project.story("A")
    assert "A: the model API failed 3 times in a row: 529 overloaded" in capsys.readouterr().err
    assert project.status("A") == "todo"
    assert project.events("story_failed")[-1]["reason"] == "the model API failed 3 times in a row: 529 overloaded"
    assert project.events("story_blocked") == []


def test_the_reviewer_approves_with_its_last_line(project):
    fake = project.runner(writes("ok R"), says("Looks right.\nVERDICT: APPROVE"))
    assert project.story("R")
    assert [(t.role, t.model) for t in fake.tasks] == [("builder", SONNET), ("reviewer", SONNET)]
    assert fake.tasks[1].transcript.name == "R.1.reviewer1.jsonl"


def test_a_reviewer_rejection_counts_as_an_attempt(project):
    fake = project.runner(writes("ok R"), says("Name it better.\nVERDICT: CHANGES_REQUESTED"), writes("ok R!"), says("VERDICT: APPROVE"))
    assert project.story("R")
    assert [(t.role, t.attempt) for t in fake.tasks] == [("builder", 1), ("reviewer", 1), ("builder", 2), ("reviewer", 2)]
    assert "The Reviewer requested changes:\nName it better." in fake.tasks[2].prompt


def test_a_reviewer_that_edits_is_a_rejection(project):
    def edits(task: AgentTask) -> AgentResult:
        (task.workspace / "out" / "R.txt").write_text("ok R, by the Reviewer")
        return AgentResult(True, "end_turn", text="VERDICT: APPROVE")

    fake = project.runner(writes("ok R"), edits, writes("ok R"), says("VERDICT: APPROVE"))
    assert project.story("R")
    assert "The Reviewer changed out/R.txt instead of only reading" in fake.tasks[2].prompt


@pytest.mark.parametrize(
    ("text", "finished", "ok"),
    [
        ("All good.\nVERDICT: APPROVE", True, True),
        ("  VERDICT: APPROVE  \n", True, True),
        ("VERDICT: APPROVE\nbut one more thing", True, False),  # quoted above the last line: no verdict
        ("VERDICT: CHANGES_REQUESTED", True, False),
        ("VERDICT: APPROVE", False, False),  # stopped before finishing
        ("", True, False),
    ],
)
def test_the_reviewers_verdict(text, finished, ok):
    assert approved(AgentResult(finished, "end_turn", text=text)) is ok


def test_a_spent_budget_blocks_before_the_next_attempt_and_says_which_limit(tmp_path):
    project = Project(tmp_path / "repo", config="max_turns = 4")
    fake = project.runner(writes("bad", turns=4))
    assert not project.story("A")
    assert len(fake.tasks) == 1
    (blocked,) = project.events("story_blocked")
    assert blocked["summary"] == "max_turns = 4 turns used up; last failure: test failed: broken: A.txt"
    assert blocked["failure"].startswith("max_turns = 4 turns used up (the story's budget; raise [runner] max_turns to allow more). Last failure: $ ")
    assert blocked["attempts"] == 1


def test_each_call_gets_what_is_left_of_the_budget(tmp_path):
    project = Project(tmp_path / "repo", config="max_turns = 10\nbudget_usd = 1.0")
    fake = project.runner(writes("bad", turns=6, cost=0.25), writes("ok A"))
    assert project.story("A")
    assert [(t.budget.max_turns, t.budget.usd) for t in fake.tasks] == [(10, 1.0), (4, 0.75)]


def test_a_long_gate_output_is_condensed_by_the_validator(tmp_path):
    project = Project(tmp_path / "repo")
    (project.root / "noisy").write_text("")
    fake = project.runner(writes("bad"), says("out/A.txt must start with ok."), writes("ok A"))
    assert project.story("A")
    builder, validator, fix = fake.tasks
    assert (validator.role, validator.model, validator.attempt) == ("validator", HAIKU, 1)
    assert "noise noise" in validator.prompt
    assert fix.prompt.count("out/A.txt must start with ok.") == 1 and "The last lines of `" in fix.prompt


def test_a_reverify_whose_gates_pass_calls_no_agent(project, capsys):
    project.runner(writes("ok A"))
    assert project.story("A")
    (project.root / "out/A.txt").write_text("ok A, edited by hand")
    fake = project.runner()
    capsys.readouterr()
    assert project.story("A")
    assert capsys.readouterr().out.splitlines() == ["A: re-verifying (its files changed: out/A.txt)", "A: gates: test ok, secrets ok", "A: done (0 agent call(s), $0.0000)"]
    assert fake.tasks == []
    assert (project.record("A")["by"], project.record("A")["mode"]) == ("gates", "verify")


def test_a_reverify_whose_gates_fail_goes_to_the_fix_prompt_on_attempt_one(project):
    project.runner(writes("ok A"))
    assert project.story("A")
    (project.root / "out/A.txt").write_text("broken by hand")
    fake = project.runner(writes("ok A"))
    assert project.story("A")
    (task,) = fake.tasks
    assert task.attempt == 1 and "## The failure" in task.prompt


def test_a_story_done_by_hand_is_stamped_not_run(project, capsys):
    tasks = project.root / "docs/tasks/tasks.json"
    tasks.write_text(tasks.read_text().replace('"todo"', '"done"', 1))
    project.compile()
    (project.root / "out").mkdir()
    (project.root / "out/A.txt").write_text("ok A, by a person")
    fake = project.runner()
    assert project.story("A")
    assert capsys.readouterr().out == "A: done by hand; stamped, not run\n"
    assert fake.tasks == [] and project.record("A")["by"] == "hand"


def test_an_integration_culprit_is_rebuilt_with_the_failure_from_attempt_one(project):
    run = load_run(str(project.root), PLAN)
    fake = project.runner(writes("ok A"))
    story = run.stories["A"]
    assert StoryRun(run, story, run.upstream(story), "build", failure="the check failed", cause="it broke X").go()
    (task,) = fake.tasks
    assert task.attempt == 1 and "## The failure" in task.prompt and "the check failed" in task.prompt


def test_the_runner_is_made_once_per_run_not_per_call(project, monkeypatch):
    made = []

    def make_runner(root, plan):
        made.append(root)
        return FakeRunner(writes("bad"), writes("ok A"), writes("ok B"))

    monkeypatch.setattr(run_module, "make_runner", make_runner)
    assert project.story("A") and project.story("B")
    assert len(made) == 1


def test_a_stopped_run_starts_no_story(project, capsys):
    load_run(str(project.root), PLAN).stop("spend limit reached")
    fake = project.runner()
    assert not project.story("A")
    assert capsys.readouterr().out == "A: not started, the run is stopping\n"
    assert fake.tasks == [] and project.status("A") == "todo"
