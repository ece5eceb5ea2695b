"""A corpus of bad inputs: each is exit 2, one `error:` line, the right file and line,
a hint, no traceback, and the previous build/ and dodo.py left byte-for-byte as they were.

Every case starts from a GOOD repository that compiles, snapshots its output,
then writes one bad input. Expected lines are computed from the text written,
never hard-coded.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from storyc import api
from storyc.errors import StorycError

Repo = Run = Any  # conftest's classes, for annotations: a test module cannot import conftest

GOOD_TASKS: dict[str, Any] = {
    "version": 1,
    "project": "Mini",
    "stories": [
        {"id": "US-001", "title": "Accounts", "size": "S", "depends_on": [], "files": ["src/a.py"], "status": "done"},
        {"id": "US-002", "title": "Catalog", "size": "M", "depends_on": ["US-001"], "files": ["src/b.py"], "status": "todo"},
        {"id": "US-003", "title": "Cart", "size": "S", "depends_on": ["US-002"], "files": ["src/c.py"], "status": "todo"},
        {"id": "US-004", "title": "Checkout", "size": "S", "depends_on": [], "files": ["src/d.py"], "status": "todo"},
    ],
}

GOOD_SPRINT = """\
---
sprint: 1
name: Mini
---

# Sprint 1: Mini

## Stories in Scope

| Story  | Title   |
| ------ | ------- |
| US-002 | Catalog |
| US-003 | Cart    |

## Integration Points

| Integration Point | Stories Involved | Verification     |
| ----------------- | ---------------- | ---------------- |
| Catalog to Cart   | US-002, US-003   | Integration test |
"""

GOOD_CONFIG = """\
[gates]
test = "python -m pytest -q"
integration = "python -m pytest -q tests/integration"

[runner]
kind = "scripted"
max_attempts = 3
"""

TASKS = "docs/tasks/tasks.json"
SPRINT = "docs/sprints/sprint-001.md"

# `Repo` and `Run` in annotations are conftest's classes, reached through the fixtures `repo_at` and `good`.


def line_of(text: str, needle: str, nth: int = 1) -> int:
    start = -1
    for _ in range(nth):
        start = text.index(needle, start + 1)
    return text.count("\n", 0, start) + 1


@dataclass
class Expect:
    file: str  # path relative to the repository root
    line: int | None  # None: the error names the file but no line
    message: str  # regex matched at the start of the text after "error: "
    hint: str  # regex searched in the text after "hint: "
    sprint: str | None = None  # a sprint path given on the command line
    tag: str | None = None
    with_deps: bool = False
    check: Callable[[Repo, Run], None] | None = None  # further assertions on the output


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Repo], Expect]
    marks: tuple = field(default=())


CASES: list[Case] = []


def case(id: str, *marks: Any) -> Callable[[Callable[[Repo], Expect]], Callable[[Repo], Expect]]:
    def register(fn: Callable[[Repo], Expect]) -> Callable[[Repo], Expect]:
        CASES.append(Case(id, fn, marks))
        return fn

    return register


def tasks_with(mutate: Callable[[dict], Any]) -> dict:
    data = copy.deepcopy(GOOD_TASKS)
    mutate(data)
    return data


def story(data: dict, sid: str) -> dict:
    return next(s for s in data["stories"] if s["id"] == sid)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ tasks.json: syntax and encoding


@case("json-trailing-comma")
def _(r: Repo) -> Expect:
    text = dumps(GOOD_TASKS).replace('"status": "todo"\n    }\n  ]', '"status": "todo",\n    }\n  ]')
    assert text.count('"todo",\n    }') == 1
    r.tasks(text)
    return Expect(TASKS, r.line_of(TASKS, '"todo",\n    }'), r"tasks\.json is not valid JSON: .*trailing comma", r"remove the comma")


@case("json-trailing-comma-in-a-list")
def _(r: Repo) -> Expect:
    text = dumps(GOOD_TASKS).replace('"src/c.py"\n      ]', '"src/c.py",\n      ]')
    r.tasks(text)
    return Expect(TASKS, r.line_of(TASKS, '"src/c.py",'), r"tasks\.json is not valid JSON: .*trailing comma", r"remove the comma")


@case("json-trailing-comma-and-bracket-on-one-line")
def _(r: Repo) -> Expect:
    text = dumps(GOOD_TASKS).replace('"src/c.py"\n      ]', '"src/c.py", ]')
    r.tasks(text)
    assert '"src/c.py", ]' in text.splitlines()[_json_error(text) - 1]  # the comma and its bracket share a line
    return Expect(TASKS, r.line_of(TASKS, '"src/c.py", ]'), r"tasks\.json is not valid JSON: ", r"\S")


@case("json-missing-comma")
def _(r: Repo) -> Expect:
    text = dumps(GOOD_TASKS).replace('"title": "Cart",\n', '"title": "Cart"\n')
    r.tasks(text)
    # The parser notices at the next key: the line after the one missing its comma.
    return Expect(TASKS, r.line_of(TASKS, '"title": "Cart"') + 1, r"tasks\.json is not valid JSON: Expecting ',' delimiter", r"missing comma")


@case("json-empty-file")
def _(r: Repo) -> Expect:
    r.tasks("")
    return Expect(TASKS, None, r"tasks\.json is empty$", r'"stories": \[\]')


@case("json-only-whitespace")
def _(r: Repo) -> Expect:
    r.tasks("\n  \n")
    return Expect(TASKS, None, r"tasks\.json is empty$", r"storyc init")


@case("tasks-not-utf8-latin1")
def _(r: Repo) -> Expect:
    text = dumps(tasks_with(lambda d: story(d, "US-004").update(title="Caf\u00e9 checkout")))
    r.tasks(text.encode("latin-1"))
    return Expect(TASKS, line_of(text, "Caf\u00e9"), r"tasks\.json is not UTF-8 text \(byte 0xe9 at offset \d+\)", r"save the file as UTF-8")


@case("tasks-file-missing")
def _(r: Repo) -> Expect:
    (r.root / TASKS).unlink()
    r.sprint("# Sprint 1\n\n## Stories\n\n- US-002\n- US-003\n")  # ids only: the sprint carries no stories of its own
    return Expect(SPRINT, 1, r"docs/tasks/tasks\.json does not exist, and sprint-001\.md carries no stories", r"a table with an id column.*`storyc init`")


# ------------------------------------------------------------------ tasks.json: shape


@case("no-task-list")
def _(r: Repo) -> Expect:
    r.tasks({"foo": 1})
    return Expect(TASKS, 1, r"tasks\.json holds no task list$", r'expected a list of tasks: \{"stories": \[\.\.\.\]\}')


@case("task-without-id")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").pop("id")))
    # The task object itself: the line of its `{` (the line before its first key).
    return Expect(TASKS, r.line_of(TASKS, '"title": "Cart"') - 1, r"a task has no `id`$", r'give every task a unique "id"')


@case("task-not-an-object")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: d["stories"].append("US-005 Refunds")))
    return Expect(TASKS, r.line_of(TASKS, '"US-005 Refunds"'), r"a task must be a JSON object, not (?:str|a string)\b", r'\{"id": \.\.\., "title": \.\.\.\}')


@case("task-id-a-float")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(id=3.5)))
    return Expect(TASKS, r.line_of(TASKS, '"id": 3.5'), r"task id 3\.5 is neither a string nor an integer", r"string|whole number|integer")


@case("dependencies-not-a-list")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(depends_on={"id": "US-002"})))
    return Expect(TASKS, r.line_of(TASKS, '"depends_on": {'), r"dependencies must be a list of task ids", r"list of task ids")


@case("dependency-is-an-object")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(depends_on=["US-002", {"id": "US-001"}])))
    # The offending list element: the `{` after US-003's "US-002" dependency.
    return Expect(TASKS, _line_after(r, '"id": "US-003"', "{"), r"""dependency \{['"]id['"]: ['"]US-001['"]\} is not a task id""", r"dependencies are a list of task ids")


@case("dependsOn-holds-null")
def _(r: Repo) -> Expect:
    data = tasks_with(lambda d: story(d, "US-003").pop("depends_on"))
    story(data, "US-003")["dependsOn"] = ["US-002", None]
    r.tasks(data)
    return Expect(TASKS, _line_after(r, '"dependsOn"', "null"), r"dependency (?:None|null) is not a task id", r"dependencies are a list of task ids")


@case("files-not-a-list")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(files=42)))
    return Expect(TASKS, r.line_of(TASKS, '"files": 42'), r"files must be a list of paths", r"files are a list of paths")


