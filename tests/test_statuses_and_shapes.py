"""Positive cases: status words into families, every input shape found in the wild,
and the real-world fixtures under ../shared/fixtures/real-world (read in place, never copied)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from storyc_tests import SHARED

from storyc.compiler.sprint import parse_sprint
from storyc.compiler.statuses import Family, family_of
from storyc.compiler.tasks import load_tasks

REAL_WORLD = SHARED / "fixtures" / "real-world"
needs_real_world = pytest.mark.skipif(not REAL_WORLD.is_dir(), reason=f"{REAL_WORLD} is absent")

MakeRepo = Callable[..., Any]


def compiled(r: Any, *args: str) -> dict:
    """`storyc compile ARGS` in repo `r`; its build/plan.json."""
    res = r.run("compile", *args)
    assert res.code == 0 and "Traceback" not in res.output, res.output
    return json.loads((r.root / "build" / "plan.json").read_text(encoding="utf-8"))


def targets(plan: dict) -> list[str]:
    return [s["id"] for s in plan["stories"] if s["target"]]


def by_id(plan: dict) -> dict[str, dict]:
    return {s["id"]: s for s in plan["stories"]}


def loaded(tmp_path: Path, data: Any, **kw: Any):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return load_tasks(path, **kw)


# ------------------------------------------------------------------ status words


@pytest.mark.parametrize(
    ("word", "family"),
    [
        ("to-do", Family.TODO),
        ("PLANNED", Family.TODO),
        ("backlog", Family.TODO),
        ("pending", Family.TODO),
        ("BLOCKED_AMBIGUITY", Family.BLOCKED),
        ("Complete", Family.DONE),
        ("in-progress", Family.IN_PROGRESS),
        ("In Progress", Family.IN_PROGRESS),
        ("review", Family.IN_PROGRESS),
        ("deferred", Family.DEFERRED),
        ("cancelled", Family.CANCELLED),
        ("canceled", Family.CANCELLED),
        ("done_with_caveats", Family.DONE),
    ],
)
def test_status_word_maps_to_its_family(word: str, family: Family) -> None:
    assert family_of(word) is family


@pytest.mark.parametrize("word", ["almost", "parked", "", "todoish"])
def test_a_word_of_no_family_is_none(word: str) -> None:
    assert family_of(word) is None


def test_extra_words_extend_the_vocabulary() -> None:
    assert family_of("Parked", {"parked": Family.DEFERRED}) is Family.DEFERRED
    assert family_of("parked") is None


def test_statuses_table_in_storyc_toml_adds_a_word(repo: MakeRepo) -> None:
    tasks = {
        "stories": [
            {"id": "A", "title": "a", "status": "Parked"},
            {"id": "B", "title": "b", "status": "ready for QA"},
            {"id": "C", "title": "c", "status": "todo"},
        ]
    }
    bare = repo(tasks=tasks)
    res = bare.run("compile")
    assert res.code == 2 and re.search(r"^error: task A: invalid status 'Parked'$", res.stderr, re.M), res.output

    r = repo(tasks=tasks, config='[statuses]\nparked = "deferred"\n"ready for QA" = "in_progress"\n')
    plan = compiled(r)
    stories = by_id(plan)
    assert targets(plan) == ["B", "C"]  # with no sprint: the open stories
    assert stories["B"]["family"] == "in_progress" and stories["B"]["status"] == "ready for QA"
    assert plan["excluded"] == {"deferred": ["A"]}


# ------------------------------------------------------------------ input shapes


def test_tasks_key_with_integer_ids_and_aliases(tmp_path: Path) -> None:
    tf = loaded(
        tmp_path,
        {
            "tasks": [
                {"id": 1, "title": "One", "status": "done"},
                {"id": 2, "title": "Two", "dependsOn": [1], "acceptanceCriteria": ["works"], "relevantFiles": [{"path": "./src/two.py"}, {"path": "src\\util.py"}]},
                {"id": 3, "title": "Three", "dependencies": [1, "2"], "state": "in-progress", "acceptanceCriteria": "one criterion"},
            ]
        },
    )
    assert tf.shape == "tasks"
    one, two, three = tf.stories
    assert [s.id for s in tf.stories] == ["1", "2", "3"]
    assert two.depends_on == ["1"] and three.depends_on == ["1", "2"]
    assert two.acceptance_criteria == ["works"] and three.acceptance_criteria == ["one criterion"]
    assert two.files == ["src/two.py", "src/util.py"]
    assert three.status == "in-progress" and tf.family(three) is Family.IN_PROGRESS
    assert tf.family(one) is Family.DONE


@pytest.mark.parametrize(("hours", "size"), [(1.5, "XS"), (2, "S"), (5, "M"), (10, "L"), (20, "XL")])
def test_estimated_hours_give_the_size_by_the_seed_bands(tmp_path: Path, hours: float, size: str) -> None:
    (story,) = loaded(tmp_path, {"stories": [{"id": "A", "estimated_hours": hours}]}).stories
    assert (story.size, story._origin.size_source, story._origin.hours) == (size, "estimated_hours", float(hours))


@pytest.mark.parametrize(("estimate", "size", "hours"), [("1.5d", "L", 12.0), ("3h", "S", 3.0), ("2 days", "XL", 16.0), ("90", "XL", 90.0)])
def test_estimate_strings(tmp_path: Path, estimate: str, size: str, hours: float) -> None:
    (story,) = loaded(tmp_path, {"stories": [{"id": "A", "estimate": estimate}]}).stories
    assert (story.size, story._origin.size_source, story._origin.hours) == (size, "estimate", hours)


@pytest.mark.parametrize(("complexity", "size"), [(1, "XS"), (3, "S"), (5, "M"), (7, "L"), (10, "XL")])
def test_complexity_gives_the_size(tmp_path: Path, complexity: int, size: str) -> None:
    (story,) = loaded(tmp_path, {"stories": [{"id": "A", "complexity": complexity}]}).stories
    assert (story.size, story._origin.size_source) == (size, "complexity")


def test_size_wins_over_estimates_and_default_is_M(tmp_path: Path) -> None:
    a, b = loaded(tmp_path, {"stories": [{"id": "A", "size": "xs", "estimated_hours": 20, "complexity": 9}, {"id": "B"}]}).stories
    assert (a.size, a._origin.size_source) == ("XS", "size")
    assert (b.size, b._origin.size_source) == ("M", "default")


TASKMASTER = {
    "master": {
        "tasks": [
            {"id": 3, "title": "Base", "status": "done", "dependencies": []},
            {
                "id": 5,
                "title": "Parent",
                "status": "pending",
                "dependencies": [3],
                "subtasks": [
                    {"id": 1, "title": "first", "status": "pending", "dependencies": [5]},  # its own parent: dropped
                    {"id": 2, "title": "second", "status": "in-progress", "dependencies": [1]},
                    {"id": 3, "title": "third", "status": "review", "dependencies": ["5.2"]},
                ],
            },
        ],
        "metadata": {"created": "2025-01-01"},
    },
    "feature-auth": {"tasks": [{"id": 1, "title": "Login", "status": "pending"}, {"id": 2, "title": "Logout", "status": "pending", "dependencies": [1]}]},
}


def test_taskmaster_tagged_file_subtasks_and_sibling_deps(tmp_path: Path) -> None:
    tf = loaded(tmp_path, TASKMASTER)
    assert tf.shape == "taskmaster:master"
    stories = {s.id: s for s in tf.stories}
    assert list(stories) == ["3", "5", "5.1", "5.2", "5.3"]
    assert stories["5"]._origin.children == ["5.1", "5.2", "5.3"]
    # A bare integer in a subtask names a sibling; "5.2" is already a full address; the parent's deps are inherited.
    assert stories["5.2"].depends_on == ["5.1", "3"]
    assert stories["5.3"].depends_on == ["5.2", "3"]
    assert stories["5.1"].depends_on == ["3"]


def test_taskmaster_compiles_with_subtask_edges(repo: MakeRepo) -> None:
    plan = compiled(repo(tasks=TASKMASTER))
    assert targets(plan) == ["5", "5.1", "5.2", "5.3"]
    edges = {(e["from"], e["to"], e["kind"]) for e in plan["edges"]}
    assert {("5.1", "5", "subtask"), ("5.2", "5", "subtask"), ("5.3", "5", "subtask"), ("5.1", "5.2", "declared"), ("5.2", "5.3", "declared")} <= edges
    assert plan["waves"] == [["5.1"], ["5.2"], ["5.3"], ["5"]]
    assert plan["excluded"] == {"done": ["3"]}


def test_tag_chooses_a_second_tag(repo: MakeRepo, tmp_path: Path) -> None:
    assert loaded(tmp_path, TASKMASTER, tag="feature-auth").shape == "taskmaster:feature-auth"
    plan = compiled(repo(tasks=TASKMASTER), "--tag", "feature-auth")
    assert targets(plan) == ["1", "2"]
    assert by_id(plan)["2"]["depends_on"] == ["1"]
    assert plan["waves"] == [["1"], ["2"]]


def test_older_untagged_taskmaster_file(tmp_path: Path) -> None:
    tf = loaded(tmp_path, {"tasks": [{"id": 1, "title": "x", "status": "pending", "subtasks": [{"id": 1, "title": "y", "status": "done"}]}], "metadata": {"projectName": "Old TM"}})
    assert [s.id for s in tf.stories] == ["1", "1.1"]
    assert tf.project == "Old TM"


def test_bare_array(tmp_path: Path) -> None:
    tf = loaded(tmp_path, [{"id": "X-1", "title": "x"}, {"id": "X-2", "title": "y", "depends_on": "X-1"}])
    assert tf.shape == "array"
    assert [s.id for s in tf.stories] == ["X-1", "X-2"]
    assert tf.stories[1].depends_on == ["X-1"]
    assert tf.family(tf.stories[0]) is Family.TODO  # no status: todo


def test_ralph_prd(repo: MakeRepo, tmp_path: Path) -> None:
    prd = {
        "project": "Chores",
        "branchName": "ralph/chores",
        "userStories": [
            {"id": "US-001", "title": "Done one", "acceptanceCriteria": ["a"], "priority": 1, "passes": True, "notes": ""},
            {"id": "US-002", "title": "Open one", "acceptanceCriteria": ["b"], "priority": 2, "passes": False, "notes": "see US-001"},
        ],
    }
    tf = loaded(tmp_path, prd)
    assert tf.shape == "ralph" and tf.project == "Chores"
    assert [(s.status, tf.family(s)) for s in tf.stories] == [("done", Family.DONE), ("todo", Family.TODO)]
    plan = compiled(repo(tasks=prd))
    assert plan["project"] == "Chores"
    assert targets(plan) == ["US-002"]
    assert by_id(plan)["US-002"]["priority"] == "2"
    assert by_id(plan)["US-002"]["extra"] == {"passes": False, "notes": "see US-001"}


@pytest.mark.parametrize("tasks", [{"stories": []}, {"tasks": []}, []], ids=["stories", "tasks", "array"])
def test_an_empty_task_list_compiles_to_an_empty_plan(repo: MakeRepo, tasks: Any) -> None:
    r = repo(tasks=tasks)
    res = r.run("compile")
    assert res.code == 0, res.output
    assert "0 stories in 0 waves (0 done, 0 open)" in res.stdout
    plan = json.loads((r.root / "build/plan.json").read_text())
    assert (plan["stories"], plan["edges"], plan["waves"], plan["excluded"]) == ([], [], [], {})
    assert plan["critical_path"] == {"stories": [], "hours": 0.0}
    assert not list((r.root / "build/specs").glob("*.md"))
    assert (r.root / "build/specs/SHA256SUMS").read_text() == ""


def test_unknown_fields_are_kept_in_extra(repo: MakeRepo) -> None:
    tasks = {
        "stories": [
            {"id": "A", "title": "a", "area": "api", "notes": ["n1"], "owner": {"name": "Kim"}, "testStrategy": "unit"},
            {"id": "B", "title": "b", "dependsOn": ["A"], "estimated_hours": 3},
        ]
    }
    stories = by_id(compiled(repo(tasks=tasks)))
    assert stories["A"]["extra"] == {"area": "api", "notes": ["n1"], "owner": {"name": "Kim"}, "testStrategy": "unit"}
    # Aliased keys are read into their canonical field; hours are kept as they were written.
    assert stories["B"]["depends_on"] == ["A"] and "dependsOn" not in stories["B"]["extra"]
    assert stories["B"]["extra"] == {"estimated_hours": 3}
    assert (stories["B"]["size"], stories["B"]["size_source"], stories["B"]["hours"]) == ("S", "estimated_hours", 3.0)


# ------------------------------------------------------------------ real-world files (read in place)


def _band(hours: float) -> str:
    """The seed's bands, written out again here: XS < 2 h, S 2-4 h, M 4-8 h, L 1-2 d, XL beyond."""
    return "XS" if hours < 2 else "S" if hours < 4 else "M" if hours < 8 else "L" if hours < 16 else "XL"


