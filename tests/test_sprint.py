"""compiler.sprint: the sprint file read from markdown-it's block structure (GFM tables, lists, headings, front matter), and what `storyc compile` makes of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from storyc.compiler.sprint import parse_sprint
from storyc.errors import InputError


def parse(tmp_path: Path, text: str):
    path = tmp_path / "sprint-004.md"
    path.write_text(text, encoding="utf-8")
    return parse_sprint(path)


def ids(sprint) -> list[tuple[str, int]]:
    return [(ref.id, ref.line) for ref in sprint.stories]


def test_table_rows_keep_their_file_lines(tmp_path: Path) -> None:
    sprint = parse(
        tmp_path,
        "# Sprint 4: Checkout\n\n## Stories in Scope\n\n| Title | Story |\n|:--|--:|\n| Cart | **US-002** |\n| Tax | [US-003](x.md) |\n",
    )
    assert (sprint.number, sprint.name) == (4, "Checkout")
    assert ids(sprint) == [("US-002", 7), ("US-003", 8)]


def test_a_table_may_interrupt_a_paragraph_and_ends_at_a_line_without_a_pipe(tmp_path: Path) -> None:
    sprint = parse(
        tmp_path,
        "## Goal\n\nShip the cart.\n\n## Stories\n\nThese are in:\n| ID | Title |\n| --- | --- |\n| US-1 | A |\nUS-9 is not a row\n",
    )
    assert sprint.goal == "Ship the cart."
    assert ids(sprint) == [("US-1", 10)]


def test_escaped_pipes_stay_in_their_cell_and_short_rows_are_padded(tmp_path: Path) -> None:
    sprint = parse(
        tmp_path,
        "## Integration Points\n\n| Integration Point | Stories Involved | Verification |\n| --- | --- | --- |\n"
        "| Cart → Tax | US-2 → US-3 | `pytest -k 'a \\| b'` |\n",
    )
    [row] = sprint.integration
    assert (row.name, row.stories, row.verification, row.line) == ("Cart → Tax", ["US-2", "US-3"], "`pytest -k 'a | b'`", 5)
    with pytest.raises(InputError, match="has no verification") as info:
        parse(tmp_path, "## Integration Points\n\n| Point | Stories | Verification |\n|---|---|---|\n| A | US-1 |\n")
    assert info.value.where.line == 5


def test_notes_in_parentheses_are_not_story_ids(tmp_path: Path) -> None:
    sprint = parse(tmp_path, "## Integration Points\n\n| Point | Stories | Verification |\n|---|---|---|\n| Cart | US-1 → US-4 (wave 2) | Integration test |\n")
    assert sprint.integration[0].stories == ["US-1", "US-4"]


def test_a_table_in_a_code_block_is_not_read(tmp_path: Path) -> None:
    sprint = parse(tmp_path, "## Stories\n\n```\n| ID |\n| -- |\n| US-7 |\n```\n\n- US-1 first\n- US-2 second\n")
    assert ids(sprint) == [("US-1", 9), ("US-2", 10)]


def test_a_pipe_line_without_a_delimiter_row_is_text(tmp_path: Path) -> None:
    sprint = parse(tmp_path, "## Stories\n\n| US-5 | not a table |\n| US-6 | either |\n")
    assert sprint.stories == []


def test_front_matter_shifts_lines_and_wins_over_the_heading(tmp_path: Path) -> None:
    sprint = parse(tmp_path, "---\nsprint: 9\nname: Payments\n---\n# Sprint 4: Old\n\n## Stories\n\n| ID |\n|----|\n| P-1 |\n")
    assert (sprint.number, sprint.name) == (9, "Payments")
    assert ids(sprint) == [("P-1", 11)]


def test_the_title_opens_no_section_even_when_it_says_stories(tmp_path: Path) -> None:
    sprint = parse(
        tmp_path,
        "# Sprint 7: Load (100 stories)\n\n## Goal\n\nShip it.\n\n## Stories\n\n- US-1\n\n"
        "## Integration Points\n\n| Point | Stories | Verification |\n|---|---|---|\n| A | US-1 | E2E test |\n",
    )
    assert (sprint.number, sprint.name, sprint.goal) == (7, "Load (100 stories)", "Ship it.")
    assert ids(sprint) == [("US-1", 9)]
    assert [row.name for row in sprint.integration] == ["A"]


def test_ids_with_a_colon_are_read_whole(tmp_path: Path) -> None:
    sprint = parse(tmp_path, "## Stories\n\n- PROJ:1 Login\n- US-2: Logout\n")
    assert ids(sprint) == [("PROJ:1", 3), ("US-2", 4)]


def test_a_note_in_parentheses_does_not_exclude_a_stories_heading(tmp_path: Path) -> None:
    sprint = parse(tmp_path, "# Sprint 2\n\n## Stories (refined later)\n\n- US-1\n")
    assert ids(sprint) == [("US-1", 5)]


def test_an_underscore_inside_an_id_is_no_emphasis(tmp_path: Path) -> None:
    sprint = parse(tmp_path, "## Stories\n\n| ID | Title |\n|----|----|\n| STORY_1 | _Login_ |\n| **STORY_2** | x |\n")
    assert ids(sprint) == [("STORY_1", 5), ("STORY_2", 6)]


def test_stories_grouped_under_items_without_ids_are_read_and_a_storys_own_items_are_not(tmp_path: Path) -> None:
    sprint = parse(tmp_path, "## Stories\n\n- Epic: cart\n  - US-4 Cart\n  - US-5 Tax\n- US-6 Login\n  - 2FA works\n")
    assert [(ref.id, ref.line, ref.certain) for ref in sprint.stories] == [("Epic", 3, False), ("US-4", 4, True), ("US-5", 5, True), ("US-6", 6, True)]


def test_a_bare_link_to_the_tracker_names_the_story_at_its_end(tmp_path: Path) -> None:
    sprint = parse(tmp_path, "## Stories\n\n| Story | Title |\n|---|---|\n| https://jira.example.com/browse/US-4 | Cart |\n- <https://x.example/US-5>\n")
    assert ids(sprint) == [("US-4", 5), ("US-5", 6)]


# ================================================================ regressions, through `storyc compile`
# Front matter, story references, the stories section, integration slugs: each test failed before its fix.

TASKS = {"stories": [{"id": "US-1", "title": "A"}, {"id": "US-2", "title": "B"}, {"id": "login", "title": "Log in"}]}
SPRINT = "docs/sprints/sprint-001.md"
INTEGRATION = "\n## Integration Points\n\n| Integration Point | Stories Involved | Verification |\n| --- | --- | --- |\n"


def plan_of(r) -> dict:
    res = r.run("compile")
    assert res.code == 0, res.output
    return json.loads(r.text("build/plan.json"))


def story_ids(r) -> list[str]:
    return [s["id"] for s in plan_of(r)["stories"]]


# Front matter


def test_a_sprint_number_int_cannot_read_is_not_a_number(repo) -> None:
    # "²".isdigit() is true, int("²") fails; and a YAML true is no sprint number.
    for value, number in (('"²"', 1), ("true", 1), ('" 7 "', 7)):
        r = repo(tasks=TASKS, sprint=f"---\nsprint: {value}\n---\n# S\n\n## Stories\n\n- US-1\n")
        assert plan_of(r)["sprint"]["number"] == number, value


def test_an_impossible_date_in_front_matter_is_an_input_error(repo) -> None:
    r = repo(tasks=TASKS, sprint="---\nsprint: 1\ndate: 2024-13-45\n---\n# S\n\n## Stories\n\n- US-1\n")
    res = r.run("check")
    res.refused(re.escape("front matter is not valid YAML: '2024-13-45' is not a date"), 3)
    assert "YYYY-MM-DD" in res.stderr


def test_any_failure_to_load_front_matter_is_an_input_error(repo) -> None:
    nested = "[" * 5000 + "]" * 5000
    r = repo(tasks=TASKS, sprint=f"---\nsprint: 1\nx: {nested}\n---\n# S\n\n## Stories\n\n- US-1\n")
    res = r.run("check")
    assert res.code == 2, res.output
    assert "Traceback" not in res.output and "error: front matter" in res.stderr and "  hint: " in res.stderr


# Story references without a digit: kept when they are story ids


def test_a_list_item_without_a_digit_is_a_story_when_it_is_one(repo) -> None:
    r = repo(tasks=TASKS, sprint="# Sprint 1\n\n## Stories\n\n- login\n- US-2\n- Carry over the rest\n")
    assert story_ids(r) == ["US-2", "login"]


def test_references_without_a_digit_are_read_alike_in_lists_tables_and_headings(repo) -> None:
    unnamed = "# Sprint 1\n\n## Stories\n\n| Ref | Title |\n| --- | --- |\n| login | Log in |\n| misc | not a story |\n"
    heading = "# Sprint 1\n\n## Stories\n\n### login: Log in\n\nText.\n\n### Notes\n\nMore.\n"
    for text in (unnamed, heading):
        assert story_ids(repo(tasks=TASKS, sprint=text)) == ["login"], text


def test_a_word_in_the_named_id_column_must_be_a_story(repo) -> None:
    r = repo(tasks=TASKS, sprint="# Sprint 1\n\n## Stories\n\n| ID | Title |\n| --- | --- |\n| US-1 | A |\n| logn | Log in |\n")
    res = r.run("check")
    res.refused(re.escape("the sprint names story 'logn', which is not in tasks.json"), 8)
    assert "did you mean login?" in res.stderr


def test_parsed_references_say_whether_they_surely_are_ids(tmp_path: Path) -> None:
    path = tmp_path / "sprint-002.md"
    path.write_text("## Stories\n\n- login\n- US-1\n\n| ID |\n| -- |\n| auth |\n", encoding="utf-8")
    assert [(ref.id, ref.line, ref.certain) for ref in parse_sprint(path).stories] == [("login", 3, False), ("US-1", 4, True), ("auth", 8, True)]


# Several ids in one cell


def test_a_cell_of_the_id_column_may_name_several_stories(tmp_path: Path) -> None:
    path = tmp_path / "sprint-002.md"
    path.write_text(
        "## Stories\n\n| Story | Title |\n| --- | --- |\n| US-1, US-2 | both |\n| US-3 and Story US-4 | two |\n| US-5; US-6 / auth | three |\n",
        encoding="utf-8",
    )
    refs = [(ref.id, ref.line) for ref in parse_sprint(path).stories]
    assert refs == [("US-1", 5), ("US-2", 5), ("US-3", 6), ("US-4", 6), ("US-5", 7), ("US-6", 7), ("auth", 7)]


def test_both_ids_of_a_cell_are_in_scope(repo) -> None:
    r = repo(tasks=TASKS, sprint="# Sprint 1\n\n## Stories\n\n| Story | Title |\n| --- | --- |\n| US-1, US-2 | both |\n")
    assert story_ids(r) == ["US-1", "US-2"]


# A stories section that names no story


def test_a_stories_section_without_a_story_is_an_input_error_and_keeps_the_build(repo) -> None:
    r = repo(tasks=TASKS, sprint="# Sprint 1\n\n## Stories in Scope\n\n| Story | Title |\n| --- | --- |\n| US-1 | a |\n")
    assert story_ids(r) == ["US-1"]
    before = r.snapshot()
    r.sprint("# Sprint 1\n\n## Stories in Scope\n\n| Story | Title |\n| US-1 | a |\n| US-2 | b |\n")  # no delimiter row: not a table
    res = r.run("compile")
    res.refused(re.escape("the stories section names no story"), 3)
    assert "delimiter row" in res.stderr
    assert r.snapshot() == before


def test_a_stories_section_of_words_that_are_no_stories_is_an_input_error(repo) -> None:
    r = repo(tasks=TASKS, sprint="# Sprint 1\n\n## Stories\n\n- Logn page\n- Polish\n")
    res = r.run("check")
    res.refused(re.escape("the stories section names no story"), 3)
    assert "'Logn' (line 5)" in res.stderr


def test_front_matter_may_list_no_story(repo) -> None:
    r = repo(tasks=TASKS, sprint="---\nstories: []\n---\n# Sprint 1\n")
    assert story_ids(r) == []


# Integration point slugs


def test_integration_points_named_without_latin_letters_get_their_own_slugs(repo) -> None:
    sprint = "# Sprint 1\n\n## Stories\n\n- US-1\n- US-2\n" + INTEGRATION + "| Корзина | US-1 | Integration test |\n| Каталог | US-2 | Integration test |\n"
    points = plan_of(repo(tasks=TASKS, sprint=sprint))["integration_points"]
    assert [p["slug"] for p in points] == ["корзина", "каталог"]


def test_integration_points_whose_slugs_clash_are_both_named(repo) -> None:
    head = "# Sprint 1\n\n## Stories\n\n- US-1\n- US-2\n" + INTEGRATION
    r = repo(tasks=TASKS, sprint=head + "| Cart tax | US-1 | Integration test |\n| Cart-Tax! | US-2 | Integration test |\n")
    res = r.run("compile")
    res.refused(re.escape("integration points 'Cart tax' (line 12) and 'Cart-Tax!' (line 13) both get the slug 'cart-tax'"), 13)
    r = repo(tasks=TASKS, sprint=head + "| Cart | US-1 | Integration test |\n| Cart | US-2 | Integration test |\n")
    r.run("compile").refused(re.escape("two integration points are both named 'Cart' (lines 12 and 13)"), 13)
    r = repo(tasks=TASKS, sprint=head + "| ¿? | US-1 | Integration test |\n| !! | US-2 | Integration test |\n")
    r.run("compile").refused(re.escape("integration points '¿?' (line 12) and '!!' (line 13) both get the slug 'point'"), 13)


# Sections that say their stories are not in the sprint


def test_stories_under_an_out_of_scope_heading_are_not_in_the_sprint(repo) -> None:
    table = "\n| ID | Reason |\n| --- | --- |\n| US-1 | next sprint |\n"
    for text in (
        "## Stories in Scope\n\n- US-2\n\n## Out of Scope\n" + table,
        "## Stories in Scope\n\n- US-2\n\n## Stories not in scope\n\n- US-1\n",
        "## Committed stories\n\n- US-2\n\n## Deferred stories\n\n- US-1\n",
        "## Sprint Backlog\n\n- US-2\n\n## Removed from scope\n\n- US-1\n",
        "## Stories\n\n### Committed\n\n- US-2\n\n### Won't do\n\n#### Backend\n\n- US-1\n",
    ):
        assert story_ids(repo(tasks=TASKS, sprint="# Sprint 1\n\n" + text)) == ["US-2"], text


def test_an_out_of_scope_section_alone_is_no_stories_section(tmp_path: Path) -> None:
    path = tmp_path / "sprint-002.md"
    path.write_text("# Sprint 2\n\n## Out of scope\n\n- US-1\n\n### Stories\n\n- US-2\n", encoding="utf-8")
    assert parse_sprint(path).stories is None


def test_a_title_that_says_stories_opens_no_empty_stories_section(repo) -> None:
    # Not "the stories section names no story" at the title: the sprint has no stories section, and names none.
    r = repo(tasks=TASKS, sprint="# Sprint 1: Cart (3 stories)\n\n## Goal\n\nShip the cart.\n")
    r.run("check").refused(re.escape("the sprint names no story of tasks.json"), 1)


# A cell or list item names the ids it starts with, not the ids in its text


def test_a_cell_or_item_names_the_run_of_ids_it_starts_with(tmp_path: Path) -> None:
    path = tmp_path / "sprint-002.md"
    path.write_text(
        "## Stories\n\n| Story | Title |\n| --- | --- |\n| US-1, US-4 Cart | x |\n| US-5 Cart, checkout and pay | x |\n"
        "| US-6 (after US-1/US-2) | x |\n| US-7 (UI and API) | x |\n\n"
        "- US-8, US-9\n- US-10 and Story US-11 cart, tax and pay\n- US-12 polish, tidy\n- US-13 / login\n",
        encoding="utf-8",
    )
    refs = [(ref.id, ref.line, ref.certain) for ref in parse_sprint(path).stories]
    assert refs == [
        ("US-1", 5, True), ("US-4", 5, True), ("US-5", 6, True), ("US-6", 7, True), ("US-7", 8, True),
        ("US-8", 10, True), ("US-9", 10, True), ("US-10", 11, True), ("US-11", 11, True), ("US-12", 12, True),
        ("US-13", 13, True), ("login", 13, False),
    ]  # fmt: skip


def test_every_id_of_a_list_item_is_in_scope(repo) -> None:
    assert story_ids(repo(tasks=TASKS, sprint="# Sprint 1\n\n## Stories\n\n- US-1, US-2\n")) == ["US-1", "US-2"]
    assert story_ids(repo(tasks=TASKS, sprint="# Sprint 1\n\n## Stories\n\n- US-2 (after US-1)\n")) == ["US-2"]


def test_ids_with_letters_outside_ascii_are_read_whole(repo) -> None:
    tasks = {"stories": [{"id": "故事-1", "title": "A"}, {"id": "Ü-1", "title": "B"}, {"id": "1", "title": "C"}]}
    assert story_ids(repo(tasks=tasks, sprint="# Sprint 1\n\n## Stories\n\n- 故事-1\n")) == ["故事-1"]
    assert story_ids(repo(tasks=tasks, sprint="# Sprint 1\n\n## Stories\n\n| ID | T |\n|---|---|\n| Ü-1 | x |\n")) == ["Ü-1"]


def test_struck_through_ids_are_not_in_scope(repo) -> None:
    for text in ("- US-2\n- ~~US-1~~ moved to sprint 2\n", "| Story | Points |\n| --- | --- |\n| US-2 | 3 |\n| ~~US-1~~ (moved out) | 3 |\n"):
        assert story_ids(repo(tasks=TASKS, sprint="# Sprint 1\n\n## Stories\n\n" + text)) == ["US-2"], text


# Front matter `stories:` and a stories section


def test_stories_listed_in_front_matter_and_in_a_section_are_an_input_error(repo) -> None:
    for front in ("stories: []", "sprint: 1\nstories: [US-1]"):
        r = repo(tasks=TASKS, sprint=f"---\n{front}\n---\n# Sprint 1\n\n## Stories\n\n- US-2\n")
        res = r.run("check")
        res.refused(re.escape("the sprint lists its stories twice: in front matter and in the stories section (line "), front.count("\n") + 2)
        assert "keep one list" in res.stderr
    assert story_ids(repo(tasks=TASKS, sprint="---\nstories: [US-2]\n---\n# Sprint 1\n")) == ["US-2"]


def test_front_matter_stories_that_are_no_list_are_an_input_error(repo) -> None:
    r = repo(tasks=TASKS, sprint="---\nsprint: 1\nstories: US-1\n---\n# Sprint 1\n")
    r.run("check").refused(re.escape("front matter `stories` must be a list of story ids"), 3)
