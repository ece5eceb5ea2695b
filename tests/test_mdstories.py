"""Inputs as people write them: a sprint file that carries its stories, spec-kit's tasks.md, and the status
written back where the file keeps it. Driven through `storyc compile` on files in a temporary repository."""

from __future__ import annotations

import json
import re
from pathlib import Path

from filelock import FileLock

from storyc.compiler.tasks import file_words, load_tasks
from storyc.plan import Family, load_plan
from storyc.runners.writeback import set_status

SPRINT = "docs/sprints/sprint-001.md"


def compiled(r, *args: str) -> tuple[dict, str]:
    res = r.run("compile", *args)
    assert res.code == 0, res.output
    plan = json.loads(r.text("build/plan.json"))
    return {s["id"]: s for s in plan["stories"]} | {"": plan}, res.stdout


def test_per_story_sections_with_full_width_colons_lists_and_ac_tables(repo) -> None:
    r = repo(sprint="""# Sprint 4：购物车

## 用户故事

### US-56：商品列表

**状态：** 完成

### US-57：购物车

作为顾客，我想把商品放进购物车。

Depends on: US-56

**验收标准：**
- 可以添加商品
- 数量可以修改

## Story 1.2: Checkout

**Points:** 8 | **Status:** In review

| AC | Criterion |
| --- | --- |
| AC1 | An order is created |
| AC2 | The cart is emptied |

| Given | When | Then |
| --- | --- | --- |
| a full cart | I pay | I get a receipt |

after US-57
""", config='[statuses]\n"完成" = "done"\n')
    stories, out = compiled(r)
    assert [s for s in stories if s] == ["US-56", "US-57", "1.2"]
    assert stories["US-56"]["family"] == "done" and stories["US-56"]["title"] == "商品列表"
    assert stories["US-57"]["depends_on"] == ["US-56"]
    assert stories["US-57"]["acceptance_criteria"] == ["可以添加商品", "数量可以修改"]
    assert stories["US-57"]["description"] == "作为顾客，我想把商品放进购物车。"
    story = stories["1.2"]
    assert (story["title"], story["size"], story["size_source"], story["family"]) == ("Checkout", "L", "points", "in_progress")
    assert story["acceptance_criteria"] == ["An order is created", "The cart is emptied", "Given a full cart When I pay Then I get a receipt"]
    assert story["depends_on"] == ["US-57"]
    assert "stories: 3 stories from sprint-001.md (no tasks.json)" in out


def test_tables_are_found_by_their_content_and_merged_by_id(repo) -> None:
    r = repo(sprint="""# Sprint 2

## Product Backlog

| Key | Summary | Story Points | Beschreibung |
| --- | --- | --- | --- |
| SHOP-1 | Login | 3 | Log in with e-mail |
| SHOP-2 | Cart | 13 | |
| SHOP-3 | Search | 1 | Not this sprint |

## Sprint Backlog

| Story | Stav | Depends on | Estimate |
| --- | --- | --- | --- |
| SHOP-2 | Done | SHOP-1 | 1.5d |
| SHOP-1 | To do | — | |
""")
    stories, out = compiled(r)
    # The product backlog defines SHOP-3; the sprint backlog names the scope. "Stav" is read as a status by its words.
    assert [s for s in stories if s] == ["SHOP-1", "SHOP-2"]
    assert (stories["SHOP-1"]["title"], stories["SHOP-1"]["size"], stories["SHOP-1"]["description"]) == ("Login", "S", "Log in with e-mail")
    assert (stories["SHOP-2"]["size"], stories["SHOP-2"]["size_source"], stories["SHOP-2"]["hours"]) == ("L", "estimate", 12.0)  # hours beat points
    assert stories["SHOP-2"]["depends_on"] == ["SHOP-1"] and stories["SHOP-2"]["extra"]["points"] == 13
    assert stories["SHOP-2"]["family"] == "done" and stories["SHOP-2"]["target"]  # done, and still a target: its stamp decides
    assert 'scope: 2 stories named in the stories section of sprint-001.md (line 11)' in out


def test_a_status_column_is_found_by_its_words_whatever_its_header(repo) -> None:
    r = repo(sprint="# Sprint 1\n\n## Stories\n\n| ID | Titel | Stav |\n| --- | --- | --- |\n| A-1 | Eins | Done |\n| A-2 | Zwei | In progress |\n")
    stories, out = compiled(r)
    assert (stories["A-1"]["family"], stories["A-2"]["family"]) == ("done", "in_progress")
    assert [s["id"] for s in stories[""]["stories"] if s["target"]] == ["A-1", "A-2"]


