"""The status tables are drawn in one place: the compiled plan document's, the run's redrawing of them, PROGRESS.md's."""

from __future__ import annotations

from pathlib import Path

from storyc.plan import Plan, load_plan
from storyc.runners import progress
from storyc.templates import status

GOLDEN = Path(__file__).resolve().parent / "golden" / "shop"
RUNNING = [  # a run that has finished US-001 and works on US-002
    {"ts": 1.0, "event": "run_started"},
    {"ts": 2.0, "event": "story_started", "story": "US-001"},
    {"ts": 3.0, "event": "story_done", "story": "US-001"},
    {"ts": 4.0, "event": "story_started", "story": "US-002"},
    {"ts": 5.0, "event": "attempt_started", "story": "US-002", "role": "builder", "model": "claude-x", "attempt": 2},
]


def _golden() -> tuple[Plan, str]:
    return load_plan(GOLDEN / "plan.json"), (GOLDEN / "ORCHESTRATION_PLAN.md").read_text()


def test_the_run_draws_what_the_compiler_drew() -> None:
    plan, doc = _golden()
    standing = progress.standing(plan, [], running=False)  # no event yet: the statuses tasks.json had
    assert status.redraw(doc, progress.status_tables(standing)) == doc


def test_the_run_redraws_the_tables_and_nothing_else() -> None:
    plan, doc = _golden()
    new = status.redraw(doc, progress.status_tables(progress.standing(plan, RUNNING, running=True)))
    head, _, tail = doc.partition("### Wave Progress\n")
    assert new.startswith(head + "### Wave Progress\n") and new.endswith(tail[tail.index("\n\n---\n") :])
    assert "\n| 1 | 2 | 1 | 1 | 0 |\n" in new
    assert "\n| Builder (claude-x) | US-002 | Attempt 2 | " in new and "| - | - | Idle | - |" not in new
    back = status.redraw(new, progress.status_tables(progress.standing(plan, [], running=False)))
    assert back == doc


def test_the_tables_are_found_by_their_own_headings_not_the_sections_number() -> None:
    plan, doc = _golden()
    renumbered = doc.replace("## 8. Current Execution Status", "## 9. Where We Are")
    assert renumbered != doc
    new = status.redraw(renumbered, progress.status_tables(progress.standing(plan, RUNNING, running=True)))
    assert "## 9. Where We Are\n\n### Wave Progress\n" in new and "| US-002 | Attempt 2 |" in new


def test_only_the_last_tables_are_redrawn_and_a_document_without_them_is_left_as_it_is() -> None:
    quoted = "A prompt that quotes them:\n\n### Wave Progress\n\n| x |\n\n### Active Agents\n\n| y |\n\n---\n\n"
    plan, doc = _golden()
    new = status.redraw(quoted + doc, progress.status_tables(progress.standing(plan, RUNNING, running=True)))
    assert new.startswith(quoted) and "| US-002 | Attempt 2 |" in new
    assert status.redraw("# A plan of the user's own\n\nno tables\n", ["x"]) == "# A plan of the user's own\n\nno tables\n"
    assert status.redraw("### Wave Progress\n\n| 1 |\n", ["x"]) == "### Wave Progress\n\n| 1 |\n"  # no agents table: not ours


def test_progress_md_draws_the_same_tables_one_level_up() -> None:
    plan, _ = _golden()
    standing = progress.standing(plan, RUNNING, running=True)
    head = progress.progress_head(plan, standing)
    tables = progress.status_tables(standing)
    assert "\n".join(line.removeprefix("#") for line in tables) in head
    assert "\n## Wave Progress\n" in head and "\n## Active Agents\n" in head


def test_an_agent_cell_is_escaped_in_every_drawing() -> None:
    lines = status.tables([], [("Builder (a|b)", "US\n1", "Attempt 1", "-")], level=3)
    assert "| Builder (a\\|b) | US 1 | Attempt 1 | - |" in lines and "| - | 0 | 0 | 0 | 0 |" in lines
