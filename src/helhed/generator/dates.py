"""Calendar arithmetic on integer day numbers.

The generator works on whole days stored as ``int64`` "day numbers" (days since
1970-01-01, the numpy ``datetime64[D]`` epoch) so that millions of dates can be
compared and clipped with numpy instead of Python ``date`` objects. The helpers here
are the only place that converts between the two, so every module agrees on month and
quarter boundaries and on how an age is computed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

EPOCH = dt.date(1970, 1, 1)


def to_day(d: dt.date) -> int:
    """Day number of a date (days since 1970-01-01)."""
    return (d - EPOCH).days


def from_day(n: int) -> dt.date:
    """Date of a day number."""
    return EPOCH + dt.timedelta(days=int(n))


def shift_years(d: dt.date, years: int) -> dt.date:
    """Same month and day ``years`` later (29 February falls back to 28 February)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def ymd(days: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Split day numbers into year, month (1-12) and day (1-31) arrays."""
    d64 = days.astype("datetime64[D]")
    years = d64.astype("datetime64[Y]")
    months = d64.astype("datetime64[M]")
    y = years.astype(np.int64) + 1970
    m = months.astype(np.int64) - (y - 1970) * 12 + 1
    dd = (d64 - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, dd


def birthday_day(birth: IntArray, age: int) -> IntArray:
    """Day number of the ``age``-th birthday (a 29 February birthday falls on 1 March).

    Used by the simulation for eligibility windows (18 to 67 years); the published
    truth figures use :func:`age_on` instead, which is the exact legal age rule.
    """
    y, m, d = ymd(birth)
    month_start = ((y + age - 1970) * 12 + (m - 1)).astype("datetime64[M]").astype("datetime64[D]")
    return month_start.astype(np.int64) + (d - 1)


def age_on(birth: IntArray, day: int, parts: tuple[IntArray, IntArray, IntArray] | None = None) -> IntArray:
    """Completed years of age on ``day``: year difference, minus one before the birthday.

    ``age = year(day) - year(birth) - ((month(day), day(day)) < (month(birth), day(birth)))``.
    ``parts`` may pass ``ymd(birth)`` precomputed when ages are needed for many days.
    """
    by, bm, bd = ymd(birth) if parts is None else parts
    d = from_day(day)
    before = (d.month < bm) | ((d.month == bm) & (d.day < bd))
    return (d.year - by - before.astype(np.int64)).astype(np.int64)


@dataclass(frozen=True)
class Span:
    """A calendar span (month or quarter) clipped to the history window, inclusive days."""

    key: str  # "YYYY-MM" or "YYYYQn"
    first: int  # first day number inside the window
    last: int  # last day number inside the window

    @property
    def days(self) -> int:
        return self.last - self.first + 1


def months_between(start: dt.date, end: dt.date) -> list[Span]:
    """Calendar months touching ``[start, end]``, each clipped to that window."""
    spans: list[Span] = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        first = dt.date(y, m, 1)
        nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
        lo = max(first, start)
        hi = min(nxt - dt.timedelta(days=1), end)
        spans.append(Span(f"{y:04d}-{m:02d}", to_day(lo), to_day(hi)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return spans


def quarters_between(start: dt.date, end: dt.date) -> list[Span]:
    """Calendar quarters touching ``[start, end]``, each clipped to that window."""
    spans: list[Span] = []
    y, q = start.year, (start.month - 1) // 3 + 1
    while (y, q) <= (end.year, (end.month - 1) // 3 + 1):
        first = dt.date(y, 3 * q - 2, 1)
        nxt = dt.date(y + 1, 1, 1) if q == 4 else dt.date(y, 3 * q + 1, 1)
        lo = max(first, start)
        hi = min(nxt - dt.timedelta(days=1), end)
        spans.append(Span(f"{y:04d}Q{q}", to_day(lo), to_day(hi)))
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return spans


def iso(days: IntArray) -> list[str]:
    """ISO ``yyyy-mm-dd`` strings; negative sentinel (< -100000) gives ``""``."""
    out = np.datetime_as_string(np.where(days < -100000, 0, days).astype("datetime64[D]"), unit="D")
    return [("" if n < -100000 else s) for n, s in zip(days.tolist(), out.tolist())]


def dmy(days: IntArray) -> list[str]:
    """Danish ``dd-mm-yyyy`` strings; negative sentinel (< -100000) gives ``""``."""
    return [("" if s == "" else f"{s[8:10]}-{s[5:7]}-{s[0:4]}") for s in iso(days)]


#: Sentinel day number meaning "no date" (open end, not moved out, alive).
NONE = np.int64(-(10**9))
