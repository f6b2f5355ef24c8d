"""The nightly evaluation step: panel -> matching -> effects -> money -> tables.

Runs after the dbt build and before the mart gates (``helhed.pipeline.evaluate_programmes``).
It reads tonight's ``build_*`` schemas and writes its tables into ``build_restricted`` and
``build_marts`` in one transaction, so the gates see them and publish swaps them with the rest
(or, on a failure, nothing of tonight's evaluation is left half-written). Everything is
deterministic for the same data (fixed bootstrap seed, persons ordered by pseudonym), so a
rerun of a night gives the same tables.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from helhed import dbtmeta
from helhed.config import Settings
from helhed.evaluation import estimate, matching, money, tables
from helhed.evaluation.panel import BUILD_INT, BUILD_RESTRICTED, Panel, copy_frame, load_panel
from helhed.evaluation.settings import EvaluationConfig

log = logging.getLogger(__name__)

BASE_OUTCOMES = ("self_supporting", "ordinary_employment", "education", "child_placed", "departments", "services", "cost_total")
BINARY_OUTCOMES = {"self_supporting", "ordinary_employment", "education", "child_placed"}
OUTCOME_LABELS = {
    "self_supporting": ("Selvforsørgende", "andel"),
    "ordinary_employment": ("I ordinær beskæftigelse", "andel"),
    "education": ("I uddannelse", "andel"),
    "child_placed": ("Har et barn anbragt uden for hjemmet", "andel"),
    "departments": ("Forvaltninger i kontakt med borgeren", "antal"),
    "services": ("Samtidige ydelser (uden forløbet selv)", "antal"),
    "cost_total": ("Udgift i alt (borger og børn under 18)", "kr."),
}
ESTIMATORS = ("matched_did", "naive_before_after", "naive_unmatched")
#: Candidate units per participant in the naive unmatched comparison (a random sample).
NAIVE_SAMPLE = 20
#: Bootstrap replicates of the naive estimators (they are shown to BI only, as a diagnostic).
NAIVE_REPLICATES = 100
TOTAL = "i_alt"


def outcomes_for(cost_departments: tuple[str, ...]) -> tuple[str, ...]:
    """The evaluation's outcomes: the base outcomes and the cost of each cost department."""
    return (*BASE_OUTCOMES, *(f"cost_{d}" for d in cost_departments))


OUTCOMES = outcomes_for(("beskaeftigelse", "boern_familie", "voksen_social", "sundhed", "oevrige"))


def min_cell_size(settings: Settings) -> int:
    """dbt's ``var('min_cell_size')`` (dbt_project.yml), the rule every public mart follows."""
    return dbtmeta.min_cell_size(settings.dbt_project_dir)


@dataclass
class ProgrammeResult:
    code: str
    label: str
    counts: dict[str, int]
    units: matching.Units | None = None
    logit: np.ndarray | None = None
    matches: matching.Matches | None = None
    balance: list[dict[str, Any]] = field(default_factory=list)
    estimates: dict[str, estimate.Draws] = field(default_factory=dict)
    freed: np.ndarray | None = None  # [draw, month, department]
    investment: np.ndarray | None = None  # [month, department]
    payback: money.Payback | None = None
    enrolment_months: list[tuple[int, int]] = field(default_factory=list)  # (enrolment row, month) observed
    flags: dict[str, Any] = field(default_factory=dict)


def _outcome_array(panel: Panel, names: tuple[str, ...]) -> list[np.ndarray]:
    return [panel.outcome(n) for n in names]


