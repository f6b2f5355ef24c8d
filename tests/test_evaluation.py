"""The programme evaluation recovers the generator's planted effects, end to end.

One municipality (10,000 residents x 6 years, programmes launched in 2021 at 3.5 times the
Randers enrolment rate so a test has a few hundred participants) is generated, loaded with the
loader into a database of its own, built with dbt and evaluated once for the module. The
generator plants selection on the observed baseline (participants are worse off) and effects
on each participant's untreated course, and writes the exact truth: the effect of every
enrolment, month since start and outcome (``truth_programme_effects.csv.gz``) and the freed
resources per programme, department and year (manifest).

What the tests hold the evaluation to (docs/economics.md):
- the matched estimate's 95 % interval covers the planted effect (the truth over exactly the
  participants it matched and observed) in at least 90 % of the cells with 20 or more
  participants, and in every one of the central follow-up months 12, 24 and 36 of the main
  outcomes but at most two;
- on the same data, the naive before/after comparison is biased where the matched one is not
  (pooled over months 6-12, before any planted exit), and the participant/non-participant
  difference points the way the selection predicts;
- the zero-effect programme's intervals cover zero;
- balance after matching is within the configured limits and better than before;
- freed resources per department and year lie inside their intervals;
- no published count is below the smallest cell, and the mart gates pass.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import yaml
from psycopg import sql

from helhed import gates, loading
from helhed.config import REPO_ROOT, Settings, ensure_secrets
from helhed.evaluation import OUTCOMES, estimate, evaluate, matching, run, tables
from helhed.evaluation.panel import load_panel
from helhed.evaluation.settings import EvaluationConfig
from helhed.generator import generate
from helhed.generator.effects import OUTCOMES as GENERATOR_OUTCOMES
from helhed.generator.effects import TRUTH_FILE
from helhed.generator.profile import load_profile
from helhed.sources import load_sources

pytestmark = pytest.mark.slow

DBT = Path(os.environ.get("HELHED_DBT", REPO_ROOT / ".venv" / "bin" / "dbt"))
PROJECT_DIR = REPO_ROOT / "dbt_project"
DATABASE = "helhed_evaluation"
END = date(2025, 12, 31)
RESIDENTS, YEARS, SEED, VOLUME = 10_000, 6, 6, 3.5
REPLICATES = 150
MAIN_OUTCOMES = ("self_supporting", "ordinary_employment", "departments", "services", "cost_total")
CENTRAL_MONTHS = (12, 24, 36)
MIN_PARTICIPANTS = 20
#: Months since start before any planted exit (EN_PLAN's exits come 12-54 months after the start).
BEFORE_EXIT = tuple(range(6, 13))
#: The panel orders persons by pseudonym, and the bootstrap weights, the tie-breaks of the
#: matching and the naive sample follow that order: with the session's random key, every run of
#: the same seed would draw other replicates (the coverage moved by about 0.005 from run to run).
#: A fixed key makes a seed give the same intervals on every machine.
PSEUDONYM_KEY = "evaluation-test-pseudonym-key"


@dataclass(frozen=True)
class EvaluationSettings(Settings):
    """Settings whose warehouse database is ``DATABASE`` (the loader, dbt and the step write there)."""

    database: str = DATABASE

    @cached_property
    def secrets(self) -> dict[str, str]:
        return {**ensure_secrets(self.home), "HELHED_PSEUDONYM_KEY": PSEUDONYM_KEY, "HELHED_PSEUDONYM_ROTATION_KEYS": ""}

    def url(self, database: str = "helhed", **kwargs: Any) -> str:  # type: ignore[override]
        return super().url(self.database if database == "helhed" else database, **kwargs)

    def libpq_env(self, database: str = "helhed") -> dict[str, str]:
        return super().libpq_env(self.database if database == "helhed" else database)


@dataclass
class Evaluated:
    settings: EvaluationSettings
    manifest: dict[str, Any]
    summary: dict[str, Any]
    effects: dict[tuple[str, str, int], float]  # (enrolment, outcome, k) -> planted effect
    data_dir: Path
    config: EvaluationConfig
    cache: dict[str, Any] = field(default_factory=dict)

    def rows(self, query: str | sql.Composable, params: Any = None) -> list[tuple]:
        with psycopg.connect(self.settings.url(), autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def estimates(self, estimator: str) -> dict[tuple[str, str, int], tuple[int, float, float, float]]:
        if estimator not in self.cache:
            self.cache[estimator] = {
                (p, o, k): (n, float(e), float(lo), float(hi))
                for p, o, k, n, e, lo, hi in self.rows(
                    "select programme_code, outcome, months_since_start, participants, estimate, ci_lower, ci_upper "
                    "from build_restricted.programme_evaluation_estimates where estimator = %s and estimate is not null "
                    "and ci_lower is not null", (estimator,))
            }
        return self.cache[estimator]

    def observed(self) -> dict[str, dict[int, list[str]]]:
        """Per programme and k: the matched participants observed at k (resident on the 1st, inside the data)."""
        if "observed" not in self.cache:
            out: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
            for programme, enrolment, k in self.rows(
                "select u.programme_code, u.enrolment_id, (extract(year from age(f.month, u.start_month)) * 12"
                " + extract(month from age(f.month, u.start_month)))::int"
                " from build_restricted.programme_evaluation_units u"
                " join build_restricted.fct_person_month f on f.person_key = u.person_key and f.month >= u.start_month"
                " where u.is_participant and u.is_matched and f.is_resident"
            ):
                if k <= self.config.follow_up_months:
                    out[programme][k].append(enrolment)
            self.cache["observed"] = out
        return self.cache["observed"]

    def truth(self, programme: str, outcome: str, k: int, enrolments: list[str] | None = None) -> float:
        chosen = self.observed()[programme][k] if enrolments is None else enrolments
        return sum(self.effects.get((e, outcome, k), 0.0) for e in chosen) / len(chosen)

    def draws(self, programme: str) -> tuple[run.ProgrammeResult, tuple[str, ...]]:
        """Every estimator's bootstrap draws for ``programme``, recomputed as the step computes them
        (same panel, weights and matches), for statistics the tables do not keep (pooled months)."""
        if ("draws", programme) not in self.cache:
            with psycopg.connect(self.settings.url()) as conn:
                panel = load_panel(conn, self.config.eligible_benefit_groups)
            outcomes = run.outcomes_for(panel.cost_departments)
            weights = estimate.person_weights(len(panel.persons), self.config.replicates, self.config.seed)
            no_investment = np.zeros((len(panel.months), len(panel.cost_departments)))
            try:
                result = run.evaluate_programme(panel, programme, programme, self.config, weights, outcomes,
                                                [panel.outcome(o) for o in outcomes], no_investment)
            finally:
                matching.clear_cache()
            self.cache[("draws", programme)] = (result, outcomes)
        return self.cache[("draws", programme)]


def _profile(path: Path) -> Path:
    """Randers with the programmes launched in 2021 and VOLUME times the enrolments."""
    programmes = []
    for prog in load_profile("randers").raw["programmes"]:
        programmes.append({**prog, "launched": "2021-01-01",
                           "enrolments_per_year_per_100k": round(prog["enrolments_per_year_per_100k"] * VOLUME)})
    path.write_text(yaml.safe_dump({"base": "randers", "name": "evaluation_test", "programmes": programmes}, allow_unicode=True),
                    encoding="utf-8")
    return path


def _dbt(env: dict[str, str], target: Path, *args: str) -> None:
    cmd = [str(DBT), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
           "--target-path", str(target), "--log-path", str(target / "logs")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=1800)
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def evaluated(pg: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluated]:
    data_dir = tmp_path_factory.mktemp("evaluation_data")
    settings = EvaluationSettings(home=pg.home, data_dir=data_dir, pg_host=pg.pg_host, pg_port=pg.pg_port,
                                  pg_superuser=pg.pg_superuser)
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(settings.url(), autocommit=True) as conn:
        for schema in ("landing", "audit", "staging"):  # as helhed.database.bootstrap does
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    manifest = generate(profile=_profile(data_dir / "evaluation_test.yaml"), residents=RESIDENTS, years=YEARS, seed=SEED,
                        out=data_dir, end_date=END, show_progress=False)
    for source in load_sources(include_disabled=True).values():
        for entity in source.entities:
            loading.load_entity(settings, entity, END)
    env = {**os.environ, **settings.libpq_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    target = tmp_path_factory.mktemp("evaluation_target")
    _dbt(env, target, "seed")
    _dbt(env, target, "build")
    config = EvaluationConfig.load(replicates=REPLICATES)
    summary = evaluate(settings, config)
    effects: dict[tuple[str, str, int], float] = {}
    with gzip.open(data_dir / TRUTH_FILE, "rt", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            effects[(r["enrolment_id"], r["outcome"], int(r["months_since_start"]))] = float(r["effect"])
    print(f"\nevaluation: {json.dumps(summary['seconds'])}; {json.dumps(summary['programmes'], default=str)}")
    yield Evaluated(settings, manifest, summary, effects, data_dir, config)


def _covers(lo: float, hi: float, value: float, tol: float = 1e-6) -> bool:
    return lo - tol <= value <= hi + tol


# --------------------------------------------------------------------------- truth and warehouse agree


def test_generator_and_evaluation_measure_the_same_outcomes(evaluated: Evaluated) -> None:
    """The truth's outcomes are the warehouse's: the participants' mean outcome per month since
    start is the same from the generator's arrays and from the evaluation panel (cost within
    the ledger's 0.4 % random corrections, which are noise, not effect)."""
    assert GENERATOR_OUTCOMES == OUTCOMES
    with psycopg.connect(evaluated.settings.url()) as conn:
        panel = load_panel(conn, evaluated.config.eligible_benefit_groups)
    truth = evaluated.manifest["truth"]["programme_evaluation"]
    for programme in ("EN_PLAN", "FAMILIE"):
        enrol = panel.enrolments[panel.enrolments["programme_code"] == programme]
        person, start = enrol["person"].to_numpy(), enrol["start"].to_numpy()
        for outcome in OUTCOMES:
            y = panel.outcome(outcome)
            for k in (0, 12, 24, 36):
                month = start + k
                seen = month < y.shape[1]
                seen[seen] &= panel.resident[person[seen], month[seen]]
                planted = truth[programme]["outcomes"][outcome][str(k)]
                assert planted["participants"] == int(seen.sum()), (programme, outcome, k)
                mean = float(y[person[seen], month[seen]].mean())
                tolerance = 0.01 * max(abs(mean), 100.0) if outcome.startswith("cost") else 1e-6  # 6 decimals
                assert abs(planted["treated_mean"] - mean) <= tolerance, (programme, outcome, k, planted, mean)


