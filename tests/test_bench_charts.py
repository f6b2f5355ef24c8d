"""The bench's Superset phase without Superset: percentiles, aggregation, target and report text.

The requests themselves are exercised against the real Superset of ``tests/test_superset.py``
(``test_bench_times_every_chart_of_every_dashboard``) and by the bench's ``--superset`` run;
here only the pure functions that turn timed requests into the report's numbers.
"""

from __future__ import annotations

import pytest

from helhed.bench import charts
from helhed.bench.charts import Chart, Sample, percentile, summarise
from helhed.bench.report import superset_note, superset_section
from helhed.bench.spec import TARGETS

BENEFITS = Chart(1, "Fuldtidspersoner på ydelse", ("beskaeftigelse",), "marts.employment_benefits_monthly")
TEMPO = Chart(2, "Dage fra henvisning til start", ("aktivitet-og-tempo",), "marts.activity_tempo_yearly")
GATES = Chart(3, "Gates pr. nat", ("datakvalitet-og-drift",), "audit.gate_runs (SQL)")


def test_percentile_interpolates_between_ranks_like_numpy():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile([0.3, 0.1, 0.2], 50) == pytest.approx(0.2), "order of the input does not matter"
    assert percentile([0.1, 0.2], 100) == 0.2 and percentile([0.1, 0.2], 0) == 0.1
    assert percentile([0.25], 95) == 0.25, "one sample is every percentile"
    assert percentile([], 50) is None


def _samples() -> list[Sample]:
    """Admin: three charts x 4 rounds, the drift chart slow; leader: two charts, one failing once."""
    samples = []
    for i in range(4):
        samples += [Sample("admin", BENEFITS, 0.050 + i * 0.01, rows=6),
                    Sample("admin", TEMPO, 0.100, rows=12),
                    Sample("admin", GATES, 0.400 + i * 0.1, rows=3)]
        samples += [Sample("leder", BENEFITS, 0.060, rows=6),
                    Sample("leder", TEMPO, 0.120, rows=12) if i else
                    Sample("leder", TEMPO, 0.030, error="HTTP 500: boom")]
    return samples


def test_summary_has_per_viewer_and_overall_percentiles_and_slowest_charts():
    result = summarise(_samples(), {"admin": {"rls": False}, "leder": {"rls": False}})
    ok_seconds = [x.seconds for x in _samples() if x.error is None]
    assert result["requests"] == 20 and result["charts_total"] == 3
    assert result["p50_ms"] == pytest.approx(percentile(ok_seconds, 50) * 1000, abs=0.1)
    assert result["p95_ms"] == pytest.approx(percentile(ok_seconds, 95) * 1000, abs=0.1)
    assert result["max_ms"] == pytest.approx(700.0), "the slowest successful request"
    assert result["failed"] == [{"viewer": "leder", "chart": TEMPO.name, "error": "HTTP 500: boom"}]
    assert result["cached_responses"] == 0
    admin, leader = result["viewers"]["admin"], result["viewers"]["leder"]
    assert (admin["charts"], admin["requests"], admin["failed"]) == (3, 12, 0)
    assert (leader["charts"], leader["requests"], leader["failed"]) == (2, 8, 1)
    assert leader["max_ms"] == pytest.approx(120.0), "a failed request's time is not a chart's time"
    # slowest first, with where it is shown and what it reads
    assert [c["name"] for c in result["slowest"]] == [GATES.name, TEMPO.name, BENEFITS.name]
    slowest = result["slowest"][0]
    assert slowest["dataset"] == GATES.dataset and slowest["dashboards"] == ["datakvalitet-og-drift"]
    assert slowest["p50_ms"] == pytest.approx(550.0) and slowest["slowest_viewer"] == "admin"
    tempo = next(c for c in result["charts"] if c["id"] == TEMPO.id)
    assert tempo["times_ms"] == {"admin": [100.0] * 4, "leder": [120.0] * 3}
    assert tempo["slowest_viewer"] == "leder" and tempo["errors"] == {"leder": "HTTP 500: boom"}


