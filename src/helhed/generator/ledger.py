"""KMD Opus ledger postings, budgets and unit prices, plus the cost truth behind them.

The ledger is built *from* the activities, so the warehouse can attribute it back:
registrant-posted services (benefits paid per person, purchased places) get one posting
per person and month with CPR; own operations get one posting per unit and month without
CPR whose amount is the activity volume times the unit price plus an unattributable
overhead; transfers billed in aggregate (førtidspension, a-dagpenge) and regional
co-financing are posted as monthly totals. Amounts are kept in integer øre so the truth
sums are exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helhed.generator.benefits import Periods
from helhed.generator.dates import NONE, IntArray, Span, from_day, to_day, ymd
from helhed.generator.jobcenter import jobcenter_catalogue
from helhed.generator.lifecourse import STATES, Spells
from helhed.generator.programmes import Enrolments
from helhed.generator.refunds import (
    DRANST_CONSTRUCTION,
    DRANST_OPERATING,
    DRANST_REFUND,
    construction_postings,
    dranst_of,
    high_cost_refunds,
    month_index,
    psp_element,
    staircase_fraction,
    staircase_offsets,
    with_dranst,
)  # fmt: skip
from helhed.generator.services import Activities, price_in_year
from helhed.generator.world import World

#: Department of a kontoplan function (by prefix), used for coverage and budgets.
DEPARTMENT_BY_FUNCTION = (
    ("5.57", "beskaeftigelse"), ("5.58", "beskaeftigelse"), ("5.68", "beskaeftigelse"), ("5.48", "beskaeftigelse"),
    ("5.28", "boern_familie"), ("5.38", "voksen_social"), ("5.30", "sundhed"), ("4.62", "sundhed"),
)  # fmt: skip
COST_CENTRES = {"beskaeftigelse": "41300", "boern_familie": "42300", "voksen_social": "43300", "sundhed": "44300"}
CPR_CODE = "01"  # Ydelsesmodtagernr.kode for a CPR number
REVERSAL_SHARE = 0.004  # registrant postings reversed (K) and re-posted with a corrected amount
YEAR_DAYS = 365.25


def department_of(function: str) -> str:
    for prefix, dept in DEPARTMENT_BY_FUNCTION:
        if function.startswith(prefix):
            return dept
    return "oevrige"


def function_of_account(account: str) -> str:
    """``528201003`` -> ``5.28.20`` (kontoplan function from the account string)."""
    return f"{account[0]}.{account[1:3]}.{account[3:5]}"


@dataclass
class UnitPrice:
    """One row of the unit price file: price per day or per hour in a year."""

    year: int
    code: str
    label: str
    paragraph: str
    function: str
    unit: str  # "kr. pr. dag" / "kr. pr. time"
    price: float
    registrant: bool  # posted per person with CPR (then not imputed)


@dataclass
class Chunk:
    """Postings that share account, cost centre, PSP element, side, text and unit."""

    account: str
    cost_centre: str
    psp: str
    dk: str  # "D" / "K"
    text: str
    unit: str
    ore: IntArray  # amount in øre, positive
    person: IntArray  # -1 = not registrant-posted
    period_from: IntArray
    period_to: IntArray
    qty: np.ndarray

    def __len__(self) -> int:
        return len(self.ore)

    @property
    def signed(self) -> IntArray:
        return self.ore if self.dk == "D" else -self.ore


@dataclass
class Ledger:
    """Postings stored as numpy chunks (memory stays O(rows x 8 bytes), not Python objects)."""

    chunks: list[Chunk] = field(default_factory=list)
    #: Rows of each chunk already reversed by a correction (chunk index -> row indexes).
    reversed_rows: dict[int, IntArray] = field(default_factory=dict)

    def add(self, account: str, cc: str, psp: str, dk: str, ore: Any, text: str, person: Any, a: Any, b: Any, qty: Any, unit: str) -> None:
        """Add postings; array arguments give one posting per element, scalars are broadcast."""
        ore_arr = np.atleast_1d(np.asarray(ore, dtype=np.int64))
        n = len(ore_arr)

        def arr(x: Any, dtype: Any) -> np.ndarray:
            v = np.atleast_1d(np.asarray(x, dtype=dtype))
            return np.broadcast_to(v, (n,)).copy() if len(v) != n else v

        if n:
            self.chunks.append(Chunk(account, cc, psp, dk, text, unit, ore_arr, arr(person, np.int64), arr(a, np.int64), arr(b, np.int64), arr(qty, float)))

    def __len__(self) -> int:
        return sum(len(c) for c in self.chunks)


def _overlap(start: IntArray, end_eff: IntArray, m: Span) -> tuple[IntArray, IntArray, IntArray]:
    a = np.maximum(start, m.first)
    b = np.minimum(end_eff, m.last)
    idx = np.flatnonzero(a <= b)
    return idx, a[idx], b[idx]


def _full_month_days(m: Span) -> int:
    d = from_day(m.first)
    nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return (nxt - dt.date(d.year, d.month, 1)).days


class CostBook:
    """Person cost per year: direct (registrant postings) and imputed (activity x unit price)."""

    def __init__(self, n_persons: int, years: list[int]) -> None:
        self.years = years
        self.direct = np.zeros((len(years), n_persons), dtype=np.int64)
        self.imputed = np.zeros((len(years), n_persons), dtype=np.int64)
        self.imputed_by_dept: dict[tuple[int, str], int] = {}

    def add_imputed(self, year: int, dept: str, person: IntArray, ore: IntArray) -> None:
        y = self.years.index(year)
        np.add.at(self.imputed[y], person, ore)
        key = (year, dept)
        self.imputed_by_dept[key] = self.imputed_by_dept.get(key, 0) + int(ore.sum())


@dataclass
class FinalRecords:
    """The records as the warehouse holds them after the last nightly delivery (late registrations
    and corrections applied): the imputed cost of the truth is priced on them, while the postings
    follow the activities as they happened."""

    activities: dict[str, Activities]
    enrolments: Enrolments
    medfin: tuple[IntArray, IntArray, IntArray]


def catalogue_of(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The priced services of the profile: its service catalogue and the jobcenter's activities."""
    return {**raw["services"], **jobcenter_catalogue(raw)}


