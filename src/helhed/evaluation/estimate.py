"""Differences in differences by months since start, with a person-cluster bootstrap.

For a unit u (a participant or a comparison unit) starting in month t, the change of an
outcome at k months since start is ``ΔY_u(k) = Y_u(t + k) - mean(Y_u(t - 12 .. t - 1))``.
The effect at k is the mean over the matched participants observed at k of

    ΔY_i(k) - (weighted mean of ΔY_j(k) over i's comparison units observed at k)

(the participant's change minus the change of their comparison units: differences in
differences). Intervals come from a cluster bootstrap by person: in each replicate every
person gets a Poisson(1) weight (the same for all units of the person, participant or
comparison, at every k), and the estimate is recomputed with those weights; the matches and
each comparison unit's matching weight are held fixed (inference conditional on the matching). Draw 0 is the full sample (all weights 1). The 2.5 % and 97.5 % quantiles of
replicates 1..B are the 95 % interval. The draws are kept because freed resources and the
payback month are functions of the effects at every k at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def changes(
    y: np.ndarray, resident: np.ndarray, person: np.ndarray, start: np.ndarray, baseline: int, follow_up: int,
    cumulative: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ΔY [unit, k], Y [unit, k], observed [unit, k]) for k = 0..follow_up.

    ``y`` and ``resident`` are ``[person, month]``; a month is observed when it is inside the
    panel and the person is resident on its 1st. Units need a full resident baseline.
    """
    n_months = y.shape[1]
    if cumulative is None:  # ``cumulative``: the same sum precomputed, [person, month + 1] with a leading 0
        cumulative = np.zeros((y.shape[0], n_months + 1))
        np.cumsum(y, axis=1, out=cumulative[:, 1:])
    cs = cumulative
    base = (cs[person, start] - cs[person, start - baseline]) / baseline
    k = np.arange(follow_up + 1)
    month = start[:, None] + k[None, :]
    inside = month < n_months
    m = np.minimum(month, n_months - 1)
    observed = inside & resident[person[:, None], m]
    level = np.where(observed, y[person[:, None], m], 0.0)
    delta = np.where(observed, level - base[:, None], 0.0)
    return delta, level, observed


@dataclass
class Draws:
    """Effect draws ``[draw, k, outcome]`` (draw 0 = full sample) with the counts behind them."""

    effect: np.ndarray
    treated_mean: np.ndarray  # draw 0: mean outcome level of the participants observed at k
    participants: np.ndarray  # [k] participants with a comparison observed at k
    comparison_persons: np.ndarray  # [k] distinct comparison persons used at k

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        reps = self.effect[1:]
        if not len(reps):
            return self.effect[0], self.effect[0]
        alpha = (1 - level) / 2
        with np.errstate(all="ignore"):
            return np.nanquantile(reps, alpha, axis=0), np.nanquantile(reps, 1 - alpha, axis=0)


def person_weights(persons: int, replicates: int, seed: int) -> np.ndarray:
    """``[1 + B, person]`` bootstrap weights: row 0 all ones, rows 1..B Poisson(1) per person."""
    rng = np.random.Generator(np.random.PCG64(seed))
    w = np.ones((replicates + 1, persons))
    if replicates:
        w[1:] = rng.poisson(1.0, size=(replicates, persons))
    return w


