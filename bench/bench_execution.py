"""Benchmark: the makespan of `doit -n 4` against its lower bound, and a no-op `doit` at 1,000 stories.

A benchmark, not a test: it measures and writes docs/benchmarks.md's `## Execution`
section (up to its end mark; the other sections are left alone). About 4 minutes:

    python bench/bench_execution.py              # write the section
    python bench/bench_execution.py --no-write   # print it, docs untouched

(a) Makespan: a 60-story synthetic sprint (size XS, gate `true`) whose agent, the
`command` runner, sleeps S seconds and writes the story's one file; `doit -n 4`
against max(critical path, total work / 4) and against `doit -n 1`, isolation
none and worktree (median of 3 at S = 0.5 s), plus one run at S = 2 s.
(b) Overhead per story, from build/events.jsonl. (c) No-op `doit` and `doit list`
at 1,000 stories (whole process, median of 5) and a cProfile of the no-op.
(d) The shared-file analysis that compiles in each story's exclusions (compiler/graph.py `shared_files`,
`order_shared`, `later_patterns`) alone, on the stories of compiled plans of 1,000 and 4,000 stories.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import platform
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from sections import publish

from storyc.compiler.graph import StoryGraph, shared_files
from storyc.plan import Plan, load_plan

REPO = Path(__file__).resolve().parent.parent
SECTION = "## Execution"
END_MARK = "<!-- bench_execution:end -->"  # the section runs from its heading to this mark
MAKESPAN_GOAL = 1.10  # makespan within 10 % of the bound
NOOP_GOAL_S = 0.5  # a no-op run under 0.5 s at 1,000 stories
LAYERS_60 = (4, 8, 8, 12, 12, 8, 4, 4)  # critical path 8 stories; total work / 4 = 15 stories
AGENT = '#!/bin/sh\n[ "$2" = 0 ] || sleep "$2"\nmkdir -p out\necho "ok $1" > "out/$1.txt"\n'  # the cheapest agent there is
log = functools.partial(print, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- the sprint


def layered_dag(layers, seed: str) -> dict[str, list[str]]:
    """Story id -> its dependencies: one or two stories of the layer before (so the longest chain crosses every
    layer), a quarter also one older story; half the stories of the last two layers fan in from 3 to 5."""
    rng = random.Random(seed)
    ids, n = [], 0
    for size in layers:
        ids.append([f"S-{n + k + 1:04d}" for k in range(size)])
        n += size
    deps: dict[str, list[str]] = {sid: [] for sid in ids[0]}
    for k in range(1, len(ids)):
        for sid in ids[k]:
            fan = rng.randint(3, 5) if k >= len(ids) - 2 and rng.random() < 0.5 else rng.choice((1, 1, 2))
            chosen = rng.sample(ids[k - 1], min(fan, len(ids[k - 1])))
            if k >= 2 and rng.random() < 0.25:
                chosen.append(rng.choice(ids[rng.randrange(0, k - 1)]))
            deps[sid] = sorted(set(chosen))
    return deps


def layers_for(n: int) -> list[int]:
    """A layered shape for n stories: narrow start, wide middle, narrower end, about sqrt(n) / 1.5 layers."""
    depth = max(4, round(n ** 0.5 / 1.5))
    weights = [1 + 3 * min(k, depth - 1 - k, depth // 3) for k in range(depth)]
    sizes = [max(1, n * w // sum(weights)) for w in weights]
    for k in range(n - sum(sizes)):  # the remainder goes to the middle layers
        sizes[depth // 2 + (k % (depth // 2)) - depth // 4] += 1
    while sum(sizes) > n:
        sizes[sizes.index(max(sizes))] -= 1
    return sizes


def longest_chain(deps: dict[str, list[str]]) -> int:
    depth: dict[str, int] = {}
    for sid, ups in deps.items():  # ids are in topological order
        depth[sid] = 1 + max((depth[d] for d in ups), default=0)
    return max(depth.values())


def greedy_rounds(deps: dict[str, list[str]], jobs: int) -> int:
    """Rounds of a zero-overhead greedy schedule of equal stories (a free worker takes the first ready one)."""
    done, rounds = set(), 0
    while len(done) < len(deps):
        ready = [s for s in deps if s not in done and all(d in done for d in deps[s])]
        done.update(ready[:jobs])
        rounds += 1
    return rounds


def make_project(root: Path, deps: dict[str, list[str]], *, sleep: float, isolation: str, agent: Path) -> float:
    """A git repository with tasks.json, a sprint naming every story and storyc.toml, compiled; returns the compile's seconds."""
    stories = [{"id": sid, "title": f"Synthetic story {sid}", "size": "XS", "depends_on": d, "files": [f"out/{sid}.txt"],
                "acceptance_criteria": [f"out/{sid}.txt exists"], "status": "todo"} for sid, d in deps.items()]
    files = {
        "docs/tasks/tasks.json": json.dumps({"version": 1, "project": "Synthetic", "stories": stories}, indent=2) + "\n",
        "docs/sprints/sprint-001.md": "# Sprint 1: Synthetic\n\n## Stories\n\n" + "".join(f"- {s}\n" for s in deps),
        "storyc.toml": (f'[gates]\ntest = "true"\nsecrets = false\n\n[runner]\nkind = "command"\n'
                        f'argv = [{json.dumps(str(agent))}, "{{story_id}}", "{sleep:g}"]\nmax_attempts = 3\n\n'
                        f'[execution]\nisolation = "{isolation}"\n'),
        ".gitignore": "build/\n.doit.db*\n__pycache__/\n.ai/\ndodo.py\n",  # no `.*.tmp`: the snapshot race is fixed
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    subprocess.run("git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm start",
                   shell=True, cwd=root, check=True, capture_output=True)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "import pathlib, sys; from storyc import api; api.build(pathlib.Path(sys.argv[1]))", str(root)],
                          capture_output=True, text=True, cwd=root, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"compile failed in {root}:\n{proc.stdout}{proc.stderr}")
    return time.perf_counter() - start


