import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

HELHED = str(Path(sys.executable).parent / "helhed")


@pytest.mark.parametrize("args", [[], ["db"], ["airflow"], ["superset"], ["generate"], ["run"], ["backfill"], ["dbt-manifest"], ["rotate-key"],
    ["purge-landing"],
                                  ["demo"], ["serve"], ["stop"], ["lock"], ["lock", "status"], ["lock", "release"],
                                  ["accept-file"], ["check-secrets"], ["load"], ["gate"], ["publish"]])
def test_every_command_has_help(args):
    result = subprocess.run([HELHED, *args, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


# --------------------------------------------------------------------------- a fresh clone


def test_run_without_postgres_says_in_one_line_what_to_run(tmp_path):
    """A fresh clone whose PostgreSQL is not started: one line naming the command, no traceback."""
    import socket

    with socket.socket() as sock:   # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "HELHED_HOME": str(tmp_path / "home"), "HELHED_DATA_DIR": str(tmp_path / "data"),
           "HELHED_PG_PORT": str(port)}
    for command in (["run", "--date", "2025-12-31"], ["backfill", "--from", "2025-12-30", "--to", "2025-12-31"]):
        result = subprocess.run([HELHED, *command], capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr and "CalledProcessError" not in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert "`helhed db start`" in last and str(port) in last, result.stderr


def test_a_fresh_airflow_database_is_migrated_before_the_dag_is_serialised(pg, monkeypatch):
    """`helhed run` on a fresh clone used to die in `airflow dags reserialize` with a bare
    CalledProcessError hiding "Database migration required"; now the failure names the command
    and its reason, and run_dag's preparation migrates first."""
    from helhed import airflow_local, database

    name = f"airflow_fresh_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("HELHED_AIRFLOW_DATABASE", name)
    with database.connect(pg, "postgres", autocommit=True) as conn:
        database.ensure_database(conn, name, metadata=True)
    try:
        with pytest.raises(airflow_local.AirflowCommandFailed, match=r"`airflow dags reserialize` failed .*igrat"):
            airflow_local.airflow(pg, "dags", "reserialize", capture=True)
        messages: list[str] = []
        airflow_local.prepare(pg, say=messages.append)
        assert any("airflow db migrate" in m for m in messages), messages
        assert not airflow_local.needs_migration(pg)
        airflow_local.airflow(pg, "dags", "reserialize", capture=True)   # what run_dag does next
    finally:
        with database.connect(pg, "postgres", autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
