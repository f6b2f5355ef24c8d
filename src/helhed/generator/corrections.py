"""Late registrations and corrections of the phase-2 sources, night by night.

Real source systems do not deliver a finished history: DUBU and Sensum end a service weeks
after it ended (a back-dated end; Sensum's status turns from ``Aktiv`` to ``Afsluttet``),
health and education records and employment spells are keyed in late, a programme row is
corrected (another coordinator, a corrected plan date), the region re-bills a person's month
of co-financing, and the jobcenter registers a conversation or an offer's start and end some
days late or corrects a conversation's status. This module gives every record a registration
day for its start and its end (or a correction day), so that

- ``known(day)`` is what a "latest delivery wins" loader holds after the delivery of ``day``
  (the initial delivery is ``known(end date)``, the truth is ``known(last night)``), and
- ``changed(day)`` is what the nightly delivery of ``day`` holds: every record whose start,
  end or correction was registered that day, in its state on that day (full rows, same ids).

Records that happened long before the initial delivery are registered on time. Of the events
in its last ``WINDOW_DAYS`` days, a share is not yet registered on the end date: that backlog
comes with the nightly deliveries, each event on a random night (so every night brings some
corrections, whatever the number of nights). Events after the end date are registered the day
they happen or, for the same share, 2 + Exp(mean) days later.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from helhed.generator.dates import NONE, IntArray
from helhed.generator.labour import Intervals
from helhed.generator.programmes import Enrolments, enrolments_known_at
from helhed.generator.services import Activities

#: Only events in the last this many days before the initial delivery (or later) can be late.
WINDOW_DAYS = 60


@dataclass(frozen=True)
class Lateness:
    """Share of starts and of ends registered late, and the mean delay in days (2 + Exp(mean))."""

    start_share: float = 0.0
    start_mean: float = 0.0
    end_share: float = 0.0
    end_mean: float = 0.0


#: Per source (assumptions, docs/generator.md "Nightly increments").
DUBU = Lateness(end_share=0.3, end_mean=20.0)
SENSUM = Lateness(end_share=0.3, end_mean=20.0)
HEALTH = Lateness(start_share=0.2, start_mean=15.0, end_share=0.2, end_mean=15.0)
EMPLOYMENT = Lateness(start_share=0.3, start_mean=25.0, end_share=0.3, end_mean=25.0)
EDUCATION = Lateness(start_share=0.25, start_mean=20.0)
OFFERS = Lateness(start_share=0.2, start_mean=2.0, end_share=0.25, end_mean=10.0)
#: Co-financing: share of the bills of the last three months re-billed with another amount.
COFINANCING_CORRECTED_SHARE = 0.01
#: Programme register: share of the enrolments known on the end date corrected on a night.
ENROLMENT_CORRECTED_SHARE = 0.12
#: Conversations: share registered 1-3 days late, 4-20 days late; share of held ones later
#: corrected to a no-show (registered as held by mistake).
CONVERSATION_LATE_SHARES = (0.15, 0.05)
CONVERSATION_STATUS_CORRECTED_SHARE = 0.01


@dataclass
class Registered:
    """Registration days of records' starts and ends (``end_reg`` NONE while the end is open)."""

    start_reg: IntArray
    end_reg: IntArray
    start: IntArray
    end: IntArray  # the record's end (NONE = open at the last day simulated)

    def known(self, day: int) -> tuple[IntArray, IntArray]:
        """Indexes of the records known on ``day`` and their end as known then."""
        idx = np.flatnonzero(self.start_reg <= day)
        return idx, self._end_on(idx, day)

    def changed(self, day: int) -> tuple[IntArray, IntArray]:
        """Indexes of the records whose start or end was registered on ``day``, and their end then."""
        hit = (self.start_reg == day) | ((self.end_reg == day) & (self.start_reg <= day))
        idx = np.flatnonzero(hit)
        return idx, self._end_on(idx, day)

    def _end_on(self, idx: IntArray, day: int) -> IntArray:
        shown = (self.end_reg[idx] != NONE) & (self.end_reg[idx] <= day)
        return np.where(shown, self.end[idx], NONE).astype(np.int64)


def _registration_days(
    event: IntArray, initial_end: int, nights: int, share: float, mean: float, rng: np.random.Generator
) -> IntArray:
    """The day each event is registered: on the day, except (with ``share``) the events of the last
    ``WINDOW_DAYS`` before the initial delivery, registered on a random night after it, and the
    events after it, registered 2 + Exp(``mean``) days late."""
    n = len(event)
    late = (event != NONE) & (rng.random(n) < share)
    backlog = late & (event > initial_end - WINDOW_DAYS) & (event <= initial_end)
    after = late & (event > initial_end)
    night = initial_end + rng.integers(1, max(nights, 1) + 1, n)
    delay = event + 2 + rng.exponential(max(mean, 1e-9), n).astype(np.int64)
    reg = np.where(backlog & (nights > 0), night, np.where(after, delay, event))
    return np.where(event == NONE, NONE, reg).astype(np.int64)


