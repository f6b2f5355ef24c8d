"""Fault injection for runs and publishing: backlogs, empty days, concurrency, a killed build.

One small municipality (cpr and ydelser, 1,500 residents, two years, four nightly increments)
lives in a database of its own (``helhed_faults``), so nothing here touches the warehouse other
tests use. The nights run the pipeline's own steps in the DAG's order (``begin_run``, load,
staging gates, ``dbt build``, the employment mart gates, ``publish_build``, ``end_run``)
without Airflow; tests/test_end_to_end.py runs the same steps through the DAG once.

The tests run in file order and share the state, night after night:

====  ==============================================================  ====================================
night  deliveries                                                     expected
====  ==============================================================  ====================================
0      the initial delivery (end date)                                gates pass, published
1      day 1 with 5 bad rows (unknown code), day 2 clean, in one run  the gate fails on day 1's file
2      day 3, and a back-dated folder (before night 0) of bad rows    fails again on both; accepted: published
3      day 4; two runs start at once                                  one is refused naming the other
4      a quiet day (empty increments); ``dbt build`` killed mid-way    nothing published
5      nothing new; a file slips in after the gates                   publish refuses it until gated;
                                                                      the quiet day warns; published,
                                                                      the facts match the planted truth
====  ==============================================================  ====================================

Every night asserts that delivered = loaded + quarantined for every file and that no
(person, month) is duplicated; every publication must have been seen by a gate.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from helhed import gates, pipeline, publish, runlock
from helhed.config import REPO_ROOT, Settings
from helhed.generator import generate
from helhed.sources import load_sources

pytestmark = pytest.mark.slow

DATABASE = "helhed_faults"
END = date(2025, 12, 31)
DAYS = [END + timedelta(days=k) for k in range(1, 9)]   # DAYS[0] is day 1
INCREMENTS = 4
SOURCES = ("cpr", "ydelser")
#: What the generator delivers for these sources without the phase-2 sources (no relations).
ENTITIES = [e for name, source in load_sources().items() if name in SOURCES for e in source.entities
            if e.id in ("cpr.persons", "ydelser.benefit_periods")]
EMPLOYMENT_MARTS = ("employment_benefits_monthly", "employment_visitation_monthly", "employment_self_support_monthly")
DBT = Path(sys.executable).parent / "dbt"
PROJECT_DIR = REPO_ROOT / "dbt_project"
YD_FILE = "ydelsesperioder_{:%Y%m%d}.csv"

#: What the tests measured, printed at the end of the module (docs/reliability.md quotes it).
FIGURES: dict[str, object] = {}


@dataclass(frozen=True)
class FaultSettings(Settings):
    """Settings whose warehouse is ``DATABASE``: loader, gates, lock and publish all write there."""

    database: str = DATABASE

    def url(self, database: str = "helhed", **kwargs) -> str:  # type: ignore[override]
        return super().url(self.database if database == "helhed" else database, **kwargs)

    def libpq_env(self, database: str = "helhed") -> dict[str, str]:
        return super().libpq_env(self.database if database == "helhed" else database)


@dataclass
class World:
    s: FaultSettings
    pool: Path                  # every generated delivery; nights copy folders from here into landing
    target: Path                # dbt's target path (not the project's, which helhed.dbtmeta reads)
    truth: dict
    seconds: dict[str, float] = field(default_factory=dict)

    def rows(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.s.url(), autocommit=True) as conn:
            return conn.execute(query, params or None).fetchall()

    def value(self, query: str, *params):
        return self.rows(query, *params)[0][0]

    def deliver(self, day: date) -> None:
        """The source systems drop their folders for ``day`` into landing."""
        for source in SOURCES:
            folder = self.pool / "landing" / source / day.isoformat()
            if folder.exists():
                shutil.copytree(folder, self.s.landing_dir / source / day.isoformat(), dirs_exist_ok=True)

    def write(self, source: str, day: date, name: str, lines: list[str], newline: str = "\r\n") -> Path:
        folder = self.s.landing_dir / source / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes((newline.join(lines) + newline).encode("utf-8-sig"))
        return path

    def dbt_build(self, *, kill_after_models: int | None = None,
                  full_refresh: bool = False) -> subprocess.CompletedProcess | dict:
        # The employment marts and everything upstream (person-month facts included): what this
        # municipality (cpr and ydelser) feeds, at a third of a whole build's time.
        cmd = [str(DBT), "build", "--select", "+path:models/marts/employment", "--project-dir", str(PROJECT_DIR),
               "--profiles-dir", str(PROJECT_DIR), "--target-path", str(self.target),
               "--log-path", str(self.target / "logs"), *(["--full-refresh"] if full_refresh else [])]
        env = {**os.environ, **self.s.libpq_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        started = time.perf_counter()
        if kill_after_models is None:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=1800)
            assert proc.returncode == 0, f"dbt build failed:\n{proc.stdout[-6000:]}"
            self.seconds.setdefault("dbt_build", []).append(round(time.perf_counter() - started, 1))
            return proc
        # Kill the whole build (dbt and its threads) once some models are built and others are not.
        out = self.target / "killed_build.log"
        with out.open("w") as fh:
            proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                                    start_new_session=True)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            if out.read_text(errors="replace").count(" OK created ") >= kill_after_models:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the build finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log = out.read_text(errors="replace")
        return {"returncode": proc.returncode, "created": log.count(" OK created "), "log": log}


@pytest.fixture(scope="module")
def world(pg: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("faults")
    s = FaultSettings(home=pg.home, data_dir=root / "data", pg_host=pg.pg_host, pg_port=pg.pg_port,
                      pg_superuser=pg.pg_superuser)
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(s.url(), autocommit=True) as conn:
        for schema in ("landing", "audit", "staging", "marts", "restricted"):   # as database.bootstrap
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    from helhed.loading import ensure_all_tables

    ensure_all_tables(s)
    # Seed 3: day 1 has benefit periods of its own (the bad rows join good ones), day 4 none.
    manifest = generate(profile="randers", residents=1500, years=2, seed=3, out=root / "pool", end_date=END,
                        daily_increments=INCREMENTS, sources=SOURCES, show_progress=False)
    yield World(s, root / "pool", root / "target", manifest["truth"])
    print(f"\nrun and publishing faults, figures: {json.dumps(FIGURES, default=str)}")
    try:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
    except psycopg.OperationalError:
        pass


# --------------------------------------------------------------------------- one night


def load_and_gate(w: World, day: date, run_id: str) -> dict[str, dict]:
    for entity in ENTITIES:
        pipeline.hold(run_id, w.s)
        pipeline.load(entity.id, day, w.s)
    return {e.id: pipeline.gate_staging(e.id, run_id, w.s, logical_date=day) for e in ENTITIES}


def gate_employment_marts(w: World, run_id: str) -> None:
    """The public marts this municipality has data for (the economy marts stay empty without a ledger)."""
    pipeline.hold(run_id, w.s)
    gates.enforce([gates.run_suite(w.s, f"marts__{t}", "build_marts", t, run_id, data_docs=False)
                   for t in EMPLOYMENT_MARTS])


def night(w: World, day: date, run_id: str) -> dict[str, dict]:
    """A whole night in the DAG's order; the lock is released whatever happens (the teardown)."""
    pipeline.begin_run(run_id, w.s)
    try:
        gated = load_and_gate(w, day, run_id)
        w.dbt_build()
        gate_employment_marts(w, run_id)
        pipeline.publish_build(run_id, day, w.s)
        return gated
    finally:
        pipeline.end_run(run_id, w.s)


