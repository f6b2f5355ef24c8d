"""State refunds (dranst 2) and construction (dranst 3) in the ledger.

A municipal ledger is not only operating cost: the state refunds part of the income-support
benefits the jobcenter pays and of particularly expensive social cases, and departments
build. A warehouse that counts every posting as cost overstates the net cost a department
carries, so the generator posts both, as a real KMD Opus ledger has them, and the manifest
states gross operating cost, refunds, construction and net operating cost per department,
function and year. The models are simplified and documented in docs/generator.md:

* **Benefit refunds** (Lov om kommunernes finansiering af visse offentlige ydelser § 5,
  stk. 2, the 2016 refusion reform): 80 % of a benefit in the person's first 4 weeks on
  benefits, 40 % in weeks 5-26, 30 % in weeks 27-52, 20 % from week 53 (profile
  ``refunds.benefits``). Weeks = the person's benefit days (any group) since the last break
  of ``reset_after_days`` without a benefit, divided by 7. Settled per account and month
  without CPR, like the state's monthly settlement.
* **High-cost refunds** (SEL § 176, the central refund scheme): of a person's registrant-posted
  cost on the profile's functions in a calendar year, a share of the part above each
  threshold (profile ``refunds.high_cost``). Posted per person and month with CPR, as the
  year's running cost passes the thresholds, on the account of that month's largest expense.
* **Construction**: projects of the profile's ``construction`` list, each on its own PSP
  element, posted monthly without CPR.

A refund is a credit (``K``) on the expense account with dranst 2 (the account string's 6th
digit), e.g. ``557731001`` (kontanthjælp) -> ``557732001``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from helhed.generator.dates import NONE, IntArray, from_day, to_day, ymd
from helhed.generator.lifecourse import Spells
from helhed.generator.world import World

#: Position of the dranst digit in a 9-digit account string (function 5 digits, dranst 1, grouping 3).
DRANST_POSITION = 5
DRANST_OPERATING, DRANST_REFUND, DRANST_CONSTRUCTION = "1", "2", "3"
#: PSP element series of construction projects (programmes use 100, 200, ...).
CONSTRUCTION_PSP_SERIES = 300


def dranst_of(account: str) -> str:
    """``557732001`` -> ``"2"`` (the account string's 6th digit)."""
    return account[DRANST_POSITION]


def with_dranst(account: str, dranst: str) -> str:
    """The same function and grouping with another dranst: ``557731001``, 2 -> ``557732001``."""
    return account[:DRANST_POSITION] + dranst + account[DRANST_POSITION + 1 :]


def psp_element(prefix: str, municipality_code: str, series: int, serial: int) -> str:
    """A KMD Opus PSP element carrying the municipality code: ``XG-0000730100-00001``."""
    return f"{prefix}-{int(municipality_code):07d}{series:03d}-{serial:05d}"


# ------------------------------------------------------------------------- benefit refunds


def staircase_offsets(
    person: IntArray, start: IntArray, end: IntArray, history: Spells, end_day: int, reset_after_days: int
) -> IntArray:
    """Benefit days of each period's person before the period starts, since the last break.

    ``person/start/end`` are the delivered periods (end NONE = open to ``end_day``);
    ``history`` holds the same person's earlier spells (before the history window), so a
    person already long on benefits when the history starts is on the lower steps. A break of
    at least ``reset_after_days`` days without any benefit restarts the count.
    """
    n = len(person)
    p = np.concatenate([person, history.person])
    a = np.concatenate([start, history.start])
    b = np.concatenate([end, history.end])
    b = np.where(b == NONE, end_day, b)
    row = np.concatenate([np.arange(n), np.full(len(history), -1)])
    order = np.lexsort((a, p))
    p, a, b, row = p[order], a[order], b[order], row[order]
    length = b - a + 1
    new_chain = np.ones(len(p), dtype=bool)
    if len(p) > 1:
        new_chain[1:] = (p[1:] != p[:-1]) | (a[1:] - b[:-1] - 1 >= reset_after_days)
    total = np.cumsum(length) - length  # days before each spell, all persons
    chain_start = np.maximum.accumulate(np.where(new_chain, np.arange(len(p)), 0))
    before = total - total[chain_start]
    out = np.zeros(n, dtype=np.int64)
    mine = row >= 0
    out[row[mine]] = before[mine]
    return out


def staircase_fraction(first_day_no: IntArray, days: IntArray, steps: list[dict[str, Any]]) -> np.ndarray:
    """Refunded share of each posting's days: days ``first_day_no .. first_day_no + days - 1``
    of the person's count (0 = first benefit day) weighted by the step they fall on."""
    bounds = [(int(s["from_week"]) - 1) * 7 for s in steps] + [np.iinfo(np.int64).max]
    lo, hi = first_day_no, first_day_no + days
    weighted = np.zeros(len(days))
    for i, step in enumerate(steps):
        inside = np.clip(np.minimum(hi, bounds[i + 1]) - np.maximum(lo, bounds[i]), 0, None)
        weighted += inside * float(step["share"])
    return weighted / np.maximum(days, 1)


# ---------------------------------------------------------------------- high-cost refunds


def bracket_refund(cost_ore: np.ndarray, brackets: list[dict[str, Any]], index: np.ndarray) -> np.ndarray:
    """Refund (øre) of a yearly cost: each bracket's share of the part above its threshold and
    below the next one; thresholds (kroner at the price year) times ``index``."""
    refund = np.zeros(len(cost_ore))
    lows = [float(b["above"]) * 100 * index for b in brackets]
    for i, bracket in enumerate(brackets):
        upper = lows[i + 1] if i + 1 < len(brackets) else np.inf
        refund += float(bracket["share"]) * np.clip(np.minimum(cost_ore, upper) - lows[i], 0, None)
    return refund


def high_cost_refunds(
    person: IntArray, month: IntArray, account: np.ndarray, signed_ore: IntArray, cfg: dict[str, Any], growth: float
) -> tuple[IntArray, IntArray, np.ndarray, IntArray]:
    """(person, month, account, refund øre) per person and month from registrant expense postings.

    ``month`` = year x 12 + month - 1 of each posting's period. The refund of a month is the
    increase of the year's bracket refund on the running cost up to that month (negative if
    a correction lowered it); it goes to the dranst-2 account of the month's largest expense.
    """
    if not len(person):
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0, dtype=object), e
    accounts, acc_idx = np.unique(account, return_inverse=True)
    # Sum per (person, month, account), then per (person, month) with its largest account.
    key = (person * 100_000 + month) * len(accounts) + acc_idx
    ukey, inv = np.unique(key, return_inverse=True)
    amount = np.zeros(len(ukey), dtype=np.int64)
    np.add.at(amount, inv, signed_ore)
    pm, acc = ukey // len(accounts), ukey % len(accounts)
    order = np.lexsort((-amount, pm))
    pm, acc, amount = pm[order], acc[order], amount[order]
    first = np.ones(len(pm), dtype=bool)
    first[1:] = pm[1:] != pm[:-1]
    month_total = np.add.reduceat(amount, np.flatnonzero(first))
    pm, top_acc = pm[first], acc[first]
    p, m = pm // 100_000, pm % 100_000
    year = m // 12
    # Running cost per person and year.
    group = p * 10_000 + year
    new_group = np.ones(len(group), dtype=bool)
    new_group[1:] = group[1:] != group[:-1]
    running = np.cumsum(month_total)
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(group)), 0))
    before_group = np.where(group_start > 0, running[group_start - 1], 0)
    cum = running - before_group
    index = (1.0 + growth) ** (year - int(cfg["price_year"])).astype(float)
    total = np.round(bracket_refund(cum.astype(float), cfg["brackets"], index)).astype(np.int64)
    previous = np.where(new_group, 0, np.concatenate([[0], total[:-1]]))
    increment = total - previous
    hit = increment != 0
    return p[hit], m[hit], accounts[top_acc[hit]], increment[hit]


