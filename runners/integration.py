"""Wave, integration-point and sprint targets into checks run, culprits found and fixed.

A failing integration check names the story that broke it: the involved
stories' changes are taken out of the working tree one at a time, newest
first, until the check passes; the last one taken out is the culprit. The
others go back in, the culprit is rebuilt with the failure as context, and
the check runs again.
"""

from __future__ import annotations

import time

from storyc.files import atomic_write

from .engine import StoryRun
from .gantt import gantt, last_run
from .gates import log_footer, log_header
from .proc import run_process
from .run import Run, load_run, reported
from .stamps import load_record, stamp_name
from .workspace import git_toplevel, redo_patch, undo_patch

TIMEOUT = 3600.0


@reported
def run_wave(root: str, plan_path: str, wave: int) -> bool:
    run = load_run(root, plan_path)
    command = run.config.gates.integration
    passed = _check(run, f"wave {wave} integration tests", command)[0] if command else True
    run.checkpoints.event("wave_done", wave=wave, passed=passed)
    return passed


@reported
def run_point(root: str, plan_path: str, slug: str) -> bool:
    run = load_run(root, plan_path)
    point = next(p for p in run.plan.integration_points if p.slug == slug)
    if not point.command:
        print(f"{point.name}: a manual check ({point.verification}); nothing to run")
        return True
    passed, failure = _check(run, point.name, point.command)
    if passed:
        run.checkpoints.event("integration_passed", name=point.name)
        return True
    culprit = find_culprit(run, point.stories, point.command)
    run.checkpoints.event("integration_failed", name=point.name, culprit=culprit)
    if culprit is None:
        print(f"{point.name}: failed, and no single story's change explains it")
        return False
    print(f"{point.name}: broken by {culprit}; rebuilding it with the failure as context")
    story = run.stories[culprit]
    brief = f"The integration check `{point.command}` ({point.name}) failed with your change in, and passes without it:\n{failure}"
    if not StoryRun(run, story, run.upstream(story), "build", failure=brief, cause=f"it broke the integration point {point.name}").go():
        return False
    passed = _check(run, point.name, point.command)[0]
    run.checkpoints.event("integration_passed" if passed else "integration_failed", name=point.name, culprit=None if passed else culprit)
    return passed


@reported
def run_sprint(root: str, plan_path: str) -> bool:
    run = load_run(root, plan_path)
    command = run.config.gates.e2e
    passed = _check(run, "E2E tests", command)[0] if command else True
    standing = run.checkpoints.standing()
    done = [sid for sid, s in standing.stories.items() if s["family"] == "done"]
    lines = [
        f"# Sprint summary: {run.plan.sprint.name}", "",
        f"- Finished: {time.strftime('%Y-%m-%d %H:%M:%S')}",
        f"- Stories done: {len(done)} of {len(standing.stories)}",
        f"- E2E: {'passed' if passed else 'FAILED'}" if command else "- E2E: no command configured",
        f"- Cost: ${standing.cost_usd:.4f}; tokens in {standing.tokens.get('input', 0):,}, out {standing.tokens.get('output', 0):,}", "",
        "| Story | Status | Attempts | Cost |", "| ----- | ------ | -------- | ---- |",
    ]
    for sid, s in standing.stories.items():
        record = load_record(run.record_file(sid)) or {}
        lines.append(f"| {sid} | {s['family']} | {len(record.get('calls', []))} | ${record.get('cost_usd', 0):.4f} |")
    if chart := gantt(last_run(run.checkpoints.events()), run.plan.sprint.name):
        lines += ["", "## What ran", "", "A lane per worker, a bar per agent call and per round of gates (red: failed).", "", "```mermaid", chart, "```"]
    atomic_write(run.build / "SPRINT_SUMMARY.md", "\n".join(lines) + "\n")
    run.checkpoints.event("sprint_done", passed=passed)
    return passed


def _check(run: Run, what: str, command: str) -> tuple[bool, str]:
    log = run.build / "logs" / "integration.log"
    log_header(log, what, command)
    done = run_process(command, cwd=run.root, timeout=TIMEOUT, shell=True, log=log)
    ok = done.returncode == 0 and not done.timed_out
    log_footer(log, what, done.returncode, done.seconds, how="timed out" if done.timed_out else "")
    print(f"{what}: {'passed' if ok else 'FAILED'} ({command})")
    if not ok:
        print(done.output[-3000:])
    return ok, done.output


def find_culprit(run: Run, stories: list[str], command: str) -> str | None:
    """Undo the stories' patches newest first until `command` passes; put the innocent back."""
    if run.config.execution.isolation != "worktree" or git_toplevel(run.root) is None:
        return None  # without patches there is nothing to take out
    finished = []
    for sid in stories:
        if sid in run.stories and (record := load_record(run.record_file(sid))):
            finished.append((record.get("finished_at", 0), sid))
    undone: list[str] = []
    culprit = None
    for _, sid in sorted(finished, reverse=True):
        if not undo_patch(run.root, run.build, stamp_name(run.stories[sid].spec)):
            continue
        undone.append(sid)
        if run_process(command, cwd=run.root, timeout=TIMEOUT, shell=True).returncode == 0:
            culprit = sid
            break
    for sid in reversed(undone):
        if sid != culprit:
            redo_patch(run.root, run.build, stamp_name(run.stories[sid].spec))
    return culprit
