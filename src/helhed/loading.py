"""Load delivery files into ``landing`` (raw) and ``staging`` (typed, pseudonymised).

Each file is loaded in one transaction: register it in ``audit.delivery_files``, COPY its raw
rows into ``landing``, its bad rows into ``landing.quarantine`` (they hold raw CPR), and its pseudonymised typed rows
into ``staging`` (replacing earlier versions of the same key, so later deliveries and
corrections win). A crash or a server restart mid-file rolls the whole file back and the next
run loads it again: nothing is lost and nothing is loaded twice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from helhed.config import Settings
from helhed.keys import check_chain
from helhed.parsing import BadRow, FileRejected, ParsedRow, check_row_rules, parse_file
from helhed.pseudonymise import Pseudonymiser
from helhed.sources import SQL_TYPES, Source

log = logging.getLogger(__name__)

AUDIT_DDL = """
create schema if not exists audit;
create schema if not exists landing;
create table if not exists audit.delivery_files (
    file_id          bigserial primary key,
    source           text not null,
    delivery_date    date not null,
    file_name        text not null,
    path             text not null,
    size_bytes       bigint not null,
    sha256           text not null,
    status           text not null check (status in ('loaded', 'rejected')),
    rows_delivered   integer not null default 0,
    rows_loaded      integer not null default 0,
    rows_quarantined integer not null default 0,
    rejection        text,
    loaded_at        timestamptz not null default now(),
    purged_at        timestamptz,          -- raw rows deleted from landing (helhed.maintenance)
    unique (source, file_name)
);
-- Quarantined lines keep the raw line (with raw CPR), so they live in landing, not audit.
create table if not exists landing.quarantine (
    file_id   bigint not null references audit.delivery_files(file_id),
    line_no   integer not null,
    rule      text not null,
    detail    text not null,
    raw_line  text not null,
    primary key (file_id, line_no)
);
"""


class ChangedDelivery(Exception):
    """A file with an already-loaded name arrived with different content."""


@dataclass
class FileSummary:
    source: str
    path: Path
    status: str                      # loaded | rejected | skipped
    delivered: int = 0
    loaded: int = 0
    quarantined: int = 0
    rejection: str | None = None


@dataclass
class SourceSummary:
    source: str
    files: list[FileSummary] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_tables(conn: psycopg.Connection, source: Source) -> None:
    """Create the audit tables and the source's landing and staging tables if missing."""
    conn.execute(AUDIT_DDL)
    landing_cols = [sql.SQL("{} text").format(sql.Identifier(c.name)) for c in source.columns]
    conn.execute(sql.SQL(
        "create table if not exists landing.{} (file_id bigint not null, line_no integer not null, {}, "
        "primary key (file_id, line_no))"
    ).format(sql.Identifier(source.table), sql.SQL(", ").join(landing_cols)))
    staging_cols = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.staging_name), sql.SQL(SQL_TYPES[c.type]), sql.SQL(" not null") if c.required else sql.SQL("")
        )
        for c in source.columns
    ]
    conn.execute(sql.SQL(
        "create table if not exists staging.{} ({}, delivery_date date not null, source_file text not null, "
        "primary key ({}))"
    ).format(sql.Identifier(source.table), sql.SQL(", ").join(staging_cols), sql.Identifier(source.key)))


