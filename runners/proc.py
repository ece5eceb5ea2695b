"""A command into its exit code and output, killed whole on timeout."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
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
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a+b", buffering=0) if log is not None else tempfile.TemporaryFile(buffering=0) as out:
        begin = out.tell()
        try:
            proc = subprocess.Popen(
                args, cwd=cwd, env=env, shell=shell, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        except (FileNotFoundError, PermissionError) as e:
            if e.filename == os.fspath(cwd):
                raise
            missing = isinstance(e, FileNotFoundError)
            message = f"{'command not found' if missing else 'permission denied'}: {e.filename or args}"
            out.write(message.encode() + b"\n")
            return Finished(127 if missing else 126, message, False, time.monotonic() - start)
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


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _read_clipped(out: BinaryIO, begin: int, limit: int) -> str:
    """The output from `begin` on, without reading a huge file whole."""
    size = out.seek(0, os.SEEK_END) - begin
    out.seek(begin)
    if size <= 4 * limit:  # a UTF-8 character is at most 4 bytes
        return clip(out.read().decode(errors="replace"), limit)
    half = limit // 2
    head = out.read(2 * limit).decode(errors="replace")[:half]
    out.seek(-2 * limit, os.SEEK_END)
    tail = out.read().decode(errors="replace")
    tail = tail[len(tail) - half :]
    return _cut(head, f"{size - len(head.encode()) - len(tail.encode())} bytes", tail)


def clip(text: str, limit: int) -> str:
    """`text`, or its head and tail around a line saying how much was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return _cut(text[:half], f"{len(text) - 2 * half} characters", text[len(text) - half :])


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
