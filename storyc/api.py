"""What the CLI does, callable from Python: compile, check, graph, init, schema, status."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from storyc import progress
from storyc.compiler import emit
from storyc.compiler.model import Plan, TasksFile
from storyc.compiler.plan import compile_plan
from storyc.compiler.render import environment, user_templates
from storyc.compiler.view import graph_text, mermaid


@dataclass(frozen=True)
class CompileResult:
    plan: Plan
    report: emit.WriteReport


def build(root: Path = Path("."), sprint: Path | None = None, tasks: Path | None = None, *, with_deps: bool = False, tag: str | None = None, out: str | None = None) -> CompileResult:
    """Compile and write every artifact; on bad input nothing is written."""
    with _without_cyclic_gc():
        plan, files = _compile(root, sprint, tasks, with_deps, tag, out)  # every artifact rendered before the first is written
        build_dir = plan.config["paths"]["build"]
        known = emit.previous_spec_digests(root, build_dir)
        return CompileResult(plan, emit.write_artifacts(root, files, build_dir, known))


def check(root: Path = Path("."), sprint: Path | None = None, tasks: Path | None = None, *, with_deps: bool = False, tag: str | None = None, out: str | None = None) -> Plan:
    """Everything `build` does but writing: the plan, or the first error (templates included)."""
    with _without_cyclic_gc():
        return _compile(root, sprint, tasks, with_deps, tag, out)[0]


def _compile(root: Path, sprint: Path | None, tasks: Path | None, with_deps: bool, tag: str | None, out: str | None) -> tuple[Plan, dict[str, str]]:
    """The plan and every artifact's text, by path."""
    plan = compile_plan(root, sprint, tasks, with_deps=with_deps, tag=tag, build=out)
    env = environment(user_templates(root, plan.config["paths"]["templates"]))
    return plan, emit.artifacts(plan, env)


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """A compile makes a few dozen objects per story and keeps nearly all of them
    until it returns; the cyclic collector would walk them again and again
    (a tenth of a 10,000-story compile) to free nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def graph(plan: Plan, fmt: str = "text") -> str:
    if fmt == "mermaid":
        return mermaid(plan)
    if fmt == "dot":
        return dot(plan)
    return graph_text(plan)


def dot(plan: Plan) -> str:
    lines = ["digraph sprint {", "  rankdir=LR;", "  node [shape=box];"]
    for s in plan.targets:
        lines.append(f"  {_dot_id(s.id)} [label={_dot_id(f'{s.id}: {s.title}')}];")
    for e in plan.edges:
        style = f" [style=dashed, label={_dot_id(e.reason)}]" if e.kind == "file" else ""
        lines.append(f"  {_dot_id(e.source)} -> {_dot_id(e.target)}{style};")
    lines.append("}")
    return "\n".join(lines)


def _dot_id(text: str) -> str:
    """A quoted Graphviz id: UTF-8 as it is (Graphviz reads no \\u escapes), quotes and backslashes escaped."""
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def schema(root: Path = Path(".")) -> dict:
    """The JSON Schema of tasks.json; the same for every repository, but a --root that is no folder is an error."""
    from storyc.compiler.source import require_root

    require_root(root)
    return TasksFile.model_json_schema()


def init(root: Path = Path(".")) -> list[tuple[str, bool]]:
    """Write storyc.toml and example docs; never overwrite. Returns (path, written)."""
    from storyc.starter import STARTER_FILES

    result = []
    for rel, text in STARTER_FILES.items():
        path = root / rel
        if path.exists():
            result.append((rel, False))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": a file that appeared meanwhile is not overwritten
            handle.write(text)
        result.append((rel, True))
    return result


def status(root: Path = Path(".")) -> tuple[dict, progress.Snapshot]:
    """The compiled plan and where its run stands (from build/events.jsonl and the run lock)."""
    import json

    from storyc.checkpoints import read_events, run_active
    from storyc.compiler.config import load_config
    from storyc.compiler.source import require_root
    from storyc.errors import InputError, Where

    require_root(root)
    config, _ = load_config(root)
    build = root / config.paths.build
    plan_file = build / "plan.json"
    if not plan_file.is_file():
        raise InputError("no compiled plan: nothing to report", Where(str(plan_file)), hint="run `storyc compile`, then `doit -n 4`")
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    return plan, progress.snapshot(plan, read_events(build / "events.jsonl"), run_active(build))