def test_dependencies_come_from_their_column_and_labelled_lines_never_from_prose(repo) -> None:
    r = repo(sprint="""# Sprint 1

## Stories

| ID | Title | Dependencies |
| --- | --- | --- |
| US-1 | Accounts | None |
| US-2 | Catalog | |
| US-3 | Cart | US-1, Story US-2 |

### US-2: Catalog

The catalog reuses what US-1 built, and is blocked only by the review of US-1.
""")
    stories, _ = compiled(r)
    assert stories["US-3"]["depends_on"] == ["US-1", "US-2"]
    assert stories["US-2"]["depends_on"] == [] and stories["US-1"]["depends_on"] == []


def test_unknown_status_words_of_a_sprint_are_reported_at_once_with_their_lines(repo) -> None:
    r = repo(sprint="# Sprint 1\n\n## Stories\n\n| ID | Title | Status |\n| --- | --- | --- |\n| A-1 | One | Parked |\n| A-2 | Two | Sorta |\n| A-3 | Three | READY_AFTER_DEPENDENCIES |\n")
    res = r.run("compile")
    res.refused(re.escape("2 status words belong to no status family: 'Parked', 'Sorta'"), 7)
    assert "  'Parked': line 7\n  'Sorta': line 8\n" in res.stderr
    r.config(res.stderr.split("hint: ", 1)[1].split("\n", 1)[1])
    stories, out = compiled(r)
    assert "status 'READY_AFTER_DEPENDENCIES' read as todo (by its part 'ready')" in out


def test_a_story_in_tasks_json_gets_what_the_sprint_adds_and_tasks_json_wins(repo) -> None:
    tasks = {"stories": [{"id": "US-1", "title": "Accounts", "status": "todo"}, {"id": "US-2", "title": "Cart", "size": "S", "depends_on": []}]}
    r = repo(tasks=tasks, sprint="""# Sprint 1

## Stories

| ID | Title | Size | Status | Depends on |
| --- | --- | --- | --- | --- |
| US-1 | Other title | L | Done | |
| US-2 | Cart | M | To do | US-1 |

### US-1: Accounts

**Acceptance criteria:**
- an account has an e-mail
""")
    stories, out = compiled(r)
    one, two = stories["US-1"], stories["US-2"]
    assert (one["title"], one["size"], one["status"]) == ("Accounts", "L", "todo")  # status and title: tasks.json's
    assert one["acceptance_criteria"] == ["an account has an e-mail"]
    assert (two["size"], two["depends_on"]) == ("S", [])  # tasks.json says S and no dependencies: it wins
    assert "gaps: sprint-001.md filled what tasks.json leaves out for 1 story: US-1 (acceptance criteria, size)" in out


def test_a_story_only_the_sprint_knows_is_still_an_error_when_tasks_json_exists(repo) -> None:
    r = repo(tasks={"stories": [{"id": "US-1"}]}, sprint="# Sprint 1\n\n## Stories\n\n| ID | Title | Status |\n| --- | --- | --- |\n| US-1 | A | To do |\n| US-7 | B | To do |\n")
    r.run("compile").refused(re.escape("the sprint names story 'US-7', which is not in tasks.json"), 8)


def test_the_status_goes_back_into_the_sprint_file_and_nothing_else_changes(repo, tmp_path: Path) -> None:
    text = "# Sprint 1\n\n## Stories\n\n| ID | Title | Status |\n|----|-------|--------|\n| A-1 | One | Done |\n| A-2 | Two | Todo |\n\n### A-3: Three\n\n**Status:** Todo | **Owner:** me\n"
    r = repo(sprint=text)
    compiled(r)
    plan = load_plan(r.root / "build/plan.json")  # where the compile says each status is written, and in which words
    path = r.root / SPRINT
    lock = FileLock(str(tmp_path / "lock"))

    def run(story_id: str, family: Family) -> str | None:
        return set_status(path, story_id, family, lock=lock, place=plan.story(story_id).status_at, words=plan.status_words)

    assert run("A-2", Family.DONE) == "Done"
    assert run("A-3", Family.IN_PROGRESS) == "In Progress"
    assert path.read_text() == text.replace("| A-2 | Two | Todo |", "| A-2 | Two | Done |").replace("**Status:** Todo |", "**Status:** In Progress |")
    assert run("A-1", Family.DONE) is None


def test_a_story_whose_file_keeps_no_status_is_left_alone(repo, tmp_path: Path) -> None:
    text = "# Sprint 1\n\n## Stories\n\n| ID | Title |\n|----|-------|\n| A-1 | One |\n"
    r = repo(sprint=text)
    stories, _ = compiled(r)
    assert stories["A-1"]["status_at"] is None  # nowhere to write: storyc's record keeps its status
    plan = load_plan(r.root / "build/plan.json")
    assert set_status(r.root / SPRINT, "A-1", Family.DONE, lock=FileLock(str(tmp_path / "lock")), place=None, words=plan.status_words) is None
    assert r.text(SPRINT) == text


