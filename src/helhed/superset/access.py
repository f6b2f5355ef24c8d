"""The access model as code: who may see which dashboard and which rows (``superset/access.yaml``).

Two halves, both idempotent and both read from the one YAML file:

* **PostgreSQL** (:func:`ensure_pg_roles`, called by :func:`helhed.database.bootstrap`): one
  login role per access level. ``helhed_leder``, ``helhed_oekonomi`` and every
  ``helhed_dept_<department>`` are members of ``helhed_reader``, so they read the public marts
  (schema ``marts``, granted to the reader by dbt and the publish step) and nothing else: no
  ``restricted``, ``landing``, ``audit`` or ``staging``. Department logins are also members of
  ``helhed_department_staff``; the dbt macro ``department_row_security`` gives every public
  mart with a ``department`` column a policy that shows such a login its own department's rows
  only. ``helhed_bi`` reads everything (``pg_read_all_data``) but landing's raw rows (row-level security
  without a policy on every landing table, see helhed.loading): the BI team maintains the
  platform. Passwords: ``helhed_bi`` uses the generated secret ``HELHED_BI_PASSWORD`` (Superset's
  BI connection needs it); the other logins get ``HELHED_PG_<LEVEL>_PASSWORD`` when that is set
  (e.g. ``HELHED_PG_LEDER_PASSWORD``, ``HELHED_PG_DEPT_SUNDHED_PASSWORD``) and otherwise no
  password, so nobody can log in as them until the BI team hands one out.
* **Superset** (:func:`sync_superset`, called by ``helhed superset provision`` after the assets
  import) over Superset's REST API: the roles, each with the application permissions of the
  built-in ``Gamma`` role (plus ``sql_lab``'s for BI) and datasource access to exactly the
  datasets its dashboards' charts read; each dashboard's roles (``DASHBOARD_RBAC``); and one
  row-level-security filter per department role on every dataset with a ``department`` column.
  The permission list of a role is *set*, not added to, so a second sync changes nothing and a
  permission removed from the YAML is removed from Superset.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from helhed.config import REPO_ROOT

log = logging.getLogger(__name__)

ACCESS_FILE = REPO_ROOT / "superset" / "access.yaml"
READER_ROLE = "helhed_reader"
DEPARTMENT_STAFF_ROLE = "helhed_department_staff"
BI_PASSWORD_SECRET = "HELHED_BI_PASSWORD"


class AccessError(RuntimeError):
    pass


@dataclass(frozen=True)
class RoleSpec:
    """One Superset role and the PostgreSQL login of its access level."""

    name: str
    description: str
    pg_role: str
    dashboards: tuple[str, ...]  # slugs; ("all",) means every dashboard
    all_data: bool = False
    sql_lab: bool = False
    department: str | None = None  # set for department roles: RLS on this department

    def sees(self, slug: str) -> bool:
        return self.dashboards == ("all",) or slug in self.dashboards


@dataclass(frozen=True)
class AccessSpec:
    base_role: str
    roles: tuple[RoleSpec, ...]
    rls_column: str

    def role(self, name: str) -> RoleSpec:
        return next(r for r in self.roles if r.name == name)

    @property
    def department_roles(self) -> tuple[RoleSpec, ...]:
        return tuple(r for r in self.roles if r.department)


def _flat(items: Iterable) -> tuple[str, ...]:
    """Dashboard lists may nest a YAML alias (``- *aggregate``): flatten, keep order, no duplicates."""
    out: list[str] = []
    for item in items:
        for slug in _flat(item) if isinstance(item, list) else (item,):
            if slug not in out:
                out.append(str(slug))
    return tuple(out)


def load_spec(path: Path = ACCESS_FILE) -> AccessSpec:
    """Parse ``superset/access.yaml``; a missing key names the file and the role."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    roles: list[RoleSpec] = []
    try:
        for name, role in data["roles"].items():
            dashboards = role["dashboards"]
            roles.append(RoleSpec(
                name=name, description=role["description"], pg_role=role["pg_role"],
                dashboards=("all",) if dashboards == "all" else _flat(dashboards),
                all_data=bool(role.get("all_data")), sql_lab=bool(role.get("sql_lab")),
            ))
        departments = data["department_roles"]
        for code, label in departments["departments"].items():
            roles.append(RoleSpec(
                name=f"{departments['role_prefix']}{code}",
                description=f"{label} - egne rækker i forvaltningens dashboards, ingen SQL Lab.",
                pg_role=f"{departments['pg_role_prefix']}{code}",
                dashboards=_flat(departments["dashboards"]), department=code,
            ))
        return AccessSpec(base_role=data["base_role"], roles=tuple(roles),
                          rls_column=departments["rls_column"])
    except (KeyError, TypeError) as exc:
        raise AccessError(f"{path}: missing or malformed key {exc}") from exc


