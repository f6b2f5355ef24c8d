"""Parent-child links from the CPR register (mother and father of each young person).

Families are the seeds' most common target group (a child with a measure and a parent on
income support), so children get a mother, usually a father, and live at the mother's
address. Parents are drawn among the persons of the extract with a plausible age gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helhed.generator.dates import IntArray
from helhed.generator.population import Population

YEAR = 365.25
#: Persons younger than this at the end of the history get parent links.
LINK_BELOW_AGE = 25
MOTHER_GAP = (20.0, 42.0)
FATHER_GAP = (22.0, 48.0)
FATHER_KNOWN = 0.88


@dataclass
class Families:
    """Parent of each person (-1 = none in the extract)."""

    mother: IntArray
    father: IntArray

    def parents_of(self, child: IntArray) -> list[IntArray]:
        return [self.mother[child], self.father[child]]


def _pick_parent(
    pop: Population, child: IntArray, male: bool, gap: tuple[float, float], rng: np.random.Generator
) -> IntArray:
    pool = np.flatnonzero(pop.male == male)
    pool = pool[np.argsort(pop.birth[pool], kind="stable")]
    births = pop.birth[pool]
    lo, hi = gap
    mode = lo + 0.45 * (hi - lo)
    want = pop.birth[child] - (rng.triangular(lo, mode, hi, len(child)) * YEAR).astype(np.int64)
    pos = np.searchsorted(births, want)
    pos = np.clip(pos + rng.integers(-3, 4, len(child)), 0, len(pool) - 1)
    parent = pool[pos]
    diff = (pop.birth[child] - pop.birth[parent]) / YEAR
    ok = (diff >= lo - 1) & (diff <= hi + 1)
    return np.where(ok, parent, -1).astype(np.int64)


def link_families(pop: Population, end: int, rng: np.random.Generator) -> Families:
    """Link young persons to parents; children take over the mother's address."""
    n = len(pop)
    mother = np.full(n, -1, dtype=np.int64)
    father = np.full(n, -1, dtype=np.int64)
    child = np.flatnonzero(pop.birth > end - int(LINK_BELOW_AGE * YEAR))
    if len(child):
        mother[child] = _pick_parent(pop, child, False, MOTHER_GAP, rng)
        has_father = rng.random(len(child)) < FATHER_KNOWN
        fathers = _pick_parent(pop, child, True, FATHER_GAP, rng)
        father[child] = np.where(has_father, fathers, -1)
        for c, m in zip(child.tolist(), mother[child].tolist()):
            if m >= 0:
                pop.postal_code[c] = pop.postal_code[m]
                pop.district[c] = pop.district[m]
    return Families(mother, father)


def relation_rows(
    families: Families, cprs: list[str], person_rank: IntArray, moved_in: IntArray, day: int, since: int | None = None
) -> list[list[str]]:
    """``CPR-nummer;Relation;Relations CPR-nummer`` rows (``mor``/``far``), by child CPR.

    A link is delivered on the first night both persons are in the CPR extract (moved in or
    born by ``day``), so no delivery names a person the extract does not hold yet: all links
    known on ``day``, or with ``since`` only those that became known after ``since``.
    """
    rows: list[tuple[int, int, list[str]]] = []
    for order, (relation, parent) in enumerate((("mor", families.mother), ("far", families.father))):
        child = np.flatnonzero(parent >= 0)
        known = np.maximum(moved_in[child], moved_in[parent[child]])
        sel = known <= day
        if since is not None:
            sel &= known > since
        for c, p in zip(child[sel].tolist(), parent[child[sel]].tolist()):
            rows.append((int(person_rank[c]), order, [cprs[c], relation, cprs[p]]))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in rows]
