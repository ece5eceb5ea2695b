"""runners.gates: the secrets gate reads only what a story wrote, and knows a credential from a URL."""

from __future__ import annotations

from pathlib import Path

from storyc_tests import Repo

from storyc.runners.gates import secrets_gate


def _gate(tmp_path: Path, files: dict[str, str], committed: dict[str, str] | None = None):
    for rel, text in (committed or {}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    if committed:
        Repo(tmp_path).commit("x")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return secrets_gate(tmp_path, sorted(files))


def test_the_secrets_gate_passes_urls_that_are_not_configuration(tmp_path: Path) -> None:
    # Every URL anywhere failed the gate: a docstring's link, a comment, the README, package-lock.json,
    # an SVG namespace, a URL parser's test fixture; and the fix agent "moved them into configuration".
    result = _gate(tmp_path, {
        "src/client.py": '"""A client.\n\nSee https://docs.python.org/3/library/urllib.html for the details.\n"""\n'
                         "# spec: https://www.rfc-editor.org/rfc/rfc9110\n"
                         'import os\nBASE = os.environ["API_URL"]\npassword = os.environ["DB_PASSWORD"]\n'
                         'def url(host):\n    return f"https://{host}/v1"\n',
        "README.md": "Docs: https://acme.io/docs\n",
        "package-lock.json": '{"resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz"}\n',
        "src/Icon.tsx": 'export const Icon = () => <svg xmlns="http://www.w3.org/2000/svg" />\n',
        "tests/test_client.py": 'assert parse("https://github.com/acme/shop") == ("acme", "shop")\n',
        "src/form.ts": 'const passwordInputId = "password-input";\n',
    })
    assert result.passed, result.output


def test_the_secrets_gate_finds_credentials_under_the_names_people_give_them(tmp_path: Path) -> None:
    # Only a name that *was* `password`, `secret`, `token` or `api_key` counted: DB_PASSWORD, SECRET_KEY,
    # client_secret, a JSON "apiKey" and a .env line went through.
    cases = {
        "settings.py": 'DB_PASSWORD = "hunter2hunter2"\n',
        "django_settings.py": 'SECRET_KEY = "django-insecure-8f3k2l1m0n9b8v7c"\n',
        "auth.js": 'const client_secret = "a8f7d6s5a4s3d2f1";\n',
        "config.json": '{"apiKey": "AbC123xyz789QwE"}\n',
        ".env": "STRIPE_API_KEY=abcd1234efgh5678\n",
        "api.py": 'API = "https://api.stripe.com/v1"\n',
    }
    for name, text in cases.items():
        result = _gate(tmp_path, {name: text})
        assert not result.passed, f"{name}: {text}"
        (tmp_path / name).unlink()


def test_the_secrets_gate_answers_only_for_the_lines_the_story_wrote(tmp_path: Path) -> None:
    # A story that touched one line of a file with a URL constant already committed was blocked for it.
    old = 'LEGACY = "https://legacy.acme.io/api"\n'
    assert _gate(tmp_path, {"src/legacy.py": old + "def new():\n    return 1\n"}, committed={"src/legacy.py": old}).passed
    assert not _gate(tmp_path, {"src/legacy.py": old + 'NEW = "https://new.acme.io/api"\n'}).passed
