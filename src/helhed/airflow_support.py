"""Airflow glue kept out of the DAG file: the cosmos dbt task group and the failure callback."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from helhed.config import REPO_ROOT

log = logging.getLogger(__name__)


def dbt_executable() -> str:
    """The dbt next to this Python (the pipeline venv), else the one on PATH (container images)."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def dbt_task_group(group_id: str = "dbt_build"):
    """One Airflow task per dbt node (seed, model with its tests), built into the build schemas.

    ``TestBehavior.BUILD`` runs ``dbt build`` per node, so a model's tests gate its children.
    The project is rendered with ``dbt ls``, which cosmos caches between parses.
    """
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    project_dir = Path(os.environ.get("HELHED_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"))
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(dbt_project_path=project_dir),
        profile_config=ProfileConfig(
            profile_name="helhed", target_name="build", profiles_yml_filepath=project_dir / "profiles.yml"
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            dbt_executable_path=dbt_executable(),
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS, test_behavior=TestBehavior.BUILD, dbt_executable_path=dbt_executable()
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
