"""Credentials by their shape: the one list the `secrets` gate finds in code and `redact` hides in transcripts."""

from __future__ import annotations

import os
import re

# Wrong anywhere, tests and docs included: each names its kind, for the gate's findings.
SHAPES: tuple[tuple[str, re.Pattern], ...] = (
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S)),
    ("an Anthropic or OpenAI API key", re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b")),
    ("a Slack token", re.compile(r"\bxox[abeprs]-[A-Za-z0-9-]{10,}")),
    ("a Stripe secret key", re.compile(r"\b[rs]k_live_[A-Za-z0-9]{16,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
)
# What only a transcript hides: a value given to a name or a header that says it is secret, whatever its shape.
SAID_SECRET = (
    (re.compile(r"\b([A-Z][A-Z0-9_]*(?:API_KEY|ACCESS_KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?))(\s*[=:]\s*)[\"']?[^\s\"']+[\"']?"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/\-]+=*"), r"\1 [redacted]"),
    (re.compile(r"(?i)\b(x-api-key)(\s*[=:]\s*)[\"']?[^\s\"']+[\"']?"), r"\1\2[redacted]"),
)
SECRET_NAMES = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.I)


def _env_secrets() -> list[str]:
    """The values of this process's secret-looking variables (ANTHROPIC_API_KEY, AWS_SECRET_ACCESS_KEY, ...), longest first."""
    values = {value for name, value in os.environ.items() if SECRET_NAMES.search(name) and len(value) >= 8}
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """`text` without anything that looks like a key or a token, nor the value of any secret variable of our environment."""
    for value in _env_secrets():
        text = text.replace(value, "[redacted]")
    for pattern, replacement in SAID_SECRET:
        text = pattern.sub(replacement, text)
    for _, pattern in SHAPES:
        text = pattern.sub("[redacted]", text)
    return text
