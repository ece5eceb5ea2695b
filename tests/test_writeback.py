"""storyc.files and storyc.runners.writeback: a status written back changes that one value, and parallel writers lose nothing."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from filelock import FileLock, Timeout

from storyc.compiler.emit import MARKER, MARKER_TEXT, write_artifacts
from storyc.compiler.statuses import Family, family_of
from storyc.compiler.tasks import file_words, load_tasks
from storyc.errors import InputError, OutputError, Where
from storyc.files import append_line, atomic_write, lock_for, locked
from storyc.plan import StatusPlace, load_plan
from storyc.runners.writeback import set_status

# ---------------------------------------------------------------------------------------------------- set_status

# Each case: a file with `@@` where the target story's status value is, that value before and after.
SHAPES = {
    "native": (
        '{\n  "version": 1,\n  "project": "Acme",\n  "stories": [\n    {\n      "id": "US-001",\n      "title": "User model",\n'
        '      "status": @@,\n      "size": "S"\n    },\n    {\n      "id": "US-002",\n      "status": "in_progress"\n    }\n  ]\n}\n',
        "US-001", Family.DONE, '"todo"', '"done"',
    ),
    "tasks, the file's own word for done": (
        '{"tasks": [\n {"id": 1, "status": @@},\n {"id": 2, "status": "complete"},\n {"id": 3, "status": "in-progress"}\n]}\n',
        "1", Family.DONE, '"todo"', '"complete"',
    ),
    "tasks, the file's own word for in progress": (
        '{"tasks": [\n {"id": 1, "status": @@},\n {"id": 2, "status": "complete"},\n {"id": 3, "status": "in-progress"}\n]}\n',
        "1", Family.IN_PROGRESS, '"todo"', '"in-progress"',
    ),
    "Task Master tagged, subtask 5.2": (
        '{\n  "master": {\n    "tasks": [\n      {"id": 4, "title": "Other", "status": "pending"},\n'
        '      {\n        "id": 5,\n        "title": "Parent",\n        "status": "pending",\n        "subtasks": [\n'
        '          {"id": 1, "title": "First", "status": "pending"},\n'
        '          {"id": 2, "title": "Second", "status": @@, "subtasks": [{"id": 1, "status": "pending"}]}\n'
        '        ]\n      }\n    ],\n    "metadata": {"created": "2025-01-01T00:00:00Z"}\n  }\n}\n',
        "5.2", Family.IN_PROGRESS, '"pending"', '"in-progress"',
    ),
    "Task Master tagged, subtask at depth 3": (
        '{"master": {"tasks": [{"id": 5, "status": "pending", "subtasks": [{"id": 2, "status": "pending",'
        ' "subtasks": [{"id": 1, "status": @@}]}]}]}}',
        "5.2.1", Family.DONE, '"pending"', '"done"',
    ),
    "Task Master untagged": (
        '{"tasks": [{"id": 1, "status": "pending", "subtasks": [{"id": 1, "status": @@}]}], "metadata": {"version": "1"}}\n',
        "1.1", Family.TODO, '"in-progress"', '"pending"',
    ),
    "bare array with `state`": (
        '[\n  {"id": "A", "state": @@, "note": "status: todo"},\n  {"id": "B", "state": "open"}\n]\n',
        "A", Family.CANCELLED, '"open"', '"cancelled"',
    ),
    "Ralph prd.json": (
        '{\n  "project": "Shop",\n  "branchName": "ralph/shop",\n  "userStories": [\n    {\n      "id": "US-001",\n'
        '      "title": "Cart",\n      "acceptanceCriteria": ["Adds an item"],\n      "priority": 1,\n'
        '      "passes": @@,\n      "notes": ""\n    }\n  ]\n}\n',
        "US-001", Family.DONE, "false", "true",
    ),
    "declared statuses": (
        '{"statuses": ["Backlog", "Doing", "Shipped"],\n "stories": [{"id": "A", "status": @@}, {"id": "B", "status": "Doing"}]}\n',
        "A", Family.DONE, '"Backlog"', '"Shipped"',
    ),
    "UPPER_CASE words": (
        '{"stories": [{"id": "A", "status": @@}, {"id": "B", "status": "DONE"}]}\n',
        "A", Family.IN_PROGRESS, '"TODO"', '"IN_PROGRESS"',
    ),
    "CRLF, 4-space indent": (
        '{\r\n    "stories": [\r\n        {\r\n            "id": "A",\r\n            "status": @@\r\n        }\r\n    ]\r\n}\r\n',
        "A", Family.BLOCKED, '"todo"', '"blocked"',
    ),
    "no trailing newline": (
        '{"stories": [{"id": "A", "status": @@}]}',
        "A", Family.DEFERRED, '"todo"', '"deferred"',
    ),
    "tab indent": (
        '{\n\t"stories": [\n\t\t{\n\t\t\t"id": "A",\n\t\t\t"status": @@\n\t\t}\n\t]\n}\n',
        "A", Family.DONE, '"todo"', '"done"',
    ),
    "unknown fields, unicode, escapes": (
        '{"project": "Café ☕", "x-custom": {"b": 2, "a": [1.50, 1e3, null]},\n'
        ' "stories": [{"id": "日本-1", "title": "Ünïcode \\u00e9 \\"q\\" \\ud83d\\ude00", "status": @@,\n'
        '   "zzz": true, "aaa": {"nested": "status"}},\n'
        '  {"id": "B", "status": "todo"}]}\n',
        "日本-1", Family.IN_PROGRESS, '"todo"', '"in_progress"',
    ),
    "duplicate keys: the last one is the one read": (
        '{"stories": [{"id": "A", "status": "ignored", "status": @@}]}\n',
        "A", Family.DONE, '"todo"', '"done"',
    ),
}


def writer(path: Path, **options: Any) -> Callable[..., str | None]:
    """The file as `storyc compile` leaves it for a run: a writer of statuses at the places the compile recorded,
    in the words it read (compiled once, as a run's writes all come after its one compile)."""
    tf = load_tasks(path, **options)
    words = file_words(tf)
    return lambda story_id, family, *, lock: set_status(path, story_id, family, lock=lock, place=tf.place(story_id), words=words)


def write(folder: Path, content: str | bytes, name: str = "tasks.json") -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.fixture()
def lock(tmp_path: Path) -> FileLock:
    return lock_for(tmp_path / "build", "tasks")


@pytest.mark.parametrize("template, story_id, family, before, after", SHAPES.values(), ids=SHAPES.keys())
def test_only_the_status_value_changes(tmp_path: Path, lock: FileLock, template: str, story_id: str, family: Family, before: str, after: str) -> None:
    path = write(tmp_path, template.replace("@@", before))
    assert writer(path)(story_id, family, lock=lock) == ("true" if after == "true" else json.loads(after))
    assert path.read_bytes() == template.replace("@@", after).encode("utf-8")
    if "userStories" not in template:  # the compiler reads the new status back in the family written
        tf = load_tasks(path)
        assert tf.family(next(s for s in tf.stories if s.id == story_id)) is family


def test_a_bom_stays(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, b'\xef\xbb\xbf{"stories": [{"id": "A", "status": "todo"}]}\n')
    assert writer(path)("A", Family.DONE, lock=lock) == "done"
    assert path.read_bytes() == b'\xef\xbb\xbf{"stories": [{"id": "A", "status": "done"}]}\n'


def test_a_file_of_ascii_escapes_stays_ascii(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, '{"statuses": ["todo", "fertig \\u2713"], "stories": [{"id": "A", "status": "todo"}]}')
    assert writer(path, status_words={"fertig_✓": Family.DONE})("A", Family.DONE, lock=lock) == "fertig ✓"
    assert path.read_bytes() == b'{"statuses": ["todo", "fertig \\u2713"], "stories": [{"id": "A", "status": "fertig \\u2713"}]}'


@pytest.mark.parametrize(
    "others, family, word",
    [
        (["in-progress"], Family.TODO, "to-do"),
        (["in-progress"], Family.BLOCKED, "blocked"),
        (["done", "in_progress"], Family.TODO, "todo"),
        (["DONE"], Family.TODO, "TODO"),
        (["IN-PROGRESS"], Family.TODO, "TO-DO"),
        (["Done", "Backlog"], Family.IN_PROGRESS, "In Progress"),
        (["Done", "To Do"], Family.IN_PROGRESS, "In Progress"),
        ([], Family.IN_PROGRESS, "in_progress"),
        (["done", "complete", "complete"], Family.DONE, "complete"),  # the commonest of the file's words
    ],
)
def test_a_word_the_file_has_not_used_follows_its_style(tmp_path: Path, lock: FileLock, others: list[str], family: Family, word: str) -> None:
    stories = [{"id": "T"}] + [{"id": f"O{i}", "status": w} for i, w in enumerate(others)]
    path = write(tmp_path, json.dumps({"stories": stories}))
    assert writer(path)("T", family, lock=lock) == word
    assert json.loads(path.read_text())["stories"][0]["status"] == word


def test_task_master_defaults_to_its_own_words(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, '{"master": {"tasks": [{"id": 1, "status": "done"}]}}')
    run = writer(path)
    assert run("1", Family.TODO, lock=lock) == "pending"
    assert run("1", Family.IN_PROGRESS, lock=lock) == "in-progress"


def test_a_tag_picks_the_task_list(tmp_path: Path, lock: FileLock) -> None:
    text = '{"feature": {"tasks": [{"id": 1, "status": "pending"}]}, "master": {"tasks": [{"id": 1, "status": "pending"}]}}'
    path = write(tmp_path, text)
    assert writer(path, tag="feature")("1", Family.DONE, lock=lock) == "done"
    assert path.read_text() == text.replace('"pending"', '"done"', 1)


def test_the_same_family_changes_nothing(tmp_path: Path, lock: FileLock) -> None:
    text = '{"stories": [{"id": "A", "status": "review"}]}'
    path = write(tmp_path, text)
    before = path.stat().st_mtime_ns
    assert writer(path)("A", Family.IN_PROGRESS, lock=lock) is None
    assert path.read_text() == text and path.stat().st_mtime_ns == before


@pytest.mark.parametrize("family", [Family.IN_PROGRESS, Family.TODO, Family.BLOCKED])
def test_ralph_passes_says_only_done(tmp_path: Path, lock: FileLock, family: Family) -> None:
    text = '{"userStories": [{"id": "US-1", "passes": false}, {"id": "US-2", "passes": true}]}'
    path = write(tmp_path, text)
    run = writer(path)
    assert run("US-1", family, lock=lock) is None
    assert run("US-2", family, lock=lock) is None
    assert run("US-2", Family.DONE, lock=lock) is None
    assert path.read_text() == text


def test_ralph_with_a_status_key_gets_both(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, '{"userStories": [{"id": "US-1", "status": "todo", "passes": false}]}')
    run = writer(path)
    assert run("US-1", Family.IN_PROGRESS, lock=lock) == "in_progress"
    assert path.read_text() == '{"userStories": [{"id": "US-1", "status": "in_progress", "passes": false}]}'
    assert run("US-1", Family.DONE, lock=lock) == "done"
    assert path.read_text() == '{"userStories": [{"id": "US-1", "status": "done", "passes": true}]}'


def test_ralph_done_with_passes_false_gets_passes(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, '{"userStories": [{"id": "US-1", "status": "Complete", "passes": false}]}')
    assert writer(path)("US-1", Family.DONE, lock=lock) == "true"
    assert path.read_text() == '{"userStories": [{"id": "US-1", "status": "Complete", "passes": true}]}'


MISSING = (
    '{\n  "stories": [\n    {\n      "id": "A",\n      "title": "x"@A\n    },\n    {"id": "B", "title": "y"@B},\n'
    '    {\n        "id": "C"@C\n    },\n    {"id":"D","title":"z"@D},\n    { "id": "E"@E }\n  ]\n}\n'
)


@pytest.mark.parametrize(
    "story_id, inserted",
    [
        ("A", ',\n      "status": "in_progress"'),
        ("B", ', "status": "in_progress"'),
        ("C", ',\n        "status": "in_progress"'),
        ("D", ',"status":"in_progress"'),
        ("E", ', "status": "in_progress"'),
    ],
)
def test_a_missing_status_is_inserted_as_its_siblings_are(tmp_path: Path, lock: FileLock, story_id: str, inserted: str) -> None:
    def fill(target: str, text: str) -> str:
        for sid in "ABCDE":
            text = text.replace(f"@{sid}", target if sid == story_id else "")
        return text

    path = write(tmp_path, fill("", MISSING))
    assert writer(path)(story_id, Family.IN_PROGRESS, lock=lock) == "in_progress"
    assert path.read_text() == fill(inserted, MISSING)
    json.loads(path.read_text())


def test_a_story_removed_since_the_compile_is_refused(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, '{"stories": [{"id": "A", "status": "todo", "subtasks": [{"id": 1}]}, {"id": "B"}]}')
    run = writer(path)
    text = '{"stories": [{"id": "A", "status": "todo"}, {"id": "1", "subtasks": [{"id": "B"}]}]}'  # A.1 and B gone
    path.write_text(text)
    with pytest.raises(InputError, match="story A.1 is not in tasks.json") as info:
        run("A.1", Family.DONE, lock=lock)
    assert info.value.where == Where(str(path), 0)
    assert "changed since" in info.value.hint
    with pytest.raises(InputError, match="story B is not in"):  # a subtask of that id is another story
        run("B", Family.DONE, lock=lock)
    assert path.read_text() == text


@pytest.mark.parametrize("text", ['{"stories": [{"id": "A", "status": "todo"},]}', '{"stories": [{"id": "A"', ""])
def test_invalid_json_is_refused_and_the_file_untouched(tmp_path: Path, lock: FileLock, text: str) -> None:
    path = write(tmp_path, '{"stories": [{"id": "A", "status": "todo"}]}')
    run = writer(path)
    path.write_text(text)
    with pytest.raises(InputError, match="tasks.json is no longer valid JSON") as info:
        run("A", Family.DONE, lock=lock)
    assert "did not write" in info.value.hint
    assert path.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "tasks.json"]


