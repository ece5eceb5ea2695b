"""storyc.toml, or [tool.storyc] in pyproject.toml, into a Config."""

from __future__ import annotations

import difflib
import re
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storyc.errors import ConfigError, Where
from storyc.files import parse_toml, read_text
from storyc.plan import Family, Price

from .statuses import normalise

SIZES = ("XS", "S", "M", "L", "XL")
TestScope = Literal["unit", "unit+integration", "full", "full+e2e"]
GATE_NAMES = ("typecheck", "lint", "test", "integration", "e2e")


class _Section(BaseModel):
    # A key storyc does not know is a typo until proven otherwise; infinity is not a budget.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Paths(_Section):
    tasks: str = "docs/tasks/tasks.json"
    sprint: str | None = None
    sprints_dir: str = "docs/sprints"
    architecture: str = "docs/planning/ARCHITECTURE.md"
    progress: str = ".ai/PROGRESS.md"
    kanban: str = "docs/tasks/kanban_board.md"
    build: str = "build"
    templates: str = ".storyc/templates"

    @field_validator("*")
    @classmethod
    def _no_nul(cls, v: str | None) -> str | None:
        if v is not None and "\0" in v:
            raise ValueError("a path cannot hold a NUL character")
        return v

    @field_validator("build")
    @classmethod
    def _inside_the_repository(cls, v: str) -> str:
        if problem := build_dir_problem(v):
            raise ValueError(problem)
        return v.strip().rstrip("/")


def build_dir_problem(path: str) -> str | None:
    """Why `path` cannot be the build folder (storyc writes and deletes there), or None."""
    parts = PurePosixPath(path.strip().replace("\\", "/")).parts
    if not parts or parts == (".",):
        return "the build folder must be a folder below the repository root, such as build"
    if parts[0] == "/" or ".." in parts or ":" in parts[0]:
        return "the build folder must be a relative path inside the repository, such as build"
    if any(len(part.encode()) > 200 for part in parts):
        return "a folder name of the build folder is longer than 200 bytes"
    return None


class Gates(_Section):
    typecheck: str | None = None
    lint: str | None = None
    test: str | None = None
    integration: str | None = None
    e2e: str | None = None
    secrets: bool = True


class Models(_Section):
    haiku: str = "claude-haiku-4-5"
    sonnet: str = "claude-sonnet-4-5"
    opus: str = "claude-opus-4-5"
    prices: dict[str, Price] = Field(
        default_factory=lambda: {
            "claude-haiku-4-5": Price(input=1.0, output=5.0, cache_read=0.10, cache_write=1.25),
            "claude-sonnet-4-5": Price(input=3.0, output=15.0, cache_read=0.30, cache_write=3.75),
            "claude-opus-4-5": Price(input=5.0, output=25.0, cache_read=0.50, cache_write=6.25),
        }
    )

    def tier(self, name: str) -> str:
        """A tier name (haiku, sonnet, opus) into its model id; an id stays as it is."""
        return getattr(self, name) if name in ("haiku", "sonnet", "opus") else name

    @property
    def ladder(self) -> list[str]:
        return [self.haiku, self.sonnet, self.opus]


class Policy(_Section):
    model: str
    reviewer: bool
    review_passes: int = Field(ge=0, le=5)
    tests: TestScope


# The seed's "Quality vs Speed Decision Matrix".
DEFAULT_POLICY = {
    "XS": Policy(model="haiku", reviewer=False, review_passes=0, tests="unit"),
    "S": Policy(model="haiku", reviewer=False, review_passes=0, tests="unit"),
    "M": Policy(model="sonnet", reviewer=True, review_passes=1, tests="unit+integration"),
    "L": Policy(model="sonnet", reviewer=True, review_passes=1, tests="full"),
    "XL": Policy(model="sonnet", reviewer=True, review_passes=2, tests="full+e2e"),
}


class Runner(_Section):
    kind: Literal["anthropic", "claude-code", "command", "scripted"] = "anthropic"
    max_attempts: int = Field(default=3, ge=1, le=10)
    argv: list[str] = Field(default_factory=list)
    budget_usd: float = Field(default=5.0, gt=0)
    max_turns: int = Field(default=50, ge=1)
    timeout_s: int = Field(default=1800, ge=1)
    request_timeout_s: float = Field(default=600.0, gt=0)  # the anthropic runner: one model request, before it is retried
    scripts: str = ".storyc/scripts"  # the scripted runner's turns, one <story-id>.toml per story
    env: list[str] | None = None  # the command runner's environment: None, all of yours; a list, only those names and the basics


