"""Scope is never a guess: where the stories in scope came from is said in one line, and a sprint naming none is refused."""

from __future__ import annotations

import json
import re

TASKS = {
    "project": "Mini",
    "stories": [
        {"id": "US-1", "title": "Accounts", "size": "S"},
        {"id": "US-2", "title": "Catalog", "size": "S"},
        {"id": "US-3", "title": "Cart", "size": "S"},
        {"id": "US-4", "title": "Checkout", "size": "S", "status": "done"},
    ],
}


def compiled(r, *args: str) -> tuple[list[str], str]:
    res = r.run("compile", *args)
    assert res.code == 0, res.output
    plan = json.loads(r.text("build/plan.json"))
    return [s["id"] for s in plan["stories"]], res.stdout


def scope_line(stdout: str) -> str:
    [line] = [line.strip() for line in stdout.splitlines() if line.strip().startswith("scope: ")]
    return line


def test_a_table_of_ids_under_a_heading_storyc_does_not_know_is_the_scope(repo) -> None:
    sprint = "# Sprint 1: Shop\n\n## Work planned\n\n| ID | Title | Owner |\n| --- | --- | --- |\n| US-2 | Catalog | Ann |\n| US-3 | Cart | Bo |\n\n## Risks\n\n| ID | Risk |\n| --- | --- |\n| R-1 | US-1 slips |\n"
    ids, out = compiled(repo(tasks=TASKS, sprint=sprint))
    assert ids == ["US-2", "US-3"]  # not US-1, which only the prose of the risks table names
    assert scope_line(out) == 'scope: 2 stories listed in sprint-001.md under "Work planned" (line 3)'


def test_a_list_or_story_headings_under_an_unknown_heading_are_the_scope(repo) -> None:
    for body in ("## Commitments\n\n- US-1 accounts\n- US-3 cart\n  - needs US-2's API\n", "## Plan\n\n### US-1: Accounts\n\n- after US-2\n\n### US-3: Cart\n"):
        ids, out = compiled(repo(tasks=TASKS, sprint="# Sprint 1\n\n" + body))
        assert ids == ["US-1", "US-3"], body
        assert scope_line(out).startswith("scope: 2 stories listed in sprint-001.md under "), out


def test_a_named_id_column_outside_the_stories_section_names_only_stories(repo) -> None:
    sprint = "# Sprint 1\n\n## Work planned\n\n| ID | Title |\n| --- | --- |\n| US-2 | Catalog |\n| US-9 | Typo |\n"
    r = repo(tasks=TASKS, sprint=sprint)
    r.run("compile").refused(re.escape("the sprint names story 'US-9', which is not in tasks.json"), 8)


def test_ids_only_in_prose_are_the_scope_but_not_those_an_out_of_scope_part_names(repo) -> None:
    sprint = (
        "# Sprint 1: Catalog\n\nThis sprint we build the catalog (US-2)\nand then the cart, US-3.\n"
        "The release notes mention US-1 and story 4.\n\n"
        "## Out of scope\n\nUS-1 waits for the new auth.\n"
    )
    ids, out = compiled(repo(tasks=TASKS, sprint=sprint))
    assert ids == ["US-2", "US-3"]  # US-1: named out of scope; "story 4": not an id of tasks.json
    assert scope_line(out) == "scope: 2 stories named in the text of sprint-001.md (lines 3, 4)"


def test_numbers_in_prose_are_no_integer_ids_unless_written_as_one(repo) -> None:
    tasks = {"tasks": [{"id": n, "title": f"T{n}", "size": "S"} for n in (1, 2, 3)]}
    ids, _ = compiled(repo(tasks=tasks, sprint="# Sprint 1\n\nTwo weeks, 3 people. We do task #2 and Story 3.\n"))
    assert ids == ["2", "3"]


def test_a_sprint_that_names_no_story_is_refused_with_a_hint(repo) -> None:
    r = repo(tasks=TASKS, sprint="# Sprint 1: Polish\n\n## Goal\n\nMake it shine.\n\n## Out of scope\n\n- US-1\n")
    res = r.run("compile")
    res.refused(re.escape("the sprint names no story of tasks.json"), 1)
    assert "such as US-1, US-2" in res.stderr and "## Stories" in res.stderr and "stories: [US-1, US-2]" in res.stderr
    assert not (r.root / "build").exists()


def test_no_sprint_file_puts_every_open_story_in_scope_said_in_one_line(repo) -> None:
    r = repo(tasks=TASKS)
    ids, out = compiled(r)
    assert ids == ["US-1", "US-2", "US-3"]
    assert scope_line(out) == "scope: no sprint file, so every open story of tasks.json (todo, in progress or blocked) and every story storyc built: 3"
    res = r.run("check")
    assert res.code == 0 and scope_line(res.stdout) == scope_line(out)


def test_the_stories_section_says_where_it_is(repo) -> None:
    _, out = compiled(repo(tasks=TASKS, sprint="# Sprint 1\n\n## Stories\n\n- US-1\n- US-2\n"))
    assert scope_line(out) == "scope: 2 stories named in the stories section of sprint-001.md (line 3)"
    _, out = compiled(repo(tasks=TASKS, sprint="---\nstories: [US-3]\n---\n# Sprint 1\n"))
    assert scope_line(out) == "scope: 1 story named in the front matter of sprint-001.md"


def test_stories_without_a_size_are_said_in_one_line_with_what_m_costs(repo) -> None:
    tasks = {"stories": [{"id": "A-1"}, {"id": "A-2", "estimate": "3h"}, {"id": "A-3"}, {"id": "A-4", "status": "done"}]}
    r = repo(tasks=tasks, config='[models]\nsonnet = "claude-sonnet-4-5"\n\n[policy.M]\nmodel = "sonnet"\nreviewer = true\nreview_passes = 2\ntests = "unit"\n')
    _, out = compiled(r)
    [line] = [line.strip() for line in out.splitlines() if line.strip().startswith("size: ")]
    assert line == (
        "size: 2 stories have no size and are planned as M (model claude-sonnet-4-5, 2 review passes by the reviewer, unit tests):"
        " A-1, A-3; give a size (XS-XL) or an estimate to plan otherwise"
    )
    res = r.run("check", "--format", "json")
    assert json.loads(res.stdout)["notes"][1] == line
    _, out = compiled(repo(tasks=TASKS))
    assert "size: " not in out
