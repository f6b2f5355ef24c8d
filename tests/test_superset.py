"""Superset as code: init, start, provision superset/assets, and every chart returns data.

End to end against the embedded PostgreSQL of the ``pg`` fixture: every public mart (the dbt
models published to schema ``marts``) is created from its enforced dbt contract
(``dbt_project/models/marts/**/_*.yml``: columns, data types, not-null and primary-key
constraints) and filled with a few realistic rows, suppressed nulls included. A chart or
dataset that uses a column the contract lacks therefore fails here. Superset runs from
``.venv-superset`` on a free port with the session's private ``HELHED_HOME``, and all
dashboards are imported over the REST API.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import psycopg.conninfo
import pytest
import requests
import yaml
from dashboard_mart_rows import dashboard_rows, fill_audit
from evaluation_mart_rows import evaluation_rows
from psycopg import sql

from helhed import gates, loading, publish
from helhed.config import REPO_ROOT, Settings
from helhed.evaluation import tables as evaluation_tables
from helhed.sources import get_entity
from helhed.superset import access, provision, screenshots, server

pytestmark = pytest.mark.slow

# The marts live in a database of their own, so this test neither clobbers nor depends on the
# marts other tests publish in `helhed`; provisioning points the connection at it through
# HELHED_PG_DATABASE, exactly as compose points it at another host.
MARTS_DB = "helhed_superset_test"
DBT_PROJECT = REPO_ROOT / "dbt_project"
DBT = Path(os.environ.get("HELHED_DBT", REPO_ROOT / ".venv" / "bin" / "dbt"))
PUBLIC_SCHEMA = "marts"

MONTHS = [date(2025, m, 1) for m in range(1, 7)]
EXPECTED_DASHBOARDS = {"Beskæftigelse", "Målgrupper og kontaktpunkter", "Aktivitet og tempo", "Omkostninger og datadækning",
                       "Progression og borgerens oplevelse", "Datakvalitet og drift", "Økonomi og budgetopfølgning",
                       "Effekt af helhedsorienterede forløb"}

# (benefit_group, label, persons in January, full-time persons per person)
BENEFITS = [
    ("a_dagpenge", "A-dagpenge", 180, 0.82),
    ("kontanthjaelp", "Kontanthjælp", 140, 0.95),
    ("sygedagpenge", "Sygedagpenge", 120, 0.71),
    ("fleksjob", "Fleksjob", 60, 0.98),
    ("foertidspension", "Førtidspension", 210, 1.00),
    ("revalidering", "Revalidering", 3, 0.90),  # a small cell: suppressed in the mart
]
VISITATION = [
    ("jobparat", "jobparat", 190),
    ("aktivitetsparat", "aktivitetsparat", 150),
    ("uddannelsesparat", "uddannelsesparat", 40),
    (None, "ikke visiteret", 320),
]
# (department, label, ledger per month in kroner, coverage, persons with attributed cost)
DEPARTMENTS = [
    ("beskaeftigelse", "Beskæftigelse", 46_000_000, 0.88, 3100),
    ("boern_familie", "Børn og familie", 31_000_000, 0.84, 820),
    ("voksen_social", "Voksne og social", 24_000_000, 0.81, 640),
    ("sundhed", "Sundhed og omsorg", 19_500_000, 0.74, 2900),
    ("oevrige", "Øvrige", 7_800_000, 0.0, 0),  # overheads: no person carries them
]
# (department, function, label, share of the department's ledger, persons)
FUNCTIONS = [
    ("beskaeftigelse", "5.57.73", "Kontant- og uddannelseshjælp", 0.45, 1300),
    ("beskaeftigelse", "5.57.78", "Dagpenge til forsikrede ledige", 0.40, 1500),
    ("beskaeftigelse", "5.68.90", "Driftsudgifter til den kommunale beskæftigelsesindsats", 0.15, 900),
    ("boern_familie", "5.28.21", "Forebyggende foranstaltninger for børn og unge", 0.40, 610),
    ("boern_familie", "5.28.22", "Plejefamilier", 0.35, 95),
    ("boern_familie", "5.28.23", "Døgninstitutioner for børn og unge", 0.22, 31),
    ("boern_familie", "5.28.24", "Sikrede døgninstitutioner mv. for børn og unge", 0.03, 2),  # suppressed
    ("voksen_social", "5.38.42", "Botilbud for personer med særlige sociale problemer", 1.0, 640),
    ("sundhed", "4.62.81", "Aktivitetsbestemt medfinansiering af sundhedsvæsenet", 0.6, 2700),
    ("sundhed", "4.62.82", "Kommunal genoptræning og vedligeholdelsestræning", 0.4, 410),
    ("oevrige", "6.45.51", None, 1.0, 0),  # a function outside the seed: no label
]
SUPPRESSED_DEPARTMENT_MONTH = ("sundhed", MONTHS[2])  # 1-4 persons: every amount hidden
# (target group, version, label, persons in January); mentor_and_contact_person is a small cell
TARGET_GROUPS = [
    ("departments_2", 1, "Kontakt med mindst 2 forvaltninger i måneden", 2410),
    ("departments_3", 1, "Kontakt med mindst 3 forvaltninger i måneden", 615),
    ("services_7", 1, "Mindst 7 samtidige ydelser", 148),
    ("complex_family", 1, "Komplekse familier", 905),
    ("young_vulnerable", 2, "Udsatte unge på offentlig forsørgelse med en social indsats", 312),
    ("mentor_and_contact_person", 1, "Borgere med både mentor og støtte- og kontaktperson", 3),
    ("top_1_pct_cost", 1, "De 1 % dyreste borgere (seneste 12 måneder)", 521),
    ("top_3_pct_cost", 1, "De 3 % dyreste borgere (seneste 12 måneder)", 1562),
]
# (programme, label, participants per cohort); the family programme is small, so cells hide
PROGRAMMES = [
    ("EN_PLAN", "Én plan - helhedsorienteret indsats", 48),
    ("FAMILIE", "Helhedsorienteret familieindsats", 9),
]
COHORTS = [2021, 2022, 2023, 2024]
MIN_CELL = 5


# --------------------------------------------------------------------------- dbt contracts


def _folder_schema(tree: dict, folders: tuple[str, ...]) -> str | None:
    """The `+schema` dbt_project.yml gives a model in `folders` (the deepest one wins)."""
    schema = tree.get("+schema")
    for folder in folders:
        tree = tree.get(folder)
        if not isinstance(tree, dict):
            break
        schema = tree.get("+schema", schema)
    return schema


def public_mart_contracts() -> dict[str, dict]:
    """Every dbt model published to schema `marts`, with its enforced contract.

    A model's schema is its own `config: schema:` in the YAML, else its folder's `+schema` in
    dbt_project.yml. Returns name -> {"columns": [(name, data_type, not_null)], "primary_key"}.
    """
    project = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text(encoding="utf-8"))
    tree = project["models"][project["name"]]
    models_dir = DBT_PROJECT / "models"
    contracts: dict[str, dict] = {}
    for path in sorted((models_dir / "marts").rglob("_*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models") or []:
            config = model.get("config") or {}
            sql_files = list(models_dir.rglob(f"{model['name']}.sql"))
            folder = (sql_files[0] if sql_files else path).parent.relative_to(models_dir).parts
            if (config.get("schema") or _folder_schema(tree, folder)) != PUBLIC_SCHEMA:
                continue
            columns = []
            for column in model.get("columns") or []:
                assert column.get("data_type"), f"{path}: {model['name']}.{column['name']} has no data_type"
                not_null = any(c.get("type") == "not_null" for c in column.get("constraints") or [])
                columns.append((column["name"], column["data_type"], not_null))
            primary_key = next((c["columns"] for c in model.get("constraints") or []
                                if c.get("type") == "primary_key"), [])
            contracts[model["name"]] = {"columns": columns, "primary_key": primary_key}
    contracts.update(evaluation_tables.public_contracts())  # built by helhed.evaluation, not dbt
    return contracts


def _normalise_type(data_type: str) -> str:
    return data_type.upper().replace(" ", "")


def _default(data_type: str, month: date):
    """A value for a contract column the fixture rows do not know yet (a newly added column)."""
    kind = data_type.lower()
    if kind.startswith(("int", "bigint", "smallint", "numeric", "decimal", "double", "real", "float")):
        return 1
    if kind.startswith("bool"):
        return False
    if kind.startswith(("date", "timestamp")):
        return month
    return "x"


# --------------------------------------------------------------------------- fixture rows


def _small(count: int | None) -> bool:
    return count is None or count < MIN_CELL


#: The latest month of the fixture is the current one: the data cover its first 14 days.
DAYS_COVERED_IN_LATEST_MONTH = 14


def month_flags(month: date) -> dict:
    """is_complete_month and days_covered, as every month-grain mart publishes them."""
    if month == MONTHS[-1]:
        return {"is_complete_month": False, "days_covered": DAYS_COVERED_IN_LATEST_MONTH}
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return {"is_complete_month": True, "days_covered": (following - month).days}


def employment_rows() -> dict[str, list[dict]]:
    benefits, visitation, self_support = [], [], []
    for i, month in enumerate(MONTHS):
        for code, label, persons, share in BENEFITS:
            n = persons + (i * 3 if code != "revalidering" else 0)
            benefits.append({"month": month, "benefit_group": code, "benefit_group_label": label,
                             "persons": None if _small(n) else n,
                             "full_time_persons": None if _small(n) else round(n * share, 2),
                             "is_suppressed": _small(n), **month_flags(month)})
        for code, label, persons in VISITATION:
            visitation.append({"month": month, "visitation_category": code, "visitation_label": label,
                               "persons": persons - i * 2, "is_suppressed": False, **month_flags(month)})
        residents = 6200 + i * 4
        supporting = residents - 700 + i * 9
        self_support.append({"month": month, "residents_16_64": residents, "self_supporting": supporting,
                             "self_supporting_share": round(supporting / residents, 4), "is_suppressed": False,
                             **month_flags(month)})
    return {"employment_benefits_monthly": benefits, "employment_visitation_monthly": visitation,
            "employment_self_support_monthly": self_support}


def _amounts(ledger: float, coverage: float, persons: int) -> dict:
    """The amounts of an economy row; all hidden when 1-4 persons carry the attributed cost."""
    suppressed = 1 <= persons < MIN_CELL
    attributed = round(ledger * coverage, 2)
    direct = round(attributed * 0.55, 2)
    refunds = round(-0.12 * ledger, 2)
    amounts = {
        "ledger_amount": round(ledger, 2), "direct_cost": direct, "imputed_cost": round(attributed - direct, 2),
        "unattributed_cost": round(ledger - attributed, 2),
        "coverage": round(attributed / ledger, 4) if ledger else None,
        "gross_operating_cost": round(ledger, 2), "refunds": refunds, "net_operating_cost": round(ledger + refunds, 2),
        "construction_cost": round(0.05 * ledger, 2),
    }
    if suppressed:
        amounts = dict.fromkeys(amounts)
    return {**amounts, "persons": None if _small(persons) else persons, "is_suppressed": suppressed,
            "attribution_basis": "gross"}


def economy_rows() -> dict[str, list[dict]]:
    labels = {code: label for code, label, *_ in DEPARTMENTS}
    departments, functions = [], []
    for i, month in enumerate(MONTHS):
        for code, label, ledger, coverage, persons in DEPARTMENTS:
            if (code, month) == SUPPRESSED_DEPARTMENT_MONTH:
                persons = 3
            elif persons:
                persons += i
            departments.append({"month": month, "department": code, "department_label": label,
                                **_amounts(ledger * (1 + 0.01 * i), coverage, persons), **month_flags(month)})
        for department, function, label, share, persons in FUNCTIONS:
            ledger, coverage = next((amount, cov) for code, _, amount, cov, _ in DEPARTMENTS if code == department)
            functions.append({"month": month, "department": department, "department_label": labels[department],
                              "kontoplan_function": function, "function_label": label,
                              **_amounts(ledger * share * (1 + 0.01 * i), coverage, persons), **month_flags(month)})
    concentration = []
    for k, year in enumerate(range(2021, 2026)):
        concentration.append({
            "year": year, "is_complete_year": year < 2025, "residents": 52_100 + 140 * k,
            "total_cost": 1_310_000_000 + 25_000_000 * k,
            "top_1_pct_share": 0.302 + 0.004 * k, "top_3_pct_share": 0.487 + 0.003 * k,
            "top_5_pct_share": 0.583 + 0.002 * k, "top_10_pct_share": 0.712 + 0.002 * k,
            "is_suppressed": False,
        })
    return {"economy_cost_coverage_department_monthly": departments,
            "economy_cost_coverage_function_monthly": functions,
            "economy_cost_concentration_yearly": concentration}


def target_group_rows() -> dict[str, list[dict]]:
    rows = []
    for i, month in enumerate(MONTHS):
        for code, version, label, persons in TARGET_GROUPS:
            n = persons + i * round(persons * 0.01)
            rows.append({"month": month, "target_group": code, "target_group_label": label,
                         "definition_version": version, "persons": None if _small(n) else n,
                         "is_suppressed": _small(n), **month_flags(month)})
    return {"target_groups_persons_monthly": rows, "target_groups_definitions": definition_rows()}


def definition_rows() -> list[dict]:
    """The real target-group definitions of the seed, as target_groups_definitions publishes them."""
    with (DBT_PROJECT / "seeds" / "target_group_definitions.csv").open(encoding="utf-8") as f:
        seed = list(csv.DictReader(f))
    latest = {}
    for row in seed:
        latest[row["target_group"]] = max(latest.get(row["target_group"], 0), int(row["version"]))
    return [
        {**{key: (value or None) for key, value in row.items()},
         "version": int(row["version"]), "adopted_on": date.fromisoformat(row["adopted_on"]),
         "threshold": float(row["threshold"]) if row["threshold"] else None,
         "min_age": int(row["min_age"]) if row["min_age"] else None,
         "max_age": int(row["max_age"]) if row["max_age"] else None,
         "rule_description": f"{row['target_group_label']} ({row['rule']})",
         "is_current": int(row["version"]) == latest[row["target_group"]]}
        for row in seed
    ]


def programme_rows() -> dict[str, list[dict]]:
    """Cohorts followed from 12 months before start to the as-of month (mid-2025), over years."""
    rows = []
    for code, label, size in PROGRAMMES:
        true: dict[str, dict[int, tuple[int, int, float]]] = {}
        for cohort in COHORTS:
            true[str(cohort)] = {}
            for m in range(-12, (2025 - cohort) * 12 + 1):
                progress = min(max(m, 0), 48) / 48
                participants = size - max(m, 0) // 12  # a few move away each year
                self_supporting = round(participants * (0.12 + 0.25 * progress))
                true[str(cohort)][m] = (participants, self_supporting, participants * (21_000 - 7_000 * progress))
        pooled: dict[int, tuple[int, int, float]] = {}
        for cells in true.values():
            for m, (p, s, c) in cells.items():
                total = pooled.get(m, (0, 0, 0.0))
                pooled[m] = (total[0] + p, total[1] + s, total[2] + c)
        true["alle"] = pooled
        for cohort, cells in true.items():
            for m, (p, s, c) in sorted(cells.items()):
                smallest = min(p, s, p - s if p - s else p)
                rows.append({
                    "programme_code": code, "programme_label": label, "cohort": cohort, "months_since_start": m,
                    "participants": None if _small(p) else p,
                    "self_supporting": None if _small(smallest) else s,
                    "self_supporting_share": None if _small(smallest) else round(s / p, 4),
                    "cost_total": None if _small(p) else round(c, 2),
                    "cost_per_participant": None if _small(p) else round(c / p, 2),
                    "is_suppressed": _small(smallest),
                })
    return {"programme_outcomes_months_since_start": rows}


# Budget reviews at the end of each quarter of 2024 and the first of 2025 (data as of 30-06-2025).
REVIEWS = [("2024-BO1", 2024, "BO1", "1. budgetopfølgning", date(2024, 3, 31)),
           ("2024-BO2", 2024, "BO2", "2. budgetopfølgning", date(2024, 6, 30)),
           ("2024-BO3", 2024, "BO3", "3. budgetopfølgning", date(2024, 9, 30)),
           ("2024-REG", 2024, "REG", "Regnskab", date(2024, 12, 31)),
           ("2025-BO1", 2025, "BO1", "1. budgetopfølgning", date(2025, 3, 31))]
DATA_AS_OF = date(2025, 6, 30)


def budget_rows() -> dict[str, list[dict]]:
    """Budget reviews per function (5.28.24 is carried by 2 persons: its actual is hidden), programme
    baselines, proposals under both models (FAMILIE has 3 citizens: hidden) and the decision register."""
    labels = {code: label for code, label, *_ in DEPARTMENTS}
    reviews, baseline, proposals = [], [], []
    for review_id, year, code, label, day in REVIEWS:
        share = day.month / 12
        for department, function, flabel, fshare, persons in FUNCTIONS:
            ledger = next(amount for c, _, amount, *_ in DEPARTMENTS if c == department) * 12 * fshare
            hidden = 1 <= persons < MIN_CELL
            corrected = round(ledger * 0.98, 2)
            expected = round(ledger * (1.03 if department == "boern_familie" else 0.99), 2)
            reviews.append({
                "review_id": review_id, "budget_year": year, "review_code": code, "review_label": label, "review_date": day,
                "is_annual_accounts": code == "REG", "department": department, "department_label": labels[department],
                "kontoplan_function": function, "function_label": flabel, "adopted_budget": round(ledger * 0.97, 2),
                "ledger_budget_corrections": round(ledger * 0.01, 2), "approved_decisions_to_date": 0,
                "approved_decisions_at_review": 0, "corrected_budget": corrected,
                "actual_to_date": None if hidden else round(expected * share, 2), "forecast_method": "seasonal",
                "year_share": round(share, 6), "expected_year_end": None if hidden else expected,
                "deviation": None if hidden else round(expected - corrected, 2),
                "deviation_pct": None if hidden else round((expected - corrected) / corrected, 4),
                "is_flagged_for_approval": None if hidden else expected - corrected > 0.01 * corrected,
                "is_suppressed": hidden, "data_as_of": DATA_AS_OF,
            })
        for programme, plabel, size in PROGRAMMES:
            participants = size if programme == "EN_PLAN" else 3
            hidden = participants < MIN_CELL
            for department, monthly in (("beskaeftigelse", 9_000), ("voksen_social", 2_500), ("sundhed", 800)):
                months = day.month
                baseline.append({
                    "programme_code": programme, "programme_label": plabel, "review_id": review_id, "review_label": label,
                    "budget_year": year, "review_date": day, "department": department, "department_label": labels[department],
                    "participants": None if hidden else participants,
                    "baseline_to_date": None if hidden else monthly * months * participants,
                    "actual_to_date": None if hidden else round(monthly * months * participants * 0.9, 2),
                    "below_baseline": None if hidden else round(monthly * months * participants * 0.1, 2),
                    "is_suppressed": hidden, "data_as_of": DATA_AS_OF,
                })
            # Network model: the jobcenter saves 120,000 kr. a year, adult social and health carry 30,000 and 10,000.
            for variant, months in (("forskud", 12), ("loebende", day.month)):
                for holder, hlabel, basis, cumulative in (("beskaeftigelse", "Beskæftigelse", 120_000, -40_000),
                                                          ("voksen_social", "Voksne og social", -30_000, 30_000),
                                                          ("sundhed", "Sundhed og omsorg", -10_000, 10_000),
                                                          ("kassen", "Kassen (netto)", 80_000, 80_000)):
                    amount = cumulative * months / 12
                    # up front: the year's effect at the first review, no true-up at a constant rate; as gains appear: a quarter
                    step = (amount if code == "BO1" else 0) if variant == "forskud" else cumulative * 3 / 12
                    proposals.append({
                        "programme_code": programme, "programme_label": plabel, "review_id": review_id, "budget_year": year,
                        "review_code": code, "review_label": label, "review_date": day, "model": "netvaerk", "variant": variant,
                        "budget_holder": holder, "budget_holder_label": hlabel,
                        "line_type": "rest" if holder == "kassen" else "omplacering",
                        **{k: (None if hidden else v) for k, v in {
                            "proposal_amount": step, "proposal_lower": min(step * 0.8, step * 1.2),
                            "proposal_upper": max(step * 0.8, step * 1.2), "cumulative_amount": amount,
                            "cumulative_lower": min(amount * 0.8, amount * 1.2), "cumulative_upper": max(amount * 0.8, amount * 1.2),
                            "basis_amount": basis * months / 12, "basis_lower": min(basis * months / 12 * 0.8, basis * months / 12 * 1.2),
                            "basis_upper": max(basis * months / 12 * 0.8, basis * months / 12 * 1.2), "share_of_budget": 0.0004,
                            "requires_approval": holder == "kassen" and amount < 0}.items()},
                        "interval_source": "bootstrap", "draws": 200, "department_budget": None if holder == "kassen" else 250_000_000,
                        "participants": None if hidden else participants, "is_suppressed": hidden, "data_as_of": DATA_AS_OF,
                    })
            for holder, hlabel, amount in (("beskaeftigelse", "Beskæftigelse", -400_000), ("voksen_social", "Voksne og social", -150_000),
                                           ("helhed", "Helhedsorienterede forløb", 550_000)):
                proposals.append({
                    "programme_code": programme, "programme_label": plabel, "review_id": review_id, "budget_year": year,
                    "review_code": code, "review_label": label, "review_date": day, "model": "saerskilt_enhed", "variant": "baseline",
                    "budget_holder": holder, "budget_holder_label": hlabel, "line_type": "omplacering",
                    **{k: (None if hidden else v) for k, v in {
                        "proposal_amount": amount if code == "BO1" else 0, "proposal_lower": amount if code == "BO1" else 0,
                        "proposal_upper": amount if code == "BO1" else 0, "cumulative_amount": amount, "cumulative_lower": amount,
                        "cumulative_upper": amount, "basis_amount": 20_000, "basis_lower": 5_000, "basis_upper": 35_000,
                        "share_of_budget": None, "requires_approval": False}.items()},
                    "interval_source": "regel", "draws": 200, "department_budget": None,
                    "participants": None if hidden else participants, "is_suppressed": hidden, "data_as_of": DATA_AS_OF,
                })
    decisions = [
        {"decision_id": "2025-BO1-01", "leg_number": 1, "review_id": "2025-BO1", "review_label": "1. budgetopfølgning",
         "programme_code": "EN_PLAN", "programme_label": PROGRAMMES[0][1], "direction": "fra", "department": "beskaeftigelse",
         "department_label": "Beskæftigelse", "kontoplan_function": "5.57.73", "function_label": FUNCTIONS[0][2], "amount": 40_000,
         "budget_change": -40_000, "decided_on": date(2025, 4, 25), "note": "Netværksmodellen", "is_valid": True,
         "status": "Indregnet i korrigeret budget", "rule": None, "rejection_reason": None,
         "source_file": "2025-05-01/budgetbeslutninger_20250501.csv", "delivery_date": date(2025, 5, 1), "data_as_of": DATA_AS_OF},
        {"decision_id": "2025-BO1-01", "leg_number": 2, "review_id": "2025-BO1", "review_label": "1. budgetopfølgning",
         "programme_code": "EN_PLAN", "programme_label": PROGRAMMES[0][1], "direction": "til", "department": "voksen_social",
         "department_label": "Voksne og social", "kontoplan_function": "5.38.42", "function_label": FUNCTIONS[7][2], "amount": 40_000,
         "budget_change": 40_000, "decided_on": date(2025, 4, 25), "note": "Netværksmodellen", "is_valid": True,
         "status": "Indregnet i korrigeret budget", "rule": None, "rejection_reason": None,
         "source_file": "2025-05-01/budgetbeslutninger_20250501.csv", "delivery_date": date(2025, 5, 1), "data_as_of": DATA_AS_OF},
        {"decision_id": "2025-BO1-02", "leg_number": 1, "review_id": "2025-BO1", "review_label": "1. budgetopfølgning",
         "programme_code": "FAMILIE", "programme_label": PROGRAMMES[1][1], "direction": "fra", "department": "boern_familie",
         "department_label": "Børn og familie", "kontoplan_function": "5.28.21", "function_label": FUNCTIONS[3][2], "amount": 1_000,
         "budget_change": -1_000, "decided_on": date(2025, 4, 25), "note": None, "is_valid": False, "status": "Afvist",
         "rule": "unbalanced_decision",
         "rejection_reason": "2025-05-01/budgetbeslutninger_20250501.csv, beslutning 2025-BO1-02, række med funktion 5.28.21 "
                             "(boern_familie): unbalanced_decision: beløb fra forvaltninger i alt 1000.00 kr. svarer ikke til "
                             "beløb til forvaltninger i alt 900.00 kr.",
         "source_file": "2025-05-01/budgetbeslutninger_20250501.csv", "delivery_date": date(2025, 5, 1), "data_as_of": DATA_AS_OF},
    ]
    return {"economy_budget_reviews": reviews, "economy_programme_baseline_by_department": baseline,
            "economy_budget_reallocation_proposals": proposals, "economy_budget_decisions": decisions}


def fixture_rows() -> dict[str, list[dict]]:
    return {**employment_rows(), **economy_rows(), **target_group_rows(), **programme_rows(), **budget_rows(),
            **evaluation_rows(), **dashboard_rows()}


def create_marts(s: Settings) -> dict[str, dict]:
    """Every public mart as its dbt contract defines it, with a few realistic rows, in MARTS_DB.

    Row values for columns the contract lacks are left out (a chart that needs such a column then
    fails on its own); contract columns the rows do not know get a typed default.
    """
    contracts = public_mart_contracts()
    rows = fixture_rows()
    with psycopg.connect(s.url("postgres"), autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", [MARTS_DB]).fetchone():
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(MARTS_DB)))
    with psycopg.connect(s.url(MARTS_DB), autocommit=True) as conn:
        conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(MARTS_DB)))
        conn.execute(sql.SQL("grant connect on database {} to helhed_reader").format(sql.Identifier(MARTS_DB)))
        conn.execute("revoke create on schema public from public")
        conn.execute("drop schema if exists marts cascade")
        conn.execute("create schema marts")
        for name, contract in contracts.items():
            definitions = [
                sql.SQL("{} {}{}").format(sql.Identifier(column), sql.SQL(data_type),
                                          sql.SQL(" not null" if not_null else ""))
                for column, data_type, not_null in contract["columns"]
            ]
            if contract["primary_key"]:
                definitions.append(sql.SQL("primary key ({})").format(
                    sql.SQL(", ").join(map(sql.Identifier, contract["primary_key"]))))
            conn.execute(sql.SQL("create table marts.{} ({})").format(
                sql.Identifier(name), sql.SQL(", ").join(definitions)))
            columns = [column for column, _, _ in contract["columns"]]
            values = [
                [row[column] if column in row else _default(data_type, MONTHS[0]) if not_null else None
                 for column, data_type, not_null in contract["columns"]]
                for row in rows.get(name) or [{}]
            ]
            with conn.cursor() as cur:
                cur.executemany(sql.SQL("insert into marts.{} ({}) values ({})").format(
                    sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join(sql.Placeholder() * len(columns))), values)
        conn.execute("grant usage on schema marts to helhed_reader")
        conn.execute("grant select on all tables in schema marts to helhed_reader")
        # The BI dashboard's audit tables, as the loader, the gates and publish create them.
        conn.execute("drop schema if exists audit cascade")
        conn.execute("drop schema if exists landing cascade")
        conn.execute(loading.AUDIT_DDL)
        conn.execute(gates.AUDIT_TABLE_DDL)
        conn.execute(publish.PUBLICATIONS_DDL)
        fill_audit(conn)
        conn.execute(sql.SQL("grant connect on database {} to helhed_bi").format(sql.Identifier(MARTS_DB)))
    apply_department_row_security(s)
    return contracts


def apply_department_row_security(s: Settings) -> None:
    """The dbt macro that nightly builds run as a post-hook, here on the contract-built marts."""
    env = {**os.environ, **s.libpq_env(MARTS_DB), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    target = Path(tempfile.mkdtemp(prefix="helhed-dbt-rls-"))
    try:
        proc = subprocess.run(
            [str(DBT), "run-operation", "apply_department_row_security", "--args", "{schema: marts}",
             "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT), "--target-path", str(target),
             "--log-path", str(target / "logs")],
            env=env, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    assert proc.returncode == 0, f"dbt run-operation failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def superset(pg: Settings) -> Iterator[tuple[Settings, dict[str, float]]]:
    """Superset initialised, started and provisioned on a free port; stopped afterwards."""
    create_marts(pg)
    overrides = {"HELHED_SUPERSET_PORT": str(free_port()), "HELHED_PG_DATABASE": MARTS_DB}
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    timings: dict[str, float] = {}
    try:
        began = time.monotonic()
        server.init(pg)
        timings["init"] = time.monotonic() - began
        timings["start"] = server.start(pg)
        yield pg, timings
    finally:
        server.stop(pg)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        print(f"\nSuperset timings: {', '.join(f'{k} {v:.1f}s' for k, v in timings.items())}")


def load_assets(kind: str) -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in provision.asset_files(provision.ASSETS_DIR / kind)]


def dashboard_chart_names(dashboard: dict) -> set[str]:
    return {node["meta"]["sliceName"] for node in dashboard["position"].values()
            if isinstance(node, dict) and node.get("type") == "CHART"}


def test_bundle_has_no_secrets_and_fills_connection(pg: Settings) -> None:
    files = provision.render_assets(pg)
    assert {name.split("/")[0] for name in files} >= {"metadata.yaml", "databases", "datasets", "charts", "dashboards"}
    database = yaml.safe_load(files["databases/helhed_datavarehus.yaml"])
    assert database["sqlalchemy_uri"] == (
        f"postgresql+psycopg2://helhed_reader:XXXXXXXXXX@{pg.pg_host}:{pg.pg_port}/"
        f"{os.environ.get('HELHED_PG_DATABASE', 'helhed')}"
    )
    for path in provision.asset_files():
        text = path.read_text(encoding="utf-8")
        for secret in (part for value in pg.secrets.values() for part in value.split(",") if part):
            assert secret not in text
    charts = [yaml.safe_load(text) for name, text in files.items() if name.startswith("charts/")]
    assert all(chart["query_context"] for chart in charts), "GET /chart/{id}/data/ needs a saved query_context"


def test_assets_read_only_public_marts_and_match_the_contracts() -> None:
    """Every dataset is a public mart (no person-level table) and uses its contract's columns."""
    contracts = public_mart_contracts()
    assert {"employment_benefits_monthly", "economy_cost_coverage_department_monthly",
            "target_groups_persons_monthly"} <= set(contracts)
    datasets = {dataset["uuid"]: dataset for dataset in load_assets("datasets")}
    bi_databases = {yaml.safe_load(p.read_text(encoding="utf-8"))["uuid"] for p in provision.asset_files(provision.ASSETS_DIR / "databases")
                    if provision.connection_user(p) == "helhed_bi"}
    for dataset in datasets.values():
        name = dataset["table_name"]
        if dataset["database_uuid"] in bi_databases:
            # BI only: operational datasets over audit (counts from landing.quarantine, never its lines)
            assert dataset["sql"] and re.search(r"\b(from|join) audit\.", dataset["sql"]), name
            assert "raw_line" not in dataset["sql"] and "detail" not in dataset["sql"], name
            continue
        assert dataset["schema"] == PUBLIC_SCHEMA and not dataset.get("sql"), f"{name}: not a physical dataset on marts"
        assert name in contracts, f"{name}: not a public mart of the dbt project"
        types = {column: _normalise_type(data_type) for column, data_type, _ in contracts[name]["columns"]}
        for column in dataset["columns"]:
            if column.get("expression"):
                continue  # calculated columns are checked by running the charts
            assert column["column_name"] in types, f"{name}.{column['column_name']} is not in the dbt contract"
            assert _normalise_type(column["type"]) == types[column["column_name"]], f"{name}.{column['column_name']}"
    charts = load_assets("charts")
    assert len({chart["slice_name"] for chart in charts}) == len(charts), "chart titles must be unique"
    for chart in charts:
        assert chart["dataset_uuid"] in datasets, chart["slice_name"]
    placed = set().union(*(dashboard_chart_names(d) for d in load_assets("dashboards")))
    assert placed == {chart["slice_name"] for chart in charts}, "every chart on a dashboard, every dashboard chart defined"


