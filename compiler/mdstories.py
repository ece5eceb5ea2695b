"""A Markdown file's stories: story tables, per-story sections and checklists (spec-kit's tasks.md among them).

What storyc reads, and nothing it guesses:
- a table with an id column (by its header, "ID", "Story ID", "Key", ..., or a first
  column of ids such as US-1): one story a row; other columns by their header words in
  several languages (title, status, size, points, estimate, dependencies, criteria,
  description, priority, epic, files), a status column also by its content;
- a heading that starts with an id (`### US-57：Title`, `## Story 1.2: ...`,
  `### Task 1.1: ...`) at the top level or under a stories/tasks heading: its section holds
  `**Key:** value` fields, labelled lists (acceptance criteria, dependencies, files),
  `AC1`-style tables, `Depends on:` / `after US-2` lines, and text (the description);
- a checklist item that starts with an id (`- [ ] T001 [P] [US1] ... in src/x.py`): a
  story whose box is its status; under `## Phase N` headings a phase waits for the one
  before, `[P]` items run in parallel and the others in order (spec-kit).
A story named in several places is one story: the first value of each field wins.
Every place a story's status is written is kept, so that it can be written back there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it.token import Token

from storyc.mdpos import PIPE, cell_text

from .model import SIZE_WORDS, hours_of
from .sprint import (
    _PARENTHESISED,
    EXCLUDED_HEADING,
    GROUP_HEADING,
    INTEGRATION_HEADING,
    _front_matter,
    _plain,
    _table,
    block_tokens,
)
from .statuses import family_of, normalise

# ---------------------------------------------------------------- the vocabulary

# An id that surely is one: letters and digits ("US-57", "T023a", "S1-API-001", "STORY-01.1").
_ID_CORE = r"[^\W_](?:[\w.:\-]*[^\W_])?"
SURE_ID = re.compile(r"(?=[\w.:\-]*\d)(?=[\w.:\-]*[^\W\d_])" + _ID_CORE)
# A word that says an id follows: "Story 1.2", "Task 1.1", "US 7".
_ID_WORD = re.compile(r"^(?:user\s+story|story|task|issue|ticket|item|us|pbi)(?:\s+#?|\s*#)\s*(?=\d)", re.I)
# Words with letters and digits that are no story ids: versions (v1.2.3, 3.0.0b2), dotted names (net.isIPv4),
# hex (0x1F), a number with a word (3-Clause).
_NOT_AN_ID = re.compile(r"^v\d+\.\d|^\d+(?:\.\d+)*[^\W\d_]|^\d[\w-]*-[^\W\d_]|[^\W\d_]\.[^\W\d_]|^0x", re.I)
_ENUMERATION = re.compile(r"^\d+[.)]\s+(?=\S)")  # "1. ARIA-28 — ..." is numbered, the id follows
_SEPARATOR = re.compile(r"^\s*(?:[:：]|[-–—|]\s)\s*")
_CHECKBOX = re.compile(r"^(\s*(?:>\s*)*(?:[-*+]|\d+[.)])\s+\[)([ xX])\]")
NO_VALUE = re.compile(r"^(?:none|n/?a|nothing|nil|tbd|-+|—|–|\.|无|なし|없음|aucune?|ninguna?|keine)\.?$", re.I)

# Column headers and field names, by role; the first role that matches a header wins.
ROLES: list[tuple[str, re.Pattern]] = [
    ("depends_on", re.compile(r"\bdepend|^deps$|blocked[\s_-]*by|^after$|requires?|prerequisite|predecessor|依赖|前置|依存|의존|dépend|dependencia|abhängig", re.I)),
    ("criteria", re.compile(r"acceptance|criteria|^ac$|done[\s_-]*when|验收|受け入れ|인수|critère|criterio|akzeptanz", re.I)),
    ("status", re.compile(r"status|^state$|状态|狀態|状況|ステータス|상태|estado|statut|^stato$|zustand", re.I)),
    ("size", re.compile(r"^size$|t-?shirt|规模|大小|サイズ|크기|taille|tamaño|größe", re.I)),
    ("points", re.compile(r"points?$|^pts$|^sp$|点数|故事点|ポイント|포인트|puntos", re.I)),
    ("hours", re.compile(r"hours?|estimat|effort|工时|估算|見積|공수|heures|horas|aufwand|stunden", re.I)),
    ("description", re.compile(r"description|details?$|描述|説明|설명|beschreibung", re.I)),
    ("priority", re.compile(r"priority|优先|優先|우선|priorité|prioridad|priorität|moscow", re.I)),
    ("epic", re.compile(r"^epic|史诗|エピック", re.I)),
    ("files", re.compile(r"files?\b|^paths?$|文件|ファイル|파일|fichiers?|archivos?|dateien", re.I)),
    ("title", re.compile(r"title|name|summary|story|task|^item|feature|标题|名称|故事|任务|タイトル|제목|titre|título|titel|^nom$", re.I)),
]
ID_HEADER = re.compile(
    r"^(?:(?:user\s*)?story|task|issue|ticket|item|pbi|us|work\s*item)?\s*(?:id|key|#|no\.?|number|ref)$"
    r"|^(?:id|key|ticket|story|task|issue|us|#|编号|序号|番号|번호)$",
    re.I,
)
# A header that surely is over ids ("ID", "Story ID", "Key"): any word in it is one ("1.1", "auth"); under
# "Story" or "Task" a cell may as well be a title ("Log in with e-mail"), so only a sure id counts there.
_SURE_ID_HEADER = re.compile(r"\b(?:id|key|ref|no\.?|number)$|^#$|编号|番号|번호", re.I)
_ROW_NUMBER = re.compile(r"^(?:#|no\.?|number|序号|番号|번호)$", re.I)  # a header over row numbers, not ids
CRITERIA_ID = re.compile(r"^(?:AC|SC)[-\s]?\d+", re.I)
_GHERKIN = re.compile(r"^(?:given|when|then|and|but)\b", re.I)
_DEPENDS_LINE = re.compile(r"^(?:depends\s+(?:up)?on|dependencies|blocked\s+by|requires|after)\b\s*:?\s*", re.I)
_INLINE_DEPENDS = re.compile(r"\((?:depends\s+(?:up)?on|after|requires|blocked\s+by)\s*:?\s*([^()]*)\)", re.I)
DEFINITIONS_PARENT = re.compile(
    r"\b(?:stories|story|backlog|scope|committed|tasks?|work\s*items?|requirements|features?)\b"
    r"|用户故事|故事|任务|待办|ストーリー|タスク|스토리|작업|histoires|tâches|historias|tareas",
    re.I,
)
PHASE_HEADING = re.compile(r"^phase\s*(\d+)", re.I)
_MARKER = re.compile(r"\[(P|US\d+|[A-Z]+-US\d+)\]\s*")
_STORY_LABEL = re.compile(r"^(?:[A-Z]+-)?US\d+$")
# A file path in a description: a/b/c.ext, x.ext with a known extension, or a folder `dir/`.
_EXT = (
    r"py|pyi|ts|tsx|js|jsx|mjs|cjs|rs|go|java|kt|kts|scala|rb|php|cs|fs|swift|m|mm|c|h|cc|cpp|hpp|"
    r"vue|svelte|astro|html|css|scss|sass|less|md|mdx|rst|txt|toml|json|jsonc|yaml|yml|xml|ini|cfg|conf|env|"
    r"sql|prisma|graphql|gql|proto|sh|bash|zsh|ps1|bat|dockerfile|lock|gradle|tf|hcl|ipynb|csv|qml|lua|dart|ex|exs|erl|hs|ml|zig|nim"
)
_PATH = re.compile(
    rf"(?<![\w/@.:\-])((?:\.{{0,2}}/)?(?:[\w.\-\[\]@+*]+/)+(?:[\w.\-\[\]@+*?]*\.(?:{_EXT})\b|(?=[\s`'\",;)]|$))|[\w.\-]+\.(?:{_EXT})\b)(?![\w/\-])",
    re.I,
)
_URL = re.compile(r"<?\b[A-Za-z][A-Za-z0-9+.-]*://\S*")
_RANGE = re.compile(r"^([A-Za-z]*)(\d+)[-–]([A-Za-z]*)(\d+)$")
_CHECKLIST_HEADING = re.compile(r"definition\s+of\s+done|\bdod\b|exit\s+criteria|checklist|success\s+criteria", re.I)
# "Title (Priority: High, Stream: API Core)": fields at the end of a heading.
_TRAILING_FIELDS = re.compile(r"\s*\(((?:[^():,]{1,30}:\s*[^(),]+,?\s*)+)\)\s*$")
_STATUS_NOISE = re.compile(r"^[\W_]+|[\W_]+$")


def points_size(points: float) -> str:
    """Story points into a size: 1 XS, 2-3 S, 5 M, 8 L, 13 and more XL (the Fibonacci scale teams use)."""
    return "XS" if points <= 1 else "S" if points <= 3 else "M" if points <= 5 else "L" if points <= 8 else "XL"


@dataclass(frozen=True)
class Span:
    """Where a status is written: `kind` cell, field or box, on a file line, from column start to end;
    `anchor` is the line that names its story (the row, the checklist item, the section's heading)."""

    kind: str
    line: int
    start: int
    end: int
    anchor: int


@dataclass
class MdStory:
    id: str
    line: int
    title: str = ""
    description: list[str] = field(default_factory=list)
    size: str | None = None
    points: float | None = None
    hours: str | None = None
    status: str | None = None  # the word, cleaned of emphasis and emoji
    spans: list[Span] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    criteria: list[str] = field(default_factory=list)
    priority: str | None = None
    epic: str | None = None
    label: str | None = None  # spec-kit's [US1]
    phase: int | None = None
    parallel: bool = False
    lines: dict[str, int] = field(default_factory=dict)  # field -> its line, for errors
    kind: str = "table"  # table, section or item: where it was first defined

    def take(self, name: str, value, line: int) -> None:
        """Set a field the story does not have yet (the first place that names it wins)."""
        if value in (None, "", []) or getattr(self, name) not in (None, "", []):
            return
        setattr(self, name, value)
        self.lines.setdefault(name, line)


@dataclass
class Found:
    """The stories of a file, and what was seen that named none (for a refusal that says what storyc looked for)."""

    stories: list[MdStory]
    phases: bool
    checklist_items: int = 0
    tables: int = 0
    headings: int = 0
    first_item_line: int | None = None
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (line, what is wrong, hint): the first is an error


def read_stories(text: str, path: Path) -> Found:
    """The stories of a Markdown file's text (CRLF or LF); lines are file lines."""
    raw = text.split("\n")
    meta_free = text.replace("\r\n", "\n")
    _, body, offset = _front_matter(meta_free, path)
    reader = _Reader(raw, offset)
    reader.walk(block_tokens(body))
    return reader.finish()


# ---------------------------------------------------------------- the reader


class _Reader:
    def __init__(self, raw: list[str], offset: int):
        self.raw = raw
        self.offset = offset
        self.stories: dict[str, MdStory] = {}
        self.found = Found([], False)
        self.section: MdStory | None = None  # the story whose section we are in
        self.section_line = 0  # the line of its heading
        self.section_level = 0
        self.label: tuple[str, int] | None = None  # a "**Acceptance Criteria:**" line: what the next list holds
        self.skip_level = 0  # inside an integration section, no story is defined
        self.excluded_level = 0  # inside "Out of scope": stories are defined (known), the sprint keeps them out of scope
        self.criteria_level = 0  # under "Exit criteria" or "Definition of Done" a checklist is criteria, not stories
        self.parent_level = 0  # the level of the nearest heading under which stories are defined
        self.phase: int | None = None
        self.phase_level = 0
        self.phase_needs: dict[int, list[tuple[str, int]]] = {}  # phase -> labels or ids its Dependencies line names
        self.title_seen = False

    def line_of(self, tok: Token) -> int:
        return (tok.map[0] + 1 + self.offset) if tok.map else 0

    def walk(self, tokens: list[Token]) -> None:
        items: list[bool] = []  # open list items: whether each defined a story (its sub-items are its own text)
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.type == "heading_open":
                self.heading(int(tok.tag[1]), tokens[i + 1].content, self.line_of(tok))
                i += 3
                continue
            if tok.type == "list_item_open":
                items.append(False)
            elif tok.type == "list_item_close":
                items.pop()
            elif tok.type in ("fence", "code_block") and self.section is not None:
                # Code in a story's section (a schema, the commands to run) is part of what the agent reads.
                self.section.description.append(f"```{tok.info.strip()}\n{tok.content.rstrip()}\n```")
            elif tok.type == "inline":
                line = self.line_of(tok)
                in_item = tokens[i - 2].type == "list_item_open" if i >= 2 else False
                if in_item:
                    item_line = self.line_of(tokens[i - 2])
                    if not any(items[:-1]):
                        items[-1] = self.item(tok.content, item_line)
                    elif self.section is not None:
                        self.section_item(tok.content, item_line)
                elif tokens[i - 1].type == "paragraph_open" and (table := _table(tok, line)):
                    before, rows = table
                    if before.strip():
                        self.paragraph(before, line)
                    self.table(rows)
                else:
                    self.paragraph(tok.content, line)
            i += 1

    # -------------------------------------------------------- headings

    def heading(self, level: int, content: str, line: int) -> None:
        text = _plain(content)
        is_title = level == 1 and not self.title_seen
        self.title_seen = self.title_seen or level == 1
        self.found.headings += 1
        self.label = None
        if self.section is not None and level <= self.section_level:
            self.section = None
        elif self.section is not None:  # "#### Acceptance Criteria" inside a story's section labels what follows
            role = field_role(text)
            self.label = (role or "", text)
            if not role:
                self.section.description.append(f"{text}:")
            return
        if self.skip_level and level <= self.skip_level:
            self.skip_level = 0
        if self.parent_level and level <= self.parent_level:
            self.parent_level = 0
        if self.excluded_level and level <= self.excluded_level:
            self.excluded_level = 0
        if self.criteria_level and level <= self.criteria_level:
            self.criteria_level = 0
        if self.phase is not None and level <= self.phase_level:
            self.phase = None
        if is_title:
            return
        if INTEGRATION_HEADING.search(text):
            self.skip_level = level
            return
        if m := PHASE_HEADING.match(text):
            self.phase, self.phase_level = int(m.group(1)), level
            self.found.phases = True
            return
        excluded = EXCLUDED_HEADING.search(_PARENTHESISED.sub(" ", text))
        if excluded and not self.excluded_level:
            self.excluded_level = level
        story_id, title = heading_story(text)
        if story_id and self.section is None and (level <= 2 or self.parent_level or self.excluded_level):
            story = self.story(story_id, line, "section")
            if m := _TRAILING_FIELDS.search(title):
                title = title[: m.start()]
                for part in m.group(1).split(","):
                    key, _, value = part.partition(":")
                    if field_role(key) in ("priority", "epic", "status", "size", "points", "hours"):
                        self.field(story, key, value.strip(), line, 0, 0)
            story.take("title", title, line)
            self.section, self.section_level, self.section_line = story, level, line
            return
        if self.section is None and DEFINITIONS_PARENT.search(_PARENTHESISED.sub(" ", text)) and not excluded:
            self.parent_level = level
        if self.section is None and (field_role(text) == "criteria" or _CHECKLIST_HEADING.search(text)):
            self.criteria_level = level

    # -------------------------------------------------------- stories

    def story(self, story_id: str, line: int, kind: str) -> MdStory:
        story = self.stories.get(story_id)
        if story is None:
            story = self.stories[story_id] = MdStory(story_id, line, kind=kind)
        return story

    def item(self, content: str, line: int) -> bool:
        """A top-level list item: a story when it starts with an id (a checklist, or under a stories heading)."""
        raw = self.raw[line - 1] if 0 < line <= len(self.raw) else ""
        box = _CHECKBOX.match(raw)
        if box:
            self.found.checklist_items += 1
            self.found.first_item_line = self.found.first_item_line or line
        if self.section is not None:
            self.section_item(content, line)
            return False
        if self.skip_level or self.criteria_level or not (box or self.parent_level or self.excluded_level or self.phase is not None):
            return False
        first = content.split("\n", 1)[0]
        text = _plain(re.sub(r"^\[[ xX]\]\s*", "", first))
        story_id, rest = leading_story_id(text)
        if story_id is None or CRITERIA_ID.match(story_id) or (not box and not _SEPARATOR.match(rest)):
            return False  # "- US-1" under a stories heading names a story in scope; the sprint's parser reads it
        story = self.story(story_id, line, "item")
        markers = _MARKER.findall(rest)
        rest = _MARKER.sub("", rest)
        rest = _SEPARATOR.sub("", rest, count=1).strip()
        deps = [d for m in _INLINE_DEPENDS.finditer(rest) for d in dependency_ids(m.group(1))]
        description = _text(_INLINE_DEPENDS.sub("", content))
        description = _MARKER.sub("", re.sub(r"^\[[ xX]\]\s*", "", description))
        description = description[len(story_id):].lstrip(" :-–—") if description.startswith(story_id) else description
        story.take("title", _short(_INLINE_DEPENDS.sub("", rest).strip()), line)
        if description and description != story.title:
            story.description.append(description)
        story.take("depends_on", deps, line)
        story.take("files", paths_in(content), line)
        story.parallel = story.parallel or "P" in markers
        story.label = story.label or next((m for m in markers if _STORY_LABEL.match(m)), None)
        story.take("epic", story.label, line)
        if self.phase is not None and story.phase is None:
            story.phase = self.phase
        if box and (story.kind == "item" or not story.spans):  # a table's or section's status stays where it is
            start, end = box.start(2), box.end(2)
            story.spans.append(Span("box", line, start, end, line))
            story.take("status", "done" if box.group(2) in "xX" else "todo", line)
        return True

    def section_item(self, content: str, line: int) -> None:
        """A list item inside a story's section: a criterion, a dependency, a file, or text, by the label above it."""
        story = self.section
        text = _text(content)
        if not _plain(text):
            return
        role = self.label[0] if self.label else None
        if role == "criteria":
            story.criteria.append(text)
            story.lines.setdefault("criteria", line)
        elif role == "depends_on" or (role is None and _DEPENDS_LINE.match(text)):
            ids = dependency_ids(_DEPENDS_LINE.sub("", text))
            story.depends_on.extend(d for d in ids if d not in story.depends_on)
            story.lines.setdefault("depends_on", line)
        elif role == "files":
            found = paths_in(content) or ([text.split()[0]] if "/" in text.split()[0] or "." in text.split()[0] else [])
            story.files.extend(f for f in found if f not in story.files)
            story.lines.setdefault("files", line)
        else:
            story.description.append(f"- {text}")

    # -------------------------------------------------------- paragraphs

    def paragraph(self, content: str, line: int) -> None:
        if self.section is None:
            if self.phase is not None:
                self.phase_line(content, line)
            return
        story = self.section
        carried = self.label  # a label from an earlier paragraph applies to its list, and to Given/When/Then lines
        for k, text in enumerate(content.split("\n")):
            at = line + k
            plain = " ".join(_plain(text).split())
            if not plain:
                continue
            raw = self.raw[at - 1].rstrip("\r") if 0 < at <= len(self.raw) else text
            fields = label_fields(raw if raw.strip() == text.strip() else text)
            if fields:
                for key, value, start, end in fields:
                    self.field(story, key, value, at, start, end)
                carried = None
                continue
            if label := label_only(text):
                role = field_role(label)
                self.label, carried = (role or "", label), None
                if not role:
                    story.description.append(f"{label}:")
                continue
            if self.label is carried and carried is not None and not _GHERKIN.match(plain):
                self.label = carried = None
            role = self.label[0] if self.label else None
            kept = _text(text)
            if role == "criteria":
                if _GHERKIN.match(plain) and not plain.lower().startswith("given") and story.criteria and _GHERKIN.match(_plain(story.criteria[-1])):
                    story.criteria[-1] += " " + kept
                else:
                    story.criteria.append(kept)
                story.lines.setdefault("criteria", at)
            elif _DEPENDS_LINE.match(plain) and role != "description":
                story.depends_on.extend(d for d in dependency_ids(_DEPENDS_LINE.sub("", plain)) if d not in story.depends_on)
                story.lines.setdefault("depends_on", at)
            else:
                story.description.append(kept)

    def phase_line(self, content: str, line: int) -> None:
        """spec-kit: a phase's `**Dependencies**: Requires US1 and US4` line."""
        for k, text in enumerate(content.split("\n")):
            for key, value, _, _ in label_fields(text):
                if field_role(key) == "depends_on":
                    self.phase_needs.setdefault(self.phase, []).extend((word, line + k) for word in dependency_ids(value))

    def field(self, story: MdStory, key: str, value: str, line: int, start: int, end: int) -> None:
        role = field_role(key)
        plain = " ".join(_plain(value).split())
        if role == "status":
            if end > start:
                story.spans.append(Span("field", line, start, end, self.section_line))
            story.take("status", clean_status(plain), line)
        elif role in ("size", "points", "hours"):
            self.estimate(story, role, plain, line)
        elif role == "depends_on":
            story.depends_on.extend(d for d in dependency_ids(plain) if d not in story.depends_on)
            story.lines.setdefault("depends_on", line)
            if not plain:
                self.label = ("depends_on", key)
        elif role == "criteria":
            if plain:
                story.criteria.append(_text(value))
                story.lines.setdefault("criteria", line)
            self.label = ("criteria", key)
        elif role == "files":
            story.files.extend(f for f in paths_in(value) if f not in story.files)
            self.label = ("files", key)
        elif role == "description":
            if plain:
                story.description.append(_text(value))
            self.label = ("description", key)
        elif role in ("priority", "epic", "title"):
            story.take(role, plain if not NO_VALUE.match(plain) else None, line)
        elif plain:
            story.description.append(f"{_plain(key).strip()}: {plain}")
        else:  # "**Implementation Steps**:" labels the list that follows, which is text
            self.label = ("", key)
            story.description.append(f"{_plain(key).strip()}:")

    def estimate(self, story: MdStory, role: str, text: str, line: int) -> None:
        """A size ("M", "M (4 hours)", "S (2)"), points ("5", "2.5") or hours ("4h", "1.5d"); anything else is an error."""
        if not text or NO_VALUE.match(text):
            return
        head = re.split(r"[\s(/]", text, maxsplit=1)[0]
        if size := SIZE_WORDS.get(normalise(head)):
            story.take("size", size, line)
        elif role != "hours" and (number := re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:pts?|points?|sp)?", text, re.I)):
            story.take("points", float(number.group(1)), line)
        elif role != "points" and hours_of(text) is not None:
            story.take("hours", text, line)
        else:
            expected = {"size": "a size (XS, S, M, L, XL)", "points": "a number of story points", "hours": 'a duration such as "4h" or "1.5d"'}[role]
            self.found.problems.append((line, f"story {story.id}: cannot read {text!r} as {expected}", "write " + expected + ", or leave the cell empty"))

    # -------------------------------------------------------- tables

    def table(self, rows: list[tuple[int, list[str]]]) -> None:
        self.found.tables += 1
        if self.skip_level or len(rows) < 2:
            return
        header = [_plain(c).strip() for c in rows[0][1]]
        if self.section is not None:
            self.criteria_table(header, rows)
            return
        column = id_column(header, rows)
        if column is None:
            return
        roles = column_roles(header, rows, column)
        seen: dict[str, int] = {}
        for line, cells in rows[1:]:
            text = _plain(cells[column])
            story_id, rest = leading_story_id(text)
            if story_id is None and _SURE_ID_HEADER.search(header[column]) and not _ROW_NUMBER.match(header[column]):
                story_id, rest = loose_id(text)  # under an "ID" header: "1.1", "42" or "auth" are ids
            if story_id is None:
                continue
            if story_id in seen:
                self.found.problems.append((line, f"story {story_id} has two rows in one table (lines {seen[story_id]} and {line})", "keep one row per story; merge what the two rows say"))
                continue
            seen[story_id] = line
            story = self.story(story_id, line, "table")
            rest = _SEPARATOR.sub("", rest, count=1).strip()
            if "title" not in roles.values() and rest:
                story.take("title", rest, line)
            for k, role in roles.items():
                self.cell(story, role, cells[k], line, k)

    def cell(self, story: MdStory, role: str, cell: str, line: int, column: int) -> None:
        plain = " ".join(_plain(cell.replace("<br>", "\n").replace("<br/>", "\n")).split())
        if role == "status":
            raw = self.raw[line - 1] if 0 < line <= len(self.raw) else ""
            span = cell_span(raw, column)
            if span:
                story.spans.append(Span("cell", line, *span, line))
            story.take("status", clean_status(plain), line)
        elif role in ("size", "points", "hours"):
            self.estimate(story, role, plain, line)
        elif role == "depends_on":
            story.take("depends_on", dependency_ids(plain), line)
        elif role == "criteria":
            parts = [p.strip() for p in re.split(r"<br\s*/?>|;|\n", cell) if _plain(p).strip()]
            story.take("criteria", [" ".join(_plain(p).split()) for p in parts], line)
        elif role == "files":
            story.take("files", paths_in(cell), line)
        elif role == "description":
            if plain and not story.description:
                story.description.append(plain)
        elif not NO_VALUE.match(plain):
            story.take(role, plain, line)

    def criteria_table(self, header: list[str], rows: list[tuple[int, list[str]]]) -> None:
        """Inside a story's section: an `AC1 | ...` table, or one with a criteria or Given/When/Then header."""
        story = self.section
        lowered = [h.lower() for h in header]
        gherkin = [k for k, h in enumerate(lowered) if h in ("given", "when", "then")]
        criteria_col = next((k for k, h in enumerate(header) if field_role(h) == "criteria"), None)
        for line, cells in rows[1:]:
            plain = [" ".join(_plain(c).split()) for c in cells]
            if gherkin:
                text = " ".join(f"{header[k]} {plain[k]}" for k in gherkin if plain[k])
            elif CRITERIA_ID.match(plain[0]):  # | AC1 | An order is created |
                text = " ".join(p for p in plain[1:] if p)
            elif criteria_col is not None:
                text = plain[criteria_col]
            else:
                continue
            if text:
                story.criteria.append(text)
                story.lines.setdefault("criteria", line)

    # -------------------------------------------------------- the end

    def finish(self) -> Found:
        stories = list(self.stories.values())
        if self.found.phases:
            _phase_order(stories, self.phase_needs)
        self.found.stories = stories
        return self.found


def _phase_order(stories: list[MdStory], needs: dict[int, list[tuple[str, int]]]) -> None:
    """spec-kit: a phase waits for the one before; in a phase, `[P]` items run in parallel, the others in order."""
    by_label: dict[str, list[str]] = {}
    known = {story.id for story in stories}
    for story in stories:
        if story.label:
            by_label.setdefault(story.label, []).append(story.id)
    before: list[str] = []  # what the next item waits for
    parallel: list[str] = []  # [P] items since the last ordered one
    phase = object()
    for story in stories:
        if story.phase is None:
            continue
        if story.phase != phase:
            before, parallel, phase = before + parallel, [], story.phase
            entry = True
            wanted = [sid for word, _ in needs.get(story.phase, []) for sid in by_label.get(word, [word] if word in known else [])]
        waits = before + ([] if story.parallel else parallel)
        if entry:
            waits += [w for w in wanted if w not in waits and w != story.id]
        for dep in waits:
            if dep not in story.depends_on and dep != story.id:
                story.depends_on.append(dep)
        if story.parallel:
            parallel.append(story.id)
        else:
            before, parallel, entry = [story.id], [], False


# ---------------------------------------------------------------- small readers


def heading_story(text: str) -> tuple[str | None, str]:
    """(id, title) of a heading that starts with a story's id: "US-57：Cart", "Story 1.2: Login", "1. ARIA-28 — SDK"."""
    text = _ENUMERATION.sub("", text.strip())
    story_id, rest = leading_story_id(text)
    if story_id is None:
        return None, ""
    # "1.1 Dependency upgrades" is a numbered section; "1.1: Upgrades" or "Task 1.1 ..." names a story.
    if not SURE_ID.fullmatch(story_id) and not _ID_WORD.match(text) and not _SEPARATOR.match(rest):
        return None, ""
    title = _SEPARATOR.sub("", rest, count=1).strip()
    return story_id, title


def leading_story_id(text: str) -> tuple[str | None, str]:
    """The id a text starts with, and the rest: "US-1: x", "**ARIA-11** Cargo", "Story 1.2: x", "Task 1.1: x"."""
    text = text.strip()
    m = _ID_WORD.match(text)
    start = m.end() if m else 0
    match = re.match(_ID_CORE, text[start:])
    if not match:
        return None, text
    word = match.group()
    if not (m and any(ch.isdigit() for ch in word)) and not (SURE_ID.fullmatch(word) and not _NOT_AN_ID.search(word)):
        return None, text
    if GROUP_HEADING.match(text) and not m:
        return None, text
    return word, text[start + match.end() :]


def loose_id(text: str) -> tuple[str | None, str]:
    """Under a header that says the column holds ids, a leading word is one ("1.1", "42", "auth": the cell, or its
    first word before a separator); "Log in with e-mail" is a title, not an id."""
    text = text.strip()
    match = re.match(_ID_CORE, text)
    if not match or (match.end() < len(text) and not _SEPARATOR.match(text[match.end() :])):
        return None, text
    return match.group(), text[match.end() :]


def id_column(header: list[str], rows: list[tuple[int, list[str]]]) -> int | None:
    """The column of ids: named by its header, else the first column when every filled cell starts with an id."""
    named = next((k for k, name in enumerate(header) if ID_HEADER.match(name)), None)
    cells = lambda k: [_plain(c[k]) for _, c in rows[1:] if _plain(c[k]).strip()]  # noqa: E731
    if named is not None:
        values = cells(named)
        if _ROW_NUMBER.match(header[named]):
            return named if values and all(leading_story_id(v)[0] for v in values) else None
        sure = _SURE_ID_HEADER.search(header[named])
        if values and any(leading_story_id(v)[0] or (sure and loose_id(v)[0]) for v in values):
            return named
    values = cells(0)
    if values and all(leading_story_id(v)[0] for v in values):
        return 0
    return None


def column_roles(header: list[str], rows: list[tuple[int, list[str]]], id_col: int) -> dict[int, str]:
    """What each other column holds, by its header words, else (status, size) by its content."""
    roles: dict[int, str] = {}
    for k, name in enumerate(header):
        if k == id_col:
            continue
        role = field_role(name)
        if role and role not in roles.values():
            roles[k] = role
    for k in range(len(header)):
        if k == id_col or k in roles:
            continue
        values = [clean_status(_plain(c[k])) for _, c in rows[1:] if _plain(c[k]).strip()]
        if "status" not in roles.values() and values and all(family_of(v) for v in values):
            roles[k] = "status"
    return roles


def field_role(name: str) -> str | None:
    key = " ".join(_plain(name).strip(" :：*_").split())
    if not key:
        return None
    return next((role for role, pattern in ROLES if pattern.search(key)), None)


_FIELD = re.compile(r"^\s*(?:\*\*|__)?\s*([^*:：|]{1,40}?)\s*(?:[:：]\s*(?:\*\*|__)|(?:\*\*|__)\s*[:：])\s*")
_PLAIN_FIELD = re.compile(r"^\s*([A-Za-z][\w /-]{0,30}?)\s*[:：]\s+(?=\S)")


def label_fields(text: str) -> list[tuple[str, str, int, int]]:
    """`**Key:** value | **Other:** value` (or `Key: value` for a known key): (key, value, value start, end) each."""
    out = []
    pos = 0
    for part in re.split(r"(\s\|\s)", text):
        if part.strip() == "|" and part != part.strip():
            pos += len(part)
            continue
        m = _FIELD.match(part)
        if not m and (pm := _PLAIN_FIELD.match(part)) and field_role(pm.group(1)) and not _GHERKIN.match(part.strip()):
            m = pm
        if m:
            value = part[m.end() :]
            stripped = value.rstrip()
            start = pos + m.end()
            out.append((m.group(1), stripped, start, start + len(stripped)))
        elif out:
            break  # text after the fields is no field
        else:
            return []
        pos += len(part)
    return out


def label_only(text: str) -> str | None:
    """A line that only labels what follows: `**Acceptance Criteria:**`, `**Dependencies**`, `Tasks:`."""
    m = re.match(r"^\s*(?:#+\s*)?(?:\*\*|__)?\s*([^*:：]{1,40}?)\s*[:：]?\s*(?:\*\*|__)?\s*[:：]?\s*$", text)
    if not m:
        return None
    word = m.group(1).strip()
    bold = text.strip().startswith(("**", "__"))
    colon = text.rstrip().endswith((":", "：", ":**", "：**", ":__"))
    return word if (bold or colon) and word else None


def clean_status(text: str) -> str | None:
    """A status cell's word: "✅ **Done** (D21)" is Done; "—" or "" is no status."""
    text = _PARENTHESISED.sub(" ", _plain(text))
    text = _STATUS_NOISE.sub("", " ".join(text.split()))
    return text if text and not NO_VALUE.match(text) else None


def dependency_ids(text: str) -> list[str]:
    """The ids a dependencies value names: "US-057, US-061", "Task 1.1", "Requires US1 and US4", "T009-T016"; "None" names none."""
    text = _PARENTHESISED.sub(" ", _plain(text))
    out: list[str] = []
    for m in re.finditer(rf"(?:\b(?:story|task|issue|ticket|us(?=\s+\d))\s*#?\s*)?({_ID_CORE})", text, re.I):
        word = m.group(1)
        if not any(ch.isdigit() for ch in word):
            continue
        if r := _RANGE.match(word):
            prefix, first, prefix2, last = r.group(1), r.group(2), r.group(3) or r.group(1), r.group(4)
            if prefix == prefix2 and prefix and int(first) < int(last) and int(last) - int(first) <= 500:
                out.extend(f"{prefix}{n:0{len(first)}d}" for n in range(int(first), int(last) + 1))
                continue
        out.append(word)
    return list(dict.fromkeys(out))


def paths_in(text: str) -> list[str]:
    """File paths a text names: src/x.py, app/api/[id]/route.ts, a folder `tests/` (as tests/**), and a bare
    name only in backticks (`pom.xml`): "see research.md" names a document to read, not a file to change."""
    text = _URL.sub(" ", text)
    ticked = {m.group(1).strip() for m in re.finditer(r"`([^`]+)`", text)}
    out = []
    for m in _PATH.finditer(text):
        path = m.group(1).rstrip(".").lstrip("/")
        if not path or path in (".", "..") or re.fullmatch(r"[\d.]+", path):
            continue
        if "/" not in path and path not in ticked:
            continue
        out.append(path + "**" if path.endswith("/") else path)
    out = list(dict.fromkeys(out))
    return [p for p in out if "/" in p or not any(q.endswith("/" + p) for q in out)]


def cell_span(raw: str, column: int) -> tuple[int, int] | None:
    """The columns of cell `column`'s text in its raw table line (the text between its pipes, without padding)."""
    first = PIPE.search(raw)
    return cell_text(raw, column + (0 if first and raw[: first.start()].strip() else 1)) if first else None


def _text(text: str) -> str:
    """A criterion or a line of description as written (its inline Markdown kept), on one line, without a checkbox."""
    return re.sub(r"^\[[ xX]\]\s+", "", " ".join(text.split()))


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
