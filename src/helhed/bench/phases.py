"""One size of the bench: the nightly's own steps (:mod:`helhed.pipeline`), timed phase by phase.

The bench calls the same functions the DAG's tasks call (``begin_run``, ``load``,
``gate_staging``, ``evaluate_programmes``, ``budget_proposals``, ``gate_marts``,
``publish_build``, ``end_run``), so a change to a step is measured without a second copy of
the night to keep in step. Only dbt runs differently: the DAG runs it as one cosmos ``dbt build`` per
layer, the bench runs the same ``dbt build`` as one subprocess (its memory is sampled); the optional
Airflow phase runs the whole night through Airflow and reports the ratio.

Two nights per size, as production sees them: a first night from scratch (load everything up
to the end date, gates, ``dbt build --full-refresh``, evaluation, publish) and an incremental
night (the next day's delivery, gates, ``dbt build``, evaluation, publish).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import psycopg

from helhed import pipeline
from helhed.bench import charts
from helhed.bench.limits import copy_limit, explain_fact, transform_limit
from helhed.bench.measure import (
    MB,
    Log,
    MemorySampler,
    Phase,
    count_rows,
    environment,
    fact_chain,
    free_port,
    materializations,
    node_summary,
    print_line,
    rows_affected,
    run_dbt,
    table_exists,
    timed,
)
from helhed.bench.spec import (
    DEFAULT_END_DATE,
    FACT_MODEL,
    PHASES,
    TARGETS,
)
from helhed.config import Settings
from helhed.database import one_row
from helhed.sources import Entity


def _entities() -> list[Entity]:
    """Every declared entity, enabled or not: the bench loads and gates them all."""
    from helhed.sources import load_sources

    return [e for src in load_sources(include_disabled=True).values() for e in src.entities]


def load_entities(s: Settings, entities: list[Entity], up_to: dt.date, say: Log) -> dict[str, dict[str, Any]]:
    """``pipeline.load`` for every entity up to ``up_to``; per entity its time, rows and bytes."""
    from helhed.loading import delivery_files

    per_entity: dict[str, dict[str, Any]] = {}
    for entity in entities:
        before = {p for _, p in delivery_files(s, entity, up_to)}
        started = time.perf_counter()
        summary = pipeline.load(entity.id, up_to, s)
        seconds = time.perf_counter() - started
        files = summary["files"]
        per_entity[entity.id] = {
            "seconds": round(seconds, 3), "rows": summary["loaded"], "quarantined": summary["quarantined"],
            "files": len(files), "bytes": sum(p.stat().st_size for p in before) if files else 0,
            "rejected": [f["rejection"] for f in files if f["status"] == "rejected"],
        }
        if files:
            say(f"load {entity.id}: {seconds:.1f} s, {summary['loaded']:,} rows")
    return per_entity


def gate_entities(s: Settings, entities: list[Entity], run_id: str, logical_date: dt.date, say: Log,
                  scope: str | None = None) -> dict[str, Any]:
    """``pipeline.gate_staging`` for every entity with a suite; a failed gate is recorded (the
    nightly would stop there; the bench goes on timing and the report says so)."""
    suites: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for entity in entities:
        name = f"staging__{entity.table}"
        if not (s.expectations_dir / f"{name}.json").exists():
            skipped.append(name)
            continue
        started = time.perf_counter()
        try:
            r = pipeline.gate_staging(entity.id, run_id, s, logical_date=logical_date, scope=scope)
            suites[name] = {"passed": bool(r["passed"]), "rows": int(r["rows"] or 0), "scope": r["scope"],
                            "warnings": r["warnings"][:5]}
        except Exception as exc:  # noqa: BLE001 - a suite that cannot run: recorded, not fatal
            suites[name] = {"passed": False, "rows": 0, "error": f"{type(exc).__name__}: {exc}"[:500]}
        suites[name]["seconds"] = round(time.perf_counter() - started, 3)
        say(f"gate {name}: {suites[name]['seconds']:.1f} s, {'passed' if suites[name]['passed'] else 'FAILED'}")
    failed = sorted(n for n, g in suites.items() if not g["passed"])
    return {"suites": suites, "skipped": skipped, "failed": failed,
            "rows_checked": sum(g["rows"] for g in suites.values())}


def evaluate_and_propose(s: Settings, run_id: str) -> dict[str, Any]:
    """The steps between dbt and the mart gates: programme evaluation, then budget proposals."""
    started = time.perf_counter()
    evaluation = pipeline.evaluate_programmes(s)
    evaluation_seconds = time.perf_counter() - started
    started = time.perf_counter()
    proposals = pipeline.budget_proposals(run_id, s)
    return {"evaluation": evaluation, "evaluation_seconds": round(evaluation_seconds, 3),
            "budget_seconds": round(time.perf_counter() - started, 3), "budget": proposals,
            "rows": sum(int(v) for v in (evaluation.get("rows") or {}).values())}


def gate_marts_and_publish(s: Settings, run_id: str, logical_date: dt.date) -> dict[str, Any]:
    """``pipeline.gate_marts`` then ``pipeline.publish_build``; counts what the dashboards now read."""
    started = time.perf_counter()
    try:
        mart_gates: dict[str, Any] = pipeline.gate_marts(run_id, s)
        mart_error = None
    except Exception as exc:  # noqa: BLE001 - recorded; the nightly would stop here
        mart_gates, mart_error = {}, f"{type(exc).__name__}: {exc}"[:1000]
    mart_gate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    published = pipeline.publish_build(run_id, logical_date, s)
    swap_seconds = time.perf_counter() - started
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        relations = conn.execute(
            "select table_schema, table_name, table_type from information_schema.tables where table_schema = any(%s)",
            (published,)).fetchall()
        rows = sum(count_rows(conn, schema, table) for schema, table, _ in relations)
        copied = one_row(conn.execute("select coalesce(sum(pg_total_relation_size(c.oid)), 0) from pg_class c "
                              "join pg_namespace n on n.oid = c.relnamespace where n.nspname = any(%s) "
                              "and c.relkind in ('r', 'p')", (published,)))[0]
    return {"mart_gates_seconds": round(mart_gate_seconds, 3), "swap_seconds": round(swap_seconds, 3),
            "tables": sum(1 for r in relations if r[2] == "BASE TABLE"),
            "views": sum(1 for r in relations if r[2] == "VIEW"), "rows": rows,
            "published_table_mb": round(copied / MB, 1), "schemas": published,
            "mart_gates": {t: {"passed": bool(g.get("passed"))} for t, g in mart_gates.items()},
            "mart_gates_error": mart_error}


def bench_size(residents: int, years: int, *, seed: int = 1, end_date: dt.date = DEFAULT_END_DATE,
               workdir: Path, log: Log = print_line, explain: bool = True, dbt_project: Path | None = None,
               airflow: bool = False, superset_rounds: int = 0) -> dict[str, Any]:
    """Run every phase at one size on a private PostgreSQL under ``workdir``; return its numbers.

    ``superset_rounds`` > 0 adds the Superset phase after the nights (:func:`superset_charts`).
    """
    from helhed import database

    tag = f"[{residents:>9,}]"

    def say(message: str) -> None:
        log(f"{time.strftime('%H:%M:%S')} {tag} {message}")

    home, data = workdir / "home", workdir / "data"
    home.mkdir(parents=True, exist_ok=True)
    s = Settings(home=home.resolve(), data_dir=data.resolve(), pg_host="127.0.0.1", pg_port=free_port(),
                 pg_superuser="postgres")
    phases = {name: Phase() for name in PHASES}
    result: dict[str, Any] = {"residents": residents, "years": years, "seed": seed, "end_date": end_date.isoformat()}
    result["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    say(f"starting PostgreSQL on port {s.pg_port} in {home} (load average {result['load_average_before']})")
    database.start(s)
    try:
        with MemorySampler(s.pgdata) as sampler:
            night = _Night(s, sampler, phases, result, workdir, dbt_project, say, airflow=airflow)
            night.run(residents, years, seed, end_date, explain)
            if superset_rounds:
                result["superset"] = superset_charts(s, superset_rounds, say)
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        say("stopping PostgreSQL")
        database.stop(s)
    return summarise(result, phases)


class _Night:
    """The two nights of one size; each method is one phase, in the nightly's order."""

    def __init__(self, s: Settings, sampler: MemorySampler, phases: dict[str, Phase], result: dict[str, Any],
                 workdir: Path, dbt_project: Path | None, say: Log, *, airflow: bool):
        self.s, self.sampler, self.phases, self.result, self.say = s, sampler, phases, result, say
        self.workdir, self.dbt_project, self.airflow = workdir, dbt_project, airflow
        self.target, self.dbt_log = workdir / "dbt_target", workdir / "dbt.log"
        self.env = {**os.environ, **s.libpq_env("helhed"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        self.entities = _entities()
        self.limits: dict[str, Any] = {}
        result["limits"] = self.limits

    def run(self, residents: int, years: int, seed: int, end_date: dt.date, explain: bool) -> None:
        with psycopg.connect(self.s.url("helhed"), autocommit=True) as conn:
            self.result["postgres_version"] = one_row(conn.execute("show server_version"))[0]
            self.result["postgres_settings"] = {
                name: one_row(conn.execute(f"show {name}"))[0] for name in
                ("shared_buffers", "work_mem", "maintenance_work_mem", "max_wal_size", "max_parallel_workers_per_gather")}
        self.generate(residents, years, seed, end_date)
        full_run = f"bench_{residents}_full"
        pipeline.begin_run(full_run, self.s)
        try:
            self.load(end_date)
            self.copy_limit(end_date)
            self.gates(full_run, end_date)
            self.dbt_full()
            self.evaluation(full_run)
            self.say("transform limit: one SQL statement for the person-month aggregate")
            self.limits["transform"] = transform_limit(self.s)
            # the first night's publication: the incremental night starts from what production has
            first = Phase()
            with timed(self.sampler, first):
                first.detail = gate_marts_and_publish(self.s, full_run, end_date)
            self.say(f"publish after the full build: {first.seconds:.1f} s")
        finally:
            pipeline.end_run(full_run, self.s)
        day = end_date + dt.timedelta(days=1)
        night_run = f"bench_{residents}_night"
        pipeline.begin_run(night_run, self.s)
        try:
            self.incremental(night_run, day)
            self.publish(night_run, day, first)
        finally:
            pipeline.end_run(night_run, self.s)
        if self.airflow:
            self.through_airflow(day + dt.timedelta(days=1))
        self.explain_misses(explain)
        with psycopg.connect(self.s.url("helhed"), autocommit=True) as conn:
            self.result["database_mb"] = round(one_row(conn.execute("select pg_database_size('helhed')"))[0] / MB, 1)

    def generate(self, residents: int, years: int, seed: int, end_date: dt.date) -> None:
        from helhed.generator import generate

        data = self.s.data_dir
        increments = 2 if self.airflow else 1
        self.say(f"generate {residents:,} residents x {years} years (+{increments} daily increment(s))")
        with timed(self.sampler, self.phases["generate"]) as ph:
            manifest = generate(profile="randers", residents=residents, years=years, seed=seed, out=data,
                                end_date=end_date, show_progress=False, daily_increments=increments)
        ph.rows = sum(int(f.get("rows") or 0) + int(f.get("bad_rows") or 0)
                      for d in manifest.get("deliveries", []) for f in d.get("files", []))
        files = sorted((data / "landing").rglob("*.csv"))
        ph.detail = {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
        if not ph.rows:   # manifests without row counts: count lines
            ph.rows = sum(max(0, sum(1 for _ in p.open("rb")) - 1) for p in files)
        self.say(f"generate: {ph.seconds:.1f} s, {ph.rows:,} rows in {len(files)} files "
                 f"({ph.detail['bytes'] / MB:,.0f} MB)")

    def load(self, end_date: dt.date) -> None:
        with timed(self.sampler, self.phases["load"]) as ph:
            per_entity = load_entities(self.s, self.entities, end_date, self.say)
        ph.rows = sum(e["rows"] for e in per_entity.values())
        ph.detail = {"entities": per_entity, "bytes": sum(e["bytes"] for e in per_entity.values()),
                     "rows_per_second": round(ph.rows / ph.seconds) if ph.seconds else 0}
        self.say(f"load: {ph.seconds:.1f} s, {ph.rows:,} rows ({ph.detail['rows_per_second']:,} rows/s)")

    def copy_limit(self, end_date: dt.date) -> None:
        self.say("load limit: COPY of the same raw files into unlogged text tables")
        copy_phase = Phase()
        with timed(self.sampler, copy_phase):
            copy = copy_limit(self.s, self.entities, end_date)
        copy["cpu_seconds"] = copy_phase.as_dict()["cpu_seconds"]
        copy["rows_per_second"] = round(copy["rows"] / copy["seconds"]) if copy["seconds"] else 0
        copy["peak_memory_mb"] = copy_phase.memory.as_dict()
        self.limits["copy"] = copy
        self.say(f"COPY: {copy['seconds']:.1f} s, {copy['rows']:,} rows")

    def gates(self, run_id: str, logical_date: dt.date) -> None:
        with timed(self.sampler, self.phases["gates"]) as ph:
            ph.detail = gate_entities(self.s, self.entities, run_id, logical_date, self.say)
        ph.rows = ph.detail.pop("rows_checked")
        self.say(f"gates: {ph.seconds:.1f} s, {len(ph.detail['suites'])} suites, {len(ph.detail['skipped'])} missing")

    def dbt_full(self) -> None:
        with timed(self.sampler, self.phases["dbt_full"]) as ph:
            self.say("dbt seed")
            seed_run = run_dbt(["seed", "--full-refresh"], self.env, self.target, self.dbt_log, self.dbt_project)
            self.say(f"dbt seed: {seed_run.seconds:.1f} s; dbt build --full-refresh")
            build_run = run_dbt(["build", "--full-refresh"], self.env, self.target, self.dbt_log, self.dbt_project)
        fact = fact_chain(self.target, build_run.results)
        with psycopg.connect(self.s.url("helhed"), autocommit=True) as conn:
            fact["rows"] = (count_rows(conn, "build_restricted", FACT_MODEL)
                            if table_exists(conn, "build_restricted", FACT_MODEL) else None)
        ph.rows = rows_affected(build_run.results)
        ph.detail = {"seed_seconds": round(seed_run.seconds, 3), "build_seconds": round(build_run.seconds, 3),
                     **node_summary(build_run.results), "fact": fact, "materializations": materializations(self.target)}
        self.say(f"dbt full build: {ph.seconds:.1f} s (build {build_run.seconds:.1f} s); "
                 f"{FACT_MODEL} {fact.get('seconds', 0):.1f} s")

    def evaluation(self, run_id: str) -> None:
        with timed(self.sampler, self.phases["evaluation"]) as ph:
            detail = evaluate_and_propose(self.s, run_id)
        ph.rows = detail.pop("rows")
        ph.detail = detail
        self.say(f"evaluation and proposals: {ph.seconds:.1f} s")

    def incremental(self, run_id: str, day: dt.date) -> None:
        inc = self.phases["incremental"]
        with timed(self.sampler, inc):
            started = time.perf_counter()
            loaded = {k: v for k, v in load_entities(self.s, self.entities, day, self.say).items() if v["files"]}
            load_seconds = time.perf_counter() - started
            started = time.perf_counter()
            inc_gates = gate_entities(self.s, self.entities, run_id, day, self.say)
            gate_seconds = time.perf_counter() - started
            self.say("dbt build (incremental)")
            log_size = self.dbt_log.stat().st_size
            inc_run = run_dbt(["build"], self.env, self.target, self.dbt_log, self.dbt_project)
            after_dbt = evaluate_and_propose(self.s, run_id)
        batches = [line.split("  ", 1)[-1].strip() for line in
                   self.dbt_log.read_text(errors="replace")[log_size:].splitlines()
                   if "incremental batch" in line or "rebuilt in full" in line]
        inc.rows = sum(e["rows"] for e in loaded.values())
        inc.detail = {
            "delivery_date": day.isoformat(), "entities": loaded,
            "load_seconds": round(load_seconds, 3), "gates_seconds": round(gate_seconds, 3),
            "gates_rows_checked": inc_gates["rows_checked"],
            "dbt_build_seconds": round(inc_run.seconds, 3), "dbt_rows_affected": rows_affected(inc_run.results),
            "evaluation_seconds": round(after_dbt["evaluation_seconds"] + after_dbt["budget_seconds"], 3),
            **node_summary(inc_run.results), "fact": fact_chain(self.target, inc_run.results),
            "incremental_batches": batches, "gates_skipped": inc_gates["skipped"], "gates": inc_gates["suites"],
            "gates_failed": {n: inc_gates["suites"][n].get("error") or "failed" for n in inc_gates["failed"]},
        }
        self.say(f"incremental night: {inc.seconds:.1f} s (load {load_seconds:.1f}, gates {gate_seconds:.1f}, "
                 f"dbt build {inc_run.seconds:.1f})")

    def publish(self, run_id: str, day: dt.date, first: Phase) -> None:
        with timed(self.sampler, self.phases["publish"]) as ph:
            ph.detail = gate_marts_and_publish(self.s, run_id, day)
        ph.rows = ph.detail.pop("rows")
        ph.detail["after_full_build"] = {"seconds": round(first.seconds, 3), **{
            k: v for k, v in first.detail.items() if k in ("mart_gates_seconds", "swap_seconds", "rows",
                                                           "published_table_mb")}}
        inc = self.phases["incremental"]
        inc.detail["night_seconds"] = round(inc.seconds + ph.seconds, 3)
        self.say(f"publish: {ph.seconds:.1f} s (mart gates {ph.detail['mart_gates_seconds']:.1f} s, "
                 f"swap {ph.detail['swap_seconds']:.2f} s), {ph.detail['tables']} tables, {ph.detail['views']} views")

    def through_airflow(self, day: dt.date) -> None:
        """One more night (the next day's delivery) through Airflow as production runs it, beside the
        bare incremental night: the orchestration overhead (issue 12).

        The Airflow services run on this size's database (API server, scheduler with the
        LocalExecutor, DAG processor, triggerer; started and stopped here, not timed) with the cron
        schedule off (``[scheduler] use_job_schedule``), so the only run is the one triggered for
        ``day``; it is polled in Airflow's metadata database until it finishes. Its time runs from
        queued to finished, as a scheduled run's would.
        """
        bare = self.phases["incremental"].detail["night_seconds"]
        record: dict[str, Any] = {"delivery_date": day.isoformat(), "bare_night_seconds": bare,
                                  "how": "scheduler + LocalExecutor, triggered run polled to completion"}
        self.result["airflow"] = record
        with environment({"HELHED_AIRFLOW_PORT": str(free_port())}):   # never the demo's Airflow
            run, wall = self._trigger_airflow_night(day, record)
        if run is None:
            return
        record.update(_airflow_run_summary(run, wall, bare))
        self.say(f"Airflow night: {record['seconds']} s (bare {bare:.1f} s, overhead {record['overhead_seconds']} s, "
                 f"{record['tasks']} tasks), {run.state}")

    def _trigger_airflow_night(self, day: dt.date, record: dict[str, Any]) -> tuple[Any, float]:
        """Start the scheduler, trigger the night and wait for it: (the run, its wall seconds), or
        (None, 0) with the error in ``record``; the services are stopped either way."""
        from helhed import airflow_local

        try:
            self.say("Airflow: preparing and starting the services (metadata database, scheduler; not timed)")
            airflow_local.prepare(self.s, say=self.say)
            airflow_local.start_services(self.s, {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"})
            airflow_local.airflow(self.s, "dags", "reserialize", capture=True)
            airflow_local.airflow(self.s, "dags", "unpause", airflow_local.DAG_ID, capture=True)
            started = time.perf_counter()
            run = airflow_local.trigger_and_wait(self.s, day, f"bench__{day.isoformat()}")
            return run, time.perf_counter() - started
        except Exception as exc:  # noqa: BLE001 - the other phases' numbers stay; the report says why
            record["error"] = f"{type(exc).__name__}: {exc}"[:1000]
            self.say(f"Airflow night failed to run: {record['error']}")
            return None, 0.0
        finally:
            airflow_local.stop_services(self.s)

    def explain_misses(self, explain: bool) -> None:
        fact = self.phases["dbt_full"].detail.get("fact", {})
        ratio = _ratio(fact.get("seconds"), self.limits["transform"]["seconds"])
        if explain and ratio is not None and ratio > TARGETS["fact_vs_statement"]:
            self.say("fact build misses its target: EXPLAIN ANALYZE of its select")
            self.limits["transform"]["fact_plan"] = explain_fact(self.s, self.target, analyze=True)


def _airflow_run_summary(run: Any, wall: float, bare: float) -> dict[str, Any]:
    """What the bench keeps of a triggered DAG run: its time, its overhead over the bare night and
    where the task time went (the slowest tasks and the dbt layers)."""
    seconds = run.seconds if run.seconds is not None else wall
    task_seconds = [t["seconds"] or 0.0 for t in run.tasks]
    summary: dict[str, Any] = {
        "state": run.state, "returncode": 0 if run.state == "success" else 1,
        "seconds": round(seconds, 3), "wall_seconds": round(wall, 3),
        "overhead_seconds": round(seconds - bare, 3),
        "tasks": len(run.tasks), "task_seconds_sum": round(sum(task_seconds), 3),
        "dbt_task_seconds": {t["task_id"]: round(t["seconds"] or 0.0, 3) for t in run.tasks
                             if t["task_id"].startswith("dbt_build.")},
        "slowest_tasks": [{"task": t["task_id"], "seconds": round(t["seconds"] or 0.0, 3)}
                          for t in sorted(run.tasks, key=lambda t: -(t["seconds"] or 0.0))[:8]],
    }
    if run.state != "success":
        failed = [t["task_id"] for t in run.tasks if t["state"] not in ("success", "skipped")]
        summary["error"] = f"the DAG run {run.run_id} ended {run.state} (tasks not successful: {failed[:10]})"
    return summary


def _ratio(ours: float | None, limit: float | None) -> float | None:
    if not ours or not limit:
        return None
    return round(ours / limit, 2)


def summarise(result: dict[str, Any], phases: dict[str, Phase]) -> dict[str, Any]:
    """The run's phases, peaks, ratios and targets from what :class:`_Night` measured."""
    limits = result["limits"]
    fact = phases["dbt_full"].detail.get("fact", {})
    result["phases"] = {name: ph.as_dict() for name, ph in phases.items()}
    result["peak_memory_mb"] = {
        key: round(max(ph.memory.as_dict()[key] for ph in phases.values()), 1)
        for key in ("python_mb", "children_mb", "postgres_mb", "postgres_rss_sum_mb")
    }
    full_night = sum(phases[p].seconds for p in ("load", "gates", "dbt_full", "evaluation")) + \
        phases["publish"].detail.get("after_full_build", {}).get("seconds", 0.0)
    airflow = result.get("airflow") or {}
    result["ratios"] = {
        "load_vs_copy": _ratio(phases["load"].seconds, limits["copy"]["seconds"]),
        "fact_vs_statement": _ratio(fact.get("seconds"), limits["transform"]["seconds"]),
        "fact_chain_vs_statement": _ratio(fact.get("chain_seconds"), limits["transform"]["seconds"]),
        "load_vs_copy_cpu": _ratio(phases["load"].as_dict()["cpu_seconds"].get("total"),
                                   (limits["copy"].get("cpu_seconds") or {}).get("total")),
        "airflow_vs_bare": (_ratio(airflow.get("seconds"), airflow.get("bare_night_seconds"))
                            if airflow.get("returncode") == 0 else None),
    }
    result["full_night_seconds"] = round(full_night, 3)
    result["targets"] = evaluate_targets(result)
    return result


def evaluate_targets(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target's value at this size and whether it is met (a missing value is not met)."""
    phases, ratios = run["phases"], run["ratios"]
    values = {
        "dbt_full_seconds": phases["dbt_full"]["seconds"],
        "full_night_seconds": run.get("full_night_seconds"),
        "incremental_seconds": phases["incremental"].get("night_seconds", phases["incremental"]["seconds"]),
        "load_vs_copy": ratios["load_vs_copy"],
        "fact_vs_statement": ratios["fact_vs_statement"],
        "airflow_vs_bare": ratios.get("airflow_vs_bare"),
    }
    if values["airflow_vs_bare"] is None:   # the Airflow night is optional (--airflow)
        del values["airflow_vs_bare"]
    targets = {k: {"value": v, "target": TARGETS[k], "met": v is not None and v <= TARGETS[k]} for k, v in values.items()}
    return {**targets, **charts.evaluate_target(run)}   # the Superset phase is optional (--superset)


def superset_charts(s: Settings, rounds: int, say: Log) -> dict[str, Any]:
    """The optional Superset phase, after the size's publish while its PostgreSQL runs: every
    dashboard chart's data with the cache off, as the admin, a leader and a department (issue 12)."""
    return charts.measure(s, rounds=rounds, warmup=1, say=say)