def delivery_files(s: Settings, source: Source, up_to: date) -> list[tuple[date, Path]]:
    """Files delivered for ``source`` in folders dated on or before ``up_to``, oldest first."""
    root = s.landing_dir / source.name
    found: list[tuple[date, Path]] = []
    if not root.exists():
        return found
    for folder in sorted(root.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if day <= up_to:
            found.extend((day, p) for p in sorted(folder.glob(source.file_glob)))
    return found


def _already_loaded(conn: psycopg.Connection, source: Source, path: Path, sha: str) -> bool:
    row = conn.execute(
        "select sha256 from audit.delivery_files where source = %s and file_name = %s",
        (source.name, f"{path.parent.name}/{path.name}"),
    ).fetchone()
    if row is None:
        return False
    if row[0] != sha:
        raise ChangedDelivery(
            f"{path}: a file with this name was loaded before with SHA-256 {row[0][:12]}…, "
            f"now it is {sha[:12]}…; deliveries are immutable, send corrections as a new file"
        )
    return True


def load_file(conn: psycopg.Connection, source: Source, day: date, path: Path, pseudo: Pseudonymiser) -> FileSummary:
    """Load one file in the caller's transaction."""
    sha = sha256_of(path)
    if _already_loaded(conn, source, path, sha):
        return FileSummary(source.name, path, "skipped")
    file_name = f"{path.parent.name}/{path.name}"
    file_id = conn.execute(
        "insert into audit.delivery_files (source, delivery_date, file_name, path, size_bytes, sha256, status) "
        "values (%s, %s, %s, %s, %s, %s, 'loaded') returning file_id",
        (source.name, day, file_name, str(path), path.stat().st_size, sha),
    ).fetchone()[0]
    summary = FileSummary(source.name, path, "loaded")
    try:
        rows = list(parse_file(path, source))
    except FileRejected as exc:
        conn.execute(
            "update audit.delivery_files set status = 'rejected', rejection = %s where file_id = %s",
            (f"{exc.rule}: {exc.detail}", file_id),
        )
        log.warning("rejected %s", exc)
        summary.status, summary.rejection = "rejected", f"{exc.rule}: {exc.detail}"
        return summary

    key_index = source.staging_columns.index(source.key)
    cpr_positions = [i for i, c in enumerate(source.columns) if c.type == "cpr"]
    good: dict[str, list[object]] = {}
    bad: list[BadRow] = []
    landing_rows: list[list[object]] = []
    for row in rows:
        if isinstance(row, ParsedRow):
            problem = check_row_rules(source, row)
            if problem:
                bad.append(problem)
                continue
            values = list(row.values)
            for pos in cpr_positions:
                values[pos] = pseudo.pseudonymise_cpr(values[pos])
            key = values[key_index]
            if key in good:
                bad.append(BadRow(row.line_no, "duplicate_key", f"{source.key} repeats an earlier line of this file",
                                  source.delimiter.join(row.raw_values)))
                continue
            good[key] = values
            landing_rows.append([file_id, row.line_no, *row.raw_values])
        else:
            bad.append(row)
    summary.delivered = len(rows)
    summary.loaded = len(good)
    summary.quarantined = len(bad)

    landing_cols = sql.SQL(", ").join(sql.Identifier(n) for n in ["file_id", "line_no", *[c.name for c in source.columns]])
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("copy landing.{} ({}) from stdin").format(sql.Identifier(source.table), landing_cols)) as copy:
            for r in landing_rows:
                copy.write_row(r)
        with cur.copy("copy landing.quarantine (file_id, line_no, rule, detail, raw_line) from stdin") as copy:
            for b in bad:
                copy.write_row((file_id, b.line_no, b.rule, b.detail, b.raw_line))
        tmp = sql.Identifier(f"incoming_{source.table}")
        cur.execute(sql.SQL("create temp table {} (like staging.{}) on commit drop").format(tmp, sql.Identifier(source.table)))
        staging_cols = sql.SQL(", ").join(sql.Identifier(n) for n in [*source.staging_columns, "delivery_date", "source_file"])
        with cur.copy(sql.SQL("copy {} ({}) from stdin").format(tmp, staging_cols)) as copy:
            for values in good.values():
                copy.write_row([*values, day, file_name])
        key = sql.Identifier(source.key)
        cur.execute(sql.SQL("delete from staging.{t} s using {tmp} i where s.{k} = i.{k}").format(
            t=sql.Identifier(source.table), tmp=tmp, k=key))
        cur.execute(sql.SQL("insert into staging.{} select * from {}").format(sql.Identifier(source.table), tmp))
        cur.execute(sql.SQL("drop table {}").format(tmp))
    conn.execute(
        "update audit.delivery_files set rows_delivered = %s, rows_loaded = %s, rows_quarantined = %s where file_id = %s",
        (summary.delivered, summary.loaded, summary.quarantined, file_id),
    )
    return summary


def load_source(s: Settings, source: Source, up_to: date) -> SourceSummary:
    """Load every new delivery of ``source`` dated on or before ``up_to``, one transaction per file."""
    pseudo = Pseudonymiser.from_secrets(s.secrets)
    summary = SourceSummary(source.name)
    with psycopg.connect(s.url("helhed")) as conn:
        with conn.transaction():
            ensure_tables(conn, source)
            check_chain(conn, pseudo)
        for day, path in delivery_files(s, source, up_to):
            with conn.transaction():
                result = load_file(conn, source, day, path, pseudo)
            if result.status != "skipped":
                log.info("%s %s: %d loaded, %d quarantined", result.status, path, result.loaded, result.quarantined)
            summary.files.append(result)
    return summary
