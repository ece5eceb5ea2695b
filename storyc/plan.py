"""The compiled plan: the one contract between compile time and run time.

`storyc compile` (compiler/) builds a `Plan` and writes it as build/plan.json;
the run (runners/) reads it back with `load_plan`, into these same types, and
nothing else of compile time. Everything the run needs is compiled in, so the
run re-derives nothing. The types are plain frozen dataclasses: cheap to make
ten thousand of, and `json_fields` lets json's C encoder write them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from storyc.errors import OutputError, Where

frozen = dataclass(frozen=True, slots=True)

# plan.json's shape: raised whenever a field is added, renamed or changes meaning.
# 2: the ladder, exclusions, status places and the file's status words are compiled in.
SCHEMA_VERSION = 2


class Family(str, Enum):
    """What a status word means to storyc; tasks.json keeps the file's own word."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"
    DEFERRED = "deferred"
    CANCELLED = "cancelled"


class Bounds:
    """A number's limits in storyc.toml, as `Annotated[int, Bounds(ge=1, le=10)]`.

    The compiler's pydantic schema applies them: pydantic calls this hook with
    the number's schema, which takes the same keys (ge, le, gt). The kernel
    never imports pydantic (nor annotated_types, 9 ms at every start).
    """

    __slots__ = ("limits",)

    def __init__(self, **limits: float) -> None:
        self.limits = limits

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> dict:
        return {**handler(source), **self.limits}


# How the compiler's pydantic schema validates storyc.toml into these types: a key storyc
# does not know is a typo until proven otherwise; infinity is not a budget.
STRICT: dict[str, Any] = {"extra": "forbid", "allow_inf_nan": False}


@frozen
class Price:
    """US dollars per million tokens (also the `[models.prices]` rows of storyc.toml)."""

    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0
    __pydantic_config__: ClassVar[dict] = STRICT


# The configuration: storyc.toml (or [tool.storyc]) as the compiler validates it, and as the
# plan carries it, resolved (compiler/plan.py `_run_config`). Paths are relative to the root.


@frozen
class Paths:
    """[paths]: where the inputs are, and where storyc writes."""

    tasks: str = "docs/tasks/tasks.json"
    sprint: str | None = None
    sprints_dir: str = "docs/sprints"
    architecture: str = "docs/planning/ARCHITECTURE.md"
    progress: str = ".ai/PROGRESS.md"
    kanban: str = "docs/tasks/kanban_board.md"
    build: str = "build"
    templates: str = ".storyc/templates"
    __pydantic_config__: ClassVar[dict] = STRICT


@frozen
class Gates:
    """[gates]: a shell command per gate (None: that gate is skipped); secrets is storyc's own scan."""

    typecheck: str | None = None
    lint: str | None = None
    test: str | None = None
    integration: str | None = None
    e2e: str | None = None
    secrets: bool = True
    __pydantic_config__: ClassVar[dict] = STRICT


@frozen
class Models:
    """[models]: the model id of each tier, and the price of each model."""

    haiku: str = "claude-haiku-4-5"
    sonnet: str = "claude-sonnet-4-5"
    opus: str = "claude-opus-4-5"
    prices: dict[str, Price] = field(
        default_factory=lambda: {
            "claude-haiku-4-5": Price(input=1.0, output=5.0, cache_read=0.10, cache_write=1.25),
            "claude-sonnet-4-5": Price(input=3.0, output=15.0, cache_read=0.30, cache_write=3.75),
            "claude-opus-4-5": Price(input=5.0, output=25.0, cache_read=0.50, cache_write=6.25),
        }
    )
    __pydantic_config__: ClassVar[dict] = STRICT

    def tier(self, name: str) -> str:
        """A tier name (haiku, sonnet, opus) into its model id; an id stays as it is."""
        return getattr(self, name) if name in ("haiku", "sonnet", "opus") else name

    @property
    def tiers(self) -> list[str]:
        """The tiers' model ids, cheapest first: the recovery ladder escalates one step up them."""
        return [self.haiku, self.sonnet, self.opus]


