"""Background services of the local demo (Airflow, Superset): start, check, stop by pid file.

Each service runs in its own process group with its log in ``$HELHED_HOME/logs/<name>.log``,
so ``helhed stop`` can end a service and all its workers without touching anything else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from helhed.config import Settings


def _pidfile(s: Settings, name: str) -> Path:
    return s.home / "run" / f"{name}.pid"


def running_pid(s: Settings, name: str) -> int | None:
    path = _pidfile(s, name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    return pid


def start(s: Settings, name: str, args: list[str], env: dict[str, str]) -> int:
    """Start ``args`` in the background unless it already runs; return its pid."""
    pid = running_pid(s, name)
    if pid:
        return pid
    s.log_dir.mkdir(parents=True, exist_ok=True)
    _pidfile(s, name).parent.mkdir(parents=True, exist_ok=True)
    with open(s.log_dir / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    _pidfile(s, name).write_text(str(proc.pid))
    return proc.pid


def stop(s: Settings, name: str, timeout: float = 20) -> bool:
    """Stop a service's whole process group; True if it was running."""
    pid = running_pid(s, name)
    if not pid:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.3)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _pidfile(s, name).unlink(missing_ok=True)
    return True


def wait_for_http(url: str, timeout: float = 180, name: str = "service", log: Path | None = None) -> None:
    """Poll ``url`` until it answers below 500, or fail naming the log to read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    hint = f"; see {log}" if log else ""
    raise TimeoutError(f"{name} did not answer on {url} within {timeout:.0f}s{hint}")
