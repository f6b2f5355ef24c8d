"""``make bench`` at a tiny size: every phase runs for real and the report holds every number.

Generation, loading, Great Expectations, dbt (a subprocess) and publish all run against a
private embedded PostgreSQL that the bench starts and stops itself; nothing is mocked.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from helhed import bench

pytestmark = pytest.mark.slow

RESIDENTS, YEARS = 1500, 2


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    lines: list[str] = []
    returned = bench.run_bench([RESIDENTS], YEARS, out, log=lines.append, explain=True)
    assert any("publish" in line for line in lines), "the bench reports its progress"
    return returned, out


def test_json_has_every_phase_with_times_rows_and_memory(report):
    returned, out = report
    data = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))
    assert data["runs"] == json.loads(json.dumps(returned["runs"], default=str))
    (run,) = data["runs"]
    assert run["residents"] == RESIDENTS and run["years"] == YEARS
    assert set(run["phases"]) == set(bench.PHASES)
    for name, phase in run["phases"].items():
        assert phase["seconds"] > 0, name
        assert phase["rows"] > 0, name
        assert phase["peak_memory_mb"]["python_mb"] > 0, name
        assert phase["peak_memory_mb"]["postgres_mb"] > 0, name
        assert phase["cpu_seconds"]["total"] > 0, name
    assert run["phases"]["dbt_full"]["peak_memory_mb"]["children_mb"] > 0, "dbt's memory is sampled"
    # every declared entity is loaded, the ones with a suite are gated, the others named as missing
    from helhed.sources import load_sources

    entities = {e.id for s in load_sources(include_disabled=True).values() for e in s.entities}
    assert set(run["phases"]["load"]["entities"]) == entities
    gates = run["phases"]["gates"]
    assert "staging__ydelser__benefit_periods" in gates["suites"]
    assert len(gates["suites"]) + len(gates["skipped"]) == len(entities)
    assert all(g["passed"] for g in gates["suites"].values())
    # the night loads the increment folder and rebuilds without a full refresh
    assert run["phases"]["incremental"]["delivery_date"] == "2026-01-01"
    assert run["phases"]["incremental"]["dbt_build_seconds"] > 0
    assert run["phases"]["dbt_full"]["slowest"], "the slowest dbt nodes come from run_results.json"
    assert run["phases"]["dbt_full"]["fact"]["seconds"] > 0


def test_limits_and_ratios_are_computed(report):
    _, out = report
    (run,) = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))["runs"]
    copy, transform = run["limits"]["copy"], run["limits"]["transform"]
    assert copy["seconds"] > 0
    # the raw COPY reads the same files: as many rows as the loader saw (none are bad here)
    assert copy["rows"] == run["phases"]["load"]["rows"]
    assert transform["seconds"] > 0 and transform["rows"] > 0
    assert "generate_series" in transform["statement"]
    # every person-month with a benefit day is a row of the fact (whose grain may be wider)
    assert run["phases"]["dbt_full"]["fact"]["rows"] >= transform["rows"]
    for key in ("load_vs_copy", "fact_vs_statement", "fact_chain_vs_statement"):
        assert run["ratios"][key] > 0, key
    for key, target in run["targets"].items():
        assert target["target"] == bench.TARGETS[key]
        assert target["met"] == (target["value"] <= target["target"])


def test_markdown_names_machine_phases_and_targets(report):
    _, out = report
    text = (out / "benchmarks.md").read_text(encoding="utf-8")
    for label in bench.PHASE_LABELS.values():
        assert label in text
    for word in ("cores", "PostgreSQL 18", "dbt-core", "raw COPY", "one statement", f"{RESIDENTS:,} residents"):
        assert word in text
    assert "✅" in text or "❌" in text
    run = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))["runs"][0]
    if not all(t["met"] for t in run["targets"].values()):
        assert "Fix:" in text, "a missed target says what would fix it"


def test_superset_phase_joins_the_summary_and_has_its_own_section(report):
    """Without ``--superset`` the report says so; with the phase's numbers (here from the
    aggregation, so no Superset starts) its target is a row of the summary with its mark."""
    from helhed.bench.charts import HOW, Chart, Sample, summarise
    from helhed.bench.phases import evaluate_targets
    from helhed.bench.report import render_markdown

    returned, out = report
    assert "Superset: not run at this size" in (out / "benchmarks.md").read_text(encoding="utf-8")
    assert "superset_p95_ms" not in returned["runs"][0]["targets"]
    run = copy.deepcopy(returned["runs"][0])
    chart = Chart(7, "Fuldtidspersoner på ydelse", ("beskaeftigelse",), "marts.employment_benefits_monthly")
    run["superset"] = {"how": HOW, "rounds": 5, "warmup": 1, "dashboards": 1, "setup_seconds": {"start": 9.0},
                       **summarise([Sample("admin", chart, 0.08 + i / 100) for i in range(5)], {"admin": {}})}
    run["targets"] = evaluate_targets(run)
    assert run["targets"]["superset_p95_ms"]["met"]
    text = render_markdown({**returned, "runs": [run]})
    assert f"| Superset chart data p95 < 300 ms (cache off, every dashboard chart) | " \
           f"{run['superset']['p95_ms']:,.0f} ms ✅ |" in text
    assert "`marts.employment_benefits_monthly`" in text


def test_growth_exponent_is_the_slope_on_log_scales():
    from helhed.bench.report import growth_exponent

    assert growth_exponent([(20_000, 2.0), (100_000, 10.0), (360_000, 36.0)]) == 1.0
    assert growth_exponent([(10, 1.0), (100, 100.0)]) == 2.0
    assert growth_exponent([(10, 1.0)]) is None, "one size fits no curve"


def test_cli_help():
    with pytest.raises(SystemExit) as exc:
        bench.main(["--help"])
    assert exc.value.code == 0