def _raw(rel: str) -> Any:
    return json.loads((REAL_WORLD / rel).read_text(encoding="utf-8"))


def check_pathforge(plan: dict) -> None:
    # 17 tasks: 12 done, 5 deferred; nothing open, so nothing to build (the deferred stay out of a sprint-less scope).
    assert plan["stories"] == [] and plan["waves"] == []
    assert len(plan["excluded"]["done"]) == 12 and len(plan["excluded"]["deferred"]) == 5
    assert set(plan["excluded"]) == {"done", "deferred"}
    assert "DOC-002" in plan["excluded"]["deferred"] and "DEC-002" in plan["excluded"]["done"]


def check_gradebot(plan: dict) -> None:
    # 78 tasks with integer ids: 61 done, 62 in-progress, 63-78 pending.
    assert plan["project"] == "GradeBot - AI Feedback Assistant"
    assert targets(plan) == [str(i) for i in range(62, 79)]
    assert len(plan["excluded"]["done"]) == 61 and set(plan["excluded"]) == {"done"}
    stories = by_id(plan)
    assert stories["62"]["family"] == "in_progress" and stories["63"]["family"] == "todo"
    assert stories["72"]["depends_on"] == ["70", "71"]
    # Deps on done stories (61, 5, 60) are satisfied; the rest makes five waves.
    assert plan["waves"] == [["62", "67", "73", "77"], ["63", "68", "74", "75"], ["64", "66", "69", "71", "76"], ["65", "70", "78"], ["72"]]
    # Hours 12 + 16 + 16 + 20 along 62 -> 63 -> 64 -> 65 beat 67 -> 68 -> 69 -> 70 -> 72 (60 h).
    assert plan["critical_path"] == {"stories": ["62", "63", "64", "65"], "hours": 64.0}
    raw = {str(t["id"]): t for t in _raw("tasks-json/gradebot.json")["tasks"]}
    for sid, s in stories.items():
        assert (s["size"], s["size_source"], s["hours"]) == (_band(raw[sid]["estimated_hours"]), "estimated_hours", float(raw[sid]["estimated_hours"]))
        assert s["extra"]["phase"] == raw[sid]["phase"] and s["extra"]["complexity"] == raw[sid]["complexity"]