def register(start: IntArray, end: IntArray, initial_end: int, nights: int, late: Lateness, rng: np.random.Generator) -> Registered:
    """Registration days of the starts and ends of records (``_registration_days``); an end is
    never delivered before its record."""
    start_reg = _registration_days(start, initial_end, nights, late.start_share, late.start_mean, rng)
    end_reg = _registration_days(end, initial_end, nights, late.end_share, late.end_mean, rng)
    end_reg = np.where(end_reg == NONE, NONE, np.maximum(end_reg, start_reg))
    return Registered(start_reg, end_reg.astype(np.int64), start.astype(np.int64), end.astype(np.int64))


def register_spells(iv: Intervals, initial_end: int, nights: int, late: Lateness, rng: np.random.Generator) -> Registered:
    """Status spells that follow each other (the youth database): a late new spell also closes
    the spell before it late, since the old status ends when the new one is keyed in."""
    reg = register(iv.start, iv.end, initial_end, nights, late, rng)
    nxt_same = np.zeros(len(iv), dtype=bool)
    if len(iv) > 1:
        nxt_same[:-1] = (iv.person[1:] == iv.person[:-1]) & (iv.start[1:] == iv.end[:-1] + 1)
    end_reg = reg.end_reg.copy()
    follow = np.flatnonzero(nxt_same)
    end_reg[follow] = np.maximum(end_reg[follow], reg.start_reg[follow + 1])
    return Registered(reg.start_reg, end_reg, reg.start, reg.end)


def activities_subset(act: Activities, idx: IntArray, end: IntArray) -> Activities:
    """The records ``idx`` of ``act`` with the ends ``end`` (as known on some day)."""
    il = idx.tolist()

    def pick(values: list[str]) -> list[str]:
        return [values[i] for i in il] if values else []

    return Activities(
        act.person[idx], pick(act.service), act.start[idx], end.astype(np.int64), act.referral[idx], act.hours[idx],
        act.price[idx], pick(act.provider), pick(act.case_id), pick(act.activity_id), pick(act.caseworker),
    )  # fmt: skip


def intervals_subset(iv: Intervals, idx: IntArray, end: IntArray) -> Intervals:
    return Intervals(iv.person[idx], iv.code[idx], iv.start[idx], end.astype(np.int64), iv.detail[idx], iv.hours[idx])


@dataclass
class Cofinancing:
    """Co-financing bills (person, first day of month, øre) and their corrections (re-billed amounts)."""

    person: IntArray
    month: IntArray
    ore: IntArray
    corrected_ore: IntArray
    corr_day: IntArray  # NONE = never corrected

    def known(self, day: int) -> tuple[IntArray, IntArray, IntArray]:
        ore = np.where((self.corr_day != NONE) & (self.corr_day <= day), self.corrected_ore, self.ore)
        return self.person, self.month, ore

    def changed(self, day: int) -> tuple[IntArray, IntArray, IntArray]:
        sel = self.corr_day == day
        return self.person[sel], self.month[sel], self.corrected_ore[sel]


def correct_cofinancing(medfin: tuple[IntArray, IntArray, IntArray], initial_end: int, nights: int, rng: np.random.Generator) -> Cofinancing:
    """The region re-bills a few person-months of the last three months on a night (a new amount)."""
    person, month, ore = medfin
    n = len(person)
    corr_day = np.full(n, NONE, dtype=np.int64)
    new_ore = ore.copy()
    if nights:
        recent = month > initial_end - 92
        hit = np.flatnonzero(recent & (rng.random(n) < COFINANCING_CORRECTED_SHARE))
        corr_day[hit] = initial_end + rng.integers(1, nights + 1, len(hit))
        new_ore[hit] = np.maximum(np.round(ore[hit] * rng.uniform(0.3, 1.6, len(hit))).astype(np.int64), 1)
    return Cofinancing(person, month, ore, new_ore, corr_day)


