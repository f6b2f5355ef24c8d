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
DEFAULT_VOLUME = {"history": 30, "min_ratio": 0.5, "max_ratio": 2.0, "empty": "critical"}

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
        return (f"gate {self.suite} on {self.schema}.{self.table} {state}: {ok}/{len(self.outcomes)} expectations met, "
                f"{len(self.failures)} critical failure(s), {len(self.warnings)} warning(s) "
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
    """Create ``audit.gate_results`` if missing (safe when several gates start at once)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('helhed.audit.gate_results'))")
    conn.execute("create schema if not exists audit")
    conn.execute(AUDIT_TABLE_DDL)


def _write_audit(settings: Settings, result: GateResult) -> None:
    rows = [
        (result.run_id, result.suite, result.schema, result.table, o.expectation_type, o.column,
         Jsonb(o.kwargs), o.severity, o.success, Jsonb(o.observed), o.message, result.checked_at)
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


def _redact(value: Any) -> str:
    return f"<redacted: {len(str(value))} characters>"


def _observed(expectation_type: str, result: Mapping[str, Any], exception: str | None, redact: bool) -> dict[str, Any]:
    if exception:
        return {"exception": exception}
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
        observed["partial_unexpected_list"] = [_redact(v) for v in partial] if redact else partial
    return _jsonable(observed)


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


def _validate(settings: Settings, suite: dict[str, Any], schema: str, table: str, run_id: str,
              parameters: dict[str, Any], docs_site: Path | None) -> tuple[list[ExpectationOutcome], Path | None]:
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
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite["name"], expectations=expectations,
                                                      meta=suite.get("meta") or {}, notes=suite.get("notes")))
    source = {e.id: (i, e) for i, e in enumerate(gx_suite.expectations)}

    # GX 1.14+ wants the schema in the connection, not on the asset: for PostgreSQL, the search_path.
    datasource = context.data_sources.add_postgres(
        name="helhed", connection_string=settings.url("helhed", driver="postgresql+psycopg"),
        kwargs={"connect_args": {"options": f"-c search_path={schema}"}})
    try:
        asset = datasource.add_table_asset(name=f"{schema}.{table}", table_name=table)
        batch = asset.add_batch_definition_whole_table("whole_table")
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite['name']} on {schema}.{table}", data=batch, suite=gx_suite))
        gx_run_id = RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.timezone.utc))
        results = validation.run(expectation_parameters=parameters, result_format="SUMMARY", run_id=gx_run_id)
    finally:
        try:
            datasource.get_execution_engine().close()
        except Exception:  # pragma: no cover - best effort
            pass

    ordered: list[tuple[int, ExpectationOutcome]] = []
    for r in results.results:
        config = r.expectation_config
        index, original = source.get(config.id, (len(source), None))
        meta = dict((original.meta if original is not None else config.meta) or {})
        severity = meta.get("severity", "critical")
        redact = bool(meta.get("redact_unexpected_values"))
        exception = _exception_message(r.exception_info)
        kwargs = _jsonable({k: v for k, v in config.kwargs.items() if k != "batch_id"})
        outcome = ExpectationOutcome(
            expectation_type=config.type,
            column=_column_of(kwargs),
            kwargs=kwargs,
            severity=severity,
            success=bool(r.success) and exception is None,
            observed=_observed(config.type, r.result or {}, exception, redact),
            description=getattr(original, "description", None) or config.description,
        )
        if not outcome.success:
            outcome = replace(outcome, message=_message(schema, table, outcome))
        ordered.append((index, outcome))
        # Keep redacted values and person-level rows out of the Data Docs as well.
        if r.result:
            if redact:
                for key in ("partial_unexpected_list", "unexpected_list"):
                    if key in r.result:
                        r.result[key] = [_redact(v) for v in r.result[key]]
                for key in ("partial_unexpected_counts", "partial_unexpected_index_list", "unexpected_index_list"):
                    r.result.pop(key, None)
            if config.type == "unexpected_rows_expectation":
                r.result.pop("details", None)
    outcomes = [o for _, o in sorted(ordered, key=lambda pair: pair[0])]

    docs_index = None
    if docs_site is not None:
        try:
            store = context.validation_results_store
            keys = store.list_keys()
            for key in keys:
                store.set(key, results)  # the redacted copy
            context.build_data_docs(resource_identifiers=[*keys, ExpectationSuiteIdentifier(name=suite["name"])])
            docs_index = docs_site / "index.html"
            _write_docs_index(docs_site.parent)
        except Exception as exc:  # Data Docs are a convenience; never fail a gate over them
            log.warning("could not build Data Docs for %s: %s", suite["name"], exc)
    return outcomes, docs_index


# --------------------------------------------------------------------------- delivery checks


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


def _delivery_settings(entity) -> tuple[float, dict[str, Any]]:
    from helhed.parsing import entity_rules

    rules = entity_rules(entity)
    rate = DEFAULT_MAX_QUARANTINE_RATE if rules.max_quarantine_rate is None else rules.max_quarantine_rate
    volume = {**DEFAULT_VOLUME, **rules.volume}
    if volume["empty"] not in SEVERITIES:
        raise ValueError(f"{entity.id}: volume.empty must be one of {SEVERITIES}, not {volume['empty']!r}")
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
    return outcome


def delivery_checks(settings: Settings, table: str, *, schema: str = "staging") -> list[ExpectationOutcome]:
    """The volume and quarantine checks of the newest delivery of the entity behind ``table``.

    Read from ``audit.delivery_files`` (one row per delivered file, see :mod:`helhed.loading`):

    - ``expect_delivery_row_count_to_be_near_history`` (warning): the rows delivered in the
      newest delivery (files loaded, quarantined rows included) lie within
      [``min_ratio`` × median, ``max_ratio`` × median] of the previous ``history`` deliveries.
    - ``expect_delivery_to_have_rows`` (``volume.empty``, default critical): a delivery of an
      entity that normally has rows (median of the previous deliveries > 0) is not empty.
    - ``expect_file_quarantine_rate_to_be_below`` (critical): in every loaded file of the
      newest delivery, quarantined / delivered rows <= ``max_quarantine_rate`` (a single
      quarantined row is tolerated).
    - ``expect_no_rejected_files`` (warning): no file of the newest delivery was rejected.

    Settings come from ``config/sources.yaml`` (entity, then source), defaults from this module.
    """
    entity = _entity_of(table)
    if entity is None:
        return []
    max_rate, volume = _delivery_settings(entity)
    history = int(volume["history"])
    with psycopg.connect(settings.url("helhed")) as conn:
        exists = conn.execute("select to_regclass('audit.delivery_files')").fetchone()[0]
        deliveries = [] if not exists else conn.execute(
            "select delivery_date, coalesce(sum(rows_delivered) filter (where status = 'loaded'), 0)::bigint "
            "from audit.delivery_files where entity = %s group by delivery_date order by delivery_date desc limit %s",
            (entity.id, history + 1),
        ).fetchall()
        files = [] if not deliveries else conn.execute(
            "select file_name, status, rows_delivered, rows_quarantined, rejection from audit.delivery_files "
            "where entity = %s and delivery_date = %s order by file_name",
            (entity.id, deliveries[0][0]),
        ).fetchall()
    base = {"entity": entity.id}
    if not deliveries:
        observed = {"deliveries": 0}
        return [
            _delivery_outcome(schema, table, "expect_delivery_row_count_to_be_near_history", "warning", True,
                              {**base, "history": history}, observed, "row volume against the last deliveries", ""),
            _delivery_outcome(schema, table, "expect_delivery_to_have_rows", volume["empty"], True, base, observed,
                              "a delivery that normally has rows is not empty", ""),
            _delivery_outcome(schema, table, "expect_file_quarantine_rate_to_be_below", "critical", True,
                              {**base, "max_quarantine_rate": max_rate}, observed, "quarantined share of each file", ""),
            _delivery_outcome(schema, table, "expect_no_rejected_files", "warning", True, base, observed,
                              "every file of the delivery was loaded", ""),
        ]
    day, rows = deliveries[0][0], int(deliveries[0][1])
    previous = [int(r[1]) for r in deliveries[1:]]
    median = _median(previous)
    base["delivery_date"] = day.isoformat()
    lo, hi = float(volume["min_ratio"]) * median, float(volume["max_ratio"]) * median
    observed = {"rows": rows, "median_of_previous": median, "previous_deliveries": len(previous),
                "ratio": round(rows / median, 4) if median else None}
    in_range = not previous or lo <= rows <= hi
    outcomes = [
        _delivery_outcome(
            schema, table, "expect_delivery_row_count_to_be_near_history", "warning", in_range,
            {**base, "history": history, "min_ratio": volume["min_ratio"], "max_ratio": volume["max_ratio"]}, observed,
            f"row volume against the last {history} deliveries",
            f"{rows} rows delivered on {day}, outside [{lo:g}, {hi:g}] "
            f"({volume['min_ratio']}-{volume['max_ratio']} x the median {median:g} of {len(previous)} previous deliveries)"),
        _delivery_outcome(
            schema, table, "expect_delivery_to_have_rows", volume["empty"], not (rows == 0 and median > 0),
            base, observed, "a delivery that normally has rows is not empty",
            f"the delivery of {day} has no rows in a loaded file; the previous {len(previous)} deliveries had a median of {median:g} rows"),
    ]
    over = []
    for name, status, delivered, quarantined, _ in files:
        if status != "loaded" or not delivered:
            continue
        rate = quarantined / delivered
        if rate > max_rate and quarantined > QUARANTINE_ROWS_TOLERATED:
            over.append({"file": name, "delivered": delivered, "quarantined": quarantined, "rate": round(rate, 4)})
    rates = [{"file": n, "delivered": d, "quarantined": q, "rate": round(q / d, 4) if d else 0.0}
             for n, s, d, q, _ in files if s == "loaded"]
    outcomes.append(_delivery_outcome(
        schema, table, "expect_file_quarantine_rate_to_be_below", "critical", not over,
        {**base, "max_quarantine_rate": max_rate}, {"files": rates, "over_threshold": over},
        f"quarantined share of each file at most {max_rate:g}",
        "; ".join(f"{o['file']}: {o['quarantined']} of {o['delivered']} rows quarantined ({o['rate']:.2%})" for o in over)
        + " (see landing.quarantine for the lines and rules)"))
    rejected = [{"file": n, "rejection": (r or "").split(":")[0]} for n, s, _, _, r in files if s == "rejected"]
    outcomes.append(_delivery_outcome(
        schema, table, "expect_no_rejected_files", "warning", not rejected, base, {"rejected": rejected},
        "every file of the delivery was loaded",
        "; ".join(f"{r['file']} rejected ({r['rejection']})" for r in rejected)
        + " (see audit.delivery_files.rejection)"))
    return outcomes


def run_suite(settings: Settings, suite_name: str, schema: str, table: str, run_id: str, *,
              seed_path: Path | None = None, expectations_dir: Path | None = None,
              data_docs: bool = True, today: dt.date | None = None,
              delivery_checks_enabled: bool | None = None) -> GateResult:
    """Run the suite ``suite_name`` against ``schema.table``, record it in ``audit.gate_results``.

    A staging suite run against the loader's ``staging`` schema also runs the entity's
    :func:`delivery_checks` (row volume, quarantine rate, rejected files) and records them with
    the suite's results; ``delivery_checks_enabled`` forces them on or off.

    ``suite_name`` is the suite's name (``staging.cpr__persons``) or its file stem
    (``staging__cpr__persons``). Marts suites run against the build schema before publication:
    ``run_suite(s, "marts.employment_benefits_monthly", "build_marts", "employment_benefits_monthly", run_id)``.
    Returns the result; call :func:`enforce` to stop on a failed critical expectation.
    """
    for label, name in (("schema", schema), ("table", table)):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{label} name {name!r} must match {_IDENTIFIER.pattern}")
    started = time.monotonic()
    suite = load_suite(suite_name, expectations_dir)
    parameters = suite_parameters(suite, seed_path=seed_path, today=today)
    result = GateResult(suite=suite["name"], schema=schema, table=table, run_id=run_id,
                        checked_at=dt.datetime.now(dt.timezone.utc))
    if not _table_exists(settings, schema, table):
        missing = ExpectationOutcome(expectation_type="expect_table_to_exist", column=None,
                                     kwargs={"schema": schema, "table": table}, severity="critical",
                                     success=False, observed={"exists": False})
        result.outcomes = [replace(missing, message=f"{schema}.{table}: table does not exist [critical]")]
    else:
        docs_site = _docs_dir(settings) / _stem(suite["name"]) if data_docs else None
        result.outcomes, result.data_docs = _validate(settings, suite, schema, table, run_id, parameters, docs_site)
    if delivery_checks_enabled is None:
        delivery_checks_enabled = schema == "staging" and suite["name"].startswith("staging.")
    if delivery_checks_enabled:
        result.outcomes.extend(delivery_checks(settings, table, schema=schema))
    result.duration_seconds = time.monotonic() - started
    _write_audit(settings, result)
    (log.info if result.passed and not result.warnings else log.warning)("%s", result.summary())
    return result
