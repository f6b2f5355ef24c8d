"""Realistic rows of the dashboard marts (models/marts/dashboards) for tests/test_superset.py,
and of the audit tables the BI dashboard "Datakvalitet og drift" reads.

Small cells are already suppressed as the dbt models suppress them (null counts, the row's
measures null), so a chart that shows a count of 1-4 is the chart's own doing. Every
department-grain mart has rows for all four service departments, so row-level security has
something to hide.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

MIN_CELL = 5
MONTHS = [date(2025, m, 1) for m in range(1, 7)]
YEARS = [2023, 2024, 2025]
DATA_AS_OF = date(2025, 6, 14)
DEPARTMENTS = [("beskaeftigelse", "Beskæftigelse"), ("boern_familie", "Børn og familie"),
               ("voksen_social", "Voksne og social"), ("sundhed", "Sundhed og omsorg")]
TARGET_GROUPS = [("alle", "Alle borgere"), ("complex_family", "Komplekse familier"),
                 ("departments_3", "Kontakt med mindst 3 forvaltninger i måneden")]
PROGRAMMES = [("EN_PLAN", "Én plan - helhedsorienteret indsats", 40), ("FAMILIE", "Helhedsorienteret familieindsats", 3)]


def _small(n: int | None) -> bool:
    return n is not None and 1 <= n < MIN_CELL


def _hide(n: int, value):
    return None if _small(n) else value


def _month_flags(month: date) -> dict:
    if month == MONTHS[-1]:
        return {"is_complete_month": False, "days_covered": DATA_AS_OF.day}
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return {"is_complete_month": True, "days_covered": (following - month).days}


def contacts_rows() -> list[dict]:
    """Two districts x two age bands x four combinations; the four-department cell is small."""
    combinations = [("Beskæftigelse", 1, 210), ("Beskæftigelse + Sundhed og omsorg", 2, 64),
                    ("Beskæftigelse + Børn og familie + Voksne og social", 3, 12),
                    ("Beskæftigelse + Børn og familie + Voksne og social + Sundhed og omsorg", 4, 3)]
    rows = []
    for i, month in enumerate(MONTHS):
        for district in ("Nord", "Syd"):
            for age_band in ("18-29 år", "30-49 år"):
                for label, departments, persons in combinations:
                    n = persons + i if departments < 4 else persons
                    parallel = round(n * 0.1 * departments)
                    hidden = _small(n) or _small(parallel) or _small(n - parallel)
                    rows.append({"month": month, "district": district, "age_band": age_band,
                                 "department_combination": label, "departments_active": departments,
                                 "persons": _hide(n, n),
                                 "persons_with_parallel_services": None if hidden else parallel,
                                 "mean_contact_points": _hide(n, round(1.4 * departments + 0.3, 2)),
                                 "mean_concurrent_services": _hide(n, round(2.1 * departments + 0.5, 2)),
                                 "is_suppressed": hidden, **_month_flags(month), "data_as_of": DATA_AS_OF})
    return rows


def activity_rows() -> list[dict]:
    rows = []
    for year in YEARS:
        for k, (department, label) in enumerate(DEPARTMENTS):
            for t, (group, group_label) in enumerate(TARGET_GROUPS):
                persons = (900 - 150 * k) // (1 + 4 * t) if (department, group) != ("sundhed", "departments_3") else 4
                months = persons * 9
                conversations = round(months * (0.6 if department == "beskaeftigelse" else 0.2))
                meetings = round(months * 0.04)
                rows.append({"year": year, "is_complete_year": year < 2025, "department": department,
                             "department_label": label, "target_group": group, "target_group_label": group_label,
                             "persons": _hide(persons, persons), "person_months": _hide(persons, months),
                             "conversations_held": _hide(persons, conversations), "network_meetings": _hide(persons, meetings),
                             "conversations_per_person_month": _hide(persons, round(conversations / months, 4)),
                             "network_meetings_per_person_month": _hide(persons, round(meetings / months, 4)),
                             "mean_contact_points": _hide(persons, round(2.0 + k * 0.4 + t * 0.8, 2)),
                             "is_suppressed": _small(persons), "data_as_of": DATA_AS_OF})
    return rows


def referral_rows() -> list[dict]:
    return [{"start_year": year, "department": department, "department_label": label,
             "starts": starts, "persons": starts - 2, "mean_days_referral_to_start": 18.5 + 3 * k,
             "median_days_referral_to_start": 14.0 + 2 * k, "is_suppressed": False, "data_as_of": DATA_AS_OF}
            for year in YEARS for k, (department, label) in enumerate(DEPARTMENTS) for starts in [120 - 20 * k]]


def lorenz_rows() -> list[dict]:
    rows = []
    for year in YEARS:
        residents = 2400
        total = 0.0
        costs = [400.0 * (1.06 ** p) for p in range(1, 101)]
        grand = sum(costs)
        for percentile, cost in enumerate(costs, start=1):
            total += cost * 24
            rows.append({"year": year, "is_complete_year": year < 2025, "percentile": percentile, "persons": 24,
                         "cost": round(cost * 24, 2), "cumulative_residents_share": round(percentile / 100, 4),
                         "cumulative_cost_share": round(total / (grand * 24), 4), "is_suppressed": False,
                         "data_as_of": DATA_AS_OF})
        assert residents == 24 * 100
    return rows


def cost_per_person_month_rows() -> list[dict]:
    rows = []
    for year in YEARS:
        for k, (department, label) in enumerate(DEPARTMENTS):
            for t, (group, group_label) in enumerate(TARGET_GROUPS):
                persons = 2400 // (1 + 10 * t)
                months = persons * 10
                cost = months * (1800.0 + 900 * k) * (1 + t)
                rows.append({"year": year, "is_complete_year": year < 2025, "department": department,
                             "department_label": label, "target_group": group, "target_group_label": group_label,
                             "persons": persons, "person_months": months, "cost_total": round(cost, 2),
                             "cost_per_person_month": round(cost / months, 2), "is_suppressed": False,
                             "data_as_of": DATA_AS_OF})
    return rows


def progression_rows() -> list[dict]:
    rows = []
    for code, label, size in PROGRAMMES:
        for cohort in (2023, 2024):
            for months in range(0, 19, 3):
                for marker in range(1, 13):
                    persons = size - months // 6
                    rows.append({"programme_code": code, "programme_label": label, "cohort": cohort,
                                 "months_since_start": months, "marker": marker, "marker_label": f"Markør {marker:02d}",
                                 "persons": _hide(persons, persons),
                                 "mean_score": _hide(persons, round(min(10, 3.5 + marker * 0.1 + months * 0.12), 2)),
                                 "is_suppressed": _small(persons), "data_as_of": DATA_AS_OF})
    return rows


def experience_rows() -> list[dict]:
    rows = []
    for code, label, size in PROGRAMMES:
        for cohort in (2023, 2024, 2025):
            n = size + (cohort - 2023) * 2
            hidden = _small(n)
            answers = n - 12 if n - 12 >= MIN_CELL else None  # too few answers: the survey is hidden
            no_survey = hidden or answers is None
            rows.append({"programme_code": code, "programme_label": label, "cohort": cohort,
                         "enrolments": None if hidden else n,
                         "with_coordinator": None if hidden else n - 6, "with_coordinator_share": None if hidden else round((n - 6) / n, 4),
                         "with_joint_plan": None if hidden else n - 10, "with_joint_plan_share": None if hidden else round((n - 10) / n, 4),
                         "with_network_meeting": None if hidden else n - 8,
                         "with_network_meeting_share": None if hidden else round((n - 8) / n, 4),
                         "mean_days_start_to_joint_plan": None if hidden else 41.5 - (cohort - 2023) * 6,
                         "network_meetings_per_enrolment": None if hidden else 3.2,
                         "survey_answers": None if no_survey else answers,
                         "survey_joint_plan_received_share": None if no_survey else 0.71,
                         "mean_involvement": None if no_survey else 3.8, "mean_closer_to_goals": None if no_survey else 3.4,
                         "is_suppressed": hidden, "data_as_of": DATA_AS_OF})
    return rows


def dashboard_rows() -> dict[str, list[dict]]:
    return {"target_groups_contacts_monthly": contacts_rows(), "activity_tempo_yearly": activity_rows(),
            "activity_referral_tempo_yearly": referral_rows(), "economy_cost_lorenz_yearly": lorenz_rows(),
            "economy_cost_per_person_month": cost_per_person_month_rows(),
            "programme_progression_months_since_start": progression_rows(),
            "programme_experience_by_cohort": experience_rows()}


# --------------------------------------------------------------------------- audit (BI only)

SOURCES = [("ydelser", "ydelser.benefit_periods", 0), ("sensum", "sensum.services", 2), ("jobcenter", "jobcenter.conversations", 6)]


def fill_audit(conn) -> None:
    """A week of deliveries, quarantined lines with their rules, gate results and publications."""
    for source, entity, late in SOURCES:
        for day in range(1, 8 - late):
            delivered = 400 + day * 10
            quarantined = 3 if day % 3 == 0 else 0
            file_id = conn.execute(
                "insert into audit.delivery_files (source, entity, delivery_date, file_name, path, size_bytes, sha256, status,"
                " rows_delivered, rows_loaded, rows_quarantined) values (%s, %s, %s, %s, %s, 1000, 'x', 'loaded', %s, %s, %s)"
                " returning file_id",
                [source, entity, date(2025, 6, day), f"2025-06-{day:02d}/{entity}.csv", f"/data/{source}/{day}.csv",
                 delivered, delivered - quarantined, quarantined]).fetchone()[0]
            for line in range(quarantined):
                conn.execute("insert into landing.quarantine (file_id, line_no, rule, detail, raw_line)"
                             " values (%s, %s, %s, 'x', 'x')", [file_id, line + 2, ("invalid_cpr", "invalid_date")[line % 2]])
        conn.execute("insert into audit.delivery_files (source, entity, delivery_date, file_name, path, size_bytes, sha256,"
                     " status, rejection) values (%s, %s, %s, 'bad.csv', '/data/bad.csv', 10, 'y', 'rejected', 'header mismatch')",
                     [source, entity, date(2025, 6, 2)])
    for day in range(1, 8):
        run_id = f"scheduled__2025-06-{day:02d}"
        checked = datetime(2025, 6, day, 2, 0, tzinfo=UTC)
        for suite, severity, success in (("staging__ydelser", "critical", True), ("marts__employment", "critical", day != 4),
                                         ("staging__sensum", "warning", day % 2 == 0)):
            conn.execute("insert into audit.gate_results (run_id, suite, schema_name, table_name, expectation_type, kwargs,"
                         " severity, success, checked_at) values (%s, %s, 's', 't', 'expect_x', '{}', %s, %s, %s)",
                         [run_id, suite, severity, success, checked])
        if day != 4:
            conn.execute("insert into audit.publications (run_id, logical_date, published_at, schemas, tables)"
                         " values (%s, %s, %s, array['restricted', 'marts'], 48)",
                         [run_id, date(2025, 6, day), datetime(2025, 6, day, 3, 10, tzinfo=UTC)])
