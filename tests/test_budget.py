"""Budget reviews, reallocation proposals and the decision register on a generated municipality.

One municipality (~2,500 residents, 4 years to 2025-12-31) is generated, loaded with the loader
into a database of its own and built with dbt once per module. Then:

- the review figures (adopted and corrected budget, actual to date, expected year-end,
  deviation, approval flag) are recomputed here from the staged budgets, postings and
  decisions, independently of the dbt models;
- the seasonal forecast is pinned on a known profile by a dbt unit test that ran in the build;
- freed-resource draws with known values are written where the evaluation step writes them
  (``build_restricted.programme_freed_resources_draws``, its contract) and the proposals are
  built twice by :func:`helhed.budget.build_after_evaluation`: they sum as each model says,
  carry the planted amounts and intervals, flag extra cost above the threshold, and the two
  runs give identical proposals;
- new register files are delivered: a row with an unknown department is quarantined (file,
  line, rule) and holds back every decision of its file; a corrected file's unbalanced and
  unknown-review decisions are rejected with the file, decision, leg and rule named, and its
  valid decision changes the corrected budget of its review and later ones, not earlier ones.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from statistics import NormalDist

import psycopg
import pytest
from psycopg import sql

from helhed import budget, gates, loading
from helhed.config import REPO_ROOT, Settings
from helhed.generator import generate
from helhed.generator.decisions import HEADER, adopted_by_function, decision_rows
from helhed.generator.ledger import department_of, function_of_account
from helhed.generator.writers import write_csv
from helhed.sources import get_entity, load_sources

pytestmark = pytest.mark.slow

#: The dbt of the environment running the tests (as helhed.budget runs it).
DBT = Path(os.environ.get("HELHED_DBT", Path(sys.executable).parent / "dbt"))
PROJECT_DIR = REPO_ROOT / "dbt_project"
DATABASE = "helhed_budget"
END = date(2025, 12, 31)
RESIDENTS, YEARS, SEED = 2500, 4, 7
THRESHOLD_PCT = Decimal("1.0")  # var budget_approval_threshold_pct (dbt_project.yml)
HISTORY_YEARS = 3  # var budget_forecast_history_years
CENT = Decimal("0.01")
DECISIONS = get_entity("beslutninger.budget_decisions")


@dataclass(frozen=True)
class BudgetSettings(Settings):
    """Settings whose warehouse database is ``DATABASE`` (the loader, gates and dbt write there)."""

    database: str = DATABASE

    def url(self, database: str = "helhed", **kwargs) -> str:  # type: ignore[override]
        return super().url(self.database if database == "helhed" else database, **kwargs)

    def libpq_env(self, database: str = "helhed") -> dict[str, str]:
        return super().libpq_env(self.database if database == "helhed" else database)


@dataclass
class Warehouse:
    settings: BudgetSettings
    env: dict[str, str]
    target_path: Path
    manifest: dict
    results: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def rows(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.settings.url(), autocommit=True) as conn:
            return conn.execute(query, params or None).fetchall()

    def execute(self, query: str, params=None) -> None:
        with psycopg.connect(self.settings.url(), autocommit=True) as conn:
            conn.execute(query, params)

    def dbt(self, *args: str) -> dict[str, str]:
        cmd = [str(DBT), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
               "--target-path", str(self.target_path), "--log-path", str(self.target_path / "logs")]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=1800)
        assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
        run_results = json.loads((self.target_path / "run_results.json").read_text())
        return {r["unique_id"]: r["status"] for r in run_results["results"]}

    def load_decisions(self, up_to: date) -> loading.EntitySummary:
        return loading.load_entity(self.settings, DECISIONS, up_to)


@pytest.fixture(scope="module")
def warehouse(pg: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    data_dir = tmp_path_factory.mktemp("budget_data")
    settings = BudgetSettings(home=pg.home, data_dir=data_dir, pg_host=pg.pg_host, pg_port=pg.pg_port,
                              pg_superuser=pg.pg_superuser)
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(settings.url(), autocommit=True) as conn:
        for schema in ("landing", "audit", "staging"):
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    manifest = generate(profile="randers", residents=RESIDENTS, years=YEARS, seed=SEED, out=data_dir, end_date=END,
                        show_progress=False)
    env = {**os.environ, **settings.libpq_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    wh = Warehouse(settings, env, tmp_path_factory.mktemp("budget_target"), manifest)
    started = time.perf_counter()
    for source in load_sources(include_disabled=True).values():
        for entity in source.entities:
            loading.load_entity(settings, entity, END)
    wh.seconds["load"] = time.perf_counter() - started
    wh.dbt("seed")
    started = time.perf_counter()
    wh.results = wh.dbt("build")
    wh.seconds["dbt build"] = time.perf_counter() - started
    print(f"\nbudget test warehouse: {json.dumps({k: round(v, 1) for k, v in wh.seconds.items()})}")
    yield wh
    try:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
    except psycopg.OperationalError:
        pass


# ----------------------------------------------------------------------------- independent recomputation


def _round(value: Decimal) -> Decimal:
    """PostgreSQL's round(numeric, 2): half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _part_to(amount: Decimal, start: date, end: date, year_start: date, through: date) -> Decimal:
    """The part of a posting spread over start..end that falls in year_start..through, as the
    ledger spread rounds it month by month (the monthly parts telescope to this)."""
    days = (end - start).days + 1
    upto = max(0, min((min(through, end) - start).days + 1, days))
    before = max(0, min((year_start - start).days, days))
    return _round(amount * upto / days) - _round(amount * before / days)


