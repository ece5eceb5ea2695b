"""Golden tests: the bundled example compiles to exactly the reviewed bytes in tests/golden/shop/.

Refresh after an intended change with

    STORYC_UPDATE_GOLDEN=1 pytest tests/test_golden.py

which rewrites tests/golden/shop/ and then fails on purpose: read
`git diff tests/golden` before committing the new files (see tests/golden/README.md).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from storyc_tests import SHARED

from storyc import api

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
EXAMPLE = REPO / "examples" / "shop"
GOLDEN = TESTS / "golden" / "shop"
SEED = SHARED / "seed" / "implementation-orchestration-plan.md"  # skipped when absent
# Golden name -> path of the compiled artifact, relative to the compiled root.
ARTIFACTS = {
    "plan.json": "build/plan.json",
    "ORCHESTRATION_PLAN.md": "build/ORCHESTRATION_PLAN.md",
    "dodo.py": "dodo.py",
}
UPDATE = os.environ.get("STORYC_UPDATE_GOLDEN") == "1"


def copy_example(dest: Path) -> Path:
    """storyc.toml and docs/ of the example in a fresh git repository at `dest`."""
    dest.mkdir(parents=True)
    shutil.copy2(EXAMPLE / "storyc.toml", dest / "storyc.toml")
    shutil.copytree(EXAMPLE / "docs", dest / "docs")
    # isolation defaults to "worktree" inside git and "none" outside: make it the same wherever tmp lives.
    subprocess.run(["git", "init", "-q", str(dest)], check=True, capture_output=True)
    return dest


def compile_example(dest: Path) -> dict[str, bytes]:
    root = copy_example(dest)
    api.build(root)
    return {name: (root / rel).read_bytes() for name, rel in ARTIFACTS.items()}


@pytest.fixture()
def compiled(tmp_path: Path) -> dict[str, bytes]:
    return compile_example(tmp_path / "shop")


def test_golden_shop(compiled: dict[str, bytes]) -> None:
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        changed = []
        for name, data in compiled.items():
            path = GOLDEN / name
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
                changed.append(name)
        pytest.fail(
            f"STORYC_UPDATE_GOLDEN=1: refreshed {GOLDEN.relative_to(REPO)} "
            f"({', '.join(changed) or 'no file changed'}). Review them with `git diff tests/golden` "
            "before committing; unset STORYC_UPDATE_GOLDEN to compare again."
        )
    for name, data in compiled.items():
        path = GOLDEN / name
        assert path.exists(), f"{path} is missing; create it with STORYC_UPDATE_GOLDEN=1 and review it"
        expected = path.read_bytes()
        if data != expected:
            # Text diff makes the failure readable; the comparison itself is on bytes.
            assert data.decode() == expected.decode(), f"{name} differs from {path}; if intended, refresh (see tests/golden/README.md)"
            assert data == expected


def test_output_does_not_depend_on_where_the_repository_lives(tmp_path: Path) -> None:
    near = compile_example(tmp_path / "shop")
    far = compile_example(tmp_path / "some" / "deeper place" / "other-name")
    for name in ARTIFACTS:
        assert near[name] == far[name], f"{name} depends on the repository's location"
        for root in (str(tmp_path), tmp_path.as_posix()):
            assert root.encode() not in near[name], f"{name} contains the absolute path {root}"


# ------------------------------------------------------------ the rendered document against the seed


# The seed's section headings and bracketed placeholders, as read from SEED (kept here so the
# checks run where the seed is not installed; test_seed_facts_match_the_seed keeps them in sync).
SEED_H2 = [
    "## Document Context",
    "## 1. Agent Team",
    "## 2. Story Execution Map",
    "## 3. Velocity vs Quality Balance",
    "## 4. Integration Points",
    "## 5. Agent Prompt Templates",
    "## 6. Error Recovery",
    "## 7. Progress Checkpoints",
    "## 8. Current Execution Status",
    "## Quick Reference",
]
SEED_H3 = [
    "### Orchestrator",
    "### Execution Agents",
    "### Dependency Graph",
    "### Execution Waves",
    "### Quality Gates (Non-Negotiable)",
    "### Velocity Optimizations",
    "### Quality vs Speed Decision Matrix",
    "### How Stories Connect",
    "### Integration Testing Strategy",
    "### Builder Agent Prompt",
    "### Validator Agent Prompt",
    "### If Story Implementation Fails",
    "### If Quality Gate Fails",
    "### If Integration Fails",
    "### Wave Progress",
    "### Active Agents",
]
SEED_PLACEHOLDERS = [
    "[Project Name]", "[Sprint Number/Name]", "[Date]", "[Count]", "[Opus 4.5 / Sonnet 4]", "[Title]",
    "[S/M/L]", "[Auth → API]", "[API → UI]", "[DB → Service]", "[US-XXX]", "[list files]",
    "[specific outcome]", "[business outcome]", "[user experience]", "[technical standard]",
    "[reference file]", "[list]", "[specific error]", "[N]",
]  # fmt: skip


def headings(markdown: str, level: int) -> list[str]:
    """ATX headings of exactly `level`, outside fenced code blocks."""
    prefix = "#" * level + " "
    out, fence = [], None
    for line in markdown.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence) and not line.strip()[len(mark):].strip():
                fence = None
            continue
        if fence is None and line.startswith(prefix):
            out.append(line.rstrip())
    return out


def placeholders_in(markdown: str) -> list[str]:
    """Bracketed placeholders; `[ ]` checkboxes and real story ids like `[US-001]` are not placeholders."""
    found = dict.fromkeys(re.findall(r"\[[^\]\n]+\]", markdown))
    return [p for p in found if p.strip("[] ") and not re.fullmatch(r"\[US-\d+\]", p)]


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


def test_seed_facts_match_the_seed() -> None:
    if not SEED.is_file():
        pytest.skip(f"seed template not found at {SEED}; the copies above are used")
    seed = SEED.read_text(encoding="utf-8")
    assert headings(seed, 2) == SEED_H2
    assert headings(seed, 3) == SEED_H3
    assert placeholders_in(seed) == SEED_PLACEHOLDERS
    for p in ("[Title]", "[S/M/L]", "[Project Name]", "[Date]", "[Count]", "[US-XXX]", "[list files]"):
        assert p in SEED_PLACEHOLDERS


def test_rendered_plan_has_no_seed_placeholder(compiled: dict[str, bytes]) -> None:
    doc = compiled["ORCHESTRATION_PLAN.md"].decode()
    left = [p for p in SEED_PLACEHOLDERS if p in doc]
    assert not left, f"ORCHESTRATION_PLAN.md still contains the seed's placeholders {left}"


def test_rendered_plan_has_every_seed_section_in_order(compiled: dict[str, bytes]) -> None:
    doc = compiled["ORCHESTRATION_PLAN.md"].decode()
    seed_h2, doc_h2 = SEED_H2, headings(doc, 2)
    missing = [h for h in seed_h2 if h not in doc_h2]
    assert not missing, f"sections of the seed missing from the plan: {missing}"
    assert is_subsequence(seed_h2, doc_h2), f"sections out of order:\nseed: {seed_h2}\nplan: {doc_h2}"


def test_rendered_plan_has_every_seed_subsection_in_order(compiled: dict[str, bytes]) -> None:
    doc = compiled["ORCHESTRATION_PLAN.md"].decode()
    seed_h3, doc_h3 = SEED_H3, headings(doc, 3)
    assert is_subsequence(seed_h3, doc_h3), f"subsections missing or out of order:\nseed: {seed_h3}\nplan: {doc_h3}"


def test_rendered_plan_fences_are_balanced(compiled: dict[str, bytes]) -> None:
    """Prompt templates nest ``` inside ````: a stray fence would swallow every later section."""
    doc = compiled["ORCHESTRATION_PLAN.md"].decode()
    fence = None
    for line in doc.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if not m:
            continue
        mark = m.group(1)
        if fence is None:
            fence = mark
        elif mark[0] == fence[0] and len(mark) >= len(fence) and not line.strip()[len(mark):].strip():
            fence = None
    assert fence is None, f"a {fence} fence is never closed"