def run_doit(root: Path, args: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "doit", *args], cwd=root, capture_output=True, text=True, timeout=3600, check=False)
    return time.perf_counter() - start, proc


def failure(root: Path, n: int, proc: subprocess.CompletedProcess) -> str | None:
    """Why the run did not leave all n stories done, or None."""
    done = sum(s["status"] == "done" for s in json.loads((root / "docs/tasks/tasks.json").read_text(encoding="utf-8"))["stories"])
    files = len(list((root / "out").glob("*.txt"))) if (root / "out").is_dir() else 0
    if proc.returncode == 0 and done == files == n:
        return None
    tail = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()][-3:]
    return f"exit {proc.returncode}, {done} of {n} stories done: " + " / ".join(tail)


def read_events(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "build" / "events.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


# ------------------------------------------------------ (a) makespan, (b) overhead


@dataclass
class Run:
    wall: float
    load: float
    phases: dict[str, float] = field(default_factory=dict)  # medians over the stories, seconds
    excess: dict[str, float] = field(default_factory=dict)  # makespan - n x S / jobs, split (worker-seconds / jobs)


PHASES = ("story_started", "attempt_started", "attempt_finished", "gates", "story_done")


def measure(root: Path, n: int, jobs: int, sleep: float) -> Run | str:
    """`doit -n jobs` on a fresh sprint: its makespan and, from events.jsonl, where each worker's time went."""
    load, t0 = os.getloadavg()[0], time.time()
    wall, proc = run_doit(root, ["-n", str(jobs)])
    if why := failure(root, n, proc):
        return why
    per: dict[str, dict[str, float]] = {}
    by_pid: dict[int, list[tuple[float, str]]] = {}
    for e in read_events(root):
        if e.get("story") and e["event"] in PHASES:
            per.setdefault(e["story"], {}).setdefault(e["event"], e["ts"])
            if e["event"] in ("story_started", "story_done"):
                by_pid.setdefault(e["pid"], []).append((e["ts"], e["event"]))
    stories = [p for p in per.values() if len(p) == len(PHASES)]
    gaps = []
    for marks in by_pid.values():
        marks.sort()
        gaps += [b - a for (a, ka), (b, kb) in itertools.pairwise(marks) if ka == "story_done" and kb == "story_started"]
    spans = [p["story_done"] - p["story_started"] for p in stories]
    agents = [p["attempt_finished"] - p["attempt_started"] for p in stories]
    run = Run(wall, load)
    run.phases = {"start-up: process start → first story (s)": min(p["story_started"] for p in stories) - t0}
    for a, b in itertools.pairwise(PHASES):
        run.phases[f"{a} → {b} (ms)"] = median(p[b] - p[a] for p in stories)
    run.phases["story_done → same worker's next story_started (ms)"] = median(gaps) if gaps else 0.0
    idle = max(0, jobs - len(by_pid))  # a worker that never got a story waits throughout
    run.excess = {
        "agent processes beyond the sleep": (sum(agents) - len(stories) * sleep) / jobs,
        "storyc inside the stories": (sum(spans) - sum(agents)) / jobs,
        "between stories (bookkeeping, dispatch, waiting for a ready story)": sum(gaps) / jobs,
        "start: process start → each worker's first story": sum(min(m)[0] - t0 for m in by_pid.values()) / jobs,
        "end: each worker's last story → exit": (sum(t0 + wall - max(m)[0] for m in by_pid.values()) + idle * wall) / jobs,
    }
    return run


@dataclass
class Config:
    isolation: str
    sleep: float
    bound: float  # max(critical path, total work / 4)
    runs: list[Run] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    serial: Run | str | None = None  # the `-n 1` run

    def add(self, r: Run | str) -> None:
        (self.runs if isinstance(r, Run) else self.failed).append(r)

    @property
    def typical(self) -> Run | None:
        return sorted(self.runs, key=lambda r: r.wall)[len(self.runs) // 2] if self.runs else None

    @property
    def wall(self) -> float:
        return median(r.wall for r in self.runs) if self.runs else float("nan")

    @property
    def ratio(self) -> float:
        return self.wall / self.bound if self.bound else float("nan")


def makespan(base: Path, deps, *, sleep: float, repeat: int, long_sleep: float) -> list[Config]:
    chain = longest_chain(deps)
    configs = [Config(iso, sleep, max(chain * sleep, len(deps) * sleep / 4)) for iso in ("none", "worktree")]
    counter = itertools.count()

    def one(c: Config, jobs: int) -> Run | str:
        root = base / f"m{next(counter):02d}-{c.isolation}-{c.sleep:g}-n{jobs}"
        make_project(root, deps, sleep=c.sleep, isolation=c.isolation, agent=base / "agent.sh")
        r = measure(root, len(deps), jobs, c.sleep)
        log(f"  {c.isolation:8} S={c.sleep:g} -n {jobs}: " + (f"{r.wall:.2f} s (load {r.load:.2f})" if isinstance(r, Run) else f"FAILED: {r}"))
        return r

    for _ in range(repeat):  # interleaved, so that a change of load hits both alike
        for c in configs:
            c.add(one(c, 4))
    for c in configs:
        c.serial = one(c, 1)
    if long_sleep:
        configs.append(Config("none", long_sleep, max(chain * long_sleep, len(deps) * long_sleep / 4)))
        configs[-1].add(one(configs[-1], 4))
    return configs


# -------------------------------------------------------- (c) no-op, (d) exclusions


def time_exclusions(plan_file: Path) -> tuple[float, float]:
    """Median of 5 runs of the compiler's shared-file analysis on the plan's stories as compiled, then with one story
    in 20 also naming a file of one of its dependencies (a shared file: an ordering edge and an exclusion)."""
    plan = load_plan(plan_file)
    files = {s.id: list(s.files) for s in plan.targets}
    alone = median(_shared_analysis(plan, files) for _ in range(5))
    for story in [s for s in plan.targets if s.after][::20]:
        files[story.id].append(f"out/{story.after[0]}.txt")
    return alone, median(_shared_analysis(plan, files) for _ in range(5))


def _shared_analysis(plan: Plan, files: dict[str, list[str]]) -> float:
    """Seconds of one analysis, on a fresh graph of the plan's declared and subtask edges."""
    graph = StoryGraph()
    for story in plan.targets:
        graph.add_story(story.id, story.hours)
    for edge in plan.edges:
        if edge.kind != "file":
            graph.add_edge(edge.source, edge.target)
    start = time.perf_counter()
    shared = shared_files(files)
    graph.order_shared(shared)
    graph.later_patterns(shared)
    return time.perf_counter() - start


@dataclass
class NoOp:
    n: int
    compile_s: float
    done_s: float
    noop: list[float]
    listing: list[float]
    floor: list[float]
    steps: dict[str, float] = field(default_factory=dict)  # cumulative seconds under cProfile
    top: list[tuple[str, int, float, float]] = field(default_factory=list)  # (function, calls, own s, cumulative s)
    profiled: float = 0.0
    exclusions: dict[int, tuple[float, float]] = field(default_factory=dict)


# Where the no-op time goes, from the profile: cumulative time of these functions.
STEPS = {
    "imports (doit, storyc and what they import)": ("<frozen importlib._bootstrap>", "_find_and_load"),
    "doit loading the tasks (dodo.py, plan.json, task dicts)": ("loader.py", "load_tasks"),
    "storyc.runners.stamps.exclusions": ("stamps.py", "exclusions"),
    "up-to-date checks, all of doit's (sqlite, file_dep, uptodate)": ("dependency.py", "get_status"),
    "of which storyc's `uptodate` (stamps.unchanged)": ("stamps.py", "unchanged"),
    "storyc's reporter: start (run lock, run_started)": ("doit_tasks.py", "initialize"),
    "storyc's reporter: end (run_finished)": ("doit_tasks.py", "complete_run"),
}


def noop(base: Path, n: int, repeat: int) -> NoOp:
    root = base / f"noop-{n}"
    deps = layered_dag(layers_for(n), f"storyc-exec-{n}")
    compile_s = make_project(root, deps, sleep=0, isolation="none", agent=base / "agent.sh")
    done_s, proc = run_doit(root, ["-n", "2"])
    if why := failure(root, n, proc):
        raise SystemExit(f"making the {n}-story sprint done failed: {why}")
    log(f"  {n} stories compiled in {compile_s:.2f} s, made done by `doit -n 2` in {done_s:.1f} s")
    before = len(read_events(root))
    times = {"noop": [], "list": [], "floor": []}
    for _ in range(repeat):
        for key, cmd in (("noop", ["-m", "doit"]), ("list", ["-m", "doit", "list"]), ("floor", ["-c", "pass"])):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, *cmd], cwd=root, capture_output=True, text=True, check=False)
            times[key].append(time.perf_counter() - start)
            if proc.returncode != 0 or (key == "noop" and "▶" in proc.stdout) or (key == "list" and len(proc.stdout.splitlines()) < n):
                raise SystemExit(f"{' '.join(cmd)} in {root} failed or ran a story:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    if any(e["event"] == "story_started" for e in read_events(root)[before:]):
        raise SystemExit(f"a no-op doit in {root} started a story")
    b = NoOp(n, compile_s, done_s, times["noop"], times["list"], times["floor"])
    log(f"  no-op doit {median(b.noop):.3f} s, doit list {median(b.listing):.3f} s")
    stats_file = base / "noop.pstats"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "doit"], cwd=root, check=True, capture_output=True)
    b.profiled = time.perf_counter() - start
    stats = pstats.Stats(str(stats_file)).stats  # (file, line, function) -> (calls, primitive calls, own s, cumulative s, callers)
    for label, (file, name) in STEPS.items():
        b.steps[label] = sum(v[3] for (f, _, fn), v in stats.items() if fn == name and f.endswith(file))
    for (f, line, fn), v in sorted(stats.items(), key=lambda kv: -kv[1][2])[:10]:
        b.top.append((fn if f == "~" else f"{fn} ({Path(f).parent.name}/{Path(f).name}:{line})", v[0], v[2], v[3]))
    big = base / "plan-4000"
    make_project(big, layered_dag(layers_for(4000), "storyc-exec-4000"), sleep=0, isolation="none", agent=base / "agent.sh")
    b.exclusions = {n: time_exclusions(root / "build/plan.json"), 4000: time_exclusions(big / "build/plan.json")}
    return b


