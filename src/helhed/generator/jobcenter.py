"""The jobcenter's own activity (KMD Momentum): conversations (samtaler) and offers (tilbud).

The jobcenter meets the citizens of most target groups, so its conversations and offers are
what "contact points", "conversations and meetings" and "parallel services" miss without them.
Both follow the benefit life courses instead of being drawn apart from them:

- **Conversations** follow the individual contact course of each benefit period (profile
  ``jobcenter.conversations.rules``): a first conversation some days after the start, then
  one every few weeks, less often after 26 weeks, per the visitation category's rules; a
  share are no-shows (``Udeblevet``), the rest are held (``Afholdt``).
- **Offers** form a chain along each benefit period of the groups that get offers: a first
  offer after a wait, then one offer after another with gaps; the aktivitetsparat get shorter
  waits, mentors go to the young and to persons with high need scores, and a share of the
  persons with an SEL § 99 contact person (Sensum) get a mentor beside it. An offer ends when
  its planned duration is over or, cut short (``Afbrudt``), when the benefit period ends.

Field names follow STAR's data model of the common data basis (DFDG): InterviewService
(InterviewTypeIdentifier, the date a conversation was held, the caseworker) and ActivityService
(ActivationTypeIdentifier "aktiveringstype", StartDate, EndDate, HoursPerWeek, the responsible
caseworker); see docs/generator.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from helhed.generator.benefits import Periods
from helhed.generator.dates import NONE, IntArray, dmy, from_day
from helhed.generator.lifecourse import STATES
from helhed.generator.profile import VISITATION_CATEGORIES
from helhed.generator.services import Activities, caseworkers
from helhed.generator.world import World

#: Conversation statuses (a no-show is registered but not held).
HELD, NO_SHOW = "Afholdt", "Udeblevet"
#: Offer statuses: running, ended as planned, ended early because the benefit period ended.
OFFER_ACTIVE, OFFER_ENDED, OFFER_INTERRUPTED = "Aktiv", "Afsluttet", "Afbrudt"
#: Weeks after which the contact course thins out (the "first 6 months" of the rules).
EARLY_PHASE_DAYS = 183
#: Share of conversations held by another caseworker than the period's own (holidays, duty rota).
OTHER_CASEWORKER_SHARE = 0.15
#: The catalogue code of the mentor offer (the service catalogue's `mentor_lab`).
MENTOR = "tilbud_mentor"
#: Sensum's label of the SEL § 99 support and contact person (profile services.voksen_99).
CONTACT_PERSON_SERVICE = "voksen_99"


@dataclass
class Conversations:
    """Conversations, one row each, sorted by the person's CPR order and date."""

    person: IntArray
    day: IntArray
    type_id: IntArray  # STAR InterviewTypeIdentifier
    form: IntArray  # index into the profile's `forms`
    caseworker: IntArray  # caseworker number (JC0001 ...)
    no_show: np.ndarray  # bool: the citizen did not show up (status Udeblevet)
    conversation_id: list[str]

    def __len__(self) -> int:
        return len(self.person)


@dataclass
class Offers:
    """Offers as service records (``Activities``) plus whether each was cut short."""

    act: Activities
    interrupted: np.ndarray  # bool: ended early with the benefit period (status Afbrudt)

    def __len__(self) -> int:
        return len(self.act)

    def status(self, end: IntArray) -> list[str]:
        """Status of every offer as shown with ``end`` (NONE = still running)."""
        return offer_status(end, self.interrupted)


def offer_status(end: IntArray, interrupted: np.ndarray) -> list[str]:
    """``Aktiv`` while an offer has no end, else ``Afbrudt`` when it was cut short, else ``Afsluttet``."""
    return [OFFER_ACTIVE if e == NONE else (OFFER_INTERRUPTED if cut else OFFER_ENDED)
            for e, cut in zip(end.tolist(), interrupted.tolist())]


