"""The contract between compile and run (storyc/plan.py): plan.json read back into the types the compiler built.

The run reads the plan only through `load_plan`; these tests hold it to the compiler's own values, to the
bytes the compiler wrote, and to a clear error for a plan it cannot read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from storyc import __version__, api
from storyc.compiler.config import load_config
from storyc.compiler.emit import plan_json
from storyc.errors import ConfigError, OutputError
from storyc.plan import SCHEMA_VERSION, Config, Family, Plan, PlannedStory, Policy, Price, ResolvedPolicy, Runner, load_plan
from storyc.runners.stamps import exclusions

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "shop"


def shop(dest: Path) -> Path:
    """The bundled example's inputs in a fresh git repository."""
    dest.mkdir(parents=True)
    shutil.copy2(EXAMPLE / "storyc.toml", dest / "storyc.toml")
    shutil.copytree(EXAMPLE / "docs", dest / "docs")
    subprocess.run(["git", "init", "-q", str(dest)], check=True, capture_output=True)
    return dest


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    root = shop(tmp_path_factory.mktemp("plan") / "shop")
    return root, api.build(root).plan


def test_a_compiled_plan_loads_into_what_the_compiler_built(compiled: tuple[Path, Plan]) -> None:
    root, built = compiled
    loaded = load_plan(root / "build/plan.json")
    # spec_texts and notes are the compile's own, never written into plan.json.
    assert loaded == replace(built, spec_texts={}, notes=())
    assert all(type(s) is PlannedStory and type(s.policy) is ResolvedPolicy for s in loaded.stories)
    assert type(loaded.config) is Config and type(loaded.config.runner) is Runner
    assert loaded.config.runner.max_attempts == 3 and loaded.config.runner.kind == "scripted"
    assert loaded.config.execution.isolation == "worktree"  # resolved at compile time: a git repository
    assert set(loaded.config.policy) == {"XS", "S", "M", "L", "XL"} and all(type(row) is Policy for row in loaded.config.policy.values())
    assert all(type(p) is Price for p in loaded.config.models.prices.values())


def test_a_loaded_plan_writes_the_same_bytes(compiled: tuple[Path, Plan]) -> None:
    root, _ = compiled
    text = (root / "build/plan.json").read_text(encoding="utf-8")
    assert plan_json(load_plan(root / "build/plan.json")) == text


CONFIG = """
[paths]
build = "out/sprint/"
progress = "notes/PROGRESS.md"

[gates]
test = "pytest -q"
integration = "pytest -q -m integration"
secrets = false

[models]
sonnet = "claude-sonnet-4-6"

[models.prices."claude-sonnet-4-6"]
input = 3.5
output = 15.5

[policy.M]
reviewer = false

[runner]
kind = "command"
argv = ["agent", "{prompt_file}", "{model}"]
max_attempts = 4
budget_usd = 2.5
env = ["HOME"]

[execution]
isolation = "none"
order = "declared"

[statuses]
"In Review" = "in_progress"
Parked = "deferred"
"""

TASKS = {
    "stories": [
        {"id": "A", "title": "Models", "size": "S", "files": ["src/*.py"]},
        {"id": "B", "title": "Cart", "size": "M", "files": ["src/cart.py"], "depends_on": ["A"]},
        {"id": "C", "title": "Review", "size": "M", "status": "In Review", "files": ["src/cart.py", "docs/cart.md"]},
        {"id": "D", "title": "Later", "status": "Parked", "files": ["x.py"]},
        {"id": "E", "title": "Docs", "size": "S", "files": ["docs/*.md"], "depends_on": ["C"]},
    ]
}


def test_the_typed_config_round_trips(repo) -> None:
    r = repo(tasks=TASKS, config=CONFIG)
    built = api.build(r.root).plan
    loaded = load_plan(r.root / "out/sprint/plan.json")
    assert loaded.config == built.config
    config = loaded.config
    assert config.paths.build == "out/sprint" and config.paths.progress == "notes/PROGRESS.md"
    assert config.gates.test == "pytest -q" and config.gates.secrets is False and config.gates.lint is None
    assert config.models.sonnet == "claude-sonnet-4-6" and config.models.prices["claude-sonnet-4-6"] == Price(input=3.5, output=15.5)
    assert config.policy["M"] == Policy(model="sonnet", reviewer=False, review_passes=1, tests="unit+integration")
    assert config.runner == Runner(kind="command", argv=["agent", "{prompt_file}", "{model}"], max_attempts=4, budget_usd=2.5, env=["HOME"])
    # Without isolation, an integration gate makes the waves a barrier: decided once, by the compiler.
    assert (config.execution.isolation, config.execution.barrier, config.execution.order) == ("none", "wave", "declared")
    assert config.statuses == {"in_review": Family.IN_PROGRESS, "parked": Family.DEFERRED}
    assert [s.policy.ladder for s in loaded.targets][:1] == [["claude-haiku-4-5"] * 2 + ["claude-sonnet-4-6"] * 2]


