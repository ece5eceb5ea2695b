"""The agent backends: one interface (base), one module per kind; `make_runner` picks the one storyc.toml asks for."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from storyc.plan import Plan


def make_runner(root: Path, plan: Plan):
    """The runner storyc.toml asks for; each kind is imported only when used.

    Every runner has `preflight(story_id)` (raises RunnerUnavailable, or for
    the scripted runner an InputError, without calling anything) and `run(task)`.
    """
    config = plan.config
    runner = config.runner
    if runner.kind == "command":
        from .command import CommandRunner, allowed_env

        return CommandRunner(runner.argv, runner.timeout_s, allowed_env(runner.env), root)
    home = root / config.paths.build / "agent-home"

    def make_executor(task):
        from storyc.files import safe_name

        from .tools import ToolExecutor

        return ToolExecutor(task.workspace, allowed=task.tools, home=home / safe_name(task.story_id))

    if runner.kind == "scripted":
        from .scripted import ScriptedRunner

        return ScriptedRunner(root / runner.scripts, make_executor)
    if runner.kind == "claude-code":
        from .claude_code import ClaudeCodeRunner

        return ClaudeCodeRunner()
    from .anthropic import AnthropicRunner, default_sdk_client

    return AnthropicRunner(config.models.prices, None, make_executor, functools.partial(default_sdk_client, runner.request_timeout_s))


def preflight(root: Path, plan: Plan, story_id: str, runner=None) -> None:
    """Raise RunnerUnavailable (or the scripted runner's InputError) when `story_id`'s agent cannot run here.

    The anthropic runner asks the SDK whether it finds a credential, but only
    when one could be in sight: loading the SDK costs seconds of CPU, and a
    missing key should be said at once.
    """
    if plan.config.runner.kind == "anthropic" and not _credential_in_sight():
        from .base import NO_KEY, RunnerUnavailable

        raise RunnerUnavailable(NO_KEY)
    (runner() if runner else make_runner(root, plan)).preflight(story_id)  # runner: the run's own, made once


def _credential_in_sight() -> bool:
    """Any ANTHROPIC_* variable (a key, a token, a profile, federation), or the SDK's folder of profiles."""
    if any(name.startswith("ANTHROPIC_") and value for name, value in os.environ.items()):
        return True
    if sys.platform == "win32":
        folder = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "Anthropic"
    else:
        folder = Path.home() / ".config" / "anthropic"
    return folder.exists()
