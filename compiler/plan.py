"""Inputs into a Plan: parse, link, validate, resolve policy, plan.

The compiler is pure: it reads its inputs and returns a value. Writing the
artifacts is the emit step's job (see emit.py).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import jinja2

from storyc import __version__
from storyc.errors import ConfigError, GraphError, InputError, Where
from storyc.files import read_text, require_root
from storyc.plan import (
    SCHEMA_VERSION,
    Edge,
    Family,
    IntegrationPoint,
    Plan,
    PlannedStory,
    ResolvedPolicy,
    SprintInfo,
)
from storyc.words import count

from ..templates.render import environment, template_digest, user_templates
from .config import (
    GATE_NAMES,
    SIZES,
    Config,
    build_dir_problem,
    known_models,
    line_of_key,
    load_config,
    model_typo,
)
from .estimates import Estimates, read_samples, sig
from .graph import StoryGraph, shared_files
from .mdstories import read_stories
from .model import SIZE_HOURS, Story
from .specs import spec_path, spec_text
from .sprint import Sprint, parse_sprint
from .tasks import (
    TaskFile,
    file_words,
    fill_gaps,
    key_in,
    load_markdown_tasks,
    load_tasks,
    no_stories,
)

# Status is an output and the stamp decides: every story in scope is a target whatever its
# status (a done one is up to date, rebuilt or adopted by its stamp), a cancelled one aside.
TARGET_FAMILIES = {Family.TODO, Family.IN_PROGRESS, Family.BLOCKED, Family.DEFERRED, Family.DONE}
OPEN_FAMILIES = {Family.TODO, Family.IN_PROGRESS, Family.BLOCKED}
ROLES = ("system", "builder", "validator", "fix")  # the prompt templates a story uses
ROLES_REVIEWED = (*ROLES, "reviewer")
TEST_GATES = {"unit": ["test"], "unit+integration": ["test", "integration"], "full": ["test", "integration"], "full+e2e": ["test", "integration", "e2e"]}


@dataclass(frozen=True)
class Inputs:
    """What one compile reads."""

    root: Path
    config: Config
    config_path: Path | None
    tasks: TaskFile
    sprint: Sprint | None
    templates: jinja2.Environment
    notes: list[str] = ()  # what reading them decided (the stories' source, gaps the sprint filled)


def compile_plan(root: Path, sprint: Path | None = None, tasks: Path | None = None, *, with_deps: bool = False, tag: str | None = None, build: str | None = None) -> Plan:
    """The whole pipeline, in one glance."""
    inputs = read_inputs(root, sprint, tasks, tag, build)
    scope, pulled_in, source = link(inputs, with_deps)
    graph = validate(inputs, scope)
    shared = shared_files({s.id: s.files for s in scope if s.id in graph})
    ordering = graph.order_shared(shared)
    return plan(inputs, scope, graph, ordering, graph.later_patterns(shared), pulled_in, [*inputs.notes, "scope: " + source])


def read_inputs(root: Path, sprint: Path | None, tasks: Path | None, tag: str | None, build: str | None = None) -> Inputs:
    require_root(root)
    config, config_path = load_config(root)
    if build is not None:
        if problem := build_dir_problem(build):
            raise InputError(f"--out {build!r}: {problem}", hint="for example: storyc compile --out build/sprint-3")
        build = build.strip().rstrip("/")
        config = replace(config, paths=replace(config.paths, build=build))
    sprint_path = sprint or find_sprint(root, config)
    default = root / config.paths.tasks
    notes: list[str] = []
    if tasks is None and not default.exists() and sprint_path is not None and sprint_path.is_file():
        # No tasks.json: the sprint file is the whole input when it carries its stories.
        found = read_stories(read_text(sprint_path), sprint_path)
        if not found.stories:
            error = no_stories(sprint_path, found, f"{_rel(default, root)} does not exist, and {sprint_path.name} carries no stories")
            error.hint += "; `storyc init` writes a starter tasks.json"
            raise error
        tasks_file = load_markdown_tasks(sprint_path, read_text(sprint_path), config.statuses, found=found)
        notes.append(f"stories: {count(len(tasks_file.stories), 'story', 'stories')} from {sprint_path.name} (no {default.name})")
    else:
        try:
            tasks_file = load_tasks(tasks or default, tag=tag, status_words=config.statuses)
        except InputError as exc:
            if tasks is None and not default.exists():
                exc.hint += f"; or put the stories in the sprint file ({_STORY_TABLE})"
            raise
        if sprint_path is not None and tasks_file.lines is None and sprint_path.is_file():
            notes += fill_gaps(tasks_file, sprint_path)
    sprint_file = parse_sprint(sprint_path) if sprint_path else None
    return Inputs(root, config, config_path, tasks_file, sprint_file, environment(user_templates(root, config.paths.templates)), notes)


def find_sprint(root: Path, config: Config) -> Path | None:
    """[paths] sprint, else the highest-numbered sprint file, else none."""
    if config.paths.sprint:
        return root / config.paths.sprint
    folder = root / config.paths.sprints_dir
    numbered = [(int(m.group(1)), p.name, p) for p in folder.glob("*.md") if (m := re.search(r"(\d+)", p.stem))] if folder.is_dir() else []
    return max(numbered)[2] if numbered else None


def link(inputs: Inputs, with_deps: bool) -> tuple[list[Story], list[str], str]:
    """The stories in scope, in declaration order, those of them only --with-deps brought in, and one line
    that says where the scope came from; sprint references checked."""
    tf = inputs.tasks
    by_id: dict[str, Story] = {}
    for story in tf.stories:
        if story.id in by_id:
            first = tf.where_story(by_id[story.id]).line
            raise InputError(
                f"duplicate story id {story.id!r} (first declared on line {first})",
                tf.where_story(story, "id"),
                hint="every story needs its own id; renumber one of them",
            )
        by_id[story.id] = story
    sprint = inputs.sprint
    if sprint is None:
        built = _built(inputs)
        chosen = {s.id for s in tf.stories if tf.family(s) in OPEN_FAMILIES or (s.id in built and tf.family(s) != Family.CANCELLED)}
        source = f"no sprint file, so every open story of {tf.path.name} (todo, in progress or blocked) and every story storyc built: {len(chosen)}"
    else:
        refs, source = _sprint_refs(sprint, tf.path.name, by_id)
        chosen: set[str] = set()
        for ref in refs:
            if ref.id in by_id:
                subtree = [ref.id]  # the story, its subtasks, theirs, ...
                while subtree:
                    sid = subtree.pop()
                    chosen.add(sid)
                    subtree.extend(by_id[sid]._origin.children)
            elif ref.certain:  # a word that only may be an id ("- Polish the UI") is prose when it is no story
                close = difflib.get_close_matches(ref.id, list(by_id), n=3)
                raise InputError(
                    f"the sprint names story {ref.id!r}, which is not in {tf.path.name}",
                    sprint.where(ref.line),
                    hint=f"did you mean {', '.join(close)}?" if close else f"add it to {tf.path} or remove it from the sprint",
                )
        if not chosen and sprint.stories_line is not None:  # front matter may say `stories: []`; a section must name one
            seen = f"{sprint.stories[0].id!r} (line {sprint.stories[0].line}) is no story id of {tf.path.name}; " if sprint.stories else ""
            raise InputError(
                "the stories section names no story",
                sprint.where(sprint.stories_line),
                hint=seen + _LIST_STORIES,
            )
    pulled_in: set[str] = set()
    if with_deps:
        stack = list(chosen)
        while stack:
            for dep in by_id[stack.pop()].depends_on:
                if dep in by_id and dep not in chosen and tf.family(by_id[dep]) != Family.DONE:
                    chosen.add(dep)
                    pulled_in.add(dep)
                    stack.append(dep)
    scope = [s for s in tf.stories if s.id in chosen]
    return scope, [s.id for s in scope if s.id in pulled_in], source


_STORY_TABLE = "a table | ID | Title | Status |, or one heading per story: ### US-001: Title"
_LIST_STORIES = (
    "list the stories under this heading as a table with a header row and a delimiter row"
    " (| ID | Title | then | --- | --- |), a bullet list of ids (- US-001), or one heading per story (### US-001: Title)"
)


def _sprint_refs(sprint: Sprint, tasks_name: str, by_id: dict[str, Story]) -> tuple[list, str]:
    """The sprint's references to stories and where they were found: its stories section (or front matter),
    else the sections that list story ids, else the ids its prose names. A sprint that names none is refused."""
    name = sprint.path.name
    # A section counts when it lists at least one story id ("## Work planned", "## Commitments").
    listings = [listing for listing in sprint.listed if any(ref.id in by_id for ref in listing.refs)]
    if sprint.stories is not None:
        # A stories section of words that are no ids ("### User Story Dependencies" over prose) gives way to the
        # sections that do list stories; with none, it is an error (see link).
        vacant = sprint.stories_line is not None and not any(ref.id in by_id or ref.certain for ref in sprint.stories)
        if not (vacant and listings):
            where = f"front matter of {name}" if sprint.stories_line is None else f"stories section of {name} (line {sprint.stories_line})"
            return sprint.stories, f"{count(len(sprint.stories), 'story', 'stories')} named in the {where}"
    if listings:
        refs = [ref for listing in listings for ref in listing.refs]
        known = {ref.id for ref in refs if ref.id in by_id}
        where = ", ".join(f'"{listing.heading}" (line {listing.line})' if listing.heading else "its top-level headings" for listing in listings[:3])
        where += f" and {count(len(listings) - 3, 'more section', 'more sections')}" if len(listings) > 3 else ""
        return refs, f"{count(len(known), 'story', 'stories')} listed in {name} under {where}"
    # Prose: only words that are story ids, and none that an "Out of scope" part names.
    mentioned = [ref for ref in sprint.mentioned if ref.id in by_id and ref.id not in sprint.excluded_ids]
    if mentioned or not by_id:
        known = list(dict.fromkeys(ref.id for ref in mentioned))
        lines = [str(n) for n in dict.fromkeys(ref.line for ref in mentioned)]
        at = f" ({'line' if len(lines) == 1 else 'lines'} {', '.join(lines)})" if lines else ""
        return mentioned, f"{count(len(known), 'story', 'stories')} named in the text of {name}{at}"
    first, *rest = list(by_id)[:2]
    example = ", ".join([first, *rest])
    raise InputError(
        f"the sprint names no story of {tasks_name}",
        sprint.where(1),
        hint=f"storyc looked for ids of {tasks_name} (such as {example}) in its tables, lists, headings and text,"
        f' outside "Out of scope" or "Deferred" sections, and found none; list them under `## Stories`'
        f" (a table | ID | Title |, a list - {first}, or a heading ### {first}: Title) or in front matter: stories: [{example}]",
    )


def _built(inputs: Inputs) -> set[str]:
    """The stories with a stamp in the build folder: with no sprint file, a story storyc built
    stays in scope once it is done, so that its stamp goes on deciding (an edit rebuilds it)."""
    try:
        stamped = {name[:-4] for name in os.listdir(inputs.root / inputs.config.paths.build / "stamps") if name.endswith(".out")}
    except OSError:
        return set()
    return {s.id for s in inputs.tasks.stories if PurePosixPath(spec_path("", s.id)).stem in stamped}


def validate(inputs: Inputs, scope: list[Story]) -> StoryGraph:
    """The graph of the stories to build; every dependency checked."""
    tf = inputs.tasks
    known = {s.id: s for s in tf.stories}
    graph = StoryGraph()
    targets = [s for s in scope if tf.family(s) in TARGET_FAMILIES]
    spec_names: dict[str, Story] = {}
    for story in targets:
        _check_target_name(story, tf, spec_names)
        graph.add_story(story.id, story._origin.hours or SIZE_HOURS[story.size or "M"])
    for story in targets:
        for index, dep in enumerate(story.depends_on):
            # The line is looked up only on the error path: it costs a re-scan.
            where = lambda: tf.where_story(story, _deps_key(tf, story), index)  # noqa: E731, B023 (called in this iteration)
            if dep == story.id:
                raise GraphError(f"story {story.id} depends on itself", where(), hint="remove its own id from its dependencies")
            if dep not in known:
                close = difflib.get_close_matches(dep, [k for k in known if k != story.id], n=3)  # never the story itself
                raise GraphError(
                    f"story {story.id} depends on {dep!r}, which is not in {tf.path.name}",
                    where(),
                    hint=f"did you mean {', '.join(close)}?" if close else "fix the id or add the missing story",
                )
            if dep in graph:
                graph.add_edge(dep, story.id)
            elif (family := tf.family(known[dep])) == Family.CANCELLED:
                raise GraphError(
                    f"story {story.id} depends on {dep}, which is cancelled (status {known[dep].status!r})",
                    where(),
                    hint=f"drop the dependency, or reopen {dep} and add it to the sprint",
                )
            elif family != Family.DONE:
                raise GraphError(
                    f"story {story.id} depends on {dep}, which is outside this sprint and not done (status {known[dep].status!r})",
                    where(),
                    hint="pull it into scope with `storyc compile --with-deps`, add it to the sprint, or mark it done",
                )
    for parent in targets:
        for child in parent._origin.children:
            if child in graph:
                graph.add_edge(child, parent.id)
    if cycle := graph.cycle():
        first = known[cycle[0]]
        raise GraphError(
            f"dependency cycle: {' -> '.join(cycle)}",
            tf.where_story(first, _deps_key(tf, first)),
            extra="\n".join(f"{a} depends on {b}   (line {tf.where_story(known[a], _deps_key(tf, known[a])).line})" for b, a in zip(cycle, cycle[1:])),
            hint="a story cannot wait for itself; remove one of these dependencies",
        )
    return graph


# The names of the doit targets storyc makes besides the stories.
RESERVED = re.compile(r"sprint|wave-\d+|integration:.*|_order:\d+", re.I)


def _check_target_name(story: Story, tf: TaskFile, spec_names: dict[str, Story]) -> None:
    """A story's id names its doit target and its spec file: neither may clash."""
    if "=" in story.id or "*" in story.id:  # doit refuses `=` in a name, and reads `*` as a wildcard
        raise InputError(
            f"story id {story.id!r} holds {'=' if '=' in story.id else '*'}, which doit cannot take in a target name",
            tf.where_story(story, "id"),
            hint="rename the story",
        )
    if RESERVED.fullmatch(story.id):
        raise InputError(
            f"story id {story.id!r} is also the name of a target storyc makes (sprint, wave-N, integration:<name>, _order:N)",
            tf.where_story(story, "id"),
            hint="rename the story",
        )
    # Spec files are one per story; on macOS and Windows `US-1.md` and `us-1.md` are one file.
    other = spec_names.setdefault(spec_path("", story.id).lower(), story)
    if other is not story:
        raise InputError(
            f"story ids {other.id!r} and {story.id!r} differ only in case",
            tf.where_story(story, "id"),
            hint="rename one: their spec files would be one file on a case-insensitive file system",
        )


