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
from storyc.words import count, short

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
class Snapshot:
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


def snapshot(plan: Plan, events: list[dict], running: bool) -> Snapshot:
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
    waves = []
    for n, ids in enumerate(plan.waves, 1):
        families = Counter(stories[i]["family"] for i in ids)
        waves.append({"wave": n, "stories": len(ids), "done": families["done"], "in_progress": families["in_progress"], "blocked": families["blocked"]})
    return Snapshot(
        waves=waves,
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


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def wave_table(snap: Snapshot) -> list[str]:
    lines = ["| Wave | Stories | Complete | In Progress | Blocked |", "| ---- | ------- | -------- | ----------- | ------- |"]
    lines += [f"| {w['wave']} | {w['stories']} | {w['done']} | {w['in_progress']} | {w['blocked']} |" for w in snap.waves] or ["| - | 0 | 0 | 0 | 0 |"]
    return lines


def agents_table(snap: Snapshot) -> list[str]:
    lines = ["| Agent | Working On | Status | Started |", "| ----- | ---------- | ------ | ------- |"]
    for a in snap.active:
        agent = "Gates" if a["role"] == "gates" else f"{a['role'].title()} ({a['model']})"
        status = "Running gates" if a["role"] == "gates" else f"Attempt {a['attempt']}"
        lines.append(f"| {_cell(agent)} | {_cell(a['story'])} | {status} | {_when(a['started'])} |")
    return lines if snap.active else lines + ["| - | - | Idle | - |"]


def status_section(snap: Snapshot) -> str:
    """The body of the plan's "Current Execution Status" section."""
    return "\n".join(["### Wave Progress", "", *wave_table(snap), "", "### Active Agents", "", *agents_table(snap), ""])


def progress_head(plan: Plan, snap: Snapshot) -> str:
    """PROGRESS.md above its log: the seed's section 8 tables, blocked stories and cost."""
    done = sum(1 for s in snap.stories.values() if s["family"] == "done")
    lines = [
        f"# Progress — {plan.project or 'project'}, {plan.sprint.title}",
        "",
        "_Regenerated by storyc after every story; the log at the bottom is append-only._",
        "",
        f"**{done} of {count(len(snap.stories), 'story', 'stories')} done**"
        f" · {'running' if snap.running else 'not running'} · cost so far ${snap.cost_usd:.4f}"
        f" · tokens in {snap.tokens.get('input', 0):,}, out {snap.tokens.get('output', 0):,}"
        f", cache read {snap.tokens.get('cache_read', 0):,}, cache write {snap.tokens.get('cache_write', 0):,}",
        "",
        "## Wave Progress",
        "",
        *wave_table(snap),
        "",
        "## Active Agents",
        "",
        *agents_table(snap),
        "",
        "## Blocked — needs human review",
        "",
    ]
    if snap.blocked:
        lines += ["| Story | Attempts | Last failure | Log |", "| ----- | -------- | ------------ | --- |"]
        lines += [f"| {_cell(b['story'])} | {b['attempts'] if b['attempts'] is not None else '-'} | {_cell(short(b['summary'], CELL))} | {_cell(b['log'] or '-')} |"
                  for b in snap.blocked]
        lines += [line for b in snap.blocked for line in _first_lines(b)]
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


def kanban(plan: Plan, snap: Snapshot) -> str:
    """docs/tasks/kanban_board.md: one column per status, from the statuses as they are.

    Every story of the sprint has its card: those it builds, and those it does
    not (done by hand, deferred, cancelled), so a finished story stays in Done
    after a recompile.
    """
    cards = {s.id: snap.stories.get(s.id) or {"title": s.title, "size": s.size, "family": s.family} for s in plan.stories}
    used = [(key, name) for key, name in COLUMNS if key in ("todo", "in_progress", "blocked", "done") or any(c["family"] == key for c in cards.values())]
    lines = ["# Kanban board", "", f"_{_cell(plan.sprint.name)} — regenerated by storyc from the stories' statuses._", ""]
    for key, name in used:
        ids = [sid for sid, c in cards.items() if c["family"] == key]
        lines += [f"## {name} ({len(ids)})", ""]
        lines += [f"- **{_cell(sid)}** {_cell(cards[sid]['title'])} · {cards[sid]['size']}" for sid in ids] or ["- (none)"]
        lines.append("")
    return "\n".join(lines)


def status_text(plan: Plan, snap: Snapshot) -> str:
    """`storyc status` for people: the head of PROGRESS.md, without its title and note."""
    head = progress_head(plan, snap).split("\n")
    return "\n".join(head[4:]).rstrip() + "\n"
