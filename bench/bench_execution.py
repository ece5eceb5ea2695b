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


# ---------------------------------------------------------------- measurement


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


@dataclass
class Run:
    """One `doit` run of a synthetic sprint, and what its events.jsonl says."""

    config: str
    jobs: int
    sleep: float
    wall: float
    load: float
    startup: float = 0.0  # process start to the first story_started
    tail: float = 0.0  # the last story_done to the process' exit
    span: float = 0.0  # median story_started -> story_done
    setup: float = 0.0  # median story_started -> attempt_started
    agent: float = 0.0  # median attempt_started -> attempt_finished
    gates: float = 0.0  # median attempt_finished -> gates
    finish: float = 0.0  # median gates -> story_done
    gap: float = 0.0  # median story_done -> next story_started on the same worker
    busy: float = 0.0  # sum of spans / (workers x makespan)


def read_events(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "build" / "events.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def run_doit(python: str, root: Path, args: list[str], timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run([python, "-m", "doit", *args], cwd=root, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, proc


def check_all_done(root: Path, n: int, proc: subprocess.CompletedProcess) -> None:
    stories = json.loads((root / "docs/tasks/tasks.json").read_text(encoding="utf-8"))["stories"]
    done = sum(1 for s in stories if s["status"] == "done")
    files = len(list((root / "out").glob("*.txt"))) if (root / "out").is_dir() else 0
    if proc.returncode != 0 or done != n or files != n:
        raise SystemExit(f"doit in {root} exited {proc.returncode} with {done} of {n} stories done and {files} files:\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def measure_run(python: str, root: Path, n: int, jobs: int, sleep: float, config: str) -> Run:
    """`doit -n jobs` on a compiled, never-run sprint: wall time and the per-story phases from its events."""
    load = loadavg()
    t0 = time.time()
    wall, proc = run_doit(python, root, ["-n", str(jobs)])
    t1 = t0 + wall
    check_all_done(root, n, proc)
    events = read_events(root)
    per: dict[str, dict[str, float]] = {}
    by_pid: dict[int, list[tuple[float, str]]] = {}
    for e in events:
        if "story" in e and e["event"] in ("story_started", "attempt_started", "attempt_finished", "gates", "story_done"):
            per.setdefault(e["story"], {}).setdefault(e["event"], e["ts"])
            if e["event"] in ("story_started", "story_done"):
                by_pid.setdefault(e["pid"], []).append((e["ts"], e["event"]))
    full = [p for p in per.values() if len(p) == 5]

    def med(a: str, b: str) -> float:
        return statistics.median(p[b] - p[a] for p in full)

    gaps = []
    for marks in by_pid.values():
        marks.sort()
        gaps += [b[0] - a[0] for a, b in zip(marks, marks[1:]) if a[1] == "story_done" and b[1] == "story_started"]
    spans = [p["story_done"] - p["story_started"] for p in full]
    return Run(
        config=config, jobs=jobs, sleep=sleep, wall=wall, load=load,
        startup=min(p["story_started"] for p in full) - t0,
        tail=t1 - max(p["story_done"] for p in full),
        span=statistics.median(spans),
        setup=med("story_started", "attempt_started"),
        agent=med("attempt_started", "attempt_finished"),
        gates=med("attempt_finished", "gates"),
        finish=med("gates", "story_done"),
        gap=statistics.median(gaps) if gaps else 0.0,
        busy=sum(spans) / (jobs * wall),
    )


# Runs in a fresh interpreter in the project root: `python -c PHASES <out.json> <doit args...>`.
# Wraps storyc's and doit's steps in timers that count each moment once, for the innermost step running
# (a step's time excludes the steps inside it), then runs doit in this process.
PHASES = r"""
import functools, json, os, subprocess, sys, time
T, N, STACK = {}, {}, []
def wrap(owner, name, cat, count_only=False):
    fn = getattr(owner, name)
    if count_only:
        @functools.wraps(fn)
        def counted(*a, **k):
            N[cat] = N.get(cat, 0) + 1
            return fn(*a, **k)
        setattr(owner, name, counted)
        return
    @functools.wraps(fn)
    def w(*a, **k):
        now = time.perf_counter()
        if STACK:
            T[STACK[-1][0]] = T.get(STACK[-1][0], 0.0) + now - STACK[-1][1]
        STACK.append([cat, now])
        N[cat] = N.get(cat, 0) + 1
        try:
            return fn(*a, **k)
        finally:
            end = time.perf_counter()
            c, s = STACK.pop()
            T[c] = T.get(c, 0.0) + end - s
            if STACK:
                STACK[-1][1] = end
    setattr(owner, name, w)
t0 = time.perf_counter()
import doit.doit_cmd, doit.loader, doit.dependency
t1 = time.perf_counter()
import storyc.doit_tasks, storyc.engine, storyc.integration, storyc.stamps, storyc.checkpoints, storyc.workspace
from storyc.runners import command as command_runner
t2 = time.perf_counter()
T["imports: doit"], T["imports: storyc"] = t1 - t0, t2 - t1
e, ws, cp, st = storyc.engine, storyc.workspace, storyc.checkpoints.Checkpoints, storyc.stamps
wrap(doit.loader, "load_tasks", "load tasks: task dicts")
wrap(doit.loader, "get_module", "load tasks: dodo.py and plan.json")
wrap(st, "later_patterns", "load tasks: stamps.later_patterns")
wrap(doit.dependency.Dependency, "get_status", "doit: up-to-date checks (sqlite, file_dep)")
wrap(st, "unchanged", "storyc: uptodate callable (stamps.unchanged)")
wrap(doit.dependency.Dependency, "save_success", "doit: save a finished task (file_dep md5)")
wrap(doit.dependency.Dependency, "close", "doit: write the state db")
wrap(storyc.doit_tasks.StorycReporter, "initialize", "storyc: reporter start (run lock, plan.json)")
wrap(storyc.doit_tasks.StorycReporter, "complete_run", "storyc: reporter end")
wrap(e, "run_story", "storyc: story action, the rest")
wrap(e, "open_workspace", "storyc: worktree setup (prune, snapshot commit, worktree add)")
wrap(ws.Workspace, "close", "storyc: worktree remove")
wrap(ws.Workspace, "changed", "storyc: worktree diff (git add, diff)")
wrap(ws.Workspace, "bring_home", "storyc: bring the change home (diff, git apply)")
wrap(command_runner.CommandRunner, "run", "storyc: agent process (spawn, wait)")
wrap(e, "run_gates", "storyc: gate commands")
wrap(e, "render", "storyc: prompts (jinja)")
wrap(e, "environment", "storyc: prompts (jinja)")
wrap(e, "_stamp", "storyc: stamp (hash files, write record)")
wrap(cp, "event", "storyc: events.jsonl append (lock)")
wrap(cp, "_refresh", "storyc: views after a story event (PROGRESS.md, board, plan)")
wrap(cp, "status", "storyc: tasks.json status write")
wrap(subprocess.Popen, "__init__", "processes started", count_only=True)
wrap(os, "fsync", "fsync calls", count_only=True)
t3 = time.perf_counter()
from doit.doit_cmd import DoitMain
code = DoitMain().run(sys.argv[2:])
t4 = time.perf_counter()
T["total in process"] = t4 - t0
json.dump({"seconds": T, "calls": N, "code": code}, open(sys.argv[1], "w"))
"""


def run_phases(python: str, root: Path, out: Path, args: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([python, "-c", PHASES, str(out), *args], cwd=root, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"instrumented doit {' '.join(args)} in {root} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    data = json.loads(out.read_text())
    data["stdout"] = proc.stdout
    return wall, data


def median_phases(samples: list[tuple[float, dict]]) -> tuple[float, dict[str, float], dict[str, float]]:
    """Median wall, median seconds per phase, median calls per phase, over instrumented runs."""
    keys = sorted({k for _, d in samples for k in d["seconds"]})
    calls = sorted({k for _, d in samples for k in d["calls"]})
    return (statistics.median(w for w, _ in samples),
            {k: statistics.median(d["seconds"].get(k, 0.0) for _, d in samples) for k in keys},
            {k: statistics.median(d["calls"].get(k, 0) for _, d in samples) for k in calls})


def time_command(python: str, args: list[str], cwd: Path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([python, *args], cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def profile_noop(python: str, root: Path, stats_path: Path, top: int) -> str:
    """cProfile of one no-op `doit`: the top functions by cumulative and by own time."""
    subprocess.run([python, "-m", "cProfile", "-o", str(stats_path), "-m", "doit"], cwd=root, check=True, capture_output=True)
    buf = io.StringIO()
    stats = pstats.Stats(str(stats_path), stream=buf)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return buf.getvalue()
