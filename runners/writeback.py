"""A story's new status into tasks.json (or the Markdown file that carries the story), in place, in the file's own words.

The file is parsed once with `json.loads` to find the story, then a small scanner walks the text to the
span of its status value, and only that span is replaced: key order, unknown fields, indentation, line ends and
escapes elsewhere stay byte for byte. A story with no status gets one, as a new last member in its siblings' style.

In a Markdown file the status is written where the file keeps it: a Status cell or a `**Status:**` field gets the
file's own word for the family (the text other cells of that family hold), a checkbox is ticked or cleared. A story
whose file keeps no status of it is left alone: storyc's record (events, PROGRESS.md) holds its status.
"""

from __future__ import annotations

import codecs
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import BaseFileLock
from storyc.compiler.mdstories import clean_status, read_stories
from storyc.compiler.statuses import Family, family_of
from storyc.compiler.tasks import ALIASES, MARKDOWN, _find_task_list

from storyc.errors import InputError, Where
from storyc.files import atomic_write, locked
from storyc.jsonpos import Pointer

# Task Master's own words, which its CLI accepts.
_TASKMASTER = {
    Family.TODO: "pending", Family.IN_PROGRESS: "in-progress", Family.DONE: "done",
    Family.BLOCKED: "blocked", Family.DEFERRED: "deferred", Family.CANCELLED: "cancelled",
}
_WS = re.compile(r"[ \t\n\r]*")
_scan_value = json.JSONDecoder().scan_once  # the C scanner: (value, end) of the JSON value at an offset
_scan_string = json.decoder.scanstring


def set_status(
    tasks_path: Path, story_id: str, family: Family | str, *, lock: BaseFileLock,
    status_words: dict[str, Family] | None = None, tag: str | None = None,
) -> str | None:
    """Write `family` as story `story_id`'s status, under `lock`; the word written, or None when nothing changed."""
    family = Family(family)
    with locked(lock):
        bom, text = _read(tasks_path)
        if tasks_path.suffix.lower() in MARKDOWN:
            word, new = _markdown(text, tasks_path, story_id, family, status_words or {})
            if new is not None:
                atomic_write(tasks_path, bom + new.encode("utf-8"))
            return word
        word, edits = _edits(text, tasks_path, story_id, family, status_words or {}, tag)
        if not edits:
            return None
        for start, end, new in sorted(edits, reverse=True):
            text = text[:start] + new + text[end:]
        atomic_write(tasks_path, bom + text.encode("utf-8"))
        return word


def _read(path: Path) -> tuple[bytes, str]:
    """The file's BOM (kept when written back) and its text."""
    try:
        raw = path.read_bytes()
        bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
        return bom, raw[len(bom) :].decode("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", Where(str(path)), hint=_CHANGED) from None
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is no longer UTF-8 text", Where(str(path)), hint=_CHANGED) from None


_CHANGED = "the file changed since `storyc compile`; fix it or compile again (storyc did not write it)"