@case("file-entry-without-path")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(files=["src/c.py", {"name": "src/x.py"}])))
    return Expect(TASKS, _line_after(r, '"src/c.py",', "{"), r"""file entry \{['"]name['"]: ['"]src/x\.py['"]\} has no path""", r"files are a list of paths")


@case("acceptanceCriteria-a-number")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(acceptanceCriteria=5)))
    return Expect(TASKS, r.line_of(TASKS, '"acceptanceCriteria": 5'), r"task US-003: invalid `acceptanceCriteria`: Input should be a valid list", r"acceptance criteria are a list of strings")


# ------------------------------------------------------------------ tasks.json: values


@case("duplicate-id")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-004").update(id="US-002")))
    first_id = r.line_of(TASKS, '"id": "US-002"')

    def first_line_named(r: Repo, res: Run) -> None:
        m = re.search(r"first declared on line (\d+)", res.stderr)
        assert m and int(m.group(1)) in (first_id - 1, first_id), res.stderr  # the story's `{` or its id

    return Expect(TASKS, r.line_of(TASKS, '"id": "US-002"', nth=2), r"duplicate story id 'US-002' \(first declared on line \d+\)", r"renumber", check=first_line_named)


@case("duplicate-id-integer-and-string")
def _(r: Repo) -> Expect:
    r.tasks({"tasks": [{"id": 7, "title": "a", "status": "todo"}, {"id": "7", "title": "b", "status": "todo"}]})
    return Expect(TASKS, r.line_of(TASKS, '"id": "7"'), r"duplicate story id '7'", r"every story needs its own id")


@case("unknown-dependency")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(depends_on=["US-002", "US-099"])))
    return Expect(TASKS, r.line_of(TASKS, '"US-099"'), r"story US-003 depends on 'US-099', which is not in tasks\.json", r"did you mean")


