"""Real sprint files and spec-kit tasks.md files (tests/fixtures/real-world-2, see its SOURCES.md), compiled as
they are: the stories, dependencies and scope each must compile to, and a status write-back that leaves every
other byte of the file as it was.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from filelock import FileLock

from storyc.compiler.mdstories import clean_status, read_stories
from storyc.compiler.statuses import Family, family_of
from storyc.compiler.tasks import file_words, load_tasks
from storyc.runners.writeback import set_status


def writer(path: Path) -> Callable[..., str | None]:
    """The file as `storyc compile` leaves it for a run: a writer of statuses at the places the compile recorded,
    in the words it read (compiled once, as a run's writes all come after its one compile)."""
    tf = load_tasks(path)
    words = file_words(tf)
    return lambda story_id, family, *, lock: set_status(path, story_id, family, lock=lock, place=tf.place(story_id), words=words)


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real-world-2"
SPRINT = "docs/sprints/sprint-001.md"
SPECKIT = "specs/001-feature/tasks.md"


@dataclass(frozen=True)
class Expect:
    file: str
    stories: list[str]
    targets: list[str]  # the stories to build, in plan order
    edges: set[tuple[str, str]] = field(default_factory=set)  # (from, to) that must be declared edges
    scope: str = ""  # the start of the scope line
    fields: dict[str, dict] = field(default_factory=dict)  # story -> {field: value} it must have in the plan


def ids(prefix: str, numbers) -> list[str]:
    return [f"{prefix}{n}" for n in numbers]


SPRINTS = [
    Expect(
        "sprints/aria-sprint-01.md",
        ["ARIA-11", "ARIA-47", "ARIA-79", "ARIA-43", "ARIA-19", "ARIA-28", "ARIA-57", "ARIA-65", "ARIA-40"],
        ["ARIA-11", "ARIA-47", "ARIA-79", "ARIA-43", "ARIA-19", "ARIA-28", "ARIA-57", "ARIA-65", "ARIA-40"],  # done ones too: their stamps decide
        scope='scope: 9 stories listed in sprint-001.md under "Live status',
        fields={"ARIA-19": {"family": "in_progress", "title": "Register the ARIA client", "epic": "Identity"}, "ARIA-79": {"family": "done", "status": "Done today"}},
    ),
    Expect(
        "sprints/hs-cpq-sprint-01.md",
        ["T001", "T002", "T003", "T004"],
        ["T001", "T002", "T003", "T004"],
        scope='scope: 4 stories listed in sprint-001.md under "Tasks" (line 11)',
        fields={"T003": {"title": "Product Catalog Sync from HubSpot", "size": "M", "size_source": "default"}},
    ),
    Expect(
        "sprints/lexitrend-sprint-backlog.md",
        ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2"],
        ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2"],
        scope="scope: 10 stories listed in sprint-001.md under",
        fields={"3.2": {"status": "To Do", "family": "todo"}},
    ),
    Expect(
        "sprints/contentmax-sprint-1.md",
        ["1.1", "1.2", "1.3", "1.4", "1.5"],
        ["1.1", "1.2", "1.3", "1.4", "1.5"],
        edges={("1.1", "1.2"), ("1.2", "1.3"), ("1.3", "1.4"), ("1.1", "1.5")},
        scope='scope: 5 stories listed in sprint-001.md under "Tasks" (line 14)',
        fields={
            "1.2": {"size": "L", "size_source": "size", "files": ["supabase/migrations/001_initial_schema.sql", "lib/supabase/client.ts", "lib/supabase/server.ts", "types/database.types.ts"], "priority": "P0 - Critical"},
            "1.5": {"size": "S", "acceptance_criteria": ["All base UI components implemented", "Components follow consistent design patterns", "TypeScript interfaces defined for all props", "Components used in dashboard implementation"]},
        },
    ),
    Expect(
        "sprints/ecommerce-product-backlog.md",
        ids("US-", ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]),
        ids("US-", ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]),
        scope='scope: 11 stories listed in sprint-001.md under "Epic-01: Shopping Cart" (line 3)',
        fields={
            "US-08": {"title": "Successful Payment", "acceptance_criteria": ["**Given** the user has items in the cart **When** payment is successful **Then** the order is confirmed **And** the cart is cleared"]},
            "US-09": {"title": "Handle Payment Failure"},
            "US-11": {"acceptance_criteria": []},  # its criteria sit under the next heading, which is no story
        },
    ),
]