def _edits(
    text: str, path: Path, story_id: str, family: Family, words: dict[str, Family], tag: str | None,
) -> tuple[str | None, list[tuple[int, int, str]]]:
    """The word to write and the (start, end, new text) replacements that write it: none, one or two."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path.name} is no longer valid JSON: {exc.msg}", Where(str(path), exc.lineno), hint=_CHANGED) from None
    except (ValueError, RecursionError):
        raise InputError(f"{path.name} can no longer be read as JSON", Where(str(path)), hint=_CHANGED) from None
    tasks, prefix, shape = _find_task_list(data, path, tag)
    stories = list(_walk(tasks, prefix))
    found = next(((pointer, task) for id_, pointer, task in stories if id_ == story_id), None)
    if found is None:
        raise InputError(f"story {story_id} is not in {path.name}", Where(str(path), 0), hint=_CHANGED)
    pointer, task = found
    key = next((k for k in ALIASES["status"] if k in task), None)
    passes = task.get("passes")
    current = task.get(key) if key else None
    word, edits = None, []
    # A story already in the family keeps its word; Ralph's prd.json without a status key has only `passes`.
    if not (isinstance(current, str) and family_of(current, words) is family) and not (key is None and isinstance(passes, bool)):
        word = _word(family, data, [t.get(k) for _, _, t in stories for k in ALIASES["status"] if k in t], shape, words, path)
        value = json.dumps(word, ensure_ascii=text.isascii())
        edits.append(_replace(text, pointer + (key,), value) if key else _insert(text, pointer, value))
    if family is Family.DONE and passes is False:  # Ralph's loop reads `passes`, whatever the status says
        edits.append(_replace(text, pointer + ("passes",), "true"))
        word = word or "true"
    return word, edits


def _walk(tasks: list, prefix: Pointer) -> Iterator[tuple[str, Pointer, dict]]:
    """Every task and subtask at any depth, as (id, pointer, task), with the ids compiler/tasks.py gives them."""
    todo: list[tuple[Any, Pointer, str]] = [(t, prefix + (i,), "") for i, t in reversed(list(enumerate(tasks)))]
    while todo:
        task, pointer, parent = todo.pop()
        if not isinstance(task, dict) or task.get("id") is None:
            continue
        id_ = parent + str(task["id"]).strip()
        yield id_, pointer, task
        subtasks = task.get("subtasks")
        if isinstance(subtasks, list):
            todo += [(s, pointer + ("subtasks", i), id_ + ".") for i, s in reversed(list(enumerate(subtasks)))]


def _word(family: Family, data: Any, used: list[Any], shape: str, extra: dict[str, Family], path: Path) -> str:
    """The file's word for `family`: declared, else used elsewhere in the file, else a default in the file's style."""
    declared = data.get("statuses") if isinstance(data, dict) else None
    if isinstance(declared, list):
        word = next((str(w) for w in declared if family_of(str(w), extra) is family), None)
        if word is None:
            raise InputError(
                f"{path.name} declares no status for {family.value}", Where(str(path)),
                hint=f"add a word for {family.value} to its `statuses` list",
            )
        return word
    used_words = [w for w in used if isinstance(w, str) and w.strip()]
    mine = Counter(w for w in used_words if family_of(w, extra) is family)
    if mine:
        return mine.most_common(1)[0][0]
    if shape.startswith("taskmaster"):
        return _TASKMASTER[family]
    return _default_word(family, used_words)


def _default_word(family: Family, used: list[str]) -> str:
    """The canonical word for `family`, cased and separated as the file's other status words are."""
    cased = [w for w in used if w.lower() != w.upper()]
    upper = bool(cased) and all(w == w.upper() for w in cased)
    title = not upper and bool(cased) and all(w[0].isupper() for w in cased)  # Done, In Progress
    seps = Counter(c for w in used for c in "-_ " if c in w.strip())
    sep = seps.most_common(1)[0][0] if seps else (" " if title else "_")
    parts = ["to", "do"] if family is Family.TODO and sep != "_" else family.value.split("_")  # to-do, To Do; todo
    if title:
        parts = [p.capitalize() for p in parts]
    word = sep.join(parts)
    return word.upper() if upper else word


# The scanner: offsets in the text of values found by their JSON path (the text is valid JSON: json.loads read it).


def _members(text: str, i: int) -> list[tuple[str, int, int, int]]:
    """The members of the object at text[i], as (key, key start, value start, value end)."""
    members = []
    i = _WS.match(text, i + 1).end()
    while text[i] != "}":
        key, after = _scan_string(text, i + 1)
        start = _WS.match(text, _WS.match(text, after).end() + 1).end()  # past the colon
        end = _scan_value(text, start)[1]
        members.append((key, i, start, end))
        i = _WS.match(text, end).end()
        if text[i] == ",":
            i = _WS.match(text, i + 1).end()
    return members


def _item(text: str, i: int, n: int) -> int:
    """The start offset of item `n` of the array at text[i]."""
    i = _WS.match(text, i + 1).end()
    for _ in range(n):  # past an item, its comma and the space after
        i = _WS.match(text, _WS.match(text, _scan_value(text, i)[1]).end() + 1).end()
    return i


def _start(text: str, pointer: Pointer) -> int:
    """The offset where the value at `pointer` starts (json.loads keeps the last of duplicate keys: so does this)."""
    i = _WS.match(text, 0).end()
    for step in pointer:
        if text[i] == "{":
            i = [start for key, _, start, _ in _members(text, i) if key == step][-1]
        else:
            i = _item(text, i, step)
    return i


def _replace(text: str, pointer: Pointer, new: str) -> tuple[int, int, str]:
    start = _start(text, pointer)
    return start, _scan_value(text, start)[1], new


