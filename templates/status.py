"""Where the sprint stands into its two status tables, Wave Progress and Active Agents.

Drawn here only: by the compiler into the plan document's "Current Execution
Status", by the run into that same place after every story (`redraw`), and
into PROGRESS.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from storyc.words import table_cell

WAVES = "Wave Progress"
AGENTS = "Active Agents"


def wave_rows(waves: list[list[str]], family_of: Mapping[str, str]) -> list[dict[str, int]]:
    """Each wave's stories counted: how many, and how many done, in progress, blocked."""
    rows = []
    for n, ids in enumerate(waves, 1):
        families = Counter(family_of[i] for i in ids)
        rows.append({"wave": n, "stories": len(ids), "done": families["done"], "in_progress": families["in_progress"], "blocked": families["blocked"]})
    return rows


def tables(waves: list[dict[str, int]], agents: list[tuple[str, str, str, str]], level: int) -> list[str]:
    """The two tables under headings of `level`, as lines; an agent is (agent, story, status, started)."""
    head = "#" * level
    lines = [f"{head} {WAVES}", "", "| Wave | Stories | Complete | In Progress | Blocked |", "| ---- | ------- | -------- | ----------- | ------- |"]
    lines += [f"| {w['wave']} | {w['stories']} | {w['done']} | {w['in_progress']} | {w['blocked']} |" for w in waves] or ["| - | 0 | 0 | 0 | 0 |"]
    lines += ["", f"{head} {AGENTS}", "", "| Agent | Working On | Status | Started |", "| ----- | ---------- | ------ | ------- |"]
    lines += [f"| {table_cell(agent)} | {table_cell(story)} | {status} | {started} |" for agent, story, status, started in agents] or ["| - | - | Idle | - |"]
    return lines


def redraw(document: str, new: list[str]) -> str:
    """`document` with its status tables (the last drawn at level 3) replaced by the lines `new`; as it was without them.

    Found by the tables' own headings, never by the section's number or words, which a copy of the template may change.
    """
    lines = document.split("\n")
    starts = [i for i, line in enumerate(lines) if line == f"### {WAVES}"]
    try:
        end = lines.index(f"### {AGENTS}", starts[-1]) + 2  # past the heading and its blank line
    except (IndexError, ValueError):
        return document
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[: starts[-1]] + new + lines[end:])