@pytest.fixture(scope="module")
def provisioned(superset) -> tuple[provision.Provisioned, provision.Provisioned]:
    """The assets imported and the access model synced, twice (the second run must change nothing)."""
    s, timings = superset
    first = provision.provision(s)
    timings["provision"] = first.seconds
    second = provision.provision(s)  # idempotent: same objects, overwritten by UUID
    timings["re-provision"] = second.seconds
    return first, second


def test_dashboards_are_provisioned_and_every_chart_returns_rows(superset, provisioned) -> None:
    s, timings = superset
    first, second = provisioned
    assert second.dashboards == first.dashboards and second.charts == first.charts
    # the access model: the same roles (same ids), permissions, dashboard roles and RLS filters
    assert second.access == first.access and first.access.roles

    dashboards = {d["dashboard_title"]: d for d in load_assets("dashboards")}
    assert set(first.dashboards) == set(dashboards) >= EXPECTED_DASHBOARDS

    client = provision.SupersetClient(server.base_url(), server.ADMIN_USERNAME, server.admin_password())
    data: dict[str, list[dict]] = {}
    timings["chart data"] = 0.0
    for title, dashboard in dashboards.items():
        charts = client.get(f"/api/v1/dashboard/{first.dashboards[title]}/charts")["result"]
        assert {chart["slice_name"] for chart in charts} == dashboard_chart_names(dashboard), title
        for chart in charts:
            began = time.monotonic()
            response = client.request("GET", f"/api/v1/chart/{chart['id']}/data/", params={"force": "true"})
            assert response.status_code == 200, f"{title} / {chart['slice_name']}: {response.status_code} {response.text[:500]}"
            results = response.json()["result"]
            assert results and results[0]["rowcount"] >= 1, f"{title} / {chart['slice_name']} returned no rows"
            assert not results[0].get("error"), results[0].get("error")
            data[chart["slice_name"]] = results[0]["data"]
            timings["chart data"] += time.monotonic() - began
    assert len(data) == len(first.charts)

    # Beskæftigelse: one series per benefit group; the suppressed group has no values
    rows = data["Fuldtidspersoner på ydelse efter ydelsesgruppe"]
    assert len(rows) == len(MONTHS)
    assert rows[0]["Førtidspension"] == pytest.approx(210.0)
    # The current month is marked on the axis; the big number shows the latest complete month.
    assert [row["maaned"] for row in rows] == [
        *(m.strftime("%Y-%m") for m in MONTHS[:-1]),
        f"{MONTHS[-1]:%Y-%m} (foreløbig, {DAYS_COVERED_IN_LATEST_MONTH} dage)",
    ]
    assert len(data["Fuldtidspersoner på ydelse, seneste hele måned"]) == len(MONTHS) - 1
    # Data pr.: the as-of date is the last day the current month's data cover
    assert data["Data pr. (beskæftigelse)"] == [{"data_pr": f"{DAYS_COVERED_IN_LATEST_MONTH:02d}-{MONTHS[-1]:%m-%Y}"}]
    assert data["Data pr. (aktivitet og tempo)"] == [{"data_pr": "14-06-2025"}]
    # Lorenz curve: one line per year, ending at 100 % of the cost
    lorenz = data["Lorenzkurve: kumuleret andel af udgifterne"]
    assert len(lorenz) == 100 and lorenz[-1]["2023"] == pytest.approx(1.0)

    # Økonomi: a suppressed department-month stays empty (not 0); a true 0 % is shown as 0
    rows = data["Dækningsgrad pr. forvaltning (henført til borgere)"]
    assert len(rows) == len(MONTHS)
    assert rows[MONTHS.index(SUPPRESSED_DEPARTMENT_MONTH[1])]["Sundhed og omsorg"] is None
    assert rows[0]["Sundhed og omsorg"] == pytest.approx(0.74, abs=1e-3)
    assert rows[0]["Beskæftigelse"] == pytest.approx(0.88, abs=1e-3)
    assert "Øvrige" not in rows[0]  # overheads no person carries: left out of the coverage chart
    stacked = data["Udgifter pr. forvaltning pr. måned"]
    assert stacked[MONTHS.index(SUPPRESSED_DEPARTMENT_MONTH[1])]["Sundhed og omsorg"] is None
    functions = {row["kontoplan_function"]: row for row in data["Udgifter efter kontoplanfunktion"]}
    assert functions["5.28.24"]["udgifter"] is None and functions["5.28.24"]["diskretionerede_maaneder"] == len(MONTHS)
    assert functions["5.57.73"]["udgifter"] > 0 and 0.8 < functions["5.57.73"]["daekningsgrad"] < 0.9
    kontant = functions["5.57.73"]
    assert kontant["nettodriftsudgifter"] == pytest.approx(kontant["bruttodriftsudgifter"] + kontant["refusion"], abs=1)
    assert kontant["refusion"] < 0 and kontant["foreloebige_maaneder"] == 1
    concentration = {row["aar"]: row for row in data["Udgiftskoncentration: andel brugt af de dyreste borgere"]}
    assert set(concentration) == {"2021", "2022", "2023", "2024", "2025 (ufuldstændigt)"}
    assert concentration["2021"]["andel_top_1_pct"] == pytest.approx(0.302)

    # Målgrupper: the definition version is in the series name and the table; small cells stay empty
    series = data["Personer pr. målgruppe pr. måned"]
    assert "Udsatte unge på offentlig forsørgelse med en social indsats (version 2)" in series[0]
    assert all(row["Borgere med både mentor og støtte- og kontaktperson (version 1)"] is None for row in series)
    versions = {row["target_group_label"]: row for row in data["Målgrupper og definitionsversioner"]}
    assert versions["Udsatte unge på offentlig forsørgelse med en social indsats"]["definition_version"] == 2
    assert versions["Komplekse familier"]["seneste_maaned"] == f"{MONTHS[-1]:%Y-%m} (foreløbig)"
    assert versions["Komplekse familier"]["personer_seneste_maaned"] == 905 + 5 * 9
    assert versions["Borgere med både mentor og støtte- og kontaktperson"]["personer_seneste_maaned"] is None
    latest = data["Personer i komplekse familier, seneste hele måned"]
    assert max(latest, key=lambda row: row["month"])["personer"] == 905 + 4 * 9  # May: June is not complete

    # Helhedsorienterede forløb: followed from the baseline over years, not only the first year
    outcome = data["Selvforsørgelsesandel efter måneder siden start"]
    months_since_start = [row["months_since_start"] for row in outcome]
    assert min(months_since_start) == -12 and max(months_since_start) >= 36
    assert {"Alle årgange", "Årgang 2021", "Årgang 2024"} <= set(outcome[0])
    follow_up = {row["months_since_start"] for row in data["Selvforsørgelsesandel ved opfølgning, 1 år før til 5 år efter start"]}
    assert {-12, 12, 24, 36} <= follow_up
    for row in outcome:
        for value in row.values():
            assert value is None or not (isinstance(value, float) and math.isnan(value))

    # Økonomi og budgetopfølgning: data pr., budget against actual per review (hidden functions left out of
    # all three), proposals with intervals under both models, the decision register with a rejection
    assert data["Data pr. (budgetopfølgning)"] == [{"data_pr": "30-06-2025"}]
    per_review = data["Budget, forbrug og forventet regnskab pr. budgetopfølgning"]
    assert len(per_review) == len(REVIEWS)
    visible = [f for f in FUNCTIONS if not 1 <= f[4] < MIN_CELL]
    assert per_review[0]["korrigeret_budget_viste"] == pytest.approx(sum(
        round(next(a for c, _, a, *_ in DEPARTMENTS if c == d) * 12 * s * 0.98, 2) for d, _, _, s, _ in visible))
    functions = [row for row in data["Budgetopfølgning pr. forvaltning og funktion"] if row["kontoplan_function"] == "5.28.24"]
    assert functions and all(row["forbrug_til_dato"] is None and row["korrigeret_budget"] > 0 for row in functions)
    proposals = data["Omplaceringsforslag med 95 %-intervaller"]
    assert {row["model_label"] for row in proposals} == {"Netværksmodel", "Særskilt enhed"}
    shown = [row for row in proposals if row["programme_label"] == PROGRAMMES[0][1] and row["proposal_amount"] is not None]
    assert shown and all(row["proposal_lower"] <= row["proposal_amount"] <= row["proposal_upper"] for row in shown)
    assert all(row["cumulative_amount"] is None for row in proposals if row["programme_label"] == PROGRAMMES[1][1])
    decisions = {row["decision_id"]: row for row in data["Beslutninger om budgetomplaceringer"]}
    assert decisions["2025-BO1-02"]["status"] == "Afvist" and "unbalanced_decision" in decisions["2025-BO1-02"]["rejection_reason"]
    assert decisions["2025-BO1-01"]["status"] == "Indregnet i korrigeret budget"
    # Effekt af helhedsorienterede forløb: effects with their intervals, never a bare estimate
    effect = data["Effekt på selvforsørgelse efter måneder siden start"]
    shown = [row for row in effect if row.get("effekt, Én plan - helhedsorienteret indsats") is not None]
    assert len(shown) > 12 and max(row["months_since_start"] for row in shown) >= 36
    for row in shown:
        assert row["nedre_graense, Én plan - helhedsorienteret indsats"] <= row["effekt, Én plan - helhedsorienteret indsats"]
        assert row["effekt, Én plan - helhedsorienteret indsats"] <= row["oevre_graense, Én plan - helhedsorienteret indsats"]
    assert all(row.get("effekt, Helhedsorienteret familieindsats") is None for row in effect)  # poor balance: not shown
    status = {row["programme_label"]: row for row in data["Matchrate, balance og fælles støtte"]}
    assert status["Én plan - helhedsorienteret indsats"]["Matchrate"] == pytest.approx(180 / 186, abs=1e-4)
    assert status["Koordinerende sagsbehandler"]["Matchede"] is None  # fewer than 5
    assert data["Data pr. (effektmåling)"][0]["data_pr"] == "31-12-2025"

    # the connection is the read-only reader, not the superuser
    database = client.get("/api/v1/database/", params={"q": "(filters:!((col:database_name,opr:eq,value:'helhed – datavarehus')))"})
    assert database["count"] == 1
    uri = client.get(f"/api/v1/database/{database['result'][0]['id']}/connection")["result"]["sqlalchemy_uri"]
    assert uri.startswith("postgresql+psycopg2://helhed_reader:")


