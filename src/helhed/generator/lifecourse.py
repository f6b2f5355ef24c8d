"""Benefit life courses: per-person sequences of benefit spells, not independent rows.

Each person of working age runs through a semi-Markov chain: a spell of self-support
("none": work, education or no public benefit), then an episode of one or more benefit
spells (sickness benefit -> jobafklaringsforløb -> ressourceforløb -> førtidspension, young
people on uddannelseshjælp back to education, long kontanthjælp spells, fleksjob with
ledighedsydelse in between), then self-support again. Førtidspension is absorbing until the
state pension age. A latent risk class per person sets how often episodes happen, which is
what makes a few persons account for most of the benefit days, as in real data.

The chain is simulated for all persons at once, one spell per step, with numpy; a step
costs O(active persons) and a person needs a few dozen steps over a working life.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from helhed.generator.dates import NONE, IntArray, birthday_day
from helhed.generator.population import Population
from helhed.generator.profile import BENEFIT_GROUPS, Profile

YEAR = 365.25
STATES: tuple[str, ...] = ("none", *BENEFIT_GROUPS)
S_INDEX = {name: i for i, name in enumerate(STATES)}
RISK_CLASSES: tuple[str, ...] = ("low", "mid", "high")
#: Age at which benefits start and at which they end (folkepension age).
MIN_AGE, PENSION_AGE = 18, 67
#: How far before the history the chain starts, so the stocks are in equilibrium.
BURN_IN_YEARS = 30


@dataclass
class Spells:
    """Benefit spells as column arrays (state numbers index :data:`STATES`)."""

    person: IntArray
    state: IntArray
    start: IntArray
    end: IntArray  # NONE = still open at the end of the history

    def __len__(self) -> int:
        return len(self.person)


@dataclass
class Persons:
    """Per-person attributes the chain and the calibration need."""

    risk: IntArray  # index into RISK_CLASSES
    selvforsoergelse_ok: np.ndarray  # bool
    first_day: IntArray  # 18th birthday
    last_day: IntArray  # day before the 67th birthday


def _cumulative(rows: list[dict[str, Any]]) -> np.ndarray:
    mat = np.zeros((len(rows), len(STATES)))
    for i, row in enumerate(rows):
        for dest, p in row.items():
            mat[i, S_INDEX[dest]] = float(p)
    return np.cumsum(mat, axis=1)


def _pick(cum: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Vectorised categorical draw: column index where the row's cumulative passes ``u``."""
    return np.minimum((u[:, None] >= cum[rows]).sum(axis=1), len(STATES) - 1)


def draw_persons(profile: Profile, population: Population, rng: np.random.Generator) -> Persons:
    lc = profile.lifecourse
    shares = np.array([float(lc["risk_classes"][r]["share"]) for r in RISK_CLASSES])
    n = len(population)
    risk = rng.choice(len(RISK_CLASSES), size=n, p=shares / shares.sum()).astype(np.int64)
    ok = rng.random(n) < float(lc["selvforsoergelse_eligible_share"])
    first = birthday_day(population.birth, MIN_AGE)
    last = birthday_day(population.birth, PENSION_AGE) - 1
    return Persons(risk, ok, first, last)


def duration_days(profile: Profile, state: IntArray, rng: np.random.Generator) -> IntArray:
    """Lognormal spell lengths (days, >= 1) for benefit states, capped per group."""
    dur = profile.lifecourse["duration"]
    median = np.array([1.0] + [float(dur[g]["median"]) for g in BENEFIT_GROUPS])
    sigma = np.array([0.0] + [float(dur[g]["sigma"]) for g in BENEFIT_GROUPS])
    cap = np.array([1.0] + [float(dur[g]["max_days"]) for g in BENEFIT_GROUPS])
    z = rng.standard_normal(len(state))
    days = np.exp(np.log(median[state]) + sigma[state] * z)
    return np.clip(np.minimum(days, cap[state]), 1, None).astype(np.int64)