@case("unknown-dependency-never-suggests-the-story-itself")
def _(r: Repo) -> Expect:
    # "US-03" is closest to US-003 itself: a story cannot depend on itself, so that is no suggestion.
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(depends_on=["US-002", "US-03"])))
    return Expect(TASKS, r.line_of(TASKS, '"US-03"'), r"story US-003 depends on 'US-03', which is not in tasks\.json", r"^did you mean (?!.*US-003)US-00[124]")


@case("story-model-mistyped")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-002").update(model="claude-sonet-4")))
    return Expect(TASKS, r.line_of(TASKS, '"model": "claude-sonet-4"'), r"story US-002: model 'claude-sonet-4' looks mistyped", r"did you mean `claude-sonnet-4-5`\?")


@case("story-model-tier-mistyped")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(model="Sonnet")))
    return Expect(TASKS, r.line_of(TASKS, '"model": "Sonnet"'), r"story US-003: model 'Sonnet' looks mistyped", r"did you mean `sonnet`\?")


@case("self-dependency")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(depends_on=["US-002", "US-003"])))
    return Expect(TASKS, _line_after(r, '"id": "US-003"', '"US-003"'), r"story US-003 depends on itself$", r"remove its own id")


@case("cycle-of-three")
def _(r: Repo) -> Expect:
    def mutate(d: dict) -> None:
        story(d, "US-002")["depends_on"] = ["US-003"]
        story(d, "US-003")["depends_on"] = ["US-004"]
        story(d, "US-004")["depends_on"] = ["US-002"]

    r.tasks(tasks_with(mutate))
    r.sprint(GOOD_SPRINT.replace("| US-003 | Cart    |\n", "| US-003 | Cart    |\n| US-004 | Checkout |\n"))
    deps = {"US-002": "US-003", "US-003": "US-004", "US-004": "US-002"}

    def cycle_printed(r: Repo, res: Run) -> None:
        m = re.search(r"^error: dependency cycle: (.+)$", res.stderr, re.M)
        ring = m.group(1).split(" -> ")
        assert len(ring) == 4 and ring[0] == ring[-1] and set(ring) == set(deps), ring
        # Printed in build order: each story is needed by the next one.
        assert all(deps[b] == a for a, b in zip(ring, ring[1:])), ring
        # Every member named on its own line, with the line of its dependency list.
        for sid, dep in deps.items():
            line = _line_after(r, f'"id": "{sid}"', '"depends_on"')
            assert re.search(rf"^  {sid} depends on {dep}\s+\(line {line}\)$", res.stderr, re.M), res.stderr
        # The File line is the dependency list of the story the ring starts with.
        first = _line_after(r, f'"id": "{ring[0]}"', '"depends_on"')
        assert re.search(rf'^  File "[^"]+", line {first}$', res.stderr, re.M), res.stderr

    return Expect(TASKS, _line_after(r, '"id": "US-002"', '"depends_on"'), r"dependency cycle: US-00\d -> US-00\d -> US-00\d -> US-00\d$", r"remove one of these dependencies", check=cycle_printed)


@case("invalid-size-XXL")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(size="XXL")))
    return Expect(TASKS, r.line_of(TASKS, '"size": "XXL"'), r"task US-003: invalid size 'XXL'$", r"XS, S, M, L, XL")


@case("invalid-status-almost")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(status="almost")))
    return Expect(TASKS, r.line_of(TASKS, '"status": "almost"'), r"task US-003: invalid status 'almost'$", r'\[statuses\] "almost" = "todo"')


@case("invalid-state-word")
def _(r: Repo) -> Expect:
    data = tasks_with(lambda d: story(d, "US-002").pop("status"))
    story(data, "US-002")["state"] = "sorta"
    r.tasks(data)
    return Expect(TASKS, r.line_of(TASKS, '"state": "sorta"'), r"task US-002: invalid status 'sorta'$", r"todo, in_progress, done")


@case("status-not-a-string")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(status=3)))
    return Expect(TASKS, r.line_of(TASKS, '"status": 3'), r"task US-003: invalid `status`: Input should be a valid string", r"a status is a word")


@case("status-outside-declared-statuses")
def _(r: Repo) -> Expect:
    def mutate(d: dict) -> None:
        d["statuses"] = ["todo", "doing", "done"]
        story(d, "US-003")["status"] = "in_progress"  # a known word, but not one this file declares

    r.tasks(tasks_with(mutate))
    return Expect(TASKS, r.line_of(TASKS, '"status": "in_progress"'), r"task US-003: status 'in_progress' is not one of the statuses this file declares", r"use one of: todo, doing, done$")


@case("declared-status-of-no-family")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: d.update(statuses=["todo", "parked", "done"])))
    return Expect(TASKS, r.line_of(TASKS, '"parked"'), r"declared status 'parked' belongs to no status family", r'\[statuses\] "parked" = ')


@case("unparseable-estimate")
def _(r: Repo) -> Expect:
    def mutate(d: dict) -> None:
        story(d, "US-003").pop("size")
        story(d, "US-003")["estimate"] = "a while"

    r.tasks(tasks_with(mutate))
    return Expect(TASKS, r.line_of(TASKS, '"estimate": "a while"'), r"task US-003: cannot read estimate 'a while' as a duration", r'"3h", "1\.5d"')


@case("negative-estimated-hours")
def _(r: Repo) -> Expect:
    def mutate(d: dict) -> None:
        story(d, "US-003").pop("size")
        story(d, "US-003")["estimated_hours"] = -4

    r.tasks(tasks_with(mutate))
    return Expect(TASKS, r.line_of(TASKS, '"estimated_hours": -4'), r"task US-003: cannot read estimated_hours -4 as a duration", r"number of hours")


