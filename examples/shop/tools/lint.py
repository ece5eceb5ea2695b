"""A tiny lint built on the stdlib ``ast`` module.

Reports unused imports and bare ``except:`` clauses as ``path:line: message``.
Usage: python tools/lint.py [PATH ...]   (default: src tests)
Exit status: 0 when clean, 1 when anything was reported.
"""

import ast
import sys
from pathlib import Path


def python_files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for arg in paths:
        p = Path(arg)
        found.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return found


def assigned_names(node: ast.Assign) -> set[str]:
    return {t.id for t in node.targets if isinstance(t, ast.Name)}


def exported_names(value: ast.expr) -> set[str]:
    return {c.value for c in ast.walk(value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}


def check(path: Path) -> list[tuple[int, str]]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        return [(exc.lineno or 1, f"syntax error: {exc.msg}")]
    except OSError as exc:
        return [(1, f"cannot read: {exc.strerror}")]
    imported: dict[str, int] = {}
    used: set[str] = set()
    problems: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.split(".")[0]] = node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                if alias.name != "*":
                    imported[alias.asname or alias.name] = node.lineno
        elif isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.type is None:
            problems.append((node.lineno, "bare 'except:' (catch a specific exception)"))
        elif isinstance(node, ast.Assign) and "__all__" in assigned_names(node):
            used.update(exported_names(node.value))  # re-exports count as used
    for name, line in imported.items():
        if name not in used:
            problems.append((line, f"'{name}' imported but unused"))
    return sorted(problems)


def main(argv: list[str]) -> int:
    findings = 0
    for path in python_files(argv or ["src", "tests"]):
        for line, message in check(path):
            print(f"{path}:{line}: {message}")
            findings += 1
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
