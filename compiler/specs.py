"""A story and its resolved policy into its spec file: what makes it stale."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from storyc.files import safe_name

SPEC_DIR = "specs"


def spec_path(build_dir: str, story_id: str) -> str:
    """build/specs/<id>.md; an id that is not a short, safe file name as it is
    gets a safe name plus its own digest, so that `US/1` and `US_1` never share a file."""
    safe = safe_name(story_id)
    if safe != story_id or len(safe) > 120:  # file names stop at 255 bytes
        safe = safe[:120] + "-" + hashlib.sha256(story_id.encode()).hexdigest()[:8]
    return f"{build_dir.rstrip('/')}/{SPEC_DIR}/{safe}.md"


def spec_text(story: Mapping[str, Any]) -> str:
    """Everything whose change must rebuild the story, and nothing else.

    `story` holds a planned story's fields (see model.PlannedStory). Status,
    priority and dependencies are left out on purpose: a status written back,
    or an upstream change, must not look like a new spec.
    """
    extra, policy = story["extra"], story["policy"]
    lines = [
        f"# {story['id']}: {story['title']}",
        "",
        f"- Size: {story['size']}",
        f"- Model: {policy.model}",
        f"- Reviewer: {'yes, ' + str(policy.review_passes) + ' pass(es)' if policy.reviewer else 'no'}",
        f"- Tests: {policy.tests}",
        f"- Gates: {', '.join(policy.gates) or 'none'}",
        f"- Prompt templates: {story['prompt_digest']}",
        "",
        "## Description",
        "",
        story["description"].strip() or "(none)",
        "",
        "## Acceptance criteria",
        "",
        *([f"- {c}" for c in story["acceptance_criteria"]] or ["(none)"]),
        "",
        "## Files in scope",
        "",
        *([f"- {f}" for f in story["files"]] or ["(any)"]),
        "",
    ]
    for key, title in (("details", "Details"), ("testStrategy", "Test strategy"), ("test_strategy", "Test strategy")):
        if isinstance(extra.get(key), str) and extra[key].strip():
            lines += [f"## {title}", "", extra[key].strip(), ""]
    return "\n".join(lines)
