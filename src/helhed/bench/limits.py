"""The machine's limits the bench compares against: a raw COPY of the same files (the load
limit) and one hand-written statement for the person-month aggregate (the transform limit)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from helhed.bench.spec import FACT_MODEL, LIMIT_SCHEMA, MB
from helhed.config import Settings
from helhed.database import one_row


def copy_limit(s: Settings, entities, up_to: dt.date) -> dict[str, Any]:
    """COPY every raw file loaded up to ``up_to`` into unlogged text tables: the load limit."""
    from helhed.loading import delivery_files

    total_rows = total_bytes = files = 0
    per_entity: dict[str, dict[str, Any]] = {}
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(LIMIT_SCHEMA)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(LIMIT_SCHEMA)))
        for entity in entities:
            table = sql.Identifier(LIMIT_SCHEMA, f"copy_{entity.table}")
            columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c.name)) for c in entity.columns)
            conn.execute(sql.SQL("create unlogged table {} ({})").format(table, columns))
        started = time.perf_counter()
        for entity in entities:
            e_started = time.perf_counter()
            table = sql.Identifier(LIMIT_SCHEMA, f"copy_{entity.table}")
            e_rows = e_bytes = 0
            for _, path in delivery_files(s, entity, up_to):
                data = path.read_bytes()
                text = data.decode(entity.encoding)
                stmt = sql.SQL("copy {} from stdin (format csv, delimiter {}, header true)").format(
                    table, sql.Literal(entity.delimiter))
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy(stmt) as copy:
                        step = 8 * MB
                        for i in range(0, len(text), step):
                            copy.write(text[i:i + step])
                    e_rows += cur.rowcount
                e_bytes += len(data)
                files += 1
            per_entity[entity.id] = {"rows": e_rows, "bytes": e_bytes,
                                     "seconds": round(time.perf_counter() - e_started, 3)}
            total_rows += e_rows
            total_bytes += e_bytes
        seconds = time.perf_counter() - started
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(LIMIT_SCHEMA)))
    return {"seconds": round(seconds, 3), "rows": total_rows, "bytes": total_bytes, "files": files,
            "entities": per_entity}


def transform_statement(benefit_codes: list[str], first_month: dt.date, as_of: dt.date) -> sql.Composed:
    """One statement: person x month benefit days, full-time share and share per benefit group."""
    per_group = sql.SQL("").join(
        sql.SQL(",\n    round(coalesce(sum(d.days) filter (where p.benefit_code = {code}), 0)::numeric"
                " / greatest(sum(d.days), max(d.days_in_month)), 4) as {col}").format(
            code=sql.Literal(code), col=sql.Identifier(f"ftp_{code}"))
        for code in benefit_codes
    )
    return sql.SQL("""
create unlogged table {schema}.person_month as
select
    p.person_key,
    m.month::date                                                        as month,
    max(d.days_in_month)                                                 as days_in_month,
    least(sum(d.days), max(d.days_in_month))::integer                    as benefit_days,
    round(least(sum(d.days)::numeric / max(d.days_in_month), 1), 4)      as full_time_person_share{per_group}
from staging.ydelser__benefit_periods p
cross join lateral generate_series(
    date_trunc('month', greatest(p.start_date, {first_month})),
    least(coalesce(p.end_date, {as_of}), {as_of}),
    interval '1 month') as m(month)
cross join lateral (
    select (least(coalesce(p.end_date, {as_of}), {as_of}, (m.month + interval '1 month - 1 day')::date)
            - greatest(p.start_date, m.month::date) + 1)                 as days,
           ((m.month + interval '1 month')::date - m.month::date)        as days_in_month
) d
where p.start_date <= {as_of}
  and coalesce(p.end_date, {as_of}) >= {first_month}
group by p.person_key, m.month
""").format(schema=sql.Identifier(LIMIT_SCHEMA), per_group=per_group, first_month=sql.Literal(first_month),
            as_of=sql.Literal(as_of))


def transform_limit(s: Settings, months_of_history: int = 120) -> dict[str, Any]:
    """Build the person-month benefit aggregate with one statement into an unlogged table."""
    with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
        as_of, first_start = one_row(conn.execute(
            "select max(delivery_date), min(start_date) from staging.ydelser__benefit_periods"))
        if as_of is None:
            return {"seconds": 0.0, "rows": 0, "statement": ""}
        as_of_month = as_of.replace(day=1)
        back = as_of_month.year * 12 + as_of_month.month - 1 - (months_of_history - 1)
        first_month = max(first_start.replace(day=1), dt.date(back // 12, back % 12 + 1, 1))
        # The same window as the warehouse: int_months also starts at the first month of the
        # flow data (ledger, co-financing), so compare like with like when it has been built.
        if one_row(conn.execute("select to_regclass('build_int.int_months')"))[0] is not None:
            warehouse_first = one_row(conn.execute("select min(month) from build_int.int_months"))[0]
            if warehouse_first is not None:
                first_month = max(first_month, warehouse_first)
        codes = [r[0] for r in conn.execute(
            "select distinct benefit_code from staging.ydelser__benefit_periods order by 1")]
        statement = transform_statement(codes, first_month, as_of)
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(LIMIT_SCHEMA)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(LIMIT_SCHEMA)))
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(statement)
            rows = cur.rowcount
        seconds = time.perf_counter() - started
        text = statement.as_string(conn)
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(LIMIT_SCHEMA)))
    return {"seconds": round(seconds, 3), "rows": rows, "statement": text.strip()}


def explain_fact(s: Settings, target: Path, analyze: bool) -> list[str]:
    """The plan of fct_person_month's compiled select (EXPLAIN ANALYZE when ``analyze``)."""
    compiled = list((target / "compiled").rglob(f"{FACT_MODEL}.sql"))
    if not compiled:
        return []
    query = compiled[0].read_text()
    options = "analyze, buffers, costs off" if analyze else "costs on"
    try:
        with psycopg.connect(s.url("helhed"), autocommit=True) as conn:
            conn.execute("set search_path = build_int, build_restricted, build_stg, build_seeds, build, public")
            return [r[0] for r in conn.execute(f"explain ({options}) {query}")]
    except psycopg.Error as exc:
        return [f"EXPLAIN failed: {exc}"]