TestScope = Literal["unit", "unit+integration", "full", "full+e2e"]
Size = Literal["XS", "S", "M", "L", "XL"]


@frozen
class Policy:
    """A row of the quality matrix, [policy.<size>]: how a story of that size is built."""

    model: str  # a tier or a model id
    reviewer: bool
    review_passes: Annotated[int, Bounds(ge=0, le=5)]
    tests: TestScope
    __pydantic_config__: ClassVar[dict] = STRICT


# The seed's "Quality vs Speed Decision Matrix": a size's row unless [policy.<size>] changes it.
DEFAULT_POLICY: dict[str, Policy] = {
    "XS": Policy(model="haiku", reviewer=False, review_passes=0, tests="unit"),
    "S": Policy(model="haiku", reviewer=False, review_passes=0, tests="unit"),
    "M": Policy(model="sonnet", reviewer=True, review_passes=1, tests="unit+integration"),
    "L": Policy(model="sonnet", reviewer=True, review_passes=1, tests="full"),
    "XL": Policy(model="sonnet", reviewer=True, review_passes=2, tests="full+e2e"),
}


@frozen
class Runner:
    """[runner]: which agent builds, and the limits of one story's build."""

    kind: Literal["anthropic", "claude-code", "command", "scripted"] = "anthropic"
    max_attempts: Annotated[int, Bounds(ge=1, le=10)] = 3
    argv: list[str] = field(default_factory=list)
    budget_usd: Annotated[float, Bounds(gt=0)] = 5.0
    max_turns: Annotated[int, Bounds(ge=1)] = 50
    timeout_s: Annotated[int, Bounds(ge=1)] = 1800
    request_timeout_s: Annotated[float, Bounds(gt=0)] = 600.0  # the anthropic runner: one model request, before it is retried
    scripts: str = ".storyc/scripts"  # the scripted runner's turns, one <story-id>.toml per story
    env: list[str] | None = None  # the command runner's environment: None, all of yours; a list, only those names and the basics
    __pydantic_config__: ClassVar[dict] = STRICT


@frozen
class Execution:
    """[execution]: how the run schedules stories (in a plan: resolved, isolation never None)."""

    barrier: Literal["none", "wave"] = "none"
    isolation: Literal["worktree", "none"] | None = None  # None: worktree in a git repository
    order: Literal["critical-path", "declared"] = "critical-path"  # which ready story starts first
    __pydantic_config__: ClassVar[dict] = STRICT


@frozen
class Config:
    """storyc.toml. In a plan, resolved: isolation and barrier decided, a policy row for every size."""

    paths: Paths = field(default_factory=Paths)
    gates: Gates = field(default_factory=Gates)
    models: Models = field(default_factory=Models)
    runner: Runner = field(default_factory=Runner)
    execution: Execution = field(default_factory=Execution)
    policy: dict[Size, Policy] = field(default_factory=dict)  # as configured: a size without a row has DEFAULT_POLICY's
    statuses: dict[str, Family] = field(default_factory=dict)  # a status word of the input (normalised) -> its family
    __pydantic_config__: ClassVar[dict] = STRICT

    def policy_for(self, size: str) -> Policy:
        return self.policy.get(size, DEFAULT_POLICY[size])  # type: ignore[call-overload]


def config_from_json(raw: dict[str, Any]) -> Config:
    """A plan's `config` object (JSON) back into a Config; a key storyc does not know is a TypeError."""
    models = raw["models"]
    return Config(
        paths=Paths(**raw["paths"]),
        gates=Gates(**raw["gates"]),
        models=Models(**{**models, "prices": {model: Price(**price) for model, price in models["prices"].items()}}),
        runner=Runner(**raw["runner"]),
        execution=Execution(**raw["execution"]),
        policy={size: Policy(**row) for size, row in raw["policy"].items()},
        statuses={word: Family(family) for word, family in raw["statuses"].items()},
    )