def matched_did(
    delta_t: np.ndarray, level_t: np.ndarray, obs_t: np.ndarray, person_t: np.ndarray,
    delta_c: np.ndarray, obs_c: np.ndarray, person_c: np.ndarray,
    pair_t: np.ndarray, pair_c: np.ndarray, weights: np.ndarray,
) -> Draws:
    """Matched differences in differences for every draw of ``weights`` ``[draw, person]``.

    ``delta_*`` are ``[unit, k, outcome]``, ``obs_*`` ``[unit, k]``; ``pair_t``/``pair_c`` index
    the participant and comparison unit of each matched pair. At each k, a participant counts
    when observed and at least one of their comparison units is observed; each of those
    comparison units gets ``1 / (their number)``, and a comparison unit's weight K_j(k) is the
    sum over its participants. The effect is

        mean of ΔY over the counted participants - (Σ_j K_j(k) ΔY_j) / (Σ_j K_j(k)),

    which equals the mean of the participants' own differences. In a bootstrap draw every
    person's units are weighted by the person's draw weight with K held fixed (the matching is
    conditioned on), so the draw varies exactly like the linear statistic it is.
    """
    n_t, width, n_out = delta_t.shape
    n_c = delta_c.shape[0]
    used = obs_c[pair_c]  # [pair, k]
    per_treated = np.zeros((n_t, width))
    np.add.at(per_treated, pair_t, used.astype(float))
    valid = obs_t & (per_treated > 0)
    share = np.divide(used, per_treated[pair_t], out=np.zeros((len(pair_t), width)), where=per_treated[pair_t] > 0)
    share *= valid[pair_t]
    k_weight = np.zeros((n_c, width))
    np.add.at(k_weight, pair_c, share)
    participants = valid.sum(axis=0)
    comparison_persons = np.array([len(np.unique(person_c[k_weight[:, k] > 0])) for k in range(width)], dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        treated_mean = np.where(participants[:, None] > 0, (level_t * valid[:, :, None]).sum(axis=0) / participants[:, None], np.nan)
    effect = np.full((weights.shape[0], width, n_out), np.nan)
    for b in range(weights.shape[0]):
        wt = weights[b, person_t][:, None] * valid
        wc = weights[b, person_c][:, None] * k_weight
        tt, tc = wt.sum(axis=0), wc.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mt = np.einsum("uk,uko->ko", wt, delta_t) / tt[:, None]
            mc = np.einsum("uk,uko->ko", wc, delta_c) / tc[:, None]
        effect[b] = np.where((tt[:, None] > 0) & (tc[:, None] > 0), mt - mc, np.nan)
    return Draws(effect, treated_mean, participants, comparison_persons)


def before_after(delta_t: np.ndarray, level_t: np.ndarray, obs_t: np.ndarray, person_t: np.ndarray, weights: np.ndarray) -> Draws:
    """Naive: the participants' own change from baseline, no comparison group."""
    draws = []
    for b in range(weights.shape[0]):
        wt = weights[b, person_t][:, None] * obs_t
        total = wt.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            draws.append(np.where(total[:, None] > 0, (delta_t * wt[:, :, None]).sum(axis=0) / total[:, None], np.nan))
    participants = obs_t.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(participants[:, None] > 0, (level_t * obs_t[:, :, None]).sum(axis=0) / participants[:, None], np.nan)
    return Draws(np.stack(draws), mean, participants, np.zeros_like(participants))


def unmatched_difference(
    level_t: np.ndarray, obs_t: np.ndarray, person_t: np.ndarray,
    level_c: np.ndarray, obs_c: np.ndarray, person_c: np.ndarray, weights: np.ndarray,
) -> Draws:
    """Naive: participants against eligible non-participants at k, in levels, no matching."""
    draws = []
    for b in range(weights.shape[0]):
        wt = weights[b, person_t][:, None] * obs_t
        wc = weights[b, person_c][:, None] * obs_c
        tt, tc = wt.sum(axis=0), wc.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mt = (level_t * wt[:, :, None]).sum(axis=0) / tt[:, None]
            mc = (level_c * wc[:, :, None]).sum(axis=0) / tc[:, None]
        draws.append(np.where((tt[:, None] > 0) & (tc[:, None] > 0), mt - mc, np.nan))
    participants = obs_t.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(participants[:, None] > 0, (level_t * obs_t[:, :, None]).sum(axis=0) / participants[:, None], np.nan)
    comparison = np.array([len(np.unique(person_c[obs_c[:, k]])) for k in range(obs_c.shape[1])])
    return Draws(np.stack(draws), mean, participants, comparison)
