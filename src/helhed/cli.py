"""The ``helhed`` command: one entry point for the database, the generator, the nightly run and the demo."""

from __future__ import annotations

import logging
import os
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from helhed.config import Settings
from helhed.generator.command import generate_command
from helhed.superset.command import superset_app

app = typer.Typer(
    help="helhed: cross-department steering data for Danish municipalities.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The embedded PostgreSQL server of the demo and the tests.", no_args_is_help=True)
airflow_app = typer.Typer(help="Airflow for the local demo: metadata database and services.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(airflow_app, name="airflow")
app.add_typer(superset_app, name="superset")
app.command("generate", help="Generate a synthetic municipality's deliveries and its truth manifest.")(generate_command)

DEMO_DATE = date(2025, 12, 31)


def _settings() -> Settings:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Settings.from_env()


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (initialising it on first use) and create databases and roles."""
    from helhed import database

    s = _settings()
    database.start(s)
    typer.echo(f"PostgreSQL runs on {s.pg_host}:{s.pg_port} (data in {s.pgdata})")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL."""
    from helhed import database

    database.stop(_settings())


@db_app.command("status")
def db_status() -> None:
    """Say whether the server answers; exit 1 if it does not."""
    from helhed import database

    s = _settings()
    up = database.is_running(s)
    typer.echo(f"PostgreSQL on {s.pg_host}:{s.pg_port} is {'running' if up else 'not running'}")
    raise typer.Exit(0 if up else 1)


@db_app.command("bootstrap")
def db_bootstrap() -> None:
    """Create the databases, schemas and the read-only role on a running server (also for compose)."""
    from helhed import database

    database.bootstrap(_settings())


@airflow_app.command("init")
def airflow_init() -> None:
    """Create or upgrade Airflow's metadata database."""
    from helhed import airflow_local

    airflow_local.migrate(_settings())


@airflow_app.command("start")
def airflow_start() -> None:
    """Start the Airflow API server (UI), scheduler, DAG processor and triggerer in the background."""
    from helhed import airflow_local

    airflow_local.start_services(_settings())


@airflow_app.command("stop")
def airflow_stop() -> None:
    """Stop the local Airflow services."""
    from helhed import airflow_local

    airflow_local.stop_services(_settings())


@app.command("dbt-manifest")
def dbt_manifest() -> None:
    """Parse the dbt project into target/manifest.json, from which the DAG's dbt tasks are rendered."""
    from helhed.airflow_support import write_dbt_manifest

    s = _settings()
    env = s.libpq_env() if "PGPASSWORD" not in os.environ else {}
    typer.echo(f"wrote {write_dbt_manifest(env)}")


@app.command("rotate-key")
def rotate_key(
    generate: Annotated[bool, typer.Option("--generate", help="Generate the new key and store it in $HELHED_HOME/secrets.env (the local demo). Otherwise the key is read from HELHED_NEW_PSEUDONYM_KEY.")] = False,
) -> None:
    """Re-key every pseudonym in the warehouse with a new secret key, in one transaction.

    Afterwards HELHED_PSEUDONYM_ROTATION_KEYS must list the new key (after earlier ones): the
    loader refuses to run with a key chain that does not match the warehouse. Rebuild and
    publish (helhed run) so the restricted marts carry the new pseudonyms as well.
    """
    import secrets as secrets_module

    from helhed import keys
    from helhed.config import append_rotation_key

    s = _settings()
    new_key = secrets_module.token_urlsafe(32) if generate else os.environ.get("HELHED_NEW_PSEUDONYM_KEY", "")
    if not new_key:
        raise typer.BadParameter("set HELHED_NEW_PSEUDONYM_KEY (never on the command line) or use --generate")
    result = keys.rotate(s, new_key)
    typer.echo(f"Re-keyed {result['values']:,} values in {result['columns']} columns; key fingerprint {result['fingerprint']}.")
    if generate:
        append_rotation_key(s.home, new_key)
        typer.echo(f"The new key was added to HELHED_PSEUDONYM_ROTATION_KEYS in {s.home / 'secrets.env'}.")
    else:
        typer.echo("Now append the new key to HELHED_PSEUDONYM_ROTATION_KEYS (comma-separated, oldest first).")


@app.command("purge-landing")
def purge_landing(
    days: Annotated[int | None, typer.Option(help="Retention in days (default HELHED_LANDING_RETENTION_DAYS or 30).")] = None,
) -> None:
    """Delete raw rows (with CPR numbers) of files loaded longer ago than the retention period."""
    from helhed.maintenance import purge_landing as purge

    counts = purge(_settings(), days)
    typer.echo(f"Purged {counts['rows']:,} raw rows and {counts['quarantine_lines']:,} quarantine lines "
               f"of {counts['files']} files.")


@app.command("run")
def run(
    logical_date: Annotated[str, typer.Option("--date", help="Logical date (YYYY-MM-DD): loads deliveries dated up to it.")] = DEMO_DATE.isoformat(),
) -> None:
    """Run the nightly DAG once for a date through Airflow (recorded in Airflow's database)."""
    from helhed import airflow_local

    s = _settings()
    result = airflow_local.run_dag(s, date.fromisoformat(logical_date))
    if result.returncode != 0:
        typer.echo(f"The nightly run for {logical_date} failed; see the task logs above.", err=True)
        raise typer.Exit(result.returncode)


@app.command("backfill")
def backfill(
    start: Annotated[str, typer.Option("--from", help="First logical date (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last logical date (YYYY-MM-DD), inclusive.")],
) -> None:
    """Run the nightly DAG for every date in a range, oldest first; stop at the first failure."""
    from helhed import airflow_local

    s = _settings()
    day, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < day:
        raise typer.BadParameter("--to is before --from")
    with typer.progressbar(length=(last - day).days + 1, label="Backfilling") as bar:
        while day <= last:
            if airflow_local.run_dag(s, day).returncode != 0:
                typer.echo(f"\nThe run for {day} failed; later dates were not run.", err=True)
                raise typer.Exit(1)
            day += timedelta(days=1)
            bar.update(1)


@app.command("serve")
def serve() -> None:
    """Start the Airflow UI (port 8080) and Superset (port 8088) with the dashboards provisioned."""
    from helhed import airflow_local
    from helhed.superset import provision, server

    s = _settings()
    airflow_local.start_services(s)
    server.init(s)
    server.start(s)
    provision.provision(s)


@app.command("demo")
def demo(
    residents: Annotated[int, typer.Option(help="Residents of the demo municipality.")] = 5000,
    years: Annotated[int, typer.Option(help="Years of history.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed of the generator.")] = 1,
) -> None:
    """Everything: database, demo municipality, one nightly run through Airflow, UI and dashboards."""
    from helhed import airflow_local, database
    from helhed.generator import generate

    started = time.monotonic()
    s = _settings()
    typer.echo("1/5 Starting PostgreSQL …")
    database.start(s)
    manifest = s.data_dir / "manifest.json"
    if manifest.exists():
        typer.echo(f"2/5 Demo municipality already generated ({manifest}); keeping it")
    else:
        typer.echo(f"2/5 Generating a municipality of {residents:,} residents, {years} years …")
        generate(profile="randers", residents=residents, years=years, seed=seed, out=s.data_dir, end_date=DEMO_DATE)
    typer.echo("3/5 Preparing Airflow's metadata database …")
    airflow_local.migrate(s)
    typer.echo(f"4/5 Running the nightly DAG for {DEMO_DATE} through Airflow …")
    result = airflow_local.run_dag(s, DEMO_DATE)
    if result.returncode != 0:
        typer.echo("The nightly run failed; nothing was published. See the log above.", err=True)
        raise typer.Exit(1)
    typer.echo("5/5 Starting the Airflow UI and Superset …")
    serve()
    minutes = (time.monotonic() - started) / 60
    typer.echo(
        f"\nhelhed demo is ready ({minutes:.1f} min).\n"
        f"  Superset:   http://localhost:8088   login admin / admin   (dashboards Beskæftigelse, Økonomi, Målgrupper, Helhedsorienterede forløb, Økonomi og budgetopfølgning)\n"
        f"  Airflow UI: http://localhost:{airflow_local.api_port()}   login admin / admin   (DAG helhed_nightly)\n"
        f"  Warehouse:  postgresql://{s.pg_host}:{s.pg_port}/helhed   (passwords in {s.home / 'secrets.env'})\n"
        f"  Stop everything with: make stop"
    )


@app.command("stop")
def stop() -> None:
    """Stop Superset, the Airflow services and the embedded PostgreSQL."""
    from helhed import airflow_local, database
    from helhed.superset import server

    s = _settings()
    server.stop(s)
    airflow_local.stop_services(s)
    database.stop(s)
    typer.echo("helhed stopped.")


if __name__ == "__main__":
    app()
