"""The source specification (config/sources.yaml) is the one home of every entity's columns and
code lists: what dbt declares of a source (its ``_<source>__sources.yml``), the staging models'
code-list tests and the gates' suites agree with it, and a disagreement names the entity and the
column. The gates generate their column contract and code-list checks from it
(helhed.gates.checks.contract_checks, helhed.gates.suites.specification_expectations)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from helhed import gates
from helhed.config import REPO_ROOT
from helhed.parsing import entity_rules
from helhed.sources import Entity, load_sources, specification

STAGING = REPO_ROOT / "dbt_project" / "models" / "staging"
ENTITIES = [e for s in load_sources(include_disabled=True).values() for e in s.entities]
#: Columns the loader adds to every staging table.
LOADER_COLUMNS = ["delivery_date", "source_file"]


def dbt_source_tables() -> dict[tuple[str, str], dict]:
    """Every table of every ``_<source>__sources.yml`` under models/staging, by (source, table name)."""
    out = {}
    for path in sorted(STAGING.glob("*/_*__sources.yml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8")).get("sources") or []:
            for table in source.get("tables") or []:
                out[(source["name"], table["name"])] = {**table, "_file": path.relative_to(REPO_ROOT).as_posix(),
                                                        "_schema": source.get("schema")}
    return out


def column_disagreements(entity: Entity, declared: list[str]) -> list[str]:
    """What a column list says that the specification does not, naming entity and column."""
    expected = [*entity.staging_columns, *LOADER_COLUMNS]
    problems = [f"{entity.id}: column {c} is in the specification but not declared" for c in expected if c not in declared]
    problems += [f"{entity.id}: column {c} is declared but not in the specification" for c in declared if c not in expected]
    return problems


def test_a_disagreement_names_the_entity_and_the_column() -> None:
    entity = next(e for e in ENTITIES if e.id == "ydelser.benefit_periods")
    columns = [*entity.staging_columns, *LOADER_COLUMNS]
    wrong = [c for c in columns if c != "rate"] + ["rate_pct"]
    assert column_disagreements(entity, wrong) == [
        "ydelser.benefit_periods: column rate is in the specification but not declared",
        "ydelser.benefit_periods: column rate_pct is declared but not in the specification"]
    assert column_disagreements(entity, columns) == []


@pytest.mark.parametrize("entity", ENTITIES, ids=[e.id for e in ENTITIES])
def test_dbt_declares_each_entity_as_the_specification_does(entity: Entity) -> None:
    tables = dbt_source_tables()
    assert (entity.source, entity.name) in tables, \
        f"{entity.id}: no table {entity.name} in source {entity.source} of models/staging/{entity.source}/_{entity.source}__sources.yml"
    table = tables[(entity.source, entity.name)]
    assert table.get("identifier") == entity.table, f"{entity.id}: identifier {table.get('identifier')} in {table['_file']}"
    assert table["_schema"] == "staging", f"{entity.id}: schema {table['_schema']} in {table['_file']}"
    declared = [c["name"] for c in table.get("columns") or []]
    assert column_disagreements(entity, declared) == [], table["_file"]


def _renames(model_sql: str) -> dict[str, str]:
    """The staging model's ``source_column::type as model_column`` lines: model column -> source column."""
    pattern = re.compile(r"^\s*(?:\w+\.)?(\w+)(?:::[\w(), ]+?)?\s+as\s+(\w+)\s*,?\s*$", re.MULTILINE)
    return {out: src for src, out in pattern.findall(model_sql)}


@pytest.mark.parametrize("entity", ENTITIES, ids=[e.id for e in ENTITIES])
def test_staging_code_list_tests_are_the_specifications_code_lists(entity: Entity) -> None:
    """A staging model's ``accepted_values`` on a column the specification gives a code list has
    exactly that list's values; a seed code list is tested as a relationship to that seed."""
    model = f"stg_{entity.source}__{entity.name}"
    sql_path = STAGING / entity.source / f"{model}.sql"
    assert sql_path.exists(), f"{entity.id}: no staging model {sql_path.relative_to(REPO_ROOT)}"
    renames = _renames(sql_path.read_text(encoding="utf-8"))
    codes = {column: code_list for column, code_list in entity_rules(entity).codes}
    seeds = {name: spec for name, spec in (specification().raw.get("code_lists") or {}).items()}
    for path in (STAGING / entity.source).glob("_*__models.yml"):
        for node in yaml.safe_load(path.read_text(encoding="utf-8")).get("models") or []:
            if node["name"] != model:
                continue
            for column in node.get("columns") or []:
                source_column = renames.get(column["name"], column["name"])
                code_list = codes.get(source_column)
                for test in column.get("data_tests") or []:
                    if not isinstance(test, dict) or code_list is None:
                        continue
                    if "accepted_values" in test:
                        args = test["accepted_values"].get("arguments") or test["accepted_values"]
                        assert set(map(str, args["values"])) == set(code_list.values or ()), \
                            f"{entity.id}: column {source_column} ({model}.{column['name']}) accepts {args['values']}, " \
                            f"the specification's {code_list.describe()}"
                        assert "seed" not in seeds[code_list.name], \
                            f"{entity.id}: column {source_column} types out the seed code list {code_list.name}; " \
                            "test a relationship to the seed instead"


