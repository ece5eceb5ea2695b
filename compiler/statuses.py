"""Status words, as people write them, into a few status families."""

from __future__ import annotations

import re
from enum import Enum


class Family(str, Enum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"
    DEFERRED = "deferred"
    CANCELLED = "cancelled"


# Normalised word (lower case, runs of space/dash/underscore as "_") -> family.
WORDS: dict[str, Family] = {
    **dict.fromkeys(
        ["todo", "to_do", "pending", "planned", "backlog", "open", "new", "not_started",
         "ready", "queued", "proposed", "unstarted", "draft", "triage"],
        Family.TODO,
    ),
    **dict.fromkeys(
        ["in_progress", "inprogress", "doing", "started", "wip", "active", "working",
         "in_development", "in_dev", "review", "in_review", "needs_review", "testing", "qa"],
        Family.IN_PROGRESS,
    ),
    **dict.fromkeys(
        ["done", "complete", "completed", "finished", "closed", "resolved", "shipped",
         "merged", "passed", "passes", "released", "delivered", "accepted"],
        Family.DONE,
    ),
    **dict.fromkeys(["blocked", "stuck", "on_hold", "waiting", "needs_human"], Family.BLOCKED),
    **dict.fromkeys(["deferred", "postponed", "later", "icebox", "someday"], Family.DEFERRED),
    **dict.fromkeys(
        ["cancelled", "canceled", "wontfix", "won_t_fix", "wont_do", "won_t_do", "dropped",
         "abandoned", "obsolete", "rejected", "removed", "duplicate"],
        Family.CANCELLED,
    ),
}

_SEP = re.compile(r"[\s\-_']+")


def normalise(word: str) -> str:
    return _SEP.sub("_", word.strip().lower()).strip("_")


def family_of(word: str, extra: dict[str, Family] | None = None) -> Family | None:
    """The family of a status word, or None when the word belongs to none.

    A word that starts with a family's name and a separator belongs to it, so
    `BLOCKED_AMBIGUITY` or `done_with_caveats` need no entry of their own.
    """
    key = normalise(word)
    if extra and key in extra:
        return extra[key]
    if key in WORDS:
        return WORDS[key]
    head = key.split("_", 1)[0]
    return WORDS.get(head) if head != key and head in {f.value for f in Family} else None


KNOWN_HINT = "use one of: todo, in_progress, done, blocked, deferred, cancelled (or a word of theirs, such as pending, backlog, complete)"
