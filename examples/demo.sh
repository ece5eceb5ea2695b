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
copy() {  # examples/$1 as committed: a sprint run inside it leaves its code, build and statuses (all done)
    prefix=$(git -C "$here/$1" rev-parse --show-prefix 2>/dev/null || true)
    if [ -n "$prefix" ] && git -C "$here/$1" cat-file -e "HEAD:$prefix" 2>/dev/null; then
        if [ -n "$(git -C "$here/$1" status --porcelain --untracked-files=all -- . 2>/dev/null)" ]; then
            echo "demo: examples/$1 has local changes (a run inside it?); the demo uses the committed example"
        fi
        top=$(git -C "$here/$1" rev-parse --show-toplevel)
        git -C "$top" archive --format=tar "HEAD:$prefix" | (cd "$work" && tar -xf -)
    else  # not a git checkout (an unpacked release): the files as they are, minus a run's leftovers
        cp -R "$here/$1/." "$work"
        rm -rf "$work/build" "$work/dodo.py" "$work"/.doit.db* "$work/.ai" "$work/docs/tasks/kanban_board.md"
    fi
}
copy shop
if [ -n "${1:-}" ]; then
    copy "shop-$1"
    [ -f "$here/shop-$1/docs/tasks/tasks.json" ] || rm -f "$work/docs/tasks/tasks.json"
fi
cd "$work"
if command -v git >/dev/null 2>&1; then  # each story then works in its own git worktree
    git init -q && git add -A && git -c user.name=demo -c user.email=demo@localhost commit -qm "Acme Shop before sprint 1"
fi
echo "== storyc compile"; compiled=$(storyc compile); echo "$compiled"
case "$compiled" in
    *"(0 done, "*) ;;
    *) echo "demo: some of the example's stories are already done (see docs/tasks/tasks.json in $work)" >&2; exit 1 ;;
esac
echo "== doit list"; doit list
echo "== doit -n 4"; doit -n 4
echo "== doit (again: nothing is stale, so nothing runs)"
doit | tee build/second-run.txt
if grep -q '▶' build/second-run.txt; then echo "demo: a story ran a second time" >&2; exit 1; fi
echo "== storyc status"; storyc status | tee build/status.txt
if ! head -n 1 build/status.txt | grep -q '^\*\*\([1-9][0-9]*\) of \1 stories done'; then echo "demo: not every story is done" >&2; exit 1; fi
echo "The implemented sprint is in $work: see git status, .ai/PROGRESS.md, build/ORCHESTRATION_PLAN.md"
