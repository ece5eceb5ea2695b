"""A story's gates into a verdict: the project's own commands, judged by exit code alone.

Gates are commands from storyc.toml run by storyc, never by an agent, and a
model's opinion of its own work counts for nothing here. The built-in
`secrets` gate looks for hard-coded credentials and URLs in the files the
story changed.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from storyc.plan import Gates
from storyc.words import short

from .credentials import SHAPES
from .proc import clip, run_process

# A literal given to a name that says it is a credential: DB_PASSWORD = "…", "apiKey": "…", client_secret: '…'.
_CREDENTIAL = r"[A-Za-z0-9_.\-]*(?:password|passwd|passwort|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|auth[_\-]?key|credentials?)[A-Za-z0-9_\-]*"
ASSIGNED = re.compile(rf"""(?i)(?<![A-Za-z0-9_]){_CREDENTIAL}["']?\s*(?::=|=>|[:=])\s*(?:[rbuf]{{0,2}})(["'`])([^"'`\s]{{8,}})\1""")
# In a .env, .ini, .properties or YAML file a value needs no quotes: API_KEY=abc123…, password: hunter22.
ASSIGNED_BARE = re.compile(rf"""(?i)^\s*(?:export\s+)?-?\s*{_CREDENTIAL}\s*[:=]\s*([^\s"'#]{{8,}})\s*(?:#.*)?$""")
BARE_VALUES = (".env", ".ini", ".cfg", ".conf", ".properties", ".yaml", ".yml")
# Not a credential: an identifier (password-input, refresh_token, DB_PASSWORD), a reference to one
# (${TOKEN}, {{ vault_token }}, %(pw)s, <your key>), a path or URL, a mask, a stand-in.
_NOT_A_SECRET = re.compile(
    r"""^(?:[a-z]+(?:[_.\-][a-z]+)+|[A-Z]+(?:_[A-Z0-9]+)+|[$%<{].*|/.*|\w+://.*|(.)\1+)$"""
    r"""|(?i:^your|example|placeholder|changeme|change_me|dummy|redacted|xxxx|\*\*\*)"""
)
# A URL a program uses belongs in configuration: one in a string literal of code. Not one in a comment,
# a docstring's prose, documentation, a config or lock file, a test's fixture; nor a reserved or
# loopback host (RFC 2606/6761), nor the W3C's and JSON Schema's identifiers.
URL_IN_LITERAL = re.compile(
    r"""["'`](https?://(?![{$<%]|(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]|(?:[\w\-]+\.)*example\.(?:com|org|net)|[\w.\-]+\.(?:example|test|invalid|localhost)|www\.w3\.org|json-schema\.org)(?:[:/?#"'`]|$))[^\s'"`<>)]+)"""
)
CODE_COMMENT = re.compile(r"^\s*(?:#|//|/\*|\*|<!--|--|;|%)")
NOT_CODE = (".md", ".markdown", ".rst", ".txt", ".adoc", ".json", ".jsonc", ".json5", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf",
            ".env", ".properties", ".xml", ".csv", ".tsv", ".lock", ".sum", ".mod", ".svg", ".html", ".htm", ".map", ".snap", ".ipynb")
NOT_CODE_NAMES = re.compile(r"(?i)^(?:license|licence|copying|notice|authors|contributors|changelog|changes|history|readme|codeowners)(?:\.\w+)?$|(?:^|[.\-])lock(?:\.\w+)?$|\.lock$")
TEST_PATH = re.compile(r"(?:^|/)(?:tests?|__tests__|spec|specs|fixtures?|testdata|e2e)/|(?:^|/)(?:test_[^/]*|[^/]*_test\.\w+|[^/]*\.(?:test|spec)\.\w+|conftest\.py)$")


