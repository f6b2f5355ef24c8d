"""Dashboards as code: import ``superset/assets`` into a running Superset over its REST API.

``superset/assets`` is a Superset import bundle in the native v1 YAML format
(``metadata.yaml``, ``databases/``, ``datasets/``, ``charts/``, ``dashboards/``, stable UUIDs).
Connection details in ``databases/*.yaml`` are ``${pg_host}``-style placeholders filled from
:class:`helhed.config.Settings` (``HELHED_PG_HOST``, ``HELHED_PG_PORT``; the database from
``HELHED_PG_DATABASE``, default ``helhed``), and each connection's password (``helhed_reader``'s,
``helhed_bi``'s) is sent in the request's ``passwords`` field, so neither lives in the repository.
Dashboards' how-to texts link to the documentation at ``${docs_url}`` (``HELHED_DOCS_URL``).
After the import, :mod:`helhed.superset.access` syncs roles, dashboard roles and row-level
security from ``superset/access.yaml``.

We import through ``POST /api/v1/assets/import/``: it overwrites databases, datasets, charts
and dashboards matched by UUID. ``POST /api/v1/dashboard/import/`` with ``overwrite=true``
(kept as ``endpoint="dashboard"``) overwrites only the dashboard itself in Superset 6.1 and
keeps existing databases, datasets and charts as they are, so an edited chart or a changed
connection would silently not reach Superset on re-provisioning.
"""

from __future__ import annotations

import io
import json
import logging
import os
import string
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from helhed.config import REPO_ROOT, Settings
from helhed.superset import access, server

log = logging.getLogger(__name__)

ASSETS_DIR = REPO_ROOT / "superset" / "assets"
BUNDLE_ROOT = "helhed_superset_assets"
IMPORT_ENDPOINTS = {
    "assets": ("/api/v1/assets/import/", "bundle"),
    "dashboard": ("/api/v1/dashboard/import/", "formData"),
}


class ProvisionError(RuntimeError):
    pass


def template_values(s: Settings) -> dict[str, str]:
    """Values for the ``${...}`` placeholders in ``databases/*.yaml``."""
    return {
        "pg_host": s.pg_host,
        "pg_port": str(s.pg_port),
        "pg_database": os.environ.get("HELHED_PG_DATABASE", "helhed"),
        "docs_url": os.environ.get("HELHED_DOCS_URL", f"file://{REPO_ROOT / 'docs'}").rstrip("/"),
    }


#: The secret holding the password of each login a connection in ``databases/`` uses.
CONNECTION_PASSWORDS = {"helhed_reader": "HELHED_READER_PASSWORD", "helhed_bi": access.BI_PASSWORD_SECRET}
#: Folders whose files may hold ``${...}`` placeholders (connections; dashboards' links to the docs).
TEMPLATED_FOLDERS = ("databases/", "dashboards/")


def asset_files(assets_dir: Path = ASSETS_DIR) -> list[Path]:
    return sorted(p for p in assets_dir.rglob("*.yaml") if p.is_file())


def render_assets(s: Settings, assets_dir: Path = ASSETS_DIR) -> dict[str, str]:
    """The bundle's files (path relative to the bundle root -> YAML text), placeholders filled.

    Every file is parsed once here, so a YAML mistake fails before anything is sent.
    """
    values = template_values(s)
    files: dict[str, str] = {}
    for path in asset_files(assets_dir):
        name = path.relative_to(assets_dir).as_posix()
        text = path.read_text(encoding="utf-8")
        if name.startswith(TEMPLATED_FOLDERS):
            try:
                text = string.Template(text).substitute(values)
            except (KeyError, ValueError) as exc:
                raise ProvisionError(f"{name}: unknown or malformed placeholder {exc}") from exc
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ProvisionError(f"{name}: not valid YAML: {exc}") from exc
        if name != "metadata.yaml" and not (isinstance(config, dict) and config.get("uuid")):
            raise ProvisionError(f"{name}: has no uuid")
        files[name] = text
    if "metadata.yaml" not in files:
        raise ProvisionError(f"{assets_dir} has no metadata.yaml")
    return files


