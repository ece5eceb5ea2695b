"""Claude Code's tools, confined to one workspace.

The executor shared by the scripted and the anthropic runner. Every input is a
model's and untrusted: a bad one becomes an error result the model can read and
act on, never an exception. The file tools (Read, Write, Edit, Grep, Glob) never
reach outside the workspace, symlinks included. Bash is not a sandbox: it runs
in the workspace with a scrubbed environment and a timeout, as the same user.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from ..proc import clip, run_process, scrubbed_env

ALL_TOOLS = ("Read", "Write", "Edit", "Bash", "Grep", "Glob")


def _tool(name: str, description: str, required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {**required, **(optional or {})}
    return {"name": name, "description": description, "input_schema": {"type": "object", "properties": properties, "required": list(required)}}


def _field(kind: str, description: str) -> dict[str, str]:
    return {"type": kind, "description": description}


_PATH = _field("string", "A path relative to the workspace, or an absolute path inside it.")
_SCHEMAS: dict[str, dict[str, Any]] = {
    tool["name"]: tool
    for tool in (
        _tool(
            "Read",
            "Read a text file. Lines come numbered like `cat -n`; for long files pass offset (first line, 1-based) and limit (number of lines).",
            {"file_path": _PATH},
            {"offset": _field("integer", "The line to start from, 1-based."), "limit": _field("integer", "How many lines to read.")},
        ),
        _tool(
            "Write",
            "Create a file, or replace all of its content. Parent directories are created.",
            {"file_path": _PATH, "content": _field("string", "The whole new content of the file.")},
        ),
        _tool(
            "Edit",
            "Replace old_string with new_string in a file. old_string must occur exactly once, unless replace_all is true; include enough surrounding lines to make it unique.",
            {"file_path": _PATH, "old_string": _field("string", "The exact text to replace."), "new_string": _field("string", "The text to put in its place.")},
            {"replace_all": _field("boolean", "Replace every occurrence (default false).")},
        ),
        _tool(
            "Bash",
            "Run a shell command in the workspace root and return its output and exit code. Each call starts a fresh shell: cd and exported variables do not carry over. Commands still running at the timeout are killed.",
            {"command": _field("string", "The command to run.")},
            {"timeout": _field("number", "Timeout in milliseconds (capped by storyc's own limit).")},
        ),
        _tool(
            "Grep",
            "Search file contents with a Python regular expression. Prints matching lines as path:line:text; skips .git, binary files and files over 1 MB.",
            {"pattern": _field("string", "A Python regular expression, matched against each line.")},
            {
                "path": _field("string", "A file or directory to search (default: the workspace)."),
                "glob": _field("string", "Only files whose path or name matches this, e.g. '*.py' or '*.{ts,tsx}'."),
            },
        ),
        _tool(
            "Glob",
            "List paths matching a glob pattern such as 'src/**/*.py', sorted; directories end with '/'. Skips .git.",
            {"pattern": _field("string", "A glob pattern relative to path; ** matches any depth.")},
            {"path": _field("string", "The directory to search from (default: the workspace).")},
        ),
    )
}
_TYPES = {"string": (str, "a string"), "integer": (int, "an integer"), "number": ((int, float), "a number"), "boolean": (bool, "a boolean")}
_BULK = {"content", "old_string", "new_string"}  # file text: may hold anything, and be long
_MAX_BULK, _MAX_FIELD, _MAX_SCAN = 5_000_000, 100_000, 1_000_000
GREP_SECONDS = 30.0  # Python's re has no timeout: a pattern like (a+)+$ can run for ever, so Grep runs in a child it can kill


def tool_schemas(names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Anthropic tool definitions for `names`, in that order; the same bytes on every call (prompt caching)."""
    return [copy.deepcopy(_SCHEMAS[name]) for name in names]


@dataclass
class ToolResult:
    text: str
    is_error: bool = False


class ToolError(Exception):
    """A model's tool call that cannot be done; its message goes back to the model."""


