"""tasks.json, in any of the shapes found in the wild, into Stories."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storyc.errors import InputError, Where
from storyc.files import read_text
from storyc.jsonpos import JsonLocator, Pointer
from storyc.mdpos import cell_of, id_column
from storyc.plan import Family, StatusPlace, StatusWords

from .mdstories import Found, MdStory, clean_status, points_size, read_stories
from .model import SIZE_WORDS, Origin, Story, hours_of, size_for_hours
from .statuses import family_of, normalise, read_status, unplaced_error

# Canonical key -> the spellings people use for it, canonical first.
ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "name", "summary"),
    "depends_on": ("depends_on", "dependsOn", "dependencies", "deps", "blocked_by", "blockedBy"),
    "files": ("files", "relevantFiles", "relevant_files", "paths"),
    "acceptance_criteria": ("acceptance_criteria", "acceptanceCriteria", "criteria"),
    "status": ("status", "state"),
}
HOURS_KEYS = ("estimated_hours", "estimatedHours", "estimate", "hours")
LIST_KEYS = ("stories", "tasks", "userStories", "user_stories", "items")
# A \uXXXX escape of a UTF-16 surrogate: a high-low pair, a lone half, or `\\` (an escaped backslash, skipped).
_SURROGATE_START = re.compile(r"\\u[dD][89a-fA-F]")  # one quick search, faster than two `in`
_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})|\\\\")
MARKDOWN = (".md", ".markdown", ".mdown", ".mkd")


@dataclass
class TaskFile:
    """A loaded tasks.json: its stories and how to point back into it."""

    path: Path
    text: str
    shape: str
    project: str
    stories: list[Story]
    statuses: list[str] | None = None
    status_words: dict[str, Family] = field(default_factory=dict)
    lines: dict[tuple, int] | None = None  # Markdown: (story index, field) -> line; None for JSON
    inferred: dict[str, tuple[Family, str]] = field(default_factory=dict)  # word -> (family, the part that placed it)
    _families: dict[str, Family] = field(default_factory=dict)
    _written: list[Any] = field(default_factory=list)  # every status as written: a JSON value, a Markdown cell's or field's text
    _ticks: Counter = field(default_factory=Counter)  # Markdown: how often each box mark ticks a box
    # Story id -> where its status is written: in JSON (pointer, ids, status key), made a StatusPlace only for the
    # stories planned (made while reading, 20,000 of them cost reading the file a quarter more); in Markdown its StatusPlace.
    _places: dict[str, tuple | StatusPlace] = field(default_factory=dict)

    @cached_property
    def locator(self) -> JsonLocator:
        return JsonLocator(self.text)

    def where(self, pointer: Pointer) -> Where:
        if self.lines is not None:
            return Where(str(self.path), self.lines.get(tuple(pointer[:2])) or self.lines.get(tuple(pointer[:1]), 0))
        return Where(str(self.path), self.locator.line_of(pointer))

    def where_story(self, story: Story, *rest: str | int) -> Where:
        return self.where(story._origin.pointer + rest)

    def place(self, story_id: str) -> StatusPlace | None:
        """Where the story's status is written, for the run to write it back (None: the file keeps none)."""
        place = self._places.get(story_id)
        if isinstance(place, tuple):
            pointer, ids, key = place
            return StatusPlace(pointer=list(pointer), ids=list(ids), key=key)
        return place

    def family(self, story: Story) -> Family:
        return self._families[story.id]

    def read_status(self, word: str) -> Family | None:
        """The family of a status word; a word its parts placed is remembered, to be said once."""
        family, part = read_status(word, self.status_words)
        if part:
            self.inferred.setdefault(word, (family, part))
        return family


