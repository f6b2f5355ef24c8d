"""Great Expectations suites (``expectations/*.json``): finding, reading and parameterising them,
and running one against a live table with an ephemeral GX context (plus its Data Docs).

Suites are GX 1.x serialised suites, one file per table: ``expectations/<layer>__<table>.json``
holding the suite ``<layer>.<table>`` (``staging.cpr__persons`` lives in
``staging__cpr__persons.json``). Values known only at run time use GX's
``{"$PARAMETER": name}`` syntax (:data:`PARAMETERS`, and every value code list of the source
specification by its name); an ``unexpected_rows_query`` may say ``{schema}`` (the schema being
validated) and ``{min_cell_size}`` (dbt's ``var('min_cell_size')``, :func:`helhed.dbtmeta.min_cell_size`).

Great Expectations is imported lazily, so importing this module (e.g. from a DAG file) is cheap.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from helhed.config import REPO_ROOT, Settings
from helhed.dbtmeta import min_cell_size
from helhed.gates.results import (
    SEVERITIES,
    ExpectationOutcome,
    _column_of,
    _exception_message,
    _jsonable,
    _message,
    _observed,
    _redact_for_docs,
    _redacted_outcome,
)
from helhed.redaction import redact, redact_value
from helhed.sources import read_seed_column

log = logging.getLogger(__name__)

# GX logs (and under Airflow, structlog re-emits) a lot at INFO; keep our task logs readable.
for _name in ("great_expectations", "great_expectations.core", "great_expectations.datasource"):
    logging.getLogger(_name).setLevel(logging.WARNING)

#: The code list of benefit groups (a dbt seed with a column ``benefit_group``).
DEFAULT_BENEFIT_GROUPS_SEED = REPO_ROOT / "dbt_project" / "seeds" / "benefit_groups.csv"

#: Run-time parameters a suite may reference as ``{"$PARAMETER": name}``. Besides these, every
#: value code list under ``code_lists:`` in ``config/sources.yaml`` is a parameter of the same
#: name (the loader quarantines unknown codes with the same lists): see :func:`parameter_names`.
PARAMETERS = {
    "benefit_groups": "the codes in the benefit_group column of dbt_project/seeds/benefit_groups.csv",
    "today": "today's date (ISO format)",
    "min_cell_size": "dbt's var('min_cell_size') in dbt_project.yml: the smallest published count of persons",
    "small_cells": "the counts a public mart may not show: 1 to min_cell_size - 1",
}

#: Expectations about the table as a whole (contract and size): always run on the whole table.
TABLE_LEVEL_EXPECTATIONS = frozenset({
    "expect_table_row_count_to_be_between", "expect_table_row_count_to_equal",
    "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
    "expect_table_column_count_to_equal", "expect_table_column_count_to_be_between",
    "expect_column_to_exist", "expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list",
})


def _expectations_dir(expectations_dir: Path | None) -> Path:
    return Path(expectations_dir) if expectations_dir else Settings.from_env().expectations_dir

def suite_stem(suite_name: str) -> str:
    name = suite_name.removesuffix(".json")
    return name.replace(".", "__", 1) if "." in name else name


def suite_path(suite_name: str, expectations_dir: Path | None = None) -> Path:
    """The file of a suite; ``suite_name`` may be the suite name (``staging.cpr__persons``) or the file stem."""
    directory = _expectations_dir(expectations_dir)
    path = directory / f"{suite_stem(suite_name)}.json"
    if not path.exists():
        known = ", ".join(list_suites(directory)) or "none"
        raise FileNotFoundError(f"no expectation suite {suite_name!r} ({path}); known suites: {known}")
    return path


def _declared_entity(suite_name: str):
    """The declared entity of a staging suite name or stem (``staging.cpr__persons``), or None."""
    from helhed.gates.checks import _entity_of

    stem = suite_stem(suite_name)
    return _entity_of(stem.removeprefix("staging__")) if stem.startswith("staging__") else None


def specification_expectations(entity) -> list[dict[str, Any]]:
    """The expectations every staging suite gets from the source specification, so no suite file
    repeats them: at least one row, and each ``codes:`` column within its code list (the list's
    values as ``$PARAMETER``, or its pattern). The column set, types and required values are the
    contract check's (:func:`helhed.gates.checks.contract_checks`)."""
    from helhed.parsing import entity_rules

    generated: list[dict[str, Any]] = [{
        "type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1},
        "meta": {"severity": "critical", "generated": "config/sources.yaml"},
        "notes": "An empty table means a failed or missing delivery."}]
    staging = {c.name: c.staging_name for c in entity.columns}
    for column, code_list in entity_rules(entity).codes:
        name = staging[column]
        if code_list.values is not None:
            kwargs: dict[str, Any] = {"column": name, "value_set": {"$PARAMETER": code_list.name}}
            kind = "expect_column_values_to_be_in_set"
        else:
            kwargs = {"column": name, "regex": f"^(?:{code_list.pattern})$"}
            kind = "expect_column_values_to_match_regex"
        generated.append({"type": kind, "kwargs": kwargs,
                          "meta": {"severity": "critical", "generated": "config/sources.yaml"},
                          "notes": f"{code_list.describe()}; the loader quarantines other values (unknown_code)."})
    return generated


