"""A story attempt into a place to work: its own git worktree, or the working tree.

With `isolation = "worktree"` an attempt starts from a commit of the working
tree as it is (committed, uncommitted and untracked files alike, minus what
git ignores) checked out in build/worktrees/, so that it sees every finished
story and none in progress. When its gates pass, its change is applied to the
working tree as a patch, under a lock; a patch that no longer applies is a
merge conflict, and the story runs again on the new base. The patch is kept
(build/stamps/<name>.patch) so that an integration failure can undo it.

The patch is what the agent changed: the worktree is staged right after the
agent's call, before the gates run, and that index is what comes home; what the
gates write (bytecode, caches, coverage data, reports) is removed before the
next agent call. Bytecode and tool caches are left out of every such commit and
stage whatever the user's .gitignore says, for an agent may run the tests too.

Working-tree changes are left uncommitted, like a colleague's: you review and
commit them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from storyc.errors import OutputError, Where
from storyc.files import atomic_write, lock_for

from .stamps import story_files

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "storyc", "GIT_AUTHOR_EMAIL": "storyc@localhost",
           "GIT_COMMITTER_NAME": "storyc", "GIT_COMMITTER_EMAIL": "storyc@localhost"}
# A patch that `git apply` reads whatever the user's diff settings (color.ui = always, diff.noprefix,
# diff.external, diff.context = 0, diff.relative, a textconv driver) would make of `git diff`.
DIFF = ("--no-color", "--no-ext-diff", "--no-textconv", "--no-relative", "--src-prefix=a/", "--dst-prefix=b/", "--unified=3")


# Caches of bytecode, tools and coverage: never a story's work, whoever wrote them.
CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".nyc_output"}
CACHE_FILES = ("*.pyc", "*.pyo", ".coverage", ".coverage.*")
NOT_WORK = (*(f":(exclude,glob)**/{d}/**" for d in sorted(CACHES)), *(f":(exclude,glob)**/{f}" for f in CACHE_FILES))
NO_HOOKS = ("-c", f"core.hooksPath={os.devnull}")


class MergeConflict(Exception):
    """The story's change no longer applies to the working tree: which files, and git's reason."""

    def __init__(self, files: list[str], reason: str):
        super().__init__(reason)
        self.files, self.reason = files, reason


def _conflict(stderr: str, paths: list[str], prefix: str) -> MergeConflict:
    """git apply's complaint, one clause per file: `f.py: patch does not apply (hunk at line 12)`.

    `paths` are the patch's files as git names them (top-relative); `prefix` is the project's folder in the repository.
    """
    why: dict[str, list[str]] = {}  # file ("" when git names none) -> git's reasons
    hunks: dict[str, list[str]] = {}
    for line in stderr.splitlines():
        rest = line.removeprefix("error: ")
        if rest == line or rest == "while searching for:":
            continue  # the hunk's text git searched for
        if rest.startswith("patch failed: "):
            path, _, at = rest.removeprefix("patch failed: ").rpartition(":")
            hunks.setdefault(path, []).append(at)
            continue
        path = next((p for p in sorted(paths, key=len, reverse=True) if rest.startswith(p + ": ")), "")
        why.setdefault(path, []).append(rest.removeprefix(path + ": ") if path else rest)
    parts = []
    for path in dict.fromkeys([*why, *hunks]):
        text = "; ".join(dict.fromkeys(why.get(path, ["patch does not apply"])))
        if at := hunks.get(path):
            text += f" (hunk at line{'s' if len(at) > 1 else ''} {', '.join(at)})"
        parts.append(f"{path.removeprefix(prefix)}: {text}" if path else text)
    reason = "; ".join(parts) or stderr.strip() or "git apply failed"
    files = sorted(p.removeprefix(prefix) for p in {*why, *hunks} if p)
    return MergeConflict(files, reason if len(reason) <= 600 else reason[:597] + "...")


def git(cwd: Path, *args: str, env: dict | None = None, check: bool = True, raw: bool = False):
    """git's output (bytes with `raw`: a binary patch is not text); a failure is an OutputError."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, env={**os.environ, **GIT_ENV, **(env or {})})
    if check and result.returncode != 0:
        raise OutputError(
            f"git {' '.join(args[:3])} failed: {result.stderr.decode(errors='replace').strip()}", Where(str(cwd)),
            hint="storyc's worktrees need a working git; or set [execution] isolation = \"none\"",
        )
    return result.stdout if raw else result.stdout.decode(errors="replace")


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
    base: str | None = None  # the commit of the working tree the worktree started from
    files: list[str] = field(default_factory=list)  # the story's file patterns
    linked: list[str] = field(default_factory=list)  # what git ignores at home, linked in (never staged)
    top: Path | None = None  # the repository's top folder
    outputs: list[str] = field(default_factory=list)  # ignored places the story names as its output (top-relative)
    staged: list[str] | None = None  # the agent's change, as staged after its call (None: not staged since)

    def changed(self) -> list[str]:
        """Stage what the agent left in the worktree, before the gates run: the attempt's change from
        now on (project-relative files). Nothing the gates write after this is part of it."""
        if self.tree is None:
            return []
        self._stage()
        self.staged = self._names()
        return self.staged

    def tidy(self) -> None:
        """Take out what the gates wrote since `changed`, so that the next agent call finds only the
        story's own work: tracked files back as staged, new files gone (links and what git ignores
        stay, but not in the places the story names as its output)."""
        if self.tree is None or self.staged is None:
            return
        git(self.tree, *NO_HOOKS, "checkout", "-q", "--", ".")
        git(self.tree, "clean", "-fdq", "--", ".", *(f":(exclude,literal){p}" for p in self.linked))
        if self.outputs:
            git(self.tree, "clean", "-fdxq", "--", *(f":(literal){p}" for p in self.outputs))
        self.staged = None

    def _names(self) -> list[str]:
        # -z: names as they are; without it git quotes any name with a non-ASCII byte ("donn\303\251es/x").
        out = git(self.tree, "diff", "--cached", "--name-only", "-z", "--no-renames", "--no-relative", self.base, "--", ".")
        prefix = self._prefix()
        return sorted(p[len(prefix):] for p in out.split("\0") if p and p.startswith(prefix))

    def bring_home(self) -> list[str]:
        """Apply the attempt's change (as staged after the agent's call) to the working tree, under the
        git lock; the files it changed."""
        if self.tree is None:
            return []
        files = self.changed() if self.staged is None else self.staged
        patch = git(self.tree, "diff", "--cached", "--binary", "--no-renames", *DIFF, self.base, raw=True)
        patch_file = self.build / "stamps" / f"{self.name}.patch"
        if patch.strip():
            with lock_for(self.build, "git"):
                result = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=self.top, input=patch, capture_output=True)
                if result.returncode != 0:
                    prefix = self._prefix()
                    raise _conflict(result.stderr.decode(errors="replace"), [prefix + f for f in files], prefix)
        atomic_write(patch_file, patch)
        return files

    def close(self) -> None:
        if self.tree is None:
            return
        with lock_for(self.build, "git"):
            git(self.root, "worktree", "remove", "--force", str(self.tree), check=False)
        shutil.rmtree(self.tree, ignore_errors=True)

    def _stage(self) -> None:
        git(self.tree, "add", "-A", "--", ".", *NOT_WORK, *(f":(exclude,literal){p}" for p in self.linked))
        # A file the story names that git ignores (a build output, say) is still the story's output.
        self.outputs = _add_ignored(self.tree, self.tree / self._prefix(), self.files)

    def _prefix(self) -> str:
        rel = self.root.resolve().relative_to(self.top).as_posix()
        return "" if rel == "." else rel + "/"


