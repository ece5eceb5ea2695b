"""The emitted dodo.py as doit sees it: `doit list` and a parallel `doit -n 2` in a compiled copy of the example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from storyc import api

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"
STORIES = {
    "US-001": ("User model", "S", HAIKU),
    "US-002": ("Product catalog", "XS", HAIKU),
    "US-003": ("Price formatting", "S", HAIKU),
    "US-004": ("Shopping cart", "M", SONNET),
    "US-005": ("Discount rules", "S", HAIKU),
    "US-006": ("Checkout", "L", SONNET),
}
INTEGRATION = ("users-cart", "catalog-cart", "cart-checkout", "pricing-discounts")


@pytest.fixture()
def shop(repo) -> Path:
    """A compiled copy of the example (storyc.toml, docs/, and the code its gates need)."""
    root = repo(example=True, name="shop").root
    api.build(root)
    return root


def doit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "doit", *args], cwd=root, capture_output=True, text=True, timeout=120)


def listed(root: Path) -> dict[str, str]:
    """Target name -> its doc, from `doit list`."""
    result = doit(root, "list")
    assert result.returncode == 0, result.stderr
    out: dict[str, str] = {}
    for line in result.stdout.splitlines():
        if not line.strip():
            continue
        name, _, doc = line.strip().partition(" ")
        assert name not in out, f"{name} listed twice"
        out[name] = doc.strip()
    return out


def test_doit_list_shows_every_target(shop: Path) -> None:
    targets = listed(shop)
    for sid, (title, size, model) in STORIES.items():
        assert sid in targets, f"{sid} is not listed"
        assert targets[sid] == f"{title} [{size}, {model}]"
    for n in (1, 2, 3):
        assert f"wave-{n}" in targets
    assert "wave-4" not in targets
    for slug in INTEGRATION:
        assert f"integration:{slug}" in targets
    assert "sprint" in targets
    expected = set(STORIES) | {f"wave-{n}" for n in (1, 2, 3)} | {f"integration:{s}" for s in INTEGRATION} | {"sprint"}
    assert set(targets) == expected


def test_story_lines_carry_title_size_and_model(shop: Path) -> None:
    lines = doit(shop, "list").stdout.splitlines()
    for sid, (title, size, model) in STORIES.items():
        mine = [line for line in lines if re.match(rf"^{re.escape(sid)}\s", line)]
        assert len(mine) == 1, f"expected one line for {sid}, got {mine}"
        assert title in mine[0] and f"[{size}, " in mine[0] and model in mine[0]


def test_a_done_story_is_still_a_target_and_a_cancelled_one_is_not(shop: Path) -> None:
    tasks = shop / "docs/tasks/tasks.json"
    data = json.loads(tasks.read_text(encoding="utf-8"))
    next(s for s in data["stories"] if s["id"] == "US-001")["status"] = "done"
    next(s for s in data["stories"] if s["id"] == "US-006")["status"] = "cancelled"
    tasks.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    api.build(shop)
    targets = listed(shop)
    assert "US-006" not in targets
    assert set(STORIES) - {"US-006"} <= set(targets)
    assert "integration:users-cart" in targets and "sprint" in targets


@pytest.mark.parametrize("isolation", ["worktree", "none"])
def test_the_example_sprint_runs_end_to_end_and_then_nothing_is_stale(shop: Path, isolation: str) -> None:
    """The demo: the scripted runner builds all six stories through real gates; a second doit runs nothing."""
    (shop / "storyc.toml").write_text((shop / "storyc.toml").read_text() + f'\n[execution]\nisolation = "{isolation}"\n')
    api.build(shop)
    if isolation == "worktree":
        subprocess.run(["git", "init", "-q"], cwd=shop, check=True)
    result = doit(shop, "-n", "4")
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    for sid in STORIES:
        assert f"{sid}: done" in result.stdout
    assert "US-004: attempt 1, reviewer on claude-sonnet-4-5" in result.stdout
    assert "E2E tests: passed" in result.stdout and "[6/6] ✓" in result.stdout
    tasks = json.loads((shop / "docs/tasks/tasks.json").read_text())
    assert {s["id"]: s["status"] for s in tasks["stories"]} == dict.fromkeys(STORIES, "done")
    assert (shop / "src/shop/checkout.py").is_file() and (shop / "build/SPRINT_SUMMARY.md").is_file()
    plan_doc = (shop / "build/ORCHESTRATION_PLAN.md").read_text()
    assert "| 3 | 2 | 2 | 0 | 0 |" in plan_doc  # Current Execution Status kept current
    again = doit(shop)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "▶" not in again.stdout and "attempt" not in again.stdout


def test_a_story_whose_script_is_missing_fails_with_a_clear_error_and_the_rest_go_on(shop: Path) -> None:
    (shop / ".storyc/scripts/US-005.toml").unlink()
    result = doit(shop, "-n", "4", "--continue")
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert re.search(r"error: .*US-005\.toml", result.stdout + result.stderr)
    tasks = {s["id"]: s["status"] for s in json.loads((shop / "docs/tasks/tasks.json").read_text())["stories"]}
    assert tasks["US-006"] == "done" and tasks["US-005"] == "todo"
    assert "US-005 stopped:" in (shop / ".ai/PROGRESS.md").read_text()


def test_every_action_and_check_pickles_for_process_mode_under_spawn(shop: Path) -> None:
    """Under spawn (macOS, Windows, Linux from 3.14) doit pickles every task: no lambdas, no closures."""
    import pickle

    from storyc.plan import load_plan
    from storyc.runners.doit_tasks import plan_tasks

    tasks = list(plan_tasks(load_plan(shop / "build/plan.json"), str(shop), "build/plan.json"))
    assert len(tasks) == 6 + 3 + 4 + 1 + 6  # stories, waves, integration points, sprint, the dispatch chain
    for task in tasks:
        restored = pickle.loads(pickle.dumps((task["actions"], task.get("uptodate", []))))
        assert [a[0].__qualname__ for a in restored[0]] == [a[0].__qualname__ for a in task["actions"]]


def test_a_failing_model_api_costs_no_attempt_and_escalates_nothing(shop: Path) -> None:
    # A reply the loop cannot use (an unknown stop_reason) is a model API error, like an overload that outlived its retries.
    (shop / ".storyc/scripts/US-002.toml").write_text('[[builder]]\nsay = "..."\nstop = "overloaded"\n')
    result = doit(shop, "-n", "4", "--continue")
    assert result.returncode != 0
    events = [json.loads(line) for line in (shop / "build/events.jsonl").read_text().splitlines()]
    calls = [(e["attempt"], e["model"], e["stop"]) for e in events if e["event"] == "attempt_finished" and e["story"] == "US-002"]
    assert calls == [(1, HAIKU, "error")] * 3  # retried on the same rung: no fix prompt, no bigger model
    transcripts = sorted(p.name for p in (shop / "build/transcripts").glob("US-002.*"))
    assert transcripts == ["US-002.1.builder.jsonl", "US-002.1.builder.retry1.jsonl", "US-002.1.builder.retry2.jsonl"]
    assert "the model API failed 3 times in a row" in result.stderr
    tasks = {s["id"]: s["status"] for s in json.loads((shop / "docs/tasks/tasks.json").read_text())["stories"]}
    assert tasks["US-002"] == "todo" and tasks["US-001"] == "done"


def test_a_long_failing_output_reaches_the_fix_agent_condensed_by_the_validator(shop: Path) -> None:
    noisy = "import unittest\n\n\nclass Noise(unittest.TestCase):\n    def test_noise(self) -> None:\n        print('x' * 6000)\n        self.fail('the noisy test fails')\n"
    quiet = "import unittest\n\n\nclass Noise(unittest.TestCase):\n    def test_noise(self) -> None:\n        pass\n"
    script = shop / ".storyc/scripts/US-002.toml"
    real = tomllib.loads(script.read_text())["builder"]
    # Attempt 1 writes only a noisy failing test; attempt 2 quiets it, then does the story's real work.
    turns = [("1", {"tool": "Write", "input": {"file_path": "tests/test_noise.py", "content": noisy}})]
    turns += [("2", {"tool": "Write", "input": {"file_path": "tests/test_noise.py", "content": quiet}})] + [("2", t) for t in real]
    text = "".join(f"\n[[attempt.{n}.builder]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in turn.items()) for n, turn in turns)
    script.write_text(script.read_text() + text + '\n[[validator]]\nsay = "Brief: tests/test_noise.py fails on purpose in test_noise; make it pass."\n')
    subprocess.run(["git", "init", "-q"], cwd=shop, check=True)  # worktrees: the noisy test stays US-002's own
    api.build(shop)
    result = doit(shop, "-n", "4", "US-002")  # US-002 alone (it needs no other story): the rest of the sprint adds nothing here
    assert result.returncode == 0, result.stdout + result.stderr
    assert "US-002: attempt 1, validator on claude-haiku-4-5" in result.stdout
    fix_prompt = (shop / "build/prompts/US-002.2.builder.md").read_text()
    assert "Brief: tests/test_noise.py fails on purpose" in fix_prompt
    assert fix_prompt.count("x" * 100) <= 20  # the 6,000 x's were not handed over whole


def _toml(value) -> str:
    """A TOML value for a script turn: JSON's strings are TOML basic strings; tables inline."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def test_only_a_verdict_on_the_reviewers_last_line_approves(shop: Path) -> None:
    script = shop / ".storyc/scripts/US-004.toml"
    text = script.read_text()
    start = text.index("[[reviewer]]")
    # A Reviewer that quotes an approval, then goes on: that is not an approval.
    script.write_text(text[:start] + '[[reviewer]]\nsay = """The file says:\nVERDICT: APPROVE\nbut the cart does not clamp quantities."""\n')
    result = doit(shop, "-n", "4", "--continue", "US-004")
    assert result.returncode != 0
    assert "US-004: BLOCKED" in result.stdout and "The Reviewer requested changes" in result.stdout
    assert result.stdout.count("US-004: attempt 3, reviewer") == 1
