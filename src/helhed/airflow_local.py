"""Run Airflow locally against the embedded PostgreSQL: configure, migrate, run the DAG, serve the UI.

Airflow is configured only through environment variables built here, so nothing in the user's
home is touched and the same DAGs run unchanged under docker-compose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from helhed import processes
from helhed.airflow_support import write_dbt_manifest
from helhed.config import REPO_ROOT, Settings

DAG_ID = "helhed_nightly"
SERVICES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def api_port() -> int:
    return int(os.environ.get("HELHED_AIRFLOW_PORT", "8080"))


def airflow_env(s: Settings) -> dict[str, str]:
    """The environment for every Airflow command of the local demo."""
    home = s.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "simple_auth_manager_passwords.json"
    admin_password = os.environ.get("HELHED_AIRFLOW_ADMIN_PASSWORD", "admin")
    passwords.write_text(json.dumps({"admin": admin_password}))
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
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": s.url("airflow", driver="postgresql+psycopg2"),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__PORT": str(api_port()),
        "AIRFLOW__API_AUTH__JWT_SECRET": s.secrets["HELHED_SUPERSET_SECRET_KEY"],
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
    return subprocess.run([airflow_bin(), *args], env=airflow_env(s), check=check, text=True,
                          capture_output=capture)


def migrate(s: Settings) -> None:
    """Create or upgrade Airflow's metadata database and refresh the dbt manifest (idempotent)."""
    airflow(s, "db", "migrate", capture=True)
    write_dbt_manifest(s.libpq_env())


def run_dag(s: Settings, logical_date: date) -> subprocess.CompletedProcess:
    """Run the nightly DAG once for ``logical_date``, recorded in Airflow's metadata database."""
    airflow(s, "dags", "reserialize", capture=True)
    return airflow(s, "dags", "test", DAG_ID, logical_date.isoformat(), check=False)


def start_services(s: Settings) -> None:
    env = airflow_env(s)
    commands = {
        "airflow-api-server": ["api-server", "--port", str(api_port())],
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