@case("unknown-gate")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(gates=["test", "fuzz"])))
    return Expect(TASKS, r.line_of(TASKS, '"gates": ['), r"story US-003 names unknown gate\(s\) fuzz$", r"typecheck, lint, test, integration, e2e")


@case("dependency-outside-sprint-not-done")
def _(r: Repo) -> Expect:
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(depends_on=["US-002", "US-004"])))
    return Expect(TASKS, _line_after(r, '"id": "US-003"', '"US-004"'), r"story US-003 depends on US-004, which is outside this sprint and not done \(status 'todo'\)", r"--with-deps")


@case("dependency-on-cancelled-story-with-deps")
def _(r: Repo) -> Expect:
    def mutate(d: dict) -> None:
        story(d, "US-004")["status"] = "cancelled"
        story(d, "US-003")["depends_on"] = ["US-002", "US-004"]

    r.tasks(tasks_with(mutate))
    return Expect(TASKS, _line_after(r, '"id": "US-003"', '"US-004"'), r"story US-003 depends on US-004\b.*cancelled", r"^(?!.*--with-deps)", with_deps=True)


@case("tasks-bom-and-crlf-invalid-size")
def _(r: Repo) -> Expect:
    text = dumps(tasks_with(lambda d: story(d, "US-003").update(size="XXL")))
    r.tasks(("\ufeff" + text).replace("\n", "\r\n").encode("utf-8"))
    return Expect(TASKS, line_of(text, '"size": "XXL"'), r"task US-003: invalid size 'XXL'$", r"XS, S, M, L, XL")


# ------------------------------------------------------------------ Task Master tags


TAGGED = {"master": {"tasks": [{"id": 1, "title": "Setup", "status": "pending", "dependencies": []}]}, "feature-auth": {"tasks": [{"id": 1, "title": "Login", "status": "pending"}]}}


@case("tag-not-in-taskmaster-file")
def _(r: Repo) -> Expect:
    r.tasks(TAGGED)
    return Expect(TASKS, 1, r"tasks\.json is a tagged Task Master file; tag 'feature-x' is not in it", r"--tag: feature-auth, master$", tag="feature-x")


@case("taskmaster-subtask-invalid-status")
def _(r: Repo) -> Expect:
    r.tasks({"master": {"tasks": [
        {"id": 3, "title": "Parent", "status": "pending", "subtasks": [
            {"id": 1, "title": "a", "status": "pending"},
            {"id": 2, "title": "b", "status": "meh"},
        ]},
    ]}})
    return Expect(TASKS, r.line_of(TASKS, '"status": "meh"'), r"task 3\.2: invalid status 'meh'$", r'\[statuses\] "meh"')


@case("tag-on-untagged-file")
def _(r: Repo) -> Expect:
    return Expect(TASKS, 1, r"tasks\.json has no tags, so --tag feature-x does not apply", r"\S", tag="feature-x")


# ------------------------------------------------------------------ the sprint


@case("sprint-names-unknown-story")
def _(r: Repo) -> Expect:
    r.sprint(GOOD_SPRINT.replace("| US-003 | Cart    |\n", "| US-003 | Cart    |\n| US-042 | Refunds |\n"))
    return Expect(SPRINT, r.line_of(SPRINT, "| US-042 |"), r"the sprint names story 'US-042', which is not in tasks\.json", r"did you mean|add it to")


@case("sprint-list-names-unknown-story")
def _(r: Repo) -> Expect:
    r.sprint("# Sprint 2: Lists\n\n## Sprint Backlog\n\n- US-002 Catalog\n- US-003 Cart\n  - sub note US-777\n- ZZ-404 Missing\n")
    return Expect(SPRINT, r.line_of(SPRINT, "- ZZ-404"), r"the sprint names story 'ZZ-404'", r"\S")


@case("sprint-heading-names-unknown-story")
def _(r: Repo) -> Expect:
    r.sprint("# Sprint 4: Headings\n\n## Stories\n\n### US-002: Catalog\n\nText.\n\n### US-099: Ghost\n\nMore.\n")
    return Expect(SPRINT, r.line_of(SPRINT, "### US-099"), r"the sprint names story 'US-099'", r"did you mean")


@case("sprint-crlf-names-unknown-story")
def _(r: Repo) -> Expect:
    text = GOOD_SPRINT.replace("| US-003 | Cart    |\n", "| US-003 | Cart    |\n| US-042 | Refunds |\n")
    r.sprint(text.replace("\n", "\r\n"))
    return Expect(SPRINT, line_of(text, "| US-042 |"), r"the sprint names story 'US-042'", r"\S")


@case("integration-row-missing-a-cell")
def _(r: Repo) -> Expect:
    r.sprint(GOOD_SPRINT + "| Cart to Tax       | US-003           |\n")
    return Expect(SPRINT, r.line_of(SPRINT, "| Cart to Tax"), r"an Integration Points row has no verification", r"Integration Point \| Stories Involved \| Verification")


@case("sprint-path-is-a-directory")
def _(r: Repo) -> Expect:
    r.config(GOOD_CONFIG + '\n[paths]\nsprint = "docs/sprints"\n')
    return Expect("docs/sprints", None, r"(?:.*/)?docs/sprints is a directory, not a file", r"\[paths\]|file")


