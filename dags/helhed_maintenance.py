"""Daily housekeeping: purge raw CPR from the landing area after its retention period."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from helhed.airflow_support import notify_failure


@dag(
    dag_id="helhed_maintenance",
    description="Purge raw rows (with CPR) from landing after the retention period",
    schedule="30 5 * * *",
    start_date=datetime(2020, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5), "on_failure_callback": notify_failure},
    tags=["helhed", "maintenance"],
    doc_md=__doc__,
)
def helhed_maintenance():
    @task
    def purge_landing() -> dict:
        from helhed.airflow_support import run_step
        from helhed.config import Settings
        from helhed.maintenance import purge_landing as purge

        return run_step(purge, Settings.from_env())

    purge_landing()


helhed_maintenance()
