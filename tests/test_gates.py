"""Quality gates: GX suites in expectations/ run against a real PostgreSQL.

Every test works in its own schemas (never the shared ``staging``/``build_marts`` of other
tests) and its own run id, so audit rows and tables cannot collide.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import logging
import stat
import threading
import uuid
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from helhed import gates
from helhed.config import Settings

BENEFIT_GROUPS = ["a_dagpenge", "kontanthjaelp", "uddannelseshjaelp", "selvforsoergelsesydelse", "sygedagpenge",
                  "jobafklaringsforloeb", "ressourceforloeb", "revalidering", "ledighedsydelse", "fleksjob",
                  "foertidspension"]
CPR = "0101801234"

PERSONS_DDL = """
create table {}.cpr__persons (
    person_key text not null, birth_date date not null, sex text not null, postal_code text, district text,
    moved_in date, moved_out date, death_date date, delivery_date date not null, source_file text not null)
"""
PERIODS_DDL = """
create table {}.ydelser__benefit_periods (
    period_id text not null, person_key text not null, benefit_code text not null, start_date date not null,
    end_date date, rate numeric(14,2), amount numeric(14,2), amount_unit text, visitation_category text,
    delivery_date date not null, source_file text not null)
"""
# Every month-grain mart ends with is_complete_month and days_covered; the rows below are of
# complete months, so they default to true and the month's length.
MONTH_FLAGS = """, is_complete_month boolean not null default true,
       days_covered integer generated always as (extract(day from month + interval '1 month' - interval '1 day')) stored"""
MARTS_DDL = [
    """create table {}.employment_benefits_monthly (month date, benefit_group text, benefit_group_label text,
       persons integer, full_time_persons numeric(12,2), is_suppressed boolean""" + MONTH_FLAGS + ")",
    """create table {}.employment_visitation_monthly (month date, visitation_category text, visitation_label text,
       persons integer, is_suppressed boolean""" + MONTH_FLAGS + ")",
    """create table {}.employment_self_support_monthly (month date, residents_16_64 integer, self_supporting integer,
       self_supporting_share numeric(6,4), is_suppressed boolean""" + MONTH_FLAGS + ")",
]


def key(n: int) -> str:
    return hashlib.sha256(f"person-{n}".encode()).hexdigest()


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real seed when the dbt project has it, else a test-local copy with the same codes."""
    if gates.DEFAULT_BENEFIT_GROUPS_SEED.exists():
        return gates.DEFAULT_BENEFIT_GROUPS_SEED
    path = tmp_path_factory.mktemp("seeds") / "benefit_groups.csv"
    path.write_text("benefit_group\n" + "\n".join(BENEFIT_GROUPS) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def run_id() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def schema(pg: Settings):
    """A fresh schema for one test, dropped afterwards."""
    name = f"gates_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))


def execute(s: Settings, statement: str, schema: str, params: list | None = None) -> None:
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(schema)), params)


def make_staging(s: Settings, schema: str, n: int = 20) -> None:
    """Staging tables with ``n`` good persons and ``n`` good benefit periods."""
    execute(s, PERSONS_DDL, schema)
    execute(s, PERIODS_DDL, schema)
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("insert into {}.cpr__persons values (%s, %s, %s, %s, %s, %s, null, null, '2024-01-31', 'cpr_personer_20240131.csv')")
                .format(sql.Identifier(schema)),
                [(key(i), f"{1950 + i % 50}-0{1 + i % 9}-15", "MK"[i % 2], "2400", "Nord", "2010-05-01") for i in range(n)],
            )
            cur.executemany(
                sql.SQL("insert into {}.ydelser__benefit_periods values"
                        " (%s, %s, %s, %s, %s, 1234.50, 9876.00, 'maaned', %s, '2024-01-31', 'ydelsesperioder_20240131.csv')")
                .format(sql.Identifier(schema)),
                [(f"P{i}", key(i), BENEFIT_GROUPS[i % len(BENEFIT_GROUPS)], "2023-01-01",
                  None if i % 4 == 0 else "2023-06-30", [None, "jobparat", "aktivitetsparat", "uddannelsesparat"][i % 4])
                 for i in range(n)],
            )


def make_marts(s: Settings, schema: str) -> None:
    for ddl in MARTS_DDL:
        execute(s, ddl, schema)
    execute(s, """insert into {}.employment_benefits_monthly values
        ('2024-01-01', 'kontanthjaelp', 'Kontanthjælp', 120, 98.50, false),
        ('2024-01-01', 'fleksjob', 'Fleksjob', null, null, true),
        ('2024-02-01', 'kontanthjaelp', 'Kontanthjælp', 5, 4.20, false)""", schema)
    execute(s, """insert into {}.employment_visitation_monthly values
        ('2024-01-01', 'jobparat', 'Jobparat', 40, false),
        ('2024-01-01', null, 'ikke visiteret', 12, false),
        ('2024-01-01', 'uddannelsesparat', 'Uddannelsesparat', null, true)""", schema)
    execute(s, """insert into {}.employment_self_support_monthly values
        ('2024-01-01', 1000, 800, 0.8000, false),
        ('2024-02-01', 1010, null, null, true)""", schema)


def audit_rows(s: Settings, run_id: str) -> list[dict]:
    with psycopg.connect(s.url("helhed")) as conn:
        cur = conn.execute("select * from audit.gate_results where run_id = %s order by id", [run_id])
        names = [d.name for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def run(s: Settings, suite: str, schema: str, table: str, run_id: str, seed: Path, **kwargs) -> gates.GateResult:
    return gates.run_suite(s, suite, schema, table, run_id, seed_path=seed, **kwargs)


# --------------------------------------------------------------------------- suite files


def test_suite_files_are_gx_suites_with_severities(repo_root: Path) -> None:
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    files = sorted((repo_root / "expectations").glob("*.json"))
    stems = {p.stem for p in files}
    assert {"staging__cpr__persons", "staging__ydelser__benefit_periods", "marts__employment_benefits_monthly",
            "marts__employment_visitation_monthly", "marts__employment_self_support_monthly"} <= stems
    for path in files:
        suite = gates.load_suite(path.stem)
        assert suite["name"].replace(".", "__", 1) == path.stem
        assert all(e["meta"]["severity"] in ("critical", "warning") for e in suite["expectations"])
        built = context.suites.add(gx.ExpectationSuite(**{k: v for k, v in suite.items() if k != "id"}))
        assert len(built.expectations) == len(suite["expectations"])
    assert gates.load_suite("staging.cpr__persons") == gates.load_suite("staging__cpr__persons")


def test_every_declared_entity_has_a_staging_suite_whose_parameters_resolve() -> None:
    from helhed.parsing import code_lists, entity_rules
    from helhed.sources import load_sources

    assert {"paragraphs", "placement_types", "benefit_groups"} <= set(gates.parameter_names())
    for source in load_sources(include_disabled=True).values():
        for entity in source.entities:
            suite = gates.load_suite(f"staging.{entity.table}")
            params = gates.suite_parameters(suite)
            assert all(isinstance(v, (list, str)) and v for v in params.values()), entity.id
            # The column contract is the declaration, checked by the generated contract check:
            # a suite repeats neither the column list nor the loader's types and not-null.
            repeated = [e["type"] for e in suite["expectations"] if e["type"] in (
                "expect_table_columns_to_match_set", "expect_column_values_to_be_of_type")]
            required = {c.staging_name for c in entity.columns if c.required} | {"delivery_date", "source_file"}
            repeated += [e["kwargs"]["column"] for e in suite["expectations"]
                         if e["type"] == "expect_column_values_to_not_be_null" and e["kwargs"]["column"] in required]
            assert repeated == [], f"{entity.id}: the suite repeats the loader's enforcement: {repeated}"
            # Every column the loader checks against a value code list is checked by the suite too.
            for column, code_list in entity_rules(entity).codes:
                if code_list.values is None:
                    continue
                checks = [e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_in_set"
                          and e["kwargs"]["column"] == column]
                assert checks, f"{entity.id}: {column} is checked at load time but not in the suite"
    with pytest.raises(ValueError, match="unknown \\$PARAMETER"):
        gates.suite_parameters({"name": "x", "expectations": [{"kwargs": {"value_set": {"$PARAMETER": "nope"}}}]})
    assert sorted(code_lists()["placement_types"].values) == sorted(["1", "21", "22", "9", "8", "27", "11", "6"])


def test_benefit_groups_come_from_the_seed(seed: Path, tmp_path: Path) -> None:
    assert gates.benefit_groups(seed) == BENEFIT_GROUPS
    bad = tmp_path / "benefit_groups.csv"
    bad.write_text("code\nx\n", encoding="utf-8")
    with pytest.raises(ValueError, match="benefit_group"):
        gates.benefit_groups(bad)


# --------------------------------------------------------------------------- staging


def test_good_staging_rows_pass_and_are_audited(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    make_staging(pg, schema)
    persons = run(pg, "staging.cpr__persons", schema, "cpr__persons", run_id, seed)
    periods = run(pg, "staging__ydelser__benefit_periods", schema, "ydelser__benefit_periods", run_id, seed)

    for result in (persons, periods):
        assert result.passed, result.failures
        assert result.failures == [] and result.warnings == []
    assert gates.enforce([persons, periods]) == [persons, periods]

    rows = audit_rows(pg, run_id)
    n_expectations = len(gates.load_suite("staging.cpr__persons")["expectations"]) + \
        len(gates.load_suite("staging.ydelser__benefit_periods")["expectations"])
    assert len(rows) == n_expectations + 2   # and one contract check per table, from the specification
    assert [r["expectation_type"] for r in rows].count("expect_table_to_match_specification") == 2
    assert all(r["success"] for r in rows)
    assert {r["suite"] for r in rows} == {"staging.cpr__persons", "staging.ydelser__benefit_periods"}
    assert {r["schema_name"] for r in rows} == {schema}
    assert {r["severity"] for r in rows} == {"critical", "warning"}
    codes = [r for r in rows if r["expectation_type"] == "expect_column_values_to_be_in_set" and r["column_name"] == "benefit_code"]
    assert codes[0]["kwargs"]["value_set"] == BENEFIT_GROUPS  # resolved from the seed at run time
    count = next(r for r in rows if r["expectation_type"] == "expect_table_row_count_to_be_between" and r["table_name"] == "cpr__persons")
    assert count["observed_value"] == {"observed_value": 20}
    assert all(r["checked_at"] is not None for r in rows)
    # One row per expectation, in the order of the suite file.
    suite_types = [e["type"] for e in gates.load_suite("staging.cpr__persons")["expectations"]]
    assert [r["expectation_type"] for r in rows if r["suite"] == "staging.cpr__persons"] == [
        *suite_types, "expect_table_to_match_specification"]
    assert [o.expectation_type for o in persons.outcomes] == [*suite_types, "expect_table_to_match_specification"]


def test_bad_benefit_row_fails_with_readable_messages(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    make_staging(pg, schema)
    execute(pg, """insert into {}.ydelser__benefit_periods values
        ('P-bad', %s, 'ukendt_ydelse', '2023-05-01', '2023-04-01', 100, 100, 'maaned', null, '2024-01-31', 'y.csv')""",
            schema, [CPR])

    result = run(pg, "staging.ydelser__benefit_periods", schema, "ydelser__benefit_periods", run_id, seed)

    assert not result.passed
    text = "\n".join(result.failures)
    table = f"{schema}.ydelser__benefit_periods"
    assert all(m.startswith(table) for m in result.failures)
    assert "expect_column_values_to_match_regex on column person_key" in text
    assert "expect_column_values_to_be_in_set on column benefit_code" in text and "ukendt_ydelse" in text
    assert "expect_column_pair_values_a_to_be_greater_than_b on columns end_date,start_date" in text
    assert "1 of 21 rows unexpected" in text
    # The CPR-looking value never leaves the table: not in messages, audit rows or Data Docs.
    assert CPR not in text
    assert "<redacted: 10 characters>" in text
    rows = audit_rows(pg, run_id)
    assert CPR not in json.dumps([r["observed_value"] for r in rows]) + json.dumps([r["message"] for r in rows])
    failed = {(r["expectation_type"], r["column_name"]) for r in rows if not r["success"]}
    assert {("expect_column_values_to_match_regex", "person_key"), ("expect_column_values_to_be_in_set", "benefit_code"),
            ("expect_column_pair_values_a_to_be_greater_than_b", "end_date,start_date")} <= failed
    # The period's person is not in cpr__persons: a warning, recorded next to the failures.
    assert any("cpr__persons" in w for w in result.warnings)
    assert result.data_docs is not None and result.data_docs.exists()
    docs = result.data_docs.parent
    assert all(CPR not in p.read_text(encoding="utf-8", errors="ignore") for p in docs.rglob("*") if p.is_file())

    with pytest.raises(gates.GateFailed) as raised:
        gates.enforce(result)
    message = str(raised.value)
    assert f"failed on {table}" in message and "benefit_code" in message and "person_key" in message


def test_bad_person_row_fails(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    make_staging(pg, schema)
    execute(pg, """insert into {}.cpr__persons values
        (%s, '1899-12-31', 'X', '2400', null, null, null, null, '2024-01-31', 'c.csv'),
        (%s, '1980-01-01', 'M', '2400', null, null, null, null, '2024-01-31', 'c.csv')""", schema, [CPR, key(1)])

    result = run(pg, "staging.cpr__persons", schema, "cpr__persons", run_id, seed, data_docs=False)

    assert not result.passed
    failed = {(o.expectation_type, o.column) for o in result.outcomes if not o.success}
    assert failed == {("expect_column_values_to_match_regex", "person_key"), ("expect_column_values_to_be_unique", "person_key"),
                      ("expect_column_values_to_be_in_set", "sex"), ("expect_column_values_to_be_between", "birth_date")}
    assert result.data_docs is None
    assert CPR not in "\n".join(result.failures)


def test_warning_only_failure_keeps_the_gate_open(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    make_staging(pg, schema)
    execute(pg, "update {}.cpr__persons set postal_code = 'DK-24' where person_key = %s", schema, [key(3)])

    result = run(pg, "staging.cpr__persons", schema, "cpr__persons", run_id, seed)

    assert result.passed and result.failures == []
    assert len(result.warnings) == 1
    assert "postal_code" in result.warnings[0] and "DK-24" in result.warnings[0] and "[warning]" in result.warnings[0]
    assert gates.enforce(result) is result
    rows = [r for r in audit_rows(pg, run_id) if not r["success"]]
    assert [(r["severity"], r["column_name"]) for r in rows] == [("warning", "postal_code")]


def test_empty_or_missing_table_fails(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    execute(pg, PERSONS_DDL, schema)
    empty = run(pg, "staging.cpr__persons", schema, "cpr__persons", run_id, seed, data_docs=False)
    assert not empty.passed
    assert any("expect_table_row_count_to_be_between" in m and "observed 0" in m for m in empty.failures)

    missing = run(pg, "staging.ydelser__benefit_periods", schema, "ydelser__benefit_periods", run_id, seed)
    assert not missing.passed
    assert missing.failures == [f"{schema}.ydelser__benefit_periods: table does not exist [critical]"]
    assert [r["expectation_type"] for r in audit_rows(pg, run_id) if r["table_name"] == "ydelser__benefit_periods"] == ["expect_table_to_exist"]


def test_wrong_column_type_and_extra_column_fail(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    make_staging(pg, schema)
    execute(pg, "alter table {}.cpr__persons add column cpr text", schema)
    execute(pg, "alter table {}.cpr__persons alter column birth_date type text", schema)

    result = run(pg, "staging.cpr__persons", schema, "cpr__persons", run_id, seed, data_docs=False)

    assert not result.passed
    text = "\n".join(result.failures)
    assert "expect_table_to_match_specification" in text
    assert "column cpr is not in the specification" in text
    assert "column birth_date is text, the specification says date" in text


def test_hundred_thousand_rows_take_seconds(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    execute(pg, PERSONS_DDL, schema)
    execute(pg, PERIODS_DDL, schema)
    execute(pg, """insert into {0}.cpr__persons
        select encode(sha256(convert_to('p' || i, 'UTF8')), 'hex'), date '1940-01-01' + (i % 25000), case when i % 2 = 0 then 'M' else 'K' end,
               '2400', 'Nord', null, null, null, date '2024-01-31', 'cpr.csv'
        from generate_series(1, 100000) as i""".replace("{0}", "{}"), schema)
    execute(pg, """insert into {0}.ydelser__benefit_periods
        select 'P' || i, encode(sha256(convert_to('p' || i, 'UTF8')), 'hex'), 'kontanthjaelp', date '2023-01-01' + (i % 300),
               case when i % 3 = 0 then null else date '2023-12-31' end, 100, 100, 'maaned', 'jobparat', date '2024-01-31', 'y.csv'
        from generate_series(1, 100000) as i""".replace("{0}", "{}"), schema)
    execute(pg, "analyze {}.cpr__persons", schema)

    for suite, table in (("staging.cpr__persons", "cpr__persons"), ("staging.ydelser__benefit_periods", "ydelser__benefit_periods")):
        result = run(pg, suite, schema, table, run_id, seed)
        assert result.passed, result.failures
        assert result.warnings == []
        assert result.duration_seconds < 20, result.summary()


# --------------------------------------------------------------------------- marts


MART_SUITES = ("employment_benefits_monthly", "employment_visitation_monthly", "employment_self_support_monthly")


def test_good_marts_pass(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    make_marts(pg, schema)
    results = [run(pg, f"marts.{t}", schema, t, run_id, seed) for t in MART_SUITES]
    for r in results:
        assert r.passed, r.failures
        assert r.warnings == [], r.warnings
    gates.enforce(results)


@pytest.mark.parametrize("table, statement, column", [
    ("employment_benefits_monthly",
     "insert into {}.employment_benefits_monthly values ('2024-03-01', 'fleksjob', 'Fleksjob', 3, 2.10, false)", "persons"),
    ("employment_visitation_monthly",
     "insert into {}.employment_visitation_monthly values ('2024-03-01', 'jobparat', 'Jobparat', 3, false)", "persons"),
    ("employment_self_support_monthly",
     "insert into {}.employment_self_support_monthly values ('2024-03-01', 900, 3, 0.0033, false)", "self_supporting"),
])
def test_marts_small_cell_rule(pg: Settings, schema: str, run_id: str, seed: Path, table: str, statement: str, column: str) -> None:
    make_marts(pg, schema)
    execute(pg, statement, schema)

    result = run(pg, f"marts__{table}", schema, table, run_id, seed, data_docs=False)

    assert not result.passed
    small = [m for m in result.failures if f"expect_column_values_to_not_be_in_set on column {column}" in m]
    assert len(small) == 1, result.failures
    assert small[0].startswith(f"{schema}.{table}:") and "e.g. 3" in small[0]
    with pytest.raises(gates.GateFailed, match=column):
        gates.enforce(result)


def test_marts_measure_of_suppressed_cell_must_be_null(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    make_marts(pg, schema)
    execute(pg, "insert into {}.employment_benefits_monthly values ('2024-03-01', 'revalidering', 'Revalidering', null, 1.50, true)", schema)

    result = run(pg, "marts.employment_benefits_monthly", schema, "employment_benefits_monthly", run_id, seed, data_docs=False)

    assert not result.passed
    assert any("Measures derived from a suppressed count are null" in m and "1 unexpected row(s)" in m for m in result.failures)


# --------------------------------------------------------------------------- redaction of everything a gate emits


class _Hook(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that keeps every body it is sent."""

    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch):
    """A local HTTP server as HELHED_ALERT_WEBHOOK; yields the list of bodies posted to it."""
    _Hook.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HELHED_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_address[1]}/hook")
    yield _Hook.bodies
    server.shutdown()
    server.server_close()


def test_a_cpr_in_a_failing_non_person_column_is_found_nowhere(pg: Settings, schema: str, run_id: str, seed: Path,
                                                                webhook: list[bytes], caplog) -> None:
    """A CPR-like value (with and without hyphen) in columns that are not person keys fails
    expectations; it must not reach audit.gate_results, Data Docs, the log, XCom or the alert."""
    from types import SimpleNamespace

    from helhed.airflow_support import StepFailed, notify_failure, run_step

    planted = ["2512831234", "251283-1234"]
    make_staging(pg, schema)
    execute(pg, """insert into {}.ydelser__benefit_periods values
        ('P-cpr', %s, %s, '2023-05-01', null, 100, 100, 'maaned', %s, '2024-01-31', 'y.csv')""",
            schema, [key(1), planted[0], f"note {planted[1]}"])
    caplog.set_level(logging.INFO)

    result = run(pg, "staging.ydelser__benefit_periods", schema, "ydelser__benefit_periods", run_id, seed)
    assert not result.passed
    failed = {o.column for o in result.outcomes if not o.success}
    assert {"benefit_code", "visitation_category"} <= failed
    assert "<cpr>" in "\n".join(result.failures)   # the value is shown as the marker, not dropped silently

    with pytest.raises(gates.GateFailed) as raised:
        gates.enforce(result)
    # What a task hands to Airflow: its XCom and its exception, through run_step.
    xcom = run_step(lambda: {"warnings": [f"{planted[0]} in benefit_code"], "file": f"{planted[1]}.csv"})
    def broken_step() -> None:
        raise RuntimeError(f"value {planted[0]} broke a rule")

    with pytest.raises(StepFailed) as step_failed:
        run_step(broken_step)
    context = {"task_instance": SimpleNamespace(task_id="ydelser.gate_benefit_periods"), "run_id": run_id,
               "exception": raised.value}
    notify_failure(context)
    notify_failure({**context, "exception": RuntimeError(f"row {planted[1]} rejected")})

    rows = audit_rows(pg, run_id)
    stored = json.dumps([[r["kwargs"], r["observed_value"], r["message"], r["column_name"]] for r in rows], default=str)
    docs = result.data_docs.parent
    pages = [p.read_text(encoding="utf-8", errors="ignore") for p in docs.rglob("*") if p.is_file()]
    assert pages and any("benefit_code" in p for p in pages)
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    posted = b"\n".join(webhook).decode()
    assert len(webhook) == 2 and "ydelser.gate_benefit_periods" in posted and "<cpr>" in posted
    for value in planted:
        for where, text in (("gate_results", stored), ("GateFailed", str(raised.value)), ("log", logged),
                            ("webhook", posted), ("xcom", json.dumps(xcom)), ("step exception", str(step_failed.value)),
                            *((f"data docs {i}", page) for i, page in enumerate(pages))):
            assert value not in text, f"{value} found in {where}"
    assert xcom == {"warnings": ["<cpr> in benefit_code"], "file": "<cpr>.csv"}


def test_data_docs_are_readable_by_their_owner_only(pg: Settings, schema: str, run_id: str, seed: Path) -> None:
    make_staging(pg, schema)
    result = run(pg, "staging.cpr__persons", schema, "cpr__persons", run_id, seed)
    root = result.data_docs.parent.parent
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}
    assert modes and all(mode == (0o700 if p.is_dir() else 0o600) for p, mode in modes.items()), \
        {str(p): oct(m) for p, m in modes.items() if m not in (0o700, 0o600)}


def test_data_docs_templates_are_compiled_once(pg: Settings, schema: str, run_id: str, seed: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """GX's page templates are compiled by the first gate and read back by every later one (an
    owner-only cache under $HELHED_HOME), not compiled again per gate."""
    import jinja2

    from helhed.gates.docs_views import template_cache_dir

    make_staging(pg, schema)
    first = run(pg, "staging.cpr__persons", schema, "cpr__persons", run_id, seed)
    cache = template_cache_dir(pg.home)
    assert first.data_docs is not None and any(cache.iterdir())
    assert stat.S_IMODE(cache.stat().st_mode) == stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in cache.iterdir())
    compiled: list[str | None] = []
    real = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile",
                        lambda self, source, name=None, *a, **k: compiled.append(name) or real(self, source, name, *a, **k))
    second = run(pg, "staging.cpr__persons", schema, "cpr__persons", f"{run_id}-again", seed)
    assert second.data_docs is not None and second.data_docs.exists()
    assert [n for n in compiled if n and n.endswith(".j2")] == []


def test_volume_settings_are_checked(monkeypatch) -> None:
    from helhed import parsing
    from helhed.sources import get_entity

    entity = get_entity("ydelser.benefit_periods")
    real = parsing.entity_rules(entity)
    for volume, message in (({"empty": "fatal"}, "volume.empty"), ({"missing": "loud"}, "volume.missing"),
                            ({"every_days": 0}, "every_days"), ({"emtpy": "warning"}, "unknown volume setting")):
        monkeypatch.setattr(parsing, "entity_rules", lambda e, v=volume: replace(real, volume=v))
        with pytest.raises(ValueError, match=message):
            gates._delivery_settings(entity)


# --------------------------------------------------------------------------- checks only a gate can make


def _periods(s: Settings, schema: str, day: str, codes: list[str], start: int = 0) -> None:
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            sql.SQL("insert into {}.ydelser__benefit_periods values (%s, %s, %s, '2023-01-01', null, null, null, null, "
                    "null, %s, %s)").format(sql.Identifier(schema)),
            [(f"P{day}-{i}", key(start + i), code, day, f"{day}/ydelsesperioder.csv") for i, code in enumerate(codes)])


def test_drift_compares_the_newest_delivery_with_the_ones_before(pg: Settings, schema: str) -> None:
    from helhed.sources import get_entity

    execute(pg, PERIODS_DDL, schema)
    entity = get_entity("ydelser.benefit_periods")
    usual = ["kontanthjaelp"] * 60 + ["a_dagpenge"] * 40
    _periods(pg, schema, "2024-01-01", usual)
    _periods(pg, schema, "2024-01-02", usual)
    same = {o.column: o for o in gates.drift_checks(pg, entity, schema, "ydelser__benefit_periods", None)}
    assert set(same) == {"benefit_code", "visitation_category"}
    assert same["benefit_code"].success and same["benefit_code"].observed["distance"] == 0.0

    _periods(pg, schema, "2024-01-03", ["fleksjob"] * 80 + ["kontanthjaelp"] * 20)
    (drift,) = [o for o in gates.drift_checks(pg, entity, schema, "ydelser__benefit_periods", None)
                if o.column == "benefit_code"]
    assert not drift.success and drift.severity == "warning"
    assert drift.observed["rows"] == 100 and drift.observed["previous_rows"] == 200
    assert drift.observed["distance"] == 0.8   # 80 % moved from kontanthjaelp/a_dagpenge to fleksjob
    assert "distribution of benefit_code" in drift.message and "fleksjob 0.0% -> 80.0%" in drift.message

    # Too few rows on a side: not judged.
    _periods(pg, schema, "2024-01-04", ["fleksjob"] * 10)
    (small,) = [o for o in gates.drift_checks(pg, entity, schema, "ydelser__benefit_periods", None)
                if o.column == "benefit_code"]
    assert small.success and small.observed["judged"] is False


def test_coverage_names_rows_whose_person_is_not_in_the_cpr_extract(pg: Settings, schema: str) -> None:
    from helhed.sources import get_entity

    make_staging(pg, schema, n=20)
    entity = get_entity("ydelser.benefit_periods")
    (covered,) = gates.coverage_checks(pg, entity, schema, "ydelser__benefit_periods", None)
    assert covered.success and covered.observed == {"rows": 20, "missing": 0, "missing_rate": 0.0}

    _periods(pg, schema, "2024-02-01", ["kontanthjaelp"] * 3, start=1000)   # three persons CPR does not know
    (missing,) = gates.coverage_checks(pg, entity, schema, "ydelser__benefit_periods", None)
    assert not missing.success and missing.severity == "warning" and missing.column == "person_key"
    assert missing.observed["missing"] == 3
    assert "3 of 23 rows (13.04%) have a person_key that is not in cpr.persons" in missing.message


def test_gate_thresholds_come_from_the_specification() -> None:
    from helhed.sources import get_entity, specification

    section = specification().raw["gates"]
    defaults = gates.gate_defaults()
    assert defaults["max_quarantine_rate"] == section["max_quarantine_rate"]
    assert defaults["drift"]["max_distance"] == section["drift"]["max_distance"]
    drift = gates.checks.drift_settings(get_entity("ydelser.benefit_periods"))
    assert drift["columns"] == ["benefit_code", "visitation_category"] and drift["history"] == section["drift"]["history"]
    (coverage,) = gates.checks.coverage_settings(get_entity("ydelser.benefit_periods"))
    assert coverage["in"] == "cpr.persons" and coverage["table"] == "cpr__persons"


def test_staging_gates_check_whole_tables_weekly(pg: Settings) -> None:
    saturday, sunday = date(2026, 1, 3), date(2026, 1, 4)
    weekly = replace(pg, gate_scope="since_publish", gate_full_weekday="sunday")
    assert gates.default_scope(weekly, saturday) == "since_publish"
    assert gates.default_scope(weekly, sunday) == "full"
    assert gates.default_scope(replace(weekly, gate_full_weekday=None), sunday) == "since_publish"
    assert gates.default_scope(replace(weekly, gate_scope="full"), saturday) == "full"


def test_the_cell_size_of_the_mart_gates_is_dbts() -> None:
    """No mart suite spells the smallest cell: they take dbt's var('min_cell_size')."""
    from helhed.dbtmeta import min_cell_size

    n = min_cell_size()
    for name in gates.list_suites():
        if not name.startswith("marts."):
            continue
        suite = gates.load_suite(name)
        text = json.dumps(suite["expectations"])
        assert "between 1 and 4" not in text and '"min_value": 5' not in text and "[1, 2, 3, 4]" not in text, name
        params = gates.suite_parameters(suite)
        if "small_cells" in params:
            assert params["small_cells"] == list(range(1, n))