def price_unit(unit: str) -> str:
    """The unit-price file's unit of a catalogue unit (`dag`, `time`, `samtale`)."""
    return {"time": "kr. pr. time", "samtale": "kr. pr. samtale"}.get(unit, "kr. pr. dag")


def unit_prices(world: World) -> list[UnitPrice]:
    """Unit prices per year for every service whose cost is imputed or reported."""
    raw = world.profile.raw
    growth = float(raw["annual_price_growth"])
    rate_growth = float(raw["benefits"]["annual_rate_growth"])
    out: list[UnitPrice] = []
    for year in world.years():
        for code, spec in catalogue_of(raw).items():
            if float(spec["price"]) <= 0:
                continue
            unit = price_unit(spec["unit"])
            out.append(UnitPrice(year, code, spec["label"], spec["paragraph"], spec["function"], unit, float(price_in_year(float(spec["price"]), year,
                growth)), spec["posting"] == "registrant"))
        for t in raw["placements"]["types"]:
            out.append(UnitPrice(year, f"anbringelse_{t['code']}", t["label"], raw["placements"]["paragraph"], t["function"], "kr. pr. dag",
                float(price_in_year(float(t["price"]), year, growth)), True))
        for group in STATES[1:]:
            rate = raw["benefits"]["rates"][group]
            sats = float(np.round(float(rate["sats"]) * (1.0 + rate_growth) ** (year - 2025), 2))
            per_day = sats / 7.0 if "uge" in rate["unit"] else sats * 12.0 / 365.0
            per_day *= float(raw["benefit_ledger"][group].get("municipal_share", 1.0))
            fn = raw["benefit_ledger"][group]["function"]
            out.append(UnitPrice(year, group, group, "", fn, "kr. pr. dag", round(per_day, 2), raw["benefit_ledger"][group]["posting"] == "registrant"))
        for prog in raw.get("programmes", []):
            per_day = float(price_in_year(float(prog["monthly_price"]), year, growth)) * 12.0 / 365.0
            out.append(UnitPrice(year, prog["code"], prog["label"], "", prog["function"], "kr. pr. dag", round(per_day, 2), False))
    return out


