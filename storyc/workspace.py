"""A story attempt into a place to work: its own git worktree, or the working tree.

With `isolation = "worktree"` an attempt starts from a snapshot of the working
tree as it is (committed, uncommitted and untracked files alike, minus what
git ignores) checked out in build/worktrees/, so that it sees every finished
story and none in progress. When its gates pass, its change is applied to the
working tree as a patch, under a lock; a patch that no longer applies is a
merge conflict, and the story runs again on the new base. The patch is kept
(build/stamps/<name>.patch) so that an integration failure can undo it.

Working-tree changes are left uncommitted, like a colleague's: you review and
commit them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from storyc.files import atomic_write, lock_for

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "storyc", "GIT_AUTHOR_EMAIL": "storyc@localhost",
           "GIT_COMMITTER_NAME": "storyc", "GIT_COMMITTER_EMAIL": "storyc@localhost"}


class MergeConflict(Exception):
    """The story's change no longer applies to the working tree."""


def git(cwd: Path, *args: str, env: dict | None = None, input: bytes | None = None, check: bool = True) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, input=input, capture_output=True,
        env={**os.environ, **GIT_ENV, **(env or {})},
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode(errors="replace")


def git_toplevel(root: Path) -> Path | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return Path(out.stdout.strip()).resolve() if out.returncode == 0 else None


@dataclass
class Workspace:
    """Where one attempt works (`path`), and how its change gets home."""

    path: Path  # the project root as the agent and the gates see it
    root: Path  # the real project root
    build: Path
    name: str
    tree: Path | None = None  # the worktree (None: working in the tree itself)
    base: str | None = None  # the snapshot commit the worktree started from

    def changed(self) -> list[str]:
        """Project-relative files this attempt changed (worktree only)."""
        if self.tree is None:
            return []
        self._stage()
        out = git(self.tree, "diff", "--cached", "--name-only", "--no-renames", self.base, "--", ".")
        prefix = self._prefix()
        return sorted(p[len(prefix):] for p in out.splitlines() if p.startswith(prefix))

    def bring_home(self) -> list[str]:
        """Apply the attempt's change to the working tree, under the git lock; the files it changed."""
        if self.tree is None:
            return []
        self._stage()
        patch = git(self.tree, "diff", "--cached", "--binary", "--no-renames", self.base).encode()
        files = self.changed()
        patch_file = self.build / "stamps" / f"{self.name}.patch"
        if patch.strip():
            with lock_for(self.build, "git"):
                top = git_toplevel(self.root)
                result = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=top, input=patch, capture_output=True)
                if result.returncode != 0:
                    raise MergeConflict(result.stderr.decode(errors="replace").strip())
        atomic_write(patch_file, patch)
        return files

    def close(self) -> None:
        if self.tree is None:
            return
        with lock_for(self.build, "git"):
            git(self.root, "worktree", "remove", "--force", str(self.tree), check=False)
        shutil.rmtree(self.tree, ignore_errors=True)

    def _stage(self) -> None:
        git(self.tree, "add", "-A", ".")

    def _prefix(self) -> str:
        rel = self.root.resolve().relative_to(git_toplevel(self.root)).as_posix()
        return "" if rel == "." else rel + "/"


def open_workspace(root: Path, build: Path, name: str, isolation: str) -> Workspace:
    """A fresh place for one attempt of the story whose stamps are called `name`."""
    if isolation != "worktree":
        return Workspace(path=root, root=root, build=build, name=name)
    top = git_toplevel(root)
    if top is None:
        raise RuntimeError(f"isolation = \"worktree\" needs a git repository at {root}; set [execution] isolation = \"none\"")
    _ignore_build(build)
    tree = build / "worktrees" / name
    with lock_for(build, "git"):
        if tree.exists():  # left by a killed run
            git(top, "worktree", "remove", "--force", str(tree), check=False)
            shutil.rmtree(tree, ignore_errors=True)
        git(top, "worktree", "prune", check=False)
        base = _snapshot(top, build / "locks" / f"index-{name}")
        git(top, "worktree", "add", "--detach", "--force", str(tree), base)
    rel = root.resolve().relative_to(top)
    return Workspace(path=tree / rel, root=root, build=build, name=name, tree=tree, base=base)


def _snapshot(top: Path, index: Path) -> str:
    """A commit of the working tree as it is, made without touching the user's index or branch."""
    env = {"GIT_INDEX_FILE": str(index)}
    head = git(top, "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    if head:
        git(top, "read-tree", head, env=env)
    git(top, "add", "-A", ".", env=env)
    tree = git(top, "write-tree", env=env).strip()
    index.unlink(missing_ok=True)
    return git(top, "commit-tree", tree, *(["-p", head] if head else []), "-m", "storyc: snapshot of the working tree").strip()


def _ignore_build(build: Path) -> None:
    """Keep storyc's build folder (worktrees, stamps) out of every snapshot."""
    marker = build / ".gitignore"
    if not marker.exists():
        atomic_write(marker, "# written by storyc: nothing here belongs in git\n*\n")


def undo_patch(root: Path, build: Path, name: str) -> bool:
    """Take a story's applied change back out of the working tree; False if it will not come out cleanly."""
    patch_file = build / "stamps" / f"{name}.patch"
    if not patch_file.is_file() or not patch_file.read_bytes().strip():
        return False
    with lock_for(build, "git"):
        result = subprocess.run(["git", "apply", "-R", "--whitespace=nowarn", str(patch_file)], cwd=git_toplevel(root), capture_output=True)
    return result.returncode == 0
