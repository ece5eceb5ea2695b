"""Properties of StoryGraph on random DAGs, and of a whole compile on random tasks.json files.

Random inputs: up to 40 stories, edges only from a lower to a higher index (so
the input is a DAG), each story touching a few files drawn from a small pool
that mixes literal paths and globs.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyc import api
from storyc.compiler.graph import OrderingEdge, StoryGraph

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COMPILE_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LITERALS = (
    "src/shop/cart.py",
    "src/shop/models.py",
    "src/shop/__init__.py",
    "src/app.py",
    "src/util.py",
    "tests/test_cart.py",
    "tests/test_models.py",
    "README.md",
)
GLOBS = (
    "src/*.py",
    "src/shop/*.py",
    "src/shop/c*.py",
    "tests/test_*.py",
    "docs/*.md",
)
POOL = LITERALS + GLOBS
# Paths that might be edited, to decide whether two globs can ever touch the same file.
WITNESSES = LITERALS + (
    "src/shop/checkout.py",
    "src/shop/c.py",
    "src/other.py",
    "src/shop/sub/x.py",
    "tests/test_x.py",
    "docs/a.md",
    "docs/sub/b.md",
)
HOURS = (1.0, 3.0, 6.0, 12.0, 20.0)  # whole numbers: sums are exact, no float noise


def is_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def conflict(a: list[str], b: list[str]) -> str | None:
    """A file both lists may change: a shared literal, a glob matching a literal, or overlapping globs."""
    for p in a:
        for q in b:
            if p == q:
                return p
            if is_glob(p) and not is_glob(q) and fnmatchcase(q, p):
                return q
            if is_glob(q) and not is_glob(p) and fnmatchcase(p, q):
                return p
            if is_glob(p) and is_glob(q):
                for w in WITNESSES:
                    if fnmatchcase(w, p) and fnmatchcase(w, q):
                        return w
    return None


@dataclass(frozen=True)
class Dag:
    ids: list[str]
    hours: dict[str, float]
    edges: list[tuple[str, str]]  # (before, after), in insertion order
    files: dict[str, list[str]]
    declared: tuple[str, ...] = ()  # declaration order when not index order (a story may need a later-declared one)

    @property
    def order(self) -> list[str]:
        return list(self.declared or self.ids)


def sid(i: int) -> str:
    return f"US-{i + 1:03d}"


@st.composite
def dags(draw: st.DrawFn, max_n: int = 40) -> Dag:
    n = draw(st.integers(min_value=0, max_value=max_n))
    ids = [sid(i) for i in range(n)]
    hours = {s: draw(st.sampled_from(HOURS)) for s in ids}
    pairs = draw(st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, max(n - 1, 0))), max_size=3 * n))
    # Lower index before higher: a DAG by construction. Duplicates and self-pairs are dropped.
    edges = list(dict.fromkeys((ids[min(i, j)], ids[max(i, j)]) for i, j in pairs if i != j))
    files = {s: draw(st.lists(st.sampled_from(POOL), max_size=3, unique=True)) for s in ids}
    declared = tuple(draw(st.permutations(ids))) if draw(st.booleans()) else ()
    return Dag(ids, hours, edges, files, declared)


def make_graph(dag: Dag, edges: list[tuple[str, str]] | None = None) -> StoryGraph:
    g = StoryGraph()
    for s in dag.order:
        g.add_story(s, dag.hours[s])
    for a, b in dag.edges if edges is None else edges:
        g.add_edge(a, b)
    return g


def edges_of(g: StoryGraph, ids: list[str]) -> list[tuple[str, str]]:
    """Every edge, through the public API only."""
    return [(a, b) for b in ids for a in g.needs(b)]


def snapshot(g: StoryGraph, ids: list[str]) -> tuple:
    return (g.waves(), edges_of(g, ids), g.critical_path(), g.topological_order(), g.cycle())


def longest_path_hours(g: StoryGraph, ids: list[str], hours: dict[str, float]) -> float:
    best: dict[str, float] = {}
    for s in g.topological_order():
        best[s] = hours[s] + max((best[p] for p in g.needs(s)), default=0.0)
    return max(best.values(), default=0.0)


def check_waves(g: StoryGraph, ids: list[str]) -> dict[str, int]:
    waves = g.waves()
    flat = [s for wave in waves for s in wave]
    assert sorted(flat) == sorted(ids), "every story is in exactly one wave"
    assert len(flat) == len(set(flat))
    assert all(wave for wave in waves), "no empty wave"
    wave_of = {s: n for n, wave in enumerate(waves) for s in wave}
    for a, b in edges_of(g, ids):
        assert wave_of[a] < wave_of[b], f"edge {a} -> {b} goes from wave {wave_of[a]} to wave {wave_of[b]}"
    return wave_of


# ---------------------------------------------------------------- StoryGraph


@SETTINGS
@given(dags())
def test_waves_respect_every_edge(dag: Dag) -> None:
    g = make_graph(dag)
    assert g.cycle() is None
    wave_of = check_waves(g, dag.ids)
    assert set(edges_of(g, dag.ids)) == set(dag.edges)
    # Wave numbers are the longest chain of dependencies before a story: nothing waits longer than it must.
    for s in dag.ids:
        needs = g.needs(s)
        assert wave_of[s] == (max(wave_of[p] for p in needs) + 1 if needs else 0)


@SETTINGS
@given(dags())
def test_order_shared_files_keeps_a_dag_and_separates_conflicts(dag: Dag) -> None:
    g = make_graph(dag)
    added = g.order_shared_files(dag.files)
    assert g.cycle() is None
    wave_of = check_waves(g, dag.ids)
    # Every added edge is new, is reported with a path both stories touch, and now really is an edge.
    declared = set(dag.edges)
    now = set(edges_of(g, dag.ids))
    for e in added:
        assert isinstance(e, OrderingEdge)
        assert (e.before, e.after) not in declared
        assert (e.before, e.after) in now
        assert conflict(dag.files[e.before], [e.path]) and conflict(dag.files[e.after], [e.path])
    assert now == declared | {(e.before, e.after) for e in added}
    # No two stories that may run at once share a file.
    waves: dict[int, list[str]] = {}
    for s, n in wave_of.items():
        waves.setdefault(n, []).append(s)
    for members in waves.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                shared = conflict(dag.files[a], dag.files[b])
                assert shared is None, f"{a} and {b} are both in one wave and both change {shared}"
    # Stronger: any two conflicting stories are ordered one way or the other.
    for i, a in enumerate(dag.ids):
        for b in dag.ids[i + 1 :]:
            if conflict(dag.files[a], dag.files[b]):
                assert g.reaches(a, b) or g.reaches(b, a), f"{a} and {b} share a file and are unordered"


@SETTINGS
@given(dags(), st.booleans())
def test_critical_path_is_a_real_longest_path(dag: Dag, ordered: bool) -> None:
    g = make_graph(dag)
    if ordered:
        g.order_shared_files(dag.files)
    path, hours = g.critical_path()
    if not dag.ids:
        assert (path, hours) == ([], 0.0)
        return
    assert path, "a non-empty graph has a non-empty critical path"
    assert len(set(path)) == len(path)
    for a, b in zip(path, path[1:]):
        assert a in g.needs(b), f"{a} -> {b} on the critical path is not an edge"
    assert hours == sum(dag.hours[s] for s in path)
    assert hours == longest_path_hours(g, dag.ids, dag.hours)
    assert not g.needs(path[0]), "the path starts at a story that waits for nothing"


@SETTINGS
@given(dags(), st.booleans())
def test_remaining_paths_order_every_story_after_those_it_needs(dag: Dag, ordered: bool) -> None:
    g = make_graph(dag)
    if ordered:
        g.order_shared_files(dag.files)
    remaining = g.remaining()
    assert set(remaining) == set(dag.ids)
    for sid_ in dag.ids:
        below = [remaining[d] for d in dag.ids if sid_ in g.needs(d)]
        assert remaining[sid_] == dag.hours[sid_] + max(below, default=0.0)
    order = g.by_remaining(remaining)
    position = {s: n for n, s in enumerate(order)}
    assert all(position[u] < position[s] for s in dag.ids for u in g.needs(s))
    assert max(remaining.values(), default=0.0) == g.critical_path()[1]


@SETTINGS
@given(dags(), st.randoms(use_true_random=False))
def test_graph_is_deterministic(dag: Dag, rnd: random.Random) -> None:
    first, second = make_graph(dag), make_graph(dag)
    added1, added2 = first.order_shared_files(dag.files), second.order_shared_files(dag.files)
    assert added1 == added2
    assert snapshot(first, dag.ids) == snapshot(second, dag.ids)
    # The same edges added in another order give the same plan too.
    shuffled = list(dag.edges)
    rnd.shuffle(shuffled)
    third = make_graph(dag, shuffled)
    assert third.order_shared_files(dag.files) == added1
    assert snapshot(third, dag.ids) == snapshot(first, dag.ids)


@SETTINGS
@given(dags(max_n=20), st.data())
def test_cycle_is_a_closed_walk_from_its_earliest_declared_story(dag: Dag, data: st.DataObject) -> None:
    if len(dag.ids) < 2:
        return
    # Close a cycle: a back edge from a later story to an earlier one on a forward chain.
    i = data.draw(st.integers(0, len(dag.ids) - 2))
    j = data.draw(st.integers(i + 1, len(dag.ids) - 1))
    chain = [(dag.ids[k], dag.ids[k + 1]) for k in range(i, j)]
    declaration = data.draw(st.permutations(dag.ids))
    g = StoryGraph()
    for s in declaration:
        g.add_story(s, dag.hours[s])
    for a, b in dag.edges + chain + [(dag.ids[j], dag.ids[i])]:
        g.add_edge(a, b)
    walk = g.cycle()
    assert walk is not None
    assert walk[0] == walk[-1] and len(walk) >= 3
    assert len(set(walk[:-1])) == len(walk) - 1, "a simple cycle visits each story once"
    for a, b in zip(walk, walk[1:]):
        assert a in g.needs(b), f"{a} -> {b} in the cycle is not an edge"
    assert walk[0] == min(walk[:-1], key=declaration.index)


def test_cycle_starts_at_the_earliest_declared_story() -> None:
    g = StoryGraph()
    for s in ("US-009", "US-003", "US-001", "US-002"):
        g.add_story(s, 1.0)
    g.add_edge("US-002", "US-001")
    g.add_edge("US-001", "US-003")
    g.add_edge("US-003", "US-009")
    g.add_edge("US-009", "US-001")
    assert g.cycle() == ["US-009", "US-001", "US-003", "US-009"]


def test_acyclic_graph_has_no_cycle() -> None:
    g = StoryGraph()
    g.add_story("A", 1.0)
    g.add_story("B", 1.0)
    g.add_edge("A", "B")
    assert g.cycle() is None
    assert StoryGraph().cycle() is None


def test_glob_orders_parallel_stories_against_a_literal() -> None:
    g = StoryGraph()
    g.add_story("US-001", 3.0)
    g.add_story("US-002", 3.0)
    assert g.waves() == [["US-001", "US-002"]]
    added = g.order_shared_files({"US-001": ["src/shop/*.py"], "US-002": ["src/shop/cart.py", "tests/test_cart.py"]})
    assert added == [OrderingEdge("US-001", "US-002", "src/shop/cart.py")]
    assert g.waves() == [["US-001"], ["US-002"]]
    assert g.needs("US-002") == ["US-001"]


def test_glob_not_matching_leaves_stories_parallel() -> None:
    g = StoryGraph()
    g.add_story("US-001", 3.0)
    g.add_story("US-002", 3.0)
    assert g.order_shared_files({"US-001": ["src/shop/*.py"], "US-002": ["tests/test_cart.py"]}) == []
    assert g.waves() == [["US-001", "US-002"]]


def test_ordering_follows_existing_dependencies() -> None:
    """A later-declared story that an earlier one already waits for goes first: no cycle."""
    g = StoryGraph()
    for s in ("US-001", "US-002", "US-003"):
        g.add_story(s, 1.0)
    g.add_edge("US-003", "US-002")  # US-002 needs US-003
    added = g.order_shared_files({"US-001": ["src/a.py"], "US-002": ["src/a.py"], "US-003": ["src/a.py"]})
    assert g.cycle() is None
    assert all(g.reaches(e.before, e.after) for e in added)
    order = g.topological_order()
    assert order.index("US-003") < order.index("US-002")
    assert len({n for n, wave in enumerate(g.waves()) for _ in wave}) == 3


# ---------------------------------------------------------------- whole compile


def write_tasks(root: Path, dag: Dag, project: str | None) -> None:
    sizes = {1.0: "XS", 3.0: "S", 6.0: "M", 12.0: "L", 20.0: "XL"}
    needs: dict[str, list[str]] = {s: [] for s in dag.ids}
    for a, b in dag.edges:
        needs[b].append(a)
    stories = [
        {
            "id": s,
            "title": f"Story {s}",
            "description": f"As a user, I want {s}.",
            "size": sizes[dag.hours[s]],
            "depends_on": needs[s],
            "files": dag.files[s],
            "acceptance_criteria": [f"{s} works."],
            "status": "todo",
        }
        for s in dag.order
    ]
    data = {"version": 1, **({"project": project} if project else {}), "stories": stories}
    tasks = root / "docs/tasks/tasks.json"
    tasks.parent.mkdir(parents=True, exist_ok=True)
    tasks.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def tree(root: Path) -> dict[str, bytes]:
    """Every artifact's bytes; build/compiled-from.json is a cache of stats (mtimes), not an artifact."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != "compiled-from.json"}


