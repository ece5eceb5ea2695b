"""A story's new status into tasks.json (or the Markdown file that carries the story), in place, in the file's own words.

`storyc compile` recorded where each story's status is written (its StatusPlace) and the file's word for each status
family (StatusWords); this module writes there and reads nothing else of compile time. Only the span of the status
changes: key order, unknown fields, indentation, line ends and escapes elsewhere stay byte for byte. A JSON story with
no status gets one, as a new last member in its siblings' style. In a Markdown file a Status cell or a `**Status:**`
field gets the file's word for the family, a checkbox is ticked or cleared. A story whose file keeps no status of it
is left alone: storyc's record (events, PROGRESS.md) holds its status.

The file may have changed since the compile: statuses written earlier in the run, or a person's edits while it runs.
So the place is first checked to still name the story (its id at the JSON path, on the Markdown line); if not, the
story is found again by its id (the one object of its id in the same list, the one line of the same kind carrying its
id), and when that fails nothing is written: the error says to compile again.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any

from filelock import BaseFileLock

from storyc.errors import InputError, Where
from storyc.files import atomic_write, locked
from storyc.jsonpos import JsonLocator, Pointer
from storyc.mdpos import PIPE, cell_of, cell_text, id_column
from storyc.plan import Family, StatusPlace, StatusWords

_CHANGED = "the file changed since `storyc compile`; fix it or compile again (storyc did not write it)"


def set_status(
    tasks_path: Path, story_id: str, family: Family | str, *, lock: BaseFileLock, place: StatusPlace | None, words: StatusWords,
) -> str | None:
    """Write `family` as story `story_id`'s status at `place`, under `lock`; the word written, or None when nothing changed."""
    family = Family(family)
    if place is None:
        return None
    with locked(lock):
        bom, text = _read(tasks_path)
        if place.spans:
            word, new = _markdown(text, tasks_path, story_id, family, place, words)
        else:
            word, new = _json(text, tasks_path, story_id, family, place, words)
        if new is not None:
            atomic_write(tasks_path, bom + new.encode("utf-8"))
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


def _gone(path: Path, story_id: str) -> InputError:
    return InputError(f"story {story_id} is not in {path.name}", Where(str(path), 0), hint=_CHANGED)


def _word(words: StatusWords, family: Family, path: Path) -> str:
    word = words.write.get(family.value)
    if word is None:
        raise InputError(
            f"{path.name} declares no status for {family.value}", Where(str(path)),
            hint=f"add a word for {family.value} to its `statuses` list",
        )
    return word


# ---------------------------------------------------------------- JSON