@pytest.mark.parametrize("entity", ENTITIES, ids=[e.id for e in ENTITIES])
def test_the_gate_suite_checks_every_code_list_and_repeats_no_contract(entity: Entity) -> None:
    suite = gates.load_suite(f"staging.{entity.table}")
    for column, code_list in entity_rules(entity).codes:
        kind = "expect_column_values_to_be_in_set" if code_list.values is not None else "expect_column_values_to_match_regex"
        assert any(e["type"] == kind and e["kwargs"].get("column") == column for e in suite["expectations"]), \
            f"{entity.id}: column {column} has code list {code_list.name} but the suite does not check it"
    path = REPO_ROOT / "expectations" / f"staging__{entity.table}.json"
    text = path.read_text(encoding="utf-8")
    for repeated in ("expect_table_columns_to_match_set", "expect_column_values_to_be_of_type"):
        assert repeated not in text, f"{path.name}: {repeated} repeats the specification (the contract check makes it)"


def test_a_declared_entity_without_a_suite_file_gets_the_generated_suite(tmp_path: Path) -> None:
    entity = next(e for e in ENTITIES if e.id == "jobcenter.conversations")
    suite = gates.load_suite(f"staging.{entity.table}", tmp_path)   # an empty expectations folder
    assert suite["name"] == f"staging.{entity.table}"
    checked = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_table_row_count_to_be_between", None) in checked
    assert {("expect_column_values_to_be_in_set", c) for c in ("conversation_type_id", "conversation_form", "status")} <= checked


# --------------------------------------------------------------------------- KPI definitions


DOCS = REPO_ROOT / "dbt_project" / "models" / "docs" / "kpis.md"


def test_every_kpi_definition_is_used_and_the_warehouse_doc_points_at_it() -> None:
    blocks = re.findall(r"{%\s*docs\s+(\w+)\s*%}", DOCS.read_text(encoding="utf-8"))
    assert blocks
    yaml_text = "\n".join(p.read_text(encoding="utf-8") for p in (REPO_ROOT / "dbt_project" / "models").rglob("*.yml"))
    warehouse = (REPO_ROOT / "docs" / "warehouse.md").read_text(encoding="utf-8")
    used = [b for b in blocks if f"doc('{b}')" in yaml_text]
    assert {"kpi_full_time_persons", "kpi_self_supporting", "kpi_visitation", "kpi_residents",
            "col_is_complete_month", "col_days_covered", "rule_small_cells"} <= set(used)
    for block in blocks:
        if block.startswith("kpi_"):
            assert f"`{block}`" in warehouse, f"docs/warehouse.md does not point at doc block {block}"
        assert block in used or f"`{block}`" in DOCS.read_text(encoding="utf-8") or f"`{block}`" in warehouse, \
            f"doc block {block} is used nowhere"


def test_column_descriptions_come_from_dbts_manifest(tmp_path: Path) -> None:
    import json

    from helhed.dbtmeta import column_descriptions

    manifest = {"nodes": {
        "model.helhed.employment_self_support_monthly": {
            "resource_type": "model", "name": "employment_self_support_monthly", "description": "Self-support.",
            "columns": {"self_supporting": {"description": "The self-supporting. **Self-supporting** ..."}}},
        "test.helhed.x": {"resource_type": "test", "name": "x", "columns": {}}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert column_descriptions(tmp_path) == {"employment_self_support_monthly": {
        "": "Self-support.", "self_supporting": "The self-supporting. **Self-supporting** ..."}}
    assert column_descriptions(tmp_path, models={"other"}) == {}
    with pytest.raises(FileNotFoundError, match="dbt parse"):
        column_descriptions(tmp_path / "missing")
