"""The evaluation's estimator, matching and money on small hand-made frames with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from helhed.evaluation import estimate, matching, money
from helhed.evaluation.run import _buckets


def _frames(n_months: int = 30) -> tuple[np.ndarray, np.ndarray]:
    y = np.zeros((4, n_months))
    resident = np.ones((4, n_months), dtype=bool)
    return y, resident


def test_changes_subtract_the_mean_of_the_baseline_months() -> None:
    y, resident = _frames()
    y[0, 8:12] = 1.0  # 4 of the 12 baseline months before start 12
    y[0, 12:] = 3.0
    resident[0, 14] = False  # moved away on the 1st of month 14
    delta, level, observed = estimate.changes(y, resident, np.array([0]), np.array([12]), baseline=12, follow_up=20)
    assert delta[0, 0] == pytest.approx(3.0 - 4 / 12)
    assert level[0, 1] == 3.0
    assert not observed[0, 2] and delta[0, 2] == 0.0
    assert not observed[0, 18]  # month 30 is outside the panel
    assert observed[0, :18].sum() == 17


def test_matched_did_recovers_a_known_effect_and_ignores_common_trends() -> None:
    """Two participants and three comparison units; everyone's outcome rises by 1 (a common
    trend), participants by 2 more from k = 1: the effect is 0 at k = 0 and 2 after."""
    width = 4
    trend = np.array([0.0, 1.0, 1.0, 1.0])
    delta_t = np.stack([trend + np.array([0, 2, 2, 2])] * 2)[:, :, None]
    delta_c = np.stack([trend] * 3)[:, :, None]
    delta_c[2, :, 0] += 10.0  # unit 2 is observed only at k = 0 and 1
    obs_c = np.ones((3, width), dtype=bool)
    obs_c[2, 2:] = False
    delta_c[2, 2:, 0] = 0.0
    obs_t = np.ones((2, width), dtype=bool)
    weights = estimate.person_weights(5, 0, seed=1)
    draws = estimate.matched_did(
        delta_t, delta_t + 5, obs_t, np.array([0, 1]), delta_c, obs_c, np.array([2, 3, 4]),
        pair_t=np.array([0, 1, 1]), pair_c=np.array([0, 1, 2]), weights=weights,
    )  # fmt: skip
    # Participant 1's comparisons at k=0,1 are units 1 and 2 (mean of trend and trend + 10).
    assert draws.effect[0, 0, 0] == pytest.approx((0 + (0 - 5)) / 2)
    assert draws.effect[0, 1, 0] == pytest.approx((2 + (2 - 5)) / 2)
    # From k = 2 unit 2 is gone: both participants compare with one unit each.
    assert draws.effect[0, 2, 0] == pytest.approx(2.0)
    assert list(draws.participants) == [2, 2, 2, 2]
    assert list(draws.comparison_persons) == [3, 3, 2, 2]
    assert draws.treated_mean[1, 0] == pytest.approx(8.0)


def test_bootstrap_weights_are_person_clusters_and_reproducible() -> None:
    w1 = estimate.person_weights(1000, 50, seed=7)
    w2 = estimate.person_weights(1000, 50, seed=7)
    assert np.array_equal(w1, w2) and np.all(w1[0] == 1)
    assert abs(w1[1:].mean() - 1.0) < 0.02 and set(np.unique(w1[1:])) <= set(range(20))


def test_bootstrap_interval_covers_a_known_mean_difference() -> None:
    rng = np.random.default_rng(3)
    n = 400
    delta_t = rng.normal(1.0, 1.0, (n, 1, 1))
    delta_c = rng.normal(0.0, 1.0, (n, 1, 1))
    weights = estimate.person_weights(2 * n, 400, seed=11)
    draws = estimate.matched_did(delta_t, delta_t, np.ones((n, 1), bool), np.arange(n), delta_c, np.ones((n, 1), bool),
                                 np.arange(n, 2 * n), np.arange(n), np.arange(n), weights)
    lo, hi = draws.interval()
    se = np.sqrt(2 / n)
    assert lo[0, 0] < draws.effect[0, 0, 0] < hi[0, 0]
    assert (hi - lo)[0, 0] == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_nearest_neighbours_stay_in_the_start_month_and_the_caliper() -> None:
    units = matching.Units(
        person=np.arange(7), start=np.array([5, 5, 5, 5, 6, 6, 6]),
        treated=np.array([True, False, False, False, True, False, False]),
        enrolment=np.array(["E1", None, None, None, "E2", None, None], dtype=object),
        covariates=np.zeros((7, 1)), names=["x"],
    )  # fmt: skip
    logit = np.array([0.0, 0.05, -0.1, 3.0, 1.0, 0.0, 1.02])
    m = matching.nearest_neighbours(units, logit, neighbours=2, caliper_sd=0.2)
    pairs = sorted(zip(m.treated_unit.tolist(), m.control_unit.tolist()))
    assert pairs == [(0, 1), (0, 2), (4, 6)]  # unit 3 is outside the caliper, unit 5 another month's... too far
    assert m.caliper == pytest.approx(0.2 * np.std(logit))
    w = matching.control_weights(units, m)
    assert w[1] == w[2] == 0.5 and w[6] == 1.0


def test_balance_is_zero_after_exact_matching() -> None:
    x = np.array([[1.0], [0.0], [1.0], [0.0], [0.0], [0.0]])
    units = matching.Units(np.arange(6), np.zeros(6, dtype=np.int64), np.array([True, True, False, False, False, False]),
                           np.array(["a", "b", None, None, None, None], dtype=object), x, ["x"])
    m = matching.Matches(np.array([0, 1]), np.array([2, 3]), np.zeros(2), np.array([True, True, False, False, False, False]), 1.0,
                         np.ones(6, dtype=bool))
    (row,) = matching.balance(units, m)
    assert row["smd_after"] == 0.0
    assert row["smd_before"] == pytest.approx((0.5 - 0.25) / np.sqrt((0.25 + 0.1875) / 2))


def test_freed_resources_payback_and_interval() -> None:
    counts = np.array([[2, 0], [2, 2], [0, 2]])  # [month, k]
    effect = np.array([[[-100.0], [-300.0]], [[-50.0], [-250.0]]])  # [draw, k, department]: cost falls
    freed = money.freed_resources(counts, effect)
    assert freed[0, :, 0].tolist() == [200.0, 800.0, 600.0]
    pb = money.payback(freed[:, :, 0], investment=np.array([500.0, 400.0, 0.0]))
    assert pb.cumulative_net[0].tolist() == [-300.0, 100.0, 700.0]
    assert pb.month.tolist() == [1, 2]  # draw 1 freed 100 + 600 + 500: pays back in month 2
    lo, hi, share = money.payback_interval(np.array([1, 2, 4, -1, 3]), level=0.5)
    assert (lo, hi, share) == (2, 4, 0.75)
    assert money.payback_interval(np.array([1, -1, -1]))[1] is None


def test_small_years_merge_into_their_neighbour() -> None:
    distinct = {2021: {1, 2}, 2022: {1, 2, 3, 4, 5, 6}, 2023: {5, 6, 7, 8, 9}, 2024: {9}}
    assert _buckets([2021, 2022, 2023, 2024], distinct, 5) == [[2021, 2022], [2023, 2024]]
    assert _buckets([2021], {2021: {1}}, 5) == [[2021]]