@case("front-matter-stories-unknown")
def _(r: Repo) -> Expect:
    r.sprint(GOOD_SPRINT.replace("name: Mini\n", "name: Mini\nstories: [US-002, US-099]\n").replace("## Stories in Scope", "## Notes"))
    return Expect(SPRINT, r.line_of(SPRINT, "stories: ["), r"the sprint names story 'US-099'", r"did you mean")


@case("front-matter-and-section-both-list-stories")
def _(r: Repo) -> Expect:
    r.sprint(GOOD_SPRINT.replace("name: Mini\n", "name: Mini\nstories: [US-002]\n"))
    return Expect(SPRINT, r.line_of(SPRINT, "stories: ["), r"the sprint lists its stories twice", r"keep one")


@case("integration-point-unknown-story")
def _(r: Repo) -> Expect:
    r.sprint(GOOD_SPRINT + "| Cart to Tax       | US-003, US-077   | E2E test         |\n")
    return Expect(SPRINT, r.line_of(SPRINT, "| Cart to Tax"), r"integration point 'Cart to Tax' names story 'US-077', which is not in tasks\.json", r"Stories Involved")


@case("integration-points-same-name")
def _(r: Repo) -> Expect:
    r.sprint(GOOD_SPRINT + "| Catalog to Cart   | US-003           | E2E test         |\n")
    return Expect(SPRINT, r.line_of(SPRINT, "| Catalog to Cart", nth=2), r"two integration points are both named 'Catalog to Cart'", r"its own name")


@case("front-matter-invalid-yaml")
def _(r: Repo) -> Expect:
    r.sprint(GOOD_SPRINT.replace("name: Mini\n", "name: Mini\ngoal: ship: it\n"))
    return Expect(SPRINT, r.line_of(SPRINT, "goal: ship: it"), r"front matter is not valid YAML: mapping values are not allowed here", r"key: value")


@case("front-matter-unterminated")
def _(r: Repo) -> Expect:
    r.sprint(GOOD_SPRINT.replace("name: Mini\n---\n", "name: Mini\n\n"))
    return Expect(SPRINT, 1, r"front matter opened with `---` is never closed", r"end the YAML front matter")


@case("front-matter-not-a-mapping")
def _(r: Repo) -> Expect:
    r.sprint(GOOD_SPRINT.replace("sprint: 1\nname: Mini\n", "- sprint 1\n- Mini\n"))
    return Expect(SPRINT, r.line_of(SPRINT, "- sprint 1"), r"front matter must be `key: value` pairs", r"for example|key: value")


@case("sprint-not-utf8")
def _(r: Repo) -> Expect:
    text = GOOD_SPRINT.replace("| Catalog |", "| Caf\u00e9    |")
    r.sprint(text.encode("latin-1"))
    return Expect(SPRINT, line_of(text, "Caf\u00e9"), r"sprint-001\.md is not UTF-8 text \(byte 0xe9", r"save the file as UTF-8")


@case("sprint-file-missing")
def _(r: Repo) -> Expect:
    return Expect("docs/sprints/sprint-009.md", None, r"(?:.*/)?docs/sprints/sprint-009\.md does not exist", r"give the path on the command line", sprint="docs/sprints/sprint-009.md")


# ------------------------------------------------------------------ a sprint file that carries its stories, spec-kit's tasks.md

SPRINT_ALONE = """\
# Sprint 1: Mini

## Stories

| ID     | Title   | Size | Depends on | Status |
| ------ | ------- | ---- | ---------- | ------ |
| US-002 | Catalog | M    | —          | To do  |
| US-003 | Cart    | S    | US-002     | To do  |

### US-003: Cart

**Acceptance criteria:**
- a cart holds products
"""


def sprint_alone(r: Repo, text: str) -> None:
    """No tasks.json: the sprint is the whole input."""
    (r.root / TASKS).unlink()
    r.sprint(text)


@case("sprint-alone-unknown-status-words")
def _(r: Repo) -> Expect:
    sprint_alone(r, SPRINT_ALONE.replace("| US-002 | Catalog | M    | —          | To do  |", "| US-002 | Catalog | M    | —          | Parked |").replace("| US-002     | To do  |", "| US-002     | Sorta  |"))
    def both_listed(r: Repo, res: Run) -> None:
        assert f"'Parked': line {r.line_of(SPRINT, '| Parked |')}" in res.stderr and f"'Sorta': line {r.line_of(SPRINT, '| Sorta  |')}" in res.stderr
    return Expect(SPRINT, r.line_of(SPRINT, "| Parked |"), r"2 status words belong to no status family: 'Parked', 'Sorta'", r"map each in storyc\.toml", check=both_listed)


@case("sprint-alone-dependency-unknown")
def _(r: Repo) -> Expect:
    sprint_alone(r, SPRINT_ALONE.replace("| US-002     | To do  |", "| US-020     | To do  |"))
    return Expect(SPRINT, r.line_of(SPRINT, "| US-020"), r"story US-003 depends on 'US-020', which is not in sprint-001\.md", r"did you mean .*US-002")


@case("sprint-alone-same-story-twice-in-a-table")
def _(r: Repo) -> Expect:
    sprint_alone(r, SPRINT_ALONE.replace("| US-003 | Cart    |", "| US-002 | Cart    |"))
    return Expect(SPRINT, r.line_of(SPRINT, "| US-002 | Cart"), r"story US-002 has two rows in one table \(lines 7 and 8\)", r"one row per story")