# --------------------------------------------------------------------------- construction


def construction_postings(world: World, rng: np.random.Generator) -> list[tuple[str, str, str, str, int, int, int]]:
    """(account, cost centre, PSP element, text, øre, first day, last day) of construction bills.

    Each profile project recurs every ``every_months`` months from ``first_month`` (months
    from the history's first month; negative = already running); a project costs
    ``amount_per_resident`` (2025 kroner, deflated by ``annual_price_growth`` to its start
    year) times the residents on its first day, spread over its ``months`` with random
    monthly weights. Only months inside the history are posted.
    """
    raw = world.profile.raw
    growth = float(raw["annual_price_growth"])
    code = world.profile.municipality_code
    months = world.months
    first_index = world.first.year * 12 + world.first.month - 1
    last_index = world.last.year * 12 + world.last.month - 1
    daily = world.residents_by_day()
    out: list[tuple[str, str, str, str, int, int, int]] = []
    for k, project in enumerate(raw.get("construction", [])):
        length, every = int(project["months"]), int(project["every_months"])
        begin = first_index + int(project["first_month"])
        while begin + length - 1 < first_index:
            begin += every
        serial = 1
        while begin <= last_index:
            start_day = to_day(dt.date(begin // 12, begin % 12 + 1, 1))
            residents = int(daily[int(np.clip(start_day - world.start, 0, len(daily) - 1))])
            price = float(project["amount_per_resident"]) * (1.0 + growth) ** (begin // 12 - 2025)
            weights = rng.gamma(4.0, 1.0, length)
            ore = np.round(weights / weights.sum() * price * residents * 100).astype(np.int64)
            psp = psp_element("XA", code, CONSTRUCTION_PSP_SERIES + k + 1, serial)
            for j in range(length):
                idx = begin + j
                if first_index <= idx <= last_index:
                    span = months[idx - first_index]
                    out.append((project["account"], project["cost_centre"], psp,
                                f"{project['label']} {from_day(span.first):%Y-%m}", int(ore[j]), span.first, span.last))
            begin += every
            serial += 1
    return out


def month_index(days: IntArray) -> IntArray:
    """year x 12 + month - 1 of day numbers."""
    y, m, _ = ymd(days)
    return (y * 12 + m - 1).astype(np.int64)
