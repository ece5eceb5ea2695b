"""Benchmark: how long `storyc compile` takes on synthetic sprints of 100 to 10,000 stories.

This is a benchmark, not a test: it asserts nothing about speed, it measures
and writes the numbers into docs/benchmarks.md under `## Compile`.

    python bench/bench_compile.py                      # the run docs/benchmarks.md reports
    python bench/bench_compile.py --sizes 100,1000 --no-write
    python bench/bench_compile.py --profile            # cProfile the largest size as well

For each size it generates, in a fresh temporary directory, a repository with
docs/tasks/tasks.json (native shape), docs/sprints/sprint-007.md (a Stories in
Scope table naming every story, a 3-row Integration Points table) and a
storyc.toml with gate commands, then measures, each repeated and reported as
the median:

- cold compile: `python -c "...storyc.api.build(root)"` in a fresh process
  with no build/ directory and no dodo.py, wall time of the whole process
  (interpreter start and imports included);
- in-process compile: inside that same process, the time of api.build alone,
  after the imports;
- no-op recompile: the same command again on the compiled repository; every
  output is unchanged, so nothing is written (checked);
- peak RSS: ru_maxrss of the cold-compile process; and the tracemalloc peak of
  api.build, taken in a separate process because tracing slows Python down.

The floor is `python -c "import storyc"` and `python -c "import storyc.api"`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
COMMAND = "python bench/bench_compile.py"
# Where `python -c "import storyc"` runs: from the repository root it would
# import the source folder storyc/ instead of the installed package.
NEUTRAL = Path(tempfile.gettempdir())
SECTION = "## Compile"
GOAL_SIZE = 10_000
GOAL_SECONDS = 1.0
# Growth from the middle size to the largest counts as linear when the cost per
# story grows by at most this factor (timer noise and cache effects allowed).
LINEAR_TOLERANCE = 1.5

SIZES = ("XS", "S", "M", "L", "XL")
EPIC = 50  # stories per epic; dependencies stay mostly inside one
TASKS_REL = "docs/tasks/tasks.json"
SPRINT_REL = "docs/sprints/sprint-007.md"

# ----------------------------------------------------------------- generation

_VERBS = ("Add", "Build", "Wire", "Expose", "Validate", "Cache", "Migrate", "Render", "Index", "Audit")
_NOUNS = ("cart totals", "user profile", "search facet", "invoice PDF", "webhook retry", "rate limiter",
          "price rule", "order export", "session store", "feature flag", "audit log", "tax table")


@dataclass
class Synthetic:
    root: Path
    stories: int
    dependencies: int = 0
    shared: int = 0
    globs: int = 0
    tasks_bytes: int = 0
    sprint_bytes: int = 0


def generate(root: Path, n: int, seed: str = "storyc-bench") -> Synthetic:
    """Write a synthetic repository of `n` stories under `root` (deterministic for a seed and n)."""
    rng = random.Random(f"{seed}-{n}")
    ids = [f"US-{i:05d}" for i in range(1, n + 1)]
    glob_at = set(rng.sample(range(n), min(n, max(3, n // 250))))
    info = Synthetic(root=root, stories=n)
    stories = []
    for i, sid in enumerate(ids):
        epic = i // EPIC
        start = epic * EPIC
        deps: list[str] = []
        if i:
            for _ in range(rng.choices((0, 1, 2, 3), weights=(25, 35, 25, 15))[0]):
                if i > start and rng.random() < 0.9:  # local: one of the previous few in this epic
                    j = rng.randrange(max(start, i - 8), i)
                else:  # a link to anything earlier, across epics
                    j = rng.randrange(0, i)
                if ids[j] not in deps:
                    deps.append(ids[j])
        info.dependencies += len(deps)
        files = [f"src/epic_{epic:03d}/us_{i + 1:05d}.py", f"tests/epic_{epic:03d}/test_us_{i + 1:05d}.py"]
        if i and rng.random() < 0.05:  # ~5%: also edits a file another story owns
            j = rng.randrange(start, i) if i > start else rng.randrange(0, i)
            files.append(f"src/epic_{epic if j >= start else j // EPIC:03d}/us_{j + 1:05d}.py")
            info.shared += 1
        if i in glob_at:  # a few globs: a narrow one over ten sibling modules, or one matching no literal path
            files.append(f"src/epic_{epic:03d}/us_{(i + 1) // 10:04d}*.py" if len(glob_at) % 2 or i % 2 else f"docs/epic_{epic:03d}/*.md")
            info.globs += 1
        verb, noun = _VERBS[i % len(_VERBS)], _NOUNS[(i // len(_VERBS)) % len(_NOUNS)]
        stories.append(
            {
                "id": sid,
                "title": f"{verb} {noun} ({sid})",
                "description": f"As a shopper, I want the {noun} to {verb.lower()} correctly, so that story {sid} can ship.",
                "size": SIZES[i % len(SIZES)],
                "depends_on": deps,
                "files": files,
                "acceptance_criteria": [
                    f"{files[0]} implements the {noun} behaviour described above.",
                    f"{files[1]} covers the happy path and one failure case.",
                    "No public API outside the files in scope changes.",
                ],
                "status": "in_progress" if rng.random() < 0.03 else "todo",
                "priority": ("high", "medium", "low")[i % 3],
                "epic": f"epic-{epic:03d}",
            }
        )
    tasks_text = json.dumps({"version": 1, "project": f"Synthetic {n}", "stories": stories}, indent=2) + "\n"
    rows = "\n".join(f"| {s['id']} | {s['title']} | {s['size']} |" for s in stories)
    a, b, c = ids[0], ids[n // 2], ids[-1]
    sprint_text = f"""---
