"""Row builders for the phase-2 source files (one function per file format).

Kept apart from the simulation so the exact column layout of each source system is in
one place; each function yields lists of strings ready for ``writers.write_csv``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from helhed.generator.dates import NONE, IntArray, dmy, from_day, iso
from helhed.generator.labour import EDU_STATUSES, EDU_TYPES, EMPLOYMENT_TYPES, Intervals
from helhed.generator.ledger import Ledger, UnitPrice
from helhed.generator.programmes import Enrolments
from helhed.generator.services import Activities

RELATION_HEADER = ["CPR-nummer", "Relation", "Relations CPR-nummer"]
DUBU_HEADER = [
    "Sags-id", "Ydelses-id", "CPR-nummer", "Sagstype", "Afdeling", "Ydelse", "Lovhjemmel", "Funktion",
    "Anbringelsestype", "Leverandør", "Henvisningsdato", "Ydelse startdato", "Ydelse slutdato", "Takst", "Pris pr dag",
]  # fmt: skip
SENSUM_HEADER = [
    "SagId", "IndsatsId", "BorgerId", "Indsats", "IndsatsParagraf", "IndsatsStartDato", "IndsatsSlutDato",
    "IndsatsStatus", "LeverandørNavn", "MedarbejderId", "AfdelingNavn", "VisiteretTimerPrUge", "HenvisningDato",
]  # fmt: skip
HEALTH_HEADER = ["Borger CPR", "Forløbs-id", "Ydelse", "Lovgrundlag", "Funktion", "Startdato", "Slutdato", "Visiterede timer pr. uge", "Leverandør",
    "Henvisningsdato"]
MEDFIN_HEADER = ["CPR-nummer", "Måned", "Beløb"]
EDU_HEADER = ["CPR-nummer", "Status", "Uddannelse", "Startdato", "Slutdato"]
EMPLOYMENT_HEADER = ["CPR-nummer", "CVR-nummer", "Ansættelsestype", "Startdato", "Slutdato", "Timer pr. uge"]
ENROLMENT_HEADER = ["Forløbs-id", "CPR-nummer", "Program", "Henvisningsdato", "Startdato", "Slutdato", "Koordinator", "Plandato"]
MEETING_HEADER = ["Forløbs-id", "Mødedato", "Antal forvaltninger"]
SCORE_HEADER = ["Forløbs-id", "Dato", "Markør", "Score"]
SURVEY_HEADER = ["Forløbs-id", "Dato", "Fælles plan", "Inddragelse", "Tættere på mål"]
PRICE_HEADER = ["År", "Ydelseskode", "Ydelse", "Lovhjemmel", "Funktion", "Enhed", "Enhedspris", "Registrantbogført"]
LEDGER_HEADER = [
    "Artskonto", "Omkostningssted", "PSP-element", "Debet/kredit", "Beløb", "Tekst", "Ydelsesmodtagernr.",
    "Ydelsesmodtagernr.kode", "Ydelsesperiode fra", "Ydelsesperiode til", "Mængde", "Mængdeenhed",
    "Bilagsnummer", "Bilagslinje",
]  # fmt: skip
#: KMD Opus is SAP-based: a posting is a line of a voucher (bilag), whose 10-digit number
#: (BELNR) comes from a number range, and lines are numbered 1-999 within it (BUZEI). The
#: generated range 19xxxxxxxx keeps "00" in digits 3-4 (below a million vouchers), so a voucher
#: number is never CPR-like (month 00) and never masked.
VOUCHER_RANGE_START, VOUCHER_RANGE_SIZE, LINES_PER_VOUCHER = 1_900_000_000, 1_000_000, 999
BUDGET_HEADER = ["Budgetår", "Artskonto", "Omkostningssted", "Budgettype", "Beløb"]


def comma(x: float, decimals: int = 2) -> str:
    return f"{x:.{decimals}f}".replace(".", ",")


def ore_text(ore: int) -> str:
    return f"{ore // 100},{ore % 100:02d}"


def _days(values: IntArray, fmt: str) -> list[str]:
    arr = np.where(values == NONE, NONE, values).astype(np.int64)
    return dmy(arr) if fmt == "dmy" else iso(arr)


def dubu_rows(act: Activities, cprs: list[str], catalogue: dict, placements: dict) -> Iterator[list[str]]:
    types = {f"anbringelse_{t['code']}": t for t in placements["types"]}
    start, end, ref = _days(act.start, "dmy"), _days(act.end, "dmy"), _days(act.referral, "dmy")
    for i, code in enumerate(act.service):
        p = int(act.person[i])
        if code in types:
            t = types[code]
            label, par, fn, ptype, takst = t["label"], placements["paragraph"], t["function"], str(t["code"]), "Døgntakst"
            price = comma(float(act.price[i]))
        else:
            spec = catalogue[code]
            label, par, fn, ptype = spec["label"], spec["paragraph"], spec["function"], ""
            registrant = spec["posting"] == "registrant"
            takst = "Dagtakst" if registrant else ("Egen drift" if float(spec["price"]) > 0 else "")
            price = comma(float(act.price[i])) if registrant else ""
        handicap = (p * 7919) % 10 == 0
        yield [
            act.case_id[i], act.activity_id[i], cprs[p], "Handicapsag" if handicap else "Børnesag",
            "Børn og unge med handicap" if handicap else "Familieafdelingen", label, par, fn, ptype, act.provider[i],
            ref[i], start[i], end[i], takst, price,
        ]  # fmt: skip


def sensum_rows(act: Activities, cprs: list[str], catalogue: dict, end_day: int) -> Iterator[list[str]]:
    start, end, ref = _days(act.start, "iso"), _days(act.end, "iso"), _days(act.referral, "iso")
    for i, code in enumerate(act.service):
        spec = catalogue[code]
        status = "Aktiv" if act.end[i] == NONE else "Afsluttet"
        hours = comma(float(act.hours[i]), 1) if spec["unit"] == "time" else ""
        yield [
            act.case_id[i], act.activity_id[i], cprs[int(act.person[i])], spec["label"], spec["paragraph"], start[i], end[i],
            status, act.provider[i], act.caseworker[i], "Socialafdelingen, Voksne", hours, ref[i],
        ]  # fmt: skip


def health_rows(act: Activities, cprs: list[str], catalogue: dict) -> Iterator[list[str]]:
    start, end, ref = _days(act.start, "iso"), _days(act.end, "iso"), _days(act.referral, "iso")
    for i, code in enumerate(act.service):
        spec = catalogue[code]
        hours = comma(float(act.hours[i]), 1) if spec["unit"] == "time" else ""
        yield [cprs[int(act.person[i])], act.activity_id[i], spec["label"], spec["paragraph"], spec["function"], start[i], end[i], hours, act.provider[i],
            ref[i]]


def medfin_rows(medfin: tuple[IntArray, IntArray, IntArray], cprs: list[str], person_rank: IntArray) -> Iterator[list[str]]:
    """Rows by month, then CPR; built one month at a time to keep memory flat."""
    p, m, o = medfin
    for month in np.unique(m).tolist():
        sel = np.flatnonzero(m == month)
        sel = sel[np.argsort(person_rank[p[sel]], kind="stable")]
        label = from_day(month).strftime("%Y-%m")
        for pp, oo in zip(p[sel].tolist(), o[sel].tolist()):
            yield [cprs[pp], label, ore_text(oo)]


CHUNK = 50_000


def _chunks(order: IntArray) -> Iterator[IntArray]:
    for lo in range(0, len(order), CHUNK):
        yield order[lo : lo + CHUNK]


def education_rows(edu: Intervals, cprs: list[str], person_rank: IntArray) -> Iterator[list[str]]:
    order = np.lexsort((edu.start, person_rank[edu.person]))
    for idx in _chunks(order):
        start, end = _days(edu.start[idx], "iso"), _days(edu.end[idx], "iso")
        for k, i in enumerate(idx.tolist()):
            yield [cprs[int(edu.person[i])], EDU_STATUSES[int(edu.code[i])], EDU_TYPES[int(edu.detail[i])], start[k], end[k]]


def employment_rows(emp: Intervals, cprs: list[str], person_rank: IntArray) -> Iterator[list[str]]:
    order = np.lexsort((emp.start, person_rank[emp.person]))
    for idx in _chunks(order):
        start, end = _days(emp.start[idx], "iso"), _days(emp.end[idx], "iso")
        for k, i in enumerate(idx.tolist()):
            cvr = f"{30000000 + int(emp.detail[i]) * 7919 % 69999999:08d}"
            yield [cprs[int(emp.person[i])], cvr, EMPLOYMENT_TYPES[int(emp.code[i])], start[k], end[k], comma(float(emp.hours[i]))]


def enrolment_rows(enr: Enrolments, cprs: list[str]) -> Iterator[list[str]]:
    ref, start, end, plan = (_days(x, "dmy") for x in (enr.referral, enr.start, enr.end, enr.plan))
    for i in range(len(enr)):
        yield [enr.enrolment_id[i], cprs[int(enr.person[i])], enr.programme[i], ref[i], start[i], end[i], enr.coordinator[i], plan[i]]


def detail_rows(rows: list[list], date_cols: Iterable[int]) -> Iterator[list[str]]:
    cols = set(date_cols)
    for r in rows:
        yield [(dmy(np.array([v]))[0] if j in cols else str(v)) for j, v in enumerate(r)]


def price_rows(prices: list[UnitPrice]) -> Iterator[list[str]]:
    for p in prices:
        yield [str(p.year), p.code, p.label, p.paragraph, p.function, p.unit, comma(p.price), "Ja" if p.registrant else "Nej"]


def vouchers_of(ledger: Ledger) -> int:
    """Vouchers ``ledger_rows`` numbers for ``ledger`` (each chunk starts a voucher of up to 999 lines)."""
    return sum(-(-len(c) // LINES_PER_VOUCHER) for c in ledger.chunks)


def ledger_rows(ledger: Ledger, cprs: list[str], vouchers_before: int = 0) -> Iterator[list[str]]:
    """Postings with a stable voucher number and line (the ledger's natural key): each chunk of
    postings is booked as vouchers of up to 999 lines, numbered in chunk order after the
    ``vouchers_before`` vouchers of earlier deliveries (a correction is a new voucher)."""
    voucher = VOUCHER_RANGE_START + vouchers_before
    for c in ledger.chunks:
        frm, to = dmy(c.period_from), dmy(c.period_to)
        for i, (p, o, q) in enumerate(zip(c.person.tolist(), c.ore.tolist(), c.qty.tolist())):
            line = i % LINES_PER_VOUCHER + 1
            if line == 1:
                voucher += 1
                if voucher >= VOUCHER_RANGE_START + VOUCHER_RANGE_SIZE:
                    raise ValueError(f"the ledger needs more than {VOUCHER_RANGE_SIZE:,} vouchers")
            yield [
                c.account, c.cost_centre, c.psp, c.dk, ore_text(o), c.text, cprs[p] if p >= 0 else "",
                "01" if p >= 0 else "", frm[i], to[i], (comma(q) if q else ""), c.unit, str(voucher), str(line),
            ]  # fmt: skip


def budget_rows(rows: list[tuple[int, str, str, str, int]]) -> Iterator[list[str]]:
    for year, acc, cc, kind, ore in rows:
        yield [str(year), acc, cc, kind, ore_text(ore) if ore >= 0 else "-" + ore_text(-ore)]