def test_target_is_p95_and_not_met_when_a_chart_failed_or_came_from_the_cache():
    fast = [Sample("admin", BENEFITS, 0.05 + i / 1000) for i in range(20)]
    run = {"superset": summarise(fast, {"admin": {}})}
    assert charts.evaluate_target(run) == {"superset_p95_ms": {
        "value": run["superset"]["p95_ms"], "target": TARGETS["superset_p95_ms"], "met": True}}
    slow = [Sample("admin", BENEFITS, 0.25 + i / 100) for i in range(20)]   # p95 above 300 ms
    assert not charts.evaluate_target({"superset": summarise(slow, {"admin": {}})})["superset_p95_ms"]["met"]
    failing = {"superset": summarise([*fast, Sample("admin", TEMPO, 0.01, error="HTTP 403")], {"admin": {}})}
    assert charts.evaluate_target(failing)["superset_p95_ms"] == {
        "value": None, "target": TARGETS["superset_p95_ms"], "met": False}
    cached = {"superset": summarise([*fast, Sample("admin", TEMPO, 0.01, cached=True)], {"admin": {}})}
    assert charts.evaluate_target(cached)["superset_p95_ms"]["value"] is None
    assert charts.evaluate_target({"superset": {"error": "no venv"}})["superset_p95_ms"]["met"] is False
    assert charts.evaluate_target({}) == {}, "the phase is optional: no target without it"


def test_report_section_and_note_name_the_numbers_and_the_slow_datasets():
    result = {"how": charts.HOW, "rounds": 4, "warmup": 1, "dashboards": 3,
              "setup_seconds": {"init": 40.0, "start": 12.0, "provision": 9.0}, "superset_rss_mb": 612.0,
              **summarise(_samples(), {"admin": {"rls": False}, "leder": {"rls": True}})}
    text = "\n".join(superset_section({"superset": result}))
    assert f"p95 {result['p95_ms']:,.0f} ms" in text and f"max {result['max_ms']:,.0f} ms" in text
    assert "| leder | yes | 2 | 8 |" in text, "one row per viewer, with the RLS path marked"
    assert f"| {GATES.name} | datakvalitet-og-drift | `{GATES.dataset}` | 550 ms |" in text
    assert "1 failed" in text and "HTTP 500" in text
    assert "not run at this size" in superset_section({})[0]
    assert "did not complete" in superset_section({"superset": {"error": "no venv", "setup_seconds": {}}})[0]
    # the note of a missed target: the failure first, else the charts over the target by dataset
    assert "failed request" in superset_note(result)
    slow = {**result, **summarise([x for x in _samples() if x.error is None], {"admin": {}, "leder": {}})}
    note = superset_note(slow)
    assert f"`{GATES.dataset}` (1)" in note and "Fix" in note and "1 of 3 charts" in note


def test_database_times_split_a_chart_into_the_warehouse_and_superset():
    """With each chart's SQL timed on PostgreSQL alone, the summary gives the warehouse's share
    and the note says which part to fix."""
    samples = [x for x in _samples() if x.error is None]
    fast_sql = summarise(samples, {"admin": {}, "leder": {}}, database={BENEFITS.id: 0.002, TEMPO.id: 0.004,
                                                                          GATES.id: 0.010})
    by_id = {c["id"]: c for c in fast_sql["charts"]}
    assert by_id[GATES.id]["database_ms"] == 10.0 and fast_sql["slowest"][0]["database_ms"] == 10.0
    medians = sum(c["p50_ms"] for c in fast_sql["charts"])
    assert fast_sql["database_share"] == pytest.approx(16.0 / medians, abs=1e-3)
    note = superset_note({**fast_sql, "load_average_after": [6.5, 6.0, 4.0], "cores": 2})
    assert "PostgreSQL is not where the time goes" in note and "load average 6.5 on 2 cores" in note
    assert "Where the SQL itself is slow" not in note
    slow_sql = summarise(samples, {"admin": {}, "leder": {}}, database={GATES.id: 0.380})
    note = superset_note(slow_sql)
    assert f"`{GATES.name}` 380 ms on `{GATES.dataset}`" in note and "PostgreSQL is not where" not in note
    assert summarise(samples, {"admin": {}, "leder": {}})["database_share"] is None, "not measured: no share"


@pytest.mark.parametrize("argv", [["--sizes", "3000", "--superset", "5000"], ["--sizes", "3000", "--superset", "x"],
                                  ["--sizes", "3000", "--superset", "3000", "--superset-rounds", "0"]])
def test_cli_refuses_a_superset_size_it_would_not_run(argv):
    from helhed import bench

    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2, "an argparse error, before anything is measured"
