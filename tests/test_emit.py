"""compiler.emit and the compile around it: where outputs go, what may be deleted, and faults outside tasks.json and the sprint.

Each case was found by fuzzing the CLI: it once wrote into /, deleted a user's
file, merged two stories into one spec, or crashed with a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

MakeRepo = Callable[..., Any]
TASKS = {"stories": [{"id": "US-1", "title": "One"}, {"id": "US-2", "title": "Two", "depends_on": ["US-1"]}]}



@pytest.mark.parametrize("build", ["", "<absolute, outside>", "../outside", "."])
def test_the_build_folder_stays_inside_the_repository(repo: MakeRepo, build: str, tmp_path: Path) -> None:
    if build == "<absolute, outside>":  # a folder of this test's own, so a regression writes nowhere else
        build = str(tmp_path / "storyc-out")
    r = repo(tasks=TASKS, config=f'[paths]\nbuild = "{build}"\n')
    r.run("compile").refused(r"invalid value for `paths\.build`.*(below|inside) the repository", line=2)
    assert not (r.root / "dodo.py").exists()
    res = repo(tasks=TASKS).run("compile", "--out", build)
    res.refused(r"--out .*(below|inside) the repository")


def test_storyc_deletes_only_specs_it_wrote(repo: MakeRepo) -> None:
    r = repo(tasks=TASKS)
    r.write("docs/specs/api-design.md", "my notes\n")
    r.run("compile", "--out", "docs").refused(r"docs/ holds files storyc did not write")
    assert r.text("docs/specs/api-design.md") == "my notes\n" and not (r.root / "docs/plan.json").exists()
    assert r.run("compile").code == 0
    r.write("build/specs/sprint-002.md", "## Stories\n\n- US-1\n")
    assert r.run("compile", "build/specs/sprint-002.md").code == 0
    assert (r.root / "build/specs/sprint-002.md").is_file()
    # A story that leaves the plan takes its own spec with it.
    r = repo(tasks=TASKS)
    assert r.run("compile").code == 0
    r.tasks({"stories": [{"id": "US-1", "title": "One"}]})
    res = r.run("compile")
    assert "removed 1" in res.stdout and not (r.root / "build/specs/US-2.md").exists()


def test_storyc_overwrites_no_dodo_py_it_did_not_write(repo: MakeRepo) -> None:
    r = repo(tasks=TASKS)
    r.write("dodo.py", "def task_hello():\n    return {'actions': ['echo hi']}\n")
    r.run("compile").refused(r"dodo\.py exists, and storyc did not write it")
    assert "task_hello" in r.text("dodo.py") and not (r.root / "build").exists()
    (r.root / "dodo.py").unlink()
    assert r.run("compile").code == 0 and r.run("compile").code == 0  # its own dodo.py it rewrites freely


def test_ids_that_are_not_file_names_get_their_own_spec_files(repo: MakeRepo) -> None:
    r = repo(tasks={"stories": [{"id": "US/1", "title": "A"}, {"id": "US_1", "title": "B"}, {"id": "US 1", "title": "C"}]})
    assert r.run("compile").code == 0
    specs = sorted(p.name for p in (r.root / "build/specs").glob("*.md"))
    assert len(specs) == 3 and "US_1.md" in specs
    titles = sorted((r.root / "build/specs" / name).read_text().splitlines()[0] for name in specs)
    assert titles == ["# US 1: C", "# US/1: A", "# US_1: B"]


@pytest.mark.parametrize("sid", ["sprint", "wave-1", "integration:api"])
def test_ids_that_name_storycs_own_targets_are_refused(repo: MakeRepo, sid: str) -> None:
    r = repo(tasks={"stories": [{"id": sid, "title": "x"}]})
    r.run("compile").refused(rf"story id '{sid}' is also the name of a target storyc makes", line=4)


def test_ids_that_differ_only_in_case_are_refused(repo: MakeRepo) -> None:
    r = repo(tasks={"stories": [{"id": "US-1"}, {"id": "us-1"}]})
    r.run("compile").refused(r"story ids 'US-1' and 'us-1' differ only in case")


def test_an_output_folder_in_the_way_is_an_error_and_nothing_is_written(repo: MakeRepo) -> None:
    r = repo(tasks=TASKS)
    (r.root / "dodo.py").mkdir()
    r.run("compile").refused(r"dodo\.py is a folder, but storyc writes a file there")
    assert not (r.root / "build").exists()
    r.write("afile", "x")
    r.run("compile", "--out", "afile").refused(r"afile is a file, but storyc needs a folder there")


@pytest.mark.parametrize(
    ("template", "content", "message", "line"),
    [
        ("ORCHESTRATION_PLAN.md.j2", "# Plan\n\n{% if %}\n", r"template ORCHESTRATION_PLAN\.md\.j2 fails: .*", 3),
        ("ORCHESTRATION_PLAN.md.j2", "# Plan\n{{ nope.x }}\n", r"template ORCHESTRATION_PLAN\.md\.j2 fails: 'nope' is undefined", 2),
        ("prompts/builder.md.j2", b"\xff\xfe bad", r"template prompts/builder\.md\.j2 is not UTF-8", None),
    ],
)
def test_a_broken_template_of_the_user_is_bad_input_for_compile_and_check(repo: MakeRepo, template: str, content: Any, message: str, line: int | None) -> None:
    r = repo(tasks=TASKS)
    r.write(f".storyc/templates/{template}", content)
    for command in ("compile", "check"):
        res = r.run(command)
        res.refused(message, line)
        assert f".storyc/templates/{template}" in res.stderr
    assert not (r.root / "build").exists()


@pytest.mark.parametrize("pyproject", ['[tool]\nstoryc = "x"\n', 'tool = "x"\n', "[[tool.storyc]]\nx = 1\n"])
def test_tool_storyc_that_is_not_a_table(repo: MakeRepo, pyproject: str) -> None:
    r = repo(tasks=TASKS)
    r.write("pyproject.toml", pyproject)
    res = r.run("check")
    if pyproject.startswith("tool ="):  # no [tool.storyc] at all: defaults
        assert res.code == 0, res.output
    else:
        res.refused(r"\[tool\.storyc\] in pyproject\.toml is not a table")


def test_config_refuses_a_nul_in_a_path_and_an_infinite_budget(repo: MakeRepo) -> None:
    repo(tasks=TASKS, config='[paths]\ntasks = "a\\u0000b"\n').run("check").refused(r"invalid value for `paths\.tasks`.*NUL", line=2)
    repo(tasks=TASKS, config="[runner]\nbudget_usd = inf\n").run("check").refused(r"invalid value for `runner\.budget_usd`", line=2)


def test_dot_keeps_unicode_as_it_is(repo: MakeRepo) -> None:
    res = repo(tasks={"stories": [{"id": "故事-1", "title": 'Café "au lait"'}]}).run("graph", "--format", "dot")
    assert res.code == 0, res.output
    assert '"故事-1" [label="故事-1: Café \\"au lait\\""];' in res.stdout


def test_a_cancelled_dependency_in_the_sprint_is_named_cancelled(repo: MakeRepo) -> None:
    tasks = {"stories": [{"id": "US-1", "status": "cancelled"}, {"id": "US-2", "depends_on": ["US-1"]}]}
    r = repo(tasks=tasks, sprint="# Sprint 1\n\n## Stories\n\n- US-1\n- US-2\n")
    r.run("check").refused(r"story US-2 depends on US-1, which is cancelled \(status 'cancelled'\)\n")


def test_a_path_that_cannot_be_read_gets_a_hint(repo: MakeRepo) -> None:
    r = repo(tasks=TASKS)
    r.run("check", "--tasks", "docs/tasks/tasks.json/x").refused(r"cannot read .*tasks\.json/x")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{{ 1/0 }}\n", r"fails: division by zero"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}\n", r"fails: maximum recursion depth"),
        ("{{ '\\ud800' }}\n", r"renders text that is not Unicode"),
    ],
)
def test_whatever_a_users_template_raises_is_bad_input_and_nothing_is_written(repo: MakeRepo, content: str, message: str) -> None:
    r = repo(tasks=TASKS)
    assert r.run("compile").code == 0
    before = r.snapshot()
    r.write(".storyc/templates/ORCHESTRATION_PLAN.md.j2", content)
    r.run("compile").refused(r"template ORCHESTRATION_PLAN\.md\.j2 " + message)
    assert r.snapshot() == before


def test_a_folder_where_a_listed_spec_was_is_left_alone(repo: MakeRepo) -> None:
    r = repo(tasks=TASKS)
    assert r.run("compile").code == 0
    (r.root / "build/specs/US-999.md").mkdir()
    with (r.root / "build/specs/SHA256SUMS").open("a") as sums:
        sums.write("0" * 64 + "  US-999.md\n")
    res = r.run("compile")
    assert res.code == 0, res.output
    assert (r.root / "build/specs/US-999.md").is_dir()


def test_odd_roots_outs_and_ids(repo: MakeRepo, tmp_path: Path) -> None:
    r = repo(tasks=TASKS)
    r.run("compile", "--root", str(tmp_path / "nope")).refused(r"nope is not a folder")
    r.run("compile", "--out", "x" * 300).refused(r"longer than 200 bytes")
    for sid, char in (("a=b", "="), ("US-1*", r"\*")):
        repo(tasks={"stories": [{"id": sid}]}).run("compile").refused(rf"holds {char}, which doit cannot take")
    long = repo(tasks={"stories": [{"id": "A" * 300, "title": "Long"}]})
    assert long.run("compile").code == 0
    [spec] = (long.root / "build/specs").glob("*.md")
    assert len(spec.name) == 120 + 1 + 8 + 3 and spec.read_text().startswith("# " + "A" * 300 + ": Long")


def test_a_spec_edited_by_hand_is_restored(repo: MakeRepo) -> None:
    r = repo(tasks=TASKS)
    assert r.run("compile").code == 0
    spec = r.root / "build/specs/US-1.md"
    original = spec.read_bytes()
    spec.write_bytes(original + b"- my own note\n")
    res = r.run("compile")
    assert res.code == 0 and "wrote 2 file(s)" in res.stdout, res.output  # the spec, and SHA256SUMS again
    assert spec.read_bytes() == original
