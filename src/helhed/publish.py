"""Publish tonight's build atomically: dashboards see the last good night or the new one, never half.

dbt builds into ``build_restricted`` and ``build_marts``. After the gates pass, one
transaction renames the published schemas away, renames the build schemas into their place,
grants the reader role, records what was published and drops the old schemas. PostgreSQL DDL
is transactional, so a failure anywhere leaves the published schemas exactly as they were.
"""

from __future__ import annotations

import logging
from datetime import date

import psycopg
from psycopg import sql

from helhed.config import Settings

log = logging.getLogger(__name__)

#: build schema -> published schema
PUBLISHED_SCHEMAS = {"build_restricted": "restricted", "build_marts": "marts"}

PUBLICATIONS_DDL = """
create table if not exists audit.publications (
    run_id        text not null,
    logical_date  date not null,
    published_at  timestamptz not null default now(),
    schemas       text[] not null,
    tables        integer not null
);
"""


class NothingToPublish(Exception):
    """The build schemas are missing: dbt did not run, or this build was already published."""


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
    """Swap the build schemas into place in one transaction; return the published schemas."""
    with psycopg.connect(s.url("helhed")) as conn:
        with conn.transaction():
            conn.execute("set local lock_timeout = '60s'")
            conn.execute(PUBLICATIONS_DDL)
            missing = [b for b in PUBLISHED_SCHEMAS if not _schema_exists(conn, b)]
            if missing:
                raise NothingToPublish(f"build schemas missing: {missing}; run the dbt build first")
            write_data_as_of(conn, "build_marts")
            tables = 0
            for build, published in PUBLISHED_SCHEMAS.items():
                tables += conn.execute(
                    "select count(*) from pg_tables where schemaname = %s", (build,)
                ).fetchone()[0]
                previous = f"{published}_previous"
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
                if _schema_exists(conn, published):
                    conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(published), sql.Identifier(previous)))
                conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(build), sql.Identifier(published)))
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
            # Leaders' tools read aggregates only: the reader role sees marts, never restricted.
            conn.execute("grant usage on schema marts to helhed_reader")
            conn.execute("grant select on all tables in schema marts to helhed_reader")
            conn.execute("revoke all on schema restricted from helhed_reader")
            conn.execute(
                "insert into audit.publications (run_id, logical_date, schemas, tables) values (%s, %s, %s, %s)",
                (run_id, logical_date, list(PUBLISHED_SCHEMAS.values()), tables),
            )
    log.info("published %s for %s (%d tables)", list(PUBLISHED_SCHEMAS.values()), logical_date, tables)
    return list(PUBLISHED_SCHEMAS.values())
