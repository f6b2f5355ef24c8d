"""Fault injection for ingestion: nothing lost, nothing counted twice, no CPR outside landing.

A municipality of 2,000 residents with two years of history and three nightly increments is
generated, and the faults real municipalities send are planted in its delivery folders before
loading (issue 16):

- content defects: a NUL byte, an escape character and a lone carriage return in rows of one
  file; a file whose encoding breaks mid-file;
- CPR numbers in free text (the ledger's posting text, cost centre and PSP element; a CPR
  district and postal code; a Sensum team name), in a key and a number column, and in file names;
- stray files: another capitalisation, a gzip, a zip archive, another prefix, a subfolder, a
  folder that is not a date, a file outside any delivery folder;
- re-deliveries: the ledger re-exported with LF line ends, shuffled rows and another name;
- a backlog: the three nights loaded in one run;
- back-dated corrections delivered out of order: a file in an already loaded folder, loaded
  after newer ones, with a stale version of a re-delivered period (must not win) and a
  correction of an old period (must win and reach the incremental build);
- a crash mid-load: the loader's connection is killed mid-file.

Every test asserts its part of the promise: delivered = loaded + quarantined per file (every
file under a source's folder is loaded, rejected or recorded as unexpected), no duplicate natural
key in staging, the newest delivery wins (checked against an independent reading of the files),
no CPR-like value in any schema but ``landing`` nor in the loader's logs and returned summaries,
and the incremental dbt build after the out-of-order correction equals a full refresh.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import random
import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from helhed import loading, pipeline
from helhed.config import REPO_ROOT, Settings
from helhed.generator import generate
from helhed.pseudonymise import Pseudonymiser
from helhed.redaction import CPR_LIKE, CPR_LIKE_SQL
from helhed.sources import Entity, get_entity, load_sources

pytestmark = pytest.mark.slow

DBT = Path(os.environ.get("HELHED_DBT", REPO_ROOT / ".venv" / "bin" / "dbt"))
PROJECT_DIR = REPO_ROOT / "dbt_project"
DATABASE = "helhed_faults"
END = date(2025, 12, 31)
NIGHTS = 3
RESIDENTS, YEARS, SEED = 2000, 2, 7
ENTITIES = [e for s in load_sources(include_disabled=True).values() for e in s.entities]
#: What dbt builds here: the staging models and the incremental person-month models with their inputs.
SELECT = ["path:models/staging", "+int_person_months", "+int_household_months"]
INCREMENTAL = ("int_person_months", "int_person_month_spine", "int_benefits_aggregated_to_person_months",
               "int_activities_aggregated_to_person_months", "int_cost_aggregated_to_person_months",
               "int_household_months")

#: Planted CPR-like values (the first with a hyphen), each in a field that is not a CPR column.
TEXT_CPR = "230389-4321"
LEDGER_CPR, DISTRICT_CPR, POSTAL_CPR, TEAM_CPR, COST_CPR = "1502801234", "1103751234", "0101901234", "1212121234", "0707071234"
NAME_CPR, STRAY_NAME_CPR, KEY_CPR, NUMBER_CPR = "1502801235", "0101801234", "0101801239", "1501901234"


@dataclass(frozen=True)
class FaultSettings(Settings):
    """Settings whose warehouse is ``DATABASE``: this module never touches other tests' tables."""

    database: str = DATABASE

    def url(self, database: str = "helhed", **kwargs) -> str:  # type: ignore[override]
        return super().url(self.database if database == "helhed" else database, **kwargs)

    def libpq_env(self, database: str = "helhed") -> dict[str, str]:
        return super().libpq_env(self.database if database == "helhed" else database)


# ----------------------------------------------------------------------------- files


def read_rows(path: Path, encoding: str) -> tuple[list[str], list[list[str]]]:
    text = path.read_bytes().decode(encoding)
    header, *rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    return header, rows


def write_rows(path: Path, encoding: str, header: list[str], rows: list[list[str]], newline: str = "\r\n") -> None:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator=newline, quoting=csv.QUOTE_MINIMAL).writerows([header, *rows])
    path.write_bytes(out.getvalue().encode(encoding))


