"""Stamp records into estimates: measured medians per size and model, the seed's hour bands where too little is known.

A story that storyc built leaves a record (build/stamps/<name>.json) of its wall
time, agent calls, tokens and cost. A size, or a size on one model, with at least
MIN_SAMPLES such builds is estimated by their median; the others keep the seed's
band (or their own estimated_hours), scaled by how measured sizes compare with
their bands, so that measured and guessed stories stay in one unit on the
critical path. With nothing measured the bands are used as they are.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from .model import SIZE_HOURS

MIN_SAMPLES = 3  # finished builds of a size (and model) before their median replaces the band


@dataclass(frozen=True, slots=True)
class Sample:
    """One finished build of a story, as its stamp recorded it."""

    story: str
    size: str
    model: str
    seconds: float
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Measured:
    """Medians of the builds of one size (model None: every model)."""

    size: str
    model: str | None
    samples: int
    seconds: float
    calls: float
    tokens_in: float
    tokens_out: float
    cost_usd: float

    @property
    def hours(self) -> float:
        return self.seconds / 3600


def read_samples(stamps: Path, sizes: dict[str, str]) -> list[Sample]:
    """Every full build recorded under `stamps`, in file-name order.

    Only builds count: a story done by hand, or re-verified (its gates, or a fix
    on top of code that was already there), says little about building one. A
    record made before stamps held the size takes the story's size now
    (`sizes`: story id -> size), or is left out.
    """
    try:
        names = sorted(n for n in os.listdir(stamps) if n.endswith(".json"))
    except OSError:
        return []
    out = []
    for name in names:
        try:
            record = json.loads((stamps / name).read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            continue  # a torn record is no record (stamps.load_record says the same)
        if not isinstance(record, dict) or record.get("by") != "agent" or record.get("mode") != "build":
            continue
        calls = record.get("calls") or []
        size = record.get("size") or sizes.get(str(record.get("story")))
        model = record.get("model") or next((c.get("model") for c in calls if c.get("role") == "builder"), None)
        seconds = record.get("seconds")
        if size not in SIZE_HOURS or not model or not isinstance(seconds, (int, float)) or seconds <= 0 or not calls:
            continue
        tokens = record.get("tokens") or {}
        out.append(Sample(
            story=str(record.get("story")), size=size, model=model, seconds=float(seconds), calls=len(calls),
            tokens_in=int(tokens.get("input", 0)) + int(tokens.get("cache_read", 0)) + int(tokens.get("cache_write", 0)),
            tokens_out=int(tokens.get("output", 0)), cost_usd=float(record.get("cost_usd", 0.0)),
        ))
    return out


def _measured(size: str, model: str | None, samples: list[Sample]) -> Measured:
    return Measured(
        size, model, len(samples),
        seconds=median(s.seconds for s in samples), calls=median(s.calls for s in samples),
        tokens_in=median(s.tokens_in for s in samples), tokens_out=median(s.tokens_out for s in samples),
        cost_usd=median(s.cost_usd for s in samples),
    )


class Estimates:
    """What the finished builds say about each size, and each size on each model."""

    def __init__(self, samples: list[Sample]):
        self.samples = samples
        by_size: dict[str, list[Sample]] = defaultdict(list)
        by_model: dict[tuple[str, str], list[Sample]] = defaultdict(list)
        for s in samples:
            by_size[s.size].append(s)
            by_model[(s.size, s.model)].append(s)
        order = list(SIZE_HOURS)
        self.sizes = {size: _measured(size, None, by_size[size]) for size in sorted(by_size, key=order.index)}
        self.models = {key: _measured(*key, by_model[key]) for key in sorted(by_model, key=lambda k: (order.index(k[0]), k[1]))}
        known = [m for m in self.sizes.values() if m.samples >= MIN_SAMPLES]
        # How long a measured size really takes against its band; the sizes nobody measured yet take the same ratio.
        self.scale = median(m.hours / SIZE_HOURS[m.size] for m in known) if known else None
        self.scaled_by = [m.size for m in known]

    def estimate(self, size: str, model: str, declared_hours: float | None = None) -> tuple[float, str]:
        """Hours for a story of `size` on `model`, and where that number comes from."""
        for measured, what in ((self.models.get((size, model)), f"{size} on {model}"), (self.sizes.get(size), f"{size}, all models")):
            if measured is not None and measured.samples >= MIN_SAMPLES:
                return sig(measured.hours), f"median of {measured.samples} {what}"
        hours, source = (declared_hours, "estimated_hours") if declared_hours else (SIZE_HOURS[size], f"{size} band")
        if self.scale is None:
            return hours, source
        return sig(hours * self.scale), f"{source} scaled by measured {'/'.join(self.scaled_by)} (x{self.scale:.3g})"

    def velocity(self) -> dict:
        """The plan's record of what was measured, per size: estimated (the seed's band) against actual."""
        rows = []
        for size, band in SIZE_HOURS.items():
            measured = self.sizes.get(size)
            rows.append({
                "size": size,
                "band_hours": band,
                "measured": _row(measured),
                "models": [_row(m) for (s, _), m in self.models.items() if s == size],
            })
        return {"min_samples": MIN_SAMPLES, "builds": len(self.samples), "scale": None if self.scale is None else sig(self.scale),
                "scaled_by": self.scaled_by, "sizes": rows}


def sig(x: float) -> float:
    """Six significant digits: a measured story's hours are small numbers, and plan.json stays short and stable."""
    return float(f"{x:.6g}")


def _row(m: Measured | None) -> dict | None:
    if m is None:
        return None
    return {"model": m.model, "samples": m.samples, "enough": m.samples >= MIN_SAMPLES, "seconds": round(m.seconds, 3), "calls": m.calls,
            "tokens_in": m.tokens_in, "tokens_out": m.tokens_out, "cost_usd": round(m.cost_usd, 6)}