def build_ledger(
    world: World,
    periods: Periods,
    activities: dict[str, Activities],
    medfin: tuple[IntArray, IntArray, IntArray],
    enrolments: Enrolments,
    prices: list[UnitPrice],
    final_periods: Periods | None = None,
    history: Spells | None = None,
    final_records: FinalRecords | None = None,
) -> tuple[Ledger, CostBook]:
    """All postings of the history and the person cost they represent.

    ``periods`` are the benefit periods as known on the ledger's delivery day: payments and
    bills follow them. ``final_periods`` are the same periods after the last nightly delivery
    (back-dated ends applied): the imputed cost of benefits billed in aggregate is computed
    from them, since that is what a warehouse sees after the last night (default: ``periods``).
    ``history`` holds the persons' benefit spells before the history window, for the week
    count of the refund staircase. ``final_records`` holds the other records after the last nightly
    delivery: the imputed cost (the truth) is priced on them (default: the ones posted).
    """
    raw = world.profile.raw
    rng = world.rng("ledger")
    price_of = {(p.year, p.code): p.price for p in prices}
    ledger = Ledger()
    book = CostBook(len(world.population), world.years())
    end = world.end
    months = [m for m in world.months]
    final = periods if final_periods is None else final_periods
    refund_cfg = (raw.get("refunds") or {}).get("benefits") or {}
    refund_groups = set(refund_cfg.get("groups", []))
    empty = np.zeros(0, dtype=np.int64)
    offsets = (staircase_offsets(periods.person, periods.start, periods.end, history or Spells(empty, empty, empty, empty),
                                 end, int(refund_cfg["reset_after_days"])) if refund_groups else np.zeros(len(periods), dtype=np.int64))
    refundable: list[tuple[int, str, Span, np.ndarray]] = []  # (chunk index, group, month, refunded share of each posting)

    # 1-2. Benefits: registrant postings per person and month; aggregate bills per month.
    b_end = np.where(periods.end == NONE, end, periods.end)
    f_end = np.where(final.end == NONE, end, final.end)
    weekly = np.array(["uge" in u for u in periods.unit])
    monthly_amount = np.where(weekly, periods.amount * 52.0 / 12.0, periods.amount)
    for m in months:
        year = from_day(m.first).year
        ym = from_day(m.first).strftime("%Y-%m")
        full = _full_month_days(m)
        idx, a, b = _overlap(periods.start, b_end, m)
        days = b - a + 1
        st = periods.state[idx]
        f_idx, f_a, f_b = _overlap(final.start, f_end, m)
        f_days = f_b - f_a + 1
        f_st = final.state[f_idx]
        for g_i, group in enumerate(STATES[1:], start=1):
            cfg = raw["benefit_ledger"][group]
            dept = department_of(cfg["function"])
            if cfg["posting"] == "registrant":
                sel = st == g_i
                if not sel.any():
                    continue
                ore = np.round(monthly_amount[idx[sel]] * days[sel] / full * 100).astype(np.int64)
                ledger.add(cfg["account"], COST_CENTRES[dept], "", "D", ore, f"{group} {ym}", periods.person[idx[sel]], a[sel], b[sel], days[sel], "DAG")
                np.add.at(book.direct[book.years.index(year)], periods.person[idx[sel]], ore)
                if group in refund_groups:
                    first_no = offsets[idx[sel]] + (a[sel] - periods.start[idx[sel]])
                    refundable.append((len(ledger.chunks) - 1, group, m, staircase_fraction(first_no, days[sel], refund_cfg["staircase"])))
            else:
                sel = st == g_i
                if sel.any():
                    bill = np.round(days[sel] * price_of[(year, group)] * 100).astype(np.int64)
                    ledger.add(cfg["account"], COST_CENTRES[dept], "", "D", int(bill.sum()), f"{group} afregning {ym}", -1, m.first, m.last,
                        int(days[sel].sum()), "DAG")
                f_sel = f_st == g_i
                if f_sel.any():
                    ore = np.round(f_days[f_sel] * price_of[(year, group)] * 100).astype(np.int64)
                    book.add_imputed(year, dept, final.person[f_idx[f_sel]], ore)

    # 3-4. Service activities (and the jobcenter's conversations and offers).
    catalogue = catalogue_of(raw)
    posted: dict[tuple[str, str], int] = {}  # (code, month) -> øre posted without CPR
    placement_types = {f"anbringelse_{t['code']}": t for t in raw["placements"]["types"]}
    for _source, act in activities.items():
        if not len(act):
            continue
        a_end = act.effective_end(end)
        codes = np.array(act.service, dtype=object)
        providers = np.array(act.provider, dtype=object)
        for code in sorted(set(act.service)):
            if code in placement_types:
                t = placement_types[code]
                account, function, posting, overhead, unit = t["account"], t["function"], "registrant", 0.0, "dag"
            else:
                spec = catalogue[code]
                if float(spec["price"]) <= 0:
                    continue
                account, function, posting = spec["account"], spec["function"], spec["posting"]
                overhead, unit = float(spec.get("overhead", 0.0)), spec["unit"]
            dept = department_of(function)
            rows = np.flatnonzero(codes == code)
            for m in months:
                year = from_day(m.first).year
                ym = from_day(m.first).strftime("%Y-%m")
                idx, a, b = _overlap(act.start[rows], a_end[rows], m)
                if not len(idx):
                    continue
                r = rows[idx]
                days = b - a + 1
                if posting == "registrant":
                    ore = np.round(days * act.price[r] * 100).astype(np.int64)
                    ledger.add(account, COST_CENTRES[dept], "", "D", ore, f"{code} {ym}", act.person[r], a, b, days, "DAG")
                    np.add.at(book.direct[book.years.index(year)], act.person[r], ore)
                else:
                    ore, qty, qunit = _activity_ore(unit, days, act.hours[r], price_of[(year, code)])
                    if final_records is None:
                        book.add_imputed(year, dept, act.person[r], ore)
                    for prov in sorted(set(providers[r].tolist())):
                        sel = providers[r] == prov
                        total = int(round(int(ore[sel].sum()) * (1.0 + overhead)))
                        cc = f"{COST_CENTRES[dept][:3]}{(sum(map(ord, prov)) % 90) + 10:02d}"
                        ledger.add(account, cc, "", "D", total, f"{prov} {ym}", -1, m.first, m.last, round(float(qty[sel].sum()), 2), qunit)
                        posted[(code, m.key)] = posted.get((code, m.key), 0) + total
    if final_records is not None:
        _impute_activities(world, book, final_records.activities, catalogue, price_of)

    # 5. Regional co-financing: person amounts, one bill a month.
    mf_person, mf_month_first, mf_ore = medfin
    mf_account = raw["medfinansiering"]["account"]
    f_person, f_month_first, f_ore = medfin if final_records is None else final_records.medfin
    for m in months:
        f_sel = f_month_first == m.first
        if f_sel.any():
            book.add_imputed(from_day(m.first).year, "sundhed", f_person[f_sel], f_ore[f_sel])
        sel = mf_month_first == m.first
        if not sel.any():
            continue
        ledger.add(mf_account, "44900", "", "D", int(mf_ore[sel].sum()), f"Medfinansiering {from_day(m.first):%Y-%m}", -1, m.first, m.last,
            int(sel.sum()), "STK")

    # 6. Programmes (coordinators' time, on the programme's PSP element).
    progs = {p["code"]: p for p in raw.get("programmes", [])}
    e_end = np.where(enrolments.end == NONE, end, enrolments.end)
    e_code = np.array(enrolments.programme, dtype=object)
    f_enr = enrolments if final_records is None else final_records.enrolments
    f_end = np.where(f_enr.end == NONE, end, f_enr.end)
    f_code = np.array(f_enr.programme, dtype=object)
    for k, (code, prog) in enumerate(progs.items()):
        psp = psp_element("XG", world.profile.municipality_code, 100 * (k + 1), 1)
        rows = np.flatnonzero(e_code == code)
        f_rows = np.flatnonzero(f_code == code)
        dept = department_of(prog["function"])
        for m in months:
            year = from_day(m.first).year
            f_idx, f_a, f_b = _overlap(f_enr.start[f_rows], f_end[f_rows], m)
            if len(f_idx):
                book.add_imputed(year, dept, f_enr.person[f_rows[f_idx]], np.round((f_b - f_a + 1) * price_of[(year, code)] * 100).astype(np.int64))
            idx, a, b = _overlap(enrolments.start[rows], e_end[rows], m)
            if not len(idx):
                continue
            days = b - a + 1
            ore = np.round(days * price_of[(year, code)] * 100).astype(np.int64)
            ledger.add(prog["account"], COST_CENTRES[dept], psp, "D", int(ore.sum()), f"{prog['label']} {from_day(m.first):%Y-%m}", -1, m.first, m.last,
                int(days.sum()), "DAG")

    # 7. Overheads: kroner per resident and year, for the residents of each day.
    growth = float(raw["annual_price_growth"])
    for item in raw.get("overheads", []):
        for m in months:
            year = from_day(m.first).year
            per_day = float(price_in_year(float(item["amount_per_resident"]), year, growth)) / YEAR_DAYS
            ore = int(round(per_day * world.resident_days(m.first, m.last) * 100))
            if item.get("less"):  # part of the budget posted separately (the conversations' caseworker time)
                ore = max(0, ore - posted.get((str(item["less"]), m.key), 0))
            ledger.add(item["account"], item["cost_centre"], "", "D", ore, f"{item['label']} {from_day(m.first):%Y-%m}", -1, m.first, m.last, 0, "")

    final_ore = _post_corrections(ledger, book, rng)
    _post_benefit_refunds(ledger, refundable, final_ore)
    _post_high_cost_refunds(world, ledger)
    for account, cc, psp, text, ore, a, b in construction_postings(world, rng):  # type: ignore[assignment]  # ore: an array above, one posting in øre here
        ledger.add(account, cc, psp, "D", ore, text, -1, a, b, 0, "")
    return ledger, book


