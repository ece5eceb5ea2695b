"""The files `storyc init` writes into a repository that has none of them, and the ignore lines it proposes."""

STORYC_TOML = '''\
# storyc configuration. Every key is optional; the values shown are the defaults
# unless marked "example".

[paths]
tasks = "docs/tasks/tasks.json"
# sprint = "docs/sprints/sprint-001.md"   # default: the highest-numbered file in sprints_dir
sprints_dir = "docs/sprints"
architecture = "docs/planning/ARCHITECTURE.md"
progress = ".ai/PROGRESS.md"
kanban = "docs/tasks/kanban_board.md"
build = "build"
templates = ".storyc/templates"          # your own copies of storyc's templates win

[gates]                                  # shell commands, run from the project root (a story's own worktree); absent = skipped
# typecheck = "mypy src"                 # example
# lint = "ruff check ."                  # example
# test = "pytest -q"                     # example
# integration = "pytest -q -m integration"
# e2e = "pytest -q -m e2e"
secrets = true                           # storyc's built-in hard-coded secrets/URLs check

[models]
haiku = "claude-haiku-4-5"
sonnet = "claude-sonnet-4-5"
opus = "claude-opus-4-5"

[models.prices."claude-haiku-4-5"]      # US dollars per million tokens
input = 1.0
output = 5.0
cache_read = 0.10
cache_write = 1.25

[models.prices."claude-sonnet-4-5"]
input = 3.0
output = 15.0
cache_read = 0.30
cache_write = 3.75

[models.prices."claude-opus-4-5"]
input = 5.0
output = 25.0
cache_read = 0.50
cache_write = 6.25

# The decision matrix, one row per size; a row may set only the keys it changes.
[policy.XS]
model = "haiku"
reviewer = false
review_passes = 0
tests = "unit"                           # unit, unit+integration, full, full+e2e

[policy.S]
model = "haiku"
reviewer = false
review_passes = 0
tests = "unit"

[policy.M]
model = "sonnet"
reviewer = true
review_passes = 1
tests = "unit+integration"

[policy.L]
model = "sonnet"
reviewer = true
review_passes = 1
tests = "full"

[policy.XL]
model = "sonnet"
reviewer = true
review_passes = 2
tests = "full+e2e"

[runner]
kind = "anthropic"                       # anthropic, claude-code, command, scripted
max_attempts = 3
# argv = ["aider", "--yes-always", "--no-auto-commits", "--model", "{model}", "--message-file", "{prompt_file}"]   # for kind = "command"
budget_usd = 5.0                         # per story, all its agent calls together
max_turns = 50                           # per story
timeout_s = 1800                         # per story, wall time
request_timeout_s = 600                  # for kind = "anthropic": one model answer, then a retry
scripts = ".storyc/scripts"              # for kind = "scripted": <story-id>.toml with [[builder]] turns
# env = ["OPENAI_API_KEY"]               # for kind = "command": pass only these (and PATH, HOME, locale); unset: everything

[execution]
barrier = "none"                         # none: by the graph; wave: strict wave gates
# isolation = "worktree"                 # default: worktree in a git repository, else none
order = "critical-path"                  # which ready story starts first: critical-path (longest remaining path) or declared

# [statuses]                             # more status words, mapped to a family
# "needs-qa" = "in_progress"
'''

TASKS_JSON = '''\
{
  "version": 1,
  "project": "My Project",
  "stories": [
    {
      "id": "US-001",
      "title": "Configuration loader",
      "description": "As a developer, I want settings read from the environment, so that nothing is hard-coded.",
      "size": "S",
      "depends_on": [],
      "files": ["src/app/config.py", "tests/test_config.py"],
      "acceptance_criteria": ["load_settings() reads APP_ env variables", "missing required settings raise a clear error"],
      "status": "todo"
    },
    {
      "id": "US-002",
      "title": "Health endpoint",
      "description": "As an operator, I want a health check, so that I can monitor the service.",
      "size": "M",
      "depends_on": ["US-001"],
      "files": ["src/app/health.py", "tests/test_health.py"],
      "acceptance_criteria": ["health() returns status and version", "covered by a unit test"],
      "status": "todo"
    }
  ]
}
'''

SPRINT = '''\
---
sprint: 1
name: First steps
---

# Sprint 1: First steps

## Goal

A configurable service with a health check.

## Stories in Scope

| Story  | Title                | Size |
| ------ | -------------------- | ---- |
| US-001 | Configuration loader | S    |
| US-002 | Health endpoint      | M    |

## Integration Points

| Integration Point | Stories Involved | Verification     |
| ----------------- | ---------------- | ---------------- |
| Config → Health   | US-001 → US-002  | Integration test |
'''

ARCHITECTURE = '''\
# Architecture

Describe the modules, their responsibilities and the conventions every agent
must follow (naming, error handling, where configuration comes from). storyc
hands this file to every agent as context.
'''

STARTER_FILES = {
    "storyc.toml": STORYC_TOML,
    "docs/tasks/tasks.json": TASKS_JSON,
    "docs/sprints/sprint-001.md": SPRINT,
    "docs/planning/ARCHITECTURE.md": ARCHITECTURE,
}

# What storyc and doit write as they run, with names a line must ignore to count as present: the build
# folder (its name from storyc.toml), doit's state, and the bytecode of dodo.py that doit's import writes.
IGNORES = {
    "{build}/": ["{build}/plan.json"],
    ".doit.db*": [".doit.db", ".doit.db.dat", ".doit.db.dir", ".doit.db.bak"],
    "__pycache__/": ["__pycache__/dodo.cpython-311.pyc"],
}
GITIGNORE_HEAD = "# written by `storyc init`: what storyc and doit write as they run\n"
