"""Stories and their edges into waves, a critical path and file-ordering edges.

networkx stays behind this class: the rest of storyc speaks of stories, waves
and paths, never of nodes and generations.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase, translate

import networkx as nx

_MAGIC = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class OrderingEdge:
    before: str
    after: str
    path: str


class StoryGraph:
    """A DAG of stories: an edge a -> b means b needs a done first."""

    def __init__(self) -> None:
        self._g = nx.DiGraph()
        self._order: dict[str, int] = {}
        self._waves: list[list[str]] | None = None  # cached until the graph changes

    def add_story(self, story_id: str, hours: float) -> None:
        self._order.setdefault(story_id, len(self._order))
        self._g.add_node(story_id, hours=hours)
        self._waves = None

    def add_edge(self, before: str, after: str) -> None:
        self._g.add_edge(before, after)
        self._waves = None

    def __contains__(self, story_id: str) -> bool:
        return story_id in self._g

    def __len__(self) -> int:
        return len(self._g)

    def needs(self, story_id: str) -> list[str]:
        """The stories `story_id` waits for, in declaration order."""
        return sorted(self._g.predecessors(story_id), key=self._order.__getitem__)

    def cycle(self) -> list[str] | None:
        """A cycle as a closed walk [a, b, ..., a], or None for a DAG."""
        if nx.is_directed_acyclic_graph(self._g):  # fast; find_cycle only when there is one
            return None
        try:
            edges = nx.find_cycle(self._g)
        except nx.NetworkXNoCycle:
            return None
        walk = [edges[0][0]] + [v for _, v in edges]
        # Start the walk at its earliest-declared story, so the text is stable.
        start = min(range(len(walk) - 1), key=lambda i: self._order[walk[i]])
        ring = walk[start:-1] + walk[:start]
        return ring + [ring[0]]

    def topological_order(self) -> list[str]:
        return list(nx.lexicographical_topological_sort(self._g, key=self._order.__getitem__))

    def waves(self) -> list[list[str]]:
        """Stories grouped so that each wave needs only earlier waves."""
        if self._waves is None:
            self._waves = [sorted(gen, key=self._order.__getitem__) for gen in nx.topological_generations(self._g)]
        return [list(wave) for wave in self._waves]

    def descendants(self, story_id: str) -> set[str]:
        return nx.descendants(self._g, story_id)

    def reaches(self, a: str, b: str) -> bool:
        return nx.has_path(self._g, a, b)

    def critical_path(self, hours: Mapping[str, float] | None = None) -> tuple[list[str], float]:
        """The chain of stories with the most hours end to end, and those hours
        (each story's `hours` as added, unless given)."""
        best: dict[str, tuple[float, str | None]] = {}
        hours = hours if hours is not None else nx.get_node_attributes(self._g, "hours")
        pred = self._g.pred
        # Any topological order will do: ties are broken by declaration order below.
        for node in (node for wave in self.waves() for node in wave):
            preds = [(best[p][0], -self._order[p], p) for p in pred[node]]
            top = max(preds) if preds else None
            best[node] = ((top[0] if top else 0.0) + hours[node], top[2] if top else None)
        if not best:
            return [], 0.0
        end = max(best, key=lambda n: (best[n][0], -self._order[n]))
        path, node = [], end
        while node is not None:
            path.append(node)
            node = best[node][1]
        return path[::-1], best[end][0]

    def remaining(self, hours: Mapping[str, float] | None = None) -> dict[str, float]:
        """Each story's remaining path: its own hours plus the longest chain of its dependents'."""
        hours = hours if hours is not None else nx.get_node_attributes(self._g, "hours")
        succ = self._g.succ
        out: dict[str, float] = {}
        for wave in reversed(self.waves()):
            for node in wave:
                out[node] = hours[node] + max((out[c] for c in succ[node]), default=0.0)
        return out

    def by_remaining(self, remaining: Mapping[str, float]) -> list[str]:
        """Stories with the longest remaining path first, ties in declaration order: the order
        in which ready stories should start (each comes after every story it needs)."""
        return sorted(self._g, key=lambda s: (-remaining[s], self._order[s]))

    def order_shared_files(self, files: dict[str, list[str]]) -> list[OrderingEdge]:
        """Add an edge between any two stories that could run at once and share a file (see `order_shared`)."""
        return self.order_shared(shared_files(files))

    def order_shared(self, shared: Sharing) -> list[OrderingEdge]:
        """Add an edge between any two stories that could run at once and share a file.

        Stories sharing a path are chained in one topological order, so every
        added edge points forward in it and none can close a cycle.
        """
        if not shared:
            return []
        added: list[OrderingEdge] = []
        for path, chain in self._chains(shared):
            for a, b in zip(chain, chain[1:]):
                if not self.reaches(a, b):
                    self.add_edge(a, b)
                    added.append(OrderingEdge(a, b, path))
        return added

    def later_patterns(self, shared: Sharing) -> dict[str, list[str]]:
        """Story -> the patterns of the stories after it that may name one of its files.

        Such a file, when it changes, is the later story's output, not a hand edit
        of the earlier one's. Call it after `order_shared`: any two stories that
        share a file are then ordered, in the order of their chain.
        """
        if not shared:
            return {}
        out: dict[str, set[str]] = {}
        for path, chain in self._chains(shared):
            patterns: dict[str, set[str]] = defaultdict(set)
            for story, pattern in shared[path]:
                patterns[story].add(pattern)
            later: set[str] = set()
            for story in reversed(chain):
                if later:
                    out.setdefault(story, set()).update(later)
                later |= patterns[story]
        return {story: sorted(found) for story, found in out.items()}

    def _chains(self, shared: Sharing):
        """Each shared path with its stories in one fixed linear extension of the graph: every declared
        edge, and every edge `order_shared` adds, points forward in it."""
        position = {s: (n, self._order[s]) for n, wave in enumerate(self.waves()) for s in wave}
        for path, named in shared.items():
            yield path, sorted({story for story, _ in named}, key=position.__getitem__)


# A path or glob that two or more stories may change -> (story, its pattern that names it), for each naming.
Sharing = dict[str, list[tuple[str, str]]]


def shared_files(files: dict[str, list[str]]) -> Sharing:
    """The paths (or globs) that two or more stories name, in sorted order; a glob names the paths it
    matches and the globs it may overlap (conservatively)."""
    owners: dict[str, list[tuple[str, str]]] = defaultdict(list)
    globs: list[tuple[str, str]] = []
    for story, paths in files.items():
        for path in paths:
            (globs.append((path, story)) if _MAGIC.search(path) else owners[path].append((story, path)))
    literal_paths = sorted(owners)
    for pattern, story in globs:
        for path in _matching(pattern, literal_paths):
            owners[path].append((story, pattern))
    for i, (p, s) in enumerate(globs):
        owners[p].append((s, p))
        for q, t in globs[i + 1 :]:
            if s != t and _globs_overlap(p, q):
                owners[p].append((t, q))
    return {path: named for path, named in sorted(owners.items()) if len(named) > 1 and any(story != named[0][0] for story, _ in named)}


def _matching(pattern: str, sorted_paths: list[str]) -> list[str]:
    """The paths a glob matches: only those sharing its literal head are tried."""
    head = _MAGIC.split(pattern, 1)[0]
    start = bisect_left(sorted_paths, head)
    end = bisect_left(sorted_paths, head + "\U0010ffff") if head else len(sorted_paths)
    match = re.compile(translate(pattern)).match
    return [path for path in sorted_paths[start:end] if match(path)]


def _globs_overlap(p: str, q: str) -> bool:
    """Whether two globs may match one path (conservative: when unsure, yes)."""
    if fnmatchcase(p, q) or fnmatchcase(q, p):
        return True
    p_head, q_head = _MAGIC.split(p, 1)[0], _MAGIC.split(q, 1)[0]
    p_tail, q_tail = re.split(r"[*?\]]", p)[-1], re.split(r"[*?\]]", q)[-1]
    heads = p_head.startswith(q_head) or q_head.startswith(p_head)
    tails = p_tail.endswith(q_tail) or q_tail.endswith(p_tail)
    return heads and tails
