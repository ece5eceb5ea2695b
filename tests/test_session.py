"""runners.session: a run's lifecycle (the run lock, the abort flag, run_started/run_finished), without doit."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from storyc.runners.checkpoints import run_active
from storyc.runners.session import BACK_TO_TODO, RunRefused, RunSession

STORIES = {"stories": [{"id": "A", "title": "a", "status": "todo", "files": ["a.txt"]}, {"id": "B", "title": "b", "status": "todo", "files": ["b.txt"]}]}


@pytest.fixture()
def sprint(repo: Callable[..., Any]):
    r = repo(tasks=STORIES, sprint="# Sprint 1\n\n## Stories\n\n- A\n- B\n")
    assert r.run("compile").code == 0
    return r


def _session(r) -> RunSession:
    return RunSession(r.root, r.root / "build")


def test_a_second_run_is_refused_while_the_first_holds_the_lock_and_let_in_after(sprint) -> None:
    first = _session(sprint)
    first.start()
    assert run_active(sprint.root / "build")
    second = _session(sprint)
    with pytest.raises(RunRefused, match=r"another doit run of this sprint is running \(lock .*run\.lock\); wait for it to finish"):
        second.start()
    assert [e["event"] for e in sprint.events()] == ["run_started"]  # the refused run logged nothing
    first.finish(0, 2)
    assert not run_active(sprint.root / "build")
    second.start()
    second.finish(0, 2)


def test_start_logs_run_started_and_finish_logs_run_finished(sprint) -> None:
    session = _session(sprint)
    session.start()
    assert session.events() == []  # this run's events come after its run_started
    session.checkpoints().event("story_done", story="A", attempts=1, cost_usd=0.0)
    assert [e["event"] for e in session.events()] == ["story_done"]
    assert session.finish(1, 2) == []
    events = sprint.events()
    assert [e["event"] for e in events] == ["run_started", "story_done", "run_finished"]
    assert {k: events[-1][k] for k in ("done", "total")} == {"done": 1, "total": 2}
    assert "interrupted" not in events[-1]


def test_a_run_with_nothing_stale_logs_its_end_without_opening_the_checkpoints(sprint) -> None:
    session = _session(sprint)
    session.start()
    session.finish(2, 2)
    assert [e["event"] for e in sprint.events()] == ["run_started", "run_finished"]
    assert not (sprint.root / ".ai/PROGRESS.md").exists()  # no view redrawn


def test_an_interrupt_puts_the_stories_that_never_came_back_to_todo(sprint) -> None:
    session = _session(sprint)
    session.start()
    checkpoints = session.checkpoints()
    for sid in "AB":
        checkpoints.status(sid, "in_progress")
    checkpoints.event("story_failed", story="B", reason=BACK_TO_TODO)  # B put itself back
    checkpoints.status("B", "todo")
    back = session.finish(0, 2, interrupted=True, running=["A", "B"])
    assert back == ["B", "A"]
    assert sprint.statuses() == {"A": "todo", "B": "todo"}
    end = sprint.events()[-1]
    assert (end["event"], end["interrupted"], end["back_to_todo"]) == ("run_finished", True, ["B", "A"])
    assert [e["story"] for e in sprint.events("story_failed")] == ["B", "A"]  # A once, from here
    assert not run_active(sprint.root / "build")


def test_a_story_that_finished_is_not_put_back(sprint) -> None:
    session = _session(sprint)
    session.start()
    checkpoints = session.checkpoints()
    checkpoints.status("A", "done")
    checkpoints.event("story_done", story="A", attempts=1, cost_usd=0.0)
    assert session.finish(1, 2, interrupted=True, running=["A"]) == []
    assert sprint.statuses()["A"] == "done"


def test_the_abort_flag_of_the_last_run_is_cleared_at_start_and_after_an_interrupt(sprint) -> None:
    flag = sprint.root / "build/locks/abort"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("spend limit of $1.00 reached", encoding="utf-8")
    session = _session(sprint)
    session.start()
    assert not flag.exists() and session.abort_reason() is None
    flag.write_text("spend limit of $1.00 reached\n", encoding="utf-8")
    assert session.abort_reason() == "spend limit of $1.00 reached"
    flag.write_text("", encoding="utf-8")
    assert session.abort_reason() == "spend limit reached"
    session.finish(0, 2)
    assert flag.exists()  # a run that ended by itself leaves the reason for its report; the next start clears it
    session.start()
    flag.write_text("interrupted", encoding="utf-8")
    session.finish(0, 2, interrupted=True)
    assert not flag.exists()
