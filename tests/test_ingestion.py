"""Ingestion of every source from generated deliveries: formats, quarantine, rejection, gates.

The generator's ``randers_bad`` profile adds tagged defects to the files of the clean profile
(extra rows, extra files; never replacements). Loading both with the same seed must give the
same staging tables, and every tagged defect must be quarantined or rejected with its rule.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from helhed import gates, loading, parsing
from helhed.config import Settings
from helhed.generator import generate
from helhed.sources import get_entity, load_sources

END = date(2025, 12, 31)
#: File defects are drawn per file at the bad profile's rates: a seed whose municipality gets every
#: kind (with the jobcenter's two files since generator version 3, seed 1 drew no truncated copy).
SEED = 3
RESIDENTS, YEARS = 3000, 3
ENTITIES = [e for s in load_sources(include_disabled=True).values() for e in s.entities]

#: defect kind of the generator -> the loader's rule (quarantined row) or rejection (file)
ROW_RULES = {"invalid_cpr": "invalid_cpr", "unknown_code": "unknown_code", "end_before_start": "end_before_start"}
FILE_RULES = {"duplicated_file": "duplicate_file", "truncated_file": "truncated_file",
              "wrong_encoding": "wrong_encoding", "missing_columns": "missing_columns"}


def reset_warehouse(s: Settings) -> None:
    """Drop every entity's landing and staging table, the delivery register and the publication
    marks (gates cover what was loaded since the last publication, so another module's
    publications in the shared server would hide this module's deliveries)."""
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        for e in ENTITIES:
            for schema in ("landing", "staging"):
                conn.execute(sql.SQL("drop table if exists {}.{} cascade").format(sql.Identifier(schema), sql.Identifier(e.table)))
        for table in ("landing.quarantine", "audit.delivery_files", "audit.key_rotations", "audit.publications",
                      "audit.gate_batches", "audit.accepted_files"):
            conn.execute(f"drop table if exists {table} cascade")


def query(s: Settings, statement: str, params: tuple | None = None) -> list[tuple]:
    with psycopg.connect(s.url("helhed")) as conn:
        return conn.execute(statement, params).fetchall()


def load_everything(s: Settings) -> dict[str, loading.EntitySummary]:
    return {e.id: loading.load_entity(s, e, END) for e in ENTITIES}


def staging_snapshot(s: Settings) -> dict[str, list[tuple]]:
    with psycopg.connect(s.url("helhed")) as conn:
        return {e.table: sorted(conn.execute(sql.SQL("select * from staging.{}").format(sql.Identifier(e.table))).fetchall(),
                                key=repr)
                for e in ENTITIES}


@pytest.fixture(scope="module")
def deliveries(pg: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Generate the clean and the bad municipality (same seed) and load each into a fresh warehouse."""
    root = tmp_path_factory.mktemp("ingestion")
    out = {}
    for profile in ("randers", "randers_bad"):
        data = root / profile
        manifest = generate(profile=profile, residents=RESIDENTS, years=YEARS, seed=SEED, out=data,
                            end_date=END, show_progress=False)
        s = replace(pg, data_dir=data)
        reset_warehouse(s)
        summaries = load_everything(s)
        out[profile] = {
            "settings": s, "manifest": manifest, "summaries": summaries, "staging": staging_snapshot(s),
            "files": query(s, "select entity, file_name, status, rows_delivered, rows_loaded, rows_quarantined, "
                              "coalesce(split_part(rejection, ':', 1), '') from audit.delivery_files order by file_id"),
            "quarantine": query(s, "select d.entity, d.file_name, q.line_no, q.rule, q.detail from landing.quarantine q "
                                   "join audit.delivery_files d using (file_id) order by 1, 2, 3"),
            "landing_files": sorted(p.relative_to(data / "landing").as_posix() for p in (data / "landing").rglob("*.csv")),
        }
    yield out
    reset_warehouse(pg)


def test_generated_files_match_the_declared_formats(deliveries: dict) -> None:
    """Every declared entity has a delivery, and on clean data nothing is quarantined or rejected."""
    clean = deliveries["randers"]
    assert clean["quarantine"] == []
    assert [f for f in clean["files"] if f[2] != "loaded"] == []
    loaded = {f[0] for f in clean["files"]}
    assert loaded == {e.id for e in ENTITIES}, "an entity's file_glob matched no generated file"
    # rows per file as the manifest says
    manifest_rows = {f["path"].split("/", 2)[2]: f["rows"] for d in clean["manifest"]["deliveries"] for f in d["files"]}
    for _entity, file_name, _, delivered, loaded_rows, quarantined, _ in clean["files"]:
        assert (delivered, loaded_rows, quarantined) == (manifest_rows[file_name], manifest_rows[file_name], 0), file_name
    for e in ENTITIES:
        assert clean["staging"][e.table], f"staging.{e.table} is empty"


def test_every_defect_kind_is_present(deliveries: dict) -> None:
    kinds = Counter(d["kind"] for d in deliveries["randers_bad"]["manifest"]["bad_data"]["defects"])
    assert set(kinds) == set(ROW_RULES) | set(FILE_RULES), kinds


def test_each_bad_row_is_quarantined_with_its_rule(deliveries: dict) -> None:
    bad = deliveries["randers_bad"]
    quarantined = {(file_name, line): rule for _, file_name, line, rule, _ in bad["quarantine"]}
    expected = {}
    for d in bad["manifest"]["bad_data"]["defects"]:
        if d["kind"] in ROW_RULES:
            expected[(d["file"].split("/", 2)[2], d["line"])] = ROW_RULES[d["kind"]]
    assert expected, "the bad profile injected no row defects"
    assert quarantined == expected   # exactly the tagged lines, each with the rule of its defect kind
    for _, _, _, _rule, detail in bad["quarantine"]:
        assert detail and not re.search(r"\d{6}", detail), detail   # details outlive the purge: never a CPR


def test_each_bad_file_is_rejected_with_its_reason_and_counted(deliveries: dict) -> None:
    bad = deliveries["randers_bad"]
    by_name = {f[1]: f for f in bad["files"]}
    expected = {}
    for d in bad["manifest"]["bad_data"]["defects"]:
        if d["kind"] in FILE_RULES:
            expected[d["file"].split("/", 2)[2]] = FILE_RULES[d["kind"]]
    assert expected, "the bad profile injected no file defects"
    rejected = {name: f[6] for name, f in by_name.items() if f[2] == "rejected"}
    assert rejected == expected
    for name in expected:
        _, _, status, delivered, loaded, quarantined, _ = by_name[name]
        assert delivered > 0 and loaded == 0 and quarantined == delivered, name


def test_every_file_is_registered_and_delivered_equals_loaded_plus_quarantined(deliveries: dict) -> None:
    bad = deliveries["randers_bad"]
    registered = sorted(f"{get_entity(f[0]).source}/{f[1]}" for f in bad["files"])
    assert registered == bad["landing_files"], "a delivered file was neither loaded nor rejected"
    for _entity, name, _status, delivered, loaded, quarantined, _ in bad["files"]:
        assert delivered == loaded + quarantined, name
    summary_rows = sum(f.delivered for s in bad["summaries"].values() for f in s.files)
    assert summary_rows == sum(f[3] for f in bad["files"])
    # The good files deliver their clean rows plus the tagged bad rows, and load exactly the clean rows.
    manifest = {f["path"].split("/", 2)[2]: f for d in bad["manifest"]["deliveries"] for f in d["files"]}
    for _entity, name, status, delivered, loaded, _quarantined, _ in bad["files"]:
        if name in manifest:
            assert (status, delivered, loaded) == ("loaded", manifest[name]["rows"] + manifest[name]["bad_rows"],
                                                   manifest[name]["rows"]), name


def test_nothing_else_is_lost_staging_equals_the_clean_load(deliveries: dict) -> None:
    clean, bad = deliveries["randers"]["staging"], deliveries["randers_bad"]["staging"]
    for e in ENTITIES:
        assert len(bad[e.table]) == len(clean[e.table]), e.table
        assert bad[e.table] == clean[e.table], e.table


def bad_load(deliveries: dict) -> Settings:
    """The warehouse as the bad profile's load left it (reloaded if another test reset it)."""
    bad = deliveries["randers_bad"]
    s = bad["settings"]
    exists = query(s, "select to_regclass('audit.delivery_files')")[0][0]
    if not exists or query(s, "select count(*) from audit.delivery_files")[0][0] != len(bad["files"]):
        reset_warehouse(s)
        load_everything(s)
    return s


def test_a_rerun_loads_nothing_twice(deliveries: dict) -> None:
    bad = deliveries["randers_bad"]
    bad_load(deliveries)
    again = load_everything(bad["settings"])
    assert {f.status for s in again.values() for f in s.files} == {"skipped"}
    assert staging_snapshot(bad["settings"]) == bad["staging"]


def test_every_staging_suite_passes_on_generated_data(deliveries: dict) -> None:
    s = bad_load(deliveries)
    run_id = f"test-{uuid.uuid4().hex[:12]}"
    for e in ENTITIES:
        result = gates.run_suite(s, f"staging__{e.table}", "staging", e.table, run_id, data_docs=False)
        assert result.passed, result.failures
        delivery = [o for o in result.outcomes if o.expectation_type.startswith(("expect_delivery", "expect_file", "expect_no_rejected"))]
        assert len(delivery) == 5, e.table
        suite_warnings = [w for w in result.warnings if "expect_no_rejected_files" not in w]
        assert suite_warnings == [], suite_warnings
    recorded = query(s, "select count(distinct suite), count(*) filter (where expectation_type = 'expect_file_quarantine_rate_to_be_below') "
                        "from audit.gate_results where run_id = %s", (run_id,))
    assert recorded == [(len(ENTITIES), len(ENTITIES))]


# One defect per new suite: a statement against the copied table, and the expectation that must fail.
SUITE_DEFECTS = [
    ("cpr__relations", "update {t} set relation = 'bror' where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_in_set", "relation"),
    ("dubu__services", "update {t} set placement_type = '99' where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_in_set", "placement_type"),
    ("dubu__services", "update {t} set paragraph = 'SEL-999' where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_in_set", "paragraph"),
    ("sensum__services", "update {t} set hours_per_week = 200 where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_between",
        "hours_per_week"),
    ("sundhed__services", "update {t} set function = '5.30' where ctid = (select min(ctid) from {t})", "expect_column_values_to_match_regex", "function"),
    ("sundhed__cofinancing", "update {t} set month = '2023-13' where ctid = (select min(ctid) from {t})", "expect_column_values_to_match_regex", "month"),
    ("uddannelse__education_status", "update {t} set status = 'Ukendt' where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_in_set",
        "status"),
    ("eindkomst__employments", "update {t} set employer_cvr = '123' where ctid = (select min(ctid) from {t})", "expect_column_values_to_match_regex",
        "employer_cvr"),
    ("eindkomst__employments", "insert into {t} select * from {t} limit 1", "expect_compound_columns_to_be_unique", "person_key,employer_cvr,start_date"),
    ("helhed__enrolments", "update {t} set end_date = start_date - 1 where ctid = (select min(ctid) from {t})",
        "expect_column_pair_values_a_to_be_greater_than_b", "end_date,start_date"),
    ("helhed__network_meetings", "update {t} set departments = 0 where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_between",
        "departments"),
    ("helhed__progression", "update {t} set score = 11 where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_between", "score"),
    ("helhed__progression", "update {t} set marker = 13 where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_between", "marker"),
    ("helhed__survey", "update {t} set joint_plan = 'Måske' where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_in_set", "joint_plan"),
    ("oekonomi__postings", "update {t} set debit_credit = 'X' where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_in_set", "debit_credit"),
    ("oekonomi__postings", "update {t} set recipient_person_key = '0101801234' where ctid = (select min(ctid) from {t} where recipient_person_key is not null)",
     "expect_column_values_to_match_regex", "recipient_person_key"),
    ("oekonomi__budgets", "update {t} set budget_type = 'Tillægsbevilling' where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_in_set",
        "budget_type"),
    ("enhedspriser__unit_prices", "update {t} set unit_price = -1 where ctid = (select min(ctid) from {t})", "expect_column_values_to_be_between",
        "unit_price"),
]


@pytest.fixture(scope="module")
def pristine(deliveries: dict):
    """A copy of the loaded staging tables in a private schema; each test copies it again."""
    s = bad_load(deliveries)
    schema = f"pristine_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        for e in ENTITIES:
            conn.execute(sql.SQL("create table {} as select * from staging.{}").format(
                sql.Identifier(schema, e.table), sql.Identifier(e.table)))
    yield s, schema
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))


