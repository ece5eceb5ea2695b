"""Any agent CLI, from an argv template, into an AgentResult.

`[runner] argv = ["codex", "exec", "--model", "{model}", "{prompt_file}"]`: the
placeholders {story_id}, {role}, {prompt_file}, {model}, {attempt} and
{workspace} are filled per call, each argument on its own (no shell, so
nothing in a story can inject a command); STORYC_STORY, STORYC_ROLE,
STORYC_MODEL, STORYC_ATTEMPT and STORYC_PROMPT_FILE say the same in the
environment. The prompt file holds the role's instructions, then the prompt:
an agent CLI has no other way to get them. The agent runs in the workspace
with stdin closed and its own timeout; a timeout kills its whole process
group. Exit code 0 means the agent finished; storyc's gates then decide
whether the story is done. The command is called as builder and, where the
policy asks, as reviewer: the last line of a reviewer's output (stdout and
stderr together) is its verdict, `VERDICT: APPROVE` or `VERDICT: CHANGES_REQUESTED`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from storyc.files import atomic_write

from ..credentials import redact
from ..proc import program_problem, run_process
from .base import (
    FIX_KIND,
    AgentResult,
    AgentTask,
    RunnerUnavailable,
)

PLACEHOLDERS = ("story_id", "role", "prompt_file", "model", "attempt", "workspace")


def fill(argv: list[str], task: AgentTask) -> list[str]:
    values = {"story_id": task.story_id, "role": task.role, "prompt_file": str(task.prompt_file), "model": task.model,
              "attempt": str(task.attempt), "workspace": str(task.workspace)}
    # One pass: a value that itself holds "{model}" (a story id, say) stays as it is.
    pattern = re.compile("|".join(re.escape("{" + key + "}") for key in values))
    return [pattern.sub(lambda m: values[m[0][1:-1]], arg) for arg in argv]


def allowed_env(names: list[str] | None) -> dict[str, str] | None:
    """`[runner] env`: None passes the whole environment; a list passes only the basics (PATH, HOME,
    locale, TMPDIR) and those names, so an agent CLI gets its own key and none of the others."""
    if names is None:
        return None
    basics = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "USER", "LOGNAME", "SHELL", "TMPDIR")
    return {key: os.environ[key] for key in (*basics, *names) if key in os.environ}


class CommandRunner:
    """`root` resolves a relative program path (`./agent.sh`) for the preflight; each attempt runs in its workspace, a copy of it."""

    def __init__(self, argv: list[str], timeout: float, env: dict[str, str] | None = None, root: Path | None = None):
        self.argv, self.timeout, self.env, self.root = argv, timeout, env, root

    def preflight(self, story_id: str) -> None:
        if not self.argv:
            raise RunnerUnavailable(f'cannot run the command runner: [runner] argv is empty; set it in storyc.toml, e.g. argv = ["aider", "--message-file", "{{prompt_file}}"], {FIX_KIND}')
        program = self.argv[0]
        if "{" in program:  # a placeholder: known per attempt only
            return
        if problem := program_problem(program, path=(self.env if self.env is not None else os.environ).get("PATH"), cwd=self.root or Path.cwd()):
            raise RunnerUnavailable(f"cannot run the command runner: {problem}; install it or fix [runner] argv, {FIX_KIND}")

    def run(self, task: AgentTask) -> AgentResult:
        args = fill(self.argv, task)
        if task.system.strip():  # the role's instructions: a CLI agent takes no system prompt, so they lead the file
            atomic_write(task.prompt_file, f"{task.system.rstrip()}\n\n{task.prompt}")
        env = {**(self.env if self.env is not None else os.environ), "STORYC_STORY": task.story_id, "STORYC_ROLE": task.role,
               "STORYC_MODEL": task.model, "STORYC_ATTEMPT": str(task.attempt), "STORYC_PROMPT_FILE": str(task.prompt_file)}
        timeout = min(self.timeout, task.budget.wall_s)
        Path(task.transcript).parent.mkdir(parents=True, exist_ok=True)
        done = run_process(args, cwd=task.workspace, env=env, timeout=timeout, log=task.transcript)
        if not done.started:  # not the agent's failure: no attempt can do better
            raise RunnerUnavailable(f"cannot run the command runner: {done.output}; install it or fix [runner] argv, {FIX_KIND}")
        redact_file(Path(task.transcript))
        output = redact(done.output)
        if done.timed_out:
            return AgentResult(False, "timeout", output, seconds=done.seconds, detail=f"timed out after {timeout:g} s; process group killed")
        if done.returncode != 0:
            return AgentResult(False, "exit", output, seconds=done.seconds, detail=f"exit code {done.returncode}: {output[-2000:]}")
        return AgentResult(True, "exit", output, seconds=done.seconds)


def redact_file(path: Path) -> None:
    """The agent's output log with its secrets redacted (transcripts are kept, and shared), line by line."""
    tmp = path.with_name(path.name + ".redacting")
    with path.open("r", encoding="utf-8", errors="replace", newline="") as src, tmp.open("w", encoding="utf-8", newline="") as dst:
        for line in src:
            dst.write(redact(line))
    os.replace(tmp, path)
