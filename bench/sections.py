"""A benchmark's text into its own section of docs/benchmarks.md, the other sections kept."""

from __future__ import annotations

import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def replace_section(doc: str, heading: str, end_mark: str, text: str) -> str:
    """`doc` with the lines from `heading` to `end_mark` replaced by `text`, or `text` appended."""
    lines = doc.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        return doc.rstrip("\n") + "\n\n" + text
    end = next((i + 1 for i in range(start, len(lines)) if lines[i].rstrip() == end_mark), len(lines))
    after = "".join(lines[end:]).lstrip("\n")
    return "".join(lines[:start]) + text + ("\n" + after if after else "")


def write_section(heading: str, end_mark: str, text: str, path: Path = OUTPUT) -> None:
    doc = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    path.write_text(replace_section(doc, heading, end_mark, text), encoding="utf-8")


def publish(heading: str, end_mark: str, text: str, *, write: bool) -> None:
    """The section printed, and (unless --no-write) written into docs/benchmarks.md, saying so on stderr."""
    if write:
        write_section(heading, end_mark, text)
        print(f"wrote the {heading!r} section of {OUTPUT}", file=sys.stderr)
    print(text)