def _with_specification(suite: dict[str, Any], entity) -> dict[str, Any]:
    """``suite`` plus the generated expectations it does not state itself (same type and column)."""
    stated = {(e["type"], (e.get("kwargs") or {}).get("column")) for e in suite["expectations"]}
    extra = [e for e in specification_expectations(entity) if (e["type"], e["kwargs"].get("column")) not in stated]
    return {**suite, "expectations": [*suite["expectations"], *extra]}


def list_suites(expectations_dir: Path | None = None) -> list[str]:
    """The names of the suites in ``expectations/``."""
    directory = _expectations_dir(expectations_dir)
    names = []
    for path in sorted(directory.glob("*.json")):
        try:
            names.append(json.loads(path.read_text(encoding="utf-8"))["name"])
        except (ValueError, KeyError):
            continue
    return names


def load_suite(suite_name: str, expectations_dir: Path | None = None) -> dict[str, Any]:
    """Read and check a suite file: every expectation needs ``meta.severity`` critical or warning.

    A staging suite of a declared entity gets the expectations of the specification
    (:func:`specification_expectations`) added; a declared entity needs no suite file at all
    (docs/adding-a-source.md), its suite is then the generated one."""
    entity = _declared_entity(suite_name)
    directory = _expectations_dir(expectations_dir)
    if entity is not None and not (directory / f"{suite_stem(suite_name)}.json").exists():
        return {"name": f"staging.{entity.table}", "expectations": specification_expectations(entity), "meta": {},
                "notes": f"Generated from the specification of {entity.id} (config/sources.yaml)."}
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
    return _with_specification(suite, entity) if entity is not None else suite


def benefit_groups(seed_path: Path | None = None) -> list[str]:
    """The benefit-group codes from the dbt seed (column ``benefit_group``)."""
    path = Path(seed_path) if seed_path else DEFAULT_BENEFIT_GROUPS_SEED
    codes = read_seed_column(path, "benefit_group")
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
    from helhed.sources import code_lists

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
    if "min_cell_size" in names:
        values["min_cell_size"] = min_cell_size()
    if "small_cells" in names:
        values["small_cells"] = list(range(1, min_cell_size()))
    return values



def _with_placeholders(kwargs: dict[str, Any], schema: str) -> dict[str, Any]:
    """Replace ``{schema}`` in an unexpected_rows_query by the schema being validated and
    ``{min_cell_size}`` by dbt's ``var('min_cell_size')`` (GX fills in ``{batch}`` itself)."""
    query = kwargs.get("unexpected_rows_query")
    if not isinstance(query, str) or ("{schema}" not in query and "{min_cell_size}" not in query):
        return kwargs
    query = query.replace("{schema}", schema)
    if "{min_cell_size}" in query:
        query = query.replace("{min_cell_size}", str(min_cell_size()))
    return {**kwargs, "unexpected_rows_query": query}


def table_exists(settings: Settings, schema: str, table: str) -> bool:
    with psycopg.connect(settings.url("helhed")) as conn:
        row = conn.execute("select to_regclass(%s)", [sql.Identifier(schema, table).as_string(conn)]).fetchone()
    return bool(row and row[0])


