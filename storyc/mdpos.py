"""A Markdown line into the places on it of a story's id and of a table cell's text.

The compiler records where a story's status is written by these places, and the
run finds it again by them (runners/writeback.py): both sides count alike.
"""

from __future__ import annotations

import re

PIPE = re.compile(r"(?<!\\)\|")  # a cell's border; `\|` is a pipe inside a cell


def id_column(line: str, story_id: str) -> int:
    """The column where `story_id` first stands on `line` as a word of its own ("US-1" in "| **US-1** |", but not
    in "US-10" nor "US-1.2"); -1 when it stands nowhere."""
    m = re.search(rf"(?<![\w.:\-]){re.escape(story_id)}(?![\w\-]|[.:]\w)", line)
    return m.start() if m else -1


def cell_of(line: str, column: int) -> int:
    """The index of the table cell at `column` of its row: the number of pipes before it."""
    return sum(1 for _ in PIPE.finditer(line, 0, column))


def cell_text(line: str, index: int) -> tuple[int, int] | None:
    """The columns of the text of cell `index` (see `cell_of`), without its padding; an empty cell's text goes
    after its first space. None: the row has no such cell (text after its last pipe is a cell, space is not)."""
    pipes = [m.start() for m in PIPE.finditer(line)]
    bounds = [-1, *pipes]
    if pipes and line[pipes[-1] + 1 :].strip("\r \t"):
        bounds.append(len(line.rstrip("\r")))
    if not pipes or not 0 <= index < len(bounds) - 1:
        return None
    a, b = bounds[index], bounds[index + 1]
    inner = line[a + 1 : b]
    if not inner.strip():
        at = a + 1 + min(1, len(inner))
        return at, at
    start = a + 1 + (len(inner) - len(inner.lstrip()))
    return start, start + len(inner.strip())