class ToolExecutor:
    """Runs one role's tool calls in `workspace`; `changed` collects the paths Write and Edit touched."""

    def __init__(
        self,
        workspace: Path,
        *,
        allowed: tuple[str, ...] = ALL_TOOLS,
        bash_timeout: float = 120.0,
        home: Path | None = None,
        read_lines: int = 2000,
        read_chars: int = 100_000,
        grep_limit: int = 200,
        glob_limit: int = 500,
        output_limit: int = 30_000,
    ) -> None:
        if unknown := set(allowed) - set(ALL_TOOLS):
            raise ValueError(f"unknown tools: {sorted(unknown)}")
        self.workspace = Path(workspace).resolve()
        self.allowed = tuple(allowed)
        self.bash_timeout = bash_timeout
        if home is None:  # outside the workspace; removed with the executor
            self._home_dir = tempfile.TemporaryDirectory(prefix="storyc-home-")
            home = Path(self._home_dir.name)
        self.home = Path(home)
        self.read_lines, self.read_chars, self.output_limit = read_lines, read_chars, output_limit
        self.grep_limit, self.glob_limit = grep_limit, glob_limit
        self.changed: set[str] = set()
        self._shell = shutil.which("bash") or "/bin/sh"

    def run(self, name: str, input: dict[str, Any]) -> ToolResult:
        """Do one tool call; never raises for a model's bad input."""
        has = ", ".join(self.allowed)
        if not isinstance(name, str) or name not in _SCHEMAS:
            return ToolResult(f"unknown tool {name!r}; this role has: {has}", True)
        if name not in self.allowed:
            return ToolResult(f"tool {name} is not available to this role; it has: {has}", True)
        try:
            return getattr(self, f"_{name.lower()}")(**_checked(name, input))
        except ToolError as e:
            return ToolResult(f"{name}: {e}", True)
        except Exception as e:  # OSError mostly; an odd input must not end the agent's run
            return ToolResult(f"{name} failed: {type(e).__name__}: {e}", True)

    # ------------------------------------------------------------ paths

    def _inside(self, raw: str) -> Path:
        """The real path of `raw`, symlinks followed, refused unless inside the real workspace."""
        try:
            real = (self.workspace / raw).resolve()  # an absolute `raw` replaces the workspace
        except RuntimeError:
            raise ToolError(f"{raw}: symlink loop")
        if not real.is_relative_to(self.workspace):
            raise ToolError(f"{raw} is outside the workspace ({self.workspace})")
        return real

    def _file(self, raw: str) -> Path:
        real = self._inside(raw)
        if not real.exists():
            raise ToolError(f"{raw} does not exist")
        if not real.is_file():
            raise ToolError(f"{raw} is {'a directory' if real.is_dir() else 'not a regular file'}")
        return real

    def _dir_fd(self, real_dir: Path, *, create: bool = False) -> int:
        """An fd of `real_dir`, walked down from the workspace one name at a time, never through a symlink.

        `_inside()` resolved the path, but a command left running could swap a
        directory for a symlink since; O_NOFOLLOW on every step refuses that.
        """
        fd = os.open(self.workspace, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in real_dir.relative_to(self.workspace).parts:
                if create:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                try:
                    step = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as e:
                    raise ToolError(f"{self._rel(real_dir)} changed while in use ({e.strerror}); try again")
                os.close(fd)
                fd = step
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_read(self, real: Path) -> int:
        """An fd of the regular file `real`, opened without following a symlink nor blocking on a FIFO."""
        parent = self._dir_fd(real.parent)
        try:
            fd = os.open(real.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=parent)
        except OSError as e:
            raise ToolError(f"{self._rel(real)} changed while in use ({e.strerror}); try again")
        finally:
            os.close(parent)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ToolError(f"{self._rel(real)} is not a regular file")
        os.set_blocking(fd, True)
        return fd

    def _put(self, real: Path, data: bytes) -> None:
        """Write `data` as `real`: a new file renamed over the old one, so a hard link or a swapped-in symlink carries nothing outside."""
        parent = self._dir_fd(real.parent, create=True)
        try:
            mode = 0o644
            try:
                old = os.stat(real.name, dir_fd=parent, follow_symlinks=False)
                if stat.S_ISDIR(old.st_mode):
                    raise ToolError(f"{self._rel(real)} is a directory")
                if stat.S_ISREG(old.st_mode):
                    mode = stat.S_IMODE(old.st_mode)
            except FileNotFoundError:
                pass
            tmp = f".storyc-{secrets.token_hex(6)}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=parent)
            try:
                with open(fd, "wb") as f:
                    f.write(data)
                    os.fchmod(f.fileno(), mode)
                os.replace(tmp, real.name, src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=parent)
                raise
        finally:
            os.close(parent)
        self.changed.add(self._rel(real))

    def _rel(self, real: Path) -> str:
        return real.relative_to(self.workspace).as_posix()

    # ------------------------------------------------------------ tools

    def _read(self, file_path: str, offset: int = 1, limit: int | None = None) -> ToolResult:
        real = self._file(file_path)
        limit = self.read_lines if limit is None else limit
        if limit < 1:
            raise ToolError("limit must be at least 1")
        lines: list[str] = []
        size, more, n = 0, None, 0
        with open(self._open_read(real), "rb") as f:
            if b"\0" in f.read(8192):
                raise ToolError(f"{file_path} is a binary file ({os.fstat(f.fileno()).st_size} bytes); Read shows text files only")
            f.seek(0)
            for n, raw in enumerate(_lines(f, 4 * self.read_chars), start=1):
                if n < offset:
                    continue
                text = raw.decode(errors="replace").rstrip("\r\n")
                line = f"{n:>6}\t{text}"
                if len(lines) == limit or (lines and size + len(line) > self.read_chars):
                    more = n
                    break
                lines.append(clip(line, self.read_chars))  # a first line alone may be too long
                size += len(line) + 1
        if more is not None:
            lines.append(f"… (more lines follow; continue with offset={more})")
        if not lines:
            return ToolResult("(empty file)" if n == 0 else f"(the file has {n} lines; offset {offset} is past the end)")
        return ToolResult("\n".join(lines))

    def _writable(self, raw: str) -> Path:
        """Inside the workspace, and not git's own files: an agent rewriting .git could point git anywhere."""
        real = self._inside(raw)
        if ".git" in real.relative_to(self.workspace).parts:
            raise ToolError(f"{raw} is inside .git, which agents do not write")
        return real

    def _write(self, file_path: str, content: str) -> ToolResult:
        real = self._writable(file_path)
        if real.is_dir():
            raise ToolError(f"{file_path} is a directory")
        existed = real.exists()
        self._put(real, content.encode())
        return ToolResult(f"{'Updated' if existed else 'Created'} {self._rel(real)} ({len(content.splitlines())} lines)")

    def _edit(self, file_path: str, old_string: str, new_string: str, replace_all: bool = False) -> ToolResult:
        real = self._file(str(self._writable(file_path)))
        if not old_string:
            raise ToolError("old_string is empty; to create a file use Write")
        if old_string == new_string:
            raise ToolError("old_string and new_string are the same; nothing to change")
        try:
            with open(self._open_read(real), "rb") as f:
                text = f.read().decode()
        except UnicodeDecodeError:
            raise ToolError(f"{file_path} is not UTF-8 text")
        count = text.count(old_string)
        if count == 0:
            raise ToolError(f"old_string not found in {file_path}")
        if count > 1 and not replace_all:
            raise ToolError(f"old_string occurs {count} times in {file_path}; include more surrounding lines to make it unique, or set replace_all to true")
        self._put(real, text.replace(old_string, new_string).encode())
        return ToolResult(f"Edited {self._rel(real)}: {count} replacement{'s' if count > 1 else ''}")

    def _bash(self, command: str, timeout: float | None = None) -> ToolResult:
        seconds = self.bash_timeout if timeout is None else timeout / 1000
        if not 0 < seconds < math.inf:
            raise ToolError("timeout must be a positive number of milliseconds")
        seconds = min(seconds, self.bash_timeout)
        env = scrubbed_env(self.home, self.home / "tmp")
        done = run_process([self._shell, "-c", command], cwd=self.workspace, env=env, timeout=seconds, limit=self.output_limit)
        text = done.output or "(no output)"
        if done.timed_out:
            return ToolResult(f"{text}\n[timed out after {seconds:g} s; process group killed]", True)
        if done.returncode != 0:
            return ToolResult(f"{text}\n[exit code {done.returncode}]", True)
        return ToolResult(text)

    def _grep(self, pattern: str, path: str = ".", glob: str | None = None) -> ToolResult:
        try:
            re.compile(pattern)  # a bad pattern is told here; the matching runs in a child
        except (re.error, RecursionError, OverflowError) as e:
            raise ToolError(f"invalid regular expression {pattern!r}: {e}")
        root = self._inside(path)
        if not root.exists():
            raise ToolError(f"{path} does not exist")
        globs = _braces(glob) if glob is not None else None
        files = [
            (str(file), self._rel(file))
            for file in self._files(root)
            if globs is None or any(fnmatchcase(self._rel(file), g) or fnmatchcase(file.name, g) for g in globs)
        ]
        seconds = min(GREP_SECONDS, self.bash_timeout)
        job = json.dumps({"pattern": pattern, "files": files, "limit": self.grep_limit, "scan": _MAX_SCAN})
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-S", "-c", _GREP_CHILD], input=job.encode(), capture_output=True, timeout=seconds, cwd=self.workspace, env={}
            )
        except subprocess.TimeoutExpired:  # run() has killed the child
            raise ToolError(f"the search took over {seconds:g} s and was stopped; simplify the pattern (nested repeats such as (a+)+ can run for ever) or narrow path or glob")
        if done.returncode != 0:
            raise ToolError(f"the search failed: {done.stderr.decode(errors='replace')[-500:]}")
        found = json.loads(done.stdout)
        hits, total = found["hits"], found["total"]
        if total > len(hits):
            hits.append(f"… [{total - len(hits)} more matches not shown; narrow the pattern, path or glob]")
        return ToolResult(clip("\n".join(hits), self.output_limit) if hits else "No matches found")

    def _files(self, root: Path) -> Iterator[Path]:
        """`root`, or the regular files under it whose real path is in the workspace; sorted, .git skipped."""
        if root.is_file():
            yield root
            return
        for top, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(names):
                file = Path(top, name)
                if file.is_file() and file.resolve().is_relative_to(self.workspace):
                    yield file

    def _glob(self, pattern: str, path: str = ".") -> ToolResult:
        root = self._inside(path)
        if not root.is_dir():
            raise ToolError(f"{path} is not a directory")
        found: set[str] = set()
        for alternative in _braces(pattern):
            base, pure = root, PurePosixPath(alternative)
            if pure.is_absolute():
                if not pure.is_relative_to(self.workspace):
                    raise ToolError(f"pattern {pattern!r} is outside the workspace ({self.workspace})")
                base, pure = self.workspace, pure.relative_to(self.workspace)
            if ".." in pure.parts:
                raise ToolError(f"pattern {pattern!r} may not contain '..'")
            if not pure.parts:
                raise ToolError("pattern is empty; try '**/*'")
            for match in base.glob(str(pure)):
                rel = match.relative_to(self.workspace)
                if match != self.workspace and ".git" not in rel.parts and match.resolve().is_relative_to(self.workspace):
                    found.add(rel.as_posix() + ("/" if match.is_dir() else ""))
        paths = sorted(found)
        if len(paths) > self.glob_limit:
            paths = [*paths[: self.glob_limit], f"… [{len(paths) - self.glob_limit} more paths not shown; narrow the pattern]"]
        return ToolResult("\n".join(paths) if paths else "No files found")


