"""Input files into text, with the errors a person can act on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from storyc.errors import InputError, StorycError, Where


def require_root(root: Path) -> None:
    """`--root` must name a folder that exists: say so, rather than report a file missing inside it."""
    if not root.is_dir():
        what = "it is a file" if root.exists() else "it does not exist"
        raise InputError(f"{root} is not a folder: {what}", hint="--root names the repository: a folder that exists")


def read_text(path: Path) -> str:
    """The file's text as UTF-8 (a BOM is dropped); a clear error otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"{path} does not exist", Where(str(path)),
            hint="give the path on the command line or set it under [paths] in storyc.toml",
        ) from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a file", Where(str(path)), hint="name a file inside it, e.g. docs/sprints/sprint-001.md") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise InputError(
            f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}", Where(str(path)),
            hint="check the path and its permissions (given on the command line or under [paths] in storyc.toml)",
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path.name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            Where(str(path), line),
            hint="save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)",
        ) from None


def parse_toml(text: str, path: Path, error: type[StorycError], *, hint: str, name: str | None = None) -> dict:
    """TOML text into a dict; a syntax error is `error` at the line tomllib names."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = int(m.group(1)) if (m := re.search(r"line (\d+)", str(exc))) else 0
        raise error(f"{name or path.name} is not valid TOML: {exc}", Where(str(path), line), hint=hint) from None
