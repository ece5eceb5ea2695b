"""Benchmark: the everyday commands that should answer at once, against `python -c pass`.

A benchmark, not a test: on a compiled copy of the example, it runs
`storyc --version`, `storyc status` and a no-op `storyc compile` in turn with
`python -c pass` (A B A B ..., so a drifting machine hits both alike) and
writes each command's median wall time and its ratio to the floor, pair by
pair, into the `## Start-up` section of docs/benchmarks.md (goal: each at most
10x the floor). About 30 s:

    python bench/bench_startup.py              # write the section
    python bench/bench_startup.py --no-write   # print it, docs untouched
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import publish

REPO = Path(__file__).resolve().parent.parent
SECTION = "## Start-up"
END_MARK = "<!-- bench_startup:end -->"
GOAL = 10.0


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def measure(runs: int) -> list[tuple[str, float, float, float]]:
    storyc = str(Path(sys.executable).with_name("storyc"))
    with tempfile.TemporaryDirectory(prefix="storyc-startup-") as tmp:
        root = Path(tmp) / "shop"
        shutil.copytree(REPO / "examples" / "shop", root, ignore=shutil.ignore_patterns("build", "dodo.py", ".ai", ".doit.db*"))
        subprocess.run([storyc, "compile"], cwd=root, check=True, capture_output=True)
        commands = {"storyc --version": [storyc, "--version"], "storyc status": [storyc, "status"], "storyc compile (nothing changed)": [storyc, "compile"]}
        floor = [sys.executable, "-c", "pass"]
        rows = []
        for name, argv in commands.items():
            timed(argv, root), timed(floor, root)  # warm-up
            pairs = [(timed(argv, root), timed(floor, root)) for _ in range(runs)]
            rows.append((name, statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs), statistics.median(a / b for a, b in pairs)))
            print(f"{name}: {rows[-1][1]:.3f} s, floor {rows[-1][2]:.3f} s, x{rows[-1][3]:.1f}", file=sys.stderr)
    return rows


def section(rows, runs: int) -> str:
    lines = [
        SECTION,
        "",
        f"`python bench/bench_startup.py` on {platform.node() or 'this machine'} ({platform.machine()}, Python {platform.python_version()}), "
        f"on a compiled copy of examples/shop: each command and `python -c pass` in turn, {runs} pairs after a warm-up; "
        f"the ratio is the median of the pairs' ratios (goal: at most x{GOAL:g}).",
        "",
        "| Command | median (s) | `python -c pass` (s) | ratio | goal met |",
        "| ------- | ---------: | -------------------: | ----: | -------- |",
    ]
    for name, a, b, ratio in rows:
        lines.append(f"| `{name}` | {a:.3f} | {b:.3f} | x{ratio:.1f} | {'yes' if ratio <= GOAL else 'no'} |")
    lines += ["", END_MARK]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print the section; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    text = section(measure(args.runs), args.runs)
    publish(SECTION, END_MARK, text, write=not args.no_write)


if __name__ == "__main__":
    main()