@pytest.fixture()
def copied_staging(pristine):
    s, source = pristine
    schema = f"ingest_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        for e in ENTITIES:   # every table: suites refer to siblings such as cpr__persons
            conn.execute(sql.SQL("create table {} (like staging.{})").format(sql.Identifier(schema, e.table), sql.Identifier(e.table)))
            conn.execute(sql.SQL("insert into {} select * from {}").format(sql.Identifier(schema, e.table),
                                                                           sql.Identifier(source, e.table)))
    yield s, schema
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))


@pytest.mark.parametrize("table, statement, expectation, column", SUITE_DEFECTS,
                         ids=[f"{t}-{c}" for t, _, _, c in SUITE_DEFECTS])
def test_staging_suites_catch_their_defects(copied_staging, table: str, statement: str, expectation: str, column: str) -> None:
    s, schema = copied_staging
    target = sql.Identifier(schema, table)
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL(statement.replace("{t}", "{}")).format(*([target] * statement.count("{t}"))))
    result = gates.run_suite(s, f"staging.{table}", schema, table, f"test-{uuid.uuid4().hex[:12]}", data_docs=False)
    assert not result.passed
    failed = {(o.expectation_type, o.column) for o in result.outcomes if not o.success and o.severity == "critical"}
    assert failed == {(expectation, column)}, result.failures
    assert "0101801234" not in "\n".join(result.failures)   # a CPR in a pseudonym column is never echoed


