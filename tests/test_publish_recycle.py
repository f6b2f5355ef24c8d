"""Publishing recycles the previously published ``restricted`` as the next build schema.

The incremental person-month fact is updated in place in ``build_restricted`` instead of being
copied in full every night (docs/scaling.md); that is only safe if the swap stays atomic, the
reader role never sees the recycled schema, the public marts are never recycled, and a second
publish of the same build is refused. Tiny tables stand in for dbt's output.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from helhed import loading, publish
from helhed.config import Settings


def _build(conn: psycopg.Connection, night: int) -> None:
    """What a night's dbt build leaves: the fact in build_restricted, a mart in build_marts."""
    conn.execute("create schema if not exists build_restricted")
    conn.execute("create table if not exists build_restricted.fact (night integer)")
    conn.execute("delete from build_restricted.fact")
    conn.execute("insert into build_restricted.fact values (%s)", (night,))
    conn.execute("create schema build_marts")
    conn.execute("create table build_marts.mart (night integer)")
    conn.execute("insert into build_marts.mart values (%s)", (night,))


def _can_read(conn: psycopg.Connection, role: str, schema: str) -> bool:
    return conn.execute("select has_schema_privilege(%s, %s, 'usage')", (role, schema)).fetchone()[0]


def test_publish_recycles_restricted_and_drops_the_old_marts(pg: Settings) -> None:
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        for schema in ("build_restricted", "build_marts", "restricted_previous", "marts_previous"):
            conn.execute(f"drop schema if exists {schema} cascade")
        loading.ensure_audit(conn)   # a night loads before it publishes; other modules may have reset audit
        _build(conn, 1)
    publish.publish(pg, "recycle_1", date(2026, 1, 1))
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        assert conn.execute("select night from restricted.fact").fetchall() == [(1,)]
        assert conn.execute("select night from marts.mart").fetchall() == [(1,)]
        assert conn.execute("select to_regclass('build_marts.mart')").fetchone()[0] is None
        # the old published restricted (bootstrap's empty one here) is the next build schema
        assert conn.execute("select 1 from pg_namespace where nspname = 'build_restricted'").fetchone()
        # a retry of the same publish finds no build marts and changes nothing
        with pytest.raises(publish.NothingToPublish):
            publish.publish(pg, "recycle_1", date(2026, 1, 1))
        assert conn.execute("select night from restricted.fact").fetchall() == [(1,)]
        # the next night updates the recycled schema in place and publishes it
        _build(conn, 2)
    publish.publish(pg, "recycle_2", date(2026, 1, 2))
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        assert conn.execute("select night from restricted.fact").fetchall() == [(2,)]
        assert conn.execute("select night from marts.mart").fetchall() == [(2,)]
        # night 1's published schema came back as the build schema, untouched until dbt runs
        assert conn.execute("select night from build_restricted.fact").fetchall() == [(1,)]
        assert not _can_read(conn, "helhed_reader", "build_restricted")
        assert not _can_read(conn, "helhed_reader", "restricted")
        assert _can_read(conn, "helhed_reader", "marts")
        assert conn.execute("select to_regclass('build_marts.mart')").fetchone()[0] is None
        leftovers = conn.execute("select nspname from pg_namespace where nspname like '%%_previous'").fetchall()
        assert leftovers == []

