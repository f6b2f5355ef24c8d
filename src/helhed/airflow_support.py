"""Airflow glue kept out of the DAG file: the cosmos dbt task group, the step wrapper and the failure callback.

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


def dbt_project_dir() -> Path:
    return Settings.from_env().dbt_project_dir


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
    """The dbt build as an Airflow task group, one task per dbt node, into the build schemas.

    Cosmos' *watcher* execution mode: one producer task runs a single ``dbt build`` of the
    whole project (dbt's own threads and dependency order; a model's tests run before its
    children, and a failed test skips everything downstream of it), and one light sensor task
    per seed, model and test follows its node's result from the producer. One ``dbt build``
    instead of one dbt invocation per node cuts a nightly run from minutes of per-node start-up
    (parsing the project ~80 times) to one parse. A failed node fails its task and the group,
    so ``gate_marts`` and ``publish`` never run on a broken build; a retried sensor re-runs its
    own node locally (the sensors start after the producer: ``_start_sensors_after_the_producer``).
    The DAG is rendered from dbt's manifest (``write_dbt_manifest``), so
    parsing the DAG runs no dbt command and touches no database, as Airflow's best practices ask.
    """
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    project_dir = dbt_project_dir()
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(dbt_project_path=project_dir, manifest_path=project_dir / "target" / "manifest.json"),
        profile_config=ProfileConfig(
            profile_name="helhed", target_name="build", profiles_yml_filepath=project_dir / "profiles.yml"
        ),
        # dbt runs in-process (dbtRunner); cosmos then requires the dbt on PATH, which
        # helhed.airflow_local puts first (the venv's bin) and the container image has.
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.WATCHER, invocation_mode=InvocationMode.DBT_RUNNER),
        # AFTER_EACH: one sensor per model for its tests (the producer's dbt build runs them).
        # Tests with several parents stay with their models: a detached test's sensor finds
        # no result from the producer and would wait for ever.
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH,
            should_detach_multiple_parents_tests=False,
        ),
        # Sensors poke instead of deferring: no triggerer needed for `airflow dags test`, and
        # they only wait while the one producer task works; never longer than an hour.
        operator_args={"install_deps": False, "deferrable": False, "poke_interval": 2, "timeout": 3600},
        default_args={"retries": 0},
    )
    _start_sensors_after_the_producer(group)
    return group


def _start_sensors_after_the_producer(group) -> None:
    """Make the producer upstream of every sensor that has no upstream task in the group.

    Cosmos starts the sensors beside the producer. Under a sequential run (``airflow dags
    test``, the demo and the tests) a sensor that starts first waits for a producer that
    never gets its turn; in a deployment it holds a worker slot while dbt works. Started after
    the producer, each sensor finds its node's result at once; if the producer fails, the
    sensors are upstream_failed, the group fails, and nothing downstream (gates, publish) runs.
    """
    from cosmos.constants import PRODUCER_WATCHER_TASK_ID

    tasks = {task.task_id: task for task in _tasks_in(group)}
    producer = tasks[f"{group.group_id}.{PRODUCER_WATCHER_TASK_ID}"]
    for task in tasks.values():
        if task is producer or producer.task_id in task.upstream_task_ids:
            continue
        if not task.upstream_task_ids & tasks.keys():
            producer >> task


def _tasks_in(group):
    for child in group.children.values():
        if hasattr(child, "children"):
            yield from _tasks_in(child)
        else:
            yield child


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