SPECKITS = [
    Expect(
        "speckit/jsf-autoreload-tasks.md",
        ids("T", [f"{n:03d}" for n in range(1, 12)]),
        ids("T", [f"{n:03d}" for n in range(1, 12)]),
        edges={("T001", "T002"), ("T003", "T004"), ("T008", "T009"), ("T004", "T009"), ("T006", "T009"), ("T009", "T010"), ("T010", "T011")},
        scope="scope: no sprint file, so every open story of tasks.md (todo, in progress or blocked) and every story storyc built: 11",
        fields={"T007": {"family": "todo", "epic": "US2", "files": [".github/workflows/ci.yml", "specs/004-maven-publish-cicd/contracts/ci-workflow.yml"]}},
    ),
    Expect(
        "speckit/mini-todo-sqlite-tasks.md",
        ids("T", [f"{n:03d}" for n in range(1, 20)]),
        ids("T", [f"{n:03d}" for n in range(1, 20)]),
        edges={("T001", "T002"), ("T001", "T003"), ("T002", "T005"), ("T004", "T005"), ("T005", "T006"), ("T014", "T016"), ("T017", "T019")},
        scope="scope: no sprint file, so every open story of tasks.md",
        fields={"T002": {"extra": {"phase": 1}}, "T006": {"files": ["lib/prisma.ts"]}},
    ),
]

NARRATIVES = ["narrative/f76-tools-sprint-01.md", "narrative/distributed-ai-sprint-01.md", "narrative/money-tide-sprint-backlog.md", "narrative/goodmarket-sprint-01.md", "narrative/900api-sprint-1.md"]


def test_every_fixture_is_listed_in_sources_and_checked_here() -> None:
    files = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.md") if p.name != "SOURCES.md")
    tested = sorted([e.file for e in SPRINTS + SPECKITS] + NARRATIVES)
    assert files == tested
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    for name in files:
        row = next(line for line in sources.splitlines() if f"`{name}`" in line)
        assert re.search(r"\| `[0-9a-f]{40}` \|", row), row
    assert len(files) >= 12


def compiled(r, *args: str) -> tuple[dict, str]:
    res = r.run("compile", *args)
    assert res.code == 0, res.output
    return json.loads(r.text("build/plan.json")), res.stdout


def check_plan(plan: dict, out: str, exp: Expect) -> None:
    stories = {s["id"]: s for s in plan["stories"]}
    assert list(stories) == exp.stories
    assert [s["id"] for s in plan["stories"] if s["target"]] == exp.targets
    declared = {(e["from"], e["to"]) for e in plan["edges"] if e["kind"] == "declared"}
    assert exp.edges <= declared, exp.edges - declared
    assert any(line.strip().startswith(exp.scope) for line in out.splitlines()), out
    for sid, values in exp.fields.items():
        for key, value in values.items():
            assert stories[sid][key] == value, (sid, key)


@pytest.mark.parametrize("exp", SPRINTS, ids=[e.file for e in SPRINTS])
def test_a_sprint_file_alone_compiles_to_its_stories(repo, exp: Expect) -> None:
    r = repo()
    r.write(SPRINT, (FIXTURES / exp.file).read_bytes())
    plan, out = compiled(r)
    check_plan(plan, out, exp)
    assert plan["inputs"]["tasks"]["path"] == SPRINT
    assert f"stories: {len(exp.stories)} stories from sprint-001.md (no tasks.json)" in out


@pytest.mark.parametrize("exp", SPECKITS, ids=[e.file for e in SPECKITS])
def test_a_spec_kit_tasks_file_compiles_to_its_tasks(repo, exp: Expect) -> None:
    r = repo()
    r.write(SPECKIT, (FIXTURES / exp.file).read_bytes())
    plan, out = compiled(r, "--tasks", SPECKIT)
    assert plan["stories"] == [] and plan["excluded"] == {"done": exp.stories}  # every box is ticked
    # The same file with every box cleared: every task is a target, phases and [P] as the file says.
    r.write(SPECKIT, (FIXTURES / exp.file).read_bytes().replace(b"- [X]", b"- [ ]"))
    plan, out = compiled(r, "--tasks", SPECKIT)
    check_plan(plan, out, exp)
    waves = {sid: n for n, wave in enumerate(plan["waves"], 1) for sid in wave}
    for before, after in exp.edges:
        assert waves[before] < waves[after]


