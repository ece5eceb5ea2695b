"""The tasks storyc emits into a schedule: doit's own dispatcher, driven on a virtual clock.

doit's TaskDispatcher decides which task a free worker gets; its MRunner hands
jobs out as `get_next_job` does below (one call per free worker after each
result, `hold on` when nothing is ready). Here every story takes the seconds it
is given and nothing else costs time, so a schedule depends on the order and
shape of the tasks alone: the same tasks give the same schedule on any machine.
Used by tests/test_schedule.py and bench/bench_schedule.py.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from doit.control import TaskControl, TaskDispatcher
from doit.loader import generate_tasks

from storyc.plan import plan_from_json
from storyc.runners.doit_tasks import plan_tasks


@dataclass
class Schedule:
    makespan: float
    starts: dict[str, float]  # story id -> start
    lanes: dict[str, int]  # story id -> the worker that ran it
    order: list[str]  # stories in the order they started


def run(plan: dict, seconds: dict[str, float], jobs: int, selected: list[str] | None = None) -> Schedule:
    """Run `plan`'s tasks (plan.json's object) with `jobs` workers, story `sid` taking `seconds[sid]`; every other task takes no time."""
    tasks = generate_tasks("storyc", plan_tasks(plan_from_json(plan), "/nonexistent", "build/plan.json"))
    control = TaskControl(tasks)
    if selected is None:
        from storyc.runners.doit_tasks import chain_name

        selected = ([chain_name(1)] if plan.get("dispatch_order") else []) + ["sprint"]
    dispatcher = TaskDispatcher(control.tasks, control.targets, selected)
    gen = dispatcher.generator
    state = {"started": False, "free": 0}

    def next_job(completed):
        node = completed
        while True:
            try:
                node = gen.send(node) if state["started"] else next(gen)
            except StopIteration:
                return None
            state["started"] = True
            if node == "hold on":
                state["free"] += 1
                return "hold"
            if node.bad_deps:
                node.run_status = "failure"
                continue
            if any(check[0] is True for check in node.task.uptodate):
                node.run_status = "up-to-date"  # as doit's select_task: passed at once, in the main process
                continue
            node.run_status = "run"
            return node

    clock, seq = 0.0, 0
    running: list[tuple[float, int, int, object]] = []
    idle = list(range(jobs))
    starts: dict[str, float] = {}
    lanes: dict[str, int] = {}
    order: list[str] = []

    def start(node) -> None:
        nonlocal seq
        worker = idle.pop(0)
        name = node.task.name
        story = (node.task.meta or {}).get("storyc") == "story"
        if story:
            starts[name], lanes[name] = clock, worker
            order.append(name)
        heapq.heappush(running, (clock + (seconds[name] if story else 0.0), seq, worker, node))
        seq += 1

    for _ in range(jobs):
        job = next_job(None)
        if job is None:
            break
        if job != "hold":
            start(job)
    while running:
        clock, _, worker, node = heapq.heappop(running)
        idle.append(worker)
        idle.sort()
        node.run_status = "successful"
        free, state["free"] = state["free"] + 1, 0
        completed = node
        for _ in range(free):
            job = next_job(completed)
            completed = None
            if job is not None and job != "hold":
                start(job)
    return Schedule(clock, starts, lanes, order)
