"""Publish tonight's build atomically: dashboards see the last good night or the new one, never half.

dbt builds into ``build_restricted`` and ``build_marts``. After the gates pass, one
transaction renames the published schemas away, renames the build schemas into their place,
grants the reader role, records what was published and drops the old marts. PostgreSQL DDL
is transactional, so a failure anywhere leaves the published schemas exactly as they were.

Nothing is copied at publish, and the big person-level fact is not copied by the build either:
the previously published ``restricted`` is renamed to ``build_restricted`` (not dropped), so
the next night's dbt build updates its incremental tables (``fct_person_month``, with the
record of the files and as-of date each covered, ``macros/incremental.sql``) in place of
rebuilding them, while the published copy stays untouched until the next swap. The reader
role never sees that schema (it is revoked there); the public marts are built afresh each
night into a new ``build_marts`` and the old ones dropped, so nothing half-built can be read
through a grant a previous night gave.

Nothing is published that no gate saw: each publication records the highest
``audit.delivery_files.file_id`` it covered (``through_file_id``), staging gates validate the
files after it (:mod:`helhed.gates`), and :func:`publish` refuses when a file loaded since the
last publication was not covered by a passing staging gate of the same run
(``audit.gate_batches``). Rows of a night whose gate failed therefore stay above the mark and
are validated again by the next night's gates before anyone sees them.
"""

from __future__ import annotations

import logging
from datetime import date

import psycopg
from psycopg import sql

from helhed.config import Settings
from helhed.database import one_row
from helhed.redaction import redact

log = logging.getLogger(__name__)

#: build schema -> published schema
PUBLISHED_SCHEMAS = {"build_restricted": "restricted", "build_marts": "marts"}
#: build schemas that get the previously published schema back as the next night's starting
#: point (incremental tables updated in place); the others are dropped after the swap.
RECYCLED_SCHEMAS = frozenset({"build_restricted"})

PUBLICATIONS_DDL = """
create schema if not exists audit;
create table if not exists audit.publications (
    run_id        text not null,
    logical_date  date not null,
    published_at  timestamptz not null default now(),
    schemas       text[] not null,
    tables        integer not null
);
-- The highest audit.delivery_files.file_id whose rows this publication covered (null before
-- the column existed: such publications count as covering nothing).
alter table audit.publications add column if not exists through_file_id bigint;
"""


class NothingToPublish(Exception):
    """The build schemas are missing: dbt did not run, or this build was already published."""


class UngatedDeliveries(Exception):
    """Files were loaded since the last publication that no passing staging gate of this run covered."""


def published_through(conn: psycopg.Connection) -> int:
    """The highest delivered file id the last publication covered; 0 before the first one."""
    exists = conn.execute(
        "select 1 from information_schema.columns where table_schema = 'audit' and table_name = 'publications' "
        "and column_name = 'through_file_id'").fetchone()
    if not exists:
        return 0
    return int(one_row(conn.execute("select coalesce(max(through_file_id), 0) from audit.publications"))[0])


def ungated_files(conn: psycopg.Connection, run_id: str) -> tuple[int, list[tuple[int, str, str]]]:
    """The newest delivered file id, and the files after the last publication that no passing
    staging gate of ``run_id`` covered (file id, entity, file name)."""
    after = published_through(conn)
    if one_row(conn.execute("select to_regclass('audit.delivery_files')"))[0] is None:
        return after, []
    newest = int(one_row(conn.execute("select coalesce(max(file_id), 0) from audit.delivery_files"))[0])
    batches = one_row(conn.execute("select to_regclass('audit.gate_batches')"))[0] is not None
    if not batches:
        rows = conn.execute("select file_id, entity, file_name from audit.delivery_files where file_id > %s "
                            "order by file_id", (after,)).fetchall()
    else:
        rows = conn.execute(
            "select f.file_id, f.entity, f.file_name from audit.delivery_files as f where f.file_id > %s "
            "and not exists (select 1 from audit.gate_batches as g where g.run_id = %s and g.passed "
            "and g.entity = f.entity and f.file_id > g.after_file_id and f.file_id <= g.through_file_id) "
            "order by f.file_id", (after, run_id)).fetchall()
    return max(newest, after), rows


