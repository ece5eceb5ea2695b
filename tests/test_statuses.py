"""Status words: a compound word read by its parts, each reading said once; every word left over in one error."""

from __future__ import annotations

import json
import re

import pytest

from storyc.compiler.statuses import Family, read_status


@pytest.mark.parametrize(
    "word, family, part",
    [
        ("READY_AFTER_DEPENDENCIES", Family.TODO, "ready"),
        ("PLANNED_BLOCKED_BY_DECISION", Family.BLOCKED, "blocked"),  # `blocked` wins wherever it stands
        ("BLOCKED_ENVIRONMENT", Family.BLOCKED, "blocked"),
        ("in-progress-blocked", Family.BLOCKED, "blocked"),
        ("DONE_WITH_CAVEATS", Family.DONE, "done"),
        ("NOT_STARTED_YET", Family.TODO, "not_started"),  # a known run of parts is read whole
        ("ReadyForDev", Family.TODO, "ready"),  # case changes split parts
        ("In Progress - QA", Family.IN_PROGRESS, "in_progress"),
        ("Deferred.v2", Family.DEFERRED, "deferred"),
        ("todo", Family.TODO, ""),  # a known word is no compound
        ("NOT_DONE", None, ""),  # a negation outside a known phrase places nothing
        ("unresolved", None, ""),
        ("almost", None, ""),
        ("PHASE_TWO", None, ""),
    ],
)
def test_a_compound_word_is_read_by_its_parts(word: str, family: Family | None, part: str) -> None:
    assert read_status(word) == (family, part)


def test_a_word_mapped_in_storyc_toml_wins_and_its_parts_may_be_mapped_words() -> None:
    assert read_status("NOT_DONE", {"not_done": Family.TODO}) == (Family.TODO, "")
    assert read_status("PARKED_FOR_NOW", {"parked": Family.DEFERRED}) == (Family.DEFERRED, "parked")


def test_each_reading_is_said_once_in_the_compile_output(repo) -> None:
    tasks = {"stories": [
        {"id": "A", "size": "S", "status": "READY_AFTER_DEPENDENCIES"},
        {"id": "B", "size": "S", "status": "PLANNED_BLOCKED_BY_DECISION"},
        {"id": "C", "size": "S", "status": "READY_AFTER_DEPENDENCIES"},
    ]}  # fmt: skip
    res = repo(tasks=tasks).run("compile")
    assert res.code == 0, res.output
    notes = [line.strip() for line in res.stdout.splitlines() if line.strip().startswith("status ")]
    assert notes == [
        "status 'READY_AFTER_DEPENDENCIES' read as todo (by its part 'ready'); [statuses] in storyc.toml can map it otherwise",
        "status 'PLANNED_BLOCKED_BY_DECISION' read as blocked (by its part 'blocked'); [statuses] in storyc.toml can map it otherwise",
    ]


def test_every_word_left_over_is_in_one_error_with_a_block_to_paste(repo) -> None:
    tasks = {"stories": [
        {"id": "A", "size": "S", "status": "almost"},
        {"id": "B", "size": "S", "status": "todo"},
        {"id": "C", "size": "S", "status": "Parked \"soft\""},
        {"id": "D", "size": "S", "status": "almost"},
        {"id": "E", "size": "S", "status": "NOT_DONE"},
    ]}  # fmt: skip
    r = repo(tasks=tasks)
    res = r.run("compile")
    res.refused(re.escape("""3 status words belong to no status family: 'almost', 'Parked "soft"', 'NOT_DONE'"""), r.line_of("docs/tasks/tasks.json", '"almost"'))
    at = lambda word, nth=1: r.line_of("docs/tasks/tasks.json", f'"status": "{word}', nth)  # noqa: E731
    assert f"  'almost': lines {at('almost')}, {at('almost', 2)}\n  'Parked \"soft\"': line {at('Parked')}\n  'NOT_DONE': line {at('NOT_DONE')}\n" in res.stderr
    # The block under the hint, pasted as it is printed, makes the next compile pass.
    block = res.stderr.split("hint: ", 1)[1].split("\n", 1)[1]
    r.config(block)
    ok = r.run("compile")
    assert ok.code == 0, ok.output
    assert {s["id"]: s["family"] for s in json.loads(r.text("build/plan.json"))["stories"]} == dict.fromkeys("ABCDE", "todo")
