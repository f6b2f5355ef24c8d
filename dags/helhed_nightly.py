"""Nightly run: take the run lock, load each source, gate it, build the warehouse with dbt,
evaluate the programmes, gate the marts, publish.

A thin DAG: the work lives in ``helhed.pipeline``; dbt runs through astronomer-cosmos as one
``dbt build`` task per warehouse layer (seeds, staging, intermediate, marts). Adding a source is a block in ``config/sources.yaml``: one task group
per source (with a load and a gate task per entity) is made from it here.

``begin_run`` takes the nightly lock (``audit.run_lock``) so that only one run works at a time
however it was started (``airflow dags test`` ignores ``max_active_runs``); ``end_run`` is its
teardown and releases the lock whether the run passed or failed. Staging gates check every row
loaded since the last publish; trigger a run with ``{"gate_scope": "full"}`` as conf (or set
``HELHED_GATE_SCOPE=full``) to check whole tables. Every task's return value, exception and
log lines pass through ``helhed.redaction``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task, task_group

from helhed.airflow_support import dbt_task_group, install_task_log_redaction, max_active_tasks, notify_failure
from helhed.sources import load_sources

# Downstream DAGs (exports, reports) can be scheduled on this asset: it changes at each publish.
MARTS = Asset(name="helhed_published_marts", uri="helhed://warehouse/marts")


@dag(
    dag_id="helhed_nightly",
    description="Load, gate, build and publish the helhed warehouse",
    schedule="0 2 * * *",
    start_date=datetime(2020, 1, 1),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=max_active_tasks(),
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "on_failure_callback": notify_failure,
    },
    tags=["helhed", "nightly"],
    doc_md=__doc__,
)
def helhed_nightly():
    # A second run fails here at once, with the holder's run id in the message: no retries.
    @task(retries=0)
    def begin_run(**context) -> dict:
        from helhed import pipeline
        from helhed.airflow_support import run_step

        return run_step(pipeline.begin_run, context["run_id"])

    @task
    def end_run(**context) -> dict:
        from helhed import pipeline
        from helhed.airflow_support import run_step

        return run_step(pipeline.end_run, context["run_id"])

    @task(task_id="load")
    def load(entity_id: str, **context) -> dict:
        from helhed import pipeline
        from helhed.airflow_support import run_step

        run_step(pipeline.hold, context["run_id"])
        return run_step(pipeline.load, entity_id, context["logical_date"].date())

    @task(task_id="gate", retries=0)
    def gate(entity_id: str, **context) -> dict:
        from helhed import pipeline
        from helhed.airflow_support import run_step

        conf = getattr(context.get("dag_run"), "conf", None) or {}
        return run_step(pipeline.gate_staging, entity_id, context["run_id"],
                        logical_date=context["logical_date"].date(), scope=conf.get("gate_scope"))

    source_groups = []
    for source in load_sources().values():

        @task_group(group_id=source.name, tooltip=source.description)
        def ingest(entities=source.entities):
            for entity in entities:
                load.override(task_id=f"load_{entity.name}")(entity.id) >> gate.override(task_id=f"gate_{entity.name}")(entity.id)

        source_groups.append(ingest())

    dbt_build = dbt_task_group()

    @task(retries=0)
    def evaluate_programmes(**context) -> dict:
        from helhed import pipeline
        from helhed.airflow_support import run_step

        run_step(pipeline.hold, context["run_id"])
        return run_step(pipeline.evaluate_programmes)

    @task(retries=0)
    def budget_proposals(**context) -> dict:
        from helhed import pipeline
        from helhed.airflow_support import run_step

        run_step(pipeline.hold, context["run_id"])
        return run_step(pipeline.budget_proposals, context["run_id"])

    @task(retries=0)
    def gate_marts(**context) -> dict:
        from helhed import pipeline
        from helhed.airflow_support import run_step

        return run_step(pipeline.gate_marts, context["run_id"])

    @task(outlets=[MARTS])
    def publish(**context) -> list[str]:
        from helhed import pipeline
        from helhed.airflow_support import run_step

        return run_step(pipeline.publish_build, context["run_id"], context["logical_date"].date())

    lock = begin_run()
    unlock = end_run()
    lock >> source_groups >> dbt_build >> evaluate_programmes() >> budget_proposals() >> gate_marts() >> publish() \
        >> unlock.as_teardown(setups=lock)


install_task_log_redaction()


helhed_nightly()