def build_bundle(s: Settings, assets_dir: Path = ASSETS_DIR) -> bytes:
    """The import ZIP: every file under one root folder, as Superset's own exports are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in render_assets(s, assets_dir).items():
            info = zipfile.ZipInfo(f"{BUNDLE_ROOT}/{name}", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def connection_user(path: Path) -> str:
    """The login of a ``databases/*.yaml`` file (``postgresql+psycopg2://<user>:XXXXXXXXXX@...``)."""
    uri = yaml.safe_load(path.read_text(encoding="utf-8"))["sqlalchemy_uri"]
    return uri.split("://", 1)[1].split(":", 1)[0]


def database_passwords(s: Settings, assets_dir: Path = ASSETS_DIR) -> dict[str, str]:
    """``passwords`` for the import: each database file's login gets its own secret."""
    passwords = {}
    for path in asset_files(assets_dir / "databases"):
        user = connection_user(path)
        if user not in CONNECTION_PASSWORDS:
            raise ProvisionError(f"{path}: connects as {user!r}, which has no secret (known: {sorted(CONNECTION_PASSWORDS)})")
        passwords[path.relative_to(assets_dir).as_posix()] = s.secrets[CONNECTION_PASSWORDS[user]]
    return passwords


def dashboard_uuids(assets_dir: Path = ASSETS_DIR) -> list[str]:
    return [
        str(yaml.safe_load(p.read_text(encoding="utf-8"))["uuid"])
        for p in asset_files(assets_dir / "dashboards")
    ]


class SupersetClient:
    """A logged-in REST session (JWT for the API plus the session cookie + CSRF token)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        response = self.session.post(
            f"{self.base_url}/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": False},
            timeout=timeout,
        )
        if response.status_code != 200:
            raise ProvisionError(f"login to {self.base_url} as {username} failed: {response.status_code} {response.text[:300]}")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        csrf = self.get("/api/v1/security/csrf_token/")["result"]
        self.session.headers.update({"X-CSRFToken": csrf, "Referer": self.base_url})

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path: str, **kwargs) -> dict:
        response = self.request("GET", path, **kwargs)
        if response.status_code != 200:
            raise ProvisionError(f"GET {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def import_bundle(self, bundle: bytes, passwords: dict[str, str], endpoint: str = "assets") -> None:
        path, field_name = IMPORT_ENDPOINTS[endpoint]
        response = self.request(
            "POST",
            path,
            files={field_name: (f"{BUNDLE_ROOT}.zip", bundle, "application/zip")},
            data={"overwrite": "true", "passwords": json.dumps(passwords)},
        )
        if response.status_code != 200:
            raise ProvisionError(f"POST {path}: {response.status_code} {response.text[:2000]}")


@dataclass
class Provisioned:
    dashboards: dict[str, int] = field(default_factory=dict)  # title -> id
    charts: dict[str, int] = field(default_factory=dict)  # title -> id
    urls: list[str] = field(default_factory=list)
    access: access.SyncResult | None = None
    seconds: float = 0.0


def provision(
    s: Settings,
    *,
    base_url: str | None = None,
    username: str = server.ADMIN_USERNAME,
    password: str | None = None,
    assets_dir: Path = ASSETS_DIR,
    endpoint: str = "assets",
    access_file: Path = access.ACCESS_FILE,
) -> Provisioned:
    """Import the bundle (overwriting by UUID), sync the access model and return what Superset
    now holds. Idempotent."""
    began = time.monotonic()
    base_url = base_url or server.base_url()
    bundle = build_bundle(s, assets_dir)
    client = SupersetClient(base_url, username, password if password is not None else server.admin_password())
    client.import_bundle(bundle, database_passwords(s, assets_dir), endpoint=endpoint)

    result = Provisioned()
    result.access = access.sync_superset(client, assets_dir, access.load_spec(access_file))
    for uuid in dashboard_uuids(assets_dir):
        dashboard = client.get(f"/api/v1/dashboard/{uuid}")["result"]
        result.dashboards[dashboard["dashboard_title"]] = dashboard["id"]
        result.urls.append(f"{base_url}{dashboard['url']}")
        for chart in client.get(f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]:
            result.charts[chart["slice_name"]] = chart["id"]
    result.seconds = time.monotonic() - began
    log.info("provisioned %s in %.1fs", ", ".join(result.dashboards), result.seconds)
    return result
