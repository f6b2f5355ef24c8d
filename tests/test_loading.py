"""The loader against a real PostgreSQL: formats, quarantine, idempotence, immutability, rollback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date
from pathlib import Path

import psycopg
import pytest

from helhed import loading
from helhed.config import Settings
from helhed.sources import get_entity

HEADER = "Periode-id;CPR-nummer;Ydelseskode;Ydelses startdato;Ydelses slutdato;Ydelses sats;Ydelses beløb;Beløbsenhed;Visitationskategori"


def write_delivery(s: Settings, day: str, name: str, lines: list[str], encoding: str = "utf-8-sig") -> Path:
    folder = s.landing_dir / "ydelser" / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes("\r\n".join([HEADER, *lines]).encode(encoding) + b"\r\n")
    return path


def _drop_ydelser(pg: Settings) -> None:
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        for table in ("staging.ydelser__benefit_periods", "landing.ydelser__benefit_periods", "landing.quarantine",
                      "audit.delivery_files"):
            conn.execute(f"drop table if exists {table} cascade")
    import shutil

    shutil.rmtree(pg.landing_dir / "ydelser", ignore_errors=True)


@pytest.fixture()
def clean(pg: Settings) -> Iterator[Settings]:
    """An empty ydelser warehouse, emptied again afterwards (file ids restart in the next test)."""
    _drop_ydelser(pg)
    yield pg
    _drop_ydelser(pg)


def fetch(s: Settings, query: str) -> list[tuple]:
    with psycopg.connect(s.url("helhed")) as conn:
        return conn.execute(query).fetchall()


def test_good_and_bad_rows_delivered_equals_loaded_plus_quarantined(clean: Settings):
    source = get_entity("ydelser.benefit_periods")
    write_delivery(clean, "2025-01-31", "ydelsesperioder_20250131.csv", [
        "P1;0101801234;kontanthjaelp;15-01-2024;10-03-2024;12.345,50;12.345,50;kr. pr. måned;jobparat",
        "P2;0202811234;sygedagpenge;01-02-2024;;4.000,00;4.000,00;kr. pr. uge;",
        "P3;3202801234;kontanthjaelp;01-02-2024;;1,00;1,00;kr. pr. måned;",          # invalid CPR
        "P4;0303821234;kontanthjaelp;01-05-2024;01-04-2024;1,00;1,00;kr. pr. måned;",  # end before start
        "P5;0404831234;kontanthjaelp;2024-05-01;;1,00;1,00;kr. pr. måned;",          # wrong date format
        "P6;0505841234;kontanthjaelp",                                               # truncated line
        "P1;0606851234;fleksjob;01-01-2024;;1,00;1,00;kr. pr. måned;",               # duplicate key
    ])
    summary = loading.load_entity(clean, source, date(2025, 1, 31))
    (f,) = summary.files
    assert (f.status, f.delivered, f.loaded, f.quarantined) == ("loaded", 7, 2, 5)
    rules = dict(fetch(clean, "select line_no, rule from landing.quarantine order by line_no"))
    assert rules == {4: "invalid_cpr", 5: "end_before_start", 6: "invalid_date", 7: "wrong_field_count", 8: "duplicate_key"}
    rows = fetch(clean, "select period_id, person_key, start_date, end_date, rate from staging.ydelser__benefit_periods order by 1")
    assert [r[0] for r in rows] == ["P1", "P2"]
    assert rows[0][2:4] == (date(2024, 1, 15), date(2024, 3, 10))
    assert float(rows[0][4]) == 12345.50
    assert all(len(r[1]) == 64 and not r[1].isdigit() for r in rows), "staging must hold pseudonyms, not CPR"
    audit = fetch(clean, "select rows_delivered, rows_loaded, rows_quarantined from audit.delivery_files")
    assert audit == [(7, 2, 5)]


def test_rerun_loads_nothing_twice_and_later_delivery_corrects(clean: Settings):
    source = get_entity("ydelser.benefit_periods")
    write_delivery(clean, "2025-01-01", "ydelsesperioder_20250101.csv",
                   ["P1;0101801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;jobparat"])
    loading.load_entity(clean, source, date(2025, 1, 1))
    again = loading.load_entity(clean, source, date(2025, 1, 1))
    assert [f.status for f in again.files] == ["skipped"]
    # A correction the next day back-dates the end of the same period.
    write_delivery(clean, "2025-01-02", "ydelsesperioder_20250102.csv",
                   ["P1;0101801234;kontanthjaelp;15-01-2024;31-01-2024;1,00;1,00;kr. pr. måned;jobparat"])
    loading.load_entity(clean, source, date(2025, 1, 2))
    rows = fetch(clean, "select period_id, end_date, delivery_date from staging.ydelser__benefit_periods")
    assert rows == [("P1", date(2024, 1, 31), date(2025, 1, 2))]
    assert fetch(clean, "select count(*) from landing.ydelser__benefit_periods") == [(2,)]


def test_future_deliveries_wait_for_their_date(clean: Settings):
    source = get_entity("ydelser.benefit_periods")
    write_delivery(clean, "2025-02-01", "ydelsesperioder_20250201.csv",
                   ["P9;0101801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;"])
    assert loading.load_entity(clean, source, date(2025, 1, 31)).files == []


def test_changed_file_under_loaded_name_is_an_error(clean: Settings):
    source = get_entity("ydelser.benefit_periods")
    path = write_delivery(clean, "2025-01-01", "ydelsesperioder_20250101.csv",
                          ["P1;0101801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;"])
    loading.load_entity(clean, source, date(2025, 1, 1))
    path.write_bytes(path.read_bytes().replace(b"15-01-2024", b"16-01-2024"))
    with pytest.raises(loading.ChangedDelivery, match="deliveries are immutable"):
        loading.load_entity(clean, source, date(2025, 1, 1))


def test_wrong_encoding_and_missing_column_reject_the_file(clean: Settings):
    source = get_entity("ydelser.benefit_periods")
    write_delivery(clean, "2025-01-01", "ydelsesperioder_a.csv",
                   ["P1;0101801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;"], encoding="utf-16")
    folder = clean.landing_dir / "ydelser" / "2025-01-01"
    (folder / "ydelsesperioder_b.csv").write_text("Periode-id;CPR-nummer\nP1;0101801234\n", encoding="utf-8-sig")
    reordered = ";".join(reversed(HEADER.split(";")))
    (folder / "ydelsesperioder_c.csv").write_text(f"{reordered}\n;;;;;;;;\n", encoding="utf-8-sig")
    summary = loading.load_entity(clean, source, date(2025, 1, 1))
    assert [(f.status, f.rejection.split(":")[0]) for f in summary.files] == [
        ("rejected", "wrong_encoding"), ("rejected", "missing_columns"), ("rejected", "wrong_header")]
    assert fetch(clean, "select count(*) from audit.delivery_files where status = 'rejected'") == [(3,)]
    # A rejected file's rows all count as quarantined (none loaded): delivered = loaded + quarantined.
    assert fetch(clean, "select rows_delivered, rows_loaded, rows_quarantined from audit.delivery_files "
                        "where file_name like '%b.csv'") == [(1, 0, 1)]


def test_a_failure_mid_file_rolls_the_file_back(clean: Settings, monkeypatch):
    source = get_entity("ydelser.benefit_periods")
    write_delivery(clean, "2025-01-01", "ydelsesperioder_20250101.csv",
                   ["P1;0101801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;"])

    def failing_pseudonymise(self, cpr):
        raise ConnectionError("server went away mid-load")

    monkeypatch.setattr(loading.Pseudonymiser, "pseudonymise_cpr", failing_pseudonymise)
    with pytest.raises(ConnectionError):
        loading.load_entity(clean, source, date(2025, 1, 1))
    assert fetch(clean, "select count(*) from audit.delivery_files") == [(0,)]
    monkeypatch.undo()
    summary = loading.load_entity(clean, source, date(2025, 1, 1))
    assert [f.loaded for f in summary.files] == [1]


def test_purge_removes_raw_rows_after_retention_only(clean: Settings):
    from datetime import datetime, timedelta

    from helhed.maintenance import purge_landing

    source = get_entity("ydelser.benefit_periods")
    write_delivery(clean, "2025-01-01", "ydelsesperioder_old.csv", [
        "P1;0101801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;",
        "P2;3202801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;"])
    write_delivery(clean, "2025-01-01", "ydelsesperioder_new.csv", [
        "P3;0202801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;"])
    loading.load_entity(clean, source, date(2025, 1, 1))
    with psycopg.connect(clean.url("helhed")) as conn:
        conn.execute("update audit.delivery_files set loaded_at = now() - interval '31 days' "
                     "where file_name like '%old.csv'")
    counts = purge_landing(clean, days=30)
    assert counts == {"files": 1, "rows": 1, "quarantine_lines": 1}
    assert fetch(clean, "select count(*) from landing.ydelser__benefit_periods") == [(1,)]
    assert fetch(clean, "select rule, raw_line from landing.quarantine") == [("invalid_cpr", "")]
    assert fetch(clean, "select count(*) from staging.ydelser__benefit_periods") == [(3 - 1,)]
    assert purge_landing(clean, days=30)["files"] == 0   # idempotent
    assert purge_landing(clean, days=0, now=datetime.now(UTC) + timedelta(seconds=1))["rows"] == 1


def test_server_crash_mid_load_is_recovered_by_the_next_run(clean: Settings, monkeypatch):
    """PostgreSQL dies while a file is half loaded; the next run loads it fully, nothing twice."""
    from helhed import database
    from helhed.pseudonymise import Pseudonymiser

    source = get_entity("ydelser.benefit_periods")
    lines = [f"R{i};{(i % 28) + 1:02d}0180{i % 10000:04d};kontanthjaelp;01-01-2024;;1,00;1,00;kr. pr. måned;"
             for i in range(20_000)]
    write_delivery(clean, "2025-01-01", "ydelsesperioder_a.csv", lines[:8000])
    write_delivery(clean, "2025-01-01", "ydelsesperioder_b.csv", lines[8000:])
    real = Pseudonymiser.pseudonymise_cpr
    calls = {"n": 0}

    def crash_midway(self, cpr):
        calls["n"] += 1
        if calls["n"] == 8000 + 5000:       # file a is committed; file b is half parsed
            database.crash_and_restart(clean)
        return real(self, cpr)

    monkeypatch.setattr(Pseudonymiser, "pseudonymise_cpr", crash_midway)
    with pytest.raises(psycopg.OperationalError):
        loading.load_entity(clean, source, date(2025, 1, 1))
    monkeypatch.undo()
    assert fetch(clean, "select file_name from audit.delivery_files") == [("2025-01-01/ydelsesperioder_a.csv",)]
    summary = loading.load_entity(clean, source, date(2025, 1, 1))
    assert [(f.path.name, f.status) for f in summary.files] == [
        ("ydelsesperioder_a.csv", "skipped"), ("ydelsesperioder_b.csv", "loaded")]
    assert fetch(clean, "select count(*), count(distinct period_id) from staging.ydelser__benefit_periods") == [(20_000, 20_000)]
    assert fetch(clean, "select count(*) from landing.ydelser__benefit_periods") == [(20_000,)]
    assert fetch(clean, "select sum(rows_loaded) from audit.delivery_files") == [(20_000,)]


# --------------------------------------------------------------------------- set-based checks = the Python parser

#: Edge cases for the set-based checks, per entity: the Python parser (``row_rules_oracle.parse_file``
#: and ``check_row_rules``, the row-by-row loader's rules) is the oracle for every line.
EDGE_CASES = {
    "ydelser.benefit_periods": [
        " P10 ;0101801234; kontanthjaelp ;1-2-2024;  ;1.234,5;-7;kr.; jobparat ",   # padded fields, short dates
        "P11;0101801234;kontanthjaelp;29-02-2023;;1;1;x;",          # not a leap year
        "P12;0101801234;kontanthjaelp;29-02-2024;;1e2;+3.5;x;",     # leap day; exponent; sign
        "P13;0101801234;kontanthjaelp;01-13-2024;;1;1;x;",          # month 13
        "P14;0101801234;kontanthjaelp;00-01-2024;;1;1;x;",          # day 0
        "P15;0101801234;kontanthjaelp;1-1-0000;;1;1;x;",            # year 0
        "P16;0101801234;kontanthjaelp;01-01-2024;;1,2,3;1;x;",      # two decimal commas
        "P17;0101801234;kontanthjaelp;01-01-2024;;abc;1;x;",
        "P18;0101801234;kontanthjaelp;01-01-2024;;1_000,5;1;x;",    # Decimal accepts underscores
        "P19;0101801234;kontanthjaelp;01-01-2024;;.5;5.;x;",
        "P20;010180-1234;kontanthjaelp;01-01-2024;;1;1;x;",         # a dash is a damaged CPR
        "P21;3102801234;kontanthjaelp;01-01-2024;;1;1;x;",          # 31 February
        "P22;0101801234;ukendt;01-01-2024;;1;1;x;",                 # unknown benefit code
        "P23;0101801234;kontanthjaelp;01-01-2024;;1;1;x;ukendt_kat",
        "P24;;kontanthjaelp;01-01-2024;;1;1;x;",                    # missing before invalid
        "P25;0101801234;kontanthjaelp;\u00a001-01-2024\u2003;;1;1;x;",  # Unicode whitespace is stripped
        " ; ; ;;;;;;",                                              # blank: not a row
        "",
        "P26;0101801234;kontanthjaelp;01-01-2024;31-12-2023;1;1;x;",
        "P27;0101801234;kontanthjaelp;2024-01-01;;1;1;x;",          # wrong date format
        "P29;0101801234;kontanthjaelp;01-01-2024;;1;1;x;;extra",
        "P10;0202811234;kontanthjaelp;01-01-2024;;1;1;x;",          # duplicate of the padded P10
        "P31;0101801234;kontanthjaelp;1-1-2024;;-0,5;1.000;x;",     # no comma: the dot is the decimal point
        "P32;0101801234;Kontanthjaelp;01-01-2024;;1;1;x;",          # codes are case-sensitive
        "P33;0101801234;kontanthjaelp;01-01-2024;;1;1;kr\\dag\t2;",  # backslash and tab survive COPY
        "P34;2902001234;kontanthjaelp;01-01-2024;;1;1;x;",          # 29-02-1900 does not exist
        "P35;2902001234;kontanthjaelp;01-01-2024;;;;;",             # (7th digit 1: 1900s)
        "P36;2902004234;kontanthjaelp;01-01-2024;;;;;",             # 7th digit 4: 2000, a leap year
        "P37;0101801234;kontanthjaelp;1-1-2024;;0012,50;1;;",
    ],
    "cpr.persons": [
        "0101801234;1980-1-1;M;8900;C;1980-01-01;;",
        "0202801234;1980-02-30;K;8900;C;;;",
        "0303801234;1980-03-03;K;8900;C;1990-01-01;1985-01-01;",    # moved out before moving in
        "0404801234;80-04-04;K;8900;C;;;",
        "0505801234;1980-05-05;;8900;C;;;",                         # sex is required
        "0606801234;1980-06-06;K; 8900 ;C;2000-12-31;2001-1-1;2001-01-01",
    ],
    # Quotes send a file through csv in Python (quoted delimiters and line breaks).
    "helhed.survey": [
        'F1;01-02-2024;"Ja";3;4',
        'F2;01-02-2024;"J;a";3;4',
        'F3;01-02-2024;"multi\r\nline";3;4',
        'F4;01-02-2024;"Ja ""x""";3;x',
        'F1;01-02-2024;Nej;1;1',
        'F5;32-01-2024;Ja;1;1',
    ],
}


