"""Quality gates: Great Expectations suites (``expectations/*.json``) run against live tables.

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
however many nights they were loaded over. Table-level expectations (row count, column set and
types) still look at the whole table. Each gate records the file ids it covered in
``audit.gate_batches``, and :func:`helhed.publish.publish` refuses to publish a file no passing
gate of the same run covered, so rows loaded on a night whose gate failed are validated again
the next night, never published unseen. Scope ``full`` (``HELHED_GATE_SCOPE=full`` or
``run_suite(..., scope="full")``) validates the whole table, e.g. for a weekly full check.

**Nothing a gate emits holds a CPR number.** Observed values, partial unexpected lists,
kwargs, messages and the Data Docs pages pass through :func:`helhed.redaction.redact_value`
before they are stored, logged or rendered; columns marked ``meta.redact_unexpected_values``
(pseudonym columns) show only the length of an unexpected value.

Great Expectations is imported lazily, so importing this module (e.g. from a DAG file) is cheap.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from helhed.config import REPO_ROOT, Settings
from helhed.redaction import redact, redact_value

log = logging.getLogger(__name__)

# GX logs (and under Airflow, structlog re-emits) a lot at INFO; keep our task logs readable.
for _name in ("great_expectations", "great_expectations.core", "great_expectations.datasource"):
    logging.getLogger(_name).setLevel(logging.WARNING)

SEVERITIES = ("critical", "warning")

#: The code list of benefit groups (a dbt seed with a column ``benefit_group``).
DEFAULT_BENEFIT_GROUPS_SEED = REPO_ROOT / "dbt_project" / "seeds" / "benefit_groups.csv"

#: Run-time parameters a suite may reference as ``{"$PARAMETER": name}``. Besides these, every
#: value code list under ``code_lists:`` in ``config/sources.yaml`` is a parameter of the same
#: name (the loader quarantines unknown codes with the same lists): see :func:`parameter_names`.
PARAMETERS = {
    "benefit_groups": "the codes in the benefit_group column of dbt_project/seeds/benefit_groups.csv",
    "today": "today's date (ISO format)",
}

#: Delivery checks run with every staging suite against the loader's ``staging`` schema.
DEFAULT_MAX_QUARANTINE_RATE = 0.01
#: A single quarantined row never fails the quarantine-rate check (1 bad line of a 12-line file is 8 %).
QUARANTINE_ROWS_TOLERATED = 1
#: Volume settings (``volume:`` of a source or entity in ``config/sources.yaml``): ``history``,
#: ``min_ratio`` and ``max_ratio`` for the row count of a delivery against the median of the
#: previous ones; ``empty`` the severity of a delivery without rows; ``every_days`` how often
#: the source delivers (None: no schedule, a missing delivery is never reported) and
#: ``missing`` the severity of a delivery that is overdue by that schedule.
DEFAULT_VOLUME: dict[str, Any] = {"history": 30, "min_ratio": 0.5, "max_ratio": 2.0, "empty": "critical",
                                  "every_days": None, "missing": "warning"}

#: ``since_publish``: rows loaded since the last publish; ``full``: the whole table.
SCOPES = ("since_publish", "full")
#: Expectations about the table as a whole (contract and size): always run on the whole table.
TABLE_LEVEL_EXPECTATIONS = frozenset({
    "expect_table_row_count_to_be_between", "expect_table_row_count_to_equal",
    "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
    "expect_table_column_count_to_equal", "expect_table_column_count_to_be_between",
    "expect_column_to_exist", "expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list",
})

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

#: Files whose too-high quarantine rate someone accepted (``helhed accept-file``), so that the
#: night can publish the file's good rows; created with ``audit.delivery_files`` present.
ACCEPTED_FILES_DDL = """
create table if not exists audit.accepted_files (
    file_id      bigint primary key references audit.delivery_files(file_id),
    reason       text not null,
    accepted_by  text not null,
    accepted_at  timestamptz not null default now()
);
"""

_PARTIAL_LIMIT = 20
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ExpectationOutcome:
    """The outcome of one expectation, as recorded in ``audit.gate_results``."""

    expectation_type: str
    column: str | None
    kwargs: dict[str, Any]
    severity: str
    success: bool
    observed: dict[str, Any]
    description: str | None = None
    message: str | None = None  # readable text for failures, None when the expectation passed


@dataclass(frozen=True)
class Batch:
    """What a staging gate covered: the entity's files after the last publication, or all of them.

    ``after_file_id`` is the highest ``audit.delivery_files.file_id`` the last publication
    covered (0 for scope ``full`` or before the first publication); ``through_file_id`` the
    entity's newest file when the gate ran. The gate validated the rows of every file in
    between (and rows no file explains); files up to ``after_file_id`` passed an earlier gate.
    """

    scope: str
    entity: str
    source: str
    after_file_id: int
    through_file_id: int
    files: int
    rows: int | None = None

    def describe(self) -> str:
        if self.scope == "full":
            return f"the whole table ({self.rows} rows)"
        if not self.files:
            return f"{self.rows} rows, no file loaded since the last publish (file id {self.after_file_id})"
        return (f"{self.rows} rows of {self.files} file(s) loaded since the last publish "
                f"(file ids {self.after_file_id + 1}-{self.through_file_id})")


@dataclass
class GateResult:
    """The outcome of running one suite against one table."""

    suite: str
    schema: str
    table: str
    run_id: str
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    checked_at: dt.datetime | None = None
    duration_seconds: float = 0.0
    data_docs: Path | None = None
    batch: Batch | None = None

    @property
    def passed(self) -> bool:
        """False if any critical expectation failed."""
        return not any(o.severity == "critical" and not o.success for o in self.outcomes)

    @property
    def failures(self) -> list[str]:
        """Readable messages for the failed critical expectations."""
        return [o.message or "" for o in self.outcomes if o.severity == "critical" and not o.success]

    @property
    def warnings(self) -> list[str]:
        """Readable messages for the failed warning expectations."""
        return [o.message or "" for o in self.outcomes if o.severity == "warning" and not o.success]

    def summary(self) -> str:
        ok = sum(o.success for o in self.outcomes)
        state = "passed" if self.passed else "FAILED"
        covered = f" over {self.batch.describe()}" if self.batch else ""
        return (f"gate {self.suite} on {self.schema}.{self.table}{covered} {state}: {ok}/{len(self.outcomes)} "
                f"expectations met, {len(self.failures)} critical failure(s), {len(self.warnings)} warning(s) "
                f"in {self.duration_seconds:.1f}s (run {self.run_id})")


class GateFailed(Exception):
    """One or more gates had a failed critical expectation."""

    def __init__(self, results: GateResult | Iterable[GateResult]):
        self.results = [results] if isinstance(results, GateResult) else list(results)
        failed = [r for r in self.results if not r.passed]
        lines = []
        for r in failed:
            lines.append(f"Quality gate {r.suite} failed on {r.schema}.{r.table} (run {r.run_id}): "
                         f"{len(r.failures)} critical expectation(s) failed:")
            lines.extend(f"  - {m}" for m in r.failures)
        lines.append("Details: audit.gate_results" + (f"; Data Docs: {failed[0].data_docs}" if failed and failed[0].data_docs else ""))
        super().__init__("\n".join(lines))


def enforce(result: GateResult | Iterable[GateResult]) -> GateResult | list[GateResult]:
    """Raise :class:`GateFailed` if the gate (or any of several gates) did not pass; else return it."""
    results = [result] if isinstance(result, GateResult) else list(result)
    if any(not r.passed for r in results):
        raise GateFailed(results)
    for r in results:
        for w in r.warnings:
            log.warning("gate warning: %s", w)
    return result if isinstance(result, GateResult) else results


# --------------------------------------------------------------------------- suites


def _stem(suite_name: str) -> str:
    name = suite_name.removesuffix(".json")
    return name.replace(".", "__", 1) if "." in name else name


def suite_path(suite_name: str, expectations_dir: Path | None = None) -> Path:
    """The file of a suite; ``suite_name`` may be the suite name (``staging.cpr__persons``) or the file stem."""
    directory = Path(expectations_dir) if expectations_dir else REPO_ROOT / "expectations"
    path = directory / f"{_stem(suite_name)}.json"
    if not path.exists():
        known = ", ".join(list_suites(directory)) or "none"
        raise FileNotFoundError(f"no expectation suite {suite_name!r} ({path}); known suites: {known}")
    return path


def list_suites(expectations_dir: Path | None = None) -> list[str]:
    """The names of the suites in ``expectations/``."""
    directory = Path(expectations_dir) if expectations_dir else REPO_ROOT / "expectations"
    names = []
    for path in sorted(directory.glob("*.json")):
        try:
            names.append(json.loads(path.read_text(encoding="utf-8"))["name"])
        except (ValueError, KeyError):
            continue
    return names


def load_suite(suite_name: str, expectations_dir: Path | None = None) -> dict[str, Any]:
    """Read and check a suite file: every expectation needs ``meta.severity`` critical or warning."""
    path = suite_path(suite_name, expectations_dir)
    suite = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(suite, dict) or not suite.get("name") or not isinstance(suite.get("expectations"), list):
        raise ValueError(f"{path}: not a GX expectation suite (needs 'name' and 'expectations')")
    for i, exp in enumerate(suite["expectations"]):
        severity = (exp.get("meta") or {}).get("severity")
        if severity not in SEVERITIES:
            raise ValueError(f"{path}: expectation #{i} ({exp.get('type')}) needs meta.severity "
                             f"'critical' or 'warning', not {severity!r}")
        if not exp.get("type") or not isinstance(exp.get("kwargs"), dict):
            raise ValueError(f"{path}: expectation #{i} needs 'type' and 'kwargs'")
    return suite


def benefit_groups(seed_path: Path | None = None) -> list[str]:
    """The benefit-group codes from the dbt seed (column ``benefit_group``)."""
    path = Path(seed_path) if seed_path else DEFAULT_BENEFIT_GROUPS_SEED
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if "benefit_group" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: no column 'benefit_group' (columns: {reader.fieldnames})")
        codes = [row["benefit_group"].strip() for row in reader if (row["benefit_group"] or "").strip()]
    if not codes:
        raise ValueError(f"{path}: no benefit groups")
    return codes


def _parameter_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return {value["$PARAMETER"]}
        return set().union(*(_parameter_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_parameter_names(v) for v in value)) if value else set()
    return set()


def _value_code_lists() -> dict[str, Any]:
    from helhed.parsing import code_lists

    return {name: cl for name, cl in code_lists().items() if cl.values is not None}


def parameter_names() -> list[str]:
    """Every name a suite may use as ``{"$PARAMETER": name}``."""
    return sorted(set(PARAMETERS) | set(_value_code_lists()))


def suite_parameters(suite: Mapping[str, Any], *, seed_path: Path | None = None,
                     today: dt.date | None = None) -> dict[str, Any]:
    """Values for the ``$PARAMETER`` references in a suite."""
    names = _parameter_names([e["kwargs"] for e in suite["expectations"]])
    lists = _value_code_lists() if names - set(PARAMETERS) else {}
    unknown = names - set(PARAMETERS) - set(lists)
    if unknown:
        known = sorted(set(PARAMETERS) | set(lists) | set(_value_code_lists()))
        raise ValueError(f"suite {suite['name']}: unknown $PARAMETER(s) {sorted(unknown)}; known: {known}")
    values: dict[str, Any] = {}
    for name in sorted(names - set(PARAMETERS)):
        values[name] = sorted(lists[name].values)
    if "benefit_groups" in names:
        values["benefit_groups"] = benefit_groups(seed_path)
    if "today" in names:
        values["today"] = (today or dt.date.today()).isoformat()
    return values


# --------------------------------------------------------------------------- audit


def ensure_audit_table(conn: psycopg.Connection) -> None:
    """Create ``audit.gate_results`` and ``audit.gate_batches`` if missing (safe when several gates start at once)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('helhed.audit.gate_results'))")
    conn.execute("create schema if not exists audit")
    conn.execute(AUDIT_TABLE_DDL)


