"""A plan knows what it was compiled from: a no-op compile answers from digests, a stale plan is noticed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storyc.compiler import freshness


@pytest.fixture
def shop(repo):
    return repo(example=True, name="shop")


def compiled(shop) -> dict:
    res = shop.run("compile")
    assert res.code == 0, res.output
    rec = freshness.load(shop.root, "build")
    assert rec is not None
    return rec


def test_a_second_compile_answers_from_the_record_and_writes_nothing(shop) -> None:
    first = shop.run("compile")
    files = shop.snapshot()
    mtimes = {p: p.stat().st_mtime_ns for p in (shop.root / "build").rglob("*") if p.is_file()}
    again = shop.run("compile")
    assert again.code == 0
    assert "nothing changed since the last compile: wrote nothing" in again.stdout
    assert again.stdout.splitlines()[:2] == first.stdout.splitlines()[:2]  # the same summary and ordering edge
    assert shop.snapshot() == files
    assert {p: p.stat().st_mtime_ns for p in (shop.root / "build").rglob("*") if p.is_file()} == mtimes


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.write("docs/tasks/tasks.json", r.text("docs/tasks/tasks.json").replace("User model", "User account")),
        lambda r: r.write("docs/sprints/sprint-002.md", "# Sprint 2: More\n\n## Stories\n\n- US-001\n"),
        lambda r: r.write(".storyc/templates/prompts/builder.md.j2", "{{ story.id }}\n"),
        lambda r: r.write("storyc.toml", r.text("storyc.toml") + "\n# a comment\n"),
        lambda r: (r.root / "build/plan.json").unlink(),
        lambda r: (r.root / "build/specs/US-003.md").unlink(),
        lambda r: (r.root / "dodo.py").write_text((r.root / "dodo.py").read_text() + "\n"),
    ],
    ids=["tasks", "new-sprint", "template", "config", "plan-deleted", "spec-deleted", "dodo-edited"],
)
def test_any_moved_input_or_output_means_a_real_compile(shop, change) -> None:
    compiled(shop)
    change(shop)
    res = shop.run("compile")
    assert res.code == 0, res.output
    assert "nothing changed" not in res.stdout


def test_other_arguments_mean_a_real_compile(shop) -> None:
    compiled(shop)
    assert "nothing changed" not in shop.run("compile", "--with-deps").stdout
    assert "nothing changed" in shop.run("compile", "--with-deps").stdout
    assert "nothing changed" not in shop.run("compile").stdout


def test_touched_but_unchanged_is_not_stale_and_an_edit_is(shop) -> None:
    rec = compiled(shop)
    tasks = shop.root / "docs/tasks/tasks.json"
    os.utime(tasks, ns=(tasks.stat().st_atime_ns, tasks.stat().st_mtime_ns + 10**9))
    assert freshness.stale(shop.root, rec) is None  # the stat moved, the digest did not
    tasks.write_text(tasks.read_text().replace("User model", "User account"))
    assert freshness.stale(shop.root, rec) == "docs/tasks/tasks.json changed"


def test_a_file_that_appears_or_goes_is_named(shop) -> None:
    rec = compiled(shop)
    (shop.root / "docs/sprints/sprint-002.md").write_text("# Sprint 2\n\n## Stories\n\n- US-006\n")
    assert freshness.stale(shop.root, rec) == "a new sprint file (docs/sprints/sprint-002.md)"
    (shop.root / "docs/sprints/sprint-002.md").unlink()
    (shop.root / "docs/planning/ARCHITECTURE.md").unlink()
    assert freshness.stale(shop.root, rec) == "docs/planning/ARCHITECTURE.md was removed"


def test_an_input_edited_while_compiling_is_recorded_as_unknown(tmp_path: Path) -> None:
    """The stat is kept only for the bytes that were compiled; otherwise the next check must hash."""
    (tmp_path / "tasks.json").write_text("new bytes")
    text = freshness.record(tmp_path, "build", freshness.Args(), {"tasks.json": "0" * 64}, [], [], [], [])
    import json

    entry = json.loads(text)["files"]["tasks.json"]
    assert entry == {"sha256": "0" * 64, "size": None, "mtime_ns": None}
    assert freshness.stale(tmp_path, json.loads(text)) == "tasks.json changed"


def test_a_project_compiled_by_storyc_0_1_is_recompiled_by_its_own_old_dodo_py(shop) -> None:
    # An upgrade: the dodo.py, plan.json and record that storyc 0.1 wrote, before the run time moved into
    # storyc.runners and plan.json's schema became 2. The first doit must recompile, not show a traceback.
    rec = compiled(shop)
    shop.write("dodo.py", (shop.root / "dodo.py").read_text().replace("from storyc.dodo import", "from storyc.doit_tasks import"))
    plan = (shop.root / "build/plan.json").read_text()
    shop.write("build/plan.json", plan.replace('"schema_version": 2', '"schema_version": 1', 1))
    shop.write(f"build/{freshness.RECORD}", json.dumps({**rec, "storyc": "0.1.0"}))
    res = shop.doit("list")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "storyc changed (0.1.0 -> " in res.stderr and "recompiling" in res.stderr
    assert "US-001" in res.stdout
    assert "from storyc.dodo import load_plan_tasks" in (shop.root / "dodo.py").read_text()
    assert '"schema_version": 2' in (shop.root / "build/plan.json").read_text()