def test_a_family_the_declared_list_lacks_is_refused(tmp_path: Path, lock: FileLock) -> None:
    text = '{"statuses": ["todo", "done"], "stories": [{"id": "A", "status": "todo"}]}'
    path = write(tmp_path, text)
    with pytest.raises(InputError, match="declares no status for blocked"):
        writer(path)("A", Family.BLOCKED, lock=lock)
    assert path.read_text() == text


def test_a_large_file_is_cheap(tmp_path: Path, lock: FileLock) -> None:
    stories = [{"id": f"US-{i:05}", "title": f"Story {i}", "status": "todo", "files": [f"src/m{i}.py"]} for i in range(10_000)]
    path = write(tmp_path, json.dumps({"stories": stories}, indent=2))
    run = writer(path)
    start = time.perf_counter()
    assert run("US-09999", Family.DONE, lock=lock) == "done"
    assert time.perf_counter() - start < 1.0
    assert json.loads(path.read_text())["stories"][-1]["status"] == "done"


# ---------------------------------------------------------------------------------------------------- during a run
# A run compiles once, then writes many statuses: its own earlier writes, and a person's edits, come between.


def test_a_run_s_earlier_writes_move_nothing_it_writes_later(tmp_path: Path, lock: FileLock) -> None:
    text = '{"stories": [\n  {"id": "A", "title": "a"},\n  {"id": "B", "status": "todo"},\n  {"id": "C", "state": "open", "x": 1}\n]}\n'
    path = write(tmp_path, text)
    run = writer(path)
    assert run("A", Family.IN_PROGRESS, lock=lock) == "in_progress"  # a status member added: B and C move on
    assert run("B", Family.IN_PROGRESS, lock=lock) == "in_progress"  # a longer word: C moves on again
    assert run("C", Family.BLOCKED, lock=lock) == "blocked"
    assert run("A", Family.DONE, lock=lock) == "done"  # the member this run added is the one rewritten
    assert run("B", Family.IN_PROGRESS, lock=lock) is None  # the word this run wrote reads back in its family
    assert path.read_text() == (
        '{"stories": [\n  {"id": "A", "title": "a", "status": "done"},\n  {"id": "B", "status": "in_progress"},\n'
        '  {"id": "C", "state": "blocked", "x": 1}\n]}\n'
    )