def folder(s: Settings, source: str, day: date) -> Path:
    return s.landing_dir / source / day.isoformat()


def delivered_file(s: Settings, source: str, stem: str, day: date) -> Path:
    return folder(s, source, day) / f"{stem}_{day:%Y%m%d}.csv"


def plant_cprs(s: Settings) -> dict[str, int]:
    """CPR-like values in free text, a key and a number column; returns how many per entity."""
    ledger = delivered_file(s, "oekonomi", "posteringer", END)
    header, rows = read_rows(ledger, "cp1252")
    text, cost, psp = header.index("Tekst"), header.index("Omkostningssted"), header.index("PSP-element")
    for r in rows[10:13]:
        r[text] = f"{r[text]} vedr. {LEDGER_CPR}"
    rows[20][text] = f"Efterbetaling {TEXT_CPR}"
    rows[30][cost] = COST_CPR
    rows[40][psp] = f"XG-{TEXT_CPR}-01"
    write_rows(ledger, "cp1252", header, rows)

    persons = delivered_file(s, "cpr", "cpr_personer", END)
    header, rows = read_rows(persons, "utf-8-sig")
    nightly = {r[0] for n in range(1, NIGHTS + 1)
               for r in read_rows(delivered_file(s, "cpr", "cpr_personer", END + timedelta(days=n)), "utf-8-sig")[1]}
    kept = [r for r in rows if r[0] not in nightly]   # persons no night re-delivers: their masked rows stay
    kept[5][header.index("Distrikt")] = f"Distrikt {DISTRICT_CPR}"
    kept[6][header.index("Postnummer")] = POSTAL_CPR
    write_rows(persons, "utf-8-sig", header, rows)

    sensum = delivered_file(s, "sensum", "sensum_indsatser", END)
    header, rows = read_rows(sensum, "utf-8-sig")
    rows[3][header.index("AfdelingNavn")] = f"Team {TEAM_CPR}"
    write_rows(sensum, "utf-8-sig", header, rows)

    dubu = delivered_file(s, "dubu", "dubu_ydelser", END)          # a key cannot be masked: quarantined
    header, rows = read_rows(dubu, "utf-8-sig")
    rows[2][header.index("Ydelses-id")] = KEY_CPR
    write_rows(dubu, "utf-8-sig", header, rows)

    meetings = delivered_file(s, "helhed", "netvaerksmoeder", END)  # nor a number
    header, rows = read_rows(meetings, "utf-8-sig")
    rows[1][header.index("Antal forvaltninger")] = NUMBER_CPR
    write_rows(meetings, "utf-8-sig", header, rows)
    return {"oekonomi.postings": 6, "cpr.persons": 2, "sensum.services": 1}


