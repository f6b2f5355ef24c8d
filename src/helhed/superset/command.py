"""``helhed superset ...``: run Superset for the embedded demo and provision its dashboards."""

from __future__ import annotations

import typer

from helhed.config import Settings

superset_app = typer.Typer(
    help="Superset for the embedded demo: init, start, stop, provision dashboards from superset/assets.",
    no_args_is_help=True,
)


@superset_app.command("init")
def init_command() -> None:
    """Migrate Superset's metadata DB, sync roles and create the admin user (idempotent).

    Needs the embedded PostgreSQL (`helhed db start`). The admin user is `admin` with the
    password from HELHED_SUPERSET_ADMIN_PASSWORD (default `admin`, local demo only).
    """
    from helhed.superset import server

    s = Settings.from_env()
    seconds = server.init(s)
    typer.echo(f"Superset initialised in {seconds:.1f}s (log: {server.log_file(s)})")


@superset_app.command("start")
def start_command(
    timeout: float = typer.Option(180.0, help="Seconds to wait for /health."),
) -> None:
    """Start Superset in the background (gunicorn on HELHED_SUPERSET_PORT, default 8088)."""
    from helhed.superset import server

    s = Settings.from_env()
    seconds = server.start(s, timeout=timeout)
    typer.echo(f"Superset is up at {server.base_url()} (ready after {seconds:.1f}s, pid {server.read_pid(s)}, "
               f"log: {server.log_file(s)})")


@superset_app.command("stop")
def stop_command() -> None:
    """Stop the background Superset (its whole process group)."""
    from helhed.superset import server

    s = Settings.from_env()
    typer.echo("Superset stopped" if server.stop(s) else "Superset was not running")


@superset_app.command("status")
def status_command() -> None:
    """Show whether Superset runs, where, and its log file."""
    from helhed.superset import server

    info = server.status(Settings.from_env())
    state = "running" if info["pid"] else "stopped"
    health = "healthy" if info["healthy"] else "not answering"
    typer.echo(f"Superset {state}" + (f" (pid {info['pid']}, {health})" if info["pid"] else "")
               + f" at {info['url']}; log: {info['log']}")
    if info["pid"] and not info["healthy"]:
        raise typer.Exit(1)


@superset_app.command("provision")
def provision_command(
    url: str = typer.Option(None, help="Superset base URL [default: HELHED_SUPERSET_URL or http://localhost:$HELHED_SUPERSET_PORT]"),
    username: str = typer.Option("admin", help="Superset user that imports the assets."),
) -> None:
    """Import superset/assets (database, datasets, charts, dashboards) into Superset, overwriting by UUID.

    The connection uses HELHED_PG_HOST/HELHED_PG_PORT/HELHED_PG_DATABASE and the helhed_reader
    password; the admin password comes from HELHED_SUPERSET_ADMIN_PASSWORD (default `admin`).
    """
    from helhed.superset import provision

    result = provision.provision(Settings.from_env(), base_url=url, username=username)
    for title, dashboard_id in result.dashboards.items():
        typer.echo(f"dashboard {title!r} (id {dashboard_id})")
    for title, chart_id in result.charts.items():
        typer.echo(f"  chart {title!r} (id {chart_id})")
    if result.access:
        for role, role_id in result.access.roles.items():
            dashboards = sorted(slug for slug, roles in result.access.dashboard_roles.items() if role in roles)
            typer.echo(f"role {role!r} (id {role_id}): {', '.join(dashboards)}")
        for name, (_, tables, clause) in result.access.rls.items():
            typer.echo(f"  row-level security {name!r}: {clause} on {len(tables)} datasets")
    for link in result.urls:
        typer.echo(f"open {link}")
    typer.echo(f"provisioned in {result.seconds:.1f}s")
