"""A Plan into the values the orchestration plan template lays out."""

from __future__ import annotations

import shlex
from collections import Counter

import jinja2

from storyc.plan import Edge, IntegrationPoint, Plan, PlannedStory, Policy
from storyc.roles import ROLE_TOOLS
from storyc.words import count

from ..templates import status
from ..templates.render import prompt_name, render
from .plan import TEST_GATES

TOOLS = {role.title(): ", ".join(tools) for role, tools in ROLE_TOOLS.items()}
COMMAND_TOOLS = "the agent CLI's own (storyc does not restrict them)"
GATE_CHECK = {"typecheck": "0 errors", "lint": "0 errors", "test": "all pass", "integration": "all pass", "e2e": "all pass"}
TEST_WORDS = {"unit": "Unit only", "unit+integration": "Unit + Integration", "full": "Full suite", "full+e2e": "Full + E2E"}
BANDS = {"XS": "XS (< 2hr)", "S": "S (2-4hr)", "M": "M (4-8hr)", "L": "L (1-2d)", "XL": "XL (2-3d)"}


def document_view(plan: Plan, env: jinja2.Environment) -> dict:
    targets = plan.targets
    by_id = {s.id: s for s in plan.stories}
    config = plan.config
    left_out = [s for s in plan.stories if not s.target]
    waves = status.wave_rows(plan.waves, {s.id: s.family for s in plan.stories})
    return {
        "plan": plan,
        "config": config,
        "sprint_label": plan.sprint.title,
        "created": plan.sprint.date or ("not dated (set `date:` in the sprint's front matter)" if plan.sprint.file else "not dated (no sprint file)"),
        "scope": _scope(plan, targets),
        "targets": targets,
        "left_out": left_out,
        "defaulted": [s.id for s in targets if s.size_source == "default"],
        "runner": _runner(plan),
        "small_model": _small_model(plan),
        "haiku_sizes": "/".join(size for size, row in config.policy.items() if row.model == "haiku"),  # for copies of the template made before small_model
        "agents": _agents(plan, targets),
        "rationale": _rationale(plan, targets),
        "graph_text": graph_text(plan),
        "mermaid": mermaid(plan),
        "critical_hours": duration(plan.critical_path["hours"]) + (", estimated from measured builds: see Velocity below" if plan.velocity["scale"] is not None else ", estimated from sizes: no build measured yet"),
        "velocity": _velocity(plan, targets),
        "waves": [_wave(plan, n, ids, by_id, ordered) for n, ids, ordered in _waves_with_ordering(plan, by_id)],
        "gates": _gates(plan),
        "gates_run": _gates_run(plan),
        "matrix": [_matrix_row(plan, size, row) for size, row in config.policy.items()],
        "integration_rows": [_integration_row(p) for p in plan.integration_points],
        "integration_strategy": _integration_strategy(plan),
        "gate_failure": _gate_failure(plan),
        "prompts": _prompts(plan, env, targets),
        "ladder": _ladder(plan),
        "status": _status(plan, targets, waves),
        # for copies of the template made before `status`, which drew its tables themselves:
        "status_rows": waves,
        "active": [s for s in targets if s.family == "in_progress"],
        "file_edges": [e for e in plan.edges if e.kind == "file"],
    }


def _scope(plan: Plan, targets: list[PlannedStory]) -> str:
    """The Stories in Scope cell: how many, from where, how far along, and what was left out."""
    done = sum(1 for s in targets if s.family == "done")
    text = f"{len(targets)} from `{plan.inputs['tasks']['path']}` ({done} done, {len(targets) - done} open)"
    if cancelled := len(plan.stories) - len(targets):
        text += f"; {cancelled} cancelled, not built"
    if plan.pulled_in:
        text += f"; {len(plan.pulled_in)} pulled in by --with-deps: {', '.join(plan.pulled_in[:10])}{', ...' if len(plan.pulled_in) > 10 else ''}"
    if plan.sprint.file is None:
        left = ", ".join(f"{len(ids)} {family.replace('_', ' ')}" for family, ids in plan.excluded.items())
        text += f"; no sprint file, so every open story and every story storyc built; not in scope: {left}" if left else "; no sprint file, so every open story and every story storyc built"
    return text


def _is_command(plan: Plan) -> bool:
    """The command runner: an agent CLI of the user's choice, not a Claude model in storyc's tool loop."""
    return plan.config.runner.kind == "command"


