"""Planted truths of phase 2: outcomes, parents' employment, programme effect, tempo.

Each figure is computed from the same arrays that are written (definitions in
docs/generator.md) so a test or the warehouse can recompute it from the files.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from helhed.generator.benefits import Periods
from helhed.generator.children import employment_reference_day
from helhed.generator.dates import NONE, from_day, to_day
from helhed.generator.families import Families
from helhed.generator.labour import Intervals, employed_on
from helhed.generator.population import aged_between, residents_on
from helhed.generator.programmes import Enrolments
from helhed.generator.services import Activities
from helhed.generator.world import World

MONTH = 30.4375
FOLLOW_UP_MONTHS = (0, 6, 12, 24, 36, 48)


def _covers(person: np.ndarray, start: np.ndarray, end_eff: np.ndarray, n: int, day: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    hit = (start <= day) & (end_eff >= day)
    out[person[hit]] = True
    return out


def _active_in(person: np.ndarray, start: np.ndarray, end_eff: np.ndarray, n: int, first: int, last: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    hit = (start <= last) & (end_eff >= first)
    out[person[hit]] = True
    return out


def labour_truth(world: World, education: Intervals, employment: Intervals) -> dict[str, Any]:
    n = len(world.population)
    edu_in = education.code == 0
    e_end = education.effective_end(world.end)
    in_edu: dict[str, int] = {}
    young: dict[str, int] = {}
    employed: dict[str, int] = {}
    for m in world.months:
        res = residents_on(world.population, m.first)
        y = res & aged_between(world.population, m.first, 15, 24)
        cov = _covers(education.person[edu_in], education.start[edu_in], e_end[edu_in], n, m.first)
        young[m.key] = int(y.sum())
        in_edu[m.key] = int((y & cov).sum())
        a = res & aged_between(world.population, m.first, 16, 64)
        employed[m.key] = int((a & employed_on(employment, n, m.first, world.end)).sum())
    return {"residents_15_24_by_month": young, "in_education_15_24_by_month": in_edu, "employed_16_64_by_month": employed}


def departments_truth(
    world: World, periods: Periods, by_dept: dict[str, Activities], jobcenter: tuple[Activities, ...] = ()
) -> dict[str, Any]:
    """Persons active in >= 1, 2, 3 departments per month (benefits, DUBU, Sensum, Nexus); the
    jobcenter's records (offers, conversations held) count for the employment department, like
    the benefits."""
    n = len(world.population)
    p_end = np.where(periods.end == NONE, world.end, periods.end)
    out: dict[str, dict[str, int]] = {"1": {}, "2": {}, "3": {}}
    for m in world.months:
        employment = _active_in(periods.person, periods.start, p_end, n, m.first, m.last)
        for act in jobcenter:
            employment |= _active_in(act.person, act.start, act.effective_end(world.end), n, m.first, m.last)
        count = employment.astype(np.int64)
        for act in by_dept.values():
            count += _active_in(act.person, act.start, act.effective_end(world.end), n, m.first, m.last)
        for k in (1, 2, 3):
            out[str(k)][m.key] = int((count >= k).sum())
    return {"persons_by_departments_active_month": out}


def parents_employment_truth(
    world: World, families: Families, employment: Intervals, placements: Activities
) -> dict[str, Any]:
    """Share of parents employed k = -5..0 years around the year of a child's first placement."""
    pop = world.population
    n = len(pop)
    first_start: dict[int, int] = {}
    for p, s, code in zip(placements.person.tolist(), placements.start.tolist(), placements.service):
        if code.startswith("anbringelse_") and (p not in first_start or s < first_start[p]):
            first_start[p] = s
    cohorts: dict[str, Any] = {}
    pooled = {k: [0, 0] for k in range(-5, 1)}
    for year in world.years():
        if to_day(dt.date(year, 1, 1)) < world.start:
            continue
        kids = np.array(sorted(p for p, s in first_start.items() if from_day(s).year == year), dtype=np.int64)
        if not len(kids):
            continue
        row: dict[str, Any] = {"children": int(len(kids))}
        for k in range(-5, 1):
            day = employment_reference_day(year + k, world.end)
            emp = employed_on(employment, n, day, world.end)
            res = residents_on(pop, day)
            num = den = 0
            for parent in (families.mother[kids], families.father[kids]):
                ok = parent >= 0
                pp = parent[ok]
                counted = res[pp]
                den += int(counted.sum())
                num += int((counted & emp[pp]).sum())
            row[str(k)] = {"parents": den, "employed": num, "share": round(num / den, 4) if den else None}
            pooled[k][0] += num
            pooled[k][1] += den
        cohorts[str(year)] = row
    return {
        "parents_employment_by_placement_year": cohorts,
        "parents_employment_pooled": {str(k): round(v[0] / v[1], 4) if v[1] else None for k, v in pooled.items()},
    }


