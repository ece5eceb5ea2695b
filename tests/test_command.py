"""The command runner's reviewer protocol, end to end: `doit` in a temporary git repository.

One agent script plays both roles, told which by `{role}` in its argv and by
STORYC_ROLE; as Reviewer it prints its verdict as the last line of its output.
Every call is logged to calls.jsonl beside the script, so the tests assert on
what really ran and what each call was given.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from storyc_tests import IGNORE, TASKS, Agent, Repo

from storyc import api
from storyc.runners.agents.base import AgentTask, Budget
from storyc.runners.agents.command import CommandRunner, fill

AGENT = r'''
import json, os, sys
role, prompt_file = sys.argv[1:3]
here = os.path.dirname(os.path.abspath(__file__))
behaviour = json.load(open(os.path.join(here, "behaviour.json")))
prompt = open(prompt_file, encoding="utf-8").read()
with open(os.path.join(here, "calls.jsonl"), "a") as log:
    log.write(json.dumps({"role": role, "env_role": os.environ["STORYC_ROLE"], "story": os.environ["STORYC_STORY"],
                          "attempt": int(os.environ["STORYC_ATTEMPT"]), "first_line": prompt.splitlines()[0],
                          "asked_to_say_please": "say please" in prompt}) + "\n")
story = os.environ["STORYC_STORY"]
if role == "builder":
    os.makedirs("out", exist_ok=True)
    with open(f"out/{story}.txt", "w") as f:
        f.write(f"ok {story}" + (" please" if "say please" in prompt else ""))
else:
    text = open(f"out/{story}.txt").read()
    print(f"reviewing out/{story}.txt:", text)
    print("some progress on stderr", file=sys.stderr, flush=True)
    if behaviour.get("reviewer_edits"):
        with open(f"out/{story}.txt", "a") as f:
            f.write(" (tidied by the reviewer)")
    if "please" in text or behaviour.get("always_approve"):
        print("VERDICT: APPROVE")
        if behaviour.get("then_chatter"):
            print("tokens used: 1234")
    else:
        print("VERDICT: CHANGES_REQUESTED")
        print("1. say please")
'''

CHECK = '''
import pathlib, sys
text = pathlib.Path("out/A.txt").read_text() if pathlib.Path("out/A.txt").exists() else ""
sys.exit(0 if text.startswith("ok") else 1)
'''


class Project(Repo):
    """Story A (size M: the policy asks for a Reviewer) and B, which depends on it."""

    def __init__(self, tmp_path: Path, behaviour: dict, max_attempts: int = 3, isolation: str = "worktree"):
        super().__init__(tmp_path / "repo")
        self.agent = Agent(tmp_path / "agent", AGENT, behaviour)
        stories = [
            {"id": "A", "title": "Polite", "size": "M", "files": ["out/A.txt"], "acceptance_criteria": ["out/A.txt is polite"], "status": "todo"},
            {"id": "B", "title": "After", "size": "XS", "depends_on": ["A"], "files": ["out/B.txt"], "status": "todo"},
        ]
        self.write(TASKS, json.dumps({"project": "Reviewed", "stories": stories}, indent=2) + "\n")
        self.write("check.py", CHECK)
        self.write("storyc.toml", f"""
[gates]
test = "{sys.executable} check.py"

[runner]
kind = "command"
argv = {self.agent.argv("{role}", "{prompt_file}")}
max_attempts = {max_attempts}

[execution]
isolation = "{isolation}"
""")
        self.write(".gitignore", IGNORE)
        self.commit()
        api.build(self.root)

    def calls(self, story: str = "A") -> list[dict]:
        return [c for c in self.agent.calls() if c["story"] == story]


@pytest.mark.parametrize("isolation", ["worktree", "none"])
def test_the_reviewer_asks_for_changes_the_builder_makes_them_and_the_reviewer_approves(tmp_path: Path, isolation: str) -> None:
    project = Project(tmp_path, {}, isolation=isolation)
    result = project.doit()
    assert result.returncode == 0, result.stdout + result.stderr
    calls = project.calls()
    assert [(c["role"], c["attempt"]) for c in calls] == [("builder", 1), ("reviewer", 1), ("builder", 2), ("reviewer", 2)]
    assert all(c["role"] == c["env_role"] for c in calls)  # {role} in argv and STORYC_ROLE agree
    # The role's instructions lead the prompt file: a CLI agent has no other channel for them.
    assert {c["role"]: c["first_line"] for c in calls} == {
        "builder": "You are the Builder agent of storyc, implementing one user story of Reviewed.",
        "reviewer": "You are the Reviewer agent of storyc, reviewing one user story's change in Reviewed.",
    }
    assert calls[2]["asked_to_say_please"]  # the second Builder got the Reviewer's request
    assert (project.root / "out/A.txt").read_text() == "ok A please"
    assert project.statuses() == {"A": "done", "B": "done"}
    assert (project.root / "out/B.txt").read_text() == "ok B"
    record = project.record("A")
    assert [c["role"] for c in record["calls"]] == ["builder", "reviewer", "builder", "reviewer"]


def test_a_verdict_that_is_not_the_last_line_approves_nothing(tmp_path: Path) -> None:
    project = Project(tmp_path, {"always_approve": True, "then_chatter": True}, max_attempts=2)
    result = project.doit("--continue")
    assert result.returncode != 0
    assert [c["role"] for c in project.calls()] == ["builder", "reviewer", "builder", "reviewer"]
    assert project.statuses() == {"A": "blocked", "B": "todo"}  # its dependent does not run
    assert not (project.root / "out/A.txt").exists()  # nothing reached the working tree
    assert "tokens used: 1234" in (project.root / ".ai/PROGRESS.md").read_text()


def test_a_reviewer_that_edits_files_does_not_get_them_in_unchecked(tmp_path: Path) -> None:
    project = Project(tmp_path, {"always_approve": True, "reviewer_edits": True}, max_attempts=2)
    result = project.doit("--continue")
    assert result.returncode != 0
    assert [c["role"] for c in project.calls()] == ["builder", "reviewer", "builder", "reviewer"]
    assert project.statuses()["A"] == "blocked"
    assert not (project.root / "out/A.txt").exists()
    assert "The Reviewer changed out/A.txt instead of only reading" in (project.root / ".ai/PROGRESS.md").read_text()


# ------------------------------------------------------------ the runner itself


def agent_task(tmp_path: Path, budget: Budget = Budget(), story_id: str = "S-1", model: str = "m") -> AgentTask:
    return AgentTask(story_id, "builder", model, 1, "sys", "prompt", tmp_path / "ws", budget, tmp_path / "t.jsonl", tmp_path / "p.md")


def test_command_transcript_is_redacted(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "ws").mkdir()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-topsecret")
    runner = CommandRunner([sys.executable, "-c", "import os; print('cat .env:', 'ANTHROPIC_API_KEY=' + os.environ['ANTHROPIC_API_KEY'])"], 30)
    result = runner.run(agent_task(tmp_path))
    assert "topsecret" not in (tmp_path / "t.jsonl").read_text()
    assert "topsecret" not in result.text


def test_command_placeholders_are_filled_in_one_pass(tmp_path: Path) -> None:
    filled = fill(["--id={story_id}", "--model={model}"], agent_task(tmp_path, story_id="{model}", model="claude-x"))
    assert filled == ["--id={model}", "--model=claude-x"]
