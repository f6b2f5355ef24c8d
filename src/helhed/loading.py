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
from helhed.parsing import BadRow, EntityRules, FileRejected, ParsedRow, check_row_rules, count_data_lines, entity_rules, parse_file
from helhed.pseudonymise import Pseudonymiser
from helhed.sources import SQL_TYPES, Entity

log = logging.getLogger(__name__)

AUDIT_DDL = """
create schema if not exists audit;
create schema if not exists landing;
create table if not exists audit.delivery_files (
    file_id          bigserial primary key,
    source           text not null,
    entity           text not null,
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


class DuplicateDelivery(Exception):
    """The same bytes were delivered before under another name."""


@dataclass
class FileSummary:
    entity: str
    path: Path
    status: str                      # loaded | rejected | skipped
    delivered: int = 0
    loaded: int = 0
    quarantined: int = 0
    rejection: str | None = None


@dataclass
class EntitySummary:
    entity: str
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


def ensure_tables(conn: psycopg.Connection, entity: Entity) -> None:
    """Create the audit tables and the entity's landing and staging tables if missing."""
    conn.execute(AUDIT_DDL)
    landing_cols = [sql.SQL("{} text").format(sql.Identifier(c.name)) for c in entity.columns]
    conn.execute(sql.SQL(
        "create table if not exists landing.{} (file_id bigint not null, line_no integer not null, {}, "
        "primary key (file_id, line_no))"
    ).format(sql.Identifier(entity.table), sql.SQL(", ").join(landing_cols)))
    staging_cols = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.staging_name), sql.SQL(SQL_TYPES[c.type]), sql.SQL(" not null") if c.required else sql.SQL("")
        )
        for c in entity.columns
    ]
    key = (sql.SQL(", primary key ({})").format(sql.SQL(", ").join(map(sql.Identifier, entity.key)))
           if entity.key else sql.SQL(""))
    conn.execute(sql.SQL(
        "create table if not exists staging.{} ({}, delivery_date date not null, source_file text not null{})"
    ).format(sql.Identifier(entity.table), sql.SQL(", ").join(staging_cols), key))


