"""The warehouse reproduces the generator's planted truth, end to end through the loader.

A municipality of ~3,000 residents with 3 years of history and three nightly deliveries after
the end date is generated, loaded with ``helhed.loading`` into a database of its own and built
with dbt:

1. *initial*: the initial delivery (every source, as known on the end date), then a full build.
2. *nightly*: three nights of increments with late corrections from every source (back-dated
   benefit, DUBU, Sensum, health and offer ends, Sensum status changes, late health, education
   and employment records, corrected programme rows and co-financing bills, ledger reversals
   re-posted with corrected amounts on new vouchers, the jobcenter's new and corrected
   conversations and offers), each followed by an incremental ``dbt build``.

The truth is the state after the last night, so every figure is checked on the build after the
nights; a ``--full-refresh`` build must then give exactly the same rows in every incremental
model (the person-month chain and the ledger, imputed-cost and attribution chain) and in the
person-month and family-month facts as the incremental history. The nightly data tests of the
incremental tables check the months the night rebuilt, the weekly ones the whole table.
The ledger identity (ledger = direct + imputed + unattributed per department and month) is
checked against sums of the staged postings computed here, independently of the dbt models.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from helhed import gates, loading
from helhed.config import REPO_ROOT, Settings
from helhed.generator import generate
from helhed.generator.ledger import department_of, function_of_account
from helhed.sources import load_sources

pytestmark = pytest.mark.slow

DBT = Path(os.environ.get("HELHED_DBT", REPO_ROOT / ".venv" / "bin" / "dbt"))
PROJECT_DIR = REPO_ROOT / "dbt_project"
DATABASE = "helhed_recon"
END = date(2025, 12, 31)
NIGHTS = 3
RESIDENTS, YEARS, SEED = 3000, 3, 11
#: Night 1 runs with the project's settings; night 2 rebuilds every incremental model in full
#: (the path a batch over most of the months takes), night 3 never does, so the last night's
#: delete+insert runs on tables the rebuild wrote and both paths meet the full refresh.
NIGHT_VARS = {2: ("--vars", "{incremental_rebuild_share: 0}"), 3: ("--vars", "{incremental_rebuild_share: 1.01}")}
#: The build the truth describes: the restricted marts after the last night.
FINAL = "build_restricted"
#: Every incremental model (macros/incremental.sql) and the published facts copied from them.
INCREMENTAL = ("int_benefits_aggregated_to_person_months", "int_activities_aggregated_to_person_months",
               "int_cost_aggregated_to_person_months", "int_person_month_spine", "int_person_months",
               "int_household_months",
               # the ledger, imputed-cost and attribution chain
               "int_ledger_postings_spread_to_months", "int_direct_cost_aggregated_to_person_months",
               "int_imputed_cost_aggregated_to_person_months", "int_refunds_apportioned_to_person_months",
               "int_attributed_cost_by_person_function_monthly", "int_cost_attribution_by_function_monthly")
FACTS = ("fct_person_month", "fct_family_month")


@dataclass(frozen=True)
class ReconSettings(Settings):
    """Settings whose warehouse database is ``DATABASE``: the loader and the gates write there,
    so this test never touches the ``helhed`` database other tests use."""

    database: str = DATABASE

    def url(self, database: str = "helhed", **kwargs) -> str:  # type: ignore[override]
        return super().url(self.database if database == "helhed" else database, **kwargs)

    def libpq_env(self, database: str = "helhed") -> dict[str, str]:
        return super().libpq_env(self.database if database == "helhed" else database)


@dataclass
class Warehouse:
    settings: ReconSettings
    env: dict[str, str]
    target_path: Path
    manifest: dict
    build_seconds: dict[str, float] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    initial_results: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def truth(self) -> dict:
        return self.manifest["truth"]

    def rows(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.settings.url(), autocommit=True) as conn:
            return conn.execute(query, params or None).fetchall()

    def dbt(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(DBT), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
               "--target-path", str(self.target_path), "--log-path", str(self.target_path / "logs")]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=1800)
        assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}"
        return proc

    def build(self, label: str, *args: str) -> None:
        started = time.perf_counter()
        self.outputs[label] = self.dbt("build", *args).stdout
        self.build_seconds[label] = round(time.perf_counter() - started, 1)
        run_results = json.loads((self.target_path / "run_results.json").read_text())
        self.results = {r["unique_id"]: r["status"] for r in run_results["results"]}

    def load(self, up_to: date) -> None:
        for source in load_sources(include_disabled=True).values():
            for entity in source.entities:
                loading.load_entity(self.settings, entity, up_to)

    def snapshot(self, schema: str, tables: tuple[tuple[str, str], ...]) -> None:
        """Copy (schema, table) pairs into ``schema``."""
        with psycopg.connect(self.settings.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
            for source, table in tables:
                conn.execute(sql.SQL("create table {}.{} as select * from {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table), sql.Identifier(source), sql.Identifier(table)))


@pytest.fixture(scope="module")
def warehouse(pg: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """Generate, load the initial delivery, build; snapshot; then run the three nights."""
    data_dir = tmp_path_factory.mktemp("recon_data")
    settings = ReconSettings(home=pg.home, data_dir=data_dir, pg_host=pg.pg_host, pg_port=pg.pg_port,
                             pg_superuser=pg.pg_superuser)
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(settings.url(), autocommit=True) as conn:
        for schema in ("landing", "audit", "staging"):  # as helhed.database.bootstrap does
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    manifest = generate(profile="randers", residents=RESIDENTS, years=YEARS, seed=SEED, out=data_dir, end_date=END,
                        daily_increments=NIGHTS, show_progress=False)
    env = {**os.environ, **settings.libpq_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    wh = Warehouse(settings, env, tmp_path_factory.mktemp("recon_target"), manifest)

    wh.load(END)
    wh.dbt("seed")
    wh.build("initial")
    wh.initial_results = dict(wh.results)
    for night in range(1, NIGHTS + 1):
        wh.load(END + timedelta(days=night))
        wh.build(f"night {night}", *NIGHT_VARS.get(night, ()))
    wh.snapshot("recon_incremental", tuple(("build_int", t) for t in INCREMENTAL) + tuple((FINAL, t) for t in FACTS))
    print(f"\ndbt build seconds at {RESIDENTS} residents x {YEARS} years: {wh.build_seconds}")
    yield wh
    try:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
    except psycopg.OperationalError:
        pass


def months_of(manifest: dict) -> list[str]:
    return sorted(next(iter(manifest["truth"]["persons_by_departments_active_month"].values())))


# ----------------------------------------------------------------------------- the builds


def test_builds_pass(warehouse: Warehouse) -> None:
    for results in (warehouse.initial_results, warehouse.results):
        # Exposures (the dashboards) are no-ops in a build.
        failed = {uid: s for uid, s in results.items()
                  if s not in {"success", "pass", "warn"} and not (uid.startswith("exposure.") and s == "no-op")}
        assert not failed, failed
    assert any(uid.startswith("model.helhed.fct_person_month") for uid in warehouse.results)


def _ledger_unique_test(warehouse: Warehouse) -> tuple[str, Path]:
    """The unique-combination test of the ledger spread: its node name and its SQL as last run."""
    manifest = json.loads((warehouse.target_path / "manifest.json").read_text())
    (node,) = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"
               and n.get("attached_node") == "model.helhed.int_ledger_postings_spread_to_months"
               and n["name"].startswith("unique_combination_of_columns")]
    return node["name"], warehouse.target_path / "run" / "helhed" / node["original_file_path"] / node["path"]


def test_nightly_tests_check_the_rebuilt_months_and_the_weekly_ones_the_whole_table(warehouse: Warehouse) -> None:
    """The last night's tests on the incremental ledger read the months from its recorded batch start
    (whole tables on Sundays); with ``test_whole_tables`` they read the whole table."""
    (batch_start,) = warehouse.rows("select batch_start from build_int.incremental_builds"
                                    " where model = 'int_ledger_postings_spread_to_months'")[0]
    assert batch_start is not None and batch_start < END, "the night was incremental"
    name, compiled = _ledger_unique_test(warehouse)
    filtered = f"month >= date '{batch_start.isoformat()}'"
    sunday = datetime.now(UTC).weekday() == 6
    assert (filtered in compiled.read_text()) != sunday, compiled.read_text()[:2000]
    warehouse.dbt("compile", "--select", name, "--vars", "{test_whole_tables: true}")
    compiled = warehouse.target_path / "compiled" / compiled.relative_to(warehouse.target_path / "run")
    assert "month >=" not in compiled.read_text() and "dbt_subquery" not in compiled.read_text()


# ----------------------------------------------------------------------------- initial state


def _round_half_away(value: Decimal) -> Decimal:
    """PostgreSQL's round(numeric, 2): halves away from zero."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _spread(amount: Decimal, first: date, last: date) -> Iterator[tuple[date, Decimal]]:
    """A posting's amount over the months of its period, in proportion to the days, exactly to the øre
    (the cumulative rule of docs/warehouse.md, written out here without the dbt model)."""
    days = (last - first).days + 1
    month = first.replace(day=1)
    while month <= last:
        following = (month + timedelta(days=32)).replace(day=1)
        through = (min(last, following - timedelta(days=1)) - first).days + 1
        before = (max(first, month) - first).days
        yield month, _round_half_away(amount * through / days) - _round_half_away(amount * before / days)
        month = following


