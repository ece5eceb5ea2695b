"""runners.progress: where a run stands, which PROGRESS.md and the board are drawn from."""

from __future__ import annotations

from typing import Any, Callable

from storyc.plan import load_plan
from storyc.runners import progress


def test_agents_of_a_killed_run_are_not_shown_working_in_the_next(repo: Callable[..., Any]) -> None:
    # After kill -9, the next run's standing still listed the dead run's agent (and its story as in
    # progress) until that story happened to start again.
    r = repo(tasks={"stories": [{"id": "A", "title": "a", "files": ["a.txt"]}, {"id": "B", "title": "b", "files": ["b.txt"]}]},
             sprint="# Sprint 1\n\n## Stories\n\n- A\n- B\n")
    assert r.run("compile").code == 0
    plan = load_plan(r.root / "build/plan.json")
    events = [
        {"ts": 1.0, "event": "run_started"},
        {"ts": 2.0, "event": "story_started", "story": "B"},
        {"ts": 3.0, "event": "attempt_started", "story": "B", "role": "builder", "model": "m", "attempt": 1},
        # kill -9: nothing more from that run
        {"ts": 10.0, "event": "run_started"},
        {"ts": 11.0, "event": "story_started", "story": "A"},
    ]
    standing = progress.standing(plan, events, running=True)
    assert [a["story"] for a in standing.active] == ["A"]
    assert standing.stories["B"]["family"] == "todo"
