"""Load delivery files into ``landing`` (raw) and ``staging`` (typed, pseudonymised).

Each file is loaded in one transaction: register it in ``audit.delivery_files``, COPY its raw
rows into ``landing``, its bad rows into ``landing.quarantine`` (they hold raw CPR), and its pseudonymised typed rows
into ``staging`` (replacing earlier versions of the same key, so later deliveries and
corrections win). A crash or a server restart mid-file rolls the whole file back and the next
run loads it again: nothing is lost and nothing is loaded twice.

Set-based, because parsing row by row in Python was ~50x slower than a raw COPY: the file is
hashed and checked as a whole in one streamed read (:func:`helhed.parsing.scan_file`), streamed
again by COPY into a temp table, and checked, typed and quarantined by a few SQL statements
(:mod:`helhed.rowsql`). Only the distinct CPR numbers of a file come back to Python, to be
pseudonymised there (the key never reaches the server); only bad rows come back for the wording
of their quarantine detail. The temp tables hold raw CPR and are dropped with the transaction.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from helhed.config import Settings
from helhed.keys import check_chain
from helhed.parsing import (
    EntityRules,
    FileRejected,
    count_data_lines,
    decoded_chunks,
    entity_rules,
    is_delivered_cpr,
    scan_file,
)
from helhed.pseudonymise import Pseudonymiser
from helhed.rowsql import RowSql
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


def _lines(chunks: Iterator[str]) -> Iterator[str]:
    """Lines split on "\\n" with their ends, as ``io.StringIO`` gave them to :mod:`csv` before."""
    rest = ""
    for chunk in chunks:
        parts = (rest + chunk).split("\n")
        rest = parts.pop()
        yield from (p + "\n" for p in parts)
    if rest:
        yield rest


def _copy_text(cur: psycopg.Cursor, statement: sql.Composable, entity: Entity, path: Path) -> None:
    """Stream a plain file (no quotes, CR only in CRLF) to COPY's text format: backslash is its
    escape character, so it is doubled; the server splits lines (and fields)."""
    with cur.copy(statement) as copy:
        for text in decoded_chunks(path, entity.encoding):
            copy.write(text.replace("\\", "\\\\").replace("\r", ""))


def _copy_file(conn: psycopg.Connection, cur: psycopg.Cursor, plan: RowSql, path: Path, plain: bool) -> str:
    """Stream the file into a temp table; return which: "columns" or "lines".

    A plain file is COPYed straight into one text column per field (``load_cols``), as fast as
    a raw COPY. When a line has another number of fields, COPY refuses the file; it is then
    COPYed as lines (``load_raw``) and split in SQL, where the field count is a row rule. Files
    with quotes or stray carriage returns are split by :mod:`csv` in Python, as before.
    """
    entity = plan.entity
    if plain and len(entity.delimiter.encode()) == 1 and entity.delimiter not in "\\\r\n":   # COPY's own rules
        try:
            with conn.transaction():   # a savepoint
                cur.execute(plan.create_columns)
                _copy_text(cur, plan.copy_columns, entity, path)
            return "columns"
        except psycopg.errors.BadCopyFileFormat:
            pass
    cur.execute("create temp table load_raw (line_no integer generated by default as identity, line text, f text[]) "
                "on commit drop")
    if plain:
        _copy_text(cur, sql.SQL("copy pg_temp.load_raw (line) from stdin (delimiter E'\\x01')"), entity, path)
        return "lines"
    reader = csv.reader(_lines(decoded_chunks(path, entity.encoding)), delimiter=entity.delimiter)
    next(reader, None)
    with cur.copy("copy pg_temp.load_raw (line_no, f) from stdin") as copy:
        for fields in reader:
            if any(f.strip() for f in fields):
                copy.write_row((reader.line_num, fields))
    return "lines"


def _map_cprs(cur: psycopg.Cursor, candidates: sql.Composable, pseudo: Pseudonymiser) -> None:
    """``pg_temp.load_cpr``: each distinct valid CPR number of the file and its pseudonym, made
    in Python, so the key never reaches the server (an invalid CPR has no row: ``invalid_cpr``)."""
    (values,) = cur.execute(sql.SQL("select array_agg(v) from ({}) c").format(candidates)).fetchone()   # one row
    pseudonyms = {v: pseudo.pseudonymise_cpr(v) for v in values or () if is_delivered_cpr(v)}
    cur.execute("create temp table load_cpr (cpr text, person_key text) on commit drop")
    with cur.copy("copy pg_temp.load_cpr (cpr, person_key) from stdin") as copy:
        copy.write("".join(f"{c}\t{p}\n" for c, p in pseudonyms.items()))


def _insert_staging(conn: psycopg.Connection, cur: psycopg.Cursor, plan: RowSql, day: date, file_name: str) -> None:
    """Replace the rows of the file's keys in staging (or append, without a key).

    A key twice in the file is rare, and finding it up front would cost a sort or hash of every
    row, so the primary key finds it: the insert fails, the later lines are marked
    ``duplicate_key`` (the first line wins) and the insert runs again.
    """
    if plan.delete_replaced is not None:
        cur.execute(plan.delete_replaced)
    try:
        with conn.transaction():   # a savepoint
            cur.execute(plan.insert_staging, (day, file_name))
    except psycopg.errors.UniqueViolation:
        if plan.mark_duplicates is None:
            raise
        cur.execute(plan.mark_duplicates)
        cur.execute(plan.insert_staging, (day, file_name))


def load_file(conn: psycopg.Connection, entity: Entity, day: date, path: Path, pseudo: Pseudonymiser,
              rules: EntityRules | None = None) -> FileSummary:
    """Load one file in the caller's transaction.

    A rejected file is registered with its reason; all its rows count as quarantined (none is
    loaded), so that for every file delivered = loaded + quarantined. Rows are checked and typed
    by set-based SQL (:mod:`helhed.rowsql`) in temp tables that hold raw CPR and are dropped.
    """
    rules = rules if rules is not None else entity_rules(entity)
    if _already_loaded(conn, entity, path, sha256_of(path)):   # most files, on most nights: hash only
        return FileSummary(entity.id, path, "skipped")
    scan = scan_file(path, entity)   # one streamed read: SHA-256 again and the whole-file checks
    file_name = f"{path.parent.name}/{path.name}"
    earlier = _same_bytes_as(conn, entity, scan.sha256)   # before this file is registered
    file_id = conn.execute(
        "insert into audit.delivery_files (source, entity, delivery_date, file_name, path, size_bytes, sha256, status) "
        "values (%s, %s, %s, %s, %s, %s, %s, 'loaded') returning file_id",
        (entity.source, entity.id, day, file_name, str(path), scan.size, scan.sha256),
    ).fetchone()[0]
    summary = FileSummary(entity.id, path, "loaded")
    rejection = ("duplicate_file", f"the same bytes were loaded before as {earlier}") if earlier else scan.rejection
    if rejection:
        exc = FileRejected(path, *rejection)
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

    plan = RowSql(entity, rules, trim=scan.padded)
    with conn.cursor() as cur:
        source = _copy_file(conn, cur, plan, path, scan.plain)
        temp = ["load_cols" if source == "columns" else "load_raw", "load_checked"]
        if plan.cpr_candidates is not None:
            _map_cprs(cur, plan.cpr_candidates[source], pseudo)
            temp.append("load_cpr")
        # Temp tables have no statistics (analyzing them costs more than it saves): without this
        # the planner may sort the whole file for a merge join with the CPR map, not hash it.
        cur.execute("set local enable_mergejoin = off")
        cur.execute(plan.check[source])
        cur.execute("reset enable_mergejoin")
        _insert_staging(conn, cur, plan, day, file_name)
        bad = [(line_no, *plan.bad_row(problem, fields)) for line_no, problem, fields in cur.execute(plan.select_bad)]
        with cur.copy("copy landing.quarantine (file_id, line_no, rule, detail, raw_line) from stdin") as copy:
            for row in bad:
                copy.write_row((file_id, *row))
        summary.loaded = cur.execute(plan.insert_landing, (file_id,)).rowcount
        cur.execute(sql.SQL("drop table {}").format(sql.SQL(", ").join(sql.Identifier("pg_temp", t) for t in temp)))
    summary.quarantined = len(bad)
    summary.delivered = summary.loaded + summary.quarantined
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
    # Room for a file's temp tables in the backend's memory (only settable before the first temp table).
    with psycopg.connect(s.url("helhed"), options="-c temp_buffers=256MB") as conn:
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
