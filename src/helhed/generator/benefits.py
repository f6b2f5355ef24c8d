"""Turn calibrated spells into jobcenter benefit-period records.

Adds what a benefit system stores on each period but the life course does not decide:
the visitation category (only for the groups that have one), the rate in force when the
period started, the amount actually paid per unit (reduced for some persons by income
deductions), and a stable period id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helhed.generator.dates import NONE, IntArray, ymd
from helhed.generator.lifecourse import STATES, Spells
from helhed.generator.profile import VISITATION_CATEGORIES, Profile

#: First period id; ids are consecutive in output order (CPR, start date).
FIRST_PERIOD_ID = 100000001
#: Share of periods with a reduced amount (income deductions) and the range of reduction.
REDUCED_SHARE, REDUCED_RANGE = 0.2, (0.30, 0.95)


@dataclass
class Periods:
    """Benefit periods ready to write; ``visitation`` is 0 (none) or 1 + category index."""

    person: IntArray
    state: IntArray
    start: IntArray
    end: IntArray
    visitation: IntArray
    rate: np.ndarray  # float, 2 decimals
    amount: np.ndarray  # float, 2 decimals
    unit: list[str]
    period_id: list[str]

    def __len__(self) -> int:
        return len(self.person)


def finalize_periods(
    spells: Spells, profile: Profile, person_order: IntArray, history_end: int, rng: np.random.Generator
) -> Periods:
    """Order periods by the persons' output order, then start; attach the record fields.

    ``person_order[p]`` is the rank of person ``p`` in the CPR file (sorted by CPR number).
    The rate is the one in force on the period's last day (``history_end`` if open), as a
    system re-delivers a running period with the regulated rate each January.
    """
    order = np.lexsort((spells.start, person_order[spells.person]))
    person, state = spells.person[order], spells.state[order]
    start, end = spells.start[order], spells.end[order]
    n = len(person)

    visitation = np.zeros(n, dtype=np.int64)
    u = rng.random(n)
    for group, shares in profile.benefits["visitation"].items():
        sel = state == STATES.index(group)
        cats = list(shares)
        cum = np.cumsum([float(shares[c]) for c in cats])
        pick = np.minimum(np.searchsorted(cum / cum[-1], u[sel], side="right"), len(cats) - 1)
        codes = np.array([1 + VISITATION_CATEGORIES.index(c) for c in cats], dtype=np.int64)
        visitation[sel] = codes[pick]

    rates = profile.benefits["rates"]
    growth = float(profile.benefits["annual_rate_growth"])
    base = np.array([0.0] + [float(rates[g]["sats"]) for g in STATES[1:]])
    units = [""] + [str(rates[g]["unit"]) for g in STATES[1:]]
    year, _, _ = ymd(np.where(end == NONE, history_end, end))
    rate = np.round(base[state] * (1.0 + growth) ** (year - 2025).astype(float), 2)
    reduced = rng.random(n) < REDUCED_SHARE
    factor = np.where(reduced, rng.uniform(*REDUCED_RANGE, n), 1.0)
    amount = np.round(rate * factor, 2)
    unit = [units[s] for s in state.tolist()]
    period_id = [str(FIRST_PERIOD_ID + i) for i in range(n)]
    return Periods(person, state, start, end, visitation, rate, amount, unit, period_id)
