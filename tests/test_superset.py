"""Superset as code: init, start, provision superset/assets, and every chart returns data.

End to end against the embedded PostgreSQL of the ``pg`` fixture: the three public employment
marts are created with a few realistic rows, Superset runs from ``.venv-superset`` on a free
port with the session's private ``HELHED_HOME``, and the dashboard is imported over the REST API.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
import requests
import yaml

from helhed.config import Settings
from helhed.superset import provision, server

pytestmark = pytest.mark.slow

# The marts live in a database of their own, so this test neither clobbers nor depends on the
# marts other tests publish in `helhed`; provisioning points the connection at it through
# HELHED_PG_DATABASE, exactly as compose points it at another host.
MARTS_DB = "helhed_superset_test"

MONTHS = [date(2025, m, 1) for m in range(1, 7)]

# (benefit_group, label, persons in January, full-time persons per person)
BENEFITS = [
    ("a_dagpenge", "A-dagpenge", 180, 0.82),
    ("kontanthjaelp", "Kontanthjælp", 140, 0.95),
    ("sygedagpenge", "Sygedagpenge", 120, 0.71),
    ("fleksjob", "Fleksjob", 60, 0.98),
    ("foertidspension", "Førtidspension", 210, 1.00),
    ("revalidering", "Revalidering", 3, 0.90),  # a small cell: suppressed in the mart
]
VISITATION = [
    ("jobparat", "jobparat", 190),
    ("aktivitetsparat", "aktivitetsparat", 150),
    ("uddannelsesparat", "uddannelsesparat", 40),
    (None, "ikke visiteret", 320),
]

MARTS_DDL = """
revoke all on database helhed_superset_test from public;
grant connect on database helhed_superset_test to helhed_reader;
revoke create on schema public from public;
create schema if not exists marts;
create table if not exists marts.employment_benefits_monthly (
    month date not null, benefit_group text not null, benefit_group_label text not null,
    persons integer, full_time_persons numeric(12,2), is_suppressed boolean not null);
create table if not exists marts.employment_visitation_monthly (
    month date not null, visitation_category text, visitation_label text not null,
    persons integer, is_suppressed boolean not null);
create table if not exists marts.employment_self_support_monthly (
    month date not null, residents_16_64 integer, self_supporting integer,
    self_supporting_share numeric(6,4), is_suppressed boolean not null);
truncate marts.employment_benefits_monthly, marts.employment_visitation_monthly,
    marts.employment_self_support_monthly;