# ---------------------------------------------------------------------- report


def section(configs: list[Config], deps, b: NoOp, *, loads: list[float], elapsed: float) -> str:
    def out(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO).stdout.strip()

    doit_v = out(sys.executable, "-c", "import doit; print('.'.join(map(str, doit.__version__)))")
    code = f"storyc at commit {out('git', 'rev-parse', '--short', 'HEAD')}" + (
        " plus uncommitted changes" if out("git", "status", "--porcelain", "--", "compiler", "storyc", "templates", "runners") else "")
    n, chain, rounds, S = len(deps), longest_chain(deps), greedy_rounds(deps, 4), configs[0].sleep
    lines = [
        SECTION, "",
        (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python "
         f"{platform.python_version()}; doit {doit_v}; {code}. Load average (1 min, this benchmark included) "
         f"{min(loads):.1f}–{max(loads):.1f}. The benchmark took {elapsed / 60:.1f} min."), "",
        "```sh", "python bench/bench_execution.py", "```", "",
        f"### Makespan: {n} stories", "",
        (f"{n} stories, size XS (one agent call, no reviewer), in {len(LAYERS_60)} waves of {', '.join(map(str, LAYERS_60))} "
         f"({sum(map(len, deps.values()))} dependencies), gate `true`. The agent, the `command` runner, runs a shell script that "
         "sleeps S seconds and writes the story's one file. Isolation `none` works in the tree; `worktree` gives every attempt "
         "a git worktree of a snapshot commit and applies its patch home. Each run starts from a freshly compiled git "
         f"repository and must leave all {n} stories done; the repositories do not git-ignore `.*.tmp` (the snapshot race "
         f"is fixed). Bound = max(critical path, total work / 4) = max({chain} × S, {n} × S / 4); a greedy schedule with no "
         f"overhead (a free worker takes the first ready story, as doit does) takes {rounds} × S, "
         f"{'the bound' if rounds * 4 == n else 'more than the bound'}, so any excess is storyc's and doit's own cost. "
         f"`-n 4` at S = {S:g} s: the median of {len(configs[0].runs) + len(configs[0].failed)}; `-n 1` and the longer S: one run each."), "",
        "| isolation | S (s) | bound (s) | `doit -n 4` (s) | runs (s) | ratio to bound | ≤ 1.10 | `doit -n 1` (s) | speed-up |",
        "| --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: |",
    ]
    for c in configs:
        serial = f"{c.serial.wall:.2f} | ×{c.serial.wall / c.wall:.2f}" if isinstance(c.serial, Run) else ("failed | -" if c.serial else "- | -")
        lines.append(f"| {c.isolation} | {c.sleep:g} | {c.bound:.2f} | {c.wall:.2f} | {', '.join(f'{r.wall:.2f}' for r in c.runs) or '-'} | "
                     f"{c.ratio:.3f} | {'yes' if c.ratio <= MAKESPAN_GOAL else 'no'} | {serial} |")
    failed = [f for c in configs for f in c.failed] + [c.serial for c in configs if isinstance(c.serial, str)]
    total = sum(len(c.runs) + len(c.failed) + (c.serial is not None) for c in configs)
    met = all(c.ratio <= MAKESPAN_GOAL for c in configs if c.sleep == S)
    lines += ["", f"Runs that failed: {len(failed)} of {total}" + (": " + "; ".join(failed) if failed else "") + ".", "",
              (f"**Goal \"makespan within 10 % of the bound\": {'met' if met else 'NOT met'} at S = {S:g} s** ("
               + "; ".join(f"{c.isolation}, S = {c.sleep:g} s: ×{c.ratio:.2f}" for c in configs) + ")."), ""]
    cols = [c for c in configs if c.typical]
    lines += [
        "### Overhead per story (from build/events.jsonl)", "",
        ("The `-n 4` run of median makespan: a story's phases (medians over the stories), and the makespan's excess over "
         "n × S / 4 split exactly (a worker's time is its wait before its first story, its stories, the gaps between them "
         "and its wait after the last; summed over the 4 workers, divided by 4)."), "",
        "| | " + " | ".join(f"{c.isolation}, S = {c.sleep:g} s" for c in cols) + " |", "| --- |" + " ---: |" * len(cols),
    ]
    for key in cols[0].typical.phases:
        fmt = (lambda v: f"{v:.2f}") if key.endswith("(s)") else (lambda v: f"{v * 1000:.0f}")
        lines.append(f"| {key} | " + " | ".join(fmt(c.typical.phases[key]) for c in cols) + " |")
    lines += [f"| excess: {key} (s) | " + " | ".join(f"{c.typical.excess[key]:.2f}" for c in cols) + " |" for key in cols[0].typical.excess]
    lines += ["| **excess (s)** | " + " | ".join(f"**{sum(c.typical.excess.values()):.2f}**" for c in cols) + " |", ""]
    lines += [("The excess is a cost per story and per run, not a share of S: "
               + ", ".join(f"{sum(c.typical.excess.values()):.2f} s ({c.isolation}, S = {c.sleep:g} s)" for c in cols)
               + ". Real agent calls take minutes, so the ratio to the bound falls towards 1 as S grows."), ""]
    noop_s, floor = median(b.noop), median(b.floor)
    lines += [
        f"### No-op run: {b.n:,} stories", "",
        (f"{b.n:,} stories of the same kind ({len(layers_for(b.n))} waves), isolation none, an agent that only writes its file; "
         f"compiled in {b.compile_s:.2f} s, made done by one `doit -n 2` in {b.done_s:.0f} s. Then, with nothing stale "
         f"(checked: no story started), whole processes, median of {len(b.noop)}:"), "",
        "| command | median (s) | runs (s) |", "| --- | ---: | ---: |",
    ]
    for label, t in (("no-op `doit`", b.noop), ("`doit list`", b.listing), ("`python -c pass` (the floor)", b.floor)):
        lines.append(f"| {label} | {median(t):.3f} | {', '.join(f'{x:.3f}' for x in t)} |")
    lines += ["", (f"Where the no-op run's time goes: one run under cProfile ({b.profiled:.2f} s with the profiler on), "
                   "cumulative time of these functions (rows overlap where one calls another):"), "",
              "| step | ms |", "| --- | ---: |", *[f"| {k} | {v * 1000:.0f} |" for k, v in b.steps.items()], "",
              "The top 10 functions of that profile by own time:", "",
              "| function | calls | own (ms) | cumulative (ms) |", "| --- | ---: | ---: | ---: |",
              *[f"| `{f}` | {k:,} | {own * 1000:.1f} | {cum * 1000:.1f} |" for f, k, own, cum in b.top], ""]
    lines += [("The shared-file analysis that compiles in the exclusions (compiler/graph.py `shared_files`, `order_shared`, "
               "`later_patterns`) alone, on the compiled plans' stories (median of 5; *shared*: the same stories with one "
               "in 20 also naming a file of one of its dependencies):"), "",
              "| stories | analysis (ms) | shared (ms) |", "| ---: | ---: | ---: |",
              *[f"| {k:,} | {v[0] * 1000:.1f} | {v[1] * 1000:.1f} |" for k, v in sorted(b.exclusions.items())], ""]
    verdict = ("met" if noop_s < NOOP_GOAL_S else "NOT met") if b.n == 1000 else f"not measured ({b.n:,} stories)"
    lines += [(f"**Goal \"a no-op run under {NOOP_GOAL_S} s at 1,000 stories\": {verdict}** (no-op `doit` {noop_s:.3f} s, "
               f"{noop_s - floor:.3f} s above the interpreter's floor; `doit list` {median(b.listing):.3f} s)."), "", END_MARK, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds of agent work per story (default: %(default)s)")
    parser.add_argument("--long-sleep", type=float, default=2.0, help="S of the one longer run; 0 skips it (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="`-n 4` runs per isolation (default: %(default)s)")
    parser.add_argument("--big", type=int, default=1000, help="stories of the no-op sprint (default: %(default)s)")
    parser.add_argument("--noop-repeat", type=int, default=5, help="runs of the no-op doit and of doit list (default: %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    parser.add_argument("--keep", action="store_true", help="keep the generated repositories")
    args = parser.parse_args(argv)

    began, loads = time.perf_counter(), [os.getloadavg()[0]]
    subprocess.run([sys.executable, "-c", "import doit.doit_cmd, storyc.runners.engine, storyc.api"], check=True, cwd=tempfile.gettempdir())
    base = Path(tempfile.mkdtemp(prefix="storyc-bench-exec-"))
    (base / "agent.sh").write_text(AGENT)
    (base / "agent.sh").chmod(0o755)
    deps = layered_dag(LAYERS_60, "storyc-exec-60")
    try:
        configs = makespan(base, deps, sleep=args.sleep, repeat=args.repeat, long_sleep=args.long_sleep)
        loads += [r.load for c in configs for r in c.runs + ([c.serial] if isinstance(c.serial, Run) else [])]
        b = noop(base, args.big, args.noop_repeat)
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    loads.append(os.getloadavg()[0])
    text = section(configs, deps, b, loads=loads, elapsed=time.perf_counter() - began)
    publish(SECTION, END_MARK, text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