def _write_audit(settings: Settings, result: GateResult) -> None:
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


# --------------------------------------------------------------------------- outcomes


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _column_of(kwargs: Mapping[str, Any]) -> str | None:
    if kwargs.get("column"):
        return str(kwargs["column"])
    if kwargs.get("column_A") or kwargs.get("column_B"):
        return f"{kwargs.get('column_A')},{kwargs.get('column_B')}"
    if kwargs.get("column_list"):
        return ",".join(map(str, kwargs["column_list"]))
    return None


def _exception_message(info: Any) -> str | None:
    """The first error GX caught while computing an expectation (flat or keyed by metric), shortened."""
    if not isinstance(info, Mapping):
        return None
    candidates = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, Mapping)]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            message = str(candidate.get("exception_message") or "exception").strip()
            first = message.split("\n[SQL:")[0].strip()
            return first if len(first) <= 500 else first[:497] + "..."
    return None


def _mask(value: Any) -> str:
    """A value of a column marked ``redact_unexpected_values`` (a pseudonym column): its length only."""
    return f"<redacted: {len(str(value))} characters>"


def _observed(expectation_type: str, result: Mapping[str, Any], exception: str | None, mask: bool) -> dict[str, Any]:
    if exception:
        return {"exception": redact(exception)}
    observed: dict[str, Any] = {}
    if "observed_value" in result:
        observed["observed_value"] = result["observed_value"]
        if expectation_type != "unexpected_rows_expectation" and result.get("details"):
            observed["details"] = result["details"]  # e.g. missing/unexpected columns; never data rows
    if "unexpected_count" in result:
        for key in ("element_count", "missing_count", "unexpected_count", "unexpected_percent"):
            if key in result:
                observed[key] = result[key]
        partial = list(result.get("partial_unexpected_list") or [])[:_PARTIAL_LIMIT]
        observed["partial_unexpected_list"] = [_mask(v) for v in partial] if mask else partial
    return redact_value(_jsonable(observed))