def docs_dir(settings: Settings) -> Path:
    return settings.home / "data_docs"


#: Data Docs hold validation results: readable by their owner only.
DOCS_DIR_MODE, DOCS_FILE_MODE = 0o700, 0o600


def restrict_modes(root: Path, dir_mode: int = DOCS_DIR_MODE, file_mode: int = DOCS_FILE_MODE) -> None:
    """Give ``root`` and everything under it owner-only modes (GX writes with the process umask)."""
    if not root.exists():
        return
    if not root.is_dir():
        root.chmod(file_mode)
        return
    root.chmod(dir_mode)
    for path in root.rglob("*"):
        if path.is_symlink():
            continue
        path.chmod(dir_mode if path.is_dir() else file_mode)


def _site_config(settings: Settings, docs_site: Path) -> dict[str, Any]:
    """GX's Data Docs site of one suite: its validation and expectation-suite pages and an index,
    rendered by views that compile GX's templates once for every gate (:mod:`helhed.gates.docs_views`)."""
    from helhed.gates.docs_views import template_cache_dir

    def view(name: str) -> dict[str, Any]:
        return {"module_name": "helhed.gates.docs_views", "class_name": name,
                "template_cache": str(template_cache_dir(settings.home))}

    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_site)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": view("CachedJinjaIndexPageView")},
        "site_section_builders": {
            "expectations": {"view": view("CachedJinjaPageView")},
            "validations": {"view": view("CachedJinjaPageView")},
            "profiling": "False",   # GX's profiler is not used: no profiling section to render
        },
    }


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


def validate(settings: Settings, suite: dict[str, Any], schema: str, table: str, run_id: str,
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

    sites = {"helhed": _site_config(settings, docs_site)} if docs_site is not None else {}
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
    expectations = [{**e, "severity": e["meta"]["severity"], "kwargs": _with_placeholders(e["kwargs"], schema)}
                    for e in suite["expectations"]]
    everything = list(range(len(expectations)))
    if batch_query is None:
        parts: list[tuple[str, list[int], str | None]] = [(suite["name"], everything, None)]
    else:
        table_level = [i for i in everything if expectations[i]["type"] in TABLE_LEVEL_EXPECTATIONS]
        rows = [i for i in everything if i not in table_level]
        parts = [(f"{suite['name']}.table", table_level, None), (f"{suite['name']}.rows", rows, batch_query)]
        parts = [p for p in parts if p[1]]

    # GX 1.14+ wants the schema in the connection, not on the asset: for PostgreSQL, the search_path.
    datasource = context.data_sources.add_postgres(  # type: ignore[call-arg]  # GX's stub omits add_postgres(kwargs=...), the runtime accepts it
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
                asset = datasource.add_query_asset(name=f"{schema}.{table} since the last publish", query=query)  # type: ignore[assignment]  # a query asset where a table asset would do; both validate alike
            batch = asset.add_batch_definition_whole_table("batch")
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"{name} on {schema}.{table}", data=batch, suite=gx_suite))
            before = set(store.list_keys())
            gx_run_id = RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.UTC))
            results = validation.run(expectation_parameters=parameters, result_format="SUMMARY", run_id=gx_run_id)
            ordered.extend(_outcomes_of(results, source, schema, table))  # type: ignore[arg-type]  # every expectation of our suites has an id
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
            context.build_data_docs(resource_identifiers=[  # type: ignore[arg-type]  # GX accepts a mixed list; its stub wants one key type
                *result_keys, *(ExpectationSuiteIdentifier(name=n) for n in suite_names)])
            docs_index = docs_site / "index.html"
            _write_docs_index(docs_site.parent)
            # what this gate wrote, not every suite's site: the run's start (tighten_modes) closes all
            docs_site.parent.chmod(DOCS_DIR_MODE)
            restrict_modes(docs_site)
            restrict_modes(docs_site.parent / "index.html")
        except Exception as exc:  # Data Docs are a convenience; never fail a gate over them
            log.warning("could not build Data Docs for %s: %s", suite["name"], redact(exc))
    return outcomes, docs_index