@case("sprint-alone-unreadable-size")
def _(r: Repo) -> Expect:
    sprint_alone(r, SPRINT_ALONE.replace("| Catalog | M    |", "| Catalog | huge |"))
    return Expect(SPRINT, r.line_of(SPRINT, "| huge |"), r"story US-002: cannot read 'huge' as a size \(XS, S, M, L, XL\)", r"leave the cell empty")


@case("sprint-alone-cycle-through-a-depends-on-line")
def _(r: Repo) -> Expect:
    sprint_alone(r, SPRINT_ALONE.replace("**Acceptance criteria:**", "**Acceptance criteria:**\n- it works\n\n### US-002: Catalog\n\nafter US-003\n\n**Notes:**"))
    return Expect(SPRINT, r.line_of(SPRINT, "after US-003"), r"dependency cycle: US-002 -> US-003 -> US-002", r"remove one of these dependencies")


@case("sprint-alone-story-section-names-a-missing-story")
def _(r: Repo) -> Expect:
    sprint_alone(r, SPRINT_ALONE + "\n### US-004: Checkout\n\nDepends on: US-009\n")
    return Expect(SPRINT, r.line_of(SPRINT, "Depends on: US-009"), r"story US-004 depends on 'US-009', which is not in sprint-001\.md", r"\S")


@case("sprint-alone-table-without-an-id-column")
def _(r: Repo) -> Expect:
    sprint_alone(r, "# Sprint 1\n\n## Stories\n\n| Story | Points |\n| --- | --- |\n| Log in with e-mail | 3 |\n| Pay by card | 5 |\n")
    return Expect(SPRINT, 1, r"docs/tasks/tasks\.json does not exist, and sprint-001\.md carries no stories", r"a table with an id column", check=lambda r, res: "1 table(s) without an id column" in res.stderr or pytest.fail(res.stderr))


SPECKIT_TASKS = "specs/001-mini/tasks.md"
SPECKIT_TEXT = "# Tasks: Mini\n\n## Phase 1: Setup\n\n- [x] T001 Create src/a.py\n- [ ] T002 [P] Add src/b.py\n\n## Phase 2: Story\n\n- [ ] T003 [US1] Use src/b.py (depends on T002)\n"


@case("speckit-inline-dependency-unknown")
def _(r: Repo) -> Expect:
    r.config(GOOD_CONFIG + f'\n[paths]\ntasks = "{SPECKIT_TASKS}"\n')
    r.write(SPECKIT_TASKS, SPECKIT_TEXT.replace("(depends on T002)", "(depends on T020)"))
    r.sprint("# Sprint 1\n\n## Stories\n\n- T002\n- T003\n")
    return Expect(SPECKIT_TASKS, r.line_of(SPECKIT_TASKS, "T003"), r"story T003 depends on 'T020', which is not in tasks\.md", r"did you mean")


@case("speckit-narrative-tasks-file")
def _(r: Repo) -> Expect:
    r.config(GOOD_CONFIG + f'\n[paths]\ntasks = "{SPECKIT_TASKS}"\n')
    r.write(SPECKIT_TASKS, "# Tasks\n\n## Phase 1\n\n- [ ] Create the app\n- [x] Write the docs\n")
    return Expect(SPECKIT_TASKS, 5, r"tasks\.md carries no stories", r"checklist items that start with an id")


# ------------------------------------------------------------------ storyc.toml / pyproject.toml


def toml_case(id: str, config: str, marker: str, message: str, hint: str) -> None:
    """A case that only rewrites storyc.toml: its fault is on the line holding `marker`."""

    @case(id)
    def _(r: Repo) -> Expect:
        r.config(config)
        return Expect("storyc.toml", r.line_of("storyc.toml", marker), message, hint)


