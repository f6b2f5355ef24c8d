"""The planted effects of the holistic programmes, and their exact truth.

Every participant's course is first simulated *without* the programme (the untreated world:
benefits, work, education, services, their children's measures). The programme then acts on
that course through a few explicit mechanisms, each switched on by a draw that is made once
per enrolment, so the treated and the untreated course come from the same draws:

- **exit**: with ``exit_probability`` the participant leaves income support for good at a
  time ``exit_months`` after the start; then an ordinary job (``job_share``), for under-25s
  education (``education_share``), or neither;
- **support_service**: an extra service early in the programme (e.g. socialpædagogisk
  støtte, SEL § 85) - the extra cost one department carries first;
- **services_end**: later, with a probability, the participant's listed services end at a
  stabilisation day (fewer departments and services, savings in adult social and health);
- **child_service**: an early family measure for the youngest child (family programmes);
- **placements**: children's placements that would start later are prevented, and running
  ones end early (family programmes: fewer children placed, savings in children and families).

A programme with no ``effect`` block (or zeros) changes nothing: its true effect is zero.

The truth (manifest ``truth.programme_evaluation``) is, per programme, outcome and month since
start k = 0..60, the mean over the participants observed in that month (resident on the 1st,
inside the history) of the treated minus the untreated outcome - the sample average effect
on the treated - plus the freed resources (untreated minus treated cost) per department and
calendar year. Outcomes follow the warehouse's definitions (docs/warehouse.md); the programme's
own enrolment and cost are left out (it is the investment, not an outcome). Cost is the cost
of the participant and their children under 18 (a family programme saves on the children),
by the ledger's rules: registrant benefits and purchased places at their posted amount,
everything else activity x unit price; what both courses share cancels. The ledger's
random corrections (0.4 % of registrant postings re-posted) are measurement noise, not effect.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helhed.generator.benefits import Periods
from helhed.generator.dates import NONE, IntArray, age_on, birthday_day, from_day, ymd
from helhed.generator.families import Families
from helhed.generator.intervals import gaps
from helhed.generator.jobcenter import Conversations, Offers, held_records, subset_conversations
from helhed.generator.labour import Intervals
from helhed.generator.ledger import UnitPrice, catalogue_of, department_of
from helhed.generator.lifecourse import STATES
from helhed.generator.programmes import Enrolments
from helhed.generator.selection import month_index
from helhed.generator.services import Activities, concat_activities, price_in_year
from helhed.generator.world import World

MONTH = 30.4375
FOLLOW_UP_MONTHS = 60
#: The outcomes of the evaluation (helhed.evaluation.OUTCOMES has the same names).
COST_DEPARTMENTS = ("beskaeftigelse", "boern_familie", "voksen_social", "sundhed", "oevrige")
OUTCOMES = (
    "self_supporting", "ordinary_employment", "education", "child_placed", "departments", "services",
    "cost_total", *(f"cost_{d}" for d in COST_DEPARTMENTS),
)  # fmt: skip
#: Department of each record source (the jobcenter's offers and conversations held are employment's).
SOURCE_DEPARTMENT = {
    "dubu": "boern_familie", "sensum": "voksen_social", "sundhed": "sundhed", "jobcenter": "beskaeftigelse",
    "samtaler": "beskaeftigelse",
}  # fmt: skip
#: Sources whose records are contacts, not services (the warehouse: a conversation is not a service).
NOT_SERVICES = frozenset({"samtaler"})
BENEFIT_DEPARTMENT = "beskaeftigelse"
#: Uniform draws per enrolment (fixed, so adding a mechanism does not shift the others).
N_DRAWS = 20
EXIT_NONE, EXIT_JOB, EXIT_EDUCATION = 0, 1, 2
TRUTH_FILE = "truth_programme_effects.csv.gz"


@dataclass(frozen=True)
class EffectSpec:
    """A programme's effect mechanisms (profile ``programmes[].effect``; absent = no effect)."""

    exit_probability: float = 0.0
    exit_months: tuple[float, float] = (24.0, 48.0)
    job_share: float = 0.0
    education_share: float = 0.0
    support_service: dict[str, Any] | None = None
    services_end_probability: float = 0.0
    services_end_months: tuple[float, float] = (24.0, 48.0)
    services_end_codes: tuple[str, ...] = ()
    child_service: dict[str, Any] | None = None
    placement_prevent_probability: float = 0.0
    placement_end_probability: float = 0.0
    placement_end_months: tuple[float, float] = (12.0, 30.0)

    @classmethod
    def from_profile(cls, prog: dict[str, Any]) -> EffectSpec:
        raw = prog.get("effect") or {}
        pair = lambda key, default: tuple(float(x) for x in raw.get(key, default))  # type: ignore[union-attr]  # noqa: E731  (raw.get(key, default) with a non-None default)
        return cls(
            exit_probability=float(raw.get("exit_probability", 0.0)),
            exit_months=pair("exit_months", cls.exit_months),  # type: ignore[arg-type]
            job_share=float(raw.get("job_share", 0.0)),
            education_share=float(raw.get("education_share", 0.0)),
            support_service=raw.get("support_service"),
            services_end_probability=float(raw.get("services_end_probability", 0.0)),
            services_end_months=pair("services_end_months", cls.services_end_months),  # type: ignore[arg-type]
            services_end_codes=tuple(raw.get("services_end_codes", ())),
            child_service=raw.get("child_service"),
            placement_prevent_probability=float(raw.get("placement_prevent_probability", 0.0)),
            placement_end_probability=float(raw.get("placement_end_probability", 0.0)),
            placement_end_months=pair("placement_end_months", cls.placement_end_months),  # type: ignore[arg-type]
        )


