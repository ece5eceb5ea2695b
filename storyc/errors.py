"""Typed errors into the text a person can act on: file, line, what, a hint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Exit codes, one meaning each (the CLI is the only place that uses them).
EXIT_OK = 0
EXIT_FAILED = 1  # a story or a gate failed
EXIT_BAD_INPUT = 2  # bad input or usage
EXIT_INTERNAL = 3  # a bug in storyc


@dataclass(frozen=True)
class Where:
    """A place in an input file; `line` is 1-based, 0 when unknown."""

    file: str
    line: int = 0

    def source_line(self) -> str:
        if not self.line:
            return ""
        try:
            text = Path(self.file).read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return ""
        lines = text.splitlines()
        return lines[self.line - 1].rstrip() if self.line <= len(lines) else ""


class StorycError(Exception):
    """Base of every error storyc reports to a person."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, where: Where | None = None, hint: str = "", extra: str = ""):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint
        self.extra = extra  # more lines after the message, e.g. a printed cycle

    def render(self) -> str:
        out = [f"error: {self.message}"]
        if self.where is not None:
            place = f'  File "{self.where.file}"'
            if self.where.line:
                place += f", line {self.where.line}"
            out.append(place)
            src = self.where.source_line()
            if src:
                out.append(f"    {src.strip()}")
        if self.extra:
            out.extend(f"  {line}" for line in self.extra.splitlines())
        if self.hint:
            out.append("  hint: " + self.hint.replace("\n", "\n        "))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


class InputError(StorycError):
    """An input file is malformed or inconsistent."""


class ConfigError(StorycError):
    """storyc.toml (or [tool.storyc]) is invalid."""


class OutputError(StorycError):
    """An output cannot be written where it must go (a folder in the way, a file for a folder)."""


class GraphError(StorycError):
    """The story graph is not a DAG or names what does not exist."""
