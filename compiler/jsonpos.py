"""JSON text into the line of any value, found by its path.

`json.loads` keeps no positions, and a position-keeping parse costs more than
the C parser. So the fast parse builds the models, and this module re-scans the
text only when an error needs a line to point at.
"""

from __future__ import annotations

import json.decoder
import re
from functools import cached_property

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LITERALS = ("true", "false", "null")

Pointer = tuple[str | int, ...]


class _Node:
    __slots__ = ("start", "children")

    def __init__(self, start: int, children: dict | list | None = None):
        self.start = start
        self.children = children


class JsonLocator:
    """Lines of values inside one JSON text (which must already be valid JSON)."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def _root(self) -> _Node:
        return self._value(_WS.match(self.text, 0).end())[0]

    def line_of(self, pointer: Pointer) -> int:
        """1-based line of the value at `pointer`, or of its deepest existing parent."""
        node = self._root
        for step in pointer:
            children = node.children
            if isinstance(children, dict) and step in children:
                node = children[step]
            elif isinstance(children, list) and isinstance(step, int) and 0 <= step < len(children):
                node = children[step]
            else:
                break
        return self.text.count("\n", 0, node.start) + 1

    def _value(self, i: int) -> tuple[_Node, int]:
        c = self.text[i]
        if c == "{":
            return self._object(i)
        if c == "[":
            return self._array(i)
        if c == '"':
            return _Node(i), json.decoder.scanstring(self.text, i + 1)[1]
        match = _NUMBER.match(self.text, i)
        if match:
            return _Node(i), match.end()
        for word in _LITERALS:
            if self.text.startswith(word, i):
                return _Node(i), i + len(word)
        raise ValueError(f"not JSON at offset {i}")

    def _object(self, start: int) -> tuple[_Node, int]:
        children: dict[str, _Node] = {}
        i = _WS.match(self.text, start + 1).end()
        while self.text[i] != "}":
            key, i = json.decoder.scanstring(self.text, i + 1)
            i = _WS.match(self.text, i).end() + 1  # the colon
            i = _WS.match(self.text, i).end()
            node, i = self._value(i)
            children.setdefault(key, node)
            i = _WS.match(self.text, i).end()
            if self.text[i] == ",":
                i = _WS.match(self.text, i + 1).end()
        return _Node(start, children), i + 1

    def _array(self, start: int) -> tuple[_Node, int]:
        children: list[_Node] = []
        i = _WS.match(self.text, start + 1).end()
        while self.text[i] != "]":
            node, i = self._value(i)
            children.append(node)
            i = _WS.match(self.text, i).end()
            if self.text[i] == ",":
                i = _WS.match(self.text, i + 1).end()
        return _Node(start, children), i + 1