def _runner(plan: Plan) -> dict:
    """How the agents run, as the Orchestrator row says it."""
    runner = plan.config.runner
    if runner.kind != "command":
        return {"kind": runner.kind, "line": f"{runner.kind} runner for the agents"}
    return {"kind": "command", "line": f"the agents run as `{shlex.join(runner.argv) or '(no argv)'}` (command runner)"}


def _model_name(plan: Plan, tier: str, model: str) -> str:
    """`Haiku (claude-haiku-4-5)` for a Claude runner; a command runner's agent CLI gets the id alone."""
    return model if tier == "custom" or _is_command(plan) else f"{tier.title()} ({model})"


def _models_used(plan: Plan, stories: list[PlannedStory]) -> str:
    used = sorted({(s.policy.tier, s.policy.model) for s in stories})
    return " / ".join(_model_name(plan, tier, model) for tier, model in used) or "none (no story to build)"


def _passes_model(plan: Plan) -> bool:
    return any("{model}" in arg for arg in plan.config.runner.argv)


def _agents(plan: Plan, targets: list[PlannedStory]) -> list[dict]:
    models = plan.config.models
    reviewed = [s for s in targets if s.policy.reviewer]
    builder = _models_used(plan, targets)
    reviewer = _models_used(plan, reviewed) if reviewed else f"{_model_name(plan, 'sonnet', models.sonnet)}, no story needs it"
    if not _is_command(plan):
        return [
            {"name": "Builder", "model": builder, "focus": "Code implementation", "tools": TOOLS["Builder"]},
            {"name": "Validator", "model": f"Haiku ({models.haiku})", "focus": "Tests, lint, typecheck (storyc runs the gates; the model condenses failures)", "tools": TOOLS["Validator"]},
            {"name": "Reviewer", "model": reviewer, "focus": "Code review, security", "tools": TOOLS["Reviewer"]},
        ]
    if not _passes_model(plan):
        builder, reviewer = (f"the agent CLI's own (argv has no `{{model}}`; STORYC_MODEL says {m})" for m in (builder, reviewer))
    return [
        {"name": "Builder", "model": builder, "focus": "Code implementation (`{role}` and STORYC_ROLE are builder)", "tools": COMMAND_TOOLS},
        {"name": "Validator", "model": "none", "focus": "Not called: storyc runs the gates, and a fix attempt reads their output as it is", "tools": "-"},
        {"name": "Reviewer", "model": reviewer, "focus": "Code review, security (`{role}` and STORYC_ROLE are reviewer; the last line of its output is the verdict)", "tools": COMMAND_TOOLS},
    ]


def _small_model(plan: Plan) -> dict:
    """The Velocity Optimizations row on the smallest model: which sizes use it, and who else does."""
    config = plan.config
    sizes = "/".join(size for size, row in config.policy.items() if row.model == "haiku")
    if _is_command(plan):
        name = f"`{config.models.haiku}`"
        return {"label": "Smallest model for simple tasks", "text": f"{name} for {sizes}-sized stories (the policy's choice)" if sizes else f"No size uses {name} in this policy"}
    return {"label": "Haiku for simple tasks", "text": f"{sizes}-sized stories (the policy's choice), and the Validator" if sizes else "No size uses Haiku in this policy; the Validator does"}


def _rationale(plan: Plan, targets: list[PlannedStory]) -> list[str]:
    per_tier = Counter(s.policy.tier for s in targets)
    sizes = lambda tier: ", ".join(sorted({s.size for s in targets if s.policy.tier == tier}, key=list(BANDS).index))  # noqa: E731
    models = plan.config.models
    command = _is_command(plan)
    lines = []
    for tier, why in (("haiku", "repetitive or simple work"), ("sonnet", "code generation and review"), ("opus", "critical work")):
        if per_tier[tier]:
            name = f"`{models.tier(tier)}` ([models] {tier})" if command else tier.title()
            lines.append(f"{name} for {why}: {count(per_tier[tier], 'story', 'stories')} ({sizes(tier)})")
    if per_tier["custom"]:
        lines.append(f"Models set per story: {count(per_tier['custom'], 'story', 'stories')}")
    top = f"`{models.opus}` ([models] opus)" if command else f"Opus ({models.opus})"
    lines.append(f"{top} only as the last rung of escalation; orchestration itself is deterministic code (storyc + doit)")
    if command:
        lines.append(
            "The command runner passes the model to the agent CLI as `{model}` and STORYC_MODEL: name models it knows in [models]"
            if _passes_model(plan)
            else "The command runner's argv has no `{model}`: the agent CLI uses its own model unless it reads STORYC_MODEL"
        )
    return lines