#: Dranst (digit 6 of the account string) -> cost kind, as the kontoplan defines them.
COST_KINDS = {"1": "gross", "2": "refunds", "3": "construction"}


def staged_ledger(warehouse: Warehouse) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Gross operating cost, refunds, construction and the CPR-posted parts per department and month,
    from the staged postings alone (function and dranst read from the account string here)."""
    sums: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for account, dc, amount, recipient, period_from, period_to, delivered in warehouse.rows(
        "select account, debit_credit, amount, recipient_person_key, period_from, period_to, delivery_date"
        " from staging.oekonomi__postings"
    ):
        kind = COST_KINDS.get(account[5])
        if kind is None:
            continue
        first = period_from or period_to or delivered
        last = max(period_to or period_from or delivered, first)
        signed = amount if dc == "D" else -amount
        for month, part in _spread(signed, first, last):
            cell = sums[(department_of(function_of_account(account)), month.strftime("%Y-%m"))]
            cell[kind] += part
            if recipient is not None:
                cell[f"{kind}_with_cpr"] += part
    return sums


def test_ledger_total_is_direct_plus_imputed_plus_unattributed_per_department_and_month(warehouse: Warehouse) -> None:
    """Gross operating cost (dranst 1), refunds (2), net and construction (3) per department and month
    against independent sums of the staged postings; the operating ledger on the attribution basis
    = direct + imputed + unattributed, with direct = the basis's postings with a CPR."""
    staged = staged_ledger(warehouse)
    assert staged, "no postings were loaded"
    got = {
        (dept, month): row
        for dept, month, *row in warehouse.rows(
            f"select department, to_char(month, 'YYYY-MM'), max(attribution_basis), sum(gross_operating_cost),"
            f" sum(refunds), sum(net_operating_cost), sum(construction_cost), sum(ledger_amount), sum(direct_cost),"
            f" sum(imputed_cost), sum(unattributed_cost) from {FINAL}.fct_cost_attribution_monthly group by 1, 2"
        )
    }
    for key, cell in staged.items():
        basis, gross, refunds, net, construction, led, d, i, u = got[key]
        assert (gross, refunds, construction) == (cell["gross"], cell["refunds"], cell["construction"]), key
        assert net == cell["gross"] + cell["refunds"], key
        if basis == "net":
            assert led == net and d == cell["gross_with_cpr"] + cell["refunds_with_cpr"], key
        else:
            assert basis == "gross" and led == gross and d == cell["gross_with_cpr"], key
        assert led == d + i + u, key
    # The imputed cost lands in ledger months (no imputation outside the ledger's window).
    assert {k for k, v in got.items() if v[1] != 0} == {k for k, v in staged.items() if v["gross"] != 0}


