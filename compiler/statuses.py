"""Status words, as people write them, into a few status families."""

from __future__ import annotations

import json
import re

from storyc.errors import InputError, Where
from storyc.plan import Family

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

_SEP = re.compile(r"[\s\-_'./]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
# A part that turns the meaning around: "NOT_DONE", "no_go", "UNRESOLVED" are placed by no part.
_NEGATIONS = {"not", "no", "non", "never", "un", "without"}


def normalise(word: str) -> str:
    return _SEP.sub("_", word.strip().lower()).strip("_")


def family_of(word: str, extra: dict[str, Family] | None = None) -> Family | None:
    """The family of a status word, or None when the word belongs to none (see `read_status`)."""
    return read_status(word, extra)[0]


def read_status(word: str, extra: dict[str, Family] | None = None) -> tuple[Family | None, str]:
    """The family of a status word and, when its parts placed it, the part that did ("" otherwise).

    The rule for a compound word (`READY_AFTER_DEPENDENCIES`, `PlannedBlockedByDecision`,
    `done - with caveats`): split it into parts at spaces, dashes, underscores, dots and
    case changes; a part `blocked` wins wherever it stands; otherwise the first part (or
    run of parts, such as `in progress`) that is a status word decides. A word with a
    negating part (`not`, `no`, `non`, `un`, `never`, `without`) outside a known phrase
    (`not started`) is placed by none of its parts.
    """
    key = normalise(word)
    words = {**WORDS, **extra} if extra else WORDS
    if key in words:
        return words[key], ""
    parts = normalise(_CAMEL.sub("_", word.strip())).split("_")
    found: list[tuple[Family, str]] = []
    i = 0
    while i < len(parts):
        # The longest run of parts that is a status word: "not_started", "on_hold", "in_progress".
        size = next((n for n in (3, 2, 1) if "_".join(parts[i : i + n]) in words), 0)
        if size:
            phrase = "_".join(parts[i : i + size])
            found.append((words[phrase], phrase))
            i += size
            continue
        if parts[i] in _NEGATIONS:
            return None, ""
        i += 1
    if not found or len(parts) == 1:
        return None, ""
    return next((hit for hit in found if hit[1] == "blocked"), found[0])


def unplaced_error(found: list[tuple[str, Where, str]]) -> InputError:
    """One error for every status word that no family holds: (word, where, the error for it alone) in file order.

    One word: the error points at it. Several: at the first, each listed with its
    lines, and the hint is a `[statuses]` block to paste into storyc.toml.
    """
    lines: dict[str, list[int]] = {}
    for word, where, _ in found:
        lines.setdefault(word, []).append(where.line)
    word, where, message = found[0]
    if len(lines) == 1:
        return InputError(
            message,
            where,
            extra=f"also on line{'s' if len(lines[word]) > 2 else ''} {', '.join(map(str, lines[word][1:]))}" if len(lines[word]) > 1 else "",
            hint=KNOWN_HINT + f"; or map the word in storyc.toml: [statuses] {_toml(word)} = \"todo\"",
        )
    return InputError(
        f"{len(lines)} status words belong to no status family: {', '.join(repr(w) for w in lines)}",
        where,
        extra="\n".join(f"{w!r}: line{'s' if len(at) > 1 else ''} {', '.join(map(str, at))}" for w, at in lines.items()),
        hint="map each in storyc.toml to todo, in_progress, done, blocked, deferred or cancelled (todo below is a guess to edit):\n"
        "[statuses]\n" + "\n".join(f'{_toml(w)} = "todo"' for w in lines),
    )


def _toml(word: str) -> str:
    """A TOML key for any word (JSON's string escapes are TOML's)."""
    return json.dumps(word, ensure_ascii=False)


KNOWN_HINT = "use one of: todo, in_progress, done, blocked, deferred, cancelled (or a word of theirs, such as pending, backlog, complete)"
