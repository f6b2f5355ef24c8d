"""The ``helhed generate`` command (registered in ``helhed.cli`` by the lead)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from helhed.generator.core import ALL_SOURCES, DEFAULT_END_DATE, MANIFEST_NAME, generate


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO date (yyyy-mm-dd)") from exc


def generate_command(
    profile: Annotated[
        str,
        typer.Option(
            help="Calibration profile: a name in profiles/ ('randers', the default demo; 'randers_bad' adds tagged "
            "bad data; 'odder', 'svendborg', 'aarhus' for other sizes) or a path to a YAML file.",
        ),
    ] = "randers",
    residents: Annotated[
        int | None,
        typer.Option(
            help="Number of residents. Default: the profile's population (Randers: 100,530 = DST FOLK1AM 2025M12). "
            "The profile's DST figures (population curve, kontanthjælp) scale by N / that population; "
            "every other volume is a rate per resident.",
            min=100,
        ),
    ] = None,
    years: Annotated[int, typer.Option(help="Years of history, ending on --end-date.", min=1, max=30)] = 6,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 1,
    out: Annotated[
        Path,
        typer.Option(help="Output folder; files go to <out>/landing/<source>/<date>/ and <out>/manifest.json."),
    ] = Path("data"),
    end_date: Annotated[
        str,
        typer.Option(
            help="Last day of the history and the date of the initial delivery folder (yyyy-mm-dd). "
            "Fixed by default so output is reproducible.",
        ),
    ] = DEFAULT_END_DATE.isoformat(),
    daily_increments: Annotated[
        int,
        typer.Option(
            help="Nightly deliveries after --end-date for the cpr and ydelser sources: new records and late "
            "corrections (e.g. a benefit period re-delivered with a back-dated end date). 0 = initial delivery only.",
            min=0,
            max=366,
        ),
    ] = 0,
    sources: Annotated[
        str,
        typer.Option(
            help="Comma-separated sources to write (default: all). 'cpr,ydelser' gives the walking-skeleton "
            f"files only. Known: {', '.join(ALL_SOURCES)}.",
        ),
    ] = ",".join(ALL_SOURCES),
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Generate a synthetic municipality: source delivery files in real formats plus a truth manifest."""
    end = _parse_date(end_date)
    try:
        manifest = generate(
            profile=profile,
            residents=residents,
            years=years,
            seed=seed,
            out=out,
            end_date=end,
            show_progress=progress,
            daily_increments=daily_increments,
            sources=[x.strip() for x in sources.split(",") if x.strip()],
        )
    except (ValueError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    for delivery in manifest["deliveries"]:
        for f in delivery["files"]:
            typer.echo(f"{f['path']}: {f['rows']} rows")
    typer.echo(f"{MANIFEST_NAME}: truth for {manifest['period']['start']}..{manifest['period']['end']}")


if __name__ == "__main__":  # pragma: no cover
    typer.run(generate_command)
