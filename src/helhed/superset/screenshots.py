"""Screenshots of every dashboard as each role meant to see it (``docs/screenshots/``).

A user of a role logs in through Superset's own login form (``POST /login/`` with the CSRF
token of its session), which yields the browser session cookie; :mod:`._screenshots` then
opens each dashboard with that cookie in headless Chromium from the Superset venv (Selenium
ships with Superset; Debian's ``chromium`` and ``chromium-driver`` are the browser). The
result per dashboard says how many charts rendered, which showed an error and how many said
they had no data, so a test can fail on either.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from helhed.superset import server

SCRIPT = Path(__file__).with_name("_screenshots.py")
#: Where Debian's chromium package puts the browser (``HELHED_CHROMIUM`` overrides it in the script).
CHROMIUM_DEFAULT = "/usr/bin/chromium"


class ScreenshotError(RuntimeError):
    pass


@dataclass(frozen=True)
class Shot:
    path: Path
    charts: int
    rendered: int
    errors: tuple[str, ...]
    empty: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.rendered >= self.charts and not self.errors and self.empty == 0


def session_cookies(base_url: str, username: str, password: str, timeout: float = 60.0) -> dict[str, str]:
    """Log in through the form, as a browser does, and return the session's cookies."""
    session = requests.Session()
    page = session.get(f"{base_url}/login/", timeout=timeout)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or re.search(
        r'"csrf_token":\s*"([^"]+)"', page.text)
    if token is None:
        token_value = session.get(f"{base_url}/api/v1/security/csrf_token/", timeout=timeout).json().get("result")
    else:
        token_value = token.group(1)
    response = session.post(f"{base_url}/login/", data={"username": username, "password": password,
                                                          "csrf_token": token_value}, timeout=timeout, allow_redirects=False)
    if response.status_code not in (302, 303) or "/login" in response.headers.get("Location", ""):
        raise ScreenshotError(f"form login as {username} at {base_url} failed: {response.status_code}")
    return {name: value for name, value in session.cookies.get_dict().items() if value is not None}


def take(base_url: str, cookies: dict[str, str], jobs: list[tuple[str, Path, int]], *,
         timeout: float = 60.0) -> list[Shot]:
    """Screenshot each (dashboard URL, PNG path, number of charts) with one browser session."""
    request = {"base_url": base_url, "cookies": cookies, "timeout": timeout,
               "jobs": [{"url": url, "path": str(path), "charts": charts} for url, path, charts in jobs]}
    for _, path, _ in jobs:
        path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([str(server.venv_dir() / "bin" / "python"), str(SCRIPT)], input=json.dumps(request),
                          capture_output=True, text=True, timeout=120 + timeout * 2 * len(jobs))
    if proc.returncode != 0:
        raise ScreenshotError(f"{SCRIPT.name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    shots = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            shots.append(Shot(Path(r["path"]), r["charts"], r["rendered"], tuple(r["errors"]), r["empty"], r["seconds"]))
    if len(shots) != len(jobs):
        raise ScreenshotError(f"{SCRIPT.name} reported {len(shots)} of {len(jobs)} dashboards: {proc.stderr[-2000:]}")
    return shots