# --------------------------------------------------------------------------- PostgreSQL


def login_password(role: RoleSpec, secrets: dict[str, str]) -> str | None:
    """The password of a role's login: BI's generated secret, else an optional variable."""
    if role.all_data:
        return secrets[BI_PASSWORD_SECRET]
    variable = f"HELHED_PG_{role.pg_role.removeprefix('helhed_').upper()}_PASSWORD"
    return os.environ.get(variable) or None


def _ensure_role(conn: psycopg.Connection, name: str, *, login: bool, password: str | None) -> None:
    ident = sql.Identifier(name)
    if not conn.execute("select 1 from pg_roles where rolname = %s", [name]).fetchone():
        conn.execute(sql.SQL("create role {} {}").format(ident, sql.SQL("login" if login else "nologin")))
    if password is not None:
        conn.execute(sql.SQL("alter role {} login password {}").format(ident, sql.Literal(password)))


def ensure_pg_roles(conn: psycopg.Connection, secrets: dict[str, str], spec: AccessSpec | None = None) -> None:
    """Create or update the access-level logins (``conn``: autocommit, superuser, database helhed)."""
    spec = spec or load_spec()
    _ensure_role(conn, DEPARTMENT_STAFF_ROLE, login=False, password=None)
    for role in spec.roles:
        _ensure_role(conn, role.pg_role, login=True, password=login_password(role, secrets))
        ident = sql.Identifier(role.pg_role)
        conn.execute(sql.SQL("grant connect on database helhed to {}").format(ident))
        if role.all_data:
            conn.execute(sql.SQL("grant pg_read_all_data to {}").format(ident))
            continue
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(READER_ROLE), ident))
        if role.department:
            conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(DEPARTMENT_STAFF_ROLE), ident))


# --------------------------------------------------------------------------- Superset


@dataclass
class SyncResult:
    roles: dict[str, int] = field(default_factory=dict)  # role -> id
    permissions: dict[str, frozenset[int]] = field(default_factory=dict)  # role -> permission-view ids
    dashboard_roles: dict[str, frozenset[str]] = field(default_factory=dict)  # slug -> role names
    rls: dict[str, tuple[int, frozenset[int], str]] = field(default_factory=dict)  # name -> (id, tables, clause)


def _all_pages(client, path: str) -> list[dict]:
    """Every row of a list endpoint (Superset caps a page at 100)."""
    rows: list[dict] = []
    page = 0
    while True:
        body = client.get(path, params={"q": f"(page:{page},page_size:100)"})
        rows.extend(body["result"])
        if len(body["result"]) < 100:
            return rows
        page += 1


def _checked(response, what: str) -> dict:
    if response.status_code not in (200, 201):
        raise AccessError(f"{what}: {response.status_code} {response.text[:500]}")
    return response.json()


def ensure_superset_role(client, name: str, existing: dict[str, int]) -> int:
    if name not in existing:
        body = _checked(client.request("POST", "/api/v1/security/roles/", json={"name": name}), f"create role {name}")
        existing[name] = int(body["id"])
    return existing[name]


def dashboard_datasets(assets_dir: Path) -> dict[str, set[str]]:
    """Dashboard slug -> uuids of the datasets its charts read (from the asset files)."""
    charts = {}
    for path in sorted((assets_dir / "charts").glob("*.yaml")):
        chart = yaml.safe_load(path.read_text(encoding="utf-8"))
        charts[chart["uuid"]] = chart["dataset_uuid"]
    out: dict[str, set[str]] = {}
    for path in sorted((assets_dir / "dashboards").glob("*.yaml")):
        dashboard = yaml.safe_load(path.read_text(encoding="utf-8"))
        uuids = {node["meta"]["uuid"] for node in dashboard["position"].values()
                 if isinstance(node, dict) and node.get("type") == "CHART"}
        missing = uuids - charts.keys()
        if missing:
            raise AccessError(f"{path}: charts {sorted(missing)} have no file under charts/")
        out[dashboard["slug"]] = {charts[u] for u in uuids}
    return out


def dataset_files(assets_dir: Path) -> dict[str, dict]:
    """Dataset uuid -> its asset file's content."""
    return {d["uuid"]: d for d in (yaml.safe_load(p.read_text(encoding="utf-8"))
                                   for p in sorted((assets_dir / "datasets").rglob("*.yaml")))}