def _expected(entity, path: Path, pseudo) -> tuple[list[tuple], list[tuple]]:
    """Quarantine rows and staging rows as the row-by-row loader produced them."""
    from decimal import ROUND_HALF_UP, Decimal

    import row_rules_oracle

    from helhed import parsing

    rules = parsing.entity_rules(entity)
    keys = [entity.staging_columns.index(k) for k in entity.key]
    good: dict[object, list[object]] = {}
    bad = []
    for row in row_rules_oracle.parse_file(path, entity):
        if isinstance(row, row_rules_oracle.BadRow):
            bad.append((row.line_no, row.rule, row.detail, row.raw_line))
            continue
        problem = row_rules_oracle.check_row_rules(entity, row, rules)
        if problem:
            bad.append((problem.line_no, problem.rule, problem.detail, problem.raw_line))
            continue
        values = [pseudo.pseudonymise_cpr(v) if c.type == "cpr" and v is not None else
                  v.quantize(Decimal("0.01"), ROUND_HALF_UP) if isinstance(v, Decimal) else v
                  for c, v in zip(entity.columns, row.values)]
        key = tuple(values[i] for i in keys) if keys else row.line_no
        if key in good:
            bad.append((row.line_no, "duplicate_key", f"{list(entity.key)} repeats an earlier line of this file",
                        entity.delimiter.join(row.raw_values)))
            continue
        good[key] = values
    return sorted(bad), sorted((tuple(v) for v in good.values()), key=repr)


