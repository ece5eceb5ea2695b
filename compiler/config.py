"""storyc.toml, or [tool.storyc] in pyproject.toml, into a Config."""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, fields, is_dataclass, replace
from pathlib import Path, PurePosixPath
from typing import get_type_hints

from pydantic import TypeAdapter, ValidationError

from storyc.errors import ConfigError, Where
from storyc.files import parse_toml, read_text
from storyc.plan import DEFAULT_POLICY, Config, Family, Models, Paths  # the schema's types: the plan carries them, resolved

from .statuses import normalise

SIZES = ("XS", "S", "M", "L", "XL")
GATE_NAMES = ("typecheck", "lint", "test", "integration", "e2e")
# pydantic validates storyc's own dataclasses (their __pydantic_config__ forbids unknown keys and infinity).
SCHEMA = TypeAdapter(Config)


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


def _policy_merge(raw: dict) -> dict:
    """`[policy.M] reviewer = false` overrides one field, not the whole row."""
    policy = raw.get("policy")
    if isinstance(policy, dict):
        raw = dict(raw)
        raw["policy"] = {
            size: {**asdict(DEFAULT_POLICY[size]), **row} if size in DEFAULT_POLICY and isinstance(row, dict) else row
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
        config = SCHEMA.validate_python(_policy_merge(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"] if p != "[key]"]  # pydantic's marker for a bad dict key
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            known = _known_keys(loc[:-1])
            close = difflib.get_close_matches(loc[-1], known, n=1)
            hint = (f"did you mean `{close[0]}`? " if close else "") + f"known keys here: {', '.join(known)}"
            raise ConfigError(f"unknown key `{'.'.join(loc)}` in {path.name}", Where(str(path), line_of_key(text, prefix + loc)), hint=hint) from None
        problem = err["msg"]
        if err["type"] == "dataclass_type" and err["ctx"]["class_name"] != "Price":  # a section that is no table, in the words of before
            problem = f"Input should be a valid dictionary or instance of {err['ctx']['class_name']}"
        raise _invalid(loc, problem, path, text, prefix) from None
    config = _checked(config, path, text, prefix)
    _check_model_names(config, data, path, text, prefix)
    return config


def _invalid(loc: list[str], problem: str, path: Path, text: str, prefix: list[str]) -> ConfigError:
    return ConfigError(f"invalid value for `{'.'.join(loc)}` in {path.name}: {problem}", Where(str(path), line_of_key(text, prefix + loc)), hint=_hint_for(loc))


def _checked(config: Config, path: Path, text: str, prefix: list[str]) -> Config:
    """What the schema's types cannot say: no NUL in a path, the build folder inside the repository
    (stripped of a trailing slash), status words as storyc compares them."""
    paths = config.paths
    for name in (f.name for f in fields(Paths)):
        if (value := getattr(paths, name)) is not None and "\0" in value:
            raise _invalid(["paths", name], "Value error, a path cannot hold a NUL character", path, text, prefix)
    if problem := build_dir_problem(paths.build):
        raise _invalid(["paths", "build"], f"Value error, {problem}", path, text, prefix)
    return replace(
        config,
        paths=replace(paths, build=paths.build.strip().rstrip("/")),
        statuses={normalise(word): family for word, family in config.statuses.items()},
    )


TIERS = ("haiku", "sonnet", "opus")
_CLAUDE_WORDS = ("claude", *TIERS)


def known_models(config: Config) -> list[str]:
    """Every model name storyc knows of: the tiers, the default ids, and those configured."""
    return list(dict.fromkeys([*TIERS, *Models().tiers, *Models().prices, *config.models.tiers, *config.models.prices]))


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
    section: type = Config
    for step in loc:
        inner = get_type_hints(section).get(step)
        if not (isinstance(inner, type) and is_dataclass(inner)):
            break
        section = inner
    return [f.name for f in fields(section)]


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
