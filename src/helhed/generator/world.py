"""The simulated municipality shared by all source modules.

Sources must agree on who lives where and when, who is on which benefit and who is whose
parent, so every module reads from one ``World`` instead of passing a dozen arrays
around. The world also hands out the random stream of each stage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helhed.generator.dates import NONE, IntArray, Span
from helhed.generator.lifecourse import Persons
from helhed.generator.population import Population
from helhed.generator.profile import Profile

#: Stage numbers of the random streams (never renumber: it would change every output).
STAGES = {
    "population": 1,
    "cpr": 2,
    "persons": 3,
    "lifecourse": 4,
    "calibration": 5,
    "periods": 6,
    "families": 7,
    "programmes": 8,
    "education": 9,
    "employment": 10,
    "children": 11,
    "adults": 12,
    "health": 13,
    "ledger": 14,
    "increments": 15,
    "bad_data": 16,
    "complexity": 17,
    "effects": 18,
    "child_measures": 19,
    "calibration_top_up": 20,
    "investment": 21,
    "jobcenter": 30,
    "corrections": 31,
    "ledger_nights": 32,
}


def stream(seed: int, stage: int) -> np.random.Generator:
    """The random generator of one stage: PCG64 seeded with ``(seed, stage)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stage])))


@dataclass
class World:
    """Shared state. ``end`` is the last day simulated (last delivery date)."""

    profile: Profile
    seed: int
    scale: float
    first: dt.date
    last: dt.date
    start: int
    end: int
    initial_end: int  # day of the initial full delivery
    months: list[Span]
    quarters: list[Span]
    population: Population
    cprs: list[str]
    cpr_order: IntArray
    person_rank: IntArray
    persons: Persons
    extras: dict[str, Any] = field(default_factory=dict)
    _residents_by_day: IntArray | None = field(default=None, repr=False, compare=False)

    def rng(self, stage: str) -> np.random.Generator:
        return stream(self.seed, STAGES[stage])

    def resident_until(self) -> IntArray:
        """Last resident day per person, ``end`` if still resident."""
        leave = self.population.leave
        return np.where(leave == NONE, self.end, leave)

    def years(self) -> list[int]:
        return list(range(self.first.year, self.last.year + 1))

    def residents_by_day(self) -> IntArray:
        """Residents on each day of ``[start, end]`` (index 0 = ``start``), as the manifest counts
        them (moved in on or before the day, not left before it). Every volume that is a rate per
        resident is multiplied by these counts, so it scales with the population over time."""
        n_days = self.end - self.start + 1
        if self._residents_by_day is None or len(self._residents_by_day) < n_days:
            pop = self.population
            leave = pop.leave
            arrive = np.clip(pop.moved_in - self.start, 0, None)
            gone = np.where(leave == NONE, n_days + 1, leave - self.start + 1)
            live = (arrive < n_days) & (gone > arrive)
            delta = np.bincount(arrive[live], minlength=n_days + 2) - np.bincount(np.clip(gone[live], 0, n_days + 1), minlength=n_days + 2)
            self._residents_by_day = np.cumsum(delta)[:n_days].astype(np.int64)
        return self._residents_by_day[:n_days]

    def resident_days(self, first: int, last: int) -> int:
        """Σ residents over the days ``first..last`` (clipped to the history; before it, the first day counts)."""
        daily = self.residents_by_day()
        lo, hi = first - self.start, last - self.start
        before = max(0, min(hi + 1, 0) - lo)  # days before the history count with the first day's residents
        inside = daily[max(lo, 0) : max(hi + 1, 0)]
        return int(inside.sum()) + before * int(daily[0])

    def mean_residents(self) -> float:
        """Mean residents per day over the history ``[start, end]``."""
        return float(self.residents_by_day().mean())