def _redacted_outcome(o: ExpectationOutcome) -> ExpectationOutcome:
    """The one place every outcome passes before it is recorded, logged or raised: CPR-like text
    in kwargs, observed values, descriptions and messages becomes :data:`helhed.redaction.CPR_MARKER`."""
    return replace(
        o, kwargs=redact_value(o.kwargs), observed=redact_value(o.observed),
        column=None if o.column is None else redact(o.column),
        description=None if o.description is None else redact(o.description),
        message=None if o.message is None else redact(o.message),
    )


def _redact_for_docs(r: Any, mask: bool) -> None:
    """Redact one GX ``ExpectationValidationResult`` in place before Data Docs render it."""
    if r.result:
        if mask:
            for key in ("partial_unexpected_list", "unexpected_list"):
                if key in r.result:
                    r.result[key] = [_mask(v) for v in r.result[key]]
            for key in ("partial_unexpected_counts", "partial_unexpected_index_list", "unexpected_index_list"):
                r.result.pop(key, None)
        if r.expectation_config is not None and r.expectation_config.type == "unexpected_rows_expectation":
            r.result.pop("details", None)   # person-level rows
        r.result = redact_value(_jsonable(r.result))
    if r.exception_info:
        r.exception_info = redact_value(_jsonable(r.exception_info))
    if r.expectation_config is not None:
        r.expectation_config.kwargs = redact_value(_jsonable(r.expectation_config.kwargs))
    if getattr(r, "rendered_content", None):
        r.rendered_content = None   # rendered from the unredacted values; Data Docs render again


