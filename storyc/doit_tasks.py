"""The door of a dodo.py written by storyc 0.1 (`from storyc.doit_tasks import load_plan_tasks`).

Such a plan is of an older schema, so the door recompiles it, and the new dodo.py names storyc.dodo.
"""

from storyc.dodo import load_plan_tasks

__all__ = ["load_plan_tasks"]