def _deps_key(tf: TaskFile, story: Story) -> str:
    return key_in(tf, story._origin.pointer, "depends_on")


def resolve_policy(story: Story, config: Config, tf: TaskFile) -> ResolvedPolicy:
    size = story.size or "M"
    row = config.policy_for(size)
    if story.model and (meant := model_typo(story.model, known_models(config))):
        raise InputError(
            f"story {story.id}: model {story.model!r} looks mistyped",
            tf.where_story(story, "model"),
            hint=f"did you mean `{meant}`? A story's model is a tier (haiku, sonnet, opus) or a model id",
        )
    model = config.models.tier(story.model or row.model)
    tier = next((t for t in ("haiku", "sonnet", "opus") if getattr(config.models, t) == model), "custom")
    if story.gates is not None:
        unknown = [g for g in story.gates if g not in GATE_NAMES and g != "secrets"]
        if unknown:
            raise InputError(
                f"story {story.id} names unknown gate(s) {', '.join(unknown)}",
                tf.where_story(story, "gates"),
                hint="gates are among: " + ", ".join(GATE_NAMES + ("secrets",)),
            )
        wanted = list(story.gates)
    else:
        wanted = ["typecheck", "lint", *TEST_GATES[row.tests], "secrets"]
    gates = [g for g in wanted if (config.gates.secrets if g == "secrets" else getattr(config.gates, g))]
    # The recovery ladder: attempts 1 and 2 on the planned model, from 3 on the next model up.
    tiers = config.models.tiers
    up = tiers[min(tiers.index(model) + 1, 2)] if model in tiers else model
    ladder = [model if attempt < 3 else up for attempt in range(1, config.runner.max_attempts + 1)]
    return ResolvedPolicy(model=model, tier=tier, reviewer=row.reviewer, review_passes=row.review_passes if row.reviewer else 0, tests=row.tests, gates=gates, ladder=ladder)