def _check_gated(conn: psycopg.Connection, run_id: str) -> int:
    """Raise :class:`UngatedDeliveries` unless every file since the last publication passed a gate of this run."""
    newest, ungated = ungated_files(conn, run_id)
    if ungated:
        shown = "; ".join(f"{entity} {redact(name)} (file id {file_id})" for file_id, entity, name in ungated[:10])
        more = f" and {len(ungated) - 10} more" if len(ungated) > 10 else ""
        raise UngatedDeliveries(
            f"run {run_id} cannot publish: {len(ungated)} file(s) loaded since the last publication were not "
            f"covered by a passing staging gate of this run: {shown}{more}. Run the staging gates of these "
            f"entities in this run (a disabled source's files stay unpublished until it is gated)")
    return newest


def _schema_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select 1 from pg_namespace where nspname = %s", (name,)).fetchone() is not None


def write_data_as_of(conn: psycopg.Connection, schema: str) -> None:
    """Record, per source, the newest delivery loaded, in a table the dashboards can show."""
    conn.execute(sql.SQL(
        "create table {}.data_as_of as "
        "select source, max(delivery_date) as data_as_of, sum(rows_loaded)::bigint as rows_loaded, now() as published_at "
        "from audit.delivery_files where status = 'loaded' group by source"
    ).format(sql.Identifier(schema)))


def publish(s: Settings, run_id: str, logical_date: date) -> list[str]:
    """Swap the build schemas into place in one transaction; return the published schemas.

    Refuses (:class:`UngatedDeliveries`) when a file loaded since the last publication was not
    covered by a passing staging gate of ``run_id``; records the newest file id it covers.
    """
    with psycopg.connect(s.url("helhed")) as conn:
        with conn.transaction():
            conn.execute("set local lock_timeout = '60s'")
            conn.execute(PUBLICATIONS_DDL)
            missing = [b for b in PUBLISHED_SCHEMAS if not _schema_exists(conn, b)]
            if missing:
                raise NothingToPublish(f"build schemas missing: {missing}; run the dbt build first")
            # No load can slip in between this check and the swap: loads register their files
            # in audit.delivery_files, which this lock keeps still until the commit.
            if one_row(conn.execute("select to_regclass('audit.delivery_files')"))[0]:
                conn.execute("lock table audit.delivery_files in share mode")
            through = _check_gated(conn, run_id)
            write_data_as_of(conn, "build_marts")
            tables = 0
            for build, published in PUBLISHED_SCHEMAS.items():
                tables += one_row(conn.execute(
                    "select count(*) from pg_tables where schemaname = %s", (build,)
                ))[0]
                previous = f"{published}_previous"
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
                if _schema_exists(conn, published):
                    conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(published), sql.Identifier(previous)))
                conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(build), sql.Identifier(published)))
                if build in RECYCLED_SCHEMAS and _schema_exists(conn, previous):
                    conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(previous), sql.Identifier(build)))
                    conn.execute(sql.SQL("revoke all on schema {} from helhed_reader").format(sql.Identifier(build)))
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
            # Leaders' tools read aggregates only: the reader role sees marts, never restricted.
            conn.execute("grant usage on schema marts to helhed_reader")
            conn.execute("grant select on all tables in schema marts to helhed_reader")
            conn.execute("revoke all on schema restricted from helhed_reader")
            conn.execute(
                "insert into audit.publications (run_id, logical_date, schemas, tables, through_file_id) "
                "values (%s, %s, %s, %s, %s)",
                (run_id, logical_date, list(PUBLISHED_SCHEMAS.values()), tables, through),
            )
    log.info("published %s for %s (%d tables, delivered files through id %d)", list(PUBLISHED_SCHEMAS.values()),
             logical_date, tables, through)
    return list(PUBLISHED_SCHEMAS.values())
