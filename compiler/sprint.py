"""Sprint Markdown into a Sprint: number, name, stories in scope, integration points.

markdown-it gives the block structure (headings, lists, paragraphs, code that
must not be read); a GFM table is then read from its paragraph's lines here,
because markdown-it's own table rule makes six tokens a cell and costs half a
second on a 10,000-row sprint. Inline Markdown is never parsed: `_plain` drops
the markup of the few cells storyc reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from storyc.errors import InputError, Where
from storyc.files import read_text

STORIES_HEADING = re.compile(r"\b(stories|story|backlog|scope|committed)\b", re.I)
# A heading that says its stories are not in the sprint ("Out of scope", "Deferred stories", "Won't do").
EXCLUDED_HEADING = re.compile(
    r"\b(out[\s-]+of|not\s+(in|included|planned)|removed|dropped|de-?scoped|deferred|postponed|excluded"
    r"|future|later|next\s+sprint|won['’]?t|will\s+not|parking\s+lot|icebox)\b",
    re.I,
)
# A heading that groups stories is no story: "Epic-01: Cart", "Phase 2", "Sprint 3".
GROUP_HEADING = re.compile(
    r"^(?:epic|feature|phase|sprint|milestone|release|iteration|week|day|module|part|section|chapter|step|stage|wave|version)[\W_]*\d",
    re.I,
)
INTEGRATION_HEADING = re.compile(r"\bintegration\s+points?\b", re.I)
GOAL_HEADING = re.compile(r"^(sprint\s+)?goals?$", re.I)
TITLE = re.compile(r"^sprint\s*#?\s*(\d+)\s*(?:[:\-–—.|]\s*)?(.*)$", re.I)
ID_COLUMN = re.compile(r"^(id|story|story\s*id|key|ticket|task|task\s*id|#)$", re.I)
# An id token: letters and digits of any script, with - _ . : inside ("US-001", "1.2", "PROJ:7", "故事-1").
_ID = r"[^\W_](?:[\w.:\-]*[^\W_])?"
ID_TOKEN = re.compile(_ID)
# A word that only says an id follows ("Story 1.1", "US 7"); it is no id itself then.
_ID_WORD = r"(?:(?:story|task|issue|ticket|us)(?![\w.:\-]*[^\W_])[\W_]*(?=[^\W_]))?"
_FIRST_ID = re.compile(rf"{_ID_WORD}({_ID})", re.I)
# The next id of a run: "US-1, US-2", "US-3 and Story US-4", "US-5 / US-6".
_NEXT_ID = re.compile(rf"\s*(?:[,;/]|and\b)\s*{_ID_WORD}({_ID})", re.I)
_URL_PATH = re.compile(r"<?\b[A-Za-z][A-Za-z0-9+.-]*://[^\s>]*/")
_PARENTHESISED = re.compile(r"\([^()]*\)")
# Struck-through text is dropped whole: "~~US-001~~ moved to sprint 2" names no story.
# Struck text, emphasis marks (an underscore only outside a word: STORY_1 keeps its own), code ticks, checkboxes, links.
_MARKUP = re.compile(r"~~.+?~~|[*`~]|(?<![^\W_])_|_(?![^\W_])|\[[ xX]\]\s|!?\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True, slots=True)
class StoryRef:
    id: str
    line: int
    # False when the word only may be an id (a leading word without a digit): the plan keeps it if it is a story id.
    certain: bool = True


@dataclass(frozen=True)
class IntegrationRow:
    name: str
    stories: list[str]  # the words of its Stories Involved cell that may be ids; the plan keeps the real ones
    verification: str
    line: int


@dataclass(frozen=True)
class Listing:
    """The ids a section outside the stories section lists (its tables, lists and story headings)."""

    heading: str  # the section's heading; "" before the first heading
    line: int  # the heading's line; 1 before the first heading
    refs: list[StoryRef]


@dataclass
class Sprint:
    path: Path
    number: int | None = None
    name: str = ""
    date: str | None = None
    goal: str = ""
    stories: list[StoryRef] | None = None  # None: the file has no stories section
    stories_line: int | None = None  # the stories section's heading; None when front matter lists the stories
    integration: list[IntegrationRow] = field(default_factory=list)
    # When there is no stories section: the ids other sections list, then the ids the prose names.
    listed: list[Listing] = field(default_factory=list)
    texts: list[tuple[str, int, bool]] = field(default_factory=list)  # (text, line, in an excluded part), read for ids on demand
    _mentions: tuple[list[StoryRef], set[str]] | None = None

    @property
    def mentioned(self) -> list[StoryRef]:
        """Every id-like word of the prose, outside excluded parts (read only when no section lists the stories)."""
        return self._mentioned()[0]

    @property
    def excluded_ids(self) -> set[str]:
        """The ids named under "Out of scope", "Deferred", ..."""
        return self._mentioned()[1]

    def _mentioned(self) -> tuple[list[StoryRef], set[str]]:
        if self._mentions is None:
            self._mentions = ([], set())
            for text, line, excluded in self.texts:
                _mention(self._mentions, text, line, excluded)
        return self._mentions

    def where(self, line: int) -> Where:
        return Where(str(self.path), line)


def parse_sprint(path: Path) -> Sprint:
    text = read_text(path).replace("\r\n", "\n")
    sprint = Sprint(path=path)
    meta, body, offset = _front_matter(text, path)
    tokens = block_tokens(body)
    _read_tokens(sprint, tokens, offset)
    _apply_meta(sprint, meta, text)
    if sprint.number is None and (m := re.search(r"(\d+)", path.stem)):
        sprint.number = int(m.group(1))
    return sprint


# Block rules only: no table rule (see the module docstring), no inline parse.
_MD = MarkdownIt("commonmark").disable(["inline", "text_join"])
_DELIMITER_CELL = re.compile(r"^:?-+:?$")
_PIPE = re.compile(r"(?<!\\)\|")


@lru_cache(maxsize=2)
def block_tokens(body: str) -> list[Token]:
    """markdown-it's block tokens of a text, parsed once: the sprint's scope and the stories it carries are read from
    the same tokens (neither reader changes them)."""
    return _MD.parse(body)


def _front_matter(text: str, path: Path) -> tuple[dict, str, int]:
    if not text.startswith("---\n"):
        return {}, text, 0
    end = re.search(r"^(?:---|\.\.\.)\s*$", text[4:], re.M)
    if end is None:
        raise InputError("front matter opened with `---` is never closed", Where(str(path), 1), hint="end the YAML front matter with a line `---`")
    raw = text[4 : 4 + end.start()]
    try:
        meta = yaml.load(raw, _Loader) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", 0) + 2
        hint = getattr(exc, "note", None) or "front matter holds `key: value` lines"
        raise InputError(f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}", Where(str(path), line), hint=hint) from None
    except Exception as exc:  # e.g. RecursionError: YAML nested too deep
        raise InputError(f"front matter cannot be read: {type(exc).__name__}", Where(str(path), 1), hint="front matter holds `key: value` lines") from None
    if not isinstance(meta, dict):
        raise InputError("front matter must be `key: value` pairs", Where(str(path), 2), hint="for example:\n---\nsprint: 3\nname: Auth foundation\n---")
    consumed = 4 + end.end()
    # The body keeps the rest of the closing line, so body line k is file line offset + k.
    return meta, text[consumed:], text.count("\n", 0, consumed)


class _Loader(yaml.SafeLoader):
    """safe_load, but an impossible date (2024-13-45) is a YAML error at its line, not a ValueError."""

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(None, None, f"{node.value!r} is not a date: {exc}", node.start_mark, "write a date as YYYY-MM-DD, or quote the value") from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _apply_meta(sprint: Sprint, meta: dict, text: str) -> None:
    for key in ("sprint", "number"):
        value = meta.get(key)
        # isdecimal, not isdigit: int() cannot read "²"; and a YAML `true` is no number.
        if (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.strip().isdecimal()):
            sprint.number = int(value)
            break
    if isinstance(meta.get("name"), str):
        sprint.name = meta["name"].strip()
    elif isinstance(meta.get("title"), str):
        sprint.name = meta["title"].strip()
    for key in ("date", "created", "start"):
        if meta.get(key) is not None:
            sprint.date = str(meta[key])
            break
    if isinstance(meta.get("goal"), str):
        sprint.goal = meta["goal"].strip()
    if "stories" in meta:
        m = re.search(r"^[\"']?stories[\"']?\s*:", text, re.M)
        where = sprint.where(text.count("\n", 0, m.start()) + 1 if m else 2)
        if not isinstance(meta["stories"], list):
            raise InputError("front matter `stories` must be a list of story ids", where, hint="for example: stories: [US-001, US-002]")
        if sprint.stories:
            raise InputError(
                f"the sprint lists its stories twice: in front matter and in the stories section (line {sprint.stories_line})",
                where,
                hint="keep one list: remove `stories:` from the front matter, or the stories from the section",
            )
        sprint.stories, sprint.stories_line = [StoryRef(str(s).strip(), where.line) for s in meta["stories"]], None


def _read_tokens(sprint: Sprint, tokens: list[Token], offset: int) -> None:
    """One pass over the block tokens, tracking which section we are in."""
    refs: list[StoryRef] = []
    section: str | None = None  # "stories", "excluded", "integration", "goal"; None: any other section
    section_level = 0
    under_story_heading = False
    excluded_level = 0  # in the stories section, the level of an "Out of scope" heading whose part names no story
    nested_line = None  # a stories heading inside another section
    items: list[bool] = []  # the open list items, outermost first
    title_seen = False
    # Outside the known sections: the section whose listing the ids join, and the level of a story's own heading there.
    listings: dict[tuple[int, str], list[StoryRef]] = {}
    context: tuple[int, str] = (1, "")
    other_story_level = 0
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        line = (tok.map[0] + 1 + offset) if tok.map else 0
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            heading = _plain(tokens[i + 1].content)
            # The document's title names the sprint and opens no section, even
            # "# Sprint 7: Synthetic load (10000 stories)".
            is_title = level == 1 and not title_seen
            title_seen = title_seen or level == 1
            if is_title and not sprint.name and sprint.number is None:
                if m := TITLE.match(heading):
                    sprint.number, sprint.name = int(m.group(1)), m.group(2).strip()
                else:
                    sprint.name = heading
            if section and level <= section_level:
                section = None
            if other_story_level and level <= other_story_level:
                other_story_level = 0
            excluded = EXCLUDED_HEADING.search(_PARENTHESISED.sub(" ", heading))  # "Stories (refined later)" is in scope
            if section == "stories":
                if excluded_level and level <= excluded_level:
                    excluded_level = 0
                if not excluded_level:
                    ref = _heading_id(heading, line)
                    # Under a story's heading, its lists and tables are its own text, not ids.
                    under_story_heading = ref is not None and ref.certain
                    if ref and (under_story_heading or not excluded):
                        refs.append(ref)
                    elif excluded:
                        excluded_level = level
            elif section is None and not is_title:
                if INTEGRATION_HEADING.search(heading):
                    section, section_level = "integration", level
                elif excluded:
                    section, section_level = "excluded", level
                elif is_stories_heading(heading):
                    section, section_level, under_story_heading, excluded_level = "stories", level, False, 0
                    sprint.stories_line = sprint.stories_line or line
                elif GOAL_HEADING.match(heading):
                    section, section_level = "goal", level
                elif not GROUP_HEADING.match(heading) and (ref := _heading_id(heading, line)) and ref.certain:
                    # "### US-1: Login" under "## Work planned": the section lists US-1; its lists are its own.
                    listings.setdefault(context, []).append(StoryRef(ref.id, line, False))
                    other_story_level = level
                else:
                    context = (line, heading)
            elif section != "excluded" and not is_title and not excluded and is_stories_heading(heading):
                nested_line = nested_line or line
            sprint.texts.append((heading, line, section == "excluded" or bool(excluded_level)))
            i += 3
            continue
        if tok.type == "list_item_open":
            items.append(False)  # whether this item names a story: then its sub-items are its own text
        elif tok.type == "list_item_close":
            items.pop()
        elif tok.type == "inline":
            text = tok.content
            listing = section in (None, "goal") and not other_story_level
            if tokens[i - 1].type == "paragraph_open" and (table := _table(tok, line)):
                text, rows = table
                if section == "stories" and not under_story_heading and not excluded_level:
                    refs.extend(_table_ids(rows))
                elif section == "integration":
                    sprint.integration.extend(_integration_rows(rows, sprint))
                elif listing:
                    listings.setdefault(context, []).extend(_table_ids(rows))
            content = _plain(text)
            if any(ch.isdigit() for ch in tok.content):
                sprint.texts.append((tok.content, line, section == "excluded" or bool(excluded_level)))
            if section == "goal" and not sprint.goal:
                sprint.goal = " ".join(content.split())
            elif not sprint.goal and (m := re.search(r"^(?:sprint\s+)?goal\s*:\s*(.+)$", content, re.I | re.M)):
                sprint.goal = m.group(1).strip()
            # An item's ids, at any depth under items that name none ("- Epic: cart" grouping "- US-004").
            if tokens[i - 2].type == "list_item_open" and not any(items[:-1]):
                item_line = (tokens[i - 2].map[0] + 1 + offset) if tokens[i - 2].map else line
                if section == "stories" and not under_story_heading and not excluded_level:
                    found = _leading_ids(content, item_line)
                    refs.extend(found)
                    items[-1] = any(ref.certain for ref in found)
                elif listing:
                    # Outside the stories section an item may be prose ("- 2FA works"): its ids count if they are stories.
                    found = _leading_ids(content, item_line)
                    listings.setdefault(context, []).extend(StoryRef(ref.id, ref.line, False) for ref in found)
                    items[-1] = any(ref.certain for ref in found)
        i += 1
    if refs:
        seen: dict[str, StoryRef] = {}
        for ref in refs:
            if seen.setdefault(ref.id, ref).certain < ref.certain:
                seen[ref.id] = ref  # a certain reference wins: an unknown id must not hide behind a possible one
        sprint.stories = list(seen.values())
    elif sprint.stories_line is None:
        # A stories heading inside another section still says the sprint has a (here empty) stories section.
        sprint.stories_line = nested_line
    if sprint.stories is None and sprint.stories_line is not None:
        sprint.stories = []
    sprint.listed = [Listing(heading, line, found) for (line, heading), found in listings.items() if found]


# An id in running text: it has a digit and a letter ("US-12", "T001", "STORY-01.1"), or follows
# `#`, "story" or "task" ("#12", "Story 12"). A word without a digit is never read from prose.
_PROSE_ID = re.compile(rf"(?:(#)|\b(?:story|task|issue|ticket)\b[\s#:]*)?(?<![\w.:\-])({_ID})", re.I)


def _mention(into: tuple[list[StoryRef], set[str]], text: str, line: int, excluded: bool) -> None:
    """Every id the text names, as a possible reference (or, in an excluded part, as an id not in the sprint)."""
    if not any(ch.isdigit() for ch in text):
        return
    text = _plain(text) if "[" in text or "~" in text else text
    at, seen = line, 0  # the line of the last match, counted on from there (a 10,000-row table is one text)
    for m in _PROSE_ID.finditer(text):
        word = m.group(2)
        digits = sum(ch.isdigit() for ch in word)
        if not digits or (digits == len(word) and m.group(0) == word):
            continue
        at, seen = at + text.count("\n", seen, m.start()), m.start()
        if excluded:
            into[1].add(word)
        else:
            into[0].append(StoryRef(word, at, False))


def is_stories_heading(heading: str) -> bool:
    """"Stories", "Sprint Backlog", "Stories in Scope (refined)": a short heading that says so, not a sentence
    that mentions a story ("What US-19 gained today, without anyone working the story")."""
    words = re.findall(r"[^\W_]+", _PARENTHESISED.sub(" ", heading))
    if (ref := _heading_id(heading, 0)) and ref.certain:  # "Story 1.2: Checkout" is one story's heading
        return False
    # A product backlog defines stories; the sprint's own stories section says which of them are in scope.
    return len(words) <= 4 and bool(STORIES_HEADING.search(heading)) and not re.search(r"\bproduct\s+backlog\b", heading, re.I)


def _table(tok: Token, line: int) -> tuple[str, list[tuple[int, list[str]]]] | None:
    """A GFM table in a paragraph: (the text before it, rows as (line, cells), header first).

    A table starts at a row followed by a delimiter row with as many cells
    (`| --- | :-: |`); it may interrupt a paragraph, and ends at the first line
    without a pipe. Rows are cut or padded to the header's width, as GFM says.
    """
    if "|" not in tok.content or "-" not in tok.content:
        return None
    lines = tok.content.split("\n")
    for k in range(len(lines) - 1):
        header, delimiter = _cells(lines[k]), _cells(lines[k + 1])
        if "|" in lines[k] and len(header) == len(delimiter) and all(_DELIMITER_CELL.match(c) for c in delimiter):
            rows = [(line + k, header)]
            for j in range(k + 2, len(lines)):
                if "|" not in lines[j]:
                    break
                cells = _cells(lines[j])
                rows.append((line + j, (cells + [""] * len(header))[: len(header)]))
            return "\n".join(lines[:k]), rows
    return None


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _PIPE.split(row)]


def _table_ids(rows: list[tuple[int, list[str]]]) -> list[StoryRef]:
    if not rows:
        return []
    header = [_plain(c) for c in rows[0][1]]
    named = next((k for k, name in enumerate(header) if ID_COLUMN.match(name)), None)
    # Under a header that names the id column, any id will do ("B", "auth"); else a word without a digit only may be one.
    column, certain = named or 0, named is not None
    refs = []
    for line, cells in rows[1:]:
        refs.extend(_leading_ids(_plain(cells[column]), line, certain))
    return refs


def _integration_rows(rows: list[tuple[int, list[str]]], sprint: Sprint) -> list[IntegrationRow]:
    if not rows:
        return []
    header = [_plain(c).lower() for c in rows[0][1]]

    def col(word: str, default: int) -> int:
        return next((k for k, name in enumerate(header) if word in name), default)

    name_col, stories_col, verify_col = col("point", 0), col("stor", 1), col("verif", 2)
    if len(header) <= max(name_col, stories_col, verify_col):
        raise InputError(
            "the Integration Points table needs three columns",
            sprint.where(rows[0][0]),
            hint="columns are: Integration Point | Stories Involved | Verification",
        )
    out = []
    for line, cells in rows[1:]:
        name = _plain(cells[name_col]).strip("[] ")
        # Ids, not the notes beside them: "US-001 → US-004 (wave 2)" names two stories.
        involved = _PARENTHESISED.sub(" ", _plain(cells[stories_col]))
        stories = ID_TOKEN.findall(involved)
        # markdown-it pads a short row with empty cells, so check the cells, not their count.
        if not name or not stories or not cells[verify_col].strip():
            missing = "name" if not name else "stories" if not stories else "verification"
            raise InputError(
                f"an Integration Points row has no {missing}",
                sprint.where(line),
                hint="columns are: Integration Point | Stories Involved | Verification, e.g. | Auth → API | US-001 → US-004 | Integration test |",
            )
        out.append(IntegrationRow(name=name, stories=stories, verification=cells[verify_col].strip(), line=line))
    return out


def _plain(text: str) -> str:
    """Inline Markdown into its visible text (links, emphasis, code ticks, checkboxes dropped;
    a bare URL into its last part: https://jira.example.com/browse/US-004 is US-004)."""
    text = _MARKUP.sub(lambda m: m.group(1) or "", text)
    return _URL_PATH.sub("", text).strip() if "://" in text else text.strip()


def _heading_id(text: str, line: int) -> StoryRef | None:
    head = re.split(r"\s*[:–—]\s+|\s+[-|]\s+", text, maxsplit=1)[0]
    ref = next(iter(_leading_ids(head, line)), None)
    # A heading of a few words without a digit ("Out of scope") is a title; a single word may be an id.
    return ref if ref and (ref.certain or ref.id == head.split()[-1]) else None


def _leading_ids(text: str, line: int, certain: bool = False) -> list[StoryRef]:
    """The ids a list item, cell or heading starts with: "US-001 …", "Story 1.1: …", "US-1, US-2 and US-3 …".

    Notes in parentheses are no ids, and the run ends at the first word not after a separator:
    "US-004 (after US-001) Cart, checkout and pay" names US-004 only.
    A word with a digit surely is an id; a word without one only may be (unless `certain`),
    and the plan keeps it only if it is a story id, so that prose is not read as ids.
    """
    if "(" in text:
        text = _PARENTHESISED.sub(" ", text)
    m = _FIRST_ID.search(text)
    ids = []
    while m:
        ids.append(m.group(1))
        m = _NEXT_ID.match(text, m.end())
    return [StoryRef(id_, line, certain or any(ch.isdigit() for ch in id_)) for id_ in ids]
