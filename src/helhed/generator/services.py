"""Service activities of the social, care and health departments (DUBU, Sensum, Nexus).

Each service in the profile's catalogue has a stock (persons on an average day) and a
spell length; spells arrive as a Poisson stream and are given to persons drawn by need:
a heavy-tailed *complexity* score per person (high for the benefit model's high-risk
persons) for social services, the mother's complexity for children's measures, age for
care. One score shared by all departments is what makes the same few citizens appear in
several departments at once, as the seeds describe (2-3 departments, 7-8 services).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from helhed.generator.dates import NONE, IntArray, age_on, birthday_day, ymd
from helhed.generator.families import Families
from helhed.generator.world import World

YEAR = 365.25
#: Complexity multiplier per risk class (low, mid, high) and log-sd of the person factor.
RISK_COMPLEXITY = np.array([1.0, 4.0, 16.0])
COMPLEXITY_SIGMA = 0.9
#: Social services concentrate on the most complex persons more than linearly.
COMPLEXITY_POWER = 1.6
#: Caseworkers of a department per 100,000 residents (assumption; ids on the records).
CASEWORKERS_PER_100K = 60


@dataclass
class Activities:
    """Service spells: one row per granted service (``end`` NONE = open)."""

    person: IntArray
    service: list[str]  # catalogue key (placements: "anbringelse_<type code>")
    start: IntArray
    end: IntArray
    referral: IntArray  # day the need was referred (henvisning)
    hours: np.ndarray  # weekly hours for unit "time", 0 otherwise
    price: np.ndarray  # record price per unit (registrant services), unit price otherwise
    provider: list[str]
    case_id: list[str]
    activity_id: list[str]
    caseworker: list[str]

    def __len__(self) -> int:
        return len(self.person)

    def effective_end(self, end: int) -> IntArray:
        return np.where(self.end == NONE, end, self.end)


def complexity(world: World) -> np.ndarray:
    """Heavy-tailed need score per person (shared by every department)."""
    rng = world.rng("complexity")
    base = RISK_COMPLEXITY[world.persons.risk]
    return base * np.exp(COMPLEXITY_SIGMA * rng.standard_normal(len(world.population)))


def lognormal_factor(rng: np.random.Generator, sigma: float, n: int) -> np.ndarray:
    """Multiplicative price factors with mean 1 (specialised places cost several times more)."""
    return np.exp(sigma * rng.standard_normal(n) - sigma**2 / 2)


def price_in_year(price_2025: float, year: IntArray | int, growth: float) -> np.ndarray:
    """Unit price of a year from the 2025 price (deflated/inflated by ``growth`` per year)."""
    return np.round(price_2025 * (1.0 + growth) ** (np.asarray(year) - 2025).astype(float), 2)


def caseworkers(world: World, per_100k: float) -> int:
    """Number of caseworkers (or coordinators) for the mean population of the history."""
    return max(1, int(round(per_100k * world.mean_residents() / 1e5)))


def _weights(world: World, kind: str, comp: np.ndarray, families: Families) -> np.ndarray:
    pop = world.population
    if kind == "complexity":
        return comp**COMPLEXITY_POWER
    if kind == "family":
        mother = families.mother
        w = np.where(mother >= 0, comp[np.maximum(mother, 0)], comp)
        return w
    age_end = age_on(pop.birth, world.end).astype(float)
    if kind == "elderly":
        return np.exp(0.09 * (age_end - 70.0)) + 0.004 * comp**COMPLEXITY_POWER
    if kind == "frail":
        return np.exp(0.16 * (age_end - 80.0))
    raise ValueError(f"unknown weight kind {kind!r}")


def arrival_days(world: World, lo_day: int, hi_day: int, n: int, rng: np.random.Generator) -> IntArray:
    """``n`` sorted start days in ``[lo_day, hi_day]`` with density proportional to the residents
    of each day (days before the history count with its first day's residents)."""
    days = np.arange(lo_day, hi_day + 1, dtype=np.int64)
    daily = world.residents_by_day()
    weight = daily[np.clip(days - world.start, 0, len(daily) - 1)].astype(float)
    cdf = np.cumsum(weight)
    pick = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.sort(days[np.minimum(pick, len(days) - 1)])


def days_in_window(start: IntArray, end: IntArray, lo: int, hi: int) -> IntArray:
    """Days of each spell inside ``[lo, hi]`` (``end`` NONE = runs past ``hi``)."""
    b = np.where(end == NONE, hi, np.minimum(end, hi))
    return np.clip(b - np.maximum(start, lo) + 1, 0, None)


def thin_to_days(
    start: IntArray, end: IntArray, lo: int, hi: int, target: int, rng: np.random.Generator
) -> tuple[np.ndarray, IntArray]:
    """Keep a random subset of spells whose days inside ``[lo, hi]`` add up to exactly ``target``.

    Spells are taken in random order until the target is reached; the spell that crosses it
    is cut short. Returns the keep mask and the (possibly cut) ends. Random thinning keeps the
    spell lengths, the persons' weights and the timing of the drawn spells in expectation, so
    calibrating this way changes the volume, not the shape.
    """
    inside = days_in_window(start, end, lo, hi)
    keep = np.zeros(len(start), dtype=bool)
    new_end = end.copy()
    order = rng.permutation(len(start))
    running = np.cumsum(inside[order])
    take = int(np.searchsorted(running, target, side="left"))  # spells fully or partly taken
    if take >= len(order):
        keep[:] = True
        return keep, new_end
    keep[order[: take + 1]] = True
    over = int(running[take]) - target
    if over:
        i = int(order[take])
        cut = int(inside[i]) - over  # days of the crossing spell that stay inside the window
        if cut <= 0:
            keep[i] = False
        else:
            new_end[i] = max(int(start[i]), lo) + cut - 1
    return keep, new_end


#: Spells are first drawn at this multiple of the stock's arrival rate, then thinned to the
#: exact volume (drawing more than needed covers what is lost to ages, moves and deaths).
OVERSAMPLE = 1.6


def draw_spells(
    world: World,
    code: str,
    spec: dict[str, Any],
    weights: np.ndarray,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray, IntArray]:
    """(person, start, end) spells of one service, clipped to residence and age range.

    The volume is per resident: on an average day of the history, ``stock_per_100k`` persons
    per 100,000 residents receive the service, so the person-days inside the history equal
    ``round(stock_per_100k / 100,000 x Σ residents per day)`` exactly, at any size and with any
    population growth. Spells are drawn (oversampled) as a stream whose arrivals follow the
    residents of each day, then thinned to that volume (:func:`thin_to_days`).
    """
    median, sigma = float(spec["median_days"]), float(spec["sigma"])
    mean = median * np.exp(sigma**2 / 2)
    per_resident = float(spec["stock_per_100k"]) / 1e5
    burn = int(min(3 * mean, 10 * YEAR))
    lo_day, hi_day = world.start - burn, world.end
    target = int(round(per_resident * world.resident_days(world.start, world.end)))
    expected_arrivals = per_resident * world.resident_days(lo_day, hi_day) / mean
    factor = OVERSAMPLE
    for _ in range(4):
        person, starts, ends = _spell_stream(world, spec, weights, rng, lo_day, hi_day, expected_arrivals * factor, median, sigma)
        got = int(days_in_window(starts, ends, world.start, world.end).sum())
        if got >= target or got == 0:
            break
        factor *= 1.15 * target / got
    keep, ends = thin_to_days(starts, ends, world.start, world.end, target, rng)
    return person[keep], starts[keep], ends[keep]


def _spell_stream(
    world: World,
    spec: dict[str, Any],
    weights: np.ndarray,
    rng: np.random.Generator,
    lo_day: int,
    hi_day: int,
    expected: float,
    median: float,
    sigma: float,
) -> tuple[IntArray, IntArray, IntArray]:
    """A Poisson number of spells with residents-weighted start days, given to persons by need."""
    pop = world.population
    n = int(rng.poisson(expected))
    starts = arrival_days(world, lo_day, hi_day, n, rng)
    age_lo, age_hi = (int(a) for a in spec["ages"])
    first_ok = np.maximum(birthday_day(pop.birth, age_lo), pop.moved_in)
    last_ok = np.minimum(birthday_day(pop.birth, age_hi + 1) - 1, world.resident_until())
    w = np.where((first_ok <= hi_day) & (last_ok >= lo_day), weights, 0.0)
    total = w.sum()
    person = np.full(n, -1, dtype=np.int64)
    todo = np.arange(n)
    cdf = np.cumsum(w) / total if total > 0 else None
    for _ in range(30):
        if cdf is None or not len(todo):
            break
        cand = np.minimum(np.searchsorted(cdf, rng.random(len(todo)), side="right"), len(w) - 1)
        ok = (first_ok[cand] <= starts[todo]) & (last_ok[cand] >= starts[todo])
        person[todo[ok]] = cand[ok]
        todo = todo[~ok]
    got = person >= 0
    person, starts = person[got], starts[got]
    dur = np.maximum(np.exp(np.log(median) + sigma * rng.standard_normal(len(person))), 1).astype(np.int64)
    ends = np.minimum(starts + dur - 1, last_ok[person])
    keep = ends >= np.maximum(starts, world.start)
    person, starts, ends = person[keep], starts[keep], ends[keep]
    # One spell of a service per person at a time: drop spells starting inside the previous one.
    order = np.lexsort((starts, person))
    person, starts, ends = person[order], starts[order], ends[order]
    keep = np.ones(len(person), dtype=bool)
    keep[1:] = (person[1:] != person[:-1]) | (starts[1:] > ends[:-1])
    person, starts, ends = person[keep], starts[keep], ends[keep]
    ends = np.where(ends >= world.end, NONE, ends)
    return person, starts, ends


def build_activities(
    world: World, source: str, families: Families, comp: np.ndarray, rng: np.random.Generator, prefix: str
) -> Activities:
    """All catalogue services of ``source`` as one activity table."""
    catalogue = world.profile.raw["services"]
    growth = float(world.profile.raw["annual_price_growth"])
    parts: list[Activities] = []
    for code, spec in catalogue.items():
        if spec["source"] != source:
            continue
        p, a, b = draw_spells(world, code, spec, _weights(world, spec["weight"], comp, families), rng)
        k = len(p)
        referral = a - rng.exponential(float(spec.get("referral_days", 35)), k).astype(np.int64) - 1
        if spec["unit"] == "time":
            h_lo, h_hi = (float(x) for x in spec["hours"])
            hours = np.round(rng.uniform(h_lo, h_hi, k) * 2) / 2
        else:
            hours = np.zeros(k)
        year, _, _ = ymd(np.maximum(a, world.start))
        sigma = float(spec.get("price_sigma", 0.15 if spec["posting"] == "registrant" else 0.0))
        price = price_in_year(float(spec["price"]), year, growth)
        if sigma:
            price = np.round(price * lognormal_factor(rng, sigma, k), 2)
        providers = spec["providers"]
        prov = [providers[i] for i in rng.integers(0, len(providers), k).tolist()]
        worker = [f"{prefix}{i:04d}" for i in rng.integers(1, caseworkers(world, CASEWORKERS_PER_100K) + 1, k).tolist()]
        parts.append(Activities(p, [code] * k, a, b, referral, hours, price, prov, [""] * k, [""] * k, worker))
    return concat_activities(parts, prefix)


def concat_activities(parts: list[Activities], prefix: str) -> Activities:
    """Concatenate, order by person and start, and number cases (per person) and activities."""
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return Activities(e, [], e, e, e, np.zeros(0), np.zeros(0), [], [], [], [])
    person = np.concatenate([x.person for x in parts])
    start = np.concatenate([x.start for x in parts])
    service = [s for x in parts for s in x.service]
    order = np.lexsort((np.array(service, dtype=object).astype(str), start, person)) if len(person) else np.zeros(0, dtype=np.int64)

    def cat(name: str) -> Any:
        vals = [getattr(x, name) for x in parts]
        if isinstance(vals[0], np.ndarray):
            return np.concatenate(vals)[order]
        flat = [v for x in vals for v in x]
        return [flat[i] for i in order.tolist()]

    out = Activities(
        person[order], [service[i] for i in order.tolist()], start[order], cat("end"), cat("referral"),
        cat("hours"), cat("price"), cat("provider"), [], [], cat("caseworker"),
    )  # fmt: skip
    # One case per person and source; activity ids consecutive.
    case_of: dict[int, str] = {}
    for p in out.person.tolist():
        if p not in case_of:
            case_of[p] = f"{prefix}S{len(case_of) + 1:07d}"
    out.case_id = [case_of[p] for p in out.person.tolist()]
    out.activity_id = [f"{prefix}Y{i + 1:08d}" for i in range(len(out.person))]
    return out