def test_a_run_writes_the_words_the_file_had_when_compiled(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, '{"stories": [{"id": "A", "status": "complete"}, {"id": "B", "status": "todo"}]}')
    run = writer(path)
    assert run("A", Family.TODO, lock=lock) == "todo"  # its one word for done is gone from the file now
    assert run("B", Family.DONE, lock=lock) == "complete"  # still the file's word, not a default
    assert path.read_text() == '{"stories": [{"id": "A", "status": "todo"}, {"id": "B", "status": "complete"}]}'


def test_a_story_a_person_moved_during_the_run_is_written_where_it_is_now(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, '{"master": {"tasks": [{"id": 1, "status": "pending", "subtasks": [{"id": 1, "status": "pending"}, {"id": 2, "status": "pending"}]},'
                           ' {"id": 2, "status": "pending"}]}}')
    run = writer(path)
    # Meanwhile a person adds a task at the top, moves task 1 below task 2 and its subtask 2 above subtask 1.
    edited = (
        '{"master": {"tasks": [\n  {"id": 3, "status": "pending", "subtasks": [{"id": 2, "status": "pending"}]},\n  {"id": 2, "status": "pending"},\n'
        '  {"id": 1, "status": "pending", "subtasks": [{"id": 2, "status": "pending"}, {"id": 1, "status": "pending"}]}]}}'
    )
    path.write_text(edited)
    assert run("1.2", Family.DONE, lock=lock) == "done"
    assert run("2", Family.IN_PROGRESS, lock=lock) == "in-progress"
    assert path.read_text() == (
        edited.replace('{"id": 2, "status": "pending"},\n', '{"id": 2, "status": "in-progress"},\n')
        .replace('"subtasks": [{"id": 2, "status": "pending"}, {"id": 1', '"subtasks": [{"id": 2, "status": "done"}, {"id": 1')
    )


