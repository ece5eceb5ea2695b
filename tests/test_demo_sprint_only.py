"""The demo's own machinery (examples/demo.sh) on the variant whose stories live in the sprint file only:
compile, `doit -n 4` with the scripted runner through the real gates, a second `doit` that runs nothing, and
each story's status written back into its Status cell, every other byte of the sprint file kept."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
VARIANT = EXAMPLES / "shop-sprint-only" / "docs" / "sprints" / "sprint-001.md"


def test_the_sprint_only_variant_runs_end_to_end_through_the_demo(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmp_path), "NO_COLOR": "1"}
    result = subprocess.run(["sh", str(EXAMPLES / "demo.sh"), "sprint-only"], capture_output=True, text=True, timeout=600, env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    work = Path(re.search(r"The implemented sprint is in (\S+):", out).group(1))
    try:
        assert "stories: 6 stories from sprint-001.md (no tasks.json)" in out
        assert "6 of 6 stories done" in out
        assert not (work / "docs/tasks/tasks.json").exists()
        before = VARIANT.read_text(encoding="utf-8").split("\n")
        after = (work / "docs/sprints/sprint-001.md").read_text(encoding="utf-8").split("\n")
        changed = [(a, b) for a, b in zip(before, after) if a != b]
        assert len(before) == len(after) and len(changed) == 6
        for a, b in changed:  # the Status cell only: "To do " became "Done  ", the column as wide as before
            assert a.replace("| To do  |", "| Done   |") == b, (a, b)
        assert (work / "src/shop/checkout.py").is_file()
    finally:
        shutil.rmtree(work, ignore_errors=True)
