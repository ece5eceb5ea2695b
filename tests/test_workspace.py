"""runners.workspace: a story's patch into only what its agent changed: gate litter stays out, a conflict says why.

A temporary git repository whose .gitignore does not list `__pycache__/`, with the gates
a Python project has (`python -m compileall -q src`, a test command that leaves a cache
folder, coverage data and a report behind), run by `storyc compile` and `doit -n 2` with
the command runner: the agent is a small script that writes what `behaviour.json` says
for its story and attempt, and logs every call with the files it found on starting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from storyc_tests import TASKS, Agent, Repo

from storyc import api

AGENT = r'''
import json, os, sys, time
story, attempt = sys.argv[1:3]
here = os.path.dirname(os.path.abspath(__file__))
plan = json.load(open(os.path.join(here, "behaviour.json"))).get(story, {})
seen = sorted(os.path.relpath(os.path.join(d, f), ".") for d, subs, files in os.walk(".") if not subs.__setitem__(slice(None), [s for s in subs if s != ".git"]) for f in files)
time.sleep(plan.get("sleep", 0))
for path, text in {**plan.get("write", {}), **plan.get("write_" + attempt, {})}.items():
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
with open(os.path.join(here, "calls.jsonl"), "a") as f:
    f.write(json.dumps({"story": story, "attempt": int(attempt), "seen": seen}) + "\n")
'''

# A test runner as pytest and coverage behave: it imports the code (bytecode), keeps a cache folder
# that does not ignore itself, writes coverage data and a report. Any module holding BROKEN fails it.
FAKE_PYTEST = '''
import pathlib, sys
sys.path.insert(0, "src")
import pkg
for name in ("a", "b"):
    if pathlib.Path(f"src/pkg/{name}.py").exists():
        __import__(f"pkg.{name}")
pathlib.Path(".testcache/v").mkdir(parents=True, exist_ok=True)
pathlib.Path(".testcache/v/lastfailed").write_text("{}")
pathlib.Path(".coverage").write_text("coverage data")
pathlib.Path("reports").mkdir(exist_ok=True)
pathlib.Path("reports/junit.xml").write_text("<testsuite/>")
if pathlib.Path("dist").is_dir():  # a build output folder: the gate leaves its own file there too
    pathlib.Path("dist/gate.js").write_text("built by the gate")
broken = [p.name for p in pathlib.Path("src/pkg").glob("*.py") if "BROKEN" in p.read_text()]
print("broken:", ", ".join(broken) or "none")
sys.exit(1 if broken else 0)
'''

LITTER = ("__pycache__", ".pyc", ".testcache", ".coverage", "reports/", "dist/gate.js")


class Project(Repo):
    """src/pkg committed, two stories A and B that each add a module to it; compiled."""

    def __init__(self, tmp_path: Path, behaviour: dict, *, files: dict[str, list[str]] | None = None, max_attempts: int = 3,
                 gitignore: str = "build/\n.doit.db*\n"):  # what `storyc init` proposes, less __pycache__/
        super().__init__(tmp_path / "repo")
        self.agent = Agent(tmp_path / "agent", AGENT, behaviour)
        files = files or {"A": ["src/pkg/a.py"], "B": ["src/pkg/b.py"]}
        stories = [{"id": sid, "title": f"Story {sid}", "size": "XS", "status": "todo", "files": f} for sid, f in files.items()]
        self.write(TASKS, json.dumps({"project": "P", "stories": stories}, indent=2) + "\n")
        self.write("docs/sprints/sprint-001.md", "# Sprint 1: Patches\n\n## Stories\n\n" + "".join(f"- {s}\n" for s in files))
        self.write("src/pkg/__init__.py", "VERSION = 1\n")
        self.write("tools/fake_pytest.py", FAKE_PYTEST)
        self.write("storyc.toml", f"""
