"""Adding a source is its specification, its parser settings and its staging model: nothing else.

docs/adding-a-source.md walks through it; this test does what it says on a copy of the
repository's configuration and dbt project (pointed at through the settings
``HELHED_SOURCES_FILE``, ``HELHED_DBT_PROJECT_DIR`` and ``HELHED_EXPECTATIONS_DIR``):

1. a block for a new source ``misbrug`` (substance-abuse treatment, SEL § 101) in
   ``config/sources.yaml``, with its parser settings (Windows-1252, ``dd.mm.yyyy``) and a new
   code list;
2. its staging model (``models/staging/misbrug/``: the dbt source, the model and its YAML).

No DAG file, loader, gate or suite file is touched. The new source then loads (``helhed load``),
is gated (``helhed gate``, with the suite generated from the specification), builds in dbt (in
the nightly's staging layer) and has its own task group in the nightly DAG.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from helhed.config import REPO_ROOT, Settings

pytestmark = pytest.mark.slow

HELHED = str(Path(sys.executable).parent / "helhed")
DBT = str(Path(sys.executable).parent / "dbt")
DAY = date(2025, 12, 31)
GOOD_ROWS = 60

SPECIFICATION = """
  misbrug:
    description: Substance-abuse treatment (SEL § 101), the treatment centre's extract
    department: social_sundhed
    encoding: cp1252
    delimiter: ";"
    date_format: "%d.%m.%Y"
    volume: {empty: warning}
    entities:
      treatments:
        description: One row per treatment course
        file_glob: "behandlinger_*.csv"
        codes: {treatment_type: treatment_types}
        key: [treatment_id]
        coverage: [{column: person_key, in: cpr.persons, max_missing_rate: 1.0}]
        columns:
          - {header: "Behandlings-id", name: treatment_id,   type: text, required: true}
          - {header: "CPR-nummer",     name: cpr,            type: cpr,  required: true}
          - {header: "Behandlingstype", name: treatment_type, type: text, required: true}
          - {header: "Startdato",      name: start_date,     type: date, required: true}
          - {header: "Slutdato",       name: end_date,       type: date}
"""
CODE_LIST = "  treatment_types:       {values: [Ambulant, Dagbehandling, Døgnbehandling]}\n"

DBT_SOURCE = """version: 2

sources:
  - name: misbrug
    description: Substance-abuse treatment courses, loaded by helhed.loading.
    schema: staging
    tables:
      - name: treatments
        identifier: misbrug__treatments
        columns:
          - {name: treatment_id, description: The course's id at the treatment centre.}
          - {name: person_key, description: Pseudonym of the CPR number.}
          - {name: treatment_type, description: "Ambulant, Dagbehandling or Døgnbehandling."}
          - {name: start_date, description: First day of the course.}
          - {name: end_date, description: Last day of the course; null while it runs.}
          - {name: delivery_date, description: Date of the delivery folder the row came from.}
          - {name: source_file, description: Name of the delivered file.}
"""
DBT_MODEL = """with

source as (

    select * from {{ source('misbrug', 'treatments') }}

),

renamed as (

    select
        treatment_id::text            as treatment_id,
        person_key::text              as person_key,
        treatment_type::text          as treatment_type,
        start_date::date              as start_date,
        end_date::date                as end_date,
        delivery_date::date           as delivery_date,
        source_file::text             as source_file

    from source

)

select * from renamed
"""
DBT_MODEL_YAML = """version: 2

models:
  - name: stg_misbrug__treatments
    description: One row per substance-abuse treatment course (SEL § 101).
    columns:
      - name: treatment_id
        data_tests:
          - unique
          - not_null
      - name: person_key
        data_tests:
          - not_null
"""


@dataclass
class Added:
    root: Path
    env: dict[str, str]
    settings: Settings


def cpr(i: int) -> str:
    """A CPR number with a real birth date (ddmmyy, then a serial whose first digit fixes the century)."""
    return f"{i % 28 + 1:02d}{i % 12 + 1:02d}85{1000 + i:04d}"


def delivery(path: Path) -> None:
    """GOOD_ROWS good rows and one with an unknown treatment type, in the source's own format."""
    lines = ["Behandlings-id;CPR-nummer;Behandlingstype;Startdato;Slutdato"]
    kinds = ["Ambulant", "Dagbehandling", "Døgnbehandling"]
    for i in range(GOOD_ROWS):
        lines.append(f"B{i:04d};{cpr(i)};{kinds[i % 3]};{(i % 28) + 1:02d}.0{i % 9 + 1}.2025;"
                     + ("" if i % 4 == 0 else f"{(i % 28) + 1:02d}.11.2025"))
    lines.append(f"B9999;{cpr(99)};Akupunktur;01.02.2025;")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))


