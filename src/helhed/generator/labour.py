"""Education status (15-24) and employment spells, filled into the time off benefits.

The youth database and the employment register must agree with the benefit periods: a
person on kontanthjælp is not also in full-time work, and a 20-year-old on uddannelseshjælp
is not in education. So both are derived from the gaps between a person's benefit
periods: young people's gaps become education, work or neither; adults' gaps become
employment with a probability that depends on their risk class. Fleksjob periods are
employment too (subsidised, fewer hours).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helhed.generator.dates import NONE, IntArray, birthday_day
from helhed.generator.intervals import gaps
from helhed.generator.lifecourse import S_INDEX
from helhed.generator.world import World

EDU_STATUSES = ("I uddannelse", "I beskæftigelse", "Offentlig forsørgelse", "Uden for uddannelse og beskæftigelse")
EDU_TYPES = ("", "Grundskole", "Gymnasial uddannelse", "Erhvervsuddannelse", "FGU", "Videregående uddannelse")
EMPLOYMENT_TYPES = ("Ordinær", "Fleksjob")
#: Probability that an adult's gap is spent in work, by risk class (low, mid, high).
P_EMPLOYED = np.array([0.93, 0.78, 0.50])
#: Probability that a young adult's (18-24) gap is spent in education, by risk class.
P_EDUCATION = np.array([0.74, 0.52, 0.30])
YEARS_OF_EMPLOYMENT_BEFORE = 6
HOURS = np.array([37.0, 32.0, 30.0, 25.0, 20.0])
HOURS_P = np.array([0.65, 0.10, 0.10, 0.08, 0.07])


@dataclass
class Intervals:
    """Generic (person, code, start, end) rows; ``end`` NONE = open."""

    person: IntArray
    code: IntArray
    start: IntArray
    end: IntArray
    detail: IntArray  # education type / employer number
    hours: np.ndarray  # weekly hours (employment), 0 otherwise

    def __len__(self) -> int:
        return len(self.person)

    def effective_end(self, end: int) -> IntArray:
        return np.where(self.end == NONE, end, self.end)


def _concat(parts: list[Intervals]) -> Intervals:
    cols = [np.concatenate([getattr(p, c) for p in parts]) for c in ("person", "code", "start", "end", "detail", "hours")]
    order = np.lexsort((cols[2], cols[0]))
    return Intervals(*(c[order] for c in cols))


def education_status(world: World, benefits: Intervals) -> Intervals:
    """Status periods for persons aged 15-24 inside the history (youth database)."""
    rng = world.rng("education")
    pop = world.population
    lo = np.maximum.reduce([birthday_day(pop.birth, 15), pop.moved_in, np.full(len(pop), world.start)])
    hi = np.minimum(birthday_day(pop.birth, 25) - 1, world.resident_until())
    b_end = benefits.effective_end(world.end)
    g_p, g_a, g_b = gaps(benefits.person, benefits.start, b_end, lo, hi)
    age = (g_a - pop.birth[g_p]) / 365.25
    u = rng.random(len(g_p))
    p_edu = np.where(age < 18, 0.96, P_EDUCATION[world.persons.risk[g_p]])
    status = np.where(u < p_edu, 0, np.where(rng.random(len(g_p)) < 0.6, 1, 3))
    status = np.where((status == 1) & (age < 18), 3, status)
    v = rng.random(len(g_p))
    etype = np.where(
        age < 16, 1,
        np.where(age < 19, np.where(v < 0.55, 2, np.where(v < 0.9, 3, 4)), np.where(v < 0.55, 5, np.where(v < 0.9, 3, 2))),
    )  # fmt: skip
    etype = np.where(status == 0, etype, 0)
    # Benefit periods of the young, clipped to their 15-24 window.
    bp = benefits.person
    ba, bb = np.maximum(benefits.start, lo[bp]), np.minimum(b_end, hi[bp])
    keep = ba <= bb
    parts = [
        Intervals(g_p, status, g_a, g_b, etype, np.zeros(len(g_p))),
        Intervals(bp[keep], np.full(int(keep.sum()), 2), ba[keep], bb[keep], np.zeros(int(keep.sum()), dtype=np.int64), np.zeros(int(keep.sum()))),
    ]
    out = _concat(parts)
    out.end = np.where((out.end >= world.end) & (hi[out.person] >= world.end), NONE, out.end)
    return out


def employment_spells(world: World, benefits: Intervals, education: Intervals) -> Intervals:
    """Employment spells from ``YEARS_OF_EMPLOYMENT_BEFORE`` years before the history."""
    rng = world.rng("employment")
    pop = world.population
    emp_start = world.start - int(YEARS_OF_EMPLOYMENT_BEFORE * 365.25)
    lo = np.maximum.reduce([birthday_day(pop.birth, 18), pop.moved_in, np.full(len(pop), emp_start)])
    hi = np.minimum(birthday_day(pop.birth, 67) - 1, world.resident_until())
    fj = benefits.code == S_INDEX["fleksjob"]
    in_edu = education.code == 0
    busy_p = np.concatenate([benefits.person[~fj], education.person[in_edu]])
    busy_a = np.concatenate([benefits.start[~fj], education.start[in_edu]])
    busy_b = np.concatenate([benefits.effective_end(world.end)[~fj], education.effective_end(world.end)[in_edu]])
    # Education and benefits may touch or overlap at the edges: merge per person first.
    busy_p, busy_a, busy_b = _merge(busy_p, busy_a, busy_b)
    g_p, g_a, g_b = gaps(busy_p, busy_a, busy_b, lo, hi)
    risk = world.persons.risk[g_p]
    after_busy = g_a > lo[g_p]
    delay = np.where(after_busy, rng.exponential(30.0, len(g_p)).astype(np.int64), 0)
    a = g_a + delay
    employed = (rng.random(len(g_p)) < P_EMPLOYED[risk]) & (a <= g_b)
    n = int(employed.sum())
    hours = HOURS[rng.choice(len(HOURS), size=len(g_p), p=HOURS_P)]
    employer = rng.integers(0, 2500, len(g_p))
    ordinary = Intervals(g_p[employed], np.zeros(n, dtype=np.int64), a[employed], g_b[employed], employer[employed], hours[employed])
    fjb = Intervals(
        benefits.person[fj], np.ones(int(fj.sum()), dtype=np.int64), benefits.start[fj], benefits.effective_end(world.end)[fj],
        rng.integers(0, 2500, int(fj.sum())), np.round(rng.uniform(10, 25, int(fj.sum()))),
    )  # fmt: skip
    out = _concat([ordinary, fjb])
    out.end = np.where(out.end >= world.end, NONE, out.end)
    return out


def _merge(p: IntArray, a: IntArray, b: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Merge overlapping or touching intervals per person."""
    if len(p) == 0:
        return p, a, b
    order = np.lexsort((a, p))
    p, a, b = p[order], a[order], b[order]
    # Running max of end within person.
    pl, al, bl = p.tolist(), a.tolist(), b.tolist()
    run = bl[:]
    flags = [True] * len(pl)
    for i in range(1, len(pl)):  # the loop is over busy rows only, not person-days
        if pl[i] == pl[i - 1] and al[i] <= run[i - 1] + 1:
            flags[i] = False
            run[i] = max(run[i - 1], bl[i])
    new_group = np.array(flags, dtype=bool)
    run_end = np.array(run, dtype=np.int64)
    gid = np.cumsum(new_group) - 1
    starts = a[new_group]
    ends = np.zeros(int(gid[-1]) + 1, dtype=np.int64)
    np.maximum.at(ends, gid, run_end)
    return p[new_group], starts, ends


def employed_on(employment: Intervals, n_persons: int, day: int, end: int) -> np.ndarray:
    """Boolean per person: an employment spell covers ``day``."""
    out = np.zeros(n_persons, dtype=bool)
    e = employment.effective_end(end)
    hit = (employment.start <= day) & (e >= day)
    out[employment.person[hit]] = True
    return out
