"""Benchmark: how close `doit -n 4` gets to the ideal makespan, and how fast a no-op `doit` is at 1,000 stories.

This is a benchmark, not a test: it asserts nothing about speed, it measures
and writes the numbers into docs/benchmarks.md under `## Execution` (the
`## Compile` section, written by bench_compile.py, is left as it is).

    python bench/bench_execution.py                    # the run docs/benchmarks.md reports
    python bench/bench_execution.py --no-write         # print the section, docs untouched
    python bench/bench_execution.py --quick            # fewer configurations and repeats: a quick look

Part 1, makespan. A synthetic sprint of 60 stories in a layered DAG (8 waves,
every story depending on one or two of the wave before, some on an older one,
the last waves fanning in), all size XS (no reviewer, one agent call each).
The agent is the `command` runner running `sh -c "sleep S; echo ... > out/<id>.txt"`
from outside the repository, so each story is S seconds of work plus whatever
storyc and doit add. The bound is max(critical path, total work / jobs) with
the critical path the longest dependency chain in stories times S. Each
configuration (isolation none or worktree; gate: none, `true`, or
`python -c pass`) runs `doit -n 4` in a fresh copy of the compiled repository,
repeated, and the median is reported; `doit -n 1` runs too. Every run must
leave all 60 stories done (checked). The per-story breakdown comes from
build/events.jsonl (story_started, attempt_started, attempt_finished, gates,
story_done, each stamped with its worker's pid).

Part 2, no-op at 1,000 stories. A 1,000-story layered sprint (isolation none,
gate `true`, an agent that only writes its file) is compiled and run once
with `doit -n 2` to make every story done (timed); then a no-op `doit`
(nothing stale: no story may start, checked) and `doit list` are timed as
whole processes, and the no-op run is profiled with cProfile.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
COMMAND = "python bench/bench_execution.py"
SECTION = "## Execution"
MAKESPAN_GOAL = 1.10  # makespan within 10 % of the bound
NOOP_GOAL_S = 0.5  # a no-op run under 0.5 s at 1,000 stories

# 60 stories in 8 waves: the critical path is 8 stories, total work / 4 is 15.
LAYERS_60 = (4, 8, 8, 12, 12, 8, 4, 4)

GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}


# ----------------------------------------------------------------- the sprint


def layered_dag(layers: tuple[int, ...] | list[int], seed: str) -> dict[str, list[str]]:
    """Story id -> its dependencies: every story of a layer depends on one or two of the layer before
    (so the longest chain goes through every layer), a quarter also on an older one; a story of the
    last two layers fans in from three to five."""
    rng = random.Random(seed)
    ids: list[list[str]] = []
    n = 0
    for size in layers:
        ids.append([f"S-{n + k + 1:04d}" for k in range(size)])
        n += size
    deps: dict[str, list[str]] = {}
    for k, layer in enumerate(ids):
        for sid in layer:
            if k == 0:
                deps[sid] = []
                continue
            fan = rng.randint(3, 5) if k >= len(ids) - 2 and rng.random() < 0.5 else rng.choice((1, 1, 2))
            chosen = rng.sample(ids[k - 1], min(fan, len(ids[k - 1])))
            if k >= 2 and rng.random() < 0.25:
                older = rng.choice(ids[rng.randrange(0, k - 1)])
                chosen.append(older)
            deps[sid] = sorted(set(chosen))
    return deps


def layers_for(n: int) -> list[int]:
    """A layered shape for n stories: a narrow start, a wide middle, a narrower end (about sqrt(n)/2 layers deep)."""
    if n == 60:
        return list(LAYERS_60)
    depth = max(4, round(n ** 0.5 / 1.5))
    weights = [1 + 3 * min(k, depth - 1 - k, depth // 3) for k in range(depth)]
    total = sum(weights)
    sizes = [max(1, n * w // total) for w in weights]
    k = 0
    while sum(sizes) < n:
        sizes[depth // 2 + (k % (depth // 2)) - depth // 4] += 1
        k += 1
    while sum(sizes) > n:
        sizes[sizes.index(max(sizes))] -= 1
    return sizes


def longest_chain(deps: dict[str, list[str]]) -> int:
    """The critical path in stories (every story costs the same)."""
    depth: dict[str, int] = {}
    for sid in deps:  # ids are in topological order
        depth[sid] = 1 + max((depth[d] for d in deps[sid]), default=0)
    return max(depth.values())


def list_schedule(deps: dict[str, list[str]], jobs: int, cost: float) -> float:
    """Makespan of a greedy list schedule with no overhead at all: whenever a worker is free it takes the
    first ready story in id order (doit dispatches in definition order). What the DAG itself allows a
    greedy scheduler, before any per-story cost."""
    import heapq

    finish: dict[str, float] = {}
    free = [0.0] * jobs
    heapq.heapify(free)
    waiting = list(deps)
    clock = 0.0
    running: list[tuple[float, str]] = []
    while waiting or running:
        ready = [s for s in waiting if all(d in finish and finish[d] <= clock for d in deps[s])]
        while ready and free and free[0] <= clock:
            sid = ready.pop(0)
            waiting.remove(sid)
            heapq.heappop(free)
            end = clock + cost
            heapq.heappush(free, end)
            heapq.heappush(running, (end, sid))
        if not running:
            break
        end, sid = heapq.heappop(running)
        finish[sid] = end
        clock = max(clock, end)
        while running and running[0][0] <= clock:
            e, s = heapq.heappop(running)
            finish[s] = e
    return max(finish.values()) if finish else 0.0


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, env={**os.environ, **GIT_ENV}, capture_output=True)


def make_project(root: Path, deps: dict[str, list[str]], *, sleep: float, gate: str | None, isolation: str,
                 python: str, agent_dir: Path) -> None:
    """A git repository with tasks.json, a sprint naming every story, storyc.toml, and the compiled plan."""
    root.mkdir(parents=True)
    stories = [
        {"id": sid, "title": f"Synthetic story {sid}", "size": "XS", "depends_on": d, "files": [f"out/{sid}.txt"],
         "acceptance_criteria": [f"out/{sid}.txt exists"], "status": "todo"}
        for sid, d in deps.items()
    ]
    write(root, "docs/tasks/tasks.json", json.dumps({"version": 1, "project": "Synthetic", "stories": stories}, indent=2) + "\n")
    write(root, "docs/sprints/sprint-001.md", "# Sprint 1: Synthetic\n\n## Stories\n\n" + "".join(f"- {s}\n" for s in deps))
    agent = agent_dir / "agent.sh"
    if not agent.exists():
        agent_dir.mkdir(parents=True, exist_ok=True)
        # Sleep, then write the story's one file: no interpreter to start, the cheapest agent there is.
        agent.write_text('#!/bin/sh\n[ "$2" = 0 ] || sleep "$2"\nmkdir -p out\necho "ok $1" > "out/$1.txt"\n')
        agent.chmod(0o755)
    gates = f'test = {json.dumps(gate)}\n' if gate else ""
    write(root, "storyc.toml", f"""[gates]
{gates}secrets = false

[runner]
kind = "command"
argv = [{json.dumps(str(agent))}, "{{story_id}}", {json.dumps(f"{sleep:g}")}]
max_attempts = 3

[execution]
isolation = "{isolation}"
""")
    write(root, ".gitignore", "build/\n.doit.db*\n__pycache__/\n.ai/\ndodo.py\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    compiled = subprocess.run([python, "-c", "import pathlib, sys; from storyc import api; api.build(pathlib.Path(sys.argv[1]))", str(root)],
                              capture_output=True, text=True)
    if compiled.returncode != 0:
        raise SystemExit(f"compile failed in {root}:\n{compiled.stdout}{compiled.stderr}")
