"""Ingestion of the jobcenter's conversations and offers, nights and out-of-order corrections included.

A municipality of 2,500 residents with two years of history and three nightly increments is
generated (the CPR extract, benefits, Sensum and the jobcenter's files), and the jobcenter's
deliveries are loaded with ``helhed.loading`` into a database of its own, night by night. Then
two files come late into the first night's folder, after the third night was loaded:

- a *stale* version of an offer (as the initial delivery showed it, running) that a later night
  ended: the newer delivery must win, whatever the load order;
- a *correction* of a conversation the initial delivery showed as held: found to be a no-show,
  its status must change, and the loader must record the date from which months changed.

Every file loads without quarantine, delivered = loaded + quarantined, staging holds one row per
natural key (the conversation's and the offer's id) equal to the newest version in the files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from helhed import loading
from helhed.config import Settings
from helhed.generator import generate
from helhed.sources import get_entity

pytestmark = pytest.mark.slow

DATABASE = "helhed_jobcenter"
END = date(2025, 12, 31)
NIGHTS = 3
ENTITIES = ("jobcenter.conversations", "jobcenter.offers")
LATE_FOLDER = END + timedelta(days=1)
STALE_FILE, CORRECTION_FILE = "tilbud_20260101_efterlevering.csv", "samtaler_20260101_korrektion.csv"


@dataclass(frozen=True)
class JobcenterSettings(Settings):
    """Settings whose warehouse is ``DATABASE``: this module never touches other tests' tables."""

    database: str = DATABASE

    def url(self, database: str = "helhed", **kwargs) -> str:  # type: ignore[override]
        return super().url(self.database if database == "helhed" else database, **kwargs)

    def libpq_env(self, database: str = "helhed") -> dict[str, str]:
        return super().libpq_env(self.database if database == "helhed" else database)


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    header, *rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""), delimiter=";"))
    return header, rows


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows([header, *rows])
    path.write_bytes(out.getvalue().encode("utf-8-sig"))


def files_of(s: Settings, stem: str) -> list[Path]:
    """Every delivered file of a kind, oldest delivery first (folder date, then name)."""
    return sorted((s.landing_dir / "jobcenter").glob(f"*/{stem}_*.csv"), key=lambda p: (p.parent.name, p.name))


@dataclass
class Loaded:
    settings: JobcenterSettings
    manifest: dict
    stale_offer: str
    corrected_conversation: str
    summaries: list[loading.EntitySummary]

    def rows(self, query: str | sql.Composable, *params) -> list[tuple]:
        with psycopg.connect(self.settings.url(), autocommit=True) as conn:
            return conn.execute(query, params or None).fetchall()


@pytest.fixture(scope="module")
def loaded(pg: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    data_dir = tmp_path_factory.mktemp("jobcenter")
    s = JobcenterSettings(home=pg.home, data_dir=data_dir, pg_host=pg.pg_host, pg_port=pg.pg_port, pg_superuser=pg.pg_superuser)
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(s.url(), autocommit=True) as conn:
        for schema in ("landing", "audit", "staging"):
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    manifest = generate(profile="randers", residents=2500, years=2, seed=5, out=data_dir, end_date=END, daily_increments=NIGHTS,
                        show_progress=False, sources=["cpr", "ydelser", "sensum", "jobcenter"])
    summaries = []
    for night in range(NIGHTS + 1):
        for entity_id in ENTITIES:
            summaries.append(loading.load_entity(s, get_entity(entity_id), END + timedelta(days=night)))

    # A stale version of an offer a later night ended, and a correction of a held conversation,
    # both in the first night's folder, loaded after the third night.
    header, initial = read_rows(files_of(s, "tilbud")[0])
    later = {r[0]: r for p in files_of(s, "tilbud")[2:] for r in read_rows(p)[1]}
    stale = next(r for r in initial if r[0] in later and r[header.index("Status")] == "Aktiv")
    write_rows(s.landing_dir / "jobcenter" / LATE_FOLDER.isoformat() / STALE_FILE, header, [stale])
    c_header, c_initial = read_rows(files_of(s, "samtaler")[0])
    c_later = {r[0] for p in files_of(s, "samtaler")[1:] for r in read_rows(p)[1]}
    status = c_header.index("Status")
    held = next(r for r in reversed(c_initial) if r[status] == "Afholdt" and r[0] not in c_later)
    write_rows(s.landing_dir / "jobcenter" / LATE_FOLDER.isoformat() / CORRECTION_FILE, c_header,
               [[*held[:status], "Udeblevet", *held[status + 1:]]])
    for entity_id in ENTITIES:
        summaries.append(loading.load_entity(s, get_entity(entity_id), END + timedelta(days=NIGHTS)))
    yield Loaded(s, manifest, stale[0], held[0], summaries)
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))


