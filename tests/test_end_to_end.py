"""From generated deliveries to published marts through a real Airflow run.

The nightly DAG runs with ``airflow dags test`` against the embedded PostgreSQL (Airflow's
metadata in its own database, migrated by ``run_dag`` itself as on a fresh clone). The warehouse
must find again what the generator planted, a failing gate must leave the published marts
untouched, a corrected delivery must publish, a second run must be refused while another holds
the nightly lock, and no CPR-like value may reach Airflow's task logs or XCom.
"""

from __future__ import annotations

import re
from datetime import date

import psycopg
import pytest

from helhed import airflow_local, runlock
from helhed.config import Settings
from helhed.generator import generate
from helhed.pseudonymise import is_valid_cpr
from helhed.redaction import CPR_LIKE
from helhed.sources import load_sources

pytestmark = pytest.mark.slow

END = date(2025, 12, 31)


@pytest.fixture(scope="module")
def first_night(pg: Settings) -> dict:
    """Generate a small municipality and run the nightly DAG once; return the planted truth."""
    manifest = generate(profile="randers", residents=1500, years=2, seed=7, out=pg.data_dir, end_date=END,
                        show_progress=False)
    result = airflow_local.run_dag(pg, END)   # prepares Airflow's database and the dbt manifest itself
    assert result.returncode == 0, "the nightly DAG failed"
    return manifest["truth"]


def run_captured(s: Settings, day: date):
    """One nightly run through Airflow with its output (the task logs) captured."""
    airflow_local.airflow(s, "dags", "reserialize", capture=True)
    return airflow_local.airflow(s, "dags", "test", airflow_local.DAG_ID, day.isoformat(), check=False, capture=True)


