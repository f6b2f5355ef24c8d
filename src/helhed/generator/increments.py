"""Nightly increments: what each daily delivery after the initial one contains.

Source systems register events late: a benefit period's end is often keyed in weeks after
the fact, and the period is then re-delivered with the same ``Periode-id`` and a
back-dated end date. The simulation knows the true dates; this module gives each event a
registration day and derives, for every delivery day, the rows that changed that day and
the state a "latest delivery wins" loader ends up with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from helhed.generator.benefits import Periods
from helhed.generator.dates import NONE, IntArray
from helhed.generator.population import Population

#: Share of period ends registered late, and their mean delay in days.
LATE_END_SHARE, LATE_END_MEAN_DAYS = 0.2, 25.0
#: Share of period starts registered one to three days late.
LATE_START_SHARE = 0.2


@dataclass
class Registration:
    """Registration days of each benefit period's start and end (NONE if the end is open)."""

    start_reg: IntArray
    end_reg: IntArray


def register_periods(periods: Periods, initial_end: int, rng: np.random.Generator) -> Registration:
    n = len(periods)
    late_s = rng.random(n) < LATE_START_SHARE
    start_reg = periods.start + np.where(late_s, rng.integers(1, 4, n), 0)
    late_e = rng.random(n) < LATE_END_SHARE
    lag = np.where(late_e, 2 + rng.exponential(LATE_END_MEAN_DAYS, n).astype(np.int64), rng.integers(0, 2, n))
    end_reg = np.where(periods.end == NONE, NONE, periods.end + lag)
    # Everything before the initial delivery's cut-off counts as registered by then, except
    # what happened in its last weeks (those lags are what the increments reveal).
    start_reg = np.where(periods.start <= initial_end - 60, periods.start, start_reg)
    end_reg = np.where((periods.end != NONE) & (periods.end <= initial_end - 60), periods.end, end_reg)
    return Registration(start_reg.astype(np.int64), end_reg.astype(np.int64))


def known_at(periods: Periods, reg: Registration, day: int) -> tuple[IntArray, Periods]:
    """Rows known on ``day`` and their state then (an end not yet registered shows as open)."""
    idx = np.flatnonzero(reg.start_reg <= day)
    end = np.where((reg.end_reg[idx] != NONE) & (reg.end_reg[idx] <= day), periods.end[idx], NONE)
    return idx, subset(periods, idx, end)


def changed_on(periods: Periods, reg: Registration, day: int) -> tuple[IntArray, Periods]:
    """Rows whose start or end was registered on ``day``, in their state on that day."""
    hit = (reg.start_reg == day) | ((reg.end_reg == day) & (reg.start_reg <= day))
    idx = np.flatnonzero(hit)
    end = np.where((reg.end_reg[idx] != NONE) & (reg.end_reg[idx] <= day), periods.end[idx], NONE)
    return idx, subset(periods, idx, end)


def subset(periods: Periods, idx: IntArray, end: IntArray) -> Periods:
    il = idx.tolist()
    return replace(
        periods,
        person=periods.person[idx], state=periods.state[idx], start=periods.start[idx], end=end.astype(np.int64),
        visitation=periods.visitation[idx], rate=periods.rate[idx], amount=periods.amount[idx],
        unit=[periods.unit[i] for i in il], period_id=[periods.period_id[i] for i in il],
    )  # fmt: skip


def population_known_at(pop: Population, day: int) -> tuple[IntArray, Population]:
    """Persons known on ``day`` (moved in by then) with events after ``day`` not yet shown."""
    idx = np.flatnonzero(pop.moved_in <= day)
    return idx, _pop_subset(pop, idx, day)


def population_changed_on(pop: Population, day: int) -> tuple[IntArray, Population]:
    """Persons who moved in, moved out or died on ``day`` (full rows as of ``day``)."""
    idx = np.flatnonzero((pop.moved_in == day) | (pop.moved_out == day) | (pop.death == day))
    return idx, _pop_subset(pop, idx, day)


def _pop_subset(pop: Population, idx: IntArray, day: int) -> Population:
    il = idx.tolist()
    out = np.where(pop.moved_out[idx] <= day, pop.moved_out[idx], NONE)
    death = np.where(pop.death[idx] <= day, pop.death[idx], NONE)
    return Population(
        pop.birth[idx], pop.male[idx], pop.moved_in[idx], out.astype(np.int64), death.astype(np.int64),
        [pop.postal_code[i] for i in il], [pop.district[i] for i in il],
    )  # fmt: skip
