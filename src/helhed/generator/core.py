"""``generate()``: run the stages in order and write the delivery folders and manifest.

Stages each take their own random stream derived from ``(seed, stage)``, so a change in
one stage's draws does not shift the others, and the same arguments always give the same
bytes. Nothing reads the wall clock or depends on dict/set iteration order.

With ``daily_increments = N`` the population and benefits are simulated N days past the
end date and delivered as N nightly increments; the other sources are delivered once, in
the initial delivery, as known on the end date.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from helhed.generator import baddata
from helhed.generator import rows as R
from helhed.generator.benefits import Periods, finalize_periods
from helhed.generator.calibrate import calibrate_group
from helhed.generator.children import child_measures, children_activities
from helhed.generator.cpr import make_cprs
from helhed.generator.dates import NONE, from_day, months_between, quarters_between, shift_years, to_day
from helhed.generator.decisions import HEADER as DECISION_HEADER
from helhed.generator.decisions import decision_rows
from helhed.generator.effects import (
    Course,
    draw_effects,
    effect_truth,
    exit_by_person,
    jobcenter_records,
    replace_participants_periods,
    treat_activities,
    treat_conversations,
    treat_labour,
    treat_offers,
    treat_periods,
)  # fmt: skip
from helhed.generator.families import link_families, relation_rows
from helhed.generator.increments import (
    changed_on,
    known_at,
    population_changed_on,
    population_known_at,
    register_periods,
)  # fmt: skip
from helhed.generator.investment import add_programme_investment
from helhed.generator.jobcenter import draw_conversations, draw_offers, held_records, jobcenter_truth, period_caseworkers
from helhed.generator.labour import Intervals, education_status, employment_spells
from helhed.generator.ledger import (
    FinalRecords,
    Ledger,
    budgets,
    build_ledger,
    cost_truth,
    medfinansiering,
    nightly_reversals,
    unit_prices,
)  # fmt: skip
from helhed.generator.lifecourse import S_INDEX, Spells, clip_to_residence, draw_persons, simulate_spells
from helhed.generator.nightly import CONVERSATION_CODE, DeliveryContext, Phase2Records, plan_late, write_delivery
from helhed.generator.outcomes import departments_truth, labour_truth, parents_employment_truth, programme_truth, tempo_truth
from helhed.generator.population import Population, residents_on, simulate_population, target_population
from helhed.generator.profile import BENEFIT_GROUPS, load_profile
from helhed.generator.programmes import ELIGIBLE_GROUPS, apply_effect, draw_enrolments, enrolments_known_at, programme_details
from helhed.generator.selection import build_baseline
from helhed.generator.services import Activities, build_activities, complexity
from helhed.generator.truth import benefit_truth
from helhed.generator.world import World, stream
from helhed.generator.writers import CPR_HEADER, YDELSER_HEADER, cpr_rows, write_csv, ydelser_rows

GENERATOR_VERSION = "3"
DEFAULT_END_DATE = dt.date(2025, 12, 31)
MANIFEST_NAME = "manifest.json"
ALL_SOURCES: tuple[str, ...] = (
    "cpr", "ydelser", "eindkomst", "uddannelse", "dubu", "sensum", "sundhed", "helhed", "enhedspriser", "oekonomi",
    "beslutninger", "jobcenter",
)  # fmt: skip
#: Share of the registrant operating postings a night reverses and re-posts with a corrected amount.
NIGHTLY_REVERSAL_SHARE = 0.0015
PHASE1_SOURCES = ("cpr", "ydelser")
EMPLOYMENT_LOOKBACK_DAYS = int(6 * 365.25)


def history_window(end_date: dt.date, years: int) -> tuple[dt.date, dt.date]:
    """``years`` whole years ending on ``end_date`` (2025-12-31, 6 -> 2020-01-01..2025-12-31)."""
    if years < 1:
        raise ValueError("years must be at least 1")
    return shift_years(end_date, -years) + dt.timedelta(days=1), end_date


def _periods_view(spells: Spells) -> Intervals:
    z = np.zeros(len(spells), dtype=np.int64)
    return Intervals(spells.person, spells.state, spells.start, spells.end, z, np.zeros(len(spells)))


def _sub_spells(spells: Spells, mask: np.ndarray) -> Spells:
    return Spells(spells.person[mask], spells.state[mask], spells.start[mask], spells.end[mask])


def _clip_to(periods: Periods, day: int) -> Periods:
    """Periods as known on ``day``: started by then, and open if they end after it."""
    idx = np.flatnonzero(periods.start <= day)
    end = np.where(periods.end[idx] > day, NONE, periods.end[idx])
    return Periods(periods.person[idx], periods.state[idx], periods.start[idx], end, periods.visitation[idx], periods.rate[idx],
                   periods.amount[idx], [periods.unit[i] for i in idx.tolist()], [periods.period_id[i] for i in idx.tolist()])


def _merge_spells(a: Spells, b: Spells) -> Spells:
    p = np.concatenate([a.person, b.person])
    s = np.concatenate([a.start, b.start])
    order = np.lexsort((s, p))
    return Spells(p[order], np.concatenate([a.state, b.state])[order], s[order], np.concatenate([a.end, b.end])[order])


class Writer:
    """Writes files into delivery folders, applies bad data, and records the manifest entries."""

    def __init__(self, out: Path, rates: dict[str, float], rng: np.random.Generator) -> None:
        self.out = out
        self.rates = rates
        self.rng = rng
        self.deliveries: dict[tuple[str, str], dict[str, Any]] = {}
        self.bad: list[dict[str, Any]] = []

    def write(
        self,
        source: str,
        day: int,
        kind: str,
        stem: str,
        header: Sequence[str],
        rows: Iterable[Sequence[str]],
        encoding: str = "utf-8-sig",
        row_spec: baddata.RowSpec | None = None,
    ) -> int:
        d = from_day(day)
        path = self.out / "landing" / source / d.isoformat() / f"{stem}_{d:%Y%m%d}.csv"
        rel = path.relative_to(self.out).as_posix()
        if row_spec is not None and any(self.rates.get(k, 0) > 0 for k in baddata.ROW_KINDS):
            materialised = [list(r) for r in rows]
            clean = len(materialised)
            materialised, tags = baddata.inject_rows(materialised, row_spec, self.rates, self.rng, source, rel)
            self.bad.extend(tags)
            count, sha = write_csv(path, header, materialised, encoding)
            count = clean
            bad_rows = len(tags)
        else:
            count, sha = write_csv(path, header, rows, encoding)
            bad_rows = 0
        entry = self.deliveries.setdefault((source, d.isoformat()), {"source": source, "delivery_date": d.isoformat(), "kind": kind, "files": []})
        entry["files"].append({"path": rel, "rows": count, "bad_rows": bad_rows, "sha256": sha,
            "encoding": "windows-1252" if encoding == "cp1252" else "utf-8-bom"})
        if any(self.rates.get(k, 0) > 0 for k in baddata.FILE_KINDS):
            self.bad.extend(baddata.inject_files(path, self.out, encoding, self.rates, self.rng, source))
        return count

    def manifest_deliveries(self) -> list[dict[str, Any]]:
        return [self.deliveries[k] for k in sorted(self.deliveries, key=lambda k: (k[1], k[0]))]


def generate(
    profile: str | Path = "randers",
    residents: int | None = None,
    years: int = 6,
    seed: int = 1,
    out: Path = Path("data"),
    end_date: dt.date = DEFAULT_END_DATE,
    show_progress: bool = True,
    daily_increments: int = 0,
    sources: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Generate a synthetic municipality into ``out`` and return its truth manifest.

    Writes ``out/landing/<source>/<date>/<file>_<yyyymmdd>.csv`` for each source (see
    docs/generator.md) and ``out/manifest.json``. ``sources`` limits which sources are
    written (default: all, ``ALL_SOURCES``); the simulation is the same either way.
    """
    chosen = tuple(ALL_SOURCES if sources is None else sources)
    unknown = sorted(set(chosen) - set(ALL_SOURCES))
    if unknown:
        raise ValueError(f"unknown sources {unknown}; choose from {', '.join(ALL_SOURCES)}")
    if daily_increments < 0:
        raise ValueError("daily_increments must be >= 0")
    prof = load_profile(profile)
    n_residents = prof.residents if residents is None else int(residents)
    if n_residents < 100:
        raise ValueError("residents must be at least 100")
    scale = n_residents / prof.residents
    first, initial_last = history_window(end_date, years)
    last = initial_last + dt.timedelta(days=daily_increments)
    start, end, initial_end = to_day(first), to_day(last), to_day(initial_last)
    out = Path(out)
    phase2 = any(s not in PHASE1_SOURCES for s in chosen)
    bar = tqdm(total=11, desc="helhed generate", unit="step", disable=not show_progress)

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update()

    population = simulate_population(prof, scale, start, end, stream(seed, 1))
    step("population")
    cprs = make_cprs(population.birth, population.male, stream(seed, 2))
    cpr_order = np.array(sorted(range(len(cprs)), key=cprs.__getitem__), dtype=np.int64)
    person_rank = np.empty(len(population), dtype=np.int64)
    person_rank[cpr_order] = np.arange(len(cprs))
    persons = draw_persons(prof, population, stream(seed, 3))
    world = World(
        prof, seed, scale, first, last, start, end, initial_end, months_between(first, last), quarters_between(first, last),
        population, cprs, cpr_order, person_rank, persons,
    )  # fmt: skip
    families = link_families(population, end, world.rng("families"))
    comp = complexity(world)
    step("families")

    raw = simulate_spells(prof, population, persons, start - EMPLOYMENT_LOOKBACK_DAYS, end, stream(seed, 4))
    spells_all = clip_to_residence(raw, population, start - EMPLOYMENT_LOOKBACK_DAYS, end)
    in_window = (spells_all.end == NONE) | (spells_all.end >= start)
    before = _sub_spells(spells_all, ~in_window)
    spells = _sub_spells(spells_all, in_window)
    step("life courses")

    # The untreated world first: every benefit course calibrated (participants included, so the
    # comparison persons and the participants' untreated courses share the calibration).
    kh_targets = {q.key: prof.kontanthjaelp_target(q.key) * scale for q in world.quarters}
    untreated_spells = calibrate_group(spells, "kontanthjaelp", kh_targets, world.quarters, prof, population, persons, end, stream(seed, 5))
    # Services that do not depend on benefits or work: what the programme selection sees.
    world_e = replace(world, end=initial_end, last=initial_last, months=months_between(first, initial_last), quarters=quarters_between(first, initial_last))
    untreated_acts: dict[str, Activities] = {
        "sensum": build_activities(world_e, "sensum", families, comp, world.rng("adults"), "VS"),
        "sundhed": build_activities(world_e, "sundhed", families, comp, world.rng("health"), "SU"),
    }
    measures = child_measures(world_e, families, comp)
    baseline = build_baseline(
        world.months, len(population), end,
        (untreated_spells.person, untreated_spells.start, untreated_spells.end),
        {d: (untreated_acts[src].person, untreated_acts[src].start, untreated_acts[src].end)
         for src, d in (("sensum", "voksen_social"), ("sundhed", "sundhed"))},
        (measures.person, measures.start, measures.end), families,
    )  # fmt: skip
    enrolments = draw_enrolments(world, untreated_spells, families, baseline)
    effects = draw_effects(world, enrolments, families)
    frozen = np.zeros(len(population), dtype=bool)
    frozen[enrolments.person] = True
    # The treated world: participants leave benefits at their exit; the days they leave are
    # made up so kontanthjælp still matches AUK01 - by persons never on an eligible benefit in
    # the untreated world, so no possible comparison person's course depends on the effects.
    treated_spells = _merge_spells(_sub_spells(untreated_spells, ~frozen[untreated_spells.person]),
                                   apply_effect(_sub_spells(untreated_spells, frozen[untreated_spells.person]), enrolments))
    ever_eligible = np.zeros(len(population), dtype=bool)
    ever_eligible[untreated_spells.person[np.isin(untreated_spells.state, [S_INDEX[g] for g in ELIGIBLE_GROUPS])]] = True
    spells = calibrate_group(treated_spells, "kontanthjaelp", kh_targets, world.quarters, prof, population, persons, end,
                             world.rng("calibration_top_up"), frozen=frozen | ever_eligible)
    cf_spells = _merge_spells(_sub_spells(spells, ~frozen[spells.person]), _sub_spells(untreated_spells, frozen[untreated_spells.person]))
    counterfactual = finalize_periods(cf_spells, prof, person_rank, end, stream(seed, 6))
    periods = treat_periods(counterfactual, exit_by_person(enrolments, effects, len(population)))
    step("benefits")

    # What the loader will know: registration lags only matter with increments.
    if daily_increments:
        reg = register_periods(periods, initial_end, world.rng("increments"))
        _, final_periods = known_at(periods, reg, end)  # the state after the last night
    else:
        reg = None
        final_periods = periods
    truth: dict[str, Any] = benefit_truth(final_periods, population, world.months, world.quarters, end)
    step("benefit truth")

    # The other sources are delivered once, as known on the initial delivery day.
    if reg is not None:
        _, periods_e = known_at(periods, reg, initial_end)
    else:
        periods_e = periods
    education = employment = None
    enrolments_e = enrolments_known_at(enrolments, initial_end)  # the programme register on the end date
    by_dept: dict[str, Any] = {}
    if phase2:
        # Work and education of the untreated world (participants' untreated benefits), then
        # the programme's changes to the participants' courses.
        untreated_e = _clip_to(replace_participants_periods(periods_e, counterfactual, frozen), initial_end)
        benefits_iv = _periods_view(_merge_spells(before, Spells(untreated_e.person, untreated_e.state, untreated_e.start, untreated_e.end)))
        education0 = education_status(world_e, benefits_iv)
        employment0 = employment_spells(world_e, benefits_iv, education0)
        employment, education = treat_labour(world_e, employment0, education0, enrolments, effects)
        step("education and employment")
        untreated_acts["dubu"] = children_activities(world_e, families, employment0, comp, measures)
        by_dept = treat_activities(world_e, untreated_acts, enrolments, effects, families)
        medfin = medfinansiering(world_e, comp)
        # The jobcenter's conversations and offers follow the benefit periods to the last night.
        # They are drawn once, on the untreated periods (mentors beside the untreated Sensum
        # contact persons), and the treated ones are cut at each participant's exit, so both
        # courses share every draw and the planted effect on them is exact.
        jc_rng = world.rng("jobcenter")
        exit_day = exit_by_person(enrolments, effects, len(population))
        cf_workers = period_caseworkers(world, counterfactual, jc_rng)
        cf_conversations = draw_conversations(world, counterfactual, cf_workers, jc_rng)
        cf_offers = draw_offers(world, counterfactual, cf_workers, untreated_acts["sensum"], comp, jc_rng)
        conversations = treat_conversations(cf_conversations, exit_day)
        offers = treat_offers(cf_offers, exit_day, world.end)
        step("services")
        # Late registrations and corrections of every phase-2 source: the initial delivery holds
        # what was registered by the end date, the truth is the state after the last night.
        conversation_provider = str(prof.raw["jobcenter"]["conversations"]["price"]["providers"][0])
        late = plan_late(Phase2Records(by_dept["dubu"], by_dept["sensum"], by_dept["sundhed"], education, employment, enrolments,
                                       medfin, offers, conversations, conversation_provider),
                         initial_end, daily_increments, world.rng("corrections"))
        state_e, final = late.state(initial_end), late.state(end)
        enrolments_e = state_e.enrolments
        prices = unit_prices(world_e)
        held_all = late.conversations.held(np.arange(len(conversations)), end)
        happened = {**by_dept, "jobcenter": offers.act,
                    "samtaler": held_records(conversations, held_all, CONVERSATION_CODE, conversation_provider)}
        ledger, book = build_ledger(world_e, periods_e, happened, medfin, enrolments_e, prices, final_periods=final_periods, history=before,
                                    final_records=FinalRecords(final.activities(), final.enrolments, final.medfin))
        add_programme_investment(world_e, ledger)
        budget = budgets(world_e, ledger)
        night_postings = nightly_reversals(ledger, book, [initial_end + k for k in range(1, daily_increments + 1)],
                                           NIGHTLY_REVERSAL_SHARE, world.rng("ledger_nights"))
        step("ledger")
        final_acts = final.activities()
        truth.update(labour_truth(world_e, final.education, final.employment))
        truth.update(departments_truth(world_e, final_periods, {k: final_acts[k] for k in ("dubu", "sensum", "sundhed")},
                                       jobcenter=(final_acts["jobcenter"], final_acts["samtaler"])))
        truth.update(parents_employment_truth(world_e, families, final.employment, final.dubu))
        truth.update(programme_truth(world_e, final.enrolments, final_periods, counterfactual))
        truth.update(tempo_truth(world_e, {k: final_acts[k] for k in ("dubu", "sensum", "sundhed", "jobcenter")}, final.enrolments))
        truth.update(cost_truth(world_e, Ledger(ledger.chunks + [c for _, night in night_postings for c in night.chunks]), book))
        truth.update(jobcenter_truth(world, final_periods, final.conversations, final.held, final.offers.act, final.sensum))
        truth.update(effect_truth(
            world_e, enrolments, families, prices,
            Course(untreated_e, employment0, education0,
                   {**untreated_acts, **jobcenter_records(cf_offers, cf_conversations, initial_end, CONVERSATION_CODE, conversation_provider)},
                   medfin),
            Course(periods_e, employment, education,
                   {**by_dept, **jobcenter_records(offers, conversations, initial_end, CONVERSATION_CODE, conversation_provider)}, medfin),
            out,
        ))  # fmt: skip
        step("outcome truth")
    else:
        for _ in range(4):
            step("skipped (phase-1 sources only)")

    writer = Writer(out, prof.bad_data, world.rng("bad_data"))
    cpr_spec = baddata.RowSpec(cpr=0, code=None, start=None, end=None, date_format="iso")
    yd_spec = baddata.RowSpec(cpr=1, code=2, start=3, end=4, date_format="dmy", key=0)
    if "cpr" in chosen:
        idx, pop_e = population_known_at(population, initial_end)
        writer.write("cpr", initial_end, "full", "cpr_personer", CPR_HEADER, _cpr_sub_rows(pop_e, idx, cprs, person_rank), row_spec=cpr_spec)
        if phase2:
            writer.write("cpr", initial_end, "full", "cpr_relationer", R.RELATION_HEADER,
                         relation_rows(families, cprs, person_rank, population.moved_in, initial_end))
    if "ydelser" in chosen:
        writer.write("ydelser", initial_end, "full", "ydelsesperioder", YDELSER_HEADER, ydelser_rows(periods_e, cprs), row_spec=yd_spec)
    corrections: list[dict[str, Any]] = []
    for k in range(1, daily_increments + 1):
        day = initial_end + k
        if "cpr" in chosen:
            idx, pop_d = population_changed_on(population, day)
            writer.write("cpr", day, "increment", "cpr_personer", CPR_HEADER, _cpr_sub_rows(pop_d, idx, cprs, person_rank), row_spec=cpr_spec)
            if phase2:
                writer.write("cpr", day, "increment", "cpr_relationer", R.RELATION_HEADER,
                             relation_rows(families, cprs, person_rank, population.moved_in, day, since=day - 1))
        if "ydelser" in chosen and reg is not None:
            idx, per_d = changed_on(periods, reg, day)
            writer.write("ydelser", day, "increment", "ydelsesperioder", YDELSER_HEADER, ydelser_rows(per_d, cprs), row_spec=yd_spec)
            for i in idx.tolist():
                if reg.end_reg[i] == day and periods.end[i] != NONE and periods.end[i] < day - 1 and reg.start_reg[i] < day:
                    corrections.append({
                        "kind": "back_dated_end", "source": "ydelser", "period_id": periods.period_id[i], "delivery_date": from_day(day).isoformat(),
                        "end_date": from_day(int(periods.end[i])).isoformat(), "days_late": int(day - periods.end[i]),
                    })  # fmt: skip
    step("phase-1 files")
    if phase2:
        ctx = DeliveryContext(chosen, cprs, person_rank, prof.raw)
        d = initial_end
        w = writer.write
        ledger_spec = baddata.RowSpec(cpr=6, code=0, start=8, end=9, date_format="dmy")
        write_delivery(writer, ctx, d, "full", state_e)
        if "helhed" in chosen:
            details = programme_details(world_e, enrolments_e)
            w("helhed", d, "full", "netvaerksmoeder", R.MEETING_HEADER, R.detail_rows(details["meetings"], [1]))
            w("helhed", d, "full", "progression", R.SCORE_HEADER, R.detail_rows(details["scores"], [1]))
            w("helhed", d, "full", "borgersurvey", R.SURVEY_HEADER, R.detail_rows(details["survey"], [1]))
        if "enhedspriser" in chosen:
            w("enhedspriser", d, "full", "enhedspriser", R.PRICE_HEADER, R.price_rows(prices))
        if "oekonomi" in chosen:
            w("oekonomi", d, "full", "posteringer", R.LEDGER_HEADER, R.ledger_rows(ledger, cprs), encoding="cp1252", row_spec=ledger_spec)
            w("oekonomi", d, "full", "budget", R.BUDGET_HEADER, R.budget_rows(budget), encoding="cp1252")
        if "beslutninger" in chosen:
            w("beslutninger", d, "full", "budgetbeslutninger", DECISION_HEADER,
              decision_rows(from_day(d), budget, [p["code"] for p in prof.raw.get("programmes", [])]))
        vouchers = R.vouchers_of(ledger)
        for day, night in night_postings:
            write_delivery(writer, ctx, day, "increment", late.changes(day))
            corrections.extend(late.corrections_on(day))
            if "oekonomi" in chosen:
                w("oekonomi", day, "increment", "posteringer", R.LEDGER_HEADER, R.ledger_rows(night, cprs, vouchers),
                  encoding="cp1252", row_spec=ledger_spec)  # fmt: skip
            if len(night):
                corrections.append({"kind": "reversal", "source": "oekonomi", "delivery_date": from_day(day).isoformat(),
                                    "postings": len(night), "first_voucher": str(R.VOUCHER_RANGE_START + vouchers + 1)})
            vouchers += R.vouchers_of(night)
    step("phase-2 files")
    bar.close()

    fte_q = truth["full_time_persons_by_group_quarter"]
    approx = prof.benefits["approximate_full_time_persons_per_100k"]
    mean_residents = world.mean_residents()
    manifest: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION,
        "profile": prof.name,
        "municipality": prof.municipality,
        "municipality_code": prof.municipality_code,
        "seed": seed,
        "residents": n_residents,
        "scale": round(scale, 6),
        "residents_at_end": int(residents_on(population, end).sum()),
        "mean_residents": round(mean_residents, 2),
        "persons_in_extract": len(population),
        "period": {"start": first.isoformat(), "end": last.isoformat(), "years": years, "initial_delivery": initial_last.isoformat(),
            "daily_increments": daily_increments},
        "sources": list(chosen),
        "deliveries": writer.manifest_deliveries(),
        "corrections": corrections,
        "calibration": {
            "residents_by_quarter": {
                q.key: {"target": round(float(target_population(prof, scale, np.array([q.first]))[0]), 2),
                        "generated": int(residents_on(population, q.first).sum())}
                for q in world.quarters
            },
            "kontanthjaelp_full_time_persons_by_quarter": {
                q.key: {"target": round(kh_targets[q.key], 4), "generated": fte_q["kontanthjaelp"][q.key]} for q in world.quarters
            },
            "approximate_full_time_persons_mean": {
                g: {
                    "target": round(float(approx[g]) * mean_residents / 1e5, 2),
                    "generated": round(float(np.mean([fte_q[g][q.key] for q in world.quarters])), 2),
                }
                for g in BENEFIT_GROUPS
                if g in approx
            },
        },
        "truth": truth,
        "bad_data": {"rates": prof.bad_data, "defects": writer.bad},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def _cpr_sub_rows(pop: Population, idx: np.ndarray, cprs: list[str], person_rank: np.ndarray) -> Iterable[list[str]]:
    """CPR rows of a subset of persons (``idx`` into the full population), in CPR order."""
    sub_cprs = [cprs[i] for i in idx.tolist()]
    order = np.argsort(person_rank[idx], kind="stable")
    return cpr_rows(pop, sub_cprs, order)


__all__: list[str] = ["generate", "history_window", "DEFAULT_END_DATE", "ALL_SOURCES", "MANIFEST_NAME"]