def sync_superset(client, assets_dir: Path, spec: AccessSpec | None = None) -> SyncResult:
    """Make Superset's roles, dashboard roles and RLS filters match ``superset/access.yaml``."""
    spec = spec or load_spec()
    result = SyncResult()
    existing = {r["name"]: int(r["id"]) for r in _all_pages(client, "/api/v1/security/roles/")}
    for base in (spec.base_role, "sql_lab"):
        if base not in existing:
            raise AccessError(f"Superset has no built-in role {base!r}: run `helhed superset init` first")
    base_ids = {p["id"] for p in client.get(f"/api/v1/security/roles/{existing[spec.base_role]}/permissions/")["result"]}
    sql_lab_ids = {p["id"] for p in client.get(f"/api/v1/security/roles/{existing['sql_lab']}/permissions/")["result"]}
    pvms = {(p["permission"]["name"], p["view_menu"]["name"]): int(p["id"])
            for p in _all_pages(client, "/api/v1/security/permissions-resources/")}

    datasets = dataset_files(assets_dir)
    superset_datasets = {(d["schema"], d["table_name"]): d for d in _all_pages(client, "/api/v1/dataset/")}
    dataset_ids: dict[str, int] = {}
    dataset_perm: dict[str, int] = {}
    for uuid, dataset in datasets.items():
        found = superset_datasets.get((dataset["schema"], dataset["table_name"]))
        if found is None:
            raise AccessError(f"dataset {dataset['schema']}.{dataset['table_name']} is not in Superset: import the assets first")
        dataset_ids[uuid] = int(found["id"])
        name = f"[{found['database']['database_name']}].[{dataset['table_name']}](id:{found['id']})"
        if ("datasource_access", name) not in pvms:
            raise AccessError(f"Superset has no permission 'datasource_access on {name}'")
        dataset_perm[uuid] = pvms[("datasource_access", name)]

    per_dashboard = dashboard_datasets(assets_dir)
    for role in spec.roles:
        role_id = ensure_superset_role(client, role.name, existing)
        ids = set(base_ids)
        if role.sql_lab:
            ids |= sql_lab_ids
        if role.all_data:
            ids |= {pvms[("all_datasource_access", "all_datasource_access")],
                    pvms[("all_database_access", "all_database_access")]}
        for slug, uuids in per_dashboard.items():
            if role.sees(slug):
                ids |= {dataset_perm[u] for u in uuids}
        _checked(client.request("POST", f"/api/v1/security/roles/{role_id}/permissions",
                                json={"permission_view_menu_ids": sorted(ids)}), f"permissions of role {role.name}")
        result.roles[role.name] = role_id
        result.permissions[role.name] = frozenset(ids)

    for slug in per_dashboard:
        names = sorted(r.name for r in spec.roles if r.sees(slug))
        dashboard = client.get(f"/api/v1/dashboard/{slug}")["result"]
        _checked(client.request("PUT", f"/api/v1/dashboard/{dashboard['id']}",
                                json={"roles": [result.roles[n] for n in names]}), f"roles of dashboard {slug}")
        result.dashboard_roles[slug] = frozenset(names)

    existing_rls = {r["name"]: int(r["id"]) for r in _all_pages(client, "/api/v1/rowlevelsecurity/")}
    for role in spec.department_roles:
        tables = sorted({dataset_ids[u] for slug, uuids in per_dashboard.items() if role.sees(slug) for u in uuids
                         if any(c["column_name"] == spec.rls_column for c in datasets[u]["columns"])})
        name = f"{role.name}: kun egen forvaltning"
        clause = f"{spec.rls_column} = '{role.department}'"
        body = {"name": name, "filter_type": "Regular", "tables": tables, "roles": [result.roles[role.name]],
                "clause": clause, "group_key": spec.rls_column,
                "description": f"{role.name} ser kun rækker for forvaltningen {role.department} (superset/access.yaml)."}
        if name in existing_rls:
            _checked(client.request("PUT", f"/api/v1/rowlevelsecurity/{existing_rls[name]}", json=body), f"RLS {name}")
        else:
            existing_rls[name] = int(_checked(client.request("POST", "/api/v1/rowlevelsecurity/", json=body), f"RLS {name}")["id"])
        result.rls[name] = (existing_rls[name], frozenset(tables), clause)
    log.info("access synced: %d roles, %d dashboards, %d RLS filters", len(result.roles),
             len(result.dashboard_roles), len(result.rls))
    return result