def _json(text: str, path: Path, story_id: str, family: Family, place: StatusPlace, words: StatusWords) -> tuple[str | None, str | None]:
    """The word written and the new text, or (None, None) when nothing changes."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path.name} is no longer valid JSON: {exc.msg}", Where(str(path), exc.lineno), hint=_CHANGED) from None
    except (ValueError, RecursionError):
        raise InputError(f"{path.name} can no longer be read as JSON", Where(str(path)), hint=_CHANGED) from None
    found = _find(data, place)
    if found is None:
        raise _gone(path, story_id)
    pointer, task = found
    # Its status key as compiled, or the "status" member an earlier write of this run added.
    key = next((k for k in (place.key, "status") if k and k in task), None)
    current, passes = task.get(key) if key else None, task.get("passes")
    word, edits = None, []
    locator = JsonLocator(text)
    # A story already in the family keeps its word; Ralph's prd.json without a status key has only `passes`.
    if not (isinstance(current, str) and words.read.get(current) == family.value) and not (key is None and isinstance(passes, bool)):
        word = _word(words, family, path)
        value = json.dumps(word, ensure_ascii=text.isascii())
        edits.append((*locator.span(pointer + (key,)), value) if key else _insert(locator, pointer, place.key or "status", value))
    if family is Family.DONE and passes is False:  # Ralph's loop reads `passes`, whatever the status says
        edits.append((*locator.span(pointer + ("passes",)), "true"))
        word = word or "true"
    if not edits:
        return None, None
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return word, text


def _find(data: Any, place: StatusPlace) -> tuple[Pointer, dict] | None:
    """The story's object and its path now: at the recorded path when the ids there are still the story's, else
    in each list the one object with the recorded id; None when a step finds none, or several."""
    node, pointer, ids = data, [], iter(place.ids)
    for step in place.pointer:
        if isinstance(step, str):
            if not isinstance(node, dict) or step not in node:
                return None
        else:
            want = next(ids, None)
            if not isinstance(node, list):
                return None
            if not (step < len(node) and _id(node[step]) == want):
                hits = [k for k, item in enumerate(node) if _id(item) == want]
                if len(hits) != 1:
                    return None
                step = hits[0]
        node = node[step]
        pointer.append(step)
    return (tuple(pointer), node) if isinstance(node, dict) else None


def _id(item: Any) -> str | None:
    return str(item["id"]).strip() if isinstance(item, dict) and item.get("id") is not None else None


def _insert(locator: JsonLocator, pointer: Pointer, key: str, value: str) -> tuple[int, int, str]:
    """A new last member `"key": value` of the object at `pointer`, spaced as its other members are."""
    text = locator.text
    start = locator.span(pointer)[0]
    members = locator.members(start)
    _, key_start, value_start, value_end = members[-1]  # a story has at least its id
    colon = text[json.decoder.scanstring(text, key_start + 1)[1] : value_start]
    if len(members) > 1:
        sep = text[members[-2][3] : key_start]  # ",\n    " or ", " or ","
    else:
        sep = "," + text[start + 1 : key_start]
    return value_end, value_end, f"{sep}{json.dumps(key)}{colon}{value}"


# ---------------------------------------------------------------- Markdown


def _markdown(text: str, path: Path, story_id: str, family: Family, place: StatusPlace, words: StatusWords) -> tuple[str | None, str | None]:
    """The word written and the new text, or (None, None) when nothing changes."""
    lines = text.split("\n")
    edits: dict[int, list[tuple[int, int, str]]] = {}
    written = None
    for kind, line, at, anchor, id_at in place.spans:
        index, start, end = _span(lines, story_id, kind, line - 1, at, anchor - 1, id_at)
        if index is None:
            raise _gone(path, story_id)
        current = lines[index][start:end]
        if kind == "box":
            if family is Family.DONE and current not in "xX":
                new = words.tick
            elif family is Family.TODO and current in "xX":
                new = " "
            else:
                continue  # a box says done or not done; other statuses live in storyc's record
        else:
            if words.read.get(current) == family.value:
                continue
            new = _word(words, family, path)
        written = written or new
        if kind == "cell":
            start, end, new = _cell_edit(lines, index, start, end, new)
        edits.setdefault(index, []).append((start, end, new))
    if not edits:
        return None, None
    for index, changes in edits.items():
        line = lines[index]
        for start, end, new in sorted(changes, reverse=True):
            line = line[:start] + new + line[end:]
        lines[index] = line
    return written, "\n".join(lines)


def _span(lines: list[str], story_id: str, kind: str, index: int, at: int | str, anchor: int, id_at: int) -> tuple[int | None, int, int]:
    """Where a status is now: (line index, start, end); the line index None when the story is no longer found.

    The line that names the story (its row, item or heading) is first looked for where the compile found it, then
    anywhere in the file as the one line of that kind carrying the story's id where it stood; a field's line follows
    its heading, else is the first line of the section that carries the field's label.
    """
    def names(k: int) -> bool:
        line = lines[k]
        if id_at < 0:  # storyc saw no id on the line: the line is trusted only where it was
            if k != anchor:
                return False
        elif (column := id_column(line, story_id)) < 0 or (cell_of(line, column) if kind == "cell" else column) != id_at:
            return False
        if kind == "cell":
            return cell_text(line, at) is not None
        if kind == "box":
            return line[at - 1 : at] == "[" and line[at + 1 : at + 2] == "]" and line[at : at + 1] in (" ", "x", "X")
        return _heading(lines, k)

    if not (0 <= anchor < len(lines) and names(anchor)):
        hits = [k for k in range(len(lines)) if names(k)]
        if len(hits) != 1:
            return None, 0, 0
        index, anchor = index + hits[0] - anchor, hits[0]
    if kind == "cell":
        return (anchor, *cell_text(lines[anchor], at))
    if kind == "box":
        return anchor, at, at + 1
    # A field: on its line under the heading, else the first line of its section that carries its label.
    section = []
    past = anchor + 2 if anchor + 1 < len(lines) and _UNDERLINE.match(lines[anchor + 1]) else anchor + 1  # a setext underline
    for k in range(past, len(lines)):
        if _heading(lines, k):
            break
        section.append(k)
    for k in sorted(section, key=lambda k: k != index):
        if (column := lines[k].find(at)) >= 0:
            start = column + len(at)
            stop = _FIELD_END.search(lines[k], start)
            return k, start, start + len(lines[k][start : stop.start() if stop else len(lines[k])].rstrip())
    return None, 0, 0


def _heading(lines: list[str], k: int) -> bool:
    """Whether line k is a heading: `## Title`, or a line over a setext underline (`====`, `----`)."""
    return k < len(lines) and (lines[k].lstrip().startswith("#") or (k + 1 < len(lines) and bool(_UNDERLINE.match(lines[k + 1])) and bool(lines[k].strip())))


_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*\r?$")
_FIELD_END = re.compile(r"\s\|\s")  # the separator before the next field: `**Status:** Todo | **Owner:** me`
_DELIMITER_ROW = re.compile(r"^\s*\|?(?:\s*:?-+:?\s*\|)+\s*(?::?-+:?\s*)?\r?$")


def _cell_edit(lines: list[str], index: int, start: int, end: int, new: str) -> tuple[int, int, str]:
    """The edit that writes `new` into a table cell; in a table whose rows line up, padded to its column's
    width in the delimiter row (`| ------ |`) so that it stays lined up (a longer word widens its row only)."""
    line = lines[index]
    pipes = [m.start() for m in PIPE.finditer(line)]
    before = [p for p in pipes if p < start]
    stop = next((p for p in pipes if p >= end), len(line.rstrip("\r")))
    opened = before[-1] if before else -1
    width = None
    for j in range(index - 1, -1, -1):
        if "|" not in lines[j]:
            break
        if _DELIMITER_ROW.match(lines[j]):
            marks = [m.start() for m in PIPE.finditer(lines[j])]
            column = len(before)
            # Only a table whose rows line up (this row's first cell as wide as the delimiter's) is padded.
            if 0 < column < len(marks) and len(marks) == len(pipes) and marks[1] - marks[0] == pipes[1] - pipes[0]:
                width = marks[column] - marks[column - 1] - 1
            break
    if width is not None:
        room = width - (start - opened - 1)
        return start, stop, new.ljust(room - 1) + " " if len(new) + 1 <= room else new + " "
    return start, stop, new + (" " if line[end:stop] else "")