def test_participants_are_worse_off_at_baseline(evaluated: Evaluated) -> None:
    balance = {(p, c): (float(b), float(a)) for p, c, b, a in evaluated.rows(
        "select programme_code, covariate, smd_before, smd_after from build_marts.programme_evaluation_balance")}
    for covariate in ("months_on_support", "departments_mean", "log_cost_total"):
        assert balance[("EN_PLAN", covariate)][0] > 0.15, covariate
    assert balance[("FAMILIE", "child_measure")][0] > 0.1


# --------------------------------------------------------------------------- effects


def test_planted_effects_lie_inside_the_matched_intervals(evaluated: Evaluated) -> None:
    """Coverage of the planted effect by the matched 95 % intervals (estimate +- 1.96 bootstrap
    standard errors), over the cells with at least 20 participants.

    Why at least 90 % and not 95 %: the cells are not independent. The same persons are in every
    month since start and in every outcome (a placement is child_placed, cost_boern_familie and
    cost_total at once, for years), so misses come in runs and the coverage of one generated
    municipality varies much more than 1,600 independent cells would. Measured on 11
    municipalities (seeds 6-11 of this profile and seeds 6-10 before the generator calibration
    was merged): coverage 0.918-0.979, mean 0.96, standard deviation 0.02, i.e. about 100
    effectively independent cells; 0.90 is three standard deviations below the mean. (The
    earlier quantile intervals covered 0.89-0.96, mean 0.93, and failed this bound in 3 of the 11.)
    """
    matched = evaluated.estimates("matched_did")
    cells = covered = 0
    central_misses = []
    for (programme, outcome, k), (n, est, lo, hi) in sorted(matched.items()):
        if n < MIN_PARTICIPANTS:
            continue
        planted = evaluated.truth(programme, outcome, k)
        ok = _covers(lo, hi, planted)
        cells += 1
        covered += ok
        if programme == "EN_PLAN" and outcome in MAIN_OUTCOMES and k in CENTRAL_MONTHS and not ok:
            central_misses.append((outcome, k, planted, est, lo, hi))
    print("\nplanted vs estimated (matched participants observed at k):")
    for programme in ("EN_PLAN", "FAMILIE", "KOORD"):
        for outcome in (*MAIN_OUTCOMES, "child_placed", "cost_boern_familie"):
            for k in CENTRAL_MONTHS:
                if (programme, outcome, k) in matched:
                    n, est, lo, hi = matched[(programme, outcome, k)]
                    print(f"  {programme:8s} {outcome:20s} {k:2d}  n={n:3d}  planted {evaluated.truth(programme, outcome, k):10.3f}"
                          f"  estimate {est:10.3f}  [{lo:10.3f}, {hi:10.3f}]")
    print(f"coverage {covered}/{cells} = {covered / cells:.3f}; central misses {central_misses}")
    assert cells > 1000
    assert covered / cells >= 0.90, (covered, cells)
    assert len(central_misses) <= 2, central_misses


