"""Weeks of use, played through the real commands on real files.

A small Python project in a temporary git repository, its own gates (compileall,
unittest), and a fake agent run by the `command` runner: it copies the story's
solution (kept outside the repository, as a model's knowledge would be) into its
workspace and logs every call. Each step reads the files as the last run left
them on disk, changes them as a person would, writes them back and runs
`storyc` / `doit` again. Nothing is handed to storyc from memory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from storyc_tests import IGNORE, Agent, Repo

AGENT = r'''
import json, os, shutil, sys
story, attempt, prompt_file = sys.argv[1:4]
here = os.path.dirname(os.path.abspath(__file__))
source = os.path.join(here, "solutions", story)
for dirpath, _, names in os.walk(source):
    for name in names:
        rel = os.path.relpath(os.path.join(dirpath, name), source)
        os.makedirs(os.path.dirname(rel) or ".", exist_ok=True)
        shutil.copyfile(os.path.join(dirpath, name), rel)
prompt = open(prompt_file, encoding="utf-8").read()
with open(os.path.join(here, "calls.jsonl"), "a") as log:
    log.write(json.dumps({"story": story, "attempt": int(attempt), "fix": "## The failure" in prompt}) + "\n")
'''

SOLUTIONS = {
    "N-1": {
        "src/notes/model.py": "class Note:\n    def __init__(self, title: str, body: str = '') -> None:\n        self.title, self.body = title, body\n",
        "tests/test_model.py": "import unittest\nfrom notes.model import Note\n\n\nclass T(unittest.TestCase):\n    def test_note(self):\n        self.assertEqual(Note('a').title, 'a')\n",
    },
    "N-2": {
        "src/notes/search.py": "def search(notes, word):\n    return [n for n in notes if word in n.title or word in n.body]\n",
        "tests/test_search.py": "import unittest\nfrom notes.model import Note\nfrom notes.search import search\n\n\nclass T(unittest.TestCase):\n    def test_search(self):\n        self.assertEqual(len(search([Note('cat'), Note('dog')], 'cat')), 1)\n",
    },
    "N-3": {
        "src/notes/export.py": "def export(notes):\n    return '\\n'.join(f'# {n.title}' for n in notes)\n",
        "tests/test_export.py": "import unittest\nfrom notes.model import Note\nfrom notes.export import export\n\n\nclass T(unittest.TestCase):\n    def test_export(self):\n        self.assertEqual(export([Note('a')]), '# a')\n",
    },
    "N-4": {
        "src/notes/tags.py": "def tags(note):\n    return sorted({w[1:] for w in note.body.split() if w.startswith('#')})\n",
        "tests/test_tags.py": "import unittest\nfrom notes.model import Note\nfrom notes.tags import tags\n\n\nclass T(unittest.TestCase):\n    def test_tags(self):\n        self.assertEqual(tags(Note('a', '#x y #z')), ['x', 'z'])\n",
    },
    "N-5": {
        "src/notes/ranked.py": "from notes.search import search\n\n\ndef ranked(notes, word):\n    return sorted(search(notes, word), key=lambda n: n.title)\n",
        "tests/test_ranked.py": "import unittest\nfrom notes.model import Note\nfrom notes.ranked import ranked\n\n\nclass T(unittest.TestCase):\n    def test_ranked(self):\n        self.assertEqual([n.title for n in ranked([Note('cb'), Note('ca')], 'c')], ['ca', 'cb'])\n",
    },
}


def story(sid: str, title: str, deps: list[str]) -> dict:
    return {
        "id": sid, "title": title, "description": f"As a note taker I want {title.lower()}.", "size": "S",
        "depends_on": deps, "files": sorted(SOLUTIONS[sid]), "acceptance_criteria": [f"{title} works"], "status": "To Do",
    }


SPRINT_1 = """# Sprint 1: Notes foundations

## Stories

