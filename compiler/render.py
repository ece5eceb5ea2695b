"""Templates (the package's, or a user's own copy) into text."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import jinja2

import storyc.templates

PACKAGE_TEMPLATES = Path(storyc.templates.__file__).resolve().parent
ROLES = ("builder", "validator", "reviewer", "fix")


def environment(user_dir: Path | None) -> jinja2.Environment:
    """Templates from `user_dir` first, then storyc's own."""
    return _environment(user_dir if user_dir is not None and user_dir.is_dir() else None)


@lru_cache(maxsize=8)  # per folder; jinja2 itself reloads a template whose file changed
def _environment(user_dir: Path | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
    loaders.append(jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["cell"] = table_cell
    return env


def table_cell(text: object) -> str:
    """Text made safe for one cell of a Markdown table: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def user_templates(root: Path, templates_path: str) -> Path:
    return (root / templates_path).resolve()


def render(env: jinja2.Environment, name: str, **context) -> str:
    return env.get_template(name).render(**context)


def prompt_name(role: str) -> str:
    return f"prompts/{role}.md.j2"


@lru_cache(maxsize=64)
def _source_digest(env: jinja2.Environment, name: str) -> str:
    source, _, _ = env.loader.get_source(env, name)
    return hashlib.sha256(source.encode()).hexdigest()


@lru_cache(maxsize=64)
def template_digest(env: jinja2.Environment, roles: tuple[str, ...]) -> str:
    """One digest of the prompt templates a story uses: editing one makes it stale."""
    parts = "".join(f"{role}:{_source_digest(env, prompt_name(role))}\n" for role in roles)
    return hashlib.sha256(parts.encode()).hexdigest()[:16]
