"""The resident population: who lives in the municipality, from when to when.

Everything else (benefits, cases, costs) hangs off these persons, so this module fixes
the person index used by every later module. Residents at the start of the history are
drawn from the profile's age structure; births, deaths and out-moves follow the profile's
rates, and in-movers arrive month by month so that the population follows the profile's
DST FOLK1AM curve (scaled to the requested size): a growing municipality grows, a flat one
stays flat. Each person has one residence spell (no return moves).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helhed.generator.dates import NONE, IntArray, age_on, from_day, to_day, ymd
from helhed.generator.profile import Profile, parse_band

YEAR = 365.25


@dataclass
class Population:
    """Column arrays, one element per person ever resident during the history."""

    birth: IntArray  # day number of birth
    male: np.ndarray  # bool
    moved_in: IntArray  # day number (birth date for people born here)
    moved_out: IntArray  # day number or NONE
    death: IntArray  # day number or NONE
    postal_code: list[str]
    district: list[str]
    _birth_parts: tuple[IntArray, IntArray, IntArray] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.birth)

    @property
    def leave(self) -> IntArray:
        """Last day as a resident (moved-out or death day), NONE if still resident."""
        return np.where(self.death != NONE, self.death, self.moved_out)


def _band_draw(shares: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """Ages in years (float) drawn from percentage shares per inclusive age band."""
    bands = [parse_band(b) for b in shares]
    p = np.array([float(v) for v in shares.values()])
    which = rng.choice(len(bands), size=n, p=p / p.sum())
    lo = np.array([b[0] for b in bands], dtype=float)[which]
    hi = np.array([b[1] + 1 for b in bands], dtype=float)[which]
    return lo + rng.random(n) * (hi - lo)


def _rate_by_age(table: dict[str, Any], age: np.ndarray) -> np.ndarray:
    out = np.zeros(len(age))
    for band, rate in table.items():
        lo, hi = parse_band(band)
        out[(age >= lo) & (age < hi + 1)] = float(rate)
    return out


def _exits(
    start: IntArray, age_years: np.ndarray, end: int, pop: dict[str, Any], rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Moved-out and death days after ``start`` (NONE if after ``end``), competing hazards."""
    g = pop["mortality_gompertz"]
    q_death = np.minimum(np.exp(float(g["a"]) + float(g["b"]) * age_years), 0.6)
    q_move = _rate_by_age(pop["out_migration_by_age"], age_years)
    n = len(start)
    t_death = start + (rng.exponential(1.0, n) / -np.log1p(-q_death) * YEAR).astype(np.int64)
    t_move = start + (rng.exponential(1.0, n) / -np.log1p(-np.maximum(q_move, 1e-9)) * YEAR).astype(np.int64)
    death = np.where((t_death <= end) & (t_death <= t_move), t_death, NONE)
    moved_out = np.where((t_move <= end) & (t_move < t_death), t_move, NONE)
    return moved_out.astype(np.int64), death.astype(np.int64)


def target_population(profile: Profile, scale: float, days: IntArray) -> np.ndarray:
    """Residents wanted on each day: the profile's FOLK1AM curve times ``scale``."""
    return profile.population_curve(days) * scale


def _resident_count(moved_in: IntArray, leave: IntArray, day: int) -> int:
    """Residents on ``day`` among persons with these moving-in and leaving days (NONE = stays)."""
    return int(((moved_in <= day) & ((leave == NONE) | (leave >= day))).sum())


def _month_starts(start: int, end: int) -> list[int]:
    """First days of the months after ``start`` up to ``end``, then ``end`` itself."""
    first = from_day(start)
    year, month = first.year, first.month
    out: list[int] = []
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        day = to_day(dt.date(year, month, 1))
        if day > end:
            break
        out.append(day)
    if not out or out[-1] != end:
        out.append(end)
    return out