def _changes(panel: Panel, ys: list[np.ndarray], person: np.ndarray, start: np.ndarray, config: EvaluationConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = [estimate.changes(y, panel.resident, person, start, config.baseline_months, config.follow_up_months, matching._cumsum(y))
             for y in ys]
    delta = np.stack([p[0] for p in parts], axis=2)
    level = np.stack([p[1] for p in parts], axis=2)
    return delta, level, parts[0][2]


def evaluate_programme(
    panel: Panel, code: str, label: str, config: EvaluationConfig, weights: np.ndarray, outcomes: tuple[str, ...],
    ys: list[np.ndarray], investment: np.ndarray,
) -> ProgrammeResult:
    """Match, estimate and price one programme (see the package docstrings for each step)."""
    units, counts = matching.units_for(panel, code, config)
    result = ProgrammeResult(code, label, counts)
    enrol = panel.enrolments[panel.enrolments["programme_code"] == code]
    result.investment = investment
    n_months = panel.shape[1]
    n_dep = len(panel.cost_departments)
    counts_mk = money.participants_by_month(enrol["start"].to_numpy(dtype=np.int64), enrol["person"].to_numpy(dtype=np.int64),
                                            panel.resident, config.follow_up_months)
    result.flags["participants_by_month"] = counts_mk
    result.flags["distinct_by_year"] = _distinct_by_year(panel, enrol, config.follow_up_months)
    if not units.treated.any():
        result.freed = np.zeros((weights.shape[0], n_months, n_dep))
        result.payback = money.payback(result.freed.sum(axis=2), investment.sum(axis=1))
        result.counts.update(matched=0, comparison_persons=0)
        return result
    logit = matching.propensity_logit(units, config.seed)
    m = matching.nearest_neighbours(units, logit, config.neighbours, config.caliper_sd)
    result.units, result.logit, result.matches = units, logit, m
    result.balance = matching.balance(units, m)
    treated = np.flatnonzero(units.treated)
    t_pos = {u: i for i, u in enumerate(treated.tolist())}
    controls = np.unique(m.control_unit)
    c_pos = {u: i for i, u in enumerate(controls.tolist())}
    dt_, lt_, ot_ = _changes(panel, ys, units.person[treated], units.start[treated], config)
    dc_, _, oc_ = _changes(panel, ys, units.person[controls], units.start[controls], config)
    pair_t = np.array([t_pos[u] for u in m.treated_unit.tolist()], dtype=np.int64)
    pair_c = np.array([c_pos[u] for u in m.control_unit.tolist()], dtype=np.int64)
    result.estimates["matched_did"] = estimate.matched_did(
        dt_, lt_, ot_, units.person[treated], dc_, oc_, units.person[controls], pair_t, pair_c, weights)
    naive_weights = weights[: NAIVE_REPLICATES + 1]  # diagnostics only: fewer replicates
    result.estimates["naive_before_after"] = estimate.before_after(dt_, lt_, ot_, units.person[treated], naive_weights)
    sample = _naive_sample(units, len(treated), config.seed)
    _, lc_, ocs_ = _changes(panel, ys, units.person[sample], units.start[sample], config)
    result.estimates["naive_unmatched"] = estimate.unmatched_difference(lt_, ot_, units.person[treated], lc_, ocs_, units.person[sample], naive_weights)
    cost_idx = [outcomes.index(f"cost_{d}") for d in panel.cost_departments]
    result.freed = money.freed_resources(counts_mk, result.estimates["matched_did"].effect[:, :, cost_idx])
    result.payback = money.payback(result.freed.sum(axis=2), investment.sum(axis=1))
    evaluable = int(units.treated.sum())
    matched = int(m.matched.sum())
    smd_after = np.array([abs(r["smd_after"]) for r in result.balance if np.isfinite(r["smd_after"])])  # type: ignore[arg-type]  # smd_after is a float in every balance row
    counts.update(matched=matched, comparison_persons=int(len(np.unique(units.person[controls]))))
    result.flags.update(
        match_rate=matched / evaluable if evaluable else 0.0,
        common_support=float(m.on_support[units.treated].mean()) if evaluable else 0.0,
        max_abs_smd=float(smd_after.max()) if len(smd_after) else math.nan,
        share_balanced=float((smd_after <= config.smd_threshold).mean()) if len(smd_after) else 0.0,
    )
    return result


def _naive_sample(units: matching.Units, n_treated: int, seed: int) -> np.ndarray:
    """Up to NAIVE_SAMPLE candidate units per participant at each start month (seeded)."""
    rng = np.random.Generator(np.random.PCG64([seed, 1]))
    out = []
    for s in np.unique(units.start[units.treated]).tolist():
        k = int((units.treated & (units.start == s)).sum()) * NAIVE_SAMPLE
        cand = np.flatnonzero(~units.treated & (units.start == s))
        out.append(cand if len(cand) <= k else np.sort(rng.choice(cand, size=k, replace=False)))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _distinct_by_year(panel: Panel, enrol: pd.DataFrame, follow_up: int) -> dict[int, set[int]]:
    years = panel.months.astype("datetime64[Y]").astype(int) + 1970
    out: dict[int, set[int]] = {}
    for row, (p, s) in enumerate(zip(enrol["person"].tolist(), enrol["start"].tolist())):
        for k in range(follow_up + 1):
            t = s + k
            if t >= len(years):
                break
            if panel.resident[p, t]:
                out.setdefault(int(years[t]), set()).add(row)
    return out


# --------------------------------------------------------------------------- public rows


def _status(result: ProgrammeResult, config: EvaluationConfig, min_cell: int) -> tuple[bool, bool, str]:
    f = result.flags
    if result.counts.get("evaluable", 0) == 0:
        return False, False, "Ingen deltagere med et helt års udgangspunkt i data endnu - effekter kan ikke beregnes."
    if result.counts.get("matched", 0) < min_cell:
        return False, False, f"For få matchede deltagere (under {min_cell}) - effekter vises ikke."
    overlap = f["common_support"] >= config.min_common_support and f["match_rate"] >= config.min_match_rate
    balanced = f["max_abs_smd"] <= config.smd_limit and f["share_balanced"] >= config.min_share_balanced
    pct = lambda v: f"{v * 100:.0f} %"  # noqa: E731
    num = lambda v: f"{v:.2f}".replace(".", ",")  # noqa: E731  Danish decimal comma
    if not overlap:
        return balanced, False, (f"Effekter vises ikke: for lidt overlap med sammenligningsgruppen "
                                 f"(matchrate {pct(f['match_rate'])}, fælles støtte {pct(f['common_support'])}).")
    if not balanced:
        return False, overlap, (f"Effekter vises ikke: for dårlig balance efter matching (største |SMD| "
                                f"{num(f['max_abs_smd'])}; grænse {num(config.smd_limit)}, og mindst "
                                f"{pct(config.min_share_balanced)} af variablene skal have |SMD| under {num(config.smd_threshold)}).")
    return True, True, (f"Effekter vises: matchrate {pct(f['match_rate'])}, største |SMD| efter matching "
                        f"{num(f['max_abs_smd'])}.")


def _small(n: int | None, min_cell: int) -> bool:
    return n is None or 0 < n < min_cell


def _num(v: Any, digits: int) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if not math.isfinite(v) else round(v, digits)


def summary_row(result: ProgrammeResult, config: EvaluationConfig, min_cell: int, as_of: dt.date) -> tuple[list[Any], bool]:
    c = result.counts
    balanced, overlap, status = _status(result, config, min_cell)
    shown = balanced and overlap
    enrolments, evaluable, matched = c.get("enrolments", 0), c.get("evaluable", 0), c.get("matched", 0)
    # Counts below the smallest cell are hidden, zero included (as in every public mart).
    hide = {k: v < min_cell for k, v in (("enrolments", enrolments), ("evaluable", evaluable), ("matched", matched),
                                          ("comparison_persons", c.get("comparison_persons", 0)))}
    # Complementary: a difference of two published counts must not be 1-4.
    if 0 < enrolments - evaluable < min_cell:
        hide["evaluable"] = True
    if 0 < evaluable - matched < min_cell or hide["evaluable"]:
        hide["matched"] = True
    f = result.flags
    method = (f"Propensity score-matching (nærmeste {config.neighbours} inden for caliper {config.caliper_sd} SD, "
              f"samme startmåned), forskel-i-forskelle, {int(config.level * 100)} %-interval fra cluster-bootstrap pr. person")
    row = [
        result.code, result.label, method,
        None if hide["enrolments"] else enrolments, None if hide["evaluable"] else evaluable,
        None if hide["matched"] else matched,
        None if hide["matched"] or not evaluable else _num(f.get("match_rate"), 4),
        None if hide["comparison_persons"] else c.get("comparison_persons"),
        _num(f.get("common_support"), 4) if evaluable else None, _num(f.get("max_abs_smd"), 4), _num(f.get("share_balanced"), 4),
        balanced, overlap, shown, status, config.replicates, as_of, any(hide.values()),
    ]
    return row, shown


def balance_rows(result: ProgrammeResult, config: EvaluationConfig, min_cell: int) -> list[list[Any]]:
    rows = []
    matched = result.counts.get("matched", 0)
    for order, r in enumerate(result.balance):
        name = str(r["covariate"])
        binary = name.startswith(("age_", "group_", "active_")) or name in ("male", "minor_child", "child_measure", "child_placed")
        count = round(float(r["mean_participants_matched"]) * matched) if binary and np.isfinite(r["mean_participants_matched"]) else None
        hide = matched < min_cell or (count is not None and (0 < count < min_cell or 0 < matched - count < min_cell))
        smd_after = _num(r["smd_after"], 4)
        rows.append([
            result.code, result.label, name, matching.covariate_label(name), order,
            None if hide else _num(r["mean_participants_matched"], 4), _num(r["mean_comparison_before"], 4),
            None if hide else _num(r["mean_comparison_after"], 4), _num(r["smd_before"], 4),
            None if matched < min_cell else smd_after,
            None if smd_after is None or matched < min_cell else abs(smd_after) <= config.smd_threshold, hide,
        ])  # fmt: skip
    return rows


def effect_rows(result: ProgrammeResult, outcomes: tuple[str, ...], labels: dict[str, tuple[str, str]], config: EvaluationConfig,
                min_cell: int, shown: bool) -> list[list[Any]]:
    draws = result.estimates.get("matched_did")
    if draws is None:
        return []
    lower, upper = draws.interval(config.level)
    rows = []
    for j, name in enumerate(outcomes):
        label, unit = labels[name]
        for k in range(draws.effect.shape[1]):
            n_t, n_c = int(draws.participants[k]), int(draws.comparison_persons[k])
            if n_t == 0:
                continue
            small = n_t < min_cell or n_c < min_cell
            mean = draws.treated_mean[k, j]
            hide_mean = small
            if name in BINARY_OUTCOMES and not small:
                count = round(float(mean) * n_t)
                hide_mean = 0 < count < min_cell or 0 < n_t - count < min_cell
            est, lo, hi = draws.effect[0, k, j], lower[k, j], upper[k, j]
            visible = shown and not small and all(np.isfinite(v) for v in (est, lo, hi))
            digits = 2 if unit == "kr." else 4
            rows.append([
                result.code, result.label, name, label, unit, k,
                None if small else n_t, None if small else n_c,
                None if hide_mean else _num(mean, digits),
                None if hide_mean or not visible else _num(mean - est, digits),
                _num(est, digits) if visible else None, _num(lo, digits) if visible else None, _num(hi, digits) if visible else None,
                bool(lo > 0 or hi < 0) if visible else None, shown, small or hide_mean,
            ])  # fmt: skip
    return rows


def _buckets(years: list[int], distinct: dict[int, set[int]], min_cell: int) -> list[list[int]]:
    """Consecutive years merged until every period has 0 or at least ``min_cell`` participants."""
    buckets = [[y] for y in years]
    size = lambda b: len(set().union(*(distinct.get(y, set()) for y in b)))  # noqa: E731
    i = 0
    while i < len(buckets):
        if 0 < size(buckets[i]) < min_cell and len(buckets) > 1:
            j = i + 1 if i + 1 < len(buckets) else i - 1
            lo, hi = min(i, j), max(i, j)
            buckets[lo:hi + 1] = [buckets[lo] + buckets[hi]]
            i = max(0, lo - 1) if j < i else lo
            continue
        i += 1
    return buckets


def freed_rows(result: ProgrammeResult, panel: Panel, dept_labels: dict[str, str], config: EvaluationConfig,
               min_cell: int, shown: bool) -> list[list[Any]]:
    assert result.freed is not None and result.investment is not None
    years = panel.months.astype("datetime64[Y]").astype(int) + 1970
    active_years = sorted({int(y) for y, m in zip(years, range(len(years)))
                           if result.investment[m].sum() != 0 or result.flags["participants_by_month"][m].sum() > 0})
    if not active_years:
        return []
    distinct = result.flags["distinct_by_year"]
    departments = [*panel.cost_departments, TOTAL]
    freed = np.concatenate([result.freed, result.freed.sum(axis=2, keepdims=True)], axis=2)  # [draw, month, dept+1]
    invest = np.concatenate([result.investment, result.investment.sum(axis=1, keepdims=True)], axis=1)
    net = freed - invest[None, :, :]
    cum = np.cumsum(net, axis=1)
    q = lambda a: estimate.normal_interval(a, config.level)  # noqa: E731  the effects' interval rule
    rows = []
    for bucket in _buckets(active_years, distinct, min_cell):
        in_b = np.isin(years, bucket)
        last = int(np.flatnonzero(in_b)[-1])
        n = len(set().union(*(distinct.get(y, set()) for y in bucket)))
        small = 0 < n < min_cell
        label = str(bucket[0]) if len(bucket) == 1 else f"{bucket[0]}-{bucket[-1]}"
        for order, d in enumerate(departments):
            f = freed[:, in_b, order].sum(axis=1)
            c = cum[:, last, order]
            (f_lo, f_hi), (c_lo, c_hi) = q(f), q(c)
            inv = float(invest[in_b, order].sum())
            vis = shown and not small
            rows.append([
                result.code, result.label, d, dept_labels.get(d, "I alt" if d == TOTAL else d), order, bucket[-1], label,
                None if n < min_cell else n,
                _num(f[0], 2) if vis else None, _num(f_lo, 2) if vis else None, _num(f_hi, 2) if vis else None,
                _num(inv, 2), _num(f[0] - inv, 2) if vis else None,
                _num(c[0], 2) if vis else None, _num(c_lo, 2) if vis else None, _num(c_hi, 2) if vis else None,
                shown, small,
            ])  # fmt: skip
    return rows


def payback_row(result: ProgrammeResult, panel: Panel, config: EvaluationConfig, min_cell: int, shown: bool) -> list[Any]:
    assert result.freed is not None and result.investment is not None and result.payback is not None
    months = panel.months
    invest = result.investment.sum(axis=1)
    started = np.flatnonzero(invest != 0)
    first = months[started[0]].astype(object) if len(started) else None
    n = int(len(result.flags.get("distinct_by_year") and set().union(*result.flags["distinct_by_year"].values()) or ()))
    small = 0 < n < min_cell
    freed_total = result.freed.sum(axis=(1, 2))
    net_total = freed_total - invest.sum()
    (f_lo, f_hi), (n_lo, n_hi) = estimate.normal_interval(freed_total, config.level), estimate.normal_interval(net_total, config.level)
    lo, hi, share = money.payback_interval(result.payback.month, config.level)
    point = int(result.payback.month[0])
    month_of = lambda i: None if i is None or i < 0 else months[i].astype(object)  # noqa: E731
    vis = shown and not small
    if not vis:
        status = "Tilbagebetaling vises ikke (se status for evalueringen)."
    elif point < 0:
        status = (f"Ikke tilbagebetalt inden for perioden; {share * 100:.0f} % af bootstrap-gentagelserne "
                  f"er tilbagebetalt.")
    else:
        upper = month_of(hi).strftime("%Y-%m") if hi is not None else "efter perioden"  # type: ignore[union-attr]  # month_of returns a date for a non-None index
        lower = month_of(lo).strftime("%Y-%m") if lo is not None else "efter perioden"  # type: ignore[union-attr]  # month_of returns a date for a non-None index
        status = (f"Tilbagebetalt i {month_of(point):%Y-%m} (95 %-interval {lower} til {upper}; "
                  f"{share * 100:.0f} % af bootstrap-gentagelserne er tilbagebetalt).")
    return [
        result.code, result.label, first, months[-1].astype(object), None if n < min_cell else n, _num(invest.sum(), 2),
        _num(freed_total[0], 2) if vis else None, _num(f_lo, 2) if vis else None, _num(f_hi, 2) if vis else None,
        _num(net_total[0], 2) if vis else None, _num(n_lo, 2) if vis else None, _num(n_hi, 2) if vis else None,
        month_of(point) if vis else None, month_of(lo) if vis else None, month_of(hi) if vis else None,
        _num(share, 4) if vis else None, status, shown, small,
    ]  # fmt: skip


# --------------------------------------------------------------------------- the step


def _programmes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    frame = copy_frame(conn, sql.SQL("select service_code, service_label from {}.dim_service where source = 'helhed' order by service_code").format(
        sql.Identifier(BUILD_RESTRICTED)))
    return list(zip(frame["service_code"], frame["service_label"]))


def _investment(conn: psycopg.Connection, config: EvaluationConfig, programmes: list[str], panel: Panel) -> dict[str, np.ndarray]:
    wbs = {code: config.programmes[code].wbs_element for code in programmes if code in config.programmes and config.programmes[code].wbs_element}
    frame = copy_frame(conn, sql.SQL(
        "select wbs_element, month, department, sum(amount) as amount from {}.int_ledger_postings_spread_to_months "
        "where wbs_element = any(%(wbs)s) group by 1, 2, 3").format(sql.Identifier(BUILD_INT)), {"wbs": sorted(set(wbs.values()))})
    out = {}
    for code in programmes:
        part = frame[frame["wbs_element"] == wbs.get(code)] if code in wbs else frame.iloc[0:0]
        out[code] = money.investment_by_month(part, panel.months, panel.cost_departments)
    return out


def evaluate(settings: Settings, config: EvaluationConfig | None = None) -> dict[str, Any]:
    """Run the evaluation on tonight's build and write its tables; return counts and timings."""
    config = config or EvaluationConfig.load()
    min_cell = min_cell_size(settings)
    timings: dict[str, float] = {}
    began = time.monotonic()
    with psycopg.connect(settings.url("helhed")) as conn:
        conn.execute("set local work_mem = '256MB'")
        panel = load_panel(conn, config.eligible_benefit_groups)
        timings["panel"] = time.monotonic() - began
        programmes = _programmes(conn)
        invest = _investment(conn, config, [c for c, _ in programmes], panel)
        dept_labels = dict(copy_frame(conn, sql.SQL("select department, department_label from {}.dim_department").format(
            sql.Identifier(BUILD_RESTRICTED))).itertuples(index=False, name=None))
        outcomes = outcomes_for(panel.cost_departments)
        labels = {**OUTCOME_LABELS, **{f"cost_{d}": (f"Udgift {dept_labels.get(d, d).lower()}", "kr.") for d in panel.cost_departments}}
        ys = _outcome_array(panel, outcomes)
        weights = estimate.person_weights(len(panel.persons), config.replicates, config.seed)
        step = time.monotonic()
        try:
            results = [evaluate_programme(panel, code, label, config, weights, outcomes, ys, invest[code]) for code, label in programmes]
        finally:
            matching.clear_cache()
        timings["estimate"] = time.monotonic() - step
        step = time.monotonic()
        as_of = panel.as_of_date.astype(object)
        rows: dict[str, list[list[Any]]] = {t.name: [] for t in (*tables.PUBLIC_TABLES, *tables.RESTRICTED_TABLES)}
        for r in results:
            summary_cells, shown = summary_row(r, config, min_cell, as_of)
            rows[tables.SUMMARY.name].append(summary_cells)
            rows[tables.BALANCE.name].extend(balance_rows(r, config, min_cell))
            rows[tables.EFFECTS.name].extend(effect_rows(r, outcomes, labels, config, min_cell, shown))
            rows[tables.FREED.name].extend(freed_rows(r, panel, dept_labels, config, min_cell, shown))
            rows[tables.PAYBACK.name].append(payback_row(r, panel, config, min_cell, shown))
            _restricted_rows(r, panel, outcomes, config, rows)
        for table in (*tables.PUBLIC_TABLES, *tables.RESTRICTED_TABLES):
            tables.write_table(conn, table, rows[table.name])
        timings["write"] = time.monotonic() - step
    timings["total"] = time.monotonic() - began
    summary = {
        "persons": int(len(panel.persons)), "months": int(len(panel.months)),
        # JSON-safe (the DAG task returns it as an XCom): an undefined diagnostic is None, not NaN.
        "programmes": {r.code: {**r.counts, **{k: (v if math.isfinite(v) else None) for k, v in r.flags.items() if isinstance(v, float)}}
                       for r in results},
        "rows": {name: len(v) for name, v in rows.items()},
        "seconds": {k: round(v, 2) for k, v in timings.items()},
    }
    log.info("evaluation: %s", summary)
    return summary


def _restricted_rows(r: ProgrammeResult, panel: Panel, outcomes: tuple[str, ...], config: EvaluationConfig, rows: dict[str, list[list[Any]]]) -> None:
    months = panel.months
    if r.freed is not None:
        for m in range(r.freed.shape[1]):
            if not r.flags["participants_by_month"][m].any():
                continue
            for d, dep in enumerate(panel.cost_departments):
                for b in range(r.freed.shape[0]):
                    rows[tables.DRAWS.name].append([r.code, dep, months[m].astype(object), b, round(float(r.freed[b, m, d]), 2)])
    if r.investment is not None:
        for m, d in zip(*np.nonzero(r.investment)):
            rows[tables.INVESTMENT.name].append([r.code, panel.cost_departments[d], months[m].astype(object), round(float(r.investment[m, d]), 2)])
    for name, draws in r.estimates.items():
        lower, upper = draws.interval(config.level)
        for j, outcome in enumerate(outcomes):
            for k in range(draws.effect.shape[1]):
                if draws.participants[k] == 0:
                    continue
                rows[tables.ESTIMATES.name].append([
                    r.code, name, outcome, k, int(draws.participants[k]), int(draws.comparison_persons[k]),
                    _num(draws.treated_mean[k, j], 4), _num(draws.effect[0, k, j], 4), _num(lower[k, j], 4), _num(upper[k, j], 4),
                ])  # fmt: skip
    if r.units is None or r.matches is None or r.logit is None:
        return
    u, mt = r.units, r.matches
    w = matching.control_weights(u, mt)
    keep = u.treated | (w > 0)
    for i in np.flatnonzero(keep).tolist():
        rows[tables.UNITS.name].append([
            r.code, panel.persons[u.person[i]], months[u.start[i]].astype(object), u.enrolment[i], bool(u.treated[i]),
            round(float(r.logit[i]), 6), bool(mt.matched[i] if u.treated[i] else w[i] > 0),
            bool(mt.on_support[i]) if u.treated[i] else None, round(float(w[i]), 6),
        ])  # fmt: skip
    seen = set()
    for t, c, dist in zip(mt.treated_unit.tolist(), mt.control_unit.tolist(), mt.distance.tolist()):
        key = (u.enrolment[t], panel.persons[u.person[c]])
        if key in seen:
            continue
        seen.add(key)
        rows[tables.MATCHES.name].append([r.code, u.enrolment[t], panel.persons[u.person[c]], months[u.start[t]].astype(object), round(dist, 6)])
