"""The Mermaid storyc writes into its parts, or an AssertionError naming the line Mermaid would stop at.

A strict reader of the subset storyc emits (a `graph LR` flowchart with
classDef/class/linkStyle, and a `gantt` chart with dateFormat x), written from
Mermaid's grammar: no Mermaid install in the tests. Mermaid 11's own parser
accepted the same texts when this was written (see the commit message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NODE = re.compile(r'  (s\d+)\["([^"\n]*)"\]')
EDGE = re.compile(r'  (s\d+) (-->|-\.->\|"[^"\n]*"\|) (s\d+)')
STYLE = r"[a-z-]+:[^,;\s]+(?:,[a-z-]+:[^,;\s]+)*"
CLASSDEF = re.compile(rf"  classDef (\w+) ({STYLE})")
CLASS = re.compile(r"  class (s\d+(?:,s\d+)*) (\w+)")
LINKSTYLE = re.compile(rf"  linkStyle (\d+(?:,\d+)*) ({STYLE})")
TASK = re.compile(r"  ([^:;#%\n]+?) :((?:(?:done|active|crit|milestone), )*)(\d+), (\d+)")
TAGS = {"done", "active", "crit", "milestone"}


@dataclass
class Flowchart:
    nodes: dict[str, str] = field(default_factory=dict)  # node -> label
    edges: list[tuple[str, str]] = field(default_factory=list)
    classes: dict[str, set[str]] = field(default_factory=dict)  # class -> nodes
    styled_edges: list[int] = field(default_factory=list)


def flowchart(text: str) -> Flowchart:
    lines = text.splitlines()
    assert lines and lines[0] == "graph LR", f"line 1: {lines[:1]!r} is not `graph LR`"
    chart, defined = Flowchart(), set()
    for n, line in enumerate(lines[1:], 2):
        if m := NODE.fullmatch(line):
            assert m.group(1) not in chart.nodes, f"line {n}: node {m.group(1)} defined twice"
            chart.nodes[m.group(1)] = m.group(2)
        elif m := EDGE.fullmatch(line):
            for node in (m.group(1), m.group(3)):
                assert node in chart.nodes, f"line {n}: edge to an undefined node {node}"
            chart.edges.append((m.group(1), m.group(3)))
        elif m := CLASSDEF.fullmatch(line):
            defined.add(m.group(1))
        elif m := CLASS.fullmatch(line):
            nodes = set(m.group(1).split(","))
            assert nodes <= set(chart.nodes), f"line {n}: class on undefined nodes {nodes - set(chart.nodes)}"
            assert m.group(2) in defined, f"line {n}: class {m.group(2)} has no classDef above"
            chart.classes.setdefault(m.group(2), set()).update(nodes)
        elif m := LINKSTYLE.fullmatch(line):
            indices = [int(i) for i in m.group(1).split(",")]
            assert all(i < len(chart.edges) for i in indices), f"line {n}: linkStyle {indices} beyond the {len(chart.edges)} edges"
            chart.styled_edges += indices
        else:
            raise AssertionError(f"line {n}: Mermaid cannot read {line!r}")
    return chart


@dataclass
class Task:
    name: str
    tags: list[str]
    start: int  # ms
    end: int


def gantt(text: str) -> dict[str, list[Task]]:
    """Section -> its tasks."""
    lines = text.splitlines()
    if lines and lines[0] == "---":
        close = lines.index("---", 1)  # front matter (YAML) ends at the next `---`
        front, lines = lines[1:close], lines[close + 1:]
        assert front == ["config:", "  gantt:", "    displayMode: compact"], front
    assert lines and lines[0] == "gantt", f"{lines[:1]!r} is not `gantt`"
    sections: dict[str, list[Task]] = {}
    current = None
    seen = set()
    for n, line in enumerate(lines[1:], 2):
        key, _, value = line.strip().partition(" ")
        if key in ("title", "axisFormat") and value:
            continue
        if key == "dateFormat":
            assert value == "x", f"line {n}: dateFormat {value!r}: the tasks give times in ms"
        elif key == "section" and value:
            assert value not in sections, f"line {n}: section {value!r} twice"
            current = sections.setdefault(value, [])
        elif m := TASK.fullmatch(line):
            assert current is not None, f"line {n}: a task before any section"
            tags = [t.strip() for t in m.group(2).split(",") if t.strip()]
            assert set(tags) <= TAGS and len(set(tags)) == len(tags), f"line {n}: tags {tags}"
            start, end = int(m.group(3)), int(m.group(4))
            assert end >= start, f"line {n}: ends before it starts"
            current.append(Task(m.group(1), tags, start, end))
        else:
            raise AssertionError(f"line {n}: Mermaid cannot read {line!r}")
        seen.add(key)
    assert "dateFormat" in seen, "no dateFormat"
    return sections