def _month_end(year: int, month: int) -> date:
    return (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1))


@dataclass
class Recomputed:
    adopted: dict[tuple[int, str, str], Decimal]
    corrected: dict[tuple[int, str, str], Decimal]
    cumulative: dict[tuple[int, int, str, str], Decimal]  # (year, month, department, function) -> to that month end
    decisions: list[tuple[date, str, str, Decimal]]  # (review date, department, function, signed)


def recompute(wh: Warehouse) -> Recomputed:
    adopted: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
    corrected: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
    per_account: dict[tuple[int, str, str], dict[str, Decimal]] = defaultdict(dict)
    for year, account, cost_centre, kind, amount in wh.rows(
            "select budget_year, account, cost_centre, budget_type, amount from staging.oekonomi__budgets"):
        per_account[(year, account, cost_centre)][kind] = amount
    for (year, account, _), kinds in per_account.items():
        function = function_of_account(account)
        key = (year, department_of(function), function)
        adopted[key] += kinds.get("Oprindeligt budget", Decimal(0))
        corrected[key] += kinds.get("Korrigeret budget", kinds.get("Oprindeligt budget", Decimal(0)))
    cumulative: dict[tuple[int, int, str, str], Decimal] = defaultdict(Decimal)
    for account, dc, amount, period_from, period_to, delivered in wh.rows(
            "select account, debit_credit, amount, period_from, period_to, delivery_date from staging.oekonomi__postings"):
        signed = amount if dc == "D" else -amount
        start, end = period_from or period_to or delivered, period_to or period_from or delivered
        function = function_of_account(account)
        department = department_of(function)
        for year in range(start.year, end.year + 1):
            for month in range(1, 13):
                part = _part_to(signed, start, end, date(year, 1, 1), _month_end(year, month))
                if part:
                    cumulative[(year, month, department, function)] += part
    # The register in force is the newest file; every leg of the generated register is valid.
    calendar = {row["review_code"]: int(row["review_month"]) for row in csv.DictReader(
        (PROJECT_DIR / "seeds" / "budget_review_calendar.csv").open(encoding="utf-8")) if not row["budget_year"]}
    decisions = []
    for review_id, taken, given, function, amount in wh.rows(
            "select review_id, from_department, to_department, function, amount from staging.beslutninger__budget_decisions"
            " where source_file = (select max(source_file) from staging.beslutninger__budget_decisions)"):
        year, code = review_id.split("-")
        decisions.append((_month_end(int(year), calendar[code]), taken or given, function, -amount if taken else amount))
    return Recomputed(adopted, corrected, cumulative, decisions)


