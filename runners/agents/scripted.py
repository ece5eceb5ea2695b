"""Written model turns into replies, for the offline demo and tests.

A script is `.storyc/scripts/<story-id>.toml`:

    [[builder]]                  # turns of a role: [[builder]], [[validator]], [[reviewer]]
    say = "I'll write the model."                           # optional text block
    tool = "Write"                                          # optional: one tool call
    input = { file_path = "src/x.py", content = "..." }     # or a [builder.input] table
    [[builder]]
    say = "Done."                # a turn with no tool ends the turn

    [[attempt.2.builder]]        # attempt 2 (1-based) plays these instead of [[builder]]
    tool = "Write"
    input = { file_path = "src/x.py", content = "..." }

Optional per turn: `stop = "max_tokens"` (forces that stop_reason) and
`usage = { input = 10, output = 5, cache_read = 0, cache_write = 0 }`.

When the turns run out the model ends its turn with "(end of script)". A role
without turns ends its turn at once with "(no script)": a reviewer approves
only when a turn of its script says "VERDICT: APPROVE".

A story id is the file name as it is when it is safe as one (letters, digits,
`.`, `_`, `-`, neither starting nor ending with `.`); otherwise each run of other
characters becomes one `_` and dots at either end are dropped (`auth/login`
plays `auth_login.toml`): the name its spec file has, without the digest.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Callable

from storyc.errors import InputError, Where
from storyc.files import parse_toml, safe_name
from storyc.plan import Price

from .base import AgentResult, AgentTask, Reply, Usage
from .loop import run_loop

ROLES = ("builder", "validator", "reviewer")
TURN_KEYS = {"say": str, "tool": str, "input": dict, "stop": str, "usage": dict}
USAGE_KEYS = ("input", "output", "cache_read", "cache_write")
FREE = Price(input=0.0, output=0.0)
EXAMPLE = '[[builder]]\nsay = "I\'ll write it."\ntool = "Write"\ninput = { file_path = "src/x.py", content = "x = 1\\n" }'


def script_path(scripts_dir: Path, story_id: str) -> Path:
    """Where the script of `story_id` lives (see the module docstring for unsafe ids)."""
    return scripts_dir / f"{safe_name(story_id)}.toml"


class ScriptedClient:
    """A ModelClient that plays the turns a script wrote for one role and one attempt."""

    def __init__(self, script_path: Path, role: str, attempt: int):
        self.path = script_path
        self.role = role
        self._turns = list(load_turns(script_path, role, attempt))
        self._played = 0
        self._ids = 0

    def create(self, *, model: str, system: str, tools: list[dict[str, Any]], messages: list[dict[str, Any]], max_tokens: int) -> Reply:
        if not self._turns:
            return Reply([{"type": "text", "text": "(no script)"}], "end_turn")
        if self._played >= len(self._turns):
            return Reply([{"type": "text", "text": "(end of script)"}], "end_turn")
        turn = self._turns[self._played]
        self._played += 1
        content: list[dict[str, Any]] = []
        if "say" in turn:
            content.append({"type": "text", "text": turn["say"]})
        if "tool" in turn:
            self._ids += 1
            content.append({"type": "tool_use", "id": f"toolu_{self._ids}", "name": turn["tool"], "input": turn.get("input", {})})
        usage = turn.get("usage", {})
        return Reply(
            content,
            turn.get("stop") or ("tool_use" if "tool" in turn else "end_turn"),
            Usage(*(usage.get(key, 0) for key in USAGE_KEYS)),
        )


class ScriptedRunner:
    """The scripted model through the same tool loop as a real one.

    Usage a script reports is counted at `price`: free unless a test gives one
    (to drive the dollar budget, say).
    """

    def __init__(self, scripts_dir: Path, make_executor: Callable[[AgentTask], Any], price: Price = FREE):
        self.scripts_dir = scripts_dir
        self.make_executor = make_executor
        self.price = price

    def preflight(self, story_id: str) -> None:
        """The story's script exists (a story without one fails alone: the others have theirs)."""
        path = script_path(self.scripts_dir, story_id)
        if not path.is_file():
            raise no_script(path)

    def run(self, task: AgentTask) -> AgentResult:
        client = ScriptedClient(script_path(self.scripts_dir, task.story_id), task.role, task.attempt)
        return run_loop(client, self.make_executor(task), task, price=self.price)


# ------------------------------------------------------------------ reading a script


def no_script(path: Path) -> InputError:
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path  # doit runs in the project root
    return InputError(
        f"no script for this story: {shown} does not exist",
        Where(str(path)),
        hint=f"the scripted runner plays written turns; write {path.name} with turns such as:\n{EXAMPLE}\nor set [runner] kind in storyc.toml",
    )


