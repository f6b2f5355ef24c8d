"""Holistic programme enrolments ("one plan" programmes).

Participants are persons with complex needs on income support, chosen by what their
registers show (``selection``): worse off than other recipients at baseline. What the
programme does to them is planted in ``effects`` on each participant's untreated course, so
the manifest can state the exact effect an evaluation should recover.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helhed.generator.dates import NONE, IntArray, age_on, to_day
from helhed.generator.families import Families
from helhed.generator.lifecourse import S_INDEX, Spells
from helhed.generator.population import residents_on
from helhed.generator.selection import Baseline, co_parents, eligible_on, minor_child_parents, selection_weights
from helhed.generator.services import caseworkers
from helhed.generator.world import World

MONTH = 30.4375
ELIGIBLE_GROUPS = ("kontanthjaelp", "uddannelseshjaelp", "selvforsoergelsesydelse", "sygedagpenge", "jobafklaringsforloeb", "ressourceforloeb")
N_MARKERS = 12
YEAR_DAYS = 365.25


@dataclass
class Enrolments:
    person: IntArray
    programme: list[str]
    start: IntArray
    end: IntArray  # NONE = ongoing
    plan: IntArray  # NONE = no joint plan yet
    referral: IntArray
    coordinator: list[str]
    effect_day: IntArray  # NONE = no planted effect
    enrolment_id: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.person)


def enrolments_due(world: World, per_year_per_100k: float, launched: int | None = None) -> list[int]:
    """Enrolments due by the end of each month: the programme's rate per resident times the
    resident-days so far (from its launch), rounded. A month enrols what is due minus what was
    enrolled, so the total over the history is exact (a month short of candidates passes its
    rest on)."""
    due: list[int] = []
    expected = 0.0
    for m in world.months:
        first = m.first if launched is None else max(m.first, launched)
        if first <= m.last:
            expected += per_year_per_100k / 1e5 * world.resident_days(first, m.last) / YEAR_DAYS
        due.append(int(round(expected)))
    return due


def draw_enrolments(world: World, spells: Spells, families: Families, baseline: Baseline) -> Enrolments:
    """Enrolments per month, drawn among eligible persons by what their baseline shows.

    Eligible in a month: resident, aged 18-64 on the 1st, on an eligible income-support benefit
    on the 1st and the day before, never enrolled before, from the programme's ``launched``
    month (default: the first month); a family programme also needs a resident child under 18.
    The chance is proportional to :func:`selection.selection_weights` of the 12 baseline
    months (selection on observables, so an evaluation that matches on them can remove the
    bias). Each enrolment makes the co-parents of the participant's children ineligible, so a
    family is enrolled once. The planted effects are drawn later (``effects.draw_effects``).
    """
    rng = world.rng("programmes")
    pop = world.population
    progs: list[dict[str, Any]] = world.profile.raw.get("programmes", [])
    eligible_states = np.array([S_INDEX[g] for g in ELIGIBLE_GROUPS])
    partners = co_parents(families)
    enrolled = np.zeros(len(pop), dtype=bool)
    out: dict[str, list[Any]] = {k: [] for k in ("person", "programme", "start", "end", "plan", "referral", "coordinator")}
    el_spell = np.isin(spells.state, eligible_states)
    sp_p, sp_a = spells.person[el_spell], spells.start[el_spell]
    sp_b = np.where(spells.end[el_spell] == NONE, world.end, spells.end[el_spell])
    resident_until = world.resident_until()
    launched = {str(p["code"]): to_day(dt.date.fromisoformat(str(p["launched"]))) if p.get("launched") else world.start for p in progs}
    due = {str(p["code"]): enrolments_due(world, float(p["enrolments_per_year_per_100k"]), launched[str(p["code"])]) for p in progs}
    coordinators = {str(p["code"]): caseworkers(world, float(p["coordinators_per_100k"])) for p in progs}
    enrolled_so_far = {str(p["code"]): 0 for p in progs}
    for t, m in enumerate(world.months):
        on_benefit = eligible_on(sp_p, sp_a, sp_b, len(pop), m.first)
        age = age_on(pop.birth, m.first)
        resident = residents_on(pop, m.first)
        base = on_benefit & resident & (age >= 18) & (age <= 64)
        parents = minor_child_parents(families, pop.birth, resident, m.first)
        for prog in progs:
            if m.last < launched[str(prog["code"])]:
                continue
            n = due[str(prog["code"])][t] - enrolled_so_far[str(prog["code"])]
            mask = base & (parents if prog.get("family", prog["code"] == "FAMILIE") else True) & ~enrolled
            cand = np.flatnonzero(mask)
            n = min(n, len(cand))
            if not n:
                continue
            w = selection_weights(prog.get("selection"), baseline.features(t, cand), age[cand])
            chosen = np.sort(rng.choice(cand, size=n, replace=False, p=w / w.sum()))
            enrolled_so_far[str(prog["code"])] += n
            for p in chosen.tolist():
                enrolled[p] = True
                enrolled[partners.get(p, [])] = True
                # Start while the person still lives here, so the end (cut at moving out) is never before it.
                s = int(rng.integers(max(m.first, launched[str(prog["code"])]), min(m.last, int(resident_until[p])) + 1))
                lo_m, hi_m = (int(x) for x in prog["duration_months"])
                e = s + int(rng.uniform(lo_m, hi_m) * MONTH)
                e = min(e, int(resident_until[p]))
                plan = s + int(rng.exponential(40.0)) + 5
                out["person"].append(p)
                out["programme"].append(str(prog["code"]))
                out["start"].append(s)
                out["end"].append(NONE if e >= world.end else e)
                out["plan"].append(NONE if plan > min(e, world.end) else plan)
                out["referral"].append(s - int(rng.exponential(21.0)) - 1)
                out["coordinator"].append(f"{prog['code'][:2]}K{int(rng.integers(1, coordinators[str(prog['code'])] + 1)):02d}")
    order = np.lexsort((np.array(out["start"], dtype=np.int64), np.array(out["person"], dtype=np.int64)))

    def col(name: str) -> IntArray:
        return np.array(out[name], dtype=np.int64)[order] if len(order) else np.zeros(0, dtype=np.int64)

    enr = Enrolments(
        col("person"), [out["programme"][i] for i in order.tolist()], col("start"), col("end"), col("plan"),
        col("referral"), [out["coordinator"][i] for i in order.tolist()], np.full(len(order), NONE, dtype=np.int64),
    )  # fmt: skip
    enr.enrolment_id = [f"HF{i + 1:06d}" for i in range(len(enr))]
    return enr


def enrolments_known_at(enrolments: Enrolments, day: int) -> Enrolments:
    """The programme register as known on ``day``: enrolments started by then, with an end or a
    plan date after ``day`` not yet known (shown as open / no plan)."""
    keep = np.flatnonzero(enrolments.start <= day)
    il = keep.tolist()

    def known(values: IntArray) -> IntArray:
        v = values[keep]
        return np.where((v != NONE) & (v > day), NONE, v).astype(np.int64)

    return Enrolments(
        enrolments.person[keep], [enrolments.programme[i] for i in il], enrolments.start[keep], known(enrolments.end),
        known(enrolments.plan), enrolments.referral[keep], [enrolments.coordinator[i] for i in il],
        enrolments.effect_day[keep], [enrolments.enrolment_id[i] for i in il],
    )  # fmt: skip


def apply_effect(spells: Spells, enrolments: Enrolments) -> Spells:
    """Participants with a planted effect leave benefits for good on their effect day."""
    size = 1 + max(int(spells.person.max()) if len(spells) else 0, int(enrolments.person.max()) if len(enrolments) else 0)
    eff = np.full(size, NONE, dtype=np.int64)
    has = enrolments.effect_day != NONE
    eff[enrolments.person[has]] = enrolments.effect_day[has]
    e = eff[spells.person]
    hit = e != NONE
    keep = ~hit | (spells.start < e)
    new_end = np.where(hit & ((spells.end == NONE) | (spells.end >= e)), e - 1, spells.end)
    return Spells(spells.person[keep], spells.state[keep], spells.start[keep], new_end[keep])


def programme_details(world: World, enrolments: Enrolments) -> dict[str, list[list[str]]]:
    """Network meetings, progression scores and survey answers, as raw field lists (days as int)."""
    rng = world.rng("programmes")
    meetings: list[list[Any]] = []
    scores: list[list[Any]] = []
    survey: list[list[Any]] = []
    for i in range(len(enrolments)):
        s = int(enrolments.start[i])
        e = world.end if enrolments.end[i] == NONE else int(enrolments.end[i])
        improving = enrolments.effect_day[i] != NONE
        t = s + int(rng.integers(20, 60))
        while t <= e:
            meetings.append([enrolments.enrolment_id[i], t, int(rng.integers(2, 4))])
            t += int(rng.integers(60, 120))
        base = rng.integers(2, 6, N_MARKERS)
        k = 0
        t = s + 14
        while t <= e:
            gain = (0.45 if improving else 0.12) * k
            for mk in range(N_MARKERS):
                score = int(np.clip(round(base[mk] + gain + rng.normal(0, 0.7)), 1, 10))
                scores.append([enrolments.enrolment_id[i], t, mk + 1, score])
            k += 1
            t += 182
        if s + 182 <= e:
            survey.append([
                enrolments.enrolment_id[i], s + 182, "Ja" if enrolments.plan[i] != NONE else "Nej",
                int(rng.integers(2, 6)), int(np.clip(rng.integers(1, 5) + (1 if improving else 0), 1, 5)),
            ])  # fmt: skip
    return {"meetings": meetings, "scores": scores, "survey": survey}
