"""Superset chart data with the cache off, over every chart of every dashboard (issue 12).

The bench's optional Superset phase (``--superset <sizes>``) starts Superset from its own venv
against the bench's private PostgreSQL after the size's publish, provisions the dashboards as
code (:mod:`helhed.superset.server` and :mod:`helhed.superset.provision`, the same functions
``helhed superset init/start/provision`` call) and asks for every chart's data through the REST
API as the dashboards' users would, with the cache off:
``GET /api/v1/chart/<id>/data/?force=true`` runs the chart's saved query context against the
warehouse instead of answering from Superset's data cache (each answer says ``is_cached``, and
the bench records any cached one, which would make the times meaningless).

Three viewers ask, one request at a time: the admin (every dashboard), a leader (``leder``:
the aggregate dashboards) and a department (``forvaltning_beskaeftigelse``: its dashboards, with
Superset's row-level-security filter added to every query on a dataset with a ``department``
column). There are ``warmup`` untimed rounds and then ``rounds`` timed ones, each round asking
for every viewer's charts in turn (so the viewers share the machine's load alike);
the times are the client's wall time for the whole request (Superset's query, its
post-processing and the JSON), i.e. what one chart on a dashboard waits for when nothing else
runs. A browser asks for a dashboard's charts a few at a time, so a dashboard's load time is
not the sum.

The aggregation (:func:`summarise`) is pure, so it is unit-tested without Superset.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import yaml

from helhed.bench.measure import Log, environment, free_port
from helhed.bench.spec import MB, TARGETS
from helhed.config import Settings
from helhed.superset import access, provision, server

#: The viewers timed besides the admin: a leader, and a department whose queries carry
#: Superset's row-level-security filter.
LEADER_ROLE = "leder"
RLS_ROLE = "forvaltning_beskaeftigelse"
ADMIN = "admin"
SLOWEST = 10
HOW = ("GET /api/v1/chart/<id>/data/?force=true (cache bypassed), one request at a time, "
       "client wall time")


@dataclass(frozen=True)
class Chart:
    """One chart a viewer may see: where it is shown and which dataset (mart) it reads."""

    id: int
    name: str
    dashboards: tuple[str, ...]  # slugs
    dataset: str                 # schema.table, "(SQL)" appended for a virtual dataset


@dataclass(frozen=True)
class Sample:
    """One timed request for a chart's data."""

    viewer: str
    chart: Chart
    seconds: float
    rows: int = 0
    cached: bool = False
    error: str | None = None
    queries: tuple[str, ...] = ()   # the SQL Superset ran (to time it on PostgreSQL alone)


