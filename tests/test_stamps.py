"""Stamps (runners/stamps.py) on real files, without doit: what a story watches, its output hash, its record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storyc.plan import load_plan
from storyc.runners import stamps


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    write(tmp_path, {
        "src/a.py": "a\n", "src/b.py": "b\n", "src/deep/c.py": "c\n", "src/notes.md": "n\n",
        "app/[id]/page.tsx": "page\n", "app/x/page.tsx": "other page\n",
        "build/plan.json": "{}\n", ".git/HEAD": "ref\n", "src/.git/config": "not a file of the story\n",
    })
    return tmp_path


@pytest.mark.parametrize(
    "patterns, found",
    [
        (["src/a.py"], ["src/a.py"]),
        (["src"], ["src/a.py", "src/b.py", "src/deep/c.py", "src/notes.md"]),  # a folder: every file below it, .git aside
        (["src/"], ["src/a.py", "src/b.py", "src/deep/c.py", "src/notes.md"]),
        (["src/*.py"], ["src/a.py", "src/b.py"]),
        (["src/**/*.py"], ["src/a.py", "src/b.py", "src/deep/c.py"]),  # ** spans folders, none included
        (["app/[id]/page.tsx"], ["app/[id]/page.tsx"]),  # a path that exists as written is no glob
        (["app/*/page.tsx"], ["app/[id]/page.tsx", "app/x/page.tsx"]),
        ([" src/a.py "], ["src/a.py"]),
        (["src/missing.py", "nowhere/*.py"], []),
        (["src/a.py", "src/*.py"], ["src/a.py", "src/b.py"]),  # named twice, listed once
    ],
)
def test_a_storys_files_are_its_patterns_expanded(tree: Path, patterns: list[str], found: list[str]) -> None:
    assert stamps.story_files(tree, patterns) == found


def test_files_changed_beyond_the_patterns_count_and_excluded_ones_do_not(tree: Path) -> None:
    assert stamps.story_files(tree, ["src/a.py"], extra=["src/notes.md", "src/gone.py"]) == ["src/a.py", "src/notes.md"]
    assert stamps.story_files(tree, ["src"], exclude=["src/deep/", "src/*.md"]) == ["src/a.py", "src/b.py"]
    assert stamps.story_files(tree, ["src/a.py", "build"], exclude=["build/"]) == ["src/a.py"]


@pytest.mark.parametrize(
    "pattern, name, covered",
    [
        ("src/a.py", "src/a.py", True),
        ("src/a.py", "src/a.pyc", False),
        ("src", "src/deep/c.py", True),
        ("src/", "src/deep/c.py", True),
        ("sr", "src/a.py", False),  # a folder is a whole name, not a prefix
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/deep/c.py", True),  # fnmatch's * crosses folders: an exclusion errs on the side of excluding
        ("*.md", "src/notes.md", True),
        ("", "src/a.py", False),
        ("/", "src/a.py", False),
    ],
)
def test_covers(pattern: str, name: str, covered: bool) -> None:
    assert stamps.covers(pattern, name) is covered


def test_the_output_hash_is_of_paths_and_contents_in_any_order(tree: Path) -> None:
    states = stamps.file_states(tree, ["src/a.py", "src/b.py", "src/missing.py"])
    assert list(states) == ["src/a.py", "src/b.py"]  # a file that does not exist has no entry
    size, mtime, digest = states["src/a.py"]
    assert size == 2 and mtime == (tree / "src/a.py").stat().st_mtime_ns and digest == stamps.file_digest(tree / "src/a.py")
    assert stamps.output_hash(states) == stamps.output_hash(dict(reversed(states.items())))
    os.utime(tree / "src/a.py", ns=(1, 1))
    assert stamps.output_hash(stamps.file_states(tree, ["src/a.py", "src/b.py"])) == stamps.output_hash(states)  # a touch changes nothing
    (tree / "src/a.py").write_text("A\n")
    assert stamps.output_hash(stamps.file_states(tree, ["src/a.py", "src/b.py"])) != stamps.output_hash(states)
    renamed = {"src/z.py" if k == "src/b.py" else k: v for k, v in states.items()}
    assert stamps.output_hash(renamed) != stamps.output_hash(states)  # the same bytes elsewhere are another output
    assert stamps.file_digest(tree / "src/missing.py") == stamps.MISSING == stamps.file_digest(tree / "src")


def test_the_stamps_name_and_paths_follow_the_spec() -> None:
    assert stamps.stamp_name("build/specs/US-001.md") == "US-001"
    assert stamps.out_path("out/sprint", "out/sprint/specs/US_1-1a2b3c4d.md") == "out/sprint/stamps/US_1-1a2b3c4d.out"
    assert stamps.record_path(Path("/r"), "build", "build/specs/A.md") == Path("/r/build/stamps/A.json")


def _stamp(root: Path, patterns: list[str], exclude: list[str] = ()) -> tuple[str, Path, dict]:
    out, record_file = stamps.out_path("build", "build/specs/A.md"), stamps.record_path(root, "build", "build/specs/A.md")
    record_file.parent.mkdir(parents=True, exist_ok=True)
    files = stamps.file_states(root, stamps.story_files(root, patterns, exclude=exclude))
    record = {"story": "A", "files": files, "output_sha256": stamps.output_hash(files)}
    stamps.write_stamp(root, out, record_file, record)
    return out, record_file, record


def test_write_stamp_writes_the_record_and_rewrites_the_hash_only_when_it_changes(tree: Path) -> None:
    out, record_file, record = _stamp(tree, ["src/*.py"])
    assert stamps.load_record(record_file) == record
    assert stamps.read_out(tree, out) == record["output_sha256"]
    os.utime(tree / out, ns=(1, 1))
    stamps.write_stamp(tree, out, record_file, {**record, "cost_usd": 0.5})  # the same output: dependents must not re-run
    assert (tree / out).stat().st_mtime_ns == 1 and stamps.load_record(record_file)["cost_usd"] == 0.5
    (tree / "src/a.py").write_text("changed\n")
    _, _, again = _stamp(tree, ["src/*.py"])
    assert stamps.read_out(tree, out) == again["output_sha256"] != record["output_sha256"]
    assert (tree / out).stat().st_mtime_ns != 1
    assert not list((tree / "build/stamps").glob(".*.tmp"))  # atomic writes leave no temporary file behind


@pytest.mark.parametrize("text", [None, "", "{torn", "[1, 2]", "\udcff"], ids=["missing", "empty", "torn", "a list", "not UTF-8"])
def test_a_record_that_cannot_be_read_is_no_record(tmp_path: Path, text: str | None) -> None:
    path = tmp_path / "A.json"
    if text is not None:
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert stamps.load_record(path) is None
    assert stamps.unchanged(str(tmp_path), str(path), ["src/*.py"], []) is False  # no record: the story runs


def test_read_out_of_a_missing_or_empty_stamp_is_none(tmp_path: Path) -> None:
    assert stamps.read_out(tmp_path, "A.out") is None
    (tmp_path / "A.out").write_text("\n")
    assert stamps.read_out(tmp_path, "A.out") is None
    (tmp_path / "A.out").write_text("abc\n")
    assert stamps.read_out(tmp_path, "A.out") == "abc"


def test_files_now_reuses_a_hash_only_while_size_and_mtime_agree(tree: Path) -> None:
    _, _, record = _stamp(tree, ["src/a.py"])
    size, mtime, _ = record["files"]["src/a.py"]
    trusted = {"files": {"src/a.py": [size, mtime, "f" * 64]}}
    assert stamps.files_now(tree, trusted, ["src/a.py"])["src/a.py"][2] == "f" * 64  # stats agree: not read again
    os.utime(tree / "src/a.py", ns=(mtime + 1, mtime + 1))
    assert stamps.files_now(tree, trusted, ["src/a.py"])["src/a.py"][2] == stamps.file_digest(tree / "src/a.py")


def test_unchanged_sees_hand_edits_new_and_deleted_files_but_not_excluded_ones(tree: Path) -> None:
    exclude = ["build/", "src/b.py"]  # as a later story's file: its output, not this story's
    _, record_file, _ = _stamp(tree, ["src/*.py", "build"], exclude)
    check = lambda: stamps.unchanged(str(tree), str(record_file), ["src/*.py", "build"], exclude)  # noqa: E731
    assert check() is True
    (tree / "src/b.py").write_text("the later story's change\n")
    (tree / "build/plan.json").write_text("recompiled\n")
    assert check() is True
    os.utime(tree / "src/a.py", ns=(5, 5))
    assert check() is True  # touched, same bytes
    (tree / "src/a.py").write_text("a hand edit\n")
    assert check() is False
    _stamp(tree, ["src/*.py", "build"], exclude)
    (tree / "src/new.py").write_text("new\n")
    assert check() is False  # a new file its glob names
    _stamp(tree, ["src/*.py", "build"], exclude)
    (tree / "src/a.py").unlink()
    assert check() is False


def test_exclusions_are_storycs_own_files_and_what_the_compiler_compiled_in(tmp_path: Path) -> None:
    write(tmp_path, {
        "docs/tasks/tasks.json": json.dumps({"stories": [
            {"id": "A", "files": ["src/*.py"]},
            {"id": "B", "files": ["src/a.py"], "depends_on": ["A"]},
            {"id": "C", "status": "done", "files": ["src/a.py"]},
        ]}),
        "storyc.toml": '[paths]\nbuild = "out"\nkanban = "board.md"\n',
        "docs/sprints/sprint-1.md": "# Sprint 1\n\n## Stories\n\n- A\n- B\n",
    })
    from storyc import api

    api.build(tmp_path)
    plan = load_plan(tmp_path / "out/plan.json")
    own = ["out/", ".ai/PROGRESS.md", "board.md", "docs/tasks/tasks.json"]
    assert stamps.exclusions(plan) == {"A": [*own, "src/a.py"], "B": own}  # C is outside the sprint
