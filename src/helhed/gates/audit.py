"""The record of every gate: ``audit.gate_results`` (one row per check) and ``audit.gate_batches``
(which delivered files a staging gate covered; :func:`helhed.publish.publish` checks every new
file against it). Every value passes redaction again before it is written."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from helhed.config import Settings
from helhed.gates.results import GateResult
from helhed.redaction import redact, redact_value

AUDIT_TABLE_DDL = """
create table if not exists audit.gate_results (
    id               bigint generated always as identity primary key,
    run_id           text        not null,
    suite            text        not null,
    schema_name      text        not null,
    table_name       text        not null,
    expectation_type text        not null,
    column_name      text,
    kwargs           jsonb       not null,
    severity         text        not null check (severity in ('critical', 'warning')),
    success          boolean     not null,
    observed_value   jsonb,
    message          text,
    checked_at       timestamptz not null
);
create index if not exists gate_results_run_idx on audit.gate_results (run_id, suite);
-- Which delivered files each staging gate covered; publish checks every new file against it.
create table if not exists audit.gate_batches (
    id               bigint generated always as identity primary key,
    run_id           text        not null,
    suite            text        not null,
    entity           text        not null,
    scope            text        not null check (scope in ('since_publish', 'full')),
    after_file_id    bigint      not null,
    through_file_id  bigint      not null,
    files            integer     not null,
    rows_checked     bigint,
    passed           boolean     not null,
    checked_at       timestamptz not null
);
create index if not exists gate_batches_run_idx on audit.gate_batches (run_id, entity);
"""


def ensure_audit_table(conn: psycopg.Connection) -> None:
    """Create ``audit.gate_results`` and ``audit.gate_batches`` if missing (safe when several gates start at once)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('helhed.audit.gate_results'))")
    conn.execute("create schema if not exists audit")
    conn.execute(AUDIT_TABLE_DDL)


def write_audit(settings: Settings, result: GateResult) -> None:
    """Record the outcomes (and the batch a staging gate covered); every value passes redaction again."""
    rows = [
        (result.run_id, result.suite, result.schema, result.table, o.expectation_type, o.column,
         Jsonb(redact_value(o.kwargs)), o.severity, o.success, Jsonb(redact_value(o.observed)),
         None if o.message is None else redact(o.message), result.checked_at)
        for o in result.outcomes
    ]
    with psycopg.connect(settings.url("helhed")) as conn:
        ensure_audit_table(conn)
        with conn.cursor() as cur:
            cur.executemany(
                "insert into audit.gate_results (run_id, suite, schema_name, table_name, expectation_type, column_name,"
                " kwargs, severity, success, observed_value, message, checked_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
            if result.batch is not None:
                b = result.batch
                cur.execute(
                    "insert into audit.gate_batches (run_id, suite, entity, scope, after_file_id, through_file_id,"
                    " files, rows_checked, passed, checked_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (result.run_id, result.suite, b.entity, b.scope, b.after_file_id, b.through_file_id, b.files,
                     b.rows, result.passed, result.checked_at),
                )


