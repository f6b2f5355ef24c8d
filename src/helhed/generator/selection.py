"""What a caseworker sees when choosing programme participants: the citizen's recent record.

Holistic programmes do not enrol at random: caseworkers refer the citizens who are worst
off, those long on benefits, known to several departments, with children who need help.
The generator plants exactly that: each month, among the eligible persons, participants
are drawn with a weight that grows with what the registers show about the 12 months
before (months on income support, departments active, a child with a measure). The
selection is therefore on *observables*: an evaluation that matches on the same baseline
measures can remove the bias, and one that does not (a naive before/after or
participant/non-participant comparison) is biased. docs/generator.md states the weights.

Everything here is month-indexed on the history's calendar months (``World.months``):
boolean matrices ``[month, person]`` built with one difference-array pass per source, so the
monthly draw only reads rolling sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from helhed.generator.dates import NONE, IntArray, Span, age_on, ymd
from helhed.generator.families import Families

BASELINE_MONTHS = 12
#: Default weights (log scale) of the selection score; a programme's profile entry may
#: override them under ``selection:``.
DEFAULT_SELECTION = {"months_on_support": 1.6, "departments": 0.8, "child_measure": 1.0, "young": 0.2}


def month_index(days: IntArray, months: list[Span]) -> IntArray:
    """Index into ``months`` of each day (may be < 0 or >= len(months) outside the window)."""
    y0, m0, _ = ymd(np.array([months[0].first], dtype=np.int64))
    y, m, _ = ymd(days)
    return (y - y0[0]) * 12 + (m - m0[0])


def active_months(person: IntArray, start: IntArray, end_eff: IntArray, months: list[Span], n_persons: int) -> np.ndarray:
    """Boolean ``[month, person]``: some interval of the person overlaps the month."""
    n_m = len(months)
    lo = np.maximum(start, months[0].first)
    hi = np.minimum(end_eff, months[-1].last)
    ok = lo <= hi
    a = month_index(lo[ok], months)
    b = month_index(hi[ok], months)
    diff = np.zeros((n_m + 1, n_persons), dtype=np.int32)
    np.add.at(diff, (a, person[ok]), 1)
    np.add.at(diff, (b + 1, person[ok]), -1)
    return np.cumsum(diff[:-1], axis=0) > 0


@dataclass
class Baseline:
    """Per month and person: the registers' picture the selection reads."""

    months: list[Span]
    support: np.ndarray  # any income-support day in the month
    departments: list[np.ndarray]  # one boolean matrix per service department
    child_measure: np.ndarray  # a linked child under 18 has a DUBU record in the month

    def rolling(self, matrix: np.ndarray, t: int, persons: IntArray) -> np.ndarray:
        """Months with the flag in the ``BASELINE_MONTHS`` months before month ``t``."""
        lo = max(0, t - BASELINE_MONTHS)
        if t <= lo:
            return np.zeros(len(persons), dtype=np.int64)
        return matrix[lo:t, :][:, persons].sum(axis=0).astype(np.int64)

    def features(self, t: int, persons: IntArray) -> dict[str, np.ndarray]:
        """Months on support, departments active and a child's measure in the baseline of month ``t``."""
        return {
            "months_on_support": self.rolling(self.support, t, persons),
            "departments": sum((self.rolling(d, t, persons) > 0).astype(np.int64) for d in self.departments),  # type: ignore[dict-item]  # sum() over the departments' arrays is an array
            "child_measure": (self.rolling(self.child_measure, t, persons) > 0).astype(np.int64),
        }


def build_baseline(
    months: list[Span],
    n_persons: int,
    end: int,
    benefits: tuple[IntArray, IntArray, IntArray],
    service_records: dict[str, tuple[IntArray, IntArray, IntArray]],
    child_records: tuple[IntArray, IntArray, IntArray],
    families: Families,
) -> Baseline:
    """Month-by-person flags from benefit spells, service records and children's DUBU records.

    Interval ends may be ``NONE`` (open, runs to ``end``). ``service_records`` maps a service
    department to its records (person, start, end); benefits are the jobcenter's department.
    """

    def flags(rec: tuple[IntArray, IntArray, IntArray]) -> np.ndarray:
        p, a, b = rec
        return active_months(p, a, np.where(b == NONE, end, b), months, n_persons)

    support = flags(benefits)
    departments = [support] + [flags(r) for _, r in sorted(service_records.items())]
    child = flags(child_records)
    child_measure = np.zeros_like(child)
    for parent in (families.mother, families.father):
        has = parent >= 0
        kids = np.flatnonzero(has)
        # A parent's flag is the OR over their children (np.logical_or.at on columns).
        np.logical_or.at(child_measure.T, parent[kids], child.T[kids])
    return Baseline(months, support, departments, child_measure)


def selection_weights(spec: dict[str, Any] | None, features: dict[str, np.ndarray], age: IntArray) -> np.ndarray:
    """Relative chance of being referred: exp(linear score of the baseline features)."""
    w = {**DEFAULT_SELECTION, **(spec or {})}
    score = (
        float(w["months_on_support"]) * features["months_on_support"] / BASELINE_MONTHS
        + float(w["departments"]) * features["departments"]
        + float(w["child_measure"]) * features["child_measure"]
        + float(w["young"]) * (age < 30)
    )
    return np.exp(score - score.max()) if len(score) else score


def minor_child_parents(families: Families, birth: IntArray, resident: np.ndarray, day: int) -> np.ndarray:
    """Boolean per person: a linked child under 18 is resident on ``day``."""
    out = np.zeros(len(birth), dtype=bool)
    kids = np.flatnonzero(((families.mother >= 0) | (families.father >= 0)) & resident)
    kids = kids[age_on(birth[kids], day) < 18]
    for parent in (families.mother[kids], families.father[kids]):
        out[parent[parent >= 0]] = True
    return out


def co_parents(families: Families) -> dict[int, list[int]]:
    """The other parents of each parent's children (so one family is enrolled once)."""
    pairs: dict[int, set[int]] = {}
    both = np.flatnonzero((families.mother >= 0) & (families.father >= 0))
    for m, f in zip(families.mother[both].tolist(), families.father[both].tolist()):
        pairs.setdefault(m, set()).add(f)
        pairs.setdefault(f, set()).add(m)
    return {p: sorted(v) for p, v in pairs.items()}


def eligible_on(
    benefit_person: IntArray, benefit_start: IntArray, benefit_end_eff: IntArray, n_persons: int, day: int
) -> np.ndarray:
    """On an eligible benefit on ``day`` and on the day before (an ongoing spell, not a first day)."""
    out = np.zeros(n_persons, dtype=bool)
    hit = (benefit_start <= day - 1) & (benefit_end_eff >= day)
    out[benefit_person[hit]] = True
    return out


__all__ = [
    "Baseline", "build_baseline", "selection_weights", "minor_child_parents", "co_parents", "eligible_on",
    "month_index", "active_months", "BASELINE_MONTHS", "DEFAULT_SELECTION",
]  # fmt: skip