def test_build_passes_and_the_forecast_unit_test_ran(warehouse: Warehouse) -> None:
    failed = {uid: s for uid, s in warehouse.results.items()
              if s not in {"success", "pass"} and not (uid.startswith("exposure.") and s == "no-op")}
    assert not failed, failed
    unit = [uid for uid in warehouse.results if "test_expected_year_end_follows_the_seasonal_profile" in uid]
    assert unit and warehouse.results[unit[0]] == "pass"
    assert "test.helhed.assert_budget_review_cells_are_protected" in warehouse.results


def test_generated_register_is_valid_and_applied(warehouse: Warehouse) -> None:
    legs = warehouse.rows("select decision_id, is_valid, signed_amount from build_int.int_budget_decisions_validated")
    assert len({d for d, _, _ in legs}) == 3 and all(valid for _, valid, _ in legs)
    by_decision: dict[str, Decimal] = defaultdict(Decimal)
    for decision, _, signed in legs:
        by_decision[decision] += signed
    assert all(total == 0 for total in by_decision.values()), by_decision


def test_review_figures_match_an_independent_recomputation(warehouse: Warehouse) -> None:
    truth = recompute(warehouse)
    as_of = warehouse.rows("select max(as_of_date) from build_int.int_months")[0][0]
    first = min(warehouse.rows("select min(period_from) from staging.oekonomi__postings")[0][0], as_of)
    complete = {y for y in range(first.year, as_of.year + 1) if date(y, 1, 1) >= first and date(y, 12, 31) <= as_of}
    rows = warehouse.rows(
        "select budget_year, review_date, department, kontoplan_function, adopted_budget, corrected_budget,"
        " approved_decisions_to_date, actual_to_date, forecast_method, year_share, expected_year_end, deviation,"
        " is_flagged_for_approval from build_restricted.fct_budget_reviews")
    assert {r[0] for r in rows} == {2022, 2023, 2024, 2025}
    assert len({r[1] for r in rows}) == 16  # 4 reviews (end of March, June, September, the accounts) a year
    seasonal = 0
    for year, review, dept, function, adopted, corrected, decided, actual, method, share, expected, deviation, flag in rows:
        key = (year, dept, function)
        assert adopted == truth.adopted.get(key, 0), (review, key)
        applied = sum((s for d, de, f, s in truth.decisions if d.year == year and d <= review and (de, f) == (dept, function)),
                      Decimal(0))
        assert decided == applied, (review, key)
        assert corrected == truth.corrected.get(key, 0) + applied, (review, key)
        assert actual == truth.cumulative.get((year, review.month, dept, function), 0), (review, key)
        history = [h for h in range(year - HISTORY_YEARS, year) if h in complete]
        to_month = sum((truth.cumulative.get((h, review.month, dept, function), Decimal(0)) for h in history), Decimal(0))
        full = sum((truth.cumulative.get((h, 12, dept, function), Decimal(0)) for h in history), Decimal(0))
        if to_month > 0 and full > 0:
            want_share, want_method = (to_month / full).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP), "seasonal"
            seasonal += 1
        else:
            days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
            want_share = (Decimal((review - date(year, 1, 1)).days + 1) / days).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
            want_method = "linear"
        assert (method, share) == (want_method, want_share), (review, key)
        assert expected == _round(actual / want_share), (review, key)
        assert deviation == expected - corrected
        assert flag == (deviation > THRESHOLD_PCT / 100 * abs(corrected)), (review, key)
    assert seasonal > len(rows) / 2  # the later years read their history