def _checked(name: str, input: Any) -> dict[str, Any]:
    """The tool's arguments from a model's input, checked against its schema (absent or null → default)."""
    if not isinstance(input, dict):
        raise ToolError(f"input must be an object, got {type(input).__name__}")
    schema = _SCHEMAS[name]["input_schema"]
    args: dict[str, Any] = {}
    for key, prop in schema["properties"].items():
        value = input.get(key)
        if value is None:
            if key in schema["required"]:
                raise ToolError(f"missing required field {key!r} ({_TYPES[prop['type']][1]})")
            continue
        kind, said = _TYPES[prop["type"]]
        if not isinstance(value, kind) or (isinstance(value, bool) and prop["type"] != "boolean"):
            raise ToolError(f"{key!r} must be {said}, got {type(value).__name__}")
        if isinstance(value, str):
            if len(value) > (_MAX_BULK if key in _BULK else _MAX_FIELD):
                raise ToolError(f"{key!r} is too long ({len(value)} characters)")
            if "\0" in value and key not in _BULK:
                raise ToolError(f"{key!r} contains a NUL byte")
        args[key] = value
    return args


def _lines(f: Any, most: int) -> Iterator[bytes]:
    """The lines of binary file `f`, each cut to `most` bytes: a file of one 2 GB line must not be read whole."""
    while True:
        line = f.readline(most)
        if not line:
            return
        if len(line) == most and not line.endswith(b"\n"):
            while (rest := f.readline(1 << 16)) and not rest.endswith(b"\n"):
                pass
        yield line


