"""A story's agent calls so far into what its recovery ladder does next: build again, or stop.

The seed's error recovery (section 6), as compiled into the story's policy:
`policy.ladder` names the Builder's model for each attempt (the planned model,
the same model given the failure, the next model up), and the story's budget
(turns, dollars, wall time) spans all its agent calls in one run. Pure: no
files, no clock; the caller says how long the story has run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .agents.base import Budget

API_RETRIES = 3  # agent calls in a row that end in a model API error before the story gives up for this run


@dataclass(frozen=True, slots=True)
class Call:
    """One agent call of a story, as its events and its stamp record it."""

    attempt: int
    role: str  # builder, validator or reviewer
    model: str
    finished: bool
    stop: str  # the runner's reason; "error": the model API failed, which costs no attempt
    turns: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    seconds: float = 0.0
    review_pass: int = 0

    def record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Build:
    """Call the Builder: attempt `attempt`, on `model`, with the fix prompt when there is a failure to fix."""

    attempt: int
    model: str
    fix: bool


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Every attempt failed: the story is blocked for human review."""

    attempts: int


@dataclass(frozen=True, slots=True)
class OutOfBudget:
    """The story's budget ran out before the next attempt: blocked, saying which limit."""

    spent: str  # `max_turns = 40 turns used up`: the key to raise comes first

    @property
    def failure(self) -> str:
        return f"{self.spent} (the story's budget; raise [runner] {self.spent.split()[0]} to allow more)"


Step = Build | GiveUp | OutOfBudget


@dataclass(frozen=True, slots=True)
class Ladder:
    """One story's recovery ladder: its Builder models per attempt and its budget ([runner] in storyc.toml)."""

    models: list[str]  # the story's policy.ladder: one model per attempt, 1 to max_attempts
    max_turns: int
    budget_usd: float
    timeout_s: float

    @property
    def max_attempts(self) -> int:
        return len(self.models)

    def next(self, calls: list[Call], elapsed_s: float, failing: bool = False) -> Step:
        """What the story does next, given its calls so far and the seconds it has run.

        `failing`: a failure is known before any attempt (a re-verify's gates, an
        integration check), so even attempt 1 gets the fix prompt. Attempts run
        out before the budget is looked at: the last failure says more than a
        spent budget.
        """
        attempt = attempts(calls) + 1
        if attempt > self.max_attempts:
            return GiveUp(attempt - 1)
        if spent := self.spent(calls, elapsed_s):
            return OutOfBudget(spent)
        return Build(attempt, self.models[attempt - 1], fix=failing or attempt > 1)

    def spent(self, calls: list[Call], elapsed_s: float) -> str | None:
        """Which limit of the story's budget is used up, if any."""
        if sum(c.turns for c in calls) >= self.max_turns:
            return f"max_turns = {self.max_turns} turns used up"
        if sum(c.cost_usd for c in calls) >= self.budget_usd:
            return f"budget_usd = {self.budget_usd:g} spent"
        if elapsed_s >= self.timeout_s:
            return f"timeout_s = {self.timeout_s} s of wall time used up"
        return None

    def left(self, calls: list[Call], elapsed_s: float) -> Budget:
        """What the next agent call may spend: the rest of the story's budget (at least a turn and a second)."""
        return Budget(
            max_turns=max(self.max_turns - sum(c.turns for c in calls), 1),
            usd=max(self.budget_usd - sum(c.cost_usd for c in calls), 0.0),
            wall_s=max(self.timeout_s - elapsed_s, 1.0),
        )


def attempts(calls: list[Call]) -> int:
    """The Builder's attempts so far: a call the model API failed is no attempt."""
    return max((c.attempt for c in calls if c.role == "builder" and c.stop != "error"), default=0)