def test_forecast_error_on_generated_years(warehouse: Warehouse) -> None:
    """Expected year-end at each review against the year's actual (measured; printed for the docs)."""
    rows = warehouse.rows(
        "select r.review_code, r.budget_year, sum(r.expected_year_end), sum(a.actual_to_date), sum(a.corrected_budget)"
        " from build_restricted.fct_budget_reviews r join build_restricted.fct_budget_reviews a"
        "  on a.budget_year = r.budget_year and a.review_code = 'REG' and a.department = r.department"
        "  and a.kontoplan_function = r.kontoplan_function"
        " group by 1, 2 order by 2, 1")
    errors = {f"{code} {year}": round(float((expected - actual) / actual), 4) for code, year, expected, actual, _ in rows}
    print(f"\nforecast error of the municipality's total (expected / actual - 1): {errors}")
    def mean_abs(code: str) -> float:
        values = [abs(e) for k, e in errors.items() if k.startswith(code)]
        return sum(values) / len(values)

    # A small municipality's totals are noisy: within 10 % at any review, better as the year goes on,
    # and exact at the annual accounts.
    assert max(abs(e) for e in errors.values()) < 0.10
    assert mean_abs("BO3") < mean_abs("BO1")
    assert all(e == 0 for k, e in errors.items() if k.startswith("REG"))


def test_budget_marts_pass_their_gates(warehouse: Warehouse) -> None:
    for table in ("economy_budget_reviews", "economy_budget_decisions", "economy_programme_baseline_by_department",
                  "economy_budget_reallocation_proposals"):
        result = gates.run_suite(warehouse.settings, f"marts__{table}", "build_marts", table, "budget", data_docs=False)
        assert result.passed, result.failures
        assert result.warnings == [], result.warnings
    staged = gates.run_suite(warehouse.settings, "staging__beslutninger__budget_decisions", "staging",
                             DECISIONS.table, "budget", data_docs=False)
    assert staged.passed and staged.warnings == [], (staged.failures, staged.warnings)


# ----------------------------------------------------------------------------- proposals


DRAWS = 99
EN_PLAN_MONTHLY = {"beskaeftigelse": None, "voksen_social": None, "sundhed": None}  # set from the budgets


@dataclass
class Planted:
    monthly: dict[tuple[str, str], Decimal]  # (programme, department) -> freed per month at draw 0
    first_runs: list[list[tuple]]
    public_runs: list[list[tuple]]


def _noise(draw: int, department: str) -> float:
    """A fixed, symmetric spread per draw: the normal quantile of a department-specific permutation."""
    k = sum(map(ord, department)) % DRAWS
    rank = (draw * 37 + k) % DRAWS
    return 0.15 * NormalDist().inv_cdf((rank + 0.5) / DRAWS)


