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

    def rng(self, stage: str) -> np.random.Generator:
        return stream(self.seed, STAGES[stage])

    def resident_until(self) -> IntArray:
        """Last resident day per person, ``end`` if still resident."""
        leave = self.population.leave
        return np.where(leave == NONE, self.end, leave)

    def years(self) -> list[int]:
        return list(range(self.first.year, self.last.year + 1))
