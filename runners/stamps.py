"""A story's finished output into the stamp its dependents depend on.

Two files per story under build/stamps/: `<name>.out` holds the output hash
alone, and is what dependents name as a file_dep, so doit re-runs them only
when that hash changes (a re-run with the same output leaves them alone);
`<name>.json` is the record of how it got there (spec, upstream hashes, the
files and their stats, attempts, models, tokens, cost, timings). Both are
storyc's own, written atomically, so they outlive a run that doit never got
to save (kill -9).
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from storyc.files import atomic_write
from storyc.plan import Plan

MISSING = "-"


def stamp_name(spec: str) -> str:
    """The stamp files' name: the spec's, which is already safe and unique."""
    return PurePosixPath(spec).stem


def out_path(build: str, spec: str) -> str:
    """The stamp file dependents depend on, as doit must see it: one exact string."""
    return f"{build}/stamps/{stamp_name(spec)}.out"


def record_path(root: Path, build: str, spec: str) -> Path:
    return root / build / "stamps" / f"{stamp_name(spec)}.json"


def story_files(root: Path, patterns: list[str], extra: list[str] = (), exclude: list[str] = ()) -> list[str]:
    """The story's files that exist now: its patterns expanded, plus any it changed beyond them.

    A pattern is a path, a folder (every file below it) or a glob (`**` spans
    folders); a path that exists as it is written wins over reading it as a
    glob (`app/[id]/page.tsx`). Files that `exclude` covers are not the
    story's to watch (see `exclusions`).
    """
    found: set[str] = set(p for p in extra if (root / p).is_file())
    for pattern in patterns:
        pattern = pattern.strip()
        path = root / pattern
        if path.is_file():
            found.add(PurePosixPath(pattern).as_posix())
        elif path.is_dir():
            found.update(_files_below(root, path))
        elif glob.has_magic(pattern):
            # root_dir: a repository folder named `my[app]` is not a pattern.
            found.update(PurePosixPath(p).as_posix() for p in glob.glob(pattern, root_dir=root, recursive=True) if (root / p).is_file())
    return sorted(f for f in found if not any(covers(p, f) for p in exclude))


def covers(pattern: str, name: str) -> bool:
    """Whether the file `name` is one that `pattern` (a path, a folder or a glob) names."""
    pattern = pattern.strip()
    folder = pattern.rstrip("/")
    return name == pattern or fnmatch.fnmatchcase(name, pattern) or (bool(folder) and name.startswith(folder + "/"))


def _files_below(root: Path, folder: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        out += [Path(dirpath, f).relative_to(root).as_posix() for f in filenames if os.path.isfile(os.path.join(dirpath, f))]
    return out


def exclusions(plan: Plan) -> dict[str, list[str]]:
    """Story id -> the patterns of files that are not its to watch.

    storyc's own files are nobody's output: the build folder, the progress
    file, the board and the tasks file, which storyc rewrites as the sprint
    runs. And a file that a later story (a descendant) also names is that
    story's: when it changes there, it is the later story's output, not a hand
    edit of this one's. The compiler found those (PlannedStory.exclude).
    """
    paths = plan.config.paths
    own = [paths.build.rstrip("/") + "/", paths.progress, paths.kanban, plan.inputs["tasks"]["path"]]
    return {s.id: own + s.exclude for s in plan.targets}


def file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return MISSING


def file_states(root: Path, files: list[str], known: dict[str, list] | None = None) -> dict[str, list]:
    """path -> [size, mtime_ns, sha256] of each of `files` that exists: what a later look compares against.

    A hash in `known` (such a map from before) is reused where the size and mtime agree.
    """
    known = known or {}
    out = {}
    for name in files:
        path = root / name
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        seen = known.get(name)
        same = seen and seen[0] == st.st_size and seen[1] == st.st_mtime_ns
        out[name] = [st.st_size, st.st_mtime_ns, seen[2] if same else file_digest(path)]
    return out


def output_hash(files: dict[str, list]) -> str:
    """One hash of the story's output: each file's path and content, in order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\0{files[name][2]}\n".encode())
    return h.hexdigest()


def load_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return None  # a torn or missing record is no record: the story is rebuilt
    return record if isinstance(record, dict) else None


def read_out(root: Path, out: str) -> str | None:
    try:
        return (root / out).read_text(encoding="ascii").strip() or None
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def write_stamp(root: Path, out: str, record_file: Path, record: dict[str, Any]) -> None:
    """The record first, then the hash, which is only rewritten when it changes."""
    atomic_write(record_file, json.dumps(record, indent=1, sort_keys=True) + "\n")
    if read_out(root, out) != record["output_sha256"]:
        atomic_write(root / out, record["output_sha256"] + "\n")


def files_now(root: Path, record: dict[str, Any], patterns: list[str], exclude: list[str] = ()) -> dict[str, list]:
    """The story's files as they are, reusing the record's hashes where size and mtime agree."""
    known = record.get("files", {})
    return file_states(root, story_files(root, patterns, list(known), exclude), known)


def unchanged(root: str, record_file: str, patterns: list[str], exclude: list[str]) -> bool:
    """doit's `uptodate` check: the story's files are as its stamp left them.

    A hand edit (or a deleted or new file matching its globs) makes it False,
    and the story is re-verified. Stats first, hashing only what moved.
    """
    record = load_record(Path(record_file))
    if record is None:
        return False
    return output_hash(files_now(Path(root), record, patterns, exclude)) == record.get("output_sha256")
