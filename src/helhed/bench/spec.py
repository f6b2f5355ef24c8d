"""What the bench measures and against which targets (issue 12), in one place."""

from __future__ import annotations

import datetime as dt

DEFAULT_SIZES = (20_000, 100_000, 360_000)
DEFAULT_END_DATE = dt.date(2025, 12, 31)
PHASES = ("generate", "load", "gates", "dbt_full", "evaluation", "incremental", "publish")
PHASE_LABELS = {
    "generate": "generation",
    "load": "landing and load",
    "gates": "gates (staging suites)",
    "dbt_full": "dbt full build (seed + build --full-refresh)",
    "evaluation": "programme evaluation and budget proposals (helhed.evaluation, helhed.budget)",
    "incremental": "incremental night (load day, gates, dbt build, evaluation)",
    "publish": "publish (mart gates + schema swap)",
}
#: Targets at 360,000 residents (issue 12; the first two from issue 6).
TARGET_SIZE = 360_000
TARGETS = {
    "dbt_full_seconds": 600.0,          # dbt full build under 10 minutes
    "full_night_seconds": 900.0,        # whole night from scratch (load, gates, full build, publish) under 15 min
    "incremental_seconds": 120.0,       # an incremental night under 2 minutes
    "load_vs_copy": 2.0,                # load within 2x of raw COPY
    "fact_vs_statement": 3.0,           # fct_person_month within 3x of the single statement
    "airflow_vs_bare": 1.5,             # one night through Airflow within 1.5x of the bare phases
    "superset_p95_ms": 300.0,           # Superset chart data, cache off, every dashboard chart: p95 under 300 ms
}
LIMIT_SCHEMA = "bench_limits"
FACT_MODEL = "fct_person_month"
MB = 1024 * 1024
