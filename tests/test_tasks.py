"""compiler.tasks: tasks.json faults that once crashed storyc or were read wrong, and the locator that points at them.

Each case was found by fuzzing: NaN and infinities, JSON nested deep, half a
surrogate pair, blank ids, duplicate keys, Task Master subtasks of subtasks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from storyc.compiler.tasks import load_tasks
from storyc.errors import InputError
from storyc.jsonpos import JsonLocator

MakeRepo = Callable[..., Any]
TASKS = "docs/tasks/tasks.json"



def stories(tmp_path: Path, data: Any) -> dict[str, Any]:
    path = tmp_path / "tasks.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return {s.id: s for s in load_tasks(path).stories}


# ------------------------------------------------------- numbers JSON has no word for


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_number_json_has_no_word_for_is_an_input_error_anywhere(repo: MakeRepo, value: str) -> None:
    """Python reads NaN, Infinity and 1e400 (as inf); JSON has none of them and plan.json could not hold them."""
    for key in ("priority", "estimated_hours", "custom"):
        r = repo(tasks='{"stories": [\n  {"id": "US-1",\n   "%s": %s}\n]}\n' % (key, value))
        r.run("compile").refused(rf"tasks\.json holds {re.escape(value)}, which is not a JSON number", line=3)
        assert not (r.root / "build").exists()


def test_a_fractional_priority_is_an_input_error(repo: MakeRepo) -> None:
    r = repo(tasks='{"stories": [\n  {"id": "US-1",\n   "priority": 1.5}\n]}\n')
    r.run("check").refused(r"task US-1: invalid `priority`.*not a whole number", line=3)


def test_a_whole_float_priority_is_an_integer(tmp_path: Path) -> None:
    assert stories(tmp_path, '{"stories": [{"id": "A", "priority": 2.0}, {"id": "B", "priority": 1}]}')["A"].priority == 2


@pytest.mark.parametrize("value", ['"1' + "0" * 400 + 'h"', "1" + "0" * 400])
def test_an_estimate_too_large_for_a_float_is_an_input_error(repo: MakeRepo, value: str) -> None:
    r = repo(tasks='{"stories": [\n  {"id": "US-1",\n   "estimated_hours": %s}\n]}\n' % value)
    r.run("compile").refused(r"task US-1: cannot read estimated_hours .* as a duration", line=3)
    assert not (r.root / "build").exists()


def test_the_locator_reads_nan_and_infinities() -> None:
    """The line finder never fails on what json.loads reads, NaN and Infinity included."""
    text = '{"version": NaN, "limits": [Infinity, -Infinity, -1.5e3],\n "stories": [\n  {"id": "US-1",\n   "size": "Q"}]}\n'
    assert JsonLocator(text).line_of(("stories", 0, "size")) == 4


def test_a_number_of_thousands_of_digits_is_an_input_error(repo: MakeRepo) -> None:
    r = repo(tasks='{"stories": [\n  {"id": "US-1",\n   "x": %s}\n]}\n' % ("7" * 5000))
    r.run("check").refused(r"a number of more than 4300 digits", line=3)


# ------------------------------------------------------- depth


def test_json_nested_too_deep_for_python_is_an_input_error(repo: MakeRepo) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    r = repo(tasks='{"stories": [\n  {"id": "US-1",\n   "x": %s}\n]}\n' % deep)
    r.run("check").refused(r"tasks\.json is nested too deeply to read", line=3)


def test_the_locator_reads_any_depth_json_loads_reads(repo: MakeRepo) -> None:
    deep = "[" * 600 + "]" * 600  # json.loads reads it; a recursive locator ran out of stack
    r = repo(tasks='{"stories": [\n  {"id": "US-1", "x": %s,\n   "size": "Q"}\n]}\n' % deep)
    r.run("check").refused(r"task US-1: invalid size 'Q'", line=3)
    assert JsonLocator("[" * 5000 + "\n1" + "]" * 5000).line_of((0,) * 5000) == 2


# ------------------------------------------------------- strings


def test_half_a_surrogate_pair_is_an_input_error_at_its_line(repo: MakeRepo) -> None:
    r = repo(tasks='{"stories": [\n  {"id": "US-1",\n   "title": "a\\ud800b"},\n  {"id": "US-2", "title": "\\uDE00"}\n]}\n')
    r.run("compile").refused(r"the escape `\\ud800`, half of a UTF-16 surrogate pair", line=3)
    assert not (r.root / "build").exists()
    r = repo(tasks='{"stories": [\n  {"id": "US-1",\n   "title": "\\ud83d\\ude00 then \\ude00"}\n]}\n')
    r.run("check").refused(r"the escape `\\ude00`", line=3)


def test_whole_surrogate_pairs_and_escaped_backslashes_still_load(repo: MakeRepo) -> None:
    r = repo(tasks='{"stories": [{"id": "US-1", "title": "smile \\ud83d\\ude00", "description": "C:\\\\ud800 is a path"}]}\n')
    res = r.run("compile")
    assert res.code == 0, res.output
    plan = json.loads((r.root / "build" / "plan.json").read_text(encoding="utf-8"))
    assert plan["stories"][0]["title"] == "smile \N{GRINNING FACE}"
    assert plan["stories"][0]["description"] == "C:\\ud800 is a path"


# ------------------------------------------------------- ids and keys


@pytest.mark.parametrize("blank", ['"   "', '"\\t"', '""', "null"])
def test_a_blank_id_is_a_missing_id(repo: MakeRepo, blank: str) -> None:
    r = repo(tasks='{"stories": [\n  {"id": "US-1"},\n  {"id": %s, "title": "A"}\n]}\n' % blank)
    r.run("compile").refused(r"a task has no `id`", line=3)


def test_subtask_ids_are_stripped(tmp_path: Path) -> None:
    got = stories(tmp_path, {"tasks": [{"id": 1, "subtasks": [{"id": " 2 "}, {"id": "3", "dependencies": [2]}]}]})
    assert list(got) == ["1", "1.2", "1.3"]
    assert got["1.3"].depends_on == ["1.2"]


def test_a_duplicate_key_is_found_where_json_reads_it_the_last(repo: MakeRepo) -> None:
    r = repo(tasks='{"stories": [{"id": "US-1",\n "size": "M",\n "size": "Q"}]}\n')
    r.run("check").refused(r"invalid size 'Q'", line=3)


# ------------------------------------------------------- Task Master subtasks


NESTED = {
    "master": {
        "tasks": [
            {"id": 7, "title": "Base", "status": "done"},
            {
                "id": 1, "title": "Top", "dependencies": [7],
                "subtasks": [
                    {"id": 1, "title": "Mid", "subtasks": [
                        {"id": 1, "title": "Deep one"},
                        {"id": 2, "title": "Deep two", "dependencies": [1], "subtasks": [{"id": 1, "title": "Deepest"}]},
                    ]},
                    {"id": 2, "title": "Mid two", "dependencies": [1]},
                ],
            },
        ]
    }
}


def test_subtasks_of_subtasks_are_read(tmp_path: Path) -> None:
    got = stories(tmp_path, NESTED)
    assert list(got) == ["7", "1", "1.1", "1.1.1", "1.1.2", "1.1.2.1", "1.2"]
    assert got["1"]._origin.children == ["1.1", "1.2"]
    assert got["1.1"]._origin.children == ["1.1.1", "1.1.2"]
    assert got["1.1.2"]._origin.children == ["1.1.2.1"]
    # A bare number names a sibling of the same level; every level inherits its parent's dependencies.
    assert got["1.1.2"].depends_on == ["1.1.1", "7"]
    assert got["1.1.2.1"].depends_on == ["1.1.1", "7"]
    assert got["1.2"].depends_on == ["1.1", "7"]


def test_subtasks_of_subtasks_compile_in_order(repo: MakeRepo) -> None:
    r = repo(tasks=NESTED)
    res = r.run("compile")
    assert res.code == 0, res.output
    plan = json.loads((r.root / "build" / "plan.json").read_text(encoding="utf-8"))
    wave = {s["id"]: s["wave"] for s in plan["stories"] if s["target"]}
    assert wave["1.1.1"] < wave["1.1.2"] and wave["1.1.2.1"] < wave["1.1.2"] < wave["1.1"] < wave["1.2"] < wave["1"]


def test_subtasks_that_are_no_list_are_an_input_error(repo: MakeRepo) -> None:
    r = repo(tasks='{"master": {"tasks": [\n  {"id": 1, "title": "a",\n   "subtasks": {"id": 1}}\n]}}\n')
    r.run("check").refused(r"task 1: `subtasks` must be a list of tasks, not dict", line=3)
    r = repo(tasks='{"tasks": [{"id": 1, "subtasks": [{"id": 1,\n "subtasks": "none"}]}]}\n')
    r.run("check").refused(r"task 1\.1: `subtasks` must be a list", line=2)


def test_statuses_that_are_no_list_are_an_input_error(repo: MakeRepo) -> None:
    r = repo(tasks='{"statuses":\n  {"todo": 1},\n "stories": [{"id": "US-1"}]}\n')
    r.run("check").refused(r"`statuses` must be a list of status words, not dict", line=2)


def test_a_parent_that_depends_on_its_own_subtask_is_fine(repo: MakeRepo, tmp_path: Path) -> None:
    data = {"master": {"tasks": [{"id": 1, "title": "a", "dependencies": ["1.1", 9], "subtasks": [{"id": 1}, {"id": 2}]}, {"id": 9}]}}
    got = stories(tmp_path, data)
    # The parent waits for its subtasks anyway: they inherit its other dependencies only.
    assert got["1.1"].depends_on == ["9"]
    assert got["1.2"].depends_on == ["9"]
    res = repo(tasks=data).run("check")
    assert res.code == 0, res.output


def test_load_errors_are_input_errors(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text('{"stories": [{"id": "A", "priority": NaN}]}', encoding="utf-8")
    with pytest.raises(InputError, match="priority"):
        load_tasks(path)


def test_a_sprint_naming_a_task_takes_its_subtasks_at_every_depth(repo: MakeRepo) -> None:
    nested = {"master": {"tasks": [{"id": 1, "title": "Top", "subtasks": [{"id": 1, "title": "Mid", "subtasks": [{"id": 1, "title": "Deep"}]}]}]}}
    r = repo(tasks=nested, sprint="# Sprint 1\n\n## Stories\n\n- 1\n")
    assert r.run("compile").code == 0
    plan = json.loads(r.text("build/plan.json"))
    assert [s["id"] for s in plan["stories"] if s["target"]] == ["1", "1.1", "1.1.1"]
    assert plan["waves"] == [["1.1.1"], ["1.1"], ["1"]]


def test_old_mac_line_ends_still_give_the_right_line(repo: MakeRepo) -> None:
    r = repo(tasks=b'{"stories": [\r  {"id": "US-1",\r   "size": "Q"}\r]}\r')
    r.run("check").refused(r"task US-1: invalid size 'Q'", line=3)
