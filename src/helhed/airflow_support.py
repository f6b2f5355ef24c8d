"""Airflow glue kept out of the DAG file: the cosmos dbt task group and the failure callback."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from helhed.config import REPO_ROOT

log = logging.getLogger(__name__)


def dbt_project_dir() -> Path:
    return Path(os.environ.get("HELHED_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"))


def write_dbt_manifest(env: dict[str, str] | None = None) -> Path:
    """Run ``dbt parse`` to (re)write ``target/manifest.json``, from which cosmos renders the DAG.

    Run it whenever the dbt project changes: ``helhed dbt-manifest`` (the demo and the compose
    ``airflow-init`` service do it on every start).
    """
    project_dir = dbt_project_dir()
    dbt = Path(sys.executable).parent / "dbt"
    subprocess.run(
        [str(dbt) if dbt.exists() else "dbt", "parse", "--quiet", "--project-dir", str(project_dir),
         "--profiles-dir", str(project_dir)],
        env={**os.environ, **(env or {})}, check=True,
    )
    return project_dir / "target" / "manifest.json"


def dbt_task_group(group_id: str = "dbt_build"):
    """One Airflow task per dbt node (seed, model with its tests), built into the build schemas.

    ``TestBehavior.BUILD`` runs ``dbt build`` per node, so a model's tests gate its children.
    The DAG is rendered from dbt's manifest (``write_dbt_manifest``), so parsing the DAG runs
    no dbt command and touches no database, as Airflow's best practices ask.
    """
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    project_dir = dbt_project_dir()
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(dbt_project_path=project_dir, manifest_path=project_dir / "target" / "manifest.json"),
        profile_config=ProfileConfig(
            profile_name="helhed", target_name="build", profiles_yml_filepath=project_dir / "profiles.yml"
        ),
        # dbt runs in-process (dbtRunner); cosmos then requires the dbt on PATH, which
        # helhed.airflow_local puts first (the venv's bin) and the container image has.
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER),
        # Tests with several parents (relationships) run once all their parents are built.
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={"install_deps": False},
        default_args={"retries": 0},
    )


def notify_failure(context) -> None:
    """Tell someone a task failed: always the log, plus a webhook if ``HELHED_ALERT_WEBHOOK`` is set."""
    ti = context.get("task_instance")
    message = (
        f"helhed: task {getattr(ti, 'task_id', '?')} of run {context.get('run_id')} failed: "
        f"{context.get('exception')}"
    )
    log.error(message)
    url = os.environ.get("HELHED_ALERT_WEBHOOK")
    if url:
        import requests

        try:
            requests.post(url, json={"text": message}, timeout=10)
        except requests.RequestException as exc:  # an alert must never mask the real failure
            log.error("could not post the failure to the webhook: %s", exc)