def plan(inputs: Inputs, scope: list[Story], graph: StoryGraph, ordering: list, later: dict[str, list[str]], pulled_in: list[str], notes: list[str] = ()) -> Plan:
    """The plan; `later` holds each story's patterns of later stories that share its files (graph.later_patterns)."""
    tf = inputs.tasks
    waves = graph.waves()
    wave_of = {sid: n for n, wave in enumerate(waves, 1) for sid in wave}
    policies: dict[tuple, ResolvedPolicy] = {}  # one object per distinct (size, model, gates)
    spec_texts: dict[str, str] = {}
    # Reviewed or not: the prompt templates a story uses, as one digest each.
    digests = {reviewed: template_digest(inputs.templates, ROLES_REVIEWED if reviewed else ROLES) for reviewed in (False, True)}
    estimates = _estimates(inputs)
    guesses = {}
    for story in scope:
        if story.id in graph:
            policy = _policy(story, inputs, policies)
            guesses[story.id] = estimates.estimate(story.size or "M", policy.model, story._origin.hours)
    remaining = graph.remaining({sid: hours for sid, (hours, _) in guesses.items()})
    stories = [_planned(s, inputs, graph, wave_of, policies, digests, spec_texts, guesses.get(s.id), remaining.get(s.id), later.get(s.id, [])) for s in scope]
    _check_prices(inputs, scope, stories)
    in_graph = {s.id for s in stories if s.target}
    edges = [Edge(source=d, target=s.id, kind="declared", reason="declared in " + tf.path.name) for s in scope if s.id in in_graph for d in s.depends_on if d in in_graph]
    edges += [Edge(source=c, target=s.id, kind="subtask", reason=f"{c} is a subtask of {s.id}") for s in scope if s.id in in_graph for c in s._origin.children if c in in_graph]
    edges += [Edge(source=e.before, target=e.after, kind="file", reason=f"both change {e.path}") for e in ordering]
    path, hours = graph.critical_path({sid: hours for sid, (hours, _) in guesses.items()})
    declared = [s.id for s in scope if s.id in graph]
    return Plan(
        schema_version=SCHEMA_VERSION,
        storyc_version=__version__,
        project=tf.project or inputs.root.resolve().name,
        sprint=_sprint_info(inputs),
        inputs=_input_digests(inputs),
        config=_run_config(inputs),
        stories=stories,
        edges=edges,
        waves=waves,
        critical_path={"stories": path, "hours": sig(hours)},
        dispatch_order=graph.by_remaining(remaining) if inputs.config.execution.order == "critical-path" else declared,
        velocity=estimates.velocity(),
        integration_points=_integration_points(inputs, wave_of),
        excluded=_excluded(inputs, scope),
        pulled_in=pulled_in,
        status_words=file_words(tf),
        spec_texts=spec_texts,
        notes=[*notes, *_status_notes(tf), *_size_note(inputs, stories)],
    )


