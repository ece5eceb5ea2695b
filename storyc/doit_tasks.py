"""plan.json into doit tasks: names, dependencies and actions, no policy.

Every decision was made at compile time; this module only wires what the plan
says. It is the one place that knows doit's task-dict format.
"""

from __future__ import annotations

import json
from pathlib import Path

from storyc.words import count


def load_plan_tasks(dodo_file: str, plan_path: str) -> tuple[dict, object]:
    """DOIT_CONFIG and a task generator for the plan next to `dodo_file`."""
    root = Path(dodo_file).resolve().parent
    plan = json.loads((root / plan_path).read_text(encoding="utf-8"))
    build = plan["config"]["paths"]["build"]
    config = {
        "backend": "sqlite3",
        "dep_file": f"{build}/.doit.db",
        "default_tasks": ["sprint"],
        "verbosity": 2,
    }

    def task_storyc():
        yield from plan_tasks(plan, str(root / plan_path))

    task_storyc.__doc__ = "storyc's compiled sprint"
    return config, task_storyc


def plan_tasks(plan: dict, plan_path: str):
    """One target per story to build, then wave-N, integration:<name> and sprint."""
    targets = [s for s in plan["stories"] if s["target"]]
    gates = plan["config"]["gates"]
    for story in targets:
        policy = story["policy"]
        yield {
            "basename": story["id"],
            "doc": f"{' '.join(story['title'].split())} [{story['size']}, {policy['model']}]",
            "actions": [(announce, [plan_path, "story", story["id"]])],
            "file_dep": [story["spec"]],
            "task_dep": list(story["after"]),
        }
    waves = plan["waves"]
    for n, wave in enumerate(waves, 1):
        yield {
            "basename": f"wave-{n}",
            "doc": f"wave {n} complete ({count(len(wave), 'story', 'stories')})" + (", then the integration gate" if gates["integration"] else ""),
            "actions": [(announce, [plan_path, "wave", str(n)])],
            "task_dep": list(wave) + ([f"wave-{n - 1}"] if n > 1 else []),
            "uptodate": [False],
        }
    for point in plan["integration_points"]:
        yield {
            "basename": f"integration:{point['slug']}",
            "doc": f"{point['name']}: {point['verification']}",
            "actions": [(announce, [plan_path, "integration", point["slug"]])],
            "task_dep": [s for s in point["stories"] if s in {t["id"] for t in targets}],
            "uptodate": [False],
        }
    yield {
        "basename": "sprint",
        "doc": "the whole sprint: every wave, every integration point" + (", then the E2E gate" if gates["e2e"] else "") + ", then the summary",
        "actions": [(announce, [plan_path, "sprint", ""])],
        "task_dep": [f"wave-{n}" for n in range(1, len(waves) + 1)] + [f"integration:{p['slug']}" for p in plan["integration_points"]],
        "uptodate": [False],
    }


def announce(plan_path: str, kind: str, name: str) -> None:
    """Say what this target will do (the execution engine fills this in)."""
    plan = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    gates = plan["config"]["gates"]
    runner = plan["config"]["runner"]["kind"]
    if kind == "story":
        story = next(s for s in plan["stories"] if s["id"] == name)
        policy = story["policy"]
        review = f", then {policy['review_passes']} review pass(es)" if policy["reviewer"] else ""
        steps = ", ".join("secrets check" if g == "secrets" else gates[g] for g in policy["gates"]) or "no gates"
        print(f"{name}: would build with {policy['model']} ({runner} runner); gates: {steps}{review}")
    elif kind == "wave":
        print(f"wave {name}: would run the integration gate: {gates.get('integration') or 'none configured'}")
    elif kind == "integration":
        point = next(p for p in plan["integration_points"] if p["slug"] == name)
        print(f"integration {point['name']}: would run {point['command'] or 'nothing (a manual check)'}")
    else:
        print(f"sprint: would run the E2E gate: {gates.get('e2e') or 'none configured'}")