def graph_text(plan: Plan) -> str:
    """The graph as lines `[a] + [b] ──→ [c]`, in topological order; `··→` is a file-ordering edge."""
    if not plan.targets:
        return "(no stories to build)"
    declared: dict[str, list[str]] = {}
    for edge in plan.edges:
        if edge.kind != "file":
            declared.setdefault(edge.target, []).append(edge.source)
    has_edge = {e.source for e in plan.edges} | {e.target for e in plan.edges}
    lines = []
    for wave in plan.waves:
        for sid in wave:
            if sid in declared:
                lines.append(" + ".join(f"[{d}]" for d in declared[sid]) + f" ──→ [{sid}]")
            elif sid not in has_edge:
                lines.append(f"[{sid}]")
    for edge in plan.edges:
        if edge.kind == "file":
            lines.append(f"[{edge.source}] ··→ [{edge.target}]   ({edge.reason})")
    return "\n".join(lines)


CRITICAL_STYLE = "stroke:#d62728,stroke-width:3px"


def mermaid(plan: Plan) -> str:
    """A `graph LR` block with the critical path drawn thick and red; nodes are numbered,
    so no story id can break the syntax or collide."""
    lines = ["graph LR"]
    node = {story.id: f"s{n}" for n, story in enumerate(plan.targets, 1)}
    for story in plan.targets:
        lines.append(f'  {node[story.id]}["{_mermaid_text(f"{story.id}: {story.title}")}"]')
    path = plan.critical_path["stories"]
    steps = set(zip(path, path[1:]))
    on_path = []
    for n, edge in enumerate(plan.edges):
        arrow = f'-.->|"{_mermaid_text(edge.reason.removeprefix("both change "))}"|' if edge.kind == "file" else "-->"
        lines.append(f"  {node[edge.source]} {arrow} {node[edge.target]}")
        if (edge.source, edge.target) in steps:
            on_path.append(str(n))  # linkStyle counts the edges in the order they are written
    if path:
        lines.append(f"  classDef critical {CRITICAL_STYLE}")
        lines.append(f"  class {','.join(node[s] for s in path)} critical")
    if on_path:
        lines.append(f"  linkStyle {','.join(on_path)} {CRITICAL_STYLE}")
    return "\n".join(lines)


def duration(hours: float) -> str:
    """Hours as a person reads them: `40 s`, `12 min`, `3 h`, `1.5 h`."""
    seconds = hours * 3600
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 59.5 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{round(hours, 1):g} h"


def _velocity(plan: Plan, targets: list[PlannedStory]) -> dict:
    """Section 3's Velocity table: per size, the seed's band against the median of finished builds, and what the plan uses."""
    velocity = plan.velocity
    rows = []
    for entry in velocity["sizes"]:
        size, measured = entry["size"], entry["measured"]
        stories = [s for s in targets if s.size == size]
        if not stories and not measured:
            continue
        used = sorted({(s.estimate_hours, s.estimate_source) for s in stories})
        cells = [_measured_cells(f"{size}, all models" if len(entry["models"]) > 1 else size, entry["band_hours"], measured)]
        if len(entry["models"]) > 1:
            cells += [_measured_cells(f"{size} on {m['model']}", entry["band_hours"], m) for m in entry["models"]]
        cells[0]["stories"] = len(stories)
        cells[0]["used"] = "; ".join(f"{duration(h)}: {source}" for h, source in used) or "-"
        rows += cells
    return {"rows": rows, "min_samples": velocity["min_samples"], "builds": velocity["builds"], "scale": velocity["scale"], "scaled_by": "/".join(velocity["scaled_by"])}


def _measured_cells(label: str, band_hours: float, m: dict | None) -> dict:
    row = {"label": label, "band": duration(band_hours), "stories": "", "used": ""}
    if m is None:
        return {**row, "builds": 0, "actual": "-", "ratio": "-", "calls": "-", "tokens": "-", "cost": "-"}
    enough = "" if m["enough"] else " (too few)"
    return {
        **row,
        "builds": f"{m['samples']}{enough}",
        "actual": duration(m["seconds"] / 3600),
        "ratio": f"x{m['seconds'] / 3600 / band_hours:.2g}",
        "calls": f"{m['calls']:g}",
        "tokens": f"{m['tokens_in']:,.0f} / {m['tokens_out']:,.0f}",
        "cost": f"${m['cost_usd']:.4f}",
    }