@dataclass
class Effects:
    """Per enrolment: when and how the programme changes the course (NONE = not at all)."""

    exit_day: IntArray
    exit_kind: IntArray
    job_day: IntArray
    support_start: IntArray
    support_end: IntArray
    support_hours: np.ndarray
    services_end_day: IntArray
    child: IntArray  # the child of the child service (-1 = none)
    child_start: IntArray
    child_end: IntArray
    prevent_from: IntArray  # placements of the children starting on/after this day are prevented
    placement_end_day: IntArray  # running placements of the children end this day


def _lerp(u: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return bounds[0] + u * (bounds[1] - bounds[0])


def _days(months: np.ndarray) -> IntArray:
    return np.round(months * MONTH).astype(np.int64)


def children_index(families: Families) -> dict[int, list[int]]:
    """Children (persons with a mother/father link) of each parent."""
    out: dict[int, list[int]] = defaultdict(list)
    for parent in (families.mother, families.father):
        kids = np.flatnonzero(parent >= 0)
        for p, c in zip(parent[kids].tolist(), kids.tolist()):
            out[p].append(c)
    return out


def draw_effects(world: World, enrolments: Enrolments, families: Families) -> Effects:
    """Draw every enrolment's effect mechanisms; sets ``enrolments.effect_day`` to the exit day."""
    rng = world.rng("effects")
    n = len(enrolments)
    u = rng.random((n, N_DRAWS))
    specs = {str(p["code"]): EffectSpec.from_profile(p) for p in world.profile.raw.get("programmes", [])}
    pop = world.population
    kids_of = children_index(families)
    none = np.full(n, NONE, dtype=np.int64)
    eff = Effects(none.copy(), np.zeros(n, dtype=np.int64), none.copy(), none.copy(), none.copy(), np.zeros(n),
                  none.copy(), np.full(n, -1, dtype=np.int64), none.copy(), none.copy(), none.copy(), none.copy())
    start = enrolments.start
    for i, code in enumerate(enrolments.programme):
        spec = specs.get(code, EffectSpec())
        s = int(start[i])
        p = int(enrolments.person[i])
        if u[i, 0] < spec.exit_probability:
            x = s + int(_days(_lerp(u[i, 1], spec.exit_months)))
            eff.exit_day[i] = x
            young = int(age_on(pop.birth[p : p + 1], x)[0]) < 25
            if young and u[i, 2] < spec.education_share:
                eff.exit_kind[i] = EXIT_EDUCATION
            elif u[i, 3] < spec.job_share:
                eff.exit_kind[i] = EXIT_JOB
                eff.job_day[i] = x + int(u[i, 4] * 45)
        sup = spec.support_service
        if sup and u[i, 5] < float(sup["probability"]):
            a = s + int(_days(_lerp(u[i, 6], tuple(sup["start_months"]))))
            eff.support_start[i] = a
            eff.support_end[i] = a + int(_days(_lerp(u[i, 7], tuple(sup["duration_months"])))) - 1
            lo, hi = (float(x) for x in sup.get("hours", (0, 0)))
            eff.support_hours[i] = round(_lerp(u[i, 8], (lo, hi)) * 2) / 2  # type: ignore[call-overload]  # _lerp of a scalar is a scalar
        if u[i, 9] < spec.services_end_probability:
            eff.services_end_day[i] = s + int(_days(_lerp(u[i, 10], spec.services_end_months)))
        cs = spec.child_service
        if cs and u[i, 11] < float(cs["probability"]):
            a = s + int(_days(_lerp(u[i, 12], tuple(cs["start_months"]))))
            kids = [c for c in kids_of.get(p, []) if pop.moved_in[c] <= a and (pop.leave[c] == NONE or pop.leave[c] >= a)
                    and int(age_on(pop.birth[c : c + 1], a)[0]) < 18]
            if kids:
                eff.child[i] = max(kids, key=lambda c: (int(pop.birth[c]), c))  # the youngest
                eff.child_start[i] = a
                eff.child_end[i] = a + int(_days(_lerp(u[i, 13], tuple(cs["duration_months"])))) - 1
        if u[i, 14] < spec.placement_prevent_probability:
            eff.prevent_from[i] = s + int(3 * MONTH)
        if u[i, 15] < spec.placement_end_probability:
            eff.placement_end_day[i] = s + int(_days(_lerp(u[i, 16], spec.placement_end_months)))
    enrolments.effect_day = eff.exit_day.copy()
    return eff


# --------------------------------------------------------------------------- the treated course


def exit_by_person(enrolments: Enrolments, effects: Effects, n_persons: int) -> IntArray:
    out = np.full(n_persons, NONE, dtype=np.int64)
    has = effects.exit_day != NONE
    out[enrolments.person[has]] = effects.exit_day[has]
    return out


def kept_periods(periods: Periods, exit_day: IntArray) -> IntArray:
    """Indexes of the untreated periods the treated course keeps (those starting before the
    person's exit, or of a person without one), in order: row ``j`` of ``treat_periods`` is row
    ``kept_periods(...)[j]`` of the untreated periods (e.g. to carry a caseworker over)."""
    x = exit_day[periods.person]
    return np.flatnonzero((x == NONE) | (periods.start < x))


def treat_periods(periods: Periods, exit_day: IntArray) -> Periods:
    """Benefit periods of the treated course: a participant's periods stop the day before the exit.

    A period cut short keeps its id, rate and amount (the months before the exit cost the same
    in both courses); periods starting after the exit disappear.
    """
    x = exit_day[periods.person]
    hit = x != NONE
    cut = hit & ((periods.end == NONE) | (periods.end >= x))
    end = np.where(cut, x - 1, periods.end)
    idx = kept_periods(periods, exit_day)
    return Periods(
        periods.person[idx], periods.state[idx], periods.start[idx], end[idx], periods.visitation[idx], periods.rate[idx],
        periods.amount[idx], [periods.unit[i] for i in idx.tolist()], [periods.period_id[i] for i in idx.tolist()],
    )  # fmt: skip


def treat_conversations(conv: Conversations, exit_day: IntArray) -> Conversations:
    """The jobcenter's conversations in the treated course: a participant's conversations on or
    after the exit disappear (the benefit periods they follow end the day before); the others,
    with their draws (form, caseworker, no-show), are the untreated course's."""
    x = exit_day[conv.person]
    return subset_conversations(conv, np.flatnonzero((x == NONE) | (conv.day < x)))


def treat_offers(offers: Offers, exit_day: IntArray, end: int) -> Offers:
    """The jobcenter's offers in the treated course: a participant's offers starting on or after
    the exit disappear; one running across it ends the day before and is cut short (``Afbrudt``),
    as an offer whose benefit period ends; the others are the untreated course's. ``end`` is the
    last simulated day (an open offer runs to it; an exit after it cuts nothing)."""
    act = offers.act
    x = exit_day[act.person]
    hit = x != NONE
    keep = ~hit | (act.start < x)
    cut = hit & keep & (act.effective_end(end) >= x) & (x <= end)
    new_end = np.where(cut, x - 1, act.end)
    return Offers(_take(act, keep, new_end), (offers.interrupted | cut)[keep])


def jobcenter_records(offers: Offers, conv: Conversations, end: int, conversation_code: str, provider: str) -> dict[str, Activities]:
    """The jobcenter's records a course is measured on, as known on ``end`` (the truth's last
    day): offers started by then (open if they end after it) and conversations held by then
    (no-shows are not held), as one-day records priced per conversation (``samtaler``)."""
    act = offers.act
    sel = act.start <= end
    clipped = _take(act, sel, np.where((act.end == NONE) | (act.end > end), NONE, act.end))
    idx = np.flatnonzero(conv.day <= end)
    sub = subset_conversations(conv, idx)
    return {"jobcenter": clipped, "samtaler": held_records(sub, ~sub.no_show, conversation_code, provider)}


def _sub(iv: Intervals, mask: np.ndarray) -> Intervals:
    return Intervals(iv.person[mask], iv.code[mask], iv.start[mask], iv.end[mask], iv.detail[mask], iv.hours[mask])


def _cat(parts: list[Intervals]) -> Intervals:
    cols = [np.concatenate([getattr(p, c) for p in parts]) for c in ("person", "code", "start", "end", "detail", "hours")]
    order = np.lexsort((cols[2], cols[0]))
    return Intervals(*(c[order] for c in cols))


def _clip_before(iv: Intervals, day: IntArray, history_end: int) -> Intervals:
    """Intervals of persons with a ``day`` end the day before it; later ones are dropped."""
    d = day[iv.person]
    hit = d != NONE
    eff_end = iv.effective_end(history_end)
    keep = ~hit | (iv.start < d)
    cut = hit & keep & (eff_end >= d)
    out = _sub(iv, keep)
    out.end = np.where(cut[keep], d[keep] - 1, out.end)
    return out


def treat_labour(
    world: World, employment: Intervals, education: Intervals, enrolments: Enrolments, effects: Effects
) -> tuple[Intervals, Intervals]:
    """Employment and education of the treated course.

    After the exit, fleksjob ends with the benefits; an ordinary job fills the time not already
    in work from the job day to the 67th birthday or moving out; education (under 25) becomes
    the status from the exit to the 25th birthday, and then the person takes no new job. The
    youth database's status after the exit is education, work or neither (no public support).
    """
    pop = world.population
    n = len(pop)
    end = world.end
    exit_day = exit_by_person(enrolments, effects, n)
    kind = np.zeros(n, dtype=np.int64)
    job_day = np.full(n, NONE, dtype=np.int64)
    has = effects.exit_day != NONE
    kind[enrolments.person[has]] = effects.exit_kind[has]
    job_day[enrolments.person[has]] = effects.job_day[has]
    until = world.resident_until()

    # Employment: fleksjob and (for education exits) every spell stop at the exit.
    stop = np.where((kind == EXIT_EDUCATION), exit_day, NONE)
    fleks = employment.code == 1
    emp = _cat([_clip_before(_sub(employment, fleks), exit_day, end), _clip_before(_sub(employment, ~fleks), stop, end)])
    jobbers = np.flatnonzero((kind == EXIT_JOB) & (job_day != NONE))
    if len(jobbers):
        win_lo = np.full(n, 1, dtype=np.int64)
        win_hi = np.zeros(n, dtype=np.int64)
        win_lo[jobbers] = job_day[jobbers]
        win_hi[jobbers] = np.minimum.reduce([birthday_day(pop.birth[jobbers], 67) - 1, until[jobbers], np.full(len(jobbers), end)])
        sel = np.isin(emp.person, jobbers)
        g_p, g_a, g_b = gaps(emp.person[sel], emp.start[sel], emp.effective_end(end)[sel], win_lo, win_hi)
        k = len(g_p)
        new = Intervals(g_p, np.zeros(k, dtype=np.int64), g_a, np.where(g_b >= end, NONE, g_b),
                        (g_p * 7919) % 2500, np.full(k, 37.0))
        emp = _cat([emp, new])

    # Education status (15-24): from the exit, one status to the 25th birthday.
    young = np.flatnonzero((exit_day != NONE) & (birthday_day(pop.birth, 25) - 1 >= exit_day))
    edu = _clip_before(education, exit_day, end)
    if len(young):
        in_window = np.isin(education.person, young)
        last = np.zeros(n, dtype=np.int64)
        np.maximum.at(last, education.person[in_window], education.effective_end(end)[in_window])
        a = exit_day[young]
        b = np.minimum(last[young], np.minimum(birthday_day(pop.birth[young], 25) - 1, until[young]))
        ok = (a <= b) & np.isin(young, education.person)
        status = np.where(kind[young] == EXIT_EDUCATION, 0, np.where(kind[young] == EXIT_JOB, 1, 3))
        etype = np.where(status == 0, 5, 0)
        k = int(ok.sum())
        new = Intervals(young[ok], status[ok], a[ok], np.where(b[ok] >= end, NONE, b[ok]), etype[ok], np.zeros(k))
        edu = _cat([edu, new])
    return emp, edu


def _service_rows(world: World, code: str, person: IntArray, start: IntArray, end: IntArray, hours: np.ndarray, prefix: str) -> Activities:
    """Records of one catalogue service (price and provider as ``services.build_activities`` sets them)."""
    spec = world.profile.raw["services"][code]
    growth = float(world.profile.raw["annual_price_growth"])
    year, _, _ = ymd(np.maximum(start, world.start))
    price = np.asarray(price_in_year(float(spec["price"]), year, growth), dtype=float)
    k = len(person)
    providers = spec["providers"]
    return Activities(
        person, [code] * k, start, np.where(end >= world.end, NONE, end), start - 14, hours if spec["unit"] == "time" else np.zeros(k),
        price, [providers[int(p) % len(providers)] for p in person.tolist()], [""] * k, [""] * k,
        [f"{prefix}{9000 + int(p) % 900:04d}" for p in person.tolist()],
    )  # fmt: skip


def _spans(act: Activities, persons: set[int], end: int) -> dict[tuple[int, str], list[tuple[int, int]]]:
    """(person, service) -> spans of the records of ``persons``."""
    out: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    eff = act.effective_end(end)
    for r in np.flatnonzero(np.isin(act.person, np.fromiter(persons, dtype=np.int64, count=len(persons)))).tolist():
        out[(int(act.person[r]), act.service[r])].append((int(act.start[r]), int(eff[r])))
    return out


def _overlaps(spans: dict[tuple[int, str], list[tuple[int, int]]], person: int, code: str, a: int, b: int) -> bool:
    return any(s <= b and e >= a for s, e in spans.get((person, code), []))


def _take(act: Activities, mask: np.ndarray, end_override: IntArray | None = None) -> Activities:
    idx = np.flatnonzero(mask)
    pick = lambda xs: [xs[i] for i in idx.tolist()]  # noqa: E731
    end = act.end if end_override is None else end_override
    return Activities(act.person[idx], pick(act.service), act.start[idx], end[idx], act.referral[idx], act.hours[idx],
                      act.price[idx], pick(act.provider), pick(act.case_id), pick(act.activity_id), pick(act.caseworker))


def treat_activities(
    world: World, acts: dict[str, Activities], enrolments: Enrolments, effects: Effects, families: Families
) -> dict[str, Activities]:
    """Service records of the treated course (extra, ended and prevented services)."""
    end = world.end
    specs = {str(p["code"]): EffectSpec.from_profile(p) for p in world.profile.raw.get("programmes", [])}
    prefix = {"dubu": "BF", "sensum": "VS", "sundhed": "SU"}
    source_of = {code: spec["source"] for code, spec in world.profile.raw["services"].items()}
    out: dict[str, Activities] = {}
    added: dict[str, list[tuple[str, int, int, int, float]]] = defaultdict(list)
    # Ending days per (source, person) for the listed codes, and placements per child.
    stop: dict[tuple[str, int], tuple[int, frozenset[str]]] = {}
    prevent: dict[int, int] = {}
    end_place: dict[int, int] = {}
    kids_of = children_index(families)
    involved = {int(p) for p in enrolments.person.tolist()} | {int(c) for c in effects.child[effects.child >= 0].tolist()}
    spans = {src: _spans(act, involved, end) for src, act in acts.items()}
    for i, code in enumerate(enrolments.programme):
        spec = specs.get(code, EffectSpec())
        p = int(enrolments.person[i])
        if effects.support_start[i] != NONE and spec.support_service:
            svc = str(spec.support_service["code"])
            a, b = int(effects.support_start[i]), int(effects.support_end[i])
            if a <= end and not _overlaps(spans[source_of[svc]], p, svc, a, b):
                added[source_of[svc]].append((svc, p, a, b, float(effects.support_hours[i])))
        if effects.child[i] >= 0 and spec.child_service:
            svc = str(spec.child_service["code"])
            c, a, b = int(effects.child[i]), int(effects.child_start[i]), int(effects.child_end[i])
            if a <= end and not _overlaps(spans[source_of[svc]], c, svc, a, b):
                added[source_of[svc]].append((svc, c, a, b, 0.0))
        if effects.services_end_day[i] != NONE:
            for src in ("sensum", "sundhed"):
                stop[(src, p)] = (int(effects.services_end_day[i]), frozenset(spec.services_end_codes))
        for c in kids_of.get(p, []):
            if effects.prevent_from[i] != NONE:
                prevent[c] = int(effects.prevent_from[i])
            if effects.placement_end_day[i] != NONE:
                end_place[c] = int(effects.placement_end_day[i])
    for src, act in acts.items():
        keep = np.ones(len(act), dtype=bool)
        new_end = act.end.copy()
        eff_end = act.effective_end(end)
        touched = {p for (s_, p) in stop if s_ == src} | set(prevent) | set(end_place)
        rows_touched = np.flatnonzero(np.isin(act.person, np.fromiter(touched, dtype=np.int64, count=len(touched))))
        for r in rows_touched.tolist():
            p, code = int(act.person[r]), act.service[r]
            hit = stop.get((src, p))
            if hit and code in hit[1]:
                d = hit[0]
                if act.start[r] >= d:
                    keep[r] = False
                elif eff_end[r] >= d:
                    new_end[r] = d - 1
            if code.startswith("anbringelse_"):
                if p in prevent and act.start[r] >= prevent[p]:
                    keep[r] = False
                elif p in end_place and act.start[r] < end_place[p] <= eff_end[r]:
                    new_end[r] = end_place[p] - 1
        parts = [_take(act, keep, new_end)]
        if added.get(src):
            rows = sorted(added[src])
            for svc in sorted({r[0] for r in rows}):
                sel = [r for r in rows if r[0] == svc]
                parts.append(_service_rows(
                    world, svc, np.array([r[1] for r in sel], dtype=np.int64), np.array([r[2] for r in sel], dtype=np.int64),
                    np.array([r[3] for r in sel], dtype=np.int64), np.array([r[4] for r in sel]), prefix[src],
                ))  # fmt: skip
        out[src] = concat_activities(parts, prefix[src])
    return out


# --------------------------------------------------------------------------- truth


@dataclass
class Course:
    """One world's records (treated or untreated) that the outcomes are measured on."""

    periods: Periods
    employment: Intervals
    education: Intervals
    activities: dict[str, Activities]
    cofinancing: tuple[IntArray, IntArray, IntArray] | None = None  # (person, first day of month, øre)


class _Costing:
    """Cost of a record in a month in øre, by the rules ``ledger.build_ledger`` posts them."""

    def __init__(self, world: World, prices: list[UnitPrice]) -> None:
        raw = world.profile.raw
        self.raw = raw
        self.price_of = {(p.year, p.code): p.price for p in prices}
        self.placement = {f"anbringelse_{t['code']}": t for t in raw["placements"]["types"]}
        # The service catalogue and the jobcenter's priced activities (offers per day or hour,
        # conversations per conversation): the unit-price file's services.
        self.catalogue = catalogue_of(raw)

    def benefit(self, state: int, amount: float, unit: str, days: int, full: int, year: int) -> tuple[str, int]:
        group = STATES[state]
        cfg = self.raw["benefit_ledger"][group]
        dept = department_of(cfg["function"])
        if cfg["posting"] == "registrant":
            monthly = amount * 52.0 / 12.0 if "uge" in unit else amount
            return dept, int(np.round(monthly * days / full * 100))
        return dept, int(np.round(days * self.price_of[(year, group)] * 100))

    def service(self, code: str, price: float, hours: float, days: int, year: int) -> tuple[str, int]:
        if code in self.placement:
            return department_of(self.placement[code]["function"]), int(np.round(days * price * 100))
        spec = self.catalogue.get(code)
        if spec is None or float(spec["price"]) <= 0:
            return "oevrige", 0
        dept = department_of(spec["function"])
        if spec["posting"] == "registrant":
            return dept, int(np.round(days * price * 100))
        up = self.price_of[(year, code)]
        if spec["unit"] == "time":
            return dept, int(np.round(days * hours / 7.0 * up * 100))
        return dept, int(np.round(days * up * 100))


def _rows_by_person(person: IntArray, wanted: set[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    sel = np.flatnonzero(np.isin(person, np.fromiter(wanted, dtype=np.int64, count=len(wanted))))
    for r, p in zip(sel.tolist(), person[sel].tolist()):
        out[p].append(r)
    return out


def measure_course(
    world: World, course: Course, enrolments: Enrolments, families: Families, costing: _Costing
) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes ``[enrolment, k, outcome]`` for k = 0..60 and the observed mask ``[enrolment, k]``.

    A month is observed when it is inside the history and the participant is resident on its
    1st. The month is a calendar month (k = months from the start month), clipped to the history.
    """
    months = world.months
    pop = world.population
    end = world.end
    n, width = len(enrolments), FOLLOW_UP_MONTHS + 1
    values = np.zeros((n, width, len(OUTCOMES)))
    observed = np.zeros((n, width), dtype=bool)
    kids_of = children_index(families)
    persons = set(enrolments.person.tolist())
    family = persons | {c for p in persons for c in kids_of.get(p, [])}
    per = _rows_by_person(course.periods.person, persons)
    emp = _rows_by_person(course.employment.person, persons)
    edu = _rows_by_person(course.education.person, persons)
    acts = {src: _rows_by_person(a.person, family) for src, a in course.activities.items()}
    p_end = np.where(course.periods.end == NONE, end, course.periods.end)
    e_end = course.employment.effective_end(end)
    d_end = course.education.effective_end(end)
    a_end = {src: a.effective_end(end) for src, a in course.activities.items()}
    cofin: dict[tuple[int, int], int] = defaultdict(int)
    if course.cofinancing is not None:
        mp, mf, mo = course.cofinancing
        for r in np.flatnonzero(np.isin(mp, np.fromiter(family, dtype=np.int64, count=len(family)))).tolist():
            cofin[(int(mp[r]), int(mf[r]))] += int(mo[r])
    years = ymd(np.array([m.first for m in months], dtype=np.int64))[0].tolist()
    full_days = [(dt.date(from_day(m.first).year + (from_day(m.first).month == 12), from_day(m.first).month % 12 + 1, 1)
                  - dt.date(from_day(m.first).year, from_day(m.first).month, 1)).days for m in months]
    start_mi = month_index(enrolments.start, months)
    until = world.resident_until()
    adult_day = birthday_day(pop.birth, 18)
    col = {name: j for j, name in enumerate(OUTCOMES)}
    dept_col = {d: col[f"cost_{d}"] for d in COST_DEPARTMENTS}
    n_months = len(months)
    firsts = [m.first for m in months]
    lasts = [m.last for m in months]
    # Month index of every record's first and last day, computed once (records are visited by
    # the months they overlap, not month by month).
    per_lo, per_hi = month_index(course.periods.start, months).tolist(), month_index(p_end, months).tolist()
    act_lo = {src: month_index(a.start, months).tolist() for src, a in course.activities.items()}
    act_hi = {src: month_index(a_end[src], months).tolist() for src, a in course.activities.items()}
    per_start, per_end, per_state = course.periods.start.tolist(), p_end.tolist(), course.periods.state.tolist()
    per_amount = course.periods.amount.tolist()
    act_cols = {src: (a.start.tolist(), a_end[src].tolist(), a.price.tolist(), a.hours.tolist()) for src, a in course.activities.items()}
    emp_code, emp_start, emp_end = course.employment.code.tolist(), course.employment.start.tolist(), e_end.tolist()
    edu_code, edu_start, edu_end = course.education.code.tolist(), course.education.start.tolist(), d_end.tolist()
    moved_in, until_l, adult_l = pop.moved_in.tolist(), until.tolist(), adult_day.tolist()
    for i in range(n):
        p = int(enrolments.person[i])
        kids = kids_of.get(p, [])
        s_i = int(start_mi[i])
        ks = [k for k in range(width) if s_i + k < n_months and moved_in[p] <= firsts[s_i + k] <= until_l[p]]
        if not ks:
            continue
        observed[i, ks] = True
        support = [False] * width
        placed = [False] * width
        depts: list[set[str]] = [set() for _ in range(width)]
        services: list[set[str]] = [set() for _ in range(width)]
        cost = np.zeros((width, len(COST_DEPARTMENTS)), dtype=np.int64)
        dept_pos = {d: j for j, d in enumerate(COST_DEPARTMENTS)}

        def months_of(lo: int, hi: int, s_i: int = s_i) -> range:
            return range(max(lo - s_i, 0), min(hi - s_i, width - 1, n_months - 1 - s_i) + 1)

        for r in per.get(p, []):
            group = STATES[per_state[r]]
            for k in months_of(per_lo[r], per_hi[r]):
                t = s_i + k
                a, b = max(per_start[r], firsts[t]), min(per_end[r], lasts[t])
                if a > b:
                    continue
                support[k] = True
                depts[k].add(BENEFIT_DEPARTMENT)
                services[k].add(group)
                dept, ore = costing.benefit(per_state[r], per_amount[r], course.periods.unit[r], b - a + 1, full_days[t], years[t])
                cost[k, dept_pos[dept]] += ore
        for src, act in course.activities.items():
            a_start, a_stop, a_price, a_hours = act_cols[src]
            for who in [p, *kids]:
                child = who != p
                for r in acts[src].get(who, []):
                    code = act.service[r]
                    for k in months_of(act_lo[src][r], act_hi[src][r]):
                        t = s_i + k
                        if child and firsts[t] >= adult_l[who]:
                            continue  # only children under 18 on the 1st (placements end before 18)
                        a, b = max(a_start[r], firsts[t]), min(a_stop[r], lasts[t])
                        if a > b:
                            continue
                        if child:
                            placed[k] = placed[k] or code.startswith("anbringelse_")
                        else:
                            depts[k].add(SOURCE_DEPARTMENT[src])
                            if src not in NOT_SERVICES:
                                services[k].add(code)
                        dept, ore = costing.service(code, a_price[r], a_hours[r], b - a + 1, years[t])
                        cost[k, dept_pos[dept]] += ore
        for k in ks:
            t = s_i + k
            m_first = firsts[t]
            row = values[i, k]
            row[col["self_supporting"]] = not support[k]
            row[col["ordinary_employment"]] = any(emp_code[r] == 0 and emp_start[r] <= m_first <= emp_end[r] for r in emp.get(p, []))
            row[col["education"]] = any(edu_code[r] == 0 and edu_start[r] <= m_first <= edu_end[r] for r in edu.get(p, []))
            row[col["child_placed"]] = placed[k]
            for who in [p, *kids]:
                if who == p or m_first < adult_l[who]:
                    cost[k, dept_pos["sundhed"]] += cofin.get((who, m_first), 0)  # regional co-financing (SUL, sundhed)
            row[col["departments"]] = len(depts[k])
            row[col["services"]] = len(services[k])
            for d, j in dept_col.items():
                row[j] = cost[k, dept_pos[d]] / 100.0
            row[col["cost_total"]] = cost[k].sum() / 100.0
    return values, observed


def effect_truth(
    world: World, enrolments: Enrolments, families: Families, prices: list[UnitPrice],
    untreated: Course, treated: Course, out: Path | None = None,
) -> dict[str, Any]:
    """SATT per programme, outcome and month since start; freed resources per department and year.

    With ``out``, also writes ``out/truth_programme_effects.csv.gz``: every enrolment, month
    since start and outcome whose treated and untreated values differ (the effect of each
    participant), so a test can take the truth over exactly the participants an evaluation
    matched.
    """
    costing = _Costing(world, prices)
    y0, observed = measure_course(world, untreated, enrolments, families, costing)
    y1, _ = measure_course(world, treated, enrolments, families, costing)
    delta = y1 - y0
    codes = np.array(enrolments.programme, dtype=object)
    start_mi = month_index(enrolments.start, world.months)
    years = ymd(np.array([m.first for m in world.months], dtype=np.int64))[0]
    specs = {str(p["code"]): p for p in world.profile.raw.get("programmes", [])}
    result: dict[str, Any] = {}
    for code in sorted(set(enrolments.programme) | set(specs)):
        rows = np.flatnonzero(codes == code)
        outcomes: dict[str, dict[str, Any]] = {name: {} for name in OUTCOMES}
        for k in range(FOLLOW_UP_MONTHS + 1):
            obs = rows[observed[rows, k]]
            for j, name in enumerate(OUTCOMES):
                outcomes[name][str(k)] = {
                    "participants": int(len(obs)),
                    "effect": round(float(delta[obs, k, j].mean()), 6) if len(obs) else None,
                    "treated_mean": round(float(y1[obs, k, j].mean()), 6) if len(obs) else None,
                }
        freed: dict[str, dict[str, float]] = {d: {} for d in ("total", *COST_DEPARTMENTS)}
        for j, name in enumerate(OUTCOMES):
            if not name.startswith("cost_"):
                continue
            dept = name.removeprefix("cost_")
            by_year: dict[int, float] = defaultdict(float)
            for i in rows.tolist():
                for k in np.flatnonzero(observed[i]).tolist():
                    by_year[int(years[int(start_mi[i]) + k])] -= float(delta[i, k, j])
            freed[dept] = {str(y): round(by_year.get(y, 0.0), 2) for y in world.years()}
        result[code] = {
            "enrolments": int(len(rows)),
            "effect": specs.get(code, {}).get("effect") or {},
            "outcomes": outcomes,
            "freed_resources_by_year": freed,
        }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with gzip.open(out / TRUTH_FILE, "wt", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["enrolment_id", "programme", "months_since_start", "outcome", "effect"])
            for i in range(len(enrolments)):
                for k in range(FOLLOW_UP_MONTHS + 1):
                    if not observed[i, k]:
                        continue
                    nz = np.flatnonzero(delta[i, k] != 0)
                    for j in nz.tolist():
                        w.writerow([enrolments.enrolment_id[i], enrolments.programme[i], k, OUTCOMES[j], round(float(delta[i, k, j]), 6)])
    return {"programme_evaluation": result}


def replace_participants_periods(actual: Periods, counterfactual: Periods, participants: np.ndarray) -> Periods:
    """Periods of the untreated world: everyone's actual periods, participants' untreated ones."""
    a = ~participants[actual.person]
    c = participants[counterfactual.person]

    def pick(x: Periods, m: np.ndarray) -> Periods:
        idx = np.flatnonzero(m)
        return Periods(x.person[idx], x.state[idx], x.start[idx], x.end[idx], x.visitation[idx], x.rate[idx],
                       x.amount[idx], [x.unit[i] for i in idx.tolist()], [x.period_id[i] for i in idx.tolist()])

    pa, pc = pick(actual, a), pick(counterfactual, c)
    cat = lambda f: np.concatenate([getattr(pa, f), getattr(pc, f)])  # noqa: E731
    person, start = cat("person"), cat("start")
    order = np.lexsort((start, person))
    units, ids = pa.unit + pc.unit, pa.period_id + pc.period_id
    return Periods(person[order], cat("state")[order], start[order], cat("end")[order], cat("visitation")[order],
                   cat("rate")[order], cat("amount")[order], [units[i] for i in order.tolist()], [ids[i] for i in order.tolist()])


__all__ = [
    "EffectSpec", "Effects", "Course", "draw_effects", "kept_periods", "treat_periods", "treat_conversations", "treat_offers",
    "jobcenter_records", "treat_labour", "treat_activities",
    "effect_truth", "replace_participants_periods", "OUTCOMES", "COST_DEPARTMENTS", "TRUTH_FILE",
]  # fmt: skip
