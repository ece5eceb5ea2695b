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
_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")  # json.loads reads the last three too

Pointer = tuple[str | int, ...]


class _Node:
    __slots__ = ("start", "children")

    def __init__(self, start: int, children: dict | list | None = None):
        self.start = start
        self.children = children


class JsonLocator:
    """Lines of values inside one JSON text (which must already be valid JSON)."""

    def __init__(self, text: str):
        # Lines are counted by "\n"; a file with old Mac line ends (CR only) is read as if it had them.
        self.text = text.replace("\r", "\n") if "\r" in text and "\n" not in text else text

    @cached_property
    def _root(self) -> _Node:
        """The tree of nodes, read with a loop and a stack of open containers: any depth json.loads reads."""
        text, ws = self.text, _WS.match
        open_: list[_Node] = []
        key = ""
        i = ws(text, 0).end()
        while True:
            node, i = self._value(i)
            if not open_:
                root = node
            elif isinstance(open_[-1].children, dict):
                open_[-1].children[key] = node  # json.loads keeps the last of duplicate keys: so does this
            else:
                open_[-1].children.append(node)
            if node.children is not None:
                open_.append(node)
            i = ws(text, i).end()
            while open_:  # close what ends here, then step to the next value (past its key in an object)
                c = text[i]
                if c in "]}":
                    open_.pop()
                    i = ws(text, i + 1).end()
                    continue
                if c == ",":
                    i = ws(text, i + 1).end()
                if isinstance(open_[-1].children, dict):
                    key, i = json.decoder.scanstring(text, i + 1)
                    i = ws(text, ws(text, i).end() + 1).end()  # past the colon
                break
            else:
                return root

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
        """The node starting at `i` and where it ends; a container's node is empty, and ends after its bracket."""
        c = self.text[i]
        if c == "{":
            return _Node(i, {}), i + 1
        if c == "[":
            return _Node(i, []), i + 1
        if c == '"':
            return _Node(i), json.decoder.scanstring(self.text, i + 1)[1]
        match = _NUMBER.match(self.text, i)
        if match:
            return _Node(i), match.end()
        for word in _LITERALS:
            if self.text.startswith(word, i):
                return _Node(i), i + len(word)
        raise ValueError(f"not JSON at offset {i}")
