"""A story's gates into a verdict: the project's own commands, judged by exit code alone.

Gates are commands from storyc.toml run by storyc, never by an agent, and a
model's opinion of its own work counts for nothing here. The built-in
`secrets` gate looks for hard-coded credentials and URLs in the files the
story changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from storyc.runners.proc import clip, run_process

SECRET_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("an Anthropic or OpenAI API key", re.compile(r"\bsk-(?:ant-)?[A-Za-z0-9_\-]{20,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a hard-coded password or secret", re.compile(r"(?i)\b(?:password|passwd|secret|api_?key|token)\b\s*[:=]\s*['\"][^'\"\s]{8,}['\"]")),
    ("a hard-coded URL", re.compile(r"\bhttps?://(?!localhost\b|127\.0\.0\.1\b|example\.(?:com|org)\b)[^\s'\"<>)]+")),
)


@dataclass
class GateResult:
    name: str
    command: str
    passed: bool
    output: str
    seconds: float = 0.0

    def brief(self) -> str:
        """What a fix agent needs: which gate, and its output."""
        return f"$ {self.command}\n{self.output.strip()}" if self.command else self.output.strip()


def run_gates(names: list[str], commands: dict[str, str | None], cwd: Path, changed: list[str], *, timeout: float, log: Path) -> list[GateResult]:
    """Run the gates in order, stopping at the first failure (its output is the fix brief)."""
    results = []
    for name in names:
        if name == "secrets":
            result = secrets_gate(cwd, changed)
        else:
            command = commands.get(name)
            if not command:
                continue
            done = run_process(command, cwd=cwd, timeout=timeout, shell=True, log=log)
            output = done.output if not done.timed_out else done.output + f"\n(timed out after {timeout:g} s; killed)"
            result = GateResult(name, command, done.returncode == 0 and not done.timed_out, clip(output, 8000), done.seconds)
        results.append(result)
        if not result.passed:
            break
    return results


def secrets_gate(cwd: Path, changed: list[str]) -> GateResult:
    findings = []
    for name in changed:
        path = cwd / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            for what, pattern in SECRET_PATTERNS:
                if pattern.search(line):
                    findings.append(f"{name}:{lineno}: {what}: {line.strip()[:120]}")
    output = "\n".join(findings) or f"no hard-coded secrets or URLs in {len(changed)} changed file(s)"
    if findings:
        output += "\nmove these into configuration or environment variables"
    return GateResult("secrets", "storyc secrets check", not findings, output)
