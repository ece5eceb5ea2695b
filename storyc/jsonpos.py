"""JSON text into the place of any value in it, found by its path: its offsets and its line.

`json.loads` keeps no positions, and a position-keeping parse costs more than
the C parser. So the fast parse reads the values, and this scanner walks the
text only along the path asked for, stepping over each value it passes with
json's C scanner: the compiler asks it for a line when an error needs one to
point at, the run for the span of the one status it rewrites. The containers it
has walked are remembered, so many questions about one text cost one walk.
"""

from __future__ import annotations

import json
import re

_WS = re.compile(r"[ \t\n\r]*")
_scan_value = json.JSONDecoder().scan_once  # (value, end) of the JSON value at an offset; it reads NaN and Infinity as json.loads does
_scan_string = json.decoder.scanstring

Pointer = tuple[str | int, ...]


class JsonLocator:
    """Places of values inside one JSON text (which must already be valid JSON: json.loads read it)."""

    def __init__(self, text: str):
        self.text = text
        self._inside: dict[int, list] = {}  # a container's offset -> its members or items

    def members(self, i: int) -> list[tuple[str, int, int, int]]:
        """The members of the object at text[i], as (key, key start, value start, value end)."""
        if (known := self._inside.get(i)) is not None:
            return known
        text, ws, members = self.text, _WS.match, []
        j = ws(text, i + 1).end()
        while text[j] != "}":
            key, after = _scan_string(text, j + 1)
            start = ws(text, ws(text, after).end() + 1).end()  # past the colon
            end = _scan_value(text, start)[1]
            members.append((key, j, start, end))
            j = ws(text, end).end()
            if text[j] == ",":
                j = ws(text, j + 1).end()
        self._inside[i] = members
        return members

    def item(self, i: int, n: int) -> int | None:
        """The offset where item `n` of the array at text[i] starts; None when it has fewer items. Only the items
        before it are stepped over: the first item of an array nested deeper than Python reads is found."""
        starts = self._inside.setdefault(i, [])
        text, ws = self.text, _WS.match
        if not starts:
            first = ws(text, i + 1).end()
            if text[first] == "]":
                return None
            starts.append(first)
        while len(starts) <= n:
            after = ws(text, _scan_value(text, starts[-1])[1]).end()
            if text[after] != ",":
                return None
            starts.append(ws(text, after + 1).end())
        return starts[n]

    def walk(self, pointer: Pointer) -> tuple[int, int]:
        """The offset where the value at `pointer` starts, or its deepest existing parent, and how many steps of
        `pointer` were taken (json.loads keeps the last of duplicate keys: so does this)."""
        i = _WS.match(self.text, 0).end()
        for taken, step in enumerate(pointer):
            if self.text[i] == "{":
                found = [start for key, _, start, _ in self.members(i) if key == step]
                if not found:
                    return i, taken
                i = found[-1]
            elif self.text[i] == "[" and isinstance(step, int) and step >= 0 and (start := self.item(i, step)) is not None:
                i = start
            else:
                return i, taken
        return i, len(pointer)

    def span(self, pointer: Pointer) -> tuple[int, int]:
        """The (start, end) offsets of the value at `pointer`; KeyError when the text has none there."""
        start, taken = self.walk(pointer)
        if taken < len(pointer):
            raise KeyError(pointer[: taken + 1])
        return start, _scan_value(self.text, start)[1]

    def line_of(self, pointer: Pointer) -> int:
        """1-based line of the value at `pointer`, or of its deepest existing parent."""
        start = self.walk(pointer)[0]
        # A file with old Mac line ends (CR only) counts its lines by them.
        end = "\r" if "\r" in self.text and "\n" not in self.text else "\n"
        return self.text.count(end, 0, start) + 1
