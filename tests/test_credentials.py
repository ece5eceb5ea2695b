"""One list of credential shapes: what the secrets gate finds in code, a transcript never shows."""

from __future__ import annotations

import pytest

from storyc.runners.credentials import SHAPES, redact
from storyc.runners.gates import line_findings

# One of each shape, as it would sit in a file an agent wrote (and then print in its transcript).
EXAMPLES = {
    "a private key": "-----BEGIN RSA PRIVATE KEY-----",
    "an Anthropic or OpenAI API key": "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2,
    "an AWS access key id": "AKIAIOSFODNN7EXAMPLE",
    "a GitHub token": "ghp_" + "0123456789abcdefghijABCDEFGHIJ012345",
    "a Slack token": "xoxe-1-" + "a1B2c3D4e5F6",
    "a Stripe secret key": "sk_live_" + "a1B2c3D4e5F6g7H8",
    "a Google API key": "AIza" + "SyA1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q",
}


def test_every_shape_has_an_example() -> None:
    assert [what for what, _ in SHAPES] == list(EXAMPLES)


@pytest.mark.parametrize("what", list(EXAMPLES))
def test_what_the_gate_finds_a_transcript_hides(what: str) -> None:
    line = f"note = {EXAMPLES[what]!r}"
    assert what in line_findings("notes.py", line)
    hidden = redact(line)
    assert EXAMPLES[what] not in hidden and "[redacted]" in hidden


def test_a_private_key_is_hidden_whole_in_a_transcript() -> None:
    text = "cat id_rsa:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\ndone"
    assert redact(text) == "cat id_rsa:\n[redacted]\ndone"
