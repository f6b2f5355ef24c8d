"""Load delivery files into ``landing`` (raw) and ``staging`` (typed, pseudonymised).

Each file is loaded in one transaction: register it in ``audit.delivery_files``, COPY its raw
rows into ``landing``, its bad rows into ``landing.quarantine`` (they hold raw CPR), and its
pseudonymised typed rows into ``staging``. A crash or a server restart mid-file rolls the whole
file back and the next run loads it again: nothing is lost and nothing is loaded twice.

Keyed entities are versioned by delivery (:mod:`helhed.rowsql`): the newest delivery of a key
wins (delivery date, then file name), whatever order files arrive or are loaded in; a re-export
of the same content changes nothing but the row's version. Every file under a source's folder
is loaded, rejected, or recorded in ``audit.unexpected_files`` with a reason: nothing is skipped
silently. A ``.gz`` delivery whose name without ``.gz`` matches a pattern is loaded like the
file it holds; a name that matches only in another capitalisation is loaded too.

Raw CPR numbers stay in ``landing``: a file name with a CPR-like value is stored masked
(:func:`helhed.redaction.redact`) and identified by a keyed HMAC of its raw name; free-text
fields of a file whose scan found a CPR-like value outside its CPR columns are masked on their
way to staging, and the count is recorded (``cpr_like_masked``). Logs and summaries name files
by their masked names only.

Set-based, because parsing row by row in Python was ~50x slower than a raw COPY: the file is
hashed and checked as a whole in one streamed read (:func:`helhed.parsing.scan_file`), streamed
again by COPY into a temp table, and checked, typed and quarantined by a few SQL statements
(:mod:`helhed.rowsql`). Only the distinct CPR numbers of a file come back to Python, to be
pseudonymised there (the key never reaches the server); only bad rows come back for the wording
of their quarantine detail. The temp tables hold raw CPR and are dropped with the transaction.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath

import psycopg
from psycopg import sql

from helhed.config import Settings
from helhed.database import one_row
from helhed.keys import check_chain
from helhed.parsing import (
    CONTROL_CHARACTER,
    SOURCES_FILE,
    EntityRules,
    FileScan,
    count_data_lines,
    decoded_chunks,
    entity_rules,
    escape_controls,
    is_delivered_cpr,
    is_gzip,
    open_content,
    scan_file,
)
from helhed.pseudonymise import Pseudonymiser
from helhed.redaction import count_cpr_like, redact
from helhed.rowsql import RowSql
from helhed.sources import SQL_TYPES, Entity, load_sources

log = logging.getLogger(__name__)

AUDIT_DDL = """
create schema if not exists audit;
create schema if not exists landing;
create table if not exists audit.delivery_files (
    file_id          bigserial primary key,
    source           text not null,
    entity           text not null,
    delivery_date    date not null,
    file_name        text not null,        -- <folder>/<name>, CPR-like values masked
    name_key         text,                 -- keyed HMAC of the raw <folder>/<name>: the file's identity
    path             text not null,        -- masked too
    size_bytes       bigint not null,
    sha256           text not null,
    status           text not null check (status in ('loaded', 'rejected')),
    rows_delivered   integer not null default 0,
    rows_loaded      integer not null default 0,   -- into landing; of them:
    rows_unchanged   integer not null default 0,   --   equal to the staging row (a re-export)
    rows_superseded  integer not null default 0,   --   not applied: a newer delivery holds the key
    rows_quarantined integer not null default 0,
    cpr_like_masked  integer not null default 0,   -- CPR-like values masked in free text and the name
    changed_from     date,                         -- earliest date of a staging row version it replaced
    rejection        text,
    loaded_at        timestamptz not null default now(),
    purged_at        timestamptz          -- raw rows deleted from landing (helhed.maintenance)
);
-- Files under a source's folder that no entity loads (and why), first and last seen.
create table if not exists audit.unexpected_files (
    source           text not null,
    name_key         text not null,
    entity           text not null,        -- the entity whose load reports it
    file_name        text not null,        -- path under the source's folder, CPR-like values masked
    delivery_date    date,                 -- of its folder, when that is a date
    size_bytes       bigint not null,
    reason           text not null,
    first_seen_at    timestamptz not null default now(),
    last_seen_at     timestamptz not null default now(),
    primary key (source, name_key)
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
-- Raw CPR never leaves landing: row-level security without a policy hides every row from every
-- login but the owner (the loader), also from the BI login, whose pg_read_all_data does not
-- bypass it (superset/access.yaml).
alter table landing.quarantine enable row level security;
-- What the BI team's data-quality dashboard may see of the quarantine: counts per file and rule,
-- never the raw lines. The view runs as its owner (the loader), so the policy-less row-level
-- security above does not hide the rows it counts.
create or replace view audit.quarantine_counts as
    select file_id, rule, count(*)::bigint as quarantined_rows from landing.quarantine group by 1, 2;
"""

#: Columns added to ``audit.delivery_files`` since its first version, for warehouses that have it.
_AUDIT_UPGRADE = {
    "name_key": "text", "rows_unchanged": "integer not null default 0", "rows_superseded": "integer not null default 0",
    "cpr_like_masked": "integer not null default 0", "changed_from": "date",
}

#: Archive formats that are not unpacked (a gzip of one file is): recorded as unexpected.
ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".tar", ".tar.gz", ".tgz", ".bz2", ".xz", ".zst", ".lz4")


class ChangedDelivery(Exception):
    """A file with an already-loaded name arrived with different content."""


class DuplicateDelivery(Exception):
    """The same bytes were delivered before under another name."""


class StagingKeyChanged(Exception):
    """A staging table's primary key is not the entity's declared key."""


@dataclass
class FileSummary:
    entity: str
    path: Path
    status: str                      # loaded | rejected | skipped | unexpected
    delivered: int = 0
    loaded: int = 0
    quarantined: int = 0
    rejection: str | None = None     # the rule and detail of a rejected file, the reason of an unexpected one
    name: str = ""                   # <folder>/<name> with CPR-like values masked: what logs and XCom show
    cpr_like_masked: int = 0
    unchanged: int = 0
    superseded: int = 0


@dataclass
class EntitySummary:
    entity: str
    files: list[FileSummary] = field(default_factory=list)
    unexpected: list[FileSummary] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def cpr_like_masked(self) -> int:
        return sum(f.cpr_like_masked for f in self.files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _column_names(conn: psycopg.Connection, schema: str, table: str) -> set[str]:
    """The columns of a table (from the catalog: information_schema is ten times slower)."""
    return {r[0] for r in conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped",
        (sql.Identifier(schema, table).as_string(conn),))}


def ensure_audit(conn: psycopg.Connection) -> None:
    """Create the audit tables, or bring an older ``audit.delivery_files`` up to date.

    Statements that would lock the table run only when something is missing: every entity's
    load calls this while others may be loading; parallel first loads take turns (a lock held
    to the end of the caller's transaction), so two never create the same table or index."""
    conn.execute("select pg_advisory_xact_lock(hashtext('helhed.loading.ensure_audit'))")
    conn.execute(AUDIT_DDL)
    missing = [c for c in _AUDIT_UPGRADE if c not in _column_names(conn, "audit", "delivery_files")]
    for column in missing:
        conn.execute(sql.SQL("alter table audit.delivery_files add column if not exists {} {}").format(
            sql.Identifier(column), sql.SQL(_AUDIT_UPGRADE[column])))
    if one_row(conn.execute("select to_regclass('audit.delivery_files_source_name_key')"))[0] is None:
        # The identity was the (raw) file name; it is the keyed digest of the name now.
        conn.execute("alter table audit.delivery_files drop constraint if exists delivery_files_source_file_name_key")
        conn.execute("create unique index delivery_files_source_name_key on audit.delivery_files (source, name_key)")


def upgrade_file_names(conn: psycopg.Connection, pseudo: Pseudonymiser) -> int:
    """Give files registered before names were masked their digest, and mask their names."""
    rows = conn.execute("select file_id, file_name, path, rejection from audit.delivery_files where name_key is null").fetchall()
    for file_id, file_name, path, rejection in rows:
        conn.execute(
            "update audit.delivery_files set name_key = %s, file_name = %s, path = %s, rejection = %s where file_id = %s",
            (pseudo.digest_text(file_name), redact(file_name), redact(path), _safe_text(rejection), file_id))
    return len(rows)


def ensure_tables(conn: psycopg.Connection, entity: Entity) -> None:
    """Create the audit tables and the entity's landing and staging tables if missing.

    A column declared since the tables were made is added (empty), and a key declared since,
    when the loaded rows satisfy it; a key the rows do not satisfy, or another key than the
    table's, stops the load (:class:`StagingKeyChanged`)."""
    ensure_audit(conn)
    landing_cols = [sql.SQL("{} text").format(sql.Identifier(c.name)) for c in entity.columns]
    conn.execute(sql.SQL(
        "create table if not exists landing.{} (file_id bigint not null, line_no integer not null, {}, "
        "primary key (file_id, line_no))"
    ).format(sql.Identifier(entity.table), sql.SQL(", ").join(landing_cols)))
    # Raw CPR never leaves landing (see landing.quarantine above). Enabled once: ALTER TABLE takes
    # an exclusive lock, which a load of every file should not.
    if not one_row(conn.execute("select relrowsecurity from pg_class where oid = %s::regclass", [f"landing.{entity.table}"]))[0]:
        conn.execute(sql.SQL("alter table landing.{} enable row level security").format(sql.Identifier(entity.table)))
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
    _upgrade_entity_tables(conn, entity)


def _upgrade_entity_tables(conn: psycopg.Connection, entity: Entity) -> None:
    for schema, declared in (("landing", [(c.name, "text") for c in entity.columns]),
                             ("staging", [(c.staging_name, SQL_TYPES[c.type]) for c in entity.columns])):
        present = _column_names(conn, schema, entity.table)
        for name, type_ in declared:
            if name not in present:
                conn.execute(sql.SQL("alter table {}.{} add column {} {}").format(
                    sql.Identifier(schema), sql.Identifier(entity.table), sql.Identifier(name), sql.SQL(type_)))
    key = [r[0] for r in conn.execute(
        "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
        "where i.indrelid = %s::regclass and i.indisprimary order by array_position(i.indkey::int2[], a.attnum)",
        (sql.Identifier("staging", entity.table).as_string(conn),))]
    if key == list(entity.key):
        return
    if not key and entity.key:   # a key declared since: applies if the loaded rows satisfy it
        try:
            with conn.transaction():
                conn.execute(sql.SQL("alter table staging.{} add primary key ({})").format(
                    sql.Identifier(entity.table), sql.SQL(", ").join(map(sql.Identifier, entity.key))))
            return
        except (psycopg.errors.NotNullViolation, psycopg.errors.UniqueViolation):
            pass
    raise StagingKeyChanged(
        f"staging.{entity.table} has the key {key or 'none'}, config/sources.yaml declares {list(entity.key) or 'none'}: "
        f"rows loaded under the old key cannot be versioned by the new one; reload the entity (drop "
        f"staging.{entity.table} and landing.{entity.table}, delete its files from audit.delivery_files "
        f"and landing.quarantine, and load again)")


# --------------------------------------------------------------------------- what is in a source's folder


@dataclass(frozen=True)
class Delivered:
    """A file under a source's folder and what the loader does with it."""

    path: Path
    name: str                 # raw path under the source's folder (<yyyy-mm-dd>/<file>)
    day: date | None          # the date of its folder, if that is a date
    entity: Entity            # the entity that loads it, or (unexpected) reports it
    reason: str | None        # why no entity loads it; None when one does


def _folder_date(name: str) -> date | None:
    try:
        return date.fromisoformat(name) if len(name) == 10 else None
    except ValueError:
        return None


def _matches(name: str, entity: Entity) -> bool:
    """The entity's pattern matches the name, in any capitalisation, with or without ``.gz``."""
    inner = name[:-3] if is_gzip(Path(name)) else name
    return fnmatch.fnmatchcase(inner.casefold(), entity.file_glob.casefold())


def _reporter(name: str, entities: tuple[Entity, ...]) -> Entity:
    """The entity whose load reports a stray file: the one whose pattern's fixed start the name
    shares, else the source's first (one reporter per file: counted once, no race)."""
    folded = name.casefold()
    for e in entities:
        if folded.startswith(e.file_glob.split("*")[0].casefold()):
            return e
    return entities[0]


def survey(s: Settings, entities: tuple[Entity, ...], up_to: date) -> list[Delivered]:
    """Every file under the source's folder (``entities`` are the source's), each either matched
    to the entity that loads it or given the reason none does. Folders dated after ``up_to``
    wait for their date."""
    root = s.landing_dir / entities[0].source
    found: list[Delivered] = []
    if not root.exists():
        return found
    patterns = ", ".join(e.file_glob for e in entities)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        day = _folder_date(rel.parts[0]) if len(rel.parts) > 1 else None
        if day is not None and day > up_to:
            continue
        entity = next((e for e in entities if _matches(rel.name, e)), None)
        reason = None
        if len(rel.parts) == 1:
            reason = "outside_a_delivery_folder: files belong in a folder <yyyy-mm-dd>"
        elif day is None:
            reason = f"not_a_delivery_folder: {rel.parts[0]!r} is not a date (yyyy-mm-dd)"
        elif len(rel.parts) > 2:
            reason = "in_a_subfolder: deliveries are read from <yyyy-mm-dd>/ itself, not its subfolders"
        elif entity is None and rel.name.lower().endswith(ARCHIVE_SUFFIXES):
            reason = f"archive: only gzip (.gz) deliveries are unpacked; expected {patterns}"
        elif entity is None:
            reason = f"unknown_name: matches none of the source's patterns {patterns}"
        found.append(Delivered(path, rel.as_posix(), day, entity or _reporter(rel.name, entities), reason))
    return sorted(found, key=lambda d: (d.day or date.min, d.name))


_DECLARED: dict[float, dict] = {}


def _source_entities(entity: Entity) -> tuple[Entity, ...]:
    """The entities of ``entity``'s source (the declarations are read once per process and change)."""
    stamp = SOURCES_FILE.stat().st_mtime
    if stamp not in _DECLARED:
        _DECLARED.clear()
        _DECLARED[stamp] = load_sources(include_disabled=True)
    source = _DECLARED[stamp].get(entity.source)
    if source is None or all(e.id != entity.id for e in source.entities):
        return (entity,)
    return tuple(e if e.id != entity.id else entity for e in source.entities)


def delivery_files(s: Settings, entity: Entity, up_to: date) -> list[tuple[date, Path]]:
    """Files delivered for ``entity`` in folders dated on or before ``up_to``, oldest first
    (by folder date, then name)."""
    return [(d.day, d.path) for d in survey(s, _source_entities(entity), up_to)
            if d.reason is None and d.entity.id == entity.id and d.day is not None]


def _register_unexpected(conn: psycopg.Connection, entity: Entity, strays: list[Delivered],
                         pseudo: Pseudonymiser) -> list[FileSummary]:
    """Record (or refresh) the stray files this entity reports; log each one, every night."""
    summaries = []
    for d in strays:
        name, reason = redact(d.name), _safe_text(d.reason)
        size = d.path.stat().st_size
        (new,) = one_row(conn.execute(
            "insert into audit.unexpected_files (source, name_key, entity, file_name, delivery_date, size_bytes, reason) "
            "values (%s, %s, %s, %s, %s, %s, %s) on conflict (source, name_key) do update set "
            "last_seen_at = now(), size_bytes = excluded.size_bytes, reason = excluded.reason, entity = excluded.entity "
            "returning xmax = 0",
            (entity.source, pseudo.digest_text(d.name), entity.id, name, d.day, size, reason)))
        log.warning("%s %s/%s not loaded: %s", "new unexpected file" if new else "unexpected file", entity.source, name, reason)
        summaries.append(FileSummary(entity.id, d.path, "unexpected", rejection=reason, name=name,
                                     cpr_like_masked=count_cpr_like(d.name)))
    return summaries


def _safe_text(text: str | None) -> str | None:
    """Text for the audit trail and logs: CPR-like values masked, control characters escaped."""
    return None if text is None else escape_controls(redact(text))


def _already_loaded(conn: psycopg.Connection, entity: Entity, name_key: str, name: str, sha: str) -> bool:
    row = conn.execute(
        "select sha256 from audit.delivery_files where source = %s and name_key = %s", (entity.source, name_key),
    ).fetchone()
    if row is not None:
        if row[0] != sha:
            raise ChangedDelivery(
                f"{entity.source}/{name}: a file with this name was loaded before with SHA-256 {row[0][:12]}…, "
                f"now it is {sha[:12]}…; deliveries are immutable, send corrections as a new file"
            )
        return True
    return False


def _has_rows(path: Path) -> bool:
    """Whether a (readable) delivery holds anything after its header line."""
    with open_content(path) as fh:
        fh.readline()
        return fh.read(1) != b""


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


def _copy_text(cur: psycopg.Cursor, statement: sql.SQL | sql.Composed, entity: Entity, path: Path) -> None:
    """Stream a plain file (no quotes, CR only in CRLF) to COPY's text format: backslash is its
    escape character, so it is doubled; the server splits lines (and fields)."""
    with cur.copy(statement) as copy:
        for text in decoded_chunks(path, entity.encoding):
            copy.write(text.replace("\\", "\\\\").replace("\r", ""))


class _Feed:
    """The lines handed to :mod:`csv`, remembering those of the record being read (for the raw
    text of a record the reader cannot split)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.taken.append(line)
        return line


def csv_records(path: Path, entity: Entity) -> Iterator[tuple[int, list[str], int | None]]:
    """The data records of a file that needs :mod:`csv` (quotes, stray carriage returns, control
    characters): line number, fields, and where a control character is (the first field holding
    one, -1 when csv cannot split the record; None when clean). Fields with a control character
    are escaped (``\\xNN``): NUL cannot reach PostgreSQL, and the row is quarantined anyway."""
    feed = _Feed(_lines(decoded_chunks(path, entity.encoding)))
    reader = csv.reader(feed, delimiter=entity.delimiter)
    header = True
    while True:
        feed.taken.clear()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:   # e.g. a carriage return inside an unquoted field: the record is the lines read
            if not header:
                yield reader.line_num, [escape_controls("".join(feed.taken).rstrip("\r\n"))], -1
            header = False
            continue
        if header:
            header = False
            continue
        if not any(f.strip() for f in fields):
            continue
        bad = next((i for i, f in enumerate(fields) if CONTROL_CHARACTER.search(f)), None)
        yield reader.line_num, (fields if bad is None else [escape_controls(f) for f in fields]), bad


def _copy_file(conn: psycopg.Connection, cur: psycopg.Cursor, plan: RowSql, path: Path, plain: bool) -> str:
    """Stream the file into a temp table; return which: "columns" or "lines".

    A plain file is COPYed straight into one text column per field (``load_cols``), as fast as
    a raw COPY. When a line has another number of fields, COPY refuses the file; it is then
    COPYed as lines (``load_raw``) and split in SQL, where the field count is a row rule. Files
    with quotes, stray carriage returns or control characters are split by :mod:`csv` in
    Python (:func:`csv_records`), which flags the rows to quarantine (``ctl``).
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
    cur.execute("create temp table load_raw (line_no integer generated by default as identity, line text, f text[], "
                "ctl integer) on commit drop")
    if plain:
        _copy_text(cur, sql.SQL("copy pg_temp.load_raw (line) from stdin (delimiter E'\\x01')"), entity, path)
        return "lines"
    with cur.copy("copy pg_temp.load_raw (line_no, f, ctl) from stdin") as copy:
        for record in csv_records(path, entity):
            copy.write_row(record)
    return "lines"


def _map_cprs(cur: psycopg.Cursor, candidates: sql.Composable, pseudo: Pseudonymiser) -> None:
    """``pg_temp.load_cpr``: each distinct valid CPR number of the file and its pseudonym, made
    in Python, so the key never reaches the server (an invalid CPR has no row: ``invalid_cpr``)."""
    (values,) = one_row(cur.execute(sql.SQL("select array_agg(v) from ({}) c").format(candidates)))   # one row
    pseudonyms = {v: pseudo.pseudonymise_cpr(v) for v in values or () if is_delivered_cpr(v)}
    cur.execute("create temp table load_cpr (cpr text, person_key text) on commit drop")
    with cur.copy("copy pg_temp.load_cpr (cpr, person_key) from stdin") as copy:
        copy.write("".join(f"{c}\t{p}\n" for c, p in pseudonyms.items()))


@dataclass
class _Applied:
    """What a file's rows did to staging."""

    unchanged: int = 0
    superseded: int = 0
    changed_from: date | None = None


def _insert_staging(conn: psycopg.Connection, cur: psycopg.Cursor, plan: RowSql, day: date, file_name: str) -> _Applied:
    """Apply the file's rows to staging: versioned by delivery for a keyed entity, appended without.

    A key twice in the file is rare, and finding it up front would cost a sort or hash of every
    row, so the primary key finds it: the insert fails, the later lines are marked
    ``duplicate_key`` (the first line wins) and the insert runs again.
    """
    params = {"day": day, "name": file_name}
    if plan.versions is not None and plan.delete_replaced is not None:   # set together by RowSql
        cur.execute(plan.versions, params)
        cur.execute(plan.delete_replaced)
    try:
        with conn.transaction():   # a savepoint
            cur.execute(plan.insert_staging, params)
    except psycopg.errors.UniqueViolation:
        if plan.mark_duplicates is None:
            raise
        cur.execute(plan.mark_duplicates)
        cur.execute(plan.insert_staging, params)
    if plan.version_counts is None:
        return _Applied()
    superseded, unchanged, changed_from = one_row(cur.execute(plan.version_counts))
    return _Applied(unchanged, superseded, changed_from)


def _reject(conn: psycopg.Connection, file_id: int, path: Path, rule: str, detail: str, summary: FileSummary) -> FileSummary:
    """Register a whole file as rejected: every row counts as quarantined, none is loaded."""
    reason = _safe_text(f"{rule}: {detail}")
    lines = count_data_lines(path)
    conn.execute(
        "update audit.delivery_files set status = 'rejected', rejection = %s, rows_delivered = %s, "
        "rows_loaded = 0, rows_quarantined = %s, cpr_like_masked = %s where file_id = %s",
        (reason, lines, lines, summary.cpr_like_masked, file_id),
    )
    log.warning("rejected %s/%s: %s", summary.entity.split(".")[0], summary.name, reason)
    summary.status, summary.rejection = "rejected", reason
    summary.delivered = summary.quarantined = lines
    return summary


def load_file(conn: psycopg.Connection, entity: Entity, day: date, path: Path, pseudo: Pseudonymiser,
              rules: EntityRules | None = None) -> FileSummary:
    """Load one file in the caller's transaction.

    A rejected file is registered with its reason; all its rows count as quarantined (none is
    loaded), so that for every file delivered = loaded + quarantined. Rows are checked and typed
    by set-based SQL (:mod:`helhed.rowsql`) in temp tables that hold raw CPR and are dropped.
    """
    rules = rules if rules is not None else entity_rules(entity)
    raw_name = f"{path.parent.name}/{path.name}"
    name, name_key = redact(raw_name), pseudo.digest_text(raw_name)
    summary = FileSummary(entity.id, path, "skipped", name=name)
    if _already_loaded(conn, entity, name_key, name, sha256_of(path)):   # most files, on most nights: hash only
        return summary
    scan: FileScan = scan_file(path, entity)   # one streamed read: SHA-256 again and the whole-file checks
    # Before this file is registered. A quiet night's file holds only the header, the same bytes every
    # quiet night: it is a delivery of its own (its date moves the as-of date), not a duplicate.
    earlier = _same_bytes_as(conn, entity, scan.sha256) if scan.rejection or _has_rows(path) else None
    file_id = one_row(conn.execute(
        "insert into audit.delivery_files (source, entity, delivery_date, file_name, name_key, path, size_bytes, sha256, "
        "status) values (%s, %s, %s, %s, %s, %s, %s, %s, 'loaded') returning file_id",
        (entity.source, entity.id, day, name, name_key, redact(str(path)), scan.size, scan.sha256),
    ))[0]
    conn.execute("delete from audit.unexpected_files where source = %s and name_key = %s", (entity.source, name_key))
    summary.status, summary.cpr_like_masked = "loaded", count_cpr_like(raw_name)
    rejection = ("duplicate_file", f"the same bytes were loaded before as {earlier}") if earlier else scan.rejection
    if rejection:
        return _reject(conn, file_id, path, *rejection, summary)

    plan = RowSql(entity, rules, trim=scan.padded, mask=scan.needs_masking)
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
        applied = _insert_staging(conn, cur, plan, day, name)
        if plan.versions is not None:
            temp.append("load_versions")
        if plan.mask:
            summary.cpr_like_masked += one_row(cur.execute(plan.count_masked))[0]
        bad = [(line_no, *plan.bad_row(problem, fields)) for line_no, problem, fields in cur.execute(plan.select_bad)]
        with cur.copy("copy landing.quarantine (file_id, line_no, rule, detail, raw_line) from stdin") as copy:
            for row in bad:
                copy.write_row((file_id, *row))
        summary.loaded = cur.execute(plan.insert_landing, (file_id,)).rowcount
        cur.execute(sql.SQL("drop table {}").format(sql.SQL(", ").join(sql.Identifier("pg_temp", t) for t in temp)))
    summary.quarantined = len(bad)
    summary.delivered = summary.loaded + summary.quarantined
    summary.unchanged, summary.superseded = applied.unchanged, applied.superseded
    conn.execute(
        "update audit.delivery_files set rows_delivered = %s, rows_loaded = %s, rows_quarantined = %s, rows_unchanged = %s, "
        "rows_superseded = %s, cpr_like_masked = %s, changed_from = %s where file_id = %s",
        (summary.delivered, summary.loaded, summary.quarantined, summary.unchanged, summary.superseded,
         summary.cpr_like_masked, applied.changed_from, file_id),
    )
    return summary


def load_entity(s: Settings, entity: Entity, up_to: date) -> EntitySummary:
    """Load every new delivery of ``entity`` dated on or before ``up_to``, one transaction per
    file, and record the files of its source's folder that it reports as unexpected."""
    pseudo = Pseudonymiser.from_secrets(s.secrets)
    rules = entity_rules(entity)
    summary = EntitySummary(entity.id)
    found = survey(s, _source_entities(entity), up_to)
    # Room for a file's temp tables in the backend's memory (only settable before the first temp table).
    with psycopg.connect(s.url("helhed"), options="-c temp_buffers=256MB") as conn:
        with conn.transaction():
            ensure_tables(conn, entity)
            check_chain(conn, pseudo)
            upgrade_file_names(conn, pseudo)
        with conn.transaction():
            summary.unexpected = _register_unexpected(
                conn, entity, [d for d in found if d.reason is not None and d.entity.id == entity.id], pseudo)
        for d in found:
            if d.reason is not None or d.entity.id != entity.id or d.day is None:
                continue
            with conn.transaction():
                result = load_file(conn, entity, d.day, d.path, pseudo, rules)
            if result.status != "skipped":
                log.info("%s %s/%s: %d delivered, %d loaded (%d unchanged, %d superseded), %d quarantined, "
                         "%d CPR-like values masked", result.status, entity.source, result.name, result.delivered,
                         result.loaded, result.unchanged, result.superseded, result.quarantined, result.cpr_like_masked)
                if result.cpr_like_masked:
                    log.warning("%s/%s: %d CPR-like values masked in free text or the file name (raw values stay in "
                                "landing)", entity.source, result.name, result.cpr_like_masked)
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
