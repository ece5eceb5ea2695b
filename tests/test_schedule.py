"""Critical path first, estimates that learn, and pictures of the plan and the run.

Real commands on real files: `storyc compile`, then `doit` with the command
runner, whose agent (a script outside the repository) writes the story's file and
sleeps as told. What is asserted is order and provenance, never a duration:
which ready story doit starts first (with one worker, where the order is the
whole story; with two, on doit's own dispatcher driven by a virtual clock), that
every estimate is the median of the stamps the run left, and that the Mermaid
storyc writes reads.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import storyc_tests_doitclock as doitclock  # loaded by conftest
import storyc_tests_mermaid as mermaid  # loaded by conftest
from storyc_tests import IGNORE, TASKS, Agent, Repo

from storyc import api

AGENT = r'''
import json, os, sys, time
story, attempt, role = sys.argv[1:4]
if role == "reviewer":
    sys.exit(print("VERDICT: APPROVE"))
here = os.path.dirname(os.path.abspath(__file__))
plan = json.load(open(os.path.join(here, "behaviour.json"))).get(story, {})
time.sleep(plan.get("sleep", 0))
os.makedirs("out", exist_ok=True)
with open(os.path.join("out", story + ".txt"), "w") as f:
    f.write("bad" if plan.get("fail") else "ok " + story)
'''
CHECK = 'import pathlib, sys; sys.exit(any(not p.read_text().startswith("ok") for p in pathlib.Path("out").glob("*.txt")))\n'
# The measurement of issue 11: eight XS stories listed first, then a chain of three L stories.
ISSUE = {**{f"X{n}": ("XS", []) for n in range(1, 9)}, "L1": ("L", []), "L2": ("L", ["L1"]), "L3": ("L", ["L2"])}


def project(tmp_path: Path, stories: dict[str, tuple[str, list[str]]], behaviour: dict | None = None, extra: str = "", name: str = "repo",
            isolation: str = "none") -> Path:
    """A repository with tasks.json, a sprint naming every story, storyc.toml (command runner, gate: the files say ok), compiled."""
    agent = Agent(tmp_path / f"{name}-agent", AGENT, behaviour)
    repo = Repo(tmp_path / name)
    root = repo.root
    tasks = [{"id": sid, "title": f"Story {sid}", "size": size, "depends_on": deps, "files": [f"out/{sid}.txt"],
              "acceptance_criteria": ["its file says ok"], "status": "todo"} for sid, (size, deps) in stories.items()]
    repo.write(TASKS, json.dumps({"project": "Schedule", "stories": tasks}, indent=2) + "\n")
    repo.write("docs/sprints/sprint-001.md", "# Sprint 1: Order\n\n## Stories\n\n" + "".join(f"- {s}\n" for s in stories))
    repo.write("check.py", CHECK)
    repo.write("storyc.toml", 
        f'[gates]\ntest = "{sys.executable} check.py"\nsecrets = false\n\n[runner]\nkind = "command"\n'
        f'argv = {agent.argv("{story_id}", "{attempt}", "{role}")}\nmax_attempts = 2\n\n'
        f'[execution]\nisolation = "{isolation}"\n{extra}')
    if isolation == "worktree":  # a story's bad file stays in its own worktree: the others' gates never see it
        repo.write(".gitignore", IGNORE)
        repo.commit()
    api.build(root)
    return root


def doit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return Repo(root).doit(*args, timeout=180)


def events(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "build/events.jsonl").read_text().splitlines()]


def started(root: Path) -> list[str]:
    return [e["story"] for e in events(root) if e["event"] == "story_started"]


def plan_of(root: Path) -> dict:
    return json.loads((root / "build/plan.json").read_text())


# ------------------------------------------------------------ critical path first


@pytest.mark.parametrize("order, expected", [
    ("critical-path", ["L1", "L2", "L3", *(f"X{n}" for n in range(1, 9))]),
    ("declared", [*(f"X{n}" for n in range(1, 9)), "L1", "L2", "L3"]),
])
def test_doit_starts_the_ready_story_with_the_longest_remaining_path_first(tmp_path: Path, order: str, expected: list[str]) -> None:
    root = project(tmp_path, ISSUE, extra=f'order = "{order}"\n')
    result = doit(root, "-n", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert started(root) == expected
    assert "_order" not in result.stdout + result.stderr  # the chain that orders them is doit's business, not the reader's


def test_on_doits_own_dispatcher_two_workers_meet_the_bound_where_list_order_does_not(tmp_path: Path) -> None:
    """The measurement of issue 11 (XS 2 s, L 6 s, 2 workers; bound max(18, 34 / 2) = 18 s), replayed on a virtual clock."""
    seconds = {sid: 2.0 if size == "XS" else 6.0 for sid, (size, _) in ISSUE.items()}
    first = doitclock.run(plan_of(project(tmp_path, ISSUE, name="cp")), seconds, jobs=2)
    assert first.makespan == 18.0
    assert first.starts["L1"] == 0.0 and first.starts["L2"] == 6.0 and first.starts["L3"] == 12.0  # the chain never waits
    listed = doitclock.run(plan_of(project(tmp_path, ISSUE, extra='order = "declared"\n', name="listed")), seconds, jobs=2)
    assert listed.makespan == 26.0 and listed.starts["L1"] == 8.0


def test_the_plan_puts_every_story_after_those_it_needs_and_the_longest_remaining_path_first(tmp_path: Path) -> None:
    rng = random.Random(11)
    sizes = ["XS", "S", "M", "L", "XL"]
    stories = {}
    for n in range(40):
        sid = f"S{n:02d}"
        stories[sid] = (rng.choice(sizes), sorted(rng.sample(list(stories), min(len(stories), rng.choice((0, 1, 1, 2, 3))))))
    plan = plan_of(project(tmp_path, stories))
    by_id = {s["id"]: s for s in plan["stories"]}
    for s in plan["stories"]:
        dependents = [by_id[d]["remaining_hours"] for d, (_, deps) in stories.items() if s["id"] in deps]
        assert s["remaining_hours"] == pytest.approx(s["estimate_hours"] + max(dependents, default=0.0))
    order = plan["dispatch_order"]
    assert sorted(order) == sorted(stories)
    assert [by_id[s]["remaining_hours"] for s in order] == sorted((by_id[s]["remaining_hours"] for s in order), reverse=True)
    position = {sid: n for n, sid in enumerate(order)}
    assert all(position[d] < position[sid] for sid, (_, deps) in stories.items() for d in deps)
    assert plan["critical_path"]["hours"] == pytest.approx(max(s["remaining_hours"] for s in plan["stories"]))
    # One worker on doit's dispatcher: each story is ready when its turn comes, so they start in exactly that order.
    assert doitclock.run(plan, {sid: 1.0 for sid in stories}, jobs=1).order == order


# ------------------------------------------------------------ estimates that learn


def test_the_next_compile_estimates_from_the_builds_the_run_recorded(tmp_path: Path) -> None:
    # Three XS builds and three S builds: enough for a median each; one M build: too few, its band is scaled.
    stories = {"A1": ("XS", []), "A2": ("XS", []), "A3": ("XS", []), "B1": ("S", []), "B2": ("S", []), "B3": ("S", ["B1"]), "C1": ("M", ["A1"])}
    root = project(tmp_path, stories, behaviour={"A1": {"sleep": 0.2}, "A2": {"sleep": 0.3}, "B2": {"sleep": 0.1}})
    before = plan_of(root)
    assert {s["estimate_source"] for s in before["stories"]} == {"XS band", "S band", "M band"}
    assert before["velocity"]["builds"] == 0
    result = doit(root, "-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    records = {sid: json.loads((root / f"build/stamps/{sid}.json").read_text()) for sid in stories}
    model = records["A1"]["model"]
    assert {r["size"] for r in records.values()} == {"XS", "S", "M"}

    api.build(root)
    plan = plan_of(root)
    by_id = {s["id"]: s for s in plan["stories"]}
    for size, ids in (("XS", ["A1", "A2", "A3"]), ("S", ["B1", "B2", "B3"])):
        median_h = statistics.median(records[s]["seconds"] for s in ids) / 3600
        for sid in ids:
            assert by_id[sid]["estimate_hours"] == pytest.approx(median_h, rel=1e-4)
            assert by_id[sid]["estimate_source"] == f"median of 3 {size} on {model}"
    # M: one build, too few; its band (6 h) times how XS and S ran against theirs (1 h, 3 h).
    scale = statistics.median([statistics.median(records[s]["seconds"] for s in ("A1", "A2", "A3")) / 3600 / 1.0,
                               statistics.median(records[s]["seconds"] for s in ("B1", "B2", "B3")) / 3600 / 3.0])
    assert by_id["C1"]["estimate_hours"] == pytest.approx(6.0 * scale, rel=1e-3)
    assert by_id["C1"]["estimate_source"].startswith("M band scaled by measured XS/S")
    # The critical path and the order in which stories start count in the measured estimates.
    assert plan["critical_path"]["hours"] == pytest.approx(max(s["remaining_hours"] for s in plan["stories"]), rel=1e-5)
    assert by_id["A1"]["remaining_hours"] == pytest.approx(by_id["A1"]["estimate_hours"] + by_id["C1"]["estimate_hours"], rel=1e-5)
    expected = sorted(stories, key=lambda s: (-by_id[s]["remaining_hours"], list(stories).index(s)))
    assert plan["dispatch_order"] == expected
    # The Velocity section: estimated (the band) against actual, per size.
    velocity = {row["size"]: row for row in plan["velocity"]["sizes"]}
    assert velocity["XS"]["measured"]["samples"] == 3 and velocity["M"]["measured"]["samples"] == 1
    assert not velocity["M"]["measured"]["enough"] and velocity["L"]["measured"] is None
    doc = (root / "build/ORCHESTRATION_PLAN.md").read_text()
    assert "### Velocity: Estimated vs Actual" in doc and "7 finished builds recorded in `build/stamps/`" in doc
    assert "| M | 6 h |" in doc and "| 1 (too few) |" in doc
    assert "estimated from measured builds" in doc


def test_builds_that_say_nothing_about_building_are_not_counted(tmp_path: Path) -> None:
    """A story done by hand (no agent) and one re-verified (its gates alone) leave records that are no builds."""
    stories = {"A1": ("XS", []), "A2": ("XS", []), "A3": ("XS", [])}
    root = project(tmp_path, stories)
    assert doit(root, "-n", "1").returncode == 0
    (root / "out/A3.txt").write_text("ok A3, edited by hand\n")  # re-verified: its gates run, no agent
    assert doit(root, "-n", "1").returncode == 0
    assert json.loads((root / "build/stamps/A3.json").read_text())["mode"] == "verify"
    api.build(root)
    plan = plan_of(root)
    assert plan["velocity"]["builds"] == 2
    assert {s["estimate_source"] for s in plan["stories"]} == {"XS band"}  # two builds: too few, nothing measured


# ------------------------------------------------------------ pictures


def test_the_plan_graph_draws_the_critical_path_and_parses(tmp_path: Path) -> None:
    root = project(tmp_path, ISSUE)
    plan = plan_of(root)
    doc = (root / "build/ORCHESTRATION_PLAN.md").read_text()
    chart = mermaid.flowchart(doc.split("```mermaid\n", 1)[1].split("\n```", 1)[0])
    label = {node: text.split(":")[0] for node, text in chart.nodes.items()}
    assert {label[n] for n in chart.classes["critical"]} == set(plan["critical_path"]["stories"]) == {"L1", "L2", "L3"}
    assert sorted((label[chart.edges[i][0]], label[chart.edges[i][1]]) for i in chart.styled_edges) == [("L1", "L2"), ("L2", "L3")]
    assert "**Critical path** (red in the graph above): L1 → L2 → L3 (36 h, estimated from sizes: no build measured yet)" in doc


def test_after_a_run_a_gantt_shows_each_worker_and_each_step_with_the_blocked_story_marked(tmp_path: Path, run_cli) -> None:
    stories = {"A": ("XS", []), "B": ("XS", []), "C": ("XS", ["A"]), "D": ("XS", [])}
    root = project(tmp_path, stories, behaviour={"B": {"fail": True}, "A": {"sleep": 0.3}}, isolation="worktree")
    result = doit(root, "-n", "2", "--continue")
    assert result.returncode != 0
    assert "_order" not in result.stdout  # B's failure is reported once, by B, not again by the chain
    status = run_cli(["status", "--format", "gantt", "--root", str(root)], root)
    assert status.code == 0, status.output
    sections = mermaid.gantt(status.stdout)
    pids = {e["pid"] for e in events(root) if e["event"] == "story_started"}
    assert len(sections) == len(pids) and {int(name.split("pid ")[1].rstrip(")")) for name in sections} == pids
    tasks = {t.name: t for lane in sections.values() for t in lane}
    assert {"A builder 1", "A gates", "C builder 1", "C gates", "D builder 1", "D gates", "B builder 1", "B builder 2"} <= set(tasks)
    assert tasks["A gates"].tags == ["done"] and tasks["B gates"].tags == ["crit"]
    assert tasks["B blocked"].tags == ["crit", "milestone"]
    assert tasks["C builder 1"].start >= tasks["A gates"].end  # C waited for A
    for lane in sections.values():  # one worker does one step at a time
        bars = sorted((t.start, t.end) for t in lane if "milestone" not in t.tags)
        assert all(a[1] <= b[0] for a, b in zip(bars, bars[1:]))
    gantt_doc = (root / "build/GANTT.md").read_text()  # written when the run ended, blocked story and all
    assert mermaid.gantt(gantt_doc.split("```mermaid\n", 1)[1].split("\n```", 1)[0]) == sections


def test_the_sprint_summary_shows_what_ran(tmp_path: Path) -> None:
    root = project(tmp_path, {"A": ("XS", []), "B": ("S", ["A"])})
    assert doit(root, "-n", "2").returncode == 0
    summary = (root / "build/SPRINT_SUMMARY.md").read_text()
    sections = mermaid.gantt(summary.split("```mermaid\n", 1)[1].split("\n```", 1)[0])
    assert [t.name for t in sorted((t for lane in sections.values() for t in lane), key=lambda t: t.start)] == ["A builder 1", "A gates", "B builder 1", "B gates"]


def test_an_unknown_order_is_refused_with_the_choices(repo) -> None:
    r = repo(tasks={"stories": [{"id": "A"}]}, config='[execution]\norder = "fastest"\n')
    r.run("compile").refused(r"invalid value for `execution.order` in storyc.toml", line=2)
    assert 'order is "critical-path"' in r.run("compile").stderr
