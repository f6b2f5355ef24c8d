"""The dbt project on a small hand-made dataset whose right answers are worked out by hand.

The dataset (as-of date 31-03-2024, so the months are January to March 2024; a disability
pension from 2015 checks that ``months_of_history`` clips the window):

===  ==========================================================  ============================
key  benefit periods                                             why
===  ==========================================================  ============================
P01  kontanthjælp 15-01-2024..10-03-2024, aktivitetsparat          Jan 17, Feb 29, Mar 10 days
P02  kontanthjælp 01-01-2024..open, jobparat                       open period runs to as-of
P03  kontanthjælp February, jobparat
P04  kontanthjælp 10-02-2024..30-04-2024, aktivitetsparat          cut at the as-of date
P05  kontanthjælp 01-01..14-02, jobparat; fleksjob 15-02..open     Feb primary fleksjob 15>14,
                                                                   Mar self-supporting
P06  sygedagpenge 10-01..20-01; a-dagpenge 21-01..31-01, jobparat  11/11 tie -> a_dagpenge
P07  førtidspension 01-06-2015..open; sygedagpenge February        Feb 58 days, share capped 1
P08  uddannelseshjælp 01-03..20-03 and 15-03..open, uddannelsesp.  same-group overlap: warn,
                                                                   capped at 31 days
P16-18  kontanthjælp February, jobparat                            Feb kontanthjælp 8 persons
===  ==========================================================  ============================

Persons without benefits: P09 (30), P10 (turns 16 on 15-01-2024), P11 (moves out
15-02-2024), P12 (dies 31-01-2024), P13 (moves in 01-03-2024), P14 (65), P15 (no moving-in
date). So there are 15 residents aged 16-64 on the 1st of each month.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from helhed.config import REPO_ROOT, Settings
from helhed.loading import ensure_tables
from helhed.sources import load_sources

DBT = Path(os.environ.get("HELHED_DBT", REPO_ROOT / ".venv" / "bin" / "dbt"))
PROJECT_DIR = REPO_ROOT / "dbt_project"
DATABASE = "helhed_dbt_test"  # a database of its own, so other tests' staging rows do not mix in
AS_OF = date(2024, 3, 31)
JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)


def key(label: str) -> str:
    """A 64-character hex pseudonym, as helhed.pseudonymise makes them."""
    return hashlib.sha256(f"test-{label}".encode()).hexdigest()


# person, birth date, sex, district, moved in, moved out, death
PERSONS = [
    ("P01", date(1990, 5, 3), "K", "Nord", date(2010, 1, 1), None, None),
    ("P02", date(1985, 2, 1), "M", "Nord", date(2000, 1, 1), None, None),
    ("P03", date(1999, 12, 24), "K", "Syd", date(2015, 8, 1), None, None),
    ("P04", date(1975, 7, 7), "M", "Syd", date(1975, 7, 7), None, None),
    ("P05", date(1980, 1, 31), "K", "Øst", date(2001, 3, 1), None, None),
    ("P06", date(1995, 3, 15), "M", "Øst", date(2019, 1, 1), None, None),
    ("P07", date(1962, 11, 2), "K", "Vest", date(1990, 1, 1), None, None),
    ("P08", date(2004, 6, 30), "M", "Vest", date(2004, 6, 30), None, None),
    ("P09", date(1994, 1, 1), "K", "Nord", date(2020, 1, 1), None, None),
    ("P10", date(2008, 1, 15), "M", "Syd", date(2008, 1, 15), None, None),
    ("P11", date(1984, 4, 4), "K", "Øst", date(2010, 1, 1), date(2024, 2, 15), None),
    ("P12", date(1970, 9, 9), "M", "Vest", date(1970, 9, 9), None, date(2024, 1, 31)),
    ("P13", date(1992, 2, 2), "K", "Nord", date(2024, 3, 1), None, None),
    ("P14", date(1958, 6, 1), "M", "Syd", date(1980, 1, 1), None, None),
    ("P15", date(1990, 10, 10), "K", None, None, None, None),
    ("P16", date(2001, 1, 1), "M", "Nord", date(2019, 1, 1), None, None),
    ("P17", date(2002, 2, 2), "K", "Syd", date(2020, 1, 1), None, None),
    ("P18", date(2003, 3, 3), "M", "Øst", date(2021, 1, 1), None, None),
]

# period, person, benefit code, start, end, visitation category
PERIODS = [
    ("Y01", "P01", "kontanthjaelp", date(2024, 1, 15), date(2024, 3, 10), "aktivitetsparat"),
    ("Y02", "P02", "kontanthjaelp", date(2024, 1, 1), None, "jobparat"),
    ("Y03", "P03", "kontanthjaelp", date(2024, 2, 1), date(2024, 2, 29), "jobparat"),
    ("Y04", "P04", "kontanthjaelp", date(2024, 2, 10), date(2024, 4, 30), "aktivitetsparat"),
    ("Y05", "P05", "kontanthjaelp", date(2024, 1, 1), date(2024, 2, 14), "jobparat"),
    ("Y06", "P05", "fleksjob", date(2024, 2, 15), None, None),
    ("Y07", "P06", "sygedagpenge", date(2024, 1, 10), date(2024, 1, 20), None),
    ("Y08", "P06", "a_dagpenge", date(2024, 1, 21), date(2024, 1, 31), "jobparat"),
    ("Y09", "P07", "foertidspension", date(2015, 6, 1), None, None),
    ("Y10", "P07", "sygedagpenge", date(2024, 2, 1), date(2024, 2, 29), None),
    ("Y11", "P08", "uddannelseshjaelp", date(2024, 3, 1), date(2024, 3, 20), "uddannelsesparat"),
    ("Y12", "P08", "uddannelseshjaelp", date(2024, 3, 15), None, "uddannelsesparat"),
    ("Y16", "P16", "kontanthjaelp", date(2024, 2, 1), date(2024, 2, 29), "jobparat"),
    ("Y17", "P17", "kontanthjaelp", date(2024, 2, 1), date(2024, 2, 29), "jobparat"),
    ("Y18", "P18", "kontanthjaelp", date(2024, 2, 1), date(2024, 2, 29), "jobparat"),
]

# The staging contract of docs/architecture.md for the two walking-skeleton sources (the loader
# owns the real DDL; load_dataset creates the other sources' tables empty with it).
STAGING_DDL = """
create schema if not exists staging;
drop table if exists staging.cpr__persons;
create table staging.cpr__persons (
    person_key text not null, birth_date date not null, sex text not null, postal_code text,
    district text, moved_in date, moved_out date, death_date date,
    delivery_date date not null, source_file text not null);