def check_testcraft(plan: dict) -> None:
    # Task Master tagged file: 34 tasks (no 26, 27) + 111 subtasks = 145. Open: 11 tasks + 47 subtasks.
    ids = targets(plan)
    assert len(ids) == 58
    assert sum("." not in i for i in ids) == 11
    assert len(plan["excluded"]["done"]) == 87 and set(plan["excluded"]) == {"done"}
    assert "34.2" in ids and "34.1" not in ids and "34.1" in plan["excluded"]["done"]
    assert not {"26", "27"} & set(ids + plan["excluded"]["done"])
    stories = by_id(plan)
    assert stories["34.2"]["family"] == "in_progress"
    # Bare integers in 24.7 name siblings; the parent's dependency (3) is inherited.
    assert stories["24.7"]["depends_on"] == ["24.3", "24.4", "24.5", "3"]
    assert stories["24"]["children"] == [f"24.{i}" for i in range(1, 13)]
    assert {(f"23.{i}", "23", "subtask") for i in range(1, 9)} <= {(e["from"], e["to"], e["kind"]) for e in plan["edges"]}


def check_chore_champ(plan: dict) -> None:
    # Ralph prd.json: four stories, every one `passes: true`.
    assert plan["project"] == "Chore Champ"
    assert plan["stories"] == [] and plan["excluded"] == {"done": ["US-001", "US-002", "US-003", "US-004"]}