class Execution(_Section):
    barrier: Literal["none", "wave"] = "none"
    isolation: Literal["worktree", "none"] | None = None  # None: worktree in a git repository
    order: Literal["critical-path", "declared"] = "critical-path"  # which ready story starts first


class Config(_Section):
    paths: Paths = Paths()
    gates: Gates = Gates()
    models: Models = Models()
    policy: dict[Literal["XS", "S", "M", "L", "XL"], Policy] = Field(default_factory=dict)
    runner: Runner = Runner()
    execution: Execution = Execution()
    statuses: dict[str, Family] = Field(default_factory=dict)

    @field_validator("statuses")
    @classmethod
    def _normalise_words(cls, v: dict[str, Family]) -> dict[str, Family]:
        return {normalise(word): family for word, family in v.items()}

    def policy_for(self, size: str) -> Policy:
        return self.policy.get(size, DEFAULT_POLICY[size])  # type: ignore[arg-type]


def _policy_merge(raw: dict) -> dict:
    """`[policy.M] reviewer = false` overrides one field, not the whole row."""
    policy = raw.get("policy")
    if isinstance(policy, dict):
        raw = dict(raw)
        raw["policy"] = {
            size: {**DEFAULT_POLICY[size].model_dump(), **row} if size in DEFAULT_POLICY and isinstance(row, dict) else row
            for size, row in policy.items()
        }
    return raw


def load_config(root: Path) -> tuple[Config, Path | None]:
    """The configuration of the repository at `root`, and the file it came from."""
    for name, table in (("storyc.toml", None), ("pyproject.toml", ("tool", "storyc"))):
        path = root / name
        if not path.is_file():
            continue
        text = read_text(path)
        data = parse_toml(text, path, ConfigError, hint="check quoting and brackets on that line")
        if table:
            tool = data.get(table[0])
            data = tool.get(table[1]) if isinstance(tool, dict) else None
            if data is None:
                continue
        if not isinstance(data, dict):
            raise ConfigError(
                f"[{'.'.join(table or ())}] in {name} is not a table",
                Where(str(path), line_of_key(text, list(table or ()))),
                hint="write it as a table header, e.g. [tool.storyc.gates], with key = value lines below",
            )
        return _validate(data, path, text, list(table or ())), path
    return Config(), None


