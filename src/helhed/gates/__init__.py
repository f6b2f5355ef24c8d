"""Quality gates: Great Expectations suites (``expectations/*.json``) and the checks only a gate
can make, run against live tables.

The package is split by job: :mod:`~helhed.gates.suites` (finding, parameterising and running
GX suites, Data Docs), :mod:`~helhed.gates.checks` (delivery volume and freshness, quarantine
rate, drift against the last deliveries, coverage between sources, the table's contract against
the specification), :mod:`~helhed.gates.results` (outcomes, :class:`GateResult`,
:class:`GateFailed`, their redacted wording) and :mod:`~helhed.gates.audit` (``audit.gate_results``,
``audit.gate_batches``). This module runs them together (:func:`run_suite`) and re-exports the
public names the pipeline, the DAG and the CLI use.

A gate runs one suite against one PostgreSQL table with an ephemeral GX context (nothing is
written by GX except the optional Data Docs under ``$HELHED_HOME/data_docs``), records one row
per expectation in ``audit.gate_results`` and returns a :class:`GateResult`. A failed
expectation with ``meta.severity == "critical"`` fails the gate; ``warning`` expectations are
recorded and reported but never stop the run. :func:`enforce` turns a failed gate into
:class:`GateFailed`.

Suites are GX 1.x serialised suites, one file per table: ``expectations/<layer>__<table>.json``
holding the suite ``<layer>.<table>`` (``staging.cpr__persons`` lives in
``staging__cpr__persons.json``). Values that are only known at run time use GX's
``{"$PARAMETER": name}`` syntax; :data:`PARAMETERS` lists the names this module fills in.

**What a staging gate looks at.** Against the loader's schema ``staging`` a gate validates
every row loaded since the last successful publish (scope ``since_publish``, the default): the
rows of files whose ``audit.delivery_files.file_id`` is above the highest file id the last
publication covered (:func:`helhed.publish.published_through`), whatever their folder date and
however many nights they were loaded over. Table-level expectations (row count) and the contract
look at the whole table. Each gate records the file ids it covered in
``audit.gate_batches``, and :func:`helhed.publish.publish` refuses to publish a file no passing
gate of the same run covered, so rows loaded on a night whose gate failed are validated again
the next night, never published unseen. Scope ``full`` validates the whole table: once a week
(``HELHED_GATE_FULL_WEEKDAY``, default Sunday), always with ``HELHED_GATE_SCOPE=full``, or
with ``run_suite(..., scope="full")`` (:func:`helhed.gates.checks.default_scope`).

**What a suite no longer repeats.** The loader creates every staging table from the
specification with its types and ``not null`` on required columns; a suite does not check them
column by column. One generated check, ``expect_table_to_match_specification``, compares the
table with the specification instead.

**Nothing a gate emits holds a CPR number.** Observed values, partial unexpected lists,
kwargs, messages and the Data Docs pages pass through :func:`helhed.redaction.redact_value`
before they are stored, logged or rendered; columns marked ``meta.redact_unexpected_values``
(pseudonym columns) show only the length of an unexpected value.

Great Expectations is imported lazily, so importing this module (e.g. from a DAG file) is cheap.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import replace
from pathlib import Path

import psycopg
from psycopg import sql

from helhed.config import Settings
from helhed.database import one_row
from helhed.gates.audit import AUDIT_TABLE_DDL, ensure_audit_table, write_audit
from helhed.gates.checks import (
    ACCEPTED_FILES_DDL,
    DEFAULT_COVERAGE,
    DEFAULT_DRIFT,
    DEFAULT_GATES,
    DEFAULT_MAX_QUARANTINE_RATE,
    DEFAULT_VOLUME,
    QUARANTINE_ROWS_TOLERATED,
    SCOPES,
    _delivery_settings,
    _entity_of,
    accept_file,
    batch_query,
    contract_checks,
    coverage_checks,
    default_scope,
    delivery_checks,
    delivery_window,
    drift_checks,
    drop_batch,
    gate_defaults,
    materialise_batch,
)
from helhed.gates.results import SEVERITIES, Batch, ExpectationOutcome, GateFailed, GateResult, _redacted_outcome, enforce
from helhed.gates.suites import (
    DEFAULT_BENEFIT_GROUPS_SEED,
    PARAMETERS,
    TABLE_LEVEL_EXPECTATIONS,
    benefit_groups,
    docs_dir,
    list_suites,
    load_suite,
    parameter_names,
    restrict_modes,
    suite_parameters,
    suite_path,
    suite_stem,
    table_exists,
    validate,
)

__all__ = [
    "ACCEPTED_FILES_DDL", "AUDIT_TABLE_DDL", "DEFAULT_BENEFIT_GROUPS_SEED", "DEFAULT_COVERAGE", "DEFAULT_DRIFT",
    "DEFAULT_GATES", "DEFAULT_MAX_QUARANTINE_RATE", "DEFAULT_VOLUME", "PARAMETERS", "QUARANTINE_ROWS_TOLERATED",
    "SCOPES", "SEVERITIES", "TABLE_LEVEL_EXPECTATIONS", "Batch", "ExpectationOutcome", "GateFailed", "GateResult",
    "_delivery_settings", "accept_file", "batch_query", "benefit_groups", "contract_checks", "coverage_checks", "default_scope",
    "delivery_checks", "delivery_window", "drift_checks", "drop_batch", "enforce", "ensure_audit_table", "gate_defaults",
    "list_suites", "load_suite", "materialise_batch", "parameter_names", "restrict_modes", "run_suite", "suite_parameters", "suite_path",
]

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

def run_suite(settings: Settings, suite_name: str, schema: str, table: str, run_id: str, *,
              seed_path: Path | None = None, expectations_dir: Path | None = None,
              data_docs: bool = True, today: dt.date | None = None,
              delivery_checks_enabled: bool | None = None, scope: str | None = None,
              logical_date: dt.date | None = None) -> GateResult:
    """Run the suite ``suite_name`` against ``schema.table``, record it in ``audit.gate_results``.

    A staging suite run against the loader's ``staging`` schema validates the rows loaded since
    the last publish (``scope="since_publish"``, the default from :func:`default_scope`) or the
    whole table (``scope="full"``), records the files it covered in ``audit.gate_batches``, and
    also runs the entity's :func:`delivery_checks` (row volume, empty and missing deliveries,
    quarantine rate, rejected files), :func:`drift_checks` and :func:`coverage_checks` over the
    same files; ``delivery_checks_enabled`` forces those on or off. Any other schema (marts in
    ``build_marts``, test schemas) is validated whole. A staging suite's table is also checked
    against the specification (:func:`contract_checks`) in whatever schema it is.

    ``suite_name`` is the suite's name (``staging.cpr__persons``) or its file stem
    (``staging__cpr__persons``). Marts suites run against the build schema before publication:
    ``run_suite(s, "marts.employment_benefits_monthly", "build_marts", "employment_benefits_monthly", run_id)``.
    ``logical_date`` is the night's date (for ``volume.every_days``). Returns the result; call
    :func:`enforce` to stop on a failed critical expectation.
    """
    for label, name in (("schema", schema), ("table", table)):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{label} name {name!r} must match {_IDENTIFIER.pattern}")
    if scope is not None and scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    started = time.monotonic()
    suite = load_suite(suite_name, expectations_dir or settings.expectations_dir)
    parameters = suite_parameters(suite, seed_path=seed_path, today=today)
    result = GateResult(suite=suite["name"], schema=schema, table=table, run_id=run_id,
                        checked_at=dt.datetime.now(dt.UTC))
    loader_staging = schema == "staging" and suite["name"].startswith("staging.")
    entity = _entity_of(table) if loader_staging else None
    if entity is not None:
        result.batch = delivery_window(settings, entity, scope or default_scope(settings, logical_date))
    if not table_exists(settings, schema, table):
        missing = ExpectationOutcome(expectation_type="expect_table_to_exist", column=None,
                                     kwargs={"schema": schema, "table": table}, severity="critical",
                                     success=False, observed={"exists": False})
        result.outcomes = [replace(missing, message=f"{schema}.{table}: table does not exist [critical]")]
    else:
        query = None
        if result.batch is not None and result.batch.after_file_id > 0:   # the rows since the last publish
            query, rows = materialise_batch(settings, schema, table, result.batch)
        else:   # the whole table: scope full, or nothing published yet
            with psycopg.connect(settings.url("helhed")) as conn:
                rows = one_row(conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))))[0]
        if result.batch is not None:
            result.batch = replace(result.batch, rows=int(rows))
        docs_site = docs_dir(settings) / suite_stem(suite["name"]) if data_docs else None
        try:
            result.outcomes, result.data_docs = validate(settings, suite, schema, table, run_id, parameters,
                                                          docs_site, batch_query=query)
        finally:
            if query is not None:
                drop_batch(settings, schema, table)
        declared = _entity_of(table) if suite["name"].startswith("staging.") else None
        if declared is not None:   # the contract, generated from the specification, in any schema
            result.outcomes.extend(contract_checks(settings, declared, schema, table))
    if delivery_checks_enabled is None:
        delivery_checks_enabled = loader_staging
    if delivery_checks_enabled:
        result.outcomes.extend(delivery_checks(settings, table, schema=schema, batch=result.batch,
                                               logical_date=logical_date))
        if entity is not None and table_exists(settings, schema, table):
            result.outcomes.extend(drift_checks(settings, entity, schema, table, result.batch))
            result.outcomes.extend(coverage_checks(settings, entity, schema, table, result.batch))
    result.outcomes = [_redacted_outcome(o) for o in result.outcomes]
    result.duration_seconds = time.monotonic() - started
    write_audit(settings, result)
    (log.info if result.passed and not result.warnings else log.warning)("%s", result.summary())
    return result

