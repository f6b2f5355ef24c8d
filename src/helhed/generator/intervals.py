"""Vectorised interval algebra on (person, start, end) day intervals.

Employment and education happen in the time a person is *not* on a benefit, so several
sources need "the gaps between a person's busy intervals inside their own window". Doing
that per person in Python is slow at 360,000 residents; these helpers do it with sorts
and shifts over all persons at once.
"""

from __future__ import annotations

import numpy as np

from helhed.generator.dates import IntArray


def gaps(
    person: IntArray, start: IntArray, end: IntArray, win_lo: IntArray, win_hi: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Free intervals per person inside ``[win_lo[p], win_hi[p]]`` not covered by any busy interval.

    ``person/start/end`` are busy intervals (inclusive days, possibly touching, not
    overlapping). ``win_lo``/``win_hi`` are indexed by person; persons with
    ``win_lo > win_hi`` have no window. Returns (person, start, end) of the gaps, sorted.
    """
    order = np.lexsort((start, person))
    p, a, b = person[order], start[order], end[order]
    n_persons = len(win_lo)
    first_of_person = np.ones(len(p), dtype=bool)
    first_of_person[1:] = p[1:] != p[:-1]
    last_of_person = np.ones(len(p), dtype=bool)
    last_of_person[:-1] = p[1:] != p[:-1]
    # Gap before each busy interval: from the previous end + 1 (or window start).
    prev_end = np.empty(len(p), dtype=np.int64)
    if len(p):
        prev_end[1:] = b[:-1]
    prev_end = np.where(first_of_person, win_lo[p] - 1, prev_end)
    g_p = [p, p[last_of_person]]
    g_a = [prev_end + 1, b[last_of_person] + 1]
    g_b = [a - 1, win_hi[p[last_of_person]]]
    # Persons without busy intervals: the whole window.
    has = np.zeros(n_persons, dtype=bool)
    has[p] = True
    idle = np.flatnonzero(~has)
    g_p.append(idle)
    g_a.append(win_lo[idle])
    g_b.append(win_hi[idle])
    gp, ga, gb = (np.concatenate(x).astype(np.int64) for x in (g_p, g_a, g_b))
    ga = np.maximum(ga, win_lo[gp])
    gb = np.minimum(gb, win_hi[gp])
    keep = ga <= gb
    gp, ga, gb = gp[keep], ga[keep], gb[keep]
    order = np.lexsort((ga, gp))
    return gp[order], ga[order], gb[order]


def covers(person: IntArray, start: IntArray, end: IntArray, n_persons: int, day: int) -> np.ndarray:
    """Boolean per person: some interval of the person contains ``day``."""
    out = np.zeros(n_persons, dtype=bool)
    hit = (start <= day) & (end >= day)
    out[person[hit]] = True
    return out
