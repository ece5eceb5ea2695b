"""The event log and the plan into progress views: PROGRESS.md, the kanban board, `storyc status`.

Pure functions of (plan, events, whether a run is active): the checkpoint
writer regenerates every view from them after each story, so a view is never
more than one event behind and never needs repairing.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from storyc.plan import Plan
from storyc.words import count, short, table_cell

from ..templates import status

FAMILY_OF_EVENT = {
    "story_started": "in_progress",
    "story_done": "done",
    "story_blocked": "blocked",
    "story_skipped": None,  # keeps whatever it was
    "story_failed": "todo",
}
CELL = 120  # characters of a table cell: the whole story is in the log it names
FIRST_LINES = 6  # of a blocked story's last failure, in `storyc status` and PROGRESS.md
COLUMNS = (("todo", "To Do"), ("in_progress", "In Progress"), ("blocked", "Blocked"), ("done", "Done"), ("deferred", "Deferred"), ("cancelled", "Cancelled"))


@dataclass
class Standing:
    """Where the sprint stands."""

    waves: list[dict[str, Any]]
    stories: dict[str, dict[str, Any]]  # id -> {title, wave, family, ...}
    active: list[dict[str, Any]]  # {story, role, model, attempt, started}
    blocked: list[dict[str, Any]]  # {story, reason, summary, attempts, failure, log}
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    running: bool = False
    last_event: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "waves": self.waves,
            "active": self.active,
            "blocked": self.blocked,
            "stories": self.stories,
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


def standing(plan: Plan, events: list[dict], running: bool) -> Standing:
    stories = {s.id: {"title": s.title, "wave": s.wave, "size": s.size, "model": s.policy.model, "family": s.family, "attempts": 0} for s in plan.targets}
    active: dict[str, dict] = {}
    blocked: dict[str, dict] = {}
    tokens: Counter = Counter()
    cost = 0.0
    for e in events:
        sid, kind = e.get("story"), e.get("event")
        if kind == "run_started":
            # A run that starts has no one working yet: whatever a killed run left "active" is not.
            active.clear()
            for story in stories.values():
                if story["family"] == "in_progress":
                    story["family"] = "todo"
            continue
        if kind == "attempt_finished":
            tokens.update(e.get("tokens", {}))
            cost += e.get("cost_usd", 0.0)
        if sid not in stories:
            continue
        if kind == "attempt_started":
            active[sid] = {"story": sid, "role": e.get("role"), "model": e.get("model"), "attempt": e.get("attempt"), "started": e.get("ts")}
            stories[sid]["attempts"] = max(stories[sid]["attempts"], e.get("attempt", 0))
        elif kind == "story_started":
            active[sid] = {"story": sid, "role": "gates", "model": None, "attempt": 0, "started": e.get("ts")}
        if (family := FAMILY_OF_EVENT.get(kind)) is not None:
            stories[sid]["family"] = family
        if kind in ("story_done", "story_blocked", "story_skipped", "story_failed"):
            active.pop(sid, None)
        if kind == "story_blocked":
            blocked[sid] = e
        elif kind in ("story_done", "story_started"):
            blocked.pop(sid, None)
    if not running:
        active.clear()  # a run that ended (or was killed) has no one working
        for story in stories.values():
            if story["family"] == "in_progress":
                story["family"] = "todo"  # interrupted: the next run picks it up
    for sid, story in stories.items():
        if story["family"] == "blocked" and sid not in blocked:
            blocked[sid] = {"reason": "blocked in tasks.json"}
    return Standing(
        waves=status.wave_rows(plan.waves, {sid: story["family"] for sid, story in stories.items()}),
        stories=stories,
        active=sorted(active.values(), key=lambda a: a["started"] or 0),
        blocked=[_blocked(sid, e) for sid, e in blocked.items()],
        tokens=dict(tokens),
        cost_usd=cost,
        running=running,
        last_event=events[-1]["ts"] if events else None,
    )


def _blocked(sid: str, e: dict) -> dict[str, Any]:
    """A blocked story as the views show it (an event from before storyc kept a summary has only its reason)."""
    reason = e.get("reason", "")
    return {"story": sid, "reason": reason, "summary": e.get("summary") or short(reason, CELL), "attempts": e.get("attempts"),
            "failure": e.get("failure", ""), "log": e.get("log")}


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def status_tables(standing: Standing, level: int = 3) -> list[str]:
    """Wave Progress and Active Agents as they stand (level 3: the plan's "Current Execution Status")."""
    agents = [
        ("Gates", a["story"], "Running gates", _when(a["started"])) if a["role"] == "gates"
        else (f"{a['role'].title()} ({a['model']})", a["story"], f"Attempt {a['attempt']}", _when(a["started"]))
        for a in standing.active
    ]
    return status.tables(standing.waves, agents, level)


def progress_head(plan: Plan, standing: Standing) -> str:
    """PROGRESS.md above its log: the seed's section 8 tables, blocked stories and cost."""
    done = sum(1 for s in standing.stories.values() if s["family"] == "done")
    lines = [
        f"# Progress — {plan.project or 'project'}, {plan.sprint.title}",
        "",
        "_Regenerated by storyc after every story; the log at the bottom is append-only._",
        "",
        f"**{done} of {count(len(standing.stories), 'story', 'stories')} done**"
        f" · {'running' if standing.running else 'not running'} · cost so far ${standing.cost_usd:.4f}"
        f" · tokens in {standing.tokens.get('input', 0):,}, out {standing.tokens.get('output', 0):,}"
        f", cache read {standing.tokens.get('cache_read', 0):,}, cache write {standing.tokens.get('cache_write', 0):,}",
        "",
        *status_tables(standing, level=2),
        "",
        "## Blocked — needs human review",
        "",
    ]
    if standing.blocked:
        lines += ["| Story | Attempts | Last failure | Log |", "| ----- | -------- | ------------ | --- |"]
        lines += [f"| {table_cell(b['story'])} | {b['attempts'] if b['attempts'] is not None else '-'} | {table_cell(short(b['summary'], CELL))} | {table_cell(b['log'] or '-')} |"
                  for b in standing.blocked]
        lines += [line for b in standing.blocked for line in _first_lines(b)]
    else:
        lines.append("Nothing is blocked.")
    return "\n".join(lines) + "\n"


def _first_lines(b: dict) -> list[str]:
    """The head of a blocked story's last failure, as an indented block: what a person reads first."""
    text = [line.rstrip() for line in b["failure"].splitlines() if line.strip()]
    if not text:
        return []
    where = f"; all of it in {b['log']}" if b["log"] else ""
    shown = [f"    {short(line, CELL) if len(line) > CELL else line}" for line in text[:FIRST_LINES]]
    more = [f"    … ({count(len(text) - FIRST_LINES, 'more line', 'more lines')})"] if len(text) > FIRST_LINES else []
    return ["", f"{b['story']}, the last failure (its first lines{where}):", "", *shown, *more]


def kanban(plan: Plan, standing: Standing) -> str:
    """docs/tasks/kanban_board.md: one column per status, from the statuses as they are.

    Every story of the sprint has its card: those it builds, and those it does
    not (done by hand, deferred, cancelled), so a finished story stays in Done
    after a recompile.
    """
    cards = {s.id: standing.stories.get(s.id) or {"title": s.title, "size": s.size, "family": s.family} for s in plan.stories}
    used = [(key, name) for key, name in COLUMNS if key in ("todo", "in_progress", "blocked", "done") or any(c["family"] == key for c in cards.values())]
    lines = ["# Kanban board", "", f"_{table_cell(plan.sprint.name)} — regenerated by storyc from the stories' statuses._", ""]
    for key, name in used:
        ids = [sid for sid, c in cards.items() if c["family"] == key]
        lines += [f"## {name} ({len(ids)})", ""]
        lines += [f"- **{table_cell(sid)}** {table_cell(cards[sid]['title'])} · {cards[sid]['size']}" for sid in ids] or ["- (none)"]
        lines.append("")
    return "\n".join(lines)


def status_text(plan: Plan, standing: Standing) -> str:
    """`storyc status` for people: the head of PROGRESS.md, without its title and note."""
    head = progress_head(plan, standing).split("\n")
    return "\n".join(head[4:]).rstrip() + "\n"
