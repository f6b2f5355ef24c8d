"""The DAG folder imports without errors (the official best-practice DagBag test), without a dbt
manifest or any dbt command, and has the shape the docs describe: a group per source, the dbt
build as one task per layer, the lock as setup and teardown."""

from __future__ import annotations

import json
import subprocess
import sys

from helhed import airflow_local
from helhed.config import Settings
from helhed.dbt_layers import DBT_LAYERS
from helhed.sources import load_sources

PROBE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
dag = bag.dags.get("helhed_nightly")
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": sorted(bag.dags),
    "tasks": sorted(dag.task_ids) if dag else [],
    "max_active_runs": dag.max_active_runs if dag else None,
    "max_active_tasks": dag.max_active_tasks if dag else None,
    "teardowns": sorted(t.task_id for t in dag.tasks if t.is_teardown) if dag else [],
    "setups": sorted(t.task_id for t in dag.tasks if t.is_setup) if dag else [],
    "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks} if dag else {},
}))
"""


def test_dagbag_imports_without_errors_and_has_one_group_per_source(helhed_env):
    s = Settings.from_env()
    env = airflow_local.airflow_env(s)
    # No manifest to read: the DAG must import from a fresh clone's dbt project (no target/).
    env["HELHED_DBT_PROJECT_DIR"] = str(_project_without_target(s))
    env["HELHED_MAX_ACTIVE_TASKS"] = "3"
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert "helhed_nightly" in result["dags"]
    tasks = result["tasks"]
    for source in load_sources().values():
        for entity in source.entities:
            assert f"{source.name}.load_{entity.name}" in tasks and f"{source.name}.gate_{entity.name}" in tasks
    # The dbt build is one task per layer, in layer order, and nothing else (no per-node sensors).
    layers = [f"dbt_build.{layer}" for layer, _ in DBT_LAYERS]
    assert [t for t in tasks if t.startswith("dbt_build.")] == sorted(layers)
    for before, after in zip(layers, layers[1:]):
        assert result["upstream"][after] == [before]
    assert set(result["upstream"][layers[0]]) == {t for t in tasks if ".gate_" in t}
    assert result["upstream"]["evaluate_programmes"] == [layers[-1]]
    assert {"evaluate_programmes", "gate_marts", "publish"} <= set(tasks)
    assert result["max_active_runs"] == 1
    assert result["max_active_tasks"] == 3, "HELHED_MAX_ACTIVE_TASKS caps the tasks running at once"
    # One run at a time whatever starts it: the lock is taken first and released by a teardown.
    assert result["setups"] == ["begin_run"] and result["teardowns"] == ["end_run"]
    upstream = result["upstream"]
    loads = [t for t in tasks if ".load_" in t]
    assert loads and all("begin_run" in upstream[t] for t in loads)
    assert {"publish", "begin_run"} <= set(upstream["end_run"])
    assert "helhed_maintenance" in result["dags"]


def _project_without_target(s: Settings):
    """A copy of the dbt project without ``target/`` (what a fresh clone has)."""
    import shutil

    from helhed.airflow_support import dbt_project_dir

    copy = s.home / "dbt_project_fresh"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(dbt_project_dir(), copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return copy


def test_max_active_tasks_defaults_to_the_cores_and_refuses_nonsense(monkeypatch):
    import os

    import pytest

    from helhed.airflow_support import max_active_tasks

    monkeypatch.delenv("HELHED_MAX_ACTIVE_TASKS", raising=False)
    assert max_active_tasks() == (os.cpu_count() or 1)
    monkeypatch.setenv("HELHED_MAX_ACTIVE_TASKS", "8")
    assert max_active_tasks() == 8
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("HELHED_MAX_ACTIVE_TASKS", bad)
        with pytest.raises(ValueError, match="HELHED_MAX_ACTIVE_TASKS"):
            max_active_tasks()