@pytest.fixture(scope="module")
def planted(warehouse: Warehouse) -> Planted:
    """Draws with constant monthly freed resources (2024-01..2025-12): EN_PLAN saves in the jobcenter and
    costs adult social services 5 % and health 0.2 % of their 2025 budget a year; FAMILIE only costs."""
    budgets = dict(warehouse.rows(
        "select department, sum(corrected_budget) from build_restricted.fct_budget_reviews"
        " where review_id = '2025-BO1' group by 1"))
    voksen = -(budgets["voksen_social"] * Decimal("0.05") / 12).quantize(Decimal(1))
    sundhed = -(budgets["sundhed"] * Decimal("0.002") / 12).quantize(Decimal(1))
    monthly = {("EN_PLAN", "beskaeftigelse"): -3 * (voksen + sundhed), ("EN_PLAN", "voksen_social"): voksen,
               ("EN_PLAN", "sundhed"): sundhed, ("FAMILIE", "boern_familie"): Decimal(-2000),
               ("FAMILIE", "sundhed"): Decimal(-500)}
    warehouse.execute("drop table if exists build_restricted.programme_freed_resources_draws")
    warehouse.execute("create table build_restricted.programme_freed_resources_draws (programme text, department text,"
                      " month date, draw integer, freed_dkk numeric(16,2))")
    months = [date(2024 + i // 12, i % 12 + 1, 1) for i in range(24)]
    rows = [(programme, department, month, draw,
             value if draw == 0 else _round(value * Decimal(1 + _noise(draw, department))))
            for (programme, department), value in monthly.items() for month in months for draw in range(DRAWS + 1)]
    with psycopg.connect(warehouse.settings.url(), autocommit=True) as conn, conn.cursor() as cur:
        with cur.copy("copy build_restricted.programme_freed_resources_draws from stdin") as copy:
            for row in rows:
                copy.write_row(row)
    runs, public = [], []
    for _ in range(2):
        result = budget.build_after_evaluation(warehouse.settings, target_path=warehouse.target_path / "freed")
        assert result.has_draws and not result.warnings, result.summary()
        runs.append(warehouse.rows("select * from build_restricted.fct_budget_reallocation_proposals"
                                   " order by programme_code, review_id, model, variant, budget_holder"))
        public.append(warehouse.rows("select * from build_marts.economy_budget_reallocation_proposals"
                                     " order by programme_code, review_id, model, variant, budget_holder"))
    return Planted(monthly, runs, public)


def proposals(wh: Warehouse, where: str = "true") -> dict[tuple, dict]:
    cur_rows = []
    with psycopg.connect(wh.settings.url(), autocommit=True) as conn:
        cur = conn.execute(f"select * from build_restricted.fct_budget_reallocation_proposals where {where}")
        names = [d.name for d in cur.description]
        cur_rows = [dict(zip(names, r)) for r in cur.fetchall()]
    return {(r["programme_code"], r["review_id"], r["model"], r["variant"], r["budget_holder"]): r for r in cur_rows}


def test_the_same_review_run_twice_gives_the_same_proposals(planted: Planted) -> None:
    assert planted.first_runs[0] and planted.first_runs[0] == planted.first_runs[1]
    assert planted.public_runs[0] == planted.public_runs[1]


def test_proposals_sum_as_each_model_says(warehouse: Warehouse, planted: Planted) -> None:
    rows = proposals(warehouse)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for key, row in rows.items():
        groups[key[:4]].append(row)
    assert {k[2:4] for k in groups} == {("netvaerk", "forskud"), ("netvaerk", "loebende"),
                                        ("saerskilt_enhed", "baseline"), ("saerskilt_enhed", "borgerandel")}
    for (programme, review, model, variant), members in groups.items():
        moves = [r for r in members if r["line_type"] == "omplacering"]
        assert sum(r["cumulative_amount"] for r in moves) == 0, (programme, review, model, variant)
        assert sum(r["proposal_amount"] for r in moves) == 0, (programme, review, model, variant)
        if model == "netvaerk":
            assert {r["budget_holder"] for r in moves} <= {"beskaeftigelse", "boern_familie", "voksen_social", "sundhed", "oevrige"}
            (rest,) = [r for r in members if r["budget_holder"] == "kassen"]
            assert rest["cumulative_amount"] == sum(r["basis_amount"] for r in moves)
        else:
            (unit,) = [r for r in moves if r["budget_holder"] == "helhed"]
            assert unit["cumulative_amount"] == -sum(r["cumulative_amount"] for r in moves if r is not unit)
            assert unit["interval_source"] == "regel" and unit["proposal_lower"] == unit["proposal_amount"]


def test_network_proposals_carry_the_planted_freed_resources(warehouse: Warehouse, planted: Planted) -> None:
    rows = proposals(warehouse, "programme_code = 'EN_PLAN' and budget_year = 2025 and model = 'netvaerk'")
    m = planted.monthly
    saver, carriers = "beskaeftigelse", ("voksen_social", "sundhed")
    for review, months in (("2025-BO1", 3), ("2025-BO2", 6), ("2025-BO3", 9), ("2025-REG", 12)):
        for variant, basis_months in (("forskud", 12), ("loebende", months)):
            for department in carriers:
                row = rows[("EN_PLAN", review, "netvaerk", variant, department)]
                extra = -m[("EN_PLAN", department)] * basis_months
                assert row["basis_amount"] == -extra and row["cumulative_amount"] == extra, (review, variant, department)
                assert row["basis_lower"] < row["basis_amount"] < row["basis_upper"]
                assert row["cumulative_lower"] < row["cumulative_amount"] < row["cumulative_upper"]
                assert row["draws"] == DRAWS and row["interval_source"] == "bootstrap"
            total_extra = -sum(m[("EN_PLAN", d)] for d in carriers) * basis_months
            assert rows[("EN_PLAN", review, "netvaerk", variant, saver)]["cumulative_amount"] == -total_extra
            assert rows[("EN_PLAN", review, "netvaerk", variant, "kassen")]["cumulative_amount"] == \
                m[("EN_PLAN", saver)] * basis_months - total_extra
        # Up front: the year's effect at the first review and no true-up at a constant rate; as gains appear: a quarter each time.
        upfront = rows[("EN_PLAN", review, "netvaerk", "forskud", "voksen_social")]
        assert upfront["proposal_amount"] == (upfront["cumulative_amount"] if review == "2025-BO1" else 0)
        asgains = rows[("EN_PLAN", review, "netvaerk", "loebende", "voksen_social")]
        assert asgains["proposal_amount"] == -m[("EN_PLAN", "voksen_social")] * 3
    for department in (saver, *carriers, "kassen"):
        assert rows[("EN_PLAN", "2025-REG", "netvaerk", "forskud", department)]["cumulative_amount"] == \
            rows[("EN_PLAN", "2025-REG", "netvaerk", "loebende", department)]["cumulative_amount"]


def test_extra_spending_above_the_threshold_is_flagged_for_approval(warehouse: Warehouse, planted: Planted) -> None:
    rows = proposals(warehouse, "budget_year = 2025 and model = 'netvaerk'")
    for variant in ("forskud", "loebende"):
        # 5 % of the budget a year: above 1 % at every review; 0.2 %: never; savings: never.
        for review in ("2025-BO1", "2025-BO2", "2025-BO3", "2025-REG"):
            assert rows[("EN_PLAN", review, "netvaerk", variant, "voksen_social")]["requires_approval"]
            assert not rows[("EN_PLAN", review, "netvaerk", variant, "sundhed")]["requires_approval"]
            assert not rows[("EN_PLAN", review, "netvaerk", variant, "beskaeftigelse")]["requires_approval"]
            assert not rows[("EN_PLAN", review, "netvaerk", variant, "kassen")]["requires_approval"]
            # FAMILIE only costs: nothing to move, the extra cost lands on kassen and needs approval.
            assert rows[("FAMILIE", review, "netvaerk", variant, "kassen")]["requires_approval"]
            assert rows[("FAMILIE", review, "netvaerk", variant, "boern_familie")]["cumulative_amount"] == 0
    for row in rows.values():
        if row["line_type"] == "omplacering" and row["basis_amount"] is not None and row["department_budget"]:
            share = -row["basis_amount"] / abs(row["department_budget"])
            assert row["requires_approval"] == (share > THRESHOLD_PCT / 100), row


def test_separate_unit_rules_match_the_programme_baseline(warehouse: Warehouse, planted: Planted) -> None:
    rows = proposals(warehouse, "model = 'saerskilt_enhed'")
    baseline = warehouse.rows(
        "select programme_code, review_id, department, unit_budget_baseline, unit_budget_citizens, baseline_to_date"
        " from build_restricted.fct_programme_baseline_by_department")
    assert baseline
    for programme, review, department, by_baseline, by_citizens, to_date in baseline:
        assert rows[(programme, review, "saerskilt_enhed", "baseline", department)]["cumulative_amount"] == -by_baseline
        assert rows[(programme, review, "saerskilt_enhed", "borgerandel", department)]["cumulative_amount"] == -by_citizens
        if review.endswith("-REG"):  # at the accounts the unit's year is the enrolled months: the baseline to date
            assert by_baseline == to_date


# ----------------------------------------------------------------------------- decision register


def _register(wh: Warehouse, day: date, extra: list[list[str]]) -> Path:
    """A new version of the register: the generated decisions plus ``extra`` rows, delivered on ``day``."""
    budget_rows = [(y, a, c, k, int(v * 100)) for y, a, c, k, v in
                   wh.rows("select budget_year, account, cost_centre, budget_type, amount from staging.oekonomi__budgets")]
    rows = list(decision_rows(END, budget_rows, ["EN_PLAN", "FAMILIE"])) + extra
    path = wh.settings.landing_dir / "beslutninger" / day.isoformat() / f"budgetbeslutninger_{day:%Y%m%d}.csv"
    write_csv(path, HEADER, rows)
    return path


def _corrected(wh: Warehouse) -> dict[tuple[str, str, str], Decimal]:
    return {(r, d, f): c for r, d, f, c in wh.rows(
        "select review_id, department, kontoplan_function, corrected_budget from build_restricted.fct_budget_reviews")}


def test_decisions_are_rejected_with_their_row_named_and_a_valid_one_changes_the_next_run(warehouse: Warehouse) -> None:
    before = _corrected(warehouse)
    at_review_sql = ("select approved_decisions_at_review from build_restricted.fct_budget_reviews"
                     " where review_id = '2025-BO3' and department = 'sundhed' and kontoplan_function = '4.62.82'")
    (before_at_review,) = warehouse.rows(at_review_sql)[0]
    generated = sum(1 for _ in decision_rows(END, [(y, a, c, k, int(v * 100)) for y, a, c, k, v in warehouse.rows(
        "select budget_year, account, cost_centre, budget_type, amount from staging.oekonomi__budgets")],
        ["EN_PLAN", "FAMILIE"]))
    valid = ["T-OK", "2025-BO3", "EN_PLAN"]
    ok_rows = [[*valid, "sundhed", "", "4.62.82", "12345,00", "20-10-2025", "Test"],
               [*valid, "", "voksen_social", "5.38.53", "12345,00", "20-10-2025", "Test"]]

    # 1. An unknown department: the loader quarantines the row (file, line, rule) and every decision of the file is held back.
    day1 = END + timedelta(days=1)
    bad_file = _register(warehouse, day1, [*ok_rows, ["T-DEPT", "2025-BO3", "EN_PLAN", "skolen", "", "5.68.90", "500,00", "20-10-2025", ""],
                                           ["T-DEPT", "2025-BO3", "EN_PLAN", "", "beskaeftigelse", "5.68.90", "500,00", "20-10-2025", ""]])
    summary = warehouse.load_decisions(day1)
    assert (summary.loaded, summary.quarantined) == (generated + 3, 1)
    (quarantined,) = warehouse.rows(
        "select f.file_name, q.line_no, q.rule, q.detail from landing.quarantine q join audit.delivery_files f using (file_id)"
        " where f.entity = 'beslutninger.budget_decisions'")
    assert quarantined[0] == f"{day1.isoformat()}/{bad_file.name}"
    assert quarantined[1] == generated + 4 and quarantined[2] == "unknown_code" and "Fra forvaltning" in quarantined[3]
    warehouse.dbt("build", "--select", "int_budget_decisions_validated+")
    held = warehouse.rows("select decision_id, rule, rejection_reason from build_int.int_budget_decisions_validated")
    assert held and all(rule == "file_has_quarantined_rows" for _, rule, _ in held)
    assert all(bad_file.name in reason and "karantæne" in reason for _, _, reason in held)
    assert warehouse.rows("select count(*) from build_restricted.fct_budget_reviews where approved_decisions_to_date <> 0")[0][0] == 0

    # 2. A corrected file: the unbalanced and unknown-review decisions are rejected, the valid one is applied.
    day2 = END + timedelta(days=2)
    good_file = _register(warehouse, day2, [
        *ok_rows,
        ["T-UNBAL", "2025-BO2", "FAMILIE", "boern_familie", "", "5.28.21", "1000,00", "20-07-2025", ""],
        ["T-UNBAL", "2025-BO2", "FAMILIE", "", "beskaeftigelse", "5.68.90", "900,00", "20-07-2025", ""],
        ["T-REVIEW", "2025-BO9", "EN_PLAN", "beskaeftigelse", "", "5.68.90", "700,00", "20-07-2025", ""],
        ["T-REVIEW", "2025-BO9", "EN_PLAN", "", "helhed", "5.68.90", "700,00", "20-07-2025", ""],
    ])
    summary = warehouse.load_decisions(day2)
    assert (summary.loaded, summary.quarantined) == (generated + 6, 0)
    staged = gates.run_suite(warehouse.settings, "staging__beslutninger__budget_decisions", "staging", DECISIONS.table,
                             "budget", data_docs=False)
    assert staged.passed and any("balance" in w or "equal" in w for w in staged.warnings), staged.warnings
    warehouse.dbt("build", "--select", "int_budget_decisions_validated+")
    legs = {(d, f, dep): (valid_, rule, reason) for d, f, dep, valid_, rule, reason in warehouse.rows(
        "select decision_id, kontoplan_function, department, is_valid, rule, rejection_reason"
        " from build_int.int_budget_decisions_validated")}
    rule, reason = legs[("T-UNBAL", "5.28.21", "boern_familie")][1:]
    assert rule == "unbalanced_decision"
    assert all(part in reason for part in (good_file.name, "beslutning T-UNBAL", "funktion 5.28.21", "unbalanced_decision",
                                           "1000.00", "900.00"))
    rule, reason = legs[("T-REVIEW", "5.68.90", "helhed")][1:]
    assert rule == "unknown_review" and "2025-BO9" in reason and good_file.name in reason
    assert legs[("T-OK", "4.62.82", "sundhed")][0] and legs[("T-OK", "5.38.53", "voksen_social")][0]
    published = warehouse.rows("select decision_id, status, rejection_reason from build_marts.economy_budget_decisions"
                               " where decision_id like 'T-%'")
    assert {(d, s) for d, s, _ in published} == {("T-OK", "Indregnet i korrigeret budget"), ("T-UNBAL", "Afvist"),
                                                 ("T-REVIEW", "Afvist")}

    # The valid decision changes the corrected budget of its review (2025-BO3) and later ones, not earlier ones.
    after = _corrected(warehouse)
    change = Decimal("12345.00")
    for review, moved in (("2025-BO2", 0), ("2025-BO3", change), ("2025-REG", change)):
        assert after[(review, "sundhed", "4.62.82")] - before[(review, "sundhed", "4.62.82")] == -moved, review
        assert after[(review, "voksen_social", "5.38.53")] - before[(review, "voksen_social", "5.38.53")] == moved, review
    (after_at_review,) = warehouse.rows(at_review_sql)[0]
    assert after_at_review - before_at_review == -change


# ----------------------------------------------------------------------------- generator


def test_sample_register_balances_and_follows_the_budget() -> None:
    budget_rows = [(2025, "557731001", "41300", "Oprindeligt budget", 250_000_000),
                   (2025, "568901002", "41100", "Oprindeligt budget", 400_000_000),
                   (2025, "528201001", "42300", "Oprindeligt budget", 90_000_000),
                   (2024, "528231001", "42300", "Oprindeligt budget", 90_000_000)]
    assert adopted_by_function(budget_rows, 2025) == {"5.57.73": 2_500_000, "5.68.90": 4_000_000, "5.28.20": 900_000}
    rows = list(decision_rows(date(2025, 12, 31), budget_rows, ["EN_PLAN", "FAMILIE"]))
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        assert len(row) == len(HEADER) and bool(row[3]) != bool(row[4])
        totals[row[0]] += Decimal(row[6].replace(",", ".")) * (-1 if row[3] else 1)
    assert set(totals) == {"2025-BO2-01", "2025-BO3-02", "2025-BO3-03"} and all(t == 0 for t in totals.values())
    # FAMILIE takes from the first placement function with a budget (5.28.23 has none in 2025): 2 % of 900,000.
    assert ["2025-BO3-02", "boern_familie", "5.28.20", "18000,00"] == [rows[3][0], rows[3][3], rows[3][5], rows[3][6]]
    # Before the third review's decision date only the second review's decision is known.
    assert {r[0] for r in decision_rows(date(2025, 9, 30), budget_rows, ["EN_PLAN"])} == {"2025-BO2-01"}