def _describe(expectation_type: str, observed: Mapping[str, Any]) -> str:
    if "exception" in observed:
        return f"error: {observed['exception']}"
    if expectation_type == "unexpected_rows_expectation" and "observed_value" in observed:
        return f"{observed['observed_value']} unexpected row(s)"
    if "unexpected_count" in observed:
        text = f"{observed['unexpected_count']} of {observed.get('element_count', '?')} rows unexpected"
        if observed.get("unexpected_percent") is not None:
            text += f" ({observed['unexpected_percent']:.3g}% of non-null)"
        examples = list(dict.fromkeys(json.dumps(v, ensure_ascii=False) for v in observed.get("partial_unexpected_list", [])))
        if examples:
            text += ", e.g. " + ", ".join(examples[:5])
        return text
    if "observed_value" in observed:
        text = f"observed {json.dumps(observed['observed_value'], ensure_ascii=False)}"
        details = observed.get("details") or {}
        mismatched = details.get("mismatched") if isinstance(details, dict) else None
        if mismatched:
            text += f" (mismatched: {json.dumps(mismatched, ensure_ascii=False)})"
        return text
    return "failed"


def _message(schema: str, table: str, o: ExpectationOutcome) -> str:
    what = o.expectation_type
    if o.column:
        what += f" on column {o.column}" if "," not in o.column else f" on columns {o.column}"
    if o.description:
        what += f" ({o.description})"
    elif o.expectation_type in ("expect_column_values_to_be_in_set", "expect_column_values_to_match_regex",
                                "expect_column_values_to_be_between", "expect_column_values_to_be_of_type",
                                "expect_table_row_count_to_be_between"):
        spec = {k: v for k, v in o.kwargs.items() if k not in ("column", "batch_id")}
        what += f" {json.dumps(spec, ensure_ascii=False, default=str)}"
    return f"{schema}.{table}: {what} [{o.severity}] failed: {_describe(o.expectation_type, o.observed)}"


# --------------------------------------------------------------------------- running


def _with_schema(kwargs: dict[str, Any], schema: str) -> dict[str, Any]:
    """Replace ``{schema}`` in an unexpected_rows_query by the schema being validated."""
    query = kwargs.get("unexpected_rows_query")
    if not isinstance(query, str) or "{schema}" not in query:
        return kwargs
    return {**kwargs, "unexpected_rows_query": query.replace("{schema}", schema)}


def _table_exists(settings: Settings, schema: str, table: str) -> bool:
    with psycopg.connect(settings.url("helhed")) as conn:
        row = conn.execute("select to_regclass(%s)", [sql.Identifier(schema, table).as_string(conn)]).fetchone()
    return bool(row and row[0])


def _docs_dir(settings: Settings) -> Path:
    return settings.home / "data_docs"


#: Data Docs hold validation results: readable by their owner only.
DOCS_DIR_MODE, DOCS_FILE_MODE = 0o700, 0o600


def restrict_modes(root: Path, dir_mode: int = DOCS_DIR_MODE, file_mode: int = DOCS_FILE_MODE) -> None:
    """Give ``root`` and everything under it owner-only modes (GX writes with the process umask)."""
    if not root.exists():
        return
    root.chmod(dir_mode)
    for path in root.rglob("*"):
        if path.is_symlink():
            continue
        path.chmod(dir_mode if path.is_dir() else file_mode)


def _write_docs_index(root: Path) -> None:
    """A landing page linking each suite's Data Docs site (each site shows its latest run)."""
    links = []
    for site in sorted(p for p in root.iterdir() if (p / "index.html").exists()):
        links.append(f'<li><a href="{html.escape(site.name)}/index.html">{html.escape(site.name)}</a></li>')
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>helhed quality gates</title></head><body>"
            "<h1>helhed quality gates</h1><p>Latest validation per suite. History: <code>audit.gate_results</code>.</p>"
            f"<ul>{''.join(links)}</ul></body></html>\n")
    tmp = root / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, root / "index.html")


def _outcomes_of(results: Any, source: Mapping[str, tuple[int, Any]], schema: str,
                 table: str) -> list[tuple[int, ExpectationOutcome]]:
    """Our outcomes (with their position in the suite file) from a GX validation; redacts the
    GX results in place, so the Data Docs built from them hold no CPR-like value either."""
    ordered: list[tuple[int, ExpectationOutcome]] = []
    for r in results.results:
        config = r.expectation_config
        index, original = source.get(config.id, (len(source), None))
        meta = dict((original.meta if original is not None else config.meta) or {})
        severity = meta.get("severity", "critical")
        mask = bool(meta.get("redact_unexpected_values"))
        exception = _exception_message(r.exception_info)
        kwargs = _jsonable({k: v for k, v in config.kwargs.items() if k != "batch_id"})
        outcome = ExpectationOutcome(
            expectation_type=config.type,
            column=_column_of(kwargs),
            kwargs=redact_value(kwargs),
            severity=severity,
            success=bool(r.success) and exception is None,
            observed=_observed(config.type, r.result or {}, exception, mask),
            description=getattr(original, "description", None) or config.description,
        )
        if not outcome.success:
            outcome = replace(outcome, message=_message(schema, table, outcome))
        ordered.append((index, _redacted_outcome(outcome)))
        _redact_for_docs(r, mask)
    return ordered


