"""The tests' one project harness: a repository on disk (`Repo`), a fake agent outside it (`Agent`), the CLI in-process.

Test modules reach these through fixtures (`repo`, `repo_at`, `run_cli`; `repo(...).commit()` makes it a git repository),
or import the classes as `from storyc_tests import Repo, Agent` (with
--import-mode=importlib no test folder is on sys.path, so this module registers
itself under that name). Fixtures live inside the repository, or at ../shared
beside it (`SHARED`); a test that needs ../shared skips when it is absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import click
import pytest
from click.testing import CliRunner

from storyc.cli import main

sys.modules.setdefault("storyc_tests", sys.modules[__name__])  # `from storyc_tests import Repo, Agent` in a test module


def _load(name: str, file: str) -> None:
    """A helper module of the tests, importable as `name` (with --import-mode=importlib no test folder is on sys.path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


_load("storyc_tests_fakeapi", "fakeapi.py")  # the fake Messages API: `import storyc_tests_fakeapi as fakeapi`
_load("storyc_tests_doitclock", "doitclock.py")  # doit's dispatcher on a virtual clock
_load("storyc_tests_mermaid", "mermaidcheck.py")  # a strict reader of the Mermaid storyc writes

TASKS = "docs/tasks/tasks.json"
SPRINT = "docs/sprints/sprint-001.md"
ROOT = Path(__file__).resolve().parents[1]  # the repository under test
EXAMPLE = ROOT / "examples" / "shop"
SHARED = ROOT.parent / "shared"  # ../shared: fixtures too large or too private to commit
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
IGNORE = "build/\n.doit.db*\n__pycache__/\n.ai/\ndodo.py\n"  # storyc's and doit's own files, as `storyc init` proposes
# What a run in place leaves in examples/shop: a copy takes the example as committed.
EXAMPLE_LITTER = shutil.ignore_patterns("build", "dodo.py", "__pycache__", ".doit.db*", ".ai")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def refused(self, message: str, line: int | None = None) -> None:
        """Bad input, reported as storyc promises: exit 2, the message, the line if given, a hint, no traceback."""
        assert self.code == 2, self.output
        assert "Traceback" not in self.output, self.output
        assert re.search(message, self.stderr), self.stderr
        if line is not None:
            assert re.search(rf'File "[^"]+", line {line}$', self.stderr, re.M), self.stderr
        assert "  hint: " in self.stderr, self.stderr


@dataclass
class Repo:
    """A repository on disk; every write takes text, bytes, or a value to dump as JSON."""

    root: Path

    def write(self, rel: str, content: Any) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_bytes(content.encode("utf-8"))
        else:
            path.write_bytes((json.dumps(content, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        return path

    def tasks(self, content: Any, rel: str = TASKS) -> Path:
        return self.write(rel, content)

    def sprint(self, content: str, rel: str = SPRINT) -> Path:
        return self.write(rel, content)

    def config(self, content: str) -> Path:
        return self.write("storyc.toml", content)

    def text(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8", errors="replace")

    def line_of(self, rel: str, needle: str, nth: int = 1, after: str | None = None) -> int:
        """The 1-based line of the nth `needle` in the file (after the first `after`, if given)."""
        return line_of(self.text(rel), needle, nth, after)

    def snapshot(self) -> dict[str, bytes]:
        """Every byte of build/ and dodo.py, by relative path."""
        files = [p for p in (self.root / "build").rglob("*") if p.is_file()] if (self.root / "build").is_dir() else []
        if (self.root / "dodo.py").is_file():
            files.append(self.root / "dodo.py")
        return {p.relative_to(self.root).as_posix(): p.read_bytes() for p in sorted(files)}

    def run(self, *args: str, subprocess_: bool = False) -> Run:
        return run_cli(list(args), self.root, subprocess_=subprocess_)

    # A repository the way a user has one: git, the commands they type, the files they edit.

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}).stdout

    def commit(self, message: str = "start") -> None:
        """Everything in the folder committed (the repository made first if need be)."""
        if not (self.root / ".git").exists():
            self.git("init", "-q")
        self.git("add", "-A")
        self.git("commit", "-qm", message)

    def storyc(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The venv's `storyc` executable, as a user types it."""
        return subprocess.run([str(Path(sys.executable).with_name("storyc")), *args], cwd=self.root, capture_output=True, text=True, timeout=timeout)

    def doit(self, *args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "doit", *args], cwd=self.root, capture_output=True, text=True, timeout=timeout, env=env)

    def load(self, rel: str = TASKS) -> Any:
        return json.loads(self.read(rel))

    def edit_json(self, edit: Callable[[Any], None], rel: str = TASKS, indent: int = 4) -> None:
        """A person's edit: the file as the last run left it on disk, changed, written back."""
        data = self.load(rel)
        edit(data)
        self.write(rel, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")

    def statuses(self) -> dict[str, str]:
        return {s["id"]: s["status"] for s in self.load()["stories"]}

    def events(self, kind: str | None = None) -> list[dict]:
        return [e for e in map(json.loads, self.read("build/events.jsonl").splitlines()) if kind in (None, e["event"])]

    def record(self, name: str) -> dict:
        """A story's stamp record, build/stamps/<name>.json."""
        return self.load(f"build/stamps/{name}.json")


class Agent:
    """A fake coding agent: a script outside the repository (as a model's knowledge is), told by
    behaviour.json beside it what to do, logging each call to calls.jsonl there."""

    def __init__(self, folder: Path, script: str, behaviour: Any = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.script = folder / "agent.py"
        self.script.write_text(script)
        self.behave(behaviour if behaviour is not None else {})

    def behave(self, behaviour: Any) -> None:
        (self.folder / "behaviour.json").write_text(json.dumps(behaviour))

    def argv(self, *placeholders: str) -> str:
        """The `[runner] argv` TOML array that runs the script with these placeholders."""
        return json.dumps([sys.executable, str(self.script), *placeholders])

    def calls(self) -> list[dict]:
        path = self.folder / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def reset(self) -> None:
        (self.folder / "calls.jsonl").unlink(missing_ok=True)


def line_of(text: str, needle: str, nth: int = 1, after: str | None = None) -> int:
    """The 1-based line of the nth occurrence of `needle` in `text`, searching from the first `after`."""
    start = text.index(after) + len(after) - 1 if after is not None else -1
    for _ in range(nth):
        start = text.index(needle, start + 1)
    return text.count("\n", 0, start) + 1


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def _main(ctx: click.Context) -> None:
    main(list(ctx.args))


def run_cli(args: list[str], cwd: Path, *, subprocess_: bool = False) -> Run:
    """`storyc ARGS` run in `cwd`: in-process through CliRunner, or as the venv's `storyc` executable."""
    if subprocess_:
        exe = Path(sys.executable).with_name("storyc")
        proc = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"})
        return Run(proc.returncode, proc.stdout, proc.stderr)
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(_main, args, catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # An exception that escaped main(): show it as the traceback a user would see.
        import traceback

        stderr += "".join(traceback.format_exception(result.exception))
    return Run(result.exit_code, result.stdout, stderr)


# Modules whose module-scoped fixture runs a whole sprint: one worker takes each whole, so it runs once.
ONE_WORKER = {"tests/test_anthropic_example.py", "tests/test_failure_output.py", "tests/test_bad_inputs.py", "tests/test_plan.py"}


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: without it (-p no:xdist) it is not called
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Tests handed out one by one, so both workers finish together (a module per worker left one idle
    behind test_execution), except the ONE_WORKER modules. xdist's own `loadgroup` would do this with a
    mark, but under pytest 9 its mark never reaches the scheduler (it renames `item._nodeid`, which pytest 9 no longer reads)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER else nodeid

    return Scheduling(config, log)


@pytest.fixture(name="run_cli", scope="session")
def run_cli_fixture() -> Callable[..., Run]:
    """The `run_cli` helper, for test modules (with --import-mode=importlib they cannot import conftest)."""
    return run_cli


@pytest.fixture(scope="session")
def repo_at() -> Callable[[Path], Repo]:
    """Repo(root) at a folder the test chose (e.g. from tmp_path_factory, for a module-scoped repo)."""
    return Repo


@pytest.fixture()
def repo(tmp_path: Path) -> Callable[..., Repo]:
    """Factory: repo(tasks=..., sprint=..., config=..., name=..., example=..., files=...) -> Repo under tmp_path.

    `tasks` is a dict/list (dumped as JSON), a str or bytes; `sprint` and `config`
    are text, `files` maps more paths to content; each written only when given.
    `example=True` starts from a copy of examples/shop as committed.
    """
    count = 0

    def make(tasks: Any = None, sprint: str | None = None, config: str | None = None, name: str | None = None,
             *, example: bool = False, files: dict[str, Any] | None = None) -> Repo:
        nonlocal count
        count += 1
        r = Repo(tmp_path / (name or f"repo{count}"))
        if example:
            shutil.copytree(EXAMPLE, r.root, ignore=EXAMPLE_LITTER)
        else:
            r.root.mkdir(parents=True)
        if tasks is not None:
            r.tasks(tasks)
        if sprint is not None:
            r.sprint(sprint)
        if config is not None:
            r.config(config)
        for rel, content in (files or {}).items():
            r.write(rel, content)
        return r

    return make


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    """An agent's workspace, with a sibling folder outside it (tmp_path/outside) that no tool may reach."""
    (tmp_path / "ws").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret\n")
    return tmp_path / "ws"