@dataclass
class ProgrammeRegister:
    """Enrolments (as simulated) with corrections: another coordinator or a corrected plan date."""

    enrolments: Enrolments
    coordinator: list[str]  # corrected coordinator
    plan: IntArray  # corrected plan date
    corr_day: IntArray  # NONE = never corrected

    def known(self, day: int) -> Enrolments:
        return enrolments_known_at(self._corrected(day), day)

    def changed(self, day: int) -> Enrolments:
        """Enrolments whose start, end, plan or correction was registered on ``day`` (state then)."""
        full = self._corrected(day)
        state = enrolments_known_at(full, day)
        keep = np.flatnonzero(full.start <= day)
        hit = ((full.start == day) | (full.end == day) | (full.plan == day) | (self.corr_day == day))[keep]
        sel = np.flatnonzero(hit)
        il = sel.tolist()
        return Enrolments(
            state.person[sel], [state.programme[i] for i in il], state.start[sel], state.end[sel], state.plan[sel],
            state.referral[sel], [state.coordinator[i] for i in il], state.effect_day[sel], [state.enrolment_id[i] for i in il],
        )  # fmt: skip

    def _corrected(self, day: int) -> Enrolments:
        e = self.enrolments
        on = (self.corr_day != NONE) & (self.corr_day <= day)
        coordinator = [c if o else old for c, o, old in zip(self.coordinator, on.tolist(), e.coordinator)]
        return replace(e, coordinator=coordinator, plan=np.where(on, self.plan, e.plan).astype(np.int64))


def correct_enrolments(enr: Enrolments, initial_end: int, nights: int, rng: np.random.Generator) -> ProgrammeRegister:
    """A few enrolments known on the end date are corrected on a night: a new coordinator (two in
    three) or a plan date moved by 1-10 days (never before the start nor after the end date)."""
    n = len(enr)
    corr_day = np.full(n, NONE, dtype=np.int64)
    coordinator = list(enr.coordinator)
    plan = enr.plan.copy()
    if nights and n:
        cand = np.flatnonzero((enr.start <= initial_end) & (rng.random(n) < ENROLMENT_CORRECTED_SHARE))
        for i in cand.tolist():
            has_plan = enr.plan[i] != NONE and enr.plan[i] <= initial_end
            if has_plan and rng.random() < 1 / 3:
                shift = int(rng.choice([-1, 1])) * int(rng.integers(1, 11))
                new = int(np.clip(enr.plan[i] + shift, enr.start[i], initial_end))
                if new == enr.plan[i]:
                    continue
                plan[i] = new
            else:
                # Another coordinator of the programme (ids "ENK03": programme prefix, K, number); a
                # programme with one coordinator gets a second one.
                prefix, number = enr.coordinator[i][:3], int(enr.coordinator[i][3:])
                others = sorted(({int(c[3:]) for c in enr.coordinator if c[:3] == prefix} | {number + 1}) - {number})
                coordinator[i] = f"{prefix}{others[int(rng.integers(0, len(others)))]:02d}"
            corr_day[i] = initial_end + int(rng.integers(1, nights + 1))
    return ProgrammeRegister(enr, coordinator, plan, corr_day)


@dataclass
class ConversationRegister:
    """Registration day of each conversation and the day a held one was corrected to a no-show."""

    reg: IntArray
    corr_day: IntArray  # NONE = status never corrected
    no_show: np.ndarray  # bool: registered as a no-show from the start

    def known(self, day: int) -> tuple[IntArray, np.ndarray]:
        """Indexes of the conversations known on ``day`` and whether each counts as held then."""
        idx = np.flatnonzero(self.reg <= day)
        return idx, self.held(idx, day)

    def changed(self, day: int) -> tuple[IntArray, np.ndarray]:
        idx = np.flatnonzero((self.reg == day) | ((self.corr_day == day) & (self.reg <= day)))
        return idx, self.held(idx, day)

    def held(self, idx: IntArray, day: int) -> np.ndarray:
        """Whether each conversation ``idx`` counts as held with the corrections registered by ``day``."""
        corrected = (self.corr_day[idx] != NONE) & (self.corr_day[idx] <= day)
        return ~self.no_show[idx] & ~corrected


def register_conversations(day: IntArray, no_show: np.ndarray, initial_end: int, nights: int, rng: np.random.Generator) -> ConversationRegister:
    """Most conversations are registered the day they are held; recent ones may be 1-3 or 4-20 days
    late, and a few held ones of the last ``WINDOW_DAYS`` are found to be no-shows and corrected
    on a random night. Without nights every conversation is registered the day it is held."""
    n = len(day)
    recent = (day > initial_end - WINDOW_DAYS) & (nights > 0)
    u = rng.random(n)
    short, long_ = CONVERSATION_LATE_SHARES
    lag = np.where(u < short, rng.integers(1, 4, n), np.where(u < short + long_, rng.integers(4, 21, n), 0))
    reg = day + np.where(recent, lag, 0)
    corrected = recent & (day <= initial_end) & ~no_show & (rng.random(n) < CONVERSATION_STATUS_CORRECTED_SHARE)
    corr_day = np.where(corrected, np.maximum(reg, initial_end) + rng.integers(1, max(nights, 1) + 1, n), NONE)
    return ConversationRegister(reg.astype(np.int64), corr_day.astype(np.int64), no_show)