def open_workspace(root: Path, build: Path, name: str, isolation: str, files: list[str]) -> Workspace:
    """A fresh place for one attempt of the story whose stamps are called `name` and whose file patterns are `files`."""
    if isolation != "worktree":
        return Workspace(path=root, root=root, build=build, name=name)
    top = git_toplevel(root)
    if top is None:
        raise OutputError(f"isolation = \"worktree\" needs a git repository at {root}", Where(str(root)), hint='run `git init`, or set [execution] isolation = "none"')
    _ignore_build(build)
    tree = build / "worktrees" / name
    rel = root.resolve().relative_to(top)
    with lock_for(build, "git"):
        if tree.exists():  # left by a killed run
            git(top, "worktree", "remove", "--force", str(tree), check=False)
            shutil.rmtree(tree, ignore_errors=True)
            git(top, "worktree", "prune", check=False)
        # storyc's own writes into the tree (tasks.json, PROGRESS.md, the board) go through a temporary
        # file and a rename: hold their locks, or `git add -A` may meet a temporary file as it vanishes.
        with lock_for(build, "tasks"), lock_for(build, "events"):
            base = _commit_working_tree(top, build / "locks" / f"index-{name}", top / rel, files)
        # No hooks: a post-checkout hook of the user's (husky, say) has no business in storyc's scratch tree.
        git(top, *NO_HOOKS, "worktree", "add", "--detach", "--force", str(tree), base)
    linked = _link_ignored(top, tree, rel.as_posix(), build, files)
    return Workspace(path=tree / rel, root=root, build=build, name=name, tree=tree, base=base, files=list(files), linked=linked, top=top)


