"""The user's files: read with errors a person can act on; written so that a crash or a parallel writer cannot tear them."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

from filelock import BaseFileLock, FileLock, Timeout

from storyc.errors import InputError, OutputError, StorycError, Where


def atomic_write(path: str | Path, data: bytes | str, *, sync: bool = True) -> None:
    """Replace the file at `path` with `data` in one step: a reader sees the old file or the new, never half of one.

    A symlink is written through (the link stays a link); an existing file keeps its permission bits, a new one
    gets the umask's (and its folder is made); on any failure the temporary file is removed and the old file is left as it was.
    `sync=False` skips the fsyncs, for files that can be regenerated at any time (a crash may then lose the newest
    bytes, but still never leaves a torn file in place).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = Path(os.path.realpath(path))
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")  # same folder: os.replace cannot cross filesystems
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to any new file
        with open(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync:
        _fsync_folder(path.parent)


def safe_name(text: str) -> str:
    """`text` as a file name: each run of characters other than letters, digits, `.`, `_`, `-` becomes one `_`,
    and dots at either end are dropped (`auth/login` -> `auth_login`, `../x` -> `_x`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip(".") or "_"


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself survive a crash (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def lock_for(build_dir: Path, name: str, timeout: float = 60) -> FileLock:
    """The lock `build_dir/locks/<name>.lock`, its folder made: one per shared file, never beside the user's files.

    Reentrant within a thread; it excludes other threads (also through the same object) and other processes.
    Build it in the process that uses it: a lock object does not survive a fork.
    """
    folder = build_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(folder / f"{name}.lock", timeout=timeout)


@contextlib.contextmanager
def locked(lock: Path | BaseFileLock, timeout: float | None = None) -> Iterator[BaseFileLock]:
    """Hold `lock` (a lock file's path, or a lock from `lock_for`) for the block.

    OutputError after `timeout` seconds: by default the lock's own timeout, 60 s for a path.
    """
    if not isinstance(lock, BaseFileLock):
        Path(lock).parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock, timeout=60 if timeout is None else timeout)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise OutputError(
            f"waited {lock.timeout if timeout is None else timeout:g} s for the lock {lock.lock_file}", Where(str(lock.lock_file)),
            hint="another storyc process holds it; wait for it to finish (the lock goes with its process)",
        ) from None
    try:
        yield lock
    finally:
        lock.release()


def append_line(path: Path, text: str) -> None:
    """Add one line to an append-only log, in one write call (hold the caller's lock around it)."""
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    with open(path, "ab", buffering=0) as f:
        while data:  # an unbuffered write may take less than all; on a local disk it takes all at once
            data = data[f.write(data) :]

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