@dataclass
class GateResult:
    name: str
    command: str
    passed: bool
    output: str
    seconds: float = 0.0
    exit_code: int | None = None

    def brief(self) -> str:
        """What a fix agent needs: which gate, and its output."""
        return f"$ {self.command}\n{self.output.strip()}" if self.command else self.output.strip()

    def headline(self) -> str:
        """The failure in a few words, for a person: `lint failed: Found 2 errors.`"""
        lines = [line.strip(" =-_*#~") for line in self.output.splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            return f"{self.name} failed with exit code {self.exit_code}"
        if self.name == "secrets":  # the findings come first, the advice last
            return f"{self.name} failed: {short(lines[0], 100)}" + (f" (and {len(lines) - 2} more)" if len(lines) > 2 else "")
        return f"{self.name} failed: {short(lines[-1], 100)}"  # test runners, linters and compilers end with their tally


def run_gates(names: list[str], commands: Gates, cwd: Path, changed: list[str], *, timeout: float, log: Path, attempt: int = 0) -> list[GateResult]:
    """Run the gates in order, stopping at the first failure (its output is the fix brief).

    Each run is in `log` between a header (gate, attempt, command) and a footer
    (exit code, duration): one log holds all of a story's attempts.
    """
    results = []
    for name in names:
        if name == "secrets":
            started = _log_header(log, name, "storyc secrets check", attempt)
            result = secrets_gate(cwd, changed)
            with open(log, "a", encoding="utf-8") as f:
                f.write(result.output.rstrip() + "\n")
            result.exit_code, result.seconds, how = int(not result.passed), time.monotonic() - started, ""
        else:
            command = getattr(commands, name)
            if not command:
                continue
            started = _log_header(log, name, command, attempt)
            try:
                done = run_process(command, cwd=cwd, timeout=timeout, shell=True, log=log)
            except KeyboardInterrupt:
                log_footer(log, name, None, time.monotonic() - started, how="interrupted")
                raise
            how = "timed out" if done.timed_out else ""
            output = done.output if not done.timed_out else done.output + f"\n(timed out after {timeout:g} s; killed)"
            result = GateResult(name, command, done.returncode == 0 and not done.timed_out, clip(output, 8000), done.seconds, done.returncode)
        log_footer(log, name, result.exit_code, result.seconds, how=how)
        results.append(result)
        if not result.passed:
            break
    return results


def _log_header(log: Path, name: str, command: str, attempt: int) -> float:
    when = "re-verification, no agent" if attempt == 0 else f"attempt {attempt}"
    return log_header(log, f"gate {name} · {when}", command)


def log_header(log: Path, what: str, command: str) -> float:
    """The line that opens one command's output in a log; the time it started."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        gap = "\n" if f.tell() else ""  # a blank line between runs
        f.write(f"{gap}===== {what} · {time.strftime('%Y-%m-%d %H:%M:%S')}\n$ {command}\n")
    return time.monotonic()


def log_footer(log: Path, name: str, exit_code: int | None, seconds: float, *, how: str = "") -> None:
    """The line that closes it: how it ended."""
    ended = f"exit code {exit_code}" + (f" ({how})" if how else "") if exit_code is not None else how
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"===== {name}: {ended}, {seconds:.2f} s\n")


def secrets_gate(cwd: Path, changed: list[str]) -> GateResult:
    """Hard-coded credentials and URLs in the lines the story wrote (a line its file already had
    at HEAD is not the story's: touching a file is no reason to answer for all of it)."""
    findings = []
    for name in changed:
        path = cwd / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        had = _lines_at_head(cwd, name)
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip() in had:
                continue
            for what in line_findings(name, line):
                findings.append(f"{name}:{lineno}: {what}: {line.strip()[:120]}")
    output = "\n".join(findings) or f"no hard-coded secrets or URLs in {len(changed)} changed file(s)"
    if findings:
        output += "\nmove these into configuration or environment variables"
    return GateResult("secrets", "storyc secrets check", not findings, output)


def line_findings(name: str, line: str) -> list[str]:
    """What is hard-coded in one line of the file `name`: a credential, a URL."""
    found = [what for what, pattern in SHAPES if pattern.search(line)]
    suffix = _suffix(name)
    values = [m.group(2) for m in ASSIGNED.finditer(line)]
    if suffix in BARE_VALUES and (m := ASSIGNED_BARE.match(line)):
        values.append(m.group(1))
    if not found and any(not _NOT_A_SECRET.search(v) for v in values):
        found.append("a hard-coded password or secret")
    base = name.rsplit("/", 1)[-1]
    code = suffix not in NOT_CODE and not NOT_CODE_NAMES.search(base) and not TEST_PATH.search(name)
    if code and not CODE_COMMENT.match(line) and URL_IN_LITERAL.search(line):
        found.append("a hard-coded URL")
    return found


def _suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1].lower()
    if base == ".env" or base.startswith(".env."):
        return ".env"
    return "." + base.rsplit(".", 1)[-1] if "." in base.lstrip(".") else ""


def _lines_at_head(cwd: Path, name: str) -> set[str]:
    """The stripped lines of the file as committed at HEAD (none outside git, or for a new file)."""
    try:
        done = subprocess.run(["git", "show", f"HEAD:./{name}"], cwd=cwd, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return set()
    if done.returncode != 0:
        return set()
    return {line.strip() for line in done.stdout.decode("utf-8", errors="replace").splitlines() if line.strip()}