def load_turns(path: Path, role: str, attempt: int) -> list[dict[str, Any]]:
    """The turns `role` plays on `attempt`, checked; bad input names its file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise no_script(path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the script {path.name}: {exc}", Where(str(path))) from None
    data = parse_toml(text, path, InputError, name=f"the script {path.name}",
                      hint="check quoting and brackets on that line; a turn is a [[builder]] table with say, tool and input")
    check = _Checker(path, text)
    check.top(data)
    attempts = data.get("attempt", {})
    for number, roles in attempts.items():
        for name, turns in roles.items():
            check.turns(turns, ("attempt", number, name))
    for name in ROLES:
        check.turns(data.get(name, []), (name,))
    return attempts.get(str(attempt), {}).get(role) or data.get(role, [])


class _Checker:
    """Structure errors, each pointing at the line of the turn or key at fault."""

    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text

    def fail(self, message: str, line: int, hint: str) -> InputError:
        return InputError(f"{message} in the script {self.path.name}", Where(str(self.path), line), hint=hint)

    def top(self, data: dict[str, Any]) -> None:
        for key in data:
            if key not in (*ROLES, "attempt"):
                raise self.fail(
                    f"unknown table `{key}`",
                    self._line(rf"{re.escape(key)}\b"),
                    "a script holds [[builder]], [[validator]], [[reviewer]] and [[attempt.N.<role>]] turns",
                )
        attempts = data.get("attempt", {})
        if not isinstance(attempts, dict):
            raise self.fail("`attempt` is not a table", self._line(r"attempt\b"), "write attempt turns as [[attempt.2.builder]]")
        for number, roles in attempts.items():
            where = self._line(rf"attempt\s*\.\s*\"?{re.escape(number)}\b")
            if not number.isdigit() or int(number) < 1:
                raise self.fail(f"attempt `{number}` is not an attempt number", where, "attempts are numbered from 1: [[attempt.2.builder]]")
            if not isinstance(roles, dict) or any(name not in ROLES for name in roles):
                raise self.fail(
                    f"attempt {number} holds something other than role turns", where, "write [[attempt.2.builder]], [[attempt.2.reviewer]], ..."
                )

    def turns(self, turns: Any, table: tuple[str, ...]) -> None:
        header = r"\s*\.\s*".join(rf"\"?{re.escape(part)}\"?" for part in table)
        name = ".".join(table)
        if not isinstance(turns, list):
            raise self.fail(f"`{name}` is not a list of turns", self._line(header), f"write each turn as a [[{name}]] table")
        for index, turn in enumerate(turns):
            start = self._nth_header(header, index)
            if not isinstance(turn, dict):
                raise self.fail(f"turn {index + 1} of `{name}` is not a table", start, f"write each turn as a [[{name}]] table")
            for key, value in turn.items():
                kind = TURN_KEYS.get(key)
                if kind is None:
                    raise self.fail(
                        f"unknown key `{key}` in turn {index + 1} of `{name}`",
                        self._line(rf"{re.escape(key)}\s*=", start) or start,
                        "".join(f"did you mean `{m}`? " for m in difflib.get_close_matches(key, TURN_KEYS, n=1))
                        + "a turn's keys are: " + ", ".join(TURN_KEYS),
                    )
                if not isinstance(value, kind):
                    raise self.fail(
                        f"`{key}` in turn {index + 1} of `{name}` must be a {'table' if kind is dict else 'string'}",
                        self._line(rf"{re.escape(key)}\s*=", start) or start,
                        'say = "text", tool = "Write", input = { file_path = "..." }, stop = "max_tokens"',
                    )
            if "input" in turn and "tool" not in turn:
                raise self.fail(
                    f"turn {index + 1} of `{name}` has an input but no tool", start, 'name the tool the input is for: tool = "Write"'
                )
            usage = turn.get("usage", {})
            if any(key not in USAGE_KEYS or type(n) is not int or n < 0 for key, n in usage.items()):
                raise self.fail(
                    f"bad usage in turn {index + 1} of `{name}`",
                    self._line(r"usage\s*=", start) or start,
                    "usage = { input = 10, output = 5, cache_read = 0, cache_write = 0 }, whole numbers",
                )

    def _line(self, pattern: str, after: int = 0) -> int:
        """The 1-based line, from line `after` on, that starts with `pattern` (maybe inside `[`); 0 when absent."""
        lines = self.text.splitlines()
        for number in range(max(after, 1), len(lines) + 1):
            if re.match(rf"\s*\[*\s*{pattern}", lines[number - 1]):
                return number
        return 0

    def _nth_header(self, header: str, index: int) -> int:
        found = [n for n, line in enumerate(self.text.splitlines(), 1) if re.match(rf"\s*\[\[\s*{header}\s*\]\]", line)]
        return found[index] if index < len(found) else 0