def load_tasks(path: Path, *, tag: str | None = None, status_words: dict[str, Family] | None = None) -> TaskFile:
    """Read tasks.json at `path` (or a Markdown file that carries stories); raise InputError pointing at the first fault."""
    try:
        path.stat()
    except FileNotFoundError:
        raise InputError(
            f"{path} does not exist", Where(str(path)),
            hint="`storyc init` writes a starter tasks.json (and storyc.toml); or give the path with --tasks or [paths] tasks in storyc.toml",
        ) from None
    except (OSError, ValueError):
        pass  # read_text says what is wrong with the path
    if path.suffix.lower() in MARKDOWN:
        if tag:
            raise InputError(f"{path.name} has no tags, so --tag {tag} does not apply", Where(str(path), 1), hint="drop --tag; it picks a tag of a Task Master tagged file")
        return load_markdown_tasks(path, read_text(path), status_words)
    text = read_text(path)
    if not text.strip():
        raise InputError(
            f"{path.name} is empty", Where(str(path)),
            hint='write {"stories": []} for no stories yet, or run `storyc init` in an empty folder to see an example',
        )
    try:
        data = json.loads(text, parse_constant=_not_a_number, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise _json_error(exc, text, path) from None
    except _NotANumber as exc:
        m = re.search(rf"(?<![\w\"]){re.escape(exc.token)}(?![\w\"])", text)
        raise InputError(
            f"{path.name} holds {exc.token}, which is not a JSON number",
            Where(str(path), text.count("\n", 0, m.start()) + 1 if m else 1),
            hint="write a finite number, or null",
        ) from None
    except RecursionError:
        raise InputError(
            f"{path.name} is nested too deeply to read", Where(str(path), _deep_line(text)),
            hint="storyc reads JSON nested up to a few hundred levels; flatten the value at that line",
        ) from None
    except ValueError:  # Python reads no integer of more than 4300 digits
        line = text.count("\n", 0, m.start()) + 1 if (m := re.search(r"\d{4301}", text)) else 1
        raise InputError(f"{path.name} has a number of more than 4300 digits", Where(str(path), line), hint="no task needs such a number; write it as a string") from None
    if _SURROGATE_START.search(text):  # rare: only then look for half a surrogate pair
        _check_surrogates(text, path)
    raw_tasks, prefix, shape = _find_task_list(data, path, tag)
    tf = TaskFile(path=path, text=text, shape=shape, project="", stories=[], status_words=status_words or {})
    tf.project = _project_name(data)
    statuses = data.get("statuses") if isinstance(data, dict) else None
    if isinstance(statuses, list):
        tf.statuses = [str(s) for s in statuses]
    elif statuses is not None:
        raise InputError(
            f"`statuses` must be a list of status words, not {type(statuses).__name__}", tf.where(("statuses",)),
            hint='for example "statuses": ["todo", "in_progress", "done"]; or leave it out',
        )
    tf.stories = _stories(raw_tasks, prefix, tf)
    _check_statuses(tf)
    return tf


class _NotANumber(Exception):
    """NaN, Infinity, or a number too large for a float: Python reads them, JSON has none, plan.json could not hold them."""

    def __init__(self, token: str):
        super().__init__(token)
        self.token = token


def _not_a_number(token: str) -> float:
    raise _NotANumber(token)


def _finite(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise _NotANumber(token)
    return value


def _json_error(exc: json.JSONDecodeError, text: str, path: Path) -> InputError:
    """Python reports a trailing comma at the bracket after it; point at the comma."""
    before = text[: exc.pos].rstrip()
    if before.endswith(",") and text[exc.pos : exc.pos + 1] in ("}", "]"):
        line = text.count("\n", 0, len(before) - 1) + 1
        return InputError(
            f"{path.name} is not valid JSON: trailing comma before `{text[exc.pos]}`",
            Where(str(path), line),
            hint="remove the comma at the end of that line: JSON allows no comma after the last item",
        )
    return InputError(f"{path.name} is not valid JSON: {exc.msg}", Where(str(path), exc.lineno), hint=_json_hint(exc.msg))


def _deep_line(text: str, limit: int = 500) -> int:
    """The line where brackets first nest `limit` deep (strings skipped): where the deep value starts to go wrong."""
    depth = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth == limit:
                return text.count("\n", 0, m.start()) + 1
        elif c in "]}":
            depth -= 1
    return 1


def _check_surrogates(text: str, path: Path) -> None:
    """json.loads reads `\\ud800` alone as a character no UTF-8 can encode: the write of the plan would fail."""
    for m in _SURROGATE.finditer(text):
        if m.group(1):
            raise InputError(
                f"{path.name} has the escape `{m.group(1)}`, half of a UTF-16 surrogate pair, with no other half",
                Where(str(path), text.count("\n", 0, m.start()) + 1),
                hint="write the character itself, or both halves of the pair (an emoji is two escapes, such as \\ud83d\\ude00)",
            )


def _json_hint(msg: str) -> str:
    if "trailing comma" in msg:
        return "remove the comma before the closing bracket"
    if "Expecting property name" in msg:
        return "keys need double quotes, and a trailing comma before `}` is not allowed"
    if "Extra data" in msg:
        return "a JSON file holds one value: wrap several objects in a list"
    return "check the JSON syntax at that line (a missing comma, quote or bracket)"


def _find_task_list(data: Any, path: Path, tag: str | None) -> tuple[list, Pointer, str]:
    """The list of tasks inside any known shape, with its JSON path."""
    if isinstance(data, list):
        if tag:
            raise InputError(f"{path.name} has no tags, so --tag {tag} does not apply", Where(str(path), 1), hint="drop --tag; it picks a tag of a Task Master tagged file")
        return data, (), "array"
    if not isinstance(data, dict):
        raise InputError(f"{path.name} holds no task list", Where(str(path), 1), hint=_NO_LIST_HINT)
    for key in LIST_KEYS:
        if isinstance(data.get(key), list):
            if tag:
                raise InputError(f"{path.name} has no tags, so --tag {tag} does not apply", Where(str(path), 1), hint="drop --tag; it picks a tag of a Task Master tagged file")
            return data[key], (key,), "ralph" if key == "userStories" else ("native" if key == "stories" else "tasks")
    tags = sorted(k for k, v in data.items() if isinstance(v, dict) and isinstance(v.get("tasks"), list))
    if tags:
        chosen = tag or ("master" if "master" in tags else tags[0] if len(tags) == 1 else None)
        if chosen not in tags:
            raise InputError(
                f"{path.name} is a tagged Task Master file; tag {chosen!r} is not in it" if chosen
                else f"{path.name} is a tagged Task Master file with several tags and no `master`",
                Where(str(path), 1),
                hint=f"choose one with --tag: {', '.join(tags)}",
            )
        return data[chosen]["tasks"], (chosen, "tasks"), f"taskmaster:{chosen}"
    raise InputError(f"{path.name} holds no task list", Where(str(path), 1), hint=_NO_LIST_HINT)


_NO_LIST_HINT = 'expected a list of tasks: {"stories": [...]}, {"tasks": [...]}, Task Master\'s {"master": {"tasks": [...]}} or a bare [...]'


def _project_name(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    for key in ("project", "projectName", "name"):
        if isinstance(data.get(key), str):
            return data[key]
    for value in data.values():  # {"project_info": {"name": ...}}, {"metadata": {"projectName": ...}}
        if isinstance(value, dict):
            for key in ("projectName", "project", "name"):
                if isinstance(value.get(key), str):
                    return value[key]
    return ""


def _stories(raw_tasks: list, prefix: Pointer, tf: TaskFile) -> list[Story]:
    """Tasks, each followed by its subtasks, theirs, and so on (a loop, not recursion: any depth reads)."""
    stories: list[Story] = []
    top: set[str] = set()  # no siblings: read only for subtasks
    todo: list[tuple[Any, Pointer, Story | None, set[str]]] = [(raw, prefix + (i,), None, top) for i, raw in enumerate(raw_tasks)]
    todo.reverse()
    while todo:
        raw, pointer, parent, siblings = todo.pop()
        story = _story(raw, pointer, tf, parent, siblings)
        stories.append(story)
        if parent is not None:
            parent._origin.children.append(story.id)
        subtasks = raw.get("subtasks")
        if subtasks is None:
            continue
        if not isinstance(subtasks, list):
            raise InputError(
                f"task {story.id}: `subtasks` must be a list of tasks, not {type(subtasks).__name__}",
                tf.where(pointer + ("subtasks",)), hint='write "subtasks": [{"id": 1, "title": ...}, ...]',
            )
        ids = {f"{story.id}.{str(s.get('id')).strip()}" for s in subtasks if isinstance(s, dict)}
        todo += [(sub, pointer + ("subtasks", i), story, ids) for i, sub in reversed(list(enumerate(subtasks)))]
    return stories


def _story(raw: Any, pointer: Pointer, tf: TaskFile, parent: Story | None = None, siblings: set[str] = frozenset()) -> Story:
    """One task; a subtask gets the id `parent.sub`, and `siblings` holds the full ids of its level."""
    where = tf.where
    if not isinstance(raw, dict):
        raise InputError(f"a task must be a JSON object, not {type(raw).__name__}", where(pointer), hint="each entry of the task list is {\"id\": ..., \"title\": ...}")
    raw_id = raw.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise InputError("a task has no `id`", where(pointer), hint='give every task a unique "id", such as "US-001" or 7')
    data: dict[str, Any] = {}
    renamed: set[str] = set()
    for canonical, spellings in ALIASES.items():
        for key in spellings:
            if key in raw:
                data[canonical] = raw[key]
                renamed.add(key)
                break
    for key, value in raw.items():
        if key not in renamed and key not in ("subtasks",):
            data.setdefault(key, value)
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise InputError(
            f"task id {raw_id!r} is neither a string nor an integer", where(pointer + ("id",)),
            hint='use a string such as "US-001" or a whole number such as 7',
        )
    data["id"] = str(raw_id).strip()
    if parent is not None:
        data["id"] = f"{parent.id}.{data['id']}"
    if "status" not in data and isinstance(raw.get("passes"), bool):  # Ralph's prd.json
        data["status"] = "done" if raw["passes"] else "todo"
    data["depends_on"] = _dependencies(data.get("depends_on"), pointer, tf, parent, siblings)
    data["files"] = _files(data.get("files"), pointer, tf)
    criteria = data.get("acceptance_criteria")
    if isinstance(criteria, str):
        data["acceptance_criteria"] = [criteria]
    for key in ("title", "description", "acceptance_criteria"):
        if key in data and data[key] is None:
            del data[key]
    if isinstance(data.get("status"), str):
        data["status"] = data["status"].strip()
    size, source, hours = _size(data, raw, pointer, tf)
    data["size"] = size
    priority = data.get("priority")
    if isinstance(priority, float):  # 2.0 is 2; 1.5, NaN and infinities are no priority
        if not priority.is_integer():
            raise InputError(
                f"task {data['id']}: invalid `priority` {priority!r}: not a whole number", where(pointer + ("priority",)),
                hint='a priority is a whole number such as 1, or a word such as "high"',
            )
        data["priority"] = int(priority)
    try:
        story = Story.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = loc[0] if loc else ""
        original = next((k for k in ALIASES.get(str(key), (key,)) if k in raw), key)
        raise InputError(
            f"task {data['id']}: invalid `{original}`: {err['msg']}",
            where(pointer + (original,) + loc[1:]),
            hint=_FIELD_HINTS.get(str(key), "see `storyc schema` for the shape of a task"),
        ) from None
    story._origin = Origin(pointer, source, hours, [], any(key in raw for key in ALIASES["depends_on"]) or parent is not None)
    key = next((key for key in ALIASES["status"] if key in raw), None)
    if key is not None:
        tf._written.append(raw[key])
    tf._places[story.id] = (pointer, (*tf._places[parent.id][1], str(raw_id).strip()) if parent is not None else (data["id"],), key)
    return story


_FIELD_HINTS = {
    "depends_on": "dependencies are a list of task ids",
    "files": 'files are a list of paths (or {"path": ...} objects); globs are allowed',
    "acceptance_criteria": "acceptance criteria are a list of strings",
    "status": "a status is a word such as todo, in_progress, done",
    "gates": "gates are a list of names among typecheck, lint, test, integration, e2e",
}


def _dependencies(value: Any, pointer: Pointer, tf: TaskFile, parent: Story | None, siblings: set[str]) -> list[str]:
    if value is None:
        value = []
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise InputError(
            "dependencies must be a list of task ids", tf.where(pointer + (key_in(tf, pointer, "depends_on"),)),
            hint=_FIELD_HINTS["depends_on"] + ', e.g. ["US-001", "US-002"]',
        )
    deps = []
    for i, dep in enumerate(value):
        if isinstance(dep, bool) or not isinstance(dep, (str, int)):
            raise InputError(
                f"dependency {dep!r} is not a task id",
                tf.where(pointer + (key_in(tf, pointer, "depends_on"), i)),
                hint="dependencies are a list of task ids",
            )
        dep = str(dep).strip()
        if parent is not None:
            # Task Master: a bare number in a subtask names a sibling subtask.
            if "." not in dep and f"{parent.id}.{dep}" in siblings:
                dep = f"{parent.id}.{dep}"
            # A subtask is part of its parent: it cannot wait for it (the parent waits for it).
            if dep == parent.id:
                continue
        deps.append(dep)
    if parent is not None:
        # Inherited, but not the parent's dependencies on its own subtasks: they only say that it waits for them.
        deps += [d for d in parent.depends_on if d not in siblings]
    return list(dict.fromkeys(deps))


def _files(value: Any, pointer: Pointer, tf: TaskFile) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise InputError("files must be a list of paths", tf.where(pointer + (key_in(tf, pointer, "files"),)), hint=_FIELD_HINTS["files"])
    out = []
    for i, item in enumerate(value):
        path = item.get("path") if isinstance(item, dict) else item
        if not isinstance(path, str) or not path.strip():
            raise InputError(f"file entry {item!r} has no path", tf.where(pointer + (key_in(tf, pointer, "files"), i)), hint=_FIELD_HINTS["files"])
        out.append(_normalise_path(path))
    return list(dict.fromkeys(out))


def _normalise_path(path: str) -> str:
    path = path.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return re.sub(r"/{2,}", "/", path)


def _size(data: dict, raw: dict, pointer: Pointer, tf: TaskFile) -> tuple[str, str, float | None]:
    """The story's size and where it came from: size, estimate, complexity or default."""
    value = data.get("size")
    if value is not None:
        size = SIZE_WORDS.get(normalise(str(value))) if isinstance(value, str) else None
        if size is None:
            raise InputError(
                f"task {data['id']}: invalid size {value!r}",
                tf.where(pointer + ("size",)),
                hint="a size is one of XS, S, M, L, XL (or leave it out and give estimated_hours)",
            )
        return size, "size", None
    for key in HOURS_KEYS:
        if key in raw and raw[key] is not None:
            hours = hours_of(raw[key])
            if hours is None:
                raise InputError(
                    f"task {data['id']}: cannot read {key} {raw[key]!r} as a duration",
                    tf.where(pointer + (key,)),
                    hint='use a number of hours, or a string such as "3h", "1.5d"',
                )
            return size_for_hours(hours), key, hours
    complexity = raw.get("complexity")
    if isinstance(complexity, (int, float)) and not isinstance(complexity, bool) and 1 <= complexity <= 10:
        return ("XS", "XS", "S", "S", "M", "M", "L", "L", "XL", "XL")[int(complexity) - 1], "complexity", None
    return "M", "default", None




def key_in(tf: TaskFile, pointer: Pointer, canonical: str) -> str:
    """The spelling of a canonical key that the task at `pointer` really uses."""
    if tf.lines is not None:
        return canonical
    node: Any = json.loads(tf.text)
    for step in pointer:
        node = node[step]
    return next((k for k in ALIASES[canonical] if k in node), canonical)


def _check_statuses(tf: TaskFile) -> None:
    """Every story's family; every word no family holds is reported at once."""
    declared = None
    unknown: list[tuple[str, Where, str]] = []
    if tf.statuses is not None:
        declared = {normalise(word): word for word in tf.statuses}
        for i, word in enumerate(tf.statuses):
            if tf.read_status(word) is None:
                unknown.append((word, tf.where(("statuses", i)), f"declared status {word!r} belongs to no status family"))
    for story in tf.stories:
        family = tf.read_status(story.status)
        if declared is not None and normalise(story.status) not in declared and "passes" not in (story.model_extra or {}):
            raise InputError(
                f"task {story.id}: status {story.status!r} is not one of the statuses this file declares",
                tf.where_story(story, _status_key(tf, story)),
                hint="use one of: " + ", ".join(tf.statuses or []),
            )
        if family is None:
            unknown.append((story.status, tf.where_story(story, _status_key(tf, story)), f"task {story.id}: invalid status {story.status!r}"))
        else:
            tf._families[story.id] = family
    if unknown:
        raise unplaced_error(unknown)


# Task Master's own words, which its CLI accepts.
_TASKMASTER = {
    Family.TODO: "pending", Family.IN_PROGRESS: "in-progress", Family.DONE: "done",
    Family.BLOCKED: "blocked", Family.DEFERRED: "deferred", Family.CANCELLED: "cancelled",
}


def file_words(tf: TaskFile) -> StatusWords:
    """The file's own word for each status family, to write statuses back in: its declared `statuses`, else the
    word of that family it uses most, else Task Master's in a Task Master file, else a default in the file's style.
    In Markdown a word is a Status cell's or field's whole text ("✅ **Done**"), read by the word in it."""
    extra = tf.status_words
    markdown = tf.lines is not None
    used = Counter(w for w in tf._written if isinstance(w, str) and w.strip())  # each word read once: a file holds few
    cleaned = {w: clean_status(w) if markdown else w for w in used}
    read = {w: family.value for w, word in cleaned.items() if word and (family := family_of(word, extra))}
    write: dict[str, str] = {}
    if tf.statuses is not None:
        for word in tf.statuses:
            if (family := family_of(word, extra)) is not None:
                read.setdefault(word, family.value)
                write.setdefault(family.value, word)
    else:
        style = [word for w, n in used.items() if (word := cleaned[w]) for _ in range(n)]
        for family in Family:
            mine = Counter({w: n for w, n in used.items() if read.get(w) == family.value})
            if mine:
                write[family.value] = mine.most_common(1)[0][0]
            elif tf.shape.startswith("taskmaster"):
                write[family.value] = _TASKMASTER[family]
            else:
                write[family.value] = _default_word(family, style)
    for family, word in write.items():
        read.setdefault(word, family)
    return StatusWords(write=write, read=read, tick="X" if tf._ticks["X"] > tf._ticks["x"] else "x")


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


def _status_key(tf: TaskFile, story: Story) -> str:
    return key_in(tf, story._origin.pointer, "status")


# ---------------------------------------------------------------- Markdown


def load_markdown_tasks(path: Path, text: str, status_words: dict[str, Family] | None = None, *, found: Found | None = None) -> TaskFile:
    """The stories a Markdown file carries (a sprint file's tables and sections, spec-kit's tasks.md), as a TaskFile.

    A file that carries none is refused with what storyc looked for (see `no_stories`).
    """
    found = found or read_stories(text, path)
    if found.problems:
        line, message, hint = found.problems[0]
        raise InputError(message, Where(str(path), line), hint=hint)
    if not found.stories:
        raise no_stories(path, found)
    tf = TaskFile(path=path, text=text, shape="speckit" if found.phases else "sprint", project="", stories=[], status_words=status_words or {}, lines={})
    lines = text.split("\n")
    for index, md in enumerate(found.stories):
        tf.stories.append(_md_story(md, index, tf))
        if place := _md_place(md, lines, tf):
            tf._places[md.id] = place
    _check_statuses(tf)
    return tf


def _md_story(md: MdStory, index: int, tf: TaskFile) -> Story:
    tf.lines[(index,)] = md.line
    for name, line in md.lines.items():
        tf.lines[(index, {"criteria": "acceptance_criteria"}.get(name, name))] = line
    size, source, hours = md.size, "size", None
    if size is None and md.hours is not None and (hours := hours_of(md.hours)) is not None:
        size, source = size_for_hours(hours), "estimate"
    elif size is None and md.points is not None:
        size, source = points_size(md.points), "points"
    elif size is None:
        size, source = "M", "default"
    data = {
        "id": md.id,
        "title": md.title,
        "description": "\n".join(md.description),
        "size": size,
        "depends_on": [d for d in md.depends_on if d != md.id],
        "files": [_normalise_path(f) for f in md.files],
        "acceptance_criteria": md.criteria,
        "status": md.status or "todo",
        "priority": md.priority,
        "epic": md.epic,
    }
    if md.points is not None:
        data["points"] = int(md.points) if md.points.is_integer() else md.points
    if md.phase is not None:
        data["phase"] = md.phase
    story = Story.model_validate(data)
    story._origin = Origin((index,), source, hours, [])
    return story


def _md_place(md: MdStory, lines: list[str], tf: TaskFile) -> StatusPlace | None:
    """Where a Markdown story's status is written, each place with the line that names the story (see StatusPlace)."""
    spans = []
    for span in md.spans:
        raw = lines[span.line - 1]
        if span.kind == "box":
            at: int | str = span.start
            tf._ticks[raw[span.start]] += 1
        else:
            tf._written.append(raw[span.start : span.end])
            if span.kind == "cell":
                at = cell_of(raw, span.start)
            else:  # a field's label: the text before its value, from the field separator (` | `) before it
                before = raw[: span.start]
                at = before[seps[-1].end() :] if (seps := list(re.finditer(r"\s\|\s", before))) else before
        anchor = lines[span.anchor - 1]
        column = id_column(anchor, md.id)
        spans.append([span.kind, span.line, at, span.anchor, cell_of(anchor, column) if span.kind == "cell" and column >= 0 else column])
    return StatusPlace(spans=spans) if spans else None


def no_stories(path: Path, found: Found, message: str = "") -> InputError:
    """A file with no story in it: say what storyc looked for, and what it found instead."""
    seen = []
    if found.checklist_items:
        seen.append(f"{found.checklist_items} checklist item(s) without an id (first on line {found.first_item_line})")
    if found.tables:
        seen.append(f"{found.tables} table(s) without an id column")
    if found.headings:
        seen.append(f"{found.headings} heading(s) that start with no id")
    return InputError(
        message or f"{path.name} carries no stories",
        Where(str(path), found.first_item_line or 1),
        extra=("it has " + "; ".join(seen)) if seen else "",
        hint="storyc reads stories from a table with an id column (| ID | Title | Status |), headings that start with an id"
        " (### US-001: Title) under a stories or tasks heading, or checklist items that start with an id (- [ ] T001 Create the app);"
        " give each story an id, e.g. `- [ ] US-001 Create the project`, or keep the stories in docs/tasks/tasks.json",
    )


def fill_gaps(tf: TaskFile, sprint_path: Path) -> list[str]:
    """What a sprint's story tables and sections say that tasks.json leaves out, filled in; one line saying so.

    tasks.json is authoritative for what it holds: only an empty title, description, criteria or files,
    a size storyc would default, or dependencies it does not list at all are taken from the sprint. A story
    only the sprint knows is not added: the sprint naming it stays an error (a typo is likelier than a gap).
    """
    def open_gap(story: Story) -> bool:
        return not (story.title and story.description and story.acceptance_criteria and story.files) or story._origin.size_source == "default" or not story._origin.deps_given

    if not any(open_gap(story) for story in tf.stories):  # nothing to fill: the sprint's stories need not be read
        return []
    found = read_stories(read_text(sprint_path), sprint_path)
    by_id = {md.id: md for md in found.stories}
    filled: list[str] = []
    for story in tf.stories:
        md = by_id.get(story.id)
        if md is None:
            continue
        took = []
        for name, value in (("title", md.title), ("description", "\n".join(md.description)), ("acceptance_criteria", md.criteria), ("files", [_normalise_path(f) for f in md.files])):
            if value and not getattr(story, name):
                setattr(story, name, value)
                took.append(name.replace("_", " "))
        deps = [d for d in md.depends_on if d != story.id]
        if deps and not story._origin.deps_given:
            story.depends_on = deps
            took.append("dependencies")
        if story._origin.size_source == "default" and (md.size or md.points is not None or md.hours):
            hours = hours_of(md.hours) if md.hours else None
            story.size = md.size or (size_for_hours(hours) if hours is not None else points_size(md.points or 0))
            story._origin.size_source, story._origin.hours = ("size" if md.size else "estimate" if hours is not None else "points"), hours
            took.append("size")
        if took:
            filled.append(f"{story.id} ({', '.join(took)})")
    if not filled:
        return []
    shown = "; ".join(filled[:5]) + (f"; and {len(filled) - 5} more" if len(filled) > 5 else "")
    return [f"gaps: {sprint_path.name} filled what {tf.path.name} leaves out for {len(filled)} stor{'y' if len(filled) == 1 else 'ies'}: {shown}"]