def jobcenter_catalogue(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The jobcenter's priced activities in the shape of the profile's service catalogue, so the
    ledger and the unit-price file treat them as the own operations they are (posted per provider
    and month without CPR, priced per day, hour or conversation)."""
    cfg = raw.get("jobcenter")
    if not cfg:
        return {}
    out: dict[str, dict[str, Any]] = {}
    conv = cfg["conversations"]["price"]
    out[str(conv["code"])] = {
        "label": conv["label"], "paragraph": "", "function": conv["function"], "account": conv["account"],
        "unit": "samtale", "price": conv["price"], "posting": "aggregate", "overhead": 0.0, "providers": conv["providers"],
    }  # fmt: skip
    for code, spec in cfg["offers"]["types"].items():
        out[code] = {
            "label": spec["label"], "paragraph": "", "function": spec["function"], "account": spec["account"],
            "unit": spec["unit"], "price": spec["price"], "posting": "aggregate", "overhead": spec.get("overhead", 0.0),
            "providers": spec["providers"],
        }  # fmt: skip
    return out


def period_caseworkers(world: World, periods: Periods, rng: np.random.Generator) -> IntArray:
    """The jobcenter caseworker of each benefit period (numbers 1..n for the municipality's size)."""
    n = caseworkers(world, float(world.profile.raw["jobcenter"]["caseworkers_per_100k"]))
    return rng.integers(1, n + 1, len(periods)).astype(np.int64)


def _effective_end(periods: Periods, end: int) -> IntArray:
    return np.where(periods.end == NONE, end, periods.end)


def _visitation_name(code: int) -> str:
    return VISITATION_CATEGORIES[code - 1] if code > 0 else "none"


def draw_conversations(world: World, periods: Periods, period_worker: IntArray, rng: np.random.Generator) -> Conversations:
    """Conversations of every benefit period with contact rules, held inside ``[start, end]``.

    ``periods`` are the true benefit periods (simulated to the last delivery day); the
    registration of each conversation is decided later (``corrections``).
    """
    cfg = world.profile.raw["jobcenter"]["conversations"]
    forms = list(cfg["forms"])
    form_p = np.array([float(cfg["forms"][f]) for f in forms])
    n_workers = caseworkers(world, float(world.profile.raw["jobcenter"]["caseworkers_per_100k"]))
    eff_end = _effective_end(periods, world.end)
    out_p, out_day, out_type, out_period, out_k = [], [], [], [], []
    for group, rule in cfg["rules"].items():
        sel = np.flatnonzero((periods.state == STATES.index(group)) & (eff_end >= world.start))
        if not len(sel):
            continue
        lo, hi = (int(x) for x in rule["first_days"])
        later = rule["later_days"]
        visit = periods.visitation[sel]
        if isinstance(later, dict):
            later_days = np.array([float(later.get(_visitation_name(v), later.get("jobparat", 91))) for v in visit.tolist()])  # type: ignore[arg-type]  # the profile gives every visitation a number of days
        else:
            later_days = np.full(len(sel), float(later))
        early = float(rule["early_days"])
        t = periods.start[sel] + rng.integers(lo, hi + 1, len(sel))
        idx = np.arange(len(sel))
        k = 0
        while len(idx):
            alive = t <= np.minimum(eff_end[sel[idx]], world.end)
            idx, t = idx[alive], t[alive]
            if not len(idx):
                break
            keep = t >= world.start
            p_i = sel[idx[keep]]
            out_p.append(periods.person[p_i])
            out_day.append(t[keep])
            out_period.append(p_i)
            out_k.append(np.full(int(keep.sum()), k, dtype=np.int64))
            first_type = int(rule.get("first_type", rule["type"])) if k == 0 else int(rule["type"])
            out_type.append(np.full(int(keep.sum()), first_type, dtype=np.int64))
            elapsed = t - periods.start[sel[idx]]
            interval = np.where(elapsed < EARLY_PHASE_DAYS, early, later_days[idx]) * rng.uniform(0.8, 1.15, len(idx))
            t = t + np.maximum(interval.astype(np.int64), 1)
            k += 1
    if not out_p:
        e = np.zeros(0, dtype=np.int64)
        return Conversations(e, e, e, e, e, np.zeros(0, dtype=bool), [])
    person, day, type_id = np.concatenate(out_p), np.concatenate(out_day), np.concatenate(out_type)
    period, k = np.concatenate(out_period), np.concatenate(out_k)  # type: ignore[assignment]  # k: the loop counter above, now the concatenated array
    order = np.lexsort((type_id, day, world.person_rank[person]))
    person, day, type_id, period, k = person[order], day[order], type_id[order], period[order], k[order]  # type: ignore[index]  # k is the array here (see above)
    n = len(person)
    form = np.where(k == 0, 0, rng.choice(len(forms), size=n, p=form_p / form_p.sum()))
    other = rng.random(n) < OTHER_CASEWORKER_SHARE
    worker = np.where(other, rng.integers(1, n_workers + 1, n), period_worker[period])
    no_show_p = np.array([float(cfg["no_show_share"][_visitation_name(v)]) for v in range(len(VISITATION_CATEGORIES) + 1)])
    no_show = rng.random(n) < no_show_p[periods.visitation[period]]
    ids = [f"SA{i + 1:09d}" for i in range(n)]
    return Conversations(person, day, type_id, form.astype(np.int64), worker.astype(np.int64), no_show, ids)


def draw_offers(
    world: World, periods: Periods, period_worker: IntArray, sensum: Activities | None, comp: np.ndarray, rng: np.random.Generator
) -> Offers:
    """Offer chains along the benefit periods, plus mentors beside SEL § 99 contact persons."""
    cfg = world.profile.raw["jobcenter"]["offers"]
    types = cfg["types"]
    codes = list(types)
    growth = float(world.profile.raw["annual_price_growth"])
    vf = cfg["visitation_factor"]
    visit_factor = np.array([1.0] + [float(vf.get(c, 1.0)) for c in VISITATION_CATEGORIES])
    # Need relative to the typical benefit recipient (not to the whole population, most of whom
    # never meet the jobcenter).
    recipients = np.unique(periods.person)
    median_comp = float(np.median(comp[recipients])) if len(recipients) else 1.0
    need = np.clip(np.sqrt(comp / median_comp), 0.5, 3.0)
    young_age, young_factor = int(cfg["young_age"]), float(cfg["young_mentor_factor"])
    mentor_i = codes.index(MENTOR)
    parts: list[tuple[IntArray, IntArray, IntArray, IntArray, IntArray, IntArray]] = []  # person, code, start, end, planned, period
    for group, rate in cfg["rates"].items():
        sel = np.flatnonzero(periods.state == STATES.index(group))
        if not len(sel):
            continue
        weights = np.array([float(rate["weights"].get(c, 0.0)) for c in codes])
        factor = visit_factor[periods.visitation[sel]]
        p_end = np.where(periods.end[sel] == NONE, np.iinfo(np.int64).max // 4, periods.end[sel])
        t = periods.start[sel] + 7 + rng.exponential(float(rate["first_wait"]) * factor).astype(np.int64)
        idx = np.arange(len(sel))
        while len(idx):
            alive = t <= np.minimum(p_end[idx], world.end)
            idx, t = idx[alive], t[alive]
            if not len(idx):
                break
            rows = sel[idx]
            person = periods.person[rows]
            w = np.tile(weights, (len(idx), 1))
            age = (t - world.population.birth[person]) / 365.25
            w[:, mentor_i] *= np.where(age < young_age, young_factor, 1.0) * need[person]
            cum = np.cumsum(w, axis=1)
            u = rng.random(len(idx)) * cum[:, -1]
            pick = np.minimum((u[:, None] >= cum).sum(axis=1), len(codes) - 1)
            median = np.array([float(types[c]["median_days"]) for c in codes])[pick]
            sigma = np.array([float(types[c]["sigma"]) for c in codes])[pick]
            cap = np.array([float(types[c]["max_days"]) for c in codes])[pick]
            dur = np.clip(np.exp(np.log(median) + sigma * rng.standard_normal(len(idx))), 5, cap).astype(np.int64)
            planned = t + dur - 1
            end = np.minimum(planned, p_end[idx])
            parts.append((person, pick, t.copy(), end, planned, rows))
            t = end + 1 + rng.exponential(float(rate["gap"]) * factor[idx]).astype(np.int64)
    companions = _mentors_beside_contact_persons(world, periods, sensum, cfg, rng)
    if companions is not None:
        parts.append((companions[0], np.full(len(companions[0]), mentor_i, dtype=np.int64), *companions[1:]))
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return Offers(Activities(e, [], e, e, e, np.zeros(0), np.zeros(0), [], [], [], []), np.zeros(0, dtype=bool))
    person, pick, start, end, planned, period = (np.concatenate([p[i] for p in parts]) for i in range(6))
    keep = (end >= world.start) & (start <= world.end) & (end >= start)
    person, pick, start, end, planned, period = (x[keep] for x in (person, pick, start, end, planned, period))
    person, pick, start, end, planned, period = _one_mentor_at_a_time(person, pick, start, end, planned, period, mentor_i)
    order = np.lexsort((pick, start, world.person_rank[person]))
    person, pick, start, end, planned, period = (x[order] for x in (person, pick, start, end, planned, period))
    n = len(person)
    interrupted = end < planned
    end_out = np.where(end > world.end, NONE, end)
    ref_mean = np.array([float(types[c]["referral_days"]) for c in codes])[pick]
    referral = np.maximum(start - 1 - rng.exponential(ref_mean).astype(np.int64), periods.start[period])
    hours = np.zeros(n)
    for i, c in enumerate(codes):
        if types[c]["unit"] == "time":
            sel = pick == i
            h_lo, h_hi = (float(x) for x in types[c]["hours"])
            hours[sel] = np.round(rng.uniform(h_lo, h_hi, int(sel.sum())) * 2) / 2
    year = np.array([from_day(int(s)).year for s in np.maximum(start, world.start).tolist()], dtype=np.int64)
    base = np.array([float(types[c]["price"]) for c in codes])[pick]
    price = np.round(base * (1.0 + growth) ** (year - 2025).astype(float), 2)
    providers = [types[codes[p]]["providers"][j % len(types[codes[p]]["providers"])]
                 for p, j in zip(pick.tolist(), rng.integers(0, 997, n).tolist())]
    worker = [f"JC{w:04d}" for w in period_worker[period].tolist()]
    act = Activities(
        person, [codes[p] for p in pick.tolist()], start, end_out, referral, hours, price, providers,
        [""] * n, [f"TB{i + 1:08d}" for i in range(n)], worker,
    )  # fmt: skip
    return Offers(act, interrupted & (end_out != NONE))


def _mentors_beside_contact_persons(
    world: World, periods: Periods, sensum: Activities | None, cfg: dict[str, Any], rng: np.random.Generator
) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray] | None:
    """(person, start, end, planned end, period) of mentors started during an SEL § 99 contact-person
    spell and a benefit period of a group that gets offers (a share of those spells)."""
    if sensum is None or not len(sensum):
        return None
    share = float(cfg["mentor_beside_contact_person"])
    groups = {STATES.index(g) for g in cfg["rates"]}
    spec = cfg["types"][MENTOR]
    by_person: dict[int, list[int]] = {}
    eligible = np.flatnonzero(np.isin(periods.state, list(groups)))
    for i in eligible.tolist():
        by_person.setdefault(int(periods.person[i]), []).append(i)
    p_end = _effective_end(periods, world.end)
    s_end = sensum.effective_end(world.end)
    out: list[tuple[int, int, int, int, int]] = []
    for r in [i for i, code in enumerate(sensum.service) if code == CONTACT_PERSON_SERVICE]:
        p = int(sensum.person[r])
        a, b = int(sensum.start[r]), int(s_end[r])
        hits = [i for i in by_person.get(p, []) if periods.start[i] <= b and p_end[i] >= a]
        draw = rng.random()
        if not hits or draw >= share:
            continue
        i = hits[0]
        lo = max(a, int(periods.start[i]), world.start)
        hi = min(b, int(p_end[i]), world.end)
        if lo > hi:
            continue
        start = lo + int(rng.integers(0, min(45, hi - lo) + 1))
        dur = int(np.clip(np.exp(np.log(float(spec["median_days"])) + float(spec["sigma"]) * rng.standard_normal()), 5, float(spec["max_days"])))
        planned = start + dur - 1
        end = planned if periods.end[i] == NONE else min(planned, int(periods.end[i]))
        out.append((p, start, end, planned, i))
    if not out:
        return None
    arr = np.array(out, dtype=np.int64)
    return arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4]


def _one_mentor_at_a_time(
    person: IntArray, pick: IntArray, start: IntArray, end: IntArray, planned: IntArray, period: IntArray, mentor_i: int
) -> tuple[IntArray, ...]:
    """Drop a mentor offer that starts inside an earlier mentor offer of the same person (a person
    has one mentor at a time); other offers of the chain never overlap by construction."""
    order = np.lexsort((start, pick != mentor_i, person))
    person, pick, start, end, planned, period = (x[order] for x in (person, pick, start, end, planned, period))
    keep = np.ones(len(person), dtype=bool)
    last_end: dict[int, int] = {}
    for i in np.flatnonzero(pick == mentor_i).tolist():
        p = int(person[i])
        if p in last_end and start[i] <= last_end[p]:
            keep[i] = False
            continue
        last_end[p] = int(end[i])
    return tuple(x[keep] for x in (person, pick, start, end, planned, period))


def held_records(conv: Conversations, held: np.ndarray, catalogue_code: str, provider: str) -> Activities:
    """Conversations held as one-day service records priced per conversation (for the ledger and
    the imputed cost: days x price per conversation = price per conversation), all by the
    jobcenter (``provider``, the posting's text and cost centre)."""
    sel = np.flatnonzero(held)
    n = len(sel)
    return Activities(
        conv.person[sel], [catalogue_code] * n, conv.day[sel], conv.day[sel], conv.day[sel], np.zeros(n), np.zeros(n),
        [provider] * n, [""] * n, [conv.conversation_id[i] for i in sel.tolist()], [""] * n,
    )  # fmt: skip


def subset_conversations(conv: Conversations, idx: IntArray) -> Conversations:
    il = idx.tolist()
    return replace(
        conv, person=conv.person[idx], day=conv.day[idx], type_id=conv.type_id[idx], form=conv.form[idx],
        caseworker=conv.caseworker[idx], no_show=conv.no_show[idx], conversation_id=[conv.conversation_id[i] for i in il],
    )  # fmt: skip


#: Rows are formatted a chunk at a time, so memory stays bounded by the arrays, not the text.
CHUNK = 50_000


def conversation_rows(conv: Conversations, held: np.ndarray, cprs: list[str], raw: dict[str, Any]) -> Iterator[list[str]]:
    """``samtaler`` rows: id, CPR, STAR type id and label, form, date (dd-mm-yyyy), caseworker, status."""
    cfg = raw["jobcenter"]["conversations"]
    labels = {int(k): str(v) for k, v in cfg["types"].items()}
    forms = list(cfg["forms"])
    for lo in range(0, len(conv), CHUNK):
        sl = slice(lo, lo + CHUNK)
        days = dmy(conv.day[sl])
        rows = zip(conv.person[sl].tolist(), conv.type_id[sl].tolist(), conv.form[sl].tolist(), conv.caseworker[sl].tolist(),
                   held[sl].tolist())
        for k, (p, t, f, w, h) in enumerate(rows):
            yield [conv.conversation_id[lo + k], cprs[p], str(t), labels[t], forms[f], days[k], f"JC{w:04d}", HELD if h else NO_SHOW]


def offer_rows(offers: Offers, cprs: list[str], raw: dict[str, Any]) -> Iterator[list[str]]:
    """``tilbud`` rows: id, CPR, aktiveringstype, referral/start/end (dd-mm-yyyy), hours, provider, caseworker, status."""
    types = raw["jobcenter"]["offers"]["types"]
    act = offers.act
    for lo in range(0, len(act), CHUNK):
        sl = slice(lo, lo + CHUNK)
        ref, start, end = dmy(act.referral[sl]), dmy(act.start[sl]), dmy(act.end[sl])
        status = offer_status(act.end[sl], offers.interrupted[sl])
        for k, (p, h) in enumerate(zip(act.person[sl].tolist(), act.hours[sl].tolist())):
            i = lo + k
            code = act.service[i]
            hours = f"{h:.1f}".replace(".", ",") if types[code]["unit"] == "time" else ""
            yield [act.activity_id[i], cprs[p], types[code]["label"], ref[k], start[k], end[k], hours, act.provider[i],
                   act.caseworker[i], status[k]]


def jobcenter_truth(
    world: World, periods: Periods, conv: Conversations, held: np.ndarray, offers: Activities, sensum: Activities | None
) -> dict[str, Any]:
    """Planted truths of the jobcenter (docs/generator.md): conversations held per full-time person
    by benefit group and year, and the persons with both a mentor and an SEL § 99 contact person
    per month. Every argument is the state after the last delivery."""
    from helhed.generator.profile import BENEFIT_GROUPS

    end = world.end
    eff_end = _effective_end(periods, end)
    group_of = conversation_groups(periods, conv, held, end)
    per_year: dict[str, dict[str, dict[str, float | None]]] = {g: {} for g in BENEFIT_GROUPS}
    for year in world.years():
        lo = max(world.start, _day(year, 1, 1))
        hi = min(end, _day(year, 12, 31))
        if lo > hi:
            continue
        days = hi - lo + 1
        benefit_days = np.clip(np.minimum(eff_end, hi) - np.maximum(periods.start, lo) + 1, 0, None)
        in_year = held & (conv.day >= lo) & (conv.day <= hi)
        for g_i, g in enumerate(BENEFIT_GROUPS, start=1):
            n_conv = int((in_year & (group_of == g_i)).sum())
            ftp = float(benefit_days[periods.state == g_i].sum()) / days
            per_year[g][str(year)] = {
                "conversations": n_conv, "benefit_days": int(benefit_days[periods.state == g_i].sum()), "days": int(days),
                "per_full_time_person": round(n_conv / ftp, 4) if ftp else None,
            }  # fmt: skip
    both: dict[str, int] = {}
    o_end = offers.effective_end(end)
    mentor = np.array([s == MENTOR for s in offers.service], dtype=bool)
    if sensum is not None and len(sensum):
        contact = np.array([s == CONTACT_PERSON_SERVICE for s in sensum.service], dtype=bool)
        s_end = sensum.effective_end(end)
    else:
        contact = np.zeros(0, dtype=bool)
        s_end = np.zeros(0, dtype=np.int64)
    n = len(world.population)
    for m in world.months:
        a = np.zeros(n, dtype=bool)
        hit = mentor & (offers.start <= m.last) & (o_end >= m.first)
        a[offers.person[hit]] = True
        b = np.zeros(n, dtype=bool)
        if len(contact):
            hit_s = contact & (sensum.start <= m.last) & (s_end >= m.first)  # type: ignore[union-attr]
            b[sensum.person[hit_s]] = True  # type: ignore[union-attr]
        both[m.key] = int((a & b).sum())
    return {"conversations_by_group_year": per_year, "mentor_and_contact_person_by_month": both}


def conversation_groups(periods: Periods, conv: Conversations, held: np.ndarray, end: int) -> IntArray:
    """The benefit group (state number, 0 = none) of each held conversation: of the person's
    periods covering its day (open periods run to ``end``), the one with the latest start, then
    the latest end, then the highest period id."""
    eff_end = _effective_end(periods, end)
    order = np.lexsort((np.array(periods.period_id, dtype=object).astype(str), eff_end, periods.start, periods.person))
    covering: dict[int, list[int]] = {}
    for i in order.tolist():
        covering.setdefault(int(periods.person[i]), []).append(i)
    group_of = np.zeros(len(conv), dtype=np.int64)
    for c in np.flatnonzero(held).tolist():
        p, d = int(conv.person[c]), int(conv.day[c])
        for i in covering.get(p, []):
            if periods.start[i] <= d <= eff_end[i]:
                group_of[c] = int(periods.state[i])  # sorted ascending: the last covering period wins
    return group_of


def _day(year: int, month: int, day: int) -> int:
    import datetime as dt

    from helhed.generator.dates import to_day

    return to_day(dt.date(year, month, day))


__all__ = [
    "Conversations", "Offers", "jobcenter_catalogue", "period_caseworkers", "draw_conversations", "draw_offers",
    "held_records", "subset_conversations", "conversation_rows", "offer_rows", "jobcenter_truth", "conversation_groups",
]  # fmt: skip