def _activity_ore(unit: str, days: IntArray, hours: np.ndarray, up: float) -> tuple[IntArray, np.ndarray, str]:
    """Øre of own-operation record-months at unit price ``up`` (per day, per hour of the weekly hours,
    or per conversation: a conversation is a one-day record), with the posting's quantity and unit."""
    if unit == "time":
        return np.round(days * hours / 7.0 * up * 100).astype(np.int64), days * hours / 7.0, "TIM"
    ore = np.round(days * up * 100).astype(np.int64)
    return ore, days.astype(float), ("STK" if unit == "samtale" else "DAG")


def _impute_activities(
    world: World, book: CostBook, activities: dict[str, Activities], catalogue: dict[str, Any], price_of: dict[tuple[int, str], float]
) -> None:
    """Imputed cost of the own operations (not registrant-posted) of ``activities``, per person and
    year, on the unit price's department: the cost figures of the truth."""
    end = world.end
    for act in activities.values():
        if not len(act):
            continue
        a_end = act.effective_end(end)
        codes = np.array(act.service, dtype=object)
        for code in sorted(set(act.service)):
            spec = catalogue.get(code)
            if spec is None or spec["posting"] == "registrant" or float(spec["price"]) <= 0:
                continue
            dept = department_of(spec["function"])
            rows = np.flatnonzero(codes == code)
            for m in world.months:
                idx, a, b = _overlap(act.start[rows], a_end[rows], m)
                if not len(idx):
                    continue
                year = from_day(m.first).year
                ore, _, _ = _activity_ore(spec["unit"], b - a + 1, act.hours[rows[idx]], price_of[(year, code)])
                book.add_imputed(year, dept, act.person[rows[idx]], ore)