SPECKIT = """# Tasks: Demo

## Phase 1: Setup

- [x] T001 Create the project in `pyproject.toml`
- [ ] T002 [P] Add a linter config in .ruff.toml and `ruff.toml`
- [ ] T003 [P] Add src/app/__init__.py

## Phase 2: User Story 1 - Greet (Priority: P1)

**Independent Test**: run the CLI in src/app/cli.py

- [ ] T004 [US1] Write tests in tests/test_greet.py
- [ ] T005 [P] [US1] Implement greet() in src/app/greet.py
- [ ] T006 [P] [US1] Implement the CLI in src/app/cli.py (depends on T001)

## Phase 3: User Story 2 - Bye (Priority: P2)

**Dependencies**: Requires US1

- [X] T007 [US2] Implement bye() in src/app/bye.py

```bash
Task: "T099 Implement something else"
- [ ] T098 not a task either
```
"""


def test_spec_kit_phases_wait_for_each_other_and_p_tasks_run_in_parallel(repo) -> None:
    r = repo(config='[paths]\ntasks = "specs/001-demo/tasks.md"\n')
    r.write("specs/001-demo/tasks.md", SPECKIT)
    stories, out = compiled(r)
    plan = stories.pop("")
    assert list(stories) == ["T002", "T003", "T004", "T005", "T006"]  # T001 and T007 are done, T098/T099 are examples
    assert plan["excluded"] == {"done": ["T001", "T007"]}
    deps = {sid: s["depends_on"] for sid, s in stories.items()}
    assert deps == {"T002": ["T001"], "T003": ["T001"], "T004": ["T001", "T002", "T003"], "T005": ["T004"], "T006": ["T001", "T004"]}
    assert plan["waves"] == [["T002", "T003"], ["T004"], ["T005", "T006"]]
    assert stories["T005"]["files"] == ["src/app/greet.py"] and stories["T002"]["files"] == ["ruff.toml"]
    assert (stories["T004"]["epic"], stories["T004"]["extra"]["phase"]) == ("US1", 2)


def test_a_spec_kit_phase_honours_its_requires_line(repo) -> None:
    r = repo()
    r.write("tasks.md", SPECKIT.replace("- [X] T007", "- [ ] T007"))
    stories, _ = compiled(r, "--tasks", "tasks.md")
    assert stories["T007"]["depends_on"] == ["T004", "T005", "T006"]  # the phase before (every [US1] task, as its Requires line says)


def test_write_back_ticks_the_box_of_a_spec_kit_task(repo, tmp_path: Path) -> None:
    path = tmp_path / "tasks.md"
    path.write_text(SPECKIT)
    lock = FileLock(str(tmp_path / "lock"))
    tf = load_tasks(path)
    words = file_words(tf)
    assert set_status(path, "T005", Family.DONE, lock=lock, place=tf.place("T005"), words=words) == "x"  # one x, one X: the lower case wins the tie
    assert set_status(path, "T005", Family.IN_PROGRESS, lock=lock, place=tf.place("T005"), words=words) is None  # a box says done or not
    assert set_status(path, "T001", Family.TODO, lock=lock, place=tf.place("T001"), words=words) == " "
    assert path.read_text() == SPECKIT.replace("- [ ] T005", "- [x] T005").replace("- [x] T001", "- [ ] T001")


def test_a_narrative_file_named_as_tasks_is_refused_with_what_storyc_looked_for(repo) -> None:
    r = repo()
    r.write("notes.md", "# Plan\n\n## Tasks\n\n- [ ] Set up the repo\n- [ ] Write the README\n\n| Who | What |\n|---|---|\n| Ann | docs |\n")
    res = r.run("compile", "--tasks", "notes.md")
    res.refused(re.escape("notes.md carries no stories"), 5)
    assert "it has 2 checklist item(s) without an id (first on line 5); 1 table(s) without an id column" in res.stderr
    assert "- [ ] US-001 Create the project" in res.stderr


def test_the_project_of_a_sprint_alone_and_its_scope_without_a_stories_section(repo) -> None:
    r = repo(sprint="# Sprint 3: Polish\n\n## US-1: Fonts\n\n**Status:** Done\n\n## US-2: Colours\n\nMake them calm.\n", name="acme")
    stories, out = compiled(r)
    assert [s["id"] for s in stories[""]["stories"] if s["target"]] == ["US-1", "US-2"]
    assert stories[""]["project"] == "acme"
    assert "scope: 2 stories listed in sprint-001.md under its top-level headings" in out
