"""Stories as read from tasks.json (the compiled plan they become is storyc.plan)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from storyc.plan import Size

# The seed's hour bands: XS < 2 h, S 2-4 h, M 4-8 h, L 1-2 d, XL 2-3 d (8 h days).
SIZE_BANDS: tuple[tuple[float, str], ...] = ((2, "XS"), (4, "S"), (8, "M"), (16, "L"))
SIZE_HOURS: dict[str, float] = {"XS": 1.0, "S": 3.0, "M": 6.0, "L": 12.0, "XL": 20.0}


def size_for_hours(hours: float) -> str:
    return next((size for limit, size in SIZE_BANDS if hours < limit), "XL")


# Size words as people write them (normalised: lower case, runs of separators as "_").
SIZE_WORDS = {
    "xs": "XS", "xsmall": "XS", "extra_small": "XS", "x_small": "XS", "tiny": "XS",
    "s": "S", "small": "S", "m": "M", "medium": "M", "l": "L", "large": "L",
    "xl": "XL", "xlarge": "XL", "x_large": "XL", "extra_large": "XL",
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|hr|hrs|hours?|d|days?|w|weeks?)?\s*$", re.I)
_UNIT_HOURS = {"d": 8.0, "w": 40.0}


def hours_of(value: Any) -> float | None:
    """Hours from a number or a duration string; None unless finite and not negative (NaN, 1e400 are no estimate)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        hours = value
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        hours = float(m.group(1)) * _UNIT_HOURS.get((m.group(2) or "h")[0].lower(), 1.0)
    else:
        return None
    return float(hours) if 0 <= hours <= sys.float_info.max else None


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
