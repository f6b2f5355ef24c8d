"""A sample decision register (beslutninger): budget reallocations approved at budget reviews.

The economy department records the reallocations (budgetomplaceringer) decided at a budget
review in a version-controlled semicolon file, delivered whole like any other source
(``landing/beslutninger/<date>/budgetbeslutninger_<yyyymmdd>.csv``, docs/economics.md).
A decision is one or more *legs*: a leg takes ``Beløb`` from one department's budget on one
kontoplan function (``Fra forvaltning``) or gives it to one (``Til forvaltning``); within a
decision the amounts taken equal the amounts given.

The sample holds three valid decisions of the delivery's year, one per reallocation model of
the domain brief (section 7): the network model between service departments for each
programme, and a separate unit (``helhed``) funded by the jobcenter. Each takes a share of
the adopted budget of the first candidate function that has one (so a small municipality
without, say, residential institutions still gets a sensible register), rounded to whole
thousands of kroner, and gives it to the receiving legs in fixed shares (the last leg takes
the rounding remainder, so every decision balances). A decision is written only when its
review's decision date falls on or before the delivery date. Nothing here is random: the
same arguments give the same file.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from helhed.generator.ledger import function_of_account

HEADER = [
    "Beslutnings-id", "Budgetopfølgning", "Program", "Fra forvaltning", "Til forvaltning",
    "Funktion", "Beløb", "Besluttet den", "Note",
]  # fmt: skip
#: Days from a review's date to the committee meeting that decides its reallocations.
DAYS_TO_DECISION = 25
ADOPTED = "Oprindeligt budget"


@dataclass(frozen=True)
class Decision:
    number: int
    review_code: str
    review_month: int  # as in the default calendar (seed budget_review_calendar)
    programme: str
    note: str
    from_department: str
    from_functions: tuple[str, ...]  # candidates, in order of preference
    share: float  # of the chosen function's adopted budget
    to_legs: tuple[tuple[str, str, float], ...]  # (department, function, share of the amount)


SAMPLE: tuple[Decision, ...] = (
    Decision(1, "BO2", 6, "EN_PLAN", "Netværksmodellen: færre på kontanthjælp, flere i kontaktperson- og genoptræningsforløb",
             "beskaeftigelse", ("5.57.73", "5.57.71"), 0.02,
             (("voksen_social", "5.38.53", 0.6), ("sundhed", "4.62.82", 0.4))),
    Decision(2, "BO3", 9, "FAMILIE", "Netværksmodellen: færre anbringelser, flere forældre i beskæftigelsesindsats",
             "boern_familie", ("5.28.23", "5.28.20", "5.28.22", "5.28.21"), 0.02,
             (("beskaeftigelse", "5.68.90", 1.0),)),
    Decision(3, "BO3", 9, "EN_PLAN", "Særskilt enhed: koordinatorer flyttet fra jobcentret til enheden",
             "beskaeftigelse", ("5.68.90",), 0.01,
             (("helhed", "5.68.90", 1.0),)),
)  # fmt: skip


def _review_date(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _kroner(value: int) -> str:
    return f"{value},00"


def adopted_by_function(budget: Sequence[tuple[int, str, str, str, int]], year: int) -> dict[str, int]:
    """Adopted budget of ``year`` per kontoplan function, whole kroner (budget rows are in øre)."""
    out: dict[str, int] = {}
    for budget_year, account, _cost_centre, kind, ore in budget:
        if budget_year == year and kind == ADOPTED:
            function = function_of_account(account)
            out[function] = out.get(function, 0) + ore // 100
    return out


def decision_rows(delivery: dt.date, budget: Sequence[tuple[int, str, str, str, int]],
                  programmes: Sequence[str]) -> Iterator[list[str]]:
    """The register as known on ``delivery``: the sample decisions of ``delivery``'s year that
    were decided by then, for the programmes the profile has, legs in file order."""
    year = delivery.year
    adopted = adopted_by_function(budget, year)
    for decision in SAMPLE:
        decided = _review_date(year, decision.review_month) + dt.timedelta(days=DAYS_TO_DECISION)
        source = next((f for f in decision.from_functions if adopted.get(f, 0) > 0), None)
        if decided > delivery or decision.programme not in programmes or source is None:
            continue
        total = max(1_000, round(adopted[source] * decision.share / 1_000) * 1_000)
        common = [f"{year}-{decision.review_code}-{decision.number:02d}", f"{year}-{decision.review_code}", decision.programme]
        tail = [decided.strftime("%d-%m-%Y"), decision.note]
        yield [*common, decision.from_department, "", source, _kroner(total), *tail]
        given = 0
        for i, (department, function, share) in enumerate(decision.to_legs):
            last = i == len(decision.to_legs) - 1
            amount = total - given if last else round(total * share / 1_000) * 1_000
            given += amount
            yield [*common, "", department, function, _kroner(amount), *tail]


__all__ = ["HEADER", "SAMPLE", "adopted_by_function", "decision_rows"]