@COMPILE_SETTINGS
@given(dags(max_n=25), st.sampled_from([None, "Random Project"]))
def test_compile_is_byte_deterministic_and_idempotent(dag: Dag, project: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # Same directory name under two parents: even a project name taken from the folder is the same.
        roots = [Path(tmp) / side / "proj" for side in ("a", "b")]
        for root in roots:
            write_tasks(root, dag, project)
        results = [api.build(root) for root in roots]
        assert tree(roots[0]) == tree(roots[1])
        outputs = set(tree(roots[0])) - {"docs/tasks/tasks.json"}
        assert {"build/plan.json", "build/ORCHESTRATION_PLAN.md", "dodo.py"} <= outputs
        assert sorted(results[0].report.written) == sorted(outputs)
        # The compiled waves are the graph's waves.
        g = make_graph(dag)
        g.order_shared_files(dag.files)
        assert results[0].plan.waves == g.waves()
        again = api.build(roots[0])
        assert again.report.written == []
        assert again.report.removed == []
        assert tree(roots[0]) == tree(roots[1])


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_compiles_are_idempotent(tmp_path: Path, n: int) -> None:
    dag = Dag([sid(i) for i in range(n)], {sid(i): 3.0 for i in range(n)}, [], {sid(i): [] for i in range(n)})
    write_tasks(tmp_path, dag, "Tiny")
    api.build(tmp_path)
    assert api.build(tmp_path).report.written == []


def random_dag(seed: int, n: int) -> Dag:
    rnd = random.Random(seed)
    ids = [sid(i) for i in range(n)]
    edges = sorted({(ids[i], ids[j]) for j in range(n) for i in range(j) if rnd.random() < 0.1})
    return Dag(ids, {s: rnd.choice(HOURS) for s in ids}, edges, {s: rnd.sample(POOL, rnd.randint(0, 3)) for s in ids})


def test_compile_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """Set and dict iteration must never leak into the output: same bytes under any PYTHONHASHSEED."""
    dag = random_dag(7, 30)
    trees = []
    for seed in ("0", "1", "2", "12345"):
        root = tmp_path / seed / "proj"
        write_tasks(root, dag, "Hash Seeds")
        code = "import sys; from pathlib import Path; from storyc import api; api.build(Path(sys.argv[1]))"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        # cwd: from the repository root, `python -c` would import the source folder storyc/, not the installed package.
        subprocess.run([sys.executable, "-c", code, str(root)], check=True, env=env, timeout=60, cwd=tmp_path)
        trees.append(tree(root))
    assert all(t == trees[0] for t in trees[1:])
    assert b'"kind": "file"' in trees[0]["build/plan.json"], "the sample should exercise file ordering"
