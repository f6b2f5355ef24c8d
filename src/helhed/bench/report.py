"""The bench's report: ``benchmarks.md`` from the numbers of ``benchmarks.json``.

Notes on missed targets are written from the run's own numbers; the growth table fits, per
phase, ``seconds = a * residents ** b`` over the sizes run (least squares on the logs), so a
reader sees which phase dominates at 6 million residents.
"""

from __future__ import annotations

import math
from typing import Any

from helhed.bench.phases import _ratio
from helhed.bench.spec import FACT_MODEL, MB, PHASE_LABELS, PHASES, TARGET_SIZE, TARGETS


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _fmt_n(n: int | float | None) -> str:
    return "–" if n is None else f"{n:,.0f}"


def _fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:,.1f} ms" if ms < 10 else f"{ms:,.0f} ms"


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def notes_for(run: dict[str, Any]) -> list[str]:
    """Why each missed target was missed and what would fix it, from the run's own numbers."""
    notes: list[str] = []
    t, ph, lim = run["targets"], run["phases"], run["limits"]
    load = ph["load"]
    if not t["load_vs_copy"]["met"]:
        ents = sorted(load["entities"].items(), key=lambda kv: -kv[1]["seconds"])[:3]
        worst = ", ".join(f"`{k}` {_fmt_s(v['seconds'])} for {_fmt_n(v['rows'])} rows "
                          f"(COPY {_fmt_s(lim['copy']['entities'].get(k, {}).get('seconds'))})" for k, v in ents)
        notes.append(
            f"**Load {t['load_vs_copy']['value']}x raw COPY** ({_fmt_n(load.get('rows_per_second'))} rows/s against "
            f"{_fmt_n(lim['copy'].get('rows_per_second'))} rows/s). Slowest entities: {worst}. "
            + (f"Over the whole load the loader used {_fmt_s(load['cpu_seconds']['python'])} of CPU and PostgreSQL "
               f"{_fmt_s(load['cpu_seconds']['postgres'])}, against {_fmt_s(lim['copy']['cpu_seconds'].get('total'))} "
               f"in all for the raw COPY ({run['ratios'].get('load_vs_copy_cpu')}x in CPU time): the work, not the "
               "machine, is the gap. "
               if load.get("cpu_seconds") and lim["copy"].get("cpu_seconds") is not None else
               f"Over the whole load the loader used {_fmt_s(load['cpu_seconds']['python'])} of CPU and PostgreSQL "
               f"{_fmt_s(load['cpu_seconds']['postgres'])}. " if load.get("cpu_seconds") else "")
            + "The loader is set-based (docs/ingestion.md): it COPYs each file into a temp table of text "
            "columns, checks and types it in SQL (`helhed.rowsql`), pseudonymises each distinct CPR once in Python "
            "(the key never reaches the server) and writes `landing` and `staging` with one statement each, in one "
            "transaction per file. The raw COPY fills one unlogged table without an index; the load fills two "
            "logged tables with primary keys (the staging key holds a 64-character pseudonym), so those two "
            "inserts alone are many times the limit. Fix: in order of gain, load independent entities in "
            "parallel (the DAG already has one task per entity; the bench loads them one after another), key "
            "staging on a 64-bit integer derived from the pseudonym instead of its hex text, and write the "
            "landing copy as the COPY itself (COPY straight into `landing`, then delete the few bad rows).")
    if t["fact_vs_statement"]["value"] is None:
        notes.append(f"**`{FACT_MODEL}` was not built** in this run (see the dbt problems above), so its ratio "
                     "to the single statement is not measured.")
    elif not t["fact_vs_statement"]["met"]:
        fact = ph["dbt_full"].get("fact", {})
        stmt = lim["transform"]
        plan = stmt.get("fact_plan") or []
        select_seconds = _execution_seconds(plan)
        per_row = (_ratio(fact["seconds"] / fact["rows"], stmt["seconds"] / stmt["rows"])
                   if fact.get("rows") and stmt.get("rows") else None)
        text = (f"**`{FACT_MODEL}` {t['fact_vs_statement']['value']}x the single statement** "
                f"({_fmt_s(fact.get('seconds'))} against {_fmt_s(stmt['seconds'])}). ")
        same_grain = fact.get("rows") == stmt.get("rows")
        if same_grain:
            text += (f"Same grain: both have {_fmt_n(stmt['rows'])} person-months with a benefit day; the model "
                     f"({fact.get('materialized') or '?'}, {fact.get('columns') or '?'} columns) adds the primary "
                     "benefit group and the last visitation category. ")
        else:
            text += (f"Not the same work: the model ({fact.get('materialized') or '?'}, {_fmt_n(fact.get('rows'))} "
                     f"rows, {fact.get('columns') or '?'} columns) covers more person-months than the "
                     f"{_fmt_n(stmt['rows'])} with a benefit day; per row it costs {per_row}x the statement. ")
        if select_seconds is not None:
            text += (f"Its select alone runs in {_fmt_s(select_seconds)} (EXPLAIN ANALYZE after the night, plan in "
                     f"the JSON); the other {_fmt_s(max(0.0, fact['seconds'] - select_seconds))} go to writing the "
                     "rows into a WAL-logged table (the statement writes an unlogged one), building the "
                     "contract's primary key and dbt's DDL around it (comments, swap of the old table). ")
        chain = fact.get("chain", [])
        text += (f"And the model only finishes the job: with the {len(chain) - 1} models upstream of it the "
                 f"person-month takes {_fmt_s(fact.get('chain_seconds'))} "
                 f"({_ratio(fact.get('chain_seconds'), stmt['seconds'])}x the statement), slowest "
                 + ", ".join(f"`{c['model']}` {_fmt_s(c['seconds'])}" for c in chain[:4]) + ". ")
        plan_text = "\n".join(plan)
        passes = plan_text.count("Sort Key") + plan_text.count("HashAggregate") + plan_text.count("GroupAggregate")
        if passes:
            text += (f"Its plan sorts or hashes the person-month rows {passes} times (separate `group by` and "
                     "`distinct on` passes joined back together). ")
        if fact.get("materialized") == "incremental":
            nightly = (ph["incremental"].get("fact") or {})
            text += (f"This ratio is the full build's; the fact is incremental by month, so a night recomputes "
                     f"the batch months only ({_fmt_s(nightly.get('seconds'))} in the incremental night, "
                     f"{_fmt_s(nightly.get('chain_seconds'))} with its upstream models). Fix: for the full build, "
                     "fewer passes (the flags computed inside int_person_months, one `group by person, month` over "
                     "the clipped periods) and an unlogged staging of the rows before the contract's primary key.")
        elif (ph["dbt_full"].get("materializations") or {}).get("incremental"):
            text += ("Fix: avoid the nightly full copy of the person-month — keep the fact incremental in a schema "
                     "the publish step does not swap and publish a view over it — and compute the flags inside the "
                     "incremental models, so each night rebuilds the look-back window only.")
        else:
            text += ("Fix: one pass, as the statement does — compute the days per group, the primary group and "
                     "the last visitation category in a single `group by person_key, month` over the periods "
                     "(`array_agg(... order by ...)[1]` / `max() filter`) instead of materialising the clipped "
                     "periods and aggregating them three times; then make the chain incremental by month.")
        notes.append(text)
    if not t["dbt_full_seconds"]["met"]:
        full = ph["dbt_full"]
        slow = full.get("slowest", [])[:5]
        kinds = full.get("nodes_by_type", {})
        cpu = full.get("cpu_seconds") or {}
        notes.append(
            f"**dbt full build {_fmt_s(full['seconds'])}** (target {_fmt_s(TARGETS['dbt_full_seconds'])}): "
            + ", ".join(f"{v['count']} {k}s {_fmt_s(v['seconds'])}" for k, v in kinds.items() if v["count"])
            + " (summed node times; up to 4 threads run at once). "
            + (f"CPU: dbt's own Python {_fmt_s(cpu.get('children'))}, PostgreSQL {_fmt_s(cpu.get('postgres'))}. "
               if cpu else "")
            + "Slowest nodes: " + ", ".join(f"`{n['node'].split('.')[-1]}` {_fmt_s(n['seconds'])}" for n in slow)
            + ". Fix: fewer full passes over the person-month tables (see the fact note), data tests on the "
              "largest tables folded into one query per table (`unique` + `not_null` + ranges), and "
              "`DBT_THREADS=2` on two cores so heavy models do not thrash each other.")
    if not t["incremental_seconds"]["met"]:
        inc = ph["incremental"]
        slow = inc.get("slowest", [])[:5]
        kinds = ph["dbt_full"].get("materializations") or {}
        batches = sorted({b.split("incremental batch from ")[-1].split(" ")[0]
                          for b in inc.get("incremental_batches", []) if "incremental batch from " in b})
        rebuilt = sum("rebuilt in full" in b for b in inc.get("incremental_batches", []))
        text = (f"**Incremental night {_fmt_s(inc.get('night_seconds'))}** (target "
                f"{_fmt_s(TARGETS['incremental_seconds'])}) for {_fmt_n(inc['rows'])} delivered rows: load "
                f"{_fmt_s(inc.get('load_seconds'))}, staging gates {_fmt_s(inc.get('gates_seconds'))}, dbt build "
                f"{_fmt_s(inc.get('dbt_build_seconds'))} (the full build's dbt build took "
                f"{_fmt_s(ph['dbt_full'].get('build_seconds'))}), mart gates and publish "
                f"{_fmt_s(ph['publish']['seconds'])}. Slowest nodes: "
                + ", ".join(f"`{_node_name(n['node'])}` {_fmt_s(n['seconds'])}" for n in slow) + ". ")
        if kinds.get("incremental"):
            text += ((f"The incremental models recomputed from {', '.join(batches)}; " if batches else "")
                     + (f"{rebuilt} of them covered at least half the months and were rebuilt in full (create "
                        "and swap, `incremental_rebuild_share`) instead of deleting and re-inserting most rows; "
                        if rebuilt else "")
                     + f"{kinds.get('table', 0)} models are still `table`s, rebuilt in full every night. ")
        else:
            text += (f"No model is incremental ({', '.join(f'{v} {k}' for k, v in kinds.items())}), so the night "
                     "redoes the full build whatever arrived; every data test re-reads its whole table, and "
                     "every staging gate its whole staging table. ")
        if batches and batches[0] < ph["incremental"]["delivery_date"][:4] + "-01-01":
            text += (f"A batch starting {batches[0]} recomputes nearly every month: one delivered correction whose "
                     "event lies that far back (a CPR relation of a child born then, a back-dated end) moves the "
                     "batch start for every person, since the models are incremental by month. Fix: the change "
                     "detection already watches only the sources each model reads (`incremental_batch_start"
                     "(entities=...)`: the ledger and cost chain), so what is left is a finer key than the month: "
                     "a second, person-scoped pass (and posting-scoped for the ledger) that recomputes the old "
                     "months of the changed persons only (delete+insert on person and month) instead of every "
                     "person from the earliest changed month. Two inputs are month-wide and need their months "
                     "recomputed for everyone: the cost attribution (a function-month's ledger amount shared out "
                     "by imputed cost; the nightly reversals of CPR-posted amounts change direct cost only, so "
                     "they stay person-scoped) and the cost rank (trailing 12-month cost ranked within the month), "
                     "so the rank and the cost target groups would move out of the incremental chain into a step "
                     "that re-ranks only the months whose costs changed. ")
        text += ("Then the fixed cost per night: the `table` models rebuilt in full, about 600 dbt nodes at a "
                 "fraction of a second each, the evaluation step and the mart gates over every public mart.")
        notes.append(text)
    airflow = run.get("airflow") or {}
    if "airflow_vs_bare" in t and not t["airflow_vs_bare"]["met"]:
        notes.append(
            f"**One night through Airflow {_fmt_s(airflow.get('seconds'))}** against "
            f"{_fmt_s(airflow.get('bare_night_seconds'))} for the same steps called directly "
            f"({t['airflow_vs_bare']['value']}x; {airflow.get('how')}). " + _airflow_breakdown(airflow) +
            "The dbt build is one task per layer and at most `max_active_tasks` tasks run at once "
            "(`HELHED_MAX_ACTIVE_TASKS`, by default the cores); every task still costs a process start, a parse "
            "of the DAG file, an import of Airflow and helhed and round trips to the API server, whatever its "
            "work, and each dbt layer parses the project again. Fix: the per-entity load and gate tasks merged "
            "per source (half the tasks), and the dbt layers as one `dbt build` task (or sharing one "
            "partial-parse cache) where the layer split costs more than it shows.")
    elif airflow.get("error"):
        notes.append(f"**The Airflow night did not complete** ({airflow['error'][:300]}); its ratio is not measured.")
    if "superset_p95_ms" in t and not t["superset_p95_ms"]["met"]:
        notes.append(superset_note(run["superset"]))
    if not t["full_night_seconds"]["met"]:
        notes.append(
            f"**Whole night from scratch {_fmt_s(t['full_night_seconds']['value'])}** (target "
            f"{_fmt_s(TARGETS['full_night_seconds'])}): load {_fmt_s(ph['load']['seconds'])}, gates "
            f"{_fmt_s(ph['gates']['seconds'])}, dbt full build {_fmt_s(ph['dbt_full']['seconds'])}, evaluation "
            f"{_fmt_s(ph['evaluation']['seconds'])}, publish "
            f"{_fmt_s(ph['publish'].get('after_full_build', {}).get('seconds'))}. Fix: the dbt and load notes.")
    load_mb = ph["load"]["peak_memory_mb"]["python_mb"]
    if load_mb > 1024:
        biggest: tuple[Any, dict[str, Any]] = max(ph["load"].get("entities", {}).items(), key=lambda kv: kv[1]["rows"], default=(None, {}))
        notes.append(
            f"**Loader memory {_fmt_n(load_mb)} MB** (no target, but it grows with the largest file: "
            f"`{biggest[0]}`, {_fmt_n(biggest[1].get('rows'))} rows). `load_file` keeps the parsed rows, the "
            "typed rows and the landing rows of a whole file in Python lists at once. Fix: stream the file in "
            "chunks of e.g. 50,000 lines through the same transaction (keys seen so far in a set), or let "
            "PostgreSQL do the parsing as in the load fix above.")
    return notes


