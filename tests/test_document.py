"""The orchestration plan says what storyc will really do, for inputs unlike the example."""

from __future__ import annotations

import re
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


def section(doc: str, heading: str) -> str:
    """The lines under `heading` up to the next heading of the same level or above, fenced blocks skipped."""
    level = len(heading.split(" ")[0])
    lines = doc.splitlines()
    out, fence = [], None
    for line in lines[lines.index(heading) + 1 :]:
        if fence is None and (m := re.match(r"^(#+) ", line)) and len(m[1]) <= level:
            break
        if line.startswith("```"):
            marks = line[: len(line) - len(line.lstrip("`"))]
            fence = marks if fence is None else (None if marks == fence else fence)
        out.append(line)
    return "\n".join(out)


COMMAND = '[gates]\ntest = "python -m pytest"\n\n[runner]\nkind = "command"\nargv = ["aider", "--yes-always", "--model", "{model}", "--message-file", "{prompt_file}"]\n'


def test_a_command_runner_s_document_names_no_claude_tools_or_tiers(sprint_repo: Any) -> None:
    sprint_repo.config(COMMAND)
    doc = document(sprint_repo)
    team = section(doc, "## 1. Agent Team")
    assert "the agents run as `aider --yes-always --model '{model}' --message-file '{prompt_file}'` (command runner)" in team
    for claude in ("Read, Write, Edit, Bash", "Bash, Read, Grep", "Read, Grep, Glob", "Haiku (", "Sonnet (", "Opus ("):
        assert claude not in doc, claude
    assert "| Builder | claude-sonnet-4-5 | Code implementation (`{role}` and STORYC_ROLE are builder) | the agent CLI's own (storyc does not restrict them) |" in team
    assert "| Validator | none | Not called:" in team
    assert "`claude-opus-4-5` ([models] opus) only as the last rung of escalation" in team
    assert "passes the model to the agent CLI as `{model}` and STORYC_MODEL" in team
    assert row(doc, "B")[3] == "claude-sonnet-4-5"  # the wave table names the model the CLI gets, not a tier
    assert "| M (4-8hr) | Yes | Unit + Integration | claude-sonnet-4-5 |" in doc
    assert "| **Smallest model for simple tasks** | `claude-haiku-4-5` for XS/S-sized stories (the policy's choice) |" in doc
    prompts = section(doc, "## 5. Agent Prompt Templates")
    assert "A Reviewer's verdict is the last line of the command's output: `VERDICT: APPROVE`" in prompts
    assert "Not sent: the command runner calls no Validator" in section(prompts, "### Validator Agent Prompt")
    assert "1. storyc keeps the failing gate's output for the fix attempt (a command runner calls no Validator)" in doc


def test_a_command_without_model_says_the_agent_picks_its_own(sprint_repo: Any) -> None:
    sprint_repo.config(COMMAND.replace('"--model", "{model}", ', ""))
    team = section(document(sprint_repo), "## 1. Agent Team")
    assert "| Builder | the agent CLI's own (argv has no `{model}`; STORYC_MODEL says claude-sonnet-4-5) |" in team
    assert "argv has no `{model}`: the agent CLI uses its own model unless it reads STORYC_MODEL" in team


def test_a_claude_runner_keeps_tiers_and_tools(sprint_repo: Any) -> None:
    team = section(document(sprint_repo), "## 1. Agent Team")
    assert "| Builder | Sonnet (claude-sonnet-4-5) | Code implementation | Read, Write, Edit, Bash |" in team
    assert "| Validator | Haiku (claude-haiku-4-5) |" in team
    assert "anthropic runner for the agents" in team


def test_the_builder_checklist_lists_only_configured_gates(sprint_repo: Any) -> None:
    builder = section(document(sprint_repo), "### Builder Agent Prompt")
    checklist = builder[builder.index("## Verification (before reporting complete)") :]
    assert "- [ ] Tests written and passing: `python -m pytest`" in checklist
    assert "- [ ] No hard-coded secrets/URLs" in checklist
    for absent in ("compiles", "Typecheck", "Lint", "Integration", "E2E"):
        assert absent not in checklist, absent


def test_with_no_gate_the_builder_checklist_says_nothing_checks(repo: MakeRepo) -> None:
    r = repo(tasks={"stories": [{"id": "A", "title": "One"}]}, config="[gates]\nsecrets = false\n")
    builder = section(document(r), "### Builder Agent Prompt")
    checklist = builder[builder.index("## Verification (before reporting complete)") :]
    assert checklist.count("- [ ]") == 1 and "no gate command is configured, so nothing checks it for you" in checklist


@pytest.mark.parametrize("isolation", ["worktree", "none"])
def test_the_document_says_where_gates_run(sprint_repo: Any, isolation: str) -> None:
    sprint_repo.config(f'[gates]\ntest = "python -m pytest"\n\n[execution]\nisolation = "{isolation}"\n')
    gates = section(document(sprint_repo), "### Quality Gates (Non-Negotiable)")
    if isolation == "worktree":
        assert "A story's gates run in its own git worktree (`build/worktrees/<story>`), before its change reaches your working tree" in gates
        assert "the wave, integration point and E2E gates run in the working tree, at the repository root" in gates
    else:
        assert "Gates run in the working tree, at the repository root (isolation is off)" in gates
    assert "Gates run at the repository root;" not in gates
