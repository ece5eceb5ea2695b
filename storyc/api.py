"""What the CLI does, callable from Python: compile, check, graph, init, schema, status."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storyc.compiler import freshness
from storyc.files import atomic_write
from storyc.plan import Plan, load_plan
from storyc.runners import progress
from storyc.words import count

if TYPE_CHECKING:  # the compiler is imported where it is used: `storyc status` never loads it
    from storyc.compiler import emit


@dataclass(frozen=True)
class CompileResult:
    plan: Plan
    report: emit.WriteReport


def build(root: Path = Path("."), sprint: Path | None = None, tasks: Path | None = None, *, with_deps: bool = False, tag: str | None = None, out: str | None = None) -> CompileResult:
    """Compile and write every artifact; on bad input nothing is written."""
    from storyc.compiler import emit

    with _without_cyclic_gc():
        plan, files = _compile(root, sprint, tasks, with_deps, tag, out)  # every artifact rendered before the first is written
        build_dir = plan.build
        known = emit.previous_spec_digests(root, build_dir)
        report = emit.write_artifacts(root, files, build_dir, known)
        _record_inputs(root, plan, freshness.Args(freshness.relative(sprint, root), freshness.relative(tasks, root), with_deps, tag, out))
        return CompileResult(plan, report)


def _record_inputs(root: Path, plan: Plan, args: freshness.Args) -> None:
    """build/compiled-from.json: what `doit` checks to recompile a plan whose inputs moved."""
    paths = plan.config.paths
    compiled = {entry["path"]: entry["sha256"] for entry in plan.inputs.values()}
    watched = ["storyc.toml", "pyproject.toml", paths.tasks, paths.architecture]
    sprint_dirs = [paths.sprints_dir] if args.sprint is None and not paths.sprint else []
    text = freshness.record(root, paths.build, args, compiled, watched, sprint_dirs, [paths.templates], notes(plan))
    path = root / paths.build / freshness.RECORD
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    atomic_write(path, text)


def summary(plan: Plan) -> str:
    """`6 stories in 3 waves (2 done, 4 open)`: every target whatever its status (the stamps decide what runs)."""
    done = sum(1 for s in plan.targets if s.family == "done")
    cancelled = len(plan.stories) - len(plan.targets)
    return (f"{count(len(plan.targets), 'story', 'stories')} in {count(len(plan.waves), 'wave', 'waves')} ({done} done, {len(plan.targets) - done} open"
            + (f", {cancelled} cancelled" if cancelled else "") + ")")


SHOWN_EDGES = 20  # ordering edges listed by compile; a 10,000-story sprint may have hundreds


def notes(plan: Plan) -> list[str]:
    """What `storyc compile` says about the plan (kept in the input record, so a no-op compile says it again)."""
    lines = [f"{plan.project}: {summary(plan)}", *(f"  {note}" for note in plan.notes)]
    ordering = [e for e in plan.edges if e.kind == "file"]
    lines += [f"  ordering edge {edge.source} -> {edge.target}: {edge.reason}" for edge in ordering[:SHOWN_EDGES]]
    if len(ordering) > SHOWN_EDGES:
        lines.append(f"  ... and {len(ordering) - SHOWN_EDGES} more ordering edges (`storyc graph` shows them all)")
    return lines


def check(root: Path = Path("."), sprint: Path | None = None, tasks: Path | None = None, *, with_deps: bool = False, tag: str | None = None, out: str | None = None) -> Plan:
    """Everything `build` does but writing: the plan, or the first error (templates included)."""
    with _without_cyclic_gc():
        return _compile(root, sprint, tasks, with_deps, tag, out)[0]


def _compile(root: Path, sprint: Path | None, tasks: Path | None, with_deps: bool, tag: str | None, out: str | None) -> tuple[Plan, dict[str, str]]:
    """The plan and every artifact's text, by path."""
    from storyc.compiler import emit
    from storyc.compiler.plan import compile_plan
    from storyc.templates.render import environment, user_templates

    plan = compile_plan(root, sprint, tasks, with_deps=with_deps, tag=tag, build=out)
    env = environment(user_templates(root, plan.config.paths.templates))
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
    from storyc.compiler.view import graph_text, mermaid

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
    from storyc.compiler.model import TasksFile
    from storyc.files import require_root

    require_root(root)
    return TasksFile.model_json_schema()


def init(root: Path = Path(".")) -> list[tuple[str, bool]]:
    """Write storyc.toml, example docs and a .gitignore; never overwrite. Returns (path, written)."""
    from storyc.starter import GITIGNORE_HEAD, STARTER_FILES

    result = []
    for rel, text in STARTER_FILES.items():
        result.append((rel, _write_new(root / rel, text)))
    result.append((".gitignore", _write_new(root / ".gitignore", GITIGNORE_HEAD + "".join(f"{line}\n" for line in ignore_lines(root)))))
    return result


def _write_new(path: Path, text: str) -> bool:
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:  # "x": a file that appeared meanwhile is not overwritten
        handle.write(text)
    return True


def ignore_lines(root: Path = Path("."), *, missing: bool = False) -> list[str]:
    """The .gitignore lines storyc needs (with `missing`, those the project's .gitignore does not cover)."""
    from fnmatch import fnmatchcase

    from storyc.compiler.config import load_config
    from storyc.errors import StorycError
    from storyc.starter import IGNORES

    try:
        build = load_config(root)[0].paths.build.strip("/") or "build"
    except StorycError:
        build = "build"
    needed = {line.format(build=build): [s.format(build=build) for s in samples] for line, samples in IGNORES.items()}
    if not missing:
        return list(needed)
    try:
        text = (root / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return list(needed)
    # A line covers a path when it matches one of its folders or its name, as a .gitignore line does.
    patterns = [_bare(line) for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "!"))]

    def ignored(sample: str) -> bool:
        parts = sample.split("/")
        candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)] + parts
        return any(fnmatchcase(c, p) for p in patterns for c in candidates)

    return [line for line, samples in needed.items() if not all(map(ignored, samples))]


def _bare(line: str) -> str:
    line = line.strip()
    for tail in ("/**", "/*", "/"):
        line = line.removesuffix(tail)
    return line.removeprefix("**/").lstrip("/")


def status(root: Path = Path(".")) -> tuple[Plan, progress.Standing]:
    """The compiled plan and where its run stands (from build/events.jsonl and the run lock)."""
    from storyc.errors import InputError, Where
    from storyc.files import require_root
    from storyc.runners.checkpoints import read_events, run_active

    require_root(root)
    build_dir = freshness.configured_build(root)
    if build_dir is None:  # a config only the compiler can judge: let it (and its errors) speak
        from storyc.compiler.config import load_config

        build_dir = load_config(root)[0].paths.build
    build = root / build_dir
    plan_file = build / "plan.json"
    if not plan_file.is_file():
        raise InputError("no compiled plan: nothing to report", Where(str(plan_file)), hint="run `storyc compile`, then `doit -n 4`")
    plan = load_plan(plan_file)
    return plan, progress.standing(plan, read_events(build / "events.jsonl"), run_active(build))