def _mermaid_text(text: str) -> str:
    """Text for inside a quoted Mermaid label: one line, quotes as entities."""
    return " ".join(text.split()).replace('"', "#quot;")


def _waves_with_ordering(plan: Plan, by_id: dict[str, PlannedStory]) -> list[tuple[int, list[str], list[Edge]]]:
    """Each wave with the file-ordering edges that end in it."""
    ordered: dict[int, list[Edge]] = {}
    for edge in plan.edges:
        if edge.kind == "file":
            ordered.setdefault(by_id[edge.target].wave, []).append(edge)
    return [(n, ids, ordered.get(n, [])) for n, ids in enumerate(plan.waves, 1)]


def _wave(plan: Plan, n: int, ids: list[str], by_id: dict[str, PlannedStory], ordered: list[Edge]) -> dict:
    last = n == len(plan.waves)
    name = "Foundation" if n == 1 else ("Integration" if last else "Core Features")
    mode = "Parallel" if len(ids) > 1 else "Sequential"
    blocks = "" if last else f", blocks Wave {n + 1}" if plan.config.execution.barrier == "wave" else ""
    stories = [by_id[i] for i in ids]
    return {
        "number": n,
        "heading": f"Wave {n}: {name} ({mode}{blocks})",
        "stories": [
            {
                "id": s.id,
                "title": s.title,
                "agent": "Builder" + (" + Reviewer" if s.policy.reviewer else ""),
                "model": s.policy.model if s.policy.tier == "custom" or _is_command(plan) else s.policy.tier.title(),
                "size": s.size + (" (default)" if s.size_source == "default" else ""),
                "deps": _dependencies(s, by_id) or "None",
            }
            for s in stories
        ],
        "parallel": len(ids),
        "ordered": ordered,
    }


def _dependencies(story: PlannedStory, by_id: dict[str, PlannedStory]) -> str:
    """What a story waits for: its dependencies (those already done marked so),
    its subtasks, and the stories storyc ordered before it for a shared file."""
    deps = [d if d in by_id and by_id[d].target else f"{d} (done)" for d in story.depends_on]
    deps += [f"{c} (subtask)" for c in story.children if c in story.after]
    deps += [f"{a} (shared file)" for a in story.after if a not in story.depends_on and a not in story.children]
    return ", ".join(deps)


def _gates(plan: Plan) -> list[dict]:
    """The gate checklist; a gate not every size runs names the sizes that do."""
    gates, policy = plan.config.gates, plan.config.policy
    rows = []
    for name in ("typecheck", "lint", "test", "integration", "e2e"):
        if not (command := getattr(gates, name)):
            rows.append({"line": f"□ {name}: not configured, skipped", "name": name})
            continue
        sizes = [size for size, row in policy.items() if name not in ("integration", "e2e") or name in TEST_GATES[row.tests]]
        scope = "" if len(sizes) == len(policy) else f"   ({'/'.join(sizes)} stories)" if sizes else "   (no size runs it per story)"
        rows.append({"line": f"□ {command} → {GATE_CHECK[name]}{scope}", "name": name})
    rows.append({"line": "□ No hardcoded secrets/URLs (storyc's built-in check)" if gates.secrets else "□ secrets check: turned off", "name": "secrets"})
    reviewed = [size for size, row in policy.items() if row.reviewer]
    rows.append({"line": f"□ Reviewer agent approval ({'/'.join(reviewed)} stories)" if reviewed else "□ Reviewer: turned off for every size", "name": "review"})
    return rows


def _matrix_row(plan: Plan, size: str, row: Policy) -> dict:
    reviewer = "No"
    if row.reviewer:
        reviewer = "Yes" if row.review_passes <= 1 else f"Yes + {row.review_passes - 1} more pass" + ("es" if row.review_passes > 2 else "")
    model = row.model
    if model in ("haiku", "sonnet", "opus"):
        model = plan.config.models.tier(model) if _is_command(plan) else model.title()
    return {"size": BANDS[size], "reviewer": reviewer, "tests": TEST_WORDS[row.tests], "model": model}


def _integration_row(point: IntegrationPoint) -> dict:
    """One row of section 4; the Verification cell says what really runs."""
    verification = point.verification
    if point.command is None:
        verification += f" (skipped: no `{point.gate}` gate in [gates])" if point.gate else " (a manual check: nothing runs)"
    elif "`" not in point.verification:
        verification += f" (`{point.command}`)"
    return {"name": point.name, "stories": " → ".join(point.stories), "verification": verification, "target": f"integration:{point.slug}"}