def copy_project(root: Path) -> None:
    """The parts of the repository a deployment configures: specification, dbt project, suites, reference data."""
    ignore = shutil.ignore_patterns("target", "logs", "dbt_packages", "__pycache__")
    for part in ("config", "dbt_project", "expectations", "reference"):
        shutil.copytree(REPO_ROOT / part, root / part, ignore=ignore)


def add_source(root: Path) -> None:
    """The whole change a new source needs: specification (with parser settings) and staging model."""
    spec = root / "config" / "sources.yaml"
    text = spec.read_text(encoding="utf-8")
    text = text.replace("code_lists:\n", "code_lists:\n" + CODE_LIST, 1)
    spec.write_text(text.rstrip("\n") + "\n" + SPECIFICATION, encoding="utf-8")
    staging = root / "dbt_project" / "models" / "staging" / "misbrug"
    staging.mkdir()
    (staging / "_misbrug__sources.yml").write_text(DBT_SOURCE, encoding="utf-8")
    (staging / "stg_misbrug__treatments.sql").write_text(DBT_MODEL, encoding="utf-8")
    (staging / "_misbrug__models.yml").write_text(DBT_MODEL_YAML, encoding="utf-8")


def helhed(added: Added, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([HELHED, *args], env=added.env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"helhed {' '.join(args)}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def query(s: Settings, statement: str, *params: object) -> list[tuple]:
    with psycopg.connect(s.url("helhed")) as conn:
        return conn.execute(statement, params or None).fetchall()


@pytest.fixture(scope="module")
def added(pg: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Added]:
    root = tmp_path_factory.mktemp("adding_a_source")
    copy_project(root)
    add_source(root)
    data = root / "data"
    delivery(data / "landing" / "misbrug" / DAY.isoformat() / f"behandlinger_{DAY:%Y%m%d}.csv")
    overrides = {"HELHED_SOURCES_FILE": str(root / "config" / "sources.yaml"),
                 "HELHED_DBT_PROJECT_DIR": str(root / "dbt_project"),
                 "HELHED_EXPECTATIONS_DIR": str(root / "expectations"),
                 "HELHED_DATA_DIR": str(data)}
    env = {**os.environ, **overrides}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in overrides.items():
            patch.setenv(key, value)
        yield Added(root, env, Settings.from_env())
    # Leave the shared warehouse as the other modules expect it: no table, no delivery and no gate
    # record of the made-up source (publish refuses files no gate of its run covered).
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        for schema in ("landing", "staging"):
            conn.execute(sql.SQL("drop table if exists {} cascade").format(sql.Identifier(schema, "misbrug__treatments")))
        conn.execute("drop view if exists build_stg.stg_misbrug__treatments")
        ids = "select file_id from audit.delivery_files where source = 'misbrug'"
        for table in ("landing.quarantine", "audit.accepted_files"):
            if conn.execute("select to_regclass(%s)", [table]).fetchone()[0] is not None:
                conn.execute(f"delete from {table} where file_id in ({ids})")
        conn.execute(f"delete from audit.delivery_files where file_id in ({ids})")
        conn.execute("delete from audit.unexpected_files where source = 'misbrug'")
        if conn.execute("select to_regclass('audit.gate_batches')").fetchone()[0] is not None:
            conn.execute("delete from audit.gate_batches where entity like 'misbrug.%'")
        if conn.execute("select to_regclass('audit.gate_results')").fetchone()[0] is not None:
            conn.execute("delete from audit.gate_results where suite like %s", ["%misbrug%"])


def test_the_new_source_is_declared_from_the_copy(added: Added) -> None:
    from helhed.sources import get_entity, load_sources

    entity = get_entity("misbrug.treatments")
    assert (entity.encoding, entity.date_format, entity.table) == ("cp1252", "%d.%m.%Y", "misbrug__treatments")
    assert "misbrug" not in load_sources(REPO_ROOT / "config" / "sources.yaml")   # the repository is untouched
    assert not (REPO_ROOT / "expectations" / "staging__misbrug__treatments.json").exists()
    assert not (added.root / "expectations" / "staging__misbrug__treatments.json").exists()


def test_it_loads_with_helhed_load(added: Added) -> None:
    (summary,) = json.loads(helhed(added, "load", "misbrug", "--date", DAY.isoformat()).stdout)
    assert summary["entity"] == "misbrug.treatments"
    assert (summary["loaded"], summary["quarantined"]) == (GOOD_ROWS, 1)
    assert query(added.settings, "select rule from landing.quarantine q join audit.delivery_files f using (file_id) "
                                 "where f.entity = 'misbrug.treatments'") == [("unknown_code",)]
    rows = query(added.settings, "select count(*), count(distinct person_key), min(length(person_key)), "
                                 "count(*) filter (where treatment_type = 'Døgnbehandling') from staging.misbrug__treatments")
    assert rows == [(GOOD_ROWS, GOOD_ROWS, 64, GOOD_ROWS // 3)]   # pseudonymised, decoded from Windows-1252


def test_it_is_gated_with_the_suite_the_specification_makes(added: Added) -> None:
    run_id = f"adding-{uuid.uuid4().hex[:8]}"
    (gated,) = json.loads(helhed(added, "gate", "misbrug.treatments", "--date", DAY.isoformat(),
                                 "--run-id", run_id).stdout)
    assert gated["suite"] == "staging__misbrug__treatments" and gated["passed"], gated
    checks = {(kind, column, success) for kind, column, success in query(
        added.settings, "select expectation_type, column_name, success from audit.gate_results where run_id = %s", run_id)}
    assert {("expect_table_row_count_to_be_between", None, True),
            ("expect_column_values_to_be_in_set", "treatment_type", True),
            ("expect_table_to_match_specification", None, True),
            ("expect_file_quarantine_rate_to_be_below", None, True),
            ("expect_column_values_to_be_in_other_source", "person_key", True)} <= checks


def test_it_builds_in_dbt(added: Added, pg: Settings) -> None:
    project = added.root / "dbt_project"
    env = {**added.env, **pg.libpq_env("helhed"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = subprocess.run([DBT, "build", "--select", "stg_misbrug__treatments", "--project-dir", str(project),
                             "--profiles-dir", str(project)], env=env, capture_output=True, text=True, timeout=900,
                            cwd=added.root)
    assert result.returncode == 0, result.stdout[-6000:]
    assert query(added.settings, "select count(*), count(*) filter (where end_date is null) "
                                 "from build_stg.stg_misbrug__treatments") == [(GOOD_ROWS, GOOD_ROWS // 4)]


DAG_PROBE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
dag = bag.dags.get("helhed_nightly")
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "tasks": sorted(dag.task_ids) if dag else []}))
"""


def test_the_nightly_dag_has_its_task_group_without_an_edit(added: Added) -> None:
    from helhed import airflow_local

    env = {**airflow_local.airflow_env(added.settings), **{k: added.env[k] for k in (
        "HELHED_SOURCES_FILE", "HELHED_DBT_PROJECT_DIR", "HELHED_EXPECTATIONS_DIR", "HELHED_DATA_DIR")}}
    out = subprocess.run([sys.executable, "-c", DAG_PROBE], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert {"misbrug.load_treatments", "misbrug.gate_treatments"} <= set(result["tasks"])
    # The DAG builds dbt one task per layer; the new staging model is in the staging layer's selector.
    assert "dbt_build.staging" in result["tasks"], result["tasks"]
    project = added.root / "dbt_project"
    listed = subprocess.run([DBT, "ls", "--selector", "layer_staging", "--resource-type", "model", "--output", "name",
                             "--quiet", "--project-dir", str(project), "--profiles-dir", str(project)],
                            env={**env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}, capture_output=True, text=True,
                            timeout=600, cwd=added.root)
    assert listed.returncode == 0, listed.stdout[-3000:]
    assert "stg_misbrug__treatments" in listed.stdout.split(), listed.stdout[-3000:]