@pytest.mark.parametrize("name", NARRATIVES)
def test_a_narrative_sprint_is_refused_with_what_storyc_looked_for(repo, name: str) -> None:
    r = repo()
    r.write(SPRINT, (FIXTURES / name).read_bytes())
    res = r.run("compile")
    res.refused(re.escape("docs/tasks/tasks.json does not exist, and sprint-001.md carries no stories"))
    assert "a table with an id column" in res.stderr and "checklist items that start with an id" in res.stderr
    assert not (r.root / "build").exists()


def _status_places(path: Path) -> list[tuple[str, object]]:
    found = read_stories(path.read_text(encoding="utf-8"), path)
    return [(story.id, span) for story in found.stories for span in story.spans]


WRITABLE = ["sprints/aria-sprint-01.md", "sprints/lexitrend-sprint-backlog.md", "speckit/jsf-autoreload-tasks.md", "speckit/mini-todo-sqlite-tasks.md"]


@pytest.mark.parametrize("name", WRITABLE)
def test_a_status_written_back_changes_only_its_cell_or_box(tmp_path: Path, name: str) -> None:
    original = (FIXTURES / name).read_bytes()
    places = _status_places(FIXTURES / name)
    assert places
    lock = FileLock(str(tmp_path / "lock"))
    path = tmp_path / "copy.md"
    path.write_bytes(original)
    run = writer(path)
    for story_id, span in places:
        for family in (Family.DONE, Family.IN_PROGRESS, Family.TODO):
            path.write_bytes(original)
            run(story_id, family, lock=lock)
            new = path.read_bytes()
            old_lines, new_lines = original.split(b"\n"), new.split(b"\n")
            assert len(old_lines) == len(new_lines)
            changed = [k for k, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
            assert changed in ([], [span.line - 1]), (story_id, family, changed)
            if changed:
                before, after = old_lines[span.line - 1].decode(), new_lines[span.line - 1].decode()
                assert after[: span.start] == before[: span.start]
                assert after.endswith(before[before.index("|", span.end) :] if span.kind == "cell" else before[span.end :])
            # What was written reads back as the family (a box can only say done or not).
            reread = {sid for sid, _ in _status_places(path)}
            word = new.split(b"\n")[span.line - 1].decode()[span.start : span.start + 40]
            if span.kind == "box":
                assert (word[0] in "xX") == (family is Family.DONE) or family is Family.IN_PROGRESS
            else:
                cell = word.split("|")[0]
                assert family_of(clean_status(cell)) is family, (story_id, family, cell)
            assert story_id in reread


def test_a_box_cleared_and_ticked_again_gives_back_the_very_same_bytes(tmp_path: Path) -> None:
    lock = FileLock(str(tmp_path / "lock"))
    for name in ("speckit/jsf-autoreload-tasks.md", "speckit/mini-todo-sqlite-tasks.md"):
        original = (FIXTURES / name).read_bytes()
        path = tmp_path / Path(name).name
        path.write_bytes(original)
        run = writer(path)
        assert run("T003", Family.TODO, lock=lock) == " "
        assert path.read_bytes().count(b"- [ ] T003") == 1
        assert run("T003", Family.DONE, lock=lock) == "X"  # the file ticks its boxes with X
        assert path.read_bytes() == original
        assert run("T003", Family.DONE, lock=lock) is None  # already done: nothing written


def test_a_status_cell_keeps_the_file_s_own_words(tmp_path: Path) -> None:
    lock = FileLock(str(tmp_path / "lock"))
    path = tmp_path / "aria.md"
    shutil.copy(FIXTURES / "sprints/aria-sprint-01.md", path)
    run = writer(path)
    assert run("ARIA-28", Family.DONE, lock=lock) == "✅ **Done**"
    assert run("ARIA-19", Family.TODO, lock=lock) == "⬜ To Do"
    text = path.read_text(encoding="utf-8")
    assert "| **ARIA-28** `aria-identity` sign/verify | Identity | ✅ **Done** | **code** |" in text
    assert "| **ARIA-19** Register the ARIA client | Identity | ⬜ To Do | config |" in text  # rows not lined up: none padded
    path = tmp_path / "lexi.md"
    shutil.copy(FIXTURES / "sprints/lexitrend-sprint-backlog.md", path)
    run = writer(path)
    assert run("2.3", Family.DONE, lock=lock) == "Done"  # no Done cell yet: the word in the file's case
    assert "。| Done | Ellyn |" in path.read_text(encoding="utf-8")
    assert run("3.2", Family.TODO, lock=lock) is None
    assert path.read_bytes().endswith(b"| To Do | Ellyn | ")  # no newline at the end, as the file had none