@frozen
class ResolvedPolicy:
    """A story's row of the quality matrix, resolved: what the run does for it."""

    model: str  # the model id of its first attempts
    tier: str  # haiku, sonnet, opus, or the id itself for a model outside the tiers
    reviewer: bool
    review_passes: int
    tests: str  # the test scope: unit, unit+integration, full, full+e2e
    gates: list[str]  # the gates that judge it, in order (secrets is storyc's own)
    ladder: list[str]  # the Builder's model for each attempt, 1 to max_attempts: the recovery ladder


@frozen
class StatusPlace:
    """Where a story's status is written in its tasks file, as `storyc compile` found it.

    The run writes the story's status back there (runners/writeback.py), once it has checked that the
    place still names the story (a person may edit the file while a run goes on), else found it again.
    JSON: the story is the object at `pointer`; `ids` are the ids written in the objects the pointer
    steps into inside lists (its parents', then its own), and `key` the member that holds its status
    (None: it has none; a "status" member is added, unless Ralph's `passes` holds its status).
    Markdown: `spans` are the places its status is written, each [kind, line, at, anchor, id_at]: kind
    "cell" (at: the cell's index in its row, counted in pipes before it), "field" (at: the label before
    the value, such as "**Status:** ") or "box" (at: the column of its mark); anchor is the line that
    names the story (the row, the checklist item, the section's heading), id_at where its id stands on
    that line (in a row the cell's index, else the column; -1: storyc found it nowhere on the line).
    """

    pointer: list[str | int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    key: str | None = None
    spans: list[list] = field(default_factory=list)


@frozen
class StatusWords:
    """A tasks file's own words for the status families, as `storyc compile` read them: the run writes in them."""

    write: dict[str, str]  # family value -> the word written (none: the file declares `statuses` and none of that family)
    read: dict[str, str]  # each status the file holds, as written (a Markdown cell: "✅ **Done**"), and each word above -> its family
    tick: str = "x"  # Markdown: the mark of a ticked box, x or X as the file ticks most


@frozen
class PlannedStory:
    """One story of the plan: what it is, where it stands, and how it is built."""

    id: str
    title: str
    description: str
    acceptance_criteria: list[str]
    files: list[str]  # the files in its scope (globs allowed)
    exclude: list[str]  # patterns of later stories that may name one of its files: theirs to change, not its to watch
    status: str  # the input's own word
    family: str  # the status's Family value
    status_at: StatusPlace | None  # where the run writes its status back; None: its file keeps none (storyc's record does)
    size: str
    size_source: str
    hours: float  # as declared (estimated_hours) or the size's band
    estimate_hours: float  # what the plan counts on: measured builds where enough are known, else `hours` (see estimates.py)
    estimate_source: str
    remaining_hours: float | None  # its estimate plus the longest chain of its dependents'; None when not a target
    priority: str | None
    epic: str | None
    depends_on: list[str]  # as declared
    after: list[str]  # every story that must finish first: declared, subtask and shared-file edges
    children: list[str]  # the ids of its subtasks
    wave: int | None
    policy: ResolvedPolicy
    spec: str  # its spec file, relative to the root
    spec_sha256: str
    prompt_digest: str
    target: bool  # a doit target (in scope and not cancelled)
    extra: dict[str, Any]  # the input's fields storyc does not know, kept for the prompt


@frozen
class Edge:
    """`source` finishes before `target` starts, and why."""

    source: str
    target: str
    kind: Literal["declared", "file", "subtask"]
    reason: str
    JSON_NAMES: ClassVar[dict[str, str]] = {"source": "from", "target": "to"}


@frozen
class IntegrationPoint:
    """A row of the sprint's Integration Points: a check run once its stories are done."""

    name: str
    slug: str
    stories: list[str]
    verification: str
    gate: str | None  # the [gates] entry its verification names (test, integration, e2e), if any
    command: str | None  # what runs: a command written in backticks, else that gate's; None: nothing to run
    after_wave: int | None


@frozen
class SprintInfo:
    """The sprint file the plan came from (none: every open story)."""

    number: int | None
    name: str
    file: str | None
    date: str | None
    goal: str

    @property
    def title(self) -> str:
        """`Sprint 3: Checkout`; the name alone for a sprint without a number, the number alone without a name."""
        if self.number is None:
            return self.name
        return f"Sprint {self.number}: {self.name}" if self.name else f"Sprint {self.number}"


@frozen
class Plan:
    """The compiled sprint: its stories, their order, and the resolved configuration."""

    schema_version: int
    storyc_version: str
    project: str
    sprint: SprintInfo
    inputs: dict[str, dict[str, str]]  # name -> {path, sha256[, tag]} of each input compiled
    config: Config  # storyc.toml resolved: every key with its value, a policy row for every size
    stories: list[PlannedStory]
    edges: list[Edge]
    waves: list[list[str]]
    critical_path: dict[str, Any]
    dispatch_order: list[str]  # targets in the order ready stories start (doit_tasks emits it)
    velocity: dict[str, Any]  # measured builds per size and model (estimates.Estimates.velocity)
    integration_points: list[IntegrationPoint]
    excluded: dict[str, list[str]]
    pulled_in: list[str]  # in scope only as unfinished dependencies (compile --with-deps)
    status_words: StatusWords  # the tasks file's words for each status family
    spec_texts: dict[str, str]  # spec path -> the spec file's text; not in plan.json
    notes: list[str] = ()  # what the compile decided that a person should hear (where the scope came from, ...); not in plan.json
    JSON_NAMES: ClassVar[dict[str, str | None]] = {"spec_texts": None, "notes": None}

    def story(self, story_id: str) -> PlannedStory:
        return next(s for s in self.stories if s.id == story_id)

    @property
    def targets(self) -> list[PlannedStory]:
        return [s for s in self.stories if s.target]

    @property
    def build(self) -> str:
        """The build folder, relative to the root."""
        return self.config.paths.build


def json_fields(value: Any) -> dict[str, Any]:
    """A plan dataclass as a dict of its fields, in declaration order.

    Shallow on purpose: pass it as `default=` to json.dumps, and the C encoder
    calls it again for the dataclasses inside (a story's policy, say).
    """
    if not is_dataclass(value):
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return {key: getattr(value, name) for name, key in _json_names(type(value))}


@cache
def _json_names(cls: type) -> tuple[tuple[str, str], ...]:
    """(field, JSON key) pairs; JSON_NAMES renames a field, or leaves it out with None."""
    names = getattr(cls, "JSON_NAMES", {})
    return tuple((f.name, key) for f in fields(cls) if (key := names.get(f.name, f.name)) is not None)


def load_plan(path: Path) -> Plan:
    """build/plan.json back into a Plan: the one place the run reads it."""
    try:
        return plan_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OutputError(
            f"{path} cannot be read as a compiled plan ({type(exc).__name__}: {exc})", Where(str(path)),
            hint="run `storyc compile` again (a plan written by another storyc version, or edited by hand)",
        ) from None


def plan_from_json(raw: dict[str, Any]) -> Plan:
    """plan.json's object into a Plan; a key missing or unknown is a KeyError or a TypeError (see load_plan)."""
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"schema {raw.get('schema_version')!r}, storyc {raw.get('storyc_version')!r}; this storyc reads schema {SCHEMA_VERSION}")
    return Plan(
        **{key: raw[key] for key in ("schema_version", "storyc_version", "project", "inputs", "waves",
                                     "critical_path", "dispatch_order", "velocity", "excluded", "pulled_in")},
        sprint=SprintInfo(**raw["sprint"]),
        config=config_from_json(raw["config"]),
        stories=[PlannedStory(**{**s, "policy": ResolvedPolicy(**s["policy"]), "status_at": s["status_at"] and StatusPlace(**s["status_at"])})
                 for s in raw["stories"]],
        status_words=StatusWords(**raw["status_words"]),
        edges=[Edge(source=e["from"], target=e["to"], kind=e["kind"], reason=e["reason"]) for e in raw["edges"]],
        integration_points=[IntegrationPoint(**p) for p in raw["integration_points"]],
        spec_texts={},
    )