@pytest.mark.parametrize(
    "edited",
    [
        '{"stories": [{"id": "A", "status": "todo"}, {"id": "B2", "status": "todo"}]}',  # renamed
        '{"stories": [{"id": "B", "status": "todo"}, {"id": "A", "status": "todo"}, {"id": "B", "status": "done"}]}',  # moved, and two of it
        '{"stories": [{"id": "A", "status": "todo", "subtasks": [{"id": "B", "status": "todo"}]}]}',  # another story now
        '{"tasks": [{"id": "A", "status": "todo"}, {"id": "B", "status": "todo"}]}',  # another list
        '{"stories": [{"id": "A", "status": "todo"}, "B"]}',
    ],
    ids=["renamed", "twice", "a subtask", "another list", "no object"],
)
def test_a_story_moved_beyond_recognition_is_refused_and_the_file_untouched(tmp_path: Path, lock: FileLock, edited: str) -> None:
    path = write(tmp_path, '{"stories": [{"id": "A", "status": "todo"}, {"id": "B", "status": "todo"}]}')
    run = writer(path)
    path.write_text(edited)
    with pytest.raises(InputError, match="story B is not in tasks.json") as info:
        run("B", Family.DONE, lock=lock)
    assert "compile again" in info.value.hint and "did not write" in info.value.hint
    assert path.read_text() == edited
    if '"stories"' in edited:
        assert run("A", Family.DONE, lock=lock) == "done"  # the others are still written