sprint: 7
name: Synthetic load ({n} stories)
date: 2026-01-05
---

# Sprint 7: Synthetic load ({n} stories)

## Goal

Compile {n} generated stories, to measure storyc.

## Stories in Scope

| Story | Title | Size |
| ----- | ----- | ---- |
{rows}

## Integration Points

| Integration Point | Stories Involved | Verification |
| ----------------- | ---------------- | ------------ |
| First → Middle | {a} → {b} | Integration test |
| Middle → Last | {b} → {c} | E2E test |
| Whole sprint | {a}, {b}, {c} | `python -m pytest tests/integration -q` |
"""
    config_text = f"""[paths]
tasks = "{TASKS_REL}"
sprint = "{SPRINT_REL}"
build = "build"

[gates]
typecheck = "python -m mypy src"
lint = "python -m ruff check src tests"
test = "python -m pytest -q tests"
integration = "python -m pytest -q tests/integration"
e2e = "python -m pytest -q tests/e2e"
"""
    for rel, text in ((TASKS_REL, tasks_text), (SPRINT_REL, sprint_text), ("storyc.toml", config_text)):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    info.tasks_bytes, info.sprint_bytes = len(tasks_text.encode()), len(sprint_text.encode())
    return info


def fresh_copy(source: Path, target: Path) -> Path:
    """The inputs of `source` in a new folder: a cold compile with no build/ and no dodo.py.

    A new folder rather than deleting the outputs of the last run: on a disk
    mounted with `discard` (as here), deleting 10,000 files slows the next
    10,000 creations several-fold for a while, which would be measured as storyc.
    """
    target.mkdir()
    for rel in (TASKS_REL, SPRINT_REL, "storyc.toml"):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target / rel)
    return target


# ---------------------------------------------------------------- measurement

# Runs in a fresh interpreter: `python -c CHILD <root> <mode>`; prints one JSON line.
CHILD = r"""
import sys, time
t0 = time.perf_counter()
from pathlib import Path
import storyc.api
t1 = time.perf_counter()
root, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
elif mode == "profile":
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
t2 = time.perf_counter()
result = storyc.api.build(root)
t3 = time.perf_counter()
extra = {}
if mode == "tracemalloc":
    extra["traced_peak"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
elif mode == "profile":
    profiler.disable()
    profiler.dump_stats(sys.argv[3])
import json, resource
plan, report = result.plan, result.report
print(json.dumps({
    "imports": t1 - t0,
    "build": t3 - t2,
    "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "written": len(report.written),
    "unchanged": len(report.unchanged),
    "targets": len(plan.targets),
    "waves": len(plan.waves),
    "edges": len(plan.edges),
    "file_edges": sum(1 for e in plan.edges if e.kind == "file"),
    **extra,
}))
"""


def run_child(python: str, root: Path, mode: str = "time", *args: str, timeout: float = 3600) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([python, "-c", CHILD, str(root), mode, *args], capture_output=True, text=True, timeout=timeout, cwd=root)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"compile of {root} failed (exit {proc.returncode}):\n{proc.stderr}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def time_command(python: str, code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, cwd=NEUTRAL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def file_floor(folder: Path, count: int) -> float:
    """Seconds to create `count` new small files as storyc does (open "xb", write) in the new `folder`."""
    folder.mkdir()
    data = b"x" * 1500  # about one spec file
    start = time.perf_counter()
    for i in range(count):
        with open(folder / f"f{i}.md", "xb") as handle:
            handle.write(data)
    return time.perf_counter() - start


def rss_mb(maxrss: int) -> float:
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024  # bytes on macOS, KiB on Linux


@dataclass
class SizeResult:
    size: int
    cold: float
    in_process: float
    noop: float
    noop_in_process: float
    noop_cli: float
    imports: float
    rss_mb: float
    traced_mb: float
    file_floor: float = 0.0
    facts: dict = field(default_factory=dict)
    data: Synthetic | None = None

    @property
    def us_per_story(self) -> float:
        return self.in_process / self.size * 1e6


def measure_size(python: str, base: Path, n: int, repeat: int, log) -> SizeResult:
    root = base / f"sprint-{n}"
    root.mkdir()
    data = generate(root, n)
    log(f"{n} stories: {data.dependencies} dependencies, {data.shared} shared files, {data.globs} globs; "
        f"tasks.json {data.tasks_bytes / 1e6:.1f} MB")
    colds, floors = [], []
    for k in range(repeat):
        # The disk's speed at creating files drifts by ten times from minute to
        # minute here, so the floor is measured right before each cold compile.
        floors.append(file_floor(base / f"floor-{n}-{k}", n))
        wall, out = run_child(python, fresh_copy(root, base / f"sprint-{n}-cold-{k}"))
        colds.append((wall, out))
        log(f"  cold {k + 1}/{repeat}: {wall:.3f} s (build {out['build']:.3f} s, imports {out['imports']:.3f} s, "
            f"{rss_mb(out['maxrss']):.0f} MB, wrote {out['written']}; creating {n} files just before: {floors[-1]:.3f} s)")
    compiled = base / f"sprint-{n}-cold-{repeat - 1}"
    noops = []
    for k in range(repeat):
        wall, out = run_child(python, compiled)
        if out["written"]:
            raise SystemExit(f"a recompile with no change wrote {out['written']} file(s) in {root}")
        noops.append((wall, out))
        log(f"  no-op {k + 1}/{repeat}: {wall:.3f} s (build {out['build']:.3f} s, wrote nothing)")
    clis = []
    for k in range(repeat):
        # The command a user types: it answers from build/compiled-from.json without loading the compiler.
        start = time.perf_counter()
        proc = subprocess.run([str(Path(python).with_name("storyc")), "compile", "--root", str(compiled)], capture_output=True, text=True, cwd=NEUTRAL)
        clis.append(time.perf_counter() - start)
        if proc.returncode != 0 or "nothing changed" not in proc.stdout:
            raise SystemExit(f"`storyc compile` on the compiled {compiled} did not answer from its record:\n{proc.stdout}{proc.stderr}")
        log(f"  no-op storyc compile {k + 1}/{repeat}: {clis[-1]:.3f} s")
    traced = []
    for k in range(repeat):
        _, out = run_child(python, fresh_copy(root, base / f"sprint-{n}-traced-{k}"), "tracemalloc")
        traced.append(out["traced_peak"])
        log(f"  tracemalloc {k + 1}/{repeat}: peak {out['traced_peak'] / 2**20:.0f} MB")
    facts = {key: colds[-1][1][key] for key in ("targets", "waves", "edges", "file_edges", "written")}
    return SizeResult(
        size=n,
        cold=statistics.median(w for w, _ in colds),
        in_process=statistics.median(o["build"] for _, o in colds),
        noop=statistics.median(w for w, _ in noops),
        noop_in_process=statistics.median(o["build"] for _, o in noops),
        noop_cli=statistics.median(clis),
        imports=statistics.median(o["imports"] for _, o in colds),
        rss_mb=statistics.median(rss_mb(o["maxrss"]) for _, o in colds),
        traced_mb=statistics.median(traced) / 2**20,
        file_floor=statistics.median(floors),
        facts=facts,
        data=data,
    )


def profile(python: str, base: Path, n: int, top: int, log, save: Path | None = None) -> str:
    """cProfile of one cold api.build of `n` stories: the top functions by cumulative and by own time."""
    import io
    import pstats

    source = base / f"sprint-{n}"
    if not source.is_dir():
        source.mkdir()
        generate(source, n)
    root = fresh_copy(source, base / f"sprint-{n}-profiled")
    stats_path = base / f"profile-{n}.pstats"
    _, out = run_child(python, root, "profile", str(stats_path))
    if save is not None:
        shutil.copyfile(stats_path, save)
    log(f"profiled {n} stories: build {out['build']:.2f} s under cProfile" + (f"; stats saved to {save}" if save else ""))
    buf = io.StringIO()
    stats = pstats.Stats(str(stats_path), stream=buf)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


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
    return f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, Python {platform.python_version()} ({platform.python_implementation()})"


def code_state() -> str:
    """The storyc source measured: commit, and whether library files had uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "compiler", "storyc", "templates", "runners"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "storyc from a source tree outside git"
    return f"storyc at commit {head}" + (" plus uncommitted changes" if dirty else "")


def _growth(results: list[SizeResult], attr: str) -> tuple[SizeResult, SizeResult, float] | None:
    """Cost per story at GOAL_SIZE over the cost per story at the next smaller size."""
    goal = next((r for r in results if r.size == GOAL_SIZE), None)
    smaller = [r for r in results if r.size < GOAL_SIZE]
    if goal is None or not smaller:
        return None
    ref = max(smaller, key=lambda r: r.size)
    return ref, goal, (getattr(goal, attr) / goal.size) / (getattr(ref, attr) / ref.size)


def verdict(results: list[SizeResult]) -> tuple[bool, str]:
    goal = next((r for r in results if r.size == GOAL_SIZE), None)
    if goal is None:
        return False, f"Goal \"10,000 stories in under 1 s, cost growing linearly\": not measured (no {GOAL_SIZE:,}-story run)."
    fast = goal.cold < GOAL_SECONDS
    parts, linear = [], True
    # Growth is judged on the no-op compile: all of storyc's work, none of the disk's.
    growth = _growth(results, "noop_in_process")
    if growth is None:
        linear = False
        parts.append("growth not measured (no smaller size)")
    else:
        ref, big, factor = growth
        linear = factor <= LINEAR_TOLERANCE
        parts.append(f"{ref.noop_in_process / ref.size * 1e6:,.0f} µs per story at {ref.size:,} → "
                     f"{big.noop_in_process / big.size * 1e6:,.0f} µs at {big.size:,} (×{factor:.2f})")
    met = fast and linear
    text = (f"**Goal \"10,000 stories in under 1 s, cost growing linearly\": {'met' if met else 'NOT met'}.** "
            f"Cold compile of {GOAL_SIZE:,} stories, whole process: {goal.cold:.2f} s ({'under' if fast else 'over'} 1 s): "
            f"{goal.imports:.2f} s of imports and {goal.in_process:.2f} s of api.build, which creates {goal.facts['written']:,} files; "
            f"creating {goal.size:,} files took this disk {goal.file_floor:.2f} s on its own just before. "
            f"A no-op recompile, the same command with every output up to date (all of the compile but the file creation), "
            f"takes {goal.noop:.2f} s, {goal.noop_in_process:.2f} s of it api.build. "
            f"Growth of the no-op api.build (linear: the cost per story grows by at most ×{LINEAR_TOLERANCE}): "
            + "; ".join(parts) + f": {'linear' if linear else 'worse than linear'}.")
    return met, text


def section(results: list[SizeResult], floors: dict[str, float], date: str, repeat: int = 3, import_repeat: int = 5) -> str:
    lines = [
        SECTION,
        "",
        f"Measured {date} on {machine()}; {code_state()}.",
        "",
        "Reproduce from the repository root (with storyc installed, e.g. `pip install -e .`):",
        "",
        "```sh",
        COMMAND,
        "```",
        "",
        "Synthetic sprints (tasks.json in the native shape, sizes cycling XS..XL, each story depending on 0-3 earlier "
        "stories, mostly in its own epic of 50; two files per story, ~5% sharing a file with another story, a few globs; "
        "a sprint file whose Stories in Scope table names every story and a 3-row Integration Points table; gates configured). "
        f"Each figure is the median of {repeat} runs. *Cold compile* is `python -c` calling `storyc.api.build` in a fresh process "
        "with no build/ and no dodo.py, interpreter start and imports included; *in-process compile* is api.build alone in "
        "that process, after the imports; *no-op recompile* is the same fresh-process command on an already compiled "
        "repository (nothing written); *peak RSS* is ru_maxrss of the cold-compile process; *µs per story* is the "
        "in-process compile divided by the stories; *no-op `storyc compile`* is the command a user types on the compiled "
        "repository, which answers from build/compiled-from.json (stats, digests of what moved) without loading the "
        "compiler, and its ratio to the cold compile.",
        "",
        "| size | cold compile (s) | in-process compile (s) | no-op recompile (s) | no-op `storyc compile` (s) | ÷ cold | peak RSS (MB) | µs per story |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(f"| {r.size:,} | {r.cold:.3f} | {r.in_process:.3f} | {r.noop:.3f} | {r.noop_cli:.3f} | {r.noop_cli / r.cold:.2f} | {r.rss_mb:.0f} | {r.us_per_story:,.0f} |")
    lines += [
        "",
        "Details:",
        "",
        "| size | waves | edges (file-ordering) | files written | creating as many files as stories, just before (s) | imports in the process (s) | no-op api.build (s) | no-op µs per story | tracemalloc peak of api.build (MB) | tasks.json (MB) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        f = r.facts
        lines.append(f"| {r.size:,} | {f['waves']} | {f['edges']:,} ({f['file_edges']}) | {f['written']:,} | {r.file_floor:.3f} | {r.imports:.3f} | "
                     f"{r.noop_in_process:.3f} | {r.noop_in_process / r.size * 1e6:,.0f} | {r.traced_mb:.0f} | {r.data.tasks_bytes / 1e6:.1f} |")
    lines += [
        "",
        f"Floor (median of {import_repeat} fresh processes): "
        + ", ".join(f"`python -c \"{code}\"` {t:.3f} s" for code, t in floors.items())
        + ".",
        "",
        verdict(results)[1],
        "",
    ]
    return "\n".join(lines)


def replace_section(doc: str, new: str) -> str:
    """`doc` with its `## Compile` section (up to the next `## ` heading) replaced, or `new` appended."""
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
        elif start is not None and re.match(r"#{1,2} ", line):
            end = k
            break
    new = new.rstrip("\n") + "\n"
    if start is None:
        return doc.rstrip("\n") + "\n\n" + new if doc.strip() else "# Benchmarks\n\n" + new
    before, after = "".join(lines[:start]), "".join(lines[end:]) if end is not None else ""
    return before + new + ("\n" + after if after else "")


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated story counts (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported (default: %(default)s)")
    parser.add_argument("--import-repeat", type=int, default=5, help="runs of each import floor (default: %(default)s)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with storyc installed (default: this one)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file to update (default: docs/benchmarks.md)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size even if it meets the goal")
    parser.add_argument("--no-profile", action="store_true", help="never profile")
    parser.add_argument("--profile-out", type=Path, default=None, help="save the cProfile stats (pstats format) to this file")
    parser.add_argument("--top", type=int, default=30, help="functions shown per profile listing (default: %(default)s)")
    parser.add_argument("--tmp", type=Path, default=None, help="where to generate the sprints (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated repositories")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    log(f"machine: {machine()}")
    subprocess.run([args.python, "-c", "import storyc.api"], check=True, cwd=NEUTRAL)  # warm the bytecode cache
    floors = {code: time_command(args.python, code, args.import_repeat) for code in ("pass", "import storyc", "import storyc.api")}
    for code, t in floors.items():
        log(f"python -c \"{code}\": {t:.3f} s")

    base = Path(tempfile.mkdtemp(prefix="storyc-bench-", dir=args.tmp))
    try:
        results = [measure_size(args.python, base, n, args.repeat, log) for n in sizes]
        text = section(results, floors, time.strftime("%Y-%m-%d"), args.repeat, args.import_repeat)
        met, _ = verdict(results)
        largest = max(results, key=lambda r: r.size)
        if args.profile or (not args.no_profile and largest.cold >= GOAL_SECONDS):
            print(profile(args.python, base, largest.size, args.top, log, args.profile_out))
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

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