def test_each_story_carries_the_patterns_of_later_stories_it_must_not_watch(repo) -> None:
    r = repo(tasks=TASKS, config=CONFIG)
    plan = api.build(r.root).plan
    by_id = {s.id: s for s in plan.stories}
    # src/cart.py is A's (its glob), B's and C's: chained A, C, B (C is in the first wave); docs/cart.md is C's and E's (its glob).
    assert by_id["B"].after == ["A", "C"] and by_id["C"].after == ["A"] and by_id["E"].after == ["C"]
    # A file that a later story also names is that story's output when it changes, not a hand edit of the earlier one's.
    assert by_id["A"].exclude == ["src/cart.py"]
    assert by_id["C"].exclude == ["docs/*.md", "src/cart.py"]
    assert by_id["B"].exclude == [] and by_id["E"].exclude == []
    assert "D" not in by_id  # deferred: out of scope without a sprint file
    own = ["out/sprint/", "notes/PROGRESS.md", "docs/tasks/kanban_board.md", "docs/tasks/tasks.json"]
    assert exclusions(load_plan(r.root / "out/sprint/plan.json")) == {"A": [*own, "src/cart.py"], "C": [*own, "docs/*.md", "src/cart.py"], "B": own, "E": own}


def _edit(path: Path, change) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(json.dumps(raw), encoding="utf-8")


EDITS = {
    "a story from before exclusions were compiled in": lambda raw: raw["stories"][0].pop("exclude"),
    "a policy without its ladder": lambda raw: raw["stories"][1]["policy"].pop("ladder"),
    "an unknown runner key": lambda raw: raw["config"]["runner"].update(retries=2),
    "a status word of no family": lambda raw: raw["config"]["statuses"].update(parked="someday"),
    "prices as a list": lambda raw: raw["config"]["models"].update(prices=[]),
    "no config": lambda raw: raw.pop("config"),
    "an edge without its reason": lambda raw: raw["edges"][0].pop("reason"),
    "a plan of the schema before": lambda raw: raw.update(schema_version=1),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_a_plan_it_cannot_read_is_an_output_error(compiled: tuple[Path, Plan], tmp_path: Path, edit: str) -> None:
    path = tmp_path / "plan.json"
    shutil.copy2(compiled[0] / "build/plan.json", path)
    _edit(path, EDITS[edit])
    with pytest.raises(OutputError) as caught:
        load_plan(path)
    assert f"{path} cannot be read as a compiled plan" in caught.value.message
    assert "storyc compile" in caught.value.hint and caught.value.exit_code == 2
    if edit == "a plan of the schema before":  # said as such, not as a field that happens to be missing
        assert f"schema 1, storyc '{__version__}'; this storyc reads schema {SCHEMA_VERSION}" in caught.value.message


@pytest.mark.parametrize("text", ["", "{", '{"schema_version": 1}', "[]", "\udcff"], ids=["empty", "torn", "nearly empty", "a list", "not UTF-8"])
def test_a_torn_or_foreign_file_is_an_output_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(OutputError, match="cannot be read as a compiled plan"):
        load_plan(path)
    with pytest.raises(OutputError, match="cannot be read as a compiled plan"):
        load_plan(tmp_path / "missing.json")


def test_status_and_doit_on_a_hand_edited_plan_say_so_without_a_traceback(repo) -> None:
    r = repo(tasks=TASKS, config=CONFIG.replace('kind = "command"', 'kind = "scripted"'))
    assert r.run("compile").code == 0
    _edit(r.root / "out/sprint/plan.json", lambda raw: raw["stories"][0].pop("exclude"))
    status = r.run("status")
    assert status.code == 2 and "Traceback" not in status.output, status.output
    assert "plan.json cannot be read as a compiled plan (TypeError" in status.stderr and "storyc compile" in status.stderr
    listed = subprocess.run([sys.executable, "-m", "doit", "list"], cwd=r.root, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 2 and "Traceback" not in listed.stderr, listed.stderr
    assert "cannot be read as a compiled plan" in listed.stderr and "run `storyc compile`, then `doit` again" in listed.stderr


def test_the_kernel_loads_neither_pydantic_nor_annotated_types() -> None:
    code = "import sys, storyc.plan; print(sorted(m for m in ('pydantic', 'annotated_types', 'jinja2', 'storyc.compiler') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_the_schema_validates_the_kernels_own_types(tmp_path: Path) -> None:
    (tmp_path / "storyc.toml").write_text('[runner]\nmax_attempts = "4"\n\n[statuses]\n"On Hold" = "blocked"\n')
    config = load_config(tmp_path)[0]
    assert type(config) is Config and type(config.runner) is Runner  # one definition: storyc/plan.py's
    assert config.runner.max_attempts == 4 and config.statuses == {"on_hold": Family.BLOCKED}


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[runner]\nmax_attempts = 11", "`runner.max_attempts` in storyc.toml: Input should be less than or equal to 10"),
        ("[runner]\nbudget_usd = 0", "`runner.budget_usd` in storyc.toml: Input should be greater than 0"),
        ("[runner]\nbudget_usd = inf", "`runner.budget_usd` in storyc.toml: Input should be a finite number"),
        ("[runner]\ntimeout_s = 0", "`runner.timeout_s` in storyc.toml: Input should be greater than or equal to 1"),
        ("[policy.L]\nreview_passes = 6", "`policy.L.review_passes` in storyc.toml: Input should be less than or equal to 5"),
        ("[paths]\nbuild = \"../out\"", "`paths.build` in storyc.toml: Value error, the build folder must be a relative path inside the repository"),
        ("runner = 3", "`runner` in storyc.toml: Input should be a valid dictionary or instance of Runner"),
        ("[runner]\nretries = 3", "unknown key `runner.retries` in storyc.toml"),
    ],
)
def test_the_kernels_limits_hold_in_the_schema(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "storyc.toml").write_text(toml + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert message in caught.value.message
    assert caught.value.where.line == (2 if "\n" in toml else 1)
