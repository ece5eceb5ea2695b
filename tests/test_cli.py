"""The CLI: help on every command, exit codes, and compile's write discipline."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import pytest

from storyc import api
from storyc.cli import cli, main


def run(args: list[str]) -> tuple[int, str, str]:
    """storyc's real entry point, in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    return code, out.getvalue(), err.getvalue()


@pytest.fixture()
def shop(repo) -> Path:
    return repo(example=True, name="shop").root


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_with_an_example(name: str) -> None:
    code, out, _ = run([name, "--help"])
    assert code == 0
    assert "Example:" in out, f"`storyc {name} --help` shows no example"


def test_compile_writes_once_then_nothing(shop: Path) -> None:
    code, out, _ = run(["compile", "--root", str(shop)])
    assert code == 0, out
    assert "6 stories in 3 waves (0 done, 6 open)" in out
    assert "ordering edge US-002 -> US-003" in out
    mtimes = {p: p.stat().st_mtime_ns for p in shop.rglob("*") if p.is_file()}
    code, out, _ = run(["compile", "--root", str(shop)])
    assert code == 0 and "nothing changed since the last compile: wrote nothing" in out  # from the input record
    assert api.build(shop).report.written == []  # and the compiler itself agrees
    assert {p: p.stat().st_mtime_ns for p in shop.rglob("*") if p.is_file()} == mtimes


def test_spec_rewritten_only_for_the_story_that_changed(shop: Path) -> None:
    api.build(shop)
    tasks = shop / "docs/tasks/tasks.json"
    data = json.loads(tasks.read_text())
    data["stories"][4]["acceptance_criteria"].append("Discounts never make a total negative.")
    tasks.write_text(json.dumps(data, indent=2) + "\n")
    report = api.build(shop).report
    assert "build/specs/US-005.md" in report.written
    assert [p for p in report.written if p.startswith("build/specs/")] == ["build/specs/SHA256SUMS", "build/specs/US-005.md"]


def test_spec_digests_match_the_files_and_a_deleted_spec_comes_back(shop: Path) -> None:
    api.build(shop)
    specs = shop / "build/specs"
    sums = dict(line.split("  ")[::-1] for line in (specs / "SHA256SUMS").read_text().splitlines())
    assert sums == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in specs.glob("*.md")}
    assert len(sums) == 6
    (specs / "US-004.md").unlink()
    assert api.build(shop).report.written == ["build/specs/SHA256SUMS", "build/specs/US-004.md"]


def test_a_template_copied_into_the_repository_wins_and_restales_every_spec(shop: Path) -> None:
    api.build(shop)
    own = shop / ".storyc/templates/prompts/builder.md.j2"
    own.parent.mkdir(parents=True)
    own.write_text("Build {{ story.id }} the house way.\n")
    report = api.build(shop).report
    assert "\nBuild US-004 the house way.\n" in (shop / "build/ORCHESTRATION_PLAN.md").read_text()
    assert len([p for p in report.written if p.endswith(".md") and "/specs/" in p]) == 6


def test_status_change_does_not_touch_specs(shop: Path) -> None:
    api.build(shop)
    tasks = shop / "docs/tasks/tasks.json"
    tasks.write_text(tasks.read_text().replace('"status": "todo"', '"status": "in_progress"', 1))
    report = api.build(shop).report
    assert not [p for p in report.written if "/specs/" in p]


def test_a_done_story_stays_a_target_with_the_same_spec_and_a_cancelled_one_goes(shop: Path) -> None:
    api.build(shop)
    tasks = shop / "docs/tasks/tasks.json"
    last = lambda text, old, new: new.join(text.rsplit(old, 1))  # noqa: E731 (US-006, the story nothing depends on)
    tasks.write_text(last(tasks.read_text(), '"status": "todo"', '"status": "done"'))
    result = api.build(shop)
    assert "US-006" in {s.id for s in result.plan.targets}  # status is an output: the stamp decides
    assert result.report.removed == [] and "build/specs/US-006.md" in result.report.unchanged
    tasks.write_text(last(tasks.read_text(), '"status": "done"', '"status": "cancelled"'))
    result = api.build(shop)
    assert "US-006" not in {s.id for s in result.plan.targets}
    assert result.report.removed == ["build/specs/US-006.md"]
    assert "US-006" not in (shop / "dodo.py").read_text()  # dodo.py reads the plan; no ids in it


def test_out_option_moves_the_build_dir(shop: Path) -> None:
    code, out, _ = run(["compile", "--root", str(shop), "--out", "gen"])
    assert code == 0, out
    assert (shop / "gen/plan.json").is_file() and not (shop / "build/plan.json").exists()
    assert "'gen/plan.json'" in (shop / "dodo.py").read_text()


def test_check_json_reports_errors_with_place(shop: Path) -> None:
    tasks = shop / "docs/tasks/tasks.json"
    tasks.write_text(tasks.read_text().replace('"depends_on": [\n        "US-004"\n      ]', '"depends_on": [\n        "US-404"\n      ]'))
    code, out, _ = run(["check", "--root", str(shop), "--format", "json"])
    assert code == 2
    error = json.loads(out)["error"]
    assert "US-404" in error["message"] and error["file"].endswith("tasks.json")
    assert tasks.read_text().splitlines()[error["line"] - 1].strip() == '"US-404"'