def test_second_init_and_start_are_harmless(superset) -> None:
    s, timings = superset
    pid = server.read_pid(s)
    assert pid is not None
    began = time.monotonic()
    server.init(s)  # migrations at head, roles re-synced, admin password reset
    timings["second init"] = time.monotonic() - began
    assert server.start(s) < 5  # already running: only checks /health
    assert server.read_pid(s) == pid
    assert requests.get(f"{server.base_url()}/health", timeout=5).text.strip() == "OK"


def test_reader_reads_marts_but_not_restricted(pg: Settings) -> None:
    """The role behind Superset's connection: marts yes, person-level `restricted` no."""
    create_marts(pg)
    reader = pg.url(MARTS_DB, reader=True)
    with psycopg.connect(reader) as conn:
        assert conn.execute("select count(*) from marts.employment_benefits_monthly").fetchone()[0] > 0
    # the real warehouse, with the grants helhed.database.bootstrap gives
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        conn.execute("create table if not exists restricted.superset_reader_probe (person_key text, month date)")
        conn.execute("insert into restricted.superset_reader_probe values ('a', '2025-01-01')")
    try:
        with psycopg.connect(pg.url("helhed", reader=True)) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select * from restricted.superset_reader_probe")
            conn.rollback()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("create table marts.superset_reader_probe (x int)")
    finally:
        with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
            conn.execute("drop table if exists restricted.superset_reader_probe")


