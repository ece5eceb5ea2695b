"""The sprint file: GFM tables read from markdown-it's block structure."""

from __future__ import annotations

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
