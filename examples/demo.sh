#!/bin/sh
# The bundled example sprint, end to end and offline: a copy of examples/shop in
# a fresh git repository, compiled, implemented by `doit -n 4` with the scripted
# runner through the project's real gates, then a second `doit` that must run
# nothing. Needs storyc (and doit) on PATH.
# `demo.sh sprint-only` runs the variant whose stories live in the sprint file only
# (examples/shop-sprint-only: its files over the example's, and no tasks.json).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/storyc-demo.XXXXXX")
cp -R "$here/shop/." "$work"
if [ -n "${1:-}" ]; then
    cp -R "$here/shop-$1/." "$work"
    [ -f "$here/shop-$1/docs/tasks/tasks.json" ] || rm -f "$work/docs/tasks/tasks.json"
fi
cd "$work"
rm -rf build dodo.py .doit.db* .ai docs/tasks/kanban_board.md  # leftovers of a run inside the checkout
if command -v git >/dev/null 2>&1; then  # each story then works in its own git worktree
    git init -q && git add -A && git -c user.name=demo -c user.email=demo@localhost commit -qm "Acme Shop before sprint 1"
fi
echo "== storyc compile"; storyc compile
echo "== doit list"; doit list
echo "== doit -n 4"; doit -n 4
echo "== doit (again: nothing is stale, so nothing runs)"
doit | tee build/second-run.txt
if grep -q '▶' build/second-run.txt; then echo "demo: a story ran a second time" >&2; exit 1; fi
echo "== storyc status"; storyc status
echo "The implemented sprint is in $work: see git status, .ai/PROGRESS.md, build/ORCHESTRATION_PLAN.md"