def _status_notes(tf: TaskFile) -> list[str]:
    """Each status word that its parts placed, once: the reading is a rule, and the user may want another."""
    return [
        f"status {word!r} read as {family.value} (by its part {part!r}); [statuses] in storyc.toml can map it otherwise"
        for word, (family, part) in tf.inferred.items()
    ]


def _size_note(inputs: Inputs, stories: list[PlannedStory]) -> list[str]:
    """One line when stories to build have no size: they are planned as M, and M has a price."""
    unsized = [s.id for s in stories if s.target and s.size_source == "default"]
    if not unsized:
        return []
    row = inputs.config.policy_for("M")
    model = inputs.config.models.tier(row.model)
    review = f"{count(row.review_passes, 'review pass', 'review passes')} by the reviewer" if row.reviewer else "no reviewer"
    named = ", ".join(unsized[:5]) + (", ..." if len(unsized) > 5 else "")
    return [
        f"size: {count(len(unsized), 'story has', 'stories have')} no size and {'is' if len(unsized) == 1 else 'are'} planned as M"
        f" (model {model}, {review}, {row.tests} tests): {named}; give a size (XS-XL) or an estimate to plan otherwise"
    ]


def _estimates(inputs: Inputs) -> Estimates:
    """What the builds recorded in the build folder's stamps say about each size."""
    sizes = {s.id: s.size or "M" for s in inputs.tasks.stories}
    return Estimates(read_samples(inputs.root / inputs.config.paths.build / "stamps", sizes))