def simulate_spells(
    profile: Profile, population: Population, persons: Persons, start: int, end: int, rng: np.random.Generator
) -> Spells:
    """Raw spells overlapping ``[start, end]`` (not yet clipped to residence)."""
    lc = profile.lifecourse
    entry_cum = _cumulative([lc["entry"][r] for r in RISK_CLASSES] + [lc["entry_young"][r] for r in RISK_CLASSES])
    trans_cum = _cumulative([{"none": 1.0}] + [lc["transitions"][g] for g in BENEFIT_GROUPS])
    gap_mean = np.array([float(lc["risk_classes"][r]["mean_years_between"]) * YEAR for r in RISK_CLASSES])
    young_age = float(lc["young_pension_age"])
    diverted = float(lc["young_pension_diverted"])
    sf_instead = float(lc["selvforsoergelse_instead"])
    kh, uh, sf = S_INDEX["kontanthjaelp"], S_INDEX["uddannelseshjaelp"], S_INDEX["selvforsoergelsesydelse"]
    fp, rf = S_INDEX["foertidspension"], S_INDEX["ressourceforloeb"]

    stop = np.minimum(persons.last_day, end)
    leave = population.leave
    active_window = (persons.first_day <= end) & (persons.last_day >= start)
    active_window &= population.moved_in <= end
    active_window &= (leave == NONE) | (leave >= start)
    idx = np.flatnonzero(active_window & (persons.first_day <= stop))
    t = np.maximum(persons.first_day[idx], start - int(BURN_IN_YEARS * YEAR))
    # Start in self-support, part-way through a gap, so persons are not all in sync.
    state = np.zeros(len(idx), dtype=np.int64)
    first_gap = True

    out_p: list[IntArray] = []
    out_s: list[IntArray] = []
    out_a: list[IntArray] = []
    out_b: list[IntArray] = []
    birth = population.birth
    while len(idx):
        k = len(idx)
        dur = duration_days(profile, state, rng)
        gap = state == 0
        gap_days = rng.exponential(1.0, k) * gap_mean[persons.risk[idx]]
        if first_gap:
            gap_days *= rng.random(k)
            first_gap = False
        dur = np.where(gap, np.maximum(gap_days.astype(np.int64), 1), dur)
        stop_end = np.where(state == fp, persons.last_day[idx], t + dur - 1)
        stop_end = np.minimum(stop_end, persons.last_day[idx])
        keep = (~gap) & (stop_end >= start)
        if keep.any():
            out_p.append(idx[keep])
            out_s.append(state[keep])
            out_a.append(t[keep])
            out_b.append(stop_end[keep])
        # Next state.
        u = rng.random(k)
        t_next = stop_end + 1
        age = (t_next - birth[idx]) / YEAR
        young = age < 30
        entry_row = persons.risk[idx] + len(RISK_CLASSES) * young
        nxt = np.where(gap, _pick(entry_cum, entry_row, u), _pick(trans_cum, state, u))
        nxt = np.where((nxt == sf) & ~persons.selvforsoergelse_ok[idx], kh, nxt)
        nxt = np.where((nxt == kh) & young, uh, nxt)
        nxt = np.where((nxt == uh) & ~young, kh, nxt)
        instead = persons.selvforsoergelse_ok[idx] & (rng.random(k) < sf_instead) & (state != sf)
        nxt = np.where(((nxt == kh) | (nxt == uh)) & instead, sf, nxt)
        nxt = np.where((nxt == fp) & (age < young_age) & (rng.random(k) < diverted), rf, nxt)
        alive = t_next <= stop[idx]
        idx, t, state = idx[alive], t_next[alive], nxt[alive]

    if not out_p:
        empty = np.zeros(0, dtype=np.int64)
        return Spells(empty, empty, empty, empty)
    return Spells(
        np.concatenate(out_p), np.concatenate(out_s), np.concatenate(out_a), np.concatenate(out_b)
    )


def clip_to_residence(spells: Spells, population: Population, start: int, end: int) -> Spells:
    """Keep what the municipality pays: days while resident, within or running into the history.

    Starts move forward to the moving-in day; ends move back to the moving-out or death
    day; spells still running after ``end`` become open (``NONE``).
    """
    p = spells.person
    leave = population.leave[p]
    a = np.maximum(spells.start, population.moved_in[p])
    b = np.where(leave != NONE, np.minimum(spells.end, leave), spells.end)
    ok = (a <= b) & (b >= start) & (a <= end)
    b = np.where(b > end, NONE, b)
    order = np.lexsort((a[ok], p[ok]))
    return Spells(p[ok][order], spells.state[ok][order], a[ok][order], b[ok][order])