def nightly_reversals(
    ledger: Ledger, book: CostBook, nights: list[int], share: float, rng: np.random.Generator
) -> list[tuple[int, Ledger]]:
    """Corrections the ledger delivers on the nights after the end date: a few registrant operating
    postings (``share`` per night) are reversed on a new voucher (``K``, the same account, cost
    centre, CPR and period) and re-posted with a corrected amount (``D``); a voucher is never
    changed in place. Returns (night, postings) and keeps ``book``'s direct cost the final one.
    Refunds are settled on the amounts known on the end date (a night's difference is not)."""
    out: list[tuple[int, Ledger]] = []
    candidates = [i for i, c in enumerate(ledger.chunks) if c.person[0] >= 0 and c.dk == "D" and dranst_of(c.account) == DRANST_OPERATING]
    for day in nights:
        night = Ledger()
        for i in candidates:
            chunk = ledger.chunks[i]
            free = np.ones(len(chunk), dtype=bool)
            free[ledger.reversed_rows.get(i, np.zeros(0, dtype=np.int64))] = False
            hit = np.flatnonzero(free & (rng.random(len(chunk)) < share))
            if not len(hit):
                continue
            new_ore = np.maximum(np.round(chunk.ore[hit] * rng.uniform(0.6, 1.15, len(hit))).astype(np.int64), 1)
            args = (chunk.person[hit], chunk.period_from[hit], chunk.period_to[hit], chunk.qty[hit], chunk.unit)
            night.add(chunk.account, chunk.cost_centre, chunk.psp, "K", chunk.ore[hit], "Tilbageført: " + chunk.text, *args)
            night.add(chunk.account, chunk.cost_centre, chunk.psp, "D", new_ore, "Korrigeret: " + chunk.text, *args)
            ledger.reversed_rows[i] = np.concatenate([ledger.reversed_rows.get(i, np.zeros(0, dtype=np.int64)), hit])
            years = ymd(chunk.period_from[hit])[0]
            for y in np.unique(years).tolist():
                sel = years == y
                if int(y) in book.years:
                    np.add.at(book.direct[book.years.index(int(y))], chunk.person[hit][sel], new_ore[sel] - chunk.ore[hit][sel])
        out.append((day, night))
    return out


