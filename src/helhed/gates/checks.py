"""The checks only a gate can make, beside the suites: each delivery against the ones before it
and each source against the others.

For the deliveries loaded since the last publication (:func:`delivery_window`):

- volume, empty and overdue deliveries (freshness), quarantine rate and rejected files
  (:func:`delivery_checks`, from ``audit.delivery_files``);
- drift of key distributions: the shares of a column's values in tonight's rows against the
  rows of the last deliveries (:func:`drift_checks`);
- coverage between sources: tonight's rows whose person (or other reference) is missing from
  another source, e.g. benefit periods whose person is not in the CPR extract (:func:`coverage_checks`);
- the table's contract: its columns, types and nullability against the source specification
  (:func:`contract_checks`; the loader's own DDL enforces them, this catches a table that drifted).

Thresholds live in the specification (``config/sources.yaml``): defaults in its ``gates:``
section, overridden per source and entity (docs/quality-gates.md). Nothing here holds a CPR
number: outcomes pass :func:`helhed.gates.results._redacted_outcome`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import sql

from helhed.config import GATE_SCOPES, WEEKDAYS, Settings
from helhed.database import one_row
from helhed.gates.results import SEVERITIES, Batch, ExpectationOutcome, _jsonable, _redacted_outcome
from helhed.redaction import redact

#: ``since_publish``: rows loaded since the last publish; ``full``: the whole table.
SCOPES = GATE_SCOPES

#: The settings every check knows, with the values used when the specification's ``gates:``
#: section leaves one out (the section itself is the home of the platform's thresholds).
#: Volume (``volume:`` of a source or entity): ``history``, ``min_ratio`` and ``max_ratio`` for
#: the row count of a delivery against the median of the previous ones; ``empty`` the severity
#: of a delivery without rows; ``every_days`` how often the source delivers (None: no schedule)
#: and ``missing`` the severity of a delivery that is overdue by that schedule.
DEFAULT_VOLUME: dict[str, Any] = {"history": 30, "min_ratio": 0.5, "max_ratio": 2.0, "empty": "critical",
                                  "every_days": None, "missing": "warning"}
#: Drift (``drift:`` of an entity): the ``columns`` whose distribution is compared, over at least
#: ``min_rows`` rows on each side, with the ``history`` deliveries before; a total variation
#: distance above ``max_distance`` is reported with ``severity``.
DEFAULT_DRIFT: dict[str, Any] = {"columns": [], "history": 10, "min_rows": 50, "max_distance": 0.3,
                                 "severity": "warning"}
#: Coverage (``coverage:`` of an entity, a list): rows whose ``column`` has no match in
#: ``in`` (``<source>.<entity>``, its column ``as``, default the same name); a share above
#: ``max_missing_rate`` is reported with ``severity``.
DEFAULT_COVERAGE: dict[str, Any] = {"max_missing_rate": 0.0, "severity": "warning"}
DEFAULT_GATES: dict[str, Any] = {"max_quarantine_rate": 0.01, "quarantine_rows_tolerated": 1,
                                 "volume": DEFAULT_VOLUME, "drift": DEFAULT_DRIFT, "coverage": DEFAULT_COVERAGE}
#: Kept for callers of the old module: the defaults when the specification sets none.
DEFAULT_MAX_QUARANTINE_RATE = DEFAULT_GATES["max_quarantine_rate"]
QUARANTINE_ROWS_TOLERATED = DEFAULT_GATES["quarantine_rows_tolerated"]

ACCEPTED_FILES_DDL = """
create table if not exists audit.accepted_files (
    file_id      bigint primary key references audit.delivery_files(file_id),
    reason       text not null,
    accepted_by  text not null,
    accepted_at  timestamptz not null default now()
);
"""


def gate_defaults() -> dict[str, Any]:
    """The ``gates:`` section of the specification over :data:`DEFAULT_GATES` (unknown keys are errors)."""
    from helhed.sources import specification

    declared = specification()
    section = declared.raw.get("gates") or {}
    unknown = set(section) - set(DEFAULT_GATES)
    if unknown:
        raise ValueError(f"{declared.path}: unknown gates setting(s) {sorted(unknown)}; known: {sorted(DEFAULT_GATES)}")
    out = dict(DEFAULT_GATES)
    for key, value in section.items():
        out[key] = {**DEFAULT_GATES[key], **value} if isinstance(DEFAULT_GATES[key], dict) else value
    return out


def _entity_of(table: str):
    """The declared entity whose staging table is ``<source>__<entity>``, or None."""
    from helhed.sources import get_entity

    source, sep, name = table.partition("__")
    if not sep:
        return None
    try:
        return get_entity(f"{source}.{name}")
    except KeyError:
        return None


def default_scope(settings: Settings | None = None, logical_date: dt.date | None = None) -> str:
    """The scope of a staging gate: ``full`` (the whole table) on the weekly full-check day
    (``Settings.gate_full_weekday``, ``HELHED_GATE_FULL_WEEKDAY``, default Sunday) or when
    ``HELHED_GATE_SCOPE=full``; else ``since_publish`` (the rows tonight's loads changed)."""
    s = settings or Settings.from_env()
    if s.gate_scope == "full":
        return "full"
    if logical_date is not None and s.gate_full_weekday is not None \
            and WEEKDAYS[logical_date.weekday()] == s.gate_full_weekday:
        return "full"
    return "since_publish"


def delivery_window(settings: Settings, entity, scope: str = "since_publish") -> Batch:
    """The files of ``entity`` a staging gate covers now (rows counted by :func:`batch_query`'s caller).

    ``since_publish``: the files after the highest file id the last publication covered; ``full``:
    all of them.
    """
    from helhed.publish import published_through

    with psycopg.connect(settings.url("helhed")) as conn:
        after = 0 if scope == "full" else published_through(conn)
        if one_row(conn.execute("select to_regclass('audit.delivery_files')"))[0] is None:
            return Batch(scope, entity.id, entity.source, after, after, 0)
        through, files = one_row(conn.execute(
            "select coalesce(max(file_id), 0), count(*) filter (where file_id > %s) "
            "from audit.delivery_files where entity = %s", (after, entity.id)))
    return Batch(scope, entity.id, entity.source, after, int(through), int(files))


def batch_query(conn: psycopg.Connection, schema: str, table: str, batch: Batch) -> str:
    """``select`` of the staging rows not covered by the last publication: rows whose file has a
    file id above ``after_file_id``, and rows no delivered file explains (never published either).

    Rows carry their file as ``source_file`` (``<folder>/<file name>``, as in
    ``audit.delivery_files.file_name``). A name can belong to more than one file (CPR-like parts
    of names are masked, so two names may read the same): a row counts as new when the newest
    file of its name is, which errs towards checking a row again rather than not at all.
    """
    return sql.SQL(
        "select t.* from {table} as t left join (select file_name, max(file_id) as newest "
        "from audit.delivery_files where source = {source} group by file_name) as f on f.file_name = t.source_file "
        "where f.newest is null or f.newest > {after}"
    ).format(table=sql.Identifier(schema, table), source=sql.Literal(batch.source),
             after=sql.Literal(batch.after_file_id)).as_string(conn)


#: Where a staging gate copies the rows it validates since the last publish: owner-only (no
#: grant), one unlogged table per validated table, dropped when the gate ends.
SCRATCH_SCHEMA = "gate_scratch"


def materialise_batch(settings: Settings, schema: str, table: str, batch: Batch) -> tuple[str, int]:
    """Copy the rows of :func:`batch_query` once into ``gate_scratch.<schema>__<table>``; return
    a ``select`` of the copy and its row count.

    GX computes each expectation with its own query; over :func:`batch_query` every one of them
    scanned the whole staging table and joined it to ``audit.delivery_files`` again (a dozen
    scans a gate, growing with the history). Over the copy they read tonight's rows only. The
    copy is committed (GX reads it on its own connection); :func:`drop_batch` removes it.
    """
    name = sql.Identifier(SCRATCH_SCHEMA, f"{schema}__{table}"[:63])
    with psycopg.connect(settings.url("helhed")) as conn:
        if one_row(conn.execute("select to_regnamespace(%s)", (SCRATCH_SCHEMA,)))[0] is None:
            try:
                with conn.transaction():   # gates run in parallel: another one may create it first
                    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SCRATCH_SCHEMA)))
            except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
                pass
        conn.execute(sql.SQL("drop table if exists {}").format(name))
        rows = conn.execute(sql.SQL("create unlogged table {} as {}").format(
            name, sql.SQL(batch_query(conn, schema, table, batch)))).rowcount
        conn.execute(sql.SQL("analyze {}").format(name))
        return sql.SQL("select * from {}").format(name).as_string(conn), int(rows)