#: (entity, lines, the temp table the file goes through): COPY splits a file into columns unless a
#: line has another number of fields (then lines, split in SQL) or it has quotes (csv in Python).
EDGE_RUNS = [
    ("ydelser.benefit_periods", EDGE_CASES["ydelser.benefit_periods"], "lines"),
    ("ydelser.benefit_periods", [x for x in EDGE_CASES["ydelser.benefit_periods"] if x.count(";") == 8], "columns"),
    ("cpr.persons", EDGE_CASES["cpr.persons"], "columns"),
    ("cpr.persons", [x for x in EDGE_CASES["cpr.persons"] if " " not in x], "columns"),   # nothing to trim
    ("helhed.survey", EDGE_CASES["helhed.survey"], "lines"),
]


def _drop_entity(s: Settings, entity) -> None:
    import shutil

    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        for table in (f"staging.{entity.table}", f"landing.{entity.table}", "landing.quarantine", "audit.delivery_files"):
            conn.execute(f"drop table if exists {table} cascade")
    shutil.rmtree(s.landing_dir / entity.source, ignore_errors=True)


@pytest.mark.parametrize("entity_id, lines, source", EDGE_RUNS, ids=[f"{e}-{s}-{i}" for i, (e, _, s) in enumerate(EDGE_RUNS)])
def test_set_based_checks_match_the_python_parser(pg: Settings, entity_id: str, lines: list[str], source: str,
                                                  monkeypatch, request):
    from helhed.pseudonymise import Pseudonymiser

    copied = []
    real_copy = loading._copy_file
    monkeypatch.setattr(loading, "_copy_file", lambda *a: copied.append(real_copy(*a)) or copied[-1])
    entity = get_entity(entity_id)
    _drop_entity(pg, entity)
    request.addfinalizer(lambda: _drop_entity(pg, entity))   # leave nothing for other tests' file ids to hit
    folder = pg.landing_dir / entity.source / "2025-01-01"
    folder.mkdir(parents=True)
    path = folder / entity.file_glob.replace("*", "edge")
    path.write_bytes((";".join(entity.headers) + "\r\n" + "\r\n".join(lines) + "\r\n").encode(entity.encoding))

    (f,) = loading.load_entity(pg, entity, date(2025, 1, 1)).files
    assert copied == [source]
    bad, good = _expected(entity, path, Pseudonymiser.from_secrets(pg.secrets))
    assert fetch(pg, "select line_no, rule, detail, raw_line from landing.quarantine order by 1") == bad
    staging = fetch(pg, f"select {', '.join(entity.staging_columns)} from staging.{entity.table}")
    assert sorted(staging, key=repr) == good
    assert (f.delivered, f.loaded, f.quarantined) == (len(good) + len(bad), len(good), len(bad))
    assert fetch(pg, f"select count(*) from landing.{entity.table}") == [(len(good),)]