# --------------------------------------------------------------------------- access model

ROLE_PASSWORD = "Helhed-test-rolle-1"
PG_PASSWORD = "helhed-test-login-1"
#: Columns that count persons (or enrolments, answers, starts of distinct persons) in public marts.
COUNT_COLUMNS = {"persons", "participants", "self_supporting", "residents_16_64", "enrolments", "with_coordinator",
                 "with_joint_plan", "with_network_meeting", "survey_answers", "persons_with_parallel_services",
                 "matched", "evaluable", "starts", "rows_delivered"}
PUBLIC_ROLE = "leder"


@pytest.fixture(scope="module")
def role_clients(superset, provisioned) -> dict[str, provision.SupersetClient]:
    """One Superset user per role of superset/access.yaml, logged in."""
    first, _ = provisioned
    admin = provision.SupersetClient(server.base_url(), server.ADMIN_USERNAME, server.admin_password())
    existing = {u["username"] for u in admin.get("/api/v1/security/users/", params={"q": "(page_size:100)"})["result"]}
    clients = {}
    for role, role_id in first.access.roles.items():
        username = f"test_{role.lower()}"
        if username not in existing:
            response = admin.request("POST", "/api/v1/security/users/", json={
                "username": username, "first_name": role, "last_name": "Test", "email": f"{username}@helhed.invalid",
                "active": True, "password": ROLE_PASSWORD, "roles": [role_id]})
            assert response.status_code in (200, 201), response.text[:500]
        clients[role] = provision.SupersetClient(server.base_url(), username, ROLE_PASSWORD)
    return clients