def drop_batch(settings: Settings, schema: str, table: str) -> None:
    """Drop the copy :func:`materialise_batch` made (nothing if there is none)."""
    with psycopg.connect(settings.url("helhed")) as conn:
        conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(SCRATCH_SCHEMA, f"{schema}__{table}"[:63])))


def _delivery_settings(entity) -> tuple[float, dict[str, Any]]:
    from helhed.parsing import entity_rules

    rules = entity_rules(entity)
    defaults = gate_defaults()
    rate = float(defaults["max_quarantine_rate"]) if rules.max_quarantine_rate is None else rules.max_quarantine_rate
    unknown = set(rules.volume) - set(DEFAULT_VOLUME)
    if unknown:
        raise ValueError(f"{entity.id}: unknown volume setting(s) {sorted(unknown)}; known: {sorted(DEFAULT_VOLUME)}")
    volume = {**DEFAULT_VOLUME, **defaults["volume"], **rules.volume}
    for key in ("empty", "missing"):
        if volume[key] not in SEVERITIES:
            raise ValueError(f"{entity.id}: volume.{key} must be one of {SEVERITIES}, not {volume[key]!r}")
    every = volume["every_days"]
    if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
        raise ValueError(f"{entity.id}: volume.every_days must be a whole number of days >= 1 or null, not {every!r}")
    return rate, volume


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0.0
    return float(ordered[n // 2]) if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _delivery_outcome(schema: str, table: str, expectation_type: str, severity: str, success: bool,
                      kwargs: dict[str, Any], observed: dict[str, Any], description: str, failure: str) -> ExpectationOutcome:
    outcome = ExpectationOutcome(expectation_type=expectation_type, column=None, kwargs=_jsonable(kwargs),
                                 severity=severity, success=success, observed=_jsonable(observed),
                                 description=description)
    if not success:
        outcome = replace(outcome, message=f"{schema}.{table}: {expectation_type} ({description}) [{severity}] failed: {failure}")
    return _redacted_outcome(outcome)


@dataclass(frozen=True)
class _Delivery:
    day: dt.date
    files: int           # all files of the folder date, loaded or rejected
    rows: int            # rows delivered in its loaded files
    new: bool            # a file of it was loaded after the last publication


def _read_deliveries(conn: psycopg.Connection, entity_id: str, batch: Batch) -> tuple[list[_Delivery], list[tuple], set[int]]:
    """Every delivery (folder date) of the entity up to the batch, the batch's files, and accepted file ids."""
    deliveries = [_Delivery(day, int(files), int(rows), bool(new)) for day, files, rows, new in conn.execute(
        "select delivery_date, count(*), coalesce(sum(rows_delivered) filter (where status = 'loaded'), 0), "
        "bool_or(file_id > %s) from audit.delivery_files where entity = %s and file_id <= %s "
        "group by delivery_date order by delivery_date", (batch.after_file_id, entity_id, batch.through_file_id))]
    files = conn.execute(
        "select file_id, file_name, status, rows_delivered, rows_quarantined, rejection, delivery_date "
        "from audit.delivery_files where entity = %s and file_id > %s and file_id <= %s order by file_id",
        (entity_id, batch.after_file_id, batch.through_file_id)).fetchall()
    accepted: set[int] = set()
    if files and one_row(conn.execute("select to_regclass('audit.accepted_files')"))[0] is not None:
        accepted = {r[0] for r in conn.execute("select file_id from audit.accepted_files where file_id = any(%s)",
                                               ([f[0] for f in files],))}
    return deliveries, files, accepted


def _volume_outcomes(schema: str, table: str, entity_id: str, volume: dict[str, Any], deliveries: list[_Delivery],
                     logical_date: dt.date | None) -> list[ExpectationOutcome]:
    """Row volume, empty deliveries and overdue deliveries, for every delivery since the last publish."""
    history = int(volume["history"])
    base = {"entity": entity_id}
    new, checked = [d for d in deliveries if d.new], list[dict[str, Any]]()
    for d in new:
        previous = [p.rows for p in deliveries if p.day < d.day][-history:]
        median = _median(previous)
        lo, hi = float(volume["min_ratio"]) * median, float(volume["max_ratio"]) * median
        checked.append({"delivery_date": d.day.isoformat(), "files": d.files, "rows": d.rows,
                        "median_of_previous": median, "previous_deliveries": len(previous),
                        "ratio": round(d.rows / median, 4) if median else None,
                        "in_range": not previous or lo <= d.rows <= hi, "lo": lo, "hi": hi})
    newest = checked[-1] if checked else None
    observed = {k: newest[k] for k in ("rows", "median_of_previous", "previous_deliveries", "ratio")} if newest else {}
    observed["deliveries"] = [{k: v for k, v in c.items() if k not in ("lo", "hi")} for c in checked]
    out_of_range = [c for c in checked if not c["in_range"]]
    outcomes = [_delivery_outcome(
        schema, table, "expect_delivery_row_count_to_be_near_history", "warning", not out_of_range,
        {**base, "history": history, "min_ratio": volume["min_ratio"], "max_ratio": volume["max_ratio"]}, observed,
        f"row volume of each delivery since the last publish against the {history} before it",
        "; ".join(f"{c['rows']} rows delivered on {c['delivery_date']}, outside [{c['lo']:g}, {c['hi']:g}] "
                  f"({volume['min_ratio']}-{volume['max_ratio']} x the median {c['median_of_previous']:g} "
                  f"of {c['previous_deliveries']} previous deliveries)" for c in out_of_range))]

    # Empty: a delivery without rows where the deliveries before it had some. Only the newest
    # delivery's emptiness carries volume.empty: an empty one followed by one with rows is a warning.
    empty = [c for c in checked if c["rows"] == 0 and c["median_of_previous"] > 0]
    severity = volume["empty"] if empty and empty[-1] is newest else "warning"
    outcomes.append(_delivery_outcome(
        schema, table, "expect_delivery_to_have_rows", severity, not empty,
        {**base, "empty": volume["empty"]},
        {"empty_deliveries": [c["delivery_date"] for c in empty], "deliveries_since_publish": len(checked)},
        "a delivery that normally has rows is not empty",
        "; ".join(f"the delivery of {c['delivery_date']} ({c['files']} file(s)) has no rows in a loaded file; "
                  f"the previous {c['previous_deliveries']} deliveries had a median of {c['median_of_previous']:g} rows"
                  for c in empty)
        + ("" if severity == volume["empty"] else " (a later delivery has rows)")))

    # Missing: nothing delivered for longer than the source's schedule (only with a schedule and a logical date).
    every = volume["every_days"]
    newest_day = deliveries[-1].day if deliveries else None
    overdue = (every is not None and logical_date is not None
               and (newest_day is None or (logical_date - newest_day).days > every))
    outcomes.append(_delivery_outcome(
        schema, table, "expect_delivery_to_arrive", volume["missing"], not overdue,
        {**base, "every_days": every, "logical_date": logical_date.isoformat() if logical_date else None},
        {"newest_delivery": newest_day.isoformat() if newest_day else None, "new_deliveries": len(checked),
         "days_since": (logical_date - newest_day).days if logical_date and newest_day else None},
        "the source delivers on its schedule (a missing delivery, unlike an empty one, has no file)",
        f"no delivery of {entity_id} " + (f"since {newest_day}" if newest_day else "at all")
        + (f", {(logical_date - newest_day).days} days before {logical_date}" if newest_day and logical_date else "")
        + f"; expected every {every} day(s)"))
    return outcomes


def _file_outcomes(schema: str, table: str, entity_id: str, max_rate: float, files: list[tuple],
                   accepted: set[int]) -> list[ExpectationOutcome]:
    """Quarantine rate of every loaded file and the rejected files, since the last publish."""
    base = {"entity": entity_id}
    rates, over = [], []
    for file_id, name, status, delivered, quarantined, _, _ in files:
        if status != "loaded":
            continue
        rate = quarantined / delivered if delivered else 0.0
        entry = {"file_id": file_id, "file": name, "delivered": delivered, "quarantined": quarantined,
                 "rate": round(rate, 4)}
        rates.append(entry)
        if rate > max_rate and quarantined > int(gate_defaults()["quarantine_rows_tolerated"]) and file_id not in accepted:
            over.append(entry)
    outcomes = [_delivery_outcome(
        schema, table, "expect_file_quarantine_rate_to_be_below", "critical", not over,
        {**base, "max_quarantine_rate": max_rate},
        {"files": rates, "over_threshold": [{k: v for k, v in o.items() if k != "file_id"} for o in over],
         "accepted": sorted(accepted)},
        f"quarantined share of each file at most {max_rate:g}",
        "; ".join(f"{o['file']} (file id {o['file_id']}): {o['quarantined']} of {o['delivered']} rows quarantined "
                  f"({o['rate']:.2%})" for o in over)
        + " (see landing.quarantine for the lines and rules; `helhed accept-file` publishes the file's good rows)")]
    rejected = [{"file": n, "rejection": (r or "").split(":")[0]} for _, n, s, _, _, r, _ in files if s == "rejected"]
    outcomes.append(_delivery_outcome(
        schema, table, "expect_no_rejected_files", "warning", not rejected, base, {"rejected": rejected},
        "every file delivered since the last publish was loaded",
        "; ".join(f"{r['file']} rejected ({r['rejection']})" for r in rejected)
        + " (see audit.delivery_files.rejection)"))
    return outcomes


def delivery_checks(settings: Settings, table: str, *, schema: str = "staging", batch: Batch | None = None,
                    logical_date: dt.date | None = None) -> list[ExpectationOutcome]:
    """The volume and quarantine checks of every delivery of the entity behind ``table`` since the last publish.

    Read from ``audit.delivery_files`` (one row per delivered file, see :mod:`helhed.loading`);
    a *delivery* is the entity's files of one folder date. For the deliveries with a file loaded
    after the last publication (``batch``, default :func:`delivery_window`), back-dated folders
    and several nights' backlog included:

    - ``expect_delivery_row_count_to_be_near_history`` (warning): the rows of each delivery lie
      within [``min_ratio`` × median, ``max_ratio`` × median] of the ``history`` deliveries before it.
    - ``expect_delivery_to_have_rows`` (``volume.empty``, default critical): no delivery of an
      entity that normally has rows (median of the deliveries before it > 0) is empty. Only the
      newest delivery's emptiness carries ``volume.empty``; an empty one followed by one with
      rows is a warning, so one quiet day never blocks a later night.
    - ``expect_delivery_to_arrive`` (``volume.missing``, default warning): with
      ``volume.every_days`` and a ``logical_date``, the newest delivery is at most that many days
      old. A missing delivery (no file) is told apart from an empty one (a file without rows).
    - ``expect_file_quarantine_rate_to_be_below`` (critical): in every loaded file,
      quarantined / delivered rows <= ``max_quarantine_rate`` (a single quarantined row is
      tolerated, and so is a file listed in ``audit.accepted_files``).
    - ``expect_no_rejected_files`` (warning): no file was rejected.

    Settings come from ``config/sources.yaml`` (entity, then source), defaults from this module.
    """
    entity = _entity_of(table)
    if entity is None:
        return []
    max_rate, volume = _delivery_settings(entity)
    batch = batch or delivery_window(settings, entity)
    with psycopg.connect(settings.url("helhed")) as conn:
        if one_row(conn.execute("select to_regclass('audit.delivery_files')"))[0] is None:
            deliveries, files, accepted = list[_Delivery](), list[tuple](), set[int]()
        else:
            deliveries, files, accepted = _read_deliveries(conn, entity.id, batch)
    return [*_volume_outcomes(schema, table, entity.id, volume, deliveries, logical_date),
            *_file_outcomes(schema, table, entity.id, max_rate, files, accepted)]


def accept_file(settings: Settings, file_id: int, reason: str, accepted_by: str) -> dict[str, Any]:
    """Accept a loaded file's quarantine rate, so the next gate lets its good rows through.

    For a file whose share of quarantined rows is above the threshold but whose loaded rows
    should be published anyway (the source cannot resend it soon); the reason is kept in
    ``audit.accepted_files``. Its quarantined rows stay in ``landing.quarantine``.
    """
    if not reason.strip():
        raise ValueError("give a reason for accepting the file")
    with psycopg.connect(settings.url("helhed")) as conn, conn.transaction():
        row = conn.execute("select file_name, entity, status, rows_delivered, rows_quarantined "
                           "from audit.delivery_files where file_id = %s", (file_id,)).fetchone()
        if row is None:
            raise ValueError(f"no delivered file with file id {file_id} in audit.delivery_files")
        if row[2] != "loaded":
            raise ValueError(f"file id {file_id} ({redact(row[0])}) was rejected, not loaded: nothing to accept")
        conn.execute(ACCEPTED_FILES_DDL)
        conn.execute("insert into audit.accepted_files (file_id, reason, accepted_by) values (%s, %s, %s) "
                     "on conflict (file_id) do update set reason = excluded.reason, accepted_by = excluded.accepted_by, "
                     "accepted_at = now()", (file_id, redact(reason), accepted_by))
    return {"file_id": file_id, "file": redact(row[0]), "entity": row[1], "delivered": row[3], "quarantined": row[4]}




# --------------------------------------------------------------------------- drift and coverage


def _check_severity(entity_id: str, what: str, severity: object) -> str:
    if severity not in SEVERITIES:
        raise ValueError(f"{entity_id}: {what}.severity must be one of {SEVERITIES}, not {severity!r}")
    return str(severity)


def drift_settings(entity) -> dict[str, Any]:
    """The entity's ``drift:`` over the specification's defaults; its columns must be declared."""
    from helhed.parsing import entity_rules

    rules = entity_rules(entity)
    unknown = set(rules.drift) - set(DEFAULT_DRIFT)
    if unknown:
        raise ValueError(f"{entity.id}: unknown drift setting(s) {sorted(unknown)}; known: {sorted(DEFAULT_DRIFT)}")
    drift = {**gate_defaults()["drift"], **rules.drift}
    columns = set(entity.staging_columns)
    missing = [c for c in drift["columns"] if c not in columns]
    if missing:
        raise ValueError(f"{entity.id}: drift.columns {missing} are not among its columns {sorted(columns)}")
    _check_severity(entity.id, "drift", drift["severity"])
    return drift


def coverage_settings(entity) -> list[dict[str, Any]]:
    """The entity's ``coverage:`` rules over the specification's defaults; every entity and column named must be declared."""
    from helhed.parsing import entity_rules
    from helhed.sources import get_entity

    out = []
    for i, rule in enumerate(entity_rules(entity).coverage):
        merged = {**gate_defaults()["coverage"], **rule}
        unknown = set(merged) - {*DEFAULT_COVERAGE, "column", "in", "as"}
        if unknown or "column" not in merged or "in" not in merged:
            raise ValueError(f"{entity.id}: coverage #{i} needs 'column' and 'in' (<source>.<entity>), "
                             f"optionally 'as', 'max_missing_rate', 'severity'; unknown: {sorted(unknown)}")
        try:
            other = get_entity(str(merged["in"]))
        except KeyError:
            raise ValueError(f"{entity.id}: coverage #{i} refers to undeclared entity {merged['in']!r}") from None
        target = merged.get("as", merged["column"])
        if merged["column"] not in entity.staging_columns or target not in other.staging_columns:
            raise ValueError(f"{entity.id}: coverage #{i}: {merged['column']!r} is not a column of {entity.id} "
                             f"or {target!r} not one of {other.id}")
        _check_severity(entity.id, "coverage", merged["severity"])
        out.append({**merged, "as": target, "table": other.table})
    return out


def _new_rows_condition(conn: psycopg.Connection, schema: str, table: str, batch: Batch | None) -> sql.Composable:
    """SQL over alias ``t``: the row is one of tonight's (the batch's), or, when the gate covers the
    whole table, one of its newest delivery (so drift compares the newest delivery with the ones before)."""
    if batch is not None and batch.after_file_id > 0:
        # as batch_query: a row is new when the newest file of its name is, or no file explains it
        return sql.SQL(
            "(t.source_file in (select file_name from audit.delivery_files where source = {source} "
            "group by file_name having max(file_id) > {after}) or t.source_file not in "
            "(select file_name from audit.delivery_files where source = {source}))"
        ).format(source=sql.Literal(batch.source), after=sql.Literal(batch.after_file_id))
    return sql.SQL("t.delivery_date = (select max(delivery_date) from {table})").format(
        table=sql.Identifier(schema, table))


def _total_variation(current: dict[str, int], previous: dict[str, int]) -> float:
    """Half the sum of absolute differences of two distributions' shares: 0 same, 1 disjoint."""
    n_cur, n_prev = sum(current.values()), sum(previous.values())
    values = set(current) | set(previous)
    return 0.5 * sum(abs(current.get(v, 0) / n_cur - previous.get(v, 0) / n_prev) for v in values)


def drift_checks(settings: Settings, entity, schema: str, table: str,
                 batch: Batch | None) -> list[ExpectationOutcome]:
    """``expect_column_distribution_to_be_near_history``: for each ``drift.columns`` column, the
    shares of its values in tonight's rows against the rows of the ``history`` deliveries before
    (nulls count as a value). Fewer than ``min_rows`` rows on either side: not judged (passes)."""
    drift = drift_settings(entity)
    outcomes = []
    with psycopg.connect(settings.url("helhed")) as conn:
        new = _new_rows_condition(conn, schema, table, batch)
        for column in drift["columns"]:
            rows = conn.execute(sql.SQL(
                "with marked as (select coalesce(t.{col}::text, '(tom)') as value, t.delivery_date, {new} as is_new "
                "from {table} as t), "
                "previous_days as (select distinct delivery_date from marked where not is_new "
                "and delivery_date <= (select coalesce(min(delivery_date), 'infinity') from marked where is_new) "
                "order by delivery_date desc limit {history}) "
                "select value, count(*) filter (where is_new), count(*) filter (where not is_new and delivery_date in "
                "(select delivery_date from previous_days)) from marked group by value"
            ).format(col=sql.Identifier(column), new=new, table=sql.Identifier(schema, table),
                     history=sql.Literal(int(drift["history"])))).fetchall()
            current = {v: int(n) for v, n, _ in rows if n}
            previous = {v: int(p) for v, _, p in rows if p}
            judged = sum(current.values()) >= drift["min_rows"] and sum(previous.values()) >= drift["min_rows"]
            distance = round(_total_variation(current, previous), 4) if judged else None
            success = distance is None or distance <= float(drift["max_distance"])
            top = sorted(set(current) | set(previous), key=lambda v: -abs(
                current.get(v, 0) / max(sum(current.values()), 1) - previous.get(v, 0) / max(sum(previous.values()), 1)))[:3]
            observed = {"distance": distance, "rows": sum(current.values()), "previous_rows": sum(previous.values()),
                        "judged": judged, "largest_changes": [
                            {"value": v, "share": round(current.get(v, 0) / max(sum(current.values()), 1), 4),
                             "previous_share": round(previous.get(v, 0) / max(sum(previous.values()), 1), 4)} for v in top]}
            failure = (f"the distribution of {column} in {observed['rows']} new rows is {distance} (total variation) "
                       f"from the {observed['previous_rows']} rows of the last {drift['history']} deliveries, above "
                       f"{drift['max_distance']}; largest changes: "
                       + ", ".join(f"{c['value']} {c['previous_share']:.1%} -> {c['share']:.1%}"
                                   for c in observed["largest_changes"]))
            outcome = _delivery_outcome(
                schema, table, "expect_column_distribution_to_be_near_history", drift["severity"], success,
                {"entity": entity.id, "column": column, "history": drift["history"],
                 "max_distance": drift["max_distance"], "min_rows": drift["min_rows"]}, observed,
                f"shares of {column} in tonight's rows against the last {drift['history']} deliveries", failure)
            outcomes.append(replace(outcome, column=column))
    return outcomes


def coverage_checks(settings: Settings, entity, schema: str, table: str,
                    batch: Batch | None) -> list[ExpectationOutcome]:
    """``expect_column_values_to_be_in_other_source``: tonight's rows whose ``column`` has no match
    in another source's staging table (``coverage:``), e.g. a benefit period whose person is not in
    the CPR extract. The other table is read in the same schema (tests validate copies)."""
    outcomes = []
    with psycopg.connect(settings.url("helhed")) as conn:
        new = _new_rows_condition(conn, schema, table, batch) if batch is not None and batch.after_file_id > 0 \
            else sql.SQL("true")
        for rule in coverage_settings(entity):
            other = sql.Identifier(schema, rule["table"])
            if one_row(conn.execute("select to_regclass(%s)", [other.as_string(conn)]))[0] is None:
                rows, missing = 0, 0
            else:
                rows, missing = one_row(conn.execute(sql.SQL(
                    "select count(*), count(*) filter (where not exists (select 1 from {other} as o "
                    "where o.{target} = t.{col})) from {table} as t where {new} and t.{col} is not null"
                ).format(other=other, target=sql.Identifier(rule["as"]), col=sql.Identifier(rule["column"]),
                         table=sql.Identifier(schema, table), new=new)))
            rate = missing / rows if rows else 0.0
            success = rate <= float(rule["max_missing_rate"])
            outcome = _delivery_outcome(
                schema, table, "expect_column_values_to_be_in_other_source", rule["severity"], success,
                {"entity": entity.id, "column": rule["column"], "in": rule["in"], "as": rule["as"],
                 "max_missing_rate": rule["max_missing_rate"]},
                {"rows": int(rows), "missing": int(missing), "missing_rate": round(rate, 4)},
                f"every {rule['column']} of tonight's rows is in {rule['in']}",
                f"{missing} of {rows} rows ({rate:.2%}) have a {rule['column']} that is not in {rule['in']}"
                f" ({rule['as']}), above {rule['max_missing_rate']:g}")
            outcomes.append(replace(outcome, column=rule["column"]))
    return outcomes


def contract_checks(settings: Settings, entity, schema: str, table: str) -> list[ExpectationOutcome]:
    """``expect_table_to_match_specification``: the table's columns, types and nullability are the
    specification's (:data:`helhed.sources.SQL_TYPES`; required columns, ``delivery_date`` and
    ``source_file`` not null). Generated from the specification, so the suites need not repeat
    a column list or one type check per column (the loader's DDL creates the table this way)."""
    from helhed.sources import SQL_TYPES

    declared = {c.staging_name: (SQL_TYPES[c.type], c.required) for c in entity.columns}
    declared.update({"delivery_date": ("date", True), "source_file": ("text", True)})
    with psycopg.connect(settings.url("helhed")) as conn:
        present = {name: (kind, not nullable) for name, kind, nullable in conn.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod), not a.attnotnull from pg_attribute a "
            "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped",
            [sql.Identifier(schema, table).as_string(conn)]).fetchall()}
    problems = []
    for name, (kind, required) in declared.items():
        if name not in present:
            problems.append(f"column {name} is missing")
        elif present[name][0] != kind:
            problems.append(f"column {name} is {present[name][0]}, the specification says {kind}")
        elif required and not present[name][1]:
            problems.append(f"column {name} allows nulls, the specification requires a value")
    problems.extend(f"column {name} is not in the specification" for name in present if name not in declared)
    return [_delivery_outcome(
        schema, table, "expect_table_to_match_specification", "critical", not problems,
        {"entity": entity.id, "columns": {k: v[0] for k, v in declared.items()}},
        {"problems": problems}, f"columns, types and required values of {entity.id} as config/sources.yaml declares them",
        "; ".join(problems))]