def _post_corrections(ledger: Ledger, book: CostBook, rng: np.random.Generator) -> dict[int, IntArray]:
    """Reverse (K) a few registrant postings and re-post them (D) with another amount.

    Returns each registrant chunk's final amounts (after its corrections), by chunk index.
    """
    final: dict[int, IntArray] = {}
    for i in [i for i, c in enumerate(ledger.chunks) if c.person[0] >= 0]:
        chunk = ledger.chunks[i]
        final[i] = chunk.ore
        hit = np.flatnonzero(rng.random(len(chunk)) < REVERSAL_SHARE)
        if not len(hit):
            continue
        new_ore = np.round(chunk.ore[hit] * rng.uniform(0.7, 1.1, len(hit))).astype(np.int64)
        args = (chunk.person[hit], chunk.period_from[hit], chunk.period_to[hit], chunk.qty[hit], chunk.unit)
        ledger.add(chunk.account, chunk.cost_centre, "", "K", chunk.ore[hit], "Tilbageført: " + chunk.text, *args)
        ledger.add(chunk.account, chunk.cost_centre, "", "D", new_ore, "Korrigeret: " + chunk.text, *args)
        final[i] = chunk.ore.copy()
        final[i][hit] = new_ore
        ledger.reversed_rows[i] = hit
        years = ymd(chunk.period_from[hit])[0]
        for y in np.unique(years).tolist():
            sel = years == y
            np.add.at(book.direct[book.years.index(int(y))], chunk.person[hit][sel], new_ore[sel] - chunk.ore[hit][sel])
    return final


def _post_benefit_refunds(ledger: Ledger, refundable: list[tuple[int, str, Span, np.ndarray]], final_ore: dict[int, IntArray]) -> None:
    """One credit per refund account and month: the staircase share of the final benefit amounts."""
    for chunk_i, group, m, share in refundable:
        chunk = ledger.chunks[chunk_i]
        ore = int(np.round(final_ore[chunk_i] * share).sum())
        if ore:
            ledger.add(with_dranst(chunk.account, DRANST_REFUND), chunk.cost_centre, "", "K", ore,
                       f"Refusion {group} {from_day(m.first):%Y-%m}", -1, m.first, m.last, 0, "")