grant usage on schema marts to helhed_reader;
grant select on all tables in schema marts to helhed_reader;
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_marts(s: Settings) -> None:
    """The three public marts as dbt would publish them, with six months of rows, in MARTS_DB."""
    benefits, visitation, self_support = [], [], []
    for i, month in enumerate(MONTHS):
        for code, label, persons, share in BENEFITS:
            n = persons + (i * 3 if code != "revalidering" else 0)
            small = n < 5
            benefits.append((month, code, label, None if small else n, None if small else round(n * share, 2), small))
        for code, label, persons in VISITATION:
            visitation.append((month, code, label, persons - i * 2, False))
        residents = 6200 + i * 4
        supporting = residents - 700 + i * 9
        self_support.append((month, residents, supporting, round(supporting / residents, 4), False))
    with psycopg.connect(s.url("postgres"), autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", [MARTS_DB]).fetchone():
            conn.execute(f"create database {MARTS_DB}")
    with psycopg.connect(s.url(MARTS_DB), autocommit=True) as conn:
        conn.execute(MARTS_DDL)
        with conn.cursor() as cur:
            cur.executemany("insert into marts.employment_benefits_monthly values (%s, %s, %s, %s, %s, %s)", benefits)
            cur.executemany("insert into marts.employment_visitation_monthly values (%s, %s, %s, %s, %s)", visitation)
            cur.executemany("insert into marts.employment_self_support_monthly values (%s, %s, %s, %s, %s)",
                            self_support)


@pytest.fixture(scope="module")
def superset(pg: Settings) -> Iterator[tuple[Settings, dict[str, float]]]:
    """Superset initialised, started and provisioned on a free port; stopped afterwards."""
    create_marts(pg)
    overrides = {"HELHED_SUPERSET_PORT": str(free_port()), "HELHED_PG_DATABASE": MARTS_DB}
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    timings: dict[str, float] = {}
    try:
        began = time.monotonic()
        server.init(pg)
        timings["init"] = time.monotonic() - began
        timings["start"] = server.start(pg)
        yield pg, timings
    finally:
        server.stop(pg)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        print(f"\nSuperset timings: {', '.join(f'{k} {v:.1f}s' for k, v in timings.items())}")


def test_bundle_has_no_secrets_and_fills_connection(pg: Settings) -> None:
    files = provision.render_assets(pg)
    assert {name.split("/")[0] for name in files} >= {"metadata.yaml", "databases", "datasets", "charts", "dashboards"}
    database = yaml.safe_load(files["databases/helhed_datavarehus.yaml"])
    assert database["sqlalchemy_uri"] == (
        f"postgresql+psycopg2://helhed_reader:XXXXXXXXXX@{pg.pg_host}:{pg.pg_port}/"
        f"{os.environ.get('HELHED_PG_DATABASE', 'helhed')}"
    )
    for path in provision.asset_files():
        text = path.read_text(encoding="utf-8")
        for secret in filter(None, pg.secrets.values()):  # an unset rotation chain is ""
            assert secret not in text
    charts = [yaml.safe_load(text) for name, text in files.items() if name.startswith("charts/")]
    assert all(chart["query_context"] for chart in charts), "GET /chart/{id}/data/ needs a saved query_context"


def test_dashboard_is_provisioned_and_every_chart_returns_rows(superset) -> None:
    s, timings = superset
    first = provision.provision(s)
    timings["provision"] = first.seconds
    second = provision.provision(s)  # idempotent: same objects, overwritten by UUID
    timings["re-provision"] = second.seconds
    assert second.dashboards == first.dashboards and second.charts == first.charts

    assert "Beskæftigelse" in first.dashboards
    assert len(first.charts) >= 3

    client = provision.SupersetClient(server.base_url(), server.ADMIN_USERNAME, server.admin_password())
    dashboard_id = first.dashboards["Beskæftigelse"]
    charts = client.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]
    assert len(charts) >= 3
    for chart in charts:
        response = client.request("GET", f"/api/v1/chart/{chart['id']}/data/", params={"force": "true"})
        assert response.status_code == 200, f"{chart['slice_name']}: {response.status_code} {response.text[:500]}"
        results = response.json()["result"]
        assert results and results[0]["rowcount"] >= 1, f"{chart['slice_name']} returned no rows"
        assert not results[0].get("error"), results[0].get("error")

    # the stacked area has one series per benefit group; the suppressed group has no values
    benefits = client.get(f"/api/v1/chart/{first.charts['Fuldtidspersoner på ydelse efter ydelsesgruppe']}/data/")
    rows = benefits["result"][0]["data"]
    assert len(rows) == len(MONTHS)
    assert rows[0]["Førtidspension"] == pytest.approx(210.0)

    # the connection is the read-only reader, not the superuser
    database = client.get("/api/v1/database/", params={"q": "(filters:!((col:database_name,opr:eq,value:'helhed – datavarehus')))"})
    assert database["count"] == 1
    uri = client.get(f"/api/v1/database/{database['result'][0]['id']}/connection")["result"]["sqlalchemy_uri"]
    assert uri.startswith("postgresql+psycopg2://helhed_reader:")


def test_second_init_and_start_are_harmless(superset) -> None:
    s, timings = superset
    pid = server.read_pid(s)
    assert pid is not None
    began = time.monotonic()
    server.init(s)  # migrations at head, roles re-synced, admin password reset
    timings["second init"] = time.monotonic() - began
    assert server.start(s) < 5  # already running: only checks /health
    assert server.read_pid(s) == pid
    assert requests.get(f"{server.base_url()}/health", timeout=5).text.strip() == "OK"


def test_stop_ends_the_process_group(superset) -> None:
    s, _ = superset
    pid = server.read_pid(s)
    assert server.stop(s) is True
    assert server.read_pid(s) is None and not server.pid_file(s).exists()
    assert not server.is_healthy(f"http://127.0.0.1:{server.port()}", timeout=2)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert server.stop(s) is False


def test_reader_reads_marts_but_not_restricted(pg: Settings) -> None:
    """The role behind Superset's connection: marts yes, person-level `restricted` no."""
    create_marts(pg)
    reader = pg.url(MARTS_DB, reader=True)
    with psycopg.connect(reader) as conn:
        assert conn.execute("select count(*) from marts.employment_benefits_monthly").fetchone()[0] > 0
    # the real warehouse, with the grants helhed.database.bootstrap gives
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        conn.execute("create table if not exists restricted.superset_reader_probe (person_key text, month date)")
        conn.execute("insert into restricted.superset_reader_probe values ('a', '2025-01-01')")
    try:
        with psycopg.connect(pg.url("helhed", reader=True)) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select * from restricted.superset_reader_probe")
            conn.rollback()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("create table marts.superset_reader_probe (x int)")
    finally:
        with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
            conn.execute("drop table if exists restricted.superset_reader_probe")