def test_values_the_staging_types_cannot_hold_are_quarantined(clean: Settings):
    """Deliberately stricter than the row-by-row loader, which crashed on these or stored NaN."""
    source = get_entity("ydelser.benefit_periods")
    write_delivery(clean, "2025-01-01", "ydelsesperioder_20250101.csv", [
        "P1;0101801234;kontanthjaelp;01-01-2024;;12345678901234;1;x;",   # > numeric(14,2)
        "P2;0101801234;kontanthjaelp;01-01-2024;;NaN;1;x;",
        "P3;0101801234;kontanthjaelp;01-01-2024;;Infinity;1;x;",
        "P4;0101801234;kontanthjaelp;01-01-2024;;1;1;x;",
    ])
    (f,) = loading.load_entity(clean, source, date(2025, 1, 1)).files
    assert (f.loaded, f.quarantined) == (1, 3)
    assert fetch(clean, "select line_no, rule from landing.quarantine order by 1") == [
        (2, "invalid_decimal"), (3, "invalid_decimal"), (4, "invalid_decimal")]


def test_the_file_is_streamed_and_temp_tables_do_not_outlive_the_load(clean: Settings):
    """Raw CPR numbers sit in temp tables during a load only; they are dropped with the transaction."""
    source = get_entity("ydelser.benefit_periods")
    write_delivery(clean, "2025-01-01", "ydelsesperioder_20250101.csv",
                   ["P1;0101801234;kontanthjaelp;01-01-2024;;1;1;x;"])
    with psycopg.connect(clean.url("helhed")) as conn:
        pseudo = loading.Pseudonymiser.from_secrets(clean.secrets)
        with conn.transaction():
            loading.ensure_tables(conn, source)
            loading.load_file(conn, source, date(2025, 1, 1),
                              clean.landing_dir / "ydelser" / "2025-01-01" / "ydelsesperioder_20250101.csv", pseudo)
        temp = conn.execute("select count(*) from pg_class where relpersistence = 't' and relname like 'load\\_%'").fetchone()
    assert temp == (0,)


