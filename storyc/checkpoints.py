"""Run events into checkpoints: build/events.jsonl, tasks.json statuses, PROGRESS.md, the board, the plan.

Every write is atomic and made under a lock, so any number of parallel
workers (doit's processes or threads) lose nothing, and a reader never sees a
torn file.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from filelock import Timeout

from storyc import progress
from storyc.compiler.statuses import Family
from storyc.files import append_line, atomic_write, lock_for
from storyc.writeback import set_status

LOG_MARK = "<!-- storyc: the log below is append-only -->"
STATUS_SECTION = re.compile(r"(## 8\. Current Execution Status\n\n)(.*?)(\n---\n|\Z)", re.S)


class Checkpoints:
    """Where one sprint's run reports what happens."""

    def __init__(self, root: Path, plan: dict):
        self.root, self.plan = root, plan
        paths = plan["config"]["paths"]
        self.build = root / paths["build"]
        self.events_file = self.build / "events.jsonl"
        self.progress_file = root / paths["progress"]
        self.kanban_file = root / paths["kanban"]
        self.plan_doc = self.build / "ORCHESTRATION_PLAN.md"
        self.tasks_file = root / plan["inputs"]["tasks"]["path"]
        self.status_words = {w: Family(f) for w, f in plan["config"].get("statuses", {}).items()}

    def event(self, kind: str, **fields: Any) -> dict:
        """Record one event; after a story or wave event, regenerate the views."""
        record = {"ts": round(time.time(), 3), "event": kind, "pid": os.getpid(), **fields}
        line = json.dumps(record, ensure_ascii=False, sort_keys=True)
        with lock_for(self.build, "events"):
            append_line(self.events_file, line)
            if kind.startswith(("story_", "wave_", "integration_", "sprint_", "run_")):
                self._refresh(record)
        return record

    def status(self, story_id: str, family: str) -> None:
        """The story's status in tasks.json, in place, in the file's own words."""
        set_status(self.tasks_file, story_id, Family(family), lock=lock_for(self.build, "tasks"), status_words=self.status_words)

    def events(self) -> list[dict]:
        return read_events(self.events_file)

    def snapshot(self) -> progress.Snapshot:
        return progress.snapshot(self.plan, self.events(), run_active(self.build))

    def _refresh(self, record: dict) -> None:
        snap = progress.snapshot(self.plan, self.events(), running=record["event"] != "run_finished")
        self._write_progress(snap, record)
        atomic_write(self.kanban_file, progress.kanban(self.plan, snap))
        if self.plan_doc.is_file():
            text = self.plan_doc.read_text(encoding="utf-8")
            new = STATUS_SECTION.sub(lambda m: m.group(1) + progress.status_section(snap) + m.group(3), text, count=1)
            if new != text:
                atomic_write(self.plan_doc, new)

    def _write_progress(self, snap: progress.Snapshot, record: dict) -> None:
        old = self.progress_file.read_text(encoding="utf-8") if self.progress_file.is_file() else ""
        log = old.split(LOG_MARK, 1)[1].lstrip("\n") if LOG_MARK in old else ""
        entry = log_line(record)
        text = progress.progress_head(self.plan, snap) + "\n## Log\n\n" + LOG_MARK + "\n\n" + log + (entry + "\n" if entry else "")
        atomic_write(self.progress_file, text)


def log_line(e: dict) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["ts"]))
    kind, sid = e["event"], e.get("story", "")
    text = {
        "run_started": "run started",
        "run_finished": "run finished",
        "story_started": f"{sid} started ({e.get('mode', 'build')})",
        "story_done": f"{sid} done after {e.get('attempts', 0)} agent call(s), ${e.get('cost_usd', 0):.4f}",
        "story_skipped": f"{sid} skipped: {e.get('reason', '')}",
        "story_failed": f"{sid} stopped: {' '.join(str(e.get('reason', '')).split())[:300]}",
        "story_blocked": f"{sid} blocked, needs human review: {' '.join(str(e.get('reason', '')).split())[:300]}",
        "wave_done": f"wave {e.get('wave')} complete" + ("" if e.get("passed", True) else " — integration tests FAILED"),
        "integration_passed": f"integration point {e.get('name')} passed",
        "integration_failed": f"integration point {e.get('name')} failed" + (f"; broken by {e['culprit']}" if e.get("culprit") else ""),
        "sprint_done": "sprint complete",
    }.get(kind)
    return f"- {when} {text}" if text else ""


def read_events(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash is not an event
    return events


def run_active(build: Path) -> bool:
    """Whether a `doit` run of this sprint holds the run lock right now."""
    lock = lock_for(build, "run")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False
