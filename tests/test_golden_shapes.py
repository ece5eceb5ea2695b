"""Golden tests for the other input shapes: what `storyc compile` makes of a sprint file that carries its
stories (tables, per-story sections, the example's sprint-only variant) and of spec-kit's tasks.md.

Refresh after an intended change with `STORYC_UPDATE_GOLDEN=1 pytest tests/test_golden_shapes.py`, then read
`git diff tests/golden` (see tests/golden/README.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from storyc import api

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures" / "real-world-2"
ARTIFACTS = {"plan.json": "build/plan.json", "ORCHESTRATION_PLAN.md": "build/ORCHESTRATION_PLAN.md", "dodo.py": "dodo.py"}
UPDATE = os.environ.get("STORYC_UPDATE_GOLDEN") == "1"


def _git(root: Path) -> None:
    # isolation defaults to "worktree" inside git and "none" outside: make it the same wherever tmp lives.
    subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)


def shop_sprint_only(root: Path) -> None:
    shutil.copy2(REPO / "examples/shop/storyc.toml", root / "storyc.toml")
    shutil.copytree(REPO / "examples/shop/docs", root / "docs")
    shutil.copytree(REPO / "examples/shop-sprint-only/docs", root / "docs", dirs_exist_ok=True)
    (root / "docs/tasks/tasks.json").unlink()


def sprint_alone(name: str):
    def make(root: Path) -> None:
        (root / "docs/sprints").mkdir(parents=True)
        shutil.copy2(FIXTURES / name, root / "docs/sprints/sprint-001.md")

    return make


def speckit(root: Path) -> None:
    (root / "specs/004").mkdir(parents=True)
    text = (FIXTURES / "speckit/jsf-autoreload-tasks.md").read_bytes().replace(b"- [X]", b"- [ ]")  # every task to build
    (root / "specs/004/tasks.md").write_bytes(text)
    (root / "storyc.toml").write_text('[paths]\ntasks = "specs/004/tasks.md"\n')


SHAPES = {
    "shop-sprint-only": shop_sprint_only,
    "sprint-tables": sprint_alone("sprints/aria-sprint-01.md"),
    "sprint-sections": sprint_alone("sprints/contentmax-sprint-1.md"),
    "speckit": speckit,
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_golden_shape(tmp_path: Path, shape: str) -> None:
    root = tmp_path / shape
    root.mkdir()
    SHAPES[shape](root)
    _git(root)
    api.build(root)
    compiled = {name: (root / rel).read_bytes() for name, rel in ARTIFACTS.items()}
    golden = TESTS / "golden" / shape
    if UPDATE:
        golden.mkdir(parents=True, exist_ok=True)
        changed = [name for name, data in compiled.items() if not (golden / name).exists() or (golden / name).read_bytes() != data]
        for name in changed:
            (golden / name).write_bytes(compiled[name])
        pytest.fail(f"STORYC_UPDATE_GOLDEN=1: refreshed {golden.relative_to(REPO)} ({', '.join(changed) or 'no file changed'}); review `git diff tests/golden`")
    for name, data in compiled.items():
        path = golden / name
        assert path.exists(), f"{path} is missing; create it with STORYC_UPDATE_GOLDEN=1 and review it"
        if data != path.read_bytes():
            assert data.decode() == path.read_text(encoding="utf-8"), f"{name} differs from {path}; if intended, refresh (see tests/golden/README.md)"
