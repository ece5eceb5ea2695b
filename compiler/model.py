"""The domain's values: stories as read, and the compiled plan."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Size = Literal["XS", "S", "M", "L", "XL"]

# The seed's hour bands: XS < 2 h, S 2-4 h, M 4-8 h, L 1-2 d, XL 2-3 d (8 h days).
SIZE_BANDS: tuple[tuple[float, str], ...] = ((2, "XS"), (4, "S"), (8, "M"), (16, "L"))
SIZE_HOURS: dict[str, float] = {"XS": 1.0, "S": 3.0, "M": 6.0, "L": 12.0, "XL": 20.0}


def size_for_hours(hours: float) -> str:
    return next((size for limit, size in SIZE_BANDS if hours < limit), "XL")


@dataclass(slots=True)
class Origin:
    """Where a story sits in tasks.json, and what storyc derived while reading it."""

    pointer: tuple  # the JSON path of the story, for errors found late
    size_source: str  # size, estimated_hours, estimate, complexity or default
    hours: float | None  # from an estimate; None when the size came from elsewhere
    children: list[str]  # ids of its subtasks
    deps_given: bool = True  # whether the file says the story's dependencies (even none): a sprint fills them only if not


class Story(BaseModel):
    """One story of tasks.json, in the native shape. Unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="Unique id; integers are read as strings, subtasks as `parent.sub`.")
    title: str = ""
    description: str = ""
    size: Size | None = Field(None, description="XS, S, M, L or XL; from estimated_hours, estimate or complexity when absent.")
    depends_on: list[str] = Field(default_factory=list, description="Also read from dependsOn or dependencies.")
    files: list[str] = Field(default_factory=list, description="Files in scope; globs allowed. Also read from relevantFiles[].path.")
    acceptance_criteria: list[str] = Field(default_factory=list, description="Also read from acceptanceCriteria.")
    status: str = Field("todo", description="A status word of any common vocabulary (todo, in-progress, done, blocked, ...).")
    priority: str | int | None = None
    epic: str | None = None
    model: str | None = Field(None, description="Overrides the policy's model: a tier (haiku, sonnet, opus) or a model id.")
    gates: list[str] | None = Field(None, description="Overrides the policy's gates: names among typecheck, lint, test, integration, e2e.")

    # Where the story came from and what reading it taught storyc. One private attribute, set by
    # tasks.load_tasks, with no default: pydantic's private attributes cost a
    # lookup each, and a default a deep copy per story.
    _origin: Origin


class TasksFile(BaseModel):
    """The native shape of docs/tasks/tasks.json."""

    model_config = ConfigDict(extra="allow", title="storyc tasks.json")

    version: int = 1
    project: str = ""
    statuses: list[str] | None = Field(None, description="The file's own status vocabulary; when present, every status must be one of these.")
    stories: list[Story]


# ---------------------------------------------------------------- the plan
#
# The plan is storyc's own output, built from values the compiler has already
# checked: plain frozen dataclasses, cheap to make ten thousand of.
# `json_fields` lets json's C encoder write them into plan.json.

frozen = dataclass(frozen=True, slots=True)


@frozen
class ResolvedPolicy:
    model: str
    tier: str
    reviewer: bool
    review_passes: int
    tests: str
    gates: list[str]


@frozen
class PlannedStory:
    id: str
    title: str
    description: str
    acceptance_criteria: list[str]
    files: list[str]
    status: str
    family: str
    size: str
    size_source: str
    hours: float  # as declared (estimated_hours) or the size's band
    estimate_hours: float  # what the plan counts on: measured builds where enough are known, else `hours` (see estimates.py)
    estimate_source: str
    remaining_hours: float | None  # its estimate plus the longest chain of its dependents'; None when not a target
    priority: str | None
    epic: str | None
    depends_on: list[str]
    after: list[str]
    children: list[str]
    wave: int | None
    policy: ResolvedPolicy
    spec: str
    spec_sha256: str
    prompt_digest: str
    target: bool
    extra: dict[str, Any]


@frozen
class Edge:
    source: str
    target: str
    kind: Literal["declared", "file", "subtask"]
    reason: str
    JSON_NAMES: ClassVar[dict[str, str]] = {"source": "from", "target": "to"}


@frozen
class IntegrationPoint:
    name: str
    slug: str
    stories: list[str]
    verification: str
    gate: str | None  # the [gates] entry its verification names (test, integration, e2e), if any
    command: str | None  # what runs: a command written in backticks, else that gate's; None: nothing to run
    after_wave: int | None


@frozen
class SprintInfo:
    number: int | None
    name: str
    file: str | None
    date: str | None
    goal: str


@frozen
class Plan:
    schema_version: int
    storyc_version: str
    project: str
    sprint: SprintInfo
    inputs: dict[str, dict[str, str]]
    config: dict[str, Any]
    stories: list[PlannedStory]
    edges: list[Edge]
    waves: list[list[str]]
    critical_path: dict[str, Any]
    dispatch_order: list[str]  # targets in the order ready stories start (doit_tasks emits it)
    velocity: dict[str, Any]  # measured builds per size and model (estimates.Estimates.velocity)
    integration_points: list[IntegrationPoint]
    excluded: dict[str, list[str]]
    pulled_in: list[str]  # in scope only as unfinished dependencies (compile --with-deps)
    spec_texts: dict[str, str]  # spec path -> the spec file's text; not in plan.json
    notes: list[str] = ()  # what the compile decided that a person should hear (where the scope came from, ...); not in plan.json
    JSON_NAMES: ClassVar[dict[str, str | None]] = {"spec_texts": None, "notes": None}

    def story(self, story_id: str) -> PlannedStory:
        return next(s for s in self.stories if s.id == story_id)

    @property
    def targets(self) -> list[PlannedStory]:
        return [s for s in self.stories if s.target]


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