def plant_content_defects(s: Settings) -> Path:
    """A NUL, an escape character and a lone CR in three rows; a file broken in its encoding."""
    health = delivered_file(s, "sundhed", "sundhed_ydelser", END)
    lines = health.read_bytes().split(b"\r\n")
    lines[3] = lines[3].replace(b";", b";\x00", 1)      # line 4: NUL
    lines[4] = lines[4].replace(b";", b";\x1b", 1)      # line 5: an escape character
    lines[5] = lines[5].replace(b";", b";a\rb", 1)      # line 6: a carriage return inside a field
    health.write_bytes(b"\r\n".join(lines))
    dubu = delivered_file(s, "dubu", "dubu_ydelser", END)
    broken = dubu.with_name("dubu_ydelser_20251231_tillaeg.csv")
    data = dubu.read_bytes()
    cut = data.index(b"\r\n", len(data) // 2)
    broken.write_bytes(data[:cut] + b" \xe6" + data[cut:])       # one Windows-1252 byte in a UTF-8 file
    return broken


def plant_stray_files(s: Settings) -> dict[str, str]:
    """Files no pattern matches as delivered; returns path under landing -> the expected outcome."""
    budget = delivered_file(s, "oekonomi", "budget", END)
    budget.rename(budget.with_name(budget.name.upper()))                           # loaded: another capitalisation
    prices = delivered_file(s, "enhedspriser", "enhedspriser", END)
    with gzip.open(prices.with_name(prices.name + ".gz"), "wb") as gz:             # loaded: gzip
        gz.write(prices.read_bytes())
    prices.unlink()
    day = folder(s, "oekonomi", END)
    with zipfile.ZipFile(day / "posteringer_2025.zip", "w") as z:
        z.writestr("posteringer_2025.csv", "Artskonto\r\n")
    (folder(s, "ydelser", END) / "ydelser_perioder.csv").write_text("x\n")
    old = folder(s, "cpr", END) / "gammel"
    old.mkdir()
    shutil.copy(delivered_file(s, "cpr", "cpr_personer", END), old / "cpr_personer_20251230.csv")
    (s.landing_dir / "helhed" / "arkiv").mkdir()
    (s.landing_dir / "helhed" / "arkiv" / "forloeb_1.csv").write_text("x\n")
    (s.landing_dir / "sundhed" / "LÆSMIG.txt").write_text("Leverancer lægges i en mappe pr. dag.\n")
    (folder(s, "sensum", END) / f"notat_{STRAY_NAME_CPR}.txt").write_text("x\n")
    return {
        "oekonomi/2025-12-31/BUDGET_20251231.CSV": "loaded",
        "enhedspriser/2025-12-31/enhedspriser_20251231.csv.gz": "loaded",
        "oekonomi/2025-12-31/posteringer_2025.zip": "archive",
        "ydelser/2025-12-31/ydelser_perioder.csv": "unknown_name",
        "cpr/2025-12-31/gammel/cpr_personer_20251230.csv": "in_a_subfolder",
        "helhed/arkiv/forloeb_1.csv": "not_a_delivery_folder",
        "sundhed/LÆSMIG.txt": "outside_a_delivery_folder",
        f"sensum/2025-12-31/notat_{STRAY_NAME_CPR}.txt": "unknown_name",
    }


def reexport_ledger(s: Settings, day: date, name: str, seed: int) -> Path:
    """The initial ledger again: other line ends, other row order, another name and folder."""
    header, rows = read_rows(delivered_file(s, "oekonomi", "posteringer", END), "cp1252")
    random.Random(seed).shuffle(rows)
    target = folder(s, "oekonomi", day)
    target.mkdir(parents=True, exist_ok=True)
    write_rows(target / name, "cp1252", header, rows, newline="\n")
    return target / name


# ----------------------------------------------------------------------------- the warehouse


@dataclass
class Night:
    settings: FaultSettings
    env: dict[str, str]
    target: Path
    manifest: dict
    planted: dict[str, int]
    strays: dict[str, str]
    broken: Path
    late: Path
    stale_period: str
    corrected_period: tuple[str, date, date]   # id, old end, new end
    summaries: list[dict] = field(default_factory=list)
    log_text: str = ""
    before_correction: dict[str, list[tuple]] = field(default_factory=dict)
    incremental: dict[str, list[tuple]] = field(default_factory=dict)
    full: dict[str, list[tuple]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def rows(self, query: str | sql.Composable, *params) -> list[tuple]:
        with psycopg.connect(self.settings.url(), autocommit=True) as conn:
            return conn.execute(query, params or None).fetchall()

    def dbt(self, label: str, *args: str) -> None:
        started = time.perf_counter()
        cmd = [str(DBT), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
               "--target-path", str(self.target), "--log-path", str(self.target / "logs")]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
        assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        self.seconds[label] = round(time.perf_counter() - started, 1)

    def load(self, up_to: date) -> None:
        """Load every entity through the pipeline step the DAG calls, keeping its summaries."""
        for e in ENTITIES:
            self.summaries.append(pipeline.load(e.id, up_to, self.settings))

    def snapshot(self) -> dict[str, list[tuple]]:
        return {t: sorted(self.rows(sql.SQL("select * from build_int.{}").format(sql.Identifier(t))), key=repr)
                for t in INCREMENTAL}


def pick_periods(s: Settings) -> tuple[list[str], list[str], str, tuple[str, date, date]]:
    """A period the last night re-delivers (its stale version comes late) and an old, ended
    period no night touches (its correction comes late)."""
    header, initial = read_rows(delivered_file(s, "ydelser", "ydelsesperioder", END), "utf-8-sig")
    nights = [read_rows(delivered_file(s, "ydelser", "ydelsesperioder", END + timedelta(days=n)), "utf-8-sig")[1]
              for n in range(1, NIGHTS + 1)]
    touched = {r[0] for rows in nights for r in rows}
    # re-delivered on a later night than the first (the stale copy goes into the first night's folder)
    stale = next(r for rows in reversed(nights[1:]) for r in rows if r[0] not in {x[0] for x in nights[0]})
    start_i, end_i = header.index("Ydelses startdato"), header.index("Ydelses slutdato")
    for row in initial:
        if row[0] in touched or not row[end_i]:
            continue
        start, end = (datetime.strptime(row[i], "%d-%m-%Y").date() for i in (start_i, end_i))
        if date(2024, 6, 1) <= end <= date(2025, 3, 31) and (end - start).days > 120:
            return header, stale, row, (row[0], end, end - timedelta(days=90))
    raise AssertionError("no old, ended benefit period long enough to correct")


@pytest.fixture(scope="module")
def night(pg: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    data_dir = tmp_path_factory.mktemp("faults")
    settings = FaultSettings(home=pg.home, data_dir=data_dir, pg_host=pg.pg_host, pg_port=pg.pg_port,
                             pg_superuser=pg.pg_superuser)
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(settings.url(), autocommit=True) as conn:
        for schema in ("landing", "audit", "staging"):
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    manifest = generate(profile="randers", residents=RESIDENTS, years=YEARS, seed=SEED, out=data_dir, end_date=END,
                        daily_increments=NIGHTS, show_progress=False)
    planted = plant_cprs(settings)
    broken = plant_content_defects(settings)
    strays = plant_stray_files(settings)
    header, stale, old_row, corrected = pick_periods(settings)
    env = {**os.environ, **settings.libpq_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    night = Night(settings, env, tmp_path_factory.mktemp("faults_target"), manifest, planted, strays, broken,
                  late=folder(settings, "ydelser", END + timedelta(days=1)) / f"ydelsesperioder_20260101_korrektion_{NAME_CPR}.csv",
                  stale_period=stale[0], corrected_period=corrected)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append   # type: ignore[method-assign]
    logger = logging.getLogger("helhed")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        night.load(END)                                   # the initial delivery, faults and all
        reexport_ledger(settings, END + timedelta(days=2), "posteringer_20260102_reeksport.csv", seed=1)
        night.load(END + timedelta(days=NIGHTS))           # a backlog: three nights in one run
        night.dbt("seed", "seed")
        night.dbt("build after the backlog", "run", "--select", *SELECT)
        night.before_correction = night.snapshot()
        # Back-dated, out of order: a file in the first night's folder, after the third night is loaded.
        stale_version = list(stale)
        stale_version[header.index("Ydelses slutdato")] = stale_version[header.index("Ydelses startdato")]
        correction = list(old_row)
        correction[header.index("Ydelses slutdato")] = corrected[2].strftime("%d-%m-%Y")
        write_rows(night.late, "utf-8-sig", header, [stale_version, correction])
        night.load(END + timedelta(days=NIGHTS))
        night.dbt("incremental after the correction", "run", "--select", *SELECT)
        night.incremental = night.snapshot()
        night.dbt("full refresh", "run", "--select", *SELECT, "--full-refresh")
        night.full = night.snapshot()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    night.log_text = "\n".join(r.getMessage() for r in records)
    print(f"\ndbt seconds at {RESIDENTS} residents x {YEARS} years: {night.seconds}")
    print("files (status, delivered, loaded, quarantined, unchanged, superseded, masked):", json.dumps(
        {k: v[1:8] for k, v in files(night).items() if any(x in k for x in (
            "sundhed_ydelser_2025", "tillaeg", "posteringer_2025", "reeksport", "korrektion", "cpr_personer_2025",
            "sensum_indsatser", "dubu_ydelser_2025", "netvaerk"))}, default=str, indent=0))
    print("quarantine rules:", night.rows("select rule, count(*) from landing.quarantine group by 1 order by 1"))
    print("unexpected:", night.rows("select file_name, split_part(reason, ':', 1) from audit.unexpected_files order by 1"))
    yield night
    try:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
    except psycopg.OperationalError:
        pass


def files(night: Night) -> dict[str, tuple]:
    """audit.delivery_files by ``<source>/<folder>/<name>`` (masked)."""
    rows = night.rows("select source, file_name, entity, status, rows_delivered, rows_loaded, rows_quarantined, "
                      "rows_unchanged, rows_superseded, cpr_like_masked, coalesce(rejection, ''), file_id "
                      "from audit.delivery_files")
    return {f"{r[0]}/{r[1]}": r[2:] for r in rows}


def staging_key_counts(night: Night, entity: Entity) -> tuple[int, int]:
    keys = sql.SQL(", ").join(map(sql.Identifier, entity.key))
    return night.rows(sql.SQL("select count(*), count(distinct ({})) from staging.{}").format(
        keys, sql.Identifier(entity.table)))[0]


# ----------------------------------------------------------------------------- every file, every row


def test_every_file_is_loaded_rejected_or_unexpected_and_every_row_counted(night: Night) -> None:
    s = night.settings
    pseudo = Pseudonymiser.from_secrets(s.secrets)
    registered = {r[0] for r in night.rows("select name_key from audit.delivery_files")}
    unexpected = {r[0]: r[1] for r in night.rows("select name_key, reason from audit.unexpected_files")}
    on_disk = sorted(p for p in s.landing_dir.rglob("*") if p.is_file())
    for path in on_disk:
        rel = path.relative_to(s.landing_dir / path.relative_to(s.landing_dir).parts[0]).as_posix()
        key = pseudo.digest_text(rel)
        assert (key in registered) != (key in unexpected), f"{path} is neither loaded, rejected nor unexpected"
    for (entity, status, delivered, loaded, quarantined, *_rest, file_id) in files(night).values():
        assert delivered == loaded + quarantined, (entity, file_id)
        landing = get_entity(entity).table
        (landed,) = night.rows(sql.SQL("select count(*) from landing.{} where file_id = %s").format(sql.Identifier(landing)),
                               file_id)[0]
        (in_quarantine,) = night.rows("select count(*) from landing.quarantine where file_id = %s", file_id)[0]
        assert landed == loaded
        assert in_quarantine == (quarantined if status == "loaded" else 0)
    # Every night's summaries count the strays of each source once (one reporting entity).
    reported = [u["file"] for summary in night.summaries[:len(ENTITIES)] for u in summary["unexpected"]]
    assert len(reported) == len(unexpected) == 6


def test_stray_files_are_loaded_or_recorded_with_a_reason(night: Night) -> None:
    by_name = files(night)
    unexpected = {f"{r[0]}/{r[1]}": r[2] for r in night.rows("select source, file_name, reason from audit.unexpected_files")}
    for rel, outcome in night.strays.items():
        masked = CPR_LIKE.sub("<cpr>", rel)
        if outcome == "loaded":
            assert by_name[masked][1] == "loaded" and by_name[masked][3] > 0, rel
        else:
            assert unexpected[masked].startswith(outcome + ":"), (rel, unexpected.get(masked))
    # The gzip and the other capitalisation load as the plain file would.
    assert staging_key_counts(night, get_entity("enhedspriser.unit_prices"))[0] > 0
    assert staging_key_counts(night, get_entity("oekonomi.budgets"))[0] > 0


def test_control_characters_are_quarantined_and_a_broken_encoding_rejects_the_file(night: Night) -> None:
    health = files(night)["sundhed/2025-12-31/sundhed_ydelser_20251231.csv"]
    entity, status, delivered, loaded, quarantined = health[:5]
    rules = night.rows("select q.line_no, q.rule, q.raw_line from landing.quarantine q join audit.delivery_files d "
                       "using (file_id) where d.file_name = '2025-12-31/sundhed_ydelser_20251231.csv' order by 1")
    assert [(line, rule) for line, rule, _ in rules] == [(4, "control_character"), (5, "control_character"),
                                                         (6, "unreadable_row")]
    assert "\\x00" in rules[0][2] and "\\x1b" in rules[1][2] and "\\x0d" in rules[2][2]
    assert status == "loaded" and quarantined == 3 and loaded == delivered - 3 > 0
    broken = files(night)["dubu/2025-12-31/dubu_ydelser_20251231_tillaeg.csv"]
    assert broken[1] == "rejected" and broken[-2].startswith("wrong_encoding:")
    assert broken[2] == broken[4] > 0 and broken[3] == 0


# ----------------------------------------------------------------------------- CPR stays in landing


def test_no_cpr_like_value_outside_landing(night: Night) -> None:
    """Every text column of every table and view in every schema but landing (staging, audit,
    the dbt build schemas). Pseudonyms, household keys and file-name digests (``*_key``) and
    SHA-256 digests are hashes: ten decimal digits in a row occur in them by chance."""
    columns = night.rows(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
        "join information_schema.tables t using (table_schema, table_name) "
        "where t.table_type in ('BASE TABLE', 'VIEW') and c.table_schema not in ('landing', 'pg_catalog', 'information_schema') "
        "and c.table_schema not like 'pg\\_%%' and c.data_type in ('text', 'character varying') "
        "and c.column_name not like '%%\\_key' and c.column_name <> 'sha256'")
    schemas = {c[0] for c in columns}
    assert {"staging", "audit", "build_stg", "build_int"} <= schemas
    leaks = []
    for schema, table, column in columns:
        (n,) = night.rows(sql.SQL("select count(*) from {}.{} where {} ~ %s").format(
            sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column)), CPR_LIKE_SQL)[0]
        if n:
            leaks.append((schema, table, column, n))
    assert not leaks
    # The raw values are where they belong: in landing.
    (raw,) = night.rows("select count(*) from landing.oekonomi__postings where posting_text like %s", f"%{LEDGER_CPR}%")[0]
    assert raw >= 3   # the initial file and its re-export


def test_masked_values_are_counted_per_file_and_reported(night: Night) -> None:
    by_name = files(night)
    masked = {v[0]: v[7] for k, v in by_name.items() if k.endswith("_20251231.csv") and v[1] == "loaded"}
    for entity, count in night.planted.items():
        assert masked[entity] == count, entity
    assert masked["cpr.relations"] == 0
    staged = night.rows("select posting_text from staging.oekonomi__postings where posting_text like '%<cpr>%'")
    assert len(staged) == 4
    (district,) = night.rows("select count(*) from staging.cpr__persons where district = 'Distrikt <cpr>'")[0]
    assert district == 1
    late = [f for summary in night.summaries for f in summary["files"] if "korrektion" in f["file"]]
    assert [f["cpr_like_masked"] for f in late] == [1]   # the name
    initial = {summary["entity"]: summary for summary in night.summaries[:len(ENTITIES)]}
    assert initial["oekonomi.postings"]["cpr_like_masked"] == 6
    assert "6 CPR-like values masked" in night.log_text


def test_a_cpr_in_a_key_or_number_column_is_quarantined(night: Night) -> None:
    rules = night.rows("select d.entity, q.rule, q.detail from landing.quarantine q join audit.delivery_files d "
                       "using (file_id) where q.rule = 'cpr_like_value' order by 1")
    assert [(e, r) for e, r, _ in rules] == [("dubu.services", "cpr_like_value"), ("helhed.network_meetings", "cpr_like_value")]
    assert all(not CPR_LIKE.search(detail) for *_, detail in rules)


def test_file_names_with_a_cpr_are_masked_and_still_identify_the_file(night: Night) -> None:
    names = night.rows("select file_name, path, name_key from audit.delivery_files where file_name like '%korrektion%'")
    assert [n[0] for n in names] == ["2026-01-01/ydelsesperioder_20260101_korrektion_<cpr>.csv"]
    assert "<cpr>" in names[0][1] and NAME_CPR not in names[0][1]
    assert names[0][2] == Pseudonymiser.from_secrets(night.settings.secrets).digest_text(
        f"2026-01-01/ydelsesperioder_20260101_korrektion_{NAME_CPR}.csv")
    again = loading.load_entity(night.settings, get_entity("ydelser.benefit_periods"), END + timedelta(days=NIGHTS))
    assert {f.status for f in again.files} == {"skipped"}, "a file with a masked name must be recognised as loaded"
    (source_files,) = night.rows("select count(*) from staging.ydelser__benefit_periods where source_file like '%<cpr>%'")[0]
    assert source_files == 1


def test_loader_logs_and_returned_summaries_hold_no_cpr(night: Night) -> None:
    text = json.dumps(night.summaries, ensure_ascii=False)
    assert not CPR_LIKE.search(text) and not CPR_LIKE.search(night.log_text)
    assert "<cpr>" in text and "korrektion_<cpr>.csv" in night.log_text
    assert "unexpected file" in night.log_text and "notat_<cpr>.txt" in night.log_text


# ----------------------------------------------------------------------------- content, not bytes


def test_a_reexported_ledger_adds_no_posting(night: Night) -> None:
    initial = files(night)["oekonomi/2025-12-31/posteringer_20251231.csv"]
    again = files(night)["oekonomi/2026-01-02/posteringer_20260102_reeksport.csv"]
    assert again[1] == "loaded" and again[3] == initial[3] > 0
    assert again[5] == again[3], "every re-exported posting is recognised as unchanged"
    # The nights deliver corrections: reversals and re-postings on new vouchers, never an old voucher again.
    nightly = sum(f[3] for name, f in files(night).items()
                  if re.fullmatch(r"oekonomi/2026-\d\d-\d\d/posteringer_2026\d{4}\.csv", name) and f[1] == "loaded")
    total, distinct = staging_key_counts(night, get_entity("oekonomi.postings"))
    assert total == distinct == initial[3] + nightly and nightly > 0
    sources = dict(night.rows("select source_file, count(*) from staging.oekonomi__postings group by 1"))
    assert sources["2026-01-02/posteringer_20260102_reeksport.csv"] == initial[3], "the newer delivery holds every posting"


def test_no_natural_key_twice_in_staging(night: Night) -> None:
    for e in ENTITIES:
        if not e.key:  # a register delivered whole each time keeps every delivery (e.g. beslutninger)
            continue
        total, distinct = staging_key_counts(night, e)
        assert total == distinct, e.id


def newest_versions(night: Night) -> dict[str, tuple[str, date, str]]:
    """An independent reading of every loaded benefit-period file: per period id, the end date of
    the newest delivery (folder date, then the stored file name in byte order)."""
    loaded = night.rows("select delivery_date, file_name from audit.delivery_files "
                        "where entity = 'ydelser.benefit_periods' and status = 'loaded'")
    by_name = {p.relative_to(night.settings.landing_dir / "ydelser").as_posix(): p
               for p in (night.settings.landing_dir / "ydelser").rglob("*.csv")}
    quarantined = {(r[0], r[1]) for r in night.rows(
        "select d.file_name, q.line_no from landing.quarantine q join audit.delivery_files d using (file_id)")}
    newest: dict[str, tuple[tuple, str]] = {}
    for day, name in loaded:
        path = next(p for rel, p in by_name.items() if CPR_LIKE.sub("<cpr>", rel) == name)
        header, rows = read_rows(path, "utf-8-sig")
        for line, row in enumerate(rows, start=2):
            if (name, line) in quarantined:
                continue
            version = (day, name.encode())
            if row[0] not in newest or newest[row[0]][0] < version:
                newest[row[0]] = (version, row[header.index("Ydelses slutdato")])
    return {pid: (end, version[0], version[1].decode()) for pid, (version, end) in newest.items()}


def test_the_newest_delivery_wins_whatever_the_load_order(night: Night) -> None:
    expected = newest_versions(night)
    staged = {pid: (end.strftime("%d-%m-%Y") if end else "", day, name) for pid, end, day, name in night.rows(
        "select period_id, end_date, delivery_date, source_file from staging.ydelser__benefit_periods")}
    assert staged == expected
    late = files(night)["ydelser/2026-01-01/ydelsesperioder_20260101_korrektion_<cpr>.csv"]
    assert late[1] == "loaded" and late[3] == 2 and late[6] == 1, "one row superseded, one applied"
    stale = staged[night.stale_period]
    assert stale[1] > END + timedelta(days=1), "the stale back-dated version must not win"
    pid, _, new_end = night.corrected_period
    assert staged[pid][0] == new_end.strftime("%d-%m-%Y")
    # Landing keeps every version.
    (versions,) = night.rows("select count(*) from landing.ydelser__benefit_periods where period_id = %s", night.stale_period)[0]
    assert versions >= 2


def test_the_backlog_loads_every_night_once(night: Night) -> None:
    by_name = files(night)
    for n in range(1, NIGHTS + 1):
        day = END + timedelta(days=n)
        for stem, source in (("ydelsesperioder", "ydelser"), ("cpr_personer", "cpr")):
            row = by_name[f"{source}/{day.isoformat()}/{stem}_{day:%Y%m%d}.csv"]
            assert row[1] == "loaded" and row[2] == row[3] + row[4]
    (loaded_twice,) = night.rows("select count(*) from (select source, name_key from audit.delivery_files "
                                 "group by 1, 2 having count(*) > 1) d")[0]
    assert loaded_twice == 0


# ----------------------------------------------------------------------------- incremental months


def test_the_incremental_build_after_an_out_of_order_correction_equals_a_full_refresh(night: Night) -> None:
    pid, old_end, new_end = night.corrected_period
    assert new_end < old_end and new_end < date(2025, 7, 1), "the correction must lie outside the look-back window"
    for table in INCREMENTAL:
        assert night.incremental[table], table
        assert night.incremental[table] == night.full[table], f"{table}: incremental differs from a full refresh"
    # The correction changed months the incremental build had to find: the test can fail.
    changed = [t for t in INCREMENTAL if night.incremental[t] != night.before_correction[t]]
    assert "int_benefits_aggregated_to_person_months" in changed and "int_person_months" in changed


# ----------------------------------------------------------------------------- crash mid-load


def test_a_killed_connection_mid_file_loses_nothing_and_loads_nothing_twice(night: Night, monkeypatch) -> None:
    s = night.settings
    day = END + timedelta(days=NIGHTS + 2)
    reexport_ledger(s, day, "posteringer_eksport_2.csv", seed=2)
    entity = get_entity("oekonomi.postings")
    before = staging_key_counts(night, entity)
    real = loading._insert_staging

    def killed(conn, *args):
        with psycopg.connect(s.url(), autocommit=True) as other:
            other.execute("select pg_terminate_backend(%s)", (conn.info.backend_pid,))
        return real(conn, *args)

    monkeypatch.setattr(loading, "_insert_staging", killed)
    with pytest.raises(psycopg.OperationalError):
        loading.load_entity(s, entity, day)
    monkeypatch.undo()
    assert "oekonomi/" + f"{day.isoformat()}/posteringer_eksport_2.csv" not in files(night)
    summary = loading.load_entity(s, entity, day)
    (f,) = [f for f in summary.files if f.status != "skipped"]
    exported = files(night)["oekonomi/2025-12-31/posteringer_20251231.csv"][3]   # the initial ledger, re-exported
    assert (f.status, f.delivered, f.loaded, f.quarantined, f.unchanged) == ("loaded", exported, exported, 0, exported)
    assert staging_key_counts(night, entity) == before


def test_a_key_rotation_keeps_every_file_identified(night: Night, monkeypatch) -> None:
    """File names are identified by a keyed digest: a rotation re-keys it with the pseudonyms."""
    from helhed.keys import rotate

    new_key = "a-rotation-key-for-the-fault-tests"
    rotate(night.settings, new_key)
    monkeypatch.setenv("HELHED_PSEUDONYM_ROTATION_KEYS", new_key)
    s = replace(night.settings)   # secrets are read once per Settings: a fresh one sees the new chain
    pseudo = Pseudonymiser.from_secrets(s.secrets)
    (key,) = night.rows("select name_key from audit.delivery_files where file_name like '%korrektion%'")[0]
    assert key == pseudo.digest_text(f"2026-01-01/ydelsesperioder_20260101_korrektion_{NAME_CPR}.csv")
    again = loading.load_entity(s, get_entity("ydelser.benefit_periods"), END + timedelta(days=NIGHTS))
    assert {f.status for f in again.files} == {"skipped"} and len(again.unexpected) == 1