def _gates_run(plan: Plan) -> str:
    """Where a story's gates run, and where the wave, integration and E2E gates do."""
    build = plan.config.paths.build
    if plan.config.execution.isolation == "worktree":
        return (
            f"A story's gates run in its own git worktree (`{build}/worktrees/<story>`), before its change reaches your working tree; "
            "the wave, integration point and E2E gates run in the working tree, at the repository root"
        )
    return "Gates run in the working tree, at the repository root (isolation is off)"


def _gate_failure(plan: Plan) -> list[str]:
    attempts = plan.config.runner.max_attempts
    first = "storyc keeps the failing gate's output for the fix attempt (a command runner calls no Validator)" if _is_command(plan) else "Validator identifies specific failure (storyc keeps the gate's output)"
    steps = [first]
    if attempts > 1:
        steps += ["Spawn fix agent with narrow scope", "Re-run quality gate", f"Max {attempts} attempts → human escalation"]
    else:
        steps += ["No fix attempt: `[runner] max_attempts = 1` → human escalation"]
    return [f"{n}. {step}" for n, step in enumerate(steps, 1)]


def _integration_strategy(plan: Plan) -> list[str]:
    gates = plan.config.gates
    lines = []
    for n, _ in enumerate(plan.waves, 1):
        points = [p.name for p in plan.integration_points if p.after_wave == n]
        check = f"run {gates.integration}" if gates.integration else "no integration gate configured"
        extra = f"; integration points: {', '.join(points)}" if points else ""
        lines.append(f"Wave {n} complete → {check}{extra}")
    final = f"run {gates.e2e}" if gates.e2e else "no E2E gate configured"
    lines.append(f"Sprint complete → {final}, then write the sprint summary")
    return lines


def _prompts(plan: Plan, env: jinja2.Environment, targets: list[PlannedStory]) -> dict:
    if not targets:
        return {}
    story = next((s for s in targets if s.policy.reviewer), targets[0])
    gates = [{"name": g, "command": getattr(plan.config.gates, g)} for g in story.policy.gates if g != "secrets"]
    context = {
        "story": story,
        "tasks_path": plan.inputs["tasks"]["path"],
        "gates": gates,
        "architecture": None,
        "architecture_path": plan.inputs.get("architecture", {}).get("path"),
        "attempt": 1,
        "max_attempts": plan.config.runner.max_attempts,
        "failure": None,
        "changed_files": story.files,
        "review_pass": 1,
    }
    command = _is_command(plan)
    failure = "(the failing gate's output)" if command else "(the failing gate's output, condensed by the Validator)"
    return {
        "story": story,
        "builder": render(env, prompt_name("builder"), **context).rstrip(),
        # A command runner's fix attempt reads the gate output as it is: no Validator prompt is sent.
        "validator": None if command else render(env, prompt_name("validator"), **context).rstrip(),
        "reviewer": render(env, prompt_name("reviewer"), **context).rstrip(),
        # With one attempt there is no fix attempt, and no fix prompt to show.
        "fix": render(env, prompt_name("fix"), **{**context, "attempt": 2, "failure": failure}).rstrip() if context["max_attempts"] > 1 else None,
    }


def _ladder(plan: Plan) -> list[str]:
    runner, models = plan.config.runner, plan.config.models
    steps = [
        "Attempt 1: Builder with the planned model",
        "Attempt 2: the same model, given the failing gate output and a narrow scope (fix agent, alternate approach)",
        f"Attempt 3: escalate to the next model up ({' → '.join(models.tiers)}), given the failure",
    ]
    # As the compiled ladder (ResolvedPolicy.ladder) has it: the escalation is one step up, and stays there.
    steps = steps[: runner.max_attempts] + [f"Attempt {k}: the escalated model again, given the failure" for k in range(4, runner.max_attempts + 1)]
    steps.append(f"After {runner.max_attempts} failed attempt{'s' if runner.max_attempts > 1 else ''}: flag for human review (status blocked; dependents do not run)")
    return steps


def _status(plan: Plan, targets: list[PlannedStory], waves: list[dict[str, int]]) -> str:
    """The status tables as tasks.json has it: a story in progress has no agent yet; the run redraws them."""
    progress = f"(see `{plan.config.paths.progress}`)"
    agents = [("Builder", s.id, "In progress", progress) for s in targets if s.family == "in_progress"]
    return "\n".join(status.tables(waves, agents, level=3)) + "\n"