def chart_rows(client: provision.SupersetClient, chart_id: int) -> tuple[int, list[dict]]:
    response = client.request("GET", f"/api/v1/chart/{chart_id}/data/", params={"force": "true"})
    if response.status_code != 200:
        return response.status_code, []
    return 200, response.json()["result"][0]["data"]


def test_each_role_sees_exactly_its_dashboards_with_data(provisioned, role_clients) -> None:
    first, _ = provisioned
    spec = access.load_spec()
    dashboards = {d["slug"]: d for d in load_assets("dashboards")}
    assert set(first.access.dashboard_roles) == set(dashboards)
    for role, client in role_clients.items():
        allowed = {slug for slug in dashboards if spec.role(role).sees(slug)}
        assert allowed, role
        for slug, dashboard in dashboards.items():
            dashboard_id = first.dashboards[dashboard["dashboard_title"]]
            response = client.request("GET", f"/api/v1/dashboard/{dashboard_id}")
            if slug not in allowed:
                assert response.status_code in (403, 404), f"{role} may open {slug}: {response.status_code}"
                continue
            assert response.status_code == 200, f"{role} / {slug}: {response.status_code} {response.text[:300]}"
            charts = client.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]
            assert {c["slice_name"] for c in charts} == dashboard_chart_names(dashboard), (role, slug)
            for chart in charts:
                status, rows = chart_rows(client, chart["id"])
                assert status == 200 and rows, f"{role} / {slug} / {chart['slice_name']}: {status}, {len(rows)} rows"
        # the BI dashboard's charts are refused to everybody else, also when asked for directly
        if not spec.role(role).sees("datakvalitet-og-drift"):
            chart_id = first.charts["Seneste levering pr. kilde"]
            assert chart_rows(client, chart_id)[0] in (403, 404), role


