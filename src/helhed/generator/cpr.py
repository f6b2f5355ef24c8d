"""Fake but well-formed CPR numbers.

A CPR number is ``ddmmyy-ssss``: the birth date, then a serial whose first digit (the 7th
of the number) tells the century and whose last digit is odd for men and even for women.
The loader and its quality gates validate exactly these rules, so the generator must
produce numbers that pass them (and the bad-data mode must produce ones that fail).
The modulus-11 check is not used: CPR has not required it since 2007.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from helhed.generator.dates import IntArray, ymd

#: Allowed 7th digits per birth-year range (CPR-kontoret's century rule).
_CENTURY_RULES: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (1858, 1899, (5, 6, 7, 8)),
    (1900, 1936, (0, 1, 2, 3)),
    (1937, 1999, (0, 1, 2, 3, 4, 9)),
    (2000, 2036, (4, 5, 6, 7, 8, 9)),
    (2037, 2057, (5, 6, 7, 8)),
)


def century_of(yy: int, digit7: int) -> int | None:
    """The century (1800, 1900, 2000) a two-digit year and 7th digit denote, per the CPR rule."""
    if digit7 in (0, 1, 2, 3):
        return 1900
    if digit7 in (4, 9):
        return 2000 if yy <= 36 else 1900
    if digit7 in (5, 6, 7, 8):
        return 2000 if yy <= 57 else 1800
    return None


def parse_cpr(value: str) -> tuple[dt.date, str] | None:
    """Birth date and sex (``"M"``/``"K"``) of a well-formed CPR number, else ``None``."""
    if len(value) != 10 or not value.isdigit():
        return None
    dd, mm, yy, d7 = int(value[0:2]), int(value[2:4]), int(value[4:6]), int(value[6])
    century = century_of(yy, d7)
    if century is None:
        return None
    try:
        born = dt.date(century + yy, mm, dd)
    except ValueError:
        return None
    return born, ("M" if int(value[9]) % 2 == 1 else "K")


def make_cprs(birth: IntArray, male: np.ndarray, rng: np.random.Generator) -> list[str]:
    """One unique CPR number per person, consistent with birth date and sex."""
    y, m, d = ymd(birth)
    n = len(birth)
    allowed = np.full((n, 6), -1, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    for lo, hi, digits in _CENTURY_RULES:
        sel = (y >= lo) & (y <= hi)
        allowed[sel, : len(digits)] = digits
        counts[sel] = len(digits)
    if (counts == 0).any():
        raise ValueError("birth year outside the range CPR numbers can express (1858-2057)")

    def draw(idx: np.ndarray) -> np.ndarray:
        pick = (rng.random(len(idx)) * counts[idx]).astype(np.int64)
        d7 = allowed[idx, pick]
        mid = rng.integers(0, 100, len(idx))
        last = 2 * rng.integers(0, 5, len(idx)) + male[idx].astype(np.int64)
        return d7 * 1000 + mid * 10 + last

    serial = draw(np.arange(n))
    for _ in range(100):
        key = birth * 10000 + serial
        _, first = np.unique(key, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        idx = np.flatnonzero(dup)
        serial[idx] = draw(idx)
    else:  # pragma: no cover - 10,000 serials per day and sex cannot run out in practice
        raise RuntimeError("could not make unique CPR numbers")
    yy = y % 100
    return [
        f"{a:02d}{b:02d}{c:02d}{s:04d}"
        for a, b, c, s in zip(d.tolist(), m.tolist(), yy.tolist(), serial.tolist())
    ]
