"""Planted truth: the figures the warehouse must reproduce from the generated files.

Computed from the same arrays that are written, with the definitions in
docs/generator.md (the tests recompute every figure independently from the CSV files).
Every month/quarter of the history and every group is present, zeros included, so a
checker can compare complete grids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helhed.generator.benefits import Periods
from helhed.generator.dates import NONE, Span
from helhed.generator.lifecourse import STATES
from helhed.generator.population import Population, aged_between, residents_on
from helhed.generator.profile import BENEFIT_GROUPS, VISITATION_CATEGORIES

#: Manifest key for persons whose last period in the month has no visitation category.
NOT_VISITED = "ikke_visiteret"
DECIMALS = 4


def overlap_days(periods: Periods, span: Span, end: int) -> np.ndarray:
    """Days of each period inside ``span`` (open periods run to ``end``)."""
    eff_end = np.where(periods.end == NONE, end, periods.end)
    return np.clip(np.minimum(eff_end, span.last) - np.maximum(periods.start, span.first) + 1, 0, None)


def benefit_truth(
    periods: Periods, population: Population, months: list[Span], quarters: list[Span], end: int
) -> dict[str, Any]:
    """All benefit truth figures of the manifest (see docs/generator.md for definitions)."""
    n_states = len(STATES)
    days_m: dict[str, dict[str, int]] = {g: {} for g in BENEFIT_GROUPS}
    fte_m: dict[str, dict[str, float]] = {g: {} for g in BENEFIT_GROUPS}
    persons_m: dict[str, dict[str, int]] = {g: {} for g in BENEFIT_GROUPS}
    visit_m: dict[str, dict[str, int]] = {c: {} for c in (*VISITATION_CATEGORIES, NOT_VISITED)}
    residents: dict[str, int] = {}
    self_supporting: dict[str, int] = {}
    for m in months:
        ov = overlap_days(periods, m, end)
        on = ov > 0
        days = np.bincount(periods.state[on], weights=ov[on], minlength=n_states).astype(np.int64)
        keys = np.unique(periods.person[on] * n_states + periods.state[on])
        persons = np.bincount(keys % n_states, minlength=n_states)
        # Periods are sorted by person then start: the last masked row per person is the last period.
        idx = np.flatnonzero(on)
        pers = periods.person[idx]
        last = np.ones(len(idx), dtype=bool)
        last[:-1] = pers[:-1] != pers[1:]
        visit = np.bincount(periods.visitation[idx[last]], minlength=1 + len(VISITATION_CATEGORIES))
        for g_i, g in enumerate(BENEFIT_GROUPS, start=1):
            days_m[g][m.key] = int(days[g_i])
            fte_m[g][m.key] = round(int(days[g_i]) / m.days, DECIMALS)
            persons_m[g][m.key] = int(persons[g_i])
        for c_i, c in enumerate(VISITATION_CATEGORIES, start=1):
            visit_m[c][m.key] = int(visit[c_i])
        visit_m[NOT_VISITED][m.key] = int(visit[0])
        mask = residents_on(population, m.first) & aged_between(population, m.first, 16, 64)
        on_benefit = np.zeros(len(population), dtype=bool)
        on_benefit[periods.person[on]] = True
        residents[m.key] = int(mask.sum())
        self_supporting[m.key] = int((mask & ~on_benefit).sum())

    days_q: dict[str, dict[str, int]] = {g: {} for g in BENEFIT_GROUPS}
    fte_q: dict[str, dict[str, float]] = {g: {} for g in BENEFIT_GROUPS}
    for q in quarters:
        ov = overlap_days(periods, q, end)
        days = np.bincount(periods.state, weights=ov, minlength=n_states).astype(np.int64)
        for g_i, g in enumerate(BENEFIT_GROUPS, start=1):
            days_q[g][q.key] = int(days[g_i])
            fte_q[g][q.key] = round(int(days[g_i]) / q.days, DECIMALS)
    return {
        "benefit_days_by_group_month": days_m,
        "full_time_persons_by_group_month": fte_m,
        "benefit_days_by_group_quarter": days_q,
        "full_time_persons_by_group_quarter": fte_q,
        "persons_by_group_month": persons_m,
        "persons_by_visitation_month": visit_m,
        "residents_16_64_by_month": residents,
        "self_supporting_16_64_by_month": self_supporting,
    }