def _policy(story: Story, inputs: Inputs, policies: dict[tuple, ResolvedPolicy]) -> ResolvedPolicy:
    """The story's resolved policy, one object per distinct (size, model, gates)."""
    key = (story.size, story.model, None if story.gates is None else tuple(story.gates))
    return policies.get(key) or policies.setdefault(key, resolve_policy(story, inputs.config, inputs.tasks))


def _planned(
    story: Story,
    inputs: Inputs,
    graph: StoryGraph,
    wave_of: dict[str, int],
    policies: dict[tuple, ResolvedPolicy],
    digests: dict[bool, str],
    spec_texts: dict[str, str],
    estimate: tuple[float, str] | None,
    remaining: float | None,
    exclude: list[str],
) -> PlannedStory:
    """A story with its policy resolved; its spec text goes into `spec_texts` if it is a target."""
    tf, config = inputs.tasks, inputs.config
    policy = _policy(story, inputs, policies)
    target = story.id in graph
    size = story.size or "M"
    origin = story._origin
    hours = origin.hours or SIZE_HOURS[size]
    estimate = estimate or (hours, "estimated_hours" if origin.hours else f"{size} band")
    fields = dict(
        id=story.id,
        title=story.title,
        description=story.description,
        acceptance_criteria=story.acceptance_criteria,
        files=story.files,
        exclude=exclude,
        status=story.status,
        family=tf.family(story).value,
        size=size,
        size_source=origin.size_source,
        hours=hours,
        estimate_hours=estimate[0],
        estimate_source=estimate[1],
        remaining_hours=None if remaining is None else sig(remaining),
        priority=None if story.priority is None else str(story.priority),
        epic=story.epic,
        depends_on=story.depends_on,
        after=graph.needs(story.id) if target else [],
        children=origin.children,
        wave=wave_of.get(story.id),
        policy=policy,
        spec=spec_path(config.paths.build, story.id),
        prompt_digest=digests[policy.reviewer],
        target=target,
        extra=dict(story.model_extra or {}),
    )
    text = spec_text(fields)
    if target:
        spec_texts[fields["spec"]] = text
    return PlannedStory(**fields, status_at=tf.place(story.id), spec_sha256=hashlib.sha256(text.encode()).hexdigest())