def test_coverage_by_department_and_year_matches_the_truth(warehouse: Warehouse) -> None:
    got = {
        (str(year), dept): (float(led), float(d), float(i))
        for year, dept, led, d, i in warehouse.rows(
            "select extract(year from month)::int, department, sum(ledger_amount), sum(direct_cost), sum(imputed_cost)"
            " from build_restricted.fct_cost_attribution_monthly group by 1, 2"
        )
    }
    # The truth prices the benefit periods as they stand after the last night (back-dated ends
    # included), so it is compared with the build after the nights, not the initial snapshot.
    truth = warehouse.truth["coverage_by_department_year"]
    assert truth
    for year, departments in truth.items():
        for dept, t in departments.items():
            led, d, i = got[(year, dept)]
            assert led == pytest.approx(t["ledger_kr"], abs=0.005), (year, dept)
            assert d == pytest.approx(t["direct_kr"], abs=0.005), (year, dept)
            # The generator rounds each record-month to the øre (hours / 7 in floating point); the warehouse
            # sums a person-month's records exactly and rounds once (docs/warehouse.md, imputed cost). The
            # two differ by rounding noise of at most half an øre per record-month: a few kroner on tens of
            # millions (2024 sundhed: 1.56 kr. on 27.3 M kr.).
            assert i == pytest.approx(t["imputed_kr"], abs=max(1.0, 2e-7 * t["imputed_kr"])), (year, dept)
            assert round((d + i) / led, 4) == pytest.approx(t["coverage"], abs=0.0001), (year, dept)
    registrant = warehouse.truth["registrant_share_by_year"]
    for year, share in registrant.items():
        led = sum(v[0] for (y, _), v in got.items() if y == year)
        d = sum(v[1] for (y, _), v in got.items() if y == year)
        assert round(d / led, 4) == pytest.approx(share, abs=0.0001), year


