"""examples/demo.sh in a checkout where someone ran the example in place (`cd examples/shop; storyc compile; doit`).

Such a run leaves the sprint's code, build/, dodo.py and every status `done` in
the checkout; the demo must still build all six stories from the example as
committed, and must fail loudly, not succeed doing nothing, when it cannot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from storyc_tests import ROOT, Repo

EXAMPLES = ROOT / "examples"


def checkout(tmp_path: Path, *, git: bool) -> Path:
    """examples/ of this checkout, committed in a repository of its own (or a plain folder)."""
    root = tmp_path / "checkout"
    shutil.copytree(EXAMPLES, root / "examples", ignore=shutil.ignore_patterns("build", "dodo.py", ".doit.db*", ".ai", "__pycache__", "kanban_board.md"))
    if git:
        Repo(root).commit("the example")
    return root


def run_in_place_leftovers(shop: Path) -> None:
    """What a finished run inside examples/shop leaves behind: every status done, code, build output."""
    tasks = shop / "docs/tasks/tasks.json"
    tasks.write_text(re.sub(r'"status": "todo"', '"status": "done"', tasks.read_text()))
    (shop / "src/shop/cart.py").write_text("class Cart: ...\n")
    (shop / "build/stamps").mkdir(parents=True)
    (shop / "dodo.py").write_text("# storyc\n")
    (shop / "docs/tasks/kanban_board.md").write_text("# Kanban\n")


def demo(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)  # storyc and doit of this venv
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"], "TMPDIR": str(tmp_path)}
    return subprocess.run(["sh", str(root / "examples/demo.sh")], cwd=root, capture_output=True, text=True, timeout=300, env=env)


def test_the_demo_builds_the_committed_example_after_a_run_in_place(tmp_path: Path) -> None:
    root = checkout(tmp_path, git=True)
    run_in_place_leftovers(root / "examples/shop")
    before = {p: p.read_bytes() for p in (root / "examples").rglob("*") if p.is_file()}
    result = demo(root, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "examples/shop has local changes (a run inside it?); the demo uses the committed example" in result.stdout
    assert "6 stories in 3 waves (0 done, 6 open)" in result.stdout
    assert "**6 of 6 stories done**" in result.stdout
    work = Path(re.search(r"The implemented sprint is in (\S+):", result.stdout)[1])
    assert not (work / "src/shop/cart.py").read_text().startswith("class Cart: ...")  # the sprint's own code, not the leftover
    statuses = {s["status"] for s in json.loads((work / "docs/tasks/tasks.json").read_text())["stories"]}
    assert statuses == {"done"}
    assert {p: p.read_bytes() for p in (root / "examples").rglob("*") if p.is_file()} == before  # the checkout is left as it was


def test_without_git_a_copy_with_nothing_to_build_fails_loudly(tmp_path: Path) -> None:
    root = checkout(tmp_path, git=False)
    run_in_place_leftovers(root / "examples/shop")
    result = demo(root, tmp_path)
    assert result.returncode != 0
    assert "demo: some of the example's stories are already done" in result.stderr
    assert "doit -n 4" not in result.stdout
