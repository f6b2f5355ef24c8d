"""Quarter-by-quarter calibration of one benefit group to published full-time persons.

The life-course model gives realistic spells but only an approximate level, and
kontanthjælp must match DST AUK01 for Randers within 2 % in every quarter. Walking the
quarters in time order, this module removes days (cutting spells short inside the quarter)
or adds days (new spells for persons with medium or high risk who are free at that time)
until the quarter's benefit days equal the target exactly. Changes only ever move days
in the current and later quarters, so earlier quarters stay calibrated.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from helhed.generator.dates import NONE, Span, age_on
from helhed.generator.lifecourse import S_INDEX, Persons, Spells, duration_days
from helhed.generator.population import Population
from helhed.generator.profile import Profile


def calibrate_group(
    spells: Spells,
    group: str,
    targets: dict[str, float],
    quarters: list[Span],
    profile: Profile,
    population: Population,
    persons: Persons,
    end: int,
    rng: np.random.Generator,
    min_age: int = 30,
    max_age: int = 64,
    frozen: np.ndarray | None = None,
) -> Spells:
    """Return spells whose ``group`` benefit days per quarter equal ``round(target * days)``.

    Persons flagged in ``frozen`` (programme participants) are neither cut nor given new
    spells, so their planted programme effect stays intact.
    """
    state_no = S_INDEX[group]
    person = spells.person.tolist()
    state = spells.state.tolist()
    start = spells.start.tolist()
    stop = spells.end.tolist()
    alive = [True] * len(person)
    by_person: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(person):
        by_person[p].append(i)
    leave = population.leave
    pool_mask = persons.risk >= 1
    if frozen is not None:
        pool_mask = pool_mask & ~frozen

    group_idx = [i for i, st in enumerate(state) if st == state_no]

    def eff_end(i: int) -> int:
        return end if stop[i] == NONE else stop[i]

    for q in quarters:
        target = int(round(targets[q.key] * q.days))
        cand = [i for i in group_idx if alive[i] and start[i] <= q.last and eff_end(i) >= q.first]
        overlap = {i: min(eff_end(i), q.last) - max(start[i], q.first) + 1 for i in cand}
        current = sum(overlap.values())
        if current > target:
            excess = current - target
            for j in rng.permutation(len(cand)).tolist():
                if excess == 0:
                    break
                i = cand[j]
                if frozen is not None and frozen[person[i]]:
                    continue
                o = overlap[i]
                cut = min(o, excess)
                excess -= cut
                if cut == o and start[i] >= q.first:
                    alive[i] = False
                elif cut == o:
                    stop[i] = q.first - 1
                else:
                    stop[i] = max(start[i], q.first) + (o - cut) - 1
        elif current < target:
            deficit = target - current
            age = age_on(population.birth, q.first)
            ok = (
                pool_mask
                & (age >= min_age)
                & (age <= max_age)
                & (population.moved_in <= q.first)
                & ((leave == NONE) | (leave >= q.last))
            )
            pool = np.flatnonzero(ok)
            order = rng.permutation(len(pool))
            draws = duration_days(profile, np.full(len(pool), state_no, dtype=np.int64), rng)
            days_in = rng.integers(q.first, q.last + 1, len(pool))
            for j in order.tolist():
                if deficit == 0:
                    break
                p = int(pool[j])
                s = int(days_in[j])
                free_end = int(persons.last_day[p])
                if leave[p] != NONE:
                    free_end = min(free_end, int(leave[p]))
                busy = False
                for i in by_person.get(p, []):
                    if not alive[i]:
                        continue
                    if start[i] <= s <= eff_end(i):
                        busy = True
                        break
                    if start[i] > s:
                        free_end = min(free_end, start[i] - 1)
                if busy or free_end < s:
                    continue
                e = min(s + int(draws[j]) - 1, free_end)
                gained = min(e, q.last) - s + 1
                if gained > deficit:
                    e = s + deficit - 1
                    gained = deficit
                deficit -= gained
                person.append(p)
                state.append(state_no)
                start.append(s)
                stop.append(NONE if e > end else e)
                alive.append(True)
                by_person[p].append(len(person) - 1)
                group_idx.append(len(person) - 1)
            if deficit:
                raise RuntimeError(f"calibration of {group} in {q.key} short by {deficit} days (population too small)")

    keep = np.array(alive, dtype=bool)
    p_arr = np.array(person, dtype=np.int64)[keep]
    s_arr = np.array(state, dtype=np.int64)[keep]
    a_arr = np.array(start, dtype=np.int64)[keep]
    b_arr = np.array(stop, dtype=np.int64)[keep]
    order = np.lexsort((a_arr, p_arr))
    return Spells(p_arr[order], s_arr[order], a_arr[order], b_arr[order])