def _check_prices(inputs: Inputs, scope: list[Story], stories: list[PlannedStory]) -> None:
    """A model the anthropic runner may call must have a price: a run is never costed at $0 by accident."""
    config = inputs.config
    if config.runner.kind != "anthropic":
        return
    for story, planned in zip(scope, stories):
        if not planned.target:
            continue
        for needed in dict.fromkeys(planned.policy.ladder):
            if needed not in config.models.prices:
                tier = next((t for t in ("haiku", "sonnet", "opus") if getattr(config.models, t) == needed), "prices")
                where = inputs.tasks.where_story(story, "model") if story.model else _config_where(inputs, ["models", tier])
                close = difflib.get_close_matches(needed, list(config.models.prices), n=1)
                raise ConfigError(
                    f"model {needed!r} (story {story.id}) has no price in [models.prices]",
                    where,
                    hint=(f"did you mean `{close[0]}`? Or " if close else "")
                    + f'add [models.prices."{needed}"] with input, output, cache_read and cache_write in US dollars per million tokens',
                )


def _config_where(inputs: Inputs, key: list[str]) -> Where:
    path = inputs.config_path
    if path is None:
        return Where(str(inputs.root / "storyc.toml"), 0)
    prefix = ["tool", "storyc"] if path.name == "pyproject.toml" else []
    return Where(str(path), line_of_key(read_text(path), prefix + key))