def _post_high_cost_refunds(world: World, ledger: Ledger) -> None:
    """Refunds of particularly expensive cases, per person and month with CPR (see refunds.py)."""
    cfg = (world.profile.raw.get("refunds") or {}).get("high_cost")
    if not cfg:
        return
    functions = set(cfg["functions"])
    parts = [c for c in ledger.chunks if c.person[0] >= 0 and dranst_of(c.account) == DRANST_OPERATING
             and function_of_account(c.account) in functions]
    if not parts:
        return
    person = np.concatenate([c.person for c in parts])
    month = np.concatenate([month_index(c.period_from) for c in parts])
    account = np.concatenate([np.full(len(c), c.account, dtype=object) for c in parts])
    signed = np.concatenate([c.signed for c in parts])
    growth = float(world.profile.raw["annual_price_growth"])
    p, m, acc, ore = high_cost_refunds(person, month, account, signed, cfg, growth)
    spans = {world.first.year * 12 + world.first.month - 1 + i: s for i, s in enumerate(world.months)}
    for a in sorted(set(acc.tolist())):
        for dk, sign in (("K", 1), ("D", -1)):
            sel = (acc == a) & (np.sign(ore) == sign)
            if not sel.any():
                continue
            first = np.array([spans[int(x)].first for x in m[sel]], dtype=np.int64)
            last = np.array([spans[int(x)].last for x in m[sel]], dtype=np.int64)
            dept = department_of(function_of_account(a))
            ledger.add(with_dranst(a, DRANST_REFUND), COST_CENTRES[dept], "", dk, np.abs(ore[sel]),
                       "Refusion særligt dyre enkeltsager", p[sel], first, last, 0, "")


def medfinansiering(world: World, comp: np.ndarray) -> tuple[IntArray, IntArray, IntArray]:
    """(person, first day of month, amount in øre) of regional co-financing bills."""
    from helhed.generator.dates import age_on
    from helhed.generator.population import residents_on
    from helhed.generator.profile import parse_band

    rng = world.rng("health")
    cfg = world.profile.raw["medfinansiering"]
    bands = [(parse_band(k), float(v)) for k, v in cfg["monthly_share_by_age"].items()]
    mean, sigma = float(cfg["mean_amount"]), float(cfg["sigma"])
    mu = np.log(mean) - sigma**2 / 2
    out_p, out_m, out_o = [], [], []
    boost = np.clip(np.sqrt(comp) / 2.0, 0.5, 3.0)
    for m in world.months:
        res = np.flatnonzero(residents_on(world.population, m.first))
        age = age_on(world.population.birth[res], m.first)
        share = np.zeros(len(res))
        for (lo, hi), s in bands:
            share[(age >= lo) & (age <= hi)] = s
        hit = rng.random(len(res)) < np.minimum(share * boost[res], 0.9)
        p = res[hit]
        amount = np.exp(mu + sigma * rng.standard_normal(len(p)))
        out_p.append(p)
        out_m.append(np.full(len(p), m.first, dtype=np.int64))
        out_o.append(np.round(amount * 100).astype(np.int64))
    return np.concatenate(out_p), np.concatenate(out_m), np.concatenate(out_o)


def budgets(world: World, ledger: Ledger) -> list[tuple[int, str, str, str, int]]:
    """(year, account, cost centre, budget type, øre): adopted and corrected budgets per year."""
    rng = world.rng("ledger")
    actual: dict[tuple[int, str, str], int] = {}
    for c in ledger.chunks:
        years = ymd(c.period_from)[0]
        signed = c.signed
        for y in np.unique(years).tolist():
            key = (int(y), c.account, c.cost_centre)
            actual[key] = actual.get(key, 0) + int(signed[years == y].sum())
    rows: list[tuple[int, str, str, str, int]] = []
    for (year, acc, cc) in sorted(actual):
        value = actual[(year, acc, cc)]
        adopted = int(round(value * rng.uniform(0.92, 1.06) / 100_000)) * 100_000
        corrected = int(round((adopted + value * rng.uniform(0.98, 1.02)) / 2 / 100_000)) * 100_000
        rows.append((year, acc, cc, "Oprindeligt budget", adopted))
        rows.append((year, acc, cc, "Korrigeret budget", corrected))
    return rows


