"""``make bench``: how fast is helhed, and how far from what this machine can do?

For each size (residents) the bench starts a private embedded PostgreSQL under a temporary
directory and runs two nights with the nightly's own steps (:mod:`helhed.pipeline`), timing
each phase in the nightly's order (:mod:`helhed.bench.phases`):

1. ``generate``    the synthetic municipality (all sources, one day's increment after the end date);
2. ``load``        every entity of ``config/sources.yaml`` (enabled or not) up to the end date;
3. ``gates``       every staging suite in ``expectations/`` that exists (missing ones are listed);
4. ``dbt_full``    ``dbt seed`` + ``dbt build --full-refresh`` (slowest nodes from run_results.json);
5. ``evaluation``  programme evaluation and budget proposals (then the first night is published);
6. ``incremental`` the next night: load the end date + 1, gates, ``dbt build``, evaluation;
7. ``publish``     the mart gates and the atomic publish;

and, with ``--airflow <sizes>``, one more night through Airflow as production runs it (scheduler and
LocalExecutor, a triggered run polled to completion), with its overhead over the bare night; with
``--superset <sizes>``, after the publish, Superset started against the same PostgreSQL, the
dashboards provisioned and every chart's data asked for with the cache off as the admin, a leader
and a department (:mod:`helhed.bench.charts`; p50/p95/max and the slowest charts). Each phase
records its peak memory and CPU (:mod:`helhed.bench.measure`). In the same run it measures the
machine's limits (:mod:`helhed.bench.limits`): ``COPY`` of the same raw files into unlogged
text tables and one hand-written SQL statement that builds the person-month aggregate.

Results: ``<out>/benchmarks.json`` (every number) and ``<out>/benchmarks.md``
(:mod:`helhed.bench.report`); re-running overwrites both. ``python -m helhed.bench --help``
lists the options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from helhed.bench.measure import Log, git_state, machine_info, print_line, snapshot_dbt_project
from helhed.bench.phases import bench_size, evaluate_targets
from helhed.bench.report import _fmt_s, growth, notes_for, render_markdown
from helhed.bench.spec import (
    DEFAULT_END_DATE,
    DEFAULT_SIZES,
    FACT_MODEL,
    PHASE_LABELS,
    PHASES,
    TARGET_SIZE,
    TARGETS,
)
from helhed.config import REPO_ROOT

__all__ = ["DEFAULT_SIZES", "FACT_MODEL", "PHASES", "PHASE_LABELS", "TARGETS", "TARGET_SIZE", "bench_size",
           "evaluate_targets", "growth", "main", "notes_for", "render_markdown", "run_bench", "write_report"]


def run_bench(sizes: list[int], years: int = 6, out: Path | None = None, *, keep: bool = False, seed: int = 1,
              end_date: dt.date = DEFAULT_END_DATE, log: Log = print_line, explain: bool = True,
              command_args: str = "", remarks: list[str] | None = None,
              airflow_sizes: frozenset[int] = frozenset(), superset_sizes: frozenset[int] = frozenset(),
              superset_rounds: int = 5) -> dict[str, Any]:
    """Run the bench for every size and write ``benchmarks.json`` and ``benchmarks.md`` into ``out``."""
    out = Path(out) if out else REPO_ROOT / "docs"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="helhed-bench-"))
    report: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command_args": command_args or f"--sizes {','.join(map(str, sizes))} --years {years}",
        "machine": machine_info(),
        "targets": {**TARGETS, "at_residents": TARGET_SIZE},
        "runs": [],
        "remarks": list(remarks or []),
        "git": git_state(),
    }
    log(f"helhed bench: sizes {', '.join(f'{n:,}' for n in sizes)}, {years} years; work dir {root}")
    try:
        project = snapshot_dbt_project(root / "dbt_project")
        for residents in sizes:
            run = bench_size(residents, years, seed=seed, end_date=end_date, workdir=root / str(residents), log=log,
                             explain=explain, dbt_project=project, airflow=residents in airflow_sizes,
                             superset_rounds=superset_rounds if residents in superset_sizes else 0)
            report["postgres_version"] = run.pop("postgres_version", None)
            report["postgres_settings"] = run.pop("postgres_settings", None)
            report["runs"].append(run)
            if not keep:
                shutil.rmtree(root / str(residents), ignore_errors=True)
            write_report(report, out, started)   # after each size, so a later failure keeps what was measured
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"kept the data and servers' directories in {root}")
    write_report(report, out, started)
    log(f"wrote {out / 'benchmarks.md'} and {out / 'benchmarks.json'} in {_fmt_s(report['wall_seconds'])}")
    return report


def write_report(report: dict[str, Any], out: Path, started: float) -> None:
    """Write ``benchmarks.json`` and ``benchmarks.md`` (after each size: a later failure keeps what was measured)."""
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    report["growth"] = growth(report["runs"]) if len(report["runs"]) > 1 else {}
    (out / "benchmarks.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n",
                                         encoding="utf-8")
    (out / "benchmarks.md").write_text(render_markdown(report), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helhed.bench",
        description="Time generation, load, gates, dbt, the incremental night and publish at each size, "
                    "against the machine's limits (raw COPY, one SQL statement); write docs/benchmarks.md/.json.")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated numbers of residents (default: %(default)s)")
    parser.add_argument("--years", type=int, default=6, help="years of history (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs",
                        help="folder for benchmarks.md and benchmarks.json (default: docs/)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and database directories")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default: %(default)s)")
    parser.add_argument("--end-date", type=dt.date.fromisoformat, default=DEFAULT_END_DATE,
                        help="last day of the history (default: %(default)s)")
    parser.add_argument("--no-explain", dest="explain", action="store_false",
                        help="skip EXPLAIN ANALYZE of the fact model when it misses its target")
    parser.add_argument("--airflow", default="",
                        help="comma-separated sizes at which one more night runs through Airflow as production runs "
                             "it (scheduler + LocalExecutor), with its ratio to the bare night (default: none)")
    parser.add_argument("--superset", default="",
                        help="comma-separated sizes at which Superset is started after the publish and every "
                             "dashboard chart's data is timed with the cache off (default: none; needs .venv-superset)")
    parser.add_argument("--superset-rounds", type=int, default=5,
                        help="timed rounds over every chart per viewer, after one warm-up round (default: %(default)s)")
    parser.add_argument("--remark", action="append", default=[], help="a remark to print in the report")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite <out>/benchmarks.md from <out>/benchmarks.json (no measuring)")
    args = parser.parse_args(argv)
    if args.render:
        report = json.loads((args.out / "benchmarks.json").read_text(encoding="utf-8"))
        report["remarks"] = [*report.get("remarks", []), *[r for r in args.remark if r not in report.get("remarks", [])]]
        (args.out / "benchmarks.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n",
                                                  encoding="utf-8")
        report["growth"] = growth(report["runs"]) if len(report["runs"]) > 1 else {}
        (args.out / "benchmarks.md").write_text(render_markdown(report), encoding="utf-8")
        return 0
    try:
        sizes = [int(x.replace("_", "")) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, not {args.sizes!r}")
    if not sizes or min(sizes) < 100:
        parser.error("--sizes needs at least one size of 100 residents or more")
    try:
        superset_sizes = frozenset(int(x.replace("_", "")) for x in args.superset.split(",") if x.strip())
    except ValueError:
        parser.error(f"--superset must be comma-separated integers, not {args.superset!r}")
    if not superset_sizes <= set(sizes):
        parser.error(f"--superset sizes {sorted(superset_sizes - set(sizes))} are not among --sizes {sizes}")
    if args.superset_rounds < 1:
        parser.error("--superset-rounds must be at least 1")
    command_args = " ".join(argv if argv is not None else sys.argv[1:])
    run_bench(sizes, args.years, args.out, keep=args.keep, seed=args.seed, end_date=args.end_date,
              explain=args.explain, command_args=command_args, remarks=args.remark,
              airflow_sizes=frozenset(int(x.replace("_", "")) for x in args.airflow.split(",") if x.strip()),
              superset_sizes=superset_sizes,
              superset_rounds=args.superset_rounds)
    return 0


