"""The command runner's reviewer protocol, end to end: `doit` in a temporary git repository.

One agent script plays both roles, told which by `{role}` in its argv and by
STORYC_ROLE; as Reviewer it prints its verdict as the last line of its output.
Every call is logged to calls.jsonl beside the script, so the tests assert on
what really ran and what each call was given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storyc import api

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


class Project:
    """Story A (size M: the policy asks for a Reviewer) and B, which depends on it."""

    def __init__(self, tmp_path: Path, behaviour: dict, max_attempts: int = 3, isolation: str = "worktree"):
        self.tools = tmp_path / "agent"
        self.tools.mkdir()
        (self.tools / "agent.py").write_text(AGENT)
        (self.tools / "behaviour.json").write_text(json.dumps(behaviour))
        self.root = root = tmp_path / "repo"
        stories = [
            {"id": "A", "title": "Polite", "size": "M", "files": ["out/A.txt"], "acceptance_criteria": ["out/A.txt is polite"], "status": "todo"},
            {"id": "B", "title": "After", "size": "XS", "depends_on": ["A"], "files": ["out/B.txt"], "status": "todo"},
        ]
        self.write("docs/tasks/tasks.json", json.dumps({"project": "Reviewed", "stories": stories}, indent=2) + "\n")
        self.write("check.py", CHECK)
        self.write("storyc.toml", f"""
[gates]
test = "{sys.executable} check.py"

[runner]
kind = "command"
argv = ["{sys.executable}", "{self.tools / 'agent.py'}", "{{role}}", "{{prompt_file}}"]
max_attempts = {max_attempts}

[execution]
isolation = "{isolation}"
""")
        self.write(".gitignore", "build/\n.doit.db*\n__pycache__/\n.ai/\ndodo.py\n")
        env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
            subprocess.run(["git", *args], cwd=root, check=True, env=env)
        api.build(root)

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def doit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "doit", *args], cwd=self.root, capture_output=True, text=True, timeout=120)

    def calls(self, story: str = "A") -> list[dict]:
        lines = (self.tools / "calls.jsonl").read_text().splitlines()
        return [c for c in map(json.loads, lines) if c["story"] == story]

    def statuses(self) -> dict[str, str]:
        return {s["id"]: s["status"] for s in json.loads((self.root / "docs/tasks/tasks.json").read_text())["stories"]}


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
    record = json.loads((project.root / "build/stamps/A.json").read_text())
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