def publications(w: World) -> int:
    return w.value("select count(*) from audit.publications") if w.value(
        "select to_regclass('audit.publications')") else 0


def marts_snapshot(w: World) -> list[tuple]:
    return w.rows("select * from marts.employment_benefits_monthly order by 1, 2")


def assert_invariants(w: World) -> None:
    """Delivered = loaded + quarantined for every file; no duplicated person-month anywhere."""
    bad = w.rows("select file_name, rows_delivered, rows_loaded, rows_quarantined from audit.delivery_files "
                 "where rows_delivered <> rows_loaded + rows_quarantined")
    assert bad == [], bad
    for schema in ("restricted", "build_int"):
        if w.value("select to_regclass(%s)", f"{schema}.int_person_months" if schema == "build_int"
                   else f"{schema}.fct_person_month"):
            table = "int_person_months" if schema == "build_int" else "fct_person_month"
            duplicated = w.value(f"select count(*) from (select person_key, month from {schema}.{table} "
                                 f"group by 1, 2 having count(*) > 1) d")
            assert duplicated == 0, f"{duplicated} duplicated person-months in {schema}.{table}"
    # the copies of the rows a staging gate validates are dropped after it, and no reader sees them
    if w.value("select to_regnamespace('gate_scratch')") is not None:
        assert w.value("select count(*) from pg_tables where schemaname = 'gate_scratch'") == 0
        assert not w.value("select has_schema_privilege('helhed_reader', 'gate_scratch', 'usage')")
    assert_every_publication_was_gated(w)


