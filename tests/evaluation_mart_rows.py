"""Realistic rows of the public evaluation marts for tests/test_superset.py (no warehouse needed).

Three programmes: one with effects shown (intervals around a growing effect), one whose
balance is not good enough (no effect shown, counts only) and a small one whose cells are
suppressed. Columns follow helhed.evaluation.tables; test_superset fills the rest by type.
"""

from __future__ import annotations

from datetime import date

from helhed.evaluation import tables

OUTCOMES = [
    ("self_supporting", "Selvforsørgende", "andel", 0.18, 0.004),
    ("ordinary_employment", "I ordinær beskæftigelse", "andel", 0.12, 0.003),
    ("child_placed", "Har et barn anbragt uden for hjemmet", "andel", 0.05, -0.001),
    ("departments", "Forvaltninger i kontakt med borgeren", "antal", 1.9, -0.004),
    ("services", "Samtidige ydelser (uden forløbet selv)", "antal", 2.8, -0.006),
    ("cost_total", "Udgift i alt (borger og børn under 18)", "kr.", 21_000.0, -120.0),
]
PROGRAMMES = [("EN_PLAN", "Én plan - helhedsorienteret indsats", 180, True),
              ("FAMILIE", "Helhedsorienteret familieindsats", 60, False),
              ("KOORD", "Koordinerende sagsbehandler", 4, False)]
DEPARTMENTS = [("beskaeftigelse", "Beskæftigelse"), ("boern_familie", "Børn og familie"), ("voksen_social", "Voksne og social"),
               ("sundhed", "Sundhed og omsorg"), ("oevrige", "Øvrige"), ("i_alt", "I alt")]
AS_OF = date(2025, 12, 31)


def _row(table: tables.Table, **values: object) -> dict:
    return {c.name: values.get(c.name) for c in table.columns}


def evaluation_rows() -> dict[str, list[dict]]:
    summary, balance, effects, freed, payback = [], [], [], [], []
    for code, label, n, shown in PROGRAMMES:
        small = n < 5
        summary.append(_row(tables.SUMMARY, programme_code=code, programme_label=label, method="Propensity score-matching",
                            enrolments=None if small else n + 12, evaluable=None if small else n + 6, matched=None if small else n,
                            match_rate=None if small else round(n / (n + 6), 4), comparison_persons=None if small else 3 * n,
                            common_support_share=0.97, max_abs_smd=0.08 if shown else 0.31, share_balanced=1.0 if shown else 0.6,
                            is_balanced=shown, has_overlap=not small, is_shown=shown,
                            status="Effekter vises." if shown else "Effekter vises ikke: for dårlig balance efter matching.",
                            replicates=200, data_as_of=AS_OF, is_suppressed=small))
        for order, (covariate, covariate_label, before) in enumerate([("months_on_support", "Måneder på offentlig forsørgelse", 0.45),
                                                                       ("log_cost_total", "Udgift i alt (log)", 0.38)]):
            balance.append(_row(tables.BALANCE, programme_code=code, programme_label=label, covariate=covariate,
                                covariate_label=covariate_label, sort_order=order, mean_participants=None if small else 8.4,
                                mean_comparison_before=6.7, mean_comparison_after=None if small else 8.3, smd_before=before,
                                smd_after=None if small else (0.03 if shown else 0.31), is_balanced=None if small else shown,
                                is_suppressed=small))
        for outcome, outcome_label, unit, level, slope in OUTCOMES:
            for k in range(0, 61):
                participants = max(n - 3 * k, 0)
                if not participants:
                    continue
                hidden = participants < 5
                effect = slope * max(k - 12, 0)
                half = (0.06 if unit == "andel" else 0.4 if unit == "antal" else 2500.0) * (1 + k / 30)
                visible = shown and not hidden
                effects.append(_row(tables.EFFECTS, programme_code=code, programme_label=label, outcome=outcome,
                                    outcome_label=outcome_label, outcome_unit=unit, months_since_start=k,
                                    participants=None if hidden else participants, comparison_persons=None if hidden else 3 * participants,
                                    participants_mean=None if hidden else round(level + effect, 4),
                                    counterfactual_mean=round(level, 4) if visible else None,
                                    estimate=round(effect, 4) if visible else None, ci_lower=round(effect - half, 4) if visible else None,
                                    ci_upper=round(effect + half, 4) if visible else None,
                                    is_significant=(abs(effect) > half) if visible else None, is_shown=shown, is_suppressed=hidden))
        cumulative = 0.0
        for year in range(2021, 2026):
            invest = 1_200_000.0
            total_freed = 250_000.0 * (year - 2021)
            cumulative += total_freed - invest
            for order, (dept, dept_label) in enumerate(DEPARTMENTS):
                share = {"beskaeftigelse": 0.7, "voksen_social": 0.4, "sundhed": -0.1, "boern_familie": 0.0, "oevrige": 0.0, "i_alt": 1.0}[dept]
                value = total_freed * share
                dept_invest = invest if dept in ("beskaeftigelse", "i_alt") else 0.0
                visible = shown and not small
                freed.append(_row(tables.FREED, programme_code=code, programme_label=label, department=dept, department_label=dept_label,
                                  sort_order=order, year=year, period_label=str(year), participants=None if small else n,
                                  freed=value if visible else None, freed_ci_lower=value - 300_000 if visible else None,
                                  freed_ci_upper=value + 300_000 if visible else None, investment=dept_invest,
                                  net=value - dept_invest if visible else None,
                                  cumulative_net=cumulative if visible and dept == "i_alt" else (0.0 if visible else None),
                                  cumulative_net_ci_lower=cumulative - 900_000 if visible and dept == "i_alt" else (0.0 if visible else None),
                                  cumulative_net_ci_upper=cumulative + 900_000 if visible and dept == "i_alt" else (0.0 if visible else None),
                                  is_shown=shown, is_suppressed=small))
        payback.append(_row(tables.PAYBACK, programme_code=code, programme_label=label, first_month=date(2021, 1, 1),
                            last_month=date(2025, 12, 1), participants=None if small else n, investment_total=6_000_000.0,
                            freed_total=2_500_000.0 if shown else None, freed_total_ci_lower=900_000.0 if shown else None,
                            freed_total_ci_upper=4_100_000.0 if shown else None, net_total=-3_500_000.0 if shown else None,
                            net_total_ci_lower=-5_100_000.0 if shown else None, net_total_ci_upper=-1_900_000.0 if shown else None,
                            payback_month=None, payback_ci_lower=date(2025, 3, 1) if shown else None, payback_ci_upper=None,
                            share_paid_back=0.12 if shown else None,
                            status="Ikke tilbagebetalt inden for perioden." if shown else "Tilbagebetaling vises ikke.",
                            is_shown=shown, is_suppressed=small))
    return {tables.SUMMARY.name: summary, tables.BALANCE.name: balance, tables.EFFECTS.name: effects,
            tables.FREED.name: freed, tables.PAYBACK.name: payback}