[gates]
typecheck = {json.dumps(f"{sys.executable} -m compileall -q src")}
test = {json.dumps(f"{sys.executable} tools/fake_pytest.py")}

[runner]
kind = "command"
argv = {self.agent.argv("{story_id}", "{attempt}")}
max_attempts = {max_attempts}

[execution]
isolation = "worktree"
""")
        self.write(".gitignore", gitignore)
        self.commit()
        api.build(self.root)

    def doit(self, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[override]
        # As a user's shell has it: bytecode is written (a test environment may turn that off).
        return super().doit(*args, env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})

    def calls(self, story: str) -> list[dict]:
        return [c for c in self.agent.calls() if c["story"] == story]

    def status_paths(self) -> list[str]:
        """Every path `git status` shows in the user's tree, untracked folders opened up."""
        out = self.git("status", "--porcelain", "-z", "--untracked-files=all")
        return sorted(entry[3:] for entry in out.split("\0") if entry)


def litter_in(paths) -> list[str]:
    return [p for p in paths if any(mark in p for mark in LITTER)]


def test_what_the_gates_write_never_enters_a_patch_nor_makes_a_conflict(tmp_path: Path) -> None:
    # compileall's .pyc files went into both stories' patches: both added
    # src/pkg/__pycache__/__init__.cpython-311.pyc, the second was a "merge conflict" with no reason
    # printed, ran again and paid a second agent call; the .pyc files landed in the user's tree.
    project = Project(tmp_path, {
        "A": {"write": {"src/pkg/a.py": "A = 1\n"}, "sleep": 0.5},
        "B": {"write": {"src/pkg/b.py": "B = 2\n"}, "sleep": 0.5},
    })
    result = project.doit("-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "merge conflict" not in result.stdout + result.stderr
    assert not project.events("merge_conflict")
    for sid in "AB":
        assert len(project.record(sid)["calls"]) == 1, result.stdout
        patch = (project.root / "build/stamps" / f"{sid}.patch").read_text(errors="replace")
        files = [line.split(" b/", 1)[1] for line in patch.splitlines() if line.startswith("diff --git ")]
        assert files == [f"src/pkg/{sid.lower()}.py"], patch
    # Home: the stories' modules, and none of the gates' files.
    assert (project.root / "src/pkg/a.py").read_text() == "A = 1\n" and (project.root / "src/pkg/b.py").read_text() == "B = 2\n"
    changed = project.status_paths()
    assert "src/pkg/a.py" in changed and "src/pkg/b.py" in changed
    # doit's own import of dodo.py writes __pycache__/dodo.*.pyc at the root: not a gate's (init proposes __pycache__/ for it).
    assert not litter_in(p for p in changed if not p.startswith("__pycache__/dodo.")), changed
    assert not list((project.root / "src").rglob("*.pyc"))


def test_a_second_attempt_starts_without_the_first_attempts_gate_litter(tmp_path: Path) -> None:
    # The fix agent found the last attempt's .pyc files, caches and reports in its worktree, as if
    # they were the story's own change; and they went home with the patch of the attempt that passed.
    # dist/ is ignored and the story's output: what the agent writes there is its own, the gate's is not.
    project = Project(tmp_path, {"A": {"write_1": {"src/pkg/a.py": "A = 'BROKEN'\n", "dist/a.js": "a()\n"}, "write_2": {"src/pkg/a.py": "A = 1\n"}}},
                      files={"A": ["src/pkg/a.py", "dist/**"]}, gitignore="build/\n.doit.db*\ndist/\n")
    result = project.doit("-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    first, second = project.calls("A")
    assert "src/pkg/a.py" not in first["seen"]
    assert {"src/pkg/a.py", "dist/a.js"} <= set(second["seen"])  # the agent's own work of attempt 1 is still there to fix
    assert not litter_in(second["seen"]), second["seen"]
    patch = (project.root / "build/stamps/A.patch").read_text(errors="replace")
    files = [line.split(" b/", 1)[1] for line in patch.splitlines() if line.startswith("diff --git ")]
    assert files == ["dist/a.js", "src/pkg/a.py"], patch
    assert (project.root / "src/pkg/a.py").read_text() == "A = 1\n" and (project.root / "dist/a.js").read_text() == "a()\n"
    assert not (project.root / "dist/gate.js").exists()
    assert len(project.record("A")["calls"]) == 2


def test_caches_an_agent_writes_itself_stay_out_of_its_patch(tmp_path: Path) -> None:
    # An agent that runs the tests itself (claude-code, aider) leaves bytecode and coverage data behind.
    project = Project(tmp_path, {"A": {"write": {"src/pkg/a.py": "A = 1\n", "src/pkg/__pycache__/a.cpython-311.pyc": "bytecode",
                                                 ".coverage": "data", ".pytest_cache/v/cache/nodeids": "[]"}}},
                      files={"A": ["src/pkg/a.py"]})
    result = project.doit("-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    patch = (project.root / "build/stamps/A.patch").read_text(errors="replace")
    assert [line.split(" b/", 1)[1] for line in patch.splitlines() if line.startswith("diff --git ")] == ["src/pkg/a.py"], patch
    assert not (project.root / ".coverage").exists() and not (project.root / "src/pkg/__pycache__").exists()


def test_a_real_merge_conflict_names_the_file_and_why(tmp_path: Path) -> None:
    # Both stories change the same line of src/pkg/__init__.py without saying so (no ordering edge):
    # the later one's patch does not apply. It used to re-run in silence.
    project = Project(tmp_path, {
        "A": {"write": {"src/pkg/a.py": "A = 1\n", "src/pkg/__init__.py": "VERSION = 2\n"}},
        "B": {"write": {"src/pkg/b.py": "B = 2\n", "src/pkg/__init__.py": "VERSION = 3\n"}, "sleep": 1.5},
    })
    result = project.doit("-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(ln for ln in result.stdout.splitlines() if "merge conflict" in ln)
    assert line.startswith("B: merge conflict: src/pkg/__init__.py: patch does not apply (hunk at line 1)"), result.stdout
    [event] = project.events("merge_conflict")
    assert event["story"] == "B" and event["files"] == ["src/pkg/__init__.py"] and "does not apply" in event["reason"]
    assert [c["attempt"] for c in project.calls("B")] == [1, 2]
    assert (project.root / "src/pkg/__init__.py").read_text() == "VERSION = 3\n"


# ---------------------------------------------------------------- storyc init: the ignore lines


def test_init_writes_a_gitignore_where_there_is_none(tmp_path: Path, run_cli) -> None:
    result = run_cli(["init"], tmp_path)
    assert result.code == 0, result.output
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert {"build/", ".doit.db*"} <= set(lines)
    assert "wrote .gitignore" in result.stdout


def test_init_leaves_a_users_gitignore_as_it_is_and_names_the_lines_to_add(tmp_path: Path, run_cli) -> None:
    mine = "node_modules/\n/build\n"  # build ignored already, in the user's own words; .doit.db* not
    (tmp_path / ".gitignore").write_text(mine)
    result = run_cli(["init"], tmp_path)
    assert result.code == 0, result.output
    assert (tmp_path / ".gitignore").read_text() == mine
    assert "kept  .gitignore" in result.stdout
    proposal = result.stdout.split("kept  .gitignore", 1)[1]
    assert ".doit.db*" in proposal and "build/" not in proposal, result.stdout


def test_init_says_nothing_more_when_the_gitignore_has_the_lines(tmp_path: Path, run_cli) -> None:
    (tmp_path / ".gitignore").write_text("build/\n.doit.db*\n__pycache__/\n")
    result = run_cli(["init"], tmp_path)
    assert "kept  .gitignore" in result.stdout and "add" not in result.stdout.split("kept  .gitignore", 1)[1], result.stdout
