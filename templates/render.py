"""Templates (the package's, or a user's own copy) into text."""

from __future__ import annotations

import hashlib
import traceback
from functools import lru_cache
from pathlib import Path

import jinja2

from storyc.errors import InputError, Where
from storyc.words import table_cell

PACKAGE_TEMPLATES = Path(__file__).resolve().parent


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


def user_templates(root: Path, templates_path: str) -> Path:
    return (root / templates_path).resolve()


def render(env: jinja2.Environment, name: str, **context) -> str:
    """A template rendered; a fault in a user's copy is reported like any bad input.

    Anything a user's template raises ({{ 1/0 }}, endless recursion) is its
    fault; a fault in storyc's own templates is storyc's, and stays a crash.
    """
    try:
        text = env.get_template(name).render(**context)
        text.encode("utf-8")  # {{ "\ud800" }} renders, but could not be written
        return text
    except Exception as exc:  # noqa: BLE001 -- a user's template can raise anything
        error = _template_error(env, name, exc)
        if error.where is not None and Path(error.where.file).resolve().is_relative_to(PACKAGE_TEMPLATES):
            raise
        raise error from None


def prompt_name(role: str) -> str:
    return f"prompts/{role}.md.j2"


def template_digest(env: jinja2.Environment, roles: tuple[str, ...]) -> str:
    """One digest of the prompt templates a story uses: editing one makes it stale."""
    parts = []
    for role in roles:
        try:
            source, _, _ = env.loader.get_source(env, prompt_name(role))
        except (jinja2.TemplateError, UnicodeDecodeError) as exc:
            raise _template_error(env, prompt_name(role), exc) from None
        parts.append(f"{role}:{hashlib.sha256(source.encode()).hexdigest()}\n")
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]


def _template_error(env: jinja2.Environment, name: str, exc: Exception) -> InputError:
    """The template file and line at fault, from a jinja2 error or the frame it rose in."""
    file, line = getattr(exc, "filename", None), getattr(exc, "lineno", None) or 0
    if file is None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
        file, line = (frames[-1].filename, frames[-1].lineno or 0) if frames else (_template_file(env, name), 0)
    if isinstance(exc, UnicodeDecodeError):
        reason = "is not UTF-8"
    elif isinstance(exc, UnicodeEncodeError):
        reason = "renders text that is not Unicode (a lone surrogate)"
    else:
        reason = f"fails: {getattr(exc, 'message', None) or exc or type(exc).__name__}"
    return InputError(
        f"template {name} {reason}",
        Where(str(file), line),
        hint=f"fix your copy, or delete it to use storyc's own (in {PACKAGE_TEMPLATES})",
    )


def _template_file(env: jinja2.Environment, name: str) -> str:
    """The file a template name resolves to: a user's copy first."""
    for loader in getattr(env.loader, "loaders", [env.loader]):
        for folder in getattr(loader, "searchpath", []):
            if (path := Path(folder) / name).is_file():
                return str(path)
    return name