def _link_ignored(top: Path, tree: Path, rel: str, build: Path, files: list[str]) -> list[str]:
    """Link into the worktree what git ignores in the project: node_modules, .venv, .env, a compiled
    extension. The gates run there and need them as much as at home; a commit cannot carry them.

    Not linked: the build folder, caches of bytecode and tools, and the places the story names as its
    output (those it writes in the worktree, and they come home in its patch). The paths, top-relative.
    """
    prefix = "" if rel == "." else rel + "/"
    done = subprocess.run(["git", "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory", "--", rel],
                          cwd=top, capture_output=True, env={**os.environ, **GIT_ENV})
    if done.returncode != 0:
        return []
    try:
        home = build.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        home = None
    heads = [prefix + h for h in map(_literal_head, files) if h]
    linked = []
    for path in sorted({p.rstrip("/") for p in done.stdout.decode(errors="surrogateescape").split("\0") if p.strip("/")}):
        if home and (_inside(path, home) or _inside(home, path)):
            continue
        if _is_cache(path):
            continue
        if any(_inside(path, h) or _inside(h, path) for h in heads):
            continue
        dest = tree / path
        if dest.exists() or dest.is_symlink():
            continue
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(top / path, target_is_directory=(top / path).is_dir())
        except OSError:
            continue
        linked.append(path)
    if not linked:
        return []
    # A link stands where a folder was: `node_modules/` (folders only) does not ignore it, so staging
    # must leave it out by name. A link that git ignores as it is needs no such care (and git refuses
    # to be told about an ignored path).
    done = subprocess.run(["git", "check-ignore", "-z", "--no-index", "--stdin"], cwd=tree, input="\0".join(linked).encode() + b"\0",
                          capture_output=True, env={**os.environ, **GIT_ENV})
    ignored = set(done.stdout.decode(errors="surrogateescape").split("\0"))
    return [p for p in linked if p not in ignored]


def _commit_working_tree(top: Path, index: Path, root: Path | None = None, files: list[str] = ()) -> str:
    """A commit of the working tree as it is, made without touching the user's index or branch."""
    env = {"GIT_INDEX_FILE": str(index)}
    head = git(top, "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    if head:
        git(top, "read-tree", head, env=env)
    git(top, "add", "-A", "--", ".", *NOT_WORK, env=env)
    _add_ignored(top, root or top, files, env=env)
    tree = git(top, "write-tree", env=env).strip()
    index.unlink(missing_ok=True)
    # --no-gpg-sign: this is storyc's scratch commit; commit.gpgSign must not make it ask for a key.
    return git(top, "commit-tree", "--no-gpg-sign", tree, *(["-p", head] if head else []), "-m", "storyc: snapshot of the working tree").strip()


def _add_ignored(top: Path, root: Path, patterns: list[str], env: dict | None = None) -> list[str]:
    """Stage the files the story names that git ignores: a pattern that points into an ignored place
    (`dist/bundle.js`, `dist/*.js` with `dist/` ignored) is the story's word that they are its output.
    The ignored places (top-relative).

    Only there: `src/**` does not drag in the `__pycache__` folders that git ignores below `src`.
    """
    rel = root.resolve().relative_to(top.resolve()).as_posix()
    prefix = "" if rel == "." else rel + "/"
    heads = {p: _literal_head(p) for p in patterns}
    asked = sorted({prefix + h for h in heads.values() if h})
    if not asked:
        return []
    result = subprocess.run(["git", "check-ignore", "-z", "--no-index", "--stdin"], cwd=top, input="\0".join(asked).encode() + b"\0",
                            capture_output=True, env={**os.environ, **GIT_ENV, **(env or {})})
    ignored = {p for p in result.stdout.decode(errors="surrogateescape").split("\0") if p}
    chosen = [p for p, h in heads.items() if h and prefix + h in ignored]
    found = [prefix + f for f in story_files(root, chosen) if not _is_cache(f)] if chosen else []
    if found:
        git(top, "add", "-f", "--", *found, env=env)
    return sorted({prefix + heads[p] for p in chosen})


def _is_cache(path: str) -> bool:
    parts = path.split("/")
    return any(part in CACHES for part in parts) or any(fnmatchcase(parts[-1], p) for p in CACHE_FILES)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def _literal_head(pattern: str) -> str:
    """The part of a file pattern before its first wildcard: the path itself, or the folder a glob looks in."""
    parts = []
    for part in pattern.strip("/").split("/"):
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return "/".join(parts)


def _ignore_build(build: Path) -> None:
    """Keep storyc's build folder (worktrees, stamps) out of every commit of the working tree."""
    marker = build / ".gitignore"
    if not marker.exists():
        atomic_write(marker, "# written by storyc: nothing here belongs in git\n*\n")


def undo_patch(root: Path, build: Path, name: str) -> bool:
    """Take a story's applied change back out of the working tree; False if it will not come out cleanly."""
    return _apply_kept_patch(root, build, name, reverse=True)


def redo_patch(root: Path, build: Path, name: str) -> bool:
    """Put a story's change, taken out by `undo_patch`, back into the working tree."""
    return _apply_kept_patch(root, build, name, reverse=False)


def _apply_kept_patch(root: Path, build: Path, name: str, *, reverse: bool) -> bool:
    patch_file = build / "stamps" / f"{name}.patch"
    if not patch_file.is_file() or not patch_file.read_bytes().strip():
        return False
    with lock_for(build, "git"):
        result = subprocess.run(["git", "apply", *(["-R"] if reverse else []), "--whitespace=nowarn", str(patch_file)],
                                cwd=git_toplevel(root), capture_output=True)
    return result.returncode == 0