def test_naive_comparisons_are_biased_where_the_matched_one_is_not(evaluated: Evaluated) -> None:
    """Self-support of EN_PLAN participants 6-12 months after start, before any planted exit
    (truth 0 in every month), pooled over the seven months (their mean, per bootstrap draw).

    The participants' own before/after change is biased upwards: they were chosen while on
    benefits, and many leave anyway; its interval lies above the truth, while the matched
    interval covers it. The unmatched participant/non-participant difference lies below the
    truth: participants are worse off than other recipients (longer on benefits), so fewer of
    them are self-supporting with or without the programme. Pooled, because one month's naive
    interval is about as wide as the bias at 6 months: month by month, the before/after
    interval excluded the truth at k = 6 in only 6 of 11 generated municipalities (seeds 6-11,
    and 6-10 before the calibration was merged; the bias is 0.02-0.13 at k = 6 in both), pooled
    over 6-12 in all 11 (bias 0.08-0.21, standard error about 0.04), where the matched interval
    covered the truth in all 11 and the unmatched difference was below it in all 11 (by
    0.005-0.11).
    """
    result, outcomes = evaluated.draws("EN_PLAN")
    j = outcomes.index("self_supporting")
    ks = list(BEFORE_EXIT)
    for k in ks:
        assert evaluated.truth("EN_PLAN", "self_supporting", k) == 0.0, k
    stored = evaluated.estimates("matched_did")
    for k in ks:  # the recomputed draws are the step's
        assert result.estimates["matched_did"].effect[0, k, j] == pytest.approx(stored[("EN_PLAN", "self_supporting", k)][1], abs=1e-4)
    pooled = {name: result.estimates[name].effect[:, ks, j].mean(axis=1) for name in run.ESTIMATORS}
    intervals = {name: estimate.normal_interval(draws) for name, draws in pooled.items()}
    print("\nEN_PLAN self-support, months 6-12 pooled (truth 0):",
          {name: (round(float(d[0]), 4), *(round(float(b), 4) for b in intervals[name])) for name, d in pooled.items()})
    lo, hi = intervals["matched_did"]
    assert lo <= 0.0 <= hi, intervals["matched_did"]
    assert intervals["naive_before_after"][0] > 0.0, intervals["naive_before_after"]
    assert pooled["naive_unmatched"][0] < 0.0, intervals["naive_unmatched"]


