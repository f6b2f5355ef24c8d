"""Airflow glue kept out of the DAG file: the cosmos dbt task group (one task per layer), the step wrapper and the failure callback.

Everything a task hands to Airflow passes through :mod:`helhed.redaction`: its return value
(stored as XCom), its exception (shown in the UI and the task log), the log records of the
task process (:func:`install_task_log_redaction`) and the failure alert.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helhed.config import Settings
from helhed.redaction import install_log_redaction, redact, redact_value

log = logging.getLogger(__name__)


class StepFailed(Exception):
    """A pipeline step failed; the message (and the logged traceback) are redacted."""


def install_task_log_redaction() -> None:
    """Put the CPR log filter on the root logger and its handlers in the task process.

    Airflow's task runner sends stdlib log records through the handlers it installs on the
    root logger, so the filter must be added after they exist: every task calls this first.
    """
    install_log_redaction()


def run_step(step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a pipeline step for an Airflow task: its return value (the XCom) redacted, and an
    exception whose text (or traceback) holds a CPR-like value replaced by :class:`StepFailed`
    with the redacted message, after logging the redacted traceback. Other exceptions pass
    unchanged, so their type still drives Airflow (e.g. no retry of a failed gate).
    """
    install_task_log_redaction()
    try:
        return redact_value(step(*args, **kwargs))
    except Exception as exc:
        text = "".join(traceback.format_exception(exc))
        if redact(text) == text:
            raise
        log.error("step %s failed:\n%s", getattr(step, "__name__", step), redact(text))
        raise StepFailed(redact(f"{type(exc).__name__}: {exc}")) from None


def max_active_tasks() -> int:
    """How many of the nightly's tasks run at once: ``HELHED_MAX_ACTIVE_TASKS``, by default the
    machine's cores.

    Each load and gate task holds a PostgreSQL backend and its own Great Expectations context;
    the LocalExecutor started all sixteen gate tasks together on two cores and each took 2-2.5x
    what all of them took one after another (docs/benchmarks.md), so more tasks than cores only
    adds switching and memory. A Celery or Kubernetes deployment sets it to its workers' slots.
    """
    value = os.environ.get("HELHED_MAX_ACTIVE_TASKS", "").strip()
    if not value:
        return max(1, os.cpu_count() or 1)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"HELHED_MAX_ACTIVE_TASKS must be a whole number of at least 1, not {value!r}")
    return int(value)


def dbt_project_dir() -> Path:
    return Settings.from_env().dbt_project_dir


def write_dbt_manifest(env: dict[str, str] | None = None) -> Path:
    """Run ``dbt parse`` to (re)write ``target/manifest.json``: the column descriptions Superset's
    datasets take from dbt (:mod:`helhed.dbtmeta`). The DAG no longer needs it: its dbt tasks are
    one per layer, named by dbt selectors (:func:`dbt_task_group`), not rendered per node.

    ``helhed dbt-manifest`` runs it; the demo and the compose ``airflow-init`` service do it on
    every start.
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
    """The dbt build as an Airflow task group: one cosmos ``dbt build`` task per warehouse layer.

    Seeds, staging, intermediate and marts (:data:`helhed.dbt_layers.DBT_LAYERS`, the YAML
    selectors of ``dbt_project/selectors.yml``) run one after another, each a
    ``DbtBuildLocalOperator`` with dbt in-process: dbt's own threads and dependency order inside a
    layer, a model's tests before its children, and every test of the layer (data and unit tests)
    in the same task. A failed model or test makes dbt exit non-zero, which fails the layer's task;
    the later layers are then ``upstream_failed`` and nothing downstream (evaluation, mart gates,
    publish) runs, while the ``end_run`` teardown still releases the lock.

    Why four tasks and not one per dbt node: each Airflow task costs a process start and an
    import of Airflow and helhed, and ``airflow dags test`` (``helhed run``, the demo, the tests)
    runs tasks one after another, so the ~520 per-node watcher sensors cosmos rendered cost far
    more than the build they reported (issue 12). dbt's log in each task's log still names every
    node's result. Parsing the DAG runs no dbt command, reads no manifest and touches no database.
    """
    from airflow.sdk import TaskGroup
    from cosmos import ProfileConfig
    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtBuildLocalOperator

    from helhed.dbt_layers import DBT_LAYERS

    project_dir = dbt_project_dir()
    profile = ProfileConfig(profile_name="helhed", target_name="build", profiles_yml_filepath=project_dir / "profiles.yml")
    with TaskGroup(group_id=group_id, tooltip="dbt build, one task per warehouse layer") as group:
        previous = None
        for layer, selector in DBT_LAYERS:
            task = DbtBuildLocalOperator(
                task_id=layer,
                project_dir=str(project_dir),
                profile_config=profile,
                selector=selector,
                # dbt runs in-process (dbtRunner); cosmos then requires the dbt on PATH, which
                # helhed.airflow_local puts first (the venv's bin) and the container image has.
                invocation_mode=InvocationMode.DBT_RUNNER,
                install_deps=False,
                # The DAG's own asset (publish) says when the marts change; no per-node lineage events.
                emit_datasets=False,
                # A retry would rebuild the whole layer to meet the same failed test again.
                retries=0,
            )
            if previous is not None:
                previous >> task
            previous = task
    return group


def failure_message(context) -> str:
    """The one-line alert for a failed task, redacted (the exception may quote delivered values)."""
    ti = context.get("task_instance")
    return redact(f"helhed: task {getattr(ti, 'task_id', '?')} of run {context.get('run_id')} failed: "
                  f"{context.get('exception')}")


def notify_failure(context) -> None:
    """Tell someone a task failed: always the log, plus a webhook if ``HELHED_ALERT_WEBHOOK`` is set."""
    message = failure_message(context)
    log.error("%s", message)
    url = Settings.from_env().alert_webhook
    if url:
        import requests

        try:
            requests.post(url, json={"text": message}, timeout=10)
        except requests.RequestException as exc:  # an alert must never mask the real failure
            log.error("could not post the failure to the webhook: %s", redact(exc))
