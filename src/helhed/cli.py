"""The ``helhed`` command: one entry point for the database, the generator, the nightly run and the demo."""

from __future__ import annotations

import logging
import os
import time
from datetime import date, timedelta
from typing import Annotated

import typer

from helhed.config import Settings
from helhed.generator.command import generate_command
from helhed.redaction import install_log_redaction
from helhed.superset.command import superset_app

app = typer.Typer(
    help="helhed: cross-department steering data for Danish municipalities.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The embedded PostgreSQL server of the demo and the tests.", no_args_is_help=True)
airflow_app = typer.Typer(help="Airflow for the local demo: metadata database and services.", no_args_is_help=True)
lock_app = typer.Typer(help="The nightly run lock (one run at a time, whatever starts it).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(airflow_app, name="airflow")
app.add_typer(lock_app, name="lock")
app.add_typer(superset_app, name="superset")
app.command("generate", help="Generate a synthetic municipality's deliveries and its truth manifest.")(generate_command)

DEMO_DATE = date(2025, 12, 31)
DEMO_DATE_ISO = DEMO_DATE.isoformat()  # typer option default (a constant, not a call in the signature)


def _settings() -> Settings:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()   # no CPR-like value in anything the CLI logs
    return Settings.from_env()


def _fail(message: object) -> typer.Exit:
    """Print a one-line reason on stderr; return the exit to raise."""
    typer.echo(str(message), err=True)
    return typer.Exit(1)


def _run_once(s: Settings, day: date, *, prepared: bool) -> int:
    """One nightly run through Airflow; a run that cannot start exits with its one-line reason."""
    from helhed import airflow_local
    from helhed.config import WeakSecret

    try:
        return airflow_local.run_dag(s, day, prepared=prepared).returncode
    except (airflow_local.NotReady, airflow_local.AirflowCommandFailed, WeakSecret) as exc:
        raise _fail(exc) from None


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
    """Parse the dbt project into target/manifest.json (the column descriptions Superset's datasets show)."""
    from helhed.airflow_support import write_dbt_manifest

    s = _settings()
    env = s.libpq_env() if "PGPASSWORD" not in os.environ else {}
    typer.echo(f"wrote {write_dbt_manifest(env)}")


@app.command("rotate-key")
def rotate_key(
    generate: Annotated[bool, typer.Option("--generate",
        help="Generate the new key and store it in $HELHED_HOME/secrets.env (the local demo). "
             "Otherwise the key is read from HELHED_NEW_PSEUDONYM_KEY.")] = False,
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
    new_key = secrets_module.token_urlsafe(32) if generate else s.new_pseudonym_key
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
    logical_date: Annotated[str, typer.Option("--date", help="Logical date (YYYY-MM-DD): loads deliveries dated up to it.")] = DEMO_DATE_ISO,
) -> None:
    """Run the nightly DAG once for a date through Airflow (recorded in Airflow's database).

    On a fresh clone it migrates Airflow's metadata database and writes the dbt manifest
    first; if PostgreSQL is not running it says so in one line (run `helhed db start`).
    """
    s = _settings()
    returncode = _run_once(s, date.fromisoformat(logical_date), prepared=False)
    if returncode != 0:
        typer.echo(f"The nightly run for {logical_date} failed; see the task logs above.", err=True)
        raise typer.Exit(returncode)


@app.command("backfill")
def backfill(
    start: Annotated[str, typer.Option("--from", help="First logical date (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last logical date (YYYY-MM-DD), inclusive.")],
) -> None:
    """Run the nightly DAG for every date in a range, oldest first; stop at the first failure."""
    s = _settings()
    day, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < day:
        raise typer.BadParameter("--to is before --from")
    first = True
    with typer.progressbar(length=(last - day).days + 1, label="Backfilling") as bar:
        while day <= last:
            if _run_once(s, day, prepared=not first) != 0:
                typer.echo(f"\nThe run for {day} failed; later dates were not run.", err=True)
                raise typer.Exit(1)
            first = False
            day += timedelta(days=1)
            bar.update(1)


def _entities(names: list[str] | None) -> list[str]:
    """The entity ids to work on: the given ones (``cpr.persons`` or a whole source ``cpr``), else every enabled one."""
    from helhed.sources import load_sources

    declared = load_sources(include_disabled=True)
    if not names:
        return [e.id for source in load_sources().values() for e in source.entities]
    out = []
    for name in names:
        source, _, entity = name.partition(".")
        if source not in declared or (entity and entity not in {e.name for e in declared[source].entities}):
            known = ", ".join(e.id for s in declared.values() for e in s.entities)
            raise typer.BadParameter(f"{name!r} is not a declared source or entity; known: {known}")
        out += [f"{source}.{entity}"] if entity else [e.id for e in declared[source].entities]
    return out


def _echo_json(value: object) -> None:
    import json

    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


EntitiesArgument = Annotated[list[str] | None, typer.Argument(
    help="Entities (cpr.persons) or sources (cpr); default every enabled one.", show_default=False)]
DateOption = Annotated[str, typer.Option("--date", help="Logical date (YYYY-MM-DD): deliveries dated up to it.")]
RunIdOption = Annotated[str | None, typer.Option(
    "--run-id", help="The run the step belongs to (default cli-<timestamp>); gate and publish with the same id.")]


def _run_id(run_id: str | None) -> str:
    return run_id or f"cli-{time.strftime('%Y%m%dT%H%M%S')}"


@app.command("load")
def load_command(entities: EntitiesArgument = None, logical_date: DateOption = DEMO_DATE_ISO) -> None:
    """Load every new delivery of the entities into landing and staging (the DAG's load tasks, pipeline.load)."""
    from helhed import pipeline

    s = _settings()
    day = date.fromisoformat(logical_date)
    _echo_json([pipeline.load(entity_id, day, s) for entity_id in _entities(entities)])


@app.command("gate")
def gate_command(
    entities: EntitiesArgument = None,
    logical_date: DateOption = DEMO_DATE_ISO,
    run_id: RunIdOption = None,
    scope: Annotated[str | None, typer.Option(help="since_publish or full (default: the settings' scope; full on the weekly day).")] = None,
    marts: Annotated[bool, typer.Option("--marts", help="Gate tonight's public marts in build_marts instead of staging.")] = False,
) -> None:
    """Run the staging gates of the entities (or the mart gates) under the run lock (pipeline.gate_staging / gate_marts).

    Exits 1 naming every failed critical expectation; details in audit.gate_results."""
    from helhed import gates, pipeline, runlock

    s = _settings()
    rid = _run_id(run_id)
    try:
        pipeline.begin_run(rid, s)
    except runlock.RunLocked as exc:
        raise _fail(exc) from None
    try:
        if marts:
            _echo_json(pipeline.gate_marts(rid, s))
        else:
            day = date.fromisoformat(logical_date)
            _echo_json([pipeline.gate_staging(e, rid, s, logical_date=day, scope=scope) for e in _entities(entities)])
    except gates.GateFailed as exc:
        raise _fail(exc) from None
    finally:
        pipeline.end_run(rid, s)
    typer.echo(f"run {rid}: gates passed (publish with `helhed publish --run-id {rid}`)", err=True)


@app.command("publish")
def publish_command(run_id: Annotated[str, typer.Option("--run-id", help="The run whose gates passed.")],
                    logical_date: DateOption = DEMO_DATE_ISO) -> None:
    """Swap the run's gated build into place (pipeline.publish_build); refused if a loaded file passed no gate of the run."""
    from helhed import pipeline, publish, runlock

    s = _settings()
    try:
        pipeline.begin_run(run_id, s)
    except runlock.RunLocked as exc:
        raise _fail(exc) from None
    try:
        _echo_json(pipeline.publish_build(run_id, date.fromisoformat(logical_date), s))
    except (publish.NothingToPublish, publish.UngatedDeliveries, runlock.LockLost) as exc:
        raise _fail(f"run {run_id} was not published: {exc}") from None   # the refusal names files or gates
    finally:
        pipeline.end_run(run_id, s)


@lock_app.command("status")
def lock_status() -> None:
    """Show which run holds the nightly lock; exit 1 if one does."""
    from helhed import runlock

    lease = runlock.current(_settings())
    if lease is None:
        typer.echo("No run holds the nightly lock.")
        return
    typer.echo(f"The nightly lock is held by {lease.describe()}.")
    raise typer.Exit(1)


@lock_app.command("release")
def lock_release(
    run_id: Annotated[str | None, typer.Option("--run-id", help="Release only if this run holds the lock.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Release whoever holds it.")] = False,
) -> None:
    """Release the nightly lock of a run that died without its teardown (a live run then stops at its next step)."""
    from helhed import runlock

    if not run_id and not force:
        raise typer.BadParameter("give --run-id (see `helhed lock status`) or --force")
    released = runlock.release(_settings(), None if force else run_id)
    if released is None:
        raise _fail(f"run {run_id} does not hold the nightly lock; nothing released")
    typer.echo(f"Released the nightly lock of run {released.run_id}.")


@app.command("accept-file")
def accept_file(
    file_id: Annotated[int, typer.Argument(help="audit.delivery_files.file_id of the loaded file.")],
    reason: Annotated[str, typer.Option("--reason", help="Why its good rows may be published (kept in audit.accepted_files).")],
) -> None:
    """Accept a loaded file whose quarantined share failed the gate, so the next run publishes its good rows."""
    import getpass

    from helhed import gates

    try:
        accepted = gates.accept_file(_settings(), file_id, reason, getpass.getuser())
    except ValueError as exc:
        raise _fail(exc) from None
    typer.echo(f"Accepted {accepted['file']} ({accepted['entity']}): {accepted['quarantined']:,} of "
               f"{accepted['delivered']:,} rows stay quarantined; the next run's gate lets the rest through.")


@app.command("check-secrets")
def check_secrets_command() -> None:
    """Refuse placeholder, short or shared secrets in the environment (docker compose runs this before anything starts)."""
    from helhed.config import DEPLOYMENT_SECRETS, secret_problems

    problems = secret_problems(os.environ, DEPLOYMENT_SECRETS)
    if problems:
        for problem in problems:
            typer.echo(f"helhed: {problem}", err=True)
        raise _fail(f"helhed: refusing to start with {len(problems)} weak secret(s); replace every change-me value "
                    "in .env as docs/deployment.md shows")
    typer.echo(f"helhed: the {len(DEPLOYMENT_SECRETS)} secrets are set, none is a placeholder, none is shared.")


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
    if _run_once(s, DEMO_DATE, prepared=True) != 0:
        typer.echo("The nightly run failed; nothing was published. See the log above.", err=True)
        raise typer.Exit(1)
    typer.echo("5/5 Starting the Airflow UI and Superset …")
    serve()
    minutes = (time.monotonic() - started) / 60
    typer.echo(
        f"\nhelhed demo is ready ({minutes:.1f} min).\n"
        f"  Superset:   http://127.0.0.1:8088   login admin / admin   (dashboards Beskæftigelse, Økonomi, Målgrupper, "
        f"Helhedsorienterede forløb, Økonomi og budgetopfølgning)\n"
        f"  Airflow UI: http://127.0.0.1:{airflow_local.api_port()}   login admin / admin   (DAG helhed_nightly)\n"
        f"  Both listen on this machine only (HELHED_AIRFLOW_HOST / HELHED_SUPERSET_HOST to change).\n"
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