@pytest.mark.parametrize("chunk", [1 << 20, 3])
@pytest.mark.parametrize("body, padded", [
    ("a;b\r\nc;d\r\n", False),
    ("a;b c\r\nc;d\r\n", False),          # a space inside a field pads nothing
    ("a; b\r\nc;d\r\n", True),
    ("a;b \r\nc;d\r\n", True),
    ("a;b\r\n\u00a0c;d\r\n", True),
    ("a;b\r\nc\t;d\r\n", True),
    ("a;b\nc;d \n", True),
])
def test_scan_notices_whitespace_that_pads_a_field(tmp_path: Path, monkeypatch, chunk: int, body: str, padded: bool):
    from helhed import parsing

    monkeypatch.setattr(parsing, "CHUNK", chunk)    # small chunks put every pair on a seam
    entity = get_entity("sundhed.cofinancing")
    path = tmp_path / "f.csv"
    path.write_bytes((";".join(entity.headers) + "\r\n" + body).encode("utf-8-sig"))
    scan = parsing.scan_file(path, entity)
    assert (scan.rejection, scan.padded, scan.plain) == (None, padded, True)
    assert scan.sha256 == loading.sha256_of(path)


def test_a_key_twice_in_a_correction_file_keeps_the_first_line(clean: Settings):
    source = get_entity("ydelser.benefit_periods")
    write_delivery(clean, "2025-01-01", "ydelsesperioder_20250101.csv",
                   ["P1;0101801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;",
                    "P2;0202811234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;"])
    loading.load_entity(clean, source, date(2025, 1, 1))
    write_delivery(clean, "2025-01-02", "ydelsesperioder_20250102.csv",
                   ["P1;0101801234;kontanthjaelp;15-01-2024;31-01-2024;1,00;1,00;kr. pr. måned;",
                    "P1;0101801234;kontanthjaelp;15-01-2024;29-02-2024;1,00;1,00;kr. pr. måned;"])
    skipped, f = loading.load_entity(clean, source, date(2025, 1, 2)).files
    assert skipped.status == "skipped" and (f.delivered, f.loaded, f.quarantined) == (2, 1, 1)
    assert fetch(clean, "select period_id, end_date from staging.ydelser__benefit_periods order by 1") == [
        ("P1", date(2024, 1, 31)), ("P2", None)]
    assert fetch(clean, "select line_no, rule from landing.quarantine") == [(3, "duplicate_key")]