SPRINT_FILE = """# Sprint 1

## Stories

| ID   | Title | Status      |
| ---- | ----- | ----------- |
| A-1  | One   | Todo        |
| A-2  | Two   | Todo        |

### A-3: Three

Some text.
**Status:** Todo | **Owner:** me

## Chores

- [ ] A-4 Four
"""


def test_a_markdown_file_s_earlier_writes_move_nothing_it_writes_later(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, SPRINT_FILE, "sprint.md")
    run = writer(path)
    assert run("A-1", Family.IN_PROGRESS, lock=lock) == "In Progress"  # padded to the column
    assert run("A-1", Family.BLOCKED, lock=lock) == "Blocked"
    assert run("A-3", Family.IN_PROGRESS, lock=lock) == "In Progress"  # a longer field: the next field moves on
    assert run("A-3", Family.DONE, lock=lock) == "Done"
    assert run("A-4", Family.DONE, lock=lock) == "x"
    assert run("A-3", Family.DONE, lock=lock) is None
    assert path.read_text() == (
        SPRINT_FILE.replace("| A-1  | One   | Todo        |", "| A-1  | One   | Blocked     |")
        .replace("**Status:** Todo |", "**Status:** Done |").replace("- [ ] A-4", "- [x] A-4")
    )


def test_a_markdown_story_a_person_moved_during_the_run_is_written_where_it_is_now(tmp_path: Path, lock: FileLock) -> None:
    path = write(tmp_path, SPRINT_FILE, "sprint.md")
    run = writer(path)
    edited = (
        SPRINT_FILE.replace("## Stories\n", "## Stories\n\nA note added during the run.\n")  # every line moves down
        .replace("| A-1  | One   | Todo        |\n| A-2  | Two   | Todo        |\n", "| A-2  | Two   | Todo        |\n| A-1  | One   | Todo        |\n")
        .replace("Some text.\n", "Some text.\nMore text.\n")  # the field moves within its section
        .replace("- [ ] A-4 Four\n", "- [ ] A-5 Five\n- [ ] A-4 Four\n")
    )
    path.write_text(edited)
    assert run("A-1", Family.DONE, lock=lock) == "Done"
    assert run("A-3", Family.IN_PROGRESS, lock=lock) == "In Progress"
    assert run("A-4", Family.DONE, lock=lock) == "x"
    assert path.read_text() == (
        edited.replace("| A-1  | One   | Todo        |", "| A-1  | One   | Done        |")
        .replace("**Status:** Todo |", "**Status:** In Progress |").replace("- [ ] A-4", "- [x] A-4")
    )


