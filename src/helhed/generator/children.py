"""Children's placements outside the home (DUBU), with the parents' employment planted.

VIVE's finding that parents' employment falls from ~60 % five years before a child's
placement to ~40 % in the placement year is planted by *choosing which children are
placed*: each year's new placements are drawn from four strata of candidate children by
whether their parents were mostly employed five years before and in the placement year,
in the proportions of the profile (`placements.parents_employment_strata`). The realised
shares are then measured exactly from the files (see truth).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from helhed.generator.dates import NONE, IntArray, age_on, birthday_day, to_day, ymd
from helhed.generator.families import Families
from helhed.generator.labour import Intervals, employed_on
from helhed.generator.population import residents_on
from helhed.generator.services import (
    OVERSAMPLE,
    Activities,
    caseworkers,
    concat_activities,
    days_in_window,
    lognormal_factor,
    price_in_year,
    thin_to_days,
)  # fmt: skip
from helhed.generator.world import World

YEAR = 365.25
#: Caseworkers for placements per 100,000 residents (assumption; ids on the records).
CASEWORKERS_PER_100K = 40


def employment_reference_day(year: int, end: int) -> int:
    """30 November of ``year`` (the register-based labour statistics date), capped at ``end``."""
    return min(to_day(dt.date(year, 11, 30)), end)


def parents_employment_share(
    world: World, families: Families, employment: Intervals, children: IntArray, year: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per child: (employed parents, resident parents) on the reference day of ``year``."""
    day = employment_reference_day(year, world.end)
    n = len(world.population)
    emp = employed_on(employment, n, day, world.end)
    res = residents_on(world.population, day)
    num = np.zeros(len(children))
    den = np.zeros(len(children))
    for parent in (families.mother[children], families.father[children]):
        has = parent >= 0
        pr = np.maximum(parent, 0)
        counted = has & res[pr]
        den += counted
        num += counted & emp[pr]
    return num, den


def draw_placements(
    world: World, families: Families, employment: Intervals, comp: np.ndarray, rng: np.random.Generator
) -> Activities:
    """Placements whose child-days inside the history are ``stock_per_100k`` per 100,000 residents
    per day, exactly: drawn oversampled (more new placements a year than the stock needs), then
    thinned at random (which keeps the strata's shares in expectation)."""
    spec: dict[str, Any] = world.profile.raw["placements"]
    target = int(round(float(spec["stock_per_100k"]) / 1e5 * world.resident_days(world.start, world.end)))
    factor = OVERSAMPLE
    for _ in range(4):
        person, start, end = _placement_spells(world, families, employment, comp, rng, factor)
        got = int(days_in_window(start, end, world.start, world.end).sum())
        if got >= target or got == 0:
            break
        factor *= 1.15 * target / got
    keep, end = thin_to_days(start, end, world.start, world.end, target, rng)
    return _placement_records(world, person[keep], start[keep], end[keep], rng)