EXPECTED: dict[str, Callable[[dict], None]] = {
    "tasks-json/pathforge.json": check_pathforge,
    "tasks-json/gradebot.json": check_gradebot,
    "taskmaster/testcraft.json": check_testcraft,
    "ralph/chore-champ-prd.json": check_chore_champ,
}
REAL_JSON = sorted(p.relative_to(REAL_WORLD).as_posix() for p in REAL_WORLD.rglob("*.json")) if REAL_WORLD.is_dir() else []


@needs_real_world
@pytest.mark.parametrize("rel", REAL_JSON or list(EXPECTED))
def test_real_world_json_compiles_with_no_sprint(repo: MakeRepo, rel: str) -> None:
    r = repo()  # no storyc.toml, no tasks.json of its own, no sprint: --tasks reads the fixture where it is
    plan = compiled(r, "--tasks", str(REAL_WORLD / rel))
    assert plan["sprint"]["file"] is None
    assert (r.root / "dodo.py").is_file() and not (r.root / "docs").exists()
    # Independently of the checks below: targets are the stories whose status is todo, in progress or blocked.
    assert all(s["family"] in ("todo", "in_progress", "blocked") for s in plan["stories"])
    assert sorted(p.name for p in (r.root / "build/specs").glob("*.md")) == sorted(f"{s['id']}.md" for s in plan["stories"])
    check = EXPECTED.get(rel)
    if check:
        check(plan)