def _validate(data: dict, path: Path, text: str, prefix: list[str]) -> Config:
    try:
        config = Config.model_validate(_policy_merge(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"] if p != "[key]"]  # pydantic's marker for a bad dict key
        key = ".".join(loc)
        line = line_of_key(text, prefix + loc)
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):  # a model's key; a dataclass's (Price)
            message = f"unknown key `{key}` in {path.name}"
            known = _known_keys(loc[:-1])
            close = difflib.get_close_matches(loc[-1], known, n=1)
            hint = (f"did you mean `{close[0]}`? " if close else "") + f"known keys here: {', '.join(known)}"
        else:
            message = f"invalid value for `{key}` in {path.name}: {err['msg']}"
            hint = _hint_for(loc)
        raise ConfigError(message, Where(str(path), line), hint=hint) from None
    _check_model_names(config, data, path, text, prefix)
    return config


TIERS = ("haiku", "sonnet", "opus")
_CLAUDE_WORDS = ("claude", *TIERS)


def known_models(config: Config) -> list[str]:
    """Every model name storyc knows of: the tiers, the default ids, and those configured."""
    return list(dict.fromkeys([*TIERS, *Models().ladder, *Models().prices, *config.models.ladder, *config.models.prices]))


def model_typo(name: str, known: list[str]) -> str | None:
    """What a mistyped model name (`claude-sonet-4`, `Sonnet`, `hiaku`) probably meant, or None.

    Only words close to Claude's family names count as typos: any other name is
    some agent CLI's own model, and a new Claude id (`claude-sonnet-4-6`) is
    spelled right word for word, so both are taken as written.
    """
    odd = {w: close[0] for w in re.findall(r"[A-Za-z]+", name) if w not in _CLAUDE_WORDS and (close := difflib.get_close_matches(w.lower(), _CLAUDE_WORDS, n=1, cutoff=0.8))}
    if not odd:
        return None
    close = difflib.get_close_matches(name.lower(), [k for k in known if k != name], n=1, cutoff=0.6)
    return close[0] if close else re.sub(r"[A-Za-z]+", lambda m: odd.get(m[0], m[0]), name)


def _check_model_names(config: Config, data: dict, path: Path, text: str, prefix: list[str]) -> None:
    """A model name in [models] or a [policy] row that looks mistyped is refused, with what it probably meant."""
    models = data.get("models") if isinstance(data.get("models"), dict) else {}
    policy = data.get("policy") if isinstance(data.get("policy"), dict) else {}
    named = [(["models", tier], models[tier]) for tier in TIERS if tier in models]
    named += [(["models", "prices", model], model) for model in models.get("prices") or {}]
    named += [(["policy", size, "model"], row["model"]) for size, row in policy.items() if isinstance(row, dict) and "model" in row]
    for loc, name in named:
        if meant := model_typo(name, known_models(config)):
            raise ConfigError(
                f"model {name!r} in `{'.'.join(loc)}` of {path.name} looks mistyped",
                Where(str(path), line_of_key(text, prefix + loc)),
                hint=f"did you mean `{meant}`? A model is a tier (haiku, sonnet, opus) or a model id such as {Models().sonnet}",
            )


def _known_keys(loc: list[str]) -> list[str]:
    model: type[BaseModel] = Config
    for step in loc:
        field = model.model_fields.get(step)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    return list(model.model_fields)


_HINTS = {
    "policy": "a policy row is [policy.XS] … [policy.XL] with model, reviewer, review_passes, tests (unit, unit+integration, full, full+e2e)",
    "statuses": "map a status word to one of: " + ", ".join(f.value for f in Family),
    "runner.kind": "runner kind is one of anthropic, claude-code, command, scripted",
    "runner.max_attempts": "max_attempts is a whole number from 1 to 10",
    "runner.argv": 'argv is a list of strings, e.g. ["codex", "exec", "{prompt_file}"]',
    "execution.barrier": 'barrier is "none" or "wave"',
    "execution.isolation": 'isolation is "worktree" or "none"',
    "execution.order": 'order is "critical-path" (the longest remaining path starts first) or "declared" (tasks.json order)',
    "gates.secrets": "secrets is true or false",
    "gates": "a gate is a shell command in a string",
    "paths": "a path is a string, relative to the repository root",
    "paths.build": 'build is a folder inside the repository, such as "build"',
    "runner.budget_usd": "budget_usd is a positive number of US dollars",
    "runner.request_timeout_s": "request_timeout_s is a positive number of seconds to wait for one model answer, e.g. 600",
}


def _hint_for(loc: list[str]) -> str:
    for depth in range(len(loc), 0, -1):
        if hint := _HINTS.get(".".join(loc[:depth])):
            return hint
    return "`storyc init` in an empty folder writes a storyc.toml with every key and its default"


def line_of_key(text: str, loc: list[str]) -> int:
    """The line of `a.b.key`: the key inside its table, else the table's header."""
    if not loc:
        return 0
    start = 0
    for depth in range(len(loc) - 1, 0, -1):
        header = re.compile(rf"^[ \t]*\[[ \t]*{re.escape('.'.join(loc[:depth]))}[ \t]*\]", re.M)
        if match := header.search(text):
            start = match.start()
            break
    # The key as written: `tests = …` under [policy.M], or dotted, `M.tests = …` under [policy].
    names = "|".join(re.escape(".".join(loc[i:])) for i in range(len(loc) - 1, -1, -1))
    key = re.compile(rf'^[ \t]*"?(?:{names})"?[ \t]*=|^[ \t]*\[[ \t]*"?{re.escape(".".join(loc))}"?[ \t]*\]', re.M)
    match = key.search(text, start) or key.search(text)
    position = match.start() if match else start
    return text.count("\n", 0, position) + 1 if (match or start) else 0