@pytest.mark.parametrize(
    "story_id, old, new",
    [
        ("A-1", "| A-1  | One   | Todo        |", "| A-10 | One   | Todo        |"),  # renamed
        ("A-1", "| A-1  | One   | Todo        |\n| A-2  | Two   | Todo        |", "| A-0  | Zero  | Todo        |\n| A-1  | One   | Todo        |\n| A-1  | Two   | Todo        |"),  # moved, and two rows of it
        ("A-3", "### A-3: Three", "### A-30: Three"),
        ("A-3", "**Status:** Todo | **Owner:** me", "Status unknown"),  # the field gone
        ("A-4", "- [ ] A-4 Four", "- A-4 Four"),  # no box
    ],
)
def test_a_markdown_story_moved_beyond_recognition_is_refused_and_the_file_untouched(tmp_path: Path, lock: FileLock, story_id: str, old: str, new: str) -> None:
    path = write(tmp_path, SPRINT_FILE, "sprint.md")
    run = writer(path)
    edited = SPRINT_FILE.replace(old, new)
    path.write_text(edited)
    with pytest.raises(InputError, match=f"story {story_id} is not in sprint.md") as info:
        run(story_id, Family.DONE, lock=lock)
    assert "compile again" in info.value.hint
    assert path.read_text() == edited


def test_a_field_under_a_setext_heading_is_found_again(tmp_path: Path, lock: FileLock) -> None:
    text = "# Sprint\n\n## Stories\n\nUS-1: One\n---------\n\n**Status:** Todo\n\nUS-2: Two\n---------\n\nText.\n**Status:** Todo\n"
    path = write(tmp_path, text, "sprint.md")
    run = writer(path)
    edited = text.replace("## Stories\n", "## Stories\n\nA note.\n").replace("Text.\n", "")
    path.write_text(edited)
    assert run("US-2", Family.DONE, lock=lock) == "Done"
    assert run("US-1", Family.IN_PROGRESS, lock=lock) == "In Progress"
    assert path.read_text() == edited.replace("**Status:** Todo", "**Status:** In Progress", 1).replace("**Status:** Todo", "**Status:** Done")


