"""Freed resources, the programme's investment and the payback month, draw by draw.

Freed resources of a programme in department d and calendar month c:

    freed_d(c) = - sum over k of  n(c, k) x effect_on_cost_d(k)

where n(c, k) is the number of the programme's participants (every enrolment, evaluable or
not) resident in month c that is k months after their start month, and effect_on_cost_d(k)
the estimated effect on department d's cost at k. That is the counterfactual cost (each
participant's baseline plus the comparison group's change) minus the actual cost, summed
over participants, under the assumption that participants who could not be matched have the
matched participants' average effect. Positive = resources freed, negative = extra cost the
department carries. Months since start without an estimate (no matched participant observed
that far) contribute nothing. The sum over departments is the effect on the total cost.

The investment is the programme's own cost: every ledger amount on its PSP element
(coordinators, start-up, management), spread to months like all postings, by the department
of the posting's function. Cumulative net = cumulative freed resources - cumulative
investment; the payback month is the first month from which the cumulative net stays at or
above zero. Each quantity is computed for every bootstrap draw, so their intervals are the
quantiles of the draws (a draw that never pays back within the data counts as "later").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def participants_by_month(start: np.ndarray, person: np.ndarray, resident: np.ndarray, follow_up: int) -> np.ndarray:
    """``[month, k]``: participants resident in the calendar month that is k months after their start."""
    n_months = resident.shape[1]
    out = np.zeros((n_months, follow_up + 1), dtype=np.int64)
    for k in range(follow_up + 1):
        month = start + k
        ok = month < n_months
        ok[ok] &= resident[person[ok], month[ok]]
        np.add.at(out[:, k], month[ok], 1)
    return out


def freed_resources(counts: np.ndarray, cost_effect: np.ndarray) -> np.ndarray:
    """``[draw, month, department]`` freed resources from ``counts [month, k]`` and effects ``[draw, k, department]``."""
    effect = np.nan_to_num(cost_effect, nan=0.0)
    return -np.einsum("mk,bkd->bmd", counts.astype(float), effect)


@dataclass
class Payback:
    """Per draw: the first month index from which the cumulative net stays >= 0 (-1 = not within the data)."""

    month: np.ndarray  # [draw]
    cumulative_net: np.ndarray  # [draw, month]


def payback(freed_total: np.ndarray, investment: np.ndarray) -> Payback:
    """Payback month per draw from freed resources ``[draw, month]`` and investment ``[month]``."""
    net = np.cumsum(freed_total - investment[None, :], axis=1)
    started = np.cumsum(investment) > 0
    below = (net < 0) | ~started[None, :]
    months = net.shape[1]
    # The last month still below zero; payback is the month after it (if inside the data).
    last_below = np.where(below.any(axis=1), months - 1 - np.argmax(below[:, ::-1], axis=1), -1)
    month = np.where(last_below + 1 < months, last_below + 1, -1)
    return Payback(month, net)


def payback_interval(months: np.ndarray, level: float = 0.95) -> tuple[int | None, int | None, float]:
    """Quantiles of the payback month over the replicates, with 'never in the data' as +infinity.

    Returns (lower, upper, share of replicates that pay back); ``None`` = not within the data.
    """
    reps = months[1:] if len(months) > 1 else months
    if not len(reps):
        return None, None, 0.0
    values = np.where(reps < 0, np.inf, reps.astype(float))
    alpha = (1 - level) / 2
    lo, hi = np.quantile(values, alpha, method="inverted_cdf"), np.quantile(values, 1 - alpha, method="inverted_cdf")
    to_int = lambda v: None if not np.isfinite(v) else int(v)  # noqa: E731
    return to_int(lo), to_int(hi), float((reps >= 0).mean())


def investment_by_month(postings: pd.DataFrame, months: np.ndarray, departments: tuple[str, ...]) -> np.ndarray:
    """``[month, department]`` of the PSP element's amounts (frame: month, department, amount)."""
    out = np.zeros((len(months), len(departments)))
    if postings.empty:
        return out
    m = np.searchsorted(months, pd.to_datetime(postings["month"]).to_numpy().astype("datetime64[D]"))
    d = postings["department"].map({dep: i for i, dep in enumerate(departments)}).fillna(departments.index("oevrige") if "oevrige" in departments else 0)
    ok = m < len(months)
    np.add.at(out, (m[ok], d.to_numpy(dtype=np.int64)[ok]), postings["amount"].to_numpy(dtype=float)[ok])
    return out
