"""A compile's inputs into a record, and the record into a verdict: is the plan still theirs?

`storyc compile` leaves `build/compiled-from.json` beside the plan: how it was
called, the storyc version, and each input file with the digest that was
compiled and the stat it had (absent files too, so a storyc.toml or a sprint
file that appears later counts). Before doit runs the plan, `stale()` compares:
stat first, a digest only for a file whose stat moved, so a plan that is still
current costs a few stats. The record is a cache, not an artifact: it is never
hashed, and it is rewritten only when what it says changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from storyc import __version__

RECORD = "compiled-from.json"
OUTPUTS = (".storyc-build", "plan.json", "ORCHESTRATION_PLAN.md", "specs/SHA256SUMS")  # in the build folder, besides each spec


@dataclass(frozen=True)
class Args:
    """How `storyc compile` was called, so that a recompile asks for the same plan."""

    sprint: str | None = None
    tasks: str | None = None
    with_deps: bool = False
    tag: str | None = None
    out: str | None = None


def record(root: Path, build: str, args: Args, compiled: dict[str, str], watched: list[str], sprint_dirs: list[str], template_dirs: list[str], notes: list[str]) -> str:
    """The record's text. `compiled` maps an input's path (relative to root) to the digest
    that was compiled; `watched` are more paths whose appearance or change matters; `notes`
    is what the compile said, for a compile that finds nothing changed to say again."""
    files = {}
    for rel in sorted(set(compiled) | set(watched)):
        files[rel] = _entry(root / rel, compiled.get(rel))
    for folder in template_dirs:
        for rel in _listing(root, folder, None):
            files[rel] = _entry(root / rel, None)
    data = {
        "storyc": __version__,
        "build": build,
        "args": args.__dict__,
        "files": files,
        "sprint_dirs": {folder: _listing(root, folder, ".md") for folder in sprint_dirs},
        "template_dirs": {folder: _listing(root, folder, None) for folder in template_dirs},
        "outputs": {rel: _stat(root / rel) for rel in [*(f"{build}/{name}" for name in OUTPUTS), "dodo.py"]} | {f"{build}/specs/*": _specs(root / build / "specs")},
        "notes": notes,
    }
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def _entry(path: Path, compiled: str | None) -> dict | None:
    """The file's digest and stat; the stat only if the bytes on disk are the bytes compiled
    (a file edited while the compile ran must look changed to the next check)."""
    try:
        st = path.stat()
        digest = _sha256(path)
    except OSError:
        return None
    if compiled is not None and digest != compiled:
        return {"sha256": compiled, "size": None, "mtime_ns": None}
    return {"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _specs(folder: Path) -> str:
    """One stat per spec file, folded into a digest: a spec edited by hand makes the next compile a real one."""
    try:
        entries = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(folder) if e.is_file())
    except OSError:
        return ""
    return hashlib.sha256(repr(entries).encode()).hexdigest()


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _listing(root: Path, folder: str, suffix: str | None) -> list[str]:
    base = root / folder
    if not base.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        out += [Path(dirpath, f).relative_to(root).as_posix() for f in sorted(filenames) if suffix is None or f.endswith(suffix)]
    return out


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def load(root: Path, build: str) -> dict | None:
    try:
        return json.loads((root / build / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def unchanged(root: Path, args: Args) -> list[str] | None:
    """What the last compile said, when compiling again with `args` would write nothing:
    same arguments, same storyc, no input moved, every output as it was left. None otherwise
    (and then the compiler decides, reporting any bad input itself)."""
    build = args.out.strip().rstrip("/") if args.out else configured_build(root)
    rec = load(root, build) if build else None
    if rec is None or rec.get("args") != args.__dict__ or stale(root, rec) is not None:
        return None
    outputs = dict(rec.get("outputs", {None: 0}))
    if _specs(root / build / "specs") != outputs.pop(f"{build}/specs/*", None):
        return None
    if any(_stat(root / rel) != was for rel, was in outputs.items()):
        return None
    return rec["notes"]


def configured_build(root: Path) -> str | None:
    """[paths] build, read without loading the compiler; None when the config needs the compiler's judgement."""
    import tomllib

    for name, keys in (("storyc.toml", ()), ("pyproject.toml", ("tool", "storyc"))):
        try:
            data = tomllib.loads((root / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            return None
        for key in keys:
            data = data.get(key) if isinstance(data, dict) else None
        if data is None and keys:
            continue
        build = (data.get("paths") or {}).get("build", "build") if isinstance(data, dict) else None
        return build.strip().rstrip("/") if isinstance(build, str) else None
    return "build"


def stale(root: Path, rec: dict) -> str | None:
    """What changed since the compile that wrote `rec`, in a few words; None when nothing did."""
    if rec.get("storyc") != __version__:
        return f"storyc changed ({rec.get('storyc')} -> {__version__})"
    for rel, was in rec["files"].items():
        path = root / rel
        try:
            st = path.stat()
        except OSError:
            if was is not None:
                return f"{rel} was removed"
            continue
        if was is None:
            return f"{rel} appeared"
        if (st.st_size, st.st_mtime_ns) == (was["size"], was["mtime_ns"]):
            continue
        try:
            if _sha256(path) != was["sha256"]:
                return f"{rel} changed"
        except OSError:
            return f"{rel} cannot be read"
    for folder, names in rec["sprint_dirs"].items():
        now = _listing(root, folder, ".md")
        if now != names:
            new = sorted(set(now) - set(names))
            return f"a new sprint file ({new[0]})" if new else f"a sprint file was removed from {folder}"
    for folder, names in rec["template_dirs"].items():
        if _listing(root, folder, None) != names:
            return f"the templates in {folder} changed"
    return None


def relative(path: str | os.PathLike | None, root: Path) -> str | None:
    """A path as the record keeps it: relative to the root when inside it."""
    if path is None:
        return None
    p = Path(path)
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(p.resolve())