def assert_every_publication_was_gated(w: World) -> None:
    """Each publication's new files (after the one before it) lie in passing gate batches of its run."""
    marks = w.rows("select run_id, coalesce(through_file_id, 0) from audit.publications order by published_at")
    previous = 0
    for run_id, through in marks:
        ungated = w.rows(
            "select f.file_id, f.file_name from audit.delivery_files f where f.file_id > %s and f.file_id <= %s "
            "and not exists (select 1 from audit.gate_batches g where g.run_id = %s and g.passed "
            "and g.entity = f.entity and f.file_id > g.after_file_id and f.file_id <= g.through_file_id)",
            previous, through, run_id)
        assert ungated == [], f"publication of {run_id} holds files no gate of it saw: {ungated}"
        previous = through


def bad_benefit_lines(w: World, n: int, prefix: str) -> list[str]:
    """Benefit periods with a code outside the benefit groups: the loader quarantines them."""
    template = (w.pool / "landing" / "ydelser" / END.isoformat() / YD_FILE.format(END)).read_text(
        encoding="utf-8-sig").splitlines()[1].split(";")
    return [";".join([f"{prefix}-{i}", template[1], "ukendt_ydelse", *template[3:]]) for i in range(n)]


def header(w: World, source: str, name: str) -> str:
    return (w.pool / "landing" / source / END.isoformat() / name.format(END)).read_text(
        encoding="utf-8-sig").splitlines()[0]


# --------------------------------------------------------------------------- the nights


def test_night_0_publishes_what_its_gates_saw(world: World) -> None:
    w = world
    w.deliver(END)
    started = time.perf_counter()
    gated = night(w, END, "faults-0")
    FIGURES["night_0_seconds"] = round(time.perf_counter() - started, 1)
    assert publications(w) == 1
    newest = w.value("select max(file_id) from audit.delivery_files")
    assert w.value("select through_file_id from audit.publications") == newest
    assert gated["ydelser.benefit_periods"]["rows"] == w.value("select count(*) from staging.ydelser__benefit_periods")
    assert w.value("select to_regclass('audit.run_lock')") and runlock.current(w.s) is None
    # begin_run closed what the generator wrote with a loose umask: deliveries hold raw CPR.
    landing = [w.s.landing_dir, *w.s.landing_dir.rglob("*")]
    assert all(not stat.S_IMODE(p.stat().st_mode) & 0o007 for p in landing), \
        [f"{p} {stat.S_IMODE(p.stat().st_mode):o}" for p in landing if stat.S_IMODE(p.stat().st_mode) & 0o007]
    assert stat.S_IMODE((w.s.home / "secrets.env").stat().st_mode) == 0o600
    assert stat.S_IMODE(w.s.home.stat().st_mode) in (0o700, 0o711)   # 0711 as root: PostgreSQL's user passes
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in w.s.home.iterdir() if p.is_dir() and p != w.s.pgdata)
    assert_invariants(w)