def _insert(text: str, pointer: Pointer, value: str) -> tuple[int, int, str]:
    """A new last member `"status": value` of the object at `pointer`, spaced as its other members are."""
    start = _start(text, pointer)
    members = _members(text, start)
    _, key_start, value_start, value_end = members[-1]  # a story has at least its id
    colon = text[_scan_string(text, key_start + 1)[1] : value_start]
    if len(members) > 1:
        sep = text[members[-2][3] : key_start]  # ",\n    " or ", " or ","
    else:
        sep = "," + text[start + 1 : key_start]
    return value_end, value_end, f'{sep}"status"{colon}{value}'


# Markdown: the places read_stories found, rewritten one span at a time (other bytes stay as they are).


def _markdown(text: str, path: Path, story_id: str, family: Family, words: dict[str, Family]) -> tuple[str | None, str | None]:
    """The word written and the new text, or (None, None) when nothing changes."""
    found = read_stories(text, path)
    story = next((s for s in found.stories if s.id == story_id), None)
    if story is None:
        raise InputError(f"story {story_id} is not in {path.name}", Where(str(path), 0), hint=_CHANGED)
    lines = text.split("\n")
    spans = [span for s in found.stories for span in s.spans]
    edits: dict[int, list[tuple[int, int, str]]] = {}
    written = None
    for span in story.spans:
        current = lines[span.line - 1][span.start : span.end]
        if span.kind == "box":
            if family is Family.DONE and current not in "xX":
                ticks = Counter(lines[sp.line - 1][sp.start : sp.end] for sp in spans if sp.kind == "box")
                new = "X" if ticks["X"] > ticks["x"] else "x"
            elif family is Family.TODO and current in "xX":
                new = " "
            else:
                continue  # a box says done or not done; other statuses live in storyc's record
        else:
            word = clean_status(current)
            if word and family_of(word, words) is family:
                continue
            new = _markdown_word(family, [lines[sp.line - 1][sp.start : sp.end] for sp in spans if sp.kind != "box"], words)
        written = written or new
        start, end = span.start, span.end
        if span.kind == "cell":
            start, end, new = _cell_edit(lines, span.line - 1, span.start, span.end, new)
        edits.setdefault(span.line - 1, []).append((start, end, new))
    if not edits:
        return None, None
    for index, changes in edits.items():
        line = lines[index]
        for start, end, new in sorted(changes, reverse=True):
            line = line[:start] + new + line[end:]
        lines[index] = line
    return written, "\n".join(lines)


def _markdown_word(family: Family, used: list[str], words: dict[str, Family]) -> str:
    """The text the file's other Status cells of `family` hold ("✅ **Done**"), else a word in the file's style."""
    mine = Counter(cell for cell in used if (word := clean_status(cell)) and family_of(word, words) is family)
    if mine:
        return mine.most_common(1)[0][0]
    return _default_word(family, [word for cell in used if (word := clean_status(cell))])


_PIPE = re.compile(r"(?<!\\)\|")
_DELIMITER_ROW = re.compile(r"^\s*\|?(?:\s*:?-+:?\s*\|)+\s*(?::?-+:?\s*)?\r?$")


def _cell_edit(lines: list[str], index: int, start: int, end: int, new: str) -> tuple[int, int, str]:
    """The edit that writes `new` into a table cell; in a table whose rows line up, padded to its column's
    width in the delimiter row (`| ------ |`) so that it stays lined up (a longer word widens its row only)."""
    line = lines[index]
    pipes = [m.start() for m in _PIPE.finditer(line)]
    before = [p for p in pipes if p < start]
    stop = next((p for p in pipes if p >= end), len(line.rstrip("\r")))
    opened = before[-1] if before else -1
    width = None
    for j in range(index - 1, -1, -1):
        if "|" not in lines[j]:
            break
        if _DELIMITER_ROW.match(lines[j]):
            marks = [m.start() for m in _PIPE.finditer(lines[j])]
            column = len(before)
            # Only a table whose rows line up (this row's first cell as wide as the delimiter's) is padded.
            if 0 < column < len(marks) and len(marks) == len(pipes) and marks[1] - marks[0] == pipes[1] - pipes[0]:
                width = marks[column] - marks[column - 1] - 1
            break
    if width is not None:
        room = width - (start - opened - 1)
        return start, stop, new.ljust(room - 1) + " " if len(new) + 1 <= room else new + " "
    return start, stop, new + (" " if line[end:stop] else "")
