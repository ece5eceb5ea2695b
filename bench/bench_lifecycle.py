"""Benchmark: every agent call over two sprints of everyday edits, each traced to its cause.

A benchmark, not a test: it replays the project of tests/test_lifecycle.py (a
small Python package, its own gates, a fake agent through the `command`
runner) through a scripted fortnight, and after each step reads
build/events.jsonl: which stories started, why (the cause storyc recorded) and
how many agent calls they made. A call is *explained* when the step's edit
names its story; the goal is zero calls that nothing caused. It writes the
`## Lifecycle` section of docs/benchmarks.md (up to its end mark):

    python bench/bench_lifecycle.py              # write the section
    python bench/bench_lifecycle.py --no-write   # print it, docs untouched
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sections import publish

REPO = Path(__file__).resolve().parent.parent
SECTION = "## Lifecycle"
END_MARK = "<!-- bench_lifecycle:end -->"


def scenario_module():
    """tests/test_lifecycle.py, for its project and solutions (one scenario, not two copies)."""
    if "storyc_tests" not in sys.modules:  # the tests' harness (tests/conftest.py), which the scenario imports
        harness = importlib.util.spec_from_file_location("storyc_tests", REPO / "tests" / "conftest.py")
        sys.modules["storyc_tests"] = importlib.util.module_from_spec(harness)
        harness.loader.exec_module(sys.modules["storyc_tests"])
    spec = importlib.util.spec_from_file_location("storyc_lifecycle", REPO / "tests" / "test_lifecycle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def steps(m):
    """(what a person did, the stories it should make call an agent, the action)."""

    def criteria(p):
        p.edit_tasks(lambda d: d["stories"][2]["acceptance_criteria"].append("Export ends without a blank line"))

    def describe(p):
        p.edit_tasks(lambda d: d["stories"][0].update(description="As a note taker I want a note with a title and a body."))

    def template(p):
        from storyc.templates.render import PACKAGE_TEMPLATES

        path = p.root / ".storyc/templates/prompts/builder.md.j2"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((PACKAGE_TEMPLATES / "prompts/builder.md.j2").read_text() + "\nKeep functions under ten lines.\n")

    def append(rel, text):
        return lambda p: (p.root / rel).write_text((p.root / rel).read_text() + text)

    def new_story(p):
        p.edit_tasks(lambda d: d["stories"].append(m.story("N-4", "Tags", ["N-1"])))
        p.write("docs/sprints/sprint-001.md", p.read("docs/sprints/sprint-001.md") + "| N-4 | Tags | S |\n")

    def drop_story(p):
        p.write("docs/sprints/sprint-001.md", p.read("docs/sprints/sprint-001.md").replace("| N-3 | Export | S |\n", ""))

    def sprint_2(p):
        p.edit_tasks(lambda d: d["stories"].append(m.story("N-5", "Ranked search", ["N-2"])))
        p.write("docs/sprints/sprint-002.md", "# Sprint 2: Finding notes\n\n## Stories\n\n- N-5 Ranked search\n")

    def rebuild_folder(p):
        shutil.rmtree(p.root / "build")
        p.storyc("compile")

    def nothing(p):
        pass

    return [
        ("sprint 1, first run", {"N-1", "N-2", "N-3"}, nothing),
        ("doit again (statuses written by the run)", set(), nothing),
        ("criteria of done N-3 edited", {"N-3"}, criteria),
        ("description of done N-1 edited", {"N-1"}, describe),
        ("builder prompt template overridden", {"N-1", "N-2", "N-3"}, template),
        ("passing hand edit of N-3's file", set(), append("src/notes/export.py", "# reviewed by hand\n")),
        ("breaking hand edit of N-1's file", {"N-1"}, append("src/notes/model.py", "def broken(:\n")),
        ("new story N-4 in sprint 1", {"N-4"}, new_story),
        ("N-3 taken out of sprint 1", set(), drop_story),
        ("sprint 2 (N-5 on done N-2)", {"N-5"}, sprint_2),
        ("build folder deleted, compiled again", set(), rebuild_folder),
        ("doit again", set(), nothing),
    ]


def replay() -> list[dict]:
    m = scenario_module()
    rows = []
    with tempfile.TemporaryDirectory(prefix="storyc-lifecycle-") as tmp:
        p = m.Project(Path(tmp))
        p.storyc("compile")
        for what, expected, act in steps(m):
            act(p)
            seen = _events_seen(p)
            started = time.perf_counter()
            p.doit("-n", "4")
            seconds = time.perf_counter() - started
            p.calls()  # the fake agent's own log, emptied
            events = [json.loads(line) for line in (p.root / "build/events.jsonl").read_text().splitlines()][seen:]
            causes = {e["story"]: e.get("cause", "") for e in events if e["event"] == "story_started"}
            calls = [e["story"] for e in events if e["event"] == "attempt_started"]
            unexplained = [s for s in calls if s not in expected]
            rows.append({"step": what, "calls": calls, "causes": causes, "expected": sorted(expected), "unexplained": unexplained, "seconds": seconds})
            print(f"{what}: {len(calls)} call(s) {calls} {causes}", file=sys.stderr)
    return rows


def _events_seen(p) -> int:
    path = p.root / "build/events.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def section(rows: list[dict]) -> str:
    total = sum(len(r["calls"]) for r in rows)
    unexplained = sum(len(r["unexplained"]) for r in rows)
    expected = sum(len(r["expected"]) for r in rows)
    lines = [
        SECTION,
        "",
        f"`python bench/bench_lifecycle.py` on {platform.node() or 'this machine'} ({platform.machine()}, Python {platform.python_version()}): "
        "the project of tests/test_lifecycle.py through two sprints of everyday edits, one `doit -n 4` after each. "
        "A call is explained when the step's edit names its story; the cause is what storyc recorded in build/events.jsonl.",
        "",
        f"**{total} agent calls, {unexplained} unexplained** (goal: 0; {expected} expected by the edits).",
        "",
        "| Step | Agent calls | Stories started, and why | Unexplained | doit (s) |",
        "| ---- | ----------- | ------------------------ | ----------- | -------- |",
    ]
    for r in rows:
        why = "; ".join(f"{s}: {c}" for s, c in sorted(r["causes"].items())) or "-"
        lines.append(f"| {r['step']} | {len(r['calls'])} ({', '.join(r['calls']) or '-'}) | {why} | {', '.join(r['unexplained']) or '0'} | {r['seconds']:.1f} |")
    lines += ["", END_MARK]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the section; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    text = section(replay())
    publish(SECTION, END_MARK, text, write=not args.no_write)


if __name__ == "__main__":
    main()
