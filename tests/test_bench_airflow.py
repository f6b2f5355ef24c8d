"""The bench's Airflow night: what it keeps of a triggered DAG run (no Airflow needed here; the
run itself is measured by ``helhed.bench --airflow``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helhed.airflow_local import TriggeredRun
from helhed.bench.phases import _airflow_run_summary

T0 = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)


def run(state: str, tasks: list[tuple[str, str, float]]) -> TriggeredRun:
    return TriggeredRun("bench__2026-01-02", state, queued_at=T0, start_date=T0 + timedelta(seconds=3),
                        end_date=T0 + timedelta(seconds=90),
                        tasks=[{"task_id": t, "state": s, "seconds": sec} for t, s, sec in tasks])


def test_a_successful_run_reports_its_time_from_queued_and_its_overhead() -> None:
    summary = _airflow_run_summary(run("success", [("begin_run", "success", 2.0), ("dbt_build.seeds", "success", 10.0),
                                                   ("dbt_build.marts", "success", 40.0)]), wall=95.0, bare=60.0)
    assert (summary["seconds"], summary["wall_seconds"], summary["overhead_seconds"]) == (90.0, 95.0, 30.0)
    assert summary["returncode"] == 0 and "error" not in summary
    assert summary["dbt_task_seconds"] == {"dbt_build.seeds": 10.0, "dbt_build.marts": 40.0}
    assert [t["task"] for t in summary["slowest_tasks"]] == ["dbt_build.marts", "dbt_build.seeds", "begin_run"]
    assert (summary["tasks"], summary["task_seconds_sum"]) == (3, 52.0)


def test_a_failed_run_names_the_tasks_that_did_not_succeed() -> None:
    summary = _airflow_run_summary(run("failed", [("begin_run", "success", 2.0), ("dbt_build.staging", "failed", 5.0),
                                                  ("dbt_build.marts", "upstream_failed", 0.0)]), wall=20.0, bare=60.0)
    assert summary["returncode"] == 1
    assert "dbt_build.staging" in summary["error"] and "dbt_build.marts" in summary["error"]
    assert "begin_run" not in summary["error"]