def test_sql_lab_only_for_bi(role_clients) -> None:
    def may_sql_lab(client: provision.SupersetClient) -> bool:
        return client.request("GET", "/api/v1/sqllab/", params={}).status_code == 200
    assert may_sql_lab(role_clients["BI"])
    assert not any(may_sql_lab(client) for role, client in role_clients.items() if role != "BI")


def test_department_role_sees_only_its_department(provisioned, role_clients) -> None:
    first, _ = provisioned
    everybody = {row["department_label"] for row in chart_rows(role_clients[PUBLIC_ROLE],
                                                               first.charts["Aktivitet efter målgruppe og forvaltning"])[1]}
    assert len(everybody) == 4
    for role in ("forvaltning_sundhed", "forvaltning_beskaeftigelse"):
        status, rows = chart_rows(role_clients[role], first.charts["Aktivitet efter målgruppe og forvaltning"])
        expected = {"forvaltning_sundhed": "Sundhed og omsorg", "forvaltning_beskaeftigelse": "Beskæftigelse"}[role]
        assert status == 200 and {row["department_label"] for row in rows} == {expected}
        status, rows = chart_rows(role_clients[role], first.charts["Udgift pr. personmåned efter forvaltning"])
        assert status == 200 and rows and all(set(row) <= {"aar", expected} for row in rows), rows[0]


