"""Housekeeping of the restricted landing area: raw CPR is kept only as long as it is needed.

Raw rows (with CPR numbers) stay in ``landing`` for a retention period after their file was
loaded, so a load can be checked or replayed; then they are deleted, and quarantined lines
lose their raw text (their line, rule and reason stay, so the audit trail is kept).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from helhed.config import Settings
from helhed.sources import get_entity

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = Settings.landing_retention_days


def retention_days() -> int:
    """Days a loaded file's raw rows are kept (:attr:`Settings.landing_retention_days`)."""
    return Settings.from_env().landing_retention_days


def purge_landing(s: Settings, days: int | None = None, now: datetime | None = None) -> dict:
    """Delete raw rows of files loaded more than ``days`` ago; return the counts."""
    days = retention_days() if days is None else days
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    counts = {"files": 0, "rows": 0, "quarantine_lines": 0}
    with psycopg.connect(s.url("helhed")) as conn, conn.transaction():
        conn.execute("alter table audit.delivery_files add column if not exists purged_at timestamptz")
        files = conn.execute(
            "select file_id, entity from audit.delivery_files where purged_at is null and loaded_at < %s", (cutoff,)
        ).fetchall()
        if not files:
            return counts
        by_entity: dict[str, list[int]] = {}
        for file_id, entity in files:
            by_entity.setdefault(entity, []).append(file_id)
        for entity, ids in by_entity.items():
            cur = conn.execute(sql.SQL("delete from landing.{} where file_id = any(%s)").format(
                sql.Identifier(get_entity(entity).table)), (ids,))
            counts["rows"] += cur.rowcount
        ids = [f for f, _ in files]
        cur = conn.execute("update landing.quarantine set raw_line = '' where file_id = any(%s) and raw_line <> ''", (ids,))
        counts["quarantine_lines"] = cur.rowcount
        conn.execute("update audit.delivery_files set purged_at = now() where file_id = any(%s)", (ids,))
        counts["files"] = len(ids)
    log.info("purged raw rows of %d files older than %d days: %d rows, %d quarantine lines",
             counts["files"], days, counts["rows"], counts["quarantine_lines"])
    return counts