def cost_truth(world: World, ledger: Ledger, book: CostBook) -> dict[str, Any]:
    """Cost concentration, registrant share, coverage and the ledger by dranst (docs/generator.md).

    Cost attributed to persons, the registrant share and coverage are measured on operating
    postings (dranst 1, gross of refunds); ``ledger_by_department_function_year`` adds the
    refunds (dranst 2), construction (dranst 3) and the net operating cost.
    """
    from helhed.generator.population import Population

    pop: Population = world.population
    out: dict[str, Any] = {
        "cost_concentration_by_year": {}, "registrant_share_by_year": {}, "coverage_by_department_year": {},
        "ledger_by_department_function_year": {}, "ledger_by_department_year": {},
    }  # fmt: skip
    dept_total: dict[tuple[int, str], int] = {}
    reg_total: dict[int, int] = {}
    all_total: dict[int, int] = {}
    direct_dept: dict[tuple[int, str], int] = {}
    by_dranst: dict[tuple[int, str, str, str], int] = {}  # (year, department, function, dranst) -> øre
    for c in ledger.chunks:
        years = ymd(c.period_from)[0]
        function = function_of_account(c.account)
        dept = department_of(function)
        dranst = dranst_of(c.account)
        signed = c.signed
        reg = c.person >= 0
        for y in np.unique(years).tolist():
            sel = years == y
            total = int(signed[sel].sum())
            key = (y, dept, function, dranst)
            by_dranst[key] = by_dranst.get(key, 0) + total
            if dranst != DRANST_OPERATING:
                continue
            dept_total[(y, dept)] = dept_total.get((y, dept), 0) + total
            all_total[y] = all_total.get(y, 0) + total
            r = int(signed[sel & reg].sum())
            if (sel & reg).any():
                reg_total[y] = reg_total.get(y, 0) + r
                direct_dept[(y, dept)] = direct_dept.get((y, dept), 0) + r
    for y_i, year in enumerate(book.years):
        first, last = to_day(dt.date(year, 1, 1)), to_day(dt.date(year, 12, 31))
        if first < world.start or last > world.end:
            continue  # only whole calendar years
        leave = world.resident_until()
        in_year = (pop.moved_in <= last) & (leave >= first)
        cost = (book.direct[y_i] + book.imputed[y_i])[in_year]
        total = int(cost.sum())
        ranked = np.sort(cost)[::-1]
        n = len(ranked)
        shares = {}
        for pct in (1, 3, 5, 10):
            k = int(np.ceil(n * pct / 100))
            shares[f"top_{pct}_pct_share"] = round(int(ranked[:k].sum()) / total, 4) if total else 0.0
        out["cost_concentration_by_year"][str(year)] = {
            "persons": n, "total_cost_kr": round(total / 100, 2), **shares,
        }  # fmt: skip
        out["registrant_share_by_year"][str(year)] = round(reg_total.get(year, 0) / all_total[year], 4) if all_total.get(year) else 0.0
        cov = {}
        for dept in sorted({d for (yy, d) in dept_total if yy == year}):
            tot = dept_total[(year, dept)]
            attributed = direct_dept.get((year, dept), 0) + book.imputed_by_dept.get((year, dept), 0)
            cov[dept] = {
                "ledger_kr": round(tot / 100, 2), "direct_kr": round(direct_dept.get((year, dept), 0) / 100, 2),
                "imputed_kr": round(book.imputed_by_dept.get((year, dept), 0) / 100, 2),
                "coverage": round(attributed / tot, 4) if tot else 0.0,
            }  # fmt: skip
        out["coverage_by_department_year"][str(year)] = cov
        functions: dict[str, dict[str, dict[str, float]]] = {}
        departments: dict[str, dict[str, float]] = {}
        dranst_kinds = (DRANST_OPERATING, DRANST_REFUND, DRANST_CONSTRUCTION)
        for dept in sorted({k[1] for k in by_dranst if k[0] == year}):
            fns = sorted({k[2] for k in by_dranst if k[0] == year and k[1] == dept})
            functions[dept] = {f: _dranst_row(*(by_dranst.get((year, dept, f, d), 0) for d in dranst_kinds)) for f in fns}
            departments[dept] = _dranst_row(*(sum(by_dranst.get((year, dept, f, d), 0) for f in fns) for d in dranst_kinds))
        out["ledger_by_department_function_year"][str(year)] = functions
        out["ledger_by_department_year"][str(year)] = departments
    return out


def _dranst_row(gross: int, refunds: int, construction: int) -> dict[str, float]:
    """Signed kroner of one department or function: operating (dranst 1, gross of refunds),
    refunds (dranst 2, negative = credited), construction (dranst 3), net operating = the sum
    of the first two."""
    return {
        "gross_operating_kr": round(gross / 100, 2), "refunds_kr": round(refunds / 100, 2),
        "construction_kr": round(construction / 100, 2), "net_operating_kr": round((gross + refunds) / 100, 2),
    }  # fmt: skip