def test_cost_concentration_per_year_matches_the_truth(warehouse: Warehouse) -> None:
    got = {
        str(r[0]): r
        for r in warehouse.rows(
            "select year, residents, total_cost, top_1_pct_share, top_3_pct_share, top_5_pct_share, top_10_pct_share,"
            " is_complete_year from build_restricted.fct_cost_concentration_yearly"   # after the nights, as the truth
        )
    }
    truth = warehouse.truth["cost_concentration_by_year"]
    assert len(truth) == YEARS
    for year, t in truth.items():
        _, residents, total, top1, top3, top5, top10, complete = got[year]
        assert complete
        assert residents == t["persons"], year
        assert float(total) == pytest.approx(t["total_cost_kr"], abs=2.0), year
        for p, share in ((1, top1), (3, top3), (5, top5), (10, top10)):
            assert float(share) == pytest.approx(t[f"top_{p}_pct_share"], abs=0.0001), (year, p)


def test_departments_active_and_target_group_counts_match_the_truth(warehouse: Warehouse) -> None:
    truth = warehouse.truth["persons_by_departments_active_month"]
    got = {
        month: (k1, k2, k3)
        for month, k1, k2, k3 in warehouse.rows(
            f"select to_char(month, 'YYYY-MM'), count(*) filter (where departments_active >= 1),"
            f" count(*) filter (where departments_active >= 2), count(*) filter (where departments_active >= 3)"
            f" from {FINAL}.fct_person_month group by 1"
        )
    }
    for month in months_of(warehouse.manifest):
        assert got[month] == (truth["1"][month], truth["2"][month], truth["3"][month]), month
    # The target groups "contact with >= 2 / >= 3 departments" count the same persons.
    counts = {
        (group, month): persons
        for group, month, persons in warehouse.rows(
            f"select target_group, to_char(month, 'YYYY-MM'), persons from {FINAL}.fct_target_groups_monthly"
            f" where target_group in ('departments_2', 'departments_3')"
        )
    }
    for month in months_of(warehouse.manifest):
        assert counts[("departments_2", month)] == truth["2"][month], month
        assert counts[("departments_3", month)] == truth["3"][month], month


def test_top_cost_target_groups_have_their_share_of_residents(warehouse: Warehouse) -> None:
    rows = warehouse.rows(
        f"select t.month, t.target_group, t.persons, r.residents from {FINAL}.fct_target_groups_monthly t"
        " join (select month, sum(residents) as residents from build_int.int_residents_aggregated_to_months group by month) r using (month)"
        " where t.target_group in ('top_1_pct_cost', 'top_3_pct_cost') and t.month >= %s",
        date(END.year - YEARS + 2, 1, 1),  # a full trailing year of cost
    )
    assert rows
    for month, group, persons, residents in rows:
        p = 1 if group == "top_1_pct_cost" else 3
        assert persons == math.ceil(residents * p / 100), (month, group)


