"""A command into its exit code and output, killed whole on timeout."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Only these reach an agent's commands: never API keys, tokens or cloud credentials.
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "USER", "LOGNAME", "SHELL")


@dataclass
class Finished:
    returncode: int  # negative: killed by that signal (a timeout gives -15 or -9)
    output: str  # stdout and stderr interleaved, clipped
    timed_out: bool
    seconds: float
    started: bool = True  # False: the program could not be started at all (not found, not executable)


def run_process(
    args: list[str] | str,
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float,
    shell: bool = False,
    log: Path | None = None,
    limit: int = 30_000,
    grace: float = 2.0,
) -> Finished:
    """Run `args` in its own session, output to a file (a pipe left open by a grandchild could hang us).

    On timeout the whole process group gets SIGTERM, then SIGKILL after `grace`
    seconds. Whatever the command leaves running in its group when it exits is
    killed too, so no stray process outlives the call.
    """
    start = time.monotonic()
    env, mark = _marked(env)
    try:
        return _run(args, cwd=cwd, env=env, timeout=timeout, shell=shell, log=log, limit=limit, grace=grace, start=start)
    finally:
        _kill_marked(mark)


def _run(args, *, cwd, env, timeout, shell, log, limit, grace, start) -> Finished:
    if log is None:  # nothing to keep: read a pipe, hold only head and tail (a flood must not fill the disk)
        return _run_piped(args, cwd=cwd, env=env, timeout=timeout, shell=shell, limit=limit, grace=grace, start=start)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a+b", buffering=0) as out:
        begin = out.tell()
        proc = _start(args, cwd, env, shell, out)
        if isinstance(proc, Finished):
            out.write(proc.output.encode() + b"\n")
            return proc
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        finally:  # also on KeyboardInterrupt: never leave the group running
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        return Finished(proc.returncode, _read_clipped(out, begin, limit), timed_out, time.monotonic() - start)


def _start(args, cwd: Path, env, shell: bool, stdout) -> subprocess.Popen | Finished:
    """The command started in its own session with stdin closed; a command that cannot start, as Finished (127 or 126)."""
    try:
        return subprocess.Popen(
            args, cwd=cwd, env=env, shell=shell, stdin=subprocess.DEVNULL,
            stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True,
        )
    except (FileNotFoundError, PermissionError) as e:
        if e.filename == os.fspath(cwd):
            raise  # a missing cwd is the caller's bug, not the command's
        missing = isinstance(e, FileNotFoundError)
        return Finished(127 if missing else 126, f"{'command not found' if missing else 'permission denied'}: {e.filename or args}", False, 0.0, started=False)


def program_problem(program: str, *, path: str | None, cwd: Path) -> str | None:
    """Why `program` could not be started from `cwd` with PATH `path` (as exec looks for it), or None."""
    if os.sep not in program:
        return None if shutil.which(program, path=path) else f"`{program}` is not on PATH"
    file = cwd / program
    if not file.is_file():
        return f"{program} does not exist"
    if not os.access(file, os.X_OK):
        return f"{program} is not executable (chmod +x it)"
    return None


class _HeadTail:
    """The first and last bytes of a stream of any length, in bounded memory."""

    def __init__(self, limit: int):
        self.keep = 4 * limit  # a UTF-8 character is at most 4 bytes
        self.head, self.tail, self.size = bytearray(), bytearray(), 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            del self.tail[: max(len(self.tail) - self.keep, 0)]

    def text(self, limit: int) -> str:
        if self.size <= self.keep:
            return clip(self.head.decode(errors="replace"), limit)
        return _clip_ends(self.head, self.tail, self.size, limit)


def _run_piped(args, *, cwd, env, timeout, shell, limit, grace, start) -> Finished:
    """run_process without a log: output read from a pipe until the command exits, not until EOF.

    A grandchild that keeps the pipe open (a daemon it started) cannot hang us:
    reading stops when the command has exited and its group is killed.
    """
    out = _HeadTail(limit)
    read_end, write_end = os.pipe()
    try:
        try:
            proc = _start(args, cwd, env, shell, write_end)
        finally:
            os.close(write_end)
        if isinstance(proc, Finished):
            return proc
        os.set_blocking(read_end, False)
        timed_out = False
        try:
            deadline = start + timeout
            while proc.poll() is None:
                if time.monotonic() >= deadline:
                    timed_out = True
                    _signal_group(proc.pid, signal.SIGTERM)
                    _drain(read_end, out, until=lambda: proc.poll() is not None, seconds=grace)
                    break
                _drain(read_end, out, until=lambda: proc.poll() is not None, seconds=min(0.2, max(deadline - time.monotonic(), 0)))
        finally:  # also on KeyboardInterrupt: never leave the group running
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        _drain(read_end, out, until=lambda: False, seconds=0.5, stop_when_empty=True)
        return Finished(proc.returncode, out.text(limit), timed_out, time.monotonic() - start)
    finally:
        os.close(read_end)


def _drain(fd: int, out: _HeadTail, *, until, seconds: float, stop_when_empty: bool = False) -> None:
    """Read what `fd` offers for up to `seconds`, or until `until()`; at EOF, wait for `until()` without reading."""
    end = time.monotonic() + seconds
    while not until():
        left = end - time.monotonic()
        if left <= 0:
            return
        ready, _, _ = select.select([fd], [], [], min(left, 0.05))
        if not ready:
            if stop_when_empty:
                return
            continue
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            continue
        if not chunk:  # every writer closed: nothing more will come
            if stop_when_empty:
                return
            time.sleep(min(max(end - time.monotonic(), 0), 0.01))
            continue
        out.add(chunk)


MARK = "STORYC_PROCESS"


def _marked(env: dict[str, str] | None) -> tuple[dict[str, str], bytes]:
    """`env` with a mark that every descendant inherits, even one that left the process group (setsid)."""
    token = os.urandom(8).hex()
    return {**(os.environ if env is None else env), MARK: token}, f"{MARK}={token}".encode()


def _kill_marked(mark: bytes) -> None:
    """Kill whatever still carries the call's mark: a `setsid` daemon escapes the group, not its environment.

    Linux only (/proc); elsewhere the process-group kill is all there is.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if mark in environ.split(b"\0"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _read_clipped(out: BinaryIO, begin: int, limit: int) -> str:
    """The output from `begin` on, without reading a huge file whole."""
    size = out.seek(0, os.SEEK_END) - begin
    out.seek(begin)
    if size <= 4 * limit:  # a UTF-8 character is at most 4 bytes
        return clip(out.read().decode(errors="replace"), limit)
    head = out.read(2 * limit)
    out.seek(-2 * limit, os.SEEK_END)
    return _clip_ends(head, out.read(), size, limit)


def clip(text: str, limit: int) -> str:
    """`text`, or its head and tail around a line saying how much was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return _cut(text[:half], f"{len(text) - 2 * half} characters", text[len(text) - half :])


def _clip_ends(head: bytes, tail: bytes, size: int, limit: int) -> str:
    """An output of `size` bytes clipped, from bytes of its start and of its end: the first and last `limit // 2` characters."""
    half = limit // 2
    first = head.decode(errors="replace")[:half]
    last = tail.decode(errors="replace")
    last = last[len(last) - half :]
    return _cut(first, f"{size - len(first.encode()) - len(last.encode())} bytes", last)


def _cut(head: str, what: str, tail: str) -> str:
    return f"{head}\n… [{what} cut] …\n{tail}"


def scrubbed_env(home: Path, tmp: Path, *, path: str | None = None) -> dict[str, str]:
    """An allow-listed environment for agent commands, with its own HOME and TMPDIR (created)."""
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    env = {key: os.environ[key] for key in _ENV_KEEP if key in os.environ}
    env["PATH"] = path if path is not None else os.environ.get("PATH", os.defpath)
    env["HOME"] = str(home)
    env.update(TMPDIR=str(tmp), TMP=str(tmp), TEMP=str(tmp))
    return env