# --------------------------------------------------------------------------- volume and quarantine gates


YD_HEADER = ("Periode-id;CPR-nummer;Ydelseskode;Ydelses startdato;Ydelses slutdato;Ydelses sats;Ydelses beløb;"
             "Beløbsenhed;Visitationskategori")


def deliver_ydelser(s: Settings, day: date, lines: list[str]) -> Path:
    folder = s.landing_dir / "ydelser" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ydelsesperioder_{day:%Y%m%d}.csv"
    path.write_bytes(("\r\n".join([YD_HEADER, *lines]) + "\r\n").encode("utf-8-sig"))
    return path


def gate_ydelser(s: Settings, day: date, run_id: str) -> gates.GateResult:
    loading.load_entity(s, get_entity("ydelser.benefit_periods"), day)
    return gates.run_suite(s, "staging__ydelser__benefit_periods", "staging", "ydelser__benefit_periods", run_id,
                           data_docs=False)


def outcome(result: gates.GateResult, expectation_type: str) -> gates.ExpectationOutcome:
    (found,) = [o for o in result.outcomes if o.expectation_type == expectation_type]
    return found


@pytest.fixture()
def nightly(pg: Settings, deliveries: dict, tmp_path: Path) -> Settings:
    """A warehouse with the clean generated cpr and ydelser deliveries as history."""
    s = replace(pg, data_dir=tmp_path)
    clean = deliveries["randers"]["settings"]
    for source in ("cpr", "ydelser"):
        shutil.copytree(clean.landing_dir / source, s.landing_dir / source)
    reset_warehouse(s)
    loading.load_entity(s, get_entity("cpr.persons"), END)
    yield s
    reset_warehouse(s)