def test_a_run_writes_where_its_compiled_plan_says_after_a_person_s_edit(repo, tmp_path: Path) -> None:
    """Through the real commands: `storyc compile`, a person's edit, and the write the run makes from plan.json."""
    r = repo(tasks={"stories": [{"id": "US-1", "status": "todo"}, {"id": "US-2", "status": "pending"}]})
    assert r.run("compile").code == 0
    plan = load_plan(r.root / "build/plan.json")
    assert plan.story("US-2").status_at == StatusPlace(pointer=["stories", 1], ids=["US-2"], key="status")
    assert plan.status_words.write["done"] == "done" and plan.status_words.read["pending"] == "todo"
    path = r.root / plan.inputs["tasks"]["path"]
    path.write_text('{"stories": [{"id": "US-0", "status": "todo"}, {"id": "US-2", "status": "pending"}, {"id": "US-1", "status": "todo"}]}')
    at = plan.story("US-2").status_at
    assert set_status(path, "US-2", Family.DONE, lock=lock_for(r.root / "build", "tasks"), place=at, words=plan.status_words) == "done"
    assert [s["status"] for s in json.loads(path.read_text())["stories"]] == ["todo", "done", "todo"]


# ---------------------------------------------------------------------------------------------------- files


def test_atomic_write_keeps_the_permission_bits(tmp_path: Path) -> None:
    path = write(tmp_path, "old")
    path.chmod(0o640)
    atomic_write(path, "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_atomic_write_gives_a_new_file_the_umask_bits(tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        atomic_write(tmp_path / "new.json", b"{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_atomic_write_writes_through_a_symlink(tmp_path: Path) -> None:
    target = write(tmp_path, "old", "real.json")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_a_recompile_rewrites_its_files_without_fsync_keeping_their_permission_bits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"build/{MARKER}": MARKER_TEXT, "build/plan.json": "{}\n"}
    write_artifacts(tmp_path, files, "build")
    (tmp_path / "build/plan.json").chmod(0o640)

    def no_fsync(fd: int) -> None:
        raise AssertionError("compile output is regenerated at any time: no fsync")

    monkeypatch.setattr(os, "fsync", no_fsync)
    report = write_artifacts(tmp_path, {**files, "build/plan.json": "{\"new\": 1}\n"}, "build")
    assert report.written == ["build/plan.json"]
    assert (tmp_path / "build/plan.json").read_text() == '{"new": 1}\n'
    assert stat.S_IMODE((tmp_path / "build/plan.json").stat().st_mode) == 0o640
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == [MARKER, "plan.json"]


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "old")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        atomic_write(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.json"]


def test_lock_for_puts_the_lock_under_the_build_folder(tmp_path: Path) -> None:
    lock = lock_for(tmp_path / "build", "tasks")
    assert Path(lock.lock_file) == tmp_path / "build" / "locks" / "tasks.lock"
    with lock, lock:  # reentrant in one thread
        assert lock.is_locked


@pytest.mark.parametrize("shared", [False, True], ids=["two lock objects", "one lock object"])
def test_a_lock_excludes_another_thread(tmp_path: Path, shared: bool) -> None:
    mine = lock_for(tmp_path, "tasks")
    theirs = mine if shared else lock_for(tmp_path, "tasks")
    outcome: list[str] = []

    def other() -> None:
        try:
            theirs.acquire(timeout=0.1)
        except Timeout:
            outcome.append("waited")
        else:
            outcome.append("acquired")
            theirs.release()

    with mine:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert outcome == ["waited"]
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert outcome == ["waited", "acquired"]


def test_locked_gives_up_with_an_output_error(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "tasks.lock"
    errors: list[Exception] = []

    def other() -> None:
        try:
            with locked(path, timeout=0.05):
                pass
        except OutputError as exc:
            errors.append(exc)

    with locked(path):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1 and "waited 0.05 s for the lock" in errors[0].message


def test_set_status_waits_only_as_long_as_its_lock_says(tmp_path: Path) -> None:
    path = write(tmp_path, '{"stories": [{"id": "A", "status": "todo"}]}')
    run = writer(path)
    outcome: list[str] = []

    def other() -> None:
        try:
            run("A", Family.DONE, lock=lock_for(tmp_path / "build", "tasks", timeout=0.05))
        except OutputError as exc:
            outcome.append(exc.message)

    with lock_for(tmp_path / "build", "tasks"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(outcome) == 1 and outcome[0].startswith("waited 0.05 s for the lock")
    assert "todo" in path.read_text()


def test_threads_counting_under_their_own_locks_lose_nothing(tmp_path: Path) -> None:
    counter = write(tmp_path, "0")
    log = tmp_path / "log.txt"

    def count() -> None:
        lock = lock_for(tmp_path, "counter")
        for _ in range(50):
            with lock:
                n = int(counter.read_text())
                time.sleep(0)  # invite a switch between the read and the write
                atomic_write(counter, str(n + 1))
                append_line(log, f"{n + 1}")

    threads = [threading.Thread(target=count) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.read_text() == "200"
    assert log.read_text() == "".join(f"{i}\n" for i in range(1, 201))


# ---------------------------------------------------------------------------------------------------- in parallel

FAMILIES = list(Family)
PROCESSES, THREADS, UPDATES, PADDING = 8, 2, 40, 200  # 640 writes by 16 writers at once: lost updates show long before


def _story_id(process: int, thread: int, k: int) -> str:
    return f"W{process}-T{thread}-{k % 2}"


def _family(process: int, thread: int, k: int) -> Family:
    return FAMILIES[(k + process + thread) % len(FAMILIES)]


def _writer(write_status: Callable[..., str | None], build: Path, process: int) -> None:
    failures: list[Exception] = []

    def run(thread: int) -> None:
        lock = lock_for(build, "tasks")  # built here: a lock does not cross a fork
        try:
            for k in range(UPDATES):
                write_status(_story_id(process, thread, k), _family(process, thread, k), lock=lock)
        except Exception as exc:  # reported through the exit code
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


def _reader(path: Path, ids: set[str], stop: Any, results: Any) -> None:
    reads, problems = 0, []
    while not stop.is_set() or reads == 0:
        try:
            stories = json.loads(path.read_bytes())["stories"]
        except ValueError as exc:
            problems.append(f"read {reads}: {exc}")
        else:
            if {s["id"] for s in stories} != ids:
                problems.append(f"read {reads}: stories missing")
        reads += 1
    results.put((reads, problems[:5]))


def test_parallel_writers_lose_nothing_and_a_reader_never_sees_a_torn_file(tmp_path: Path) -> None:
    ids = [_story_id(p, t, k) for p in range(PROCESSES) for t in range(THREADS) for k in range(2)]
    ids += [f"PAD-{i}" for i in range(PADDING)]
    stories = [{"id": sid, "title": f"Story {sid} ✓", "status": "todo", "files": ["src/x.py"]} for sid in ids]
    path = write(tmp_path, json.dumps({"project": "parallel", "stories": stories}, indent=2, ensure_ascii=False) + "\n")
    build = tmp_path / "build"
    ctx = multiprocessing.get_context("fork")
    stop, results = ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=_reader, args=(path, set(ids), stop, results))
    reader.start()
    run = writer(path)  # before the writers: a run compiles once
    writers = [ctx.Process(target=_writer, args=(run, build, p)) for p in range(PROCESSES)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    stop.set()
    reads, problems = results.get(timeout=30)
    reader.join(10)
    assert [w.exitcode for w in writers] == [0] * PROCESSES
    assert problems == [] and reads > 10
    final = {s["id"]: s["status"] for s in json.loads(path.read_text(encoding="utf-8"))["stories"]}
    expected = {}
    for p in range(PROCESSES):
        for t in range(THREADS):
            for k in range(UPDATES):
                expected[_story_id(p, t, k)] = _family(p, t, k)
    assert {sid: family_of(final[sid]) for sid in expected} == expected
    assert all(final[f"PAD-{i}"] == "todo" for i in range(PADDING))