def test_every_delivery_loads_without_quarantine(loaded: Loaded) -> None:
    files = loaded.rows("select entity, file_name, status, rows_delivered, rows_loaded, rows_quarantined from audit.delivery_files")
    assert len(files) == 2 * (NIGHTS + 1) + 2
    for entity, name, status, delivered, rows_loaded, quarantined in files:
        assert entity in ENTITIES and status == "loaded", name
        assert delivered == rows_loaded + quarantined and quarantined == 0, name
    assert loaded.rows("select count(*) from landing.quarantine")[0][0] == 0
    nightly = [f for f in files if f[1] > END.isoformat() and f[3] > 0]
    assert {f[0] for f in nightly} == set(ENTITIES), "the nights deliver conversations and offers"


@pytest.mark.parametrize(("entity", "stem", "table", "key"), [
    ("jobcenter.conversations", "samtaler", "jobcenter__conversations", "conversation_id"),
    ("jobcenter.offers", "tilbud", "jobcenter__offers", "offer_id"),
])
def test_staging_holds_the_newest_version_of_every_key(loaded: Loaded, entity: str, stem: str, table: str, key: str) -> None:
    """An independent reading of the files: the row of the newest delivery (folder date, then file name)
    of each id is the one in staging, pseudonymised, with its delivery's date."""
    newest: dict[str, tuple[str, list[str]]] = {}
    for path in files_of(loaded.settings, stem):
        for row in read_rows(path)[1]:
            newest[row[0]] = (path.parent.name, row)
    columns = [c.staging_name for c in get_entity(entity).columns]
    staged = {r[0]: r for r in loaded.rows(
        sql.SQL("select {}, delivery_date::text, source_file from staging.{}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(table)))}
    assert set(staged) == set(newest)
    status_i = columns.index("status")
    for key_value, (folder_date, row) in newest.items():
        got = staged[key_value]
        assert got[-2] == folder_date, key_value
        assert got[status_i] == row[status_i], key_value
        assert len(got[1]) == 64 and got[1] != row[1], "person_key is a pseudonym, never the CPR number"
    (keys, distinct) = loaded.rows(sql.SQL("select count(*), count(distinct {}) from staging.{}").format(
        sql.Identifier(key), sql.Identifier(table)))[0]
    assert keys == distinct == len(newest)


def test_a_stale_version_loaded_late_does_not_win(loaded: Loaded) -> None:
    (status, end_date, source_file) = loaded.rows(
        "select status, end_date, source_file from staging.jobcenter__offers where offer_id = %s", loaded.stale_offer)[0]
    assert status in {"Afsluttet", "Afbrudt"} and end_date is not None and STALE_FILE not in source_file
    (superseded,) = loaded.rows("select rows_superseded from audit.delivery_files where file_name like %s", f"%{STALE_FILE}")[0]
    assert superseded == 1


def test_a_late_correction_of_a_status_applies_and_marks_its_months(loaded: Loaded) -> None:
    (status, day, source_file) = loaded.rows(
        "select status, conversation_date, source_file from staging.jobcenter__conversations where conversation_id = %s",
        loaded.corrected_conversation)[0]
    assert status == "Udeblevet" and source_file.endswith(CORRECTION_FILE)
    (changed_from,) = loaded.rows("select changed_from from audit.delivery_files where file_name like %s", f"%{CORRECTION_FILE}")[0]
    assert changed_from == day, "a changed status reaches back to the conversation's date (the months to recompute)"
    assert len(loaded.rows("select 1 from landing.jobcenter__conversations where conversation_id = %s",
                           loaded.corrected_conversation)) == 2, "landing keeps every version"