| ID | Title | Size |
| --- | --- | --- |
| N-1 | Note model | S |
| N-2 | Search | S |
| N-3 | Export | S |
"""


class Project(Repo):
    """The user's repository, and the commands they type."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path / "notes")
        self.agent = Agent(tmp_path / "agent", AGENT)
        self.home = self.agent.folder
        for sid, files in SOLUTIONS.items():
            for rel, text in files.items():
                path = self.home / "solutions" / sid / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        self.write("src/notes/__init__.py", "")
        self.write("tests/__init__.py", "import sys\nfrom pathlib import Path\n\nsys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))\n")
        tasks = {"project": "Notes", "statuses": ["To Do", "In Progress", "Done", "Blocked"], "owner": {"team": "core"},
                 "stories": [story("N-1", "Note model", []), story("N-2", "Search", ["N-1"]), story("N-3", "Export", ["N-1"])]}
        self.write("docs/tasks/tasks.json", json.dumps(tasks, indent=4, ensure_ascii=False) + "\n")
        self.write("docs/sprints/sprint-001.md", SPRINT_1)
        py = sys.executable
        self.write("storyc.toml", f"""[gates]
typecheck = "{py} -m compileall -q src"
test = "{py} -m unittest discover -s tests -t . -q"
lint = ""
integration = ""
e2e = ""

[runner]
kind = "command"
argv = {self.agent.argv("{story_id}", "{attempt}", "{prompt_file}")}
""")
        self.write(".gitignore", IGNORE)
        self.commit("before sprint 1")

    def edit_tasks(self, edit) -> None:
        """As a person edits tasks.json: the file on disk, as the last run left it."""
        self.edit_json(edit)

    def storyc(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = super().storyc(*args)
        assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
        return result

    def doit(self, *args: str, ok: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = super().doit(*args, timeout=300, env=env)
        assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
        if ok:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def calls(self) -> list[str]:
        """The agent calls since the last look, as `story` or `story (fix)`; the log is emptied."""
        calls = self.agent.calls()
        self.agent.reset()
        return sorted(c["story"] + (" (fix)" if c["fix"] else "") for c in calls)

    def targets(self) -> list[str]:
        out = self.doit("list").stdout
        return sorted(line.split()[0] for line in out.splitlines() if re.match(r"N-\d", line))

    def causes(self) -> dict[str, str]:
        return {e["story"]: e["cause"] for e in self.events("story_started")}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def test_weeks_of_a_sprint_and_the_next_one(project: Project) -> None:
    p = project
    before = p.read("docs/tasks/tasks.json")

    # Monday: the sprint is compiled and run.
    assert "3 stories in 2 waves (0 done, 3 open)" in p.storyc("compile").stdout
    assert p.targets() == ["N-1", "N-2", "N-3"]
    p.doit("-n", "4")
    assert p.calls() == ["N-1", "N-2", "N-3"]
    assert p.statuses() == {"N-1": "Done", "N-2": "Done", "N-3": "Done"}
    assert p.read("docs/tasks/tasks.json") == before.replace('"status": "To Do"', '"status": "Done"')  # only the statuses moved
    assert "3 of 3 stories done" in p.storyc("status").stdout

    # The sprint is done; the plan still has every story, and a new doit runs nothing.
    second = p.doit()
    assert "docs/tasks/tasks.json changed since the last compile; recompiling" in second.stderr  # the run wrote the statuses
    assert "3 stories in 2 waves (3 done, 0 open)" in second.stderr
    assert "▶" not in second.stdout and p.calls() == []
    assert p.targets() == ["N-1", "N-2", "N-3"]
    third = p.doit()
    assert "recompiling" not in third.stderr and "▶" not in third.stdout
    assert "3 of 3 stories done" in p.storyc("status").stdout
    assert "Stories done: 3 of 3" in p.read("build/SPRINT_SUMMARY.md")

    # Tuesday: the product owner sharpens a done story's criteria; `storyc compile && doit`.
    p.edit_tasks(lambda d: d["stories"][2]["acceptance_criteria"].append("Export ends without a blank line"))
    p.storyc("compile")
    run = p.doit("-n", "4")
    assert p.calls() == ["N-3"]
    assert p.causes()["N-3"] == "its spec changed"
    assert p.statuses()["N-3"] == "Done"
    assert "N-3 In Progress" not in run.stdout  # (the status went through In Progress: see the events)
    assert [e["story"] for e in map(json.loads, p.read("build/events.jsonl").splitlines()) if e["event"] == "story_done"][-1] == "N-3"

    # ... and rewords the description of the first story, without compiling: doit recompiles.
    p.edit_tasks(lambda d: d["stories"][0].update(description="As a note taker I want a note with a title and a body."))
    run = p.doit("-n", "4")
    assert "recompiling" in run.stderr
    assert p.calls() == ["N-1"]  # same code out, so N-2 and N-3 stay as they are
    assert "▶ N-2" not in run.stdout and "▶ N-3" not in run.stdout

    # Wednesday: a prompt template of the project's own; every story it feeds is rebuilt.
    template = p.root / ".storyc/templates/prompts/builder.md.j2"
    template.parent.mkdir(parents=True)
    from storyc.templates.render import PACKAGE_TEMPLATES  # the packaged template, copied as the README says

    template.write_text((PACKAGE_TEMPLATES / "prompts/builder.md.j2").read_text() + "\nKeep functions under ten lines.\n")
    p.doit("-n", "4")
    assert p.calls() == ["N-1", "N-2", "N-3"]
    assert p.doit().stdout.count("▶") == 0 and p.calls() == []

    # Thursday: a passing hand edit is re-verified by the gates, with no agent.
    export = p.root / "src/notes/export.py"
    export.write_text(export.read_text() + "# reviewed by hand\n")
    run = p.doit()
    assert "N-3: re-verifying (its files changed: src/notes/export.py)" in run.stdout
    assert p.calls() == []
    assert p.doit().stdout.count("▶") == 0

    # A breaking hand edit: the gates fail, the fix agent repairs it.
    model = p.root / "src/notes/model.py"
    model.write_text(model.read_text() + "def broken(:\n")
    run = p.doit()
    assert "N-1: gates: typecheck FAILED" in run.stdout
    assert p.calls() == ["N-1 (fix)"]
    assert "broken" not in model.read_text()
    assert p.statuses()["N-1"] == "Done"

    # Friday: a new story joins the sprint (tasks.json and the sprint's table).
    p.edit_tasks(lambda d: d["stories"].append(story("N-4", "Tags", ["N-1"])))
    p.write("docs/sprints/sprint-001.md", p.read("docs/sprints/sprint-001.md") + "| N-4 | Tags | S |\n")
    p.doit("-n", "4")
    assert p.calls() == ["N-4"]
    assert p.statuses()["N-4"] == "Done"

    # A story is taken out of the sprint: no longer a target, its status as it was, nothing runs.
    p.write("docs/sprints/sprint-001.md", p.read("docs/sprints/sprint-001.md").replace("| N-3 | Export | S |\n", ""))
    run = p.doit()
    assert p.targets() == ["N-1", "N-2", "N-4"]
    assert not (p.root / "build/specs/N-3.md").exists()
    assert p.statuses()["N-3"] == "Done" and p.calls() == []

    # Next week: sprint 2 builds on sprint 1's done stories.
    p.edit_tasks(lambda d: d["stories"].append(story("N-5", "Ranked search", ["N-2"])))
    p.write("docs/sprints/sprint-002.md", "# Sprint 2: Finding notes\n\n## Stories\n\n- N-5 Ranked search\n")
    run = p.doit("-n", "4")
    assert "recompiling" in run.stderr
    assert p.calls() == ["N-5"]
    assert p.targets() == ["N-5"]
    assert set(p.statuses().values()) == {"Done"}
    assert "1 of 1 story done" in p.storyc("status").stdout

    # Someone deletes the build folder: one line, then a compile adopts what is done.
    shutil.rmtree(p.root / "build")
    for args in (["list"], ["info", "N-5"], []):
        gone = p.doit(*args, ok=False)
        assert gone.returncode == 2
        assert gone.stderr.strip() == "storyc: no compiled plan: run `storyc compile` first"
    p.storyc("compile")
    run = p.doit()
    assert "N-5: done by hand; stamped, not run" in run.stdout
    assert p.calls() == []
    assert p.doit().stdout.count("▶") == 0


def test_a_missing_key_stops_only_what_needs_a_model(project: Project) -> None:
    p = project
    p.storyc("compile")
    p.doit("-n", "4")
    assert p.calls() == ["N-1", "N-2", "N-3"]
    p.doit()  # the run's statuses recompiled in
    # The team moves to Claude through the SDK, on a machine with no key.
    config = p.read("storyc.toml")
    p.write("storyc.toml", config.replace('kind = "command"', 'kind = "anthropic"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    nothing = p.doit(env=env)
    assert "▶" not in nothing.stdout, nothing.stdout + nothing.stderr  # nothing stale: no key needed
    p.edit_tasks(lambda d: d["stories"][1]["acceptance_criteria"].append("Search ignores case"))
    tasks = p.read("docs/tasks/tasks.json")
    stopped = p.doit("-n", "4", ok=False, env=env)
    assert stopped.returncode != 0
    assert "storyc: cannot run the anthropic runner: no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN" in stopped.stderr
    assert p.read("docs/tasks/tasks.json") == tasks  # N-2 still Done, nothing else touched
    # Back to the agent they have: the edited story is built, and only it.
    p.write("storyc.toml", config)
    p.doit("-n", "4")
    assert p.calls() == ["N-2"]


def test_a_project_without_a_gitignore_gets_only_its_agents_work(tmp_path: Path) -> None:
    p = Project(tmp_path)
    (p.root / ".gitignore").unlink()
    p.git("add", "-A")
    p.git("commit", "-qm", "no .gitignore")
    p.storyc("compile")
    p.doit("-n", "4")
    assert p.calls() == ["N-1", "N-2", "N-3"]  # no merge conflict over the gates' .pyc files, no second attempt
    for patch in (p.root / "build/stamps").glob("*.patch"):
        assert "__pycache__" not in patch.read_text() and ".pyc" not in patch.read_text(), patch.name
    untracked = p.git("status", "--porcelain", "-uall")
    stories = {rel for files in SOLUTIONS.values() for rel in files}
    storycs = ("build/", "dodo.py", ".ai/", "docs/tasks/", ".doit.db", "__pycache__/dodo.")  # storyc's and doit's own
    for line in untracked.splitlines():
        path = line[3:]
        assert path in stories or path.startswith(storycs), line