def delivery_files(s: Settings, entity: Entity, up_to: date) -> list[tuple[date, Path]]:
    """Files delivered for ``entity`` in folders dated on or before ``up_to``, oldest first."""
    root = s.landing_dir / entity.source
    found: list[tuple[date, Path]] = []
    if not root.exists():
        return found
    for folder in sorted(root.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if day <= up_to:
            found.extend((day, p) for p in sorted(folder.glob(entity.file_glob)))
    return found


def _already_loaded(conn: psycopg.Connection, entity: Entity, path: Path, sha: str) -> bool:
    file_name = f"{path.parent.name}/{path.name}"
    row = conn.execute(
        "select sha256 from audit.delivery_files where source = %s and file_name = %s", (entity.source, file_name),
    ).fetchone()
    if row is not None:
        if row[0] != sha:
            raise ChangedDelivery(
                f"{path}: a file with this name was loaded before with SHA-256 {row[0][:12]}…, "
                f"now it is {sha[:12]}…; deliveries are immutable, send corrections as a new file"
            )
        return True
    return False


def _same_bytes_as(conn: psycopg.Connection, entity: Entity, sha: str) -> str | None:
    row = conn.execute(
        "select file_name from audit.delivery_files where entity = %s and sha256 = %s and status = 'loaded' limit 1",
        (entity.id, sha),
    ).fetchone()
    return row[0] if row else None


def load_file(conn: psycopg.Connection, entity: Entity, day: date, path: Path, pseudo: Pseudonymiser,
              rules: EntityRules | None = None) -> FileSummary:
    """Load one file in the caller's transaction.

    A rejected file is registered with its reason; all its rows count as quarantined (none is
    loaded), so that for every file delivered = loaded + quarantined.
    """
    rules = rules if rules is not None else entity_rules(entity)
    sha = sha256_of(path)
    if _already_loaded(conn, entity, path, sha):
        return FileSummary(entity.id, path, "skipped")
    file_name = f"{path.parent.name}/{path.name}"
    earlier = _same_bytes_as(conn, entity, sha)   # before this file is registered
    file_id = conn.execute(
        "insert into audit.delivery_files (source, entity, delivery_date, file_name, path, size_bytes, sha256, status) "
        "values (%s, %s, %s, %s, %s, %s, %s, 'loaded') returning file_id",
        (entity.source, entity.id, day, file_name, str(path), path.stat().st_size, sha),
    ).fetchone()[0]
    summary = FileSummary(entity.id, path, "loaded")
    try:
        if earlier:
            raise FileRejected(path, "duplicate_file", f"the same bytes were loaded before as {earlier}")
        rows = list(parse_file(path, entity))
    except FileRejected as exc:
        lines = count_data_lines(path)
        conn.execute(
            "update audit.delivery_files set status = 'rejected', rejection = %s, rows_delivered = %s, "
            "rows_loaded = 0, rows_quarantined = %s where file_id = %s",
            (f"{exc.rule}: {exc.detail}", lines, lines, file_id),
        )
        log.warning("rejected %s", exc)
        summary.status, summary.rejection = "rejected", f"{exc.rule}: {exc.detail}"
        summary.delivered = summary.quarantined = lines
        return summary

    key_positions = [entity.staging_columns.index(k) for k in entity.key]
    cpr_positions = [i for i, c in enumerate(entity.columns) if c.type == "cpr"]
    good: dict[object, list[object]] = {}
    bad: list[BadRow] = []
    landing_rows: list[list[object]] = []
    for row in rows:
        if isinstance(row, ParsedRow):
            problem = check_row_rules(entity, row, rules)
            if problem:
                bad.append(problem)
                continue
            values = list(row.values)
            for pos in cpr_positions:
                if values[pos] is not None:      # an optional CPR (a posting without recipient)
                    values[pos] = pseudo.pseudonymise_cpr(values[pos])
            # Append-only entities key rows by line: every line is its own event.
            key = tuple(values[i] for i in key_positions) if key_positions else row.line_no
            if key in good:
                bad.append(BadRow(row.line_no, "duplicate_key", f"{list(entity.key)} repeats an earlier line of this file",
                                  entity.delimiter.join(row.raw_values)))
                continue
            good[key] = values
            landing_rows.append([file_id, row.line_no, *row.raw_values])
        else:
            bad.append(row)
    summary.delivered = len(rows)
    summary.loaded = len(good)
    summary.quarantined = len(bad)

    landing_cols = sql.SQL(", ").join(sql.Identifier(n) for n in ["file_id", "line_no", *[c.name for c in entity.columns]])
    table = sql.Identifier(entity.table)
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("copy landing.{} ({}) from stdin").format(table, landing_cols)) as copy:
            for r in landing_rows:
                copy.write_row(r)
        with cur.copy("copy landing.quarantine (file_id, line_no, rule, detail, raw_line) from stdin") as copy:
            for b in bad:
                copy.write_row((file_id, b.line_no, b.rule, b.detail, b.raw_line))
        staging_cols = sql.SQL(", ").join(sql.Identifier(n) for n in [*entity.staging_columns, "delivery_date", "source_file"])
        if not entity.key:   # append-only: the file-level checks above already keep it from loading twice
            with cur.copy(sql.SQL("copy staging.{} ({}) from stdin").format(table, staging_cols)) as copy:
                for values in good.values():
                    copy.write_row([*values, day, file_name])
        else:                # keyed: a later delivery of the same key replaces the row (corrections)
            tmp = sql.Identifier(f"incoming_{entity.table}")
            cur.execute(sql.SQL("create temp table {} (like staging.{}) on commit drop").format(tmp, table))
            with cur.copy(sql.SQL("copy {} ({}) from stdin").format(tmp, staging_cols)) as copy:
                for values in good.values():
                    copy.write_row([*values, day, file_name])
            match = sql.SQL(" and ").join(sql.SQL("s.{k} = i.{k}").format(k=sql.Identifier(k)) for k in entity.key)
            cur.execute(sql.SQL("delete from staging.{} s using {} i where {}").format(table, tmp, match))
            cur.execute(sql.SQL("insert into staging.{} select * from {}").format(table, tmp))
            cur.execute(sql.SQL("drop table {}").format(tmp))
    conn.execute(
        "update audit.delivery_files set rows_delivered = %s, rows_loaded = %s, rows_quarantined = %s where file_id = %s",
        (summary.delivered, summary.loaded, summary.quarantined, file_id),
    )
    return summary


def load_entity(s: Settings, entity: Entity, up_to: date) -> EntitySummary:
    """Load every new delivery of ``entity`` dated on or before ``up_to``, one transaction per file."""
    pseudo = Pseudonymiser.from_secrets(s.secrets)
    rules = entity_rules(entity)
    summary = EntitySummary(entity.id)
    with psycopg.connect(s.url("helhed")) as conn:
        with conn.transaction():
            ensure_tables(conn, entity)
            check_chain(conn, pseudo)
        for day, path in delivery_files(s, entity, up_to):
            with conn.transaction():
                result = load_file(conn, entity, day, path, pseudo, rules)
            if result.status != "skipped":
                log.info("%s %s: %d loaded, %d quarantined", result.status, path, result.loaded, result.quarantined)
            summary.files.append(result)
    return summary


def ensure_all_tables(s: Settings) -> None:
    """Create landing and staging tables for every declared entity, enabled or not, so that the
    warehouse builds (on empty tables) before a source's first delivery."""
    from helhed.sources import load_sources

    with psycopg.connect(s.url("helhed")) as conn, conn.transaction():
        for source in load_sources(include_disabled=True).values():
            for entity in source.entities:
                ensure_tables(conn, entity)
