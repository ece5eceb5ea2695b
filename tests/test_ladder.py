"""The recovery ladder's decisions, as a pure object: no files, no clock, no agent."""

from __future__ import annotations

import pytest

from storyc.runners.agents.base import Budget
from storyc.runners.ladder import API_RETRIES, Build, Call, GiveUp, Ladder, OutOfBudget, attempts

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"
THREE = [HAIKU, HAIKU, SONNET]  # what the compiler gives an XS story: the planned model twice, then the next one up


def ladder(models=THREE, max_turns=50, budget_usd=5.0, timeout_s=1800) -> Ladder:
    return Ladder(models, max_turns, budget_usd, timeout_s)


def builder(attempt: int, stop: str = "end_turn", turns: int = 1, cost: float = 0.0) -> Call:
    return Call(attempt=attempt, role="builder", model=THREE[attempt - 1], finished=stop == "end_turn", stop=stop, turns=turns, cost_usd=cost)


def test_the_first_attempt_is_the_builder_on_the_planned_model_with_its_first_prompt():
    assert ladder().next([], 0.0) == Build(1, HAIKU, fix=False)


def test_a_failed_attempt_is_followed_by_the_fix_prompt_on_the_same_model():
    assert ladder().next([builder(1)], 10.0) == Build(2, HAIKU, fix=True)


def test_the_third_attempt_climbs_to_the_model_the_compiled_ladder_names():
    assert ladder().next([builder(1), builder(2)], 10.0) == Build(3, SONNET, fix=True)


def test_after_the_last_attempt_the_story_is_given_up():
    assert ladder().next([builder(1), builder(2), builder(3)], 10.0) == GiveUp(3)


def test_one_attempt_allowed_means_no_fix_attempt():
    one = ladder(models=[SONNET])
    assert one.max_attempts == 1
    assert one.next([], 0.0) == Build(1, SONNET, fix=False)
    assert one.next([builder(1)], 0.0) == GiveUp(1)


def test_a_failure_known_before_any_attempt_gets_the_fix_prompt_at_once():
    # A re-verify whose gates failed (its Validator already called on attempt 1), or an integration check's culprit.
    validator = Call(attempt=1, role="validator", model=HAIKU, finished=True, stop="end_turn", turns=2)
    assert ladder().next([validator], 5.0, failing=True) == Build(1, HAIKU, fix=True)


def test_an_api_error_costs_no_attempt():
    errored = builder(1, stop="error", turns=0)
    assert attempts([errored]) == 0
    assert ladder().next([errored], 1.0) == Build(1, HAIKU, fix=False)
    assert ladder().next([errored, builder(1), builder(2, stop="error", turns=0)], 1.0) == Build(2, HAIKU, fix=True)
    assert API_RETRIES == 3


def test_a_reviewer_rejection_counts_as_the_attempt_it_judged():
    rejected = [builder(1), Call(attempt=1, role="reviewer", model=SONNET, finished=True, stop="end_turn", turns=3, review_pass=1)]
    assert ladder().next(rejected, 30.0) == Build(2, HAIKU, fix=True)
    assert attempts(rejected) == 1


def test_an_agent_that_stopped_before_finishing_used_its_attempt():
    assert ladder().next([builder(1, stop="max_turns", turns=9)], 10.0) == Build(2, HAIKU, fix=True)


@pytest.mark.parametrize(
    ("calls", "elapsed", "spent"),
    [
        ([builder(1, turns=30), builder(2, turns=20)], 1.0, "max_turns = 50 turns used up"),
        ([builder(1, cost=2.5), builder(2, cost=2.5)], 1.0, "budget_usd = 5 spent"),
        ([builder(1)], 1800.0, "timeout_s = 1800 s of wall time used up"),
    ],
)
def test_a_spent_budget_stops_the_ladder_and_says_which_limit(calls, elapsed, spent):
    four = ladder(models=[HAIKU] * 4)
    step = four.next(calls, elapsed)
    assert step == OutOfBudget(spent)
    key = spent.split()[0]
    assert step.failure == f"{spent} (the story's budget; raise [runner] {key} to allow more)"


def test_the_budget_counts_every_call_of_every_role_and_api_errors_too():
    calls = [builder(1, turns=40), Call(attempt=1, role="validator", model=HAIKU, finished=True, stop="end_turn", turns=9), builder(2, stop="error", turns=1)]
    assert ladder().next(calls, 0.0) == OutOfBudget("max_turns = 50 turns used up")


def test_attempts_run_out_before_the_budget_is_looked_at():
    calls = [builder(1, cost=2.0), builder(2, cost=2.0), builder(3, cost=2.0)]
    assert ladder().next(calls, 9999.0) == GiveUp(3)


def test_a_budget_not_yet_reached_does_not_stop_it():
    assert ladder().next([builder(1, turns=49, cost=4.99)], 1799.0) == Build(2, HAIKU, fix=True)


def test_what_is_left_for_the_next_call_is_the_rest_of_the_budget():
    calls = [builder(1, turns=20, cost=1.25), builder(2, turns=10, cost=0.75)]
    assert ladder().left(calls, 600.0) == Budget(max_turns=20, usd=3.0, wall_s=1200.0)
    assert ladder().left([], 0.0) == Budget(max_turns=50, usd=5.0, wall_s=1800.0)


def test_what_is_left_never_reaches_nothing_for_turns_and_time():
    calls = [builder(1, turns=80, cost=9.0)]
    assert ladder().left(calls, 5000.0) == Budget(max_turns=1, usd=0.0, wall_s=1.0)


def test_a_call_records_as_the_events_and_the_stamp_write_it():
    call = Call(attempt=2, role="reviewer", model=SONNET, finished=False, stop="max_turns", turns=7,
                tokens={"input": 10, "output": 5, "cache_read": 0, "cache_write": 0}, cost_usd=0.01, seconds=1.5, review_pass=1)
    assert call.record() == {"attempt": 2, "role": "reviewer", "review_pass": 1, "model": SONNET, "finished": False, "stop": "max_turns",
                             "turns": 7, "tokens": {"input": 10, "output": 5, "cache_read": 0, "cache_write": 0}, "cost_usd": 0.01, "seconds": 1.5}