def _sprint_info(inputs: Inputs) -> SprintInfo:
    sprint = inputs.sprint
    if sprint is None:
        return SprintInfo(number=None, name="all open stories", file=None, date=None, goal="")
    return SprintInfo(number=sprint.number, name=sprint.name, file=_rel(sprint.path, inputs.root), date=sprint.date, goal=sprint.goal)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _input_digests(inputs: Inputs) -> dict[str, dict[str, str]]:
    files = {"tasks": inputs.tasks.path, "sprint": inputs.sprint.path if inputs.sprint else None, "config": inputs.config_path}
    arch = inputs.root / inputs.config.paths.architecture
    files["architecture"] = arch if arch.is_file() else None
    out = {name: {"path": _rel(p, inputs.root), "sha256": _digest(p)} for name, p in files.items() if p is not None}
    if inputs.tasks.shape.startswith("taskmaster:"):  # the tag the run writes statuses into
        out["tasks"]["tag"] = inputs.tasks.shape.split(":", 1)[1]
    return out


def _run_config(inputs: Inputs) -> Config:
    """The configuration as the run reads it (plan.json's `config`): every size's policy row, the isolation and barrier decided."""
    config = inputs.config
    in_git = any((folder / ".git").exists() for folder in (inputs.root.resolve(), *inputs.root.resolve().parents))
    isolation = config.execution.isolation or ("worktree" if in_git else "none")
    # Without isolation, wave N's integration tests would run while wave N+1 writes the same tree.
    barrier = "wave" if isolation == "none" and config.gates.integration else config.execution.barrier
    return replace(
        config,
        execution=replace(config.execution, barrier=barrier, isolation=isolation),
        policy={size: config.policy_for(size) for size in SIZES},
    )


def _integration_points(inputs: Inputs, wave_of: dict[str, int]) -> list[IntegrationPoint]:
    sprint, tf = inputs.sprint, inputs.tasks
    if sprint is None:
        return []
    known = {s.id for s in tf.stories}
    points, slugs = [], {}
    for row in sprint.integration:
        # Every word of the cell that is a story id; a word with a digit must be one.
        stories = [word for word in row.stories if word in known]
        unknown = next((w for w in row.stories if w not in known and any(ch.isdigit() for ch in w)), None)
        if unknown is not None or not stories:
            raise InputError(
                f"integration point {row.name!r} names story {unknown!r}, which is not in {tf.path.name}"
                if unknown is not None
                else f"integration point {row.name!r} names no story of {tf.path.name}",
                sprint.where(row.line),
                hint="list story ids from tasks.json in the Stories Involved column",
            )
        # Letters and digits of any script ("Корзина"); "point" only when none is left.
        slug = re.sub(r"[\W_]+", "-", row.name.lower()).strip("-") or "point"
        if first := slugs.get(slug):
            raise InputError(
                f"two integration points are both named {row.name!r} (lines {first.line} and {row.line})"
                if first.name == row.name
                else f"integration points {first.name!r} (line {first.line}) and {row.name!r} (line {row.line}) both get the slug {slug!r}",
                sprint.where(row.line),
                hint=f"give each integration point its own name (its slug names the doit target integration:{slug})",
            )
        slugs[slug] = row
        gate, command = _verification(row.verification, inputs.config)
        points.append(
            IntegrationPoint(
                name=row.name,
                slug=slug,
                stories=stories,
                verification=row.verification,
                gate=gate,
                command=command,
                after_wave=max((wave_of[s] for s in stories if s in wave_of), default=None),
            )
        )
    return points


def _verification(text: str, config: Config) -> tuple[str | None, str | None]:
    """(gate, command) for a Verification cell: a command in backticks runs as
    written; "E2E test", "Integration test" or "test" name a gate, whose command
    runs (None when that gate is not configured); anything else is a manual check."""
    if m := re.search(r"`([^`]+)`", text):
        return None, m.group(1)
    lowered = text.lower()
    for gate, words in (("e2e", ("e2e", "end-to-end", "end to end")), ("integration", ("integration",)), ("test", ("test",))):
        if any(word in lowered for word in words):
            return gate, getattr(config.gates, gate)
    return None, None


def _excluded(inputs: Inputs, scope: list[Story]) -> dict[str, list[str]]:
    tf = inputs.tasks
    in_scope = {s.id for s in scope}
    out: dict[str, list[str]] = {}
    for story in tf.stories:
        family = tf.family(story)
        if story.id in in_scope and family in TARGET_FAMILIES:
            continue
        if story.id in in_scope or inputs.sprint is None:
            out.setdefault(family.value, []).append(story.id)
    return out
