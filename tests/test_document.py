"""The orchestration plan says what storyc will really do, for inputs unlike the example."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Callable

import pytest

MakeRepo = Callable[..., Any]

SPRINT = """---
sprint: 2
name: Checkout
---

# Sprint 2: Checkout

## Stories in Scope

| Story | Title |
| ----- | ----- |
| B | Cart |
| C | Pay |

## Integration Points

| Integration Point | Stories Involved | Verification |
| ----------------- | ---------------- | ------------ |
| Cart → Pay | B → C | E2E test |
"""


def document(r: Any, *args: str) -> str:
    res = r.run("compile", *args)
    assert res.code == 0, res.output
    return r.text("build/ORCHESTRATION_PLAN.md")


def row(doc: str, story: str) -> list[str]:
    """The cells of `story`'s row in its wave table."""
    line = next(line for line in doc.splitlines() if line.startswith(f"| {story} |"))
    return [cell.strip() for cell in line.strip("|").split(" | ")]


@pytest.fixture()
def sprint_repo(repo: MakeRepo) -> Any:
    tasks = {
        "project": "Shop | Pay",
        "stories": [
            {"id": "A", "title": "Users", "status": "done", "size": "S"},
            {"id": "B", "title": "Cart", "depends_on": ["A"], "size": "M", "files": ["src/cart.py"]},
            {"id": "C", "title": "Pay\nnow", "depends_on": ["B"]},
        ],
    }
    return repo(tasks=tasks, sprint=SPRINT, config='[gates]\ntest = "python -m pytest"\n')


def test_dependencies_on_done_stories_and_default_sizes_are_shown(sprint_repo: Any) -> None:
    doc = document(sprint_repo)
    assert row(doc, "B")[5] == "A (done)"
    assert row(doc, "C")[1:] == ["Pay now", "Builder + Reviewer", "Sonnet", "M (default)", "B"]
    assert 'Est. "(default)": 1 story gives no size, estimate or complexity, so storyc assumed M (C)' in doc
    assert "| **Project**          | Shop \\| Pay |" in doc


def test_an_integration_point_without_its_gate_says_it_is_skipped(sprint_repo: Any) -> None:
    doc = document(sprint_repo)
    assert "| Cart → Pay | B → C | E2E test (skipped: no `e2e` gate in [gates]) | `integration:cart-pay` |" in doc


def test_one_attempt_means_no_fix_prompt(repo: MakeRepo) -> None:
    r = repo(tasks={"stories": [{"id": "A", "title": "One"}]}, config="[runner]\nmax_attempts = 1\n")
    doc = document(r)
    assert "Not sent: `[runner] max_attempts = 1` leaves no attempt for a fix." in doc
    assert "2. No fix attempt: `[runner] max_attempts = 1` → human escalation" in doc
    assert "attempt 2 of 1" not in doc


def test_without_a_sprint_the_scope_names_what_was_left_out(repo: MakeRepo) -> None:
    stories = [{"id": "A", "status": "done"}, {"id": "B", "status": "deferred"}, {"id": "C"}]
    doc = document(repo(tasks={"stories": stories}))
    assert "1 from `docs/tasks/tasks.json` (0 done, 1 open); no sprint file, so every open story and every story storyc built; not in scope: 1 done, 1 deferred" in doc
    assert "| **Created**          | not dated (no sprint file) |" in doc
    assert "No sprint file, so no Integration Points table." in doc


def test_nothing_open_gives_a_complete_document(repo: MakeRepo) -> None:
    doc = document(repo(tasks={"stories": [{"id": "A", "status": "done"}]}))
    assert "No stories in scope." in doc
    assert "**Critical path**: none (no story to build)" in doc
    assert "| - | 0 | 0 | 0 | 0 |" in doc


def test_doit_docs_count_in_words_and_name_only_configured_gates(sprint_repo: Any) -> None:
    document(sprint_repo)
    out = subprocess.run([sys.executable, "-m", "doit", "list"], cwd=sprint_repo.root, capture_output=True, text=True, timeout=120).stdout
    assert "wave 1 complete (1 story)\n" in out
    assert "the whole sprint: every wave, every integration point, then the summary" in out
    assert "Pay now [M, claude-sonnet-4-5]" in out  # one line, and the model the policy chose
    assert "Cart [M, claude-sonnet-4-5]" in out


def test_builder_prompt_carries_task_master_details_and_test_strategy(repo: MakeRepo) -> None:
    story = {"id": 1, "title": "Login", "details": "Use bcrypt.", "testStrategy": "Unit-test the hash."}
    doc = document(repo(tasks={"master": {"tasks": [story]}}))
    assert "Details:\nUse bcrypt.\n\nTest strategy:\nUnit-test the hash." in doc


def test_the_seed_sections_survive_a_bare_repository(repo: MakeRepo) -> None:
    doc = document(repo(tasks={"stories": []}))
    for heading in ("## 1. Agent Team", "## 2. Story Execution Map", "## 5. Agent Prompt Templates", "## 8. Current Execution Status"):
        assert heading in doc
    assert "{{" not in doc and "None" not in doc


def test_stories_brought_in_by_with_deps_are_named(repo: MakeRepo) -> None:
    tasks = {"stories": [{"id": "B", "title": "Cart", "depends_on": ["D"]}, {"id": "C", "title": "Pay"}, {"id": "D", "title": "Tax"}]}
    r = repo(tasks=tasks, sprint="# Sprint 1\n\n## Stories\n\n| Story | Title |\n| --- | --- |\n| B | Cart |\n| C | Pay |\n")
    assert r.run("compile").code == 2  # D is outside the sprint and not done
    doc = document(r, "--with-deps")
    assert "3 from `docs/tasks/tasks.json` (0 done, 3 open); 1 pulled in by --with-deps: D" in doc
