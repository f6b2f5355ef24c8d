"""One nightly run at a time, whatever starts it: a lease row in ``audit.run_lock``.

Airflow's ``max_active_runs=1`` only holds for runs the scheduler starts; ``airflow dags test``
(``helhed run``, ``helhed backfill``) and a second deployment bypass it. Two runs at once
interleave their loads, gates and dbt builds (both incremental builds insert the same
person-months) and publish each other's half-checked rows. So the pipeline takes the lock
itself: the first task of a run acquires the lease, every later step renews it and fails if the
run no longer holds it, and a teardown task releases it whether the run passed or failed.

A lease, not a session-level advisory lock, because a run's tasks are separate processes (a
session lock would end with the first task). A run that dies without its teardown (a killed
scheduler, a lost machine) leaves a lease that expires ``HELHED_RUN_LOCK_TTL_MINUTES`` after its
last renewal (default 360); the next run then takes it over and logs that it did. An operator
can release it at once with ``helhed lock release``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass

import psycopg

from helhed.config import Settings

log = logging.getLogger(__name__)

#: The one lock of the nightly pipeline.
NIGHTLY = "nightly"
DEFAULT_TTL_MINUTES = Settings.run_lock_ttl_minutes

LOCK_DDL = """
create schema if not exists audit;
create table if not exists audit.run_lock (
    name         text primary key,
    run_id       text not null,
    holder       text not null,
    acquired_at  timestamptz not null,
    renewed_at   timestamptz not null,
    expires_at   timestamptz not null
);
"""


class RunLocked(Exception):
    """Another run holds the nightly lock."""


class LockLost(Exception):
    """This run does not hold the nightly lock (never took it, released it, or it expired and was taken over)."""


@dataclass(frozen=True)
class Lease:
    name: str
    run_id: str
    holder: str
    acquired_at: dt.datetime
    renewed_at: dt.datetime
    expires_at: dt.datetime

    def describe(self) -> str:
        return (f"run {self.run_id} (taken {self.acquired_at:%Y-%m-%d %H:%M:%S %Z} by {self.holder}, "
                f"last renewed {self.renewed_at:%H:%M:%S}, expires {self.expires_at:%Y-%m-%d %H:%M:%S %Z})")


def ttl_minutes() -> int:
    """How long a lease lasts without renewal (:attr:`Settings.run_lock_ttl_minutes`, checked there)."""
    return Settings.from_env().run_lock_ttl_minutes


def _holder() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def _connect(s: Settings) -> psycopg.Connection:
    conn = psycopg.connect(s.url("helhed"), autocommit=True)
    with conn.transaction():   # two first runs at once must not both create the table
        conn.execute("select pg_advisory_xact_lock(hashtext('helhed.audit.run_lock'))")
        conn.execute(LOCK_DDL)
    return conn


def _lease(row: tuple | None) -> Lease | None:
    return Lease(*row) if row else None


_COLUMNS = "name, run_id, holder, acquired_at, renewed_at, expires_at"


def current(s: Settings, name: str = NIGHTLY) -> Lease | None:
    """The lease as it stands (possibly expired), or None."""
    with _connect(s) as conn:
        return _lease(conn.execute(f"select {_COLUMNS} from audit.run_lock where name = %s", (name,)).fetchone())


def acquire(s: Settings, run_id: str, *, name: str = NIGHTLY, ttl: int | None = None) -> Lease:
    """Take the lock for ``run_id`` (again, if it already holds it: a retried first task).

    One statement decides atomically: the row is inserted, or updated when it belongs to this
    run or has expired. Otherwise :class:`RunLocked` names the run that holds it.
    """
    minutes = ttl or ttl_minutes()
    with _connect(s) as conn:
        before = _lease(conn.execute(f"select {_COLUMNS} from audit.run_lock where name = %s", (name,)).fetchone())
        row = conn.execute(
            f"insert into audit.run_lock as l ({_COLUMNS}) "
            "values (%(name)s, %(run)s, %(holder)s, now(), now(), now() + make_interval(mins => %(ttl)s)) "
            "on conflict (name) do update set run_id = excluded.run_id, holder = excluded.holder, "
            "acquired_at = case when l.run_id = excluded.run_id then l.acquired_at else excluded.acquired_at end, "
            "renewed_at = excluded.renewed_at, expires_at = excluded.expires_at "
            "where l.run_id = excluded.run_id or l.expires_at < now() "
            f"returning {_COLUMNS}",
            {"name": name, "run": run_id, "holder": _holder(), "ttl": minutes},
        ).fetchone()
        if row is None:
            holder = _lease(conn.execute(f"select {_COLUMNS} from audit.run_lock where name = %s", (name,)).fetchone())
            what = holder.describe() if holder else "another run"
            raise RunLocked(
                f"run {run_id} cannot start: the {name} lock is held by {what}. Only one nightly run may load, "
                f"build and publish at a time; wait for it to finish. If that run is dead, release its lock "
                f"with `helhed lock release --run-id {holder.run_id if holder else '<run id>'}`")
    lease = Lease(*row)
    if before is not None and before.run_id != run_id:
        log.warning("run %s took over the expired %s lock of %s", run_id, name, before.describe())
    log.info("run %s holds the %s lock until %s", run_id, name, lease.expires_at)
    return lease


def renew(s: Settings, run_id: str, *, name: str = NIGHTLY, ttl: int | None = None) -> Lease:
    """Extend this run's lease; :class:`LockLost` if the run does not hold it (any more)."""
    minutes = ttl or ttl_minutes()
    with _connect(s) as conn:
        row = conn.execute(
            "update audit.run_lock set renewed_at = now(), expires_at = now() + make_interval(mins => %s) "
            f"where name = %s and run_id = %s returning {_COLUMNS}", (minutes, name, run_id)).fetchone()
        if row is None:
            holder = _lease(conn.execute(f"select {_COLUMNS} from audit.run_lock where name = %s", (name,)).fetchone())
            now_held = f"it is held by {holder.describe()}" if holder else "nobody holds it"
            raise LockLost(f"run {run_id} does not hold the {name} lock ({now_held}); this step does not run "
                           f"outside a locked run: start the run from its first task")
    return Lease(*row)


def release(s: Settings, run_id: str | None = None, *, name: str = NIGHTLY) -> Lease | None:
    """Release the lock of ``run_id`` (only its own: a refused second run releases nothing);
    ``run_id=None`` releases whoever holds it (``helhed lock release --force``). Returns what was released."""
    with _connect(s) as conn:
        if run_id is None:
            row = conn.execute(f"delete from audit.run_lock where name = %s returning {_COLUMNS}", (name,)).fetchone()
        else:
            row = conn.execute(f"delete from audit.run_lock where name = %s and run_id = %s returning {_COLUMNS}",
                               (name, run_id)).fetchone()
    lease = _lease(row)
    if lease:
        log.info("released the %s lock of run %s", name, lease.run_id)
    return lease
