"""The evaluation's tables: contracts (columns, types, keys) and how they are written.

Person-level results go to ``build_restricted`` (BI role only); suppressed aggregates go to
``build_marts``, which the mart gates validate (``expectations/marts__<table>.json``) and
``helhed.publish`` swaps into ``marts`` with the dbt marts. The contracts here play the part
of dbt's enforced contracts for these tables: the DDL is generated from them, the GX suites
check the same column set, and tests/test_superset.py builds the dashboard's test marts
from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

RESTRICTED, MARTS = "build_restricted", "build_marts"
READER_ROLE = "helhed_reader"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    not_null: bool = False
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    schema: str  # build schema: build_restricted or build_marts
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, data_type: str, description: str, not_null: bool = False) -> Column:
    return Column(name, data_type, not_null, description)


_PROGRAMME = (
    _c("programme_code", "text", "Programme code (service catalogue, source helhed).", True),
    _c("programme_label", "text", "Programme name.", True),
)

SUMMARY = Table(
    "programme_evaluation_summary", MARTS,
    "One row per programme: how many participants could be evaluated and matched, balance and overlap, and whether effects are shown.",
    (*_PROGRAMME,
     _c("method", "text", "Matching method and estimator in words.", True),
     _c("enrolments", "integer", "Enrolments in the programme (null below the smallest cell)."),
     _c("evaluable", "integer", "Enrolments with a full 12-month baseline in the data, resident throughout it."),
     _c("matched", "integer", "Evaluable participants with at least one comparison unit."),
     _c("match_rate", "numeric(6, 4)", "matched / evaluable."),
     _c("comparison_persons", "integer", "Distinct comparison persons used."),
     _c("common_support_share", "numeric(6, 4)", "Share of evaluable participants whose score lies inside the comparison units' range."),
     _c("max_abs_smd", "numeric(8, 4)", "Largest |standardised mean difference| after matching."),
     _c("share_balanced", "numeric(6, 4)", "Share of covariates with |SMD| after matching at most the threshold."),
     _c("is_balanced", "boolean", "Balance good enough (docs/economics.md).", True),
     _c("has_overlap", "boolean", "Common support and match rate good enough.", True),
     _c("is_shown", "boolean", "Effects are shown (balanced and overlapping).", True),
     _c("status", "text", "Danish text for the dashboard: why effects are or are not shown.", True),
     _c("replicates", "integer", "Bootstrap replicates behind the intervals.", True),
     _c("data_as_of", "date", "The warehouse's as-of date (latest benefit delivery)."),
     _c("is_suppressed", "boolean", "True when a count is hidden (below the smallest cell, or derivable).", True)),
    ("programme_code",),
)  # fmt: skip

BALANCE = Table(
    "programme_evaluation_balance", MARTS,
    "Balance table: per programme and baseline covariate, the means and standardised mean differences before and after matching.",
    (*_PROGRAMME,
     _c("covariate", "text", "Covariate code.", True),
     _c("covariate_label", "text", "Danish label.", True),
     _c("sort_order", "integer", "Display order.", True),
     _c("mean_participants", "numeric(16, 4)", "Mean among matched participants."),
     _c("mean_comparison_before", "numeric(16, 4)", "Mean among all eligible non-participants at the same start months."),
     _c("mean_comparison_after", "numeric(16, 4)", "Weighted mean among the matched comparison units."),
     _c("smd_before", "numeric(8, 4)", "Standardised mean difference before matching."),
     _c("smd_after", "numeric(8, 4)", "Standardised mean difference after matching."),
     _c("is_balanced", "boolean", "|SMD after| at most the threshold (config/evaluation.yaml)."),
     _c("is_suppressed", "boolean", "True when means are hidden (a derivable count below the smallest cell).", True)),
    ("programme_code", "covariate"),
)  # fmt: skip

EFFECTS = Table(
    "programme_evaluation_effects", MARTS,
    "Effects by months since start: differences in differences of participants against matched comparison units, with 95 % intervals.",
    (*_PROGRAMME,
     _c("outcome", "text", "Outcome code (helhed.evaluation.OUTCOMES).", True),
     _c("outcome_label", "text", "Danish label.", True),
     _c("outcome_unit", "text", "andel, antal or kr. (per participant and month).", True),
     _c("months_since_start", "integer", "Months from the start month (0).", True),
     _c("participants", "integer", "Matched participants observed in the month."),
     _c("comparison_persons", "integer", "Distinct comparison persons observed in the month."),
     _c("participants_mean", "numeric(16, 4)", "Participants' mean outcome in the month."),
     _c("counterfactual_mean", "numeric(16, 4)", "Participants' mean minus the effect: what they would have had without the programme."),
     _c("estimate", "numeric(16, 4)", "Effect (difference in differences); never without its interval."),
     _c("ci_lower", "numeric(16, 4)", "Lower bound of the 95 % interval (cluster bootstrap by person)."),
     _c("ci_upper", "numeric(16, 4)", "Upper bound of the 95 % interval."),
     _c("is_significant", "boolean", "The interval excludes zero."),
     _c("is_shown", "boolean", "The programme's balance and overlap allow showing effects.", True),
     _c("is_suppressed", "boolean", "True when numbers are hidden (fewer than the smallest cell).", True)),
    ("programme_code", "outcome", "months_since_start"),
)  # fmt: skip

FREED = Table(
    "programme_freed_resources_yearly", MARTS,
    "Freed resources (counterfactual minus actual cost; negative = extra cost), investment and cumulative net per programme, department and year.",
    (*_PROGRAMME,
     _c("department", "text", "Department code (seed departments), or i_alt for the sum over departments.", True),
     _c("department_label", "text", "Danish label.", True),
     _c("sort_order", "integer", "Display order (i_alt last).", True),
     _c("year", "integer", "Calendar year (the last year of the period).", True),
     _c("period_label", "text", "The year, or the years merged into it when a year had fewer participants than the smallest cell.", True),
     _c("participants", "integer", "Distinct participants in the period."),
     _c("freed", "numeric(16, 2)", "Freed resources in the period, kr."),
     _c("freed_ci_lower", "numeric(16, 2)", "Lower bound of the 95 % interval."),
     _c("freed_ci_upper", "numeric(16, 2)", "Upper bound of the 95 % interval."),
     _c("investment", "numeric(16, 2)", "The programme's own cost booked to this department (its PSP element), kr."),
     _c("net", "numeric(16, 2)", "freed - investment, kr."),
     _c("cumulative_net", "numeric(16, 2)", "Net from the programme's start to the end of the period, kr."),
     _c("cumulative_net_ci_lower", "numeric(16, 2)", "Lower bound of the 95 % interval."),
     _c("cumulative_net_ci_upper", "numeric(16, 2)", "Upper bound of the 95 % interval."),
     _c("is_shown", "boolean", "The programme's balance and overlap allow showing effects.", True),
     _c("is_suppressed", "boolean", "True when the period's numbers are hidden.", True)),
    ("programme_code", "department", "year"),
)  # fmt: skip

PAYBACK = Table(
    "programme_payback", MARTS,
    "Investment view per programme: total investment, freed resources and net to date, and the payback month with its interval.",
    (*_PROGRAMME,
     _c("first_month", "date", "The first month with investment on the PSP element."),
     _c("last_month", "date", "The last month of the data."),
     _c("participants", "integer", "Participants to date."),
     _c("investment_total", "numeric(16, 2)", "The programme's own cost to date, kr."),
     _c("freed_total", "numeric(16, 2)", "Freed resources to date, kr."),
     _c("freed_total_ci_lower", "numeric(16, 2)", "Lower bound of the 95 % interval."),
     _c("freed_total_ci_upper", "numeric(16, 2)", "Upper bound of the 95 % interval."),
     _c("net_total", "numeric(16, 2)", "freed_total - investment_total, kr."),
     _c("net_total_ci_lower", "numeric(16, 2)", "Lower bound of the 95 % interval."),
     _c("net_total_ci_upper", "numeric(16, 2)", "Upper bound of the 95 % interval."),
     _c("payback_month", "date", "First month from which the cumulative net stays at or above zero (null: not within the data)."),
     _c("payback_ci_lower", "date", "Earliest payback month of the 95 % interval."),
     _c("payback_ci_upper", "date", "Latest payback month of the 95 % interval (null: later than the data)."),
     _c("share_paid_back", "numeric(6, 4)", "Share of bootstrap replicates that pay back within the data."),
     _c("status", "text", "Danish text for the dashboard.", True),
     _c("is_shown", "boolean", "The programme's balance and overlap allow showing effects.", True),
     _c("is_suppressed", "boolean", "True when the numbers are hidden.", True)),
    ("programme_code",),
)  # fmt: skip

DRAWS = Table(
    "programme_freed_resources_draws", RESTRICTED,
    "Freed resources per programme, department and calendar month, per bootstrap draw (0 = point estimate); "
    "read by the budget reviews (counterfactual minus actual cost, positive = saved).",
    (_c("programme", "text", "Programme code.", True),
     _c("department", "text", "Department code (seed departments).", True),
     _c("month", "date", "Calendar month.", True),
     _c("draw", "integer", "0 = full sample, 1..B = bootstrap replicates.", True),
     _c("freed_dkk", "numeric(16, 2)", "Freed resources in kroner.", True)),
    ("programme", "department", "month", "draw"),
)  # fmt: skip

ESTIMATES = Table(
    "programme_evaluation_estimates", RESTRICTED,
    "Every estimate unsuppressed (BI role): the matched estimator and the naive ones for comparison.",
    (_c("programme_code", "text", "", True), _c("estimator", "text", "matched_did, naive_before_after or naive_unmatched.", True),
     _c("outcome", "text", "", True), _c("months_since_start", "integer", "", True),
     _c("participants", "integer", "", True), _c("comparison_persons", "integer", "", True),
     _c("participants_mean", "numeric(16, 4)", ""), _c("estimate", "numeric(16, 4)", ""),
     _c("ci_lower", "numeric(16, 4)", ""), _c("ci_upper", "numeric(16, 4)", "")),
    ("programme_code", "estimator", "outcome", "months_since_start"),
)  # fmt: skip

UNITS = Table(
    "programme_evaluation_units", RESTRICTED,
    "Evaluable participants and the comparison units matched to them (person level, BI role).",
    (_c("programme_code", "text", "", True), _c("person_key", "text", "", True), _c("start_month", "date", "", True),
     _c("enrolment_id", "text", "The enrolment (participants); null for comparison units."),
     _c("is_participant", "boolean", "", True), _c("logit_score", "numeric(12, 6)", "Logit of the propensity score.", True),
     _c("is_matched", "boolean", "Participant with a match, or comparison unit used.", True),
     _c("on_common_support", "boolean", "Participant inside the comparison units' score range."),
     _c("comparison_weight", "numeric(12, 6)", "Weight as a comparison unit.", True)),
    ("programme_code", "person_key", "start_month", "is_participant"),
)  # fmt: skip

MATCHES = Table(
    "programme_evaluation_matches", RESTRICTED,
    "Matched pairs: participant enrolment and comparison person at the same start month.",
    (_c("programme_code", "text", "", True), _c("enrolment_id", "text", "", True), _c("comparison_person_key", "text", "", True),
     _c("start_month", "date", "", True), _c("distance", "numeric(12, 6)", "Distance of the logit scores.", True)),
    ("programme_code", "enrolment_id", "comparison_person_key"),
)  # fmt: skip

INVESTMENT = Table(
    "programme_investment_monthly", RESTRICTED,
    "The programme's own cost per month and department: the ledger amounts on its PSP element.",
    (_c("programme_code", "text", "", True), _c("department", "text", "", True), _c("month", "date", "", True),
     _c("amount", "numeric(16, 2)", "", True)),
    ("programme_code", "department", "month"),
)  # fmt: skip

PUBLIC_TABLES = (SUMMARY, BALANCE, EFFECTS, FREED, PAYBACK)
RESTRICTED_TABLES = (DRAWS, ESTIMATES, UNITS, MATCHES, INVESTMENT)


def public_contracts() -> dict[str, dict[str, Any]]:
    """The public tables as tests/test_superset.py reads dbt contracts: columns and primary key."""
    return {
        t.name: {"columns": [(c.name, c.data_type, c.not_null) for c in t.columns], "primary_key": list(t.primary_key)}
        for t in PUBLIC_TABLES
    }


def write_table(conn: psycopg.Connection, table: Table, rows: Iterable[Sequence[Any]]) -> int:
    """(Re)create ``table`` from its contract and COPY the rows in; comments from the descriptions.

    Dropping and recreating makes the step idempotent: a rerun of the same night replaces the
    tables. The build schema must exist (dbt created it this night).
    """
    ident = sql.Identifier(table.schema, table.name)
    conn.execute(sql.SQL("drop table if exists {}").format(ident))
    definitions = [
        sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(c.data_type), sql.SQL(" not null" if c.not_null else ""))
        for c in table.columns
    ]
    definitions.append(sql.SQL("primary key ({})").format(sql.SQL(", ").join(map(sql.Identifier, table.primary_key))))
    conn.execute(sql.SQL("create table {} ({})").format(ident, sql.SQL(", ").join(definitions)))
    count = 0
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("copy {} ({}) from stdin").format(ident, sql.SQL(", ").join(map(sql.Identifier, table.column_names)))) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    conn.execute(sql.SQL("comment on table {} is {}").format(ident, sql.Literal(table.description)))
    for c in table.columns:
        if c.description:
            conn.execute(sql.SQL("comment on column {}.{} is {}").format(ident, sql.Identifier(c.name), sql.Literal(c.description)))
    if table.schema == MARTS:
        conn.execute(sql.SQL("grant select on {} to {}").format(ident, sql.Identifier(READER_ROLE)))
    conn.execute(sql.SQL("analyze {}").format(ident))
    return count