def _count_metrics() -> dict[str, set[str]]:
    """Dataset uuid -> names of its metrics that show a count of persons (an aggregate of a count column)."""
    out = {}
    for dataset in load_assets("datasets"):
        names = set()
        for m in dataset.get("metrics") or []:
            found = re.fullmatch(r"(?:ROUND\()?(?:SUM|MAX|MIN|AVG)\((\w+)\)\)?", m["expression"].strip())
            if found and found.group(1) in COUNT_COLUMNS:
                names.add(m["metric_name"])
        out[dataset["uuid"]] = names
    return out


def test_no_public_chart_shows_a_count_from_1_to_4(provisioned, role_clients) -> None:
    """Every chart a leader may see, asked without its post-processing: no count metric or count column is 1-4."""
    first, _ = provisioned
    client = role_clients[PUBLIC_ROLE]
    counts = _count_metrics()
    charts = {c["slice_name"]: c for c in load_assets("charts")}
    spec = access.load_spec()
    checked = 0
    for dashboard in load_assets("dashboards"):
        if not spec.role(PUBLIC_ROLE).sees(dashboard["slug"]):
            continue
        for name in dashboard_chart_names(dashboard):
            chart = charts[name]
            context = json.loads(client.get(f"/api/v1/chart/{first.charts[name]}")["result"]["query_context"])
            for query in context["queries"]:
                query["post_processing"] = []
            context["force"] = True
            response = client.request("POST", "/api/v1/chart/data", json=context)
            assert response.status_code == 200, f"{name}: {response.status_code} {response.text[:300]}"
            watched = counts[chart["dataset_uuid"]] | COUNT_COLUMNS
            for row in response.json()["result"][0]["data"]:
                for column, value in row.items():
                    if column in watched and isinstance(value, (int, float)):
                        assert not 1 <= value < MIN_CELL, f"{name}: {column} = {value}"
                        checked += 1
    assert checked > 100


def test_bench_times_every_chart_of_every_dashboard(provisioned, role_clients) -> None:
    """The bench's Superset phase (helhed.bench.charts) on this module's Superset, kept cheap (the
    bench itself times every chart): the admin's plan holds every chart of every provisioned
    dashboard, the department's the charts of its dashboards, and a few timed requests (the
    department's through row-level security) come back uncached with their SQL."""
    from helhed.bench import charts

    first, _ = provisioned
    admin = provision.SupersetClient(server.base_url(), server.ADMIN_USERNAME, server.admin_password())
    everything = charts.viewer_charts(admin, first.dashboards, lambda _: True)
    assert {c.name for c in everything} == set(first.charts), "every chart of every dashboard is planned"
    assert all(c.dataset.startswith(("marts.", "audit.")) and c.dashboards for c in everything), "each names its mart"
    sees = access.load_spec().role(charts.RLS_ROLE).sees
    mine = charts.viewer_charts(role_clients[charts.RLS_ROLE], first.dashboards, sees)
    assert {c.name for c in mine} == {name for d in load_assets("dashboards") if sees(d["slug"])
                                      for name in dashboard_chart_names(d)}
    samples = charts.time_rounds([(charts.ADMIN, admin, everything[:2]),
                                  (charts.RLS_ROLE, role_clients[charts.RLS_ROLE], mine[:1])], rounds=1, warmup=0)
    assert [x.error for x in samples] == [None] * 3 and not any(x.cached for x in samples)
    assert all(x.queries and x.queries[0].lstrip().upper().startswith(("SELECT", "WITH")) for x in samples)
    result = charts.summarise(samples, {charts.ADMIN: {}, charts.RLS_ROLE: {}})
    assert result["requests"] == 3 and 0 < result["p50_ms"] <= result["max_ms"]


def test_access_spec_names_existing_dashboards() -> None:
    spec = access.load_spec()
    slugs = {d["slug"] for d in load_assets("dashboards")}
    assert {r.name for r in spec.roles} >= {"BI", "leder", "oekonomi", "forvaltning_sundhed"}
    for role in spec.roles:
        assert role.dashboards == ("all",) or set(role.dashboards) <= slugs, role.name
        assert role.sql_lab == (role.name == "BI"), role.name
    assert {r.name for r in spec.roles if r.sees("datakvalitet-og-drift")} == {"BI"}
    assert {r.name for r in spec.roles if r.sees("oekonomi-budgetopfoelgning")} == {"BI", "oekonomi"}
    assert all(any(r.sees(slug) for r in spec.roles if r.name != "BI") for slug in slugs - {"datakvalitet-og-drift"})
    passwords = provision.database_passwords(Settings.from_env())
    assert set(passwords) == {"databases/helhed_datavarehus.yaml", "databases/helhed_drift.yaml"}
    assert passwords["databases/helhed_drift.yaml"] != passwords["databases/helhed_datavarehus.yaml"]


def test_pg_roles_sync_is_idempotent(pg: Settings) -> None:
    """Every start of the database re-runs the sync: the logins and memberships stay the same."""
    query = ("select r.rolname, r.rolcanlogin, coalesce(array_agg(g.rolname order by g.rolname)"
             " filter (where g.rolname is not null), '{}') from pg_roles r"
             " left join pg_auth_members m on m.member = r.oid left join pg_roles g on g.oid = m.roleid"
             " where r.rolname like 'helhed\\_%' group by 1, 2 order by 1")
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        before = conn.execute(query).fetchall()
        access.ensure_pg_roles(conn, pg.secrets)
        access.ensure_pg_roles(conn, pg.secrets)
        after = conn.execute(query).fetchall()
    assert after == before
    roles = {name: (login, set(groups)) for name, login, groups in after}
    assert roles["helhed_leder"] == (True, {"helhed_reader"})
    assert roles["helhed_dept_sundhed"] == (True, {"helhed_reader", "helhed_department_staff"})
    assert roles["helhed_bi"] == (True, {"pg_read_all_data"})
    assert roles["helhed_department_staff"][0] is False


