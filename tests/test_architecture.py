"""The house's one rule, read from the code: imports run one way.

front door (storyc/cli.py, api.py, starter.py, dodo.py) -> compile time (compiler/) and run time (runners/)
-> the kernel (the rest of storyc/: the plan contract, errors, files) and the words (templates/).
Run time never imports compile time; the kernel imports neither side. Every import counts, the ones
inside functions too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRONT_DOOR = {"storyc.cli", "storyc.api", "storyc.starter", "storyc.dodo", "storyc.doit_tasks"}  # doit_tasks: the door of an old dodo.py
FOLDERS = {"storyc": "storyc", "compiler": "storyc.compiler", "runners": "storyc.runners", "templates": "storyc.templates"}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found[".".join((package, *parts))] = path
    return found


def _layer(module: str) -> str:
    if module in FRONT_DOOR:
        return "front door"
    for package, layer in (("storyc.compiler", "compile time"), ("storyc.runners", "run time"), ("storyc.templates", "words")):
        if module == package or module.startswith(package + "."):
            return layer
    return "kernel"


# Which layer may import which (a layer always imports itself).
ALLOWED = {
    "front door": {"compile time", "run time", "kernel", "words"},
    "compile time": {"kernel", "words"},
    "run time": {"kernel", "words"},
    "words": {"kernel"},
    "kernel": set(),
}


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from storyc import api` imports the module storyc.api
            out += [(node.lineno, f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base) for alias in node.names]
    return [(line, name) for line, name in out if name == "storyc" or name.startswith("storyc.")]


MODULES = _modules()


def test_every_module_is_found() -> None:
    assert {"storyc.plan", "storyc.compiler.plan", "storyc.runners.engine", "storyc.runners.agents.base", "storyc.templates.render"} <= MODULES.keys()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_one_way(module: str) -> None:
    mine = _layer(module)
    wrong = [
        f"{MODULES[module].relative_to(ROOT)}:{line} imports {name} ({_layer(name)})"
        for line, name in sorted(set(_imports(module, MODULES[module])))
        if name != "storyc" and (theirs := _layer(name)) != mine and theirs not in ALLOWED[mine]
    ]
    assert not wrong, f"{module} is {mine}, which may import only {sorted(ALLOWED[mine])}:\n" + "\n".join(wrong)