toml_case("toml-invalid", GOOD_CONFIG.replace('kind = "scripted"', 'kind = "scripted'), 'kind = "scripted', r"storyc\.toml is not valid TOML: ", r"quoting and brackets")
toml_case("toml-unknown-key-typo", GOOD_CONFIG.replace("test = ", "tset = "), "tset =", r"unknown key `gates\.tset` in storyc\.toml", r"did you mean `test`\?")
toml_case("toml-unknown-table", GOOD_CONFIG + "\n[gate]\nlint = \"ruff check\"\n", "[gate]\n", r"unknown key `gate` in storyc\.toml", r"did you mean `gates`\?")
toml_case("toml-quoted-dotted-table", GOOD_CONFIG + '\n["paths.build"]\nx = 1\n', '["paths.build"]', r"unknown key `paths\.build` in storyc\.toml", r"did you mean `paths`\?")
toml_case("toml-invalid-policy-tests", GOOD_CONFIG + '\n[policy.S]\ntests = "unit"\n\n[policy.M]\ntests = "everything"\n', 'tests = "everything"', r"invalid value for `policy\.M\.tests` in storyc\.toml: Input should be 'unit', 'unit\+integration', 'full' or 'full\+e2e'", r"\[policy\.XS\]")
toml_case("toml-invalid-runner-kind", GOOD_CONFIG.replace('kind = "scripted"', 'kind = "gpt"'), 'kind = "gpt"', r"invalid value for `runner\.kind` in storyc\.toml", r"anthropic, claude-code, command, scripted")
toml_case("toml-invalid-max-attempts", GOOD_CONFIG.replace("max_attempts = 3", "max_attempts = 0"), "max_attempts = 0", r"invalid value for `runner\.max_attempts` in storyc\.toml: Input should be greater than or equal to 1", r"max_attempts")
toml_case("toml-statuses-to-a-non-family", GOOD_CONFIG + '\n[statuses]\nparked = "someday"\n', 'parked = "someday"', r"invalid value for `statuses\.parked` in storyc\.toml: Input should be 'todo', 'in_progress', 'done', 'blocked', 'deferred' or 'cancelled'", r"todo, in_progress, done, blocked, deferred, cancelled")
toml_case("toml-invalid-barrier", GOOD_CONFIG + '\n[execution]\nbarrier = "waves"\n', 'barrier = "waves"', r"invalid value for `execution\.barrier`", r'"none" or "wave"')
toml_case("toml-policy-for-an-unknown-size", GOOD_CONFIG + '\n[policy.XXL]\nmodel = "opus"\n', "[policy.XXL]", r"(?!.*\[key\]).*\bXXL\b", r"\[policy\.XS\]")
toml_case("toml-price-missing-a-field", GOOD_CONFIG + '\n[models.prices.claude-x]\ninput = 1.0\n', "[models.prices.claude-x]", r".*`models\.prices\.claude-x\.output`.*[Ff]ield required", r"\S")
toml_case("toml-anthropic-model-without-a-price", GOOD_CONFIG.replace('kind = "scripted"', 'kind = "anthropic"') + '\n[models]\nsonnet = "claude-sonnet-9"\n\n[models.prices.claude-haiku-4-5]\ninput = 1.0\noutput = 5.0\n', 'sonnet = "claude-sonnet-9"', r"model 'claude-sonnet-9' \(story \S+\) has no price in \[models\.prices\]", r'add \[models\.prices\."claude-sonnet-9"\]')
toml_case("toml-model-mistyped", GOOD_CONFIG + '\n[models]\nsonnet = "claude-sonet-4"\n', 'sonnet = "claude-sonet-4"', r"model 'claude-sonet-4' in `models\.sonnet` of storyc\.toml looks mistyped", r"did you mean `claude-sonnet-4-5`\?")
toml_case("toml-policy-model-mistyped", GOOD_CONFIG + '\n[policy.M]\nmodel = "hiaku"\n', 'model = "hiaku"', r"model 'hiaku' in `policy\.M\.model` of storyc\.toml looks mistyped", r"did you mean `haiku`\?")
toml_case("toml-gate-not-a-string", GOOD_CONFIG.replace('test = "python -m pytest -q"', 'test = ["pytest"]'), 'test = ["pytest"]', r"invalid value for `gates\.test` in storyc\.toml: Input should be a valid string", r"shell command")


@case("pyproject-unknown-key")
def _(r: Repo) -> Expect:
    (r.root / "storyc.toml").unlink()
    r.write("pyproject.toml", '[project]\nname = "mini"\n\n[tool.storyc.gates]\ntset = "pytest"\n')
    return Expect("pyproject.toml", r.line_of("pyproject.toml", "tset ="), r"unknown key `gates\.tset` in pyproject\.toml", r"did you mean `test`\?")


@case("pyproject-policy-second-row")
def _(r: Repo) -> Expect:
    (r.root / "storyc.toml").unlink()
    r.write("pyproject.toml", '[project]\nname = "mini"\n\n[tool.storyc.policy.S]\ntests = "unit"\n\n[tool.storyc.policy.M]\ntests = "everything"\n')
    return Expect("pyproject.toml", r.line_of("pyproject.toml", 'tests = "everything"'), r"invalid value for `policy\.M\.tests` in pyproject\.toml", r"\[policy\.XS\]")


toml_case("toml-dotted-keys", GOOD_CONFIG + '\n[policy]\nS.tests = "unit"\nM.tests = "everything"\n', 'M.tests = "everything"', r"invalid value for `policy\.M\.tests`", r"\[policy\.XS\]")


# ------------------------------------------------------------------ helpers and the tests


def _line_after(r: Repo, after: str, needle: str) -> int:
    """The line of the first `needle` that follows the first `after` in tasks.json."""
    return r.line_of(TASKS, needle, after=after)


def _json_error(text: str) -> int:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.lineno
    raise AssertionError("the text is valid JSON")


PARAMS = [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]


@pytest.fixture(scope="module")
def compiled_good(tmp_path_factory: pytest.TempPathFactory, repo_at: Callable[[Path], Any]) -> tuple[Path, dict[str, bytes]]:
    """A GOOD repository, compiled once by `storyc compile`, and the bytes of its build/ and dodo.py."""
    r = repo_at(tmp_path_factory.mktemp("good") / "repo")
    r.tasks(GOOD_TASKS)
    r.sprint(GOOD_SPRINT)
    r.config(GOOD_CONFIG)
    res = r.run("compile")
    assert res.code == 0, res.output
    assert "2 stories in 2 waves" in res.stdout
    snap = r.snapshot()
    assert {"dodo.py", "build/plan.json", "build/ORCHESTRATION_PLAN.md", "build/specs/US-002.md", "build/specs/US-003.md"} <= set(snap)
    return r.root, snap