def _placement_spells(
    world: World, families: Families, employment: Intervals, comp: np.ndarray, rng: np.random.Generator, factor: float
) -> tuple[IntArray, IntArray, IntArray]:
    """(child, start, end) of new placements, ``factor`` times as many a year as the stock needs."""
    spec: dict[str, Any] = world.profile.raw["placements"]
    pop = world.population
    median, sigma = float(spec["median_days"]), float(spec["sigma"])
    mean = median * np.exp(sigma**2 / 2)
    per_resident_day = float(spec["stock_per_100k"]) / 1e5 / mean * factor  # new placements per resident-day
    strata = {k: float(v) for k, v in spec["parents_employment_strata"].items()}
    first_year = world.first.year - int(np.ceil(3 * mean / YEAR))
    placed = np.zeros(len(pop), dtype=bool)
    rows_p: list[int] = []
    rows_a: list[int] = []
    for year in range(first_year, world.last.year + 1):
        y_lo = max(to_day(dt.date(year, 1, 1)), world.start - int(3 * mean))
        y_hi = min(to_day(dt.date(year, 12, 31)), world.end)
        if y_lo > y_hi:
            continue
        mid = (y_lo + y_hi) // 2
        n_year = int(rng.poisson(per_resident_day * world.resident_days(y_lo, y_hi)))
        age = age_on(pop.birth, mid)
        cand = np.flatnonzero(residents_on(pop, mid) & (age >= 0) & (age <= 16) & ~placed & ((families.mother >= 0) | (families.father >= 0)))
        if not len(cand) or not n_year:
            continue
        w = comp[np.maximum(families.mother[cand], 0)] + 0.2
        if year >= world.first.year:
            num0, den0 = parents_employment_share(world, families, employment, cand, year)
            num5, den5 = parents_employment_share(world, families, employment, cand, year - 5)
            # Children whose parents all or none worked in both years, so the strata fix the shares.
            ok = (den0 > 0) & (den5 > 0) & ((num0 == 0) | (num0 == den0)) & ((num5 == 0) | (num5 == den5))
            cand, w = cand[ok], w[ok]
            key = np.char.add(np.where(num5[ok] > 0, "1", "0"), np.where(num0[ok] > 0, "1", "0"))
            counts = rng.multinomial(n_year, [strata[k] for k in ("11", "10", "01", "00")])
            chosen: list[int] = []
            for k, c in zip(("11", "10", "01", "00"), counts.tolist()):
                idx = np.flatnonzero(key == k)
                c = min(c, len(idx))
                if c:
                    chosen.extend(rng.choice(cand[idx], size=c, replace=False, p=w[idx] / w[idx].sum()).tolist())
        else:
            c = min(n_year, len(cand))
            chosen = rng.choice(cand, size=c, replace=False, p=w / w.sum()).tolist()
        starts = rng.integers(y_lo, y_hi + 1, len(chosen))
        for p, s in zip(sorted(chosen), starts.tolist()):
            placed[p] = True
            rows_p.append(p)
            rows_a.append(s)
    person = np.array(rows_p, dtype=np.int64)
    start = np.array(rows_a, dtype=np.int64)
    start = np.maximum(start, pop.moved_in[person])
    dur = np.maximum(np.exp(np.log(median) + sigma * rng.standard_normal(len(person))), 30).astype(np.int64)
    last_ok = np.minimum(birthday_day(pop.birth[person], 18) - 1, world.resident_until()[person])
    end = np.minimum(start + dur - 1, last_ok)
    keep = (end >= world.start) & (end >= start)
    person, start, end = person[keep], start[keep], end[keep]
    return person, start, np.where(end >= world.end, NONE, end)


def _placement_records(world: World, person: IntArray, start: IntArray, end: IntArray, rng: np.random.Generator) -> Activities:
    """Placement type, price, provider, referral and caseworker of each placement."""
    spec: dict[str, Any] = world.profile.raw["placements"]
    growth = float(world.profile.raw["annual_price_growth"])
    pop = world.population
    types = spec["types"]
    shares = np.array([float(t["share"]) for t in types])
    k = len(person)
    t = rng.choice(len(types), size=k, p=shares / shares.sum())
    age_at = (start - pop.birth[person]) / YEAR
    code_of = {int(x["code"]): i for i, x in enumerate(types)}
    t = np.where((age_at < 14) & np.isin(t, [code_of[11], code_of[6]]), code_of[21], t)
    t = np.where((age_at < 12) & (t == code_of[8]), code_of[9], t)
    year, _, _ = ymd(np.maximum(start, world.start))
    base = np.array([float(x["price"]) for x in types])[t]
    price = np.round(price_in_year(1.0, year, growth) * base * lognormal_factor(rng, float(spec["price_sigma"]), k), 2)
    providers = [types[i]["providers"][j % len(types[i]["providers"])] for i, j in zip(t.tolist(), rng.integers(0, 99, k).tolist())]
    referral = start - rng.exponential(60.0, k).astype(np.int64) - 1
    worker = [f"BF{i:04d}" for i in rng.integers(1, caseworkers(world, CASEWORKERS_PER_100K) + 1, k).tolist()]
    return Activities(
        person, [f"anbringelse_{types[i]['code']}" for i in t.tolist()], start, end, referral,
        np.zeros(k), price, providers, [""] * k, [""] * k, worker,
    )  # fmt: skip


def child_measures(world: World, families: Families, comp: np.ndarray) -> Activities:
    """Preventive measures and assessments (they do not depend on the parents' work, so the
    programme selection can see them before placements are drawn)."""
    from helhed.generator.services import build_activities

    return build_activities(world, "dubu", families, comp, world.rng("child_measures"), "BF")


def children_activities(
    world: World, families: Families, employment: Intervals, comp: np.ndarray, measures: Activities | None = None
) -> Activities:
    """Placements plus preventive measures and assessments, numbered as DUBU cases."""
    rng = world.rng("children")
    placements = draw_placements(world, families, employment, comp, rng)
    others = child_measures(world, families, comp) if measures is None else measures
    return concat_activities([placements, others], "BF")
