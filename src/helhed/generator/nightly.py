"""The phase-2 deliveries: the initial full delivery and the nightly increments of every source.

``LatePlan`` ties the simulated records of the phase-2 sources to their registration days
(``corrections``): ``state(day)`` is what a loader holds after the delivery of ``day`` and
``changes(day)`` is the nightly file of ``day``. ``write_delivery`` writes one delivery of
every chosen source in its format (``rows``, ``jobcenter``), so the initial delivery and the
nights share one code path; files that are delivered once (unit prices, budgets, network
meetings, progression, the survey) are written with the initial delivery only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from helhed.generator import baddata
from helhed.generator import rows as R
from helhed.generator.corrections import (
    DUBU,
    EDUCATION,
    EMPLOYMENT,
    HEALTH,
    OFFERS,
    SENSUM,
    Cofinancing,
    ConversationRegister,
    Lateness,
    ProgrammeRegister,
    Registered,
    activities_subset,
    correct_cofinancing,
    correct_enrolments,
    intervals_subset,
    register,
    register_conversations,
    register_spells,
)  # fmt: skip
from helhed.generator.dates import NONE, IntArray, from_day
from helhed.generator.jobcenter import (
    Conversations,
    Offers,
    conversation_rows,
    held_records,
    offer_rows,
    subset_conversations,
)  # fmt: skip
from helhed.generator.labour import Intervals
from helhed.generator.programmes import Enrolments
from helhed.generator.services import Activities

#: Catalogue code of a conversation held (the unit price per conversation).
CONVERSATION_CODE = "samtale"
CONVERSATION_HEADER = ["Samtale-id", "CPR-nummer", "Samtaletype-id", "Samtaletype", "Samtaleform", "Afholdelsesdato", "Sagsbehandler", "Status"]
OFFER_HEADER = [
    "Tilbuds-id", "CPR-nummer", "Aktiveringstype", "Henvisningsdato", "Startdato", "Slutdato", "Timer pr. uge", "Leverandør",
    "Sagsbehandler", "Status",
]  # fmt: skip


@dataclass
class Phase2Records:
    """The phase-2 records as simulated (what happened), before any registration lag."""

    dubu: Activities
    sensum: Activities
    sundhed: Activities
    education: Intervals
    employment: Intervals
    enrolments: Enrolments
    medfin: tuple[IntArray, IntArray, IntArray]
    offers: Offers
    conversations: Conversations
    conversation_provider: str  # who holds the conversations (the ledger's text and cost centre)


@dataclass
class Phase2State:
    """The records of one delivery (or of a loader's state after it)."""

    dubu: Activities
    sensum: Activities
    sundhed: Activities
    education: Intervals
    employment: Intervals
    enrolments: Enrolments
    medfin: tuple[IntArray, IntArray, IntArray]
    offers: Offers
    conversations: Conversations
    held: np.ndarray  # per conversation: counts as held (status Afholdt)
    conversation_provider: str

    def activities(self) -> dict[str, Activities]:
        """Service records by source, the jobcenter's offers (``jobcenter``) and conversations held
        (``samtaler``, one-day records priced per conversation) included."""
        return {
            "dubu": self.dubu, "sensum": self.sensum, "sundhed": self.sundhed, "jobcenter": self.offers.act,
            "samtaler": held_records(self.conversations, self.held, CONVERSATION_CODE, self.conversation_provider),
        }  # fmt: skip


@dataclass
class LatePlan:
    """Registration days of every phase-2 record (see ``corrections``)."""

    records: Phase2Records
    dubu: Registered
    sensum: Registered
    sundhed: Registered
    education: Registered
    employment: Registered
    offers: Registered
    conversations: ConversationRegister
    cofinancing: Cofinancing
    programmes: ProgrammeRegister

    def state(self, day: int) -> Phase2State:
        """What a "latest delivery wins" loader holds after the delivery of ``day``."""
        r = self.records
        conv_idx, held = self.conversations.known(day)
        return Phase2State(
            _acts(r.dubu, self.dubu.known(day)), _acts(r.sensum, self.sensum.known(day)), _acts(r.sundhed, self.sundhed.known(day)),
            intervals_subset(r.education, *self.education.known(day)), intervals_subset(r.employment, *self.employment.known(day)),
            self.programmes.known(day), self.cofinancing.known(day), _offers(r.offers, self.offers.known(day)),
            subset_conversations(r.conversations, conv_idx), held, r.conversation_provider,
        )  # fmt: skip

    def changes(self, day: int) -> Phase2State:
        """The rows of the nightly delivery of ``day``: records whose start, end, status or
        correction was registered that day, in their state on that day."""
        r = self.records
        conv_idx, held = self.conversations.changed(day)
        return Phase2State(
            _acts(r.dubu, self.dubu.changed(day)), _acts(r.sensum, self.sensum.changed(day)),
            _acts(r.sundhed, self.sundhed.changed(day)), intervals_subset(r.education, *self.education.changed(day)),
            intervals_subset(r.employment, *self.employment.changed(day)), self.programmes.changed(day),
            self.cofinancing.changed(day), _offers(r.offers, self.offers.changed(day)),
            subset_conversations(r.conversations, conv_idx), held, r.conversation_provider,
        )  # fmt: skip

    def corrections_on(self, day: int) -> list[dict[str, Any]]:
        """Manifest entries of the corrections delivered on ``day``: back-dated ends, late records,
        status changes, corrected programme rows and re-billed co-financing."""
        out: list[dict[str, Any]] = []
        d = from_day(day).isoformat()
        r = self.records
        for source, reg, act in (("dubu", self.dubu, r.dubu), ("sensum", self.sensum, r.sensum), ("sundhed", self.sundhed, r.sundhed),
                                 ("jobcenter", self.offers, r.offers.act)):
            out.extend(_late_events(source, reg, act.activity_id, day, d))
        out.extend(_late_events("uddannelse", self.education, None, day, d))
        out.extend(_late_events("eindkomst", self.employment, None, day, d))
        conv = self.conversations
        for i in np.flatnonzero(conv.corr_day == day).tolist():
            out.append({"kind": "status_change", "source": "jobcenter", "id": r.conversations.conversation_id[i], "delivery_date": d,
                        "status": "Udeblevet"})
        enr = self.programmes
        for i in np.flatnonzero(enr.corr_day == day).tolist():
            field = "coordinator" if enr.coordinator[i] != enr.enrolments.coordinator[i] else "plan_date"
            out.append({"kind": "corrected_row", "source": "helhed", "id": enr.enrolments.enrolment_id[i], "delivery_date": d, "field": field})
        cof = self.cofinancing
        n_cof = int((cof.corr_day == day).sum())
        if n_cof:
            out.append({"kind": "corrected_amount", "source": "sundhed", "rows": n_cof, "delivery_date": d})
        return out


def _acts(act: Activities, known: tuple[IntArray, IntArray]) -> Activities:
    return activities_subset(act, *known)


def _offers(offers: Offers, known: tuple[IntArray, IntArray]) -> Offers:
    idx, end = known
    return Offers(activities_subset(offers.act, idx, end), offers.interrupted[idx])


def _late_events(source: str, reg: Registered, ids: list[str] | None, day: int, d: str) -> list[dict[str, Any]]:
    """Back-dated ends (an end registered more than a day after it) and late records (a start
    registered more than a day after it) delivered on ``day``; Sensum's status turns to
    ``Afsluttet`` with its end. Records without an id of their own are named by their dates."""
    out: list[dict[str, Any]] = []
    ended = np.flatnonzero((reg.end_reg == day) & (reg.end != NONE) & (reg.end < day - 1) & (reg.start_reg < day))
    late = np.flatnonzero((reg.start_reg == day) & (reg.start < day - 1))
    for kind, hits in (("back_dated_end", ended), ("late_record", late)):
        for i in hits.tolist():
            entry: dict[str, Any] = {"kind": kind, "source": source, "delivery_date": d}
            if ids is not None:
                entry["id"] = ids[i]
            entry["start_date"] = from_day(int(reg.start[i])).isoformat()
            if kind == "back_dated_end":
                entry["end_date"] = from_day(int(reg.end[i])).isoformat()
                entry["days_late"] = int(day - reg.end[i])
                if source == "sensum":
                    entry["status"] = "Afsluttet"
            else:
                entry["days_late"] = int(day - reg.start[i])
            out.append(entry)
    return out


def plan_late(records: Phase2Records, initial_end: int, nights: int, rng: np.random.Generator) -> LatePlan:
    """Registration days of every phase-2 record (one random stream, in a fixed order). Without
    nightly increments (``nights`` 0) everything is registered on time, as the benefits are."""
    r = records

    def late(lateness: Lateness) -> Lateness:
        return lateness if nights else Lateness()

    return LatePlan(
        r,
        register(r.dubu.start, r.dubu.end, initial_end, nights, late(DUBU), rng),
        register(r.sensum.start, r.sensum.end, initial_end, nights, late(SENSUM), rng),
        register(r.sundhed.start, r.sundhed.end, initial_end, nights, late(HEALTH), rng),
        register_spells(r.education, initial_end, nights, late(EDUCATION), rng),
        register(r.employment.start, r.employment.end, initial_end, nights, late(EMPLOYMENT), rng),
        register(r.offers.act.start, r.offers.act.end, initial_end, nights, late(OFFERS), rng),
        register_conversations(r.conversations.day, r.conversations.no_show, initial_end, nights, rng),
        correct_cofinancing(r.medfin, initial_end, nights, rng),
        correct_enrolments(r.enrolments, initial_end, nights, rng),
    )


@dataclass
class DeliveryContext:
    """What every delivery of the phase-2 sources needs besides the records."""

    chosen: tuple[str, ...]
    cprs: list[str]
    person_rank: IntArray
    raw: dict[str, Any]


def write_delivery(writer: Any, ctx: DeliveryContext, day: int, kind: str, st: Phase2State) -> None:
    """One delivery (``kind`` "full" or "increment") of every chosen phase-2 source with records.

    Unit prices, budgets, network meetings, progression and the survey are delivered with the
    initial delivery (``write_initial_only``); the ledger's postings are written by the caller
    (their voucher numbers continue from delivery to delivery)."""
    chosen, cprs, rank, raw = ctx.chosen, ctx.cprs, ctx.person_rank, ctx.raw
    catalogue, placements = raw["services"], raw["placements"]
    w = writer.write
    if "eindkomst" in chosen:
        w("eindkomst", day, kind, "ansaettelser", R.EMPLOYMENT_HEADER, R.employment_rows(st.employment, cprs, rank),
          row_spec=baddata.RowSpec(cpr=0, code=2, start=3, end=4, date_format="iso"))  # fmt: skip
    if "uddannelse" in chosen:
        w("uddannelse", day, kind, "uddannelsesstatus", R.EDU_HEADER, R.education_rows(st.education, cprs, rank),
          row_spec=baddata.RowSpec(cpr=0, code=1, start=3, end=4, date_format="iso"))  # fmt: skip
    if "dubu" in chosen:
        w("dubu", day, kind, "dubu_ydelser", R.DUBU_HEADER, R.dubu_rows(st.dubu, cprs, catalogue, placements),
          row_spec=baddata.RowSpec(cpr=2, code=6, start=11, end=12, date_format="dmy", key=1))  # fmt: skip
    if "sensum" in chosen:
        w("sensum", day, kind, "sensum_indsatser", R.SENSUM_HEADER, R.sensum_rows(st.sensum, cprs, catalogue, day),
          row_spec=baddata.RowSpec(cpr=2, code=4, start=5, end=6, date_format="iso", key=1))  # fmt: skip
    if "sundhed" in chosen:
        w("sundhed", day, kind, "sundhed_ydelser", R.HEALTH_HEADER, R.health_rows(st.sundhed, cprs, catalogue),
          row_spec=baddata.RowSpec(cpr=0, code=3, start=5, end=6, date_format="iso", key=1))  # fmt: skip
        w("sundhed", day, kind, "medfinansiering", R.MEDFIN_HEADER, R.medfin_rows(st.medfin, cprs, rank),
          row_spec=baddata.RowSpec(cpr=0, code=None, start=None, end=None, date_format="iso"))  # fmt: skip
    if "helhed" in chosen:
        w("helhed", day, kind, "forloeb", R.ENROLMENT_HEADER, R.enrolment_rows(st.enrolments, cprs),
          row_spec=baddata.RowSpec(cpr=1, code=2, start=4, end=5, date_format="dmy", key=0))  # fmt: skip
    if "jobcenter" in chosen:
        w("jobcenter", day, kind, "samtaler", CONVERSATION_HEADER, conversation_rows(st.conversations, st.held, cprs, raw),
          row_spec=baddata.RowSpec(cpr=1, code=2, start=None, end=None, date_format="dmy", key=0))  # fmt: skip
        w("jobcenter", day, kind, "tilbud", OFFER_HEADER, offer_rows(st.offers, cprs, raw),
          row_spec=baddata.RowSpec(cpr=1, code=2, start=4, end=5, date_format="dmy", key=0))  # fmt: skip


__all__ = ["Phase2Records", "Phase2State", "LatePlan", "plan_late", "DeliveryContext", "write_delivery", "CONVERSATION_CODE"]