def test_night_1_a_bad_day_followed_by_a_clean_day_fails_the_gate(world: World) -> None:
    """Both days are loaded in one run; the newest folder is clean, the older one is not."""
    w = world
    before, published = marts_snapshot(w), publications(w)
    w.deliver(DAYS[0])
    bad_file = w.s.landing_dir / "ydelser" / DAYS[0].isoformat() / YD_FILE.format(DAYS[0])
    with bad_file.open("ab") as fh:   # five extra rows with an unknown code (the increment may be empty)
        fh.write(("\r\n".join(bad_benefit_lines(w, 5, "BAD1")) + "\r\n").encode("utf-8"))
    w.deliver(DAYS[1])
    with pytest.raises(gates.GateFailed) as failed:
        night(w, DAYS[1], "faults-1")
    message = str(failed.value)
    assert f"{DAYS[0]}/{YD_FILE.format(DAYS[0])}" in message and "expect_file_quarantine_rate_to_be_below" in message
    assert f"{DAYS[1]}/" not in message.split("expect_file_quarantine_rate_to_be_below")[1]
    assert marts_snapshot(w) == before and publications(w) == published
    assert w.value("select count(*) from audit.gate_batches where run_id = 'faults-1' and not passed") == 1
    assert runlock.current(w.s) is None   # released although the night failed
    FIGURES["backlog_days_in_one_run"] = 2
    assert_invariants(w)


def test_night_2_failed_rows_are_gated_again_until_accepted(world: World) -> None:
    """A clean day 3 does not wash day 1 through; a back-dated folder loaded late is gated too."""
    w = world
    published = publications(w)
    w.deliver(DAYS[2])
    late_day = END - timedelta(days=2)   # older than what night 0 published
    late = w.write("ydelser", late_day, f"ydelsesperioder_{late_day:%Y%m%d}_eftersendt.csv",
                   [header(w, "ydelser", YD_FILE), *bad_benefit_lines(w, 3, "LATE")])
    with pytest.raises(gates.GateFailed) as failed:
        night(w, DAYS[2], "faults-2")
    message = str(failed.value)
    assert f"{DAYS[0]}/{YD_FILE.format(DAYS[0])}" in message, "day 1's file must be gated again"
    assert f"{late_day}/{late.name}" in message, "a back-dated folder loaded late must be gated"
    # the gates read a copy of the rows since the last publish, not the whole table
    assert w.value("select to_regnamespace('gate_scratch')") is not None
    assert publications(w) == published

    # Someone decides the good rows may go out: the quarantined lines stay in landing.quarantine.
    ids = dict(w.rows("select file_name, file_id from audit.delivery_files where rows_quarantined > 1"))
    for name in (f"{DAYS[0]}/{YD_FILE.format(DAYS[0])}", f"{late_day}/{late.name}"):
        gates.accept_file(w.s, ids[name], "the source cannot resend; the good rows are complete", "test")
    night(w, DAYS[2], "faults-2b")
    assert publications(w) == published + 1
    covered = w.rows("select entity, after_file_id, through_file_id from audit.gate_batches "
                     "where run_id = 'faults-2b' and entity = 'ydelser.benefit_periods'")
    assert covered[0][1] < ids[f"{DAYS[0]}/{YD_FILE.format(DAYS[0])}"] <= covered[0][2]
    # Day 1's good rows reached staging and were published with this night.
    day1_rows = w.value("select count(*) from staging.ydelser__benefit_periods where source_file = %s",
                        f"{DAYS[0]}/{YD_FILE.format(DAYS[0])}")
    FIGURES["day1_good_rows_published_after_acceptance"] = day1_rows
    assert day1_rows > 0
    assert w.value("select count(*) from landing.quarantine q join audit.delivery_files f using (file_id) "
                   "where f.file_id = any(%s)", list(ids.values())) == 8
    assert_invariants(w)