def test_volume_drop_warns_and_an_empty_delivery_fails(nightly: Settings) -> None:
    s = nightly
    run_id = f"test-{uuid.uuid4().hex[:12]}"
    first = gate_ydelser(s, END, run_id)
    assert first.passed and first.warnings == []
    assert outcome(first, "expect_delivery_row_count_to_be_near_history").observed["previous_deliveries"] == 0

    # A night with far fewer rows than usual (100 corrections against a history of ~1,240): a warning.
    original = (s.landing_dir / "ydelser" / END.isoformat() / f"ydelsesperioder_{END:%Y%m%d}.csv").read_text(encoding="utf-8-sig")
    some = original.splitlines()[1:101]
    deliver_ydelser(s, date(2026, 1, 1), some)
    small = gate_ydelser(s, date(2026, 1, 1), run_id)
    volume = outcome(small, "expect_delivery_row_count_to_be_near_history")
    assert small.passed and not volume.success and volume.severity == "warning"
    assert volume.observed["rows"] == 100 and volume.observed["previous_deliveries"] == 1
    assert any("100 rows delivered on 2026-01-01" in w for w in small.warnings)

    # A quiet day's increment arrives empty: benefit periods are nightly increments, so
    # config/sources.yaml makes that a warning (volume.empty); the night goes on.
    deliver_ydelser(s, date(2026, 1, 2), [])
    empty = gate_ydelser(s, date(2026, 1, 2), run_id)
    assert empty.passed
    assert [o.expectation_type for o in empty.outcomes if not o.success and o.severity == "warning"] == [
        "expect_delivery_row_count_to_be_near_history", "expect_delivery_to_have_rows"]
    assert any("the delivery of 2026-01-02 (1 file(s)) has no rows" in w for w in empty.warnings)

    # Both are recorded with the suite's own results.
    rows = query(s, "select expectation_type, severity, success from audit.gate_results where run_id = %s "
                    "and suite = 'staging.ydelser__benefit_periods' and expectation_type like 'expect_delivery%%' order by id", (run_id,))
    assert ("expect_delivery_row_count_to_be_near_history", "warning", False) in rows
    assert ("expect_delivery_to_have_rows", "warning", False) in rows


