"""The programme's own investment on its PSP element: start-up and running management.

Besides the coordinators' time per participant (``ledger.build_ledger`` posts it per month on
the programme's PSP element), a programme costs money that no participant carries: start-up
(development, training, IT) in its first months and a fixed monthly management cost (a
programme lead, meeting facilities). Both are posted on the programme's account, cost centre
and PSP element without a CPR, so the warehouse sees them as unattributed ledger amounts and
the investment view reads the programme's whole cost from the PSP element.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from helhed.generator.dates import from_day, to_day
from helhed.generator.ledger import COST_CENTRES, Ledger, department_of
from helhed.generator.refunds import psp_element
from helhed.generator.services import price_in_year
from helhed.generator.world import World

#: Months over which the start-up cost is spread, from the launch month.
STARTUP_MONTHS = 6


def _launch_day(world: World, prog: dict[str, Any]) -> int:
    return to_day(dt.date.fromisoformat(str(prog["launched"]))) if prog.get("launched") else world.start


def programme_psp(world: World, index: int) -> str:
    """The PSP element of the ``index``-th programme of the profile (as ``ledger.build_ledger``
    posts the coordinators' time): ``XG-0000<municipality code><100 x (index + 1)>-00001``."""
    return psp_element("XG", world.profile.municipality_code, 100 * (index + 1), 1)


def add_programme_investment(world: World, ledger: Ledger) -> None:
    """Post each programme's start-up and monthly management cost (profile ``investment_per_100k``).

    Amounts are 2025 kroner per 100,000 residents (the month's average residents), grown by the
    yearly price growth like the overheads, so a programme costs the same per resident in a
    municipality of any size.
    """
    growth = float(world.profile.raw["annual_price_growth"])
    for k, prog in enumerate(world.profile.raw.get("programmes", [])):
        spec = prog.get("investment_per_100k") or {}
        if not spec:
            continue
        psp = programme_psp(world, k)
        launch = _launch_day(world, prog)
        dept = department_of(prog["function"])
        startup_months = 0
        for m in world.months:
            if m.last < launch:
                continue
            d = from_day(m.first)
            year = d.year
            label = f"{prog['label']} {d:%Y-%m}"
            per_100k = world.resident_days(m.first, m.last) / m.days / 1e5
            if startup_months < STARTUP_MONTHS and float(spec.get("startup", 0)):
                amount = float(price_in_year(float(spec["startup"]), year, growth)) * per_100k / STARTUP_MONTHS
                ledger.add(prog["account"], COST_CENTRES[dept], psp, "D", int(np.round(amount * 100)),
                           f"Opstart: {label}", -1, m.first, m.last, 0, "")
                startup_months += 1
            if float(spec.get("monthly", 0)):
                amount = float(price_in_year(float(spec["monthly"]), year, growth)) * per_100k * m.days / 30.4375
                ledger.add(prog["account"], COST_CENTRES[dept], psp, "D", int(np.round(amount * 100)),
                           f"Ledelse og drift: {label}", -1, m.first, m.last, 0, "")