def query(s: Settings, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(s.url("helhed")) as conn:
        return conn.execute(sql, params or None).fetchall()


def test_run_is_recorded_in_airflow(pg: Settings, first_night):
    out = airflow_local.airflow(pg, "dags", "list-runs", airflow_local.DAG_ID, "--output", "json", capture=True)
    assert '"state": "success"' in out.stdout.replace('":"', '": "')


def test_full_time_persons_per_group_and_month_match_the_truth(pg: Settings, first_night):
    truth = first_night["full_time_persons_by_group_month"]
    groups = [g for g, months in truth.items() if any(v for v in months.values())]
    assert groups, "the generator planted no benefits"
    rows = query(pg, "select column_name from information_schema.columns "
                     "where table_schema = 'restricted' and table_name = 'fct_person_month' and column_name like 'ftp\\_%'")
    columns = {r[0] for r in rows}
    for group in groups:
        got = dict(query(pg, f"select to_char(month, 'YYYY-MM'), sum(ftp_{group}) from restricted.fct_person_month "
                             f"group by 1", ()))
        for month, expected in truth[group].items():
            assert float(got.get(month, 0) or 0) == pytest.approx(expected, abs=0.01), (group, month)
    assert {f"ftp_{g}" for g in groups} <= columns


def test_visitation_and_self_support_marts_match_the_truth(pg: Settings, first_night):
    visitation = first_night["persons_by_visitation_month"]
    for category, months in visitation.items():
        # The generator's "ikke_visiteret" is a last period without a category. The mart splits it into
        # "ikke relevant for ydelsen" (a group without visitation) and "ikke visiteret" (a visited group
        # without a category, which the generator never writes: 0 persons, shown as 0).
        codes = [None, "ikke_relevant"] if category == "ikke_visiteret" else [category]
        got = {
            month: (persons, suppressed)
            for month, persons, suppressed in query(
                pg, "select to_char(month, 'YYYY-MM'), case when not bool_or(is_suppressed) then sum(persons) end, bool_or(is_suppressed)"
                    " from marts.employment_visitation_monthly"
                    " where visitation_category is not distinct from %s or visitation_category is not distinct from %s"
                    " group by 1", (codes[0], codes[-1]))
        }
        for month, expected in months.items():
            if 1 <= expected < 5:
                assert got[month] == (None, True), "cells of 1-4 persons must be suppressed"
            else:
                assert got[month] == (expected, False), (category, month)  # 0 is shown as 0 (the zero rule)
    self_support = first_night["self_supporting_16_64_by_month"]
    got = {m: (r, s) for m, r, s in query(pg, "select to_char(month, 'YYYY-MM'), residents_16_64, self_supporting "
                                              "from marts.employment_self_support_monthly")}
    residents = first_night["residents_16_64_by_month"]
    for month, expected in self_support.items():
        assert got[month] == (residents[month], expected), month


def test_reader_role_sees_marts_but_not_person_level_data(pg: Settings, first_night):
    with psycopg.connect(pg.url("helhed", reader=True)) as conn:
        assert conn.execute("select count(*) from marts.employment_benefits_monthly").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from restricted.fct_person_month limit 1")


def test_every_published_mart_with_a_department_has_row_level_security(pg: Settings, first_night):
    """Department staff read only their own department's rows of every public mart (issue 11),
    also of the evaluation's table, which Python writes into the marts' build schema outside dbt
    (the dbt on-run-end hook of the budget step protects it before the mart gates and publish)."""
    with psycopg.connect(pg.url("helhed")) as conn:
        protected = dict(conn.execute(
            "select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'marts' and c.relkind = 'r'"
            " and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'department')").fetchall())
        policies = {r[0] for r in conn.execute("select tablename from pg_policies where schemaname = 'marts'"
                                                " and policyname = 'helhed_department_rows'")}
    assert {"programme_freed_resources_yearly", "economy_cost_coverage_department_monthly"} <= set(protected)
    assert all(protected.values()), {t for t, on in protected.items() if not on}
    assert policies == set(protected)


def test_no_cpr_number_outside_landing(pg: Settings, first_night):
    """Every text column outside landing is scanned for a value shaped like a CPR number."""
    # A CPR stands alone or inside text; digit runs inside a hex pseudonym are not CPR numbers.
    cpr = re.compile(r"(?<![0-9A-Za-z])\d{6}-?\d{4}(?![0-9A-Za-z])")
    columns = query(pg, "select table_schema, table_name, column_name from information_schema.columns "
                        "where table_schema not in ('landing', 'pg_catalog', 'information_schema') "
                        "and data_type in ('text', 'character varying')")
    assert columns
    for schema, table, column in columns:
        values = query(pg, f'select distinct "{column}"::text from "{schema}"."{table}" where "{column}" ~ %s limit 1000',
                       (r"(^|[^0-9A-Za-z])[0-9]{6}-?[0-9]{4}([^0-9A-Za-z]|$)",))
        # CPR-shaped codes exist (ledger PSP elements); a real CPR number also encodes a real date.
        found = [m.group(0) for (v,) in values if v for m in cpr.finditer(v)]
        assert not [f for f in found if is_valid_cpr(f)], f"{schema}.{table}.{column} holds CPR numbers"


def test_failing_gate_keeps_published_marts_and_a_correction_publishes(pg: Settings, first_night):
    snapshot = query(pg, "select * from marts.employment_benefits_monthly order by 1, 2")
    publications = query(pg, "select count(*) from audit.publications")[0][0]

    # The next night's CPR delivery has a sex code the code list does not know: the gate must stop it.
    header = "CPR-nummer;Fødselsdato;Køn;Postnummer;Distrikt;Tilflytningsdato;Fraflytningsdato;Dødsdato"
    bad_day = date(2026, 1, 1)
    folder = pg.landing_dir / "cpr" / bad_day.isoformat()
    folder.mkdir(parents=True)
    (folder / "cpr_personer_20260101.csv").write_text(
        f"{header}\n0101901234;1990-01-01;X;8900;Centrum;1990-01-01;;\n", encoding="utf-8-sig")
    failed_run = run_captured(pg, bad_day)
    assert failed_run.returncode != 0
    # `airflow dags test` prints the task logs: the failing night's (its gate failed on a CPR
    # delivery) must not show a CPR number anywhere.
    logged = failed_run.stdout + failed_run.stderr
    assert "Quality gate staging.cpr__persons failed" in logged
    found = [m.group(0) for m in CPR_LIKE.finditer(logged)]
    assert not [f for f in found if is_valid_cpr(f.replace("-", ""))], "the task logs hold CPR-like values"
    assert query(pg, "select * from marts.employment_benefits_monthly order by 1, 2") == snapshot
    assert query(pg, "select count(*) from audit.publications")[0][0] == publications
    failed = query(pg, "select count(*) from audit.gate_results where not success and suite = 'staging.cpr__persons'")
    assert failed[0][0] >= 1

    # The source sends a correction the day after; the run passes and publishes again.
    good_day = date(2026, 1, 2)
    folder = pg.landing_dir / "cpr" / good_day.isoformat()
    folder.mkdir(parents=True)
    (folder / "cpr_personer_20260102.csv").write_text(
        f"{header}\n0101901234;1990-01-01;M;8900;Centrum;1990-01-01;;\n", encoding="utf-8-sig")
    assert airflow_local.run_dag(pg, good_day).returncode == 0
    assert query(pg, "select count(*) from audit.publications")[0][0] == publications + 1
    assert query(pg, "select max(logical_date) from audit.publications")[0][0] == good_day
    as_of = dict(query(pg, "select source, data_as_of from marts.data_as_of"))
    assert as_of.pop("cpr") == good_day
    assert as_of == {name: END for name in load_sources() if name != "cpr"}


def test_the_run_was_gated_and_locked_as_the_dag_wires_it(pg: Settings, first_night):
    """begin_run took the lock and the end_run teardown released it; every file the publication
    covers lies in a passing gate batch of the same run."""
    assert runlock.current(pg) is None
    (run_id, through), = query(pg, "select run_id, through_file_id from audit.publications order by published_at limit 1")
    assert through == query(pg, "select max(file_id) from audit.delivery_files where file_id <= %s", (through,))[0][0]
    ungated = query(pg, "select f.file_id from audit.delivery_files f where f.file_id <= %s and not exists ("
                        "select 1 from audit.gate_batches g where g.run_id = %s and g.passed and g.entity = f.entity "
                        "and f.file_id > g.after_file_id and f.file_id <= g.through_file_id)", (through, run_id))
    assert ungated == []


def test_a_second_run_is_refused_while_another_holds_the_lock(pg: Settings, first_night):
    publications = query(pg, "select count(*) from audit.publications")[0][0]
    runlock.acquire(pg, "manual__someone-elses-run")
    try:
        result = run_captured(pg, END)
    finally:
        runlock.release(pg, "manual__someone-elses-run")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "the nightly lock is held by run manual__someone-elses-run" in output
    assert query(pg, "select count(*) from audit.publications")[0][0] == publications


def test_no_cpr_like_value_in_xcom(pg: Settings, first_night):
    with psycopg.connect(pg.url(airflow_local.metadata_database())) as conn:
        values = [v for (v,) in conn.execute("select value::text from xcom where value is not null")]
    assert values, "the tasks returned nothing"
    assert not [v for v in values if CPR_LIKE.search(v)]