def test_quarantine_rate_above_threshold_fails_and_the_threshold_is_configurable(nightly: Settings, tmp_path: Path,
                                                                                 monkeypatch) -> None:
    s = nightly
    run_id = f"test-{uuid.uuid4().hex[:12]}"
    gate_ydelser(s, END, run_id)
    original = (s.landing_dir / "ydelser" / END.isoformat() / f"ydelsesperioder_{END:%Y%m%d}.csv").read_text(encoding="utf-8-sig")
    lines = original.splitlines()[1:1001]
    # 1,000 re-delivered periods of which 20 carry a code outside the benefit groups (2 % > 1 %).
    bad = [";".join(f if i != 2 else "ukendt_ydelse" for i, f in enumerate(line.split(";"))) for line in lines[:20]]
    day = date(2026, 1, 1)
    deliver_ydelser(s, day, bad + lines[20:])
    result = gate_ydelser(s, day, run_id)
    rate = outcome(result, "expect_file_quarantine_rate_to_be_below")
    assert not result.passed and not rate.success and rate.severity == "critical"
    assert rate.observed["over_threshold"] == [{"file": f"{day}/ydelsesperioder_{day:%Y%m%d}.csv", "delivered": 1000,
                                                "quarantined": 20, "rate": 0.02}]
    assert any("20 of 1000 rows quarantined (2.00%)" in m for m in result.failures)
    assert query(s, "select rule, count(*) from landing.quarantine group by rule") == [("unknown_code", 20)]

    # The threshold is per entity in config/sources.yaml: 5 % lets this night through.
    config = tmp_path / "config" / "sources.yaml"
    config.parent.mkdir()
    text = s.sources_file.read_text(encoding="utf-8").replace(
        '        file_glob: "ydelsesperioder_*.csv"\n',
        '        file_glob: "ydelsesperioder_*.csv"\n        max_quarantine_rate: 0.05\n')
    config.write_text(text, encoding="utf-8")
    for seed in ("dbt_project/seeds", "reference/os2bos"):
        shutil.copytree(parsing.REPO_ROOT / seed, tmp_path / seed)
    monkeypatch.setenv("HELHED_SOURCES_FILE", str(config))   # Settings.sources_file: the one reader reads it
    relaxed = gates.run_suite(s, "staging__ydelser__benefit_periods", "staging", "ydelser__benefit_periods", run_id,
                              data_docs=False)
    assert outcome(relaxed, "expect_file_quarantine_rate_to_be_below").kwargs["max_quarantine_rate"] == 0.05
    assert relaxed.passed, relaxed.failures


def test_a_single_quarantined_row_in_a_small_file_is_tolerated(nightly: Settings) -> None:
    s = nightly
    run_id = f"test-{uuid.uuid4().hex[:12]}"
    gate_ydelser(s, END, run_id)
    original = (s.landing_dir / "ydelser" / END.isoformat() / f"ydelsesperioder_{END:%Y%m%d}.csv").read_text(encoding="utf-8-sig")
    lines = original.splitlines()[1:10]
    deliver_ydelser(s, date(2026, 1, 1), [lines[0].replace(";", ";;", 1)] + lines[1:])   # 1 of 9 rows: 11 %
    result = gate_ydelser(s, date(2026, 1, 1), run_id)
    assert outcome(result, "expect_file_quarantine_rate_to_be_below").success
    assert query(s, "select rule from landing.quarantine") == [("wrong_field_count",)]
