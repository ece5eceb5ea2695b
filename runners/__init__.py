"""Agent runners: one interface (runners.base), one module per kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def make_runner(root: Path, plan: dict[str, Any]):
    """The runner storyc.toml asks for; each kind is imported only when used."""
    config = plan["config"]
    runner, paths = config["runner"], config["paths"]
    kind = runner["kind"]
    if kind == "command":
        from .command import CommandRunner, allowed_env

        return CommandRunner(runner["argv"], runner["timeout_s"], allowed_env(runner["env"]))
    home = root / paths["build"] / "agent-home"

    def make_executor(task):
        from .tools import ToolExecutor

        return ToolExecutor(task.workspace, allowed=task.tools, home=home / task.story_id.replace("/", "_"))

    if kind == "scripted":
        from .scripted import ScriptedRunner

        return ScriptedRunner(root / runner["scripts"], make_executor)
    if kind == "claude-code":
        from .claude_code import ClaudeCodeRunner

        return ClaudeCodeRunner()
    from storyc.compiler.config import Price

    from .anthropic import AnthropicRunner

    prices = {model: Price(**price) for model, price in config["models"]["prices"].items()}
    return AnthropicRunner(prices, None, make_executor)
