"""Benchmark: how close `doit -n 4` gets to the ideal makespan, and how fast a no-op `doit` is at 1,000 stories.

This is a benchmark, not a test: it asserts nothing about speed, it measures
and writes the numbers into docs/benchmarks.md under `## Execution` (up to its
end mark; the other benchmarks' sections are left as they are).

    python bench/bench_execution.py                    # the run docs/benchmarks.md reports (about 5 minutes)
    python bench/bench_execution.py --no-write         # print the section, docs untouched
    python bench/bench_execution.py --quick            # two configurations, one run each: a quick look
    python bench/bench_execution.py --python /path/to/venv/bin/python --label "storyc at commit abc1234"

Part 1, makespan. A synthetic sprint of 60 stories in a layered DAG (8 waves
whose widths are multiples of 4, every story depending on one or two stories
of the wave before, a quarter also on an older one, the last waves fanning
in), all size XS (no reviewer, one agent call each). The agent is the
`command` runner running a shell script outside the repository, `sleep S`
then write `out/<id>.txt`, so each story is S seconds of work plus whatever
storyc and doit add. The bound is max(critical path, total work / jobs), the
critical path being the longest dependency chain in stories times S. Each
configuration (isolation none or worktree; gate: none, `true`, or
`python -c pass`) runs `doit -n 4` in a freshly compiled git repository,
repeated and interleaved, and the median is reported; `doit -n 1` runs too.
Every run must leave all 60 stories done (checked). From build/events.jsonl
(story_started, attempt_started, attempt_finished, gates, story_done, each
with its worker's pid) come the per-story phases and an exact split of the
makespan's excess over the bound. Then plain `doit` (actions in process, one
at a time) runs the sprint with sleep 0 under timers around storyc's and
doit's steps (PHASES): where a story's fixed cost goes.

Part 2, no-op at 1,000 stories. A 1,000-story layered sprint (isolation none,
gate `true`, an agent that only writes its file) is compiled and made done by
one `doit -n 2` (timed); then a no-op `doit` (nothing stale: no story may
start, checked) and `doit list` are timed as whole processes, the no-op run
is instrumented like part 1 and profiled with cProfile (printed), the
checkpoint writes of one story event are timed at 60 and 1,000 stories, and
stamps.later_patterns alone at 500 to 4,000 stories.

CPU taken by other work on the machine is measured during each run
(/proc/stat less this benchmark's own processes) and reported.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import pstats
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
COMMAND = "python bench/bench_execution.py"
SECTION = "## Execution"
END_MARK = "<!-- bench_execution:end -->"  # the section runs from its heading to this mark
MAKESPAN_GOAL = 1.10  # makespan within 10 % of the bound
NOOP_GOAL_S = 0.5  # a no-op run under 0.5 s at 1,000 stories

# 60 stories in 8 waves: the critical path is 8 stories, total work / 4 is 15.
LAYERS_60 = (4, 8, 8, 12, 12, 8, 4, 4)

GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}


# ----------------------------------------------------------------- the sprint


def layered_dag(layers: tuple[int, ...] | list[int], seed: str) -> dict[str, list[str]]:
    """Story id -> its dependencies: every story of a layer depends on one or two of the layer before
    (so the longest chain goes through every layer), a quarter also on an older one; half the stories
    of the last two layers fan in from three to five."""
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
    """A layered shape for n stories: a narrow start, a wide middle, a narrower end (about sqrt(n)/1.5 layers deep)."""
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
    for sid, ups in deps.items():  # ids are in topological order
        depth[sid] = 1 + max((depth[d] for d in ups), default=0)
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
                 python: str, agent_dir: Path, ignore_tmp: bool = True) -> float:
    """A git repository with tasks.json, a sprint naming every story, storyc.toml, and the compiled plan.

    Returns the seconds the compile took (a fresh `python -c` calling storyc.api.build, whole process).

    `ignore_tmp` git-ignores `.*.tmp`, the temporary files of storyc's atomic writes: without it, a worktree
    snapshot (`git add -A` in the working tree) races a parallel worker's write of tasks.json or the kanban
    board in docs/tasks/ and fails now and then with "unable to stat '.tasks.json.<hex>.tmp'" (a storyc bug,
    reported with this benchmark; `--no-tmp-ignore` runs without the workaround)."""
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
    write(root, ".gitignore", "build/\n.doit.db*\n__pycache__/\n.ai/\ndodo.py\n" + (".*.tmp\n" if ignore_tmp else ""))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    start = time.perf_counter()
    compiled = subprocess.run([python, "-c", "import pathlib, sys; from storyc import api; api.build(pathlib.Path(sys.argv[1]))", str(root)],
                              capture_output=True, text=True, check=False, cwd=root)  # not the source tree's storyc/
    if compiled.returncode != 0:
        raise SystemExit(f"compile failed in {root}:\n{compiled.stdout}{compiled.stderr}")
    return time.perf_counter() - start


# ---------------------------------------------------------------- measurement


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def cpu_busy() -> float:
    """CPU seconds the whole machine has been busy (all CPUs, from /proc/stat); nan where there is none."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """How much CPU other work took while we measured: the machine's busy time less our children's."""

    def __enter__(self) -> Self:
        self.busy, self.mine, self.start = cpu_busy(), children_cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.start
        self.mine = children_cpu() - self.mine
        self.others = max(0.0, cpu_busy() - self.busy - self.mine)

    @property
    def other_cpus(self) -> float:
        """Other work, in CPUs busy on average (0 to the number of CPUs)."""
        return self.others / self.wall if self.wall else float("nan")


@dataclass
class Run:
    """One `doit` run of a synthetic sprint, and what its events.jsonl says."""

    config: str
    jobs: int
    sleep: float
    wall: float
    load: float
    other_cpus: float = 0.0  # CPUs other work kept busy on average during the run
    cpu: float = 0.0  # CPU seconds of doit and everything it started
    startup: float = 0.0  # process start to the first story_started
    tail: float = 0.0  # the last story_done to the process' exit
    span: float = 0.0  # median story_started -> story_done
    setup: float = 0.0  # median story_started -> attempt_started
    agent: float = 0.0  # median attempt_started -> attempt_finished
    gates: float = 0.0  # median attempt_finished -> gates
    finish: float = 0.0  # median gates -> story_done
    gap: float = 0.0  # median story_done -> next story_started on the same worker
    busy: float = 0.0  # sum of spans / (workers x makespan)
    # The makespan's excess over n x sleep / jobs, exactly: worker-seconds / jobs spent on each of these.
    ex_agent: float = 0.0  # the agent calls beyond the sleep (spawning the agent, its own start)
    ex_story: float = 0.0  # storyc inside a story: story_started -> story_done less the agent call
    ex_between: float = 0.0  # story_done -> the worker's next story_started (bookkeeping, dispatch, waiting)
    ex_start: float = 0.0  # process start -> a worker's first story_started
    ex_end: float = 0.0  # a worker's last story_done -> process exit

    @property
    def excess(self) -> float:
        return self.ex_agent + self.ex_story + self.ex_between + self.ex_start + self.ex_end


def read_events(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "build" / "events.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def run_doit(python: str, root: Path, args: list[str], timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run([python, "-m", "doit", *args], cwd=root, capture_output=True, text=True, timeout=timeout, check=False)
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
    with CpuMeter() as meter:
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
        gaps += [b[0] - a[0] for a, b in itertools.pairwise(marks) if a[1] == "story_done" and b[1] == "story_started"]
    spans = [p["story_done"] - p["story_started"] for p in full]
    agents = [p["attempt_finished"] - p["attempt_started"] for p in full]
    idle_workers = max(0, jobs - len(by_pid))  # a worker that never got a story idles throughout
    return Run(
        config=config, jobs=jobs, sleep=sleep, wall=wall, load=load, other_cpus=meter.other_cpus, cpu=meter.mine,
        startup=min(p["story_started"] for p in full) - t0,
        tail=t1 - max(p["story_done"] for p in full),
        span=statistics.median(spans),
        setup=med("story_started", "attempt_started"),
        agent=med("attempt_started", "attempt_finished"),
        gates=med("attempt_finished", "gates"),
        finish=med("gates", "story_done"),
        gap=statistics.median(gaps) if gaps else 0.0,
        busy=sum(spans) / (jobs * wall),
        ex_agent=(sum(agents) - len(full) * sleep) / jobs,
        ex_story=(sum(spans) - sum(agents)) / jobs,
        ex_between=sum(gaps) / jobs,
        ex_start=sum(min(m)[0] - t0 for m in by_pid.values()) / jobs,
        ex_end=(sum(t1 - max(m)[0] for m in by_pid.values()) + idle_workers * wall) / jobs,
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
    proc = subprocess.run([python, "-c", PHASES, str(out), *args], cwd=root, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"instrumented doit {' '.join(args)} in {root} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    data = json.loads(out.read_text())
    data["stdout"] = proc.stdout
    return wall, data


def median_phases(samples: list[tuple[float, dict]]) -> tuple[float, dict[str, float], dict[str, float]]:
    """Median wall, median seconds per phase, median calls per phase, over instrumented runs."""
    for _, d in samples:  # what no timer covered, per run (a median of differences, not a difference of medians)
        d["seconds"]["_rest"] = d["seconds"].get("total in process", 0.0) - sum(
            v for k, v in d["seconds"].items() if k not in ("total in process", "_rest"))
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


# Runs in a fresh interpreter in a finished project's root: `python -c CHECKPOINT_COSTS <repeat>`; prints one JSON line.
# The checkpoint writes that every story event makes, timed alone (the last status written is "done" again).
CHECKPOINT_COSTS = r"""
import json, statistics, sys, time
from pathlib import Path
from storyc.checkpoints import Checkpoints, read_events
root, reps = Path("."), int(sys.argv[1])
plan = json.loads((root / "build" / "plan.json").read_text(encoding="utf-8"))
cp = Checkpoints(root, plan)
sid = next(s["id"] for s in plan["stories"] if s["target"])
def timed(f):
    times, cpu = [], []
    for _ in range(reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        f()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return [statistics.median(times), statistics.median(cpu)]
out = {"read and parse events.jsonl": timed(lambda: read_events(cp.events_file))}
if hasattr(cp, "_refresh"):
    out["views refresh (PROGRESS.md, board, plan doc)"] = timed(
        lambda: cp._refresh({"ts": round(time.time(), 3), "event": "story_skipped", "story": sid, "reason": "benchmark", "pid": 0}))
flip = iter(["in_progress", "done"] * reps)
out["tasks.json status write"] = timed(lambda: cp.status(sid, next(flip)))
cp.status(sid, "done")
sizes = {"events.jsonl": cp.events_file, "tasks.json": cp.tasks_file, "PROGRESS.md": cp.progress_file,
         "ORCHESTRATION_PLAN.md": cp.plan_doc, "kanban board": cp.kanban_file}
print(json.dumps({"seconds": out, "kb": {k: p.stat().st_size / 1024 for k, p in sizes.items() if p.is_file()},
                  "events": len(read_events(cp.events_file))}))
"""

# `python -c LATER <sizes...>`: stamps.later_patterns alone on plans of the benchmark's shape.
LATER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import bench_execution as b
from storyc.stamps import later_patterns
out = {}
for n in map(int, sys.argv[2:]):
    deps = b.layered_dag(b.layers_for(n), f"storyc-exec-{n}")
    stories = [{"id": s, "after": d, "files": [f"out/{s}.txt"]} for s, d in deps.items()]
    start = time.perf_counter()
    later_patterns(stories)
    out[n] = time.perf_counter() - start
print(json.dumps(out))
"""


def checkpoint_costs(python: str, root: Path, repeat: int) -> dict | None:
    proc = subprocess.run([python, "-c", CHECKPOINT_COSTS, str(3 * repeat)], cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"checkpoint costs in {root} failed (skipped):\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def later_costs(python: str, sizes: list[int]) -> dict[int, float]:
    proc = subprocess.run([python, "-c", LATER, str(Path(__file__).resolve().parent), *map(str, sizes)],
                          capture_output=True, text=True, check=False, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        print(f"later_patterns timing failed (skipped):\n{proc.stderr[-2000:]}", file=sys.stderr)
        return {}
    return {int(k): v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def profile_noop(python: str, root: Path, stats_path: Path, top: int) -> str:
    """cProfile of one no-op `doit`: the top functions by cumulative and by own time."""
    subprocess.run([python, "-m", "cProfile", "-o", str(stats_path), "-m", "doit"], cwd=root, check=True, capture_output=True)
    buf = io.StringIO()
    stats = pstats.Stats(str(stats_path), stream=buf)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# ------------------------------------------------------------------- the parts

GATES = {"none": None, "true": "true", "python": "python -c pass"}
CONFIGS = (("none", "none"), ("none", "true"), ("none", "python"), ("worktree", "true"), ("worktree", "python"))
SERIAL_CONFIGS = (("none", "true"), ("worktree", "true"))
QUICK_CONFIGS = (("none", "true"), ("worktree", "true"))


def gate_command(gate: str, python: str) -> str | None:
    return f"{shlex.quote(python)} -c pass" if gate == "python" else GATES[gate]


def gate_label(gate: str) -> str:
    return {"none": "none", "true": "`true`", "python": "`python -c pass`"}[gate]


@dataclass
class Makespan:
    deps: dict[str, list[str]]
    sleep: float
    jobs: int
    chain: int
    greedy: float
    uneven_greedy: float
    runs: dict[tuple[str, str], list[Run]] = field(default_factory=dict)
    serial: dict[tuple[str, str], list[Run]] = field(default_factory=dict)
    phases: dict[str, tuple[float, dict, dict]] = field(default_factory=dict)
    race: tuple[int, int, int, str] | None = None  # (runs, died of the race, failed at all, message)

    @property
    def n(self) -> int:
        return len(self.deps)

    @property
    def critical(self) -> float:
        return self.chain * self.sleep

    @property
    def work(self) -> float:
        return self.n * self.sleep

    @property
    def bound(self) -> float:
        return max(self.critical, self.work / self.jobs)

    @property
    def slots(self) -> float:
        """Stories one worker runs in the ideal schedule (the rounds of a greedy schedule)."""
        return self.greedy / self.sleep if self.sleep else self.n / self.jobs


def makespan_part(python: str, base: Path, *, sleep: float, jobs: int, repeat: int, serial_repeat: int,
                  configs, serial_configs, phase_repeat: int, log, ignore_tmp: bool = True, race_runs: int = 0) -> Makespan:
    deps = layered_dag(LAYERS_60, "storyc-exec-60")
    uneven = layered_dag((3, 6, 9, 10, 10, 9, 8, 5), "storyc-exec-60")
    m = Makespan(deps, sleep, jobs, longest_chain(deps), list_schedule(deps, jobs, sleep), list_schedule(uneven, jobs, sleep))
    log(f"60 stories in waves {'/'.join(map(str, LAYERS_60))}: critical path {m.chain} stories = {m.critical:.2f} s, "
        f"total work {m.work:.1f} s / {jobs} = {m.work / jobs:.2f} s; bound {m.bound:.2f} s; zero-overhead greedy schedule {m.greedy:.2f} s")
    agent = base / "agent"
    k = 0
    for r in range(repeat):  # configurations interleaved, so that a change of load hits them alike
        for iso, gate in configs:
            root = base / f"m{k:03d}-{iso}-{gate}-n{jobs}"
            k += 1
            make_project(root, deps, sleep=sleep, gate=gate_command(gate, python), isolation=iso, python=python, agent_dir=agent, ignore_tmp=ignore_tmp)
            run = measure_run(python, root, m.n, jobs, sleep, f"{iso}/{gate}")
            m.runs.setdefault((iso, gate), []).append(run)
            log(f"  -n {jobs} {iso:8} gate {gate:6} {r + 1}/{repeat}: {run.wall:6.2f} s (bound {m.bound:.2f}, x{run.wall / m.bound:.3f}); "
                f"start-up {run.startup:.2f} s, span {run.span * 1000:.0f} ms, between {run.gap * 1000:.0f} ms; CPU {run.cpu:.1f} s; "
                f"other work {run.other_cpus:.2f} CPUs, load {run.load:.2f}")
    for r in range(serial_repeat):
        for iso, gate in serial_configs:
            root = base / f"m{k:03d}-{iso}-{gate}-n1"
            k += 1
            make_project(root, deps, sleep=sleep, gate=gate_command(gate, python), isolation=iso, python=python, agent_dir=agent, ignore_tmp=ignore_tmp)
            run = measure_run(python, root, m.n, 1, sleep, f"{iso}/{gate}")
            m.serial.setdefault((iso, gate), []).append(run)
            log(f"  -n 1 {iso:8} gate {gate:6} {r + 1}/{serial_repeat}: {run.wall:6.2f} s (work {m.work:.1f} s); "
                f"overhead {(run.wall - m.work) / m.n * 1000:.0f} ms per story; CPU {run.cpu:.1f} s; other work {run.other_cpus:.2f} CPUs, load {run.load:.2f}")
    # Where a story's fixed cost goes: plain `doit` (in process, serial), zero sleep, instrumented.
    for iso in ("none", "worktree"):
        samples = []
        for r in range(phase_repeat):
            root = base / f"p{r}-{iso}"
            make_project(root, deps, sleep=0, gate="true", isolation=iso, python=python, agent_dir=agent)
            wall, data = run_phases(python, root, base / f"p{r}-{iso}.json", [])
            check_all_done(root, m.n, subprocess.CompletedProcess([], data["code"] or 0, data["stdout"], ""))
            samples.append((wall, data))
            log(f"  instrumented `doit`, {iso:8}, sleep 0, {r + 1}/{phase_repeat}: {wall:.2f} s, "
                f"{data['seconds']['total in process'] / m.n * 1000:.1f} ms per story in process")
        m.phases[iso] = median_phases(samples)
    if race_runs:
        raced, failed, message = race_probe(python, base, race_runs, jobs, log)
        m.race = (race_runs, raced, failed, message)
    return m


def race_probe(python: str, base: Path, runs: int, jobs: int, log) -> tuple[int, int, str]:
    """Worktree runs (sleep 0) without the `.*.tmp` workaround: how many die of the snapshot race, and one message."""
    deps = layered_dag(LAYERS_60, "storyc-exec-60")
    raced = failed = 0
    message = ""
    for k in range(runs):
        root = base / f"race-{k}"
        make_project(root, deps, sleep=0, gate="true", isolation="worktree", python=python, agent_dir=base / "agent", ignore_tmp=False)
        wall, proc = run_doit(python, root, ["-n", str(jobs)])
        text = proc.stdout + proc.stderr
        hit = re.search(r"unable to stat '([^']*)'", text)
        raced += bool(hit)
        failed += proc.returncode != 0
        if hit and not message:
            message = f"unable to stat '{re.sub(r'[0-9a-f]{12}', '<hex>', hit.group(1))}'"
        log(f"  race probe {k + 1}/{runs}: exit {proc.returncode} after {wall:.1f} s" + (f" ({hit.group(0)})" if hit else ""))
    return raced, failed, message


@dataclass
class NoOp:
    n: int
    layers: list[int]
    chain: int
    dependencies: int
    compile_s: float
    run_s: float = 0.0
    run_jobs: int = 2
    early: float = 0.0  # median worker time per story (span + gap) for the first 100 stories started
    late: float = 0.0  # the same for the last 100
    noop: list[float] = field(default_factory=list)
    listing: list[float] = field(default_factory=list)
    small_noop: list[float] = field(default_factory=list)
    small_listing: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    phases: tuple[float, dict, dict] | None = None
    events_lines: int = 0
    events_mb: float = 0.0
    load: list[float] = field(default_factory=list)
    others: list[float] = field(default_factory=list)  # CPUs other work kept busy, per measured run
    costs_small: dict | None = None  # checkpoint_costs at 60 stories
    costs_big: dict | None = None  # checkpoint_costs at n stories
    later: dict[int, float] = field(default_factory=dict)  # stories -> seconds of stamps.later_patterns


def per_story_cost(root: Path) -> tuple[float, float]:
    """Median (story_started -> story_done) + (story_done -> that worker's next story_started), first and last 100 stories."""
    events = read_events(root)
    by_pid: dict[int, list[dict]] = {}
    for e in events:
        if e["event"] in ("story_started", "story_done"):
            by_pid.setdefault(e["pid"], []).append(e)
    costs: list[tuple[float, float]] = []  # (start, cost)
    for marks in by_pid.values():
        marks.sort(key=lambda e: e["ts"])
        for i, e in enumerate(marks):
            if e["event"] == "story_started" and i + 2 < len(marks) and marks[i + 1]["event"] == "story_done" and marks[i + 2]["event"] == "story_started":
                costs.append((e["ts"], marks[i + 2]["ts"] - e["ts"]))
    costs.sort()
    head, tail = [c for _, c in costs[:100]], [c for _, c in costs[-100:]]
    return statistics.median(head), statistics.median(tail)


def noop_part(python: str, base: Path, *, n: int, jobs: int, repeat: int, phase_repeat: int, small_root: Path | None,
              profile_top: int, log, later_sizes: list[int]) -> tuple[NoOp, str]:
    layers = layers_for(n)
    deps = layered_dag(layers, f"storyc-exec-{n}")
    root = base / f"big-{n}"
    compile_s = make_project(root, deps, sleep=0, gate="true", isolation="none", python=python, agent_dir=base / "agent-big")
    result = NoOp(n, layers, longest_chain(deps), sum(map(len, deps.values())), compile_s)
    log(f"{n} stories in {len(layers)} waves, {result.dependencies} dependencies: compiled in {compile_s:.2f} s")
    result.load.append(loadavg())
    with CpuMeter() as meter:
        result.run_s, proc = run_doit(python, root, ["-n", str(jobs)], timeout=3600)
    result.others.append(meter.other_cpus)
    result.run_jobs = jobs
    check_all_done(root, n, proc)
    result.early, result.late = per_story_cost(root)
    log(f"  made every story done with `doit -n {jobs}` (sleep 0, gate `true`, isolation none): {result.run_s:.1f} s; "
        f"per story and worker {result.early * 1000:.0f} ms for the first 100, {result.late * 1000:.0f} ms for the last 100")
    before = len(read_events(root))
    for _ in range(repeat):
        result.load.append(loadavg())
        with CpuMeter() as meter:
            wall, proc = run_doit(python, root, [])
        result.others.append(meter.other_cpus)
        if proc.returncode != 0 or "▶" in proc.stdout:
            raise SystemExit(f"the no-op doit in {root} started a story or failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        result.noop.append(wall)
    started = [e for e in read_events(root)[before:] if e["event"] == "story_started"]
    if started:
        raise SystemExit(f"the no-op doit in {root} started {len(started)} stories")
    for _ in range(repeat):
        with CpuMeter() as meter:
            wall, proc = run_doit(python, root, ["list"])
        result.others.append(meter.other_cpus)
        if proc.returncode != 0 or len(proc.stdout.splitlines()) < n:
            raise SystemExit(f"doit list in {root} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        result.listing.append(wall)
    log(f"  no-op doit: {', '.join(f'{t:.3f}' for t in result.noop)} s; doit list: {', '.join(f'{t:.3f}' for t in result.listing)} s")
    result.floor = time_command(python, ["-c", "pass"], base, repeat)
    if small_root is not None:
        for _ in range(repeat):
            wall, proc = run_doit(python, small_root, [])
            if proc.returncode != 0 or "▶" in proc.stdout:
                raise SystemExit(f"the no-op doit in {small_root} started a story or failed:\n{proc.stdout[-2000:]}")
            result.small_noop.append(wall)
        result.small_listing = time_command(python, ["-m", "doit", "list"], small_root, repeat)
        log(f"  60 stories: no-op doit {statistics.median(result.small_noop):.3f} s, doit list {statistics.median(result.small_listing):.3f} s")
    result.costs_big = checkpoint_costs(python, root, repeat)
    if small_root is not None:
        result.costs_small = checkpoint_costs(python, small_root, repeat)
    result.later = later_costs(python, later_sizes)
    log(f"  checkpoint costs (wall, CPU): {result.costs_small and result.costs_small['seconds']} at 60, {result.costs_big and result.costs_big['seconds']} at {n}; "
        f"later_patterns {result.later}")
    samples = []
    for r in range(phase_repeat):
        wall, data = run_phases(python, root, base / f"noop-phases-{r}.json", [])
        if "▶" in data["stdout"]:
            raise SystemExit("the instrumented no-op doit started a story")
        samples.append((wall, data))
    result.phases = median_phases(samples)
    events_file = root / "build" / "events.jsonl"
    result.events_lines = len(events_file.read_text(encoding="utf-8").splitlines())
    result.events_mb = events_file.stat().st_size / 1e6
    text = profile_noop(python, root, base / "noop.pstats", profile_top)
    return result, text


# -------------------------------------------------------------------- report


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()} ({platform.python_implementation()})")


def versions(python: str) -> str:
    out = subprocess.run([python, "-c", "import doit, sys; print('.'.join(map(str, doit.__version__)))"], capture_output=True, text=True, check=False)
    git_v = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip().removeprefix("git version ")
    return f"doit {out.stdout.strip() or '?'}, git {git_v or '?'}"


def code_state(python: str, label: str | None = None) -> str:
    """The storyc measured: `label` if given; else the repository's commit (and whether library files had
    uncommitted changes) when `python` imports storyc from this repository; else where it imports it from."""
    if label:
        return label
    where = subprocess.run([python, "-c", "import storyc, os; print(os.path.dirname(os.path.realpath(storyc.__file__)))"],
                           capture_output=True, text=True, check=False, cwd=tempfile.gettempdir()).stdout.strip()
    if where and not Path(where).is_relative_to(REPO):
        return f"storyc imported from {where}"
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "compiler", "storyc", "templates", "runners"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "storyc from a source tree outside git"
    return f"storyc at commit {head}" + (" plus uncommitted changes" if dirty else "")


def med(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    return f"{min(values):.3f}–{max(values):.3f}" if values else "-"


PHASE_ORDER = (
    "storyc: worktree setup (prune, snapshot commit, worktree add)",
    "storyc: worktree diff (git add, diff)",
    "storyc: bring the change home (diff, git apply)",
    "storyc: worktree remove",
    "storyc: views after a story event (PROGRESS.md, board, plan)",
    "storyc: tasks.json status write",
    "storyc: events.jsonl append (lock)",
    "storyc: stamp (hash files, write record)",
    "storyc: agent process (spawn, wait)",
    "storyc: gate commands",
    "storyc: prompts (jinja)",
    "storyc: story action, the rest",
    "storyc: uptodate callable (stamps.unchanged)",
    "doit: up-to-date checks (sqlite, file_dep)",
    "doit: save a finished task (file_dep md5)",
    "doit: write the state db",
    "storyc: reporter start (run lock, plan.json)",
    "storyc: reporter end",
    "load tasks: dodo.py and plan.json",
    "load tasks: stamps.later_patterns",
    "load tasks: task dicts",
    "imports: doit",
    "imports: storyc",
)


def _rest(seconds: dict[str, float]) -> float:
    if "_rest" in seconds:
        return seconds["_rest"]
    return seconds.get("total in process", 0.0) - sum(v for k, v in seconds.items() if k != "total in process")


def makespan_verdict(m: Makespan) -> str:
    parts, met_all = [], True
    for (iso, gate), runs in m.runs.items():
        wall = med(r.wall for r in runs)
        ratio = wall / m.bound
        met_all &= ratio <= MAKESPAN_GOAL
        excess = wall - m.bound
        need = excess / ((MAKESPAN_GOAL - 1) * m.slots)  # S at which the same absolute excess is 10 % of the bound
        parts.append(f"isolation {iso}, gate {gate_label(gate)}: ×{ratio:.2f}" + ("" if ratio <= MAKESPAN_GOAL else f" (met from S ≈ {need:.1f} s)"))
    head = "met" if met_all else "NOT met"
    return (f"**Goal \"makespan of `doit -n {m.jobs}` within 10 % of the bound\": {head}** at S = {m.sleep:g} s: " + "; ".join(parts) +
            ". The figure in brackets is the agent time per story at which the same absolute overhead would be 10 % of the bound "
            f"(the bound grows as {m.slots:g} × S, storyc's and doit's cost per story does not).")


def noop_verdict(b: NoOp) -> str:
    t = med(b.noop)
    if b.n != 1000:
        return f"Goal \"a no-op run under {NOOP_GOAL_S} s at 1,000 stories\": not measured (this run had {b.n:,} stories); median {t:.3f} s."
    return (f"**Goal \"a no-op run under {NOOP_GOAL_S} s at 1,000 stories\": {'met' if t < NOOP_GOAL_S else 'NOT met'}.** "
            f"No-op `doit` with {b.n:,} stories all done: median {t:.3f} s (runs {spread(b.noop)} s); `doit list` {med(b.listing):.3f} s.")


def makespan_summary(m: Makespan) -> list[str]:
    """A paragraph that reads the tables: where the excess goes, from the median runs."""
    def median_run(key):
        runs = m.runs.get(key)
        return sorted(runs, key=lambda r: r.wall)[len(runs) // 2] if runs else None

    base, tree = median_run(("none", "true")), median_run(("worktree", "true"))
    if base is None:
        return []
    text = (f"In short, with isolation none and gate `true` the {base.excess:.2f} s over the bound are "
            f"{base.ex_agent:.2f} s of agent processes beyond their sleep (spawning the agent: any real agent pays its own start "
            f"as well), {base.ex_story:.2f} s of storyc inside the stories, {base.ex_between:.2f} s between stories (checkpoint "
            f"writes, doit's bookkeeping and dispatch, waiting for a ready story), and {base.ex_start + base.ex_end:.2f} s at the "
            f"start and end of the run (interpreter, imports, loading the tasks; the last stories finishing unevenly, the wave "
            f"and sprint targets, exit). Fixed costs alone (start, end, agent spawn) are "
            f"{(base.ex_start + base.ex_end + base.ex_agent) / m.bound:.0%} of the bound at S = {m.sleep:g} s.")
    if tree is not None and "worktree" in m.phases and "none" in m.phases:
        git_ms = sum(m.phases["worktree"][1].get(k, 0.0) for k in PHASE_ORDER[:4]) / m.n * 1000
        text += (f" Worktree isolation adds {tree.ex_story - base.ex_story:.2f} s inside the stories at `-n {m.jobs}`: "
                 f"{git_ms:.0f} ms of git per story when alone ({m.phases['worktree'][2].get('processes started', 0) / m.n:.0f} "
                 "processes, against 2 with isolation none), more when four workers contend for two CPUs and for the one git lock "
                 "under which every snapshot, worktree add and remove, and patch apply runs.")
    return [text, ""]


def noop_summary(b: NoOp) -> list[str]:
    if b.phases is None:
        return []
    seconds = b.phases[1]
    growth = ""
    if len(b.later) >= 2:
        import math

        (n1, t1), (n2, t2) = sorted(b.later.items())[-2:]
        if t1 > 0 and t2 > 0:
            growth = f", growing as n^{math.log(t2 / t1) / math.log(n2 / n1):.1f} between {n1:,} and {n2:,} stories"

    def ms(key: str) -> float:
        return seconds.get(key, 0.0) * 1000

    return [
        (f"In short, the no-op run at {b.n:,} stories spends {ms('imports: storyc'):.0f} ms importing storyc (the story "
         f"action's modules: checkpoints, tasks.json write-back and its pydantic models, jinja2; none of them is needed when "
         f"nothing runs), {ms('load tasks: stamps.later_patterns'):.0f} ms in stamps.later_patterns (above{growth}), {ms('storyc: views after a story event (PROGRESS.md, board, plan)'):.0f} ms "
         "rewriting PROGRESS.md, the board and the plan for the run_started and run_finished events although no story ran, "
         f"{ms('storyc: uptodate callable (stamps.unchanged)'):.0f} ms in the `uptodate` callable (a stamp record parsed and "
         f"the story's files stat'ed per story) and {ms('doit: up-to-date checks (sqlite, file_dep)'):.0f} ms in doit's own "
         "checks; the rest is doit's imports, building the task objects and the interpreter."),
        "",
    ]


def section(m: Makespan | None, b: NoOp | None, *, date: str, python: str, repeat: int, serial_repeat: int, phase_repeat: int,
            noop_repeat: int, loads: list[float], others: list[float], elapsed: float, label: str | None = None) -> str:
    lines = [
        SECTION,
        "",
        (f"Measured {date} on {machine()}; {versions(python)}; {code_state(python, label)}. Other work shared the machine: it kept "
        f"{min(others):.2f}–{max(others):.2f} CPUs busy (median {med(others):.2f}) during the measured runs, from /proc/stat less "
        f"this benchmark's own processes; load average (1 min, ours included) {min(loads):.1f}–{max(loads):.1f}. "
        f"The whole benchmark took {elapsed / 60:.1f} min."),
        "",
        "Reproduce from the repository root (with storyc and doit installed, e.g. `pip install -e .`):",
        "",
        "```sh",
        COMMAND,
        "```",
        "",
    ]
    if m is not None:
        lines += [
            f"### Makespan: {m.n} stories, {m.sleep:g} s of agent work each",
            "",
            (f"A synthetic sprint of {m.n} stories (size XS: one agent call, no reviewer) in {len(LAYERS_60)} waves of "
            f"{', '.join(map(str, LAYERS_60))} stories; every story depends on one or two stories of the wave before, a quarter "
            f"also on an older one, and half of the last two waves' stories fan in from 3–5 ({sum(map(len, m.deps.values()))} dependencies). "
            f"The agent is the `command` runner running a shell script outside the repository, `sleep {m.sleep:g}` then write "
            "`out/<id>.txt` (the story's one file). Gates: `[gates] test` as in the table, `secrets = false`, nothing else "
            "(typecheck, lint unset). Isolation `none` works in the tree; `worktree` (the default in a git repository) gives every "
            "attempt its own git worktree of a snapshot commit and applies its patch home. Every run starts from a freshly "
            f"compiled git repository and must leave all {m.n} stories done (checked). The repositories git-ignore `.*.tmp`: "
            "without that, a worktree snapshot (`git add -A` of the working tree) races another worker's atomic write of "
            "tasks.json or the kanban board and the run dies with \"unable to stat 'docs/tasks/.tasks.json.<hex>.tmp'\""
            + (f": it did in {m.race[1]} of {m.race[0]} runs of this sprint with isolation worktree, sleep 0, `-n {m.jobs}` and no "
               f"such ignore ({m.race[2]} failed in all; first message: {m.race[3] or '-'})." if m.race else
               " (`--race-probe N` counts it).")),
            "",
            (f"Bound = max(critical path, total work / {m.jobs}) = max({m.chain} × {m.sleep:g} s, {m.n} × {m.sleep:g} s / {m.jobs}) = "
            f"**{m.bound:.2f} s**. The wave widths are multiples of {m.jobs}, so a greedy schedule with no overhead at all "
            f"(a free worker takes the first ready story, as doit does) meets it: {m.greedy:.2f} s; any excess below is storyc's "
            f"and doit's own cost. (With waves of 3, 6, 9, 10, 10, 9, 8, 5 instead, the zero-overhead greedy schedule alone is "
            f"{m.uneven_greedy:.2f} s, ×{m.uneven_greedy / m.bound:.3f} of the bound: uneven waves cost a round each.)"),
            "",
            f"Median of {repeat} runs for `-n {m.jobs}`" + (f", {serial_repeat} for `-n 1`" if m.serial else "") +
            "; *excess per slot* is (makespan − bound) / " + f"{m.slots:g}, the time each of a worker's {m.slots:g} stories costs "
            f"beyond its {m.sleep:g} s; *CPU per story* is the CPU time of doit and every process it started, over the stories; "
            f"*other work* the CPUs the rest of the machine kept busy meanwhile; *overhead per story* at `-n 1` is "
            f"(makespan − {m.work:g} s) / {m.n}.",
            "",
            f"| isolation | gate | `doit -n {m.jobs}` (s) | runs (s) | ratio to bound | ≤ 1.10 | excess per slot (ms) | CPU per story (ms) | other work (CPUs) | `doit -n 1` (s) | overhead per story at `-n 1` (ms) | speed-up |",
            "| --- | --- | ---: | ---: | ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for (iso, gate), runs in m.runs.items():
            wall = med(r.wall for r in runs)
            serial = m.serial.get((iso, gate))
            s_wall = med(r.wall for r in serial) if serial else None
            lines.append(
                f"| {iso} | {gate_label(gate)} | {wall:.2f} | {spread([r.wall for r in runs])} | {wall / m.bound:.3f} | "
                f"{'yes' if wall / m.bound <= MAKESPAN_GOAL else 'no'} | {(wall - m.bound) / m.slots * 1000:.0f} | "
                f"{med(r.cpu for r in runs) / m.n * 1000:.0f} | {med(r.other_cpus for r in runs):.2f} | "
                + (f"{s_wall:.2f} | {(s_wall - m.work) / m.n * 1000:.0f} | ×{s_wall / wall:.2f} |" if serial else "- | - | - |")
            )
        lines += [
            "",
            (f"Per story, from build/events.jsonl of the `-n {m.jobs}` runs (medians over the stories, then over the runs; "
            "*start-up* is process start to the first story_started, *tail* the last story_done to the exit; *between* is "
            "story_done to the same worker's next story_started: the views refresh after story_done, the worktree removal, doit's "
            "bookkeeping and dispatch, the next story's first status write; at `-n 4` it includes waiting for a ready story; "
            "*busy* is the stories' spans over workers × makespan):"),
            "",
            "| isolation | gate | start-up (s) | story_started → attempt_started (ms) | agent call (ms) | gates (ms) | gates → story_done (ms) | story span (ms) | between (ms) | tail (s) | busy |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for (iso, gate), runs in m.runs.items():
            lines.append(
                f"| {iso} | {gate_label(gate)} | {med(r.startup for r in runs):.2f} | {med(r.setup for r in runs) * 1000:.0f} | "
                f"{med(r.agent for r in runs) * 1000:.0f} | {med(r.gates for r in runs) * 1000:.0f} | {med(r.finish for r in runs) * 1000:.0f} | "
                f"{med(r.span for r in runs) * 1000:.0f} | {med(r.gap for r in runs) * 1000:.0f} | {med(r.tail for r in runs):.2f} | "
                f"{med(r.busy for r in runs):.0%} |"
            )
        lines += [
            "",
            (f"Where the excess over the bound goes, in the run of median makespan of each configuration (exact: each worker's "
            f"time is its stories' spans, the gaps between them and its wait before the first and after the last; summed over "
            f"the {m.jobs} workers and divided by {m.jobs}):"),
            "",
            ("| isolation | gate | agent calls beyond the sleep (s) | storyc inside the stories (s) | between stories (s) | "
            "start: process start → a worker's first story (s) | end: a worker's last story → exit (s) | excess (s) |"),
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for (iso, gate), runs in m.runs.items():
            r = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]
            lines.append(f"| {iso} | {gate_label(gate)} | {r.ex_agent:.2f} | {r.ex_story:.2f} | {r.ex_between:.2f} | {r.ex_start:.2f} | "
                         f"{r.ex_end:.2f} | {r.excess:.2f} (makespan {r.wall:.2f}) |")
        if m.serial:
            lines += ["", "The same for `-n 1` (one worker, so *between* is pure overhead):", "",
                      "| isolation | gate | start-up (s) | story_started → attempt_started (ms) | agent call (ms) | gates (ms) | gates → story_done (ms) | story span (ms) | between (ms) | tail (s) |",
                      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for (iso, gate), runs in m.serial.items():
                lines.append(
                    f"| {iso} | {gate_label(gate)} | {med(r.startup for r in runs):.2f} | {med(r.setup for r in runs) * 1000:.0f} | "
                    f"{med(r.agent for r in runs) * 1000:.0f} | {med(r.gates for r in runs) * 1000:.0f} | {med(r.finish for r in runs) * 1000:.0f} | "
                    f"{med(r.span for r in runs) * 1000:.0f} | {med(r.gap for r in runs) * 1000:.0f} | {med(r.tail for r in runs):.2f} |")
        if m.phases:
            isos = [i for i in ("none", "worktree") if i in m.phases]
            lines += [
                "",
                (f"Where a story's fixed cost goes: plain `doit` (doit runs every action in its own process, one at a time, no "
                f"contention), sleep 0, gate `true`, each step timed in process with the time of nested steps counted once, for the "
                f"innermost (median of {phase_repeat} runs; ms per story = the step's total / {m.n}):"),
                "",
                "| step | " + " | ".join(f"isolation {i} (ms per story)" for i in isos) + " |",
                "| --- | " + " | ".join("---:" for _ in isos) + " |",
            ]
            rows = [k for k in PHASE_ORDER if any(m.phases[i][1].get(k, 0) > 0.0005 * m.n for i in isos)]
            for k in rows:
                lines.append(f"| {k} | " + " | ".join(f"{m.phases[i][1].get(k, 0.0) / m.n * 1000:.1f}" for i in isos) + " |")
            lines.append("| the rest (doit's loop and reporter, interpreter) | " + " | ".join(f"{_rest(m.phases[i][1]) / m.n * 1000:.1f}" for i in isos) + " |")
            lines.append("| **whole run, in process** | " + " | ".join(f"**{m.phases[i][1]['total in process'] / m.n * 1000:.1f}**" for i in isos) + " |")
            lines.append("| processes started per story | " + " | ".join(f"{m.phases[i][2].get('processes started', 0) / m.n:.1f}" for i in isos) + " |")
            lines.append("| fsync calls per story | " + " | ".join(f"{m.phases[i][2].get('fsync calls', 0) / m.n:.1f}" for i in isos) + " |")
        lines += ["", makespan_verdict(m), ""]
        lines += makespan_summary(m)
    if b is not None:
        lines += [
            f"### No-op run: {b.n:,} stories",
            "",
            (f"A {b.n:,}-story sprint of the same kind ({len(b.layers)} waves, widest {max(b.layers)}; {b.dependencies:,} dependencies; "
            f"critical path {b.chain} stories), isolation none, gate `true`, an agent that only writes its file. Compiled in "
            f"{b.compile_s:.2f} s, then every story made done by one `doit -n {b.run_jobs}`: **{b.run_s:.0f} s** "
            f"({b.run_s / b.n * b.run_jobs * 1000:.0f} ms of worker time per story; per story and worker, start to the worker's next "
            f"start: {b.early * 1000:.0f} ms for the first 100 stories, {b.late * 1000:.0f} ms for the last 100: the cost per story "
            "grows with the sprint, see below). Then, with nothing stale (checked: no story starts, no story_started event), "
            f"the whole process of `doit` and of `doit list`, median of {noop_repeat} runs each:"),
            "",
            "| stories | no-op `doit` (s) | runs (s) | `doit list` (s) | runs (s) |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        if b.small_noop:
            lines.append(f"| 60 | {med(b.small_noop):.3f} | {spread(b.small_noop)} | {med(b.small_listing):.3f} | {spread(b.small_listing)} |")
        lines += [
            f"| {b.n:,} | {med(b.noop):.3f} | {spread(b.noop)} | {med(b.listing):.3f} | {spread(b.listing)} |",
            "",
            (f"Floor: `python -c pass` {med(b.floor):.3f} s. Where the no-op run's time goes at {b.n:,} stories (instrumented as above, "
            f"median of {phase_repeat} runs; events.jsonl then held {b.events_lines:,} lines, {b.events_mb:.1f} MB):"),
            "",
            "| step | ms |",
            "| --- | ---: |",
        ]
        wall, seconds, calls = b.phases
        for k in sorted((k for k in PHASE_ORDER if seconds.get(k, 0) >= 0.0005), key=lambda k: -seconds[k]):
            lines.append(f"| {k}" + (f" ({calls[k]:,.0f} calls)" if calls.get(k, 0) > 2 else "") + f" | {seconds[k] * 1000:.0f} |")
        lines += [
            f"| the rest (doit's loop and reporter) | {_rest(seconds) * 1000:.0f} |",
            f"| **in process** | **{seconds['total in process'] * 1000:.0f}** |",
            f"| whole process, instrumented (interpreter start and exit included) | {wall * 1000:.0f} |",
            "",
        ]
        if b.later:
            lines += [
                "`stamps.later_patterns` (every story's descendants' file patterns; run at every dodo load, by `doit`, "
                "`doit list` and each worker) alone, on plans of this shape: "
                + ", ".join(f"{k:,} stories {v:.3f} s" for k, v in sorted(b.later.items())) + ".",
                "",
            ]
        if b.costs_big:
            small, big = b.costs_small or {"seconds": {}, "kb": {}, "events": 0}, b.costs_big
            lines += [
                (f"What grows with the sprint: the checkpoint writes every story event makes, timed alone (median of {3 * noop_repeat}; "
                 f"wall time, and in brackets the CPU time, which leaves out waiting for the disk's fsync), in the finished 60-story "
                 f"and {b.n:,}-story repositories:"),
                "",
                f"| per story event | 60 stories (ms) | {b.n:,} stories (ms) |",
                "| --- | ---: | ---: |",
            ]
            for k, (wall, cpu) in big["seconds"].items():
                s_wall, s_cpu = small["seconds"].get(k, [float("nan")] * 2)
                lines.append(f"| {k} | {s_wall * 1000:.1f} ({s_cpu * 1000:.1f}) | {wall * 1000:.1f} ({cpu * 1000:.1f}) |")
            lines += [f"| size of {k} (KB) | {small['kb'].get(k, 0):,.0f} | {v:,.0f} |" for k, v in big["kb"].items()]
            lines += [
                f"| events in events.jsonl | {small['events']:,} | {big['events']:,} |",
                "",
                ("A story makes two refreshes (story_started, story_done) and two status writes (in progress, done), each "
                "under a lock that every worker shares."),
                "",
            ]
        lines += noop_summary(b)
        lines += [
            noop_verdict(b),
            "",
        ]
    lines += [END_MARK, ""]
    return "\n".join(lines)


def replace_section(doc: str, new: str) -> str:
    """`doc` with its `## Execution` section replaced, or `new` appended at the end.

    The section runs from its heading to the END mark (or, when the mark was lost, to the next `# ` or `## `
    heading). The mark sits at the end and no mark precedes the heading, so bench_compile.py, which rewrites
    `## Compile` up to the next heading, and bench_runner.py, which rewrites between its own marks, leave it whole."""
    lines = doc.splitlines(keepends=True)
    start = end = None
    fenced = False
    for k, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if fenced:
            continue
        if start is None and line.rstrip() == SECTION:
            start = k
        elif start is not None and line.rstrip() == END_MARK:
            end = k + 1
            break
        elif start is not None and end is None and re.match(r"#{1,2} ", line):
            end = k
            break
    new = new.rstrip("\n") + "\n"
    if start is None:
        return doc.rstrip("\n") + "\n\n" + new if doc.strip() else "# Benchmarks\n\n" + new
    before, after = "".join(lines[:start]), "".join(lines[end:]) if end is not None else ""
    return before + new + ("\n" + after.lstrip("\n") if after.strip() else "")


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds of agent work per story (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=4, help="doit -n for the makespan runs (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per makespan configuration; the median is reported (default: %(default)s)")
    parser.add_argument("--serial-repeat", type=int, default=1, help="`doit -n 1` runs per configuration (default: %(default)s)")
    parser.add_argument("--phase-repeat", type=int, default=3, help="instrumented runs per breakdown (default: %(default)s)")
    parser.add_argument("--big", type=int, default=1000, help="stories of the no-op sprint (default: %(default)s)")
    parser.add_argument("--big-jobs", type=int, default=2, help="doit -n for making the big sprint done (default: %(default)s)")
    parser.add_argument("--noop-repeat", type=int, default=5, help="runs of the no-op doit and of doit list (default: %(default)s)")
    parser.add_argument("--no-tmp-ignore", action="store_true",
                        help="do not git-ignore storyc's .*.tmp files in the synthetic repositories (shows the worktree snapshot race)")
    parser.add_argument("--race-probe", type=int, default=4,
                        help="worktree runs at sleep 0 without the .*.tmp ignore, counting the snapshot race (default: %(default)s)")
    parser.add_argument("--later-sizes", default="500,1000,2000,4000",
                        help="plan sizes at which to time stamps.later_patterns alone (default: %(default)s)")
    parser.add_argument("--only", choices=("makespan", "noop"), help="run one part only")
    parser.add_argument("--quick", action="store_true", help="two configurations, one run each, no -n 1: a quick look")
    parser.add_argument("--python", default=sys.executable, help="interpreter with storyc and doit installed (default: this one)")
    parser.add_argument("--label", default=None,
                        help="how docs/benchmarks.md names the storyc measured (default: this repository's commit, or where --python imports storyc from)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file to update (default: docs/benchmarks.md)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    parser.add_argument("--top", type=int, default=25, help="functions shown per listing of the no-op cProfile (default: %(default)s)")
    parser.add_argument("--tmp", type=Path, default=None, help="where to generate the sprints (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated repositories")
    args = parser.parse_args(argv)
    configs, serial_configs = CONFIGS, SERIAL_CONFIGS
    if args.quick:
        configs, serial_configs = QUICK_CONFIGS, ()
        args.repeat, args.serial_repeat, args.phase_repeat, args.noop_repeat, args.race_probe = 1, 0, 1, 3, 1

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    began = time.perf_counter()
    log(f"machine: {machine()}; {versions(args.python)}; load {loadavg():.2f}")
    subprocess.run([args.python, "-c", "import doit.doit_cmd, storyc.engine, storyc.api"], check=True, cwd=tempfile.gettempdir())  # warm bytecode
    base = Path(tempfile.mkdtemp(prefix="storyc-bench-exec-", dir=args.tmp))
    m = b = None
    profile_text = ""
    try:
        if args.only != "noop":
            m = makespan_part(args.python, base, sleep=args.sleep, jobs=args.jobs, repeat=args.repeat, serial_repeat=args.serial_repeat,
                              configs=configs, serial_configs=serial_configs, phase_repeat=args.phase_repeat, log=log,
                              ignore_tmp=not args.no_tmp_ignore, race_runs=args.race_probe)
        if args.only != "makespan":
            small = None
            if m is not None:
                small = next((r for r in sorted(base.glob("m*-none-true-n*"))), None)
            b, profile_text = noop_part(args.python, base, n=args.big, jobs=args.big_jobs, repeat=args.noop_repeat,
                                        phase_repeat=args.phase_repeat, small_root=small, profile_top=args.top, log=log,
                                        later_sizes=[int(x) for x in args.later_sizes.split(",") if x.strip()])
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    loads = [r.load for runs in (m.runs.values() if m else []) for r in runs] + [r.load for runs in (m.serial.values() if m else []) for r in runs]
    loads += b.load if b else []
    loads.append(loadavg())
    others = [r.other_cpus for runs in (m.runs.values() if m else []) for r in runs]
    others += [r.other_cpus for runs in (m.serial.values() if m else []) for r in runs]
    others += b.others if b else []
    text = section(m, b, date=time.strftime("%Y-%m-%d"), python=args.python, repeat=args.repeat, serial_repeat=args.serial_repeat,
                   phase_repeat=args.phase_repeat, noop_repeat=args.noop_repeat, loads=loads, others=others or [float("nan")], elapsed=time.perf_counter() - began, label=args.label)
    if profile_text:
        print(f"cProfile of one no-op `doit` at {args.big} stories:\n{profile_text}")
    if args.no_write:
        print(text)
    else:
        out = args.output
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(replace_section(out.read_text(encoding="utf-8") if out.is_file() else "", text), encoding="utf-8")
        log(f"wrote the {SECTION!r} section of {out}")
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