SPRINTS = {
    "Kessai-sprint-01.md": (1, "Foundation", [f"STORY-01.{i}" for i in range(1, 6)], "| {id} |"),
    "dora-comply-sprint-01.md": (1, "Project Setup & Authentication", [f"1.{i}" for i in range(1, 9)], "### Story {id}:"),
    "identity-base-sprint-01.md": (1, "Foundation & Scaffolding", ["S1-API-001", "S1-INFRA-002", "S1-DOCS-003", "S1-DEVOPS-004"], "### {id}:"),
}


REAL_SPRINTS = sorted(p.name for p in (REAL_WORLD / "sprints").glob("*.md")) if REAL_WORLD.is_dir() else []


@needs_real_world
@pytest.mark.parametrize("name", REAL_SPRINTS or sorted(SPRINTS))
def test_real_world_sprint_parses(name: str) -> None:
    path = REAL_WORLD / "sprints" / name
    sprint = parse_sprint(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    for ref in sprint.stories or []:
        assert ref.id in lines[ref.line - 1], (ref, lines[ref.line - 1])  # each id on the line it was read from
    if name not in SPRINTS:
        return
    number, title, ids, row = SPRINTS[name]
    assert (sprint.number, sprint.name) == (number, title)
    assert [ref.id for ref in sprint.stories] == ids
    for ref in sprint.stories:
        assert lines[ref.line - 1].startswith(row.format(id=ref.id)), (ref, lines[ref.line - 1])
    assert sprint.integration == []