def test_night_3_two_runs_at_once_one_is_refused(world: World, caplog) -> None:
    w = world
    w.deliver(DAYS[3])
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def attempt(run_id: str) -> None:
        barrier.wait()
        try:
            night(w, DAYS[3], run_id)
            outcome[run_id] = "published"
        except runlock.RunLocked as exc:
            outcome[run_id] = exc

    threads = [threading.Thread(target=attempt, args=(f"faults-3{x}",)) for x in "ab"]
    published = publications(w)
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    refused = {k: v for k, v in outcome.items() if isinstance(v, runlock.RunLocked)}
    assert sorted(outcome.values(), key=str).count("published") == 1 and len(refused) == 1, outcome
    (loser, error), = refused.items()
    winner = next(k for k in outcome if k != loser)
    assert f"run {loser} cannot start" in str(error) and f"held by run {winner}" in str(error)
    assert "helhed lock release" in str(error)
    assert publications(w) == published + 1
    FIGURES["concurrent_runs"] = {"published": winner, "refused": loser}

    # A step of a run that does not hold the lock refuses to work.
    with pytest.raises(runlock.LockLost, match=f"run {loser} does not hold"):
        pipeline.gate_staging("cpr.persons", loser, w.s)
    # The lease of a run that died without its teardown expires, and the next run takes it over.
    pipeline.begin_run("faults-dead", w.s)
    w.rows("update audit.run_lock set expires_at = now() - interval '1 minute' returning 1")
    with caplog.at_level(logging.WARNING, logger="helhed.runlock"):
        pipeline.begin_run("faults-3c", w.s)
    assert "took over the expired nightly lock of run faults-dead" in caplog.text
    with pytest.raises(runlock.LockLost):
        pipeline.hold("faults-dead", w.s)
    assert pipeline.end_run("faults-dead", w.s) == {"run_id": "faults-dead", "released": False}
    assert pipeline.end_run("faults-3c", w.s)["released"]
    assert_invariants(w)


def test_night_4_a_killed_build_publishes_nothing(world: World) -> None:
    """A quiet day arrives (empty increments); the night's dbt build is killed mid-way."""
    w = world
    quiet = DAYS[4]
    # Header-only files, as the generator's own quiet days (LF line ends: not the same bytes as
    # an earlier empty file, which the loader would reject as a duplicate).
    w.write("cpr", quiet, f"cpr_personer_{quiet:%Y%m%d}.csv", [header(w, "cpr", "cpr_personer_{:%Y%m%d}.csv")], "\n")
    w.write("ydelser", quiet, YD_FILE.format(quiet), [header(w, "ydelser", YD_FILE)], "\n")
    before, published = marts_snapshot(w), publications(w)
    run_id = "faults-4"
    pipeline.begin_run(run_id, w.s)
    try:
        load_and_gate(w, quiet, run_id)
        killed = w.dbt_build(kill_after_models=10)
    finally:
        pipeline.end_run(run_id, w.s)
    assert killed["returncode"] == -signal.SIGKILL
    FIGURES["killed_build_after_models"] = killed["created"]
    # The DAG never reaches publish after a failed build: the dashboards still show night 3.
    assert marts_snapshot(w) == before and publications(w) == published
    assert runlock.current(w.s) is None
    assert_invariants(w)


