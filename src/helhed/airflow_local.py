"""Run Airflow locally against the embedded PostgreSQL: configure, migrate, run the DAG, serve the UI.

Airflow is configured only through environment variables built here, so nothing in the user's
home is touched and the same DAGs run unchanged under docker-compose. The local demo keeps
Airflow's simple auth manager and binds its UI to 127.0.0.1 (``HELHED_AIRFLOW_HOST`` to change);
production (docker-compose.yml) uses the FAB auth manager with roles.

:func:`run_dag` prepares what a fresh clone lacks (Airflow's metadata tables, the dbt manifest
Superset's column descriptions come from) and says in one line what to do when it cannot (PostgreSQL down).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from helhed import processes
from helhed.airflow_support import dbt_project_dir, write_dbt_manifest
from helhed.config import REPO_ROOT, Settings

DAG_ID = "helhed_nightly"
SERVICES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


class NotReady(RuntimeError):
    """Something the run needs is missing; the message says in one line what to run."""


class AirflowCommandFailed(RuntimeError):
    """An ``airflow`` command failed; the message carries its last meaningful output line."""


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def api_port() -> int:
    return Settings.from_env().airflow_port


def api_host() -> str:
    """The address the local Airflow UI listens on: localhost unless ``HELHED_AIRFLOW_HOST`` says otherwise."""
    return Settings.from_env().airflow_host


def metadata_database() -> str:
    """Airflow's metadata database on the warehouse server (``HELHED_AIRFLOW_DATABASE``, default ``airflow``)."""
    return Settings.from_env().airflow_database


def airflow_env(s: Settings) -> dict[str, str]:
    """The environment for every Airflow command of the local demo."""
    home = s.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "simple_auth_manager_passwords.json"
    admin_password = s.airflow_admin_password
    fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"admin": admin_password}))
    base = f"http://localhost:{api_port()}"
    env = dict(os.environ)
    env.update(s.libpq_env())
    env.update({f"HELHED_{k}": v for k, v in {"HOME": str(s.home), "DATA_DIR": str(s.data_dir),
                                                "PG_HOST": s.pg_host, "PG_PORT": str(s.pg_port)}.items()})
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": s.url(metadata_database(), driver="postgresql+psycopg2"),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__HOST": api_host(),
        "AIRFLOW__API__PORT": str(api_port()),
        # Airflow's own secret, not Superset's: one secret, one purpose.
        "AIRFLOW__API_AUTH__JWT_SECRET": s.secrets["HELHED_AIRFLOW_JWT_SECRET"],
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__COSMOS__ENABLE_CACHE": "True",
        # No usage telemetry from a municipality's servers.
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "NO_PROXY": "*",
        # The venv's bin first, so cosmos and the tasks find this environment's dbt.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    return env


def airflow(s: Settings, *args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    """Run ``airflow <args>``; with ``check``, a failure raises :class:`AirflowCommandFailed`
    naming the command and its last meaningful output line (not a bare CalledProcessError)."""
    result = subprocess.run([airflow_bin(), *args], env=airflow_env(s), check=False, text=True,
                            capture_output=capture)
    if check and result.returncode != 0:
        raise AirflowCommandFailed(f"`airflow {' '.join(args)}` failed (exit {result.returncode}): "
                                   f"{_last_line(result)}")
    return result


def _last_line(result: subprocess.CompletedProcess) -> str:
    """The line that says why: the last non-empty line of stderr (or stdout), without log prefixes."""
    for stream in (result.stderr, result.stdout):
        lines = [line.strip() for line in (stream or "").splitlines() if line.strip()]
        if lines:
            return lines[-1][:500]
    return "no output (run it by hand to see why)"


def migrate(s: Settings) -> None:
    """Create or upgrade Airflow's metadata database and refresh the dbt manifest (idempotent)."""
    airflow(s, "db", "migrate", capture=True)
    write_dbt_manifest(s.libpq_env())


def needs_migration(s: Settings) -> bool:
    """True when Airflow's metadata database is empty or older than the installed Airflow."""
    return airflow(s, "db", "check-migrations", "--migration-wait-timeout", "0", check=False,
                   capture=True).returncode != 0


def manifest_is_stale() -> bool:
    """True when dbt's manifest (Superset's column descriptions, :mod:`helhed.dbtmeta`) is missing or older than the project."""
    project = dbt_project_dir()
    manifest = project / "target" / "manifest.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [project / "dbt_project.yml", *(p for folder in ("models", "macros", "seeds", "tests")
                                               for p in (project / folder).rglob("*") if p.is_file())]
    return any(p.stat().st_mtime > built for p in sources if p.exists())