@pytest.mark.parametrize("rotations", [(), ("a-rotation-key-0123456789",), ("k" * 100, "another-rotation-key-xyz")])
def test_pseudonyms_are_hmac_sha256_key_by_key(rotations: tuple[str, ...]):
    """The loader's fast HMAC (precomputed key states) gives exactly hmac.new's pseudonyms."""
    import hashlib
    import hmac

    from helhed.pseudonymise import Pseudonymiser

    key = "the-first-pseudonym-key-0123"
    pseudo = Pseudonymiser(key, rotations)
    for cpr in ("0101801234", "3112999999", "010180-1234"):
        expected = hmac.new(key.encode(), cpr.replace("-", "").encode(), hashlib.sha256).hexdigest()
        for rotation in rotations:
            expected = hmac.new(rotation.encode(), expected.encode(), hashlib.sha256).hexdigest()
        assert pseudo.pseudonymise_cpr(cpr) == expected


def test_a_quiet_nights_empty_file_is_a_delivery_and_a_copy_with_rows_a_duplicate(clean: Settings):
    """Two quiet nights deliver byte-identical header-only files: both are deliveries (the second moves
    the as-of date), while the same rows again under another name are rejected as a duplicate."""
    source = get_entity("ydelser.benefit_periods")
    row = "P1;0101801234;kontanthjaelp;15-01-2024;;1,00;1,00;kr. pr. måned;jobparat"
    write_delivery(clean, "2025-01-30", "ydelsesperioder_20250130.csv", [row])
    write_delivery(clean, "2025-01-31", "ydelsesperioder_20250131.csv", [])
    write_delivery(clean, "2025-02-01", "ydelsesperioder_20250201.csv", [])
    write_delivery(clean, "2025-02-01", "ydelsesperioder_20250201_kopi.csv", [row])
    loading.load_entity(clean, source, date(2025, 2, 1))
    files = fetch(clean, "select file_name, status, rows_delivered, split_part(coalesce(rejection, ''), ':', 1)"
                         " from audit.delivery_files order by file_id")
    assert files == [
        ("2025-01-30/ydelsesperioder_20250130.csv", "loaded", 1, ""),
        ("2025-01-31/ydelsesperioder_20250131.csv", "loaded", 0, ""),
        ("2025-02-01/ydelsesperioder_20250201.csv", "loaded", 0, ""),
        ("2025-02-01/ydelsesperioder_20250201_kopi.csv", "rejected", 1, "duplicate_file"),
    ]
