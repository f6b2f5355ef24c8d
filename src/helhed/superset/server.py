"""Run Superset for the embedded demo.

Superset lives in its own virtualenv (``.venv-superset``, pinned by
``superset/constraints.txt``) because its dependency pins clash with Airflow's. We call
its ``superset`` CLI for migrations and ``gunicorn`` for the web server, always with
``SUPERSET_CONFIG_PATH=superset/superset_config.py`` and the environment that file reads.

State lives under ``$HELHED_HOME``: ``superset/`` (Superset's data dir), ``run/superset.pid``
and ``logs/superset.log`` (init output and the server log). The metadata database is
``superset`` on the embedded PostgreSQL. docker-compose runs the official image with the
same config file instead and never calls this module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from helhed import database
from helhed.config import REPO_ROOT, Settings

log = logging.getLogger(__name__)

CONFIG_FILE = REPO_ROOT / "superset" / "superset_config.py"
ADMIN_USERNAME = "admin"
DEFAULT_PORT = 8088

INIT_SCRIPT = Path(__file__).with_name("_superset_init.py")

# Popen objects of servers started by this process, kept so they are not garbage-collected
# (and reported as still running) while we own them.
_children: dict[int, subprocess.Popen] = {}


# --- settings ------------------------------------------------------------------------------

def venv_dir() -> Path:
    return Path(os.environ.get("HELHED_SUPERSET_VENV", REPO_ROOT / ".venv-superset"))


def port() -> int:
    return int(os.environ.get("HELHED_SUPERSET_PORT", str(DEFAULT_PORT)))


def bind_host() -> str:
    return os.environ.get("HELHED_SUPERSET_HOST", "127.0.0.1")


def base_url() -> str:
    """Where Superset answers; ``HELHED_SUPERSET_URL`` overrides (e.g. compose service name)."""
    return os.environ.get("HELHED_SUPERSET_URL", f"http://localhost:{port()}").rstrip("/")


def admin_password() -> str:
    """The admin password: ``HELHED_SUPERSET_ADMIN_PASSWORD``, ``admin`` for the local demo."""
    return os.environ.get("HELHED_SUPERSET_ADMIN_PASSWORD", "admin")


def superset_home(s: Settings) -> Path:
    return s.home / "superset"


def pid_file(s: Settings) -> Path:
    """Same place as the other demo services (``helhed.processes``): ``$HELHED_HOME/run``."""
    return s.home / "run" / "superset.pid"


def log_file(s: Settings) -> Path:
    return s.log_dir / "superset.log"


def superset_env(s: Settings) -> dict[str, str]:
    """The environment ``superset_config.py`` reads; values already set in the environment win."""
    venv = venv_dir()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env["HELHED_SUPERSET_SECRET_KEY"] = s.secrets["HELHED_SUPERSET_SECRET_KEY"]
    env.setdefault("HELHED_SUPERSET_DATABASE_URI", s.url("superset", driver="postgresql+psycopg2"))
    env["SUPERSET_CONFIG_PATH"] = str(CONFIG_FILE)
    env["SUPERSET_HOME"] = str(superset_home(s))
    env["FLASK_APP"] = "superset.app:create_app()"
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


# --- helpers -------------------------------------------------------------------------------

def _require_postgres(s: Settings) -> None:
    if not database.is_running(s):
        raise RuntimeError(
            f"PostgreSQL is not running on {s.pg_host}:{s.pg_port}; start it with `helhed db start`"
        )


def _log_tail(s: Settings, lines: int = 40) -> str:
    path = log_file(s)
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _run(s: Settings, args: list[str], *, extra_env: dict[str, str] | None = None, timeout: int = 600) -> str:
    """Run a command from the Superset venv, appending its output to the log file."""
    env = superset_env(s)
    env.update(extra_env or {})
    s.log_dir.mkdir(parents=True, exist_ok=True)
    superset_home(s).mkdir(parents=True, exist_ok=True)
    shown = " ".join(args[:3])
    log.info("superset: %s", shown)
    proc = subprocess.run(args, env=env, cwd=superset_home(s), capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    with open(log_file(s), "a", encoding="utf-8") as fh:
        fh.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {shown} (exit {proc.returncode})\n{output}")
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise RuntimeError(f"`{shown}` failed with exit code {proc.returncode}:\n{tail}")
    return output


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie (reaps it if it is our own finished child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fall through to the /proc check
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def read_pid(s: Settings) -> int | None:
    """The pid of our gunicorn master if it is running, else None (a stale pid file is removed)."""
    path = pid_file(s)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if _pid_alive(pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b"gunicorn"
        if b"gunicorn" in cmdline:
            return pid
    path.unlink(missing_ok=True)
    return None


def is_healthy(url: str | None = None, timeout: float = 3.0) -> bool:
    try:
        response = requests.get(f"{url or base_url()}/health", timeout=timeout)
    except requests.RequestException:
        return False
    return response.status_code == 200


def _port_in_use(host: str, number: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1" if host in {"0.0.0.0", ""} else host, number)) == 0


# --- lifecycle -----------------------------------------------------------------------------

def init(s: Settings) -> float:
    """Migrate the metadata DB, sync roles/permissions, create the admin user. Idempotent.

    Runs ``_superset_init.py`` in the Superset venv (see there why not the ``superset`` CLI).
    Returns seconds taken.
    """
    _require_postgres(s)
    began = time.monotonic()
    output = _run(
        s,
        [str(venv_dir() / "bin" / "python"), str(INIT_SCRIPT)],
        extra_env={"HELHED_SUPERSET_ADMIN_USERNAME": ADMIN_USERNAME, "HELHED_SUPERSET_ADMIN_PASSWORD": admin_password()},
    )
    for line in output.splitlines():
        if line.startswith(("db upgrade:", "init (", "created admin", "admin user")):
            log.info("superset init: %s", line)
    return time.monotonic() - began


def start(s: Settings, timeout: float = 180.0) -> float:
    """Start gunicorn in the background and wait for ``/health``. Returns seconds waited.

    A second call while it runs only waits for health.
    """
    _require_postgres(s)
    host = "127.0.0.1" if bind_host() in {"0.0.0.0", ""} else bind_host()
    url = f"http://{host}:{port()}"
    began = time.monotonic()
    pid = read_pid(s)
    if pid is None:
        if _port_in_use(bind_host(), port()):
            raise RuntimeError(f"port {port()} is in use by another process; set HELHED_SUPERSET_PORT")
        s.log_dir.mkdir(parents=True, exist_ok=True)
        superset_home(s).mkdir(parents=True, exist_ok=True)
        workers = os.environ.get("HELHED_SUPERSET_WORKERS", "2")
        cmd = [
            str(venv_dir() / "bin" / "gunicorn"),
            "--bind", f"{bind_host()}:{port()}",
            "--workers", workers,
            "--worker-class", "gthread",
            "--threads", "8",
            "--timeout", "120",
            "--graceful-timeout", "10",
            "--limit-request-line", "0",
            "--limit-request-field_size", "0",
            "superset.app:create_app()",
        ]
        with open(log_file(s), "a", encoding="utf-8") as logfh:
            logfh.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} gunicorn on {bind_host()}:{port()}\n")
            logfh.flush()
            proc = subprocess.Popen(
                cmd, env=superset_env(s), cwd=superset_home(s), stdin=subprocess.DEVNULL,
                stdout=logfh, stderr=subprocess.STDOUT, start_new_session=True,
            )
        pid = proc.pid
        _children[pid] = proc
        pid_file(s).parent.mkdir(parents=True, exist_ok=True)
        pid_file(s).write_text(f"{pid}\n")
        log.info("Superset starting (pid %s), log %s", pid, log_file(s))
    deadline = began + timeout
    while True:
        if is_healthy(url, timeout=2):
            return time.monotonic() - began
        if not _pid_alive(pid):
            pid_file(s).unlink(missing_ok=True)
            raise RuntimeError(f"Superset exited during start-up; see {log_file(s)}:\n{_log_tail(s)}")
        if time.monotonic() > deadline:
            stop(s)
            raise RuntimeError(f"Superset did not answer /health within {timeout:.0f}s; see {log_file(s)}")
        time.sleep(0.5)


def _group_exists(pgid: int) -> bool:
    """Any process of the group left, zombies included (``kill(-pgid, 0)`` sees them too)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_group(pgid: int, timeout: float = 20.0) -> None:
    """Wait until the whole group is gone, not only its master: when the master had to be
    killed (a slow shutdown on a loaded machine), its workers are killed with it and become
    zombies until init reaps them, which can take seconds. Stragglers get SIGKILL halfway."""
    deadline = time.monotonic() + timeout
    killed = False
    while _group_exists(pgid) and time.monotonic() < deadline:
        if not killed and time.monotonic() > deadline - timeout / 2:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            killed = True
        time.sleep(0.2)


def stop(s: Settings, timeout: float = 30.0) -> bool:
    """Stop the server's whole process group. Returns False if it was not running."""
    pid = read_pid(s)
    if pid is None:
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _pid_alive(pid):
            break
    _wait_for_group(pid)
    pid_file(s).unlink(missing_ok=True)
    _children.pop(pid, None)
    return True


def status(s: Settings) -> dict[str, object]:
    pid = read_pid(s)
    return {"pid": pid, "url": base_url(), "healthy": pid is not None and is_healthy(), "log": str(log_file(s))}
