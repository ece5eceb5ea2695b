"""Command lines into library calls; the one place errors become text and exit codes.

Each command imports the library itself, so that `storyc --help` and
`storyc --version` answer in 0.03 s instead of loading the compiler (0.3 s).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click

from storyc import __version__
from storyc.errors import EXIT_INTERNAL, StorycError

ROOT = click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=".", show_default=True, help="The repository to work in.")
TASKS = click.option("--tasks", type=click.Path(dir_okay=False, path_type=Path), help="tasks.json to read (default: [paths] tasks).")
TAG = click.option("--tag", help="Task Master tag to read (default: master).")
WITH_DEPS = click.option("--with-deps", is_flag=True, help="Pull unfinished dependencies from outside the sprint into scope.")
SPRINT = click.argument("sprint", required=False, type=click.Path(dir_okay=False, path_type=Path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="storyc")
def cli() -> None:
    """storyc compiles a sprint and its tasks.json into a doit task graph and
    an Implementation Orchestration Plan.

    Example: storyc compile && doit list && doit -n 4
    """


@cli.command()
@SPRINT
@TASKS
@WITH_DEPS
@TAG
@click.option("--out", help="Build directory (default: [paths] build).")
@ROOT
def compile(sprint, tasks, with_deps, tag, out, root) -> None:
    """Compile SPRINT into build/plan.json, build/ORCHESTRATION_PLAN.md and dodo.py.

    With no SPRINT: [paths] sprint, else the highest-numbered file in
    docs/sprints/, else every open story is in scope. Files whose content would
    not change are not rewritten.

    Example: storyc compile docs/sprints/sprint-003.md --with-deps
    """
    from storyc.compiler import freshness
    args = freshness.Args(freshness.relative(sprint, root), freshness.relative(tasks, root), with_deps, tag, out)
    if (notes := freshness.unchanged(root, args)) is not None:  # answered from digests: no compiler loaded
        click.echo("\n".join([*notes, "  nothing changed since the last compile: wrote nothing"]))
        return
    from storyc import api
    result = api.build(root, sprint, tasks, with_deps=with_deps, tag=tag, out=out)
    report = result.report
    click.echo("\n".join(api.notes(result.plan)))
    click.echo(f"  wrote {len(report.written)} file(s), {len(report.unchanged)} unchanged" + (f", removed {len(report.removed)}" if report.removed else ""))


@cli.command()
@SPRINT
@TASKS
@WITH_DEPS
@TAG
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@ROOT
def check(sprint, tasks, with_deps, tag, fmt, root) -> None:
    """Check the inputs without writing anything; exit 2 on the first fault.

    Example: storyc check --format json
    """
    from storyc import api
    from storyc.plan import json_fields
    try:
        plan = api.check(root, sprint, tasks, with_deps=with_deps, tag=tag)
    except StorycError as exc:
        if fmt != "json":
            raise
        where = exc.where
        click.echo(json.dumps({"ok": False, "error": {"message": exc.message, "file": where.file if where else None, "line": where.line if where else None, "hint": exc.hint}}, indent=2))
        sys.exit(exc.exit_code)
    summary = {
        "ok": True,
        "project": plan.project,
        "stories": len(plan.stories),
        "targets": len(plan.targets),
        "waves": len(plan.waves),
        "ordering_edges": [json_fields(e) for e in plan.edges if e.kind == "file"],
        "critical_path": plan.critical_path,
        "notes": list(plan.notes),
    }
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"ok: {api.summary(plan)}; critical path {' -> '.join(plan.critical_path['stories']) or 'empty'}")
        for note in plan.notes:
            click.echo(f"  {note}")
        for edge in summary["ordering_edges"]:
            click.echo(f"  ordering edge {edge['from']} -> {edge['to']}: {edge['reason']}")


@cli.command()
@SPRINT
@TASKS
@WITH_DEPS
@TAG
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid", "dot"]), default="text", show_default=True)
@ROOT
def graph(sprint, tasks, with_deps, tag, fmt, root) -> None:
    """Print the story graph as text, Mermaid or Graphviz dot.

    Example: storyc graph --format dot | dot -Tsvg > sprint.svg
    """
    from storyc import api
    plan = api.check(root, sprint, tasks, with_deps=with_deps, tag=tag)
    click.echo(api.graph(plan, fmt))


@cli.command()
@ROOT
def init(root) -> None:
    """Write storyc.toml, example docs and a .gitignore; never overwrite a file.

    Example: storyc init && storyc compile
    """
    from storyc import api
    for rel, written in api.init(root):
        if rel != ".gitignore":
            click.echo(f"{'wrote' if written else 'kept '} {rel}")
        elif written:
            click.echo(f"wrote {rel} ({', '.join(api.ignore_lines(root))})")
        else:
            click.echo(f"kept  {rel}")
            if lines := api.ignore_lines(root, missing=True):
                click.echo("      add these lines to it (storyc and doit write there as they run; your file is left as it is):")
                click.echo("".join(f"        {line}\n" for line in lines), nl=False)


@cli.command()
@ROOT
def schema(root) -> None:
    """Print the JSON Schema of tasks.json (native shape).

    Example: storyc schema > tasks.schema.json
    """
    from storyc import api
    click.echo(json.dumps(api.schema(root), indent=2))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json", "gantt"]), default="text", show_default=True,
              help="gantt: a Mermaid Gantt chart of the latest run, a lane per worker")
@ROOT
def status(fmt, root) -> None:
    """Wave progress, active agents, blocked stories with their reasons, tokens and cost so far.

    Example: storyc status --format json
    """
    from storyc import api
    from storyc.runners import progress
    plan, standing = api.status(root)
    if fmt == "gantt":
        from storyc.runners import gantt
        from storyc.runners.checkpoints import read_events

        events = read_events(root / plan.build / "events.jsonl")
        chart = gantt.gantt(gantt.last_run(events), plan.sprint.name)
        click.echo(chart) if chart else click.echo("storyc: no story has run yet: nothing to chart", err=True)
    elif fmt == "json":
        click.echo(json.dumps(standing.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(progress.status_text(plan, standing), nl=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point: bad input is exit 2 with a message, never a traceback."""
    try:
        cli.main(args=argv, prog_name="storyc", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except StorycError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception:  # a bug in storyc: say so, and keep the trace for the report
        click.echo("internal error in storyc (please report it with the trace below):", err=True)
        click.echo(traceback.format_exc(), err=True)
        sys.exit(EXIT_INTERNAL)