@pytest.fixture()
def good(compiled_good: tuple[Path, dict[str, bytes]], tmp_path: Path, repo_at: Callable[[Path], Any]) -> tuple[Repo, dict[str, bytes]]:
    """A copy of the compiled GOOD repository (inputs, build/ and dodo.py) for one case to break.

    Copying the compiled repository instead of compiling each one keeps the
    corpus fast: a first compile in a new folder compiles the jinja templates.
    """
    src, snap = compiled_good
    r = repo_at(tmp_path / "repo")
    shutil.copytree(src, r.root)
    assert r.snapshot() == snap
    return r, snap


def _assert_reported(r: Repo, res: Run, exp: Expect) -> None:
    out = res.output
    assert "Traceback" not in out, out
    assert res.code == 2, out
    assert "wrote" not in res.stdout, out
    errors = [line[len("error: "):] for line in res.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, out
    assert re.match(f"(?:{exp.message})", errors[0]), f"{exp.message!r} does not match {errors[0]!r}"
    where = re.findall(r'^  File "([^"]+)"(?:, line (\d+))?$', res.stderr, re.M)
    assert len(where) == 1, out
    file, line = where[0]
    assert Path(file).as_posix().endswith(exp.file), out
    if exp.line is None:
        assert line == "", out
    else:
        assert line and int(line) == exp.line, f"expected line {exp.line}:\n{out}"
        lines = (r.root / exp.file).read_bytes().decode("utf-8", "replace").splitlines()
        if lines:  # the offending line is quoted under the File line
            assert f"    {lines[exp.line - 1].strip()}" in res.stderr.splitlines(), out
    # One block: the error line, then only indented lines (File, the quoted source, extra lines, the hint).
    lines = res.stderr.rstrip("\n").splitlines()
    assert lines[0].startswith("error: ") and all(line.startswith("  ") for line in lines[1:]), out
    hints = [line.strip()[len("hint: "):] for line in lines if line.strip().startswith("hint: ")]
    assert len(hints) == 1 and re.search(exp.hint, hints[0]), out
    if exp.check:
        exp.check(r, res)


def _cli_args(exp: Expect) -> list[str]:
    return [*([exp.sprint] if exp.sprint else []), *(["--tag", exp.tag] if exp.tag else []), *(["--with-deps"] if exp.with_deps else [])]


@pytest.mark.parametrize("bad", PARAMS)
def test_bad_input_is_reported_and_nothing_is_written(good: tuple[Repo, dict[str, bytes]], bad: Case) -> None:
    r, before = good
    exp = bad.make(r)
    res = r.run("compile", *_cli_args(exp))
    _assert_reported(r, res, exp)
    assert r.snapshot() == before


@pytest.mark.parametrize("bad", PARAMS)
def test_bad_input_through_the_api(good: tuple[Repo, dict[str, bytes]], bad: Case) -> None:
    """The same corpus through storyc.api.build: a StorycError with the same message and line."""
    r, before = good
    exp = bad.make(r)
    with pytest.raises(StorycError, match=f"(?m)^error: (?:{exp.message})") as info:
        api.build(r.root, r.root / exp.sprint if exp.sprint else None, tag=exp.tag, with_deps=exp.with_deps)
    err = info.value
    assert err.exit_code == 2
    assert err.where is not None and Path(err.where.file).as_posix().endswith(exp.file)
    assert err.where.line == (exp.line or 0)
    assert re.search(exp.hint, err.hint)
    assert r.snapshot() == before


@pytest.mark.parametrize("name", ["json-trailing-comma", "cycle-of-three", "toml-unknown-key-typo"])
def test_bad_input_end_to_end_in_a_real_process(good: tuple[Repo, dict[str, bytes]], name: str) -> None:
    """The installed `storyc` executable: exit 2 on stderr, nothing on stdout, no traceback."""
    r, before = good
    exp = next(c for c in CASES if c.id == name).make(r)
    res = r.run("compile", *_cli_args(exp), subprocess_=True)
    _assert_reported(r, res, exp)
    assert res.stdout == ""
    assert r.snapshot() == before


def test_check_format_json_reports_the_same_error(good: tuple[Repo, dict[str, bytes]]) -> None:
    r, _ = good
    r.tasks(tasks_with(lambda d: story(d, "US-003").update(size="XXL")))
    res = r.run("check", "--format", "json")
    assert res.code == 2 and "Traceback" not in res.output
    report = json.loads(res.stdout)
    assert report["ok"] is False
    assert report["error"]["message"] == "task US-003: invalid size 'XXL'"
    assert report["error"]["line"] == r.line_of(TASKS, '"size": "XXL"')
    assert report["error"]["file"].endswith("tasks.json") and report["error"]["hint"]


def test_with_deps_pulls_the_outside_dependency_into_scope(good: tuple[Repo, dict[str, bytes]]) -> None:
    r, _ = good
    exp = next(c for c in CASES if c.id == "dependency-outside-sprint-not-done").make(r)
    assert r.run("compile").code == 2
    res = r.run("compile", "--with-deps")
    assert res.code == 0, res.output
    plan = json.loads((r.root / "build/plan.json").read_text())
    assert {s["id"] for s in plan["stories"] if s["target"]} == {"US-002", "US-003", "US-004"}
    assert exp.hint == r"--with-deps"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