def prepare(s: Settings, say=print) -> None:
    """Make sure a run can start: PostgreSQL answers, Airflow's tables are migrated, the manifest is current.

    A fresh clone needs ``helhed db start`` (said in one line, :class:`NotReady`); the rest is
    done here: ``airflow db migrate`` when Airflow reports missing migrations, ``dbt parse``
    when the manifest is missing or older than the dbt project.
    """
    from helhed import database

    if not database.is_running(s):
        raise NotReady(f"PostgreSQL does not answer on {s.pg_host}:{s.pg_port}; start it with `helhed db start` "
                       f"(or `make demo` for everything)")
    database.bootstrap(s)   # databases, roles and grants; idempotent and quick
    with database.connect(s, "postgres", autocommit=True) as conn:
        database.ensure_database(conn, metadata_database(), metadata=True)
    if needs_migration(s):
        say(f"Airflow's metadata database ({metadata_database()}) needs migrating: running `airflow db migrate` ...")
        airflow(s, "db", "migrate", capture=True)
    if manifest_is_stale():
        say("dbt's manifest is missing or older than the dbt project: running `dbt parse` ...")
        write_dbt_manifest(s.libpq_env())


def run_dag(s: Settings, logical_date: date, *, prepared: bool = False) -> subprocess.CompletedProcess:
    """Run the nightly DAG once for ``logical_date``, recorded in Airflow's metadata database.

    Prepares a fresh clone first (:func:`prepare`; ``prepared=True`` skips that, e.g. for each
    day of a backfill after the first). Raises :class:`NotReady` or :class:`AirflowCommandFailed`
    with a one-line reason when the DAG cannot start; a run that starts returns its process
    (``returncode`` 0 when the DAG run succeeded).
    """
    if not prepared:
        prepare(s)
    airflow(s, "dags", "reserialize", capture=True)
    return airflow(s, "dags", "test", DAG_ID, logical_date.isoformat(), check=False)


def start_services(s: Settings, overrides: Mapping[str, str] | None = None) -> None:
    """Start the API server, scheduler (LocalExecutor), DAG processor and triggerer in the background.

    ``overrides`` are extra environment variables for these services (e.g. Airflow settings for
    a measurement), on top of :func:`airflow_env`.
    """
    env = {**airflow_env(s), **(overrides or {})}
    commands = {
        "airflow-api-server": ["api-server", "--host", api_host(), "--port", str(api_port())],
        "airflow-scheduler": ["scheduler"],
        "airflow-dag-processor": ["dag-processor"],
        "airflow-triggerer": ["triggerer"],
    }
    for name, args in commands.items():
        processes.start(s, name, [airflow_bin(), *args], env)
    processes.wait_for_http(f"http://localhost:{api_port()}/api/v2/monitor/health", name="Airflow API server",
                            log=s.log_dir / "airflow-api-server.log")


def stop_services(s: Settings) -> None:
    for name in SERVICES:
        processes.stop(s, name)


@dataclass
class TriggeredRun:
    """One DAG run triggered on the running services, as the metadata database recorded it."""

    run_id: str
    state: str
    queued_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        """From queued (what a scheduled run also waits for) to the run's end."""
        begin = self.queued_at or self.start_date
        return (self.end_date - begin).total_seconds() if begin and self.end_date else None


FINISHED = ("success", "failed")


def trigger_and_wait(s: Settings, logical_date: date, run_id: str, *, timeout: float = 7200,
                     poll: float = 1.0) -> TriggeredRun:
    """Trigger the nightly DAG for ``logical_date`` on the running services (:func:`start_services`)
    and wait until the scheduler finishes it: the path a production run takes (scheduler, executor,
    task processes reporting to the API server), unlike ``airflow dags test``.

    The DAG must be serialized and unpaused. Raises :class:`TimeoutError` naming the run when it is
    not finished within ``timeout`` seconds.
    """
    import psycopg

    airflow(s, "dags", "trigger", DAG_ID, "--logical-date", f"{logical_date.isoformat()}T00:00:00+00:00",
            "--run-id", run_id, capture=True)
    deadline = time.monotonic() + timeout
    with psycopg.connect(s.url(metadata_database()), autocommit=True) as conn:
        while True:
            row = conn.execute("select state, queued_at, start_date, end_date from dag_run "
                               "where dag_id = %s and run_id = %s", (DAG_ID, run_id)).fetchone()
            if row and row[0] in FINISHED:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAG run {run_id} not finished after {timeout:.0f} s (state {row and row[0]}); "
                                   f"see {s.log_dir}/airflow-scheduler.log")
            time.sleep(poll)
        tasks = [{"task_id": task_id, "state": state, "seconds": float(seconds) if seconds is not None else None}
                 for task_id, state, seconds in conn.execute(
                     "select task_id, state, extract(epoch from end_date - start_date) from task_instance "
                     "where dag_id = %s and run_id = %s order by start_date nulls last", (DAG_ID, run_id))]
    return TriggeredRun(run_id, row[0], row[1], row[2], row[3], tasks)