def test_the_zero_effect_programme_covers_zero(evaluated: Evaluated) -> None:
    planted = evaluated.manifest["truth"]["programme_evaluation"]["KOORD"]
    assert all(cell["effect"] in (0.0, None) for outcome in planted["outcomes"].values() for cell in outcome.values())
    cells = [(lo, hi) for (p, _, _), (n, _, lo, hi) in evaluated.estimates("matched_did").items() if p == "KOORD" and n >= MIN_PARTICIPANTS]
    assert len(cells) > 300
    assert sum(_covers(lo, hi, 0.0) for lo, hi in cells) / len(cells) >= 0.90


def test_balance_after_matching_is_within_the_limits(evaluated: Evaluated) -> None:
    config = evaluated.config
    summary = {p: (m, s, b, shown) for p, m, s, b, shown in evaluated.rows(
        "select programme_code, max_abs_smd, share_balanced, is_balanced, is_shown from build_marts.programme_evaluation_summary")}
    for programme in ("EN_PLAN", "KOORD"):
        max_smd, share, balanced, shown = summary[programme]
        assert balanced and shown and float(max_smd) <= config.smd_limit and float(share) >= config.min_share_balanced
        # the published rate may be hidden (1-4 unmatched is a small cell); the step's own summary has it
        assert evaluated.summary["programmes"][programme]["match_rate"] >= 0.8
    rows = evaluated.rows("select smd_before, smd_after from build_marts.programme_evaluation_balance where programme_code = 'EN_PLAN'")
    before = np.array([abs(float(b)) for b, _ in rows])
    after = np.array([abs(float(a)) for _, a in rows])
    assert after.mean() < before.mean() / 2 and after.max() < before.max()


# --------------------------------------------------------------------------- money