def test_night_5_the_next_night_catches_up_warns_of_the_quiet_day_and_matches_the_truth(world: World) -> None:
    w = world
    quiet, day = DAYS[4], DAYS[5]
    published = publications(w)
    run_id = "faults-5"
    pipeline.begin_run(run_id, w.s)
    try:
        gated = load_and_gate(w, day, run_id)
        w.dbt_build()
        gate_employment_marts(w, run_id)
        # A file that slips in after the gates (a load outside the run) is refused at publish. It
        # is an empty re-delivery into the quiet day's folder: a delivery in the newest folder
        # would move the as-of date past the build that is published, and the comparison with a
        # clean build below is of the same staging tables and as-of date.
        slipped = w.write("ydelser", quiet, YD_FILE.format(quiet).replace(".csv", "_efterlevering.csv"),
                          [header(w, "ydelser", YD_FILE)])
        pipeline.load("ydelser.benefit_periods", day, w.s)
        with pytest.raises(publish.UngatedDeliveries, match=f"{quiet}/{slipped.name}"):
            pipeline.publish_build(run_id, day, w.s)
        pipeline.gate_staging("ydelser.benefit_periods", run_id, w.s, logical_date=day)
        pipeline.publish_build(run_id, day, w.s)
    finally:
        pipeline.end_run(run_id, w.s)
    assert publications(w) == published + 1
    assert w.value("select logical_date from audit.publications order by published_at desc limit 1") == day

    # The quiet day (not published by the killed night) is a warning, and did not block the night.
    assert any(f"the delivery of {quiet}" in m and "has no rows in a loaded file" in m
               for m in gated["ydelser.benefit_periods"]["warnings"]), gated
    empty = w.rows("select severity, success, observed_value from audit.gate_results where run_id = %s "
                   "and expectation_type = 'expect_delivery_to_have_rows' and suite = 'staging.ydelser__benefit_periods' "
                   "order by id limit 1", run_id)
    assert empty[0][:2] == ("warning", False) and quiet.isoformat() in empty[0][2]["empty_deliveries"]
    # A missing delivery is told apart from an empty one: no file at all for longer than the schedule.
    later = day + timedelta(days=5)
    checks = {o.expectation_type: o for o in gates.delivery_checks(w.s, "ydelser__benefit_periods", logical_date=later)}
    missing = checks["expect_delivery_to_arrive"]
    assert not missing.success and missing.severity == "warning"
    assert f"no delivery of ydelser.benefit_periods since {quiet}, {(later - quiet).days} days before {later}" in missing.message
    assert checks["expect_delivery_to_have_rows"].success   # nothing new since the publish: nothing empty either
    FIGURES["quiet_day"] = "warning, published"

    # The killed build left nothing behind: what the catch-up night published is exactly what a
    # clean full build of the same staging tables gives.
    w.dbt_build(full_refresh=True)
    for a, b in (("restricted", "build_restricted"), ("build_restricted", "restricted")):
        extra = w.value(f"select count(*) from (select * from {a}.fct_person_month except all "
                        f"select * from {b}.fct_person_month) d")
        assert extra == 0, f"{extra} person-months in {a} differ from {b}"
    FIGURES["person_months_equal_to_a_clean_build"] = w.value("select count(*) from restricted.fct_person_month")

    # Bad rows quarantined, good ones in: the published facts are the planted truth, for the
    # months no late registration can touch (the generator registers events of the last 60 days
    # before the end date late; those months are checked against a clean build above).
    truth = w.truth["full_time_persons_by_group_month"]
    settled = f"{END - timedelta(days=60):%Y-%m}"
    checked = 0
    for group, months in truth.items():
        if not any(months.values()):
            continue
        got = dict(w.rows(f"select to_char(month, 'YYYY-MM'), sum(ftp_{group}) from restricted.fct_person_month group by 1"))
        for month, expected in months.items():
            if month >= settled:
                continue
            assert float(got.get(month, 0) or 0) == pytest.approx(expected, abs=0.01), (group, month)
            checked += 1
    assert checked > 0
    FIGURES["truth_cells_checked"] = checked
    FIGURES["publications"] = publications(w)
    FIGURES["gate_runs"] = w.value("select count(*) from audit.gate_batches")
    FIGURES["dbt_build_seconds"] = w.seconds.get("dbt_build")
    assert_invariants(w)
