"""Benchmark: requests, tokens and the cacheable prompt prefix of the example sprint on the anthropic runner.

This is a benchmark, not a test: it asserts only that the sprint ran, measures,
and writes the numbers into docs/benchmarks.md between the markers
`<!-- bench_runner:start -->` and `<!-- bench_runner:end -->` (other sections
are left as they are).

    python bench/bench_runner.py                 # the run docs/benchmarks.md reports
    python bench/bench_runner.py --no-write      # print the section, docs untouched
    python bench/bench_runner.py --jobs 1        # one story at a time

The example (examples/shop) is copied to a temporary directory, its runner set
to `kind = "anthropic"`, compiled, and run with `doit -n 4` in a subprocess
whose ANTHROPIC_BASE_URL points at tests/fakeapi.py's fake Messages API on
127.0.0.1. The fake (ScriptedScenario) plays the example's scripted turns
(.storyc/scripts/US-00N.toml) as Messages API responses, so every request is
the request storyc would send to Claude for those turns, byte for byte. No
network, no API key, no cost.

Token counts are the fake's estimate, not Anthropic's tokenizer: the canonical
JSON of each block, 4 characters a token (the API's own tool-use system prompt,
a few hundred tokens it adds when tools are given, is not counted). Usage comes
from a simulated prompt cache (fakeapi.PromptCache): a prefix up to a
cache_control breakpoint is written, a later request reads the longest written
prefix back. The run itself caches any prefix (no minimum length); the
"documented minimums" table replays the very same requests, in the same order,
through a cache that refuses prefixes shorter than the model's documented
minimum cacheable length (Haiku 4.5: 4,096 tokens; Sonnet 4.5: 1,024).

What it reports:
- per story and role: model calls (HTTP requests), input tokens not cached,
  output, cache read, cache write, and the cost at storyc's default prices
  (compiler/config.py Models.prices), from the stamps (checked against the fake);
- the cacheable prefix: tools + system, the part of every request that is the
  same for every story of one role. Its share of all input tokens (uncached +
  cache read + cache write) overall and per role, and its size against the
  documented minimums;
- the cost of the same requests with no caching, with ideal caching (the run),
  and with the documented minimums.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from storyc.runners.agents.base import Usage
from storyc.runners.agents.money import cost as priced

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "shop"
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
START, END = "<!-- bench_runner:start -->", "<!-- bench_runner:end -->"
HEADING = "## Runner: tokens and prompt caching (example sprint, anthropic runner, fake API)"
COMMAND = "python bench/bench_runner.py"
KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def load_fakeapi():
    spec = importlib.util.spec_from_file_location("storyc_tests_fakeapi", REPO / "tests" / "fakeapi.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Tally:
    requests: int = 0
    usage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KEYS, 0))
    prefix: int = 0  # tokens of tools + system, summed over the requests
    cost: float = 0.0

    def add(self, usage: dict[str, int], prefix: int, cost: float) -> None:
        self.requests += 1
        for key in KEYS:
            self.usage[key] += usage[key]
        self.prefix += prefix
        self.cost += cost

    @property
    def all_input(self) -> int:
        return self.usage["input_tokens"] + self.usage["cache_read_input_tokens"] + self.usage["cache_creation_input_tokens"]

    @property
    def share(self) -> float:
        return self.prefix / self.all_input if self.all_input else 0.0


def price_of(prices, model: str, usage: dict[str, int]) -> float:
    """The Messages API's usage, priced by storyc's own `money.cost`."""
    return priced(Usage(usage["input_tokens"], usage["output_tokens"], usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]), prices[model])


def strip_mark(block: dict) -> dict:
    return {k: v for k, v in block.items() if k != "cache_control"}


def run_example(workdir: Path, jobs: int, fakeapi) -> tuple[Path, object, float]:
    from storyc import api

    root = workdir / "shop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("build", "dodo.py", "__pycache__", ".doit.db*"))
    config = root / "storyc.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('kind = "scripted"', 'kind = "anthropic"'), encoding="utf-8")
    api.build(root)
    scenario = fakeapi.ScriptedScenario(root / ".storyc" / "scripts")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_") and not k.lower().endswith("_proxy")}
    with fakeapi.FakeAPI(responder=scenario) as fake:
        env.update(ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="bench-key", NO_COLOR="1")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "doit", "-n", str(jobs)], cwd=root, env=env, capture_output=True, text=True, timeout=600)
        seconds = time.monotonic() - started
    if done.returncode != 0 or scenario.problems or "E2E tests: passed" not in done.stdout:
        sys.exit(f"the example sprint did not run cleanly (exit {done.returncode}):\n{done.stdout}\n{done.stderr}\n{scenario.problems}")
    return root, scenario, seconds


def measure(root: Path, scenario, fakeapi) -> dict:
    from storyc.compiler.config import Models

    prices = Models().prices
    ok = [p for p in scenario.played if p.status == 200]
    per_call: dict[tuple[str, str], Tally] = defaultdict(Tally)
    per_role: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    models: dict[tuple[str, str], str] = {}
    for p in ok:
        cost = price_of(prices, p.model, p.usage)
        for tally in (per_call[(p.story, p.role)], per_role[p.role], total):
            tally.add(p.usage, p.prefix_tokens, cost)
        models[(p.story, p.role)] = p.model

    # The stamps must agree with the fake: the numbers below are what storyc recorded.
    for (story, role), tally in per_call.items():
        stamp = json.loads((root / "build" / "stamps" / f"{story}.json").read_text(encoding="utf-8"))
        (call,) = [c for c in stamp["calls"] if c["role"] == role]
        assert call["turns"] == tally.requests, (story, role)
        assert call["tokens"] == dict(zip(("input", "output", "cache_read", "cache_write"), (tally.usage[k] for k in KEYS), strict=True)), (story, role)
        assert abs(call["cost_usd"] - tally.cost) < 1e-9, (story, role)

    # The same requests, in the same order, priced three ways.
    replay = fakeapi.PromptCache(fakeapi.MIN_CACHEABLE)
    no_prefix = fakeapi.PromptCache()
    scenarios = {
        "no caching": Tally(),
        "ideal caching (this run)": total,
        "ideal, without the tools and system breakpoints": Tally(),
        "documented minimums": Tally(),
    }
    minimum_by_role: dict[str, Tally] = defaultdict(Tally)
    for p in ok:
        body = p.request.json
        cached = replay.usage(body)
        usage = {"input_tokens": cached.input_tokens, "output_tokens": p.usage["output_tokens"],
                 "cache_read_input_tokens": cached.cache_read_input_tokens, "cache_creation_input_tokens": cached.cache_creation_input_tokens}
        cost = price_of(prices, p.model, usage)
        scenarios["documented minimums"].add(usage, p.prefix_tokens, cost)
        minimum_by_role[p.role].add(usage, p.prefix_tokens, cost)
        bare = {**body, "tools": [strip_mark(t) for t in body["tools"]], "system": [strip_mark(b) for b in body["system"]]}
        alone = no_prefix.usage(bare)
        usage = {"input_tokens": alone.input_tokens, "output_tokens": p.usage["output_tokens"],
                 "cache_read_input_tokens": alone.cache_read_input_tokens, "cache_creation_input_tokens": alone.cache_creation_input_tokens}
        scenarios["ideal, without the tools and system breakpoints"].add(usage, p.prefix_tokens, price_of(prices, p.model, usage))
        flat = {"input_tokens": cached.total, "output_tokens": p.usage["output_tokens"], "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
        scenarios["no caching"].add(flat, p.prefix_tokens, price_of(prices, p.model, flat))

    prefix_size = {}
    for p in ok:
        prefix_size.setdefault(p.role, set()).add(p.prefix_tokens)
    return {
        "per_call": per_call, "per_role": per_role, "total": total, "models": models, "scenarios": scenarios,
        "minimum_by_role": minimum_by_role, "prefix_size": {r: sorted(s) for r, s in prefix_size.items()},
        "retries": sum(p.status != 200 for p in scenario.played),
    }


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        return head + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def n(value: int) -> str:
    return f"{value:,}"


def section(m: dict, jobs: int, seconds: float, fakeapi) -> str:
    per_call, per_role, total, scenarios = m["per_call"], m["per_role"], m["total"], m["scenarios"]
    today = dt.date.today().isoformat()
    lines = [
        START,
        HEADING,
        "",
        f"Measured {today} on {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"storyc at commit {commit()}; `doit -n {jobs}`, {seconds:.1f} s wall (gates included).",
        "",
        "Reproduce from the repository root (with storyc installed and the dev dependencies, e.g. `pip install -e .[test]`):",
        "",
        "```sh",
        COMMAND,
        "```",
        "",
        "The example sprint (examples/shop, six stories) with `[runner] kind = \"anthropic\"`, run by `doit` against the fake "
        "Messages API of tests/fakeapi.py through `ANTHROPIC_BASE_URL`. The fake answers with the example's scripted turns, "
        "so the requests are exactly those storyc sends for them. Tokens are estimated (canonical JSON, 4 characters a token; "
        "the API's own tool-use system prompt is not counted) and cached by a simulated prompt cache: *cache write* and "
        "*cache read* are what the three breakpoints (last tool, system, last user block) earn. *Input* is what no breakpoint "
        "covers. Costs at storyc's default prices; every figure matches the stamps storyc wrote (checked).",
        "",
        "| story | role | model | requests | input | output | cache read | cache write | cost (USD) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (story, role), t in sorted(per_call.items()):
        u = t.usage
        lines.append(
            f"| {story} | {role} | {m['models'][(story, role)]} | {t.requests} | {n(u['input_tokens'])} | {n(u['output_tokens'])} "
            f"| {n(u['cache_read_input_tokens'])} | {n(u['cache_creation_input_tokens'])} | {t.cost:.4f} |"
        )
    u = total.usage
    lines += [
        f"| **all** | | | **{total.requests}** | **{n(u['input_tokens'])}** | **{n(u['output_tokens'])}** "
        f"| **{n(u['cache_read_input_tokens'])}** | **{n(u['cache_creation_input_tokens'])}** | **{total.cost:.4f}** |",
        "",
        "Which story of a role pays for writing the role's prefix to the cache depends on which request arrives first "
        "(stories run in parallel); the totals do not.",
        "",
        "**The cacheable prefix (tools + system).** It is the same for every story of a role, byte for byte. "
        "*Share* is the prefix's tokens over all input tokens (input + cache read + cache write), summed over the requests:",
        "",
        "| role | requests | prefix per request (tokens) | all input tokens | of which prefix | share |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for role, t in sorted(per_role.items()):
        lines.append(
            f"| {role} | {t.requests} | {', '.join(n(s) for s in m['prefix_size'][role])} | {n(t.all_input)} | {n(t.prefix)} | {t.share:.1%} |"
        )
    lines += [
        f"| **all** | **{total.requests}** | | **{n(total.all_input)}** | **{n(total.prefix)}** | **{total.share:.1%}** |",
        "",
        "**The same requests priced four ways.** The rows other than this run's replay its requests, in the same order, through "
        "a fresh simulated cache: *without the tools and system breakpoints* keeps only the breakpoint on the last user block; *documented "
        "minimums* never writes a prefix shorter than the model's minimum ("
        + ", ".join(f"{model} {n(v)}" for model, v in fakeapi.MIN_CACHEABLE.items())
        + " tokens).",
        "",
        "| caching | input | cache read | cache write | cost (USD) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, t in scenarios.items():
        u = t.usage
        lines.append(f"| {name} | {n(u['input_tokens'])} | {n(u['cache_read_input_tokens'])} | {n(u['cache_creation_input_tokens'])} | {t.cost:.4f} |")
    lines += ["", *findings(m), END]
    return "\n".join(lines) + "\n"


def findings(m: dict) -> list[str]:
    total, scenarios = m["total"], m["scenarios"]
    sizes = {role: max(s) for role, s in sorted(m["prefix_size"].items())}
    ideal, floor, none = scenarios["ideal caching (this run)"], scenarios["documented minimums"], scenarios["no caching"]
    bare = scenarios["ideal, without the tools and system breakpoints"]
    return [
        f"Findings. The role prefix is {', '.join(f'{n(size)} tokens for the {role}' for role, size in sizes.items())}: "
        f"{total.share:.1%} of the input tokens of the sprint; most of what caching saves here "
        "is the conversation itself, re-sent on every turn and read back from the breakpoint on the last user block. "
        + _against_minimums(sizes),
        "",
        f"Cost of the sprint's requests: {none.cost:.4f} USD with no caching, {ideal.cost:.4f} with ideal caching, "
        f"{floor.cost:.4f} with the documented minimums "
        f"({(1 - floor.cost / none.cost):.0%} saved against no caching, where ideal caching would save {(1 - ideal.cost / none.cost):.0%}). "
        f"Even ideally, the tools and system breakpoints are worth {bare.cost - ideal.cost:.4f} USD of the sprint's {ideal.cost:.4f} "
        "(the first request of each story after the first of its role and model reads the prefix instead of writing it); "
        "every later request of a call already reads the whole prefix back through the last user block's breakpoint.",
    ]


def _against_minimums(sizes: dict[str, int]) -> str:
    """What the documented minimum cacheable lengths (Sonnet 4.5: 1,024 tokens, Haiku 4.5: 4,096) make of the prefix."""
    largest = max(sizes.values())
    if largest < 1024:
        return (f"The prefix ({n(largest)} tokens at most) is below every documented minimum (1,024 for Sonnet 4.5, 4,096 for Haiku 4.5), "
                "so on the real API the tools and system breakpoints never write an entry.")
    cached = [role for role, size in sizes.items() if size >= 1024]
    return (f"Against the documented minimums (1,024 tokens for Sonnet 4.5, 4,096 for Haiku 4.5) the prefix of the {' and '.join(cached)} "
            "is cached across stories on Sonnet, not on Haiku, whose stories write and read only their own conversation.")


def write_section(path: Path, text: str) -> None:
    """Put `text` (START..END) in place of this benchmark's section, or at the end of the file."""
    doc = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    start, end = doc.find(START), doc.find(END)
    if start == -1 and end != -1 and (heading := doc.rfind(HEADING, 0, end)) != -1:
        start = heading  # the start marker was lost (e.g. swallowed by another section's rewrite): the heading starts the section
    if start != -1 and end != -1 and start < end:
        doc = doc[:start] + text.rstrip("\n") + doc[end + len(END):]
        if not doc.endswith("\n"):
            doc += "\n"
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=4, help="doit -n JOBS (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file to update (default: docs/benchmarks.md)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy of the example")
    args = parser.parse_args(argv)

    fakeapi = load_fakeapi()
    workdir = Path(tempfile.mkdtemp(prefix="storyc-bench-runner-"))
    try:
        root, scenario, seconds = run_example(workdir, args.jobs, fakeapi)
        m = measure(root, scenario, fakeapi)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = section(m, args.jobs, seconds, fakeapi)
    print(text)
    if not args.no_write:
        write_section(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