def test_freed_resources_lie_inside_their_intervals(evaluated: Evaluated) -> None:
    """Per programme, department and calendar year: the planted freed resources (over every
    participant) inside the 95 % interval (estimate +- 1.96 standard deviations of the draws, as
    the marts publish it) in at least 85 % of the cells with participants, and every draw's
    departments add up to the total cost's effect."""
    draws: dict[tuple[str, str, int], list[float]] = defaultdict(lambda: [0.0] * (REPLICATES + 1))
    for programme, department, month, draw, freed in evaluated.rows(
        "select programme, department, month, draw, freed_dkk from build_restricted.programme_freed_resources_draws"
    ):
        draws[(programme, department, month.year)][draw] += float(freed)
    planted = evaluated.manifest["truth"]["programme_evaluation"]
    cells = covered = 0
    for (programme, department, year), values in draws.items():
        truth = planted[programme]["freed_resources_by_year"][department][str(year)]
        lo, hi = estimate.normal_interval(np.array(values))  # the marts' interval rule
        cells += 1
        covered += _covers(lo, hi, truth, tol=1.0)
    assert cells >= 3 * 5 * 4
    assert covered / cells >= 0.85, (covered, cells)
    columns = evaluated.rows(
        "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns "
        "where table_schema = 'build_restricted' and table_name = 'programme_freed_resources_draws' order by ordinal_position")
    assert columns == [("programme", "text", None, None), ("department", "text", None, None), ("month", "date", None, None),
                       ("draw", "integer", 32, 0), ("freed_dkk", "numeric", 16, 2)]
    departments = {d for (d,) in evaluated.rows("select distinct department from build_restricted.programme_freed_resources_draws")}
    with (PROJECT_DIR / "seeds" / "departments.csv").open(encoding="utf-8") as f:
        assert departments <= {r["department"] for r in csv.DictReader(f)}
    (n_draws,) = evaluated.rows("select count(distinct draw) from build_restricted.programme_freed_resources_draws")[0]
    assert n_draws == REPLICATES + 1


def test_payback_and_investment_come_from_the_ledger(evaluated: Evaluated) -> None:
    invested = dict(evaluated.rows("select programme_code, investment_total from build_marts.programme_payback"))
    ledger = dict(evaluated.rows(
        "select p.wbs_element, sum(case when p.debit_credit = 'K' then -p.amount else p.amount end) "
        "from build_stg.stg_oekonomi__postings p group by 1"))
    for code, spec in evaluated.config.programmes.items():
        assert float(invested[code]) == pytest.approx(float(ledger[spec.wbs_element]), abs=0.05)
    for code, lo, point, _hi, status in evaluated.rows(
        "select programme_code, payback_ci_lower, payback_month, payback_ci_upper, status from build_marts.programme_payback where is_shown"
    ):
        assert point is None or lo is None or lo <= point, code
        assert status


# --------------------------------------------------------------------------- publication


def test_public_marts_pass_their_gates_and_hide_small_cells(evaluated: Evaluated) -> None:
    for table in tables.PUBLIC_TABLES:
        result = gates.run_suite(evaluated.settings, f"marts__{table.name}", "build_marts", table.name, "test_evaluation")
        assert result.passed, result.summary()
    small = evaluated.rows(
        "select 'effects', count(*) from build_marts.programme_evaluation_effects where participants < 5 or comparison_persons < 5 "
        "union all select 'freed', count(*) from build_marts.programme_freed_resources_yearly where participants < 5 "
        "union all select 'summary', count(*) from build_marts.programme_evaluation_summary where matched < 5 or evaluable - matched between 1 and 4")
    assert all(n == 0 for _, n in small), small
    (hidden,) = evaluated.rows("select count(*) from build_marts.programme_evaluation_effects where is_suppressed and participants is null")[0]
    assert hidden > 0  # the last months since start have few participants
    (bare,) = evaluated.rows("select count(*) from build_marts.programme_evaluation_effects"
                             " where estimate is not null and (ci_lower is null or ci_upper is null)")[0]
    assert bare == 0
    grants = {t for (t,) in evaluated.rows(
        "select table_name from information_schema.role_table_grants where grantee = 'helhed_reader' and table_schema = 'build_marts'")}
    assert {t.name for t in tables.PUBLIC_TABLES} <= grants


def test_a_rerun_gives_the_same_tables(evaluated: Evaluated) -> None:
    def digest() -> list[tuple]:
        return [evaluated.rows(sql.SQL("select md5(string_agg(t::text, '|' order by t::text)) from {} t").format(
            sql.Identifier(t.schema, t.name)))[0] for t in (*tables.PUBLIC_TABLES, tables.DRAWS)]

    first = digest()
    evaluate(evaluated.settings, evaluated.config)
    assert digest() == first