def _node_name(unique_id: str) -> str:
    """``test.helhed.unique_x.3e61796a6c`` -> ``unique_x``; ``model.helhed.m`` -> ``m``."""
    parts = unique_id.split(".")
    return parts[2] if parts[0] in ("test", "unit_test") and len(parts) >= 4 else parts[-1]


def _execution_seconds(plan: list[str]) -> float | None:
    for line in plan:
        if line.strip().startswith("Execution Time:"):
            try:
                return float(line.split(":")[1].split()[0]) / 1000
            except (IndexError, ValueError):
                return None
    return None


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m helhed.bench {report['command_args']}`) on "
        f"{report['date']}; every number is in [`benchmarks.json`](benchmarks.json). Re-running overwrites both.",
        "",
        "Run it: `make bench` (20,000, 100,000 and 360,000 residents, 6 years), or `.venv/bin/python -m helhed.bench "
        "--sizes 20000,100000 --years 6 [--out docs/] [--keep]`; `--help` lists the options. The code is "
        "`src/helhed/bench/` (`phases.py` runs the nightly's own steps from `helhed.pipeline`, `measure.py` the "
        "instruments, `limits.py` the machine's limits, `report.py` this page); `tests/test_bench.py` runs it at "
        "1,500 residents x 2 years.",
        "",
        "## Machine",
        "",
        f"- {m['cores']} cores, {m['memory_gb']} GB memory, CPU: {m['cpu_model']}",
        f"- {m['os']}, Python {m['python']}, PostgreSQL {report.get('postgres_version', '?')} (embedded, "
        + ", ".join(f"{k} {v}" for k, v in (report.get('postgres_settings') or {}).items()) + ")",
        "- " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"- Bench wall time: {_fmt_s(report['wall_seconds'])}; repository at commit "
        f"`{report.get('git', {}).get('commit', '?')}` with {report.get('git', {}).get('uncommitted_files', 0)} "
        f"uncommitted file(s), {report.get('git', {}).get('uncommitted_in_dbt_project', 0)} of them in "
        "`dbt_project/` (dbt ran on a copy of the project taken when the bench started)",
        "",
        "## What is measured",
        "",
        "Per size, on a private embedded PostgreSQL in a temporary directory (the nightly's order; the "
        "full build is published once before the incremental night, as in production):",
        "",
    ]
    for name in PHASES:
        lines.append(f"- `{name}`: {PHASE_LABELS[name]}")
    lines += [
        "",
        "Peak memory is the most of any moment in the phase: *Python* is this process (VmHWM; the "
        "generator, the loader and Great Expectations run in it), *children* the dbt subprocess, "
        "*PostgreSQL* the server's processes (private RSS summed, shared memory counted once); "
        "children and PostgreSQL are sampled every 0.2 s. *CPU* is the CPU time the phase used in this "
        "process, in dbt and in the PostgreSQL server (its backends included): unlike wall time it does not "
        "grow when other work shares the machine, so a wall time far above CPU / 2 cores means the phase "
        "waited (for I/O or for other people's processes; see the load averages).",
        "",
        "Limits: *raw COPY* copies the same files the load reads (decoded per source encoding, CSV, "
        "all columns as text) into unlogged tables; *one statement* builds person x month benefit "
        "days, full-time share and share per benefit group from `staging.ydelser__benefit_periods` "
        "with `generate_series` over months into an unlogged table.",
        "",
    ]
    runs = report["runs"]
    if any(r.get("superset") for r in runs):
        lines += ["Superset (`--superset <sizes>`, `helhed.bench.charts`): after the publish, Superset runs from "
                  "its own venv against the same PostgreSQL, the dashboards are provisioned as code, and every chart "
                  "of every dashboard is asked for with `force=true` (the data cache bypassed) by the admin, a "
                  "leader (`leder`) and a department (`forvaltning_beskaeftigelse`, whose queries carry the "
                  "row-level-security filter); p50/p95/max are over every timed request.", ""]
    if runs:
        lines += ["## Summary: targets (binding at 360,000 residents)", ""]
        header = "| target | " + " | ".join(f"{r['residents']:,}" for r in runs) + " |"
        lines += [header, "|---|" + "---:|" * len(runs)]
        names = {
            "dbt_full_seconds": "dbt full build < 10 min",
            "full_night_seconds": "whole night from scratch < 15 min (load, gates, full build, evaluation, publish)",
            "incremental_seconds": "incremental night < 2 min (load, gates, dbt build, evaluation, mart gates, publish)",
            "load_vs_copy": "load ≤ 2x raw COPY",
            "fact_vs_statement": f"`{FACT_MODEL}` ≤ 3x one statement",
            "airflow_vs_bare": "one night through Airflow ≤ 1.5x the bare night",
            "superset_p95_ms": "Superset chart data p95 < 300 ms (cache off, every dashboard chart)",
        }
        for key, label in names.items():
            if not any(key in r["targets"] for r in runs):
                continue
            cells = []
            for r in runs:
                t = r["targets"].get(key)
                if t is None:
                    cells.append("not run")
                    continue
                value = _fmt_s(t["value"]) if key.endswith("seconds") else _fmt_ms(t["value"]) if key.endswith(
                    "_ms") else ("–" if t["value"] is None else f"{t['value']}x")
                cells.append(f"{value} {_mark(t['met'])}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
        if not any(r["residents"] >= TARGET_SIZE for r in runs):
            lines += [f"No run at {TARGET_SIZE:,} residents in this report; the targets are shown for the sizes run.", ""]

    for r in runs:
        ph = r["phases"]
        lines += [f"## {r['residents']:,} residents, {r['years']} years (seed {r['seed']}, end {r['end_date']})", "",
                  "| phase | wall | CPU (Python + dbt + PostgreSQL) | rows | Python MB | dbt MB | PostgreSQL MB | detail |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        details = {
            "generate": f"{ph['generate'].get('files')} files, {ph['generate'].get('bytes', 0) / MB:,.0f} MB",
            "load": f"{_fmt_n(ph['load'].get('rows_per_second'))} rows/s, "
                    f"{len(ph['load'].get('entities', {}))} entities",
            "gates": f"{len(ph['gates'].get('suites', {}))} suites; missing: "
                     + (", ".join(ph['gates'].get('skipped', [])) or "none")
                     + ("; failed or errored: " + ", ".join(ph['gates']['failed']) if ph['gates'].get('failed') else ""),
            "dbt_full": f"seed {_fmt_s(ph['dbt_full'].get('seed_seconds'))}, build "
                        f"{_fmt_s(ph['dbt_full'].get('build_seconds'))}; "
                        + ", ".join(f"{k} {v['count']} ({_fmt_s(v['seconds'])})"
                                    for k, v in ph['dbt_full'].get('nodes_by_type', {}).items()),
            "evaluation": _evaluation_detail(ph["evaluation"]),
            "incremental": f"load {_fmt_s(ph['incremental'].get('load_seconds'))}, gates "
                           f"{_fmt_s(ph['incremental'].get('gates_seconds'))}, dbt build "
                           f"{_fmt_s(ph['incremental'].get('dbt_build_seconds'))}; with publish "
                           f"{_fmt_s(ph['incremental'].get('night_seconds'))}",
            "publish": f"mart gates {_fmt_s(ph['publish'].get('mart_gates_seconds'))}, swap "
                       f"{_fmt_s(ph['publish'].get('swap_seconds'))}, {ph['publish'].get('tables')} tables",
        }
        for name in PHASES:
            p = ph[name]
            mem = p["peak_memory_mb"]
            cpu = p.get("cpu_seconds") or {}
            cpu_text = (f"{_fmt_s(cpu['total'])} ({cpu['python']:.0f} + {cpu['children']:.0f} + {cpu['postgres']:.0f} s)"
                        if cpu else "–")
            lines.append(f"| {PHASE_LABELS[name]} | {_fmt_s(p['seconds'])} | {cpu_text} | {_fmt_n(p['rows'])} | "
                         f"{_fmt_n(mem['python_mb'])} | {_fmt_n(mem['children_mb'])} | {_fmt_n(mem['postgres_mb'])} | "
                         f"{details[name]} |")
        lim, ratios = r["limits"], r["ratios"]
        fact = ph["dbt_full"].get("fact", {})
        lines += [
            "",
            f"Limits: raw COPY {_fmt_s(lim['copy']['seconds'])} for {_fmt_n(lim['copy']['rows'])} rows "
            f"({_fmt_n(lim['copy'].get('rows_per_second'))} rows/s) → load / COPY = **{ratios['load_vs_copy']}x**"
            + (f" (in CPU time {ratios['load_vs_copy_cpu']}x)" if ratios.get("load_vs_copy_cpu") else "") + "; "
            f"one statement {_fmt_s(lim['transform']['seconds'])} for {_fmt_n(lim['transform']['rows'])} person-months "
            f"→ `{FACT_MODEL}` ({_fmt_s(fact.get('seconds'))}, {_fmt_n(fact.get('rows'))} rows) / statement = "
            f"**{ratios['fact_vs_statement']}x** (with its upstream models {_fmt_s(fact.get('chain_seconds'))}: "
            f"{ratios['fact_chain_vs_statement']}x).",
            "",
            _airflow_line(r),
            "",
            *superset_section(r),
            f"Peak memory over all phases: Python {_fmt_n(r['peak_memory_mb']['python_mb'])} MB, dbt "
            f"{_fmt_n(r['peak_memory_mb']['children_mb'])} MB, PostgreSQL {_fmt_n(r['peak_memory_mb']['postgres_mb'])} MB "
            f"(plain RSS sum {_fmt_n(r['peak_memory_mb']['postgres_rss_sum_mb'])} MB); database size "
            f"{_fmt_n(r.get('database_mb'))} MB. Load average (1, 5, 15 min) before "
            f"{r.get('load_average_before')}, after {r.get('load_average_after')} (above ~0.5 before the run means "
            "other work shared the two cores).",
            "",
            "Load per entity:",
            "",
            "| entity | files | rows | quarantined | load | raw COPY | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for eid, e in ph["load"].get("entities", {}).items():
            c = lim["copy"]["entities"].get(eid, {})
            lines.append(f"| `{eid}` | {e['files']} | {_fmt_n(e['rows'])} | {_fmt_n(e['quarantined'])} | "
                         f"{_fmt_s(e['seconds'])} | {_fmt_s(c.get('seconds'))} | "
                         f"{_ratio(e['seconds'], c.get('seconds')) or '–'} |")
        lines += ["", "Slowest dbt nodes (full build):", "", "| node | seconds | rows |", "|---|---:|---:|"]
        for n in ph["dbt_full"].get("slowest", []):
            lines.append(f"| `{n['node']}` | {n['seconds']:.1f} | {_fmt_n(n['rows'])} |")
        lines += ["", "Slowest dbt nodes (incremental night):", "", "| node | seconds | rows |", "|---|---:|---:|"]
        for n in ph["incremental"].get("slowest", [])[:5]:
            lines.append(f"| `{n['node']}` | {n['seconds']:.1f} | {_fmt_n(n['rows'])} |")
        failed_gates = {**{n: g.get("error") or g["failures"] for n, g in ph["gates"].get("suites", {}).items()
                           if not g["passed"]}, **{f"{n} (night)": v for n, v in
                                                   (ph["incremental"].get("gates_failed") or {}).items()}}
        failed_gates.update({f"marts__{n}": "failed or table missing" for n, g in
                             (ph["publish"].get("mart_gates") or {}).items() if not g["passed"]})
        if failed_gates:
            lines += ["", "**Gates that did not pass** (timed all the same; the nightly would stop): "
                      + "; ".join(f"`{n}`: {str(v)[:200]}" for n, v in failed_gates.items())]
        for label, key in (("full build", "dbt_full"), ("incremental night", "incremental")):
            probs = ph[key].get("problems") or []
            skipped = (ph[key].get("statuses") or {}).get("skipped", 0)
            if probs or skipped:
                lines += ["", f"**dbt {label} was not clean** ({len(probs)} failed node(s), {skipped} skipped; "
                          "their times are missing from the totals): "
                          + "; ".join(f"`{x['node'].split('.')[-1]}` {x['status']}" for x in probs[:10])]
        notes = notes_for(r)
        lines += ["", "### Notes on missed targets", ""]
        lines += [f"- {n}" for n in notes] if notes else ["All targets met at this size."]
        lines.append("")
    lines += growth_section(runs)
    if report.get("remarks"):
        lines += ["## Remarks", ""] + [f"- {x}" for x in report["remarks"]] + [""]
    return "\n".join(lines)




def _evaluation_detail(phase: dict[str, Any]) -> str:
    """The evaluation phase's parts: evaluation (panel, estimates) and budget proposals."""
    evaluation = phase.get("evaluation") or {}
    parts = evaluation.get("seconds") or {}
    return (f"evaluation {_fmt_s(phase.get('evaluation_seconds'))} (panel {_fmt_s(parts.get('panel'))}, estimates "
            f"{_fmt_s(parts.get('estimate'))}, {_fmt_n(evaluation.get('persons'))} persons), budget proposals "
            f"{_fmt_s(phase.get('budget_seconds'))}")


def growth_exponent(points: list[tuple[float, float]]) -> float | None:
    """The exponent b of ``seconds = a * residents ** b`` fitted by least squares on the logs
    (1 = linear in residents); none with fewer than two sizes or a zero time."""
    points = [(x, y) for x, y in points if x > 0 and y and y > 0]
    if len({x for x, _ in points}) < 2:
        return None
    lx = [math.log(x) for x, _ in points]
    ly = [math.log(y) for _, y in points]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((x - mx) ** 2 for x in lx)
    return round(sum((x - mx) * (y - my) for x, y in zip(lx, ly)) / sxx, 2)


def growth(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per phase (and the two nights): microseconds per resident at each size and the fitted exponent."""
    series: dict[str, list[tuple[float, float]]] = {}
    cpu: dict[str, list[tuple[float, float]]] = {}
    for r in runs:
        n = float(r["residents"])
        for name in PHASES:
            series.setdefault(name, []).append((n, r["phases"][name]["seconds"]))
            cpu.setdefault(name, []).append((n, (r["phases"][name].get("cpu_seconds") or {}).get("total") or 0.0))
        series.setdefault("full_night", []).append((n, r.get("full_night_seconds") or 0.0))
        series.setdefault("incremental_night", []).append(
            (n, r["phases"]["incremental"].get("night_seconds") or 0.0))
    return {name: {"us_per_resident": {int(n): round(sec / n * 1e6, 1) for n, sec in pts},
                   "exponent": growth_exponent(pts),
                   "cpu_exponent": growth_exponent(cpu[name]) if name in cpu else None}
            for name, pts in series.items()}


def growth_section(runs: list[dict[str, Any]]) -> list[str]:
    """The growth table: time per resident at each size and the fitted exponent per phase."""
    if len(runs) < 2:
        return []
    table = growth(runs)
    sizes = [r["residents"] for r in runs]
    lines = ["## Growth", "",
             "Time per resident (µs) at each size and the exponent b of `seconds = a x residents^b` fitted over "
             "the sizes (1 = linear; above 1 the phase costs more per resident as the municipality grows), from wall "
             "time and from CPU time (Python + dbt + PostgreSQL; on a shared machine the CPU exponent is the "
             "steadier one, since waiting for other work inflates wall time unevenly). "
             "Extrapolation to 6 million residents multiplies the largest size's time by "
             "(6,000,000 / size)^b.", "",
             "| phase | " + " | ".join(f"{n:,}" for n in sizes) + " | exponent | CPU exponent | at 6,000,000 |",
             "|---|" + "---:|" * (len(sizes) + 3)]
    largest = runs[-1]
    for name, g in table.items():
        label = PHASE_LABELS.get(name, name.replace("_", " "))
        b = g["exponent"]
        last = g["us_per_resident"].get(largest["residents"], 0) * largest["residents"] / 1e6
        at_6m = _fmt_s(last * (6_000_000 / largest["residents"]) ** b) if b is not None else "–"
        lines.append(f"| {label} | " + " | ".join(f"{g['us_per_resident'].get(n, 0):,.1f}" for n in sizes)
                     + f" | {b if b is not None else '–'} | {g.get('cpu_exponent') if g.get('cpu_exponent') is not None else '–'}"
                     + f" | {at_6m} |")
    return lines + [""]


def _airflow_breakdown(airflow: dict[str, Any]) -> str:
    """Where the Airflow night's time went, from the task times the bench kept (empty for older runs)."""
    dbt = airflow.get("dbt_task_seconds") or {}
    slowest = airflow.get("slowest_tasks") or []
    parts = []
    if dbt:
        layers = ", ".join(f"{task.split('.', 1)[-1]} {_fmt_s(seconds)}" for task, seconds in dbt.items())
        parts.append(f"The dbt layers took {_fmt_s(sum(dbt.values()))} in {len(dbt)} tasks ({layers})")
    if slowest:
        tasks = ", ".join(f"{x['task']} {_fmt_s(x['seconds'])}" for x in slowest[:4])
        parts.append(f"the slowest tasks were {tasks}")
    return ("; ".join(parts) + ". ") if parts else ""


def _airflow_line(run: dict[str, Any]) -> str:
    """The Airflow night beside the bare one, or why there is none."""
    airflow = run.get("airflow")
    if not airflow:
        return ("Airflow: not run at this size (`--airflow <sizes>` adds one more night through Airflow as "
                "production runs it).")
    if airflow.get("error"):
        return f"Airflow: one night through Airflow did not complete: {airflow['error'][:300]}."
    return (f"Airflow: one night ({airflow['delivery_date']}) through Airflow ({airflow['how']}) "
            f"{_fmt_s(airflow['seconds'])} against the bare night {_fmt_s(airflow['bare_night_seconds'])} → "
            f"**{run['ratios'].get('airflow_vs_bare')}x**"
            + (f" (orchestration overhead {_fmt_s(airflow['overhead_seconds'])}, {airflow['tasks']} tasks)."
               if "overhead_seconds" in airflow else "."))


def superset_section(run: dict[str, Any]) -> list[str]:
    """The Superset phase of one size: setup, p50/p95/max per viewer and overall, the slowest charts."""
    result = run.get("superset")
    if not result:
        return ["Superset: not run at this size (`--superset <sizes>` starts Superset after the publish and "
                "times every dashboard chart's data with the cache off).", ""]
    setup = ", ".join(f"{k} {_fmt_s(v)}" for k, v in (result.get("setup_seconds") or {}).items())
    if "p95_ms" not in result:
        return [f"Superset: the chart-data phase did not complete ({setup or 'no setup'}): "
                f"{str(result.get('error'))[:300]}.", ""]
    lines = [
        f"Superset chart data with the cache off ({result['how']}; {result['warmup']} warm-up + "
        f"{result['rounds']} timed rounds per viewer; setup not timed: {setup}; Superset's memory "
        f"{_fmt_n(result.get('superset_rss_mb'))} MB): **p50 {_fmt_ms(result['p50_ms'])}, p95 "
        f"{_fmt_ms(result['p95_ms'])}, max {_fmt_ms(result['max_ms'])}** over {_fmt_n(result['requests'])} requests "
        f"for {result['charts_total']} charts on {result.get('dashboards', '?')} dashboards"
        + (f"; **{len(result['failed'])} failed**: " + "; ".join(f"{f['viewer']} / {f['chart']}: {f['error'][:120]}"
                                                               for f in result["failed"][:5]) if result["failed"] else "")
        + (f"; **{result['cached_responses']} answers came from the cache** (the times do not count)"
           if result.get("cached_responses") else "") + ". "
        + (f"The same SQL run on PostgreSQL alone takes {result['database_share']:.1%} of the charts' median "
           "times; the rest is Superset (the request, building the query, post-processing, JSON). "
           if result.get("database_share") is not None else "")
        + (f"Load average (1, 5, 15 min) before {result.get('load_average_before')}, after "
           f"{result.get('load_average_after')}." if result.get("load_average_before") else ""),
        "",
        "| viewer | row-level security | charts | requests | p50 | p95 | max |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for label, v in result["viewers"].items():
        lines.append(f"| {label} | {'yes' if v.get('rls') else 'no'} | {v['charts']} | {v['requests']} | "
                     f"{_fmt_ms(v['p50_ms'])} | {_fmt_ms(v['p95_ms'])} | {_fmt_ms(v['max_ms'])} |")
    lines += ["", "Slowest charts (by median over every viewer's timed requests):", "",
              "| chart | dashboard | dataset | p50 | p95 | max | its SQL on PostgreSQL alone | slowest for |",
              "|---|---|---|---:|---:|---:|---:|---|"]
    for c in result["slowest"]:
        lines.append(f"| {c['name']} | {', '.join(c['dashboards'])} | `{c['dataset']}` | {_fmt_ms(c['p50_ms'])} | "
                     f"{_fmt_ms(c['p95_ms'])} | {_fmt_ms(c['max_ms'])} | {_fmt_ms(c.get('database_ms'))} | "
                     f"{c.get('slowest_viewer') or '–'} |")
    return lines + [""]


def superset_note(result: dict[str, Any]) -> str:
    """Why the chart-data target was missed, from the phase's own numbers."""
    if "p95_ms" not in result or result.get("error"):
        return (f"**Superset chart data was not measured** ({str(result.get('error'))[:300]}); the target is "
                "judged not met.")
    if result.get("failed") or result.get("cached_responses"):
        return (f"**Superset chart data: {len(result.get('failed') or [])} failed request(s) and "
                f"{result.get('cached_responses', 0)} cached answer(s)** (first: "
                + "; ".join(f"{f['viewer']} / {f['chart']}: {f['error'][:150]}" for f in result["failed"][:3])
                + "); a chart that errors or comes from the cache is not a fast chart, so the target is not met.")
    slow = [c for c in result["charts"] if (c.get("p95_ms") or 0) > TARGETS["superset_p95_ms"]]
    datasets: dict[str, int] = {}
    for c in slow:
        datasets[c["dataset"]] = datasets.get(c["dataset"], 0) + 1
    viewers = ", ".join(f"{k} {_fmt_ms(v['p95_ms'])}" for k, v in result["viewers"].items())
    text = (f"**Superset chart data p95 {_fmt_ms(result['p95_ms'])}** (target "
            f"{_fmt_ms(TARGETS['superset_p95_ms'])}; p95 per viewer: {viewers}). {len(slow)} of "
            f"{result['charts_total']} charts have a p95 above the target, reading "
            + ", ".join(f"`{d}` ({n})" for d, n in sorted(datasets.items(), key=lambda kv: -kv[1])[:6]) + ". ")
    share = result.get("database_share")
    heavy = [c for c in slow if c.get("database_ms") and c["database_ms"] > TARGETS["superset_p95_ms"] / 2]
    if share is not None and share < 0.5:
        text += (f"PostgreSQL is not where the time goes: the charts' SQL run directly takes {share:.1%} of their "
                 "median times, so most of each request is Superset's own work (authentication and permission "
                 "checks, building the query from the saved query context, pandas post-processing, JSON), on "
                 "cores it shares with PostgreSQL and the bench"
                 + (f" (load average {result['load_average_after'][0]} on {result.get('cores', '?')} cores)"
                    if result.get("load_average_after") else "") + ". ")
    if heavy:
        text += ("Where the SQL itself is slow (" + ", ".join(f"`{c['name']}` {_fmt_ms(c['database_ms'])} on "
                                                           f"`{c['dataset']}`" for c in heavy[:4])
                 + "), publish the mart at the chart's grain (its group-by and time grain) so the query scans a "
                 "few hundred rows instead of aggregating, index the columns it filters on, and publish a virtual "
                 "(SQL) dataset's query as a table. ")
    return text + ("Fix for Superset's own share: give it cores of its own (gunicorn workers on a machine not shared "
                   "with the warehouse and the nightly), keep post-processing out of the request (pivots and "
                   "rolling windows computed in the mart), and let the data cache (`DATA_CACHE_CONFIG`) answer "
                   "repeated views, warmed after each publish (`PUT /api/v1/chart/warm_up_cache` per chart) so "
                   "no user pays the first view; this phase measures that first, uncached view.")