def _validate(settings: Settings, suite: dict[str, Any], schema: str, table: str, run_id: str,
              parameters: dict[str, Any], docs_site: Path | None,
              batch_query: str | None = None) -> tuple[list[ExpectationOutcome], Path | None]:
    """Run ``suite`` on ``schema.table`` with an ephemeral GX context; return outcomes in suite order.

    With ``batch_query`` (a ``select`` of the rows to check) the suite runs in two parts: the
    table-level expectations (:data:`TABLE_LEVEL_EXPECTATIONS`) on the whole table, the rest on
    a GX query asset over ``batch_query``. Each part is its own GX suite (``<suite>.table`` and
    ``<suite>.rows``) in the Data Docs.
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    sites = {}
    if docs_site is not None:
        sites["helhed"] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            data_docs_sites=sites,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            analytics_enabled=False,
        ),
    )
    # meta.severity is our single source of truth; mirror it into GX's own severity field.
    expectations = [{**e, "severity": e["meta"]["severity"], "kwargs": _with_schema(e["kwargs"], schema)}
                    for e in suite["expectations"]]
    everything = list(range(len(expectations)))
    if batch_query is None:
        parts = [(suite["name"], everything, None)]
    else:
        table_level = [i for i in everything if expectations[i]["type"] in TABLE_LEVEL_EXPECTATIONS]
        rows = [i for i in everything if i not in table_level]
        parts = [(f"{suite['name']}.table", table_level, None), (f"{suite['name']}.rows", rows, batch_query)]
        parts = [p for p in parts if p[1]]

    # GX 1.14+ wants the schema in the connection, not on the asset: for PostgreSQL, the search_path.
    datasource = context.data_sources.add_postgres(
        name="helhed", connection_string=settings.url("helhed", driver="postgresql+psycopg"),
        kwargs={"connect_args": {"options": f"-c search_path={schema}"}})
    store = context.validation_results_store
    ordered: list[tuple[int, ExpectationOutcome]] = []
    suite_names, result_keys = [], []
    try:
        for name, indices, query in parts:
            gx_suite = context.suites.add(gx.ExpectationSuite(
                name=name, expectations=[expectations[i] for i in indices],
                meta=suite.get("meta") or {}, notes=suite.get("notes")))
            source = {e.id: (indices[k], e) for k, e in enumerate(gx_suite.expectations)}
            if query is None:
                asset = datasource.add_table_asset(name=f"{schema}.{table}", table_name=table)
            else:
                asset = datasource.add_query_asset(name=f"{schema}.{table} since the last publish", query=query)
            batch = asset.add_batch_definition_whole_table("batch")
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"{name} on {schema}.{table}", data=batch, suite=gx_suite))
            before = set(store.list_keys())
            gx_run_id = RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.timezone.utc))
            results = validation.run(expectation_parameters=parameters, result_format="SUMMARY", run_id=gx_run_id)
            ordered.extend(_outcomes_of(results, source, schema, table))
            for key in set(store.list_keys()) - before:
                store.set(key, results)   # the redacted copy
                result_keys.append(key)
            suite_names.append(name)
    finally:
        try:
            datasource.get_execution_engine().close()
        except Exception:  # pragma: no cover - best effort
            pass
    outcomes = [o for _, o in sorted(ordered, key=lambda pair: pair[0])]

    docs_index = None
    if docs_site is not None:
        try:
            context.build_data_docs(resource_identifiers=[
                *result_keys, *(ExpectationSuiteIdentifier(name=n) for n in suite_names)])
            docs_index = docs_site / "index.html"
            _write_docs_index(docs_site.parent)
            restrict_modes(docs_site.parent)
        except Exception as exc:  # Data Docs are a convenience; never fail a gate over them
            log.warning("could not build Data Docs for %s: %s", suite["name"], redact(exc))
    return outcomes, docs_index


# --------------------------------------------------------------------------- what a gate covers


def _entity_of(table: str):
    """The declared entity whose staging table is ``<source>__<entity>``, or None."""
    from helhed.sources import get_entity

    source, sep, name = table.partition("__")
    if not sep:
        return None
    try:
        return get_entity(f"{source}.{name}")
    except KeyError:
        return None


def default_scope() -> str:
    """The scope of staging gates: ``HELHED_GATE_SCOPE`` (``since_publish`` unless set to ``full``)."""
    scope = os.environ.get("HELHED_GATE_SCOPE", "since_publish").strip() or "since_publish"
    if scope not in SCOPES:
        raise ValueError(f"HELHED_GATE_SCOPE must be one of {SCOPES}, not {scope!r}")
    return scope


def delivery_window(settings: Settings, entity, scope: str = "since_publish") -> Batch:
    """The files of ``entity`` a staging gate covers now (rows counted by :func:`_batch_query`'s caller).

    ``since_publish``: the files after the highest file id the last publication covered; ``full``:
    all of them.
    """
    from helhed.publish import published_through

    with psycopg.connect(settings.url("helhed")) as conn:
        after = 0 if scope == "full" else published_through(conn)
        if conn.execute("select to_regclass('audit.delivery_files')").fetchone()[0] is None:
            return Batch(scope, entity.id, entity.source, after, after, 0)
        through, files = conn.execute(
            "select coalesce(max(file_id), 0), count(*) filter (where file_id > %s) "
            "from audit.delivery_files where entity = %s", (after, entity.id)).fetchone()
    return Batch(scope, entity.id, entity.source, after, int(through), int(files))


def _batch_query(conn: psycopg.Connection, schema: str, table: str, batch: Batch) -> str:
    """``select`` of the staging rows not covered by the last publication: rows whose file has a
    file id above ``after_file_id``, and rows no delivered file explains (never published either).

    Rows carry their file as ``source_file`` (``<folder>/<file name>``, as in
    ``audit.delivery_files.file_name``). A name can belong to more than one file (CPR-like parts
    of names are masked, so two names may read the same): a row counts as new when the newest
    file of its name is, which errs towards checking a row again rather than not at all.
    """
    return sql.SQL(
        "select t.* from {table} as t left join (select file_name, max(file_id) as newest "
        "from audit.delivery_files where source = {source} group by file_name) as f on f.file_name = t.source_file "
        "where f.newest is null or f.newest > {after}"
    ).format(table=sql.Identifier(schema, table), source=sql.Literal(batch.source),
             after=sql.Literal(batch.after_file_id)).as_string(conn)


# --------------------------------------------------------------------------- delivery checks


def _delivery_settings(entity) -> tuple[float, dict[str, Any]]:
    from helhed.parsing import entity_rules

    rules = entity_rules(entity)
    rate = DEFAULT_MAX_QUARANTINE_RATE if rules.max_quarantine_rate is None else rules.max_quarantine_rate
    unknown = set(rules.volume) - set(DEFAULT_VOLUME)
    if unknown:
        raise ValueError(f"{entity.id}: unknown volume setting(s) {sorted(unknown)}; known: {sorted(DEFAULT_VOLUME)}")
    volume = {**DEFAULT_VOLUME, **rules.volume}
    for key in ("empty", "missing"):
        if volume[key] not in SEVERITIES:
            raise ValueError(f"{entity.id}: volume.{key} must be one of {SEVERITIES}, not {volume[key]!r}")
    every = volume["every_days"]
    if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
        raise ValueError(f"{entity.id}: volume.every_days must be a whole number of days >= 1 or null, not {every!r}")
    return rate, volume


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0.0
    return float(ordered[n // 2]) if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _delivery_outcome(schema: str, table: str, expectation_type: str, severity: str, success: bool,
                      kwargs: dict[str, Any], observed: dict[str, Any], description: str, failure: str) -> ExpectationOutcome:
    outcome = ExpectationOutcome(expectation_type=expectation_type, column=None, kwargs=_jsonable(kwargs),
                                 severity=severity, success=success, observed=_jsonable(observed),
                                 description=description)
    if not success:
        outcome = replace(outcome, message=f"{schema}.{table}: {expectation_type} ({description}) [{severity}] failed: {failure}")
    return _redacted_outcome(outcome)


@dataclass(frozen=True)
class _Delivery:
    day: dt.date
    files: int           # all files of the folder date, loaded or rejected
    rows: int            # rows delivered in its loaded files
    new: bool            # a file of it was loaded after the last publication


def _read_deliveries(conn: psycopg.Connection, entity_id: str, batch: Batch) -> tuple[list[_Delivery], list[tuple], set[int]]:
    """Every delivery (folder date) of the entity up to the batch, the batch's files, and accepted file ids."""
    deliveries = [_Delivery(day, int(files), int(rows), bool(new)) for day, files, rows, new in conn.execute(
        "select delivery_date, count(*), coalesce(sum(rows_delivered) filter (where status = 'loaded'), 0), "
        "bool_or(file_id > %s) from audit.delivery_files where entity = %s and file_id <= %s "
        "group by delivery_date order by delivery_date", (batch.after_file_id, entity_id, batch.through_file_id))]
    files = conn.execute(
        "select file_id, file_name, status, rows_delivered, rows_quarantined, rejection, delivery_date "
        "from audit.delivery_files where entity = %s and file_id > %s and file_id <= %s order by file_id",
        (entity_id, batch.after_file_id, batch.through_file_id)).fetchall()
    accepted: set[int] = set()
    if files and conn.execute("select to_regclass('audit.accepted_files')").fetchone()[0] is not None:
        accepted = {r[0] for r in conn.execute("select file_id from audit.accepted_files where file_id = any(%s)",
                                               ([f[0] for f in files],))}
    return deliveries, files, accepted


def _volume_outcomes(schema: str, table: str, entity_id: str, volume: dict[str, Any], deliveries: list[_Delivery],
                     logical_date: dt.date | None) -> list[ExpectationOutcome]:
    """Row volume, empty deliveries and overdue deliveries, for every delivery since the last publish."""
    history = int(volume["history"])
    base = {"entity": entity_id}
    new, checked = [d for d in deliveries if d.new], []
    for d in new:
        previous = [p.rows for p in deliveries if p.day < d.day][-history:]
        median = _median(previous)
        lo, hi = float(volume["min_ratio"]) * median, float(volume["max_ratio"]) * median
        checked.append({"delivery_date": d.day.isoformat(), "files": d.files, "rows": d.rows,
                        "median_of_previous": median, "previous_deliveries": len(previous),
                        "ratio": round(d.rows / median, 4) if median else None,
                        "in_range": not previous or lo <= d.rows <= hi, "lo": lo, "hi": hi})
    newest = checked[-1] if checked else None
    observed = {k: newest[k] for k in ("rows", "median_of_previous", "previous_deliveries", "ratio")} if newest else {}
    observed["deliveries"] = [{k: v for k, v in c.items() if k not in ("lo", "hi")} for c in checked]
    out_of_range = [c for c in checked if not c["in_range"]]
    outcomes = [_delivery_outcome(
        schema, table, "expect_delivery_row_count_to_be_near_history", "warning", not out_of_range,
        {**base, "history": history, "min_ratio": volume["min_ratio"], "max_ratio": volume["max_ratio"]}, observed,
        f"row volume of each delivery since the last publish against the {history} before it",
        "; ".join(f"{c['rows']} rows delivered on {c['delivery_date']}, outside [{c['lo']:g}, {c['hi']:g}] "
                  f"({volume['min_ratio']}-{volume['max_ratio']} x the median {c['median_of_previous']:g} "
                  f"of {c['previous_deliveries']} previous deliveries)" for c in out_of_range))]

    # Empty: a delivery without rows where the deliveries before it had some. Only the newest
    # delivery's emptiness carries volume.empty: an empty one followed by one with rows is a warning.
    empty = [c for c in checked if c["rows"] == 0 and c["median_of_previous"] > 0]
    severity = volume["empty"] if empty and empty[-1] is newest else "warning"
    outcomes.append(_delivery_outcome(
        schema, table, "expect_delivery_to_have_rows", severity, not empty,
        {**base, "empty": volume["empty"]},
        {"empty_deliveries": [c["delivery_date"] for c in empty], "deliveries_since_publish": len(checked)},
        "a delivery that normally has rows is not empty",
        "; ".join(f"the delivery of {c['delivery_date']} ({c['files']} file(s)) has no rows in a loaded file; "
                  f"the previous {c['previous_deliveries']} deliveries had a median of {c['median_of_previous']:g} rows"
                  for c in empty)
        + ("" if severity == volume["empty"] else " (a later delivery has rows)")))

    # Missing: nothing delivered for longer than the source's schedule (only with a schedule and a logical date).
    every = volume["every_days"]
    newest_day = deliveries[-1].day if deliveries else None
    overdue = (every is not None and logical_date is not None
               and (newest_day is None or (logical_date - newest_day).days > every))
    outcomes.append(_delivery_outcome(
        schema, table, "expect_delivery_to_arrive", volume["missing"], not overdue,
        {**base, "every_days": every, "logical_date": logical_date.isoformat() if logical_date else None},
        {"newest_delivery": newest_day.isoformat() if newest_day else None, "new_deliveries": len(checked),
         "days_since": (logical_date - newest_day).days if logical_date and newest_day else None},
        "the source delivers on its schedule (a missing delivery, unlike an empty one, has no file)",
        f"no delivery of {entity_id} " + (f"since {newest_day}" if newest_day else "at all")
        + (f", {(logical_date - newest_day).days} days before {logical_date}" if newest_day and logical_date else "")
        + f"; expected every {every} day(s)"))
    return outcomes


def _file_outcomes(schema: str, table: str, entity_id: str, max_rate: float, files: list[tuple],
                   accepted: set[int]) -> list[ExpectationOutcome]:
    """Quarantine rate of every loaded file and the rejected files, since the last publish."""
    base = {"entity": entity_id}
    rates, over = [], []
    for file_id, name, status, delivered, quarantined, _, _ in files:
        if status != "loaded":
            continue
        rate = quarantined / delivered if delivered else 0.0
        entry = {"file_id": file_id, "file": name, "delivered": delivered, "quarantined": quarantined,
                 "rate": round(rate, 4)}
        rates.append(entry)
        if rate > max_rate and quarantined > QUARANTINE_ROWS_TOLERATED and file_id not in accepted:
            over.append(entry)
    outcomes = [_delivery_outcome(
        schema, table, "expect_file_quarantine_rate_to_be_below", "critical", not over,
        {**base, "max_quarantine_rate": max_rate},
        {"files": rates, "over_threshold": [{k: v for k, v in o.items() if k != "file_id"} for o in over],
         "accepted": sorted(accepted)},
        f"quarantined share of each file at most {max_rate:g}",
        "; ".join(f"{o['file']} (file id {o['file_id']}): {o['quarantined']} of {o['delivered']} rows quarantined "
                  f"({o['rate']:.2%})" for o in over)
        + " (see landing.quarantine for the lines and rules; `helhed accept-file` publishes the file's good rows)")]
    rejected = [{"file": n, "rejection": (r or "").split(":")[0]} for _, n, s, _, _, r, _ in files if s == "rejected"]
    outcomes.append(_delivery_outcome(
        schema, table, "expect_no_rejected_files", "warning", not rejected, base, {"rejected": rejected},
        "every file delivered since the last publish was loaded",
        "; ".join(f"{r['file']} rejected ({r['rejection']})" for r in rejected)
        + " (see audit.delivery_files.rejection)"))
    return outcomes


def delivery_checks(settings: Settings, table: str, *, schema: str = "staging", batch: Batch | None = None,
                    logical_date: dt.date | None = None) -> list[ExpectationOutcome]:
    """The volume and quarantine checks of every delivery of the entity behind ``table`` since the last publish.

    Read from ``audit.delivery_files`` (one row per delivered file, see :mod:`helhed.loading`);
    a *delivery* is the entity's files of one folder date. For the deliveries with a file loaded
    after the last publication (``batch``, default :func:`delivery_window`), back-dated folders
    and several nights' backlog included:

    - ``expect_delivery_row_count_to_be_near_history`` (warning): the rows of each delivery lie
      within [``min_ratio`` × median, ``max_ratio`` × median] of the ``history`` deliveries before it.
    - ``expect_delivery_to_have_rows`` (``volume.empty``, default critical): no delivery of an
      entity that normally has rows (median of the deliveries before it > 0) is empty. Only the
      newest delivery's emptiness carries ``volume.empty``; an empty one followed by one with
      rows is a warning, so one quiet day never blocks a later night.
    - ``expect_delivery_to_arrive`` (``volume.missing``, default warning): with
      ``volume.every_days`` and a ``logical_date``, the newest delivery is at most that many days
      old. A missing delivery (no file) is told apart from an empty one (a file without rows).
    - ``expect_file_quarantine_rate_to_be_below`` (critical): in every loaded file,
      quarantined / delivered rows <= ``max_quarantine_rate`` (a single quarantined row is
      tolerated, and so is a file listed in ``audit.accepted_files``).
    - ``expect_no_rejected_files`` (warning): no file was rejected.

    Settings come from ``config/sources.yaml`` (entity, then source), defaults from this module.
    """
    entity = _entity_of(table)
    if entity is None:
        return []
    max_rate, volume = _delivery_settings(entity)
    batch = batch or delivery_window(settings, entity)
    with psycopg.connect(settings.url("helhed")) as conn:
        if conn.execute("select to_regclass('audit.delivery_files')").fetchone()[0] is None:
            deliveries, files, accepted = [], [], set()
        else:
            deliveries, files, accepted = _read_deliveries(conn, entity.id, batch)
    return [*_volume_outcomes(schema, table, entity.id, volume, deliveries, logical_date),
            *_file_outcomes(schema, table, entity.id, max_rate, files, accepted)]


def accept_file(settings: Settings, file_id: int, reason: str, accepted_by: str) -> dict[str, Any]:
    """Accept a loaded file's quarantine rate, so the next gate lets its good rows through.

    For a file whose share of quarantined rows is above the threshold but whose loaded rows
    should be published anyway (the source cannot resend it soon); the reason is kept in
    ``audit.accepted_files``. Its quarantined rows stay in ``landing.quarantine``.
    """
    if not reason.strip():
        raise ValueError("give a reason for accepting the file")
    with psycopg.connect(settings.url("helhed")) as conn, conn.transaction():
        row = conn.execute("select file_name, entity, status, rows_delivered, rows_quarantined "
                           "from audit.delivery_files where file_id = %s", (file_id,)).fetchone()
        if row is None:
            raise ValueError(f"no delivered file with file id {file_id} in audit.delivery_files")
        if row[2] != "loaded":
            raise ValueError(f"file id {file_id} ({redact(row[0])}) was rejected, not loaded: nothing to accept")
        conn.execute(ACCEPTED_FILES_DDL)
        conn.execute("insert into audit.accepted_files (file_id, reason, accepted_by) values (%s, %s, %s) "
                     "on conflict (file_id) do update set reason = excluded.reason, accepted_by = excluded.accepted_by, "
                     "accepted_at = now()", (file_id, redact(reason), accepted_by))
    return {"file_id": file_id, "file": redact(row[0]), "entity": row[1], "delivered": row[3], "quarantined": row[4]}


# --------------------------------------------------------------------------- running


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
    quarantine rate, rejected files) over the same files; ``delivery_checks_enabled`` forces
    those on or off. Any other schema (marts in ``build_marts``, test schemas) is validated whole.

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
    suite = load_suite(suite_name, expectations_dir)
    parameters = suite_parameters(suite, seed_path=seed_path, today=today)
    result = GateResult(suite=suite["name"], schema=schema, table=table, run_id=run_id,
                        checked_at=dt.datetime.now(dt.timezone.utc))
    loader_staging = schema == "staging" and suite["name"].startswith("staging.")
    entity = _entity_of(table) if loader_staging else None
    if entity is not None:
        result.batch = delivery_window(settings, entity, scope or default_scope())
    if not _table_exists(settings, schema, table):
        missing = ExpectationOutcome(expectation_type="expect_table_to_exist", column=None,
                                     kwargs={"schema": schema, "table": table}, severity="critical",
                                     success=False, observed={"exists": False})
        result.outcomes = [replace(missing, message=f"{schema}.{table}: table does not exist [critical]")]
    else:
        query = None
        with psycopg.connect(settings.url("helhed")) as conn:
            if result.batch is not None and result.batch.after_file_id > 0:
                query = _batch_query(conn, schema, table, result.batch)
                rows = conn.execute(f"select count(*) from ({query}) as batch").fetchone()[0]
            else:   # the whole table: scope full, or nothing published yet
                rows = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))).fetchone()[0]
        if result.batch is not None:
            result.batch = replace(result.batch, rows=int(rows))
        docs_site = _docs_dir(settings) / _stem(suite["name"]) if data_docs else None
        result.outcomes, result.data_docs = _validate(settings, suite, schema, table, run_id, parameters, docs_site,
                                                      batch_query=query)
    if delivery_checks_enabled is None:
        delivery_checks_enabled = loader_staging
    if delivery_checks_enabled:
        result.outcomes.extend(delivery_checks(settings, table, schema=schema, batch=result.batch,
                                               logical_date=logical_date))
    result.outcomes = [_redacted_outcome(o) for o in result.outcomes]
    result.duration_seconds = time.monotonic() - started
    _write_audit(settings, result)
    (log.info if result.passed and not result.warnings else log.warning)("%s", result.summary())
    return result
