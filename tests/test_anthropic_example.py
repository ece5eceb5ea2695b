"""The example sprint, end to end, with the anthropic runner against a fake Messages API.

`doit -n 4` runs the compiled example (examples/shop) in a subprocess with
`[runner] kind = "anthropic"` and ANTHROPIC_BASE_URL pointing at a fake API on
127.0.0.1 (tests/fakeapi.py). The fake plays the example's scripted turns
(.storyc/scripts/US-00N.toml) as real Messages API responses, with usage from a
simulated prompt cache, and answers some requests with 529 overloaded_error
first (one, two, three times in a row), which storyc retries itself (the SDK
client retries nothing), after the 1 ms the fake's retry-after-ms asks for,
saying so on each retry.

The sprint runs once for the module; each test checks one promise of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from storyc import api
from storyc.compiler.config import Models

KEY = "test-key"
HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"
# story -> {role: model}: builders on the planned model, a Reviewer for the M and L stories.
CALLS = {
    "US-001": {"builder": HAIKU},
    "US-002": {"builder": HAIKU},
    "US-003": {"builder": HAIKU},
    "US-004": {"builder": SONNET, "reviewer": SONNET},
    "US-005": {"builder": HAIKU},
    "US-006": {"builder": SONNET, "reviewer": SONNET},
}
# (story, role, attempt, turn) -> how many 529s before the answer.
OVERLOADS = {
    ("US-001", "builder", 1, 0): 1,  # a story's first request
    ("US-004", "reviewer", 1, 0): 2,
    ("US-003", "builder", 1, 3): 3,  # mid-conversation: the conversation goes on where it was
}
PRICES = Models().prices  # storyc's default price table, US dollars per million tokens


import storyc_tests_fakeapi as fakeapi  # loaded by conftest
from storyc_tests import EXAMPLE, EXAMPLE_LITTER


@dataclass
class Run:
    root: Path
    api: object  # fakeapi.FakeAPI, still serving
    scenario: object  # fakeapi.ScriptedScenario
    first: subprocess.CompletedProcess
    seconds: float

    def ok(self) -> list:
        return [p for p in self.scenario.played if p.status == 200]

    def cost(self, played) -> float:
        price, usage = PRICES[played.model], played.usage
        return (
            usage["input_tokens"] * price.input
            + usage["output_tokens"] * price.output
            + usage["cache_read_input_tokens"] * price.cache_read
            + usage["cache_creation_input_tokens"] * price.cache_write
        ) / 1_000_000


def doit(root: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_") and not k.lower().endswith("_proxy")}
    env.update(ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY=KEY, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "doit", *args], cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("anthropic-example") / "shop"
    shutil.copytree(EXAMPLE, root, ignore=EXAMPLE_LITTER)
    config = root / "storyc.toml"
    text = config.read_text(encoding="utf-8")
    assert 'kind = "scripted"' in text
    config.write_text(text.replace('kind = "scripted"', 'kind = "anthropic"'), encoding="utf-8")
    api.build(root)
    scenario = fakeapi.ScriptedScenario(root / ".storyc" / "scripts", overloads=OVERLOADS)
    with fakeapi.FakeAPI(responder=scenario) as fake:
        started = time.monotonic()
        first = doit(root, fake.url, "-n", "4")
        yield Run(root, fake, scenario, first, time.monotonic() - started)


def test_the_example_sprint_runs_end_to_end_with_the_anthropic_runner_through_529_overloads(run: Run) -> None:
    out = run.first.stdout
    assert run.first.returncode == 0, f"stdout:\n{out}\nstderr:\n{run.first.stderr}"
    assert run.scenario.problems == []
    for sid, roles in CALLS.items():
        assert f"{sid}: done" in out
        for role, model in roles.items():
            assert f"{sid}: attempt 1, {role} on {model}" in out
    assert "attempt 2" not in out  # nothing needed a second attempt: every 529 was survived within the call
    assert "E2E tests: passed" in out and "[6/6] ✓" in out
    tasks = json.loads((run.root / "docs/tasks/tasks.json").read_text(encoding="utf-8"))
    assert {s["id"]: s["status"] for s in tasks["stories"]} == dict.fromkeys(CALLS, "done")

    # The code the scripted turns wrote is in the project (each story's files were brought home).
    targets = set()
    for played in run.ok():
        for message in played.request.json["messages"]:
            for block in message["content"]:
                if block.get("type") == "tool_use" and block["name"] == "Write":
                    targets.add(block["input"]["file_path"])
    assert "src/shop/checkout.py" in targets and "src/shop/cart.py" in targets
    for path in targets:
        assert (run.root / path).is_file(), f"{path} was written by an agent but is not in the project"

    # The 529s happened, and each overloaded request was answered in the end.
    for (sid, role, attempt, turn), count in OVERLOADS.items():
        tries = [p for p in run.scenario.played if (p.story, p.role, p.attempt, p.turn) == (sid, role, attempt, turn)]
        assert [p.status for p in tries] == [529] * count + [200], (sid, role, turn)
        # storyc's retries, each a new request of the SDK's (which retries nothing behind storyc's back), each said.
        assert [p.request.headers.get("x-stainless-retry-count") for p in tries] == ["0"] * (count + 1)
        for n in range(1, count + 1):
            assert f"{sid}: model API busy (529 overloaded_error; try {n} of 5), retrying in 0.001s" in out
    assert sum(p.status == 529 for p in run.scenario.played) == sum(OVERLOADS.values())


def test_every_request_carries_cache_breakpoints_and_one_prefix_per_role(run: Run) -> None:
    mark = {"type": "ephemeral"}
    prefixes: dict[str, set[bytes]] = defaultdict(set)
    stories: dict[str, set[str]] = defaultdict(set)
    for played in run.scenario.played:
        body = played.request.json
        assert body["system"][-1]["cache_control"] == mark
        assert body["tools"][-1]["cache_control"] == mark
        assert body["messages"][-1]["role"] == "user" and body["messages"][-1]["content"][-1]["cache_control"] == mark
        marked = [b for m in body["messages"] for b in m["content"] if "cache_control" in b]
        assert len(marked) == 1  # the loop's old breakpoints do not pile up
        raw = fakeapi.top_level_raw(played.request.raw)
        prefixes[played.role].add(raw["tools"] + b"\n" + raw["system"])
        stories[played.role].add(played.story)
    assert stories == {"builder": set(CALLS), "reviewer": {"US-004", "US-006"}}
    for role, seen in prefixes.items():
        assert len(seen) == 1, f"the {role}'s tools+system prefix differs between requests"
        (prefix,) = seen
        assert not re.search(rb"US-00\d", prefix), "a story leaked into the role's shared prefix"
    assert prefixes["builder"] != prefixes["reviewer"]


def test_the_second_story_of_a_role_reads_the_prefix_from_cache(run: Run) -> None:
    firsts: dict[tuple[str, str], list] = defaultdict(list)
    previous: dict[tuple[str, str], object] = {}
    for played in run.ok():  # in the order the fake answered them
        usage = played.usage
        assert usage["input_tokens"] == fakeapi.UNCACHED_TAIL  # everything up to the last user block is cached
        if played.turn == 0:
            firsts[(played.role, played.model)].append(played)
        else:  # a later turn reads the whole of the previous request back: the history is sent unchanged
            assert played.request.json["messages"][-2] == {"role": "assistant", "content": previous[(played.story, played.role)].content}
            before = previous[(played.story, played.role)].usage
            sent_before = before["input_tokens"] + before["cache_read_input_tokens"] + before["cache_creation_input_tokens"]
            assert usage["cache_read_input_tokens"] == sent_before - fakeapi.UNCACHED_TAIL, (played.story, played.role, played.turn)
        previous[(played.story, played.role)] = played
    assert set(firsts) == {("builder", HAIKU), ("builder", SONNET), ("reviewer", SONNET)}
    for (role, model), group in firsts.items():
        assert len(group) >= 2
        head, *rest = group
        assert head.usage["cache_read_input_tokens"] == 0 and head.usage["cache_creation_input_tokens"] > head.prefix_tokens
        for played in rest:
            assert played.usage["cache_read_input_tokens"] == played.prefix_tokens > 0, (played.story, role, model)


def test_stamps_and_progress_count_the_tokens_and_cost_at_the_default_prices(run: Run) -> None:
    total_cost = 0.0
    totals = defaultdict(int)
    for sid, roles in CALLS.items():
        stamp = json.loads((run.root / "build" / "stamps" / f"{sid}.json").read_text(encoding="utf-8"))
        assert [(c["role"], c["model"], c["finished"], c["stop"]) for c in stamp["calls"]] == [(r, m, True, "end_turn") for r, m in roles.items()]
        story_cost = 0.0
        story_tokens = defaultdict(int)
        for call in stamp["calls"]:
            mine = [p for p in run.ok() if (p.story, p.role) == (sid, call["role"])]
            assert call["turns"] == len(mine)
            tokens = {
                "input": sum(p.usage["input_tokens"] for p in mine),
                "output": sum(p.usage["output_tokens"] for p in mine),
                "cache_read": sum(p.usage["cache_read_input_tokens"] for p in mine),
                "cache_write": sum(p.usage["cache_creation_input_tokens"] for p in mine),
            }
            assert call["tokens"] == tokens and all(tokens.values())
            cost = sum(run.cost(p) for p in mine)
            assert call["cost_usd"] == pytest.approx(cost, rel=1e-9) and cost > 0
            story_cost += cost
            for key, n in tokens.items():
                story_tokens[key] += n
        assert stamp["tokens"] == dict(story_tokens)
        assert stamp["cost_usd"] == pytest.approx(story_cost, abs=1e-6)
        assert stamp["models"] == sorted(set(roles.values()))
        total_cost += story_cost
        for key, n in story_tokens.items():
            totals[key] += n
    assert total_cost == pytest.approx(sum(run.cost(p) for p in run.ok()))

    progress = (run.root / ".ai" / "PROGRESS.md").read_text(encoding="utf-8")
    assert "**6 of 6 stories done**" in progress
    assert f"cost so far ${total_cost:.4f}" in progress
    assert (
        f"tokens in {totals['input']:,}, out {totals['output']:,}, cache read {totals['cache_read']:,}, cache write {totals['cache_write']:,}"
        in progress
    )
    assert f"6 of 6 stories done, ${total_cost:.4f} this run" in run.first.stdout


def test_transcripts_exist_and_hold_no_api_key(run: Run) -> None:
    transcripts = run.root / "build" / "transcripts"
    expected = {f"{sid}.1.{role}{'1' if role == 'reviewer' else ''}.jsonl" for sid, roles in CALLS.items() for role in roles}
    assert {p.name for p in transcripts.glob("*.jsonl")} == expected
    for path in transcripts.glob("*.jsonl"):
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert lines[0]["system"].startswith("You are the ") and lines[-1]["end"] == "end_turn" and lines[-1]["cost_usd"] > 0
    for where in ("build", ".ai", "docs"):
        for path in (run.root / where).rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), f"the API key is in {path.relative_to(run.root)}"
    assert KEY not in run.first.stdout + run.first.stderr
    for played in run.scenario.played:  # the key went to the API, and only in its header
        assert played.request.headers.get("x-api-key") == KEY or played.request.headers.get("authorization") == f"Bearer {KEY}"
        assert KEY.encode() not in played.request.raw


def test_a_second_doit_makes_no_request(run: Run) -> None:
    before = len(run.api.requests)
    again = doit(run.root, run.api.url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(run.api.requests) == before
    assert "▶" not in again.stdout and "attempt" not in again.stdout


def test_a_spend_limit_stops_the_whole_run_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(EXAMPLE, root, ignore=EXAMPLE_LITTER)
    config = root / "storyc.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('kind = "scripted"', 'kind = "anthropic"'), encoding="utf-8")
    api.build(root)
    body = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": "Your credit balance is too low to access the Anthropic API."}}).encode()
    refuse = lambda request: fakeapi.Canned(400, body, {"content-type": "application/json"})  # noqa: E731
    with fakeapi.FakeAPI(responder=refuse) as fake:
        result = doit(root, fake.url, "-n", "2", "--continue")
        requests = len(fake.requests)
    assert result.returncode != 0
    assert "the run is stopping" in result.stdout + result.stderr
    assert requests <= 2  # the first refusal stops everyone: no story keeps asking
    tasks = json.loads((root / "docs/tasks/tasks.json").read_text(encoding="utf-8"))
    assert {s["status"] for s in tasks["stories"]} == {"todo"}  # nothing marked done or blocked by a billing problem
    assert "Nothing is blocked." in (root / ".ai/PROGRESS.md").read_text() and "stopped: run stopped" in (root / ".ai/PROGRESS.md").read_text()