drop table if exists staging.ydelser__benefit_periods;
create table staging.ydelser__benefit_periods (
    period_id text not null, person_key text not null, benefit_code text not null,
    start_date date not null, end_date date, rate numeric(14,2), amount numeric(14,2),
    amount_unit text, visitation_category text, delivery_date date not null,
    source_file text not null);
"""


def load_dataset(conn: psycopg.Connection) -> None:
    conn.execute(STAGING_DDL)
    # Every other declared source is staged empty, as the loader does before a first delivery.
    for source in load_sources(include_disabled=True).values():
        for entity in source.entities:
            ensure_tables(conn, entity)
    with conn.cursor() as cur:
        cur.executemany(
            "insert into staging.cpr__persons values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (key(p), born, sex, "8900", district, moved_in, moved_out, died, AS_OF, "cpr_personer_20240331.csv")
                for p, born, sex, district, moved_in, moved_out, died in PERSONS
            ],
        )
        cur.executemany(
            "insert into staging.ydelser__benefit_periods values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (pid, key(p), code, start, end, Decimal("500.00"), Decimal("10000.00"), "DKK", visitation, AS_OF,
                 "ydelsesperioder_20240331.csv")
                for pid, p, code, start, end, visitation in PERIODS
            ],
        )


@dataclass
class DbtRun:
    settings: Settings
    env: dict[str, str]
    target_path: Path
    build_seconds: float
    results: dict[str, dict]

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.settings.url(DATABASE), autocommit=True)

    def rows(self, query: str, *params) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(query, params).fetchall()


def dbt(args: list[str], env: dict[str, str], target_path: Path) -> subprocess.CompletedProcess:
    cmd = [str(DBT), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
           "--target-path", str(target_path), "--log-path", str(target_path / "logs")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def built(pg: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtRun]:
    """Load the dataset into a fresh database, then `dbt seed` and `dbt build` it."""
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(pg.url(DATABASE), autocommit=True) as conn:
        load_dataset(conn)
    env = {**os.environ, **pg.libpq_env(DATABASE), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    target_path = tmp_path_factory.mktemp("dbt_target")
    window = ["--vars", json.dumps({"months_of_history": 3})]
    dbt(["seed", *window], env, target_path)
    started = time.perf_counter()
    dbt(["build", *window], env, target_path)
    build_seconds = time.perf_counter() - started
    print(f"\ndbt build on the test data: {build_seconds:.1f} s")
    run_results = json.loads((target_path / "run_results.json").read_text())
    results = {r["unique_id"]: r for r in run_results["results"]}
    yield DbtRun(pg, env, target_path, build_seconds, results)
    try:  # best effort: the throw-away server is going away anyway
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
    except psycopg.OperationalError:
        pass


def test_build_passes_with_only_the_expected_warning(built: DbtRun) -> None:
    statuses = {uid: r["status"] for uid, r in built.results.items()}
    # Exposures (the Superset dashboards) are part of a build and do nothing: "no-op".
    assert all(s == "no-op" for uid, s in statuses.items() if uid.startswith("exposure.")), statuses
    statuses = {uid: s for uid, s in statuses.items() if not uid.startswith("exposure.")}
    assert all(s in {"success", "pass", "warn"} for s in statuses.values()), statuses
    warned = sorted(uid.split(".")[2] for uid, s in statuses.items() if s == "warn")
    # P08's two overlapping uddannelseshjælp periods are a data-quality warning, nothing else is.
    assert warned == ["assert_benefit_periods_do_not_overlap_within_group"]
    kinds = {uid.split(".")[0] for uid in statuses}
    assert {"seed", "model", "test", "unit_test"} <= kinds


def test_schemas(built: DbtRun) -> None:
    tables = {
        (schema, name)
        for schema, name in built.rows(
            "select table_schema, table_name from information_schema.tables where table_schema like 'build%%'"
        )
    }
    assert ("build_seeds", "benefit_groups") in tables
    assert ("build_stg", "stg_cpr__persons") in tables
    assert ("build_int", "int_benefit_periods_clipped_to_months") in tables
    assert ("build_restricted", "fct_person_month") in tables
    assert ("build_restricted", "dim_person") in tables
    assert ("build_marts", "employment_benefits_monthly") in tables
    assert {s for s, _ in tables} == {"build_seeds", "build_stg", "build_int", "build_restricted", "build_marts"}


def test_months_are_clipped_to_the_window(built: DbtRun) -> None:
    rows = built.rows("select month, days_in_month, days_covered, is_complete from build_int.int_months order by month")
    # The as-of date is a month end, so every month is complete and covers all its days.
    assert rows == [(JAN, 31, 31, True), (FEB, 29, 29, True), (MAR, 31, 31, True)]


def test_benefit_days_of_one_period(built: DbtRun) -> None:
    rows = built.rows(
        "select month, benefit_days from build_int.int_benefit_periods_clipped_to_months"
        " where period_id = 'Y01' order by month"
    )
    assert rows == [(JAN, 17), (FEB, 29), (MAR, 10)]


FCT_COLUMNS = (
    "month, benefit_days, income_support_days, full_time_person_share, primary_benefit_group,"
    " visitation_category, is_self_supporting"
)


def fct(built: DbtRun, person: str) -> list[tuple]:
    return built.rows(
        f"select {FCT_COLUMNS} from build_restricted.fct_person_month where person_key = %s order by month",
        key(person),
    )


def test_fct_person_month(built: DbtRun) -> None:
    d = Decimal
    assert fct(built, "P01") == [
        (JAN, 17, 17, d("0.5484"), "kontanthjaelp", "aktivitetsparat", False),
        (FEB, 29, 29, d("1.0000"), "kontanthjaelp", "aktivitetsparat", False),
        (MAR, 10, 10, d("0.3226"), "kontanthjaelp", "aktivitetsparat", False),
    ]
    # Open period runs to the as-of date.
    assert [r[1] for r in fct(built, "P02")] == [31, 29, 31]
    # End date after the as-of date is cut at it.
    assert fct(built, "P04") == [
        (FEB, 20, 20, d("0.6897"), "kontanthjaelp", "aktivitetsparat", False),
        (MAR, 31, 31, d("1.0000"), "kontanthjaelp", "aktivitetsparat", False),
    ]
    # Fleksjob counts as public support (DST's offentligt forsørgede); Feb's primary is fleksjob 15 > 14.
    assert fct(built, "P05") == [
        (JAN, 31, 31, d("1.0000"), "kontanthjaelp", "jobparat", False),
        (FEB, 29, 29, d("1.0000"), "fleksjob", None, False),
        (MAR, 31, 31, d("1.0000"), "fleksjob", None, False),
    ]
    # Tie 11/11 goes to the first code; visitation of the last period.
    assert fct(built, "P06") == [(JAN, 22, 22, d("0.7097"), "a_dagpenge", "jobparat", False)]
    # Overlapping groups: 58 days in February, share capped at 1; tie goes to foertidspension.
    assert fct(built, "P07") == [
        (JAN, 31, 31, d("1.0000"), "foertidspension", None, False),
        (FEB, 58, 58, d("1.0000"), "foertidspension", None, False),
        (MAR, 31, 31, d("1.0000"), "foertidspension", None, False),
    ]
    # Same-group overlap (20 + 17 days) is capped at the month.
    assert fct(built, "P08") == [(MAR, 31, 31, d("1.0000"), "uddannelseshjaelp", "uddannelsesparat", False)]
    assert built.rows("select count(*) from build_restricted.fct_person_month") == [(20,)]


def test_fct_ftp_columns(built: DbtRun) -> None:
    cols = [
        r[0]
        for r in built.rows(
            "select column_name from information_schema.columns where table_schema = 'build_restricted'"
            " and table_name = 'fct_person_month' and column_name like 'ftp\\_%%' order by column_name"
        )
    ]
    assert cols == [
        "ftp_a_dagpenge", "ftp_fleksjob", "ftp_foertidspension", "ftp_jobafklaringsforloeb", "ftp_kontanthjaelp",
        "ftp_ledighedsydelse", "ftp_ressourceforloeb", "ftp_revalidering", "ftp_selvforsoergelsesydelse",
        "ftp_sygedagpenge", "ftp_uddannelseshjaelp",
    ]
    row = built.rows(
        "select ftp_kontanthjaelp, ftp_fleksjob, ftp_foertidspension from build_restricted.fct_person_month"
        " where person_key = %s and month = %s",
        key("P05"), FEB,
    )
    assert row == [(Decimal("0.4828"), Decimal("0.5172"), Decimal("0.0000"))]
    row = built.rows(
        "select ftp_foertidspension, ftp_sygedagpenge from build_restricted.fct_person_month"
        " where person_key = %s and month = %s",
        key("P07"), FEB,
    )
    assert row == [(Decimal("0.5000"), Decimal("0.5000"))]


def test_dim_person(built: DbtRun) -> None:
    rows = built.rows("select birth_month, sex, district from build_restricted.dim_person where person_key = %s",
                      key("P01"))
    assert rows == [(date(1990, 5, 1), "K", "Nord")]
    assert built.rows("select count(*) from build_restricted.dim_person") == [(18,)]


def test_benefits_mart(built: DbtRun) -> None:
    rows = built.rows(
        "select month, benefit_group, benefit_group_label, persons, full_time_persons, is_suppressed"
        " from build_marts.employment_benefits_monthly order by month, benefit_group"
    )
    # Every month has a row per benefit group of the seed; a group nobody is on shows 0 (the zero rule).
    groups = [g for (g,) in built.rows("select benefit_group from build_seeds.benefit_groups")]
    assert len(rows) == 3 * len(groups) == 33
    zeros = [r for r in rows if r[3] == 0]
    assert all(r[4] == Decimal("0.00") and r[5] is False for r in zeros)
    assert (JAN, "revalidering", "Revalidering", 0, Decimal("0.00"), False) in zeros
    assert [r for r in rows if r[3] != 0] == [
        (JAN, "a_dagpenge", "A-dagpenge", None, None, True),
        (JAN, "foertidspension", "Førtidspension", None, None, True),
        (JAN, "kontanthjaelp", "Kontanthjælp", None, None, True),
        (JAN, "sygedagpenge", "Sygedagpenge", None, None, True),
        (FEB, "fleksjob", "Fleksjob", None, None, True),
        (FEB, "foertidspension", "Førtidspension", None, None, True),
        # 8 persons, (29 + 29 + 29 + 20 + 14 + 3 * 29) / 29 = 208 / 29 = 7.17 full-time persons.
        (FEB, "kontanthjaelp", "Kontanthjælp", 8, Decimal("7.17"), False),
        (FEB, "sygedagpenge", "Sygedagpenge", None, None, True),
        (MAR, "fleksjob", "Fleksjob", None, None, True),
        (MAR, "foertidspension", "Førtidspension", None, None, True),
        (MAR, "kontanthjaelp", "Kontanthjælp", None, None, True),
        (MAR, "uddannelseshjaelp", "Uddannelseshjælp", None, None, True),
    ]


def test_visitation_mart(built: DbtRun) -> None:
    rows = built.rows(
        "select month, visitation_category, visitation_label, persons, is_suppressed"
        " from build_marts.employment_visitation_monthly order by month, visitation_category"
    )
    # Recipients of a group without visitation (førtidspension, fleksjob, sygedagpenge: P05, P07)
    # are "ikke relevant for ydelsen", not "ikke visiteret" (a visited group without a category:
    # nobody here, so 0). P06's a-dagpenge period carries "jobparat" as delivered.
    assert rows == [
        (JAN, "aktivitetsparat", "aktivitetsparat", None, True),           # P01
        (JAN, "ikke_relevant", "ikke relevant for ydelsen", None, True),   # P07
        (JAN, "jobparat", "jobparat", None, True),                         # P02 P05 P06
        (JAN, "uddannelsesparat", "uddannelsesparat", 0, False),
        (JAN, None, "ikke visiteret", 0, False),
        (FEB, "aktivitetsparat", "aktivitetsparat", None, True),           # P01 P04
        (FEB, "ikke_relevant", "ikke relevant for ydelsen", None, True),   # P05 (fleksjob) P07 (sygedagpenge)
        (FEB, "jobparat", "jobparat", 5, False),                           # P02 P03 P16-P18
        (FEB, "uddannelsesparat", "uddannelsesparat", 0, False),
        (FEB, None, "ikke visiteret", 0, False),
        (MAR, "aktivitetsparat", "aktivitetsparat", None, True),           # P01 P04
        (MAR, "ikke_relevant", "ikke relevant for ydelsen", None, True),   # P05 P07
        (MAR, "jobparat", "jobparat", None, True),                         # P02
        (MAR, "uddannelsesparat", "uddannelsesparat", None, True),         # P08
        (MAR, None, "ikke visiteret", 0, False),
    ]


def test_zero_counts_are_published_as_zero(built: DbtRun) -> None:
    """The zero rule: a count of 0 is a row showing 0, never a gap; null always means 1-4 persons."""
    rows = built.rows(
        "select month, target_group, persons, is_suppressed from build_marts.target_groups_persons_monthly"
    )
    groups = built.rows("select count(*) from build_restricted.dim_target_group where is_current")[0][0]
    assert len(rows) == 3 * groups
    # Nobody in the hand-made data has services from two departments: every count is 0, none hidden.
    assert {(persons, suppressed) for _, _, persons, suppressed in rows} == {(0, False)}
    for table in ("employment_benefits_monthly", "employment_visitation_monthly", "target_groups_persons_monthly"):
        assert built.rows(f"select count(*) from build_marts.{table} where persons is null and not is_suppressed") == [(0,)]
        assert built.rows(f"select count(*) from build_marts.{table} where persons = 0 and is_suppressed") == [(0,)]


def test_self_support_mart(built: DbtRun) -> None:
    rows = built.rows(
        "select month, residents_16_64, self_supporting, self_supporting_share, is_suppressed"
        " from build_marts.employment_self_support_monthly order by month"
    )
    assert rows == [
        # 15 residents 16-64; not self-supporting: P01 P02 P05 P06 P07.
        (JAN, 15, 10, Decimal("0.6667"), False),
        # not self-supporting: P01-P05, P07, P16-P18.
        (FEB, 15, 6, Decimal("0.4000"), False),
        # not self-supporting: P01 P02 P04 P05 (fleksjob counts as public support) P07 P08.
        (MAR, 15, 9, Decimal("0.6000"), False),
    ]


def test_residents(built: DbtRun) -> None:
    def resident_months(person: str) -> list[tuple]:
        return built.rows(
            "select month, age_years from build_int.int_residents_monthly where person_key = %s order by month",
            key(person),
        )

    assert resident_months("P10") == [(JAN, 15), (FEB, 16), (MAR, 16)]
    assert [m for m, _ in resident_months("P11")] == [JAN, FEB]  # moved out 15-02
    assert [m for m, _ in resident_months("P12")] == [JAN]  # died 31-01
    assert [m for m, _ in resident_months("P13")] == [MAR]  # moved in 01-03
    assert [m for m, _ in resident_months("P15")] == [JAN, FEB, MAR]  # no moving-in date


def test_no_small_cells_are_published(built: DbtRun) -> None:
    for table, column in [
        ("employment_benefits_monthly", "persons"),
        ("employment_visitation_monthly", "persons"),
        ("employment_self_support_monthly", "residents_16_64"),
        ("employment_self_support_monthly", "self_supporting"),
    ]:
        small = built.rows(f"select count(*) from build_marts.{table} where {column} between 1 and 4")
        assert small == [(0,)], (table, column)


# Every public mart with a month grain says whether the month is complete and how many days it covers.
MONTH_FLAGS = [("is_complete_month", "boolean"), ("days_covered", "integer")]

PUBLIC_CONTRACT = {
    "employment_benefits_monthly": [
        ("month", "date"), ("benefit_group", "text"), ("benefit_group_label", "text"), ("persons", "integer"),
        ("full_time_persons", "numeric(12,2)"), ("is_suppressed", "boolean"),
        *MONTH_FLAGS,
    ],
    "employment_visitation_monthly": [
        ("month", "date"), ("visitation_category", "text"), ("visitation_label", "text"), ("persons", "integer"),
        ("is_suppressed", "boolean"), *MONTH_FLAGS,
    ],
    "employment_self_support_monthly": [
        ("month", "date"), ("residents_16_64", "integer"), ("self_supporting", "integer"),
        ("self_supporting_share", "numeric(6,4)"), ("is_suppressed", "boolean"), *MONTH_FLAGS,
    ],
}


def test_public_marts_match_the_architecture_contract(built: DbtRun) -> None:
    for table, expected in PUBLIC_CONTRACT.items():
        columns = built.rows(
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a"
            " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum",
            f"build_marts.{table}",
        )
        assert columns == expected, table


def test_reader_may_select_public_marts_only(built: DbtRun) -> None:
    def can_select(table: str) -> bool:
        return built.rows("select has_table_privilege('helhed_reader', %s, 'SELECT')", table)[0][0]

    for table in PUBLIC_CONTRACT:
        assert can_select(f"build_marts.{table}")
    assert not can_select("build_restricted.fct_person_month")
    assert not can_select("build_restricted.dim_person")


def test_descriptions_are_comments_in_the_database(built: DbtRun) -> None:
    (comment,) = built.rows("select obj_description('build_marts.employment_benefits_monthly'::regclass)")[0]
    assert comment and "full-time persons" in comment


def test_a_single_node_build_skips_tests_on_unbuilt_parents(built: DbtRun) -> None:
    """The nightly DAG builds node by node; a test runs with a node only when its parents are upstream."""
    proc = dbt(["ls", "--select", "stg_ydelser__benefit_periods", "--resource-type", "test", "--output", "name"],
               built.env, built.target_path)
    names = set(proc.stdout.split())
    assert "unique_stg_ydelser__benefit_periods_period_id" in names
    assert not {n for n in names if n.startswith("relationships_")}, names


def test_docs_generate(built: DbtRun) -> None:
    dbt(["docs", "generate", "--vars", json.dumps({"months_of_history": 3})], built.env, built.target_path)
    catalog = json.loads((built.target_path / "catalog.json").read_text())
    assert "model.helhed.fct_person_month" in catalog["nodes"]
    assert (built.target_path / "index.html").exists()
    manifest = json.loads((built.target_path / "manifest.json").read_text())
    # Every column that exists in the warehouse is described in YAML, and every model is.
    undocumented = [
        f"{entry['metadata']['name']}.{column}"
        for uid, entry in catalog["nodes"].items()
        for column in entry["columns"]
        if not manifest["nodes"][uid]["columns"].get(column, {}).get("description")
    ]
    assert not undocumented
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert models and all(n["description"] for n in models)


def test_public_marts_with_a_department_have_row_level_security(built: DbtRun) -> None:
    """The post-hook department_row_security (issue 11): every public mart with a `department`
    column has RLS and the department policy; restricted and column-less marts have none."""
    protected = dict(built.rows(
        "select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'build_marts' and c.relkind = 'r'"
        " and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'department')"))
    assert {"economy_cost_coverage_department_monthly", "activity_tempo_yearly", "economy_cost_per_person_month"} <= set(protected)
    assert all(protected.values()), protected
    policies = {r[0] for r in built.rows("select tablename from pg_policies where schemaname = 'build_marts'"
                                         " and policyname = 'helhed_department_rows'")}
    assert policies == set(protected)
    assert built.rows("select count(*) from pg_policies where schemaname = 'build_restricted'") == [(0,)]
    assert not built.rows("select relrowsecurity from pg_class where oid = 'build_marts.employment_benefits_monthly'::regclass")[0][0]


def test_the_run_end_hook_protects_department_tables_written_outside_dbt(built: DbtRun) -> None:
    """The evaluation step writes public marts in Python (programme_freed_resources_yearly); the
    on-run-end hook of the next dbt run (the budget step's) puts the department policy on them."""
    with built.connect() as conn:
        conn.execute("create table build_marts.written_outside_dbt (department text, persons integer)")
    try:
        dbt(["run", "--select", "dim_department"], built.env, built.target_path)
        assert built.rows("select relrowsecurity from pg_class"
                          " where oid = 'build_marts.written_outside_dbt'::regclass") == [(True,)]
        assert built.rows("select count(*) from pg_policies where schemaname = 'build_marts'"
                          " and tablename = 'written_outside_dbt' and policyname = 'helhed_department_rows'") == [(1,)]
    finally:
        with built.connect() as conn:
            conn.execute("drop table build_marts.written_outside_dbt")