def test_graph_formats(shop: Path) -> None:
    code, text, _ = run(["graph", "--root", str(shop)])
    assert code == 0 and "[US-001] + [US-002] ──→ [US-004]" in text
    code, dot, _ = run(["graph", "--root", str(shop), "--format", "dot"])
    assert code == 0 and '"US-004" -> "US-006";' in dot and "style=dashed" in dot
    code, mermaid, _ = run(["graph", "--root", str(shop), "--format", "mermaid"])
    assert code == 0 and mermaid.startswith("graph LR") and "s4 --> s6" in mermaid
    assert '  s2 -.->|"src/shop/__init__.py"| s3' in mermaid  # a dotted label must be quoted, or Mermaid stops at the dot


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "storyc.toml").write_text("# mine\n")
    code, out, _ = run(["init", "--root", str(tmp_path)])
    assert code == 0
    assert "kept  storyc.toml" in out and "wrote docs/tasks/tasks.json" in out
    assert (tmp_path / "storyc.toml").read_text() == "# mine\n"
    code, out, _ = run(["compile", "--root", str(tmp_path)])
    assert code == 0, out  # what init writes compiles


def test_schema_is_json_schema_of_the_native_shape() -> None:
    code, out, _ = run(["schema"])
    schema = json.loads(out)
    assert code == 0
    assert schema["required"] == ["stories"]
    story = schema["$defs"]["Story"]
    assert {"id", "depends_on", "files", "acceptance_criteria", "status", "size"} <= set(story["properties"])


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_takes_root(name: str) -> None:
    """The README promises `--root DIR` on every command."""
    assert "root" in {param.name for param in cli.commands[name].params}


def test_schema_with_root_is_the_same_schema(tmp_path: Path) -> None:
    code, out, err = run(["schema", "--root", str(tmp_path)])
    assert code == 0, err
    assert json.loads(out) == json.loads(run(["schema"])[1])


@pytest.mark.parametrize("command", ["status", "schema", "compile", "check"])
def test_a_root_that_does_not_exist_is_named(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nope"
    code, out, err = run([command, "--root", str(missing)])
    assert code == 2, out + err
    assert f"error: {missing} is not a folder: it does not exist" in err
    assert "hint: --root names the repository" in err and "plan.json" not in err
    assert not missing.exists()


def test_a_missing_tasks_file_points_to_storyc_init(tmp_path: Path) -> None:
    code, _, err = run(["compile", "--root", str(tmp_path)])
    assert code == 2
    assert "docs/tasks/tasks.json does not exist" in err and "hint: `storyc init` writes a starter tasks.json" in err


def test_a_new_claude_id_and_another_agent_s_model_are_taken_as_written(tmp_path: Path) -> None:
    """Only words close to Claude's family names are typos: `claude-sonnet-4-6` and `gpt-5-codex` are not."""
    (tmp_path / "docs/tasks").mkdir(parents=True)
    stories = [{"id": "A", "title": "a", "model": "gpt-5-codex"}, {"id": "B", "title": "b", "size": "M"}]
    (tmp_path / "docs/tasks/tasks.json").write_text(json.dumps({"stories": stories}))
    (tmp_path / "storyc.toml").write_text('[models]\nsonnet = "claude-sonnet-4-6"\n\n[runner]\nkind = "command"\nargv = ["agent", "{prompt_file}"]\n')
    code, out, err = run(["compile", "--root", str(tmp_path)])
    assert code == 0, out + err
    models = {s["id"]: s["policy"]["model"] for s in json.loads((tmp_path / "build/plan.json").read_text())["stories"]}
    assert models == {"A": "gpt-5-codex", "B": "claude-sonnet-4-6"}


def test_usage_error_is_exit_2() -> None:
    code, _, err = run(["compile", "--no-such-flag"])
    assert code == 2 and "no such option" in err.lower()


def test_internal_error_is_exit_3_with_a_report(monkeypatch: pytest.MonkeyPatch, shop: Path) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(api, "build", boom)
    code, _, err = run(["compile", "--root", str(shop)])
    assert code == 3 and "internal error" in err and "kaboom" in err


def test_sprint_defaults_to_highest_numbered_file(shop: Path) -> None:
    toml = shop / "storyc.toml"
    toml.write_text(toml.read_text().replace('sprint = "docs/sprints/sprint-001.md"\n', ""))
    later = shop / "docs/sprints/sprint-010.md"
    later.write_text("# Sprint 10: Later\n\n## Stories\n\n- US-001 User model\n")
    plan = api.check(shop)
    assert plan.sprint.number == 10 and [s.id for s in plan.stories] == ["US-001"]


def test_compile_lists_twenty_ordering_edges_then_counts_the_rest(tmp_path: Path) -> None:
    stories = [{"id": f"S-{i:02d}", "title": f"Story {i}", "files": ["src/shared.py"]} for i in range(25)]
    (tmp_path / "docs/tasks").mkdir(parents=True)
    (tmp_path / "docs/tasks/tasks.json").write_text(json.dumps({"stories": stories}))
    code, out, err = run(["compile", "--root", str(tmp_path)])
    assert code == 0, err
    assert out.count("ordering edge S-") == 20
    assert "... and 4 more ordering edges" in out
    code, out, _ = run(["graph", "--root", str(tmp_path)])
    assert out.count("··→") == 24


def test_mermaid_nodes_never_collide_and_labels_stay_quoted(tmp_path: Path) -> None:
    stories = [
        {"id": "A-1", "title": 'Say "hi"', "files": ["x.py"]},
        {"id": "A.1", "title": "Two\nlines", "files": ["x.py"]},
    ]
    (tmp_path / "docs/tasks").mkdir(parents=True)
    (tmp_path / "docs/tasks/tasks.json").write_text(json.dumps({"stories": stories}))
    code, out, err = run(["graph", "--root", str(tmp_path), "--format", "mermaid"])
    assert code == 0, err
    assert out.splitlines()[1:4] == ['  s1["A-1: Say #quot;hi#quot;"]', '  s2["A.1: Two lines"]', '  s1 -.->|"x.py"| s2']