def simulate_population(
    profile: Profile, scale: float, start: int, end: int, rng: np.random.Generator
) -> Population:
    """Everyone resident at some time in ``[start, end]`` (day numbers, inclusive).

    The population on ``start`` and at every month start after it is the profile's DST
    curve times ``scale`` (see :func:`target_population`), up to the exits of the month's
    own in-movers (a few per thousand).
    """
    pop = profile.population
    span_years = (end - start + 1) / YEAR
    residents = int(round(float(target_population(profile, scale, np.array([start]))[0])))

    # Residents on the first day of the history.
    age0 = _band_draw(pop["age_shares"], residents, rng)
    birth0 = start - (age0 * YEAR).astype(np.int64)
    child = age0 < 18
    born_here = rng.random(residents) < np.where(child, 0.8, float(pop["born_here_share"]))
    moved_in0 = np.where(born_here, birth0, birth0 + (rng.random(residents) * (start - birth0)).astype(np.int64))
    out0, death0 = _exits(np.full(residents, start, dtype=np.int64), age0, end, pop, rng)

    # Births during the history.
    n_births = int(rng.poisson(float(pop["birth_rate"]) * residents * span_years))
    birth1 = np.sort(rng.integers(start, end + 1, n_births))
    out1, death1 = _exits(birth1, np.zeros(n_births), end, pop, rng)

    # In-movers, month by month: as many as the target of the next checkpoint lacks.
    known_in = np.concatenate([moved_in0, birth1])
    known_leave = np.concatenate([np.where(death0 != NONE, death0, out0), np.where(death1 != NONE, death1, out1)])
    arrive_parts: list[IntArray] = []
    age_parts: list[np.ndarray] = []
    out_parts: list[IntArray] = []
    death_parts: list[IntArray] = []
    previous = start
    checkpoints = _month_starts(start, end)
    targets = target_population(profile, scale, np.array(checkpoints, dtype=np.int64))
    for day, target in zip(checkpoints, targets.tolist()):
        have = _resident_count(known_in, known_leave, day)
        need = max(0, int(round(target)) - have)
        if need:
            arrive = np.sort(rng.integers(previous + 1, day + 1, need))
            age = _band_draw(pop["in_mover_age_shares"], need, rng)
            out, death = _exits(arrive, age, end, pop, rng)
            arrive_parts.append(arrive)
            age_parts.append(age)
            out_parts.append(out)
            death_parts.append(death)
            known_in = np.concatenate([known_in, arrive])
            known_leave = np.concatenate([known_leave, np.where(death != NONE, death, out)])
        previous = day
    empty = np.zeros(0, dtype=np.int64)
    arrive2 = np.concatenate(arrive_parts) if arrive_parts else empty
    age2 = np.concatenate(age_parts) if age_parts else np.zeros(0)
    out2 = np.concatenate(out_parts) if out_parts else empty
    death2 = np.concatenate(death_parts) if death_parts else empty
    birth2 = arrive2 - (age2 * YEAR).astype(np.int64)

    birth = np.concatenate([birth0, birth1, birth2]).astype(np.int64)
    moved_in = np.concatenate([moved_in0, birth1, arrive2]).astype(np.int64)
    moved_out = np.concatenate([out0, out1, out2]).astype(np.int64)
    death = np.concatenate([death0, death1, death2]).astype(np.int64)
    n = len(birth)
    male = rng.random(n) < float(pop["male_share"])

    geo = profile.geography
    shares = np.array([float(g["share"]) for g in geo])
    which = rng.choice(len(geo), size=n, p=shares / shares.sum())
    pick = rng.random(n)
    postal = [geo[w]["code"] for w in which.tolist()]
    district = [geo[w]["districts"][int(u * len(geo[w]["districts"]))] for w, u in zip(which.tolist(), pick.tolist())]
    return Population(birth, male, moved_in, moved_out, death, postal, district)


def residents_on(population: Population, day: int) -> np.ndarray:
    """Boolean mask of residents on ``day`` (the manifest's definition, see docs/generator.md)."""
    p = population
    return (
        (p.moved_in <= day)
        & ((p.moved_out == NONE) | (p.moved_out >= day))
        & ((p.death == NONE) | (p.death >= day))
    )


def aged_between(population: Population, day: int, lo: int, hi: int) -> np.ndarray:
    """Boolean mask of persons aged ``lo``..``hi`` (completed years, inclusive) on ``day``."""
    if population._birth_parts is None or len(population._birth_parts[0]) != len(population.birth):
        population._birth_parts = ymd(population.birth)
    age = age_on(population.birth, day, population._birth_parts)
    return (age >= lo) & (age <= hi)