def test_tempo_matches_the_truth(warehouse: Warehouse) -> None:
    got = {
        (source, str(year)): float(mean)
        for source, year, mean in warehouse.rows(
            f"select source, start_year, mean_days_referral_to_start from {FINAL}.fct_tempo_yearly"
        )
    }
    truth = warehouse.truth["days_referral_to_start_by_source_year"]
    for source, years in truth.items():
        for year, mean in years.items():
            # Both round the mean to 4 decimals (the generator in floating point).
            assert got[(source, year)] == pytest.approx(mean, abs=0.00015), (source, year)
    (plan_mean,) = warehouse.rows(
        f"select avg(days_start_to_joint_plan) from {FINAL}.fct_programme_enrolments where has_joint_plan"
    )[0]
    assert float(plan_mean) == pytest.approx(warehouse.truth["programme_days_start_to_plan_mean"], abs=0.01)


def test_programme_follow_up_months_give_the_truths_self_support(warehouse: Warehouse) -> None:
    """Cohort members have a person-month in every follow-up month, so self-support at the
    follow-up points of the truth can be read from fct_person_month alone."""
    truth = warehouse.truth["programme_effect"]
    end = date.fromisoformat(warehouse.manifest["period"]["initial_delivery"])
    enrolments = warehouse.rows(
        "select e.programme, e.person_key, e.start_date, coalesce(p.moved_in, p.birth_date),"
        " least(coalesce(p.moved_out, '9999-12-31'), coalesce(p.death_date, '9999-12-31'))"
        " from staging.helhed__enrolments e join staging.cpr__persons p using (person_key)"
    )
    support = {
        (person, month): self_supporting
        for person, month, self_supporting in warehouse.rows(
            f"select person_key, month, is_self_supporting from {FINAL}.fct_person_month where enrolment_id is not null"
        )
    }
    delivered = defaultdict(int)
    for code, n in warehouse.rows("select programme, count(*) from staging.helhed__enrolments group by 1"):
        delivered[code] = n
    for code, t in truth.items():
        # Enrolments the loader quarantined (the generator writes a few with an end before the start).
        missing = t["enrolments"] - delivered[code]
        assert 0 <= missing <= max(1, t["enrolments"] // 50), code
        for f in (0, 6, 12, 24, 36, 48):
            participants = self_supporting = 0
            for programme, person, start, resident_from, resident_until in enrolments:
                if programme != code:
                    continue
                day = start + timedelta(days=round(f * 30.4375))
                if day > end or not (resident_from <= day <= resident_until):
                    continue
                participants += 1
                self_supporting += support[(person, day.replace(day=1))]  # the row must exist
            expected = t[f"month_{f}"]
            assert abs(participants - expected["participants"]) <= missing, (code, f)
            assert abs(self_supporting - expected["self_supporting"]) <= missing, (code, f)


# ----------------------------------------------------------------------------- after the nights


def test_full_time_persons_per_group_and_quarter_match_the_truth(warehouse: Warehouse) -> None:
    start = date.fromisoformat(warehouse.manifest["period"]["start"])
    end = date.fromisoformat(warehouse.manifest["period"]["end"])
    groups = [g for (g,) in warehouse.rows("select benefit_group from build_seeds.benefit_groups order by 1")]
    days = {
        (group, quarter): int(value)
        for row in warehouse.rows(
            "select extract(year from month)::int || 'Q' || extract(quarter from month)::int, "
            + ", ".join(f"sum(days_{g})" for g in groups)
            + " from build_int.int_benefits_aggregated_to_person_months where month >= %s group by 1",
            start,
        )
        for quarter, (group, value) in [(row[0], pair) for pair in zip(groups, row[1:])]
    }
    truth = warehouse.truth["full_time_persons_by_group_quarter"]
    for group, quarters in truth.items():
        for quarter, ftp in quarters.items():
            year, q = int(quarter[:4]), int(quarter[-1])
            first = max(date(year, 3 * q - 2, 1), start)
            last = min(date(year + (q == 4), (3 * q) % 12 + 1, 1) - timedelta(days=1), end)
            got = days.get((group, quarter), 0) / ((last - first).days + 1)
            assert round(got, 4) == pytest.approx(ftp, abs=0.0001), (group, quarter)


def test_the_current_month_divides_by_the_days_the_data_cover(warehouse: Warehouse) -> None:
    """Three nights after the year end the as-of date is 3 January: January's full-time persons are
    Jobindsats' benefit days in the period / days in the period, the period being 1-3 January, computed
    here from the staged benefit periods (one day counts once per person and group)."""
    periods = warehouse.rows(
        "select person_key, benefit_group, start_date, end_date, delivery_date from build_stg.stg_ydelser__benefit_periods"
    )
    # The as-of date is the newest benefit delivery, even when that night's file was empty (a quiet night).
    ((as_of,),) = warehouse.rows(
        "select max(delivery_date) from audit.delivery_files where entity = 'ydelser.benefit_periods' and status = 'loaded'"
    )
    month = as_of.replace(day=1)
    covered = as_of.day
    assert as_of == END + timedelta(days=NIGHTS) and covered < 31, "the test needs a night inside a month"
    days: dict[tuple[str, str], set[date]] = defaultdict(set)
    for person, group, start, end, _ in periods:
        first, last = max(start, month), min(end or as_of, as_of)
        days[(person, group)].update(first + timedelta(days=n) for n in range((last - first).days + 1))
    benefit_days: dict[str, int] = defaultdict(int)
    for (_, group), group_days in days.items():
        benefit_days[group] += len(group_days)
    rows = warehouse.rows(
        "select benefit_group, persons, full_time_persons, is_complete_month, days_covered"
        " from build_marts.employment_benefits_monthly where month = %s", month
    )
    assert {(complete, n) for _, _, _, complete, n in rows} == {(False, covered)}
    published = {group: ftp for group, persons, ftp, _, _ in rows if persons is not None}
    assert published.get("kontanthjaelp"), "kontanthjælp must be published to compare"
    for group, ftp in published.items():
        expected = _round_half_away(Decimal(benefit_days[group]) / covered)
        assert ftp == expected, (group, ftp, expected)
    # Complete months still divide by their calendar length.
    previous = warehouse.rows(
        "select distinct is_complete_month, days_covered from build_marts.employment_benefits_monthly where month = %s",
        date(END.year, 12, 1),
    )
    assert previous == [(True, 31)]


def _comparable(warehouse: Warehouse, schema: str, table: str) -> str:
    """``select`` of a table with its array columns sorted (array_agg gives sets in no defined order)
    and the incremental watermark left out (a full refresh writes every row with tonight's as-of date)."""
    columns = warehouse.rows(
        "select column_name, data_type from information_schema.columns where table_schema = %s and table_name = %s"
        " order by ordinal_position", schema, table)
    exprs = [f"array(select x from unnest({name}) as x order by x) as {name}" if kind == "ARRAY" else name
             for name, kind in columns if name != "as_of_date"]
    return f"select {', '.join(exprs)} from {schema}.{table}"


def test_full_refresh_gives_the_incremental_history(warehouse: Warehouse) -> None:
    """After three nights of corrections from every source, every incremental person-month model and the
    facts copied from them hold exactly the rows a full refresh computes from the same staging tables."""
    warehouse.build("full refresh", "--full-refresh")
    for schema, table in [("build_int", t) for t in INCREMENTAL] + [(FINAL, t) for t in FACTS]:
        (total,) = warehouse.rows(f"select count(*) from {schema}.{table}")[0]
        assert total > 0, table
        incremental, full = _comparable(warehouse, "recon_incremental", table), _comparable(warehouse, schema, table)
        only_incremental, only_full = warehouse.rows(
            f"select (select count(*) from ({incremental} except all {full}) a), (select count(*) from ({full} except all {incremental}) b)"
        )[0]
        assert (only_incremental, only_full) == (0, 0), table


def test_the_nights_carried_corrections_from_every_source(warehouse: Warehouse) -> None:
    """What the full-refresh comparison rests on: every source delivered rows on the nights, and rows of
    DUBU, Sensum, health, the youth database, eIndkomst, the programme register, the jobcenter and the
    ledger changed or arrived late (the loader recorded the earliest date a replaced version differs)."""
    delivered = dict(warehouse.rows(
        "select split_part(entity, '.', 1), sum(rows_loaded) from audit.delivery_files"
        " where delivery_date > %s and status = 'loaded' group by 1", END))
    assert {s for s, n in delivered.items() if n} >= {
        "cpr", "ydelser", "dubu", "sensum", "sundhed", "uddannelse", "eindkomst", "helhed", "oekonomi", "jobcenter"}, delivered
    replaced = {e for (e,) in warehouse.rows(
        "select distinct entity from audit.delivery_files where delivery_date > %s and changed_from is not null", END)}
    # (A re-billed co-financing month has no date column to record; its month is the row's event.)
    assert {"dubu.services", "sensum.services", "jobcenter.offers", "jobcenter.conversations", "helhed.enrolments"} <= replaced, replaced
    (rebilled,) = warehouse.rows("select count(*) from staging.sundhed__cofinancing where delivery_date > %s", END)[0]
    assert rebilled > 0
    kinds = {(c["source"], c["kind"]) for c in warehouse.manifest["corrections"]}
    assert {("oekonomi", "reversal"), ("sundhed", "late_record"), ("uddannelse", "late_record"), ("eindkomst", "late_record"),
            ("sensum", "back_dated_end"), ("dubu", "back_dated_end"), ("helhed", "corrected_row")} <= kinds, kinds
    (reversals,) = warehouse.rows("select count(*) from staging.oekonomi__postings where debit_credit = 'K'"
                                  " and posting_text like 'Tilbageført:%%' and delivery_date > %s", END)[0]
    assert reversals > 0
    # The nightly builds were incremental, and change detection reached back beyond the look-back
    # window (three months before the previous as-of month) to the corrected months.
    log = (warehouse.target_path / "logs" / "dbt.log").read_text(encoding="utf-8", errors="replace")
    starts = [date.fromisoformat(m) for m in re.findall(r"incremental batch from (\d{4}-\d{2}-\d{2})", log)]
    assert starts and min(starts) < date(END.year, END.month - 3, 1), starts
    # Night 2 rebuilt every incremental model in full (create and swap), night 3 none.
    rebuilt = set(re.findall(r'"build_\w+"\."(\w+)": [^\n]*: rebuilt in full', warehouse.outputs["night 2"]))
    assert rebuilt == set(INCREMENTAL) | {"fct_person_month"}, rebuilt
    assert "rebuilt in full" not in warehouse.outputs["night 3"]


# ----------------------------------------------------------------------------- the jobcenter


def test_conversations_per_full_time_person_match_the_truth(warehouse: Warehouse) -> None:
    got = {
        (group, str(year)): (held, days, covered, per_ftp)
        for group, year, held, days, covered, per_ftp in warehouse.rows(
            f"select benefit_group, year, conversations_held, benefit_days, days_covered,"
            f" conversations_per_full_time_person from {FINAL}.fct_jobcenter_conversations_yearly")
    }
    truth = warehouse.truth["conversations_by_group_year"]
    for group, years in truth.items():
        for year, t in years.items():
            held, days, covered, per_ftp = got[(group, year)]
            assert (held, days, covered) == (t["conversations"], t["benefit_days"], t["days"]), (group, year)
            if t["per_full_time_person"] is None:
                assert per_ftp is None, (group, year)
            else:
                # Both round to 4 decimals (the generator in floating point).
                assert float(per_ftp) == pytest.approx(t["per_full_time_person"], abs=0.00015), (group, year)
    assert sum(t[str(END.year)]["conversations"] for t in truth.values()) > 100


def test_mentor_and_contact_person_group_matches_the_truth(warehouse: Warehouse) -> None:
    """The target group "Borgere med både mentor og støtte- og kontaktperson" counts the persons with a
    mentor offer and an SEL § 99 contact person in the month, as the generator planted them; a mentor and
    a contact person are parallel services (both personal support, from two departments)."""
    got = dict(warehouse.rows(
        f"select to_char(month, 'YYYY-MM'), persons from {FINAL}.fct_target_groups_monthly"
        " where target_group = 'mentor_and_contact_person'"))
    truth = warehouse.truth["mentor_and_contact_person_by_month"]
    assert got == truth
    assert sum(truth.values()) > 0, "the group is not empty"
    (without_parallel,) = warehouse.rows(
        f"select count(*) from {FINAL}.fct_person_month where tg_mentor_and_contact_person and parallel_services < 1")[0]
    assert without_parallel == 0


def test_conversations_and_offers_in_the_person_months(warehouse: Warehouse) -> None:
    """fct_person_month counts every conversation held up to the as-of date and every offer-month; a
    conversation brings the jobcenter's caseworker and department into the contact points."""
    ((as_of,),) = warehouse.rows("select max(as_of_date) from build_int.int_months")
    ((first,),) = warehouse.rows("select min(month) from build_int.int_months")
    ((held,),) = warehouse.rows(
        "select count(*) from staging.jobcenter__conversations where status = 'Afholdt'"
        " and conversation_date between %s and %s", first, as_of)
    ((offer_months,),) = warehouse.rows(
        "select count(*) from staging.jobcenter__offers o join build_int.int_months m"
        " on o.start_date <= m.month_end and least(coalesce(o.end_date, m.as_of_date), m.as_of_date) >= m.month")
    ((conversations, offers, low_contact),) = warehouse.rows(
        f"select sum(conversations_held), sum(offers_active),"
        f" count(*) filter (where conversations_held > 0 and (contact_points < 2 or not is_active_beskaeftigelse))"
        f" from {FINAL}.fct_person_month")
    assert (conversations, offers, low_contact) == (held, offer_months, 0)
    assert held > 0 and offer_months > 0


def test_public_marts_pass_their_gates(warehouse: Warehouse) -> None:
    from helhed.evaluation import evaluate
    from helhed.evaluation.settings import EvaluationConfig

    evaluate(warehouse.settings, EvaluationConfig.load(replicates=20))  # the nightly's step between dbt and the gates
    # The evaluation ends with the last complete month: the nights into January are not a month of outcomes.
    assert warehouse.rows("select distinct last_month from build_marts.programme_payback") == [(date(END.year, 12, 1),)]
    (last,) = warehouse.rows("select max(month) from build_restricted.programme_freed_resources_draws")[0]
    assert last == date(END.year, 12, 1)
    tables = sorted(p.stem.removeprefix("marts__") for p in warehouse.settings.expectations_dir.glob("marts__*.json"))
    assert {"target_groups_persons_monthly", "economy_cost_coverage_function_monthly",
            "economy_cost_concentration_yearly", "programme_outcomes_months_since_start"} <= set(tables)
    results = [gates.run_suite(warehouse.settings, f"marts__{t}", "build_marts", t, "recon", data_docs=False)
               for t in tables]
    for result in results:
        assert result.passed, result.failures
        assert result.warnings == [], result.warnings


def test_no_public_mart_shows_a_small_count(warehouse: Warehouse) -> None:
    counts = {
        "target_groups_persons_monthly": ["persons"],
        "economy_cost_coverage_function_monthly": ["persons"],
        "economy_cost_coverage_department_monthly": ["persons"],
        "economy_cost_concentration_yearly": ["residents"],
        "programme_outcomes_months_since_start": ["participants", "self_supporting", "participants - self_supporting"],
    }
    for table, columns in counts.items():
        for column in columns:
            (small,) = warehouse.rows(f"select count(*) from build_marts.{table} where {column} between 1 and 4")[0]
            assert small == 0, (table, column)


def test_docs_generate(warehouse: Warehouse) -> None:
    warehouse.dbt("docs", "generate")
    catalog = json.loads((warehouse.target_path / "catalog.json").read_text())
    manifest = json.loads((warehouse.target_path / "manifest.json").read_text())
    for model in ("fct_person_month", "fct_family_month", "economy_cost_coverage_function_monthly"):
        assert f"model.helhed.{model}" in catalog["nodes"]
    exposures = {e["label"] for e in manifest["exposures"].values()}
    assert {"Beskæftigelse", "Omkostninger og datadækning", "Målgrupper og kontaktpunkter", "Aktivitet og tempo",
            "Progression og borgerens oplevelse", "Økonomi og budgetopfølgning"} <= exposures
    undocumented = [
        f"{entry['metadata']['name']}.{column}"
        for uid, entry in catalog["nodes"].items()
        for column in entry["columns"]
        if not manifest["nodes"][uid]["columns"].get(column, {}).get("description")
    ]
    assert not undocumented