def programme_truth(
    world: World, enrolments: Enrolments, actual: Periods, counterfactual: Periods
) -> dict[str, Any]:
    """Self-support of participants at follow-up months: actual vs. without the programme."""
    out: dict[str, Any] = {}
    # Only participants' periods matter: index them per person once.
    part = np.unique(enrolments.person)
    spans: dict[str, dict[int, list[tuple[int, int]]]] = {}
    for name, per in (("actual", actual), ("counterfactual", counterfactual)):
        sel = np.isin(per.person, part)
        e = np.where(per.end[sel] == NONE, world.end, per.end[sel])
        index: dict[int, list[tuple[int, int]]] = {}
        for p, s, ee in zip(per.person[sel].tolist(), per.start[sel].tolist(), e.tolist()):
            index.setdefault(p, []).append((s, ee))
        spans[name] = index
    codes = np.array(enrolments.programme, dtype=object)
    moved_in = world.population.moved_in.tolist()
    until = world.resident_until().tolist()
    for code in sorted(set(enrolments.programme)):
        rows = np.flatnonzero(codes == code)
        res: dict[str, Any] = {"enrolments": int(len(rows))}
        for fm in FOLLOW_UP_MONTHS:
            k = n_act = n_cf = 0
            for i in rows.tolist():
                day = int(enrolments.start[i]) + int(round(fm * MONTH))
                d = from_day(day)
                first = to_day(dt.date(d.year, d.month, 1))
                nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
                last = min(to_day(nxt) - 1, world.end)
                p = int(enrolments.person[i])
                if day > world.end or not (moved_in[p] <= day <= until[p]):
                    continue
                k += 1
                on_a = any(s <= last and e >= first for s, e in spans["actual"].get(p, []))
                on_c = any(s <= last and e >= first for s, e in spans["counterfactual"].get(p, []))
                n_act += not on_a
                n_cf += not on_c
            res[f"month_{fm}"] = {
                "participants": k,
                "self_supporting": n_act,
                "self_supporting_without_programme": n_cf,
                "effect_share": round((n_act - n_cf) / k, 4) if k else None,
            }
        out[code] = res
    planted = {
        p["code"]: {"probability": (p.get("effect") or {}).get("exit_probability", 0.0), "months": (p.get("effect") or {}).get("exit_months")}
        for p in world.profile.raw.get("programmes", [])
    }
    return {"programme_effect": out, "planted_effect": planted}


def tempo_truth(world: World, by_source: dict[str, Activities], enrolments: Enrolments) -> dict[str, Any]:
    """Mean days from referral to start, per source and start year (starts inside the history)."""
    out: dict[str, dict[str, float]] = {}
    for source, act in by_source.items():
        inside = (act.start >= world.start) & (act.start <= world.end)
        years = np.array([from_day(s).year for s in act.start.tolist()], dtype=np.int64)
        out[source] = {}
        for y in world.years():
            sel = inside & (years == y)
            if sel.any():
                out[source][str(y)] = round(float((act.start[sel] - act.referral[sel]).mean()), 4)
    with_plan = enrolments.plan != NONE
    plan_days = round(float((enrolments.plan[with_plan] - enrolments.start[with_plan]).mean()), 4) if with_plan.any() else None
    return {"days_referral_to_start_by_source_year": out, "programme_days_start_to_plan_mean": plan_days}