# --------------------------------------------------------------------------- aggregation


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation between the closest ranks, as
    ``numpy.percentile``'s default; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    if q <= 0:
        return min(values)
    if q >= 100:
        return max(values)
    cuts = statistics.quantiles(values, n=1000, method="inclusive")
    return cuts[round(q * 10) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _stats(seconds: list[float]) -> dict[str, float | None]:
    return {"p50_ms": _ms(percentile(seconds, 50)), "p95_ms": _ms(percentile(seconds, 95)),
            "max_ms": _ms(max(seconds) if seconds else None)}


def summarise(samples: list[Sample], viewers: dict[str, dict[str, Any]],
              database: dict[int, float] | None = None) -> dict[str, Any]:
    """Per chart its times per viewer, per viewer and overall p50/p95/max, the slowest charts.

    Percentiles are over every successful timed request (each round of each viewer is one
    sample); failed requests are listed instead, and a cached answer is counted (the bench asks
    with ``force``, so any is a fault of the measurement). ``database`` (chart id -> seconds
    PostgreSQL alone takes for the chart's SQL) splits each chart's time into the warehouse's
    part and Superset's.
    """
    database = database or {}
    ok = [x for x in samples if x.error is None]
    per_chart: dict[int, dict[str, Any]] = {}
    for x in samples:
        entry = per_chart.setdefault(x.chart.id, {
            "id": x.chart.id, "name": x.chart.name, "dashboards": list(x.chart.dashboards),
            "dataset": x.chart.dataset, "times_ms": {}, "rows": {}, "errors": {}})
        if x.error is None:
            entry["times_ms"].setdefault(x.viewer, []).append(_ms(x.seconds))
            entry["rows"][x.viewer] = x.rows
        else:
            entry["errors"][x.viewer] = x.error
    for entry in per_chart.values():
        times = [t / 1000 for ts in entry["times_ms"].values() for t in ts]
        entry.update(_stats(times))
        medians = {v: percentile(ts, 50) for v, ts in entry["times_ms"].items()}
        entry["slowest_viewer"] = max(medians, key=lambda v: medians[v] or 0.0) if medians else None
        entry["database_ms"] = _ms(database.get(entry["id"]))
    charts = sorted(per_chart.values(), key=lambda c: -(c["p50_ms"] or 0.0))
    for label, viewer in viewers.items():
        mine = [x for x in samples if x.viewer == label]
        viewer.update({"charts": len({x.chart.id for x in mine}), "requests": len(mine),
                       "failed": sum(1 for x in mine if x.error is not None),
                       **_stats([x.seconds for x in mine if x.error is None])})
    return {
        "requests": len(samples), "charts_total": len(per_chart),
        **_stats([x.seconds for x in ok]),
        "cached_responses": sum(1 for x in ok if x.cached),
        "database_share": _share(charts),
        "failed": [{"viewer": x.viewer, "chart": x.chart.name, "error": x.error} for x in samples if x.error],
        "viewers": viewers,
        "slowest": [{k: c[k] for k in ("name", "dashboards", "dataset", "p50_ms", "p95_ms", "max_ms", "database_ms",
                                       "slowest_viewer")}
                    for c in charts[:SLOWEST]],
        "charts": charts,
    }


def _share(charts: list[dict[str, Any]]) -> float | None:
    """The warehouse's share of the charts' median times (summed over the charts with both)."""
    both = [c for c in charts if c.get("database_ms") is not None and c.get("p50_ms")]
    total = sum(c["p50_ms"] for c in both)
    return round(sum(c["database_ms"] for c in both) / total, 3) if total else None


def target_value(result: dict[str, Any]) -> float | None:
    """The p95 the target judges; none when the phase failed or any chart failed (an error
    page is not a fast chart)."""
    if result.get("error") or result.get("failed") or result.get("cached_responses"):
        return None
    return result.get("p95_ms")


def evaluate_target(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``superset_p95_ms`` for :func:`helhed.bench.phases.evaluate_targets` when the phase ran."""
    result = run.get("superset")
    if not result:
        return {}
    value = target_value(result)
    target = TARGETS["superset_p95_ms"]
    return {"superset_p95_ms": {"value": value, "target": target, "met": value is not None and value <= target}}


# --------------------------------------------------------------------------- talking to Superset


def asset_datasets(assets_dir: Path = provision.ASSETS_DIR) -> dict[str, str]:
    """Chart name -> the dataset it reads (``schema.table``, ``(SQL)`` for a virtual one), from the assets."""
    datasets = {}
    for uuid, d in access.dataset_files(assets_dir).items():
        datasets[uuid] = f"{d['schema']}.{d['table_name']}" + (" (SQL)" if d.get("sql") else "")
    out = {}
    for path in sorted((assets_dir / "charts").glob("*.yaml")):
        chart = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[chart["slice_name"]] = datasets.get(chart["dataset_uuid"], "?")
    return out


def dashboard_slugs(assets_dir: Path = provision.ASSETS_DIR) -> dict[str, str]:
    """Dashboard title -> slug, from the assets (access.yaml names dashboards by slug)."""
    return {d["dashboard_title"]: d["slug"] for d in (yaml.safe_load(p.read_text(encoding="utf-8"))
                                                      for p in sorted((assets_dir / "dashboards").glob("*.yaml")))}


def viewer_charts(client: provision.SupersetClient, dashboards: dict[str, int], sees: Callable[[str], bool],
                  assets_dir: Path = provision.ASSETS_DIR) -> list[Chart]:
    """Every chart of every dashboard the viewer may open, as Superset lists it to that viewer
    (a chart on two dashboards is asked for once per round)."""
    slugs, datasets = dashboard_slugs(assets_dir), asset_datasets(assets_dir)
    found: dict[int, tuple[str, list[str]]] = {}
    for title, dashboard_id in dashboards.items():
        slug = slugs.get(title, title)
        if not sees(slug):
            continue
        for chart in client.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]:
            found.setdefault(int(chart["id"]), (chart["slice_name"], []))[1].append(slug)
    return [Chart(id=i, name=name, dashboards=tuple(on), dataset=datasets.get(name, "?"))
            for i, (name, on) in sorted(found.items())]


def fetch(client: provision.SupersetClient, viewer: str, chart: Chart) -> Sample:
    """Ask for one chart's data with the cache bypassed and time the whole request."""
    started = time.perf_counter()
    response = client.request("GET", f"/api/v1/chart/{chart.id}/data/", params={"force": "true"})
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        return Sample(viewer, chart, seconds, error=f"HTTP {response.status_code}: {response.text[:200]}")
    results = response.json().get("result") or []
    errors = [r["error"] for r in results if r.get("error")]
    if errors:
        return Sample(viewer, chart, seconds, error=str(errors[0])[:200])
    return Sample(viewer, chart, seconds, rows=sum(int(r.get("rowcount") or 0) for r in results),
                  cached=any(bool(r.get("is_cached")) for r in results),
                  queries=tuple(str(r["query"]) for r in results if r.get("query")))


def time_rounds(plans: list[tuple[str, provision.SupersetClient, list[Chart]]], *,
                rounds: int, warmup: int) -> list[Sample]:
    """``warmup`` untimed rounds, then ``rounds`` timed ones; each round asks for every viewer's
    charts in turn, so the viewers share whatever else the machine was doing at the time and
    their times compare."""
    samples: list[Sample] = []
    for number in range(warmup + rounds):
        for viewer, client, charts in plans:
            for chart in charts:
                sample = fetch(client, viewer, chart)
                if number >= warmup:
                    samples.append(sample)
    return samples


def database_times(s: Settings, queries: dict[int, tuple[str, ...]], repeats: int = 3) -> dict[int, float]:
    """Chart id -> median seconds PostgreSQL takes for the SQL Superset ran for it, run directly
    (psycopg, no Superset, rows fetched): what of a chart's time the warehouse accounts for."""
    out: dict[int, float] = {}
    with psycopg.connect(s.url(provision.template_values(s)["pg_database"]), autocommit=True) as conn:
        conn.execute("set statement_timeout = '60s'")
        for chart_id, statements in queries.items():
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                for statement in statements:
                    conn.execute(statement.encode()).fetchall()   # bytes: sent as is, no placeholders
                times.append(time.perf_counter() - started)
            out[chart_id] = statistics.median(times)
    return out


def ensure_user(admin: provision.SupersetClient, username: str, role_id: int, password: str) -> None:
    """A Superset user with exactly one role and the given password (created, or reset if it exists)."""
    users = admin.get("/api/v1/security/users/", params={"q": f"(filters:!((col:username,opr:eq,value:{username})))"})
    body = {"first_name": username, "last_name": "Bench", "email": f"{username}@helhed.invalid",
            "active": True, "password": password, "roles": [role_id]}
    if users["result"]:
        response = admin.request("PUT", f"/api/v1/security/users/{users['result'][0]['id']}", json=body)
    else:
        response = admin.request("POST", "/api/v1/security/users/", json={"username": username, **body})
    if response.status_code not in (200, 201):
        raise provision.ProvisionError(f"user {username}: {response.status_code} {response.text[:300]}")


def time_dashboards(provisioned: provision.Provisioned, *, base_url: str | None = None,
                    roles: tuple[str, ...] = (LEADER_ROLE, RLS_ROLE), rounds: int = 5, warmup: int = 1,
                    say: Log = lambda _: None, warehouse: Settings | None = None) -> dict[str, Any]:
    """Time every chart of every dashboard as the admin and as a user of each of ``roles``
    against a running, provisioned Superset; return :func:`summarise`'s numbers. With
    ``warehouse``, each chart's SQL (as the admin's request ran it) is also timed on PostgreSQL
    alone (:func:`database_times`)."""
    base_url = base_url or server.base_url()
    admin = provision.SupersetClient(base_url, server.ADMIN_USERNAME, server.admin_password())
    spec = access.load_spec()
    clients: dict[str, tuple[provision.SupersetClient, Callable[[str], bool]]] = {ADMIN: (admin, lambda _: True)}
    viewers: dict[str, dict[str, Any]] = {ADMIN: {"role": "Admin", "rls": False}}
    if roles and provisioned.access is None:
        raise provision.ProvisionError("the access model was not synced: no roles to time as")
    for role in roles:
        password = secrets.token_urlsafe(18)
        username = f"bench_{role}"
        ensure_user(admin, username, provisioned.access.roles[role], password)  # type: ignore[union-attr]
        clients[role] = (provision.SupersetClient(base_url, username, password), spec.role(role).sees)
        viewers[role] = {"role": role, "rls": spec.role(role).department is not None}
    plans = [(label, client, viewer_charts(client, provisioned.dashboards, sees))
             for label, (client, sees) in clients.items()]
    say("Superset: " + ", ".join(f"{label} {len(charts)} charts" for label, _, charts in plans)
        + f"; {warmup} warm-up + {rounds} timed rounds, the viewers in turn within each round")
    samples = time_rounds(plans, rounds=rounds, warmup=warmup)
    database = None
    if warehouse is not None:
        queries = {x.chart.id: x.queries for x in samples if x.viewer == ADMIN and x.queries}
        say(f"Superset: the {len(queries)} charts' SQL on PostgreSQL alone (3 runs each)")
        database = database_times(warehouse, queries)
    return summarise(samples, viewers, database)


def _group_rss_mb(pid: int | None) -> float | None:
    """Resident memory of the gunicorn master and its workers (sum of RSS)."""
    if pid is None:
        return None
    try:
        master = psutil.Process(pid)
        return round(sum(p.memory_info().rss for p in [master, *master.children(recursive=True)]) / MB, 1)
    except psutil.Error:
        return None


def measure(s: Settings, *, rounds: int = 5, warmup: int = 1, say: Log = lambda _: None) -> dict[str, Any]:
    """Start Superset on a free port against the warehouse of ``s``, provision the dashboards,
    time every chart (:func:`time_dashboards`) and stop Superset. A failure is recorded in the
    result (``error``), not raised: the other phases' numbers stay."""
    result: dict[str, Any] = {"rounds": rounds, "warmup": warmup, "how": HOW, "setup_seconds": {},
                              "cores": os.cpu_count()}
    python = server.venv_dir() / "bin" / "python"
    if not python.exists():
        result["error"] = (f"no Superset venv at {server.venv_dir()} (run `make deps`, or point "
                           "HELHED_SUPERSET_VENV at one)")
        say(f"Superset: {result['error']}")
        return result
    env = {"HELHED_SUPERSET_PORT": str(free_port()), "HELHED_SUPERSET_HOST": "127.0.0.1",
           "HELHED_SUPERSET_URL": None, "HELHED_PG_DATABASE": "helhed"}
    with environment(env):
        try:
            say(f"Superset: init and start on port {env['HELHED_SUPERSET_PORT']} (not timed as chart data)")
            result["setup_seconds"]["init"] = round(server.init(s), 1)
            result["setup_seconds"]["start"] = round(server.start(s), 1)
            provisioned = provision.provision(s)
            result["setup_seconds"]["provision"] = round(provisioned.seconds, 1)
            result["dashboards"] = len(provisioned.dashboards)
            result["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
            result.update(time_dashboards(provisioned, rounds=rounds, warmup=warmup, say=say, warehouse=s))
            result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            result["superset_rss_mb"] = _group_rss_mb(server.read_pid(s))
        except Exception as exc:  # noqa: BLE001 - recorded; the report says why there are no numbers
            result["error"] = f"{type(exc).__name__}: {exc}"[:1000]
            say(f"Superset phase failed: {result['error']}")
        finally:
            server.stop(s)
    if "p95_ms" in result:
        say(f"Superset chart data: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, max {result['max_ms']} ms "
            f"over {result['requests']} requests ({result['charts_total']} charts)")
    return result