# Grep's matching, in a child process storyc can kill (no imports from storyc: it starts in a few ms).
_GREP_CHILD = r"""
import json, os, re, stat, sys
job = json.load(sys.stdin)
regex, hits, total = re.compile(job["pattern"]), [], 0
for path, rel in job["files"]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        continue
    with open(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > job["scan"]:
            continue
        data = f.read(job["scan"] + 1)
    if b"\0" in data[:8192]:
        continue
    for n, line in enumerate(data.decode(errors="replace").splitlines(), start=1):
        if regex.search(line):
            total += 1
            if len(hits) < job["limit"]:
                hits.append(f"{rel}:{n}:{line[:500]}")
json.dump({"hits": hits, "total": total}, sys.stdout)
"""


def _braces(pattern: str) -> list[str]:
    """`*.{ts,tsx}` into `*.ts` and `*.tsx`: neither fnmatch nor pathlib knows braces."""
    done: list[str] = []
    todo = [pattern]
    while todo:
        current = todo.pop()
        m = re.search(r"\{([^{}]*)\}", current)
        if m is None:
            done.append(current)
        else:
            todo.extend(current[: m.start()] + alt + current[m.end() :] for alt in m[1].split(","))
        if len(done) + len(todo) > 64:
            raise ToolError(f"pattern {pattern!r} expands to too many alternatives")
    return done