def login_url(s: Settings, database: str, user: str, password: str) -> str:
    return psycopg.conninfo.make_conninfo(host=s.pg_host, port=s.pg_port, dbname=database, user=user, password=password)


def test_pg_logins_read_only_what_their_level_may(pg: Settings, superset) -> None:
    """Direct SQL with a leader's or a department's credentials: marts yes, restricted/landing/audit no,
    and a department login sees its own department's rows only (PostgreSQL RLS from the dbt macro)."""
    spec = access.load_spec()
    logins = [spec.role("leder").pg_role, spec.role("oekonomi").pg_role, spec.role("forvaltning_sundhed").pg_role]
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        for login in logins:
            conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(login), sql.Literal(PG_PASSWORD)))
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        conn.execute("create table if not exists restricted.access_probe (person_key text)")
        conn.execute("insert into restricted.access_probe values ('a')")
        conn.execute("create table if not exists marts.access_probe (persons integer)")
        conn.execute("grant select on marts.access_probe to helhed_reader")
    try:
        for login in logins:
            for database in ("helhed", MARTS_DB):
                url = login_url(pg, database, login, PG_PASSWORD)
                with psycopg.connect(url, autocommit=True) as conn:
                    public = "marts.access_probe" if database == "helhed" else "marts.employment_benefits_monthly"
                    assert conn.execute(f"select count(*) from {public}").fetchone() is not None
                    for table in ("restricted.access_probe", "landing.quarantine", "audit.delivery_files",
                                  "audit.gate_results", "audit.publications"):
                        if database == MARTS_DB and table.startswith("restricted"):
                            continue
                        with pytest.raises(psycopg.errors.InsufficientPrivilege):
                            conn.execute(f"select * from {table} limit 1")
    finally:
        with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
            conn.execute("drop table if exists restricted.access_probe")
            conn.execute("drop table if exists marts.access_probe")

    def departments(login: str, table: str) -> set[str]:
        url = login_url(pg, MARTS_DB, login, PG_PASSWORD)
        with psycopg.connect(url) as conn:
            return {row[0] for row in conn.execute(f"select distinct department from marts.{table}")}

    for table in ("activity_tempo_yearly", "economy_cost_coverage_department_monthly", "economy_budget_reviews"):
        assert len(departments(spec.role("leder").pg_role, table)) >= 4, table
        assert departments(spec.role("forvaltning_sundhed").pg_role, table) == {"sundhed"}, table
    # the BI login reads everything, the audit tables included
    bi = login_url(pg, MARTS_DB, "helhed_bi", pg.secrets[access.BI_PASSWORD_SECRET])
    with psycopg.connect(bi) as conn:
        assert conn.execute("select count(*) from audit.delivery_files").fetchone()[0] > 0
        assert len({r[0] for r in conn.execute("select distinct department from marts.activity_tempo_yearly")}) == 4
    # ... but not the raw rows in landing (row-level security without a policy): raw CPR stays there
    with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
        loading.ensure_tables(conn, get_entity("cpr.persons"))
        conn.execute("insert into landing.cpr__persons (file_id, line_no) values (-1, 1)")
        landed = conn.execute("select count(*) from landing.cpr__persons").fetchone()[0]
    try:
        with psycopg.connect(login_url(pg, "helhed", "helhed_bi", pg.secrets[access.BI_PASSWORD_SECRET])) as conn:
            assert landed > 0 and conn.execute("select count(*) from landing.cpr__persons").fetchone()[0] == 0
            assert conn.execute("select count(*) from staging.cpr__persons").fetchone() is not None  # staging is readable
    finally:
        with psycopg.connect(pg.url("helhed"), autocommit=True) as conn:
            conn.execute("delete from landing.cpr__persons where file_id = -1")


def test_danish_number_and_date_formats_reach_the_browser(provisioned, role_clients) -> None:
    """superset_config.py sets the D3 locale once; every page's bootstrap data carries it to the charts."""
    import html

    cookies = screenshots.session_cookies(server.base_url(), "test_leder", ROLE_PASSWORD)
    page = requests.get(f"{server.base_url()}/superset/welcome/", cookies=cookies, timeout=60)
    assert page.status_code == 200
    found = re.search(r'data-bootstrap="([^"]+)"', page.text)
    assert found, "no bootstrap data on the welcome page"
    common = json.loads(html.unescape(found.group(1)))["common"]
    assert common["d3_format"]["decimal"] == "," and common["d3_format"]["thousands"] == "."
    assert common["d3_time_format"]["months"][2] == "marts" and common["d3_time_format"]["shortMonths"][4] == "maj"


# --------------------------------------------------------------------------- screenshots

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
#: Who each dashboard is shown as: its first intended reader in this order, and a department
#: role for the department dashboards (RLS), so every role kind is opened at least once.
SCREENSHOT_ROLES = ("leder", "oekonomi", "BI")
DEPARTMENT_SCREENSHOT_ROLE = "forvaltning_sundhed"


def screenshot_matrix(spec: access.AccessSpec) -> list[tuple[str, str]]:
    pairs = []
    for dashboard in load_assets("dashboards"):
        slug = dashboard["slug"]
        pairs.append((slug, next(r for r in SCREENSHOT_ROLES if spec.role(r).sees(slug))))
        if spec.role(DEPARTMENT_SCREENSHOT_ROLE).sees(slug):
            pairs.append((slug, DEPARTMENT_SCREENSHOT_ROLE))
    return sorted(pairs)


@pytest.mark.skipif(not Path(screenshots.CHROMIUM_DEFAULT).exists(), reason="Debian's chromium is not installed (make deps)")
def test_screenshots_of_every_dashboard_as_its_roles(superset, provisioned, role_clients) -> None:
    """Headless Chromium opens each dashboard as the roles meant for it; every chart renders with data."""
    s, timings = superset
    first, _ = provisioned
    spec = access.load_spec()
    charts = {d["slug"]: len(dashboard_chart_names(d)) for d in load_assets("dashboards")}
    titles = {d["slug"]: d["dashboard_title"] for d in load_assets("dashboards")}
    began = time.monotonic()
    shots: list[screenshots.Shot] = []
    by_role: dict[str, list[str]] = {}
    for slug, role in screenshot_matrix(spec):
        by_role.setdefault(role, []).append(slug)
    for role, slugs in by_role.items():
        cookies = screenshots.session_cookies(server.base_url(), f"test_{role.lower()}", ROLE_PASSWORD)
        jobs = [(f"{server.base_url()}/superset/dashboard/{first.dashboards[titles[slug]]}/?standalone=1",
                 SCREENSHOTS / f"{slug}-{role}.png", charts[slug]) for slug in slugs]
        shots += screenshots.take(server.base_url(), cookies, jobs)
    timings["screenshots"] = time.monotonic() - began
    problems = [f"{shot.path.name}: {shot.rendered}/{shot.charts} charts, errors {list(shot.errors)}, {shot.empty} empty"
                for shot in shots if not shot.ok]
    assert not problems, problems
    assert all(shot.path.stat().st_size > 20_000 for shot in shots)


# Last: stops the module's Superset.
def test_stop_ends_the_process_group(superset) -> None:
    s, _ = superset
    pid = server.read_pid(s)
    assert server.stop(s) is True
    assert server.read_pid(s) is None and not server.pid_file(s).exists()
    assert not server.is_healthy(f"http://127.0.0.1:{server.port()}", timeout=2)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert server.stop(s) is False
